//! Numeric functions. Whole numbers stay exact where they fit in 64 bits;
//! everything else is computed in `f64`, and results that are not finite
//! (HCL has no infinities) are errors.

use super::{
    FunctionContext, f64_arg, float_value, int_arg, list_arg, number_arg, number_to_i128,
    to_number, truncate,
};
use crate::jobspec::value::Value;
use hcl::Number;
use std::cmp::Ordering;

type Res = Result<Value, String>;

fn from_i128(i: i128) -> Option<Value> {
    if let Ok(v) = i64::try_from(i) {
        return Some(Value::int(v));
    }
    u64::try_from(i)
        .ok()
        .map(|u| Value::Number(Number::from(u)))
}

pub(super) fn abs(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let n = number_arg(&args, 0)?;
    if let Some(v) = n.as_i64().and_then(i64::checked_abs) {
        return Ok(Value::int(v));
    }
    if n.as_u64().is_some() {
        return Ok(Value::Number(n));
    }
    float_value(n.as_f64().unwrap_or(0.0).abs())
}

pub(super) fn ceil(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let n = number_arg(&args, 0)?;
    if n.is_f64() {
        float_value(n.as_f64().unwrap_or(0.0).ceil())
    } else {
        Ok(Value::Number(n))
    }
}

pub(super) fn floor(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let n = number_arg(&args, 0)?;
    if n.is_f64() {
        float_value(n.as_f64().unwrap_or(0.0).floor())
    } else {
        Ok(Value::Number(n))
    }
}

/// `log(number, base)`.
pub(super) fn log(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let x = f64_arg(&args, 0)?;
    let base = f64_arg(&args, 1)?;
    float_value(x.ln() / base.ln())
}

/// `pow(number, power)`.
pub(super) fn pow(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let x = number_arg(&args, 0)?;
    let power = number_arg(&args, 1)?;
    if let (Some(b), Some(e)) = (x.as_i64(), power.as_u64())
        && let Some(v) = u32::try_from(e).ok().and_then(|e| b.checked_pow(e))
    {
        return Ok(Value::int(v));
    }
    float_value(
        x.as_f64()
            .unwrap_or(0.0)
            .powf(power.as_f64().unwrap_or(0.0)),
    )
}

/// `signum(number)`: -1, 0 or 1.
pub(super) fn signum(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let x = f64_arg(&args, 0)?;
    Ok(Value::int(match x.partial_cmp(&0.0) {
        Some(Ordering::Less) => -1,
        Some(Ordering::Greater) => 1,
        _ => 0,
    }))
}

fn extreme(args: &[Value], want: Ordering) -> Res {
    let mut best = number_arg(args, 0)?;
    for i in 1..args.len() {
        let n = number_arg(args, i)?;
        if n.partial_cmp(&best) == Some(want) {
            best = n;
        }
    }
    Ok(Value::Number(best))
}

pub(super) fn max(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    extreme(&args, Ordering::Greater)
}

pub(super) fn min(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    extreme(&args, Ordering::Less)
}

/// `sum(list)`: exact for whole numbers while they fit, `f64` otherwise.
pub(super) fn sum(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let items = list_arg(&args, 0)?;
    if items.is_empty() {
        return Err("cannot sum an empty list".to_owned());
    }
    let mut exact: Option<i128> = Some(0);
    let mut float = 0.0f64;
    for (j, item) in items.iter().enumerate() {
        let n = to_number(item).ok_or_else(|| {
            format!(
                "argument 1 must be a list of numbers, but element {j} is {}",
                item.type_name()
            )
        })?;
        exact = exact.and_then(|acc| {
            number_to_i128(&n)
                .filter(|_| !n.is_f64())
                .and_then(|i| acc.checked_add(i))
        });
        float += n.as_f64().unwrap_or(0.0);
    }
    match exact.and_then(from_i128) {
        Some(v) => Ok(v),
        None => float_value(float),
    }
}

fn digit_value(c: char, base: u32) -> Option<u32> {
    let v = match c {
        '0'..='9' => c as u32 - '0' as u32,
        'a'..='z' => c as u32 - 'a' as u32 + 10,
        'A'..='Z' if base <= 36 => c as u32 - 'A' as u32 + 10,
        'A'..='Z' => c as u32 - 'A' as u32 + 36,
        _ => return None,
    };
    (v < base).then_some(v)
}

/// `parseint(string, base)`: bases 2 to 62; for bases above 36 lowercase
/// letters come before uppercase ones.
pub(super) fn parseint(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let Value::String(text) = &args[0] else {
        return Err(format!(
            "argument 1 must be a string, got {}",
            args[0].type_name()
        ));
    };
    let base = int_arg(&args, 1)?;
    let base = u32::try_from(base)
        .ok()
        .filter(|b| (2..=62).contains(b))
        .ok_or_else(|| "the base must be a whole number between 2 and 62".to_owned())?;
    let bad = || format!("cannot parse {:?} as a base {base} integer", truncate(text));
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    if digits.is_empty() {
        return Err(bad());
    }
    let mut value: i128 = 0;
    for c in digits.chars() {
        let d = digit_value(c, base).ok_or_else(bad)?;
        value = value
            .checked_mul(i128::from(base))
            .and_then(|v| v.checked_add(i128::from(d)))
            .ok_or_else(|| format!("{:?} is too large a number", truncate(text)))?;
    }
    let value = if negative { -value } else { value };
    from_i128(value).ok_or_else(|| format!("{:?} is too large a number", truncate(text)))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn abs_ceil_floor_signum() {
        assert_eq!(run("abs", vec![n(-23)]), Ok(n(23)));
        assert_eq!(
            run("abs", vec![Value::float(-12.4)]),
            Ok(Value::float(12.4))
        );
        assert_eq!(
            run("abs", vec![n(i64::MIN)]),
            Ok(Value::float(9.223_372_036_854_776e18))
        );
        fails(
            "abs",
            vec![s("x")],
            "must be a number, got the string \"x\"",
        );
        assert_eq!(run("ceil", vec![Value::float(4.1)]), Ok(n(5)));
        assert_eq!(run("ceil", vec![s("5")]), Ok(n(5)));
        fails("ceil", vec![list(vec![])], "must be a number, got list");
        assert_eq!(run("floor", vec![Value::float(-4.1)]), Ok(n(-5)));
        fails("floor", vec![Value::Null], "got null");
        assert_eq!(run("signum", vec![n(-13)]), Ok(n(-1)));
        assert_eq!(run("signum", vec![n(0)]), Ok(n(0)));
        assert_eq!(run("signum", vec![Value::float(0.5)]), Ok(n(1)));
        fails("signum", vec![Value::Bool(true)], "got bool");
    }

    #[test]
    fn log_and_pow() {
        assert_eq!(run("log", vec![n(16), n(2)]), Ok(n(4)));
        fails("log", vec![n(0), n(10)], "not a finite number");
        fails("log", vec![n(1), s("e")], "argument 2 must be a number");
        assert_eq!(run("pow", vec![n(3), n(2)]), Ok(n(9)));
        assert_eq!(run("pow", vec![n(4), Value::float(0.5)]), Ok(n(2)));
        assert_eq!(run("pow", vec![n(2), n(-1)]), Ok(Value::float(0.5)));
        fails("pow", vec![n(10), n(400)], "not a finite number");
    }

    #[test]
    fn max_min_sum() {
        assert_eq!(run("max", vec![n(12), n(54), n(3)]), Ok(n(54)));
        assert_eq!(
            run("min", vec![n(12), Value::float(-1.5), s("3")]),
            Ok(Value::float(-1.5))
        );
        fails("max", vec![n(1), s("a")], "argument 2 must be a number");
        fails("min", vec![], "at least 1 argument");
        assert_eq!(run("sum", vec![list(vec![n(1), n(2), s("3")])]), Ok(n(6)));
        assert_eq!(
            run("sum", vec![list(vec![n(1), Value::float(0.5)])]),
            Ok(Value::float(1.5))
        );
        assert_eq!(
            run("sum", vec![list(vec![n(i64::MAX), n(i64::MAX)])]),
            Ok(Value::Number(hcl::Number::from(u64::MAX - 1)))
        );
        fails("sum", vec![list(vec![])], "empty list");
        fails("sum", vec![list(vec![Value::Null])], "element 0 is null");
    }

    #[test]
    fn parseint_bases() {
        assert_eq!(run("parseint", vec![s("100"), n(10)]), Ok(n(100)));
        assert_eq!(run("parseint", vec![s("FF"), n(16)]), Ok(n(255)));
        assert_eq!(run("parseint", vec![s("-1010"), n(2)]), Ok(n(-10)));
        assert_eq!(run("parseint", vec![s("aA"), n(62)]), Ok(n(10 * 62 + 36)));
        fails(
            "parseint",
            vec![s("12"), n(2)],
            "cannot parse \"12\" as a base 2 integer",
        );
        fails("parseint", vec![s(""), n(10)], "cannot parse");
        fails(
            "parseint",
            vec![n(12), n(10)],
            "argument 1 must be a string, got number",
        );
        fails("parseint", vec![s("1"), n(63)], "between 2 and 62");
        fails("parseint", vec![s(&"z".repeat(40)), n(36)], "too large");
    }
}
