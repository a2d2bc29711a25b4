//! Evaluations the simulators create on a user's behalf, with ids derived
//! from the seed and a counter so runs replay exactly.

use sha2::{Digest, Sha256};

use crate::model::{EvalId, EvalStatus, EvalTrigger, Evaluation, Job, Namespace};

/// A pending evaluation of `job` at `now`. Its id is a UUID made from
/// `domain` (which simulator), the seed and the counter.
pub(crate) fn pending_evaluation(
    domain: &[u8],
    seed: u64,
    counter: u64,
    job: &Job,
    trigger: EvalTrigger,
    now: i64,
) -> Evaluation {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    hasher.update(seed.to_le_bytes());
    hasher.update(counter.to_le_bytes());
    let digest: [u8; 32] = hasher.finalize().into();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    Evaluation {
        id: EvalId::new(
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string(),
        ),
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
