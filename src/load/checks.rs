//! Semantic checks: those of one document (run on the static document at load time, and
//! again by resolution on each tenant's substituted copy; duplicates are merged), and those
//! across documents (names, profile references, selectors, tenants).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::roles::{DIRECTORY_ROLES, INTUNE_ROLES};
use super::{DocCtx, Loaded, policy_names};
use crate::catalog::{Catalog, Template};
use crate::config::{
    AssignmentFile, ConfigurationPolicyFile, DetectionRuleFile, DistributionProfileFile,
    DocumentFile, PolicyRefFile, RoleAssignmentFile, SystemFile,
};
use crate::desired::Kind;
use crate::diag::{self, Diagnostic, PathError, Span};
use crate::settings::SettingInstance;

/// `schedule.frequency` values the service accepts (graph-api.md §2.3; `PT0S` = NRT).
pub const FREQUENCIES: [&str; 5] = ["PT0S", "PT1H", "PT3H", "PT12H", "PT24H"];

/// MITRE ATT&CK enterprise tactics, as the Defender alert template spells them.
pub const TACTICS: [&str; 14] = [
    "Reconnaissance",
    "ResourceDevelopment",
    "InitialAccess",
    "Execution",
    "Persistence",
    "PrivilegeEscalation",
    "DefenseEvasion",
    "CredentialAccess",
    "Discovery",
    "LateralMovement",
    "Collection",
    "CommandAndControl",
    "Exfiltration",
    "Impact",
];

/// Checks of one document. `query_file_text` is the text of its `queryFile`, if read.
pub(crate) fn document(
    file: &DocumentFile,
    json: &Value,
    ctx: &DocCtx<'_>,
    query_file_text: Option<&str>,
) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    match file {
        DocumentFile::ConfigurationPolicy(kind, p) => {
            configuration_policy(*kind, p, json, ctx, &mut out);
        }
        DocumentFile::DetectionRule(r) => detection_rule(r, ctx, query_file_text, &mut out),
        DocumentFile::RoleAssignment(r) => role_assignment(r, ctx, &mut out),
        DocumentFile::DistributionProfile(p) => profile(p, ctx, &mut out),
    }
    // A substituted copy holds data only: a `${` there came from a value and is literal.
    if !ctx.substituted {
        super::check_variable_syntax(json, ctx, &mut out);
    }
    if !matches!(file, DocumentFile::DistributionProfile(_)) {
        string_lengths(json, ctx, &mut out);
    }
    // One fault, one diagnostic: a generic `wrong-type` at the very place a specific check
    // already explains (`protocol: tcp` is `invalid-protocol`, with its number) goes.
    let specific: Vec<Option<Span>> = out
        .iter()
        .filter(|d| d.is_error() && d.code != "wrong-type" && d.span.is_some())
        .map(|d| d.span.clone())
        .collect();
    out.retain(|d| d.code != "wrong-type" || !specific.contains(&d.span));
    out
}

/// The template of a configuration policy: named, or the kind's default.
pub(crate) fn template_of(
    kind: Kind,
    p: &ConfigurationPolicyFile,
) -> Result<&'static Template, Box<Diagnostic>> {
    let cat = Catalog::builtin();
    match &p.template {
        Some(t) => cat.resolve_template(t).ok_or_else(|| {
            let aliases: Vec<&str> = cat.templates().iter().map(|t| t.alias.as_str()).collect();
            let help = match diag::did_you_mean(t, aliases.iter().copied()) {
                Some(a) => format!("did you mean `{a}`?"),
                None => format!(
                    "use an alias ({}) or a template id with its `_N` version",
                    aliases.join(", ")
                ),
            };
            Box::new(
                Diagnostic::error("unknown-template", format!("unknown template `{t}`"))
                    .with_help(help),
            )
        }),
        None => cat
            .default_template(kind, p.rules.is_some() && kind == Kind::FirewallPolicy)
            .ok_or_else(|| {
                Box::new(Diagnostic::error(
                    "unknown-template",
                    format!("no default template for {kind}; name one with `template:`"),
                ))
            }),
    }
}

/// Maps the settings area's pointer-located errors to diagnostics.
pub(crate) fn path_errors(errors: Vec<PathError>, ctx: &DocCtx<'_>) -> Vec<Diagnostic> {
    errors
        .into_iter()
        .map(|e| {
            Diagnostic::error(e.code, e.message)
                .at(ctx.span(&e.pointer, e.at_key))
                .with_help_opt(e.help)
        })
        .collect()
}

/// Template and settings instances of a configuration policy, or its diagnostics.
pub(crate) fn policy_settings(
    kind: Kind,
    p: &ConfigurationPolicyFile,
    json: &Value,
    ctx: &DocCtx<'_>,
) -> Result<(&'static Template, Vec<SettingInstance>), Vec<Diagnostic>> {
    let template = template_of(kind, p).map_err(|d| vec![(*d).at(ctx.span("/template", false))])?;
    crate::settings::settings_from_yaml(kind, template, json)
        .map(|s| (template, s))
        .map_err(|e| path_errors(e, ctx))
}

/// Issue 14 gap 13: a warning per setting definition the policy uses that no source
/// confirms: not seen in any real export of the template (`rampart_catalog::seen`, an oracle
/// independent of the catalog) and not marked verified by the catalog. Such an id was
/// inferred (from the CSP naming convention) and Intune may refuse it. Each warning is at
/// the key that names the definition (else at the section), names the definition and the
/// catalog's `source`, once per definition per document.
fn unconfirmed_settings(
    template: &Template,
    settings: &[SettingInstance],
    json: &Value,
    ctx: &DocCtx<'_>,
    out: &mut Vec<Diagnostic>,
) {
    use crate::catalog::seen::{Confirmation, confirmation};
    fn ids(list: &[SettingInstance], out: &mut BTreeSet<String>) {
        use crate::settings::SettingValue as V;
        for s in list {
            out.insert(s.definition_id.clone());
            match &s.value {
                V::Choice(c) => ids(&c.children, out),
                V::ChoiceCollection(cs) => cs.iter().for_each(|c| ids(&c.children, out)),
                V::GroupCollection(gs) => gs.iter().for_each(|g| ids(&g.children, out)),
                V::Group(g) => ids(&g.children, out),
                V::Simple(_) | V::SimpleCollection(_) => {}
            }
        }
    }
    /// Every key with its pointer and the keys above it (document order).
    fn keys(v: &Value, ptr: &str, above: &[String], out: &mut Vec<(String, Vec<String>)>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let p = format!("{ptr}/{}", k.replace('~', "~0").replace('/', "~1"));
                    let mut path = above.to_vec();
                    path.push(k.clone());
                    out.push((p.clone(), path.clone()));
                    keys(x, &p, &path, out);
                }
            }
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    keys(x, &format!("{ptr}/{i}"), above, out);
                }
            }
            _ => {}
        }
    }
    let squash = |s: &str| -> String {
        s.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect()
    };
    // The key that names a definition: its raw id, its catalog name, or a readable name
    // the id ends with; among several (`shielded` under each firewall profile), the one
    // with the most keys above it that the id also contains (`public` in `publicprofile`).
    let locate = |id: &str, all: &[(String, Vec<String>)]| -> Option<String> {
        let cat = Catalog::builtin();
        let squashed = squash(id);
        let name = cat
            .definition(id)
            .map(|d| squash(&d.name))
            .unwrap_or_default();
        all.iter()
            .filter(|(_, path)| {
                let k = path.last().map(String::as_str).unwrap_or("");
                let sk = squash(k);
                k.eq_ignore_ascii_case(id)
                    || (!sk.is_empty() && (sk == name || squashed.ends_with(&sk)))
            })
            .max_by_key(|(p, path)| {
                let hits = path
                    .iter()
                    .filter(|k| squashed.contains(&squash(k)))
                    .count();
                (hits, std::cmp::Reverse(p.clone()))
            })
            .map(|(p, _)| p.clone())
    };
    let cat = Catalog::builtin();
    let mut used = BTreeSet::new();
    ids(settings, &mut used);
    let mut all = Vec::new();
    for section in ["settings", "rules", "profiles"] {
        if let Some(v) = json.get(section) {
            keys(v, &format!("/{section}"), &[], &mut all);
        }
    }
    let section = ["settings", "rules", "profiles"]
        .into_iter()
        .find(|s| json.get(s).is_some())
        .map(|s| format!("/{s}"))
        .unwrap_or_else(|| "/kind".into());
    let mut found: Vec<(String, &String)> = used
        .iter()
        // A definition the catalog does not know at all is another warning's business
        // (`unknown-to-catalog`): this one is about what the catalog claims but no source
        // confirms.
        .filter(|id| cat.definition(id).is_some())
        .filter(|id| confirmation(&template.id, id) == Confirmation::Unconfirmed)
        .map(|id| (locate(id, &all).unwrap_or_else(|| section.clone()), id))
        .collect();
    found.sort();
    for (pointer, id) in found {
        let source = cat
            .definition(id)
            .map(|d| d.source.as_str())
            .filter(|s| !s.is_empty())
            .unwrap_or("no source recorded");
        let at_key = pointer != section;
        out.push(
            Diagnostic::warning(
                "unconfirmed-setting",
                format!(
                    "setting definition `{id}` is confirmed by no source: not seen in a real export of template `{}` and not verified in the catalog (catalog source: {source})",
                    template.alias
                ),
            )
            .at(ctx.span(&pointer, at_key))
            .with_help(
                "Intune may refuse an inferred id; check it against an export of a policy made in the portal (or Graph's settingDefinitions) and mark it verified in the catalog",
            ),
        );
    }
}

fn configuration_policy(
    kind: Kind,
    p: &ConfigurationPolicyFile,
    json: &Value,
    ctx: &DocCtx<'_>,
    out: &mut Vec<Diagnostic>,
) {
    let sections_have_vars = ["settings", "rules", "profiles"]
        .iter()
        .any(|k| json.get(k).is_some_and(|v| ctx.contains_variable(v)));
    if sections_have_vars {
        // Checked per tenant, after substitution.
        if let Err(d) = template_of(kind, p) {
            out.push((*d).at(ctx.span("/template", false)));
        }
    } else {
        match policy_settings(kind, p, json, ctx) {
            Err(mut ds) => out.append(&mut ds),
            // The catalog is never a limit: what it does not know is a warning; what no
            // source has confirmed is a warning too.
            Ok((template, instances)) => {
                for w in crate::settings::coverage_warnings(template, &instances, json) {
                    out.push(
                        Diagnostic::warning(w.code, w.message)
                            .at(ctx.span(&w.pointer, w.at_key))
                            .with_help_opt(w.help),
                    );
                }
                unconfirmed_settings(template, &instances, json, ctx, out);
            }
        }
    }
    if kind == Kind::FirewallPolicy {
        super::firewall::check_rules(json, ctx, out);
    }
    included_and_excluded(p.assignments.as_deref().unwrap_or_default(), ctx, out);
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, a) in p.assignments.iter().flatten().enumerate() {
        assignment(a, i, ctx, out);
        let key = serde_json::to_string(a).unwrap_or_default();
        if let Some(first) = seen.get(&key) {
            out.push(
                Diagnostic::warning("duplicate-assignment", "this assignment is listed twice")
                    .at(ctx.span(&format!("/assignments/{i}"), false))
                    .with_label(
                        ctx.span(&format!("/assignments/{first}"), false),
                        "first listed here",
                    ),
            );
        } else {
            seen.insert(key, i);
        }
    }
}

/// A group both included and excluded: Intune lets the exclusion win, so the inclusion
/// assigns nothing, which is never what was meant. Compared case-insensitively (group
/// display names are), and after variables when resolution re-runs this on a tenant's copy.
fn included_and_excluded(list: &[AssignmentFile], ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    for (i, a) in list.iter().enumerate() {
        let Some(ex) = a.exclude_group.as_deref() else {
            continue;
        };
        if ctx.has_variable(ex) {
            continue;
        }
        if let Some(j) = list.iter().position(|b| {
            b.group
                .as_deref()
                .is_some_and(|g| g.eq_ignore_ascii_case(ex))
        }) {
            out.push(
                Diagnostic::error(
                    "included-and-excluded",
                    format!("group `{ex}` is both included and excluded"),
                )
                .at(ctx.span(&format!("/assignments/{i}/excludeGroup"), false))
                .with_label(
                    ctx.span(&format!("/assignments/{j}/group"), false),
                    "included here",
                )
                .with_help("Intune lets the exclusion win, so the inclusion assigns nothing; keep one of them"),
            );
        }
    }
}

/// Longest strings accepted, in characters. Graph does not document these limits; the
/// values are what the Intune and Defender portals cap their own fields at, kept as upper
/// bounds (UNVERIFIED against the services: a longer value may be refused with a 400 at
/// apply, a shorter one never is by this check).
pub const MAX_NAME_CHARS: usize = 256;
/// Longest description or recommended-actions text accepted (see [`MAX_NAME_CHARS`]).
pub const MAX_TEXT_CHARS: usize = 10_000;

/// Display names, titles and descriptions within the lengths Graph takes.
fn string_lengths(json: &Value, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    for (pointer, max) in [
        ("/displayName", MAX_NAME_CHARS),
        ("/alert/title", MAX_NAME_CHARS),
        ("/customRole/displayName", MAX_NAME_CHARS),
        ("/description", MAX_TEXT_CHARS),
        ("/alert/description", MAX_TEXT_CHARS),
        ("/alert/recommendedActions", MAX_TEXT_CHARS),
        ("/customRole/description", MAX_TEXT_CHARS),
    ] {
        if let Some(Value::String(s)) = json.pointer(pointer) {
            let n = s.chars().count();
            if n > max {
                out.push(
                    Diagnostic::error(
                        "too-long",
                        format!(
                            "`{}` is {n} characters long, more than the {max} the service accepts",
                            pointer.rsplit('/').next().unwrap_or(pointer)
                        ),
                    )
                    .at(ctx.span(pointer, false))
                    .with_help(format!("shorten it to at most {max} characters")),
                );
            }
        }
    }
}

fn assignment(a: &AssignmentFile, i: usize, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let ptr = format!("/assignments/{i}");
    let targets = [
        a.all_devices.is_some(),
        a.all_licensed_users.is_some(),
        a.group.is_some(),
        a.exclude_group.is_some(),
    ]
    .iter()
    .filter(|t| **t)
    .count();
    if targets != 1 {
        out.push(
            Diagnostic::error(
                "invalid-assignment",
                if targets == 0 {
                    "an assignment needs a target".to_string()
                } else {
                    "an assignment has exactly one target".to_string()
                },
            )
            .at(ctx.span(&ptr, false))
            .with_help("use one of `allDevices: true`, `allLicensedUsers: true`, `group: NAME`, `excludeGroup: NAME` per list item"),
        );
    }
    for (field, v) in [
        ("allDevices", a.all_devices),
        ("allLicensedUsers", a.all_licensed_users),
    ] {
        if v == Some(false) {
            out.push(
                Diagnostic::error(
                    "invalid-assignment",
                    format!("`{field}: false` assigns nothing"),
                )
                .at(ctx.span(&format!("{ptr}/{field}"), false))
                .with_help(
                    "remove the entry; the list is complete, so anything absent is unassigned",
                ),
            );
        }
    }
    for (field, v) in [("group", &a.group), ("excludeGroup", &a.exclude_group)] {
        if v.as_deref().is_some_and(|g| g.trim().is_empty()) {
            out.push(
                Diagnostic::error("invalid-assignment", "empty group name")
                    .at(ctx.span(&format!("{ptr}/{field}"), false)),
            );
        }
    }
    if let Some(f) = &a.filter {
        let empty = |v: &Option<String>| v.as_deref().is_some_and(|s| s.trim().is_empty());
        if f.name.is_some() == f.id.is_some() {
            out.push(
                Diagnostic::error(
                    "invalid-assignment",
                    "a filter needs exactly one of `name` and `id`",
                )
                .at(ctx.span(&format!("{ptr}/filter"), true))
                .with_help("name the filter by its display name (`name:`), resolved per tenant"),
            );
        } else if empty(&f.name) || empty(&f.id) {
            let field = if f.name.is_some() { "name" } else { "id" };
            out.push(
                Diagnostic::error("invalid-assignment", format!("empty filter {field}"))
                    .at(ctx.span(&format!("{ptr}/filter/{field}"), false)),
            );
        }
    }
    if a.exclude_group.is_some() && a.filter.is_some() {
        out.push(
            Diagnostic::error("invalid-assignment", "an exclusion cannot carry a filter")
                .at(ctx.span(&format!("{ptr}/filter"), true))
                .with_help("Intune applies assignment filters to included targets only"),
        );
    }
}

fn is_rule_id(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 100
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// KQL without `//` comments and blank space: empty means "no query".
fn kql_is_empty(q: &str) -> bool {
    q.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .all(|l| l.trim().is_empty())
}

/// Whether `word` occurs in `text` as a whole identifier.
fn has_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

fn detection_rule(
    r: &DetectionRuleFile,
    ctx: &DocCtx<'_>,
    query_file_text: Option<&str>,
    out: &mut Vec<Diagnostic>,
) {
    match &r.rule_id {
        Some(id) if !is_rule_id(id) => out.push(
            Diagnostic::error("invalid-rule-id", format!("`{id}` is not a valid rule id"))
                .at(ctx.span("/ruleId", false))
                .with_help("a rule id starts with a letter and holds only letters, digits, `-` and `_` (at most 100)"),
        ),
        None if !is_rule_id(&r.name) => out.push(
            Diagnostic::error(
                "invalid-rule-id",
                format!("`{}` cannot serve as the rule id: it must start with a letter", r.name),
            )
            .at(ctx.span("/name", false))
            .with_help("rename the rule, or give `ruleId:`"),
        ),
        _ => {}
    }
    if !FREQUENCIES.contains(&r.frequency.as_str()) {
        let upper = r.frequency.trim().to_ascii_uppercase();
        let guess = if upper.starts_with("PT") {
            upper.clone()
        } else if upper == "0" {
            "PT0S".to_string()
        } else {
            format!("PT{upper}")
        };
        let help = if FREQUENCIES.contains(&guess.as_str()) {
            format!("did you mean `{guess}`?")
        } else {
            format!(
                "one of: {} (PT0S runs continuously, near real time)",
                FREQUENCIES.join(", ")
            )
        };
        out.push(
            Diagnostic::error(
                "invalid-frequency",
                format!("`{}` is not a frequency the service accepts", r.frequency),
            )
            .at(ctx.span("/frequency", false))
            .with_help(help),
        );
    }
    let query: Option<(&str, &str)> = match (&r.query, &r.query_file) {
        (Some(_), Some(_)) => {
            out.push(
                Diagnostic::error("conflicting-query", "give `query` or `queryFile`, not both")
                    .at(ctx.span("/queryFile", true))
                    .with_label(ctx.span("/query", true), "query given here"),
            );
            None
        }
        (None, None) => {
            out.push(
                Diagnostic::error(
                    "missing-query",
                    "a detection rule needs `query` or `queryFile`",
                )
                .at(ctx.span("", false)),
            );
            None
        }
        (Some(q), None) => Some((q.as_str(), "/query")),
        (None, Some(_)) => query_file_text.map(|q| (q, "/queryFile")),
    };
    if let Some((q, ptr)) = query
        && kql_is_empty(q)
    {
        out.push(
            Diagnostic::error("empty-query", "the query is empty")
                .at(ctx.span(ptr, false))
                .with_help("write the KQL of the hunting query"),
        );
    }
    let alert = &r.alert;
    if alert.tactic.is_some() && alert.tactics.is_some() {
        out.push(
            Diagnostic::error("conflicting-field", "give `tactic` or `tactics`, not both")
                .at(ctx.span("/alert/tactics", true)),
        );
    }
    if let Some(list) = &alert.tactics
        && list.len() > 1
    {
        out.push(
            Diagnostic::error(
                "too-many-tactics",
                format!(
                    "{} tactics given; the service accepts at most one",
                    list.len()
                ),
            )
            .at(ctx.span("/alert/tactics/1", false))
            .with_help(
                "keep the tactic that best describes the alert; techniques can still list several",
            ),
        );
    }
    let tactics: Vec<(String, &String)> = alert
        .tactic
        .iter()
        .map(|t| ("/alert/tactic".to_string(), t))
        .chain(
            alert
                .tactics
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, t)| (format!("/alert/tactics/{i}"), t)),
        )
        .collect();
    for (ptr, t) in tactics {
        if !TACTICS.contains(&t.as_str()) {
            let help = match diag::did_you_mean(t, TACTICS) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("one of: {}", TACTICS.join(", ")),
            };
            out.push(
                Diagnostic::error("unknown-tactic", format!("unknown MITRE tactic `{t}`"))
                    .at(ctx.span(&ptr, false))
                    .with_help(help),
            );
        }
    }
    for (i, t) in alert.techniques.iter().enumerate() {
        let ok = t.len() >= 5
            && t.starts_with('T')
            && t[1..5].chars().all(|c| c.is_ascii_digit())
            && (t.len() == 5
                || (t.len() == 9 && &t[5..6] == "." && t[6..].chars().all(|c| c.is_ascii_digit())));
        if !ok {
            out.push(
                Diagnostic::error(
                    "invalid-technique",
                    format!("`{t}` is not a MITRE technique id"),
                )
                .at(ctx.span(&format!("/alert/techniques/{i}"), false))
                .with_help("write `T1059` or `T1059.001`"),
            );
        }
    }
    let m = &alert.entity_mappings;
    if m.hosts.is_empty() && m.accounts.is_empty() && m.mailboxes.is_empty() && m.ips.is_empty() {
        out.push(
            Diagnostic::error(
                "missing-entity-mapping",
                "the alert maps no host, account, mailbox or IP",
            )
            .at(ctx.span("/alert/entityMappings", true))
            .with_help("map at least one, e.g. `hosts: [{deviceIdColumn: DeviceId}]` (the column must be in the query's output)"),
        );
    }
    // A column the query never mentions cannot be in a `project`ed output.
    if let Some((q, _)) = query
        && has_word(q, "project")
    {
        let groups = [
            ("hosts", &m.hosts),
            ("accounts", &m.accounts),
            ("mailboxes", &m.mailboxes),
            ("ips", &m.ips),
            ("files", &m.files),
            ("urls", &m.urls),
            ("processes", &m.processes),
        ];
        for (group, items) in groups {
            for (i, item) in items.iter().enumerate() {
                for (prop, column) in item {
                    if !has_word(q, column) {
                        out.push(
                            Diagnostic::warning(
                                "column-not-projected",
                                format!("column `{column}` does not appear in the query"),
                            )
                            .at(ctx.span(
                                &format!("/alert/entityMappings/{group}/{i}/{prop}"),
                                false,
                            ))
                            .with_help("the service rejects mappings of columns the query does not return; add it to `project`"),
                        );
                    }
                }
            }
        }
    }
}

fn role_assignment(r: &RoleAssignmentFile, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    if r.groups.is_empty() {
        out.push(
            Diagnostic::error(
                "missing-group",
                "a role assignment needs at least one group",
            )
            .at(ctx.span("/groups", false)),
        );
    }
    if let Some(c) = &r.custom_role {
        if r.system == SystemFile::Directory {
            out.push(
                Diagnostic::error(
                    "custom-role-not-supported",
                    "rampart manages custom roles for defender and intune only",
                )
                .at(ctx.span("/customRole", true))
                .with_help("assign a built-in directory role by name"),
            );
        }
        if let Some(role) = &r.role
            && role != &c.display_name
        {
            out.push(
                Diagnostic::error(
                    "role-mismatch",
                    format!(
                        "`role` is `{role}` but the custom role is `{}`",
                        c.display_name
                    ),
                )
                .at(ctx.span("/role", false))
                .with_label(
                    ctx.span("/customRole/displayName", false),
                    "custom role named here",
                )
                .with_help("omit `role` (it defaults to the custom role) or make the two equal"),
            );
        }
        if c.actions.is_empty() {
            out.push(
                Diagnostic::error("missing-action", "a custom role needs at least one action")
                    .at(ctx.span("/customRole/actions", false)),
            );
        }
        // A repeated action grants nothing more; Graph's role definitions keep each action
        // once, so a repeat would show as drift on every plan. Compared case-insensitively
        // (action strings are).
        let mut seen_actions: BTreeMap<String, usize> = BTreeMap::new();
        for (i, a) in c.actions.iter().enumerate() {
            if ctx.has_variable(a) {
                continue;
            }
            match seen_actions.get(&a.trim().to_ascii_lowercase()) {
                Some(j) => out.push(
                    Diagnostic::error(
                        "duplicate-action",
                        format!("action `{a}` is listed twice in this custom role"),
                    )
                    .at(ctx.span(&format!("/customRole/actions/{i}"), false))
                    .with_label(
                        ctx.span(&format!("/customRole/actions/{j}"), false),
                        "first listed here",
                    )
                    .with_help("remove one of them"),
                ),
                None => {
                    seen_actions.insert(a.trim().to_ascii_lowercase(), i);
                }
            }
        }
        if r.system == SystemFile::Defender {
            for (i, a) in c.actions.iter().enumerate() {
                if ctx.has_variable(a) {
                    continue;
                }
                let at = ctx.span(&format!("/customRole/actions/{i}"), false);
                match super::roles::check_defender_action(a) {
                    super::roles::ActionCheck::Known => {}
                    super::roles::ActionCheck::Undocumented => out.push(
                        Diagnostic::warning(
                            "undocumented-action",
                            format!("`{a}` is not in the documented list of Defender XDR permissions"),
                        )
                        .at(at)
                        .with_help("Microsoft does not publish every permission's action string; check the spelling against the role in the Defender portal"),
                    ),
                    super::roles::ActionCheck::Invalid { reason, did_you_mean } => out.push(
                        Diagnostic::error(
                            "unknown-action",
                            format!("`{a}` is not a Defender XDR permission: {reason}"),
                        )
                        .at(at)
                        .with_help(match did_you_mean {
                            Some(k) => format!("did you mean `{k}`?"),
                            None => "actions look like `microsoft.xdr/secops/securitydata/read`".to_string(),
                        }),
                    ),
                }
            }
        }
        return;
    }
    let Some(role) = &r.role else {
        out.push(
            Diagnostic::error(
                "missing-field",
                "missing required field `role` (or `customRole`)",
            )
            .at(ctx.span("", false)),
        );
        return;
    };
    let directory: Vec<&str> = DIRECTORY_ROLES.iter().map(|(n, _)| *n).collect();
    match r.system {
        SystemFile::Directory => {
            if !directory.iter().any(|n| n.eq_ignore_ascii_case(role)) {
                out.push(unknown_role(role, "Entra directory", &directory, ctx));
            }
        }
        SystemFile::Intune => {
            if !INTUNE_ROLES.iter().any(|n| n.eq_ignore_ascii_case(role)) {
                out.push(unknown_role(role, "Intune", INTUNE_ROLES, ctx).with_help(
                    match diag::did_you_mean(role, INTUNE_ROLES.iter().copied()) {
                        Some(s) => {
                            format!("did you mean `{s}`? Otherwise define it with `customRole`")
                        }
                        None => {
                            "not an Intune built-in role; define it with `customRole`".to_string()
                        }
                    },
                ));
            }
        }
        SystemFile::Defender => {
            if directory.iter().any(|n| n.eq_ignore_ascii_case(role)) {
                out.push(
                    Diagnostic::error(
                        "unknown-role",
                        format!("`{role}` is an Entra directory role, not a Defender XDR role"),
                    )
                    .at(ctx.span("/role", false))
                    .with_help("Defender XDR unified RBAC has no built-in roles: use `system: directory`, or define the role with `customRole`"),
                );
            }
        }
    }
    if r.system == SystemFile::Directory
        && let Some(scopes) = &r.scopes
        && (scopes.len() != 1 || !scopes[0].starts_with('/'))
    {
        out.push(
            Diagnostic::error(
                "invalid-scope",
                "a directory role assignment has one scope starting with `/`",
            )
            .at(ctx.span("/scopes", false))
            .with_help(
                "`/` for the tenant, `/administrativeUnits/{id}` for an administrative unit",
            ),
        );
    }
}

fn unknown_role(role: &str, system: &str, known: &[&str], ctx: &DocCtx<'_>) -> Diagnostic {
    let help = match diag::did_you_mean(role, known.iter().copied()) {
        Some(s) => format!("did you mean `{s}`?"),
        None => format!("known roles: {}", known.join(", ")),
    };
    Diagnostic::error(
        "unknown-role",
        format!("`{role}` is not a built-in {system} role"),
    )
    .at(ctx.span("/role", false))
    .with_help(help)
}

/// Whether `s` is a GUID in the 8-4-4-4-12 hex form.
pub fn is_guid(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    parts.len() == 5
        && parts
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(p, n)| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit()))
}

fn is_var_name(s: &str) -> bool {
    let mut c = s.chars();
    c.next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn profile(p: &DistributionProfileFile, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let var_names = |vars: &BTreeMap<String, crate::config::VarValue>,
                     base: &str,
                     out: &mut Vec<Diagnostic>| {
        for name in vars.keys() {
            if !is_var_name(name) {
                out.push(
                    Diagnostic::error(
                        "invalid-variable-name",
                        format!("`{name}` is not a valid variable name"),
                    )
                    .at(ctx.span(
                        &format!("{base}/{}", crate::yaml::escape_pointer(name)),
                        true,
                    ))
                    .with_help("letters, digits and `_`, starting with a letter or `_`"),
                );
            }
        }
    };
    var_names(&p.vars, "/vars", out);
    if p.tenants.is_empty() {
        out.push(
            Diagnostic::warning("no-tenants", "the profile has no tenants")
                .at(ctx.span("/tenants", false)),
        );
    }
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    let mut names: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, t) in p.tenants.iter().enumerate() {
        var_names(&t.vars, &format!("/tenants/{i}/vars"), out);
        if !is_guid(&t.id) {
            out.push(
                Diagnostic::error(
                    "invalid-tenant-id",
                    format!("`{}` is not a tenant id (GUID)", t.id),
                )
                .at(ctx.span(&format!("/tenants/{i}/id"), false))
                .with_help("the Entra tenant id, e.g. 6f1c2b9e-0d4a-4e55-9a61-3c2f8e7d1a01"),
            );
        }
        let id = t.id.to_ascii_lowercase();
        if let Some(first) = ids.get(&id) {
            out.push(
                Diagnostic::error(
                    "duplicate-tenant",
                    format!("tenant `{}` is listed twice", t.id),
                )
                .at(ctx.span(&format!("/tenants/{i}/id"), false))
                .with_label(
                    ctx.span(&format!("/tenants/{first}/id"), false),
                    "first listed here",
                ),
            );
        } else {
            ids.insert(id, i);
        }
        if let Some(first) = names.get(t.name.as_str()) {
            out.push(
                Diagnostic::error(
                    "duplicate-tenant",
                    format!("tenant name `{}` is used twice", t.name),
                )
                .at(ctx.span(&format!("/tenants/{i}/name"), false))
                .with_label(
                    ctx.span(&format!("/tenants/{first}/name"), false),
                    "first used here",
                ),
            );
        } else {
            names.insert(&t.name, i);
        }
    }
    let kinds: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
    for (i, r) in p.policies.iter().enumerate() {
        let PolicyRefFile::Selector(s) = r else {
            continue;
        };
        if s.kind.is_none() && s.label.is_none() {
            out.push(
                Diagnostic::error("empty-selector", "a selector needs `kind`, `label` or both")
                    .at(ctx.span(&format!("/policies/{i}"), false)),
            );
        }
        if let Some(k) = &s.kind
            && Kind::parse(k).is_none()
        {
            let help = match diag::did_you_mean(k, kinds.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("one of: {}", kinds.join(", ")),
            };
            out.push(
                Diagnostic::error("unknown-kind", format!("unknown policy kind `{k}`"))
                    .at(ctx.span(&format!("/policies/{i}/kind"), false))
                    .with_help(help),
            );
        }
    }
}

/// Checks across documents: duplicate names, profile references and selectors, tenants
/// named differently by two profiles.
pub(crate) fn cross_document(loaded: &Loaded, out: &mut Vec<Diagnostic>) {
    // Duplicate names per kind (profiles are a kind too).
    let mut first: BTreeMap<(&str, &str), &super::LoadedDocument> = BTreeMap::new();
    for d in &loaded.documents {
        match first.get(&(d.kind.as_str(), d.name.as_str())) {
            Some(f) => out.push(
                Diagnostic::error(
                    "duplicate-name",
                    format!("another {} is already named `{}`", d.kind, d.name),
                )
                .at(d.span("/name", false))
                .with_label(f.span("/name", false), "first defined here")
                .with_help(
                    "names are the identity of objects in every tenant; make them unique per kind",
                ),
            ),
            None => {
                first.insert((&d.kind, &d.name), d);
            }
        }
    }
    // When a file could not be read whole, a missing name is likely in it: say nothing
    // rather than report references that the user's fix will resolve.
    let complete = !loaded.incomplete;
    let names = policy_names(loaded);
    let labels: BTreeSet<String> = loaded.policies().flat_map(|d| d.labels()).collect();
    // Tenants across profiles: one id, one name.
    let mut by_id: BTreeMap<String, (&str, &super::LoadedDocument, usize)> = BTreeMap::new();
    let mut by_name: BTreeMap<&str, (String, &super::LoadedDocument, usize)> = BTreeMap::new();
    // A profile with a shape error elsewhere (say `ring: high`) still has its references
    // and tenants checked, from the repaired copy the per-document checks use: one error
    // must not hide another in the same run.
    let repaired: Vec<(&super::LoadedDocument, Option<DocumentFile>)> = loaded
        .profiles()
        .map(|prof| {
            let own = match &prof.file {
                Some(_) => None,
                None => {
                    let (json, _, _) = super::schema_errors::repaired(&prof.kind, &prof.json);
                    crate::config::from_json(&prof.kind, &json).ok()
                }
            };
            (prof, own)
        })
        .collect();
    for (prof, own) in &repaired {
        let prof = *prof;
        let Some(DocumentFile::DistributionProfile(p)) = prof.file.as_ref().or(own.as_ref()) else {
            continue;
        };
        for (i, r) in p.policies.iter().enumerate() {
            let ptr = format!("/policies/{i}");
            match r {
                PolicyRefFile::Name(n) => {
                    let matching: Vec<&super::LoadedDocument> =
                        loaded.policies().filter(|d| &d.name == n).collect();
                    if matching.is_empty() && complete {
                        let help = match diag::did_you_mean(n, names.iter().copied()) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "no policy, rule or role assignment has this name".to_string(),
                        };
                        out.push(
                            Diagnostic::error("unknown-policy", format!("no policy named `{n}`"))
                                .at(prof.span(&ptr, false))
                                .with_help(help),
                        );
                    } else if matching
                        .iter()
                        .map(|d| &d.kind)
                        .collect::<BTreeSet<_>>()
                        .len()
                        > 1
                    {
                        let mut d = Diagnostic::error(
                            "ambiguous-policy",
                            format!("`{n}` names documents of several kinds"),
                        )
                        .at(prof.span(&ptr, false))
                        .with_help(format!(
                            "select one with `{{kind: KIND, name}}`, or rename; kinds: {}",
                            matching
                                .iter()
                                .map(|d| d.kind.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                        for m in matching {
                            d = d.with_label(m.span("/name", false), format!("a {}", m.kind));
                        }
                        out.push(d);
                    }
                }
                PolicyRefFile::Selector(s) => {
                    if !complete {
                        continue;
                    }
                    if let Some(l) = &s.label
                        && !labels.contains(l)
                    {
                        let help = match diag::did_you_mean(l, labels.iter().map(String::as_str)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => "no policy carries this label".to_string(),
                        };
                        out.push(
                            Diagnostic::error(
                                "unknown-label",
                                format!("no policy has label `{l}`"),
                            )
                            .at(prof.span(&format!("{ptr}/label"), false))
                            .with_help(help),
                        );
                        continue;
                    }
                    let empty = s.kind.is_none() && s.label.is_none();
                    if empty || s.kind.as_deref().is_some_and(|k| Kind::parse(k).is_none()) {
                        continue; // reported as empty-selector or unknown-kind
                    }
                    if super::select(loaded, s).next().is_none() {
                        out.push(
                            Diagnostic::warning(
                                "selector-matches-nothing",
                                "this selector matches no policy",
                            )
                            .at(prof.span(&ptr, false)),
                        );
                    }
                }
            }
        }
        for (i, t) in p.tenants.iter().enumerate() {
            let id = t.id.to_ascii_lowercase();
            // Within one profile, duplicates are reported by the profile's own checks.
            match by_id.get(&id) {
                Some((name, other, j)) if *name != t.name && other.name != prof.name => out.push(
                    Diagnostic::error(
                        "tenant-conflict",
                        format!(
                            "tenant `{}` is named `{}` here and `{name}` in profile `{}`",
                            t.id, t.name, other.name
                        ),
                    )
                    .at(prof.span(&format!("/tenants/{i}/name"), false))
                    .with_label(
                        other.span(&format!("/tenants/{j}/name"), false),
                        "named here",
                    ),
                ),
                Some(_) => {}
                None => {
                    by_id.insert(id.clone(), (&t.name, prof, i));
                }
            }
            match by_name.get(t.name.as_str()) {
                Some((other_id, other, j)) if *other_id != id && other.name != prof.name => out
                    .push(
                        Diagnostic::error(
                            "tenant-conflict",
                            format!("tenant name `{}` names two tenants", t.name),
                        )
                        .at(prof.span(&format!("/tenants/{i}/id"), false))
                        .with_label(
                            other.span(&format!("/tenants/{j}/id"), false),
                            "the other tenant",
                        ),
                    ),
                Some(_) => {}
                None => {
                    by_name.insert(&t.name, (id, prof, i));
                }
            }
        }
    }
}
