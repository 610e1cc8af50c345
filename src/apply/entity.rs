//! Graph entities as apply sees them: which collection a request path belongs to, how to
//! fingerprint a fresh read the way the planner did, and how to compare a read-back with
//! what the plan intended. Pure.
//!
//! Fingerprints and comparisons go through the planner's own observed-state constructors
//! (`crate::plan::observed`), so apply and plan normalise identically: a field the planner
//! ignores (timestamps, server-added template references, `@odata.*`) can never make
//! apply call an object stale or a write inconsistent.

use serde_json::{Map, Value, json};

use crate::desired::RbacSystem;
use crate::plan::observed::{
    ObservedConfigurationPolicy, ObservedDetectionRule, ObservedRoleAssignment,
    ObservedRoleDefinition, kind_of_template,
};
use crate::plan::{Resource, marker};

/// The Graph collections apply writes to.
pub const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";
pub const RULES: &str = "/beta/security/rules/detectionRules";
const COLLECTIONS: [(&str, EntityKind); 8] = [
    (POLICIES, EntityKind::Policy),
    (RULES, EntityKind::Rule),
    (
        "/beta/roleManagement/defender/roleDefinitions",
        EntityKind::RoleDefinition(RbacSystem::Defender),
    ),
    (
        "/beta/roleManagement/defender/roleAssignments",
        EntityKind::RoleAssignment(RbacSystem::Defender),
    ),
    (
        "/beta/deviceManagement/roleDefinitions",
        EntityKind::RoleDefinition(RbacSystem::Intune),
    ),
    (
        "/beta/deviceManagement/roleAssignments",
        EntityKind::RoleAssignment(RbacSystem::Intune),
    ),
    (
        "/v1.0/roleManagement/directory/roleDefinitions",
        EntityKind::RoleDefinition(RbacSystem::Directory),
    ),
    (
        "/v1.0/roleManagement/directory/roleAssignments",
        EntityKind::RoleAssignment(RbacSystem::Directory),
    ),
];

/// What kind of Graph entity a path addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntityKind {
    Policy,
    Rule,
    RoleDefinition(RbacSystem),
    RoleAssignment(RbacSystem),
}

/// A request path taken apart: `collection[/id[/assign]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityPath {
    pub kind: EntityKind,
    pub collection: &'static str,
    pub id: Option<String>,
    /// `.../{id}/assign`.
    pub assign: bool,
}

impl EntityPath {
    /// Parses a request path (query ignored). `None` for a collection apply does not know.
    pub fn parse(path: &str) -> Option<EntityPath> {
        let path = path.split('?').next().unwrap_or(path).trim_end_matches('/');
        for (c, kind) in COLLECTIONS {
            if let Some(rest) = path.strip_prefix(c) {
                let rest = rest.trim_start_matches('/');
                if !rest.is_empty() && !path[c.len()..].starts_with('/') {
                    continue; // a longer collection name sharing the prefix
                }
                let mut parts = rest.split('/').filter(|s| !s.is_empty());
                let id = parts.next().map(str::to_string);
                let assign = parts.next() == Some("assign");
                return Some(EntityPath {
                    kind,
                    collection: c,
                    id,
                    assign,
                });
            }
        }
        None
    }

    /// The entity's own path (`collection/id`).
    pub fn entity(&self) -> Option<String> {
        self.id
            .as_ref()
            .map(|id| format!("{}/{id}", self.collection))
    }

    /// Where to read the entity back for verification.
    pub fn read_path(&self) -> Option<String> {
        let e = self.entity()?;
        Some(match self.kind {
            EntityKind::Policy => format!("{e}?$expand=settings,assignments"),
            EntityKind::RoleAssignment(RbacSystem::Intune) => {
                format!("{e}?$expand=roleDefinition($select=id)")
            }
            _ => e,
        })
    }
}

/// The system of a role resource.
pub fn resource_system(r: Resource) -> Option<RbacSystem> {
    match r {
        Resource::DefenderRoleDefinition | Resource::DefenderRoleAssignment => {
            Some(RbacSystem::Defender)
        }
        Resource::IntuneRoleDefinition | Resource::IntuneRoleAssignment => Some(RbacSystem::Intune),
        Resource::DirectoryRoleAssignment | Resource::DirectoryRoleDefinition => {
            Some(RbacSystem::Directory)
        }
        _ => None,
    }
}

/// The planner's fingerprint of a fresh read of `resource`.
pub fn fingerprint(resource: Resource, v: &Value) -> Result<String, String> {
    let e = |e: crate::plan::observed::ObservedError| e.to_string();
    Ok(match resource {
        Resource::ConfigurationPolicy => ObservedConfigurationPolicy::from_graph(v)
            .map_err(e)?
            .fingerprint(),
        Resource::DetectionRule => ObservedDetectionRule::from_graph(v)
            .map_err(e)?
            .fingerprint(),
        Resource::DefenderRoleDefinition
        | Resource::IntuneRoleDefinition
        | Resource::DirectoryRoleDefinition => ObservedRoleDefinition::from_graph(v)
            .map_err(e)?
            .fingerprint(),
        Resource::DefenderRoleAssignment
        | Resource::IntuneRoleAssignment
        | Resource::DirectoryRoleAssignment => {
            let system = resource_system(resource).unwrap_or(RbacSystem::Directory);
            ObservedRoleAssignment::from_graph(system, v)
                .map_err(e)?
                .fingerprint()
        }
    })
}

/// The planner's per-field digests of a fresh read of `resource` (see
/// [`crate::plan::ObservedRef::fields`]), to name what moved since the plan.
pub fn field_digests(
    resource: Resource,
    v: &Value,
) -> Result<std::collections::BTreeMap<String, String>, String> {
    let e = |e: crate::plan::observed::ObservedError| e.to_string();
    let value = match resource {
        Resource::ConfigurationPolicy => {
            serde_json::to_value(ObservedConfigurationPolicy::from_graph(v).map_err(e)?)
        }
        Resource::DetectionRule => {
            serde_json::to_value(ObservedDetectionRule::from_graph(v).map_err(e)?)
        }
        Resource::DefenderRoleDefinition
        | Resource::IntuneRoleDefinition
        | Resource::DirectoryRoleDefinition => {
            serde_json::to_value(ObservedRoleDefinition::from_graph(v).map_err(e)?)
        }
        Resource::DefenderRoleAssignment
        | Resource::IntuneRoleAssignment
        | Resource::DirectoryRoleAssignment => {
            let system = resource_system(resource).unwrap_or(RbacSystem::Directory);
            serde_json::to_value(ObservedRoleAssignment::from_graph(system, v).map_err(e)?)
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(crate::plan::normalise::field_digests(&value))
}

/// Why a re-read object is stale, in words: the fields whose digests moved since the plan
/// (`planned`: the plan's, `now`: the fresh read's), and `lastModifiedDateTime` only when
/// it moved too. A plan without field digests (made before they existed) says so.
pub fn stale_reason(
    planned: &std::collections::BTreeMap<String, String>,
    now: &std::collections::BTreeMap<String, String>,
    last_modified_before: Option<&str>,
    last_modified_now: Option<&str>,
) -> String {
    let mut out = if planned.is_empty() {
        "its content differs from what the plan observed".to_string()
    } else {
        let keys: std::collections::BTreeSet<&String> = planned.keys().chain(now.keys()).collect();
        let moved: Vec<&str> = keys
            .into_iter()
            .filter(|k| planned.get(*k) != now.get(*k))
            .map(String::as_str)
            .collect();
        if moved.is_empty() {
            "its content differs from what the plan observed".to_string()
        } else {
            format!("changed: {}", moved.join(", "))
        }
    };
    if let (Some(b), Some(n)) = (last_modified_before, last_modified_now)
        && b != n
    {
        out.push_str(&format!(" (lastModifiedDateTime {b} -> {n})"));
    }
    out
}

/// The ownership marker's name in an entity's description.
pub fn marker_of(v: &Value) -> Option<String> {
    let d = v.get("description").and_then(Value::as_str)?;
    marker::split(d).1.map(str::to_string)
}

/// The normalised, comparable form of an entity: the planner's observed struct as JSON,
/// without its id and timestamps.
pub fn normalised(kind: EntityKind, v: &Value) -> Result<Map<String, Value>, String> {
    let e = |e: crate::plan::observed::ObservedError| e.to_string();
    let value = match kind {
        EntityKind::Policy => {
            serde_json::to_value(ObservedConfigurationPolicy::from_graph(v).map_err(e)?)
        }
        EntityKind::Rule => serde_json::to_value(ObservedDetectionRule::from_graph(v).map_err(e)?),
        EntityKind::RoleDefinition(_) => {
            serde_json::to_value(ObservedRoleDefinition::from_graph(v).map_err(e)?)
        }
        EntityKind::RoleAssignment(system) => {
            serde_json::to_value(ObservedRoleAssignment::from_graph(system, v).map_err(e)?)
        }
    }
    .map_err(|e| e.to_string())?;
    let mut m = match value {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    m.remove("id");
    m.remove("lastModified");
    Ok(m)
}

/// What the plan intended an entity to be, in Graph's shape, from the bodies apply sent:
/// the create/PUT/PATCH body (if any) and the `/assign` list (if any). Intune role
/// assignments bind their role by URL; the id is lifted out so that it compares with what
/// Graph returns.
pub fn intended(id: &str, body: Option<&Value>, assignments: Option<&Value>) -> Value {
    let mut m = match body {
        Some(Value::Object(m)) => m.clone(),
        _ => Map::new(),
    };
    m.insert("id".into(), json!(id));
    if let Some(bind) = m.get("roleDefinition@odata.bind").and_then(Value::as_str) {
        let rid = bind
            .rsplit_once("('")
            .and_then(|(_, r)| r.strip_suffix("')"))
            .unwrap_or("")
            .to_string();
        m.insert("roleDefinitionId".into(), json!(rid));
    }
    if let Some(a) = assignments {
        m.insert("assignments".into(), a.clone());
    }
    Value::Object(m)
}

/// Compares the read-back with the intended entity on the fields apply wrote; returns the
/// names of the fields that differ. `compare_entity`: the body was written (create, PUT,
/// PATCH); `compare_assignments`: the assignment list was written (or the policy is new and
/// so must have exactly the planned list).
pub fn differences(
    kind: EntityKind,
    intended_v: &Value,
    actual: &Value,
    compare_entity: bool,
    compare_assignments: bool,
) -> Result<Vec<String>, String> {
    let want = normalised(kind, intended_v)?;
    let got = normalised(kind, actual)?;
    let mut diffs = Vec::new();
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for k in keys {
        let is_assign = k == "assignments";
        if (is_assign && !compare_assignments) || (!is_assign && !compare_entity) {
            continue;
        }
        if want.get(k) != got.get(k) {
            diffs.push(k.clone());
        }
    }
    Ok(diffs)
}

/// Whether a listed policy is a look-alike of a policy rampart is about to create: same
/// display name and kind, and no marker.
pub fn policy_kind(v: &Value) -> Option<crate::desired::Kind> {
    let tr = v.get("templateReference")?;
    kind_of_template(
        tr.get("templateId").and_then(Value::as_str).unwrap_or(""),
        tr.get("templateFamily").and_then(Value::as_str),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_paths() {
        let p =
            EntityPath::parse("/beta/deviceManagement/configurationPolicies/abc/assign").unwrap();
        assert_eq!(p.kind, EntityKind::Policy);
        assert_eq!(p.id.as_deref(), Some("abc"));
        assert!(p.assign);
        let p = EntityPath::parse("/beta/deviceManagement/roleAssignments").unwrap();
        assert_eq!(p.kind, EntityKind::RoleAssignment(RbacSystem::Intune));
        assert_eq!(p.id, None);
        let p = EntityPath::parse("/beta/security/rules/detectionRules/r1?$x=y").unwrap();
        assert_eq!(
            p.read_path().as_deref(),
            Some("/beta/security/rules/detectionRules/r1")
        );
        assert!(EntityPath::parse("/beta/groups").is_none());
        assert!(EntityPath::parse("/beta/deviceManagement/configurationPoliciesX/1").is_none());
    }

    #[test]
    fn stale_reason_names_the_fields_that_moved() {
        let m = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<std::collections::BTreeMap<_, _>>()
        };
        let planned = m(&[("name", "a"), ("settings", "b"), ("assignments", "c")]);
        let now = m(&[("name", "a"), ("settings", "x"), ("assignments", "y")]);
        let t = "2026-01-01T00:00:00Z";
        // The same timestamp is not printed as if it had moved.
        assert_eq!(
            stale_reason(&planned, &now, Some(t), Some(t)),
            "changed: assignments, settings"
        );
        assert_eq!(
            stale_reason(&planned, &now, Some(t), Some("2026-01-02T00:00:00Z")),
            "changed: assignments, settings (lastModifiedDateTime 2026-01-01T00:00:00Z -> 2026-01-02T00:00:00Z)"
        );
        let gone = m(&[("name", "a"), ("settings", "b")]);
        assert_eq!(
            stale_reason(&planned, &gone, None, None),
            "changed: assignments"
        );
        assert_eq!(
            stale_reason(&m(&[]), &now, None, None),
            "its content differs from what the plan observed"
        );
    }

    #[test]
    fn intended_lifts_the_bound_role() {
        let b = json!({"roleDefinition@odata.bind": "https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('r-1')"});
        assert_eq!(intended("a", Some(&b), None)["roleDefinitionId"], "r-1");
    }
}
