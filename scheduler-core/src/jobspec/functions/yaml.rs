//! `yamlencode` and `yamldecode` without a YAML library.
//!
//! The encoder writes block-style YAML with every string double-quoted, like
//! cty's encoder. The decoder reads the YAML people write in configuration
//! files: block mappings and sequences (including `- key: value` items),
//! flow collections, plain/single/double-quoted scalars (multi-line too),
//! literal and folded block scalars, and comments. Anchors, aliases, tags,
//! complex keys and multiple documents are reported as unsupported.

use super::{FunctionContext, string_arg};
use crate::jobspec::value::{Value, format_number};

type Res = Result<Value, String>;

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
    super::yaml_decode::decode(&text)
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
