//! `tenants verify`: can rampart reach each tenant, and with the permissions it needs?
//!
//! Per tenant, in order: acquire an app-only token; check its `tid` is the tenant's;
//! decode the application roles it carries and compare them with what the tenant's desired
//! state needs ([`super::permissions`]); then probe one read per needed surface (`$top=1`),
//! because a role in the token is necessary but not sufficient (Intune and Defender also
//! need the service to be licensed and provisioned in the tenant). Every failure carries a
//! fix a human can act on: the admin-consent URL when the app is not consented, the exact
//! permission name when a role is missing, the `tid` that came back when the token is for
//! another tenant.
//!
//! I/O goes through the [`Access`] trait so the checks are testable without a network;
//! [`GraphAccess`] is the real one: the Graph client area's `Authenticator`, and probes
//! through the same [`GraphClient`](crate::graph::client::GraphClient) as `plan` (so
//! throttling, 429 and 503, is retried with `Retry-After` honoured exactly as for a plan;
//! a probe reports the status Graph finally answered, never a transient one).
//! Limits: probes are reads only; a write permission is checked from the token's roles,
//! never by writing.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use serde::Serialize;

use super::permissions::{Level, Purpose, Surface, admin_consent_url};
use crate::graph::auth::{AuthError, Authenticator, decode_claims};
use crate::graph::client::GraphContext;
use crate::graph::error::GraphError;

/// A bearer token. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn new(s: impl Into<String>) -> Self {
        Token(s.into())
    }
    /// The raw token, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why no token could be obtained, classified for the fix.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "reason")]
pub enum TokenFailure {
    /// The app has no service principal (no admin consent) in the tenant
    /// (AADSTS700016, AADSTS7000229, AADSTS500011, AADSTS65001, AADSTS650051/52).
    NotConsented { message: String },
    /// The tenant does not exist (AADSTS90002).
    UnknownTenant { message: String },
    /// The credential itself was refused (secret, assertion, federated credential).
    BadCredential { message: String },
    /// A token came back, but for another tenant (`tid` = `actual`).
    WrongTenant { actual: String, message: String },
    /// Anything else (network, setup).
    Other { message: String },
}

impl TokenFailure {
    pub fn message(&self) -> &str {
        match self {
            TokenFailure::NotConsented { message }
            | TokenFailure::UnknownTenant { message }
            | TokenFailure::BadCredential { message }
            | TokenFailure::WrongTenant { message, .. }
            | TokenFailure::Other { message } => message,
        }
    }

    /// Classifies an Entra error by its AADSTS codes (in `codes` or the message).
    pub fn classify(codes: &str, message: String) -> TokenFailure {
        let has = |code: &str| {
            let needle = format!("AADSTS{code}");
            codes
                .split([',', ' '])
                .any(|c| c.trim() == code || c.trim() == needle)
                || message.contains(&format!("{needle}:"))
        };
        if ["700016", "7000229", "500011", "65001", "650051", "650052"]
            .iter()
            .any(|c| has(c))
        {
            TokenFailure::NotConsented { message }
        } else if has("90002") {
            TokenFailure::UnknownTenant { message }
        } else if ["7000215", "7000222", "70021", "700024", "50027", "700027"]
            .iter()
            .any(|c| has(c))
        {
            TokenFailure::BadCredential { message }
        } else {
            TokenFailure::Other { message }
        }
    }
}

/// What a probe GET returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeAnswer {
    pub status: u16,
    /// Graph's `error.code`, when the answer is an error body.
    pub error_code: Option<String>,
    pub message: Option<String>,
}

/// The I/O verify needs. Implemented by [`GraphAccess`]; tests may provide their own.
#[async_trait]
pub trait Access: Send + Sync {
    /// An app-only Graph token obtained from `tenant_id`'s token endpoint. The `tid` is NOT
    /// checked here: verify reports it.
    async fn token(&self, tenant_id: &str) -> Result<Token, TokenFailure>;
    /// `GET {graph}/{path}` in `tenant_id` (with the token just obtained for it).
    async fn get(&self, tenant_id: &str, token: &Token, path: &str) -> Result<ProbeAnswer, String>;
    /// The client id, for admin-consent URLs (None for Azure CLI / managed identity).
    fn client_id(&self) -> Option<String>;
    /// The authority for admin-consent URLs.
    fn authority(&self) -> String;
}

/// The real [`Access`]: credentials from the Graph client area, probes through the shared
/// retrying Graph client.
pub struct GraphAccess<'a> {
    auth: &'a Authenticator,
    context: GraphContext,
}

impl std::fmt::Debug for GraphAccess<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphAccess")
            .field("auth", &self.auth)
            .field("graph_url", &self.context.options().graph_url.as_str())
            .finish()
    }
}

impl<'a> GraphAccess<'a> {
    /// `context` is the run's context from the connection set-up (`crate::graph::setup`).
    pub fn new(auth: &'a Authenticator, context: GraphContext) -> Self {
        GraphAccess { auth, context }
    }
}

#[async_trait]
impl Access for GraphAccess<'_> {
    async fn token(&self, tenant_id: &str) -> Result<Token, TokenFailure> {
        // `TenantAuth::token` does the `tid` check and extracts the AADSTS codes.
        let auth = self
            .auth
            .tenant_auth(tenant_id)
            .map_err(|e| token_failure_from(&e))?;
        match auth.token().await {
            Ok((t, _)) => Ok(Token::new(t.token.secret())),
            Err(e) => Err(token_failure_from(&e)),
        }
    }

    async fn get(
        &self,
        tenant_id: &str,
        _token: &Token,
        path: &str,
    ) -> Result<ProbeAnswer, String> {
        // The client asks the authenticator for the token (cached since `token` above, and
        // `tid`-checked); the token argument is what the trait's other implementations use.
        let auth = self
            .auth
            .tenant_auth(tenant_id)
            .map_err(|e| e.to_string())?;
        let client = self.context.client(auth);
        let path = if path.starts_with('/') {
            path.to_string()
        } else {
            format!("/{path}")
        };
        match client.get(&path).await {
            Ok(_) => Ok(ProbeAnswer {
                status: 200,
                error_code: None,
                message: None,
            }),
            Err(GraphError::Status {
                status,
                code,
                message,
                ..
            }) => Ok(ProbeAnswer {
                status,
                error_code: code,
                message,
            }),
            Err(e) => Err(e.to_string()),
        }
    }

    fn client_id(&self) -> Option<String> {
        self.auth.config().client_id.clone()
    }

    fn authority(&self) -> String {
        self.auth
            .config()
            .login_url
            .as_str()
            .trim_end_matches('/')
            .to_string()
    }
}

/// Every `AADSTS<digits>` in a message, comma-separated.
fn aadsts_codes(message: &str) -> String {
    let mut out = Vec::new();
    let mut rest = message;
    while let Some(i) = rest.find("AADSTS") {
        let digits: String = rest[i + 6..]
            .chars()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        if !digits.is_empty() {
            out.push(digits.clone());
        }
        rest = &rest[i + 6 + digits.len()..];
    }
    out.join(",")
}

/// Maps the Graph area's [`AuthError`] to a [`TokenFailure`] (for callers that hold one).
pub fn token_failure_from(e: &AuthError) -> TokenFailure {
    match e {
        AuthError::Token {
            error_codes,
            message,
            ..
        } => TokenFailure::classify(
            &error_codes.clone().unwrap_or_else(|| aadsts_codes(message)),
            message.clone(),
        ),
        AuthError::WrongTenant { actual, .. } => TokenFailure::WrongTenant {
            actual: actual.clone(),
            message: e.to_string(),
        },
        other => TokenFailure::Other {
            message: other.to_string(),
        },
    }
}

/// One tenant to verify and the surfaces its desired state needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyTarget {
    /// Short name (from the profile), or the id when the tenant is not in any profile.
    pub name: String,
    pub tenant_id: String,
    /// What each needed surface needs (see [`super::permissions::needs`]).
    pub needs: BTreeMap<Surface, Level>,
}

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    Pass,
    Fail,
    /// Not run because an earlier check failed.
    Skipped,
}

/// One check of one tenant. `id` is `token`, `tid`, `role:<surface>` or `probe:<surface>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub surface: Option<Surface>,
    pub status: Status,
    /// What was found (never a token).
    pub detail: String,
    /// What to do about a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// The result for one tenant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantReport {
    pub tenant: String,
    pub tenant_id: String,
    pub ok: bool,
    /// The token's `tid`, when a token was obtained.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_tenant_id: Option<String>,
    /// The application roles the token carries, sorted.
    pub roles: Vec<String>,
    /// Surfaces the desired state needs.
    pub surfaces: Vec<Surface>,
    /// Permissions needed but not held.
    pub missing_permissions: Vec<String>,
    pub checks: Vec<Check>,
}

/// The whole verification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    pub purpose: Purpose,
    pub ok: bool,
    pub tenants: Vec<TenantReport>,
}

/// Verifies every target (sequentially: a handful of requests per tenant, and onboarding
/// runs on few tenants; sequential keeps the emulator's and Entra's logs readable).
pub async fn verify(
    access: &dyn Access,
    targets: &[VerifyTarget],
    purpose: Purpose,
) -> VerifyReport {
    let mut tenants = Vec::with_capacity(targets.len());
    for t in targets {
        tenants.push(verify_tenant(access, t).await);
    }
    tenants.sort_by(|a, b| a.tenant.cmp(&b.tenant).then(a.tenant_id.cmp(&b.tenant_id)));
    VerifyReport {
        purpose,
        ok: tenants.iter().all(|t| t.ok),
        tenants,
    }
}

fn consent_fix(access: &dyn Access, tenant_id: &str) -> String {
    match access.client_id() {
        Some(c) => format!(
            "an administrator of tenant {tenant_id} must grant admin consent to the app: {}",
            admin_consent_url(&access.authority(), tenant_id, &c)
        ),
        None => format!(
            "an administrator of tenant {tenant_id} must consent the app (no client id is configured, so no consent URL can be given)"
        ),
    }
}

/// Verifies one tenant.
pub async fn verify_tenant(access: &dyn Access, target: &VerifyTarget) -> TenantReport {
    let mut report = TenantReport {
        tenant: target.name.clone(),
        tenant_id: target.tenant_id.clone(),
        ok: false,
        token_tenant_id: None,
        roles: Vec::new(),
        surfaces: target.needs.keys().copied().collect(),
        missing_permissions: Vec::new(),
        checks: Vec::new(),
    };
    let skip_rest = |report: &mut TenantReport, from_tid: bool| {
        if from_tid {
            report.checks.push(Check {
                id: "tid".into(),
                surface: None,
                status: Status::Skipped,
                detail: "no token".into(),
                fix: None,
            });
        }
        for s in target.needs.keys() {
            for kind in ["role", "probe"] {
                report.checks.push(Check {
                    id: format!("{kind}:{s}"),
                    surface: Some(*s),
                    status: Status::Skipped,
                    detail: "not checked: an earlier check failed".into(),
                    fix: None,
                });
            }
        }
    };

    let token = match access.token(&target.tenant_id).await {
        Ok(t) => t,
        Err(TokenFailure::WrongTenant { actual, .. }) => {
            report.checks.push(Check {
                id: "token".into(),
                surface: None,
                status: Status::Pass,
                detail: "token obtained".into(),
                fix: None,
            });
            report.token_tenant_id = Some(actual.clone());
            report.checks.push(wrong_tenant_check(target, &actual));
            skip_rest(&mut report, false);
            return report;
        }
        Err(failure) => {
            let fix = match &failure {
                TokenFailure::NotConsented { .. } => consent_fix(access, &target.tenant_id),
                TokenFailure::UnknownTenant { .. } => format!(
                    "tenant {} does not exist: check the `id` of tenant `{}` in its profile",
                    target.tenant_id, target.name
                ),
                TokenFailure::BadCredential { .. } => "the credential was refused: check the client secret, or the federated credential's issuer/subject on the app registration".to_string(),
                TokenFailure::WrongTenant { .. } | TokenFailure::Other { .. } => "check the auth settings (--auth, AZURE_CLIENT_ID, ...) and network access to the login authority".to_string(),
            };
            let detail = match &failure {
                TokenFailure::NotConsented { .. } => {
                    format!("app not consented: {}", failure.message())
                }
                _ => failure.message().to_string(),
            };
            report.checks.push(Check {
                id: "token".into(),
                surface: None,
                status: Status::Fail,
                detail,
                fix: Some(fix),
            });
            skip_rest(&mut report, true);
            return report;
        }
    };
    report.checks.push(Check {
        id: "token".into(),
        surface: None,
        status: Status::Pass,
        detail: "token obtained".into(),
        fix: None,
    });

    let claims = match decode_claims(token.secret()) {
        Ok(c) => c,
        Err(reason) => {
            report.checks.push(Check {
                id: "tid".into(),
                surface: None,
                status: Status::Fail,
                detail: format!("the token is not a readable JWT: {reason}"),
                fix: Some("the authority returned an opaque token: check --login-url".into()),
            });
            skip_rest(&mut report, false);
            return report;
        }
    };
    report.token_tenant_id = claims.tid.clone();
    let mut roles = claims.roles.clone();
    roles.sort();
    roles.dedup();
    report.roles = roles;
    match &claims.tid {
        Some(tid) if tid.eq_ignore_ascii_case(&target.tenant_id) => report.checks.push(Check {
            id: "tid".into(),
            surface: None,
            status: Status::Pass,
            detail: format!("tid {tid}"),
            fix: None,
        }),
        other => {
            let got = other.clone().unwrap_or_else(|| "<none>".into());
            report.checks.push(wrong_tenant_check(target, &got));
            // Never probe a tenant with another tenant's token.
            skip_rest(&mut report, false);
            return report;
        }
    }

    for (s, level) in &target.needs {
        let need = s.permission_for(*level);
        let held = s
            .satisfied_by_level(*level)
            .iter()
            .find(|r| report.roles.iter().any(|h| h == *r));
        match held {
            Some(r) => report.checks.push(Check {
                id: format!("role:{s}"),
                surface: Some(*s),
                status: Status::Pass,
                detail: r.to_string(),
                fix: None,
            }),
            None => {
                report.missing_permissions.push(need.to_string());
                let url = access
                    .client_id()
                    .map(|c| {
                        format!(
                            ", then re-consent: {}",
                            admin_consent_url(&access.authority(), &target.tenant_id, &c)
                        )
                    })
                    .unwrap_or_default();
                report.checks.push(Check {
                    id: format!("role:{s}"),
                    surface: Some(*s),
                    status: Status::Fail,
                    detail: format!("missing application permission {need}"),
                    fix: Some(format!(
                        "add the Microsoft Graph application permission {need} to the app registration and have an administrator of tenant {} grant it{url}",
                        target.tenant_id
                    )),
                });
            }
        }
        if !s.probes() {
            continue;
        }
        let path = s.probe_path();
        let check = match access.get(&target.tenant_id, &token, path).await {
            Ok(a) if (200..300).contains(&a.status) => Check {
                id: format!("probe:{s}"),
                surface: Some(*s),
                status: Status::Pass,
                detail: format!("GET {} -> {}", path_only(path), a.status),
                fix: None,
            },
            Ok(a) => {
                let code = a.error_code.clone().unwrap_or_default();
                let fix = match a.status {
                    401 => "the token was refused by Graph: check the login and Graph URLs belong to the same cloud".to_string(),
                    403 => format!("Graph refused the read: grant {need} (and check the service is licensed in the tenant)"),
                    404 | 400 => "the service answered that this API does not exist in the tenant: check the workload is provisioned".to_string(),
                    429 | 503 | 504 => "Graph is throttling or unavailable: retry later".to_string(),
                    _ => "unexpected answer from Graph".to_string(),
                };
                Check {
                    id: format!("probe:{s}"),
                    surface: Some(*s),
                    status: Status::Fail,
                    detail: format!(
                        "GET {} -> {} {}{}",
                        path_only(path),
                        a.status,
                        code,
                        a.message.map(|m| format!(": {m}")).unwrap_or_default()
                    )
                    .trim_end()
                    .to_string(),
                    fix: Some(fix),
                }
            }
            Err(e) => Check {
                id: format!("probe:{s}"),
                surface: Some(*s),
                status: Status::Fail,
                detail: format!("GET {} failed: {e}", path_only(path)),
                fix: Some("check network access to the Graph URL".into()),
            },
        };
        report.checks.push(check);
    }
    report.missing_permissions.sort();
    report.missing_permissions.dedup();
    report.ok = report.checks.iter().all(|c| c.status == Status::Pass);
    report
}

fn wrong_tenant_check(target: &VerifyTarget, got: &str) -> Check {
    Check {
        id: "tid".into(),
        surface: None,
        status: Status::Fail,
        detail: format!("the token is for tenant {got}, not {}", target.tenant_id),
        fix: Some(format!(
            "the credential obtained a token for tenant {got}: check the tenant id of `{}` in its profile and that the credential (or `az login`) targets tenant {}; nothing is sent to a tenant until they match",
            target.name, target.tenant_id
        )),
    }
}

fn path_only(p: &str) -> &str {
    p.split('?').next().unwrap_or(p)
}

/// The human table: one row per tenant, one column per check family, then the fixes.
pub fn render_human(report: &VerifyReport) -> String {
    let surfaces: BTreeSet<Surface> = report
        .tenants
        .iter()
        .flat_map(|t| t.surfaces.iter().copied())
        .collect();
    let mut header: Vec<String> = vec!["TENANT".into(), "TOKEN".into(), "TID".into()];
    header.extend(surfaces.iter().map(|s| s.as_str().to_string()));
    let mut rows = vec![header];
    for t in &report.tenants {
        let cell = |ids: &[String]| -> String {
            let cs: Vec<&Check> = t.checks.iter().filter(|c| ids.contains(&c.id)).collect();
            if cs.is_empty() {
                "-".into()
            } else if cs.iter().any(|c| c.status == Status::Fail) {
                "FAIL".into()
            } else if cs.iter().all(|c| c.status == Status::Pass) {
                "ok".into()
            } else {
                "skipped".into()
            }
        };
        let mut row = vec![
            t.tenant.clone(),
            cell(&["token".into()]),
            cell(&["tid".into()]),
        ];
        for s in &surfaces {
            row.push(cell(&[format!("role:{s}"), format!("probe:{s}")]));
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in &rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    let failures: Vec<(&TenantReport, &Check)> = report
        .tenants
        .iter()
        .flat_map(|t| {
            t.checks
                .iter()
                .filter(|c| c.status == Status::Fail)
                .map(move |c| (t, c))
        })
        .collect();
    if !failures.is_empty() {
        out.push('\n');
        for (t, c) in &failures {
            out.push_str(&format!(
                "{} ({}) {}: {}\n",
                t.tenant, t.tenant_id, c.id, c.detail
            ));
            if let Some(fix) = &c.fix {
                out.push_str(&format!("  fix: {fix}\n"));
            }
        }
    }
    let failed = report.tenants.iter().filter(|t| !t.ok).count();
    out.push_str(&format!(
        "\nVerify ({}): {} of {} tenants ready, {} failed.\n",
        report.purpose.as_str(),
        report.tenants.len() - failed,
        report.tenants.len(),
        failed
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_consent_and_credential_errors() {
        let f = TokenFailure::classify(
            "",
            "AADSTS700016: Application with identifier 'x' was not found".into(),
        );
        assert!(matches!(f, TokenFailure::NotConsented { .. }));
        let f = TokenFailure::classify("7000215", "Invalid client secret provided.".into());
        assert!(matches!(f, TokenFailure::BadCredential { .. }));
        let f = TokenFailure::classify("", "connection refused".into());
        assert!(matches!(f, TokenFailure::Other { .. }));
        assert_eq!(
            aadsts_codes("x AADSTS90002: y AADSTS7000215: z"),
            "90002,7000215"
        );
    }

    struct Fake {
        tid: &'static str,
        probes: std::sync::Mutex<u32>,
    }

    #[async_trait]
    impl Access for Fake {
        async fn token(&self, _: &str) -> Result<Token, TokenFailure> {
            use base64::Engine as _;
            let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let payload = format!(r#"{{"tid":"{}","roles":["Group.Read.All"]}}"#, self.tid);
            Ok(Token::new(format!(
                "{}.{}.sig",
                e.encode("{}"),
                e.encode(payload)
            )))
        }
        async fn get(&self, _: &str, _: &Token, _: &str) -> Result<ProbeAnswer, String> {
            *self.probes.lock().unwrap_or_else(|e| e.into_inner()) += 1;
            Ok(ProbeAnswer {
                status: 200,
                error_code: None,
                message: None,
            })
        }
        fn client_id(&self) -> Option<String> {
            Some("app".into())
        }
        fn authority(&self) -> String {
            "https://login.example".into()
        }
    }

    #[tokio::test]
    async fn wrong_tenant_is_named_and_never_probed() {
        let fake = Fake {
            tid: "other-tenant",
            probes: std::sync::Mutex::new(0),
        };
        let target = VerifyTarget {
            name: "contoso".into(),
            tenant_id: "my-tenant".into(),
            needs: [(Surface::Groups, Level::Read)].into(),
        };
        let r = verify_tenant(&fake, &target).await;
        assert!(!r.ok);
        let tid = r.checks.iter().find(|c| c.id == "tid").expect("tid check");
        assert_eq!(tid.status, Status::Fail);
        assert!(tid.detail.contains("other-tenant"), "{tid:?}");
        assert_eq!(*fake.probes.lock().unwrap_or_else(|e| e.into_inner()), 0);

        let fake = Fake {
            tid: "my-tenant",
            probes: std::sync::Mutex::new(0),
        };
        let r = verify_tenant(&fake, &target).await;
        assert!(r.ok, "{r:#?}");
        assert_eq!(*fake.probes.lock().unwrap_or_else(|e| e.into_inner()), 1);
    }
}
