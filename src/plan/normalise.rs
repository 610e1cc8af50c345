//! Normalisation: turning what Graph returns and what the user wants into one comparable
//! form, so that the diff reports only real changes (graph-api.md §1.2 "Diff rule").
//!
//! Rules, each forced by how Graph behaves:
//! - server-managed fields (`id`, timestamps, `@odata.*`, run details...) are dropped;
//! - `null`, `[]` and `{}` are the same as absent (Graph echoes all three for unset fields);
//! - settings are compared order-insensitively, without the template references the server
//!   echoes back;
//! - detection-rule techniques are a set where a sub-technique implies its parent (the
//!   service rewrites `T1059.001` into `{technique: T1059, subTechniques: [T1059.001]}`);
//! - Defender RBAC action lists drop actions a wildcard in the same list already covers
//!   (Defender stores them that way; a naive diff would re-plan forever).
//!
//! Limits: KQL is compared as text with line endings unified and trailing whitespace
//! trimmed; no KQL parsing.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::settings::{ChoiceValue, GroupValue, SettingInstance, SettingValue, SimpleValue};

/// Removes `null`, empty arrays, empty objects and `@odata` annotations, recursively.
pub fn prune(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|k, _| !k.starts_with('@') && !k.contains("@odata"));
            for v in map.values_mut() {
                prune(v);
            }
            map.retain(|_, v| !is_empty(v));
        }
        Value::Array(items) => {
            for v in items.iter_mut() {
                prune(v);
            }
        }
        _ => {}
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// JSON with object keys sorted at every level: the form digests are computed over.
pub fn canonical_json(value: &Value) -> String {
    fn sort(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for k in keys {
                    out.insert(k.clone(), sort(&m[k]));
                }
                Value::Object(out)
            }
            Value::Array(a) => Value::Array(a.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    sort(value).to_string()
}

/// `sha256:<hex>` of the canonical JSON of `value`.
pub fn digest(value: &Value) -> String {
    digest_bytes(canonical_json(value).as_bytes())
}

/// A short digest (the first 16 hex digits of `sha256`) of each top-level field of a
/// normalised object (`lastModified` and `id` left out, as they never move alone): what apply compares
/// to name the fields that moved since the plan. Not a security check (the whole
/// fingerprint is); short so that plans of large fleets stay small.
pub fn field_digests(value: &Value) -> std::collections::BTreeMap<String, String> {
    let Value::Object(m) = value else {
        return Default::default();
    };
    m.iter()
        .filter(|(k, _)| !matches!(k.as_str(), "lastModified" | "id"))
        .map(|(k, v)| {
            let d = digest(v);
            (k.clone(), d["sha256:".len()..][..16].to_string())
        })
        .collect()
}

/// `sha256:<hex>` of bytes.
pub fn digest_bytes(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Multi-line text as Graph treats it: CRLF = LF, trailing whitespace insignificant.
pub fn text(s: &str) -> String {
    s.replace("\r\n", "\n").trim_end().to_string()
}

/// A comma-separated flags enum (`technologies`): order-insensitive.
pub fn flags(s: &str) -> String {
    let mut parts: Vec<&str> = s
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    parts.sort_unstable();
    parts.dedup();
    parts.join(",")
}

/// Role scope tags: a set; none means the default tag `0` (what Intune stores).
pub fn scope_tags(tags: &[String]) -> Vec<String> {
    let mut t: Vec<String> = tags.iter().map(|s| s.trim().to_string()).collect();
    t.retain(|s| !s.is_empty());
    if t.is_empty() {
        t.push("0".to_string());
    }
    t.sort();
    t.dedup();
    t
}

// ---------------------------------------------------------------------------------------
// Settings

/// The comparable form of a settings tree: template references dropped (the server echoes
/// them whether or not they were sent), children and collections sorted (Graph does not
/// keep order), empty collections equal to absent ones.
pub fn settings(instances: &[SettingInstance]) -> Vec<SettingInstance> {
    let mut out: Vec<SettingInstance> = instances.iter().map(instance).collect();
    out.sort();
    out
}

fn instance(i: &SettingInstance) -> SettingInstance {
    SettingInstance {
        definition_id: i.definition_id.to_ascii_lowercase(),
        instance_template_id: None,
        value: match &i.value {
            SettingValue::Choice(c) => SettingValue::Choice(choice(c)),
            SettingValue::ChoiceCollection(cs) => {
                let mut v: Vec<ChoiceValue> = cs.iter().map(choice).collect();
                v.sort();
                SettingValue::ChoiceCollection(v)
            }
            SettingValue::Simple(s) => SettingValue::Simple(simple(s)),
            SettingValue::SimpleCollection(ss) => {
                let mut v: Vec<SimpleValue> = ss.iter().map(simple).collect();
                v.sort();
                SettingValue::SimpleCollection(v)
            }
            SettingValue::GroupCollection(gs) => {
                let mut v: Vec<GroupValue> = gs.iter().map(group).collect();
                v.sort();
                SettingValue::GroupCollection(v)
            }
            SettingValue::Group(g) => SettingValue::Group(group(g)),
        },
    }
}

fn choice(c: &ChoiceValue) -> ChoiceValue {
    ChoiceValue {
        value: c.value.to_ascii_lowercase(),
        value_template_id: None,
        children: settings(&c.children),
    }
}

fn group(g: &GroupValue) -> GroupValue {
    GroupValue {
        value_template_id: None,
        children: settings(&g.children),
    }
}

fn simple(s: &SimpleValue) -> SimpleValue {
    match s {
        SimpleValue::Integer { value, .. } => SimpleValue::Integer {
            value: *value,
            value_template_id: None,
        },
        SimpleValue::String { value, .. } => SimpleValue::String {
            value: value.clone(),
            value_template_id: None,
        },
        // Graph never returns a secret's clear value: compare the state only.
        SimpleValue::Secret { value_state, .. } => SimpleValue::Secret {
            value: String::new(),
            value_state: value_state.clone(),
            value_template_id: None,
        },
    }
}

// ---------------------------------------------------------------------------------------
// Detection rules

/// Server-set fields of a detection rule (graph-api.md §2.2, §2.3) and fields compared on
/// their own (`id` is the match key, `description` carries the marker).
const RULE_IGNORED: [&str; 9] = [
    "id",
    "description",
    "createdBy",
    "createdDateTime",
    "lastModifiedBy",
    "lastModifiedDateTime",
    "detectorId",
    "lastRunDetails",
    // Deprecated twin of `status`, retired 2026-10-01; `status` is authoritative.
    "isEnabled",
];

/// The comparable form of a detection rule body (desired or observed).
pub fn detection_rule(body: &Value) -> Value {
    let mut v = body.clone();
    if let Value::Object(m) = &mut v {
        for k in RULE_IGNORED {
            m.remove(k);
        }
        if let Some(Value::Object(q)) = m.get_mut("queryCondition") {
            q.remove("lastModifiedDateTime");
            if let Some(Value::String(t)) = q.get_mut("queryText") {
                *t = text(t);
            }
        }
        if let Some(Value::Object(s)) = m.get_mut("schedule") {
            s.remove("nextRunDateTime");
        }
        if let Some(Value::Object(da)) = m.get_mut("detectionAction")
            && let Some(Value::Object(at)) = da.get_mut("alertTemplate")
        {
            if let Some(tactics) = at.get_mut("tactics") {
                *tactics = normalise_tactics(tactics);
            }
            if let Some(Value::Array(techs)) = at.get_mut("mitreTechniques") {
                let t = techniques(techs);
                *techs = t.into_iter().map(Value::String).collect();
            }
            for key in ["description", "recommendedActions", "title"] {
                if let Some(Value::String(s)) = at.get_mut(key) {
                    *s = text(s);
                }
            }
        }
    }
    prune(&mut v);
    v
}

/// `[{tactic, techniques: [...]}]` -> sorted `[{tactic, techniques: [canonical ids]}]`.
fn normalise_tactics(tactics: &Value) -> Value {
    let Value::Array(items) = tactics else {
        return tactics.clone();
    };
    let mut out: Vec<Value> = items
        .iter()
        .map(|item| match item {
            Value::Object(m) => {
                let mut o = Map::new();
                if let Some(t) = m.get("tactic") {
                    o.insert("tactic".into(), t.clone());
                }
                let techs = match m.get("techniques") {
                    Some(Value::Array(a)) => techniques(a),
                    _ => Vec::new(),
                };
                o.insert(
                    "techniques".into(),
                    Value::Array(techs.into_iter().map(Value::String).collect()),
                );
                Value::Object(o)
            }
            Value::String(s) => Value::String(s.clone()),
            other => other.clone(),
        })
        .collect();
    out.sort_by_key(canonical_json);
    Value::Array(out)
}

/// A technique list as a set of upper-case ids in which a sub-technique (`T1059.001`)
/// implies and replaces its parent (`T1059`). Accepts plain strings, `{technique}` and the
/// service's `{technique, subTechniques[]}` form.
pub fn techniques(items: &[Value]) -> Vec<String> {
    let mut all: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        let s = s.trim().to_ascii_uppercase();
        if !s.is_empty() {
            all.push(s);
        }
    };
    for item in items {
        match item {
            Value::String(s) => push(s),
            Value::Object(m) => {
                if let Some(Value::String(t)) = m.get("technique") {
                    push(t);
                }
                if let Some(Value::Array(subs)) = m.get("subTechniques") {
                    for s in subs {
                        match s {
                            Value::String(s) => push(s),
                            Value::Object(o) => {
                                if let Some(Value::String(t)) =
                                    o.get("subTechnique").or_else(|| o.get("technique"))
                                {
                                    push(t);
                                }
                            }
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    all.sort();
    all.dedup();
    let subs: Vec<String> = all.iter().filter(|t| t.contains('.')).cloned().collect();
    all.retain(|t| t.contains('.') || !subs.iter().any(|s| s.starts_with(&format!("{t}."))));
    all
}

// ---------------------------------------------------------------------------------------
// RBAC

/// A role's action list as Defender stores it: lower-cased, deduplicated, sorted, and
/// without actions that a wildcard action of the same list covers (`*` matches any run of
/// characters, `/` included).
pub fn rbac_actions(actions: &[String]) -> Vec<String> {
    let mut all: Vec<String> = actions
        .iter()
        .map(|a| a.trim().to_ascii_lowercase())
        .filter(|a| !a.is_empty())
        .collect();
    all.sort();
    all.dedup();
    let wildcards: Vec<String> = all.iter().filter(|a| a.contains('*')).cloned().collect();
    all.retain(|a| {
        !wildcards
            .iter()
            .any(|w| w != a && glob_match(w.as_bytes(), a.as_bytes()))
    });
    all
}

/// `*` matches any sequence (including `/`); everything else literally.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while t < text.len() {
        if p < pattern.len() && pattern[p] != b'*' && pattern[p] == text[t] {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some(p);
            mark = t;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            t = mark;
        } else {
            return false;
        }
    }
    while p < pattern.len() && pattern[p] == b'*' {
        p += 1;
    }
    p == pattern.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wildcards_swallow_the_actions_they_cover() {
        let a = rbac_actions(&[
            "microsoft.xdr/secops/securitydata/alerts/manage".into(),
            "microsoft.xdr/secops/*/manage".into(),
            "Microsoft.XDR/secops/*/read".into(),
            "microsoft.xdr/configuration/system/manage".into(),
        ]);
        assert_eq!(
            a,
            vec![
                "microsoft.xdr/configuration/system/manage",
                "microsoft.xdr/secops/*/manage",
                "microsoft.xdr/secops/*/read",
            ]
        );
        // A wildcard covering another wildcard swallows it too.
        assert_eq!(
            rbac_actions(&["a/*".into(), "a/*/read".into()]),
            vec!["a/*".to_string()]
        );
    }

    #[test]
    fn techniques_sub_implies_parent() {
        let desired = techniques(&[json!("T1059"), json!("t1059.001")]);
        let service = techniques(&[json!({"technique": "T1059", "subTechniques": ["T1059.001"]})]);
        assert_eq!(desired, vec!["T1059.001"]);
        assert_eq!(desired, service);
        assert_eq!(techniques(&[json!({"technique": "T1566"})]), vec!["T1566"]);
    }

    #[test]
    fn prune_treats_empty_as_absent() {
        let mut a =
            json!({"a": null, "b": [], "c": {}, "d": {"e": null}, "f": 1, "@odata.type": "x"});
        prune(&mut a);
        assert_eq!(a, json!({"f": 1}));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": 1, "c": 2}})),
            r#"{"a":{"c":2,"d":1},"b":1}"#
        );
    }
}
