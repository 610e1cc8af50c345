//! Integration tests: apply, end to end through the library against the in-process
//! emulator, with the shipped baseline (`policies/`, `profiles/`) as desired state. Plans
//! are made with the real fetch and diff; apply goes through the shared Graph client.
//! Small fleets and zero latency keep the module fast; faults are seeded.

mod concurrency;
mod crash;
mod paging;
mod safety;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rampart::apply::bench::{EmulatedFleet, baseline_template, fleet_tenant};
use rampart::apply::{ApplyOptions, ApplyRefused, Outcome, apply_plan};
use rampart::desired::{DesiredObject, Kind, TenantDesired};
use rampart::graph::retry::BudgetConfig;
use rampart::plan::{Action, Plan, marker};
use rampart_emulator::{Emulator, FaultConfig};
use serde_json::Value;

pub fn repo_root() -> PathBuf {
    // The shipped repository is part of this one: no fallback to another checkout.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    assert!(
        here.join("profiles").is_dir(),
        "the shipped examples are missing"
    );
    here
}

pub fn template() -> TenantDesired {
    baseline_template(&repo_root()).expect("the shipped baseline loads")
}

/// A fleet of `n` tenants of the baseline; tests run with a roomy retry budget and a short
/// backoff so that seeded fault storms cost little time.
pub async fn fleet(
    desired: Vec<TenantDesired>,
    faults: FaultConfig,
    seed: u64,
    roles: impl Fn(&TenantDesired) -> Option<Vec<String>>,
) -> EmulatedFleet {
    let mut f = EmulatedFleet::start(desired, faults, seed, roles)
        .await
        .expect("fleet starts");
    f.options.retry.budget = BudgetConfig {
        capacity: 1_000_000,
        ..BudgetConfig::default()
    };
    f.options.retry.base_delay = Duration::from_millis(5);
    f.options.retry.max_backoff = Duration::from_millis(50);
    f
}

pub fn desired(n: usize, offset: usize) -> Vec<TenantDesired> {
    let t = template();
    (0..n).map(|i| fleet_tenant(&t, offset + i)).collect()
}

/// Every (collection, marker or identity) that occurs more than once in a tenant.
pub fn duplicates(emu: &Emulator, tenant: &str) -> Vec<String> {
    let t = emu.tenant_snapshot(tenant).expect("tenant exists");
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut count = |what: &str, v: &Value| {
        if let Some(m) = v
            .get("description")
            .and_then(Value::as_str)
            .and_then(|d| marker::split(d).1)
        {
            *seen.entry(format!("{what}:{m}")).or_default() += 1;
        }
    };
    for p in t.policies.values() {
        count("policy", &p.policy);
    }
    for r in t.detection_rules.values() {
        count("rule", r);
    }
    for v in t.defender_role_definitions.values() {
        count("defender-def", v);
    }
    for v in t.defender_role_assignments.values() {
        count("defender-asg", v);
    }
    for v in t.intune_role_definitions.values() {
        count("intune-def", v);
    }
    for v in t.intune_role_assignments.values() {
        count("intune-asg", v);
    }
    for v in t.directory_role_assignments.values() {
        let key = format!(
            "directory:{}:{}:{}",
            v["roleDefinitionId"], v["principalId"], v["directoryScopeId"]
        );
        *seen.entry(key).or_default() += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{k} x{n}"))
        .collect()
}

/// Writes (POST/PUT/PATCH/DELETE to Graph) in the emulator's log.
pub fn writes(emu: &Emulator) -> Vec<rampart_emulator::RequestRecord> {
    emu.requests()
        .into_iter()
        .filter(|r| {
            matches!(r.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE")
                && r.route != "token"
                && !r.route.ends_with("$batch")
        })
        .collect()
}

/// Asserts that planning again finds nothing to do.
pub fn assert_converged(plan: &Plan) {
    assert!(!plan.errored, "errored re-plan: {:#?}", plan.summary);
    for (t, o) in plan.objects() {
        assert!(
            matches!(o.action, Action::NoOp | Action::Adopt),
            "{}: {} is {:?} after apply: {:#?}",
            t.tenant,
            o.address,
            o.action,
            o.changes
        );
    }
}

fn first_policy(d: &TenantDesired) -> rampart::desired::DesiredConfigurationPolicy {
    d.objects
        .values()
        .find_map(|o| match o {
            DesiredObject::ConfigurationPolicy(p) => Some(p.clone()),
            _ => None,
        })
        .expect("the baseline has a configuration policy")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_apply_plan_converges_across_50_tenants_under_faults() {
    let faults = FaultConfig {
        rate_429: 0.10,
        rate_503: 0.05,
        rate_drop: 0.02,
        retry_after_secs: 0,
        ..FaultConfig::default()
    };
    let fleet = fleet(desired(50, 0), faults, 42, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    // Every fifth tenant holds unmanaged objects: a look-alike (same display name) and an
    // unrelated hand-made policy. They must come out byte-identical.
    let mut unmanaged: Vec<(String, String, Value)> = Vec::new();
    for d in fleet.desired.iter().step_by(5) {
        let p = first_policy(d);
        let mut body = rampart::plan::diff::policy_body(&p);
        body["description"] = Value::String("Made by hand in the Intune portal".into());
        // As Graph stores it: the template reference filled in from the template.
        let template =
            rampart_emulator::templates::template(&p.template_id).expect("known template");
        body["templateReference"] = rampart_emulator::templates::template_reference(template);
        let look_alike = emu.add_policy(&d.tenant.id, &body).expect("seeded");
        body["name"] = Value::String("Helpdesk exceptions".into());
        let other = emu.add_policy(&d.tenant.id, &body).expect("seeded");
        for id in [look_alike, other] {
            let v = emu.policy(&d.tenant.id, &id).expect("stored");
            unmanaged.push((d.tenant.id.clone(), id, v));
        }
    }

    let plan = fleet.plan(8).await.expect("plan");
    assert!(!plan.errored, "{:#?}", plan.summary);
    assert!(plan.summary.to_add > 0);
    let report = fleet
        .apply(
            &plan,
            &ApplyOptions {
                parallelism: 8,
                ..ApplyOptions::default()
            },
        )
        .await
        .expect("not refused");
    assert!(report.success, "{}", report.render_human());
    assert_eq!(report.summary.applied, plan.summary.to_add);
    let faults_seen = emu.counters().faults;
    assert!(
        faults_seen.get("429").copied().unwrap_or(0) > 0
            && faults_seen.get("503").copied().unwrap_or(0) > 0
            && faults_seen.get("drop").copied().unwrap_or(0) > 0,
        "the storm happened: {faults_seen:?}"
    );

    let again = fleet.plan(8).await.expect("re-plan");
    assert_converged(&again);
    for d in &fleet.desired {
        assert_eq!(
            duplicates(&emu, &d.tenant.id),
            Vec::<String>::new(),
            "{}",
            d.tenant.name
        );
    }
    for (tenant, id, before) in &unmanaged {
        let after = emu
            .policy(tenant, id)
            .expect("unmanaged policy still there");
        assert_eq!(
            serde_json::to_vec(&after).unwrap(),
            serde_json::to_vec(before).unwrap(),
            "unmanaged {id} in {tenant} changed"
        );
    }
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_object_is_refused_and_nothing_is_written_to_it() {
    let mut fleet = fleet(desired(2, 100), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let first = fleet.plan(2).await.expect("plan");
    let r = fleet
        .apply(&first, &ApplyOptions::default())
        .await
        .expect("applied");
    assert!(r.success, "{}", r.render_human());

    // Change the description of every configuration policy: the plan updates them all.
    for d in &mut fleet.desired {
        for o in d.objects.values_mut() {
            if let DesiredObject::ConfigurationPolicy(p) = o {
                p.description = format!("{} (v2)", p.description);
            }
        }
    }
    let plan = fleet.plan(2).await.expect("plan");
    let tenant = &plan.tenants[0];
    let victim = tenant
        .objects
        .iter()
        .find(|o| o.action == Action::Update && o.address.kind.is_configuration_policy())
        .expect("an update");
    let victim_id = victim.observed[0].id.clone();
    let updates = plan
        .objects()
        .filter(|(_, o)| o.action == Action::Update)
        .count();
    assert!(updates >= 2);

    // Someone edits the victim in the portal between plan and apply.
    emu.oob_edit_policy(
        &tenant.tenant_id,
        &victim_id,
        &serde_json::json!({"name": "Renamed in the portal"}),
    )
    .expect("edited");
    emu.clear_log();
    let report = fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("not refused");
    assert!(!report.success);
    assert_eq!(report.summary.stale, 1, "{}", report.render_human());
    assert_eq!(
        report.summary.applied,
        updates - 1,
        "{}",
        report.render_human()
    );
    let stale = report
        .tenants
        .iter()
        .flat_map(|t| &t.objects)
        .find(|o| o.outcome == Outcome::Stale)
        .expect("stale object reported");
    assert_eq!(stale.address, victim.address.to_string());
    // The refusal names what moved (only the name), never "lastModifiedDateTime X -> X".
    let why = stale.messages.join("; ");
    assert!(why.contains("changed: name"), "{why}");
    assert!(!why.contains("settings"), "{why}");
    let to_victim: Vec<_> = writes(&emu)
        .into_iter()
        .filter(|w| w.path.contains(&victim_id))
        .collect();
    assert!(
        to_victim.is_empty(),
        "writes to the stale object: {to_victim:#?}"
    );
    let edited = emu
        .policy(&tenant.tenant_id, &victim_id)
        .expect("still there");
    assert_eq!(edited["name"], "Renamed in the portal");
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_removal_guard_refuses_mass_deletion_unless_allowed() {
    let mut fleet = fleet(desired(1, 200), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(1).await.expect("plan");
    assert!(
        fleet
            .apply(&plan, &ApplyOptions::default())
            .await
            .expect("applied")
            .success
    );
    let managed = plan.tenants[0].objects.len();

    // Drop two configuration policies from the desired state (the profile allows removal).
    let d = &mut fleet.desired[0];
    d.allow_removal = true;
    let drop: Vec<(Kind, String)> = d
        .objects
        .keys()
        .filter(|(k, _)| k.is_configuration_policy())
        .take(2)
        .cloned()
        .collect();
    assert_eq!(drop.len(), 2);
    for k in &drop {
        d.objects.remove(k);
    }
    let plan = fleet.plan(1).await.expect("plan");
    assert_eq!(plan.summary.to_destroy, 2, "{:#?}", plan.summary);
    emu.clear_log();

    // Count rule.
    let strict = ApplyOptions {
        max_deletions: 1,
        max_deletion_share: 1.0,
        ..ApplyOptions::default()
    };
    match apply_plan(&plan, &fleet.connector().unwrap(), &strict).await {
        Err(ApplyRefused::MassDeletion { reasons }) => {
            assert!(reasons[0].contains("2 deletions"), "{reasons:?}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    // Share rule: 2 of the tenant's managed objects is more than 10%.
    let share = ApplyOptions {
        max_deletion_share: 0.10,
        ..ApplyOptions::default()
    };
    assert!(2.0 > 0.10 * managed as f64);
    assert!(matches!(
        apply_plan(&plan, &fleet.connector().unwrap(), &share).await,
        Err(ApplyRefused::MassDeletion { .. })
    ));
    assert!(
        writes(&emu).is_empty(),
        "a refused apply wrote: {:#?}",
        writes(&emu)
    );

    // Explicitly allowed: the two are deleted, and only those.
    let allowed = ApplyOptions {
        allow_mass_deletion: true,
        ..strict
    };
    let report = fleet.apply(&plan, &allowed).await.expect("allowed");
    assert!(report.success, "{}", report.render_human());
    let deletes = writes(&emu)
        .into_iter()
        .filter(|w| w.method == "DELETE")
        .count();
    assert_eq!(deletes, 2);
    assert_converged(&fleet.plan(1).await.expect("re-plan"));
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_without_write_permission_does_not_stop_the_others() {
    let read_only: Vec<String> = [
        "DeviceManagementConfiguration.Read.All",
        "DeviceManagementRBAC.Read.All",
        "CustomDetection.Read.All",
        "RoleManagement.Read.Defender",
        "RoleManagement.Read.Directory",
        "Group.Read.All",
        "Organization.Read.All",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let fleet = fleet(desired(5, 300), FaultConfig::none(), 1, |d| {
        (d.tenant.name == "tenant-0302").then(|| read_only.clone())
    })
    .await;
    let plan = fleet.plan(5).await.expect("plan");
    assert!(!plan.errored);
    let report = fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("not refused");
    assert!(!report.success);
    assert_eq!(report.failed_tenants, 1, "{}", report.render_human());
    for t in &report.tenants {
        if t.tenant == "tenant-0302" {
            assert!(
                t.error.as_deref().unwrap_or("").contains("403"),
                "{:?}",
                t.error
            );
            assert_eq!(t.counts.applied, 0);
            assert_eq!(t.counts.failed, 1, "first write fails, the rest is skipped");
            assert_eq!(t.counts.skipped, t.objects.len() - 1);
        } else {
            assert_eq!(t.error, None);
            assert_eq!(t.counts.problems(), 0, "{}", report.render_human());
            assert!(t.counts.applied > 0);
        }
    }
    let json: Value = serde_json::from_str(&report.to_json()).expect("JSON report");
    assert_eq!(json["failedTenants"], 1);
    assert_eq!(json["success"], false);
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_create_that_happened_is_found_by_its_marker() {
    let fleet = fleet(desired(1, 400), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(1).await.expect("plan");
    let creates = plan
        .objects()
        .flat_map(|(_, o)| &o.requests)
        .filter(|r| {
            matches!(
                r.purpose,
                rampart::plan::RequestPurpose::Create
                    | rampart::plan::RequestPurpose::CreateRoleDefinition
            )
        })
        .count();
    assert!(creates > 3);
    // Every create is carried out but its answer is lost.
    let connector = crash::Wrapped {
        inner: fleet.connector().unwrap(),
        plan: Arc::new(crash::Script::lose_create_answers()),
    };
    let report = apply_plan(&plan, &connector, &ApplyOptions::default())
        .await
        .expect("not refused");
    assert!(report.success, "{}", report.render_human());
    let recovered = report
        .tenants
        .iter()
        .flat_map(|t| &t.objects)
        .flat_map(|o| &o.messages)
        .filter(|m| m.contains("recovered"))
        .count();
    assert!(recovered >= creates - 1, "{}", report.render_human());
    assert_eq!(
        duplicates(&emu, &plan.tenants[0].tenant_id),
        Vec::<String>::new()
    );
    assert_converged(&fleet.plan(1).await.expect("re-plan"));
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_that_must_not_be_applied_are_refused_before_any_write() {
    let fleet = fleet(desired(1, 500), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let plan = fleet.plan(1).await.expect("plan");
    let c = fleet.connector().unwrap();
    let opts = ApplyOptions::default();

    // A hand-set `errored` flag that its objects do not bear out: malformed.
    let mut errored = plan.clone();
    errored.errored = true;
    assert!(matches!(
        apply_plan(&errored, &c, &opts).await,
        Err(ApplyRefused::Malformed(_))
    ));
    // Every tenant errored: nothing to apply.
    let mut failed = plan.clone();
    for t in &mut failed.tenants {
        *t = rampart::plan::TenantPlan::failed(&t.tenant, &t.tenant_id, "403");
    }
    failed.recount();
    assert!(matches!(
        apply_plan(&failed, &c, &opts).await,
        Err(ApplyRefused::Errored { .. })
    ));
    let mut old = plan.clone();
    old.rampart_version = "0.0.1".into();
    assert!(matches!(
        apply_plan(&old, &c, &opts).await,
        Err(ApplyRefused::RampartVersion { .. })
    ));
    let mut format = plan.clone();
    format.format_version += 1;
    assert!(matches!(
        apply_plan(&format, &c, &opts).await,
        Err(ApplyRefused::FormatVersion { .. })
    ));
    let moved = ApplyOptions {
        current_inputs_digest: Some("sha256:other".into()),
        ..ApplyOptions::default()
    };
    assert!(matches!(
        apply_plan(&plan, &c, &moved).await,
        Err(ApplyRefused::InputsChanged { .. })
    ));
    assert!(writes(&emu).is_empty());

    let same = ApplyOptions {
        current_inputs_digest: Some(plan.inputs_digest.clone()),
        ..ApplyOptions::default()
    };
    assert!(apply_plan(&plan, &c, &same).await.expect("applies").success);
    fleet.emulator.shutdown().await;
}

/// The apply benchmark on 200 empty tenants (run on demand:
/// `cargo test --test integration apply::bench_apply_200_tenants -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark, run on demand"]
async fn bench_apply_200_tenants() {
    let r =
        rampart::apply::bench::bench_apply_from(&repo_root(), 200, Duration::from_millis(50), 50)
            .await
            .expect("bench runs");
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    assert!(r.success && r.converged);
}
