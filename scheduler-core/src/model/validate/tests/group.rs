//! Group rules: count, tasks, volumes, scaling, disconnect, update and migrate placement.

use super::*;

#[test]
fn count_must_not_be_negative() {
    let mut job = job();
    group(&mut job).count = Some(-1);
    assert_error(
        job,
        &format!("{G} > count"),
        "count -1 is negative: use 0 or more",
    );
}

#[test]
fn system_jobs_run_at_most_one_per_node() {
    let mut job = job();
    job.job_type = JobType::System;
    group(&mut job).count = Some(2);
    assert_error(
        job,
        &format!("{G} > count"),
        "count 2 is not allowed in a system job, which runs one allocation per node: use 0 or 1",
    );
}

#[test]
fn a_group_needs_a_task() {
    let mut job = job();
    group(&mut job).tasks.clear();
    assert_error(
        job,
        G,
        "group \"g\" has no tasks: add at least one task block",
    );
}

#[test]
fn task_names_must_be_unique_in_a_group() {
    let mut job = job();
    group(&mut job).tasks.push(Task::new("t", "exec"));
    let found = problems(job);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].path.to_hcl(), T);
    assert_eq!(found[0].path.to_json(), "Job.TaskGroups[0].Tasks[1]");
    assert_eq!(
        found[0].message,
        "task name \"t\" is already used by task #1 of this group: task names must be unique within a group"
    );
}

#[test]
fn only_one_leader_task() {
    let mut job = job();
    task(&mut job).leader = true;
    group(&mut job).tasks.push(Task {
        leader: true,
        ..Task::new("u", "docker")
    });
    assert_error(
        job,
        &format!("{G} > task \"u\" > leader"),
        "only one task of a group may be the leader and task \"t\" already is: remove leader from one of them",
    );
}

#[test]
fn volumes_need_a_known_type_and_a_source() {
    let mut job = job();
    group(&mut job).volumes.insert(
        "data".to_owned(),
        VolumeRequest {
            name: "data".to_owned(),
            r#type: "nfs".to_owned(),
            source: "x".to_owned(),
            ..VolumeRequest::default()
        },
    );
    assert_error(
        job,
        &format!("{G} > volume \"data\" > type"),
        "volume type \"nfs\" is unknown: use host or csi",
    );

    let mut job = super::job();
    group(&mut job).volumes.insert(
        "data".to_owned(),
        VolumeRequest {
            name: "data".to_owned(),
            r#type: "host".to_owned(),
            ..VolumeRequest::default()
        },
    );
    assert_error(
        job,
        &format!("{G} > volume \"data\" > source"),
        "volume \"data\" has no source: set source to the host volume name or CSI volume ID",
    );
}

#[test]
fn volume_mounts_name_a_group_volume() {
    let mut job = job();
    task(&mut job).volume_mounts = vec![VolumeMount {
        volume: "cache".to_owned(),
        destination: "/cache".to_owned(),
        ..VolumeMount::default()
    }];
    assert_error(
        job,
        &format!("{T} > volume_mount[0] > volume"),
        "volume \"cache\" is not declared in the group: add volume \"cache\" { ... } to the group, or fix the name",
    );
}

#[test]
fn group_scaling_bounds() {
    let mut job = job();
    group(&mut job).scaling = Some(ScalingPolicy {
        min: Some(1),
        max: Some(0),
        ..ScalingPolicy::default()
    });
    group(&mut job).count = Some(0);
    let found = problems(job);
    assert!(
        found
            .iter()
            .any(|p| p.path.to_hcl() == format!("{G} > scaling > max")
                && p.message == "scaling max 0 is below min 1: raise max or lower min"),
        "{}",
        render(&found)
    );

    let mut job = super::job();
    group(&mut job).count = Some(10);
    group(&mut job).scaling = Some(ScalingPolicy {
        min: Some(1),
        max: Some(5),
        ..ScalingPolicy::default()
    });
    assert_error(
        job,
        &format!("{G} > count"),
        "count 10 is above the scaling maximum 5: lower count or raise max",
    );
}

#[test]
fn task_scaling_takes_one_policy_per_resource() {
    let mut job = job();
    let cpu = ScalingPolicy {
        r#type: "vertical_cpu".to_owned(),
        max: Some(1000),
        ..ScalingPolicy::default()
    };
    task(&mut job).scaling_policies = vec![cpu.clone(), cpu];
    assert_error(
        job,
        &format!("{T} > scaling \"cpu\""),
        "a second scaling \"cpu\" block: a task takes at most one scaling policy per resource, merge them",
    );
}

#[test]
fn disconnect_reconcile_must_be_known() {
    let mut job = job();
    group(&mut job).disconnect = Some(DisconnectStrategy {
        reconcile: Some("random".to_owned()),
        ..DisconnectStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > disconnect > reconcile"),
        "reconcile \"random\" is unknown: use best_score, keep_original, keep_replacement or longest_running",
    );
}

#[test]
fn deprecated_disconnect_fields_warn_alone_and_conflict_with_the_block() {
    let mut job = job();
    group(&mut job).max_client_disconnect = Some(Duration::from_hours(1));
    assert_warning(
        job,
        &format!("{G} > max_client_disconnect"),
        "max_client_disconnect is deprecated: use the disconnect block's lost_after instead",
    );

    let mut job = super::job();
    group(&mut job).stop_after_client_disconnect = Some(Duration::from_mins(1));
    group(&mut job).disconnect = Some(DisconnectStrategy {
        stop_on_client_after: Some(Duration::from_mins(5)),
        ..DisconnectStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > stop_after_client_disconnect"),
        "stop_after_client_disconnect is deprecated and cannot be used with a disconnect block: set disconnect.stop_on_client_after instead",
    );
}

#[test]
fn stop_on_client_after_only_in_service_and_batch_jobs() {
    let mut job = job();
    job.job_type = JobType::System;
    group(&mut job).disconnect = Some(DisconnectStrategy {
        stop_on_client_after: Some(Duration::from_mins(5)),
        ..DisconnectStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > disconnect > stop_on_client_after"),
        "stop_on_client_after only applies to service and batch jobs, not system jobs: remove it",
    );
}

#[test]
fn lost_after_and_stop_on_client_after_are_exclusive() {
    let mut job = job();
    group(&mut job).disconnect = Some(DisconnectStrategy {
        lost_after: Some(Duration::from_hours(1)),
        stop_on_client_after: Some(Duration::from_mins(5)),
        ..DisconnectStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > disconnect > lost_after"),
        "lost_after and stop_on_client_after cannot both be set: keep one of them",
    );
}

#[test]
fn a_connect_gateway_group_needs_no_task() {
    let mut job = job();
    let g = group(&mut job);
    g.tasks.clear();
    g.services = vec![Service {
        connect: Some(serde_json::json!({"gateway": [{"ingress": []}]})),
        ..service("gateway", "8080")
    }];
    let found = problems(job);
    assert!(found.is_empty(), "{}", render(&found));
}

#[test]
fn update_and_migrate_only_where_they_apply() {
    let mut job = job();
    job.job_type = JobType::Batch;
    job.update = Some(UpdateStrategy {
        max_parallel: Some(2),
        ..UpdateStrategy::default()
    });
    // Written at the job, inherited by the group: reported once.
    assert_error(
        job,
        "job \"web\" > update",
        "the update block has no effect in a batch job: remove it (only service and system jobs are updated in place)",
    );

    let mut job = super::job();
    job.job_type = JobType::System;
    group(&mut job).migrate = Some(MigrateStrategy::default());
    assert_error(
        job,
        &format!("{G} > migrate"),
        "the migrate block has no effect in a system job: remove it (only service jobs are migrated)",
    );
}
