//! Reconciliation: what to do with a job's allocations. The
//! [`reconciler`] decides, per task group, what to place, stop, update in
//! place or replace, using the building blocks: where each allocation
//! stands ([`classify`]), how a job update touches running allocations
//! ([`update_kind`]) and when a failed allocation is rescheduled
//! ([`reschedule`]). Two control loops of the servers live here as pure
//! state machines too: how a deployment progresses
//! ([`deployment_progress`]) and which allocations a node drain moves next
//! ([`drain`]). All are pure functions of the model and `now`.

pub mod classify;
pub mod deployment_progress;
pub mod drain;
pub mod reconciler;
pub mod reschedule;
pub mod update_kind;
