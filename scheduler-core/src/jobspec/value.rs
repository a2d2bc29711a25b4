//! The values HCL expressions evaluate to.
//!
//! This mirrors the cty type system Nomad's job-spec parser uses, reduced to
//! what job files need, plus one addition: [`Value::Unknown`], a reference the
//! parser must not resolve because only the client knows its value at run time
//! (`${attr.kernel.name}`, `${NOMAD_ALLOC_INDEX}`, `${meta.rack}`). Such values
//! travel through the parser as the source text of the expression and end up in
//! the job as a literal `${...}` interpolation, as Nomad does.

use hcl::Number;
use std::collections::BTreeMap;
use std::fmt;

/// An evaluated HCL value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or floating-point number.
    Number(Number),
    /// A string.
    String(String),
    /// A tuple, list or set (sets are kept as lists without duplicates).
    List(Vec<Value>),
    /// An object or map; keys are kept sorted, as cty does, so iteration order
    /// never depends on the input's formatting.
    Object(BTreeMap<String, Value>),
    /// A value known only at run time on the client: the source text of the
    /// expression that produced it, without the surrounding `${` `}`.
    Unknown(String),
}

impl Value {
    /// A string value.
    pub fn string(text: impl Into<String>) -> Value {
        Value::String(text.into())
    }

    /// An integer value.
    pub fn int(n: i64) -> Value {
        Value::Number(Number::from(n))
    }

    /// A float value; non-finite floats become `null` because HCL has none.
    pub fn float(n: f64) -> Value {
        Number::from_f64(n).map_or(Value::Null, Value::Number)
    }

    /// The HCL type name used in error messages (`string`, `number`, `bool`,
    /// `list`, `object`, `null`, `unknown`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Object(_) => "object",
            Value::Unknown(_) => "unknown",
        }
    }

    /// Whether the value is `null`.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether the value (or anything inside it) is only known at run time.
    pub fn is_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::List(items) => items.iter().any(Value::is_unknown),
            Value::Object(map) => map.values().any(Value::is_unknown),
            _ => false,
        }
    }

    /// The string inside a `String`.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The value as an `i64`, if it is a whole number (or a string holding one,
    /// following HCL's automatic string-to-number conversion).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as an `f64` (numbers, or strings holding a number).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a bool (bools, or the strings `"true"`/`"false"`).
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s == "true" => Some(true),
            Value::String(s) if s == "false" => Some(false),
            _ => None,
        }
    }

    /// Converts a primitive value to the string HCL would produce when it is
    /// used where a string is expected: numbers print without a trailing
    /// `.0`, bools as `true`/`false`, unknown values as their `${...}`
    /// interpolation. Lists, objects and null have no string form.
    pub fn to_hcl_string(&self) -> Option<String> {
        match self {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(format_number(n)),
            Value::Bool(b) => Some(b.to_string()),
            Value::Unknown(expr) => Some(format!("${{{expr}}}")),
            Value::Null | Value::List(_) | Value::Object(_) => None,
        }
    }

    /// Converts to JSON; unknown values become their `${...}` string.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(i) => serde_json::Value::from(i),
                None => n
                    .as_f64()
                    .and_then(serde_json::Number::from_f64)
                    .map_or(serde_json::Value::Null, serde_json::Value::Number),
            },
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => {
                serde_json::Value::Array(items.iter().map(Value::to_json).collect())
            }
            Value::Object(map) => serde_json::Value::Object(
                map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            ),
            Value::Unknown(expr) => serde_json::Value::String(format!("${{{expr}}}")),
        }
    }

    /// Converts from JSON (used by `jsondecode` and `-var` values given as JSON).
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::int(i),
                None => Value::float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v)))
                    .collect(),
            ),
        }
    }
}

/// Formats a number the way HCL prints it: integers without a fraction,
/// floats with the shortest representation that round-trips.
pub fn format_number(n: &Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    match n.as_f64() {
        Some(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", f as i64),
        Some(f) => format!("{f}"),
        None => n.to_string(),
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_hcl_string() {
            Some(s) => f.write_str(&s),
            None => write!(f, "{}", self.to_json()),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::int(n)
    }
}
