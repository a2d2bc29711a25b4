//! A [`MemoryState`] as plain data and back: what a Raft snapshot, a
//! `snapshot save` file or a restart from disk carries.
//!
//! The dump holds the objects exactly as stored (indexes, versions and all)
//! and none of the secondary indexes, which [`MemoryState::restore`]
//! rebuilds. Allocations do not carry their job: Nomad embeds the whole job
//! in every allocation, and a million allocations of a few thousand jobs
//! would repeat each job hundreds of times. The dump lists each distinct
//! job once (`AllocJobs`) and allocations point at it by position; after a
//! restore, allocations that pointed at the same job share one copy.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{JobKey, MemorySnapshot, MemoryState, index_alloc, index_insert, refresh_usage};
use crate::model::{Allocation, Deployment, Evaluation, Job, JobId, Node};
use crate::scheduler::config::{NodePool, SchedulerConfiguration};

/// Everything a [`MemoryState`] holds, as serialisable data, in id order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StateDump {
    /// The index of the last write.
    pub index: u64,
    /// Every node.
    pub nodes: Vec<Node>,
    /// Every current job.
    pub jobs: Vec<Job>,
    /// Every kept job version (the current ones included).
    pub job_versions: Vec<Job>,
    /// The distinct jobs the allocations run, each once.
    pub alloc_jobs: Vec<Job>,
    /// Every allocation.
    pub allocs: Vec<DumpedAlloc>,
    /// Every evaluation.
    pub evals: Vec<Evaluation>,
    /// Every deployment.
    pub deployments: Vec<Deployment>,
    /// The scheduler configuration.
    pub scheduler_config: SchedulerConfiguration,
    /// Every registered node pool.
    pub node_pools: Vec<NodePool>,
}

/// An allocation without its job, and where its job is in
/// [`StateDump::alloc_jobs`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DumpedAlloc {
    /// Position of the allocation's job in `AllocJobs`, if it has one.
    pub job: Option<u32>,
    /// The allocation, its `Job` unset.
    pub alloc: Allocation,
}

/// What identifies one stored copy of a job: any write to a job moves its
/// `ModifyIndex`, so two copies with the same key are equal.
type JobCopyKey = (String, JobId, u64, u64);

impl MemoryState {
    /// The whole state as plain data (O(n) copies of every object).
    pub fn dump(&self) -> StateDump {
        let state = &self.current;
        let mut alloc_jobs: Vec<Job> = Vec::new();
        let mut positions: BTreeMap<JobCopyKey, u32> = BTreeMap::new();
        let allocs = state
            .allocs
            .values()
            .map(|alloc| {
                let job = alloc.job.as_ref().map(|job| {
                    let key = (
                        job.namespace.clone(),
                        job.id.clone(),
                        job.version,
                        job.modify_index,
                    );
                    *positions.entry(key).or_insert_with(|| {
                        alloc_jobs.push(Job::clone(job));
                        u32::try_from(alloc_jobs.len() - 1).unwrap_or(u32::MAX)
                    })
                });
                let mut alloc = Allocation::clone(alloc);
                alloc.job = None;
                DumpedAlloc { job, alloc }
            })
            .collect();
        StateDump {
            index: state.index,
            nodes: state.nodes.values().map(|n| Node::clone(n)).collect(),
            jobs: state.jobs.values().map(|j| Job::clone(j)).collect(),
            job_versions: state
                .job_versions
                .values()
                .flat_map(|versions| versions.values())
                .map(|j| Job::clone(j))
                .collect(),
            alloc_jobs,
            allocs,
            evals: state.evals.values().map(|e| Evaluation::clone(e)).collect(),
            deployments: state
                .deployments
                .values()
                .map(|d| Deployment::clone(d))
                .collect(),
            scheduler_config: SchedulerConfiguration::clone(&state.scheduler_config),
            node_pools: state
                .node_pools
                .values()
                .map(|p| NodePool::clone(p))
                .collect(),
        }
    }

    /// The store a dump describes: the same objects with the same indexes,
    /// and every secondary index rebuilt. `restore(s.dump())` answers every
    /// query as `s` does.
    pub fn restore(dump: StateDump) -> MemoryState {
        let StateDump {
            index,
            nodes,
            jobs,
            job_versions,
            alloc_jobs,
            allocs,
            evals,
            deployments,
            scheduler_config,
            node_pools,
        } = dump;
        let mut state = MemorySnapshot {
            index,
            scheduler_config: Arc::new(scheduler_config),
            ..MemorySnapshot::default()
        };
        for node in nodes {
            index_insert(
                &mut state.nodes_by_class,
                node.computed_class.clone(),
                node.id.clone(),
            );
            Arc::make_mut(&mut state.nodes).insert(node.id.clone(), Arc::new(node));
        }
        state.node_list = Arc::new(state.nodes.values().cloned().collect());
        for job in jobs {
            let key: JobKey = (job.namespace.clone(), job.id.clone());
            Arc::make_mut(&mut state.jobs).insert(key, Arc::new(job));
        }
        for job in job_versions {
            let key: JobKey = (job.namespace.clone(), job.id.clone());
            // The current version shares the current job's copy.
            let job = match state.jobs.get(&key) {
                Some(current) if **current == job => current.clone(),
                _ => Arc::new(job),
            };
            let versions = Arc::make_mut(&mut state.job_versions)
                .entry(key)
                .or_default();
            Arc::make_mut(versions).insert(job.version, job);
        }
        let alloc_jobs: Vec<Arc<Job>> = alloc_jobs
            .into_iter()
            .map(|job| {
                let key: JobKey = (job.namespace.clone(), job.id.clone());
                match state.jobs.get(&key) {
                    Some(current) if **current == job => current.clone(),
                    _ => Arc::new(job),
                }
            })
            .collect();
        let mut busy_nodes = std::collections::BTreeSet::new();
        for DumpedAlloc { job, mut alloc } in allocs {
            alloc.job = job.and_then(|position| alloc_jobs.get(position as usize).cloned());
            // Dumps travel as JSON, which spells the metrics out; a
            // restored store holds them as compactly as one fed by the
            // log (`LazyMetric`).
            alloc.metrics.keep_encoded();
            busy_nodes.insert(alloc.node_id.clone());
            let alloc = Arc::new(alloc);
            index_alloc(&mut state, &alloc);
            state.allocs.insert(alloc);
        }
        for node in &busy_nodes {
            refresh_usage(&mut state, node);
        }
        for eval in evals {
            Arc::make_mut(&mut state.evals).insert(eval.id.clone(), Arc::new(eval));
        }
        for deployment in deployments {
            index_insert(
                &mut state.deployments_by_job,
                (
                    deployment.namespace.as_str().to_owned(),
                    deployment.job_id.clone(),
                ),
                (deployment.create_index, deployment.id.clone()),
            );
            Arc::make_mut(&mut state.deployments)
                .insert(deployment.id.clone(), Arc::new(deployment));
        }
        for pool in node_pools {
            Arc::make_mut(&mut state.node_pools).insert(pool.name.clone(), Arc::new(pool));
        }
        MemoryState { current: state }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AllocId, NodeId};
    use crate::state::{JOB_TRACKED_VERSIONS, StateSnapshot};

    fn job(priority: i64) -> Job {
        Job {
            id: JobId::new("web"),
            namespace: "default".to_owned(),
            priority: Some(priority),
            ..Job::default()
        }
    }

    #[test]
    fn the_last_versions_are_kept_newest_first_and_purge_drops_them() {
        let mut store = MemoryState::new();
        for (index, priority) in (1..=8).zip(10..) {
            store.upsert_job(index, job(priority)).expect("job");
        }
        let view = store.view();
        let versions: Vec<u64> = view
            .job_versions("default", &JobId::new("web"))
            .map(|j| j.version)
            .collect();
        assert_eq!(versions, vec![7, 6, 5, 4, 3, 2]);
        assert_eq!(versions.len(), JOB_TRACKED_VERSIONS);
        assert_eq!(
            view.job_version("default", &JobId::new("web"), 3)
                .and_then(|j| j.priority),
            Some(13)
        );
        assert!(view.job_version("default", &JobId::new("web"), 1).is_none());
        store
            .delete_job(9, "default", &JobId::new("web"))
            .expect("purge");
        assert_eq!(
            store
                .view()
                .job_versions("default", &JobId::new("web"))
                .count(),
            0
        );
    }

    #[test]
    fn a_restored_store_lists_each_allocation_job_once_and_shares_it() {
        let mut store = MemoryState::new();
        store.upsert_job(1, job(50)).expect("job");
        let allocs = (0..3)
            .map(|i| Allocation {
                id: AllocId::new(format!("a{i}")),
                node_id: NodeId::new("n1"),
                namespace: crate::model::Namespace::new("default"),
                job_id: JobId::new("web"),
                ..Allocation::default()
            })
            .collect();
        store.upsert_allocs(2, allocs).expect("allocs");
        let dump = store.dump();
        assert_eq!(dump.alloc_jobs.len(), 1, "one job for three allocations");
        let restored = MemoryState::restore(dump.clone());
        assert_eq!(restored.dump(), dump);
        let view = restored.view();
        let first = view.alloc(&AllocId::new("a0")).and_then(|a| a.job.clone());
        let last = view.alloc(&AllocId::new("a2")).and_then(|a| a.job.clone());
        let current = view.jobs.get(&("default".to_owned(), JobId::new("web")));
        match (first, last, current) {
            (Some(first), Some(last), Some(current)) => {
                assert!(Arc::ptr_eq(&first, &last));
                assert!(Arc::ptr_eq(&first, current));
            }
            other => panic!("allocations lost their job: {other:?}"),
        }
    }

    #[test]
    fn a_store_restored_from_json_holds_metrics_encoded_and_whole() {
        let mut store = MemoryState::new();
        let metrics = crate::model::AllocMetric {
            nodes_evaluated: 7,
            nodes_filtered: 2,
            ..crate::model::AllocMetric::default()
        };
        let alloc = Allocation {
            id: AllocId::new("a0"),
            node_id: NodeId::new("n1"),
            metrics: metrics.clone().into(),
            ..Allocation::default()
        };
        store.upsert_allocs(1, vec![alloc]).expect("alloc");
        let json = serde_json::to_string(&store.dump()).expect("dumps");
        let restored = MemoryState::restore(serde_json::from_str(&json).expect("reads"));
        let view = restored.view();
        let stored = view.alloc(&AllocId::new("a0")).expect("restored");
        assert!(stored.metrics.is_encoded());
        assert_eq!(*stored.metrics, metrics);
    }
}
