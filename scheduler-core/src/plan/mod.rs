//! Plans after scheduling: the plan applier's check of every node against
//! the latest state, and applying the accepted part to a
//! [`MemoryState`].
//!
//! A scheduler works on a snapshot; by the time its plan reaches the
//! applier, other plans may have landed. Like Nomad's plan applier, the
//! check re-fits every node the plan places on, with the plan's own stops
//! and preemptions applied, and drops the nodes that no longer fit (a
//! partial commit), unless the job asked for all-at-once. This per-node
//! re-fit is the only conflict detection, so it must be exact: it uses the
//! same resource rules as placement.

pub mod check_index;
pub mod diff;
pub mod dry_run;

use std::collections::{BTreeMap, BTreeSet};

use crate::feasibility::fit::{NodeCapacity, NodeUsage, parse_port_list};
use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocDesiredStatus, AllocId, Allocation, Deployment, DeploymentId, DeploymentStatusUpdate,
    Node, NodeId,
};
use crate::scheduler::Plan;
use crate::state::{MemoryState, StateError, StateSnapshot};

/// What the applier accepted of a plan.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PlanResult {
    /// Accepted stops, per node.
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// Accepted placements and updates, per node.
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Accepted preemptions, per node.
    pub node_preemptions: BTreeMap<NodeId, Vec<Allocation>>,
    /// Nodes refused, with why.
    pub rejected: BTreeMap<NodeId, String>,
    /// The deployment to create or update (with placement counts applied
    /// by [`apply_plan`]).
    pub deployment: Option<Deployment>,
    /// Status changes of other deployments.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// When some node was refused: the index the scheduler must at least
    /// see before retrying (the snapshot's), else 0.
    pub refresh_index: u64,
}

impl PlanResult {
    /// Whether every node of the plan was accepted.
    pub fn is_full_commit(&self) -> bool {
        self.rejected.is_empty()
    }
}

/// Checks `plan` against `snapshot` (the latest state) node by node. The
/// accepted parts are copied; [`check_owned_plan`] moves them instead.
pub fn check_plan(snapshot: &dyn StateSnapshot, plan: &Plan) -> PlanResult {
    let rejected = rejected_nodes(snapshot, plan);
    let accepted = |map: &BTreeMap<NodeId, Vec<Allocation>>| -> BTreeMap<NodeId, Vec<Allocation>> {
        map.iter()
            .filter(|(node, list)| !list.is_empty() && !rejected.contains_key(*node))
            .map(|(node, list)| (node.clone(), list.clone()))
            .collect()
    };
    let result = PlanResult {
        node_update: accepted(&plan.node_update),
        node_allocation: accepted(&plan.node_allocation),
        node_preemptions: accepted(&plan.node_preemptions),
        deployment: plan.deployment.clone(),
        deployment_updates: plan.deployment_updates.clone(),
        ..PlanResult::default()
    };
    finish_check(snapshot, plan.all_at_once, result, rejected)
}

/// [`check_plan`] for a plan the caller owns and no longer needs, as a
/// server's plan applier has: the accepted allocations are moved into the
/// result, not copied.
pub fn check_owned_plan(snapshot: &dyn StateSnapshot, plan: Plan) -> PlanResult {
    let rejected = rejected_nodes(snapshot, &plan);
    let accepted = |map: BTreeMap<NodeId, Vec<Allocation>>| -> BTreeMap<NodeId, Vec<Allocation>> {
        map.into_iter()
            .filter(|(node, list)| !list.is_empty() && !rejected.contains_key(node))
            .collect()
    };
    let result = PlanResult {
        node_update: accepted(plan.node_update),
        node_allocation: accepted(plan.node_allocation),
        node_preemptions: accepted(plan.node_preemptions),
        deployment: plan.deployment,
        deployment_updates: plan.deployment_updates,
        ..PlanResult::default()
    };
    finish_check(snapshot, plan.all_at_once, result, rejected)
}

/// The nodes of `plan` refused, with why.
fn rejected_nodes(snapshot: &dyn StateSnapshot, plan: &Plan) -> BTreeMap<NodeId, String> {
    let nodes: BTreeSet<&NodeId> = plan
        .node_allocation
        .keys()
        .chain(plan.node_update.keys())
        .chain(plan.node_preemptions.keys())
        .collect();
    nodes
        .into_iter()
        .filter_map(|node_id| {
            check_node(snapshot, plan, node_id)
                .err()
                .map(|reason| (node_id.clone(), reason))
        })
        .collect()
}

/// Records the refusals: the refresh index, and for an all-at-once plan
/// nothing accepted at all.
fn finish_check(
    snapshot: &dyn StateSnapshot,
    all_at_once: bool,
    mut result: PlanResult,
    rejected: BTreeMap<NodeId, String>,
) -> PlanResult {
    if !rejected.is_empty() {
        result.refresh_index = snapshot.index();
        if all_at_once {
            result.node_update.clear();
            result.node_allocation.clear();
            result.node_preemptions.clear();
        }
    }
    result.rejected = rejected;
    result
}

/// Nomad's `evaluateNodePlan`.
fn check_node(snapshot: &dyn StateSnapshot, plan: &Plan, node_id: &NodeId) -> Result<(), String> {
    let placed = plan
        .node_allocation
        .get(node_id)
        .map_or(&[][..], Vec::as_slice);
    if placed.is_empty() {
        // Only stops and evictions: always fine.
        return Ok(());
    }
    if let Some(verdict) = check_new_placements(snapshot, plan, node_id, placed) {
        return verdict;
    }
    let node = snapshot
        .node(node_id)
        .ok_or_else(|| "node does not exist".to_owned())?;
    let stored: BTreeMap<&AllocId, &Allocation> = snapshot
        .allocs_by_node(node_id)
        .map(|a| (&a.id, a))
        .collect();
    let existing: BTreeMap<&AllocId, &Allocation> = stored
        .iter()
        .filter(|(_, a)| !a.is_terminal())
        .map(|(id, a)| (*id, *a))
        .collect();
    let in_place_only = placed.iter().all(|a| existing.contains_key(&a.id));
    // Server-side bookkeeping of existing allocations (a follow-up
    // evaluation id on a failed allocation, a client status of `unknown`
    // on a disconnected node) holds nothing new, whatever the node's
    // state.
    let bookkeeping_only = placed.iter().all(|a| {
        stored
            .get(&a.id)
            .is_some_and(|old| old.allocated_resources == a.allocated_resources)
    });
    if bookkeeping_only {
        return Ok(());
    }
    if !node.is_ready() {
        return Err(format!("node is {:?}", node.status).to_lowercase());
    }
    if !node.is_eligible() && !in_place_only {
        return Err("node is not eligible for new placements".to_owned());
    }
    let removed: BTreeSet<&AllocId> = plan
        .node_update
        .get(node_id)
        .into_iter()
        .flatten()
        .chain(plan.node_preemptions.get(node_id).into_iter().flatten())
        .chain(placed)
        .map(|a| &a.id)
        .collect();
    let proposed: Vec<&Allocation> = snapshot
        .allocs_by_node(node_id)
        .filter(|a| !a.is_terminal() && !removed.contains(&a.id))
        .chain(placed.iter().filter(|a| !a.is_terminal()))
        .collect();
    allocs_fit(node, &proposed)
}

/// The common case of a placement-heavy plan, checked without walking the
/// node's allocations: only new allocations on the node, nothing stopped
/// or evicted there, and none of them holding a host port, a core or a
/// device. Then only capacity can be exceeded, and the store already keeps
/// the sum of the node's live allocations ([`StateSnapshot::node_usage`]),
/// so the check costs O(new allocations) instead of O(allocations on the
/// node), which on a full node (hundreds of allocations) was most of the
/// plan check. `None` when the full check is needed.
///
/// The one difference from the full check: ports, cores or devices that
/// the node's existing allocations already hold twice are not noticed
/// here; every write through the plan check refused those.
fn check_new_placements(
    snapshot: &dyn StateSnapshot,
    plan: &Plan,
    node_id: &NodeId,
    placed: &[Allocation],
) -> Option<Result<(), String>> {
    let removes_here = |map: &BTreeMap<NodeId, Vec<Allocation>>| {
        map.get(node_id).is_some_and(|list| !list.is_empty())
    };
    if removes_here(&plan.node_update) || removes_here(&plan.node_preemptions) {
        return None;
    }
    let simple = placed.iter().all(|alloc| {
        snapshot.alloc(&alloc.id).is_none()
            && alloc_ports(alloc).is_empty()
            && alloc
                .allocated_resources
                .tasks
                .values()
                .all(|task| task.cpu.reserved_cores.is_empty() && task.devices.is_empty())
    });
    if !simple {
        return None;
    }
    let Some(node) = snapshot.node(node_id) else {
        return Some(Err("node does not exist".to_owned()));
    };
    if !node.is_ready() {
        return Some(Err(format!("node is {:?}", node.status).to_lowercase()));
    }
    if !node.is_eligible() {
        return Some(Err("node is not eligible for new placements".to_owned()));
    }
    let mut usage = snapshot.node_usage(node);
    for alloc in placed.iter().filter(|alloc| !alloc.is_terminal()) {
        usage.add(alloc);
    }
    Some(capacity_fits(node, &usage))
}

/// Whether a set of allocations fits on a node together: capacity in
/// every dimension, no host port used twice on an address or reserved, no
/// core or device instance given twice (Nomad's `AllocsFit`).
pub fn allocs_fit(node: &Node, allocs: &[&Allocation]) -> Result<(), String> {
    let reserved_ports = parse_port_list(&node.reserved_resources.networks.reserved_host_ports)
        .map_err(|e| format!("node reserved ports: {e}"))?;
    let mut usage = NodeUsage::default();
    let mut ports: BTreeSet<(String, u16)> = BTreeSet::new();
    let mut cores: BTreeSet<u16> = BTreeSet::new();
    let mut devices: BTreeSet<&str> = BTreeSet::new();
    for alloc in allocs {
        for (ip, port) in alloc_ports(alloc) {
            if reserved_ports.contains(&port) {
                return Err(format!("port collision: {port} is reserved on the node"));
            }
            let clash = ports.contains(&(ip.clone(), port))
                || (ip.is_empty() && ports.iter().any(|(_, p)| *p == port))
                || ports.contains(&(String::new(), port));
            if clash {
                return Err(format!("port collision: {port} is used twice"));
            }
            ports.insert((ip, port));
        }
        for task in alloc.allocated_resources.tasks.values() {
            for core in &task.cpu.reserved_cores {
                if !cores.insert(*core) {
                    return Err(format!("core {core} is given twice"));
                }
            }
            for device in &task.devices {
                for id in &device.device_ids {
                    if !devices.insert(id) {
                        return Err(format!("device {id} is given twice"));
                    }
                }
            }
        }
        usage.add(alloc);
    }
    capacity_fits(node, &usage)
}

/// Whether `usage` stays within the node's capacity in every dimension.
fn capacity_fits(node: &Node, usage: &NodeUsage) -> Result<(), String> {
    let capacity = NodeCapacity::of(node);
    let check = |dimension: &str, used: i64, capacity: i64| {
        if used > capacity {
            Err(format!("{dimension} exhausted: {used} used of {capacity}"))
        } else {
            Ok(())
        }
    };
    check("cpu", usage.cpu.0, capacity.cpu.0)?;
    check("memory", usage.memory.0, capacity.memory.0)?;
    check("disk", usage.disk.0, capacity.disk.0)?;
    if usage.bandwidth.0 > 0 {
        check("bandwidth", usage.bandwidth.0, capacity.bandwidth.0)?;
    }
    Ok(())
}

/// The deployment `id` as the plan being applied leaves it: from the
/// staged writes, else loaded from the store into them.
fn staged<'d>(
    deployments: &'d mut BTreeMap<DeploymentId, Deployment>,
    state: &MemoryState,
    id: &DeploymentId,
) -> Option<&'d mut Deployment> {
    if !deployments.contains_key(id) {
        let stored = state.view().deployment(id)?.clone();
        deployments.insert(id.clone(), stored);
    }
    deployments.get_mut(id)
}

/// The host ports one allocation holds, each once, with their address.
fn alloc_ports(alloc: &Allocation) -> BTreeSet<(String, u16)> {
    let resources = &alloc.allocated_resources;
    let mut out = BTreeSet::new();
    // Group ports appear twice, as `Shared.Ports` and in
    // `Shared.Networks`; like Nomad's network index (and `NodeUsage::add`),
    // read the networks only when there are no port mappings.
    let shared_networks: &[_] = if resources.shared.ports.is_empty() {
        &resources.shared.networks
    } else {
        &[]
    };
    let networks = resources
        .tasks
        .values()
        .flat_map(|task| &task.networks)
        .chain(shared_networks);
    for network in networks {
        for port in network.ports() {
            if port.ignore_collision {
                continue;
            }
            if let Ok(value) = u16::try_from(port.value)
                && value > 0
            {
                out.insert((network.ip.clone(), value));
            }
        }
    }
    for port in &resources.shared.ports {
        if port.ignore_collision {
            continue;
        }
        if let Ok(value) = u16::try_from(port.value)
            && value > 0
        {
            out.insert((port.host_ip.clone(), value));
        }
    }
    out
}

/// Writes the accepted part of a plan into `state` at `index`: stops and
/// preemptions (marked `stop`/`evict`), placements and updates, the
/// deployment and deployment status changes.
///
/// Like Nomad's state store: a new allocation that replaces another sets
/// the other's `NextAllocation`, and the deployment counts the accepted
/// placements that belong to it (`PlacedAllocs`, `PlacedCanaries`), with
/// the group's progress deadline starting at the first one.
pub fn apply_plan(
    state: &mut MemoryState,
    index: u64,
    result: &PlanResult,
) -> Result<(), StateError> {
    commit_plan(state, index, result.clone())
}

/// [`apply_plan`] for a result the caller owns and no longer needs: the
/// allocations are moved into the store, not copied.
pub fn commit_plan(
    state: &mut MemoryState,
    index: u64,
    result: PlanResult,
) -> Result<(), StateError> {
    let PlanResult {
        node_update,
        node_allocation,
        node_preemptions,
        deployment,
        deployment_updates,
        ..
    } = result;
    // Sized up front: a plan holds up to thousands of allocations of about
    // a kilobyte each, and growing these vectors by doubling copied them
    // again and again (a fifth of a full c1m run went to `realloc`).
    let count = |map: &BTreeMap<NodeId, Vec<Allocation>>| map.values().map(Vec::len).sum::<usize>();
    let placed = count(&node_allocation);
    let mut writes: Vec<Allocation> =
        Vec::with_capacity(count(&node_update) + count(&node_preemptions) + placed);
    writes.extend(node_update.into_values().flatten());
    writes.extend(node_preemptions.into_values().flatten().map(|mut evicted| {
        evicted.desired_status = AllocDesiredStatus::Evict;
        evicted
    }));
    // Placements are stored first: inserting one tells whether it is new
    // or an in-place update of a stored allocation, without a lookup of
    // its own (in a table of a million allocations, each walk is a dozen
    // cache misses, on every server).
    let placements: Vec<Allocation> = node_allocation.into_values().flatten().collect();
    let new_allocs = state.insert_placements(index, placements)?;
    for alloc in &new_allocs {
        if alloc.previous_allocation.is_empty() {
            continue;
        }
        let previous = writes
            .iter_mut()
            .find(|w| w.id == alloc.previous_allocation);
        match previous {
            Some(previous) => previous.next_allocation = alloc.id.clone(),
            None => {
                if let Some(stored) = state.view().alloc(&alloc.previous_allocation) {
                    let mut previous = stored.clone();
                    previous.job = None;
                    previous.next_allocation = alloc.id.clone();
                    writes.push(previous);
                }
            }
        }
    }

    let mut deployments: BTreeMap<DeploymentId, Deployment> = BTreeMap::new();
    if let Some(deployment) = deployment {
        deployments.insert(deployment.id.clone(), deployment);
    }
    for alloc in new_allocs.iter().filter(|a| !a.deployment_id.is_empty()) {
        let Some(deployment) = staged(&mut deployments, state, &alloc.deployment_id) else {
            continue;
        };
        if let Some(group) = deployment.task_groups.get_mut(&alloc.task_group) {
            if group.placed_allocs == 0 && !group.progress_deadline.is_zero() {
                group.require_progress_by = format_rfc3339_nanos(
                    alloc.create_time.saturating_add(group.progress_deadline.0),
                );
            }
            group.placed_allocs += 1;
            if alloc.is_canary() {
                group.placed_canaries.push(alloc.id.clone());
            }
        }
    }
    for update in &deployment_updates {
        let Some(deployment) = staged(&mut deployments, state, &update.deployment_id) else {
            continue;
        };
        deployment.status = update.status;
        deployment
            .status_description
            .clone_from(&update.status_description);
    }
    state.upsert_allocs(index, writes)?;
    for deployment in deployments.into_values() {
        state.upsert_deployment(index, deployment)?;
    }
    Ok(())
}
