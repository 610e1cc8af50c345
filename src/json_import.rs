//! Offline import: settings-catalog policy JSON as exported from Graph (or by common backup
//! tools) -> rampart YAML documents. No network access.
//!
//! Accepted input shapes: a policy as Graph returns it (`$expand=settings,assignments`,
//! annotations or not); a Graph list response (`{"value": [...]}`); an array of policies;
//! IntuneCD-style exports (the same fields, assignment targets carrying `groupName`); and a
//! bare `settings[]` array (template inferred from the settings when the catalog can).
//!
//! The conversion is lossless or refused: the YAML, read back, gives the same writable fields
//! (`name`, `description`, `platforms`, `technologies`, `roleScopeTagIds`,
//! `templateReference.templateId`) and the same settings (compared normalised). Policies
//! that cannot be expressed (a template rampart does not manage, technologies differing from
//! the template's, assignment targets rampart has no form for) are skipped with a reason,
//! never silently.
//!
//! Assignments: exports carry group object ids, not names, and offline there is no way to
//! look names up. The id is written as the group name and the line gets a comment asking
//! for the display name; planning fails loudly on it ("group not found") until it is fixed,
//! rather than assigning to the wrong group.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, Template};
use crate::desired::Kind;
use crate::settings::{self, SettingInstance, ToYamlError, WireError};

/// One policy converted to YAML.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedPolicy {
    pub kind: Kind,
    /// The document `name` (slug of the display name, or the marker's name).
    pub name: String,
    pub display_name: String,
    pub template_id: String,
    /// The document as JSON (same content as `yaml`, without comments).
    pub document: Value,
    /// The YAML text of the document, with explanatory comments.
    pub yaml: String,
}

/// Why a policy was not imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("not a settings-catalog policy: {0}")]
    NotAPolicy(String),
    #[error("template {template} is not one rampart can express: {why}")]
    UnsupportedTemplate { template: String, why: String },
    #[error("the policy has no templateReference and its settings match no known template")]
    UnknownTemplate,
    #[error(
        "{field} is {found:?} but the {template} template requires {expected:?}; rampart cannot express that"
    )]
    NotExpressible {
        field: &'static str,
        found: String,
        expected: String,
        template: String,
    },
    #[error("assignment {index}: {reason}")]
    Assignment { index: usize, reason: String },
    #[error("settings cannot be read")]
    Wire(#[from] WireError),
    #[error("settings have no YAML form")]
    Yaml(#[from] ToYamlError),
    #[error("YAML serialisation failed: {0}")]
    Serialise(String),
    #[error("the YAML does not read back to the same policy (rampart bug): {0}")]
    RoundTrip(String),
}

/// A policy that was not imported, with the reason.
#[derive(Debug)]
pub struct Skipped {
    /// Where it came from: file path and, for lists, `#index`.
    pub source: String,
    /// The Graph `name`, when the input had one.
    pub display_name: Option<String>,
    pub error: ImportError,
}

/// The outcome of importing files: what converted and what did not.
#[derive(Debug, Default)]
pub struct ImportReport {
    /// Converted policies with their source, in input order (files sorted by path).
    pub imported: Vec<(String, ImportedPolicy)>,
    pub skipped: Vec<Skipped>,
    /// Files that cannot be read, decoded or parsed as JSON: (path, why).
    pub unreadable: Vec<(String, String)>,
    /// Files whose policies came in a wrapper: (path, the wrapper taken off).
    pub unwrapped: Vec<(String, String)>,
}

/// Imports one file, or every `*.json` under a directory (sorted, recursive). Document names
/// are made unique across the run by appending `-2`, `-3`, ... Every file is decoded as
/// [`crate::repo_files::decode`] does (UTF-8 with or without BOM, UTF-16); a file that
/// cannot be read, decoded or parsed is reported by its own path in `unreadable` and the
/// others are still imported. `Err` only when `path` itself cannot be read.
pub fn import_path(path: &Path) -> std::io::Result<ImportReport> {
    let mut files = Vec::new();
    let mut report = ImportReport::default();
    if path.is_dir() {
        collect_json(path, &mut files, &mut report.unreadable)?;
    } else {
        std::fs::metadata(path)?;
        files.push(path.to_path_buf());
    }
    for f in files {
        let source = f.display().to_string();
        let text = match crate::repo_files::read_decoded(&f, &source) {
            Ok(d) => d.text,
            Err(e) => {
                report.unreadable.push((source, match e.offset() {
                    Some(at) => format!("{} (first bad byte at offset {at}); save it as UTF-8 or UTF-16 with a byte-order mark", e.message()),
                    None => e.message(),
                }));
                continue;
            }
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(v) => import_value(&v, &source, &mut report),
            Err(e) => report.unreadable.push((source, format!("not JSON: {e}"))),
        }
    }
    dedupe_names(&mut report);
    Ok(report)
}

fn collect_json(
    dir: &Path,
    out: &mut Vec<PathBuf>,
    unreadable: &mut Vec<(String, String)>,
) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // A sub-folder that cannot be listed is reported by its own path.
            if let Err(e) = collect_json(&p, out, unreadable) {
                unreadable.push((
                    p.display().to_string(),
                    format!("cannot read the folder: {e}"),
                ));
            }
        } else if p
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            out.push(p);
        }
    }
    Ok(())
}

/// Imports every policy found in one parsed JSON input (a policy, a list, `{value: [...]}`,
/// or a tool's wrapper around one; see [`unwrap_export`]).
pub fn import_value(v: &Value, source: &str, report: &mut ImportReport) {
    let (policies, wrapper) = unwrap_export(v);
    if let Some(w) = wrapper {
        report.unwrapped.push((source.to_string(), w));
    }
    for (suffix, policy) in policies {
        let source = format!("{source}{suffix}");
        match import_policy_json(&policy) {
            Ok(p) => report.imported.push((source, p)),
            Err(error) => report.skipped.push(Skipped {
                source,
                display_name: policy
                    .get("name")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                error,
            }),
        }
    }
}

/// The policies inside an export, each with a source suffix (`#3` for list elements), and
/// the wrapper taken off, said as a user would (`None` for a bare policy). Wrappers real
/// exports come in:
/// - a Graph list response `{"value": [...]}` (Graph Explorer, `Invoke-MgGraphRequest`);
/// - a JSON array of policies (many backup scripts);
/// - a CIPP template: `{"Displayname", "Description", "RAWJson": "<the policy as a JSON
///   string>", "Type": "Catalog", "GUID"}` (CIPP-API `Invoke-CIPPStandardIntuneTemplate`);
/// - any object whose one object-valued field holds the policy (`settings[]` inside), as
///   IntuneManagement-style and hand-made wrappers put it; the field is named.
///
/// Wrappers nest (a list of CIPP templates); each level is said once.
pub fn unwrap_export(v: &Value) -> (Vec<(String, Value)>, Option<String>) {
    let mut said = Vec::new();
    let out = unwrap_level(v, String::new(), &mut said, 0);
    said.dedup();
    let wrapper = (!said.is_empty()).then(|| said.join(", then "));
    (out, wrapper)
}

fn unwrap_level(
    v: &Value,
    suffix: String,
    said: &mut Vec<String>,
    depth: usize,
) -> Vec<(String, Value)> {
    if depth > 4 {
        return vec![(suffix, v.clone())];
    }
    let list = |items: &Vec<Value>, said: &mut Vec<String>| -> Vec<(String, Value)> {
        items
            .iter()
            .enumerate()
            .flat_map(|(i, p)| unwrap_level(p, format!("{suffix}#{i}"), said, depth + 1))
            .collect()
    };
    match v {
        Value::Object(o) if o.contains_key("settings") => vec![(suffix, v.clone())],
        Value::Object(o) if o.get("value").is_some_and(Value::is_array) => {
            said.push("a Graph list response (`value`)".to_string());
            list(o["value"].as_array().expect("checked"), said)
        }
        Value::Object(o) => {
            if let Some((key, raw)) = o.iter().find(|(k, _)| k.eq_ignore_ascii_case("rawjson")) {
                let inner = match raw {
                    Value::String(s) => serde_json::from_str::<Value>(s).ok(),
                    other => Some(other.clone()),
                };
                if let Some(inner) = inner {
                    said.push(format!("a CIPP template (`{key}`)"));
                    return unwrap_level(&inner, suffix, said, depth + 1);
                }
            }
            let holders: Vec<(&String, &Value)> = o
                .iter()
                .filter(|(_, v)| v.get("settings").is_some_and(Value::is_array))
                .collect();
            if let [(key, inner)] = holders.as_slice() {
                said.push(format!("a wrapper object (field `{key}`)"));
                return unwrap_level(inner, suffix, said, depth + 1);
            }
            vec![(suffix, v.clone())]
        }
        // A bare settings array is one policy without metadata.
        Value::Array(a)
            if a.iter().any(|s| {
                s.get("settingInstance").is_some() || s.get("settingDefinitionId").is_some()
            }) =>
        {
            vec![(suffix, v.clone())]
        }
        Value::Array(a) => {
            said.push("an array".to_string());
            list(a, said)
        }
        _ => vec![(suffix, v.clone())],
    }
}

fn dedupe_names(report: &mut ImportReport) {
    let mut used = BTreeSet::new();
    for (_, p) in &mut report.imported {
        if used.insert(p.name.clone()) {
            continue;
        }
        let base = p.name.clone();
        let mut n = 2;
        let name = loop {
            let suffix = format!("-{n}");
            let cut = base.len().min(63 - suffix.len());
            let candidate = format!("{}{suffix}", base[..cut].trim_end_matches('-'));
            if used.insert(candidate.clone()) {
                break candidate;
            }
            n += 1;
        };
        p.name = name.clone();
        p.document["name"] = json!(name);
        p.yaml = replace_name_line(&p.yaml, &base, &name);
    }
}

fn replace_name_line(yaml: &str, old: &str, new: &str) -> String {
    let old_line = format!("name: {old}\n");
    yaml.replacen(&old_line, &format!("name: {new}\n"), 1)
}

/// A document `name` from a display name: lower case, runs of other characters become `-`,
/// at most 63 characters.
pub fn slugify(display: &str) -> String {
    let mut s = String::new();
    for c in display.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            s.push(c);
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    let mut s = s.trim_end_matches('-').to_string();
    s.truncate(63);
    let s = s.trim_end_matches('-').to_string();
    if s.is_empty() {
        "imported-policy".into()
    } else {
        s
    }
}

/// Converts one exported policy (or bare settings array) to a rampart YAML document.
pub fn import_policy_json(policy: &Value) -> Result<ImportedPolicy, ImportError> {
    let cat = Catalog::builtin();
    let (meta, settings_json) = match policy {
        Value::Array(_) => (&Map::new(), policy),
        Value::Object(o) => match o.get("settings") {
            Some(s @ Value::Array(_)) => (o, s),
            _ => {
                return Err(ImportError::NotAPolicy(
                    "no `settings` array (export with $expand=settings)".into(),
                ));
            }
        },
        _ => return Err(ImportError::NotAPolicy("expected a JSON object".into())),
    };
    let meta_empty = Map::new();
    let meta = if policy.is_array() { &meta_empty } else { meta };
    let instances = settings::instances_from_graph(settings_json)?;
    let template = template_of(meta, &instances, cat)?;
    let str_field = |k: &str| meta.get(k).and_then(Value::as_str);
    for (field, expected) in [
        ("platforms", &template.platforms),
        ("technologies", &template.technologies),
    ] {
        // A plain settings-catalog policy carries its own platforms and technologies.
        if template.is_none_family() {
            continue;
        }
        if let Some(found) = str_field(field)
            && flags(found) != flags(expected)
        {
            return Err(ImportError::NotExpressible {
                field,
                found: found.to_string(),
                expected: expected.clone(),
                template: template.alias.clone(),
            });
        }
    }
    let display_name = str_field("name").unwrap_or("").to_string();
    let raw_description = str_field("description").unwrap_or("");
    let (description, marker_name) = split_marker(raw_description);
    let name = marker_name.map_or_else(|| slugify(&display_name), str::to_string);

    let mut doc = Map::new();
    doc.insert("kind".into(), json!(template.kind.as_str()));
    doc.insert("name".into(), json!(name));
    doc.insert(
        "displayName".into(),
        json!(if display_name.is_empty() {
            name.clone()
        } else {
            display_name.clone()
        }),
    );
    if !description.is_empty() {
        doc.insert("description".into(), json!(description));
    }
    if template.is_none_family() {
        for field in ["platforms", "technologies"] {
            if let Some(v) = str_field(field) {
                doc.insert(field.into(), json!(v));
            }
        }
    } else {
        doc.insert("template".into(), json!(template.alias));
    }
    if let Some(tags) = meta.get("roleScopeTagIds").and_then(Value::as_array) {
        let tags: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        if tags != ["0"] {
            doc.insert("roleScopeTagIds".into(), json!(tags));
        }
    }
    let sections = settings::settings_to_yaml(template.kind, template, &instances)?;
    if let Value::Object(s) = sections {
        doc.extend(s);
    }
    let mut group_ids = Vec::new();
    if let Some(a) = meta.get("assignments").and_then(Value::as_array)
        && !a.is_empty()
    {
        doc.insert("assignments".into(), assignments(a, &mut group_ids)?);
    }
    let document = Value::Object(doc);

    // Lossless or refused: read the document back and compare with the original.
    let back = policy_body_from_document(&document)
        .map_err(|e| ImportError::RoundTrip(format!("{e:?}")))?;
    let want = comparable(&writable_fields(policy, template, &instances));
    let mut got = comparable(&back);
    if want.get("name").is_none()
        && let Some(o) = got.as_object_mut()
    {
        // A bare settings export has no name to compare with.
        o.remove("name");
    }
    if got != want {
        return Err(ImportError::RoundTrip(
            "settings or fields differ after reading the YAML back".into(),
        ));
    }

    let yaml = render_yaml(&document, meta, template, &group_ids)?;
    Ok(ImportedPolicy {
        kind: template.kind,
        name,
        display_name,
        template_id: template.id.clone(),
        document,
        yaml,
    })
}

fn flags(s: &str) -> BTreeSet<String> {
    s.split(',')
        .map(|f| f.trim().to_ascii_lowercase())
        .filter(|f| !f.is_empty())
        .collect()
}

/// Splits rampart's ownership marker (`[rampart:<name>]` as the last line) off a description.
fn split_marker(description: &str) -> (&str, Option<&str>) {
    let trimmed = description.trim_end();
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    match last
        .trim()
        .strip_prefix("[rampart:")
        .and_then(|r| r.strip_suffix(']'))
    {
        Some(n) if !n.is_empty() && slugify(n) == n => (body.trim_end(), Some(n)),
        _ => (description, None),
    }
}

fn template_of(
    meta: &Map<String, Value>,
    instances: &[SettingInstance],
    cat: &'static Catalog,
) -> Result<&'static Template, ImportError> {
    let reference = meta.get("templateReference").filter(|v| !v.is_null());
    if let Some(r) = reference {
        let id = r.get("templateId").and_then(Value::as_str).unwrap_or("");
        let family = r.get("templateFamily").and_then(Value::as_str);
        if id.is_empty() && matches!(family, None | Some("none")) {
            // A plain settings-catalog policy: its own kind, any definition.
            return cat
                .default_template(Kind::SettingsCatalogPolicy, false)
                .ok_or(ImportError::UnknownTemplate);
        }
        return cat
            .template(id)
            .ok_or_else(|| ImportError::UnsupportedTemplate {
                why: match family.and_then(Kind::for_template_family) {
                    Some(kind) => format!(
                        "a {kind} template missing from the catalog (`rampart catalog refresh` learns it from the tenant)"
                    ),
                    None => format!(
                        "rampart has no kind for template family {}",
                        family.unwrap_or("unknown")
                    ),
                },
                template: format!(
                    "{} ({id}, family {})",
                    r.get("templateDisplayName")
                        .and_then(Value::as_str)
                        .unwrap_or("unnamed"),
                    r.get("templateFamily")
                        .and_then(Value::as_str)
                        .unwrap_or("unknown")
                ),
            });
    }
    // No reference (bare settings): the one template that holds every known root setting.
    let known: Vec<_> = instances
        .iter()
        .filter_map(|i| cat.definition(&i.definition_id))
        .collect();
    if known.is_empty() {
        return Err(ImportError::UnknownTemplate);
    }
    let fits: Vec<&Template> = cat
        .templates()
        .iter()
        .filter(|t| known.iter().all(|d| d.in_template(&t.id)))
        .collect();
    match fits[..] {
        [t] => Ok(t),
        _ => Err(ImportError::UnknownTemplate),
    }
}

/// `assignments` of the document from Graph assignment objects.
fn assignments(items: &[Value], group_ids: &mut Vec<String>) -> Result<Value, ImportError> {
    let mut out = Vec::new();
    for (index, a) in items.iter().enumerate() {
        let err = |reason: String| ImportError::Assignment { index, reason };
        let target = a.get("target").ok_or_else(|| err("no target".into()))?;
        let odata = target
            .get("@odata.type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim_start_matches("#microsoft.graph.");
        let mut group = || -> Result<String, ImportError> {
            if let Some(n) = target
                .get("groupName")
                .or_else(|| target.get("groupDisplayName"))
                .and_then(Value::as_str)
            {
                return Ok(n.to_string());
            }
            let id = target
                .get("groupId")
                .and_then(Value::as_str)
                .ok_or_else(|| err("group target without groupId".into()))?;
            group_ids.push(id.to_string());
            Ok(id.to_string())
        };
        let mut m = Map::new();
        match odata {
            "groupAssignmentTarget" => {
                m.insert("group".into(), json!(group()?));
            }
            "exclusionGroupAssignmentTarget" => {
                m.insert("excludeGroup".into(), json!(group()?));
            }
            "allDevicesAssignmentTarget" => {
                m.insert("allDevices".into(), json!(true));
            }
            "allLicensedUsersAssignmentTarget" => {
                m.insert("allLicensedUsers".into(), json!(true));
            }
            other => return Err(err(format!("target type `{other}` has no rampart form"))),
        }
        let filter_id = target
            .get("deviceAndAppManagementAssignmentFilterId")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let filter_type = target
            .get("deviceAndAppManagementAssignmentFilterType")
            .and_then(Value::as_str)
            .unwrap_or("none");
        if let Some(id) = filter_id
            && filter_type != "none"
        {
            if filter_type != "include" && filter_type != "exclude" {
                return Err(err(format!("filter type `{filter_type}` is unknown")));
            }
            m.insert("filter".into(), json!({"id": id, "mode": filter_type}));
        }
        out.push(Value::Object(m));
    }
    Ok(Value::Array(out))
}

/// The YAML text: a header comment, the document, comments on group ids.
fn render_yaml(
    doc: &Value,
    meta: &Map<String, Value>,
    template: &Template,
    group_ids: &[String],
) -> Result<String, ImportError> {
    let body = serde_saphyr::to_string(doc).map_err(|e| ImportError::Serialise(e.to_string()))?;
    let mut out = String::new();
    out.push_str("# Imported by `rampart import`");
    if let Some(id) = meta.get("id").and_then(Value::as_str) {
        out.push_str(&format!(" from policy {id}"));
    }
    if template.is_none_family() {
        out.push_str("\n# A plain settings-catalog policy (templateFamily none, no template)\n");
    } else {
        out.push_str(&format!(
            "\n# Template: {} ({})\n",
            template.display_name, template.id
        ));
    }
    if !group_ids.is_empty() {
        out.push_str(
            "# Assignments: the export names groups by object id; offline import cannot look up\n",
        );
        out.push_str("# their names. Replace each id below with the group's display name.\n");
    }
    for line in body.lines() {
        out.push_str(line);
        let trimmed = line.trim_start().trim_start_matches("- ");
        let is_group_id = ["group: ", "excludeGroup: "].iter().any(|p| {
            trimmed
                .strip_prefix(p)
                .is_some_and(|v| group_ids.iter().any(|g| v.trim_matches(['"', '\'']) == g))
        });
        if is_group_id {
            out.push_str("  # group object id from the export: replace with the display name");
        }
        out.push('\n');
    }
    Ok(out)
}

/// Errors reading a document back (the round trip), with all setting errors.
#[derive(Debug)]
pub enum DocumentError {
    Field(String),
    Settings(Vec<crate::diag::PathError>),
}

/// The Graph body fields rampart would send for a policy document (YAML converted to JSON),
/// without the ownership marker, settings normalised. This reads the document with the
/// same rules as the loader for the fields import writes (`displayName`, `description`,
/// `template`, `roleScopeTagIds`, the settings sections); the full loader lives in `load`.
pub fn policy_body_from_document(doc: &Value) -> Result<Value, DocumentError> {
    let cat = Catalog::builtin();
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .and_then(Kind::parse)
        .filter(|k| k.is_configuration_policy())
        .ok_or_else(|| DocumentError::Field("kind".into()))?;
    let name = doc
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| DocumentError::Field("name".into()))?;
    let template = match doc.get("template").and_then(Value::as_str) {
        Some(t) => cat.resolve_template(t),
        None => cat.default_template(kind, doc.get("rules").is_some_and(Value::is_array)),
    }
    .ok_or_else(|| DocumentError::Field("template".into()))?;
    let mut instances =
        settings::settings_from_yaml(kind, template, doc).map_err(DocumentError::Settings)?;
    settings::normalise(&mut instances);
    Ok(json!({
        "name": doc.get("displayName").and_then(Value::as_str).unwrap_or(name),
        "description": doc.get("description").and_then(Value::as_str).unwrap_or(""),
        "platforms": doc.get("platforms").and_then(Value::as_str).unwrap_or(&template.platforms),
        "technologies": doc.get("technologies").and_then(Value::as_str).unwrap_or(&template.technologies),
        "roleScopeTagIds": doc.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"])),
        "templateReference": {"templateId": template.id},
        "settings": settings::instances_to_graph(&instances),
        "assignments": document_assignments(doc)?,
    }))
}

/// The writable fields of an exported policy, in the shape of [`policy_body_from_document`].
fn writable_fields(policy: &Value, template: &Template, instances: &[SettingInstance]) -> Value {
    let s = |k: &str| policy.get(k).and_then(Value::as_str);
    let (description, _) = split_marker(s("description").unwrap_or(""));
    json!({
        "name": s("name").filter(|n| !n.is_empty()),
        "description": description,
        "platforms": s("platforms").unwrap_or(&template.platforms),
        "technologies": s("technologies").unwrap_or(&template.technologies),
        "roleScopeTagIds": policy.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"])),
        "templateReference": {"templateId": template.id},
        "settings": settings::instances_to_graph(&settings::normalised(instances)),
        "assignments": policy.get("assignments").cloned().unwrap_or(json!([])),
    })
}

/// A body reduced to what the lossless comparison looks at: flags as sets, settings
/// normalised, an absent `name` accepted as any (bare settings exports have none).
pub fn comparable(body: &Value) -> Value {
    let settings = settings::instances_from_graph(&body["settings"])
        .map(|i| settings::normalised(&i))
        .ok();
    let mut tags: Vec<String> = body["roleScopeTagIds"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect();
    tags.sort();
    json!({
        "name": body["name"],
        "description": body["description"],
        "platforms": body["platforms"].as_str().map(flags),
        "technologies": body["technologies"].as_str().map(flags),
        "roleScopeTagIds": tags,
        "templateId": body["templateReference"]["templateId"],
        "settings": settings.map(|s| settings::instances_to_graph(&s)),
        "assignments": assignments_comparable(&body["assignments"]),
    })
    .as_object()
    .map(|o| {
        let mut o = o.clone();
        if o["name"].is_null() {
            o.remove("name");
        }
        Value::Object(o)
    })
    .unwrap_or(Value::Null)
}

/// Assignments (Graph's `[{target: {...}}]`, as exported or as rampart would send them) as
/// the lossless comparison sees them: one `{type, group, filterId, filterType}` per
/// target, sorted; the group is the name when the target carries one (IntuneCD's
/// `groupName`), else the id (which `rampart import` writes as the group until a person
/// puts the name in). Absent assignments compare as none.
pub fn assignments_comparable(items: &Value) -> Value {
    let mut out: Vec<Value> = items
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| {
            let t = &a["target"];
            let group = t
                .get("groupName")
                .or_else(|| t.get("groupDisplayName"))
                .or_else(|| t.get("groupId"))
                .cloned()
                .unwrap_or(Value::Null);
            let filter_type = t
                .get("deviceAndAppManagementAssignmentFilterType")
                .and_then(Value::as_str)
                .filter(|f| *f != "none");
            let filter_id = t
                .get("deviceAndAppManagementAssignmentFilterId")
                .and_then(Value::as_str)
                .filter(|f| !f.is_empty() && filter_type.is_some());
            json!({
                "type": t["@odata.type"].as_str().unwrap_or("").trim_start_matches("#microsoft.graph."),
                "group": group,
                "filterId": filter_id,
                "filterType": filter_id.and(filter_type),
            })
        })
        .collect();
    out.sort_by_key(|v| v.to_string());
    Value::Array(out)
}

/// A document's `assignments` in Graph's shape (group names in `groupId`), for
/// [`policy_body_from_document`]: read with the loader's own types, so the round trip
/// checks what the loader reads, not what the importer wrote.
fn document_assignments(doc: &Value) -> Result<Value, DocumentError> {
    let Some(items) = doc.get("assignments") else {
        return Ok(json!([]));
    };
    let list: Vec<crate::config::AssignmentFile> = serde_json::from_value(items.clone())
        .map_err(|_| DocumentError::Field("assignments".into()))?;
    let out = list
        .iter()
        .map(|a| {
            let (odata, group) = if let Some(g) = &a.group {
                ("groupAssignmentTarget", Some(g.clone()))
            } else if let Some(g) = &a.exclude_group {
                ("exclusionGroupAssignmentTarget", Some(g.clone()))
            } else if a.all_devices == Some(true) {
                ("allDevicesAssignmentTarget", None)
            } else {
                ("allLicensedUsersAssignmentTarget", None)
            };
            let mut target = json!({"@odata.type": format!("#microsoft.graph.{odata}")});
            if let Some(g) = group {
                target["groupId"] = json!(g);
            }
            if let Some(f) = &a.filter {
                // A filter by name compares by its name, as groups do.
                target["deviceAndAppManagementAssignmentFilterId"] =
                    json!(f.id.as_ref().or(f.name.as_ref()));
                target["deviceAndAppManagementAssignmentFilterType"] =
                    serde_json::to_value(f.mode).unwrap_or(Value::Null);
            }
            json!({ "target": target })
        })
        .collect();
    Ok(Value::Array(out))
}

/// The writable fields of an exported policy as rampart compares them (see [`comparable`]):
/// what the round-trip test compares against [`policy_body_from_document`].
pub fn original_comparable(policy: &Value) -> Result<Value, ImportError> {
    let cat = Catalog::builtin();
    let meta = policy.as_object().cloned().unwrap_or_default();
    let settings_json = if policy.is_array() {
        policy
    } else {
        &policy["settings"]
    };
    let instances = settings::instances_from_graph(settings_json)?;
    let template = template_of(&meta, &instances, cat)?;
    let mut c = comparable(&writable_fields(policy, template, &instances));
    if policy.is_array()
        && let Some(o) = c.as_object_mut()
    {
        o.remove("name");
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_the_name_rule() {
        assert_eq!(
            slugify("Win - OIB - ES - Defender Antivirus - D - AV Configuration - v3.3"),
            "win-oib-es-defender-antivirus-d-av-configuration-v3-3"
        );
        assert_eq!(slugify("  ***  "), "imported-policy");
        assert!(slugify(&"x".repeat(100)).len() <= 63);
    }

    #[test]
    fn marker_is_split_off() {
        assert_eq!(
            split_marker("text\n[rampart:av-base]"),
            ("text", Some("av-base"))
        );
        assert_eq!(split_marker("[rampart:Not Valid]").1, None);
    }
}
