//! The server control plane: the loops a leader runs around the core's
//! pure parts.
//!
//! ```text
//!   evals table ──intake──► EvalBroker ──► workers ──schedule()──► plan queue
//!        ▲          │                          │                      │
//!        │          └──► BlockedEvals          │            plan applier (one)
//!        │                 ▲ unblock           │      check vs latest state, batch,
//!        │                 │ (nodes, stops)    │      commit through Raft
//!        └──── eval updates, blocked and follow-up evaluations ◄──────┘
//!   heartbeats (TTL → node down → evals)   deployment watcher   drainer   periodic launcher   GC
//! ```
//!
//! Only the leader runs them. [`ControlPlane`] watches leadership: on
//! gaining it, it enables the broker, loads every pending and blocked
//! evaluation from the state, and starts the loops; on losing it, it stops
//! them and flushes the broker (the next leader rebuilds everything from
//! the replicated state, so nothing is lost with a leader).
//!
//! Every time and id a loop decides is taken here (the clock module) and
//! travels inside the command, so replicas apply identical values.

mod deployments;
mod drainer;
mod evals;
mod gc;
mod heartbeat;
mod intake;
mod periodic;
mod plan_applier;
mod remote;
mod worker;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use scheduler_core::broker::{BlockedEvals, BrokerConfig, BrokerStats, EvalBroker};
use scheduler_core::model::{Allocation, Evaluation, Job, NodeId};

use crate::command::{Command, CommandResponse};
use crate::server::{Server, ServerError};

pub use evals::new_evaluation;
pub use gc::GcReport;
pub(crate) use heartbeat::node_evals;
pub use plan_applier::PlanSubmission;
pub use remote::{HeartbeatAnswer, LeaderRequest};

/// How the control plane runs.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// Scheduler workers (Nomad's `num_schedulers`; default: one per core).
    pub workers: usize,
    /// The seed mixed into every evaluation's random choices.
    pub seed: u64,
    /// The broker's timeouts and delivery limit.
    pub broker: BrokerConfig,
    /// A node that does not heartbeat within this time is marked down.
    pub heartbeat_ttl: Duration,
    /// After a leader change, nodes get this long to heartbeat before
    /// being marked down (Nomad's failover heartbeat TTL).
    pub failover_heartbeat_ttl: Duration,
    /// How often the deployment watcher looks at active deployments
    /// (besides waking on every change to deployments and allocations).
    pub deployment_poll: Duration,
    /// How often garbage collection runs.
    pub gc_interval: Duration,
    /// Terminal evaluations (with their terminal allocations) older than
    /// this are collected.
    pub eval_gc_threshold: Duration,
    /// Stopped or dead jobs older than this are purged.
    pub job_gc_threshold: Duration,
    /// Terminal deployments older than this are collected.
    pub deployment_gc_threshold: Duration,
    /// How many workers run the scheduler at the same moment; the rest of
    /// a worker's cycle (waiting for its plan to commit) overlaps freely.
    /// Each worker schedules with the placements of plans still in flight
    /// counted as held, but two that schedule at once cannot see each
    /// other's: under binpack both pick the same tightest nodes and the
    /// applier refuses one of the plans there.
    pub parallel_schedules: usize,
    /// How many times a worker re-plans after a partial commit.
    pub plan_attempts: u32,
    /// The most plans the applier commits in one Raft entry.
    pub plans_per_entry: usize,
    /// The applier stops adding plans to an entry once it holds this many
    /// allocations (a plan is never split). Entries must replicate within
    /// the Raft heartbeat interval, which openraft uses as the deadline of
    /// an append request.
    pub allocs_per_entry: usize,
    /// Delay before a failed evaluation's follow-up runs.
    pub failed_follow_up_delay: Duration,
}

impl Default for ControlConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
            seed: 0,
            broker: BrokerConfig::default(),
            heartbeat_ttl: Duration::from_secs(10),
            failover_heartbeat_ttl: Duration::from_secs(300),
            deployment_poll: Duration::from_secs(1),
            gc_interval: Duration::from_secs(300),
            eval_gc_threshold: Duration::from_secs(3600),
            job_gc_threshold: Duration::from_secs(4 * 3600),
            deployment_gc_threshold: Duration::from_secs(3600),
            parallel_schedules: 1,
            plan_attempts: 5,
            plans_per_entry: 64,
            allocs_per_entry: 1_000,
            failed_follow_up_delay: Duration::from_secs(60),
        }
    }
}

/// Why a control-plane operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The write did not commit.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The command was refused by the state machine.
    #[error("refused: {0}")]
    Refused(#[from] crate::command::Refusal),
    /// This server does not lead (the caller should go to the leader).
    #[error("not the leader")]
    NotLeader,
    /// The named object does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Bad input from a caller.
    #[error("{0}")]
    Invalid(String),
    /// The leader failed to carry out a forwarded request.
    #[error("the leader failed: {0}")]
    Remote(String),
}

/// What the leader's loops share.
pub(crate) struct Leader {
    pub(crate) server: Arc<Server>,
    pub(crate) config: ControlConfig,
    pub(crate) broker: Mutex<EvalBroker>,
    /// Woken when the broker may have work (an enqueue, a nack).
    pub(crate) broker_ready: Notify,
    pub(crate) blocked: Mutex<BlockedEvals>,
    pub(crate) plans: mpsc::Sender<PlanSubmission>,
    pub(crate) heartbeats: Mutex<BTreeMap<NodeId, std::time::Instant>>,
    /// Held by a dispatch from its idempotency check to its write, so two
    /// dispatches with one token cannot both create a child.
    pub(crate) dispatching: tokio::sync::Mutex<()>,
    /// What plans in flight will place, laid over the workers' snapshots.
    pub(crate) pending_plans: worker::PendingPlans,
    /// Permits to run the scheduler ([`ControlConfig::parallel_schedules`]).
    pub(crate) scheduling: tokio::sync::Semaphore,
}

impl Leader {
    /// Commits a command; a refusal is an error.
    pub(crate) async fn write(&self, command: Command) -> Result<CommandResponse, ControlError> {
        accepted(self.server.write(command).await?)
    }

    /// [`Leader::write`] without forwarding (see
    /// [`crate::Server::write_as_leader`]): for the plan applier, whose
    /// entries are the largest and whose plans are void once this server
    /// no longer leads.
    pub(crate) async fn write_here(
        &self,
        command: Command,
    ) -> Result<CommandResponse, ControlError> {
        accepted(self.server.write_as_leader(command).await?)
    }

    /// The wall clock, Unix nanoseconds.
    pub(crate) fn now(&self) -> i64 {
        crate::clock::now_unix_nanos()
    }

    /// Locks the broker (a poisoned lock still holds a usable broker: every
    /// broker operation leaves it consistent).
    pub(crate) fn broker(&self) -> std::sync::MutexGuard<'_, EvalBroker> {
        self.broker.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Locks the blocked-evaluation tracker.
    pub(crate) fn blocked(&self) -> std::sync::MutexGuard<'_, BlockedEvals> {
        self.blocked.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Enqueues evaluations into the broker and wakes the workers.
    pub(crate) fn enqueue(&self, evals: impl IntoIterator<Item = Evaluation>) {
        let now = self.now();
        let mut broker = self.broker();
        for eval in evals {
            broker.enqueue(eval, now);
        }
        drop(broker);
        self.broker_ready.notify_waiters();
    }
}

/// The control plane of one server: idle while it follows, running the
/// leader's loops while it leads.
pub struct ControlPlane {
    server: Arc<Server>,
    config: ControlConfig,
    active: Arc<Mutex<Option<Active>>>,
    watcher: JoinHandle<()>,
}

/// The leader's loops while this server leads; dropping it stops them.
struct Active {
    leader: Arc<Leader>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Active {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.server.set_leader_service(None);
        self.watcher.abort();
        self.active.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server", &self.server.id())
            .finish_non_exhaustive()
    }
}

impl ControlPlane {
    /// Starts watching leadership of `server`, and answers the leader-only
    /// requests other servers forward to it while it leads.
    pub fn start(server: Arc<Server>, config: ControlConfig) -> Self {
        let active: Arc<Mutex<Option<Active>>> = Arc::default();
        server.set_leader_service(Some(Arc::new(remote::ControlService {
            server: Arc::downgrade(&server),
            active: Arc::downgrade(&active),
            config: config.clone(),
        })));
        let watcher = tokio::spawn(watch_leadership(
            server.clone(),
            config.clone(),
            active.clone(),
        ));
        Self {
            server,
            config,
            active,
            watcher,
        }
    }

    /// The server this plane runs on.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The configuration.
    pub fn config(&self) -> &ControlConfig {
        &self.config
    }

    fn leader(&self) -> Result<Arc<Leader>, ControlError> {
        self.active
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(|active| active.leader.clone())
            .ok_or(ControlError::NotLeader)
    }

    /// Whether this server's leader loops are running.
    pub fn is_leading(&self) -> bool {
        self.leader().is_ok()
    }

    /// The broker's counts (only on the leader).
    pub fn broker_stats(&self) -> Result<BrokerStats, ControlError> {
        Ok(self.leader()?.broker().stats())
    }

    /// How many evaluations are blocked (only on the leader).
    pub fn blocked_count(&self) -> Result<usize, ControlError> {
        Ok(self.leader()?.blocked().len())
    }

    /// Registers a job with an evaluation (`job run`); returns the
    /// evaluation's id and the register answer. Works on any server (the
    /// write is forwarded); the leader's intake enqueues the evaluation.
    pub async fn register_job(
        &self,
        job: Job,
        enforce_index: Option<u64>,
    ) -> Result<(Evaluation, CommandResponse), ControlError> {
        remote::register_job(&self.server, job, enforce_index).await
    }

    /// Registers or updates a node and starts its TTL on the leader;
    /// returns the TTL within which it must heartbeat again.
    pub async fn register_node(
        &self,
        node: scheduler_core::model::Node,
    ) -> Result<Duration, ControlError> {
        let ttl_ms: u64 = remote::call(
            &self.server,
            &LeaderRequest::RegisterNode {
                node: Box::new(node),
            },
        )
        .await?;
        Ok(Duration::from_millis(ttl_ms))
    }

    /// A node's heartbeat, passed to the leader: resets its TTL; a node
    /// that was down is marked ready again. Returns the TTL.
    pub async fn heartbeat(&self, node_id: &NodeId) -> Result<Duration, ControlError> {
        let answer = self.heartbeat_nodes(vec![node_id.clone()]).await?;
        if !answer.unknown.is_empty() {
            return Err(ControlError::NotFound(format!("node {node_id}")));
        }
        Ok(Duration::from_millis(answer.ttl_ms))
    }

    /// Heartbeats of many nodes in one request (an agent running several,
    /// a simulator); the answer names the nodes the leader does not know.
    pub async fn heartbeat_nodes(
        &self,
        nodes: Vec<NodeId>,
    ) -> Result<HeartbeatAnswer, ControlError> {
        remote::call(&self.server, &LeaderRequest::Heartbeat { nodes }).await
    }

    /// What clients report about their allocations; capacity freed by
    /// allocations that finished wakes blocked evaluations.
    pub async fn update_allocs_from_client(
        &self,
        allocs: Vec<Allocation>,
    ) -> Result<CommandResponse, ControlError> {
        remote::call(&self.server, &LeaderRequest::UpdateAllocs { allocs }).await
    }

    /// Promotes a deployment's canaries (all groups, or the named ones).
    pub async fn promote_deployment(
        &self,
        deployment_id: &scheduler_core::model::DeploymentId,
        groups: Option<Vec<String>>,
    ) -> Result<(), ControlError> {
        let request = LeaderRequest::PromoteDeployment {
            deployment: deployment_id.clone(),
            groups,
        };
        remote::call(&self.server, &request).await
    }

    /// Fails a deployment (rolling back if its update block says so).
    pub async fn fail_deployment(
        &self,
        deployment_id: &scheduler_core::model::DeploymentId,
    ) -> Result<(), ControlError> {
        let request = LeaderRequest::FailDeployment {
            deployment: deployment_id.clone(),
        };
        remote::call(&self.server, &request).await
    }

    /// Pauses or resumes a deployment.
    pub async fn pause_deployment(
        &self,
        deployment_id: &scheduler_core::model::DeploymentId,
        pause: bool,
    ) -> Result<(), ControlError> {
        let request = LeaderRequest::PauseDeployment {
            deployment: deployment_id.clone(),
            pause,
        };
        remote::call(&self.server, &request).await
    }

    /// Launches a periodic job now (`job periodic force`).
    pub async fn force_periodic_launch(
        &self,
        namespace: &str,
        job_id: &scheduler_core::model::JobId,
    ) -> Result<Evaluation, ControlError> {
        let request = LeaderRequest::ForcePeriodicLaunch {
            namespace: namespace.to_owned(),
            job: job_id.clone(),
        };
        remote::call(&self.server, &request).await
    }

    /// Dispatches a parameterized job (`job dispatch`); a repeated
    /// idempotency token returns the existing child.
    pub async fn dispatch_job(
        &self,
        namespace: &str,
        job_id: &scheduler_core::model::JobId,
        payload: Option<Vec<u8>>,
        meta: BTreeMap<String, String>,
        idempotency_token: String,
    ) -> Result<(Job, Evaluation), ControlError> {
        let request = LeaderRequest::DispatchJob {
            namespace: namespace.to_owned(),
            job: job_id.clone(),
            payload,
            meta,
            idempotency_token,
        };
        remote::call(&self.server, &request).await
    }

    /// Collects garbage now (`system gc`); `force` ignores the age
    /// thresholds.
    pub async fn collect_garbage(&self, force: bool) -> Result<GcReport, ControlError> {
        remote::call(&self.server, &LeaderRequest::CollectGarbage { force }).await
    }

    /// Stops the watcher and any leader loops (the server keeps running,
    /// and answers forwarded leader-only requests with "not the leader").
    pub fn shutdown(&self) {
        self.server.set_leader_service(None);
        self.watcher.abort();
        self.active.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

/// Follows the Raft metrics: starts the leader loops on gaining
/// leadership, stops them on losing it.
async fn watch_leadership(
    server: Arc<Server>,
    config: ControlConfig,
    active: Arc<Mutex<Option<Active>>>,
) {
    let mut metrics = server.raft().metrics();
    loop {
        let leads = metrics.borrow().state == openraft::ServerState::Leader;
        let running = active.lock().unwrap_or_else(|e| e.into_inner()).is_some();
        match (leads, running) {
            (true, false) => {
                let (leader, tasks) = establish(server.clone(), config.clone()).await;
                tracing::info!("server {} leads: control loops started", server.id());
                *active.lock().unwrap_or_else(|e| e.into_inner()) = Some(Active { leader, tasks });
            }
            (false, true) => {
                tracing::info!(
                    "server {} no longer leads: control loops stopped",
                    server.id()
                );
                active.lock().unwrap_or_else(|e| e.into_inner()).take();
            }
            _ => {}
        }
        if metrics.changed().await.is_err() {
            break;
        }
    }
    active.lock().unwrap_or_else(|e| e.into_inner()).take();
}

/// Leadership gained: a fresh broker and tracker filled from the state,
/// and every loop started.
async fn establish(
    server: Arc<Server>,
    config: ControlConfig,
) -> (Arc<Leader>, Vec<JoinHandle<()>>) {
    // Wait until this leader applied everything committed before it led:
    // the state it loads evaluations from must be complete.
    let _ = server.read_consistent().await;
    let (plans, plan_queue) = mpsc::channel(1024);
    let leader = Arc::new(Leader {
        server,
        broker: Mutex::new(EvalBroker::new(config.broker)),
        broker_ready: Notify::new(),
        blocked: Mutex::new(BlockedEvals::new()),
        plans,
        heartbeats: Mutex::default(),
        dispatching: tokio::sync::Mutex::new(()),
        pending_plans: worker::PendingPlans::default(),
        scheduling: tokio::sync::Semaphore::new(config.parallel_schedules.max(1)),
        config,
    });
    let mut tasks = vec![
        tokio::spawn(plan_applier::run(leader.clone(), plan_queue)),
        tokio::spawn(intake::run(leader.clone())),
        tokio::spawn(intake::run_broker_timers(leader.clone())),
        tokio::spawn(heartbeat::run(leader.clone())),
        tokio::spawn(deployments::run(leader.clone())),
        tokio::spawn(drainer::run(leader.clone())),
        tokio::spawn(periodic::run(leader.clone())),
        tokio::spawn(gc::run(leader.clone())),
    ];
    for worker in 0..leader.config.workers.max(1) {
        tasks.push(tokio::spawn(worker::run(leader.clone(), worker)));
    }
    (leader, tasks)
}

/// A committed command's response, or its refusal as an error.
fn accepted(response: CommandResponse) -> Result<CommandResponse, ControlError> {
    if let Err(refusal) = &response.result {
        return Err(ControlError::Refused(refusal.clone()));
    }
    Ok(response)
}
