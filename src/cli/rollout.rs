//! `rampart rollout` and `rampart apply --ring`: promote rings in order (issue 15; design in
//! `docs/rollout.md`).
//!
//! For each ring, lowest first: the promotion gate (every tenant of every lower ring in
//! step, checked live by a re-plan; each lower ring promoted from the current desired state
//! and soaked), a fresh plan of the ring, the apply, a verifying re-plan (no changes), and
//! the ring's promotion record written to `rollout/promotions.yaml` (the pipeline commits
//! it). The run stops at the first ring held by its gate (exit 4, nothing written to it) or
//! with more failed, stale or inconsistent tenants than `--max-failed-tenants` (exit 1, its
//! record not written); later rings are untouched.
//!
//! Limits: rings are promoted whole (no `--tenant`/`--profile` with `--ring` on apply);
//! tenants without a ring are outside the rollout (use plain `apply` for them); the gate
//! re-plans every lower ring, which costs one read of each of their tenants per ring.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use serde::Serialize;

use crate::apply::{ApplyOptions, GraphConnector, apply_plan};
use crate::desired::TenantDesired;
use crate::fetch;
use crate::graph::setup::Settings;
use crate::plan::{Plan, TenantStatus};
use crate::rollout::{
    Clock, GateRefusal, LowerRing, Promotions, RingSelection, gate, promotion, ring_digest,
};

use super::apply::ApplyArgs;
use super::exit;
use super::graph::GraphArgs;

/// How the rollout report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum RolloutFormat {
    #[default]
    Human,
    Json,
}

/// Promote the rings in order: gate, apply, verify, record; stop at the first ring that
/// is held or fails.
#[derive(Clone, Debug, clap::Args)]
pub struct RolloutArgs {
    /// Repository root (holding policies/, profiles/ and rollout/promotions.yaml).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    /// Only up to this ring (`..N` or `N`: rings 0 to N).
    #[arg(long, value_name = "N|..N", allow_hyphen_values = true)]
    pub ring: Option<String>,
    /// Tenants per ring that may fail (unreachable, failed, stale or inconsistent objects)
    /// without halting the rollout.
    #[arg(long, default_value_t = 0)]
    pub max_failed_tenants: usize,
    /// Promote even when a gate is not met (a lower ring not in step, not promoted, or
    /// soaking). Loudly noted in the report.
    #[arg(long)]
    pub force_promotion: bool,
    /// Required: a rollout writes to every ring it reaches without a prompt.
    #[arg(long)]
    pub auto_approve: bool,
    /// Tenants read and applied at the same time.
    #[arg(long, default_value_t = crate::apply::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Report format on stdout.
    #[arg(long, value_enum, default_value_t = RolloutFormat::Human)]
    pub format: RolloutFormat,
    /// Also write the JSON report to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// What happened to one ring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "outcome")]
pub enum RingOutcome {
    /// Already promoted to the current desired state and in step: nothing written.
    AlreadyPromoted,
    /// Applied, verified in step, recorded.
    Promoted {
        applied: usize,
        #[serde(rename = "failedTenants")]
        failed_tenants: Vec<String>,
    },
    /// The gate refused: nothing written to this ring.
    Held { refusals: Vec<String> },
    /// Applied, but more tenants than allowed are not in step: the rollout stops here.
    Halted {
        #[serde(rename = "failedTenants")]
        failed_tenants: Vec<String>,
        reason: String,
    },
}

/// One ring of the report.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RingReport {
    pub ring: u32,
    pub tenants: usize,
    #[serde(flatten)]
    pub outcome: RingOutcome,
    /// Gates overridden by `--force-promotion`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub forced: Vec<String>,
}

/// The whole rollout, for pipelines (`--format json`, `--report`).
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutReport {
    pub success: bool,
    /// The ring the rollout stopped at, if it stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<u32>,
    pub rings: Vec<RingReport>,
    /// Rings not reached because the rollout stopped.
    pub untouched: Vec<u32>,
}

impl RolloutReport {
    /// The exit code: 0 all promoted; 4 held at a gate; 1 halted on failures.
    pub fn exit_code(&self) -> i32 {
        match self.rings.last().map(|r| &r.outcome) {
            Some(RingOutcome::Held { .. }) => exit::HELD,
            Some(RingOutcome::Halted { .. }) => exit::ERROR,
            _ => exit::OK,
        }
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The human text: one block per ring, then where and why it stopped.
    pub fn render_human(&self) -> String {
        let mut out = String::new();
        for r in &self.rings {
            for f in &r.forced {
                out.push_str(&format!(
                    "!!! ring {}: PROMOTION FORCED past a gate that was not met: {f}\n",
                    r.ring
                ));
            }
            let line = match &r.outcome {
                RingOutcome::AlreadyPromoted => {
                    "already promoted to the current desired state, in step".to_string()
                }
                RingOutcome::Promoted {
                    applied,
                    failed_tenants,
                } => {
                    let mut s = format!("promoted: {applied} objects applied, verified in step");
                    if !failed_tenants.is_empty() {
                        s.push_str(&format!(
                            " except {} tolerated failed tenant(s): {}",
                            failed_tenants.len(),
                            failed_tenants.join(", ")
                        ));
                    }
                    s
                }
                RingOutcome::Held { refusals } => {
                    format!("held at its promotion gate: {}", refusals.join("; "))
                }
                RingOutcome::Halted {
                    failed_tenants,
                    reason,
                } => format!("HALTED: {reason}: {}", failed_tenants.join(", ")),
            };
            out.push_str(&format!(
                "Ring {} ({} tenants): {line}\n",
                r.ring, r.tenants
            ));
        }
        match self.stopped_at {
            Some(r) => {
                let untouched: Vec<String> = self.untouched.iter().map(u32::to_string).collect();
                out.push_str(&format!(
                    "Rollout stopped at ring {r}; {} untouched.\n",
                    if untouched.is_empty() {
                        "no later ring".to_string()
                    } else {
                        format!("ring(s) {} left", untouched.join(", "))
                    }
                ));
            }
            None => out.push_str("Rollout complete: every ring promoted.\n"),
        }
        out
    }
}

/// What a ring run needs: the repository's tenants, the record, the connection.
struct Ctx {
    root: PathBuf,
    all: Vec<TenantDesired>,
    soaks: BTreeMap<u32, u64>,
    promotions: Promotions,
    clock: Clock,
    commit: String,
    settings: Settings,
    connector: GraphConnector,
    parallelism: NonZeroUsize,
    options: ApplyOptions,
    max_failed_tenants: usize,
    force: bool,
}

impl Ctx {
    fn ring_tenants(&self, ring: u32) -> Vec<&TenantDesired> {
        self.all.iter().filter(|t| t.ring == Some(ring)).collect()
    }

    async fn plan(&self, tenants: &[&TenantDesired]) -> anyhow::Result<Plan> {
        let mut list = Vec::new();
        for t in tenants {
            list.push((
                (*t).clone(),
                self.connector.authenticator.tenant_auth(&t.tenant.id)?,
            ));
        }
        let mut from = crate::plan::CreatedFrom {
            source: self.connector.context.options().graph_url.to_string(),
            ..Default::default()
        };
        from.tenants = tenants.iter().map(|t| t.tenant.name.clone()).collect();
        from.tenants.sort();
        let mut plan =
            fetch::plan_fleet(&self.connector.context, list, self.parallelism, from, None).await;
        plan.endpoint = Some(self.settings.endpoint());
        Ok(plan)
    }

    /// One ring: gate, plan, apply, verify, record.
    async fn ring(&mut self, ring: u32) -> anyhow::Result<RingReport> {
        let tenants: Vec<TenantDesired> = self.ring_tenants(ring).into_iter().cloned().collect();
        let refs: Vec<&TenantDesired> = tenants.iter().collect();
        let mut report = RingReport {
            ring,
            tenants: tenants.len(),
            outcome: RingOutcome::AlreadyPromoted,
            forced: Vec::new(),
        };
        // The gate: lower rings checked live.
        let lower_rings: Vec<u32> = crate::rollout::rings_of(&self.all)
            .into_iter()
            .filter(|r| *r < ring)
            .collect();
        if !lower_rings.is_empty() {
            let lower_tenants: Vec<&TenantDesired> = self
                .all
                .iter()
                .filter(|t| t.ring.is_some_and(|r| r < ring))
                .collect();
            let live = self.plan(&lower_tenants).await?;
            let out_of_step = not_in_step(&live);
            let lower: Vec<LowerRing<'_>> = lower_rings
                .iter()
                .map(|r| {
                    let desired = self.ring_tenants(*r);
                    let mut bad: Vec<String> = desired
                        .iter()
                        .filter(|t| out_of_step.contains(&t.tenant.name))
                        .map(|t| t.tenant.name.clone())
                        .collect();
                    // A ring may carry up to --max-failed-tenants tolerated failures.
                    if bad.len() <= self.max_failed_tenants {
                        bad.clear();
                    }
                    LowerRing {
                        ring: *r,
                        desired,
                        not_in_step: bad,
                    }
                })
                .collect();
            let refusals = gate(&lower, &self.promotions, &self.soaks, self.clock.now());
            if !refusals.is_empty() {
                let words: Vec<String> = refusals.iter().map(GateRefusal::to_string).collect();
                if !self.force {
                    report.outcome = RingOutcome::Held { refusals: words };
                    return Ok(report);
                }
                for w in &words {
                    crate::errln!(
                        "!!! ring {ring}: PROMOTION FORCED past a gate that was not met: {w}"
                    );
                }
                report.forced = words;
            }
        }
        let promoted_at = self.clock.now();
        let plan = self.plan(&refs).await?;
        let current = ring_digest(refs.iter().copied());
        let recorded = self.promotions.get(ring).map(|p| p.inputs_digest.clone());
        let mut applied = 0;
        if plan.summary.has_changes() || plan.errored {
            let r = apply_plan(&plan, &self.connector, &self.options)
                .await
                .map_err(|e| anyhow::anyhow!("ring {ring}: the apply was refused: {e}"))?;
            applied = r.summary.applied;
        } else if recorded.as_deref() == Some(current.as_str()) {
            return Ok(report);
        }
        // Verify: a re-plan shows no changes.
        let verify = self.plan(&refs).await?;
        let failed = not_in_step(&verify);
        if failed.len() > self.max_failed_tenants {
            report.outcome = RingOutcome::Halted {
                reason: format!(
                    "{} tenant(s) not in step after the apply (failed, stale or inconsistent objects, or unreachable; --max-failed-tenants {})",
                    failed.len(),
                    self.max_failed_tenants
                ),
                failed_tenants: failed,
            };
            return Ok(report);
        }
        let mut rec = promotion(ring, &refs, &self.commit, promoted_at, self.clock.now());
        // A tolerated failed tenant did not get this state: keep what it was promoted to
        // before (or nothing), so its changes stay pending rather than read as drift.
        let previous = self.promotions.get(ring);
        for name in &failed {
            match previous.and_then(|p| p.tenants.get(name)) {
                Some(old) => {
                    rec.tenants.insert(name.clone(), old.clone());
                }
                None => {
                    rec.tenants.remove(name);
                }
            }
        }
        self.promotions.rings.insert(ring, rec);
        self.promotions
            .write(&self.root)
            .map_err(|e| anyhow::anyhow!("cannot record the promotion: {e}"))?;
        report.outcome = RingOutcome::Promoted {
            applied,
            failed_tenants: failed,
        };
        Ok(report)
    }
}

/// Tenants of a plan that are not in step: failed, an object in error, or a change.
fn not_in_step(plan: &Plan) -> Vec<String> {
    plan.tenants
        .iter()
        .filter(|t| {
            matches!(t.status, TenantStatus::Failed { .. }) || {
                let s = t.summary();
                s.errors > 0 || s.has_changes()
            }
        })
        .map(|t| t.tenant.clone())
        .collect()
}

/// The commit a promotion is recorded from: `git rev-parse HEAD` in the repository (what is
/// checked out, which a pipeline job may have moved past the triggering commit), else
/// `GITHUB_SHA`, else `unknown`.
fn commit(root: &std::path::Path) -> String {
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|s| !s.is_empty());
    head.or_else(|| {
        std::env::var("GITHUB_SHA")
            .ok()
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    })
    .unwrap_or_else(|| "unknown".to_string())
}

/// Everything the repository gives before any request.
struct Prepared {
    all: Vec<TenantDesired>,
    soaks: BTreeMap<u32, u64>,
    promotions: Promotions,
    clock: Clock,
}

/// Tenants, soaks, the record, the clock. Any error (repository, record, `RAMPART_NOW`)
/// stops here, before any request.
fn prepare(root: &std::path::Path) -> anyhow::Result<Prepared> {
    let validated = crate::cli::validate::validate_repository(root, &[]);
    if validated.has_errors() {
        let text = crate::diag::render(
            &validated.diagnostics,
            &validated.loaded.sources,
            crate::diag::Format::Concise,
            false,
        );
        bail!("the repository does not validate:\n{text}");
    }
    let soaks = crate::rollout::soaks(&validated.loaded);
    let all: Vec<TenantDesired> = validated.tenants.values().cloned().collect();
    let promotions = Promotions::read(root)
        .map_err(|e| anyhow::anyhow!(e))?
        .unwrap_or_default();
    let clock = Clock::from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!(e))?;
    Ok(Prepared {
        all,
        soaks,
        promotions,
        clock,
    })
}

async fn run_rings(
    root: PathBuf,
    selection: Option<&str>,
    graph: &GraphArgs,
    mut options: ApplyOptions,
    max_failed_tenants: usize,
    force: bool,
) -> anyhow::Result<RolloutReport> {
    // The same per-tenant lock as `apply` (RAMPART_LOCK...; local file locks by default).
    options.lock = crate::lock::LockConfig::from_env(&root, |k| std::env::var(k).ok())
        .map_err(|e| anyhow::anyhow!(e))?;
    options.lock_timeout =
        crate::lock::timeout_from_env(|k| std::env::var(k).ok()).map_err(|e| anyhow::anyhow!(e))?;
    crate::errln!("Lock: {}", options.lock.describe());
    let Prepared {
        all,
        soaks,
        promotions,
        clock,
    } = prepare(&root)?;
    let sel = super::select::check_ring(&all, selection).map_err(|e| anyhow::anyhow!(e))?;
    let rings: Vec<u32> = crate::rollout::rings_of(&all)
        .into_iter()
        .filter(|r| sel.is_none_or(|s| s.selects(Some(*r))))
        .collect();
    if rings.is_empty() {
        bail!("no profile declares a `ring`: there is nothing to roll out");
    }
    let (settings, context, authenticator) = graph.connect()?;
    let parallelism =
        NonZeroUsize::new(options.parallelism).context("--parallelism must be at least 1")?;
    let mut ctx = Ctx {
        commit: commit(&root),
        root,
        all,
        soaks,
        promotions,
        clock,
        settings,
        connector: GraphConnector {
            context,
            authenticator: Arc::new(authenticator),
        },
        parallelism,
        options,
        max_failed_tenants,
        force,
    };
    let mut report = RolloutReport {
        success: true,
        stopped_at: None,
        rings: Vec::new(),
        untouched: Vec::new(),
    };
    for (i, ring) in rings.iter().enumerate() {
        crate::errln!("Ring {ring}: checking its gate, then planning...");
        let r = ctx.ring(*ring).await?;
        let stop = matches!(
            r.outcome,
            RingOutcome::Held { .. } | RingOutcome::Halted { .. }
        );
        report.rings.push(r);
        if stop {
            report.success = false;
            report.stopped_at = Some(*ring);
            report.untouched = rings[i + 1..].to_vec();
            break;
        }
    }
    Ok(report)
}

fn print(
    report: &RolloutReport,
    format: RolloutFormat,
    file: Option<&PathBuf>,
) -> anyhow::Result<()> {
    if let Some(path) = file {
        std::fs::write(path, crate::redact::scrub(&report.to_json()).as_bytes())
            .with_context(|| format!("cannot write the report to {}", path.display()))?;
    }
    let text = match format {
        RolloutFormat::Human => report.render_human(),
        RolloutFormat::Json => report.to_json(),
    };
    crate::redact::print_out(&text)?;
    Ok(())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Runs `rampart rollout`; returns the exit code.
pub fn run(args: &RolloutArgs) -> anyhow::Result<i32> {
    if !args.auto_approve {
        bail!(
            "`rampart rollout` writes to every ring it reaches: pass --auto-approve (pipelines), or promote one ring with `rampart apply --ring N`"
        );
    }
    let options = ApplyOptions {
        parallelism: args.parallelism,
        ..ApplyOptions::default()
    };
    // `rollout --ring N` goes up to N, never only N (that is `apply --ring N`).
    let upto = args
        .ring
        .as_deref()
        .map(|r| format!("..{}", r.trim_start_matches("..")));
    let report = runtime()?.block_on(run_rings(
        args.root.clone(),
        upto.as_deref(),
        &args.graph,
        options,
        args.max_failed_tenants,
        args.force_promotion,
    ))?;
    print(&report, args.format, args.report.as_ref())?;
    Ok(report.exit_code())
}

/// `rampart apply --ring N`: the ring's gate, then apply, verify and record it (`..N`:
/// rings 0 to N in order, as `rollout --ring ..N`).
pub fn apply_ring(args: &ApplyArgs) -> anyhow::Result<i32> {
    let ring = args.select.ring.as_deref().unwrap_or_default();
    if args.plan_file.is_some() {
        bail!("--ring promotes a ring from a fresh plan; it cannot be combined with a plan file");
    }
    if args.emulator {
        bail!(
            "--ring records promotions against a served Graph (or `rampart emulator`); it cannot be combined with --emulator"
        );
    }
    let s = &args.select;
    if !(s.profiles.is_empty()
        && s.tenants.is_empty()
        && s.targets.is_empty()
        && s.kinds.is_empty())
    {
        bail!(
            "--ring promotes whole rings: it cannot be combined with --profile, --tenant, --target or --kind"
        );
    }
    RingSelection::parse(ring).map_err(|e| anyhow::anyhow!(e))?;
    if !args.auto_approve && !std::io::stdin().is_terminal() {
        bail!("no terminal to confirm on: pass --auto-approve");
    }
    if !args.auto_approve
        && !super::confirm(&format!(
            "Promote ring(s) {ring} (gate, apply, verify, record)?"
        ))?
    {
        crate::errln!("Apply cancelled.");
        return Ok(exit::ERROR);
    }
    let options = ApplyOptions {
        parallelism: args.parallelism,
        max_deletions: args.max_deletions,
        max_deletion_share: args.max_deletion_share,
        allow_mass_deletion: args.allow_mass_deletion,
        ..ApplyOptions::default()
    };
    let report = runtime()?.block_on(run_rings(
        args.root.clone(),
        Some(ring),
        &args.graph,
        options,
        args.max_failed_tenants,
        args.force_promotion,
    ))?;
    let format = match args.format {
        super::apply::ApplyFormat::Human => RolloutFormat::Human,
        super::apply::ApplyFormat::Json => RolloutFormat::Json,
    };
    print(&report, format, args.report.as_ref())?;
    Ok(report.exit_code())
}
