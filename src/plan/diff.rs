//! The diff: desired vs observed for one tenant, computed as data ([`TenantPlan`]). Pure.
//!
//! Ownership rules (LANGUAGE.md "Ownership marker"): only objects whose description ends
//! with `[rampart:<name>]` are updated or deleted; an unmanaged look-alike (same display
//! name, or for detection rules the same id) is reported and never touched; a managed
//! object no longer desired is deleted only when the tenant allows removal. A group that
//! does not resolve to exactly one id is an error for its object, never a silent skip.
//!
//! Reconcile is computed from desired vs observed only, so it is idempotent: planning
//! again after a successful apply gives no changes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use super::labels::flatten_settings;
use super::marker;
use super::model::*;
use super::normalise;
use super::observed::*;
use crate::desired::{
    Address, AssignmentTarget, DesiredConfigurationPolicy, DesiredDetectionRule, DesiredObject,
    DesiredRoleAssignment, FilterMode, FilterRef, Kind, RbacSystem, TenantDesired,
};

const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";
const RULES: &str = "/beta/security/rules/detectionRules";

/// Plans one tenant: every desired object, then managed objects no longer desired.
pub fn diff_tenant(desired: &TenantDesired, observed: &ObservedTenant) -> TenantPlan {
    let tenant = desired.tenant.name.as_str();
    let mut objects = Vec::new();
    for ((kind, name), object) in &desired.objects {
        let address = Address {
            tenant: tenant.to_string(),
            kind: *kind,
            name: name.clone(),
        };
        let plan = match object {
            DesiredObject::ConfigurationPolicy(p) => diff_policy(address, p, observed),
            DesiredObject::DetectionRule(r) => diff_rule(address, r, observed),
            DesiredObject::RoleAssignment(r) => diff_role(address, r, observed),
        };
        objects.push(plan);
    }
    objects.extend(orphans(desired, observed));
    unreadable(desired, observed, &mut objects);
    unmanaged_neighbours(desired, observed, &mut objects);
    let mut plan = TenantPlan {
        tenant: tenant.to_string(),
        tenant_id: desired.tenant.id.clone(),
        status: TenantStatus::Ok,
        objects,
        observation: Some(observed.canonical()),
    };
    plan.sort();
    plan
}

/// Notes on desired configuration policies that will sit beside an unmanaged policy of the
/// same kind (template family) assigned to some of the same targets (a group, all devices,
/// all users): two policies setting the same settings on the same devices conflict, a
/// common support case. Look-alikes (same display name) are reported as adoption
/// candidates already and are left out here. Report only: nothing is planned for them.
fn unmanaged_neighbours(desired: &TenantDesired, obs: &ObservedTenant, objects: &mut [ObjectPlan]) {
    use crate::desired::AssignmentTarget;
    use crate::plan::observed::ObservedTarget;
    for o in objects.iter_mut() {
        let Some(DesiredObject::ConfigurationPolicy(p)) = desired
            .objects
            .get(&(o.address.kind, o.address.name.clone()))
        else {
            continue;
        };
        if matches!(o.action, Action::Delete | Action::Error) {
            continue;
        }
        let wanted: BTreeSet<String> = p
            .assignments
            .iter()
            .filter_map(|a| match &a.target {
                AssignmentTarget::AllDevices => Some("all devices".to_string()),
                AssignmentTarget::AllLicensedUsers => Some("all users".to_string()),
                AssignmentTarget::Group { group } => obs
                    .groups
                    .resolve(group)
                    .ok()
                    .map(|id| format!("group {}", obs.groups.name_of(id))),
                AssignmentTarget::ExcludeGroup { .. } => None,
            })
            .collect();
        for other in &obs.configuration_policies {
            if other.marker.is_some() || other.kind != Some(p.kind) || other.name == p.display_name
            {
                continue;
            }
            let shared: Vec<String> = other
                .assignments
                .iter()
                .filter_map(|a| match &a.target {
                    ObservedTarget::AllDevices => Some("all devices".to_string()),
                    ObservedTarget::AllLicensedUsers => Some("all users".to_string()),
                    ObservedTarget::Group { group_id } => {
                        Some(format!("group {}", obs.groups.name_of(group_id)))
                    }
                    _ => None,
                })
                .filter(|t| wanted.contains(t))
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect();
            if !shared.is_empty() {
                o.notes.push(format!(
                    "the unmanaged {} policy {:?} (id {}) is also assigned to {}: settings both set conflict on those devices",
                    p.kind,
                    other.name,
                    other.id,
                    shared.join(", ")
                ));
            }
        }
    }
}

/// Turns objects that could not be read into errors: on the desired object they may be
/// (same marker, or same kind and display name), or on the managed address they name.
fn unreadable(desired: &TenantDesired, obs: &ObservedTenant, objects: &mut Vec<ObjectPlan>) {
    for u in &obs.unreadable {
        let message = format!(
            "Graph object {} ({:?}) cannot be read, so this object cannot be planned: {}",
            u.id, u.display_name, u.error
        );
        let hit = objects.iter_mut().find(|o| {
            Some(o.address.kind) == u.kind
                && (u.marker.as_deref() == Some(o.address.name.as_str())
                    || (u.marker.is_none() && o.display_name == u.display_name))
        });
        match (hit, &u.marker, u.kind) {
            (Some(o), _, _) => {
                o.action = Action::Error;
                o.requests.clear();
                o.error = Some(message);
            }
            (None, Some(m), Some(kind)) => objects.push(error(
                Address {
                    tenant: desired.tenant.name.clone(),
                    kind,
                    name: m.clone(),
                },
                &u.display_name,
                message,
            )),
            // Unmanaged and unlike anything desired: not rampart's business.
            _ => {}
        }
    }
}

/// The error for a marker carried by several Graph objects of one type (Intune's
/// "Duplicate" copies the description, marker included): neither copy is a target, since
/// rampart cannot tell its own from the customer's.
fn marker_found_on(name: &str, found: &[(&str, &str)]) -> String {
    let list: Vec<String> = found
        .iter()
        .map(|(id, display)| format!("{id} ({display:?})"))
        .collect();
    format!(
        "marker found on {} objects: {}; rampart writes to none of them until only one carries {} (rename or remove the copies' marker by hand)",
        found.len(),
        list.join(", "),
        marker::marker_line(name)
    )
}

fn error(address: Address, display: &str, message: String) -> ObjectPlan {
    let mut o = ObjectPlan::new(address, Action::Error, display);
    o.error = Some(message);
    o
}

fn req(
    purpose: RequestPurpose,
    method: HttpMethod,
    path: String,
    body: Option<Value>,
) -> PlannedRequest {
    PlannedRequest {
        purpose,
        method,
        path,
        body,
    }
}

/// Compares two leaf maps; returns the changes and the number of equal leaves.
fn compare(
    prefix: &str,
    before: &BTreeMap<String, Value>,
    after: &BTreeMap<String, Value>,
    changes: &mut Vec<FieldChange>,
) -> usize {
    let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
    let mut same = 0;
    for k in keys {
        let b = before.get(k).cloned().unwrap_or(Value::Null);
        let a = after.get(k).cloned().unwrap_or(Value::Null);
        if a == b {
            same += 1;
        } else {
            changes.push(FieldChange {
                path: format!("{prefix}{k}"),
                before: b,
                after: a,
            });
        }
    }
    same
}

/// Every leaf of `after` as a creation (before = null).
fn all_new(prefix: &str, after: &BTreeMap<String, Value>, changes: &mut Vec<FieldChange>) {
    compare(prefix, &BTreeMap::new(), after, changes);
}

fn finish(o: &mut ObjectPlan) {
    o.changes.sort_by(|a, b| a.path.cmp(&b.path));
}

// ---------------------------------------------------------------------------------------
// Configuration policies

fn resolve_assignments(
    p: &DesiredConfigurationPolicy,
    groups: &GroupDirectory,
    filters: &FilterDirectory,
) -> Result<Vec<ObservedAssignment>, String> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for a in &p.assignments {
        let target = match &a.target {
            AssignmentTarget::Group { group } => match groups.resolve(group) {
                Ok(id) => ObservedTarget::Group {
                    group_id: id.to_string(),
                },
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            },
            AssignmentTarget::ExcludeGroup { group } => match groups.resolve(group) {
                Ok(id) => ObservedTarget::ExcludeGroup {
                    group_id: id.to_string(),
                },
                Err(e) => {
                    errors.push(e.to_string());
                    continue;
                }
            },
            AssignmentTarget::AllDevices => ObservedTarget::AllDevices,
            AssignmentTarget::AllLicensedUsers => ObservedTarget::AllLicensedUsers,
        };
        let filter = match &a.filter {
            None => None,
            Some(f) => {
                let mode = match f.mode {
                    FilterMode::Include => "include",
                    FilterMode::Exclude => "exclude",
                };
                let id = match &f.filter {
                    FilterRef::Id(id) => id.clone(),
                    FilterRef::Name(name) => match filters.resolve(name) {
                        Ok(id) => id.to_string(),
                        Err(e) => {
                            errors.push(e.to_string());
                            continue;
                        }
                    },
                };
                Some((id, mode.to_string()))
            }
        };
        out.push(ObservedAssignment { target, filter });
    }
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        return Err(errors.join("; "));
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// The comparable top-level fields of a policy (settings and assignments apart).
fn policy_fields(
    name: &str,
    description: &str,
    platforms: &str,
    technologies: &str,
    template_id: &str,
    tags: &[String],
) -> BTreeMap<String, Value> {
    BTreeMap::from([
        ("displayName".to_string(), json!(name)),
        ("description".to_string(), json!(description)),
        ("platforms".to_string(), json!(platforms)),
        ("technologies".to_string(), json!(technologies)),
        ("templateId".to_string(), json!(template_id)),
        ("roleScopeTagIds".to_string(), json!(tags)),
    ])
}

fn desired_policy_fields(p: &DesiredConfigurationPolicy) -> BTreeMap<String, Value> {
    policy_fields(
        &p.display_name,
        &normalise::text(marker::split(&p.description).0),
        &p.platforms,
        &normalise::flags(&p.technologies),
        &p.template_id.to_ascii_lowercase(),
        &normalise::scope_tags(&p.role_scope_tag_ids),
    )
}

fn observed_policy_fields(o: &ObservedConfigurationPolicy) -> BTreeMap<String, Value> {
    policy_fields(
        &o.name,
        &o.description,
        &o.platforms,
        &o.technologies,
        &o.template_id,
        &o.role_scope_tag_ids,
    )
}

fn assignments_value(
    a: &[ObservedAssignment],
    groups: &GroupDirectory,
    filters: &FilterDirectory,
) -> Value {
    let mut v: Vec<String> = a.iter().map(|x| x.readable(groups, filters)).collect();
    v.sort();
    json!(v)
}

/// The create/PUT body: the whole policy, description with the marker.
pub fn policy_body(p: &DesiredConfigurationPolicy) -> Value {
    json!({
        "name": p.display_name,
        "description": marker::with_marker(&p.description, &p.name),
        "platforms": p.platforms,
        "technologies": p.technologies,
        "roleScopeTagIds": normalise::scope_tags(&p.role_scope_tag_ids),
        "templateReference": { "templateId": p.template_id },
        "settings": crate::settings::instances_to_graph(&p.settings),
    })
}

fn assign_body(a: &[ObservedAssignment]) -> Value {
    json!({ "assignments": a.iter().map(ObservedAssignment::to_graph).collect::<Vec<_>>() })
}

fn policy_ref(o: &ObservedConfigurationPolicy) -> ObservedRef {
    ObservedRef {
        resource: Resource::ConfigurationPolicy,
        path: format!("{POLICIES}/{}?$expand=settings,assignments", o.id),
        id: o.id.clone(),
        last_modified: o.last_modified.clone(),
        fingerprint: o.fingerprint(),
        fields: normalise::field_digests(&serde_json::to_value(o).unwrap_or_default()),
    }
}

fn create_policy_requests(
    p: &DesiredConfigurationPolicy,
    assignments: &[ObservedAssignment],
    out: &mut Vec<PlannedRequest>,
) {
    out.push(req(
        RequestPurpose::Create,
        HttpMethod::Post,
        POLICIES.to_string(),
        Some(policy_body(p)),
    ));
    if !assignments.is_empty() {
        out.push(req(
            RequestPurpose::Assign,
            HttpMethod::Post,
            format!("{POLICIES}/{CREATED_ID}/assign"),
            Some(assign_body(assignments)),
        ));
    }
}

fn diff_policy(
    address: Address,
    p: &DesiredConfigurationPolicy,
    obs: &ObservedTenant,
) -> ObjectPlan {
    let assignments = match resolve_assignments(p, &obs.groups, &obs.filters) {
        Ok(a) => a,
        Err(e) => return error(address, &p.display_name, e),
    };
    let desired_settings = flatten_settings(&normalise::settings(&p.settings));
    let desired_fields = desired_policy_fields(p);
    let managed: Vec<&ObservedConfigurationPolicy> = obs
        .configuration_policies
        .iter()
        .filter(|o| o.marker.as_deref() == Some(p.name.as_str()) && o.kind == Some(p.kind))
        .collect();
    let mut plan = ObjectPlan::new(address.clone(), Action::NoOp, &p.display_name);
    match managed.as_slice() {
        [] => {
            let look_alike = obs
                .configuration_policies
                .iter()
                .find(|o| o.marker.is_none() && o.name == p.display_name && o.kind == Some(p.kind));
            if let Some(l) = look_alike {
                // Show what adopting it would change; never write to it.
                plan.action = Action::Adopt;
                plan.look_alike = Some(policy_ref(l));
                diff_policy_fields(
                    &mut plan,
                    l,
                    &desired_fields,
                    &desired_settings,
                    &assignments,
                    &obs.groups,
                    &obs.filters,
                );
                plan.notes.push(format!(
                    "an unmanaged policy named {:?} (id {}) exists; rampart will not create a duplicate or modify it. Adopt it (`rampart import --tenant {} --adopt`) or rename one of them.",
                    l.name, l.id, plan.address.tenant
                ));
            } else {
                plan.action = Action::Create;
                all_new("", &desired_fields, &mut plan.changes);
                all_new("settings.", &desired_settings, &mut plan.changes);
                if !assignments.is_empty() {
                    plan.changes.push(FieldChange {
                        path: "assignments".into(),
                        before: Value::Null,
                        after: assignments_value(&assignments, &obs.groups, &obs.filters),
                    });
                }
                create_policy_requests(p, &assignments, &mut plan.requests);
            }
        }
        [o] => {
            plan.observed.push(policy_ref(o));
            let (fields_changed, assign_changed) = diff_policy_fields(
                &mut plan,
                o,
                &desired_fields,
                &desired_settings,
                &assignments,
                &obs.groups,
                &obs.filters,
            );
            if o.template_id != p.template_id.to_ascii_lowercase() {
                // A policy's template cannot change in place.
                plan.action = Action::Replace;
                plan.requests.push(req(
                    RequestPurpose::Delete,
                    HttpMethod::Delete,
                    format!("{POLICIES}/{}", o.id),
                    None,
                ));
                create_policy_requests(p, &assignments, &mut plan.requests);
            } else if fields_changed || assign_changed {
                plan.action = Action::Update;
                if fields_changed {
                    plan.requests.push(req(
                        RequestPurpose::Update,
                        HttpMethod::Put,
                        format!("{POLICIES}/{}", o.id),
                        Some(policy_body(p)),
                    ));
                }
                if assign_changed {
                    plan.requests.push(req(
                        RequestPurpose::Assign,
                        HttpMethod::Post,
                        format!("{POLICIES}/{}/assign", o.id),
                        Some(assign_body(&assignments)),
                    ));
                }
            }
        }
        many => {
            let found: Vec<(&str, &str)> = many
                .iter()
                .map(|o| (o.id.as_str(), o.name.as_str()))
                .collect();
            return error(address, &p.display_name, marker_found_on(&p.name, &found));
        }
    }
    finish(&mut plan);
    plan
}

/// Fills changes and hidden counts; returns (policy fields or settings changed,
/// assignments changed).
fn diff_policy_fields(
    plan: &mut ObjectPlan,
    o: &ObservedConfigurationPolicy,
    desired_fields: &BTreeMap<String, Value>,
    desired_settings: &BTreeMap<String, Value>,
    assignments: &[ObservedAssignment],
    groups: &GroupDirectory,
    filters: &FilterDirectory,
) -> (bool, bool) {
    let n = plan.changes.len();
    plan.unchanged_fields = compare(
        "",
        &observed_policy_fields(o),
        desired_fields,
        &mut plan.changes,
    );
    plan.unchanged_settings = compare(
        "settings.",
        &flatten_settings(&o.settings),
        desired_settings,
        &mut plan.changes,
    );
    let fields_changed = plan.changes.len() > n;
    // Compared by id (both sides sorted and deduplicated); shown by name.
    let assign_changed = o.assignments != assignments;
    if assign_changed {
        plan.changes.push(FieldChange {
            path: "assignments".into(),
            before: assignments_value(&o.assignments, groups, filters),
            after: assignments_value(assignments, groups, filters),
        });
    } else {
        plan.unchanged_fields += 1;
    }
    (fields_changed, assign_changed)
}

// ---------------------------------------------------------------------------------------
// Detection rules

/// Readable path of a detection-rule body path (Graph nesting -> the YAML's names).
fn rule_path(graph_path: &str) -> String {
    const RENAMES: [(&str, &str); 4] = [
        ("queryCondition.queryText", "query"),
        ("schedule.frequency", "frequency"),
        ("detectionAction.alertTemplate.", "alert."),
        ("detectionAction.", ""),
    ];
    for (from, to) in RENAMES {
        if let Some(rest) = graph_path.strip_prefix(from) {
            return format!("{to}{rest}");
        }
    }
    graph_path.to_string()
}

fn flatten_json(v: &Value, prefix: &str, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten_json(v, &p, out);
            }
        }
        other => {
            out.insert(rule_path(prefix), other.clone());
        }
    }
}

fn rule_leaves(
    display_name: &str,
    description: &str,
    normalised: &Value,
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut n = normalised.clone();
    if let Value::Object(m) = &mut n {
        m.remove("displayName");
    }
    flatten_json(&n, "", &mut out);
    out.insert("displayName".into(), json!(display_name));
    if !description.is_empty() {
        out.insert("description".into(), json!(description));
    }
    out
}

/// The create body of a detection rule: the desired body with its id and the marker.
pub fn rule_body(r: &DesiredDetectionRule) -> Value {
    let mut body = r.body.clone();
    if let Value::Object(m) = &mut body {
        let desc = m
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        m.insert(
            "description".into(),
            json!(marker::with_marker(&desc, &r.name)),
        );
        m.insert("id".into(), json!(r.rule_id));
    }
    body
}

/// The PATCH body: the create body without `id` (PATCH does not accept it).
fn rule_patch_body(r: &DesiredDetectionRule) -> Value {
    let mut body = rule_body(r);
    if let Value::Object(m) = &mut body {
        m.remove("id");
    }
    body
}

fn rule_ref(o: &ObservedDetectionRule) -> ObservedRef {
    ObservedRef {
        resource: Resource::DetectionRule,
        path: format!("{RULES}/{}", o.id),
        id: o.id.clone(),
        last_modified: o.last_modified.clone(),
        fingerprint: o.fingerprint(),
        fields: normalise::field_digests(&serde_json::to_value(o).unwrap_or_default()),
    }
}

fn diff_rule(address: Address, r: &DesiredDetectionRule, obs: &ObservedTenant) -> ObjectPlan {
    let display = r
        .body
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or(&r.name)
        .to_string();
    let desc = r
        .body
        .get("description")
        .and_then(Value::as_str)
        .unwrap_or("");
    let desired = rule_leaves(
        &display,
        &normalise::text(marker::split(desc).0),
        &normalise::detection_rule(&r.body),
    );
    let mut plan = ObjectPlan::new(address.clone(), Action::NoOp, &display);
    let carriers: Vec<&ObservedDetectionRule> = obs
        .detection_rules
        .iter()
        .filter(|o| o.marker.as_deref() == Some(r.name.as_str()))
        .collect();
    if carriers.len() > 1 {
        // A copy of a managed rule carries its marker too: neither is a target.
        let found: Vec<(&str, &str)> = carriers
            .iter()
            .map(|o| (o.id.as_str(), o.display_name.as_str()))
            .collect();
        return error(address, &display, marker_found_on(&r.name, &found));
    }
    let by_id = obs.detection_rules.iter().find(|o| o.id == r.rule_id);
    match by_id {
        Some(o) if o.marker.as_deref() == Some(r.name.as_str()) => {
            plan.observed.push(rule_ref(o));
            let observed = rule_leaves(&o.display_name, &o.description, &o.normalised);
            plan.unchanged_fields = compare("", &observed, &desired, &mut plan.changes);
            if !plan.changes.is_empty() {
                plan.action = Action::Update;
                plan.requests.push(req(
                    RequestPurpose::Update,
                    HttpMethod::Patch,
                    format!("{RULES}/{}", o.id),
                    Some(rule_patch_body(r)),
                ));
            }
        }
        Some(o) if o.marker.is_none() => {
            // An unmanaged rule holds the id: an adoption candidate, as for policies. Show
            // what adopting it would change; never write to it.
            plan.action = Action::Adopt;
            plan.look_alike = Some(rule_ref(o));
            let observed = rule_leaves(&o.display_name, &o.description, &o.normalised);
            plan.unchanged_fields = compare("", &observed, &desired, &mut plan.changes);
            plan.notes.push(format!(
                "an unmanaged detection rule with id {:?} exists; rampart will not modify it. Adopt it (`rampart import --tenant {} --adopt`) or choose another `ruleId`.",
                o.id, plan.address.tenant
            ));
        }
        Some(o) => {
            let owner = match &o.marker {
                Some(m) => format!("managed by rampart as {m:?}"),
                None => "not managed by rampart".to_string(),
            };
            plan = error(
                address,
                &display,
                format!(
                    "a detection rule with id {:?} already exists and is {owner}; it is never modified. Adopt it or choose another `ruleId`.",
                    o.id
                ),
            );
            plan.look_alike = Some(rule_ref(o));
        }
        None => {
            let managed: Vec<&ObservedDetectionRule> = obs
                .detection_rules
                .iter()
                .filter(|o| o.marker.as_deref() == Some(r.name.as_str()))
                .collect();
            all_new("", &desired, &mut plan.changes);
            if let Some(old) = managed.first() {
                // The rule's id changed: ids are immutable, so delete and create.
                plan.action = Action::Replace;
                plan.changes.push(FieldChange {
                    path: "id".into(),
                    before: json!(old.id),
                    after: json!(r.rule_id),
                });
                for m in &managed {
                    plan.observed.push(rule_ref(m));
                    plan.requests.push(req(
                        RequestPurpose::Delete,
                        HttpMethod::Delete,
                        format!("{RULES}/{}", m.id),
                        None,
                    ));
                }
            } else {
                plan.action = Action::Create;
            }
            plan.requests.push(req(
                RequestPurpose::Create,
                HttpMethod::Post,
                RULES.to_string(),
                Some(rule_body(r)),
            ));
        }
    }
    finish(&mut plan);
    plan
}

// ---------------------------------------------------------------------------------------
// Role assignments

struct RbacPaths {
    definitions: &'static str,
    assignments: &'static str,
    definition: Resource,
    assignment: Resource,
}

fn rbac_paths(system: RbacSystem) -> RbacPaths {
    match system {
        RbacSystem::Defender => RbacPaths {
            definitions: "/beta/roleManagement/defender/roleDefinitions",
            assignments: "/beta/roleManagement/defender/roleAssignments",
            definition: Resource::DefenderRoleDefinition,
            assignment: Resource::DefenderRoleAssignment,
        },
        RbacSystem::Intune => RbacPaths {
            definitions: "/beta/deviceManagement/roleDefinitions",
            assignments: "/beta/deviceManagement/roleAssignments",
            definition: Resource::IntuneRoleDefinition,
            assignment: Resource::IntuneRoleAssignment,
        },
        RbacSystem::Directory => RbacPaths {
            definitions: "/v1.0/roleManagement/directory/roleDefinitions",
            assignments: "/v1.0/roleManagement/directory/roleAssignments",
            definition: Resource::DirectoryRoleDefinition,
            assignment: Resource::DirectoryRoleAssignment,
        },
    }
}

fn def_ref(system: RbacSystem, d: &ObservedRoleDefinition) -> ObservedRef {
    let p = rbac_paths(system);
    ObservedRef {
        resource: p.definition,
        path: format!("{}/{}", p.definitions, d.id),
        id: d.id.clone(),
        last_modified: None,
        fingerprint: d.fingerprint(),
        fields: normalise::field_digests(&serde_json::to_value(d).unwrap_or_default()),
    }
}

fn assignment_ref(system: RbacSystem, a: &ObservedRoleAssignment) -> ObservedRef {
    let p = rbac_paths(system);
    ObservedRef {
        resource: p.assignment,
        path: format!("{}/{}", p.assignments, a.id),
        id: a.id.clone(),
        last_modified: None,
        fingerprint: a.fingerprint(),
        fields: normalise::field_digests(&serde_json::to_value(a).unwrap_or_default()),
    }
}

fn role_definition_body(system: RbacSystem, r: &DesiredRoleAssignment) -> Option<Value> {
    let c = r.custom_role.as_ref()?;
    let description = marker::with_marker(&c.description, &r.name);
    Some(match system {
        RbacSystem::Intune => json!({
            "@odata.type": "#microsoft.graph.roleDefinition",
            "displayName": c.display_name,
            "description": description,
            "rolePermissions": [{ "resourceActions": [{
                "allowedResourceActions": c.actions,
                "notAllowedResourceActions": [],
            }]}],
        }),
        _ => json!({
            "displayName": c.display_name,
            "description": description,
            "rolePermissions": [{ "allowedResourceActions": c.actions }],
        }),
    })
}

fn role_assignment_body(
    system: RbacSystem,
    r: &DesiredRoleAssignment,
    role_id: &str,
    principals: &[String],
    scopes: &[String],
) -> Value {
    let description = marker::with_marker(&r.description, &r.name);
    match system {
        RbacSystem::Intune => {
            let mut m = Map::new();
            m.insert(
                "@odata.type".into(),
                json!("#microsoft.graph.deviceAndAppManagementRoleAssignment"),
            );
            m.insert("displayName".into(), json!(r.display_name));
            m.insert("description".into(), json!(description));
            m.insert("members".into(), json!(principals));
            if scopes == ["/"] {
                m.insert("scopeType".into(), json!("allDevicesAndLicensedUsers"));
                m.insert("resourceScopes".into(), json!([]));
            } else {
                m.insert("scopeType".into(), json!("resourceScope"));
                m.insert("resourceScopes".into(), json!(scopes));
            }
            m.insert(
                "roleDefinition@odata.bind".into(),
                json!(format!(
                    "https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('{role_id}')"
                )),
            );
            Value::Object(m)
        }
        _ => json!({
            "@odata.type": "#microsoft.graph.unifiedRoleAssignmentMultiple",
            "displayName": r.display_name,
            "description": description,
            "roleDefinitionId": role_id,
            "principalIds": principals,
            "appScopeIds": scopes,
        }),
    }
}

fn names(ids: &[String], groups: &GroupDirectory) -> Value {
    let mut v: Vec<&str> = ids.iter().map(|i| groups.name_of(i)).collect();
    v.sort();
    json!(v)
}

fn diff_role(address: Address, r: &DesiredRoleAssignment, obs: &ObservedTenant) -> ObjectPlan {
    let display = r.display_name.clone();
    let Some(rbac) = obs.rbac.get(&r.system) else {
        return error(
            address,
            &display,
            format!(
                "the {:?} RBAC system was not read for this tenant",
                r.system
            ),
        );
    };
    // Principals and (for Intune) scope groups, by id.
    let mut errors = Vec::new();
    let mut principals = Vec::new();
    for g in &r.groups {
        match obs.groups.resolve(g) {
            Ok(id) => principals.push(id.to_string()),
            Err(e) => errors.push(e.to_string()),
        }
    }
    let mut scopes: Vec<String> = Vec::new();
    for s in &r.scopes {
        if r.system == RbacSystem::Intune && s != "/" {
            match obs.groups.resolve(s) {
                Ok(id) => scopes.push(id.to_string()),
                Err(e) => errors.push(e.to_string()),
            }
        } else {
            scopes.push(s.clone());
        }
    }
    if scopes.is_empty() {
        scopes.push("/".to_string());
    }
    if !errors.is_empty() {
        errors.sort();
        errors.dedup();
        return error(address, &display, errors.join("; "));
    }
    principals.sort();
    principals.dedup();
    scopes.sort();
    scopes.dedup();
    if r.system == RbacSystem::Directory {
        return diff_directory(address, r, rbac, &principals, &scopes, &obs.groups);
    }
    let paths = rbac_paths(r.system);
    let mut plan = ObjectPlan::new(address.clone(), Action::NoOp, &display);

    // The role definition: managed custom role, or an existing role by display name.
    let role_id: String;
    let mut role_changed = false;
    let mut role_created = false;
    if let Some(c) = &r.custom_role {
        let managed: Vec<&ObservedRoleDefinition> = rbac
            .role_definitions
            .iter()
            .filter(|d| d.marker.as_deref() == Some(r.name.as_str()) && !d.is_built_in)
            .collect();
        let desired = BTreeMap::from([
            ("customRole.displayName".to_string(), json!(c.display_name)),
            (
                "customRole.description".to_string(),
                json!(normalise::text(&c.description)),
            ),
            (
                "customRole.actions".to_string(),
                json!(normalise::rbac_actions(&c.actions)),
            ),
        ]);
        match managed.as_slice() {
            [] => {
                if let Some(l) = rbac
                    .role_definitions
                    .iter()
                    .find(|d| d.marker.is_none() && d.display_name == c.display_name)
                {
                    plan.action = Action::Adopt;
                    plan.look_alike = Some(def_ref(r.system, l));
                    plan.notes.push(format!(
                        "an unmanaged role named {:?} (id {}) exists; rampart will not create a duplicate or modify it",
                        l.display_name, l.id
                    ));
                    return plan;
                }
                all_new("", &desired, &mut plan.changes);
                plan.requests.push(req(
                    RequestPurpose::CreateRoleDefinition,
                    HttpMethod::Post,
                    paths.definitions.to_string(),
                    role_definition_body(r.system, r),
                ));
                role_id = CREATED_ROLE_DEFINITION_ID.to_string();
                role_created = true;
            }
            [d] => {
                plan.observed.push(def_ref(r.system, d));
                let observed = BTreeMap::from([
                    ("customRole.displayName".to_string(), json!(d.display_name)),
                    ("customRole.description".to_string(), json!(d.description)),
                    ("customRole.actions".to_string(), json!(d.actions)),
                ]);
                let n = plan.changes.len();
                plan.unchanged_fields += compare("", &observed, &desired, &mut plan.changes);
                if plan.changes.len() > n {
                    role_changed = true;
                    plan.requests.push(req(
                        RequestPurpose::UpdateRoleDefinition,
                        HttpMethod::Patch,
                        format!("{}/{}", paths.definitions, d.id),
                        role_definition_body(r.system, r),
                    ));
                }
                role_id = d.id.clone();
            }
            many => {
                let found: Vec<(&str, &str)> = many
                    .iter()
                    .map(|d| (d.id.as_str(), d.display_name.as_str()))
                    .collect();
                return error(address, &display, marker_found_on(&r.name, &found));
            }
        }
    } else {
        let found: Vec<&ObservedRoleDefinition> = rbac
            .role_definitions
            .iter()
            .filter(|d| d.display_name == r.role)
            .collect();
        match found.as_slice() {
            [d] => {
                role_id = d.id.clone();
                plan.references.push(def_ref(r.system, d));
            }
            [] => {
                return error(
                    address,
                    &display,
                    format!("role {:?} does not exist in this tenant", r.role),
                );
            }
            many => {
                return error(
                    address,
                    &display,
                    format!(
                        "role name {:?} is ambiguous in this tenant ({} roles have it)",
                        r.role,
                        many.len()
                    ),
                );
            }
        }
    }

    let role_name = r
        .custom_role
        .as_ref()
        .map(|c| c.display_name.clone())
        .unwrap_or_else(|| r.role.clone());
    let desired = BTreeMap::from([
        ("displayName".to_string(), json!(r.display_name)),
        (
            "description".to_string(),
            json!(normalise::text(&r.description)),
        ),
        ("role".to_string(), json!(role_name)),
        ("groups".to_string(), names(&principals, &obs.groups)),
        (
            "scopes".to_string(),
            scope_names(r.system, &scopes, &obs.groups),
        ),
    ]);
    let managed: Vec<&ObservedRoleAssignment> = rbac
        .role_assignments
        .iter()
        .filter(|a| a.marker.as_deref() == Some(r.name.as_str()))
        .collect();
    let create = req(
        RequestPurpose::Create,
        HttpMethod::Post,
        paths.assignments.to_string(),
        Some(role_assignment_body(
            r.system,
            r,
            &role_id,
            &principals,
            &scopes,
        )),
    );
    match managed.as_slice() {
        [] => {
            if let Some(l) = rbac.role_assignments.iter().find(|a| {
                a.marker.is_none() && !r.display_name.is_empty() && a.display_name == r.display_name
            }) {
                plan.action = Action::Adopt;
                plan.look_alike = Some(assignment_ref(r.system, l));
                plan.requests.clear();
                plan.changes.clear();
                plan.notes.push(format!(
                    "an unmanaged role assignment named {:?} (id {}) exists; rampart will not create a duplicate or modify it",
                    l.display_name, l.id
                ));
                return plan;
            }
            plan.action = Action::Create;
            all_new("", &desired, &mut plan.changes);
            plan.requests.push(create);
        }
        [a] => {
            plan.observed.push(assignment_ref(r.system, a));
            let role_before = rbac
                .role_definitions
                .iter()
                .find(|d| d.id == a.role_definition_id)
                .map(|d| d.display_name.clone())
                .unwrap_or_else(|| a.role_definition_id.clone());
            let observed = BTreeMap::from([
                ("displayName".to_string(), json!(a.display_name)),
                ("description".to_string(), json!(a.description)),
                ("role".to_string(), json!(role_before)),
                ("groups".to_string(), names(&a.principal_ids, &obs.groups)),
                (
                    "scopes".to_string(),
                    scope_names(r.system, &a.scopes, &obs.groups),
                ),
            ]);
            let n = plan.changes.len();
            plan.unchanged_fields += compare("", &observed, &desired, &mut plan.changes);
            let ids_differ = a.principal_ids != principals
                || a.scopes != scopes
                || (a.role_definition_id != role_id && !role_created);
            if plan.changes.len() > n || ids_differ || role_created {
                // Role assignments are created and deleted, never patched (issue 5).
                plan.action = Action::Replace;
                plan.requests.push(req(
                    RequestPurpose::Delete,
                    HttpMethod::Delete,
                    format!("{}/{}", paths.assignments, a.id),
                    None,
                ));
                plan.requests.push(create);
            } else if role_changed {
                plan.action = Action::Update;
            }
        }
        many => {
            let found: Vec<(&str, &str)> = many
                .iter()
                .map(|a| (a.id.as_str(), a.display_name.as_str()))
                .collect();
            return error(address, &display, marker_found_on(&r.name, &found));
        }
    }
    finish(&mut plan);
    plan
}

fn scope_names(system: RbacSystem, scopes: &[String], groups: &GroupDirectory) -> Value {
    if system == RbacSystem::Intune {
        let mut v: Vec<&str> = scopes
            .iter()
            .map(|s| if s == "/" { "/" } else { groups.name_of(s) })
            .collect();
        v.sort();
        json!(v)
    } else {
        json!(scopes)
    }
}

/// Entra directory roles: one assignment per (role, principal, scope), no description and
/// so no marker. rampart creates the missing ones and never deletes any (it cannot tell
/// which it created).
fn diff_directory(
    address: Address,
    r: &DesiredRoleAssignment,
    rbac: &ObservedRbac,
    principals: &[String],
    scopes: &[String],
    groups: &GroupDirectory,
) -> ObjectPlan {
    let display = r.display_name.clone();
    let found: Vec<&ObservedRoleDefinition> = rbac
        .role_definitions
        .iter()
        .filter(|d| d.display_name == r.role)
        .collect();
    let (role_id, role_ref) = match found.as_slice() {
        [d] => (d.id.clone(), def_ref(RbacSystem::Directory, d)),
        [] => {
            return error(
                address,
                &display,
                format!("directory role {:?} does not exist", r.role),
            );
        }
        _ => {
            return error(
                address,
                &display,
                format!("directory role name {:?} is ambiguous", r.role),
            );
        }
    };
    let scope = scopes.first().cloned().unwrap_or_else(|| "/".to_string());
    let existing: Vec<&ObservedRoleAssignment> = rbac
        .role_assignments
        .iter()
        .filter(|a| a.role_definition_id == role_id && a.scopes == [scope.clone()])
        .collect();
    let present: BTreeSet<&String> = existing
        .iter()
        .flat_map(|a| a.principal_ids.iter())
        .collect();
    let mut plan = ObjectPlan::new(address, Action::NoOp, &display);
    plan.references.push(role_ref);
    let relevant: Vec<&&ObservedRoleAssignment> = existing
        .iter()
        .filter(|a| a.principal_ids.iter().any(|p| principals.contains(p)))
        .collect();
    for a in &relevant {
        plan.observed.push(assignment_ref(RbacSystem::Directory, a));
    }
    let missing: Vec<&String> = principals.iter().filter(|p| !present.contains(p)).collect();
    let before: Vec<String> = principals
        .iter()
        .filter(|p| present.contains(p))
        .cloned()
        .collect();
    if missing.is_empty() {
        plan.unchanged_fields = 3;
    } else {
        plan.action = if before.is_empty() {
            Action::Create
        } else {
            Action::Update
        };
        plan.changes.push(FieldChange {
            path: "groups".into(),
            before: if before.is_empty() {
                Value::Null
            } else {
                names(&before, groups)
            },
            after: names(principals, groups),
        });
        if before.is_empty() {
            plan.changes.push(FieldChange {
                path: "role".into(),
                before: Value::Null,
                after: json!(r.role),
            });
            plan.changes.push(FieldChange {
                path: "scopes".into(),
                before: Value::Null,
                after: json!([scope]),
            });
        } else {
            plan.unchanged_fields = 2;
        }
        for p in missing {
            plan.requests.push(req(
                RequestPurpose::Create,
                HttpMethod::Post,
                "/v1.0/roleManagement/directory/roleAssignments".to_string(),
                Some(json!({
                    "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                    "roleDefinitionId": role_id,
                    "principalId": p,
                    "directoryScopeId": scope,
                })),
            ));
        }
    }
    let extra = present.len() - before.len();
    if extra > 0 {
        plan.notes.push(format!(
            "{extra} other principal(s) hold this directory role at this scope; directory role assignments carry no marker, so rampart never removes them"
        ));
    }
    finish(&mut plan);
    plan
}

// ---------------------------------------------------------------------------------------
// Managed objects no longer desired

/// A managed object no longer desired: display name, what was observed, delete requests.
type Orphan = (String, Vec<ObservedRef>, Vec<PlannedRequest>);

/// The display name of an observed object, by its reference (for error messages).
fn display_of<'a>(obs: &'a ObservedTenant, r: &ObservedRef) -> &'a str {
    let policies = obs
        .configuration_policies
        .iter()
        .filter(|p| p.id == r.id)
        .map(|p| p.name.as_str());
    let rules = obs
        .detection_rules
        .iter()
        .filter(|x| x.id == r.id)
        .map(|x| x.display_name.as_str());
    let roles = obs.rbac.values().flat_map(|rb| {
        rb.role_definitions
            .iter()
            .filter(|d| d.id == r.id)
            .map(|d| d.display_name.as_str())
            .chain(
                rb.role_assignments
                    .iter()
                    .filter(|a| a.id == r.id)
                    .map(|a| a.display_name.as_str()),
            )
    });
    policies.chain(rules).chain(roles).next().unwrap_or("")
}

fn orphans(desired: &TenantDesired, obs: &ObservedTenant) -> Vec<ObjectPlan> {
    let tenant = &desired.tenant.name;
    // (kind, name) -> (display name, observed refs, delete requests)
    let mut found: BTreeMap<(Kind, String), Orphan> = BTreeMap::new();
    let wanted = |k: Kind, n: &str| desired.objects.contains_key(&(k, n.to_string()));
    for p in &obs.configuration_policies {
        if let (Some(m), Some(k)) = (&p.marker, p.kind)
            && !wanted(k, m)
        {
            let e = found
                .entry((k, m.clone()))
                .or_insert_with(|| (p.name.clone(), vec![], vec![]));
            e.1.push(policy_ref(p));
            e.2.push(req(
                RequestPurpose::Delete,
                HttpMethod::Delete,
                format!("{POLICIES}/{}", p.id),
                None,
            ));
        }
    }
    for r in &obs.detection_rules {
        if let Some(m) = &r.marker
            && !wanted(Kind::DetectionRule, m)
        {
            let e = found
                .entry((Kind::DetectionRule, m.clone()))
                .or_insert_with(|| (r.display_name.clone(), vec![], vec![]));
            e.1.push(rule_ref(r));
            e.2.push(req(
                RequestPurpose::Delete,
                HttpMethod::Delete,
                format!("{RULES}/{}", r.id),
                None,
            ));
        }
    }
    for (system, rbac) in &obs.rbac {
        let paths = rbac_paths(*system);
        // Assignments before the role definitions they use.
        for a in &rbac.role_assignments {
            if let Some(m) = &a.marker
                && !wanted(Kind::RoleAssignment, m)
            {
                let e = found
                    .entry((Kind::RoleAssignment, m.clone()))
                    .or_insert_with(|| (a.display_name.clone(), vec![], vec![]));
                e.1.push(assignment_ref(*system, a));
                e.2.push(req(
                    RequestPurpose::Delete,
                    HttpMethod::Delete,
                    format!("{}/{}", paths.assignments, a.id),
                    None,
                ));
            }
        }
        for d in &rbac.role_definitions {
            if let Some(m) = &d.marker
                && !wanted(Kind::RoleAssignment, m)
                && !d.is_built_in
            {
                let e = found
                    .entry((Kind::RoleAssignment, m.clone()))
                    .or_insert_with(|| (d.display_name.clone(), vec![], vec![]));
                e.1.push(def_ref(*system, d));
                e.2.push(req(
                    RequestPurpose::Delete,
                    HttpMethod::Delete,
                    format!("{}/{}", paths.definitions, d.id),
                    None,
                ));
            }
        }
    }
    found
        .into_iter()
        .map(|((kind, name), (display, refs, requests))| {
            let address = Address {
                tenant: tenant.clone(),
                kind,
                name,
            };
            let mut per_resource: BTreeMap<Resource, Vec<&ObservedRef>> = BTreeMap::new();
            for r in &refs {
                per_resource.entry(r.resource).or_default().push(r);
            }
            if let Some(copies) = per_resource.values().find(|v| v.len() > 1) {
                let found: Vec<(&str, &str)> = copies
                    .iter()
                    .map(|r| (r.id.as_str(), display_of(obs, r)))
                    .collect();
                let message = marker_found_on(&address.name, &found);
                return error(address, &display, message);
            }
            let mut o = ObjectPlan::new(address, Action::NoOp, display);
            o.observed = refs;
            if desired.allow_removal {
                o.action = Action::Delete;
                o.requests = requests;
            } else {
                o.notes.push(
                    "managed by rampart but no longer desired; kept because the tenant's profiles do not allow removal (allowRemoval: false)".to_string(),
                );
            }
            o
        })
        .collect()
}
