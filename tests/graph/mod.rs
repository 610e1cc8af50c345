//! Integration tests: the Graph client layer (`rampart::graph`).
//!
//! They run against [`Mock`], a small axum server written here that answers like Graph
//! (error bodies, `request-id`, `@odata.nextLink`, `$batch`) and like Entra's token
//! endpoint, driven by a per-test responder. Time is a [`ManualClock`], so retry and
//! pacing tests assert exact waits and never sleep.

mod auth;
mod client;
mod emulator;
mod fleet;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as HttpMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use rampart::graph::auth::{AuthMethod, GRAPH_SCOPE, TenantAuth};
use rampart::graph::client::{GraphClient, GraphContext, GraphOptions};
use rampart::graph::retry::{FixedRandom, ManualClock};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A request the mock received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query as sent.
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
    /// How many requests with this method and path came before this one.
    pub nth: usize,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
    pub fn form(&self) -> BTreeMap<String, String> {
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// The mock's answer.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            status: 200,
            headers: vec![],
            body,
        }
    }
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: vec![],
            body: graph_error(status, "serviceNotAvailable"),
        }
    }
    pub fn with_header(mut self, k: &str, v: &str) -> Self {
        self.headers.push((k.to_string(), v.to_string()));
        self
    }
}

pub fn graph_error(status: u16, code: &str) -> Value {
    json!({"error": {"code": code, "message": format!("mock {status}"),
        "innerError": {"request-id": "inner-rid", "date": "2026-01-01T00:00:00"}}})
}

type Responder = dyn Fn(&Seen) -> Reply + Send + Sync;

/// The mock server state.
pub struct Mock {
    pub base: String,
    log: Mutex<Vec<Seen>>,
    responder: Box<Responder>,
    /// Secret the token endpoint accepts (`None`: any client secret or assertion).
    pub accepted_secret: Option<String>,
    /// `tid` the token endpoint puts in tokens, by requested tenant (default: the tenant).
    pub tid_override: Mutex<BTreeMap<String, String>>,
    pub token_requests: AtomicUsize,
}

impl Mock {
    pub fn log(&self) -> Vec<Seen> {
        self.log.lock().unwrap().clone()
    }
    /// Graph requests (token endpoint and GitHub mock excluded).
    pub fn graph_log(&self) -> Vec<Seen> {
        self.log()
            .into_iter()
            .filter(|s| s.path.starts_with("/v1.0") || s.path.starts_with("/beta"))
            .collect()
    }
}

pub fn jwt(claims: &Value) -> String {
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!(
        "{}.{}.{}",
        e.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
        e.encode(claims.to_string()),
        e.encode(b"not-a-real-signature")
    )
}

async fn handle(
    State(mock): State<Arc<Mock>>,
    method: HttpMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_default();
    let seen = {
        let mut log = mock.log.lock().unwrap();
        let nth = log
            .iter()
            .filter(|s| s.method == method.as_str() && s.path == path)
            .count();
        let seen = Seen {
            method: method.to_string(),
            path: path.clone(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
                .collect(),
            body: body.to_vec(),
            nth,
        };
        log.push(seen.clone());
        seen
    };
    let reply = if path.ends_with("/oauth2/v2.0/token") {
        token_endpoint(&mock, &seen)
    } else {
        (mock.responder)(&seen)
    };
    let mut resp = (
        StatusCode::from_u16(reply.status).unwrap(),
        axum::Json(reply.body),
    )
        .into_response();
    resp.headers_mut()
        .insert("request-id", format!("rid-{}", seen.nth).parse().unwrap());
    for (k, v) in reply.headers {
        resp.headers_mut().insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
    }
    resp
}

fn token_endpoint(mock: &Mock, seen: &Seen) -> Reply {
    mock.token_requests.fetch_add(1, Ordering::SeqCst);
    let tenant = seen.path.split('/').nth(1).unwrap_or("").to_string();
    let form = seen.form();
    let ok = match (&mock.accepted_secret, form.get("client_secret")) {
        (Some(want), Some(got)) => want == got,
        (Some(_), None) => form.contains_key("client_assertion"),
        (None, _) => true,
    };
    if !ok {
        return Reply {
            status: 401,
            headers: vec![],
            body: json!({"error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.",
                "error_codes": [7000215]}),
        };
    }
    let tid = mock
        .tid_override
        .lock()
        .unwrap()
        .get(&tenant)
        .cloned()
        .unwrap_or(tenant);
    let token = jwt(
        &json!({"tid": tid, "roles": ["Group.Read.All", "DeviceManagementConfiguration.ReadWrite.All"],
        "appid": form.get("client_id"), "exp": 4_000_000_000u64}),
    );
    Reply::ok(
        json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": token}),
    )
}

/// Starts a mock on 127.0.0.1:0.
pub async fn start_mock(
    accepted_secret: Option<&str>,
    responder: impl Fn(&Seen) -> Reply + Send + Sync + 'static,
) -> Arc<Mock> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mock = Arc::new(Mock {
        base: format!("http://{addr}"),
        log: Mutex::new(Vec::new()),
        responder: Box::new(responder),
        accepted_secret: accepted_secret.map(str::to_string),
        tid_override: Mutex::new(BTreeMap::new()),
        token_requests: AtomicUsize::new(0),
    });
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(mock.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    mock
}

/// A credential that hands out a fixed JWT and counts calls (no token endpoint).
#[derive(Debug)]
pub struct StaticCredential {
    pub token: String,
    pub calls: AtomicUsize,
}

impl StaticCredential {
    pub fn for_tid(tid: &str) -> Arc<Self> {
        Arc::new(Self {
            token: jwt(&json!({"tid": tid, "roles": ["Group.Read.All"], "exp": 4_000_000_000u64})),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait::async_trait]
impl azure_core::credentials::TokenCredential for StaticCredential {
    async fn get_token(
        &self,
        _scopes: &[&str],
        _options: Option<azure_core::credentials::TokenRequestOptions<'_>>,
    ) -> azure_core::Result<azure_core::credentials::AccessToken> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(azure_core::credentials::AccessToken::new(
            self.token.clone(),
            azure_core::time::OffsetDateTime::now_utc() + azure_core::time::Duration::hours(1),
        ))
    }
}

/// The fixed calendar origin of the manual clock.
pub fn wall_origin() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

/// A context on `base` with a manual clock and full-ceiling jitter.
pub fn context(
    base: &str,
    tweak: impl FnOnce(&mut GraphOptions),
) -> (GraphContext, Arc<ManualClock>) {
    let mut options = GraphOptions::with_graph_url(base).unwrap();
    tweak(&mut options);
    let clock = Arc::new(ManualClock::new(wall_origin()));
    let ctx = GraphContext::builder(options)
        .clock(clock.clone())
        .sleeper(clock.clone())
        .random(Arc::new(FixedRandom(1.0)))
        .build()
        .unwrap();
    (ctx, clock)
}

/// A client for `tenant` using a static token for that tenant.
pub fn client_for(ctx: &GraphContext, tenant: &str) -> GraphClient {
    ctx.client(TenantAuth::new(
        tenant,
        AuthMethod::Secret,
        GRAPH_SCOPE,
        StaticCredential::for_tid(tenant),
    ))
}
