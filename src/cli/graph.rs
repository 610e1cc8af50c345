//! The Graph flags every connecting command shares (`--cloud`, `--graph-url`,
//! `--login-url`, `--auth`), and the CLI's only way to turn them into a connection: through
//! [`crate::graph::setup`], with the process environment. A command that talks to Graph
//! flattens [`GraphArgs`] and calls [`GraphArgs::settings`] / [`GraphArgs::connect`];
//! `tests/cli/connect.rs` walks every subcommand to keep it so.

use anyhow::Context as _;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};

use crate::graph::auth::{AuthMethod, Authenticator};
use crate::graph::client::GraphContext;
use crate::graph::cloud::Cloud;
use crate::graph::setup::{ConnectOptions, Settings, resolve};

/// Where Graph is and how to sign in (shared by commands that talk to Graph).
#[derive(Clone, Debug, Default, clap::Args)]
pub struct GraphArgs {
    /// Credential: secret, certificate, assertion-file, github-oidc, managed-identity,
    /// azure-cli (default: chosen from the AZURE_* environment variables; see docs/auth.md).
    #[arg(long, value_name = "METHOD", value_parser = auth_parser())]
    pub auth: Option<AuthMethod>,
    /// Microsoft cloud: public, usgov (GCC High), usgovdod (DoD), china; sets the Graph
    /// URL, login authority and token scope together [env: RAMPART_CLOUD].
    #[arg(long, value_name = "CLOUD", value_parser = cloud_parser())]
    pub cloud: Option<Cloud>,
    /// Graph base URL (https, or http to loopback only) [env: RAMPART_GRAPH_URL]
    /// [default: the cloud's, https://graph.microsoft.com].
    #[arg(long, value_name = "URL")]
    pub graph_url: Option<String>,
    /// Login authority [env: AZURE_AUTHORITY_HOST] [default: the cloud's,
    /// https://login.microsoftonline.com].
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,
}

pub(crate) fn auth_parser() -> impl clap::builder::TypedValueParser<Value = AuthMethod> {
    PossibleValuesParser::new(AuthMethod::ALL.map(AuthMethod::as_str))
        .try_map(|s| s.parse::<AuthMethod>())
}

pub(crate) fn cloud_parser() -> impl clap::builder::TypedValueParser<Value = Cloud> {
    PossibleValuesParser::new(Cloud::ALL.map(Cloud::as_str)).try_map(|s| s.parse::<Cloud>())
}

/// The process environment, as the graph layer reads it.
pub fn process_env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

impl GraphArgs {
    /// The graph layer's connection settings.
    pub fn connect_options(&self) -> ConnectOptions {
        ConnectOptions {
            auth: self.auth,
            cloud: self.cloud,
            graph_url: self.graph_url.clone(),
            login_url: self.login_url.clone(),
        }
    }

    /// Flags + environment + cloud defaults, resolved without any I/O.
    pub fn settings(&self) -> anyhow::Result<Settings> {
        resolve(&self.connect_options(), process_env).context("cannot connect to Microsoft Graph")
    }

    /// The settings, the run's context and the authenticator.
    pub fn connect(&self) -> anyhow::Result<(Settings, GraphContext, Authenticator)> {
        let settings = self.settings()?;
        let (ctx, auth) = settings
            .connect(process_env)
            .context("cannot connect to Microsoft Graph")?;
        Ok((settings, ctx, auth))
    }
}
