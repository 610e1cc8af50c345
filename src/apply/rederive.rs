//! Re-deriving a plan before applying it: a saved plan is a file anyone with write access
//! to the CI workspace can edit, and its requests are what apply sends. So apply never
//! trusts them: it runs the planner again on the plan's *recorded observations*
//! ([`TenantPlan::observation`]) and the *current inputs* (whose digest must equal the
//! plan's), applies the plan's recorded `--target`/`--kind` selection, and refuses the plan
//! when any object differs from what that gives: a request edited (body, path, method), a
//! request missing or extra, an action rewritten, a tenant id changed. Each difference
//! names the object. Pure (no network, files or clock).
//!
//! What this proves, and what it does not: the requests are exactly those the planner
//! makes from the recorded observations. The observations themselves could be edited too;
//! apply's freshness check re-reads every Graph object a write touches and compares its
//! fingerprint with the recorded one before writing (`engine`), so an edited observation of
//! an object makes that object stale. Group names resolved to ids and built-in role names
//! are taken from the recorded observation; see docs/safety.md for that limit.

use std::collections::{BTreeMap, BTreeSet};

use crate::desired::{Address, Kind, TenantDesired};
use crate::plan::{ObjectPlan, Plan, TenantStatus, address_matches, diff_tenant};

/// Every difference between the plan and its re-derivation, one line each naming the
/// object (`tenant/kind/name: ...`); empty when the plan is what its observations and the
/// inputs give.
pub fn rederive(plan: &Plan, inputs: &[TenantDesired]) -> Vec<String> {
    let by_name: BTreeMap<&str, &TenantDesired> =
        inputs.iter().map(|d| (d.tenant.name.as_str(), d)).collect();
    let kinds: Vec<Kind> = plan
        .created_from
        .kinds
        .iter()
        .filter_map(|k| Kind::parse(k))
        .collect();
    let mut problems = Vec::new();
    if kinds.len() != plan.created_from.kinds.len() {
        problems.push("the plan records an unknown --kind".to_string());
    }
    let targets = &plan.created_from.targets;
    let selected = |a: &Address| {
        (kinds.is_empty() || kinds.contains(&a.kind))
            && (targets.is_empty() || targets.iter().any(|t| address_matches(t, a)))
    };
    let mut seen = BTreeSet::new();
    for t in &plan.tenants {
        if !seen.insert(t.tenant.as_str()) {
            problems.push(format!("{}: the tenant occurs twice in the plan", t.tenant));
            continue;
        }
        let Some(desired) = by_name.get(t.tenant.as_str()) else {
            problems.push(format!(
                "{}: the tenant is not in the current inputs",
                t.tenant
            ));
            continue;
        };
        if desired.tenant.id != t.tenant_id {
            problems.push(format!(
                "{}: the plan names tenant id {} but the inputs say {}",
                t.tenant, t.tenant_id, desired.tenant.id
            ));
            continue;
        }
        if let TenantStatus::Failed { .. } = t.status {
            // A failed tenant is never written; it must carry nothing to write.
            for o in t.objects.iter().filter(|o| !o.requests.is_empty()) {
                problems.push(format!(
                    "{}: the tenant failed at plan time but the object carries requests",
                    o.address
                ));
            }
            continue;
        }
        let Some(observation) = &t.observation else {
            if t.objects.iter().any(|o| !o.requests.is_empty()) {
                problems.push(format!(
                    "{}: the plan records no observation to check its requests against",
                    t.tenant
                ));
            }
            continue;
        };
        if observation.tenant_id != t.tenant_id {
            problems.push(format!(
                "{}: the recorded observation is of tenant {}",
                t.tenant, observation.tenant_id
            ));
            continue;
        }
        let mut derived = diff_tenant(desired, observation);
        derived.retain(|o| selected(&o.address));
        let recorded: BTreeMap<String, &ObjectPlan> = t
            .objects
            .iter()
            .map(|o| (o.address.to_string(), o))
            .collect();
        if recorded.len() != t.objects.len() {
            problems.push(format!("{}: an object occurs twice in the plan", t.tenant));
        }
        let derived_by: BTreeMap<String, &ObjectPlan> = derived
            .objects
            .iter()
            .map(|o| (o.address.to_string(), o))
            .collect();
        let addresses: BTreeSet<&String> = recorded.keys().chain(derived_by.keys()).collect();
        for a in addresses {
            match (recorded.get(a), derived_by.get(a)) {
                (Some(r), Some(d)) => {
                    if let Some(why) = object_difference(r, d) {
                        problems.push(format!("{a}: {why}"));
                    }
                }
                (Some(r), None) => problems.push(format!(
                    "{a}: not in the plan its observations and the current inputs give (an extra object{})",
                    if r.requests.is_empty() {
                        String::new()
                    } else {
                        format!(" with {} request(s)", r.requests.len())
                    }
                )),
                (None, Some(d)) if d.action.writes() => problems.push(format!(
                    "{a}: the plan lacks this object's {} request(s) (it {})",
                    d.requests.len(),
                    d.action.sentence()
                )),
                (None, Some(_)) => problems.push(format!("{a}: missing from the plan")),
                (None, None) => {}
            }
        }
    }
    problems
}

/// How a recorded object differs from the derived one, the first way found (requests
/// first: they are what would be sent).
fn object_difference(recorded: &ObjectPlan, derived: &ObjectPlan) -> Option<String> {
    if recorded.action != derived.action {
        return Some(format!(
            "the plan says it {} but its observations and the inputs say it {}",
            recorded.action.sentence(),
            derived.action.sentence()
        ));
    }
    let (r, d) = (&recorded.requests, &derived.requests);
    for i in 0..r.len().max(d.len()) {
        match (r.get(i), d.get(i)) {
            (Some(a), Some(b)) if a == b => {}
            (Some(a), Some(b)) => {
                let what = if a.method != b.method {
                    "method"
                } else if a.path != b.path {
                    "path"
                } else if a.body != b.body {
                    "body"
                } else {
                    "purpose"
                };
                return Some(format!(
                    "request {} ({:?} {}) differs in its {what} from the one derived ({:?} {})",
                    i + 1,
                    a.method,
                    a.path,
                    b.method,
                    b.path
                ));
            }
            (Some(a), None) => {
                return Some(format!(
                    "request {} ({:?} {}) is extra",
                    i + 1,
                    a.method,
                    a.path
                ));
            }
            (None, Some(b)) => {
                return Some(format!(
                    "request {} ({:?} {}) is missing",
                    i + 1,
                    b.method,
                    b.path
                ));
            }
            (None, None) => {}
        }
    }
    if recorded.observed != derived.observed {
        return Some("the recorded observed objects differ from those derived".to_string());
    }
    if recorded != derived {
        // Changes, notes, counts: what `show` and the PR comment display must be what
        // would be done, too.
        return Some("the displayed changes differ from those derived".to_string());
    }
    None
}
