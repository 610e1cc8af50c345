//! Defender XDR incidents and alerts across tenants: listing with filters, and bulk
//! updates computed as data (what changes, from what to what) before anything is written.
//!
//! Follows `graph-api-2.md` §2: `GET /v1.0/security/incidents` (`$top` at most 50, paged by
//! `@odata.nextLink`, `$orderby=lastUpdateDateTime desc`, `$expand=alerts`) and
//! `/v1.0/security/alerts_v2`; `PATCH` with only the documented writable fields (incident:
//! `status`, `classification`, `determination`, `assignedTo`, `customTags`; alert: the same
//! without `customTags`) in the metadata enum spellings; comments through
//! `POST .../{id}/comments` with an `alertComment`.
//!
//! Enum values ([`Status`], [`Severity`], [`Classification`], [`Determination`]) are closed
//! sets, each with its wire spelling in one table; user input is matched case-insensitively
//! and anything else is an error listing the valid values. The classification /
//! determination pairs follow the Defender portal (the non-Graph incident API enforces
//! them; whether Graph does is UNVERIFIED, so they are checked here before any write).
//!
//! Ordering contract: listings are sorted by severity (high first), then last update
//! (newest first), then tenant name, then id, whatever order tenants answered in.

use std::collections::BTreeMap;
use std::num::NonZeroUsize;

use serde_json::{Value, json};

use super::fleet::{Connected, SocPermission, SocTenant, failure, per_tenant};
use super::grid::{Column, Grid, TenantFailure};

/// Incidents or alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entity {
    /// `security/incidents`.
    Incident,
    /// `security/alerts_v2`.
    Alert,
}

impl Entity {
    /// Collection path.
    pub fn path(self) -> &'static str {
        match self {
            Entity::Incident => "/v1.0/security/incidents",
            Entity::Alert => "/v1.0/security/alerts_v2",
        }
    }
    /// The permission to list.
    pub fn read(self) -> SocPermission {
        match self {
            Entity::Incident => SocPermission::IncidentRead,
            Entity::Alert => SocPermission::AlertRead,
        }
    }
    /// The permission to update.
    pub fn write(self) -> SocPermission {
        match self {
            Entity::Incident => SocPermission::IncidentWrite,
            Entity::Alert => SocPermission::AlertWrite,
        }
    }
    /// Singular noun.
    pub fn noun(self) -> &'static str {
        match self {
            Entity::Incident => "incident",
            Entity::Alert => "alert",
        }
    }
    /// The title property.
    fn title(self) -> &'static str {
        match self {
            Entity::Incident => "displayName",
            Entity::Alert => "title",
        }
    }
    /// Statuses a client may filter on and write.
    pub fn statuses(self) -> &'static [&'static str] {
        match self {
            Entity::Incident => &[
                "active",
                "inProgress",
                "resolved",
                "redirected",
                "awaitingAction",
            ],
            Entity::Alert => &["new", "inProgress", "resolved", "unknown"],
        }
    }
}

/// One closed enum as Graph spells it: parse user input case-insensitively.
fn parse_enum(what: &str, input: &str, members: &[&'static str]) -> Result<&'static str, String> {
    let norm = |s: &str| s.replace(['-', '_', ' '], "").to_ascii_lowercase();
    members
        .iter()
        .find(|m| norm(m) == norm(input))
        .copied()
        .ok_or_else(|| format!("unknown {what} `{input}` (one of: {})", members.join(", ")))
}

/// `alertSeverity` members (without `unknownFutureValue`).
pub const SEVERITIES: &[&str] = &["high", "medium", "low", "informational", "unknown"];
/// `alertClassification` members.
pub const CLASSIFICATIONS: &[&str] = &[
    "unknown",
    "truePositive",
    "falsePositive",
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

/// The determinations the Defender portal offers under each classification.
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

fn severity_rank(s: &str) -> u8 {
    match s {
        "high" => 0,
        "medium" => 1,
        "low" => 2,
        "informational" => 3,
        _ => 4,
    }
}

/// Filters, as typed (validated by [`Filters::validate`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// `status eq`.
    pub status: Vec<String>,
    /// `severity eq`.
    pub severity: Vec<String>,
    /// `createdDateTime ge` (RFC 3339, or a date).
    pub since: Option<String>,
    /// `assignedTo eq`.
    pub assigned_to: Option<String>,
    /// `customTags/any(...)` (incidents only).
    pub tag: Option<String>,
    /// `classification eq`.
    pub classification: Vec<String>,
}

impl Filters {
    /// Checks every value and builds the `$filter` text (empty: none). All problems at once.
    pub fn to_odata(&self, entity: Entity) -> Result<String, Vec<String>> {
        let mut errs = Vec::new();
        let mut clauses = Vec::new();
        let q = |s: &str| s.replace('\'', "''");
        let mut any_of = |what: &str,
                          prop: &str,
                          vals: &[String],
                          members: &[&'static str],
                          errs: &mut Vec<String>| {
            let mut ok = Vec::new();
            for v in vals {
                match parse_enum(what, v, members) {
                    Ok(m) => ok.push(format!("{prop} eq '{m}'")),
                    Err(e) => errs.push(e),
                }
            }
            match ok.len() {
                0 => {}
                1 => clauses.push(ok.remove(0)),
                _ => clauses.push(format!("({})", ok.join(" or "))),
            }
        };
        any_of(
            "status",
            "status",
            &self.status,
            entity.statuses(),
            &mut errs,
        );
        any_of(
            "severity",
            "severity",
            &self.severity,
            SEVERITIES,
            &mut errs,
        );
        any_of(
            "classification",
            "classification",
            &self.classification,
            CLASSIFICATIONS,
            &mut errs,
        );
        if let Some(s) = &self.since {
            match since(s) {
                Ok(t) => clauses.push(format!("createdDateTime ge {t}")),
                Err(e) => errs.push(e),
            }
        }
        if let Some(a) = &self.assigned_to {
            clauses.push(format!("assignedTo eq '{}'", q(a)));
        }
        if let Some(t) = &self.tag {
            if entity == Entity::Alert {
                errs.push("alerts have no tags; --tag filters incidents only".into());
            } else {
                clauses.push(format!("customTags/any(t: t eq '{}')", q(t)));
            }
        }
        if errs.is_empty() {
            Ok(clauses.join(" and "))
        } else {
            Err(errs)
        }
    }
}

/// `--since`: an RFC 3339 time or a `YYYY-MM-DD` date (midnight UTC).
fn since(s: &str) -> Result<String, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(t) = time::OffsetDateTime::parse(s, &Rfc3339) {
        return t
            .to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(|e| e.to_string());
    }
    if time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok() {
        return Ok(format!("{s}T00:00:00Z"));
    }
    Err(format!(
        "--since `{s}` is neither a date (2026-09-01) nor an RFC 3339 time"
    ))
}

/// One listed item with its tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Tenant.
    pub tenant: SocTenant,
    /// The entity as Graph sent it.
    pub value: Value,
}

impl Item {
    fn s(&self, k: &str) -> &str {
        self.value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
    /// The id.
    pub fn id(&self) -> &str {
        self.s("id")
    }
}

/// Lists items of every tenant (with `$expand=alerts` for incidents when asked); returns
/// the items sorted by the ordering contract, and the failures.
pub async fn list(
    tenants: Vec<Connected>,
    entity: Entity,
    filter: &str,
    with_alerts: bool,
    parallelism: NonZeroUsize,
) -> (Vec<Item>, Vec<TenantFailure>) {
    let mut url = format!(
        "{}?$top=50&$orderby=lastUpdateDateTime%20desc",
        entity.path()
    );
    if !filter.is_empty() {
        url.push_str("&$filter=");
        url.push_str(&crate::graph::client::percent_encode_query(filter));
    }
    if with_alerts && entity == Entity::Incident {
        url.push_str("&$expand=alerts");
    }
    let results = per_tenant(tenants, parallelism, move |t, c| {
        let url = url.clone();
        async move {
            c.get_all(&url)
                .await
                .map_err(|e| failure(&t, &e, entity.read()))
        }
    })
    .await;
    let mut items = Vec::new();
    let mut failures = Vec::new();
    for (t, r) in results {
        match r {
            Ok(vals) => items.extend(vals.into_iter().map(|value| Item {
                tenant: t.clone(),
                value,
            })),
            Err(f) => failures.push(f),
        }
    }
    sort(&mut items);
    failures.sort_by(|a, b| a.tenant.cmp(&b.tenant));
    (items, failures)
}

/// Sorts by severity, newest update, tenant, id.
pub fn sort(items: &mut [Item]) {
    items.sort_by(|a, b| {
        severity_rank(a.s("severity"))
            .cmp(&severity_rank(b.s("severity")))
            .then_with(|| b.s("lastUpdateDateTime").cmp(a.s("lastUpdateDateTime")))
            .then_with(|| a.tenant.cmp(&b.tenant))
            .then_with(|| a.id().len().cmp(&b.id().len()))
            .then_with(|| a.id().cmp(b.id()))
    });
}

/// The listing as a grid.
pub fn grid(
    entity: Entity,
    items: &[Item],
    failures: Vec<TenantFailure>,
    with_alerts: bool,
) -> Grid {
    let mut columns: Vec<Column> = [
        "Tenant",
        "TenantId",
        "Id",
        "Severity",
        "Status",
        "Title",
        "AssignedTo",
        "Classification",
        "Determination",
    ]
    .iter()
    .map(|c| Column::new(*c, "String"))
    .collect();
    if entity == Entity::Incident {
        columns.push(Column::new("Tags", "String"));
    } else {
        columns.push(Column::new("IncidentId", "String"));
        columns.push(Column::new("ServiceSource", "String"));
    }
    columns.push(Column::new("Created", "DateTime"));
    columns.push(Column::new("LastUpdate", "DateTime"));
    let alerts_too = with_alerts && entity == Entity::Incident;
    if alerts_too {
        columns.push(Column::new("Alerts", "Dynamic"));
    }
    let rows = items
        .iter()
        .map(|i| {
            let v = &i.value;
            let mut r = vec![
                json!(i.tenant.name), json!(i.tenant.id), v["id"].clone(), v["severity"].clone(),
                v["status"].clone(), v[entity.title()].clone(), v["assignedTo"].clone(),
                v["classification"].clone(), v["determination"].clone(),
            ];
            if entity == Entity::Incident {
                let tags: Vec<String> = v["customTags"].as_array().map(|a| a.iter().filter_map(Value::as_str).map(str::to_string).collect()).unwrap_or_default();
                r.push(json!(tags.join(",")));
            } else {
                r.push(v["incidentId"].clone());
                r.push(v["serviceSource"].clone());
            }
            r.push(v["createdDateTime"].clone());
            r.push(v["lastUpdateDateTime"].clone());
            if alerts_too {
                let alerts: Vec<Value> = v["alerts"].as_array().map(|a| a.iter().map(|al| json!({
                    "id": al["id"], "title": al["title"], "severity": al["severity"], "status": al["status"],
                })).collect()).unwrap_or_default();
                r.push(Value::Array(alerts));
            }
            r
        })
        .collect();
    Grid {
        columns,
        rows,
        failures,
        notes: vec![],
    }
}

/// The fields an update writes, validated and in wire spelling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// `status`.
    pub status: Option<&'static str>,
    /// `classification`.
    pub classification: Option<&'static str>,
    /// `determination`.
    pub determination: Option<&'static str>,
    /// `assignedTo`.
    pub assigned_to: Option<String>,
    /// `customTags` (whole-array replace; incidents only).
    pub tags: Option<Vec<String>>,
    /// A comment to add.
    pub comment: Option<String>,
}

/// The update as typed on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeInput {
    /// `--status`.
    pub status: Option<String>,
    /// `--classification`.
    pub classification: Option<String>,
    /// `--determination`.
    pub determination: Option<String>,
    /// `--assign-to`.
    pub assigned_to: Option<String>,
    /// `--tags` (comma-separated; empty clears).
    pub tags: Option<String>,
    /// `--comment`.
    pub comment: Option<String>,
}

impl ChangeInput {
    /// Validates values, spellings and the classification/determination pair. All
    /// problems at once.
    pub fn validate(&self, entity: Entity) -> Result<Changes, Vec<String>> {
        let mut errs = Vec::new();
        let mut out = Changes::default();
        let one = |what: &str,
                   v: &Option<String>,
                   members: &[&'static str],
                   errs: &mut Vec<String>|
         -> Option<&'static str> {
            v.as_ref()
                .and_then(|v| parse_enum(what, v, members).map_err(|e| errs.push(e)).ok())
        };
        out.status = one("status", &self.status, entity.statuses(), &mut errs);
        out.classification = one(
            "classification",
            &self.classification,
            CLASSIFICATIONS,
            &mut errs,
        );
        out.determination = one(
            "determination",
            &self.determination,
            DETERMINATIONS,
            &mut errs,
        );
        if let (Some(c), Some(d)) = (out.classification, out.determination)
            && !determinations_for(c).contains(&d)
        {
            errs.push(format!(
                "determination `{d}` cannot go with classification `{c}` (with {c}: {})",
                determinations_for(c).join(", ")
            ));
        }
        out.assigned_to = self.assigned_to.clone();
        if let Some(t) = &self.tags {
            if entity == Entity::Alert {
                errs.push("alerts have no tags; --tags updates incidents only".into());
            } else {
                out.tags = Some(
                    t.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_string)
                        .collect(),
                );
            }
        }
        if let Some(c) = &self.comment
            && c.trim().is_empty()
        {
            errs.push("--comment is empty".into());
        }
        out.comment = self.comment.clone();
        if out == Changes::default() {
            errs.push("nothing to change: give --status, --classification, --determination, --assign-to, --tags or --comment".into());
        }
        if errs.is_empty() { Ok(out) } else { Err(errs) }
    }
}

/// One field that will change.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// Property name.
    pub field: &'static str,
    /// Current value.
    pub before: Value,
    /// New value.
    pub after: Value,
}

/// One item to update: the PATCH body and a comment, computed from desired vs observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    /// The item as listed.
    pub item: Item,
    /// Fields that differ.
    pub fields: Vec<FieldChange>,
    /// Comment to add.
    pub comment: Option<String>,
}

/// Computes the updates for `items`: only fields that differ; an item with nothing to
/// change is left out. Errors when a pair would become invalid for an item (for example a
/// determination given alone that does not fit the item's classification).
pub fn updates(items: &[Item], changes: &Changes) -> Result<Vec<Update>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for i in items {
        let v = &i.value;
        let mut fields = Vec::new();
        let mut want = |field: &'static str, after: Value| {
            if v[field] != after {
                fields.push(FieldChange {
                    field,
                    before: v[field].clone(),
                    after,
                });
            }
        };
        if let Some(s) = changes.status {
            want("status", json!(s));
        }
        if let Some(c) = changes.classification {
            want("classification", json!(c));
        }
        if let Some(d) = changes.determination {
            want("determination", json!(d));
        }
        if let Some(a) = &changes.assigned_to {
            want("assignedTo", json!(a));
        }
        if let Some(t) = &changes.tags {
            want("customTags", json!(t));
        }
        let c = changes
            .classification
            .unwrap_or_else(|| v["classification"].as_str().unwrap_or("unknown"));
        let d = changes
            .determination
            .unwrap_or_else(|| v["determination"].as_str().unwrap_or("unknown"));
        let c_ok = CLASSIFICATIONS
            .iter()
            .find(|m| **m == c)
            .copied()
            .unwrap_or("unknown");
        if !determinations_for(c_ok).contains(&d) {
            // Changing the classification alone resets a determination that no longer fits.
            if changes.determination.is_none() && changes.classification.is_some() {
                fields.push(FieldChange {
                    field: "determination",
                    before: json!(d),
                    after: json!("unknown"),
                });
            } else {
                errs.push(format!(
                    "{}/{}: determination `{d}` cannot go with classification `{c}`",
                    i.tenant.name,
                    i.id()
                ));
                continue;
            }
        }
        if !fields.is_empty() || changes.comment.is_some() {
            out.push(Update {
                item: i.clone(),
                fields,
                comment: changes.comment.clone(),
            });
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// Picks the items named by `ids` (`ID` or `TENANT/ID`, tenant by name or id). Errors: an
/// id in none of the selected tenants, or (unqualified) in several.
pub fn pick(items: &[Item], ids: &[String]) -> Result<Vec<Item>, Vec<String>> {
    let mut out = Vec::new();
    let mut errs = Vec::new();
    for raw in ids {
        let (tenant, id) = match raw.rsplit_once('/') {
            Some((t, i)) => (Some(t), i),
            None => (None, raw.as_str()),
        };
        let hits: Vec<&Item> = items
            .iter()
            .filter(|i| i.id() == id)
            .filter(|i| {
                tenant.is_none_or(|t| i.tenant.name == t || i.tenant.id.eq_ignore_ascii_case(t))
            })
            .collect();
        match hits.as_slice() {
            [] => errs.push(format!("`{raw}` is not an id in the selected tenants")),
            [one] => {
                if !out
                    .iter()
                    .any(|o: &Item| o.tenant == one.tenant && o.id() == one.id())
                {
                    out.push((*one).clone());
                }
            }
            many => errs.push(format!(
                "`{raw}` is in several tenants ({}); write it as TENANT/ID",
                many.iter()
                    .map(|i| i.tenant.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }
    if errs.is_empty() { Ok(out) } else { Err(errs) }
}

/// The pending updates as a grid (Tenant, TenantId, Id, Title, Changes).
pub fn plan_grid(entity: Entity, updates: &[Update]) -> Grid {
    let columns = ["Tenant", "TenantId", "Id", "Title", "Changes"]
        .iter()
        .map(|c| Column::new(*c, "String"))
        .collect();
    let rows = updates
        .iter()
        .map(|u| {
            let mut parts: Vec<String> = u
                .fields
                .iter()
                .map(|f| format!("{}: {} -> {}", f.field, show(&f.before), show(&f.after)))
                .collect();
            if let Some(c) = &u.comment {
                parts.push(format!("+ comment \"{c}\""));
            }
            vec![
                json!(u.item.tenant.name),
                json!(u.item.tenant.id),
                json!(u.item.id()),
                u.item.value[entity.title()].clone(),
                json!(parts.join("; ")),
            ]
        })
        .collect();
    Grid {
        columns,
        rows,
        failures: vec![],
        notes: vec![],
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The sentence closing a plan: `3 incident(s) to update in 2 tenant(s).`
pub fn plan_sentence(entity: Entity, updates: &[Update]) -> String {
    let tenants: std::collections::BTreeSet<&str> =
        updates.iter().map(|u| u.item.tenant.id.as_str()).collect();
    format!(
        "{} {}(s) to update in {} tenant(s).",
        updates.len(),
        entity.noun(),
        tenants.len()
    )
}

/// Writes the updates, tenants in parallel, items of one tenant one after another; one
/// tenant's (or item's) failure does not stop the others. Returns a result grid
/// (Tenant, TenantId, Id, Result) and the number of items written.
pub async fn apply(
    tenants: Vec<Connected>,
    entity: Entity,
    updates: Vec<Update>,
    parallelism: NonZeroUsize,
) -> Grid {
    let mut by_tenant: BTreeMap<String, Vec<Update>> = BTreeMap::new();
    for u in updates {
        by_tenant
            .entry(u.item.tenant.id.clone())
            .or_default()
            .push(u);
    }
    let by_tenant = std::sync::Arc::new(by_tenant);
    let todo: Vec<Connected> = tenants
        .into_iter()
        .filter(|(t, _)| by_tenant.contains_key(&t.id))
        .collect();
    let work = by_tenant.clone();
    let results = per_tenant(todo, parallelism, move |t, c| {
        let items = work.get(&t.id).cloned().unwrap_or_default();
        async move {
            let mut rows = Vec::new();
            for u in items {
                let url = format!("{}/{}", entity.path(), crate::graph::client::percent_encode_query(u.item.id()));
                // Err((result label, message)): a written PATCH whose comment failed is
                // reported as such, never as "failed" (the fields did change).
                let mut outcome: Result<(), (&'static str, String)> = Ok(());
                if !u.fields.is_empty() {
                    let body: serde_json::Map<String, Value> = u.fields.iter().map(|f| (f.field.to_string(), f.after.clone())).collect();
                    if let Err(e) = c.patch(&url, &Value::Object(body)).await {
                        outcome = Err(("failed", failure(&t, &e, entity.write()).message));
                    }
                }
                if outcome.is_ok()
                    && let Some(text) = &u.comment
                {
                    let body = json!({"@odata.type": "microsoft.graph.security.alertComment", "comment": text});
                    if let Err(e) = c.post(&format!("{url}/comments"), &body).await {
                        let label = if u.fields.is_empty() {
                            "failed"
                        } else {
                            "updated; comment failed"
                        };
                        outcome = Err((label, failure(&t, &e, entity.write()).message));
                    }
                }
                rows.push((u.item.id().to_string(), outcome));
            }
            Ok::<_, TenantFailure>(rows)
        }
    })
    .await;
    let mut grid = Grid {
        columns: ["Tenant", "TenantId", "Id", "Result"]
            .iter()
            .map(|c| Column::new(*c, "String"))
            .collect(),
        ..Grid::default()
    };
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (t, r) in results {
        match r {
            Ok(rows) => {
                let mut failed = Vec::new();
                for (id, o) in rows {
                    let res = match &o {
                        Ok(()) => "updated".to_string(),
                        Err((label, m)) => {
                            failed.push(format!("{id}: {m}"));
                            label.to_string()
                        }
                    };
                    grid.rows
                        .push(vec![json!(t.name), json!(t.id), json!(id), json!(res)]);
                }
                if !failed.is_empty() {
                    grid.failures.push(TenantFailure {
                        tenant: t.name.clone(),
                        tenant_id: t.id.clone(),
                        missing_permission: None,
                        message: failed.join("; "),
                    });
                }
            }
            Err(f) => grid.failures.push(f),
        }
    }
    grid
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(t: &str, id: &str, v: Value) -> Item {
        let mut v = v;
        v["id"] = json!(id);
        Item {
            tenant: SocTenant {
                name: t.into(),
                id: format!("id-{t}"),
            },
            value: v,
        }
    }

    #[test]
    fn filters_build_odata_and_refuse_unknown_values() {
        let f = Filters {
            status: vec!["Active".into()],
            severity: vec!["high".into(), "MEDIUM".into()],
            since: Some("2026-09-01".into()),
            tag: Some("o'k".into()),
            ..Filters::default()
        };
        assert_eq!(
            f.to_odata(Entity::Incident).unwrap(),
            "status eq 'active' and (severity eq 'high' or severity eq 'medium') and createdDateTime ge 2026-09-01T00:00:00Z and customTags/any(t: t eq 'o''k')"
        );
        let bad = Filters {
            status: vec!["open".into()],
            severity: vec!["critical".into()],
            since: Some("yesterday".into()),
            ..Filters::default()
        };
        assert_eq!(bad.to_odata(Entity::Incident).unwrap_err().len(), 3);
        let alert_status = Filters {
            status: vec!["active".into()],
            ..Filters::default()
        };
        assert!(alert_status.to_odata(Entity::Alert).is_err());
    }

    #[test]
    fn changes_validate_pairs_and_spellings() {
        let ok = ChangeInput {
            status: Some("resolved".into()),
            classification: Some("TruePositive".into()),
            determination: Some("malware".into()),
            ..ChangeInput::default()
        };
        let c = ok.validate(Entity::Incident).unwrap();
        assert_eq!(
            (c.classification, c.determination),
            (Some("truePositive"), Some("malware"))
        );
        let pair = ChangeInput {
            classification: Some("falsePositive".into()),
            determination: Some("malware".into()),
            ..ChangeInput::default()
        };
        assert!(pair.validate(Entity::Incident).unwrap_err()[0].contains("cannot go with"));
        assert!(ChangeInput::default().validate(Entity::Incident).is_err());
        let tags = ChangeInput {
            tags: Some("a".into()),
            ..ChangeInput::default()
        };
        assert!(tags.validate(Entity::Alert).is_err());
    }

    #[test]
    fn updates_hold_only_differences_and_check_pairs_per_item() {
        let items = vec![
            item(
                "a",
                "1",
                json!({"status": "active", "classification": "unknown", "determination": "unknown"}),
            ),
            item(
                "a",
                "2",
                json!({"status": "resolved", "classification": "unknown", "determination": "unknown"}),
            ),
        ];
        let c = Changes {
            status: Some("resolved"),
            ..Changes::default()
        };
        let u = updates(&items, &c).unwrap();
        assert_eq!(u.len(), 1);
        assert_eq!(u[0].fields[0].field, "status");
        let tp = vec![item(
            "a",
            "3",
            json!({"classification": "truePositive", "determination": "malware"}),
        )];
        let only_det = Changes {
            determination: Some("notMalicious"),
            ..Changes::default()
        };
        assert!(updates(&tp, &only_det).is_err());
        let only_class = Changes {
            classification: Some("falsePositive"),
            ..Changes::default()
        };
        let u = updates(&tp, &only_class).unwrap();
        assert_eq!(u[0].fields.len(), 2);
    }

    #[test]
    fn ids_resolve_within_selected_tenants() {
        let items = vec![
            item("a", "1", json!({})),
            item("b", "1", json!({})),
            item("b", "2", json!({})),
        ];
        assert_eq!(pick(&items, &["2".into()]).unwrap()[0].tenant.name, "b");
        assert!(pick(&items, &["1".into()]).unwrap_err()[0].contains("several tenants"));
        assert_eq!(pick(&items, &["a/1".into()]).unwrap().len(), 1);
        assert!(pick(&items, &["9".into(), "c/1".into()]).unwrap_err().len() == 2);
    }

    #[test]
    fn listing_order_is_severity_then_newest() {
        let mut items = vec![
            item(
                "b",
                "1",
                json!({"severity": "low", "lastUpdateDateTime": "2026-09-03T00:00:00Z"}),
            ),
            item(
                "a",
                "2",
                json!({"severity": "high", "lastUpdateDateTime": "2026-09-01T00:00:00Z"}),
            ),
            item(
                "c",
                "3",
                json!({"severity": "high", "lastUpdateDateTime": "2026-09-02T00:00:00Z"}),
            ),
        ];
        sort(&mut items);
        let ids: Vec<&str> = items.iter().map(Item::id).collect();
        assert_eq!(ids, ["3", "2", "1"]);
    }
}
