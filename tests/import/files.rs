//! Importing files and directories: skipped policies are reported with a reason; names are
//! unique across a run.

use std::path::Path;

use rampart::import::{ImportError, import_path};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph")
}

#[test]
fn unsupported_templates_are_skipped_with_a_reason() {
    let r = import_path(&fixtures().join("list-unsupported-templates.json")).unwrap();
    assert!(r.imported.is_empty());
    assert_eq!(r.skipped.len(), 2);
    assert!(
        r.skipped[0]
            .source
            .ends_with("list-unsupported-templates.json#0")
    );
    assert_eq!(
        r.skipped[0].display_name.as_deref(),
        Some("Contoso - EDR onboarding")
    );
    let msg = r.skipped[0].error.to_string();
    assert!(
        msg.contains("Endpoint detection and response")
            && msg.contains("endpointSecurityEndpointDetectionAndResponse"),
        "{msg}"
    );
    assert!(matches!(
        r.skipped[1].error,
        ImportError::UnsupportedTemplate { .. }
    ));
    assert!(
        r.skipped[1]
            .error
            .to_string()
            .contains("plain settings-catalog policy")
    );
}

#[test]
fn a_directory_imports_every_file_in_order() {
    let r = import_path(&fixtures()).unwrap();
    let names: Vec<&str> = r.imported.iter().map(|(_, p)| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "contoso-av-explicit-forms",
            "contoso-asr-block",
            "imported-policy",
            "contoso-firewall-rules-workstations",
            "contoso-av-exclusions-intunecd",
        ]
    );
    assert_eq!(r.skipped.len(), 2);
    assert!(r.unreadable.is_empty());
}

#[test]
fn names_are_unique_across_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let src = std::fs::read_to_string(fixtures().join("asr-block-with-exclusions.json")).unwrap();
    std::fs::write(dir.path().join("a.json"), &src).unwrap();
    std::fs::write(dir.path().join("b.json"), &src).unwrap();
    std::fs::write(dir.path().join("c.json"), "not json").unwrap();
    let r = import_path(dir.path()).unwrap();
    let names: Vec<&str> = r.imported.iter().map(|(_, p)| p.name.as_str()).collect();
    assert_eq!(names, ["contoso-asr-block", "contoso-asr-block-2"]);
    assert!(
        r.imported[1]
            .1
            .yaml
            .contains("\nname: contoso-asr-block-2\n")
    );
    assert_eq!(r.imported[1].1.document["name"], "contoso-asr-block-2");
    assert_eq!(r.unreadable.len(), 1);
}

#[test]
fn a_policy_that_cannot_be_expressed_is_refused_not_changed() {
    let mut v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("asr-block-with-exclusions.json")).unwrap(),
    )
    .unwrap();
    v["technologies"] = "mdm".into();
    let e = rampart::import::import_policy_json(&v).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::NotExpressible {
                field: "technologies",
                ..
            }
        ),
        "{e}"
    );
}
