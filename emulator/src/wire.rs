//! The shared vocabulary of Graph handling: a request after authentication
//! ([`GraphRequest`]), an answer before serialisation ([`Reply`], Graph's error bodies and
//! [`finish`]), the caller's context ([`Ctx`]), OData query options ([`Query`], [`Filter`])
//! and the answer shapes every surface uses (single [`entity`], paged [`collection`] with
//! `@odata.nextLink`, `$select` [`project`]ion).
//!
//! It sits below the router and the surfaces and knows neither: it never routes and never
//! touches a tenant's objects. Limits: `$filter` supports `eq`, `ne`, `not`, `startswith`,
//! `any` on string collections and `and`/`or` on property paths, which covers what Graph
//! clients send to these collections; `$orderby`, `$count` and `$search` are ignored.

use crate::state::Emulator;
use crate::token::Claims;
use serde_json::{Map, Value, json};
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
        && let Some(o) = inner.as_object_mut()
    {
        o.insert("date".into(), json!(http_time_iso()));
        o.insert("request-id".into(), json!(request_id));
        o.insert("client-request-id".into(), json!(crid));
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

/// One routed operation as a surface handler receives it: the caller, the request, its
/// parsed query, the operation name the router chose (`"filter.get"`), the ids taken from
/// the path (`""` where the route has none) and the JSON body, if any and well formed.
/// Bundled so every surface takes the same two arguments (this and its tenant).
#[derive(Clone, Copy)]
pub struct Call<'a> {
    /// The caller and the URL space.
    pub ctx: &'a Ctx<'a>,
    /// The request as received.
    pub req: &'a GraphRequest,
    /// Its parsed OData query options.
    pub q: &'a Query,
    /// The router's operation name, `surface.verb`.
    pub op: &'a str,
    /// The first id in the path, or `""`.
    pub id: &'a str,
    /// The second id in the path (`settings/{id}`), or `""`.
    pub id2: &'a str,
    /// The JSON body, when there is one and it parsed.
    pub body: Option<&'a Value>,
}

impl<'a> Call<'a> {
    /// The answer to a list: `items` as a [`collection`] page of `page`; the tenant is
    /// unchanged.
    pub fn list(&self, set: &str, items: Vec<Value>, page: usize) -> (Reply, bool) {
        (
            collection(self.ctx, self.req, self.q, set, items, page),
            false,
        )
    }

    /// The answer to a read of one object: `found` as an [`entity`] of `set`, or the
    /// surface's 404 from `missing`; the tenant is unchanged.
    pub fn read(
        &self,
        set: &str,
        found: Option<&Value>,
        missing: impl FnOnce() -> Reply,
    ) -> (Reply, bool) {
        match found {
            Some(v) => (entity(self.ctx, self.req, self.q, set, v.clone()), false),
            None => (missing(), false),
        }
    }

    /// The parts most handlers use, in one line: `(ctx, req, q, op, id, body)`.
    pub fn parts(
        &self,
    ) -> (
        &'a Ctx<'a>,
        &'a GraphRequest,
        &'a Query,
        &'a str,
        &'a str,
        Option<&'a Value>,
    ) {
        (self.ctx, self.req, self.q, self.op, self.id, self.body)
    }
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

/// The opaque `$skiptoken` for a page starting at `offset`.
pub fn encode_skiptoken(offset: usize) -> String {
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

/// A creation answer: 201 with `@odata.context` `…#{set}/$entity` and the object, as every
/// Graph create document shows.
pub fn created_entity(ctx: &Ctx<'_>, req: &GraphRequest, set: &str, v: Value) -> Reply {
    let mut r = entity(ctx, req, &Query::default(), set, v);
    r.status = 201;
    r
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
    let max = ctx.emu.page_sizes().max.max(1);
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
        let punctuation = match c {
            '(' => Some(Tok::Open),
            ')' => Some(Tok::Close),
            ',' => Some(Tok::Comma),
            ':' => Some(Tok::Colon),
            _ => None,
        };
        if c.is_whitespace() {
            i += 1;
        } else if let Some(t) = punctuation {
            out.push(t);
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
    /// `operand (kw operand)*`, folded to the left with `join` (`and` binds tighter than
    /// `or` because `or`'s operand is an `and` chain).
    fn chain(
        &mut self,
        kw: &str,
        operand: fn(&mut Self) -> Result<Filter, String>,
        join: fn(Box<Filter>, Box<Filter>) -> Filter,
    ) -> Result<Filter, String> {
        let mut l = operand(self)?;
        while self.peek_kw(kw) {
            self.i += 1;
            let r = operand(self)?;
            l = join(Box::new(l), Box::new(r));
        }
        Ok(l)
    }
    fn or(&mut self) -> Result<Filter, String> {
        self.chain("or", Self::and, Filter::Or)
    }
    fn and(&mut self) -> Result<Filter, String> {
        self.chain("and", Self::unary, Filter::And)
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
    fn skiptoken_roundtrip() {
        assert_eq!(decode_skiptoken(&encode_skiptoken(75)), Some(75));
    }
}
