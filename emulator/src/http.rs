//! The HTTP layer: a hyper HTTP/1.1 server (keep-alive) in front of [`crate::router`], the
//! Entra token endpoint, and the admin endpoints under `/_emulator/`.
//!
//! hyper is used directly (not through an axum router) because a dropped connection must
//! close the socket without writing any answer, which only the connection-level service
//! can do (returning an error from the service makes hyper abort the connection).
//!
//! Token endpoint (`POST /{tenant}/oauth2/v2.0/token`, form-encoded), as Entra ID answers
//! the client-credentials grant (`graph-api.md` §5.1) and as `azure_identity` sends it
//! (`client_id`, `client_secret` or `client_assertion` + `client_assertion_type`,
//! `grant_type=client_credentials`, `scope`). Checked in Entra's order: tenant exists
//! (AADSTS90002), grant type (AADSTS70003), scope is `https://graph.microsoft.com/.default`
//! (AADSTS1002012/AADSTS500011), the app has a service principal in the tenant, i.e. is
//! consented (AADSTS700016; AADSTS7000229 in its home tenant), then the credential: the
//! client secret (AADSTS7000215) or the client assertion, which must be a well-formed JWT
//! (AADSTS50027), within its `nbf`/`exp` (AADSTS700024), whose `iss` and `sub` equal one of
//! the app's federated credentials and whose `aud` is one of that credential's audiences
//! (AADSTS70021). The assertion's signature is not checked.

use super::EmulatorError;
use super::faults::connection_faults;
use super::router::{batch, dispatch};
use super::state::{Emulator, RequestRecord, lock, new_guid, unix_now};
use super::token::{self, AssertionError};
use super::wire::{Ctx, GraphRequest, Reply, finish};
use axum::body::Body;
use axum::http::{HeaderMap, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::collections::BTreeMap;

const JSON_CT: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const MAX_BODY: usize = 32 * 1024 * 1024;

/// The error that makes hyper drop a connection without answering.
#[derive(Debug)]
struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

/// Accept loop; stops (and closes open connections) when `shutdown` turns true.
pub(crate) async fn serve(
    emu: Emulator,
    listener: tokio::net::TcpListener,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    public_base: Option<String>,
) {
    let mut conns = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            acc = listener.accept() => {
                let Ok((stream, _)) = acc else { continue };
                let _ = stream.set_nodelay(true);
                let emu = emu.clone();
                let base = public_base.clone();
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let emu = emu.clone();
                        let base = base.clone();
                        async move { handle(emu, req, base).await }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
                // Reap finished connections so the set does not grow without bound.
                while conns.try_join_next().is_some() {}
            }
        }
    }
    conns.abort_all();
    while conns.join_next().await.is_some() {}
}

fn respond(reply: Reply) -> Response<Body> {
    let mut b = Response::builder()
        .status(StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR));
    for (k, v) in &reply.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    let body = match reply.body {
        Some(v) => {
            b = b.header(header::CONTENT_TYPE, JSON_CT);
            Body::from(serde_json::to_vec(&v).unwrap_or_default())
        }
        None => Body::empty(),
    };
    b.body(body)
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn handle(
    emu: Emulator,
    req: Request<Incoming>,
    public_base: Option<String>,
) -> Result<Response<Body>, Dropped> {
    let (parts, body) = req.into_parts();
    let base = public_base.unwrap_or_else(|| {
        format!(
            "http://{}",
            header_str(&parts.headers, "host").unwrap_or("127.0.0.1")
        )
    });
    let path = parts.uri.path().to_string();
    let query_str = parts.uri.query().unwrap_or("").to_string();
    let method = parts.method.as_str().to_ascii_uppercase();
    let body = match axum::body::to_bytes(Body::new(body), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Ok(respond(Reply::error(
                413,
                "RequestEntityTooLarge",
                "The request body is too large.",
            )));
        }
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segs.as_slice() {
        ["_emulator", rest @ ..] => Ok(admin(&emu, &method, rest, &body)),
        [tenant, "oauth2", "v2.0", "token"] => Ok(login(
            &emu,
            &method,
            tenant,
            &parts.headers,
            &body,
            &base,
            &path,
        )),
        [tenant, "v2.0", ".well-known", "openid-configuration"] => Ok(openid(&emu, tenant, &base)),
        [version, ..] if *version == "v1.0" || *version == "beta" => {
            graph_request(
                &emu,
                &method,
                &path,
                &query_str,
                &parts.headers,
                &body,
                &base,
            )
            .await
        }
        [other, ..] => {
            let mut r = Reply::bad_request(format!("Invalid version: {other}"));
            finish(
                &mut r,
                &new_guid(),
                header_str(&parts.headers, "client-request-id"),
            );
            Ok(respond(r))
        }
        [] => Ok(respond(Reply::ok(
            json!({"service": "rampart Graph emulator", "graph": [base.clone() + "/beta", base + "/v1.0"]}),
        ))),
    }
}

fn unauthorized(msg: &str) -> Reply {
    Reply::error(401, "InvalidAuthenticationToken", msg).with_header(
        "WWW-Authenticate",
        r#"Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000""#,
    )
}

#[allow(clippy::too_many_arguments)]
async fn graph_request(
    emu: &Emulator,
    method: &str,
    path: &str,
    query_str: &str,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
) -> Result<Response<Body>, Dropped> {
    let seq = emu.next_seq();
    let faults = emu.faults();
    let cf = connection_faults(&faults, emu.inner.seed, seq);
    let crid = header_str(headers, "client-request-id").map(str::to_string);
    let full_path = if query_str.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query_str}")
    };
    let mut rec = RequestRecord {
        seq,
        tenant: None,
        app: None,
        method: method.to_string(),
        path: full_path,
        route: String::new(),
        status: 0,
        fault: None,
        in_batch: false,
        client_request_id: crid.clone(),
    };
    let trimmed = path.trim_matches('/');
    let (version, rest) = trimmed.split_once('/').unwrap_or((trimmed, ""));
    rec.route = format!("{version}/{}", rest.split('/').next().unwrap_or(""));
    if cf.drop {
        rec.fault = Some("drop".into());
        emu.record(rec);
        return Err(Dropped);
    }
    if !cf.delay.is_zero() {
        tokio::time::sleep(cf.delay).await;
    }
    if cf.slow {
        *lock(&emu.inner.log)
            .counters
            .faults
            .entry("slow".into())
            .or_default() += 1;
    }
    let request_id = new_guid();
    let auth = header_str(headers, "authorization").unwrap_or("");
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .unwrap_or("");
    let claims = if token.is_empty() {
        Err(unauthorized("Access token is empty."))
    } else {
        token::verify(&emu.inner.key, token, unix_now()).map_err(|e| unauthorized(e.message()))
    };
    let claims = match claims {
        Ok(c) => c,
        Err(mut r) => {
            finish(&mut r, &request_id, crid.as_deref());
            rec.status = r.status;
            emu.record(rec);
            return Ok(respond(r));
        }
    };
    let ctx = Ctx {
        emu,
        base: base.to_string(),
        claims: &claims,
        in_batch: false,
    };
    let parsed_body = if body.is_empty() {
        None
    } else {
        Some(serde_json::from_slice::<Value>(body).map_err(|e| e.to_string()))
    };
    let mut reply = if rest.trim_end_matches('/') == "$batch" {
        let r = if method != "POST" {
            Reply::bad_request("$batch only accepts POST.")
        } else {
            match &parsed_body {
                Some(Ok(v)) => batch(
                    &Ctx {
                        in_batch: true,
                        ..ctx
                    },
                    version,
                    Some(v),
                    &|| emu.next_seq(),
                ),
                _ => Reply::bad_request("Invalid batch payload format."),
            }
        };
        rec.tenant = Some(claims.tid.clone());
        rec.app = Some(claims.appid.clone());
        rec.route = format!("{version}/$batch");
        rec.status = r.status;
        emu.record(rec);
        r
    } else {
        let greq = GraphRequest {
            method: method.to_string(),
            version: version.to_string(),
            path: rest.trim_end_matches('/').to_string(),
            query: url::form_urlencoded::parse(query_str.as_bytes())
                .into_owned()
                .collect(),
            body: parsed_body,
            client_request_id: crid.clone(),
            has_content_type: headers.contains_key(header::CONTENT_TYPE),
        };
        dispatch(&ctx, &greq, seq)
    };
    // After-commit faults: the write is done; only the answer is lost or replaced.
    let wrote = (200..300).contains(&reply.status)
        && if rest.trim_end_matches('/') == "$batch" {
            batch_wrote(&reply)
        } else {
            method != "GET"
        };
    if wrote && cf.drop_after_commit {
        emu.mark_fault(seq, "dropAfterCommit", 0);
        return Err(Dropped);
    }
    if wrote && cf.error_after_commit {
        emu.mark_fault(seq, "errorAfterCommit", 500);
        reply = Reply::error(
            500,
            "InternalServerError",
            "An internal server error occurred. Please retry.",
        );
    }
    finish(&mut reply, &request_id, crid.as_deref());
    Ok(respond(reply))
}

/// Whether a `$batch` answer holds a successful write, recognised by a 201 or 204 status.
/// Limit: an update answered 200 inside a batch is not recognised (the answer does not
/// carry the method).
fn batch_wrote(reply: &Reply) -> bool {
    reply
        .body
        .as_ref()
        .and_then(|b| b["responses"].as_array())
        .is_some_and(|a| {
            a.iter()
                .any(|r| matches!(r["status"].as_u64(), Some(201 | 204)))
        })
}

fn aad_error(status: u16, error: &str, code: u32, description: &str, base: &str) -> Reply {
    let trace = new_guid();
    let corr = new_guid();
    let now = time::OffsetDateTime::now_utc();
    let ts = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    );
    Reply {
        status,
        headers: vec![("Cache-Control".into(), "no-store, no-cache".into())],
        body: Some(json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description} Trace ID: {trace} Correlation ID: {corr} Timestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("{base}/error?code={code}"),
        })),
    }
}

fn login(
    emu: &Emulator,
    method: &str,
    tenant_seg: &str,
    headers: &HeaderMap,
    body: &[u8],
    base: &str,
    path: &str,
) -> Response<Body> {
    let form: BTreeMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let mut client_id = form.get("client_id").cloned().unwrap_or_default();
    let mut secret = form.get("client_secret").cloned();
    // client_secret_basic: `Authorization: Basic base64(client_id:secret)`.
    if let Some(basic) = header_str(headers, "authorization").and_then(|a| a.strip_prefix("Basic "))
    {
        use base64::Engine;
        if let Some((id, s)) = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| {
                s.split_once(':')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
            })
        {
            if client_id.is_empty() {
                client_id = url::form_urlencoded::parse(id.as_bytes())
                    .map(|(k, _)| k.to_string())
                    .next()
                    .unwrap_or(id);
            }
            secret = Some(s);
        }
    }
    let tenant = emu.tenant(tenant_seg);
    let (reply, tid) = login_reply(
        emu,
        method,
        tenant_seg,
        tenant.as_ref(),
        &form,
        &client_id,
        secret.as_deref(),
        base,
    );
    emu.record(RequestRecord {
        seq: emu.next_seq(),
        tenant: Some(tid.unwrap_or_else(|| tenant_seg.to_string())),
        app: (!client_id.is_empty()).then(|| client_id.to_ascii_lowercase()),
        method: method.to_string(),
        path: path.to_string(),
        route: "token".into(),
        status: reply.status,
        fault: None,
        in_batch: false,
        client_request_id: header_str(headers, "client-request-id").map(str::to_string),
    });
    respond(reply)
}

#[allow(clippy::too_many_arguments)]
fn login_reply(
    emu: &Emulator,
    method: &str,
    tenant_seg: &str,
    tenant: Option<&std::sync::Arc<std::sync::Mutex<super::Tenant>>>,
    form: &BTreeMap<String, String>,
    client_id: &str,
    secret: Option<&str>,
    base: &str,
) -> (Reply, Option<String>) {
    if method != "POST" {
        return (
            aad_error(
                405,
                "invalid_request",
                900561,
                "The endpoint only accepts POST requests.",
                base,
            ),
            None,
        );
    }
    let Some(tenant) = tenant else {
        return (
            aad_error(
                400,
                "invalid_request",
                90002,
                &format!(
                    "Tenant '{tenant_seg}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
                ),
                base,
            ),
            None,
        );
    };
    let (tid, consent) = {
        let t = lock(tenant);
        (
            t.id.clone(),
            t.consents.get(&client_id.to_ascii_lowercase()).cloned(),
        )
    };
    let err = |status, error: &str, code, desc: &str| {
        (
            aad_error(status, error, code, desc, base),
            Some(tid.clone()),
        )
    };
    match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {}
        Some(other) => {
            return err(
                400,
                "unsupported_grant_type",
                70003,
                &format!("The app requested an unsupported grant type '{other}'."),
            );
        }
        None => {
            return err(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            );
        }
    }
    if client_id.is_empty() {
        return err(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        );
    }
    let scope = form.get("scope").map(String::as_str).unwrap_or_default();
    if scope.is_empty() {
        return err(
            400,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'scope'.",
        );
    }
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.iter().any(|s| !s.ends_with("/.default")) {
        return err(
            400,
            "invalid_scope",
            1002012,
            &format!(
                "The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
            ),
        );
    }
    let graph_scopes = [
        "https://graph.microsoft.com/.default",
        "00000003-0000-0000-c000-000000000000/.default",
        "https://graph.microsoft.com//.default",
    ];
    if scopes.len() != 1 || !graph_scopes.contains(&scopes[0]) {
        let resource = scopes
            .iter()
            .find(|s| !graph_scopes.contains(s))
            .unwrap_or(&scope)
            .trim_end_matches("/.default");
        return err(
            400,
            "invalid_resource",
            500011,
            &format!(
                "The resource principal named {resource} was not found in the tenant named {tid}. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        );
    }
    let app = emu.app(client_id);
    let Some(roles) = consent.filter(|_| app.is_some()) else {
        let home = app
            .as_ref()
            .and_then(|a| a.home_tenant.as_deref())
            .is_some_and(|h| h.eq_ignore_ascii_case(&tid));
        if home {
            return err(
                400,
                "invalid_client",
                7000229,
                &format!(
                    "The client application {client_id} is missing service principal in the tenant {tid}."
                ),
            );
        }
        return err(
            400,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tid}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
            ),
        );
    };
    let Some(app) = app else {
        return err(400, "unauthorized_client", 700016, "Application not found.");
    };
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
        {
            return err(
                400,
                "invalid_request",
                50027,
                "Invalid client_assertion_type; expected urn:ietf:params:oauth:client-assertion-type:jwt-bearer.",
            );
        }
        let a = match token::check_assertion(assertion, unix_now()) {
            Ok(a) => a,
            Err(AssertionError::Malformed) => {
                return err(
                    400,
                    "invalid_request",
                    50027,
                    "JWT token is invalid or malformed.",
                );
            }
            Err(AssertionError::OutsideValidity) => {
                return err(
                    400,
                    "invalid_client",
                    700024,
                    "Client assertion is not within its valid time range.",
                );
            }
        };
        let ok = app.federated_credentials.iter().any(|fc| {
            fc.issuer == a.iss
                && fc.subject == a.sub
                && a.aud.iter().any(|x| fc.audiences.contains(x))
        });
        if !ok {
            return err(
                400,
                "invalid_client",
                70021,
                &format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{}'. Assertion Subject: '{}'. Assertion Audience: '{}'.",
                    a.iss,
                    a.sub,
                    a.aud.join(",")
                ),
            );
        }
    } else if let Some(secret) = secret {
        if !app
            .secret_hashes
            .iter()
            .any(|s| token::secret_matches(s, secret))
        {
            return err(
                401,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
    } else {
        return err(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        );
    }
    let lifetime = emu.inner.token_lifetime_secs;
    let access = emu.mint(&tid, &app.app_id, roles.into_iter().collect());
    (
        Reply::ok(json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": access}))
            .with_header("Cache-Control", "no-store, no-cache"),
        Some(tid),
    )
}

fn openid(emu: &Emulator, tenant_seg: &str, base: &str) -> Response<Body> {
    let Some(t) = emu.tenant(tenant_seg) else {
        return respond(aad_error(
            400,
            "invalid_tenant",
            90002,
            &format!("Tenant '{tenant_seg}' not found."),
            base,
        ));
    };
    let tid = lock(&t).id.clone();
    respond(Reply::ok(json!({
        "token_endpoint": format!("{base}/{tid}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{base}/{tid}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{base}/{tid}/v2.0"),
        "authorization_endpoint": format!("{base}/{tid}/oauth2/v2.0/authorize"),
        "tenant_region_scope": "NA",
        "cloud_instance_name": "microsoftonline.com",
    })))
}

fn admin(emu: &Emulator, method: &str, rest: &[&str], body: &[u8]) -> Response<Body> {
    let parsed = || serde_json::from_slice::<Value>(body);
    let bad = |m: String| respond(Reply::bad_request(m));
    match (method, rest) {
        ("GET", ["requests"]) => respond(Reply::ok(json!(emu.requests()))),
        ("DELETE", ["requests"]) => {
            emu.clear_log();
            respond(Reply::no_content())
        }
        ("GET", ["counters"]) => respond(Reply::ok(json!(emu.counters()))),
        ("GET", ["faults"]) => respond(Reply::ok(json!(emu.faults()))),
        ("PUT", ["faults"]) => match parsed().and_then(serde_json::from_value) {
            Ok(f) => {
                emu.set_faults(f);
                respond(Reply::ok(json!(emu.faults())))
            }
            Err(e) => bad(format!("invalid fault configuration: {e}")),
        },
        ("GET", ["tenants"]) => {
            let list: Vec<Value> = emu
                .tenant_ids()
                .iter()
                .filter_map(|t| emu.tenant_snapshot(t))
                .map(|t| {
                    json!({
                        "id": t.id, "displayName": t.display_name, "domain": t.domain,
                        "apps": t.consents.keys().collect::<Vec<_>>(),
                        "groups": t.groups.len(), "configurationPolicies": t.policies.len(),
                        "detectionRules": t.detection_rules.len(),
                    })
                })
                .collect();
            respond(Reply::ok(json!(list)))
        }
        ("POST", ["tenants"]) => match parsed().and_then(serde_json::from_value::<super::Seed>) {
            Ok(seed) => match emu.apply_seed(&seed) {
                Ok(()) => respond(Reply {
                    status: 201,
                    headers: vec![],
                    body: Some(json!({"tenants": seed.tenants.len(), "apps": seed.apps.len()})),
                }),
                Err(e) => bad(e.to_string()),
            },
            Err(e) => bad(format!("invalid seed: {e}")),
        },
        ("GET", ["tenants", tid]) => match emu.tenant_snapshot(tid) {
            Some(t) => respond(Reply::ok(json!(t))),
            None => respond(Reply::error(
                404,
                "NotFound",
                format!("unknown tenant {tid}"),
            )),
        },
        (
            "POST",
            [
                "tenants",
                tid,
                kind @ ("configurationPolicies" | "detectionRules"),
                id,
                "edit",
            ],
        ) => {
            let patch = if body.is_empty() {
                Ok(json!({}))
            } else {
                parsed()
            };
            let Ok(patch) = patch else {
                return bad("body must be JSON".into());
            };
            let r = if *kind == "configurationPolicies" {
                emu.oob_edit_policy(tid, id, &patch)
            } else {
                emu.oob_edit_rule(tid, id, &patch)
            };
            match r {
                Ok(()) => respond(Reply::no_content()),
                Err(EmulatorError::NotFound(m)) | Err(EmulatorError::UnknownTenant(m)) => {
                    respond(Reply::error(404, "NotFound", m))
                }
                Err(e) => bad(e.to_string()),
            }
        }
        _ => respond(Reply::error(404, "NotFound", "unknown admin endpoint")),
    }
}

/// Result of [`bench_requests`].
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Requests sent.
    pub requests: usize,
    /// Answers with a 2xx status.
    pub ok: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
    /// Requests per second.
    pub per_second: f64,
}

/// Sends `total` `GET {graph_url}{path}` requests with `concurrency` parallel keep-alive
/// clients and measures the throughput. Meant to be run once, by hand or from the CLI.
pub async fn bench_requests(
    graph_url: &str,
    token: &str,
    path: &str,
    total: usize,
    concurrency: usize,
) -> Result<BenchReport, EmulatorError> {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency.max(1))
        .build()
        .map_err(|e| EmulatorError::Invalid(format!("http client: {e}")))?;
    let url = format!("{graph_url}{path}");
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let ok = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = std::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency.max(1) {
        let (client, url, token, next, ok) = (
            client.clone(),
            url.clone(),
            token.to_string(),
            next.clone(),
            ok.clone(),
        );
        tasks.spawn(async move {
            use std::sync::atomic::Ordering::Relaxed;
            while next.fetch_add(1, Relaxed) < total {
                if let Ok(r) = client.get(&url).bearer_auth(&token).send().await {
                    let good = r.status().is_success();
                    let _ = r.bytes().await;
                    if good {
                        ok.fetch_add(1, Relaxed);
                    }
                }
            }
        });
    }
    while tasks.join_next().await.is_some() {}
    let seconds = start.elapsed().as_secs_f64();
    Ok(BenchReport {
        requests: total,
        ok: ok.load(std::sync::atomic::Ordering::Relaxed),
        seconds,
        per_second: total as f64 / seconds.max(1e-9),
    })
}
