//! Readable names for plans: settings and options by the catalog's readable names, with a
//! fallback to the raw ids (shortened by the parent's prefix) for anything the catalog does
//! not know. The settings tree is flattened into `path -> value` leaves so that the diff can
//! report single settings, not whole trees.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::catalog::Catalog;
use crate::settings::{ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue};

/// The readable name of a definition; else the id without its parent's prefix.
pub fn setting_label(definition_id: &str, parent: Option<&str>) -> String {
    if let Some(name) = Catalog::builtin().readable_name(definition_id) {
        return name.to_string();
    }
    if let Some(p) = parent
        && let Some(rest) = definition_id.strip_prefix(p)
        && let Some(rest) = rest.strip_prefix('_')
        && !rest.is_empty()
    {
        return rest.to_string();
    }
    definition_id.to_string()
}

/// The readable name of a choice option; else its suffix after the definition id.
pub fn option_label(definition_id: &str, item_id: &str) -> String {
    if let Some(def) = Catalog::builtin().definition(definition_id)
        && let Some(opt) = def.option_by_item_id(item_id)
    {
        return opt.name.clone();
    }
    item_id
        .strip_prefix(definition_id)
        .and_then(|r| r.strip_prefix('_'))
        .filter(|r| !r.is_empty())
        .unwrap_or(item_id)
        .to_string()
}

/// Flattens a (normalised) settings tree into readable leaf paths, e.g.
/// `cloudBlockLevel -> "high"`, `asrRules.blockAdobeReader -> "block"`. Group collection
/// elements are keyed by their `..._name` child when they have one (firewall rules), else
/// by position.
pub fn flatten_settings(instances: &[SettingInstance]) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    flatten(instances, "", None, &mut out);
    out
}

fn flatten(
    instances: &[SettingInstance],
    prefix: &str,
    parent: Option<&str>,
    out: &mut BTreeMap<String, Value>,
) {
    for i in instances {
        let path = format!("{prefix}{}", setting_label(&i.definition_id, parent));
        let id = i.definition_id.as_str();
        match &i.value {
            SettingValue::Choice(c) => {
                out.insert(path.clone(), json!(option_label(id, &c.value)));
                flatten(&c.children, &format!("{path}."), Some(id), out);
            }
            SettingValue::ChoiceCollection(cs) => {
                let labels: Vec<String> = cs.iter().map(|c| option_label(id, &c.value)).collect();
                out.insert(path.clone(), json!(labels));
                for c in cs {
                    choice_children(c, id, &path, out);
                }
            }
            SettingValue::Simple(s) => {
                out.insert(path, simple(s));
            }
            SettingValue::SimpleCollection(ss) => {
                out.insert(path, Value::Array(ss.iter().map(simple).collect()));
            }
            SettingValue::GroupCollection(gs) => {
                let mut seen: BTreeMap<String, usize> = BTreeMap::new();
                for (n, g) in gs.iter().enumerate() {
                    let key = group_key(g).unwrap_or_else(|| n.to_string());
                    // Two elements with one name stay distinct.
                    let count = seen.entry(key.clone()).or_insert(0);
                    let key = if *count == 0 {
                        key
                    } else {
                        format!("{key}#{count}")
                    };
                    *seen.entry(key.clone()).or_insert(0) += 1;
                    flatten(&g.children, &format!("{path}[{key}]."), Some(id), out);
                }
                if gs.is_empty() {
                    out.insert(path, json!([]));
                }
            }
            SettingValue::Group(g) => flatten(&g.children, &format!("{path}."), Some(id), out),
        }
    }
}

fn choice_children(c: &ChoiceValue, id: &str, path: &str, out: &mut BTreeMap<String, Value>) {
    if !c.children.is_empty() {
        let label = option_label(id, &c.value);
        flatten(&c.children, &format!("{path}[{label}]."), Some(id), out);
    }
}

fn group_key(g: &GroupValue) -> Option<String> {
    g.children.iter().find_map(|c| match &c.value {
        SettingValue::Simple(SimpleValue::String { value, .. })
            if c.definition_id.ends_with("_name") =>
        {
            Some(value.clone())
        }
        _ => None,
    })
}

fn simple(s: &SimpleValue) -> Value {
    match s {
        SimpleValue::Integer { value, .. } => json!(value),
        SimpleValue::String { value, .. } => json!(value),
        // Never show a secret, even an encrypted token.
        SimpleValue::Secret { value_state, .. } => json!(format!("(secret, {value_state})")),
    }
}
