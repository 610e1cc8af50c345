//! One call that turns the CLI's Graph flags into a ready [`GraphContext`] and
//! [`Authenticator`], so every command (plan, apply, import, tenants verify) connects the
//! same way.
//!
//! Precedence: flag, then environment (`RAMPART_GRAPH_URL`, `AZURE_AUTHORITY_HOST` and the
//! credential variables of [`crate::graph::auth`]), then the public-cloud defaults. The
//! environment is read through a function so tests need no process environment.

use crate::graph::auth::{AuthConfig, AuthMethod, Authenticator, scope_for_graph_url};
use crate::graph::client::{GraphContext, GraphOptions};
use crate::graph::error::GraphError;
use crate::graph::urls::{GRAPH_URL_ENV, checked_base_url};

/// The Graph-related command-line settings (clap-free; the CLI fills it).
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    /// `--auth`.
    pub auth: Option<AuthMethod>,
    /// `--graph-url`.
    pub graph_url: Option<String>,
    /// `--login-url`.
    pub login_url: Option<String>,
}

/// Builds the run's context (with real time) and authenticator; they share one HTTP
/// client. Errors: a refused URL, or a credential missing what it needs.
pub fn connect(
    opts: &ConnectOptions,
    var: impl Fn(&str) -> Option<String>,
) -> Result<(GraphContext, Authenticator), GraphError> {
    connect_with(opts, var, GraphContext::builder)
}

/// As [`connect`], with a caller-made context builder (tests inject time here; callers
/// may change retry or pacing options).
pub fn connect_with(
    opts: &ConnectOptions,
    var: impl Fn(&str) -> Option<String>,
    builder: impl FnOnce(GraphOptions) -> crate::graph::client::GraphContextBuilder,
) -> Result<(GraphContext, Authenticator), GraphError> {
    let mut options = GraphOptions::default();
    let graph = opts
        .graph_url
        .clone()
        .or_else(|| var(GRAPH_URL_ENV).filter(|v| !v.trim().is_empty()));
    if let Some(g) = graph {
        options.graph_url = checked_base_url("Graph URL", &g)?;
    }
    let mut auth = AuthConfig::from_env(opts.auth, opts.login_url.as_deref(), &var)?;
    auth.scope = scope_for_graph_url(&options.graph_url);
    let ctx = builder(options).build()?;
    let authenticator = Authenticator::new(auth, ctx.http().clone())?;
    Ok((ctx, authenticator))
}
