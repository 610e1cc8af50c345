//! `rampart hunt`: run one KQL query in every selected tenant and print one merged table,
//! plus the tenant selection and connection shared by `incidents`, `alerts`, `devices`
//! and `vulnerabilities` ([`SocArgs`]). Exit code 1 when any tenant failed (its rows are
//! missing; the others' are printed).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::{Context, bail};

use crate::cli::plan::{GraphArgs, PlanArgs, PlanFormat, Selection, select_tenants};
use crate::graph::setup::connect_with;
use crate::soc::fleet::{Connected, SocTenant, options};
use crate::soc::grid::{Grid, GridFormat, render};
use crate::soc::hunt::{Hunt, HuntError, is_empty_kql, load_saved, read_query_file};

/// Tenant selection and connection, as `plan` takes them.
#[derive(Debug, Clone, clap::Args)]
pub struct SocArgs {
    /// Repository root (holding profiles/ and hunts/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Only tenants of this distribution profile (repeatable).
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// Only this tenant, by name or id (repeatable).
    #[arg(long = "tenant")]
    pub tenants: Vec<String>,
    /// Only tenants in this rollout ring.
    #[arg(long)]
    pub ring: Option<u32>,
    /// Tenants queried at the same time.
    #[arg(long, default_value_t = crate::graph::fleet::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Run against the built-in Graph emulator seeded from the repository's profiles.
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// The selected tenants, sorted by name. Errors: the repository does not validate, an
/// unknown tenant/profile, a ring no tenant is in.
pub fn selected(
    args: &SocArgs,
) -> anyhow::Result<(Vec<crate::desired::TenantDesired>, Vec<SocTenant>)> {
    let plan_args = PlanArgs {
        root: args.root.clone(),
        select: Selection {
            profiles: args.profiles.clone(),
            tenants: args.tenants.clone(),
            targets: vec![],
            kinds: vec![],
            // One rule for rings everywhere: the tenant's lowest ring, did-you-mean on a miss.
            ring: args.ring.map(|r| r.to_string()),
            shard: None,
        },
        parallelism: args.parallelism,
        format: PlanFormat::Human,
        out: None,
        detailed_exitcode: false,
        emulator: args.emulator,
        graph: args.graph.clone(),
    };
    let (all, selected) = select_tenants(&plan_args)?;
    let mut out: Vec<SocTenant> = selected
        .iter()
        .map(|d| SocTenant {
            name: d.tenant.name.clone(),
            id: d.tenant.id.clone(),
        })
        .collect();
    if out.is_empty() {
        bail!("no tenant is selected (check --tenant, --profile and --ring)");
    }
    out.sort();
    out.dedup();
    Ok((all, out))
}

/// A connected fleet: clients per tenant, and the demo emulator to shut down afterwards.
pub struct Fleet {
    /// Tenants and their clients.
    pub tenants: Vec<Connected>,
    /// `--parallelism`.
    pub parallelism: NonZeroUsize,
    demo: Option<crate::demo::Demo>,
}

impl Fleet {
    /// Connects through the one door (`graph::setup::connect_with`) or the demo emulator.
    pub async fn connect(args: &SocArgs) -> anyhow::Result<Fleet> {
        let (all, tenants) = selected(args)?;
        let parallelism =
            NonZeroUsize::new(args.parallelism).context("--parallelism must be at least 1")?;
        if args.emulator {
            let demo = crate::demo::start(&all, &args.root.join("profiles"))
                .await
                .context("cannot start the built-in emulator")?;
            let ctx = demo.context()?;
            let mut out = Vec::new();
            for t in tenants {
                let c = ctx.client(demo.auth(&t.id)?);
                out.push((t, c));
            }
            return Ok(Fleet {
                tenants: out,
                parallelism,
                demo: Some(demo),
            });
        }
        let (ctx, authenticator) = connect_with(
            &args.graph.connect_options(),
            |k| std::env::var(k).ok(),
            |o| crate::graph::client::GraphContext::builder(options(o)),
        )?;
        let mut out = Vec::new();
        for t in tenants {
            let c = ctx.client(authenticator.tenant_auth(&t.id)?);
            out.push((t, c));
        }
        Ok(Fleet {
            tenants: out,
            parallelism,
            demo: None,
        })
    }

    /// Stops the demo emulator, if any.
    pub async fn close(self) {
        if let Some(d) = self.demo {
            d.emulator.shutdown().await;
        }
    }
}

/// Runs an async body on a fresh runtime.
pub fn block_on<T>(f: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(f)
}

/// Prints `grid` and failures (on stderr for CSV/JSON lines); returns the exit code.
pub fn print(grid: &Grid, format: GridFormat) -> anyhow::Result<i32> {
    crate::redact::print_out(&render(grid, format))?;
    if matches!(format, GridFormat::Csv | GridFormat::Jsonl) {
        for f in &grid.failures {
            crate::errln!("error: {} ({}): {}", f.tenant, f.tenant_id, f.message);
        }
        for n in &grid.notes {
            crate::errln!("note: {n}");
        }
    }
    Ok(if grid.failures.is_empty() {
        crate::cli::exit::OK
    } else {
        crate::cli::exit::ERROR
    })
}

/// `rampart hunt`.
#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// The KQL query (inline).
    #[arg(conflicts_with_all = ["file", "saved"], required_unless_present_any = ["file", "saved"])]
    pub query: Option<String>,
    /// A `.kql` file inside the repository.
    #[arg(long, short = 'f', conflicts_with = "saved")]
    pub file: Option<PathBuf>,
    /// A saved hunt (`kind: HuntingQuery` under hunts/) by name.
    #[arg(long)]
    pub saved: Option<String>,
    /// The time range, passed to Graph as `Timespan` (e.g. P7D, or start/end).
    #[arg(long)]
    pub timespan: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
    #[command(flatten)]
    pub soc: SocArgs,
}

/// Builds the hunt from the arguments (no network).
pub fn hunt_of(args: &HuntArgs) -> Result<Hunt, HuntError> {
    let (query, columns) = match (&args.query, &args.file, &args.saved) {
        (Some(q), _, _) => {
            if is_empty_kql(q) {
                return Err(HuntError::Empty("the query argument".into()));
            }
            (q.clone(), vec![])
        }
        (_, Some(f), _) => (read_query_file(&args.soc.root, f)?, vec![]),
        (_, _, Some(name)) => {
            let all = load_saved(&args.soc.root)?;
            let Some(h) = all.into_iter().find(|h| &h.name == name) else {
                return Err(HuntError::Saved(format!(
                    "no saved hunt named `{name}` under {}/",
                    crate::soc::hunt::HUNTS_DIR
                )));
            };
            (h.query, h.columns)
        }
        _ => return Err(HuntError::Empty("the query argument".into())),
    };
    if let Some(t) = &args.timespan
        && t.trim().is_empty()
    {
        return Err(HuntError::Saved("--timespan is empty".into()));
    }
    Ok(Hunt {
        query,
        timespan: args.timespan.clone(),
        columns,
    })
}

/// Runs `rampart hunt`.
pub fn run(args: &HuntArgs) -> anyhow::Result<i32> {
    let hunt = hunt_of(args)?;
    let grid = block_on(async {
        let fleet = Fleet::connect(&args.soc).await?;
        let grid = crate::soc::hunt::run(fleet.tenants.clone(), &hunt, fleet.parallelism).await;
        fleet.close().await;
        Ok(grid)
    })?;
    print(&grid, args.format)
}
