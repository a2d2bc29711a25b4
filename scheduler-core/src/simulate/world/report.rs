//! What a scenario run reports: per step the plans' effects and the
//! deployments, then every allocation. Serialised with Nomad's API field
//! names; [`ScenarioReport::render_table`] prints the same for people.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Serialize;

use super::short;
use crate::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, Allocation, Deployment, JobId,
    NodeId,
};
use crate::plan::PlanResult;
use crate::scheduler::SchedulerResult;
use crate::state::StateSnapshot;

/// A whole run.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ScenarioReport {
    /// One entry per step, in order.
    pub steps: Vec<StepReport>,
    /// Every allocation at the end, by job, name index, then age.
    pub allocations: Vec<AllocationSummary>,
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepReport {
    /// The step kind.
    pub step: String,
    /// Its line in the scenario file.
    pub line: usize,
    /// Virtual time after the step, since the start (`+1m30s`).
    pub time: String,
    /// Evaluations processed.
    pub evaluations: u32,
    /// The effects of the plans applied (or, for `plan`, proposed).
    pub plan: StepPlan,
    /// The latest deployment of the job the step is about (the first job
    /// it touched), if that job has one.
    pub deployment: Option<DeploymentSummary>,
    /// The latest deployment of each job the step touched.
    pub deployments: Vec<DeploymentSummary>,
    /// For `plan`: the annotated diff, as `job plan` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    /// For `plan`: the index to pass to `register`'s `check_index`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check_index: Option<u64>,
    /// Things worth knowing: failures of health, promotions, rollbacks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    #[serde(skip)]
    pub(super) jobs_touched: BTreeSet<(String, JobId)>,
    #[serde(skip)]
    pub(super) first_job: Option<(String, JobId)>,
}

/// The effects of plans.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct StepPlan {
    /// New allocations.
    pub placed: Vec<PlanEntry>,
    /// Allocations updated in place (same id, new job version).
    pub updated: Vec<PlanEntry>,
    /// Allocations stopped, with why.
    pub stopped: Vec<PlanEntry>,
    /// Allocations evicted for higher-priority work, with why.
    pub preempted: Vec<PlanEntry>,
    /// Allocations whose client disconnected, now `unknown`.
    pub disconnected: Vec<PlanEntry>,
    /// Placements that failed, per `JOB/GROUP`: how many and why.
    #[serde(rename = "FailedTGAllocs")]
    pub failed: BTreeMap<String, FailedPlacement>,
}

/// One allocation in a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PlanEntry {
    /// Allocation id.
    #[serde(rename = "ID")]
    pub id: String,
    /// `job.group[i]`.
    pub name: String,
    /// Node name.
    pub node_name: String,
    /// Job version it runs (for placements and updates).
    pub job_version: u64,
    /// Whether it is a canary.
    pub canary: bool,
    /// Why it was stopped or evicted.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Failed placements of a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct FailedPlacement {
    /// How many could not be placed.
    pub unplaced: u32,
    /// One-line explanation.
    pub explanation: String,
}

/// A deployment, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentSummary {
    /// Deployment id.
    #[serde(rename = "ID")]
    pub id: String,
    /// The job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The version it deploys.
    pub job_version: u64,
    /// running, paused, successful, failed, cancelled.
    pub status: String,
    /// Nomad's description.
    pub status_description: String,
    /// Per group: desired, placed, healthy, unhealthy, canaries.
    pub task_groups: BTreeMap<String, DeploymentGroupSummary>,
}

/// A deployment's progress in one group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeploymentGroupSummary {
    /// Allocations wanted.
    pub desired_total: u32,
    /// Canaries wanted.
    pub desired_canaries: u32,
    /// Allocations placed.
    pub placed_allocs: u32,
    /// Healthy allocations.
    pub healthy_allocs: u32,
    /// Unhealthy allocations.
    pub unhealthy_allocs: u32,
    /// Whether canaries were promoted.
    pub promoted: bool,
}

/// An allocation at the end of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationSummary {
    /// Allocation id.
    #[serde(rename = "ID")]
    pub id: String,
    /// `job.group[i]`.
    pub name: String,
    /// The job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// Its group.
    pub task_group: String,
    /// Node name.
    pub node_name: String,
    /// run, stop or evict.
    pub desired_status: AllocDesiredStatus,
    /// pending, running, complete, failed, lost, unknown.
    pub client_status: AllocClientStatus,
    /// The job version it runs.
    pub job_version: u64,
    /// Deployment health, when reported or a canary.
    pub deployment_status: Option<AllocDeploymentStatus>,
}

impl AllocationSummary {
    pub(super) fn of(alloc: &Allocation) -> Self {
        AllocationSummary {
            id: alloc.id.as_str().to_owned(),
            name: alloc.name.clone(),
            job_id: alloc.job_id.as_str().to_owned(),
            task_group: alloc.task_group.clone(),
            node_name: alloc.node_name.clone(),
            desired_status: alloc.desired_status,
            client_status: alloc.client_status,
            job_version: alloc.job.as_ref().map_or(0, |j| j.version),
            deployment_status: alloc.deployment_status.as_deref().cloned(),
        }
    }
}

impl DeploymentSummary {
    pub(super) fn of(d: &Deployment) -> Self {
        DeploymentSummary {
            id: d.id.as_str().to_owned(),
            job_id: d.job_id.as_str().to_owned(),
            job_version: d.job_version,
            status: serde_json::to_value(d.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            status_description: d.status_description.clone(),
            task_groups: d
                .task_groups
                .iter()
                .map(|(name, s)| {
                    (
                        name.clone(),
                        DeploymentGroupSummary {
                            desired_total: s.desired_total,
                            desired_canaries: s.desired_canaries,
                            placed_allocs: s.placed_allocs,
                            healthy_allocs: s.healthy_allocs,
                            unhealthy_allocs: s.unhealthy_allocs,
                            promoted: s.promoted,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl StepReport {
    pub(super) fn new(step: &str, line: usize) -> Self {
        StepReport {
            step: step.to_owned(),
            line,
            ..StepReport::default()
        }
    }

    /// Notes that the step touched a job (the first one is its own).
    pub(super) fn touch(&mut self, key: (String, JobId)) {
        if self.first_job.is_none() {
            self.first_job = Some(key.clone());
        }
        self.jobs_touched.insert(key);
    }

    /// Records what the plan check accepted of an evaluation's plan.
    pub(super) fn record_plan(
        &mut self,
        accepted: &PlanResult,
        result: &SchedulerResult,
        state: &dyn StateSnapshot,
    ) {
        // After the apply, the store knows each allocation's version.
        let version = |alloc: &Allocation| {
            state
                .alloc(&alloc.id)
                .and_then(|a| a.job.as_ref())
                .map_or(0, |j| j.version)
        };
        self.record_effects(
            &accepted.node_allocation,
            &accepted.node_update,
            &accepted.node_preemptions,
            version,
        );
        self.record_failures(result);
    }

    /// Records a dry run's plan (nothing applied).
    pub(super) fn record_dry_run(&mut self, result: &SchedulerResult) {
        let version = result.plan.job.as_ref().map_or(0, |j| j.version);
        let plan = &result.plan;
        self.record_effects(
            &plan.node_allocation,
            &plan.node_update,
            &plan.node_preemptions,
            |_| version,
        );
        self.record_failures(result);
    }

    fn record_effects(
        &mut self,
        allocations: &BTreeMap<NodeId, Vec<Allocation>>,
        stops: &BTreeMap<NodeId, Vec<Allocation>>,
        preemptions: &BTreeMap<NodeId, Vec<Allocation>>,
        version: impl Fn(&Allocation) -> u64,
    ) {
        for alloc in allocations.values().flatten() {
            // Bookkeeping of existing allocations is not an effect worth
            // listing, except marking a disconnected client's allocation
            // `unknown`; in-place updates (which carry the job) are.
            if alloc.create_index != 0 {
                if alloc.job.is_some() {
                    self.plan.updated.push(entry(alloc, version(alloc), ""));
                } else if alloc.client_status == AllocClientStatus::Unknown
                    && alloc.desired_status == AllocDesiredStatus::Run
                {
                    self.plan
                        .disconnected
                        .push(entry(alloc, version(alloc), ""));
                }
                continue;
            }
            self.plan.placed.push(entry(alloc, version(alloc), ""));
        }
        for alloc in stops.values().flatten() {
            self.plan
                .stopped
                .push(entry(alloc, 0, &alloc.desired_description));
        }
        for alloc in preemptions.values().flatten() {
            self.plan
                .preempted
                .push(entry(alloc, 0, &alloc.desired_description));
        }
    }

    fn record_failures(&mut self, result: &SchedulerResult) {
        for failure in &result.failures {
            let key = format!(
                "{}/{}",
                result.eval_update.job_id.as_str(),
                failure.task_group
            );
            self.plan.failed.insert(
                key,
                FailedPlacement {
                    unplaced: failure.unplaced,
                    explanation: failure.metric.explanation.clone(),
                },
            );
        }
    }
}

fn entry(alloc: &Allocation, version: u64, description: &str) -> PlanEntry {
    PlanEntry {
        id: alloc.id.as_str().to_owned(),
        name: alloc.name.clone(),
        node_name: alloc.node_name.clone(),
        job_version: version,
        canary: alloc.is_canary(),
        description: description.to_owned(),
    }
}

impl ScenarioReport {
    /// The report as text: each step's effects, then the allocations.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        for (number, step) in self.steps.iter().enumerate() {
            let _ = writeln!(
                out,
                "== step {} {:?} (line {}) at {}: {} evaluation(s)",
                number + 1,
                step.step,
                step.line,
                step.time,
                step.evaluations
            );
            let plan = &step.plan;
            entries(&mut out, "place", &plan.placed, |e| {
                let canary = if e.canary { " canary" } else { "" };
                format!(" (v{}{canary})", e.job_version)
            });
            entries(&mut out, "update", &plan.updated, |e| {
                format!(" (in place to v{})", e.job_version)
            });
            entries(&mut out, "stop", &plan.stopped, |e| {
                format!(": {}", e.description)
            });
            entries(&mut out, "preempt", &plan.preempted, |e| {
                format!(": {}", e.description)
            });
            entries(&mut out, "unknown", &plan.disconnected, |_| {
                ": client disconnected".to_owned()
            });
            for (group, failed) in &plan.failed {
                let _ = writeln!(
                    out,
                    "  unplaced {group}: {} ({})",
                    failed.unplaced, failed.explanation
                );
            }
            for d in &step.deployments {
                let _ = writeln!(
                    out,
                    "  deployment {} {} v{}: {} ({})",
                    short(&d.id),
                    d.job_id,
                    d.job_version,
                    d.status,
                    d.status_description
                );
                for (group, g) in &d.task_groups {
                    let canaries = if g.desired_canaries > 0 {
                        format!(
                            ", canaries {}{}",
                            g.desired_canaries,
                            if g.promoted { " promoted" } else { "" }
                        )
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        out,
                        "    {group}: desired {}, placed {}, healthy {}, unhealthy {}{canaries}",
                        g.desired_total, g.placed_allocs, g.healthy_allocs, g.unhealthy_allocs
                    );
                }
            }
            for note in &step.notes {
                let _ = writeln!(out, "  note: {note}");
            }
            if let Some(diff) = &step.diff {
                for line in diff.lines() {
                    let _ = writeln!(out, "  | {line}");
                }
            }
            if let Some(index) = step.check_index {
                let _ = writeln!(out, "  check index: {index}");
            }
        }
        let _ = writeln!(out, "\nAllocations");
        let _ = writeln!(
            out,
            "{:<8}  {:<24} {:<12} {:<8} {:<8} {:>7}  Health",
            "ID", "Name", "Node", "Desired", "Status", "Version"
        );
        for a in &self.allocations {
            let health = match &a.deployment_status {
                Some(s) => {
                    let h = match s.healthy {
                        Some(true) => "healthy",
                        Some(false) => "unhealthy",
                        None => "-",
                    };
                    if s.canary {
                        format!("{h} (canary)")
                    } else {
                        h.to_owned()
                    }
                }
                None => "-".to_owned(),
            };
            let _ = writeln!(
                out,
                "{:<8}  {:<24} {:<12} {:<8} {:<8} {:>7}  {health}",
                short(&a.id),
                a.name,
                a.node_name,
                status_name(&a.desired_status),
                status_name(&a.client_status),
                a.job_version
            );
        }
        out
    }
}

/// One line per entry, sorted by name then id:
/// `  VERB     NAME ID on NODE<suffix>`.
fn entries(
    out: &mut String,
    verb: &str,
    list: &[PlanEntry],
    suffix: impl Fn(&PlanEntry) -> String,
) {
    let mut sorted: Vec<&PlanEntry> = list.iter().collect();
    sorted.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    for e in sorted {
        let _ = writeln!(
            out,
            "  {verb:<8} {:<24} {} on {}{}",
            e.name,
            short(&e.id),
            e.node_name,
            suffix(e)
        );
    }
}

fn status_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
