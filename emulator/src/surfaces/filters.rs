//! Intune assignment filters, `deviceManagement/assignmentFilters` (beta):
//! `deviceAndAppManagementAssignmentFilter` list, get, create, update and delete.
//!
//! Documents followed: `intune-policyset-deviceandappmanagementassignmentfilter-list|get|
//! create|update|delete` (create 201 with the object, update 200 with the object, delete
//! 204). Create requires `displayName`, a known `platform` and a non-empty `rule`;
//! `assignmentFilterManagementType` defaults to `devices`, `roleScopeTags` to `["0"]`.
//! Policy assignments that name a filter (`target.deviceAndAppManagementAssignmentFilterId`)
//! are checked against this set by [`known`]. Limits: the rule syntax is not parsed,
//! `validateFilter`, `enable`, `getState` and `payloads` are not served, and a filter in use
//! can be deleted (Intune refuses that; unverified message, so not modelled).

use crate::state::{Tenant, graph_time, later_than};
use crate::wire::{Call, Query, Reply, created_entity, entity, object_body};
use serde_json::{Value, json};

/// Entity set used in `@odata.context`.
pub const SET: &str = "deviceManagement/assignmentFilters";

/// `devicePlatformType` values (Graph's enum, 2024).
const PLATFORMS: &[&str] = &[
    "android",
    "androidForWork",
    "iOS",
    "macOS",
    "windowsPhone81",
    "windows81AndLater",
    "windows10AndLater",
    "androidWorkProfile",
    "unknown",
    "androidAOSP",
    "androidMobileApplicationManagement",
    "iOSMobileApplicationManagement",
    "windowsMobileApplicationManagement",
];

/// Whether `id` names an assignment filter of the tenant.
pub fn known(t: &Tenant, id: &str) -> bool {
    t.assignment_filters.contains_key(id)
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "ResourceNotFound",
        format!("Assignment filter '{id}' was not found."),
    )
}

/// Handles assignment filter operations; returns the reply and whether the tenant changed.
pub fn handle(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, _, op, id, body) = c.parts();
    let page = ctx.emu.page_sizes().other;
    match op {
        "filter.list" => c.list(SET, t.assignment_filters.values().cloned().collect(), page),
        "filter.get" => c.read(SET, t.assignment_filters.get(id), || not_found(id)),
        "filter.create" | "filter.patch" => {
            let o = match object_body(body) {
                Ok(o) => o.clone(),
                Err(r) => return (r, false),
            };
            let current = if op == "filter.patch" {
                match t.assignment_filters.get(id) {
                    Some(c) => Some(c.clone()),
                    None => return (not_found(id), false),
                }
            } else {
                None
            };
            for k in o.keys() {
                if !matches!(
                    k.as_str(),
                    "displayName"
                        | "description"
                        | "platform"
                        | "rule"
                        | "roleScopeTags"
                        | "assignmentFilterManagementType"
                        | "@odata.type"
                        | "id"
                        | "createdDateTime"
                        | "lastModifiedDateTime"
                        | "payloads"
                ) {
                    return (
                        Reply::bad_request(format!(
                            "Property '{k}' does not exist on type 'microsoft.graph.deviceAndAppManagementAssignmentFilter'."
                        )),
                        false,
                    );
                }
            }
            let get = |k: &str| -> Option<Value> {
                o.get(k)
                    .cloned()
                    .or_else(|| current.as_ref().and_then(|c| c.get(k).cloned()))
            };
            let text = |k: &str| {
                get(k)
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default()
            };
            let name = text("displayName");
            if name.trim().is_empty() {
                return (
                    Reply::bad_request("The displayName of an assignment filter is required."),
                    false,
                );
            }
            let platform = text("platform");
            if !PLATFORMS.contains(&platform.as_str()) {
                return (
                    Reply::bad_request(format!(
                        "Cannot convert the literal '{platform}' to the expected type 'microsoft.graph.devicePlatformType'."
                    )),
                    false,
                );
            }
            if let (Some(c), Some(p)) = (&current, o.get("platform"))
                && &c["platform"] != p
            {
                return (
                    Reply::bad_request("The platform of an assignment filter cannot be changed."),
                    false,
                );
            }
            let rule = text("rule");
            if rule.trim().is_empty() {
                return (
                    Reply::bad_request("The rule of an assignment filter is required."),
                    false,
                );
            }
            let management = get("assignmentFilterManagementType").unwrap_or(json!("devices"));
            if !matches!(management.as_str(), Some("devices" | "apps")) {
                return (
                    Reply::bad_request(format!(
                        "Cannot convert the literal '{management}' to the expected type 'microsoft.graph.assignmentFilterManagementType'."
                    )),
                    false,
                );
            }
            let tags = get("roleScopeTags").unwrap_or(json!(["0"]));
            if let Err(r) = super::scope_tags::check_ids(t, &tags) {
                return (r, false);
            }
            let fid = current
                .as_ref()
                .and_then(|c| c["id"].as_str().map(str::to_string))
                .unwrap_or_else(|| ctx.emu.new_object_id(t));
            let now = ctx.emu.now(t);
            let created = current
                .as_ref()
                .and_then(|c| c.get("createdDateTime").cloned())
                .unwrap_or_else(|| json!(graph_time(now)));
            let modified = later_than(
                current
                    .as_ref()
                    .and_then(|c| c["lastModifiedDateTime"].as_str()),
                now,
            );
            let v = json!({
                "@odata.type": "#microsoft.graph.deviceAndAppManagementAssignmentFilter",
                "id": fid,
                "createdDateTime": created,
                "lastModifiedDateTime": modified,
                "displayName": name,
                "description": get("description").unwrap_or(json!("")),
                "platform": platform,
                "rule": rule,
                "roleScopeTags": tags,
                "payloads": [],
                "assignmentFilterManagementType": management,
            });
            t.assignment_filters.insert(fid, v.clone());
            if op == "filter.create" {
                (created_entity(ctx, req, SET, v), true)
            } else {
                (entity(ctx, req, &Query::default(), SET, v), true)
            }
        }
        "filter.delete" => match t.assignment_filters.remove(id) {
            Some(_) => (Reply::no_content(), true),
            None => (not_found(id), false),
        },
        _ => (Reply::bad_request("Unsupported operation."), false),
    }
}
