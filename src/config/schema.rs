//! JSON Schemas of the document kinds, derived from the file-shape types with schemars
//! (draft-07, the dialect `yaml-language-server` understands best), then specialised per
//! kind (`kind` becomes a constant, sections a kind does not have are removed).
//!
//! `validate` checks documents against [`for_kind`], computed here, never read from disk.
//! There the settings-catalog sections are plain objects/lists: `crate::settings` checks
//! them in full and reports each problem once, at its location. `schemas/*.json` are the
//! same schemas with the settings area's fragments embedded (readable names for editor
//! completion); a test regenerates them and fails when they differ ([`write_all`] rewrites
//! them; see docs/language.md).

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use crate::settings;

use super::{
    ConfigurationPolicyFile, DOCUMENT_KINDS, DetectionRuleFile, DistributionProfileFile,
    RoleAssignmentFile,
};

/// The file name of a kind's schema in `schemas/`, e.g. `detection-rule.schema.json`.
pub fn file_name(kind: &str) -> String {
    let mut out = String::new();
    for (i, c) in kind.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    format!("{out}.schema.json")
}

/// The name of the combined schema (any document), for `yaml-language-server`.
pub const COMBINED: &str = "rampart.schema.json";

fn generate<T: JsonSchema>() -> Value {
    let generator = SchemaSettings::draft07().into_generator();
    generator.into_root_schema_for::<T>().to_value()
}

/// The schema of one document kind; `None` for an unknown kind.
pub fn for_kind(kind: &str) -> Option<&'static Value> {
    SCHEMAS.get(kind)
}

static SCHEMAS: LazyLock<BTreeMap<&'static str, Value>> =
    LazyLock::new(|| DOCUMENT_KINDS.iter().map(|&k| (k, build(k))).collect());

fn build(kind: &str) -> Value {
    let mut schema = match kind {
        "DetectionRule" => generate::<DetectionRuleFile>(),
        "RoleAssignment" => generate::<RoleAssignmentFile>(),
        "DistributionProfile" => generate::<DistributionProfileFile>(),
        _ => generate::<ConfigurationPolicyFile>(),
    };
    let Some(obj) = schema.as_object_mut() else {
        return schema;
    };
    obj.insert("title".into(), Value::String(format!("rampart {kind}")));
    obj.insert(
        "$id".into(),
        Value::String(format!(
            "https://rampart.invalid/schemas/{}",
            file_name(kind)
        )),
    );
    if let Some(Value::Object(props)) = obj.get_mut("properties") {
        props.insert(
            "kind".into(),
            json!({ "const": kind, "description": "The document kind." }),
        );
        // Sections a kind does not have are unknown fields for it; `platforms` and
        // `technologies` are written only for plain settings-catalog policies (the
        // endpoint-security kinds take them from the template).
        if kind != "SettingsCatalogPolicy" {
            props.remove("platforms");
            props.remove("technologies");
        }
        match kind {
            "AntivirusPolicy"
            | "EndpointDetectionAndResponsePolicy"
            | "DiskEncryptionPolicy"
            | "AccountProtectionPolicy"
            | "ApplicationControlPolicy"
            | "SettingsCatalogPolicy" => {
                props.remove("rules");
                props.remove("profiles");
            }
            "AttackSurfaceReductionPolicy" => {
                props.remove("profiles");
                describe(
                    props,
                    "rules",
                    "ASR rule (readable name or definition id) -> off | block | audit | warn, or {mode, exclusions}.",
                );
            }
            "FirewallPolicy" => {
                describe(
                    props,
                    "rules",
                    "Firewall rules (template firewallRules): a list of {name, direction, action, ...}.",
                );
            }
            _ => {}
        }
        // Settings-catalog sections: objects (or a list for firewall rules); their inner
        // shape is checked by crate::settings, which reports each problem at its pointer.
        for (section, ty) in [("settings", "object"), ("profiles", "object")] {
            if let Some(Value::Object(s)) = props.get_mut(section) {
                s.insert("type".into(), Value::String(ty.into()));
            }
        }
        if let Some(Value::Object(s)) = props.get_mut("rules") {
            let ty = if kind == "FirewallPolicy" {
                "array"
            } else {
                "object"
            };
            s.insert("type".into(), Value::String(ty.into()));
        }
    }
    schema
}

fn describe(props: &mut Map<String, Value>, key: &str, text: &str) {
    if let Some(Value::Object(s)) = props.get_mut(key) {
        s.insert("description".into(), Value::String(text.into()));
    }
}

/// One schema for any document: dispatches on `kind` (if/then), for editors.
pub fn combined() -> Value {
    let mut definitions = Map::new();
    let mut all_of = Vec::new();
    for kind in DOCUMENT_KINDS {
        let mut s = editor(kind);
        if let Some(obj) = s.as_object_mut() {
            obj.remove("$schema");
            obj.remove("$id");
            if let Some(Value::Object(defs)) = obj.remove("definitions") {
                for (k, v) in defs {
                    definitions.insert(k, v);
                }
            }
        }
        definitions.insert(kind.to_string(), s);
        all_of.push(json!({
            "if": { "properties": { "kind": { "const": kind } }, "required": ["kind"] },
            "then": { "$ref": format!("#/definitions/{kind}") }
        }));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": format!("https://rampart.invalid/schemas/{COMBINED}"),
        "title": "rampart document",
        "description": "Any rampart document; `kind` selects the schema.",
        "type": "object",
        "required": ["kind", "name"],
        "properties": { "kind": { "enum": DOCUMENT_KINDS } },
        "allOf": all_of,
        "definitions": definitions,
    })
}

/// The schema of `kind` for editors: [`for_kind`] plus the settings fragments.
pub fn editor(kind: &str) -> Value {
    let mut schema = build(kind);
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        let mut embed = |key: &str, fragment: Value| {
            if let Some(Value::Object(s)) = props.get_mut(key)
                && let Value::Object(f) = fragment
            {
                let description = s.remove("description");
                s.clear();
                s.extend(f);
                if let (Some(d), false) = (description, s.contains_key("description")) {
                    s.insert("description".into(), d);
                }
            }
        };
        match kind {
            "AntivirusPolicy"
            | "EndpointDetectionAndResponsePolicy"
            | "DiskEncryptionPolicy"
            | "AccountProtectionPolicy"
            | "ApplicationControlPolicy"
            | "SettingsCatalogPolicy" => {
                if let Some(k) = crate::desired::Kind::parse(kind) {
                    embed("settings", settings::settings_schema_for(k));
                }
            }
            "AttackSurfaceReductionPolicy" => {
                embed(
                    "settings",
                    settings::settings_schema_for(
                        crate::desired::Kind::AttackSurfaceReductionPolicy,
                    ),
                );
                embed("rules", settings::asr_rules_schema());
            }
            "FirewallPolicy" => {
                embed(
                    "settings",
                    settings::settings_schema_for(crate::desired::Kind::FirewallPolicy),
                );
                embed("profiles", settings::firewall_profiles_schema());
                embed("rules", settings::firewall_rules_schema());
            }
            _ => {}
        }
    }
    schema
}

/// Every schema file as (file name, pretty JSON text), sorted by name.
pub fn files() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = DOCUMENT_KINDS
        .iter()
        .map(|k| (file_name(k), pretty(&editor(k))))
        .collect();
    out.push((COMBINED.to_string(), pretty(&combined())));
    out.sort();
    out
}

fn pretty(v: &Value) -> String {
    // Serialising a Value cannot fail.
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// Writes every schema into `dir` (the repository's `schemas/`).
pub fn write_all(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for (name, text) in files() {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn file_names_are_kebab_case() {
        assert_eq!(
            super::file_name("AttackSurfaceReductionPolicy"),
            "attack-surface-reduction-policy.schema.json"
        );
    }
}
