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
//!
//! [`Task`]: crate::model::Task
//! [`Resources`]: crate::model::Resources
//! [`NetworkResource`]: crate::model::NetworkResource
//! [`LogConfig`]: crate::model::LogConfig
//! [`RestartPolicy`]: crate::model::RestartPolicy
//! [`EphemeralDisk`]: crate::model::EphemeralDisk

use crate::model::{Job, TaskGroup};
use std::fmt;

mod blocks;
mod group;
mod job;
mod network;
mod task;

use group::compare_group;
use job::{compare_job, compare_meta};
use task::compare_tasks;

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

#[cfg(test)]
mod tests;
