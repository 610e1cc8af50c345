//! The one door to Microsoft Graph: every command that talks to Graph or to the login
//! authority (plan, apply, import --tenant, tenants verify/import, bench against a real
//! endpoint) turns its flags and the environment into [`Settings`] here, and connects
//! through [`Settings::connect`]. Nothing else in rampart builds a Graph context or an
//! authenticator from user input.
//!
//! One precedence for each setting: the flag, then the environment, then the cloud's
//! documented default ([`crate::graph::cloud`]):
//!
//! | setting | flag | environment | default |
//! |---|---|---|---|
//! | cloud | `--cloud` | `RAMPART_CLOUD` | the cloud of an explicit Graph or login URL, else `public` |
//! | Graph base URL | `--graph-url` | `RAMPART_GRAPH_URL` | the cloud's Graph host |
//! | login authority | `--login-url` | `AZURE_AUTHORITY_HOST` | the cloud's login host |
//! | token scope | - | - | the cloud's Graph scope for its hosts and for loopback (the emulator stands in for it); `https://<host>/.default` for any other host |
//! | credential | `--auth` | the `AZURE_*` variables ([`crate::graph::auth`]) | Azure CLI when `az` is on `PATH` |
//!
//! A login authority of one cloud with Graph of another is refused (a token of one cloud
//! is useless in another, and a mix-up sends a credential where it does not belong) unless
//! both URLs were given explicitly. [`Settings`] is resolved without any I/O, so `apply`
//! can compare a saved plan's [`Endpoint`] with the configured one before it asks for a
//! token. The environment is read through a function so tests need no process environment.

use url::Url;

use crate::graph::auth::{self, AuthConfig, AuthError, AuthMethod, Authenticator};
use crate::graph::client::{GraphContext, GraphContextBuilder, GraphOptions};
use crate::graph::cloud::{CLOUD_ENV, Cloud, UnknownCloud};
use crate::graph::error::GraphError;
use crate::graph::urls::{self, GRAPH_URL_ENV, LOGIN_URL_ENV, UrlPolicyError, checked_base_url};
use crate::plan::saved::Endpoint;

/// The Graph-related command-line settings (clap-free; the CLI fills it).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--auth`.
    pub auth: Option<AuthMethod>,
    /// `--cloud`.
    pub cloud: Option<Cloud>,
    /// `--graph-url`.
    pub graph_url: Option<String>,
    /// `--login-url`.
    pub login_url: Option<String>,
}

/// Why rampart cannot connect. Never carries a secret.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A refused base URL.
    #[error(transparent)]
    Url(#[from] UrlPolicyError),
    /// `--cloud` / `RAMPART_CLOUD`.
    #[error("{0}")]
    Cloud(#[from] UnknownCloud),
    /// A credential missing what it needs, or unusable.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// The HTTP client could not be built.
    #[error(transparent)]
    Graph(#[from] GraphError),
    /// Graph of one cloud with the login authority (or `--cloud`) of another.
    #[error(
        "the Graph URL {graph} ({graph_cloud}) and the login authority {login} ({login_cloud}) belong to different clouds; \
         choose one with --cloud (or RAMPART_CLOUD), or give both --graph-url and --login-url if the mix is intended"
    )]
    MixedClouds {
        /// Graph base URL.
        graph: String,
        /// Its cloud.
        graph_cloud: String,
        /// Login authority.
        login: String,
        /// Its cloud (or clouds).
        login_cloud: String,
    },
    /// A loopback (emulator) Graph URL with a cloud login authority, or a cloud Graph URL
    /// with a loopback authority: real tokens would be fetched for (or sent to) a local
    /// server over plain http.
    #[error(
        "the Graph URL {graph} is {graph_side} but the login authority {login} is {login_side}; \
         a loopback emulator and a cloud cannot be mixed: set both {GRAPH_URL_ENV} and {LOGIN_URL_ENV} \
         (or --graph-url and --login-url) to the emulator, or neither"
    )]
    LoopbackMix {
        /// Graph base URL.
        graph: String,
        /// "a loopback address" or "a cloud host".
        graph_side: &'static str,
        /// Login authority.
        login: String,
        /// "a loopback address" or "a cloud host".
        login_side: &'static str,
    },
    /// No credential configured at all, and no Azure CLI to fall back on.
    #[error("{}", no_credential_help())]
    NoCredential,
}

/// What a first run without any credential is told.
pub fn no_credential_help() -> String {
    format!(
        "no credential configured: no AZURE_* credential variable is set and `az` (Azure CLI) is not on PATH.\n\
         Set one of these (or pass --auth METHOD):\n\
         \x20 secret            AZURE_CLIENT_ID and AZURE_CLIENT_SECRET\n\
         \x20 certificate       AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (PEM with an RSA key)\n\
         \x20 assertion-file    AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity federation)\n\
         \x20 github-oidc       AZURE_CLIENT_ID in a GitHub Actions job with `permissions: id-token: write`\n\
         \x20 managed-identity  on Azure compute (IDENTITY_ENDPOINT), optionally with AZURE_CLIENT_ID\n\
         \x20 azure-cli         `az login` (the Azure CLI on PATH)\n\
         Endpoints: {CLOUD_ENV} (public, usgov, usgovdod, china), or {GRAPH_URL_ENV} and {LOGIN_URL_ENV}; see docs/auth.md.\n\
         To try rampart without a tenant: `rampart plan --emulator`, or serve one with `rampart emulator` and set \
         {GRAPH_URL_ENV} and {LOGIN_URL_ENV} to its address, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET to the app it prints."
    )
}

/// Where and how to connect, resolved from flags, environment and cloud defaults. No I/O.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The cloud (explicit, implied by an explicit URL, or public).
    pub cloud: Cloud,
    /// Graph base URL (checked by the URL policy, no trailing slash).
    pub graph_url: Url,
    /// Login authority (checked by the URL policy).
    pub login_url: Url,
    /// App-only token scope.
    pub scope: String,
    /// `--auth`, if given.
    pub auth: Option<AuthMethod>,
}

/// Resolves the settings (see the module table). Errors: an unknown cloud, a URL refused
/// by the policy, clouds mixed without both URLs explicit.
pub fn resolve(
    opts: &ConnectOptions,
    var: impl Fn(&str) -> Option<String>,
) -> Result<Settings, SetupError> {
    let get = |k: &str| var(k).filter(|v| !v.trim().is_empty());
    let graph_raw = opts.graph_url.clone().or_else(|| get(GRAPH_URL_ENV));
    let login_raw = opts.login_url.clone().or_else(|| get(LOGIN_URL_ENV));
    let graph_explicit = graph_raw
        .as_deref()
        .map(|g| checked_base_url("Graph URL", g))
        .transpose()?;
    let login_explicit = login_raw
        .as_deref()
        .map(|l| checked_base_url("login URL", l))
        .transpose()?;
    let chosen = match &opts.cloud {
        Some(c) => Some(*c),
        None => get(CLOUD_ENV).map(|c| c.parse::<Cloud>()).transpose()?,
    };
    let cloud = chosen
        .or_else(|| graph_explicit.as_ref().and_then(Cloud::of_graph_url))
        .or_else(|| {
            login_explicit
                .as_ref()
                .and_then(|l| Cloud::of_login_url(l).first().copied())
        })
        .unwrap_or_default();
    let defaults = cloud.endpoints();
    let graph_url = match graph_explicit.clone() {
        Some(g) => g,
        None => checked_base_url("Graph URL", defaults.graph_url)?,
    };
    let login_url = match login_explicit.clone() {
        Some(l) => l,
        None => checked_base_url("login URL", defaults.login_url)?,
    };
    let both_explicit = graph_explicit.is_some() && login_explicit.is_some();
    // A loopback side with a non-loopback side, unless both were given on purpose: a
    // loopback Graph with the public authority would fetch production tokens and send
    // them to a local server over plain http.
    let graph_loop = urls::is_loopback(&graph_url);
    let login_loop = urls::is_loopback(&login_url);
    if !both_explicit && graph_loop != login_loop {
        let side = |l: bool| {
            if l {
                "a loopback address"
            } else {
                "a cloud host"
            }
        };
        return Err(SetupError::LoopbackMix {
            graph: graph_url.to_string(),
            graph_side: side(graph_loop),
            login: login_url.to_string(),
            login_side: side(login_loop),
        });
    }
    if !both_explicit {
        let graph_cloud = Cloud::of_graph_url(&graph_url);
        let login_clouds = Cloud::of_login_url(&login_url);
        let graph_ok = graph_cloud.is_none_or(|g| g == cloud);
        let login_ok = login_clouds.is_empty() || login_clouds.contains(&cloud);
        if !graph_ok || !login_ok {
            // A side that is not a cloud host (a loopback emulator) stands for the chosen
            // cloud, so the message always names two clouds.
            let graph_side = graph_cloud.unwrap_or(cloud).to_string();
            let login_side = if login_clouds.is_empty() {
                cloud.to_string()
            } else {
                login_clouds
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            return Err(SetupError::MixedClouds {
                graph: graph_url.to_string(),
                graph_cloud: graph_side,
                login: login_url.to_string(),
                login_cloud: login_side,
            });
        }
    }
    let scope = if urls::is_loopback(&graph_url) || Cloud::of_graph_url(&graph_url).is_some() {
        defaults.graph_scope.to_string()
    } else {
        auth::scope_for_graph_url(&graph_url)
    };
    Ok(Settings {
        cloud,
        graph_url,
        login_url,
        scope,
        auth: opts.auth,
    })
}

impl Settings {
    /// The endpoint identity a saved plan records and `apply` compares.
    pub fn endpoint(&self) -> Endpoint {
        Endpoint {
            cloud: self.cloud.to_string(),
            graph_url: self.graph_url.as_str().trim_end_matches('/').to_string(),
            authority: self.login_url.as_str().trim_end_matches('/').to_string(),
            in_process_emulator: false,
        }
    }

    /// The credential configuration (reads the credential variables; no I/O otherwise).
    /// Without `--auth` and without any credential variable, the Azure CLI is the fallback
    /// only when `az` is on `PATH`; otherwise [`SetupError::NoCredential`] says what works.
    pub fn auth_config(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<AuthConfig, SetupError> {
        let mut config = AuthConfig::from_env(self.auth, Some(self.login_url.as_str()), &var)?;
        if self.auth.is_none() && config.method == AuthMethod::AzureCli && !az_on_path(&var) {
            return Err(SetupError::NoCredential);
        }
        config.scope = self.scope.clone();
        Ok(config)
    }

    /// Builds the run's context (with real time) and authenticator; they share one HTTP
    /// client.
    pub fn connect(
        &self,
        var: impl Fn(&str) -> Option<String>,
    ) -> Result<(GraphContext, Authenticator), SetupError> {
        self.connect_with(var, GraphContext::builder)
    }

    /// As [`Settings::connect`], with a caller-made context builder (tests inject time
    /// here; callers may change retry or pacing options).
    pub fn connect_with(
        &self,
        var: impl Fn(&str) -> Option<String>,
        builder: impl FnOnce(GraphOptions) -> GraphContextBuilder,
    ) -> Result<(GraphContext, Authenticator), SetupError> {
        let config = self.auth_config(var)?;
        let options = GraphOptions {
            graph_url: self.graph_url.clone(),
            ..GraphOptions::default()
        };
        let ctx = builder(options).build()?;
        let authenticator = Authenticator::new(config, ctx.http().clone())?;
        Ok((ctx, authenticator))
    }
}

/// True when an `az` (or `az.cmd` on Windows) executable is in one of `PATH`'s folders.
fn az_on_path(var: impl Fn(&str) -> Option<String>) -> bool {
    let Some(path) = var("PATH") else {
        return false;
    };
    std::env::split_paths(&path).any(|dir| {
        ["az", "az.cmd", "az.exe"]
            .iter()
            .any(|name| dir.join(name).is_file())
    })
}

/// Resolves and connects in one call (see [`resolve`] and [`Settings::connect`]).
pub fn connect(
    opts: &ConnectOptions,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(GraphContext, Authenticator), SetupError> {
    resolve(opts, &var)?.connect(&var)
}

/// As [`connect`], with a caller-made context builder.
pub fn connect_with(
    opts: &ConnectOptions,
    var: impl Fn(&str) -> Option<String>,
    builder: impl FnOnce(GraphOptions) -> GraphContextBuilder,
) -> Result<(GraphContext, Authenticator), SetupError> {
    resolve(opts, &var)?.connect_with(&var, builder)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn run(opts: ConnectOptions, env: &[(&str, &str)]) -> Result<Settings, SetupError> {
        let env: BTreeMap<String, String> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        resolve(&opts, |k| env.get(k).cloned())
    }

    #[test]
    fn defaults_are_the_public_cloud() {
        let s = run(ConnectOptions::default(), &[]).unwrap();
        assert_eq!(s.cloud, Cloud::Public);
        assert_eq!(s.graph_url.as_str(), "https://graph.microsoft.com/");
        assert_eq!(s.login_url.as_str(), "https://login.microsoftonline.com/");
        assert_eq!(s.scope, "https://graph.microsoft.com/.default");
    }

    #[test]
    fn each_cloud_sets_graph_login_and_scope_together() {
        for c in Cloud::ALL {
            let e = c.endpoints();
            for s in [
                run(
                    ConnectOptions {
                        cloud: Some(c),
                        ..Default::default()
                    },
                    &[],
                )
                .unwrap(),
                run(ConnectOptions::default(), &[(CLOUD_ENV, e.name)]).unwrap(),
            ] {
                assert_eq!(s.cloud, c);
                assert_eq!(s.graph_url.as_str().trim_end_matches('/'), e.graph_url);
                assert_eq!(s.login_url.as_str().trim_end_matches('/'), e.login_url);
                assert_eq!(s.scope, e.graph_scope);
            }
        }
    }

    #[test]
    fn an_explicit_graph_url_implies_its_cloud() {
        let s = run(
            ConnectOptions {
                graph_url: Some("https://graph.microsoft.us".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(s.cloud, Cloud::UsGov);
        assert_eq!(s.login_url.as_str(), "https://login.microsoftonline.us/");
        assert_eq!(s.scope, "https://graph.microsoft.us/.default");
    }

    #[test]
    fn flag_beats_environment_beats_default() {
        let env = [
            (GRAPH_URL_ENV, "http://127.0.0.1:1"),
            (LOGIN_URL_ENV, "http://127.0.0.1:2"),
        ];
        let s = run(ConnectOptions::default(), &env).unwrap();
        assert_eq!(s.graph_url.as_str(), "http://127.0.0.1:1/");
        assert_eq!(s.login_url.as_str(), "http://127.0.0.1:2/");
        assert_eq!(s.scope, "https://graph.microsoft.com/.default");
        let s = run(
            ConnectOptions {
                graph_url: Some("http://127.0.0.1:3".into()),
                ..Default::default()
            },
            &env,
        )
        .unwrap();
        assert_eq!(s.graph_url.as_str(), "http://127.0.0.1:3/");
    }

    #[test]
    fn mixed_clouds_are_refused_unless_both_urls_are_explicit() {
        // --cloud usgov with a public login authority from the environment.
        let e = run(
            ConnectOptions {
                cloud: Some(Cloud::UsGov),
                ..Default::default()
            },
            &[(LOGIN_URL_ENV, "https://login.microsoftonline.com")],
        )
        .unwrap_err();
        assert!(matches!(e, SetupError::MixedClouds { .. }), "{e}");
        assert!(e.to_string().contains("login.microsoftonline.com"), "{e}");
        // Graph of China, login of the public cloud (implied default): refused.
        let e = run(
            ConnectOptions {
                graph_url: Some("https://microsoftgraph.chinacloudapi.cn".into()),
                cloud: Some(Cloud::Public),
                ..Default::default()
            },
            &[],
        )
        .unwrap_err();
        assert!(matches!(e, SetupError::MixedClouds { .. }), "{e}");
        // Both explicit: the user said so.
        let s = run(
            ConnectOptions {
                graph_url: Some("https://graph.microsoft.us".into()),
                login_url: Some("https://login.microsoftonline.com".into()),
                ..Default::default()
            },
            &[],
        )
        .unwrap();
        assert_eq!(s.scope, "https://graph.microsoft.us/.default");
        // DoD Graph with the shared US Government authority is one cloud.
        assert!(
            run(
                ConnectOptions {
                    cloud: Some(Cloud::UsGovDod),
                    ..Default::default()
                },
                &[(LOGIN_URL_ENV, "https://login.microsoftonline.us")],
            )
            .is_ok()
        );
    }

    #[test]
    fn a_loopback_side_with_a_cloud_side_is_refused_unless_both_urls_are_explicit() {
        let loopbacks = [
            "http://127.0.0.1:18080",
            "http://[::1]:18080",
            "http://localhost:18080",
            "https://127.0.0.1:18443",
        ];
        let clouds = [Cloud::Public, Cloud::UsGov, Cloud::UsGovDod, Cloud::China];
        for lb in loopbacks {
            for cloud in clouds {
                let ep = cloud.endpoints();
                // Loopback Graph (env), cloud authority by default or by env or --cloud.
                for (opts, env) in [
                    (ConnectOptions::default(), vec![(GRAPH_URL_ENV, lb)]),
                    (
                        ConnectOptions {
                            cloud: Some(cloud),
                            ..Default::default()
                        },
                        vec![(GRAPH_URL_ENV, lb)],
                    ),
                    (
                        ConnectOptions {
                            graph_url: Some(lb.into()),
                            ..Default::default()
                        },
                        vec![],
                    ),
                    // Loopback authority with a cloud's Graph host by default.
                    (
                        ConnectOptions {
                            cloud: Some(cloud),
                            ..Default::default()
                        },
                        vec![(LOGIN_URL_ENV, lb)],
                    ),
                    (ConnectOptions::default(), vec![(LOGIN_URL_ENV, lb)]),
                ] {
                    let e = run(opts.clone(), &env).unwrap_err();
                    assert!(
                        matches!(e, SetupError::LoopbackMix { .. }),
                        "{lb} {cloud}: {e}"
                    );
                    assert!(e.to_string().contains("loopback"), "{e}");
                }
                // Both explicit: the user said so (a test server standing in for one side).
                for (g, l) in [(lb, ep.login_url), (ep.graph_url, lb)] {
                    assert!(
                        run(
                            ConnectOptions::default(),
                            &[(GRAPH_URL_ENV, g), (LOGIN_URL_ENV, l)]
                        )
                        .is_ok(),
                        "{g} {l}"
                    );
                }
            }
            // Both loopback (the emulator): fine, by env or by flags, mixed spellings too.
            for other in loopbacks {
                assert!(
                    run(
                        ConnectOptions::default(),
                        &[(GRAPH_URL_ENV, lb), (LOGIN_URL_ENV, other)]
                    )
                    .is_ok()
                );
            }
        }
    }

    #[test]
    fn a_plan_applies_only_to_the_endpoint_it_was_made_against() {
        use crate::plan::saved::EndpointMismatch;
        let at = |g: &str, l: &str| {
            run(
                ConnectOptions {
                    graph_url: Some(g.into()),
                    login_url: Some(l.into()),
                    ..Default::default()
                },
                &[],
            )
            .unwrap()
            .endpoint()
        };
        let a = at("http://127.0.0.1:1", "http://127.0.0.1:1");
        // A trailing slash does not make another endpoint; another host name does (names
        // are compared, never resolved).
        let a2 = at("http://127.0.0.1:1/", "http://127.0.0.1:1/");
        assert!(Endpoint::check_same(Some(&a), &a2).is_ok());
        let a3 = at("http://127.0.0.1:1", "http://localhost:1");
        assert!(matches!(
            Endpoint::check_same(Some(&a), &a3),
            Err(EndpointMismatch::Different { .. })
        ));
        let b = at("http://127.0.0.1:2", "http://127.0.0.1:1");
        let e = Endpoint::check_same(Some(&a), &b).unwrap_err();
        assert!(e.to_string().contains("127.0.0.1:1") && e.to_string().contains("127.0.0.1:2"));
        // Same URLs, another cloud: another endpoint (the token scope differs).
        let mut usgov = a.clone();
        usgov.cloud = "usgov".into();
        assert!(Endpoint::check_same(Some(&a), &usgov).is_err());
        assert_eq!(
            Endpoint::check_same(Some(&Endpoint::in_process_emulator()), &a),
            Err(EndpointMismatch::InProcessEmulator)
        );
        assert_eq!(
            Endpoint::check_same(None, &a),
            Err(EndpointMismatch::Unrecorded)
        );
    }

    #[test]
    fn unknown_cloud_in_the_environment_is_an_error() {
        let e = run(ConnectOptions::default(), &[(CLOUD_ENV, "mars")]).unwrap_err();
        assert!(e.to_string().contains("unknown cloud `mars`"), "{e}");
    }

    #[test]
    fn no_credential_names_what_works() {
        let s = run(ConnectOptions::default(), &[]).unwrap();
        let e = s.auth_config(|_| None).unwrap_err();
        let text = e.to_string();
        for needle in [
            "AZURE_CLIENT_SECRET",
            "certificate",
            "AZURE_FEDERATED_TOKEN_FILE",
            "--emulator",
            "rampart emulator",
        ] {
            assert!(text.contains(needle), "{needle} missing from {text}");
        }
        // An explicit --auth azure-cli is taken at its word.
        let mut s = s;
        s.auth = Some(AuthMethod::AzureCli);
        assert!(s.auth_config(|_| None).is_ok());
    }
}
