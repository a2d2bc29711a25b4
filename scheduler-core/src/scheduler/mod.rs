//! The scheduler: [`schedule`] turns a snapshot, an evaluation and an
//! environment (time and seed) into a plan.
//!
//! # Pipeline
//! For each allocation to place: the job's base nodes (ready, eligible, in
//! its datacenters and pool; [`candidates`]) in a seeded order → node-local
//! feasibility memoised per computed class ([`feasible`]) → placement rules
//! (`distinct_hosts`, `distinct_property`; [`proposed`]) → resource fit
//! ([`crate::feasibility::fit`]), devices and ports → scoring
//! ([`crate::ranking`]) → the best of the first `k` usable nodes
//! ([`select`]). Failures carry Nomad's metrics plus a one-line
//! explanation ([`explain`]).
//!
//! # Determinism
//! Every random choice (node order, dynamic ports, ids) comes from streams
//! seeded by [`SchedulerEnv::seed`], the evaluation id and the snapshot
//! index; every collection is ordered. The same inputs give the same
//! [`SchedulerResult`], byte for byte once serialised.

pub mod blocked;
pub mod candidates;
pub mod config;
pub mod explain;
pub mod feasible;
mod generic;
mod node_map;
pub mod preempt;
pub mod proposed;
pub mod result;
mod run;
pub mod select;
mod system;

pub use config::{NodePool, SchedulerAlgorithm, SchedulerConfiguration};
pub use explain::{NodeVerdict, why_not};
pub use generic::name_index;
pub use result::{DesiredUpdates, PlacementFailure, Plan, PlanAnnotations, SchedulerResult};

use crate::model::{Evaluation, JobType};
use crate::state::StateSnapshot;

/// What the scheduler takes from the world besides state: the time and the
/// seed. There is no default seed on purpose: a caller decides how runs
/// replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerEnv {
    /// Now, in Unix nanoseconds (stamped on allocations and evaluations).
    pub now: i64,
    /// Seed of every random choice.
    pub seed: u64,
}

/// Processes one evaluation against a snapshot.
///
/// Looks the evaluation's job up in the snapshot (a missing or stopped job
/// stops its allocations), brings every task group to its count and
/// returns the plan, the processed evaluation, a blocked evaluation when
/// some placements failed, and the failures with explanations. Nothing is
/// applied: the caller checks and commits the plan.
pub fn schedule(
    snapshot: &dyn StateSnapshot,
    eval: &Evaluation,
    env: &SchedulerEnv,
) -> SchedulerResult {
    let job = snapshot.job(eval.namespace.as_str(), &eval.job_id);
    let mut run = run::Run::new(snapshot, eval, env);
    let job_type = job.map_or_else(
        || JobType::parse(&eval.eval_type),
        |job| job.job_type.clone(),
    );
    match job_type {
        JobType::System | JobType::Sysbatch => system::schedule_system(&mut run, job),
        _ => generic::schedule_generic(&mut run, job),
    }
    run.finish(job)
}
