//! Reconciliation building blocks: where each allocation stands
//! ([`classify`]), how a job update touches running allocations
//! ([`update_kind`]), when a failed allocation is rescheduled
//! ([`reschedule`]), and how a deployment progresses
//! ([`deployment_progress`]). All are pure functions of the model and
//! `now`; the reconciler that uses them to compute place / stop / update /
//! migrate sets comes next (until then `scheduler::generic` does a simple
//! count reconciliation).

pub mod classify;
pub mod deployment_progress;
pub mod drain;
pub mod reconciler;
pub mod reschedule;
pub mod update_kind;
