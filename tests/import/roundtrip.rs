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
    assert_eq!(comparable(&body), original_comparable(policy).unwrap());
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
