//! Job-level fields, and meta as the tasks see it merged across levels.

use super::Diff;
use super::Effect::{Destructive, InPlace};
use crate::model::{Job, Task, TaskGroup};
use std::collections::BTreeMap;

/// Job-level fields. Job meta is compared in [`compare_meta`], as the tasks
/// see it merged with group and task meta.
pub(super) fn compare_job(
    diff: &mut Diff,
    old: &Job,
    new: &Job,
    old_group: &TaskGroup,
    new_group: &TaskGroup,
) {
    let Job {
        // Identity: the caller compares two versions of one job.
        region: _,
        namespace: _,
        id: _,
        name,
        job_type,
        priority,
        all_at_once,
        datacenters,
        node_pool,
        constraints,
        affinities,
        // Only the group at hand matters; the caller passes it separately.
        task_groups: _,
        update,
        multiregion,
        spreads,
        periodic,
        parameterized_job,
        reschedule,
        migrate,
        // Merged with group and task meta in `compare_meta`.
        meta: _,
        // Submitter credentials: checked at registration, not run.
        consul_token: _,
        vault_token: _,
        ui,
        // A stopped job's allocations are stopped by the reconciler.
        stop: _,
        // Identity of dispatched and periodic children.
        parent_id: _,
        dispatched: _,
        dispatch_idempotency_token: _,
        payload,
        consul_namespace,
        vault_namespace,
        // Server bookkeeping.
        nomad_token_id: _,
        status: _,
        status_description: _,
        stable: _,
        version: _,
        submit_time: _,
        create_index: _,
        modify_index: _,
        job_modify_index: _,
        version_tag: _,
    } = old;
    let scope = "job";
    // A different type changes how the scheduler treats every allocation.
    diff.check_value(
        Destructive,
        scope,
        "type",
        job_type.as_str(),
        new.job_type.as_str(),
    );
    // Nomad pushes the job's Consul namespace into each group's `consul`
    // block (compared there too); compared here as well so that a job built
    // without canonicalisation is still safe.
    diff.check_value(
        Destructive,
        scope,
        "consul_namespace",
        consul_namespace,
        &new.consul_namespace,
    );
    // The Vault namespace only matters to tasks that get Vault tokens; for
    // them the token must be re-issued, which the client does at start.
    let uses_vault = |group: &TaskGroup| group.tasks.iter().any(|task| task.vault.is_some());
    let vault_effect = if uses_vault(old_group) || uses_vault(new_group) {
        Destructive
    } else {
        InPlace
    };
    diff.check_value(
        vault_effect,
        scope,
        "vault_namespace",
        vault_namespace,
        &new.vault_namespace,
    );
    // Written into the task directory at start (safe side; see module docs).
    diff.check(Destructive, scope, "payload", payload, &new.payload);

    diff.check_value(InPlace, scope, "name", name, &new.name);
    diff.check_value(InPlace, scope, "priority", priority, &new.priority);
    diff.check_value(InPlace, scope, "all_at_once", all_at_once, &new.all_at_once);
    // Where new allocations may go; the caller's fit check on the current
    // node decides whether an existing allocation may stay.
    diff.check_value(InPlace, scope, "datacenters", datacenters, &new.datacenters);
    diff.check_value(InPlace, scope, "node_pool", node_pool, &new.node_pool);
    diff.check(InPlace, scope, "constraints", constraints, &new.constraints);
    diff.check(InPlace, scope, "affinities", affinities, &new.affinities);
    diff.check(InPlace, scope, "spreads", spreads, &new.spreads);
    diff.check(InPlace, scope, "update", update, &new.update);
    diff.check(InPlace, scope, "multiregion", multiregion, &new.multiregion);
    diff.check(InPlace, scope, "periodic", periodic, &new.periodic);
    diff.check(
        InPlace,
        scope,
        "parameterized",
        parameterized_job,
        &new.parameterized_job,
    );
    diff.check(InPlace, scope, "reschedule", reschedule, &new.reschedule);
    diff.check(InPlace, scope, "migrate", migrate, &new.migrate);
    diff.check(InPlace, scope, "ui", ui, &new.ui);
}

/// Meta, as Nomad compares it: each task sees job, group and task meta
/// merged (`CombinedTaskMeta`, later levels win) as `NOMAD_META_*`, fixed at
/// start, so a change to any task's merged meta is destructive. Each level
/// that changed is named; a level whose change leaves every merged map the
/// same (a key moved between levels) is an in-place change.
pub(super) fn compare_meta(
    diff: &mut Diff,
    old_job: &Job,
    old_group: &TaskGroup,
    new_job: &Job,
    new_group: &TaskGroup,
) {
    let merged = |job: &Job, group: &TaskGroup, task: &Task| -> BTreeMap<String, String> {
        let mut meta = job.meta.clone();
        meta.extend(group.meta.clone());
        meta.extend(task.meta.clone());
        meta
    };
    let mut any_task_changed = false;
    let mut task_effects = Vec::new();
    for old_task in &old_group.tasks {
        if let Some(new_task) = new_group.lookup_task(&old_task.name) {
            let changed =
                merged(old_job, old_group, old_task) != merged(new_job, new_group, new_task);
            any_task_changed |= changed;
            let effect = if changed { Destructive } else { InPlace };
            task_effects.push((old_task, new_task, effect));
        }
    }
    let effect = if any_task_changed {
        Destructive
    } else {
        InPlace
    };
    diff.check(effect, "job", "meta", &old_job.meta, &new_job.meta);
    diff.check(effect, "group", "meta", &old_group.meta, &new_group.meta);
    for (old_task, new_task, effect) in task_effects {
        let scope = format!("task {:?}", old_task.name);
        diff.check(effect, &scope, "meta", &old_task.meta, &new_task.meta);
    }
}
