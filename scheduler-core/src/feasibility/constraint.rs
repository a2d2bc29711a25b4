//! Node-local constraint and affinity checks, with Nomad's operator semantics
//! (`checkConstraint` in Nomad's `scheduler/feasible/feasible.go`).
//!
//! | Operator | A node matches when |
//! |---|---|
//! | `=`, `==`, `is` (or empty) | both sides resolve and are equal strings |
//! | `!=`, `not` | the sides differ; an unresolved side counts as `""`, so a missing attribute **passes** |
//! | `<` `<=` `>` `>=` | both resolve; compared as 64-bit integers if both parse as such, else as floats if both parse, else lexically (byte order) |
//! | `regexp` | both resolve and the left side matches the regular expression anywhere (unanchored; write `^…$` to anchor) |
//! | `set_contains`, `set_contains_all` | both resolve; every comma-separated, trimmed item on the right is one on the left |
//! | `set_contains_any` | both resolve; at least one right item is a left item |
//! | `version` | both resolve; the left version satisfies the go-version constraint (see [`super::version_match`]) |
//! | `semver` | both resolve; the left version satisfies the constraint with strict SemVer 2.0 ordering |
//! | `is_set` / `is_not_set` | the left side does / does not resolve (the right side is ignored) |
//! | `distinct_hosts`, `distinct_property` | always (they are not node-local: the placement stage checks them against proposed allocations) |
//! | anything else | never |
//!
//! Regular expressions use the `regex` crate, whose syntax is RE2's (no
//! look-around, no back-references, linear-time matching). One difference
//! from Go's RE2: `\d`, `\w`, `\s` and `\b` are Unicode-aware here and
//! ASCII-only in Go, so they can match more non-ASCII characters.
//!
//! Either side may be an interpolation (see [`resolve_target`]). When the
//! right side of `regexp`, `version` or `semver` is a literal, a
//! [`ConstraintChecker`] compiles it once; when it is an interpolation it is
//! compiled per node, as its value depends on the node.

use std::collections::BTreeSet;
use std::fmt;

use regex::Regex;

use super::version_match::{GoVersionConstraints, SemverConstraints};
use crate::model::{Affinity, Constraint, ConstraintOperator, Node};

/// Why a node does not satisfy a constraint, in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConstraintMiss {
    /// The constraint as written, e.g. `${attr.kernel.name} = linux`.
    pub constraint: String,
    /// Why it does not hold on the node, e.g. `"darwin" does not equal "linux"`.
    pub reason: String,
}

impl fmt::Display for ConstraintMiss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "constraint `{}` not met: {}",
            self.constraint, self.reason
        )
    }
}

impl std::error::Error for ConstraintMiss {}

/// Resolves one side of a constraint against a node.
///
/// As in Nomad, a string that does not start with `${` is a literal. The
/// interpolations are `${node.unique.id}`, `${node.unique.name}`,
/// `${node.datacenter}`, `${node.class}`, `${node.pool}`, `${attr.<key>}`
/// (from [`Node::attributes`]) and `${meta.<key>}` (from [`Node::meta`]).
/// An unknown interpolation or a missing attribute or meta key gives `None`.
pub fn resolve_target(target: &str, node: &Node) -> Option<String> {
    resolve(target, node).map(str::to_owned)
}

/// [`resolve_target`] without copying: the value borrowed from the node
/// (or the literal from `target`), for hot paths.
pub fn resolve_target_str<'a>(target: &'a str, node: &'a Node) -> Option<&'a str> {
    resolve(target, node)
}

/// [`resolve_target`] without copying.
fn resolve<'a>(target: &'a str, node: &'a Node) -> Option<&'a str> {
    if !target.starts_with("${") {
        return Some(target);
    }
    match target {
        "${node.unique.id}" => return Some(node.id.as_str()),
        "${node.unique.name}" => return Some(&node.name),
        "${node.datacenter}" => return Some(&node.datacenter),
        "${node.class}" => return Some(&node.node_class),
        "${node.pool}" => return Some(&node.node_pool),
        _ => {}
    }
    // Nomad strips the prefix and a trailing `}` if present.
    let key = |prefix: &str| {
        target
            .strip_prefix(prefix)
            .map(|rest| rest.strip_suffix('}').unwrap_or(rest))
    };
    if let Some(attr) = key("${attr.") {
        return node.attributes.get(attr).map(String::as_str);
    }
    if let Some(meta) = key("${meta.") {
        return node.meta.get(meta).map(String::as_str);
    }
    None
}

/// Whether `target` is an interpolation this module knows how to resolve.
fn is_known_target(target: &str) -> bool {
    matches!(
        target,
        "${node.unique.id}"
            | "${node.unique.name}"
            | "${node.datacenter}"
            | "${node.class}"
            | "${node.pool}"
    ) || target.starts_with("${attr.")
        || target.starts_with("${meta.")
}

/// Why a side did not resolve.
fn unresolved_reason(target: &str, left: bool) -> String {
    if !is_known_target(target) {
        format!("{target} is not a known target (use ${{node.*}}, ${{attr.*}} or ${{meta.*}})")
    } else if left {
        "attribute is not set on the node".to_owned()
    } else {
        format!("{target} (the value) is not set on the node")
    }
}

/// Renders a constraint as written: `${attr.kernel.name} = linux`.
fn render(l_target: &str, operand: &str, r_target: &str) -> String {
    let op = if operand.is_empty() { "=" } else { operand };
    if r_target.is_empty() {
        format!("{l_target} {op}")
    } else {
        format!("{l_target} {op} {r_target}")
    }
}

/// A right-hand side compiled once when it is a literal, or per node when it
/// is an interpolation.
#[derive(Debug, Clone)]
enum Prepared<T> {
    Static(T),
    PerNode,
}

impl<T> Prepared<T> {
    fn new(
        r_target: &str,
        compile: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Self, String> {
        if r_target.starts_with("${") {
            Ok(Prepared::PerNode)
        } else {
            compile(r_target).map(Prepared::Static)
        }
    }
}

#[derive(Debug, Clone)]
enum Check {
    Equal,
    NotEqual,
    Order(ConstraintOperator),
    Regexp(Prepared<Regex>),
    SetContainsAll,
    SetContainsAny,
    Version(Prepared<GoVersionConstraints>),
    Semver(Prepared<SemverConstraints>),
    IsSet,
    IsNotSet,
    /// `distinct_hosts` / `distinct_property`: not node-local.
    Placement,
}

fn compile_regex(pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("regular expression {pattern:?} does not compile: {e}"))
}

/// A constraint prepared for checking against many nodes: the operator is
/// parsed and a literal regular expression or version constraint is compiled
/// once, so the per-node check does no compilation.
#[derive(Debug, Clone)]
pub struct ConstraintChecker {
    l_target: String,
    r_target: String,
    rendered: String,
    check: Check,
}

impl ConstraintChecker {
    /// Prepares a constraint. Fails on an unknown operator, or on a literal
    /// right-hand side that is not a valid regular expression (`regexp`) or
    /// version constraint (`version`, `semver`); Nomad treats those as never
    /// matching.
    pub fn new(constraint: &Constraint) -> Result<Self, String> {
        Self::from_parts(
            &constraint.l_target,
            &constraint.operand,
            &constraint.r_target,
        )
    }

    /// Prepares the rule of an affinity (its weight is the caller's business).
    pub fn for_affinity(affinity: &Affinity) -> Result<Self, String> {
        Self::from_parts(&affinity.l_target, &affinity.operand, &affinity.r_target)
    }

    fn from_parts(l_target: &str, operand: &str, r_target: &str) -> Result<Self, String> {
        let op = ConstraintOperator::parse(operand)
            .ok_or_else(|| format!("unknown operator {operand:?}"))?;
        use ConstraintOperator as Op;
        let check = match op {
            Op::Equal | Op::DoubleEqual | Op::Is => Check::Equal,
            Op::NotEqual | Op::Not => Check::NotEqual,
            Op::Less | Op::LessEqual | Op::Greater | Op::GreaterEqual => Check::Order(op),
            Op::Regexp => Check::Regexp(Prepared::new(r_target, compile_regex)?),
            Op::SetContains | Op::SetContainsAll => Check::SetContainsAll,
            Op::SetContainsAny => Check::SetContainsAny,
            Op::Version => Check::Version(Prepared::new(r_target, GoVersionConstraints::parse)?),
            Op::Semver => Check::Semver(Prepared::new(r_target, SemverConstraints::parse)?),
            Op::IsSet => Check::IsSet,
            Op::IsNotSet => Check::IsNotSet,
            Op::DistinctHosts | Op::DistinctProperty => Check::Placement,
        };
        Ok(ConstraintChecker {
            l_target: l_target.to_owned(),
            r_target: r_target.to_owned(),
            rendered: render(l_target, operand, r_target),
            check,
        })
    }

    /// The constraint as written, e.g. `${attr.kernel.name} = linux`.
    pub fn rendered(&self) -> &str {
        &self.rendered
    }

    fn miss(&self, reason: String) -> ConstraintMiss {
        ConstraintMiss {
            constraint: self.rendered.clone(),
            reason,
        }
    }

    /// Checks the constraint against one node.
    pub fn check(&self, node: &Node) -> Result<(), ConstraintMiss> {
        let left = resolve(&self.l_target, node);
        let right = resolve(&self.r_target, node);
        // Most operators need both sides.
        let both = || -> Result<(&str, &str), ConstraintMiss> {
            let l = left.ok_or_else(|| self.miss(unresolved_reason(&self.l_target, true)))?;
            let r = right.ok_or_else(|| self.miss(unresolved_reason(&self.r_target, false)))?;
            Ok((l, r))
        };
        match &self.check {
            Check::Placement => Ok(()),
            Check::IsSet => match left {
                Some(_) => Ok(()),
                None => Err(self.miss(unresolved_reason(&self.l_target, true))),
            },
            Check::IsNotSet => match left {
                None => Ok(()),
                Some(value) => {
                    Err(self.miss(format!("attribute is set on the node (to {value:?})")))
                }
            },
            Check::Equal => {
                let (l, r) = both()?;
                if l == r {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} does not equal {r:?}")))
                }
            }
            Check::NotEqual => {
                let l = left.unwrap_or("");
                let r = right.unwrap_or("");
                if l != r {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} equals {r:?}")))
                }
            }
            Check::Order(op) => {
                let (l, r) = both()?;
                let (ordering, how) = compare_order(l, r);
                let holds = ordering.is_some_and(|o| match op {
                    ConstraintOperator::Less => o.is_lt(),
                    ConstraintOperator::LessEqual => o.is_le(),
                    ConstraintOperator::Greater => o.is_gt(),
                    _ => o.is_ge(),
                });
                if holds {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} is not {op} {r:?} (compared {how})")))
                }
            }
            Check::Regexp(prepared) => {
                let (l, r) = both()?;
                let compiled;
                let re = match prepared {
                    Prepared::Static(re) => re,
                    Prepared::PerNode => {
                        compiled = compile_regex(r).map_err(|e| self.miss(e))?;
                        &compiled
                    }
                };
                if re.is_match(l) {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} does not match /{r}/")))
                }
            }
            Check::SetContainsAll => {
                let (l, r) = both()?;
                let have = split_set(l);
                let missing: Vec<&str> = r
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !have.contains(item))
                    .collect();
                if missing.is_empty() {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} does not contain {:?}", missing.join(", "))))
                }
            }
            Check::SetContainsAny => {
                let (l, r) = both()?;
                let have = split_set(l);
                if r.split(',').map(str::trim).any(|item| have.contains(item)) {
                    Ok(())
                } else {
                    Err(self.miss(format!("{l:?} contains none of {r:?}")))
                }
            }
            Check::Version(prepared) => {
                let (l, r) = both()?;
                match prepared {
                    Prepared::Static(c) => c.check(l),
                    Prepared::PerNode => GoVersionConstraints::parse(r).and_then(|c| c.check(l)),
                }
                .map_err(|e| self.miss(e))
            }
            Check::Semver(prepared) => {
                let (l, r) = both()?;
                match prepared {
                    Prepared::Static(c) => c.check(l),
                    Prepared::PerNode => SemverConstraints::parse(r).and_then(|c| c.check(l)),
                }
                .map_err(|e| self.miss(e))
            }
        }
    }

    /// Whether the constraint holds on the node.
    pub fn matches(&self, node: &Node) -> bool {
        self.check(node).is_ok()
    }
}

/// Comma-separated items, trimmed, as Nomad's `set_contains*` read them.
fn split_set(text: &str) -> BTreeSet<&str> {
    text.split(',').map(str::trim).collect()
}

/// Nomad's `checkOrder`: integers if both sides parse as `i64`, else floats if
/// both parse as `f64`, else strings. `None` when a float is NaN (every
/// comparison with NaN is false, as in Go). Also says how it compared.
fn compare_order(l: &str, r: &str) -> (Option<std::cmp::Ordering>, &'static str) {
    if let (Ok(a), Ok(b)) = (l.parse::<i64>(), r.parse::<i64>()) {
        return (Some(a.cmp(&b)), "as integers");
    }
    if let (Ok(a), Ok(b)) = (l.parse::<f64>(), r.parse::<f64>()) {
        return (a.partial_cmp(&b), "as numbers");
    }
    (Some(l.cmp(r)), "lexically")
}

/// Checks a constraint against a node; see the module docs for each
/// operator's rule. An unknown operator or an invalid literal regular
/// expression or version constraint never matches. On hot paths, build a
/// [`ConstraintChecker`] once and reuse it.
pub fn check_constraint(constraint: &Constraint, node: &Node) -> Result<(), ConstraintMiss> {
    match ConstraintChecker::new(constraint) {
        Ok(checker) => checker.check(node),
        Err(reason) => Err(ConstraintMiss {
            constraint: render(
                &constraint.l_target,
                &constraint.operand,
                &constraint.r_target,
            ),
            reason,
        }),
    }
}

/// Whether an affinity's rule holds on a node, with the same operator rules as
/// constraints (as Nomad's `checkAffinity`). `distinct_*` operands, which
/// validation rejects in affinities, match every node as in Nomad.
pub fn check_affinity(affinity: &Affinity, node: &Node) -> bool {
    ConstraintChecker::for_affinity(affinity).is_ok_and(|checker| checker.matches(node))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::NodeId;

    fn node(attrs: &[(&str, &str)]) -> Node {
        Node {
            id: NodeId::new("9f2c0a4e-0000-4000-8000-000000000001"),
            name: "worker-1".into(),
            datacenter: "dc1".into(),
            node_class: "compute".into(),
            node_pool: "default".into(),
            attributes: attrs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            meta: [("rack".to_owned(), "r1".to_owned())].into_iter().collect(),
            ..Node::default()
        }
    }

    /// `check(constraint, node_attrs, expected)`: the constraint is
    /// `(ltarget, operator, rtarget)`.
    #[track_caller]
    fn check(constraint: (&str, &str, &str), attrs: &[(&str, &str)], expected: bool) {
        let (l, op, r) = constraint;
        let c = Constraint::new(l, op, r);
        let result = check_constraint(&c, &node(attrs));
        assert_eq!(
            result.is_ok(),
            expected,
            "{l} {op} {r} on {attrs:?}: {result:?}"
        );
        // The affinity path uses the same rules.
        let affinity = Affinity {
            l_target: l.into(),
            operand: op.into(),
            r_target: r.into(),
            weight: None,
        };
        assert_eq!(check_affinity(&affinity, &node(attrs)), expected);
    }

    const K: &str = "${attr.kernel.name}";
    const V: &str = "${attr.v}";

    #[test]
    fn resolves_targets() {
        let n = node(&[("kernel.name", "linux")]);
        assert_eq!(
            resolve_target("${node.unique.id}", &n).as_deref(),
            Some("9f2c0a4e-0000-4000-8000-000000000001")
        );
        assert_eq!(
            resolve_target("${node.unique.name}", &n).as_deref(),
            Some("worker-1")
        );
        assert_eq!(
            resolve_target("${node.datacenter}", &n).as_deref(),
            Some("dc1")
        );
        assert_eq!(
            resolve_target("${node.class}", &n).as_deref(),
            Some("compute")
        );
        assert_eq!(
            resolve_target("${node.pool}", &n).as_deref(),
            Some("default")
        );
        assert_eq!(
            resolve_target("${attr.kernel.name}", &n).as_deref(),
            Some("linux")
        );
        assert_eq!(resolve_target("${meta.rack}", &n).as_deref(), Some("r1"));
        assert_eq!(resolve_target("linux", &n).as_deref(), Some("linux"));
        assert_eq!(resolve_target("", &n).as_deref(), Some(""));
        assert_eq!(resolve_target("${attr.nope}", &n), None);
        assert_eq!(resolve_target("${meta.nope}", &n), None);
        assert_eq!(resolve_target("${node.region}", &n), None);
        assert_eq!(resolve_target("${env.HOME}", &n), None);
    }

    #[test]
    fn equality_and_inequality() {
        let linux = [("kernel.name", "linux")];
        for op in ["=", "==", "is", ""] {
            check((K, op, "linux"), &linux, true);
            check((K, op, "darwin"), &linux, false);
            check((K, op, "linux"), &[], false);
        }
        for op in ["!=", "not"] {
            check((K, op, "darwin"), &linux, true);
            check((K, op, "linux"), &linux, false);
            // A missing attribute is "" and so passes...
            check((K, op, "linux"), &[], true);
            // ...unless compared with "".
            check((K, op, ""), &[], false);
        }
        check(("${node.datacenter}", "=", "dc1"), &[], true);
        check(("${node.class}", "=", "compute"), &[], true);
        check(("${node.pool}", "!=", "default"), &[], false);
        check(("${node.unique.name}", "=", "worker-1"), &[], true);
        check(("${meta.rack}", "=", "${meta.rack}"), &[], true);
        check(("${node.region}", "=", "global"), &[], false);
    }

    #[test]
    fn ordering_numeric_then_lexical() {
        check((V, ">", "9"), &[("v", "10")], true); // numerically
        check((V, "<", "9"), &[("v", "10")], false);
        check((V, ">", "a"), &[("v", "b")], true); // lexically
        check((V, "<", "a"), &[("v", "b")], false);
        check((V, "<", "9"), &[("v", "10a")], true); // lexical: "10a" < "9"
        check((V, ">", "1.5"), &[("v", "10")], true); // as floats
        check((V, "<=", "2.50"), &[("v", "2.5")], true);
        check((V, ">=", "2.5"), &[("v", "2.5")], true);
        check((V, ">", "2.5"), &[("v", "2.5")], false);
        check((V, "<=", "-3"), &[("v", "-4")], true);
        check((V, ">=", "nan"), &[("v", "nan")], false); // NaN never compares
        check((V, ">", "1"), &[], false);
        check((V, "<", "${attr.missing}"), &[("v", "1")], false);
    }

    #[test]
    fn regexp_is_unanchored() {
        check((K, "regexp", "inu"), &[("kernel.name", "linux")], true);
        check((K, "regexp", "^inu"), &[("kernel.name", "linux")], false);
        check((K, "regexp", "^lin.x$"), &[("kernel.name", "linux")], true);
        check(
            (K, "regexp", "^(linux|darwin)$"),
            &[("kernel.name", "windows")],
            false,
        );
        check((K, "regexp", "linux"), &[], false);
        check((K, "regexp", "("), &[("kernel.name", "linux")], false);
        check(
            (K, "regexp", "${meta.rack}"),
            &[("kernel.name", "r1-linux")],
            true,
        );
    }

    #[test]
    fn set_operators_trim_whitespace() {
        let attrs = [("set", "a, b ,c")];
        let s = "${attr.set}";
        for op in ["set_contains", "set_contains_all"] {
            check((s, op, "a,b"), &attrs, true);
            check((s, op, " c , a "), &attrs, true);
            check((s, op, "a,d"), &attrs, false);
            check((s, op, "a"), &[], false);
        }
        check((s, "set_contains_any", "d, b"), &attrs, true);
        check((s, "set_contains_any", "d,e"), &attrs, false);
        check((s, "set_contains_any", "a"), &[], false);
    }

    #[test]
    fn version_and_semver_differ() {
        let v = |value| [("v", value)];
        check((V, "version", "~> 1.2"), &v("1.9"), true);
        check((V, "version", "~> 1.2"), &v("2.0"), false);
        check((V, "version", ">= 1.0, < 2"), &v("1.4.2"), true);
        // Pre-releases need a pre-release constraint for `version`...
        check((V, "version", ">= 1.0"), &v("1.1.0-beta"), false);
        check((V, "version", ">= 1.1.0-alpha"), &v("1.1.0-beta"), true);
        // ...but not for `semver`.
        check((V, "semver", ">= 1.0.0"), &v("1.1.0-beta"), true);
        // `~>` is only for `version`.
        check((V, "semver", "~> 1.2"), &v("1.9.0"), false);
        // Pre-release ordering: SemVer says alpha < alpha.beta, go-version the reverse.
        check((V, "semver", "< 1.0.0-alpha.beta"), &v("1.0.0-alpha"), true);
        check(
            (V, "version", "< 1.0.0-alpha.beta"),
            &v("1.0.0-alpha"),
            false,
        );
        check((V, "version", ">= 1.0"), &v("not-a-version"), false);
        check((V, "semver", ">= 1.0.0"), &v("1.2.3.4"), false);
        check((V, "version", ">= 1.0"), &[], false);
        check((V, "version", ">= x"), &v("1.0"), false);
        check((V, "version", "${meta.rack}"), &v("1.0"), false);
    }

    #[test]
    fn set_and_placement_operators() {
        check((K, "is_set", ""), &[("kernel.name", "linux")], true);
        check((K, "is_set", ""), &[], false);
        check((K, "is_not_set", ""), &[], true);
        check((K, "is_not_set", ""), &[("kernel.name", "linux")], false);
        check(("${node.unique.id}", "distinct_hosts", ""), &[], true);
        check(("${meta.rack}", "distinct_property", "2"), &[], true);
        check((K, "~=", "linux"), &[("kernel.name", "linux")], false);
    }

    #[test]
    fn misses_explain_themselves() {
        let c = Constraint::new(K, "=", "linux");
        let miss = check_constraint(&c, &node(&[])).unwrap_err();
        assert_eq!(miss.constraint, "${attr.kernel.name} = linux");
        assert_eq!(miss.reason, "attribute is not set on the node");
        let miss = check_constraint(&c, &node(&[("kernel.name", "darwin")])).unwrap_err();
        assert_eq!(miss.reason, r#""darwin" does not equal "linux""#);
        assert_eq!(
            miss.to_string(),
            r#"constraint `${attr.kernel.name} = linux` not met: "darwin" does not equal "linux""#
        );
        let miss = check_constraint(&Constraint::new(K, "is_set", ""), &node(&[])).unwrap_err();
        assert_eq!(miss.constraint, "${attr.kernel.name} is_set");
        let miss =
            check_constraint(&Constraint::new(V, ">", "9"), &node(&[("v", "8")])).unwrap_err();
        assert_eq!(miss.reason, r#""8" is not > "9" (compared as integers)"#);
        let miss = check_constraint(&Constraint::new(K, "bogus", "x"), &node(&[])).unwrap_err();
        assert_eq!(miss.reason, r#"unknown operator "bogus""#);
    }

    #[test]
    fn checker_compiles_literals_once() {
        assert!(ConstraintChecker::new(&Constraint::new(K, "regexp", "(")).is_err());
        assert!(ConstraintChecker::new(&Constraint::new(K, "version", "~>")).is_err());
        assert!(ConstraintChecker::new(&Constraint::new(K, "semver", "~> 1.0")).is_err());
        assert!(ConstraintChecker::new(&Constraint::new(K, "regexp", "${meta.re}")).is_ok());
        let checker = ConstraintChecker::new(&Constraint::new(K, "regexp", "^lin")).unwrap();
        assert!(matches!(checker.check, Check::Regexp(Prepared::Static(_))));
        assert!(checker.matches(&node(&[("kernel.name", "linux")])));
        assert!(!checker.matches(&node(&[("kernel.name", "darwin")])));
        assert_eq!(checker.rendered(), "${attr.kernel.name} regexp ^lin");
    }
}
