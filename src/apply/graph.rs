//! What apply needs from Graph, as a small trait ([`TenantGraph`]), implemented over the
//! shared client ([`crate::graph::client::GraphClient`]) by [`ClientGraph`].
//!
//! Why a trait: the engine needs four operations (read one entity, read a collection,
//! write, counters). Keeping them behind a trait lets the tests wrap a tenant's connection
//! to stop the apply after its k-th write (a crash) or to make a write succeed while its
//! answer is lost (an ambiguous failure that really happened), which no service does on
//! demand.
//!
//! The shared client does the transport rules (DESIGN.md "Graph client"): retries only
//! where safe, `Retry-After`, the run's retry budget, per-tenant write pacing and
//! [`GraphError::Ambiguous`] for a POST/PATCH whose fate is unknown. This module only
//! translates its errors into the small vocabulary the engine branches on.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::Value;

use crate::graph::client::GraphClient;
use crate::graph::error::GraphError;
use crate::plan::HttpMethod;

/// Why a Graph call failed. Messages come from the shared client's errors, which name the
/// tenant, the request and Graph's `request-id`, and never carry tokens or bodies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Graph answered with an error status (after any retries).
    #[error("{detail}")]
    Http {
        status: u16,
        code: String,
        detail: String,
    },
    /// A non-idempotent write (POST, PATCH) may or may not have been carried out.
    #[error("{detail}")]
    Ambiguous { detail: String },
    /// No answer after every allowed retry.
    #[error("{detail}")]
    Transport { detail: String },
    /// No usable token for the tenant (including a token for another tenant).
    #[error("{detail}")]
    Auth { detail: String },
    /// Anything else (an unusable answer, a refused URL).
    #[error("{detail}")]
    Other { detail: String },
}

impl CallError {
    /// The HTTP status when Graph answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            CallError::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether this failure means the whole tenant is out of reach (no token, no
    /// permission, no service, throttled past every retry): the engine then stops writing
    /// to that tenant (and only that tenant).
    pub fn tenant_wide(&self) -> bool {
        matches!(self, CallError::Auth { .. } | CallError::Transport { .. })
            || matches!(self.status(), Some(401 | 403 | 429))
    }
}

impl From<GraphError> for CallError {
    fn from(e: GraphError) -> Self {
        let detail = e.to_string();
        match &e {
            GraphError::Status { status, code, .. } => CallError::Http {
                status: *status,
                code: code.clone().unwrap_or_default(),
                detail,
            },
            GraphError::Ambiguous { .. } => CallError::Ambiguous { detail },
            GraphError::Transport { .. } => CallError::Transport { detail },
            GraphError::Auth(_) => CallError::Auth { detail },
            _ => CallError::Other { detail },
        }
    }
}

/// Per-tenant request counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallStats {
    /// Graph operations asked for (each page of a collection counts once).
    pub requests: u64,
    /// HTTP exchanges, retries included.
    pub round_trips: u64,
    /// Writes answered with success.
    pub writes: u64,
    /// Re-sent requests.
    pub retries: u64,
    /// Answers with status 429.
    pub throttled: u64,
}

/// The Graph operations apply performs on one tenant. Paths start with the API version
/// (`/beta/...`, `/v1.0/...`) and may carry a query.
#[async_trait::async_trait]
pub trait TenantGraph: Send + Sync {
    /// Reads one entity; `Ok(None)` when Graph answers 404.
    async fn get(&self, path: &str) -> Result<Option<Value>, CallError>;
    /// Reads a whole collection, following `@odata.nextLink`.
    async fn list(&self, path: &str) -> Result<Vec<Value>, CallError>;
    /// Sends a write; returns the answer's body (`Null` for 204).
    async fn write(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError>;
    /// Counters so far.
    fn stats(&self) -> CallStats;
}

/// A tenant's connection through the shared Graph client.
pub struct ClientGraph {
    client: GraphClient,
    writes: AtomicU64,
}

impl ClientGraph {
    pub fn new(client: GraphClient) -> Arc<Self> {
        Arc::new(ClientGraph {
            client,
            writes: AtomicU64::new(0),
        })
    }
}

#[async_trait::async_trait]
impl TenantGraph for ClientGraph {
    async fn get(&self, path: &str) -> Result<Option<Value>, CallError> {
        match self.client.get(path).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    async fn list(&self, path: &str) -> Result<Vec<Value>, CallError> {
        Ok(self.client.get_all(path).await?)
    }

    async fn write(
        &self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, CallError> {
        let empty = Value::Null;
        let b = body.unwrap_or(&empty);
        let r = match method {
            HttpMethod::Post => self.client.post(path, b).await,
            HttpMethod::Put => self.client.put(path, b).await,
            HttpMethod::Patch => self.client.patch(path, b).await,
            HttpMethod::Delete => self.client.delete(path).await,
        }?;
        self.writes.fetch_add(1, Ordering::Relaxed);
        Ok(r.body)
    }

    fn stats(&self) -> CallStats {
        let c = self
            .client
            .context()
            .stats()
            .tenant(self.client.tenant_id());
        CallStats {
            requests: c.requests,
            round_trips: c.round_trips,
            writes: self.writes.load(Ordering::Relaxed),
            retries: c.retries,
            throttled: c.throttled,
        }
    }
}
