//! Where each allocation of a task group stands for the reconciler: Nomad's
//! `filterByTainted` (`scheduler/reconciler/filters.go`), step 1 of
//! `computeGroup`.
//!
//! Pure: the nodes are looked up through a closure the caller supplies, and
//! `now` (Unix nanoseconds) is an argument. Every list of [`Classified`] is
//! sorted by allocation id, whatever order the input had.
//!
//! # Terms
//!
//! - **Node state.** A node the lookup does not find is *gone* (garbage
//!   collected). A found node is *disconnected* or *down* by its status;
//!   every other found node (ready, initializing, draining or not) counts as
//!   *up*, like the nodes Nomad leaves out of its tainted-node set or keeps
//!   in it with status `ready`.
//! - **Disconnect settings** come from the group of the job version the
//!   allocation runs (its embedded job, looked up by `task_group`), falling
//!   back to the `group` argument when the allocation carries no job or the
//!   job lacks the group.
//! - **Lost timeout:** `disconnect.lost_after` when non-zero, otherwise the
//!   deprecated `max_client_disconnect`, otherwise 0 (the group does not
//!   tolerate disconnected clients).
//! - **Replace:** false when `prevent_reschedule_on_lost` is set or
//!   `disconnect.replace = false`; true otherwise.
//! - **Needs to reconnect:** the client status is `unknown`, `running` or
//!   `failed`, and the latest client-status entry of `alloc_states`
//!   (`field` 0) says `unknown`: the servers marked the allocation unknown
//!   and the client has not reported since.
//! - **Last unknown:** the latest time of an `alloc_states` client-status
//!   entry saying `unknown` (RFC 3339); when there is none, `modify_time`
//!   (ours: Nomad then never expires the allocation); when that is 0 too,
//!   there is none and the allocation never expires.
//! - **Expired:** client status `unknown`, a last-unknown time, and either a
//!   lost timeout > 0 or replace = false; expired when
//!   `last_unknown + timeout <= now` (exactly at the window end counts as
//!   expired, as Nomad's `expiry.Sub(now) <= 0`).
//!
//! # Rules
//!
//! Checked in this order; the first that matches decides (Nomad's
//! `classificationRules`, same numbering).
//!
//! | # | Condition | Class |
//! |---|-----------|-------|
//! | 1 | needs to reconnect, desired `run`, client `failed` | Reconnecting |
//! | 2 | terminal (either side), not reconnecting, server-terminal (desired `stop`/`evict`) | Ignore |
//! | 3 | client-terminal, not reconnecting, a canary with `desired_transition.migrate` | Migrate |
//! | 4 | client-terminal (`complete`/`failed`/`lost`), not reconnecting | Untainted (the reschedule logic sees failed allocations here) |
//! | 5 | expired | Expiring |
//! | 6 | needs to reconnect, client `failed`, desired `stop` | Ignore |
//! | 7 | node disconnected, client `unknown` | Untainted (waiting for its node) |
//! | 8 | node disconnected, client `pending` | Lost |
//! | 9 | node disconnected, lost timeout 0 | Lost |
//! | 10 | node disconnected (timeout > 0) | Disconnecting |
//! | 11 | `desired_transition.migrate` (drain), node not disconnected | Migrate |
//! | 14 | node gone | Lost |
//! | 12 | node up, needs to reconnect | Reconnecting |
//! | 13 | node up | Untainted |
//! | 15 | node down, replace = false, client `unknown` | Untainted |
//! | 16 | node down, replace = false, client `running` | Disconnecting |
//! | 17 | node down | Lost |
//!
//! Differences from Nomad:
//!
//! - Rule 14 (node gone → lost) is checked before 12 and 13. Nomad's table
//!   looks the node up in its tainted-node map, where a missing entry and a
//!   garbage-collected node are both `nil`, so its rule 14 cannot fire after
//!   rule 13; the older `filterByTainted` (and the intent of the comment)
//!   makes allocations on a gone node lost, and so do we.
//! - The migrate flag is honoured whatever the node's drain state, as in
//!   Nomad: the drainer sets it only on draining nodes, and a flagged
//!   allocation keeps migrating if the drain is cancelled afterwards.
//! - The `modify_time` fallback for the last-unknown time (see Terms).
//! - `stop_on_client_after` / `stop_after_client_disconnect` play no part in
//!   classification (Nomad uses them later, to delay lost replacements).

use crate::model::timestamp::parse_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocDesiredStatus, Allocation, Node, NodeId, NodeStatus, TaskGroup,
};

/// Where an allocation stands for the reconciler.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AllocClass {
    /// Counts towards the group as it is: running on an up node, or
    /// finished on the client (failed ones may still be rescheduled).
    Untainted,
    /// Must move off its node (drain).
    Migrate,
    /// Its node is down or gone: stop it and replace it.
    Lost,
    /// Its node just disconnected: mark it `unknown`.
    Disconnecting,
    /// It was `unknown` and its client is back: keep it or its replacement.
    Reconnecting,
    /// Nothing to do (already stopped by the servers).
    Ignore,
    /// `unknown` for longer than the group tolerates: treat as lost.
    Expiring,
}

impl AllocClass {
    /// Every class, in declaration order.
    pub const ALL: [AllocClass; 7] = [
        AllocClass::Untainted,
        AllocClass::Migrate,
        AllocClass::Lost,
        AllocClass::Disconnecting,
        AllocClass::Reconnecting,
        AllocClass::Ignore,
        AllocClass::Expiring,
    ];

    /// Lower-case name (`untainted`, `migrate`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            AllocClass::Untainted => "untainted",
            AllocClass::Migrate => "migrate",
            AllocClass::Lost => "lost",
            AllocClass::Disconnecting => "disconnecting",
            AllocClass::Reconnecting => "reconnecting",
            AllocClass::Ignore => "ignore",
            AllocClass::Expiring => "expiring",
        }
    }
}

/// The allocations of one task group, sorted into classes (each list sorted
/// by allocation id).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Classified<'a> {
    /// [`AllocClass::Untainted`].
    pub untainted: Vec<&'a Allocation>,
    /// [`AllocClass::Migrate`].
    pub migrate: Vec<&'a Allocation>,
    /// [`AllocClass::Lost`].
    pub lost: Vec<&'a Allocation>,
    /// [`AllocClass::Disconnecting`].
    pub disconnecting: Vec<&'a Allocation>,
    /// [`AllocClass::Reconnecting`].
    pub reconnecting: Vec<&'a Allocation>,
    /// [`AllocClass::Ignore`].
    pub ignore: Vec<&'a Allocation>,
    /// [`AllocClass::Expiring`].
    pub expiring: Vec<&'a Allocation>,
}

impl<'a> Classified<'a> {
    /// The list of one class.
    pub fn get(&self, class: AllocClass) -> &[&'a Allocation] {
        match class {
            AllocClass::Untainted => &self.untainted,
            AllocClass::Migrate => &self.migrate,
            AllocClass::Lost => &self.lost,
            AllocClass::Disconnecting => &self.disconnecting,
            AllocClass::Reconnecting => &self.reconnecting,
            AllocClass::Ignore => &self.ignore,
            AllocClass::Expiring => &self.expiring,
        }
    }

    fn get_mut(&mut self, class: AllocClass) -> &mut Vec<&'a Allocation> {
        match class {
            AllocClass::Untainted => &mut self.untainted,
            AllocClass::Migrate => &mut self.migrate,
            AllocClass::Lost => &mut self.lost,
            AllocClass::Disconnecting => &mut self.disconnecting,
            AllocClass::Reconnecting => &mut self.reconnecting,
            AllocClass::Ignore => &mut self.ignore,
            AllocClass::Expiring => &mut self.expiring,
        }
    }
}

/// Sorts the allocations of one task group into classes (see the module
/// rules). `node` looks up the node an allocation sits on (`None`: the node
/// is gone, which counts as down); `group` supplies the disconnect settings
/// for allocations that do not embed their job; `now` is Unix nanoseconds.
pub fn classify<'a, 'n>(
    allocs: &[&'a Allocation],
    node: impl Fn(&NodeId) -> Option<&'n Node>,
    group: &TaskGroup,
    now: i64,
) -> Classified<'a> {
    let mut out = Classified::default();
    for &alloc in allocs {
        let class = classify_alloc(alloc, node(&alloc.node_id), group, now);
        out.get_mut(class).push(alloc);
    }
    for class in AllocClass::ALL {
        out.get_mut(class).sort_by(|a, b| a.id.cmp(&b.id));
    }
    out
}

/// The class of one allocation on `node` (`None`: the node is gone).
pub fn classify_alloc(
    alloc: &Allocation,
    node: Option<&Node>,
    group: &TaskGroup,
    now: i64,
) -> AllocClass {
    use AllocClass::*;
    use AllocClientStatus as Client;
    use AllocDesiredStatus as Desired;

    let settings = DisconnectSettings::of(alloc, group);
    let reconnect = needs_to_reconnect(alloc);
    let client = alloc.client_status;
    let desired = alloc.desired_status;
    let terminal = alloc.is_terminal() && !reconnect;
    let disconnected = node.is_some_and(|n| n.status == NodeStatus::Disconnected);

    // 1-4: failed reconnects and terminal allocations.
    if reconnect && desired == Desired::Run && client == Client::Failed {
        return Reconnecting;
    }
    if terminal && alloc.server_terminal() {
        return Ignore;
    }
    if terminal && alloc.is_canary() && alloc.desired_transition.should_migrate() {
        return Migrate;
    }
    if terminal {
        return Untainted;
    }
    // 5-6: disconnect windows.
    if settings.expired(alloc, now) {
        return Expiring;
    }
    if reconnect && client == Client::Failed && desired == Desired::Stop {
        return Ignore;
    }
    // 7-10: disconnected node.
    if disconnected {
        return match client {
            Client::Unknown => Untainted,
            Client::Pending => Lost,
            _ if settings.lost_timeout <= 0 => Lost,
            _ => Disconnecting,
        };
    }
    // 11: drain.
    if alloc.desired_transition.should_migrate() {
        return Migrate;
    }
    // 14, 12, 13: gone or up nodes.
    let Some(node) = node else {
        return Lost;
    };
    if node.status != NodeStatus::Down {
        return if reconnect { Reconnecting } else { Untainted };
    }
    // 15-17: down node.
    match client {
        Client::Unknown if !settings.replace => Untainted,
        Client::Running if !settings.replace => Disconnecting,
        _ => Lost,
    }
}

/// The disconnect settings of the group an allocation belongs to.
#[derive(Debug, Clone, Copy)]
struct DisconnectSettings {
    /// Nanoseconds an `unknown` allocation is kept before it is lost; 0 when
    /// the group does not tolerate disconnects.
    lost_timeout: i64,
    /// Whether to replace allocations of a lost or disconnected node.
    replace: bool,
}

impl DisconnectSettings {
    fn of(alloc: &Allocation, fallback: &TaskGroup) -> Self {
        let group = alloc
            .job
            .as_ref()
            .and_then(|job| job.task_groups.iter().find(|g| g.name == alloc.task_group))
            .unwrap_or(fallback);
        let lost_after = group
            .disconnect
            .as_ref()
            .and_then(|d| d.lost_after)
            .map_or(0, |d| d.0);
        let lost_timeout = if lost_after != 0 {
            lost_after
        } else {
            group.max_client_disconnect.map_or(0, |d| d.0)
        };
        let replace = !group.prevent_reschedule_on_lost
            && group.disconnect.as_ref().is_none_or(|d| d.replace());
        DisconnectSettings {
            lost_timeout,
            replace,
        }
    }

    /// Nomad's `Allocation.Expired`.
    fn expired(self, alloc: &Allocation, now: i64) -> bool {
        if alloc.client_status != AllocClientStatus::Unknown {
            return false;
        }
        if self.lost_timeout <= 0 && self.replace {
            return false;
        }
        let Some(last_unknown) = last_unknown(alloc) else {
            return false;
        };
        last_unknown.saturating_add(self.lost_timeout.max(0)) <= now
    }
}

/// `alloc_states` field number of the client status.
pub(crate) const FIELD_CLIENT_STATUS: u8 = 0;

/// Nomad's `NeedsToReconnect`, restricted (as `filterByTainted` does) to
/// `unknown`, `running` and `failed` allocations.
fn needs_to_reconnect(alloc: &Allocation) -> bool {
    matches!(
        alloc.client_status,
        AllocClientStatus::Unknown | AllocClientStatus::Running | AllocClientStatus::Failed
    ) && alloc
        .alloc_states
        .iter()
        .rev()
        .find(|s| s.field == FIELD_CLIENT_STATUS)
        .is_some_and(|s| s.value == "unknown")
}

/// When the allocation last became `unknown` (Unix nanoseconds).
fn last_unknown(alloc: &Allocation) -> Option<i64> {
    alloc
        .alloc_states
        .iter()
        .filter(|s| s.field == FIELD_CLIENT_STATUS && s.value == "unknown")
        .filter_map(|s| parse_rfc3339_nanos(&s.time))
        .max()
        .or((alloc.modify_time != 0).then_some(alloc.modify_time))
}

#[cfg(test)]
mod tests;
