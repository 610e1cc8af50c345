//! `rampart show FILE`: renders a saved plan (from `plan --out`) in any plan format. The
//! file's format and rampart versions are checked on load; an errored plan is shown with
//! its errors (and exit 1, as `plan` would have).

use std::path::PathBuf;

use anyhow::Context as _;

use crate::plan::load;
use crate::render::{COMMENT_LIMIT, HumanOptions, render_human, render_json, render_markdown};

use super::plan::PlanFormat;

/// Show a saved plan.
#[derive(Clone, Debug, clap::Args)]
pub struct ShowPlanArgs {
    /// The plan file written by `rampart plan --out` (several with `--merge`).
    #[arg(required = true, num_args = 1.., value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
    /// Merge the shard plans of one run (`plan --shard K/N`) into one plan: the plan an
    /// unsharded run makes, byte for byte.
    #[arg(long)]
    pub merge: bool,
    /// With `--merge`: also save the merged plan here (`*.gz`: compressed), for `apply`.
    #[arg(long, requires = "merge")]
    pub out: Option<PathBuf>,
    /// With `--merge`: the repository root whose inputs the shards were planned from (the
    /// merged plan's inputs digest covers every tenant's desired state).
    #[arg(long, default_value = ".", requires = "merge")]
    pub root: PathBuf,
}

fn load_file(file: &std::path::Path) -> anyhow::Result<crate::plan::Plan> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    load(&bytes).with_context(|| format!("{} cannot be shown", file.display()))
}

/// The shard plans `files` merged (see `crate::plan::shard`), the digest over the desired
/// states `root` resolves to for the merged tenants.
pub fn merge_files(files: &[PathBuf], root: &std::path::Path) -> anyhow::Result<crate::plan::Plan> {
    let plans = files
        .iter()
        .map(|f| load_file(f))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let validated = crate::cli::validate::validate_repository(root, &[]);
    if validated.has_errors() {
        anyhow::bail!(
            "the repository at {} does not validate: run `rampart validate`",
            root.display()
        );
    }
    let mut missing = Vec::new();
    let plan = crate::plan::shard::merge(plans, |ids| {
        let desired: Vec<_> = ids
            .iter()
            .filter_map(|id| {
                let d = validated.tenants.values().find(|t| &t.tenant.id == id);
                if d.is_none() {
                    missing.push(id.clone());
                }
                d.cloned()
            })
            .collect();
        crate::plan::inputs_digest(&desired)
    })?;
    if !missing.is_empty() {
        anyhow::bail!(
            "the plans hold tenants no profile under {} names: {}",
            root.display(),
            missing.join(", ")
        );
    }
    Ok(plan)
}

/// The text `show` prints for a plan file (or the merged shard plans).
pub fn render_plan_file(args: &ShowPlanArgs, color: bool) -> anyhow::Result<(String, bool)> {
    let plan = if args.merge {
        let plan = merge_files(&args.files, &args.root)?;
        if let Some(out) = &args.out {
            let bytes = if out.extension().is_some_and(|e| e == "gz") {
                crate::plan::saved::save_gzip(&plan)
            } else {
                crate::plan::save(&plan)
            };
            std::fs::write(out, bytes)
                .with_context(|| format!("cannot write the plan to {}", out.display()))?;
        }
        plan
    } else {
        match args.files.as_slice() {
            [file] => load_file(file)?,
            _ => anyhow::bail!(
                "`rampart show` takes one plan file; to join shard plans, add --merge"
            ),
        }
    };
    let text = match args.format {
        PlanFormat::Human => render_human(&plan, HumanOptions { color }),
        PlanFormat::Json => render_json(&plan),
        PlanFormat::Markdown => render_markdown(&plan, COMMENT_LIMIT),
    };
    Ok((text, plan.errored))
}

/// Runs `rampart show FILE`; returns the exit code.
pub fn run(args: &ShowPlanArgs, color: bool) -> anyhow::Result<i32> {
    let (text, errored) = render_plan_file(args, color)?;
    crate::redact::print_out(&text)?;
    Ok(if errored {
        super::exit::ERROR
    } else {
        super::exit::OK
    })
}
