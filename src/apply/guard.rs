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
        "the plan is errored ({errors} error(s)): fix them and plan again; an errored plan is never applied"
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
    if plan.errored || recounted.errored {
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
        if o.action == Action::Delete {
            c.deletions += 1;
        }
        if matches!(
            o.action,
            Action::NoOp | Action::Update | Action::Replace | Action::Delete
        ) && !o.observed.is_empty()
        {
            c.managed += 1;
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
