//! The HCL writer: a body of attributes and nested blocks, rendered with
//! two-space indentation, `=` aligned across consecutive one-line attributes
//! (as `nomad fmt` does), and a blank line around blocks.
//!
//! Strings are written so that the parser reads back exactly the same text:
//! quotes, backslashes and control characters are escaped, and `${` / `%{`
//! become `$${` / `%%{` so they are never taken for interpolations or
//! directives. The one exception is a plain runtime reference such as
//! `${attr.kernel.name}` or `${NOMAD_PORT_http}`, which the parser keeps as
//! written, so it is printed as people write it. Multi-line strings that end
//! in a newline are written as heredocs, like a hand-written template.

use crate::model::Duration;
use serde_json::Value as Json;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Lists of scalars longer than this are written one element per line.
const MAX_INLINE_LIST: usize = 60;

/// One entry of a body.
#[derive(Debug)]
enum Item {
    /// `key = value`; the value text may span several lines.
    Attribute(String, String),
    /// `header { body }`.
    Block(String, Body),
}

/// A block body being written. Its depth is the indentation level of its
/// entries, so multi-line values can be indented as they are built.
#[derive(Debug)]
pub struct Body {
    depth: usize,
    items: Vec<Item>,
}

impl Body {
    /// The top-level body of a file.
    pub fn root() -> Self {
        Body {
            depth: 0,
            items: Vec::new(),
        }
    }

    /// Adds `key = <value text>` (the text is already HCL).
    pub fn raw(&mut self, key: &str, value: String) {
        self.items.push(Item::Attribute(key.to_owned(), value));
    }

    /// Adds a nested block `kind "label"... { ... }` filled by `fill`.
    pub fn block(&mut self, kind: &str, labels: &[&str], fill: impl FnOnce(&mut Body)) {
        let mut header = kind.to_owned();
        for label in labels {
            header.push(' ');
            header.push_str(&quote_label(label));
        }
        let mut body = Body {
            depth: self.depth + 1,
            items: Vec::new(),
        };
        fill(&mut body);
        self.items.push(Item::Block(header, body));
    }

    /// A string attribute; multi-line text ending in a newline becomes a heredoc.
    pub fn string(&mut self, key: &str, value: &str) {
        self.raw(key, string_value(value));
    }

    /// A string attribute, written only when not empty.
    pub fn text(&mut self, key: &str, value: &str) {
        if !value.is_empty() {
            self.string(key, value);
        }
    }

    /// A string attribute, written when set (even to "").
    pub fn opt_text(&mut self, key: &str, value: Option<&String>) {
        if let Some(value) = value {
            self.string(key, value);
        }
    }

    /// A bool attribute, written only when true.
    pub fn flag(&mut self, key: &str, value: bool) {
        if value {
            self.raw(key, "true".to_owned());
        }
    }

    /// A bool attribute, written when set.
    pub fn opt_bool(&mut self, key: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.raw(key, value.to_string());
        }
    }

    /// An integer attribute, written only when not zero.
    pub fn int(&mut self, key: &str, value: i64) {
        if value != 0 {
            self.raw(key, value.to_string());
        }
    }

    /// An integer attribute, written when set.
    pub fn opt_int(&mut self, key: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.raw(key, value.to_string());
        }
    }

    /// A duration attribute as a Go duration string, written only when not zero.
    pub fn duration(&mut self, key: &str, value: Duration) {
        if !value.is_zero() {
            self.raw(key, quote(&value.to_string()));
        }
    }

    /// A duration attribute as a Go duration string, written when set.
    pub fn opt_duration(&mut self, key: &str, value: Option<Duration>) {
        if let Some(value) = value {
            self.raw(key, quote(&value.to_string()));
        }
    }

    /// A list of strings, written only when not empty.
    pub fn list(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            let items: Vec<Json> = values.iter().map(|v| Json::String(v.clone())).collect();
            let text = self.json(&Json::Array(items));
            self.raw(key, text);
        }
    }

    /// A map of strings (`meta`, `env`, ...), written only when not empty:
    /// as a block when every key can be an attribute name, else as
    /// `key = { "a.b" = "..." }`.
    pub fn string_map(&mut self, key: &str, map: &BTreeMap<String, String>) {
        if map.is_empty() {
            return;
        }
        if map.keys().all(|k| is_identifier(k)) {
            self.block(key, &[], |body| {
                for (k, v) in map {
                    body.string(k, v);
                }
            });
        } else {
            let object = map
                .iter()
                .map(|(k, v)| (k.clone(), Json::String(v.clone())))
                .collect();
            let text = self.json(&Json::Object(object));
            self.raw(key, text);
        }
    }

    /// A free-form map (driver `config`, scaling `policy`), written only when
    /// not empty: as a block when every key can be an attribute name, else as
    /// an object attribute.
    pub fn free_form<'a>(
        &mut self,
        key: &str,
        map: impl IntoIterator<Item = (&'a String, &'a Json)> + Clone,
    ) {
        let mut entries = map.clone().into_iter().peekable();
        if entries.peek().is_none() {
            return;
        }
        if map.clone().into_iter().all(|(k, _)| is_identifier(k)) {
            self.block(key, &[], |body| body.free_form_body(map));
        } else {
            let object = map
                .into_iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let text = self.json(&Json::Object(object));
            self.raw(key, text);
        }
    }

    /// Writes the entries of a free-form object into this body, sorted by
    /// key (JSON objects keep insertion order, which equality ignores), with
    /// attributes before blocks. A list of objects becomes repeated blocks
    /// (`mount { ... }`), which reads back as the same list.
    pub fn free_form_body<'a>(&mut self, map: impl IntoIterator<Item = (&'a String, &'a Json)>) {
        let mut entries: Vec<(&String, &Json)> = map.into_iter().collect();
        entries.sort_by_key(|(key, _)| *key);
        let as_blocks = |key: &str, value: &Json| matches!(value, Json::Array(items) if is_block_name(key) && !items.is_empty() && items.iter().all(is_body_object));
        for (key, value) in entries.iter().filter(|(k, v)| !as_blocks(k, v)) {
            match value {
                Json::String(text) => self.string(key, text),
                other => {
                    let text = self.json(other);
                    self.raw(key, text);
                }
            }
        }
        for (key, value) in entries.iter().filter(|(k, v)| as_blocks(k, v)) {
            for item in value.as_array().into_iter().flatten() {
                if let Json::Object(object) = item {
                    self.block(key, &[], |body| body.free_form_body(object));
                }
            }
        }
    }

    /// Renders a JSON value as an HCL expression at this body's depth.
    pub fn json(&self, value: &Json) -> String {
        let mut out = String::new();
        write_json(&mut out, value, self.depth);
        out
    }

    /// Renders the body's entries (not its braces) into `out`. Blocks and
    /// multi-line attributes are set apart by blank lines; runs of one-line
    /// attributes are kept together with their `=` aligned.
    pub fn render(&self, out: &mut String) {
        let indent = "  ".repeat(self.depth);
        let one_line =
            |item: &Item| matches!(item, Item::Attribute(_, value) if !value.contains('\n'));
        for (index, item) in self.items.iter().enumerate() {
            if index > 0 && !(one_line(item) && one_line(&self.items[index - 1])) {
                out.push('\n');
            }
            match item {
                Item::Attribute(key, value) => {
                    let width = if one_line(item) {
                        self.run_width(index)
                    } else {
                        key.len()
                    };
                    let _ = writeln!(out, "{indent}{key:<width$} = {value}");
                }
                Item::Block(header, body) if body.items.is_empty() => {
                    let _ = writeln!(out, "{indent}{header} {{}}");
                }
                Item::Block(header, body) => {
                    let _ = writeln!(out, "{indent}{header} {{");
                    body.render(out);
                    let _ = writeln!(out, "{indent}}}");
                }
            }
        }
    }

    /// The widest key among the run of one-line attributes around `index`.
    fn run_width(&self, index: usize) -> usize {
        let single = |item: &Item| match item {
            Item::Attribute(key, value) if !value.contains('\n') => Some(key.len()),
            _ => None,
        };
        let mut start = index;
        while start > 0 && single(&self.items[start - 1]).is_some() {
            start -= 1;
        }
        self.items[start..]
            .iter()
            .map_while(single)
            .max()
            .unwrap_or(0)
    }
}

fn write_json(out: &mut String, value: &Json, depth: usize) {
    match value {
        Json::Null => out.push_str("null"),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Number(n) => out.push_str(&n.to_string()),
        Json::String(s) => out.push_str(&quote(s)),
        Json::Array(items) if items.is_empty() => out.push_str("[]"),
        Json::Array(items) => {
            let scalars = items
                .iter()
                .all(|v| !matches!(v, Json::Array(_) | Json::Object(_)));
            if scalars {
                let parts: Vec<String> = items.iter().map(|v| to_json_text(v, depth)).collect();
                let width: usize = parts.iter().map(|p| p.len() + 2).sum();
                if width <= MAX_INLINE_LIST {
                    let _ = write!(out, "[{}]", parts.join(", "));
                    return;
                }
            }
            let inner = "  ".repeat(depth + 1);
            out.push_str("[\n");
            for item in items {
                out.push_str(&inner);
                write_json(out, item, depth + 1);
                out.push_str(",\n");
            }
            let _ = write!(out, "{}]", "  ".repeat(depth));
        }
        Json::Object(map) if map.is_empty() => out.push_str("{}"),
        Json::Object(map) => {
            let inner = "  ".repeat(depth + 1);
            let mut entries: Vec<(&String, &Json)> = map.iter().collect();
            entries.sort_by_key(|(key, _)| *key);
            let keys: Vec<String> = entries.iter().map(|(k, _)| object_key(k)).collect();
            let values: Vec<String> = entries
                .iter()
                .map(|(_, v)| to_json_text(v, depth + 1))
                .collect();
            out.push_str("{\n");
            for (index, (key, value)) in keys.iter().zip(&values).enumerate() {
                let width = if value.contains('\n') {
                    key.len()
                } else {
                    // Align with the neighbouring one-line entries.
                    let one_line = |i: &usize| !values[*i].contains('\n');
                    let start = (0..index)
                        .rev()
                        .take_while(one_line)
                        .last()
                        .unwrap_or(index);
                    (start..values.len())
                        .take_while(one_line)
                        .map(|i| keys[i].len())
                        .max()
                        .unwrap_or(0)
                };
                let _ = writeln!(out, "{inner}{key:<width$} = {value}");
            }
            let _ = write!(out, "{}}}", "  ".repeat(depth));
        }
    }
}

fn to_json_text(value: &Json, depth: usize) -> String {
    let mut out = String::new();
    write_json(&mut out, value, depth);
    out
}

/// A key in an object expression: bare when it is a plain identifier that
/// is not a keyword, else quoted.
fn object_key(key: &str) -> String {
    if is_identifier(key) && !matches!(key, "true" | "false" | "null" | "for" | "in" | "if") {
        key.to_owned()
    } else {
        quote(key)
    }
}

/// Whether `key` can be written as an attribute name.
pub fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Whether `key` can be written as the type of a nested block in a
/// free-form body (`dynamic` would be expanded, keywords are avoided).
fn is_block_name(key: &str) -> bool {
    is_identifier(key)
        && !matches!(
            key,
            "dynamic" | "true" | "false" | "null" | "for" | "in" | "if"
        )
}

/// Whether a list element can be written as a block body.
fn is_body_object(value: &Json) -> bool {
    matches!(value, Json::Object(map) if map.keys().all(|k| is_identifier(k)))
}

/// A quoted HCL string literal that reads back as exactly `text`. Runtime
/// references such as `${attr.kernel.name}` or `${NOMAD_PORT_http}` are
/// written as they are, since the parser keeps them as written; every other
/// `${` and `%{` is escaped.
pub fn quote(text: &str) -> String {
    quoted(text, true)
}

/// A string as an attribute value: a heredoc for multi-line text ending in
/// a newline, else a quoted string.
pub fn string_value(text: &str) -> String {
    heredoc(text).unwrap_or_else(|| quote(text))
}

/// A quoted block label: labels take no interpolation at all.
pub fn quote_label(text: &str) -> String {
    quoted(text, false)
}

fn quoted(text: &str, keep_references: bool) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for (i, c) in text.char_indices() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => escape_template(&mut out, text, i, c, keep_references),
        }
    }
    out.push('"');
    out
}

/// Pushes `c` (at byte `i` of `text`), doubled when it starts `${` or `%{`
/// that must not be read as an interpolation or a directive.
fn escape_template(out: &mut String, text: &str, i: usize, c: char, keep_references: bool) {
    let rest = &text[i..];
    let opens = (c == '$' || c == '%') && rest[1..].starts_with('{');
    let keep = c == '$' && keep_references && !out.ends_with('$') && is_runtime_reference(rest);
    if opens && !keep {
        out.push(c);
    }
    out.push(c);
}

/// Whether `rest` starts with `${root.name...}` where `root` is one the
/// client interpolates at run time (`attr`, `node`, `meta`, `NOMAD_*`).
fn is_runtime_reference(rest: &str) -> bool {
    let Some(inner) = rest
        .strip_prefix("${")
        .and_then(|r| r.split_once('}'))
        .map(|(inner, _)| inner)
    else {
        return false;
    };
    let root = inner.split('.').next().unwrap_or_default();
    (matches!(root, "attr" | "node" | "meta") || root.starts_with("NOMAD_"))
        && inner.split('.').all(is_identifier)
}

/// A heredoc for `text` when it is multi-line, ends in a newline and holds
/// no character a heredoc cannot carry; `None` otherwise.
fn heredoc(text: &str) -> Option<String> {
    let body = text.strip_suffix('\n')?;
    if !body.contains('\n')
        || text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return None;
    }
    let mut marker = "EOT".to_owned();
    let mut n = 0;
    while body
        .lines()
        .any(|line| line.trim_start().starts_with(marker.as_str()))
    {
        n += 1;
        marker = format!("EOT{n}");
    }
    let mut escaped = String::with_capacity(body.len());
    for (i, c) in body.char_indices() {
        escape_template(&mut escaped, body, i, c, true);
    }
    Some(format!("<<{marker}\n{escaped}\n{marker}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(quote("a\"b\\c\n"), r#""a\"b\\c\n""#);
        assert_eq!(quote("${x} %{y} $ %"), r#""$${x} %%{y} $ %""#);
        assert_eq!(
            quote("${attr.a.b-c}/${NOMAD_PORT_x}"),
            r#""${attr.a.b-c}/${NOMAD_PORT_x}""#
        );
        assert_eq!(
            quote("$${attr.a} ${ attr.a }"),
            r#""$$${attr.a} $${ attr.a }""#
        );
        assert_eq!(quote_label("${attr.a}"), r#""$${attr.a}""#);
        assert_eq!(quote("\u{1}"), r#""\u0001""#);
    }

    #[test]
    fn aligns_runs_of_attributes() {
        let mut body = Body::root();
        body.block("job", &["x"], |b| {
            b.raw("a", "1".into());
            b.raw("long_name", "2".into());
            b.block("inner", &[], |_| {});
            b.raw("c", "3".into());
        });
        let mut out = String::new();
        body.render(&mut out);
        assert_eq!(
            out,
            "job \"x\" {\n  a         = 1\n  long_name = 2\n\n  inner {}\n\n  c = 3\n}\n"
        );
    }
}
