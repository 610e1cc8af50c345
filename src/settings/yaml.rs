//! The YAML (document) layer of settings: the `settings:` map of every configuration policy,
//! the ASR `rules:` map, the firewall `profiles:` map and the firewall-rules `rules:` list,
//! read from a document already converted from YAML to JSON, and written back.
//!
//! Reading reports every problem with a JSON pointer (`/settings/cloudBlockLevel`,
//! `/rules/3/localPorts/0`), never only the first. A setting is named by its readable name
//! or its raw definition id; its value is either a *short form* (an option name, a number, a
//! string, a list), which needs the catalog to know the definition, or the *explicit form*
//! (`{choice: ..}`, `{integer: ..}`, `{strings: [..]}`, `{groups: [..]}`, ...), which is
//! always accepted and carries everything the model has (template references, children).
//!
//! Template references: for a template's root settings the catalog's
//! `settingInstanceTemplateId`/`settingValueTemplateId` are filled in when the YAML does not
//! give them; `instanceTemplateId: null` / `valueTemplateId: null` say "none". Below the root
//! nothing is filled in (real exports carry no references on children).
//!
//! Writing ([`settings_to_yaml`]) picks, for every entry, the most readable form that reads
//! back to exactly the same instances (checked by reading it back), falling back to the
//! explicit form, then to the explicit form with raw ids.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::model::{ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue};
use super::wire::normalised;
use crate::catalog::{Catalog, SettingDefinition, Template, ValueType};
use crate::desired::Kind;
use crate::diag::PathError;

const ASR_ROOT: &str = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules";
const FW_RULES_ROOT: &str = "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}";
const PROFILES: [&str; 3] = ["domain", "private", "public"];
const EXPLICIT_KINDS: [&str; 9] = [
    "choice", "choices", "integer", "string", "secret", "strings", "integers", "groups", "group",
];

/// Escapes one JSON-pointer segment (RFC 6901).
fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// Where an instance sits: a template root setting, or below a parent definition.
#[derive(Clone, Copy)]
enum Place<'a> {
    Root,
    Child(&'a str),
}

struct Reader<'a> {
    cat: &'a Catalog,
    template: &'a Template,
    errors: Vec<PathError>,
}

impl<'a> Reader<'a> {
    fn error(
        &mut self,
        pointer: String,
        at_key: bool,
        code: &'static str,
        message: String,
        help: Option<String>,
    ) {
        self.errors.push(PathError {
            pointer,
            at_key,
            code,
            message,
            help,
        });
    }

    fn wrong_type(&mut self, ptr: &str, what: &str, expected: &str) {
        self.error(
            ptr.to_string(),
            false,
            "wrong-type",
            format!("{what} must be {expected}"),
            None,
        );
    }

    /// Resolves a key naming a setting at `place`. `None` after reporting an error.
    fn resolve_key(
        &mut self,
        key: &str,
        place: Place<'_>,
        ptr: &str,
    ) -> Option<(Option<&'a SettingDefinition>, String)> {
        let cat = self.cat;
        let found = cat.definition_by_name(key).or_else(|| cat.definition(key));
        match (found, place) {
            (Some(d), Place::Root) => {
                let in_template =
                    self.template.is_none_family() || d.in_template(&self.template.id);
                if !in_template && looks_raw(key) {
                    // The catalog is not complete: a raw id the catalog lists under other
                    // templates may well be defined by this one too (the same Defender
                    // setting appears in antivirus and device control, with different
                    // template references). Taken as written, like any unknown id.
                    return Some((None, key.to_string()));
                }
                if !in_template {
                    let owners: Vec<String> = d
                        .templates
                        .iter()
                        .filter_map(|t| cat.template(t))
                        .map(|t| t.alias.clone())
                        .collect();
                    self.error(
                        ptr.to_string(),
                        true,
                        "setting-not-in-template",
                        format!(
                            "setting `{key}` is not part of the `{}` template",
                            self.template.alias
                        ),
                        Some(format!(
                            "it belongs to the template(s): {}",
                            owners.join(", ")
                        )),
                    );
                    return None;
                }
                if let Some(p) = &d.parent {
                    let parent = cat.readable_name(p).unwrap_or(p);
                    self.error(
                        ptr.to_string(),
                        true,
                        "misplaced-setting",
                        format!("setting `{key}` is not a top-level setting"),
                        Some(format!("write it under `{parent}`")),
                    );
                    return None;
                }
                Some((Some(d), d.id.clone()))
            }
            (Some(d), Place::Child(parent)) => {
                if d.parent.as_deref() != Some(parent) && cat.definition(parent).is_some() {
                    let pname = cat.readable_name(parent).unwrap_or(parent);
                    self.error(
                        ptr.to_string(),
                        true,
                        "misplaced-setting",
                        format!("setting `{key}` is not a child of `{pname}`"),
                        None,
                    );
                    return None;
                }
                Some((Some(d), d.id.clone()))
            }
            (None, _) if looks_raw(key) => Some((None, key.to_string())),
            (None, place) => {
                let candidates: Vec<&str> = match place {
                    Place::Root => cat
                        .root_definitions(&self.template.id)
                        .map(|d| d.name.as_str())
                        .collect(),
                    Place::Child(p) => cat.children_of(p).map(|d| d.name.as_str()).collect(),
                };
                let help =
                    Catalog::suggest(key, candidates).map(|s| format!("did you mean `{s}`?"));
                self.error(
                    ptr.to_string(),
                    true,
                    "unknown-setting",
                    format!("unknown setting `{key}` for the `{}` template", self.template.alias),
                    help.or_else(|| {
                        Some("use a readable name from docs/settings-catalog.md or a raw settingDefinitionId".into())
                    }),
                );
                None
            }
        }
    }

    /// A map of settings (`settings:` or a `children:` map).
    fn settings_map(&mut self, v: &Value, ptr: &str, place: Place<'_>) -> Vec<SettingInstance> {
        let Some(map) = v.as_object() else {
            self.wrong_type(ptr, "this", "a mapping of setting names to values");
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        for (key, value) in map {
            let p = format!("{ptr}/{}", seg(key));
            let Some((def, id)) = self.resolve_key(key, place, &p) else {
                continue;
            };
            if let Some(first) = seen.insert(id.clone(), key.clone()) {
                self.error(
                    p.clone(),
                    true,
                    "duplicate-setting",
                    format!("setting `{key}` is given twice (also as `{first}`)"),
                    None,
                );
                continue;
            }
            if let Some(inst) = self.value(def, &id, value, &p, matches!(place, Place::Root)) {
                out.push(inst);
            }
        }
        out
    }

    /// One setting value, short or explicit form.
    fn value(
        &mut self,
        def: Option<&'a SettingDefinition>,
        id: &str,
        v: &Value,
        ptr: &str,
        root: bool,
    ) -> Option<SettingInstance> {
        if v.is_object() {
            return self.explicit(def, id, v, ptr, root);
        }
        let Some(def) = def else {
            self.error(
                ptr.to_string(),
                false,
                "explicit-form-required",
                format!("the catalog does not know `{id}`, so a short value cannot be interpreted"),
                Some(format!("use the explicit form, e.g. `{{choice: {id}_1}}`, `{{integer: 5}}` or `{{strings: [..]}}`")),
            );
            return None;
        };
        let fill_sit = if root && !self.template.is_none_family() {
            def.setting_instance_template_id.clone()
        } else {
            None
        };
        let fill_vt = if root && !self.template.is_none_family() {
            def.setting_value_template_id.clone()
        } else {
            None
        };
        let name = def.name.as_str();
        let value = match def.value_type {
            ValueType::Choice => {
                let item = self.option(def, v, ptr)?;
                SettingValue::Choice(ChoiceValue {
                    value: item,
                    value_template_id: fill_vt,
                    children: Vec::new(),
                })
            }
            ValueType::ChoiceCollection => {
                let Some(items) = v.as_array() else {
                    self.wrong_type(ptr, name, def.value_type.describe());
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(value) = self.option(def, item, &format!("{ptr}/{i}")) {
                        out.push(ChoiceValue {
                            value,
                            value_template_id: None,
                            children: Vec::new(),
                        });
                    }
                }
                SettingValue::ChoiceCollection(out)
            }
            ValueType::Integer => {
                let value = self.integer(Some(def), v, ptr)?;
                SettingValue::Simple(SimpleValue::Integer {
                    value,
                    value_template_id: fill_vt,
                })
            }
            ValueType::String => {
                let Some(s) = v.as_str() else {
                    self.wrong_type(ptr, name, "a string");
                    return None;
                };
                SettingValue::Simple(SimpleValue::String {
                    value: s.to_string(),
                    value_template_id: fill_vt,
                })
            }
            ValueType::StringCollection => {
                let Some(items) = v.as_array() else {
                    self.wrong_type(ptr, name, def.value_type.describe());
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    // Ports are often written as numbers; the setting stores strings.
                    let s = match item {
                        Value::String(s) => s.clone(),
                        Value::Number(n) => n.to_string(),
                        _ => {
                            self.wrong_type(&format!("{ptr}/{i}"), "each element", "a string");
                            continue;
                        }
                    };
                    out.push(SimpleValue::String {
                        value: s,
                        value_template_id: None,
                    });
                }
                SettingValue::SimpleCollection(out)
            }
            ValueType::IntegerCollection => {
                let Some(items) = v.as_array() else {
                    self.wrong_type(ptr, name, def.value_type.describe());
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    if let Some(value) = self.integer(Some(def), item, &format!("{ptr}/{i}")) {
                        out.push(SimpleValue::Integer {
                            value,
                            value_template_id: None,
                        });
                    }
                }
                SettingValue::SimpleCollection(out)
            }
            ValueType::GroupCollection => {
                let Some(items) = v.as_array() else {
                    self.wrong_type(ptr, name, "a list of mappings (one per group)");
                    return None;
                };
                let groups = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, g)| self.group(&def.id, g, &format!("{ptr}/{i}")))
                    .collect();
                SettingValue::GroupCollection(groups)
            }
            ValueType::Group => {
                self.wrong_type(ptr, name, "written in the explicit form `{group: {...}}`");
                return None;
            }
        };
        Some(SettingInstance {
            definition_id: def.id.clone(),
            instance_template_id: fill_sit,
            value,
        })
    }

    /// Resolves an option (readable, short suffix or raw `itemId`) to its `itemId`.
    fn option(&mut self, def: &SettingDefinition, v: &Value, ptr: &str) -> Option<String> {
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            _ => {
                self.wrong_type(ptr, &def.name, "an option name");
                return None;
            }
        };
        if let Some(o) = def.option(&text) {
            return Some(o.item_id.clone());
        }
        // Unverified definitions may have options the catalog lacks: accept raw ids.
        if !def.verified && text.starts_with(&format!("{}_", def.id)) {
            return Some(text);
        }
        let names = def.option_names();
        self.error(
            ptr.to_string(),
            false,
            "invalid-option",
            format!("`{text}` is not a valid value for `{}`", def.name),
            Some(format!("valid values: {}", names.join(", "))),
        );
        None
    }

    fn integer(&mut self, def: Option<&SettingDefinition>, v: &Value, ptr: &str) -> Option<i64> {
        let Some(n) = v.as_i64() else {
            // A whole number past i64 was read as a float: say it is too big, with the
            // setting's own range, rather than "must be an integer".
            if let Some(f) = v.as_f64()
                && f.fract() == 0.0
                && f.abs() >= 9.2e18
            {
                let max = def.and_then(|d| d.maximum).unwrap_or(i64::MAX);
                self.error(
                    ptr.to_string(),
                    false,
                    "number-too-large",
                    format!(
                        "{v} is too big for `{}`",
                        def.map_or("this value", |d| d.name.as_str())
                    ),
                    Some(format!("the largest value allowed here is {max}")),
                );
                return None;
            }
            self.wrong_type(
                ptr,
                def.map_or("this value", |d| d.name.as_str()),
                "an integer",
            );
            return None;
        };
        if let Some(d) = def {
            let lo = d.minimum.unwrap_or(i64::MIN);
            let hi = d.maximum.unwrap_or(i64::MAX);
            if n < lo || n > hi {
                self.error(
                    ptr.to_string(),
                    false,
                    "out-of-range",
                    format!("{n} is out of range for `{}`", d.name),
                    Some(format!(
                        "allowed: {}..={}",
                        d.minimum.map_or("-".into(), |m| m.to_string()),
                        d.maximum.map_or("-".into(), |m| m.to_string())
                    )),
                );
                return None;
            }
        }
        Some(n)
    }

    /// One group element: a children map, or `{children: {...}, valueTemplateId: ..}`.
    fn group(&mut self, parent: &str, v: &Value, ptr: &str) -> Option<GroupValue> {
        let Some(map) = v.as_object() else {
            self.wrong_type(ptr, "a group", "a mapping of setting names to values");
            return None;
        };
        let wrapped = map.contains_key("children")
            && map
                .keys()
                .all(|k| k == "children" || k == "valueTemplateId");
        if wrapped {
            let value_template_id = self.template_ref(map, "valueTemplateId", None, ptr);
            let children = self.settings_map(
                &map["children"],
                &format!("{ptr}/children"),
                Place::Child(parent),
            );
            Some(GroupValue {
                value_template_id,
                children,
            })
        } else {
            Some(GroupValue {
                value_template_id: None,
                children: self.settings_map(v, ptr, Place::Child(parent)),
            })
        }
    }

    /// A template reference key: absent -> `fill`, null -> none, string -> it.
    fn template_ref(
        &mut self,
        map: &Map<String, Value>,
        key: &str,
        fill: Option<&String>,
        ptr: &str,
    ) -> Option<String> {
        match map.get(key) {
            None => fill.cloned(),
            Some(Value::Null) => None,
            // The template defines this reference: any other id is refused by Intune
            // (400 "Invalid Reference id"), so it is an error here, at the value.
            Some(Value::String(s)) if fill.is_some_and(|f| !f.eq_ignore_ascii_case(s)) => {
                let want = fill.map(String::as_str).unwrap_or_default();
                self.error(
                    format!("{ptr}/{key}"),
                    false,
                    "invalid-template-reference",
                    format!("the template does not define `{s}` here; it defines `{want}`"),
                    Some(format!(
                        "remove `{key}` (rampart fills in `{want}`), or write `{key}: null` for none"
                    )),
                );
                fill.cloned()
            }
            Some(Value::String(s)) if uuid::Uuid::try_parse(s).is_err() => {
                self.error(
                    format!("{ptr}/{key}"),
                    false,
                    "invalid-template-reference",
                    format!("`{s}` is not a template id (a GUID)"),
                    None,
                );
                None
            }
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.wrong_type(&format!("{ptr}/{key}"), key, "a string or null");
                None
            }
        }
    }

    fn explicit(
        &mut self,
        def: Option<&'a SettingDefinition>,
        id: &str,
        v: &Value,
        ptr: &str,
        root: bool,
    ) -> Option<SettingInstance> {
        let map = v.as_object()?;
        let kinds: Vec<&str> = EXPLICIT_KINDS
            .iter()
            .copied()
            .filter(|k| map.contains_key(*k))
            .collect();
        let [kind] = kinds[..] else {
            self.error(
                ptr.to_string(),
                false,
                "invalid-explicit-form",
                if kinds.is_empty() {
                    "an explicit setting value needs exactly one of: choice, choices, integer, string, secret, strings, integers, groups, group".to_string()
                } else {
                    format!("an explicit setting value has exactly one value key, found: {}", kinds.join(", "))
                },
                None,
            );
            return None;
        };
        let mut allowed = vec![kind, "instanceTemplateId"];
        match kind {
            "choice" => allowed.extend(["valueTemplateId", "children"]),
            "integer" | "string" => allowed.push("valueTemplateId"),
            "secret" => allowed.extend(["valueTemplateId", "valueState"]),
            _ => {}
        }
        for k in map.keys() {
            if !allowed.contains(&k.as_str()) {
                self.error(
                    format!("{ptr}/{}", seg(k)),
                    true,
                    "unknown-field",
                    format!("unknown field `{k}` in an explicit `{kind}` value"),
                    Some(format!("allowed fields: {}", allowed.join(", "))),
                );
            }
        }
        let fill_sit = if root && !self.template.is_none_family() {
            def.and_then(|d| d.setting_instance_template_id.as_ref())
        } else {
            None
        };
        let fill_vt = if root && !self.template.is_none_family() {
            def.and_then(|d| d.setting_value_template_id.as_ref())
        } else {
            None
        };
        let instance_template_id = self.template_ref(map, "instanceTemplateId", fill_sit, ptr);
        let vp = format!("{ptr}/{kind}");
        let raw = &map[kind];
        let value = match kind {
            "choice" => {
                let vt = self.template_ref(map, "valueTemplateId", fill_vt, ptr);
                let c = self.explicit_choice(def, id, raw, map.get("children"), vt, ptr, &vp)?;
                SettingValue::Choice(c)
            }
            "choices" => {
                let Some(items) = raw.as_array() else {
                    self.wrong_type(&vp, "choices", "a list");
                    return None;
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{vp}/{i}");
                    let c = match item.as_object() {
                        Some(m) => {
                            for k in m.keys() {
                                if !["choice", "children", "valueTemplateId"].contains(&k.as_str())
                                {
                                    self.error(
                                        format!("{ip}/{}", seg(k)),
                                        true,
                                        "unknown-field",
                                        format!("unknown field `{k}` in a choice"),
                                        Some(
                                            "allowed fields: choice, children, valueTemplateId"
                                                .into(),
                                        ),
                                    );
                                }
                            }
                            let Some(c) = m.get("choice") else {
                                self.error(
                                    ip.clone(),
                                    false,
                                    "missing-field",
                                    "a choice element needs `choice`".into(),
                                    None,
                                );
                                continue;
                            };
                            let vt = self.template_ref(m, "valueTemplateId", None, &ip);
                            self.explicit_choice(
                                def,
                                id,
                                c,
                                m.get("children"),
                                vt,
                                &ip,
                                &format!("{ip}/choice"),
                            )
                        }
                        None => self.explicit_choice(def, id, item, None, None, &ip, &ip),
                    };
                    out.extend(c);
                }
                SettingValue::ChoiceCollection(out)
            }
            "integer" => {
                let value = self.integer(def, raw, &vp)?;
                let value_template_id = self.template_ref(map, "valueTemplateId", fill_vt, ptr);
                SettingValue::Simple(SimpleValue::Integer {
                    value,
                    value_template_id,
                })
            }
            "string" => {
                let Some(s) = raw.as_str() else {
                    self.wrong_type(&vp, "string", "a string");
                    return None;
                };
                let value_template_id = self.template_ref(map, "valueTemplateId", fill_vt, ptr);
                SettingValue::Simple(SimpleValue::String {
                    value: s.to_string(),
                    value_template_id,
                })
            }
            "secret" => {
                let (Some(s), Some(state)) =
                    (raw.as_str(), map.get("valueState").and_then(Value::as_str))
                else {
                    self.wrong_type(ptr, "secret", "`{secret: <string>, valueState: <string>}`");
                    return None;
                };
                let value_template_id = self.template_ref(map, "valueTemplateId", fill_vt, ptr);
                SettingValue::Simple(SimpleValue::Secret {
                    value: s.to_string(),
                    value_state: state.to_string(),
                    value_template_id,
                })
            }
            "strings" | "integers" => {
                let Some(items) = raw.as_array() else {
                    self.wrong_type(&vp, kind, "a list");
                    return None;
                };
                let elem = if kind == "strings" {
                    "string"
                } else {
                    "integer"
                };
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{vp}/{i}");
                    let (scalar, vt) = match item.as_object() {
                        Some(m)
                            if m.contains_key(elem)
                                && m.keys().all(|k| k == elem || k == "valueTemplateId") =>
                        {
                            (&m[elem], self.template_ref(m, "valueTemplateId", None, &ip))
                        }
                        Some(_) => {
                            self.wrong_type(
                                &ip,
                                "each element",
                                &format!("a scalar or `{{{elem}: .., valueTemplateId: ..}}`"),
                            );
                            continue;
                        }
                        None => (item, None),
                    };
                    if kind == "strings" {
                        match scalar.as_str() {
                            Some(s) => out.push(SimpleValue::String {
                                value: s.to_string(),
                                value_template_id: vt,
                            }),
                            None => self.wrong_type(&ip, "each element", "a string"),
                        }
                    } else if let Some(n) = self.integer(def, scalar, &ip) {
                        out.push(SimpleValue::Integer {
                            value: n,
                            value_template_id: vt,
                        });
                    }
                }
                SettingValue::SimpleCollection(out)
            }
            "groups" => {
                let Some(items) = raw.as_array() else {
                    self.wrong_type(&vp, "groups", "a list");
                    return None;
                };
                SettingValue::GroupCollection(
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, g)| self.group(id, g, &format!("{vp}/{i}")))
                        .collect(),
                )
            }
            _ => SettingValue::Group(self.group(id, raw, &vp)?),
        };
        Some(SettingInstance {
            definition_id: id.to_string(),
            instance_template_id,
            value,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn explicit_choice(
        &mut self,
        def: Option<&'a SettingDefinition>,
        id: &str,
        raw: &Value,
        children: Option<&Value>,
        value_template_id: Option<String>,
        ptr: &str,
        value_ptr: &str,
    ) -> Option<ChoiceValue> {
        let value = match def {
            Some(d) => self.option(d, raw, value_ptr)?,
            None => match raw {
                Value::String(s) => s.clone(),
                _ => {
                    self.wrong_type(value_ptr, "choice", "an option itemId");
                    return None;
                }
            },
        };
        let children = match children {
            Some(c) => {
                let kids = self.settings_map(c, &format!("{ptr}/children"), Place::Child(id));
                self.check_parent_options(&kids, &value, &format!("{ptr}/children"));
                kids
            }
            None => Vec::new(),
        };
        Some(ChoiceValue {
            value,
            value_template_id,
            children,
        })
    }

    /// Children the catalog ties to some options of their parent must sit under one of them.
    fn check_parent_options(&mut self, kids: &[SettingInstance], item: &str, ptr: &str) {
        for k in kids {
            if let Some(d) = self.cat.definition(&k.definition_id)
                && !d.parent_options.is_empty()
                && !d.parent_options.iter().any(|p| p == item)
            {
                let allowed: Vec<&str> = d
                    .parent_options
                    .iter()
                    .map(|p| p.rsplit('_').next().unwrap_or(p))
                    .collect();
                self.error(
                    format!("{ptr}/{}", seg(&d.name)),
                    true,
                    "invalid-child",
                    format!(
                        "`{}` only applies when its parent is {}",
                        d.name,
                        allowed.join(" or ")
                    ),
                    None,
                );
            }
        }
    }

    /// ASR `rules:` map -> the attack-surface-reduction group collection.
    fn asr_rules(&mut self, v: &Value, ptr: &str) -> Option<SettingInstance> {
        let cat = self.cat;
        let root = cat.definition(ASR_ROOT)?;
        let Some(map) = v.as_object() else {
            self.wrong_type(
                ptr,
                "rules",
                "a mapping of ASR rule names to off|block|audit|warn",
            );
            return None;
        };
        let mut children = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, value) in map {
            let p = format!("{ptr}/{}", seg(key));
            let Some(rule) = cat
                .definition_by_name(key)
                .or_else(|| cat.definition(key))
                .filter(|d| d.parent.as_deref() == Some(ASR_ROOT))
            else {
                let help =
                    Catalog::suggest(key, cat.children_of(ASR_ROOT).map(|d| d.name.as_str()))
                        .map(|s| format!("did you mean `{s}`?"));
                self.error(
                    p,
                    true,
                    "unknown-setting",
                    format!("unknown ASR rule `{key}`"),
                    help,
                );
                continue;
            };
            if !seen.insert(rule.id.clone()) {
                self.error(
                    p,
                    true,
                    "duplicate-setting",
                    format!("ASR rule `{key}` is given twice"),
                    None,
                );
                continue;
            }
            let (mode, exclusions, mode_ptr) = match value {
                Value::Object(m) => {
                    for k in m.keys() {
                        if k != "mode" && k != "exclusions" {
                            self.error(
                                format!("{p}/{}", seg(k)),
                                true,
                                "unknown-field",
                                format!("unknown field `{k}` in an ASR rule"),
                                Some("allowed fields: mode, exclusions".into()),
                            );
                        }
                    }
                    let Some(mode) = m.get("mode") else {
                        self.error(
                            p.clone(),
                            false,
                            "missing-field",
                            format!("ASR rule `{key}` needs `mode`"),
                            None,
                        );
                        continue;
                    };
                    (mode, m.get("exclusions"), format!("{p}/mode"))
                }
                other => (other, None, p.clone()),
            };
            let Some(item) = self.option(rule, mode, &mode_ptr) else {
                continue;
            };
            let mut kids = Vec::new();
            if let Some(ex) = exclusions {
                let ep = format!("{p}/exclusions");
                if let Some(ex_def) = cat
                    .children_of(&rule.id)
                    .find(|d| d.field.as_deref() == Some("exclusions"))
                    && let Some(inst) = self.value(Some(ex_def), &ex_def.id, ex, &ep, false)
                {
                    if !ex_def.parent_options.iter().any(|o| o == &item) {
                        self.error(
                            ep,
                            false,
                            "invalid-child",
                            "exclusions only apply when the rule is block, audit or warn".into(),
                            None,
                        );
                    } else {
                        kids.push(inst);
                    }
                }
            }
            children.push(SettingInstance {
                definition_id: rule.id.clone(),
                instance_template_id: None,
                value: SettingValue::Choice(ChoiceValue {
                    value: item,
                    value_template_id: None,
                    children: kids,
                }),
            });
        }
        Some(SettingInstance {
            definition_id: root.id.clone(),
            instance_template_id: root.setting_instance_template_id.clone(),
            value: SettingValue::GroupCollection(vec![GroupValue {
                value_template_id: None,
                children,
            }]),
        })
    }

    /// A field map inside a readable section: field name (or raw child id) -> value.
    fn fields(
        &mut self,
        parent: &'a SettingDefinition,
        map: &Map<String, Value>,
        skip: &[&str],
        ptr: &str,
    ) -> Vec<SettingInstance> {
        let cat = self.cat;
        let mut out = Vec::new();
        let mut seen = BTreeSet::new();
        for (key, value) in map {
            if skip.contains(&key.as_str()) {
                continue;
            }
            let p = format!("{ptr}/{}", seg(key));
            let def = cat
                .children_of(&parent.id)
                .find(|d| d.field.as_deref() == Some(key.as_str()));
            let (def, id) = match def {
                Some(d) => (Some(d), d.id.clone()),
                None if looks_raw(key) => {
                    let d = cat.definition(key);
                    if d.is_some_and(|d| d.parent.as_deref() != Some(parent.id.as_str())) {
                        self.error(
                            p,
                            true,
                            "misplaced-setting",
                            format!("setting `{key}` does not belong here"),
                            None,
                        );
                        continue;
                    }
                    (d, key.clone())
                }
                None => {
                    let mut fields: Vec<&str> = cat
                        .children_of(&parent.id)
                        .filter_map(|d| d.field.as_deref())
                        .collect();
                    fields.extend(skip);
                    let help = Catalog::suggest(key, fields.iter().copied())
                        .map(|s| format!("did you mean `{s}`?"))
                        .or_else(|| Some(format!("known fields: {}", fields.join(", "))));
                    self.error(
                        p,
                        true,
                        "unknown-field",
                        format!("unknown field `{key}`"),
                        help,
                    );
                    continue;
                }
            };
            if !seen.insert(id.clone()) {
                self.error(
                    p,
                    true,
                    "duplicate-setting",
                    format!("`{key}` is given twice"),
                    None,
                );
                continue;
            }
            if let Some(inst) = self.value(def, &id, value, &p, false) {
                out.push(inst);
            }
        }
        out
    }

    /// Firewall `profiles:` -> one `..._enablefirewall` choice per profile.
    fn profiles(&mut self, v: &Value, ptr: &str) -> Vec<SettingInstance> {
        let cat = self.cat;
        let Some(map) = v.as_object() else {
            self.wrong_type(
                ptr,
                "profiles",
                "a mapping with domain, private and/or public",
            );
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, body) in map {
            let p = format!("{ptr}/{}", seg(name));
            let root = cat.definitions().iter().find(|d| {
                d.profile.as_deref() == Some(name.as_str())
                    && d.field.as_deref() == Some("enabled")
                    && d.parent.is_none()
            });
            let Some(root) = root.filter(|_| PROFILES.contains(&name.as_str())) else {
                let help = Catalog::suggest(name, PROFILES).map(|s| format!("did you mean `{s}`?"));
                self.error(
                    p,
                    true,
                    "unknown-field",
                    format!("unknown firewall profile `{name}`"),
                    help.or(Some("profiles are domain, private, public".into())),
                );
                continue;
            };
            let Some(fields) = body.as_object() else {
                self.wrong_type(&p, name, "a mapping of profile settings");
                continue;
            };
            let Some(enabled) = fields.get("enabled") else {
                self.error(
                    p,
                    false,
                    "missing-field",
                    format!("profile `{name}` needs `enabled`"),
                    None,
                );
                continue;
            };
            let ep = format!("{p}/enabled");
            let kids = self.fields(root, fields, &["enabled"], &p);
            let Some(mut inst) = self.value(Some(root), &root.id, enabled, &ep, true) else {
                continue;
            };
            if let SettingValue::Choice(c) = &mut inst.value {
                self.check_parent_options(&kids, &c.value.clone(), &p);
                c.children.extend(kids);
            }
            out.push(inst);
        }
        out
    }

    /// Firewall-rules `rules:` list -> the firewall-rules group collection.
    fn firewall_rules(&mut self, v: &Value, ptr: &str) -> Option<SettingInstance> {
        let cat = self.cat;
        let root = cat.definition(FW_RULES_ROOT)?;
        let Some(items) = v.as_array() else {
            self.wrong_type(ptr, "rules", "a list of firewall rules");
            return None;
        };
        let mut groups = Vec::new();
        let mut names: BTreeMap<String, usize> = BTreeMap::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{ptr}/{i}");
            let Some(map) = item.as_object() else {
                self.wrong_type(&p, "a firewall rule", "a mapping");
                continue;
            };
            match map.get("name").and_then(Value::as_str) {
                Some(n) => {
                    if let Some(first) = names.insert(n.to_string(), i) {
                        self.error(
                            format!("{p}/name"),
                            false,
                            "duplicate-rule-name",
                            format!("firewall rule name `{n}` is used twice in this policy"),
                            Some(format!("first used by rule {first} (`{ptr}/{first}`)")),
                        );
                    }
                }
                None if map.get("name").is_some_and(Value::is_object) => {}
                None => {
                    self.error(
                        p.clone(),
                        false,
                        "missing-field",
                        "a firewall rule needs a `name`".into(),
                        None,
                    );
                }
            }
            groups.push(GroupValue {
                value_template_id: None,
                children: self.fields(root, map, &[], &p),
            });
        }
        Some(SettingInstance {
            definition_id: root.id.clone(),
            instance_template_id: root.setting_instance_template_id.clone(),
            value: SettingValue::GroupCollection(groups),
        })
    }
}

/// Raw definition ids are lower case with underscores (ADMX-backed ones also contain `~`);
/// readable names are camelCase.
fn looks_raw(key: &str) -> bool {
    key.contains('_')
        && key
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_{}.-~".contains(c))
}

/// Which readable sections a template has.
fn sections(template: &Template) -> (bool, bool, bool) {
    // Only the templates whose sections rampart reads (`rules:` and `profiles:` are
    // spelled out below); every other template, of any family, takes `settings:` only.
    let asr_rules = template.alias == "asr";
    let fw_rules = template.alias == "firewallRules";
    let profiles = template.alias == "firewall";
    (asr_rules, fw_rules, profiles)
}

/// Reads the `settings` (and ASR `rules`, firewall `profiles`, firewall-rules `rules`)
/// sections of a policy document (YAML already converted to JSON) into setting instances.
/// Every problem is reported, each with a pointer relative to the document root.
pub fn settings_from_yaml(
    kind: Kind,
    template: &Template,
    doc: &Value,
) -> Result<Vec<SettingInstance>, Vec<PathError>> {
    let cat = Catalog::builtin();
    let mut r = Reader {
        cat,
        template,
        errors: Vec::new(),
    };
    if template.kind != kind {
        r.error(
            "/template".into(),
            false,
            "wrong-template",
            format!(
                "template `{}` is for {} documents, not {kind}",
                template.alias, template.kind
            ),
            None,
        );
    }
    let mut out = match doc.get("settings") {
        Some(Value::Null) | None => Vec::new(),
        Some(s) => r.settings_map(s, "/settings", Place::Root),
    };
    let (asr_rules, fw_rules, profiles) = sections(template);
    if let Some(rules) = doc.get("rules").filter(|v| !v.is_null()) {
        let extra = if asr_rules {
            r.asr_rules(rules, "/rules")
        } else if fw_rules {
            r.firewall_rules(rules, "/rules")
        } else {
            r.error(
                "/rules".into(),
                true,
                "section-not-allowed",
                format!(
                    "`rules` is not available with the `{}` template",
                    template.alias
                ),
                Some(
                    "ASR rules need template `asr`; firewall rules need template `firewallRules`"
                        .into(),
                ),
            );
            None
        };
        if let Some(inst) = extra {
            if out.iter().any(|i| i.definition_id == inst.definition_id) {
                r.error(
                    "/rules".into(),
                    true,
                    "duplicate-setting",
                    "`rules` and `settings` both set the rules collection".into(),
                    None,
                );
            } else {
                out.push(inst);
            }
        }
    }
    if let Some(p) = doc.get("profiles").filter(|v| !v.is_null()) {
        if profiles {
            for inst in r.profiles(p, "/profiles") {
                if out.iter().any(|i| i.definition_id == inst.definition_id) {
                    r.error(
                        "/profiles".into(),
                        true,
                        "duplicate-setting",
                        format!(
                            "`{}` is set both in `profiles` and in `settings`",
                            cat.readable_name(&inst.definition_id)
                                .unwrap_or(&inst.definition_id)
                        ),
                        None,
                    );
                } else {
                    out.push(inst);
                }
            }
        } else {
            r.error(
                "/profiles".into(),
                true,
                "section-not-allowed",
                format!(
                    "`profiles` is not available with the `{}` template",
                    template.alias
                ),
                Some("firewall profiles need template `firewall`".into()),
            );
        }
    }
    if r.errors.is_empty() {
        Ok(out)
    } else {
        Err(r.errors)
    }
}

/// Settings that have no lossless YAML form.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ToYamlError {
    #[error("setting `{0}` occurs twice among its siblings; a YAML mapping cannot hold it")]
    DuplicateSetting(String),
    #[error("setting `{definition_id}` has no YAML form that reads back identically: {reason}")]
    Unrepresentable {
        definition_id: String,
        reason: String,
    },
}

struct Writer<'a> {
    cat: &'a Catalog,
    template: &'a Template,
}

impl<'a> Writer<'a> {
    /// Reads a candidate back and says whether it gives exactly `inst`.
    fn reads_back(
        &self,
        def: Option<&'a SettingDefinition>,
        inst: &SettingInstance,
        v: &Value,
        root: bool,
    ) -> bool {
        let mut r = Reader {
            cat: self.cat,
            template: self.template,
            errors: Vec::new(),
        };
        let got = r.value(def, &inst.definition_id, v, "", root);
        r.errors.is_empty()
            && got.is_some_and(|g| normalised(&[g]) == normalised(std::slice::from_ref(inst)))
    }

    /// The key for an instance at a place: readable when it resolves back to the same id.
    fn key(
        &self,
        inst: &SettingInstance,
        place: Place<'_>,
    ) -> (Option<&'a SettingDefinition>, String) {
        match self.cat.definition(&inst.definition_id) {
            Some(d) => {
                let in_template =
                    self.template.is_none_family() || d.in_template(&self.template.id);
                if matches!(place, Place::Root) && !in_template {
                    // Read back as an id this template's catalog entry does not know.
                    return (None, inst.definition_id.clone());
                }
                let readable_ok = match place {
                    Place::Root => d.parent.is_none(),
                    Place::Child(p) => d.parent.as_deref() == Some(p),
                };
                (
                    Some(d),
                    if readable_ok {
                        d.name.clone()
                    } else {
                        d.id.clone()
                    },
                )
            }
            None => (None, inst.definition_id.clone()),
        }
    }

    fn map(&self, instances: &[SettingInstance], place: Place<'_>) -> Result<Value, ToYamlError> {
        let mut m = Map::new();
        for inst in instances {
            let (def, key) = self.key(inst, place);
            if m.contains_key(&key) {
                return Err(ToYamlError::DuplicateSetting(inst.definition_id.clone()));
            }
            m.insert(key, self.best(def, inst, matches!(place, Place::Root))?);
        }
        Ok(Value::Object(m))
    }

    /// The most readable value that reads back to `inst`.
    fn best(
        &self,
        def: Option<&'a SettingDefinition>,
        inst: &SettingInstance,
        root: bool,
    ) -> Result<Value, ToYamlError> {
        if let Some(short) = self.short(def, inst, root)?
            && self.reads_back(def, inst, &short, root)
        {
            return Ok(short);
        }
        let explicit = self.explicit(def, inst, root, true)?;
        if self.reads_back(def, inst, &explicit, root) {
            return Ok(explicit);
        }
        let raw = self.explicit(def, inst, root, false)?;
        if self.reads_back(def, inst, &raw, root) {
            return Ok(raw);
        }
        Err(ToYamlError::Unrepresentable {
            definition_id: inst.definition_id.clone(),
            reason: "the catalog rejects its value (unknown option or out of range)".into(),
        })
    }

    fn option_name(def: Option<&SettingDefinition>, item: &str, readable: bool) -> Value {
        match def.and_then(|d| d.option_by_item_id(item)) {
            Some(o) if readable => match o.name.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                n => json!(n),
            },
            _ => json!(item),
        }
    }

    fn short(
        &self,
        def: Option<&'a SettingDefinition>,
        inst: &SettingInstance,
        root: bool,
    ) -> Result<Option<Value>, ToYamlError> {
        let Some(def) = def else { return Ok(None) };
        let fill_sit = if root && !self.template.is_none_family() {
            def.setting_instance_template_id.clone()
        } else {
            None
        };
        let fill_vt = if root && !self.template.is_none_family() {
            def.setting_value_template_id.clone()
        } else {
            None
        };
        if inst.instance_template_id != fill_sit {
            return Ok(None);
        }
        Ok(match (&inst.value, def.value_type) {
            (SettingValue::Choice(c), ValueType::Choice)
                if c.children.is_empty() && c.value_template_id == fill_vt =>
            {
                Some(Self::option_name(Some(def), &c.value, true))
            }
            (SettingValue::ChoiceCollection(cs), ValueType::ChoiceCollection)
                if cs
                    .iter()
                    .all(|c| c.children.is_empty() && c.value_template_id.is_none()) =>
            {
                Some(Value::Array(
                    cs.iter()
                        .map(|c| Self::option_name(Some(def), &c.value, true))
                        .collect(),
                ))
            }
            (
                SettingValue::Simple(SimpleValue::Integer {
                    value,
                    value_template_id,
                }),
                ValueType::Integer,
            ) if *value_template_id == fill_vt => Some(json!(value)),
            (
                SettingValue::Simple(SimpleValue::String {
                    value,
                    value_template_id,
                }),
                ValueType::String,
            ) if *value_template_id == fill_vt => Some(json!(value)),
            (
                SettingValue::SimpleCollection(ss),
                ValueType::StringCollection | ValueType::IntegerCollection,
            ) => {
                let mut out = Vec::new();
                for s in ss {
                    match (s, def.value_type) {
                        (
                            SimpleValue::String {
                                value,
                                value_template_id: None,
                            },
                            ValueType::StringCollection,
                        ) => out.push(json!(value)),
                        (
                            SimpleValue::Integer {
                                value,
                                value_template_id: None,
                            },
                            ValueType::IntegerCollection,
                        ) => out.push(json!(value)),
                        _ => return Ok(None),
                    }
                }
                Some(Value::Array(out))
            }
            (SettingValue::GroupCollection(gs), ValueType::GroupCollection)
                if gs.iter().all(|g| g.value_template_id.is_none()) =>
            {
                let mut out = Vec::new();
                for g in gs {
                    out.push(self.map(&g.children, Place::Child(&inst.definition_id))?);
                }
                Some(Value::Array(out))
            }
            _ => None,
        })
    }

    fn explicit(
        &self,
        def: Option<&'a SettingDefinition>,
        inst: &SettingInstance,
        root: bool,
        readable: bool,
    ) -> Result<Value, ToYamlError> {
        let mut m = Map::new();
        let fill_sit = if root && !self.template.is_none_family() {
            def.and_then(|d| d.setting_instance_template_id.clone())
        } else {
            None
        };
        let fill_vt = if root && !self.template.is_none_family() {
            def.and_then(|d| d.setting_value_template_id.clone())
        } else {
            None
        };
        let refs = |m: &mut Map<String, Value>,
                    key: &str,
                    have: &Option<String>,
                    fill: &Option<String>| {
            if have != fill {
                m.insert(key.into(), have.as_ref().map_or(Value::Null, |s| json!(s)));
            }
        };
        let id = inst.definition_id.as_str();
        let children_map = |kids: &[SettingInstance]| -> Result<Value, ToYamlError> {
            if readable {
                self.map(kids, Place::Child(id))
            } else {
                self.raw_map(kids)
            }
        };
        let group = |g: &GroupValue| -> Result<Value, ToYamlError> {
            let kids = children_map(&g.children)?;
            Ok(match &g.value_template_id {
                None if !(kids
                    .as_object()
                    .is_some_and(|k| k.contains_key("children") && k.len() == 1)) =>
                {
                    kids
                }
                vt => json!({"children": kids, "valueTemplateId": vt}),
            })
        };
        match &inst.value {
            SettingValue::Choice(c) => {
                m.insert("choice".into(), Self::option_name(def, &c.value, readable));
                refs(&mut m, "valueTemplateId", &c.value_template_id, &fill_vt);
                if !c.children.is_empty() {
                    m.insert("children".into(), children_map(&c.children)?);
                }
            }
            SettingValue::ChoiceCollection(cs) => {
                let mut items = Vec::new();
                for c in cs {
                    let name = Self::option_name(def, &c.value, readable);
                    if c.children.is_empty() && c.value_template_id.is_none() {
                        items.push(name);
                    } else {
                        let mut e = Map::new();
                        e.insert("choice".into(), name);
                        if let Some(vt) = &c.value_template_id {
                            e.insert("valueTemplateId".into(), json!(vt));
                        }
                        if !c.children.is_empty() {
                            e.insert("children".into(), children_map(&c.children)?);
                        }
                        items.push(Value::Object(e));
                    }
                }
                m.insert("choices".into(), Value::Array(items));
            }
            SettingValue::Simple(s) => match s {
                SimpleValue::Integer {
                    value,
                    value_template_id,
                } => {
                    m.insert("integer".into(), json!(value));
                    refs(&mut m, "valueTemplateId", value_template_id, &fill_vt);
                }
                SimpleValue::String {
                    value,
                    value_template_id,
                } => {
                    m.insert("string".into(), json!(value));
                    refs(&mut m, "valueTemplateId", value_template_id, &fill_vt);
                }
                SimpleValue::Secret {
                    value,
                    value_state,
                    value_template_id,
                } => {
                    m.insert("secret".into(), json!(value));
                    m.insert("valueState".into(), json!(value_state));
                    refs(&mut m, "valueTemplateId", value_template_id, &fill_vt);
                }
            },
            SettingValue::SimpleCollection(ss) => {
                let all_int =
                    !ss.is_empty() && ss.iter().all(|s| matches!(s, SimpleValue::Integer { .. }));
                let all_str = ss.iter().all(|s| matches!(s, SimpleValue::String { .. }));
                if !(all_int || all_str) {
                    return Err(ToYamlError::Unrepresentable {
                        definition_id: id.to_string(),
                        reason: "a simple collection mixing value types".into(),
                    });
                }
                let items = ss
                    .iter()
                    .map(|s| match s {
                        SimpleValue::Integer {
                            value,
                            value_template_id: None,
                        } => json!(value),
                        SimpleValue::Integer {
                            value,
                            value_template_id: Some(vt),
                        } => json!({"integer": value, "valueTemplateId": vt}),
                        SimpleValue::String {
                            value,
                            value_template_id: None,
                        } => json!(value),
                        SimpleValue::String {
                            value,
                            value_template_id: Some(vt),
                        } => json!({"string": value, "valueTemplateId": vt}),
                        SimpleValue::Secret { .. } => Value::Null,
                    })
                    .collect();
                m.insert(
                    if all_int { "integers" } else { "strings" }.into(),
                    Value::Array(items),
                );
            }
            SettingValue::GroupCollection(gs) => {
                let items = gs.iter().map(&group).collect::<Result<Vec<_>, _>>()?;
                m.insert("groups".into(), Value::Array(items));
            }
            SettingValue::Group(g) => {
                m.insert("group".into(), group(g)?);
            }
        }
        refs(
            &mut m,
            "instanceTemplateId",
            &inst.instance_template_id,
            &fill_sit,
        );
        Ok(Value::Object(m))
    }

    /// Children keyed by raw id, explicit values all the way down.
    fn raw_map(&self, instances: &[SettingInstance]) -> Result<Value, ToYamlError> {
        let mut m = Map::new();
        for inst in instances {
            if m.contains_key(&inst.definition_id) {
                return Err(ToYamlError::DuplicateSetting(inst.definition_id.clone()));
            }
            let def = self.cat.definition(&inst.definition_id);
            m.insert(
                inst.definition_id.clone(),
                self.explicit(def, inst, false, false)?,
            );
        }
        Ok(Value::Object(m))
    }

    fn try_asr_rules(&self, inst: &SettingInstance) -> Option<Value> {
        let root = self.cat.definition(ASR_ROOT)?;
        if inst.definition_id != ASR_ROOT
            || inst.instance_template_id != root.setting_instance_template_id
        {
            return None;
        }
        let SettingValue::GroupCollection(gs) = &inst.value else {
            return None;
        };
        let [g] = &gs[..] else { return None };
        if g.value_template_id.is_some() {
            return None;
        }
        let mut m = Map::new();
        for child in &g.children {
            let rule = self
                .cat
                .definition(&child.definition_id)
                .filter(|d| d.parent.as_deref() == Some(ASR_ROOT))?;
            let SettingValue::Choice(c) = &child.value else {
                return None;
            };
            if child.instance_template_id.is_some()
                || c.value_template_id.is_some()
                || m.contains_key(&rule.name)
            {
                return None;
            }
            let mode = json!(rule.option_by_item_id(&c.value)?.name);
            let v = match &c.children[..] {
                [] => mode,
                [ex] => {
                    let ex_def = self
                        .cat
                        .definition(&ex.definition_id)
                        .filter(|d| d.field.as_deref() == Some("exclusions"))?;
                    let list = self.short(Some(ex_def), ex, false).ok()??;
                    json!({"mode": mode, "exclusions": list})
                }
                _ => return None,
            };
            m.insert(rule.name.clone(), v);
        }
        Some(Value::Object(m))
    }

    fn try_profile(&self, inst: &SettingInstance) -> Option<(String, Value)> {
        let def = self.cat.definition(&inst.definition_id)?;
        let profile = def
            .profile
            .clone()
            .filter(|_| def.field.as_deref() == Some("enabled") && def.parent.is_none())?;
        let SettingValue::Choice(c) = &inst.value else {
            return None;
        };
        let bare = SettingInstance {
            definition_id: inst.definition_id.clone(),
            instance_template_id: inst.instance_template_id.clone(),
            value: SettingValue::Choice(ChoiceValue {
                value: c.value.clone(),
                value_template_id: c.value_template_id.clone(),
                children: Vec::new(),
            }),
        };
        let mut m = Map::new();
        m.insert("enabled".into(), self.best(Some(def), &bare, true).ok()?);
        for child in &c.children {
            let cdef = self
                .cat
                .definition(&child.definition_id)
                .filter(|d| d.parent.as_deref() == Some(def.id.as_str()));
            let key = cdef
                .and_then(|d| d.field.clone())
                .unwrap_or_else(|| child.definition_id.clone());
            if m.contains_key(&key) {
                return None;
            }
            m.insert(key, self.best(cdef, child, false).ok()?);
        }
        Some((profile, Value::Object(m)))
    }

    fn try_firewall_rules(&self, inst: &SettingInstance) -> Option<Value> {
        let root = self.cat.definition(FW_RULES_ROOT)?;
        if inst.definition_id != FW_RULES_ROOT
            || inst.instance_template_id != root.setting_instance_template_id
        {
            return None;
        }
        let SettingValue::GroupCollection(gs) = &inst.value else {
            return None;
        };
        let mut rules = Vec::new();
        for g in gs {
            if g.value_template_id.is_some() {
                return None;
            }
            let mut m = Map::new();
            for child in &g.children {
                let cdef = self
                    .cat
                    .definition(&child.definition_id)
                    .filter(|d| d.parent.as_deref() == Some(FW_RULES_ROOT));
                let key = cdef
                    .and_then(|d| d.field.clone())
                    .unwrap_or_else(|| child.definition_id.clone());
                if m.contains_key(&key) {
                    return None;
                }
                m.insert(key, self.best(cdef, child, false).ok()?);
            }
            if !m.get("name").is_some_and(Value::is_string) {
                return None;
            }
            rules.push(Value::Object(m));
        }
        Some(Value::Array(rules))
    }
}

/// Writes setting instances as the YAML sections of a policy document: an object with
/// `settings` and, where the template has them and the instances fit exactly, `rules`
/// (ASR map or firewall-rule list) and `profiles`. Empty sections are left out. Reading the
/// result with [`settings_from_yaml`] gives the same instances (up to [`normalise`] order).
///
/// The kind argument is the document kind (the template decides the sections). Fails only
/// for trees no YAML mapping can hold (two siblings with one definition id) or values the
/// catalog rejects in every form.
///
/// [`normalise`]: super::wire::normalise
pub fn settings_to_yaml(
    _kind: Kind,
    template: &Template,
    instances: &[SettingInstance],
) -> Result<Value, ToYamlError> {
    let cat = Catalog::builtin();
    let w = Writer { cat, template };
    let (asr_rules, fw_rules, profiles_ok) = sections(template);
    let mut rest = Vec::new();
    let mut rules = None;
    let mut profiles = Map::new();
    for inst in instances {
        let check = |doc: Value| -> bool {
            settings_from_yaml(template.kind, template, &doc)
                .is_ok_and(|got| normalised(&got) == normalised(std::slice::from_ref(inst)))
        };
        if asr_rules
            && rules.is_none()
            && let Some(r) = w.try_asr_rules(inst)
            && check(json!({"rules": r}))
        {
            rules = Some(r);
            continue;
        }
        if fw_rules
            && rules.is_none()
            && let Some(r) = w.try_firewall_rules(inst)
            && check(json!({"rules": r}))
        {
            rules = Some(r);
            continue;
        }
        if profiles_ok
            && let Some((name, body)) = w.try_profile(inst)
            && !profiles.contains_key(&name)
            && check(json!({"profiles": {name.clone(): body.clone()}}))
        {
            profiles.insert(name, body);
            continue;
        }
        rest.push(inst.clone());
    }
    let mut out = Map::new();
    if !rest.is_empty() {
        out.insert("settings".into(), w.map(&rest, Place::Root)?);
    }
    if let Some(r) = rules {
        out.insert("rules".into(), r);
    }
    if !profiles.is_empty() {
        // Profiles in the usual order rather than the order Graph happened to return.
        let mut ordered = Map::new();
        for p in PROFILES {
            if let Some(v) = profiles.remove(p) {
                ordered.insert(p.into(), v);
            }
        }
        out.insert("profiles".into(), Value::Object(ordered));
    }
    Ok(Value::Object(out))
}
