//! The invariants checked after every registration, and the independent
//! oracles they judge placements by.

use std::collections::{BTreeMap, BTreeSet};

use scheduler_core::feasibility::{check_constraint, resolve_target};
use scheduler_core::model::{
    Allocation, Constraint, Job, Node, NodeId, NodeStatus, SchedulingEligibility, TaskGroup,
};
use scheduler_core::plan::allocs_fit;
use scheduler_core::scheduler::why_not;
use scheduler_core::state::StateSnapshot;

use crate::run::{Step, live_allocs_of_job};

// ---------------------------------------------------------------------------
// Independent oracles
// ---------------------------------------------------------------------------

pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => text.starts_with(prefix),
        None => pattern == text,
    }
}

/// Whether the node may take the job at all, judged from the node's own
/// fields (not the scheduler's helpers): ready, eligible, not draining, in
/// the job's datacenters and pool.
pub(crate) fn base_usable(job: &Job, node: &Node) -> Result<(), String> {
    if node.status != NodeStatus::Ready {
        return Err(format!("node is {:?}, not ready", node.status));
    }
    if node.scheduling_eligibility != SchedulingEligibility::Eligible {
        return Err("node is ineligible".into());
    }
    if node.drain_strategy.is_some() {
        return Err("node is draining".into());
    }
    let dcs = &job.datacenters;
    if !dcs.is_empty() && !dcs.iter().any(|p| glob(p, &node.datacenter)) {
        return Err(format!(
            "node datacenter {:?} not in {dcs:?}",
            node.datacenter
        ));
    }
    let pool = if job.node_pool.is_empty() {
        "default"
    } else {
        &job.node_pool
    };
    if pool != "all" && pool != node.node_pool {
        return Err(format!("node pool {:?} is not {pool:?}", node.node_pool));
    }
    Ok(())
}

pub(crate) fn is_distinct(constraint: &Constraint) -> bool {
    constraint.operand.starts_with("distinct_")
}

pub(crate) fn group_constraints<'a>(
    job: &'a Job,
    group: &'a TaskGroup,
) -> impl Iterator<Item = &'a Constraint> {
    job.constraints
        .iter()
        .chain(&group.constraints)
        .chain(group.tasks.iter().flat_map(|t| &t.constraints))
}

/// Whether the node satisfies the group's node-local requirements: base
/// usability, every non-distinct constraint, every driver.
pub(crate) fn node_feasible(job: &Job, group: &TaskGroup, node: &Node) -> Result<(), String> {
    base_usable(job, node)?;
    for constraint in group_constraints(job, group).filter(|c| !is_distinct(c)) {
        check_constraint(constraint, node).map_err(|miss| format!("{miss}"))?;
    }
    for task in &group.tasks {
        let usable = node
            .drivers
            .get(&task.driver)
            .is_some_and(|d| d.detected && d.healthy);
        if !usable {
            return Err(format!(
                "driver {:?} of task {:?} not usable",
                task.driver, task.name
            ));
        }
    }
    Ok(())
}

/// Whether a distinct rule applies to the group (job or group level).
pub(crate) fn has_distinct_rule(job: &Job, group: &TaskGroup) -> bool {
    group_constraints(job, group).any(is_distinct)
}

pub(crate) fn group_of<'a>(job: &'a Job, name: &str) -> Option<&'a TaskGroup> {
    job.task_groups.iter().find(|g| g.name == name)
}

pub(crate) fn describe(alloc: &Allocation) -> String {
    format!("alloc {} ({})", alloc.name, alloc.id.as_str())
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

/// Property 1: Every node's live allocations fit it together.
pub(crate) fn no_overcommit(step: &Step<'_>) -> Result<(), String> {
    let state = step.sim.state().view();
    for node in state.nodes() {
        let live: Vec<&Allocation> = state
            .allocs_by_node(&node.id)
            .filter(|a| !a.is_terminal())
            .collect();
        if let Err(e) = allocs_fit(node, &live) {
            let names: Vec<String> = live.iter().map(|a| a.name.clone()).collect();
            return Err(format!(
                "rule `no over-commit` broken on node {}: {e}; allocations {names:?}",
                node.name
            ));
        }
        // The same, summed independently of the crate's fit code.
        let (mut cpu, mut memory, mut disk) = (0i64, 0i64, 0i64);
        let mut cores = BTreeSet::new();
        for alloc in &live {
            for task in alloc.allocated_resources.tasks.values() {
                cpu += task.cpu.cpu_shares.0;
                memory += task.memory.memory_mb.0;
                for core in &task.cpu.reserved_cores {
                    if !cores.insert(*core) {
                        return Err(format!(
                            "rule `no core given twice` broken on node {}: core {core} again in {}",
                            node.name,
                            describe(alloc)
                        ));
                    }
                }
            }
            disk += alloc.allocated_resources.shared.disk_mb.0;
        }
        let resources = &node.node_resources;
        let reserved = &node.reserved_resources;
        let dimensions = [
            (
                "cpu",
                cpu,
                resources.cpu.cpu_shares.0 - reserved.cpu.cpu_shares.0,
            ),
            (
                "memory",
                memory,
                resources.memory.memory_mb.0 - reserved.memory.memory_mb.0,
            ),
            (
                "disk",
                disk,
                resources.disk.disk_mb.0 - reserved.disk.disk_mb.0,
            ),
        ];
        for (dimension, used, capacity) in dimensions {
            if used > capacity {
                let names: Vec<String> = live.iter().map(|a| a.name.clone()).collect();
                return Err(format!(
                    "rule `no over-commit` broken on node {}: {dimension} {used} used of {capacity}; allocations {names:?}",
                    node.name
                ));
            }
        }
    }
    Ok(())
}

/// Property 2: No (ip, port) is held twice on a node; static ports are as asked and
/// not reserved; dynamic ports are inside the node's range.
pub(crate) fn no_port_collision(step: &Step<'_>) -> Result<(), String> {
    let state = step.sim.state().view();
    for node in state.nodes() {
        let resources = &node.node_resources;
        let range = i64::from(resources.min_dynamic_port)..=i64::from(resources.max_dynamic_port);
        let reserved: BTreeSet<i64> = node
            .reserved_resources
            .networks
            .reserved_host_ports
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let mut holders: BTreeMap<(String, i64), String> = BTreeMap::new();
        for alloc in state.allocs_by_node(&node.id).filter(|a| !a.is_terminal()) {
            let shared = &alloc.allocated_resources.shared;
            let mut held: BTreeSet<(String, i64)> = BTreeSet::new();
            for port in &shared.ports {
                held.insert((port.host_ip.clone(), port.value));
            }
            let networks = alloc
                .allocated_resources
                .tasks
                .values()
                .flat_map(|t| &t.networks)
                .chain(&shared.networks);
            for network in networks {
                for port in network.reserved_ports.iter().chain(&network.dynamic_ports) {
                    held.insert((network.ip.clone(), port.value));
                }
            }
            for (ip, port) in held {
                if reserved.contains(&port) {
                    return Err(format!(
                        "rule `reserved ports` broken on node {}: {} holds reserved port {port}",
                        node.name,
                        describe(alloc)
                    ));
                }
                if let Some(other) = holders.insert((ip.clone(), port), describe(alloc)) {
                    return Err(format!(
                        "rule `no port collision` broken on node {}: {ip}:{port} held by {other} and {}",
                        node.name,
                        describe(alloc)
                    ));
                }
            }
            // What the group asked for.
            let job = alloc.job.as_deref().unwrap_or(step.job);
            let Some(group) = group_of(job, &alloc.task_group) else {
                continue;
            };
            for network in &group.networks {
                for asked in &network.reserved_ports {
                    let given = shared.ports.iter().find(|p| p.label == asked.label);
                    if given.map(|p| p.value) != Some(asked.value) {
                        return Err(format!(
                            "rule `static port as asked` broken on node {}: {} asked {}={} and got {given:?}",
                            node.name,
                            describe(alloc),
                            asked.label,
                            asked.value
                        ));
                    }
                }
                for asked in &network.dynamic_ports {
                    let given = shared.ports.iter().find(|p| p.label == asked.label);
                    match given {
                        Some(p) if range.contains(&p.value) => {}
                        _ => {
                            return Err(format!(
                                "rule `dynamic port in range` broken on node {}: {} port {} got {given:?}, range {range:?}",
                                node.name,
                                describe(alloc),
                                asked.label
                            ));
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// Property 3: Every live allocation's node satisfies its job's and group's
/// constraints and drivers, and is usable for the job.
pub(crate) fn constraints_hold(step: &Step<'_>) -> Result<(), String> {
    let state = step.sim.state().view();
    for node in state.nodes() {
        for alloc in state.allocs_by_node(&node.id).filter(|a| !a.is_terminal()) {
            let Some(job) = alloc
                .job
                .as_deref()
                .or_else(|| state.job(alloc.namespace.as_str(), &alloc.job_id))
            else {
                return Err(format!("{} has no job", describe(alloc)));
            };
            let Some(group) = group_of(job, &alloc.task_group) else {
                return Err(format!("{} has no group in its job", describe(alloc)));
            };
            if alloc.node_id != node.id || alloc.node_name != node.name {
                return Err(format!(
                    "{} is indexed on node {} but names node {}",
                    describe(alloc),
                    node.name,
                    alloc.node_name
                ));
            }
            if let Err(rule) = node_feasible(job, group, node) {
                return Err(format!(
                    "rule `{rule}` broken: {} of job {} runs on node {}",
                    describe(alloc),
                    job.id.as_str(),
                    node.name
                ));
            }
        }
    }
    Ok(())
}

/// Property 4: `distinct_hosts` and `distinct_property` hold for every job.
pub(crate) fn distinct_rules_hold(step: &Step<'_>) -> Result<(), String> {
    let state = step.sim.state().view();
    for job in &step.all_jobs {
        let live = live_allocs_of_job(state, job);
        let node_of = |alloc: &Allocation| state.node(&alloc.node_id).cloned();
        // Job level.
        for constraint in job.constraints.iter().filter(|c| is_distinct(c)) {
            check_distinct(constraint, job, "job", &live, &node_of)?;
        }
        for group in &job.task_groups {
            let in_group: Vec<&Allocation> = live
                .iter()
                .copied()
                .filter(|a| a.task_group == group.name)
                .collect();
            let group_level = group
                .constraints
                .iter()
                .chain(group.tasks.iter().flat_map(|t| &t.constraints))
                .filter(|c| is_distinct(c));
            for constraint in group_level {
                check_distinct(
                    constraint,
                    job,
                    &format!("group {}", group.name),
                    &in_group,
                    &node_of,
                )?;
            }
        }
    }
    Ok(())
}

pub(crate) fn check_distinct(
    constraint: &Constraint,
    job: &Job,
    scope: &str,
    allocs: &[&Allocation],
    node_of: &dyn Fn(&Allocation) -> Option<Node>,
) -> Result<(), String> {
    let mut per_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let (rule, limit) = if constraint.operand == "distinct_hosts" {
        if constraint.r_target.eq_ignore_ascii_case("false") {
            return Ok(());
        }
        for alloc in allocs {
            per_key
                .entry(alloc.node_name.clone())
                .or_default()
                .push(alloc.name.clone());
        }
        ("distinct_hosts".to_owned(), 1)
    } else {
        let limit: usize = constraint.r_target.trim().parse().unwrap_or(1).max(1);
        for alloc in allocs {
            let node = node_of(alloc).ok_or_else(|| format!("{} has no node", describe(alloc)))?;
            let Some(value) = resolve_target(&constraint.l_target, &node) else {
                return Err(format!(
                    "rule `distinct_property {}` broken ({scope} of job {}): {} runs on node {} where it is not set",
                    constraint.l_target,
                    job.id.as_str(),
                    describe(alloc),
                    node.name
                ));
            };
            per_key
                .entry(value)
                .or_default()
                .push(format!("{}@{}", alloc.name, node.name));
        }
        (
            format!("distinct_property {} {}", constraint.l_target, limit),
            limit,
        )
    };
    for (key, holders) in per_key {
        if holders.len() > limit {
            return Err(format!(
                "rule `{rule}` broken ({scope} of job {}): {key:?} holds {} allocations, at most {limit} allowed: {holders:?}",
                job.id.as_str(),
                holders.len()
            ));
        }
    }
    Ok(())
}

/// Property 5: Service and batch: live allocations per group never exceed the count,
/// names are unique `job.group[i]` with `i < count`, and what is live plus
/// what failed to place is exactly the count.
pub(crate) fn counts_respected(step: &Step<'_>) -> Result<(), String> {
    if step.spec.kind.system_like() {
        return Ok(());
    }
    let state = step.sim.state().view();
    let live = live_allocs_of_job(state, step.job);
    let placed: BTreeMap<&str, usize> =
        step.outcome
            .result
            .plan
            .new_allocations()
            .fold(BTreeMap::new(), |mut m, a| {
                *m.entry(a.task_group.as_str()).or_default() += 1;
                m
            });
    for group in &step.job.task_groups {
        let count = usize::try_from(group.count.unwrap_or(1).max(0)).unwrap_or(0);
        let in_group: Vec<&&Allocation> =
            live.iter().filter(|a| a.task_group == group.name).collect();
        if in_group.len() > count {
            return Err(format!(
                "rule `count` broken: group {} has {} live allocations, count {count}",
                group.name,
                in_group.len()
            ));
        }
        let mut names = BTreeSet::new();
        for alloc in &in_group {
            let prefix = format!("{}.{}[", step.job.id.as_str(), group.name);
            let index = alloc
                .name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok());
            match index {
                Some(i) if i < count => {}
                _ => {
                    return Err(format!(
                        "rule `name job.group[i], i < {count}` broken by {} on node {}",
                        describe(alloc),
                        alloc.node_name
                    ));
                }
            }
            if !names.insert(alloc.name.clone()) {
                return Err(format!(
                    "rule `unique names` broken: {} appears twice (second on node {})",
                    alloc.name, alloc.node_name
                ));
            }
        }
        let unplaced = step
            .outcome
            .result
            .failures
            .iter()
            .filter(|f| f.task_group == group.name)
            .map(|f| f.unplaced as usize)
            .sum::<usize>();
        let placed_now = placed.get(group.name.as_str()).copied().unwrap_or(0);
        if step.fresh && placed_now + unplaced != count {
            return Err(format!(
                "rule `placed + unplaced = count` broken for fresh group {}: {placed_now} placed + {unplaced} unplaced != {count}",
                group.name
            ));
        }
        let before = step.live_before.get(&group.name).copied().unwrap_or(0);
        let expected = count.saturating_sub(before.min(count));
        if before < count && placed_now + unplaced != expected {
            return Err(format!(
                "rule `placed + unplaced = missing` broken for group {}: {before} live before, {placed_now} placed + {unplaced} unplaced != {expected}",
                group.name
            ));
        }
        if in_group.len() + unplaced != count {
            return Err(format!(
                "rule `live + unplaced = count` broken for group {}: {} live + {unplaced} unplaced != {count}",
                group.name,
                in_group.len()
            ));
        }
    }
    Ok(())
}

/// Property 6: System and sysbatch: at most one allocation per group and node, only
/// on feasible nodes; a feasible node left without one is a reported
/// failure (one unplaced per such node) unless a distinct rule may have
/// refused it.
pub(crate) fn system_coverage(step: &Step<'_>) -> Result<(), String> {
    if !step.spec.kind.system_like() {
        return Ok(());
    }
    let state = step.sim.state().view();
    let live = live_allocs_of_job(state, step.job);
    for group in &step.job.task_groups {
        let mut per_node: BTreeMap<&NodeId, Vec<&Allocation>> = BTreeMap::new();
        for alloc in live.iter().copied().filter(|a| a.task_group == group.name) {
            per_node.entry(&alloc.node_id).or_default().push(alloc);
        }
        if group.count == Some(0) && !per_node.is_empty() {
            return Err(format!(
                "rule `count 0 places nothing` broken: group {} runs on {:?}",
                group.name,
                per_node
                    .values()
                    .flatten()
                    .map(|a| &a.node_name)
                    .collect::<Vec<_>>()
            ));
        }
        let mut missing = Vec::new();
        for node in state.nodes() {
            let here = per_node.get(&node.id).map_or(&[][..], Vec::as_slice);
            if here.len() > 1 {
                return Err(format!(
                    "rule `one per node` broken: group {} has {} allocations on node {}",
                    group.name,
                    here.len(),
                    node.name
                ));
            }
            let expected_name = format!("{}.{}[0]", step.job.id.as_str(), group.name);
            if let Some(alloc) = here.first()
                && alloc.name != expected_name
            {
                return Err(format!(
                    "rule `system name` broken: {} on node {}, expected {expected_name}",
                    describe(alloc),
                    node.name
                ));
            }
            let feasible = node_feasible(step.job, group, node);
            match (feasible, here.is_empty()) {
                (Err(rule), false) => {
                    return Err(format!(
                        "rule `{rule}` broken: group {} placed on infeasible node {}",
                        group.name, node.name
                    ));
                }
                (Ok(()), true) if group.count != Some(0) => missing.push(node.name.clone()),
                _ => {}
            }
        }
        if has_distinct_rule(step.job, group) {
            continue;
        }
        let unplaced = step
            .outcome
            .result
            .failures
            .iter()
            .filter(|f| f.task_group == group.name)
            .map(|f| f.unplaced as usize)
            .sum::<usize>();
        if unplaced != missing.len() {
            return Err(format!(
                "rule `every feasible node runs the group or is a failure` broken: group {} is missing on feasible nodes {missing:?} but the result reports {unplaced} unplaced",
                group.name
            ));
        }
    }
    Ok(())
}

/// Property 8: Plans made against the latest state are fully accepted.
pub(crate) fn plan_fully_accepted(step: &Step<'_>) -> Result<(), String> {
    let result = &step.outcome.plan_result;
    if result.is_full_commit() {
        Ok(())
    } else {
        Err(format!(
            "rule `plan check accepts a fresh plan` broken: rejected nodes {:?}",
            result.rejected
        ))
    }
}

/// Property 9: `why_not` agrees with a failure: no node can take the group.
pub(crate) fn why_not_agrees(step: &Step<'_>) -> Result<(), String> {
    let state = step.sim.state().view();
    for failure in &step.outcome.result.failures {
        let Some(group) = group_of(step.job, &failure.task_group) else {
            return Err(format!(
                "failure names unknown group {}",
                failure.task_group
            ));
        };
        let live = live_allocs_of_job(state, step.job);
        for node in state.nodes() {
            if step.spec.kind.system_like() {
                // Only the feasible nodes left without the group failed.
                let has = live
                    .iter()
                    .any(|a| a.node_id == node.id && a.task_group == group.name);
                if has
                    || node_feasible(step.job, group, node).is_err()
                    || has_distinct_rule(step.job, group)
                {
                    continue;
                }
            }
            let verdict = why_not(state, step.job, &group.name, &node.id)
                .map_err(|e| format!("why_not errs for node {}: {e}", node.name))?;
            if verdict.placeable || verdict.reasons.is_empty() {
                return Err(format!(
                    "rule `why_not agrees with a failure` broken: group {} failed ({}), but why_not on node {} says placeable={} reasons={:?} score={:?}",
                    group.name,
                    failure.metric.explanation,
                    node.name,
                    verdict.placeable,
                    verdict.reasons,
                    verdict.score
                ));
            }
        }
    }
    Ok(())
}
