//! Variable syntax: `${tenant.id}`, `${tenant.name}`, `${tenant.displayName}`,
//! `${vars.NAME}` in string values; `$${` is a literal `${`; a string that is exactly one
//! reference takes the variable's value as is (list, number, boolean). Shared by the
//! loader (static syntax checks, identity fields) and resolution (substitution per tenant),
//! which is why it lives here, below both.
//!
//! Identity fields take no variables: a document's `kind` and `name`, a detection rule's
//! `ruleId`, a custom role's `displayName` (rampart finds its role definitions by it),
//! `labels`, and in a profile its `name`, each tenant's `id` and `name` and the policy
//! references. They name objects and build ownership markers (`[rampart:NAME]`), so a
//! variable there would give every tenant a different identity, or none rampart can find.

use std::collections::BTreeMap;

use serde_json::Value;

use super::DocCtx;
use crate::diag::Diagnostic;

/// The values variables take for one tenant.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VarContext {
    pub tenant_id: String,
    pub tenant_name: String,
    pub tenant_display_name: String,
    pub vars: BTreeMap<String, Value>,
}

impl VarContext {
    fn lookup(&self, expr: &str) -> Option<Value> {
        match expr {
            "tenant.id" => Some(Value::String(self.tenant_id.clone())),
            "tenant.name" => Some(Value::String(self.tenant_name.clone())),
            "tenant.displayName" => Some(Value::String(self.tenant_display_name.clone())),
            _ => expr
                .strip_prefix("vars.")
                .and_then(|n| self.vars.get(n).cloned()),
        }
    }
}

/// A problem with one string's variables, located by JSON pointer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarError {
    pub pointer: String,
    pub code: &'static str,
    /// The reference as written, e.g. `vars.socGroup`.
    pub variable: String,
    pub message: String,
}

/// One piece of a string with variables.
#[derive(Debug, PartialEq)]
pub(crate) enum Piece<'a> {
    Text(&'a str),
    Var(&'a str),
}

/// Splits a string into text and `${...}` references; `Err` for an unterminated one.
pub(crate) fn pieces(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        if rest[..i].ends_with('$') {
            // `$${` escapes: keep one `$` and the brace.
            out.push(Piece::Text(&rest[..i - 1]));
            out.push(Piece::Text("${"));
            rest = &rest[i + 2..];
            continue;
        }
        out.push(Piece::Text(&rest[..i]));
        let after = &rest[i + 2..];
        let Some(end) = after.find('}') else {
            return Err(format!("unterminated variable reference in `{s}`"));
        };
        out.push(Piece::Var(after[..end].trim()));
        rest = &after[end + 1..];
    }
    out.push(Piece::Text(rest));
    out.retain(|p| *p != Piece::Text(""));
    Ok(out)
}

fn valid_reference(expr: &str) -> bool {
    matches!(expr, "tenant.id" | "tenant.name" | "tenant.displayName")
        || expr.strip_prefix("vars.").is_some_and(|n| {
            let mut c = n.chars();
            c.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && c.all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Whether the value at `pointer` of a document of `kind` is an identity field (see the
/// module doc): never substituted, and a `${` there is an error.
pub fn is_identity_field(kind: &str, pointer: &str) -> bool {
    let parts: Vec<&str> = pointer.split('/').skip(1).collect();
    match (kind, parts.as_slice()) {
        (_, ["kind"] | ["name"]) => true,
        ("DistributionProfile", ["tenants", _, "id" | "name"]) => true,
        ("DistributionProfile", ["policies", _, ..]) => true,
        ("DistributionProfile", _) => false,
        (_, ["labels", ..]) => true,
        ("DetectionRule", ["ruleId"]) => true,
        ("RoleAssignment", ["customRole", "displayName"]) => true,
        _ => false,
    }
}

/// Substitutes every variable of a document for one tenant; all errors are returned.
/// Identity fields are left as written (a variable there is reported by
/// [`check_variable_syntax`]).
pub fn substitute(doc: &Value, ctx: &VarContext) -> Result<Value, Vec<VarError>> {
    let kind = doc
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut errors = Vec::new();
    let out = subst(doc, String::new(), &kind, ctx, &mut errors);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn subst(
    v: &Value,
    pointer: String,
    kind: &str,
    ctx: &VarContext,
    errors: &mut Vec<VarError>,
) -> Value {
    match v {
        Value::String(s) if !is_identity_field(kind, &pointer) => {
            subst_string(s, &pointer, ctx, errors)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| subst(x, format!("{pointer}/{i}"), kind, ctx, errors))
                .collect(),
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let p = format!("{pointer}/{}", crate::yaml::escape_pointer(k));
                    (k.clone(), subst(x, p, kind, ctx, errors))
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn subst_string(s: &str, pointer: &str, ctx: &VarContext, errors: &mut Vec<VarError>) -> Value {
    if !s.contains("${") {
        return Value::String(s.to_string());
    }
    let ps = match pieces(s) {
        Ok(p) => p,
        Err(message) => {
            errors.push(VarError {
                pointer: pointer.to_string(),
                code: "invalid-variable",
                variable: String::new(),
                message,
            });
            return Value::String(s.to_string());
        }
    };
    if let [Piece::Var(expr)] = ps.as_slice() {
        return match ctx.lookup(expr) {
            Some(v) => v,
            None => {
                errors.push(undefined(pointer, expr));
                Value::String(s.to_string())
            }
        };
    }
    let mut out = String::new();
    for p in ps {
        match p {
            Piece::Text(t) => out.push_str(t),
            Piece::Var(expr) => match ctx.lookup(expr) {
                Some(Value::String(v)) => out.push_str(&v),
                Some(v @ (Value::Number(_) | Value::Bool(_))) => out.push_str(&v.to_string()),
                Some(_) => errors.push(VarError {
                    pointer: pointer.to_string(),
                    code: "invalid-variable",
                    variable: expr.to_string(),
                    message: format!(
                        "`{expr}` is a list; a list variable must be the whole value, not part of a string"
                    ),
                }),
                None => errors.push(undefined(pointer, expr)),
            },
        }
    }
    Value::String(out)
}

fn undefined(pointer: &str, expr: &str) -> VarError {
    VarError {
        pointer: pointer.to_string(),
        // A malformed reference is reported once, by `check_variable_syntax`.
        code: if valid_reference(expr) {
            "undefined-variable"
        } else {
            "invalid-variable"
        },
        variable: expr.to_string(),
        message: format!("undefined variable `{expr}`"),
    }
}

/// Reports malformed references (`${}`, `${foo}`, unterminated) of a document, and any
/// reference in an identity field; run at load time, without a tenant.
pub(crate) fn check_variable_syntax(json: &Value, ctx: &DocCtx<'_>, out: &mut Vec<Diagnostic>) {
    let kind = json.get("kind").and_then(Value::as_str).unwrap_or("");
    let profile = kind == "DistributionProfile";
    let walk_kind = kind.to_string();
    walk(json, String::new(), &walk_kind, profile, ctx, out);
    fn walk(
        v: &Value,
        pointer: String,
        kind: &str,
        profile: bool,
        ctx: &DocCtx<'_>,
        out: &mut Vec<Diagnostic>,
    ) {
        match v {
            Value::String(s) if s.contains("${") => {
                if is_identity_field(kind, &pointer) {
                    let field = pointer
                        .rsplit('/')
                        .find(|p| p.parse::<usize>().is_err())
                        .unwrap_or("name");
                    out.push(
                        Diagnostic::error(
                            "variable-in-identity",
                            format!("`{field}` names the object and takes no variables"),
                        )
                        .at(ctx.span(&pointer, false))
                        .with_help("names, ids, labels and references are the same for every tenant (they build the ownership marker `[rampart:NAME]`); put per-tenant text in `displayName` or `description`"),
                    );
                    return;
                }
                // Profiles' other values (descriptions, vars) are not substituted.
                if profile {
                    return;
                }
                match pieces(s) {
                    Err(m) => out.push(
                        Diagnostic::error("invalid-variable", m)
                            .at(ctx.span(&pointer, false))
                            .with_help("close it with `}`, or write `$${` for a literal `${`"),
                    ),
                    Ok(ps) => {
                        for p in ps {
                            if let Piece::Var(expr) = p
                                && !valid_reference(expr)
                            {
                                out.push(
                                    Diagnostic::error(
                                        "invalid-variable",
                                        format!("`${{{expr}}}` is not a variable rampart knows"),
                                    )
                                    .at(ctx.span(&pointer, false))
                                    .with_help("use ${tenant.id}, ${tenant.name}, ${tenant.displayName} or ${vars.NAME}"),
                                );
                            }
                        }
                    }
                }
            }
            Value::Array(items) => {
                for (i, x) in items.iter().enumerate() {
                    walk(x, format!("{pointer}/{i}"), kind, profile, ctx, out);
                }
            }
            Value::Object(m) => {
                for (k, x) in m {
                    walk(
                        x,
                        format!("{pointer}/{}", crate::yaml::escape_pointer(k)),
                        kind,
                        profile,
                        ctx,
                        out,
                    );
                }
            }
            _ => {}
        }
    }
}

/// Whether any string in `v` holds a `${...}` reference.
pub fn contains_variable(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("${"),
        Value::Array(items) => items.iter().any(contains_variable),
        Value::Object(m) => m.values().any(contains_variable),
        _ => false,
    }
}
