//! End to end through the real `rampart` binary: `rampart plan` against an emulator served
//! in-process by the test (on a multi-thread runtime that keeps serving while the binary
//! runs in `spawn_blocking`), with a temporary repository holding the shipped `policies/`
//! and a test profile of five tenants. The binary signs in with `--auth secret` and the
//! standard `AZURE_CLIENT_ID` / `AZURE_CLIENT_SECRET` variables, exactly as in a pipeline.
//!
//! Asserts exit codes, stdout, the saved plan and the emulator's counters; never timing.
//! Every run also checks that neither the client secret nor any access token (`eyJ...`)
//! reaches stdout, stderr or the plan file.
//!
//! Limits: what the library-level tests in `e2e.rs` prove (answer order, round trips per
//! tenant, the demo's four tenant states) is not repeated here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use serde_json::{Value, json};

use rampart::apply::{ApplyOptions, EmulatedFleet};
use rampart::desired::TenantDesired;
use rampart_emulator::{self as emulator, AppSeed, FaultConfig};

/// The app the binary signs in as (distinct from the fleet's own app, which the test uses
/// to bring tenants in step through the library).
const CLI_APP_ID: &str = "7e57a990-0000-4000-8000-0000000000b2";
/// A distinctive secret: it must never appear in any output.
const CLI_SECRET: &str = "Zq9-e2e-S3CRET-never-print-4f1d";
/// The emulator's tokens are JWTs: a JSON header base64-encoded starts with this.
const TOKEN_PREFIX: &str = "eyJ";

const TENANTS: [(&str, &str); 5] = [
    ("alpha", "11111111-1111-4111-8111-111111111101"),
    ("bravo", "11111111-1111-4111-8111-111111111102"),
    ("charlie", "11111111-1111-4111-8111-111111111103"),
    ("delta", "11111111-1111-4111-8111-111111111104"),
    ("echo", "11111111-1111-4111-8111-111111111105"),
];

/// The test profile: one ring-0 profile naming the five test tenants, with every shipped
/// policy; `tenant_var` gives one tenant its own value of one variable.
fn profile_text(tenant_var: Option<(&str, &str, &str)>) -> String {
    let mut tenants = String::new();
    for (name, id) in TENANTS {
        tenants.push_str(&format!(
            "  - id: {id}\n    name: {name}\n    displayName: \"{name} Ltd\"\n"
        ));
        if let Some((t, var, value)) = tenant_var
            && t == name
        {
            tenants.push_str(&format!("    vars:\n      {var}: \"{value}\"\n"));
        }
    }
    format!(
        r#"kind: DistributionProfile
name: e2e-ring
description: "End-to-end test ring: every shipped policy."
ring: 0
allowRemoval: true
vars:
  socGroup: "MSSP SOC Tier 1"
  kioskGroup: "Kiosk Devices"
  rmmAgentPath: "MSSP\\Agent\\agent.exe"
  backupAgentDir: "Veeam"
tenants:
{tenants}policies:
  - baseline-antivirus
  - baseline-firewall
  - baseline-firewall-rules
  - asr-block
  - {{ kind: DetectionRule }}
  - {{ label: soc }}
"#
    )
}

const PROFILE: &str = "profiles/e2e-ring.yaml";

/// A temporary repository: the shipped `policies/` and the test profile.
fn temp_repo() -> tempfile::TempDir {
    let dir = crate::support::shipped_copy(&["policies"]);
    std::fs::create_dir_all(dir.path().join("profiles")).expect("mkdir profiles");
    std::fs::write(dir.path().join(PROFILE), profile_text(None)).expect("profile");
    dir
}

/// The temporary repository's desired states, as the binary will resolve them.
fn desired_of(root: &Path) -> Vec<TenantDesired> {
    let v = rampart::resolve::validate(root, &[]);
    assert!(
        !v.has_errors(),
        "the test repository validates: {:#?}",
        v.diagnostics
    );
    let mut all: Vec<TenantDesired> = v.tenants.values().cloned().collect();
    all.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    assert_eq!(all.len(), TENANTS.len());
    assert!(all.iter().all(|d| !d.objects.is_empty()));
    all
}

/// A repository and an emulator holding its five tenants (empty, every group present), the
/// binary's app consented with every role in each.
struct World {
    repo: tempfile::TempDir,
    fleet: EmulatedFleet,
}

impl World {
    async fn start(faults: FaultConfig, seed: u64) -> World {
        let repo = temp_repo();
        let desired = desired_of(repo.path());
        let fleet = EmulatedFleet::start(desired, faults, seed, |_| None)
            .await
            .expect("fleet");
        let admin = fleet.emulator.admin();
        admin
            .add_app(&AppSeed {
                app_id: CLI_APP_ID.into(),
                display_name: "rampart e2e cli".into(),
                secrets: vec![CLI_SECRET.into()],
                ..AppSeed::default()
            })
            .expect("app");
        for (_, id) in TENANTS {
            admin
                .consent(id, CLI_APP_ID, emulator::ALL_ROLES)
                .expect("consent");
        }
        World { repo, fleet }
    }

    fn admin(&self) -> &emulator::Emulator {
        self.fleet.emulator.admin()
    }

    /// Brings every tenant in step through the library (plan, then apply).
    async fn apply_all(&self) {
        let plan = self.fleet.plan(5).await.expect("plan");
        assert!(!plan.errored, "library plan before apply");
        let report = self
            .fleet
            .apply(
                &plan,
                &ApplyOptions {
                    parallelism: 5,
                    ..ApplyOptions::default()
                },
            )
            .await
            .expect("apply");
        assert!(report.success, "library apply succeeds");
    }

    /// Runs `rampart plan` with `extra` arguments; the plan is saved to `out` inside the
    /// repository. Checks that no secret or token reached any output.
    async fn plan(&self, extra: &[&str], out: &str) -> Run {
        let root = self.repo.path().to_path_buf();
        let url = self.fleet.emulator.graph_url();
        let login = self.fleet.emulator.login_url();
        let out_path = root.join(out);
        let mut args: Vec<String> = vec![
            "plan".into(),
            "--root".into(),
            root.display().to_string(),
            "--graph-url".into(),
            url,
            "--login-url".into(),
            login,
            "--auth".into(),
            "secret".into(),
            "--out".into(),
            out_path.display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let output = tokio::task::spawn_blocking(move || {
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
            cmd.env("AZURE_CLIENT_ID", CLI_APP_ID)
                .env("AZURE_CLIENT_SECRET", CLI_SECRET)
                .env("NO_COLOR", "1")
                .args(&args)
                .output()
                .expect("run rampart")
        })
        .await
        .expect("join");
        let plan_file = std::fs::read(&out_path).ok();
        let run = Run { output, plan_file };
        run.assert_no_secrets();
        run
    }
}

struct Run {
    output: Output,
    plan_file: Option<Vec<u8>>,
}

impl Run {
    fn code(&self) -> i32 {
        self.output.status.code().expect("exit code")
    }
    fn stdout(&self) -> String {
        String::from_utf8(self.output.stdout.clone()).expect("utf8 stdout")
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    fn plan_bytes(&self) -> &[u8] {
        self.plan_file
            .as_deref()
            .expect("the plan file was written")
    }
    fn plan_json(&self) -> Value {
        serde_json::from_slice(self.plan_bytes()).expect("the plan file is JSON")
    }
    /// Everything this run wrote, for messages.
    fn describe(&self) -> String {
        format!(
            "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.output.status.code(),
            self.stdout(),
            self.stderr()
        )
    }
    fn assert_no_secrets(&self) {
        let plan = self
            .plan_file
            .as_deref()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .unwrap_or_default();
        for (what, text) in [
            (
                "stdout",
                String::from_utf8_lossy(&self.output.stdout).into_owned(),
            ),
            ("stderr", self.stderr()),
            ("plan file", plan),
        ] {
            assert!(
                !text.contains(CLI_SECRET),
                "the client secret reached {what}"
            );
            assert!(
                !text.contains(TOKEN_PREFIX),
                "an access token reached {what}"
            );
        }
    }
}

/// Every object address of a tenant in a saved plan (`tenant/Kind/name`), by tenant name.
fn tenants_of(plan: &Value) -> BTreeMap<String, &Value> {
    plan["tenants"]
        .as_array()
        .expect("tenants array")
        .iter()
        .map(|t| (t["tenant"].as_str().expect("tenant name").to_string(), t))
        .collect()
}

fn summary_line(stdout: &str) -> &str {
    stdout
        .lines()
        .find(|l| l.starts_with("Plan: "))
        .unwrap_or_else(|| panic!("no summary line in:\n{stdout}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fresh_tenants_plan_creates_and_saves_every_tenant() {
    let world = World::start(FaultConfig::none(), 1).await;
    let objects: usize = world.fleet.desired.iter().map(|d| d.objects.len()).sum();
    let run = world.plan(&["--detailed-exitcode"], "plan.json").await;
    assert_eq!(run.code(), 2, "{}", run.describe());
    let stdout = run.stdout();
    assert_eq!(
        summary_line(&stdout),
        format!("Plan: 5 tenants, {objects} to add, 0 to change, 0 to destroy, 0 errors."),
    );
    let plan = run.plan_json();
    assert_eq!(plan["errored"], json!(false), "{plan:#}");
    let tenants = tenants_of(&plan);
    let names: Vec<&str> = TENANTS.iter().map(|(n, _)| *n).collect();
    assert_eq!(
        tenants.keys().map(String::as_str).collect::<Vec<_>>(),
        names
    );
    let text = String::from_utf8_lossy(run.plan_bytes()).into_owned();
    for (name, id) in TENANTS {
        assert!(text.contains(id), "{name}'s id is in the plan");
    }
    // Reads only: planning never writes to a tenant.
    let counters = world.admin().counters();
    let writes: u64 = counters
        .by_route
        .iter()
        .filter(|(k, _)| {
            let method = k.split(' ').nth(1).unwrap_or("");
            matches!(method, "PUT" | "PATCH" | "DELETE")
                || (method == "POST" && !k.ends_with("$batch") && !k.ends_with("token"))
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "{:#?}", counters.by_route);
    for (_, id) in TENANTS {
        assert!(
            counters.by_tenant.get(id).copied().unwrap_or(0) > 0,
            "{id} was read: {:#?}",
            counters.by_tenant
        );
    }
    world.fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_in_step_plan_no_changes() {
    let world = World::start(FaultConfig::none(), 2).await;
    world.apply_all().await;
    let run = world.plan(&["--detailed-exitcode"], "plan.json").await;
    assert_eq!(run.code(), 0, "{}", run.describe());
    assert_eq!(
        summary_line(&run.stdout()),
        "Plan: 5 tenants, 0 to add, 0 to change, 0 to destroy, 0 errors."
    );
    world.fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_out_of_band_shows_as_an_update_with_the_field() {
    let world = World::start(FaultConfig::none(), 3).await;
    world.apply_all().await;
    let (victim, victim_id) = TENANTS[2];
    let admin = world.admin();
    let policy = admin
        .policies(victim_id)
        .into_iter()
        .next()
        .expect("the victim holds a policy");
    let id = policy["id"].as_str().expect("id").to_string();
    let name = policy["name"].as_str().expect("name").to_string();
    // An administrator renames the policy in the portal (the ownership marker in the
    // description stays, so rampart still owns it).
    let edited = format!("{name} (edited in portal)");
    admin
        .oob_edit_policy(victim_id, &id, &json!({ "name": edited }))
        .expect("oob edit");
    assert_eq!(admin.counters().oob_edits, 1);
    let run = world
        .plan(&["--detailed-exitcode", "--format", "json"], "plan.json")
        .await;
    assert_eq!(run.code(), 2, "{}", run.describe());
    let stdout: Value = serde_json::from_str(&run.stdout()).expect("stdout is JSON");
    assert_eq!(
        stdout["summary"]["toChange"],
        json!(1),
        "{:#}",
        stdout["summary"]
    );
    assert_eq!(
        stdout["summary"]["toAdd"],
        json!(0),
        "{:#}",
        stdout["summary"]
    );
    let plan = run.plan_json();
    let mut changed = Vec::new();
    for (t, tp) in tenants_of(&plan) {
        for o in tp["objects"].as_array().expect("objects") {
            if o["action"] != json!("no-op") {
                changed.push((t.clone(), o.clone()));
            }
        }
    }
    assert_eq!(changed.len(), 1, "{changed:#?}");
    let (tenant, object) = &changed[0];
    assert_eq!(tenant, victim);
    assert_eq!(object["action"], json!("update"), "{object:#}");
    let changes = object["changes"].as_array().expect("changes");
    assert_eq!(
        changes.len(),
        1,
        "only the renamed field changes: {object:#}"
    );
    assert_eq!(changes[0]["before"], json!(edited), "{object:#}");
    assert_eq!(changes[0]["after"], json!(name), "{object:#}");
    // The saved plan and stdout say the same thing.
    assert_eq!(stdout["tenants"], plan["tenants"]);
    world.fleet.emulator.shutdown().await;
}

/// Every canonical address `tenant/Kind/name` a tenant's desired state holds.
fn addresses(d: &TenantDesired) -> Vec<String> {
    d.objects
        .keys()
        .map(|(kind, name)| format!("{}/{kind}/{name}", d.tenant.name))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_error_in_one_tenant_of_five_plans_the_other_four() {
    let world = World::start(FaultConfig::none(), 4).await;
    let (victim, victim_id) = TENANTS[3];
    world
        .admin()
        .revoke(victim_id, CLI_APP_ID)
        .expect("revoke consent");
    let run = world.plan(&["--detailed-exitcode"], "plan.json").await;
    assert_eq!(run.code(), 1, "{}", run.describe());
    let stdout = run.stdout();
    let line = summary_line(&stdout);
    assert!(line.ends_with(", 1 error."), "{line}");
    assert!(line.starts_with("Plan: 5 tenants, "), "{line}");
    let plan = run.plan_json();
    assert_eq!(plan["errored"], json!(true));
    assert_eq!(
        plan["summary"]["failedTenants"],
        json!(1),
        "{:#}",
        plan["summary"]
    );
    let tenants = tenants_of(&plan);
    for d in &world.fleet.desired {
        let t = tenants[&d.tenant.name];
        if d.tenant.name == victim {
            assert_eq!(t["status"]["state"], json!("failed"), "{t:#}");
            let error = t["status"]["error"].as_str().expect("error text");
            assert!(
                error.contains(victim_id),
                "the error names the tenant: {error}"
            );
            assert!(
                stdout.contains(victim),
                "stdout names the failed tenant:\n{stdout}"
            );
        } else {
            assert_eq!(t["status"]["state"], json!("ok"), "{t:#}");
            let actions: Vec<&Value> = t["objects"]
                .as_array()
                .expect("objects")
                .iter()
                .map(|o| &o["action"])
                .collect();
            assert_eq!(actions.len(), d.objects.len(), "{}", d.tenant.name);
            assert!(
                actions.iter().all(|a| **a == json!("create")),
                "{actions:?}"
            );
            for a in addresses(d) {
                assert!(stdout.contains(&a), "{a} is planned on stdout:\n{stdout}");
            }
        }
    }
    // The failed tenant was refused at sign-in or at its first request, never read.
    let counters = world.admin().counters();
    let victim_ok = world
        .admin()
        .requests()
        .iter()
        .filter(|r| r.tenant.as_deref() == Some(victim_id) && r.route != "token")
        .filter(|r| r.status < 300 && r.app.as_deref() == Some(CLI_APP_ID))
        .count();
    assert_eq!(victim_ok, 0, "{:#?}", counters.by_route);
    world.fleet.emulator.shutdown().await;
}

/// A storm: 30% of Graph operations answered 429 and 20% 503, all with `Retry-After: 0`.
fn storm() -> FaultConfig {
    FaultConfig {
        rate_429: 0.3,
        rate_503: 0.2,
        retry_after_secs: 0,
        ..FaultConfig::none()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_and_unavailability_storms_are_survived() {
    let world = World::start(FaultConfig::none(), 5).await;
    world.apply_all().await;
    // One drifted tenant so the plan has content beyond no-ops.
    let (_, drifted) = TENANTS[1];
    let admin = world.admin();
    let rule = admin
        .detection_rules(drifted)
        .into_iter()
        .next()
        .expect("a detection rule");
    admin
        .oob_edit_rule(
            drifted,
            rule["id"].as_str().expect("rule id"),
            &json!({"status": "disabled"}),
        )
        .expect("oob edit");
    let calm = world
        .plan(&["--detailed-exitcode", "--format", "json"], "calm.json")
        .await;
    assert_eq!(calm.code(), 2, "{}", calm.describe());
    assert_eq!(admin.counters().faults, BTreeMap::new());
    for (name, faults) in [
        ("429+503", storm()),
        (
            "429 only, Retry-After 1 s",
            FaultConfig {
                rate_429: 0.15,
                retry_after_secs: 1,
                ..FaultConfig::none()
            },
        ),
    ] {
        admin.clear_log();
        admin.set_faults(faults);
        let stormy = world
            .plan(&["--detailed-exitcode", "--format", "json"], "storm.json")
            .await;
        admin.set_faults(FaultConfig::none());
        let counters = admin.counters();
        // Figures for the record (`-- --nocapture`).
        println!(
            "{name}: {} operations, faults {:?}",
            counters.total, counters.faults
        );
        assert_eq!(
            stormy.code(),
            calm.code(),
            "{name}: {}\n{:#?}",
            stormy.describe(),
            counters.faults
        );
        assert!(
            counters.faults.get("429").copied().unwrap_or(0) > 0,
            "{name}: the storm throttled: {:#?}",
            counters.faults
        );
        if name.starts_with("429+503") {
            assert!(
                counters.faults.get("503").copied().unwrap_or(0) > 0,
                "{name}: the storm was unavailable at times: {:#?}",
                counters.faults
            );
        }
        assert!(
            stormy.plan_bytes() == calm.plan_bytes(),
            "{name}: the plan file differs from the fault-free run"
        );
        assert!(
            stormy.output.stdout == calm.output.stdout,
            "{name}: stdout differs from the fault-free run"
        );
    }
    world.fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn output_is_byte_identical_at_parallelism_1_and_5() {
    let world = World::start(FaultConfig::none(), 6).await;
    // A mixed fleet: two tenants in step (one of them drifted), three new.
    let plan = world
        .fleet
        .plan_where(2, |d| d.tenant.name == "alpha" || d.tenant.name == "delta")
        .await
        .expect("plan");
    let report = world
        .fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("apply");
    assert!(report.success);
    let (_, delta) = TENANTS[3];
    let admin = world.admin();
    let p = admin.policies(delta).into_iter().next().expect("policy");
    let name = p["name"].as_str().expect("name").to_string();
    admin
        .oob_edit_policy(
            delta,
            p["id"].as_str().expect("id"),
            &json!({ "name": format!("{name} v2") }),
        )
        .expect("oob");
    let one = world
        .plan(&["--format", "json", "--parallelism", "1"], "p1.json")
        .await;
    let five = world
        .plan(&["--format", "json", "--parallelism", "5"], "p5.json")
        .await;
    assert_eq!(one.code(), 0, "{}", one.describe());
    assert_eq!(five.code(), 0, "{}", five.describe());
    let summary = &one.plan_json()["summary"];
    assert_eq!(summary["toChange"], json!(1), "{summary:#}");
    assert!(summary["toAdd"].as_u64().unwrap_or(0) > 0, "{summary:#}");
    assert!(
        one.output.stdout == five.output.stdout,
        "--format json differs"
    );
    assert!(one.plan_bytes() == five.plan_bytes(), "plan files differ");
    world.fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_reach_any_output() {
    let world = World::start(FaultConfig::none(), 7).await;
    // Tokens the emulator mints really start with the prefix the check looks for.
    let sample = world
        .admin()
        .issue_token(TENANTS[0].1, CLI_APP_ID)
        .expect("token");
    assert!(sample.starts_with(TOKEN_PREFIX), "{sample:.10}");
    // A failing tenant and a throttled run: the paths most likely to print a request.
    world
        .admin()
        .revoke(TENANTS[4].1, CLI_APP_ID)
        .expect("revoke");
    world.admin().set_faults(storm());
    // `World::plan` checks stdout, stderr and the plan file of every run for the secret
    // and for tokens; here every format is run once.
    for format in ["human", "json", "markdown"] {
        let run = world
            .plan(&["--format", format], &format!("plan-{format}.json"))
            .await;
        assert_eq!(run.code(), 1, "{format}: {}", run.describe());
        assert!(!run.stdout().is_empty(), "{format}");
        // The errored plan is still saved (for review), so the check covered a file.
        assert!(!run.plan_bytes().is_empty(), "{format}");
    }
    let counters = world.admin().counters();
    assert!(
        counters.by_route.keys().any(|k| k.ends_with(" token")),
        "the binary signed in: {:#?}",
        counters.by_route
    );
    world.fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_group_is_an_object_error_and_a_look_alike_is_never_touched() {
    let world = World::start(FaultConfig::none(), 8).await;
    world.apply_all().await;
    // echo's profile now names a kiosk group that does not exist in echo.
    let (missing_in, _) = TENANTS[4];
    std::fs::write(
        world.repo.path().join(PROFILE),
        profile_text(Some((missing_in, "kioskGroup", "Ghost Kiosks e2e"))),
    )
    .expect("profile");
    // In bravo an administrator rewrote a policy's description in the portal, dropping
    // rampart's ownership marker: the policy is now an unmanaged look-alike.
    let (unmanaged_in, unmanaged_id) = TENANTS[1];
    let admin = world.admin();
    let p = admin
        .policies(unmanaged_id)
        .into_iter()
        .next()
        .expect("policy");
    admin
        .oob_edit_policy(
            unmanaged_id,
            p["id"].as_str().expect("id"),
            &json!({"description": "Made by hand"}),
        )
        .expect("oob");
    let run = world.plan(&["--detailed-exitcode"], "plan.json").await;
    assert_eq!(run.code(), 1, "{}", run.describe());
    let stdout = run.stdout();
    let plan = run.plan_json();
    assert_eq!(plan["errored"], json!(true));
    let tenants = tenants_of(&plan);
    for (name, t) in &tenants {
        assert_eq!(t["status"]["state"], json!("ok"), "{t:#}");
        for o in t["objects"].as_array().expect("objects") {
            let action = o["action"].as_str().expect("action");
            let address = format!(
                "{}/{}/{}",
                o["address"]["tenant"].as_str().unwrap_or(""),
                o["address"]["kind"].as_str().unwrap_or(""),
                o["address"]["name"].as_str().unwrap_or("")
            );
            match action {
                "error" => {
                    assert_eq!(name, missing_in, "{o:#}");
                    let e = o["error"].as_str().expect("error text");
                    assert!(e.contains("Ghost Kiosks e2e"), "names the group: {e}");
                    assert!(o.get("requests").is_none(), "{o:#}");
                    assert!(stdout.contains(&address), "{address}:\n{stdout}");
                }
                "adopt" => {
                    assert_eq!(name, unmanaged_in, "{o:#}");
                    assert!(o.get("requests").is_none(), "never touched: {o:#}");
                    assert!(stdout.contains(&address), "{address}:\n{stdout}");
                }
                other => assert_eq!(other, "no-op", "{o:#}"),
            }
        }
    }
    let count = |a: &str| {
        tenants
            .values()
            .flat_map(|t| t["objects"].as_array().into_iter().flatten())
            .filter(|o| o["action"] == json!(a))
            .count()
    };
    // Antivirus and ASR both exclude the kiosk group.
    assert_eq!(count("error"), 2, "{plan:#}");
    assert_eq!(count("adopt"), 1, "{plan:#}");
    assert_eq!(plan["summary"]["adoptionCandidates"], json!(1));
    let line = summary_line(&stdout);
    assert!(line.contains("1 adoption candidate"), "{line}");
    assert!(line.ends_with(", 2 errors."), "{line}");
    world.fleet.emulator.shutdown().await;
}
