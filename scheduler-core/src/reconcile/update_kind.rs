//! Whether a job update changes an allocation in place or needs a new one.
//!
//! This is Nomad's `tasksUpdated` (`scheduler/util.go`), with explanations:
//! instead of a bare boolean, [`update_kind`] names every change it saw, so
//! the reconciler can annotate a plan ("forces create/destroy update") and an
//! operator can read why their allocations are being replaced.
//!
//! Every field of [`Job`], [`TaskGroup`], [`Task`], [`Resources`],
//! [`NetworkResource`], [`LogConfig`], [`RestartPolicy`] and
//! [`EphemeralDisk`] is destructured below without `..`, so adding a field to
//! the model does not compile until someone decides where it goes.
//!
//! # Where each field goes
//!
//! **Destructive** (the allocation is stopped and a replacement placed):
//!
//! | Level | Fields |
//! |-------|--------|
//! | job   | `type`; `meta` (as part of each task's merged meta); `consul_namespace`; `vault_namespace` when a task of the group uses Vault; `payload` (*) |
//! | group | task count and task names; `name` (*); `networks` (mode, hostname, DNS, CNI, MBits, port labels, static values, `to`, host network; not the scheduler-set device/IP/CIDR or dynamic port values); `volumes`; `ephemeral_disk` (size, sticky, migrate); `meta` (merged); `consul` namespace, and cluster or partition when both sides set the block; services with `connect`: the connect block, and the port label and cluster of such a service; `restart.render_templates` |
//! | task  | `driver`, `user`, `config`, `env`, `lifecycle` (*), `artifacts`, `templates`, `vault`, `consul` (as for the group), `dispatch_payload` (*), `volume_mounts`, `csi_plugin`, `meta` (merged job < group < task), `identity`, `identities`, `logs.disabled` (and its deprecated inverse `enabled`), `restart.render_templates`, `leader` (*), `kind` (*), `schedule` (*); resources: `cpu`, `cores`, `memory`, `memory_max`, `secrets`, `disk` (*, deprecated), `devices`, `numa`, task `networks` (as for the group) |
//!
//! **In place** (the client applies the new job without restarting the
//! tasks, if the allocation still fits on its node; the caller checks that):
//!
//! | Level | Fields |
//! |-------|--------|
//! | job   | `name`, `priority`, `all_at_once`, `datacenters`, `node_pool`, `constraints`, `affinities`, `spreads`, `update`, `multiregion`, `periodic`, `parameterized`, `reschedule`, `migrate`, `ui`; `vault_namespace` when no task uses Vault; a reshuffle of meta keys between levels that leaves every task's merged meta unchanged |
//! | group | `constraints`, `affinities`, `spreads`, `restart` (except `render_templates`), `disconnect`, `reschedule`, `update`, `migrate`, `scaling`, `services` (tags, checks, names, everything but the connect parts above), `shutdown_delay`, `stop_after_client_disconnect`, `max_client_disconnect`, `prevent_reschedule_on_lost`, `consul` blocks added or removed with the same namespace |
//! | task  | `constraints`, `affinities`, `services`, `restart` (except `render_templates`), `kill_timeout`, `kill_signal`, `shutdown_delay`, `logs` (`max_files`, `max_file_size`), `scaling`, `actions` |
//!
//! **Not compared** (the allocation is not affected at all): the group's
//! `count` (the reconciler adds and stops allocations for count changes);
//! other groups of the job; identity (`region`, `namespace`, `id`,
//! `parent_id`, `dispatched`, `dispatch_idempotency_token`); `stop` (the
//! reconciler stops a stopped job's allocations); submitter credentials
//! (`consul_token`, `vault_token`, `nomad_token_id`); server bookkeeping
//! (`status`, `status_description`, `stable`, `version`, `version_tag`,
//! `submit_time`, `create_index`, `modify_index`, `job_modify_index`).
//!
//! (*) Nomad's `tasksUpdated` does not compare these, so Nomad would update
//! in place; what the client does with an in-place change of them is not
//! clearly documented (the task runner reads them when it starts), so we take
//! the safe side and replace the allocation.
//!
//! Two deliberate departures from recent Nomad: it treats any affinity or
//! spread change as destructive (so that allocations move), while we follow
//! the plan annotation rules (SCHEDULING.md §7), where constraints,
//! affinities and spreads only affect placement and update in place; and
//! Nomad lets a Connect sidecar's tags and proxy settings change in place,
//! while our model keeps the `connect` block opaque, so any change to it is
//! destructive.

use crate::model::{
    Consul, EphemeralDisk, Job, LogConfig, NetworkResource, Port, Resources, RestartPolicy,
    Service, Task, TaskGroup,
};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// How an allocation running `old` must change to run `new`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// Nothing the allocation runs changed.
    Ignore,
    /// Only fields a client applies without restarting changed (see the
    /// module documentation for the list); the allocation is updated in place
    /// if it still fits on its node. `changed` names each change, e.g.
    /// `group: services changed`.
    InPlace {
        /// One entry per change, in field order.
        changed: Vec<String>,
    },
    /// Something that needs a new allocation changed. `reasons` name each,
    /// e.g. `task "server": driver changed ("docker" -> "exec")`,
    /// `task "server": config changed`, `group: network changed`.
    Destructive {
        /// One entry per destructive change, in field order.
        reasons: Vec<String>,
    },
}

impl UpdateKind {
    /// Whether the allocation must be replaced.
    pub fn is_destructive(&self) -> bool {
        matches!(self, UpdateKind::Destructive { .. })
    }

    /// Nomad's plan annotation label for this kind of update (SCHEDULING.md
    /// §7), as printed in `DesiredUpdates`.
    pub fn label(&self) -> &'static str {
        match self {
            UpdateKind::Ignore => "ignore",
            UpdateKind::InPlace { .. } => "in-place update",
            UpdateKind::Destructive { .. } => "create/destroy update",
        }
    }
}

/// Decides how an allocation of `old_group` (in `old_job`) must change to run
/// `new_group` (in `new_job`): Nomad's `tasksUpdated`, plus the list of
/// changes.
///
/// Tasks are matched by name, as in Nomad, so reordering tasks is not a
/// change. The group's `count` is not compared: the reconciler handles count
/// changes by placing or stopping allocations. Whether an in-place update
/// still fits on the allocation's node is the caller's check (it needs the
/// cluster state; this function does not).
pub fn update_kind(
    old_job: &Job,
    old_group: &TaskGroup,
    new_job: &Job,
    new_group: &TaskGroup,
) -> UpdateKind {
    let mut diff = Diff::default();
    compare_job(&mut diff, old_job, new_job, old_group, new_group);
    compare_group(&mut diff, old_group, new_group);
    compare_tasks(&mut diff, old_group, new_group);
    compare_meta(&mut diff, old_job, old_group, new_job, new_group);
    diff.into_kind()
}

/// Whether a change forces a new allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Effect {
    InPlace,
    Destructive,
}

use Effect::{Destructive, InPlace};

/// The changes found so far, in the order the fields were compared (so the
/// output is deterministic).
#[derive(Debug, Default)]
struct Diff {
    destructive: Vec<String>,
    in_place: Vec<String>,
}

impl Diff {
    fn push(&mut self, effect: Effect, text: String) {
        match effect {
            Destructive => self.destructive.push(text),
            InPlace => self.in_place.push(text),
        }
    }

    /// Records `<scope>: <what> changed` when the values differ. For values
    /// whose rendering would be long or sensitive (config, env, templates).
    fn check<T: PartialEq + ?Sized>(
        &mut self,
        effect: Effect,
        scope: &str,
        what: &str,
        old: &T,
        new: &T,
    ) {
        if old != new {
            self.push(effect, format!("{scope}: {what} changed"));
        }
    }

    /// Records `<scope>: <what> changed (<old> -> <new>)` when the values
    /// differ, for short scalar values an operator wants to see.
    fn check_value<T: PartialEq + Shown + ?Sized>(
        &mut self,
        effect: Effect,
        scope: &str,
        what: &str,
        old: &T,
        new: &T,
    ) {
        if old != new {
            let (old, new) = (old.shown(), new.shown());
            self.push(effect, format!("{scope}: {what} changed ({old} -> {new})"));
        }
    }

    fn into_kind(self) -> UpdateKind {
        if !self.destructive.is_empty() {
            UpdateKind::Destructive {
                reasons: self.destructive,
            }
        } else if !self.in_place.is_empty() {
            UpdateKind::InPlace {
                changed: self.in_place,
            }
        } else {
            UpdateKind::Ignore
        }
    }
}

/// How a scalar value appears in a reason: strings quoted, units with their
/// suffix, `unset` for a missing optional.
trait Shown {
    fn shown(&self) -> String;
}

impl Shown for str {
    fn shown(&self) -> String {
        format!("{self:?}")
    }
}

impl Shown for String {
    fn shown(&self) -> String {
        self.as_str().shown()
    }
}

impl<T: Shown> Shown for Option<T> {
    fn shown(&self) -> String {
        self.as_ref().map_or_else(|| "unset".to_owned(), T::shown)
    }
}

/// Types whose `Display` is already what an operator reads.
macro_rules! shown_by_display {
    ($($type:ty),*) => {
        $(impl Shown for $type {
            fn shown(&self) -> String {
                self.to_string()
            }
        })*
    };
}

shown_by_display!(
    bool,
    i64,
    crate::model::MHz,
    crate::model::MiB,
    crate::model::Duration
);

impl<T: fmt::Display> Shown for [T] {
    fn shown(&self) -> String {
        let items: Vec<String> = self
            .iter()
            .map(|item| format!("{:?}", item.to_string()))
            .collect();
        format!("[{}]", items.join(", "))
    }
}

impl<T: fmt::Display> Shown for Vec<T> {
    fn shown(&self) -> String {
        self.as_slice().shown()
    }
}

/// Job-level fields. Job meta is compared in [`compare_meta`], as the tasks
/// see it merged with group and task meta.
fn compare_job(
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

/// Group-level fields other than the tasks and meta.
fn compare_group(diff: &mut Diff, old: &TaskGroup, new: &TaskGroup) {
    let TaskGroup {
        name,
        // Count changes place or stop allocations; the reconciler does that.
        count: _,
        constraints,
        affinities,
        // Compared task by task in `compare_tasks`.
        tasks: _,
        spreads,
        volumes,
        restart_policy,
        disconnect,
        reschedule_policy,
        ephemeral_disk,
        update,
        migrate,
        networks,
        // Merged with job and task meta in `compare_meta`.
        meta: _,
        services,
        shutdown_delay,
        stop_after_client_disconnect,
        max_client_disconnect,
        scaling,
        consul,
        prevent_reschedule_on_lost,
    } = old;
    let scope = "group";
    // The caller matches groups by name; a rename is a different group
    // (`NOMAD_GROUP_NAME` changes), so be safe.
    diff.check_value(Destructive, scope, "name", name, &new.name);
    // Networks and volumes are set up before the tasks start; no driver can
    // change them under a running task.
    compare_networks(diff, scope, networks, &new.networks);
    diff.check(Destructive, scope, "volumes", volumes, &new.volumes);
    compare_ephemeral_disk(diff, scope, ephemeral_disk, &new.ephemeral_disk);
    compare_consul(diff, scope, consul, &new.consul);
    compare_services(diff, scope, services, &new.services);
    compare_restart(diff, scope, restart_policy, &new.restart_policy);

    // Placement-only rules: the allocation stays if its node still fits.
    diff.check(InPlace, scope, "constraints", constraints, &new.constraints);
    diff.check(InPlace, scope, "affinities", affinities, &new.affinities);
    diff.check(InPlace, scope, "spreads", spreads, &new.spreads);
    // Policies the servers and the client read when they act, not at start.
    diff.check(InPlace, scope, "disconnect", disconnect, &new.disconnect);
    diff.check(
        InPlace,
        scope,
        "reschedule",
        reschedule_policy,
        &new.reschedule_policy,
    );
    diff.check(InPlace, scope, "update", update, &new.update);
    diff.check(InPlace, scope, "migrate", migrate, &new.migrate);
    diff.check(InPlace, scope, "scaling", scaling, &new.scaling);
    diff.check_value(
        InPlace,
        scope,
        "shutdown_delay",
        shutdown_delay,
        &new.shutdown_delay,
    );
    diff.check_value(
        InPlace,
        scope,
        "stop_after_client_disconnect",
        stop_after_client_disconnect,
        &new.stop_after_client_disconnect,
    );
    diff.check_value(
        InPlace,
        scope,
        "max_client_disconnect",
        max_client_disconnect,
        &new.max_client_disconnect,
    );
    diff.check_value(
        InPlace,
        scope,
        "prevent_reschedule_on_lost",
        prevent_reschedule_on_lost,
        &new.prevent_reschedule_on_lost,
    );
}

/// Tasks, matched by name: any added or removed task is destructive (the set
/// of processes in the allocation changes); common tasks field by field.
fn compare_tasks(diff: &mut Diff, old: &TaskGroup, new: &TaskGroup) {
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
/// [`compare_meta`].
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

/// Networks (group or deprecated task level): destructive when what the
/// job asks for differs; what the scheduler filled in (device, IP, CIDR,
/// dynamic port values) is left out, as in Nomad's `networkPortMap`.
fn compare_networks(
    diff: &mut Diff,
    scope: &str,
    old: &[NetworkResource],
    new: &[NetworkResource],
) {
    let ask = |networks: &[NetworkResource]| networks.iter().map(network_ask).collect::<Vec<_>>();
    diff.check(Destructive, scope, "network", &ask(old), &ask(new));
}

/// The part of a network the job asks for, with defaults made explicit.
fn network_ask(network: &NetworkResource) -> NetworkResource {
    let NetworkResource {
        mode: _,
        // Filled in by the scheduler on placement.
        device: _,
        cidr: _,
        ip: _,
        hostname,
        mbits,
        dns,
        reserved_ports,
        dynamic_ports,
        cni,
    } = network;
    let port = |port: &Port, value: i64| {
        let Port {
            label,
            value: _,
            to,
            host_network,
            ignore_collision,
        } = port;
        Port {
            label: label.clone(),
            value,
            to: *to,
            host_network: if host_network.is_empty() {
                "default".to_owned()
            } else {
                host_network.clone()
            },
            ignore_collision: *ignore_collision,
        }
    };
    NetworkResource {
        mode: network.mode().to_owned(),
        device: String::new(),
        cidr: String::new(),
        ip: String::new(),
        hostname: hostname.clone(),
        mbits: Some(mbits.unwrap_or_default()),
        dns: dns.clone(),
        reserved_ports: reserved_ports.iter().map(|p| port(p, p.value)).collect(),
        // The scheduler picks dynamic values; only the labels are asked for.
        dynamic_ports: dynamic_ports.iter().map(|p| port(p, -1)).collect(),
        cni: cni.clone(),
    }
}

/// The group's scratch disk: it lives on the node, so changing its size or
/// how it follows replacements needs a new allocation.
fn compare_ephemeral_disk(diff: &mut Diff, scope: &str, old: &EphemeralDisk, new: &EphemeralDisk) {
    let EphemeralDisk {
        sticky: _,
        migrate: _,
        size_mb: _,
    } = old;
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk size",
        &old.size_mb(),
        &new.size_mb(),
    );
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk sticky",
        &old.sticky(),
        &new.sticky(),
    );
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk migrate",
        &old.migrate(),
        &new.migrate(),
    );
}

/// A `consul` block (group or task), as Nomad's `consulUpdated`: the
/// namespace, cluster and partition decide which Consul intentions and
/// tokens apply, and existing connections may no longer be valid, so they
/// are destructive. Cluster and partition count only when both sides set
/// the block (an absent block means the defaults).
fn compare_consul(diff: &mut Diff, scope: &str, old: &Option<Consul>, new: &Option<Consul>) {
    let namespace = |consul: &Option<Consul>| {
        consul
            .as_ref()
            .map(|consul| consul.namespace.clone())
            .unwrap_or_default()
    };
    diff.check_value(
        Destructive,
        scope,
        "consul namespace",
        &namespace(old),
        &namespace(new),
    );
    match (old, new) {
        (Some(old), Some(new)) => {
            let Consul {
                namespace: _,
                cluster,
                partition,
            } = old;
            diff.check_value(Destructive, scope, "consul cluster", cluster, &new.cluster);
            diff.check_value(
                Destructive,
                scope,
                "consul partition",
                partition,
                &new.partition,
            );
        }
        _ => diff.check(InPlace, scope, "consul", old, new),
    }
}

/// Services (group or task): re-registered in place, except the parts of a
/// Connect service that the sidecar is built from (Nomad's
/// `connectServiceUpdated`). The `connect` block is opaque in our model, so
/// any change to it is destructive (Nomad lets sidecar tags and proxy
/// settings through in place; we cannot tell them apart: safe side), as is
/// adding or removing a Connect service.
fn compare_services(diff: &mut Diff, scope: &str, old: &[Service], new: &[Service]) {
    let by_name = |services: &[Service]| -> BTreeMap<String, Service> {
        services
            .iter()
            .map(|service| (service.name.clone(), service.clone()))
            .collect()
    };
    let (old_by_name, new_by_name) = (by_name(old), by_name(new));
    let names: BTreeSet<&String> = old_by_name.keys().chain(new_by_name.keys()).collect();
    for name in names {
        let service_scope = format!("{scope}: service {name:?}");
        match (old_by_name.get(name), new_by_name.get(name)) {
            (Some(old), Some(new)) if old.connect.is_some() || new.connect.is_some() => {
                let what = &service_scope;
                if old.connect != new.connect {
                    diff.push(Destructive, format!("{what} connect changed"));
                }
                if old.port_label != new.port_label {
                    diff.push(Destructive, format!("{what} connect port changed"));
                }
                if old.cluster != new.cluster {
                    diff.push(Destructive, format!("{what} connect cluster changed"));
                }
            }
            (Some(old), None) if old.connect.is_some() => {
                diff.push(Destructive, format!("{service_scope} connect removed"));
            }
            (None, Some(new)) if new.connect.is_some() => {
                diff.push(Destructive, format!("{service_scope} connect added"));
            }
            _ => {}
        }
    }
    diff.check(InPlace, scope, "services", old, new);
}

/// A restart policy (group, or task with the group's merged in): the client
/// reads it when a task fails, so changes apply in place, except
/// `render_templates`, which the template hook reads when it is created.
fn compare_restart(diff: &mut Diff, scope: &str, old: &RestartPolicy, new: &RestartPolicy) {
    let RestartPolicy {
        attempts,
        interval,
        delay,
        mode,
        render_templates,
    } = old;
    diff.check_value(
        Destructive,
        scope,
        "restart render_templates",
        &render_templates.unwrap_or(false),
        &new.render_templates.unwrap_or(false),
    );
    diff.check(
        InPlace,
        scope,
        "restart",
        &(attempts, interval, delay, mode),
        &(&new.attempts, &new.interval, &new.delay, &new.mode),
    );
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

/// Meta, as Nomad compares it: each task sees job, group and task meta
/// merged (`CombinedTaskMeta`, later levels win) as `NOMAD_META_*`, fixed at
/// start, so a change to any task's merged meta is destructive. Each level
/// that changed is named; a level whose change leaves every merged map the
/// same (a key moved between levels) is an in-place change.
fn compare_meta(
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

#[cfg(test)]
mod tests;
