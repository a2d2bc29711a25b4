//! Filter expressions of the HTTP API's `?filter=` query parameter: the
//! boolean expression language of HashiCorp's go-bexpr, as Nomad uses it,
//! evaluated against the JSON of each element of a list endpoint's answer.
//!
//! ```text
//! Status == "running" and Meta.owner != ops
//! "dc1" in Datacenters or not (Priority == 50)
//! Meta["my-key"] is not empty and Name matches `^web-[0-9]+$`
//! ```
//!
//! - Selectors are dotted field paths (`JobSummary.Summary.api.Running`);
//!   a field whose name is not a plain word is reached with brackets
//!   (`Attributes["kernel.name"]`) or a quoted segment
//!   (`Attributes."kernel.name"`). A numeric segment indexes a list
//!   (`Datacenters.0`); any other segment applied to a list is applied to
//!   each of its elements, and the selector then reaches the list of their
//!   answers (`TaskGroups.Name contains "api"`).
//! - Match operators: `==`, `!=`, `contains`, `not contains`, `"value" in
//!   Selector`, `"value" not in Selector`, `is empty`, `is not empty`,
//!   `matches`, `not matches`; each `not` form is the exact negation of its
//!   positive form.
//! - Values are double-quoted strings (with Go's escapes), backquoted raw
//!   strings, or bare words such as numbers, `true`, `false` and plain names.
//! - `not` binds tighter than `and`, which binds tighter than `or`;
//!   parentheses group.
//!
//! A field that is missing (or JSON `null`) never equals anything, so `!=`
//! matches it, and it counts as empty: it contains nothing and matches no
//! regular expression.
//!
//! Parsing is separate from evaluation so that a request's expression is
//! checked once, up front, and a syntax error answers the request with the
//! column at fault instead of silently filtering everything out.

mod parser;
#[cfg(test)]
mod tests;

use regex::Regex;
use serde_json::Value;

/// A parsed filter expression, ready to test any number of JSON values.
#[derive(Debug, Clone)]
pub struct Filter {
    expression: Expression,
}

/// Why an expression could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("filter expression, column {column}: {message}")]
pub struct FilterError {
    /// The 1-based character offset, in the expression, where the problem
    /// was found.
    pub column: usize,
    /// What was wrong, usually what was expected and what was found instead.
    pub message: String,
}

impl Filter {
    /// Parses an expression; the error names the column (1-based char
    /// offset) and what was expected.
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        parser::parse(expression).map(|expression| Filter { expression })
    }

    /// Whether `value` matches.
    pub fn matches(&self, value: &Value) -> bool {
        self.expression.evaluate(value)
    }
}

/// The parsed form of an expression. `and` and `or` chains are kept flat,
/// so that a long chain costs no recursion depth when evaluated or dropped.
#[derive(Debug, Clone)]
enum Expression {
    /// `a or b or ...`
    Any(Vec<Expression>),
    /// `a and b and ...`
    All(Vec<Expression>),
    /// `not a`
    Not(Box<Expression>),
    /// One selector tested by one operator.
    Match(Match),
}

/// One match: the test of the value a selector reaches.
#[derive(Debug, Clone)]
struct Match {
    selector: Selector,
    test: Test,
    /// Set by the `!=` and `not ...` forms, which negate the test's answer.
    negated: bool,
}

/// The positive form of each match operator.
#[derive(Debug, Clone)]
enum Test {
    /// `==` (and `!=`).
    Equal(Literal),
    /// `contains` and `in` (and their `not` forms): the same test, written
    /// with the selector first or last.
    Contains(Literal),
    /// `is empty` (and `is not empty`).
    IsEmpty,
    /// `matches` (and `not matches`), compiled once at parse time.
    Matches(Regex),
}

/// A path of field names from the value under test.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Selector {
    fields: Vec<String>,
}

/// A value of the expression. It is kept as text because its type is only
/// known once it meets a JSON value: `50` equals both the number 50 and the
/// string "50", as in go-bexpr, which converts the value to the field's type.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Literal {
    text: String,
}

/// What a selector reaches in a JSON value.
enum Reached<'v> {
    /// Nothing: a field on the path is missing or `null`.
    Missing,
    /// One value.
    One(&'v Value),
    /// The values reached through a list, one per element that had the path.
    Projected(Vec<&'v Value>),
}

impl Expression {
    fn evaluate(&self, value: &Value) -> bool {
        match self {
            Expression::Any(alternatives) => alternatives.iter().any(|each| each.evaluate(value)),
            Expression::All(conditions) => conditions.iter().all(|each| each.evaluate(value)),
            Expression::Not(operand) => !operand.evaluate(value),
            Expression::Match(single) => single.evaluate(value),
        }
    }
}

impl Match {
    fn evaluate(&self, value: &Value) -> bool {
        let reached = match self.selector.resolve(value) {
            // `null` is how Nomad's JSON spells an unset map, list or pointer:
            // treat it like a missing field, as go-bexpr sees a nil map.
            Reached::One(Value::Null) => Reached::Missing,
            other => other,
        };
        let positive = match &self.test {
            Test::Equal(literal) => match reached {
                Reached::One(found) => literal.equals(found),
                // A list is never equal to a single value.
                Reached::Projected(_) | Reached::Missing => false,
            },
            Test::Contains(literal) => match reached {
                Reached::One(Value::String(text)) => text.contains(literal.text.as_str()),
                Reached::One(Value::Array(items)) => items.iter().any(|item| literal.equals(item)),
                Reached::One(Value::Object(map)) => map.contains_key(&literal.text),
                Reached::Projected(items) => items.iter().any(|item| literal.equals(item)),
                Reached::One(_) | Reached::Missing => false,
            },
            Test::IsEmpty => match reached {
                Reached::Missing => true,
                Reached::One(Value::String(text)) => text.is_empty(),
                Reached::One(Value::Array(items)) => items.is_empty(),
                Reached::One(Value::Object(map)) => map.is_empty(),
                Reached::Projected(items) => items.is_empty(),
                // A number or a boolean always holds a value.
                Reached::One(_) => false,
            },
            Test::Matches(regex) => match reached {
                Reached::One(Value::String(text)) => regex.is_match(text),
                // Scalars are matched by their JSON text, so `Priority
                // matches "^[5-9]"` works as one would read it.
                Reached::One(scalar @ (Value::Number(_) | Value::Bool(_))) => {
                    regex.is_match(&scalar.to_string())
                }
                Reached::One(_) | Reached::Projected(_) | Reached::Missing => false,
            },
        };
        positive != self.negated
    }
}

impl Selector {
    fn resolve<'v>(&self, value: &'v Value) -> Reached<'v> {
        resolve_path(value, &self.fields)
    }
}

fn resolve_path<'v>(value: &'v Value, fields: &[String]) -> Reached<'v> {
    let Some((field, rest)) = fields.split_first() else {
        return Reached::One(value);
    };
    match value {
        Value::Object(map) => match map.get(field) {
            Some(child) => resolve_path(child, rest),
            None => Reached::Missing,
        },
        Value::Array(items) => match field.parse::<usize>() {
            Ok(index) => match items.get(index) {
                Some(item) => resolve_path(item, rest),
                None => Reached::Missing,
            },
            Err(_) => {
                // Apply the whole remaining path to each element and gather
                // what they reach; nested projections are flattened so that
                // `TaskGroups.Tasks.Name` is one list of names.
                let mut gathered = Vec::new();
                for item in items {
                    match resolve_path(item, fields) {
                        Reached::One(Value::Null) | Reached::Missing => {}
                        Reached::One(found) => gathered.push(found),
                        Reached::Projected(found) => gathered.extend(found),
                    }
                }
                Reached::Projected(gathered)
            }
        },
        _ => Reached::Missing,
    }
}

impl Literal {
    /// Whether the literal equals a JSON scalar, converting the literal's
    /// text to the scalar's type; text that does not convert is unequal.
    fn equals(&self, value: &Value) -> bool {
        match value {
            Value::String(text) => *text == self.text,
            Value::Number(number) => self.equals_number(number),
            Value::Bool(flag) => parse_bool(&self.text) == Some(*flag),
            Value::Null | Value::Array(_) | Value::Object(_) => false,
        }
    }

    fn equals_number(&self, number: &serde_json::Number) -> bool {
        // Integers compare exactly; floating point is the last resort, for
        // fractions and exponents (`1.5`, `5e1`).
        if let (Some(left), Ok(right)) = (number.as_i64(), self.text.parse::<i64>()) {
            return left == right;
        }
        if let (Some(left), Ok(right)) = (number.as_u64(), self.text.parse::<u64>()) {
            return left == right;
        }
        match (number.as_f64(), self.text.parse::<f64>()) {
            (Some(left), Ok(right)) => left == right,
            _ => false,
        }
    }
}

/// The spellings of a boolean that go-bexpr accepts (Go's `strconv.ParseBool`).
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" | "t" | "T" | "1" => Some(true),
        "false" | "False" | "FALSE" | "f" | "F" | "0" => Some(false),
        _ => None,
    }
}
