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
    let path = inside_repository(root, file)?;
    let text = std::fs::read_to_string(&path).map_err(|e| HuntError::Unreadable {
        path: shown.clone(),
        reason: e.to_string(),
    })?;
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

/// Reads every saved hunt under `root/hunts/`. Each problem is reported as
/// `path:line:col: message`, all of them at once.
pub fn load_saved(root: &Path) -> Result<Vec<SavedHunt>, HuntError> {
    let dir = root.join(HUNTS_DIR);
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(out);
    };
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml")))
        .collect();
    files.sort();
    for f in files {
        let rel = f.strip_prefix(root).unwrap_or(&f).display().to_string();
        let text = match std::fs::read_to_string(&f) {
            Ok(t) => t,
            Err(e) => {
                problems.push(format!("{rel}: cannot read: {e}"));
                continue;
            }
        };
        let dir = f.parent().unwrap_or(root).to_path_buf();
        match parse_saved(&rel, &text, root, &dir) {
            Ok(h) => out.extend(h),
            Err(mut p) => problems.append(&mut p),
        }
    }
    let mut names = BTreeMap::new();
    for h in &out {
        if let Some(first) = names.insert(h.name.clone(), h.path.clone()) {
            problems.push(format!(
                "{}: a saved hunt named `{}` is also defined in {first}",
                h.path, h.name
            ));
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(HuntError::Saved(problems.join("\n")))
    }
}

/// Parses the `kind: HuntingQuery` documents of one file (other kinds are skipped).
/// `queryFile` is looked up from `dir` (the YAML file's directory, as detection rules do)
/// and must stay inside `root`.
pub fn parse_saved(
    rel: &str,
    text: &str,
    root: &Path,
    dir: &Path,
) -> Result<Vec<SavedHunt>, Vec<String>> {
    let parsed = crate::yaml::parse(text, &crate::yaml::Limits::default());
    let at = |range: std::ops::Range<usize>| {
        let (l, c) = crate::diag::line_col(text, range.start);
        format!("{rel}:{l}:{c}")
    };
    let mut problems: Vec<String> = parsed
        .errors
        .iter()
        .map(|e| format!("{}: {}", at(e.span.clone()), e.message))
        .collect();
    let mut out = Vec::new();
    for doc in &parsed.documents {
        let (v, idx) = crate::yaml::to_json(&doc.root);
        if v.get("kind").and_then(Value::as_str) != Some("HuntingQuery") {
            continue;
        }
        let Some(map) = v.as_object() else { continue };
        for k in map.keys() {
            if ![
                "kind",
                "name",
                "description",
                "query",
                "queryFile",
                "columns",
            ]
            .contains(&k.as_str())
            {
                problems.push(format!(
                    "{}: unknown key `{k}` (keys: name, description, query, queryFile, columns)",
                    at(idx.lookup(&format!("/{k}"), true))
                ));
            }
        }
        let s = |k: &str| map.get(k).and_then(Value::as_str).map(str::to_string);
        let name = s("name").unwrap_or_default();
        if name.trim().is_empty() {
            problems.push(format!(
                "{}: a hunting query needs a `name`",
                at(idx.lookup("", false))
            ));
        }
        let query = match (s("query"), s("queryFile")) {
            (Some(_), Some(_)) => {
                problems.push(format!(
                    "{}: give `query` or `queryFile`, not both",
                    at(idx.lookup("/queryFile", true))
                ));
                None
            }
            (Some(q), None) => Some((q, "/query")),
            (None, Some(f)) => match read_query_file(root, &dir.join(&f)) {
                Ok(q) => Some((q, "/queryFile")),
                Err(e) => {
                    problems.push(format!("{}: {e}", at(idx.lookup("/queryFile", false))));
                    None
                }
            },
            (None, None) => {
                problems.push(format!(
                    "{}: a hunting query needs `query` or `queryFile`",
                    at(idx.lookup("", false))
                ));
                None
            }
        };
        if let Some((q, ptr)) = &query
            && is_empty_kql(q)
        {
            problems.push(format!(
                "{}: the query is empty",
                at(idx.lookup(ptr, false))
            ));
        }
        let columns = match map.get("columns") {
            None => Vec::new(),
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => a
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect(),
            Some(_) => {
                problems.push(format!(
                    "{}: `columns` is a list of column names",
                    at(idx.lookup("/columns", false))
                ));
                Vec::new()
            }
        };
        if let Some((q, _)) = query {
            out.push(SavedHunt {
                name,
                description: s("description").unwrap_or_default(),
                query: q,
                columns,
                path: rel.to_string(),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
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
        assert!(
            e.iter()
                .any(|m| m.starts_with("hunts/b.yaml:3:") && m.contains("empty")),
            "{e:?}"
        );
        assert!(
            e.iter()
                .any(|m| m.starts_with("hunts/b.yaml:4:1") && m.contains("unknown key")),
            "{e:?}"
        );
    }
}
