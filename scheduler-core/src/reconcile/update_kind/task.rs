//! Tasks, matched by name, and their resources and log settings.

use super::Diff;
use super::Effect::{Destructive, InPlace};
use super::blocks::{compare_consul, compare_restart, compare_services};
use super::network::compare_networks;
use crate::model::{LogConfig, Resources, Task, TaskGroup};
use std::collections::BTreeSet;

/// Tasks, matched by name: any added or removed task is destructive (the set
/// of processes in the allocation changes); common tasks field by field.
pub(super) fn compare_tasks(diff: &mut Diff, old: &TaskGroup, new: &TaskGroup) {
    let old_names: BTreeSet<&str> = old.tasks.iter().map(|task| task.name.as_str()).collect();
    let new_names: BTreeSet<&str> = new.tasks.iter().map(|task| task.name.as_str()).collect();
    for removed in old_names.difference(&new_names) {
        diff.push(Destructive, format!("task {removed:?}: removed"));
    }
    for added in new_names.difference(&old_names) {
        diff.push(Destructive, format!("task {added:?}: added"));
    }
    for old_task in &old.tasks {
        if let Some(new_task) = new.lookup_task(&old_task.name) {
            compare_task(diff, old_task, new_task);
        }
    }
}

/// One task present in both versions. Its meta is compared in
/// [`compare_meta`](super::job::compare_meta).
fn compare_task(diff: &mut Diff, old: &Task, new: &Task) {
    let Task {
        // Tasks are matched by name.
        name,
        driver,
        user,
        lifecycle,
        config,
        constraints,
        affinities,
        env,
        services,
        resources,
        restart_policy,
        // Merged with job and group meta in `compare_meta`.
        meta: _,
        kill_timeout: _,
        log_config,
        artifacts,
        vault,
        consul,
        templates,
        dispatch_payload,
        volume_mounts,
        csi_plugin_config,
        leader,
        shutdown_delay,
        kill_signal,
        kind,
        scaling_policies,
        identity,
        identities,
        actions,
        schedule,
    } = old;
    let scope = format!("task {name:?}");
    let scope = scope.as_str();

    // What the driver starts and with what: fixed when the task starts.
    diff.check_value(Destructive, scope, "driver", driver, &new.driver);
    diff.check_value(Destructive, scope, "user", user, &new.user);
    diff.check(Destructive, scope, "config", config, &new.config);
    diff.check(Destructive, scope, "env", env, &new.env);
    // Files prepared in the task directory before the task starts.
    diff.check(Destructive, scope, "artifacts", artifacts, &new.artifacts);
    diff.check(Destructive, scope, "templates", templates, &new.templates);
    diff.check(Destructive, scope, "vault", vault, &new.vault);
    compare_consul(diff, scope, consul, &new.consul);
    diff.check(
        Destructive,
        scope,
        "volume_mounts",
        volume_mounts,
        &new.volume_mounts,
    );
    diff.check(
        Destructive,
        scope,
        "csi_plugin",
        csi_plugin_config,
        &new.csi_plugin_config,
    );
    // Tokens are minted for the allocation when it is created.
    diff.check(Destructive, scope, "identity", identity, &new.identity);
    diff.check(
        Destructive,
        scope,
        "identities",
        identities,
        &new.identities,
    );
    compare_resources(diff, scope, resources, &new.resources);
    compare_logs(diff, scope, log_config, &new.log_config);
    compare_restart(diff, scope, restart_policy, &new.restart_policy);
    // Safe side (see the module docs): the task runner reads these when it
    // is created, and Nomad does not say what an in-place change does.
    diff.check(Destructive, scope, "lifecycle", lifecycle, &new.lifecycle);
    diff.check(
        Destructive,
        scope,
        "dispatch_payload",
        dispatch_payload,
        &new.dispatch_payload,
    );
    diff.check_value(Destructive, scope, "leader", leader, &new.leader);
    diff.check_value(Destructive, scope, "kind", kind, &new.kind);
    diff.check(Destructive, scope, "schedule", schedule, &new.schedule);

    compare_services(diff, scope, services, &new.services);
    // Placement-only rules.
    diff.check(InPlace, scope, "constraints", constraints, &new.constraints);
    diff.check(InPlace, scope, "affinities", affinities, &new.affinities);
    // Read when the task is stopped, so the new value applies then.
    diff.check_value(
        InPlace,
        scope,
        "kill_timeout",
        &old.kill_timeout(),
        &new.kill_timeout(),
    );
    diff.check_value(InPlace, scope, "kill_signal", kill_signal, &new.kill_signal);
    diff.check_value(
        InPlace,
        scope,
        "shutdown_delay",
        shutdown_delay,
        &new.shutdown_delay,
    );
    diff.check(
        InPlace,
        scope,
        "scaling",
        scaling_policies,
        &new.scaling_policies,
    );
    // Run on demand against the current job.
    diff.check(InPlace, scope, "actions", actions, &new.actions);
}

/// A task's resources: everything the node reserves or the driver enforces
/// is destructive (Nomad's `nonNetworkResourcesUpdated` and
/// `networkUpdated`). Effective values are compared, so an unset value and
/// its default are equal; `memory_max` is compared as written (0 means no
/// oversubscription), since its effective value follows `memory`.
fn compare_resources(diff: &mut Diff, scope: &str, old: &Resources, new: &Resources) {
    let Resources {
        cpu: _,
        cores,
        memory_mb: _,
        memory_max_mb,
        disk_mb,
        secrets_mb,
        networks,
        devices,
        numa,
    } = old;
    diff.check_value(Destructive, scope, "cpu", &old.cpu(), &new.cpu());
    diff.check_value(Destructive, scope, "cores", cores, &new.cores);
    diff.check_value(
        Destructive,
        scope,
        "memory",
        &old.memory_mb(),
        &new.memory_mb(),
    );
    diff.check_value(
        Destructive,
        scope,
        "memory_max",
        memory_max_mb,
        &new.memory_max_mb,
    );
    diff.check_value(Destructive, scope, "secrets", secrets_mb, &new.secrets_mb);
    // Deprecated and unused by Nomad's fit, but it is an ask: safe side.
    diff.check_value(Destructive, scope, "disk", disk_mb, &new.disk_mb);
    diff.check(Destructive, scope, "devices", devices, &new.devices);
    diff.check(Destructive, scope, "numa", numa, &new.numa);
    compare_networks(diff, scope, networks, &new.networks);
}

/// Log rotation: applied in place by the log collector, except turning
/// collection on or off, which changes the task's stdout and stderr.
fn compare_logs(diff: &mut Diff, scope: &str, old: &LogConfig, new: &LogConfig) {
    let LogConfig {
        max_files: _,
        max_file_size_mb: _,
        // `enabled` is the deprecated inverse of `disabled`.
        enabled,
        disabled,
    } = old;
    let logs_disabled = |disabled: bool, enabled: Option<bool>| disabled || enabled == Some(false);
    let (old_disabled, new_disabled) = (
        logs_disabled(*disabled, *enabled),
        logs_disabled(new.disabled, new.enabled),
    );
    diff.check_value(
        Destructive,
        scope,
        "logs disabled",
        &old_disabled,
        &new_disabled,
    );
    if old_disabled == new_disabled {
        // The same effect written differently (`enabled` vs `disabled`).
        diff.check(
            InPlace,
            scope,
            "logs",
            &(enabled, disabled),
            &(&new.enabled, &new.disabled),
        );
    }
    diff.check_value(
        InPlace,
        scope,
        "logs max_files",
        &old.max_files(),
        &new.max_files(),
    );
    diff.check_value(
        InPlace,
        scope,
        "logs max_file_size",
        &old.max_file_size_mb(),
        &new.max_file_size_mb(),
    );
}
