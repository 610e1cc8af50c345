//! Role-based access control surfaces (`graph-api.md` §3):
//! - Defender XDR unified RBAC, `roleManagement/defender/roleDefinitions|roleAssignments`
//!   (beta). Action lists are stored normalised as Defender does: a wildcard action drops
//!   the specific actions it covers, and duplicates are removed.
//! - Intune RBAC, `deviceManagement/roleDefinitions|roleAssignments` (v1.0 and beta), with
//!   built-in roles that cannot be changed and assignments linked by
//!   `roleDefinition@odata.bind`.
//! - Entra directory roles, `roleManagement/directory/roleDefinitions` (built-in roles with
//!   their real template ids) and `roleAssignments`.
//!
//! Intune built-in role ids are derived by the emulator (stable per name), not Microsoft's.

use crate::state::{Tenant, graph_time, stable_guid};
use crate::wire::{Call, Ctx, GraphRequest, Query, Reply, collection, entity, object_body};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// Entra built-in roles: (display name, template id, description). Template ids from
/// `graph-api.md` §3c.
pub const DIRECTORY_ROLES: &[(&str, &str, &str)] = &[
    (
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
        "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.",
    ),
    (
        "Global Reader",
        "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "Can read everything that a Global Administrator can, but not update anything.",
    ),
    (
        "Intune Administrator",
        "3a2c62db-5318-420d-8d74-23affee5d9d5",
        "Can manage all aspects of the Intune product.",
    ),
    (
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
        "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.",
    ),
    (
        "Security Operator",
        "5f2222b1-57c3-48ba-8ad5-d4759f1fde6f",
        "Creates and manages security events.",
    ),
    (
        "Security Reader",
        "5d6b6bb7-de71-4623-b4af-96380a352509",
        "Can read security information and reports in Microsoft Entra ID and Office 365.",
    ),
];

const INTUNE_BUILTIN: &[(&str, &str)] = &[
    (
        "Application Manager",
        "Application Manager manages mobile and managed applications.",
    ),
    (
        "Endpoint Security Manager",
        "Manages security and compliance features such as security baselines, device compliance and conditional access.",
    ),
    (
        "Help Desk Operator",
        "Help Desk Operators perform remote tasks on users and devices.",
    ),
    (
        "Intune Role Administrator",
        "Manages custom Intune roles and adds assignments for built-in Intune roles.",
    ),
    (
        "Policy and Profile manager",
        "Policy and Profile Manager manages compliance policy, configuration profiles, Apple enrollment, corporate device identifiers, and security baselines.",
    ),
    (
        "Read Only Operator",
        "Read Only Operators view user, device, enrollment, configuration, and application information.",
    ),
    (
        "School Administrator",
        "School Administrators manage Windows 10 devices in Intune for Education.",
    ),
];

/// The Intune built-in role definitions every tenant starts with.
pub fn intune_builtin_definitions() -> BTreeMap<String, Value> {
    INTUNE_BUILTIN
        .iter()
        .map(|(name, desc)| {
            let id = stable_guid(&format!("intune-builtin-role:{name}"));
            let v = json!({
                "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition",
                "id": id,
                "displayName": name,
                "description": desc,
                "isBuiltIn": true,
                "isBuiltInRoleDefinition": true,
                "roleScopeTagIds": ["0"],
                "rolePermissions": [{"resourceActions": [{"allowedResourceActions": [], "notAllowedResourceActions": []}]}],
                "permissions": [],
            });
            (id, v)
        })
        .collect()
}

/// Whether wildcard action pattern `pat` (`*` matches any run of characters) covers `s`.
fn glob(pat: &str, s: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (
        pat.to_lowercase().chars().collect(),
        s.to_lowercase().chars().collect(),
    );
    let (mut pi, mut ti, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && p[pi] != '*' && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

/// Defender's normalisation: drop duplicates and actions covered by another (wildcard)
/// action of the same list; keeps the first occurrence order.
pub fn normalise_actions(actions: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in actions {
        if out.iter().any(|o| o.eq_ignore_ascii_case(a)) {
            continue;
        }
        let covered = actions
            .iter()
            .any(|w| w.contains('*') && !w.eq_ignore_ascii_case(a) && glob(w, a));
        if !covered {
            out.push(a.clone());
        }
    }
    out
}

fn normalised_permissions(v: &Value) -> Result<Value, String> {
    let perms = v.as_array().ok_or("rolePermissions must be an array")?;
    let mut out = Vec::new();
    for p in perms {
        let acts: Vec<String> = p
            .get("allowedResourceActions")
            .and_then(Value::as_array)
            .ok_or("each rolePermission needs allowedResourceActions")?
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or("actions must be strings")
            })
            .collect::<Result<_, _>>()?;
        if let Some(bad) = acts
            .iter()
            .find(|a| !a.to_ascii_lowercase().starts_with("microsoft.xdr/"))
        {
            return Err(format!(
                "Action '{bad}' is not a valid Defender XDR action."
            ));
        }
        let mut np = p.clone();
        np["allowedResourceActions"] = json!(normalise_actions(&acts));
        out.push(np);
    }
    Ok(Value::Array(out))
}

fn guid_ok(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok()
}

fn not_found(what: &str, id: &str) -> Reply {
    Reply::error(
        404,
        "ResourceNotFound",
        format!("{what} '{id}' was not found."),
    )
}

fn dir_not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "Request_ResourceNotFound",
        format!(
            "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

fn created(ctx: &Ctx<'_>, req: &GraphRequest, set: &str, v: &Value) -> Reply {
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(ctx.context(req, &format!("{set}/$entity"))),
    );
    if let Value::Object(o) = v {
        out.extend(o.clone());
    }
    Reply::created(Value::Object(out))
}

fn directory_definitions() -> Vec<Value> {
    DIRECTORY_ROLES
        .iter()
        .map(|(name, tid, desc)| {
            json!({
                "id": tid,
                "description": desc,
                "displayName": name,
                "isBuiltIn": true,
                "isEnabled": true,
                "resourceScopes": ["/"],
                "templateId": tid,
                "version": "1",
                "rolePermissions": [{"allowedResourceActions": [], "condition": null}],
            })
        })
        .collect()
}

/// Extracts the id from `https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('ID')`
/// or `.../roleDefinitions/ID`.
fn bind_id(s: &str) -> Option<String> {
    if let Some(start) = s.rfind("('") {
        return s[start + 2..].strip_suffix("')").map(str::to_string);
    }
    if let Some(start) = s.rfind('(') {
        return s[start + 1..].strip_suffix(')').map(str::to_string);
    }
    s.rsplit('/')
        .next()
        .filter(|x| !x.is_empty())
        .map(str::to_string)
}

/// Handles RBAC operations; returns the reply and whether the tenant changed.
pub fn handle(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, q, op, id, body) = c.parts();
    let other = ctx.emu.page_sizes().other;
    let body_obj = || object_body(body).cloned();
    macro_rules! try_body {
        () => {
            match body_obj() {
                Ok(o) => o,
                Err(r) => return (r, false),
            }
        };
    }
    const DDEF: &str = "roleManagement/defender/roleDefinitions";
    const DASG: &str = "roleManagement/defender/roleAssignments";
    const IDEF: &str = "deviceManagement/roleDefinitions";
    const IASG: &str = "deviceManagement/roleAssignments";
    const XDEF: &str = "roleManagement/directory/roleDefinitions";
    const XASG: &str = "roleManagement/directory/roleAssignments";
    match op {
        // ---------------- Defender XDR
        "defenderDef.list" => c.list(
            DDEF,
            t.defender_role_definitions.values().cloned().collect(),
            other,
        ),
        "defenderDef.get" => c.read(DDEF, t.defender_role_definitions.get(id), || {
            not_found("Role definition", id)
        }),
        "defenderDef.create" => {
            let o = try_body!();
            let Some(name) = required_display_name(&o) else {
                return (Reply::bad_request("displayName is required."), false);
            };
            if display_name_taken(t.defender_role_definitions.values(), name) {
                return (
                    Reply::error(
                        409,
                        "Conflict",
                        format!("A role named '{name}' already exists."),
                    ),
                    false,
                );
            }
            let perms = match normalised_permissions(o.get("rolePermissions").unwrap_or(&json!([])))
            {
                Ok(p) => p,
                Err(e) => return (Reply::bad_request(e), false),
            };
            let rid = ctx.emu.new_object_id(t);
            let now = graph_time(ctx.emu.now(t));
            let v = json!({
                "id": rid,
                "displayName": name,
                "description": o.get("description").cloned().unwrap_or(Value::Null),
                "isBuiltIn": false,
                "isEnabled": true,
                "rolePermissions": perms,
                "createdDateTime": now,
                "modifiedDateTime": now,
            });
            t.defender_role_definitions.insert(rid, v.clone());
            (created(ctx, req, DDEF, &v), true)
        }
        "defenderDef.patch" => {
            let o = try_body!();
            let now = graph_time(ctx.emu.now(t));
            let Some(d) = t.defender_role_definitions.get_mut(id) else {
                return (not_found("Role definition", id), false);
            };
            for (k, v) in &o {
                match k.as_str() {
                    "displayName" | "description" => d[k.as_str()] = v.clone(),
                    "rolePermissions" => match normalised_permissions(v) {
                        Ok(p) => d["rolePermissions"] = p,
                        Err(e) => return (Reply::bad_request(e), false),
                    },
                    "@odata.type" | "id" => {}
                    other => {
                        return (
                            Reply::bad_request(format!("Property '{other}' cannot be updated.")),
                            false,
                        );
                    }
                }
            }
            d["modifiedDateTime"] = json!(now);
            (Reply::no_content(), true)
        }
        "defenderDef.delete" => {
            if t.defender_role_assignments
                .values()
                .any(|a| a["roleDefinitionId"] == id)
            {
                return (
                    Reply::bad_request("The role definition has assignments; delete them first."),
                    false,
                );
            }
            match t.defender_role_definitions.remove(id) {
                Some(_) => (Reply::no_content(), true),
                None => (not_found("Role definition", id), false),
            }
        }
        "defenderAsg.list" => c.list(
            DASG,
            t.defender_role_assignments.values().cloned().collect(),
            other,
        ),
        "defenderAsg.get" => c.read(DASG, t.defender_role_assignments.get(id), || {
            not_found("Role assignment", id)
        }),
        "defenderAsg.create" | "defenderAsg.patch" => {
            let o = try_body!();
            let existing = if op == "defenderAsg.patch" {
                match t.defender_role_assignments.get(id) {
                    Some(e) => Some(e.clone()),
                    None => return (not_found("Role assignment", id), false),
                }
            } else {
                None
            };
            let get = |k: &str| {
                o.get(k)
                    .cloned()
                    .or_else(|| existing.as_ref().and_then(|e| e.get(k).cloned()))
            };
            let role = get("roleDefinitionId")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if !t.defender_role_definitions.contains_key(&role) {
                return (
                    Reply::bad_request(format!("roleDefinitionId '{role}' does not exist.")),
                    false,
                );
            }
            let principals: Vec<String> = get("principalIds")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|p| p.as_str().map(str::to_string))
                .collect();
            if principals.is_empty() || principals.iter().any(|p| !guid_ok(p)) {
                return (
                    Reply::bad_request("principalIds must be a non-empty list of object ids."),
                    false,
                );
            }
            let scopes = get("appScopeIds").unwrap_or(json!(["/"]));
            let aid = existing
                .as_ref()
                .and_then(|e| e["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| ctx.emu.new_object_id(t));
            let v = json!({
                "@odata.type": "#microsoft.graph.unifiedRoleAssignmentMultiple",
                "id": aid,
                "displayName": get("displayName").unwrap_or(Value::Null),
                "description": get("description").unwrap_or(Value::Null),
                "roleDefinitionId": role,
                "principalIds": principals,
                "appScopeIds": scopes,
                "directoryScopeIds": get("directoryScopeIds").unwrap_or(json!([])),
            });
            t.defender_role_assignments.insert(aid, v.clone());
            if existing.is_some() {
                (Reply::no_content(), true)
            } else {
                (created(ctx, req, DASG, &v), true)
            }
        }
        "defenderAsg.delete" => match t.defender_role_assignments.remove(id) {
            Some(_) => (Reply::no_content(), true),
            None => (not_found("Role assignment", id), false),
        },
        // ---------------- Intune RBAC
        "intuneDef.list" => c.list(
            IDEF,
            t.intune_role_definitions.values().cloned().collect(),
            other,
        ),
        "intuneDef.get" => c.read(IDEF, t.intune_role_definitions.get(id), || {
            not_found("Role definition", id)
        }),
        "intuneDef.create" => {
            let o = try_body!();
            if let Some(tags) = o.get("roleScopeTagIds")
                && let Err(r) = super::scope_tags::check_ids(t, tags)
            {
                return (r, false);
            }
            let Some(name) = required_display_name(&o) else {
                return (Reply::bad_request("displayName is required."), false);
            };
            if display_name_taken(t.intune_role_definitions.values(), name) {
                return (
                    Reply::bad_request(format!("A role definition named '{name}' already exists.")),
                    false,
                );
            }
            let rid = ctx.emu.new_object_id(t);
            let v = json!({
                "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition",
                "id": rid,
                "displayName": name,
                "description": o.get("description").cloned().unwrap_or(json!("")),
                "isBuiltIn": false,
                "isBuiltInRoleDefinition": false,
                "roleScopeTagIds": o.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"])),
                "rolePermissions": o.get("rolePermissions").cloned().unwrap_or(json!([])),
                "permissions": o.get("permissions").cloned().unwrap_or(json!([])),
            });
            t.intune_role_definitions.insert(rid, v.clone());
            (created(ctx, req, IDEF, &v), true)
        }
        "intuneDef.patch" => {
            let o = try_body!();
            if let Some(tags) = o.get("roleScopeTagIds")
                && let Err(r) = super::scope_tags::check_ids(t, tags)
            {
                return (r, false);
            }
            let Some(d) = t.intune_role_definitions.get_mut(id) else {
                return (not_found("Role definition", id), false);
            };
            if d["isBuiltIn"] == true {
                return (
                    Reply::bad_request("Built-in role definitions cannot be modified."),
                    false,
                );
            }
            for (k, v) in &o {
                match k.as_str() {
                    "displayName" | "description" | "rolePermissions" | "permissions"
                    | "roleScopeTagIds" => d[k.as_str()] = v.clone(),
                    "@odata.type" | "id" | "isBuiltIn" | "isBuiltInRoleDefinition" => {}
                    other => {
                        return (
                            Reply::bad_request(format!(
                                "Property '{other}' does not exist on type 'microsoft.graph.roleDefinition'."
                            )),
                            false,
                        );
                    }
                }
            }
            // `intune-rbac-deviceandappmanagementroledefinition-update`: 200 with the object.
            let shown = d.clone();
            (entity(ctx, req, &Query::default(), IDEF, shown), true)
        }
        "intuneDef.delete" => {
            match t.intune_role_definitions.get(id) {
                None => return (not_found("Role definition", id), false),
                Some(d) if d["isBuiltIn"] == true => {
                    return (
                        Reply::bad_request("Built-in role definitions cannot be deleted."),
                        false,
                    );
                }
                _ => {}
            }
            if t.intune_role_assignments
                .values()
                .any(|a| a["roleDefinitionId"] == id)
            {
                return (
                    Reply::bad_request("The role definition has assignments; delete them first."),
                    false,
                );
            }
            t.intune_role_definitions.remove(id);
            (Reply::no_content(), true)
        }
        "intuneAsg.list"
        | "intuneAsg.get"
        | "intuneAsg.roleDefinition"
        | "intuneDef.roleAssignments" => {
            let show = |a: &Value, expand: bool| -> Value {
                let mut v = a.clone();
                let rid = v.as_object_mut().and_then(|o| o.remove("roleDefinitionId"));
                if expand
                    && let Some(d) = rid
                        .as_ref()
                        .and_then(Value::as_str)
                        .and_then(|r| t.intune_role_definitions.get(r))
                {
                    v["roleDefinition"] = d.clone();
                }
                v
            };
            match op {
                "intuneDef.roleAssignments" => {
                    // `intune-rbac-roleassignment-list`: the assignments of one definition.
                    if !t.intune_role_definitions.contains_key(id) {
                        return (not_found("Role definition", id), false);
                    }
                    let items = t
                        .intune_role_assignments
                        .values()
                        .filter(|a| a["roleDefinitionId"] == id)
                        .map(|a| show(a, q.expands("roleDefinition")))
                        .collect();
                    let set = format!("deviceManagement/roleDefinitions('{id}')/roleAssignments");
                    (collection(ctx, req, q, &set, items, other), false)
                }
                "intuneAsg.list" => {
                    let items = t
                        .intune_role_assignments
                        .values()
                        .map(|a| show(a, q.expands("roleDefinition")))
                        .collect();
                    c.list(IASG, items, other)
                }
                "intuneAsg.get" => match t.intune_role_assignments.get(id) {
                    Some(a) => (
                        entity(ctx, req, q, IASG, show(a, q.expands("roleDefinition"))),
                        false,
                    ),
                    None => (not_found("Role assignment", id), false),
                },
                _ => match t.intune_role_assignments.get(id) {
                    Some(a) => match a["roleDefinitionId"]
                        .as_str()
                        .and_then(|r| t.intune_role_definitions.get(r))
                    {
                        Some(d) => (entity(ctx, req, q, IDEF, d.clone()), false),
                        None => (not_found("Role definition", ""), false),
                    },
                    None => (not_found("Role assignment", id), false),
                },
            }
        }
        "intuneAsg.create" | "intuneAsg.patch" => {
            let o = try_body!();
            if let Some(tags) = o.get("roleScopeTagIds")
                && let Err(r) = super::scope_tags::check_ids(t, tags)
            {
                return (r, false);
            }
            let existing = if op == "intuneAsg.patch" {
                match t.intune_role_assignments.get(id) {
                    Some(e) => Some(e.clone()),
                    None => return (not_found("Role assignment", id), false),
                }
            } else {
                None
            };
            let role = match o.get("roleDefinition@odata.bind").and_then(Value::as_str) {
                Some(b) => bind_id(b).unwrap_or_default(),
                None => match &existing {
                    Some(e) => e["roleDefinitionId"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    None => {
                        return (
                            Reply::bad_request(
                                "roleDefinition@odata.bind is required to create a role assignment.",
                            ),
                            false,
                        );
                    }
                },
            };
            if !t.intune_role_definitions.contains_key(&role) {
                return (
                    Reply::bad_request(format!(
                        "Role definition '{role}' referenced by roleDefinition@odata.bind does not exist."
                    )),
                    false,
                );
            }
            let get = |k: &str| {
                o.get(k)
                    .cloned()
                    .or_else(|| existing.as_ref().and_then(|e| e.get(k).cloned()))
            };
            let name = get("displayName")
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            if name.trim().is_empty() || name.len() > 128 {
                return (
                    Reply::bad_request("displayName is required (at most 128 characters)."),
                    false,
                );
            }
            let members: Vec<Value> = get("members")
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
            if members.iter().any(|m| !m.as_str().is_some_and(guid_ok)) {
                return (
                    Reply::bad_request("members must be group object ids."),
                    false,
                );
            }
            let aid = existing
                .as_ref()
                .and_then(|e| e["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| ctx.emu.new_object_id(t));
            let v = json!({
                "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment",
                "id": aid,
                "displayName": name,
                "description": get("description").unwrap_or(json!("")),
                "scopeMembers": get("scopeMembers").unwrap_or(json!([])),
                "scopeType": get("scopeType").unwrap_or(json!("resourceScope")),
                "resourceScopes": get("resourceScopes").unwrap_or(json!([])),
                "members": members,
                "roleScopeTagIds": get("roleScopeTagIds").unwrap_or(json!(["0"])),
                "roleDefinitionId": role,
            });
            t.intune_role_assignments.insert(aid, v.clone());
            let mut shown = v;
            if let Some(o) = shown.as_object_mut() {
                o.remove("roleDefinitionId");
            }
            if existing.is_some() {
                // `intune-rbac-deviceandappmanagementroleassignment-update`: 200 with the object.
                (entity(ctx, req, &Query::default(), IASG, shown), true)
            } else {
                (created(ctx, req, IASG, &shown), true)
            }
        }
        "intuneAsg.delete" => match t.intune_role_assignments.remove(id) {
            Some(_) => (Reply::no_content(), true),
            None => (not_found("Role assignment", id), false),
        },
        // ---------------- Entra directory
        "dirDef.list" => c.list(XDEF, directory_definitions(), other),
        "dirDef.get" => match directory_definitions()
            .into_iter()
            .find(|d| d["id"] == id || d["templateId"] == id)
        {
            Some(v) => (entity(ctx, req, q, XDEF, v), false),
            None => (dir_not_found(id), false),
        },
        "dirAsg.list" => c.list(
            XASG,
            t.directory_role_assignments.values().cloned().collect(),
            other,
        ),
        "dirAsg.get" => c.read(XASG, t.directory_role_assignments.get(id), || {
            dir_not_found(id)
        }),
        "dirAsg.create" => {
            let o = try_body!();
            let s = |k: &str| {
                o.get(k)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let (role, principal) = (s("roleDefinitionId"), s("principalId"));
            let (dscope, ascope) = (
                o.get("directoryScopeId").and_then(Value::as_str),
                o.get("appScopeId").and_then(Value::as_str),
            );
            if !DIRECTORY_ROLES.iter().any(|(_, tid, _)| *tid == role) {
                return (
                    Reply::error(
                        400,
                        "Request_BadRequest",
                        format!(
                            "Invalid value specified for property 'roleDefinitionId' of resource 'UnifiedRoleAssignment': '{role}'."
                        ),
                    ),
                    false,
                );
            }
            if !guid_ok(&principal) {
                return (
                    Reply::error(
                        400,
                        "Request_BadRequest",
                        "Invalid value specified for property 'principalId' of resource 'UnifiedRoleAssignment'.",
                    ),
                    false,
                );
            }
            if dscope.is_none() && ascope.is_none() {
                return (
                    Reply::error(
                        400,
                        "Request_BadRequest",
                        "Either directoryScopeId or appScopeId must be specified.",
                    ),
                    false,
                );
            }
            let dscope = dscope.unwrap_or_default().to_string();
            if t.directory_role_assignments.values().any(|a| {
                a["roleDefinitionId"] == role.as_str()
                    && a["principalId"] == principal.as_str()
                    && a["directoryScopeId"] == dscope.as_str()
            }) {
                return (
                    Reply::error(
                        400,
                        "Request_BadRequest",
                        "A conflicting object with one or more of the specified property values is present in the directory.",
                    ),
                    false,
                );
            }
            let aid = ctx.emu.new_object_id(t);
            let v = json!({
                "@odata.type": "#microsoft.graph.unifiedRoleAssignment",
                "id": aid,
                "roleDefinitionId": role,
                "principalId": principal,
                "directoryScopeId": dscope,
                "appScopeId": ascope,
                "principalOrganizationId": t.id,
                "condition": null,
            });
            t.directory_role_assignments.insert(aid, v.clone());
            (created(ctx, req, XASG, &v), true)
        }
        "dirAsg.delete" => match t.directory_role_assignments.remove(id) {
            Some(_) => (Reply::no_content(), true),
            None => (dir_not_found(id), false),
        },
        _ => (Reply::bad_request("Unsupported operation."), false),
    }
}

/// A create body's non-blank `displayName`, which Graph requires of role definitions.
fn required_display_name(o: &serde_json::Map<String, Value>) -> Option<&str> {
    o.get("displayName")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
}

/// Role definition names are unique per tenant, compared case-insensitively.
fn display_name_taken<'a>(mut existing: impl Iterator<Item = &'a Value>, name: &str) -> bool {
    existing.any(|d| {
        d["displayName"]
            .as_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_swallows_specific_actions() {
        let acts = vec![
            "microsoft.xdr/secops/securitydata/alerts/manage".to_string(),
            "microsoft.xdr/secops/*/manage".to_string(),
            "microsoft.xdr/secops/*/read".to_string(),
            "microsoft.xdr/secops/*/manage".to_string(),
            "microsoft.xdr/configuration/system/manage".to_string(),
        ];
        assert_eq!(
            normalise_actions(&acts),
            vec![
                "microsoft.xdr/secops/*/manage",
                "microsoft.xdr/secops/*/read",
                "microsoft.xdr/configuration/system/manage"
            ]
        );
    }

    #[test]
    fn bind_ids() {
        assert_eq!(
            bind_id("https://graph.microsoft.com/beta/deviceManagement/roleDefinitions('abc')")
                .as_deref(),
            Some("abc")
        );
        assert_eq!(
            bind_id("https://x/deviceManagement/roleDefinitions/abc").as_deref(),
            Some("abc")
        );
    }
}
