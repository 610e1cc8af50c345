//! Issue 12 (language and import hardening from field reports) and the containment part of
//! issue 10: each kind of fault over several inputs, the example among them.

use std::path::Path;

use rampart::diag::{self, Diagnostic, Format};
use rampart::resolve::validate;

use super::{PROFILE, RULE, repo, run};
use crate::support::{bom_crlf, utf16be, utf16le};

fn write(root: &Path, path: &str, bytes: &[u8]) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, bytes).expect("write");
}

/// `path:line:col code` of every diagnostic, for assertions that name places.
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

fn errors(v: &rampart::resolve::Validated) -> Vec<&Diagnostic> {
    v.diagnostics.iter().filter(|d| d.is_error()).collect()
}

const RULE_WITH_FILE: &str = "kind: DetectionRule
name: lsass
frequency: PT1H
queryFile: lsass.kql
alert:
  title: LSASS access
  severity: high
  tactic: CredentialAccess
  techniques: [T1003.001]
  entityMappings:
    hosts: [{ deviceIdColumn: DeviceId }]
";

const QUERY: &str = "DeviceEvents\n| where ActionType == \"OpenProcessApiCall\"\n| project Timestamp, DeviceId, ReportId\n";

#[test]
fn a_repository_written_with_windows_tools_validates() {
    let profile = PROFILE.replace(
        "  - encoded-powershell\n",
        "  - encoded-powershell\n  - lsass\n",
    );
    for (name, encode) in [
        ("UTF-8 BOM + CRLF", bom_crlf as fn(&str) -> Vec<u8>),
        ("UTF-16 LE", |s: &str| utf16le(&s.replace('\n', "\r\n"))),
        ("UTF-16 BE", |s: &str| utf16be(s)),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "profiles/ring0.yaml", &encode(&profile));
        write(dir.path(), "policies/rule.yaml", &encode(RULE));
        write(dir.path(), "policies/lsass.yaml", &encode(RULE_WITH_FILE));
        write(dir.path(), "policies/lsass.kql", &encode(QUERY));
        let v = validate(dir.path(), &[]);
        assert!(v.diagnostics.is_empty(), "{name}: {:?}", places(&v));
        let t = v.tenants.values().next().expect("a tenant");
        assert_eq!(t.objects.len(), 2, "{name}");
        // The query is the same text whatever the encoding and line ends.
        let lsass = v
            .loaded
            .documents
            .iter()
            .find(|d| d.name == "lsass")
            .expect("lsass");
        assert_eq!(lsass.query_file_text.as_deref(), Some(QUERY), "{name}");
    }
}

#[test]
fn a_bom_no_longer_hides_kind() {
    // Issue 12's example: "missing required field `kind`" at 1:1 for a BOM file.
    let dir = tempfile::tempdir().expect("temp dir");
    write(dir.path(), "profiles/ring0.yaml", PROFILE.as_bytes());
    let mut bytes = vec![0xEF, 0xBB, 0xBF];
    bytes.extend(RULE.as_bytes());
    write(dir.path(), "policies/rule.yaml", &bytes);
    let v = validate(dir.path(), &[]);
    assert!(v.diagnostics.is_empty(), "{:?}", places(&v));
}

#[test]
fn an_undecodable_file_is_reported_by_its_own_path_and_the_run_goes_on() {
    for bad in [
        b"kind: DetectionRule\nname: caf\xe9\n".to_vec(),
        vec![0xFF, 0xFE, b'k', 0, 0x00, 0xD8, b'x', 0],
        vec![0xFF, 0xFE, b'k'],
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "profiles/ring0.yaml", PROFILE.as_bytes());
        write(dir.path(), "policies/rule.yaml", RULE.as_bytes());
        write(dir.path(), "policies/bad.yaml", &bad);
        let v = validate(dir.path(), &[]);
        let e = errors(&v);
        assert_eq!(e.len(), 1, "{:?}", places(&v));
        assert_eq!(e[0].code, "invalid-encoding");
        assert_eq!(e[0].span.as_ref().expect("span").path, "policies/bad.yaml");
        assert!(
            v.loaded
                .documents
                .iter()
                .any(|d| d.name == "encoded-powershell")
        );
    }
}

#[cfg(unix)]
#[test]
fn files_outside_the_repository_are_refused_even_through_symlinks() {
    use std::os::unix::fs::symlink;
    let outside = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        outside.path().join("secret.kql"),
        "AZURE_CLIENT_SECRET=hunter2\n",
    )
    .expect("write");
    std::fs::write(outside.path().join("rule.yaml"), RULE).expect("write");
    std::fs::create_dir_all(outside.path().join("more")).expect("mkdir");
    std::fs::write(outside.path().join("more/rule.yaml"), RULE).expect("write");

    // A query file that is a symlink leaving the repository (issue 10's /proc/self/environ).
    for target in [
        outside.path().join("secret.kql"),
        "/proc/self/environ".into(),
    ] {
        let dir = repo(&[
            (
                "profiles/ring0.yaml",
                &PROFILE.replace("encoded-powershell", "lsass"),
            ),
            ("policies/detections/lsass.yaml", RULE_WITH_FILE),
        ]);
        symlink(&target, dir.path().join("policies/detections/lsass.kql")).expect("symlink");
        let v = validate(dir.path(), &[]);
        assert_eq!(
            places(&v),
            vec!["policies/detections/lsass.yaml:4:12 outside-repository"],
            "{}",
            target.display()
        );
        assert!(v.tenants.values().all(|t| t.objects.is_empty()));
        let rendered = diag::render(&v.diagnostics, &v.loaded.sources, Format::Human, false);
        assert!(!rendered.contains("hunter2"));
    }

    // A symlinked YAML file, and a symlinked folder, leading out.
    let dir = repo(&[("profiles/ring0.yaml", PROFILE)]);
    std::fs::create_dir_all(dir.path().join("policies")).expect("mkdir");
    symlink(
        outside.path().join("rule.yaml"),
        dir.path().join("policies/rule.yaml"),
    )
    .expect("symlink");
    symlink(
        outside.path().join("more"),
        dir.path().join("policies/more"),
    )
    .expect("symlink");
    let v = validate(dir.path(), &[]);
    let p = places(&v);
    assert!(
        p.contains(&"policies/rule.yaml:1:1 outside-repository".to_string()),
        "{p:?}"
    );
    assert!(
        p.contains(&"policies/more:1:1 outside-repository".to_string())
            || p.iter()
                .any(|l| l.starts_with("policies/more") && l.ends_with("outside-repository")),
        "{p:?}"
    );
    assert!(v.loaded.documents.iter().all(|d| d.kind != "DetectionRule"));

    // A symlink that stays inside the repository is fine.
    let dir = repo(&[
        (
            "profiles/ring0.yaml",
            &PROFILE.replace("encoded-powershell", "lsass"),
        ),
        ("policies/detections/lsass.yaml", RULE_WITH_FILE),
        ("queries/lsass.kql", QUERY),
    ]);
    symlink(
        dir.path().join("queries/lsass.kql"),
        dir.path().join("policies/detections/lsass.kql"),
    )
    .expect("symlink");
    let v = validate(dir.path(), &[]);
    assert!(v.diagnostics.is_empty(), "{:?}", places(&v));
}

#[test]
fn identity_fields_take_no_variables() {
    // Issue 12's example first, then the other identity fields.
    for (path, text, at) in [
        (
            "policies/rule.yaml",
            RULE.replace("name: encoded-powershell", "name: \"enc-${tenant.name}\""),
            "policies/rule.yaml:2:7",
        ),
        (
            "policies/rule.yaml",
            RULE.replace(
                "frequency: PT1H",
                "ruleId: \"r-${tenant.id}\"\nfrequency: PT1H",
            ),
            "policies/rule.yaml:3:9",
        ),
        (
            "policies/rule.yaml",
            RULE.replace(
                "frequency: PT1H",
                "labels: [\"${vars.ring}\"]\nfrequency: PT1H",
            ),
            "policies/rule.yaml:3:10",
        ),
        (
            "profiles/ring0.yaml",
            PROFILE.replace("name: contoso", "name: \"c-${tenant.id}\""),
            "profiles/ring0.yaml:5:11",
        ),
        (
            "profiles/ring0.yaml",
            PROFILE.replace("name: ring0", "name: \"ring-${vars.n}\""),
            "profiles/ring0.yaml:2:7",
        ),
    ] {
        let mut files = vec![
            ("profiles/ring0.yaml", PROFILE),
            ("policies/rule.yaml", RULE),
        ];
        files.retain(|(p, _)| *p != path);
        files.push((path, &text));
        let (_d, v) = run(&files);
        let p = places(&v);
        assert!(
            p.contains(&format!("{at} variable-in-identity")),
            "{path}: {p:?}"
        );
    }
}

#[test]
fn a_shape_error_does_not_hide_the_documents_other_errors() {
    // Issue 12's example: `severity: critical` and `tactic: Exection` in one run.
    let rule = RULE
        .replace("severity: high", "severity: critical")
        .replace("tactic: Execution", "tactic: Exection");
    let (_d, v) = run(&[
        ("profiles/ring0.yaml", PROFILE),
        ("policies/rule.yaml", &rule),
    ]);
    let p = places(&v);
    assert!(
        p.iter().any(|l| l.starts_with("policies/rule.yaml:10:13")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|l| l.starts_with("policies/rule.yaml:11:11")),
        "{p:?}"
    );
    // More of the kind: a wrong type next to a bad frequency and a bad technique.
    let rule = RULE
        .replace("frequency: PT1H", "frequency: PT2H")
        .replace("severity: high", "severity: [high]")
        .replace("T1059.001", "X1059");
    let (_d, v) = run(&[
        ("profiles/ring0.yaml", PROFILE),
        ("policies/rule.yaml", &rule),
    ]);
    let p = places(&v);
    assert!(p.len() >= 3, "{p:?}");
    assert!(
        p.iter().any(|l| l.starts_with("policies/rule.yaml:3:12")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|l| l.starts_with("policies/rule.yaml:10:13")),
        "{p:?}"
    );
}

#[test]
fn errors_point_at_their_cause() {
    // A tab on line 8 after a plain value on line 7.
    let av = "kind: AntivirusPolicy\nname: av\nsettings:\n  realTimeMonitoring: enabled\n  behaviorMonitoring: enabled\n  scriptScanning: enabled\n  cloudBlockLevel: high\n\tarchiveScanning: enabled\n";
    let (_d, v) = run(&[("policies/av.yaml", av)]);
    assert!(
        places(&v).contains(&"policies/av.yaml:8:1 yaml-tab".to_string()),
        "{:?}",
        places(&v)
    );
    // An unclosed quote.
    let rule = RULE.replace("title: Encoded PowerShell", "title: \"Encoded PowerShell");
    let (_d, v) = run(&[("policies/rule.yaml", &rule)]);
    assert!(
        places(&v).contains(&"policies/rule.yaml:9:10 yaml-unclosed-quote".to_string()),
        "{:?}",
        places(&v)
    );
    // A number too big for its field.
    let av = "kind: AntivirusPolicy\nname: av\nsettings:\n  cloudExtendedTimeout: 99999999999999999999\n";
    let (_d, v) = run(&[("policies/av.yaml", av)]);
    let p = places(&v);
    assert!(
        p.iter().any(|l| l.starts_with("policies/av.yaml:4:25")),
        "{p:?}"
    );
    let text = diag::render(&v.diagnostics, &v.loaded.sources, Format::Concise, false);
    assert!(
        text.contains("too big") || text.contains("more than") || text.contains("at most"),
        "{text}"
    );
    assert!(!text.contains("must be an integer"), "{text}");
}

#[test]
fn graph_constraints_are_checked_before_any_request() {
    // Firewall fields.
    let fw = "kind: FirewallPolicy\nname: fw\nrules:\n  - name: a\n    direction: in\n    action: block\n    protocol: 6\n    localPorts: [\"0\", \"139-137\", \"70000\", \"445\"]\n    remoteAddresses: [\"10.0.0.0/33\", Internat, \"10.0.0.1\"]\n";
    let (_d, v) = run(&[("policies/fw.yaml", fw)]);
    let p = places(&v);
    for want in [
        "policies/fw.yaml:8:18 invalid-port",
        "policies/fw.yaml:8:23 invalid-port",
        "policies/fw.yaml:8:34 invalid-port",
        "policies/fw.yaml:9:23 invalid-address",
        "policies/fw.yaml:9:38 invalid-address",
    ] {
        assert!(p.contains(&want.to_string()), "{want}: {p:?}");
    }
    assert_eq!(
        p.iter().filter(|l| l.contains("invalid-")).count(),
        5,
        "{p:?}"
    );

    // A template reference the template does not define (issue 12's example).
    let av = "kind: AntivirusPolicy\nname: av\nsettings:\n  archiveScanning:\n    choice: enabled\n    instanceTemplateId: 11111111-2222-3333-4444-555555555555\n";
    let (_d, v) = run(&[("policies/av.yaml", av)]);
    assert!(
        places(&v).contains(&"policies/av.yaml:6:25 invalid-template-reference".to_string()),
        "{:?}",
        places(&v)
    );

    // Two rules of one tenant with the same display name, and the same alert title.
    let two = RULE.replace("name: encoded-powershell", "name: encoded-powershell-2");
    let profile = PROFILE.replace(
        "  - encoded-powershell\n",
        "  - encoded-powershell\n  - encoded-powershell-2\n",
    );
    let rule = RULE.replace("frequency: PT1H", "displayName: Same\nfrequency: PT1H");
    let two = two.replace("frequency: PT1H", "displayName: same\nfrequency: PT1H");
    let (_d, v) = run(&[
        ("profiles/ring0.yaml", &profile),
        ("policies/a.yaml", &rule),
        ("policies/b.yaml", &two),
    ]);
    let p = places(&v);
    assert_eq!(
        p.iter()
            .filter(|l| l.ends_with("duplicate-rule-title"))
            .count(),
        2,
        "{p:?}"
    );

    // Unified RBAC actions.
    let role = "kind: RoleAssignment\nname: soc\nsystem: defender\ncustomRole:\n  displayName: SOC\n  actions:\n    - microsoft.xdr/secops/everything/own\n    - microsoft.xdr/secops/securitydata/reed\n    - microsoft.xdr/secops/securitydata/read\ngroups: [SOC]\n";
    let (_d, v) = run(&[("policies/role.yaml", role)]);
    let p = places(&v);
    assert!(
        p.contains(&"policies/role.yaml:7:7 unknown-action".to_string()),
        "{p:?}"
    );
    assert!(
        p.contains(&"policies/role.yaml:8:7 unknown-action".to_string()),
        "{p:?}"
    );
    assert_eq!(
        p.iter().filter(|l| l.contains("action")).count(),
        2,
        "{p:?}"
    );

    // String lengths.
    let long = RULE.replace(
        "frequency: PT1H",
        &format!("displayName: \"{}\"\nfrequency: PT1H", "x".repeat(1 << 20)),
    );
    let (_d, v) = run(&[("policies/rule.yaml", &long)]);
    assert!(
        places(&v).contains(&"policies/rule.yaml:3:14 too-long".to_string()),
        "{:?}",
        places(&v)
    );

    // A group included and excluded, directly and after variables.
    let av = "kind: AntivirusPolicy\nname: av\nsettings:\n  realTimeMonitoring: enabled\nassignments:\n  - group: Kiosks\n  - excludeGroup: kiosks\n";
    let (_d, v) = run(&[("policies/av.yaml", av)]);
    assert!(
        places(&v).contains(&"policies/av.yaml:7:19 included-and-excluded".to_string()),
        "{:?}",
        places(&v)
    );
    let av = "kind: AntivirusPolicy\nname: av\nsettings:\n  realTimeMonitoring: enabled\nassignments:\n  - group: Kiosks\n  - excludeGroup: \"${vars.kiosks}\"\n";
    let profile = PROFILE.replace("encoded-powershell", "av").replace(
        "    name: contoso\n",
        "    name: contoso\n    vars: { kiosks: Kiosks }\n",
    );
    let (_d, v) = run(&[("profiles/ring0.yaml", &profile), ("policies/av.yaml", av)]);
    assert!(
        places(&v).contains(&"policies/av.yaml:7:19 included-and-excluded".to_string()),
        "{:?}",
        places(&v)
    );
}

#[test]
fn one_error_of_each_kind_all_reported_in_one_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let profile = PROFILE.replace(
        "  - encoded-powershell\n",
        "  - encoded-powershell\n  - fw\n",
    );
    write(root, "profiles/ring0.yaml", &bom_crlf(&profile));
    // Identity variable + shape error + semantic error in one document.
    let rule = RULE
        .replace("name: encoded-powershell", "name: \"enc-${tenant.name}\"")
        .replace("severity: high", "severity: critical")
        .replace("tactic: Execution", "tactic: Exection");
    write(root, "policies/rule.yaml", &utf16le(&rule));
    write(
        root,
        "policies/bad.yaml",
        b"kind: DetectionRule\nname: caf\xe9\n",
    );
    let fw = "kind: FirewallPolicy\nname: fw\nrules:\n  - name: a\n    direction: in\n    action: block\n    protocol: 6\n    localPorts: [\"139-137\"]\n";
    write(root, "policies/fw.yaml", fw.as_bytes());
    write(
        root,
        "policies/tab.yaml",
        b"kind: AntivirusPolicy\nname: tab\nsettings:\n  a: 1\n\tb: 2\n",
    );
    let v = validate(root, &[]);
    let p = places(&v);
    for want in [
        "policies/rule.yaml:2:7 variable-in-identity",
        "policies/rule.yaml:10:13 ",
        "policies/rule.yaml:11:11 ",
        "policies/bad.yaml:2:10 invalid-encoding",
        "policies/fw.yaml:8:18 invalid-port",
        "policies/tab.yaml:5:1 yaml-tab",
    ] {
        assert!(
            p.iter()
                .any(|l| l.starts_with(want.trim_end()) && (want.ends_with(' ') || l == want)),
            "{want}: {p:?}"
        );
    }
}

#[test]
fn show_desired_json_is_camel_case() {
    let v = validate(&super::shipped::root(), &[]);
    assert!(!v.has_errors());
    fn walk(v: &serde_json::Value, path: &str, bad: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                for (k, x) in m {
                    // Keys that are data (object addresses, setting ids) are not names.
                    let is_data = k.contains('/')
                        || k.starts_with("device_vendor")
                        || k.starts_with("vendor_");
                    if k.contains('_') && !is_data {
                        bad.push(format!("{path}/{k}"));
                    }
                    walk(x, &format!("{path}/{k}"), bad);
                }
            }
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| walk(x, &format!("{path}/{i}"), bad)),
            _ => {}
        }
    }
    let mut bad = Vec::new();
    for t in v.tenants.values() {
        let j = serde_json::to_value(rampart::resolve::TenantView::new(t)).expect("json");
        walk(&j, "", &mut bad);
    }
    assert!(bad.is_empty(), "{bad:?}");
}

#[test]
fn tenants_add_writes_only_inside_the_repository() {
    use rampart::onboard::profile_edit::{AddError, NewTenant, add_to_repository};
    let outer = tempfile::tempdir().expect("temp dir");
    let root = outer.path().join("repo");
    for (path, text) in [
        ("profiles/ring0.yaml", PROFILE),
        ("policies/rule.yaml", RULE),
    ] {
        write(&root, path, text.as_bytes());
    }
    std::fs::write(outer.path().join("elsewhere.yaml"), PROFILE).expect("write");
    let tenant = NewTenant {
        id: "0b7e2d4c-1a3f-4c5e-8d9a-2b4c6e8f0a12".into(),
        name: "tailspin".into(),
        display_name: None,
        vars: Default::default(),
    };
    // `--profile ../elsewhere.yaml`, and a profile that is a symlink leading out.
    let mut cases = vec![root.join("../elsewhere.yaml")];
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(
            outer.path().join("elsewhere.yaml"),
            root.join("profiles/link.yaml"),
        )
        .expect("symlink");
        cases.push(root.join("profiles/link.yaml"));
    }
    for profile in cases {
        let err = add_to_repository(&root, &profile, None, &tenant).unwrap_err();
        assert!(
            matches!(
                err,
                AddError::File(rampart::repo_files::FileError::Outside { .. })
            ),
            "{}: {err}",
            profile.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(outer.path().join("elsewhere.yaml")).unwrap(),
        PROFILE
    );
    // Inside the repository, a CRLF profile (Windows) keeps its CRLF line ends.
    std::fs::remove_file(root.join("profiles/link.yaml")).ok();
    std::fs::write(
        root.join("profiles/ring0.yaml"),
        PROFILE.replace('\n', "\r\n"),
    )
    .expect("write");
    add_to_repository(&root, &root.join("profiles/ring0.yaml"), None, &tenant).expect("added");
    let text = std::fs::read_to_string(root.join("profiles/ring0.yaml")).unwrap();
    assert!(text.contains("tailspin"), "{text}");
    assert_eq!(
        text.matches('\n').count(),
        text.matches("\r\n").count(),
        "{text:?}"
    );
}
