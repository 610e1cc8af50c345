//! Span-aware YAML 1.2 reading: the text of one file -> documents of [`Node`]s that carry
//! the byte span of every key and value, then -> `serde_json::Value` plus a pointer -> span
//! index ([`SpanIndex`]) so that errors found on the JSON map back to `path:line:col`.
//!
//! Built on saphyr-parser's event stream rather than a loader so that this module decides
//! the policy: YAML 1.2 core-schema scalars (`yes` is a string, `0o17` an int); duplicate
//! keys are errors (reported at the second key, labelled at the first); merge keys (`<<`)
//! are ordinary keys (they are YAML 1.1). Hostile input is bounded: a file-size cap, a
//! nesting-depth cap, and a cap on nodes produced through aliases, counted before
//! anything is copied so an alias bomb costs at most the cap, never exponential time or
//! memory. Limits: no custom tags (`!!str` and the other core tags only), complex keys
//! (a mapping as a key) are rejected.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError};

/// Bounds on what one file may cost. The defaults fit any sane policy repository.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest file accepted, in bytes.
    pub max_file_bytes: usize,
    /// Most nodes one document may hold once aliases are expanded.
    pub max_nodes: usize,
    /// Deepest nesting of collections.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_file_bytes: 5 * 1024 * 1024,
            max_nodes: 100_000,
            max_depth: 64,
        }
    }
}

/// A YAML node with the byte range of its text.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub span: Range<usize>,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    String(String),
    Seq(Vec<Node>),
    /// Entries in file order; keys are unique (duplicates are reported and dropped).
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Range<usize>,
    pub value: Node,
}

/// One document of a (possibly multi-document) file.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// Byte offset where the document starts (its `---`, or its first node).
    pub start: usize,
    pub root: Node,
}

/// A problem found while reading YAML, located in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// Stable kebab-case code (`yaml-syntax`, `duplicate-key`, `alias-limit`, ...).
    pub code: &'static str,
    pub message: String,
    pub span: Range<usize>,
    /// A secondary location (the first occurrence of a duplicate key).
    pub label: Option<(Range<usize>, String)>,
    pub help: Option<String>,
}

/// What [`parse`] found: the documents read completely and every error.
#[derive(Clone, Debug, Default)]
pub struct Parsed {
    pub documents: Vec<Document>,
    pub errors: Vec<YamlError>,
}

/// Reads every document of `text`. Documents read before a syntax error are kept; a
/// document that hits a limit is dropped (with its error).
pub fn parse(text: &str, limits: &Limits) -> Parsed {
    let mut parsed = Parsed::default();
    if text.len() > limits.max_file_bytes {
        parsed.errors.push(YamlError {
            code: "file-too-large",
            message: format!(
                "file is {} bytes, more than the limit of {} bytes",
                text.len(),
                limits.max_file_bytes
            ),
            span: 0..0,
            label: None,
            help: Some("split the file; policy files are small".to_string()),
        });
        return parsed;
    }
    let offsets = Offsets::new(text);
    let mut builder = Builder {
        text,
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        doc_start: 0,
        errors: Vec::new(),
    };
    let mut parser = Parser::new_from_str(text);
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(ev)) => ev,
            Some(Err(e)) => {
                builder.errors.push(syntax_error(&e, &offsets, text));
                break;
            }
        };
        let range = offsets.byte(span.start.index())..offsets.byte(span.end.index());
        match builder.event(event, range) {
            Step::Continue => {}
            Step::Document(doc) => parsed.documents.push(doc),
            Step::Abort => break,
        }
    }
    parsed.errors.append(&mut builder.errors);
    parsed
}

fn syntax_error(e: &ScanError, offsets: &Offsets, text: &str) -> YamlError {
    let at = offsets.byte(e.marker().index());
    let info = e.info();
    // The scanner notices a tab or an unclosed quote only where it stops making sense of
    // the text, often a line later or at the end of the file; point at the cause instead.
    if let Some(tab) = indentation_tab(text, at) {
        return YamlError {
            code: "yaml-tab",
            message: "a tab is used for indentation".to_string(),
            span: tab..tab + 1,
            label: None,
            help: Some("YAML indents with spaces only; replace the tab with spaces".to_string()),
        };
    }
    if info.contains("quoted scalar")
        && let Some(quote) = unclosed_quote(text, at)
    {
        let q = &text[quote..quote + 1];
        return YamlError {
            code: "yaml-unclosed-quote",
            message: format!("unclosed quote: the string opened with {q} here is never closed"),
            span: quote..quote + 1,
            label: None,
            help: Some(format!(
                "close the string with {q} on the same line, or escape quotes inside it"
            )),
        };
    }
    YamlError {
        code: "yaml-syntax",
        message: format!("invalid YAML: {info}"),
        span: at..at,
        label: None,
        help: None,
    }
}

/// The first tab used as indentation on the line of byte `at`, the line after it, or (when
/// the error is at the end of the text) any line: where a tab-indented line breaks the
/// structure, the scanner may report the end of the previous line.
fn indentation_tab(text: &str, at: usize) -> Option<usize> {
    let line_start = text[..at.min(text.len())].rfind('\n').map_or(0, |i| i + 1);
    let mut lines_seen = 0;
    let mut offset = line_start;
    for line in text[line_start..].split_inclusive('\n') {
        let indent = &line[..line.len() - line.trim_start_matches([' ', '\t']).len()];
        // A tab before any content (a tab in a blank or comment-only line is harmless).
        let content = line.trim_start_matches([' ', '\t']);
        if let Some(i) = indent.find('\t')
            && !content.trim().is_empty()
            && !content.starts_with('#')
        {
            return Some(offset + i);
        }
        offset += line.len();
        lines_seen += 1;
        if lines_seen >= 2 {
            break;
        }
    }
    None
}

/// The opening quote of a quoted scalar that is still open at byte `at`: the last quote
/// before `at` that starts a value (after `: `, `- `, `[`, `{`, `,` or at a line's start)
/// and is not closed on its line.
fn unclosed_quote(text: &str, at: usize) -> Option<usize> {
    let mut best = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if offset > at {
            break;
        }
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c == b'#' && (i == 0 || bytes[i - 1] == b' ') {
                break;
            }
            if c == b'"' || c == b'\'' {
                let before = line[..i].trim_end();
                let starts_value = before.is_empty()
                    || before.ends_with(':')
                    || before.ends_with('-')
                    || before.ends_with('[')
                    || before.ends_with('{')
                    || before.ends_with(',');
                if !starts_value {
                    i += 1;
                    continue;
                }
                // Find the closing quote on this line.
                let mut j = i + 1;
                let mut closed = false;
                while j < bytes.len() {
                    if c == b'"' && bytes[j] == b'\\' {
                        j += 2;
                        continue;
                    }
                    if bytes[j] == c {
                        if c == b'\'' && bytes.get(j + 1) == Some(&b'\'') {
                            j += 2;
                            continue;
                        }
                        closed = true;
                        break;
                    }
                    j += 1;
                }
                if closed {
                    i = j + 1;
                    continue;
                }
                if offset + i <= at {
                    best = Some(offset + i);
                }
                break;
            }
            i += 1;
        }
        offset += line.len();
    }
    best
}

/// saphyr-parser reports positions in characters; diagnostics use bytes.
struct Offsets {
    /// Byte offset of each char (plus the end), only when the text is not ASCII.
    table: Option<Vec<usize>>,
    len: usize,
}

impl Offsets {
    fn new(text: &str) -> Offsets {
        let table = (!text.is_ascii()).then(|| {
            let mut t: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            t.push(text.len());
            t
        });
        Offsets {
            table,
            len: text.len(),
        }
    }

    fn byte(&self, char_index: usize) -> usize {
        match &self.table {
            None => char_index.min(self.len),
            Some(t) => t.get(char_index).copied().unwrap_or(self.len),
        }
    }
}

enum Step {
    Continue,
    Document(Document),
    Abort,
}

enum Frame {
    Seq {
        start: usize,
        anchor: usize,
        items: Vec<Node>,
        count: usize,
    },
    Map {
        start: usize,
        anchor: usize,
        entries: Vec<Entry>,
        /// First span of each key, for duplicate detection.
        seen: HashMap<String, Range<usize>>,
        pending_key: Option<Node>,
        /// Set when the pending key is unusable; its value is then skipped.
        skip_value: bool,
        count: usize,
    },
}

struct Builder<'a> {
    text: &'a str,
    limits: &'a Limits,
    stack: Vec<Frame>,
    /// Anchored nodes and their size in nodes, for alias expansion accounting.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes in the current document, aliases expanded.
    nodes: usize,
    doc_start: usize,
    errors: Vec<YamlError>,
}

impl Builder<'_> {
    fn event(&mut self, event: Event<'_>, span: Range<usize>) -> Step {
        match event {
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {
                Step::Continue
            }
            Event::DocumentStart(_) => {
                self.doc_start = span.start;
                self.stack.clear();
                self.anchors.clear();
                self.nodes = 0;
                Step::Continue
            }
            Event::Scalar(text, style, anchor, tag) => {
                let value = match scalar(&text, style, tag.as_deref()) {
                    Ok(v) => v,
                    Err(message) => {
                        self.errors.push(YamlError {
                            code: "yaml-tag",
                            message,
                            span: span.clone(),
                            label: None,
                            help: Some(
                                "only the core tags !!str, !!int, !!float, !!bool, !!null are supported"
                                    .to_string(),
                            ),
                        });
                        Value::String(text.to_string())
                    }
                };
                if let Some(step) = self.count(1, &span) {
                    return step;
                }
                let node = Node { span, value };
                self.finish(node, anchor, 1, Some(text.into_owned()))
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id) else {
                    self.errors.push(YamlError {
                        code: "yaml-syntax",
                        message: "alias to an unknown anchor".to_string(),
                        span,
                        label: None,
                        help: None,
                    });
                    return Step::Abort;
                };
                let size = *size;
                // Count before copying: this is what keeps alias bombs linear.
                if self.nodes + size > self.limits.max_nodes {
                    self.errors.push(YamlError {
                        code: "alias-limit",
                        message: format!(
                            "aliases expand this document past {} nodes",
                            self.limits.max_nodes
                        ),
                        span,
                        label: None,
                        help: Some(
                            "do not nest aliases of aliases; write the values out".to_string(),
                        ),
                    });
                    return Step::Abort;
                }
                self.nodes += size;
                let mut node = node.clone();
                node.span = span;
                let key_text = match &node.value {
                    Value::String(s) => Some(s.clone()),
                    _ => None,
                };
                self.finish(node, 0, size, key_text)
            }
            Event::SequenceStart(anchor, _tag) => {
                if let Some(step) = self.enter(&span) {
                    return step;
                }
                self.stack.push(Frame::Seq {
                    start: span.start,
                    anchor,
                    items: Vec::new(),
                    count: 1,
                });
                Step::Continue
            }
            Event::MappingStart(anchor, _tag) => {
                if let Some(step) = self.enter(&span) {
                    return step;
                }
                self.stack.push(Frame::Map {
                    start: span.start,
                    anchor,
                    entries: Vec::new(),
                    seen: HashMap::new(),
                    pending_key: None,
                    skip_value: false,
                    count: 1,
                });
                Step::Continue
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else {
                    return Step::Continue;
                };
                let (node, anchor, count) = match frame {
                    Frame::Seq {
                        start,
                        anchor,
                        items,
                        count,
                    } => {
                        let end = items.last().map_or(start, |n| n.span.end);
                        (
                            Node {
                                span: start..self.collection_end(start, end, span.end),
                                value: Value::Seq(items),
                            },
                            anchor,
                            count,
                        )
                    }
                    Frame::Map {
                        start,
                        anchor,
                        entries,
                        count,
                        ..
                    } => {
                        let end = entries.last().map_or(start, |e| e.value.span.end);
                        (
                            Node {
                                span: start..self.collection_end(start, end, span.end),
                                value: Value::Map(entries),
                            },
                            anchor,
                            count,
                        )
                    }
                };
                self.finish(node, anchor, count, None)
            }
        }
    }

    /// The end of a collection. A flow collection (`[..]`, `{..}`) ends at its closing
    /// bracket; a block collection where its last child ends (the parser's end event sits
    /// at the start of the next token, often lines later).
    fn collection_end(&self, start: usize, last_child_end: usize, end_event: usize) -> usize {
        let flow = matches!(self.text.as_bytes().get(start), Some(b'[' | b'{'));
        if flow || last_child_end <= start {
            end_event.max(last_child_end).max(start)
        } else {
            last_child_end
        }
    }

    /// Counts `n` new nodes against the document's budget.
    fn count(&mut self, n: usize, span: &Range<usize>) -> Option<Step> {
        self.nodes += n;
        if self.nodes > self.limits.max_nodes {
            self.errors.push(YamlError {
                code: "node-limit",
                message: format!("document has more than {} nodes", self.limits.max_nodes),
                span: span.clone(),
                label: None,
                help: None,
            });
            return Some(Step::Abort);
        }
        None
    }

    /// Checks depth and counts the collection when it opens.
    fn enter(&mut self, span: &Range<usize>) -> Option<Step> {
        if let Some(step) = self.count(1, span) {
            return step.into();
        }
        if self.stack.len() >= self.limits.max_depth {
            self.errors.push(YamlError {
                code: "nesting-limit",
                message: format!(
                    "collections are nested deeper than {} levels",
                    self.limits.max_depth
                ),
                span: span.clone(),
                label: None,
                help: None,
            });
            return Some(Step::Abort);
        }
        None
    }

    /// Hands a complete node to its parent (or ends the document). `size` is the node's
    /// size in nodes; `key_text` is the scalar's source text when it may serve as a key.
    fn finish(&mut self, node: Node, anchor: usize, size: usize, key_text: Option<String>) -> Step {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => Step::Document(Document {
                start: self.doc_start.min(node.span.start),
                root: node,
            }),
            Some(Frame::Seq { items, count, .. }) => {
                *count += size;
                items.push(node);
                Step::Continue
            }
            Some(Frame::Map {
                entries,
                seen,
                pending_key,
                skip_value,
                count,
                ..
            }) => {
                *count += size;
                match pending_key.take() {
                    None => {
                        // This node is a key.
                        if matches!(node.value, Value::Seq(_) | Value::Map(_)) {
                            self.errors.push(YamlError {
                                code: "complex-key",
                                message: "a mapping key must be a plain value".to_string(),
                                span: node.span.clone(),
                                label: None,
                                help: None,
                            });
                            *skip_value = true;
                        } else {
                            let text = key_text.unwrap_or_default();
                            if let Some(first) = seen.get(&text) {
                                self.errors.push(YamlError {
                                    code: "duplicate-key",
                                    message: format!("duplicate key `{text}`"),
                                    span: node.span.clone(),
                                    label: Some((first.clone(), "first defined here".to_string())),
                                    help: Some(
                                        "a key may appear once per mapping; remove one".to_string(),
                                    ),
                                });
                                *skip_value = true;
                            } else {
                                seen.insert(text.clone(), node.span.clone());
                                *skip_value = false;
                            }
                            *pending_key = Some(Node {
                                span: node.span,
                                value: Value::String(text),
                            });
                        }
                        if *skip_value && pending_key.is_none() {
                            *pending_key = Some(Node {
                                span: 0..0,
                                value: Value::Null,
                            });
                        }
                        Step::Continue
                    }
                    Some(key) => {
                        if !*skip_value {
                            let key_name = match key.value {
                                Value::String(s) => s,
                                _ => String::new(),
                            };
                            entries.push(Entry {
                                key: key_name,
                                key_span: key.span,
                                value: node,
                            });
                        }
                        *skip_value = false;
                        Step::Continue
                    }
                }
            }
        }
    }
}

/// Resolves a scalar by the YAML 1.2 core schema (only plain scalars are typed).
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&saphyr_parser::Tag>,
) -> Result<Value, String> {
    if let Some(tag) = tag {
        if tag.handle != "tag:yaml.org,2002:" && tag.handle != "!!" {
            if tag.handle == "!" && tag.suffix.is_empty() {
                // The non-specific tag `!` forces a string.
                return Ok(Value::String(text.to_string()));
            }
            return Err(format!("unsupported tag `{tag}`"));
        }
        return match tag.suffix.as_str() {
            "str" => Ok(Value::String(text.to_string())),
            "int" => match plain(text) {
                v @ Value::Int(_) => Ok(v),
                _ => Err(format!("`{text}` is not an !!int")),
            },
            "float" => match plain(text) {
                Value::Int(i) => Ok(Value::Float(i as f64)),
                v @ Value::Float(_) => Ok(v),
                _ => Err(format!("`{text}` is not a !!float")),
            },
            "bool" => match plain(text) {
                v @ Value::Bool(_) => Ok(v),
                _ => Err(format!("`{text}` is not a !!bool")),
            },
            "null" => match plain(text) {
                Value::Null => Ok(Value::Null),
                _ => Err(format!("`{text}` is not a !!null")),
            },
            other => Err(format!("unsupported tag `!!{other}`")),
        };
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::String(text.to_string()));
    }
    Ok(plain(text))
}

fn plain(text: &str) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if let Some(hex) = text.strip_prefix("0x")
        && digits(hex, 16)
    {
        return i64::from_str_radix(hex, 16).map_or(Value::String(text.to_string()), Value::Int);
    }
    if let Some(oct) = text.strip_prefix("0o")
        && digits(oct, 8)
    {
        return i64::from_str_radix(oct, 8).map_or(Value::String(text.to_string()), Value::Int);
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits(unsigned, 10) {
        return match text.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => text
                .parse::<f64>()
                .map_or(Value::String(text.to_string()), Value::Float),
        };
    }
    if is_core_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Value::Float(f);
    }
    Value::String(text.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` without the sign.
fn is_core_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            int.chars().all(|c| c.is_ascii_digit())
                && frac.chars().all(|c| c.is_ascii_digit())
                && !(int.is_empty() && frac.is_empty())
        }
        None => !mantissa.is_empty() && mantissa.chars().all(|c| c.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && e.chars().all(|c| c.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Where one JSON pointer's key and value are in the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Spans {
    /// The mapping key's span (`None` for the root and sequence items).
    pub key: Option<Range<usize>>,
    pub value: Range<usize>,
}

/// RFC 6901 pointer -> spans, for every node of one document.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SpanIndex {
    map: BTreeMap<String, Spans>,
}

impl SpanIndex {
    /// The span of `pointer`'s key (when `at_key` and it has one) or value. A pointer that
    /// does not exist in the file (it may point into a default, or past a substituted
    /// variable) falls back to its longest existing prefix.
    pub fn lookup(&self, pointer: &str, at_key: bool) -> Range<usize> {
        let mut p = pointer;
        loop {
            if let Some(s) = self.map.get(p) {
                return match (&s.key, at_key && p == pointer) {
                    (Some(k), true) => k.clone(),
                    _ => s.value.clone(),
                };
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return 0..0,
            }
        }
    }

    pub fn get(&self, pointer: &str) -> Option<&Spans> {
        self.map.get(pointer)
    }
}

/// Escapes one pointer segment (RFC 6901 §3).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Converts a node to JSON and records where each pointer came from.
pub fn to_json(node: &Node) -> (serde_json::Value, SpanIndex) {
    let mut index = SpanIndex::default();
    let value = convert(node, String::new(), None, &mut index);
    (value, index)
}

fn convert(
    node: &Node,
    pointer: String,
    key: Option<Range<usize>>,
    index: &mut SpanIndex,
) -> serde_json::Value {
    use serde_json::Value as J;
    let value = match &node.value {
        Value::Null => J::Null,
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        // JSON has no NaN or infinity; keep the YAML spelling so the schema reports a type.
        Value::Float(f) => {
            serde_json::Number::from_f64(*f).map_or_else(|| J::String(f.to_string()), J::Number)
        }
        Value::String(s) => J::String(s.clone()),
        Value::Seq(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| convert(item, format!("{pointer}/{i}"), None, index))
                .collect(),
        ),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for e in entries {
                let p = format!("{pointer}/{}", escape_pointer(&e.key));
                let v = convert(&e.value, p, Some(e.key_span.clone()), index);
                map.insert(e.key.clone(), v);
            }
            J::Object(map)
        }
    };
    index.map.insert(
        pointer,
        Spans {
            key,
            value: node.span.clone(),
        },
    );
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Node {
        let p = parse(text, &Limits::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        p.documents.into_iter().next().expect("a document").root
    }

    fn first_error(text: &str) -> (YamlError, (usize, usize)) {
        let p = parse(text, &Limits::default());
        let e = p.errors.into_iter().next().expect("an error");
        let before = &text[..e.span.start];
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        (e, (line, col))
    }

    #[test]
    fn a_tab_indent_is_reported_at_the_tab() {
        // Issue 12's example: line 7 ends in a plain value, the tab is on line 8.
        let text = "kind: AntivirusPolicy\nname: av\nsettings:\n  a: 1\n  b: 2\n  c: 3\n  realTimeMonitoring: enabled\n\tscanArchives: true\n";
        let (e, at) = first_error(text);
        assert_eq!((e.code, at), ("yaml-tab", (8, 1)), "{e:?}");
        for (text, want) in [
            ("a:\n  b: 1\n \tc: 2\n", (3, 2)),
            ("list:\n\t- x\n", (2, 1)),
            ("a: 1\nb:\n\t  c: x\n", (3, 1)),
        ] {
            let (e, at) = first_error(text);
            assert_eq!((e.code, at), ("yaml-tab", want), "{text:?}: {e:?}");
        }
    }

    #[test]
    fn an_unclosed_quote_says_so_at_the_quote() {
        for (text, want) in [
            ("name: \"av\ndisplayName: x\nother: y\n", (1, 7)),
            ("a: 1\nb: 'it\n  c: 2\n", (2, 4)),
            ("list:\n  - \"one\"\n  - \"two\n  - three\n", (3, 5)),
        ] {
            let (e, at) = first_error(text);
            assert_eq!(
                (e.code, at),
                ("yaml-unclosed-quote", want),
                "{text:?}: {e:?}"
            );
            assert!(e.message.contains("unclosed quote"), "{}", e.message);
        }
    }

    #[test]
    fn core_schema_scalars() {
        let (j, _) = to_json(&one(
            "a: yes\nb: 0o17\nc: 0x1f\nd: ~\ne: 1.5\nf: '1'\ng: True\nh: -3\ni: 1e3\nj: 1.2.3\n",
        ));
        assert_eq!(
            j,
            serde_json::json!({"a": "yes", "b": 15, "c": 31, "d": null, "e": 1.5, "f": "1",
                "g": true, "h": -3, "i": 1000.0, "j": "1.2.3"})
        );
    }

    #[test]
    fn spans_of_keys_and_values() {
        let text = "kind: X\nlist:\n  - é\n  - b\n";
        let (_, idx) = to_json(&one(text));
        let s = idx.get("/list/1").expect("span");
        assert_eq!(&text[s.value.clone()], "b");
        let s = idx.get("/kind").expect("span");
        assert_eq!(&text[s.key.clone().expect("key")], "kind");
        assert_eq!(&text[s.value.clone()], "X");
        assert_eq!(idx.lookup("/list/1/missing", false), s_of(text, "b"));
    }

    fn s_of(text: &str, needle: &str) -> Range<usize> {
        let i = text.rfind(needle).expect("needle");
        i..i + needle.len()
    }

    #[test]
    fn duplicate_key_is_reported_at_the_second() {
        let text = "a: 1\nb: 2\na: 3\n";
        let p = parse(text, &Limits::default());
        assert_eq!(p.errors.len(), 1);
        assert_eq!(p.errors[0].code, "duplicate-key");
        assert_eq!(p.errors[0].span, 10..11);
        assert_eq!(p.errors[0].label.as_ref().map(|l| l.0.clone()), Some(0..1));
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..30 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let p = parse(&text, &Limits::default());
        assert!(p.documents.is_empty());
        assert_eq!(p.errors[0].code, "alias-limit");
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
        let p = parse(&text, &Limits::default());
        assert_eq!(p.errors[0].code, "nesting-limit");
        // Far deeper input stops in the scanner, which bounds flow depth itself.
        let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        let p = parse(&text, &Limits::default());
        assert!(p.documents.is_empty());
        assert!(!p.errors.is_empty());
        // Block nesting has no scanner limit: ours applies.
        let text: String = (0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let p = parse(&text, &Limits::default());
        assert_eq!(p.errors[0].code, "nesting-limit");
    }

    #[test]
    fn multi_document() {
        let p = parse("a: 1\n---\nb: 2\n", &Limits::default());
        assert_eq!(p.documents.len(), 2);
        assert_eq!(p.documents[1].start, 5);
    }

    proptest::proptest! {
        /// Any input ends in documents or errors, never a panic, and every span lies
        /// within the text.
        #[test]
        fn never_panics_and_spans_stay_in_bounds(text in "[a-z:\\-\\[\\]{}&*!,'\" \n#|>0-9.~éß]{0,200}") {
            let p = parse(&text, &Limits::default());
            for d in &p.documents {
                let (_, idx) = to_json(&d.root);
                for s in idx.map.values() {
                    proptest::prop_assert!(s.value.end <= text.len());
                    proptest::prop_assert!(s.value.start <= s.value.end);
                    proptest::prop_assert!(text.is_char_boundary(s.value.start));
                    proptest::prop_assert!(text.is_char_boundary(s.value.end));
                }
            }
            for e in &p.errors {
                proptest::prop_assert!(e.span.end <= text.len());
            }
        }
    }
}
