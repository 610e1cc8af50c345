//! `rampart hunt`: one KQL query run in every selected tenant through
//! `POST /v1.0/security/runHuntingQuery`, merged into one [`Grid`] with the tenant columns
//! first; and saved hunts (`kind: HuntingQuery` documents under `hunts/`).
//!
//! Follows `graph-api-2.md` §1: the body is `{"Query", "Timespan"}` (the documented
//! spelling), the answer `schema[]` is read with either key spelling (`name`/`type` or
//! `Name`/`Type`), `results[]` rows are open objects keyed by column name. Columns are
//! merged across tenants by name in first-seen order (tenants in name order), so output
//! is deterministic; a tenant missing a column gets null there. A tenant whose answer
//! holds exactly 100,000 rows is noted as possibly cut at the service's cap.
//!
//! Input checks happen before any network call: an empty query (comments and blanks
//! only), a query file outside the repository or not ending in `.kql`, an unknown saved
//! hunt, a `columns` entry the answer lacks (reported after the run, as a note).

use std::collections::BTreeMap;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::fleet::{Connected, SocPermission, failure, per_tenant};
use super::grid::{Column, Grid};

/// The service's row cap per query.
pub const ROW_CAP: usize = 100_000;

/// A query ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunt {
    /// The KQL text.
    pub query: String,
    /// `Timespan` (ISO-8601 duration or interval), passed through unchanged.
    pub timespan: Option<String>,
    /// Columns to keep (empty: all), from a saved hunt.
    pub columns: Vec<String>,
}

/// Bad hunting input, found before any call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HuntError {
    /// The query holds only comments and blanks.
    #[error("{0}: the query is empty")]
    Empty(String),
    /// A query file outside the repository root.
    #[error("{path}: the query file is outside the repository ({root})")]
    OutsideRepository {
        /// The file as given.
        path: String,
        /// The repository root.
        root: String,
    },
    /// A file that cannot be read.
    #[error("{path}: cannot read the query file: {reason}")]
    Unreadable {
        /// The file as given.
        path: String,
        /// Why.
        reason: String,
    },
    /// Not a `.kql` file.
    #[error("{0}: a query file must end in .kql")]
    NotKql(String),
    /// A saved hunt that does not exist or does not validate.
    #[error("{0}")]
    Saved(String),
}

/// KQL without `//` comments and blank space is empty.
pub fn is_empty_kql(q: &str) -> bool {
    q.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .all(|l| l.trim().is_empty())
}

/// Resolves `file` against `root` and refuses anything outside it (after following
/// symbolic links and `..`).
pub fn inside_repository(root: &Path, file: &Path) -> Result<PathBuf, HuntError> {
    let shown = file.display().to_string();
    let root_c = root.canonicalize().map_err(|e| HuntError::Unreadable {
        path: root.display().to_string(),
        reason: e.to_string(),
    })?;
    let joined = if file.is_absolute() {
        file.to_path_buf()
    } else {
        root.join(file)
    };
    let c = joined.canonicalize().map_err(|e| HuntError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
    if !c.starts_with(&root_c) {
        return Err(HuntError::OutsideRepository {
            path: shown,
            root: root_c.display().to_string(),
        });
    }
    Ok(c)
}

/// Reads a `.kql` query file inside the repository.
pub fn read_query_file(root: &Path, file: &Path) -> Result<String, HuntError> {
    let shown = file.display().to_string();
    if file.extension().and_then(|e| e.to_str()) != Some("kql") {
        return Err(HuntError::NotKql(shown));
    }
    // Checked first for its own error; the read below goes through the one door for user
    // files (decoding BOM/UTF-16, containment again at the open).
    let path = inside_repository(root, file)?;
    let repo = crate::repo_files::Repo::open(root).map_err(|e| HuntError::Unreadable {
        path: root.display().to_string(),
        reason: e.message(),
    })?;
    let text = match repo.read(&path) {
        Ok(d) => d.text,
        Err(crate::repo_files::FileError::Outside { root, .. }) => {
            return Err(HuntError::OutsideRepository {
                path: shown,
                root: root.display().to_string(),
            });
        }
        Err(e) => {
            return Err(HuntError::Unreadable {
                path: shown,
                reason: e.message(),
            });
        }
    };
    if is_empty_kql(&text) {
        return Err(HuntError::Empty(shown));
    }
    Ok(text)
}

/// A saved hunt: a `kind: HuntingQuery` document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedHunt {
    /// `name`.
    pub name: String,
    /// `description`.
    pub description: String,
    /// `query` (or the text of `queryFile`).
    pub query: String,
    /// `columns` to keep.
    pub columns: Vec<String>,
    /// The file it came from, relative to the root.
    pub path: String,
}

/// Directory of saved hunts under the repository root.
pub const HUNTS_DIR: &str = "hunts";

/// The fields of a `kind: HuntingQuery` document.
pub const HUNT_FIELDS: [&str; 6] = [
    "kind",
    "name",
    "description",
    "query",
    "queryFile",
    "columns",
];

/// Every saved hunt under `hunts/` and every problem found reading them, in one pass:
/// what `rampart validate` merges into its output and `rampart hunt --saved` refuses on.
#[derive(Debug, Clone, Default)]
pub struct CheckedHunts {
    /// The hunts that validated (in file order, then document order).
    pub hunts: Vec<SavedHunt>,
    /// Every problem, sorted; errors and warnings.
    pub diagnostics: Vec<crate::diag::Diagnostic>,
    /// The decoded text of every file read (by its path relative to the root), for
    /// rendering the diagnostics.
    pub texts: BTreeMap<String, String>,
    /// How many `*.yaml`/`*.yml` files were read.
    pub files: usize,
}

impl CheckedHunts {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(crate::diag::Diagnostic::is_error)
    }

    /// Adds the text of every file read to `sources` (the map a renderer takes).
    pub fn add_sources(&self, sources: &mut crate::diag::SourceMap) {
        for (path, text) in &self.texts {
            sources.insert(path.clone(), text.as_str());
        }
    }
}

/// Reads and checks every `*.yaml`/`*.yml` file under `root/hunts/` (recursively, hidden
/// entries skipped) through the repository's one door for user files
/// ([`crate::repo_files::Repo`]): UTF-8 with or without BOM and UTF-16 are decoded, and a
/// file, folder or `queryFile` resolving outside the root is an `outside-repository` error
/// at its path. Every document must be `kind: HuntingQuery`; names are unique across files.
/// No `hunts/` folder is no hunts and no problem.
pub fn check_saved(root: &Path) -> CheckedHunts {
    use crate::diag::{Diagnostic, Span};
    let mut out = CheckedHunts::default();
    let dir = root.join(HUNTS_DIR);
    if std::fs::symlink_metadata(&dir).is_err() {
        return out;
    }
    let repo = match crate::repo_files::Repo::open(root) {
        Ok(r) => r,
        Err(e) => {
            out.diagnostics
                .push(Diagnostic::error(e.code(), e.message()).at(Span::new(HUNTS_DIR, 0..0)));
            return out;
        }
    };
    let mut files = Vec::new();
    let mut visited = std::collections::BTreeSet::new();
    walk_hunts(&repo, &dir, &mut files, &mut visited, &mut out.diagnostics);
    let mut named: Vec<(SavedHunt, Span)> = Vec::new();
    for f in files {
        let rel = repo.display(&f);
        out.files += 1;
        match repo.read(&f) {
            Ok(decoded) => {
                let parent = f.parent().unwrap_or(root).to_path_buf();
                parse_saved_in(
                    &repo,
                    &rel,
                    &decoded.text,
                    &parent,
                    &mut named,
                    &mut out.diagnostics,
                );
                out.texts.insert(rel, decoded.text);
            }
            Err(e) => {
                // Bad UTF-8 is shown (lossily) and pointed at, as the policy loader does;
                // other failures are at the path.
                let mut text = String::new();
                let mut at = 0;
                if let crate::repo_files::FileError::Decode { source, .. } = &e
                    && source.encoding == crate::repo_files::Encoding::Utf8
                    && let Ok(bytes) = std::fs::read(&f)
                {
                    text = String::from_utf8_lossy(&bytes).into_owned();
                    at = source.offset;
                }
                let end = if text.is_empty() { at } else { at + 1 };
                out.diagnostics.push(
                    Diagnostic::error(e.code(), e.message())
                        .at(Span::new(rel.clone(), at..end))
                        .with_help(file_help(&e)),
                );
                out.texts.insert(rel, text);
            }
        }
    }
    let mut first: BTreeMap<String, Span> = BTreeMap::new();
    for (h, span) in named {
        if let Some(earlier) = first.get(&h.name) {
            out.diagnostics.push(
                Diagnostic::error(
                    "duplicate-hunt-name",
                    format!("a saved hunt named `{}` is defined twice", h.name),
                )
                .at(span)
                .with_label(earlier.clone(), "first defined here")
                .with_help("`rampart hunt --saved NAME` needs one hunt per name"),
            );
        } else {
            first.insert(h.name.clone(), span);
            out.hunts.push(h);
        }
    }
    crate::diag::sort_dedup(&mut out.diagnostics);
    out
}

fn file_help(e: &crate::repo_files::FileError) -> &'static str {
    use crate::repo_files::FileError;
    match e {
        FileError::Outside { .. } => {
            "rampart reads only files inside the repository; copy the file in, or remove the link"
        }
        FileError::Decode { .. } => "save the file as UTF-8 (or UTF-16 with a byte-order mark)",
        FileError::TooLarge { .. } => "saved hunts are small; split this file",
        _ => "check the file's permissions",
    }
}

/// Collects the YAML files under `dir` (sorted); a folder leading out of the repository is
/// an error at its path and is not entered; a folder linked twice (or a link cycle inside
/// the repository) is read once.
fn walk_hunts(
    repo: &crate::repo_files::Repo,
    dir: &Path,
    files: &mut Vec<PathBuf>,
    visited: &mut std::collections::BTreeSet<PathBuf>,
    diags: &mut Vec<crate::diag::Diagnostic>,
) {
    use crate::diag::{Diagnostic, Span};
    let shown = repo.display(dir);
    match repo.contain(dir) {
        Ok(real) => {
            if !visited.insert(real) {
                return;
            }
        }
        Err(e) => {
            diags.push(
                Diagnostic::error(e.code(), e.message())
                    .at(Span::new(shown, 0..0))
                    .with_help(file_help(&e)),
            );
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => {
            diags.push(
                Diagnostic::error("io-error", format!("cannot read the folder: {e}"))
                    .at(Span::new(shown, 0..0)),
            );
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
            walk_hunts(repo, &p, files, visited, diags);
        } else if matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")) {
            files.push(p);
        }
    }
}

/// Reads every saved hunt under `root/hunts/` ([`check_saved`]). Any error refuses them
/// all: [`HuntError::Saved`] holds every diagnostic, one `path:line:col: error[code]:
/// message` line each (as `rampart validate --format concise` prints them).
pub fn load_saved(root: &Path) -> Result<Vec<SavedHunt>, HuntError> {
    let checked = check_saved(root);
    if checked.has_errors() {
        let mut sources = crate::diag::SourceMap::new();
        checked.add_sources(&mut sources);
        let text = crate::diag::render(
            &checked.diagnostics,
            &sources,
            crate::diag::Format::Concise,
            false,
        );
        return Err(HuntError::Saved(format!(
            "the saved hunts do not validate:\n{}",
            text.trim_end()
        )));
    }
    Ok(checked.hunts)
}

/// Parses the documents of one file's text (`rel` names it in diagnostics). `queryFile`
/// is looked up from `dir` (the YAML file's directory, as detection rules do) and must
/// stay inside `root`. Returns the hunts, or every diagnostic (errors and warnings).
pub fn parse_saved(
    rel: &str,
    text: &str,
    root: &Path,
    dir: &Path,
) -> Result<Vec<SavedHunt>, Vec<crate::diag::Diagnostic>> {
    let repo = crate::repo_files::Repo::open(root).map_err(|e| {
        vec![
            crate::diag::Diagnostic::error(e.code(), e.message())
                .at(crate::diag::Span::new(rel, 0..0)),
        ]
    })?;
    let mut named = Vec::new();
    let mut diags = Vec::new();
    parse_saved_in(&repo, rel, text, dir, &mut named, &mut diags);
    if diags.iter().any(crate::diag::Diagnostic::is_error) {
        crate::diag::sort_dedup(&mut diags);
        Err(diags)
    } else {
        Ok(named.into_iter().map(|(h, _)| h).collect())
    }
}

/// [`parse_saved`] into the caller's lists: each hunt with the span of its `name`.
fn parse_saved_in(
    repo: &crate::repo_files::Repo,
    rel: &str,
    text: &str,
    dir: &Path,
    named: &mut Vec<(SavedHunt, crate::diag::Span)>,
    diags: &mut Vec<crate::diag::Diagnostic>,
) {
    use crate::diag::{Diagnostic, Span};
    let parsed = crate::yaml::parse(text, &crate::yaml::Limits::default());
    for e in parsed.errors {
        let mut d = Diagnostic::error(e.code, e.message)
            .at(Span::new(rel, e.span))
            .with_help_opt(e.help);
        if let Some((span, msg)) = e.label {
            d = d.with_label(Span::new(rel, span), msg);
        }
        diags.push(d);
    }
    for doc in &parsed.documents {
        let (v, idx) = crate::yaml::to_json(&doc.root);
        let at = |ptr: &str, key: bool| Span::new(rel, idx.lookup(ptr, key));
        let Some(map) = v.as_object() else {
            diags.push(
                Diagnostic::error(
                    "not-a-mapping",
                    "a saved hunt must be a mapping with `kind: HuntingQuery`, `name` and `query`",
                )
                .at(at("", false)),
            );
            continue;
        };
        match map.get("kind") {
            Some(Value::String(k)) if k == "HuntingQuery" => {}
            None => {
                diags.push(
                    Diagnostic::error("missing-field", "missing required field `kind`")
                        .at(at("", false))
                        .with_help("documents under hunts/ are `kind: HuntingQuery`"),
                );
                continue;
            }
            Some(other) => {
                let shown = other.as_str().map_or(other.to_string(), str::to_string);
                diags.push(
                    Diagnostic::error(
                        "unknown-kind",
                        format!("unknown kind `{shown}` under {HUNTS_DIR}/"),
                    )
                    .at(at("/kind", false))
                    .with_help("documents under hunts/ are `kind: HuntingQuery`; policies go under policies/"),
                );
                continue;
            }
        }
        let mut ok = true;
        for k in map.keys() {
            if !HUNT_FIELDS.contains(&k.as_str()) {
                let help = match crate::diag::did_you_mean(k, HUNT_FIELDS) {
                    Some(f) => format!("did you mean `{f}`?"),
                    None => format!("fields: {}", HUNT_FIELDS[1..].join(", ")),
                };
                diags.push(
                    Diagnostic::error(
                        "unknown-field",
                        format!("unknown field `{k}` of a HuntingQuery"),
                    )
                    .at(at(&format!("/{}", crate::yaml::escape_pointer(k)), true))
                    .with_help(help),
                );
                ok = false;
            }
        }
        let mut text_field = |k: &str, ok: &mut bool| -> Option<String> {
            match map.get(k) {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    diags.push(
                        Diagnostic::error("wrong-type", format!("`{k}` must be a string"))
                            .at(at(&format!("/{k}"), false)),
                    );
                    *ok = false;
                    None
                }
            }
        };
        let name = text_field("name", &mut ok);
        let description = text_field("description", &mut ok);
        let inline = text_field("query", &mut ok);
        let file = text_field("queryFile", &mut ok);
        let name = match name {
            Some(n) if !n.trim().is_empty() => n,
            Some(_) => {
                diags.push(
                    Diagnostic::error("missing-field", "`name` is empty").at(at("/name", false)),
                );
                ok = false;
                String::new()
            }
            None => {
                if !map.contains_key("name") {
                    diags.push(
                        Diagnostic::error("missing-field", "missing required field `name`")
                            .at(at("", false))
                            .with_help("`rampart hunt --saved NAME` finds the hunt by it"),
                    );
                }
                ok = false;
                String::new()
            }
        };
        let query = match (inline, file) {
            (Some(_), Some(_)) => {
                diags.push(
                    Diagnostic::error("conflicting-query", "give `query` or `queryFile`, not both")
                        .at(at("/queryFile", true))
                        .with_label(at("/query", true), "`query` given here"),
                );
                None
            }
            (Some(q), None) => Some((q, "/query")),
            (None, Some(f)) => saved_query_file(repo, dir, &f, &at("/queryFile", false), diags)
                .map(|q| (q, "/queryFile")),
            (None, None) => {
                if !map.contains_key("query") && !map.contains_key("queryFile") {
                    diags.push(
                        Diagnostic::error(
                            "missing-query",
                            "a hunting query needs `query` or `queryFile`",
                        )
                        .at(at("", false)),
                    );
                }
                None
            }
        };
        let query = match query {
            Some((q, ptr)) if is_empty_kql(&q) => {
                diags.push(
                    Diagnostic::error(
                        "empty-query",
                        "the query holds no KQL (only comments or blanks)",
                    )
                    .at(at(ptr, false)),
                );
                None
            }
            q => q.map(|(q, _)| q),
        };
        let columns = match map.get("columns") {
            None => Vec::new(),
            Some(Value::Array(a))
                if a.iter()
                    .all(|c| c.as_str().is_some_and(|s| !s.trim().is_empty())) =>
            {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            }
            Some(_) => {
                diags.push(
                    Diagnostic::error("wrong-type", "`columns` is a list of column names")
                        .at(at("/columns", false)),
                );
                ok = false;
                Vec::new()
            }
        };
        if let (true, Some(query)) = (ok, query) {
            named.push((
                SavedHunt {
                    name,
                    description: description.unwrap_or_default(),
                    query,
                    columns,
                    path: rel.to_string(),
                },
                at("/name", false),
            ));
        }
    }
}

/// The text of a saved hunt's `queryFile`: a relative `.kql` path from the YAML file's
/// folder, read through the repository (decoded, contained). Problems go to `diags` at
/// `span` (the `queryFile` value).
fn saved_query_file(
    repo: &crate::repo_files::Repo,
    dir: &Path,
    file: &str,
    span: &crate::diag::Span,
    diags: &mut Vec<crate::diag::Diagnostic>,
) -> Option<String> {
    use crate::diag::Diagnostic;
    use crate::repo_files::FileError;
    let rel = Path::new(file);
    if rel.is_absolute() || rel.extension().and_then(|e| e.to_str()) != Some("kql") {
        diags.push(
            Diagnostic::error(
                "invalid-query-file",
                format!("`{file}` must be a relative path to a `.kql` file"),
            )
            .at(span.clone())
            .with_help("the path is relative to the directory of this YAML file"),
        );
        return None;
    }
    match repo.read(&dir.join(rel)) {
        Ok(d) => Some(d.text),
        Err(e) => {
            let code = match &e {
                FileError::Read { .. } => "missing-query-file",
                other => other.code(),
            };
            diags.push(
                Diagnostic::error(code, format!("query file `{file}`: {}", e.message()))
                    .at(span.clone())
                    .with_help(match &e {
                        FileError::Read { .. } => {
                            "the path is relative to the directory of this YAML file"
                        }
                        other => file_help(other),
                    }),
            );
            None
        }
    }
}

/// The request body (the documented key spelling).
pub fn request_body(h: &Hunt) -> Value {
    let mut b = json!({ "Query": h.query });
    if let Some(t) = &h.timespan {
        b["Timespan"] = json!(t);
    }
    b
}

/// One tenant's answer: columns and rows.
pub type Answer = (Vec<Column>, Vec<serde_json::Map<String, Value>>);

/// Reads a `huntingQueryResults` body, accepting `name`/`type` and `Name`/`Type`.
pub fn parse_answer(body: &Value) -> Result<Answer, String> {
    let field = |o: &Value, k: &str| -> Option<String> {
        o.as_object()?
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    let get = |k: &str| {
        body.as_object().and_then(|o| {
            o.iter()
                .find(|(key, _)| key.eq_ignore_ascii_case(k))
                .map(|(_, v)| v)
        })
    };
    let schema = get("schema")
        .and_then(Value::as_array)
        .ok_or("the answer has no `schema` array")?;
    let mut cols = Vec::new();
    for s in schema {
        let name = field(s, "name").ok_or("a `schema` entry has no name")?;
        cols.push(Column::new(
            name,
            field(s, "type").unwrap_or_else(|| "String".into()),
        ));
    }
    let rows = get("results")
        .and_then(Value::as_array)
        .ok_or("the answer has no `results` array")?
        .iter()
        .map(|r| {
            r.as_object()
                .cloned()
                .ok_or("a result row is not an object")
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok((cols, rows))
}

/// Runs `hunt` in every tenant and merges the answers (tenants sorted by name).
pub async fn run(tenants: Vec<Connected>, hunt: &Hunt, parallelism: NonZeroUsize) -> Grid {
    let body = request_body(hunt);
    let results = per_tenant(tenants, parallelism, move |t, c| {
        let body = body.clone();
        async move {
            let r = c
                .post("/v1.0/security/runHuntingQuery", &body)
                .await
                .map_err(|e| failure(&t, &e, SocPermission::ThreatHunting))?;
            parse_answer(&r.body).map_err(|m| super::grid::TenantFailure {
                tenant: t.name.clone(),
                tenant_id: t.id.clone(),
                missing_permission: None,
                message: format!("unusable answer: {m}"),
            })
        }
    })
    .await;
    merge(results, &hunt.columns)
}

/// Merges per-tenant answers into one grid: `Tenant`, `TenantId`, then the columns.
pub fn merge(
    mut results: Vec<(
        super::fleet::SocTenant,
        Result<Answer, super::grid::TenantFailure>,
    )>,
    keep: &[String],
) -> Grid {
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut grid = Grid {
        columns: vec![
            Column::new("Tenant", "String"),
            Column::new("TenantId", "String"),
        ],
        ..Grid::default()
    };
    let mut data_cols: Vec<Column> = Vec::new();
    for (_, r) in &results {
        if let Ok((cols, _)) = r {
            for c in cols {
                if !data_cols.iter().any(|d| d.name == c.name) {
                    data_cols.push(c.clone());
                }
            }
        }
    }
    if !keep.is_empty() {
        for k in keep {
            if !data_cols.iter().any(|d| &d.name == k) && results.iter().any(|(_, r)| r.is_ok()) {
                grid.notes
                    .push(format!("column `{k}` is not in any answer"));
            }
        }
        data_cols.retain(|d| keep.contains(&d.name));
        data_cols.sort_by_key(|d| keep.iter().position(|k| k == &d.name));
    }
    grid.columns.extend(data_cols.iter().cloned());
    for (t, r) in results {
        match r {
            Ok((_, rows)) => {
                if rows.len() >= ROW_CAP {
                    grid.notes.push(format!(
                        "{}: {} rows, the service's cap; the answer may be cut",
                        t.name,
                        rows.len()
                    ));
                }
                for row in rows {
                    let mut out = vec![json!(t.name), json!(t.id)];
                    out.extend(
                        data_cols
                            .iter()
                            .map(|c| row.get(&c.name).cloned().unwrap_or(Value::Null)),
                    );
                    grid.rows.push(out);
                }
            }
            Err(f) => grid.failures.push(f),
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soc::fleet::SocTenant;
    use crate::soc::grid::TenantFailure;

    fn t(n: &str) -> SocTenant {
        SocTenant {
            name: n.into(),
            id: format!("id-{n}"),
        }
    }

    #[test]
    fn both_schema_spellings_are_read() {
        let lower = json!({"schema": [{"name": "A", "type": "String"}], "results": [{"A": "x"}]});
        let upper = json!({"Schema": [{"Name": "A", "Type": "String"}], "Results": [{"A": "x"}]});
        assert_eq!(parse_answer(&lower).unwrap(), parse_answer(&upper).unwrap());
        assert!(parse_answer(&json!({"results": []})).is_err());
    }

    #[test]
    fn merge_puts_tenants_first_sorted_and_keeps_failures() {
        let a: Answer = (
            vec![Column::new("N", "Int64")],
            vec![json!({"N": 1}).as_object().unwrap().clone()],
        );
        let b: Answer = (
            vec![Column::new("N", "Int64"), Column::new("X", "String")],
            vec![json!({"N": 2, "X": "y"}).as_object().unwrap().clone()],
        );
        let fail = TenantFailure {
            tenant: "c".into(),
            tenant_id: "id-c".into(),
            missing_permission: None,
            message: "m".into(),
        };
        let g = merge(
            vec![(t("b"), Ok(b)), (t("c"), Err(fail)), (t("a"), Ok(a))],
            &[],
        );
        let names: Vec<&str> = g.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Tenant", "TenantId", "N", "X"]);
        assert_eq!(
            g.rows[0],
            vec![json!("a"), json!("id-a"), json!(1), Value::Null]
        );
        assert_eq!(g.rows[1][0], json!("b"));
        assert_eq!(g.failures.len(), 1);
        let kept = merge(
            vec![(t("a"), Ok((vec![Column::new("N", "Int64")], vec![])))],
            &["N".into(), "Z".into()],
        );
        assert_eq!(kept.columns.len(), 3);
        assert_eq!(kept.notes, vec!["column `Z` is not in any answer"]);
    }

    #[test]
    fn empty_queries_and_files_outside_the_repository_are_refused() {
        assert!(is_empty_kql("// only a comment\n  \n"));
        assert!(!is_empty_kql("DeviceInfo // x"));
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("q.kql"), "DeviceInfo").unwrap();
        std::fs::write(root.path().join("e.kql"), "// nothing").unwrap();
        std::fs::write(root.path().join("ok.kql"), "DeviceInfo | count").unwrap();
        assert!(matches!(
            read_query_file(root.path(), &outside.path().join("q.kql")),
            Err(HuntError::OutsideRepository { .. })
        ));
        assert!(matches!(
            read_query_file(root.path(), Path::new("../q.kql")),
            Err(HuntError::Unreadable { .. } | HuntError::OutsideRepository { .. })
        ));
        assert!(matches!(
            read_query_file(root.path(), Path::new("e.kql")),
            Err(HuntError::Empty(_))
        ));
        assert!(matches!(
            read_query_file(root.path(), Path::new("ok.txt")),
            Err(HuntError::NotKql(_))
        ));
        assert_eq!(
            read_query_file(root.path(), Path::new("ok.kql")).unwrap(),
            "DeviceInfo | count"
        );
    }

    #[test]
    fn saved_hunts_validate_with_locations() {
        let root = tempfile::tempdir().unwrap();
        let ok = "kind: HuntingQuery\nname: devices\ndescription: d\nquery: DeviceInfo | count\ncolumns: [Count]\n";
        let h = parse_saved("hunts/a.yaml", ok, root.path(), root.path()).unwrap();
        assert_eq!(h[0].columns, vec!["Count"]);
        let bad = "kind: HuntingQuery\nname: x\nquery: \"// none\"\nextra: 1\n";
        let e = parse_saved("hunts/b.yaml", bad, root.path(), root.path()).unwrap_err();
        let at = |d: &crate::diag::Diagnostic| {
            let s = d.span.as_ref().unwrap();
            (d.code, crate::diag::line_col(bad, s.start))
        };
        let found: Vec<_> = e.iter().map(at).collect();
        assert_eq!(
            found,
            [("empty-query", (3, 8)), ("unknown-field", (4, 1))],
            "{e:?}"
        );
        let other = "kind: DetectionRule\nname: r\n---\nname: n\nquery: x\n---\nkind: HuntingQuery\nquery: x\nqueryFile: q.kql\ncolumns: [1]\n";
        let e = parse_saved("hunts/c.yaml", other, root.path(), root.path()).unwrap_err();
        let mut codes: Vec<&str> = e.iter().map(|d| d.code).collect();
        codes.sort_unstable();
        assert_eq!(
            codes,
            [
                "conflicting-query",
                "missing-field",
                "missing-field",
                "unknown-kind",
                "wrong-type"
            ],
            "{e:?}"
        );
    }
}
