//! Importing files and directories: skipped policies are reported with a reason; names are
//! unique across a run.

use std::path::Path;

use rampart::json_import::{ImportError, import_path};

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
    let err = rampart::json_import::import_policy_json(&policy).unwrap_err();
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
    let e = rampart::json_import::import_policy_json(&v).unwrap_err();
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

use crate::support::utf16le;

#[test]
fn every_utf16_export_imports() {
    // The NCSC exports are UTF-16 LE with a BOM and CRLF, byte for byte as exported.
    let r = import_path(&super::roundtrip::ncsc_exports()).unwrap();
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    // Every family has a kind now (issue 13): all nine import, none is skipped.
    assert_eq!(r.imported.len(), 9, "{:?}", r.skipped);
    assert!(r.skipped.is_empty(), "{:?}", r.skipped);
    // The same export in every encoding Windows tools write imports the same.
    let src = std::fs::read_to_string(fixtures().join("asr-block-with-exclusions.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend(src.replace('\n', "\r\n").as_bytes());
    let mut be = vec![0xFE, 0xFF];
    be.extend(src.encode_utf16().flat_map(u16::to_be_bytes));
    for (name, bytes) in [
        ("bom.json", bom),
        ("le.json", utf16le(&src)),
        ("be.json", be),
    ] {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let r = import_path(dir.path()).unwrap();
    assert!(r.unreadable.is_empty(), "{:?}", r.unreadable);
    assert_eq!(r.imported.len(), 3);
    let docs: Vec<_> = r.imported.iter().map(|(_, p)| &p.yaml).collect();
    assert_eq!(
        docs[0].replace("contoso-asr-block-2", "contoso-asr-block"),
        docs[1]
            .replace("contoso-asr-block-3", "contoso-asr-block")
            .replace("contoso-asr-block-2", "contoso-asr-block")
    );
}

#[test]
fn an_undecodable_file_is_reported_by_its_own_path_and_the_others_import() {
    let src = std::fs::read_to_string(fixtures().join("asr-block-with-exclusions.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), &src).unwrap();
    std::fs::write(dir.path().join("b.json"), b"{\"name\": \"caf\xe9\"}").unwrap();
    std::fs::write(dir.path().join("c.json"), [0xFF, 0xFE, b'{']).unwrap();
    let r = import_path(dir.path()).unwrap();
    assert_eq!(r.imported.len(), 1);
    let paths: Vec<&str> = r.unreadable.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths.len(), 2, "{:?}", r.unreadable);
    assert!(
        paths[0].ends_with("b.json") && paths[1].ends_with("c.json"),
        "{paths:?}"
    );
    assert!(
        r.unreadable[0].1.contains("not valid UTF-8"),
        "{:?}",
        r.unreadable
    );
}

#[test]
fn wrappers_real_exports_come_in_are_unwrapped_and_said() {
    let policy: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("asr-block-with-exclusions.json")).unwrap(),
    )
    .unwrap();
    let raw = serde_json::to_string(&policy).unwrap();
    for (wrapped, says) in [
        (
            serde_json::json!({"@odata.context": "x", "value": [policy.clone()]}),
            "a Graph list response (`value`)",
        ),
        (serde_json::json!([policy.clone()]), "an array"),
        // CIPP templates carry the policy as a JSON string.
        (
            serde_json::json!({"Displayname": "ASR", "Description": "", "RAWJson": raw, "Type": "Catalog", "GUID": "1"}),
            "a CIPP template (`RAWJson`)",
        ),
        (
            serde_json::json!({"policy": policy.clone(), "exportedBy": "IntuneManagement"}),
            "a wrapper object (field `policy`)",
        ),
        (
            serde_json::json!([{"RAWJson": raw}]),
            "an array, then a CIPP template (`RAWJson`)",
        ),
    ] {
        let mut report = rampart::json_import::ImportReport::default();
        rampart::json_import::import_value(&wrapped, "x.json", &mut report);
        assert_eq!(report.imported.len(), 1, "{says}: {:?}", report.skipped);
        assert_eq!(
            report.unwrapped,
            vec![("x.json".to_string(), says.to_string())]
        );
    }
    // A bare policy is not wrapped.
    let mut report = rampart::json_import::ImportReport::default();
    rampart::json_import::import_value(&policy, "x.json", &mut report);
    assert_eq!(report.imported.len(), 1);
    assert!(report.unwrapped.is_empty());
}

#[test]
fn antivirus_exclusions_import_in_the_readable_form() {
    // Issue 12: the antivirus template's instance template ids for excludedPaths and
    // excludedProcesses, so they import as readable names rather than explicit forms.
    for (name, definition, instance_template) in [
        (
            "excludedPaths",
            "device_vendor_msft_policy_config_defender_excludedpaths",
            "aaf04adc-c639-464f-b4a7-152e784092e8",
        ),
        (
            "excludedProcesses",
            "device_vendor_msft_policy_config_defender_excludedprocesses",
            "96b046ed-f138-4250-9ae0-b0772a93d16f",
        ),
    ] {
        let policy = serde_json::json!({
            "name": "AV exclusions",
            "description": "",
            "platforms": "windows10",
            "technologies": "mdm,microsoftSense",
            "roleScopeTagIds": ["0"],
            "templateReference": {"templateId": "804339ad-1553-4478-a742-138fb5807418_1"},
            "settings": [{"settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationSimpleSettingCollectionInstance",
                "settingDefinitionId": definition,
                "settingInstanceTemplateReference": {"settingInstanceTemplateId": instance_template},
                "simpleSettingCollectionValue": [
                    {"@odata.type": "#microsoft.graph.deviceManagementConfigurationStringSettingValue", "value": "C:\\Tools"}
                ]
            }}]
        });
        let p = rampart::json_import::import_policy_json(&policy).unwrap();
        assert!(p.yaml.contains(&format!("  {name}:\n")), "{}", p.yaml);
        assert!(!p.yaml.contains("instanceTemplateId"), "{}", p.yaml);
    }
}
