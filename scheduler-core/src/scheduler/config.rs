//! Scheduler configuration: the cluster-wide knobs (Nomad's
//! `/v1/operator/scheduler/configuration`) and node pools, which can
//! override the placement algorithm for their nodes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::JobType;
use crate::model::serde_util::null_as_default;

/// How the scheduler scores a node's fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulerAlgorithm {
    /// Fill the fullest nodes first (Nomad's default): fewer nodes in use,
    /// more whole nodes free for large allocations.
    #[default]
    Binpack,
    /// Prefer the emptiest nodes: load spread evenly, less contention.
    Spread,
}

/// Which job types may preempt lower-priority allocations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PreemptionConfig {
    /// System jobs may preempt (Nomad's default: on).
    #[serde(default = "default_true")]
    pub system_scheduler_enabled: bool,
    /// Sysbatch jobs may preempt (default: off).
    #[serde(default, deserialize_with = "null_as_default")]
    pub sys_batch_scheduler_enabled: bool,
    /// Batch jobs may preempt (default: off).
    #[serde(default, deserialize_with = "null_as_default")]
    pub batch_scheduler_enabled: bool,
    /// Service jobs may preempt (default: off).
    #[serde(default, deserialize_with = "null_as_default")]
    pub service_scheduler_enabled: bool,
}

fn default_true() -> bool {
    true
}

impl Default for PreemptionConfig {
    fn default() -> Self {
        PreemptionConfig {
            system_scheduler_enabled: true,
            sys_batch_scheduler_enabled: false,
            batch_scheduler_enabled: false,
            service_scheduler_enabled: false,
        }
    }
}

impl PreemptionConfig {
    /// Whether jobs of `job_type` may preempt.
    pub fn enabled_for(&self, job_type: &JobType) -> bool {
        match job_type {
            JobType::System => self.system_scheduler_enabled,
            JobType::Sysbatch => self.sys_batch_scheduler_enabled,
            JobType::Batch => self.batch_scheduler_enabled,
            JobType::Service => self.service_scheduler_enabled,
            _ => false,
        }
    }
}

/// The cluster-wide scheduler configuration, with Nomad's JSON field names.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SchedulerConfiguration {
    /// Placement algorithm for node pools that do not choose their own.
    #[serde(default, deserialize_with = "null_as_default")]
    pub scheduler_algorithm: SchedulerAlgorithm,
    /// Which schedulers may preempt.
    #[serde(default, deserialize_with = "null_as_default")]
    pub preemption_config: PreemptionConfig,
    /// Whether tasks may set `memory_max` above `memory`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory_oversubscription_enabled: bool,
    /// Refuse new job registrations (an operator's emergency brake).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reject_job_registration: bool,
    /// Stop handing evaluations to schedulers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub pause_eval_broker: bool,
    /// Raft index at which the configuration was created.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

/// A node pool: a named set of nodes jobs can target, which may choose its
/// own placement algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodePool {
    /// Pool name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// What the pool is for.
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    /// Operator metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Overrides of the cluster configuration for this pool's nodes.
    #[serde(default)]
    pub scheduler_configuration: Option<NodePoolSchedulerConfiguration>,
    /// Raft index at which the pool was created.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

/// A node pool's overrides of the scheduler configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodePoolSchedulerConfiguration {
    /// The pool's placement algorithm; the cluster's when unset.
    #[serde(default)]
    pub scheduler_algorithm: Option<SchedulerAlgorithm>,
    /// The pool's memory oversubscription setting; the cluster's when unset.
    #[serde(default)]
    pub memory_oversubscription_enabled: Option<bool>,
}

impl SchedulerConfiguration {
    /// The algorithm for placements in `pool`: the pool's own choice, else
    /// the cluster's.
    pub fn algorithm_for(&self, pool: Option<&NodePool>) -> SchedulerAlgorithm {
        pool.and_then(|p| p.scheduler_configuration.as_ref())
            .and_then(|c| c.scheduler_algorithm)
            .unwrap_or(self.scheduler_algorithm)
    }
}
