//! The cluster state the scheduler reads: a read-only snapshot trait, and an
//! in-memory store that produces such snapshots.
//!
//! # Design
//! The scheduler is a pure function of a snapshot, an evaluation and its
//! environment, so it only ever sees [`StateSnapshot`], a read-only view at
//! one raft-style index. Who keeps the state is the embedder's business: the
//! simulator and tests use [`MemoryState`] from this module; a server will
//! use a Raft-backed store that implements the same trait (and passes the
//! same conformance suite, `state::conformance`, behind the `testing`
//! feature).
//!
//! The trait is **object-safe** on purpose: the scheduler takes
//! `&dyn StateSnapshot`, so one compiled scheduler serves every store and no
//! generic parameter spreads through the placement code. Collections are
//! therefore returned as `Box<dyn Iterator<Item = &T> + '_>`: lazy (the
//! scheduler often stops early, e.g. after the first feasible nodes), one
//! small allocation per call, and still free to be backed by any index
//! structure. A `Vec<&T>` would force every caller to pay for the whole
//! collection; `impl Iterator` in a trait would make it non-object-safe.
//!
//! # The contract every implementation keeps
//! - **Deterministic order.** Every collection is yielded in ascending order
//!   of the object's id (`NodeId`, `AllocId`), never in hash or insertion
//!   order, so the same state gives the same scheduler output, byte for byte.
//! - **Snapshot isolation.** A snapshot never changes: writes to the store
//!   after it was taken are invisible to it, for as long as it lives.
//! - **Monotonic index.** [`StateSnapshot::index`] is the index of the last
//!   write the snapshot reflects. A later snapshot of the same store never
//!   has a smaller index; a store rejects a write whose index is below its
//!   current one ([`StateError::IndexRegressed`]). Several writes may share
//!   an index (one Raft entry can carry a plan's allocations, its deployment
//!   and its evaluations).
//! - **Indexes agree with the objects.** `nodes_in_class`, `allocs_by_node`,
//!   `allocs_by_job` and `latest_deployment` give exactly what a full scan
//!   of the stored objects would give, after any sequence of writes
//!   (including writes that move an allocation to another node or change a
//!   node's computed class).
//! - **Nomad's index bookkeeping.** Writes set `CreateIndex` (kept across
//!   updates) and `ModifyIndex`; jobs also get `Version` and
//!   `JobModifyIndex` as Nomad sets them (see [`MemoryState::upsert_job`]).

#[cfg(any(test, feature = "testing"))]
pub mod conformance;
mod memory;
mod pending;

pub use memory::{
    DumpedAlloc, JOB_TRACKED_VERSIONS, JobChange, MemorySnapshot, MemoryState, StateDump,
};
pub use pending::{PendingUsage, WithPending};

use crate::feasibility::fit::NodeUsage;
use crate::model::{
    AllocId, Allocation, Deployment, DeploymentId, EvalId, Evaluation, Job, JobId, Node, NodeId,
};
use crate::scheduler::config::{NodePool, SchedulerConfiguration};

/// A resource the busy-node indexes order by
/// ([`StateSnapshot::busy_nodes_by_free`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// CPU shares, MHz.
    Cpu,
    /// Memory, MiB.
    Memory,
}

/// A read-only view of the cluster state at one index.
///
/// See the [module documentation](self) for the contract (ordering,
/// isolation, monotonic index) every implementation must keep.
pub trait StateSnapshot {
    /// The raft-style index of the last write this snapshot reflects
    /// (0 for an empty store).
    fn index(&self) -> u64;

    /// The node with this id.
    fn node(&self, id: &NodeId) -> Option<&Node>;

    /// Every node, in ascending id order.
    fn nodes(&self) -> Box<dyn Iterator<Item = &Node> + '_>;

    /// The number of nodes. Stores should answer in O(1); the default
    /// counts.
    fn node_count(&self) -> usize {
        self.nodes().count()
    }

    /// The node at `position` of [`StateSnapshot::nodes`]' order (ascending
    /// id), `None` past the end. The scheduler samples nodes at random
    /// positions so that placing one allocation does not scan every node;
    /// stores should answer in O(1) or O(log n). The default walks.
    fn node_at(&self, position: usize) -> Option<&Node> {
        self.nodes().nth(position)
    }

    /// What the node's non-terminal allocations hold together (cpu,
    /// memory, disk, ports, cores, devices). The scheduler asks for every
    /// node it considers; stores should keep it as allocations are written.
    /// The default sums [`StateSnapshot::allocs_by_node`].
    fn node_usage(&self, node: &Node) -> NodeUsage {
        NodeUsage::of(node, self.allocs_by_node(&node.id))
    }

    /// Nodes holding at least one live allocation with at least
    /// `at_least` of `resource` free (schedulable capacity minus what their
    /// live allocations hold: MHz or MiB), least free first. The binpack
    /// walk reads the first few to consider the tightest nodes that can
    /// still take an allocation (best fit), which sampling the whole
    /// cluster rarely finds on a large, mostly empty cluster. Stores should
    /// answer lazily, in O(log n) to the first node. The default, no nodes,
    /// leaves binpack to sampling alone.
    fn busy_nodes_by_free(
        &self,
        _resource: Resource,
        _at_least: i64,
    ) -> Box<dyn Iterator<Item = &Node> + '_> {
        Box::new(std::iter::empty())
    }

    /// Nodes whose `ComputedClass` is `computed_class`, in ascending id order.
    fn nodes_in_class(&self, computed_class: &str) -> Box<dyn Iterator<Item = &Node> + '_>;

    /// The current version of a job.
    fn job(&self, namespace: &str, id: &JobId) -> Option<&Job>;

    /// The allocation with this id.
    fn alloc(&self, id: &AllocId) -> Option<&Allocation>;

    /// Allocations placed on a node (terminal ones included), in ascending
    /// allocation id order. The node itself need not exist any more.
    fn allocs_by_node(&self, node: &NodeId) -> Box<dyn Iterator<Item = &Allocation> + '_>;

    /// Allocations of a job, of every job version, terminal ones included,
    /// in ascending allocation id order. The job itself need not exist any
    /// more (a purged job's allocations stay until they are garbage
    /// collected).
    fn allocs_by_job(
        &self,
        namespace: &str,
        job: &JobId,
    ) -> Box<dyn Iterator<Item = &Allocation> + '_>;

    /// The evaluation with this id.
    fn evaluation(&self, id: &EvalId) -> Option<&Evaluation>;

    /// The deployment with this id.
    fn deployment(&self, id: &DeploymentId) -> Option<&Deployment>;

    /// The job's most recently created deployment: the highest
    /// `CreateIndex`, ties broken by the greatest id. Terminal deployments
    /// count (Nomad's `LatestDeploymentByJobID`).
    fn latest_deployment(&self, namespace: &str, job: &JobId) -> Option<&Deployment>;

    /// The scheduler configuration in force; Nomad's defaults for a store
    /// that never had one set.
    fn scheduler_config(&self) -> SchedulerConfiguration {
        SchedulerConfiguration::default()
    }

    /// The node pool registered under `name`, if any. Pools need not be
    /// registered for nodes to use them; a registered pool can choose its
    /// own placement algorithm.
    fn node_pool(&self, name: &str) -> Option<&NodePool> {
        let _ = name;
        None
    }
}

/// Why a store refused a write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// The write's index is below the store's current index.
    #[error("write at index {given} is older than the store's index {current}")]
    IndexRegressed {
        /// The store's index.
        current: u64,
        /// The index the write carried.
        given: u64,
    },
}

/// Whether `new` differs from `old` in what the job says, ignoring the
/// fields the servers manage (status, stability, version, indexes, submit
/// time, version tag). Nomad's `Job.SpecChanged`: a register that changes
/// nothing else does not create a new version.
pub fn job_spec_changed(old: &Job, new: &Job) -> bool {
    let mut normalized = new.clone();
    normalized.status.clone_from(&old.status);
    normalized
        .status_description
        .clone_from(&old.status_description);
    normalized.stable = old.stable;
    normalized.version = old.version;
    normalized.create_index = old.create_index;
    normalized.modify_index = old.modify_index;
    normalized.job_modify_index = old.job_modify_index;
    normalized.submit_time = old.submit_time;
    normalized.version_tag.clone_from(&old.version_tag);
    normalized != *old
}
