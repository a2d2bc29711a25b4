//! Evaluations the control plane creates on the cluster's behalf.

use scheduler_core::model::{EvalId, EvalStatus, EvalTrigger, Evaluation, Job, Namespace};

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
    Evaluation {
        id: EvalId::new(random_uuid()),
        namespace: Namespace::new(job.namespace.clone()),
        priority: i32::try_from(job.priority()).unwrap_or(50),
        eval_type: job.job_type.as_str().to_owned(),
        triggered_by: trigger,
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        status: EvalStatus::Pending,
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    }
}
