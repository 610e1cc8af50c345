//! `rampart import --tenant T`: read what a tenant already holds and write rampart YAML for
//! it, so that the repository can describe the tenant before rampart manages it.
//!
//! Read: every configuration policy of the tenant (with settings and assignments; not
//! filtered on the server, so that each one rampart cannot express is listed with its
//! reason, e.g. a security baseline or a template missing from the catalog) and custom
//! detection rules. Every endpoint-security family and plain settings-catalog policies
//! (`templateFamily: none`) are imported.
//! Each policy goes through the catalog area's lossless converter
//! ([`crate::json_import::import_policy_json`]: readable setting names, refused rather than
//! lossy), after its assignment targets have been given their group display names from the
//! tenant (assignments in YAML name groups, never ids). Detection rules are converted here
//! (the inverse of `resolve`'s rule builder) and checked by the same round trip.
//!
//! Documents are named `<tenant>-<slug of the display name>` (unique across tenants that
//! hold look-alike policies) and labelled `imported` and `imported-<tenant>`, so a profile
//! selects them with `{ label: imported-<tenant> }`. Their `displayName` is the Graph name
//! and their detection-rule `ruleId` the Graph id: a plan right after shows each as an
//! adoption candidate with no change. Objects that already carry rampart's marker are
//! skipped (they are managed already). [`adopt`] turns those candidates into a reviewable
//! plan whose only writes put the ownership marker on them (the planner reports an
//! unmanaged detection rule holding the desired `ruleId` as an adoption candidate too).
//!
//! Limits: role assignments (Defender, Intune, Entra) are NOT imported yet; policies of
//! other template families (security baselines, ...) are skipped with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::desired::{DesiredObject, Kind, TenantDesired};
use crate::graph::client::GraphClient;
use crate::graph::error::GraphError;
use crate::plan::{Action, FieldChange, HttpMethod, Plan, PlannedRequest, RequestPurpose, marker};

/// Labels every imported document carries.
pub const IMPORTED_LABEL: &str = "imported";

/// The per-tenant label: `imported-<tenant>`.
pub fn tenant_label(tenant: &str) -> String {
    format!("{IMPORTED_LABEL}-{tenant}")
}

/// One document written by import.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportedDocument {
    pub kind: Kind,
    pub name: String,
    /// The Graph display name (what adoption matches on).
    pub display_name: String,
    /// The Graph id of the object it came from.
    pub graph_id: String,
    /// The YAML text (one document).
    pub yaml: String,
}

/// An object that was not imported, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedObject {
    pub kind: &'static str,
    pub graph_id: String,
    pub display_name: String,
    pub reason: String,
}

/// What was read from the tenant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TenantImport {
    pub tenant: String,
    pub documents: Vec<ImportedDocument>,
    /// Objects that could not be converted (a reason to look).
    pub skipped: Vec<SkippedObject>,
    /// Objects that already carry rampart's marker (nothing to import; not a problem).
    pub managed: Vec<SkippedObject>,
}

/// Why the tenant could not be read at all.
#[derive(Debug, thiserror::Error)]
pub enum ImportTenantError {
    #[error("reading {what}")]
    Graph {
        what: &'static str,
        #[source]
        source: GraphError,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} exists; use --force to overwrite")]
    Exists(PathBuf),
    #[error("no desired object of tenant `{tenant}` is named `{name}`{hint}")]
    NotDesired {
        name: String,
        tenant: String,
        hint: String,
    },
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// `<tenant>-<slug>`, at most 63 characters, made unique within `taken` (per kind).
fn document_name(
    tenant: &str,
    display: &str,
    taken: &mut BTreeSet<(Kind, String)>,
    kind: Kind,
) -> String {
    let base = crate::json_import::slugify(&format!("{tenant} {display}"));
    let mut name = base.clone();
    let mut n = 2;
    while !taken.insert((kind, name.clone())) {
        let suffix = format!("-{n}");
        let mut b = base.clone();
        b.truncate(63 - suffix.len());
        name = format!("{}{suffix}", b.trim_end_matches('-'));
        n += 1;
    }
    name
}

/// Rebuilds `doc` with `name` and the import labels right after `kind`/`name`.
fn relabel(doc: &Value, name: &str, tenant: &str) -> Value {
    let mut out = Map::new();
    if let Value::Object(m) = doc {
        for (k, v) in m {
            match k.as_str() {
                "name" => {
                    out.insert("name".into(), json!(name));
                }
                "labels" => {}
                _ => {
                    out.insert(k.clone(), v.clone());
                }
            }
            if k == "displayName" {
                out.insert(
                    "labels".into(),
                    json!([IMPORTED_LABEL, tenant_label(tenant)]),
                );
            }
        }
    }
    Value::Object(out)
}

fn to_yaml(header: &str, doc: &Value) -> Result<String, String> {
    let body = serde_saphyr::to_string(doc).map_err(|e| e.to_string())?;
    Ok(format!("{header}{body}"))
}

/// Names the groups of assignment targets (`groupName`, read by the catalog's converter),
/// looking each id up once.
async fn name_groups(
    client: &GraphClient,
    policies: &mut [Value],
    cache: &mut BTreeMap<String, Option<String>>,
) {
    for p in policies.iter_mut() {
        let Some(assignments) = p.get_mut("assignments").and_then(Value::as_array_mut) else {
            continue;
        };
        for a in assignments {
            let Some(target) = a.get_mut("target").and_then(Value::as_object_mut) else {
                continue;
            };
            let Some(id) = target
                .get("groupId")
                .and_then(Value::as_str)
                .map(str::to_string)
            else {
                continue;
            };
            if !cache.contains_key(&id) {
                let name = client
                    .get(&format!("/v1.0/groups/{id}?$select=id,displayName"))
                    .await
                    .ok()
                    .and_then(|g| {
                        g.get("displayName")
                            .and_then(Value::as_str)
                            .map(str::to_string)
                    });
                cache.insert(id.clone(), name);
            }
            if let Some(Some(name)) = cache.get(&id) {
                target.insert("groupName".into(), json!(name));
            }
        }
    }
}

/// Every configuration policy, settings and assignments expanded. Unlike
/// [`crate::fetch::policies_path`] (what the planner compares), no family filter: import
/// reports what it leaves behind.
pub const ALL_POLICIES_PATH: &str =
    "/beta/deviceManagement/configurationPolicies?$expand=settings,assignments";

/// Reads the tenant and converts what it holds. `tenant` is the tenant's short name.
pub async fn import_tenant(
    client: &GraphClient,
    tenant: &str,
) -> Result<TenantImport, ImportTenantError> {
    let mut out = TenantImport {
        tenant: tenant.to_string(),
        ..TenantImport::default()
    };
    let mut taken: BTreeSet<(Kind, String)> = BTreeSet::new();

    let mut policies =
        client
            .get_all(ALL_POLICIES_PATH)
            .await
            .map_err(|source| ImportTenantError::Graph {
                what: "configuration policies",
                source,
            })?;
    // Paged `settings`/`assignments` of each expanded policy are whole: the client's
    // `get_all` follows every nextLink at every level.
    let mut groups = BTreeMap::new();
    name_groups(client, &mut policies, &mut groups).await;
    policies.sort_by(|a, b| {
        s(a, "name")
            .cmp(s(b, "name"))
            .then(s(a, "id").cmp(s(b, "id")))
    });
    for p in &policies {
        let id = s(p, "id").to_string();
        let display = s(p, "name").to_string();
        if let (_, Some(m)) = marker::split(s(p, "description")) {
            out.managed.push(SkippedObject {
                kind: "configurationPolicy",
                graph_id: id,
                display_name: display,
                reason: format!("already managed by rampart as `{m}`"),
            });
            continue;
        }
        match crate::json_import::import_policy_json(p) {
            Ok(imp) => {
                let name = document_name(tenant, &display, &mut taken, imp.kind);
                let doc = relabel(&imp.document, &name, tenant);
                let header = format!(
                    "# Imported by `rampart import --tenant {tenant}` from configuration policy {id}\n"
                );
                match to_yaml(&header, &doc) {
                    Ok(yaml) => out.documents.push(ImportedDocument {
                        kind: imp.kind,
                        name,
                        display_name: display,
                        graph_id: id,
                        yaml,
                    }),
                    Err(reason) => out.skipped.push(SkippedObject {
                        kind: "configurationPolicy",
                        graph_id: id,
                        display_name: display,
                        reason,
                    }),
                }
            }
            Err(e) => {
                let mut reason = e.to_string();
                let mut cause = std::error::Error::source(&e);
                while let Some(c) = cause {
                    reason.push_str(&format!(": {c}"));
                    cause = c.source();
                }
                out.skipped.push(SkippedObject {
                    kind: "configurationPolicy",
                    graph_id: id,
                    display_name: display,
                    reason,
                });
            }
        }
    }

    let mut rules = client
        .get_all(crate::fetch::RULES_PATH)
        .await
        .map_err(|source| ImportTenantError::Graph {
            what: "detection rules",
            source,
        })?;
    rules.sort_by(|a, b| s(a, "id").cmp(s(b, "id")));
    for r in &rules {
        let id = s(r, "id").to_string();
        let display = s(r, "displayName").to_string();
        if let (_, Some(m)) = marker::split(s(r, "description")) {
            out.managed.push(SkippedObject {
                kind: "detectionRule",
                graph_id: id,
                display_name: display,
                reason: format!("already managed by rampart as `{m}`"),
            });
            continue;
        }
        let name = document_name(tenant, &display, &mut taken, Kind::DetectionRule);
        match rule_document(r, &name, tenant) {
            Ok(doc) => {
                let header = format!(
                    "# Imported by `rampart import --tenant {tenant}` from detection rule {id}\n"
                );
                match to_yaml(&header, &doc) {
                    Ok(yaml) => out.documents.push(ImportedDocument {
                        kind: Kind::DetectionRule,
                        name,
                        display_name: display,
                        graph_id: id,
                        yaml,
                    }),
                    Err(reason) => out.skipped.push(SkippedObject {
                        kind: "detectionRule",
                        graph_id: id,
                        display_name: display,
                        reason,
                    }),
                }
            }
            Err(reason) => out.skipped.push(SkippedObject {
                kind: "detectionRule",
                graph_id: id,
                display_name: display,
                reason,
            }),
        }
    }
    Ok(out)
}

/// A `DetectionRule` document from a Graph rule (2026 schema): the inverse of the rule
/// builder in `resolve`. Refused when a field has no YAML form.
pub fn rule_document(r: &Value, name: &str, tenant: &str) -> Result<Value, String> {
    let id = s(r, "id");
    if id.is_empty() {
        return Err("the rule has no id".into());
    }
    let query = r
        .pointer("/queryCondition/queryText")
        .and_then(Value::as_str)
        .ok_or("the rule has no queryCondition.queryText")?;
    let frequency = r
        .pointer("/schedule/frequency")
        .or_else(|| r.pointer("/schedule/period"))
        .and_then(Value::as_str)
        .ok_or("the rule has no schedule.frequency (a pre-2026 rule?)")?;
    let template = r
        .pointer("/detectionAction/alertTemplate")
        .and_then(Value::as_object)
        .ok_or("the rule has no detectionAction.alertTemplate")?;
    let mut alert = Map::new();
    alert.insert(
        "title".into(),
        json!(
            template
                .get("title")
                .and_then(Value::as_str)
                .unwrap_or(s(r, "displayName"))
        ),
    );
    let description = s(r, "description");
    if let Some(d) = template.get("description").and_then(Value::as_str) {
        // `resolve` defaults the alert description to the rule's (then the title): only
        // write it when it says something else.
        if d != description || description.is_empty() {
            alert.insert("description".into(), json!(d));
        }
    }
    alert.insert(
        "severity".into(),
        json!(
            template
                .get("severity")
                .and_then(Value::as_str)
                .unwrap_or("medium")
        ),
    );
    if let Some(a) = template.get("recommendedActions").and_then(Value::as_str) {
        alert.insert("recommendedActions".into(), json!(a));
    }
    match template
        .get("tactics")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        None | Some([]) => {}
        Some([t]) => {
            if let Some(tactic) = t.get("tactic").and_then(Value::as_str) {
                alert.insert("tactic".into(), json!(tactic));
            }
            let techniques: Vec<&str> = t
                .get("techniques")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|x| x.get("technique").and_then(Value::as_str).or(x.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            if !techniques.is_empty() {
                alert.insert("techniques".into(), json!(techniques));
            }
        }
        Some(_) => return Err("more than one tactic (the service accepts one)".into()),
    }
    let mappings = template.get("entityMappings").cloned().unwrap_or(json!({}));
    alert.insert("entityMappings".into(), mappings);
    let mut doc = Map::new();
    doc.insert("kind".into(), json!("DetectionRule"));
    doc.insert("name".into(), json!(name));
    doc.insert("ruleId".into(), json!(id));
    doc.insert("displayName".into(), json!(s(r, "displayName")));
    doc.insert(
        "labels".into(),
        json!([IMPORTED_LABEL, tenant_label(tenant)]),
    );
    if !description.is_empty() {
        doc.insert("description".into(), json!(description));
    }
    doc.insert(
        "status".into(),
        json!(if s(r, "status").is_empty() {
            "enabled"
        } else {
            s(r, "status")
        }),
    );
    doc.insert("query".into(), json!(query));
    doc.insert("frequency".into(), json!(frequency));
    doc.insert("alert".into(), Value::Object(alert));
    if let Some(a) = r
        .pointer("/detectionAction/automatedActions")
        .filter(|a| a.as_object().is_some_and(|m| !m.is_empty()))
    {
        doc.insert("automatedActions".into(), a.clone());
    }
    Ok(Value::Object(doc))
}

/// Writes one `<name>.yaml` per document into `dir`. Checks every target first: with an
/// existing file and no `force`, nothing is written.
pub fn write_documents(
    dir: &Path,
    import: &TenantImport,
    force: bool,
) -> Result<Vec<PathBuf>, ImportTenantError> {
    let targets: Vec<PathBuf> = import
        .documents
        .iter()
        .map(|d| dir.join(format!("{}.yaml", d.name)))
        .collect();
    if !force && let Some(t) = targets.iter().find(|t| t.exists()) {
        return Err(ImportTenantError::Exists(t.clone()));
    }
    std::fs::create_dir_all(dir).map_err(|source| ImportTenantError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for (d, t) in import.documents.iter().zip(&targets) {
        crate::onboard::profile_edit::write_atomically(t, &d.yaml).map_err(|source| {
            ImportTenantError::Io {
                path: t.clone(),
                source,
            }
        })?;
    }
    Ok(targets)
}

/// Turns adoption candidates into writes of the ownership marker, for review and apply.
///
/// For every object of `tenant_plan`s whose action is [`Action::Adopt`] and whose address
/// is in `chosen` (all candidates when `chosen` is `None`): the action becomes
/// [`Action::Update`], the look-alike becomes the observed object (so apply's stale check
/// covers it), and the requests are the ones a managed object's update sends: the full
/// policy body (`PUT`, which carries the marker in `description`) and, if the plan showed
/// assignment changes, the assignment; for a detection rule a `PATCH` with the desired body.
/// Nothing else in the plan changes. Returns the number of objects adopted.
pub fn adopt(
    plan: &mut Plan,
    desired: &[TenantDesired],
    chosen: Option<&BTreeSet<String>>,
) -> usize {
    let by_id: BTreeMap<&str, &TenantDesired> =
        desired.iter().map(|d| (d.tenant.id.as_str(), d)).collect();
    let mut n = 0;
    for tp in &mut plan.tenants {
        let Some(d) = by_id.get(tp.tenant_id.as_str()) else {
            continue;
        };
        for op in &mut tp.objects {
            if op.action != Action::Adopt
                || chosen.is_some_and(|c| !c.contains(&op.address.to_string()))
            {
                continue;
            }
            let Some(look) = op.look_alike.take() else {
                continue;
            };
            let Some(obj) = d.objects.get(&(op.address.kind, op.address.name.clone())) else {
                op.look_alike = Some(look);
                continue;
            };
            let id = look.id.clone();
            let requests: Vec<PlannedRequest> = match obj {
                DesiredObject::ConfigurationPolicy(p) => {
                    let mut r = vec![PlannedRequest {
                        purpose: RequestPurpose::Update,
                        method: HttpMethod::Put,
                        path: format!("/beta/deviceManagement/configurationPolicies/{id}"),
                        body: Some(crate::plan::diff::policy_body(p)),
                    }];
                    if op.changes.iter().any(|c| c.path.starts_with("assignments")) {
                        // Re-plan after adoption to assign: the assignment body needs the
                        // tenant's group ids, which only the planner resolves.
                        op.notes.push("assignments differ: run `rampart plan` again after adoption to update them".into());
                    }
                    r.truncate(1);
                    r
                }
                DesiredObject::DetectionRule(rule) => {
                    let mut body = crate::plan::diff::rule_body(rule);
                    if let Value::Object(m) = &mut body {
                        m.remove("id");
                    }
                    vec![PlannedRequest {
                        purpose: RequestPurpose::Update,
                        method: HttpMethod::Patch,
                        path: format!("/beta/security/rules/detectionRules/{id}"),
                        body: Some(body),
                    }]
                }
                DesiredObject::RoleAssignment(_) => {
                    op.look_alike = Some(look);
                    op.notes
                        .push("role assignments cannot be adopted automatically yet".into());
                    continue;
                }
            };
            let desc_before = requests
                .first()
                .and_then(|r| r.body.as_ref())
                .and_then(|b| b.get("description"))
                .and_then(Value::as_str)
                .map(|d| marker::split(d).0.to_string())
                .unwrap_or_default();
            let desc_after = requests
                .first()
                .and_then(|r| r.body.as_ref())
                .and_then(|b| b.get("description"))
                .cloned()
                .unwrap_or(Value::Null);
            op.action = Action::Update;
            op.observed = vec![look];
            op.requests = requests;
            match op.changes.iter_mut().find(|c| c.path == "description") {
                Some(c) => c.after = desc_after,
                None => op.changes.push(FieldChange {
                    path: "description".into(),
                    before: json!(desc_before),
                    after: desc_after,
                }),
            }
            op.changes.sort_by(|a, b| a.path.cmp(&b.path));
            // The planner's note says the look-alike is left alone: no longer true here.
            op.notes.clear();
            op.notes.push(format!(
                "adoption: rampart writes its ownership marker `{}` and manages this object from now on",
                marker::marker_line(&op.address.name)
            ));
            n += 1;
        }
    }
    plan.recount();
    n
}

/// Connects apply to tenants through a borrowed [`Authenticator`] (the CLI's, or the
/// emulator demo's, which it does not own).
pub struct AuthConnector<'a> {
    pub context: crate::graph::client::GraphContext,
    pub authenticator: &'a crate::graph::auth::Authenticator,
}

impl crate::apply::Connector for AuthConnector<'_> {
    fn connect(
        &self,
        tenant: &crate::plan::TenantPlan,
    ) -> Result<std::sync::Arc<dyn crate::apply::TenantGraph>, String> {
        let auth = self
            .authenticator
            .tenant_auth(&tenant.tenant_id)
            .map_err(|e| e.to_string())?;
        Ok(crate::apply::ClientGraph::new(self.context.client(auth)))
    }
}

/// Plans one tenant (as `rampart plan --tenant` does) and turns its adoption candidates
/// into marker writes ([`adopt`]). Returns the plan and how many objects it adopts.
pub async fn adoption_plan(
    context: &crate::graph::client::GraphContext,
    authenticator: &crate::graph::auth::Authenticator,
    desired: &TenantDesired,
    chosen: Option<&BTreeSet<String>>,
) -> Result<(Plan, usize), crate::graph::auth::AuthError> {
    let auth = authenticator.tenant_auth(&desired.tenant.id)?;
    let created_from = crate::plan::CreatedFrom {
        source: context.options().graph_url.to_string(),
        profiles: Vec::new(),
        tenants: vec![desired.tenant.name.clone()],
        targets: Vec::new(),
        kinds: Vec::new(),
    };
    let mut plan = crate::fetch::plan_fleet(
        context,
        vec![(desired.clone(), auth)],
        std::num::NonZeroUsize::MIN,
        created_from,
        None,
    )
    .await;
    plan.recount();
    // Only adoption is this command's business: other changes are left to `rampart plan`.
    for tp in &mut plan.tenants {
        tp.objects.retain(|o| o.action == Action::Adopt);
    }
    let n = adopt(&mut plan, std::slice::from_ref(desired), chosen);
    for tp in &mut plan.tenants {
        tp.objects.retain(|o| o.action == Action::Update);
    }
    plan.recount();
    Ok((plan, n))
}

/// Writes `profiles/imported-<tenant>.yaml`: a profile that targets this tenant alone and
/// selects `{ label: imported-<tenant> }`, so the imported policies are managed for this
/// customer only (a shared profile selecting the label would give them to every tenant it
/// targets). Creates it when absent; an existing file is left as it is (`None`). The ring
/// is the tenant's (the lowest of its profiles'), so rollout order does not change.
pub fn write_tenant_profile(
    profiles_dir: &Path,
    desired: &TenantDesired,
) -> Result<Option<PathBuf>, ImportTenantError> {
    let name = &desired.tenant.name;
    let label = tenant_label(name);
    let profile_name: String = label.chars().take(63).collect();
    let path = profiles_dir.join(format!("{profile_name}.yaml"));
    if path.exists() {
        return Ok(None);
    }
    let text = format!(
        "# Written by `rampart import --tenant {name}`: the policies imported from `{name}`, for\n\
         # `{name}` alone (a shared profile selecting the label would give them to every tenant\n\
         # it targets; `rampart validate` warns when that happens).\n\
         kind: DistributionProfile\n\
         name: {profile_name}\n\
         description: \"Policies imported from {name}, for {name} only.\"\n\
         ring: {ring}\n\
         tenants:\n  - id: {id}\n    name: {name}\n\
         policies:\n  - {{ label: {label} }}\n",
        ring = desired.ring.unwrap_or(0),
        id = desired.tenant.id,
    );
    std::fs::create_dir_all(profiles_dir).map_err(|source| ImportTenantError::Io {
        path: profiles_dir.to_path_buf(),
        source,
    })?;
    crate::onboard::profile_edit::write_atomically(&path, &text).map_err(|source| {
        ImportTenantError::Io {
            path: path.clone(),
            source,
        }
    })?;
    Ok(Some(path))
}

/// The addresses `--adopt-as NAME` adopts in `desired`'s tenant: every desired object named
/// `name` (one per kind). An error when the tenant's desired state has none, naming the
/// closest names.
pub fn adopt_as_addresses(
    desired: &TenantDesired,
    name: &str,
) -> Result<BTreeSet<String>, ImportTenantError> {
    let chosen: BTreeSet<String> = desired
        .objects
        .keys()
        .filter(|(_, n)| n == name)
        .map(|(k, n)| format!("{}/{k}/{n}", desired.tenant.name))
        .collect();
    if chosen.is_empty() {
        let names: Vec<&str> = desired.objects.keys().map(|(_, n)| n.as_str()).collect();
        return Err(ImportTenantError::NotDesired {
            name: name.to_string(),
            tenant: desired.tenant.name.clone(),
            hint: crate::catalog::Catalog::suggest(name, names)
                .map(|s| format!(" (did you mean `{s}`?)"))
                .unwrap_or_default(),
        });
    }
    Ok(chosen)
}
