//! Diagnostics: the model (code, severity, message, primary span, labels, help) and the
//! source map that renderers use to turn byte spans into `path:line:col`.
//!
//! Modelled on ruff: a diagnostic is data; positions are byte ranges into a file and become
//! 1-based line/column (in characters) only when rendered (see [`render`]). Every renderer
//! (human, concise, JSON, GitHub annotations) is fed the same sorted list, so no format can
//! show something another lacks. This module does no I/O.

pub mod render;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

pub use render::{Format, render, summary};

/// An error located by a JSON pointer into one YAML document (as converted to JSON),
/// e.g. `/settings/cloudBlockLevel`. Used by code that validates parts of a document
/// without knowing about files or spans (settings, catalog); the loader turns the pointer
/// into `path:line:col`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathError {
    /// RFC 6901 JSON pointer relative to the document root.
    pub pointer: String,
    /// Point at the mapping key rather than its value (unknown names, for example).
    pub at_key: bool,
    /// A stable, kebab-case code, e.g. `unknown-setting`.
    pub code: &'static str,
    pub message: String,
    pub help: Option<String>,
}

/// How bad a diagnostic is. Errors make `validate` exit 1; warnings do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// A byte range in one file. `path` is the file as the user named it (relative to the
/// repository root when loaded from one).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub path: String,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(path: impl Into<String>, range: std::ops::Range<usize>) -> Span {
        Span {
            path: path.into(),
            start: range.start,
            end: range.end,
        }
    }
}

/// A secondary location with its own short message ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label {
    pub span: Span,
    pub message: String,
}

/// One problem found in the user's files.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    /// Where the problem is. `None` only for problems that belong to no file (no input).
    pub span: Option<Span>,
    pub severity: Severity,
    /// A stable kebab-case identifier, e.g. `duplicate-key`; documented in docs/language.md.
    pub code: &'static str,
    pub message: String,
    /// Short text printed under the caret in the human format.
    pub span_message: Option<String>,
    pub labels: Vec<Label>,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            span: None,
            severity: Severity::Error,
            code,
            message: message.into(),
            span_message: None,
            labels: Vec::new(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    pub fn at(mut self, span: Span) -> Diagnostic {
        self.span = Some(span);
        self
    }

    pub fn with_span_message(mut self, message: impl Into<String>) -> Diagnostic {
        self.span_message = Some(message.into());
        self
    }

    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    pub fn with_help_opt(mut self, help: Option<String>) -> Diagnostic {
        self.help = help;
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// Sorts diagnostics by file, position, then code, and drops exact duplicates (the same
/// problem found once per tenant, for example), so output is deterministic.
pub fn sort_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort();
    diags.dedup();
}

/// The text of every file that diagnostics point into, keyed by path. Renderers need it
/// for line/column and snippets; a missing file still renders (without snippet).
#[derive(Clone, Debug, Default)]
pub struct SourceMap {
    files: BTreeMap<String, Arc<str>>,
}

impl SourceMap {
    pub fn new() -> SourceMap {
        SourceMap::default()
    }

    pub fn insert(&mut self, path: impl Into<String>, text: impl Into<Arc<str>>) {
        self.files.insert(path.into(), text.into());
    }

    pub fn get(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|t| &**t)
    }

    /// 1-based line and column (in characters) of a byte offset; offsets past the end or
    /// inside a character are clamped.
    pub fn line_col(&self, path: &str, offset: usize) -> (usize, usize) {
        match self.get(path) {
            Some(text) => line_col(text, offset),
            None => (1, 1),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() + 1;
    (line, col)
}

/// The closest candidate to `word` by edit distance, if close enough to be a likely typo;
/// used for "did you mean" help.
pub fn did_you_mean<'a, I>(word: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let lower = word.to_ascii_lowercase();
    let mut best: Option<(usize, &'a str)> = None;
    for c in candidates {
        let d = crate::catalog::edit_distance(&lower, &c.to_ascii_lowercase());
        if best.is_none_or(|(bd, bc)| d < bd || (d == bd && c < bc)) {
            best = Some((d, c));
        }
    }
    let limit = (word.chars().count() / 3).max(2);
    best.filter(|(d, _)| *d <= limit).map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a: 1\nbé: x\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 5), (2, 1));
        // `:` after the two-byte `é` is the third character of line 2.
        assert_eq!(line_col(text, 8), (2, 3));
        assert_eq!(line_col(text, 999), (3, 1));
    }

    #[test]
    fn did_you_mean_finds_typos_only() {
        let kinds = ["AntivirusPolicy", "FirewallPolicy"];
        assert_eq!(
            did_you_mean("AntivirusPolcy", kinds),
            Some("AntivirusPolicy")
        );
        assert_eq!(did_you_mean("Something", kinds), None);
    }
}
