//! The router: maps a Graph URL and verb to a surface's operation, checks the caller's
//! application permissions, injects operation faults (429/503, out-of-band edits, Intune's
//! write limit), calls the surface's handler under the tenant's lock, persists a changed
//! tenant and logs the request. `$batch` sub-requests go through the same [`dispatch`], so
//! each one is routed, permission-checked, throttled and logged on its own, as Graph does
//! (`graph-api.md` §4.3).
//!
//! It owns routing only: request and reply types live below it in [`crate::wire`], and each
//! Graph surface's handlers and validation live in [`crate::surfaces`]. Unknown segments and
//! verbs get Graph's own 400 answers ("Resource not found for the segment", "No OData route
//! exists").

use crate::faults::{OperationFault, operation_faults};
use crate::state::{Emulator, RequestRecord, lock};
use crate::surfaces;
use crate::token::Claims;
use crate::wire::{Call, Ctx, GraphRequest, Query, Reply, encode_query, finish};
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The permission family a route belongs to, with the application roles that allow reading
/// and writing (a write role always allows reading too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Perm {
    /// Intune configuration (`DeviceManagementConfiguration.*`).
    IntuneConfig,
    /// Intune RBAC (`DeviceManagementRBAC.*`).
    IntuneRbac,
    /// Defender custom detections (`CustomDetection.*`).
    Detection,
    /// Defender XDR unified RBAC (`RoleManagement.*.Defender`).
    DefenderRbac,
    /// Entra directory roles (`RoleManagement.*.Directory`).
    DirectoryRoles,
    /// Intune role scope tags (readable and writable with either Intune configuration or
    /// Intune RBAC roles, per `intune-rbac-rolescopetag-*`).
    ScopeTags,
    /// Groups.
    Groups,
    /// Organization.
    Organization,
    /// Advanced hunting (`ThreatHunting.Read.All`; read-only, although the call is a POST).
    Hunting,
    /// Defender XDR incidents (`SecurityIncident.*`).
    Incidents,
    /// Defender XDR alerts v2 (`SecurityAlert.*`).
    Alerts,
}

impl Perm {
    fn roles(self, write: bool) -> &'static [&'static str] {
        match (self, write) {
            (Perm::IntuneConfig, false) => &[
                "DeviceManagementConfiguration.Read.All",
                "DeviceManagementConfiguration.ReadWrite.All",
            ],
            (Perm::IntuneConfig, true) => &["DeviceManagementConfiguration.ReadWrite.All"],
            (Perm::IntuneRbac, false) => &[
                "DeviceManagementRBAC.Read.All",
                "DeviceManagementRBAC.ReadWrite.All",
            ],
            (Perm::IntuneRbac, true) => &["DeviceManagementRBAC.ReadWrite.All"],
            (Perm::Detection, false) => {
                &["CustomDetection.Read.All", "CustomDetection.ReadWrite.All"]
            }
            (Perm::Detection, true) => &["CustomDetection.ReadWrite.All"],
            (Perm::DefenderRbac, false) => &[
                "RoleManagement.Read.Defender",
                "RoleManagement.ReadWrite.Defender",
            ],
            (Perm::DefenderRbac, true) => &["RoleManagement.ReadWrite.Defender"],
            (Perm::DirectoryRoles, false) => &[
                "RoleManagement.Read.Directory",
                "RoleManagement.ReadWrite.Directory",
                "RoleManagement.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (Perm::DirectoryRoles, true) => &["RoleManagement.ReadWrite.Directory"],
            (Perm::ScopeTags, false) => &[
                "DeviceManagementConfiguration.Read.All",
                "DeviceManagementConfiguration.ReadWrite.All",
                "DeviceManagementRBAC.Read.All",
                "DeviceManagementRBAC.ReadWrite.All",
            ],
            (Perm::ScopeTags, true) => &[
                "DeviceManagementConfiguration.ReadWrite.All",
                "DeviceManagementRBAC.ReadWrite.All",
            ],
            (Perm::Groups, false) => &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "GroupMember.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (Perm::Groups, true) => &[
                "Group.Create",
                "Group.ReadWrite.All",
                "Directory.ReadWrite.All",
            ],
            (Perm::Organization, false) => &[
                "Organization.Read.All",
                "Organization.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "User.Read.All",
            ],
            (Perm::Organization, true) => &["Organization.ReadWrite.All"],
            (Perm::Hunting, _) => &["ThreatHunting.Read.All"],
            (Perm::Incidents, false) => &[
                "SecurityIncident.Read.All",
                "SecurityIncident.ReadWrite.All",
            ],
            (Perm::Incidents, true) => &["SecurityIncident.ReadWrite.All"],
            (Perm::Alerts, false) => &["SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"],
            (Perm::Alerts, true) => &["SecurityAlert.ReadWrite.All"],
        }
    }

    fn is_directory(self) -> bool {
        matches!(
            self,
            Perm::DirectoryRoles | Perm::Groups | Perm::Organization
        )
    }
}

/// A resolved route: template (for logs/counters), permission, and the operation.
#[derive(Debug, Clone)]
pub struct Route {
    /// Template such as `beta/deviceManagement/configurationPolicies/{id}`.
    pub template: String,
    /// Permission family.
    pub perm: Perm,
    /// Whether the request writes.
    pub write: bool,
    /// Whether Intune's write limit applies.
    pub write_limited: bool,
    /// Captured ids.
    pub ids: Vec<String>,
    /// Operation name (handler key).
    pub op: &'static str,
}

/// Splits a path into segments, decoding `('id')` key syntax into a plain segment.
/// Graph's URL segments (entity sets, navigation properties, actions) are matched
/// case-insensitively; this maps any casing to the canonical one.
const SEGMENT_NAMES: &[&str] = &[
    "deviceManagement",
    "configurationPolicies",
    "configurationPolicyTemplates",
    "settingTemplates",
    "settings",
    "assignments",
    "assign",
    "roleDefinitions",
    "roleAssignments",
    "roleDefinition",
    "roleScopeTags",
    "assignmentFilters",
    "security",
    "rules",
    "detectionRules",
    "roleManagement",
    "defender",
    "directory",
    "groups",
    "organization",
    "incidents",
    "alerts_v2",
    "runHuntingQuery",
    "comments",
];

fn canonical(seg: &str) -> String {
    SEGMENT_NAMES
        .iter()
        .find(|n| n.eq_ignore_ascii_case(seg))
        .map_or_else(|| seg.to_string(), |n| n.to_string())
}

fn segments(path: &str) -> Vec<String> {
    let mut out = Vec::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        if let Some(open) = seg.find('(').filter(|_| seg.ends_with(')')) {
            let (name, key) = seg.split_at(open);
            out.push(canonical(name));
            let key = key.trim_start_matches('(').trim_end_matches(')');
            let key = key.strip_prefix("id=").unwrap_or(key);
            out.push(key.trim_matches('\'').to_string());
        } else if out.is_empty() || !is_key_position(&out) {
            out.push(canonical(seg));
        } else {
            out.push(seg.to_string());
        }
    }
    out
}

/// Whether the next segment is a key (an id) rather than a name: after a collection.
fn is_key_position(prev: &[String]) -> bool {
    matches!(
        prev.last().map(String::as_str),
        Some(
            "configurationPolicies"
                | "configurationPolicyTemplates"
                | "settings"
                | "roleDefinitions"
                | "roleAssignments"
                | "roleScopeTags"
                | "assignmentFilters"
                | "detectionRules"
                | "groups"
                | "organization"
        )
    )
}

/// The operation names of a collection's plain verbs: `list` (`GET {set}`), `create`
/// (`POST {set}`), and `get`, `put`, `patch`, `delete` on `{set}/{id}`; `None` where the
/// surface does not serve that verb.
#[derive(Default)]
struct Verbs {
    list: Option<&'static str>,
    create: Option<&'static str>,
    get: Option<&'static str>,
    put: Option<&'static str>,
    patch: Option<&'static str>,
    delete: Option<&'static str>,
}

/// The [`Verbs`] of a collection served with list, create, get, patch and delete, named
/// `{surface}.{verb}` (`crud!("filter")` gives `filter.list`, ..., `filter.delete`).
macro_rules! crud {
    ($surface:literal) => {
        Verbs {
            list: Some(concat!($surface, ".list")),
            create: Some(concat!($surface, ".create")),
            get: Some(concat!($surface, ".get")),
            put: None,
            patch: Some(concat!($surface, ".patch")),
            delete: Some(concat!($surface, ".delete")),
        }
    };
}

/// Routes a request. Errors are Graph's answers for unknown segments and verbs.
pub fn resolve(version: &str, method: &str, path: &str) -> Result<Route, Reply> {
    let segs = segments(path);
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let beta = version == "beta";
    let mk =
        |tpl: &str, perm: Perm, write: bool, limited: bool, ids: Vec<&str>, op: &'static str| {
            Route {
                template: format!("{version}/{tpl}"),
                perm,
                write,
                write_limited: limited && write,
                ids: ids.into_iter().map(str::to_string).collect(),
                op,
            }
        };
    let not_found =
        |seg: &str| Reply::bad_request(format!("Resource not found for the segment '{seg}'."));
    let no_verb = || {
        Reply::bad_request(format!(
            "No OData route exists that match template ~/{path} with http verb {method} for request /{version}/{path}."
        ))
    };
    let m = method;
    use Perm::*;
    // The plain verbs of a collection (`GET|POST {t}`, `GET|PUT|PATCH|DELETE {t}/{id}`),
    // each served where `v` names an operation for it; an arm falls back to its own match
    // for the rest (sub-resources, and Graph's errors for unknown segments and verbs).
    let plain = |t: &str, perm: Perm, limited: bool, rest: &[&str], v: &Verbs| {
        let (op, id) = match (rest, m) {
            ([], "GET") => (v.list, None),
            ([], "POST") => (v.create, None),
            ([id], "GET") => (v.get, Some(*id)),
            ([id], "PUT") => (v.put, Some(*id)),
            ([id], "PATCH") => (v.patch, Some(*id)),
            ([id], "DELETE") => (v.delete, Some(*id)),
            _ => return None,
        };
        let write = m != "GET";
        Some(match id {
            None => mk(t, perm, write, limited, vec![], op?),
            Some(id) => mk(&format!("{t}/{{id}}"), perm, write, limited, vec![id], op?),
        })
    };
    let plain_only = |r: Option<Route>, rest: &[&str]| match (r, rest) {
        (Some(r), _) => Ok(r),
        (None, [_, seg, ..]) => Err(not_found(seg)),
        (None, _) => Err(no_verb()),
    };
    let r = match s.as_slice() {
        ["deviceManagement", "configurationPolicies", rest @ ..] => {
            if !beta {
                return Err(not_found("configurationPolicies"));
            }
            let t = "deviceManagement/configurationPolicies";
            let verbs = Verbs {
                put: Some("policy.put"),
                ..crud!("policy")
            };
            if let Some(r) = plain(t, IntuneConfig, true, rest, &verbs) {
                return Ok(r);
            }
            let sub = |tpl: &str, write: bool, ids: Vec<&str>, op: &'static str| {
                mk(
                    &format!("{t}/{{id}}/{tpl}"),
                    IntuneConfig,
                    write,
                    true,
                    ids,
                    op,
                )
            };
            match (rest, m) {
                ([id, "settings"], "GET") => sub("settings", false, vec![id], "policy.settings"),
                ([id, "settings", sid], "GET") => {
                    sub("settings/{id}", false, vec![id, sid], "policy.setting")
                }
                ([id, "assignments"], "GET") => {
                    sub("assignments", false, vec![id], "policy.assignments")
                }
                ([id, "assign"], "POST") => sub("assign", true, vec![id], "policy.assign"),
                ([_], _)
                | ([], _)
                | ([_, "settings" | "assignments" | "assign"], _)
                | ([_, "settings", _], _) => {
                    return Err(no_verb());
                }
                ([_, seg, ..], _) => return Err(not_found(seg)),
            }
        }
        [
            "deviceManagement",
            "configurationPolicyTemplates",
            rest @ ..,
        ] => {
            if !beta {
                return Err(not_found("configurationPolicyTemplates"));
            }
            let t = "deviceManagement/configurationPolicyTemplates";
            let verbs = Verbs {
                list: Some("template.list"),
                get: Some("template.get"),
                ..Verbs::default()
            };
            if let Some(r) = plain(t, IntuneConfig, false, rest, &verbs) {
                return Ok(r);
            }
            match (rest, m) {
                ([id, "settingTemplates"], "GET") => mk(
                    &format!("{t}/{{id}}/settingTemplates"),
                    IntuneConfig,
                    false,
                    false,
                    vec![id],
                    "template.settingTemplates",
                ),
                ([_, seg, ..], "GET") if *seg != "settingTemplates" => return Err(not_found(seg)),
                _ => return Err(no_verb()),
            }
        }
        [
            "deviceManagement",
            coll @ ("roleDefinitions" | "roleAssignments"),
            rest @ ..,
        ] => {
            let t = format!("deviceManagement/{coll}");
            let defs = *coll == "roleDefinitions";
            let verbs = if defs {
                crud!("intuneDef")
            } else {
                crud!("intuneAsg")
            };
            if let Some(r) = plain(&t, IntuneRbac, true, rest, &verbs) {
                return Ok(r);
            }
            match (rest, m) {
                ([id, "roleDefinition"], "GET") if !defs => mk(
                    &format!("{t}/{{id}}/roleDefinition"),
                    IntuneRbac,
                    false,
                    true,
                    vec![id],
                    "intuneAsg.roleDefinition",
                ),
                ([id, "roleAssignments"], "GET") if defs => mk(
                    &format!("{t}/{{id}}/roleAssignments"),
                    IntuneRbac,
                    false,
                    true,
                    vec![id],
                    "intuneDef.roleAssignments",
                ),
                ([_, seg, ..], _)
                    if (defs && *seg != "roleAssignments")
                        || (!defs && *seg != "roleDefinition") =>
                {
                    return Err(not_found(seg));
                }
                _ => return Err(no_verb()),
            }
        }
        [
            "deviceManagement",
            coll @ ("roleScopeTags" | "assignmentFilters"),
            rest @ ..,
        ] => {
            if !beta {
                return Err(not_found(coll));
            }
            let t = format!("deviceManagement/{coll}");
            let (perm, verbs) = if *coll == "roleScopeTags" {
                (ScopeTags, crud!("scopeTag"))
            } else {
                (IntuneConfig, crud!("filter"))
            };
            return plain_only(plain(&t, perm, true, rest, &verbs), rest);
        }
        ["deviceManagement", seg, ..] => return Err(not_found(seg)),
        ["security", "rules", "detectionRules", rest @ ..] => {
            if !beta {
                return Err(not_found("rules"));
            }
            let t = "security/rules/detectionRules";
            return plain_only(plain(t, Detection, false, rest, &crud!("rule")), rest);
        }
        ["security", "runHuntingQuery"] => match m {
            "POST" => mk(
                "security/runHuntingQuery",
                Hunting,
                false,
                false,
                vec![],
                "soc.hunt",
            ),
            _ => return Err(no_verb()),
        },
        ["security", coll @ ("incidents" | "alerts_v2"), rest @ ..] => {
            let (tpl, write, ids, op) = surfaces::security::route(coll, rest, m)?;
            let perm = if *coll == "incidents" {
                Incidents
            } else {
                Alerts
            };
            let ids = ids.iter().map(String::as_str).collect();
            mk(&tpl, perm, write, false, ids, op)
        }
        ["security", seg, ..] => return Err(not_found(seg)),
        [
            "roleManagement",
            "defender",
            coll @ ("roleDefinitions" | "roleAssignments"),
            rest @ ..,
        ] => {
            if !beta {
                return Err(not_found("defender"));
            }
            let t = format!("roleManagement/defender/{coll}");
            let verbs = if *coll == "roleDefinitions" {
                crud!("defenderDef")
            } else {
                crud!("defenderAsg")
            };
            return plain_only(plain(&t, DefenderRbac, false, rest, &verbs), rest);
        }
        [
            "roleManagement",
            "directory",
            coll @ ("roleDefinitions" | "roleAssignments"),
            rest @ ..,
        ] => {
            let t = format!("roleManagement/directory/{coll}");
            // Entra's built-in definitions are read-only here; assignments have no PATCH.
            let verbs = if *coll == "roleDefinitions" {
                Verbs {
                    list: Some("dirDef.list"),
                    get: Some("dirDef.get"),
                    ..Verbs::default()
                }
            } else {
                Verbs {
                    patch: None,
                    ..crud!("dirAsg")
                }
            };
            return plain_only(plain(&t, DirectoryRoles, false, rest, &verbs), rest);
        }
        ["roleManagement", _, seg, ..] => return Err(not_found(seg)),
        ["roleManagement", seg] => return Err(not_found(seg)),
        ["groups", rest @ ..] => {
            let verbs = Verbs {
                patch: None,
                delete: None,
                ..crud!("group")
            };
            return plain_only(plain("groups", Groups, false, rest, &verbs), rest);
        }
        ["organization", rest @ ..] => {
            let verbs = Verbs {
                list: Some("org.list"),
                get: Some("org.get"),
                ..Verbs::default()
            };
            return plain_only(
                plain("organization", Organization, false, rest, &verbs),
                rest,
            );
        }
        [seg, ..] => return Err(not_found(seg)),
        [] => return Err(not_found(version)),
    };
    Ok(r)
}

/// Every (method, route template) the router serves, such as
/// `("PATCH", "beta/deviceManagement/roleDefinitions/{id}")`, sorted. Derived by probing
/// [`resolve`] itself (not kept by hand), so a route added to the router appears here and
/// the README's route table test notices it: paths are grown segment by segment from the
/// URL names the router knows plus an id, and a branch longer than two segments is
/// abandoned unless some verb is served at it or the router calls it a known path without
/// that verb.
pub fn route_table() -> Vec<(String, String)> {
    const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
    let mut alphabet: Vec<&str> = SEGMENT_NAMES.to_vec();
    alphabet.push("{id}");
    let mut out = BTreeSet::new();
    for version in ["beta", "v1.0"] {
        let mut frontier: Vec<Vec<&str>> = vec![vec![]];
        for _depth in 0..6 {
            let mut next = Vec::new();
            for prefix in &frontier {
                for seg in &alphabet {
                    let mut path = prefix.clone();
                    path.push(seg);
                    let joined = path.join("/");
                    let mut live = false;
                    for m in METHODS {
                        match resolve(version, m, &joined) {
                            Ok(r) => {
                                out.insert((m.to_string(), r.template));
                                live = true;
                            }
                            Err(e) => {
                                // "No OData route exists" means the path is known but not
                                // with this verb: something may be served below it.
                                let no_verb = e.body.as_ref().is_some_and(|b| {
                                    b["error"]["message"]
                                        .as_str()
                                        .is_some_and(|m| m.starts_with("No OData route"))
                                });
                                live |= no_verb;
                            }
                        }
                    }
                    // Roots such as `security/rules` answer "not found" until complete.
                    live |= path.len() <= 2;
                    if live {
                        next.push(path);
                    }
                }
            }
            frontier = next;
        }
    }
    out.into_iter().collect()
}

/// Handles one Graph operation (a request or a batch item): routing, permission, random
/// 429/503, out-of-band edits, Intune write limit, then the handler. Logs it.
pub fn dispatch(ctx: &Ctx<'_>, req: &GraphRequest, seq: u64) -> Reply {
    let (reply, route, fault) = dispatch_inner(ctx, req, seq);
    let mut path = format!("/{}/{}", req.version, req.path);
    if !req.query.is_empty() {
        path.push('?');
        path.push_str(&encode_query(&req.query));
    }
    ctx.emu.record(RequestRecord {
        seq,
        tenant: Some(ctx.claims.tid.clone()),
        app: Some(ctx.claims.appid.clone()),
        method: req.method.clone(),
        path,
        route,
        status: reply.status,
        fault,
        in_batch: ctx.in_batch,
        client_request_id: req.client_request_id.clone(),
    });
    reply
}

fn dispatch_inner(ctx: &Ctx<'_>, req: &GraphRequest, seq: u64) -> (Reply, String, Option<String>) {
    let route = match resolve(&req.version, &req.method, &req.path) {
        Ok(r) => r,
        Err(reply) => return (reply, format!("{}/?", req.version), None),
    };
    let tpl = route.template.clone();
    let needed = route.perm.roles(route.write);
    if !needed
        .iter()
        .any(|r| ctx.claims.roles.iter().any(|have| have == r))
    {
        let (code, msg) = if route.perm.is_directory() {
            (
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.".to_string(),
            )
        } else {
            (
                "accessDenied",
                format!(
                    "Application is not authorized to perform this operation. Application must have one of the following scopes: {}",
                    needed.join(", ")
                ),
            )
        };
        return (Reply::error(403, code, msg), tpl, None);
    }
    let faults = ctx.emu.faults();
    let (fault, oob, pick) = operation_faults(&faults, ctx.emu.inner.seed, seq);
    if oob {
        surfaces::policies::random_oob_edit(ctx.emu, &ctx.claims.tid, pick);
    }
    let retry_after = || -> String {
        if faults.retry_after_date {
            httpdate::fmt_http_date(
                std::time::SystemTime::now()
                    + std::time::Duration::from_secs(faults.retry_after_secs),
            )
        } else {
            faults.retry_after_secs.to_string()
        }
    };
    match fault {
        OperationFault::Throttle => {
            let r = Reply::error(
                429,
                "TooManyRequests",
                "Too many requests. Please retry after the time given in Retry-After.",
            )
            .with_header("Retry-After", retry_after());
            return (r, tpl, Some("429".into()));
        }
        OperationFault::Unavailable => {
            let r = Reply::error(
                503,
                "serviceNotAvailable",
                "Service is temporarily unavailable. Please retry.",
            )
            .with_header("Retry-After", retry_after());
            return (r, tpl, Some("503".into()));
        }
        OperationFault::None => {}
    }
    if route.write_limited
        && let Some(limit) = faults.write_limit
    {
        let r = lock(&ctx.emu.inner.limiter).try_write(
            &limit,
            &ctx.claims.tid,
            &ctx.claims.appid,
            tokio::time::Instant::now(),
        );
        if let Err(wait) = r {
            let r = Reply::error(
                    429,
                    "TooManyRequests",
                    format!(
                        "Too many write requests for this tenant: limit is {} per app and {} for all apps per {} seconds.",
                        limit.per_app, limit.per_tenant, limit.window_secs
                    ),
                )
                .with_header("Retry-After", wait.to_string());
            return (r, tpl, Some("writeLimit".into()));
        }
    }
    if let Some(Err(e)) = &req.body {
        return (
            Reply::bad_request(format!("Invalid JSON in request body: {e}")),
            tpl,
            None,
        );
    }
    let reply = execute(ctx, req, &route);
    (reply, tpl, None)
}

fn execute(ctx: &Ctx<'_>, req: &GraphRequest, route: &Route) -> Reply {
    // The security surfaces parse their own options (date-time `$filter`, `$orderby`).
    let parsed = if route.op.starts_with("soc.") {
        Ok(Query::default())
    } else {
        Query::parse(&req.query)
    };
    let q = match parsed {
        Ok(q) => q,
        Err(r) => return r,
    };
    let id = |i: usize| route.ids.get(i).map(String::as_str).unwrap_or_default();
    let body = req.body.as_ref().and_then(|b| b.as_ref().ok());
    let tid = ctx.claims.tid.clone();
    let Some(tenant) = ctx.emu.tenant(&tid) else {
        return Reply::error(
            401,
            "InvalidAuthenticationToken",
            "Tenant of the token does not exist.",
        );
    };
    let mut t = lock(&tenant);
    let call = Call {
        ctx,
        req,
        q: &q,
        op: route.op,
        id: id(0),
        id2: id(1),
        body,
    };
    let (reply, changed) = match route.op.split_once('.').map(|(a, _)| a).unwrap_or_default() {
        "policy" | "template" => surfaces::policies::handle(&call, &mut t),
        "rule" => surfaces::rules::handle(&call, &mut t),
        "intuneDef" | "intuneAsg" | "defenderDef" | "defenderAsg" | "dirDef" | "dirAsg" => {
            surfaces::roles::handle(&call, &mut t)
        }
        "group" => surfaces::directory::groups(&call, &mut t),
        "scopeTag" => surfaces::scope_tags::handle(&call, &mut t),
        "filter" => surfaces::filters::handle(&call, &mut t),
        "org" => (surfaces::directory::organization(&call, &t), false),
        "soc" if route.op == "soc.hunt" => surfaces::hunting::handle(ctx, req, &mut t, body),
        "soc" => surfaces::security::handle(ctx, req, route.op, &mut t, id(0), body),
        _ => (Reply::bad_request("Unsupported operation."), false),
    };
    if changed && let Err(e) = ctx.emu.persist_tenant(&t) {
        tracing::warn!(error = %e, "cannot persist tenant state");
        return Reply::error(
            500,
            "generalException",
            "The emulator could not persist its state.",
        );
    }
    reply
}

// ---------------------------------------------------------------------------------------
// $batch

/// Handles `POST /{version}/$batch`: validates the envelope (at most 20 requests, string
/// ids, unique ids, relative URLs, known `dependsOn`), then runs each request in order
/// through [`dispatch`], answering 424 for a request whose dependency failed.
pub fn batch(
    ctx: &Ctx<'_>,
    version: &str,
    body: Option<&Value>,
    seq_of: &dyn Fn() -> u64,
) -> Reply {
    let Some(reqs) = body
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
    else {
        return Reply::bad_request("Invalid batch payload format.");
    };
    if reqs.len() > 20 {
        return Reply::bad_request("The number of batch requests exceeds the limit of 20.");
    }
    let mut ids = Vec::new();
    let mut seen = BTreeSet::new();
    for r in reqs {
        let id = match r.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Reply::bad_request("Batch request is missing the 'id' property."),
        };
        if !seen.insert(id.clone()) {
            return Reply::bad_request(format!(
                "Batch request ids must be unique; '{id}' is duplicated."
            ));
        }
        ids.push(id);
    }
    for r in reqs {
        if let Some(deps) = r.get("dependsOn").and_then(Value::as_array) {
            for d in deps {
                let d = d
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| d.to_string());
                if !seen.contains(&d) {
                    return Reply::bad_request(format!(
                        "Batch request dependsOn references unknown id '{d}'."
                    ));
                }
            }
        }
    }
    let mut statuses: BTreeMap<String, u16> = BTreeMap::new();
    let mut responses = Vec::new();
    for (r, id) in reqs.iter().zip(&ids) {
        let deps: Vec<String> = r
            .get("dependsOn")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|d| {
                        d.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| d.to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        let failed_dep = deps
            .iter()
            .any(|d| statuses.get(d).is_none_or(|s| !(200..300).contains(s)));
        let request_id = crate::state::new_guid();
        let headers_in = r.get("headers").and_then(Value::as_object);
        let crid = headers_in.and_then(|h| {
            h.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("client-request-id"))
                .and_then(|(_, v)| v.as_str())
                .map(str::to_string)
        });
        let mut reply = if failed_dep {
            Reply::error(
                424,
                "FailedDependency",
                "The request could not be processed because a dependency failed.",
            )
        } else {
            match sub_request(version, r, headers_in, crid.clone()) {
                Ok(sub) => dispatch(ctx, &sub, seq_of()),
                Err(rep) => rep,
            }
        };
        finish(&mut reply, &request_id, crid.as_deref());
        statuses.insert(id.clone(), reply.status);
        let mut headers = Map::new();
        for (k, v) in &reply.headers {
            if k != "request-id" && k != "client-request-id" {
                headers.insert(k.clone(), json!(v));
            }
        }
        if reply.body.is_some() {
            headers.insert("Content-Type".into(), json!("application/json"));
        }
        let mut item = Map::new();
        item.insert("id".into(), json!(id));
        item.insert("status".into(), json!(reply.status));
        item.insert("headers".into(), Value::Object(headers));
        if let Some(b) = reply.body {
            item.insert("body".into(), b);
        }
        responses.push(Value::Object(item));
    }
    Reply::ok(json!({ "responses": responses }))
}

fn sub_request(
    version: &str,
    r: &Value,
    headers: Option<&Map<String, Value>>,
    crid: Option<String>,
) -> Result<GraphRequest, Reply> {
    let method = r
        .get("method")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_ascii_uppercase();
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&method.as_str()) {
        return Err(Reply::bad_request(
            "Invalid or missing method in batch request.",
        ));
    }
    let url = r.get("url").and_then(Value::as_str).unwrap_or_default();
    if url.is_empty() || url.contains("://") {
        return Err(Reply::bad_request(
            "Invalid request url: batch request urls must be relative.",
        ));
    }
    let url = url.trim_start_matches('/');
    let (path, query) = url.split_once('?').unwrap_or((url, ""));
    // A relative url may repeat the version ("/beta/groups"); Graph resolves it against the batch version.
    let path = path.strip_prefix(&format!("{version}/")).unwrap_or(path);
    if path.starts_with("$batch") {
        return Err(Reply::bad_request(
            "Nested batch requests are not supported.",
        ));
    }
    let has_ct = headers.is_some_and(|h| h.keys().any(|k| k.eq_ignore_ascii_case("content-type")));
    let body = r.get("body").filter(|b| !b.is_null()).cloned();
    if body.is_some() && !has_ct {
        let id = r.get("id").map(|v| v.to_string()).unwrap_or_default();
        return Err(Reply::bad_request(format!(
            "Write request id : {} does not contain Content-Type header or body.",
            id.trim_matches('"')
        )));
    }
    Ok(GraphRequest {
        method,
        version: version.to_string(),
        path: path.trim_end_matches('/').to_string(),
        query: url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect(),
        body: body.map(Ok),
        client_request_id: crid,
        has_content_type: has_ct,
    })
}

impl Emulator {
    /// Calls Graph in-process, without HTTP, as `app_id` in `tenant` with the roles
    /// consented there; `url` is `/beta/...` or `/v1.0/...` with an optional query.
    /// Routing, permissions, validation, operation faults (429/503, write limit) and the
    /// request log behave as over HTTP; connection faults (latency, drops) do not apply.
    /// `@odata.context`/`nextLink` use `https://graph.microsoft.com` as base.
    pub fn call(
        &self,
        tenant: &str,
        app_id: &str,
        method: &str,
        url: &str,
        body: Option<Value>,
    ) -> Result<Reply, crate::EmulatorError> {
        let t = self
            .tenant(tenant)
            .ok_or_else(|| crate::EmulatorError::UnknownTenant(tenant.to_string()))?;
        let (tid, roles) = {
            let t = lock(&t);
            let roles = t
                .consents
                .get(&app_id.to_ascii_lowercase())
                .ok_or_else(|| crate::EmulatorError::NotConsented {
                    app: app_id.to_string(),
                    tenant: t.id.clone(),
                })?;
            (t.id.clone(), roles.iter().cloned().collect::<Vec<_>>())
        };
        let now = crate::state::unix_now();
        let claims = Claims {
            aud: crate::token::GRAPH_AUDIENCE.into(),
            iss: format!("https://sts.windows.net/{tid}/"),
            iat: now,
            nbf: now,
            exp: now + self.inner.token_lifetime_secs,
            tid,
            appid: app_id.to_ascii_lowercase(),
            roles,
            idtyp: "app".into(),
            uti: crate::state::new_guid(),
        };
        let url = url.trim_start_matches('/');
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let (version, rest) = path.split_once('/').unwrap_or((path, ""));
        if version != "beta" && version != "v1.0" {
            return Ok(Reply::bad_request(format!("Invalid version: {version}")));
        }
        let ctx = Ctx {
            emu: self,
            base: "https://graph.microsoft.com".into(),
            claims: &claims,
            in_batch: false,
        };
        let seq = self.next_seq();
        let mut reply = if rest.trim_end_matches('/') == "$batch" {
            batch(
                &Ctx {
                    in_batch: true,
                    ..ctx
                },
                version,
                body.as_ref(),
                &|| self.next_seq(),
            )
        } else {
            let req = GraphRequest {
                method: method.to_ascii_uppercase(),
                version: version.to_string(),
                path: rest.trim_end_matches('/').to_string(),
                query: url::form_urlencoded::parse(query.as_bytes())
                    .into_owned()
                    .collect(),
                body: body.map(Ok),
                client_request_id: None,
                has_content_type: true,
            };
            dispatch(&ctx, &req, seq)
        };
        finish(&mut reply, &crate::state::new_guid(), None);
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_table_lists_served_routes() {
        let t = route_table();
        if std::env::var_os("PRINT_ROUTES").is_some() {
            for (m, p) in &t {
                println!("ROUTE {m} {p}");
            }
        }
        for want in [
            (
                "GET",
                "beta/deviceManagement/configurationPolicies/{id}/settings/{id}",
            ),
            (
                "POST",
                "beta/deviceManagement/configurationPolicies/{id}/assign",
            ),
            ("GET", "v1.0/groups"),
            ("GET", "beta/deviceManagement/roleScopeTags"),
        ] {
            assert!(
                t.iter().any(|(m, p)| m == want.0 && p == want.1),
                "{want:?} missing from {t:#?}"
            );
        }
        assert!(
            !t.iter()
                .any(|(_, p)| p.starts_with("v1.0/deviceManagement/configurationPolicies"))
        );
    }

    #[test]
    fn routes_and_segments() {
        assert_eq!(
            resolve(
                "beta",
                "GET",
                "deviceManagement/configurationPolicies('abc')/settings"
            )
            .unwrap()
            .ids,
            vec!["abc"]
        );
        let e = resolve("v1.0", "GET", "deviceManagement/configurationPolicies").unwrap_err();
        assert_eq!(e.status, 400);
        assert!(resolve("v1.0", "GET", "groups").is_ok());
        assert_eq!(resolve("beta", "GET", "nothing").unwrap_err().status, 400);
        let r = resolve(
            "beta",
            "GET",
            "devicemanagement/ConfigurationPolicies/Settings/settings",
        )
        .unwrap();
        assert_eq!((r.op, r.ids[0].as_str()), ("policy.settings", "Settings"));
    }
}
