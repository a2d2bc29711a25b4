//! Matching versions against the constraints of Nomad's `version` and
//! `semver` operators.
//!
//! Both operators read the constraint with go-version's syntax (parsed by
//! [`crate::model::validate::version`]); they differ in how they compare:
//!
//! - [`GoVersionConstraints`] (`version`) reproduces HashiCorp go-version:
//!   `~>` is pessimistic (`~> 1.2` is `>= 1.2, < 2`; `~> 1.2.3` is
//!   `>= 1.2.3, < 1.3`); a pre-release version only satisfies `<`, `<=`, `>`,
//!   `>=` and `~>` clauses that themselves carry a pre-release on the same
//!   numeric segments (so `>= 1.0` does **not** match `1.1.0-beta`); and
//!   pre-releases order with go-version's rules, including its quirk that
//!   `1.0-alpha` sorts *above* `1.0-alpha.beta`.
//! - [`SemverConstraints`] (`semver`) compares with strict SemVer 2.0
//!   precedence (the `semver` crate's [`semver::Version::cmp_precedence`]):
//!   no `~>`, no pre-release exclusion (`>= 1.0.0` matches `1.1.0-beta`),
//!   pre-release identifiers must be valid SemVer (no leading zeros in numeric
//!   ones) and a version has at most three numeric segments. As in Nomad, a
//!   leading `v` and fewer than three segments (`1.2` is `1.2.0`) are
//!   accepted on both sides.

use std::cmp::Ordering;

use crate::model::validate::version::{Version, VersionOp, parse_constraints, parse_version};

/// A version as go-version holds it: numeric segments padded with zeros to at
/// least three, the number of segments written, and the pre-release.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GoVersion {
    segments: Vec<u64>,
    written: usize,
    prerelease: String,
}

impl GoVersion {
    fn new(version: Version) -> Self {
        let written = version.segments.len();
        let mut segments = version.segments;
        while segments.len() < 3 {
            segments.push(0);
        }
        GoVersion {
            segments,
            written,
            prerelease: version.prerelease,
        }
    }

    /// Parses a node's version as go-version's `NewVersion` does (no
    /// surrounding whitespace).
    fn parse(text: &str) -> Result<Self, String> {
        if text.trim() != text {
            return Err(format!("{text:?} is not a version"));
        }
        parse_version(text)
            .map(GoVersion::new)
            .map_err(|e| e.to_string())
    }

    /// go-version's `Version.Compare`.
    fn compare(&self, other: &GoVersion) -> Ordering {
        if self.segments == other.segments {
            return match (self.prerelease.is_empty(), other.prerelease.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prereleases(&self.prerelease, &other.prerelease),
            };
        }
        // Segments of different lengths compare as if zero-padded; note that
        // go-version then ignores pre-releases (`1.2.3.0-beta` equals `1.2.3`).
        let longest = self.segments.len().max(other.segments.len());
        for i in 0..longest {
            match (self.segments.get(i), other.segments.get(i)) {
                (Some(a), Some(b)) => match a.cmp(b) {
                    Ordering::Equal => continue,
                    unequal => return unequal,
                },
                (None, _) => {
                    return if other.segments[i..].iter().all(|&s| s == 0) {
                        Ordering::Equal
                    } else {
                        Ordering::Less
                    };
                }
                (_, None) => {
                    return if self.segments[i..].iter().all(|&s| s == 0) {
                        Ordering::Equal
                    } else {
                        Ordering::Greater
                    };
                }
            }
        }
        Ordering::Equal
    }
}

/// go-version's `comparePrereleases`: dot-separated parts compared in turn.
fn compare_prereleases(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a_parts: Vec<&str> = a.split('.').collect();
    let b_parts: Vec<&str> = b.split('.').collect();
    for i in 0..a_parts.len().max(b_parts.len()) {
        let pa = a_parts.get(i).copied().unwrap_or("");
        let pb = b_parts.get(i).copied().unwrap_or("");
        match compare_part(pa, pb) {
            Ordering::Equal => continue,
            unequal => return unequal,
        }
    }
    Ordering::Equal
}

/// go-version's `comparePart`, quirks included: a missing part is lower than
/// a numeric one but *higher* than an alphanumeric one.
fn compare_part(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let a_int = a.parse::<i64>().ok();
    let b_int = b.parse::<i64>().ok();
    if a.is_empty() {
        return if b_int.is_some() {
            Ordering::Less
        } else {
            Ordering::Greater
        };
    }
    if b.is_empty() {
        return if a_int.is_some() {
            Ordering::Greater
        } else {
            Ordering::Less
        };
    }
    match (a_int, b_int) {
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Some(x), Some(y)) => {
            if x > y {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

/// go-version's `prereleaseCheck`: a pre-release version only matches a
/// clause with a pre-release on the same segments.
fn prerelease_check(v: &GoVersion, c: &GoVersion) -> bool {
    match (!v.prerelease.is_empty(), !c.prerelease.is_empty()) {
        (true, true) => v.segments == c.segments,
        (true, false) => false,
        _ => true,
    }
}

fn go_clause_holds(op: VersionOp, v: &GoVersion, c: &GoVersion) -> bool {
    match op {
        VersionOp::Equal => v.compare(c) == Ordering::Equal,
        VersionOp::NotEqual => v.compare(c) != Ordering::Equal,
        VersionOp::Greater => prerelease_check(v, c) && v.compare(c) == Ordering::Greater,
        VersionOp::Less => prerelease_check(v, c) && v.compare(c) == Ordering::Less,
        VersionOp::GreaterEqual => prerelease_check(v, c) && v.compare(c) != Ordering::Less,
        VersionOp::LessEqual => prerelease_check(v, c) && v.compare(c) != Ordering::Greater,
        VersionOp::Pessimistic => pessimistic(v, c),
    }
}

/// go-version's `constraintPessimistic`.
fn pessimistic(v: &GoVersion, c: &GoVersion) -> bool {
    if !prerelease_check(v, c) || (!c.prerelease.is_empty() && v.prerelease.is_empty()) {
        return false;
    }
    if v.compare(c) == Ordering::Less {
        return false;
    }
    let cs = c.segments.len();
    if cs > v.segments.len() {
        return false;
    }
    // All written segments but the last must be equal.
    for i in 0..c.written.saturating_sub(1) {
        if v.segments[i] != c.segments[i] {
            return false;
        }
    }
    c.segments[cs - 1] <= v.segments[cs - 1]
}

/// A parsed `version` constraint (go-version semantics), checked against many
/// versions without re-parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoVersionConstraints {
    text: String,
    clauses: Vec<(VersionOp, GoVersion)>,
}

impl GoVersionConstraints {
    /// Parses a constraint such as `>= 1.2, < 2` or `~> 1.2`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let clauses = parse_constraints(text)
            .map_err(|e| format!("version constraint {text:?} does not parse: {e}"))?
            .into_iter()
            .map(|clause| (clause.op, GoVersion::new(clause.version)))
            .collect();
        Ok(GoVersionConstraints {
            text: text.to_owned(),
            clauses,
        })
    }

    /// `Ok` if `version` satisfies every clause; otherwise why not.
    pub fn check(&self, version: &str) -> Result<(), String> {
        let v = GoVersion::parse(version)?;
        for (op, c) in &self.clauses {
            if !go_clause_holds(*op, &v, c) {
                let prerelease_note = if !v.prerelease.is_empty()
                    && op_excludes_prereleases(*op)
                    && !prerelease_check(&v, c)
                {
                    " (a pre-release only matches a constraint with a pre-release on the same version)"
                } else {
                    ""
                };
                return Err(format!(
                    "version {version:?} does not satisfy {:?}{prerelease_note}",
                    self.text.trim()
                ));
            }
        }
        Ok(())
    }
}

fn op_excludes_prereleases(op: VersionOp) -> bool {
    !matches!(op, VersionOp::Equal | VersionOp::NotEqual)
}

/// Converts a parsed go-version into a strict SemVer 2.0 version.
fn to_semver(version: &Version, text: &str) -> Result<semver::Version, String> {
    if version.segments.len() > 3 {
        return Err(format!(
            "{text:?} is not a semantic version (more than three numeric segments)"
        ));
    }
    let segment = |i: usize| version.segments.get(i).copied().unwrap_or(0);
    let pre = semver::Prerelease::new(&version.prerelease)
        .map_err(|e| format!("{text:?} is not a semantic version: {e}"))?;
    let build = semver::BuildMetadata::new(&version.metadata)
        .map_err(|e| format!("{text:?} is not a semantic version: {e}"))?;
    Ok(semver::Version {
        major: segment(0),
        minor: segment(1),
        patch: segment(2),
        pre,
        build,
    })
}

/// A parsed `semver` constraint (strict SemVer 2.0 ordering), checked against
/// many versions without re-parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SemverConstraints {
    text: String,
    clauses: Vec<(VersionOp, semver::Version)>,
}

impl SemverConstraints {
    /// Parses a constraint such as `>= 1.2.0, < 2.0.0`. `~>` is rejected, as
    /// in Nomad's semver constraint parser.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parsed = parse_constraints(text)
            .map_err(|e| format!("semver constraint {text:?} does not parse: {e}"))?;
        let mut clauses = Vec::with_capacity(parsed.len());
        for clause in parsed {
            if clause.op == VersionOp::Pessimistic {
                return Err(format!(
                    "semver constraint {text:?} uses \"~>\", which only the version operator supports"
                ));
            }
            clauses.push((clause.op, to_semver(&clause.version, text)?));
        }
        Ok(SemverConstraints {
            text: text.to_owned(),
            clauses,
        })
    }

    /// `Ok` if `version` satisfies every clause; otherwise why not.
    pub fn check(&self, version: &str) -> Result<(), String> {
        if version.trim() != version {
            return Err(format!("{version:?} is not a version"));
        }
        let parsed = parse_version(version).map_err(|e| e.to_string())?;
        let v = to_semver(&parsed, version)?;
        for (op, c) in &self.clauses {
            let ord = v.cmp_precedence(c);
            let holds = match op {
                VersionOp::Equal => ord == Ordering::Equal,
                VersionOp::NotEqual => ord != Ordering::Equal,
                VersionOp::Greater => ord == Ordering::Greater,
                VersionOp::Less => ord == Ordering::Less,
                VersionOp::GreaterEqual => ord != Ordering::Less,
                VersionOp::LessEqual => ord != Ordering::Greater,
                VersionOp::Pessimistic => false,
            };
            if !holds {
                return Err(format!(
                    "version {version:?} does not satisfy {:?}",
                    self.text.trim()
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(constraint: &str, version: &str) -> bool {
        GoVersionConstraints::parse(constraint)
            .unwrap()
            .check(version)
            .is_ok()
    }

    fn sem(constraint: &str, version: &str) -> bool {
        SemverConstraints::parse(constraint)
            .unwrap()
            .check(version)
            .is_ok()
    }

    #[test]
    fn go_version_cases() {
        let cases = [
            ("~> 1.2", "1.2", true),
            ("~> 1.2", "1.9", true),
            ("~> 1.2", "1.9.7", true),
            ("~> 1.2", "2.0", false),
            ("~> 1.2", "1.1", false),
            ("~> 1.2.3", "1.2.9", true),
            ("~> 1.2.3", "1.3.0", false),
            ("~> 1.2.3", "1.2.2", false),
            ("~> 1", "1.9", true),
            ("~> 1", "2.0", true), // go-version: a single segment pins nothing
            ("~> 1.0-beta", "1.0-beta.2", true),
            ("~> 1.0-beta", "1.0", false),
            ("~> 1.2", "1.3-beta", false),
            (">= 1.0", "1.1.0-beta", false),
            (">= 1.1.0-alpha", "1.1.0-beta", true),
            (">= 1.0.0-alpha", "1.1.0-beta", false), // different segments
            ("= 1.1.0-beta", "1.1.0-beta", true),
            ("!= 1.1.0-beta", "1.1.0-rc1", true),
            (">= 1.0, < 2", "1.5", true),
            (">= 1.0, < 2", "2.0.0", false),
            ("= 1.2", "1.2.0", true),
            ("= 1.2", "v1.2.0+build.4", true),
            ("> 1.0-alpha.beta", "1.0-alpha", true), // go-version quirk
            ("< 1.0-rc.11", "1.0-rc.2", true),
            ("> 1.0-1", "1.0-alpha", true),
            ("1.2.3", "1.2.3.0", true),
        ];
        for (constraint, version, expected) in cases {
            assert_eq!(
                go(constraint, version),
                expected,
                "version {version:?} against {constraint:?}"
            );
        }
        assert!(GoVersionConstraints::parse(">= nope").is_err());
        assert!(
            GoVersionConstraints::parse(">= 1")
                .unwrap()
                .check("banana")
                .is_err()
        );
        assert!(
            GoVersionConstraints::parse(">= 1")
                .unwrap()
                .check(" 1.0")
                .is_err()
        );
    }

    #[test]
    fn semver_cases() {
        let cases = [
            (">= 1.0.0", "1.1.0-beta", true),
            (">= 1.0.0, < 2.0.0", "2.0.0-rc.1", true),
            ("< 1.0.0-alpha.beta", "1.0.0-alpha", true),
            ("< 1.0.0", "1.0.0-alpha", true),
            ("= 1.2", "1.2.0", true),
            ("= 1.2.0", "v1.2.0+build.9", true),
            ("> 1.0.0-rc.2", "1.0.0-rc.11", true),
            ("!= 1.0.0", "1.0.0", false),
            ("<= 1.0.0", "1.0.1", false),
        ];
        for (constraint, version, expected) in cases {
            assert_eq!(
                sem(constraint, version),
                expected,
                "version {version:?} against {constraint:?}"
            );
        }
        assert!(SemverConstraints::parse("~> 1.2").is_err());
        assert!(SemverConstraints::parse(">= 1.2.3.4").is_err());
        assert!(SemverConstraints::parse(">= 1.0.0-01").is_err());
        let c = SemverConstraints::parse(">= 1.0.0").unwrap();
        assert!(c.check("1.2.3.4").is_err());
        assert!(c.check("x").is_err());
    }
}
