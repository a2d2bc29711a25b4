//! Reconciliation building blocks: how a job update touches running
//! allocations ([`update_kind`]), and when a failed allocation is
//! rescheduled ([`reschedule`]). Both are pure functions of the model and
//! `now`; the reconciler that uses them to compute place / stop / update /
//! migrate sets comes next (until then `scheduler::generic` does a simple
//! count reconciliation).

pub mod reschedule;
pub mod update_kind;
