//! `rampart permissions [--for plan|apply|import] [--client-id ID] [--format human|json]`:
//! the least-privilege Microsoft Graph application permissions the repository's
//! configuration needs (only the surfaces it uses), and the admin-consent URLs of the
//! multi-tenant app, overall and per tenant. Offline: reads the repository only.

use std::path::PathBuf;

use anyhow::bail;

use crate::onboard::permissions::{Purpose, render_human, report};

use super::exit;

/// What the permissions are for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PurposeArg {
    /// Read only (`rampart plan`).
    Plan,
    /// Read and write (`rampart apply`).
    #[default]
    Apply,
    /// Read of every surface `rampart import --tenant` covers.
    Import,
    /// The fleet security commands: hunting, incidents and alerts (with updates).
    Soc,
}

impl From<PurposeArg> for Purpose {
    fn from(p: PurposeArg) -> Purpose {
        match p {
            PurposeArg::Plan => Purpose::Plan,
            PurposeArg::Apply => Purpose::Apply,
            PurposeArg::Import => Purpose::Import,
            PurposeArg::Soc => Purpose::Soc,
        }
    }
}

/// Human or JSON output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    #[default]
    Human,
    Json,
}

/// List the Graph application permissions the configuration needs.
#[derive(Clone, Debug, clap::Args)]
pub struct PermissionsArgs {
    /// Repository root (holding policies/ and profiles/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Permissions for plan (read), apply (write) or import (read everything).
    #[arg(long = "for", value_enum, default_value_t = PurposeArg::Apply)]
    pub purpose: PurposeArg,
    /// Client id of the multi-tenant app, for admin-consent URLs.
    #[arg(long, env = "AZURE_CLIENT_ID")]
    pub client_id: Option<String>,
    /// Microsoft cloud of the consent URLs: public, usgov, usgovdod, china [env:
    /// RAMPART_CLOUD].
    #[arg(long, value_name = "CLOUD", value_parser = super::graph::cloud_parser())]
    pub cloud: Option<crate::graph::cloud::Cloud>,
    /// Login authority used in consent URLs [env: AZURE_AUTHORITY_HOST] [default: the
    /// cloud's].
    #[arg(long, value_name = "URL")]
    pub login_url: Option<String>,
    /// Only tenants of this profile (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,
}

/// The output text for `args` (no printing), or the repository's diagnostics as an error.
pub fn render(args: &PermissionsArgs) -> anyhow::Result<String> {
    let validated = super::validate::validated(&args.root)?;
    // Offline, but the authority follows the same precedence as every connecting command.
    let settings = crate::graph::setup::resolve(
        &crate::graph::setup::ConnectOptions {
            cloud: args.cloud,
            login_url: args.login_url.clone(),
            ..Default::default()
        },
        super::graph::process_env,
    )?;
    let all: Vec<_> = validated.tenants.values().cloned().collect();
    let unknown = super::select::unknown_profiles(&all, &args.profiles);
    if !unknown.is_empty() {
        bail!("{}", unknown.join("\n"));
    }
    let tenants: Vec<_> = validated
        .tenants
        .values()
        .filter(|t| {
            args.profiles.is_empty() || t.profiles.iter().any(|p| args.profiles.contains(p))
        })
        .cloned()
        .collect();
    let r = report(
        &tenants,
        args.purpose.into(),
        args.client_id.as_deref().filter(|c| !c.is_empty()),
        settings.login_url.as_str().trim_end_matches('/'),
    );
    Ok(match args.format {
        OutputFormat::Human => render_human(&r),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(&r)?;
            s.push('\n');
            s
        }
    })
}

/// Runs `rampart permissions`.
pub fn run(args: &PermissionsArgs) -> anyhow::Result<i32> {
    let text = render(args)?;
    crate::redact::print_out(&text)?;
    Ok(exit::OK)
}
