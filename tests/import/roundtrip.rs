//! Import round trips: exported Graph JSON -> YAML -> the Graph body rampart would send.

use std::path::{Path, PathBuf};

use rampart::json_import::{
    comparable, import_policy_json, original_comparable, policy_body_from_document,
};
use serde_json::Value;

/// The vendored UK NCSC exports (Apache-2.0, see the README and LICENSE beside them). A
/// missing folder is a failure: the "lossless on real exports" claim must be tested on a
/// fresh clone.
pub fn ncsc_exports() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/exports/ncsc");
    assert!(
        dir.is_dir(),
        "{} is missing: the real exports are part of the repository",
        dir.display()
    );
    dir
}

/// Reads an export the way `rampart import` does (UTF-16 and BOMs included).
pub fn read_export(path: &Path) -> Value {
    let text = rampart::repo_files::read_text(path).expect("decodes");
    serde_json::from_str(&text).expect("JSON")
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
fn every_real_export_round_trips_with_its_assignments() {
    let mut files: Vec<_> = std::fs::read_dir(ncsc_exports())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 9, "the nine NCSC exports");
    let mut imported = 0;
    for f in &files {
        let v = read_export(f);
        // Every export reads (22 of 155 real exports are UTF-16); those whose template
        // rampart manages (all of them since issue 13) round-trip, assignments included.
        match import_policy_json(&v) {
            Ok(_) => {
                let yaml = round_trip(&v);
                imported += 1;
                println!("=== {}\n{yaml}", f.display());
            }
            Err(rampart::json_import::ImportError::UnsupportedTemplate { .. }) => {}
            Err(e) => panic!("{}: {e}", f.display()),
        }
    }
    assert_eq!(imported, 9, "every family has a kind (issue 13)");
}

#[test]
fn assignments_are_part_of_the_round_trip() {
    let mut v = read_export(&ncsc_exports().join("2025-NCSC-Defender-Antivirus.json"));
    v["assignments"] = serde_json::json!([
        {"target": {"@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12",
                    "deviceAndAppManagementAssignmentFilterId": "5a1e0c1d-2b3c-4d5e-8f90-0a1b2c3d4e5f", "deviceAndAppManagementAssignmentFilterType": "include"}},
        {"target": {"@odata.type": "#microsoft.graph.exclusionGroupAssignmentTarget", "groupId": "1c8f3e5d-2b4a-4d6f-9e0b-3c5d7f9a1b23"}},
        {"target": {"@odata.type": "#microsoft.graph.allDevicesAssignmentTarget", "deviceAndAppManagementAssignmentFilterType": "none"}}
    ]);
    let yaml = round_trip(&v);
    assert!(
        yaml.contains("excludeGroup: 1c8f3e5d-2b4a-4d6f-9e0b-3c5d7f9a1b23"),
        "{yaml}"
    );
    // A YAML that lost an assignment no longer compares equal.
    let imported = import_policy_json(&v).unwrap();
    let mut doc = yaml_to_json(&imported.yaml);
    doc["assignments"].as_array_mut().unwrap().pop();
    let body = policy_body_from_document(&doc).unwrap();
    assert_ne!(comparable(&body), original_comparable(&v).unwrap());
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
