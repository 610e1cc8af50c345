//! Every class of bad settings gives a located error, and all errors are reported at once.

use rampart::catalog::Catalog;
use rampart::desired::Kind;
use rampart::diag::PathError;
use rampart::settings::settings_from_yaml;
use serde_json::{Value, json};

fn errors(kind: Kind, alias: &str, doc: Value) -> Vec<PathError> {
    let t = Catalog::builtin().template_by_alias(alias).unwrap();
    settings_from_yaml(kind, t, &doc).expect_err("document has errors")
}

fn one(errs: &[PathError], code: &str, pointer: &str) -> PathError {
    let found: Vec<_> = errs
        .iter()
        .filter(|e| e.code == code && e.pointer == pointer)
        .collect();
    assert_eq!(found.len(), 1, "want {code} at {pointer}, got {errs:#?}");
    found[0].clone()
}

#[test]
fn unknown_setting_suggests_the_closest_name() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"cloudBlokLevel": "high"}}),
    );
    let e = one(&errs, "unknown-setting", "/settings/cloudBlokLevel");
    assert!(e.at_key);
    assert_eq!(e.help.as_deref(), Some("did you mean `cloudBlockLevel`?"));
}

#[test]
fn invalid_option_lists_the_valid_ones() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"cloudBlockLevel": "extreme"}}),
    );
    let e = one(&errs, "invalid-option", "/settings/cloudBlockLevel");
    assert_eq!(
        e.help.as_deref(),
        Some("valid values: default, high, highPlus, zeroTolerance")
    );
}

#[test]
fn wrong_type_and_out_of_range() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"avgCpuLoadFactor": "fifty", "cloudExtendedTimeout": 51, "excludedPaths": "C:\\x"}}),
    );
    one(&errs, "wrong-type", "/settings/avgCpuLoadFactor");
    let e = one(&errs, "out-of-range", "/settings/cloudExtendedTimeout");
    assert_eq!(e.help.as_deref(), Some("allowed: 0..=50"));
    one(&errs, "wrong-type", "/settings/excludedPaths");
    assert_eq!(errs.len(), 3, "every error is reported: {errs:#?}");
}

#[test]
fn setting_of_another_template() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"engineUpdatesChannel": "currentBroad"}}),
    );
    let e = one(
        &errs,
        "setting-not-in-template",
        "/settings/engineUpdatesChannel",
    );
    assert_eq!(
        e.help.as_deref(),
        Some("it belongs to the template(s): updateControls")
    );
}

#[test]
fn unknown_raw_id_needs_the_explicit_form() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"device_vendor_msft_policy_config_defender_brandnew": "x_1"}}),
    );
    one(
        &errs,
        "explicit-form-required",
        "/settings/device_vendor_msft_policy_config_defender_brandnew",
    );
    // ... and the explicit form is accepted as is.
    let t = Catalog::builtin().template_by_alias("antivirus").unwrap();
    let ok = settings_from_yaml(
        Kind::AntivirusPolicy,
        t,
        &json!({"settings": {"device_vendor_msft_policy_config_defender_brandnew": {"choice": "device_vendor_msft_policy_config_defender_brandnew_1"}}}),
    )
    .unwrap();
    assert_eq!(ok[0].instance_template_id, None);
    // ADMX-backed ids contain `~` (an escaped character in JSON pointers, too).
    let admx =
        "device_vendor_msft_policy_config_office16v2~policy~l_updates_l_enableautomaticupdates";
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {admx: 1}}),
    );
    one(
        &errs,
        "explicit-form-required",
        &format!("/settings/{}", admx.replace('~', "~0")),
    );
}

#[test]
fn duplicate_firewall_rule_names_and_bad_rule_fields() {
    let doc = json!({"rules": [
        {"name": "web", "direction": "in", "action": "allow", "localPorts": [443]},
        {"name": "ssh", "direction": "sideways", "protocol": 300},
        {"name": "web", "action": "allow", "localPorts": [80, {"x": 1}], "remotePort": ["1"]},
        {"direction": "out"}
    ]});
    let errs = errors(Kind::FirewallPolicy, "firewallRules", doc);
    let e = one(&errs, "duplicate-rule-name", "/rules/2/name");
    assert_eq!(e.help.as_deref(), Some("first used by rule 0 (`/rules/0`)"));
    one(&errs, "invalid-option", "/rules/1/direction");
    one(&errs, "out-of-range", "/rules/1/protocol");
    one(&errs, "wrong-type", "/rules/2/localPorts/1");
    let e = one(&errs, "unknown-field", "/rules/2/remotePort");
    assert_eq!(e.help.as_deref(), Some("did you mean `remotePorts`?"));
    one(&errs, "missing-field", "/rules/3");
    assert_eq!(errs.len(), 6, "{errs:#?}");
}

#[test]
fn asr_rules_errors() {
    let doc = json!({"rules": {
        "blockObfuscatedScript": "block",
        "blockLsassCredentialStealing": "deny",
        "blockWebshellCreation": {"mode": "off", "exclusions": ["C:\\x"]},
        "blockSafeModeReboot": {"exclusions": []}
    }});
    let errs = errors(Kind::AttackSurfaceReductionPolicy, "asr", doc);
    let e = one(&errs, "unknown-setting", "/rules/blockObfuscatedScript");
    assert_eq!(
        e.help.as_deref(),
        Some("did you mean `blockObfuscatedScripts`?")
    );
    let e = one(
        &errs,
        "invalid-option",
        "/rules/blockLsassCredentialStealing",
    );
    assert_eq!(
        e.help.as_deref(),
        Some("valid values: off, block, audit, warn")
    );
    one(
        &errs,
        "invalid-child",
        "/rules/blockWebshellCreation/exclusions",
    );
    one(&errs, "missing-field", "/rules/blockSafeModeReboot");
}

#[test]
fn firewall_profile_errors() {
    let doc = json!({"profiles": {
        "domian": {"enabled": true},
        "private": {"defaultInboundAction": "block"},
        "public": {"enabled": "yes", "defaultInboundAction": "drop", "logMaxFileSize": 0}
    }});
    let errs = errors(Kind::FirewallPolicy, "firewall", doc);
    let e = one(&errs, "unknown-field", "/profiles/domian");
    assert_eq!(e.help.as_deref(), Some("did you mean `domain`?"));
    one(&errs, "missing-field", "/profiles/private");
    one(&errs, "invalid-option", "/profiles/public/enabled");
    one(
        &errs,
        "invalid-option",
        "/profiles/public/defaultInboundAction",
    );
    one(&errs, "out-of-range", "/profiles/public/logMaxFileSize");
}

#[test]
fn explicit_form_errors_and_sections_in_the_wrong_template() {
    let doc = json!({
        "settings": {
            "realTimeMonitoring": {"choice": "enabled", "integer": 1},
            "cloudBlockLevel": {"choice": "high", "colour": "red"},
            "threatSeverityDefaultAction": [{"lowSeverityThreats": "remove", "highSeverityThreat": "remove"}]
        },
        "profiles": {"domain": {"enabled": true}}
    });
    let errs = errors(Kind::AntivirusPolicy, "antivirus", doc);
    one(
        &errs,
        "invalid-explicit-form",
        "/settings/realTimeMonitoring",
    );
    one(&errs, "unknown-field", "/settings/cloudBlockLevel/colour");
    let e = one(
        &errs,
        "unknown-setting",
        "/settings/threatSeverityDefaultAction/0/highSeverityThreat",
    );
    assert_eq!(
        e.help.as_deref(),
        Some("did you mean `highSeverityThreats`?")
    );
    one(&errs, "section-not-allowed", "/profiles");
}

#[test]
fn readable_and_raw_names_give_the_same_instances() {
    let t = Catalog::builtin().template_by_alias("antivirus").unwrap();
    let readable = settings_from_yaml(Kind::AntivirusPolicy, t, &json!({"settings": {"realTimeMonitoring": "enabled", "cloudBlockLevel": "high", "puaProtection": 2}})).unwrap();
    let raw = settings_from_yaml(
        Kind::AntivirusPolicy,
        t,
        &json!({"settings": {
            "device_vendor_msft_policy_config_defender_allowrealtimemonitoring": "device_vendor_msft_policy_config_defender_allowrealtimemonitoring_1",
            "device_vendor_msft_policy_config_defender_cloudblocklevel": "2",
            "device_vendor_msft_policy_config_defender_puaprotection": "audit"
        }}),
    )
    .unwrap();
    assert_eq!(readable, raw);
    // Template references come from the catalog for known root settings.
    assert_eq!(
        readable[1].instance_template_id.as_deref(),
        Some("c7a37009-c16e-4145-84c8-89a8c121fb15")
    );
}

#[test]
fn duplicate_setting_by_two_names() {
    let errs = errors(
        Kind::AntivirusPolicy,
        "antivirus",
        json!({"settings": {"realTimeMonitoring": "enabled", "device_vendor_msft_policy_config_defender_allowrealtimemonitoring": "disabled"}}),
    );
    one(
        &errs,
        "duplicate-setting",
        "/settings/device_vendor_msft_policy_config_defender_allowrealtimemonitoring",
    );
}
