//! A small KQL (Kusto Query Language) subset: parser and evaluator over in-memory tables,
//! enough for the emulator's `runHuntingQuery` to answer the roll-ups and hunts rampart and
//! its users send. It is not a Kusto engine and does not try to be one.
//!
//! Supported (anything else is a [`KqlError`], which the surface answers with Graph's 400):
//!
//! - a table name as the source, then operators joined by `|`;
//! - `where EXPR` with `==`, `!=`, `=~`, `!~`, `<`, `<=`, `>`, `>=`, `in (...)`, `!in (...)`,
//!   `has`, `!has`, `contains`, `!contains`, `startswith`, `and`, `or`, `not(...)`,
//!   parentheses; literals: `"..."`/`'...'` strings, integers, decimals, `true`/`false`;
//! - `project COL, ALIAS = COL, ...`;
//! - `summarize [NAME =] AGG, ... [by COL, ...]` with `count()`, `dcount(COL)`,
//!   `countif(EXPR)`, `sum(COL)`, `min(COL)`, `max(COL)`, `arg_max(COL, COL, ...)`
//!   (`arg_max(COL, *)` too); default output names follow Kusto (`count_`, `dcount_X`,
//!   `countif_`, `sum_X`, `min_X`, `max_X`);
//! - `take N` / `limit N`, `top N by COL [asc|desc]`, `sort by`/`order by COL [asc|desc], ...`
//!   (Kusto's default order is descending), `count`.
//!
//! String `==` is case-sensitive and `=~`/`has`/`contains` are not, as in Kusto. `has` is
//! approximated as a whole-term match on non-alphanumeric boundaries.
//! Column names are case-sensitive, as in Kusto; an unknown table or column gives Kusto's
//! "Failed to resolve table or column expression named '…'" message, which clients key on.
//! Why not a crate: the only Rust KQL parser found (`kqlparser` 0.0.4, 2024) is an
//! undocumented 0.0.x release with one maintainer; the subset here is small and exact.

use serde_json::{Map, Value, json};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// The column types the emulator reports in `schema[].type` (Kusto's .NET type names, as
/// the Graph doc examples show `String` and `DateTime`; `Int64`/`Boolean` are UNVERIFIED).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColType {
    /// `String`.
    String,
    /// `Int64` (JSON number).
    Int64,
    /// `Double`.
    Double,
    /// `Boolean`.
    Boolean,
    /// `DateTime` (ISO-8601 string).
    DateTime,
}

impl ColType {
    /// The name sent in `schema[].type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ColType::String => "String",
            ColType::Int64 => "Int64",
            ColType::Double => "Double",
            ColType::Boolean => "Boolean",
            ColType::DateTime => "DateTime",
        }
    }
}

/// A table: ordered columns and rows (JSON objects keyed by column name).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// Columns in order, with types.
    pub columns: Vec<(String, ColType)>,
    /// Rows.
    pub rows: Vec<Map<String, Value>>,
}

/// A query the subset cannot parse or evaluate; the message is shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KqlError(pub String);

impl std::fmt::Display for KqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn err<T>(m: impl Into<String>) -> Result<T, KqlError> {
    Err(KqlError(m.into()))
}

fn unresolved<T>(name: &str) -> Result<T, KqlError> {
    err(format!(
        "Semantic error: 'Failed to resolve table or column expression named '{name}''"
    ))
}

// ------------------------------------------------------------------------------------
// Tokens

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(f64, bool),
    Op(&'static str),
}

const OPS: &[&str] = &[
    "!contains",
    "!startswith",
    "!has",
    "!in",
    "==",
    "!=",
    "=~",
    "!~",
    "<=",
    ">=",
    "<",
    ">",
    "=",
    "|",
    ",",
    "(",
    ")",
    "*",
];

fn tokenize(s: &str) -> Result<Vec<Tok>, KqlError> {
    let mut out = Vec::new();
    let b: Vec<char> = s.chars().collect();
    let mut i = 0;
    'outer: while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '/' && b.get(i + 1) == Some(&'/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '"' || c == '\'' {
            let mut v = String::new();
            i += 1;
            while i < b.len() && b[i] != c {
                if b[i] == '\\' && i + 1 < b.len() {
                    i += 1;
                }
                v.push(b[i]);
                i += 1;
            }
            if i >= b.len() {
                return err("Syntax error: unterminated string literal");
            }
            i += 1;
            out.push(Tok::Str(v));
            continue;
        }
        if c.is_ascii_digit() {
            let st = i;
            while i < b.len() && (b[i].is_ascii_digit() || b[i] == '.') {
                i += 1;
            }
            let t: String = b[st..i].iter().collect();
            let n: f64 = t
                .parse()
                .map_err(|_| KqlError(format!("Syntax error: bad number '{t}'")))?;
            out.push(Tok::Num(n, t.contains('.')));
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let st = i;
            while i < b.len() && (b[i].is_alphanumeric() || b[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(b[st..i].iter().collect()));
            continue;
        }
        let rest: String = b[i..b.len().min(i + 12)].iter().collect();
        for op in OPS {
            if let Some(tail) = rest.strip_prefix(op) {
                // `!in`/`!has` must not swallow the start of a longer word (`!inx`).
                let after = tail.chars().next();
                if op.starts_with('!')
                    && op.len() > 2
                    && after.is_some_and(|a| a.is_alphanumeric() || a == '_')
                {
                    continue;
                }
                out.push(Tok::Op(op));
                i += op.chars().count();
                continue 'outer;
            }
        }
        return err(format!("Syntax error: unexpected character '{c}'"));
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------
// AST

/// A scalar expression.
#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Col(String),
    Lit(Value),
    Cmp(Box<Expr>, &'static str, Box<Expr>),
    In(Box<Expr>, bool, Vec<Value>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
enum Agg {
    Count,
    DCount(String),
    CountIf(Expr),
    Sum(String),
    Min(String),
    Max(String),
    ArgMax(String, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Where(Expr),
    Project(Vec<(String, String)>),
    Summarize(Vec<(Option<String>, Agg)>, Vec<String>),
    Take(usize),
    Sort(Vec<(String, bool)>),
    Top(usize, String, bool),
    Count,
}

/// A parsed query: a source table and its operators.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    table: String,
    ops: Vec<Op>,
}

struct P {
    t: Vec<Tok>,
    i: usize,
}

impl P {
    fn peek(&self) -> Option<&Tok> {
        self.t.get(self.i)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.t.get(self.i).cloned();
        self.i += 1;
        t
    }
    fn eat_op(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == w) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_op(&mut self, op: &str) -> Result<(), KqlError> {
        if self.eat_op(op) {
            Ok(())
        } else {
            err(format!(
                "Syntax error: expected '{op}', found {}",
                describe(self.peek())
            ))
        }
    }
    fn ident(&mut self) -> Result<String, KqlError> {
        match self.next() {
            Some(Tok::Ident(s)) => Ok(s),
            other => err(format!(
                "Syntax error: expected a name, found {}",
                describe(other.as_ref())
            )),
        }
    }
    fn int(&mut self) -> Result<usize, KqlError> {
        match self.next() {
            Some(Tok::Num(n, false)) if n >= 0.0 => Ok(n as usize),
            other => err(format!(
                "Syntax error: expected a row count, found {}",
                describe(other.as_ref())
            )),
        }
    }
    fn at_pipe_or_end(&self) -> bool {
        matches!(self.peek(), None | Some(Tok::Op("|")))
    }

    fn or(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.and()?;
        while self.eat_word("or") {
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }
    fn and(&mut self) -> Result<Expr, KqlError> {
        let mut l = self.cmp()?;
        while self.eat_word("and") {
            l = Expr::And(Box::new(l), Box::new(self.cmp()?));
        }
        Ok(l)
    }
    fn cmp(&mut self) -> Result<Expr, KqlError> {
        let l = self.atom()?;
        let op: &'static str = match self.peek() {
            Some(Tok::Op(
                o @ ("==" | "!=" | "=~" | "!~" | "<" | "<=" | ">" | ">=" | "!has" | "!contains"
                | "!startswith"),
            )) => o,
            Some(Tok::Op("!in")) => {
                self.i += 1;
                return Ok(Expr::In(Box::new(l), true, self.list()?));
            }
            Some(Tok::Ident(w)) if w == "in" => {
                self.i += 1;
                return Ok(Expr::In(Box::new(l), false, self.list()?));
            }
            Some(Tok::Ident(w)) if w == "has" => "has",
            Some(Tok::Ident(w)) if w == "contains" => "contains",
            Some(Tok::Ident(w)) if w == "startswith" => "startswith",
            _ => return Ok(l),
        };
        self.i += 1;
        let r = self.atom()?;
        Ok(Expr::Cmp(Box::new(l), op, Box::new(r)))
    }
    fn list(&mut self) -> Result<Vec<Value>, KqlError> {
        self.expect_op("(")?;
        let mut out = Vec::new();
        loop {
            match self.next() {
                Some(Tok::Str(s)) => out.push(json!(s)),
                Some(Tok::Num(n, f)) => out.push(num(n, f)),
                other => {
                    return err(format!(
                        "Syntax error: expected a literal in the list, found {}",
                        describe(other.as_ref())
                    ));
                }
            }
            if self.eat_op(")") {
                return Ok(out);
            }
            self.expect_op(",")?;
        }
    }
    fn atom(&mut self) -> Result<Expr, KqlError> {
        match self.next() {
            Some(Tok::Op("(")) => {
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(e)
            }
            Some(Tok::Str(s)) => Ok(Expr::Lit(json!(s))),
            Some(Tok::Num(n, f)) => Ok(Expr::Lit(num(n, f))),
            Some(Tok::Ident(w)) if w == "true" || w == "false" => Ok(Expr::Lit(json!(w == "true"))),
            Some(Tok::Ident(w)) if w == "not" => {
                self.expect_op("(")?;
                let e = self.or()?;
                self.expect_op(")")?;
                Ok(Expr::Not(Box::new(e)))
            }
            Some(Tok::Ident(w)) => {
                if matches!(self.peek(), Some(Tok::Op("("))) {
                    return err(format!(
                        "Syntax error: the function '{w}' is not supported by the emulator's KQL subset"
                    ));
                }
                Ok(Expr::Col(w))
            }
            other => err(format!(
                "Syntax error: expected an expression, found {}",
                describe(other.as_ref())
            )),
        }
    }

    fn op(&mut self) -> Result<Op, KqlError> {
        let name = self.ident()?;
        match name.as_str() {
            "where" | "filter" => Ok(Op::Where(self.or()?)),
            "project" => {
                let mut cols = Vec::new();
                loop {
                    let a = self.ident()?;
                    if self.eat_op("=") {
                        let src = self.ident()?;
                        cols.push((a, src));
                    } else {
                        cols.push((a.clone(), a));
                    }
                    if !self.eat_op(",") {
                        break;
                    }
                }
                Ok(Op::Project(cols))
            }
            "summarize" => {
                let mut aggs = Vec::new();
                loop {
                    let first = self.ident()?;
                    let (alias, fname) = if self.eat_op("=") {
                        (Some(first), self.ident()?)
                    } else {
                        (None, first)
                    };
                    self.expect_op("(")?;
                    let agg = match fname.as_str() {
                        "count" => Agg::Count,
                        "dcount" => Agg::DCount(self.ident()?),
                        "countif" => Agg::CountIf(self.or()?),
                        "sum" => Agg::Sum(self.ident()?),
                        "min" => Agg::Min(self.ident()?),
                        "max" => Agg::Max(self.ident()?),
                        "arg_max" => {
                            let by = self.ident()?;
                            let mut cols = Vec::new();
                            while self.eat_op(",") {
                                if self.eat_op("*") {
                                    cols.push("*".to_string());
                                } else {
                                    cols.push(self.ident()?);
                                }
                            }
                            Agg::ArgMax(by, cols)
                        }
                        f => {
                            return err(format!(
                                "Syntax error: the aggregation '{f}' is not supported by the emulator's KQL subset"
                            ));
                        }
                    };
                    self.expect_op(")")?;
                    aggs.push((alias, agg));
                    if !self.eat_op(",") {
                        break;
                    }
                }
                let mut by = Vec::new();
                if self.eat_word("by") {
                    loop {
                        by.push(self.ident()?);
                        if !self.eat_op(",") {
                            break;
                        }
                    }
                }
                Ok(Op::Summarize(aggs, by))
            }
            "take" | "limit" => Ok(Op::Take(self.int()?)),
            "sort" | "order" => {
                if !self.eat_word("by") {
                    return err("Syntax error: expected 'by' after sort");
                }
                let mut keys = Vec::new();
                loop {
                    let c = self.ident()?;
                    let desc = !self.eat_word("asc");
                    let _ = self.eat_word("desc");
                    keys.push((c, desc));
                    if !self.eat_op(",") {
                        break;
                    }
                }
                Ok(Op::Sort(keys))
            }
            "top" => {
                let n = self.int()?;
                if !self.eat_word("by") {
                    return err("Syntax error: expected 'by' after top N");
                }
                let c = self.ident()?;
                let desc = !self.eat_word("asc");
                let _ = self.eat_word("desc");
                Ok(Op::Top(n, c, desc))
            }
            "count" => Ok(Op::Count),
            other => err(format!(
                "Syntax error: the operator '{other}' is not supported by the emulator's KQL subset"
            )),
        }
    }
}

fn num(n: f64, float: bool) -> Value {
    if float { json!(n) } else { json!(n as i64) }
}

fn describe(t: Option<&Tok>) -> String {
    match t {
        None => "the end of the query".into(),
        Some(Tok::Ident(s)) => format!("'{s}'"),
        Some(Tok::Str(s)) => format!("\"{s}\""),
        Some(Tok::Num(n, _)) => format!("{n}"),
        Some(Tok::Op(o)) => format!("'{o}'"),
    }
}

impl Query {
    /// Parses a query of the subset.
    pub fn parse(text: &str) -> Result<Query, KqlError> {
        let t = tokenize(text)?;
        if t.is_empty() {
            return err("Syntax error: the query is empty");
        }
        let mut p = P { t, i: 0 };
        let table = p.ident()?;
        let mut ops = Vec::new();
        while p.eat_op("|") {
            ops.push(p.op()?);
            if !p.at_pipe_or_end() {
                return err(format!(
                    "Syntax error: unexpected {} after the operator",
                    describe(p.peek())
                ));
            }
        }
        if p.peek().is_some() {
            return err(format!(
                "Syntax error: unexpected {} after the table name",
                describe(p.peek())
            ));
        }
        Ok(Query { table, ops })
    }

    /// The source table's name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Runs the query over `table` (the source named in the query).
    pub fn run(&self, table: Table) -> Result<Table, KqlError> {
        let mut t = table;
        for op in &self.ops {
            t = apply(op, t)?;
        }
        Ok(t)
    }
}

// ------------------------------------------------------------------------------------
// Evaluation

fn col_type(t: &Table, c: &str) -> Result<ColType, KqlError> {
    match t.columns.iter().find(|(n, _)| n == c) {
        Some((_, ty)) => Ok(*ty),
        None => unresolved(c),
    }
}

fn check_expr(t: &Table, e: &Expr) -> Result<(), KqlError> {
    match e {
        Expr::Col(c) => col_type(t, c).map(|_| ()),
        Expr::Lit(_) => Ok(()),
        Expr::Cmp(a, _, b) | Expr::And(a, b) | Expr::Or(a, b) => {
            check_expr(t, a)?;
            check_expr(t, b)
        }
        Expr::In(a, _, _) | Expr::Not(a) => check_expr(t, a),
    }
}

fn eval(e: &Expr, row: &Map<String, Value>) -> Value {
    match e {
        Expr::Col(c) => row.get(c).cloned().unwrap_or(Value::Null),
        Expr::Lit(v) => v.clone(),
        Expr::And(a, b) => json!(truthy(&eval(a, row)) && truthy(&eval(b, row))),
        Expr::Or(a, b) => json!(truthy(&eval(a, row)) || truthy(&eval(b, row))),
        Expr::Not(a) => json!(!truthy(&eval(a, row))),
        Expr::In(a, neg, list) => {
            let v = eval(a, row);
            json!(list.iter().any(|x| compare(&v, x) == Some(Ordering::Equal)) != *neg)
        }
        Expr::Cmp(a, op, b) => {
            let (l, r) = (eval(a, row), eval(b, row));
            let ls = text(&l).to_lowercase();
            let rs = text(&r).to_lowercase();
            let ord = compare(&l, &r);
            json!(match *op {
                "==" => ord == Some(Ordering::Equal),
                "!=" => ord != Some(Ordering::Equal),
                "=~" => ls == rs,
                "!~" => ls != rs,
                "<" => ord == Some(Ordering::Less),
                "<=" => matches!(ord, Some(Ordering::Less | Ordering::Equal)),
                ">" => ord == Some(Ordering::Greater),
                ">=" => matches!(ord, Some(Ordering::Greater | Ordering::Equal)),
                "has" => has_term(&ls, &rs),
                "!has" => !has_term(&ls, &rs),
                "contains" => ls.contains(&rs),
                "!contains" => !ls.contains(&rs),
                "startswith" => ls.starts_with(&rs),
                _ => !ls.starts_with(&rs),
            })
        }
    }
}

fn truthy(v: &Value) -> bool {
    v.as_bool().unwrap_or(false)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn has_term(hay: &str, term: &str) -> bool {
    hay.split(|c: char| !c.is_alphanumeric()).any(|w| w == term)
        || (!term.chars().all(char::is_alphanumeric) && hay.contains(term))
}

/// Kusto ordering: numbers by value, strings ordinally (case-sensitive), null first.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        (Value::Null, _) => Some(Ordering::Less),
        (_, Value::Null) => Some(Ordering::Greater),
        _ => None,
    }
}

fn sort_rows(rows: &mut [Map<String, Value>], keys: &[(String, bool)]) {
    rows.sort_by(|a, b| {
        for (k, desc) in keys {
            let o = compare(
                a.get(k).unwrap_or(&Value::Null),
                b.get(k).unwrap_or(&Value::Null),
            )
            .unwrap_or(Ordering::Equal);
            let o = if *desc { o.reverse() } else { o };
            if o != Ordering::Equal {
                return o;
            }
        }
        Ordering::Equal
    });
}

fn apply(op: &Op, mut t: Table) -> Result<Table, KqlError> {
    match op {
        Op::Where(e) => {
            check_expr(&t, e)?;
            t.rows.retain(|r| truthy(&eval(e, r)));
            Ok(t)
        }
        Op::Project(cols) => {
            let mut columns = Vec::new();
            for (alias, src) in cols {
                columns.push((alias.clone(), col_type(&t, src)?));
            }
            let rows = t
                .rows
                .into_iter()
                .map(|r| {
                    cols.iter()
                        .map(|(a, s)| (a.clone(), r.get(s).cloned().unwrap_or(Value::Null)))
                        .collect()
                })
                .collect();
            Ok(Table { columns, rows })
        }
        Op::Take(n) => {
            t.rows.truncate(*n);
            Ok(t)
        }
        Op::Sort(keys) => {
            for (k, _) in keys {
                col_type(&t, k)?;
            }
            sort_rows(&mut t.rows, keys);
            Ok(t)
        }
        Op::Top(n, k, desc) => {
            col_type(&t, k)?;
            sort_rows(&mut t.rows, &[(k.clone(), *desc)]);
            t.rows.truncate(*n);
            Ok(t)
        }
        Op::Count => Ok(Table {
            columns: vec![("Count".into(), ColType::Int64)],
            rows: vec![
                [("Count".to_string(), json!(t.rows.len()))]
                    .into_iter()
                    .collect(),
            ],
        }),
        Op::Summarize(aggs, by) => summarize(t, aggs, by),
    }
}

/// The columns `arg_max(k, cols...)` outputs: `k`, then the named ones (`*`: all others).
fn argmax_columns(t: &Table, k: &str, cols: &[String], by: &[String]) -> Vec<String> {
    let mut out = vec![k.to_string()];
    if cols.iter().any(|c| c == "*") {
        out.extend(
            t.columns
                .iter()
                .map(|(n, _)| n.clone())
                .filter(|n| n != k && !by.contains(n)),
        );
    } else {
        out.extend(cols.iter().cloned());
    }
    out
}

fn summarize(t: Table, aggs: &[(Option<String>, Agg)], by: &[String]) -> Result<Table, KqlError> {
    let mut columns: Vec<(String, ColType)> = Vec::new();
    for b in by {
        columns.push((b.clone(), col_type(&t, b)?));
    }
    for (alias, agg) in aggs {
        match agg {
            Agg::Count => columns.push((alias.clone().unwrap_or("count_".into()), ColType::Int64)),
            Agg::DCount(c) => {
                col_type(&t, c)?;
                columns.push((
                    alias.clone().unwrap_or(format!("dcount_{c}")),
                    ColType::Int64,
                ));
            }
            Agg::CountIf(e) => {
                check_expr(&t, e)?;
                columns.push((alias.clone().unwrap_or("countif_".into()), ColType::Int64));
            }
            Agg::Sum(c) => {
                let ty = col_type(&t, c)?;
                columns.push((alias.clone().unwrap_or(format!("sum_{c}")), ty));
            }
            Agg::Min(c) | Agg::Max(c) => {
                let ty = col_type(&t, c)?;
                let p = if matches!(agg, Agg::Min(_)) {
                    "min"
                } else {
                    "max"
                };
                columns.push((alias.clone().unwrap_or(format!("{p}_{c}")), ty));
            }
            Agg::ArgMax(k, cols) => {
                for c in argmax_columns(&t, k, cols, by) {
                    let ty = col_type(&t, &c)?;
                    columns.push((c, ty));
                }
            }
        }
    }
    // Groups keep the order of their first row, as Kusto's output usually does for small sets.
    let mut order: Vec<String> = Vec::new();
    let mut groups: BTreeMap<String, Vec<&Map<String, Value>>> = BTreeMap::new();
    for r in &t.rows {
        let key = serde_json::to_string(&by.iter().map(|b| r.get(b)).collect::<Vec<_>>())
            .unwrap_or_default();
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        groups.entry(key).or_default().push(r);
    }
    if by.is_empty() && order.is_empty() {
        order.push(String::new());
        groups.insert(String::new(), Vec::new());
    }
    let mut rows = Vec::new();
    for key in order {
        let members = &groups[&key];
        let mut out = Map::new();
        for b in by {
            out.insert(b.clone(), members[0].get(b).cloned().unwrap_or(Value::Null));
        }
        for (alias, agg) in aggs {
            match agg {
                Agg::Count => {
                    out.insert(
                        alias.clone().unwrap_or("count_".into()),
                        json!(members.len()),
                    );
                }
                Agg::DCount(c) => {
                    let set: BTreeSet<String> = members
                        .iter()
                        .filter_map(|r| r.get(c))
                        .filter(|v| !v.is_null())
                        .map(Value::to_string)
                        .collect();
                    out.insert(
                        alias.clone().unwrap_or(format!("dcount_{c}")),
                        json!(set.len()),
                    );
                }
                Agg::CountIf(e) => {
                    let n = members.iter().filter(|r| truthy(&eval(e, r))).count();
                    out.insert(alias.clone().unwrap_or("countif_".into()), json!(n));
                }
                Agg::Sum(c) => {
                    let s: f64 = members
                        .iter()
                        .filter_map(|r| r.get(c).and_then(Value::as_f64))
                        .sum();
                    let v = if s.fract() == 0.0 {
                        json!(s as i64)
                    } else {
                        json!(s)
                    };
                    out.insert(alias.clone().unwrap_or(format!("sum_{c}")), v);
                }
                Agg::Min(c) | Agg::Max(c) => {
                    let is_min = matches!(agg, Agg::Min(_));
                    let best = members
                        .iter()
                        .filter_map(|r| r.get(c))
                        .filter(|v| !v.is_null())
                        .max_by(|a, b| {
                            let o = compare(a, b).unwrap_or(Ordering::Equal);
                            if is_min { o.reverse() } else { o }
                        })
                        .cloned()
                        .unwrap_or(Value::Null);
                    let p = if is_min { "min" } else { "max" };
                    out.insert(alias.clone().unwrap_or(format!("{p}_{c}")), best);
                }
                Agg::ArgMax(k, cols) => {
                    let best = members.iter().copied().reduce(|a, b| {
                        let o = compare(
                            a.get(k).unwrap_or(&Value::Null),
                            b.get(k).unwrap_or(&Value::Null),
                        );
                        if o == Some(Ordering::Less) { b } else { a }
                    });
                    for c in argmax_columns(&t, k, cols, by) {
                        let v = best.and_then(|r| r.get(&c)).cloned().unwrap_or(Value::Null);
                        out.insert(c, v);
                    }
                }
            }
        }
        // Keep the column order of the schema.
        let ordered: Map<String, Value> = columns
            .iter()
            .map(|(n, _)| (n.clone(), out.get(n).cloned().unwrap_or(Value::Null)))
            .collect();
        rows.push(ordered);
    }
    Ok(Table { columns, rows })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn devices() -> Table {
        let rows = [
            ("d1", "Onboarded", "High", "Active"),
            ("d2", "Onboarded", "Low", "Inactive"),
            ("d3", "Can be onboarded", "Medium", ""),
            ("d1", "Onboarded", "High", "Active"),
        ];
        Table {
            columns: vec![
                ("DeviceId".into(), ColType::String),
                ("OnboardingStatus".into(), ColType::String),
                ("ExposureLevel".into(), ColType::String),
                ("SensorHealthState".into(), ColType::String),
                ("Timestamp".into(), ColType::DateTime),
            ],
            rows: rows
                .iter()
                .enumerate()
                .map(|(i, (d, o, e, s))| {
                    [
                        ("DeviceId".to_string(), json!(d)),
                        ("OnboardingStatus".to_string(), json!(o)),
                        ("ExposureLevel".to_string(), json!(e)),
                        ("SensorHealthState".to_string(), json!(s)),
                        (
                            "Timestamp".to_string(),
                            json!(format!("2026-09-0{}T00:00:00Z", i + 1)),
                        ),
                    ]
                    .into_iter()
                    .collect()
                })
                .collect(),
        }
    }

    fn run(q: &str) -> Result<Table, KqlError> {
        Query::parse(q)?.run(devices())
    }

    #[test]
    fn rollup_with_countif_and_dcount() {
        let t = run(r#"DeviceInfo
            | summarize arg_max(Timestamp, OnboardingStatus, ExposureLevel, SensorHealthState) by DeviceId
            | summarize Devices = count(), Onboarded = countif(OnboardingStatus == "Onboarded"),
                        HighExposure = countif(ExposureLevel == "High"),
                        SensorNotActive = countif(OnboardingStatus == "Onboarded" and SensorHealthState != "Active")"#)
        .unwrap();
        assert_eq!(t.rows.len(), 1);
        let r = &t.rows[0];
        assert_eq!(r["Devices"], json!(3));
        assert_eq!(r["Onboarded"], json!(2));
        assert_eq!(r["HighExposure"], json!(1));
        assert_eq!(r["SensorNotActive"], json!(1));
        let t = run("DeviceInfo | summarize dcount(DeviceId)").unwrap();
        assert_eq!(t.rows[0]["dcount_DeviceId"], json!(3));
    }

    #[test]
    fn where_project_sort_take() {
        let t = run("DeviceInfo | where ExposureLevel in ('High','Medium') and DeviceId != 'd3' | project Id = DeviceId | take 1").unwrap();
        assert_eq!(t.columns, vec![("Id".to_string(), ColType::String)]);
        assert_eq!(t.rows.len(), 1);
        let t = run("DeviceInfo | where OnboardingStatus has 'onboarded' | count").unwrap();
        assert_eq!(t.rows[0]["Count"], json!(4));
        let t = run("DeviceInfo | where OnboardingStatus contains 'BE ON' | count").unwrap();
        assert_eq!(t.rows[0]["Count"], json!(1));
        let t =
            run("DeviceInfo | summarize count() by DeviceId | sort by count_ desc, DeviceId asc")
                .unwrap();
        assert_eq!(t.rows[0]["DeviceId"], json!("d1"));
        assert_eq!(t.rows[1]["DeviceId"], json!("d2"));
        let t = run("DeviceInfo | top 1 by Timestamp").unwrap();
        assert_eq!(t.rows[0]["Timestamp"], json!("2026-09-04T00:00:00Z"));
        let t = run("DeviceInfo | where Timestamp >= '2026-09-03' | count").unwrap();
        assert_eq!(t.rows[0]["Count"], json!(2));
    }

    #[test]
    fn unsupported_and_unknown_are_errors() {
        assert!(run("DeviceInfo | join (AlertInfo) on DeviceId").is_err());
        assert!(run("DeviceInfo | where tolower(DeviceId) == 'x'").is_err());
        assert!(run("").is_err());
        assert!(run("DeviceInfo | where 'x").is_err());
        let e = run("DeviceInfo | project Nope").unwrap_err();
        assert!(
            e.0.contains("Failed to resolve table or column expression named 'Nope'"),
            "{e}"
        );
        assert!(run("DeviceInfo | take 5 extra").is_err());
    }
}
