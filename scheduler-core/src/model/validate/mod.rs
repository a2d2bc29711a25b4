//! Job validation: Nomad's rules for what a job may say, run on the model so
//! HCL files and API JSON get the same checks. Every problem names its place
//! as a [`FieldPath`].
//!
//! Validation runs on a canonicalised job (see
//! [`Job::canonicalize`](crate::model::Job::canonicalize)), so defaulted
//! fields are set and inherited policies are merged into each group. A
//! problem is reported where the offending value was written: a job-level
//! `update` block is checked at the job, and the copies groups inherit only
//! report what the group itself changed.
//!
//! The rules are split by concept: this file holds the job-level rules and
//! the walk over groups; `group` the group rules, `task` the task rules,
//! `placement` constraints, affinities and spreads, `network` ports,
//! services and checks, `policies` the update, restart, reschedule and
//! migrate blocks, `disconnect` the disconnect rules, `launch` the periodic
//! and parameterized blocks, `scaling` the autoscaling policies, and
//! [`version`] the go-version constraint syntax of the `version` and
//! `semver` operators.

mod disconnect;
mod group;
mod launch;
mod network;
mod placement;
mod policies;
mod scaling;
mod task;
pub mod version;

#[cfg(test)]
mod tests;

use super::{FieldPath, Job, JobType};

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationProblem {
    /// Where in the job.
    pub path: FieldPath,
    /// What is wrong, in a sentence a user can act on.
    pub message: String,
    /// A warning does not reject the job.
    pub warning: bool,
}

/// Validates a canonicalised job and returns every problem found.
pub fn validate_job(job: &Job) -> Vec<ValidationProblem> {
    let mut out = Problems::default();
    let path = FieldPath::job(job.id.as_str());

    job_fields(job, &path, &mut out);
    placement::constraints(&job.constraints, &path, placement::Level::Job, &mut out);
    placement::affinities(&job.affinities, &path, &job.job_type, &mut out);
    placement::spreads(&job.spreads, &path, &job.job_type, &mut out);
    let inherited = policies::job_policies(job, &path, &mut out);
    launch::periodic(job, &path, &mut out);
    launch::parameterized(job, &path, &mut out);

    if job.task_groups.is_empty() {
        out.error(
            path.clone(),
            "the job has no groups: add at least one group block with a task in it",
        );
    }
    for (index, group) in job.task_groups.iter().enumerate() {
        let group_path = path.labeled("group", "TaskGroups", &group.name, Some(index));
        if group.name.is_empty() {
            out.error(
                group_path.clone(),
                format!(
                    "group #{} has no name: label every group, as in group \"api\" {{ ... }}",
                    index + 1
                ),
            );
        } else if let Some(first) = job.task_groups[..index]
            .iter()
            .position(|g| g.name == group.name)
        {
            out.error(
                group_path.clone(),
                format!(
                    "group name {:?} is already used by group #{}: group names must be unique within a job",
                    group.name,
                    first + 1
                ),
            );
        }
        group::validate_group(job, group, &group_path, &inherited, &mut out);
    }
    out.0
}

/// The job's own attributes: id, name, namespace, region, type, priority and
/// datacenters.
fn job_fields(job: &Job, path: &FieldPath, out: &mut Problems) {
    let id = job.id.as_str();
    if id.is_empty() {
        out.error(
            path.clone(),
            "the job has no ID: give the job block a name, as in job \"web\" { ... }",
        );
    } else if id.contains(' ') {
        out.error(
            path.clone(),
            format!("job ID {id:?} contains a space: use dashes or underscores instead"),
        );
    } else if id.contains('\0') {
        out.error(
            path.clone(),
            format!("job ID {id:?} contains a NUL character: remove it"),
        );
    }
    if job.name.is_empty() {
        out.error(
            path.field("name", "Name"),
            "the job name is empty: set name, or leave it out to use the job ID",
        );
    } else if job.name.contains('\0') {
        out.error(
            path.field("name", "Name"),
            format!(
                "job name {:?} contains a NUL character: remove it",
                job.name
            ),
        );
    }
    if job.namespace.is_empty() {
        out.error(
            path.field("namespace", "Namespace"),
            "the namespace is empty: set one, or leave it out to use \"default\"",
        );
    }
    if job.region.is_empty() && job.multiregion.is_none() {
        out.error(
            path.field("region", "Region"),
            "the region is empty: set one, or leave it out to use \"global\"",
        );
    }
    if let JobType::Unknown(other) = &job.job_type {
        out.error(
            path.field("type", "Type"),
            format!("job type {other:?} is unknown: it must be service, batch, system or sysbatch"),
        );
    }
    let priority = job.priority();
    if !(1..=100).contains(&priority) {
        out.error(
            path.field("priority", "Priority"),
            format!("priority {priority} is out of range: it must be between 1 and 100"),
        );
    }
    let datacenters = path.field("datacenters", "Datacenters");
    if job.datacenters.is_empty() && !job.is_multiregion() {
        out.error(
            datacenters,
            "the job has no datacenters: list at least one, or \"*\" for all of them",
        );
    } else {
        for (index, datacenter) in job.datacenters.iter().enumerate() {
            if datacenter.is_empty() {
                out.error(
                    datacenters.clone(),
                    format!(
                        "datacenter #{} is empty: every entry must name a datacenter (or be \"*\")",
                        index + 1
                    ),
                );
            }
        }
    }
}

/// Problems in the order they are found.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ValidationProblem>);

impl Problems {
    /// Records an error.
    pub(crate) fn error(&mut self, path: FieldPath, message: impl Into<String>) {
        self.0.push(ValidationProblem {
            path,
            message: message.into(),
            warning: false,
        });
    }

    /// Records a warning.
    pub(crate) fn warning(&mut self, path: FieldPath, message: impl Into<String>) {
        self.0.push(ValidationProblem {
            path,
            message: message.into(),
            warning: true,
        });
    }

    /// The messages recorded so far.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.0.iter().map(|p| p.message.clone()).collect()
    }

    /// Adds the problems of an inherited copy of a block, except those whose
    /// message was already reported where the block was written.
    pub(crate) fn extend_unreported(&mut self, inherited: Problems, reported: &[String]) {
        self.0.extend(
            inherited
                .0
                .into_iter()
                .filter(|p| !reported.contains(&p.message)),
        );
    }
}
