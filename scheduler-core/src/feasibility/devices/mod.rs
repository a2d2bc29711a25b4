//! Device requests: which nodes can serve them and which instances an
//! allocation gets (Nomad's `DeviceChecker`, `nodeDeviceMatches` and
//! `deviceAllocator.createOffer`).
//!
//! A [`DeviceRequestMatcher`] is built once per evaluation from a
//! [`RequestedDevice`]: the name is split, constraint and affinity rules are
//! parsed, and literal regular expressions and version constraints are
//! compiled, so checking many nodes compiles nothing.
//!
//! - [`DeviceRequestMatcher::check_node`] is node-level feasibility: some
//!   device group on the node matches the request's name and constraints and
//!   has at least `count` healthy instances, whatever other allocations hold.
//! - [`assign_devices`] is the fit: it gives every request of every task of
//!   one allocation instances that are healthy and free, preferring the group
//!   with the best affinity score.
//!
//! # Names
//!
//! A request name is `<type>`, `<vendor>/<type>` or `<vendor>/<type>/<model>`
//! (split on the first two `/`, so a model may contain `/`). A group matches
//! when every part the request gives equals the group's; an empty part
//! (`/gpu`) matches anything, as in Nomad.
//!
//! # Targets and values
//!
//! Rules use `${device.vendor}`, `${device.type}`, `${device.model}`,
//! `${device.ids}` (every instance id of the group, comma-separated) and
//! `${device.attr.<name>}`. Anything else that starts with `${` never
//! resolves. Any other text is a literal, read as Nomad's `ParseAttribute`
//! does: an integer, else a float, each with an optional unit suffix (`4 GiB`,
//! `4GiB`, `1.5GHz`), else a boolean (Go's `ParseBool`: `true`, `t`, `1`...
//! after the numbers), else a string.
//!
//! Values are typed: numbers compare numerically after converting units to
//! their base (bytes, bytes per second, hertz, watts), strings lexically,
//! booleans only for equality. Numbers with units of different bases, a
//! number with a known unit against one without, and values of different
//! types are not comparable: no comparison holds between them, not even
//! `!=` (which only holds without comparing when exactly one side is
//! missing). A node attribute whose unit is not one of
//! [`UNIT_NAMES`] counts as unitless.
//!
//! # Operators
//!
//! | Operator | A group matches when |
//! |---|---|
//! | `=`, `==`, `is` (or empty) | both sides resolve and compare equal |
//! | `!=`, `not` | exactly one side resolves, or both do and are comparable and differ |
//! | `<` `<=` `>` `>=` | both resolve and are comparable and ordered so (not booleans) |
//! | `regexp` | the left side is a string matching the expression (unanchored) |
//! | `set_contains`, `set_contains_all` | the left side is a string whose comma-separated, trimmed items include every right item |
//! | `set_contains_any` | ... include at least one right item |
//! | `version`, `semver` | the left side (a string or integer) satisfies the constraint (see [`super::version_match`]) |
//! | `is_set` / `is_not_set` | the left side does / does not resolve |
//! | `distinct_hosts`, `distinct_property` | always (validation rejects them here) |
//!
//! For `regexp`, `set_contains*`, `version` and `semver` a literal is used as
//! written; a resolved right side must be a string.
//!
//! `${device.ids}` in a constraint also filters instances: an instance is
//! only usable when the constraint holds with `${device.ids}` standing for
//! that one id, where `set_contains` and `set_contains_all` mean "the id is
//! one of the listed ids" (so `${device.ids} set_contains "GPU-1,GPU-2"`
//! allows exactly those two instances).
//!
//! # Where we differ from Nomad, deliberately
//!
//! - A literal compared with a string value is a string as written
//!   (`${device.model} = 1080` matches a model named `1080`); Nomad parses it
//!   as a number first, which then never equals a string.
//! - A literal on the right of `regexp`, `set_contains*`, `version` or
//!   `semver` is used as written; Nomad first parses it as a typed value, so
//!   `regexp "10"` or `version "1.2"` (a number, not a string) never match.
//! - Booleans only support `=` and `!=`; Nomad makes `>` true and `<` false
//!   for any two different booleans.
//! - Integer comparisons with units are exact (`1500 mW > 1 W`); Nomad
//!   divides integers by inverse multipliers and truncates. `B` and `B/s` are
//!   accepted units.
//! - Instances excluded by a `${device.ids}` constraint are not counted, in
//!   feasibility nor in fit; Nomad counts them and may then offer fewer
//!   instances than asked.
//! - Groups are tried in id order and a tie in affinity goes to the first;
//!   instance ids are given in ascending (byte) order. Nomad iterates Go
//!   maps.
//! - The allocation's affinity score is the mean of its requests' scores
//!   (see [`DeviceAssignment::affinity_score`]); Nomad pools the weights of
//!   all requests (Σ matched / Σ|weight|).
//! - A request for 0 instances is rejected when the matcher is built; Nomad
//!   lets it through feasibility and fails it when offering devices.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use regex::Regex;

use super::version_match::{GoVersionConstraints, SemverConstraints};
use crate::model::{
    AllocatedDeviceResource, ConstraintOperator, Node, NodeDeviceAttribute, NodeDeviceResource,
    RequestedDevice,
};

#[cfg(test)]
mod tests;

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
struct Unit {
    name: &'static str,
    base: Base,
    milli: i128,
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
const UNITS: &[Unit] = &[
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

fn lookup_unit(name: &str) -> Option<&'static Unit> {
    UNITS.iter().find(|u| u.name == name)
}

// ---------------------------------------------------------------------------
// Typed values

/// A number as written or fingerprinted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Number {
    Int(i64),
    Float(f64),
}

/// A typed value: a device attribute, a device field, or a literal.
#[derive(Debug, Clone, PartialEq)]
enum Value<'a> {
    /// A number and its unit as written (`""` for none; an unknown unit is
    /// kept for display and ignored for comparison).
    Number(Number, &'a str),
    Str(Cow<'a, str>),
    Bool(bool),
}

impl Value<'_> {
    /// The same value borrowing from `self`, so a stored literal can be used
    /// without copying its string.
    fn reborrow(&self) -> Value<'_> {
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
fn parse_literal(text: &str) -> Value<'static> {
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
fn attribute_value(attr: &NodeDeviceAttribute) -> Option<Value<'_>> {
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
enum Relation {
    Ordered(Ordering),
    Bools { equal: bool },
}

impl Relation {
    fn is_equal(self) -> bool {
        matches!(
            self,
            Relation::Ordered(Ordering::Equal) | Relation::Bools { equal: true }
        )
    }
}

/// Compares two values (Nomad's `Attribute.Compare`), or says why they do
/// not compare.
fn compare(a: &Value<'_>, b: &Value<'_>) -> Result<Relation, String> {
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

// ---------------------------------------------------------------------------
// Targets and rules

/// One side of a device rule, parsed once.
#[derive(Debug, Clone)]
enum Target {
    /// Text not starting with `${`: its typed value, and the text as written
    /// for the operators that read text.
    Literal {
        text: String,
        value: Value<'static>,
    },
    Vendor,
    Type,
    Model,
    Ids,
    Attr(String),
    /// An interpolation that is not a device target; never resolves.
    Unknown(String),
}

impl Target {
    fn parse(text: &str) -> Target {
        if !text.starts_with("${") {
            return Target::Literal {
                text: text.to_owned(),
                value: parse_literal(text),
            };
        }
        match text {
            "${device.vendor}" => Target::Vendor,
            "${device.type}" => Target::Type,
            "${device.model}" => Target::Model,
            "${device.ids}" => Target::Ids,
            _ => match text.strip_prefix("${device.attr.") {
                // As Nomad: strip the prefix and a trailing `}` if present.
                Some(rest) => Target::Attr(rest.strip_suffix('}').unwrap_or(rest).to_owned()),
                None => Target::Unknown(text.to_owned()),
            },
        }
    }

    /// The value on a group; `instance` stands in for `${device.ids}` when
    /// filtering instances.
    fn resolve<'a>(
        &'a self,
        group: &'a NodeDeviceResource,
        instance: Option<&'a str>,
    ) -> Option<Value<'a>> {
        let text = |s: &'a str| Some(Value::Str(Cow::Borrowed(s)));
        match self {
            Target::Literal { value, .. } => Some(value.reborrow()),
            Target::Vendor => text(&group.vendor),
            Target::Type => text(&group.device_type),
            Target::Model => text(&group.name),
            Target::Ids => match instance {
                Some(id) => text(id),
                None => Some(Value::Str(Cow::Owned(
                    group
                        .instances
                        .iter()
                        .map(|d| d.id.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                ))),
            },
            Target::Attr(name) => group.attributes.get(name).and_then(attribute_value),
            Target::Unknown(_) => None,
        }
    }

    /// Why the side did not resolve on a group.
    fn unresolved(&self, group: &NodeDeviceResource) -> String {
        match self {
            Target::Attr(name) => format!("{} has no attribute {name:?}", group.id()),
            Target::Unknown(text) => format!(
                "{text} is not a device target (use ${{device.vendor}}, ${{device.type}}, \
                 ${{device.model}}, ${{device.ids}} or ${{device.attr.<name>}})"
            ),
            // Literals and device fields always resolve.
            _ => "it is not set".to_owned(),
        }
    }

    /// The side as text, for `regexp`, `set_contains*`, `version` and
    /// `semver`: a literal as written, a resolved string, or (when
    /// `int_ok`, for versions, as Nomad formats them) an integer.
    fn text<'a>(
        &'a self,
        resolved: Option<&Value<'a>>,
        group: &NodeDeviceResource,
        int_ok: bool,
    ) -> Result<Cow<'a, str>, String> {
        if let Target::Literal { text, .. } = self {
            return Ok(Cow::Borrowed(text));
        }
        match resolved {
            None => Err(self.unresolved(group)),
            Some(Value::Str(s)) => Ok(s.clone()),
            Some(Value::Number(Number::Int(i), _)) if int_ok => Ok(Cow::Owned(i.to_string())),
            Some(other) => Err(format!("{other} is not a string")),
        }
    }
}

/// The check an operator makes; a literal regular expression or version
/// constraint is compiled once (`Some`), an interpolated one per group.
#[derive(Debug, Clone)]
enum Check {
    Equal,
    NotEqual,
    Order(ConstraintOperator),
    Regexp(Option<Regex>),
    SetContainsAll,
    SetContainsAny,
    Version(Option<GoVersionConstraints>),
    Semver(Option<SemverConstraints>),
    IsSet,
    IsNotSet,
    Always,
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("regular expression {pattern:?} does not compile: {e}"))
}

/// Compiles `text` now when it is a literal; `None` means "per group".
fn prepare<T>(
    r_target: &str,
    compile: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    if r_target.starts_with("${") {
        Ok(None)
    } else {
        compile(r_target).map(Some)
    }
}

/// A device constraint or affinity rule, parsed and compiled.
#[derive(Debug, Clone)]
struct Rule {
    /// As written: `${device.attr.memory} >= 10 GiB`.
    rendered: String,
    left: Target,
    right: Target,
    check: Check,
}

impl Rule {
    fn new(l_target: &str, operand: &str, r_target: &str) -> Result<Rule, String> {
        let rendered = {
            let op = if operand.is_empty() { "=" } else { operand };
            if r_target.is_empty() {
                format!("{l_target} {op}")
            } else {
                format!("{l_target} {op} {r_target}")
            }
        };
        let with_rule = |e: String| format!("`{rendered}`: {e}");
        let op = ConstraintOperator::parse(operand)
            .ok_or_else(|| with_rule(format!("unknown operator {operand:?}")))?;
        use ConstraintOperator as Op;
        let check = match op {
            Op::Equal | Op::DoubleEqual | Op::Is => Check::Equal,
            Op::NotEqual | Op::Not => Check::NotEqual,
            Op::Less | Op::LessEqual | Op::Greater | Op::GreaterEqual => Check::Order(op),
            Op::Regexp => Check::Regexp(prepare(r_target, compile_regex).map_err(with_rule)?),
            Op::SetContains | Op::SetContainsAll => Check::SetContainsAll,
            Op::SetContainsAny => Check::SetContainsAny,
            Op::Version => {
                Check::Version(prepare(r_target, GoVersionConstraints::parse).map_err(with_rule)?)
            }
            Op::Semver => {
                Check::Semver(prepare(r_target, SemverConstraints::parse).map_err(with_rule)?)
            }
            Op::IsSet => Check::IsSet,
            Op::IsNotSet => Check::IsNotSet,
            Op::DistinctHosts | Op::DistinctProperty => Check::Always,
        };
        Ok(Rule {
            rendered,
            left: Target::parse(l_target),
            right: Target::parse(r_target),
            check,
        })
    }

    /// Whether `${device.ids}` is one side, so the rule also filters
    /// instances.
    fn mentions_ids(&self) -> bool {
        matches!(self.left, Target::Ids) || matches!(self.right, Target::Ids)
    }

    /// The rule as applied to one instance: `${device.ids}` will stand for
    /// the instance id, and "the ids contain all of these" becomes "the id
    /// is one of these", which is what a user listing ids means.
    fn for_instance(&self) -> Rule {
        let mut rule = self.clone();
        if matches!(rule.left, Target::Ids) && matches!(rule.check, Check::SetContainsAll) {
            rule.check = Check::SetContainsAny;
        }
        rule
    }

    /// `Ok` when the rule holds on `group` (with `${device.ids}` as
    /// `instance` when given), else why not.
    fn check(&self, group: &NodeDeviceResource, instance: Option<&str>) -> Result<(), String> {
        let mut left = self.left.resolve(group, instance);
        let mut right = self.right.resolve(group, instance);
        // A literal compared with a string is the text as written: `1080`
        // against a model named "1080" is a string, not a number.
        if let (Target::Literal { text, .. }, Some(Value::Str(_))) = (&self.left, &right) {
            left = Some(Value::Str(Cow::Borrowed(text)));
        }
        if let (Target::Literal { text, .. }, Some(Value::Str(_))) = (&self.right, &left) {
            right = Some(Value::Str(Cow::Borrowed(text)));
        }
        let both = || match (&left, &right) {
            (Some(l), Some(r)) => Ok((l, r)),
            (None, _) => Err(self.left.unresolved(group)),
            (_, None) => Err(self.right.unresolved(group)),
        };
        match &self.check {
            Check::Always => Ok(()),
            Check::IsSet => left.map(|_| ()).ok_or_else(|| self.left.unresolved(group)),
            Check::IsNotSet => match &left {
                None => Ok(()),
                Some(value) => Err(format!("it is set (to {value})")),
            },
            Check::Equal => {
                let (l, r) = both()?;
                if compare(l, r)?.is_equal() {
                    Ok(())
                } else {
                    Err(format!("{l} does not equal {r}"))
                }
            }
            Check::NotEqual => match (&left, &right) {
                // Nomad: one side missing means they differ; both missing
                // means there is nothing to compare.
                (Some(_), None) | (None, Some(_)) => Ok(()),
                (None, None) => Err(self.left.unresolved(group)),
                (Some(l), Some(r)) => {
                    if compare(l, r)?.is_equal() {
                        Err(format!("{l} equals {r}"))
                    } else {
                        Ok(())
                    }
                }
            },
            Check::Order(op) => {
                let (l, r) = both()?;
                let holds = match compare(l, r)? {
                    Relation::Bools { .. } => {
                        return Err(format!("{l} and {r} are booleans, which have no order"));
                    }
                    Relation::Ordered(o) => match op {
                        ConstraintOperator::Less => o.is_lt(),
                        ConstraintOperator::LessEqual => o.is_le(),
                        ConstraintOperator::Greater => o.is_gt(),
                        _ => o.is_ge(),
                    },
                };
                if holds {
                    Ok(())
                } else {
                    Err(format!("{l} is not {op} {r}"))
                }
            }
            Check::Regexp(compiled) => {
                let l = self.left.text(left.as_ref(), group, false)?;
                let owned;
                let re = match compiled {
                    Some(re) => re,
                    None => {
                        owned = compile_regex(&self.right.text(right.as_ref(), group, false)?)?;
                        &owned
                    }
                };
                if re.is_match(&l) {
                    Ok(())
                } else {
                    Err(format!("{l:?} does not match /{}/", re.as_str()))
                }
            }
            Check::SetContainsAll | Check::SetContainsAny => {
                let l = self.left.text(left.as_ref(), group, false)?;
                let r = self.right.text(right.as_ref(), group, false)?;
                let have: BTreeSet<&str> = l.split(',').map(str::trim).collect();
                let mut wanted = r.split(',').map(str::trim);
                if matches!(self.check, Check::SetContainsAny) {
                    if wanted.any(|item| have.contains(item)) {
                        Ok(())
                    } else {
                        Err(format!("{l:?} contains none of {r:?}"))
                    }
                } else {
                    let missing: Vec<&str> = wanted.filter(|item| !have.contains(item)).collect();
                    if missing.is_empty() {
                        Ok(())
                    } else {
                        Err(format!("{l:?} does not contain {:?}", missing.join(", ")))
                    }
                }
            }
            Check::Version(compiled) => {
                let l = self.left.text(left.as_ref(), group, true)?;
                match compiled {
                    Some(c) => c.check(&l),
                    None => GoVersionConstraints::parse(&self.right.text(
                        right.as_ref(),
                        group,
                        false,
                    )?)
                    .and_then(|c| c.check(&l)),
                }
            }
            Check::Semver(compiled) => {
                let l = self.left.text(left.as_ref(), group, true)?;
                match compiled {
                    Some(c) => c.check(&l),
                    None => {
                        SemverConstraints::parse(&self.right.text(right.as_ref(), group, false)?)
                            .and_then(|c| c.check(&l))
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Requests

/// A device request prepared once per evaluation (parsed name, compiled
/// constraints and affinities), then checked against many nodes.
#[derive(Debug, Clone)]
pub struct DeviceRequestMatcher {
    name: String,
    /// The parts of the name; `""` matches any group.
    vendor: String,
    device_type: String,
    model: String,
    count: u64,
    constraints: Vec<Rule>,
    /// The constraints on `${device.ids}`, as applied to one instance.
    instance_rules: Vec<Rule>,
    /// Rules and weights.
    affinities: Vec<(Rule, i8)>,
}

/// How a group relates to a request, for explaining a miss.
enum GroupFit {
    OtherName,
    Constraint(String),
    Usable(usize),
}

impl DeviceRequestMatcher {
    /// Prepares a request. Fails when the name is empty, the count is 0, or
    /// a constraint or affinity has an unknown operator or a literal regular
    /// expression or version constraint that does not compile.
    pub fn new(request: &RequestedDevice) -> Result<Self, String> {
        let name = request.name.as_str();
        if name.is_empty() {
            return Err("device request has no name".to_owned());
        }
        let count = request.count();
        if count == 0 {
            return Err(format!(
                "device {name:?} asks for 0 instances; ask for at least 1"
            ));
        }
        // Nomad's `RequestedDevice.ID`: split on the first two slashes.
        let mut parts = name.splitn(3, '/');
        let first = parts.next().unwrap_or_default();
        let (vendor, device_type, model) = match (parts.next(), parts.next()) {
            (None, _) => ("", first, ""),
            (Some(t), None) => (first, t, ""),
            (Some(t), Some(m)) => (first, t, m),
        };
        let in_device = |e: String| format!("device {name:?}: {e}");
        let constraints = request
            .constraints
            .iter()
            .map(|c| Rule::new(&c.l_target, &c.operand, &c.r_target))
            .collect::<Result<Vec<_>, _>>()
            .map_err(in_device)?;
        let instance_rules = constraints
            .iter()
            .filter(|rule| rule.mentions_ids())
            .map(Rule::for_instance)
            .collect();
        let affinities = request
            .affinities
            .iter()
            .map(|a| Rule::new(&a.l_target, &a.operand, &a.r_target).map(|r| (r, a.weight())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| in_device(format!("affinity {e}")))?;
        Ok(DeviceRequestMatcher {
            name: name.to_owned(),
            vendor: vendor.to_owned(),
            device_type: device_type.to_owned(),
            model: model.to_owned(),
            count,
            constraints,
            instance_rules,
            affinities,
        })
    }

    /// The request name as written (`nvidia/gpu`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many instances the request needs (at least 1).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether the request has affinities, so its choice of group is scored.
    pub fn has_affinities(&self) -> bool {
        !self.affinities.is_empty()
    }

    /// Whether the group's vendor, type and model match the request name.
    pub fn matches_name(&self, group: &NodeDeviceResource) -> bool {
        let part = |want: &str, have: &str| want.is_empty() || want == have;
        part(&self.vendor, &group.vendor)
            && part(&self.device_type, &group.device_type)
            && part(&self.model, &group.name)
    }

    /// `Ok` when the group matches the name and every constraint (counts
    /// are not considered); else a reason naming the group.
    pub fn check_group(&self, group: &NodeDeviceResource) -> Result<(), String> {
        if !self.matches_name(group) {
            return Err(format!("{} is not a {:?}", group.id(), self.name));
        }
        for rule in &self.constraints {
            rule.check(group, None)
                .map_err(|why| format!("{} fails {}: {why}", group.id(), rule.rendered))?;
        }
        Ok(())
    }

    /// The group's affinity score in `[-1, 1]`: the weights of the
    /// affinities that hold over the sum of all weights' magnitudes. `None`
    /// when the request has no affinities.
    pub fn affinity_score(&self, group: &NodeDeviceResource) -> Option<f64> {
        if self.affinities.is_empty() {
            return None;
        }
        let (matched, total) =
            self.affinities
                .iter()
                .fold((0i64, 0i64), |(matched, total), (rule, weight)| {
                    let w = i64::from(*weight);
                    let hit = rule.check(group, None).is_ok();
                    (matched + if hit { w } else { 0 }, total + w.abs())
                });
        // Weights are validated non-zero; a zero total would otherwise be NaN.
        #[allow(clippy::cast_precision_loss)]
        Some(if total == 0 {
            0.0
        } else {
            matched as f64 / total as f64
        })
    }

    /// The ids of the group's instances this request could use, whoever
    /// holds them: healthy and allowed by any `${device.ids}` constraint.
    /// Sorted ascending, without duplicates.
    pub fn usable_instances<'n>(&self, group: &'n NodeDeviceResource) -> BTreeSet<&'n str> {
        group
            .instances
            .iter()
            .filter(|d| d.healthy)
            .map(|d| d.id.as_str())
            .filter(|id| {
                self.instance_rules
                    .iter()
                    .all(|rule| rule.check(group, Some(id)).is_ok())
            })
            .collect()
    }

    fn group_fit(&self, group: &NodeDeviceResource) -> GroupFit {
        if !self.matches_name(group) {
            return GroupFit::OtherName;
        }
        match self.check_group(group) {
            Err(why) => GroupFit::Constraint(why),
            Ok(()) => GroupFit::Usable(self.usable_instances(group).len()),
        }
    }

    /// Node-level feasibility: `Ok` when some device group matches the name
    /// and every constraint and has at least `count` healthy instances,
    /// whatever other allocations hold. Each request is checked alone: to
    /// know whether a node can serve all of an allocation's requests at
    /// once, call [`assign_devices`] with an empty `used`.
    ///
    /// The error is one line a user can act on, such as `no device group
    /// matches "nvidia/gpu" with 2 healthy instances and constraint
    /// ${device.attr.memory} >= 40 GiB (node has nvidia/gpu/T4 x1)`,
    /// followed by why each group of the right name failed a constraint.
    pub fn check_node(&self, node: &Node) -> Result<(), String> {
        let groups = &node.node_resources.devices;
        let mut why_not = Vec::new();
        for group in sorted_groups(node) {
            match self.group_fit(group) {
                GroupFit::Usable(n) if n as u64 >= self.count => return Ok(()),
                GroupFit::Usable(n) if n < group.healthy_count() => why_not.push(format!(
                    "{}: only {n} healthy instance{} allowed by the ${{device.ids}} constraints",
                    group.id(),
                    plural(n as u64)
                )),
                GroupFit::Constraint(why) => why_not.push(why),
                GroupFit::Usable(_) | GroupFit::OtherName => {}
            }
        }
        let constraints = match self.constraints.as_slice() {
            [] => String::new(),
            [one] => format!(" and constraint {}", one.rendered),
            many => format!(
                " and constraints {}",
                many.iter()
                    .map(|r| r.rendered.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let inventory = if groups.is_empty() {
            "no devices".to_owned()
        } else {
            sorted_groups(node)
                .map(|g| {
                    let healthy = g.healthy_count();
                    let unhealthy = g.instances.len() - healthy;
                    if unhealthy == 0 {
                        format!("{} x{healthy}", g.id())
                    } else {
                        format!("{} x{healthy} (+{unhealthy} unhealthy)", g.id())
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut message = format!(
            "no device group matches {:?} with {} healthy instance{}{constraints} (node has {inventory})",
            self.name,
            self.count,
            plural(self.count)
        );
        for why in why_not {
            message.push_str("; ");
            message.push_str(&why);
        }
        Err(message)
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The node's device groups in id order (vendor, type, model), so choices
/// and messages never depend on the order the client reported them in.
fn sorted_groups(node: &Node) -> impl Iterator<Item = &NodeDeviceResource> {
    let mut groups: Vec<&NodeDeviceResource> = node.node_resources.devices.iter().collect();
    // Stable: groups with the same id keep their reported order.
    groups.sort_by(|a, b| {
        (&a.vendor, &a.device_type, &a.name).cmp(&(&b.vendor, &b.device_type, &b.name))
    });
    groups.into_iter()
}

// ---------------------------------------------------------------------------
// Assignment

/// What one allocation's device requests were given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceAssignment {
    /// Devices per task name, in request order. Tasks without requests have
    /// no entry.
    pub by_task: BTreeMap<String, Vec<AllocatedDeviceResource>>,
    /// Mean over requests with affinities of their chosen group's affinity
    /// score in [-1, 1]; None when no request has affinities.
    pub affinity_score: Option<f64>,
}

/// Not enough free healthy instances for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("devices exhausted: asked {asked} of {request:?}, {free} free")]
pub struct DeviceShortage {
    /// The request name as written.
    pub request: String,
    /// How many instances it asked for.
    pub asked: u64,
    /// The most free instances in any one group matching the request (a
    /// request is served from a single group).
    pub free: u64,
}

/// Assigns instances for every task's requests, in task order, never giving
/// an instance in `used` or one already given in this call.
///
/// Each request takes, among the groups matching its name and constraints
/// with at least `count` usable instances not taken, the one with the best
/// affinity score (the first in id order on a tie), and that group's
/// lowest free instance ids. Requests are served greedily in order, as in
/// Nomad, so an earlier request may take a group a later one needed.
pub fn assign_devices(
    node: &Node,
    used: &BTreeSet<String>,
    tasks: &[(&str, &[DeviceRequestMatcher])],
) -> Result<DeviceAssignment, DeviceShortage> {
    let groups: Vec<&NodeDeviceResource> = sorted_groups(node).collect();
    let mut given: BTreeSet<&str> = BTreeSet::new();
    let mut assignment = DeviceAssignment::default();
    let mut scores = Vec::new();
    for (task, requests) in tasks {
        for request in *requests {
            let mut best: Option<(f64, &NodeDeviceResource, Vec<&str>)> = None;
            let mut most_free = 0u64;
            for group in groups.iter().copied() {
                // The name check first: it is cheap and builds no message.
                if !request.matches_name(group) || request.check_group(group).is_err() {
                    continue;
                }
                let free: Vec<&str> = request
                    .usable_instances(group)
                    .into_iter()
                    .filter(|id| !used.contains(*id) && !given.contains(id))
                    .collect();
                let n = free.len() as u64;
                most_free = most_free.max(n);
                if n < request.count {
                    continue;
                }
                let score = request.affinity_score(group).unwrap_or(0.0);
                if best.as_ref().is_none_or(|(top, ..)| score > *top) {
                    let take = usize::try_from(request.count).unwrap_or(usize::MAX);
                    best = Some((score, group, free.into_iter().take(take).collect()));
                }
            }
            let Some((score, group, ids)) = best else {
                return Err(DeviceShortage {
                    request: request.name.clone(),
                    asked: request.count,
                    free: most_free,
                });
            };
            given.extend(ids.iter().copied());
            if request.has_affinities() {
                scores.push(score);
            }
            assignment
                .by_task
                .entry((*task).to_owned())
                .or_default()
                .push(AllocatedDeviceResource {
                    vendor: group.vendor.clone(),
                    device_type: group.device_type.clone(),
                    name: group.name.clone(),
                    device_ids: ids.into_iter().map(str::to_owned).collect(),
                });
        }
    }
    if !scores.is_empty() {
        #[allow(clippy::cast_precision_loss)]
        let n = scores.len() as f64;
        assignment.affinity_score = Some(scores.iter().sum::<f64>() / n);
    }
    Ok(assignment)
}
