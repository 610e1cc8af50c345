//! The desired state of each tenant: what `resolve` produces from profiles x policies and
//! what `plan` compares with what Graph reports. Pure data, after variable substitution;
//! names (groups, roles) are still names here: they are resolved to IDs per tenant by the
//! planner, because IDs differ in every tenant.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::settings::SettingInstance;

pub use rampart_catalog::Kind;

/// Where a desired object came from, for messages that must name the file.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    /// The policy file, relative to the repository root as given on the command line.
    pub path: String,
    /// 1-based line of the document's start.
    pub line: u32,
}

/// A tenant as a profile names it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantRef {
    /// The Entra tenant id (a GUID, lower case).
    pub id: String,
    pub name: String,
}

/// Everything rampart wants one tenant to hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantDesired {
    pub tenant: TenantRef,
    /// Profiles that target this tenant, sorted.
    pub profiles: Vec<String>,
    /// Rollout ring (lowest of the profiles'), for ordering and `--ring` selection.
    pub ring: Option<u32>,
    /// Whether managed objects that are no longer desired may be deleted in this tenant
    /// (true only when every profile targeting the tenant allows removal).
    pub allow_removal: bool,
    /// Desired objects keyed by (kind, name); the canonical address is
    /// `tenant/kind/name` (see `Address`).
    pub objects: BTreeMap<(Kind, String), DesiredObject>,
}

/// The canonical address of an object: `tenant/kind/name`, used in plans, JSON, logs,
/// diagnostics and `--target`. `tenant` is the tenant's name as the profile gives it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub tenant: String,
    pub kind: Kind,
    pub name: String,
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.kind, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all_fields = "camelCase")]
pub enum DesiredObject {
    ConfigurationPolicy(DesiredConfigurationPolicy),
    DetectionRule(DesiredDetectionRule),
    RoleAssignment(DesiredRoleAssignment),
}

impl DesiredObject {
    pub fn origin(&self) -> &Origin {
        match self {
            DesiredObject::ConfigurationPolicy(p) => &p.origin,
            DesiredObject::DetectionRule(r) => &r.origin,
            DesiredObject::RoleAssignment(r) => &r.origin,
        }
    }
}

/// An Intune settings-catalog policy (antivirus, firewall, firewall rules, ASR).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredConfigurationPolicy {
    pub kind: Kind,
    /// rampart's stable identity; written into the object as the ownership marker.
    pub name: String,
    /// Graph `name` (what the portal shows).
    pub display_name: String,
    pub description: String,
    pub platforms: String,
    pub technologies: String,
    /// `templateReference.templateId`, e.g. `804339ad-1553-4478-a742-138fb5807418_1`.
    pub template_id: String,
    pub role_scope_tag_ids: Vec<String>,
    pub settings: Vec<SettingInstance>,
    pub assignments: Vec<DesiredAssignment>,
    pub origin: Origin,
}

/// One assignment of a configuration policy. Groups by display name, resolved per tenant.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredAssignment {
    pub target: AssignmentTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<AssignmentFilter>,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum AssignmentTarget {
    /// `#microsoft.graph.groupAssignmentTarget`.
    Group { group: String },
    /// `#microsoft.graph.exclusionGroupAssignmentTarget`.
    ExcludeGroup { group: String },
    /// `#microsoft.graph.allDevicesAssignmentTarget`.
    AllDevices,
    /// `#microsoft.graph.allLicensedUsersAssignmentTarget`.
    AllLicensedUsers,
}

/// An assignment filter (`deviceAndAppManagementAssignmentFilterId` / `...FilterType`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignmentFilter {
    /// Which filter: by display name (resolved per tenant at plan time) or by id.
    #[serde(flatten)]
    pub filter: FilterRef,
    /// `include` or `exclude`.
    pub mode: FilterMode,
}

/// How an assignment names its filter (`deviceAndAppManagementAssignmentFilter`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FilterRef {
    /// The filter's `displayName`, resolved per tenant like group names: missing or
    /// ambiguous (two filters with that name) is an error for the object in the plan.
    Name(String),
    /// The filter's id in the tenant (ids differ per tenant; use a variable).
    Id(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FilterMode {
    Include,
    Exclude,
}

/// A Defender XDR custom detection rule, 2026 schema. `body` is the Graph request body
/// without server-set fields (`id` included: it is client-chosen and equals `rule_id`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredDetectionRule {
    pub name: String,
    /// The client-chosen Graph `id`.
    pub rule_id: String,
    /// Graph-shaped body: `id`, `displayName`, `description`, `status`, `queryCondition`,
    /// `schedule`, `detectionAction`.
    pub body: serde_json::Value,
    pub origin: Origin,
}

/// Which RBAC system a role assignment lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RbacSystem {
    /// Defender XDR unified RBAC, `roleManagement/defender` (beta).
    Defender,
    /// Intune RBAC, `deviceManagement/roleDefinitions|roleAssignments`.
    Intune,
    /// Entra directory roles, `roleManagement/directory` (v1.0).
    Directory,
}

/// A role granted to a group, by names.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredRoleAssignment {
    pub name: String,
    pub system: RbacSystem,
    /// The role's display name (built-in or custom).
    pub role: String,
    /// A custom role rampart manages too (Defender: permission list), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_role: Option<DesiredCustomRole>,
    /// Principal groups by display name.
    pub groups: Vec<String>,
    pub display_name: String,
    pub description: String,
    /// Defender `appScopeIds` (default `["/"]`); Intune scope groups by name; Directory
    /// `directoryScopeId` (default `/`).
    pub scopes: Vec<String>,
    pub origin: Origin,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredCustomRole {
    pub display_name: String,
    pub description: String,
    /// Allowed resource actions, e.g. `microsoft.xdr/secops/*/read`.
    pub actions: Vec<String>,
}
