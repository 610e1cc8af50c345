//! Domain types of the settings tree. No Graph annotations (`@odata.*`) live here: they are
//! added when converting to the wire shape and dropped when reading it.

use serde::{Deserialize, Serialize};

/// One setting instance (`deviceManagementConfigurationSettingInstance`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingInstance {
    /// `settingDefinitionId`, e.g. `device_vendor_msft_policy_config_defender_allowrealtimemonitoring`.
    pub definition_id: String,
    /// `settingInstanceTemplateReference.settingInstanceTemplateId`, for template-based policies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_template_id: Option<String>,
    pub value: SettingValue,
}

/// The polymorphic value of an instance; the variant decides the instance's `@odata.type`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type", content = "value")]
pub enum SettingValue {
    /// `choiceSettingInstance` / `choiceSettingValue`.
    Choice(ChoiceValue),
    /// `choiceSettingCollectionInstance` / `choiceSettingCollectionValue`.
    ChoiceCollection(Vec<ChoiceValue>),
    /// `simpleSettingInstance` / `simpleSettingValue`.
    Simple(SimpleValue),
    /// `simpleSettingCollectionInstance` / `simpleSettingCollectionValue`.
    SimpleCollection(Vec<SimpleValue>),
    /// `groupSettingCollectionInstance` / `groupSettingCollectionValue`.
    GroupCollection(Vec<GroupValue>),
    /// `groupSettingInstance` / `groupSettingValue` (a single group, rare in endpoint security).
    Group(GroupValue),
}

/// A choice: the option's `itemId` plus the instances that hang below that option.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChoiceValue {
    /// The option `itemId`, e.g. `..._allowrealtimemonitoring_1`.
    pub value: String,
    /// `settingValueTemplateReference.settingValueTemplateId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_template_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SettingInstance>,
}

/// One group element: its children.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupValue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_template_id: Option<String>,
    #[serde(default)]
    pub children: Vec<SettingInstance>,
}

/// A simple value; the variant decides the value's `@odata.type`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "type"
)]
pub enum SimpleValue {
    /// `#microsoft.graph.deviceManagementConfigurationIntegerSettingValue`.
    Integer {
        value: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_template_id: Option<String>,
    },
    /// `#microsoft.graph.deviceManagementConfigurationStringSettingValue`.
    String {
        value: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_template_id: Option<String>,
    },
    /// `#microsoft.graph.deviceManagementConfigurationSecretSettingValue`: Graph never returns
    /// the clear value (`valueState` is `encryptedValueToken`), so it can't be diffed.
    Secret {
        value: String,
        value_state: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value_template_id: Option<String>,
    },
}
