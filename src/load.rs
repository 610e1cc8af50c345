//! Loading a policy repository: find the YAML files, read them (span-aware), check every
//! document against its kind's JSON Schema, convert it to its file type and run the
//! per-document semantic checks; then the cross-document checks and a full resolution for
//! every tenant ([`validate`]). Every problem of every file is collected in one pass; the
//! only I/O is reading files under the given paths (never writing, never the network).
//!
//! Limits: `queryFile` must name a file next to (or below) the YAML file that names it.

mod checks;
mod firewall;
mod roles;
mod schema_errors;
pub mod vars;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{self, DOCUMENT_KINDS, DocumentFile};
use crate::diag::{self, Diagnostic, SourceMap, Span};
use crate::repo_files::{FileError, Repo};
use crate::yaml::{self, Limits, SpanIndex};

pub use checks::{FREQUENCIES, TACTICS, is_guid};
pub(crate) use checks::{
    cross_document as check_across_documents, document as check_document, policy_settings,
};
pub use roles::{DIRECTORY_ROLES, INTUNE_ROLES, directory_role_template_id};
pub(crate) use schema_errors::check as check_schema;
pub(crate) use vars::check_variable_syntax;
pub use vars::{VarContext, VarError, contains_variable, substitute};

/// One document of one file, as loaded.
#[derive(Clone, Debug)]
pub struct LoadedDocument {
    /// The file, as displayed (relative to the root when under it, `/` separators).
    pub path: String,
    /// 1-based position of the document in its file.
    pub index: usize,
    /// 1-based line where the document starts.
    pub line: u32,
    pub kind: String,
    pub name: String,
    /// The document as JSON (before variable substitution).
    pub json: Value,
    /// Where each JSON pointer of `json` is in the file.
    pub spans: SpanIndex,
    /// The typed document when it passed its schema (before substitution), else `None`.
    pub file: Option<DocumentFile>,
    /// Whether the document passed its schema; invalid documents are not resolved.
    pub valid: bool,
    /// For detection rules with `queryFile`: the file's text, read at load time so that
    /// resolution stays pure.
    pub query_file_text: Option<String>,
}

impl LoadedDocument {
    /// The span of a JSON pointer (its key when `at_key`).
    pub fn span(&self, pointer: &str, at_key: bool) -> Span {
        Span::new(self.path.clone(), self.spans.lookup(pointer, at_key))
    }

    pub fn labels(&self) -> Vec<String> {
        match self.json.get("labels") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn is_profile(&self) -> bool {
        self.kind == "DistributionProfile"
    }
}

/// Everything read from a repository.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// Documents with a known kind and a name, in file order (files sorted by path).
    pub documents: Vec<LoadedDocument>,
    /// Problems found while loading, sorted.
    pub diagnostics: Vec<Diagnostic>,
    /// The text of every file read, for rendering diagnostics.
    pub sources: SourceMap,
    /// Whether some file or document could not be read (syntax error, unknown kind, ...):
    /// references to missing names are then not reported, as they are likely in it.
    pub incomplete: bool,
}

impl Loaded {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn profiles(&self) -> impl Iterator<Item = &LoadedDocument> {
        self.documents.iter().filter(|d| d.is_profile())
    }

    pub fn policies(&self) -> impl Iterator<Item = &LoadedDocument> {
        self.documents.iter().filter(|d| !d.is_profile())
    }
}

/// The directories read when no path is given.
pub const DEFAULT_DIRS: [&str; 2] = ["policies", "profiles"];

/// Reads every `*.yaml`/`*.yml` file under `paths` (files or directories; a relative path
/// is taken from `root` when it exists there, else from the current directory), or under
/// `root/policies` and `root/profiles` when `paths` is empty, and runs the per-document
/// checks. Every file read must resolve (symlinks followed) inside `root`.
pub fn load_repository(root: &Path, paths: &[PathBuf]) -> Loaded {
    let limits = Limits::default();
    let mut loaded = Loaded::default();
    let repo = match Repo::open(root) {
        Ok(r) => r,
        Err(e) => {
            loaded.diagnostics.push(
                Diagnostic::error(
                    "no-input",
                    format!(
                        "the repository root `{}` cannot be read: {}",
                        root.display(),
                        e.message()
                    ),
                )
                .with_help("pass --root with the path of a policy repository"),
            );
            loaded.incomplete = true;
            return loaded;
        }
    };
    let files = discover(&repo, paths, &mut loaded.diagnostics);
    loaded.incomplete |= loaded.diagnostics.iter().any(Diagnostic::is_error);
    for (display, real) in files {
        load_file(&repo, &display, &real, &limits, &mut loaded);
    }
    diag::sort_dedup(&mut loaded.diagnostics);
    loaded
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// A file or folder that leads out of the repository: an error at the path (no document
/// names it, so there is no line to point at).
fn outside_diagnostic(display: &str, e: &FileError) -> Diagnostic {
    Diagnostic::error(e.code(), e.message())
        .at(Span::new(display, 0..0))
        .with_help(
            "rampart reads only files inside the repository; copy the file in, or remove the link",
        )
}

/// Files to read, as (displayed path, path under the root), sorted and unique.
fn discover(repo: &Repo, paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<(String, PathBuf)> {
    let root = repo.root();
    let mut found: BTreeMap<String, PathBuf> = BTreeMap::new();
    let defaults: Vec<PathBuf>;
    let inputs: &[PathBuf] = if paths.is_empty() {
        defaults = DEFAULT_DIRS
            .iter()
            .map(|d| root.join(d))
            .filter(|p| p.is_dir())
            .collect();
        if defaults.is_empty() {
            diags.push(
                Diagnostic::error(
                    "no-input",
                    format!(
                        "no `policies/` or `profiles/` directory under `{}`",
                        root.display()
                    ),
                )
                .with_help("run in a policy repository, or pass --root or paths"),
            );
        }
        &defaults
    } else {
        paths
    };
    let mut visited = BTreeSet::new();
    for input in inputs {
        // Relative to the root first (`validate --root repo policies`), else to the
        // current directory (`validate --root repo repo/policies`).
        let path = if input.is_absolute() || (!root.join(input).exists() && input.exists()) {
            input.clone()
        } else {
            root.join(input)
        };
        let display = repo.display(&path);
        if let Err(e) = repo.contain(&path) {
            diags.push(outside_diagnostic(&display, &e));
        } else if path.is_dir() {
            walk(repo, &path, &mut found, &mut visited, diags);
        } else if path.is_file() {
            found.insert(display, path);
        } else {
            diags.push(Diagnostic::error(
                "no-input",
                format!("`{}` does not exist", input.display()),
            ));
        }
    }
    found.into_iter().collect()
}

fn walk(
    repo: &Repo,
    dir: &Path,
    found: &mut BTreeMap<String, PathBuf>,
    visited: &mut BTreeSet<PathBuf>,
    diags: &mut Vec<Diagnostic>,
) {
    // A folder linked twice (or a link cycle inside the repository) is read once.
    match repo.contain(dir) {
        Ok(real) => {
            if !visited.insert(real) {
                return;
            }
        }
        Err(e) => {
            diags.push(outside_diagnostic(&repo.display(dir), &e));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                "io-error",
                format!("cannot read directory `{}`: {e}", repo.display(dir)),
            ));
            return;
        }
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        let hidden = p
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if p.is_dir() {
            walk(repo, &p, found, visited, diags);
        } else if is_yaml(&p) {
            found.insert(repo.display(&p), p);
        }
    }
}

fn load_file(repo: &Repo, display: &str, path: &Path, limits: &Limits, loaded: &mut Loaded) {
    match repo.read(path) {
        Ok(decoded) => {
            let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
            load_text_in(Some(repo), display, &decoded.text, &dir, limits, loaded);
            loaded.sources.insert(display, decoded.text);
        }
        Err(e) => {
            // Reported by the file's own path; the other files are still read.
            loaded.incomplete = true;
            let mut text = String::new();
            let mut at = 0;
            if let FileError::Decode { source, .. } = &e
                && source.encoding == crate::repo_files::Encoding::Utf8
                && let Ok(bytes) = std::fs::read(path)
            {
                // Show the text up to the bad byte, and point at it.
                text = String::from_utf8_lossy(&bytes).into_owned();
                at = source.offset;
            }
            let help = match &e {
                FileError::Outside { .. } => {
                    "rampart reads only files inside the repository; copy the file in, or remove the link"
                }
                FileError::Decode { .. } => {
                    "save the file as UTF-8 (or UTF-16 with a byte-order mark)"
                }
                FileError::TooLarge { .. } => "policy files are small; split this one",
                _ => "",
            };
            let end = if text.is_empty() { at } else { at + 1 };
            let d = Diagnostic::error(e.code(), e.message())
                .at(Span::new(display, at..end))
                .with_help_opt((!help.is_empty()).then(|| help.to_string()));
            loaded.sources.insert(display, text);
            loaded.diagnostics.push(d);
        }
    }
}

/// Loads the documents of one file's text (`dir` is where `queryFile`s are looked up).
/// Public for tests and tools that have the text in memory; `queryFile`s may not leave
/// `dir` (see [`load_text_in`]).
pub fn load_text(display: &str, text: &str, dir: &Path, limits: &Limits, loaded: &mut Loaded) {
    load_text_in(None, display, text, dir, limits, loaded);
}

/// [`load_text`] with the repository that `queryFile`s must stay in (`None`: `dir` is the
/// boundary).
pub fn load_text_in(
    repo: Option<&Repo>,
    display: &str,
    text: &str,
    dir: &Path,
    limits: &Limits,
    loaded: &mut Loaded,
) {
    let parsed = yaml::parse(text, limits);
    loaded.incomplete |= !parsed.errors.is_empty();
    for e in parsed.errors {
        let mut d = Diagnostic::error(e.code, e.message)
            .at(Span::new(display, e.span))
            .with_help_opt(e.help);
        if let Some((span, msg)) = e.label {
            d = d.with_label(Span::new(display, span), msg);
        }
        loaded.diagnostics.push(d);
    }
    if parsed.documents.is_empty() && text.trim().is_empty() {
        loaded.diagnostics.push(
            Diagnostic::warning("empty-file", "file holds no document")
                .at(Span::new(display, 0..0)),
        );
    }
    for (i, doc) in parsed.documents.iter().enumerate() {
        let (json, spans) = yaml::to_json(&doc.root);
        let (line, _) = diag::line_col(text, doc.start);
        let ctx = DocCtx {
            path: display,
            spans: &spans,
            substituted: false,
        };
        let loaded_doc = load_document(&ctx, json.clone(), repo, dir, &mut loaded.diagnostics);
        loaded.incomplete |= loaded_doc.is_none();
        if let Some(d) = loaded_doc {
            loaded.documents.push(LoadedDocument {
                path: display.to_string(),
                index: i + 1,
                line: u32::try_from(line).unwrap_or(u32::MAX),
                spans: spans.clone(),
                ..d
            });
        }
    }
}

/// A document's location context for building diagnostics.
pub(crate) struct DocCtx<'a> {
    pub path: &'a str,
    pub spans: &'a SpanIndex,
    /// Whether the document's variables have been substituted (resolution's per-tenant
    /// copy): its strings are then data, and a `${` in them is literal text that is checked
    /// like any other value, never skipped as "checked after substitution" nor re-scanned
    /// for variables.
    pub substituted: bool,
}

impl DocCtx<'_> {
    pub fn span(&self, pointer: &str, at_key: bool) -> Span {
        Span::new(self.path, self.spans.lookup(pointer, at_key))
    }

    /// Whether a string still holds a variable to be substituted per tenant (so its
    /// checks wait for resolution).
    pub fn has_variable(&self, s: &str) -> bool {
        !self.substituted && s.contains("${")
    }

    /// [`Self::has_variable`] over every string of a value.
    pub fn contains_variable(&self, v: &Value) -> bool {
        !self.substituted && contains_variable(v)
    }
}

fn load_document(
    ctx: &DocCtx<'_>,
    json: Value,
    repo: Option<&Repo>,
    dir: &Path,
    diags: &mut Vec<Diagnostic>,
) -> Option<LoadedDocument> {
    let Value::Object(map) = &json else {
        diags.push(
            Diagnostic::error(
                "not-a-mapping",
                "a document must be a mapping with `kind` and `name`",
            )
            .at(ctx.span("", false)),
        );
        return None;
    };
    let kind = match map.get("kind") {
        None => {
            diags.push(
                Diagnostic::error("missing-field", "missing required field `kind`")
                    .at(ctx.span("", false))
                    .with_help(format!("one of: {}", DOCUMENT_KINDS.join(", "))),
            );
            return None;
        }
        Some(Value::String(k)) if DOCUMENT_KINDS.contains(&k.as_str()) => k.clone(),
        Some(other) => {
            let shown = match other {
                Value::String(s) => s.clone(),
                v => v.to_string(),
            };
            let help = match diag::did_you_mean(&shown, DOCUMENT_KINDS) {
                Some(k) => format!("did you mean `{k}`?"),
                None => format!("one of: {}", DOCUMENT_KINDS.join(", ")),
            };
            diags.push(
                Diagnostic::error("unknown-kind", format!("unknown kind `{shown}`"))
                    .at(ctx.span("/kind", false))
                    .with_help(help),
            );
            return None;
        }
    };
    let name = map.get("name").and_then(Value::as_str).map(str::to_string);
    let schema_diags = schema_errors::check(&kind, &json, ctx);
    let mut valid = !schema_diags.iter().any(Diagnostic::is_error);
    // The semantic checks' diagnostics, merged with the schema's at the end: one fault is
    // said once, so a schema error at the very place a semantic check explains better
    // (`protocol: tcp`: not an integer, but a name with a known number) is left out.
    let mut semantic: Vec<Diagnostic> = Vec::new();
    let name = match name {
        Some(n) => n,
        None => {
            diags.extend(schema_diags);
            return None;
        }
    };
    let outer = &mut *diags;
    let diags = &mut semantic;
    let mut query_file_text = None;
    if kind == "DetectionRule"
        && let Some(Value::String(file)) = map.get("queryFile")
        && !file.contains("${")
    {
        query_file_text = read_query_file(ctx, repo, dir, file, diags);
        // A rule whose query could not be read (missing, outside the repository, not
        // text) is never resolved: it would be planned with no query.
        valid &= query_file_text.is_some();
    }
    let mut file = None;
    if valid {
        match config::from_json(&kind, &json) {
            Ok(f) => file = Some(f),
            // A whole-string variable in a list or number position converts only after
            // substitution; resolution checks it per tenant.
            Err(_) if contains_variable(&json) => {}
            Err(e) => diags.push(
                Diagnostic::error("invalid-document", format!("cannot read the document: {e}"))
                    .at(ctx.span("", false)),
            ),
        }
    }
    if let Some(f) = &file {
        // Static checks; resolution runs them again on each tenant's substituted copy.
        diags.extend(checks::document(f, &json, ctx, query_file_text.as_deref()));
    } else if !valid {
        // A shape error must not hide the document's other errors: check the rest of a
        // repaired copy, leaving out what is said at the repaired places. The document
        // stays invalid, so it is never resolved; when only unknown fields were removed,
        // its typed form still serves the cross-document checks.
        let (repaired, touched, only_unknown) = schema_errors::repaired(&kind, &json);
        if let Ok(f) = config::from_json(&kind, &repaired) {
            let at: Vec<std::ops::Range<usize>> =
                touched.iter().map(|p| ctx.spans.lookup(p, false)).collect();
            diags.extend(
                checks::document(&f, &repaired, ctx, query_file_text.as_deref())
                    .into_iter()
                    .filter(|d| {
                        d.span.as_ref().is_none_or(|s| {
                            !at.iter()
                                .any(|r| r.start <= s.start && s.end <= r.end.max(r.start + 1))
                        })
                    }),
            );
            if only_unknown && schema_errors::check(&kind, &repaired, ctx).is_empty() {
                file = Some(f);
            }
        }
    }
    outer.extend(schema_diags.into_iter().filter(|d| {
        !d.is_error()
            || !semantic
                .iter()
                .any(|x| x.is_error() && x.span.is_some() && x.span == d.span)
    }));
    outer.extend(semantic);
    Some(LoadedDocument {
        path: ctx.path.to_string(),
        index: 0,
        line: 0,
        kind,
        name,
        json,
        spans: SpanIndex::default(),
        file,
        valid,
        query_file_text,
    })
}

fn read_query_file(
    ctx: &DocCtx<'_>,
    repo: Option<&Repo>,
    dir: &Path,
    file: &str,
    diags: &mut Vec<Diagnostic>,
) -> Option<String> {
    let rel = Path::new(file);
    let escapes = rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir));
    if escapes {
        diags.push(
            Diagnostic::error(
                "invalid-query-file",
                format!("`{file}` must be a relative path below the rule's directory"),
            )
            .at(ctx.span("/queryFile", false)),
        );
        return None;
    }
    // Without a repository, the rule's directory is the boundary symlinks may not leave.
    let own;
    let repo = match repo {
        Some(r) => r,
        None => match Repo::open(dir) {
            Ok(r) => {
                own = r;
                &own
            }
            Err(_) => {
                own = Repo::open(Path::new(".")).ok()?;
                &own
            }
        },
    };
    match repo.read(&dir.join(rel)) {
        Ok(d) => Some(d.text),
        Err(e) => {
            let (code, help) = match &e {
                FileError::Outside { .. } => (
                    "outside-repository",
                    "rampart reads only files inside the repository; copy the query in, or remove the link",
                ),
                FileError::Decode { .. } => (
                    "invalid-encoding",
                    "save the query as UTF-8 (or UTF-16 with a byte-order mark)",
                ),
                _ => (
                    "missing-query-file",
                    "the path is relative to the directory of this YAML file",
                ),
            };
            diags.push(
                Diagnostic::error(
                    code,
                    match &e {
                        FileError::Read { source, .. } => {
                            format!("cannot read query file `{file}`: {source}")
                        }
                        _ => format!("query file `{file}`: {}", e.message()),
                    },
                )
                .at(ctx.span("/queryFile", false))
                .with_help(help),
            );
            None
        }
    }
}

/// Names of all policies (non-profile documents), for "did you mean".
pub(crate) fn policy_names(loaded: &Loaded) -> BTreeSet<&str> {
    loaded.policies().map(|d| d.name.as_str()).collect()
}

/// The policies (non-profile documents) a selector matches, in load order.
pub fn select<'a>(
    loaded: &'a Loaded,
    s: &'a crate::config::SelectorFile,
) -> impl Iterator<Item = &'a LoadedDocument> + 'a {
    loaded.policies().filter(move |d| {
        s.kind.as_deref().is_none_or(|k| d.kind == k)
            && s.label
                .as_deref()
                .is_none_or(|l| d.labels().iter().any(|x| x == l))
            && (s.kind.is_some() || s.label.is_some())
    })
}
