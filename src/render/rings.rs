//! The rollout section of a plan (issue 15): per ring, its tenants counted by
//! [`RingState`] (in step, pending, drifted, failed) and the tenants that are not in step
//! by state. Shared by the human and Markdown renderers; words come from the one table in
//! `plan::model`. Pure.

use std::fmt::Write as _;

use crate::plan::{RingPlan, RingState, Rollout};

/// Names shown per state before the list is cut (`... and N more`).
const NAMES_SHOWN: usize = 10;

fn counts(r: &RingPlan) -> String {
    let total: usize = r.counts.iter().sum();
    let mut parts = vec![format!(
        "{total} {}",
        if total == 1 { "tenant" } else { "tenants" }
    )];
    for s in RingState::all() {
        parts.push(format!("{} {}", r.count(s), s.word()));
    }
    parts.join(", ")
}

fn names(r: &RingPlan, state: RingState) -> Option<String> {
    let all: Vec<&str> = r
        .tenants
        .iter()
        .filter(|t| t.state == state)
        .map(|t| t.tenant.as_str())
        .collect();
    if all.is_empty() {
        return None;
    }
    let mut shown = all
        .iter()
        .take(NAMES_SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if all.len() > NAMES_SHOWN {
        let _ = write!(shown, " ... and {} more", all.len() - NAMES_SHOWN);
    }
    Some(shown)
}

fn promoted(r: &RingPlan, tracked: bool) -> String {
    match (&r.promoted_commit, r.ring, tracked) {
        (Some(c), _, _) => format!(" (promoted from {c})"),
        (None, Some(_), true) => " (never promoted)".to_string(),
        _ => String::new(),
    }
}

/// The plain-text block: `Rings:` then one line per ring and one per non-empty state.
pub fn render_text(r: &Rollout) -> String {
    let mut out = String::from("Rings:\n");
    for ring in &r.rings {
        let _ = writeln!(
            out,
            "  {}{}: {}",
            ring.label(),
            promoted(ring, r.tracked),
            counts(ring)
        );
        for s in RingState::all().filter(|s| *s != RingState::InStep) {
            if let Some(n) = names(ring, s) {
                let _ = writeln!(out, "    {}: {n}", s.word());
            }
        }
    }
    if !r.tracked {
        out.push_str(
            "  No promotion record (rollout/promotions.yaml): every change counts as drift.\n",
        );
    } else if !r.pending.is_empty() {
        let _ = writeln!(
            out,
            "  {} {} pending promotion to {} ring (merged, not yet promoted): not drift.",
            r.pending.len(),
            if r.pending.len() == 1 {
                "change is"
            } else {
                "changes are"
            },
            if r.pending.len() == 1 { "its" } else { "their" },
        );
    }
    out.push('\n');
    out
}

/// The Markdown table: one row per ring, a column per state.
pub fn render_markdown(r: &Rollout) -> String {
    let mut out = String::from("| ring | tenants |");
    for s in RingState::all() {
        let _ = write!(out, " {} |", s.word());
    }
    out.push_str("\n|---|---:|");
    for _ in RingState::all() {
        out.push_str("---:|");
    }
    out.push('\n');
    for ring in &r.rings {
        let total: usize = ring.counts.iter().sum();
        let _ = write!(
            out,
            "| {}{} | {total} |",
            ring.label(),
            promoted(ring, r.tracked)
        );
        for s in RingState::all() {
            let _ = write!(out, " {} |", ring.count(s));
        }
        out.push('\n');
    }
    out.push('\n');
    if !r.tracked {
        out.push_str(
            "No promotion record (`rollout/promotions.yaml`): every change counts as drift.\n\n",
        );
    } else if !r.pending.is_empty() {
        let _ = writeln!(
            out,
            "{} {} pending promotion to {} ring (not drift).\n",
            r.pending.len(),
            if r.pending.len() == 1 {
                "change is"
            } else {
                "changes are"
            },
            if r.pending.len() == 1 { "its" } else { "their" },
        );
    }
    out
}
