//! Fetch: reads what a tenant holds from Graph into the planner's observed types, with as
//! few round trips as Graph allows, and plans a whole fleet.
//!
//! Per tenant, one `$batch` carries every first page the plan needs: configuration
//! policies of the managed endpoint-security and settings-catalog families, detection rules,
//! the assignment filters (when an assignment uses one: names resolve per tenant, read once
//! per run), and role definitions/assignments of every RBAC system
//! rampart may have written to (Defender and Intune always, so that removed access is
//! revoked; Entra directory roles when the desired state uses them). Group names are resolved at the same time (the Graph
//! client batches and caches them, once per tenant per run). Further pages and expanded
//! settings and assignments that Graph paged are followed afterwards (every nextLink, at every
//! level, through the client's `complete_navigation`); a second small batch names group ids
//! seen in assignments that the desired state does not name (for readable plans).
//!
//! Configuration policies are read one of two ways ([`PolicyReads`]). `Batched` (the
//! default) lists only their ids (`$select=id`, which Graph pages by 25 or by `$top`), then
//! reads each policy with `$expand=settings,assignments` inside `$batch`es of 20 sent at the
//! same time: the cost does not depend on how few policies Graph puts in an expanded list's
//! page. `Expanded` lists them with `$expand` directly: one request per page, which is cheap
//! only when Graph's pages are large (public reports say they hold 1-2 policies; unverified).
//! Either way every `@odata.nextLink` is followed: the list's, and an expanded policy's
//! `settings@odata.nextLink` and `assignments@odata.nextLink`. `rampart bench plan
//! --policy-reads` measures both.
//!
//! [`plan_fleet`] runs tenants with bounded parallelism (never two tasks on one tenant);
//! one tenant's failure becomes a failed [`TenantPlan`] and never stops the others; the
//! plan is assembled in tenant-name order, so its bytes do not depend on which tenant
//! answered first.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::num::NonZeroUsize;
use std::sync::Arc;

use serde_json::Value;

use crate::desired::{AssignmentTarget, DesiredObject, RbacSystem, TenantDesired};
use crate::graph::auth::TenantAuth;
use crate::graph::client::{BatchRequest, GraphClient, GraphContext, GroupError};
use crate::graph::error::GraphError;
use crate::graph::fleet::run_per_tenant;
use crate::plan::observed::{
    FilterDirectory, ObservedConfigurationPolicy, ObservedDetectionRule, ObservedRbac,
    ObservedRoleAssignment, ObservedRoleDefinition, ObservedTarget, ObservedTenant, Unreadable,
};
use crate::plan::{CreatedFrom, Plan, TenantPlan, diff_tenant, inputs_digest};

/// The template families rampart manages (graph-api.md §1.4, graph-api-2.md §5): one per
/// configuration-policy kind, `none` included (plain settings-catalog policies).
fn families() -> impl Iterator<Item = &'static str> {
    crate::desired::Kind::ALL
        .into_iter()
        .filter_map(crate::desired::Kind::template_family)
}

/// Why a tenant could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(transparent)]
    Graph(Box<GraphError>),
    #[error("tenant {tenant}: {what}: {source}")]
    Batch {
        tenant: String,
        what: &'static str,
        #[source]
        source: Box<GraphError>,
    },
    #[error("tenant {tenant}: looking up groups failed: {message}")]
    Groups { tenant: String, message: String },
    #[error("tenant {tenant}: unexpected answer for {what}")]
    Shape { tenant: String, what: &'static str },
}

impl From<GraphError> for FetchError {
    fn from(e: GraphError) -> Self {
        FetchError::Graph(Box::new(e))
    }
}

/// How configuration policies are read; see the module doc.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PolicyReads {
    /// List ids, then `GET {id}?$expand=settings,assignments` in concurrent `$batch`es.
    #[default]
    Batched,
    /// List with `$expand=settings,assignments` (one request per list page).
    Expanded,
}

fn families_filter() -> String {
    let filter = families()
        .map(|f| format!("templateReference/templateFamily eq '{f}'"))
        .collect::<Vec<_>>()
        .join(" or ");
    crate::graph::client::percent_encode_query(&filter)
}

/// The configuration-policy list path: the managed families, settings and assignments
/// expanded (one request per page instead of one per policy).
pub fn policies_path() -> String {
    format!(
        "/beta/deviceManagement/configurationPolicies?$filter={}&$expand=settings,assignments",
        families_filter()
    )
}

/// The configuration-policy list path of [`PolicyReads::Batched`]: the managed families, ids
/// only, 100 per page (`$top`; whether Graph honours it on this list is unverified, and a
/// smaller page only costs more nextLinks).
pub fn policy_ids_path() -> String {
    format!(
        "/beta/deviceManagement/configurationPolicies?$filter={}&$select=id&$top=100",
        families_filter()
    )
}

/// One policy with its settings and assignments expanded (Graph: policy-get with
/// `$expand`; an expanded `settings` may be paged behind `settings@odata.nextLink`).
pub fn policy_path(id: &str) -> String {
    format!("/beta/deviceManagement/configurationPolicies/{id}?$expand=settings,assignments")
}

/// The detection-rule list path.
pub const RULES_PATH: &str = "/beta/security/rules/detectionRules";

/// The tenant's assignment filters, for resolving filter names
/// (deviceAndAppManagementAssignmentFilter list; `platform` says what a filter applies to).
pub const FILTERS_PATH: &str =
    "/beta/deviceManagement/assignmentFilters?$select=id,displayName,platform";

/// True when a desired assignment carries a filter: the tenant's filters are then read,
/// to resolve names to ids and to show ids read back by name.
fn uses_filters(desired: &TenantDesired) -> bool {
    desired.objects.values().any(|o| match o {
        DesiredObject::ConfigurationPolicy(p) => p.assignments.iter().any(|a| a.filter.is_some()),
        _ => false,
    })
}

/// List paths of an RBAC system: (role definitions, role assignments).
pub fn rbac_paths(system: RbacSystem) -> (&'static str, &'static str) {
    match system {
        RbacSystem::Defender => (
            "/beta/roleManagement/defender/roleDefinitions",
            "/beta/roleManagement/defender/roleAssignments",
        ),
        RbacSystem::Intune => (
            "/beta/deviceManagement/roleDefinitions",
            "/beta/deviceManagement/roleAssignments?$expand=roleDefinition($select=id)",
        ),
        RbacSystem::Directory => (
            "/v1.0/roleManagement/directory/roleDefinitions",
            "/v1.0/roleManagement/directory/roleAssignments",
        ),
    }
}

/// Group names the desired state refers to (assignments, role principals, Intune scopes).
pub fn desired_group_names(desired: &TenantDesired) -> Vec<String> {
    let mut names = BTreeSet::new();
    for o in desired.objects.values() {
        match o {
            DesiredObject::ConfigurationPolicy(p) => {
                for a in &p.assignments {
                    match &a.target {
                        AssignmentTarget::Group { group }
                        | AssignmentTarget::ExcludeGroup { group } => {
                            names.insert(group.clone());
                        }
                        _ => {}
                    }
                }
            }
            DesiredObject::RoleAssignment(r) => {
                names.extend(r.groups.iter().cloned());
                if r.system == RbacSystem::Intune {
                    names.extend(r.scopes.iter().filter(|s| *s != "/").cloned());
                }
            }
            DesiredObject::DetectionRule(_) => {}
        }
    }
    names.into_iter().collect()
}

fn rbac_systems(desired: &TenantDesired) -> BTreeSet<RbacSystem> {
    desired
        .objects
        .values()
        .filter_map(|o| match o {
            DesiredObject::RoleAssignment(r) => Some(r.system),
            _ => None,
        })
        .collect()
}

fn items(body: &Value) -> Vec<Value> {
    body.get("value")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// A whole collection from its batched first page: the first page's items with their
/// paged navigation collections completed (`settings@odata.nextLink` of an expanded policy),
/// then every further page (`@odata.nextLink`), completed the same way by the client. Links
/// outside the Graph base's origin are refused (our token stays home).
async fn collection(client: &GraphClient, first: &Value) -> Result<Vec<Value>, FetchError> {
    let mut all = items(first);
    for item in &mut all {
        client.complete_navigation(item).await?;
    }
    if let Some(link) = first.get("@odata.nextLink").and_then(Value::as_str) {
        all.extend(client.follow_next_link(link).await?);
    }
    Ok(all)
}

/// The configuration policies of a tenant, whole (settings and assignments with every
/// page), from the batched first page of the list `reads` chose.
async fn read_policies(
    client: &GraphClient,
    first: &Value,
    reads: PolicyReads,
) -> Result<Vec<Value>, FetchError> {
    let tenant = client.tenant_id().to_string();
    let listed = collection(client, first).await?;
    let mut policies = match reads {
        PolicyReads::Expanded => listed,
        PolicyReads::Batched => {
            let ids: Vec<String> = listed
                .iter()
                .filter_map(|p| p.get("id").and_then(Value::as_str))
                .map(str::to_string)
                .collect();
            // One `$batch` per 20 policies, all at once: the tenant waits one latency
            // for them, not one per batch.
            let batches = ids.chunks(crate::graph::client::MAX_BATCH).map(|chunk| {
                client.batch(
                    chunk
                        .iter()
                        .map(|id| BatchRequest::get(id.clone(), policy_path(id)))
                        .collect(),
                )
            });
            let mut out = Vec::with_capacity(ids.len());
            for answer in futures::future::try_join_all(batches)
                .await?
                .into_iter()
                .flatten()
            {
                // Deleted between the list and the read: Graph no longer holds it.
                if answer.status == 404 {
                    continue;
                }
                out.push(
                    answer
                        .into_result(&tenant)
                        .map_err(|source| FetchError::Batch {
                            tenant: tenant.clone(),
                            what: "reading configuration policies",
                            source: Box::new(source),
                        })?,
                );
            }
            out
        }
    };
    // Graph may page an expanded navigation (settings by 25): the client reads the rest of
    // each (every nextLink, at every level).
    for p in &mut policies {
        client.complete_navigation(p).await?;
    }
    Ok(policies)
}

/// Reads one tenant. Errors are about the tenant as a whole (permission, network...);
/// objects that cannot be parsed become `unreadable` entries for the planner.
pub async fn fetch_tenant(
    client: &GraphClient,
    desired: &TenantDesired,
) -> Result<ObservedTenant, FetchError> {
    fetch_tenant_with(client, desired, PolicyReads::default()).await
}

/// [`fetch_tenant`] with the policy reads chosen.
pub async fn fetch_tenant_with(
    client: &GraphClient,
    desired: &TenantDesired,
    reads: PolicyReads,
) -> Result<ObservedTenant, FetchError> {
    let tenant = client.tenant_id().to_string();
    let used = rbac_systems(desired);
    // Revocation: every RBAC system whose objects carry rampart's marker is read on every
    // plan, whether or not today's desired state uses it, so that an assignment whose last
    // selector was removed from YAML is found (and deleted where removal is allowed).
    // Directory role assignments carry no marker (rampart never deletes them), so that
    // system is read only when used.
    let mut systems = used.clone();
    systems.extend([RbacSystem::Defender, RbacSystem::Intune]);
    let mut requests = vec![
        BatchRequest::get(
            "policies",
            match reads {
                PolicyReads::Batched => policy_ids_path(),
                PolicyReads::Expanded => policies_path(),
            },
        ),
        BatchRequest::get("rules", RULES_PATH),
    ];
    let filters = uses_filters(desired);
    if filters {
        requests.push(BatchRequest::get("filters", FILTERS_PATH));
    }
    for s in &systems {
        let (defs, assigns) = rbac_paths(*s);
        requests.push(BatchRequest::get(format!("{s:?}-definitions"), defs));
        requests.push(BatchRequest::get(format!("{s:?}-assignments"), assigns));
    }
    let names = desired_group_names(desired);
    // The group look-ups travel in the same `$batch` as the other v1.0 lists (directory
    // roles), and the v1.0 and beta batches at the same time: one round trip of latency,
    // and one per API version.
    let (beta, mut v1): (Vec<BatchRequest>, Vec<BatchRequest>) = requests
        .into_iter()
        .partition(|r| r.url.starts_with("/beta/"));
    let group_requests = GraphClient::group_lookups(&names);
    let lookups = group_requests.len();
    v1.splice(0..0, group_requests);
    let (answers, v1_answers) = tokio::join!(client.batch(beta), client.batch(v1));
    let mut answers = answers?;
    let mut v1_answers = v1_answers?;
    let rest = v1_answers.split_off(lookups.min(v1_answers.len()));
    let groups = client.record_group_answers(names, v1_answers);
    answers.extend(rest);
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let mut skipped: BTreeSet<String> = BTreeSet::new();
    for a in answers {
        let id = a.id.clone();
        let what: &'static str = match id.as_str() {
            "policies" => "listing configuration policies",
            "rules" => "listing detection rules",
            "filters" => "listing assignment filters",
            _ => "listing role definitions and assignments",
        };
        let body = match a.into_result(&tenant) {
            Ok(body) => body,
            // An RBAC system the desired state does not use, that the app may not read
            // (403): there is nothing to revoke that rampart could have written with
            // these permissions' write counterparts; see docs/safety.md.
            Err(e)
                if e.status() == Some(403)
                    && !used.iter().any(|s| id.starts_with(&format!("{s:?}-"))) =>
            {
                skipped.insert(id);
                continue;
            }
            Err(source) => {
                return Err(FetchError::Batch {
                    tenant: tenant.clone(),
                    what,
                    source: Box::new(source),
                });
            }
        };
        by_id.insert(id, body);
    }
    let mut observed = ObservedTenant {
        tenant_id: tenant.clone(),
        ..ObservedTenant::default()
    };
    for (name, r) in groups {
        match r {
            Ok(id) => observed.groups.insert(&name, vec![id]),
            Err(GroupError::GroupNotFound { .. }) => observed.groups.insert(&name, vec![]),
            Err(GroupError::GroupAmbiguous { ids, .. }) => observed.groups.insert(&name, ids),
            Err(GroupError::LookupFailed { message, .. }) => {
                return Err(FetchError::Groups { tenant, message });
            }
        }
    }
    let page = |id: &str| {
        by_id.get(id).cloned().ok_or(FetchError::Shape {
            tenant: tenant.clone(),
            what: "a $batch answer is missing",
        })
    };

    // Expanded settings and assignments Graph paged (25 settings by default) are made
    // whole in `read_policies`: every nextLink at every level.
    for p in read_policies(client, &page("policies")?, reads).await? {
        match ObservedConfigurationPolicy::from_graph(&p) {
            Ok(o) => observed.configuration_policies.push(o),
            Err(e) => observed.unreadable.push(Unreadable::policy(&p, &e)),
        }
    }
    for r in collection(client, &page("rules")?).await? {
        match ObservedDetectionRule::from_graph(&r) {
            Ok(o) => observed.detection_rules.push(o),
            Err(e) => observed.unreadable.push(Unreadable::rule(&r, &e)),
        }
    }
    if filters {
        let all = collection(client, &page("filters")?).await?;
        observed.filters = FilterDirectory::from_graph(&all);
    }
    for s in &systems {
        if skipped.contains(&format!("{s:?}-definitions"))
            || skipped.contains(&format!("{s:?}-assignments"))
        {
            continue;
        }
        let mut rbac = ObservedRbac::default();
        for d in collection(client, &page(&format!("{s:?}-definitions"))?).await? {
            if let Ok(d) = ObservedRoleDefinition::from_graph(&d) {
                rbac.role_definitions.push(d);
            }
        }
        for a in collection(client, &page(&format!("{s:?}-assignments"))?).await? {
            if let Ok(a) = ObservedRoleAssignment::from_graph(*s, &a) {
                rbac.role_assignments.push(a);
            }
        }
        observed.rbac.insert(*s, rbac);
    }
    name_unknown_groups(client, &mut observed).await;
    // Graph's order is not ours: sort so that the diff never depends on it.
    observed
        .configuration_policies
        .sort_by(|a, b| a.id.cmp(&b.id));
    observed.detection_rules.sort_by(|a, b| a.id.cmp(&b.id));
    observed.unreadable.sort_by(|a, b| a.id.cmp(&b.id));
    for rbac in observed.rbac.values_mut() {
        rbac.role_definitions.sort_by(|a, b| a.id.cmp(&b.id));
        rbac.role_assignments.sort_by(|a, b| a.id.cmp(&b.id));
    }
    Ok(observed)
}

/// Names the group ids of managed policies' assignments that no desired name resolved to,
/// so a plan shows `group: Old Pilot` rather than a GUID. Best effort: a failure leaves ids.
async fn name_unknown_groups(client: &GraphClient, observed: &mut ObservedTenant) {
    let mut unknown: BTreeSet<String> = BTreeSet::new();
    for p in observed
        .configuration_policies
        .iter()
        .filter(|p| p.marker.is_some())
    {
        for a in &p.assignments {
            if let ObservedTarget::Group { group_id } | ObservedTarget::ExcludeGroup { group_id } =
                &a.target
                && !observed.groups.names.contains_key(group_id)
            {
                unknown.insert(group_id.clone());
            }
        }
    }
    if unknown.is_empty() {
        return;
    }
    let requests: Vec<BatchRequest> = unknown
        .iter()
        .map(|id| {
            BatchRequest::get(
                id.clone(),
                format!("/v1.0/groups/{id}?$select=id,displayName"),
            )
        })
        .collect();
    let Ok(answers) = client.batch(requests).await else {
        return;
    };
    for a in answers {
        if a.is_success()
            && let Some(name) = a.body.get("displayName").and_then(Value::as_str)
        {
            observed.groups.names.insert(a.id.clone(), name.to_string());
        }
    }
}

/// Progress of a fleet plan, for the CLI's progress bar or log lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FleetEvent {
    /// A tenant's plan is ready (`ok` false when the tenant failed).
    TenantDone { tenant: String, ok: bool },
}

/// A callback for [`FleetEvent`]s.
pub type Progress = Arc<dyn Fn(FleetEvent) + Send + Sync>;

/// Plans every tenant: fetch (bounded parallelism, one task per tenant at a time), diff,
/// assemble. `tenants` pairs each desired state with its credential.
pub async fn plan_fleet(
    ctx: &GraphContext,
    tenants: Vec<(TenantDesired, TenantAuth)>,
    parallelism: NonZeroUsize,
    created_from: CreatedFrom,
    progress: Option<Progress>,
) -> Plan {
    plan_fleet_with(
        ctx,
        tenants,
        parallelism,
        created_from,
        progress,
        PolicyReads::default(),
    )
    .await
}

/// [`plan_fleet`] with the policy reads chosen (the benchmark compares them).
pub async fn plan_fleet_with(
    ctx: &GraphContext,
    tenants: Vec<(TenantDesired, TenantAuth)>,
    parallelism: NonZeroUsize,
    created_from: CreatedFrom,
    progress: Option<Progress>,
    reads: PolicyReads,
) -> Plan {
    let desired: Vec<TenantDesired> = tenants.iter().map(|(d, _)| d.clone()).collect();
    let digest = inputs_digest(&desired);
    let ids: Vec<String> = tenants.iter().map(|(d, _)| d.tenant.id.clone()).collect();
    let jobs: Arc<BTreeMap<String, (TenantDesired, TenantAuth)>> = Arc::new(
        tenants
            .into_iter()
            .map(|(d, a)| (d.tenant.id.clone(), (d, a)))
            .collect(),
    );
    let ctx = ctx.clone();
    let outcomes = {
        let jobs = jobs.clone();
        run_per_tenant(ids, parallelism, move |id: String| {
            let jobs = jobs.clone();
            let ctx = ctx.clone();
            let progress = progress.clone();
            async move {
                let Some((desired, auth)) = jobs.get(&id) else {
                    return TenantPlan::failed(&id, &id, "no credential for this tenant");
                };
                let client = ctx.client(auth.clone());
                let plan = match fetch_tenant_with(&client, desired, reads).await {
                    Ok(observed) => diff_tenant(desired, &observed),
                    Err(e) => {
                        TenantPlan::failed(&desired.tenant.name, &desired.tenant.id, e.to_string())
                    }
                };
                if let Some(p) = &progress {
                    p(FleetEvent::TenantDone {
                        tenant: desired.tenant.name.clone(),
                        ok: matches!(plan.status, crate::plan::TenantStatus::Ok),
                    });
                }
                plan
            }
        })
        .await
    };
    let plans: Vec<TenantPlan> = outcomes
        .into_iter()
        .map(|o| match o.result {
            Ok(p) => p,
            Err(e) => {
                let (name, id) = jobs
                    .get(&o.tenant)
                    .map(|(d, _)| (d.tenant.name.clone(), d.tenant.id.clone()))
                    .unwrap_or_else(|| (o.tenant.clone(), o.tenant.clone()));
                TenantPlan::failed(&name, &id, e.to_string())
            }
        })
        .collect();
    Plan::new(plans, digest, created_from)
}
