//! Graph wire shape <-> the settings model.
//!
//! Reading accepts what Graph returns (and what backup tools store): `settings[]` items
//! with `settingInstance`, or bare instances; `@odata.*` annotations, `id`s and the `null`s
//! Graph adds are dropped. The instance kind is taken from the value property that is
//! present (`choiceSettingValue`, ...), so exports that stripped `@odata.type` still read.
//! Anything the model cannot carry without loss (a `useTemplateDefault: true` value
//! reference, a reference setting value with a `note`) is an error, never dropped.
//!
//! Writing produces the `settings` array of a create/PUT body with the `@odata.type`s
//! Graph requires and ids `"0"`, `"1"`, ...

use serde_json::{Map, Value, json};

use super::model::{ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue};

const NS: &str = "#microsoft.graph.";

/// A Graph settings payload the model cannot represent exactly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{pointer}: {message}")]
pub struct WireError {
    /// JSON pointer into the `settings` array given.
    pub pointer: String,
    pub message: String,
}

fn err(pointer: &str, message: impl Into<String>) -> WireError {
    WireError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

/// Reads Graph's `settings` array (items `{settingInstance: {...}}` or bare instances).
pub fn instances_from_graph(settings: &Value) -> Result<Vec<SettingInstance>, WireError> {
    let items = settings
        .as_array()
        .ok_or_else(|| err("", "expected the settings array"))?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let ptr = format!("/{i}");
            match item.get("settingInstance") {
                Some(inst) => instance_from_graph(inst, &format!("{ptr}/settingInstance")),
                None => instance_from_graph(item, &ptr),
            }
        })
        .collect()
}

/// Reads one `deviceManagementConfigurationSettingInstance`.
pub fn instance_from_graph(v: &Value, ptr: &str) -> Result<SettingInstance, WireError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(ptr, "expected a setting instance object"))?;
    let definition_id = obj
        .get("settingDefinitionId")
        .and_then(Value::as_str)
        .ok_or_else(|| err(ptr, "missing settingDefinitionId"))?
        .to_string();
    let instance_template_id = template_ref(
        obj.get("settingInstanceTemplateReference"),
        "settingInstanceTemplateId",
        &format!("{ptr}/settingInstanceTemplateReference"),
    )?;
    let present = |k: &str| obj.get(k).is_some_and(|v| !v.is_null());
    let value = if present("choiceSettingValue") {
        let p = format!("{ptr}/choiceSettingValue");
        SettingValue::Choice(choice_from_graph(&obj["choiceSettingValue"], &p)?)
    } else if present("choiceSettingCollectionValue") {
        let p = format!("{ptr}/choiceSettingCollectionValue");
        SettingValue::ChoiceCollection(
            array(&obj["choiceSettingCollectionValue"], &p)?
                .iter()
                .enumerate()
                .map(|(i, c)| choice_from_graph(c, &format!("{p}/{i}")))
                .collect::<Result<_, _>>()?,
        )
    } else if present("simpleSettingValue") {
        let p = format!("{ptr}/simpleSettingValue");
        SettingValue::Simple(simple_from_graph(&obj["simpleSettingValue"], &p)?)
    } else if present("simpleSettingCollectionValue") {
        let p = format!("{ptr}/simpleSettingCollectionValue");
        SettingValue::SimpleCollection(
            array(&obj["simpleSettingCollectionValue"], &p)?
                .iter()
                .enumerate()
                .map(|(i, s)| simple_from_graph(s, &format!("{p}/{i}")))
                .collect::<Result<_, _>>()?,
        )
    } else if present("groupSettingCollectionValue") {
        let p = format!("{ptr}/groupSettingCollectionValue");
        SettingValue::GroupCollection(
            array(&obj["groupSettingCollectionValue"], &p)?
                .iter()
                .enumerate()
                .map(|(i, g)| group_from_graph(g, &format!("{p}/{i}")))
                .collect::<Result<_, _>>()?,
        )
    } else if present("groupSettingValue") {
        let p = format!("{ptr}/groupSettingValue");
        SettingValue::Group(group_from_graph(&obj["groupSettingValue"], &p)?)
    } else {
        // An empty collection arrives as `[]`, which `present` accepts; reaching here means
        // no value property at all.
        return Err(err(ptr, "setting instance has no value property"));
    };
    Ok(SettingInstance {
        definition_id,
        instance_template_id,
        value,
    })
}

fn array<'a>(v: &'a Value, ptr: &str) -> Result<&'a Vec<Value>, WireError> {
    v.as_array().ok_or_else(|| err(ptr, "expected an array"))
}

fn template_ref(v: Option<&Value>, key: &str, ptr: &str) -> Result<Option<String>, WireError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let obj = v
        .as_object()
        .ok_or_else(|| err(ptr, "expected an object"))?;
    if obj.get("useTemplateDefault").and_then(Value::as_bool) == Some(true) {
        return Err(err(
            ptr,
            "useTemplateDefault: true is not supported by rampart's model (it would be lost)",
        ));
    }
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(err(ptr, format!("{key} must be a string"))),
    }
}

fn value_template(obj: &Map<String, Value>, ptr: &str) -> Result<Option<String>, WireError> {
    template_ref(
        obj.get("settingValueTemplateReference"),
        "settingValueTemplateId",
        &format!("{ptr}/settingValueTemplateReference"),
    )
}

fn children_from_graph(
    obj: &Map<String, Value>,
    ptr: &str,
) -> Result<Vec<SettingInstance>, WireError> {
    match obj.get("children") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(v) => {
            let p = format!("{ptr}/children");
            array(v, &p)?
                .iter()
                .enumerate()
                .map(|(i, c)| instance_from_graph(c, &format!("{p}/{i}")))
                .collect()
        }
    }
}

fn choice_from_graph(v: &Value, ptr: &str) -> Result<ChoiceValue, WireError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(ptr, "expected a choice value object"))?;
    let value = obj
        .get("value")
        .and_then(Value::as_str)
        .ok_or_else(|| err(ptr, "choice value has no string `value`"))?
        .to_string();
    Ok(ChoiceValue {
        value,
        value_template_id: value_template(obj, ptr)?,
        children: children_from_graph(obj, ptr)?,
    })
}

fn group_from_graph(v: &Value, ptr: &str) -> Result<GroupValue, WireError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(ptr, "expected a group value object"))?;
    Ok(GroupValue {
        value_template_id: value_template(obj, ptr)?,
        children: children_from_graph(obj, ptr)?,
    })
}

fn simple_from_graph(v: &Value, ptr: &str) -> Result<SimpleValue, WireError> {
    let obj = v
        .as_object()
        .ok_or_else(|| err(ptr, "expected a simple value object"))?;
    let value_template_id = value_template(obj, ptr)?;
    let odata = obj
        .get("@odata.type")
        .and_then(Value::as_str)
        .map(|t| t.trim_start_matches(NS).trim_start_matches('#'));
    let raw = obj.get("value").unwrap_or(&Value::Null);
    match odata {
        Some("deviceManagementConfigurationIntegerSettingValue") => {
            integer(raw, ptr).map(|value| SimpleValue::Integer {
                value,
                value_template_id,
            })
        }
        Some("deviceManagementConfigurationStringSettingValue") => {
            string(raw, ptr).map(|value| SimpleValue::String {
                value,
                value_template_id,
            })
        }
        Some("deviceManagementConfigurationSecretSettingValue") => Ok(SimpleValue::Secret {
            value: string(raw, ptr)?,
            value_state: obj
                .get("valueState")
                .and_then(Value::as_str)
                .ok_or_else(|| err(ptr, "secret value has no valueState"))?
                .to_string(),
            value_template_id,
        }),
        Some(other) => Err(err(
            ptr,
            format!("simple value type {other} is not supported by rampart's model"),
        )),
        // Backup tools sometimes strip annotations: infer from the JSON type.
        None if obj.contains_key("valueState") => Ok(SimpleValue::Secret {
            value: string(raw, ptr)?,
            value_state: string(&obj["valueState"], ptr)?,
            value_template_id,
        }),
        None if raw.is_i64() => Ok(SimpleValue::Integer {
            value: integer(raw, ptr)?,
            value_template_id,
        }),
        None => string(raw, ptr).map(|value| SimpleValue::String {
            value,
            value_template_id,
        }),
    }
}

fn integer(v: &Value, ptr: &str) -> Result<i64, WireError> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| err(ptr, "integer value out of range")),
        // Some scripts quote integers; Graph accepts and returns them as numbers.
        Value::String(s) => s
            .parse()
            .map_err(|_| err(ptr, format!("integer value expected, found {s:?}"))),
        _ => Err(err(ptr, "integer value expected")),
    }
}

fn string(v: &Value, ptr: &str) -> Result<String, WireError> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| err(ptr, "string value expected"))
}

/// The `settings` array of a create/PUT body.
pub fn instances_to_graph(instances: &[SettingInstance]) -> Value {
    Value::Array(
        instances
            .iter()
            .enumerate()
            .map(|(i, inst)| {
                json!({
                    "@odata.type": format!("{NS}deviceManagementConfigurationSetting"),
                    "id": i.to_string(),
                    "settingInstance": instance_to_graph(inst),
                })
            })
            .collect(),
    )
}

/// One instance in the Graph shape.
pub fn instance_to_graph(inst: &SettingInstance) -> Value {
    let (odata, key, value) = match &inst.value {
        SettingValue::Choice(c) => (
            "ChoiceSettingInstance",
            "choiceSettingValue",
            choice_to_graph(c),
        ),
        SettingValue::ChoiceCollection(cs) => (
            "ChoiceSettingCollectionInstance",
            "choiceSettingCollectionValue",
            Value::Array(cs.iter().map(choice_to_graph).collect()),
        ),
        SettingValue::Simple(s) => (
            "SimpleSettingInstance",
            "simpleSettingValue",
            simple_to_graph(s),
        ),
        SettingValue::SimpleCollection(ss) => (
            "SimpleSettingCollectionInstance",
            "simpleSettingCollectionValue",
            Value::Array(ss.iter().map(simple_to_graph).collect()),
        ),
        SettingValue::GroupCollection(gs) => (
            "GroupSettingCollectionInstance",
            "groupSettingCollectionValue",
            Value::Array(gs.iter().map(group_to_graph).collect()),
        ),
        SettingValue::Group(g) => (
            "GroupSettingInstance",
            "groupSettingValue",
            group_to_graph(g),
        ),
    };
    let mut obj = Map::new();
    obj.insert(
        "@odata.type".into(),
        json!(format!("{NS}deviceManagementConfiguration{odata}")),
    );
    obj.insert("settingDefinitionId".into(), json!(inst.definition_id));
    if let Some(t) = &inst.instance_template_id {
        obj.insert(
            "settingInstanceTemplateReference".into(),
            json!({ "settingInstanceTemplateId": t }),
        );
    }
    obj.insert(key.into(), value);
    Value::Object(obj)
}

fn value_ref(obj: &mut Map<String, Value>, t: &Option<String>) {
    if let Some(t) = t {
        obj.insert(
            "settingValueTemplateReference".into(),
            json!({ "settingValueTemplateId": t }),
        );
    }
}

fn choice_to_graph(c: &ChoiceValue) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "@odata.type".into(),
        json!(format!(
            "{NS}deviceManagementConfigurationChoiceSettingValue"
        )),
    );
    obj.insert("value".into(), json!(c.value));
    value_ref(&mut obj, &c.value_template_id);
    obj.insert(
        "children".into(),
        Value::Array(c.children.iter().map(instance_to_graph).collect()),
    );
    Value::Object(obj)
}

fn group_to_graph(g: &GroupValue) -> Value {
    let mut obj = Map::new();
    obj.insert(
        "@odata.type".into(),
        json!(format!(
            "{NS}deviceManagementConfigurationGroupSettingValue"
        )),
    );
    value_ref(&mut obj, &g.value_template_id);
    obj.insert(
        "children".into(),
        Value::Array(g.children.iter().map(instance_to_graph).collect()),
    );
    Value::Object(obj)
}

fn simple_to_graph(s: &SimpleValue) -> Value {
    let mut obj = Map::new();
    let t = match s {
        SimpleValue::Integer {
            value,
            value_template_id,
        } => {
            obj.insert("value".into(), json!(value));
            value_ref(&mut obj, value_template_id);
            "IntegerSettingValue"
        }
        SimpleValue::String {
            value,
            value_template_id,
        } => {
            obj.insert("value".into(), json!(value));
            value_ref(&mut obj, value_template_id);
            "StringSettingValue"
        }
        SimpleValue::Secret {
            value,
            value_state,
            value_template_id,
        } => {
            obj.insert("value".into(), json!(value));
            obj.insert("valueState".into(), json!(value_state));
            value_ref(&mut obj, value_template_id);
            "SecretSettingValue"
        }
    };
    obj.insert(
        "@odata.type".into(),
        json!(format!("{NS}deviceManagementConfiguration{t}")),
    );
    Value::Object(obj)
}

/// Puts a settings tree in canonical order so that two trees that differ only in order
/// (Graph does not preserve the order of settings, children or collection elements)
/// compare equal: instances by definition id, collection elements by their content.
pub fn normalise(instances: &mut [SettingInstance]) {
    for inst in instances.iter_mut() {
        match &mut inst.value {
            SettingValue::Choice(c) => normalise(&mut c.children),
            SettingValue::ChoiceCollection(cs) => {
                for c in cs.iter_mut() {
                    normalise(&mut c.children);
                }
                cs.sort();
            }
            SettingValue::Simple(_) => {}
            SettingValue::SimpleCollection(ss) => ss.sort(),
            SettingValue::GroupCollection(gs) => {
                for g in gs.iter_mut() {
                    normalise(&mut g.children);
                }
                gs.sort();
            }
            SettingValue::Group(g) => normalise(&mut g.children),
        }
    }
    instances.sort();
}

/// A normalised copy, for comparisons.
pub fn normalised(instances: &[SettingInstance]) -> Vec<SettingInstance> {
    let mut v = instances.to_vec();
    normalise(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_annotated_graph_and_writes_it_back() {
        let graph = json!([{
            "@odata.type": "#microsoft.graph.deviceManagementConfigurationSetting",
            "id": "0",
            "settingInstance": {
                "@odata.type": "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
                "settingDefinitionId": "a_b",
                "settingInstanceTemplateReference": {"settingInstanceTemplateId": "t1"},
                "choiceSettingValue": {
                    "value": "a_b_1",
                    "settingValueTemplateReference": {"settingValueTemplateId": "v1", "useTemplateDefault": false},
                    "children@odata.type": "#Collection(x)",
                    "children": [{
                        "settingDefinitionId": "a_b_c",
                        "settingInstanceTemplateReference": null,
                        "simpleSettingValue": {"@odata.type": "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue", "value": 5}
                    }]
                }
            }
        }]);
        let insts = instances_from_graph(&graph).unwrap();
        assert_eq!(insts.len(), 1);
        let back = instances_to_graph(&insts);
        assert_eq!(instances_from_graph(&back).unwrap(), insts);
        assert_eq!(
            back[0]["settingInstance"]["choiceSettingValue"]["children"][0]["simpleSettingValue"]["value"],
            5
        );
    }

    #[test]
    fn use_template_default_true_is_refused() {
        let graph = json!([{"settingDefinitionId": "x", "choiceSettingValue": {"value": "x_1",
            "settingValueTemplateReference": {"settingValueTemplateId": "v", "useTemplateDefault": true}}}]);
        let e = instances_from_graph(&graph).unwrap_err();
        assert!(e.pointer.ends_with("settingValueTemplateReference"), "{e}");
    }

    #[test]
    fn normalise_ignores_order() {
        let a = json!([{"settingDefinitionId": "b", "simpleSettingCollectionValue": [{"value": "2"}, {"value": "1"}]},
                       {"settingDefinitionId": "a", "simpleSettingValue": {"value": 1}}]);
        let b = json!([{"settingDefinitionId": "a", "simpleSettingValue": {"value": 1}},
                       {"settingDefinitionId": "b", "simpleSettingCollectionValue": [{"value": "1"}, {"value": "2"}]}]);
        assert_eq!(
            normalised(&instances_from_graph(&a).unwrap()),
            normalised(&instances_from_graph(&b).unwrap())
        );
    }
}
