//! An azure_core HTTP transport that lets the real `azure_identity` credentials talk to a
//! loopback token endpoint (the built-in emulator, or a test server).
//!
//! `azure_identity` refuses any authority host that is not `https://`. Rather than fake the
//! credential, rampart gives it `https://127.0.0.1:PORT` as its authority and this transport
//! turns requests for exactly that origin back into `http://127.0.0.1:PORT`, so the same
//! credential code (form body, error parsing, token cache) runs in tests and against Entra.
//!
//! [`Logged`] logs every credential request at the URL actually sent (after the rewrite):
//! azure_core's own logging policy runs before the transport and would show the `https://`
//! form, so the CLI's default log filter silences it in favour of this one.
//!
//! Limits: the rewrite is only ever configured for loopback origins (the URL policy in
//! [`crate::graph::urls`] guarantees it); every other request passes through untouched.

use crate::graph::urls::{is_loopback, same_origin};
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};
use std::sync::Arc;

/// Rewrites `https://<loopback origin>` to `http://<loopback origin>` and forwards
/// everything to an inner HTTP client.
#[derive(Debug)]
pub struct LoopbackRewrite {
    https_origin: Url,
    inner: Arc<dyn HttpClient>,
}

impl LoopbackRewrite {
    /// For an `http://` loopback base URL, returns the `https://` authority to hand to
    /// `azure_identity` and the transport that undoes it. `None` when `base` is not an
    /// `http://` loopback URL (no rewrite is needed or allowed).
    pub fn for_base(base: &Url, inner: Arc<dyn HttpClient>) -> Option<(Url, Self)> {
        if base.scheme() != "http" || !is_loopback(base) {
            return None;
        }
        let mut https = base.clone();
        // http -> https is always allowed by `url` for special schemes; keep the explicit
        // port (the default https port would otherwise be assumed).
        let port = base.port_or_known_default();
        https.set_scheme("https").ok()?;
        https.set_port(port).ok()?;
        Some((
            https.clone(),
            Self {
                https_origin: https,
                inner,
            },
        ))
    }
}

#[async_trait::async_trait]
impl HttpClient for LoopbackRewrite {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        if !same_origin(request.url(), &self.https_origin) {
            return self.inner.execute_request(request).await;
        }
        let mut rewritten = request.clone();
        let port = request.url().port_or_known_default();
        let url: &mut Url = rewritten.url_mut();
        // Both calls only fail for non-special schemes or cannot-be-a-base URLs, which an
        // https URL is not; if they did, we would send to https and fail loudly, not leak.
        let _ = url.set_scheme("http");
        let _ = url.set_port(port);
        self.inner.execute_request(&rewritten).await
    }
}

/// The log target of azure_core's request logging, which shows the URL before the loopback
/// rewrite; the CLI's default filter turns it off (this module logs the real one).
pub const AZURE_REQUEST_LOG_TARGET: &str = "typespec_client_core::http::policies::logging";

/// Logs each request at debug with the URL actually used (path only: no query string, no
/// headers, no body, so nothing secret), then forwards it to an inner HTTP client.
#[derive(Debug)]
pub struct Logged {
    inner: Arc<dyn HttpClient>,
}

impl Logged {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn HttpClient>) -> Self {
        Self { inner }
    }
}

/// `scheme://host:port/path` of a URL, without query or fragment.
pub fn url_for_log(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.to_string()
}

#[async_trait::async_trait]
impl HttpClient for Logged {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        let url = url_for_log(request.url());
        tracing::debug!("==> Request: url: {url}, method: {}", request.method());
        let response = self.inner.execute_request(request).await;
        match &response {
            Ok(r) => tracing::debug!("<== Response: url: {url}, status: {}", r.status()),
            Err(e) => tracing::info!("<== Failed response: url: {url}, error: {e}"),
        }
        response
    }
}
