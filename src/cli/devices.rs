//! `rampart devices` / `rampart vulnerabilities`: per-tenant roll-ups through advanced
//! hunting ([`crate::soc::views`]).

use crate::cli::hunt::{Fleet, SocArgs, block_on, print};
use crate::soc::grid::GridFormat;

/// `rampart devices`.
#[derive(Debug, clap::Args)]
pub struct DevicesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

/// `rampart vulnerabilities`.
#[derive(Debug, clap::Args)]
pub struct VulnerabilitiesArgs {
    /// How many CVEs to show in the fleet-wide top list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

/// Runs `rampart devices`.
pub fn run_devices(args: &DevicesArgs) -> anyhow::Result<i32> {
    let g = block_on(async {
        let fleet = Fleet::connect(&args.soc).await?;
        let g = crate::soc::views::devices(fleet.tenants.clone(), fleet.parallelism).await;
        fleet.close().await;
        Ok(g)
    })?;
    print(&g, args.format)
}

/// Runs `rampart vulnerabilities`: the per-tenant severity table, then the top CVEs.
pub fn run_vulnerabilities(args: &VulnerabilitiesArgs) -> anyhow::Result<i32> {
    let (per_tenant, top) = block_on(async {
        let fleet = Fleet::connect(&args.soc).await?;
        let r =
            crate::soc::views::vulnerabilities(fleet.tenants.clone(), args.top, fleet.parallelism)
                .await;
        fleet.close().await;
        Ok(r)
    })?;
    if args.format == GridFormat::Json {
        let doc = serde_json::json!({
            "perTenant": crate::soc::grid::json_doc(&per_tenant),
            "topCves": crate::soc::grid::json_doc(&top),
        });
        crate::outln!("{}", serde_json::to_string_pretty(&doc)?)?;
        return Ok(if per_tenant.failures.is_empty() { 0 } else { 1 });
    }
    let code = print(&per_tenant, args.format)?;
    if matches!(args.format, GridFormat::Table | GridFormat::Markdown) {
        crate::outln!("\nTop CVEs across the fleet:\n")?;
    }
    print(&top, args.format)?;
    Ok(code)
}
