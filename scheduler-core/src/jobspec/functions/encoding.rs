//! Encoding functions: base64, JSON, CSV and URL query escaping.

use super::format::json_string;
use super::{FunctionContext, string_arg, truncate};
use crate::jobspec::value::Value;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

pub(super) fn base64encode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(STANDARD.encode(string_arg(&args, 0)?)))
}

/// `base64decode(string)`: the decoded bytes must be UTF-8 text.
pub(super) fn base64decode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let cleaned: String = text.chars().filter(|c| *c != '\r' && *c != '\n').collect();
    let bytes = STANDARD
        .decode(cleaned.as_bytes())
        .map_err(|e| format!("failed to decode base64 data {:?}: {e}", truncate(&text)))?;
    String::from_utf8(bytes)
        .map(Value::String)
        .map_err(|_| "the decoded data is not valid UTF-8 text".to_owned())
}

/// `jsonencode(value)`: compact JSON with `<`, `>` and `&` escaped, as cty
/// writes it.
pub(super) fn jsonencode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(json_string(&args[0])))
}

pub(super) fn jsondecode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("invalid JSON: {e}"))?;
    Ok(Value::from_json(&json))
}

/// `urlencode(string)`: query escaping as Go's `url.QueryEscape` does it
/// (spaces become `+`).
pub(super) fn urlencode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(Value::String(out))
}

/// `csvdecode(string)`: RFC 4180 CSV whose first line names the columns;
/// gives a list of objects, one per following line.
pub(super) fn csvdecode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let mut records = parse_csv(&text)?.into_iter();
    let header = records
        .next()
        .ok_or_else(|| "missing the header line".to_owned())?;
    let mut rows = Vec::new();
    for (i, record) in records.enumerate() {
        if record.len() != header.len() {
            return Err(format!(
                "record {} has {} fields but the header has {}",
                i + 2,
                record.len(),
                header.len()
            ));
        }
        let row: BTreeMap<String, Value> = header
            .iter()
            .cloned()
            .zip(record.into_iter().map(Value::String))
            .collect();
        rows.push(Value::Object(row));
    }
    Ok(Value::List(rows))
}

/// Splits CSV text into records of fields. Empty lines are skipped; a quote
/// inside an unquoted field or after a closing quote is an error.
fn parse_csv(text: &str) -> Result<Vec<Vec<String>>, String> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        // Skip blank lines.
        if matches!(chars.peek(), Some('\n' | '\r')) {
            if chars.next() == Some('\n') {
                line += 1;
            }
            continue;
        }
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                        None => return Err(format!("unterminated quoted field on line {line}")),
                    }
                }
                if !matches!(chars.peek(), None | Some(',' | '\n' | '\r')) {
                    return Err(format!(
                        "unexpected character after a quoted field on line {line}"
                    ));
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if matches!(c, ',' | '\n' | '\r') {
                        break;
                    }
                    if c == '"' {
                        return Err(format!("bare '\"' in an unquoted field on line {line}"));
                    }
                    field.push(c);
                    chars.next();
                }
            }
            record.push(field);
            match chars.next() {
                Some(',') => {}
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push(record);
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn base64() {
        assert_eq!(
            run("base64encode", vec![s("Hello World")]),
            Ok(s("SGVsbG8gV29ybGQ="))
        );
        assert_eq!(
            run("base64decode", vec![s("SGVsbG8gV29ybGQ=")]),
            Ok(s("Hello World"))
        );
        fails(
            "base64decode",
            vec![s("not base64!")],
            "failed to decode base64",
        );
        fails("base64decode", vec![s("/w==")], "not valid UTF-8");
        fails("base64encode", vec![list(vec![])], "must be a string");
    }

    #[test]
    fn json() {
        let v = obj(&[
            ("a", list(vec![n(1), Value::Bool(true), Value::Null])),
            ("b", s("<&>")),
        ]);
        assert_eq!(
            run("jsonencode", vec![v.clone()]),
            Ok(s(r#"{"a":[1,true,null],"b":"\u003c\u0026\u003e"}"#))
        );
        assert_eq!(run("jsonencode", vec![Value::Null]), Ok(s("null")));
        assert_eq!(
            run("jsondecode", vec![s(r#"{"a":[1,true,null],"b":"<&>"}"#)]),
            Ok(v)
        );
        assert_eq!(run("jsondecode", vec![s("1.5")]), Ok(Value::float(1.5)));
        fails("jsondecode", vec![s("{")], "invalid JSON");
        fails("jsondecode", vec![s(&"[".repeat(1000))], "invalid JSON");
    }

    #[test]
    fn urlencode() {
        assert_eq!(
            run("urlencode", vec![s("Hello World!")]),
            Ok(s("Hello+World%21"))
        );
        assert_eq!(
            run("urlencode", vec![s("☃ a/b?c=d")]),
            Ok(s("%E2%98%83+a%2Fb%3Fc%3Dd"))
        );
        fails("urlencode", vec![obj(&[])], "must be a string");
    }

    #[test]
    fn csv() {
        let text = "a,b,c\n1,\"2,x\",\"say \"\"hi\"\"\"\r\n\n4,5,6\n";
        assert_eq!(
            run("csvdecode", vec![s(text)]),
            Ok(list(vec![
                obj(&[("a", s("1")), ("b", s("2,x")), ("c", s("say \"hi\""))]),
                obj(&[("a", s("4")), ("b", s("5")), ("c", s("6"))]),
            ]))
        );
        assert_eq!(run("csvdecode", vec![s("a,b")]), Ok(list(vec![])));
        fails("csvdecode", vec![s("")], "missing the header");
        fails(
            "csvdecode",
            vec![s("a,b\n1")],
            "record 2 has 1 fields but the header has 2",
        );
        fails("csvdecode", vec![s("a\n\"x")], "unterminated quoted field");
        fails("csvdecode", vec![s("a\nx\"y")], "bare");
    }
}
