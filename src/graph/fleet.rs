//! The fleet runner: one async job per tenant, many tenants at once.
//!
//! Guarantees:
//! - at most `parallelism` jobs run at a time (a semaphore);
//! - never two jobs on one tenant at once, even if a tenant appears twice in the input
//!   (a per-tenant lock, taken before a slot so that waiting does not hold a slot);
//! - one tenant's failure, or even a panic in its job, never stops the others: each job
//!   runs in its own task, and a panic becomes [`FleetError::Panicked`] for that tenant;
//! - results come back in input order, whatever order tenants finished in, so output built
//!   from them is deterministic.
//!
//! Progress is reported as `tracing` events (`rampart::graph` target): started, finished.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use tokio::sync::{Mutex, Semaphore};

/// Default `--parallelism`.
pub const DEFAULT_PARALLELISM: usize = 16;

/// A job that did not produce a result.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FleetError {
    /// The job panicked; the message is the panic payload when it was a string.
    #[error("the job for tenant {tenant} panicked: {message}")]
    Panicked {
        /// Tenant.
        tenant: String,
        /// Panic message.
        message: String,
    },
    /// The job was cancelled (the runtime shut down).
    #[error("the job for tenant {tenant} was cancelled")]
    Cancelled {
        /// Tenant.
        tenant: String,
    },
}

/// One tenant's outcome.
#[derive(Debug)]
pub struct TenantOutcome<R> {
    /// The tenant id.
    pub tenant: String,
    /// The job's result, or why there is none.
    pub result: Result<R, FleetError>,
}

/// Runs `job(tenant)` for every tenant with at most `parallelism` at a time, one at a time
/// per tenant id, and returns the outcomes in input order.
pub async fn run_per_tenant<R, F, Fut>(
    tenants: Vec<String>,
    parallelism: NonZeroUsize,
    job: F,
) -> Vec<TenantOutcome<R>>
where
    R: Send + 'static,
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(parallelism.get()));
    let mut locks: HashMap<String, Arc<Mutex<()>>> = HashMap::new();
    let job = Arc::new(job);
    let mut handles = Vec::with_capacity(tenants.len());
    for tenant in &tenants {
        let lock = locks.entry(tenant.clone()).or_default().clone();
        let slots = slots.clone();
        let job = job.clone();
        let tenant = tenant.clone();
        handles.push(tokio::spawn(async move {
            let _tenant_guard = lock.lock_owned().await;
            // A closed semaphore is impossible here (we never close it); if it were, run
            // anyway rather than drop the tenant silently.
            let _slot = slots.acquire_owned().await.ok();
            tracing::debug!(target: "rampart::graph", tenant = %tenant, "tenant started");
            let r = job(tenant.clone()).await;
            tracing::debug!(target: "rampart::graph", tenant = %tenant, "tenant finished");
            r
        }));
    }
    let mut out = Vec::with_capacity(handles.len());
    for (tenant, h) in tenants.into_iter().zip(handles) {
        let result = match h.await {
            Ok(r) => Ok(r),
            Err(e) if e.is_panic() => {
                let p = e.into_panic();
                let message = p
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                tracing::error!(target: "rampart::graph", tenant = %tenant, message = %message, "tenant job panicked");
                Err(FleetError::Panicked {
                    tenant: tenant.clone(),
                    message,
                })
            }
            Err(_) => Err(FleetError::Cancelled {
                tenant: tenant.clone(),
            }),
        };
        out.push(TenantOutcome { tenant, result });
    }
    out
}
