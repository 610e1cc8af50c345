//! `rampart apply`: turns a reviewed plan into reality across the fleet, exactly once, and
//! proves it by reading back.
//!
//! [`apply_plan`] applies a [`Plan`] as it stands: it never re-plans and never writes
//! anything the plan does not list. Before the first write anywhere it refuses a plan that
//! is from another format or rampart version, made from other inputs (when the caller
//! gives the current inputs or their digest), whose requests are not those its recorded
//! observations and the current inputs give ([`rederive`]: an edited plan), or whose
//! deletions trip the removal guard ([`guard`]). A tenant whose plan failed or holds an
//! error is skipped and reported; the others are applied (isolation). Tenants then run concurrently (at most `parallelism` at a time, one task
//! per tenant, each with its own write pacing); one tenant's failure never stops another.
//! Per tenant, [`engine`] re-checks every object against what the plan observed (a moved
//! object is *stale* and not written), writes creates and updates before deletions, makes
//! creates exactly-once after ambiguous failures by looking for the ownership marker, and
//! reads every written object back to compare it with the plan.
//!
//! Limits: without the current inputs (`--skip-inputs-check`) apply cannot re-derive the
//! requests and trusts them as reviewed; it cannot see
//! writes by other apps between its freshness check and its write (Graph offers no ETags on
//! these resources, graph-api.md §4.6), which is why the check is made per tenant right
//! before that tenant's writes and the result is verified afterwards.

pub mod bench;
pub mod engine;
pub mod entity;
pub mod graph;
pub mod guard;
pub mod rederive;
pub mod report;

use std::sync::Arc;

use futures::StreamExt;

pub use bench::{BenchApplyReport, EmulatedFleet, bench_apply};
pub use graph::{CallError, CallStats, ClientGraph, TenantGraph};
pub use guard::{ApplyRefused, check_plan, removal_guard};
pub use report::{ApplyReport, Counts, ObjectResult, Outcome, TenantReport};

use crate::graph::auth::Authenticator;
use crate::graph::client::GraphContext;
use crate::plan::{Plan, TenantPlan};

/// Default `--max-deletions`.
pub const DEFAULT_MAX_DELETIONS: usize = 10;
/// Default `--max-deletion-share` (a fraction of a tenant's managed objects).
pub const DEFAULT_MAX_DELETION_SHARE: f64 = 0.25;
/// Default `--parallelism` (tenants applied at once).
pub const DEFAULT_PARALLELISM: usize = 16;

/// How to apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ApplyOptions {
    /// Tenants applied at once (at least 1).
    pub parallelism: usize,
    /// Refuse when the plan deletes more objects than this, over all tenants.
    pub max_deletions: usize,
    /// Refuse when a tenant would lose more than this share of its managed objects.
    pub max_deletion_share: f64,
    /// Skip the removal guard.
    pub allow_mass_deletion: bool,
    /// The digest of the current inputs; a plan made from other inputs is refused.
    pub current_inputs_digest: Option<String>,
    /// The current inputs (every tenant's desired state). When given, their digest must be
    /// the plan's and every request is re-derived from the plan's recorded observations
    /// and these ([`rederive`]); a plan whose requests differ is refused before any write.
    pub current_inputs: Option<Vec<crate::desired::TenantDesired>>,
    /// Read back and compare after writing.
    pub verify: bool,
    /// How many times a write with an unknown outcome is tried (after a lookup, for
    /// creates) before the object is reported failed.
    pub ambiguous_attempts: u32,
    /// Wait before re-sending after an unknown outcome, doubled each time (a 5xx or a
    /// dropped connection usually means the service is struggling).
    pub ambiguous_backoff: std::time::Duration,
    /// The lock held per tenant while its writes run (see [`crate::lock`]).
    pub lock: crate::lock::LockConfig,
    /// How long to wait for a tenant's lock held by another apply (`RAMPART_LOCK_TIMEOUT`).
    pub lock_timeout: std::time::Duration,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            parallelism: DEFAULT_PARALLELISM,
            max_deletions: DEFAULT_MAX_DELETIONS,
            max_deletion_share: DEFAULT_MAX_DELETION_SHARE,
            allow_mass_deletion: false,
            current_inputs_digest: None,
            current_inputs: None,
            verify: true,
            ambiguous_attempts: 5,
            ambiguous_backoff: std::time::Duration::from_millis(200),
            lock: crate::lock::LockConfig::None,
            lock_timeout: crate::lock::DEFAULT_TIMEOUT,
        }
    }
}

/// Gives each tenant its Graph connection (`Err`: the tenant cannot be reached at all,
/// e.g. no credential; it is reported failed and the others go on).
pub trait Connector: Send + Sync {
    fn connect(&self, tenant: &TenantPlan) -> Result<Arc<dyn TenantGraph>, String>;
}

/// Connects every tenant through the shared Graph client, one [`GraphClient`] (own write
/// pacer) per tenant, all sharing one context (connection pool, retry budget, counters).
///
/// [`GraphClient`]: crate::graph::client::GraphClient
pub struct GraphConnector {
    pub context: GraphContext,
    pub authenticator: Arc<Authenticator>,
}

impl Connector for GraphConnector {
    fn connect(&self, tenant: &TenantPlan) -> Result<Arc<dyn TenantGraph>, String> {
        let auth = self
            .authenticator
            .tenant_auth(&tenant.tenant_id)
            .map_err(|e| e.to_string())?;
        Ok(ClientGraph::new(self.context.client(auth)))
    }
}

/// Applies a saved or fresh plan exactly (see the module doc). `Err` means nothing was
/// written; `Ok` carries what happened per tenant and object (check
/// [`ApplyReport::success`]).
pub async fn apply_plan(
    plan: &Plan,
    connector: &dyn Connector,
    opts: &ApplyOptions,
) -> Result<ApplyReport, ApplyRefused> {
    check_plan(plan, opts.current_inputs_digest.as_deref())?;
    if let Some(inputs) = &opts.current_inputs {
        let chosen: Vec<crate::desired::TenantDesired> = inputs
            .iter()
            .filter(|d| plan.tenants.iter().any(|t| t.tenant == d.tenant.name))
            .cloned()
            .collect();
        check_plan(plan, Some(&crate::plan::inputs_digest(&chosen)))?;
        let problems = rederive::rederive(plan, &chosen);
        if !problems.is_empty() {
            return Err(ApplyRefused::Edited { problems });
        }
    }
    removal_guard(plan, opts)?;
    let tenants: Vec<TenantReport> = futures::stream::iter(plan.tenants.iter())
        .map(|t| async move {
            if let Some(why) = engine::errored_tenant(t) {
                return engine::unreachable_tenant(t, why);
            }
            // The tenant's lock is held from before its freshness checks until after its
            // read-backs: a second apply waits, then finds this one's objects (stale
            // creates) and writes nothing twice.
            let held = match opts.lock.acquire(&t.tenant_id, opts.lock_timeout).await {
                Ok(h) => h,
                Err(e) => return engine::unreachable_tenant(t, format!("lock: {e}")),
            };
            let mut report = match connector.connect(t) {
                Ok(g) => engine::apply_tenant(t, g, opts).await,
                Err(e) => engine::unreachable_tenant(t, e),
            };
            if let Err(e) = held.release().await
                && report.error.is_none()
            {
                report.error = Some(format!("applied, but the lock was not released: {e}"));
            }
            report
        })
        .buffer_unordered(opts.parallelism.max(1))
        .collect()
        .await;
    let mut report = ApplyReport::new(tenants);
    report.lock = opts.lock.describe();
    Ok(report)
}
