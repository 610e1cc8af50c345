//! Resolution: profiles x policies -> the desired state of each tenant, after variable
//! substitution. A pure function of what `load` read (no files, no clock, no network):
//! the same repository always gives the same `BTreeMap<tenant id, TenantDesired>`.
//!
//! Per tenant of each profile: the profile's policy references (names and selectors) are
//! expanded; every selected document is substituted with the tenant's variables (tenant
//! `vars` over profile `vars`), checked again (schema and semantic checks, since a variable
//! can change a value's type), and built into its desired object. A tenant in several
//! profiles gets the union; one object with different content from two profiles is a
//! `conflicting-object` error naming both profile files.
//!
//! Variables: `${tenant.id}`, `${tenant.name}`, `${tenant.displayName}`, `${vars.NAME}` in
//! any string value except `kind` and `name`; `$${` is a literal `${`; a string that is
//! exactly one reference takes the variable's value as is (list, number, boolean).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{
    self, ConfigurationPolicyFile, DetectionRuleFile, DocumentFile, PolicyRefFile,
    RoleAssignmentFile, SystemFile, VarValue,
};
use crate::desired::{
    AssignmentFilter, AssignmentTarget, DesiredAssignment, DesiredConfigurationPolicy,
    DesiredCustomRole, DesiredDetectionRule, DesiredObject, DesiredRoleAssignment, FilterRef, Kind,
    Origin, TenantDesired, TenantRef,
};
use crate::diag;
use crate::diag::{Diagnostic, Span};
pub use crate::load::vars::{VarContext, VarError, substitute};
use crate::load::{DocCtx, Loaded, LoadedDocument, select};

/// The outcome of `validate`: what was loaded, the desired state of every tenant, and
/// every diagnostic (loading, cross-document and resolution), sorted.
#[derive(Clone, Debug, Default)]
pub struct Validated {
    pub loaded: Loaded,
    pub tenants: BTreeMap<String, TenantDesired>,
    pub diagnostics: Vec<Diagnostic>,
}

impl Validated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Loads, checks across documents, and resolves every tenant: the whole of
/// `rampart validate`.
pub fn validate(root: &std::path::Path, paths: &[std::path::PathBuf]) -> Validated {
    // The repository's catalog snapshot (`rampart catalog refresh`), if any, is merged
    // over the shipped catalog before any document is read.
    let snapshot = crate::catalog::snapshot::install_repository_snapshot(root);
    let mut loaded = crate::load::load_repository(root, paths);
    if let Err(e) = snapshot {
        loaded
            .diagnostics
            .push(Diagnostic::error("invalid-catalog-snapshot", e.to_string()));
    }
    validate_loaded(loaded)
}

/// The cross-document checks and resolution on an already loaded repository.
pub fn validate_loaded(loaded: Loaded) -> Validated {
    let mut diagnostics = loaded.diagnostics.clone();
    crate::load::check_across_documents(&loaded, &mut diagnostics);
    crate::rollout::check_profiles(&loaded, &mut diagnostics);
    let resolution = resolve(&loaded);
    diagnostics.extend(resolution.diagnostics);
    diagnostics.extend(imported_policy_leaks(&loaded, &resolution.tenants));
    diag::sort_dedup(&mut diagnostics);
    Validated {
        loaded,
        tenants: resolution.tenants,
        diagnostics,
    }
}

/// `validate`'s guard against leaking one customer's policies to others: a document
/// labelled `imported-<tenant>` (what `import --tenant` writes) that a profile distributes
/// to any other tenant gets a warning at its `labels`, naming both tenants. One warning per
/// (document, tenant), sorted.
fn imported_policy_leaks(
    loaded: &crate::load::Loaded,
    tenants: &BTreeMap<String, TenantDesired>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for desired in tenants.values() {
        for object in desired.objects.values() {
            let origin = object.origin();
            let Some(doc) = loaded
                .documents
                .iter()
                .find(|d| d.path == origin.path && d.line == origin.line)
            else {
                continue;
            };
            for label in doc.labels() {
                let Some(source) = label.strip_prefix("imported-") else {
                    continue;
                };
                if source == desired.tenant.name || source == desired.tenant.id {
                    continue;
                }
                out.push(
                    Diagnostic::warning(
                        "imported-policy-distributed",
                        format!(
                            "`{}` was imported from tenant `{source}` but a profile also gives it to tenant `{}`",
                            doc.name, desired.tenant.name
                        ),
                    )
                    .at(doc.span("/labels", false))
                    .with_help(format!(
                        "select `{{ label: imported-{source} }}` only in a profile that targets `{source}` alone, or remove the label once the policy is meant for every customer"
                    )),
                );
            }
        }
    }
    out
}

/// The desired state of every tenant, and the problems found while resolving.
#[derive(Clone, Debug, Default)]
pub struct Resolution {
    /// Keyed by tenant id (lower case).
    pub tenants: BTreeMap<String, TenantDesired>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Where an object of a tenant came from: the profile and its reference.
struct Provenance<'a> {
    profile: &'a LoadedDocument,
    pointer: String,
}

/// Resolves every tenant of every profile.
pub fn resolve(loaded: &Loaded) -> Resolution {
    let mut res = Resolution::default();
    let mut provenance: BTreeMap<(String, Kind, String), Provenance<'_>> = BTreeMap::new();
    // (span, variable) -> tenants where it is undefined; reported once per location.
    let mut undefined: BTreeMap<(Span, String), BTreeSet<String>> = BTreeMap::new();
    // A document without variables builds the same object for every tenant: build once.
    let mut shared: BTreeMap<(&str, usize), DesiredObject> = BTreeMap::new();
    // tenant id -> (tenant name, the detection rules selected for it)
    let mut rule_titles: BTreeMap<String, (String, Vec<RuleTitles<'_>>)> = BTreeMap::new();
    for prof in loaded.profiles() {
        let Some(DocumentFile::DistributionProfile(p)) = &prof.file else {
            continue;
        };
        if !prof.valid {
            continue;
        }
        let selected = selected_policies(loaded, &p.policies);
        let profile_vars: BTreeMap<String, Value> = p
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.to_json()))
            .collect();
        for t in &p.tenants {
            if !crate::load::is_guid(&t.id) {
                continue;
            }
            let id = t.id.to_ascii_lowercase();
            // Tenant variables override the profile's.
            let mut vars = profile_vars.clone();
            vars.extend(
                t.vars
                    .iter()
                    .map(|(k, v): (&String, &VarValue)| (k.clone(), v.to_json())),
            );
            let vctx = VarContext {
                tenant_id: id.clone(),
                tenant_name: t.name.clone(),
                tenant_display_name: t.display_name.clone().unwrap_or_else(|| t.name.clone()),
                vars,
            };
            let entry = res
                .tenants
                .entry(id.clone())
                .or_insert_with(|| TenantDesired {
                    tenant: TenantRef {
                        id: id.clone(),
                        name: t.name.clone(),
                    },
                    profiles: Vec::new(),
                    ring: None,
                    allow_removal: true,
                    objects: BTreeMap::new(),
                });
            if !entry.profiles.contains(&p.name) {
                entry.profiles.push(p.name.clone());
                entry.profiles.sort();
            }
            entry.ring = match (entry.ring, p.ring) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            entry.allow_removal &= p.allow_removal;
            for (doc, pointer) in &selected {
                let Some(kind) = Kind::parse(&doc.kind) else {
                    continue;
                };
                if kind == Kind::DetectionRule {
                    // Taken whether or not the rule builds: an error elsewhere in a rule must
                    // not hide that its title clashes with another's (all errors in one run).
                    let list = &mut rule_titles.entry(id.clone()).or_default().1;
                    if !list.iter().any(|r| std::ptr::eq(r.doc, *doc)) {
                        list.push(RuleTitles::of(doc, &vctx));
                    }
                    rule_titles.entry(id.clone()).or_default().0 = t.name.clone();
                }
                let cache_key = (doc.path.as_str(), doc.index);
                let cached = shared.get(&cache_key).cloned();
                let built = match cached {
                    Some(o) => Ok(o),
                    None => build_object(doc, &vctx),
                };
                let object = match built {
                    Ok(o) => {
                        if !crate::load::contains_variable(&doc.json) {
                            shared.entry(cache_key).or_insert_with(|| o.clone());
                        }
                        o
                    }
                    Err(BuildError::Diagnostics(ds)) => {
                        res.diagnostics.extend(ds);
                        continue;
                    }
                    Err(BuildError::Undefined(vs)) => {
                        for (span, var) in vs {
                            undefined
                                .entry((span, var))
                                .or_default()
                                .insert(format!("{} (profile {})", t.name, p.name));
                        }
                        continue;
                    }
                };
                let key = (kind, doc.name.clone());
                match entry.objects.get(&key) {
                    Some(existing) if *existing != object => {
                        if let Some(first) = provenance.get(&(id.clone(), kind, doc.name.clone())) {
                            res.diagnostics.push(
                                Diagnostic::error(
                                    "conflicting-object",
                                    format!(
                                        "profiles `{}` ({}) and `{}` ({}) give tenant `{}` different content for {kind}/{}",
                                        first.profile.name, first.profile.path, p.name, prof.path, t.name, doc.name
                                    ),
                                )
                                .at(prof.span(pointer, false))
                                .with_label(first.profile.span(&first.pointer, false), "also selected here")
                                .with_help("their variables differ for this tenant; make them agree, or select the policy in one profile only"),
                            );
                        }
                    }
                    Some(_) => {}
                    None => {
                        entry.objects.insert(key, object);
                        provenance.insert(
                            (id.clone(), kind, doc.name.clone()),
                            Provenance {
                                profile: prof,
                                pointer: pointer.clone(),
                            },
                        );
                    }
                }
            }
        }
    }
    duplicate_rule_titles(&rule_titles, &mut res.diagnostics);
    for ((span, var), tenants) in undefined {
        let list: Vec<&String> = tenants.iter().collect();
        let shown = if list.len() > 3 {
            format!(
                "{} and {} more",
                list[..3]
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                list.len() - 3
            )
        } else {
            list.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        res.diagnostics.push(
            Diagnostic::error("undefined-variable", format!("undefined variable `{var}`"))
                .at(span)
                .with_help(format!(
                    "not defined for tenant {shown}; define it in the profile's or the tenant's `vars`"
                )),
        );
    }
    res
}

/// A selected detection rule's display name and alert title for one tenant, after
/// variables (`None` where a variable is undefined or the field is not a string).
struct RuleTitles<'a> {
    doc: &'a LoadedDocument,
    display_name: Option<String>,
    alert_title: Option<String>,
}

impl<'a> RuleTitles<'a> {
    fn of(doc: &'a LoadedDocument, vctx: &VarContext) -> Self {
        let field = |pointer: &str| {
            let v = doc.json.pointer(pointer)?;
            match substitute(v, vctx).ok()? {
                Value::String(s) => Some(s),
                _ => None,
            }
        };
        RuleTitles {
            doc,
            // As built: the display name defaults to the rule's name.
            display_name: field("/displayName").or_else(|| {
                doc.json
                    .get("displayName")
                    .is_none()
                    .then(|| doc.name.clone())
            }),
            alert_title: field("/alert/title"),
        }
    }
}

/// Defender requires a custom detection rule's display name and its alert title to be
/// unique in a tenant (graph-api-2.md, detection rules); two rules of one tenant sharing
/// either would be refused (or, today, both created). Compared case-insensitively, after
/// variables, over every selected rule whether or not it has other errors. Reported once
/// per pair of documents, at the later one in load order (files by path, then position),
/// with a label at the earlier, naming the tenants.
fn duplicate_rule_titles(
    rules: &BTreeMap<String, (String, Vec<RuleTitles<'_>>)>,
    out: &mut Vec<Diagnostic>,
) {
    type Key<'a> = (&'static str, (&'a str, usize), (&'a str, usize));
    // (field, first document, second document) -> (documents, tenant names)
    #[allow(clippy::type_complexity)]
    let mut clashes: BTreeMap<Key<'_>, (&LoadedDocument, &LoadedDocument, BTreeSet<String>)> =
        BTreeMap::new();
    for (tenant, list) in rules.values() {
        let mut list: Vec<&RuleTitles<'_>> = list.iter().collect();
        list.sort_by_key(|r| (r.doc.path.as_str(), r.doc.index));
        for field in ["/displayName", "/alert/title"] {
            let mut seen: BTreeMap<String, &LoadedDocument> = BTreeMap::new();
            for r in &list {
                let v = if field == "/displayName" {
                    &r.display_name
                } else {
                    &r.alert_title
                };
                let Some(v) = v else {
                    continue;
                };
                let key = v.trim().to_lowercase();
                match seen.get(&key) {
                    Some(first) => {
                        clashes
                            .entry((
                                field,
                                (first.path.as_str(), first.index),
                                (r.doc.path.as_str(), r.doc.index),
                            ))
                            .or_insert_with(|| (first, r.doc, BTreeSet::new()))
                            .2
                            .insert(tenant.clone());
                    }
                    None => {
                        seen.insert(key, r.doc);
                    }
                }
            }
        }
    }
    for ((field, _, _), (a, b, tenants)) in clashes {
        let what = if field == "/displayName" {
            "display name"
        } else {
            "alert title"
        };
        // A display name left out defaults to the rule's name: point there.
        let at = |d: &LoadedDocument| {
            if d.json.pointer(field).is_some() {
                d.span(field, false)
            } else {
                d.span("/name", false)
            }
        };
        let names: Vec<&str> = tenants.iter().map(String::as_str).collect();
        out.push(
            Diagnostic::error(
                "duplicate-rule-title",
                format!(
                    "detection rules `{}` and `{}` have the same {what} in tenant {}",
                    a.name,
                    b.name,
                    names.join(", ")
                ),
            )
            .at(at(b))
            .with_label(at(a), format!("same {what} here"))
            .with_help(format!("Defender requires each custom detection rule's {what} to be unique in a tenant; change one")),
        );
    }
}

/// The documents a profile's references select, each once (first reference wins), with
/// the pointer of that reference.
fn selected_policies<'a>(
    loaded: &'a Loaded,
    refs: &'a [PolicyRefFile],
) -> Vec<(&'a LoadedDocument, String)> {
    let mut seen: BTreeSet<(&str, &str)> = BTreeSet::new();
    let mut out = Vec::new();
    for (i, r) in refs.iter().enumerate() {
        let docs: Vec<&LoadedDocument> = match r {
            PolicyRefFile::Name(n) => {
                let m: Vec<&LoadedDocument> = loaded.policies().filter(|d| &d.name == n).collect();
                // Ambiguous names are reported by validate; select nothing.
                if m.iter().map(|d| &d.kind).collect::<BTreeSet<_>>().len() == 1 {
                    m
                } else {
                    Vec::new()
                }
            }
            PolicyRefFile::Selector(s) => select(loaded, s).collect(),
        };
        for d in docs {
            if seen.insert((&d.kind, &d.name)) {
                out.push((d, format!("/policies/{i}")));
            }
        }
    }
    out
}

enum BuildError {
    Diagnostics(Vec<Diagnostic>),
    Undefined(Vec<(Span, String)>),
}

/// Substitutes, re-checks and builds one desired object for one tenant.
fn build_object(doc: &LoadedDocument, vctx: &VarContext) -> Result<DesiredObject, BuildError> {
    if !doc.valid {
        return Err(BuildError::Diagnostics(Vec::new()));
    }
    let has_vars = crate::load::contains_variable(&doc.json);
    let ctx = DocCtx {
        path: &doc.path,
        spans: &doc.spans,
        substituted: has_vars,
    };
    let json = if has_vars {
        match substitute(&doc.json, vctx) {
            Ok(j) => j,
            Err(errors) => {
                let mut undefined = Vec::new();
                for e in errors {
                    if e.code == "undefined-variable" {
                        undefined.push((doc.span(&e.pointer, false), e.variable));
                    }
                    // Other variable errors are reported by the static check.
                }
                return Err(if undefined.is_empty() {
                    BuildError::Diagnostics(Vec::new())
                } else {
                    BuildError::Undefined(undefined)
                });
            }
        }
    } else {
        doc.json.clone()
    };
    let mut diags = Vec::new();
    let file = if has_vars {
        diags.extend(crate::load::check_schema(&doc.kind, &json, &ctx));
        if diags.iter().any(Diagnostic::is_error) {
            return Err(BuildError::Diagnostics(diags));
        }
        match config::from_json(&doc.kind, &json) {
            Ok(f) => f,
            Err(e) => {
                return Err(BuildError::Diagnostics(vec![
                    Diagnostic::error("invalid-document", format!("cannot read the document: {e}"))
                        .at(ctx.span("", false)),
                ]));
            }
        }
    } else {
        match &doc.file {
            Some(f) => f.clone(),
            None => return Err(BuildError::Diagnostics(Vec::new())),
        }
    };
    let checks = crate::load::check_document(&file, &json, &ctx, doc.query_file_text.as_deref());
    let failed = checks.iter().any(Diagnostic::is_error);
    if has_vars {
        diags.extend(checks);
    }
    if failed {
        return Err(BuildError::Diagnostics(diags));
    }
    let origin = Origin {
        path: doc.path.clone(),
        line: doc.line,
    };
    let object = match file {
        DocumentFile::ConfigurationPolicy(kind, p) => {
            configuration_policy(kind, p, &json, &ctx, origin).map_err(BuildError::Diagnostics)?
        }
        DocumentFile::DetectionRule(r) => {
            DesiredObject::DetectionRule(detection_rule(*r, doc.query_file_text.as_deref(), origin))
        }
        DocumentFile::RoleAssignment(r) => {
            DesiredObject::RoleAssignment(role_assignment(r, origin))
        }
        DocumentFile::DistributionProfile(_) => return Err(BuildError::Diagnostics(Vec::new())),
    };
    Ok(object)
}

fn configuration_policy(
    kind: Kind,
    p: ConfigurationPolicyFile,
    json: &Value,
    ctx: &DocCtx<'_>,
    origin: Origin,
) -> Result<DesiredObject, Vec<Diagnostic>> {
    let (template, settings) = crate::load::policy_settings(kind, &p, json, ctx)?;
    let assignments = p
        .assignments
        .unwrap_or_default()
        .into_iter()
        .filter_map(|a| {
            let target = if a.all_devices == Some(true) {
                AssignmentTarget::AllDevices
            } else if a.all_licensed_users == Some(true) {
                AssignmentTarget::AllLicensedUsers
            } else if let Some(g) = a.group {
                AssignmentTarget::Group { group: g }
            } else if let Some(g) = a.exclude_group {
                AssignmentTarget::ExcludeGroup { group: g }
            } else {
                return None;
            };
            Some(DesiredAssignment {
                target,
                // The load checks refused a filter without exactly one of name and id.
                filter: a.filter.and_then(|f| {
                    let filter = match (f.name, f.id) {
                        (Some(name), None) => FilterRef::Name(name),
                        (None, Some(id)) => FilterRef::Id(id),
                        _ => return None,
                    };
                    Some(AssignmentFilter {
                        filter,
                        mode: f.mode.into(),
                    })
                }),
            })
        })
        .collect();
    Ok(DesiredObject::ConfigurationPolicy(
        DesiredConfigurationPolicy {
            kind,
            display_name: p.display_name.unwrap_or_else(|| p.name.clone()),
            name: p.name,
            description: p.description.unwrap_or_default(),
            // Plain settings-catalog policies name their own; the schema refuses the two
            // fields for the endpoint-security kinds, whose template fixes them.
            platforms: p.platforms.unwrap_or_else(|| template.platforms.clone()),
            technologies: p
                .technologies
                .unwrap_or_else(|| template.technologies.clone()),
            template_id: template.id.clone(),
            role_scope_tag_ids: p
                .role_scope_tag_ids
                .unwrap_or_else(|| vec!["0".to_string()]),
            settings,
            assignments,
            origin,
        },
    ))
}

/// The Graph body of a detection rule (2026 schema, graph-api.md §2.3).
fn detection_rule(
    r: DetectionRuleFile,
    query_file_text: Option<&str>,
    origin: Origin,
) -> DesiredDetectionRule {
    let rule_id = r.rule_id.clone().unwrap_or_else(|| r.name.clone());
    let query = r
        .query
        .clone()
        .or_else(|| query_file_text.map(str::to_string))
        .unwrap_or_default();
    let alert = &r.alert;
    let mut template = Map::new();
    template.insert("title".into(), json!(alert.title));
    template.insert(
        "description".into(),
        json!(
            alert
                .description
                .clone()
                .or_else(|| r.description.clone())
                .unwrap_or_else(|| alert.title.clone())
        ),
    );
    template.insert("severity".into(), json!(alert.severity.as_str()));
    if let Some(a) = &alert.recommended_actions {
        template.insert("recommendedActions".into(), json!(a));
    }
    let tactic = alert
        .tactic
        .clone()
        .or_else(|| alert.tactics.as_ref().and_then(|t| t.first().cloned()));
    if let Some(t) = tactic {
        let techniques: Vec<Value> = alert
            .techniques
            .iter()
            .map(|x| json!({ "technique": x }))
            .collect();
        template.insert(
            "tactics".into(),
            json!([{ "tactic": t, "techniques": techniques }]),
        );
    }
    template.insert(
        "entityMappings".into(),
        serde_json::to_value(&alert.entity_mappings).unwrap_or(Value::Null),
    );
    let mut action = Map::new();
    action.insert("alertTemplate".into(), Value::Object(template));
    if let Some(a) = &r.automated_actions {
        action.insert(
            "automatedActions".into(),
            serde_json::to_value(a).unwrap_or(Value::Null),
        );
    }
    let body = json!({
        "id": rule_id,
        "displayName": r.display_name.clone().unwrap_or_else(|| r.name.clone()),
        "description": r.description.clone().unwrap_or_default(),
        "status": r.status.map_or("enabled", |s| s.as_str()),
        "queryCondition": { "queryText": query },
        "schedule": { "frequency": r.frequency },
        "detectionAction": Value::Object(action),
    });
    DesiredDetectionRule {
        name: r.name,
        rule_id,
        body,
        origin,
    }
}

fn role_assignment(r: RoleAssignmentFile, origin: Origin) -> DesiredRoleAssignment {
    let role = r
        .role
        .clone()
        .or_else(|| r.custom_role.as_ref().map(|c| c.display_name.clone()))
        .unwrap_or_default();
    let scopes = r.scopes.clone().unwrap_or_else(|| match r.system {
        SystemFile::Defender | SystemFile::Directory => vec!["/".to_string()],
        SystemFile::Intune => Vec::new(),
    });
    DesiredRoleAssignment {
        system: r.system.into(),
        role,
        custom_role: r.custom_role.map(|c| DesiredCustomRole {
            display_name: c.display_name,
            description: c.description.unwrap_or_default(),
            actions: c.actions,
        }),
        groups: r.groups,
        display_name: r.display_name.unwrap_or_else(|| r.name.clone()),
        description: r.description.unwrap_or_default(),
        scopes,
        name: r.name,
        origin,
    }
}

/// A serialisable view of a tenant's desired state (objects keyed `Kind/name`), for
/// `rampart show desired`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantView<'a> {
    pub tenant: &'a TenantRef,
    pub profiles: &'a [String],
    pub ring: Option<u32>,
    pub allow_removal: bool,
    pub objects: BTreeMap<String, &'a DesiredObject>,
}

impl<'a> TenantView<'a> {
    pub fn new(t: &'a TenantDesired) -> TenantView<'a> {
        TenantView {
            tenant: &t.tenant,
            profiles: &t.profiles,
            ring: t.ring,
            allow_removal: t.allow_removal,
            objects: t
                .objects
                .iter()
                .map(|((k, n), o)| (format!("{k}/{n}"), o))
                .collect(),
        }
    }
}

/// Finds a tenant by id (any case) or by name.
pub fn find_tenant<'a>(
    tenants: &'a BTreeMap<String, TenantDesired>,
    id_or_name: &str,
) -> Option<&'a TenantDesired> {
    tenants
        .get(&id_or_name.to_ascii_lowercase())
        .or_else(|| tenants.values().find(|t| t.tenant.name == id_or_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> VarContext {
        VarContext {
            tenant_id: "t-id".into(),
            tenant_name: "contoso".into(),
            tenant_display_name: "Contoso".into(),
            vars: [
                ("group".to_string(), json!("SOC")),
                ("list".to_string(), json!(["a", "b"])),
                ("n".to_string(), json!(5)),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn substitutes_strings_lists_and_escapes() {
        let doc = json!({
            "kind": "X", "name": "${not.touched}",
            "a": "${vars.group} of ${tenant.name}",
            "b": "${vars.list}", "c": "${ vars.n }", "d": "$${vars.group}", "e": ["${tenant.id}"]
        });
        let out = substitute(&doc, &ctx()).expect("substituted");
        assert_eq!(
            out,
            json!({"kind": "X", "name": "${not.touched}", "a": "SOC of contoso",
                "b": ["a", "b"], "c": 5, "d": "${vars.group}", "e": ["t-id"]})
        );
    }

    #[test]
    fn reports_every_undefined_variable() {
        let doc = json!({"a": "${vars.x}", "b": ["x ${vars.y}"], "c": "${vars.list} and more"});
        let errors = substitute(&doc, &ctx()).expect_err("errors");
        let got: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.pointer.as_str(), e.code))
            .collect();
        assert_eq!(
            got,
            [
                ("/a", "undefined-variable"),
                ("/b/0", "undefined-variable"),
                ("/c", "invalid-variable")
            ]
        );
    }
}
