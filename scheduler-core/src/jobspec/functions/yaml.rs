//! `yamlencode` and `yamldecode`, on top of the `yaml-rust2` crate.
//!
//! Decoding accepts exactly one YAML 1.2 document and converts it the way
//! Terraform's `yamldecode` does: null, bools, numbers, strings, sequences
//! as lists and mappings with scalar keys as objects (keys become strings).
//! Aliases are resolved; infinities, NaN, null or collection keys and values
//! that do not match their tag (`!!int x`) are errors.
//!
//! Encoding writes block-style YAML with `yaml-rust2`'s emitter, which quotes
//! strings only where needed, writes null as `~` and indents sequences under
//! mapping keys. The result ends with a newline and has no `---` line, as
//! Terraform's `yamlencode` output does.

use super::{FunctionContext, parse_number, string_arg};
use crate::jobspec::value::{Value, format_number};
use std::collections::{BTreeMap, HashMap};
use yaml_rust2::parser::Parser;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Event, Yaml, YamlEmitter, YamlLoader};

type Res = Result<Value, String>;

/// How deeply collections may nest, when decoding and when encoding.
const MAX_DEPTH: usize = 128;

/// How many nodes aliases may expand to in one document, in total; each
/// alias copies its anchor's node ("billion laughs").
const MAX_ALIAS_NODES: usize = 100_000;

/// The longest key a YAML parser reads without an explicit `? ` marker.
const MAX_KEY_WIDTH: usize = 1024;

fn too_deep() -> String {
    format!("the YAML is nested more than {MAX_DEPTH} levels deep")
}

pub(super) fn yamldecode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    check_shape(&text)?;
    let docs = YamlLoader::load_from_str(&text).map_err(|e| format!("invalid YAML: {e}"))?;
    match docs.as_slice() {
        [doc] => from_yaml(doc, 0),
        [] => Err("the string contains no YAML document".to_owned()),
        _ => Err(multiple_documents()),
    }
}

fn multiple_documents() -> String {
    "multiple YAML documents are not supported; exactly one is required".to_owned()
}

/// The size of a node once its aliases are expanded.
#[derive(Clone, Copy)]
struct Shape {
    nodes: usize,
    /// Collections on the longest path down, the node included.
    height: usize,
}

/// Walks the parser's events without building anything and rejects input
/// that nests deeper than [`MAX_DEPTH`], that has more than one document, or
/// whose aliases expand to more than [`MAX_ALIAS_NODES`] nodes. The loader
/// recurses once per nesting level and copies every alias, so such input
/// would otherwise overflow the stack or exhaust memory inside the crate.
fn check_shape(text: &str) -> Result<(), String> {
    let mut parser = Parser::new_from_str(text);
    // The open collections: anchor id and shape so far.
    let mut open: Vec<(usize, Shape)> = Vec::new();
    let mut anchors: HashMap<usize, Shape> = HashMap::new();
    let mut aliased = 0usize;
    let mut documents = 0;
    loop {
        let (event, _) = parser
            .next_token()
            .map_err(|e| format!("invalid YAML: {e}"))?;
        let done = match event {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(multiple_documents());
                }
                None
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if open.len() >= MAX_DEPTH {
                    return Err(too_deep());
                }
                open.push((
                    anchor,
                    Shape {
                        nodes: 1,
                        height: 1,
                    },
                ));
                None
            }
            Event::SequenceEnd | Event::MappingEnd => open.pop(),
            Event::Scalar(_, _, anchor, _) => Some((
                anchor,
                Shape {
                    nodes: 1,
                    height: 0,
                },
            )),
            Event::Alias(id) => {
                // The parser rejects unknown anchors, so a missing one is
                // still open: the alias is inside its own anchor.
                let shape = *anchors.get(&id).ok_or(
                    "an alias cannot refer to its anchor from inside the anchor's own value",
                )?;
                aliased = aliased.saturating_add(shape.nodes);
                if aliased > MAX_ALIAS_NODES {
                    return Err(format!(
                        "the YAML's aliases expand to more than {MAX_ALIAS_NODES} values"
                    ));
                }
                Some((0, shape))
            }
            Event::Nothing | Event::StreamStart | Event::DocumentEnd => None,
        };
        if let Some((anchor, shape)) = done {
            if open.len() + shape.height > MAX_DEPTH {
                return Err(too_deep());
            }
            if anchor > 0 {
                anchors.insert(anchor, shape);
            }
            if let Some((_, parent)) = open.last_mut() {
                parent.nodes = parent.nodes.saturating_add(shape.nodes);
                parent.height = parent.height.max(shape.height + 1);
            }
        }
    }
}

/// Converts a loaded node; `depth` counts the enclosing collections.
fn from_yaml(yaml: &Yaml, depth: usize) -> Res {
    let inner = || {
        if depth >= MAX_DEPTH {
            Err(too_deep())
        } else {
            Ok(depth + 1)
        }
    };
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Integer(i) => Value::int(*i),
        Yaml::Real(text) => real(text)?,
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Array(items) => {
            let depth = inner()?;
            Value::List(
                items
                    .iter()
                    .map(|item| from_yaml(item, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Yaml::Hash(hash) => {
            let depth = inner()?;
            let mut map = BTreeMap::new();
            for (key, value) in hash {
                let key = key_string(key)?;
                let value = from_yaml(value, depth)?;
                if map.contains_key(&key) {
                    return Err(format!("duplicate mapping key {key:?}"));
                }
                map.insert(key, value);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) => return Err(unresolved_alias()),
        Yaml::BadValue => return Err(bad_value()),
    })
}

fn unresolved_alias() -> String {
    "unresolved YAML alias".to_owned()
}

fn bad_value() -> String {
    "a YAML value does not match its tag (as in `!!int x`)".to_owned()
}

/// A float scalar: exact integers stay exact (`18446744073709551615`),
/// everything else goes through `f64`; infinities and NaN are errors.
fn real(text: &str) -> Res {
    if let Some(n) = parse_number(text) {
        return Ok(Value::Number(n));
    }
    match Yaml::Real(text.to_owned()).into_f64() {
        Some(f) if f.is_finite() => Ok(Value::float(f)),
        Some(_) => Err(format!(
            "the YAML number {text:?} is infinite or NaN, which cannot be represented"
        )),
        None => Err(format!("invalid YAML number {text:?}")),
    }
}

/// A mapping key as an object key: scalars are converted to strings.
fn key_string(key: &Yaml) -> Result<String, String> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Integer(_) | Yaml::Real(_) | Yaml::Boolean(_) => from_yaml(key, 0)?
            .to_hcl_string()
            .ok_or_else(|| "invalid YAML mapping key".to_owned()),
        Yaml::Null => Err("YAML mapping keys cannot be null".to_owned()),
        Yaml::Array(_) | Yaml::Hash(_) => {
            Err("YAML mapping keys must be strings, numbers or bools, not collections".to_owned())
        }
        Yaml::Alias(_) => Err(unresolved_alias()),
        Yaml::BadValue => Err(bad_value()),
    }
}

pub(super) fn yamlencode(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let yaml = to_yaml(&args[0], 0)?;
    let text = emit(&yaml)?;
    Ok(Value::String(format!("{text}\n")))
}

/// The emitter's output without the `---` line it always starts with.
fn emit(yaml: &Yaml) -> Result<String, String> {
    let mut out = String::new();
    YamlEmitter::new(&mut out)
        .dump(yaml)
        .map_err(|e| format!("cannot write YAML: {e}"))?;
    Ok(match out.strip_prefix("---\n") {
        Some(body) => body.to_owned(),
        None => out,
    })
}

/// Converts a value; `depth` counts the enclosing collections.
fn to_yaml(value: &Value, depth: usize) -> Result<Yaml, String> {
    let inner = || {
        if depth >= MAX_DEPTH {
            Err(format!(
                "the value is nested more than {MAX_DEPTH} levels deep"
            ))
        } else {
            Ok(depth + 1)
        }
    };
    Ok(match value {
        Value::Null => Yaml::Null,
        Value::Bool(b) => Yaml::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Yaml::Integer(i),
            // Large integers and floats; `format_number` never writes an
            // exponent, `inf` or `nan`, so this reads back as the same number.
            None => Yaml::Real(format_number(n)),
        },
        Value::String(s) => string_node(s),
        Value::Unknown(_) => string_node(&value.to_hcl_string().unwrap_or_default()),
        Value::List(items) => {
            let depth = inner()?;
            Yaml::Array(
                items
                    .iter()
                    .map(|item| to_yaml(item, depth))
                    .collect::<Result<_, _>>()?,
            )
        }
        Value::Object(map) => {
            let depth = inner()?;
            let mut hash = Hash::new();
            for (key, item) in map {
                let key_node = string_node(key);
                // A longer implicit key is invalid YAML; the emitter has no
                // explicit (`? key`) form for scalar keys. An escape takes at
                // most six characters, so short keys need no measuring.
                if key.len() > MAX_KEY_WIDTH / 6 && emit(&key_node)?.chars().count() > MAX_KEY_WIDTH
                {
                    return Err(format!(
                        "object keys longer than {MAX_KEY_WIDTH} characters cannot be written as YAML"
                    ));
                }
                hash.insert(key_node, to_yaml(item, depth)?);
            }
            Yaml::Hash(hash)
        }
    })
}

/// A string node. The emitter leaves some strings that read back as numbers
/// unquoted (`0o17`, `+.inf`, `+-1`; yaml-rust2 issue #81), so any string
/// that would not read back as a string is written double-quoted here. Such
/// strings are short ASCII words with nothing to escape; `Yaml::Real` is the
/// node the emitter writes verbatim.
fn string_node(s: &str) -> Yaml {
    let retyped = !matches!(Yaml::from_str(s), Yaml::String(_));
    if retyped
        && s.chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
    {
        Yaml::Real(format!("\"{s}\""))
    } else {
        Yaml::String(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;
    use proptest::prelude::*;

    fn decode(text: &str) -> Result<Value, String> {
        run("yamldecode", vec![s(text)])
    }

    fn encode(v: Value) -> String {
        match run("yamlencode", vec![v]) {
            Ok(Value::String(text)) => text,
            other => panic!("yamlencode returned {other:?}"),
        }
    }

    #[test]
    fn encode_shapes() {
        let v = obj(&[
            ("bar", s("baz")),
            (
                "foo",
                list(vec![n(1), obj(&[("a", s("b")), ("c", s("d"))]), n(3)]),
            ),
        ]);
        assert_eq!(
            encode(v),
            "bar: baz\nfoo:\n  - 1\n  - a: b\n    c: d\n  - 3\n"
        );
        let nested = obj(&[
            ("a", obj(&[("b", list(vec![])), ("c", obj(&[]))])),
            ("l", list(vec![strs(&["x", "y"])])),
        ]);
        let out = "a:\n  b: []\n  c: {}\nl:\n  - - x\n    - \"y\"\n";
        assert_eq!(encode(nested.clone()), out);
        assert_eq!(decode(out), Ok(nested));
        assert_eq!(encode(s("a\"\n\u{1}")), "\"a\\\"\\n\\u0001\"\n");
        assert_eq!(encode(Value::Null), "~\n");
        assert_eq!(encode(Value::Bool(true)), "true\n");
        assert_eq!(encode(Value::float(0.5)), "0.5\n");
        assert_eq!(encode(Value::Unknown("x.y".into())), "\"${x.y}\"\n");
        // Strings that would read back as something else are quoted.
        assert_eq!(
            encode(strs(&["true", "12", "0o17", "+.inf", "", "~"])),
            "- \"true\"\n- \"12\"\n- \"0o17\"\n- \"+.inf\"\n- \"\"\n- \"~\"\n"
        );
        assert_eq!(encode(obj(&[("1", n(1))])), "\"1\": 1\n");
    }

    #[test]
    fn encode_limits() {
        let mut deep = Value::Null;
        for _ in 0..200 {
            deep = list(vec![deep]);
        }
        fails("yamlencode", vec![deep], "nested more than 128");
        let long = "k".repeat(2000);
        fails(
            "yamlencode",
            vec![obj(&[(&long, n(1))])],
            "longer than 1024",
        );
        let fits = "k".repeat(1000);
        let v = obj(&[(&fits, n(1))]);
        assert_eq!(decode(&encode(v.clone())), Ok(v));
    }

    #[test]
    fn round_trip() {
        let tricky = [
            "0o17",
            "+.inf",
            "-.inf",
            ".nan",
            "+-1",
            "0x1F",
            "1e5",
            "1_000",
            "true",
            "False",
            "null",
            "~",
            "",
            " x ",
            "a: b",
            "- x",
            "#c",
            "x #c",
            "[a]",
            "{a}",
            "&a",
            "*a",
            "!t",
            "|",
            ">",
            "%x",
            "@x",
            "`x",
            "'q'",
            "\"q\"",
            "a\\b",
            "line\nline\n",
            "\t",
            "\r\n",
            "é \u{1F914}",
            "\u{85}\u{2028}",
            "---",
            "...",
            "? x",
            "yes",
            "2001-12-14",
        ];
        let v = obj(&[
            ("strings", strs(&tricky)),
            (
                "keys",
                Value::Object(tricky.iter().map(|t| (t.to_string(), n(1))).collect()),
            ),
            (
                "numbers",
                list(vec![
                    n(i64::MIN),
                    n(i64::MAX),
                    Value::Number(u64::MAX.into()),
                    Value::float(0.1),
                    Value::float(-1e-300),
                    Value::float(1e300),
                    Value::float(f64::MAX),
                ]),
            ),
            (
                "nested",
                list(vec![
                    list(vec![]),
                    obj(&[]),
                    Value::Null,
                    Value::Bool(false),
                    list(vec![obj(&[("a", list(vec![obj(&[("b", Value::Null)])]))])]),
                ]),
            ),
        ]);
        assert_eq!(decode(&encode(v.clone())), Ok(v));
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
        assert_eq!(decode(text), Ok(want));
        assert_eq!(decode("---\n"), Ok(Value::Null));
        assert_eq!(decode("~"), Ok(Value::Null));
        assert_eq!(decode("hello\n  world"), Ok(s("hello world")));
        assert_eq!(
            decode("- - a\n  - b\n- c"),
            Ok(list(vec![strs(&["a", "b"]), s("c")]))
        );
        assert_eq!(
            decode("\"a b\": \"x\\ty\\u00e9\""),
            Ok(obj(&[("a b", s("x\tyé"))]))
        );
        assert_eq!(
            decode("{1: a, 2.50: b, true: c, k}"),
            Ok(obj(&[
                ("1", s("a")),
                ("2.5", s("b")),
                ("k", Value::Null),
                ("true", s("c"))
            ]))
        );
        assert_eq!(
            decode("base: &b {x: 1}\nuse: *b\ns: !!str 12\n"),
            Ok(obj(&[
                ("base", obj(&[("x", n(1))])),
                ("s", s("12")),
                ("use", obj(&[("x", n(1))])),
            ]))
        );
        assert_eq!(
            decode("[18446744073709551615, 1e3, -0.25]"),
            Ok(list(vec![
                Value::Number(u64::MAX.into()),
                n(1000),
                Value::float(-0.25)
            ]))
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
        assert_eq!(decode(text), Ok(want));
    }

    #[test]
    fn decode_errors() {
        fails(
            "yamldecode",
            vec![s("a: 1\n---\nb: 2")],
            "multiple YAML documents",
        );
        fails(
            "yamldecode",
            vec![s("---\n---\n")],
            "multiple YAML documents",
        );
        fails("yamldecode", vec![s("")], "no YAML document");
        fails(
            "yamldecode",
            vec![s("# only a comment\n")],
            "no YAML document",
        );
        fails("yamldecode", vec![s("a: *x")], "invalid YAML");
        fails("yamldecode", vec![s("- &a [1, *a]")], "own value");
        fails(
            "yamldecode",
            vec![s("a: !!int x")],
            "does not match its tag",
        );
        fails("yamldecode", vec![s("a: 1\n  b: 2")], "invalid YAML");
        fails("yamldecode", vec![s("a: [1, 2")], "invalid YAML");
        fails("yamldecode", vec![s("a: \"x")], "invalid YAML");
        fails("yamldecode", vec![s("a: 1\na: 2")], "duplicated key");
        fails(
            "yamldecode",
            vec![s("{1: a, \"1\": b}")],
            "duplicate mapping key",
        );
        fails("yamldecode", vec![s("{[1]: 2}")], "not collections");
        fails("yamldecode", vec![s("null: 1")], "cannot be null");
        fails("yamldecode", vec![s("a: .inf")], "infinite or NaN");
        fails("yamldecode", vec![s("a: !!float -.INF")], "infinite or NaN");
        fails("yamldecode", vec![s("1e400")], "infinite or NaN");
        fails("yamldecode", vec![list(vec![])], "must be a string");
    }

    #[test]
    fn decode_limits() {
        let flow = |depth: usize| format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        assert!(decode(&flow(128)).is_ok());
        fails("yamldecode", vec![s(&flow(129))], "nested more than 128");
        // The scanner stops flow nesting at 255 levels itself.
        fails("yamldecode", vec![s(&flow(300))], "recursion limit");
        // Block nesting is not limited by the scanner; the loader would
        // recurse once per level.
        let block = format!("{}x", "- ".repeat(100_000));
        fails("yamldecode", vec![s(&block)], "nested more than 128");
        // An alias whose anchor is deep enough pushes past the limit too.
        let anchored = format!("a: &a {}\nb: [*a]", flow(127));
        fails("yamldecode", vec![s(&anchored)], "nested more than 128");
        // "Billion laughs": each level repeats the previous one ten times.
        let mut laughs = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n".to_owned();
        for i in 1..9 {
            let refs = vec![format!("*l{}", i - 1); 10].join(", ");
            laughs.push_str(&format!("l{i}: &l{i} [{refs}]\n"));
        }
        fails(
            "yamldecode",
            vec![s(&laughs)],
            "aliases expand to more than",
        );
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::int),
            any::<u64>().prop_map(|u| Value::Number(u.into())),
            any::<f64>().prop_map(Value::float),
            "[ -~\\n\\t\u{e9}\u{85}\u{1F914}]{0,12}".prop_map(Value::String),
            "[-+.0-9a-fox~]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                proptest::collection::btree_map("[ -~\\n]{0,4}", inner, 0..4)
                    .prop_map(Value::Object),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        #[test]
        fn decode_inverts_encode(v in value()) {
            prop_assert_eq!(decode(&encode(v.clone())), Ok(v));
        }
    }
}
