//! Placement rules: constraints, affinities and spreads.

use super::Problems;
use super::version;
use crate::model::{Affinity, Constraint, ConstraintOperator, FieldPath, JobType, Spread};

/// Where a list of constraints is written; some operators are only allowed
/// at some levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    /// The job or a group: every operator.
    Job,
    /// A task: not `distinct_hosts` or `distinct_property`.
    Task,
    /// A device request: not `distinct_hosts` or `distinct_property`.
    Device,
}

const OPERATORS: &str = "=, !=, >, >=, <, <=, regexp, version, semver, set_contains, set_contains_all, set_contains_any, is_set, is_not_set, distinct_hosts or distinct_property";

/// Every `constraint` block under `parent`.
pub(super) fn constraints(
    list: &[Constraint],
    parent: &FieldPath,
    level: Level,
    out: &mut Problems,
) {
    for (index, constraint) in list.iter().enumerate() {
        let path = parent.indexed("constraint", "Constraints", index);
        let Some(operator) = ConstraintOperator::parse(&constraint.operand) else {
            out.error(
                path.field("operator", "Operand"),
                format!(
                    "operator {:?} is unknown: use one of {OPERATORS}",
                    constraint.operand
                ),
            );
            continue;
        };
        if operator.is_distinct() && level != Level::Job {
            let place = if level == Level::Task {
                "a task's constraint"
            } else {
                "a device constraint"
            };
            out.error(
                path.field("operator", "Operand"),
                format!("operator \"{operator}\" is not allowed in {place}: move the constraint to the group or the job"),
            );
            continue;
        }
        if operator != ConstraintOperator::DistinctHosts && constraint.l_target.is_empty() {
            out.error(
                path.field("attribute", "LTarget"),
                "the constraint has no attribute: set attribute, as in attribute = \"${attr.kernel.name}\"",
            );
        }
        if operator == ConstraintOperator::DistinctProperty {
            distinct_property_count(&constraint.r_target, &path, out);
        } else {
            operand_value(operator, &constraint.r_target, &path, out);
        }
    }
}

/// Every `affinity` block under `parent`.
pub(super) fn affinities(
    list: &[Affinity],
    parent: &FieldPath,
    job_type: &JobType,
    out: &mut Problems,
) {
    for (index, affinity) in list.iter().enumerate() {
        let path = parent.indexed("affinity", "Affinities", index);
        if *job_type == JobType::System {
            out.error(
                path.clone(),
                "affinity blocks are not allowed in system jobs, which run on every eligible node: remove it",
            );
            continue;
        }
        affinity_rules(affinity, &path, out);
    }
}

/// The affinities of a device request (allowed in every job type).
pub(super) fn device_affinities(list: &[Affinity], parent: &FieldPath, out: &mut Problems) {
    for (index, affinity) in list.iter().enumerate() {
        affinity_rules(
            affinity,
            &parent.indexed("affinity", "Affinities", index),
            out,
        );
    }
}

fn affinity_rules(affinity: &Affinity, path: &FieldPath, out: &mut Problems) {
    match ConstraintOperator::parse(&affinity.operand) {
        None => out.error(
            path.field("operator", "Operand"),
            format!(
                "operator {:?} is unknown: use one of {OPERATORS}",
                affinity.operand
            ),
        ),
        Some(operator) if operator.is_distinct() => out.error(
            path.field("operator", "Operand"),
            format!(
                "operator \"{operator}\" is not allowed in an affinity: use a constraint for it"
            ),
        ),
        Some(operator) => operand_value(operator, &affinity.r_target, path, out),
    }
    if affinity.l_target.is_empty() {
        out.error(
            path.field("attribute", "LTarget"),
            "the affinity has no attribute: set attribute, as in attribute = \"${node.datacenter}\"",
        );
    }
    let weight = affinity.weight();
    if weight == 0 {
        out.error(
            path.field("weight", "Weight"),
            "weight 0 is not allowed: use a weight between -100 and 100 other than 0",
        );
    } else if !(-100..=100).contains(&weight) {
        out.error(
            path.field("weight", "Weight"),
            format!("weight {weight} is out of range: it must be between -100 and 100"),
        );
    }
}

/// The right-hand side of a constraint or affinity for its operator.
fn operand_value(operator: ConstraintOperator, value: &str, path: &FieldPath, out: &mut Problems) {
    use ConstraintOperator as Op;
    let value_path = path.field("value", "RTarget");
    match operator {
        Op::IsSet | Op::IsNotSet => {
            if !value.is_empty() {
                out.warning(
                    value_path,
                    format!("operator \"{operator}\" takes no value, so {value:?} is ignored: remove value"),
                );
            }
        }
        Op::DistinctHosts | Op::DistinctProperty => {}
        Op::Regexp => {
            if let Err(err) = regex::Regex::new(value) {
                out.error(
                    value_path,
                    format!(
                        "value {value:?} is not a valid regular expression ({}): fix the pattern",
                        regex_detail(&err)
                    ),
                );
            }
        }
        Op::Version | Op::Semver => {
            if let Err(err) = version::parse_constraints(value) {
                out.error(
                    value_path,
                    format!(
                        "value {value:?} is not a valid {operator} constraint ({err}): write clauses such as \">= 1.2, < 2.0\""
                    ),
                );
            }
        }
        Op::SetContains | Op::SetContainsAll | Op::SetContainsAny => {
            if value.is_empty() {
                out.error(
                    value_path,
                    format!("operator \"{operator}\" needs a value: list the values to look for, as in value = \"a,b\""),
                );
            }
        }
        Op::Equal
        | Op::DoubleEqual
        | Op::Is
        | Op::NotEqual
        | Op::Not
        | Op::Less
        | Op::LessEqual
        | Op::Greater
        | Op::GreaterEqual => {
            if value.is_empty() {
                out.error(
                    value_path,
                    format!("operator \"{operator}\" needs a value: set value to compare the attribute with"),
                );
            }
        }
    }
}

/// The last line of a regex error, which says what is wrong.
fn regex_detail(err: &regex::Error) -> String {
    let text = err.to_string();
    text.lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| line.trim().trim_start_matches("error: ").to_owned())
        .unwrap_or(text)
}

/// The optional allowed count of a `distinct_property` constraint.
fn distinct_property_count(value: &str, path: &FieldPath, out: &mut Problems) {
    if value.is_empty() {
        return;
    }
    match value.parse::<u64>() {
        Ok(count) if count >= 1 => {}
        _ => out.error(
            path.field("value", "RTarget"),
            format!("value {value:?} is not a valid distinct_property count: use a whole number of 1 or more"),
        ),
    }
}

/// Every `spread` block under `parent`.
pub(super) fn spreads(list: &[Spread], parent: &FieldPath, job_type: &JobType, out: &mut Problems) {
    for (index, spread) in list.iter().enumerate() {
        let path = parent.indexed("spread", "Spreads", index);
        if *job_type == JobType::System {
            out.error(
                path.clone(),
                "spread blocks are not allowed in system jobs, which run on every eligible node: remove it",
            );
            continue;
        }
        if spread.attribute.is_empty() {
            out.error(
                path.field("attribute", "Attribute"),
                "the spread has no attribute: set attribute, as in attribute = \"${node.datacenter}\"",
            );
        }
        let weight = spread.weight();
        if !(1..=100).contains(&weight) {
            out.error(
                path.field("weight", "Weight"),
                format!(
                    "weight {weight} is out of range: a spread weight must be between 1 and 100"
                ),
            );
        }
        let mut sum: u32 = 0;
        for (target_index, target) in spread.spread_target.iter().enumerate() {
            let target_path =
                path.labeled("target", "SpreadTarget", &target.value, Some(target_index));
            if spread.spread_target[..target_index]
                .iter()
                .any(|earlier| earlier.value == target.value)
            {
                out.error(
                    target_path.clone(),
                    format!(
                        "target {:?} is listed twice: give each value one target",
                        target.value
                    ),
                );
            }
            if target.percent > 100 {
                out.error(
                    target_path.field("percent", "Percent"),
                    format!(
                        "percent {} is out of range: it must be between 0 and 100",
                        target.percent
                    ),
                );
            }
            sum += u32::from(target.percent);
        }
        if sum > 100 {
            out.error(
                path,
                format!("the target percentages add up to {sum}: they must not exceed 100"),
            );
        }
    }
}
