//! Evaluations the simulators create on a user's behalf, with ids derived
//! from the seed and a counter so runs replay exactly.

use sha2::{Digest, Sha256};

use crate::model::{EvalId, EvalTrigger, Evaluation, Job};

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
    let id = uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string();
    Evaluation::pending_for(EvalId::new(id), job, trigger, now)
}
