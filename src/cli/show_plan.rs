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
    /// The plan file written by `rampart plan --out`.
    pub file: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Human)]
    pub format: PlanFormat,
}

/// The text `show` prints for a plan file.
pub fn render_plan_file(args: &ShowPlanArgs, color: bool) -> anyhow::Result<(String, bool)> {
    let bytes = std::fs::read(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let plan = load(&bytes).with_context(|| format!("{} cannot be shown", args.file.display()))?;
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
