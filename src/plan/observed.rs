//! Observed state: typed, normalised views of what Graph returned for one tenant, built
//! from the raw JSON by `from_graph` constructors (pure; `fetch` does the reading).
//!
//! Each observed object keeps only what the diff compares (graph-api.md §1.2 "Diff rule"),
//! already normalised (see [`super::normalise`]), plus its id, `lastModifiedDateTime` and
//! the parsed ownership marker. [`fingerprint`](ObservedConfigurationPolicy::fingerprint)
//! digests that normalised form: apply re-reads an object, rebuilds it with the same
//! constructor and compares fingerprints to refuse a stale plan.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{marker, normalise};
use crate::desired::{Kind, RbacSystem};
use crate::settings::SettingInstance;

/// A Graph object the planner cannot read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObservedError {
    #[error("{what} has no `{field}`")]
    Missing {
        what: &'static str,
        field: &'static str,
    },
    #[error("configuration policy {id}: settings")]
    Settings {
        id: String,
        #[source]
        source: crate::settings::WireError,
    },
}

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn opt_s(v: &Value, key: &str) -> Option<String> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn required(v: &Value, key: &'static str, what: &'static str) -> Result<String, ObservedError> {
    opt_s(v, key).ok_or(ObservedError::Missing { what, field: key })
}

/// Everything the planner read from one tenant.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedTenant {
    pub tenant_id: String,
    /// Configuration policies of the endpoint-security template families rampart manages.
    pub configuration_policies: Vec<ObservedConfigurationPolicy>,
    pub detection_rules: Vec<ObservedDetectionRule>,
    /// Only the RBAC systems that were read (those the tenant's desired state uses).
    pub rbac: BTreeMap<RbacSystem, ObservedRbac>,
    pub groups: GroupDirectory,
    /// Assignment filters by display name, read when the desired state uses filters.
    #[serde(default, skip_serializing_if = "FilterDirectory::is_empty")]
    pub filters: FilterDirectory,
    /// Objects that could not be read: an error for any desired object they might be (same
    /// marker or display name), never silently ignored.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreadable: Vec<Unreadable>,
}

impl ObservedTenant {
    /// The same observation with every list in id order, so that what a plan records does
    /// not depend on the order Graph (or a test) listed objects in.
    pub fn canonical(&self) -> ObservedTenant {
        let mut o = self.clone();
        o.configuration_policies.sort_by(|a, b| a.id.cmp(&b.id));
        o.detection_rules.sort_by(|a, b| a.id.cmp(&b.id));
        o.unreadable.sort_by(|a, b| a.id.cmp(&b.id));
        for rbac in o.rbac.values_mut() {
            rbac.role_definitions.sort_by(|a, b| a.id.cmp(&b.id));
            rbac.role_assignments.sort_by(|a, b| a.id.cmp(&b.id));
        }
        o
    }
}

/// An object Graph returned that the planner cannot read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unreadable {
    /// The kind it would be, when its template or collection says so.
    pub kind: Option<Kind>,
    pub id: String,
    pub display_name: String,
    pub marker: Option<String>,
    pub error: String,
}

impl Unreadable {
    /// Describes a configuration policy that `from_graph` refused.
    pub fn policy(v: &Value, error: &ObservedError) -> Unreadable {
        let tr = v.get("templateReference").cloned().unwrap_or(Value::Null);
        Unreadable {
            kind: kind_of_template(
                &s(&tr, "templateId"),
                opt_s(&tr, "templateFamily").as_deref(),
            ),
            id: s(v, "id"),
            display_name: s(v, "name"),
            marker: marker::split(&s(v, "description")).1.map(str::to_string),
            error: error.to_string(),
        }
    }

    /// Describes a detection rule that `from_graph` refused.
    pub fn rule(v: &Value, error: &ObservedError) -> Unreadable {
        Unreadable {
            kind: Some(Kind::DetectionRule),
            id: s(v, "id"),
            display_name: s(v, "displayName"),
            marker: marker::split(&s(v, "description")).1.map(str::to_string),
            error: error.to_string(),
        }
    }
}

/// Group names resolved in one tenant (once per run) and the names of ids seen in
/// assignments.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupDirectory {
    /// Display name -> ids of groups with that name (zero, one, or ambiguous many).
    pub by_name: BTreeMap<String, Vec<String>>,
    /// Id -> display name, for readable observed assignments.
    pub names: BTreeMap<String, String>,
}

/// Why a group name gives no single id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupError {
    #[error("group {0:?} does not exist in this tenant")]
    Missing(String),
    #[error("group name {0:?} is ambiguous in this tenant ({1} groups have it)")]
    Ambiguous(String, usize),
}

impl GroupDirectory {
    /// Records the lookup result of a name.
    pub fn insert(&mut self, name: &str, ids: Vec<String>) {
        for id in &ids {
            self.names.insert(id.clone(), name.to_string());
        }
        self.by_name.insert(name.to_string(), ids);
    }

    /// The single id of a group name.
    pub fn resolve(&self, name: &str) -> Result<&str, GroupError> {
        match self.by_name.get(name).map(Vec::as_slice) {
            None | Some([]) => Err(GroupError::Missing(name.to_string())),
            Some([id]) => Ok(id),
            Some(many) => Err(GroupError::Ambiguous(name.to_string(), many.len())),
        }
    }

    /// The display name of an id, else the id itself.
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        self.names.get(id).map(String::as_str).unwrap_or(id)
    }
}

/// The tenant's assignment filters (`GET /beta/deviceManagement/assignmentFilters`, Graph's
/// deviceAndAppManagementAssignmentFilter), read once per run when the desired state uses a
/// filter: names resolve to ids for `/assign`, ids read back show as names in plans.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterDirectory {
    /// Display name -> ids of filters with that name (one, or ambiguous many).
    pub by_name: BTreeMap<String, Vec<String>>,
    /// Id -> display name.
    pub names: BTreeMap<String, String>,
}

/// Why a filter name gives no single id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    #[error("assignment filter {0:?} does not exist in this tenant")]
    Missing(String),
    #[error("assignment filter name {0:?} is ambiguous in this tenant ({1} filters have it)")]
    Ambiguous(String, usize),
}

impl FilterDirectory {
    /// Builds the directory from the items of the filters list (`id`, `displayName`).
    pub fn from_graph(items: &[Value]) -> FilterDirectory {
        let mut d = FilterDirectory::default();
        for v in items {
            let (id, name) = (s(v, "id"), s(v, "displayName"));
            if id.is_empty() {
                continue;
            }
            d.by_name.entry(name.clone()).or_default().push(id.clone());
            d.names.insert(id, name);
        }
        for ids in d.by_name.values_mut() {
            ids.sort();
            ids.dedup();
        }
        d
    }

    /// True when nothing was read (the desired state used no filter).
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty() && self.names.is_empty()
    }

    /// The single id of a filter name.
    pub fn resolve(&self, name: &str) -> Result<&str, FilterError> {
        match self.by_name.get(name).map(Vec::as_slice) {
            None | Some([]) => Err(FilterError::Missing(name.to_string())),
            Some([id]) => Ok(id),
            Some(many) => Err(FilterError::Ambiguous(name.to_string(), many.len())),
        }
    }

    /// The display name of an id when it is known and names only that filter, else the id.
    pub fn name_of<'a>(&'a self, id: &'a str) -> &'a str {
        match self.names.get(id) {
            Some(name) if self.by_name.get(name).is_some_and(|ids| ids.len() == 1) => name,
            _ => id,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Configuration policies

/// The kind a configuration policy belongs to, from its template family when Graph gives
/// it (`none`: a plain settings-catalog policy), else from the catalog's template of that
/// id (any version of it). `None`: a template rampart does not manage.
pub fn kind_of_template(template_id: &str, family: Option<&str>) -> Option<Kind> {
    if let Some(kind) = family.and_then(Kind::for_template_family) {
        return Some(kind);
    }
    let base = template_id.split('_').next().unwrap_or("");
    crate::catalog::Catalog::builtin()
        .templates()
        .iter()
        .find(|t| t.base_id == base)
        .map(|t| t.kind)
}

/// One assignment target, groups by id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub enum ObservedTarget {
    Group {
        group_id: String,
    },
    ExcludeGroup {
        group_id: String,
    },
    AllDevices,
    AllLicensedUsers,
    /// A target type rampart does not write (e.g. a ConfigMgr collection): compared
    /// verbatim so that it shows as a change, never silently dropped.
    Other {
        odata_type: String,
    },
}

/// One assignment: target and optional filter `(id, include|exclude)`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedAssignment {
    pub target: ObservedTarget,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<(String, String)>,
}

impl ObservedAssignment {
    /// Reads one `{target: {...}}` item of `assignments`.
    pub fn from_graph(v: &Value) -> ObservedAssignment {
        let t = v.get("target").unwrap_or(v);
        let ty = s(t, "@odata.type");
        let group_id = s(t, "groupId");
        let target = match ty.trim_start_matches("#microsoft.graph.") {
            "groupAssignmentTarget" => ObservedTarget::Group { group_id },
            "exclusionGroupAssignmentTarget" => ObservedTarget::ExcludeGroup { group_id },
            "allDevicesAssignmentTarget" => ObservedTarget::AllDevices,
            "allLicensedUsersAssignmentTarget" => ObservedTarget::AllLicensedUsers,
            _ => ObservedTarget::Other { odata_type: ty },
        };
        // No filter = absent id, empty id, the all-zero id, or type `none`.
        let filter_id = s(t, "deviceAndAppManagementAssignmentFilterId");
        let filter_type = s(t, "deviceAndAppManagementAssignmentFilterType").to_ascii_lowercase();
        let filter = if filter_id.is_empty()
            || filter_id == "00000000-0000-0000-0000-000000000000"
            || filter_type.is_empty()
            || filter_type == "none"
        {
            None
        } else {
            Some((filter_id, filter_type))
        };
        ObservedAssignment { target, filter }
    }

    /// The assignment as Graph's `/assign` item.
    pub fn to_graph(&self) -> Value {
        let mut t = serde_json::Map::new();
        let (ty, gid) = match &self.target {
            ObservedTarget::Group { group_id } => ("groupAssignmentTarget", Some(group_id)),
            ObservedTarget::ExcludeGroup { group_id } => {
                ("exclusionGroupAssignmentTarget", Some(group_id))
            }
            ObservedTarget::AllDevices => ("allDevicesAssignmentTarget", None),
            ObservedTarget::AllLicensedUsers => ("allLicensedUsersAssignmentTarget", None),
            ObservedTarget::Other { odata_type } => {
                t.insert("@odata.type".into(), json!(odata_type));
                ("", None)
            }
        };
        if !ty.is_empty() {
            t.insert(
                "@odata.type".into(),
                json!(format!("#microsoft.graph.{ty}")),
            );
        }
        if let Some(g) = gid {
            t.insert("groupId".into(), json!(g));
        }
        if let Some((id, mode)) = &self.filter {
            t.insert("deviceAndAppManagementAssignmentFilterId".into(), json!(id));
            t.insert(
                "deviceAndAppManagementAssignmentFilterType".into(),
                json!(mode),
            );
        }
        json!({ "target": Value::Object(t) })
    }

    /// Readable form for plans: `group: Pilot Devices`, `allDevices`,
    /// `... (filter include <name>)` (the filter's id when its name is unknown or shared).
    pub fn readable(&self, groups: &GroupDirectory, filters: &FilterDirectory) -> String {
        let base = match &self.target {
            ObservedTarget::Group { group_id } => format!("group: {}", groups.name_of(group_id)),
            ObservedTarget::ExcludeGroup { group_id } => {
                format!("excludeGroup: {}", groups.name_of(group_id))
            }
            ObservedTarget::AllDevices => "allDevices".to_string(),
            ObservedTarget::AllLicensedUsers => "allLicensedUsers".to_string(),
            ObservedTarget::Other { odata_type } => format!("other: {odata_type}"),
        };
        match &self.filter {
            Some((id, mode)) => format!("{base} (filter {mode} {})", filters.name_of(id)),
            None => base,
        }
    }
}

/// A settings-catalog configuration policy as observed, normalised.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedConfigurationPolicy {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// `None` when the template is not one rampart manages.
    pub kind: Option<Kind>,
    /// Graph `name`.
    pub name: String,
    /// The description without the marker line.
    pub description: String,
    /// The marker's name when the object is managed.
    pub marker: Option<String>,
    pub platforms: String,
    pub technologies: String,
    pub template_id: String,
    pub role_scope_tag_ids: Vec<String>,
    /// Normalised (sorted, without template references).
    pub settings: Vec<SettingInstance>,
    /// Sorted.
    pub assignments: Vec<ObservedAssignment>,
}

impl ObservedConfigurationPolicy {
    /// Reads a policy as `GET configurationPolicies/{id}?$expand=settings,assignments`
    /// returns it (`settings`/`assignments` may also be filled in by the caller).
    pub fn from_graph(v: &Value) -> Result<Self, ObservedError> {
        let id = required(v, "id", "configuration policy")?;
        let tr = v.get("templateReference").cloned().unwrap_or(Value::Null);
        let template_id = s(&tr, "templateId");
        let family = opt_s(&tr, "templateFamily");
        let settings = match v.get("settings") {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(s) => crate::settings::instances_from_graph(s),
        }
        .map_err(|source| ObservedError::Settings {
            id: id.clone(),
            source,
        })?;
        let mut assignments: Vec<ObservedAssignment> = match v.get("assignments") {
            Some(Value::Array(a)) => a.iter().map(ObservedAssignment::from_graph).collect(),
            _ => Vec::new(),
        };
        assignments.sort();
        assignments.dedup();
        let (description, marker) = described(v);
        Ok(ObservedConfigurationPolicy {
            kind: kind_of_template(&template_id, family.as_deref()),
            last_modified: opt_s(v, "lastModifiedDateTime"),
            name: s(v, "name"),
            description,
            marker,
            platforms: s(v, "platforms"),
            technologies: normalise::flags(&s(v, "technologies")),
            template_id: template_id.to_ascii_lowercase(),
            role_scope_tag_ids: normalise::scope_tags(&strings(v, "roleScopeTagIds")),
            settings: normalise::settings(&settings),
            assignments,
            id,
        })
    }

    /// Digest of the normalised object (everything but `lastModifiedDateTime`).
    pub fn fingerprint(&self) -> String {
        fingerprint(self)
    }
}

// ---------------------------------------------------------------------------------------
// Detection rules

/// A custom detection rule as observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedDetectionRule {
    /// The client-chosen id.
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    pub display_name: String,
    /// The description without the marker line.
    pub description: String,
    pub marker: Option<String>,
    /// The rest of the rule, normalised by [`normalise::detection_rule`].
    pub normalised: Value,
}

impl ObservedDetectionRule {
    pub fn from_graph(v: &Value) -> Result<Self, ObservedError> {
        let id = required(v, "id", "detection rule")?;
        let (description, marker) = described(v);
        Ok(ObservedDetectionRule {
            last_modified: opt_s(v, "lastModifiedDateTime"),
            display_name: s(v, "displayName"),
            description,
            marker,
            normalised: normalise::detection_rule(v),
            id,
        })
    }

    pub fn fingerprint(&self) -> String {
        fingerprint(self)
    }
}

// ---------------------------------------------------------------------------------------
// RBAC

/// One RBAC system's role definitions and assignments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRbac {
    pub role_definitions: Vec<ObservedRoleDefinition>,
    pub role_assignments: Vec<ObservedRoleAssignment>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRoleDefinition {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub marker: Option<String>,
    pub is_built_in: bool,
    /// Allowed actions, normalised by [`normalise::rbac_actions`].
    pub actions: Vec<String>,
}

impl ObservedRoleDefinition {
    /// Reads a role definition of any of the three systems (Defender/Directory:
    /// `rolePermissions[].allowedResourceActions`; Intune:
    /// `rolePermissions[].resourceActions[].allowedResourceActions`).
    pub fn from_graph(v: &Value) -> Result<Self, ObservedError> {
        let id = required(v, "id", "role definition")?;
        let mut actions = Vec::new();
        if let Some(Value::Array(perms)) = v.get("rolePermissions") {
            for p in perms {
                actions.extend(strings(p, "allowedResourceActions"));
                if let Some(Value::Array(ras)) = p.get("resourceActions") {
                    for ra in ras {
                        actions.extend(strings(ra, "allowedResourceActions"));
                    }
                }
            }
        }
        let (description, marker) = described(v);
        Ok(ObservedRoleDefinition {
            display_name: s(v, "displayName"),
            description,
            marker,
            is_built_in: v
                .get("isBuiltIn")
                .or_else(|| v.get("isBuiltInRoleDefinition"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            actions: normalise::rbac_actions(&actions),
            id,
        })
    }

    pub fn fingerprint(&self) -> String {
        normalise::digest(&serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// A role assignment of any system, in one shape: principals and scopes as sorted sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedRoleAssignment {
    pub id: String,
    pub display_name: String,
    pub description: String,
    pub marker: Option<String>,
    pub role_definition_id: String,
    /// Defender `principalIds`, Intune `members`, Directory `[principalId]`.
    pub principal_ids: Vec<String>,
    /// Defender `appScopeIds`, Intune `resourceScopes` (or `["/"]` for all devices and
    /// users), Directory `[directoryScopeId]`.
    pub scopes: Vec<String>,
}

impl ObservedRoleAssignment {
    pub fn from_graph(system: RbacSystem, v: &Value) -> Result<Self, ObservedError> {
        let id = required(v, "id", "role assignment")?;
        let (principals, scopes, role) = match system {
            RbacSystem::Defender => (
                strings(v, "principalIds"),
                strings(v, "appScopeIds"),
                s(v, "roleDefinitionId"),
            ),
            RbacSystem::Intune => {
                let scope_type = s(v, "scopeType");
                let mut scopes = strings(v, "resourceScopes");
                if scopes.is_empty() && scope_type.starts_with("all") {
                    scopes.push("/".to_string());
                }
                let role = v
                    .get("roleDefinition")
                    .map(|r| s(r, "id"))
                    .filter(|r| !r.is_empty())
                    .unwrap_or_else(|| s(v, "roleDefinitionId"));
                (strings(v, "members"), scopes, role)
            }
            RbacSystem::Directory => (
                vec![s(v, "principalId")],
                vec![opt_s(v, "directoryScopeId").unwrap_or_else(|| "/".to_string())],
                s(v, "roleDefinitionId"),
            ),
        };
        let (description, marker) = described(v);
        Ok(ObservedRoleAssignment {
            display_name: s(v, "displayName"),
            description,
            marker,
            role_definition_id: role,
            principal_ids: sorted(principals),
            scopes: sorted(scopes),
            id,
        })
    }

    pub fn fingerprint(&self) -> String {
        normalise::digest(&serde_json::to_value(self).unwrap_or(Value::Null))
    }
}

/// An observed object's `description` split at rampart's marker line: the normalised text
/// without the marker, and the marker, if any.
fn described(v: &Value) -> (String, Option<String>) {
    let description = s(v, "description");
    let (body, mark) = marker::split(&description);
    (normalise::text(body), mark.map(str::to_string))
}

/// The digest of an observed object as serialised, without `lastModified` (when Graph last
/// touched it says nothing about what it is).
fn fingerprint(observed: &impl Serialize) -> String {
    let mut v = serde_json::to_value(observed).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.remove("lastModified");
    }
    normalise::digest(&v)
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.retain(|x| !x.is_empty());
    v.sort();
    v.dedup();
    v
}
