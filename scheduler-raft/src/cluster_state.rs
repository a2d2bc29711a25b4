//! The replicated state: the core's [`MemoryState`] plus the index of the
//! last change to each table, which blocking queries wait on.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use scheduler_core::model::{Allocation, Job, NodeStatus};
use scheduler_core::plan::{PlanResult, commit_plan};
use scheduler_core::state::{JobChange, MemorySnapshot, MemoryState, StateDump, StateSnapshot};

use crate::command::{Applied, Command, PlanApply, Refusal};
use crate::services::ServiceTable;

/// A table of the state, for blocking queries ("changes to allocations
/// after index N").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// Nodes.
    Nodes,
    /// Jobs and their versions.
    Jobs,
    /// Allocations.
    Allocs,
    /// Evaluations.
    Evals,
    /// Deployments.
    Deployments,
    /// Scheduler configuration and node pools.
    SchedulerConfig,
    /// The service instances clients registered.
    Services,
}

impl Table {
    /// Every table.
    pub const ALL: [Table; 7] = [
        Table::Nodes,
        Table::Jobs,
        Table::Allocs,
        Table::Evals,
        Table::Deployments,
        Table::SchedulerConfig,
        Table::Services,
    ];
}

/// The state machine's state.
#[derive(Debug, Clone, Default)]
pub struct ClusterState {
    store: MemoryState,
    tables: BTreeMap<Table, u64>,
    services: ServiceTable,
}

/// A [`ClusterState`] as plain data: what snapshots carry.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClusterDump {
    /// The index of the last change to each table.
    pub tables: BTreeMap<Table, u64>,
    /// The objects.
    pub state: StateDump,
    /// The service instances clients registered (absent from dumps made
    /// before the servers kept them).
    #[serde(default)]
    pub services: ServiceTable,
}

impl ClusterState {
    /// An empty state.
    pub fn new() -> Self {
        Self::default()
    }

    /// The core store, read-only.
    pub fn store(&self) -> &MemoryState {
        &self.store
    }

    /// An isolated snapshot for the scheduler and readers.
    pub fn snapshot(&self) -> MemorySnapshot {
        self.store.snapshot()
    }

    /// The index of the last change to `table` (0: never changed).
    pub fn table_index(&self, table: Table) -> u64 {
        self.tables.get(&table).copied().unwrap_or(0)
    }

    /// The service instances clients registered.
    pub fn services(&self) -> &ServiceTable {
        &self.services
    }

    /// Every table's last change.
    pub fn table_indexes(&self) -> &BTreeMap<Table, u64> {
        &self.tables
    }

    /// The state as plain data.
    pub fn dump(&self) -> ClusterDump {
        ClusterDump {
            tables: self.tables.clone(),
            state: self.store.dump(),
            services: self.services.clone(),
        }
    }

    /// The state a dump describes.
    pub fn restore(dump: ClusterDump) -> Self {
        Self {
            store: MemoryState::restore(dump.state),
            tables: dump.tables,
            services: dump.services,
        }
    }

    /// Applies one command at `index`. A refusal leaves the state as it
    /// was, except that the store's index still moves to `index`.
    ///
    /// A refusal inside a batch does not undo the batch's earlier commands:
    /// each command of a batch stands alone, as if applied one after the
    /// other.
    pub fn apply(&mut self, index: u64, command: Command) -> Result<Applied, Refusal> {
        // The index follows the log even when the command is refused.
        self.store
            .advance_index(index)
            .map_err(|err| Refusal::Store(err.to_string()))?;
        match command {
            Command::Batch(commands) => {
                let results = commands
                    .into_iter()
                    .map(|command| self.apply(index, command))
                    .collect();
                Ok(Applied::Batch(results))
            }
            command => self.apply_one(index, command),
        }
    }

    fn touch(&mut self, index: u64, tables: &[Table]) {
        for table in tables {
            self.tables.insert(*table, index);
        }
    }

    fn apply_one(&mut self, index: u64, command: Command) -> Result<Applied, Refusal> {
        let store_error = |err: scheduler_core::state::StateError| Refusal::Store(err.to_string());
        match command {
            Command::Noop | Command::Batch(_) => {
                self.store.advance_index(index).map_err(store_error)?;
                Ok(Applied::Done)
            }
            Command::RestoreState(dump) => {
                // The saved objects keep their own indexes; the store's index
                // becomes the entry's (a dump from a longer-lived cluster may
                // carry a higher one, which the next entry would then regress).
                let mut state = dump.state;
                state.index = state.index.min(index);
                let mut store = MemoryState::restore(state);
                store.advance_index(index).map_err(store_error)?;
                self.store = store;
                self.services = dump.services;
                self.tables = Table::ALL.iter().map(|table| (*table, index)).collect();
                Ok(Applied::Done)
            }
            Command::UpsertNodes { nodes } => {
                self.store.upsert_nodes(index, nodes).map_err(store_error)?;
                self.touch(index, &[Table::Nodes]);
                Ok(Applied::Done)
            }
            Command::UpdateNodeStatus {
                node_id,
                status,
                updated_at,
            } => {
                let Some(node) = self.store.view().node(&node_id) else {
                    return Err(Refusal::NotFound(format!("node {node_id}")));
                };
                let mut node = node.clone();
                node.status = status;
                node.status_updated_at = updated_at / 1_000_000_000;
                if status == NodeStatus::Down {
                    node.drain = false;
                }
                self.store.upsert_node(index, node).map_err(store_error)?;
                self.touch(index, &[Table::Nodes]);
                Ok(Applied::Done)
            }
            Command::DeleteNode { node_id } => {
                self.store
                    .delete_node(index, &node_id)
                    .map_err(store_error)?;
                self.touch(index, &[Table::Nodes]);
                if self.services.remove_node(&node_id) {
                    self.touch(index, &[Table::Services]);
                }
                Ok(Applied::Done)
            }
            Command::SetNodeServices { node_id, services } => {
                if self.services.set_node(index, &node_id, services) {
                    self.touch(index, &[Table::Services]);
                }
                Ok(Applied::Done)
            }
            Command::RegisterJob {
                job,
                enforce_index,
                eval,
            } => {
                let stored = self.store.view().job(&job.namespace, &job.id);
                if let Some(expected) = enforce_index {
                    let actual = stored.map_or(0, |job| job.job_modify_index);
                    if actual != expected {
                        return Err(Refusal::CheckIndexMismatch {
                            job: job.id.to_string(),
                            expected,
                            actual,
                        });
                    }
                }
                let (namespace, id) = (job.namespace.clone(), job.id.clone());
                let change = self.store.upsert_job(index, *job).map_err(store_error)?;
                let (version, job_modify_index) = self
                    .store
                    .view()
                    .job(&namespace, &id)
                    .map_or((0, index), |job| (job.version, job.job_modify_index));
                self.touch(index, &[Table::Jobs]);
                if let Some(mut eval) = eval {
                    eval.job_modify_index = job_modify_index;
                    self.store.upsert_eval(index, *eval).map_err(store_error)?;
                    self.touch(index, &[Table::Evals]);
                }
                Ok(Applied::JobRegistered {
                    version,
                    job_modify_index,
                    changed: change != JobChange::Unchanged,
                })
            }
            Command::DeregisterJob {
                namespace,
                job_id,
                purge,
                eval,
            } => {
                let existed = if purge {
                    self.store
                        .delete_job(index, &namespace, &job_id)
                        .map_err(store_error)?
                } else {
                    match self.store.view().job(&namespace, &job_id) {
                        Some(job) => {
                            let mut job = job.clone();
                            job.stop = true;
                            self.store.upsert_job(index, job).map_err(store_error)?;
                            true
                        }
                        None => false,
                    }
                };
                self.touch(index, &[Table::Jobs]);
                if let Some(eval) = eval {
                    self.store.upsert_eval(index, *eval).map_err(store_error)?;
                    self.touch(index, &[Table::Evals]);
                }
                Ok(Applied::JobDeregistered { existed })
            }
            Command::SetJobStability {
                namespace,
                job_id,
                version,
                stable,
            } => {
                let found = self
                    .store
                    .set_job_stability(index, &namespace, &job_id, version, stable)
                    .map_err(store_error)?;
                if !found {
                    return Err(Refusal::NotFound(format!(
                        "job {:?} in namespace {namespace:?} at version {version}",
                        job_id.as_str()
                    )));
                }
                self.touch(index, &[Table::Jobs]);
                Ok(Applied::Done)
            }
            Command::UpsertEvals { evals } => {
                for eval in evals {
                    self.store.upsert_eval(index, eval).map_err(store_error)?;
                }
                self.touch(index, &[Table::Evals]);
                Ok(Applied::Done)
            }
            Command::UpsertAllocs { allocs } => {
                self.store
                    .upsert_allocs(index, allocs)
                    .map_err(store_error)?;
                self.touch(index, &[Table::Allocs]);
                Ok(Applied::Done)
            }
            Command::UpdateAllocsFromClient { allocs } => {
                self.store
                    .update_allocs_from_client(index, allocs)
                    .map_err(store_error)?;
                self.touch(index, &[Table::Allocs]);
                Ok(Applied::Done)
            }
            Command::ApplyPlan(plan) => self.apply_plan(index, *plan),
            Command::UpsertDeployment { deployment } => {
                self.store
                    .upsert_deployment(index, *deployment)
                    .map_err(store_error)?;
                self.touch(index, &[Table::Deployments]);
                Ok(Applied::Done)
            }
            Command::SetSchedulerConfig { config, cas_index } => {
                if let Some(expected) = cas_index {
                    let actual = self.store.view().scheduler_config().modify_index;
                    if actual != expected {
                        return Err(Refusal::ConfigIndexMismatch { expected, actual });
                    }
                }
                self.store
                    .set_scheduler_config(index, *config)
                    .map_err(store_error)?;
                self.touch(index, &[Table::SchedulerConfig]);
                Ok(Applied::Done)
            }
            Command::UpsertNodePool { pool } => {
                self.store
                    .upsert_node_pool(index, *pool)
                    .map_err(store_error)?;
                self.touch(index, &[Table::SchedulerConfig]);
                Ok(Applied::Done)
            }
            Command::GarbageCollect {
                evals,
                allocs,
                deployments,
                jobs,
            } => {
                self.store
                    .delete_evals(index, &evals)
                    .map_err(store_error)?;
                self.store
                    .delete_allocs(index, &allocs)
                    .map_err(store_error)?;
                self.store
                    .delete_deployments(index, &deployments)
                    .map_err(store_error)?;
                for (namespace, id) in &jobs {
                    self.store
                        .delete_job(index, namespace, id)
                        .map_err(store_error)?;
                }
                self.touch(
                    index,
                    &[Table::Evals, Table::Allocs, Table::Deployments, Table::Jobs],
                );
                Ok(Applied::Done)
            }
        }
    }

    fn apply_plan(&mut self, index: u64, plan: PlanApply) -> Result<Applied, Refusal> {
        let store_error = |err: scheduler_core::state::StateError| Refusal::Store(err.to_string());
        let PlanApply {
            eval_id: _,
            job,
            node_update,
            mut node_allocation,
            node_preemptions,
            deployment,
            deployment_updates,
            evals,
        } = plan;
        // One shared copy of the plan's job for every allocation that came
        // without one.
        if let Some(job) = job {
            let shared: Arc<Job> = Arc::new(job);
            for alloc in node_allocation.values_mut().flatten() {
                attach_job(alloc, &shared);
            }
        }
        let result = PlanResult {
            node_update,
            node_allocation,
            node_preemptions,
            deployment,
            deployment_updates,
            ..PlanResult::default()
        };
        let touches_deployments =
            result.deployment.is_some() || !result.deployment_updates.is_empty();
        commit_plan(&mut self.store, index, result).map_err(store_error)?;
        self.touch(index, &[Table::Allocs]);
        if touches_deployments {
            self.touch(index, &[Table::Deployments]);
        }
        if !evals.is_empty() {
            for eval in evals {
                self.store.upsert_eval(index, eval).map_err(store_error)?;
            }
            self.touch(index, &[Table::Evals]);
        }
        Ok(Applied::Done)
    }
}

fn attach_job(alloc: &mut Allocation, job: &Arc<Job>) {
    if alloc.job.is_none() && alloc.job_id == job.id && alloc.namespace.as_str() == job.namespace {
        alloc.job = Some(job.clone());
    }
}
