//! Renderers of diagnostics: human (snippet + caret), concise (one line each), JSON
//! (stable, sorted) and GitHub workflow annotations. All take the same sorted list and a
//! [`SourceMap`]; colour (ANSI, via anstyle) only when the caller asks for it.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use serde::Serialize;

use super::{Diagnostic, Severity, SourceMap, Span};

/// Output formats of `rampart validate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Snippet with `--> path:line:col`, the line, a caret and help.
    #[default]
    Human,
    /// `path:line:col: error[code] message`, one per line.
    Concise,
    /// A JSON document with every diagnostic and a summary.
    Json,
    /// GitHub Actions workflow commands (`::error file=..,line=..::msg`).
    Github,
}

/// Renders `diags` (already sorted) in `format`. `color` only affects `Human`.
pub fn render(diags: &[Diagnostic], sources: &SourceMap, format: Format, color: bool) -> String {
    match format {
        Format::Human => human(diags, sources, color),
        Format::Concise => concise(diags, sources),
        Format::Json => json(diags, sources),
        Format::Github => github(diags, sources),
    }
}

/// One sentence: `2 errors, 1 warning` (or `no problems found`).
pub fn summary(diags: &[Diagnostic]) -> String {
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let warnings = diags.len() - errors;
    if diags.is_empty() {
        return "no problems found".to_string();
    }
    format!(
        "{errors} error{}, {warnings} warning{}",
        if errors == 1 { "" } else { "s" },
        if warnings == 1 { "" } else { "s" }
    )
}

struct Palette {
    error: Style,
    warning: Style,
    bold: Style,
    gutter: Style,
    secondary: Style,
    help: Style,
}

impl Palette {
    fn new(color: bool) -> Palette {
        if !color {
            let s = Style::new();
            return Palette {
                error: s,
                warning: s,
                bold: s,
                gutter: s,
                secondary: s,
                help: s,
            };
        }
        Palette {
            error: Style::new().bold().fg_color(Some(AnsiColor::Red.into())),
            warning: Style::new().bold().fg_color(Some(AnsiColor::Yellow.into())),
            bold: Style::new().bold(),
            gutter: Style::new().bold().fg_color(Some(AnsiColor::Blue.into())),
            secondary: Style::new().bold().fg_color(Some(AnsiColor::Cyan.into())),
            help: Style::new().bold().fg_color(Some(AnsiColor::Cyan.into())),
        }
    }
}

fn paint(style: Style, text: &str) -> String {
    if style == Style::new() {
        text.to_string()
    } else {
        format!("{}{text}{}", style.render(), style.render_reset())
    }
}

/// Line/column of both ends of a span; the end column is exclusive.
struct Resolved<'a> {
    line: usize,
    col: usize,
    end_line: usize,
    end_col: usize,
    text: Option<&'a str>,
}

fn resolve<'a>(span: &Span, sources: &'a SourceMap) -> Resolved<'a> {
    let (line, col) = sources.line_col(&span.path, span.start);
    let (end_line, end_col) = sources.line_col(&span.path, span.end.max(span.start));
    Resolved {
        line,
        col,
        end_line,
        end_col,
        text: sources.get(&span.path),
    }
}

fn human(diags: &[Diagnostic], sources: &SourceMap, color: bool) -> String {
    let p = Palette::new(color);
    let mut out = String::new();
    for d in diags {
        let sev_style = match d.severity {
            Severity::Error => p.error,
            Severity::Warning => p.warning,
        };
        let _ = writeln!(
            out,
            "{}{}",
            paint(sev_style, &format!("{}[{}]", d.severity.as_str(), d.code)),
            paint(p.bold, &format!(": {}", d.message))
        );
        let width = gutter_width(d, sources);
        let pad = " ".repeat(width);
        if let Some(span) = &d.span {
            snippet(
                &mut out,
                &p,
                width,
                span,
                sources,
                "-->",
                '^',
                sev_style,
                d.span_message.as_deref(),
            );
        }
        for label in &d.labels {
            snippet(
                &mut out,
                &p,
                width,
                &label.span,
                sources,
                ":::",
                '-',
                p.secondary,
                Some(&label.message),
            );
        }
        if let Some(help) = &d.help {
            let _ = writeln!(
                out,
                "{pad} {} {}: {help}",
                paint(p.gutter, "="),
                paint(p.help, "help")
            );
        }
        out.push('\n');
    }
    out
}

fn gutter_width(d: &Diagnostic, sources: &SourceMap) -> usize {
    let spans = d.span.iter().chain(d.labels.iter().map(|l| &l.span));
    spans
        .map(|s| sources.line_col(&s.path, s.start).0.to_string().len())
        .max()
        .unwrap_or(1)
}

#[allow(clippy::too_many_arguments)]
fn snippet(
    out: &mut String,
    p: &Palette,
    width: usize,
    span: &Span,
    sources: &SourceMap,
    arrow: &str,
    mark: char,
    mark_style: Style,
    message: Option<&str>,
) {
    let r = resolve(span, sources);
    let pad = " ".repeat(width);
    let _ = writeln!(
        out,
        "{pad}{} {}:{}:{}",
        paint(p.gutter, arrow),
        span.path,
        r.line,
        r.col
    );
    let Some(text) = r.text else {
        return;
    };
    let Some(line_text) = text.lines().nth(r.line - 1) else {
        return;
    };
    let line_text = line_text.trim_end_matches('\r');
    let bar = paint(p.gutter, "|");
    let _ = writeln!(out, "{pad} {bar}");
    let _ = writeln!(
        out,
        "{} {bar} {line_text}",
        paint(p.gutter, &format!("{:>width$}", r.line))
    );
    // Multi-line spans are underlined to the end of their first line.
    let line_chars = line_text.chars().count();
    let end_col = if r.end_line == r.line {
        r.end_col
    } else {
        line_chars + 1
    };
    let len = end_col.saturating_sub(r.col).max(1);
    // Keep tabs so the caret lines up under tab-indented text.
    let lead: String = line_text
        .chars()
        .take(r.col - 1)
        .map(|c| if c == '\t' { '\t' } else { ' ' })
        .collect();
    let marks: String = std::iter::repeat_n(mark, len).collect();
    let msg = message.map(|m| format!(" {m}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "{pad} {bar} {lead}{}",
        paint(mark_style, &format!("{marks}{msg}"))
    );
}

fn concise(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        match &d.span {
            Some(span) => {
                let r = resolve(span, sources);
                let _ = write!(out, "{}:{}:{}: ", span.path, r.line, r.col);
            }
            None => out.push_str("rampart: "),
        }
        let _ = writeln!(out, "{}[{}] {}", d.severity.as_str(), d.code, d.message);
    }
    out
}

#[derive(Serialize)]
struct JsonReport<'a> {
    diagnostics: Vec<JsonDiagnostic<'a>>,
    summary: JsonSummary,
}

#[derive(Serialize)]
struct JsonSummary {
    errors: usize,
    warnings: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonDiagnostic<'a> {
    code: &'a str,
    severity: Severity,
    message: &'a str,
    location: Option<JsonLocation<'a>>,
    labels: Vec<JsonLabel<'a>>,
    help: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonLocation<'a> {
    path: &'a str,
    line: usize,
    column: usize,
    end_line: usize,
    end_column: usize,
    /// Byte range, for tools that index the file themselves.
    start: usize,
    end: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a str>,
}

#[derive(Serialize)]
struct JsonLabel<'a> {
    #[serde(flatten)]
    location: JsonLocation<'a>,
}

fn json_location<'a>(
    span: &'a Span,
    sources: &SourceMap,
    message: Option<&'a str>,
) -> JsonLocation<'a> {
    let r = resolve(span, sources);
    JsonLocation {
        path: &span.path,
        line: r.line,
        column: r.col,
        end_line: r.end_line,
        end_column: r.end_col,
        start: span.start,
        end: span.end,
        message,
    }
}

fn json(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let errors = diags.iter().filter(|d| d.is_error()).count();
    let report = JsonReport {
        diagnostics: diags
            .iter()
            .map(|d| JsonDiagnostic {
                code: d.code,
                severity: d.severity,
                message: &d.message,
                location: d
                    .span
                    .as_ref()
                    .map(|s| json_location(s, sources, d.span_message.as_deref())),
                labels: d
                    .labels
                    .iter()
                    .map(|l| JsonLabel {
                        location: json_location(&l.span, sources, Some(&l.message)),
                    })
                    .collect(),
                help: d.help.as_deref(),
            })
            .collect(),
        summary: JsonSummary {
            errors,
            warnings: diags.len() - errors,
        },
    };
    // Serialising plain structs of strings and integers cannot fail.
    let mut s = serde_json::to_string_pretty(&report).unwrap_or_default();
    s.push('\n');
    s
}

/// Escapes data of a workflow command (https://github.com/actions/toolkit, `command.ts`).
fn gh_escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

fn gh_escape_property(s: &str) -> String {
    gh_escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

fn github(diags: &[Diagnostic], sources: &SourceMap) -> String {
    let mut out = String::new();
    for d in diags {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = Vec::new();
        if let Some(span) = &d.span {
            let r = resolve(span, sources);
            props.push(format!("file={}", gh_escape_property(&span.path)));
            props.push(format!("line={}", r.line));
            props.push(format!("col={}", r.col));
            if r.end_line == r.line {
                props.push(format!("endColumn={}", r.end_col));
            } else {
                props.push(format!("endLine={}", r.end_line));
            }
        }
        props.push(format!(
            "title={}",
            gh_escape_property(&format!("rampart {}", d.code))
        ));
        let mut message = d.message.clone();
        if let Some(help) = &d.help {
            message.push_str("\nhelp: ");
            message.push_str(help);
        }
        let _ = writeln!(
            out,
            "::{command} {}::{}",
            props.join(","),
            gh_escape_data(&message)
        );
    }
    out
}
