//! The Markdown renderer for pull-request comments: the summary first, then one
//! collapsible `<details>` per tenant holding that tenant's human plan in a `diff` fence
//! (so GitHub colours `+`/`-`). The whole comment stays under GitHub's 65,536-character
//! limit: tenants that do not fit are listed by their counts only, with a note saying the
//! plan was cut and where to read all of it.

use std::fmt::Write as _;

use crate::plan::{Plan, TenantPlan, TenantStatus};

use super::human::render_tenant;
use super::summary_line;

/// GitHub's maximum comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Renders the plan as one Markdown comment of at most `limit` characters.
pub fn render_markdown(plan: &Plan, limit: usize) -> String {
    let mut head = String::new();
    head.push_str("### rampart plan\n\n");
    let _ = writeln!(head, "**{}**\n", summary_line(&plan.summary));
    if plan.errored {
        head.push_str("> [!CAUTION]\n> This plan has errors: apply will refuse it.\n\n");
    }
    // Reserve room for the cut note so adding it can never break the limit.
    const NOTE_RESERVE: usize = 400;
    let mut body = String::new();
    let mut cut = 0usize;
    let mut used = head.chars().count() + NOTE_RESERVE;
    for t in &plan.tenants {
        let section = tenant_section(t);
        let n = section.chars().count();
        if cut == 0 && used + n <= limit {
            body.push_str(&section);
            used += n;
            continue;
        }
        let short = tenant_line(t);
        let n = short.chars().count();
        if used + n <= limit {
            body.push_str(&short);
            used += n;
        }
        cut += 1;
    }
    let mut out = head;
    out.push_str(&body);
    if cut > 0 {
        let _ = write!(
            out,
            "\n> [!NOTE]\n> This comment was cut to stay under GitHub's {COMMENT_LIMIT}-character limit: {cut} tenant(s) are shown by their counts only. Run `rampart show` on the saved plan or read the JSON plan for every change.\n"
        );
    }
    out
}

fn counts(t: &TenantPlan) -> String {
    let s = t.summary();
    let mut c = format!(
        "{} to add, {} to change, {} to destroy",
        s.to_add, s.to_change, s.to_destroy
    );
    if s.adoption_candidates > 0 {
        let _ = write!(c, ", {} adoption candidate(s)", s.adoption_candidates);
    }
    if s.errors > 0 {
        let _ = write!(c, ", {} error(s)", s.errors);
    }
    c
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn tenant_line(t: &TenantPlan) -> String {
    match &t.status {
        TenantStatus::Failed { error } => format!(
            "- :x: **{}** failed: {}\n",
            escape(&t.tenant),
            escape(error)
        ),
        TenantStatus::Ok => format!("- **{}**: {}\n", escape(&t.tenant), counts(t)),
    }
}

fn tenant_section(t: &TenantPlan) -> String {
    if let TenantStatus::Failed { .. } = t.status {
        return tenant_line(t);
    }
    let text = render_tenant(t);
    // A fence longer than any backtick run inside (KQL may hold ```).
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    // Move each line's leading +/- to column 0 so GitHub's diff colouring sees it.
    let mut diff = String::new();
    for line in text.lines() {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let moved = if indent > 0
            && (trimmed.starts_with("+ ")
                || trimmed.starts_with("- ")
                || trimmed.starts_with("~ ")
                || trimmed.starts_with("! "))
        {
            let sym = &trimmed[..1];
            format!("{sym}{}{}", &line[1..indent], &trimmed[1..])
        } else {
            line.to_string()
        };
        diff.push_str(&moved);
        diff.push('\n');
    }
    format!(
        "<details><summary><b>{}</b>: {}</summary>\n\n{fence}diff\n{diff}{fence}\n\n</details>\n\n",
        escape(&t.tenant),
        counts(t)
    )
}
