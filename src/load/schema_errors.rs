//! JSON Schema validation of one document, with every error turned into a located
//! diagnostic: unknown field at its key, wrong type or invalid value at the value, missing
//! field at the mapping (its key when it has one). `anyOf` failures (untagged unions) are
//! reported through the branch that matched best, not as a wall of alternatives.
//!
//! Errors on strings that hold a `${...}` variable are not reported here: the value is
//! only known per tenant, and resolution runs this check again after substitution.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::{Location, LocationSegment};
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

use super::DocCtx;
use crate::config::{DOCUMENT_KINDS, schema};
use crate::diag::{self, Diagnostic};

static VALIDATORS: LazyLock<BTreeMap<&'static str, Validator>> = LazyLock::new(|| {
    DOCUMENT_KINDS
        .iter()
        .filter_map(|&k| {
            let s = schema::for_kind(k)?;
            // Our own generated schemas always compile; a failure is a bug caught by tests.
            jsonschema::validator_for(s).ok().map(|v| (k, v))
        })
        .collect()
});

/// Every schema problem of `json`, a document of `kind`.
pub(crate) fn check(kind: &str, json: &Value, ctx: &DocCtx<'_>) -> Vec<Diagnostic> {
    let (Some(validator), Some(root)) = (VALIDATORS.get(kind), schema::for_kind(kind)) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in validator.iter_errors(json) {
        report(&e, root, ctx, &mut out);
    }
    // `3` for an enum of strings is one mistake (the type), not two.
    let typed: Vec<_> = out
        .iter()
        .filter(|d| d.code == "wrong-type")
        .map(|d| d.span.clone())
        .collect();
    out.retain(|d| d.code != "invalid-value" || !typed.contains(&d.span));
    out
}

/// `json` repaired so that its typed form can be built and the semantic checks run on the
/// rest of the document, whatever its shape errors: unknown fields removed, a value outside
/// an enum replaced by the enum's first value, a value of the wrong type by a neutral value
/// of the right one, a number out of range by the limit. Returns the repaired document, the
/// pointers that were repaired (diagnostics at them are the schema's, not the semantic
/// checks'), and whether only unknown fields were removed (the document then means what it
/// says, and its typed form can be trusted by the cross-document checks).
pub(crate) fn repaired(kind: &str, json: &Value) -> (Value, Vec<String>, bool) {
    let Some(validator) = VALIDATORS.get(kind) else {
        return (json.clone(), Vec::new(), true);
    };
    let mut out = json.clone();
    let mut touched = Vec::new();
    let mut only_unknown = true;
    // Each pass fixes what it sees; a fix can uncover an error below it.
    for _ in 0..4 {
        let mut edits: Vec<(String, Option<Value>)> = Vec::new();
        for e in validator.iter_errors(&out) {
            let at = e.instance_path().as_str().to_string();
            match e.kind() {
                ValidationErrorKind::AdditionalProperties { unexpected } => {
                    for name in unexpected {
                        edits.push((format!("{at}/{}", crate::yaml::escape_pointer(name)), None));
                    }
                }
                ValidationErrorKind::Enum { options } => {
                    if let Some(first) = options.as_array().and_then(|o| o.first()) {
                        edits.push((at, Some(first.clone())));
                    }
                }
                ValidationErrorKind::Constant { expected_value } => {
                    edits.push((at, Some((**expected_value).clone())));
                }
                ValidationErrorKind::Type { kind } => {
                    let first = match kind {
                        TypeKind::Single(t) => t.to_string(),
                        // `["integer", "null"]` (an optional field): a neutral value of
                        // the non-null type, which every field converts.
                        TypeKind::Multiple(set) => set
                            .iter()
                            .map(|t| t.to_string())
                            .find(|t| t != "null")
                            .unwrap_or_default(),
                    };
                    let neutral = match first.as_str() {
                        "string" => Value::String("x".into()),
                        "integer" | "number" => Value::from(1),
                        "boolean" => Value::Bool(false),
                        "array" => Value::Array(Vec::new()),
                        "object" => Value::Object(serde_json::Map::new()),
                        _ => continue,
                    };
                    edits.push((at, Some(neutral)));
                }
                ValidationErrorKind::Minimum { limit } | ValidationErrorKind::Maximum { limit } => {
                    edits.push((at, Some(limit.clone())));
                }
                _ => {}
            }
        }
        if edits.is_empty() {
            break;
        }
        for (pointer, value) in edits {
            if value.is_some() {
                only_unknown = false;
            }
            apply_edit(&mut out, &pointer, value);
            touched.push(pointer);
        }
    }
    (out, touched, only_unknown)
}

fn apply_edit(doc: &mut Value, pointer: &str, value: Option<Value>) {
    match value {
        Some(v) => {
            if let Some(slot) = doc.pointer_mut(pointer) {
                *slot = v;
            }
        }
        None => {
            if let Some((parent, last)) = pointer.rsplit_once('/')
                && let Some(Value::Object(m)) = doc.pointer_mut(parent)
            {
                m.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

fn type_name(t: &str) -> &str {
    match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean",
        "null" => "null",
        other => other,
    }
}

fn expected_types(kind: &TypeKind) -> Vec<String> {
    match kind {
        TypeKind::Single(t) => vec![type_name(&t.to_string()).to_string()],
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| type_name(&t.to_string()).to_string())
            .collect(),
    }
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The schema object at `path` (an evaluation path, `$ref`s included), without its last
/// `drop` segments.
fn subschema<'a>(root: &'a Value, path: &Location, drop: usize) -> Option<&'a Value> {
    let segs: Vec<LocationSegment<'_>> = path.iter().collect();
    let keep = segs.len().checked_sub(drop)?;
    let mut cur = root;
    for seg in &segs[..keep] {
        cur = match seg {
            LocationSegment::Property(p) if p == "$ref" => match cur.get("$ref") {
                Some(r) => root.pointer(r.as_str()?.strip_prefix('#')?)?,
                // Already followed below.
                None => cur,
            },
            LocationSegment::Property(p) => cur.get(p.as_ref())?,
            LocationSegment::Index(i) => cur.get(*i)?,
        };
        // A `$ref` segment may be implicit in the path; follow it when the next step
        // cannot be taken here.
        if let Some(r) = cur.get("$ref").and_then(Value::as_str)
            && cur.get("properties").is_none()
            && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
        {
            cur = target;
        }
    }
    Some(cur)
}

fn is_variable_string(v: &Value, ctx: &DocCtx<'_>) -> bool {
    matches!(v, Value::String(s) if ctx.has_variable(s))
}

fn report(e: &ValidationError<'_>, root: &Value, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let pointer = e.instance_path().as_str().to_string();
    let instance: &Value = e.instance();
    if is_variable_string(instance, ctx) {
        return;
    }
    match e.kind() {
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed: Vec<String> = subschema(root, e.evaluation_path(), 1)
                .and_then(|s| s.get("properties"))
                .and_then(Value::as_object)
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default();
            for name in unexpected {
                let p = format!("{pointer}/{}", crate::yaml::escape_pointer(name));
                let help = match diag::did_you_mean(name, allowed.iter().map(String::as_str)) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if allowed.is_empty() => "remove it".to_string(),
                    None => format!("expected one of: {}", allowed.join(", ")),
                };
                out.push(
                    Diagnostic::error("unknown-field", format!("unknown field `{name}`"))
                        .at(ctx.span(&p, true))
                        .with_span_message("unknown field")
                        .with_help(help),
                );
            }
        }
        ValidationErrorKind::Required { property } => {
            out.push(
                Diagnostic::error(
                    "missing-field",
                    format!("missing required field `{}`", shown(property)),
                )
                .at(ctx.span(&pointer, true)),
            );
        }
        ValidationErrorKind::Type { kind } => {
            let expected = or_list(&expected_types(kind));
            // A whole number past what an integer holds was read as a float: say so, with
            // the field's own maximum when it has one, rather than "expected an integer".
            if let Some(f) = instance.as_f64()
                && f.fract() == 0.0
                && f.abs() >= 9.2e18
                && expected.contains("integer")
            {
                let max = subschema(root, e.evaluation_path(), 1)
                    .and_then(|s| s.get("maximum"))
                    .map(|m| m.to_string())
                    .unwrap_or_else(|| i64::MAX.to_string());
                out.push(
                    Diagnostic::error(
                        "number-too-large",
                        format!("{} is too big for this field", shown(instance)),
                    )
                    .at(ctx.span(&pointer, false))
                    .with_span_message(format!("at most {max}"))
                    .with_help(format!("the largest value allowed here is {max}")),
                );
                return;
            }
            out.push(
                Diagnostic::error(
                    "wrong-type",
                    format!("expected {expected}, found {}", json_type(instance)),
                )
                .at(ctx.span(&pointer, false))
                .with_span_message(format!("expected {expected}")),
            );
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<String> = options
                .as_array()
                .map(|a| a.iter().map(shown).collect())
                .unwrap_or_default();
            let value = shown(instance);
            let help = match diag::did_you_mean(&value, opts.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("expected one of: {}", opts.join(", ")),
            };
            out.push(
                Diagnostic::error(
                    "invalid-value",
                    format!("`{value}` is not one of: {}", opts.join(", ")),
                )
                .at(ctx.span(&pointer, false))
                .with_help(help),
            );
        }
        ValidationErrorKind::Pattern { pattern } => {
            let value = shown(instance);
            let is_name = pointer == "/name" || pointer.ends_with("/name");
            let d = if is_name {
                Diagnostic::error("invalid-name", format!("`{value}` is not a valid name"))
                    .with_help("use lower-case letters, digits and `-`, starting with a letter or digit, at most 63 characters")
            } else {
                Diagnostic::error(
                    "invalid-value",
                    format!("`{value}` does not match `{pattern}`"),
                )
            };
            out.push(d.at(ctx.span(&pointer, false)));
        }
        ValidationErrorKind::AnyOf { context } | ValidationErrorKind::OneOfNotValid { context } => {
            // The branch whose errors are not a type mismatch of this very value is the
            // one the user meant (a selector mapping with a misspelt key, say).
            let structural: Vec<&Vec<ValidationError<'static>>> = context
                .iter()
                .filter(|branch| {
                    !branch.iter().all(|b| {
                        matches!(b.kind(), ValidationErrorKind::Type { .. })
                            && b.instance_path().as_str() == pointer
                    })
                })
                .collect();
            if let [branch] = structural.as_slice() {
                for b in branch.iter() {
                    report(b, root, ctx, out);
                }
                return;
            }
            let mut expected: Vec<String> = Vec::new();
            for branch in context {
                for b in branch {
                    if let ValidationErrorKind::Type { kind } = b.kind() {
                        for t in expected_types(kind) {
                            if !expected.contains(&t) {
                                expected.push(t);
                            }
                        }
                    }
                }
            }
            let expected = if expected.is_empty() {
                "another value".to_string()
            } else {
                or_list(&expected)
            };
            out.push(
                Diagnostic::error(
                    "wrong-type",
                    format!("expected {expected}, found {}", json_type(instance)),
                )
                .at(ctx.span(&pointer, false)),
            );
        }
        _ => {
            out.push(
                Diagnostic::error("invalid-value", e.to_string()).at(ctx.span(&pointer, false)),
            );
        }
    }
}
