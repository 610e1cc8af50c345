//! What the catalog does not cover in a policy: setting definitions the catalog does not
//! know for the policy's template, and template versions the service has superseded or
//! deprecated. Both are warnings, never errors: the catalog is a convenience and the
//! service is the authority, so an unknown definition is planned and applied exactly as
//! written (Graph accepts or refuses it), and the warning names it so that a typo in a raw
//! id is still seen before apply. Plain settings-catalog policies (`templateFamily: none`)
//! get no unknown-definition warnings: the catalog never claims to know the whole settings
//! catalog.

use serde_json::Value;

use super::model::{SettingInstance, SettingValue};
use crate::catalog::{Catalog, Template};
use crate::diag::PathError;

/// Warnings for one policy's instances (as read from its document `doc`), each located at
/// the root setting's key under `/settings` (or at `/template` for the lifecycle).
pub fn coverage_warnings(
    template: &Template,
    instances: &[SettingInstance],
    doc: &Value,
) -> Vec<PathError> {
    let cat = Catalog::builtin();
    let mut out = Vec::new();
    if let Some(message) = template.lifecycle_warning() {
        out.push(PathError {
            pointer: "/template".into(),
            at_key: false,
            code: "superseded-template",
            message,
            help: Some("re-create the policy from the replacement template version".into()),
        });
    }
    if template.is_none_family() {
        return out;
    }
    let keys: Vec<&str> = doc
        .get("settings")
        .and_then(Value::as_object)
        .map(|m| m.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for root in instances {
        // The key the document uses for this root: its raw id or its readable name.
        let pointer = keys
            .iter()
            .find(|k| {
                **k == root.definition_id || cat.readable_name(&root.definition_id) == Some(**k)
            })
            .map_or_else(
                || "/settings".to_string(),
                |k| format!("/settings/{}", k.replace('~', "~0").replace('/', "~1")),
            );
        let mut unknown = Vec::new();
        if cat
            .definition(&root.definition_id)
            .is_none_or(|d| !d.in_template(&template.id))
        {
            unknown.push(root.definition_id.clone());
        }
        collect_unknown_children(cat, &root.value, &mut unknown);
        for id in unknown {
            out.push(PathError {
                pointer: pointer.clone(),
                at_key: true,
                code: "unknown-to-catalog",
                message: format!(
                    "setting `{id}` is not in rampart's catalog for the `{}` template; it is planned and applied as written",
                    template.alias
                ),
                help: Some(
                    "Graph checks it on apply; `rampart catalog refresh --tenant T` learns the template's settings from the service"
                        .into(),
                ),
            });
        }
    }
    out
}

fn collect_unknown_children(cat: &Catalog, value: &SettingValue, out: &mut Vec<String>) {
    let children: Vec<&SettingInstance> = match value {
        SettingValue::Choice(c) => c.children.iter().collect(),
        SettingValue::ChoiceCollection(cs) => cs.iter().flat_map(|c| &c.children).collect(),
        SettingValue::GroupCollection(gs) => gs.iter().flat_map(|g| &g.children).collect(),
        SettingValue::Group(g) => g.children.iter().collect(),
        SettingValue::Simple(_) | SettingValue::SimpleCollection(_) => Vec::new(),
    };
    for c in children {
        if cat.definition(&c.definition_id).is_none() && !out.contains(&c.definition_id) {
            out.push(c.definition_id.clone());
        }
        collect_unknown_children(cat, &c.value, out);
    }
}
