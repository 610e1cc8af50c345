//! Configuration policy templates and settings validation, backed by `rampart_catalog`.
//!
//! Graph validates a policy's settings against its template: every `settingDefinitionId`
//! must belong to the template, instances must have the definition's shape, choice values
//! must be options of the definition, and children must be children of their parent (under
//! the chosen option when the catalog says so). The emulator does the same with rampart's
//! catalog for the definitions the catalog lists for the template; a definition it does not
//! list is checked for shape only, because the catalog is a subset of Microsoft's template
//! and the emulator must not refuse what Graph accepts.
//! Policies without a template (plain settings catalog) are not validated per definition:
//! the emulator does not hold Microsoft's whole settings catalog.

use rampart_catalog::{Catalog, SettingDefinition, Template, ValueType};
use serde_json::{Value, json};

/// The catalog the emulator validates against.
pub fn catalog() -> &'static Catalog {
    Catalog::builtin()
}

/// The template `id`, if known.
pub fn template(id: &str) -> Option<&'static Template> {
    catalog().template(id)
}

/// The Graph entity of a configuration policy template.
pub fn template_entity(t: &Template) -> Value {
    let count = catalog().root_definitions(&t.id).count();
    json!({
        "id": t.id,
        "baseId": t.base_id,
        "version": t.version,
        "displayName": t.display_name,
        "description": "",
        "displayVersion": format!("Version {}", t.version),
        "lifecycleState": t.lifecycle_state,
        "platforms": t.platforms,
        "technologies": t.technologies,
        "templateFamily": t.template_family,
        "allowUnmanagedSettings": false,
        "settingTemplateCount": count,
    })
}

/// The read-only `templateReference` Graph fills in from the template.
pub fn template_reference(t: &Template) -> Value {
    json!({
        "templateId": t.id,
        "templateFamily": t.template_family,
        "templateDisplayName": t.display_name,
        "templateDisplayVersion": format!("Version {}", t.version),
    })
}

/// `templateReference` of a policy without a template.
pub fn no_template_reference() -> Value {
    json!({"templateId": "", "templateFamily": "none", "templateDisplayName": null, "templateDisplayVersion": null})
}

const PREFIX: &str = "#microsoft.graph.";

/// Validates the `settings` array of a policy for template `t`; the error is Graph's
/// message text for a 400.
pub fn validate_settings(t: Option<&Template>, settings: &[Value]) -> Result<(), String> {
    for (i, s) in settings.iter().enumerate() {
        let inst = s
            .get("settingInstance")
            .filter(|v| v.is_object())
            .ok_or_else(|| format!("Setting at index {i} has no settingInstance."))?;
        validate_instance(t, inst, None, None)?;
    }
    Ok(())
}

fn odata_type(inst: &Value) -> Result<&str, String> {
    inst.get("@odata.type")
        .and_then(Value::as_str)
        .map(|s| s.strip_prefix(PREFIX).unwrap_or(s))
        .ok_or_else(|| {
            "A setting instance has no @odata.type; it cannot be deserialized.".to_string()
        })
}

const INSTANCE_TYPES: &[&str] = &[
    "deviceManagementConfigurationChoiceSettingInstance",
    "deviceManagementConfigurationChoiceSettingCollectionInstance",
    "deviceManagementConfigurationSimpleSettingInstance",
    "deviceManagementConfigurationSimpleSettingCollectionInstance",
    "deviceManagementConfigurationGroupSettingInstance",
    "deviceManagementConfigurationGroupSettingCollectionInstance",
];

fn validate_instance(
    t: Option<&Template>,
    inst: &Value,
    parent: Option<&SettingDefinition>,
    parent_option: Option<&str>,
) -> Result<(), String> {
    let ty = odata_type(inst)?;
    if !INSTANCE_TYPES.contains(&ty) {
        return Err(format!("Unknown setting instance type '{ty}'."));
    }
    let def_id = inst
        .get("settingDefinitionId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| "A setting instance has no settingDefinitionId.".to_string())?;
    let Some(t) = t else {
        // No template: shape checks only (the whole settings catalog is not modelled).
        return walk_children(None, inst, ty, None);
    };
    let cat = catalog();
    let Some(def) = cat.definition(def_id).filter(|d| d.in_template(&t.id)) else {
        // The catalog is not Microsoft's whole template: a definition it does not list for
        // this template may still be one of the template's (real example: the antivirus
        // template's `..._allowintrusionpreventionsystem`). Graph is the authority and
        // accepts it, so the emulator checks the shape only.
        return walk_children(None, inst, ty, None);
    };
    check_template_references(t, inst, def)?;
    match parent {
        None if def.parent.is_some() => {
            return Err(format!(
                "Setting definition '{def_id}' is not a root setting of template '{}'.",
                t.id
            ));
        }
        Some(p) if def.parent.as_deref() != Some(p.id.as_str()) => {
            return Err(format!(
                "Setting definition '{def_id}' is not a child of '{}'.",
                p.id
            ));
        }
        _ => {}
    }
    if let (Some(opt), false) = (parent_option, def.parent_options.is_empty())
        && !def.parent_options.iter().any(|o| o == opt)
    {
        return Err(format!(
            "Setting definition '{def_id}' is not allowed when '{opt}' is selected."
        ));
    }
    let expected = def.value_type.instance_odata_type();
    if ty != expected {
        return Err(format!(
            "Setting '{def_id}' must be a {expected}, not a {ty}."
        ));
    }
    match def.value_type {
        ValueType::Choice => {
            let v = inst
                .get("choiceSettingValue")
                .and_then(|c| c.get("value"))
                .and_then(Value::as_str)
                .ok_or_else(|| format!("Setting '{def_id}' has no choiceSettingValue.value."))?;
            if def.option_by_item_id(v).is_none() {
                return Err(format!(
                    "Value '{v}' is not a valid option for setting '{def_id}'."
                ));
            }
        }
        ValueType::ChoiceCollection => {
            let vals = inst
                .get("choiceSettingCollectionValue")
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    format!("Setting '{def_id}' has no choiceSettingCollectionValue.")
                })?;
            for v in vals {
                let v = v.get("value").and_then(Value::as_str).unwrap_or_default();
                if def.option_by_item_id(v).is_none() {
                    return Err(format!(
                        "Value '{v}' is not a valid option for setting '{def_id}'."
                    ));
                }
            }
        }
        ValueType::Integer => {
            let v = inst.get("simpleSettingValue").and_then(|s| s.get("value"));
            let n = v
                .and_then(|v| {
                    v.as_i64()
                        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
                })
                .ok_or_else(|| {
                    format!("Setting '{def_id}' needs an integer simpleSettingValue.")
                })?;
            if def.minimum.is_some_and(|m| n < m) || def.maximum.is_some_and(|m| n > m) {
                return Err(format!(
                    "Value {n} of setting '{def_id}' is outside [{}, {}].",
                    def.minimum.map_or("-".into(), |m| m.to_string()),
                    def.maximum.map_or("-".into(), |m| m.to_string())
                ));
            }
        }
        ValueType::String => {
            let ok = inst
                .get("simpleSettingValue")
                .and_then(|s| s.get("value"))
                .is_some_and(Value::is_string);
            if !ok {
                return Err(format!(
                    "Setting '{def_id}' needs a string simpleSettingValue."
                ));
            }
        }
        ValueType::StringCollection | ValueType::IntegerCollection => {
            if !inst
                .get("simpleSettingCollectionValue")
                .is_some_and(Value::is_array)
            {
                return Err(format!(
                    "Setting '{def_id}' needs a simpleSettingCollectionValue array."
                ));
            }
        }
        ValueType::GroupCollection => {
            if !inst
                .get("groupSettingCollectionValue")
                .is_some_and(Value::is_array)
            {
                return Err(format!(
                    "Setting '{def_id}' needs a groupSettingCollectionValue array."
                ));
            }
        }
        ValueType::Group => {
            if !inst.get("groupSettingValue").is_some_and(Value::is_object) {
                return Err(format!("Setting '{def_id}' needs a groupSettingValue."));
            }
        }
    }
    walk_children(Some(t), inst, ty, Some(def))
}

/// Intune's message when a setting carries a template reference its template does not
/// define (issue 14, gap 7; the text as reported by Intune clients).
const INVALID_REFERENCE: &str = "Invalid Reference id found in Policy created from Template";

/// Checks `settingInstanceTemplateReference.settingInstanceTemplateId` and the value's
/// `settingValueTemplateReference.settingValueTemplateId` against what the catalog and the
/// real exports ([`seen_instance_template_ids`]) know for the definition. A reference is
/// refused when a known id differs, or when it names another definition's template id;
/// when no source knows the definition's ids, any reference is accepted (limit).
fn check_template_references(
    t: &Template,
    inst: &Value,
    def: &SettingDefinition,
) -> Result<(), String> {
    let sent_instance = inst
        .get("settingInstanceTemplateReference")
        .and_then(|r| r.get("settingInstanceTemplateId"))
        .and_then(Value::as_str);
    if let Some(sent) = sent_instance {
        let mut known: Vec<&str> = seen_instance_template_ids(&t.id, &def.id);
        if let Some(c) = def.setting_instance_template_id.as_deref() {
            known.push(c);
        }
        let elsewhere = catalog()
            .definitions()
            .iter()
            .any(|d| d.id != def.id && d.setting_instance_template_id.as_deref() == Some(sent));
        if (!known.is_empty() && !known.contains(&sent)) || elsewhere {
            return Err(format!(
                "{INVALID_REFERENCE}: settingInstanceTemplateId '{sent}' of setting '{}'.",
                def.id
            ));
        }
    }
    let value = inst
        .get("choiceSettingValue")
        .or_else(|| inst.get("simpleSettingValue"))
        .or_else(|| inst.get("groupSettingValue"));
    let sent_value = value
        .and_then(|v| v.get("settingValueTemplateReference"))
        .and_then(|r| r.get("settingValueTemplateId"))
        .and_then(Value::as_str);
    if let Some(sent) = sent_value {
        let elsewhere = catalog()
            .definitions()
            .iter()
            .any(|d| d.id != def.id && d.setting_value_template_id.as_deref() == Some(sent));
        let differs = def
            .setting_value_template_id
            .as_deref()
            .is_some_and(|c| c != sent);
        if differs || elsewhere {
            return Err(format!(
                "{INVALID_REFERENCE}: settingValueTemplateId '{sent}' of setting '{}'.",
                def.id
            ));
        }
    }
    Ok(())
}

// The oracle independent of any client's catalog lives in the shared catalog crate
// (`rampart_catalog::seen`, with its data and the NCSC attribution), so the product's
// `validate` reads the same rows without depending on the emulator.
pub use rampart_catalog::seen::{
    Confirmation, confirmation, seen_in_export, seen_instance_template_ids,
};

/// Every `settingDefinitionId` of `settings` (at any depth) that no real export of
/// `template_id` shows: what [`crate::SettingOracle::Exports`] refuses.
pub fn unseen_definitions(template_id: &str, settings: &[Value]) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                if let Some(d) = o.get("settingDefinitionId").and_then(Value::as_str) {
                    out.push(d.to_string());
                }
                o.values().for_each(|x| walk(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    settings.iter().for_each(|s| walk(s, &mut all));
    all.retain(|d| !seen_in_export(template_id, d));
    all.sort();
    all.dedup();
    all
}

fn walk_children(
    t: Option<&Template>,
    inst: &Value,
    ty: &str,
    def: Option<&SettingDefinition>,
) -> Result<(), String> {
    let each = |children: Option<&Value>, opt: Option<&str>| -> Result<(), String> {
        for c in children.and_then(Value::as_array).into_iter().flatten() {
            match t {
                Some(t) => validate_instance(Some(t), c, def, opt)?,
                None => validate_instance(None, c, None, None)?,
            }
        }
        Ok(())
    };
    match ty {
        "deviceManagementConfigurationChoiceSettingInstance" => {
            let c = inst.get("choiceSettingValue");
            let opt = c.and_then(|c| c.get("value")).and_then(Value::as_str);
            each(c.and_then(|c| c.get("children")), opt)
        }
        "deviceManagementConfigurationChoiceSettingCollectionInstance" => {
            for v in inst
                .get("choiceSettingCollectionValue")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                each(v.get("children"), v.get("value").and_then(Value::as_str))?;
            }
            Ok(())
        }
        "deviceManagementConfigurationGroupSettingCollectionInstance" => {
            for v in inst
                .get("groupSettingCollectionValue")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                each(v.get("children"), None)?;
            }
            Ok(())
        }
        "deviceManagementConfigurationGroupSettingInstance" => each(
            inst.get("groupSettingValue")
                .and_then(|g| g.get("children")),
            None,
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASR: &str = "e8c053d6-9f95-42b1-a7f1-ebfd71c67a4b_1";

    fn asr_setting(value: &str) -> Value {
        let rule = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules_blockexecutionofpotentiallyobfuscatedscripts";
        json!({"settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
            "settingDefinitionId": "device_vendor_msft_policy_config_defender_attacksurfacereductionrules",
            "groupSettingCollectionValue": [{"children": [{
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": rule,
                "choiceSettingValue": {"value": format!("{rule}_{value}"), "children": []}
            }]}]
        }})
    }

    #[test]
    fn asr_values_checked() {
        let t = template(ASR).unwrap();
        assert!(validate_settings(Some(t), &[asr_setting("block")]).is_ok());
        let e = validate_settings(Some(t), &[asr_setting("sometimes")]).unwrap_err();
        assert!(e.contains("not a valid option"), "{e}");
    }

    /// Issue 13: the catalog is a subset of Microsoft's template, so a definition it does
    /// not list is accepted (Graph is the authority), its shape still checked.
    #[test]
    fn unknown_definition_accepted_with_its_shape_checked() {
        let t = template(ASR).unwrap();
        let s = json!({"settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
            "settingDefinitionId": "device_vendor_msft_policy_config_defender_nosuchthing",
            "choiceSettingValue": {"value": "x", "children": []}}});
        assert!(validate_settings(Some(t), &[s]).is_ok());
        let bad = json!({"settingInstance": {
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationNoSuchInstance",
            "settingDefinitionId": "device_vendor_msft_policy_config_defender_nosuchthing"}});
        assert!(
            validate_settings(Some(t), &[bad])
                .unwrap_err()
                .contains("Unknown setting instance type")
        );
    }
}
