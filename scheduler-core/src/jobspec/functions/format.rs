//! `format` and `formatlist`: printf-style formatting with the verbs cty
//! supports (`%v %#v %t %b %d %o %x %X %e %E %f %g %G %s %q`), flags
//! (`space + - # 0`), width, precision and explicit `[n]` argument indexes.

use super::{FunctionContext, check_string_len, number_to_i128, string_arg, to_number, to_string};
use crate::jobspec::value::Value;

type Res = Result<Value, String>;

/// Width and precision above this are refused rather than padded.
const MAX_WIDTH: usize = 1_000_000;

pub(super) fn format(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let spec = string_arg(&args, 0)?;
    format_values(&spec, &args[1..]).map(Value::String)
}

/// `formatlist(format, args...)`: list arguments are iterated together (they
/// must have equal lengths), other arguments repeat on every iteration.
pub(super) fn formatlist(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let spec = string_arg(&args, 0)?;
    let rest = &args[1..];
    let mut len: Option<(usize, usize)> = None;
    for (i, arg) in rest.iter().enumerate() {
        if let Value::List(items) = arg {
            match len {
                None => len = Some((items.len(), i)),
                Some((l, first)) if l != items.len() => {
                    return Err(format!(
                        "argument {} has length {}, which is inconsistent with argument {} of length {l}",
                        i + 2,
                        items.len(),
                        first + 2
                    ));
                }
                Some(_) => {}
            }
        }
    }
    let iterations = len.map_or(1, |(l, _)| l);
    let mut out = Vec::with_capacity(iterations);
    let mut total = 0usize;
    for iteration in 0..iterations {
        let row: Vec<Value> = rest
            .iter()
            .map(|arg| match arg {
                Value::List(items) => items.get(iteration).cloned().unwrap_or(Value::Null),
                other => other.clone(),
            })
            .collect();
        let text = format_values(&spec, &row)
            .map_err(|e| format!("error on format iteration {iteration}: {e}"))?;
        total = total.saturating_add(text.len());
        check_string_len(total)?;
        out.push(Value::String(text));
    }
    Ok(Value::List(out))
}

#[derive(Debug, Default)]
struct Verb {
    plus: bool,
    minus: bool,
    sharp: bool,
    zero: bool,
    space: bool,
    width: Option<usize>,
    precision: Option<usize>,
    mode: char,
    raw: String,
    offset: usize,
}

fn read_number(chars: &[char], pos: &mut usize) -> Option<usize> {
    let start = *pos;
    let mut value: usize = 0;
    while let Some(d) = chars.get(*pos).and_then(|c| c.to_digit(10)) {
        value = value.saturating_mul(10).saturating_add(d as usize);
        *pos += 1;
    }
    (*pos > start).then_some(value)
}

/// Formats `vals` according to `spec`; every value must be used.
pub(crate) fn format_values(spec: &str, vals: &[Value]) -> Result<String, String> {
    let chars: Vec<char> = spec.chars().collect();
    let mut out = String::new();
    let mut next_arg = 0usize;
    let mut highest = 0usize;
    let mut i = 0;
    while i < chars.len() {
        if chars[i] != '%' {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        if chars.get(i) == Some(&'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut verb = Verb {
            offset: start,
            ..Verb::default()
        };
        while let Some(&c) = chars.get(i) {
            match c {
                '+' => verb.plus = true,
                '-' => verb.minus = true,
                '#' => verb.sharp = true,
                '0' => verb.zero = true,
                ' ' => verb.space = true,
                _ => break,
            }
            i += 1;
        }
        if chars.get(i) == Some(&'[') {
            i += 1;
            let n = read_number(&chars, &mut i);
            if chars.get(i) != Some(&']') || n.is_none_or(|n| n == 0) {
                return Err(format!(
                    "invalid argument index in format sequence at offset {start}"
                ));
            }
            i += 1;
            next_arg = n.unwrap_or(1) - 1;
        }
        verb.width = read_number(&chars, &mut i);
        if chars.get(i) == Some(&'.') {
            i += 1;
            verb.precision = Some(read_number(&chars, &mut i).unwrap_or(0));
        }
        if verb.width.unwrap_or(0) > MAX_WIDTH || verb.precision.unwrap_or(0) > MAX_WIDTH {
            return Err(format!(
                "width or precision at offset {start} is larger than {MAX_WIDTH}"
            ));
        }
        let Some(&mode) = chars.get(i) else {
            return Err(format!("incomplete format sequence at offset {start}"));
        };
        i += 1;
        verb.mode = mode;
        verb.raw = chars[start..i].iter().collect();
        let Some(arg) = vals.get(next_arg) else {
            return Err(format!(
                "not enough arguments for {:?} at offset {start}: need argument {} but have {} in total",
                verb.raw,
                next_arg + 1,
                vals.len()
            ));
        };
        next_arg += 1;
        highest = highest.max(next_arg);
        let piece = format_one(&verb, arg)?;
        out.push_str(&piece);
        check_string_len(out.len())?;
    }
    if highest < vals.len() {
        return Err(if highest == 0 {
            "too many arguments; the format string has no verbs".to_owned()
        } else {
            format!("too many arguments; only {highest} used by the format string")
        });
    }
    Ok(out)
}

fn format_one(verb: &Verb, arg: &Value) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "unsupported value for {:?} at offset {}: {why}",
            verb.raw, verb.offset
        )
    };
    if verb.mode != 'v' && arg.is_null() {
        return Err(bad("a null value cannot be formatted"));
    }
    match verb.mode {
        'v' => Ok(pad(verb, as_is(verb, arg))),
        't' => match arg.as_bool() {
            Some(b) => Ok(pad(verb, b.to_string())),
            None => Err(bad(&format!("a bool is required, got {}", arg.type_name()))),
        },
        'b' | 'd' | 'o' | 'x' | 'X' => {
            let n = to_number(arg)
                .ok_or_else(|| bad(&format!("a number is required, got {}", arg.type_name())))?;
            let i = number_to_i128(&n).ok_or_else(|| bad("an integer is required"))?;
            Ok(format_integer(verb, i))
        }
        'e' | 'E' | 'f' | 'g' | 'G' => {
            let n = to_number(arg)
                .ok_or_else(|| bad(&format!("a number is required, got {}", arg.type_name())))?;
            Ok(format_float(verb, n.as_f64().unwrap_or(0.0)))
        }
        's' | 'q' => {
            let text = to_string(arg)
                .ok_or_else(|| bad(&format!("a string is required, got {}", arg.type_name())))?;
            let text: String = match verb.precision {
                Some(p) if p > 0 => text.chars().take(p).collect(),
                _ => text,
            };
            let text = if verb.mode == 'q' {
                json_quote(&text)
            } else {
                text
            };
            Ok(pad(verb, text))
        }
        other => Err(format!(
            "unsupported format verb {other:?} in {:?} at offset {}",
            verb.raw, verb.offset
        )),
    }
}

/// `%v`: strings as-is, numbers like `%g`, everything else (and `%#v`) as JSON.
fn as_is(verb: &Verb, arg: &Value) -> String {
    if !verb.sharp {
        match arg {
            Value::String(s) => return s.clone(),
            Value::Number(n) => return go_g(n.as_f64().unwrap_or(0.0), None, false, false),
            _ => {}
        }
    }
    json_string(arg)
}

/// JSON text the way cty writes it (HTML-sensitive characters escaped).
pub(crate) fn json_string(v: &Value) -> String {
    escape_html(&serde_json::to_string(&v.to_json()).unwrap_or_else(|_| "null".to_owned()))
}

fn json_quote(s: &str) -> String {
    escape_html(&serde_json::to_string(s).unwrap_or_default())
}

fn escape_html(json: &str) -> String {
    json.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn pad(verb: &Verb, text: String) -> String {
    let Some(width) = verb.width else { return text };
    let len = text.chars().count();
    if len >= width {
        return text;
    }
    let fill = if verb.zero { "0" } else { " " }.repeat(width - len);
    if verb.minus {
        text + &fill
    } else {
        fill + &text
    }
}

fn sign_of(verb: &Verb, negative: bool) -> &'static str {
    if negative {
        "-"
    } else if verb.plus {
        "+"
    } else if verb.space {
        " "
    } else {
        ""
    }
}

/// Lays out sign, prefix and digits in a field the way Go pads numbers:
/// `-` pads right, `0` pads with zeros after the sign, otherwise spaces left.
fn layout(verb: &Verb, sign: &str, prefix: &str, digits: &str, zeros_allowed: bool) -> String {
    let body_len = sign.len() + prefix.len() + digits.chars().count();
    let width = verb.width.unwrap_or(0);
    let gap = width.saturating_sub(body_len);
    if gap == 0 {
        return format!("{sign}{prefix}{digits}");
    }
    if verb.minus {
        format!("{sign}{prefix}{digits}{}", " ".repeat(gap))
    } else if verb.zero && zeros_allowed {
        format!("{sign}{prefix}{}{digits}", "0".repeat(gap))
    } else {
        format!("{}{sign}{prefix}{digits}", " ".repeat(gap))
    }
}

fn format_integer(verb: &Verb, value: i128) -> String {
    let magnitude = value.unsigned_abs();
    let mut digits = match verb.mode {
        'b' => format!("{magnitude:b}"),
        'o' => format!("{magnitude:o}"),
        'x' => format!("{magnitude:x}"),
        'X' => format!("{magnitude:X}"),
        _ => magnitude.to_string(),
    };
    let prefix = match (verb.sharp, verb.mode) {
        (true, 'b') => "0b",
        (true, 'o') => "0",
        (true, 'x') => "0x",
        (true, 'X') => "0X",
        _ => "",
    };
    if let Some(p) = verb.precision {
        if p == 0 && magnitude == 0 {
            digits.clear();
        } else if digits.len() < p {
            digits = "0".repeat(p - digits.len()) + &digits;
        }
    }
    let sign = sign_of(verb, value < 0);
    layout(verb, sign, prefix, &digits, verb.precision.is_none())
}

fn format_float(verb: &Verb, value: f64) -> String {
    let negative = value.is_sign_negative() && value != 0.0;
    let magnitude = value.abs();
    let upper = matches!(verb.mode, 'E' | 'G');
    let digits = match verb.mode {
        'f' => format!("{magnitude:.*}", verb.precision.unwrap_or(6)),
        'e' | 'E' => go_e(magnitude, verb.precision.unwrap_or(6), upper),
        _ => go_g(magnitude, verb.precision, upper, verb.sharp),
    };
    layout(verb, sign_of(verb, negative), "", &digits, true)
}

/// Go's `%e`: mantissa with `prec` decimals and an exponent of at least two
/// digits (`1.500000e+06`).
fn go_e(x: f64, prec: usize, upper: bool) -> String {
    let text = format!("{x:.prec$e}");
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let sign = if exp < 0 { '-' } else { '+' };
    let e = if upper { 'E' } else { 'e' };
    format!("{mantissa}{e}{sign}{:02}", exp.unsigned_abs())
}

/// Go's `%g`: shortest representation when `prec` is `None`, otherwise
/// `prec` significant digits; exponent form for small or large exponents.
fn go_g(x: f64, prec: Option<usize>, upper: bool, sharp: bool) -> String {
    let negative = x.is_sign_negative() && x != 0.0;
    let x = x.abs();
    // Decimal digits and exponent (value = 0.d1d2d3... * 10^point).
    let sci = match prec {
        None => format!("{x:e}"),
        Some(p) => format!("{x:.*e}", p.max(1) - 1),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !sharp {
        while digits.len() > 1 && digits.ends_with('0') {
            digits.pop();
        }
    }
    let eprec: i64 = match prec {
        None => 6,
        Some(p) => {
            let p = p.max(1) as i64;
            let nd = digits.len() as i64;
            if p > nd && nd > exp { nd } else { p }
        }
    };
    let sign = if negative { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        let mut m = digits[..1].to_owned();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let e = if upper { 'E' } else { 'e' };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}{e}{esign}{:02}", exp.unsigned_abs());
    }
    // Fixed notation: place the decimal point after exp+1 digits.
    let point = exp + 1;
    let body = if point <= 0 {
        format!("0.{}{digits}", "0".repeat(point.unsigned_abs() as usize))
    } else {
        let point = point as usize;
        if digits.len() <= point {
            format!("{digits}{}", "0".repeat(point - digits.len()))
        } else {
            format!("{}.{}", &digits[..point], &digits[point..])
        }
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    fn fmt(spec: &str, args: Vec<Value>) -> Result<Value, String> {
        let mut all = vec![s(spec)];
        all.extend(args);
        run("format", all)
    }

    #[test]
    fn strings_and_defaults() {
        assert_eq!(fmt("Hello, %s!", vec![s("Ander")]), Ok(s("Hello, Ander!")));
        assert_eq!(
            fmt("%v %v %v", vec![s("a"), n(3), Value::Bool(true)]),
            Ok(s("a 3 true"))
        );
        assert_eq!(fmt("%#v", vec![s("a\"b")]), Ok(s("\"a\\\"b\"")));
        assert_eq!(
            fmt("%v", vec![list(vec![n(1), s("<")])]),
            Ok(s("[1,\"\\u003c\"]"))
        );
        assert_eq!(fmt("%v", vec![Value::Null]), Ok(s("null")));
        assert_eq!(fmt("%q", vec![s("hi")]), Ok(s("\"hi\"")));
        assert_eq!(
            fmt("%5s|%-5s|%.2s", vec![s("ab"), s("cd"), s("xyz")]),
            Ok(s("   ab|cd   |xy"))
        );
        assert_eq!(fmt("100%%", vec![]), Ok(s("100%")));
        assert_eq!(fmt("%t", vec![s("true")]), Ok(s("true")));
        assert_eq!(fmt("%[2]s %[1]s %s", vec![s("a"), s("b")]), Ok(s("b a b")));
    }

    #[test]
    fn numbers() {
        assert_eq!(fmt("%d", vec![n(-42)]), Ok(s("-42")));
        assert_eq!(
            fmt("%05d|%+d|% d|%-4d|", vec![n(42), n(42), n(42), n(7)]),
            Ok(s("00042|+42| 42|7   |"))
        );
        assert_eq!(
            fmt("%x %X %o %b %#x", vec![n(255), n(255), n(8), n(5), n(255)]),
            Ok(s("ff FF 10 101 0xff"))
        );
        assert_eq!(fmt("%.3d", vec![n(7)]), Ok(s("007")));
        assert_eq!(fmt("%d", vec![s("12")]), Ok(s("12")));
        assert_eq!(fmt("%f", vec![Value::float(1.23456)]), Ok(s("1.234560")));
        assert_eq!(fmt("%.2f", vec![Value::float(1.23456)]), Ok(s("1.23")));
        assert_eq!(
            fmt("%8.2f|", vec![Value::float(-1.23456)]),
            Ok(s("   -1.23|"))
        );
        assert_eq!(fmt("%e", vec![n(1_500_000)]), Ok(s("1.500000e+06")));
        assert_eq!(
            fmt(
                "%g %g %g",
                vec![Value::float(0.5), n(100_000), n(1_000_000)]
            ),
            Ok(s("0.5 100000 1e+06"))
        );
        assert_eq!(
            fmt("%v %v", vec![Value::float(1e-5), Value::float(123.456)]),
            Ok(s("1e-05 123.456"))
        );
        assert_eq!(
            fmt("%.3g %G", vec![Value::float(1.23456), Value::float(1e-7)]),
            Ok(s("1.23 1E-07"))
        );
    }

    #[test]
    fn errors() {
        fails(
            "format",
            vec![s("%d"), Value::float(1.5)],
            "an integer is required",
        );
        fails("format", vec![s("%d"), s("x")], "a number is required");
        fails("format", vec![s("%s")], "not enough arguments");
        fails("format", vec![s("%s"), s("a"), s("b")], "only 1 used");
        fails("format", vec![s("hi"), s("a")], "no verbs");
        fails("format", vec![s("%z"), s("a")], "unsupported format verb");
        fails("format", vec![s("%s"), Value::Null], "null value");
        fails("format", vec![s("%")], "incomplete format sequence");
        fails("format", vec![s("%[0]s"), s("a")], "invalid argument index");
        fails("format", vec![s("%999999999s"), s("a")], "larger than");
        fails("format", vec![list(vec![])], "argument 1 must be a string");
    }

    #[test]
    fn formatlist_iterates_lists() {
        assert_eq!(
            run(
                "formatlist",
                vec![s("Hello, %s!"), strs(&["Valentina", "Ander"])]
            ),
            Ok(strs(&["Hello, Valentina!", "Hello, Ander!"]))
        );
        assert_eq!(
            run("formatlist", vec![s("%s=%s"), s("k"), strs(&["a", "b"])]),
            Ok(strs(&["k=a", "k=b"]))
        );
        assert_eq!(run("formatlist", vec![s("x")]), Ok(strs(&["x"])));
        assert_eq!(
            run("formatlist", vec![s("%s"), list(vec![])]),
            Ok(list(vec![]))
        );
        fails(
            "formatlist",
            vec![s("%s%s"), strs(&["a"]), strs(&["a", "b"])],
            "inconsistent",
        );
        fails(
            "formatlist",
            vec![s("%d"), strs(&["a"])],
            "error on format iteration 0",
        );
    }
}
