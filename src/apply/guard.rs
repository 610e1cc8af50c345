//! Checks made on the whole plan before anything is sent: is it applicable at all (not
//! errored, same format and rampart version, same inputs), and does it pass the removal
//! guard. Pure.
//!
//! Removal guard: deletions are only ever of managed objects in tenants whose profiles allow
//! removal (the planner only plans those; apply re-checks the marker on a fresh read before
//! each delete). On top of that an apply is refused, before any write, when its deletions
//! exceed either threshold, unless mass deletion is explicitly allowed:
//! - the count: more than `max_deletions` objects deleted over the whole plan;
//! - the share: in one tenant, more than `max_deletion_share` of its managed objects
//!   deleted. A single deletion never trips the share rule (in a tenant with two managed
//!   objects, one deletion is 50%, which is not a mass deletion).
//!
//! A `Replace` deletes and re-creates one object, so it is not counted as a deletion.

use super::ApplyOptions;
use crate::plan::{Action, FORMAT_VERSION, Plan};

/// Why an apply was refused before any write.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyRefused {
    #[error(
        "every tenant of the plan is errored ({errors} error(s)): fix them and plan again; an errored tenant is never applied"
    )]
    Errored { errors: usize },
    #[error(
        "plan format version {found} is not supported (this rampart applies version {expected})"
    )]
    FormatVersion { found: u32, expected: u32 },
    #[error("the plan was made by rampart {found}; this is rampart {expected}: plan again")]
    RampartVersion { found: String, expected: String },
    #[error(
        "the policies or profiles changed since the plan was made (inputs digest {plan} vs {current}): plan again"
    )]
    InputsChanged { plan: String, current: String },
    #[error("removal guard: {}; pass --allow-mass-deletion if this is intended", .reasons.join("; "))]
    MassDeletion { reasons: Vec<String> },
    #[error("the plan is malformed: {0}")]
    Malformed(String),
    #[error(
        "the plan is not what its recorded observations and the current inputs give, so it was edited or made by other code; nothing was applied:\n  {}",
        .problems.join("\n  ")
    )]
    Edited { problems: Vec<String> },
    #[error(
        "the plan cannot be checked against the current inputs (apply re-derives every request from them): {0}"
    )]
    NoInputs(String),
}

/// Checks that the plan may be applied by this rampart with these inputs.
pub fn check_plan(plan: &Plan, current_inputs_digest: Option<&str>) -> Result<(), ApplyRefused> {
    if plan.format_version != FORMAT_VERSION {
        return Err(ApplyRefused::FormatVersion {
            found: plan.format_version,
            expected: FORMAT_VERSION,
        });
    }
    if plan.rampart_version != env!("CARGO_PKG_VERSION") {
        return Err(ApplyRefused::RampartVersion {
            found: plan.rampart_version.clone(),
            expected: env!("CARGO_PKG_VERSION").to_string(),
        });
    }
    // Recount rather than trust the flag alone: a hand-edited file must not slip through.
    let mut recounted = plan.clone();
    recounted.recount();
    if plan.errored != recounted.errored || plan.summary != recounted.summary {
        return Err(ApplyRefused::Malformed(
            "its summary does not match its objects".to_string(),
        ));
    }
    // Isolation: an errored tenant is skipped by the engine and reported; the others are
    // applied. Only a plan with nothing but errored tenants is refused outright.
    if recounted.errored
        && !plan.tenants.is_empty()
        && plan.tenants.iter().all(|t| t.summary().errors > 0)
    {
        return Err(ApplyRefused::Errored {
            errors: recounted.summary.errors.max(1),
        });
    }
    if let Some(current) = current_inputs_digest
        && current != plan.inputs_digest
    {
        return Err(ApplyRefused::InputsChanged {
            plan: plan.inputs_digest.clone(),
            current: current.to_string(),
        });
    }
    for (t, o) in plan.objects() {
        if o.action == Action::Delete
            && o.requests
                .iter()
                .any(|r| r.method != crate::plan::HttpMethod::Delete)
        {
            return Err(ApplyRefused::Malformed(format!(
                "{}/{}/{}: a deletion carries a request that is not a DELETE",
                t.tenant, o.address.kind, o.address.name
            )));
        }
        if !o.action.writes() && !o.requests.is_empty() {
            return Err(ApplyRefused::Malformed(format!(
                "{}: action {:?} carries requests",
                o.address, o.action
            )));
        }
    }
    Ok(())
}

/// Deletions and managed objects of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionCount {
    pub deletions: usize,
    pub managed: usize,
}

/// Counts a tenant's deletions and managed objects (objects with an observed managed Graph
/// object: no-ops, updates, replacements and deletions).
pub fn deletion_count(t: &crate::plan::TenantPlan) -> DeletionCount {
    let mut c = DeletionCount {
        deletions: 0,
        managed: 0,
    };
    for o in &t.objects {
        // Objects, not addresses: one address that would delete two Graph objects counts
        // two (the planner refuses a marker found on several objects of one type, but the
        // guard does not rely on it).
        if o.action == Action::Delete {
            c.deletions += o
                .requests
                .iter()
                .filter(|r| r.method == crate::plan::HttpMethod::Delete)
                .count()
                .max(1);
        }
        if matches!(
            o.action,
            Action::NoOp | Action::Update | Action::Replace | Action::Delete
        ) {
            c.managed += o.observed.len();
        }
    }
    c
}

/// The removal guard (see the module doc).
pub fn removal_guard(plan: &Plan, opts: &ApplyOptions) -> Result<(), ApplyRefused> {
    if opts.allow_mass_deletion {
        return Ok(());
    }
    let mut reasons = Vec::new();
    let mut total = 0;
    for t in &plan.tenants {
        let c = deletion_count(t);
        total += c.deletions;
        if c.deletions > 1 && (c.deletions as f64) > opts.max_deletion_share * (c.managed as f64) {
            reasons.push(format!(
                "tenant {} would lose {} of its {} managed objects (more than {:.0}%)",
                t.tenant,
                c.deletions,
                c.managed,
                opts.max_deletion_share * 100.0
            ));
        }
    }
    if total > opts.max_deletions {
        reasons.insert(
            0,
            format!(
                "{total} deletions in the plan (more than --max-deletions {})",
                opts.max_deletions
            ),
        );
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(ApplyRefused::MassDeletion { reasons })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Address, Kind};
    use crate::plan::{
        CreatedFrom, HttpMethod, ObjectPlan, ObservedRef, PlannedRequest, RequestPurpose, Resource,
        TenantPlan, TenantStatus,
    };

    fn object(name: &str, action: Action) -> ObjectPlan {
        let mut o = ObjectPlan::new(
            Address {
                tenant: "t".into(),
                kind: Kind::DetectionRule,
                name: name.into(),
            },
            action,
            name,
        );
        o.observed.push(ObservedRef {
            resource: Resource::DetectionRule,
            id: name.into(),
            path: format!("/beta/security/rules/detectionRules/{name}"),
            last_modified: None,
            fingerprint: "sha256:x".into(),
            fields: Default::default(),
        });
        if action == Action::Delete {
            o.requests.push(PlannedRequest {
                purpose: RequestPurpose::Delete,
                method: HttpMethod::Delete,
                path: format!("/beta/security/rules/detectionRules/{name}"),
                body: None,
            });
        }
        o
    }

    fn plan(deletes: usize, keeps: usize) -> Plan {
        let mut objects: Vec<ObjectPlan> = (0..deletes)
            .map(|i| object(&format!("d{i}"), Action::Delete))
            .collect();
        objects.extend((0..keeps).map(|i| object(&format!("k{i}"), Action::NoOp)));
        Plan::new(
            vec![TenantPlan {
                tenant: "t".into(),
                tenant_id: "id".into(),
                status: TenantStatus::Ok,
                objects,
                observation: None,
            }],
            "sha256:inputs".into(),
            CreatedFrom::default(),
        )
    }

    #[test]
    fn the_guard_counts_graph_objects_not_addresses() {
        // Issue 10 (4): one address whose deletion sends two DELETEs counts two.
        let mut p = plan(1, 0);
        let o = &mut p.tenants[0].objects[0];
        let mut second = o.requests[0].clone();
        second.path.push_str("-copy");
        o.requests.push(second);
        let strict = ApplyOptions {
            max_deletions: 1,
            max_deletion_share: 1.0,
            ..ApplyOptions::default()
        };
        let e = removal_guard(&p, &strict).unwrap_err();
        assert!(e.to_string().contains("2 deletions"), "{e}");
        assert_eq!(deletion_count(&p.tenants[0]).deletions, 2);
    }

    #[test]
    fn one_deletion_never_trips_the_share_rule() {
        assert_eq!(removal_guard(&plan(1, 0), &ApplyOptions::default()), Ok(()));
        assert_eq!(removal_guard(&plan(1, 1), &ApplyOptions::default()), Ok(()));
    }

    #[test]
    fn share_and_count_rules() {
        let opts = ApplyOptions::default();
        // 2 of 8 managed = 25%: allowed; 3 of 8: refused.
        assert_eq!(removal_guard(&plan(2, 6), &opts), Ok(()));
        assert!(matches!(
            removal_guard(&plan(3, 5), &opts),
            Err(ApplyRefused::MassDeletion { .. })
        ));
        // 11 of 100: the count rule alone.
        let e = removal_guard(&plan(11, 89), &opts).unwrap_err();
        assert!(e.to_string().contains("11 deletions"), "{e}");
        let allowed = ApplyOptions {
            allow_mass_deletion: true,
            ..ApplyOptions::default()
        };
        assert_eq!(removal_guard(&plan(11, 0), &allowed), Ok(()));
    }

    #[test]
    fn a_deletion_that_writes_anything_but_delete_is_malformed() {
        let mut p = plan(1, 0);
        p.tenants[0].objects[0].requests[0].method = HttpMethod::Post;
        assert!(matches!(
            check_plan(&p, None),
            Err(ApplyRefused::Malformed(_))
        ));
        assert_eq!(check_plan(&plan(1, 0), Some("sha256:inputs")), Ok(()));
    }
}
