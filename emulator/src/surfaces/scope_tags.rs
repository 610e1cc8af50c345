//! Intune role scope tags, `deviceManagement/roleScopeTags` (beta only, where Graph documents
//! it): list, get, create, update and delete of custom tags, plus the
//! built-in `Default` tag (id `"0"`, `isBuiltIn: true`) that every tenant has and that cannot
//! be changed or deleted.
//!
//! Documents followed: `intune-rbac-rolescopetag-list|get|create|update|delete`
//! (create 201 with the object, update 200 with the object, delete 204). Custom tag ids are
//! small decimal strings, as Intune gives them (`"1"`, `"2"`, ...). Policies' and roles'
//! `roleScopeTagIds` are checked against this set by [`known`]. Limits: the `assign` action,
//! `getRoleScopeTagsById` and auto-assignments are not served.

use crate::state::Tenant;
use crate::wire::{Call, Query, Reply, created_entity, entity, object_body};
use serde_json::{Value, json};

/// Entity set used in `@odata.context`.
pub const SET: &str = "deviceManagement/roleScopeTags";

/// The built-in `Default` tag every tenant has.
pub fn default_tag() -> Value {
    json!({
        "id": "0",
        "displayName": "Default",
        "description": "",
        "isBuiltIn": true,
    })
}

/// All tags of a tenant, built-in first, then custom ones by numeric id.
pub fn all(t: &Tenant) -> Vec<Value> {
    let mut custom: Vec<&Value> = t.role_scope_tags.values().collect();
    custom.sort_by_key(|v| v["id"].as_str().and_then(|s| s.parse::<u64>().ok()));
    std::iter::once(default_tag())
        .chain(custom.into_iter().cloned())
        .collect()
}

/// Whether `id` names a scope tag of the tenant.
pub fn known(t: &Tenant, id: &str) -> bool {
    id == "0" || t.role_scope_tags.contains_key(id)
}

/// Checks a `roleScopeTagIds` value sent on create or update: Intune refuses an empty list,
/// `null`, non-strings and unknown tags with 400.
pub fn check_ids(t: &Tenant, v: &Value) -> Result<(), Reply> {
    let Some(a) = v.as_array() else {
        return Err(Reply::bad_request(
            "roleScopeTagIds must be a non-empty collection of scope tag ids.",
        ));
    };
    if a.is_empty() {
        return Err(Reply::bad_request(
            "roleScopeTagIds must contain at least one scope tag id.",
        ));
    }
    for id in a {
        match id.as_str() {
            Some(s) if known(t, s) => {}
            _ => {
                return Err(Reply::bad_request(format!(
                    "Scope tag '{}' does not exist.",
                    id.as_str().map_or_else(|| id.to_string(), str::to_string)
                )));
            }
        }
    }
    Ok(())
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "ResourceNotFound",
        format!("Role scope tag '{id}' was not found."),
    )
}

/// Handles scope tag operations; returns the reply and whether the tenant changed.
pub fn handle(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, _, op, id, body) = c.parts();
    let page = ctx.emu.page_sizes().other;
    match op {
        "scopeTag.list" => c.list(SET, all(t), page),
        "scopeTag.get" => c.read(SET, all(t).iter().find(|v| v["id"] == id), || not_found(id)),
        "scopeTag.create" | "scopeTag.patch" => {
            let o = match object_body(body) {
                Ok(o) => o.clone(),
                Err(r) => return (r, false),
            };
            if op == "scopeTag.patch" {
                if id == "0" {
                    return (
                        Reply::bad_request("Built-in scope tags cannot be modified."),
                        false,
                    );
                }
                if !t.role_scope_tags.contains_key(id) {
                    return (not_found(id), false);
                }
            }
            for k in o.keys() {
                if !matches!(
                    k.as_str(),
                    "displayName" | "description" | "@odata.type" | "id" | "isBuiltIn"
                ) {
                    return (
                        Reply::bad_request(format!(
                            "Property '{k}' does not exist on type 'microsoft.graph.roleScopeTag'."
                        )),
                        false,
                    );
                }
            }
            let current = t.role_scope_tags.get(id).cloned();
            let name = o
                .get("displayName")
                .or_else(|| current.as_ref().and_then(|c| c.get("displayName")))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .trim()
                .to_string();
            if name.is_empty() {
                return (
                    Reply::bad_request("The displayName of a scope tag is required."),
                    false,
                );
            }
            if all(t).iter().any(|v| {
                v["id"] != id
                    && v["displayName"]
                        .as_str()
                        .is_some_and(|n| n.eq_ignore_ascii_case(&name))
            }) {
                return (
                    Reply::bad_request(format!("A scope tag named '{name}' already exists.")),
                    false,
                );
            }
            let tag_id = if op == "scopeTag.create" {
                let next = t
                    .role_scope_tags
                    .keys()
                    .filter_map(|k| k.parse::<u64>().ok())
                    .max()
                    .unwrap_or(0)
                    + 1;
                next.to_string()
            } else {
                id.to_string()
            };
            let description = o
                .get("description")
                .or_else(|| current.as_ref().and_then(|c| c.get("description")))
                .cloned()
                .unwrap_or(json!(""));
            let v = json!({
                "id": tag_id,
                "displayName": name,
                "description": description,
                "isBuiltIn": false,
            });
            t.role_scope_tags.insert(tag_id, v.clone());
            if op == "scopeTag.create" {
                (created_entity(ctx, req, SET, v), true)
            } else {
                (entity(ctx, req, &Query::default(), SET, v), true)
            }
        }
        "scopeTag.delete" => {
            if id == "0" {
                return (
                    Reply::bad_request("Built-in scope tags cannot be deleted."),
                    false,
                );
            }
            match t.role_scope_tags.remove(id) {
                Some(_) => (Reply::no_content(), true),
                None => (not_found(id), false),
            }
        }
        _ => (Reply::bad_request("Unsupported operation."), false),
    }
}
