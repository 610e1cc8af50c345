//! Fleet security commands end to end through the real `rampart` binary against an
//! emulator served in-process with 20 tenants (the seeded incidents, alerts and hunting
//! tables are deterministic from each tenant id, so the tests count exactly). Tenant
//! `t07` lacks `ThreatHunting.Read.All`. Asserts exit codes, stdout/stderr and the
//! emulator's request counters; never timing.

mod saved;

use std::path::Path;
use std::process::Output;

use serde_json::Value;

use rampart_emulator::surfaces::security::seed as soc_seed;
use rampart_emulator::{
    self as emulator, AppSeed, EmulatorConfig, FaultConfig, RunningEmulator, TenantSeed,
};

const APP: &str = "7e57a990-0000-4000-8000-0000000000c3";
const SECRET: &str = "Soc-e2e-S3CRET-never-print-77aa";
const NO_HUNTING: &str = "t07";

fn tenant_id(i: usize) -> String {
    format!("22222222-2222-4222-8222-2222222222{i:02}")
}

struct World {
    repo: tempfile::TempDir,
    emu: RunningEmulator,
}

impl World {
    async fn start() -> World {
        let emu = emulator::start(EmulatorConfig {
            faults: FaultConfig::none(),
            ..EmulatorConfig::default()
        })
        .await
        .expect("emulator");
        let admin = emu.admin();
        admin
            .add_app(&AppSeed {
                app_id: APP.into(),
                display_name: "soc e2e".into(),
                secrets: vec![SECRET.into()],
                ..AppSeed::default()
            })
            .expect("app");
        let mut tenants = String::new();
        for i in 1..=20 {
            let name = format!("t{i:02}");
            let roles: Vec<String> = emulator::ALL_ROLES
                .iter()
                .filter(|r| name != NO_HUNTING || **r != "ThreatHunting.Read.All")
                .map(|r| r.to_string())
                .collect();
            admin
                .add_tenant(&TenantSeed {
                    id: tenant_id(i),
                    display_name: format!("{name} Ltd"),
                    consents: [(APP.to_string(), roles)].into(),
                    ..TenantSeed::default()
                })
                .expect("tenant");
            tenants.push_str(&format!("  - id: {}\n    name: {name}\n", tenant_id(i)));
        }
        let repo = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(repo.path().join("profiles")).expect("mkdir");
        std::fs::write(
            repo.path().join("profiles/fleet.yaml"),
            format!("kind: DistributionProfile\nname: fleet\ndescription: \"SOC test fleet\"\nring: 0\ntenants:\n{tenants}policies: []\n"),
        )
        .expect("profile");
        World { repo, emu }
    }

    fn root(&self) -> &Path {
        self.repo.path()
    }

    async fn run(&self, args: &[&str]) -> Output {
        let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        all.extend([
            "--root".into(),
            self.root().display().to_string(),
            "--graph-url".into(),
            self.emu.graph_url(),
            "--login-url".into(),
            self.emu.login_url(),
            "--auth".into(),
            "secret".into(),
        ]);
        let out = tokio::task::spawn_blocking(move || {
            let mut cmd = assert_cmd::Command::cargo_bin("rampart").expect("binary");
            for (k, _) in std::env::vars() {
                if k.starts_with("AZURE_")
                    || k.starts_with("RAMPART_")
                    || k.starts_with("ACTIONS_ID_TOKEN")
                    || k == "IDENTITY_ENDPOINT"
                {
                    cmd.env_remove(k);
                }
            }
            cmd.env("AZURE_CLIENT_ID", APP)
                .env("AZURE_CLIENT_SECRET", SECRET)
                .env("NO_COLOR", "1")
                .args(&all)
                .output()
                .expect("run")
        })
        .await
        .expect("join");
        for s in [&out.stdout, &out.stderr] {
            let t = String::from_utf8_lossy(s);
            assert!(
                !t.contains(SECRET) && !t.contains("eyJ"),
                "a secret or token reached the output"
            );
        }
        out
    }

    fn graph_calls(&self, method: &str, route: &str) -> u64 {
        let c = self.emu.admin().counters();
        (1..=20)
            .map(|i| c.count(&tenant_id(i), method, route))
            .sum()
    }
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn jsonl(o: &Output) -> Vec<Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

const ROLLUP: &str = r#"DeviceInfo | summarize arg_max(Timestamp, OnboardingStatus) by DeviceId | summarize Devices = count(), Onboarded = countif(OnboardingStatus == "Onboarded")"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hunt_rollup_gives_one_row_per_tenant_and_reports_the_tenant_without_permission() {
    let w = World::start().await;
    let csv = w
        .run(&["hunt", ROLLUP, "--format", "csv", "--timespan", "P7D"])
        .await;
    assert_eq!(
        csv.status.code(),
        Some(1),
        "one tenant failed: {}",
        stderr(&csv)
    );
    let text = stdout(&csv);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "Tenant,TenantId,Devices,Onboarded");
    assert_eq!(lines.len(), 1 + 19, "{text}");
    assert!(lines[1].starts_with(&format!("t01,{},", tenant_id(1))));
    assert!(!text.contains(NO_HUNTING));
    let err = stderr(&csv);
    assert!(
        err.contains(&format!("{NO_HUNTING} ({})", tenant_id(7))),
        "{err}"
    );
    assert!(err.contains("ThreatHunting.Read.All"), "{err}");

    let rows = jsonl(&w.run(&["hunt", ROLLUP, "--format", "jsonl"]).await);
    assert_eq!(rows.len(), 19);
    let tenants: Vec<&str> = rows.iter().map(|r| r["Tenant"].as_str().unwrap()).collect();
    let mut sorted = tenants.clone();
    sorted.sort();
    assert_eq!(tenants, sorted, "rows come in tenant order");
    for r in &rows {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["Tenant", "TenantId", "Devices", "Onboarded"]);
        assert!(r["Devices"].as_u64().unwrap() >= r["Onboarded"].as_u64().unwrap());
    }
    // Every tenant was asked exactly once (the 20th answered 403).
    assert_eq!(w.graph_calls("POST", "v1.0/security/runHuntingQuery"), 40);

    // Selecting only permitted tenants: exit 0.
    let ok = w
        .run(&[
            "hunt", ROLLUP, "--tenant", "t01", "--tenant", "t02", "--format", "json",
        ])
        .await;
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let doc: Value = serde_json::from_str(&stdout(&ok)).unwrap();
    assert_eq!(doc["rows"].as_array().unwrap().len(), 2);
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_hunting_input_is_refused_before_any_call() {
    let w = World::start().await;
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("q.kql"), "DeviceInfo | count").unwrap();
    std::fs::write(w.root().join("empty.kql"), "// nothing yet\n").unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["hunt".into(), "  // only a comment".into()],
        vec![
            "hunt".into(),
            "--file".into(),
            outside.path().join("q.kql").display().to_string(),
        ],
        vec!["hunt".into(), "--file".into(), "empty.kql".into()],
        vec!["hunt".into(), "--saved".into(), "nope".into()],
        vec!["incidents".into(), "--status".into(), "open".into()],
        vec![
            "incidents".into(),
            "update".into(),
            "--match-severity".into(),
            "high".into(),
            "--classification".into(),
            "falsePositive".into(),
            "--determination".into(),
            "malware".into(),
            "--auto-approve".into(),
        ],
    ];
    for c in cases {
        let args: Vec<&str> = c.iter().map(String::as_str).collect();
        let o = w.run(&args).await;
        assert_eq!(o.status.code(), Some(1), "{c:?}");
        assert!(stderr(&o).starts_with("error:"), "{c:?}: {}", stderr(&o));
    }
    assert_eq!(w.emu.admin().counters().total, 0, "no Graph call was made");
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_high_incidents_are_listed_across_tenants_in_order() {
    let w = World::start().await;
    let o = w
        .run(&[
            "incidents",
            "--status",
            "active",
            "--severity",
            "high",
            "--format",
            "jsonl",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = jsonl(&o);
    let expected: usize = (1..=20)
        .map(|i| {
            soc_seed(&tenant_id(i))
                .incidents
                .values()
                .filter(|v| v["status"] == "active" && v["severity"] == "high")
                .count()
        })
        .sum();
    assert_eq!(rows.len(), expected);
    assert!(
        rows.iter()
            .all(|r| r["Status"] == "active" && r["Severity"] == "high")
    );
    let times: Vec<&str> = rows
        .iter()
        .map(|r| r["LastUpdate"].as_str().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|p| p[0] >= p[1]),
        "newest first across tenants"
    );
    let tenants: std::collections::BTreeSet<&str> =
        rows.iter().map(|r| r["Tenant"].as_str().unwrap()).collect();
    assert!(tenants.len() > 5, "several tenants answered");
    let md = w
        .run(&[
            "incidents",
            "--status",
            "active",
            "--severity",
            "high",
            "--with-alerts",
            "--format",
            "markdown",
        ])
        .await;
    assert!(
        stdout(&md).starts_with("| Tenant | TenantId | Id |"),
        "{}",
        stdout(&md)
    );
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_update_writes_exactly_the_chosen_incidents() {
    let w = World::start().await;
    let mut ids = Vec::new();
    for i in [2, 4, 6, 9, 13, 18] {
        for id in soc_seed(&tenant_id(i)).incidents.keys().take(5) {
            ids.push(format!("t{i:02}/{id}"));
        }
    }
    assert_eq!(ids.len(), 30);
    let mut args = vec![
        "incidents",
        "update",
        "--status",
        "inProgress",
        "--assign-to",
        "tier2@mssp.example",
    ];
    for id in &ids {
        args.push("--id");
        args.push(id);
    }
    // Without a terminal and without --auto-approve: refused, nothing written.
    let refused = w.run(&args).await;
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr(&refused).contains("--auto-approve"));
    // An id outside the selected tenants: refused before any write.
    let mut unknown = args.clone();
    unknown.extend(["--id", "t03/999999", "--auto-approve"]);
    let o = w.run(&unknown).await;
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("`t03/999999` is not an id in the selected tenants"),
        "{}",
        stderr(&o)
    );
    assert_eq!(w.graph_calls("PATCH", "v1.0/security/incidents/{id}"), 0);

    args.push("--auto-approve");
    let o = w.run(&args).await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("30 incident(s) to update in 6 tenant(s)."),
        "{out}"
    );
    assert!(out.contains("Updated 30 incident(s); 0 failed."), "{out}");
    assert_eq!(w.graph_calls("PATCH", "v1.0/security/incidents/{id}"), 30);
    for i in [2, 4, 6, 9, 13, 18] {
        assert_eq!(
            w.emu
                .admin()
                .counters()
                .count(&tenant_id(i), "PATCH", "v1.0/security/incidents/{id}"),
            5
        );
    }
    // Running it again changes nothing and writes nothing.
    let again = w.run(&args).await;
    assert!(
        stdout(&again).contains("Nothing to change"),
        "{}",
        stdout(&again)
    );
    assert_eq!(w.graph_calls("PATCH", "v1.0/security/incidents/{id}"), 30);
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vulnerabilities_show_the_top_cves_across_the_fleet() {
    let w = World::start().await;
    let o = w
        .run(&[
            "vulnerabilities",
            "--format",
            "json",
            "--top",
            "5",
            "--profile",
            "fleet",
        ])
        .await;
    assert_eq!(o.status.code(), Some(1), "t07 cannot hunt: {}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let top = doc["topCves"]["rows"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    let devices: Vec<u64> = top.iter().map(|r| r["Devices"].as_u64().unwrap()).collect();
    assert!(devices.windows(2).all(|p| p[0] >= p[1]), "{devices:?}");
    assert!(
        top.iter()
            .all(|r| r["CveId"].as_str().unwrap().starts_with("CVE-"))
    );
    assert!(top[0]["Tenants"].as_u64().unwrap() > 1);
    assert_eq!(doc["perTenant"]["rows"].as_array().unwrap().len(), 19);
    assert_eq!(
        doc["perTenant"]["failures"][0]["missingPermission"],
        "ThreatHunting.Read.All"
    );
    let d = w
        .run(&["devices", "--format", "jsonl", "--tenant", "t01"])
        .await;
    assert_eq!(d.status.code(), Some(0), "{}", stderr(&d));
    assert_eq!(jsonl(&d).len(), 1);
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_verify_for_soc_names_the_missing_hunting_permission() {
    let w = World::start().await;
    let o = w
        .run(&[
            "tenants", "verify", "--for", "soc", "--tenant", "t06", "--tenant", "t07", "--format",
            "json",
        ])
        .await;
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let by_name = |n: &str| {
        doc["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["tenant"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(by_name("t06")["ok"], true, "{doc}");
    assert_eq!(
        by_name("t07")["missingPermissions"],
        serde_json::json!(["ThreatHunting.Read.All"])
    );
    // Incidents and alerts are probed with a one-item read; hunting is not (it would run a query).
    assert_eq!(w.graph_calls("GET", "v1.0/security/incidents"), 2);
    assert_eq!(w.graph_calls("POST", "v1.0/security/runHuntingQuery"), 0);
    let v = rampart::resolve::validate(w.root(), &[]);
    let t01 = v.tenants.values().next().unwrap();
    let needs =
        rampart::onboard::permissions::needs(t01, rampart::onboard::permissions::Purpose::Soc);
    let roles: Vec<String> = rampart::onboard::permissions::requirements(&needs)
        .into_iter()
        .map(|r| r.permission)
        .collect();
    assert_eq!(
        roles,
        [
            "SecurityAlert.ReadWrite.All",
            "SecurityIncident.ReadWrite.All",
            "ThreatHunting.Read.All"
        ]
    );
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_hunts_and_query_files_run_and_keep_their_columns() {
    let w = World::start().await;
    std::fs::create_dir_all(w.root().join("hunts/kql")).unwrap();
    std::fs::write(
        w.root().join("hunts/kql/exposure.kql"),
        "// Devices by exposure\nDeviceInfo | summarize Devices = count(), Internet = countif(IsInternetFacing == true) by ExposureLevel\n",
    )
    .unwrap();
    std::fs::write(
        w.root().join("hunts/exposure.yaml"),
        "kind: HuntingQuery\nname: exposure\ndescription: Devices per exposure level\nqueryFile: kql/exposure.kql\ncolumns: [ExposureLevel, Devices]\n",
    )
    .unwrap();
    let o = w
        .run(&[
            "hunt", "--saved", "exposure", "--tenant", "t01", "--format", "jsonl",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let rows = jsonl(&o);
    assert!(!rows.is_empty());
    for r in &rows {
        let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["Tenant", "TenantId", "ExposureLevel", "Devices"],
            "the saved columns, in their order"
        );
    }
    let f = w
        .run(&[
            "hunt",
            "--file",
            "hunts/kql/exposure.kql",
            "--tenant",
            "t01",
            "--format",
            "csv",
        ])
        .await;
    assert_eq!(f.status.code(), Some(0), "{}", stderr(&f));
    assert!(stdout(&f).starts_with("Tenant,TenantId,ExposureLevel,Devices,Internet\r\n"));
    // A broken saved hunt is reported with its location, before any call.
    std::fs::write(
        w.root().join("hunts/broken.yaml"),
        "kind: HuntingQuery\nname: broken\nquery: \"  \"\n",
    )
    .unwrap();
    let calls = w.emu.admin().counters().total;
    let b = w.run(&["hunt", "--saved", "exposure"]).await;
    assert_eq!(b.status.code(), Some(1));
    assert!(
        stderr(&b).contains("hunts/broken.yaml:3:"),
        "{}",
        stderr(&b)
    );
    assert_eq!(w.emu.admin().counters().total, calls);
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alert_updates_and_comments_write_once_per_item() {
    let w = World::start().await;
    let store = soc_seed(&tenant_id(3));
    let aid = store.alerts.keys().next().unwrap().clone();
    let target = format!("t03/{aid}");
    let o = w
        .run(&[
            "alerts",
            "update",
            "--id",
            &target,
            "--status",
            "resolved",
            "--classification",
            "informationalExpectedActivity",
            "--determination",
            "securityTesting",
            "--comment",
            "Red team exercise",
            "--auto-approve",
        ])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("Updated 1 alert(s); 0 failed."),
        "{}",
        stdout(&o)
    );
    let c = w.emu.admin().counters();
    assert_eq!(
        c.count(&tenant_id(3), "PATCH", "v1.0/security/alerts_v2/{id}"),
        1
    );
    assert_eq!(
        c.count(
            &tenant_id(3),
            "POST",
            "v1.0/security/alerts_v2/{id}/comments"
        ),
        1
    );
    let listed = jsonl(
        &w.run(&[
            "alerts", "--tenant", "t03", "--status", "resolved", "--format", "jsonl",
        ])
        .await,
    );
    let row = listed
        .iter()
        .find(|r| r["Id"] == aid.as_str())
        .expect("the alert is listed as resolved");
    assert_eq!(row["Classification"], "informationalExpectedActivity");
    // Tags are an incident field: refused for alerts before any call.
    let before = w.emu.admin().counters().total;
    let t = w
        .run(&[
            "alerts",
            "update",
            "--id",
            &target,
            "--tags",
            "x",
            "--auto-approve",
        ])
        .await;
    assert_eq!(t.status.code(), Some(1));
    assert_eq!(w.emu.admin().counters().total, before);
    w.emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_that_cannot_be_read_is_reported_and_the_others_are_updated() {
    let w = World::start().await;
    // t05 keeps only the hunting role: it can neither list nor update incidents.
    w.emu.admin().revoke(&tenant_id(5), APP).unwrap();
    w.emu
        .admin()
        .consent(&tenant_id(5), APP, &["ThreatHunting.Read.All"])
        .unwrap();
    let selection = ["--tenant", "t04", "--tenant", "t05", "--tenant", "t06"];
    let expected: usize = [4, 6]
        .iter()
        .map(|i| {
            soc_seed(&tenant_id(*i))
                .incidents
                .values()
                .filter(|v| v["severity"] == "low")
                .count()
        })
        .sum();
    let mut args = vec![
        "incidents",
        "update",
        "--match-severity",
        "low",
        "--assign-to",
        "night-shift@mssp.example",
        "--auto-approve",
    ];
    args.extend(selection);
    let o = w.run(&args).await;
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("cannot read t05 ({})", tenant_id(5))),
        "{err}"
    );
    assert!(err.contains("SecurityIncident.Read.All"), "{err}");
    assert!(
        stdout(&o).contains(&format!("Updated {expected} incident(s); 0 failed.")),
        "{}",
        stdout(&o)
    );
    assert_eq!(
        w.graph_calls("PATCH", "v1.0/security/incidents/{id}") as usize,
        expected
    );
    assert_eq!(
        w.emu
            .admin()
            .counters()
            .count(&tenant_id(5), "PATCH", "v1.0/security/incidents/{id}"),
        0
    );
    w.emu.shutdown().await;
}

#[test]
fn shipped_saved_hunts_load_and_parse_in_the_emulator_subset() {
    let here = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let hunts = rampart::soc::hunt::load_saved(&here).expect("the shipped hunts validate");
    let names: Vec<&str> = hunts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["device-rollup", "critical-cves"]);
    for h in &hunts {
        rampart_emulator::surfaces::kql::Query::parse(&h.query)
            .unwrap_or_else(|e| panic!("{}: {e}", h.name));
    }
}
