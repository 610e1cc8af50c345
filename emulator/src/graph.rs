//! Graph request handling without HTTP: routing, permissions, OData query options
//! (`$filter`, `$select`, `$expand`, `$top`, paging), error bodies and `$batch`.
//!
//! The HTTP layer ([`super::http`]) authenticates the caller and hands a [`GraphRequest`]
//! to [`dispatch`]; `$batch` sub-requests go through the same function, so each one is
//! routed, permission-checked, throttled and logged on its own, as Graph does
//! (`graph-api.md` §4.3).

use super::faults::{OperationFault, operation_faults};
use super::state::{Emulator, RequestRecord, lock};
use super::token::Claims;
use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, BTreeSet};
use time::OffsetDateTime;

/// A Graph request after authentication.
#[derive(Debug, Clone)]
pub struct GraphRequest {
    /// Upper-case HTTP method.
    pub method: String,
    /// `beta` or `v1.0`.
    pub version: String,
    /// Path after the version, without leading/trailing slashes.
    pub path: String,
    /// Decoded query pairs in order.
    pub query: Vec<(String, String)>,
    /// Parsed JSON body (`Some(Err)` when the body is not JSON).
    pub body: Option<Result<Value, String>>,
    /// `client-request-id` header.
    pub client_request_id: Option<String>,
    /// Whether a `Content-Type` header was sent.
    pub has_content_type: bool,
}

/// A Graph answer before serialisation.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Extra headers (name, value).
    pub headers: Vec<(String, String)>,
    /// JSON body, if any.
    pub body: Option<Value>,
}

impl Reply {
    /// 200 with a body.
    pub fn ok(body: Value) -> Self {
        Reply {
            status: 200,
            headers: vec![],
            body: Some(body),
        }
    }
    /// 201 with a body.
    pub fn created(body: Value) -> Self {
        Reply {
            status: 201,
            headers: vec![],
            body: Some(body),
        }
    }
    /// 204 without a body.
    pub fn no_content() -> Self {
        Reply {
            status: 204,
            headers: vec![],
            body: None,
        }
    }
    /// A Graph error body; `innerError` is completed by [`finish`].
    pub fn error(status: u16, code: &str, message: impl Into<String>) -> Self {
        Reply {
            status,
            headers: vec![],
            body: Some(
                json!({"error": {"code": code, "message": message.into(), "innerError": {}}}),
            ),
        }
    }
    /// 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::error(400, "BadRequest", message)
    }
    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_string(), value.into()));
        self
    }
}

/// Fills `innerError` (`date`, `request-id`, `client-request-id`) and the `request-id` /
/// `client-request-id` headers, as Graph does on every answer.
pub fn finish(reply: &mut Reply, request_id: &str, client_request_id: Option<&str>) {
    let crid = client_request_id.unwrap_or(request_id);
    if let Some(inner) = reply
        .body
        .as_mut()
        .and_then(|b| b.get_mut("error"))
        .and_then(|e| e.get_mut("innerError"))
    {
        if let Some(o) = inner.as_object_mut() {
            o.insert("date".into(), json!(http_time_iso()));
            o.insert("request-id".into(), json!(request_id));
            o.insert("client-request-id".into(), json!(crid));
        }
    }
    reply
        .headers
        .push(("request-id".into(), request_id.to_string()));
    reply
        .headers
        .push(("client-request-id".into(), crid.to_string()));
}

fn http_time_iso() -> String {
    let t = OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Everything a handler needs about the caller and the URL space.
pub struct Ctx<'a> {
    /// The emulator.
    pub emu: &'a Emulator,
    /// `http://host:port` as the client sees it (for `@odata.context` and `nextLink`).
    pub base: String,
    /// The verified token claims.
    pub claims: &'a Claims,
    /// Whether this is a `$batch` sub-request.
    pub in_batch: bool,
}

impl Ctx<'_> {
    /// `{base}/{version}/$metadata#{what}`.
    pub fn context(&self, req: &GraphRequest, what: &str) -> String {
        format!("{}/{}/$metadata#{what}", self.base, req.version)
    }
}

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
    /// Groups.
    Groups,
    /// Organization.
    Organization,
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
            (Perm::Groups, false) => &[
                "Group.Read.All",
                "Group.ReadWrite.All",
                "GroupMember.Read.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
            ],
            (Perm::Groups, true) => &["Group.ReadWrite.All", "Directory.ReadWrite.All"],
            (Perm::Organization, false) => &[
                "Organization.Read.All",
                "Organization.ReadWrite.All",
                "Directory.Read.All",
                "Directory.ReadWrite.All",
                "User.Read.All",
            ],
            (Perm::Organization, true) => &["Organization.ReadWrite.All"],
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
    "security",
    "rules",
    "detectionRules",
    "roleManagement",
    "defender",
    "directory",
    "groups",
    "organization",
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
                | "detectionRules"
                | "groups"
                | "organization"
        )
    )
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
    let r = match s.as_slice() {
        ["deviceManagement", "configurationPolicies", rest @ ..] => {
            if !beta {
                return Err(not_found("configurationPolicies"));
            }
            let t = "deviceManagement/configurationPolicies";
            match (rest, m) {
                ([], "GET") => mk(t, IntuneConfig, false, true, vec![], "policy.list"),
                ([], "POST") => mk(t, IntuneConfig, true, true, vec![], "policy.create"),
                ([id], "GET") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneConfig,
                    false,
                    true,
                    vec![id],
                    "policy.get",
                ),
                ([id], "PUT") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneConfig,
                    true,
                    true,
                    vec![id],
                    "policy.put",
                ),
                ([id], "PATCH") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneConfig,
                    true,
                    true,
                    vec![id],
                    "policy.patch",
                ),
                ([id], "DELETE") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneConfig,
                    true,
                    true,
                    vec![id],
                    "policy.delete",
                ),
                ([id, "settings"], "GET") => mk(
                    &format!("{t}/{{id}}/settings"),
                    IntuneConfig,
                    false,
                    true,
                    vec![id],
                    "policy.settings",
                ),
                ([id, "settings", sid], "GET") => mk(
                    &format!("{t}/{{id}}/settings/{{id}}"),
                    IntuneConfig,
                    false,
                    true,
                    vec![id, sid],
                    "policy.setting",
                ),
                ([id, "assignments"], "GET") => mk(
                    &format!("{t}/{{id}}/assignments"),
                    IntuneConfig,
                    false,
                    true,
                    vec![id],
                    "policy.assignments",
                ),
                ([id, "assign"], "POST") => mk(
                    &format!("{t}/{{id}}/assign"),
                    IntuneConfig,
                    true,
                    true,
                    vec![id],
                    "policy.assign",
                ),
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
            match (rest, m) {
                ([], "GET") => mk(t, IntuneConfig, false, false, vec![], "template.list"),
                ([id], "GET") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneConfig,
                    false,
                    false,
                    vec![id],
                    "template.get",
                ),
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
            let (list, create, get, patch, delete) = if defs {
                (
                    "intuneDef.list",
                    "intuneDef.create",
                    "intuneDef.get",
                    "intuneDef.patch",
                    "intuneDef.delete",
                )
            } else {
                (
                    "intuneAsg.list",
                    "intuneAsg.create",
                    "intuneAsg.get",
                    "intuneAsg.patch",
                    "intuneAsg.delete",
                )
            };
            match (rest, m) {
                ([], "GET") => mk(&t, IntuneRbac, false, true, vec![], list),
                ([], "POST") => mk(&t, IntuneRbac, true, true, vec![], create),
                ([id], "GET") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneRbac,
                    false,
                    true,
                    vec![id],
                    get,
                ),
                ([id], "PATCH") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneRbac,
                    true,
                    true,
                    vec![id],
                    patch,
                ),
                ([id], "DELETE") => mk(
                    &format!("{t}/{{id}}"),
                    IntuneRbac,
                    true,
                    true,
                    vec![id],
                    delete,
                ),
                ([id, "roleDefinition"], "GET") if !defs => mk(
                    &format!("{t}/{{id}}/roleDefinition"),
                    IntuneRbac,
                    false,
                    true,
                    vec![id],
                    "intuneAsg.roleDefinition",
                ),
                ([_, seg, ..], _) if defs || *seg != "roleDefinition" => {
                    return Err(not_found(seg));
                }
                _ => return Err(no_verb()),
            }
        }
        ["deviceManagement", seg, ..] => return Err(not_found(seg)),
        ["security", "rules", "detectionRules", rest @ ..] => {
            if !beta {
                return Err(not_found("rules"));
            }
            let t = "security/rules/detectionRules";
            match (rest, m) {
                ([], "GET") => mk(t, Detection, false, false, vec![], "rule.list"),
                ([], "POST") => mk(t, Detection, true, false, vec![], "rule.create"),
                ([id], "GET") => mk(
                    &format!("{t}/{{id}}"),
                    Detection,
                    false,
                    false,
                    vec![id],
                    "rule.get",
                ),
                ([id], "PATCH") => mk(
                    &format!("{t}/{{id}}"),
                    Detection,
                    true,
                    false,
                    vec![id],
                    "rule.patch",
                ),
                ([id], "DELETE") => mk(
                    &format!("{t}/{{id}}"),
                    Detection,
                    true,
                    false,
                    vec![id],
                    "rule.delete",
                ),
                ([_, seg, ..], _) => return Err(not_found(seg)),
                _ => return Err(no_verb()),
            }
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
            let p = if *coll == "roleDefinitions" {
                "defenderDef"
            } else {
                "defenderAsg"
            };
            let op = |x: &str| -> &'static str {
                match (p, x) {
                    ("defenderDef", "list") => "defenderDef.list",
                    ("defenderDef", "create") => "defenderDef.create",
                    ("defenderDef", "get") => "defenderDef.get",
                    ("defenderDef", "patch") => "defenderDef.patch",
                    ("defenderDef", _) => "defenderDef.delete",
                    (_, "list") => "defenderAsg.list",
                    (_, "create") => "defenderAsg.create",
                    (_, "get") => "defenderAsg.get",
                    (_, "patch") => "defenderAsg.patch",
                    _ => "defenderAsg.delete",
                }
            };
            match (rest, m) {
                ([], "GET") => mk(&t, DefenderRbac, false, false, vec![], op("list")),
                ([], "POST") => mk(&t, DefenderRbac, true, false, vec![], op("create")),
                ([id], "GET") => mk(
                    &format!("{t}/{{id}}"),
                    DefenderRbac,
                    false,
                    false,
                    vec![id],
                    op("get"),
                ),
                ([id], "PATCH") => mk(
                    &format!("{t}/{{id}}"),
                    DefenderRbac,
                    true,
                    false,
                    vec![id],
                    op("patch"),
                ),
                ([id], "DELETE") => mk(
                    &format!("{t}/{{id}}"),
                    DefenderRbac,
                    true,
                    false,
                    vec![id],
                    op("delete"),
                ),
                ([_, seg, ..], _) => return Err(not_found(seg)),
                _ => return Err(no_verb()),
            }
        }
        [
            "roleManagement",
            "directory",
            coll @ ("roleDefinitions" | "roleAssignments"),
            rest @ ..,
        ] => {
            let t = format!("roleManagement/directory/{coll}");
            if *coll == "roleDefinitions" {
                match (rest, m) {
                    ([], "GET") => mk(&t, DirectoryRoles, false, false, vec![], "dirDef.list"),
                    ([id], "GET") => mk(
                        &format!("{t}/{{id}}"),
                        DirectoryRoles,
                        false,
                        false,
                        vec![id],
                        "dirDef.get",
                    ),
                    ([_, seg, ..], _) => return Err(not_found(seg)),
                    _ => return Err(no_verb()),
                }
            } else {
                match (rest, m) {
                    ([], "GET") => mk(&t, DirectoryRoles, false, false, vec![], "dirAsg.list"),
                    ([], "POST") => mk(&t, DirectoryRoles, true, false, vec![], "dirAsg.create"),
                    ([id], "GET") => mk(
                        &format!("{t}/{{id}}"),
                        DirectoryRoles,
                        false,
                        false,
                        vec![id],
                        "dirAsg.get",
                    ),
                    ([id], "DELETE") => mk(
                        &format!("{t}/{{id}}"),
                        DirectoryRoles,
                        true,
                        false,
                        vec![id],
                        "dirAsg.delete",
                    ),
                    ([_, seg, ..], _) => return Err(not_found(seg)),
                    _ => return Err(no_verb()),
                }
            }
        }
        ["roleManagement", _, seg, ..] => return Err(not_found(seg)),
        ["roleManagement", seg] => return Err(not_found(seg)),
        ["groups", rest @ ..] => match (rest, m) {
            ([], "GET") => mk("groups", Groups, false, false, vec![], "group.list"),
            ([id], "GET") => mk("groups/{id}", Groups, false, false, vec![id], "group.get"),
            ([_, seg, ..], _) => return Err(not_found(seg)),
            _ => return Err(no_verb()),
        },
        ["organization", rest @ ..] => match (rest, m) {
            ([], "GET") => mk(
                "organization",
                Organization,
                false,
                false,
                vec![],
                "org.list",
            ),
            ([id], "GET") => mk(
                "organization/{id}",
                Organization,
                false,
                false,
                vec![id],
                "org.get",
            ),
            ([_, seg, ..], _) => return Err(not_found(seg)),
            _ => return Err(no_verb()),
        },
        [seg, ..] => return Err(not_found(seg)),
        [] => return Err(not_found(version)),
    };
    Ok(r)
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
        super::policies::random_oob_edit(ctx.emu, &ctx.claims.tid, pick);
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
    if route.write_limited {
        if let Some(limit) = faults.write_limit {
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
    let q = match Query::parse(&req.query) {
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
    let (reply, changed) = match route.op.split_once('.').map(|(a, _)| a).unwrap_or_default() {
        "policy" | "template" => {
            super::policies::handle(ctx, req, &q, route.op, &mut t, id(0), id(1), body)
        }
        "rule" => super::rules::handle(ctx, req, &q, route.op, &mut t, id(0), body),
        "intuneDef" | "intuneAsg" | "defenderDef" | "defenderAsg" | "dirDef" | "dirAsg" => {
            super::roles::handle(ctx, req, &q, route.op, &mut t, id(0), body)
        }
        "group" => (groups(ctx, req, &q, route.op, &t, id(0)), false),
        "org" => (organization(ctx, req, &q, route.op, &t, id(0)), false),
        _ => (Reply::bad_request("Unsupported operation."), false),
    };
    if changed {
        if let Err(e) = ctx.emu.persist_tenant(&t) {
            tracing::warn!(error = %e, "cannot persist tenant state");
            return Reply::error(
                500,
                "generalException",
                "The emulator could not persist its state.",
            );
        }
    }
    reply
}

/// Requires a JSON object body.
pub fn object_body(body: Option<&Value>) -> Result<&Map<String, Value>, Reply> {
    match body {
        Some(Value::Object(o)) => Ok(o),
        Some(_) => Err(Reply::bad_request(
            "The request body must be a JSON object.",
        )),
        None => Err(Reply::bad_request("Empty Payload. JSON content expected.")),
    }
}

fn groups(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    op: &str,
    t: &super::state::Tenant,
    id: &str,
) -> Reply {
    if op == "group.get" {
        return match t.groups.get(id) {
            Some(g) => entity(ctx, req, q, "groups", g.clone()),
            None => Reply::error(
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            ),
        };
    }
    collection(
        ctx,
        req,
        q,
        "groups",
        t.groups.values().cloned().collect(),
        ctx.emu.inner.page_sizes.directory,
    )
}

fn organization(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    op: &str,
    t: &super::state::Tenant,
    id: &str,
) -> Reply {
    let org = json!({
        "id": t.id,
        "deletedDateTime": null,
        "displayName": t.display_name,
        "tenantType": "AAD",
        "countryLetterCode": "US",
        "createdDateTime": "2020-01-01T00:00:00Z",
        "verifiedDomains": [{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": t.domain, "type": "Managed"}],
    });
    if op == "org.get" {
        if id != t.id {
            return Reply::error(
                404,
                "Request_ResourceNotFound",
                format!(
                    "Resource '{id}' does not exist or one of its queried reference-property objects are not present."
                ),
            );
        }
        return entity(ctx, req, q, "organization", org);
    }
    collection(
        ctx,
        req,
        q,
        "organization",
        vec![org],
        ctx.emu.inner.page_sizes.directory,
    )
}

/// Parsed OData query options. Graph accepts them with or without the `$` prefix.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// `$filter`.
    pub filter: Option<Filter>,
    /// `$select` property names.
    pub select: Vec<String>,
    /// `$expand` navigation names (options in parentheses dropped).
    pub expand: Vec<String>,
    /// `$top`.
    pub top: Option<usize>,
    /// Offset from `$skiptoken`.
    pub skip: usize,
}

impl Query {
    /// Parses query pairs; a bad `$filter`/`$top`/`$skiptoken` gives Graph's 400.
    pub fn parse(pairs: &[(String, String)]) -> Result<Query, Reply> {
        let mut q = Query::default();
        for (k, v) in pairs {
            match k.trim_start_matches('$').to_ascii_lowercase().as_str() {
                "filter" => {
                    q.filter =
                        Some(Filter::parse(v).map_err(|e| {
                            Reply::bad_request(format!("Invalid filter clause: {e}"))
                        })?)
                }
                "select" => q.select = split_list(v),
                "expand" => {
                    q.expand = split_list(v)
                        .into_iter()
                        .map(|e| e.split('(').next().unwrap_or_default().trim().to_string())
                        .collect()
                }
                "top" => {
                    let n: usize = v.trim().parse().map_err(|_| {
                        Reply::bad_request(format!(
                            "Invalid value '{v}' for $top query option found."
                        ))
                    })?;
                    q.top = Some(n);
                }
                "skiptoken" => {
                    q.skip = decode_skiptoken(v)
                        .ok_or_else(|| Reply::bad_request("Invalid $skiptoken."))?;
                }
                _ => {}
            }
        }
        Ok(q)
    }

    /// Whether `$expand` names `nav` (case-insensitive), or `*`.
    pub fn expands(&self, nav: &str) -> bool {
        self.expand
            .iter()
            .any(|e| e == "*" || e.eq_ignore_ascii_case(nav))
    }
}

fn split_list(v: &str) -> Vec<String> {
    // Split on commas outside parentheses (`$expand=settings($select=id),assignments`).
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in v.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

fn encode_skiptoken(offset: usize) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_skiptoken(v: &str) -> Option<usize> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.trim())
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

/// Percent-encodes query pairs (`application/x-www-form-urlencoded`, with `%20`).
pub fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn enc(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'~'
            | b'$'
            | b','
            | b'/'
            | b'\''
            | b'('
            | b')' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Applies `$select` to one entity: keeps selected properties and `@odata` annotations.
pub fn project(v: Value, select: &[String]) -> Value {
    if select.is_empty() {
        return v;
    }
    match v {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .filter(|(k, _)| {
                    k.starts_with('@')
                        || select.iter().any(|s| s.eq_ignore_ascii_case(k) || s == "*")
                })
                .collect(),
        ),
        other => other,
    }
}

/// A single entity answer with `@odata.context` `…#{set}/$entity`.
pub fn entity(ctx: &Ctx<'_>, req: &GraphRequest, q: &Query, set: &str, v: Value) -> Reply {
    let set = if q.select.is_empty() {
        set.to_string()
    } else {
        format!("{set}({})", q.select.join(","))
    };
    let mut out = Map::new();
    out.insert(
        "@odata.context".into(),
        json!(ctx.context(req, &format!("{set}/$entity"))),
    );
    if let Value::Object(o) = project(v, &q.select) {
        out.extend(o);
    }
    Reply::ok(Value::Object(out))
}

/// A paged collection answer: filters, pages (`$top`, default page size, absolute
/// `@odata.nextLink` carrying the other query options), projects (`$select`).
pub fn collection(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    set: &str,
    items: Vec<Value>,
    page: usize,
) -> Reply {
    let items: Vec<Value> = match &q.filter {
        Some(f) => items.into_iter().filter(|v| f.matches(v)).collect(),
        None => items,
    };
    page_of(ctx, req, q, set, items, page)
}

/// Pages already-filtered items.
pub fn page_of(
    ctx: &Ctx<'_>,
    req: &GraphRequest,
    q: &Query,
    set: &str,
    items: Vec<Value>,
    page: usize,
) -> Reply {
    let max = ctx.emu.inner.page_sizes.max.max(1);
    let size = q.top.unwrap_or(page).clamp(1, max);
    let start = q.skip.min(items.len());
    let end = (start + size).min(items.len());
    let ctx_set = if q.select.is_empty() {
        set.to_string()
    } else {
        format!("{set}({})", q.select.join(","))
    };
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(ctx.context(req, &ctx_set)));
    if end < items.len() {
        let mut pairs: Vec<(String, String)> = req
            .query
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
            .cloned()
            .collect();
        pairs.push(("$skiptoken".into(), encode_skiptoken(end)));
        out.insert(
            "@odata.nextLink".into(),
            json!(format!(
                "{}/{}/{}?{}",
                ctx.base,
                req.version,
                req.path,
                encode_query(&pairs)
            )),
        );
    }
    let value: Vec<Value> = items[start..end]
        .iter()
        .cloned()
        .map(|v| project(v, &q.select))
        .collect();
    out.insert("value".into(), Value::Array(value));
    Reply::ok(Value::Object(out))
}

// ---------------------------------------------------------------------------------------
// $filter

/// A parsed `$filter` expression (the subset Graph clients send to these collections).
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// `a and b`.
    And(Box<Filter>, Box<Filter>),
    /// `a or b`.
    Or(Box<Filter>, Box<Filter>),
    /// `not a`.
    Not(Box<Filter>),
    /// `path eq literal` / `ne`.
    Cmp {
        /// Property path (`templateReference/templateFamily`).
        path: Vec<String>,
        /// `eq` or `ne`.
        op: String,
        /// Literal.
        value: Value,
    },
    /// `startswith(path, 'x')`.
    StartsWith(Vec<String>, String),
    /// `path/any(x: x eq 'v')` on a string collection.
    Any(Vec<String>, Value),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Lit(Value),
    Open,
    Close,
    Comma,
    Colon,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < cs.len() {
        let c = cs[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '(' {
            out.push(Tok::Open);
            i += 1;
        } else if c == ')' {
            out.push(Tok::Close);
            i += 1;
        } else if c == ',' {
            out.push(Tok::Comma);
            i += 1;
        } else if c == ':' {
            out.push(Tok::Colon);
            i += 1;
        } else if c == '\'' {
            let mut v = String::new();
            i += 1;
            loop {
                match cs.get(i) {
                    None => return Err("unterminated string literal".into()),
                    Some('\'') if cs.get(i + 1) == Some(&'\'') => {
                        v.push('\'');
                        i += 2;
                    }
                    Some('\'') => {
                        i += 1;
                        break;
                    }
                    Some(ch) => {
                        v.push(*ch);
                        i += 1;
                    }
                }
            }
            out.push(Tok::Str(v));
        } else if c.is_ascii_digit() || c == '-' {
            let st = i;
            i += 1;
            while i < cs.len() && (cs[i].is_ascii_alphanumeric() || cs[i] == '.' || cs[i] == '-') {
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            match t.parse::<i64>() {
                Ok(n) => out.push(Tok::Lit(json!(n))),
                // GUID literals (unquoted) are accepted by Graph for id properties.
                Err(_) => out.push(Tok::Str(t)),
            }
        } else if c.is_alphanumeric() || c == '_' || c == '@' {
            let st = i;
            while i < cs.len()
                && (cs[i].is_alphanumeric() || matches!(cs[i], '_' | '/' | '.' | '@'))
            {
                i += 1;
            }
            let t: String = cs[st..i].iter().collect();
            match t.as_str() {
                "true" => out.push(Tok::Lit(json!(true))),
                "false" => out.push(Tok::Lit(json!(false))),
                "null" => out.push(Tok::Lit(Value::Null)),
                _ => out.push(Tok::Ident(t)),
            }
        } else {
            return Err(format!("unexpected character '{c}'"));
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    i: usize,
}

impl Parser {
    fn peek_kw(&self, kw: &str) -> bool {
        matches!(self.toks.get(self.i), Some(Tok::Ident(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn expect(&mut self, t: Tok) -> Result<(), String> {
        match self.next() {
            Some(x) if x == t => Ok(()),
            other => Err(format!("expected {t:?}, found {other:?}")),
        }
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut l = self.and()?;
        while self.peek_kw("or") {
            self.i += 1;
            let r = self.and()?;
            l = Filter::Or(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut l = self.unary()?;
        while self.peek_kw("and") {
            self.i += 1;
            let r = self.unary()?;
            l = Filter::And(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn unary(&mut self) -> Result<Filter, String> {
        if self.peek_kw("not") {
            self.i += 1;
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        match self.next() {
            Some(Tok::Open) => {
                let f = self.or()?;
                self.expect(Tok::Close)?;
                Ok(f)
            }
            Some(Tok::Ident(name)) if name.eq_ignore_ascii_case("startswith") => {
                self.expect(Tok::Open)?;
                let Some(Tok::Ident(p)) = self.next() else {
                    return Err("startswith needs a property".into());
                };
                self.expect(Tok::Comma)?;
                let Some(Tok::Str(v)) = self.next() else {
                    return Err("startswith needs a string".into());
                };
                self.expect(Tok::Close)?;
                Ok(Filter::StartsWith(path_of(&p), v))
            }
            Some(Tok::Ident(p)) if p.to_ascii_lowercase().ends_with("/any") => {
                // tags/any(t: t eq 'x')
                let base = &p[..p.len() - 4];
                self.expect(Tok::Open)?;
                let Some(Tok::Ident(var)) = self.next() else {
                    return Err("any needs a variable".into());
                };
                self.expect(Tok::Colon)?;
                let Some(Tok::Ident(v2)) = self.next() else {
                    return Err("any needs a comparison".into());
                };
                if v2 != var || !self.peek_kw("eq") {
                    return Err("only 'x eq value' is supported inside any()".into());
                }
                self.i += 1;
                let value = self.literal()?;
                self.expect(Tok::Close)?;
                Ok(Filter::Any(path_of(base), value))
            }
            Some(Tok::Ident(p)) => {
                let op = match self.next() {
                    Some(Tok::Ident(op))
                        if ["eq", "ne"].contains(&op.to_ascii_lowercase().as_str()) =>
                    {
                        op.to_ascii_lowercase()
                    }
                    other => return Err(format!("unsupported operator {other:?}")),
                };
                let value = self.literal()?;
                Ok(Filter::Cmp {
                    path: path_of(&p),
                    op,
                    value,
                })
            }
            other => Err(format!("unexpected token {other:?}")),
        }
    }
    fn literal(&mut self) -> Result<Value, String> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(json!(s)),
            Some(Tok::Lit(v)) => Ok(v),
            Some(Tok::Ident(e)) if e.contains('.') || e.contains('\'') => Ok(json!(e)),
            other => Err(format!("expected a literal, found {other:?}")),
        }
    }
}

fn path_of(p: &str) -> Vec<String> {
    p.split('/').map(str::to_string).collect()
}

fn lookup<'a>(v: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        let o = cur.as_object()?;
        cur = o.get(seg).or_else(|| {
            o.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(seg))
                .map(|(_, v)| v)
        })?;
    }
    Some(cur)
}

fn loose_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

impl Filter {
    /// Parses a `$filter` string.
    pub fn parse(s: &str) -> Result<Filter, String> {
        let mut p = Parser {
            toks: tokenize(s)?,
            i: 0,
        };
        let f = p.or()?;
        if p.i != p.toks.len() {
            return Err("trailing tokens".into());
        }
        Ok(f)
    }

    /// Evaluates against an entity. String equality is case-insensitive, as in Entra.
    pub fn matches(&self, v: &Value) -> bool {
        match self {
            Filter::And(a, b) => a.matches(v) && b.matches(v),
            Filter::Or(a, b) => a.matches(v) || b.matches(v),
            Filter::Not(a) => !a.matches(v),
            Filter::Cmp { path, op, value } => {
                let got = lookup(v, path).unwrap_or(&Value::Null);
                let eq = loose_eq(got, value);
                if op == "eq" { eq } else { !eq }
            }
            Filter::StartsWith(path, prefix) => lookup(v, path)
                .and_then(Value::as_str)
                .is_some_and(|s| s.to_lowercase().starts_with(&prefix.to_lowercase())),
            Filter::Any(path, value) => lookup(v, path)
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|x| loose_eq(x, value))),
        }
    }
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
        let request_id = super::state::new_guid();
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
    ) -> Result<Reply, super::EmulatorError> {
        let t = self
            .tenant(tenant)
            .ok_or_else(|| super::EmulatorError::UnknownTenant(tenant.to_string()))?;
        let (tid, roles) = {
            let t = lock(&t);
            let roles = t
                .consents
                .get(&app_id.to_ascii_lowercase())
                .ok_or_else(|| super::EmulatorError::NotConsented {
                    app: app_id.to_string(),
                    tenant: t.id.clone(),
                })?;
            (t.id.clone(), roles.iter().cloned().collect::<Vec<_>>())
        };
        let now = super::state::unix_now();
        let claims = Claims {
            aud: super::token::GRAPH_AUDIENCE.into(),
            iss: format!("https://sts.windows.net/{tid}/"),
            iat: now,
            nbf: now,
            exp: now + self.inner.token_lifetime_secs,
            tid,
            appid: app_id.to_ascii_lowercase(),
            roles,
            idtyp: "app".into(),
            uti: super::state::new_guid(),
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
        finish(&mut reply, &super::state::new_guid(), None);
        Ok(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_parses_graph_forms() {
        let f = Filter::parse("displayName eq 'O''Brien SOC'").unwrap();
        assert!(f.matches(&json!({"displayName": "O'Brien SOC"})));
        assert!(!f.matches(&json!({"displayName": "Other"})));
        let f = Filter::parse("templateReference/TemplateFamily eq 'endpointSecurityFirewall' and startswith(name,'MSSP')")
            .unwrap();
        assert!(f.matches(&json!({"name": "MSSP x", "templateReference": {"templateFamily": "endpointSecurityFirewall"}})));
        assert!(Filter::parse("name gt 'x'").is_err());
        assert!(Filter::parse("name eq 'x").is_err());
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

    #[test]
    fn skiptoken_roundtrip() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(75)), Some(75));
    }
}
