//! Issue 16 (scale): reads that stay efficient when Graph pages small. A 50-object tenant
//! is brought in step, then the emulator pages `$expand` lists (and expanded settings) by
//! 2: both policy-read strategies must see the same tenant (same plan bytes, no changes),
//! and the batched one must stay within the budget (<= 5 round trips per tenant,
//! <= 0.25 per policy).

use std::path::Path;

use rampart::apply::ApplyOptions;
use rampart::apply::bench::{EmulatedFleet, baseline_template, fleet_tenant, grown_template};
use rampart::fetch::PolicyReads;
use rampart_emulator::{FaultConfig, PageSizes};

async fn fifty_object_fleet(tenants: usize) -> EmulatedFleet {
    let template = grown_template(
        &baseline_template(Path::new(env!("CARGO_MANIFEST_DIR"))).expect("baseline"),
        50,
    );
    assert_eq!(template.objects.len(), 50);
    let desired = (0..tenants).map(|i| fleet_tenant(&template, i)).collect();
    let fleet = EmulatedFleet::start(desired, FaultConfig::none(), 1, |_| None)
        .await
        .expect("fleet");
    let first = fleet.plan(4).await.expect("plan");
    let r = fleet
        .apply(&first, &ApplyOptions::default())
        .await
        .expect("applied");
    assert!(r.success, "{}", r.render_human());
    fleet
}

fn policies(fleet: &EmulatedFleet) -> usize {
    fleet.desired[0]
        .objects
        .values()
        .filter(|o| matches!(o, rampart::desired::DesiredObject::ConfigurationPolicy(_)))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_policy_reads_see_the_same_tenant_at_two_policies_per_page() {
    let fleet = fifty_object_fleet(2).await;
    let admin = fleet.emulator.admin().clone();
    for sizes in [
        PageSizes::default(),
        PageSizes {
            policies_expanded: 2,
            ..PageSizes::default()
        },
        PageSizes {
            policies: 2,
            policies_expanded: 1,
            expanded_settings: 2,
            settings: 2,
            ..PageSizes::default()
        },
    ] {
        admin.set_page_sizes(sizes.clone());
        let (batched, _) = fleet
            .plan_with(2, PolicyReads::Batched)
            .await
            .expect("plan");
        let (expanded, _) = fleet
            .plan_with(2, PolicyReads::Expanded)
            .await
            .expect("plan");
        assert!(!batched.errored && !expanded.errored, "{sizes:?}");
        assert!(
            !batched.summary.has_changes(),
            "{sizes:?}: {:#?}",
            batched.summary
        );
        assert!(
            !expanded.summary.has_changes(),
            "{sizes:?}: {:#?}",
            expanded.summary
        );
        assert_eq!(
            rampart::plan::saved::save(&batched),
            rampart::plan::saved::save(&expanded),
            "{sizes:?}"
        );
    }
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_reads_stay_within_budget_at_two_policies_per_expand_page() {
    let fleet = fifty_object_fleet(1).await;
    fleet.emulator.admin().set_page_sizes(PageSizes {
        policies_expanded: 2,
        ..PageSizes::default()
    });
    let n = policies(&fleet) as f64;
    fleet.emulator.admin().clear_log();
    let (plan, ctx) = fleet
        .plan_with(1, PolicyReads::Batched)
        .await
        .expect("plan");
    assert!(!plan.errored && !plan.summary.has_changes());
    let batched = ctx.stats().total().round_trips;
    let log: Vec<String> = fleet
        .emulator
        .admin()
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    assert!(
        batched <= 5,
        "{batched} round trips for one 50-object tenant: {log:#?}"
    );
    assert!(
        batched as f64 / n <= 0.25,
        "{batched} round trips for {n} policies"
    );

    // The expanded list pays one round trip per page: the budget does not hold.
    let (plan, ctx) = fleet
        .plan_with(1, PolicyReads::Expanded)
        .await
        .expect("plan");
    assert!(!plan.errored && !plan.summary.has_changes());
    let expanded = ctx.stats().total().round_trips;
    assert!(expanded > batched, "expanded {expanded}, batched {batched}");
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saved_plans_are_compact_and_read_back_plain_gzip_or_pretty() {
    let fleet = fifty_object_fleet(1).await;
    let plan = fleet.plan(1).await.expect("plan");
    fleet.emulator.shutdown().await;
    let compact = rampart::plan::saved::save(&plan);
    assert_eq!(
        compact.iter().filter(|b| **b == b'\n').count(),
        1,
        "one line"
    );
    let gz = rampart::plan::saved::save_gzip(&plan);
    assert_eq!(gz, rampart::plan::saved::save_gzip(&plan), "deterministic");
    assert!(
        gz.len() * 4 < compact.len(),
        "{} vs {}",
        gz.len(),
        compact.len()
    );
    let pretty = serde_json::to_vec_pretty(&plan).expect("json");
    for bytes in [&compact, &gz, &pretty] {
        let back = rampart::plan::load(bytes).expect("loads");
        assert_eq!(rampart::plan::saved::save(&back), compact);
    }
    // Not a plan, compressed or not: refused clearly.
    let junk = rampart::plan::saved::gzip(b"{\"formatVersion\": 999}");
    assert!(rampart::plan::load(&junk).is_err());
    assert!(rampart::plan::load(&gz[..gz.len() / 2]).is_err());
}
