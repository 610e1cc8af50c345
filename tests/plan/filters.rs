//! Assignment filters named by display name, end to end against the in-process emulator:
//! the name resolves per tenant at plan time (one read of the tenant's filters), `/assign`
//! carries the filter's id, a second plan sees no change, and a missing or ambiguous name
//! is an error for that object only. Filters by id keep working.

use rampart::apply::ApplyOptions;
use rampart::apply::bench::{EmulatedFleet, baseline_template, fleet_tenant};
use rampart::desired::{
    AssignmentFilter, AssignmentTarget, DesiredAssignment, DesiredObject, FilterMode, FilterRef,
    TenantDesired,
};
use rampart::plan::{Action, Plan};
use rampart_emulator::FaultConfig;
use serde_json::{Value, json};

/// One baseline tenant whose first configuration policy is assigned to all devices with
/// `filter`; returns the desired state and that policy's display name.
fn desired(filter: FilterRef) -> (TenantDesired, String) {
    let root = crate::support::shipped_root();
    let mut d = fleet_tenant(&baseline_template(&root).expect("baseline"), 0);
    let p = d
        .objects
        .values_mut()
        .find_map(|o| match o {
            DesiredObject::ConfigurationPolicy(p) => Some(p),
            _ => None,
        })
        .expect("the baseline has a configuration policy");
    p.assignments = vec![DesiredAssignment {
        target: AssignmentTarget::AllDevices,
        filter: Some(AssignmentFilter {
            filter,
            mode: FilterMode::Include,
        }),
    }];
    let name = p.display_name.clone();
    (d, name)
}

/// Starts the emulator with `d` and creates `filters` (display names) in its tenant through
/// Graph's `POST /beta/deviceManagement/assignmentFilters`; returns their ids in order.
async fn start(d: TenantDesired, filters: &[&str]) -> (EmulatedFleet, Vec<String>) {
    let fleet = EmulatedFleet::start(vec![d], FaultConfig::default(), 1, |_| None)
        .await
        .expect("fleet starts");
    let ids = add_filters(&fleet, filters).await;
    (fleet, ids)
}

/// Creates filters (display names) in the fleet's tenant; returns their ids in order.
async fn add_filters(fleet: &EmulatedFleet, filters: &[&str]) -> Vec<String> {
    let tenant = fleet.desired[0].tenant.id.clone();
    let client = fleet
        .context()
        .expect("context")
        .client(fleet.authenticator.tenant_auth(&tenant).expect("auth"));
    let mut ids = Vec::new();
    for name in filters {
        let body = json!({
            "displayName": name,
            "platform": "windows10AndLater",
            "rule": "(device.osVersion -startsWith \"10.0\")",
        });
        let r = client
            .post("/beta/deviceManagement/assignmentFilters", &body)
            .await
            .expect("filter created");
        ids.push(r.body["id"].as_str().expect("id").to_string());
    }
    ids
}

fn object<'p>(plan: &'p Plan, display_name: &str) -> &'p rampart::plan::ObjectPlan {
    plan.objects()
        .map(|(_, o)| o)
        .find(|o| o.display_name == display_name)
        .expect("the policy is planned")
}

/// The stored policy's assignment targets, as the emulator holds them.
fn stored_targets(fleet: &EmulatedFleet, display_name: &str) -> Vec<Value> {
    let tenant = &fleet.desired[0].tenant.id;
    let p = fleet
        .emulator
        .admin()
        .policies(tenant)
        .into_iter()
        .find(|p| p["name"] == display_name)
        .expect("the policy was created");
    p["assignments"]
        .as_array()
        .expect("assignments")
        .iter()
        .map(|a| a["target"].clone())
        .collect()
}

/// Plans, applies, checks the stored filter id, and plans again to no change.
async fn create_and_converge(fleet: &EmulatedFleet, policy: &str, filter_id: &str, shown: &str) {
    let plan = fleet.plan(1).await.expect("plan");
    assert!(!plan.errored, "{:#?}", plan.summary);
    let o = object(&plan, policy);
    assert_eq!(o.action, Action::Create);
    let assignments = o
        .changes
        .iter()
        .find(|c| c.path == "assignments")
        .expect("assignments shown");
    assert_eq!(
        assignments.after,
        json!([format!("allDevices (filter include {shown})")]),
        "the plan shows the filter by name"
    );
    let report = fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("not refused");
    assert!(report.success, "{}", report.render_human());
    let targets = stored_targets(fleet, policy);
    assert_eq!(targets.len(), 1);
    assert_eq!(
        targets[0]["deviceAndAppManagementAssignmentFilterId"],
        filter_id
    );
    assert_eq!(
        targets[0]["deviceAndAppManagementAssignmentFilterType"],
        "include"
    );
    let again = fleet.plan(1).await.expect("re-plan");
    assert!(!again.errored, "{:#?}", again.summary);
    for (_, o) in again.objects() {
        assert!(
            matches!(o.action, Action::NoOp | Action::Adopt),
            "{} is {:?} on the second plan: {:#?}",
            o.address,
            o.action,
            o.changes
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_by_name_resolves_to_its_id_and_converges() {
    let (d, policy) = desired(FilterRef::Name("Windows 10 and later".into()));
    let (fleet, ids) = start(d, &["Other devices", "Windows 10 and later"]).await;
    create_and_converge(&fleet, &policy, &ids[1], "Windows 10 and later").await;
    // One read of the filters per plan, inside the `$batch`; apply reads them once more
    // before its first write to see that the name still gives the planned id.
    let reads: Vec<_> = fleet
        .emulator
        .admin()
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && r.path.contains("assignmentFilters"))
        .collect();
    assert_eq!(reads.iter().filter(|r| r.in_batch).count(), 2, "{reads:#?}");
    assert_eq!(
        reads.iter().filter(|r| !r.in_batch).count(),
        1,
        "{reads:#?}"
    );
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_by_id_still_works() {
    let (d, policy) = desired(FilterRef::Id(String::new()));
    let (mut fleet, ids) = start(d, &["Corporate laptops"]).await;
    for o in fleet.desired[0].objects.values_mut() {
        if let DesiredObject::ConfigurationPolicy(p) = o
            && p.display_name == policy
        {
            p.assignments[0].filter.as_mut().expect("filter").filter =
                FilterRef::Id(ids[0].clone());
        }
    }
    create_and_converge(&fleet, &policy, &ids[0], "Corporate laptops").await;
    fleet.emulator.shutdown().await;
}

/// Plans `filter` against a tenant holding `filters`: the policy is an error naming the
/// filter, every other object of the tenant still plans, and nothing is sent for it.
async fn error_for_the_object(filter: &str, filters: &[&str], message: &str) {
    let (d, policy) = desired(FilterRef::Name(filter.into()));
    let (fleet, _) = start(d, filters).await;
    let plan = fleet.plan(1).await.expect("plan");
    let o = object(&plan, &policy);
    assert_eq!(o.action, Action::Error);
    assert!(o.requests.is_empty());
    let error = o.error.as_deref().expect("an error message");
    assert!(error.contains(message), "{error}");
    let others: Vec<_> = plan
        .objects()
        .map(|(_, o)| o)
        .filter(|o| o.display_name != policy)
        .collect();
    assert!(!others.is_empty());
    for o in others {
        assert_eq!(o.action, Action::Create, "{} still plans", o.address);
    }
    fleet.emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_filter_name_is_an_error_for_that_object_only() {
    error_for_the_object(
        "Kiosks",
        &["Windows 10 and later"],
        "assignment filter \"Kiosks\" does not exist in this tenant",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ambiguous_filter_name_is_an_error() {
    error_for_the_object(
        "Kiosks",
        &["Kiosks", "Kiosks", "Windows 10 and later"],
        "assignment filter name \"Kiosks\" is ambiguous in this tenant (2 filters have it)",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_name_that_moved_since_the_plan_stops_the_apply() {
    let (d, policy) = desired(FilterRef::Name("Windows 10 and later".into()));
    let (fleet, _) = start(d, &["Windows 10 and later"]).await;
    let plan = fleet.plan(1).await.expect("plan");
    assert!(!plan.errored, "{:#?}", plan.summary);
    // A second filter of that name appears between plan and apply: the name no longer
    // gives the id the plan recorded.
    add_filters(&fleet, &["Windows 10 and later"]).await;
    let report = fleet
        .apply(&plan, &ApplyOptions::default())
        .await
        .expect("not refused as a whole");
    assert!(!report.success);
    let text = report.render_human();
    assert!(
        text.contains("assignment filter \"Windows 10 and later\" resolved to"),
        "{text}"
    );
    let tenant = &fleet.desired[0].tenant.id;
    assert!(
        !fleet
            .emulator
            .admin()
            .policies(tenant)
            .iter()
            .any(|p| p["name"] == policy.as_str()),
        "nothing was written"
    );
    fleet.emulator.shutdown().await;
}
