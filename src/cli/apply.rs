//! `rampart apply [PLANFILE]`: applies a saved plan exactly (approval happened at review,
//! so no prompt), or plans afresh, shows the plan and asks for a typed `yes` on the
//! terminal (`--auto-approve` for pipelines; without a terminal and without it, refused).
//!
//! Exit codes: 0 when every object was applied and verified; 1 when the apply was refused
//! (errored, stale-version or changed-input plan, removal guard) or anything did not go to
//! plan (failed, stale, skipped, inconsistent objects, unreachable tenants). The JSON report
//! (`--format json` on stdout, or `--report FILE`) is for pipelines.

use std::io::IsTerminal as _;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::apply::{ApplyOptions, ApplyReport, Connector, GraphConnector, apply_plan};
use crate::demo;
use crate::desired::TenantDesired;
use crate::fetch;
use crate::plan::saved::Endpoint;
use crate::plan::{Plan, inputs_digest};
use crate::render::{HumanOptions, render_human};

use super::exit;
use super::graph::{GraphArgs, process_env};
use super::plan::{PlanArgs, PlanFormat, Selection, select_tenants};
use super::progress::{ProgressConnector, Reporter};
use super::select::check_targets_matched;

/// How the apply report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ApplyFormat {
    #[default]
    Human,
    Json,
}

/// Make the tenants match the plan.
#[derive(Clone, Debug, clap::Args)]
pub struct ApplyArgs {
    /// A plan saved by `rampart plan --out FILE`: applied exactly, without a prompt.
    /// Without it, rampart plans afresh and asks for confirmation.
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation of a fresh plan (for pipelines).
    #[arg(long)]
    pub auto_approve: bool,
    /// Repository root (holding policies/ and profiles/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Fresh plan only: which tenants and objects.
    #[command(flatten)]
    pub select: Selection,
    /// Tenants applied at the same time (each tenant is paced under Intune's write limit).
    #[arg(long, default_value_t = crate::apply::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Refuse a plan that deletes more objects than this.
    #[arg(long, default_value_t = crate::apply::DEFAULT_MAX_DELETIONS)]
    pub max_deletions: usize,
    /// Refuse a plan that deletes more than this share (0..1) of a tenant's managed objects.
    #[arg(long, default_value_t = crate::apply::DEFAULT_MAX_DELETION_SHARE)]
    pub max_deletion_share: f64,
    /// Apply deletions beyond --max-deletions / --max-deletion-share.
    #[arg(long)]
    pub allow_mass_deletion: bool,
    /// Do not refuse a saved plan whose policies/profiles changed since (not recommended).
    #[arg(long)]
    pub skip_inputs_check: bool,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = ApplyFormat::Human)]
    pub format: ApplyFormat,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Fresh plan only: plan and apply against the built-in Graph emulator seeded as for
    /// `rampart plan --emulator` (no credentials, no network).
    #[arg(long)]
    pub emulator: bool,
    /// With --ring: tenants per ring that may fail without halting (see `rampart rollout`).
    #[arg(long, default_value_t = 0)]
    pub max_failed_tenants: usize,
    /// With --ring: promote even when a promotion gate is not met (loudly noted).
    #[arg(long)]
    pub force_promotion: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

impl ApplyArgs {
    fn plan_args(&self) -> PlanArgs {
        PlanArgs {
            root: self.root.clone(),
            select: self.select.clone(),
            parallelism: self.parallelism,
            format: PlanFormat::Human,
            out: None,
            detailed_exitcode: false,
            emulator: self.emulator,
            graph: self.graph.clone(),
        }
    }

    fn options(&self) -> anyhow::Result<ApplyOptions> {
        if self.parallelism == 0 {
            bail!("--parallelism must be at least 1");
        }
        if !(0.0..=1.0).contains(&self.max_deletion_share) {
            bail!("--max-deletion-share must be between 0 and 1");
        }
        Ok(ApplyOptions {
            parallelism: self.parallelism,
            max_deletions: self.max_deletions,
            max_deletion_share: self.max_deletion_share,
            allow_mass_deletion: self.allow_mass_deletion,
            ..ApplyOptions::default()
        })
    }
}

/// Runs `rampart apply`; returns the exit code.
pub fn run(args: &ApplyArgs, color: bool) -> anyhow::Result<i32> {
    if args.select.ring.is_some() {
        // A ring is promoted whole, behind its gate, and recorded (issue 15).
        return super::rollout::apply_ring(args);
    }
    if args.force_promotion || args.max_failed_tenants > 0 {
        bail!("--force-promotion and --max-failed-tenants apply to `--ring` only");
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // A report that could not be written is refused before anything is written to a tenant.
    if let Some(path) = &args.report {
        crate::repo_files::Repo::open(&args.root)
            .and_then(|repo| repo.contain_output(path))
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    let report = match rt.block_on(execute(args, color))? {
        Some(r) => r,
        None => return Ok(exit::ERROR),
    };
    if let Some(path) = &args.report {
        crate::repo_files::Repo::open(&args.root)
            .and_then(|repo| repo.write_output(path, &crate::redact::scrub(&report.to_json())))
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    let text = match args.format {
        ApplyFormat::Human => report.render_human(),
        ApplyFormat::Json => report.to_json(),
    };
    crate::redact::print_out(&text)?;
    Ok(if report.success {
        exit::OK
    } else {
        exit::ERROR
    })
}

/// Loads or makes the plan, confirms, applies. `None`: the user declined.
async fn execute(args: &ApplyArgs, color: bool) -> anyhow::Result<Option<ApplyReport>> {
    let mut opts = args.options()?;
    // Which lock is held per tenant (RAMPART_LOCK...; local file locks by default).
    opts.lock = crate::lock::LockConfig::from_env(&args.root, |k| std::env::var(k).ok())
        .map_err(|e| anyhow::anyhow!(e))?;
    opts.lock_timeout =
        crate::lock::timeout_from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!(e))?;
    crate::errln!("Lock: {}", opts.lock.describe());
    if let Some(file) = &args.plan_file {
        if args.emulator {
            bail!(
                "--emulator plans afresh; it cannot be combined with a plan file (a plan made with `plan --emulator` cannot be applied: see `rampart emulator` to serve one that can)"
            );
        }
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let plan = crate::plan::load(&bytes)
            .with_context(|| format!("{} cannot be applied", file.display()))?;
        // Where the plan was made, before anything else: no token is requested, nothing is
        // sent, for a plan made against another endpoint.
        let settings = args.graph.settings()?;
        Endpoint::check_same(plan.endpoint.as_ref(), &settings.endpoint())
            .with_context(|| format!("{} cannot be applied", file.display()))?;
        if !args.skip_inputs_check {
            // The inputs themselves, not only their digest: apply re-derives every request
            // from them and the plan's recorded observations (an edited plan is refused).
            let inputs = current_inputs(args, &plan)?;
            opts.current_inputs_digest = Some(inputs_digest(&inputs));
            opts.current_inputs = Some(inputs);
        }
        let (context, authenticator) = settings
            .connect(process_env)
            .context("cannot connect to Microsoft Graph")?;
        let connector = GraphConnector {
            context,
            authenticator: Arc::new(authenticator),
        };
        return Ok(Some(apply_with_progress(&plan, &connector, &opts).await?));
    }

    let plan_args = args.plan_args();
    let (all, selected) = select_tenants(&plan_args)?;
    let kinds = args.select.kinds()?;
    let parallelism =
        NonZeroUsize::new(args.parallelism).context("--parallelism must be at least 1")?;
    let created_from = args.select.created_from();
    let bar = Some(Reporter::new(selected.len(), "planned").fleet_callback());
    if args.emulator {
        let d = demo::start(&all, &args.root.join("profiles"))
            .await
            .context("cannot start the built-in emulator")?;
        let ctx = d.context()?;
        let mut tenants = Vec::new();
        for t in &selected {
            tenants.push((t.clone(), d.auth(&t.tenant.id)?));
        }
        let mut from = created_from;
        from.source = "emulator".into();
        let mut plan = fetch::plan_fleet(&ctx, tenants, parallelism, from, bar).await;
        plan.endpoint = Some(Endpoint::in_process_emulator());
        plan.filter(&args.select.targets, &kinds);
        check_targets_matched(&plan, &args.select.targets, &selected)?;
        let demo::Demo {
            emulator,
            authenticator,
            ..
        } = d;
        let connector = GraphConnector {
            context: ctx,
            authenticator: Arc::new(authenticator),
        };
        let r = confirm_and_apply(args, &plan, &connector, &opts, color).await;
        emulator.shutdown().await;
        return r;
    }
    let (settings, context, authenticator) = args.graph.connect()?;
    let connector = GraphConnector {
        context,
        authenticator: Arc::new(authenticator),
    };
    let mut tenants = Vec::new();
    for t in &selected {
        tenants.push((
            t.clone(),
            connector.authenticator.tenant_auth(&t.tenant.id)?,
        ));
    }
    let mut from = created_from;
    from.source = connector.context.options().graph_url.to_string();
    let mut plan = fetch::plan_fleet(&connector.context, tenants, parallelism, from, bar).await;
    plan.endpoint = Some(settings.endpoint());
    plan.filter(&args.select.targets, &kinds);
    check_targets_matched(&plan, &args.select.targets, &selected)?;
    confirm_and_apply(args, &plan, &connector, &opts, color).await
}

/// Applies with a per-tenant progress bar (or line) on stderr.
async fn apply_with_progress(
    plan: &Plan,
    connector: &dyn Connector,
    opts: &ApplyOptions,
) -> Result<ApplyReport, crate::apply::ApplyRefused> {
    let reporter = Reporter::new(plan.tenants.len(), "applied");
    let observed = ProgressConnector {
        inner: connector,
        reporter,
    };
    apply_plan(plan, &observed, opts).await
}

/// Shows a fresh plan, asks for `yes` unless auto-approved, applies.
async fn confirm_and_apply(
    args: &ApplyArgs,
    plan: &Plan,
    connector: &GraphConnector,
    opts: &ApplyOptions,
    color: bool,
) -> anyhow::Result<Option<ApplyReport>> {
    // The plan goes to stderr so that stdout stays the report (JSON for pipelines).
    crate::errprint!(
        "{}",
        crate::redact::scrub(&render_human(plan, HumanOptions { color }))
    );
    if plan.errored {
        // Isolation: errored tenants are never applied and make the run fail (exit 1); the
        // others are applied. The engine reports each one, so the run goes through it.
        crate::errln!(
            "The plan has errors: the tenants they are in are not applied and apply exits 1; the others are applied."
        );
    } else if !plan.summary.has_changes() {
        crate::errln!("No changes. Nothing to apply.");
        return Ok(Some(ApplyReport::new(Vec::new())));
    }
    if plan.summary.has_changes() && !args.auto_approve {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to confirm on: pass --auto-approve, or apply a saved plan file");
        }
        if !super::confirm("Do you want to apply these changes?")? {
            crate::errln!("Apply cancelled.");
            return Ok(None);
        }
    }
    Ok(Some(apply_with_progress(plan, connector, opts).await?))
}

/// The repository's current desired state for the plan's tenants.
fn current_inputs(args: &ApplyArgs, plan: &Plan) -> anyhow::Result<Vec<TenantDesired>> {
    let mut pa = args.plan_args();
    pa.select = Selection::default();
    let (all, _) = select_tenants(&pa).context(
        "cannot read the policies and profiles to check the plan against them (run from the repository, give --root, or pass --skip-inputs-check)",
    )?;
    let names: std::collections::BTreeSet<&str> =
        plan.tenants.iter().map(|t| t.tenant.as_str()).collect();
    let chosen: Vec<TenantDesired> = all
        .into_iter()
        .filter(|d| names.contains(d.tenant.name.as_str()))
        .collect();
    Ok(chosen)
}
