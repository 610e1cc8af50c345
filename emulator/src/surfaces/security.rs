//! `security/incidents` and `security/alerts_v2` (Defender XDR incidents and alerts, v1.0
//! and beta), seeded per tenant deterministically from the tenant id, so tests can count.
//!
//! Follows `graph-api-2.md` §2 (`[GD] v1.0/api/security-list-incidents.md`,
//! `security-incident-update.md`, `security-list-alerts_v2.md`, `security-alert-update.md`):
//!
//! - lists: `$top` (incidents refuse more than 50 with 400, as observed in wazuh#28070;
//!   alerts accept up to the emulator's page maximum), `$filter` (`eq`/`ne`, `and`/`or`,
//!   `customTags/any(...)` through the shared filter, plus `gt`/`ge`/`lt`/`le` on the
//!   date-time properties in top-level `and` clauses), `$orderby` on one property
//!   (`asc`/`desc`), `$skiptoken` paging with an absolute `@odata.nextLink`, `$expand=alerts`
//!   on incidents; the default order is `lastUpdateDateTime desc` (UNVERIFIED; the doc
//!   states none);
//! - `GET` by id (`$expand=alerts` too);
//! - `PATCH`: only the documented writable fields (incident: `assignedTo`, `classification`,
//!   `determination`, `status`, `customTags`; alert: `assignedTo`, `classification`,
//!   `determination`, `status`); enum members must be the metadata spellings (case-sensitive);
//!   any other property is refused with 400 (UNVERIFIED: the service may ignore it). The
//!   classification/determination pairing the Defender portal enforces is enforced here too
//!   (UNVERIFIED for Graph, `graph-api-2.md` §2.5). The answer is `200` with the entity.
//!
//! - `POST .../{id}/comments` with `{"comment": "..."}`: appends an `alertComment` and
//!   answers `200` with every comment of the entity (`security-incident-post-comments.md`).
//!
//! - `POST .../{id}/comments` with `{"comment": "..."}`: appends an `alertComment` and
//!   answers `200` with every comment of the entity (`security-incident-post-comments.md`).
//!
//! The seeded data also feeds the `AlertInfo` hunting table ([`super::hunting`]).

use crate::state::{Tenant, graph_time};
use crate::wire::{Ctx, Filter, GraphRequest, Query, Reply, entity, object_body, page_of};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

/// `incidentStatus` members a client may write (`unknownFutureValue` is not a value, and
/// `awaitingAction` is set by Defender Experts only).
pub const INCIDENT_STATUSES: &[&str] = &["active", "resolved", "inProgress", "redirected"];
/// `alertStatus` members a client may write.
pub const ALERT_STATUSES: &[&str] = &["unknown", "new", "inProgress", "resolved"];
/// `alertClassification` members.
pub const CLASSIFICATIONS: &[&str] = &[
    "unknown",
    "falsePositive",
    "truePositive",
    "informationalExpectedActivity",
];
/// `alertDetermination` members.
pub const DETERMINATIONS: &[&str] = &[
    "unknown",
    "apt",
    "malware",
    "securityPersonnel",
    "securityTesting",
    "unwantedSoftware",
    "other",
    "multiStagedAttack",
    "compromisedAccount",
    "phishing",
    "maliciousUserActivity",
    "notMalicious",
    "notEnoughDataToValidate",
    "confirmedActivity",
    "lineOfBusinessApplication",
];

/// The determinations the Defender portal offers under each classification (the pairing the
/// non-Graph incident API enforces, `[DD] defender-xdr/api-update-incidents`).
pub fn determinations_for(classification: &str) -> &'static [&'static str] {
    match classification {
        "truePositive" => &[
            "multiStagedAttack",
            "maliciousUserActivity",
            "compromisedAccount",
            "malware",
            "phishing",
            "unwantedSoftware",
            "apt",
            "other",
            "unknown",
        ],
        "informationalExpectedActivity" => &[
            "securityTesting",
            "lineOfBusinessApplication",
            "confirmedActivity",
            "securityPersonnel",
            "other",
            "unknown",
        ],
        "falsePositive" => &[
            "notMalicious",
            "notEnoughDataToValidate",
            "other",
            "unknown",
        ],
        _ => &["unknown"],
    }
}

// The store's data type lives with the rest of a tenant's data, below the surfaces.
pub use crate::state::SecurityStore;

/// A small deterministic random source seeded from a string (xorshift64*).
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: &str) -> Rng {
        let d = Sha256::digest(seed.as_bytes());
        let mut b = [0u8; 8];
        b.copy_from_slice(&d[..8]);
        Rng(u64::from_le_bytes(b) | 1)
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    pub(crate) fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
}

/// The seed's fixed epoch: every seeded time is an offset from it, so data is reproducible.
pub(crate) const EPOCH: &str = "2026-09-01T00:00:00Z";

pub(crate) fn at_minutes(m: u64) -> String {
    let base = time::OffsetDateTime::parse(EPOCH, &time::format_description::well_known::Rfc3339)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    graph_time(base + time::Duration::minutes(m as i64))
}

const SCENARIOS: &[(&str, &str, &str, &str)] = &[
    (
        "Suspicious PowerShell on one endpoint",
        "Execution",
        "T1059.001",
        "microsoftDefenderForEndpoint",
    ),
    (
        "Multi-stage incident involving Initial access & Execution",
        "InitialAccess",
        "T1566.001",
        "microsoftDefenderForOffice365",
    ),
    (
        "Ransomware activity on multiple endpoints",
        "Ransomware",
        "T1486",
        "microsoftDefenderForEndpoint",
    ),
    (
        "Credential theft via LSASS access",
        "CredentialAccess",
        "T1003.001",
        "microsoftDefenderForEndpoint",
    ),
    (
        "Impossible travel activity",
        "InitialAccess",
        "T1078",
        "microsoftDefenderForCloudApps",
    ),
    (
        "Phishing email delivered to mailboxes",
        "InitialAccess",
        "T1566.002",
        "microsoftDefenderForOffice365",
    ),
    (
        "Suspected DCSync attack",
        "CredentialAccess",
        "T1003.006",
        "microsoftDefenderForIdentity",
    ),
    (
        "Unwanted software detected",
        "Malware",
        "T1204.002",
        "microsoftDefenderForEndpoint",
    ),
];

/// Seeds a tenant's incidents and alerts from its id: 10 to 15 incidents with 1 to 3 alerts
/// each, with fixed times after [`EPOCH`].
pub fn seed(tenant_id: &str) -> SecurityStore {
    let mut r = Rng::new(&format!("incidents:{tenant_id}"));
    let n = 10 + r.below(6);
    let base = 1000 + r.below(9000) * 10;
    let mut store = SecurityStore::default();
    let tag = &tenant_id[..tenant_id.len().min(8)];
    for i in 0..n {
        let id = (base + i).to_string();
        let sc = r.pick(SCENARIOS);
        let severity = r.pick(&[
            "high",
            "high",
            "medium",
            "medium",
            "medium",
            "low",
            "informational",
        ]);
        let status = r.pick(&["active", "active", "active", "inProgress", "resolved"]);
        let created = i * 180 + r.below(120);
        let updated = created + 5 + r.below(600);
        let (classification, determination) = if status == "resolved" {
            r.pick(&[
                ("truePositive", "malware"),
                ("falsePositive", "notMalicious"),
            ])
        } else {
            ("unknown", "unknown")
        };
        let assigned = if r.below(3) == 0 {
            json!("analyst@contoso-soc.example")
        } else {
            Value::Null
        };
        let tags: Vec<&str> = match r.below(4) {
            0 => vec!["vip"],
            1 => vec!["rampart-demo"],
            _ => vec![],
        };
        let alerts = 1 + r.below(3);
        for j in 0..alerts {
            let aid = format!("da{tag}{id}_{j}");
            let a_status = if status == "resolved" {
                "resolved"
            } else if j == 0 {
                "new"
            } else {
                "inProgress"
            };
            store.alerts.insert(
                aid.clone(),
                json!({
                    "@odata.type": "#microsoft.graph.security.alert",
                    "id": aid, "providerAlertId": aid, "incidentId": id,
                    "title": if j == 0 { sc.0.to_string() } else { format!("{} (related activity {j})", sc.0) },
                    "description": format!("Synthetic alert seeded by the rampart emulator for {}.", sc.0),
                    "category": sc.1, "severity": severity, "status": a_status,
                    "classification": classification, "determination": determination,
                    "assignedTo": assigned.clone(),
                    "serviceSource": sc.3, "detectionSource": "antivirus",
                    "detectorId": format!("{:08x}", r.next() as u32),
                    "productName": "Microsoft Defender XDR",
                    "mitreTechniques": [sc.2],
                    "tenantId": tenant_id,
                    "alertWebUrl": format!("https://security.microsoft.com/alerts/{aid}?tid={tenant_id}"),
                    "incidentWebUrl": format!("https://security.microsoft.com/incidents/{id}?tid={tenant_id}"),
                    "createdDateTime": at_minutes(created + j),
                    "lastUpdateDateTime": at_minutes(updated),
                    "firstActivityDateTime": at_minutes(created.saturating_sub(3)),
                    "lastActivityDateTime": at_minutes(created + j),
                    "resolvedDateTime": if status == "resolved" { json!(at_minutes(updated)) } else { Value::Null },
                    "comments": [], "evidence": [], "systemTags": [],
                }),
            );
        }
        store.incidents.insert(
            id.clone(),
            json!({
                "@odata.type": "#microsoft.graph.security.incident",
                "id": id, "displayName": sc.0,
                "description": format!("Synthetic incident seeded by the rampart emulator: {}.", sc.0),
                "summary": Value::Null,
                "severity": severity, "status": status,
                "classification": classification, "determination": determination,
                "assignedTo": assigned, "customTags": tags, "systemTags": [],
                "comments": [], "resolvingComment": Value::Null,
                "priorityScore": 10 + r.below(90), "redirectIncidentId": Value::Null,
                "tenantId": tenant_id,
                "incidentWebUrl": format!("https://security.microsoft.com/incidents/{id}?tid={tenant_id}"),
                "createdDateTime": at_minutes(created),
                "lastUpdateDateTime": at_minutes(updated),
                "lastModifiedBy": "API-App:rampart-emulator-seed",
            }),
        );
    }
    store
}

/// The tenant's store, seeded on first use.
pub fn store(t: &mut Tenant) -> &mut SecurityStore {
    let id = t.id.clone();
    t.security.get_or_insert_with(|| seed(&id))
}

/// Routes `security/incidents|alerts_v2[/{id}]` for the router: template, whether it writes,
/// captured ids and the operation name. Unknown shapes answer Graph's 400s.
pub fn route(
    coll: &str,
    rest: &[&str],
    method: &str,
) -> Result<(String, bool, Vec<String>, &'static str), Reply> {
    let incidents = coll == "incidents";
    let t = format!("security/{coll}");
    let op = |x: &str| -> &'static str {
        match (incidents, x) {
            (true, "list") => "soc.incident.list",
            (true, "get") => "soc.incident.get",
            (true, "comment") => "soc.incident.comment",
            (true, _) => "soc.incident.patch",
            (false, "list") => "soc.alert.list",
            (false, "get") => "soc.alert.get",
            (false, "comment") => "soc.alert.comment",
            (false, _) => "soc.alert.patch",
        }
    };
    match (rest, method) {
        ([], "GET") => Ok((t, false, vec![], op("list"))),
        ([id], "GET") => Ok((
            format!("{t}/{{id}}"),
            false,
            vec![id.to_string()],
            op("get"),
        )),
        ([id], "PATCH") => Ok((
            format!("{t}/{{id}}"),
            true,
            vec![id.to_string()],
            op("patch"),
        )),
        ([id, "comments"], "POST") => Ok((
            format!("{t}/{{id}}/comments"),
            true,
            vec![id.to_string()],
            op("comment"),
        )),
        ([_, seg, ..], _) => Err(Reply::bad_request(format!(
            "Resource not found for the segment '{seg}'."
        ))),
        _ => Err(Reply::bad_request(format!(
            "No OData route exists that match template ~/{t} with http verb {method}."
        ))),
    }
}

/// Handles one incidents/alerts operation; returns the reply and whether the tenant changed.
pub fn handle(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    op: &str,
    t: &mut Tenant,
    id: &str,
    body: Option<&Value>,
) -> (Reply, bool) {
    let incidents = op.starts_with("soc.incident");
    let set = if incidents {
        "security/incidents"
    } else {
        "security/alerts_v2"
    };
    let (q, extra) = match parse_query(req, incidents) {
        Ok(x) => x,
        Err(r) => return (r, false),
    };
    let s = store(t);
    let with_alerts = |mut inc: Value, s: &SecurityStore| -> Value {
        let iid = inc["id"].as_str().unwrap_or_default().to_string();
        let alerts: Vec<Value> = s
            .alerts
            .values()
            .filter(|a| a["incidentId"] == json!(iid))
            .cloned()
            .collect();
        inc["alerts"] = Value::Array(alerts);
        inc
    };
    match op {
        "soc.incident.list" | "soc.alert.list" => {
            let src = if incidents { &s.incidents } else { &s.alerts };
            let mut items: Vec<Value> =
                src.values().filter(|v| extra.matches(v)).cloned().collect();
            let (key, desc) = extra.order.clone();
            items.sort_by(|a, b| {
                let o = cmp_values(&a[&key], &b[&key]).then_with(|| cmp_ids(&a["id"], &b["id"]));
                if desc { o.reverse() } else { o }
            });
            if incidents && q.expands("alerts") {
                items = items.into_iter().map(|i| with_alerts(i, s)).collect();
            }
            (page_of(ctx, req, &q, set, items, 50), false)
        }
        "soc.incident.get" | "soc.alert.get" => {
            let src = if incidents { &s.incidents } else { &s.alerts };
            match src.get(id) {
                Some(v) => {
                    let v = if incidents && q.expands("alerts") {
                        with_alerts(v.clone(), s)
                    } else {
                        v.clone()
                    };
                    (entity(ctx, req, &q, set, v), false)
                }
                None => (not_found(incidents, id), false),
            }
        }
        "soc.incident.comment" | "soc.alert.comment" => {
            let text = match object_body(body) {
                Ok(b) => b
                    .get("comment")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
                Err(r) => return (r, false),
            };
            if text.trim().is_empty() {
                return (bad("The comment property is required."), false);
            }
            let src = if incidents {
                &mut s.incidents
            } else {
                &mut s.alerts
            };
            let Some(current) = src.get_mut(id) else {
                return (not_found(incidents, id), false);
            };
            let now = graph_time(time::OffsetDateTime::now_utc());
            let comment = json!({
                "@odata.type": "#microsoft.graph.security.alertComment",
                "comment": text,
                "createdByDisplayName": format!("API-App:{}", ctx.claims.appid),
                "createdDateTime": now,
            });
            match current["comments"].as_array_mut() {
                Some(list) => list.push(comment),
                None => current["comments"] = json!([comment]),
            }
            current["lastUpdateDateTime"] = json!(now);
            // The answer is every comment of the entity, not just the new one (§2.5).
            let reply = Reply::ok(json!({
                "@odata.context": ctx.context(req, "Collection(microsoft.graph.security.alertComment)"),
                "value": current["comments"].clone(),
            }));
            (reply, true)
        }
        _ => {
            let body = match object_body(body) {
                Ok(b) => b,
                Err(r) => return (r, false),
            };
            let src = if incidents {
                &mut s.incidents
            } else {
                &mut s.alerts
            };
            let Some(current) = src.get(id) else {
                return (not_found(incidents, id), false);
            };
            let merged = match patch(current, body, incidents) {
                Ok(m) => m,
                Err(r) => return (r, false),
            };
            let mut merged = merged;
            merged["lastUpdateDateTime"] = json!(graph_time(time::OffsetDateTime::now_utc()));
            if incidents {
                merged["lastModifiedBy"] = json!(format!("API-App:{}", ctx.claims.appid));
            } else if merged["status"] == json!("resolved") && merged["resolvedDateTime"].is_null()
            {
                merged["resolvedDateTime"] = merged["lastUpdateDateTime"].clone();
            }
            src.insert(id.to_string(), merged.clone());
            (entity(ctx, req, &Query::default(), set, merged), true)
        }
    }
}

fn not_found(incidents: bool, id: &str) -> Reply {
    let what = if incidents { "Incident" } else { "Alert" };
    Reply::error(
        404,
        "NotFound",
        format!("{what} with id '{id}' was not found."),
    )
}

fn bad(msg: impl Into<String>) -> Reply {
    Reply::error(400, "BadRequest", msg)
}

/// Validates a PATCH body and returns the merged entity.
fn patch(current: &Value, body: &Map<String, Value>, incidents: bool) -> Result<Value, Reply> {
    let writable: &[&str] = if incidents {
        &[
            "assignedTo",
            "classification",
            "determination",
            "status",
            "customTags",
        ]
    } else {
        &["assignedTo", "classification", "determination", "status"]
    };
    let mut merged = current.clone();
    for (k, v) in body {
        if k.starts_with('@') {
            continue;
        }
        let Some(field) = writable.iter().find(|w| w.eq_ignore_ascii_case(k)) else {
            return Err(bad(format!(
                "Property '{k}' cannot be updated; writable properties are {}.",
                writable.join(", ")
            )));
        };
        let allowed: Option<&[&str]> = match *field {
            "status" if incidents => Some(INCIDENT_STATUSES),
            "status" => Some(ALERT_STATUSES),
            "classification" => Some(CLASSIFICATIONS),
            "determination" => Some(DETERMINATIONS),
            _ => None,
        };
        if let Some(allowed) = allowed {
            match v.as_str() {
                Some(s) if allowed.contains(&s) => {}
                _ => {
                    return Err(bad(format!(
                        "Invalid value {v} for property '{field}'; expected one of {}.",
                        allowed.join(", ")
                    )));
                }
            }
        }
        match *field {
            "assignedTo" if !(v.is_string() || v.is_null()) => {
                return Err(bad("Property 'assignedTo' must be a string or null."));
            }
            "customTags" if !v.as_array().is_some_and(|a| a.iter().all(Value::is_string)) => {
                return Err(bad("Property 'customTags' must be an array of strings."));
            }
            _ => {}
        }
        merged[*field] = v.clone();
    }
    let c = merged["classification"].as_str().unwrap_or("unknown");
    let d = merged["determination"].as_str().unwrap_or("unknown");
    if !determinations_for(c).contains(&d) {
        return Err(bad(format!(
            "Determination '{d}' is not valid for classification '{c}'."
        )));
    }
    Ok(merged)
}

/// What the shared [`Query`] does not cover: date-time comparisons and `$orderby`.
struct Extra {
    filter: Option<Filter>,
    ranges: Vec<(String, &'static str, String)>,
    order: (String, bool),
}

impl Extra {
    fn matches(&self, v: &Value) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(v))
            && self.ranges.iter().all(|(p, op, lit)| {
                let got = v[p].as_str().unwrap_or_default();
                match *op {
                    "gt" => got > lit.as_str(),
                    "ge" => got >= lit.as_str(),
                    "lt" => got < lit.as_str(),
                    _ => got <= lit.as_str(),
                }
            })
    }
}

const DATE_PROPS: &[&str] = &[
    "createdDateTime",
    "lastUpdateDateTime",
    "firstActivityDateTime",
    "lastActivityDateTime",
    "resolvedDateTime",
];

fn parse_query(req: &GraphRequest, incidents: bool) -> Result<(Query, Extra), Reply> {
    let key = |k: &str| k.trim_start_matches('$').to_ascii_lowercase();
    let rest: Vec<(String, String)> = req
        .query
        .iter()
        .filter(|(k, _)| !matches!(key(k).as_str(), "filter" | "orderby"))
        .cloned()
        .collect();
    let q = Query::parse(&rest)?;
    if incidents && q.top.is_some_and(|n| n > 50) {
        return Err(bad("The limit of 50 for Top query exceeded."));
    }
    if !incidents && q.expands("alerts") {
        return Err(bad(
            "Could not find a property named 'alerts' on type 'microsoft.graph.security.alert'.",
        ));
    }
    let mut extra = Extra {
        filter: None,
        ranges: Vec::new(),
        order: ("lastUpdateDateTime".into(), true),
    };
    for (k, v) in &req.query {
        match key(k).as_str() {
            "filter" => {
                let mut kept = Vec::new();
                for clause in split_and(v) {
                    let words: Vec<&str> = clause.split_whitespace().collect();
                    match words.as_slice() {
                        [p, op @ ("gt" | "ge" | "lt" | "le"), lit] => {
                            let Some(prop) = DATE_PROPS.iter().find(|d| d.eq_ignore_ascii_case(p))
                            else {
                                return Err(bad(format!(
                                    "Invalid filter clause: '{op}' is supported on date-time properties only, not '{p}'."
                                )));
                            };
                            let op: &'static str = match *op {
                                "gt" => "gt",
                                "ge" => "ge",
                                "lt" => "lt",
                                _ => "le",
                            };
                            let lit = lit.trim_matches('\'');
                            if time::OffsetDateTime::parse(
                                lit,
                                &time::format_description::well_known::Rfc3339,
                            )
                            .is_err()
                            {
                                return Err(bad(format!(
                                    "Invalid filter clause: '{lit}' is not a DateTimeOffset."
                                )));
                            }
                            extra.ranges.push((prop.to_string(), op, lit.to_string()));
                        }
                        _ => kept.push(clause),
                    }
                }
                if !kept.is_empty() {
                    let f = Filter::parse(&kept.join(" and "))
                        .map_err(|e| bad(format!("Invalid filter clause: {e}")))?;
                    extra.filter = Some(f);
                }
            }
            "orderby" => {
                let mut w = v.split_whitespace();
                let p = w.next().unwrap_or_default().to_string();
                let desc = match w.next() {
                    None | Some("asc") => false,
                    Some("desc") => true,
                    Some(o) => return Err(bad(format!("Invalid $orderby direction '{o}'."))),
                };
                if p.is_empty() || p.contains(',') {
                    return Err(bad("The emulator supports $orderby on one property."));
                }
                extra.order = (p, desc);
            }
            _ => {}
        }
    }
    Ok((q, extra))
}

/// Splits a filter on top-level ` and ` (outside quotes and parentheses).
fn split_and(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut depth, mut quoted, mut cur) = (0i32, false, String::new());
    let chars: Vec<char> = s.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\'' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        if !quoted && depth == 0 && c == ' ' {
            let rest: String = chars[i..chars.len().min(i + 5)].iter().collect();
            if rest.eq_ignore_ascii_case(" and ") {
                out.push(cur.trim().to_string());
                cur.clear();
                i += 5;
                continue;
            }
        }
        cur.push(c);
        i += 1;
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    // A top-level `or` cannot be split this way; keep the whole expression together then.
    if out.iter().any(|c| c.contains(" or ")) {
        return vec![s.to_string()];
    }
    out
}

fn cmp_values(a: &Value, b: &Value) -> std::cmp::Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(std::cmp::Ordering::Equal),
        _ => a
            .as_str()
            .unwrap_or_default()
            .cmp(b.as_str().unwrap_or_default()),
    }
}

fn cmp_ids(a: &Value, b: &Value) -> std::cmp::Ordering {
    let (a, b) = (
        a.as_str().unwrap_or_default(),
        b.as_str().unwrap_or_default(),
    );
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_is_deterministic_and_linked() {
        let a = seed("00000000-0000-0000-0000-0000000000a1");
        assert_eq!(a, seed("00000000-0000-0000-0000-0000000000a1"));
        assert!((10..=15).contains(&a.incidents.len()));
        for al in a.alerts.values() {
            assert!(a.incidents.contains_key(al["incidentId"].as_str().unwrap()));
        }
        assert_ne!(a, seed("00000000-0000-0000-0000-0000000000a2"));
    }

    #[test]
    fn patch_validates_fields_enums_and_pairs() {
        let s = seed("t");
        let inc = s.incidents.values().next().unwrap();
        let body = |v: Value| v.as_object().unwrap().clone();
        assert!(patch(inc, &body(json!({"status": "resolved", "classification": "truePositive", "determination": "malware"})), true).is_ok());
        assert!(patch(inc, &body(json!({"status": "Resolved"})), true).is_err());
        assert!(patch(inc, &body(json!({"severity": "low"})), true).is_err());
        assert!(
            patch(
                inc,
                &body(json!({"classification": "falsePositive", "determination": "malware"})),
                true
            )
            .is_err()
        );
        assert!(patch(inc, &body(json!({"customTags": "x"})), true).is_err());
        assert!(patch(inc, &body(json!({"customTags": ["x"]})), false).is_err());
    }

    #[test]
    fn and_split_respects_quotes() {
        assert_eq!(
            split_and("status eq 'a and b' and createdDateTime gt 2026-01-01T00:00:00Z"),
            vec![
                "status eq 'a and b'",
                "createdDateTime gt 2026-01-01T00:00:00Z"
            ]
        );
    }
}
