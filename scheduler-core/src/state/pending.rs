//! Placements of plans in flight, laid over a snapshot.
//!
//! A leader's workers schedule against snapshots of the applied state, and
//! a plan takes a round of replication to get there. A worker that starts
//! meanwhile sees the nodes that plan fills as they were, and under
//! binpack its best-fit pass picks the very same tightest nodes: the plan
//! applier then refuses all but the first plan's share of them and the
//! refused evaluations are scheduled again (with two workers on C1M
//! through Raft, 264 partial refusals in 300 evaluations, and a sixth more
//! CPU than one worker for the same placements).
//!
//! [`PendingUsage`] is what plans submitted and not yet applied will hold
//! on each node; [`WithPending`] is a snapshot that counts it as held, so a
//! scheduler run on it leaves that room to the plans in flight. It only
//! adds: stops and preemptions of pending plans free nothing until they
//! are applied. It adds to usage only, not allocations: a node where the
//! new plan also stops allocations is summed from `allocs_by_node`, the
//! snapshot's. The plan applier still checks every plan against the
//! state itself; this only makes its refusals rare.

use std::collections::BTreeMap;

use super::{Resource, StateSnapshot};
use crate::feasibility::fit::{NodeCapacity, NodeUsage};
use crate::model::{
    AllocId, Allocation, Deployment, DeploymentId, EvalId, Evaluation, Job, JobId, Node, NodeId,
};
use crate::scheduler::Plan;
use crate::scheduler::config::{NodePool, SchedulerConfiguration};

/// What pending plans will hold on each node, beyond the snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PendingUsage {
    by_node: BTreeMap<NodeId, NodeUsage>,
}

impl PendingUsage {
    /// Nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// What `plan`'s placements will hold, node by node.
    pub fn of_plan(plan: &Plan) -> Self {
        let by_node = plan
            .node_allocation
            .iter()
            .filter(|(_, allocs)| !allocs.is_empty())
            .map(|(node, allocs)| {
                let mut usage = NodeUsage::default();
                for alloc in allocs.iter().filter(|alloc| !alloc.is_terminal()) {
                    usage.add(alloc);
                }
                (node.clone(), usage)
            })
            .collect();
        Self { by_node }
    }

    /// Adds what `other` holds.
    pub fn absorb(&mut self, other: &PendingUsage) {
        for (node, usage) in &other.by_node {
            match self.by_node.get_mut(node) {
                Some(held) => held.absorb(usage),
                None => {
                    self.by_node.insert(node.clone(), usage.clone());
                }
            }
        }
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }

    /// What is pending on `node`.
    pub fn on(&self, node: &NodeId) -> Option<&NodeUsage> {
        self.by_node.get(node)
    }
}

/// A snapshot whose nodes also hold what pending plans will place on them.
/// Everything else reads through to the snapshot.
pub struct WithPending<'a> {
    snapshot: &'a dyn StateSnapshot,
    pending: &'a PendingUsage,
}

impl std::fmt::Debug for WithPending<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WithPending")
            .field("index", &self.snapshot.index())
            .field("pending", &self.pending)
            .finish()
    }
}

impl<'a> WithPending<'a> {
    /// `snapshot` with `pending` counted as held.
    pub fn new(snapshot: &'a dyn StateSnapshot, pending: &'a PendingUsage) -> Self {
        Self { snapshot, pending }
    }
}

impl StateSnapshot for WithPending<'_> {
    fn index(&self) -> u64 {
        self.snapshot.index()
    }

    fn node(&self, id: &NodeId) -> Option<&Node> {
        self.snapshot.node(id)
    }

    fn nodes(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        self.snapshot.nodes()
    }

    fn node_count(&self) -> usize {
        self.snapshot.node_count()
    }

    fn node_at(&self, position: usize) -> Option<&Node> {
        self.snapshot.node_at(position)
    }

    fn node_usage(&self, node: &Node) -> NodeUsage {
        let mut usage = self.snapshot.node_usage(node);
        if let Some(pending) = self.pending.on(&node.id) {
            usage.absorb(pending);
        }
        usage
    }

    /// The snapshot's busy nodes, less those that pending plans leave with
    /// less than `at_least` free. Nodes only pending plans use are not
    /// among them: they are filled once their plans are applied.
    fn busy_nodes_by_free(
        &self,
        resource: Resource,
        at_least: i64,
    ) -> Box<dyn Iterator<Item = &Node> + '_> {
        let busy = self.snapshot.busy_nodes_by_free(resource, at_least);
        if self.pending.is_empty() {
            return busy;
        }
        Box::new(busy.filter(move |node| {
            let Some(pending) = self.pending.on(&node.id) else {
                return true;
            };
            let capacity = NodeCapacity::of(node);
            let usage = self.snapshot.node_usage(node);
            let free = match resource {
                Resource::Cpu => capacity.cpu.0 - usage.cpu.0 - pending.cpu.0,
                Resource::Memory => capacity.memory.0 - usage.memory.0 - pending.memory.0,
            };
            free >= at_least
        }))
    }

    fn nodes_in_class(&self, computed_class: &str) -> Box<dyn Iterator<Item = &Node> + '_> {
        self.snapshot.nodes_in_class(computed_class)
    }

    fn job(&self, namespace: &str, id: &JobId) -> Option<&Job> {
        self.snapshot.job(namespace, id)
    }

    fn alloc(&self, id: &AllocId) -> Option<&Allocation> {
        self.snapshot.alloc(id)
    }

    fn allocs_by_node(&self, node: &NodeId) -> Box<dyn Iterator<Item = &Allocation> + '_> {
        self.snapshot.allocs_by_node(node)
    }

    fn allocs_by_job(
        &self,
        namespace: &str,
        job: &JobId,
    ) -> Box<dyn Iterator<Item = &Allocation> + '_> {
        self.snapshot.allocs_by_job(namespace, job)
    }

    fn evaluation(&self, id: &EvalId) -> Option<&Evaluation> {
        self.snapshot.evaluation(id)
    }

    fn deployment(&self, id: &DeploymentId) -> Option<&Deployment> {
        self.snapshot.deployment(id)
    }

    fn latest_deployment(&self, namespace: &str, job: &JobId) -> Option<&Deployment> {
        self.snapshot.latest_deployment(namespace, job)
    }

    fn scheduler_config(&self) -> SchedulerConfiguration {
        self.snapshot.scheduler_config()
    }

    fn node_pool(&self, name: &str) -> Option<&NodePool> {
        self.snapshot.node_pool(name)
    }
}
