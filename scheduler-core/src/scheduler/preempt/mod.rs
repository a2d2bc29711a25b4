//! Preemption: evicting lower-priority allocations of other jobs to make
//! room for a placement (Nomad's `scheduler/preemption.go`, rebuilt on our
//! one fit function).
//!
//! # When it runs
//! Only after the normal walk found no node with room, and only when
//! [`PreemptionConfig::enabled_for`](super::config::PreemptionConfig::enabled_for)
//! says the job's type may preempt (system jobs by default; service, batch
//! and sysbatch when configured). [`GroupPlacer`](super::select::GroupPlacer)
//! reads the configuration from the snapshot itself. The nodes reconsidered
//! are those that passed every feasibility check and placement rule but
//! were exhausted on resources during this evaluation, at most
//! [`MAX_NODES`] of them, in the order they were met. Without preemption,
//! or without victims that suffice, placement behaves exactly as before.
//!
//! # Who may be evicted
//! Live allocations (not terminal, not already stopped or evicted by the
//! plan being built) of *other* jobs whose job priority is at least
//! [`PRIORITY_DELTA`] below the placing job's. The priority is that of the
//! job version the allocation runs (`alloc.job`), else the job in the
//! snapshot; an allocation of an unknown job is never evicted. The placing
//! job's own allocations, canaries included, are never evicted.
//!
//! # Which victims ([`choose_victims`])
//! 1. While a dimension (cpu, cores, memory, disk, bandwidth) is short,
//!    take, among the allocations that free some of a short dimension,
//!    those of the lowest priority first, and among those the one whose
//!    resources are closest to what is still missing (Nomad's distance:
//!    the root of the summed squared relative differences).
//! 2. Then static ports: every allocation holding an asked static port is
//!    a victim (a port reserved by the node itself cannot be freed).
//! 3. Then device instances, lowest priority first, when the group asks
//!    for devices.
//! 4. Finally every victim not needed is dropped again (highest priority
//!    first), so no victim is superfluous.
//!
//! [`fit`] has the last word at every step, so a node is only offered when
//! the ask fits once the victims are gone.
//!
//! # Which node
//! Among nodes where preemption works, the cheapest [`Cost`] wins: lowest
//! highest victim priority, then fewest victims, then least freed beyond
//! need; ties go to the normal score, then to the node met first. The
//! choice's score card carries a `preemption` component (Nomad's logistic
//! of the victims' net priority, in `(0, 1)`).
//!
//! # What a caller does with a [`Choice`] that has victims
//! [`Choice::preempted`] lists them, each with a one-line explanation. After
//! building the new allocation from the choice (and **before** the next
//! placement of the evaluation), call [`apply`]:
//!
//! ```text
//! let mut alloc = run.new_allocation(job, group, name, &choice, metric, previous);
//! preempt::apply(&choice, &mut alloc, job, &mut proposed, &mut run.plan, run.env.now);
//! proposed.place(&alloc);
//! run.plan.push_placement(alloc);
//! ```
//!
//! [`apply`] does everything, in one place, and nothing when there are no
//! victims:
//! - marks each victim evicted in [`Proposed`] ([`Proposed::preempt`]), so
//!   later placements see the freed room and never pick it again;
//! - pushes the evicted copy ([`evicted`]) with [`Plan::push_preemption`];
//! - sets the new allocation's `preempted_allocations` to the victims' ids;
//! - counts the evictions in the plan annotations'
//!   `DesiredTGUpdates[group].Preemptions` (creating the annotations when
//!   absent; a caller that sets `plan.annotations` later must keep the
//!   count).
//!
//! The plan check ([`check_plan`](crate::plan::check_plan)) re-fits a node
//! with its preemptions removed, so the plan is accepted as built.
//!
//! # Not yet
//! Exhausted dynamic port ranges and whole cores that run out only when
//! the chosen node is finished are not cured by evictions (the node is
//! skipped); neither are host volumes. An evicted allocation is not
//! rescheduled here: its own job's next evaluation replaces it.

use std::collections::BTreeSet;

use super::proposed::Proposed;
use super::result::Plan;
use super::select::Choice;
use crate::feasibility::fit::{
    Exhausted, NodeCapacity, NodeUsage, ResourceAsk, fit, mhz_per_core, schedulable_cores,
};
use crate::model::{AllocDesiredStatus, AllocId, Allocation, Job, NodeId};
use crate::ranking::math;
use crate::state::StateSnapshot;

#[cfg(test)]
mod tests;

/// How far below the placing job's priority a victim's must be.
pub const PRIORITY_DELTA: i64 = 10;

/// How many exhausted nodes one placement reconsiders at most.
pub const MAX_NODES: usize = 256;

/// An allocation a placement evicts, and why.
#[derive(Debug, Clone)]
pub struct Preempted<'s> {
    /// The allocation to evict, as in the snapshot.
    pub alloc: &'s Allocation,
    /// Its job's priority.
    pub priority: i64,
    /// Why it goes: `priority 20 is at least 10 below 70; frees cpu 500
    /// MHz, memory 256 MiB`.
    pub explanation: String,
}

/// An allocation that may be evicted, with its job's priority.
#[derive(Debug, Clone, Copy)]
pub struct Eligible<'a> {
    /// The allocation.
    pub alloc: &'a Allocation,
    /// Its job's priority.
    pub priority: i64,
}

/// The allocations on `node` that a placement of `job` may evict, lowest
/// priority first (ties in the snapshot's id order).
pub fn eligible<'s>(
    snapshot: &'s dyn StateSnapshot,
    proposed: &Proposed<'_>,
    node: &NodeId,
    job: &Job,
) -> Vec<Eligible<'s>> {
    let ceiling = job.priority() - PRIORITY_DELTA;
    let mut out: Vec<Eligible<'s>> = snapshot
        .allocs_by_node(node)
        .filter(|alloc| !alloc.is_terminal() && !proposed.is_removed(&alloc.id))
        .filter(|alloc| !(alloc.job_id == job.id && alloc.namespace.as_str() == job.namespace))
        .filter_map(|alloc| {
            let priority = alloc.job.as_deref().map(Job::priority).or_else(|| {
                snapshot
                    .job(alloc.namespace.as_str(), &alloc.job_id)
                    .map(Job::priority)
            })?;
            (priority <= ceiling).then_some(Eligible { alloc, priority })
        })
        .collect();
    out.sort_by_key(|e| e.priority);
    out
}

/// Amounts per scalar dimension: what is short, or what a victim frees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dims {
    /// CPU shares (MHz), including the shares of asked cores.
    pub cpu: i64,
    /// Whole cores.
    pub cores: i64,
    /// Memory (MiB).
    pub memory: i64,
    /// Disk (MiB).
    pub disk: i64,
    /// Bandwidth (Mbit/s).
    pub bandwidth: i64,
}

impl Dims {
    fn values(self) -> [i64; 5] {
        [self.cpu, self.cores, self.memory, self.disk, self.bandwidth]
    }

    /// Whether every dimension is 0 or less.
    pub fn is_zero(self) -> bool {
        self.values().iter().all(|v| *v <= 0)
    }

    /// Whether `freed` gives some of a short dimension.
    fn helps(self, freed: Dims) -> bool {
        self.values()
            .iter()
            .zip(freed.values())
            .any(|(need, got)| *need > 0 && got > 0)
    }

    /// Nomad's `basicResourceDistance`, over the short dimensions: the
    /// root of the summed squared differences relative to the need. An
    /// allocation the size of the need is at 0.
    fn distance(self, freed: Dims) -> f64 {
        let sum = self
            .values()
            .iter()
            .zip(freed.values())
            .filter(|(need, _)| **need > 0)
            .fold(0.0, |sum, (need, got)| {
                let relative = (*need as f64 - got as f64) / *need as f64;
                sum + relative * relative
            });
        sum.sqrt()
    }
}

/// What is short on `node` for `ask` given `usage`, per dimension.
pub fn shortfall(node: &crate::model::Node, usage: &NodeUsage, ask: &ResourceAsk) -> Dims {
    let capacity = NodeCapacity::of(node);
    let short = |used: i64, asked: i64, capacity: i64| {
        used.saturating_add(asked).saturating_sub(capacity).max(0)
    };
    let asked_cores = i64::try_from(ask.cores).unwrap_or(i64::MAX);
    let cores_cpu = mhz_per_core(node).0.saturating_mul(asked_cores);
    let free_cores = schedulable_cores(node).difference(&usage.cores).count();
    Dims {
        cpu: short(
            usage.cpu.0,
            ask.cpu.0.saturating_add(cores_cpu),
            capacity.cpu.0,
        ),
        cores: asked_cores
            .saturating_sub(i64::try_from(free_cores).unwrap_or(i64::MAX))
            .max(0),
        memory: short(usage.memory.0, ask.memory.0, capacity.memory.0),
        disk: short(usage.disk.0, ask.disk.0, capacity.disk.0),
        bandwidth: if ask.bandwidth.0 > 0 {
            short(usage.bandwidth.0, ask.bandwidth.0, capacity.bandwidth.0)
        } else {
            0
        },
    }
}

/// What one allocation holds.
fn held(alloc: &Allocation) -> NodeUsage {
    let mut usage = NodeUsage::default();
    usage.add(alloc);
    usage
}

fn freed(node: &crate::model::Node, held: &NodeUsage) -> Dims {
    let schedulable = schedulable_cores(node);
    Dims {
        cpu: held.cpu.0,
        cores: i64::try_from(held.cores.intersection(&schedulable).count()).unwrap_or(i64::MAX),
        memory: held.memory.0,
        disk: held.disk.0,
        bandwidth: held.bandwidth.0,
    }
}

/// `usage` less what `gone` holds.
fn subtract(usage: &NodeUsage, gone: &NodeUsage) -> NodeUsage {
    let mut out = usage.clone();
    out.cpu -= gone.cpu;
    out.memory -= gone.memory;
    out.disk -= gone.disk;
    out.bandwidth -= gone.bandwidth;
    for (ip, ports) in &gone.ports {
        if let Some(used) = out.ports.get_mut(ip) {
            for port in ports {
                used.remove(port);
            }
        }
    }
    for core in &gone.cores {
        out.cores.remove(core);
    }
    for device in &gone.devices {
        out.devices.remove(device);
    }
    out
}

fn holds_port(held: &NodeUsage, port: u16) -> bool {
    held.ports.values().any(|ports| ports.contains(&port))
}

/// How much a set of victims costs: compared field by field, lower is
/// better.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cost {
    /// The highest victim priority.
    pub max_priority: i64,
    /// How many victims.
    pub count: usize,
    /// What is freed beyond the need, as fractions of the node's capacity
    /// summed over cpu, memory, disk and bandwidth.
    pub excess: f64,
}

impl Cost {
    /// Orders costs: cheaper first.
    pub fn compare(&self, other: &Cost) -> std::cmp::Ordering {
        self.max_priority
            .cmp(&other.max_priority)
            .then(self.count.cmp(&other.count))
            .then(self.excess.total_cmp(&other.excess))
    }
}

/// The victims chosen on one node.
#[derive(Debug, Clone)]
pub struct Victims {
    /// Indexes into the eligible allocations, in the order chosen.
    pub chosen: Vec<usize>,
    /// The node's usage once they are gone.
    pub usage: NodeUsage,
    /// What was short before any eviction.
    pub short: Dims,
    /// Asked static ports that were held by allocations.
    pub ports: BTreeSet<u16>,
    /// What the set costs.
    pub cost: Cost,
}

/// Chooses the smallest set of lowest-priority victims among `eligible`
/// after which `ask` fits on `node` (see the module doc for the rules).
/// `usage` is the node's usage with the plan applied; `devices_fit` says
/// whether the group's devices can be given with a usage (always true for
/// a group without devices). `None` when no set suffices.
pub fn choose_victims(
    node: &crate::model::Node,
    usage: &NodeUsage,
    ask: &ResourceAsk,
    eligible: &[Eligible<'_>],
    devices_fit: &dyn Fn(&NodeUsage) -> bool,
) -> Option<Victims> {
    let holdings: Vec<NodeUsage> = eligible.iter().map(|e| held(e.alloc)).collect();
    let frees: Vec<Dims> = holdings.iter().map(|h| freed(node, h)).collect();
    let without = |chosen: &[usize]| {
        chosen
            .iter()
            .fold(usage.clone(), |usage, &i| subtract(&usage, &holdings[i]))
    };
    let short = shortfall(node, usage, ask);
    let mut ports = BTreeSet::new();
    let mut chosen: Vec<usize> = Vec::new();
    // Each round adds at least one victim or ends.
    loop {
        let reduced = without(&chosen);
        let missing = shortfall(node, &reduced, ask);
        let unchosen = || (0..eligible.len()).filter(|i| !chosen.contains(i));
        if !missing.is_zero() {
            // Lowest priority first; within it, the closest to the need;
            // ties to the first in id order.
            let lowest = unchosen()
                .filter(|&i| missing.helps(frees[i]))
                .map(|i| eligible[i].priority)
                .min()?;
            let best = unchosen()
                .filter(|&i| eligible[i].priority == lowest && missing.helps(frees[i]))
                .min_by(|&a, &b| {
                    missing
                        .distance(frees[a])
                        .total_cmp(&missing.distance(frees[b]))
                })?;
            chosen.push(best);
            continue;
        }
        match fit(node, &reduced, ask) {
            Ok(()) => {
                if devices_fit(&reduced) {
                    break;
                }
                let next = unchosen().find(|&i| !holdings[i].devices.is_empty())?;
                chosen.push(next);
            }
            Err(Exhausted::Port(port)) => {
                let holders: Vec<usize> = unchosen()
                    .filter(|&i| holds_port(&holdings[i], port))
                    .collect();
                if holders.is_empty() {
                    return None;
                }
                ports.insert(port);
                chosen.extend(holders);
            }
            // The shortfall is zero, so another exhaustion cannot be
            // cured by evictions.
            Err(_) => return None,
        }
    }

    // Drop victims not needed, the most valuable first.
    let suffices = |set: &[usize]| {
        let reduced = without(set);
        shortfall(node, &reduced, ask).is_zero()
            && fit(node, &reduced, ask).is_ok()
            && devices_fit(&reduced)
    };
    let mut order = chosen.clone();
    order.sort_by(|&a, &b| {
        eligible[b].priority.cmp(&eligible[a].priority).then(
            short
                .distance(frees[b])
                .total_cmp(&short.distance(frees[a])),
        )
    });
    for candidate in order {
        let rest: Vec<usize> = chosen.iter().copied().filter(|&i| i != candidate).collect();
        if suffices(&rest) {
            chosen = rest;
        }
    }
    ports.retain(|port| chosen.iter().any(|&i| holds_port(&holdings[i], *port)));

    let capacity = NodeCapacity::of(node);
    let total = chosen
        .iter()
        .fold(Dims::default(), |sum, &i| add_dims(sum, frees[i]));
    let fraction = |freed: i64, need: i64, capacity: i64| {
        if capacity <= 0 {
            0.0
        } else {
            (freed - need).max(0) as f64 / capacity as f64
        }
    };
    let excess = fraction(total.cpu, short.cpu, capacity.cpu.0)
        + fraction(total.memory, short.memory, capacity.memory.0)
        + fraction(total.disk, short.disk, capacity.disk.0)
        + fraction(total.bandwidth, short.bandwidth, capacity.bandwidth.0);
    let cost = Cost {
        max_priority: chosen
            .iter()
            .map(|&i| eligible[i].priority)
            .max()
            .unwrap_or(0),
        count: chosen.len(),
        excess,
    };
    Some(Victims {
        usage: without(&chosen),
        chosen,
        short,
        ports,
        cost,
    })
}

fn add_dims(a: Dims, b: Dims) -> Dims {
    Dims {
        cpu: a.cpu.saturating_add(b.cpu),
        cores: a.cores.saturating_add(b.cores),
        memory: a.memory.saturating_add(b.memory),
        disk: a.disk.saturating_add(b.disk),
        bandwidth: a.bandwidth.saturating_add(b.bandwidth),
    }
}

/// Why `victim` is evicted by a job of priority `by_priority`: its
/// priority, and what it frees of what was short (or of the ports and
/// devices in the way).
pub fn explain(victim: &Eligible<'_>, by_priority: i64, victims: &Victims) -> String {
    let holds = held(victim.alloc);
    let cores = holds.cores.len();
    let mut frees = Vec::new();
    let short = victims.short;
    if short.cpu > 0 && holds.cpu.0 > 0 {
        frees.push(format!("cpu {}", holds.cpu));
    }
    if short.cores > 0 && cores > 0 {
        frees.push(format!("{cores} cores"));
    }
    if short.memory > 0 && holds.memory.0 > 0 {
        frees.push(format!("memory {}", holds.memory));
    }
    if short.disk > 0 && holds.disk.0 > 0 {
        frees.push(format!("disk {}", holds.disk));
    }
    if short.bandwidth > 0 && holds.bandwidth.0 > 0 {
        frees.push(format!("bandwidth {}", holds.bandwidth));
    }
    for port in &victims.ports {
        if holds_port(&holds, *port) {
            frees.push(format!("port {port}"));
        }
    }
    if frees.is_empty() && !holds.devices.is_empty() {
        frees.push(format!("{} device instance(s)", holds.devices.len()));
    }
    let mut text = format!(
        "priority {} is at least {PRIORITY_DELTA} below {by_priority}",
        victim.priority
    );
    if !frees.is_empty() {
        text.push_str("; frees ");
        text.push_str(&frees.join(", "));
    }
    text
}

/// The `preemption` score component: Nomad's logistic of the victims' net
/// priority (the highest plus the sum over the highest), in `(0, 1)`,
/// higher for cheaper victims. Computed with the portable
/// [`math::exp`].
pub fn score(priorities: &[i64]) -> f64 {
    let max = priorities.iter().copied().max().unwrap_or(0).max(1) as f64;
    let sum = priorities.iter().sum::<i64>() as f64;
    let net = max + sum / max;
    1.0 / (1.0 + math::exp(0.0048 * (net - 2048.0)))
}

/// The copy of `victim` to put in [`Plan::push_preemption`]: desired
/// status `evict`, a description naming the evicting allocation and the
/// reason, `preempted_by_allocation` set, no embedded job, modified `now`.
pub fn evicted(
    victim: &Allocation,
    by_alloc: &AllocId,
    by_job: &Job,
    explanation: &str,
    now: i64,
) -> Allocation {
    let mut out = victim.clone();
    out.job = None;
    out.desired_status = AllocDesiredStatus::Evict;
    out.desired_description = format!(
        "Preempted by alloc ID {} of job {:?}: {explanation}",
        by_alloc.as_str(),
        by_job.id.as_str()
    );
    out.preempted_by_allocation = by_alloc.clone();
    out.modify_time = now;
    out
}

/// Records the evictions `choice` needs for `alloc`, the allocation built
/// from it (see the module doc). Does nothing when the choice has no
/// victims.
pub fn apply(
    choice: &Choice<'_>,
    alloc: &mut Allocation,
    job: &Job,
    proposed: &mut Proposed<'_>,
    plan: &mut Plan,
    now: i64,
) {
    if choice.preempted.is_empty() {
        return;
    }
    for victim in &choice.preempted {
        proposed.preempt(victim.alloc);
        plan.push_preemption(evicted(
            victim.alloc,
            &alloc.id,
            job,
            &victim.explanation,
            now,
        ));
        alloc.preempted_allocations.push(victim.alloc.id.clone());
    }
    let count = u64::try_from(choice.preempted.len()).unwrap_or(u64::MAX);
    plan.annotations
        .get_or_insert_with(Default::default)
        .desired_tg_updates
        .entry(alloc.task_group.clone())
        .or_default()
        .preemptions += count;
}
