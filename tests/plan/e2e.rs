//! End to end through the library against the in-process emulator: the shipped
//! repository, seeded by the `--emulator` demo (tenants in step, drifted, new, unmanaged).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use rampart::demo::{self, DemoState};
use rampart::desired::TenantDesired;
use rampart::fetch::plan_fleet;
use rampart::plan::{Action, CreatedFrom, Plan, TenantStatus, save};

fn repo_root() -> PathBuf {
    // The shipped repository is part of this one: no fallback to another checkout.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        here.join("profiles").is_dir(),
        "the shipped examples are missing"
    );
    here
}

/// Every tenant of the shipped repository, sorted by name.
fn tenants() -> Vec<TenantDesired> {
    let v = rampart::resolve::validate(&repo_root(), &[]);
    assert!(!v.has_errors(), "the shipped repository validates");
    let mut all: Vec<TenantDesired> = v.tenants.values().cloned().collect();
    all.sort_by(|a, b| a.tenant.name.cmp(&b.tenant.name));
    all
}

/// Plans `desired` against a running demo.
async fn plan_on(demo: &demo::Demo, desired: &[TenantDesired], parallelism: usize) -> Plan {
    let ctx = demo.context().expect("ctx");
    let tenants = desired
        .iter()
        .map(|d| (d.clone(), demo.auth(&d.tenant.id).expect("auth")))
        .collect();
    plan_fleet(
        &ctx,
        tenants,
        NonZeroUsize::new(parallelism).expect("nonzero"),
        CreatedFrom::default(),
        None,
    )
    .await
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn emulator_demo_plans_each_tenant_state() {
    let all = tenants();
    let plan = runtime().block_on(async {
        let demo = demo::start(&all, &repo_root().join("profiles"))
            .await
            .expect("demo");
        let plan = plan_on(&demo, &all, 4).await;
        demo.emulator.shutdown().await;
        plan
    });
    // `RAMPART_SHOW_DEMO=1 cargo test ... -- --nocapture` prints the demo plan.
    if std::env::var_os("RAMPART_SHOW_DEMO").is_some() {
        println!(
            "{}",
            rampart::render::render_human(&plan, Default::default())
        );
    }
    assert!(
        plan.tenants.len() >= 4,
        "the shipped profiles name at least four tenants"
    );
    assert!(
        !plan.errored,
        "{}",
        rampart::render::render_human(&plan, Default::default())
    );
    for (i, t) in plan.tenants.iter().enumerate() {
        assert_eq!(t.status, TenantStatus::Ok, "{}", t.tenant);
        let actions: Vec<Action> = t.objects.iter().map(|o| o.action).collect();
        match demo::state_of(i) {
            DemoState::InStep => assert!(
                actions.iter().all(|a| *a == Action::NoOp),
                "{}: {:#?}",
                t.tenant,
                t.objects
            ),
            DemoState::Drifted => {
                assert!(
                    actions.contains(&Action::Update),
                    "{}: {actions:?}",
                    t.tenant
                );
                assert!(
                    !actions.contains(&Action::Create),
                    "{}: {actions:?}",
                    t.tenant
                );
            }
            DemoState::New => assert!(
                actions.iter().all(|a| *a == Action::Create),
                "{}: {actions:?}",
                t.tenant
            ),
            DemoState::Unmanaged => {
                assert!(
                    actions.contains(&Action::Adopt),
                    "{}: {actions:?}",
                    t.tenant
                )
            }
        }
    }
    assert!(plan.summary.has_changes());
}

/// Same emulator, tenants answering in different orders (one at a time vs eight at once):
/// the plan's bytes are the same.
#[test]
fn plan_bytes_do_not_depend_on_answer_order() {
    let rt = runtime();
    rt.block_on(async {
        let all = tenants();
        let demo = demo::start(&all, &repo_root().join("profiles"))
            .await
            .expect("demo");
        let mut bytes = Vec::new();
        for (p, reverse) in [(1, false), (8, true), (3, false)] {
            let mut order = all.clone();
            if reverse {
                order.reverse();
            }
            bytes.push(save(&plan_on(&demo, &order, p).await));
        }
        demo.emulator.shutdown().await;
        assert!(bytes[0] == bytes[1], "parallelism 1 and 8 differ");
        assert!(bytes[0] == bytes[2], "parallelism 1 and 3 differ");
    });
}

/// What a no-change plan costs per tenant on the emulator (no latency, no faults): the
/// first pages of every list travel in one `$batch`, group names in another, at the same
/// time. Printed for the README; asserted loosely so that a regression to one request per
/// policy fails.
#[test]
fn no_change_plan_round_trips_per_tenant() {
    let rt = runtime();
    rt.block_on(async {
        let all = tenants();
        let demo = demo::start(&all, &repo_root().join("profiles"))
            .await
            .expect("demo");
        let sorted = all.clone();
        let in_step: Vec<_> = sorted
            .iter()
            .enumerate()
            .filter(|(i, _)| demo::state_of(*i) == DemoState::InStep)
            .map(|(_, d)| (d.clone(), demo.auth(&d.tenant.id).expect("auth")))
            .collect();
        let ctx = demo.context().expect("ctx");
        let plan = plan_fleet(
            &ctx,
            in_step.clone(),
            NonZeroUsize::new(4).expect("nonzero"),
            CreatedFrom::default(),
            None,
        )
        .await;
        assert!(
            !plan.summary.has_changes(),
            "in-step tenants have no changes"
        );
        for (d, _) in &in_step {
            let c = ctx.stats().tenant(&d.tenant.id);
            let objects = d.objects.len();
            println!(
                "no-change plan of {} ({objects} objects): {} requests, {} round trips",
                d.tenant.name, c.requests, c.round_trips
            );
            assert!(c.round_trips <= 3, "{}: {c:?}", d.tenant.name);
            assert!(
                (c.round_trips as usize) < objects,
                "{}: {c:?}",
                d.tenant.name
            );
        }
        demo.emulator.shutdown().await;
    });
}

/// A tenant whose consent was revoked fails alone: the others are planned, the plan is
/// errored (apply refuses it), and the failure names the tenant.
#[test]
fn one_failed_tenant_never_stops_the_others() {
    runtime().block_on(async {
        let all = tenants();
        let demo = demo::start(&all, &repo_root().join("profiles"))
            .await
            .expect("demo");
        let victim = &all[1];
        demo.emulator
            .admin()
            .revoke(&victim.tenant.id, demo::APP_ID)
            .expect("revoke");
        let plan = plan_on(&demo, &all, 4).await;
        demo.emulator.shutdown().await;
        assert!(plan.errored);
        assert_eq!(plan.summary.failed_tenants, 1);
        for t in &plan.tenants {
            if t.tenant == victim.tenant.name {
                let TenantStatus::Failed { error } = &t.status else {
                    panic!("{} should have failed", t.tenant)
                };
                assert!(error.contains(&victim.tenant.id), "{error}");
                assert!(t.objects.is_empty());
            } else {
                assert_eq!(t.status, TenantStatus::Ok, "{}", t.tenant);
            }
        }
        let text = String::from_utf8(save(&plan)).expect("utf8");
        assert!(
            !text.contains("rampart-demo"),
            "the demo secret never reaches a plan"
        );
        assert!(!text.contains("eyJ"), "no token reaches a plan");
    });
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy");
        }
    }
}

/// Issue 10 (6), defence in depth: whatever route a credential value takes into what
/// rampart prints or writes (here, a detection query that holds it, as a symlink to
/// `/proc/self/environ` would), it is replaced by a placeholder in stdout, stderr, the
/// Markdown comment and the saved plan.
#[test]
fn issue10_credential_values_never_reach_any_output() {
    const SECRET: &str = "Zq8~not-a-real-secret-4c1f9e";
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    copy_dir(&repo_root().join("policies"), &root.join("policies"));
    copy_dir(&repo_root().join("profiles"), &root.join("profiles"));
    let kql = root.join("policies/detections/lsass-access.kql");
    let mut text = std::fs::read_to_string(&kql).expect("kql");
    text.push_str(&format!("\n// {SECRET}\n"));
    std::fs::write(&kql, text).expect("kql");
    let out = root.join("plan.json");
    let run = |args: &[&str]| {
        let mut cmd = assert_cmd::Command::cargo_bin("rampart").expect("binary");
        for (k, _) in std::env::vars() {
            if k.starts_with("AZURE_") || k.starts_with("RAMPART_") {
                cmd.env_remove(k);
            }
        }
        cmd.env("AZURE_CLIENT_SECRET", SECRET)
            .env("NO_COLOR", "1")
            .env("RAMPART_LOCK", "none")
            .args(args)
            .output()
            .expect("run rampart")
    };
    let root_s = root.display().to_string();
    let out_s = out.display().to_string();
    for format in ["human", "json", "markdown"] {
        let o = run(&[
            "plan",
            "--emulator",
            "--root",
            &root_s,
            "--format",
            format,
            "--out",
            &out_s,
        ]);
        let stdout = String::from_utf8_lossy(&o.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let saved = std::fs::read_to_string(&out).unwrap_or_default();
        for (what, t) in [
            ("stdout", &stdout),
            ("stderr", &stderr),
            ("plan file", &saved),
        ] {
            assert!(!t.contains(SECRET), "{format}: the secret reached {what}");
        }
        // A credential value in the desired state would be written into the tenants while
        // every printed form shows it redacted: the plan is refused and nothing is saved.
        assert_eq!(o.status.code(), Some(1), "{format}: {stderr}");
        assert!(
            stderr.contains("credential-in-desired-state")
                && stderr.contains("AZURE_CLIENT_SECRET"),
            "{format}: {stderr}"
        );
        assert!(saved.is_empty(), "{format}: a plan was saved");
    }
}

/// A real plan (every kind, role references and recorded observations included) matches
/// `schemas/plan.schema.json`.
#[test]
fn a_real_plan_matches_the_plan_schema() {
    let all = tenants();
    let plan = runtime().block_on(async {
        let demo = demo::start(&all, &repo_root().join("profiles"))
            .await
            .expect("demo");
        let plan = plan_on(&demo, &all, 4).await;
        demo.emulator.shutdown().await;
        plan
    });
    assert!(
        plan.objects().any(|(_, o)| !o.references.is_empty()),
        "the plan refers to a built-in role"
    );
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo_root().join("schemas/plan.schema.json")).expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("valid schema");
    let v: serde_json::Value = serde_json::from_slice(&save(&plan)).expect("plan JSON");
    let errors: Vec<String> = validator
        .iter_errors(&v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}
