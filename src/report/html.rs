//! The HTML renderer of a [`Report`]: one self-contained page (inline CSS, inline script, an
//! inline SVG chart; no fonts, images or scripts fetched from anywhere), written with maud,
//! which HTML-escapes every interpolated value. Tenant names, policy names, KQL and error
//! messages come from users and tenants; they only ever reach the page as escaped text, and
//! element ids are built from plan positions, never from names.
//!
//! The page carries a Content-Security-Policy that allows nothing but its own inline style
//! and script, pinned by their SHA-256: even markup smuggled past escaping could neither run
//! a script nor load anything.
//!
//! Field changes are shown as the plan holds them ([`crate::plan::FieldChange`]: settings by
//! their readable paths, values as the human renderer prints them), multi-line text (KQL) as
//! a line diff.

use base64::Engine as _;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use sha2::{Digest as _, Sha256};
use similar::{ChangeTag, TextDiff};

use super::model::{
    CellState, Group, ObjectEntry, Report, STATES, StateInfo, TenantDetails, TenantRow, fix_hint,
};
use crate::desired::Kind;
use crate::plan::{Action, FieldChange, TenantPlan, TenantStatus};
use crate::render::human::{change_action, is_multiline, value_text};
use crate::render::summary_line;

const CSS: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// Above this many tenants with details, the details start closed (a long page otherwise).
const OPEN_DETAILS_UP_TO: usize = 12;

/// Chart geometry, in SVG user units (pixels at 100%).
const CHART_LABEL: f64 = 150.0;
const CHART_BAR: f64 = 420.0;
const CHART_ROW: f64 = 30.0;

/// Renders the report as one HTML document.
pub fn render_html(report: &Report) -> String {
    let css = format!("{CSS}{}", state_css());
    let csp = format!(
        "default-src 'none'; style-src '{}'; script-src '{}'; img-src data:; base-uri 'none'; form-action 'none'",
        sha256_source(&css),
        sha256_source(SCRIPT)
    );
    let plan = report.plan;
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(csp);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(format!("rampart {}", plan.rampart_version));
                title { "rampart fleet report" }
                style { (PreEscaped(&css)) }
            }
            body {
                (header(report))
                main {
                    (overview(report))
                    (matrix(report))
                    (details(report))
                }
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    out
}

/// `'sha256-<base64>'` for a CSP source list.
fn sha256_source(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// Colours and symbols of the states, from the one table. The symbol is CSS generated
/// content with empty alternative text: screen readers read the cell's word only.
fn state_css() -> String {
    let mut css = String::new();
    for s in &STATES {
        css.push_str(&format!(
            ".s-{c}{{background:{b};color:{f}}}.matrix td.s-{c}::before{{content:\"{sym} \" / \"\";font-weight:700}}\n",
            c = s.code,
            b = s.background,
            f = s.foreground,
            sym = css_string(s.symbol),
        ));
    }
    css
}

/// A CSS string's content: non-ASCII as escapes, so the stylesheet is ASCII.
fn css_string(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && c != '"' && c != '\\' {
                c.to_string()
            } else {
                format!("\\{:X} ", c as u32)
            }
        })
        .collect()
}

fn header(report: &Report) -> Markup {
    let plan = report.plan;
    let from = &plan.created_from;
    let selection: Vec<String> = [
        ("profile", &from.profiles),
        ("tenant", &from.tenants),
        ("target", &from.targets),
        ("kind", &from.kinds),
    ]
    .iter()
    .flat_map(|(flag, values)| values.iter().map(move |v| format!("--{flag} {v}")))
    .collect();
    html! {
        header {
            h1 { "rampart fleet report" }
            dl.run {
                dt { "Generated" } dd { (report.run.generated_at) }
                @if let Some(file) = &report.run.plan_file {
                    dt { "Plan file" } dd { code { (file) } }
                }
                dt { "Graph endpoint" } dd { code { (from.source) } }
                dt { "rampart version" } dd { (plan.rampart_version) }
                dt { "Inputs digest" } dd { code { (plan.inputs_digest) } }
                dt { "Selection" }
                dd {
                    @if selection.is_empty() { "every tenant and object" }
                    @else { code { (selection.join(" ")) } }
                }
            }
            p.summary { (summary_line(&plan.summary)) }
            @if plan.errored {
                p.err { "This plan has errors: apply will refuse it." }
            }
            @if !report.run.notes.is_empty() {
                ul.notes-run { @for n in &report.run.notes { li { (n) } } }
            }
        }
    }
}

fn legend(report: &Report) -> Markup {
    html! {
        ul.legend aria-label="States" {
            @for s in &STATES {
                li class=(format!("s-{}", s.code)) data-s=(s.code) title=(s.legend) {
                    span aria-hidden="true" { (s.symbol) " " }
                    (s.word)
                    span.count { (report.totals[s.state as usize]) }
                }
            }
        }
    }
}

fn overview(report: &Report) -> Markup {
    // The chart shows object states; "not distributed" is the absence of an object.
    let shown_states: Vec<&StateInfo> = STATES
        .iter()
        .filter(|s| s.state != CellState::NotDistributed)
        .collect();
    let height = CHART_ROW * report.rings.len() as f64 + 6.0;
    let width = CHART_LABEL + CHART_BAR + 60.0;
    html! {
        section #overview {
            h2 { "States per ring" }
            div.overview {
                svg role="img" aria-labelledby="chart-title" aria-describedby="ring-counts"
                    width=(width) height=(height) viewBox=(format!("0 0 {width} {height}"))
                    xmlns="http://www.w3.org/2000/svg" {
                    title #chart-title { "Object states per ring (counts in the table beside)" }
                    @for (row, ring) in report.rings.iter().enumerate() {
                        @let y = 3.0 + CHART_ROW * row as f64;
                        @let total: usize = shown_states.iter().map(|s| ring.counts[s.state as usize]).sum();
                        text x="0" y=(y + 17.0) font-size="13" fill="#1c1f23" {
                            (ring.label()) " (" (ring.tenants) ")"
                        }
                        @for (x, w, s, n) in segments(ring.counts, &shown_states) {
                            rect x=(fmt_num(x)) y=(y) width=(fmt_num(w)) height="22"
                                fill=(s.background) stroke="#1c1f23" stroke-width="0.5" {
                                title { (ring.label()) ": " (n) " " (s.word) }
                            }
                            @if w >= 16.0 {
                                text x=(fmt_num(x + w / 2.0)) y=(y + 16.0) font-size="12"
                                    text-anchor="middle" fill=(s.foreground) aria-hidden="true" {
                                    (s.symbol)
                                }
                            }
                        }
                        text x=(CHART_LABEL + CHART_BAR + 6.0) y=(y + 17.0) font-size="12" fill="#555b63" {
                            (total)
                        }
                    }
                }
                table.counts #ring-counts {
                    caption.sr { "Object states per ring" }
                    thead {
                        tr {
                            th { "Ring" }
                            th { "Tenants" }
                            @for s in &shown_states { th title=(s.legend) { (s.word) } }
                        }
                    }
                    tbody {
                        @for ring in &report.rings {
                            tr {
                                th scope="row" { (ring.label()) }
                                td { (ring.tenants) }
                                @for s in &shown_states { td { (ring.counts[s.state as usize]) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The bar segments of one ring: (x, width, state, count) for each state present.
fn segments<'a>(
    counts: [usize; STATES.len()],
    states: &[&'a StateInfo],
) -> Vec<(f64, f64, &'a StateInfo, usize)> {
    let total: usize = states.iter().map(|s| counts[s.state as usize]).sum();
    let mut x = CHART_LABEL;
    let mut out = Vec::new();
    for s in states {
        let n = counts[s.state as usize];
        if n > 0 {
            let w = CHART_BAR * n as f64 / total as f64;
            out.push((x, w, *s, n));
            x += w;
        }
    }
    out
}

fn fmt_num(v: f64) -> String {
    format!("{v:.1}")
}

fn matrix(report: &Report) -> Markup {
    let kinds: Vec<Kind> = {
        let mut k: Vec<Kind> = report.columns.iter().map(|c| c.kind).collect();
        k.dedup();
        k
    };
    let tenants = report.plan.tenants.len();
    html! {
        section #fleet {
            h2 { "Tenants \u{d7} objects" }
            (legend(report))
            form.filters #filters role="search" {
                label { "Tenant contains" input #f-tenant type="search" autocomplete="off"; }
                label {
                    "Kind"
                    select #f-kind {
                        option value="" { "every kind" }
                        @for k in &kinds { option value=(k.as_str()) { (k.as_str()) } }
                    }
                }
                label {
                    "Has a cell in state"
                    select #f-state {
                        option value="" { "any state" }
                        @for s in &STATES { option value=(s.code) { (s.word) } }
                    }
                }
            }
            p #status role="status" aria-live="polite" { (tenants) " tenants." }
            div.matrix-wrap {
                table.matrix #matrix {
                    caption.sr { "Each tenant's state for each desired object, grouped by ring and profile" }
                    thead {
                        tr {
                            th.tenant-h scope="col" { button type="button" { "Tenant" } }
                            @for c in &report.columns {
                                th scope="col" data-k=(c.kind.as_str()) {
                                    span.kind { (c.kind.as_str()) }
                                    button type="button" { (c.name) }
                                }
                            }
                        }
                    }
                    @for g in &report.groups { (group(g, report.columns.len())) }
                }
            }
        }
    }
}

fn group(g: &Group, columns: usize) -> Markup {
    html! {
        tbody {
            tr.group {
                th scope="rowgroup" colspan=(columns + 1) {
                    (g.label()) " \u{2014} "
                    span.gcount data-total=(g.rows.len()) { (g.rows.len()) " tenants" }
                }
            }
            @for row in &g.rows { (tenant_row(row)) }
        }
    }
}

fn tenant_row(row: &TenantRow) -> Markup {
    html! {
        tr.t {
            th scope="row" {
                @if row.has_details {
                    a href=(format!("#t-{}", row.index)) { (row.plan.tenant) }
                } @else {
                    (row.plan.tenant)
                }
            }
            @for c in &row.cells {
                td class=(format!("s-{}", c.info().code)) { (c.info().word) }
            }
        }
    }
}

fn details(report: &Report) -> Markup {
    let open = report.details.len() <= OPEN_DETAILS_UP_TO;
    html! {
        section #details {
            h2 { "Changes by tenant" }
            @if report.details.is_empty() {
                p { "Every tenant is in step: nothing to change." }
            } @else {
                p {
                    (report.details.len()) " of " (report.plan.tenants.len())
                    " tenants have changes, candidates, notes or errors; the others are in step."
                }
            }
            @for d in &report.details { (tenant_details(d, open)) }
        }
    }
}

fn tenant_counts(t: &TenantPlan) -> String {
    let s = t.summary();
    let mut parts = vec![
        format!("{} to add", s.to_add),
        format!("{} to change", s.to_change),
        format!("{} to destroy", s.to_destroy),
    ];
    if s.adoption_candidates > 0 {
        parts.push(format!("{} adoption candidate(s)", s.adoption_candidates));
    }
    if s.errors > 0 {
        parts.push(format!("{} error(s)", s.errors));
    }
    parts.join(", ")
}

fn tenant_details(d: &TenantDetails, open: bool) -> Markup {
    let t = d.plan;
    html! {
        details.tenant id=(format!("t-{}", d.index)) open[open] {
            summary {
                b { (t.tenant) } " "
                span.tid { "(" (t.tenant_id) ")" } " \u{2014} "
                @match &t.status {
                    TenantStatus::Failed { .. } => span.err { "could not be read" },
                    TenantStatus::Ok => (tenant_counts(t)),
                }
            }
            @match &t.status {
                TenantStatus::Failed { error } => {
                    p.err { "! " (error) }
                    @if let Some(h) = fix_hint(error) { p.hint { "Fix: " (h) } }
                }
                TenantStatus::Ok => {
                    @for e in &d.objects { (object(e)) }
                }
            }
        }
    }
}

fn object(e: &ObjectEntry) -> Markup {
    let o = e.object;
    let state = CellState::from_action(o.action).info();
    let ids: Vec<&str> = o
        .observed
        .iter()
        .chain(o.look_alike.iter())
        .map(|r| r.id.as_str())
        .collect();
    let (lines, table): (Vec<&FieldChange>, Vec<&FieldChange>) =
        e.changes.iter().partition(|c| is_multiline(c));
    html! {
        div.obj id=(e.anchor) {
            p {
                span class=(format!("sym s-{}", state.code)) title=(state.word) { (o.action.symbol()) }
                " " code { (o.address) } " "
                (o.action.sentence())
                @if o.display_name != o.address.name { " \u{2014} \u{201c}" (o.display_name) "\u{201d}" }
                @if !ids.is_empty() { " (id " (ids.join(", ")) ")" }
            }
            @if o.action == Action::Error {
                @let message = o.error.as_deref().unwrap_or("error");
                p.err { "! " (message) }
                @if let Some(h) = fix_hint(message) { p.hint { "Fix: " (h) } }
            }
            @if let Some(shared) = &e.same_as {
                p.same {
                    (shared.shared) " field change(s) as at "
                    a href=(format!("#{}", shared.anchor)) { (shared.address) }
                    @if e.changes.is_empty() { "." } @else { "; the others:" }
                }
            }
            @if !table.is_empty() && o.action != Action::Delete {
                table.changes {
                    thead { tr { th { "" } th { "field" } th { "before" } th { "after" } } }
                    tbody {
                        @for c in &table {
                            @let a = change_action(c);
                            tr {
                                td class=(format!("s-{}", CellState::from_action(a).info().code)) title=(a.legend()) { (a.symbol()) }
                                th scope="row" { code { (c.path) } }
                                td.v { @if !c.before.is_null() { (value_text(&c.before)) } }
                                td.v { @if !c.after.is_null() { (value_text(&c.after)) } }
                            }
                        }
                    }
                }
            }
            @for c in &lines { (line_diff(c)) }
            @if o.unchanged_fields + o.unchanged_settings > 0 {
                p.hidden-count { (hidden_text(o.unchanged_fields, o.unchanged_settings)) }
            }
            @if !o.notes.is_empty() {
                ul.notes { @for n in &o.notes { li { (n) } } }
            }
        }
    }
}

fn hidden_text(fields: usize, settings: usize) -> String {
    let plural = |n: usize, w: &str| format!("{n} unchanged {w}{}", if n == 1 { "" } else { "s" });
    let mut parts = Vec::new();
    if fields > 0 {
        parts.push(plural(fields, "attribute"));
    }
    if settings > 0 {
        parts.push(plural(settings, "setting"));
    }
    format!("({} hidden)", parts.join(", "))
}

/// Multi-line text (KQL) as a line diff: removed lines struck as `<del>`, added as `<ins>`,
/// each with a visible `-`/`+` so the diff reads without colour.
fn line_diff(c: &FieldChange) -> Markup {
    let action = change_action(c);
    let before = c.before.as_str().unwrap_or("");
    let after = c.after.as_str().unwrap_or("");
    let diff = TextDiff::from_lines(before, after);
    html! {
        p { code { (c.path) } " (" (action.legend()) ", line diff):" }
        pre.diff {
            @for change in diff.iter_all_changes() {
                @let line = change.value().trim_end_matches('\n');
                @match (change.tag(), action) {
                    (ChangeTag::Equal, _) => { "  " (line) "\n" }
                    // A created or removed text shows plainly; a change marks each line.
                    (_, Action::Create) | (_, Action::Delete) => { "  " (line) "\n" }
                    (ChangeTag::Delete, _) => del { "- " (line) }
                    (ChangeTag::Insert, _) => ins { "+ " (line) }
                }
            }
        }
    }
}
