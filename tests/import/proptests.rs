//! Property: any settings tree -> YAML sections -> YAML text -> settings tree is the
//! identity (up to canonical order), for trees of unknown definitions (the generic explicit
//! form) mixed with catalog-known settings (the readable forms).

use std::collections::BTreeMap;

use proptest::prelude::*;
use rampart::catalog::{Catalog, ValueType};
use rampart::desired::Kind;
use rampart::settings::{
    ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue, normalised,
    settings_from_yaml, settings_to_yaml,
};

fn opt_id() -> impl Strategy<Value = Option<String>> {
    prop::option::of("[0-9a-f]{8}-[0-9a-f]{4}")
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,12}",
        Just(String::new()),
        Just("true".to_string()),
        Just("0".to_string()),
        Just("~".to_string()),
        Just("- x: y".to_string()),
        Just("line\nbreak ".to_string()),
        Just("%SystemRoot%\\x".to_string()),
    ]
}

fn simple() -> impl Strategy<Value = SimpleValue> {
    prop_oneof![
        (any::<i64>(), opt_id()).prop_map(|(value, value_template_id)| SimpleValue::Integer {
            value,
            value_template_id
        }),
        (text(), opt_id()).prop_map(|(value, value_template_id)| SimpleValue::String {
            value,
            value_template_id
        }),
        (text(), "[a-zA-Z]{1,10}", opt_id()).prop_map(|(value, value_state, value_template_id)| {
            SimpleValue::Secret {
                value,
                value_state,
                value_template_id,
            }
        }),
    ]
}

/// Siblings with distinct unknown raw ids.
fn siblings(inner: BoxedStrategy<SettingValue>) -> impl Strategy<Value = Vec<SettingInstance>> {
    prop::collection::btree_map("zz_[a-z]{1,5}(_[0-9]{1,2})?", (opt_id(), inner), 0..4).prop_map(
        |m: BTreeMap<_, _>| {
            m.into_iter()
                .map(
                    |(definition_id, (instance_template_id, value))| SettingInstance {
                        definition_id,
                        instance_template_id,
                        value,
                    },
                )
                .collect()
        },
    )
}

fn value() -> impl Strategy<Value = SettingValue> {
    let leaf = prop_oneof![
        simple().prop_map(SettingValue::Simple),
        prop_oneof![
            prop::collection::vec(
                (any::<i64>(), opt_id()).prop_map(|(value, value_template_id)| {
                    SimpleValue::Integer {
                        value,
                        value_template_id,
                    }
                }),
                1..4
            ),
            prop::collection::vec(
                (text(), opt_id()).prop_map(|(value, value_template_id)| SimpleValue::String {
                    value,
                    value_template_id
                }),
                0..4
            ),
        ]
        .prop_map(SettingValue::SimpleCollection),
        ("zz_[a-z_0-9]{1,8}", opt_id()).prop_map(
            |(value, value_template_id)| SettingValue::Choice(ChoiceValue {
                value,
                value_template_id,
                children: vec![]
            })
        ),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        let inner = inner.boxed();
        prop_oneof![
            ("zz_[a-z_0-9]{1,8}", opt_id(), siblings(inner.clone())).prop_map(
                |(value, value_template_id, children)| {
                    SettingValue::Choice(ChoiceValue {
                        value,
                        value_template_id,
                        children,
                    })
                }
            ),
            prop::collection::vec(("zz_[a-z]{1,4}", opt_id(), siblings(inner.clone())), 0..3)
                .prop_map(|cs| {
                    SettingValue::ChoiceCollection(
                        cs.into_iter()
                            .map(|(value, value_template_id, children)| ChoiceValue {
                                value,
                                value_template_id,
                                children,
                            })
                            .collect(),
                    )
                }),
            prop::collection::vec((opt_id(), siblings(inner.clone())), 0..3).prop_map(|gs| {
                SettingValue::GroupCollection(
                    gs.into_iter()
                        .map(|(value_template_id, children)| GroupValue {
                            value_template_id,
                            children,
                        })
                        .collect(),
                )
            }),
            (opt_id(), siblings(inner)).prop_map(|(value_template_id, children)| {
                SettingValue::Group(GroupValue {
                    value_template_id,
                    children,
                })
            }),
        ]
    })
}

/// A valid value of a catalog-known antivirus root setting, with or without the catalog's
/// template references.
fn known_instance() -> impl Strategy<Value = SettingInstance> {
    let cat = Catalog::builtin();
    let t = cat.template_by_alias("antivirus").unwrap();
    let defs: Vec<_> = cat
        .root_definitions(&t.id)
        .filter(|d| {
            matches!(
                d.value_type,
                ValueType::Choice | ValueType::Integer | ValueType::StringCollection
            )
        })
        .collect();
    (
        0..defs.len(),
        any::<prop::sample::Index>(),
        any::<bool>(),
        prop::collection::vec(text(), 0..3),
    )
        .prop_map(move |(i, pick, refs, strings)| {
            let d = defs[i];
            let vt = refs.then(|| d.setting_value_template_id.clone()).flatten();
            let value = match d.value_type {
                ValueType::Choice => SettingValue::Choice(ChoiceValue {
                    value: d.options[pick.index(d.options.len())].item_id.clone(),
                    value_template_id: vt,
                    children: vec![],
                }),
                ValueType::Integer => {
                    let (lo, hi) = (d.minimum.unwrap_or(0), d.maximum.unwrap_or(100));
                    SettingValue::Simple(SimpleValue::Integer {
                        value: lo + (pick.index((hi - lo + 1) as usize) as i64),
                        value_template_id: vt,
                    })
                }
                _ => SettingValue::SimpleCollection(
                    strings
                        .into_iter()
                        .map(|value| SimpleValue::String {
                            value,
                            value_template_id: None,
                        })
                        .collect(),
                ),
            };
            SettingInstance {
                definition_id: d.id.clone(),
                instance_template_id: if refs {
                    d.setting_instance_template_id.clone()
                } else {
                    None
                },
                value,
            }
        })
}

fn tree() -> impl Strategy<Value = Vec<SettingInstance>> {
    (
        siblings(value().boxed()),
        prop::collection::vec(known_instance(), 0..5),
    )
        .prop_map(|(mut unknown, known)| {
            let mut seen = std::collections::BTreeSet::new();
            for k in known {
                if seen.insert(k.definition_id.clone()) {
                    unknown.push(k);
                }
            }
            unknown
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn instances_yaml_instances_is_identity(instances in tree()) {
        let t = Catalog::builtin().template_by_alias("antivirus").unwrap();
        let sections = settings_to_yaml(Kind::AntivirusPolicy, t, &instances).expect("has a YAML form");
        let text = serde_saphyr::to_string(&sections).expect("serialises");
        let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("parses back");
        prop_assert_eq!(&doc, &sections, "YAML text changed the document:\n{}", text);
        let back = settings_from_yaml(Kind::AntivirusPolicy, t, &doc).map_err(|e| TestCaseError::fail(format!("{e:#?}\n{text}")))?;
        prop_assert_eq!(normalised(&back), normalised(&instances), "\n{}", text);
    }
}
