//! [`MemoryState`]: the in-memory store, and [`MemorySnapshot`], its
//! read-only, isolated view.
//!
//! See [`MemoryState`] for the cost model.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Resource, StateError, StateSnapshot, job_spec_changed};
use crate::feasibility::fit::{NodeCapacity, NodeUsage};
use crate::model::{
    AllocClientStatus, AllocId, Allocation, Deployment, DeploymentId, EvalId, Evaluation, Job,
    JobId, Node, NodeId,
};
use crate::scheduler::config::{NodePool, SchedulerConfiguration};

mod alloc_set;
mod alloc_table;
mod dump;
mod stability;

use alloc_set::AllocSet;
use alloc_table::AllocTable;
pub use dump::{DumpedAlloc, StateDump};

/// A job's key: namespace (as stored on the object) and id.
type JobKey = (String, JobId);

/// A job's kept versions, by version number.
type JobVersions = BTreeMap<u64, Arc<Job>>;

/// An id index: for each key, the set of ids, shared copy-on-write.
type IdIndex<K, Id> = Arc<BTreeMap<K, Arc<BTreeSet<Id>>>>;

/// An allocation index: for each key, the allocations themselves (the same
/// `Arc`s as the main table), so walking a node's allocations touches no
/// other map; looking each id up in a table of a million allocations
/// instead costs cache misses per allocation. The sets copy in chunks
/// ([`AllocSet`]), so a write after a snapshot copies little of a node's.
type AllocIndex<K> = Arc<BTreeMap<K, Arc<AllocSet>>>;

/// A read-only, isolated view of a [`MemoryState`] at one index.
///
/// Cloning is O(1). Holding it costs nothing until the store is written to;
/// see [`MemoryState`] for the copy-on-write cost.
#[derive(Debug, Clone, Default)]
pub struct MemorySnapshot {
    index: u64,
    nodes: Arc<BTreeMap<NodeId, Arc<Node>>>,
    /// The nodes again, as a vector in id order: random access for the
    /// scheduler's sampling (`node_at`).
    node_list: Arc<Vec<Arc<Node>>>,
    nodes_by_class: IdIndex<String, NodeId>,
    jobs: Arc<BTreeMap<JobKey, Arc<Job>>>,
    /// Per job, its last [`JOB_TRACKED_VERSIONS`] versions by version
    /// number (the current one included), for `job history` and `revert`.
    job_versions: Arc<BTreeMap<JobKey, Arc<JobVersions>>>,
    /// The largest table, in a persistent map: a write after a snapshot
    /// copies O(log n) nodes, not the whole table (see the cost model).
    allocs: AllocTable,
    allocs_by_node: AllocIndex<NodeId>,
    allocs_by_job: AllocIndex<JobKey>,
    /// Per job with allocations, the index of the last write that added,
    /// changed or removed one of them (see
    /// [`MemorySnapshot::job_allocs_index`]).
    job_allocs_index: Arc<BTreeMap<JobKey, u64>>,
    /// What each node's live allocations hold, kept as allocations are
    /// written, so the scheduler reads one entry per node it considers.
    usage_by_node: Arc<BTreeMap<NodeId, Arc<NodeUsage>>>,
    /// Nodes holding live allocations by free CPU and by free memory
    /// (schedulable capacity minus the usage), for `busy_nodes_by_free`.
    free_cpu: Arc<FreeIndex>,
    free_memory: Arc<FreeIndex>,
    evals: Arc<BTreeMap<EvalId, Arc<Evaluation>>>,
    deployments: Arc<BTreeMap<DeploymentId, Arc<Deployment>>>,
    /// Per job, `(CreateIndex, id)` of its deployments: the last is the latest.
    deployments_by_job: IdIndex<JobKey, (u64, DeploymentId)>,
    scheduler_config: Arc<SchedulerConfiguration>,
    node_pools: Arc<BTreeMap<String, Arc<NodePool>>>,
}

/// How many versions of a job the store keeps, as Nomad's
/// `JobTrackedVersions`: older ones are dropped as new ones arrive.
pub const JOB_TRACKED_VERSIONS: usize = 6;

/// What [`MemoryState::upsert_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobChange {
    /// The job did not exist; it was stored with its indexes set.
    Created,
    /// The specification changed: a new `Version` and `JobModifyIndex`.
    Updated,
    /// Only server-managed fields (status, stability) could differ: the
    /// version and `JobModifyIndex` are kept, `ModifyIndex` moves.
    Unchanged,
}

/// The in-memory, mutable cluster state: the simulator's and tests' store.
///
/// Every write takes the index it happens at (the raft-style log index; no
/// clock is read) and fails with [`StateError::IndexRegressed`] if that
/// index is below the store's; several writes may share an index. Reads go
/// through [`MemoryState::snapshot`] (owned, isolated) or
/// [`MemoryState::view`] (borrowed).
///
/// # Cost model
/// Every table is an `Arc<BTreeMap<_, Arc<T>>>`, and every secondary index
/// an `Arc<BTreeMap<_, Arc<BTreeSet<Id>>>>`, except the allocation indexes
/// (by node, by job), which map to the allocations' own `Arc`s so a walk
/// needs no lookups. The store *is* its latest
/// snapshot plus write methods:
/// - [`MemoryState::snapshot`] clones a dozen `Arc`s: O(1), whatever the size.
/// - A write goes through [`Arc::make_mut`]. While no snapshot shares a
///   table, that is an in-place O(log n) update. The first write to a table
///   after a snapshot was taken copies that table's map once (O(n) pointer
///   and id clones, never the objects themselves, which stay shared behind
///   their own `Arc`), and for an index also copies the one inner set it
///   touches. Later writes are O(log n) again until the next snapshot.
///
/// So the typical loop (a batch of writes, then a snapshot for the
/// scheduler) pays at most one map copy per touched table per snapshot.
/// The allocation table is the exception: it is a persistent B-tree
/// (`imbl::OrdMap` keyed by each id's first eight bytes, see
/// `alloc_table.rs`), so a write after a snapshot copies only the O(log n)
/// nodes on its path. A replicated server applies a plan
/// while scheduler workers hold snapshots; copying a table of a million
/// allocations per plan made C1M through Raft quadratic.
#[derive(Debug, Clone, Default)]
pub struct MemoryState {
    current: MemorySnapshot,
}

impl MemoryState {
    /// An empty store at index 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The index of the last write.
    pub fn index(&self) -> u64 {
        self.current.index
    }

    /// An owned, isolated snapshot of the current state; O(1).
    pub fn snapshot(&self) -> MemorySnapshot {
        self.current.clone()
    }

    /// The current state, borrowed: no copy at all, for reads between writes.
    pub fn view(&self) -> &MemorySnapshot {
        &self.current
    }

    /// Moves the index to `index` without writing anything: a replicated
    /// store applies log entries that change no object (a leader's no-op, a
    /// membership change, a refused command), and its index still follows
    /// the log. Refuses to go backwards.
    pub fn advance_index(&mut self, index: u64) -> Result<(), StateError> {
        self.advance(index)
    }

    /// Moves the store's index to `index`, refusing to go backwards.
    fn advance(&mut self, index: u64) -> Result<(), StateError> {
        if index < self.current.index {
            return Err(StateError::IndexRegressed {
                current: self.current.index,
                given: index,
            });
        }
        self.current.index = index;
        Ok(())
    }

    /// Registers or updates a node. `CreateIndex` is kept from the stored
    /// node (or set to `index`), `ModifyIndex` is set to `index`; the node's
    /// `ComputedClass` is taken as given (and the class index follows it).
    pub fn upsert_node(&mut self, index: u64, node: Node) -> Result<(), StateError> {
        self.advance(index)?;
        let node = store_node(&mut self.current, index, node);
        refresh_free_indexes(&mut self.current, &node.id);
        let list = Arc::make_mut(&mut self.current.node_list);
        match list.binary_search_by(|listed| listed.id.cmp(&node.id)) {
            Ok(position) => list[position] = node,
            Err(position) => list.insert(position, node),
        }
        Ok(())
    }

    /// Registers or updates many nodes at one index, as a bulk load: the
    /// same result as [`MemoryState::upsert_node`] for each, but the
    /// position index is rebuilt once (O(n)) instead of shifted per node.
    pub fn upsert_nodes(&mut self, index: u64, nodes: Vec<Node>) -> Result<(), StateError> {
        self.advance(index)?;
        for node in nodes {
            let node = store_node(&mut self.current, index, node);
            refresh_free_indexes(&mut self.current, &node.id);
        }
        self.current.node_list = Arc::new(self.current.nodes.values().cloned().collect());
        Ok(())
    }

    /// Removes a node; whether it existed. Its allocations stay (they are
    /// the scheduler's to mark lost), still listed by `allocs_by_node`.
    pub fn delete_node(&mut self, index: u64, id: &NodeId) -> Result<bool, StateError> {
        self.advance(index)?;
        let state = &mut self.current;
        if !state.nodes.contains_key(id) {
            return Ok(false);
        }
        if let Some(old) = Arc::make_mut(&mut state.nodes).remove(id) {
            index_remove(&mut state.nodes_by_class, &old.computed_class, id);
        }
        let list = Arc::make_mut(&mut state.node_list);
        if let Ok(position) = list.binary_search_by(|listed| listed.id.cmp(id)) {
            list.remove(position);
        }
        refresh_free_indexes(state, id);
        Ok(true)
    }

    /// Registers or updates a job, keeping Nomad's bookkeeping:
    /// - new job: `CreateIndex`, `ModifyIndex` and `JobModifyIndex` are
    ///   `index`, `Version` is kept as submitted (normally 0);
    /// - specification changed ([`job_spec_changed`]): `CreateIndex` kept,
    ///   `ModifyIndex` and `JobModifyIndex` set to `index`, `Version` becomes
    ///   the stored version plus one (or the submitted one, if higher);
    /// - nothing but server-managed fields changed: `Version`,
    ///   `JobModifyIndex` and `CreateIndex` kept, `ModifyIndex` set to `index`.
    ///
    /// The stored job is also filed under its version (replacing that
    /// version's entry when only server-managed fields changed); the last
    /// [`JOB_TRACKED_VERSIONS`] versions are kept.
    pub fn upsert_job(&mut self, index: u64, mut job: Job) -> Result<JobChange, StateError> {
        self.advance(index)?;
        let key = (job.namespace.clone(), job.id.clone());
        let jobs = Arc::make_mut(&mut self.current.jobs);
        let change = match jobs.get(&key) {
            None => {
                job.create_index = index;
                job.job_modify_index = index;
                JobChange::Created
            }
            Some(old) if job_spec_changed(old, &job) => {
                job.create_index = old.create_index;
                job.job_modify_index = index;
                job.version = job.version.max(old.version + 1);
                JobChange::Updated
            }
            Some(old) => {
                job.create_index = old.create_index;
                job.job_modify_index = old.job_modify_index;
                job.version = old.version;
                JobChange::Unchanged
            }
        };
        job.modify_index = index;
        let job = Arc::new(job);
        jobs.insert(key.clone(), job.clone());
        let versions = Arc::make_mut(
            Arc::make_mut(&mut self.current.job_versions)
                .entry(key)
                .or_default(),
        );
        versions.insert(job.version, job);
        while versions.len() > JOB_TRACKED_VERSIONS {
            versions.pop_first();
        }
        Ok(change)
    }

    /// Removes (purges) a job and its versions; whether it existed. Its
    /// allocations and deployments stay until garbage collection.
    pub fn delete_job(
        &mut self,
        index: u64,
        namespace: &str,
        id: &JobId,
    ) -> Result<bool, StateError> {
        self.advance(index)?;
        let key = (namespace.to_owned(), id.clone());
        if !self.current.jobs.contains_key(&key) {
            return Ok(false);
        }
        Arc::make_mut(&mut self.current.jobs).remove(&key);
        Arc::make_mut(&mut self.current.job_versions).remove(&key);
        Ok(true)
    }

    /// Stores allocations from the servers (a plan's placements and
    /// updates), in order, as Nomad's `UpsertAllocs` does:
    /// - new: `CreateIndex`, `ModifyIndex` and `AllocModifyIndex` are `index`;
    /// - existing: `CreateIndex` kept, the other two set to `index`; the
    ///   client-owned `TaskStates` are kept, and so are `ClientStatus` and
    ///   `ClientDescription` unless the write marks it `lost` or `unknown`;
    /// - an allocation without its `Job` gets the stored allocation's job,
    ///   or else the job currently stored under its namespace and id.
    ///
    /// Moving an allocation to another node or job updates the indexes.
    pub fn upsert_allocs(&mut self, index: u64, allocs: Vec<Allocation>) -> Result<(), StateError> {
        self.advance(index)?;
        for alloc in allocs {
            self.upsert_alloc(index, alloc);
        }
        Ok(())
    }

    fn upsert_alloc(&mut self, index: u64, mut alloc: Allocation) {
        let state = &mut self.current;
        let previous = state.allocs.get(&alloc.id).cloned();
        alloc.modify_index = index;
        alloc.alloc_modify_index = index;
        match &previous {
            None => alloc.create_index = index,
            Some(old) => {
                alloc.create_index = old.create_index;
                alloc.task_states.clone_from(&old.task_states);
                if !matches!(
                    alloc.client_status,
                    AllocClientStatus::Lost | AllocClientStatus::Unknown
                ) {
                    alloc.client_status = old.client_status;
                    alloc.client_description.clone_from(&old.client_description);
                }
                if alloc.job.is_none() {
                    alloc.job.clone_from(&old.job);
                }
            }
        }
        if alloc.job.is_none() {
            let key = (alloc.namespace.as_str().to_owned(), alloc.job_id.clone());
            alloc.job = state.jobs.get(&key).cloned();
        }
        match &previous {
            Some(old) => {
                alloc_index_remove(&mut state.allocs_by_node, &old.node_id, &old.id);
                let old_key = (old.namespace.as_str().to_owned(), old.job_id.clone());
                alloc_index_remove(&mut state.allocs_by_job, &old_key, &old.id);
                mark_job_allocs_changed(state, old_key);
                if old.node_id != alloc.node_id {
                    refresh_usage(state, &old.node_id);
                }
                store_alloc(state, Arc::new(alloc));
            }
            None => {
                let alloc = Arc::new(alloc);
                state.allocs.insert(alloc.clone());
                index_new_allocs(state, std::slice::from_ref(&alloc));
            }
        }
    }

    /// Stores a plan's placements and returns the new ones (as stored).
    /// Most placements are new, so each is inserted straight away, and
    /// what the insert displaces tells an in-place update from a new
    /// allocation: no lookup of its own first (in a table of a million
    /// allocations every walk down the tree is a dozen cache misses, and
    /// each server applies every placement). An update is then upserted
    /// as [`MemoryState::upsert_allocs`] does.
    pub(crate) fn insert_placements(
        &mut self,
        index: u64,
        allocs: Vec<Allocation>,
    ) -> Result<Vec<Arc<Allocation>>, StateError> {
        self.advance(index)?;
        let mut new_allocs = Vec::with_capacity(allocs.len());
        // New allocations are indexed together at the end; `indexed` of
        // them already are.
        let mut indexed = 0;
        for mut alloc in allocs {
            alloc.create_index = index;
            alloc.modify_index = index;
            alloc.alloc_modify_index = index;
            let state = &mut self.current;
            if alloc.job.is_none() {
                let key = (alloc.namespace.as_str().to_owned(), alloc.job_id.clone());
                alloc.job = state.jobs.get(&key).cloned();
            }
            let alloc = Arc::new(alloc);
            if let Err(returned) = state.allocs.insert_new(alloc.clone()) {
                drop(returned);
                // The update may replace one of this batch's allocations,
                // which must be in the indexes to be taken out of them.
                index_new_allocs(state, &new_allocs[indexed..]);
                indexed = new_allocs.len();
                self.upsert_alloc(index, Arc::unwrap_or_clone(alloc));
                continue;
            }
            new_allocs.push(alloc);
        }
        index_new_allocs(&mut self.current, &new_allocs[indexed..]);
        Ok(new_allocs)
    }

    /// Applies what clients report about their allocations (Nomad's
    /// `UpdateAllocsFromClient`): `ClientStatus`, `ClientDescription`,
    /// `TaskStates`, `DeploymentStatus` and `NetworkStatus` are copied onto
    /// the stored allocation; nothing else changes. Unknown allocations are
    /// skipped (a client may report one the servers already collected).
    pub fn update_allocs_from_client(
        &mut self,
        index: u64,
        updates: Vec<Allocation>,
    ) -> Result<(), StateError> {
        self.advance(index)?;
        for update in updates {
            let Some(stored) = self.current.allocs.get(&update.id) else {
                continue;
            };
            let mut alloc = Allocation::clone(stored);
            alloc.client_status = update.client_status;
            alloc.client_description = update.client_description;
            alloc.task_states = update.task_states;
            alloc.deployment_status = update.deployment_status;
            alloc.network_status = update.network_status;
            alloc.modify_index = index;
            store_alloc(&mut self.current, Arc::new(alloc));
        }
        Ok(())
    }

    /// Sets the scheduler configuration: `CreateIndex` kept (or set to
    /// `index`), `ModifyIndex` set to `index`.
    pub fn set_scheduler_config(
        &mut self,
        index: u64,
        mut config: SchedulerConfiguration,
    ) -> Result<(), StateError> {
        self.advance(index)?;
        let old = &self.current.scheduler_config;
        config.create_index = if old.create_index == 0 {
            index
        } else {
            old.create_index
        };
        config.modify_index = index;
        self.current.scheduler_config = Arc::new(config);
        Ok(())
    }

    /// Registers or updates a node pool: `CreateIndex` kept (or set to
    /// `index`), `ModifyIndex` set to `index`.
    pub fn upsert_node_pool(&mut self, index: u64, mut pool: NodePool) -> Result<(), StateError> {
        self.advance(index)?;
        let pools = Arc::make_mut(&mut self.current.node_pools);
        pool.create_index = pools.get(&pool.name).map_or(index, |old| old.create_index);
        pool.modify_index = index;
        pools.insert(pool.name.clone(), Arc::new(pool));
        Ok(())
    }

    /// Stores an evaluation: `CreateIndex` kept (or set to `index`),
    /// `ModifyIndex` set to `index`.
    pub fn upsert_eval(&mut self, index: u64, mut eval: Evaluation) -> Result<(), StateError> {
        self.advance(index)?;
        let evals = Arc::make_mut(&mut self.current.evals);
        eval.create_index = evals.get(&eval.id).map_or(index, |old| old.create_index);
        eval.modify_index = index;
        evals.insert(eval.id.clone(), Arc::new(eval));
        Ok(())
    }

    /// Stores a deployment: `CreateIndex` kept (or set to `index`),
    /// `ModifyIndex` set to `index`; the latest-deployment index follows.
    pub fn upsert_deployment(
        &mut self,
        index: u64,
        mut deployment: Deployment,
    ) -> Result<(), StateError> {
        self.advance(index)?;
        let state = &mut self.current;
        let previous = state.deployments.get(&deployment.id).cloned();
        deployment.create_index = previous.as_ref().map_or(index, |old| old.create_index);
        deployment.modify_index = index;
        if let Some(old) = &previous {
            index_remove(
                &mut state.deployments_by_job,
                &(old.namespace.as_str().to_owned(), old.job_id.clone()),
                &(old.create_index, old.id.clone()),
            );
        }
        index_insert(
            &mut state.deployments_by_job,
            (
                deployment.namespace.as_str().to_owned(),
                deployment.job_id.clone(),
            ),
            (deployment.create_index, deployment.id.clone()),
        );
        Arc::make_mut(&mut state.deployments).insert(deployment.id.clone(), Arc::new(deployment));
        Ok(())
    }

    /// Removes allocations (garbage collection); how many existed. Their
    /// nodes' usage follows.
    pub fn delete_allocs(&mut self, index: u64, ids: &[AllocId]) -> Result<usize, StateError> {
        self.advance(index)?;
        let state = &mut self.current;
        let mut removed = 0;
        for id in ids {
            if !state.allocs.contains_key(id) {
                continue;
            }
            let Some(old) = state.allocs.remove(id) else {
                continue;
            };
            removed += 1;
            alloc_index_remove(&mut state.allocs_by_node, &old.node_id, id);
            let job_key = (old.namespace.as_str().to_owned(), old.job_id.clone());
            alloc_index_remove(&mut state.allocs_by_job, &job_key, id);
            mark_job_allocs_changed(state, job_key);
            if !old.is_terminal() {
                refresh_usage(state, &old.node_id);
            }
        }
        Ok(removed)
    }

    /// Removes evaluations (garbage collection); how many existed.
    pub fn delete_evals(&mut self, index: u64, ids: &[EvalId]) -> Result<usize, StateError> {
        self.advance(index)?;
        let mut removed = 0;
        for id in ids {
            if self.current.evals.contains_key(id) {
                Arc::make_mut(&mut self.current.evals).remove(id);
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// Removes deployments (garbage collection); how many existed. The
    /// latest-deployment index follows.
    pub fn delete_deployments(
        &mut self,
        index: u64,
        ids: &[DeploymentId],
    ) -> Result<usize, StateError> {
        self.advance(index)?;
        let state = &mut self.current;
        let mut removed = 0;
        for id in ids {
            if !state.deployments.contains_key(id) {
                continue;
            }
            let Some(old) = Arc::make_mut(&mut state.deployments).remove(id) else {
                continue;
            };
            removed += 1;
            index_remove(
                &mut state.deployments_by_job,
                &(old.namespace.as_str().to_owned(), old.job_id.clone()),
                &(old.create_index, old.id.clone()),
            );
        }
        Ok(removed)
    }
}

/// Puts a node in the table and the class index, with Nomad's index
/// bookkeeping (`CreateIndex` kept, `ModifyIndex` set); the caller keeps
/// the position list. Returns the stored node.
fn store_node(state: &mut MemorySnapshot, index: u64, mut node: Node) -> Arc<Node> {
    let previous = state.nodes.get(&node.id).cloned();
    node.create_index = previous.as_ref().map_or(index, |old| old.create_index);
    node.modify_index = index;
    if let Some(old) = &previous {
        index_remove(&mut state.nodes_by_class, &old.computed_class, &old.id);
    }
    index_insert(
        &mut state.nodes_by_class,
        node.computed_class.clone(),
        node.id.clone(),
    );
    let node = Arc::new(node);
    Arc::make_mut(&mut state.nodes).insert(node.id.clone(), node.clone());
    node
}

/// Puts an allocation in the table and both allocation indexes (replacing
/// the entries with its id under its node and job).
fn store_alloc(state: &mut MemorySnapshot, alloc: Arc<Allocation>) {
    index_alloc(state, &alloc);
    let node = alloc.node_id.clone();
    state.allocs.insert(alloc);
    refresh_usage(state, &node);
}

/// Indexes allocations just added to the table and adds the live ones to
/// their nodes' usage: a new allocation only adds, so a node's other
/// allocations need not be summed again (which made filling a node
/// quadratic in its allocation count). Each run of allocations on one
/// node or of one job is looked up once, and each node's free-resource
/// indexes and each job's change mark are updated once per run: a plan's
/// placements come grouped by node and all belong to one job, and done
/// one by one those lookups and updates on every server were about 5 % of
/// a profile of C1M through Raft.
fn index_new_allocs(state: &mut MemorySnapshot, allocs: &[Arc<Allocation>]) {
    for run in allocs.chunk_by(|a, b| a.node_id == b.node_id) {
        let node = &run[0].node_id;
        let by_node = Arc::make_mut(&mut state.allocs_by_node)
            .entry(node.clone())
            .or_default();
        let by_node = Arc::make_mut(by_node);
        for alloc in run {
            by_node.insert(alloc.clone());
        }
        let mut live = run.iter().filter(|alloc| !alloc.is_terminal()).peekable();
        if live.peek().is_some() {
            let usage = Arc::make_mut(&mut state.usage_by_node)
                .entry(node.clone())
                .or_default();
            let usage = Arc::make_mut(usage);
            for alloc in live {
                usage.add(alloc);
            }
            refresh_free_indexes(state, node);
        }
    }
    for run in allocs.chunk_by(|a, b| a.job_id == b.job_id && a.namespace == b.namespace) {
        let job_key = (run[0].namespace.as_str().to_owned(), run[0].job_id.clone());
        let by_job = Arc::make_mut(&mut state.allocs_by_job)
            .entry(job_key.clone())
            .or_default();
        let by_job = Arc::make_mut(by_job);
        for alloc in run {
            by_job.insert(alloc.clone());
        }
        mark_job_allocs_changed(state, job_key);
    }
}

/// Files an allocation under its node and its job.
fn index_alloc(state: &mut MemorySnapshot, alloc: &Arc<Allocation>) {
    let by_node = Arc::make_mut(&mut state.allocs_by_node)
        .entry(alloc.node_id.clone())
        .or_default();
    Arc::make_mut(by_node).insert(alloc.clone());
    let job_key = (alloc.namespace.as_str().to_owned(), alloc.job_id.clone());
    let by_job = Arc::make_mut(&mut state.allocs_by_job)
        .entry(job_key.clone())
        .or_default();
    Arc::make_mut(by_job).insert(alloc.clone());
    mark_job_allocs_changed(state, job_key);
}

/// Records that an allocation of `job` was written or removed at the
/// store's current index; a job left without allocations loses its entry
/// (its index reads 0, which still differs from what a reader saw before).
fn mark_job_allocs_changed(state: &mut MemorySnapshot, job: JobKey) {
    let wanted = state
        .allocs_by_job
        .contains_key(&job)
        .then_some(state.index);
    if state.job_allocs_index.get(&job).copied() == wanted {
        return;
    }
    let marks = Arc::make_mut(&mut state.job_allocs_index);
    match wanted {
        Some(index) => marks.insert(job, index),
        None => marks.remove(&job),
    };
}

/// Recomputes what a node's live allocations hold (O(allocations on the
/// node); exact even when two allocations share a port, which subtracting
/// one allocation could not be).
fn refresh_usage(state: &mut MemorySnapshot, node: &NodeId) {
    let mut usage = NodeUsage::default();
    let mut any = false;
    for alloc in state
        .allocs_by_node
        .get(node)
        .into_iter()
        .flat_map(|allocs| allocs.iter())
        .filter(|alloc| !alloc.is_terminal())
    {
        usage.add(alloc);
        any = true;
    }
    let table = Arc::make_mut(&mut state.usage_by_node);
    if any {
        table.insert(node.clone(), Arc::new(usage));
    } else {
        table.remove(node);
    }
    refresh_free_indexes(state, node);
}

/// Busy nodes ordered by how much of one resource they have free.
#[derive(Debug, Clone, Default)]
struct FreeIndex {
    by_free: BTreeSet<(i64, NodeId)>,
    key: BTreeMap<NodeId, i64>,
}

impl FreeIndex {
    /// Files `node` under `free`, or nowhere when `None`.
    fn set(index: &mut Arc<Self>, node: &NodeId, free: Option<i64>) {
        let old = index.key.get(node).copied();
        if old == free {
            return;
        }
        let index = Arc::make_mut(index);
        if let Some(old) = old {
            index.by_free.remove(&(old, node.clone()));
            index.key.remove(node);
        }
        if let Some(free) = free {
            index.by_free.insert((free, node.clone()));
            index.key.insert(node.clone(), free);
        }
    }
}

/// Files the node under its free CPU and memory if it holds live
/// allocations and exists, and nowhere otherwise: O(log n), called after
/// every change to the node or its usage.
fn refresh_free_indexes(state: &mut MemorySnapshot, node_id: &NodeId) {
    let free = match (state.nodes.get(node_id), state.usage_by_node.get(node_id)) {
        (Some(node), Some(usage)) => {
            let capacity = NodeCapacity::of(node);
            Some((
                capacity.cpu.0 - usage.cpu.0,
                capacity.memory.0 - usage.memory.0,
            ))
        }
        _ => None,
    };
    FreeIndex::set(&mut state.free_cpu, node_id, free.map(|f| f.0));
    FreeIndex::set(&mut state.free_memory, node_id, free.map(|f| f.1));
}

/// Removes an allocation from under `key` of an allocation index, dropping
/// the key once empty; copies only what a live snapshot shares.
fn alloc_index_remove<K, Q>(index: &mut AllocIndex<K>, key: &Q, id: &AllocId)
where
    K: Ord + Clone + std::borrow::Borrow<Q>,
    Q: Ord + ?Sized,
{
    if !index.get(key).is_some_and(|allocs| allocs.contains(id)) {
        return;
    }
    let map = Arc::make_mut(index);
    let Some(allocs) = map.get_mut(key) else {
        return;
    };
    let allocs = Arc::make_mut(allocs);
    allocs.remove(id);
    if allocs.is_empty() {
        map.remove(key);
    }
}

/// Adds `id` under `key`, copying only what a live snapshot shares.
fn index_insert<K: Ord + Clone, Id: Ord + Clone>(index: &mut IdIndex<K, Id>, key: K, id: Id) {
    let set = Arc::make_mut(index).entry(key).or_default();
    Arc::make_mut(set).insert(id);
}

/// Removes `id` from under `key`, dropping the key once its set is empty.
fn index_remove<K, Q, Id>(index: &mut IdIndex<K, Id>, key: &Q, id: &Id)
where
    K: Ord + Clone + std::borrow::Borrow<Q>,
    Q: Ord + ?Sized,
    Id: Ord + Clone,
{
    if !index.get(key).is_some_and(|set| set.contains(id)) {
        return;
    }
    let map = Arc::make_mut(index);
    let Some(set) = map.get_mut(key) else {
        return;
    };
    let set = Arc::make_mut(set);
    set.remove(id);
    if set.is_empty() {
        map.remove(key);
    }
}

impl MemorySnapshot {
    /// Every current job, by namespace then id.
    pub fn jobs(&self) -> impl Iterator<Item = &Job> + '_ {
        self.jobs.values().map(|job| &**job)
    }

    /// The kept versions of a job, newest first (empty for an unknown job).
    pub fn job_versions(&self, namespace: &str, id: &JobId) -> impl Iterator<Item = &Job> + '_ {
        self.job_versions
            .get(&(namespace.to_owned(), id.clone()))
            .into_iter()
            .flat_map(|versions| versions.values().rev())
            .map(|job| &**job)
    }

    /// One kept version of a job.
    pub fn job_version(&self, namespace: &str, id: &JobId, version: u64) -> Option<&Job> {
        self.job_versions
            .get(&(namespace.to_owned(), id.clone()))?
            .get(&version)
            .map(|job| &**job)
    }

    /// The index of the last write that added, changed or removed an
    /// allocation of this job; 0 when it has none (or was written only at
    /// index 0, which a replicated store never uses). Cheaper than reading the
    /// allocations to learn whether any changed: a watcher that remembers
    /// this value skips the job while it stays the same.
    pub fn job_allocs_index(&self, namespace: &str, id: &JobId) -> u64 {
        self.job_allocs_index
            .get(&(namespace.to_owned(), id.clone()))
            .copied()
            .unwrap_or(0)
    }

    /// Every allocation, in id order.
    pub fn allocs(&self) -> impl Iterator<Item = &Allocation> + '_ {
        self.allocs.values().map(|alloc| &**alloc)
    }

    /// Every evaluation, in id order.
    pub fn evals(&self) -> impl Iterator<Item = &Evaluation> + '_ {
        self.evals.values().map(|eval| &**eval)
    }

    /// Every deployment, in id order.
    pub fn deployments(&self) -> impl Iterator<Item = &Deployment> + '_ {
        self.deployments.values().map(|deployment| &**deployment)
    }

    /// Every registered node pool, by name.
    pub fn node_pools(&self) -> impl Iterator<Item = &NodePool> + '_ {
        self.node_pools.values().map(|pool| &**pool)
    }

    fn allocs_in<'a>(
        &'a self,
        allocs: Option<&'a Arc<AllocSet>>,
    ) -> Box<dyn Iterator<Item = &'a Allocation> + 'a> {
        Box::new(
            allocs
                .into_iter()
                .flat_map(|allocs| allocs.iter())
                .map(|alloc| &**alloc),
        )
    }
}

impl StateSnapshot for MemorySnapshot {
    fn index(&self) -> u64 {
        self.index
    }

    fn node(&self, id: &NodeId) -> Option<&Node> {
        self.nodes.get(id).map(|node| &**node)
    }

    fn nodes(&self) -> Box<dyn Iterator<Item = &Node> + '_> {
        Box::new(self.nodes.values().map(|node| &**node))
    }

    fn node_count(&self) -> usize {
        self.node_list.len()
    }

    fn node_usage(&self, node: &Node) -> NodeUsage {
        self.usage_by_node
            .get(&node.id)
            .map(|usage| NodeUsage::clone(usage))
            .unwrap_or_default()
    }

    fn node_at(&self, position: usize) -> Option<&Node> {
        self.node_list.get(position).map(|node| &**node)
    }

    fn busy_nodes_by_free(
        &self,
        resource: Resource,
        at_least: i64,
    ) -> Box<dyn Iterator<Item = &Node> + '_> {
        let index = match resource {
            Resource::Cpu => &self.free_cpu,
            Resource::Memory => &self.free_memory,
        };
        Box::new(
            index
                .by_free
                .range((at_least, NodeId::default())..)
                .filter_map(|(_, id)| self.node(id)),
        )
    }

    fn nodes_in_class(&self, computed_class: &str) -> Box<dyn Iterator<Item = &Node> + '_> {
        Box::new(
            self.nodes_by_class
                .get(computed_class)
                .into_iter()
                .flat_map(|ids| ids.iter())
                .filter_map(|id| self.node(id)),
        )
    }

    fn job(&self, namespace: &str, id: &JobId) -> Option<&Job> {
        self.jobs
            .get(&(namespace.to_owned(), id.clone()))
            .map(|job| &**job)
    }

    fn alloc(&self, id: &AllocId) -> Option<&Allocation> {
        self.allocs.get(id).map(|alloc| &**alloc)
    }

    fn allocs_by_node(&self, node: &NodeId) -> Box<dyn Iterator<Item = &Allocation> + '_> {
        self.allocs_in(self.allocs_by_node.get(node))
    }

    fn allocs_by_job(
        &self,
        namespace: &str,
        job: &JobId,
    ) -> Box<dyn Iterator<Item = &Allocation> + '_> {
        self.allocs_in(self.allocs_by_job.get(&(namespace.to_owned(), job.clone())))
    }

    fn evaluation(&self, id: &EvalId) -> Option<&Evaluation> {
        self.evals.get(id).map(|eval| &**eval)
    }

    fn deployment(&self, id: &DeploymentId) -> Option<&Deployment> {
        self.deployments.get(id).map(|deployment| &**deployment)
    }

    fn latest_deployment(&self, namespace: &str, job: &JobId) -> Option<&Deployment> {
        let (_, id) = self
            .deployments_by_job
            .get(&(namespace.to_owned(), job.clone()))?
            .last()?;
        self.deployment(id)
    }

    fn scheduler_config(&self) -> SchedulerConfiguration {
        SchedulerConfiguration::clone(&self.scheduler_config)
    }

    fn node_pool(&self, name: &str) -> Option<&NodePool> {
        self.node_pools.get(name).map(|pool| &**pool)
    }
}
