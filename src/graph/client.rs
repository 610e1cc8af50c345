//! The Graph client: one [`GraphClient`] per tenant, all sharing one [`GraphContext`]
//! (HTTP connection pool, retry budget, counters, clock) for the run.
//!
//! What it does for every request (graph-api.md §4):
//! - a bearer token from the tenant's credential, `tid`-checked first; after a
//!   `WrongTenant` the client refuses every further request to that tenant;
//! - a fresh `client-request-id` GUID per logical request (kept across its retries so
//!   Graph's logs tie them together), and Graph's `request-id` captured from the answer;
//! - retries only where safe ([`RetryClass`]): 429 always (Graph refused it unprocessed),
//!   503/504 and dropped connections only for idempotent methods (GET, PUT, DELETE), a
//!   connect failure always (nothing was sent). POST/PATCH on an ambiguous failure give
//!   [`GraphError::Ambiguous`] so `apply` can look before it retries;
//! - waits per `Retry-After` (seconds or HTTP-date, clamped), else capped exponential
//!   backoff with full jitter, paid from the run's [`RetryBudget`];
//! - writes paced per tenant under Intune's 100 writes / 20 s ([`WritePacer`]);
//! - counted in [`RequestStats`]; reported as `tracing` events (target `rampart::graph`).
//!
//! Paging follows `@odata.nextLink` as is, but only within the Graph base URL's origin:
//! the token is never sent elsewhere. Every read completes what Graph paged at every level:
//! the collection's pages, and inside each entity the `$expand`ed navigation collections
//! Graph cut after a page (`settings@odata.nextLink`), so no caller can forget one. `$batch` sends up to 20 sub-requests per round trip
//! and retries each throttled sub-request on its own (`dependsOn` is not used).
//!
//! Paths are given with their API version: `/beta/deviceManagement/configurationPolicies`.

use crate::graph::auth::{AuthError, TenantAuth};
use crate::graph::error::{GiveUp, GraphError, GraphErrorBody, RequestContext};
use crate::graph::pacing::{WriteLimit, WritePacer};
use crate::graph::retry::{
    Clock, Random, RetryBudget, RetryClass, RetryConfig, Sleeper, SystemClock, ThreadRandom,
    TokioSleeper,
};
use crate::graph::stats::RequestStats;
use crate::graph::urls::{self, checked_base_url, same_origin};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use url::Url;

/// Default timeout for one HTTP exchange (Graph's own gateway gives up around 100 s for
/// long operations; our reads and writes are small).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default TCP/TLS connect timeout.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Graph's `$batch` limit (graph-api.md §4.3).
pub const MAX_BATCH: usize = 20;
/// Connections kept idle per host: enough for a wide fleet on one Graph host.
pub const DEFAULT_POOL_MAX_IDLE_PER_HOST: usize = 256;

/// HTTP method of a Graph request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// GET.
    Get,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

impl Method {
    /// Upper-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    /// Safe to repeat: GET, PUT, DELETE (RFC 9110 §9.2.2).
    pub fn is_idempotent(self) -> bool {
        matches!(self, Self::Get | Self::Put | Self::Delete)
    }

    /// Counts against Intune's write limit.
    pub fn is_write(self) -> bool {
        !matches!(self, Self::Get)
    }

    fn reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run-wide client settings. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct GraphOptions {
    /// Graph base URL (checked: https, or http to loopback).
    pub graph_url: Url,
    /// Retry policy.
    pub retry: RetryConfig,
    /// Per-tenant write pacing.
    pub write_limit: WriteLimit,
    /// Timeout of one HTTP exchange.
    pub request_timeout: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
}

impl Default for GraphOptions {
    fn default() -> Self {
        Self {
            // A constant that parses; `expect` cannot fire.
            graph_url: checked_base_url("Graph URL", urls::DEFAULT_GRAPH_URL)
                .expect("default Graph URL is valid"),
            retry: RetryConfig::default(),
            write_limit: WriteLimit::default(),
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl GraphOptions {
    /// Defaults with a checked Graph URL (`--graph-url` / `RAMPART_GRAPH_URL`).
    pub fn with_graph_url(raw: &str) -> Result<Self, urls::UrlPolicyError> {
        Ok(Self {
            graph_url: checked_base_url("Graph URL", raw)?,
            ..Self::default()
        })
    }
}

struct Shared {
    options: GraphOptions,
    base: String,
    http: reqwest::Client,
    budget: RetryBudget,
    stats: Arc<RequestStats>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    random: Arc<dyn Random>,
}

/// What a run's clients share. Cheap to clone.
#[derive(Clone)]
pub struct GraphContext {
    shared: Arc<Shared>,
}

impl fmt::Debug for GraphContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphContext")
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

/// Builds a [`GraphContext`]; tests inject time and randomness here.
pub struct GraphContextBuilder {
    options: GraphOptions,
    http: Option<reqwest::Client>,
    clock: Arc<dyn Clock>,
    sleeper: Arc<dyn Sleeper>,
    random: Arc<dyn Random>,
    stats: Option<Arc<RequestStats>>,
}

impl GraphContextBuilder {
    /// Uses this HTTP client instead of building one.
    pub fn http(mut self, http: reqwest::Client) -> Self {
        self.http = Some(http);
        self
    }
    /// Injects the clock (pacing, `Retry-After` dates).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Injects the sleeper (retries, pacing).
    pub fn sleeper(mut self, sleeper: Arc<dyn Sleeper>) -> Self {
        self.sleeper = sleeper;
        self
    }
    /// Injects the jitter source.
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }
    /// Shares existing counters.
    pub fn stats(mut self, stats: Arc<RequestStats>) -> Self {
        self.stats = Some(stats);
        self
    }
    /// Builds the context.
    pub fn build(self) -> Result<GraphContext, GraphError> {
        let http = match self.http {
            Some(h) => h,
            None => build_http_client(&self.options).map_err(|e| GraphError::InvalidRequest {
                tenant: "-".into(),
                reason: format!("cannot build the HTTP client: {e}"),
            })?,
        };
        let base = self
            .options
            .graph_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        Ok(GraphContext {
            shared: Arc::new(Shared {
                budget: RetryBudget::new(self.options.retry.budget.clone()),
                base,
                options: self.options,
                http,
                stats: self.stats.unwrap_or_default(),
                clock: self.clock,
                sleeper: self.sleeper,
                random: self.random,
            }),
        })
    }
}

/// The HTTP client rampart uses for Graph and login (redirects off: Graph does not
/// redirect, and following one could carry the token elsewhere).
pub fn build_http_client(options: &GraphOptions) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(DEFAULT_POOL_MAX_IDLE_PER_HOST)
        .user_agent(concat!("rampart/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl GraphContext {
    /// A builder with the real clock, sleeper and randomness.
    pub fn builder(options: GraphOptions) -> GraphContextBuilder {
        GraphContextBuilder {
            options,
            http: None,
            clock: Arc::new(SystemClock::default()),
            sleeper: Arc::new(TokioSleeper),
            random: Arc::new(ThreadRandom),
            stats: None,
        }
    }

    /// The run's counters.
    pub fn stats(&self) -> &Arc<RequestStats> {
        &self.shared.stats
    }

    /// Tokens left in the run's retry budget.
    pub fn retry_budget_level(&self) -> u64 {
        self.shared.budget.level()
    }

    /// The HTTP client (share it with [`crate::graph::auth::Authenticator::new`]).
    pub fn http(&self) -> &reqwest::Client {
        &self.shared.http
    }

    /// The options in use.
    pub fn options(&self) -> &GraphOptions {
        &self.shared.options
    }

    /// A client for `tenant_id` with a credential from `auth`.
    pub fn tenant_client(
        &self,
        auth: &crate::graph::auth::Authenticator,
        tenant_id: &str,
    ) -> Result<GraphClient, GraphError> {
        Ok(self.client(auth.tenant_auth(tenant_id)?))
    }

    /// A client for the tenant `auth` targets. Make one per tenant per run: it carries
    /// the tenant's write pacer and group-name cache.
    pub fn client(&self, auth: TenantAuth) -> GraphClient {
        GraphClient {
            pacer: Arc::new(WritePacer::new(
                self.shared.options.write_limit,
                self.shared.clock.clone(),
                self.shared.sleeper.clone(),
            )),
            ctx: self.clone(),
            auth,
            refused: Arc::new(OnceLock::new()),
            groups: Arc::new(Mutex::new(BTreeMap::new())),
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphResponse {
    /// HTTP status (2xx).
    pub status: u16,
    /// JSON body (`Null` when empty, e.g. 204).
    pub body: Value,
    /// Graph's `request-id`.
    pub request_id: Option<String>,
    /// The `client-request-id` we sent.
    pub client_request_id: String,
}

impl GraphResponse {
    /// Deserialises the body.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.body)
    }
}

/// One sub-request of a `$batch`.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRequest {
    /// Caller-chosen id, unique within the call.
    pub id: String,
    /// Method.
    pub method: Method,
    /// Path with version, as for [`GraphClient::get`]: `/v1.0/groups?...`.
    pub url: String,
    /// JSON body.
    pub body: Option<Value>,
    /// Extra headers (`Content-Type` is added when there is a body).
    pub headers: BTreeMap<String, String>,
}

impl BatchRequest {
    /// A GET.
    pub fn get(id: impl Into<String>, url: impl Into<String>) -> Self {
        Self::new(id, Method::Get, url, None)
    }

    /// Any request.
    pub fn new(
        id: impl Into<String>,
        method: Method,
        url: impl Into<String>,
        body: Option<Value>,
    ) -> Self {
        Self {
            id: id.into(),
            method,
            url: url.into(),
            body,
            headers: BTreeMap::new(),
        }
    }
}

/// One sub-response of a `$batch`, in the order of the requests.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchResponse {
    /// The request's id.
    pub id: String,
    /// The request's method.
    pub method: Method,
    /// The request's path.
    pub url: String,
    /// Status of the sub-request (after its retries).
    pub status: u16,
    /// Sub-response headers, names lower-cased.
    pub headers: BTreeMap<String, String>,
    /// Sub-response body (`Null` when absent).
    pub body: Value,
    /// Attempts made for this sub-request.
    pub attempts: u32,
    /// The `client-request-id` of the `$batch` round trip that produced this answer.
    pub client_request_id: String,
    /// Graph's `request-id` for this sub-request (from its headers or error body).
    pub request_id: Option<String>,
}

impl BatchResponse {
    /// 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body on success, else a typed error for this sub-request.
    pub fn into_result(self, tenant: &str) -> Result<Value, GraphError> {
        if self.is_success() {
            return Ok(self.body);
        }
        let err = GraphErrorBody::parse(&self.body).unwrap_or_default();
        let ctx = Box::new(RequestContext {
            tenant: tenant.to_string(),
            method: self.method.to_string(),
            path: self.url.clone(),
            client_request_id: self.client_request_id.clone(),
            request_id: self.request_id.clone().or(err.request_id.clone()),
            attempts: self.attempts,
        });
        let class = RetryClass::from_status(self.status);
        if matches!(class, RetryClass::Transient) && !self.method.is_idempotent() {
            return Err(GraphError::Ambiguous {
                ctx,
                cause: format!("HTTP {} inside $batch", self.status),
                status: Some(self.status),
            });
        }
        Err(GraphError::Status {
            ctx,
            status: self.status,
            code: err.code,
            inner_code: err.inner_code,
            message: err.message,
            give_up: if class == RetryClass::NotRetryable {
                GiveUp::NotRetryable
            } else {
                GiveUp::Attempts
            },
        })
    }
}

/// Why a group name did not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    /// No group with that display name.
    #[error("group `{name}` not found in tenant {tenant}")]
    GroupNotFound {
        /// Tenant.
        tenant: String,
        /// Display name.
        name: String,
    },
    /// Several groups share that display name: rampart will not guess.
    #[error("group name `{name}` is ambiguous in tenant {tenant}: {} groups ({})", ids.len(), ids.join(", "))]
    GroupAmbiguous {
        /// Tenant.
        tenant: String,
        /// Display name.
        name: String,
        /// The matching ids, sorted.
        ids: Vec<String>,
    },
    /// The look-up itself failed (permission, throttling...).
    #[error("looking up group `{name}` failed: {message}")]
    LookupFailed {
        /// Display name.
        name: String,
        /// The error, rendered.
        message: String,
        /// HTTP status, when one arrived.
        status: Option<u16>,
    },
}

/// A client for one tenant. Cheap to clone (clones share the pacer and caches).
#[derive(Clone)]
pub struct GraphClient {
    ctx: GraphContext,
    auth: TenantAuth,
    pacer: Arc<WritePacer>,
    /// Set after a `WrongTenant`: every later request is refused without a token call.
    refused: Arc<OnceLock<(String, String)>>,
    groups: Arc<Mutex<BTreeMap<String, Result<String, GroupError>>>>,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("tenant", &self.auth.tenant_id())
            .finish_non_exhaustive()
    }
}

/// A raw answer from one logical request (after retries).
struct Answer {
    status: u16,
    body: Vec<u8>,
    ctx: RequestContext,
}

enum Target<'a> {
    Path(&'a str),
    Absolute(Url),
}

impl GraphClient {
    /// The tenant this client talks to.
    pub fn tenant_id(&self) -> &str {
        self.auth.tenant_id()
    }

    /// The context it shares.
    pub fn context(&self) -> &GraphContext {
        &self.ctx
    }

    /// The tenant's auth (for `roles()` during onboarding).
    pub fn auth(&self) -> &TenantAuth {
        &self.auth
    }

    /// GET one resource. Navigation collections Graph paged inside it
    /// (`settings@odata.nextLink`, `assignments@odata.nextLink` of an `$expand`) are
    /// followed to their end and merged, so the caller sees the whole entity.
    pub async fn get(&self, path: &str) -> Result<Value, GraphError> {
        let a = self.send(Method::Get, Target::Path(path), None, 1).await?;
        let mut v = self.finish(a)?.body;
        self.complete_navigation(&mut v).await?;
        Ok(v)
    }

    /// GET a collection, following `@odata.nextLink` to the end; returns every item of
    /// every page's `value`, each with its paged navigation collections completed (see
    /// [`GraphClient::complete_navigation`]).
    pub async fn get_all(&self, path: &str) -> Result<Vec<Value>, GraphError> {
        self.get_all_from(Target::Path(path)).await
    }

    /// Follows an absolute `@odata.nextLink` (of the Graph base's origin) to the end and
    /// returns every item, navigation collections completed.
    pub async fn follow_next_link(&self, link: &str) -> Result<Vec<Value>, GraphError> {
        let refused = || GraphError::ForeignLink {
            ctx: Box::new(RequestContext {
                tenant: self.tenant_id().to_string(),
                method: Method::Get.as_str().to_string(),
                path: link.to_string(),
                client_request_id: String::new(),
                request_id: None,
                attempts: 0,
            }),
            link: link.to_string(),
        };
        let url = Url::parse(link).map_err(|_| refused())?;
        if !same_origin(&url, &self.ctx.shared.options.graph_url) {
            return Err(refused());
        }
        self.get_all_from(Target::Absolute(url)).await
    }

    /// Completes every navigation collection Graph paged inside an entity: for each
    /// `<name>@odata.nextLink` (an `$expand`ed collection cut after one page; Graph does
    /// this to a policy's `settings` after 25), the link is followed to its end, its items
    /// appended to `<name>`, and the link removed. Items read that way are completed in
    /// turn, so every level is whole. The entity's own collection link (`@odata.nextLink`,
    /// with nothing before the `@`) belongs to the list it came from, and is left alone.
    /// Links outside the Graph base's origin are refused ([`GraphError::ForeignLink`]).
    pub fn complete_navigation<'a>(
        &'a self,
        entity: &'a mut Value,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), GraphError>> + Send + 'a>>
    {
        Box::pin(async move {
            let Some(obj) = entity.as_object_mut() else {
                return Ok(());
            };
            let paged: Vec<(String, String)> = obj
                .iter()
                .filter_map(|(k, v)| {
                    let nav = k.strip_suffix("@odata.nextLink")?;
                    (!nav.is_empty()).then(|| (nav.to_string(), v.as_str().unwrap_or("").into()))
                })
                .collect();
            for (nav, link) in paged {
                let rest = self.follow_next_link(&link).await?;
                obj.remove(&format!("{nav}@odata.nextLink"));
                match obj.get_mut(&nav) {
                    Some(Value::Array(items)) => items.extend(rest),
                    _ => {
                        obj.insert(nav, Value::Array(rest));
                    }
                }
            }
            Ok(())
        })
    }

    fn get_all_from<'a>(
        &'a self,
        first: Target<'a>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<Vec<Value>, GraphError>> + Send + 'a>,
    > {
        Box::pin(async move {
            let mut items = Vec::new();
            let mut target = first;
            loop {
                let a = self.send(Method::Get, target, None, 1).await?;
                let ctx = a.ctx.clone();
                let page = self.finish(a)?.body;
                let Some(obj) = page.as_object() else {
                    return Err(GraphError::InvalidResponse {
                        ctx: Box::new(ctx),
                        reason: "a collection page is not a JSON object".into(),
                    });
                };
                match obj.get("value") {
                    Some(Value::Array(v)) => {
                        for mut item in v.iter().cloned() {
                            self.complete_navigation(&mut item).await?;
                            items.push(item);
                        }
                    }
                    None | Some(Value::Null) => {}
                    Some(_) => {
                        return Err(GraphError::InvalidResponse {
                            ctx: Box::new(ctx),
                            reason: "`value` is not an array".into(),
                        });
                    }
                }
                match obj.get("@odata.nextLink").and_then(Value::as_str) {
                    Some(link) => {
                        let url = Url::parse(link).map_err(|_| GraphError::ForeignLink {
                            ctx: Box::new(ctx.clone()),
                            link: link.to_string(),
                        })?;
                        if !same_origin(&url, &self.ctx.shared.options.graph_url) {
                            return Err(GraphError::ForeignLink {
                                ctx: Box::new(ctx),
                                link: link.to_string(),
                            });
                        }
                        target = Target::Absolute(url);
                    }
                    None => return Ok(items),
                }
            }
        })
    }

    /// POST (never retried on ambiguous failures).
    pub async fn post(&self, path: &str, body: &Value) -> Result<GraphResponse, GraphError> {
        self.request(Method::Post, path, Some(body)).await
    }

    /// PUT.
    pub async fn put(&self, path: &str, body: &Value) -> Result<GraphResponse, GraphError> {
        self.request(Method::Put, path, Some(body)).await
    }

    /// PATCH (never retried on ambiguous failures).
    pub async fn patch(&self, path: &str, body: &Value) -> Result<GraphResponse, GraphError> {
        self.request(Method::Patch, path, Some(body)).await
    }

    /// DELETE.
    pub async fn delete(&self, path: &str) -> Result<GraphResponse, GraphError> {
        self.request(Method::Delete, path, None).await
    }

    /// Any single request; a non-2xx answer is an error.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<GraphResponse, GraphError> {
        let body = body.map(|b| serde_json::to_vec(b).unwrap_or_default());
        let a = self.send(method, Target::Path(path), body, 1).await?;
        self.finish(a)
    }

    fn finish(&self, a: Answer) -> Result<GraphResponse, GraphError> {
        if (200..300).contains(&a.status) {
            let body = if a.body.iter().all(u8::is_ascii_whitespace) {
                Value::Null
            } else {
                serde_json::from_slice(&a.body).map_err(|e| GraphError::InvalidResponse {
                    ctx: Box::new(a.ctx.clone()),
                    reason: format!("body is not JSON: {e}"),
                })?
            };
            return Ok(GraphResponse {
                status: a.status,
                body,
                request_id: a.ctx.request_id.clone(),
                client_request_id: a.ctx.client_request_id.clone(),
            });
        }
        Err(status_error(a, GiveUp::NotRetryable))
    }

    async fn token(&self) -> Result<String, GraphError> {
        if let Some((expected, actual)) = self.refused.get() {
            return Err(AuthError::WrongTenant {
                expected: expected.clone(),
                actual: actual.clone(),
            }
            .into());
        }
        self.ctx
            .shared
            .stats
            .record(self.tenant_id(), |c| c.token_lookups += 1);
        match self.auth.token().await {
            Ok((t, _)) => Ok(t.token.secret().to_string()),
            Err(AuthError::WrongTenant { expected, actual }) => {
                tracing::error!(target: "rampart::graph", tenant = %expected, token_tid = %actual, "token is for another tenant; refusing all work on this tenant");
                let _ = self.refused.set((expected.clone(), actual.clone()));
                Err(AuthError::WrongTenant { expected, actual }.into())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn url_for(&self, target: &Target<'_>) -> Result<(Url, String), GraphError> {
        match target {
            Target::Absolute(u) => {
                let shown = match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_string(),
                };
                Ok((u.clone(), shown))
            }
            Target::Path(p) => {
                if !p.starts_with('/') || p.starts_with("//") {
                    return Err(GraphError::InvalidRequest {
                        tenant: self.tenant_id().to_string(),
                        reason: format!("path `{p}` must start with `/` and the API version"),
                    });
                }
                let url = Url::parse(&format!("{}{p}", self.ctx.shared.base)).map_err(|e| {
                    GraphError::InvalidRequest {
                        tenant: self.tenant_id().to_string(),
                        reason: format!("path `{p}`: {e}"),
                    }
                })?;
                Ok((url, p.to_string()))
            }
        }
    }

    /// Sends one logical request with retries. `requests` is how many Graph operations
    /// it carries (a `$batch` carries many), for the counters.
    async fn send(
        &self,
        method: Method,
        target: Target<'_>,
        body: Option<Vec<u8>>,
        requests: u64,
    ) -> Result<Answer, GraphError> {
        self.send_inner(
            method,
            target,
            body,
            requests,
            method.is_idempotent(),
            usize::from(method.is_write()),
        )
        .await
    }

    async fn send_inner(
        &self,
        method: Method,
        target: Target<'_>,
        body: Option<Vec<u8>>,
        requests: u64,
        idempotent: bool,
        writes: usize,
    ) -> Result<Answer, GraphError> {
        let sh = &self.ctx.shared;
        let tenant = self.tenant_id().to_string();
        let (url, shown) = self.url_for(&target)?;
        let client_request_id = uuid::Uuid::new_v4().to_string();
        let mut ctx = RequestContext {
            tenant: tenant.clone(),
            method: method.to_string(),
            path: shown,
            client_request_id: client_request_id.clone(),
            request_id: None,
            attempts: 0,
        };
        sh.stats.record(&tenant, |c| c.requests += requests);
        // A 401 to a token the cache still held (revoked, keys rolled): ask for a new token
        // once per request, then give up (a second 401 is not a stale token).
        let mut refreshed = false;
        loop {
            // Pace every attempt of a write: Intune counts each one against the limit. A
            // `$batch` counts its write sub-requests, not itself (a batch of reads is a read).
            for _ in 0..writes {
                self.pacer.acquire().await;
            }
            let token = self.token().await?;
            ctx.attempts += 1;
            let mut rb = sh
                .http
                .request(method.reqwest(), url.clone())
                .bearer_auth(&token)
                .header("client-request-id", &client_request_id)
                .header("return-client-request-id", "true")
                .header("accept", "application/json");
            if let Some(b) = &body {
                rb = rb
                    .header("content-type", "application/json")
                    .body(b.clone());
            }
            sh.stats.record(&tenant, |c| c.round_trips += 1);
            tracing::debug!(target: "rampart::graph", tenant = %tenant, method = %method, path = %ctx.path, attempt = ctx.attempts, client_request_id = %client_request_id, "graph request");
            let result = rb.send().await;
            let (class, retry_after, outcome) = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    ctx.request_id = headers
                        .get("request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let bytes = match resp.bytes().await {
                        Ok(b) => b.to_vec(),
                        Err(e) => {
                            // The status arrived but the body was cut: ambiguous like any
                            // drop after sending.
                            self.retry_transport(
                                &ctx,
                                RetryClass::TransportAfterSend,
                                idempotent,
                                &e,
                            )
                            .await?;
                            continue;
                        }
                    };
                    let class = RetryClass::from_status(status);
                    if status == 429 {
                        sh.stats.record(&tenant, |c| c.throttled += 1);
                    }
                    let retry_after = headers
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let answer = Answer {
                        status,
                        body: bytes,
                        ctx: ctx.clone(),
                    };
                    (class, retry_after, Ok(answer))
                }
                Err(e) => {
                    let class = if e.is_connect() {
                        RetryClass::ConnectFailure
                    } else {
                        RetryClass::TransportAfterSend
                    };
                    (class, None, Err(e))
                }
            };
            if let Ok(a) = &outcome
                && a.status == 401
                && !refreshed
            {
                refreshed = true;
                tracing::info!(target: "rampart::graph", tenant = %tenant, "Graph answered 401: requesting a new token, once");
                self.auth.refresh()?;
                continue;
            }
            match (class, outcome) {
                (RetryClass::NotRetryable, Ok(answer)) => {
                    if (200..300).contains(&answer.status) {
                        sh.budget.on_success();
                    }
                    return Ok(answer);
                }
                (_, Ok(answer)) => {
                    if !class.retryable(idempotent) {
                        return Err(GraphError::Ambiguous {
                            cause: format!("HTTP {}", answer.status),
                            status: Some(answer.status),
                            ctx: Box::new(answer.ctx),
                        });
                    }
                    match self.may_retry(&ctx, class) {
                        Ok(()) => {
                            self.wait_before_retry(&ctx, class, retry_after.as_deref())
                                .await;
                        }
                        Err(give_up) => return Err(status_error(answer, give_up)),
                    }
                }
                (_, Err(e)) => self.retry_transport(&ctx, class, idempotent, &e).await?,
            }
        }
    }

    /// After a transport failure: waits and returns `Ok` to retry, or the error.
    async fn retry_transport(
        &self,
        ctx: &RequestContext,
        class: RetryClass,
        idempotent: bool,
        e: &reqwest::Error,
    ) -> Result<(), GraphError> {
        let message = transport_message(e);
        if !class.retryable(idempotent) {
            return Err(GraphError::Ambiguous {
                ctx: Box::new(ctx.clone()),
                cause: message,
                status: None,
            });
        }
        match self.may_retry(ctx, class) {
            Ok(()) => {
                self.wait_before_retry(ctx, class, None).await;
                Ok(())
            }
            Err(give_up) => Err(GraphError::Transport {
                ctx: Box::new(ctx.clone()),
                message,
                give_up,
            }),
        }
    }

    fn may_retry(&self, ctx: &RequestContext, class: RetryClass) -> Result<(), GiveUp> {
        let sh = &self.ctx.shared;
        if ctx.attempts >= sh.options.retry.max_attempts {
            tracing::warn!(target: "rampart::graph", tenant = %ctx.tenant, method = %ctx.method, path = %ctx.path, attempts = ctx.attempts, "giving up: attempts exhausted");
            return Err(GiveUp::Attempts);
        }
        if !sh.budget.try_acquire(class) {
            tracing::warn!(target: "rampart::graph", tenant = %ctx.tenant, method = %ctx.method, path = %ctx.path, "giving up: run retry budget exhausted");
            return Err(GiveUp::Budget);
        }
        Ok(())
    }

    async fn wait_before_retry(
        &self,
        ctx: &RequestContext,
        class: RetryClass,
        retry_after: Option<&str>,
    ) {
        let sh = &self.ctx.shared;
        let delay = sh.options.retry.delay(
            ctx.attempts.saturating_sub(1),
            retry_after,
            sh.clock.wall(),
            sh.random.as_ref(),
        );
        sh.stats.record(&ctx.tenant, |c| c.retries += 1);
        tracing::info!(target: "rampart::graph", tenant = %ctx.tenant, method = %ctx.method, path = %ctx.path, class = ?class, delay_ms = delay.as_millis() as u64, attempt = ctx.attempts, "retrying");
        sh.sleeper.sleep(delay).await;
    }

    /// Sends sub-requests through `$batch` (20 per round trip), retrying each throttled
    /// (429) or, for idempotent ones, unavailable (503/504) sub-request on its own after
    /// its own `Retry-After`. Answers come back in the order of `requests`; a failed
    /// sub-request is an answer with its status, not an error (see
    /// [`BatchResponse::into_result`]). Requests may mix API versions: each version gets
    /// its own batches.
    pub async fn batch(
        &self,
        requests: Vec<BatchRequest>,
    ) -> Result<Vec<BatchResponse>, GraphError> {
        let tenant = self.tenant_id().to_string();
        let mut seen = BTreeSet::new();
        for r in &requests {
            if !seen.insert(r.id.as_str()) {
                return Err(GraphError::InvalidRequest {
                    tenant,
                    reason: format!("duplicate $batch id `{}`", r.id),
                });
            }
        }
        // Split "/beta/x" into ("beta", "/x").
        let mut by_version: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        let mut relative = Vec::with_capacity(requests.len());
        for (i, r) in requests.iter().enumerate() {
            let Some(rest) = r.url.strip_prefix('/') else {
                return Err(GraphError::InvalidRequest {
                    tenant,
                    reason: format!(
                        "batch url `{}` must start with `/` and the API version",
                        r.url
                    ),
                });
            };
            let (version, rel) = match rest.find('/') {
                Some(p) => (&rest[..p], &rest[p..]),
                None => (rest, "/"),
            };
            if version.is_empty() {
                return Err(GraphError::InvalidRequest {
                    tenant,
                    reason: format!("batch url `{}` has no API version", r.url),
                });
            }
            by_version.entry(version.to_string()).or_default().push(i);
            relative.push(rel.to_string());
        }
        let mut answers: Vec<Option<BatchResponse>> = vec![None; requests.len()];
        for (version, indices) in by_version {
            self.batch_version(&version, &requests, &relative, indices, &mut answers)
                .await?;
        }
        Ok(answers.into_iter().flatten().collect())
    }

    async fn batch_version(
        &self,
        version: &str,
        requests: &[BatchRequest],
        relative: &[String],
        indices: Vec<usize>,
        answers: &mut [Option<BatchResponse>],
    ) -> Result<(), GraphError> {
        let sh = &self.ctx.shared;
        let tenant = self.tenant_id().to_string();
        let path = format!("/{version}/$batch");
        let mut attempts: HashMap<usize, u32> = HashMap::new();
        let mut pending = indices;
        let mut wave = 0u32;
        while !pending.is_empty() {
            let mut retry_next = Vec::new();
            let mut wave_delay = Duration::ZERO;
            for chunk in pending.chunks(MAX_BATCH) {
                let body = json!({
                    "requests": chunk.iter().map(|&i| {
                        let r = &requests[i];
                        let mut o = serde_json::Map::new();
                        o.insert("id".into(), Value::String(r.id.clone()));
                        o.insert("method".into(), Value::String(r.method.to_string()));
                        o.insert("url".into(), Value::String(relative[i].clone()));
                        let mut headers: serde_json::Map<String, Value> = r.headers.iter()
                            .map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
                        if let Some(b) = &r.body {
                            if !headers.keys().any(|k| k.eq_ignore_ascii_case("content-type")) {
                                headers.insert("Content-Type".into(), Value::String("application/json".into()));
                            }
                            o.insert("body".into(), b.clone());
                        }
                        if !headers.is_empty() {
                            o.insert("headers".into(), Value::Object(headers));
                        }
                        o
                    }).collect::<Vec<_>>()
                });
                let idempotent = chunk.iter().all(|&i| requests[i].method.is_idempotent());
                let writes = chunk
                    .iter()
                    .filter(|&&i| requests[i].method.is_write())
                    .count();
                for &i in chunk {
                    *attempts.entry(i).or_insert(0) += 1;
                }
                let first_wave = wave == 0;
                let a = self
                    .send_inner(
                        Method::Post,
                        Target::Path(&path),
                        Some(serde_json::to_vec(&body).unwrap_or_default()),
                        if first_wave { chunk.len() as u64 } else { 0 },
                        idempotent,
                        writes,
                    )
                    .await?;
                let ctx = a.ctx.clone();
                let page = self.finish(a)?.body;
                let mut by_id: HashMap<String, &Value> = HashMap::new();
                if let Some(list) = page.get("responses").and_then(Value::as_array) {
                    for r in list {
                        let id = match r.get("id") {
                            Some(Value::String(s)) => s.clone(),
                            Some(Value::Number(n)) => n.to_string(),
                            _ => continue,
                        };
                        by_id.insert(id, r);
                    }
                }
                for &i in chunk {
                    let req = &requests[i];
                    let Some(r) = by_id.get(&req.id) else {
                        return Err(GraphError::InvalidResponse {
                            ctx: Box::new(ctx.clone()),
                            reason: format!("no answer for sub-request `{}`", req.id),
                        });
                    };
                    let status = r
                        .get("status")
                        .and_then(Value::as_u64)
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(0);
                    let headers: BTreeMap<String, String> = r
                        .get("headers")
                        .and_then(Value::as_object)
                        .map(|h| {
                            h.iter()
                                .map(|(k, v)| {
                                    let v = match v {
                                        Value::String(s) => s.clone(),
                                        other => other.to_string(),
                                    };
                                    (k.to_ascii_lowercase(), v)
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    let body = r.get("body").cloned().unwrap_or(Value::Null);
                    let class = RetryClass::from_status(status);
                    if status == 429 {
                        sh.stats.record(&tenant, |c| c.throttled += 1);
                    }
                    let n = attempts.get(&i).copied().unwrap_or(1);
                    let sub_ctx = RequestContext {
                        tenant: tenant.clone(),
                        method: req.method.to_string(),
                        path: req.url.clone(),
                        client_request_id: ctx.client_request_id.clone(),
                        request_id: None,
                        attempts: n,
                    };
                    if class != RetryClass::NotRetryable
                        && class.retryable(req.method.is_idempotent())
                        && self.may_retry(&sub_ctx, class).is_ok()
                    {
                        let d = sh.options.retry.delay(
                            n.saturating_sub(1),
                            headers.get("retry-after").map(String::as_str),
                            sh.clock.wall(),
                            sh.random.as_ref(),
                        );
                        wave_delay = wave_delay.max(d);
                        sh.stats.record(&tenant, |c| c.retries += 1);
                        tracing::info!(target: "rampart::graph", tenant = %tenant, method = %req.method, path = %req.url, status, delay_ms = d.as_millis() as u64, "retrying $batch sub-request");
                        retry_next.push(i);
                        continue;
                    }
                    if (200..300).contains(&status) {
                        sh.budget.on_success();
                    }
                    let request_id = headers
                        .get("request-id")
                        .cloned()
                        .or_else(|| GraphErrorBody::parse(&body).and_then(|b| b.request_id));
                    answers[i] = Some(BatchResponse {
                        id: req.id.clone(),
                        method: req.method,
                        url: req.url.clone(),
                        status,
                        headers,
                        body,
                        attempts: n,
                        client_request_id: ctx.client_request_id.clone(),
                        request_id,
                    });
                }
            }
            if !retry_next.is_empty() {
                // One wait for the wave: the longest Retry-After among the retried
                // sub-requests, so none of them comes back early.
                sh.sleeper.sleep(wave_delay).await;
            }
            pending = retry_next;
            wave += 1;
        }
        Ok(())
    }

    /// Resolves group display names to ids, once per tenant per run: names already
    /// resolved (found, missing or ambiguous) are answered from the cache; the rest go out
    /// in `$batch`es of `GET /v1.0/groups?$filter=displayName eq '...'`. Look-up failures
    /// (permissions, throttling) are reported but not cached. Zero matches is
    /// `GroupNotFound`, more than one `GroupAmbiguous` (Graph's `eq` on `displayName` is
    /// case-insensitive, so `Admins` and `admins` are both matches).
    pub async fn resolve_groups(
        &self,
        names: &[String],
    ) -> BTreeMap<String, Result<String, GroupError>> {
        let mut out = BTreeMap::new();
        let mut todo: Vec<String> = Vec::new();
        {
            let cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
            for n in names {
                match cache.get(n) {
                    Some(r) => {
                        out.insert(n.clone(), r.clone());
                    }
                    None if !todo.contains(n) => todo.push(n.clone()),
                    None => {}
                }
            }
        }
        if todo.is_empty() {
            return out;
        }
        todo.sort();
        let requests = Self::group_lookups(&todo);
        let answers = match self.batch(requests).await {
            Ok(a) => a,
            Err(e) => {
                for n in todo {
                    out.insert(
                        n.clone(),
                        Err(GroupError::LookupFailed {
                            name: n,
                            message: e.to_string(),
                            status: e.status(),
                        }),
                    );
                }
                return out;
            }
        };
        out.extend(self.record_group_answers(todo, answers));
        out
    }

    /// The `$batch` sub-requests that look up `names` (ids `g0`, `g1`... in order), for a
    /// caller that sends them with other requests of the same API version (one round trip
    /// less); give the answers to [`GraphClient::record_group_answers`].
    pub fn group_lookups(names: &[String]) -> Vec<BatchRequest> {
        names
            .iter()
            .enumerate()
            .map(|(i, n)| BatchRequest::get(format!("g{i}"), group_filter_path(n)))
            .collect()
    }

    /// Interprets and caches the answers to [`GraphClient::group_lookups`] of `names`, as
    /// [`GraphClient::resolve_groups`] does.
    pub fn record_group_answers(
        &self,
        names: Vec<String>,
        answers: Vec<BatchResponse>,
    ) -> BTreeMap<String, Result<String, GroupError>> {
        let tenant = self.tenant_id().to_string();
        let mut out = BTreeMap::new();
        let mut cache = self.groups.lock().unwrap_or_else(|e| e.into_inner());
        for (n, a) in names.into_iter().zip(answers) {
            let more_pages = a.body.get("@odata.nextLink").is_some();
            let r = match a.clone().into_result(&tenant) {
                Err(e) => {
                    out.insert(
                        n.clone(),
                        Err(GroupError::LookupFailed {
                            name: n,
                            message: e.to_string(),
                            status: e.status(),
                        }),
                    );
                    continue;
                }
                Ok(body) => {
                    let mut ids: Vec<String> = body
                        .get("value")
                        .and_then(Value::as_array)
                        .map(|v| {
                            v.iter()
                                .filter_map(|g| g.get("id").and_then(Value::as_str))
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default();
                    ids.sort();
                    match (ids.len(), more_pages) {
                        (1, false) => Ok(ids.remove(0)),
                        (0, false) => Err(GroupError::GroupNotFound {
                            tenant: tenant.clone(),
                            name: n.clone(),
                        }),
                        _ => Err(GroupError::GroupAmbiguous {
                            tenant: tenant.clone(),
                            name: n.clone(),
                            ids,
                        }),
                    }
                }
            };
            cache.insert(n.clone(), r.clone());
            out.insert(n, r);
        }
        out
    }
}

/// `/v1.0/groups?$filter=displayName eq '<name>'&$select=id,displayName`, with `'`
/// doubled (OData string literal) and the filter percent-encoded.
pub fn group_filter_path(name: &str) -> String {
    let filter = format!("displayName eq '{}'", name.replace('\'', "''"));
    format!(
        "/v1.0/groups?$filter={}&$select=id,displayName",
        percent_encode_query(&filter)
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn status_error(a: Answer, give_up: GiveUp) -> GraphError {
    let err = GraphErrorBody::parse_bytes(&a.body).unwrap_or_default();
    let mut ctx = a.ctx;
    if ctx.request_id.is_none() {
        ctx.request_id = err.request_id.clone();
    }
    GraphError::Status {
        ctx: Box::new(ctx),
        status: a.status,
        code: err.code,
        inner_code: err.inner_code,
        message: err.message,
        give_up,
    }
}

fn transport_message(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "response body cut"
    } else {
        "connection dropped"
    };
    // `without_url`: the URL is already in the context, and we keep queries out of
    // messages; walk the sources for the underlying cause (reset, refused...).
    let mut msg = kind.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        msg = format!("{kind}: {s}");
        src = s.source();
    }
    msg
}
