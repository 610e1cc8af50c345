//! `rampart report`: writes the fleet report, one self-contained HTML file, from a saved plan
//! (`rampart report plan.json -o fleet.html`) or from a fresh plan made with `plan`'s
//! selection flags (`rampart report --emulator -o fleet.html`).
//!
//! Rings and profiles come from the repository at `--root`: for a saved plan the report
//! says so when the repository's desired state is no longer the one the plan was made from
//! (its inputs digest differs). Without a repository (`--root` has no `profiles/`), tenants
//! are shown ungrouped. The run time is the clock's, or `SOURCE_DATE_EPOCH` when set
//! (reproducible artifacts).
//!
//! Exit codes: 0 the report was written; 1 any error, or the plan has errors (the report is
//! still written, so a pipeline can publish it: `show` and `plan` exit 1 on such a plan too).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use crate::desired::TenantDesired;
use crate::plan::{Plan, inputs_digest, load};
use crate::report::{Placement, Report, RunInfo, TenantPlacement, render_html};

use super::exit;
use super::plan::{GraphArgs, PlanArgs, PlanFormat, Selection, make_plan};

/// Write the fleet report (one self-contained HTML page).
#[derive(Clone, Debug, clap::Args)]
pub struct ReportArgs {
    /// A plan saved by `rampart plan --out`; without it, plan afresh.
    #[arg(value_name = "PLAN")]
    pub plan: Option<PathBuf>,
    /// The HTML file to write.
    #[arg(
        short = 'o',
        long = "out",
        value_name = "FILE",
        default_value = "fleet.html"
    )]
    pub out: PathBuf,
    /// Repository root (holding policies/ and profiles/): rings and profiles for grouping,
    /// and the desired state for a fresh plan.
    #[arg(long, default_value = ".")]
    pub root: PathBuf,
    #[command(flatten)]
    pub select: Selection,
    /// Tenants read at the same time (fresh plan).
    #[arg(long, default_value_t = crate::graph::fleet::DEFAULT_PARALLELISM)]
    pub parallelism: usize,
    /// Plan against the built-in Graph emulator (fresh plan; as `plan --emulator`).
    #[arg(long)]
    pub emulator: bool,
    #[command(flatten)]
    pub graph: GraphArgs,
}

/// Runs `rampart report`; returns the exit code.
pub fn run(args: &ReportArgs) -> anyhow::Result<i32> {
    // Refused before any reading when the page could not be written (issue 10).
    crate::repo_files::Repo::open(&args.root)
        .and_then(|repo| repo.contain_output(&args.out))
        .with_context(|| format!("cannot write the report to {}", args.out.display()))?;
    let (plan, plan_file) = match &args.plan {
        Some(file) => {
            let fresh_only = !args.select.profiles.is_empty()
                || !args.select.tenants.is_empty()
                || !args.select.targets.is_empty()
                || !args.select.kinds.is_empty()
                || args.emulator;
            if fresh_only {
                bail!(
                    "--profile, --tenant, --target, --kind and --emulator make a fresh plan: give them without a plan file, or use `rampart plan --out` with them first"
                );
            }
            let bytes =
                std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
            let plan =
                load(&bytes).with_context(|| format!("{} cannot be reported", file.display()))?;
            (plan, Some(file.display().to_string()))
        }
        None => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let plan_args = PlanArgs {
                root: args.root.clone(),
                select: args.select.clone(),
                parallelism: args.parallelism,
                format: PlanFormat::Human,
                out: None,
                detailed_exitcode: false,
                emulator: args.emulator,
                graph: args.graph.clone(),
            };
            (rt.block_on(make_plan(&plan_args))?, None)
        }
    };
    let (placement, notes) = placement(&args.root, &plan)?;
    let run = RunInfo {
        generated_at: now_rfc3339()?,
        plan_file,
        notes,
    };
    let report = Report::build(&plan, &placement, run);
    let html = render_html(&report);
    crate::repo_files::Repo::open(&args.root)
        .and_then(|repo| repo.write_output(&args.out, &crate::redact::scrub(&html)))
        .with_context(|| format!("cannot write the report to {}", args.out.display()))?;
    crate::errln!(
        "wrote {} ({} tenants, {} bytes)",
        args.out.display(),
        plan.tenants.len(),
        html.len()
    );
    Ok(if plan.errored { exit::ERROR } else { exit::OK })
}

/// Each planned tenant's ring and profiles from the repository at `root`, and the notes the
/// report shows about them. A repository that does not validate is an error (its
/// diagnostics are the message), as for `plan`.
fn placement(root: &Path, plan: &Plan) -> anyhow::Result<(Placement, Vec<String>)> {
    if !root.join("profiles").is_dir() {
        return Ok((
            Placement::new(),
            vec![format!(
                "No repository at {} (no profiles/ directory): rings and profiles are unknown.",
                root.display()
            )],
        ));
    }
    let validated = super::validate::validated(root)?;
    let planned: Vec<TenantDesired> = validated
        .tenants
        .values()
        .filter(|d| plan.tenants.iter().any(|t| t.tenant == d.tenant.name))
        .cloned()
        .collect();
    let mut notes = Vec::new();
    if inputs_digest(&planned) != plan.inputs_digest {
        notes.push(format!(
            "The repository at {} is not the desired state this plan was made from (its inputs digest differs): rings and profiles are shown as the repository holds them now.",
            root.display()
        ));
    }
    let missing = plan
        .tenants
        .iter()
        .filter(|t| !planned.iter().any(|d| d.tenant.name == t.tenant))
        .count();
    if missing > 0 {
        notes.push(format!(
            "{missing} planned tenant(s) are not in the repository's profiles: shown as not in the repository."
        ));
    }
    let placement = planned
        .into_iter()
        .map(|d| {
            let place = TenantPlacement {
                ring: d.ring,
                profiles: d.profiles.clone(),
                desired: d.objects.keys().cloned().collect(),
            };
            (d.tenant.name, place)
        })
        .collect();
    Ok((placement, notes))
}

/// Now in RFC 3339 UTC, or `SOURCE_DATE_EPOCH` (seconds) when set, so a pipeline can make
/// byte-identical reports of one plan (https://reproducible-builds.org/specs/source-date-epoch/).
fn now_rfc3339() -> anyhow::Result<String> {
    let at = match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.trim().is_empty() => {
            let secs: i64 = v
                .trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH {v:?} is not a number of seconds"))?;
            time::OffsetDateTime::from_unix_timestamp(secs)
                .with_context(|| format!("SOURCE_DATE_EPOCH {v:?} is out of range"))?
        }
        // Whole seconds: the report's reader needs no more.
        _ => time::OffsetDateTime::now_utc().replace_nanosecond(0)?,
    };
    Ok(at.format(&time::format_description::well_known::Rfc3339)?)
}
