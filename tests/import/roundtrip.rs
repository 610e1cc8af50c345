//! Import round trips: exported Graph JSON -> YAML -> the Graph body rampart would send.

use std::path::{Path, PathBuf};

use rampart::import::{
    comparable, import_policy_json, original_comparable, policy_body_from_document,
};
use serde_json::Value;

fn shared_fixtures() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/openintunebaseline");
    dir.is_dir().then_some(dir)
}

/// YAML text -> JSON, the way a reader of the file would see it.
fn yaml_to_json(text: &str) -> Value {
    serde_saphyr::from_str(text).expect("imported YAML parses")
}

fn round_trip(policy: &Value) -> String {
    let imported = import_policy_json(policy).expect("imports");
    let doc = yaml_to_json(&imported.yaml);
    let body = policy_body_from_document(&doc).expect("reads back");
    let want = original_comparable(policy).unwrap();
    let mut got = comparable(&body);
    if want.get("name").is_none() {
        got.as_object_mut().unwrap().remove("name");
    }
    assert_eq!(got, want);
    imported.yaml
}

#[test]
fn every_openintunebaseline_export_round_trips() {
    let Some(dir) = shared_fixtures() else {
        eprintln!("skipped: ../shared/fixtures/openintunebaseline is absent");
        return;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let yaml = round_trip(&v);
        println!("=== {}\n{yaml}", f.display());
    }
}

fn own_fixture(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/graph")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

#[test]
fn own_fixtures_round_trip() {
    for name in [
        "firewall-rules.json",
        "asr-block-with-exclusions.json",
        "antivirus-explicit-forms.json",
        "intunecd-antivirus-exclusions.json",
        "bare-settings-public-profile.json",
    ] {
        let yaml = round_trip(&own_fixture(name));
        println!("=== {name}\n{yaml}");
    }
}
