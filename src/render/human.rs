//! The human renderer, Terraform-style: a legend of the actions present, one block per
//! object that does something (`+`, `~`, `-`, `-/+`, `?`, `!`), changed fields as
//! `old -> new` with keys sorted and aligned, unchanged fields hidden and counted,
//! multi-line text (KQL) as a line diff, and one summary line. Colour only when asked
//! (the CLI decides from the terminal and `NO_COLOR`).

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::plan::{Action, FieldChange, ObjectPlan, Plan, TenantPlan, TenantStatus};

use super::summary_line;

/// Rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct HumanOptions {
    /// Emit ANSI colour.
    pub color: bool,
}

struct Painter {
    color: bool,
}

impl Painter {
    fn paint(&self, style: Style, text: &str) -> String {
        if self.color {
            format!("{}{text}{}", style.render(), style.render_reset())
        } else {
            text.to_string()
        }
    }
    fn action(&self, action: Action, text: &str) -> String {
        self.paint(action_style(action), text)
    }
}

fn action_style(action: Action) -> Style {
    let c = match action {
        Action::NoOp => return Style::new(),
        Action::Create => AnsiColor::Green,
        Action::Update => AnsiColor::Yellow,
        Action::Replace | Action::Delete | Action::Error => AnsiColor::Red,
        Action::Adopt => AnsiColor::Cyan,
    };
    Style::new().fg_color(Some(c.into()))
}

/// Whether an object is shown (no-ops only when they carry a note).
fn shown(o: &ObjectPlan) -> bool {
    o.action != Action::NoOp || !o.notes.is_empty()
}

/// Renders the whole plan.
pub fn render_human(plan: &Plan, options: HumanOptions) -> String {
    let p = Painter {
        color: options.color,
    };
    let mut out = String::new();
    let present: Vec<Action> = Action::all()
        .filter(|a| *a != Action::NoOp && plan.objects().any(|(_, o)| o.action == *a))
        .collect();
    if !present.is_empty() {
        out.push_str("Actions are indicated with the following symbols:\n");
        for a in &present {
            let _ = writeln!(
                out,
                "  {} {}",
                p.action(*a, &format!("{:<3}", a.symbol())),
                a.legend()
            );
        }
        out.push('\n');
    }
    match &plan.rollout {
        // Grouped by ring, lowest first (tenants without a ring last), each ring headed.
        Some(r) => {
            let by_name: std::collections::BTreeMap<&str, &TenantPlan> = plan
                .tenants
                .iter()
                .map(|t| (t.tenant.as_str(), t))
                .collect();
            for ring in &r.rings {
                let head = format!("── {} ──", ring.label());
                out.push_str(&p.paint(Style::new().bold(), &head));
                out.push('\n');
                for rt in &ring.tenants {
                    if let Some(t) = by_name.get(rt.tenant.as_str()) {
                        out.push_str(&render_tenant_with(t, &p));
                    }
                }
            }
        }
        None => {
            for t in &plan.tenants {
                out.push_str(&render_tenant_with(t, &p));
            }
        }
    }
    if let Some(r) = &plan.rollout {
        out.push_str(&super::rings::render_text(r));
    }
    let line = summary_line(&plan.summary);
    let style = Style::new().bold();
    out.push_str(&p.paint(style, &line));
    out.push('\n');
    if plan.errored {
        out.push_str("This plan has errors: apply will refuse it.\n");
    }
    out
}

/// One tenant's block, without colour (used by the Markdown renderer too).
pub fn render_tenant(t: &TenantPlan) -> String {
    render_tenant_with(t, &Painter { color: false })
}

fn render_tenant_with(t: &TenantPlan, p: &Painter) -> String {
    let mut out = String::new();
    let head = format!("{} ({})", t.tenant, t.tenant_id);
    match &t.status {
        TenantStatus::Failed { error } => {
            let _ = writeln!(
                out,
                "{} {}: {}\n",
                p.action(Action::Error, "!"),
                p.paint(Style::new().bold(), &head),
                p.action(Action::Error, &format!("failed: {error}"))
            );
            return out;
        }
        TenantStatus::Ok => {}
    }
    let objects: Vec<&ObjectPlan> = t.objects.iter().filter(|o| shown(o)).collect();
    if objects.is_empty() {
        let _ = writeln!(
            out,
            "{}: no changes.\n",
            p.paint(Style::new().bold(), &head)
        );
        return out;
    }
    let _ = writeln!(out, "{}", p.paint(Style::new().bold(), &head));
    for o in objects {
        render_object(&mut out, o, p);
    }
    out
}

fn render_object(out: &mut String, o: &ObjectPlan, p: &Painter) {
    let _ = writeln!(out, "  # {} {}", o.address, o.action.sentence());
    let label = format!("{} {:?}", o.address.kind, o.address.name);
    if o.action == Action::Error {
        let _ = writeln!(
            out,
            "  {} {label}: {}",
            p.action(Action::Error, "!"),
            o.error.as_deref().unwrap_or("error")
        );
        for n in &o.notes {
            let _ = writeln!(out, "    # {n}");
        }
        out.push('\n');
        return;
    }
    let symbol = if o.action == Action::NoOp {
        " "
    } else {
        o.action.symbol()
    };
    let has_body = !o.changes.is_empty() || o.unchanged_fields + o.unchanged_settings > 0;
    let ids: Vec<&str> = o
        .observed
        .iter()
        .chain(o.look_alike.iter())
        .map(|r| r.id.as_str())
        .collect();
    let id_note = if ids.is_empty() {
        String::new()
    } else {
        format!(" (id {})", ids.join(", "))
    };
    if o.action == Action::Delete || !has_body {
        let _ = writeln!(out, "  {} {label}{id_note}", p.action(o.action, symbol));
    } else {
        let _ = writeln!(out, "  {} {label}{id_note} {{", p.action(o.action, symbol));
        let width = o
            .changes
            .iter()
            .filter(|c| !is_multiline(c))
            .map(|c| c.path.chars().count())
            .max()
            .unwrap_or(0);
        for c in &o.changes {
            render_change(out, c, width, p);
        }
        hidden(out, o.unchanged_fields, "attribute");
        hidden(out, o.unchanged_settings, "setting");
        out.push_str("    }\n");
    }
    for n in &o.notes {
        let _ = writeln!(out, "    # {n}");
    }
    out.push('\n');
}

fn hidden(out: &mut String, n: usize, what: &str) {
    if n > 0 {
        let s = if n == 1 { "" } else { "s" };
        let _ = writeln!(out, "        # ({n} unchanged {what}{s} hidden)");
    }
}

/// The action a field change stands for: `before` null is an addition, `after` null a
/// removal, else an update (shared with the HTML report).
pub fn change_action(c: &FieldChange) -> Action {
    match (&c.before, &c.after) {
        (Value::Null, _) => Action::Create,
        (_, Value::Null) => Action::Delete,
        _ => Action::Update,
    }
}

/// Whether a change holds multi-line text (KQL), shown as a line diff.
pub fn is_multiline(c: &FieldChange) -> bool {
    let ml = |v: &Value| v.as_str().is_some_and(|s| s.contains('\n'));
    ml(&c.before) || ml(&c.after)
}

/// A value as it appears in a plan: JSON, strings quoted, lists inline.
pub fn value_text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::Array(a) => {
            let items: Vec<String> = a.iter().map(value_text).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

fn render_change(out: &mut String, c: &FieldChange, width: usize, p: &Painter) {
    let action = change_action(c);
    let sym = p.action(action, action.symbol());
    if is_multiline(c) {
        let before = c.before.as_str().unwrap_or("");
        let after = c.after.as_str().unwrap_or("");
        let _ = writeln!(out, "      {sym} {} = <<-EOT", c.path);
        let diff = TextDiff::from_lines(before, after);
        for change in diff.iter_all_changes() {
            let line = change.value().trim_end_matches('\n');
            let (tag, style) = match change.tag() {
                ChangeTag::Equal => (" ", Style::new()),
                ChangeTag::Delete => ("-", action_style(Action::Delete)),
                ChangeTag::Insert => ("+", action_style(Action::Create)),
            };
            // A create shows the text plainly; a change marks each line.
            let tag = if action == Action::Update { tag } else { " " };
            let _ = writeln!(out, "          {} {}", p.paint(style, tag), line);
        }
        out.push_str("        EOT\n");
        return;
    }
    let value = match action {
        Action::Create => value_text(&c.after),
        Action::Delete => format!("{} -> null", value_text(&c.before)),
        _ => format!("{} -> {}", value_text(&c.before), value_text(&c.after)),
    };
    let _ = writeln!(out, "      {sym} {:<width$} = {value}", c.path);
}
