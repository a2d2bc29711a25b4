//! Jobs given as Nomad API JSON (`{"Job": {...}}` or a bare job object), as
//! `nomad job run -output` prints them or an API client sends them.

use super::ParsedJob;
use super::diagnostic::{Diagnostic, Diagnostics, Position, Severity};
use crate::model::{Job, JobWrapper};

/// Parses, canonicalises and validates a job in Nomad API JSON. A syntax or
/// type error names the line, column and JSON field path (`Job.TaskGroups[0].Count`).
pub fn parse_json(source: &str, file_name: &str) -> Result<ParsedJob, Diagnostics> {
    let error = |line: usize, column: usize, path: Option<String>, message: String| Diagnostic {
        severity: Severity::Error,
        file: file_name.to_owned(),
        position: Position { line, column },
        path,
        message,
    };
    // One cheap pass decides the shape (and reports syntax errors) without
    // building a value tree; the typed pass then reports field paths.
    #[derive(serde::Deserialize)]
    struct Shape {
        #[serde(rename = "Job")]
        job: Option<serde::de::IgnoredAny>,
    }
    let shape: Shape = serde_json::from_str(source).map_err(|e| {
        Diagnostics(vec![error(
            e.line(),
            e.column(),
            None,
            format!("invalid JSON: {e}"),
        )])
    })?;
    let wrapped = shape.job.is_some();
    let result: Result<Job, _> = if wrapped {
        let deserializer = &mut serde_json::Deserializer::from_str(source);
        serde_path_to_error::deserialize::<_, JobWrapper>(deserializer).map(|w| w.job)
    } else {
        let deserializer = &mut serde_json::Deserializer::from_str(source);
        serde_path_to_error::deserialize::<_, Job>(deserializer)
    };
    let mut job = result.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let path = if wrapped || path == "." {
            path
        } else {
            format!("Job.{path}")
        };
        Diagnostics(vec![error(
            inner.line(),
            inner.column(),
            Some(path),
            inner.to_string(),
        )])
    })?;
    job.canonicalize();
    let mut diagnostics = Vec::new();
    for problem in crate::model::validate::validate_job(&job) {
        diagnostics.push(Diagnostic {
            severity: Severity::from_warning(problem.warning),
            file: file_name.to_owned(),
            position: Position { line: 1, column: 1 },
            path: Some(problem.path.to_json()),
            message: problem.message,
        });
    }
    ParsedJob::from_diagnostics(job, Diagnostics(diagnostics))
}
