//! Adding a tenant to a distribution profile file without disturbing it.
//!
//! A profile file is written and reviewed by people: comments, blank lines, key order and
//! quoting carry meaning. So `tenants add` never re-serialises the file; it locates the
//! profile's `tenants:` sequence with the span-aware parser ([`crate::yaml`]) and inserts
//! the new entry as text, matching the indentation of the entries already there, right
//! after the last one. The edited text is parsed again and the new entry compared with what
//! was asked: any mismatch refuses the edit rather than writing a file that says something
//! else. Reading and writing go through [`crate::repo_files`] (inside the repository, any
//! encoding Windows tools write, atomic writes keeping CRLF line ends); validation of the whole repository is the
//! caller's job (the CLI), before writing.
//!
//! Handled layouts: a block sequence (the usual), an empty or non-empty flow sequence
//! (`tenants: []`, `tenants: [{...}]`), an empty value (`tenants:`), and a profile without
//! `tenants` (the key is appended to the profile). Multi-document files: the profile is
//! chosen by name when the file holds more than one. Limits: tabs as indentation are not
//! supported by YAML anyway; a profile written entirely in flow style (`{kind: ..., ...}`)
//! is refused with a clear error.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::yaml::{self, Document, Node, Value};

/// A tenant to add.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTenant {
    /// Entra tenant id (GUID; normalised to lower case).
    pub id: String,
    /// Short name (`^[a-z0-9][a-z0-9-]{0,62}$`), unique.
    pub name: String,
    pub display_name: Option<String>,
    /// Per-tenant variables (string values).
    pub vars: BTreeMap<String, String>,
}

/// Why a tenant could not be added. Nothing is written in any of these cases.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(
        "`{0}` is not a tenant id: expected a GUID such as 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01"
    )]
    InvalidId(String),
    #[error(
        "`{0}` is not a valid tenant name: use lower-case letters, digits and dashes (^[a-z0-9][a-z0-9-]{{0,62}}$)"
    )]
    InvalidName(String),
    #[error("`{0}` is not a valid variable name: use letters, digits and underscores")]
    InvalidVar(String),
    #[error("the file is not valid YAML: {0}")]
    Yaml(String),
    #[error("the file holds no DistributionProfile")]
    NoProfile,
    #[error("the file holds several profiles ({0}); say which one with --profile-name")]
    AmbiguousProfile(String),
    #[error("the file holds no profile named `{0}`")]
    UnknownProfile(String),
    #[error("tenant id {id} is already in this profile (as `{name}`)")]
    DuplicateId { id: String, name: String },
    #[error("a tenant named `{0}` is already in this profile")]
    DuplicateName(String),
    #[error("cannot edit this layout safely: {0}")]
    Layout(String),
}

impl NewTenant {
    /// Checks the fields and normalises the id to lower case.
    pub fn validated(mut self) -> Result<NewTenant, EditError> {
        let ok_guid = self.id.len() == 36 && uuid::Uuid::try_parse(&self.id).is_ok();
        if !ok_guid {
            return Err(EditError::InvalidId(self.id));
        }
        self.id = self.id.to_ascii_lowercase();
        if !valid_name(&self.name) {
            return Err(EditError::InvalidName(self.name));
        }
        for k in self.vars.keys() {
            let mut chars = k.chars();
            let first_ok = chars
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
            if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(EditError::InvalidVar(k.clone()));
            }
        }
        Ok(self)
    }
}

/// `^[a-z0-9][a-z0-9-]{0,62}$`.
pub fn valid_name(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn get<'a>(node: &'a Node, key: &str) -> Option<&'a crate::yaml::Entry> {
    match &node.value {
        Value::Map(entries) => entries.iter().find(|e| e.key == key),
        _ => None,
    }
}

fn str_of<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    match get(node, key).map(|e| &e.value.value) {
        Some(Value::String(s)) => Some(s),
        _ => None,
    }
}

/// Picks the profile document: by name, or the only one.
fn pick_profile<'a>(docs: &'a [Document], name: Option<&str>) -> Result<&'a Document, EditError> {
    let profiles: Vec<&Document> = docs
        .iter()
        .filter(|d| str_of(&d.root, "kind") == Some("DistributionProfile"))
        .collect();
    match name {
        Some(n) => profiles
            .into_iter()
            .find(|d| str_of(&d.root, "name") == Some(n))
            .ok_or_else(|| EditError::UnknownProfile(n.to_string())),
        None => match profiles.as_slice() {
            [] => Err(EditError::NoProfile),
            [one] => Ok(one),
            many => Err(EditError::AmbiguousProfile(
                many.iter()
                    .filter_map(|d| str_of(&d.root, "name"))
                    .collect::<Vec<_>>()
                    .join(", "),
            )),
        },
    }
}

/// Byte offset of the start of the line holding `at`.
fn line_start(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1)
}

/// Byte offset just after the line holding `at` (after its `\n`, or the end of text).
fn line_end(text: &str, at: usize) -> usize {
    let at = at.min(text.len());
    text[at..].find('\n').map_or(text.len(), |i| at + i + 1)
}

/// Where the last piece of content of `node` ends (spans of block collections may run
/// into following whitespace or comments; scalars and flow brackets do not).
fn content_end(text: &str, node: &Node) -> usize {
    let flow = matches!(text.as_bytes().get(node.span.start), Some(b'{' | b'['));
    if flow {
        return flow_end(text, node.span.start).unwrap_or(node.span.end);
    }
    match &node.value {
        Value::Map(entries) => entries.last().map_or(node.span.end, |e| {
            let v = content_end(text, &e.value);
            v.max(e.key_span.end)
        }),
        Value::Seq(items) => items.last().map_or(node.span.end, |n| content_end(text, n)),
        _ => node.span.end,
    }
}

/// The offset just after the bracket closing the flow collection opened at `start`
/// (parser spans of flow collections may run on to the next token, past comments).
fn flow_end(text: &str, start: usize) -> Option<usize> {
    let b = text.as_bytes();
    let mut depth = 0usize;
    let mut i = start;
    while i < b.len() {
        match b[i] {
            b'[' | b'{' => depth += 1,
            b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    if b[i] == b'\\' {
                        i += 1;
                    }
                    i += 1;
                }
            }
            b'\'' => {
                i += 1;
                while i < b.len() {
                    if b[i] == b'\'' {
                        if b.get(i + 1) == Some(&b'\'') {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'#' if i == 0 || b[i - 1].is_ascii_whitespace() => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// A YAML scalar for a tenant name or id: plain when that cannot be read as anything but
/// a string, double-quoted otherwise.
fn scalar(s: &str) -> String {
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && !matches!(s, "null" | "true" | "false" | "nan" | "inf")
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
    if plain { s.to_string() } else { quoted(s) }
}

/// A double-quoted YAML scalar (JSON's escapes are valid YAML double-quoted escapes).
fn quoted(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("\"{}\"", s.replace('"', "\\\"")))
}

fn block_item(t: &NewTenant, dash_col: usize, field_col: usize) -> String {
    let pad = " ".repeat(dash_col);
    let gap = " ".repeat(field_col.saturating_sub(dash_col + 1).max(1));
    let fpad = " ".repeat(field_col);
    // A GUID (hex digits and four dashes) always reads as a string: plain, like the
    // examples in the docs.
    let mut out = format!("{pad}-{gap}id: {}\n", t.id);
    out.push_str(&format!("{fpad}name: {}\n", scalar(&t.name)));
    if let Some(d) = &t.display_name {
        out.push_str(&format!("{fpad}displayName: {}\n", quoted(d)));
    }
    if !t.vars.is_empty() {
        out.push_str(&format!("{fpad}vars:\n"));
        for (k, v) in &t.vars {
            out.push_str(&format!("{fpad}  {k}: {}\n", quoted(v)));
        }
    }
    out
}

fn flow_item(t: &NewTenant) -> String {
    let mut parts = vec![
        format!("id: {}", t.id),
        format!("name: {}", scalar(&t.name)),
    ];
    if let Some(d) = &t.display_name {
        parts.push(format!("displayName: {}", quoted(d)));
    }
    if !t.vars.is_empty() {
        let vars: Vec<String> = t
            .vars
            .iter()
            .map(|(k, v)| format!("{k}: {}", quoted(v)))
            .collect();
        parts.push(format!("vars: {{ {} }}", vars.join(", ")));
    }
    format!("{{ {} }}", parts.join(", "))
}

fn splice(text: &str, range: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..range.start]);
    out.push_str(with);
    out.push_str(&text[range.end..]);
    out
}

/// Ensures `text` ends with a newline before appending at its end.
fn at_end(text: &str, pos: usize) -> (usize, &'static str) {
    if pos == text.len() && !text.is_empty() && !text.ends_with('\n') {
        (pos, "\n")
    } else {
        (pos, "")
    }
}

/// Returns `text` with `tenant` added to the profile (`profile`: its `name`, needed only
/// when the file holds several profiles).
pub fn add_tenant(
    text: &str,
    profile: Option<&str>,
    tenant: &NewTenant,
) -> Result<String, EditError> {
    let tenant = tenant.clone().validated()?;
    let parsed = yaml::parse(text, &yaml::Limits::default());
    if let Some(e) = parsed.errors.first() {
        return Err(EditError::Yaml(e.message.clone()));
    }
    let doc = pick_profile(&parsed.documents, profile)?;
    let root = &doc.root;
    let Value::Map(entries) = &root.value else {
        return Err(EditError::Layout("the profile is not a mapping".into()));
    };
    if matches!(text.as_bytes().get(root.span.start), Some(b'{')) {
        return Err(EditError::Layout(
            "the profile is written in flow style ({...})".into(),
        ));
    }
    let profile_name = str_of(root, "name").map(str::to_string);

    let edited = match entries.iter().find(|e| e.key == "tenants") {
        None => {
            // Append `tenants:` after the profile's last key, at the keys' indentation.
            let key_col = entries
                .first()
                .map_or(0, |e| e.key_span.start - line_start(text, e.key_span.start));
            let end = content_end(text, root);
            let (pos, nl) = at_end(text, line_end(text, end));
            let block = format!(
                "{nl}{}tenants:\n{}",
                " ".repeat(key_col),
                block_item(&tenant, key_col + 2, key_col + 4)
            );
            splice(text, pos..pos, &block)
        }
        Some(entry) => {
            let key_col = entry.key_span.start - line_start(text, entry.key_span.start);
            match &entry.value.value {
                Value::Seq(items) => {
                    for item in items {
                        if let Some(id) = str_of(item, "id")
                            && id.eq_ignore_ascii_case(&tenant.id)
                        {
                            return Err(EditError::DuplicateId {
                                id: tenant.id.clone(),
                                name: str_of(item, "name").unwrap_or("?").to_string(),
                            });
                        }
                        if str_of(item, "name") == Some(tenant.name.as_str()) {
                            return Err(EditError::DuplicateName(tenant.name.clone()));
                        }
                    }
                    let flow = matches!(text.as_bytes().get(entry.value.span.start), Some(b'['));
                    if flow {
                        insert_flow(text, &entry.value, items, &tenant, key_col)?
                    } else {
                        insert_block(text, items, &tenant)?
                    }
                }
                Value::Null => {
                    // `tenants:` (or `tenants: ~`): drop the null, put a block sequence under
                    // the key.
                    let v = &entry.value.span;
                    let (without, after_key) = if v.end > v.start {
                        (splice(text, v.clone(), ""), entry.key_span.end)
                    } else {
                        (text.to_string(), entry.key_span.end)
                    };
                    let pos = line_end(&without, after_key);
                    let (pos, nl) = at_end(&without, pos);
                    splice(
                        &without,
                        pos..pos,
                        &format!("{nl}{}", block_item(&tenant, key_col + 2, key_col + 4)),
                    )
                }
                _ => return Err(EditError::Layout("`tenants` is not a list".into())),
            }
        }
    };
    check_edit(&edited, profile_name.as_deref(), &tenant)?;
    Ok(edited)
}

fn insert_block(text: &str, items: &[Node], tenant: &NewTenant) -> Result<String, EditError> {
    let (Some(first), Some(last)) = (items.first(), items.last()) else {
        return Err(EditError::Layout("empty block sequence".into()));
    };
    // The dash of the first item sets the items' indentation; its first key the fields'.
    let ls = line_start(text, first.span.start);
    let before = &text[ls..first.span.start];
    let dash = before
        .rfind('-')
        .ok_or_else(|| EditError::Layout("cannot find the `-` of the first tenant".into()))?;
    let field_col = match &first.value {
        Value::Map(es) => es.first().map_or(dash + 2, |e| {
            if line_start(text, e.key_span.start) == ls {
                e.key_span.start - ls
            } else {
                // `-\n    id: ...`: fields on their own lines.
                e.key_span.start - line_start(text, e.key_span.start)
            }
        }),
        _ => dash + 2,
    };
    let end = content_end(text, last);
    let (pos, nl) = at_end(text, line_end(text, end));
    Ok(splice(
        text,
        pos..pos,
        &format!("{nl}{}", block_item(tenant, dash, field_col)),
    ))
}

fn insert_flow(
    text: &str,
    seq: &Node,
    items: &[Node],
    tenant: &NewTenant,
    key_col: usize,
) -> Result<String, EditError> {
    if items.is_empty() {
        // `tenants: []` becomes a block sequence: the usual layout, and the one people
        // extend by hand afterwards.
        let ls = line_start(text, seq.span.start);
        let only_ws_before = text[ls..seq.span.start].trim_end().ends_with(':');
        if !only_ws_before {
            return Err(EditError::Layout(
                "`tenants: []` is not on the key's line".into(),
            ));
        }
        // Remove `[]` and the spaces before it, keep any comment after it on that line.
        let mut start = seq.span.start;
        while start > ls && text.as_bytes()[start - 1] == b' ' {
            start -= 1;
        }
        let end = flow_end(text, seq.span.start)
            .ok_or_else(|| EditError::Layout("cannot find the closing `]` of `tenants`".into()))?;
        let without = splice(text, start..end, "");
        let pos = line_end(&without, start);
        let (pos, nl) = at_end(&without, pos);
        return Ok(splice(
            &without,
            pos..pos,
            &format!("{nl}{}", block_item(tenant, key_col + 2, key_col + 4)),
        ));
    }
    // Non-empty flow sequence: insert before the closing bracket.
    let close = flow_end(text, seq.span.start)
        .map(|e| e - 1)
        .ok_or_else(|| EditError::Layout("cannot find the closing `]` of `tenants`".into()))?;
    let last_end = items
        .last()
        .map_or(seq.span.start + 1, |n| content_end(text, n));
    let between = &text[last_end..close];
    let trailing_comma = between.contains(',');
    let insert = if trailing_comma {
        format!(" {} ", flow_item(tenant))
    } else {
        format!(", {}", flow_item(tenant))
    };
    let at = if trailing_comma { close } else { last_end };
    Ok(splice(text, at..at, &insert))
}

/// Parses the edited text again and checks the profile now ends with exactly the tenant
/// asked for.
fn check_edit(edited: &str, profile: Option<&str>, tenant: &NewTenant) -> Result<(), EditError> {
    let parsed = yaml::parse(edited, &yaml::Limits::default());
    if let Some(e) = parsed.errors.first() {
        return Err(EditError::Layout(format!(
            "the edit would make the file invalid YAML ({})",
            e.message
        )));
    }
    let doc = pick_profile(&parsed.documents, profile)?;
    let (json, _) = yaml::to_json(&doc.root);
    let last = json
        .get("tenants")
        .and_then(|t| t.as_array())
        .and_then(|a| a.last());
    let mut want = serde_json::json!({ "id": tenant.id, "name": tenant.name });
    if let Some(d) = &tenant.display_name {
        want["displayName"] = d.clone().into();
    }
    if !tenant.vars.is_empty() {
        want["vars"] = serde_json::to_value(&tenant.vars).unwrap_or_default();
    }
    if last != Some(&want) {
        return Err(EditError::Layout(
            "the edited file does not read back as the tenant asked for".into(),
        ));
    }
    Ok(())
}

/// What [`add_to_repository`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddOutcome {
    pub tenant_name: String,
    /// The tenant's desired objects after the edit, as `Kind/name`, sorted.
    pub objects: Vec<String>,
}

/// Why [`add_to_repository`] wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum AddError {
    /// The profile cannot be read, is outside the repository, or is not text.
    #[error(transparent)]
    File(#[from] crate::repo_files::FileError),
    #[error("cannot add the tenant to {path}")]
    Edit {
        path: PathBuf,
        #[source]
        source: EditError,
    },
    /// The repository would not validate with the edit; `diagnostics` is rendered (concise).
    #[error(
        "adding tenant `{tenant}` would make the repository invalid; {path} was not changed:\n{diagnostics}"
    )]
    Invalid {
        tenant: String,
        path: PathBuf,
        diagnostics: String,
    },
}

/// `tenants add`: edits `profile` (a file of the repository at `root`), validates the
/// whole repository as it will be with the edit (the file's text replaced in memory), and
/// only then writes the file atomically. Nothing is written on any error.
pub fn add_to_repository(
    root: &Path,
    profile: &Path,
    profile_name: Option<&str>,
    tenant: &NewTenant,
) -> Result<AddOutcome, AddError> {
    // The profile must be a file of the repository (after symlinks): `--profile
    // ../elsewhere.yaml` is refused before anything is read.
    let repo = crate::repo_files::Repo::open(root)?;
    let decoded = repo.read(profile)?;
    let text = decoded.text;
    let edited = add_tenant(&text, profile_name, tenant).map_err(|source| AddError::Edit {
        path: profile.to_path_buf(),
        source,
    })?;
    let mut loaded = crate::load::load_repository(root, &[]);
    // The loader's display path of the profile file, found by comparing real paths.
    let target = std::fs::canonicalize(profile).ok();
    let mut displays: Vec<String> = loaded.documents.iter().map(|d| d.path.clone()).collect();
    displays.extend(
        loaded
            .diagnostics
            .iter()
            .filter_map(|d| d.span.as_ref().map(|s| s.path.clone())),
    );
    let display = displays
        .into_iter()
        .find(|d| target.is_some() && std::fs::canonicalize(root.join(d)).ok() == target)
        .unwrap_or_else(|| profile.display().to_string());
    loaded.documents.retain(|d| d.path != display);
    loaded
        .diagnostics
        .retain(|d| d.span.as_ref().is_none_or(|s| s.path != display));
    loaded.sources.insert(display.clone(), edited.clone());
    let dir = profile.parent().unwrap_or(Path::new("."));
    crate::load::load_text(
        &display,
        &edited,
        dir,
        &yaml::Limits::default(),
        &mut loaded,
    );
    let v = crate::resolve::validate_loaded(loaded);
    if v.has_errors() {
        return Err(AddError::Invalid {
            tenant: tenant.name.clone(),
            path: profile.to_path_buf(),
            diagnostics: crate::diag::render(
                &v.diagnostics,
                &v.loaded.sources,
                crate::diag::Format::Concise,
                false,
            ),
        });
    }
    repo.write(profile, &edited, decoded.crlf)?;
    let id = tenant.id.to_ascii_lowercase();
    let objects = v
        .tenants
        .get(&id)
        .map(|t| t.objects.keys().map(|(k, n)| format!("{k}/{n}")).collect())
        .unwrap_or_default();
    Ok(AddOutcome {
        tenant_name: tenant.name.clone(),
        objects,
    })
}

pub use crate::repo_files::write_atomically;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(name: &str) -> NewTenant {
        NewTenant {
            id: "6F1C2B9E-0D4A-4E55-9A61-3C2F8E7D1A09".into(),
            name: name.into(),
            display_name: Some("Fabrikam \"Ltd\"".into()),
            vars: [("socGroup".to_string(), "Fabrikam SOC".to_string())].into(),
        }
    }

    const PROFILE: &str = "\
# Ring 0: pilot customers
kind: DistributionProfile
name: ring0-pilot
tenants:
  # first customer
  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01   # contoso
    name: contoso
    vars: { socGroup: \"Contoso SOC\" }
  # - id: 00000000-0000-0000-0000-000000000000  (left for later)
policies:   # what they get
  - baseline-antivirus
";

    #[test]
    fn block_sequence_keeps_comments() {
        let out = add_tenant(PROFILE, None, &t("fabrikam")).unwrap();
        let want = PROFILE.replace(
            "    vars: { socGroup: \"Contoso SOC\" }\n",
            "    vars: { socGroup: \"Contoso SOC\" }\n  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a09\n    name: fabrikam\n    displayName: \"Fabrikam \\\"Ltd\\\"\"\n    vars:\n      socGroup: \"Fabrikam SOC\"\n",
        );
        assert_eq!(out, want);
    }

    #[test]
    fn flow_and_empty_layouts() {
        let empty = "kind: DistributionProfile\nname: p\ntenants: []  # none yet\npolicies: []\n";
        let out = add_tenant(empty, None, &t("fabrikam")).unwrap();
        assert!(
            out.starts_with(
                "kind: DistributionProfile\nname: p\ntenants:  # none yet\n  - id: 6f1c"
            ),
            "{out}"
        );
        let flow = "kind: DistributionProfile\nname: p\ntenants: [{id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01, name: a}]\npolicies: []\n";
        let out = add_tenant(flow, None, &t("b")).unwrap();
        assert!(
            out.contains("name: a}, { id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a09, name: b,"),
            "{out}"
        );
        let missing = "kind: DistributionProfile\nname: p\npolicies: []";
        let out = add_tenant(missing, None, &t("b")).unwrap();
        assert!(out.ends_with("policies: []\ntenants:\n  - id: 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a09\n    name: b\n    displayName: \"Fabrikam \\\"Ltd\\\"\"\n    vars:\n      socGroup: \"Fabrikam SOC\"\n"), "{out}");
        let null = "kind: DistributionProfile\nname: p\ntenants:\npolicies: []\n";
        let out = add_tenant(null, None, &t("b")).unwrap();
        assert!(
            out.starts_with("kind: DistributionProfile\nname: p\ntenants:\n  - id: 6f1c"),
            "{out}"
        );
    }

    #[test]
    fn refuses_bad_input_and_duplicates() {
        let mut bad = t("fabrikam");
        bad.id = "not-a-guid".into();
        assert!(matches!(
            add_tenant(PROFILE, None, &bad),
            Err(EditError::InvalidId(_))
        ));
        assert!(matches!(
            add_tenant(PROFILE, None, &t("Bad Name")),
            Err(EditError::InvalidName(_))
        ));
        assert!(matches!(
            add_tenant(PROFILE, None, &t("contoso")),
            Err(EditError::DuplicateName(_))
        ));
        let mut dup = t("other");
        dup.id = "6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01".into();
        assert!(matches!(
            add_tenant(PROFILE, None, &dup),
            Err(EditError::DuplicateId { .. })
        ));
    }

    #[test]
    fn names_that_look_like_numbers_are_quoted() {
        let out = add_tenant(PROFILE, None, &t("123")).unwrap();
        assert!(out.contains("    name: \"123\"\n"), "{out}");
    }
}
