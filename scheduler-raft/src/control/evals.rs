//! Evaluations the control plane creates on the cluster's behalf.

use scheduler_core::model::{EvalId, EvalTrigger, Evaluation, Job};

/// A random version-4 UUID (the servers' ids for new objects).
pub(crate) fn random_uuid() -> String {
    let high = crate::clock::random_u64().to_be_bytes();
    let low = crate::clock::random_u64().to_be_bytes();
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&high);
    bytes[8..].copy_from_slice(&low);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// A pending evaluation of `job`, created at `now` (Unix nanoseconds), with
/// a new random id: what `job run`, a node event or a follow-up enqueues.
pub fn new_evaluation(job: &Job, trigger: EvalTrigger, now: i64) -> Evaluation {
    Evaluation::pending_for(EvalId::new(random_uuid()), job, trigger, now)
}
