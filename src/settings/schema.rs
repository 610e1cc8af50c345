//! JSON Schema fragments (draft 2020-12) for the settings sections of a policy document, for
//! the language area to embed in `schemas/`. They describe shapes and list the readable
//! names for editor completion; the full checks (options per setting, ranges, templates)
//! are done by [`super::settings_from_yaml`], which reports them with locations.
//! The fragments use no `$ref`, so they can be embedded anywhere.

use serde_json::{Map, Value, json};

use crate::catalog::{Catalog, SettingDefinition, ValueType};

const ASR_ROOT: &str = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules";
const FW_RULES_ROOT: &str = "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}";

/// The explicit (lossless) value form; children are not described recursively.
fn explicit() -> Value {
    json!({
        "type": "object",
        "description": "Explicit setting value: exactly one of choice, choices, integer, string, secret, strings, integers, groups, group.",
        "properties": {
            "choice": {"type": ["string", "boolean", "integer"]},
            "choices": {"type": "array"},
            "integer": {"type": "integer"},
            "string": {"type": "string"},
            "secret": {"type": "string"},
            "valueState": {"type": "string"},
            "strings": {"type": "array"},
            "integers": {"type": "array"},
            "groups": {"type": "array", "items": {"type": "object"}},
            "group": {"type": "object"},
            "children": {"type": "object"},
            "instanceTemplateId": {"type": ["string", "null"]},
            "valueTemplateId": {"type": ["string", "null"]}
        },
        "additionalProperties": false,
        "minProperties": 1
    })
}

/// The short form of one known definition, or the explicit form.
fn value_schema(d: &SettingDefinition) -> Value {
    // Every spelling the reader accepts: readable name (booleans for true/false), raw
    // itemId and short suffix (also as a number when it is one).
    let mut names: Vec<Value> = Vec::new();
    for o in &d.options {
        let suffix = d.option_suffix(o);
        let mut spellings = vec![json!(o.name), json!(o.item_id), json!(suffix)];
        match o.name.as_str() {
            "true" => spellings.push(json!(true)),
            "false" => spellings.push(json!(false)),
            _ => {}
        }
        if let Ok(n) = suffix.parse::<i64>() {
            spellings.push(json!(n));
        }
        for v in spellings {
            if !names.contains(&v) {
                names.push(v);
            }
        }
    }
    let short = match d.value_type {
        ValueType::Choice => json!({"enum": names}),
        ValueType::ChoiceCollection => json!({"type": "array", "items": {"enum": names}}),
        ValueType::Integer => {
            let mut s = json!({"type": "integer"});
            if let Some(m) = d.minimum {
                s["minimum"] = json!(m);
            }
            if let Some(m) = d.maximum {
                s["maximum"] = json!(m);
            }
            s
        }
        ValueType::String => json!({"type": "string"}),
        ValueType::StringCollection => {
            json!({"type": "array", "items": {"type": ["string", "integer"]}})
        }
        ValueType::IntegerCollection => json!({"type": "array", "items": {"type": "integer"}}),
        ValueType::GroupCollection => json!({"type": "array", "items": {"type": "object"}}),
        ValueType::Group => json!(false),
    };
    json!({
        "description": format!("{} ({})", d.display_name, d.id),
        "anyOf": [short, explicit()]
    })
}

/// The `settings:` map: readable names of every template's root settings, plus any raw id.
pub fn settings_schema() -> Value {
    settings_schema_where(|_| true)
}

/// The `settings:` map of documents of `kind`: the root settings of that kind's templates
/// (every root setting for `SettingsCatalogPolicy`, which takes any definition).
pub fn settings_schema_for(kind: crate::desired::Kind) -> Value {
    let cat = Catalog::builtin();
    if kind == crate::desired::Kind::SettingsCatalogPolicy {
        return settings_schema();
    }
    let templates: Vec<&str> = cat
        .templates()
        .iter()
        .filter(|t| t.kind == kind)
        .map(|t| t.id.as_str())
        .collect();
    settings_schema_where(|d| d.templates.iter().any(|t| templates.contains(&t.as_str())))
}

fn settings_schema_where(keep: impl Fn(&crate::catalog::SettingDefinition) -> bool) -> Value {
    let cat = Catalog::builtin();
    let mut props = Map::new();
    for d in cat
        .definitions()
        .iter()
        .filter(|d| d.parent.is_none() && keep(d))
    {
        props.insert(d.name.clone(), value_schema(d));
    }
    json!({
        "type": "object",
        "description": "Settings by readable name (docs/settings-catalog.md) or raw settingDefinitionId.",
        "properties": props,
        "additionalProperties": {
            "anyOf": [
                {"type": ["string", "integer", "boolean", "array"]},
                explicit()
            ]
        }
    })
}

/// The ASR `rules:` map.
pub fn asr_rules_schema() -> Value {
    let cat = Catalog::builtin();
    let mode = json!({"enum": ["off", "block", "audit", "warn"]});
    let mut props = Map::new();
    for d in cat.children_of(ASR_ROOT) {
        props.insert(
            d.name.clone(),
            json!({
                "description": format!("{} ({})", d.display_name, d.rule_guid.as_deref().unwrap_or("")),
                "anyOf": [mode, {
                    "type": "object",
                    "properties": {"mode": mode, "exclusions": {"type": "array", "items": {"type": "string"}}},
                    "required": ["mode"],
                    "additionalProperties": false
                }]
            }),
        );
    }
    // Raw rule definition ids are accepted as keys too.
    json!({
        "type": "object",
        "properties": props,
        "patternProperties": {
            format!("^{ASR_ROOT}_[a-z0-9]+$"): {"anyOf": [mode, {"type": "object"}, {"type": "string"}]}
        },
        "additionalProperties": false
    })
}

fn fields_schema(parent: &str, skip_required: bool) -> Map<String, Value> {
    let cat = Catalog::builtin();
    let mut props = Map::new();
    for d in cat.children_of(parent) {
        if let Some(f) = &d.field {
            props.insert(f.clone(), value_schema(d));
        }
    }
    let _ = skip_required;
    props
}

/// The firewall `profiles:` map (`domain`, `private`, `public`).
pub fn firewall_profiles_schema() -> Value {
    let cat = Catalog::builtin();
    let mut profiles = Map::new();
    for d in cat
        .definitions()
        .iter()
        .filter(|d| d.field.as_deref() == Some("enabled") && d.parent.is_none())
    {
        let Some(p) = &d.profile else { continue };
        let mut props = fields_schema(&d.id, false);
        props.insert("enabled".into(), value_schema(d));
        profiles.insert(
            p.clone(),
            json!({"type": "object", "properties": props, "required": ["enabled"]}),
        );
    }
    json!({"type": "object", "properties": profiles, "additionalProperties": false})
}

/// The firewall-rules `rules:` list.
pub fn firewall_rules_schema() -> Value {
    let props = fields_schema(FW_RULES_ROOT, true);
    json!({
        "type": "array",
        "items": {"type": "object", "properties": props, "required": ["name"]}
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choice_schema_accepts_every_spelling_the_reader_accepts() {
        let s = settings_schema();
        let e = &s["properties"]["cloudBlockLevel"]["anyOf"][0]["enum"];
        for v in [
            json!("high"),
            json!("2"),
            json!(2),
            json!("device_vendor_msft_policy_config_defender_cloudblocklevel_2"),
        ] {
            assert!(e.as_array().unwrap().contains(&v), "{v}");
        }
        let fw = firewall_profiles_schema();
        let enabled = &fw["properties"]["domain"]["properties"]["enabled"]["anyOf"][0]["enum"];
        assert!(enabled.as_array().unwrap().contains(&json!(true)));
    }
}
