//! Units and typed values for device rules: literals and fingerprinted
//! attributes become numbers (with an optional unit), strings or booleans,
//! and compare as Nomad's `Attribute.Compare` does, with the differences
//! listed in the `devices` module docs.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use crate::model::NodeDeviceAttribute;

// ---------------------------------------------------------------------------
// Units

/// What a unit measures; only units with the same base compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    Byte,
    ByteRate,
    Hertz,
    Watt,
}

/// A unit and its size in thousandths of its base (so `mW` is a whole
/// number and every conversion is an exact integer multiplication).
#[derive(Debug)]
pub(super) struct Unit {
    pub(super) name: &'static str,
    base: Base,
    pub(super) milli: i128,
}

const KI: i128 = 1 << 10;
const K: i128 = 1000;

const fn unit(name: &'static str, base: Base, factor: i128) -> Unit {
    Unit {
        name,
        base,
        milli: factor * K,
    }
}

/// Every unit, longest name first: a literal's unit is the first suffix that
/// matches, so `KiB/s` must be tried before `B/s` and `KiB` before `B`.
pub(super) const UNITS: &[Unit] = &[
    unit("KiB/s", Base::ByteRate, KI),
    unit("MiB/s", Base::ByteRate, KI.pow(2)),
    unit("GiB/s", Base::ByteRate, KI.pow(3)),
    unit("TiB/s", Base::ByteRate, KI.pow(4)),
    unit("PiB/s", Base::ByteRate, KI.pow(5)),
    unit("EiB/s", Base::ByteRate, KI.pow(6)),
    unit("kB/s", Base::ByteRate, K),
    unit("KB/s", Base::ByteRate, K),
    unit("MB/s", Base::ByteRate, K.pow(2)),
    unit("GB/s", Base::ByteRate, K.pow(3)),
    unit("TB/s", Base::ByteRate, K.pow(4)),
    unit("PB/s", Base::ByteRate, K.pow(5)),
    unit("EB/s", Base::ByteRate, K.pow(6)),
    unit("KiB", Base::Byte, KI),
    unit("MiB", Base::Byte, KI.pow(2)),
    unit("GiB", Base::Byte, KI.pow(3)),
    unit("TiB", Base::Byte, KI.pow(4)),
    unit("PiB", Base::Byte, KI.pow(5)),
    unit("EiB", Base::Byte, KI.pow(6)),
    unit("B/s", Base::ByteRate, 1),
    unit("MHz", Base::Hertz, K.pow(2)),
    unit("GHz", Base::Hertz, K.pow(3)),
    unit("kB", Base::Byte, K),
    unit("KB", Base::Byte, K),
    unit("MB", Base::Byte, K.pow(2)),
    unit("GB", Base::Byte, K.pow(3)),
    unit("TB", Base::Byte, K.pow(4)),
    unit("PB", Base::Byte, K.pow(5)),
    unit("EB", Base::Byte, K.pow(6)),
    Unit {
        name: "mW",
        base: Base::Watt,
        milli: 1,
    },
    unit("kW", Base::Watt, K),
    unit("MW", Base::Watt, K.pow(2)),
    unit("GW", Base::Watt, K.pow(3)),
    unit("B", Base::Byte, 1),
    unit("W", Base::Watt, 1),
];

/// The units device values may carry (case-sensitive), for documentation and
/// error messages.
pub const UNIT_NAMES: &[&str] = &[
    "B", "kB", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB", "EB", "EiB", "B/s",
    "kB/s", "KB/s", "KiB/s", "MB/s", "MiB/s", "GB/s", "GiB/s", "TB/s", "TiB/s", "PB/s", "PiB/s",
    "EB/s", "EiB/s", "MHz", "GHz", "mW", "W", "kW", "MW", "GW",
];

pub(super) fn lookup_unit(name: &str) -> Option<&'static Unit> {
    UNITS.iter().find(|u| u.name == name)
}

// ---------------------------------------------------------------------------
// Typed values

/// A number as written or fingerprinted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Number {
    Int(i64),
    Float(f64),
}

/// A typed value: a device attribute, a device field, or a literal.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value<'a> {
    /// A number and its unit as written (`""` for none; an unknown unit is
    /// kept for display and ignored for comparison).
    Number(Number, &'a str),
    Str(Cow<'a, str>),
    Bool(bool),
}

impl Value<'_> {
    /// The same value borrowing from `self`, so a stored literal can be used
    /// without copying its string.
    pub(super) fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Number(n, u) => Value::Number(*n, u),
            Value::Str(s) => Value::Str(Cow::Borrowed(s)),
            Value::Bool(b) => Value::Bool(*b),
        }
    }

    /// The known unit of a number; `None` for other values and unitless or
    /// unknown-unit numbers.
    fn unit(&self) -> Option<&'static Unit> {
        match self {
            Value::Number(_, u) => lookup_unit(u),
            _ => None,
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Number(n, u) => {
                match n {
                    Number::Int(i) => write!(f, "{i}")?,
                    Number::Float(x) => write!(f, "{x}")?,
                }
                if u.is_empty() {
                    Ok(())
                } else {
                    write!(f, " {u}")
                }
            }
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Nomad's `ParseAttribute`: a literal becomes an integer or float (with an
/// optional known unit suffix, spaces allowed before it), else a boolean,
/// else a string.
pub(super) fn parse_literal(text: &str) -> Value<'static> {
    let mut numeric = text;
    let mut unit = "";
    // Only a trailing letter can end a unit; `4` or `x/` have none.
    if text.chars().next_back().is_some_and(char::is_alphabetic)
        && let Some(u) = UNITS.iter().find(|u| text.ends_with(u.name))
    {
        unit = u.name;
        numeric = text[..text.len() - u.name.len()].trim();
    }
    if let Ok(i) = numeric.parse::<i64>() {
        return Value::Number(Number::Int(i), unit);
    }
    if let Ok(x) = numeric.parse::<f64>() {
        return Value::Number(Number::Float(x), unit);
    }
    if let Some(b) = parse_go_bool(text) {
        return Value::Bool(b);
    }
    Value::Str(Cow::Owned(text.to_owned()))
}

/// A fingerprinted attribute as a value. When several fields are set, the
/// first of bool, string, integer, float wins (the order Nomad picks a
/// comparator in, with integers before floats as its number comparison
/// prefers them).
pub(super) fn attribute_value(attr: &NodeDeviceAttribute) -> Option<Value<'_>> {
    if let Some(b) = attr.bool {
        Some(Value::Bool(b))
    } else if let Some(s) = &attr.string {
        Some(Value::Str(Cow::Borrowed(s)))
    } else if let Some(i) = attr.int {
        Some(Value::Number(Number::Int(i), &attr.unit))
    } else {
        attr.float
            .map(|x| Value::Number(Number::Float(x), attr.unit.as_str()))
    }
}

/// How two comparable values relate. Booleans are equal or not, never
/// ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Relation {
    Ordered(Ordering),
    Bools { equal: bool },
}

impl Relation {
    pub(super) fn is_equal(self) -> bool {
        matches!(
            self,
            Relation::Ordered(Ordering::Equal) | Relation::Bools { equal: true }
        )
    }
}

/// Compares two values (Nomad's `Attribute.Compare`), or says why they do
/// not compare.
pub(super) fn compare(a: &Value<'_>, b: &Value<'_>) -> Result<Relation, String> {
    let incomparable = |why: &str| format!("{a} and {b} do not compare ({why})");
    match (a.unit(), b.unit()) {
        (Some(ua), Some(ub)) if ua.base != ub.base => {
            return Err(incomparable("units of different kinds"));
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(incomparable("only one has a unit"));
        }
        _ => {}
    }
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => Ok(Relation::Ordered(x.as_ref().cmp(y.as_ref()))),
        (Value::Bool(x), Value::Bool(y)) => Ok(Relation::Bools { equal: x == y }),
        (Value::Number(x, _), Value::Number(y, _)) => {
            let mx = a.unit().map_or(1, |u| u.milli);
            let my = b.unit().map_or(1, |u| u.milli);
            compare_numbers(*x, mx, *y, my)
                .map(Relation::Ordered)
                .ok_or_else(|| incomparable("NaN"))
        }
        _ => Err(incomparable("different types")),
    }
}

/// Compares `x × mx` with `y × my`: exactly when both are integers and the
/// products fit in 128 bits, else as floats. `None` for NaN.
fn compare_numbers(x: Number, mx: i128, y: Number, my: i128) -> Option<Ordering> {
    if let (Number::Int(x), Number::Int(y)) = (x, y)
        && let (Some(p), Some(q)) = (i128::from(x).checked_mul(mx), i128::from(y).checked_mul(my))
    {
        return Some(p.cmp(&q));
    }
    let as_float = |n: Number, m: i128| {
        // Precision loss is fine: these are only compared, and only when the
        // exact integer path above does not apply.
        #[allow(clippy::cast_precision_loss)]
        let m = m as f64;
        match n {
            #[allow(clippy::cast_precision_loss)]
            Number::Int(i) => i as f64 * m,
            Number::Float(f) => f * m,
        }
    };
    as_float(x, mx).partial_cmp(&as_float(y, my))
}
