//! Property: any settings tree -> YAML sections -> YAML text -> settings tree is the
//! identity (up to canonical order), for trees of unknown definitions (the generic explicit
//! form) mixed with catalog-known settings (the readable forms).

use std::collections::BTreeMap;

use proptest::prelude::*;
use rampart::catalog::{Catalog, SettingDefinition, ValueType};
use rampart::desired::Kind;
use rampart::settings::{
    ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue, normalised,
    settings_from_yaml, settings_to_yaml,
};

fn opt_id() -> impl Strategy<Value = Option<String>> {
    // Template ids are GUIDs; validation refuses anything else.
    prop::option::of("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
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

/// A valid tree of catalog-known settings for one template: any subset of its root
/// settings, children where the catalog allows them, template references either the
/// catalog's, none, or others (which force the explicit form).
fn catalog_tree(alias: &'static str) -> impl Strategy<Value = Vec<SettingInstance>> {
    // A deterministic expansion driven by a byte stream keeps the strategy simple.
    prop::collection::vec(any::<u8>(), 64..512).prop_map(move |bytes| {
        let cat = Catalog::builtin();
        let t = cat.template_by_alias(alias).unwrap();
        let mut src = bytes.into_iter().cycle();
        let mut next = move || src.next().unwrap_or(0) as usize;
        let mut out = Vec::new();
        for d in cat.root_definitions(&t.id) {
            if next() % 3 != 0 {
                out.push(instance(cat, d, true, &mut next, 0));
            }
        }
        out
    })
}

fn template_ref(
    catalog: Option<&String>,
    root: bool,
    next: &mut dyn FnMut() -> usize,
) -> Option<String> {
    // Mostly what the catalog says, so the readable sections are exercised too. Where the
    // template defines the reference, no other id is valid (Intune answers 400), so an
    // arbitrary one is only generated where the catalog has none.
    match next() % 10 {
        0 => None,
        1 if !root || catalog.is_none() => {
            Some(format!("{:08x}-0000-4000-8000-000000000000", next()))
        }
        _ if root => catalog.cloned(),
        _ => None,
    }
}

fn kids(
    cat: &Catalog,
    d: &SettingDefinition,
    item: Option<&str>,
    next: &mut dyn FnMut() -> usize,
    depth: usize,
) -> Vec<SettingInstance> {
    if depth > 3 {
        return vec![];
    }
    let mut out = Vec::new();
    for c in cat.children_of(&d.id).filter(|c| {
        item.is_none_or(|i| c.parent_options.is_empty() || c.parent_options.iter().any(|p| p == i))
    }) {
        if next().is_multiple_of(2) {
            out.push(instance(cat, c, false, next, depth + 1));
        }
    }
    out
}

fn instance(
    cat: &Catalog,
    d: &SettingDefinition,
    root: bool,
    next: &mut dyn FnMut() -> usize,
    depth: usize,
) -> SettingInstance {
    let value = match d.value_type {
        ValueType::Choice => {
            let item = d.options[next() % d.options.len()].item_id.clone();
            let vt = template_ref(d.setting_value_template_id.as_ref(), root, next);
            let children = kids(cat, d, Some(&item), next, depth);
            SettingValue::Choice(ChoiceValue {
                value: item,
                value_template_id: vt,
                children,
            })
        }
        ValueType::ChoiceCollection => {
            let n = next() % 3;
            let mut items = Vec::new();
            for _ in 0..n {
                let value = d.options[next() % d.options.len()].item_id.clone();
                items.push(ChoiceValue {
                    value,
                    value_template_id: None,
                    children: vec![],
                });
            }
            SettingValue::ChoiceCollection(items)
        }
        ValueType::Integer => {
            let (lo, hi) = (d.minimum.unwrap_or(0), d.maximum.unwrap_or(1000));
            let value = lo + (next() as i64 % (hi - lo + 1));
            SettingValue::Simple(SimpleValue::Integer {
                value,
                value_template_id: template_ref(d.setting_value_template_id.as_ref(), root, next),
            })
        }
        ValueType::String => {
            let value = format!("v{}", next());
            SettingValue::Simple(SimpleValue::String {
                value,
                value_template_id: template_ref(d.setting_value_template_id.as_ref(), root, next),
            })
        }
        ValueType::StringCollection | ValueType::IntegerCollection => {
            let n = next() % 3;
            let mut items = Vec::new();
            for i in 0..n {
                items.push(SimpleValue::String {
                    value: format!("s{i}-{}", next()),
                    value_template_id: None,
                });
            }
            SettingValue::SimpleCollection(items)
        }
        ValueType::GroupCollection | ValueType::Group => {
            let n = 1 + next() % 3;
            let mut groups = Vec::new();
            for _ in 0..n {
                groups.push(GroupValue {
                    value_template_id: None,
                    children: kids(cat, d, None, next, depth),
                });
            }
            SettingValue::GroupCollection(groups)
        }
    };
    SettingInstance {
        definition_id: d.id.clone(),
        instance_template_id: template_ref(d.setting_instance_template_id.as_ref(), root, next),
        value,
    }
}

fn round_trips(alias: &str, instances: &[SettingInstance]) -> Result<(), TestCaseError> {
    let t = Catalog::builtin().template_by_alias(alias).unwrap();
    let sections =
        settings_to_yaml(t.kind, t, instances).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let text = serde_saphyr::to_string(&sections).expect("serialises");
    let doc: serde_json::Value = serde_saphyr::from_str(&text).expect("parses back");
    let back = settings_from_yaml(t.kind, t, &doc)
        .map_err(|e| TestCaseError::fail(format!("{e:#?}\n{text}")))?;
    prop_assert_eq!(normalised(&back), normalised(instances), "\n{}", text);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, ..ProptestConfig::default() })]

    #[test]
    fn catalog_trees_round_trip_for_every_template(
        asr in catalog_tree("asr"),
        fw in catalog_tree("firewall"),
        rules in catalog_tree("firewallRules"),
        av in catalog_tree("antivirus"),
    ) {
        round_trips("asr", &asr)?;
        round_trips("firewall", &fw)?;
        round_trips("firewallRules", &rules)?;
        round_trips("antivirus", &av)?;
    }
}
