//! What the fleet security commands share: the tenants they run in ([`SocTenant`]), the
//! application permissions they need ([`SocPermission`], one table of role names and
//! sentences), turning a Graph error into a per-tenant [`TenantFailure`] that says exactly
//! which permission to consent, and running one job per tenant through the fleet runner so
//! one tenant's failure never stops the others.
//!
//! Limits honoured per tenant (`graph-api-2.md` §1.4, §2.7): each command makes at most a
//! few calls per tenant (far under 45 hunting calls per minute and 150 requests per minute
//! for incidents/alerts), through the one retrying client, which honours `Retry-After` on
//! 429; a hunting 429 that names the CPU quota is reported with the 15-minute window, not
//! retried in a loop. The per-request timeout is raised above the service's 3-minute
//! hunting timeout ([`HUNT_REQUEST_TIMEOUT`]), so the service's own answer arrives first.

use std::num::NonZeroUsize;
use std::time::Duration;

use crate::graph::client::{GraphClient, GraphContext, GraphOptions};
use crate::graph::error::GraphError;
use crate::graph::fleet::run_per_tenant;

use super::grid::TenantFailure;

/// The client's per-request timeout for these commands: the service times a hunting query
/// out after 3 minutes, so wait a little longer than that for its answer.
pub const HUNT_REQUEST_TIMEOUT: Duration = Duration::from_secs(200);

/// One selected tenant: profile name and id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SocTenant {
    /// Name from the profile.
    pub name: String,
    /// Entra tenant id.
    pub id: String,
}

/// The application permissions the fleet security commands use
/// (`graph-api-2.md` §1.6, §2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum SocPermission {
    /// `ThreatHunting.Read.All`: `runHuntingQuery` (hunt, devices, vulnerabilities).
    ThreatHunting,
    /// `SecurityIncident.Read.All`: list/get incidents.
    IncidentRead,
    /// `SecurityIncident.ReadWrite.All`: update incidents.
    IncidentWrite,
    /// `SecurityAlert.Read.All`: list/get alerts.
    AlertRead,
    /// `SecurityAlert.ReadWrite.All`: update alerts.
    AlertWrite,
}

impl SocPermission {
    /// Every permission, in table order.
    pub const ALL: [SocPermission; 5] = [
        SocPermission::ThreatHunting,
        SocPermission::IncidentRead,
        SocPermission::IncidentWrite,
        SocPermission::AlertRead,
        SocPermission::AlertWrite,
    ];

    /// The app role name and what it is for (one table, every renderer reads it).
    pub fn row(self) -> (&'static str, &'static str) {
        match self {
            SocPermission::ThreatHunting => (
                "ThreatHunting.Read.All",
                "run advanced hunting queries (hunt, devices, vulnerabilities)",
            ),
            SocPermission::IncidentRead => ("SecurityIncident.Read.All", "list incidents"),
            SocPermission::IncidentWrite => (
                "SecurityIncident.ReadWrite.All",
                "update incidents (incidents update)",
            ),
            SocPermission::AlertRead => ("SecurityAlert.Read.All", "list alerts"),
            SocPermission::AlertWrite => (
                "SecurityAlert.ReadWrite.All",
                "update alerts (alerts update)",
            ),
        }
    }

    /// The app role name.
    pub fn role(self) -> &'static str {
        self.row().0
    }
}

/// Graph options for these commands: the defaults with [`HUNT_REQUEST_TIMEOUT`].
pub fn options(mut o: GraphOptions) -> GraphOptions {
    o.request_timeout = o.request_timeout.max(HUNT_REQUEST_TIMEOUT);
    o
}

/// Turns a Graph error for `tenant` into a failure line. A 403 names `needed`; a 429 that
/// mentions the CPU quota says when the next window opens.
pub fn failure(tenant: &SocTenant, err: &GraphError, needed: SocPermission) -> TenantFailure {
    let (missing, message) = match err {
        GraphError::Status {
            status: 401 | 403,
            message,
            ..
        } => (
            Some(needed.role().to_string()),
            format!(
                "the app lacks the application permission {} in this tenant (needed to {}); grant admin consent for it{}",
                needed.role(),
                needed.row().1,
                message
                    .as_deref()
                    .map(|m| format!(" (Graph: {m})"))
                    .unwrap_or_default()
            ),
        ),
        GraphError::Status {
            status: 429,
            message,
            ..
        } if message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("cpu")) =>
        {
            (
                None,
                format!(
                    "the tenant's hunting CPU quota is used up; queries are blocked until the next 15-minute cycle (Graph: {})",
                    message.as_deref().unwrap_or_default()
                ),
            )
        }
        other => (None, other.to_string()),
    };
    TenantFailure {
        tenant: tenant.name.clone(),
        tenant_id: tenant.id.clone(),
        missing_permission: missing,
        message,
    }
}

/// A tenant and the client to reach it.
pub type Connected = (SocTenant, GraphClient);

/// Runs `job` once per tenant (at most `parallelism` at a time) and returns the results in
/// input order; a panicking job becomes that tenant's failure.
pub async fn per_tenant<R, F, Fut>(
    tenants: Vec<Connected>,
    parallelism: NonZeroUsize,
    job: F,
) -> Vec<(SocTenant, Result<R, TenantFailure>)>
where
    R: Send + 'static,
    F: Fn(SocTenant, GraphClient) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<R, TenantFailure>> + Send + 'static,
{
    let ids: Vec<String> = tenants.iter().map(|(t, _)| t.id.clone()).collect();
    let by_id: std::collections::HashMap<String, Connected> = tenants
        .iter()
        .map(|(t, c)| (t.id.clone(), (t.clone(), c.clone())))
        .collect();
    let by_id = std::sync::Arc::new(by_id);
    let job = std::sync::Arc::new(job);
    let lookup = by_id.clone();
    let outcomes = run_per_tenant(ids, parallelism, move |id| {
        let (t, c) = lookup[&id].clone();
        let job = job.clone();
        async move { job(t, c).await }
    })
    .await;
    outcomes
        .into_iter()
        .map(|o| {
            let t = by_id[&o.tenant].0.clone();
            let r = match o.result {
                Ok(r) => r,
                Err(e) => Err(TenantFailure {
                    tenant: t.name.clone(),
                    tenant_id: t.id.clone(),
                    missing_permission: None,
                    message: e.to_string(),
                }),
            };
            (t, r)
        })
        .collect()
}

/// Convenience for callers holding a context: a client per tenant.
pub fn clients(
    ctx: &GraphContext,
    tenants: Vec<(SocTenant, crate::graph::auth::TenantAuth)>,
) -> Vec<Connected> {
    tenants
        .into_iter()
        .map(|(t, a)| {
            let c = ctx.client(a);
            (t, c)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::error::{GiveUp, RequestContext};

    fn status(code: u16, message: &str) -> GraphError {
        GraphError::Status {
            ctx: Box::new(RequestContext {
                tenant: "t".into(),
                method: "POST".into(),
                path: "/v1.0/security/runHuntingQuery".into(),
                client_request_id: "c".into(),
                request_id: None,
                attempts: 1,
            }),
            status: code,
            code: Some("x".into()),
            inner_code: None,
            message: Some(message.into()),
            give_up: GiveUp::NotRetryable,
        }
    }

    #[test]
    fn failures_name_the_permission_or_the_quota() {
        let t = SocTenant {
            name: "contoso".into(),
            id: "id".into(),
        };
        let f = failure(&t, &status(403, "denied"), SocPermission::ThreatHunting);
        assert_eq!(
            f.missing_permission.as_deref(),
            Some("ThreatHunting.Read.All")
        );
        assert!(
            f.message
                .starts_with("the app lacks the application permission ThreatHunting.Read.All")
        );
        let q = failure(
            &t,
            &status(429, "CPU quota exceeded"),
            SocPermission::ThreatHunting,
        );
        assert!(q.message.contains("15-minute"));
        assert_eq!(q.missing_permission, None);
        let other = failure(&t, &status(400, "bad KQL"), SocPermission::ThreatHunting);
        assert!(other.message.contains("bad KQL"));
    }
}
