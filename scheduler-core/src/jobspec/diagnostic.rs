//! Located problems found while reading a job spec.
//!
//! Every problem carries the file, line and column it is about and, where it
//! concerns part of a job, the path in the job (`job "web" > group "api" >
//! task "srv" > resources`). Parsing never stops at the first problem: all of
//! them are collected and returned together.

use std::fmt;
use std::ops::Range;

/// Whether a problem rejects the job or is only worth knowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The job is rejected.
    Error,
    /// The job is accepted; something in it is ignored or deprecated.
    Warning,
}

impl Severity {
    /// `Warning` when `warning` is set, else `Error`: how model-level
    /// problems (which carry a flag) become diagnostics.
    pub fn from_warning(warning: bool) -> Severity {
        if warning {
            Severity::Warning
        } else {
            Severity::Error
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A position in a source file, both one-based.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column in characters, from 1.
    pub column: usize,
}

/// One problem in a job spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The file name as given by the caller (e.g. the path on the command line).
    pub file: String,
    /// Where in the file.
    pub position: Position,
    /// The path in the job (`job "web" > group "api" > task "srv"`), when known.
    pub path: Option<String>,
    /// What is wrong, in one sentence a user can act on.
    pub message: String,
}

impl Diagnostic {
    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    /// `FILE:LINE:COL: error: MESSAGE (in PATH)`, the format compilers use so
    /// editors can jump to it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}: {}",
            self.file, self.position.line, self.position.column, self.severity, self.message
        )?;
        if let Some(path) = &self.path {
            write!(f, " (in {path})")?;
        }
        Ok(())
    }
}

/// All problems found in one job spec, errors first in file order, then warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl Diagnostics {
    /// Whether any problem is an error.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(Diagnostic::is_error)
    }

    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| d.is_error())
    }

    /// The warnings only.
    pub fn warnings(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter().filter(|d| !d.is_error())
    }

    /// Sorts by severity, then position, and drops exact duplicates.
    pub fn sort(&mut self) {
        self.0.sort_by(|a, b| {
            (a.severity, a.position, &a.message).cmp(&(b.severity, b.position, &b.message))
        });
        self.0.dedup();
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

/// Maps byte offsets in one source text to line and column.
#[derive(Debug, Clone)]
pub struct SourceMap<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceMap<'a> {
    /// Indexes the line starts of `text`.
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Self { text, line_starts }
    }

    /// The source text.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Line and column (in characters) of a byte offset; offsets past the end
    /// are clamped to the end.
    pub fn position(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let line_index = match self.line_starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let line_start = self.line_starts[line_index];
        let column = self
            .text
            .get(line_start..offset)
            .map_or(offset - line_start, |s| s.chars().count());
        Position {
            line: line_index + 1,
            column: column + 1,
        }
    }

    /// The text covered by a byte range, or "" if the range is not valid.
    pub fn slice(&self, span: Range<usize>) -> &'a str {
        self.text.get(span).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_offsets_to_lines_and_columns() {
        let map = SourceMap::new("ab\ncdé\n\nx");
        assert_eq!(map.position(0), Position { line: 1, column: 1 });
        assert_eq!(map.position(3), Position { line: 2, column: 1 });
        assert_eq!(map.position(7), Position { line: 2, column: 4 });
        assert_eq!(map.position(9), Position { line: 4, column: 1 });
        assert_eq!(map.position(999), Position { line: 4, column: 2 });
    }

    #[test]
    fn displays_like_a_compiler() {
        let d = Diagnostic {
            severity: Severity::Error,
            file: "web.hcl".into(),
            position: Position { line: 3, column: 5 },
            path: Some("job \"web\" > group \"api\"".into()),
            message: "count must not be negative".into(),
        };
        assert_eq!(
            d.to_string(),
            "web.hcl:3:5: error: count must not be negative (in job \"web\" > group \"api\")"
        );
    }
}
