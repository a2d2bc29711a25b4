//! Job-level rules: ID, type, priority, datacenters, groups.

use super::*;

#[test]
fn job_id_must_not_contain_spaces() {
    let mut job = job();
    job.id = JobId::new("my web");
    job.name = "my web".to_owned();
    let found = problems(job);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].path.to_hcl(), "job \"my web\"");
    assert_eq!(
        found[0].message,
        "job ID \"my web\" contains a space: use dashes or underscores instead"
    );
}

#[test]
fn job_id_must_be_set() {
    let mut job = job();
    job.id = JobId::new("");
    assert_has_error(job, "job \"\"", "the job has no ID");
}

#[test]
fn job_type_must_be_known() {
    let mut job = job();
    job.job_type = JobType::Unknown("cron".to_owned());
    assert_error(
        job,
        "job \"web\" > type",
        "job type \"cron\" is unknown: it must be service, batch, system or sysbatch",
    );
}

#[test]
fn priority_must_be_in_range() {
    let mut job = job();
    job.priority = Some(0);
    assert_error(
        job,
        "job \"web\" > priority",
        "priority 0 is out of range: it must be between 1 and 100",
    );
}

#[test]
fn datacenters_must_not_be_empty_strings() {
    let mut job = job();
    job.datacenters = vec!["dc1".to_owned(), String::new()];
    assert_error(
        job,
        "job \"web\" > datacenters",
        "datacenter #2 is empty: every entry must name a datacenter (or be \"*\")",
    );
}

#[test]
fn a_job_needs_a_group() {
    let mut job = job();
    job.task_groups.clear();
    assert_error(
        job,
        "job \"web\"",
        "the job has no groups: add at least one group block with a task in it",
    );
}

#[test]
fn group_names_must_be_unique() {
    let mut job = job();
    job.task_groups
        .push(TaskGroup::new("g", 1, vec![Task::new("u", "docker")]));
    let found = problems(job);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].path.to_hcl(), G);
    assert_eq!(
        found[0].message,
        "group name \"g\" is already used by group #1: group names must be unique within a job"
    );
    assert_eq!(found[0].path.to_json(), "Job.TaskGroups[1]");
}
