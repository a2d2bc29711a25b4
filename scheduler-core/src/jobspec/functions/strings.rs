//! String functions: case, trimming, splitting and joining, substrings and
//! regular expressions.
//!
//! Where cty counts grapheme clusters (`strlen`, `substr`, `strrev`) these
//! count Unicode scalar values, which agree for everything but combining
//! sequences.

use super::{
    FunctionContext, check_string_len, int_arg, list_arg, string_arg, to_string, truncate,
};
use crate::jobspec::value::Value;
use regex::Regex;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

pub(super) fn upper(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(string_arg(&args, 0)?.to_uppercase()))
}

pub(super) fn lower(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(string_arg(&args, 0)?.to_lowercase()))
}

/// Whether `c` separates words for `title`, as Go's `strings.Title` decides.
fn is_word_separator(c: char) -> bool {
    if c.is_ascii() {
        return !(c.is_ascii_alphanumeric() || c == '_');
    }
    if c.is_alphabetic() || c.is_numeric() {
        return false;
    }
    c.is_whitespace()
}

pub(super) fn title(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let mut out = String::with_capacity(text.len());
    let mut prev_separator = true;
    for c in text.chars() {
        if prev_separator {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        prev_separator = is_word_separator(c);
    }
    Ok(Value::String(out))
}

pub(super) fn chomp(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    Ok(Value::string(text.trim_end_matches(['\r', '\n'])))
}

pub(super) fn indent(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let spaces = int_arg(&args, 0)?;
    let text = string_arg(&args, 1)?;
    let spaces =
        usize::try_from(spaces).map_err(|_| "argument 1 must not be negative".to_owned())?;
    let lines = text.matches('\n').count();
    if lines == 0 {
        return Ok(Value::String(text));
    }
    check_string_len(lines.saturating_mul(spaces).saturating_add(text.len()))?;
    let pad = format!("\n{}", " ".repeat(spaces));
    Ok(Value::String(text.replace('\n', &pad)))
}

pub(super) fn trim(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let cutset = string_arg(&args, 1)?;
    Ok(Value::string(text.trim_matches(|c| cutset.contains(c))))
}

pub(super) fn trimprefix(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let prefix = string_arg(&args, 1)?;
    Ok(Value::string(
        text.strip_prefix(prefix.as_str()).unwrap_or(&text),
    ))
}

pub(super) fn trimsuffix(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let suffix = string_arg(&args, 1)?;
    Ok(Value::string(
        text.strip_suffix(suffix.as_str()).unwrap_or(&text),
    ))
}

pub(super) fn trimspace(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::string(string_arg(&args, 0)?.trim()))
}

pub(super) fn strrev(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::String(string_arg(&args, 0)?.chars().rev().collect()))
}

pub(super) fn strlen(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let count = string_arg(&args, 0)?.chars().count();
    Ok(Value::int(i64::try_from(count).unwrap_or(i64::MAX)))
}

pub(super) fn startswith(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(
        string_arg(&args, 0)?.starts_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn endswith(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(
        string_arg(&args, 0)?.ends_with(&string_arg(&args, 1)?),
    ))
}

pub(super) fn strcontains(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(
        string_arg(&args, 0)?.contains(&string_arg(&args, 1)?),
    ))
}

/// `substr(str, offset, length)`: a negative offset counts from the end, a
/// negative length takes the rest of the string; out-of-range requests give
/// whatever part of the string they cover.
pub(super) fn substr(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let mut offset = int_arg(&args, 1)?;
    let length = int_arg(&args, 2)?;
    let total = i64::try_from(text.chars().count()).unwrap_or(i64::MAX);
    if offset < 0 {
        offset = offset.saturating_add(total).max(0);
    } else if length == 0 {
        return Ok(Value::string(""));
    }
    let rest = text
        .chars()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX));
    let out: String = match usize::try_from(length) {
        Ok(length) => rest.take(length).collect(),
        Err(_) => rest.collect(),
    };
    Ok(Value::String(out))
}

/// `split(separator, str)`; an empty separator splits between characters.
pub(super) fn split(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let sep = string_arg(&args, 0)?;
    let text = string_arg(&args, 1)?;
    let parts: Vec<Value> = if sep.is_empty() {
        text.chars().map(|c| Value::String(c.to_string())).collect()
    } else {
        text.split(sep.as_str()).map(Value::string).collect()
    };
    Ok(Value::List(parts))
}

/// `join(separator, lists...)`.
pub(super) fn join(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let sep = string_arg(&args, 0)?;
    if args.len() < 2 {
        return Err("at least one list is required".to_owned());
    }
    let mut items = Vec::new();
    for i in 1..args.len() {
        let list = list_arg(&args, i).map_err(|_| {
            format!(
                "argument {} must be a list of strings, got {}",
                i + 1,
                args[i].type_name()
            )
        })?;
        for (j, item) in list.iter().enumerate() {
            let text = to_string(item).ok_or_else(|| match item {
                Value::Null => format!(
                    "element {j} of argument {} is null; cannot join null values",
                    i + 1
                ),
                _ => format!(
                    "argument {} must be a list of strings, but element {j} is {}",
                    i + 1,
                    item.type_name()
                ),
            })?;
            items.push(text);
        }
    }
    let total = items
        .iter()
        .map(String::len)
        .fold(sep.len().saturating_mul(items.len()), usize::saturating_add);
    check_string_len(total)?;
    Ok(Value::String(items.join(&sep)))
}

fn compile(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| {
        let detail = e.to_string();
        let last = detail.lines().last().unwrap_or("").trim();
        format!("invalid regular expression {:?}: {last}", truncate(pattern))
    })
}

/// Replaces every match of `re` in `text`, with `$1`/`${name}` expansion.
fn regex_replace_all(re: &Regex, text: &str, replacement: &str) -> Res {
    let mut out = String::new();
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        // An expansion is at most the replacement with every `$n` standing
        // for the whole match; refuse before building something enormous.
        let bound = replacement
            .len()
            .saturating_mul(whole.len().saturating_add(1));
        check_string_len(
            out.len()
                .saturating_add(bound)
                .saturating_add(whole.start() - last),
        )?;
        out.push_str(&text[last..whole.start()]);
        caps.expand(replacement, &mut out);
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(Value::String(out))
}

/// `replace(str, substr, replacement)`; a `substr` wrapped in slashes is a
/// regular expression.
pub(super) fn replace(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let search = string_arg(&args, 1)?;
    let replacement = string_arg(&args, 2)?;
    if search.len() > 1 && search.starts_with('/') && search.ends_with('/') {
        let re = compile(&search[1..search.len() - 1])?;
        return regex_replace_all(&re, &text, &replacement);
    }
    let count = if search.is_empty() {
        text.chars().count() + 1
    } else {
        text.matches(search.as_str()).count()
    };
    check_string_len(
        text.len()
            .saturating_add(count.saturating_mul(replacement.len())),
    )?;
    Ok(Value::String(text.replace(search.as_str(), &replacement)))
}

/// `regex_replace(str, pattern, replacement)`: the pattern is always a regex.
pub(super) fn regex_replace(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 0)?;
    let re = compile(&string_arg(&args, 1)?)?;
    let replacement = string_arg(&args, 2)?;
    regex_replace_all(&re, &text, &replacement)
}

/// How a pattern's captures are returned.
enum Shape {
    /// No capture groups: the whole match as a string.
    Whole,
    /// Unnamed groups: a list of the captures.
    List,
    /// Named groups: an object of the captures.
    Object,
}

fn shape(re: &Regex) -> Result<Shape, String> {
    let names: Vec<Option<&str>> = re.capture_names().skip(1).collect();
    if names.is_empty() {
        Ok(Shape::Whole)
    } else if names.iter().all(Option::is_some) {
        Ok(Shape::Object)
    } else if names.iter().all(Option::is_none) {
        Ok(Shape::List)
    } else {
        Err("the pattern mixes named and unnamed capture groups".to_owned())
    }
}

fn captures_value(re: &Regex, shape: &Shape, caps: &regex::Captures<'_>) -> Value {
    let text = |m: Option<regex::Match<'_>>| m.map_or(Value::Null, |m| Value::string(m.as_str()));
    match shape {
        Shape::Whole => text(caps.get(0)),
        Shape::List => Value::List((1..caps.len()).map(|i| text(caps.get(i))).collect()),
        Shape::Object => Value::Object(
            re.capture_names()
                .flatten()
                .map(|name| (name.to_owned(), text(caps.name(name))))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

/// `regex(pattern, str)`: the first match, shaped by the pattern's groups.
pub(super) fn regex(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let re = compile(&string_arg(&args, 0)?)?;
    let text = string_arg(&args, 1)?;
    let shape = shape(&re)?;
    let caps = re
        .captures(&text)
        .ok_or_else(|| "the pattern did not match any part of the given string".to_owned())?;
    Ok(captures_value(&re, &shape, &caps))
}

/// `regexall(pattern, str)`: every match, each shaped as `regex` shapes one.
pub(super) fn regexall(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let re = compile(&string_arg(&args, 0)?)?;
    let text = string_arg(&args, 1)?;
    let shape = shape(&re)?;
    Ok(Value::List(
        re.captures_iter(&text)
            .map(|caps| captures_value(&re, &shape, &caps))
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn case_functions() {
        assert_eq!(run("upper", vec![s("héllo")]), Ok(s("HÉLLO")));
        assert_eq!(run("lower", vec![s("HeLLo")]), Ok(s("hello")));
        assert_eq!(run("upper", vec![n(12)]), Ok(s("12")));
        assert_eq!(
            run("title", vec![s("hello wORLD-foo_bar ünï")]),
            Ok(s("Hello WORLD-Foo_bar Ünï"))
        );
        fails(
            "upper",
            vec![list(vec![])],
            "argument 1 must be a string, got list",
        );
        fails("lower", vec![Value::Null], "got null");
        fails("title", vec![obj(&[])], "got object");
    }

    #[test]
    fn trimming() {
        assert_eq!(run("chomp", vec![s("hello\r\n\n")]), Ok(s("hello")));
        assert_eq!(run("chomp", vec![s("a\nb")]), Ok(s("a\nb")));
        assert_eq!(run("trim", vec![s("?!hello?!"), s("!?")]), Ok(s("hello")));
        assert_eq!(
            run("trimprefix", vec![s("helloworld"), s("hello")]),
            Ok(s("world"))
        );
        assert_eq!(run("trimprefix", vec![s("hello"), s("x")]), Ok(s("hello")));
        assert_eq!(
            run("trimsuffix", vec![s("helloworld"), s("world")]),
            Ok(s("hello"))
        );
        assert_eq!(run("trimspace", vec![s("\t hi \n")]), Ok(s("hi")));
        fails("chomp", vec![list(vec![])], "must be a string");
        fails(
            "trim",
            vec![s("a"), list(vec![])],
            "argument 2 must be a string",
        );
        fails("trimprefix", vec![Value::Null, s("")], "argument 1");
        fails("trimsuffix", vec![s(""), obj(&[])], "argument 2");
        fails("trimspace", vec![Value::Null], "argument 1");
    }

    #[test]
    fn indent_pads_all_but_first_line() {
        assert_eq!(
            run("indent", vec![n(2), s("a\nb\nc")]),
            Ok(s("a\n  b\n  c"))
        );
        assert_eq!(run("indent", vec![n(i64::MAX), s("a")]), Ok(s("a")));
        fails("indent", vec![n(-1), s("a")], "must not be negative");
        fails(
            "indent",
            vec![n(1_000_000_000), s(&"\n".repeat(100))],
            "longer than",
        );
    }

    #[test]
    fn lengths_and_reversal() {
        assert_eq!(run("strlen", vec![s("héllo")]), Ok(n(5)));
        assert_eq!(run("strrev", vec![s("héllo")]), Ok(s("olléh")));
        fails("strlen", vec![list(vec![])], "must be a string");
        fails("strrev", vec![Value::Null], "must be a string");
    }

    #[test]
    fn prefix_suffix_contains() {
        assert_eq!(
            run("startswith", vec![s("hello"), s("he")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run("startswith", vec![s("hello"), s("")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run("endswith", vec![s("hello"), s("he")]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            run("strcontains", vec![s("hello"), s("ll")]),
            Ok(Value::Bool(true))
        );
        fails("startswith", vec![s("a"), list(vec![])], "argument 2");
        fails("endswith", vec![Value::Null, s("a")], "argument 1");
        fails("strcontains", vec![obj(&[]), s("a")], "argument 1");
    }

    #[test]
    fn substr_handles_negative_and_out_of_range() {
        assert_eq!(
            run("substr", vec![s("hello world"), n(1), n(4)]),
            Ok(s("ello"))
        );
        assert_eq!(run("substr", vec![s("🤔🤷"), n(0), n(1)]), Ok(s("🤔")));
        assert_eq!(
            run("substr", vec![s("hello world"), n(-5), n(-1)]),
            Ok(s("world"))
        );
        assert_eq!(run("substr", vec![s("hello"), n(-50), n(2)]), Ok(s("he")));
        assert_eq!(run("substr", vec![s("hello"), n(10), n(2)]), Ok(s("")));
        assert_eq!(
            run("substr", vec![s("hello"), n(i64::MIN), n(i64::MAX)]),
            Ok(s("hello"))
        );
        fails(
            "substr",
            vec![s("hello"), Value::float(1.5), n(1)],
            "argument 2 must be a whole number",
        );
    }

    #[test]
    fn split_and_join() {
        assert_eq!(
            run("split", vec![s(","), s("a,b,,c")]),
            Ok(strs(&["a", "b", "", "c"]))
        );
        assert_eq!(run("split", vec![s(","), s("")]), Ok(strs(&[""])));
        assert_eq!(run("split", vec![s(""), s("ab")]), Ok(strs(&["a", "b"])));
        fails(
            "split",
            vec![list(vec![]), s("a")],
            "argument 1 must be a string",
        );
        assert_eq!(
            run("join", vec![s("-"), strs(&["a", "b"]), list(vec![n(1)])]),
            Ok(s("a-b-1"))
        );
        assert_eq!(run("join", vec![s("-"), list(vec![])]), Ok(s("")));
        fails("join", vec![s("-")], "at least one list");
        fails(
            "join",
            vec![s("-"), n(1)],
            "argument 2 must be a list of strings, got number",
        );
        fails("join", vec![s("-"), list(vec![Value::Null])], "null");
        fails(
            "join",
            vec![s("-"), list(vec![list(vec![])])],
            "element 0 is list",
        );
    }

    #[test]
    fn replace_literal_and_regex() {
        assert_eq!(
            run("replace", vec![s("1 + 2 + 3"), s("+"), s("-")]),
            Ok(s("1 - 2 - 3"))
        );
        assert_eq!(
            run(
                "replace",
                vec![s("hello world"), s("/w.*d/"), s("everybody")]
            ),
            Ok(s("hello everybody"))
        );
        assert_eq!(
            run("replace", vec![s("abc"), s(""), s("-")]),
            Ok(s("-a-b-c-"))
        );
        assert_eq!(run("replace", vec![s("a/b"), s("/"), s("_")]), Ok(s("a_b")));
        fails(
            "replace",
            vec![s("x"), s("/(/"), s("")],
            "invalid regular expression",
        );
        assert_eq!(
            run(
                "regex_replace",
                vec![s("-ab-axxb-"), s("a(x*)b"), s("${1}W")]
            ),
            Ok(s("-W-xxW-"))
        );
        assert_eq!(
            run("regex_replace", vec![s("-ab-axxb-"), s("a(x*)b"), s("$1W")]),
            Ok(s("---"))
        );
        fails(
            "regex_replace",
            vec![s("x"), s("[a-"), s("")],
            "invalid regular expression",
        );
    }

    #[test]
    fn regex_shapes_results_by_groups() {
        assert_eq!(run("regex", vec![s("[a-z]+"), s("53ab")]), Ok(s("ab")));
        assert_eq!(
            run("regex", vec![s("(\\d\\d\\d\\d)-(\\d\\d)"), s("2019-02-01")]),
            Ok(strs(&["2019", "02"]))
        );
        assert_eq!(
            run(
                "regex",
                vec![s("(?P<y>\\d+)-(?P<m>\\d+)(?P<z>x)?"), s("2019-02")]
            ),
            Ok(obj(&[("m", s("02")), ("y", s("2019")), ("z", Value::Null)]))
        );
        fails("regex", vec![s("[a-z]+"), s("123")], "did not match");
        fails(
            "regex",
            vec![s("(a)(?P<b>b)"), s("ab")],
            "mixes named and unnamed",
        );
        assert_eq!(
            run("regexall", vec![s("[a-z]+"), s("1a2bc")]),
            Ok(strs(&["a", "bc"]))
        );
        assert_eq!(run("regexall", vec![s("x"), s("abc")]), Ok(list(vec![])));
        fails(
            "regexall",
            vec![s("("), s("abc")],
            "invalid regular expression",
        );
    }
}
