//! The file shape of every document kind: what a user writes in `policies/` and
//! `profiles/`, as serde types with unknown fields rejected. These are the single source
//! of the JSON Schemas in `schemas/` (derived with schemars, see [`schema`]); the validated
//! domain types live in `crate::desired` and are built by `crate::resolve`.
//!
//! Limits: the settings-catalog sections (`settings`, ASR `rules`, firewall `profiles` and
//! firewall-rules `rules`) are opaque JSON here; their shape belongs to `crate::settings`.

pub mod schema;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::desired::{FilterMode, Kind, RbacSystem};

/// The pattern of a document `name`: stable identity, used in addresses and markers.
pub const NAME_PATTERN: &str = "^[a-z0-9][a-z0-9-]{0,62}$";

/// Kinds a document may have: the policy kinds plus `DistributionProfile`.
pub const DOCUMENT_KINDS: [&str; 11] = [
    "AntivirusPolicy",
    "FirewallPolicy",
    "AttackSurfaceReductionPolicy",
    "EndpointDetectionAndResponsePolicy",
    "DiskEncryptionPolicy",
    "AccountProtectionPolicy",
    "ApplicationControlPolicy",
    "SettingsCatalogPolicy",
    "DetectionRule",
    "RoleAssignment",
    "DistributionProfile",
];

/// An Intune settings-catalog policy: one kind per endpoint-security family
/// (`AntivirusPolicy`, `FirewallPolicy`, `AttackSurfaceReductionPolicy`,
/// `EndpointDetectionAndResponsePolicy`, `DiskEncryptionPolicy`, `AccountProtectionPolicy`,
/// `ApplicationControlPolicy`) or a plain settings-catalog policy (`SettingsCatalogPolicy`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigurationPolicyFile {
    /// The document kind.
    pub kind: String,
    /// Stable identity of the policy across tenants (lower case, digits, dashes).
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
    /// The policy name shown in Intune (Graph `name`); defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Template alias (`antivirus`, `firewall`, `firewallRules`, `asr`, ...) or raw
    /// template id with its `_N` version suffix; defaults per kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    /// `SettingsCatalogPolicy` only: Graph `platforms` (e.g. `windows10`, `macOS`); default
    /// `windows10`. Endpoint-security kinds take it from their template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platforms: Option<String>,
    /// `SettingsCatalogPolicy` only: Graph `technologies` (e.g. `mdm`,
    /// `mdm,microsoftSense`); default `mdm`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technologies: Option<String>,
    /// Labels that profiles can select on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// Intune scope tag ids; default `["0"]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_scope_tag_ids: Option<Vec<String>>,
    /// Settings-catalog settings: readable name or raw definition id -> value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings: Option<Value>,
    /// ASR: rule -> mode; firewall rules: the list of rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Value>,
    /// Firewall: `domain`, `private`, `public` profile settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Value>,
    /// The complete assignment list (assign replaces the list in Intune).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignments: Option<Vec<AssignmentFile>>,
}

/// One assignment: exactly one of `allDevices`, `allLicensedUsers`, `group`,
/// `excludeGroup`, with an optional filter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AssignmentFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_devices: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_licensed_users: Option<bool>,
    /// Include a group, by display name (resolved per tenant).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Exclude a group, by display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterFile>,
}

/// An assignment filter, by exactly one of `name` (its display name, resolved per tenant
/// at plan time, like group names) or `id` (ids differ per tenant, so use a variable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FilterFile {
    /// The filter's display name in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The filter's id in the tenant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub mode: FilterModeFile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FilterModeFile {
    Include,
    Exclude,
}

impl From<FilterModeFile> for FilterMode {
    fn from(m: FilterModeFile) -> FilterMode {
        match m {
            FilterModeFile::Include => FilterMode::Include,
            FilterModeFile::Exclude => FilterMode::Exclude,
        }
    }
}

/// A Defender XDR custom detection rule (Graph 2026 schema).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DetectionRuleFile {
    pub kind: String,
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
    /// The client-chosen Graph `id`; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_id: Option<String>,
    /// Defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Default `enabled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<RuleStatus>,
    /// KQL, inline. Exactly one of `query` and `queryFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// A `.kql` file, relative to this YAML file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_file: Option<String>,
    /// `schedule.frequency`: `PT0S` (near real time), `PT1H`, `PT3H`, `PT12H`, `PT24H`.
    pub frequency: String,
    pub alert: AlertFile,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automated_actions: Option<AutomatedActionsFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RuleStatus {
    Enabled,
    Disabled,
}

impl RuleStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleStatus::Enabled => "enabled",
            RuleStatus::Disabled => "disabled",
        }
    }
}

/// The alert template of a detection rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertFile {
    pub title: String,
    /// Defaults to the rule's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub severity: AlertSeverity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommended_actions: Option<String>,
    /// The MITRE ATT&CK tactic (the service accepts at most one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactic: Option<String>,
    /// Accepted for clarity of the error: the service takes at most one tactic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tactics: Option<Vec<String>>,
    /// MITRE technique ids, e.g. `T1059.001`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub techniques: Vec<String>,
    pub entity_mappings: EntityMappingsFile,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AlertSeverity {
    Informational,
    Low,
    Medium,
    High,
}

impl AlertSeverity {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Informational => "informational",
            AlertSeverity::Low => "low",
            AlertSeverity::Medium => "medium",
            AlertSeverity::High => "high",
        }
    }
}

/// A column mapping: Graph property (`deviceIdColumn`, `nameColumn`, ...) -> the query
/// column that holds it.
pub type ColumnMap = BTreeMap<String, String>;

/// `alertTemplate.entityMappings`: at least one of hosts, accounts, mailboxes, ips.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntityMappingsFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mailboxes: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ips: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<ColumnMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ColumnMap>,
}

/// An automated action: Graph property (`deviceIdColumn`, `isolationType`, ...) -> value.
pub type ActionMap = BTreeMap<String, String>;

/// `detectionAction.automatedActions` (Graph `automatedActionSet`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutomatedActionsFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_files: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub block_files: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collect_investigation_packages: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disable_users: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub force_user_password_resets: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hard_delete_emails: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub initiate_investigations: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub isolate_devices: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mark_users_as_compromised: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub move_emails_to_deleted_items: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub move_emails_to_inbox: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub move_emails_to_junk: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restrict_app_executions: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub run_antivirus_scans: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub soft_delete_emails: Vec<ActionMap>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_and_quarantine_files: Vec<ActionMap>,
}

/// A role granted to groups, in Defender XDR unified RBAC, Intune RBAC or Entra.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RoleAssignmentFile {
    pub kind: String,
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
    pub system: SystemFile,
    /// A built-in role by name, or the display name of `customRole`; defaults to the
    /// custom role's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// A custom role rampart manages too (defender and intune only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role: Option<CustomRoleFile>,
    /// Principal groups, by display name.
    pub groups: Vec<String>,
    /// Defender `appScopeIds` (default `["/"]`); Intune scope groups; directory scope id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SystemFile {
    Defender,
    Intune,
    Directory,
}

impl From<SystemFile> for RbacSystem {
    fn from(s: SystemFile) -> RbacSystem {
        match s {
            SystemFile::Defender => RbacSystem::Defender,
            SystemFile::Intune => RbacSystem::Intune,
            SystemFile::Directory => RbacSystem::Directory,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CustomRoleFile {
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Allowed resource actions, e.g. `microsoft.xdr/secops/*/read`.
    pub actions: Vec<String>,
}

/// A distribution profile: tenants and the policies they receive.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DistributionProfileFile {
    pub kind: String,
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Rollout ring; lower rings go first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring: Option<u32>,
    /// How long this ring runs in step before the next ring may be promoted: a duration
    /// such as `24h`, `90m`, `2d`, `1d12h` (units d, h, m, s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<String>,
    /// Whether rampart may delete managed objects that are no longer desired.
    #[serde(default)]
    pub allow_removal: bool,
    /// Profile variables, `${vars.NAME}`; tenant variables override them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarValue>,
    pub tenants: Vec<TenantFile>,
    /// Policies by name, or selectors `{kind, label}`.
    pub policies: Vec<PolicyRefFile>,
}

/// A variable's value: a string, a number, a boolean or a list of strings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum VarValue {
    String(String),
    Integer(i64),
    Bool(bool),
    List(Vec<String>),
}

impl VarValue {
    pub fn to_json(&self) -> Value {
        match self {
            VarValue::String(s) => Value::String(s.clone()),
            VarValue::Integer(i) => Value::from(*i),
            VarValue::Bool(b) => Value::Bool(*b),
            VarValue::List(l) => Value::from(l.clone()),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantFile {
    /// The Entra tenant id (a GUID).
    pub id: String,
    /// Short name, unique, used in addresses (`tenant/kind/name`).
    #[schemars(regex(pattern = r"^[a-z0-9][a-z0-9-]{0,62}$"))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub vars: BTreeMap<String, VarValue>,
}

/// A policy by name, or a selector.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum PolicyRefFile {
    Name(String),
    Selector(SelectorFile),
}

/// Every policy matching all given conditions.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// A parsed document of any kind.
#[derive(Clone, Debug, PartialEq)]
pub enum DocumentFile {
    ConfigurationPolicy(Kind, ConfigurationPolicyFile),
    DetectionRule(Box<DetectionRuleFile>),
    RoleAssignment(RoleAssignmentFile),
    DistributionProfile(DistributionProfileFile),
}

/// Converts a schema-valid JSON document of `kind` into its file type.
pub fn from_json(kind: &str, value: &Value) -> Result<DocumentFile, serde_json::Error> {
    let v = value.clone();
    Ok(match kind {
        "DetectionRule" => DocumentFile::DetectionRule(Box::new(serde_json::from_value(v)?)),
        "RoleAssignment" => DocumentFile::RoleAssignment(serde_json::from_value(v)?),
        "DistributionProfile" => DocumentFile::DistributionProfile(serde_json::from_value(v)?),
        other => {
            let k = Kind::parse(other).ok_or_else(|| {
                <serde_json::Error as serde::de::Error>::custom(format!("unknown kind {other}"))
            })?;
            DocumentFile::ConfigurationPolicy(k, serde_json::from_value(v)?)
        }
    })
}
