//! Authentication: one `azure_identity` credential per customer tenant, and the check that
//! a token really is for the tenant we are about to talk to.
//!
//! Methods ([`AuthMethod`]), selected by `--auth` or, when absent, from the standard Azure
//! SDK environment variables:
//!
//! | method | credential | needs |
//! |---|---|---|
//! | `secret` | `ClientSecretCredential` | `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET` |
//! | `certificate` | `ClientAssertionCredential`, assertion signed with the certificate key | `AZURE_CLIENT_ID`, `AZURE_CLIENT_CERTIFICATE_PATH` |
//! | `assertion-file` | `ClientAssertionCredential`, assertion read from a file | `AZURE_CLIENT_ID`, `AZURE_FEDERATED_TOKEN_FILE` |
//! | `github-oidc` | `ClientAssertionCredential`, assertion = GitHub Actions OIDC token (audience `api://AzureADTokenExchange`) | `AZURE_CLIENT_ID`, `ACTIONS_ID_TOKEN_REQUEST_URL`, `ACTIONS_ID_TOKEN_REQUEST_TOKEN` |
//! | `managed-identity` | `ManagedIdentityCredential`; with `AZURE_CLIENT_ID` set, the managed identity's token is used as a federated assertion for that app in each customer tenant | optional `RAMPART_MANAGED_IDENTITY_CLIENT_ID` (user-assigned) |
//! | `azure-cli` | `AzureCliCredential` with `--tenant` per tenant | `az login` |
//!
//! Every credential obtains tokens from `{authority}/{tenant}/oauth2/v2.0/token`, where the
//! authority is `--login-url` / `AZURE_AUTHORITY_HOST` (https, or http to loopback only,
//! in which case [`LoopbackRewrite`] carries the real credential code to it). Tokens are
//! cached until five minutes before expiry: `azure_identity` does so for every credential
//! used here except the Azure CLI one, which [`CachedCredential`] wraps.
//!
//! After each token, [`TenantAuth::token`] decodes the JWT payload (no signature check: the
//! token came from the authority we chose over TLS, and Graph checks signatures) and
//! refuses it unless `tid` is the target tenant: a mis-consented app, a CLI logged in to the
//! wrong directory or a shared credential must never let rampart write to tenant B while
//! believing it is tenant A. Nothing is sent to a tenant before that check.
//!
//! Certificates (`AZURE_CLIENT_CERTIFICATE_PATH`, a PEM file with the certificate and an
//! unencrypted RSA key) go through `ClientAssertionCredential` with an assertion rampart
//! signs itself ([`crate::graph::certificate`]): azure_identity 1.x gates its own
//! certificate credential behind an OpenSSL feature.
//!
//! Limits: no PFX or password-protected keys; the Azure CLI and direct managed-identity
//! modes only reach tenants where that identity itself can get a token.

use crate::graph::certificate::{CertificateAssertion, CertificateKey};
use crate::graph::transport::LoopbackRewrite;
use crate::graph::urls::{self, UrlPolicyError, checked_base_url};
use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientMethodOptions, ClientOptions, HttpClient, Transport, Url};
use azure_identity::{
    AzureCliCredential, AzureCliCredentialOptions, ClientAssertion, ClientAssertionCredential,
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
};
use base64::Engine as _;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use thiserror::Error;

/// The scope of an app-only Microsoft Graph token.
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";
/// The audience Entra expects on a federated (workload identity) assertion.
pub const TOKEN_EXCHANGE_AUDIENCE: &str = "api://AzureADTokenExchange";
/// Refresh a cached token this long before it expires (the same margin azure_identity uses).
pub const TOKEN_REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Re-read an assertion file at least this often (Kubernetes projected tokens rotate).
pub const ASSERTION_FILE_MAX_AGE: Duration = Duration::from_secs(300);

/// Environment variable names (the standard Azure SDK ones, plus GitHub's).
pub mod env {
    /// Application (client) id of the multi-tenant app.
    pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
    /// Client secret.
    pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
    /// PEM file with the app's certificate and its unencrypted RSA private key.
    pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
    /// File holding a federated assertion (JWT).
    pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";
    /// Login authority.
    pub const AZURE_AUTHORITY_HOST: &str = "AZURE_AUTHORITY_HOST";
    /// GitHub Actions: OIDC token endpoint (set when the job has `id-token: write`).
    pub const ACTIONS_ID_TOKEN_REQUEST_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
    /// GitHub Actions: bearer token for that endpoint.
    pub const ACTIONS_ID_TOKEN_REQUEST_TOKEN: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
    /// Client id of a user-assigned managed identity.
    pub const RAMPART_MANAGED_IDENTITY_CLIENT_ID: &str = "RAMPART_MANAGED_IDENTITY_CLIENT_ID";
    /// Set by App Service / Functions / Arc when a managed identity is available.
    pub const IDENTITY_ENDPOINT: &str = "IDENTITY_ENDPOINT";
}

/// How rampart authenticates (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AuthMethod {
    /// Client id + client secret.
    Secret,
    /// Client id + certificate (PEM with an RSA key).
    Certificate,
    /// Client id + federated assertion read from a file.
    AssertionFile,
    /// Client id + GitHub Actions OIDC token as federated assertion.
    GithubOidc,
    /// Azure managed identity (directly, or as a federated assertion for the app).
    ManagedIdentity,
    /// The identity logged in to the Azure CLI.
    AzureCli,
}

impl AuthMethod {
    /// Every method, in `--help` order.
    pub const ALL: [AuthMethod; 6] = [
        Self::Secret,
        Self::Certificate,
        Self::AssertionFile,
        Self::GithubOidc,
        Self::ManagedIdentity,
        Self::AzureCli,
    ];

    /// The `--auth` spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Secret => "secret",
            Self::Certificate => "certificate",
            Self::AssertionFile => "assertion-file",
            Self::GithubOidc => "github-oidc",
            Self::ManagedIdentity => "managed-identity",
            Self::AzureCli => "azure-cli",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, AuthError> {
        Self::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| AuthError::UnknownMethod(s.to_string()))
    }
}

/// GitHub Actions OIDC endpoint and its bearer token.
#[derive(Clone)]
pub struct GithubOidc {
    /// `ACTIONS_ID_TOKEN_REQUEST_URL` (already carries `?api-version=...`).
    pub request_url: String,
    /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
    pub request_token: Secret,
}

impl fmt::Debug for GithubOidc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The request URL carries no secret of its own, but it is job-specific noise; the
        // token is a credential.
        f.debug_struct("GithubOidc")
            .field("request_url", &self.request_url)
            .field("request_token", &"<redacted>")
            .finish()
    }
}

/// Everything needed to build credentials; filled by the CLI (no clap here).
#[derive(Clone)]
pub struct AuthConfig {
    /// The method.
    pub method: AuthMethod,
    /// Application (client) id of the multi-tenant app.
    pub client_id: Option<String>,
    /// Client secret (`secret`).
    pub client_secret: Option<Secret>,
    /// Certificate PEM path (`certificate`).
    pub certificate_path: Option<PathBuf>,
    /// Assertion file (`assertion-file`).
    pub federated_token_file: Option<PathBuf>,
    /// GitHub OIDC endpoint (`github-oidc`).
    pub github_oidc: Option<GithubOidc>,
    /// User-assigned managed identity client id (`managed-identity`).
    pub managed_identity_client_id: Option<String>,
    /// Login authority (checked: https, or http to loopback).
    pub login_url: Url,
    /// Token scope, normally [`GRAPH_SCOPE`].
    pub scope: String,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("method", &self.method)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("certificate_path", &self.certificate_path)
            .field("federated_token_file", &self.federated_token_file)
            .field("github_oidc", &self.github_oidc)
            .field(
                "managed_identity_client_id",
                &self.managed_identity_client_id,
            )
            .field("login_url", &self.login_url.as_str())
            .field("scope", &self.scope)
            .finish()
    }
}

impl AuthConfig {
    /// A config for `method` with nothing else set, the public-cloud authority and the
    /// Graph scope.
    pub fn new(method: AuthMethod) -> Self {
        Self {
            method,
            client_id: None,
            client_secret: None,
            certificate_path: None,
            federated_token_file: None,
            github_oidc: None,
            managed_identity_client_id: None,
            // A constant that parses; `expect` cannot fire.
            login_url: checked_base_url("login URL", urls::DEFAULT_LOGIN_URL)
                .expect("default login URL is valid"),
            scope: GRAPH_SCOPE.to_string(),
        }
    }

    /// Builds the config from environment variables (read through `var`, so tests need
    /// no process environment). `method` is `--auth` if given; otherwise the first of
    /// secret, certificate, assertion file, GitHub OIDC, managed identity (when its
    /// endpoint variable is set) whose variables are present, else Azure CLI.
    /// `login_url` is `--login-url`, which wins over `AZURE_AUTHORITY_HOST`.
    pub fn from_env(
        method: Option<AuthMethod>,
        login_url: Option<&str>,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, AuthError> {
        let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
        let method = match method {
            Some(m) => m,
            None if get(env::AZURE_CLIENT_SECRET).is_some() => AuthMethod::Secret,
            None if get(env::AZURE_CLIENT_CERTIFICATE_PATH).is_some() => AuthMethod::Certificate,
            None if get(env::AZURE_FEDERATED_TOKEN_FILE).is_some() => AuthMethod::AssertionFile,
            None if get(env::ACTIONS_ID_TOKEN_REQUEST_URL).is_some() => AuthMethod::GithubOidc,
            None if get(env::IDENTITY_ENDPOINT).is_some() => AuthMethod::ManagedIdentity,
            None => AuthMethod::AzureCli,
        };
        let mut c = Self::new(method);
        let login = login_url
            .map(str::to_string)
            .or_else(|| get(env::AZURE_AUTHORITY_HOST));
        if let Some(l) = login {
            c.login_url = checked_base_url("login URL", &l)?;
        }
        c.client_id = get(env::AZURE_CLIENT_ID);
        c.client_secret = get(env::AZURE_CLIENT_SECRET).map(Secret::from);
        c.certificate_path = get(env::AZURE_CLIENT_CERTIFICATE_PATH).map(PathBuf::from);
        c.federated_token_file = get(env::AZURE_FEDERATED_TOKEN_FILE).map(PathBuf::from);
        c.github_oidc = match (
            get(env::ACTIONS_ID_TOKEN_REQUEST_URL),
            get(env::ACTIONS_ID_TOKEN_REQUEST_TOKEN),
        ) {
            (Some(request_url), Some(t)) => Some(GithubOidc {
                request_url,
                request_token: Secret::from(t),
            }),
            _ => None,
        };
        c.managed_identity_client_id = get(env::RAMPART_MANAGED_IDENTITY_CLIENT_ID);
        c.check()?;
        Ok(c)
    }

    /// Checks that the method has what it needs, naming the missing variable.
    pub fn check(&self) -> Result<(), AuthError> {
        let missing = |what: &'static str| AuthError::Missing {
            method: self.method,
            what,
        };
        let need_client = || self.client_id.as_ref().ok_or(missing(env::AZURE_CLIENT_ID));
        match self.method {
            AuthMethod::Secret => {
                need_client()?;
                self.client_secret
                    .as_ref()
                    .ok_or(missing(env::AZURE_CLIENT_SECRET))?;
            }
            AuthMethod::Certificate => {
                need_client()?;
                self.certificate_path
                    .as_ref()
                    .ok_or(missing(env::AZURE_CLIENT_CERTIFICATE_PATH))?;
            }
            AuthMethod::AssertionFile => {
                need_client()?;
                self.federated_token_file
                    .as_ref()
                    .ok_or(missing(env::AZURE_FEDERATED_TOKEN_FILE))?;
            }
            AuthMethod::GithubOidc => {
                need_client()?;
                let g = self
                    .github_oidc
                    .as_ref()
                    .ok_or(missing(env::ACTIONS_ID_TOKEN_REQUEST_URL))?;
                // The OIDC request carries a bearer token: same rule as every base URL.
                let url = Url::parse(&g.request_url).map_err(|e| UrlPolicyError::Invalid {
                    name: "ACTIONS_ID_TOKEN_REQUEST_URL",
                    url: g.request_url.clone(),
                    reason: e.to_string(),
                })?;
                if url.scheme() != "https" && !(url.scheme() == "http" && urls::is_loopback(&url)) {
                    return Err(UrlPolicyError::InsecureNonLoopback {
                        name: "ACTIONS_ID_TOKEN_REQUEST_URL",
                        url: g.request_url.clone(),
                    }
                    .into());
                }
            }
            AuthMethod::ManagedIdentity | AuthMethod::AzureCli => {}
        }
        Ok(())
    }
}

/// An authentication failure. Never carries a secret, token or assertion.
#[derive(Debug, Error)]
pub enum AuthError {
    /// `--auth` value not known.
    #[error(
        "unknown auth method `{0}` (expected secret, certificate, assertion-file, github-oidc, managed-identity or azure-cli)"
    )]
    UnknownMethod(String),
    /// A setting the method needs is absent.
    #[error("auth method `{method}` needs {what} to be set")]
    Missing {
        /// The method.
        method: AuthMethod,
        /// The environment variable (or flag) that is missing.
        what: &'static str,
    },
    /// The certificate file cannot be used.
    #[error("cannot use the certificate {path}: {reason}")]
    Certificate {
        /// The file.
        path: PathBuf,
        /// Why (never key material).
        reason: String,
    },
    /// A base URL was refused.
    #[error(transparent)]
    Url(#[from] UrlPolicyError),
    /// The credential could not be built (for example an invalid tenant id).
    #[error("cannot set up {method} credential for tenant {tenant}: {message}")]
    Setup {
        /// Target tenant.
        tenant: String,
        /// The method.
        method: AuthMethod,
        /// azure_identity's message.
        message: String,
    },
    /// The authority (or the CLI, or the managed-identity endpoint) refused a token.
    #[error("cannot get a token for tenant {tenant} ({method}): {message}")]
    Token {
        /// Target tenant.
        tenant: String,
        /// The method.
        method: AuthMethod,
        /// HTTP status from the authority, when there was one.
        status: Option<u16>,
        /// Entra error codes (`AADSTS...` numbers), comma-separated, when given.
        error_codes: Option<String>,
        /// The authority's description (its `error_description`; never our request).
        message: String,
    },
    /// The token is not a JWT we can read.
    #[error("token for tenant {tenant} is not a readable JWT: {reason}")]
    MalformedToken {
        /// Target tenant.
        tenant: String,
        /// What was wrong (never the token).
        reason: String,
    },
    /// The token is for another tenant: nothing is sent to the target.
    #[error(
        "token obtained for tenant {expected} is for tenant {actual}: refusing to use it (check the app's consent in {expected} and the credential's tenant)"
    )]
    WrongTenant {
        /// The tenant we meant to reach.
        expected: String,
        /// The token's `tid` (`<none>` when absent).
        actual: String,
    },
}

/// The claims rampart reads from an access token.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Deserialize)]
pub struct TokenClaims {
    /// Tenant id the token was issued for.
    #[serde(default)]
    pub tid: Option<String>,
    /// Application permissions (app roles) granted in that tenant.
    #[serde(default)]
    pub roles: Vec<String>,
    /// The application id (v1 tokens).
    #[serde(default)]
    pub appid: Option<String>,
    /// The application id (v2 tokens).
    #[serde(default)]
    pub azp: Option<String>,
    /// Expiry, seconds since the epoch.
    #[serde(default)]
    pub exp: Option<i64>,
}

/// The token scope for a Graph base URL: `https://<host>/.default` for a real Graph host
/// (so national clouds such as `graph.microsoft.us` get their own audience), and the
/// public-cloud [`GRAPH_SCOPE`] for a loopback URL (the emulator stands in for it).
pub fn scope_for_graph_url(graph_url: &Url) -> String {
    match graph_url.host_str() {
        Some(host) if !urls::is_loopback(graph_url) => format!("https://{host}/.default"),
        _ => GRAPH_SCOPE.to_string(),
    }
}

/// Decodes a JWT's payload without verifying its signature. Errors never include the token.
pub fn decode_claims(token: &str) -> Result<TokenClaims, String> {
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected three dot-separated parts".into());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("payload is not a JSON claims set: {e}"))
}

/// A tenant's credential plus the `tid` check. Cheap to clone.
/// Builds a tenant's credential again (a fresh token cache), for [`TenantAuth::refresh`].
pub type CredentialFactory =
    Arc<dyn Fn() -> Result<Arc<dyn TokenCredential>, AuthError> + Send + Sync>;

#[derive(Clone)]
pub struct TenantAuth {
    tenant_id: String,
    method: AuthMethod,
    scope: String,
    /// Swapped by [`TenantAuth::refresh`]; shared by every clone (one refresh serves all
    /// of a tenant's requests).
    credential: Arc<std::sync::RwLock<Arc<dyn TokenCredential>>>,
    rebuild: Option<CredentialFactory>,
    /// The last token that passed the check, with its claims: the credential hands out
    /// the same cached token for an hour, so decode it once, not on every request.
    checked: Arc<std::sync::Mutex<Option<(Secret, TokenClaims)>>>,
}

impl fmt::Debug for TenantAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantAuth")
            .field("tenant_id", &self.tenant_id)
            .field("method", &self.method)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl TenantAuth {
    /// Wraps any credential (tests may pass their own).
    pub fn new(
        tenant_id: impl Into<String>,
        method: AuthMethod,
        scope: impl Into<String>,
        credential: Arc<dyn TokenCredential>,
    ) -> Self {
        Self {
            tenant_id: tenant_id.into(),
            method,
            scope: scope.into(),
            credential: Arc::new(std::sync::RwLock::new(credential)),
            rebuild: None,
            checked: Arc::new(std::sync::Mutex::new(None)),
        }
    }

    /// The same, able to build its credential again after a 401 ([`TenantAuth::refresh`]).
    pub fn with_rebuild(mut self, rebuild: CredentialFactory) -> Self {
        self.rebuild = Some(rebuild);
        self
    }

    /// Drops the cached token: the credential is built again (its token cache with it), so
    /// the next [`TenantAuth::token`] asks the authority for a new token. Graph answered 401
    /// to a token the cache still held (revoked, or the tenant's keys rolled). Without a
    /// factory (a test's own credential) only the checked-claims cache is cleared.
    pub fn refresh(&self) -> Result<(), AuthError> {
        if let Some(rebuild) = &self.rebuild {
            let fresh = rebuild()?;
            *self.credential.write().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        *self.checked.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }

    /// The target tenant.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// A token for the target tenant, with its claims; `WrongTenant` if its `tid` differs.
    pub async fn token(&self) -> Result<(AccessToken, TokenClaims), AuthError> {
        let credential = self
            .credential
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let token = credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| token_error(&self.tenant_id, self.method, e))?;
        if let Some((t, c)) = &*self.checked.lock().unwrap_or_else(|e| e.into_inner())
            && *t == token.token
        {
            return Ok((token, c.clone()));
        }
        let claims =
            decode_claims(token.token.secret()).map_err(|reason| AuthError::MalformedToken {
                tenant: self.tenant_id.clone(),
                reason,
            })?;
        match &claims.tid {
            Some(tid) if tid.eq_ignore_ascii_case(&self.tenant_id) => {
                *self.checked.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((token.token.clone(), claims.clone()));
                Ok((token, claims))
            }
            other => Err(AuthError::WrongTenant {
                expected: self.tenant_id.clone(),
                actual: other.clone().unwrap_or_else(|| "<none>".into()),
            }),
        }
    }

    /// The application permissions the tenant granted (the token's `roles`), after the
    /// `tid` check. Used by onboarding (`tenants verify`).
    pub async fn roles(&self) -> Result<Vec<String>, AuthError> {
        let (_, claims) = self.token().await?;
        let mut roles = claims.roles;
        roles.sort();
        Ok(roles)
    }
}

fn token_error(tenant: &str, method: AuthMethod, e: azure_core::Error) -> AuthError {
    // Keep only the status, the AADSTS codes and the message; the raw response stays
    // behind (it is the authority's error body, but we keep errors small and safe).
    let mut status = e.http_status().map(u16::from);
    let mut error_codes = None;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = cur {
        if let Some(az) = err.downcast_ref::<azure_core::Error>()
            && let azure_core::error::ErrorKind::HttpResponse {
                status: s,
                error_code,
                ..
            } = az.kind()
        {
            status = status.or(Some(u16::from(*s)));
            error_codes = error_codes.or_else(|| error_code.clone());
        }
        cur = err.source();
    }
    AuthError::Token {
        tenant: tenant.to_string(),
        method,
        status,
        error_codes,
        message: e.to_string(),
    }
}

/// Builds credentials for tenants and shares what can be shared between them: the HTTP
/// client, the assertion source (one GitHub OIDC token serves every tenant until it nears
/// expiry), the managed identity.
#[derive(Clone)]
pub struct Authenticator {
    config: AuthConfig,
    http: reqwest::Client,
    client_options: ClientOptions,
    assertion: Option<SharedAssertion>,
    managed_identity: Option<Arc<ManagedIdentityCredential>>,
    certificate: Option<Arc<CertificateKey>>,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Checks the config and prepares the shared parts. `http` is the run's HTTP client
    /// (azure_core speaks to it directly: reqwest implements its transport trait).
    pub fn new(config: AuthConfig, http: reqwest::Client) -> Result<Self, AuthError> {
        config.check()?;
        // Logged after any loopback rewrite, so the log shows the URL actually used.
        let inner: Arc<dyn HttpClient> =
            Arc::new(crate::graph::transport::Logged::new(Arc::new(http.clone())));
        let mut client_options = ClientOptions::default();
        match LoopbackRewrite::for_base(&config.login_url, inner.clone()) {
            Some((https_authority, rewrite)) => {
                client_options.transport = Some(Transport::new(Arc::new(rewrite)));
                client_options.cloud = Some(Arc::new(custom_cloud(&https_authority)));
            }
            None => {
                client_options.transport = Some(Transport::new(inner));
                client_options.cloud = Some(Arc::new(custom_cloud(&config.login_url)));
            }
        }
        let managed_identity = if config.method == AuthMethod::ManagedIdentity {
            Some(
                ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: config
                        .managed_identity_client_id
                        .clone()
                        .map(UserAssignedId::ClientId),
                    ..Default::default()
                }))
                .map_err(|e| AuthError::Setup {
                    tenant: "<managed identity>".into(),
                    method: config.method,
                    message: e.to_string(),
                })?,
            )
        } else {
            None
        };
        let certificate = match (&config.method, &config.certificate_path) {
            (AuthMethod::Certificate, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|e| AuthError::Certificate {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
                Some(Arc::new(CertificateKey::from_pem(&text).map_err(
                    |reason| AuthError::Certificate {
                        path: path.clone(),
                        reason,
                    },
                )?))
            }
            _ => None,
        };
        let assertion = match config.method {
            AuthMethod::AssertionFile => config.federated_token_file.clone().map(|path| {
                SharedAssertion(Arc::new(AssertionSource::File {
                    path,
                    cache: tokio::sync::Mutex::new(None),
                }))
            }),
            AuthMethod::GithubOidc => config.github_oidc.clone().map(|g| {
                SharedAssertion(Arc::new(AssertionSource::Github {
                    oidc: g,
                    http: http.clone(),
                    cache: tokio::sync::Mutex::new(None),
                }))
            }),
            AuthMethod::ManagedIdentity if config.client_id.is_some() => managed_identity
                .clone()
                .map(|mi| SharedAssertion(Arc::new(AssertionSource::ManagedIdentity(mi)))),
            _ => None,
        };
        Ok(Self {
            config,
            http,
            client_options,
            assertion,
            managed_identity,
            certificate,
        })
    }

    /// The config in use.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    /// The HTTP client shared with the credentials.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// A credential that obtains tokens in `tenant_id`.
    pub fn credential_for_tenant(
        &self,
        tenant_id: &str,
    ) -> Result<Arc<dyn TokenCredential>, AuthError> {
        let c = &self.config;
        let setup = |e: azure_core::Error| AuthError::Setup {
            tenant: tenant_id.to_string(),
            method: c.method,
            message: e.to_string(),
        };
        let missing = |what| AuthError::Missing {
            method: c.method,
            what,
        };
        let client_id = || c.client_id.clone().ok_or(missing(env::AZURE_CLIENT_ID));
        let cred: Arc<dyn TokenCredential> = match c.method {
            AuthMethod::Secret => {
                let secret = c
                    .client_secret
                    .clone()
                    .ok_or(missing(env::AZURE_CLIENT_SECRET))?;
                ClientSecretCredential::new(
                    tenant_id,
                    client_id()?,
                    secret,
                    Some(ClientSecretCredentialOptions {
                        client_options: self.client_options.clone(),
                    }),
                )
                .map_err(setup)?
            }
            AuthMethod::Certificate => {
                let key = self
                    .certificate
                    .clone()
                    .ok_or(missing(env::AZURE_CLIENT_CERTIFICATE_PATH))?;
                let client_id = client_id()?;
                // `aud` is the endpoint as configured (the loopback one for the emulator).
                let audience = format!(
                    "{}/{tenant_id}/oauth2/v2.0/token",
                    c.login_url.as_str().trim_end_matches('/')
                );
                ClientAssertionCredential::new(
                    tenant_id.to_string(),
                    client_id.clone(),
                    CertificateAssertion {
                        key,
                        client_id,
                        audience,
                    },
                    Some(ClientAssertionCredentialOptions {
                        client_options: self.client_options.clone(),
                    }),
                )
                .map_err(setup)?
            }
            AuthMethod::AssertionFile | AuthMethod::GithubOidc => {
                let assertion = self
                    .assertion
                    .clone()
                    .ok_or(missing(env::AZURE_FEDERATED_TOKEN_FILE))?;
                ClientAssertionCredential::new(
                    tenant_id.to_string(),
                    client_id()?,
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: self.client_options.clone(),
                    }),
                )
                .map_err(setup)?
            }
            AuthMethod::ManagedIdentity => match (&self.assertion, &c.client_id) {
                // Managed identity as a federated credential of the multi-tenant app:
                // the only way a managed identity reaches customer tenants.
                (Some(assertion), Some(app)) => ClientAssertionCredential::new(
                    tenant_id.to_string(),
                    app.clone(),
                    assertion.clone(),
                    Some(ClientAssertionCredentialOptions {
                        client_options: self.client_options.clone(),
                    }),
                )
                .map_err(setup)?,
                // Directly: only ever valid for the identity's own tenant; the tid check
                // refuses every other tenant.
                _ => self
                    .managed_identity
                    .clone()
                    .ok_or(missing("a managed identity"))?,
            },
            AuthMethod::AzureCli => Arc::new(CachedCredential::new(
                AzureCliCredential::new(Some(AzureCliCredentialOptions {
                    tenant_id: Some(tenant_id.to_string()),
                    ..Default::default()
                }))
                .map_err(setup)?,
            )),
        };
        Ok(cred)
    }

    /// The credential wrapped with the `tid` check.
    pub fn tenant_auth(&self, tenant_id: &str) -> Result<TenantAuth, AuthError> {
        let me = self.clone();
        let tid = tenant_id.to_string();
        Ok(TenantAuth::new(
            tenant_id,
            self.config.method,
            self.config.scope.clone(),
            self.credential_for_tenant(tenant_id)?,
        )
        .with_rebuild(Arc::new(move || me.credential_for_tenant(&tid))))
    }
}

/// Builds a credential for one tenant from a config (a fresh [`Authenticator`] each call:
/// for many tenants, keep one `Authenticator` so assertions and connections are shared).
pub fn credential_for_tenant(
    config: &AuthConfig,
    tenant_id: &str,
) -> Result<Arc<dyn TokenCredential>, AuthError> {
    Authenticator::new(config.clone(), reqwest::Client::new())?.credential_for_tenant(tenant_id)
}

fn custom_cloud(authority: &Url) -> azure_core::cloud::CloudConfiguration {
    let mut custom = azure_core::cloud::CustomConfiguration::default();
    custom.authority_host = authority.as_str().trim_end_matches('/').to_string();
    custom.into()
}

/// A client assertion shared by every tenant's credential.
#[derive(Clone, Debug)]
struct SharedAssertion(Arc<AssertionSource>);

enum AssertionSource {
    File {
        path: PathBuf,
        cache: tokio::sync::Mutex<Option<(Instant, Secret)>>,
    },
    Github {
        oidc: GithubOidc,
        http: reqwest::Client,
        cache: tokio::sync::Mutex<Option<(Option<i64>, Secret)>>,
    },
    ManagedIdentity(Arc<ManagedIdentityCredential>),
}

impl fmt::Debug for AssertionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { path, .. } => f.debug_struct("File").field("path", path).finish(),
            Self::Github { oidc, .. } => f.debug_struct("Github").field("oidc", oidc).finish(),
            Self::ManagedIdentity(_) => f.write_str("ManagedIdentity"),
        }
    }
}

fn cred_err(message: impl Into<String>) -> azure_core::Error {
    azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message.into())
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[async_trait::async_trait]
impl ClientAssertion for SharedAssertion {
    async fn secret(&self, _: Option<ClientMethodOptions<'_>>) -> azure_core::Result<String> {
        match &*self.0 {
            AssertionSource::File { path, cache } => {
                let mut c = cache.lock().await;
                if let Some((read_at, s)) = &*c
                    && read_at.elapsed() < ASSERTION_FILE_MAX_AGE
                {
                    return Ok(s.secret().to_string());
                }
                let text = tokio::fs::read_to_string(path).await.map_err(|e| {
                    cred_err(format!(
                        "cannot read the federated token file {}: {e}",
                        path.display()
                    ))
                })?;
                let text = text.trim().to_string();
                if text.is_empty() {
                    return Err(cred_err(format!(
                        "the federated token file {} is empty",
                        path.display()
                    )));
                }
                *c = Some((Instant::now(), Secret::from(text.clone())));
                Ok(text)
            }
            AssertionSource::Github { oidc, http, cache } => {
                let mut c = cache.lock().await;
                if let Some((exp, s)) = &*c {
                    // GitHub's tokens live a few minutes; reuse one until a minute before
                    // its `exp` so a thousand tenants cost one request, not a thousand.
                    if exp.is_some_and(|e| e - 60 > now_unix()) {
                        return Ok(s.secret().to_string());
                    }
                }
                let mut url = Url::parse(&oidc.request_url)
                    .map_err(|e| cred_err(format!("ACTIONS_ID_TOKEN_REQUEST_URL: {e}")))?;
                url.query_pairs_mut()
                    .append_pair("audience", TOKEN_EXCHANGE_AUDIENCE);
                let resp = http
                    .get(url)
                    .bearer_auth(oidc.request_token.secret())
                    .header("accept", "application/json")
                    .send()
                    .await
                    .map_err(|e| {
                        cred_err(format!(
                            "GitHub OIDC token request failed: {}",
                            e.without_url()
                        ))
                    })?;
                let status = resp.status();
                if !status.is_success() {
                    return Err(cred_err(format!(
                        "GitHub OIDC token request answered HTTP {status} (does the job have `permissions: id-token: write`?)"
                    )));
                }
                #[derive(serde::Deserialize)]
                struct OidcAnswer {
                    value: String,
                }
                let answer: OidcAnswer = resp.json().await.map_err(|e| {
                    cred_err(format!(
                        "GitHub OIDC answer is not {{\"value\": ...}}: {}",
                        e.without_url()
                    ))
                })?;
                let exp = decode_claims(&answer.value).ok().and_then(|c| c.exp);
                *c = Some((exp, Secret::from(answer.value.clone())));
                Ok(answer.value)
            }
            AssertionSource::ManagedIdentity(mi) => {
                let scope = format!("{TOKEN_EXCHANGE_AUDIENCE}/.default");
                let t = mi.get_token(&[scope.as_str()], None).await?;
                Ok(t.token.secret().to_string())
            }
        }
    }
}

/// Caches another credential's tokens until [`TOKEN_REFRESH_MARGIN`] before expiry, per
/// scope set. Used for the Azure CLI credential, which runs `az` on every call otherwise.
#[derive(Debug)]
pub struct CachedCredential<C> {
    inner: Arc<C>,
    cache: tokio::sync::Mutex<std::collections::BTreeMap<Vec<String>, AccessToken>>,
}

impl<C> CachedCredential<C> {
    /// Wraps `inner`.
    pub fn new(inner: Arc<C>) -> Self {
        Self {
            inner,
            cache: tokio::sync::Mutex::new(Default::default()),
        }
    }
}

#[async_trait::async_trait]
impl<C: TokenCredential> TokenCredential for CachedCredential<C> {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let key: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        // Held across the call on purpose: concurrent callers wait for one refresh.
        let mut cache = self.cache.lock().await;
        let margin = azure_core::time::Duration::seconds(TOKEN_REFRESH_MARGIN.as_secs() as i64);
        if let Some(t) = cache.get(&key)
            && t.expires_on > azure_core::time::OffsetDateTime::now_utc() + margin
        {
            return Ok(t.clone());
        }
        let t = self.inner.get_token(scopes, options).await?;
        cache.insert(key, t.clone());
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            e.encode(r#"{"alg":"none"}"#),
            e.encode(payload)
        )
    }

    #[derive(Debug)]
    struct Counting {
        calls: std::sync::atomic::AtomicUsize,
        lifetime: azure_core::time::Duration,
    }

    #[async_trait::async_trait]
    impl TokenCredential for Counting {
        async fn get_token(
            &self,
            _: &[&str],
            _: Option<TokenRequestOptions<'_>>,
        ) -> azure_core::Result<AccessToken> {
            let n = self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(AccessToken::new(
                format!("token-{n}"),
                azure_core::time::OffsetDateTime::now_utc() + self.lifetime,
            ))
        }
    }

    #[tokio::test]
    async fn cached_credential_reuses_until_near_expiry() {
        let long = Arc::new(Counting {
            calls: Default::default(),
            lifetime: azure_core::time::Duration::hours(1),
        });
        let c = CachedCredential::new(long.clone());
        for _ in 0..3 {
            c.get_token(&[GRAPH_SCOPE], None).await.unwrap();
        }
        assert_eq!(long.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        // A token inside the refresh margin is never served from the cache.
        let short = Arc::new(Counting {
            calls: Default::default(),
            lifetime: azure_core::time::Duration::seconds(60),
        });
        let c = CachedCredential::new(short.clone());
        for _ in 0..3 {
            c.get_token(&[GRAPH_SCOPE], None).await.unwrap();
        }
        assert_eq!(short.calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    }

    #[test]
    fn scopes_follow_the_graph_host() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            scope_for_graph_url(&u("https://graph.microsoft.com")),
            GRAPH_SCOPE
        );
        assert_eq!(
            scope_for_graph_url(&u("https://graph.microsoft.us")),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(scope_for_graph_url(&u("http://127.0.0.1:9")), GRAPH_SCOPE);
    }

    #[test]
    fn claims_decode() {
        let c = decode_claims(&jwt(r#"{"tid":"t1","roles":["A","B"],"exp":5}"#)).unwrap();
        assert_eq!(c.tid.as_deref(), Some("t1"));
        assert_eq!(c.roles, vec!["A", "B"]);
        assert!(decode_claims("abc").is_err());
        assert!(decode_claims("a.!!!.c").is_err());
    }

    #[test]
    fn env_selection() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = AuthConfig::from_env(
            None,
            None,
            vars(&[
                ("AZURE_CLIENT_ID", "app"),
                ("AZURE_CLIENT_SECRET", "s3cr3t"),
            ]),
        )
        .unwrap();
        assert_eq!(c.method, AuthMethod::Secret);
        assert!(!format!("{c:?}").contains("s3cr3t"));
        let c = AuthConfig::from_env(None, None, vars(&[])).unwrap();
        assert_eq!(c.method, AuthMethod::AzureCli);
        let e = AuthConfig::from_env(Some(AuthMethod::Secret), None, vars(&[])).unwrap_err();
        assert!(e.to_string().contains("AZURE_CLIENT_ID"), "{e}");
        let e = AuthConfig::from_env(
            None,
            None,
            vars(&[("AZURE_AUTHORITY_HOST", "http://login.example.com")]),
        )
        .unwrap_err();
        assert!(matches!(
            e,
            AuthError::Url(UrlPolicyError::InsecureNonLoopback { .. })
        ));
        assert_eq!(
            "github-oidc".parse::<AuthMethod>().unwrap(),
            AuthMethod::GithubOidc
        );
    }
}
