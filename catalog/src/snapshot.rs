//! Catalog snapshots learned from the service: `rampart catalog refresh` reads the tenant's
//! `configurationPolicyTemplates` and each template's `settingTemplates` (with
//! `$expand=settingDefinitions`, graph-api-2.md §5.2) and this module turns those Graph
//! shapes into catalog data ([`from_graph`]), which is written into the user's repository
//! (`.rampart/catalog/snapshot.json`) and merged over the shipped catalog when rampart runs
//! there ([`install_repository_snapshot`]).
//!
//! What a snapshot adds: templates the shipped catalog lacks (their alias is their id),
//! Graph's `lifecycleState` of every template (with the newest version of the same `baseId`
//! as the replacement of a superseded or deprecated one), definitions the shipped catalog
//! lacks (named by their raw id: raw ids always work, readable names stay the shipped
//! catalog's), and template membership of shipped definitions whose template references
//! agree. A shipped definition that appears under another template with *different*
//! instance/value template ids is left out of that template (it stays a raw id there,
//! written as the export has it), because the catalog holds one reference per definition.
//!
//! Limits: the merged catalog is process-wide (the service's templates are the same for
//! every tenant, so one snapshot per process is the model); installing a second, different
//! snapshot in the same process replaces the first.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, RwLock};

use serde_json::Value;

use crate::{
    Catalog, CatalogError, CatalogFile, ChoiceOption, Kind, SettingDefinition, Template, ValueType,
};

/// Where a repository keeps its snapshot, relative to the repository root.
pub const SNAPSHOT_PATH: &str = ".rampart/catalog/snapshot.json";

/// The snapshot file of a repository.
pub fn snapshot_path(root: &Path) -> PathBuf {
    root.join(SNAPSHOT_PATH)
}

/// Converts Graph answers into a snapshot: `templates` are the
/// `configurationPolicyTemplates` entities, `setting_templates` the `settingTemplates`
/// items of each template id (with `settingDefinitions` expanded). Templates of families
/// rampart has no kind for are left out. Deterministic: sorted by id.
pub fn from_graph(
    templates: &[Value],
    setting_templates: &BTreeMap<String, Vec<Value>>,
    shipped: &Catalog,
) -> CatalogFile {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // The newest version of each baseId replaces the older ones.
    let mut newest: BTreeMap<String, (u32, String)> = BTreeMap::new();
    for t in templates {
        let version = t.get("version").and_then(Value::as_u64).unwrap_or(0) as u32;
        let e = newest.entry(s(t, "baseId")).or_insert((0, String::new()));
        if version >= e.0 {
            *e = (version, s(t, "id"));
        }
    }
    let mut out_templates = Vec::new();
    for t in templates {
        let family = s(t, "templateFamily");
        let Some(kind) = Kind::for_template_family(&family) else {
            continue;
        };
        if kind == Kind::SettingsCatalogPolicy {
            continue;
        }
        let id = s(t, "id");
        let lifecycle = match s(t, "lifecycleState") {
            l if l.is_empty() => "active".to_string(),
            l => l,
        };
        let replacement = newest
            .get(&s(t, "baseId"))
            .map(|(_, n)| n.clone())
            .filter(|n| *n != id && lifecycle != "active");
        let shipped_t = shipped.template(&id);
        out_templates.push(Template {
            id: id.clone(),
            base_id: s(t, "baseId"),
            version: t.get("version").and_then(Value::as_u64).unwrap_or(0) as u32,
            alias: shipped_t.map_or_else(|| id.clone(), |x| x.alias.clone()),
            display_name: s(t, "displayName"),
            template_family: family,
            platforms: s(t, "platforms"),
            technologies: s(t, "technologies"),
            kind,
            lifecycle_state: lifecycle,
            superseded_by: replacement,
            source: "rampart catalog refresh (Graph configurationPolicyTemplates)".into(),
            verified: true,
        });
    }
    out_templates.sort_by(|a, b| a.id.cmp(&b.id));
    let mut defs: BTreeMap<String, SettingDefinition> = BTreeMap::new();
    for t in &out_templates {
        for item in setting_templates.get(&t.id).into_iter().flatten() {
            learn_setting_template(&t.id, item, shipped, &mut defs);
        }
    }
    CatalogFile {
        comment: "Learned from Microsoft Graph by `rampart catalog refresh`; merged over \
                  rampart's shipped catalog. Regenerate rather than edit."
            .into(),
        templates: out_templates,
        definitions: defs.into_values().collect(),
    }
}

/// The value template object of an instance template: `choiceSettingValueTemplate`,
/// `simpleSettingValueTemplate`, `groupSettingValueTemplate`, or the first element of a
/// `...CollectionValueTemplate` list.
fn value_template_id(instance_template: &Value) -> Option<String> {
    let obj = instance_template.as_object()?;
    obj.iter()
        .filter(|(k, _)| k.ends_with("ValueTemplate"))
        .find_map(|(_, v)| {
            let v = if let Value::Array(a) = v {
                a.first()?
            } else {
                v
            };
            v.get("settingValueTemplateId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .or_else(|| {
            obj.get("settingValueTemplateId")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
}

fn learn_setting_template(
    template_id: &str,
    item: &Value,
    shipped: &Catalog,
    defs: &mut BTreeMap<String, SettingDefinition>,
) {
    let it = &item["settingInstanceTemplate"];
    let root_id = it
        .get("settingDefinitionId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let sit = it
        .get("settingInstanceTemplateId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let svt = value_template_id(it);
    let graph_defs: Vec<&Value> = item
        .get("settingDefinitions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    // Parents: a choice child names its parent in `dependentOn`; a group child is listed
    // in its group's `childIds`.
    let mut group_parent: BTreeMap<String, String> = BTreeMap::new();
    for d in &graph_defs {
        for c in d
            .get("childIds")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let (Some(c), Some(p)) = (c.as_str(), d.get("id").and_then(Value::as_str)) {
                group_parent.insert(c.to_string(), p.to_string());
            }
        }
    }
    for d in graph_defs {
        let Some(id) = d.get("id").and_then(Value::as_str) else {
            continue;
        };
        let is_root = id == root_id;
        if let Some(known) = shipped.definition(id) {
            // Shipped definitions keep their names; they join this template only when
            // their template references agree (one reference per definition).
            let agrees = !is_root
                || (known.setting_instance_template_id == sit
                    && (svt.is_none() || known.setting_value_template_id == svt));
            if agrees && !known.in_template(template_id) {
                let mut d = known.clone();
                d.templates = vec![template_id.to_string()];
                defs.entry(id.to_string())
                    .and_modify(|e| e.templates.push(template_id.to_string()))
                    .or_insert(d);
            }
            continue;
        }
        let Some(value_type) = value_type_of(d) else {
            continue;
        };
        let options: Vec<ChoiceOption> = d
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|o| {
                let item_id = o.get("itemId").and_then(Value::as_str)?;
                Some(ChoiceOption {
                    item_id: item_id.to_string(),
                    // Raw suffixes are always accepted; the readable name is the item id
                    // itself so that names stay unique.
                    name: item_id.to_string(),
                    display_name: o
                        .get("displayName")
                        .and_then(Value::as_str)
                        .unwrap_or(item_id)
                        .to_string(),
                })
            })
            .collect();
        if matches!(value_type, ValueType::Choice | ValueType::ChoiceCollection)
            && options.is_empty()
        {
            continue;
        }
        let dependent: Vec<(String, String)> = d
            .get("dependentOn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|x| {
                Some((
                    x.get("parentSettingId")?.as_str()?.to_string(),
                    x.get("dependentOn")?.as_str()?.to_string(),
                ))
            })
            .collect();
        let parent = if is_root {
            None
        } else {
            group_parent
                .get(id)
                .cloned()
                .or_else(|| dependent.first().map(|(p, _)| p.clone()))
        };
        let parent_options: Vec<String> = dependent
            .iter()
            .filter(|(p, _)| Some(p) == parent.as_ref())
            .map(|(_, o)| o.clone())
            .filter(|o| o != parent.as_deref().unwrap_or(""))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let vd = d.get("valueDefinition");
        let bound = |k: &str| vd.and_then(|v| v.get(k)).and_then(Value::as_i64);
        let entry = SettingDefinition {
            id: id.to_string(),
            name: id.to_string(),
            display_name: d
                .get("displayName")
                .and_then(Value::as_str)
                .unwrap_or(id)
                .to_string(),
            templates: vec![template_id.to_string()],
            value_type,
            options,
            default: d.get("defaultOptionId").filter(|v| v.is_string()).cloned(),
            minimum: bound("minimumValue"),
            maximum: bound("maximumValue"),
            parent,
            parent_options,
            setting_instance_template_id: if is_root { sit.clone() } else { None },
            setting_value_template_id: if is_root { svt.clone() } else { None },
            field: None,
            profile: None,
            rule_guid: None,
            source: "rampart catalog refresh (Graph settingTemplates)".into(),
            verified: true,
        };
        defs.entry(id.to_string())
            .and_modify(|e| {
                if !e.templates.iter().any(|t| t == template_id) {
                    e.templates.push(template_id.to_string());
                }
            })
            .or_insert(entry);
    }
}

/// The catalog value type of a Graph setting definition; `None` for kinds rampart has no
/// form for (redirects, for example).
fn value_type_of(d: &Value) -> Option<ValueType> {
    let ty = d.get("@odata.type").and_then(Value::as_str)?;
    let ty = ty.trim_start_matches("#microsoft.graph.deviceManagementConfiguration");
    let vd_type = d
        .get("valueDefinition")
        .and_then(|v| v.get("@odata.type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    Some(match ty {
        "ChoiceSettingDefinition" => ValueType::Choice,
        "ChoiceSettingCollectionDefinition" => ValueType::ChoiceCollection,
        "SimpleSettingDefinition" if vd_type.contains("Integer") => ValueType::Integer,
        "SimpleSettingDefinition" => ValueType::String,
        "SimpleSettingCollectionDefinition" if vd_type.contains("Integer") => {
            ValueType::IntegerCollection
        }
        "SimpleSettingCollectionDefinition" => ValueType::StringCollection,
        "SettingGroupCollectionDefinition" => ValueType::GroupCollection,
        "SettingGroupDefinition" => ValueType::Group,
        _ => return None,
    })
}

/// The installed repository snapshot: (its text, the merged catalog).
static INSTALLED: LazyLock<RwLock<Option<(String, &'static Catalog)>>> =
    LazyLock::new(|| RwLock::new(None));

/// The merged catalog, when a snapshot is installed (read by [`Catalog::builtin`]).
pub(crate) fn installed() -> Option<&'static Catalog> {
    INSTALLED
        .read()
        .ok()
        .and_then(|g| g.as_ref().map(|(_, c)| *c))
}

/// Why a repository's snapshot cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{path}: cannot read the catalog snapshot: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the catalog snapshot is not valid: {source}")]
    Invalid {
        path: String,
        #[source]
        source: CatalogError,
    },
}

/// Reads `<root>/.rampart/catalog/snapshot.json`, when present, and makes the shipped
/// catalog merged with it the one [`Catalog::builtin`] returns from now on. Returns
/// whether a snapshot was installed. Reading the same snapshot again is free.
pub fn install_repository_snapshot(root: &Path) -> Result<bool, SnapshotError> {
    let path = snapshot_path(root);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(source) => {
            return Err(SnapshotError::Read {
                path: path.display().to_string(),
                source,
            });
        }
    };
    if let Ok(g) = INSTALLED.read()
        && g.as_ref().is_some_and(|(t, _)| *t == text)
    {
        return Ok(true);
    }
    let merged = Catalog::shipped_with(&text).map_err(|source| SnapshotError::Invalid {
        path: path.display().to_string(),
        source,
    })?;
    // One leak per distinct snapshot text in a process: callers hold `&'static Catalog`.
    let merged: &'static Catalog = Box::leak(Box::new(merged));
    if let Ok(mut g) = INSTALLED.write() {
        *g = Some((text, merged));
    }
    Ok(true)
}
