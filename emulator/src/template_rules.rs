//! How Graph stores a templated policy's settings, beyond validating them (the template
//! surface; `templates` validates): what a client sends is not byte for byte what it reads
//! back, and the emulator must show clients the same differences.
//!
//! - Every `settingValueTemplateReference` comes back with `useTemplateDefault` (`false`
//!   unless the client said otherwise; every one of 85 value references in real exports
//!   carries it, graph-api-2.md §5.2).
//! - The children of the ASR rules group come back in the template's definition order,
//!   not in the order sent. The exact order Graph uses is UNVERIFIED (real exports list
//!   them in several orders); what matters to clients is that it differs from theirs.
//!
//! Limits: a template's required settings (`isRequired`) are not enforced: the catalog
//! holds no `isRequired` facts yet.

use rampart_catalog::Catalog;
use serde_json::Value;

const ASR_ROOT: &str = "device_vendor_msft_policy_config_defender_attacksurfacereductionrules";

/// The settings as Graph stores them (see the module doc).
pub fn as_stored(catalog: &Catalog, mut settings: Vec<Value>) -> Vec<Value> {
    for s in &mut settings {
        if let Some(inst) = s.get_mut("settingInstance") {
            instance(catalog, inst);
        }
    }
    settings
}

fn instance(catalog: &Catalog, inst: &mut Value) {
    let id = inst
        .get("settingDefinitionId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let Some(obj) = inst.as_object_mut() else {
        return;
    };
    for (key, value) in obj.iter_mut() {
        match (key.as_str(), value) {
            ("choiceSettingValue" | "simpleSettingValue" | "groupSettingValue", v) => {
                value_object(catalog, v);
            }
            (
                "choiceSettingCollectionValue"
                | "simpleSettingCollectionValue"
                | "groupSettingCollectionValue",
                Value::Array(items),
            ) => {
                for v in items.iter_mut() {
                    value_object(catalog, v);
                }
                if id == ASR_ROOT {
                    for group in items.iter_mut() {
                        reorder_children(catalog, group);
                    }
                }
            }
            _ => {}
        }
    }
}

fn value_object(catalog: &Catalog, v: &mut Value) {
    if let Some(r) = v
        .get_mut("settingValueTemplateReference")
        .and_then(Value::as_object_mut)
        && !r.contains_key("useTemplateDefault")
    {
        r.insert("useTemplateDefault".into(), Value::Bool(false));
    }
    if let Some(Value::Array(children)) = v.get_mut("children") {
        for c in children {
            instance(catalog, c);
        }
    }
}

/// Sorts the ASR rule instances of one group by the template's definition order.
fn reorder_children(catalog: &Catalog, group: &mut Value) {
    let order: Vec<&str> = catalog
        .children_of(ASR_ROOT)
        .map(|d| d.id.as_str())
        .collect();
    if let Some(Value::Array(children)) = group.get_mut("children") {
        children.sort_by_key(|c| {
            let id = c
                .get("settingDefinitionId")
                .and_then(Value::as_str)
                .unwrap_or("");
            order.iter().position(|o| *o == id).unwrap_or(usize::MAX)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_references_get_use_template_default_and_asr_rules_are_reordered() {
        let cat = Catalog::builtin();
        let rules: Vec<&str> = cat.children_of(ASR_ROOT).map(|d| d.id.as_str()).collect();
        let child = |id: &str| {
            json!({
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": id,
                "choiceSettingValue": {"value": format!("{id}_block"), "children": []},
            })
        };
        let sent = vec![json!({"settingInstance": {
            "settingDefinitionId": ASR_ROOT,
            "settingInstanceTemplateReference": {"settingInstanceTemplateId": "x"},
            "groupSettingCollectionValue": [{
                "settingValueTemplateReference": {"settingValueTemplateId": "y"},
                "children": [child(rules[2]), child(rules[0])],
            }],
        }})];
        let stored = as_stored(cat, sent);
        let group = &stored[0]["settingInstance"]["groupSettingCollectionValue"][0];
        assert_eq!(
            group["settingValueTemplateReference"]["useTemplateDefault"],
            json!(false)
        );
        assert_eq!(group["children"][0]["settingDefinitionId"], rules[0]);
        assert_eq!(group["children"][1]["settingDefinitionId"], rules[2]);
    }
}
