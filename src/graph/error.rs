//! Typed Graph errors.
//!
//! Every error names the tenant, the request (method and path) and both correlation ids:
//! our `client-request-id` and Graph's `request-id`, which is what Microsoft support asks
//! for. Graph's error `code` is parsed from the body (`innerError` / `innererror`, any
//! case, graph-api.md §4.4) because `code` is what callers branch on, never `message`.
//! Errors never contain a token, a secret or a request body.

use crate::graph::auth::AuthError;
use crate::graph::urls::UrlPolicyError;
use serde_json::Value;
use std::fmt;
use thiserror::Error;

/// Which request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    /// Target tenant.
    pub tenant: String,
    /// HTTP method.
    pub method: String,
    /// Path and query, relative to the Graph base URL (`/beta/...`).
    pub path: String,
    /// The `client-request-id` we sent.
    pub client_request_id: String,
    /// Graph's `request-id`, when an answer arrived.
    pub request_id: Option<String>,
    /// Attempts made.
    pub attempts: u32,
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "tenant {}: {} {} (request-id {}, client-request-id {}",
            self.tenant,
            self.method,
            self.path,
            self.request_id.as_deref().unwrap_or("-"),
            self.client_request_id
        )?;
        if self.attempts > 1 {
            write!(f, ", {} attempts", self.attempts)?;
        }
        f.write_str(")")
    }
}

/// Why retrying stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Not a retryable failure.
    NotRetryable,
    /// `max_attempts` reached.
    Attempts,
    /// The run's retry budget was empty.
    Budget,
}

/// Graph's error body, parsed leniently.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GraphErrorBody {
    /// `error.code`.
    pub code: Option<String>,
    /// `error.message`.
    pub message: Option<String>,
    /// The most specific nested code (`innerError.code`, recursively), if any.
    pub inner_code: Option<String>,
    /// `innerError.request-id`.
    pub request_id: Option<String>,
    /// `innerError.client-request-id`.
    pub client_request_id: Option<String>,
}

fn get_ci<'a>(obj: &'a serde_json::Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

fn str_ci(obj: &serde_json::Map<String, Value>, key: &str) -> Option<String> {
    get_ci(obj, key).and_then(Value::as_str).map(str::to_string)
}

impl GraphErrorBody {
    /// Parses `{"error": {...}}`; `None` when the body is not a Graph error.
    pub fn parse(body: &Value) -> Option<Self> {
        let err = get_ci(body.as_object()?, "error")?.as_object()?;
        let mut out = GraphErrorBody {
            code: str_ci(err, "code"),
            message: str_ci(err, "message"),
            ..Default::default()
        };
        let mut inner = get_ci(err, "innerError").and_then(Value::as_object);
        while let Some(i) = inner {
            out.request_id = out.request_id.or_else(|| str_ci(i, "request-id"));
            out.client_request_id = out
                .client_request_id
                .or_else(|| str_ci(i, "client-request-id"));
            if let Some(c) = str_ci(i, "code") {
                out.inner_code = Some(c);
            }
            inner = get_ci(i, "innerError").and_then(Value::as_object);
        }
        Some(out)
    }

    /// Parses raw bytes (a non-JSON body gives `None`).
    pub fn parse_bytes(body: &[u8]) -> Option<Self> {
        serde_json::from_slice(body)
            .ok()
            .and_then(|v| Self::parse(&v))
    }
}

/// A Graph request that failed.
#[derive(Debug, Error)]
pub enum GraphError {
    /// Graph answered with an error status.
    #[error("{ctx}: HTTP {status}{}{}{}", code.as_deref().map(|c| format!(" {c}")).unwrap_or_default(), message.as_deref().map(|m| format!(": {m}")).unwrap_or_default(), give_up_note(*give_up))]
    Status {
        /// Which request.
        ctx: Box<RequestContext>,
        /// HTTP status.
        status: u16,
        /// Graph error `code`.
        code: Option<String>,
        /// The most specific nested code.
        inner_code: Option<String>,
        /// Graph error `message`.
        message: Option<String>,
        /// Why it was not retried (further).
        give_up: GiveUp,
    },
    /// A non-idempotent request (POST, PATCH) failed in a way that does not say whether
    /// Graph applied it (503/504, connection dropped after sending). Not retried: the
    /// caller must look (for example by ownership marker) before trying again.
    #[error("{ctx}: outcome unknown ({cause}); it may have been applied, look before retrying")]
    Ambiguous {
        /// Which request.
        ctx: Box<RequestContext>,
        /// What happened.
        cause: String,
        /// The status, when one arrived.
        status: Option<u16>,
    },
    /// No answer (connect failure, reset, timeout) and retries did not help.
    #[error("{ctx}: transport failure: {message}{}", give_up_note(*give_up))]
    Transport {
        /// Which request.
        ctx: Box<RequestContext>,
        /// The transport's message (no URL query, no headers).
        message: String,
        /// Why it was not retried (further).
        give_up: GiveUp,
    },
    /// An answer we cannot use (not JSON, a batch without an answer for a request...).
    #[error("{ctx}: invalid response: {reason}")]
    InvalidResponse {
        /// Which request.
        ctx: Box<RequestContext>,
        /// What was wrong.
        reason: String,
    },
    /// An `@odata.nextLink` or URL outside the Graph base: our token must not go there.
    #[error("{ctx}: refusing to follow `{link}`: it is outside the Graph base URL")]
    ForeignLink {
        /// Which request.
        ctx: Box<RequestContext>,
        /// The link.
        link: String,
    },
    /// A caller mistake (bad path, duplicate batch ids).
    #[error("tenant {tenant}: invalid request: {reason}")]
    InvalidRequest {
        /// Target tenant.
        tenant: String,
        /// What was wrong.
        reason: String,
    },
    /// No usable token; includes [`AuthError::WrongTenant`]. Nothing was sent to the tenant.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A refused base URL.
    #[error(transparent)]
    Url(#[from] UrlPolicyError),
}

fn give_up_note(g: GiveUp) -> &'static str {
    match g {
        GiveUp::NotRetryable => "",
        GiveUp::Attempts => " (gave up: attempts exhausted)",
        GiveUp::Budget => " (gave up: run retry budget exhausted)",
    }
}

impl GraphError {
    /// The request context, when the error is about one request.
    pub fn context(&self) -> Option<&RequestContext> {
        match self {
            Self::Status { ctx, .. }
            | Self::Ambiguous { ctx, .. }
            | Self::Transport { ctx, .. }
            | Self::InvalidResponse { ctx, .. }
            | Self::ForeignLink { ctx, .. } => Some(ctx),
            _ => None,
        }
    }

    /// The HTTP status, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Status { status, .. } => Some(*status),
            Self::Ambiguous { status, .. } => *status,
            _ => None,
        }
    }

    /// Graph's error code, when there was one.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// The token was for another tenant.
    pub fn is_wrong_tenant(&self) -> bool {
        matches!(self, Self::Auth(AuthError::WrongTenant { .. }))
    }

    /// A write whose outcome is unknown.
    pub fn is_ambiguous(&self) -> bool {
        matches!(self, Self::Ambiguous { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_both_spellings() {
        let a = GraphErrorBody::parse(&json!({"error": {"code": "accessDenied", "message": "no",
            "innerError": {"request-id": "r1", "client-request-id": "c1", "code": "deeper"}}}))
        .unwrap();
        assert_eq!(a.code.as_deref(), Some("accessDenied"));
        assert_eq!(a.inner_code.as_deref(), Some("deeper"));
        assert_eq!(a.request_id.as_deref(), Some("r1"));
        let b = GraphErrorBody::parse(
            &json!({"error": {"code": "x", "innererror": {"Request-Id": "r2"}}}),
        )
        .unwrap();
        assert_eq!(b.request_id.as_deref(), Some("r2"));
        assert!(GraphErrorBody::parse(&json!({"value": []})).is_none());
    }
}
