//! `deviceManagement/configurationPolicies` (Intune settings catalog, beta only) and
//! `configurationPolicyTemplates`.
//!
//! Contract followed (`graph-api.md` §1): create returns 201 with the server-set `id`,
//! timestamps, `settingCount` and the read-only `templateReference` fields filled from the
//! template; settings get ids `"0"`, `"1"`, ...; full `PUT` replaces the settings and
//! answers 204 (what IntuneCD expects); `PATCH` changes metadata only and refuses
//! `settings`; `/assign` replaces the whole assignment list and returns it; `/settings`
//! pages by 25; the list pages by 25, or by 10 with `$expand`, and an expanded policy's
//! `settings` stop after 25 with `settings@odata.nextLink` ([`crate::PageSizes`]).
//! Collection contexts of `/settings` and `/assignments` name the policy id
//! (`configurationPolicies('ID')/settings`), as Graph does and as IntuneCD relies on.
//! `roleScopeTagIds` must name existing scope tags (never `[]`/`null`), assignments may name
//! only existing filters, and settings are checked against the template
//! ([`crate::templates`]). Limits: the per-setting write endpoints
//! (`POST|PATCH|DELETE .../settings`) are not served; `priorityMetaData` and
//! `isAssigned` are not computed.

use crate::state::{Emulator, StoredPolicy, Tenant, graph_time, later_than, lock, new_guid};
use crate::templates;
use crate::wire::{
    Call, Ctx, GraphRequest, Query, Reply, collection, entity, object_body, page_of, project,
};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

const SET: &str = "deviceManagement/configurationPolicies";

/// Pseudo group ids Intune uses in assignment ids for "all devices" / "all licensed users".
const ALL_DEVICES_ID: &str = "adadadad-808e-44e2-905a-0b7873a8a531";
const ALL_USERS_ID: &str = "acacacac-9df4-4c7d-9d50-4ef0226f57a9";

const PLATFORMS: &[&str] = &[
    "none",
    "android",
    "iOS",
    "macOS",
    "windows10X",
    "windows10",
    "linux",
    "unknownFutureValue",
    "androidEnterprise",
    "aosp",
    "visionOS",
    "tvOS",
];
const TECHNOLOGIES: &[&str] = &[
    "none",
    "mdm",
    "windows10XManagement",
    "configManager",
    "intuneManagementExtension",
    "thirdParty",
    "documentGateway",
    "appleRemoteManagement",
    "microsoftSense",
    "exchangeOnline",
    "mobileApplicationManagement",
    "linuxMdm",
    "enrollment",
    "endpointPrivilegeManagement",
    "unknownFutureValue",
    "windowsOsRecovery",
    "android",
];

/// Removes OData annotations that full-metadata exports carry (`@odata.id`,
/// `x@odata.type`, `#microsoft.graph.assign` action links, ...) but keeps `@odata.type`,
/// which is part of the polymorphic payload.
pub fn strip_annotations(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| {
                    !k.starts_with('#') && (!k.contains("@odata.") || *k == "@odata.type")
                })
                .map(|(k, v)| (k.clone(), strip_annotations(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_annotations).collect()),
        other => other.clone(),
    }
}

fn settings_with_ids(settings: &[Value]) -> Vec<Value> {
    settings
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut m = Map::new();
            m.insert("id".into(), json!(i.to_string()));
            m.insert(
                "settingInstance".into(),
                s.get("settingInstance").cloned().unwrap_or(Value::Null),
            );
            Value::Object(m)
        })
        .collect()
}

/// Imports a policy in Graph's (exported) shape, keeping server fields when present.
pub fn import_policy(t: &mut Tenant, p: &Value, now: OffsetDateTime) -> Result<String, String> {
    let p = strip_annotations(p);
    let o = p.as_object().ok_or("a policy must be a JSON object")?;
    let name = o
        .get("name")
        .and_then(Value::as_str)
        .ok_or("a policy needs a name")?;
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(new_guid);
    let settings: Vec<Value> = o
        .get("settings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let assignments: Vec<Value> = o
        .get("assignments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = graph_time(now);
    // Graph fills the read-only template fields (family, display name, version) from the
    // template whatever a seed or export carries, so a policy seeded with only a
    // `templateId` is still found by `$filter=templateReference/templateFamily eq ...`.
    let tref = match o.get("templateReference") {
        Some(given) => given
            .get("templateId")
            .and_then(Value::as_str)
            .and_then(templates::template)
            .map(templates::template_reference)
            .unwrap_or_else(|| given.clone()),
        None => templates::no_template_reference(),
    };
    let policy = json!({
        "createdDateTime": o.get("createdDateTime").cloned().unwrap_or(json!(now)),
        "creationSource": o.get("creationSource").cloned().unwrap_or(Value::Null),
        "description": o.get("description").cloned().unwrap_or(json!("")),
        "lastModifiedDateTime": o.get("lastModifiedDateTime").cloned().unwrap_or(json!(now)),
        "name": name,
        "platforms": o.get("platforms").cloned().unwrap_or(json!("windows10")),
        "priorityMetaData": o.get("priorityMetaData").cloned().unwrap_or(Value::Null),
        "roleScopeTagIds": o.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"])),
        "settingCount": settings.len(),
        "technologies": o.get("technologies").cloned().unwrap_or(json!("mdm")),
        "id": id,
        "templateReference": tref,
    });
    let assignments = assignments
        .iter()
        .map(|a| assignment_entity(&id, a))
        .collect::<Result<Vec<_>, _>>()?;
    t.policies.insert(
        id.clone(),
        StoredPolicy {
            policy,
            settings: settings_with_ids(&settings),
            assignments,
        },
    );
    Ok(id)
}

/// A policy with settings and assignments, no annotations (for the admin API).
pub fn expanded_plain(p: &StoredPolicy) -> Value {
    let mut v = p.policy.clone();
    v["settings"] = Value::Array(p.settings.clone());
    v["assignments"] = Value::Array(p.assignments.clone());
    v
}

/// Applies an out-of-band edit and bumps `lastModifiedDateTime`.
pub fn apply_oob_edit(p: &mut StoredPolicy, patch: &Value, now: OffsetDateTime) {
    if let Some(o) = patch.as_object() {
        for (k, v) in o {
            match k.as_str() {
                "settings" => {
                    if let Some(a) = v.as_array() {
                        p.settings = settings_with_ids(a);
                        p.policy["settingCount"] = json!(p.settings.len());
                    }
                }
                "id" | "createdDateTime" | "lastModifiedDateTime" | "settingCount" => {}
                _ => {
                    p.policy[k.as_str()] = v.clone();
                }
            }
        }
    }
    let prev = p
        .policy
        .get("lastModifiedDateTime")
        .and_then(Value::as_str)
        .map(str::to_string);
    p.policy["lastModifiedDateTime"] = json!(later_than(prev.as_deref(), now));
}

/// The fault layer's out-of-band edit: an administrator appends a sentence to the
/// description of one policy of the tenant (chosen by `pick`), as a portal edit would.
pub fn random_oob_edit(emu: &Emulator, tid: &str, pick: u64) {
    let Some(t) = emu.tenant(tid) else { return };
    let mut t = lock(&t);
    if t.policies.is_empty() {
        return;
    }
    let idx = (pick % t.policies.len() as u64) as usize;
    let Some(id) = t.policies.keys().nth(idx).cloned() else {
        return;
    };
    let now = emu.now(&mut t);
    if let Some(p) = t.policies.get_mut(&id) {
        let desc = p
            .policy
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        apply_oob_edit(
            p,
            &json!({"description": format!("{desc}\nEdited in the Intune portal.")}),
            now,
        );
    }
    let _ = emu.persist_tenant(&t);
    drop(t);
    lock(&emu.inner.log).counters.oob_edits += 1;
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "ResourceNotFound",
        format!("Resource not found: configuration policy '{id}'."),
    )
}

/// The entity Graph answers, with navigation collections when expanded.
fn shaped(ctx: &Ctx<'_>, req: &GraphRequest, p: &StoredPolicy, q: &Query) -> Value {
    let mut v = project(p.policy.clone(), &q.select);
    let id = p.policy["id"].as_str().unwrap_or_default();
    for (nav, items) in [("assignments", &p.assignments), ("settings", &p.settings)] {
        if q.expands(nav) {
            v[format!("{nav}@odata.context")] =
                json!(ctx.context(req, &format!("{SET}('{id}')/{nav}")));
            // An expanded `settings` holds at most one page; the rest is behind
            // `settings@odata.nextLink`, which points at the policy's `/settings` with a
            // skiptoken (issue 14, gap 12; see [`crate::PageSizes::expanded_settings`]).
            let page = ctx.emu.page_sizes().expanded_settings.max(1);
            if nav == "settings" && items.len() > page {
                v[nav] = Value::Array(items[..page].to_vec());
                v["settings@odata.nextLink"] = json!(format!(
                    "{}/{}/{SET}('{id}')/settings?$skiptoken={}",
                    ctx.base,
                    req.version,
                    crate::wire::encode_skiptoken(page)
                ));
            } else {
                v[nav] = Value::Array(items.clone());
            }
        }
    }
    v
}

fn expand_suffix(q: &Query) -> String {
    let navs: Vec<&str> = ["assignments", "settings"]
        .into_iter()
        .filter(|n| q.expands(n))
        .collect();
    if navs.is_empty() {
        String::new()
    } else {
        format!(
            "({})",
            navs.iter()
                .map(|n| format!("{n}()"))
                .collect::<Vec<_>>()
                .join(",")
        )
    }
}

/// Policy fields, settings and `templateReference` of a checked create/PUT body.
type CheckedBody = (Map<String, Value>, Vec<Value>, Value);

/// Checks and normalises a create/PUT body; returns (policy fields, settings, template).
fn checked_body(
    oracle: crate::SettingOracle,
    t: &Tenant,
    o: &Map<String, Value>,
    existing_template: Option<&str>,
) -> Result<CheckedBody, Reply> {
    let name = o.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(Reply::bad_request("The policy name is required."));
    }
    for (k, allowed) in [("platforms", PLATFORMS), ("technologies", TECHNOLOGIES)] {
        if let Some(v) = o.get(k) {
            let s = v
                .as_str()
                .ok_or_else(|| Reply::bad_request(format!("'{k}' must be a string.")))?;
            for part in s.split(',') {
                if !allowed.contains(&part.trim()) {
                    return Err(Reply::bad_request(format!(
                        "Cannot convert the literal '{s}' to the expected type 'microsoft.graph.deviceManagementConfiguration{}'.",
                        if k == "platforms" {
                            "Platforms"
                        } else {
                            "Technologies"
                        }
                    )));
                }
            }
        }
    }
    let tid = o
        .get("templateReference")
        .and_then(|t| t.get("templateId"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if let Some(existing) = existing_template
        && existing != tid
    {
        return Err(Reply::bad_request(
            "The templateReference of a policy cannot be changed.",
        ));
    }
    let template = if tid.is_empty() {
        None
    } else {
        Some(templates::template(&tid).ok_or_else(|| {
            Reply::bad_request(format!(
                "Template with id '{tid}' was not found or is not a valid policy template."
            ))
        })?)
    };
    if let Some(t) = template
        && let Some(p) = o.get("platforms").and_then(Value::as_str)
        && p != t.platforms
    {
        return Err(Reply::bad_request(format!(
            "Platform '{p}' does not match template platform '{}'.",
            t.platforms
        )));
    }
    let settings = match o.get("settings") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(strip_annotations).collect(),
        Some(_) => return Err(Reply::bad_request("'settings' must be an array.")),
    };
    templates::validate_settings(template, &settings).map_err(Reply::bad_request)?;
    if let (crate::SettingOracle::Exports, Some(t)) = (oracle, template) {
        let unseen = templates::unseen_definitions(&t.id, &settings);
        if !unseen.is_empty() {
            return Err(Reply::bad_request(format!(
                "Setting definition id(s) not confirmed by a real export of template '{}': {}.",
                t.id,
                unseen.join(", ")
            )));
        }
    }
    let settings = crate::template_rules::as_stored(templates::catalog(), settings);
    let tref = template
        .map(templates::template_reference)
        .unwrap_or_else(templates::no_template_reference);
    let mut fields = Map::new();
    fields.insert(
        "description".into(),
        o.get("description").cloned().unwrap_or(json!("")),
    );
    fields.insert("name".into(), json!(name));
    fields.insert(
        "platforms".into(),
        o.get("platforms")
            .cloned()
            .unwrap_or_else(|| json!(template.map_or("none", |t| t.platforms.as_str()))),
    );
    if let Some(r) = o.get("roleScopeTagIds") {
        // Intune answers 400 for `[]`, `null` and unknown tags (issue 14, gap 6).
        super::scope_tags::check_ids(t, r)?;
        fields.insert("roleScopeTagIds".into(), r.clone());
    }
    fields.insert(
        "technologies".into(),
        o.get("technologies")
            .cloned()
            .unwrap_or_else(|| json!(template.map_or("none", |t| t.technologies.as_str()))),
    );
    Ok((fields, settings, tref))
}

/// Handles configuration policy and template operations. Returns the reply and whether the
/// tenant changed.
pub fn handle(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, q, op, id, body) = c.parts();
    let id2 = c.id2;
    let unchanged = |r: Reply| (r, false);
    match op {
        "policy.list" => {
            let items: Vec<Value> = t.policies.values().map(|p| p.policy.clone()).collect();
            let items: Vec<Value> = match &q.filter {
                Some(f) => items.into_iter().filter(|v| f.matches(v)).collect(),
                None => items,
            };
            let q2 = Query {
                filter: None,
                select: vec![],
                ..q.clone()
            };
            // Page on the bare entities, then shape (expand/select) the page.
            let mut reply = page_of(
                ctx,
                req,
                &q2,
                &format!("{SET}{}", expand_suffix(q)),
                items,
                if q.expand.is_empty() {
                    ctx.emu.page_sizes().policies
                } else {
                    ctx.emu.page_sizes().policies_expanded
                },
            );
            if let Some(vals) = reply
                .body
                .as_mut()
                .and_then(|b| b.get_mut("value"))
                .and_then(Value::as_array_mut)
            {
                for v in vals.iter_mut() {
                    let pid = v["id"].as_str().unwrap_or_default().to_string();
                    if let Some(p) = t.policies.get(&pid) {
                        *v = shaped(ctx, req, p, q);
                    }
                }
            }
            if !q.select.is_empty()
                && let Some(c) = reply
                    .body
                    .as_mut()
                    .and_then(|b| b.get_mut("@odata.context"))
            {
                *c = json!(ctx.context(req, &format!("{SET}({})", q.select.join(","))));
            }
            unchanged(reply)
        }
        "policy.get" => match t.policies.get(id) {
            None => unchanged(not_found(id)),
            Some(p) => {
                let mut out = Map::new();
                out.insert(
                    "@odata.context".into(),
                    json!(ctx.context(req, &format!("{SET}{}/$entity", expand_suffix(q)))),
                );
                if let Value::Object(o) = shaped(ctx, req, p, q) {
                    out.extend(o);
                }
                unchanged(Reply::ok(Value::Object(out)))
            }
        },
        "policy.create" => {
            let o = match object_body(body) {
                Ok(o) => o,
                Err(r) => return unchanged(r),
            };
            let (fields, settings, tref) =
                match checked_body(ctx.emu.inner.setting_oracle, t, o, None) {
                    Ok(x) => x,
                    Err(r) => return unchanged(r),
                };
            let pid = ctx.emu.new_object_id(t);
            let now = graph_time(ctx.emu.now(t));
            let policy = json!({
                "createdDateTime": now,
                "creationSource": o.get("creationSource").cloned().unwrap_or(Value::Null),
                "description": fields["description"],
                "lastModifiedDateTime": now,
                "name": fields["name"],
                "platforms": fields["platforms"],
                "priorityMetaData": null,
                "roleScopeTagIds": fields.get("roleScopeTagIds").cloned().unwrap_or(json!(["0"])),
                "settingCount": settings.len(),
                "technologies": fields["technologies"],
                "id": pid,
                "templateReference": tref,
            });
            let sp = StoredPolicy {
                policy,
                settings: settings_with_ids(&settings),
                assignments: vec![],
            };
            let mut out = Map::new();
            out.insert(
                "@odata.context".into(),
                json!(ctx.context(req, &format!("{SET}/$entity"))),
            );
            if let Value::Object(o) = sp.policy.clone() {
                out.extend(o);
            }
            t.policies.insert(pid, sp);
            (Reply::created(Value::Object(out)), true)
        }
        "policy.put" => {
            let o = match object_body(body) {
                Ok(o) => o,
                Err(r) => return unchanged(r),
            };
            let Some(existing) = t.policies.get(id) else {
                return unchanged(not_found(id));
            };
            let existing_tid = existing.policy["templateReference"]["templateId"]
                .as_str()
                .unwrap_or_default()
                .to_string();
            let (fields, settings, _) =
                match checked_body(ctx.emu.inner.setting_oracle, t, o, Some(&existing_tid)) {
                    Ok(x) => x,
                    Err(r) => return unchanged(r),
                };
            let now = ctx.emu.now(t);
            let Some(p) = t.policies.get_mut(id) else {
                return unchanged(not_found(id));
            };
            for (k, v) in fields {
                p.policy[k.as_str()] = v;
            }
            p.settings = settings_with_ids(&settings);
            p.policy["settingCount"] = json!(p.settings.len());
            let prev = p.policy["lastModifiedDateTime"]
                .as_str()
                .map(str::to_string);
            p.policy["lastModifiedDateTime"] = json!(later_than(prev.as_deref(), now));
            (Reply::no_content(), true)
        }
        "policy.patch" => {
            let o = match object_body(body) {
                Ok(o) => o,
                Err(r) => return unchanged(r),
            };
            if o.contains_key("settings") {
                return unchanged(Reply::bad_request(
                    "Settings cannot be updated with PATCH on this entity; use PUT with the full policy or the settings endpoints.",
                ));
            }
            if let Some(tags) = o.get("roleScopeTagIds")
                && let Err(r) = super::scope_tags::check_ids(t, tags)
            {
                return unchanged(r);
            }
            let now = ctx.emu.now(t);
            let Some(p) = t.policies.get_mut(id) else {
                return unchanged(not_found(id));
            };
            for (k, v) in o {
                match k.as_str() {
                    "name" | "description" | "roleScopeTagIds" => {
                        p.policy[k.as_str()] = v.clone();
                    }
                    "@odata.type"
                    | "id"
                    | "createdDateTime"
                    | "lastModifiedDateTime"
                    | "settingCount"
                    | "creationSource"
                    | "isAssigned"
                    | "priorityMetaData" => {}
                    "templateReference" => {
                        let want = v.get("templateId").and_then(Value::as_str);
                        if want.is_some_and(|w| {
                            Some(w) != p.policy["templateReference"]["templateId"].as_str()
                        }) {
                            return unchanged(Reply::bad_request(
                                "The templateReference of a policy cannot be changed.",
                            ));
                        }
                    }
                    "platforms" | "technologies" => {
                        if v != &p.policy[k.as_str()] {
                            return unchanged(Reply::bad_request(format!(
                                "'{k}' cannot be changed on an existing policy."
                            )));
                        }
                    }
                    other => {
                        return unchanged(Reply::bad_request(format!(
                            "Property '{other}' does not exist on type 'microsoft.graph.deviceManagementConfigurationPolicy'."
                        )));
                    }
                }
            }
            let prev = p.policy["lastModifiedDateTime"]
                .as_str()
                .map(str::to_string);
            p.policy["lastModifiedDateTime"] = json!(later_than(prev.as_deref(), now));
            let mut out = Map::new();
            out.insert(
                "@odata.context".into(),
                json!(ctx.context(req, &format!("{SET}/$entity"))),
            );
            if let Value::Object(o) = p.policy.clone() {
                out.extend(o);
            }
            (Reply::ok(Value::Object(out)), true)
        }
        "policy.delete" => {
            if t.policies.remove(id).is_none() {
                return unchanged(not_found(id));
            }
            (Reply::no_content(), true)
        }
        "policy.settings" => match t.policies.get(id) {
            None => unchanged(not_found(id)),
            Some(p) => {
                let items = if q.expands("settingDefinitions") {
                    p.settings
                        .iter()
                        .map(|s| with_definitions(s.clone()))
                        .collect()
                } else {
                    p.settings.clone()
                };
                unchanged(collection(
                    ctx,
                    req,
                    q,
                    &format!("{SET}('{id}')/settings"),
                    items,
                    ctx.emu.page_sizes().settings,
                ))
            }
        },
        "policy.setting" => match t.policies.get(id) {
            None => unchanged(not_found(id)),
            Some(p) => match p.settings.iter().find(|s| s["id"] == id2) {
                None => unchanged(Reply::error(
                    404,
                    "ResourceNotFound",
                    format!("Setting '{id2}' not found."),
                )),
                Some(s) => unchanged(entity(
                    ctx,
                    req,
                    q,
                    &format!("{SET}('{id}')/settings"),
                    s.clone(),
                )),
            },
        },
        "policy.assignments" => match t.policies.get(id) {
            None => unchanged(not_found(id)),
            Some(p) => unchanged(collection(
                ctx,
                req,
                q,
                &format!("{SET}('{id}')/assignments"),
                p.assignments.clone(),
                ctx.emu.page_sizes().max,
            )),
        },
        "policy.assign" => {
            let o = match object_body(body) {
                Ok(o) => o,
                Err(r) => return unchanged(r),
            };
            let Some(list) = o.get("assignments").and_then(Value::as_array) else {
                return unchanged(Reply::bad_request(
                    "The 'assignments' parameter is required.",
                ));
            };
            if !t.policies.contains_key(id) {
                return unchanged(not_found(id));
            }
            let mut new = Vec::new();
            for a in list {
                match assignment_entity(id, a) {
                    Ok(v) => {
                        // A filter named in a target must exist in the tenant, with a filter
                        // type other than `none` (Intune answers 400 otherwise).
                        let tgt = &v["target"];
                        let fid = tgt["deviceAndAppManagementAssignmentFilterId"]
                            .as_str()
                            .filter(|f| {
                                !f.is_empty() && *f != "00000000-0000-0000-0000-000000000000"
                            });
                        if let Some(f) = fid {
                            if !super::filters::known(t, f) {
                                return unchanged(Reply::bad_request(format!(
                                    "Assignment filter '{f}' does not exist."
                                )));
                            }
                            if tgt["deviceAndAppManagementAssignmentFilterType"] == "none" {
                                return unchanged(Reply::bad_request(
                                    "An assignment that names a filter needs deviceAndAppManagementAssignmentFilterType include or exclude.",
                                ));
                            }
                        }
                        if new.iter().any(|x: &Value| x["id"] == v["id"]) {
                            return unchanged(Reply::bad_request(format!(
                                "Duplicate assignment target '{}'.",
                                v["id"]
                            )));
                        }
                        new.push(v)
                    }
                    Err(e) => return unchanged(Reply::bad_request(e)),
                }
            }
            let Some(p) = t.policies.get_mut(id) else {
                return unchanged(not_found(id));
            };
            p.assignments = new.clone();
            let reply = Reply::ok(json!({
                "@odata.context": ctx.context(req, "Collection(microsoft.graph.deviceManagementConfigurationPolicyAssignment)"),
                "value": new,
            }));
            (reply, true)
        }
        "template.list" => {
            let items: Vec<Value> = templates::catalog()
                .service_templates()
                .map(templates::template_entity)
                .collect();
            unchanged(collection(
                ctx,
                req,
                q,
                "deviceManagement/configurationPolicyTemplates",
                items,
                ctx.emu.page_sizes().other,
            ))
        }
        "template.get" => match templates::template(id) {
            None => unchanged(Reply::error(
                404,
                "ResourceNotFound",
                format!("Template '{id}' not found."),
            )),
            Some(tpl) => unchanged(entity(
                ctx,
                req,
                q,
                "deviceManagement/configurationPolicyTemplates",
                templates::template_entity(tpl),
            )),
        },
        "template.settingTemplates" => match templates::catalog().setting_templates(id) {
            None => unchanged(Reply::error(
                404,
                "ResourceNotFound",
                format!("Template '{id}' not found."),
            )),
            Some(v) => {
                let mut items: Vec<Value> = v
                    .get("value")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if !q.expands("settingDefinitions") {
                    for i in &mut items {
                        if let Some(o) = i.as_object_mut() {
                            o.remove("settingDefinitions");
                        }
                    }
                }
                unchanged(collection(
                    ctx,
                    req,
                    q,
                    &format!(
                        "deviceManagement/configurationPolicyTemplates('{id}')/settingTemplates"
                    ),
                    items,
                    ctx.emu.page_sizes().max,
                ))
            }
        },
        _ => unchanged(Reply::bad_request("Unsupported operation.")),
    }
}

fn with_definitions(mut s: Value) -> Value {
    let did = s["settingInstance"]["settingDefinitionId"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let defs: Vec<Value> = templates::catalog()
        .definition(&did)
        .map(|d| vec![json!({"id": d.id, "name": d.name, "displayName": d.display_name})])
        .unwrap_or_default();
    s["settingDefinitions"] = Value::Array(defs);
    s
}

const TARGET_TYPES: &[&str] = &[
    "#microsoft.graph.groupAssignmentTarget",
    "#microsoft.graph.exclusionGroupAssignmentTarget",
    "#microsoft.graph.allDevicesAssignmentTarget",
    "#microsoft.graph.allLicensedUsersAssignmentTarget",
    "#microsoft.graph.configurationManagerCollectionAssignmentTarget",
];

/// Builds the stored assignment (`{id, source, sourceId, target}`) from what a client sent.
fn assignment_entity(policy_id: &str, a: &Value) -> Result<Value, String> {
    let target = a
        .get("target")
        .and_then(Value::as_object)
        .ok_or("Each assignment needs a 'target'.")?;
    let ty = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .ok_or("An assignment target needs an @odata.type.")?;
    if !TARGET_TYPES.contains(&ty) {
        return Err(format!(
            "Assignment target type '{ty}' is not supported for configuration policies."
        ));
    }
    let key = match ty {
        "#microsoft.graph.allDevicesAssignmentTarget" => ALL_DEVICES_ID.to_string(),
        "#microsoft.graph.allLicensedUsersAssignmentTarget" => ALL_USERS_ID.to_string(),
        "#microsoft.graph.configurationManagerCollectionAssignmentTarget" => target
            .get("collectionId")
            .and_then(Value::as_str)
            .ok_or("collectionId is required")?
            .to_string(),
        _ => {
            let g = target
                .get("groupId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if uuid::Uuid::parse_str(g).is_err() {
                return Err(format!("groupId '{g}' is not a valid GUID."));
            }
            g.to_string()
        }
    };
    let mut tgt = Map::new();
    tgt.insert("@odata.type".into(), json!(ty));
    let filter_type = target
        .get("deviceAndAppManagementAssignmentFilterType")
        .and_then(Value::as_str)
        .unwrap_or("none");
    if !["none", "include", "exclude"].contains(&filter_type) {
        return Err(format!(
            "Invalid deviceAndAppManagementAssignmentFilterType '{filter_type}'."
        ));
    }
    tgt.insert(
        "deviceAndAppManagementAssignmentFilterId".into(),
        target
            .get("deviceAndAppManagementAssignmentFilterId")
            .cloned()
            .unwrap_or(Value::Null),
    );
    tgt.insert(
        "deviceAndAppManagementAssignmentFilterType".into(),
        json!(filter_type),
    );
    for (k, v) in target {
        if !tgt.contains_key(k) {
            tgt.insert(k.clone(), v.clone());
        }
    }
    Ok(json!({
        "id": format!("{policy_id}_{key}"),
        "source": a.get("source").cloned().unwrap_or(json!("direct")),
        "sourceId": policy_id,
        "target": Value::Object(tgt),
    }))
}
