//! The leader's evaluation queues, as pure state machines: the
//! [`EvalBroker`] hands evaluations to scheduler workers, and
//! [`BlockedEvals`] holds evaluations that could not place everything until
//! capacity they could use appears.
//!
//! Both follow Nomad's `eval_broker.go` and `blocked_evals.go`, without
//! their timers, goroutines or random tokens:
//!
//! - **Time is an argument.** Every method that needs the time takes `now`
//!   (Unix nanoseconds). Nothing happens between calls: the runtime asks
//!   [`EvalBroker::next_deadline`] when the broker next has work (a delayed
//!   evaluation coming due, a delivery timing out), sleeps until then and
//!   calls [`EvalBroker::tick`].
//! - **Outputs are values.** What Nomad's broker does on the side (cancel
//!   superseded evaluations, hand failed ones to the leader, re-enqueue
//!   unblocked ones) comes back to the caller as return values or drains
//!   ([`EvalBroker::take_failed`], [`EvalBroker::take_cancelable`]); the
//!   caller writes them to the state store.
//! - **Same inputs, same outputs.** Queues are ordered collections, ties are
//!   broken by evaluation id, and delivery tokens and follow-up evaluation
//!   ids are derived from their inputs with SHA-256, never drawn at random.
//!
//! ```text
//!  enqueue ──► delayed ──(tick)──┐
//!     │                          ▼
//!     └──────────────────────► ready ◄── pending (one job's later evals)
//!                                │ dequeue        ▲ ack promotes the newest,
//!                                ▼                │ the rest are cancelable
//!                             unacked ── ack ─────┘
//!                                │ nack / timeout
//!                                ├──► delayed (1s, then 20s)
//!                                └──► failed (delivery limit) ── take_failed
//! ```

mod blocked;
mod eval_broker;
#[cfg(test)]
mod tests;

pub use blocked::{BlockOutcome, BlockStatus, BlockedEvals, BlockedStats};
pub use eval_broker::{
    AckOutcome, BrokerConfig, BrokerError, BrokerStats, Delivery, Enqueued, EvalBroker,
    EvalLocation, SchedulerStats, failed_follow_up, failed_update,
};

use sha2::{Digest, Sha256};

use crate::model::{Evaluation, JobId, Namespace};

/// A job across namespaces: the unit of "one evaluation in flight".
pub(crate) type JobKey = (Namespace, JobId);

/// The job an evaluation is for.
pub(crate) fn job_key(eval: &Evaluation) -> JobKey {
    (eval.namespace.clone(), eval.job_id.clone())
}

/// A UUID (version 4 layout) derived from a domain and parts, so ids the
/// broker makes are the same on every replay. Parts are length-prefixed so
/// that no two different part lists hash alike.
pub(crate) fn derived_uuid(domain: &[u8], parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(domain);
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    let digest: [u8; 32] = hasher.finalize().into();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}
