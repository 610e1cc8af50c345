//! Importing files and directories: skipped policies are reported with a reason; names are
//! unique across a run.

use std::path::Path;

use rampart::import::{ImportError, import_path};

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/graph")
}

/// Issue 13: an EDR policy and a plain settings-catalog policy (template family `none`) were
/// refused as templates rampart does not manage; both are kinds of their own now.
#[test]
fn edr_and_plain_settings_catalog_policies_import() {
    let r = import_path(&fixtures().join("list-unsupported-templates.json")).unwrap();
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    let kinds: Vec<(&str, &str)> = r
        .imported
        .iter()
        .map(|(_, p)| (p.display_name.as_str(), p.kind.as_str()))
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "Contoso - EDR onboarding",
                "EndpointDetectionAndResponsePolicy"
            ),
            (
                "Contoso - BitLocker (settings catalog)",
                "SettingsCatalogPolicy"
            ),
        ]
    );
    let plain = &r.imported[1].1;
    assert_eq!(plain.template_id, "");
    assert_eq!(plain.document["technologies"], "mdm,microsoftSense");
    assert!(plain.document.get("template").is_none());
}

#[test]
fn an_unknown_template_is_skipped_with_a_reason() {
    let policy: serde_json::Value = serde_json::json!({
        "name": "Contoso - EPM",
        "platforms": "windows10",
        "technologies": "endpointPrivilegeManagement",
        "templateReference": {
            "templateId": "e7dcaba4-959b-46ed-88f0-16ba39b14fd8_1",
            "templateFamily": "endpointSecurityEndpointPrivilegeManagement",
            "templateDisplayName": "Elevation settings policy"
        },
        "settings": []
    });
    let err = rampart::import::import_policy_json(&policy).unwrap_err();
    assert!(matches!(err, ImportError::UnsupportedTemplate { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("Elevation settings policy")
            && msg.contains("endpointSecurityEndpointPrivilegeManagement"),
        "{msg}"
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
            "contoso-edr-onboarding",
            "contoso-bitlocker-settings-catalog",
        ]
    );
    assert!(r.skipped.is_empty());
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
