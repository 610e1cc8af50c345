//! Loading a policy repository: find the YAML files, read them (span-aware), check every
//! document against its kind's JSON Schema, convert it to its file type and run the
//! per-document semantic checks; then the cross-document checks and a full resolution for
//! every tenant ([`validate`]). Every problem of every file is collected in one pass; the
//! only I/O is reading files under the given paths (never writing, never the network).
//!
//! Limits: `queryFile` must name a file next to (or below) the YAML file that names it.

mod checks;
mod roles;
mod schema_errors;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::config::{self, DOCUMENT_KINDS, DocumentFile};
use crate::desired::TenantDesired;
use crate::diag::{self, Diagnostic, SourceMap, Span};
use crate::yaml::{self, Limits, SpanIndex};

pub use checks::{FREQUENCIES, TACTICS, is_guid};
pub(crate) use checks::{document as check_document, policy_settings};
pub use roles::{DIRECTORY_ROLES, INTUNE_ROLES, directory_role_template_id};
pub(crate) use schema_errors::check as check_schema;

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

/// The outcome of `validate`: what was loaded, the desired state of every tenant, and
/// every diagnostic (loading, cross-document and resolution), sorted.
#[derive(Clone, Debug, Default)]
pub struct Validated {
    pub loaded: Loaded,
    pub tenants: BTreeMap<String, TenantDesired>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Validated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// The directories read when no path is given.
pub const DEFAULT_DIRS: [&str; 2] = ["policies", "profiles"];

/// Reads every `*.yaml`/`*.yml` file under `paths` (files or directories; relative paths
/// are taken relative to `root`), or under `root/policies` and `root/profiles` when
/// `paths` is empty, and runs the per-document checks.
pub fn load_repository(root: &Path, paths: &[PathBuf]) -> Loaded {
    let limits = Limits::default();
    let mut loaded = Loaded::default();
    let files = discover(root, paths, &mut loaded.diagnostics);
    for (display, real) in files {
        load_file(&display, &real, &limits, &mut loaded);
    }
    diag::sort_dedup(&mut loaded.diagnostics);
    loaded
}

/// Loads, checks across documents, and resolves every tenant: the whole of
/// `rampart validate`.
pub fn validate(root: &Path, paths: &[PathBuf]) -> Validated {
    // The repository's catalog snapshot (`rampart catalog refresh`), if any, is merged
    // over the shipped catalog before any document is read.
    let snapshot = crate::catalog::snapshot::install_repository_snapshot(root);
    let mut loaded = load_repository(root, paths);
    if let Err(e) = snapshot {
        loaded.diagnostics.push(crate::diag::Diagnostic::error(
            "invalid-catalog-snapshot",
            e.to_string(),
        ));
    }
    validate_loaded(loaded)
}

/// The cross-document checks and resolution on an already loaded repository.
pub fn validate_loaded(loaded: Loaded) -> Validated {
    let mut diagnostics = loaded.diagnostics.clone();
    checks::cross_document(&loaded, &mut diagnostics);
    let resolution = crate::resolve::resolve(&loaded);
    diagnostics.extend(resolution.diagnostics);
    diagnostics.extend(crate::onboard::import::imported_policy_leaks(
        &loaded,
        &resolution.tenants,
    ));
    diag::sort_dedup(&mut diagnostics);
    Validated {
        loaded,
        tenants: resolution.tenants,
        diagnostics,
    }
}

fn display_path(root: &Path, path: &Path) -> String {
    let shown = path.strip_prefix(root).unwrap_or(path);
    let s = shown.to_string_lossy().replace('\\', "/");
    s.strip_prefix("./").map(str::to_string).unwrap_or(s)
}

fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml")
    )
}

/// Files to read, as (displayed path, real path), sorted and unique.
fn discover(root: &Path, paths: &[PathBuf], diags: &mut Vec<Diagnostic>) -> Vec<(String, PathBuf)> {
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
    for input in inputs {
        let real = if input.is_absolute() {
            input.clone()
        } else {
            root.join(input)
        };
        if real.is_dir() {
            walk(&real, root, &mut found, diags);
        } else if real.is_file() {
            found.insert(display_path(root, &real), real);
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
    dir: &Path,
    root: &Path,
    found: &mut BTreeMap<String, PathBuf>,
    diags: &mut Vec<Diagnostic>,
) {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(Diagnostic::error(
                "io-error",
                format!("cannot read directory `{}`: {e}", display_path(root, dir)),
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
            walk(&p, root, found, diags);
        } else if is_yaml(&p) {
            found.insert(display_path(root, &p), p);
        }
    }
}

fn load_file(display: &str, real: &Path, limits: &Limits, loaded: &mut Loaded) {
    match read_file(display, real, limits) {
        Ok(text) => {
            let dir = real.parent().map(Path::to_path_buf).unwrap_or_default();
            load_text(display, &text, &dir, limits, loaded);
            loaded.sources.insert(display, text);
        }
        Err((diagnostic, text)) => {
            loaded.incomplete = true;
            loaded.sources.insert(display, text);
            loaded.diagnostics.push(*diagnostic);
        }
    }
}

/// The text of a file, or the diagnostic why not (with what text there is to show).
fn read_file(
    display: &str,
    real: &Path,
    limits: &Limits,
) -> Result<String, (Box<Diagnostic>, String)> {
    let io_error = |e: std::io::Error| {
        (
            Box::new(
                Diagnostic::error("io-error", format!("cannot read `{display}`: {e}"))
                    .at(Span::new(display, 0..0)),
            ),
            String::new(),
        )
    };
    // Check the size before reading so a huge file costs no memory.
    let size = std::fs::metadata(real).map_err(io_error)?.len();
    if size > limits.max_file_bytes as u64 {
        return Err((
            Box::new(
                Diagnostic::error(
                    "file-too-large",
                    format!(
                        "file is {size} bytes, more than the limit of {} bytes",
                        limits.max_file_bytes
                    ),
                )
                .at(Span::new(display, 0..0))
                .with_help("policy files are small; split this one"),
            ),
            String::new(),
        ));
    }
    let bytes = std::fs::read(real).map_err(io_error)?;
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        (
            Box::new(
                Diagnostic::error("invalid-encoding", "file is not valid UTF-8")
                    .at(Span::new(display, at..at + 1)),
            ),
            text,
        )
    })
}

/// Loads the documents of one file's text (`dir` is where `queryFile`s are looked up).
/// Public for tests and tools that have the text in memory.
pub fn load_text(display: &str, text: &str, dir: &Path, limits: &Limits, loaded: &mut Loaded) {
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
        };
        let loaded_doc = load_document(&ctx, json.clone(), dir, &mut loaded.diagnostics);
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
}

impl DocCtx<'_> {
    pub fn span(&self, pointer: &str, at_key: bool) -> Span {
        Span::new(self.path, self.spans.lookup(pointer, at_key))
    }
}

fn load_document(
    ctx: &DocCtx<'_>,
    json: Value,
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
    let valid = !schema_diags.iter().any(Diagnostic::is_error);
    diags.extend(schema_diags);
    let name = name?;
    let mut query_file_text = None;
    if kind == "DetectionRule"
        && let Some(Value::String(file)) = map.get("queryFile")
        && !file.contains("${")
    {
        query_file_text = read_query_file(ctx, dir, file, diags);
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
        // Unknown fields only? Check the rest too (the document stays invalid, so it is
        // never resolved; profiles still get their cross-document checks).
        let pruned = schema_errors::without_unknown_fields(&kind, &json);
        if schema_errors::check(&kind, &pruned, ctx).is_empty()
            && let Ok(f) = config::from_json(&kind, &pruned)
        {
            diags.extend(checks::document(
                &f,
                &pruned,
                ctx,
                query_file_text.as_deref(),
            ));
            file = Some(f);
        }
    }
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
    match std::fs::read_to_string(dir.join(rel)) {
        Ok(t) => Some(t),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "missing-query-file",
                    format!("cannot read query file `{file}`: {e}"),
                )
                .at(ctx.span("/queryFile", false))
                .with_help("the path is relative to the directory of this YAML file"),
            );
            None
        }
    }
}

/// Whether any string in `v` holds a `${...}` reference.
pub fn contains_variable(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Array(items) => items.iter().any(contains_variable),
        Value::Object(m) => m.values().any(contains_variable),
        _ => false,
    }
}

/// Names of all policies (non-profile documents), for "did you mean".
pub(crate) fn policy_names(loaded: &Loaded) -> BTreeSet<&str> {
    loaded.policies().map(|d| d.name.as_str()).collect()
}
