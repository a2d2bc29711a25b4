//! One evaluation's working state: inputs, seeded random streams, the plan
//! being built, failures; and turning a [`Choice`] into an [`Allocation`].

use std::collections::BTreeMap;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::SchedulerEnv;
use super::config::SchedulerConfiguration;
use super::result::{PlacementFailure, Plan, SchedulerResult};
use super::select::{Choice, GroupPlacer};
use crate::model::{
    AllocClientStatus, AllocDesiredStatus, AllocId, AllocMetric, AllocTaskLifecycle,
    AllocatedCpuResources, AllocatedMemoryResources, AllocatedResources, AllocatedSharedResources,
    AllocatedTaskResources, Allocation, DeploymentId, EvalId, EvalStatus, EvalTrigger, Evaluation,
    Job, Namespace, TaskGroup,
};
use crate::state::StateSnapshot;

/// Nomad's description for allocations stopped because the job stopped.
const STOP_JOB: &str = "alloc not needed as job is stopped";
pub use crate::reconcile::reconciler::STOP_UNNEEDED;

/// Independent random streams, so a change in how many ports one placement
/// draws never reshuffles the nodes of the next.
#[derive(Debug, Clone, Copy)]
enum Stream {
    Shuffle = 1,
    Ports = 2,
    Ids = 3,
}

/// The state of one `schedule` call.
pub struct Run<'s> {
    pub snapshot: &'s dyn StateSnapshot,
    pub eval: &'s Evaluation,
    pub env: &'s SchedulerEnv,
    pub config: SchedulerConfiguration,
    pub plan: Plan,
    pub failures: Vec<PlacementFailure>,
    pub class_eligibility: BTreeMap<String, bool>,
    pub escaped: bool,
    /// Follow-up evaluations the reconciler asked for.
    pub followups: Vec<Evaluation>,
    /// The deployment this evaluation created or continued, recorded on
    /// the finished evaluation (`DeploymentID`) as Nomad does.
    pub deployment_id: Option<DeploymentId>,
    pub port_rng: ChaCha8Rng,
    id_rng: ChaCha8Rng,
    seed: [u8; 32],
}

impl<'s> Run<'s> {
    /// Starts an evaluation. Every random choice derives from the env's
    /// seed, the evaluation id and the snapshot index: the same inputs
    /// replay exactly, and a retry on a newer snapshot reshuffles (as
    /// Nomad's shuffle seeded from the eval id and state index does).
    pub fn new(
        snapshot: &'s dyn StateSnapshot,
        eval: &'s Evaluation,
        env: &'s SchedulerEnv,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(env.seed.to_le_bytes());
        hasher.update(eval.id.as_str().as_bytes());
        hasher.update(snapshot.index().to_le_bytes());
        let seed: [u8; 32] = hasher.finalize().into();
        let plan = Plan {
            eval_id: eval.id.clone(),
            priority: eval.priority,
            snapshot_index: snapshot.index(),
            ..Plan::default()
        };
        Run {
            snapshot,
            eval,
            env,
            config: snapshot.scheduler_config(),
            plan,
            failures: Vec::new(),
            class_eligibility: BTreeMap::new(),
            escaped: false,
            followups: Vec::new(),
            deployment_id: None,
            port_rng: stream(seed, Stream::Ports),
            id_rng: stream(seed, Stream::Ids),
            seed,
        }
    }

    /// The stream that shuffles nodes.
    pub fn shuffle_rng(&self) -> ChaCha8Rng {
        stream(self.seed, Stream::Shuffle)
    }

    /// A fresh UUID from the seeded id stream.
    pub fn new_uuid(&mut self) -> String {
        let mut bytes = [0u8; 16];
        self.id_rng.fill_bytes(&mut bytes);
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .to_string()
    }

    /// A stopped copy of `alloc` with Nomad's desired description.
    pub fn stop(&mut self, alloc: &Allocation, description: &str) {
        self.stop_as(alloc, description, None);
    }

    /// A stopped copy of `alloc`, also setting the client status the
    /// servers decide on the client's behalf (`lost` for an allocation on a
    /// down node, which will never report again).
    pub fn stop_as(
        &mut self,
        alloc: &Allocation,
        description: &str,
        client_status: Option<AllocClientStatus>,
    ) {
        let mut stopped = alloc.clone();
        stopped.job = None;
        stopped.desired_status = AllocDesiredStatus::Stop;
        stopped.desired_description = description.to_owned();
        if let Some(status) = client_status {
            stopped.client_status = status;
        }
        stopped.modify_time = self.env.now;
        self.plan.push_stop(stopped);
    }

    /// Builds the allocation for a choice.
    pub fn new_allocation(
        &mut self,
        job: &Job,
        group: &TaskGroup,
        name: String,
        choice: &Choice<'_>,
        metric: AllocMetric,
        previous: Option<&Allocation>,
    ) -> Allocation {
        let mut tasks = crate::model::VecMap::new();
        let mut lifecycles = crate::model::VecMap::new();
        let oversubscription = self.config.memory_oversubscription_enabled;
        for task in &group.tasks {
            let resources = &task.resources;
            let cpu_shares = choice
                .core_shares
                .get(&task.name)
                .copied()
                .unwrap_or_else(|| resources.cpu());
            let memory_max_mb = if oversubscription {
                resources.memory_max_mb
            } else {
                crate::model::MiB(0)
            };
            let networks = choice
                .ports
                .task_networks
                .get(&task.name)
                .cloned()
                .unwrap_or_default();
            let devices = choice
                .devices
                .as_ref()
                .and_then(|assignment| assignment.by_task.get(&task.name))
                .cloned()
                .unwrap_or_default();
            tasks.insert(
                task.name.clone(),
                AllocatedTaskResources {
                    cpu: AllocatedCpuResources {
                        cpu_shares,
                        reserved_cores: choice.cores.get(&task.name).cloned().unwrap_or_default(),
                    },
                    memory: AllocatedMemoryResources {
                        memory_mb: resources.memory_mb(),
                        memory_max_mb,
                    },
                    networks,
                    devices,
                },
            );
            lifecycles.insert(
                task.name.clone(),
                task.lifecycle.as_ref().map(|lifecycle| AllocTaskLifecycle {
                    hook: lifecycle.hook.clone(),
                    sidecar: lifecycle.sidecar,
                }),
            );
        }
        let allocated_resources = AllocatedResources {
            tasks,
            task_lifecycles: lifecycles,
            shared: AllocatedSharedResources {
                networks: choice.ports.shared_networks.clone(),
                disk_mb: group.ephemeral_disk.size_mb(),
                ports: choice.ports.shared_ports.clone(),
            },
        };
        Allocation {
            id: AllocId::new(self.new_uuid()),
            namespace: Namespace::new(job.namespace.clone()),
            eval_id: self.eval.id.clone(),
            name,
            node_id: choice.node.id.clone(),
            node_name: choice.node.name.clone(),
            job_id: job.id.clone(),
            job: None,
            task_group: group.name.clone(),
            allocated_resources,
            metrics: metric.into(),
            desired_status: AllocDesiredStatus::Run,
            client_status: AllocClientStatus::Pending,
            previous_allocation: previous.map(|p| p.id.clone()).unwrap_or_default(),
            create_time: self.env.now,
            modify_time: self.env.now,
            ..Allocation::default()
        }
    }

    /// The job's allocations. When the job is gone or stopped, stops every
    /// live one and returns `None`; otherwise returns the job with them.
    pub fn job_and_allocs(
        &mut self,
        job: Option<&'s Job>,
    ) -> Option<(&'s Job, Vec<&'s Allocation>)> {
        let allocs: Vec<&'s Allocation> = self
            .snapshot
            .allocs_by_job(self.eval.namespace.as_str(), &self.eval.job_id)
            .collect();
        match job.filter(|job| !job.stop) {
            Some(job) => Some((job, allocs)),
            None => {
                for alloc in allocs.iter().filter(|a| !a.is_terminal()) {
                    self.stop(alloc, STOP_JOB);
                }
                None
            }
        }
    }

    /// Merges what the placers learnt about computed classes, for the
    /// blocked evaluation.
    pub fn learn_classes(&mut self, placers: &[GroupPlacer<'_, '_>]) {
        for placer in placers {
            for (class, eligible) in placer.class_eligibility() {
                *self.class_eligibility.entry(class.clone()).or_insert(false) |= eligible;
            }
            self.escaped |= placer.escapes_class();
        }
    }

    /// Records a failed placement of `group`: the first failure keeps its
    /// metric, later ones are coalesced into it.
    pub fn fail(&mut self, group: &str, metric: impl FnOnce() -> AllocMetric) {
        if let Some(failure) = self.failures.iter_mut().find(|f| f.task_group == group) {
            failure.unplaced += 1;
            failure.metric.coalesced_failures += 1;
            return;
        }
        self.failures.push(PlacementFailure {
            task_group: group.to_owned(),
            unplaced: 1,
            metric: metric(),
        });
    }

    /// Whether `group` already failed in this evaluation (later placements
    /// of it would fail the same way and are only counted).
    pub fn failed(&self, group: &str) -> bool {
        self.failures.iter().any(|f| f.task_group == group)
    }

    /// The result: the plan, the evaluation as processed, and a blocked
    /// evaluation when placements failed.
    pub fn finish(mut self, job: Option<&Job>) -> SchedulerResult {
        let now = self.env.now;
        let mut eval_update = self.eval.clone();
        eval_update.snapshot_index = self.snapshot.index();
        eval_update.modify_time = now;
        eval_update.status = EvalStatus::Complete;
        eval_update.status_description.clear();
        if let Some(id) = &self.deployment_id {
            eval_update.deployment_id = id.clone();
        }
        eval_update.failed_tg_allocs = self
            .failures
            .iter()
            .map(|f| (f.task_group.clone(), f.metric.clone()))
            .collect();
        eval_update.queued_allocations = self
            .failures
            .iter()
            .map(|f| (f.task_group.clone(), f.unplaced))
            .collect();
        let mut created_evals = std::mem::take(&mut self.followups);
        if !self.failures.is_empty() {
            if self.eval.status == EvalStatus::Blocked {
                // A blocked evaluation that still cannot place is blocked
                // again with what it learned, not duplicated (Nomad's
                // ReblockEval).
                eval_update.status = EvalStatus::Blocked;
                eval_update.class_eligibility = self.class_eligibility.clone();
                eval_update.escaped_computed_class = self.escaped;
            } else {
                let id = EvalId::new(self.new_uuid());
                let blocked = Evaluation {
                    id: id.clone(),
                    namespace: self.eval.namespace.clone(),
                    priority: self.eval.priority,
                    eval_type: self.eval.eval_type.clone(),
                    triggered_by: EvalTrigger::QueuedAllocs,
                    job_id: self.eval.job_id.clone(),
                    job_modify_index: job
                        .map_or(self.eval.job_modify_index, |j| j.job_modify_index),
                    status: EvalStatus::Blocked,
                    status_description: "created to place remaining allocations".to_owned(),
                    previous_eval: self.eval.id.clone(),
                    class_eligibility: self.class_eligibility.clone(),
                    escaped_computed_class: self.escaped,
                    snapshot_index: self.snapshot.index(),
                    create_time: now,
                    modify_time: now,
                    ..Evaluation::default()
                };
                eval_update.blocked_eval = id;
                created_evals.push(blocked);
            }
        }
        if !self.plan.is_no_op() {
            self.plan.job = job.cloned();
            self.plan.all_at_once = job.is_some_and(|j| j.all_at_once);
        }
        SchedulerResult {
            plan: self.plan,
            eval_update,
            created_evals,
            failures: self.failures,
        }
    }
}

fn stream(seed: [u8; 32], stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::from_seed(seed);
    rng.set_stream(stream as u64);
    rng
}
