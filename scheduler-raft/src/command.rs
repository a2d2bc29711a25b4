//! What a Raft log entry asks the state machine to do, and what it answers.
//!
//! Every command is deterministic given the state it applies to: whatever
//! depends on a clock or a random choice (timestamps, new ids) is decided by
//! the server that proposes the command and travels inside it, so every
//! replica applies the same bytes to the same state and ends equal.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use scheduler_core::model::{
    AllocId, Allocation, Deployment, DeploymentId, DeploymentStatusUpdate, EvalId, Evaluation, Job,
    JobId, Node, NodeId, NodeStatus,
};
use scheduler_core::scheduler::config::{NodePool, SchedulerConfiguration};

use crate::cluster_state::ClusterDump;
use crate::services::RegisteredService;

/// One state change, as a log entry carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Command {
    /// Does nothing; moves the index (leader no-ops, tests).
    Noop,
    /// Registers or updates nodes (a client's registration).
    UpsertNodes {
        /// The nodes as the clients describe them.
        nodes: Vec<Node>,
    },
    /// Sets a node's status (heartbeat missed, node back), keeping the rest.
    UpdateNodeStatus {
        /// The node.
        node_id: NodeId,
        /// Its new status.
        status: NodeStatus,
        /// When the proposing server decided it (Unix nanoseconds).
        updated_at: i64,
    },
    /// Removes a node.
    DeleteNode {
        /// The node.
        node_id: NodeId,
    },
    /// Registers or updates a job (`job run`), with its evaluation.
    RegisterJob {
        /// The canonical, validated job.
        job: Box<Job>,
        /// `-check-index`: `Some(0)` means "the job must not exist";
        /// `Some(n)` means "its `JobModifyIndex` must be `n`".
        enforce_index: Option<u64>,
        /// The evaluation to create along with it (its `JobModifyIndex`
        /// is set to the job's as stored).
        eval: Option<Box<Evaluation>>,
    },
    /// Stops (or purges) a job, with its evaluation.
    DeregisterJob {
        /// The job's namespace.
        namespace: String,
        /// The job.
        job_id: JobId,
        /// Remove the job and its versions instead of marking it stopped.
        purge: bool,
        /// The evaluation to create along with it.
        eval: Option<Box<Evaluation>>,
    },
    /// Marks a kept job version stable or not (`job stable`): the
    /// version's `Stable` and `ModifyIndex` change, never its `Version`
    /// or `JobModifyIndex`. An unknown job or version is refused.
    SetJobStability {
        /// The job's namespace.
        namespace: String,
        /// The job.
        job_id: JobId,
        /// The version to mark.
        version: u64,
        /// Stable or not.
        stable: bool,
    },
    /// Creates or updates evaluations.
    UpsertEvals {
        /// The evaluations.
        evals: Vec<Evaluation>,
    },
    /// Server-side allocation writes (stops, desired transitions).
    UpsertAllocs {
        /// The allocations.
        allocs: Vec<Allocation>,
    },
    /// What clients report about their allocations.
    UpdateAllocsFromClient {
        /// Allocations carrying the client-owned fields.
        allocs: Vec<Allocation>,
    },
    /// The accepted part of a scheduler's plan, with the evaluation's
    /// outcome, in one entry.
    ApplyPlan(Box<PlanApply>),
    /// Creates or updates a deployment.
    UpsertDeployment {
        /// The deployment.
        deployment: Box<Deployment>,
    },
    /// Sets the scheduler configuration; with `cas_index`, only if the
    /// stored configuration's `ModifyIndex` is that.
    SetSchedulerConfig {
        /// The configuration.
        config: Box<SchedulerConfiguration>,
        /// Compare-and-set index.
        cas_index: Option<u64>,
    },
    /// Registers or updates a node pool.
    UpsertNodePool {
        /// The pool.
        pool: Box<NodePool>,
    },
    /// Replaces the service instances a node's client registered (its
    /// whole set, as the client reports it).
    SetNodeServices {
        /// The node.
        node_id: NodeId,
        /// Its instances now.
        services: Vec<RegisteredService>,
    },
    /// Garbage collection: removes old objects.
    GarbageCollect {
        /// Evaluations to remove.
        evals: Vec<EvalId>,
        /// Allocations to remove.
        allocs: Vec<AllocId>,
        /// Deployments to remove.
        deployments: Vec<DeploymentId>,
        /// Stopped jobs to purge, as (namespace, id).
        jobs: Vec<(String, JobId)>,
    },
    /// Several commands applied at one index, in order (the plan applier
    /// batches plans; a client batches registrations).
    Batch(Vec<Command>),
    /// Replaces the whole state with a saved one (`snapshot restore`).
    ///
    /// Every object is replaced; the store's index and every table's index
    /// move to the entry's index (never backwards), so blocking queries
    /// wake. The Raft membership is not part of the state and stays as it
    /// is.
    RestoreState(Box<ClusterDump>),
}

impl Command {
    /// How many objects the command writes, roughly: what the leader's
    /// proposer counts to keep the entries it batches small enough to
    /// replicate within a heartbeat. A whole-state restore counts as
    /// unbounded so that it always travels alone.
    pub fn weight(&self) -> usize {
        match self {
            Command::Noop
            | Command::UpdateNodeStatus { .. }
            | Command::DeleteNode { .. }
            | Command::RegisterJob { .. }
            | Command::DeregisterJob { .. }
            | Command::SetJobStability { .. }
            | Command::UpsertDeployment { .. }
            | Command::SetSchedulerConfig { .. }
            | Command::UpsertNodePool { .. } => 1,
            Command::UpsertNodes { nodes } => nodes.len().max(1),
            Command::SetNodeServices { services, .. } => services.len().max(1),
            Command::UpsertEvals { evals } => evals.len().max(1),
            Command::UpsertAllocs { allocs } | Command::UpdateAllocsFromClient { allocs } => {
                allocs.len().max(1)
            }
            Command::ApplyPlan(plan) => {
                let allocations: usize = [
                    &plan.node_update,
                    &plan.node_allocation,
                    &plan.node_preemptions,
                ]
                .iter()
                .flat_map(|map| map.values())
                .map(Vec::len)
                .sum();
                (allocations + plan.evals.len()).max(1)
            }
            Command::GarbageCollect {
                evals,
                allocs,
                deployments,
                jobs,
            } => (evals.len() + allocs.len() + deployments.len() + jobs.len()).max(1),
            Command::Batch(commands) => commands.iter().map(Command::weight).sum::<usize>().max(1),
            Command::RestoreState(_) => usize::MAX,
        }
    }
}

/// A command as a log entry holds it: shared, so that the copies openraft
/// makes of an entry (one per follower it is sent to, one for the state
/// machine) cost a pointer each instead of a copy of a plan's hundreds of
/// allocations (those copies were 7 % of a replicated C1M run's CPU).
/// Encoded exactly as the [`Command`] it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct SharedCommand(pub std::sync::Arc<Command>);

impl SharedCommand {
    /// The command, taken without a copy when nothing else holds it.
    pub fn into_command(self) -> Command {
        std::sync::Arc::try_unwrap(self.0).unwrap_or_else(|shared| (*shared).clone())
    }
}

impl From<Command> for SharedCommand {
    fn from(command: Command) -> Self {
        SharedCommand(std::sync::Arc::new(command))
    }
}

impl Serialize for SharedCommand {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SharedCommand {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Command::deserialize(deserializer).map(SharedCommand::from)
    }
}

/// The accepted part of a plan, as the plan applier commits it.
///
/// Allocations travel without their job when it is the plan's `job`, so a
/// plan of a thousand placements carries the job once; applying attaches
/// one shared copy to all of them.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanApply {
    /// The evaluation the plan answers.
    pub eval_id: EvalId,
    /// The job the plan's new allocations run.
    pub job: Option<Job>,
    /// Accepted stops, per node.
    pub node_update: BTreeMap<NodeId, Vec<Allocation>>,
    /// Accepted placements and updates, per node.
    pub node_allocation: BTreeMap<NodeId, Vec<Allocation>>,
    /// Accepted preemptions, per node.
    pub node_preemptions: BTreeMap<NodeId, Vec<Allocation>>,
    /// The deployment to create or update.
    pub deployment: Option<Deployment>,
    /// Status changes of other deployments.
    pub deployment_updates: Vec<DeploymentStatusUpdate>,
    /// Evaluations to write with the plan: the evaluation's own update,
    /// blocked evaluations, and follow-ups for preempted jobs.
    pub evals: Vec<Evaluation>,
}

/// What applying a command answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandResponse {
    /// The log index the command was applied at.
    pub index: u64,
    /// What happened, or why the command changed nothing.
    pub result: Result<Applied, Refusal>,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Applied {
    /// The command was applied.
    Done,
    /// A job was registered.
    JobRegistered {
        /// The version stored.
        version: u64,
        /// The job's `JobModifyIndex` as stored.
        job_modify_index: u64,
        /// Whether the specification changed (a new version).
        changed: bool,
    },
    /// A job was stopped or purged; whether it existed.
    JobDeregistered {
        /// Whether the job existed.
        existed: bool,
    },
    /// The responses of a batch, in order.
    Batch(Vec<Result<Applied, Refusal>>),
}

/// Why a command changed nothing. Refusals are part of the replicated
/// outcome (every replica refuses alike); they are not storage failures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Refusal {
    /// `-check-index` did not match.
    #[error(
        "enforcing job modify index {expected}: job {job} exists with conflicting job modify index {actual}"
    )]
    CheckIndexMismatch {
        /// The job.
        job: String,
        /// The index the caller gave.
        expected: u64,
        /// The stored `JobModifyIndex` (0: no such job).
        actual: u64,
    },
    /// Compare-and-set on the scheduler configuration failed.
    #[error("scheduler configuration changed: modify index is {actual}, not {expected}")]
    ConfigIndexMismatch {
        /// The index the caller gave.
        expected: u64,
        /// The stored `ModifyIndex`.
        actual: u64,
    },
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The store refused the write (an index going backwards: a bug).
    #[error("state store refused the write: {0}")]
    Store(String),
}
