//! Renderers of a [`Plan`](crate::plan::Plan): human (terminal), JSON and Markdown (pull
//! request comments). All are fed the same plan data, so none can show what another
//! lacks; the JSON is the plan's own serialisation. Pure: they return strings, the CLI
//! prints them.

pub mod human;
pub mod markdown;
pub mod rings;

use crate::plan::{Plan, Summary};

pub use human::{HumanOptions, render_human};
pub use markdown::{COMMENT_LIMIT, render_markdown};

/// The plan as pretty JSON (the saved plan's content; the file itself is compact).
pub fn render_json(plan: &Plan) -> String {
    String::from_utf8(crate::plan::saved::save_pretty(plan)).unwrap_or_default()
}

/// The one summary sentence, e.g.
/// `Plan: 3 tenants, 2 to add, 1 to change, 0 to destroy, 0 errors.`
/// Adoption candidates are named only when there are some.
pub fn summary_line(s: &Summary) -> String {
    let tenants = if s.tenants == 1 { "tenant" } else { "tenants" };
    let errors = if s.errors == 1 { "error" } else { "errors" };
    let adopt = match s.adoption_candidates {
        0 => String::new(),
        1 => ", 1 adoption candidate".to_string(),
        n => format!(", {n} adoption candidates"),
    };
    format!(
        "Plan: {} {tenants}, {} to add, {} to change, {} to destroy{adopt}, {} {errors}.",
        s.tenants, s.to_add, s.to_change, s.to_destroy, s.errors
    )
}
