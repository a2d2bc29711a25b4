//! What each scenario step does to the world.

use std::collections::{BTreeMap, BTreeSet};

use super::{JobLoader, World, short};
use crate::model::timestamp::format_rfc3339_nanos;
use crate::model::{
    AllocClientStatus, AllocDeploymentStatus, Allocation, DeploymentId, DrainStrategy, Duration,
    EvalTrigger, Job, JobId, Node, NodeStatus, SchedulingEligibility, TaskRunState, TaskState,
};
use crate::plan::check_index::enforce_check_index;
use crate::plan::diff::render_diff;
use crate::plan::dry_run::plan_job;
use crate::reconcile::deployment_progress::{DeploymentEvent, DeploymentWatch};
use crate::scheduler::SchedulerEnv;
use crate::simulate::scenario::StepKind;
use crate::state::StateSnapshot;

impl World {
    /// Carries out one step (the caller settles afterwards).
    pub(super) fn run_step(
        &mut self,
        kind: &StepKind,
        load: &mut JobLoader<'_>,
    ) -> Result<(), String> {
        match kind {
            StepKind::Register {
                job_path,
                check_index,
            } => {
                let job = load(job_path)?;
                if let Some(index) = check_index {
                    let current = self.state.view().job(&job.namespace, &job.id);
                    enforce_check_index(current, *index).map_err(|e| e.to_string())?;
                }
                let key = self.register_job(job)?;
                self.enqueue(&key, EvalTrigger::JobRegister);
            }
            StepKind::Plan { job_path } => {
                let job = load(job_path)?;
                self.plan(job)?;
            }
            StepKind::Healthy { job } => self.report_health(job, true)?,
            StepKind::Unhealthy { job } => self.report_health(job, false)?,
            StepKind::Promote { job } => {
                let key = self.job_key(job)?;
                let deployment = self
                    .state
                    .view()
                    .latest_deployment(&key.0, &key.1)
                    .filter(|d| d.is_active())
                    .map(|d| d.id.clone())
                    .ok_or_else(|| format!("job {job:?} has no active deployment to promote"))?;
                let watch = self.watch(&key, &deployment)?;
                let events = BTreeMap::from([(
                    deployment,
                    (watch, vec![DeploymentEvent::Promote { groups: None }]),
                )]);
                self.log.touch(key);
                self.step_deployments(&events)?;
            }
            StepKind::Stop { job, purge } => {
                let key = self.job_key(job)?;
                let index = self.next_index();
                if *purge {
                    self.state
                        .delete_job(index, &key.0, &key.1)
                        .map_err(|e| e.to_string())?;
                    let eval = {
                        let stored = self.versions[&key].last().cloned().expect("registered");
                        self.evaluation(&stored, EvalTrigger::JobDeregister)
                    };
                    self.pending.push(eval);
                } else {
                    let mut stopped = self
                        .state
                        .view()
                        .job(&key.0, &key.1)
                        .cloned()
                        .ok_or_else(|| format!("job {job:?} is not registered"))?;
                    stopped.stop = true;
                    self.register_job(stopped)?;
                    self.enqueue(&key, EvalTrigger::JobDeregister);
                }
                self.log.touch(key);
            }
            StepKind::Fail { alloc } => self.fail_alloc(alloc)?,
            StepKind::NodeDown { node } => {
                let mut found = self.node(node)?;
                // Allocations that tolerate a disconnected client keep the
                // node `disconnected` rather than `down`, as a server does
                // when such a client misses its heartbeats.
                let tolerant = self
                    .state
                    .view()
                    .allocs_by_node(&found.id)
                    .filter(|a| !a.is_terminal())
                    .any(tolerates_disconnect);
                found.status = if tolerant {
                    NodeStatus::Disconnected
                } else {
                    NodeStatus::Down
                };
                let id = found.id.clone();
                let index = self.next_index();
                self.state
                    .upsert_node(index, found)
                    .map_err(|e| e.to_string())?;
                self.enqueue_jobs_on(&id, EvalTrigger::NodeUpdate);
            }
            StepKind::NodeUp { node } => {
                let mut found = self.node(node)?;
                found.status = NodeStatus::Ready;
                let id = found.id.clone();
                let class = found.computed_class.clone();
                let index = self.next_index();
                self.state
                    .upsert_node(index, found)
                    .map_err(|e| e.to_string())?;
                // The client reports what it kept running while away.
                let back: Vec<Allocation> = self
                    .state
                    .view()
                    .allocs_by_node(&id)
                    .filter(|a| a.client_status == AllocClientStatus::Unknown)
                    .map(|a| {
                        let mut update = a.clone();
                        update.job = None;
                        update.client_status = AllocClientStatus::Running;
                        update
                    })
                    .collect();
                if !back.is_empty() {
                    let index = self.next_index();
                    self.state
                        .update_allocs_from_client(index, back)
                        .map_err(|e| e.to_string())?;
                }
                self.enqueue_jobs_on(&id, EvalTrigger::NodeUpdate);
                for key in self.system_jobs() {
                    self.enqueue(&key, EvalTrigger::NodeUpdate);
                }
                self.unblock(&BTreeSet::from([class]));
            }
            StepKind::Drain {
                node,
                deadline,
                ignore_system_jobs,
            } => {
                let mut found = self.node(node)?;
                let deadline = deadline.unwrap_or(Duration::from_hours(1));
                found.drain_strategy = Some(DrainStrategy {
                    deadline,
                    ignore_system_jobs: *ignore_system_jobs,
                    force_deadline: if deadline.0 > 0 {
                        format_rfc3339_nanos(self.now.saturating_add(deadline.0))
                    } else {
                        String::new()
                    },
                    started_at: format_rfc3339_nanos(self.now),
                });
                found.scheduling_eligibility = SchedulingEligibility::Ineligible;
                let index = self.next_index();
                self.state
                    .upsert_node(index, found)
                    .map_err(|e| e.to_string())?;
            }
            StepKind::AddNode { nodes } => {
                let classes: BTreeSet<String> =
                    nodes.iter().map(|n| n.computed_class.clone()).collect();
                for node in nodes {
                    if self.state.view().nodes().any(|n| n.name == node.name) {
                        return Err(format!("a node named {:?} already exists", node.name));
                    }
                }
                let index = self.next_index();
                self.state
                    .upsert_nodes(index, nodes.clone())
                    .map_err(|e| e.to_string())?;
                for key in self.system_jobs() {
                    self.enqueue(&key, EvalTrigger::NodeUpdate);
                }
                self.unblock(&classes);
            }
            StepKind::Advance { duration } => {
                let until = self.now.saturating_add(duration.0);
                self.advance_to(until)?;
            }
        }
        Ok(())
    }

    /// The stored job with this id (any namespace, `default` first).
    fn job_key(&self, id: &str) -> Result<(String, JobId), String> {
        self.versions
            .keys()
            .find(|(_, job)| job.as_str() == id)
            .cloned()
            .ok_or_else(|| format!("no job {id:?} was registered"))
    }

    fn node(&self, name: &str) -> Result<Node, String> {
        self.state
            .view()
            .nodes()
            .find(|n| n.name == name)
            .cloned()
            .ok_or_else(|| format!("no node named {name:?}"))
    }

    /// `healthy`: every live allocation of the job runs and is healthy.
    /// `unhealthy`: the allocations of the job's current version not yet
    /// healthy report unhealthy.
    fn report_health(&mut self, job: &str, healthy: bool) -> Result<(), String> {
        let key = self.job_key(job)?;
        let view = self.state.view();
        let version = view.job(&key.0, &key.1).map(|j| j.job_modify_index);
        let active: Option<DeploymentId> = view
            .latest_deployment(&key.0, &key.1)
            .filter(|d| d.is_active())
            .map(|d| d.id.clone());
        let mut updates = Vec::new();
        let mut events = Vec::new();
        for alloc in view.allocs_by_job(&key.0, &key.1) {
            if alloc.is_terminal() {
                continue;
            }
            let already = alloc.deployment_status.as_ref().and_then(|s| s.healthy);
            let current = alloc.job.as_ref().map(|j| j.job_modify_index) == version;
            let pick = if healthy {
                already != Some(true)
            } else {
                current && already != Some(true) && already != Some(false)
            };
            if !pick {
                continue;
            }
            let mut update = alloc.clone();
            update.job = None;
            update.client_status = AllocClientStatus::Running;
            let event = report_health_of(&mut update, healthy, self.now);
            if active.as_ref() == Some(&alloc.deployment_id) {
                events.push(event);
            }
            updates.push(update);
        }
        if updates.is_empty() {
            self.log
                .notes
                .push(format!("no allocation of {job:?} changed health"));
            return Ok(());
        }
        self.log.notes.push(format!(
            "{} allocation(s) of {job} report {}",
            updates.len(),
            if healthy { "healthy" } else { "unhealthy" }
        ));
        self.apply_client_updates(&key, updates, active, events)
    }

    /// Writes client updates, with the deployment watcher seeing the health
    /// changes as events (it reads the health from before the write).
    pub(super) fn apply_client_updates(
        &mut self,
        key: &(String, JobId),
        updates: Vec<Allocation>,
        deployment: Option<DeploymentId>,
        events: Vec<DeploymentEvent>,
    ) -> Result<(), String> {
        self.log.touch(key.clone());
        // The watcher must see each report as news: its view is taken
        // before the write and stepped with the reports after it.
        let mut before = BTreeMap::new();
        if let Some(id) = deployment
            && !events.is_empty()
            && let Some(stored) = self.state.view().deployment(&id).cloned()
        {
            let allocs: Vec<Allocation> = self
                .state
                .view()
                .allocs_by_job(&key.0, &key.1)
                .cloned()
                .collect();
            before.insert(id, (DeploymentWatch::from_allocs(stored, &allocs), events));
        }
        let index = self.next_index();
        self.state
            .update_allocs_from_client(index, updates)
            .map_err(|e| e.to_string())?;
        self.step_deployments(&before)?;
        Ok(())
    }

    /// `fail`: the newest live allocation with this name fails.
    fn fail_alloc(&mut self, name: &str) -> Result<(), String> {
        let view = self.state.view();
        let alloc = self
            .versions
            .keys()
            .flat_map(|key| view.allocs_by_job(&key.0, &key.1))
            .filter(|a| a.name == name && !a.is_terminal())
            .max_by_key(|a| a.create_index)
            .cloned()
            .ok_or_else(|| format!("no live allocation named {name:?}"))?;
        let key = (alloc.namespace.as_str().to_owned(), alloc.job_id.clone());
        let deployment = view
            .deployment(&alloc.deployment_id)
            .filter(|d| d.is_active())
            .cloned();
        let mut update = alloc.clone();
        update.job = None;
        update.client_status = AllocClientStatus::Failed;
        update.client_description = "Failed tasks".to_owned();
        let finished = format_rfc3339_nanos(self.now);
        for task in alloc
            .job
            .as_ref()
            .and_then(|j| j.lookup_task_group(&alloc.task_group))
            .map(|g| g.tasks.iter().map(|t| t.name.clone()).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            update.task_states.insert(
                task,
                TaskState {
                    state: TaskRunState::Dead,
                    failed: true,
                    finished_at: finished.clone(),
                    ..TaskState::default()
                },
            );
        }
        let mut events = Vec::new();
        if let Some(d) = &deployment {
            events.push(report_health_of(&mut update, false, self.now));
            // The deployment watcher lets a failed allocation of a
            // deployment that can still progress be rescheduled.
            let progressing = d
                .task_groups
                .get(&alloc.task_group)
                .is_some_and(|s| !s.progress_deadline.is_zero());
            if progressing {
                let mut flagged = alloc.clone();
                flagged.job = None;
                flagged.desired_transition.reschedule = Some(true);
                let index = self.next_index();
                self.state
                    .upsert_allocs(index, vec![flagged])
                    .map_err(|e| e.to_string())?;
            }
        }
        self.log.notes.push(format!(
            "allocation {name} ({}) failed on {}",
            short(alloc.id.as_str()),
            alloc.node_name
        ));
        self.apply_client_updates(&key, vec![update], deployment.map(|d| d.id), events)?;
        self.enqueue(&key, EvalTrigger::RetryFailedAlloc);
        Ok(())
    }

    /// `plan`: what registering `job` would do, on a copy of the state.
    fn plan(&mut self, job: Job) -> Result<(), String> {
        let eval = self.evaluation(&job, EvalTrigger::JobRegister);
        let env = SchedulerEnv {
            now: self.now,
            seed: self.seed,
        };
        let dry_run = plan_job(&self.state, job, eval, true, &env).map_err(|e| e.to_string())?;
        let mut text = dry_run
            .response
            .diff
            .as_ref()
            .map(|diff| render_diff(diff, false))
            .unwrap_or_default();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        self.log.diff = Some(text);
        self.log.check_index = Some(dry_run.response.job_modify_index);
        self.log.record_dry_run(&dry_run.result);
        Ok(())
    }
}

/// Sets the deployment health a client reports on `update` at `now` and
/// returns the event the deployment watcher sees for it.
pub(super) fn report_health_of(
    update: &mut Allocation,
    healthy: bool,
    now: i64,
) -> DeploymentEvent {
    let canary = update.is_canary();
    update.deployment_status = Some(Box::new(AllocDeploymentStatus {
        healthy: Some(healthy),
        timestamp: format_rfc3339_nanos(now),
        canary,
        ..AllocDeploymentStatus::default()
    }));
    DeploymentEvent::AllocHealth {
        alloc: update.id.clone(),
        group: update.task_group.clone(),
        healthy,
        canary,
        at: now,
    }
}

/// Whether the allocation's group keeps allocations through a client
/// disconnect (`disconnect.lost_after` or `max_client_disconnect`).
fn tolerates_disconnect(alloc: &Allocation) -> bool {
    alloc
        .job
        .as_ref()
        .and_then(|j| j.lookup_task_group(&alloc.task_group))
        .is_some_and(|g| {
            g.disconnect
                .as_ref()
                .and_then(|d| d.lost_after)
                .is_some_and(|d| !d.is_zero())
                || g.max_client_disconnect.is_some_and(|d| !d.is_zero())
        })
}
