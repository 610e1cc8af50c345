//! `security/rules/detectionRules` (Defender custom detections, beta, 2026 schema).
//!
//! Enforced on create (`graph-api.md` §2.3, including the service limits reported by
//! third parties): client-chosen `id` (starts with a letter; letters, digits, `-`, `_`;
//! at most 100 characters; 409 when taken), `displayName`, `status` (`enabled`|`disabled`),
//! `queryCondition.queryText`, `schedule.frequency` (`PT0S`, `PT1H`, `PT3H`, `PT12H`,
//! `PT24H`), an alert template with `title` and `severity`, at most one tactic, and
//! `entityMappings` with at least one of hosts/accounts/mailboxes/ips. PATCH accepts only
//! `description`, `detectionAction`, `displayName`, `queryCondition`, `schedule`, `status`.
//! Server-set fields (`createdBy`, timestamps, `detectorId`, `lastRunDetails`,
//! `schedule.nextRunDateTime`) are ignored when sent. KQL itself is not parsed.

use crate::state::{Tenant, graph_time, later_than, new_guid};
use crate::wire::{Call, Query, Reply, entity, object_body};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

const SET: &str = "security/rules/detectionRules";
const FREQUENCIES: &[&str] = &["PT0S", "PT1H", "PT3H", "PT12H", "PT24H"];
const SEVERITIES: &[&str] = &["informational", "low", "medium", "high"];
const PATCHABLE: &[&str] = &[
    "description",
    "detectionAction",
    "displayName",
    "queryCondition",
    "schedule",
    "status",
];
const SERVER_FIELDS: &[&str] = &[
    "createdBy",
    "createdDateTime",
    "lastModifiedBy",
    "lastModifiedDateTime",
    "detectorId",
    "lastRunDetails",
];

/// Whether `id` is a valid client-chosen rule id.
pub fn valid_rule_id(id: &str) -> bool {
    let mut cs = id.chars();
    matches!(cs.next(), Some(c) if c.is_ascii_alphabetic())
        && id.len() <= 100
        && cs.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn bad(msg: impl Into<String>) -> Reply {
    Reply::error(400, "BadRequest", msg)
}

/// Validates the whole rule (after create or merge).
fn validate(r: &Map<String, Value>) -> Result<(), Reply> {
    let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or_default();
    if s("displayName").trim().is_empty() {
        return Err(bad("The displayName field is required."));
    }
    if !["enabled", "disabled"].contains(&s("status")) {
        return Err(bad(
            "The status field is required and must be 'enabled' or 'disabled'.",
        ));
    }
    let query = r
        .get("queryCondition")
        .and_then(|q| q.get("queryText"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if query.trim().is_empty() {
        return Err(bad("queryCondition.queryText is required."));
    }
    let freq = r
        .get("schedule")
        .and_then(|q| q.get("frequency"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !FREQUENCIES.contains(&freq) {
        return Err(bad(format!(
            "schedule.frequency '{freq}' is not supported; use one of {}.",
            FREQUENCIES.join(", ")
        )));
    }
    let at = r
        .get("detectionAction")
        .and_then(|d| d.get("alertTemplate"))
        .and_then(Value::as_object)
        .ok_or_else(|| bad("detectionAction.alertTemplate is required."))?;
    if at
        .get("title")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .trim()
        .is_empty()
    {
        return Err(bad("alertTemplate.title is required."));
    }
    let sev = at
        .get("severity")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !SEVERITIES.contains(&sev) {
        return Err(bad(format!("alertTemplate.severity '{sev}' is not valid.")));
    }
    if at
        .get("tactics")
        .and_then(Value::as_array)
        .is_some_and(|t| t.len() > 1)
    {
        return Err(bad("At most one tactic is supported per detection rule."));
    }
    let em = at.get("entityMappings").and_then(Value::as_object);
    let has_entity = em.is_some_and(|m| {
        ["hosts", "accounts", "mailboxes", "ips"].iter().any(|k| {
            m.get(*k)
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty())
        })
    });
    if !has_entity {
        return Err(bad(
            "alertTemplate.entityMappings must map at least one of hosts, accounts, mailboxes or ips.",
        ));
    }
    if let Some(aa) = r
        .get("detectionAction")
        .and_then(|d| d.get("automatedActions"))
        .filter(|v| !v.is_null())
    {
        let o = aa
            .as_object()
            .ok_or_else(|| bad("detectionAction.automatedActions must be an object."))?;
        for (k, v) in o {
            if !AUTOMATED_ACTIONS.contains(&k.as_str()) && k != "@odata.type" {
                return Err(bad(format!(
                    "Property '{k}' does not exist on type 'microsoft.graph.security.automatedActionSet'."
                )));
            }
            if k != "@odata.type" && !v.is_array() && !v.is_null() {
                return Err(bad(format!("automatedActions.{k} must be a collection.")));
            }
        }
    }
    Ok(())
}

/// Members of `automatedActionSet` (`graph-api.md` §2.3).
const AUTOMATED_ACTIONS: &[&str] = &[
    "allowFiles",
    "blockFiles",
    "collectInvestigationPackages",
    "disableUsers",
    "forceUserPasswordResets",
    "hardDeleteEmails",
    "initiateInvestigations",
    "isolateDevices",
    "markUsersAsCompromised",
    "moveEmailsToDeletedItems",
    "moveEmailsToInbox",
    "moveEmailsToJunk",
    "restrictAppExecutions",
    "runAntivirusScans",
    "softDeleteEmails",
    "stopAndQuarantineFiles",
];

fn stored(
    mut o: Map<String, Value>,
    created: Option<&Map<String, Value>>,
    by: &str,
    now: OffsetDateTime,
) -> Value {
    for k in SERVER_FIELDS {
        o.remove(*k);
    }
    o.remove("@odata.type");
    let at = now;
    let now = graph_time(at);
    let prev = created
        .and_then(|c| c.get("lastModifiedDateTime"))
        .and_then(Value::as_str);
    let modified = later_than(prev, at);
    if let Some(sch) = o.get_mut("schedule").and_then(Value::as_object_mut) {
        sch.insert("nextRunDateTime".into(), json!(modified));
    }
    if let Some(qc) = o.get_mut("queryCondition").and_then(Value::as_object_mut) {
        qc.insert("lastModifiedDateTime".into(), json!(modified));
    }
    let mut out = Map::new();
    out.insert("id".into(), o.remove("id").unwrap_or(Value::Null));
    out.insert(
        "displayName".into(),
        o.remove("displayName").unwrap_or(Value::Null),
    );
    out.insert(
        "description".into(),
        o.remove("description").unwrap_or(Value::Null),
    );
    out.insert("status".into(), o.remove("status").unwrap_or(Value::Null));
    out.insert(
        "createdBy".into(),
        created
            .and_then(|c| c.get("createdBy"))
            .cloned()
            .unwrap_or(json!(by)),
    );
    out.insert(
        "createdDateTime".into(),
        created
            .and_then(|c| c.get("createdDateTime"))
            .cloned()
            .unwrap_or(json!(now)),
    );
    out.insert("lastModifiedBy".into(), json!(by));
    out.insert("lastModifiedDateTime".into(), json!(modified));
    out.insert(
        "detectorId".into(),
        created
            .and_then(|c| c.get("detectorId"))
            .cloned()
            .unwrap_or_else(|| json!(new_guid())),
    );
    out.insert(
        "lastRunDetails".into(),
        created.and_then(|c| c.get("lastRunDetails")).cloned().unwrap_or(
            json!({"lastRunDateTime": null, "status": null, "failureReason": null, "errorCode": null}),
        ),
    );
    out.extend(o);
    Value::Object(out)
}

/// Imports a pre-existing rule (seed); validated like a create.
pub fn import_rule(t: &mut Tenant, r: &Value, now: OffsetDateTime) -> Result<(), String> {
    let o = r
        .as_object()
        .ok_or("a detection rule must be an object")?
        .clone();
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if !valid_rule_id(&id) {
        return Err(format!("invalid detection rule id '{id}'"));
    }
    validate(&o).map_err(|r| {
        r.body
            .map(|b| b["error"]["message"].to_string())
            .unwrap_or_default()
    })?;
    t.detection_rules.insert(id, stored(o, None, "seed", now));
    Ok(())
}

fn alert_title(r: &Map<String, Value>) -> Option<&str> {
    r.get("detectionAction")
        .and_then(|d| d.get("alertTemplate"))
        .and_then(|a| a.get("title"))
        .and_then(Value::as_str)
}

/// Defender keeps detection names and alert titles unique per tenant (`graph-api-2.md`
/// §6.3: a second rule with the same `displayName` answers 409, with the same alert title
/// 400; compared case-insensitively, as the case rule is unverified). `except` is the rule
/// being updated.
fn unique(t: &Tenant, r: &Map<String, Value>, except: Option<&str>) -> Result<(), Reply> {
    let name = r
        .get("displayName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let title = alert_title(r);
    for (id, other) in &t.detection_rules {
        if Some(id.as_str()) == except {
            continue;
        }
        let Some(o) = other.as_object() else { continue };
        if o.get("displayName")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(name))
        {
            return Err(Reply::error(
                409,
                "Conflict",
                format!("A detection rule named '{name}' already exists."),
            ));
        }
        if let (Some(a), Some(b)) = (title, alert_title(o))
            && a.eq_ignore_ascii_case(b)
        {
            return Err(bad(format!(
                "An alert title must be unique: rule '{id}' already uses '{a}'."
            )));
        }
    }
    Ok(())
}

fn not_found(id: &str) -> Reply {
    Reply::error(
        404,
        "NotFound",
        format!("Detection rule '{id}' was not found."),
    )
}

/// Handles detection rule operations; returns the reply and whether the tenant changed.
pub fn handle(c: &Call<'_>, t: &mut Tenant) -> (Reply, bool) {
    let (ctx, req, _, op, id, body) = c.parts();
    let by = format!("app:{}", ctx.claims.appid);
    match op {
        "rule.list" => c.list(
            SET,
            t.detection_rules.values().cloned().collect(),
            ctx.emu.page_sizes().other,
        ),
        "rule.get" => c.read(SET, t.detection_rules.get(id), || not_found(id)),
        "rule.create" => {
            let o = match object_body(body) {
                Ok(o) => o.clone(),
                Err(r) => return (r, false),
            };
            let rid = o
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if rid.is_empty() {
                return (
                    bad("The id field is required: detection rules use a client-provided id."),
                    false,
                );
            }
            if !valid_rule_id(&rid) {
                return (
                    bad(format!(
                        "Invalid rule id '{rid}': it must start with a letter, contain only letters, digits, '-' and '_', and be at most 100 characters."
                    )),
                    false,
                );
            }
            if let Err(r) = validate(&o) {
                return (r, false);
            }
            if t.detection_rules.contains_key(&rid) {
                return (
                    Reply::error(
                        409,
                        "Conflict",
                        format!("A detection rule with id '{rid}' already exists."),
                    ),
                    false,
                );
            }
            if let Err(r) = unique(t, &o, None) {
                return (r, false);
            }
            let v = stored(o, None, &by, ctx.emu.now(t));
            t.detection_rules.insert(rid.clone(), v.clone());
            let mut out = Map::new();
            out.insert(
                "@odata.context".into(),
                json!(ctx.context(req, &format!("{SET}/$entity"))),
            );
            if let Value::Object(o) = v {
                out.extend(o);
            }
            let location = format!("{}/{}/{SET}/{rid}", ctx.base, req.version);
            (
                Reply::created(Value::Object(out)).with_header("Location", location),
                true,
            )
        }
        "rule.patch" => {
            let o = match object_body(body) {
                Ok(o) => o,
                Err(r) => return (r, false),
            };
            if let Some(k) = o
                .keys()
                .find(|k| !PATCHABLE.contains(&k.as_str()) && k.as_str() != "@odata.type")
            {
                return (
                    bad(format!(
                        "Property '{k}' cannot be updated; updatable properties are {}.",
                        PATCHABLE.join(", ")
                    )),
                    false,
                );
            }
            let now = ctx.emu.now(t);
            let Some(existing) = t.detection_rules.get(id) else {
                return (not_found(id), false);
            };
            let Some(existing_o) = existing.as_object() else {
                return (not_found(id), false);
            };
            let mut merged = existing_o.clone();
            for (k, v) in o {
                merged.insert(k.clone(), v.clone());
            }
            if let Err(r) = validate(&merged) {
                return (r, false);
            }
            if let Err(r) = unique(t, &merged, Some(id)) {
                return (r, false);
            }
            let v = stored(merged, Some(existing_o), &by, now);
            t.detection_rules.insert(id.to_string(), v.clone());
            (entity(ctx, req, &Query::default(), SET, v), true)
        }
        "rule.delete" => {
            if t.detection_rules.remove(id).is_none() {
                return (not_found(id), false);
            }
            (Reply::no_content(), true)
        }
        _ => (Reply::bad_request("Unsupported operation."), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_ids() {
        assert!(valid_rule_id("encoded-powershell_1"));
        assert!(!valid_rule_id("1abc"));
        assert!(!valid_rule_id("a b"));
        assert!(valid_rule_id(&format!("a{}", "b".repeat(99))));
        assert!(!valid_rule_id(&format!("a{}", "b".repeat(100))));
    }
}
