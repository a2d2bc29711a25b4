//! The cluster as the plan being built would leave it: what each node's
//! allocations hold once the plan's stops and placements are applied, and
//! where the job's allocations sit (for anti-affinity, `distinct_hosts` and
//! `distinct_property`).

use std::collections::{BTreeMap, BTreeSet};

use super::node_map::NodeMap;
use crate::feasibility::fit::NodeUsage;
use crate::feasibility::resolve_target;
use crate::model::{AllocId, Allocation, Constraint, ConstraintOperator, Job, Node, NodeId};
use crate::state::StateSnapshot;

/// Node usage and the job's footprint, with the plan applied. The walk
/// looks both up for every node it scores, so they are [`NodeMap`]s.
pub struct Proposed<'s> {
    snapshot: &'s dyn StateSnapshot,
    stopped: BTreeSet<AllocId>,
    /// Nodes with a stopped allocation, whose usage is summed afresh.
    stopped_on: BTreeSet<NodeId>,
    /// What the plan's placements hold, per node.
    placed: BTreeMap<NodeId, NodeUsage>,
    usage: NodeMap<NodeUsage>,
    /// Live allocations of the job per node and group.
    job_groups: NodeMap<BTreeMap<String, u32>>,
}

impl std::fmt::Debug for Proposed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proposed")
            .field("snapshot_index", &self.snapshot.index())
            .field("stopped", &self.stopped)
            .field("placed", &self.placed.len())
            .finish_non_exhaustive()
    }
}

impl<'s> Proposed<'s> {
    /// Starts from the snapshot, with the job's live allocations (not
    /// terminal) as its footprint.
    pub fn new(snapshot: &'s dyn StateSnapshot, job: &Job) -> Self {
        let mut job_groups: NodeMap<BTreeMap<String, u32>> = NodeMap::default();
        for alloc in snapshot.allocs_by_job(&job.namespace, &job.id) {
            if !alloc.is_terminal() {
                *job_groups
                    .get_or_insert_default(&alloc.node_id)
                    .entry(alloc.task_group.clone())
                    .or_default() += 1;
            }
        }
        Proposed {
            snapshot,
            stopped: BTreeSet::new(),
            stopped_on: BTreeSet::new(),
            placed: BTreeMap::new(),
            usage: NodeMap::default(),
            job_groups,
        }
    }

    /// Applies a stop: the allocation no longer holds resources or counts
    /// towards the job's footprint.
    pub fn stop(&mut self, alloc: &Allocation) {
        if !self.stopped.insert(alloc.id.clone()) {
            return;
        }
        self.stopped_on.insert(alloc.node_id.clone());
        self.usage.remove(&alloc.node_id);
        if !alloc.is_terminal()
            && let Some(groups) = self.job_groups.get_mut(&alloc.node_id)
            && let Some(count) = groups.get_mut(&alloc.task_group)
        {
            *count = count.saturating_sub(1);
        }
    }

    /// Applies an eviction of another job's allocation (preemption): it no
    /// longer holds resources, and [`Proposed::is_removed`] reports it, so
    /// no later placement of the evaluation picks it as a victim again.
    /// Unlike [`Proposed::stop`] it never touches the job's footprint: the
    /// victim belongs to another job, even when its group has the same name.
    pub fn preempt(&mut self, victim: &Allocation) {
        if !self.stopped.insert(victim.id.clone()) {
            return;
        }
        self.stopped_on.insert(victim.node_id.clone());
        self.usage.remove(&victim.node_id);
    }

    /// Whether the plan already stops or evicts the allocation.
    pub fn is_removed(&self, alloc: &AllocId) -> bool {
        self.stopped.contains(alloc)
    }

    /// Applies a placement.
    pub fn place(&mut self, alloc: &Allocation) {
        if let Some(usage) = self.usage.get_mut(&alloc.node_id) {
            usage.add(alloc);
        }
        *self
            .job_groups
            .get_or_insert_default(&alloc.node_id)
            .entry(alloc.task_group.clone())
            .or_default() += 1;
        self.placed
            .entry(alloc.node_id.clone())
            .or_default()
            .add(alloc);
    }

    /// What the node's allocations hold with the plan applied.
    pub fn usage(&mut self, node: &Node) -> &NodeUsage {
        // Look up before inserting: most calls hit, and an entry() would
        // copy the id every time (a write to its shared text's count).
        let index = match self.usage.index_of(&node.id) {
            Some(index) => index,
            None => self.insert_usage(node),
        };
        self.usage.at(index)
    }

    /// Sums a node's usage with the plan applied, the first time the walk
    /// asks; returns its index in `usage`.
    fn insert_usage(&mut self, node: &Node) -> usize {
        let mut usage = if self.stopped_on.contains(&node.id) {
            let stopped = &self.stopped;
            let existing = self
                .snapshot
                .allocs_by_node(&node.id)
                .filter(|alloc| !stopped.contains(&alloc.id));
            NodeUsage::of(node, existing)
        } else {
            self.snapshot.node_usage(node)
        };
        if let Some(planned) = self.placed.get(&node.id) {
            usage.absorb(planned);
        }
        self.usage.insert_absent(&node.id, usage)
    }

    /// Live allocations of the job on the node: of `group`, and of any group.
    pub fn job_allocs_on(&self, node: &NodeId, group: &str) -> (u32, u32) {
        self.job_groups.get(node).map_or((0, 0), |groups| {
            (
                groups.get(group).copied().unwrap_or(0),
                groups.values().sum(),
            )
        })
    }

    /// Nodes holding live allocations of the job's `group`, with how many
    /// (for spread counts), in node id order.
    pub fn group_nodes(&self, group: &str) -> Vec<(NodeId, u32)> {
        let mut nodes: Vec<(NodeId, u32)> = self
            .job_groups
            .iter()
            .filter_map(|(node, groups)| {
                groups
                    .get(group)
                    .filter(|count| **count > 0)
                    .map(|count| (node.clone(), *count))
            })
            .collect();
        nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        nodes
    }

    /// The job's live allocations per node and group, in node id order.
    fn job_groups_sorted(&self) -> Vec<(&NodeId, &BTreeMap<String, u32>)> {
        let mut nodes: Vec<(&NodeId, _)> = self.job_groups.iter().collect();
        nodes.sort_unstable_by(|a, b| a.0.cmp(b.0));
        nodes
    }
}

/// Whether a `distinct_hosts` constraint applies to the group: at job level
/// it spans every group of the job, at group level only the group's own
/// allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Declared on the job.
    Job,
    /// Declared on the group or one of its tasks.
    Group,
}

/// A `distinct_property` constraint with the current count of allocations
/// per property value.
#[derive(Debug, Clone)]
pub struct PropertyLimit {
    /// The constraint as written, the `ConstraintFiltered` key.
    pub rendered: String,
    target: String,
    scope: Scope,
    allowed: u32,
    counts: BTreeMap<String, u32>,
}

impl PropertyLimit {
    /// Prepares the constraint, counting the job's live allocations on
    /// nodes in `placed_on` (each node as many times as it holds one in
    /// scope).
    pub fn new(
        constraint: &Constraint,
        scope: Scope,
        placed_on: impl Iterator<Item = (Node, u32)>,
    ) -> Self {
        // Nomad: RTarget is the number allowed per value, default 1.
        let allowed = constraint
            .r_target
            .trim()
            .parse::<u32>()
            .unwrap_or(1)
            .max(1);
        let mut counts = BTreeMap::new();
        for (node, count) in placed_on {
            if let Some(value) = resolve_target(&constraint.l_target, &node) {
                *counts.entry(value).or_default() += count;
            }
        }
        PropertyLimit {
            rendered: format!(
                "{} distinct_property {}",
                constraint.l_target, constraint.r_target
            )
            .trim_end()
            .to_owned(),
            target: constraint.l_target.clone(),
            scope,
            allowed,
            counts,
        }
    }

    /// The scope the constraint was declared at.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Why the node cannot take one more allocation, if it cannot.
    pub fn check(&self, node: &Node) -> Result<(), String> {
        let Some(value) = resolve_target(&self.target, node) else {
            return Err(format!("{} is not set on the node", self.target));
        };
        let used = self.counts.get(&value).copied().unwrap_or(0);
        if used >= self.allowed {
            Err(format!(
                "{} = {value:?} already holds {used} of {} allowed",
                self.target, self.allowed
            ))
        } else {
            Ok(())
        }
    }

    /// Counts one more allocation on the node's value.
    pub fn record(&mut self, node: &Node) {
        if let Some(value) = resolve_target(&self.target, node) {
            *self.counts.entry(value).or_default() += 1;
        }
    }
}

/// The `distinct_hosts` and `distinct_property` rules in force for a group.
#[derive(Debug, Clone, Default)]
pub struct PlacementRules {
    /// `distinct_hosts` at job level.
    pub distinct_hosts_job: bool,
    /// `distinct_hosts` on the group or a task.
    pub distinct_hosts_group: bool,
    /// `distinct_property` constraints.
    pub properties: Vec<PropertyLimit>,
}

impl PlacementRules {
    /// Collects the rules of `group`, counting existing allocations from
    /// `proposed`.
    pub fn new(
        snapshot: &dyn StateSnapshot,
        job: &Job,
        group: &crate::model::TaskGroup,
        proposed: &Proposed<'_>,
    ) -> Self {
        let mut rules = PlacementRules::default();
        let group_level = group
            .constraints
            .iter()
            .chain(group.tasks.iter().flat_map(|t| &t.constraints));
        let all = job
            .constraints
            .iter()
            .map(|c| (c, Scope::Job))
            .chain(group_level.map(|c| (c, Scope::Group)));
        for (constraint, scope) in all {
            match constraint.operator() {
                Some(ConstraintOperator::DistinctHosts) => {
                    // Nomad: an RTarget of "false" turns it off.
                    if constraint.r_target.eq_ignore_ascii_case("false") {
                        continue;
                    }
                    match scope {
                        Scope::Job => rules.distinct_hosts_job = true,
                        Scope::Group => rules.distinct_hosts_group = true,
                    }
                }
                Some(ConstraintOperator::DistinctProperty) => {
                    let sorted = proposed.job_groups_sorted();
                    let placed_on = sorted.into_iter().filter_map(|(node_id, groups)| {
                        let count: u32 = match scope {
                            Scope::Job => groups.values().sum(),
                            Scope::Group => groups.get(&group.name).copied().unwrap_or(0),
                        };
                        let node = snapshot.node(node_id)?;
                        (count > 0).then(|| (node.clone(), count))
                    });
                    rules
                        .properties
                        .push(PropertyLimit::new(constraint, scope, placed_on));
                }
                _ => {}
            }
        }
        rules
    }

    /// The rules a node breaks: `(ConstraintFiltered key, detail)`.
    pub fn check(
        &self,
        node: &Node,
        group: &str,
        proposed: &Proposed<'_>,
    ) -> Vec<(String, String)> {
        let mut broken = Vec::new();
        if !self.distinct_hosts_job && !self.distinct_hosts_group && self.properties.is_empty() {
            return broken;
        }
        let (in_group, in_job) = proposed.job_allocs_on(&node.id, group);
        if self.distinct_hosts_job && in_job > 0 {
            broken.push((
                "distinct_hosts".to_owned(),
                format!("node already runs {in_job} allocation(s) of the job"),
            ));
        } else if self.distinct_hosts_group && in_group > 0 {
            broken.push((
                "distinct_hosts".to_owned(),
                format!("node already runs {in_group} allocation(s) of group {group:?}"),
            ));
        }
        for property in &self.properties {
            if let Err(detail) = property.check(node) {
                broken.push((property.rendered.clone(), detail));
            }
        }
        broken
    }

    /// Records a placement of the job on the node: job-level properties
    /// count every group's placements, group-level ones only the group's
    /// own (`same_group`).
    pub fn record(&mut self, node: &Node, same_group: bool) {
        for property in &mut self.properties {
            if same_group || property.scope() == Scope::Job {
                property.record(node);
            }
        }
    }
}
