//! Placement rules: hard constraints, soft affinities, and spreads.
//!
//! The operand of a constraint or affinity is kept as the string the user
//! wrote, so an unknown operand survives parsing and validation can name it;
//! [`ConstraintOperator::parse`] turns it into an enum for the scheduler.

use crate::model::serde_util::null_as_default;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The weight Nomad gives an affinity or spread that does not set one.
pub const DEFAULT_WEIGHT: i8 = 50;

/// A hard placement rule: a node is only eligible if `LTarget Operand RTarget`
/// holds, e.g. `${attr.kernel.name} = linux`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Constraint {
    /// Left-hand side, usually an interpolated node attribute such as
    /// `${attr.kernel.name}` or `${meta.rack}` (HCL `attribute`).
    #[serde(rename = "LTarget", deserialize_with = "null_as_default")]
    pub l_target: String,
    /// Right-hand side, usually a literal value (HCL `value`).
    #[serde(rename = "RTarget", deserialize_with = "null_as_default")]
    pub r_target: String,
    /// The comparison (HCL `operator`); see [`ConstraintOperator`]. Empty
    /// means `=`.
    #[serde(rename = "Operand", deserialize_with = "null_as_default")]
    pub operand: String,
}

impl Constraint {
    /// Creates a constraint from its three parts.
    pub fn new(
        l_target: impl Into<String>,
        operand: impl Into<String>,
        r_target: impl Into<String>,
    ) -> Self {
        Constraint {
            l_target: l_target.into(),
            r_target: r_target.into(),
            operand: operand.into(),
        }
    }

    /// The operand as an enum, or `None` if it is not one Nomad knows.
    pub fn operator(&self) -> Option<ConstraintOperator> {
        ConstraintOperator::parse(&self.operand)
    }
}

/// A soft placement preference: nodes where `LTarget Operand RTarget` holds
/// score higher (or lower, for a negative weight).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Affinity {
    /// Left-hand side, usually an interpolated node attribute (HCL `attribute`).
    #[serde(rename = "LTarget", deserialize_with = "null_as_default")]
    pub l_target: String,
    /// Right-hand side, usually a literal value (HCL `value`).
    #[serde(rename = "RTarget", deserialize_with = "null_as_default")]
    pub r_target: String,
    /// The comparison (HCL `operator`); see [`ConstraintOperator`].
    #[serde(rename = "Operand", deserialize_with = "null_as_default")]
    pub operand: String,
    /// How strongly to prefer matching nodes, -100 to 100; 50 when unset.
    #[serde(rename = "Weight")]
    pub weight: Option<i8>,
}

impl Affinity {
    /// The weight, or 50 when unset.
    pub fn weight(&self) -> i8 {
        self.weight.unwrap_or(DEFAULT_WEIGHT)
    }

    /// The operand as an enum, or `None` if it is not one Nomad knows.
    pub fn operator(&self) -> Option<ConstraintOperator> {
        ConstraintOperator::parse(&self.operand)
    }
}

/// Spreads allocations across the values of a node attribute (such as
/// `${node.datacenter}`), optionally in given proportions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Spread {
    /// The node attribute whose values to spread over.
    #[serde(deserialize_with = "null_as_default")]
    pub attribute: String,
    /// How much the spread counts in scoring, 0 to 100; 50 when unset.
    pub weight: Option<i8>,
    /// Desired percentages per attribute value; empty means "even".
    #[serde(deserialize_with = "null_as_default")]
    pub spread_target: Vec<SpreadTarget>,
}

impl Spread {
    /// The weight, or 50 when unset.
    pub fn weight(&self) -> i8 {
        self.weight.unwrap_or(DEFAULT_WEIGHT)
    }
}

/// One attribute value of a [`Spread`] and the share of allocations it should get.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct SpreadTarget {
    /// The attribute value (HCL: the `target` block's label).
    #[serde(deserialize_with = "null_as_default")]
    pub value: String,
    /// Percentage of allocations to place where the attribute has this value.
    #[serde(deserialize_with = "null_as_default")]
    pub percent: u8,
}

/// Every operand Nomad accepts in a constraint or affinity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConstraintOperator {
    /// `=`: string equality.
    Equal,
    /// `==`: string equality (alias).
    DoubleEqual,
    /// `is`: string equality (alias).
    Is,
    /// `!=`: string inequality.
    NotEqual,
    /// `not`: string inequality (alias).
    Not,
    /// `<`: lexical or numeric less-than.
    Less,
    /// `<=`: lexical or numeric less-than-or-equal.
    LessEqual,
    /// `>`: lexical or numeric greater-than.
    Greater,
    /// `>=`: lexical or numeric greater-than-or-equal.
    GreaterEqual,
    /// `regexp`: the attribute matches the regular expression.
    Regexp,
    /// `set_contains`: the comma-separated attribute contains every listed value.
    SetContains,
    /// `set_contains_all`: same as `set_contains`.
    SetContainsAll,
    /// `set_contains_any`: the comma-separated attribute contains at least one listed value.
    SetContainsAny,
    /// `version`: the attribute satisfies a version constraint such as `>= 1.2, < 2`.
    Version,
    /// `semver`: like `version`, with strict Semantic Versioning rules.
    Semver,
    /// `is_set`: the attribute exists on the node.
    IsSet,
    /// `is_not_set`: the attribute does not exist on the node.
    IsNotSet,
    /// `distinct_hosts`: at most one allocation of the job/group per node.
    DistinctHosts,
    /// `distinct_property`: at most N allocations per value of a property.
    DistinctProperty,
}

impl ConstraintOperator {
    /// All operators, in declaration order.
    pub const ALL: [ConstraintOperator; 19] = [
        Self::Equal,
        Self::DoubleEqual,
        Self::Is,
        Self::NotEqual,
        Self::Not,
        Self::Less,
        Self::LessEqual,
        Self::Greater,
        Self::GreaterEqual,
        Self::Regexp,
        Self::SetContains,
        Self::SetContainsAll,
        Self::SetContainsAny,
        Self::Version,
        Self::Semver,
        Self::IsSet,
        Self::IsNotSet,
        Self::DistinctHosts,
        Self::DistinctProperty,
    ];

    /// Parses an operand as written in a job. The empty string is `=`, as in
    /// Nomad. Unknown operands give `None`.
    pub fn parse(operand: &str) -> Option<Self> {
        if operand.is_empty() {
            return Some(Self::Equal);
        }
        Self::ALL.into_iter().find(|op| op.as_str() == operand)
    }

    /// The operand as written in a job.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::DoubleEqual => "==",
            Self::Is => "is",
            Self::NotEqual => "!=",
            Self::Not => "not",
            Self::Less => "<",
            Self::LessEqual => "<=",
            Self::Greater => ">",
            Self::GreaterEqual => ">=",
            Self::Regexp => "regexp",
            Self::SetContains => "set_contains",
            Self::SetContainsAll => "set_contains_all",
            Self::SetContainsAny => "set_contains_any",
            Self::Version => "version",
            Self::Semver => "semver",
            Self::IsSet => "is_set",
            Self::IsNotSet => "is_not_set",
            Self::DistinctHosts => "distinct_hosts",
            Self::DistinctProperty => "distinct_property",
        }
    }

    /// Whether the operator is one of the spellings of equality (`=`, `==`, `is`).
    pub fn is_equality(self) -> bool {
        matches!(self, Self::Equal | Self::DoubleEqual | Self::Is)
    }

    /// Whether the operator is one of the spellings of inequality (`!=`, `not`).
    pub fn is_inequality(self) -> bool {
        matches!(self, Self::NotEqual | Self::Not)
    }

    /// Whether the operator constrains how allocations relate to each other
    /// (`distinct_hosts`, `distinct_property`) rather than testing one node.
    pub fn is_distinct(self) -> bool {
        matches!(self, Self::DistinctHosts | Self::DistinctProperty)
    }

    /// Whether the operator ignores the right-hand side (`is_set`,
    /// `is_not_set`, `distinct_hosts`).
    pub fn ignores_r_target(self) -> bool {
        matches!(self, Self::IsSet | Self::IsNotSet | Self::DistinctHosts)
    }
}

impl fmt::Display for ConstraintOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_round_trip() {
        for op in ConstraintOperator::ALL {
            assert_eq!(ConstraintOperator::parse(op.as_str()), Some(op));
        }
        assert_eq!(
            ConstraintOperator::parse(""),
            Some(ConstraintOperator::Equal)
        );
        assert_eq!(ConstraintOperator::parse("~="), None);
    }
}
