//! Issue 15: progressive rollout end to end, the real binary against a served emulator with
//! three rings (pilot 2 tenants, early 5, broad 20). Time is fixed with `RAMPART_NOW` so
//! soak gates are crossed without sleeping. Each step checks its exit code: 0 in step or
//! promoted, 3 only pending (`plan --detailed-exitcode`), 2 drift, 4 held at a gate, 1
//! halted.

mod input;

use std::path::Path;

use serde_json::Value;

use crate::cli::{Emulator, run, stdout, text};

const T0: &str = "2026-11-30T08:00:00Z";
const T1: &str = "2026-12-01T09:00:00Z"; // T0 + 25h: pilot's 24h soak is over
const T2: &str = "2026-12-01T11:30:00Z"; // T1 + 2h30: early's 2h soak is over

const POLICY: &str = r#"kind: AntivirusPolicy
name: rollout-av
displayName: "Rollout - Defender Antivirus"
settings:
  realTimeMonitoring: enabled
  avgCpuLoadFactor: 50
assignments:
  - allDevices: true
  - excludeGroup: "${vars.excludeGroup}"
"#;

/// `00000000-0000-4000-8000-0000000000NN`.
fn tid(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

fn profile(name: &str, ring: u32, soak: Option<&str>, tenants: &[(String, String)]) -> String {
    let mut s = format!("kind: DistributionProfile\nname: {name}\nring: {ring}\n");
    if let Some(soak) = soak {
        s.push_str(&format!("soak: {soak}\n"));
    }
    s.push_str("vars:\n  excludeGroup: \"Kiosk Devices\"\ntenants:\n");
    for (id, n) in tenants {
        s.push_str(&format!("  - id: {id}\n    name: {n}\n"));
    }
    s.push_str("policies:\n  - rollout-av\n");
    s
}

/// The three rings: pilot (ring 0, soak 24h, p1..p2), early (ring 1, soak 2h, e1..e5),
/// broad (ring 2, b1..b20).
fn repo() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("policies")).unwrap();
    std::fs::create_dir_all(root.join("profiles")).unwrap();
    std::fs::write(root.join("policies/av.yaml"), POLICY).unwrap();
    let ring = |prefix: &str, first: usize, n: usize| -> Vec<(String, String)> {
        (0..n)
            .map(|i| (tid(first + i), format!("{prefix}{}", i + 1)))
            .collect()
    };
    std::fs::write(
        root.join("profiles/pilot.yaml"),
        profile("pilot", 0, Some("24h"), &ring("p", 1, 2)),
    )
    .unwrap();
    std::fs::write(
        root.join("profiles/early.yaml"),
        profile("early", 1, Some("2h"), &ring("e", 11, 5)),
    )
    .unwrap();
    std::fs::write(
        root.join("profiles/broad.yaml"),
        profile("broad", 2, None, &ring("b", 21, 20)),
    )
    .unwrap();
    dir
}

fn env(emu: &Emulator, now: &str) -> Vec<(String, String)> {
    let mut e = emu.env();
    e.push(("RAMPART_NOW".into(), now.into()));
    e.push(("GITHUB_SHA".into(), format!("commit-at-{now}")));
    e
}

fn rollout(root: &Path, emu: &Emulator, now: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["rollout", "--auto-approve", "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(root, &args, &env(emu, now));
    let code = o.status.code().unwrap_or(-1);
    let v = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", text(&o)));
    (code, v)
}

/// `plan --detailed-exitcode --format json`: the exit code and the plan's rollout view.
fn plan(root: &Path, emu: &Emulator, extra: &[&str]) -> (i32, Value) {
    let mut args = vec!["plan", "--detailed-exitcode", "--format", "json"];
    args.extend_from_slice(extra);
    let o = run(root, &args, &env(emu, T0));
    let code = o.status.code().unwrap_or(-1);
    let v: Value = serde_json::from_str(&stdout(&o)).unwrap_or_else(|_| panic!("{}", text(&o)));
    (code, v["rollout"].clone())
}

/// `[in step, pending, drifted, failed]` of one ring of a plan's rollout view.
fn counts(rollout: &Value, ring: u64) -> Vec<u64> {
    let r = rollout["rings"]
        .as_array()
        .expect("rings")
        .iter()
        .find(|r| r["ring"] == ring)
        .unwrap_or_else(|| panic!("ring {ring} in {rollout}"));
    r["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect()
}

fn outcomes(report: &Value) -> Vec<String> {
    report["rings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| format!("{}:{}", r["ring"], r["outcome"].as_str().unwrap()))
        .collect()
}

/// Raw HTTP to the emulator's admin API (no client library: the test must not depend on
/// the code under test to act on the emulator).
fn admin(base: &str, method: &str, path: &str, body: &str) -> String {
    use std::io::{Read as _, Write as _};
    let host = base.strip_prefix("http://").expect("http");
    let mut s = std::net::TcpStream::connect(host).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    String::from_utf8_lossy(&raw).to_string()
}

/// Writes to a tenant since the last `DELETE /_emulator/requests`.
fn writes_to(emu: &Emulator, tenant_id: &str) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r["tenant"] == tenant_id && crate::cli::is_write(r))
        .count()
}

/// The one managed policy's Graph id in a tenant, from the emulator's snapshot.
fn policy_id(emu: &Emulator, tenant_id: &str) -> String {
    let snap = admin(
        &emu.base,
        "GET",
        &format!("/_emulator/tenants/{tenant_id}"),
        "",
    );
    let body = snap.split_once("\r\n\r\n").expect("answer").1;
    // The body may be chunked: find the first policy id textually.
    let at = body.find("\"policies\"").expect("policies in snapshot");
    let rest = &body[at..];
    let q = rest.find('{').expect("map") + 1;
    let rest = &rest[q..];
    let start = rest.find('"').expect("key") + 1;
    let end = start + rest[start..].find('"').expect("key end");
    rest[start..end].to_string()
}

fn change_setting(root: &Path) {
    let p = root.join("policies/av.yaml");
    let text = std::fs::read_to_string(&p).unwrap();
    let changed = text.replace("avgCpuLoadFactor: 50", "avgCpuLoadFactor: 40");
    assert_ne!(text, changed);
    std::fs::write(p, changed).unwrap();
}

fn promotions(root: &Path) -> String {
    std::fs::read_to_string(root.join("rollout/promotions.yaml")).unwrap_or_default()
}

/// The first rollout of a fresh fleet, forced past the gates so that every ring has a
/// promotion record; then everything is in step.
fn baseline(root: &Path, emu: &Emulator) {
    let (code, report) = rollout(root, emu, T0, &["--force-promotion"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        ["0:promoted", "1:promoted", "2:promoted"]
    );
    let forced = report["rings"][1]["forced"][0].as_str().unwrap_or("");
    assert!(forced.contains("ring 0 is soaking"), "{report:#}");
    let (code, r) = plan(root, emu, &[]);
    assert_eq!(code, 0, "in step after the baseline: {r:#}");
    assert_eq!(counts(&r, 2), [20, 0, 0, 0]);
}

#[test]
fn issue15_pending_soak_promotion_and_drift_end_to_end() {
    let repo = repo();
    let root = repo.path();
    let emu = Emulator::start(root);
    baseline(root, &emu);
    let record = promotions(root);
    assert!(
        record.contains("commit-at-2026-11-30T08:00:00Z"),
        "{record}"
    );

    // A merged change is pending in every ring, not drift: exit 3.
    change_setting(root);
    let (code, r) = plan(root, &emu, &[]);
    assert_eq!(code, 3, "{r:#}");
    assert_eq!(counts(&r, 0), [0, 2, 0, 0]);
    assert_eq!(counts(&r, 1), [0, 5, 0, 0]);
    assert_eq!(counts(&r, 2), [0, 20, 0, 0]);
    assert_eq!(r["pending"].as_array().unwrap().len(), 27);
    // The human plan says so too, per ring.
    let o = run(root, &["plan", "--ring", "..1"], &env(&emu, T0));
    let human = stdout(&o);
    assert!(human.contains("ring 0 (promoted from commit-at-2026-11-30T08:00:00Z): 2 tenants, 0 in step, 2 pending, 0 drifted, 0 failed"), "{human}");
    assert!(
        !human.contains("ring 2"),
        "--ring ..1 leaves ring 2 out: {human}"
    );
    // Tenant blocks are grouped under their ring's heading.
    let (r0, r1) = (
        human.find("── ring 0 ──").unwrap(),
        human.find("── ring 1 ──").unwrap(),
    );
    let (p2, e1) = (human.find("p2 (").unwrap(), human.find("e1 (").unwrap());
    assert!(r0 < p2 && p2 < r1 && r1 < e1, "{human}");

    // The Markdown plan has the per-ring table; the fleet report shows pending cells.
    let o = run(root, &["plan", "--format", "markdown"], &env(&emu, T0));
    let md = stdout(&o);
    assert!(
        md.contains(
            "| ring 2 (promoted from commit-at-2026-11-30T08:00:00Z) | 20 | 0 | 20 | 0 | 0 |"
        ),
        "{md}"
    );
    assert!(md.contains("27 changes are pending promotion"), "{md}");
    let html = report_cells(root, &emu);
    assert_eq!((html.0, html.1), (27, 0), "pending, drift cells");

    // Rollout: ring 0 is promoted, ring 1 waits for ring 0's soak (24h), ring 2 untouched.
    admin(&emu.base, "DELETE", "/_emulator/requests", "");
    let (code, report) = rollout(root, &emu, T0, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert_eq!(outcomes(&report), ["0:promoted", "1:held"]);
    assert_eq!(report["stoppedAt"], 1);
    assert_eq!(report["untouched"], serde_json::json!([2]));
    let why = report["rings"][1]["refusals"][0].as_str().unwrap();
    assert!(
        why.contains("ring 0 is soaking: 1d of its 1d soak remain"),
        "{why}"
    );
    assert!(writes_to(&emu, &tid(1)) > 0);
    assert_eq!(writes_to(&emu, &tid(11)), 0, "ring 1 held: nothing written");
    assert_eq!(writes_to(&emu, &tid(21)), 0, "ring 2 untouched");
    let (code, r) = plan(root, &emu, &[]);
    assert_eq!(code, 3);
    assert_eq!(counts(&r, 0), [2, 0, 0, 0]);
    assert_eq!(counts(&r, 1), [0, 5, 0, 0]);

    // `apply --ring 2` skips no gate: ring 1 is not in step, by name.
    let o = run(
        root,
        &["apply", "--ring", "2", "--auto-approve", "--format", "json"],
        &env(&emu, T1),
    );
    assert_eq!(o.status.code(), Some(4), "{}", text(&o));
    let report: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let why = report["rings"][0]["refusals"].to_string();
    assert!(
        why.contains("ring 1 is not in step: e1, e2, e3, e4, e5"),
        "{why}"
    );

    // After the soak: ring 1 promoted (`--ring 1`: up to ring 1, then done: exit 0)...
    let (code, report) = rollout(root, &emu, T1, &["--ring", "1"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(outcomes(&report), ["0:already-promoted", "1:promoted"]);
    // ...and ring 2 waits for ring 1's 2h soak.
    let (code, report) = rollout(root, &emu, T1, &[]);
    assert_eq!(code, 4, "{report:#}");
    assert_eq!(
        outcomes(&report),
        ["0:already-promoted", "1:already-promoted", "2:held"]
    );
    assert!(
        report["rings"][2]["refusals"][0]
            .as_str()
            .unwrap()
            .contains("ring 1 is soaking: 2h of its 2h soak remain")
    );
    // ...and then ring 2.
    let (code, report) = rollout(root, &emu, T2, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        outcomes(&report),
        ["0:already-promoted", "1:already-promoted", "2:promoted"]
    );
    let (code, r) = plan(root, &emu, &[]);
    assert_eq!(code, 0, "{r:#}");

    // A portal edit in ring 2 is drift, not pending: exit 2.
    let b3 = tid(23);
    let id = policy_id(&emu, &b3);
    let answer = admin(
        &emu.base,
        "POST",
        &format!("/_emulator/tenants/{b3}/configurationPolicies/{id}/edit"),
        r#"{"name": "Rollout - edited in the portal"}"#,
    );
    assert!(answer.starts_with("HTTP/1.1 204"), "{answer}");
    let (code, r) = plan(root, &emu, &[]);
    assert_eq!(code, 2, "{r:#}");
    assert_eq!(counts(&r, 2), [19, 0, 1, 0]);
    assert!(
        r["pending"].as_array().is_none_or(|p| p.is_empty()),
        "{r:#}"
    );
    let b3_state = r["rings"][2]["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tenant"] == "b3")
        .unwrap()["state"]
        .clone();
    assert_eq!(b3_state, "drifted");
    assert_eq!(report_cells(root, &emu), (0, 1), "pending, drift cells");
}

/// `rampart report`: how many matrix cells are pending and how many drift.
fn report_cells(root: &Path, emu: &Emulator) -> (usize, usize) {
    let o = run(root, &["report", "-o", "fleet.html"], &env(emu, T0));
    assert!(root.join("fleet.html").exists(), "{}", text(&o));
    let html = std::fs::read_to_string(root.join("fleet.html")).unwrap();
    (
        html.matches("td class=\"s-pending\"").count(),
        html.matches("td class=\"s-drift\"").count(),
    )
}

#[test]
fn issue15_a_failure_in_ring_1_halts_with_ring_2_untouched() {
    let repo = repo();
    let root = repo.path();
    let emu = Emulator::start(root);
    baseline(root, &emu);
    change_setting(root);
    // The failure: e3's exclusion group does not exist in its tenant.
    let early = root.join("profiles/early.yaml");
    let text = std::fs::read_to_string(&early).unwrap();
    let e3 = format!("  - id: {}\n    name: e3\n", tid(13));
    assert!(text.contains(&e3));
    std::fs::write(
        &early,
        text.replace(
            &e3,
            &format!("{e3}    vars:\n      excludeGroup: \"No Such Group\"\n"),
        ),
    )
    .unwrap();
    let (code, report) = rollout(root, &emu, T0, &[]);
    assert_eq!(
        (code, outcomes(&report)),
        (4, vec!["0:promoted".to_string(), "1:held".to_string()])
    );
    let before = promotions(root);
    admin(&emu.base, "DELETE", "/_emulator/requests", "");
    let (code, report) = rollout(root, &emu, T1, &[]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(outcomes(&report), ["0:already-promoted", "1:halted"]);
    assert_eq!(
        report["rings"][1]["failedTenants"],
        serde_json::json!(["e3"])
    );
    assert_eq!(report["untouched"], serde_json::json!([2]));
    for n in 21..41 {
        assert_eq!(writes_to(&emu, &tid(n)), 0, "ring 2 untouched");
    }
    assert_eq!(promotions(root), before, "a halted ring is not recorded");
    let (code, r) = plan(root, &emu, &[]);
    assert_eq!(code, 1, "e3 is in error: {r:#}");
    assert_eq!(counts(&r, 1), [4, 0, 0, 1]);
    assert_eq!(counts(&r, 2), [0, 20, 0, 0]);

    // A ring may tolerate it: ring 1 is promoted with e3 named, then ring 2 soaks.
    let (code, report) = rollout(root, &emu, T1, &["--max-failed-tenants", "1"]);
    assert_eq!(code, 4, "{report:#}");
    assert_eq!(
        outcomes(&report),
        ["0:already-promoted", "1:promoted", "2:held"]
    );
    assert_eq!(
        report["rings"][1]["failedTenants"],
        serde_json::json!(["e3"])
    );
}

/// The shipped rollout workflow's commands (`examples/github-actions/rollout.yml`), in its
/// order: ring 0 promoted (0), ring 1 held by ring 0's soak (4, which the job treats as a
/// wait), and, an hour's run later past the soak, ring 1 promoted.
#[test]
fn issue15_the_shipped_rollout_workflow_promotes_ring_by_ring() {
    const WORKFLOW: &str = include_str!("../../examples/github-actions/rollout.yml");
    let commands: Vec<Vec<String>> = WORKFLOW
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("rampart "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .take_while(|w| !matches!(*w, ">" | "|" | "||" | ";" | "&&"))
                .map(str::to_string)
                .collect()
        })
        .collect();
    assert_eq!(commands.len(), 3, "{commands:?}");
    let repo = repo();
    let root = repo.path();
    let emu = Emulator::start(root);
    let code = |i: usize, now: &str| {
        let args: Vec<&str> = commands[i].iter().map(String::as_str).collect();
        let o = run(root, &args, &env(&emu, now));
        (o.status.code(), text(&o))
    };
    let (c, t) = code(0, T0);
    assert_eq!(c, Some(0), "{t}");
    assert!(
        promotions(root).contains("ring: 0"),
        "the job commits the record"
    );
    let (c, t) = code(1, T0);
    assert_eq!(c, Some(4), "{t}");
    assert!(t.contains("ring 0 is soaking"), "{t}");
    let (c, t) = code(1, T1);
    assert_eq!(c, Some(0), "{t}");
    assert!(root.join("ring-1.json").exists(), "--report written");
}
