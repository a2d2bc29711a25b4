//! The scalar half of `yamldecode`: quoted strings, plain scalar typing and
//! flow collections (`[a, b]`, `{k: v}`).

use super::parse_number;
use super::yaml_decode::MAX_DEPTH;
use crate::jobspec::value::Value;
use hcl::Number;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

/// The byte just past the closing quote of the quoted scalar starting `text`.
pub(super) fn quoted_end(text: &str, q: char) -> Option<usize> {
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

pub(super) fn unquote(text: &str, line: usize) -> Result<String, String> {
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

/// Tracks, line by line, whether a flow collection or quoted scalar that
/// may span lines is complete: every `[`/`{` closed and no quote open.
#[derive(Debug, Default)]
pub(super) struct Closing {
    depth: i64,
    quote: Option<char>,
    escaped: bool,
}

impl Closing {
    pub(super) fn feed(&mut self, text: &str) {
        for c in text.chars() {
            match self.quote {
                Some('"') if self.escaped => self.escaped = false,
                Some('"') if c == '\\' => self.escaped = true,
                Some(q) if c == q => self.quote = None,
                Some(_) => {}
                None => match c {
                    '"' | '\'' => self.quote = Some(c),
                    '[' | '{' => self.depth += 1,
                    ']' | '}' => self.depth -= 1,
                    _ => {}
                },
            }
        }
    }

    pub(super) fn complete(&self) -> bool {
        self.depth <= 0 && self.quote.is_none()
    }
}

/// Gives a plain scalar its type: null, bool, number or string.
pub(super) fn resolve_plain(text: &str, line: usize) -> Res {
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
pub(super) struct Flow {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
    line: usize,
}

impl Flow {
    /// Parses a complete flow collection; `depth` is the nesting so far.
    pub(super) fn parse(text: &str, depth: usize, line: usize) -> Res {
        let mut flow = Flow {
            chars: text.chars().collect(),
            pos: 0,
            depth,
            line,
        };
        let v = flow.value()?;
        flow.skip_space();
        match flow.chars.get(flow.pos) {
            None => Ok(v),
            Some(c) => Err(format!(
                "line {line}: unexpected {c:?} after a flow collection"
            )),
        }
    }

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
            let mut i = self.pos + 1;
            loop {
                match self.chars.get(i) {
                    None => return Err(self.err("an unterminated quoted string")),
                    Some('\\') if q == '"' => i += 2,
                    Some(&c) if c == q && q == '\'' && self.chars.get(i + 1) == Some(&'\'') => {
                        i += 2
                    }
                    Some(&c) if c == q => break,
                    Some(_) => i += 1,
                }
            }
            let text: String = self.chars[self.pos..=i].iter().collect();
            self.pos = i + 1;
            return unquote(&text, self.line).map(Value::String);
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
