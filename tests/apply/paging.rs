//! Issue 14, gap 12 (product side): Graph pages an expanded policy's `settings` and says so
//! with `settings@odata.nextLink`. The plan follows it; apply's re-read before writing
//! (`src/apply/entity.rs` `read_path`, `$expand=settings,assignments`) did not, so an update
//! of a policy with more settings than one page was refused as stale against real Graph
//! (the real OpenIntuneBaseline antivirus export has 27 settings; Graph pages by 25). The
//! client now completes every paged navigation collection on every read.
//! The emulator pages expanded settings here after 1, so every baseline policy shows it.

use super::*;
use rampart_emulator::PageSizes;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_follows_the_settings_next_link_of_an_expanded_policy() {
    let mut fleet = fleet(desired(1, 300), FaultConfig::none(), 1, |_| None).await;
    let emu = fleet.emulator.admin().clone();
    let first = fleet.plan(1).await.expect("plan");
    let r = fleet
        .apply(&first, &ApplyOptions::default())
        .await
        .expect("applied");
    assert!(r.success, "{}", r.render_human());

    // From now on an expanded policy shows one setting per page, then a nextLink.
    emu.set_page_sizes(PageSizes {
        expanded_settings: 1,
        ..PageSizes::default()
    });
    for d in &mut fleet.desired {
        for o in d.objects.values_mut() {
            if let DesiredObject::ConfigurationPolicy(p) = o {
                p.description = format!("{} (v2)", p.description);
            }
        }
    }
    let plan = fleet.plan(1).await.expect("plan");
    assert!(!plan.errored, "{:#?}", plan.summary);
    assert!(plan.summary.to_change > 0, "{:#?}", plan.summary);
    let report = fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("not refused");
    assert_eq!(report.summary.stale, 0, "{}", report.render_human());
    assert!(report.success, "{}", report.render_human());
    fleet.emulator.shutdown().await;
}
