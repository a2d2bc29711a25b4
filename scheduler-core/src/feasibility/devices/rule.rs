//! Device constraint and affinity rules: the two sides (targets) and the
//! operator, parsed and compiled once, then checked against device groups
//! and, for `${device.ids}`, single instances.

use std::borrow::Cow;
use std::collections::BTreeSet;

use regex::Regex;

use super::value::{Number, Relation, Value, attribute_value, compare, parse_literal};
use crate::feasibility::version_match::{GoVersionConstraints, SemverConstraints};
use crate::model::{ConstraintOperator, NodeDeviceResource};

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
pub(super) struct Rule {
    /// As written: `${device.attr.memory} >= 10 GiB`.
    pub(super) rendered: String,
    left: Target,
    right: Target,
    check: Check,
}

impl Rule {
    pub(super) fn new(l_target: &str, operand: &str, r_target: &str) -> Result<Rule, String> {
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
    pub(super) fn mentions_ids(&self) -> bool {
        matches!(self.left, Target::Ids) || matches!(self.right, Target::Ids)
    }

    /// The rule as applied to one instance: `${device.ids}` will stand for
    /// the instance id, and "the ids contain all of these" becomes "the id
    /// is one of these", which is what a user listing ids means.
    pub(super) fn for_instance(&self) -> Rule {
        let mut rule = self.clone();
        if matches!(rule.left, Target::Ids) && matches!(rule.check, Check::SetContainsAll) {
            rule.check = Check::SetContainsAny;
        }
        rule
    }

    /// `Ok` when the rule holds on `group` (with `${device.ids}` as
    /// `instance` when given), else why not.
    pub(super) fn check(
        &self,
        group: &NodeDeviceResource,
        instance: Option<&str>,
    ) -> Result<(), String> {
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
