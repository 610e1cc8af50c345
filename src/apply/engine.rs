//! Applying one tenant's plan: freshness check, ordered writes with exactly-once creates,
//! and verification by reading back.
//!
//! Order within a tenant: every object that creates or updates (in address order, each
//! object's requests in plan order, so an object is written before its assignments and a
//! custom role before the role assignment that uses it), then the deletions, last.
//!
//! Stale-plan rule (checked for every object of the tenant before the tenant's first write):
//! each Graph object the plan observed is re-read at its recorded path and fingerprinted
//! with the planner's own function; a changed fingerprint, a vanished object or (for
//! deletions) a missing marker makes the object *stale*. A create is stale when its target
//! now exists: an object carrying its marker, a detection rule with its id, an unmanaged
//! policy with its display name (an adoption candidate), or for Entra directory roles the
//! same (role, principal, scope). A stale object is not written at all.
//! Independence: the planner puts every Graph object one address touches into that
//! address's `ObjectPlan` (a custom role with its assignment, a replaced object's old and
//! new versions), so objects of one tenant are independent and the tenant goes on with its
//! other objects. The one exception is checked, not assumed: an object that shares an
//! observed Graph id with a stale object is skipped too.
//!
//! Exactly once: a create (POST) whose outcome is unknown ([`CallError::Ambiguous`]) is
//! followed by a lookup of the object by its marker (detection rules: by their client-chosen
//! id); if found, it is used; otherwise the create is sent again (bounded). `/assign` (a
//! full replacement), PUT, PATCH of the whole desired body and DELETE are idempotent in
//! effect and are simply sent again. After a crash at any point a re-plan sees what exists
//! (by marker) and plans only what is missing, so a re-run converges without duplicates.
//!
//! A tenant-wide failure (no token, 401/403, service unreachable) stops that tenant: its
//! remaining objects are skipped. Other tenants are never affected.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::StreamExt;
use serde_json::Value;

use super::ApplyOptions;
use super::entity::{self, EntityKind, EntityPath};
use super::graph::{CallError, TenantGraph};
use super::report::{Counts, ObjectResult, Outcome, TenantReport};
use crate::desired::Kind;
use crate::plan::{
    Action, CREATED_ID, CREATED_ROLE_DEFINITION_ID, HttpMethod, ObjectPlan, PlannedRequest,
    RequestPurpose, TenantPlan, TenantStatus,
};

/// Reads a tenant's apply sends at the same time (freshness checks, read-backs). Writes
/// are always one at a time per tenant.
const READS_AT_ONCE: usize = 4;

/// Why an object may not be written.
enum Fresh {
    Ok,
    Stale(String),
}

/// Collections listed once per tenant for the create-target checks.
#[derive(Default)]
struct Lists {
    by_path: BTreeMap<String, Vec<Value>>,
}

impl Lists {
    /// Lists every collection in `paths` at the same time; a failed listing is left out
    /// (the object that needs it reads it again and reports the error).
    async fn prefetch(g: &dyn TenantGraph, paths: BTreeSet<String>) -> Lists {
        let fetched = futures::future::join_all(paths.into_iter().map(|p| async move {
            let r = g.list(&p).await;
            (p, r)
        }))
        .await;
        Lists {
            by_path: fetched
                .into_iter()
                .filter_map(|(p, r)| r.ok().map(|v| (p, v)))
                .collect(),
        }
    }
}

/// The path to list a collection for marker lookups (policies: only the fields needed).
fn list_path(collection: &str) -> String {
    if collection == entity::POLICIES {
        format!("{collection}?$select=id,name,description,templateReference,createdDateTime")
    } else {
        collection.to_string()
    }
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Finds, in a listed collection, an existing object that a create would duplicate.
/// `exclude`: ids the plan itself observed (a replacement deletes them first).
fn find_existing(
    collection: &str,
    items: &[Value],
    body: &Value,
    name: &str,
    kind: Kind,
    exclude: &BTreeSet<String>,
    look_alikes: bool,
) -> Option<(String, String)> {
    let ep = EntityPath::parse(collection)?;
    for it in items {
        let id = s(it, "id").to_string();
        if exclude.contains(&id) {
            continue;
        }
        match ep.kind {
            EntityKind::RoleAssignment(crate::desired::RbacSystem::Directory) => {
                if s(it, "roleDefinitionId") == s(body, "roleDefinitionId")
                    && s(it, "principalId") == s(body, "principalId")
                    && it
                        .get("directoryScopeId")
                        .and_then(Value::as_str)
                        .unwrap_or("/")
                        == body
                            .get("directoryScopeId")
                            .and_then(Value::as_str)
                            .unwrap_or("/")
                {
                    return Some((id, "the same directory role assignment exists".into()));
                }
            }
            EntityKind::Rule => {
                if id == s(body, "id") {
                    return Some((id, "a detection rule with this id exists".into()));
                }
                if entity::marker_of(it).as_deref() == Some(name) {
                    return Some((id, "a detection rule carrying this marker exists".into()));
                }
            }
            EntityKind::Policy => {
                let same_kind = entity::policy_kind(it) == Some(kind);
                match entity::marker_of(it) {
                    Some(m) if m == name && same_kind => {
                        return Some((id, "a policy carrying this marker exists".into()));
                    }
                    None if look_alikes && same_kind && s(it, "name") == s(body, "name") => {
                        return Some((
                            id,
                            "an unmanaged policy with this display name appeared (adoption candidate)"
                                .into(),
                        ));
                    }
                    _ => {}
                }
            }
            EntityKind::RoleDefinition(_) | EntityKind::RoleAssignment(_) => {
                match entity::marker_of(it) {
                    Some(m) if m == name => {
                        return Some((id, "an object carrying this marker exists".into()));
                    }
                    // The planner's look-alike rule, re-checked at apply: an unmanaged role
                    // (or assignment) with the display name appeared after the plan.
                    None if look_alikes
                        && !s(body, "displayName").is_empty()
                        && s(it, "displayName") == s(body, "displayName") =>
                    {
                        return Some((
                            id,
                            "an unmanaged object with this display name appeared (adoption candidate)"
                                .into(),
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    None
}

/// Where to re-read an observed object. Intune role assignments name their role only when
/// `roleDefinition` is expanded (as the planner lists them); without it every fingerprint
/// would differ.
fn reread_path(r: &crate::plan::ObservedRef) -> String {
    if r.resource == crate::plan::Resource::IntuneRoleAssignment && !r.path.contains('?') {
        format!("{}?$expand=roleDefinition($select=id)", r.path)
    } else {
        r.path.clone()
    }
}

/// Re-reads what the plan observed and checks the create targets.
async fn check_fresh(
    g: &dyn TenantGraph,
    o: &ObjectPlan,
    lists: &Lists,
) -> Result<Fresh, CallError> {
    for r in o.observed.iter().chain(&o.references) {
        let Some(v) = g.get(&reread_path(r)).await? else {
            return Ok(Fresh::Stale(format!("{} vanished since the plan", r.id)));
        };
        let fp = match entity::fingerprint(r.resource, &v) {
            Ok(fp) => fp,
            Err(e) => return Ok(Fresh::Stale(format!("{} can no longer be read: {e}", r.id))),
        };
        if fp != r.fingerprint {
            // Name what moved; a timestamp that did not move is not shown as if it had.
            let now = entity::field_digests(r.resource, &v).unwrap_or_default();
            let why = entity::stale_reason(
                &r.fields,
                &now,
                r.last_modified.as_deref(),
                v.get("lastModifiedDateTime").and_then(Value::as_str),
            );
            return Ok(Fresh::Stale(format!(
                "{} changed since the plan: {why}",
                r.id
            )));
        }
        // Directory role assignments carry no marker (and are never deleted).
        if o.action == Action::Delete
            && o.observed.contains(r)
            && r.resource != crate::plan::Resource::DirectoryRoleAssignment
            && entity::marker_of(&v).as_deref() != Some(o.address.name.as_str())
        {
            return Ok(Fresh::Stale(format!(
                "{} no longer carries the marker [rampart:{}]; it is not deleted",
                r.id, o.address.name
            )));
        }
    }
    let observed: BTreeSet<String> = o.observed.iter().map(|r| r.id.clone()).collect();
    for rq in &o.requests {
        if !matches!(
            rq.purpose,
            RequestPurpose::Create | RequestPurpose::CreateRoleDefinition
        ) {
            continue;
        }
        let Some(body) = &rq.body else { continue };
        let path = list_path(&rq.path);
        let fetched;
        let items = match lists.by_path.get(&path) {
            Some(items) => items,
            None => {
                fetched = g.list(&path).await?;
                &fetched
            }
        };
        if let Some((id, why)) = find_existing(
            &rq.path,
            items,
            body,
            &o.address.name,
            o.address.kind,
            &observed,
            true,
        ) {
            return Ok(Fresh::Stale(format!("{why} (id {id}) since the plan")));
        }
    }
    Ok(Fresh::Ok)
}

/// Group names resolve to ids at plan time, and those ids go into assignment bodies and
/// role-assignment principals. They are not fingerprinted objects, so apply resolves every
/// recorded name again (a few at a time) before the tenant's first write: a name that now
/// gives other ids (a group renamed or re-created, or a plan file whose recorded
/// observation was edited to point a grant at another group) stops the tenant.
async fn groups_moved(g: &dyn TenantGraph, tp: &TenantPlan) -> Option<String> {
    let observation = tp.observation.as_ref()?;
    let names: Vec<(&String, &Vec<String>)> = observation.groups.by_name.iter().collect();
    type Answer<'a> = (&'a String, &'a Vec<String>, Result<Vec<Value>, CallError>);
    let answers: Vec<Answer<'_>> =
        futures::stream::iter(names.into_iter().map(|(name, ids)| async move {
            let r = g.list(&crate::graph::client::group_filter_path(name)).await;
            (name, ids, r)
        }))
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    let mut moved = Vec::new();
    for (name, recorded, answer) in answers {
        match answer {
            Ok(items) => {
                let mut now: Vec<String> = items
                    .iter()
                    .filter(|v| s(v, "displayName") == name.as_str())
                    .map(|v| s(v, "id").to_string())
                    .collect();
                now.sort();
                let mut was = recorded.clone();
                was.sort();
                if now != was {
                    moved.push(format!(
                        "group {name:?} resolved to [{}] at plan time but to [{}] now",
                        was.join(", "),
                        now.join(", ")
                    ));
                }
            }
            Err(e) => moved.push(format!("group {name:?} cannot be resolved again: {e}")),
        }
    }
    (!moved.is_empty()).then(|| {
        format!(
            "nothing is written to this tenant: {}; plan again",
            moved.join("; ")
        )
    })
}

/// Filter names resolve to ids at plan time like group names (see [`groups_moved`]): apply
/// reads the tenant's filters again (one list, every page) before the tenant's first write,
/// and a recorded name that now gives other ids (a filter renamed, re-created or deleted)
/// stops the tenant.
async fn filters_moved(g: &dyn TenantGraph, tp: &TenantPlan) -> Option<String> {
    let observation = tp.observation.as_ref()?;
    if observation.filters.is_empty() {
        return None;
    }
    let now = match g.list(crate::fetch::FILTERS_PATH).await {
        Ok(items) => crate::plan::FilterDirectory::from_graph(&items),
        Err(e) => {
            return Some(format!(
                "nothing is written to this tenant: assignment filters cannot be read again: {e}; plan again"
            ));
        }
    };
    let moved: Vec<String> = observation
        .filters
        .by_name
        .iter()
        .filter_map(|(name, was)| {
            let now = now.by_name.get(name).cloned().unwrap_or_default();
            (&now != was).then(|| {
                format!(
                    "assignment filter {name:?} resolved to [{}] at plan time but to [{}] now",
                    was.join(", "),
                    now.join(", ")
                )
            })
        })
        .collect();
    (!moved.is_empty()).then(|| {
        format!(
            "nothing is written to this tenant: {}; plan again",
            moved.join("; ")
        )
    })
}

/// Replaces the create placeholders in a path or a body.
fn substitute(s: &str, ids: &BTreeMap<&'static str, String>) -> String {
    let mut out = s.to_string();
    for (ph, id) in ids {
        out = out.replace(ph, id);
    }
    out
}

fn substitute_value(v: &Value, ids: &BTreeMap<&'static str, String>) -> Value {
    match v {
        Value::String(s) => Value::String(substitute(s, ids)),
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute_value(x, ids)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| (k.clone(), substitute_value(x, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// What was written to one entity, for verification.
#[derive(Default)]
struct Written {
    kind: Option<EntityKind>,
    body: Option<Value>,
    assignments: Option<Value>,
    created: bool,
    deleted: bool,
}

struct ObjectRun<'a> {
    g: &'a dyn TenantGraph,
    opts: &'a ApplyOptions,
    o: &'a ObjectPlan,
    result: ObjectResult,
    ids: BTreeMap<&'static str, String>,
    written: BTreeMap<String, Written>,
    /// Objects this run created that carry the marker: (collection path, id).
    created: Vec<(String, String)>,
    /// Created objects kept by the first convergence look although Graph gives them no
    /// `createdDateTime`: looked at once more after verification.
    recheck: Vec<(String, String)>,
}

impl<'a> ObjectRun<'a> {
    fn new(g: &'a dyn TenantGraph, opts: &'a ApplyOptions, o: &'a ObjectPlan) -> Self {
        ObjectRun {
            g,
            opts,
            o,
            result: ObjectResult {
                address: o.address.to_string(),
                action: o.action,
                outcome: Outcome::Applied,
                writes: 0,
                created_ids: Vec::new(),
                messages: Vec::new(),
            },
            ids: BTreeMap::new(),
            written: BTreeMap::new(),
            created: Vec::new(),
            recheck: Vec::new(),
        }
    }

    /// Sends a create exactly once; returns the new object's id.
    async fn create(&mut self, path: &str, body: &Value) -> Result<String, CallError> {
        let attempts = self.opts.ambiguous_attempts.max(1);
        let mut last = None;
        for attempt in 0..attempts {
            match self.g.write(HttpMethod::Post, path, Some(body)).await {
                Ok(resp) => {
                    self.result.writes += 1;
                    let id = Some(s(&resp, "id").to_string())
                        .filter(|i| !i.is_empty())
                        .or_else(|| Some(s(body, "id").to_string()).filter(|i| !i.is_empty()));
                    return id.ok_or_else(|| CallError::Other {
                        detail: format!("POST {path}: the create answer carries no id"),
                    });
                }
                Err(e @ CallError::Ambiguous { .. }) => {
                    self.pause(attempt).await;
                    // Did it happen? Look for the object by its marker (rules: by id)
                    // before sending it again.
                    if let Some(id) = self.lookup_created(path, body).await? {
                        self.result.writes += 1;
                        self.result.messages.push(format!(
                            "create recovered after an ambiguous failure ({e}): found {id} by its marker"
                        ));
                        return Ok(id);
                    }
                    last = Some(e);
                }
                // Entra answers a duplicate directory role assignment with 400 "A
                // conflicting object ... is present in the directory" (not 409): the same
                // (role, principal, scope) made by a concurrent apply is ours to use.
                Err(e @ CallError::Http { status: 400, .. })
                    if EntityPath::parse(path).map(|p| p.kind)
                        == Some(EntityKind::RoleAssignment(
                            crate::desired::RbacSystem::Directory,
                        ))
                        && e.to_string().contains("conflicting object") =>
                {
                    if let Some(id) = self.lookup_created(path, body).await? {
                        self.result.messages.push(format!(
                            "create answered that the same directory role assignment exists ({id}); used it"
                        ));
                        return Ok(id);
                    }
                    return Err(e);
                }
                Err(e @ CallError::Http { status: 409, .. }) => {
                    // A conflict on a client-chosen id: ours if it carries our marker (an
                    // earlier attempt that we did not hear back from).
                    if let Some(id) = self.lookup_created(path, body).await? {
                        self.result.messages.push(format!(
                            "create answered 409 but the object carrying the marker exists ({id}); used it"
                        ));
                        return Ok(id);
                    }
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(CallError::Other {
            detail: format!("POST {path}: no attempt made"),
        }))
    }

    /// Backs off after an unknown outcome (doubling, capped at 32x).
    async fn pause(&self, attempt: u32) {
        let d = self.opts.ambiguous_backoff * (1u32 << attempt.min(5));
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    /// Finds an object this create may already have made.
    async fn lookup_created(&self, path: &str, body: &Value) -> Result<Option<String>, CallError> {
        let name = self.o.address.name.as_str();
        if EntityPath::parse(path).map(|p| p.kind) == Some(EntityKind::Rule) {
            let id = s(body, "id");
            if let Some(v) = self.g.get(&format!("{}/{id}", entity::RULES)).await?
                && entity::marker_of(&v).as_deref() == Some(name)
            {
                return Ok(Some(id.to_string()));
            }
            return Ok(None);
        }
        let items = self.g.list(&list_path(path)).await?;
        let exclude: BTreeSet<String> = self.o.observed.iter().map(|r| r.id.clone()).collect();
        Ok(find_existing(
            path,
            &items,
            body,
            name,
            self.o.address.kind,
            &exclude,
            false,
        )
        .map(|(id, _)| id))
    }

    /// Sends a write that is idempotent in effect, again after an ambiguous outcome.
    async fn resend(
        &mut self,
        method: HttpMethod,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), CallError> {
        let attempts = self.opts.ambiguous_attempts.max(1);
        let mut last = None;
        for attempt in 0..attempts {
            match self.g.write(method, path, body).await {
                Ok(_) => {
                    self.result.writes += 1;
                    return Ok(());
                }
                // A DELETE that finds nothing: an earlier attempt (or someone) removed it.
                Err(CallError::Http { status: 404, .. }) if method == HttpMethod::Delete => {
                    return Ok(());
                }
                Err(e @ CallError::Ambiguous { .. }) => {
                    self.pause(attempt).await;
                    last = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(CallError::Other {
            detail: format!("{method:?} {path}: no attempt made"),
        }))
    }

    async fn send(&mut self, rq: &PlannedRequest) -> Result<(), CallError> {
        let path = substitute(&rq.path, &self.ids);
        let body = rq.body.as_ref().map(|b| substitute_value(b, &self.ids));
        let ep = EntityPath::parse(&path);
        match (rq.purpose, rq.method) {
            (RequestPurpose::Create | RequestPurpose::CreateRoleDefinition, HttpMethod::Post) => {
                let b = body.clone().unwrap_or(Value::Null);
                let id = self.create(&path, &b).await?;
                let ph = if rq.purpose == RequestPurpose::Create {
                    CREATED_ID
                } else {
                    CREATED_ROLE_DEFINITION_ID
                };
                self.ids.insert(ph, id.clone());
                self.result.created_ids.push(id.clone());
                if ep.as_ref().is_some_and(|p| carries_marker(p.kind)) {
                    self.created.push((path.clone(), id.clone()));
                }
                let w = self.written.entry(format!("{path}/{id}")).or_default();
                w.kind = ep.map(|p| p.kind);
                w.body = body;
                w.created = true;
                w.deleted = false;
            }
            (_, method) => {
                self.resend(method, &path, body.as_ref()).await?;
                if let Some(ep) = ep
                    && let Some(e) = ep.entity()
                {
                    let w = self.written.entry(e).or_default();
                    w.kind = Some(ep.kind);
                    if method == HttpMethod::Delete {
                        w.deleted = true;
                    } else if ep.assign {
                        w.assignments = body.and_then(|b| b.get("assignments").cloned());
                    } else {
                        w.body = body;
                    }
                }
            }
        }
        Ok(())
    }

    /// Convergence without a lock: another apply may have created the same object at the
    /// same time (both saw nothing at their freshness check). For each object this run
    /// created, the collection is listed; when several objects carry the marker, every
    /// apply keeps the same one, the oldest (`createdDateTime`, then id), and the apply
    /// whose copy is newer deletes its own. The rule needs no coordination: both sides
    /// compute the same survivor.
    async fn converge(
        &mut self,
        lists: &mut BTreeMap<String, Vec<Value>>,
    ) -> Result<(), CallError> {
        let created = std::mem::take(&mut self.created);
        let name = self.o.address.name.clone();
        for (collection, id) in created {
            let path = list_path(&collection);
            if !lists.contains_key(&path) {
                let items = self.g.list(&path).await?;
                lists.insert(path.clone(), items);
            }
            let items = &lists[&path];
            let ours = items.iter().find(|v| s(v, "id") == id);
            let kind = ours.and_then(entity::policy_kind);
            let mut carriers: Vec<&Value> = items
                .iter()
                .filter(|v| {
                    entity::marker_of(v).as_deref() == Some(name.as_str())
                        && entity::policy_kind(v) == kind
                })
                .collect();
            // Parsed, not compared as text: Graph does not promise one number of
            // fractional digits. An unparsable time sorts last (never kept over a dated one).
            let created = |v: &Value| {
                time::OffsetDateTime::parse(
                    s(v, "createdDateTime"),
                    &time::format_description::well_known::Rfc3339,
                )
                .ok()
            };
            let Some(ours) = ours else { continue };
            if created(ours).is_none() {
                // No date to order by: the keeper is the smallest id, which is only safe
                // once both copies are visible; look again later.
                self.recheck.push((collection.clone(), id.clone()));
            }
            if carriers.len() < 2 {
                continue;
            }
            carriers.sort_by(|a, b| {
                let (ca, cb) = (created(a), created(b));
                (ca.is_none(), ca, s(a, "id")).cmp(&(cb.is_none(), cb, s(b, "id")))
            });
            let keep = s(carriers[0], "id").to_string();
            if keep == id {
                self.result.messages.push(format!(
                    "another apply created {} more object(s) carrying this marker at the same time; this apply's ({id}) is kept (the oldest, or the smallest id where Graph gives no date; the other apply removes its copy)",
                    carriers.len() - 1
                ));
                continue;
            }
            self.resend(HttpMethod::Delete, &format!("{collection}/{id}"), None)
                .await?;
            self.result.messages.push(format!(
                "another apply created this object at the same time ({keep}, older): removed this apply's copy {id}"
            ));
            self.result.created_ids.retain(|c| c != &id);
            if let Some(w) = self.written.get_mut(&format!("{collection}/{id}")) {
                w.deleted = true;
            }
            for v in self.ids.values_mut() {
                if *v == id {
                    *v = keep.clone();
                }
            }
        }
        Ok(())
    }

    /// Reads back every entity written and compares it with the plan's intent.
    async fn verify(&mut self) -> Result<(), CallError> {
        let written = std::mem::take(&mut self.written);
        let mut problems = Vec::new();
        for (path, w) in &written {
            let Some(kind) = w.kind else { continue };
            let ep = EntityPath::parse(path);
            let read = ep
                .as_ref()
                .and_then(EntityPath::read_path)
                .unwrap_or_else(|| path.clone());
            let got = self.g.get(&read).await?;
            match (w.deleted, got) {
                (true, None) => {}
                (true, Some(_)) => problems.push(format!("{path} still exists after its deletion")),
                (false, None) => problems.push(format!("{path} is missing after it was written")),
                (false, Some(v)) => {
                    let id = ep.and_then(|p| p.id).unwrap_or_default();
                    let want = entity::intended(&id, w.body.as_ref(), w.assignments.as_ref());
                    let want = if kind == EntityKind::Policy && w.created && w.assignments.is_none()
                    {
                        // A new policy without an /assign request has no assignments.
                        let mut m = want;
                        m["assignments"] = Value::Array(vec![]);
                        m
                    } else {
                        want
                    };
                    let cmp_assign =
                        w.assignments.is_some() || (w.created && kind == EntityKind::Policy);
                    match entity::differences(kind, &want, &v, w.body.is_some(), cmp_assign) {
                        Ok(d) if d.is_empty() => {}
                        Ok(d) => problems.push(format!(
                            "read-back of {path} differs from the plan in: {}",
                            d.join(", ")
                        )),
                        Err(e) => {
                            problems.push(format!("read-back of {path} cannot be compared: {e}"))
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            self.result.outcome = Outcome::Inconsistent;
            self.result.messages.extend(problems);
        }
        Ok(())
    }
}

/// Whether objects of this kind carry rampart's marker (Entra directory role assignments
/// and detection rules do not need convergence: the first has no description, the second
/// a client-chosen id that Graph refuses to duplicate).
fn carries_marker(kind: EntityKind) -> bool {
    matches!(
        kind,
        EntityKind::Policy
            | EntityKind::RoleDefinition(_)
            | EntityKind::RoleAssignment(
                crate::desired::RbacSystem::Defender | crate::desired::RbacSystem::Intune
            )
    )
}

fn skipped(o: &ObjectPlan, outcome: Outcome, why: String) -> ObjectResult {
    ObjectResult {
        address: o.address.to_string(),
        action: o.action,
        outcome,
        writes: 0,
        created_ids: Vec::new(),
        messages: vec![why],
    }
}

/// Applies one tenant's plan with its own Graph connection.
pub async fn apply_tenant(
    tp: &TenantPlan,
    g: Arc<dyn TenantGraph>,
    opts: &ApplyOptions,
) -> TenantReport {
    let g: &dyn TenantGraph = g.as_ref();
    let mut counts = Counts::default();
    let mut tenant_error: Option<String> = None;
    if let Some(why) = errored_tenant(tp) {
        tenant_error = Some(why);
    }
    // Creates and updates in address order, then deletions.
    let mut order: Vec<&ObjectPlan> = tp
        .objects
        .iter()
        .filter(|o| o.action.writes() && !o.requests.is_empty())
        .collect();
    counts.unchanged = tp.objects.len() - order.len();
    order.sort_by(|a, b| {
        ((a.action == Action::Delete), &a.address).cmp(&((b.action == Action::Delete), &b.address))
    });

    // 1. Freshness of every object before the tenant's first write. The collections that
    // creates must not duplicate are listed once, and the re-reads run a few at a time.
    let list_paths: BTreeSet<String> = order
        .iter()
        .flat_map(|o| &o.requests)
        .filter(|rq| {
            rq.body.is_some()
                && matches!(
                    rq.purpose,
                    RequestPurpose::Create | RequestPurpose::CreateRoleDefinition
                )
        })
        .map(|rq| list_path(&rq.path))
        .collect();
    if tenant_error.is_none()
        && !order.is_empty()
        && let Some(why) = match groups_moved(g, tp).await {
            Some(why) => Some(why),
            None => filters_moved(g, tp).await,
        }
    {
        tenant_error = Some(why);
    }
    let lists = if tenant_error.is_none() {
        Lists::prefetch(g, list_paths).await
    } else {
        Lists::default()
    };
    let checks: Vec<Option<Result<Fresh, CallError>>> =
        futures::stream::iter(order.iter().map(|o| {
            let skip = tenant_error.is_some();
            let lists = &lists;
            async move {
                if skip {
                    None
                } else {
                    Some(check_fresh(g, o, lists).await)
                }
            }
        }))
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    let mut fresh: Vec<Option<ObjectResult>> = Vec::with_capacity(order.len());
    let mut stale_ids: BTreeSet<String> = BTreeSet::new();
    for (o, check) in order.iter().zip(checks) {
        if tenant_error.is_some() {
            fresh.push(Some(skipped(
                o,
                Outcome::Skipped,
                "not attempted: the tenant is unreachable (see its error)".to_string(),
            )));
            continue;
        }
        match check {
            None | Some(Ok(Fresh::Ok)) => fresh.push(None),
            Some(Ok(Fresh::Stale(why))) => {
                stale_ids.extend(o.observed.iter().map(|r| r.id.clone()));
                fresh.push(Some(skipped(o, Outcome::Stale, why)));
            }
            Some(Err(e)) => {
                if e.tenant_wide() {
                    tenant_error = Some(e.to_string());
                }
                fresh.push(Some(skipped(
                    o,
                    Outcome::Failed,
                    format!("cannot check it is unchanged since the plan: {e}"),
                )));
            }
        }
    }
    // Objects sharing a Graph object with a stale one are not independent of it.
    for (i, o) in order.iter().enumerate() {
        if fresh[i].is_none() && o.observed.iter().any(|r| stale_ids.contains(&r.id)) {
            fresh[i] = Some(skipped(
                o,
                Outcome::Skipped,
                "shares a Graph object with a stale object".to_string(),
            ));
        }
    }

    // 2. Writes, object by object, in order (pacing, and ids flow from one request to the
    // next within an object).
    let mut slots: Vec<Option<ObjectResult>> = Vec::with_capacity(order.len());
    let mut to_verify: Vec<(usize, ObjectRun<'_>)> = Vec::new();
    for (i, (o, pre)) in order.iter().zip(fresh).enumerate() {
        if let Some(r) = pre {
            slots.push(Some(r));
            continue;
        }
        if tenant_error.is_some() {
            slots.push(Some(skipped(
                o,
                Outcome::Skipped,
                "not attempted: the tenant is unreachable (see its error)".to_string(),
            )));
            continue;
        }
        let mut run = ObjectRun::new(g, opts, o);
        let mut failed = None;
        for rq in &o.requests {
            if let Err(e) = run.send(rq).await {
                failed = Some(e);
                break;
            }
        }
        match failed {
            Some(e) => {
                if e.tenant_wide() {
                    tenant_error = Some(e.to_string());
                }
                run.result.outcome = Outcome::Failed;
                let done = run.result.writes;
                run.result.messages.push(if done == 0 {
                    format!("nothing written: {e}")
                } else {
                    format!("{done} of {} writes done, then: {e}", o.requests.len())
                });
                slots.push(Some(run.result));
            }
            None => {
                slots.push(None);
                to_verify.push((i, run));
            }
        }
    }

    // 2b. Convergence with concurrent applies (see `ObjectRun::converge`): collections
    // are listed once, after every create of the tenant.
    let mut converge_lists: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (_, run) in &mut to_verify {
        if tenant_error.is_some() {
            break;
        }
        if let Err(e) = run.converge(&mut converge_lists).await {
            if e.tenant_wide() {
                tenant_error = Some(e.to_string());
            }
            run.result.outcome = Outcome::Failed;
            run.result
                .messages
                .push(format!("cannot check for a concurrent apply's copy: {e}"));
        }
    }
    if !opts.verify {
        for (i, run) in to_verify.drain(..) {
            slots[i] = Some(run.result);
        }
    }

    // 3. Verification: read every written object back, a few at a time.
    let verified: Vec<(usize, ObjectRun<'_>, Option<CallError>)> =
        futures::stream::iter(to_verify.into_iter().map(|(i, mut run)| async move {
            let r = run.verify().await;
            (i, run, r.err())
        }))
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    // 3b. Objects Graph gives no createdDateTime (Defender and Intune role assignments)
    // are converged again now, some round trips later: a concurrent apply's copy made
    // after the first look is seen here, and of two copies the larger id is removed by its
    // creator (see `ObjectRun::converge`).
    let mut recheck_lists: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut verified_runs = verified;
    for (_, run, _) in &mut verified_runs {
        if tenant_error.is_some() || run.recheck.is_empty() {
            continue;
        }
        run.created = std::mem::take(&mut run.recheck);
        if let Err(e) = run.converge(&mut recheck_lists).await {
            if e.tenant_wide() {
                tenant_error = Some(e.to_string());
            }
            run.result.messages.push(format!(
                "cannot check again for a concurrent apply's copy: {e}"
            ));
        }
    }
    let verified: Vec<(usize, ObjectResult, Option<CallError>)> = verified_runs
        .into_iter()
        .map(|(i, run, e)| (i, run.result, e))
        .collect();
    for (i, mut result, err) in verified {
        if let Some(e) = err {
            if e.tenant_wide() && tenant_error.is_none() {
                tenant_error = Some(e.to_string());
            }
            result.outcome = Outcome::Inconsistent;
            result
                .messages
                .push(format!("written, but cannot be read back: {e}"));
        }
        slots[i] = Some(result);
    }
    let results: Vec<ObjectResult> = slots.into_iter().flatten().collect();
    for r in &results {
        counts.add(r.outcome);
    }
    TenantReport {
        tenant: tp.tenant.clone(),
        tenant_id: tp.tenant_id.clone(),
        error: tenant_error,
        counts,
        objects: results,
        requests: g.stats(),
    }
}

/// Why a tenant's plan must not be applied at all (isolation: the engine skips it and
/// reports this; the other tenants are applied). A tenant that failed at plan time, or
/// with any object in error (its plan is incomplete, e.g. a marker found on two objects).
pub fn errored_tenant(tp: &TenantPlan) -> Option<String> {
    if let TenantStatus::Failed { error } = &tp.status {
        return Some(format!("the tenant failed at plan time: {error}"));
    }
    let errors: Vec<String> = tp
        .objects
        .iter()
        .filter(|o| o.action == Action::Error)
        .map(|o| {
            format!(
                "{}: {}",
                o.address,
                o.error.as_deref().unwrap_or("cannot be planned")
            )
        })
        .collect();
    if errors.is_empty() {
        None
    } else {
        Some(format!(
            "nothing is written to this tenant: its plan has {} error(s): {}",
            errors.len(),
            errors.join("; ")
        ))
    }
}

/// The report of a tenant that could not be connected at all: every object skipped.
pub fn unreachable_tenant(tp: &TenantPlan, error: String) -> TenantReport {
    let mut counts = Counts::default();
    let mut objects = Vec::new();
    for o in &tp.objects {
        if o.action.writes() && !o.requests.is_empty() {
            let r = skipped(
                o,
                Outcome::Skipped,
                "not attempted: the tenant is unreachable (see its error)".to_string(),
            );
            counts.add(r.outcome);
            objects.push(r);
        } else {
            counts.unchanged += 1;
        }
    }
    TenantReport {
        tenant: tp.tenant.clone(),
        tenant_id: tp.tenant_id.clone(),
        error: Some(error),
        counts,
        objects,
        requests: super::graph::CallStats::default(),
    }
}
