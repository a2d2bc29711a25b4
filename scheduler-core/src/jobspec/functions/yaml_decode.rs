//! The block-structure half of `yamldecode`: lines, indentation, mappings,
//! sequences, block scalars and multi-line scalars.

use super::yaml_scalar::{Closing, Flow, quoted_end, resolve_plain, unquote};
use crate::jobspec::value::Value;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

/// How deeply collections may nest.
pub(super) const MAX_DEPTH: usize = 128;

/// Parses one YAML document.
pub(super) fn decode(text: &str) -> Res {
    Parser::new(text)?.document()
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
                let text = self.gather(rest, min_indent, false)?;
                Flow::parse(&text, self.depth, line.number)
            }
            Some(q @ ('"' | '\'')) => {
                let text = self.gather(rest, min_indent, false)?;
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
                let text = self.gather(rest, min_indent, true)?;
                resolve_plain(&text, line.number)
            }
        }
    }

    /// Joins `first` with following lines indented at least `min_indent`
    /// (line breaks fold to spaces, blank lines to newlines). A plain scalar
    /// takes every such line but cannot continue with one that looks like a
    /// mapping entry; a flow collection or quoted scalar stops once closed.
    fn gather(&mut self, first: &str, min_indent: usize, plain: bool) -> Result<String, String> {
        let mut text = first.to_owned();
        let mut closing = Closing::default();
        closing.feed(first);
        let mut newlines = 0;
        while plain || !closing.complete() {
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
            closing.feed(next.text);
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
