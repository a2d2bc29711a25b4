//! Group rules: count, tasks, policies, volumes, networks and services, then
//! each task.

use super::placement::{self, Level};
use super::policies::{self, Inherited};
use super::{Problems, disconnect, network, scaling, task};
use crate::model::{FieldPath, Job, JobType, TaskGroup};

/// Checks one group (and its tasks) at `path`.
pub(super) fn validate_group(
    job: &Job,
    group: &TaskGroup,
    path: &FieldPath,
    inherited: &Inherited,
    out: &mut Problems,
) {
    let job_type = &job.job_type;
    let count = group.count();
    if count < 0 {
        out.error(
            path.field("count", "Count"),
            format!("count {count} is negative: use 0 or more"),
        );
    } else if *job_type == JobType::System && count > 1 {
        out.error(
            path.field("count", "Count"),
            format!("count {count} is not allowed in a system job, which runs one allocation per node: use 0 or 1"),
        );
    }
    // A group holding only a Consul Connect gateway gets its gateway task
    // injected when the job is registered.
    if group.tasks.is_empty() && !has_connect_gateway(group) {
        out.error(
            path.clone(),
            format!(
                "group {:?} has no tasks: add at least one task block",
                group.name
            ),
        );
    }

    placement::constraints(&group.constraints, path, Level::Job, out);
    placement::affinities(&group.affinities, path, job_type, out);
    placement::spreads(&group.spreads, path, job_type, out);

    // Tasks inherit the group's restart policy: what is wrong with it is
    // reported once, at the group.
    let mut restart = Problems::default();
    policies::restart(
        &group.restart_policy,
        &path.field("restart", "RestartPolicy"),
        &mut restart,
    );
    let restart_messages = restart.messages();
    out.0.extend(restart.0);

    policies::group_policies(job, group, path, inherited, out);

    let disk = group.ephemeral_disk.size_mb();
    if disk.0 < 0 {
        out.error(
            path.field("ephemeral_disk", "EphemeralDisk")
                .field("size", "SizeMB"),
            format!(
                "ephemeral_disk size {} MB is negative: use a size of 0 or more",
                disk.0
            ),
        );
    }

    disconnect::disconnect(job, group, path, out);
    scaling::group_scaling(job, group, path, out);
    volumes(group, path, out);
    network::networks(group, path, out);
    network::group_services(group, path, out);

    for (index, task) in group.tasks.iter().enumerate() {
        let task_path = path.labeled("task", "Tasks", &task.name, Some(index));
        if task.name.is_empty() {
            out.error(
                task_path.clone(),
                format!(
                    "task #{} has no name: label every task, as in task \"server\" {{ ... }}",
                    index + 1
                ),
            );
        } else if let Some(first) = group.tasks[..index]
            .iter()
            .position(|t| t.name == task.name)
        {
            out.error(
                task_path.clone(),
                format!(
                    "task name {:?} is already used by task #{} of this group: task names must be unique within a group",
                    task.name,
                    first + 1
                ),
            );
        }
        if task.leader
            && let Some(leader) = group.tasks[..index].iter().find(|t| t.leader)
        {
            out.error(
                task_path.field("leader", "Leader"),
                format!(
                    "only one task of a group may be the leader and task {:?} already is: remove leader from one of them",
                    leader.name
                ),
            );
        }
        task::validate_task(job, group, task, &task_path, &restart_messages, out);
    }
}

/// The group's `volume` blocks.
fn volumes(group: &TaskGroup, path: &FieldPath, out: &mut Problems) {
    for (name, volume) in &group.volumes {
        let volume_path = path.labeled("volume", "Volumes", name, None);
        match volume.r#type.as_str() {
            "host" | "csi" => {}
            other => {
                out.error(
                    volume_path.field("type", "Type"),
                    format!("volume type {other:?} is unknown: use host or csi"),
                );
                continue;
            }
        }
        if volume.source.is_empty() {
            out.error(
                volume_path.field("source", "Source"),
                format!("volume {name:?} has no source: set source to the host volume name or CSI volume ID"),
            );
        }
    }
}

/// Whether one of the group's services is a Consul Connect gateway.
fn has_connect_gateway(group: &TaskGroup) -> bool {
    group.services.iter().any(|service| {
        service.connect.as_ref().is_some_and(|connect| {
            ["gateway", "Gateway"]
                .iter()
                .any(|key| connect.get(key).is_some_and(|gateway| !gateway.is_null()))
        })
    })
}
