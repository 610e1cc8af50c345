//! The catalog's families and templates: every family of graph-api-2.md §5 is a kind, every
//! template resolves to its kind and family, and the emulator lists exactly the service's
//! templates (not the pseudo-template of plain policies).

use rampart::catalog::Catalog;
use rampart::desired::Kind;

#[test]
fn every_endpoint_security_family_is_a_kind_with_its_templates() {
    let cat = Catalog::builtin();
    let expect = [
        ("antivirus", Kind::AntivirusPolicy, "windows10"),
        ("antivirusExclusions", Kind::AntivirusPolicy, "windows10"),
        ("updateControls", Kind::AntivirusPolicy, "windows10"),
        ("securityExperience", Kind::AntivirusPolicy, "windows10"),
        ("macOSAntivirus", Kind::AntivirusPolicy, "macOS"),
        ("macOSAntivirusExclusions", Kind::AntivirusPolicy, "macOS"),
        ("linuxAntivirus", Kind::AntivirusPolicy, "linux"),
        ("linuxAntivirusExclusions", Kind::AntivirusPolicy, "linux"),
        ("firewall", Kind::FirewallPolicy, "windows10"),
        ("firewallRules", Kind::FirewallPolicy, "windows10"),
        ("hyperVFirewallRules", Kind::FirewallPolicy, "windows10"),
        ("asr", Kind::AttackSurfaceReductionPolicy, "windows10"),
        (
            "deviceControl",
            Kind::AttackSurfaceReductionPolicy,
            "windows10",
        ),
        (
            "exploitProtection",
            Kind::AttackSurfaceReductionPolicy,
            "windows10",
        ),
        (
            "appAndBrowserIsolation",
            Kind::AttackSurfaceReductionPolicy,
            "windows10",
        ),
        ("edr", Kind::EndpointDetectionAndResponsePolicy, "windows10"),
        (
            "macOSEdr",
            Kind::EndpointDetectionAndResponsePolicy,
            "macOS",
        ),
        (
            "linuxEdr",
            Kind::EndpointDetectionAndResponsePolicy,
            "linux",
        ),
        ("bitlocker", Kind::DiskEncryptionPolicy, "windows10"),
        (
            "personalDataEncryption",
            Kind::DiskEncryptionPolicy,
            "windows10",
        ),
        ("laps", Kind::AccountProtectionPolicy, "windows10"),
        (
            "accountProtection",
            Kind::AccountProtectionPolicy,
            "windows10",
        ),
        (
            "localUserGroupMembership",
            Kind::AccountProtectionPolicy,
            "windows10",
        ),
        ("appControl", Kind::ApplicationControlPolicy, "windows10"),
        ("settingsCatalog", Kind::SettingsCatalogPolicy, "windows10"),
    ];
    for (alias, kind, platform) in expect {
        let t = cat
            .template_by_alias(alias)
            .unwrap_or_else(|| panic!("{alias}"));
        assert_eq!(t.kind, kind, "{alias}");
        assert_eq!(t.platforms, platform, "{alias}");
        assert_eq!(Some(t.template_family.as_str()), kind.template_family());
        assert_eq!(Kind::for_template_family(&t.template_family), Some(kind));
        // A Graph policy of this template is observed as this kind, by family or by id.
        assert_eq!(
            rampart::plan::observed::kind_of_template(&t.id, None),
            Some(kind),
            "{alias}"
        );
    }
    for kind in Kind::ALL
        .into_iter()
        .filter(|k| k.is_configuration_policy())
    {
        assert!(
            cat.templates().iter().any(|t| t.kind == kind),
            "{kind} has a template"
        );
    }
}

#[test]
fn readable_names_of_the_new_families_resolve() {
    let cat = Catalog::builtin();
    let bitlocker = cat.template_by_alias("bitlocker").unwrap();
    let d = cat
        .resolve_name(bitlocker, "requireDeviceEncryption")
        .unwrap();
    assert_eq!(d.id, "device_vendor_msft_bitlocker_requiredeviceencryption");
    assert_eq!(
        d.setting_instance_template_id.as_deref(),
        Some("20ec1f6e-0d7a-4b6f-9a4f-9ed33e69ce51")
    );
    let dc = cat.template_by_alias("deviceControl").unwrap();
    assert!(cat.resolve_name(dc, "preventDeviceSetupClasses").is_some());
    // A name of one family's template does not resolve in another's.
    assert!(cat.resolve_name(dc, "requireDeviceEncryption").is_none());
}

#[test]
fn the_service_templates_leave_out_the_plain_policy_pseudo_template() {
    let cat = Catalog::builtin();
    assert!(cat.template("").is_none());
    assert!(cat.service_templates().all(|t| !t.id.is_empty()));
    assert_eq!(
        cat.service_templates().count() + 1,
        cat.templates().len(),
        "exactly one pseudo-template"
    );
}

/// The plan's JSON Schema (written by hand) lists exactly the kinds rampart has.
#[test]
fn the_plan_schema_lists_every_kind() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/schemas/plan.schema.json");
    let schema: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("schema")).expect("JSON");
    let listed: Vec<&str> = schema["$defs"]["kind"]["enum"]
        .as_array()
        .expect("enum")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    assert_eq!(listed, all);
}
