//! The Markdown renderer for pull-request comments, built for fleets: tenants whose change
//! sets are identical are one section ("these 3 changes, in 144 tenants: ..."), shown once
//! with one tenant's diff; failed tenants and tenants with errors come first, then change
//! sets holding deletions, then the others (largest groups first); tenants in step are one
//! line. Each section holds the human plan in a `diff` fence (so GitHub colours `+`/`-`).
//!
//! The whole comment stays under GitHub's 65,536-character limit at any fleet size: a
//! section that does not fit is replaced by a one-line summary, lines that do not fit are
//! counted, and a closing note says what was cut and how to read the whole plan (the saved
//! plan file and `rampart show`).
//!
//! Two tenants' change sets are identical when they have the same objects (kind and name)
//! with the same actions, field changes and errors; observed ids, which differ per tenant,
//! are not compared, so the diff shown is that of the first tenant of the group.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::plan::{Action, Plan, TenantPlan, TenantStatus};

use super::human::render_tenant;
use super::summary_line;

/// GitHub's maximum comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// Room kept for the closing note, so adding it can never break the limit.
const NOTE_RESERVE: usize = 600;
/// A group's tenant list is cut beyond this many characters ("and N more").
const NAMES_LIMIT: usize = 6_000;

/// Renders the plan as one Markdown comment of at most `limit` characters.
pub fn render_markdown(plan: &Plan, limit: usize) -> String {
    let mut head = String::new();
    head.push_str("### rampart plan\n\n");
    let _ = writeln!(head, "**{}**\n", summary_line(&plan.summary));
    if let Some(r) = &plan.rollout {
        head.push_str(&super::rings::render_markdown(r));
    }
    if plan.errored {
        head.push_str("> [!CAUTION]\n> This plan has errors: apply will refuse it.\n\n");
    }
    let mut sections: Vec<(String, String)> = Vec::new();
    for g in groups(plan) {
        sections.push((group_section(&g), group_line(&g)));
    }
    let in_step: Vec<&str> = plan
        .tenants
        .iter()
        .filter(|t| matches!(t.status, TenantStatus::Ok) && !has_changes(t))
        .map(|t| t.tenant.as_str())
        .collect();
    if !in_step.is_empty() {
        let line = format!(
            "- {} with no changes: {}\n",
            tenants_word(in_step.len()),
            name_list(&in_step)
        );
        sections.push((format!("{line}\n"), line));
    }

    let mut body = String::new();
    let mut shortened = 0usize;
    let mut omitted = 0usize;
    let mut used = head.chars().count() + NOTE_RESERVE;
    for (full, short) in &sections {
        let n = full.chars().count();
        if shortened == 0 && used + n <= limit {
            body.push_str(full);
            used += n;
            continue;
        }
        shortened += 1;
        let n = short.chars().count();
        if used + n <= limit {
            body.push_str(short);
            used += n;
        } else {
            omitted += 1;
        }
    }
    let mut out = head;
    out.push_str(&body);
    if shortened > 0 {
        let _ = write!(
            out,
            "\n> [!NOTE]\n> This comment was cut to stay under GitHub's {COMMENT_LIMIT}-character limit: {shortened} section(s) are shown by their counts only{}. \
             The whole plan is in the saved plan file (the workflow's plan artifact): `rampart show plan.json` prints all of it, `rampart show --format json plan.json` for machines.\n",
            if omitted > 0 {
                format!(", {omitted} of them not even that")
            } else {
                String::new()
            }
        );
    }
    out
}

/// Tenants sharing one change set (or one failed tenant).
struct Group<'a> {
    tenants: Vec<&'a TenantPlan>,
}

impl Group<'_> {
    fn first(&self) -> &TenantPlan {
        self.tenants[0]
    }

    fn failed(&self) -> bool {
        matches!(self.first().status, TenantStatus::Failed { .. })
    }

    fn has_errors(&self) -> bool {
        self.failed() || self.first().summary().errors > 0
    }

    fn has_deletions(&self) -> bool {
        self.first().summary().to_destroy > 0
    }
}

fn has_changes(t: &TenantPlan) -> bool {
    t.objects.iter().any(|o| o.action != Action::NoOp)
}

/// The change set of a tenant, as comparable text (tenant name and observed ids left out).
fn change_key(t: &TenantPlan) -> String {
    let objects: Vec<serde_json::Value> = t
        .objects
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .map(|o| {
            serde_json::json!([
                o.address.kind,
                o.address.name,
                o.action,
                o.changes,
                o.error,
                o.unchanged_fields,
                o.unchanged_settings,
            ])
        })
        .collect();
    serde_json::Value::Array(objects).to_string()
}

/// Failed tenants alone; the others grouped by change set; in-step tenants left out.
/// Order: errors first, then deletions, then the largest groups, then by first tenant name.
fn groups(plan: &Plan) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for t in &plan.tenants {
        if let TenantStatus::Failed { .. } = t.status {
            out.push(Group { tenants: vec![t] });
            continue;
        }
        if !has_changes(t) {
            continue;
        }
        let key = change_key(t);
        match by_key.get(&key) {
            Some(&i) => out[i].tenants.push(t),
            None => {
                by_key.insert(key, out.len());
                out.push(Group { tenants: vec![t] });
            }
        }
    }
    out.sort_by(|a, b| {
        b.has_errors()
            .cmp(&a.has_errors())
            .then(b.has_deletions().cmp(&a.has_deletions()))
            .then(b.tenants.len().cmp(&a.tenants.len()))
            .then(a.first().tenant.cmp(&b.first().tenant))
    });
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

fn tenants_word(n: usize) -> String {
    if n == 1 {
        "1 tenant".into()
    } else {
        format!("{n} tenants")
    }
}

/// `a`, `b`, ... within [`NAMES_LIMIT`] characters, then "and N more".
fn name_list(names: &[&str]) -> String {
    let mut out = String::new();
    for (i, n) in names.iter().enumerate() {
        let item = format!("{}`{}`", if i == 0 { "" } else { ", " }, escape(n));
        if out.chars().count() + item.chars().count() > NAMES_LIMIT {
            let _ = write!(out, " and {} more", names.len() - i);
            return out;
        }
        out.push_str(&item);
    }
    out
}

fn change_count(t: &TenantPlan) -> usize {
    t.objects
        .iter()
        .filter(|o| o.action != Action::NoOp)
        .count()
}

fn group_title(g: &Group<'_>) -> String {
    let t = g.first();
    if g.tenants.len() == 1 {
        return format!("<b>{}</b>: {}", escape(&t.tenant), counts(t));
    }
    let n = change_count(t);
    format!(
        "<b>{} {}, in {}</b>: {} in each",
        n,
        if n == 1 { "change" } else { "changes" },
        tenants_word(g.tenants.len()),
        counts(t)
    )
}

fn group_line(g: &Group<'_>) -> String {
    let t = g.first();
    if let TenantStatus::Failed { error } = &t.status {
        return format!(
            "- :x: **{}** failed: {}\n",
            escape(&t.tenant),
            escape(error)
        );
    }
    let title = group_title(g).replace("<b>", "**").replace("</b>", "**");
    format!("- {title}\n")
}

fn group_section(g: &Group<'_>) -> String {
    let t = g.first();
    if g.failed() {
        // A blank line ends the list item before any HTML block that follows.
        return format!("{}\n", group_line(g));
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
    let tenants = if g.tenants.len() > 1 {
        let names: Vec<&str> = g.tenants.iter().map(|t| t.tenant.as_str()).collect();
        format!(
            "Tenants: {}.\n\nShown for `{}`; the others differ only in their object ids.\n\n",
            name_list(&names),
            escape(&t.tenant)
        )
    } else {
        String::new()
    };
    format!(
        "<details><summary>{}</summary>\n\n{tenants}{fence}diff\n{diff}{fence}\n\n</details>\n\n",
        group_title(g)
    )
}
