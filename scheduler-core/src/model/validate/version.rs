//! Version constraints in the syntax of HashiCorp's go-version library, which
//! Nomad's `version` and `semver` constraint operators read: comma-separated
//! clauses, each an optional operator (`=`, `!=`, `>`, `<`, `>=`, `<=`, `~>`)
//! and a version such as `1.2`, `v1.2.3`, `1.2.3-beta.1+build.5` or `1.2rc1`.

use std::fmt;

/// A version: numeric segments, an optional pre-release and build metadata.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Version {
    /// The numeric segments (`1.2.3` gives `[1, 2, 3]`).
    pub segments: Vec<u64>,
    /// The pre-release, without its leading `-` (`beta.1`), or empty.
    pub prerelease: String,
    /// The build metadata, without its leading `+`, or empty.
    pub metadata: String,
}

/// The comparison of one constraint clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionOp {
    /// `=` or no operator.
    Equal,
    /// `!=`.
    NotEqual,
    /// `>`.
    Greater,
    /// `<`.
    Less,
    /// `>=`.
    GreaterEqual,
    /// `<=`.
    LessEqual,
    /// `~>`: at least this version, below the next release of its
    /// second-to-last segment (`~> 1.2` is `>= 1.2, < 2`).
    Pessimistic,
}

impl VersionOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionOp::Equal => "=",
            VersionOp::NotEqual => "!=",
            VersionOp::Greater => ">",
            VersionOp::Less => "<",
            VersionOp::GreaterEqual => ">=",
            VersionOp::LessEqual => "<=",
            VersionOp::Pessimistic => "~>",
        }
    }
}

/// One clause of a constraint: an operator and a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionClause {
    /// The comparison.
    pub op: VersionOp,
    /// The version compared with.
    pub version: Version,
}

/// Why a version or constraint does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionError(pub String);

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VersionError {}

/// Operators, longest first so `>=` wins over `>`.
const OPERATORS: [(&str, VersionOp); 7] = [
    (">=", VersionOp::GreaterEqual),
    ("<=", VersionOp::LessEqual),
    ("!=", VersionOp::NotEqual),
    ("~>", VersionOp::Pessimistic),
    ("=", VersionOp::Equal),
    (">", VersionOp::Greater),
    ("<", VersionOp::Less),
];

/// Parses a constraint such as `>= 1.0, < 2.0.1` or `~> 1.2`.
pub fn parse_constraints(text: &str) -> Result<Vec<VersionClause>, VersionError> {
    text.split(',').map(parse_clause).collect()
}

/// Parses one clause: an optional operator and a version.
pub fn parse_clause(text: &str) -> Result<VersionClause, VersionError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(VersionError("a clause is empty".to_owned()));
    }
    let (op, rest) = OPERATORS
        .iter()
        .find_map(|(symbol, op)| trimmed.strip_prefix(symbol).map(|rest| (*op, rest)))
        .unwrap_or((VersionOp::Equal, trimmed));
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Err(VersionError(format!(
            "{:?} has no version after the operator",
            trimmed
        )));
    }
    let version = parse_version(rest)?;
    Ok(VersionClause { op, version })
}

/// Parses a version: `[v]N(.N)*`, then an optional pre-release (`-beta.1`,
/// or letters directly after the numbers as in `1.2rc1`), then optional
/// build metadata (`+build.5`).
pub fn parse_version(text: &str) -> Result<Version, VersionError> {
    let not_a_version = || VersionError(format!("{text:?} is not a version"));
    let body = text.strip_prefix('v').unwrap_or(text);
    let numeric_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (numbers, mut rest) = body.split_at(numeric_end);
    // A trailing dot belongs to nothing ("1." is not a version).
    if numbers.is_empty() || numbers.starts_with('.') || numbers.ends_with('.') {
        return Err(not_a_version());
    }
    let mut segments = Vec::new();
    for part in numbers.split('.') {
        if part.is_empty() {
            return Err(not_a_version());
        }
        let value = part
            .parse::<u64>()
            .map_err(|_| VersionError(format!("segment {part:?} of {text:?} is too large")))?;
        segments.push(value);
    }

    let mut prerelease = String::new();
    if let Some(after_dash) = rest.strip_prefix('-') {
        let end = after_dash.find('+').unwrap_or(after_dash.len());
        prerelease = after_dash[..end].to_owned();
        rest = &after_dash[end..];
        if !valid_identifiers(&prerelease) {
            return Err(VersionError(format!(
                "pre-release {prerelease:?} of {text:?} is not valid"
            )));
        }
    } else if rest.starts_with(|c: char| c.is_ascii_alphabetic() || c == '~') {
        let end = rest.find('+').unwrap_or(rest.len());
        prerelease = rest[..end].to_owned();
        rest = &rest[end..];
        if !valid_identifiers(&prerelease) {
            return Err(VersionError(format!(
                "pre-release {prerelease:?} of {text:?} is not valid"
            )));
        }
    }

    let mut metadata = String::new();
    if let Some(after_plus) = rest.strip_prefix('+') {
        metadata = after_plus.to_owned();
        rest = "";
        if !valid_identifiers(&metadata) {
            return Err(VersionError(format!(
                "build metadata {metadata:?} of {text:?} is not valid"
            )));
        }
    }
    let rest = rest.trim_end();
    if !rest.is_empty() {
        return Err(not_a_version());
    }
    Ok(Version {
        segments,
        prerelease,
        metadata,
    })
}

/// Dot-separated, non-empty identifiers of letters, digits, `-` and `~`.
fn valid_identifiers(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '~')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_go_version_constraints() {
        let clauses = parse_constraints("~> 1.2").unwrap();
        assert_eq!(clauses.len(), 1);
        assert_eq!(clauses[0].op, VersionOp::Pessimistic);
        assert_eq!(clauses[0].version.segments, vec![1, 2]);

        let clauses = parse_constraints(">= 1.0, < 2.0.1").unwrap();
        assert_eq!(clauses.len(), 2);
        assert_eq!(clauses[0].op, VersionOp::GreaterEqual);
        assert_eq!(clauses[1].op, VersionOp::Less);
        assert_eq!(clauses[1].version.segments, vec![2, 0, 1]);

        let clauses = parse_constraints("= 1.2.3-beta+meta").unwrap();
        assert_eq!(clauses[0].op, VersionOp::Equal);
        assert_eq!(clauses[0].version.prerelease, "beta");
        assert_eq!(clauses[0].version.metadata, "meta");

        let clauses = parse_constraints("1.2").unwrap();
        assert_eq!(clauses[0].op, VersionOp::Equal);

        for ok in [
            ">= 0.6.1, < 2",
            "!=1.3",
            "v1.2.3",
            "<=1.2rc1",
            ">1.0.0-alpha.1+build.7",
            "  >=  3  ",
        ] {
            assert!(parse_constraints(ok).is_ok(), "{ok:?} should parse");
        }
    }

    #[test]
    fn rejects_malformed_constraints() {
        for bad in [
            ">= x", "~>", ">>1", "", "1.", ".1", "1..2", ">= 1,", "1.2-", "1.2+", "1.2 3", "=< 1",
        ] {
            assert!(
                parse_constraints(bad).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn parses_versions() {
        let version = parse_version("v10.20.30-rc.1+sha.5114f85").unwrap();
        assert_eq!(version.segments, vec![10, 20, 30]);
        assert_eq!(version.prerelease, "rc.1");
        assert_eq!(version.metadata, "sha.5114f85");
        assert!(parse_version("99999999999999999999999").is_err());
    }
}
