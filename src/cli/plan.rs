//! `rampart plan`: load and resolve the repository, read every selected tenant from Graph
//! (or from the built-in emulator with `--emulator`), and print the plan; `--out` saves it
//! for `rampart show` and `rampart apply`.
//!
//! Exit codes: 0 success (with `--detailed-exitcode`: no changes), 1 any error (invalid
//! repository, a failed tenant, an object in error), 2 with `--detailed-exitcode` when the
//! plan has changes, 3 with `--detailed-exitcode` when every change is pending promotion to
//! its ring (the repository tracks a rollout; see `crate::rollout`).

use std::num::NonZeroUsize;
use std::path::PathBuf;

use anyhow::{Context as _, bail};

use crate::demo;
use crate::desired::TenantDesired;
use crate::diag::{self, Format};
use crate::fetch;
use crate::plan::saved::Endpoint;
use crate::plan::{Plan, save};
use crate::render::{COMMENT_LIMIT, HumanOptions, render_human, render_json, render_markdown};

use super::exit;
use super::progress::Reporter;
use super::select::check_targets_matched;

/// How a plan is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Human,
    Json,
    Markdown,
}

pub use super::graph::GraphArgs;
pub use super::select::Selection;

/// Show what rampart would change in each tenant.
#[derive(Clone, Debug, clap::Args)]
pub struct PlanArgs {
    /// Repository root (holding policies/ and profiles/).
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    #[command(flatten)]
    pub select: Selection,
    /// Tenants read at the same time.
    #[arg(long, default_value_t = crate::graph::fleet::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Output format on stdout.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Also save the plan (JSON) to this file, for `rampart show` and `rampart apply`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 0 when there are no changes, 1 on error, 2 when there are changes.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Plan against the built-in Graph emulator, seeded from the repository's profiles with
    /// tenants in step, drifted, new and with unmanaged look-alikes (no credentials, no
    /// network).
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs `rampart plan`; returns the exit code.
pub fn run(args: &PlanArgs, color: bool) -> anyhow::Result<i32> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    // A plan file that could not be written is refused before Graph is read.
    if let Some(out) = &args.out {
        crate::repo_files::Repo::open(&args.root)
            .and_then(|repo| repo.contain_output(out))
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
    }
    let plan = rt.block_on(make_plan(args))?;
    // Planning only reads; say which lock an apply of this plan will hold per tenant.
    if let Ok(lock) = crate::lock::LockConfig::from_env(&args.root, |k| std::env::var(k).ok()) {
        crate::errln!(
            "Lock: none held while planning; apply holds: {}",
            lock.describe()
        );
    }
    let text = match args.format {
        PlanFormat::Human => render_human(&plan, HumanOptions { color }),
        PlanFormat::Json => render_json(&plan),
        PlanFormat::Markdown => render_markdown(&plan, COMMENT_LIMIT),
    };
    if let Some(out) = &args.out {
        // The one door for user files: `--out` stays inside the repository unless named
        // absolutely outside it, and never follows a symlink out (issue 10). `*.gz`:
        // gzip-compressed (`show` and `apply` read both).
        crate::repo_files::Repo::open(&args.root)
            .and_then(|repo| {
                if out.extension().is_some_and(|e| e == "gz") {
                    repo.write_output_bytes(out, &crate::plan::saved::save_gzip(&plan))
                } else {
                    repo.write_output(out, &String::from_utf8_lossy(&save(&plan)))
                }
            })
            .with_context(|| format!("cannot write the plan to {}", out.display()))?;
    }
    crate::redact::print_out(&text)?;
    Ok(exit_code(&plan, args.detailed_exitcode))
}

/// 1 when errored; with `--detailed-exitcode` 2 when there are changes; else 0.
pub fn exit_code(plan: &Plan, detailed: bool) -> i32 {
    if plan.errored {
        exit::ERROR
    } else if detailed && plan.summary.has_changes() {
        if crate::rollout::only_pending(plan) {
            exit::PENDING
        } else {
            exit::CHANGES
        }
    } else {
        exit::OK
    }
}

/// Every tenant's desired state and the selected ones (see [`Selection::apply`]), or the
/// repository's diagnostics as an error.
pub fn select_tenants(args: &PlanArgs) -> anyhow::Result<(Vec<TenantDesired>, Vec<TenantDesired>)> {
    let all = validated_tenants(&args.root)?;
    let selected = args.select.apply(&all)?;
    Ok((all, selected))
}

/// Every tenant's desired state, or the repository's diagnostics as an error.
pub fn validated_tenants(root: &std::path::Path) -> anyhow::Result<Vec<TenantDesired>> {
    let validated = crate::cli::validate::validate_repository(root, &[]);
    if validated.has_errors() {
        let text = diag::render(
            &validated.diagnostics,
            &validated.loaded.sources,
            Format::Concise,
            false,
        );
        bail!("the repository does not validate:\n{text}");
    }
    Ok(validated.tenants.values().cloned().collect())
}

/// Loads, reads and plans; the whole of `rampart plan` but the output.
pub async fn make_plan(args: &PlanArgs) -> anyhow::Result<Plan> {
    let (all, selected) = select_tenants(args)?;
    let kinds = args.select.kinds()?;
    // The promotion record is read before any request: a broken one stops the run here.
    let promotions =
        crate::rollout::Promotions::read(&args.root).map_err(|e| anyhow::anyhow!(e))?;
    let parallelism =
        NonZeroUsize::new(args.parallelism).context("--parallelism must be at least 1")?;
    let mut created_from = args.select.created_from();
    let bar = Some(Reporter::new(selected.len(), "planned").fleet_callback());
    let mut plan = if args.emulator {
        created_from.source = "emulator".into();
        let demo = demo::start(&all, &args.root.join("profiles"))
            .await
            .context("cannot start the built-in emulator")?;
        let ctx = demo.context()?;
        let mut tenants = Vec::new();
        for d in &selected {
            let auth = demo.auth(&d.tenant.id)?;
            tenants.push((d.clone(), auth));
        }
        let mut plan = fetch::plan_fleet(&ctx, tenants, parallelism, created_from, bar).await;
        plan.endpoint = Some(Endpoint::in_process_emulator());
        demo.emulator.shutdown().await;
        plan
    } else {
        let (settings, ctx, authenticator) = args.graph.connect()?;
        created_from.source = ctx.options().graph_url.to_string();
        let mut tenants = Vec::new();
        for d in &selected {
            let auth = authenticator.tenant_auth(&d.tenant.id)?;
            tenants.push((d.clone(), auth));
        }
        let mut plan = fetch::plan_fleet(&ctx, tenants, parallelism, created_from, bar).await;
        plan.endpoint = Some(settings.endpoint());
        plan
    };
    plan.filter(&args.select.targets, &kinds);
    check_targets_matched(&plan, &args.select.targets, &selected)?;
    if promotions.is_some() || args.select.ring.is_some() {
        crate::rollout::classify(&mut plan, &selected, promotions.as_ref());
        if let Some(r) = &mut plan.rollout {
            r.selection = args.select.ring.clone();
        }
    }
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::{Address, Kind};
    use crate::plan::{Action, ObjectPlan, TenantPlan, TenantStatus};

    fn plan_with(action: Option<Action>, failed: bool) -> Plan {
        let mut t = TenantPlan {
            tenant: "contoso".into(),
            tenant_id: "t".into(),
            status: TenantStatus::Ok,
            objects: vec![],
            observation: None,
        };
        if let Some(a) = action {
            t.objects.push(ObjectPlan::new(
                Address {
                    tenant: "contoso".into(),
                    kind: Kind::DetectionRule,
                    name: "r".into(),
                },
                a,
                "r",
            ));
        }
        let mut tenants = vec![t];
        if failed {
            tenants.push(TenantPlan::failed("fabrikam", "f", "403"));
        }
        Plan::new(
            tenants,
            "sha256:00".into(),
            crate::plan::CreatedFrom::default(),
        )
    }

    #[test]
    fn detailed_exit_codes() {
        assert_eq!(exit_code(&plan_with(None, false), true), exit::OK);
        assert_eq!(
            exit_code(&plan_with(Some(Action::NoOp), false), true),
            exit::OK
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), false), true),
            exit::CHANGES
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), false), false),
            exit::OK
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Error), false), true),
            exit::ERROR
        );
        assert_eq!(
            exit_code(&plan_with(Some(Action::Create), true), true),
            exit::ERROR
        );
        // An adoption candidate is not a change apply would make.
        assert_eq!(
            exit_code(&plan_with(Some(Action::Adopt), false), true),
            exit::OK
        );
    }
}
