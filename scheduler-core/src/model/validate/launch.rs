//! How a job is launched: the `periodic` block (with a cron syntax check)
//! and the `parameterized` block.

use super::Problems;
use crate::model::{FieldPath, Job};

/// The job's `periodic` block.
pub(super) fn periodic(job: &Job, path: &FieldPath, out: &mut Problems) {
    let Some(periodic) = &job.periodic else {
        return;
    };
    if !periodic.enabled() {
        return;
    }
    let periodic_path = path.field("periodic", "Periodic");
    if !job.job_type.is_batch_like() {
        out.error(
            periodic_path.clone(),
            format!(
                "periodic jobs must be of type batch or sysbatch, not {}: set type = \"batch\"",
                job.job_type
            ),
        );
    }
    match periodic.spec_type.as_str() {
        "" | "cron" => {}
        other => out.error(
            periodic_path.clone(),
            format!("periodic spec type {other:?} is unknown: only cron is supported"),
        ),
    }
    if periodic.all_specs().next().is_none() {
        out.error(
            periodic_path.field("cron", "Spec"),
            "the periodic block has no schedule: set cron, as in cron = \"*/15 * * * *\"",
        );
    }
    if !periodic.spec.is_empty()
        && let Some(problem) = cron_problem(&periodic.spec)
    {
        out.error(
            periodic_path.field("cron", "Spec"),
            format!("cron {:?} is invalid: {problem}", periodic.spec),
        );
    }
    for spec in &periodic.specs {
        if let Some(problem) = cron_problem(spec) {
            out.error(
                periodic_path.field("crons", "Specs"),
                format!("cron {spec:?} is invalid: {problem}"),
            );
        }
    }
}

/// A basic syntax check of a cron expression as Nomad's cron library reads
/// it: a predefined `@` schedule, or 5 to 7 fields of digits, names, `*`,
/// `?`, `/`, `,`, `-`, `L`, `W` and `#`.
pub(super) fn cron_problem(spec: &str) -> Option<String> {
    let spec = spec.trim();
    if spec.starts_with('@') {
        return match spec {
            "@yearly" | "@annually" | "@monthly" | "@weekly" | "@daily" | "@midnight"
            | "@hourly" => None,
            _ => Some(format!(
                "{spec:?} is not a predefined schedule: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
            )),
        };
    }
    let fields: Vec<&str> = spec.split_whitespace().collect();
    if !(5..=7).contains(&fields.len()) {
        return Some(format!(
            "it has {} fields: write 5 (minute hour day-of-month month day-of-week), optionally with seconds first and a year last",
            fields.len()
        ));
    }
    for field in fields {
        if let Some(bad) = field.chars().find(|c| {
            !(c.is_ascii_alphanumeric() || matches!(c, '*' | '?' | '/' | ',' | '-' | '#'))
        }) {
            return Some(format!(
                "field {field:?} contains {bad:?}: use numbers, names, *, ?, /, ',' and -"
            ));
        }
    }
    None
}

/// The job's `parameterized` block.
pub(super) fn parameterized(job: &Job, path: &FieldPath, out: &mut Problems) {
    if let Some(config) = &job.parameterized_job {
        let block_path = path.field("parameterized", "ParameterizedJob");
        if job.is_parameterized() && !job.job_type.is_batch_like() {
            out.error(
                block_path.clone(),
                format!("parameterized jobs must be of type batch or sysbatch, not {}: set type = \"batch\"", job.job_type),
            );
        }
        match config.payload.as_str() {
            "" | "optional" | "required" | "forbidden" => {}
            other => out.error(
                block_path.field("payload", "Payload"),
                format!("payload {other:?} is unknown: use optional, required or forbidden"),
            ),
        }
        for key in &config.meta_required {
            if config.meta_optional.contains(key) {
                out.error(
                    block_path.field("meta_optional", "MetaOptional"),
                    format!("meta key {key:?} is listed as both required and optional: keep it in one list"),
                );
            }
        }
    }
}
