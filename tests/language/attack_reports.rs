//! Faults a tester found in the merged language work, each tested over several inputs of
//! its kind: cross-tenant checks that a per-document error must not suppress, substituted
//! values that are data (never re-scanned for variables), and firewall and RBAC values the
//! device or Graph would refuse.

use rampart::diag::{self, Format};

use super::{PROFILE, RULE, run};

/// `path:line:col code` of every diagnostic.
fn places(v: &rampart::resolve::Validated) -> Vec<String> {
    diag::render(&v.diagnostics, &v.loaded.sources, Format::Concise, false)
        .lines()
        .map(|l| {
            let (at, rest) = l.split_once(": ").unwrap_or((l, ""));
            let code = rest
                .split_once(']')
                .map(|(c, _)| {
                    c.trim_start_matches("error[")
                        .trim_start_matches("warning[")
                })
                .unwrap_or(rest);
            format!("{at} {code}")
        })
        .collect()
}

fn codes(v: &rampart::resolve::Validated) -> Vec<String> {
    v.diagnostics.iter().map(|d| d.code.to_string()).collect()
}

fn second_rule(display: &str, title: &str, tactic: &str) -> String {
    RULE.replace(
        "name: encoded-powershell",
        &format!("name: z-second\ndisplayName: \"{display}\""),
    )
    .replace("title: Encoded PowerShell", &format!("title: \"{title}\""))
    .replace("tactic: Execution", &format!("tactic: {tactic}"))
}

const PROFILE_ALL_RULES: &str = "kind: DistributionProfile
name: ring0
tenants:
  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01
    name: contoso
    displayName: Contoso
policies:
  - { kind: DetectionRule }
";

#[test]
fn duplicate_rule_titles_are_reported_alongside_per_document_errors() {
    let first = RULE.replace(
        "name: encoded-powershell",
        "name: encoded-powershell\ndisplayName: \"LSASS memory read by an unusual process\"",
    );
    // (second rule's display name, alert title, tactic, expected duplicate field line)
    for (display, title, tactic, also) in [
        // The example: a duplicate display name and a misspelt tactic.
        (
            "LSASS memory read by an unusual process",
            "Other",
            "Exection",
            Some("unknown-tactic"),
        ),
        // Same, differing only in case and spaces.
        (
            " lsass memory READ by an unusual process",
            "Other",
            "Exection",
            Some("unknown-tactic"),
        ),
        // The duplicate with no other error.
        (
            "LSASS memory read by an unusual process",
            "Other",
            "Execution",
            None,
        ),
        // A duplicate alert title with a misspelt tactic.
        (
            "Something else",
            "Encoded PowerShell",
            "Exection",
            Some("unknown-tactic"),
        ),
    ] {
        let second = second_rule(display, title, tactic);
        let (_d, v) = run(&[
            ("policies/a-first.yaml", &first),
            ("policies/b-second.yaml", &second),
            ("profiles/p.yaml", PROFILE_ALL_RULES),
        ]);
        let p = places(&v);
        let dup: Vec<&String> = p
            .iter()
            .filter(|l| l.ends_with("duplicate-rule-title"))
            .collect();
        assert_eq!(dup.len(), 1, "{display}/{title}/{tactic}: {p:?}");
        assert!(
            dup[0].starts_with("policies/b-second.yaml:"),
            "at the later document: {p:?}"
        );
        let d = v
            .diagnostics
            .iter()
            .find(|d| d.code == "duplicate-rule-title")
            .expect("dup");
        let text = diag::render(
            std::slice::from_ref(d),
            &v.loaded.sources,
            Format::Human,
            false,
        );
        assert!(
            text.contains("a-first.yaml"),
            "labelled at the first: {text}"
        );
        if let Some(code) = also {
            assert!(codes(&v).iter().any(|c| c == code), "{p:?}");
        }
    }
}

#[test]
fn duplicate_rule_title_in_the_shipped_repository_is_reported_at_the_new_file() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("tmp");
    for sub in ["policies", "profiles"] {
        copy(&root.join(sub), &dir.path().join(sub));
    }
    let lsass =
        std::fs::read_to_string(root.join("policies/detections/lsass-access.yaml")).expect("read");
    let new = lsass
        .replace("name: lsass-access-unusual-process", "name: zz-lsass-copy")
        .replace("ruleId:", "#ruleId:")
        .replace(
            "title: \"Possible credential dumping from LSASS\"",
            "title: \"Another title\"",
        )
        .replace("tactic: CredentialAccess", "tactic: Exection");
    std::fs::write(dir.path().join("policies/detections/zz-copy.yaml"), new).expect("write");
    let v = rampart::resolve::validate(dir.path(), &[]);
    let p = places(&v);
    assert!(
        p.iter()
            .any(|l| l.contains("zz-copy.yaml") && l.ends_with("unknown-tactic")),
        "{p:?}"
    );
    assert!(
        p.iter()
            .any(|l| l.starts_with("policies/detections/zz-copy.yaml:")
                && l.ends_with("duplicate-rule-title")),
        "{p:?}"
    );
    assert!(
        !p.iter()
            .any(|l| l.contains("lsass-access.yaml") && l.ends_with("duplicate-rule-title")),
        "{p:?}"
    );
}

fn copy(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        if e.path().is_dir() {
            copy(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).expect("copy");
        }
    }
}

#[test]
fn substituted_values_are_data_never_rescanned() {
    let rule = RULE.replace(
        "name: encoded-powershell",
        "name: encoded-powershell\ndisplayName: \"${tenant.displayName} - ${vars.suffix} - $${literal}\"",
    );
    for (tenant_display, suffix, want) in [
        // The example: a `${` in a tenant's display name.
        ("Acme ${x}", "s", "Acme ${x} - s - ${literal}"),
        // A valid-looking reference is not substituted a second time.
        (
            "Contoso ${tenant.id}",
            "s",
            "Contoso ${tenant.id} - s - ${literal}",
        ),
        // From a profile/tenant variable.
        (
            "Plain",
            "${vars.other}",
            "Plain - ${vars.other} - ${literal}",
        ),
        ("Plain", "${", "Plain - ${ - ${literal}"),
    ] {
        let profile = format!(
            "kind: DistributionProfile\nname: ring0\nvars:\n  suffix: \"{suffix}\"\n  other: nope\ntenants:\n  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01\n    name: contoso\n    displayName: \"{tenant_display}\"\npolicies:\n  - encoded-powershell\n"
        );
        let (_d, v) = run(&[("policies/r.yaml", &rule), ("profiles/p.yaml", &profile)]);
        assert!(
            !v.has_errors(),
            "{tenant_display}/{suffix}: {:?}",
            places(&v)
        );
        let t = v.tenants.values().next().expect("tenant");
        let obj = t.objects.values().next().expect("object");
        let rampart::desired::DesiredObject::DetectionRule(r) = obj else {
            panic!("not a rule")
        };
        assert_eq!(r.body["displayName"], want);
    }
}

#[test]
fn a_literal_dollar_brace_from_a_variable_is_still_checked_as_a_value() {
    // A port from a variable holding `${x}` is a bad port, not "checked later".
    let fw = "kind: FirewallPolicy\nname: fw\nrules:\n  - name: a\n    direction: in\n    action: block\n    protocol: 6\n    localPorts: [\"${vars.port}\"]\n";
    let profile = PROFILE
        .replace("  - encoded-powershell", "  - fw")
        .replace("tenants:", "vars:\n  port: \"${x}\"\ntenants:");
    let (_d, v) = run(&[("policies/fw.yaml", fw), ("profiles/p.yaml", &profile)]);
    assert!(
        codes(&v).iter().any(|c| c == "invalid-port"),
        "{:?}",
        places(&v)
    );
    assert!(
        !codes(&v).iter().any(|c| c == "invalid-variable"),
        "{:?}",
        places(&v)
    );
}

fn fw_rule(extra: &str) -> String {
    format!(
        "kind: FirewallPolicy\nname: fw\nrules:\n  - name: a\n    direction: in\n    action: block\n{extra}"
    )
}

#[test]
fn ports_only_with_tcp_or_udp() {
    for (protocol, ports, bad) in [
        ("1", "localPorts: [\"80\"]", true),
        ("58", "remotePorts: [\"80\"]", true),
        ("47", "localPorts: [\"80-90\"]", true),
        ("6", "localPorts: [\"80\"]", false),
        ("17", "remotePorts: [\"53\"]", false),
        ("1", "localPorts: []", false),
    ] {
        let (_d, v) = run(&[(
            "policies/fw.yaml",
            &fw_rule(&format!("    protocol: {protocol}\n    {ports}\n")),
        )]);
        let p = places(&v);
        let hit = p
            .iter()
            .any(|l| l == "policies/fw.yaml:7:15 ports-need-tcp-or-udp");
        assert_eq!(hit, bad, "{protocol} {ports}: {p:?}");
    }
}

#[test]
fn port_values_are_judged_whole() {
    for (value, says) in [
        ("+80", "`+80` is not a port"),
        (" 80", "` 80` is not a port"),
        ("80 ", "`80 ` is not a port"),
        ("1-2-3", "`1-2-3` is not a port range"),
        ("-5", "`-5` is not a port range"),
        ("5-", "`5-` is not a port range"),
        ("http", "`http` is not a port"),
    ] {
        let (_d, v) = run(&[(
            "policies/fw.yaml",
            &fw_rule(&format!("    protocol: 6\n    localPorts: [\"{value}\"]\n")),
        )]);
        let ds: Vec<_> = v
            .diagnostics
            .iter()
            .filter(|d| d.code == "invalid-port")
            .collect();
        assert_eq!(ds.len(), 1, "{value}: {:?}", places(&v));
        assert!(ds[0].message.contains(says), "{value}: {}", ds[0].message);
    }
}

#[test]
fn one_diagnostic_per_fault_for_a_protocol_name() {
    for name in ["tcp", "TCP", "udp", "ICMPv4", "gre"] {
        let (_d, v) = run(&[(
            "policies/fw.yaml",
            &fw_rule(&format!("    protocol: \"{name}\"\n")),
        )]);
        let p = places(&v);
        let at: Vec<&String> = p
            .iter()
            .filter(|l| l.starts_with("policies/fw.yaml:7:"))
            .collect();
        assert_eq!(at.len(), 1, "{name}: {p:?}");
    }
}

#[test]
fn a_custom_role_action_listed_twice_is_an_error() {
    for (actions, dups) in [
        (
            "[microsoft.xdr/secops/securitydata/read, microsoft.xdr/secops/securitydata/read]",
            1,
        ),
        (
            "[microsoft.xdr/secops/securitydata/read, Microsoft.XDR/secops/securitydata/read]",
            1,
        ),
        (
            "[microsoft.xdr/secops/securitydata/read, microsoft.xdr/secops/securitydata/manage]",
            0,
        ),
    ] {
        let ra = format!(
            "kind: RoleAssignment\nname: soc\nsystem: defender\ngroups: [\"SOC\"]\ncustomRole:\n  displayName: SOC reader\n  actions: {actions}\n"
        );
        let (_d, v) = run(&[("policies/ra.yaml", &ra)]);
        let n = codes(&v)
            .iter()
            .filter(|c| *c == "duplicate-action")
            .count();
        assert_eq!(n, dups, "{actions}: {:?}", places(&v));
    }
}

#[test]
fn a_profile_with_a_shape_error_still_gets_its_cross_document_checks() {
    for (bad, code) in [
        // Ring of the wrong type, plus a reference to no policy.
        ("ring: high\n", "unknown-policy"),
        // An unknown field and a wrong type together.
        ("ring: high\nfoo: 1\n", "unknown-policy"),
    ] {
        let profile = PROFILE
            .replace("name: ring0\n", &format!("name: ring0\n{bad}"))
            .replace("  - encoded-powershell", "  - encoded-powershel");
        let (_d, v) = run(&[("policies/r.yaml", RULE), ("profiles/p.yaml", &profile)]);
        assert!(
            codes(&v).iter().any(|c| c == code),
            "{bad}: {:?}",
            places(&v)
        );
    }
}
