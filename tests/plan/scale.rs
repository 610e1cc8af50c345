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

/// `plan --shard K/N` partitions the tenants; `show --merge` gives back the unsharded
/// plan byte for byte (and the same Markdown comment), for several N.
#[test]
fn shard_plans_merge_into_the_unsharded_plan_byte_for_byte() {
    use crate::cli::{Emulator, repo, run, text};
    let repo = repo();
    let emu = Emulator::start(repo.path());
    let dir = repo.path();
    let o = run(dir, &["plan", "--out", "full.json"], &emu.env());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let full = std::fs::read(dir.join("full.json")).expect("plan");
    let o = run(dir, &["show", "--format", "markdown", "full.json"], &[]);
    let full_md = o.stdout.clone();
    let full_tenants = rampart::plan::load(&full).expect("loads").tenants.len();
    for n in [1u32, 2, 3, 7] {
        let mut files = Vec::new();
        let mut tenants = 0;
        for k in 1..=n {
            let file = format!("shard-{k}-of-{n}.json");
            let shard = format!("{k}/{n}");
            let o = run(
                dir,
                &["plan", "--shard", &shard, "--out", &file],
                &emu.env(),
            );
            assert_eq!(o.status.code(), Some(0), "{shard}: {}", text(&o));
            let p = rampart::plan::load(&std::fs::read(dir.join(&file)).unwrap()).unwrap();
            for t in &p.tenants {
                assert_eq!(rampart::plan::shard::Shard::of(&t.tenant_id, n), k);
            }
            tenants += p.tenants.len();
            files.push(file);
        }
        assert_eq!(
            tenants, full_tenants,
            "N={n}: every tenant on exactly one shard"
        );
        let mut args = vec!["show", "--merge"];
        args.extend(files.iter().map(String::as_str));
        args.extend(["--out", "merged.json", "--format", "markdown"]);
        let o = run(dir, &args, &[]);
        assert_eq!(o.status.code(), Some(0), "N={n}: {}", text(&o));
        assert_eq!(o.stdout, full_md, "N={n}: the same Markdown comment");
        assert!(
            std::fs::read(dir.join("merged.json")).unwrap() == full,
            "N={n}: merged plan differs from the unsharded one"
        );
    }
    // A tenant twice (the same shard given two times) is refused, as is a lone file
    // given more company without --merge.
    let o = run(
        dir,
        &["show", "--merge", "shard-1-of-2.json", "shard-1-of-2.json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("more than one plan"), "{}", text(&o));
    let o = run(
        dir,
        &["show", "shard-1-of-2.json", "shard-2-of-2.json"],
        &[],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // A shard's plan applies on its own (compressed, as the sharded workflow saves it),
    // and touches only its shard's tenants.
    let o = run(
        dir,
        &["plan", "--shard", "1/2", "--out", "s1.json.gz"],
        &emu.env(),
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let o = run(dir, &["apply", "s1.json.gz"], &emu.env());
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    for (shard, changes) in [("1/2", false), ("2/2", true)] {
        let o = run(
            dir,
            &["plan", "--shard", shard, "--detailed-exitcode"],
            &emu.env(),
        );
        let want = if changes { 2 } else { 0 };
        assert_eq!(o.status.code(), Some(want), "{shard}: {}", text(&o));
    }
    for bad in ["0/2", "3/2", "1/0", "x/2", "2"] {
        let o = run(dir, &["plan", "--shard", bad], &emu.env());
        assert_ne!(o.status.code(), Some(0), "{bad}: {}", text(&o));
    }
}

#[test]
fn shards_are_stable_and_about_even() {
    use rampart::plan::shard::Shard;
    let ids: Vec<String> = (0..4000)
        .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
        .collect();
    for n in [2u32, 5, 16] {
        let mut counts = vec![0usize; n as usize];
        for id in &ids {
            let k = Shard::of(id, n);
            assert_eq!(
                k,
                Shard::of(&id.to_uppercase(), n),
                "case does not move a tenant"
            );
            counts[(k - 1) as usize] += 1;
        }
        let even = ids.len() / n as usize;
        for c in counts {
            assert!(c > even * 3 / 4 && c < even * 5 / 4, "N={n}: {c} vs {even}");
        }
    }
    assert_eq!(Shard::parse("2/4"), Ok(Shard { index: 2, count: 4 }));
}
