//! `yamlencode` and `yamldecode` without a YAML library.
//!
//! The encoder writes block-style YAML with every string double-quoted, like
//! cty's encoder. The decoder reads the YAML people write in configuration
//! files: block mappings and sequences (including `- key: value` items),
//! flow collections, plain/single/double-quoted scalars (multi-line too),
//! literal and folded block scalars, and comments. Anchors, aliases, tags,
//! complex keys and multiple documents are reported as unsupported.

use super::{FunctionContext, parse_number, string_arg};
use crate::jobspec::value::{Value, format_number};
use hcl::Number;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

const MAX_DEPTH: usize = 128;

pub(super) fn yamlencode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out = String::new();
    emit(&args[0], 0, &mut out);
    Ok(Value::String(out))
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A value that fits on one line after `key: ` or `- `.
fn inline(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some("null".to_owned()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(format_number(n)),
        Value::String(s) => Some(quote(s)),
        Value::Unknown(_) => v.to_hcl_string().map(|s| quote(&s)),
        Value::List(items) if items.is_empty() => Some("[]".to_owned()),
        Value::Object(map) if map.is_empty() => Some("{}".to_owned()),
        Value::List(_) | Value::Object(_) => None,
    }
}

/// Writes `v` starting at the cursor; continuation lines start at `indent`.
fn emit(v: &Value, indent: usize, out: &mut String) {
    if let Some(text) = inline(v) {
        out.push_str(&text);
        out.push('\n');
        return;
    }
    let pad = " ".repeat(indent);
    match v {
        Value::List(items) => {
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str("- ");
                emit(item, indent + 2, out);
            }
        }
        Value::Object(map) => {
            for (i, (key, value)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(&pad);
                }
                out.push_str(&quote(key));
                out.push(':');
                match (inline(value), value) {
                    (Some(text), _) => {
                        out.push(' ');
                        out.push_str(&text);
                        out.push('\n');
                    }
                    (None, Value::List(_)) => {
                        out.push('\n');
                        out.push_str(&pad);
                        emit(value, indent, out);
                    }
                    (None, _) => {
                        out.push('\n');
                        out.push_str(&" ".repeat(indent + 2));
                        emit(value, indent + 2, out);
                    }
                }
            }
        }
        _ => {}
    }
}

pub(super) fn yamldecode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    Parser::new(&text)?.document()
}

#[derive(Clone, Copy)]
struct Line<'a> {
    number: usize,
    indent: usize,
    /// The content after the indentation, without comments or trailing space.
    text: &'a str,
    raw: &'a str,
}

/// Cuts a trailing `# comment` that is outside quotes.
fn strip_comment(text: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev = ' ';
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' && prev.is_whitespace() => return text[..at].trim_end(),
            None if (c == '"' || c == '\'') && (prev.is_whitespace() || "-:,[{".contains(prev)) => {
                quote = Some(c)
            }
            None => {}
        }
        prev = c;
    }
    text.trim_end()
}

struct Parser<'a> {
    lines: Vec<Line<'a>>,
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Result<Parser<'a>, String> {
        let mut lines = Vec::new();
        let mut started = false;
        for (i, raw) in text.split('\n').enumerate() {
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            let number = i + 1;
            if raw == "---" || raw.starts_with("--- ") {
                if started || lines.iter().any(|l: &Line<'_>| !l.text.is_empty()) {
                    return Err("multiple YAML documents are not supported".to_owned());
                }
                started = true;
                let rest = strip_comment(raw[3..].trim_start());
                if !rest.is_empty() {
                    lines.push(Line {
                        number,
                        indent: raw.len() - raw[3..].trim_start().len(),
                        text: rest,
                        raw,
                    });
                }
                continue;
            }
            if raw == "..." {
                break;
            }
            if lines.is_empty() && !started && raw.starts_with('%') {
                continue;
            }
            let body = raw.trim_start_matches(' ');
            let indent = raw.len() - body.len();
            let text = strip_comment(body);
            if text.starts_with('\t') {
                return Err(format!(
                    "line {number}: tabs are not allowed for indentation"
                ));
            }
            lines.push(Line {
                number,
                indent,
                text,
                raw,
            });
        }
        Ok(Parser {
            lines,
            pos: 0,
            depth: 0,
        })
    }

    fn skip_blank(&mut self) {
        while self.lines.get(self.pos).is_some_and(|l| l.text.is_empty()) {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Option<Line<'a>> {
        self.skip_blank();
        self.lines.get(self.pos).copied()
    }

    fn document(mut self) -> Res {
        let value = match self.peek() {
            None => Value::Null,
            Some(_) => self.node(0)?,
        };
        match self.peek() {
            None => Ok(value),
            Some(line) => Err(format!(
                "line {}: unexpected content {:?}",
                line.number, line.text
            )),
        }
    }

    fn enter(&mut self) -> Result<(), String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the YAML is nested more than {MAX_DEPTH} levels deep"
            ));
        }
        Ok(())
    }

    /// A node whose first line is indented at least `min_indent`.
    fn node(&mut self, min_indent: usize) -> Res {
        let Some(line) = self.peek().filter(|l| l.indent >= min_indent) else {
            return Ok(Value::Null);
        };
        self.enter()?;
        let value = if is_seq_item(line.text) {
            self.sequence(line.indent)
        } else if split_key(line.text, line.number)?.is_some() {
            self.mapping(line.indent)
        } else {
            self.pos += 1;
            self.value(line.text, line, line.indent, false)
        };
        self.depth -= 1;
        value
    }

    fn sequence(&mut self, indent: usize) -> Res {
        let mut items = Vec::new();
        while let Some(line) = self.peek() {
            if line.indent != indent || !is_seq_item(line.text) {
                if line.indent > indent {
                    return Err(format!("line {}: unexpected indentation", line.number));
                }
                break;
            }
            let rest = line.text[1..].trim_start();
            if !rest.is_empty() && (is_seq_item(rest) || split_key(rest, line.number)?.is_some()) {
                // A compact nested collection: re-read the rest of the line
                // as if it started at its own column.
                let column = line.indent + (line.text.len() - rest.len());
                self.lines[self.pos] = Line {
                    indent: column,
                    text: rest,
                    ..line
                };
                items.push(self.node(column)?);
            } else {
                self.pos += 1;
                items.push(self.value(rest, line, indent + 1, false)?);
            }
        }
        Ok(Value::List(items))
    }

    fn mapping(&mut self, indent: usize) -> Res {
        let mut map = BTreeMap::new();
        while let Some(line) = self.peek() {
            if line.indent != indent {
                if line.indent > indent {
                    return Err(format!("line {}: unexpected indentation", line.number));
                }
                break;
            }
            let Some((key, rest)) = split_key(line.text, line.number)? else {
                return Err(format!(
                    "line {}: expected \"key: value\", found {:?}",
                    line.number, line.text
                ));
            };
            self.pos += 1;
            let value = self.value(rest, line, indent + 1, true)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    /// The value after `key:` or `- `: `rest` is the remainder of the line;
    /// nested or continuation lines must be indented at least `min_indent`.
    fn value(&mut self, rest: &'a str, line: Line<'a>, min_indent: usize, in_map: bool) -> Res {
        let unsupported = |what: &str| format!("line {}: {what} are not supported", line.number);
        match rest.chars().next() {
            None => match self.peek() {
                Some(next) if next.indent >= min_indent => self.node(min_indent),
                Some(next) if in_map && next.indent + 1 == min_indent && is_seq_item(next.text) => {
                    self.enter()?;
                    let v = self.sequence(next.indent);
                    self.depth -= 1;
                    v
                }
                _ => Ok(Value::Null),
            },
            Some('|' | '>') => self.block_scalar(rest, line, min_indent),
            Some('&' | '*') => Err(unsupported("anchors and aliases")),
            Some('!') => Err(unsupported("tags")),
            Some('?') if rest.len() == 1 || rest.starts_with("? ") => {
                Err(unsupported("complex keys"))
            }
            Some('[' | '{') => {
                let text = self.gather(rest, min_indent, false, flow_balanced)?;
                let mut flow = Flow {
                    chars: text.chars().collect(),
                    pos: 0,
                    depth: self.depth,
                    line: line.number,
                };
                let v = flow.value()?;
                flow.skip_space();
                match flow.chars.get(flow.pos) {
                    None => Ok(v),
                    Some(c) => Err(format!(
                        "line {}: unexpected {c:?} after a flow collection",
                        line.number
                    )),
                }
            }
            Some(q @ ('"' | '\'')) => {
                let text = self.gather(rest, min_indent, false, |t| quoted_end(t, q).is_some())?;
                let end = quoted_end(&text, q)
                    .ok_or_else(|| format!("line {}: unterminated quoted string", line.number))?;
                if !text[end..].trim().is_empty() {
                    return Err(format!(
                        "line {}: unexpected text after a quoted string",
                        line.number
                    ));
                }
                unquote(&text[..end], line.number).map(Value::String)
            }
            Some(_) => {
                let text = self.gather(rest, min_indent, true, |_| false)?;
                resolve_plain(&text, line.number)
            }
        }
    }

    /// Joins `first` with following lines indented at least `min_indent`
    /// until `done` says the text is complete (line breaks fold to spaces,
    /// blank lines to newlines). A plain scalar cannot continue with a line
    /// that looks like a mapping entry.
    fn gather(
        &mut self,
        first: &str,
        min_indent: usize,
        plain: bool,
        done: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let mut text = first.to_owned();
        let mut newlines = 0;
        while !done(&text) {
            let Some(next) = self.lines.get(self.pos).copied() else {
                break;
            };
            if next.text.is_empty() {
                newlines += 1;
                self.pos += 1;
                continue;
            }
            if next.indent < min_indent {
                break;
            }
            if plain && split_key(next.text, next.number)?.is_some() {
                return Err(format!("line {}: unexpected indentation", next.number));
            }
            if newlines > 0 {
                text.push_str(&"\n".repeat(newlines));
            } else {
                text.push(' ');
            }
            newlines = 0;
            text.push_str(next.text);
            self.pos += 1;
        }
        Ok(text)
    }

    fn block_scalar(&mut self, header: &str, line: Line<'a>, min_indent: usize) -> Res {
        let folded = header.starts_with('>');
        let mut chomp = ' ';
        let mut explicit: Option<usize> = None;
        for c in header[1..].chars() {
            match c {
                '+' | '-' if chomp == ' ' => chomp = c,
                '1'..='9' if explicit.is_none() => explicit = c.to_digit(10).map(|d| d as usize),
                _ => {
                    return Err(format!(
                        "line {}: invalid block scalar header {header:?}",
                        line.number
                    ));
                }
            }
        }
        let mut content: Vec<&str> = Vec::new();
        let mut indent = explicit.map(|d| min_indent.saturating_sub(1) + d);
        while let Some(next) = self.lines.get(self.pos) {
            let body = next.raw.trim_start_matches(' ');
            if body.is_empty() {
                content.push("");
                self.pos += 1;
                continue;
            }
            let here = next.raw.len() - body.len();
            let need = *indent.get_or_insert(here.max(min_indent));
            if here < need || here < min_indent {
                break;
            }
            content.push(&next.raw[need..]);
            self.pos += 1;
        }
        let trailing = content.iter().rev().take_while(|l| l.is_empty()).count();
        let body = &content[..content.len() - trailing];
        let mut out = String::new();
        if folded {
            let mut prev_more: Option<bool> = None;
            let mut blank_run = false;
            for l in body {
                if l.is_empty() {
                    out.push('\n');
                    blank_run = true;
                    continue;
                }
                let more = l.starts_with([' ', '\t']);
                if let Some(pm) = prev_more {
                    if pm || more {
                        out.push('\n');
                    } else if !blank_run {
                        out.push(' ');
                    }
                }
                out.push_str(l);
                prev_more = Some(more);
                blank_run = false;
            }
        } else {
            out = body.join("\n");
        }
        match chomp {
            '-' => {}
            '+' => out.push_str(&"\n".repeat(trailing + usize::from(!body.is_empty()))),
            _ if !body.is_empty() => out.push('\n'),
            _ => {}
        }
        Ok(Value::String(out))
    }
}

fn is_seq_item(text: &str) -> bool {
    text == "-" || text.starts_with("- ")
}

/// Splits `key: rest` (the key unquoted); `None` when the line is not a
/// mapping entry.
fn split_key(text: &str, line: usize) -> Result<Option<(String, &str)>, String> {
    if text.starts_with(['[', '{', '|', '>', '&', '*', '!']) || is_seq_item(text) {
        return Ok(None);
    }
    let after_key = |end: usize| {
        let rest = text[end..].trim_start();
        rest.strip_prefix(':')
            .filter(|r| r.is_empty() || r.starts_with(' '))
            .map(str::trim_start)
    };
    if let Some(q) = text.chars().next().filter(|c| *c == '"' || *c == '\'') {
        let Some(end) = quoted_end(text, q) else {
            return Ok(None);
        };
        return match after_key(end) {
            Some(rest) => Ok(Some((unquote(&text[..end], line)?, rest))),
            None => Ok(None),
        };
    }
    let colon = text
        .find(": ")
        .or_else(|| text.strip_suffix(':').map(str::len));
    Ok(colon.map(|at| {
        (
            text[..at].trim_end().to_owned(),
            text[at + 1..].trim_start(),
        )
    }))
}

/// The byte just past the closing quote of the quoted scalar starting `text`.
fn quoted_end(text: &str, q: char) -> Option<usize> {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((at, c)) = chars.next() {
        if q == '"' && c == '\\' {
            chars.next();
        } else if c == q {
            if q == '\'' && chars.peek().is_some_and(|(_, n)| *n == '\'') {
                chars.next();
            } else {
                return Some(at + 1);
            }
        }
    }
    None
}

fn unquote(text: &str, line: usize) -> Result<String, String> {
    let inner = &text[1..text.len().saturating_sub(1).max(1)];
    if text.starts_with('\'') {
        return Ok(inner.replace("''", "'"));
    }
    let bad = |what: &str| format!("line {line}: {what} in a double-quoted string");
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let e = chars.next().ok_or_else(|| bad("a trailing backslash"))?;
        let hex = |n: usize, chars: &mut std::str::Chars<'_>| -> Result<char, String> {
            let digits: String = chars.by_ref().take(n).collect();
            u32::from_str_radix(&digits, 16)
                .ok()
                .and_then(char::from_u32)
                .ok_or_else(|| bad("an invalid escape"))
        };
        out.push(match e {
            '0' => '\0',
            'a' => '\u{7}',
            'b' => '\u{8}',
            't' | '\t' => '\t',
            'n' => '\n',
            'v' => '\u{b}',
            'f' => '\u{c}',
            'r' => '\r',
            'e' => '\u{1b}',
            ' ' | '"' | '/' | '\\' => e,
            'N' => '\u{85}',
            '_' => '\u{a0}',
            'L' => '\u{2028}',
            'P' => '\u{2029}',
            'x' => hex(2, &mut chars)?,
            'u' => hex(4, &mut chars)?,
            'U' => hex(8, &mut chars)?,
            _ => return Err(bad(&format!("the unknown escape \\{e}"))),
        });
    }
    Ok(out)
}

/// Whether every `[`/`{` in the text is closed (outside quotes).
fn flow_balanced(text: &str) -> bool {
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in text.chars() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(c),
                '[' | '{' => depth += 1,
                ']' | '}' => depth -= 1,
                _ => {}
            },
        }
    }
    depth <= 0 && quote.is_none()
}

/// Gives a plain scalar its type: null, bool, number or string.
fn resolve_plain(text: &str, line: usize) -> Res {
    let text = text.trim();
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ => {
            let lower = text.to_ascii_lowercase();
            if matches!(lower.trim_start_matches(['+', '-']), ".inf" | ".nan") {
                return Err(format!(
                    "line {line}: infinity and NaN cannot be represented"
                ));
            }
            let radix = |prefix: &str, radix: u32| {
                text.strip_prefix(prefix)
                    .and_then(|d| u64::from_str_radix(d, radix).ok())
                    .map(|u| Value::Number(Number::from(u)))
            };
            if let Some(v) = radix("0x", 16).or_else(|| radix("0o", 8)) {
                v
            } else if let Some(n) = parse_number(text) {
                Value::Number(n)
            } else {
                Value::string(text)
            }
        }
    })
}

/// A parser for flow collections (`[a, b]`, `{k: v}`).
struct Flow {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    line: usize,
}

impl Flow {
    fn skip_space(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn err(&self, what: &str) -> String {
        format!("line {}: {what} in a flow collection", self.line)
    }

    fn value(&mut self) -> Res {
        self.skip_space();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "the YAML is nested more than {MAX_DEPTH} levels deep"
            ));
        }
        let v = match self.chars.get(self.pos) {
            Some('[') => self.collection(']'),
            Some('{') => self.collection('}'),
            Some('&' | '*' | '!') => Err(self.err("anchors, aliases and tags are not supported")),
            Some(_) => self.scalar(false),
            None => Err(self.err("unexpected end")),
        };
        self.depth -= 1;
        v
    }

    fn collection(&mut self, close: char) -> Res {
        self.pos += 1;
        let mut items = Vec::new();
        let mut map = BTreeMap::new();
        loop {
            self.skip_space();
            match self.chars.get(self.pos) {
                Some(&c) if c == close => break,
                None => return Err(self.err(&format!("a missing {close:?}"))),
                _ => {}
            }
            if close == '}' {
                let key = match self.scalar(true)? {
                    Value::String(s) => s,
                    other => other.to_hcl_string().unwrap_or_else(|| "null".to_owned()),
                };
                self.skip_space();
                let value = if self.chars.get(self.pos) == Some(&':') {
                    self.pos += 1;
                    self.skip_space();
                    if matches!(self.chars.get(self.pos), Some(',' | '}')) {
                        Value::Null
                    } else {
                        self.value()?
                    }
                } else {
                    Value::Null
                };
                map.insert(key, value);
            } else {
                items.push(self.value()?);
            }
            self.skip_space();
            match self.chars.get(self.pos) {
                Some(',') => self.pos += 1,
                Some(&c) if c == close => {}
                Some(c) => return Err(self.err(&format!("unexpected {c:?}"))),
                None => return Err(self.err(&format!("a missing {close:?}"))),
            }
        }
        self.pos += 1;
        Ok(if close == '}' {
            Value::Object(map)
        } else {
            Value::List(items)
        })
    }

    fn scalar(&mut self, key: bool) -> Res {
        if let Some(&q) = self
            .chars
            .get(self.pos)
            .filter(|c| **c == '"' || **c == '\'')
        {
            let rest: String = self.chars[self.pos..].iter().collect();
            let end =
                quoted_end(&rest, q).ok_or_else(|| self.err("an unterminated quoted string"))?;
            self.pos += rest[..end].chars().count();
            return unquote(&rest[..end], self.line).map(Value::String);
        }
        let start = self.pos;
        while let Some(&c) = self.chars.get(self.pos) {
            let next = self.chars.get(self.pos + 1);
            let ends_key =
                c == ':' && (key || next.is_none_or(|n| n.is_whitespace() || ",]}".contains(*n)));
            if matches!(c, ',' | ']' | '}' | '[' | '{') || ends_key {
                break;
            }
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        if key {
            Ok(Value::String(text.trim().to_owned()))
        } else {
            resolve_plain(&text, self.line)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn encode() {
        let v = obj(&[
            ("bar", s("baz")),
            (
                "foo",
                list(vec![n(1), obj(&[("a", s("b")), ("c", s("d"))]), n(3)]),
            ),
        ]);
        let out = "\"bar\": \"baz\"\n\"foo\":\n- 1\n- \"a\": \"b\"\n  \"c\": \"d\"\n- 3\n";
        assert_eq!(run("yamlencode", vec![v]), Ok(s(out)));
        let nested = obj(&[
            ("a", obj(&[("b", list(vec![]))])),
            ("l", list(vec![strs(&["x", "y"])])),
        ]);
        let out = "\"a\":\n  \"b\": []\n\"l\":\n- - \"x\"\n  - \"y\"\n";
        assert_eq!(run("yamlencode", vec![nested.clone()]), Ok(s(out)));
        assert_eq!(run("yamldecode", vec![s(out)]), Ok(nested));
        assert_eq!(
            run("yamlencode", vec![s("a\"\n\u{1}")]),
            Ok(s("\"a\\\"\\n\\x01\"\n"))
        );
        assert_eq!(run("yamlencode", vec![Value::Null]), Ok(s("null\n")));
    }

    #[test]
    fn decode_block_structures() {
        let text = "# config\n---\nname: web  # trailing\ncount: 3\nratio: 0.5\nenabled: true\nnothing:\nports:\n- 80\n- \"443\"\nnested:\n  deep:\n    - a: 1\n      b: two\n    - [x, 'y''s', {k: v}]\nurl: http://x/y#frag\n";
        let want = obj(&[
            ("count", n(3)),
            ("enabled", Value::Bool(true)),
            ("name", s("web")),
            (
                "nested",
                obj(&[(
                    "deep",
                    list(vec![
                        obj(&[("a", n(1)), ("b", s("two"))]),
                        list(vec![s("x"), s("y's"), obj(&[("k", s("v"))])]),
                    ]),
                )]),
            ),
            ("nothing", Value::Null),
            ("ports", list(vec![n(80), s("443")])),
            ("ratio", Value::float(0.5)),
            ("url", s("http://x/y#frag")),
        ]);
        assert_eq!(run("yamldecode", vec![s(text)]), Ok(want));
        assert_eq!(run("yamldecode", vec![s("")]), Ok(Value::Null));
        assert_eq!(
            run("yamldecode", vec![s("hello\n  world")]),
            Ok(s("hello world"))
        );
        assert_eq!(
            run("yamldecode", vec![s("- - a\n  - b\n- c")]),
            Ok(list(vec![strs(&["a", "b"]), s("c")]))
        );
        assert_eq!(
            run("yamldecode", vec![s("\"a b\": \"x\\ty\\u00e9\"")]),
            Ok(obj(&[("a b", s("x\tyé"))]))
        );
    }

    #[test]
    fn decode_block_scalars() {
        let text = "lit: |\n  line 1\n    more\n\n  line 3\nfold: >-\n  a\n  b\n\n  c\nkeep: |+\n  x\n\nz: 0x1F\n";
        let want = obj(&[
            ("fold", s("a b\nc")),
            ("keep", s("x\n\n")),
            ("lit", s("line 1\n  more\n\nline 3\n")),
            ("z", n(31)),
        ]);
        assert_eq!(run("yamldecode", vec![s(text)]), Ok(want));
    }

    #[test]
    fn decode_errors() {
        fails(
            "yamldecode",
            vec![s("a: 1\n---\nb: 2")],
            "multiple YAML documents",
        );
        fails("yamldecode", vec![s("a: &x 1")], "anchors and aliases");
        fails("yamldecode", vec![s("a: !!str 1")], "tags");
        fails(
            "yamldecode",
            vec![s("a: 1\n  b: 2")],
            "unexpected indentation",
        );
        fails("yamldecode", vec![s("a: [1, 2")], "missing ']'");
        fails("yamldecode", vec![s("a: \"x")], "unterminated");
        fails("yamldecode", vec![s("a: .inf")], "infinity");
        fails(
            "yamldecode",
            vec![s(&format!("{}1{}", "[".repeat(200), "]".repeat(200)))],
            "nested more than",
        );
        fails("yamldecode", vec![list(vec![])], "must be a string");
    }
}
