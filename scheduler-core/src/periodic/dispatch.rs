//! `nomad job dispatch`: an instance of a parameterized job, made from a
//! payload and meta.
//!
//! [`dispatch_job`] makes Nomad's checks of a dispatch request and derives
//! the child job; [`find_idempotent_dispatch`] finds an earlier dispatch with
//! the same idempotency token, which the caller returns instead of
//! dispatching again. The caller looks that up first:
//!
//! ```text
//! match find_idempotent_dispatch(children_of(parent), &token) {
//!     Some(existing) => existing,                       // nothing new
//!     None => register(dispatch_job(parent, payload, meta, token, now, seed)?),
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::model::{Job, JobId};

/// The largest payload a dispatch may carry, in bytes (Nomad's
/// `DispatchPayloadSizeLimit`, 16 KiB).
pub const DISPATCH_PAYLOAD_SIZE_LIMIT: usize = 16 * 1024;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Why a dispatch request was refused. The checks run in Nomad's order:
/// the parent, the payload, then meta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DispatchError {
    /// The job has no `parameterized` block.
    #[error(
        "job \"{job_id}\" is not a parameterized job: only jobs with a parameterized block can be dispatched"
    )]
    NotParameterized {
        /// The job asked for.
        job_id: JobId,
    },
    /// The job is itself a dispatched instance.
    #[error(
        "job \"{job_id}\" is a dispatched instance: dispatch its parent \"{parent_id}\" instead"
    )]
    AlreadyDispatched {
        /// The job asked for.
        job_id: JobId,
        /// The parameterized job it was dispatched from.
        parent_id: JobId,
    },
    /// The job is stopped.
    #[error("job \"{job_id}\" is stopped: start it again before dispatching it")]
    Stopped {
        /// The job asked for.
        job_id: JobId,
    },
    /// The job requires a payload and none (or an empty one) was given.
    #[error("job \"{job_id}\" requires a payload and none was given")]
    PayloadRequired {
        /// The job asked for.
        job_id: JobId,
    },
    /// The job forbids a payload and one was given.
    #[error("job \"{job_id}\" forbids a payload and one of {size} bytes was given")]
    PayloadForbidden {
        /// The job asked for.
        job_id: JobId,
        /// The payload's size in bytes.
        size: usize,
    },
    /// The payload is larger than [`DISPATCH_PAYLOAD_SIZE_LIMIT`].
    #[error("the payload is {size} bytes, more than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// Meta keys the job lists in neither `meta_required` nor
    /// `meta_optional`.
    #[error(
        "dispatch meta has keys job \"{job_id}\" does not allow: {}; allowed keys: {}",
        quoted(keys),
        quoted(allowed)
    )]
    UnexpectedMeta {
        /// The job asked for.
        job_id: JobId,
        /// The keys not allowed, sorted.
        keys: Vec<String>,
        /// The keys allowed (required and optional), sorted.
        allowed: Vec<String>,
    },
    /// Keys in the job's `meta_required` that the dispatch did not give.
    #[error("dispatch meta lacks keys job \"{job_id}\" requires: {}", quoted(keys))]
    MissingMeta {
        /// The job asked for.
        job_id: JobId,
        /// The keys missing, sorted.
        keys: Vec<String>,
    },
}

/// `"a", "b"`, or `none` for no keys.
fn quoted(keys: &[String]) -> String {
    if keys.is_empty() {
        return "none".to_owned();
    }
    keys.iter()
        .map(|key| format!("{key:?}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Dispatches `parent`: checks the request as Nomad's `Job.Dispatch` does
/// and derives the child job it registers.
///
/// The parent must be parameterized, not itself dispatched, and not
/// stopped. The payload (`None` and empty are the same: no payload) must
/// agree with the parent's `payload` setting (`optional`, `required`,
/// `forbidden`) and be at most [`DISPATCH_PAYLOAD_SIZE_LIMIT`] bytes; every
/// meta key must be in `meta_required` or `meta_optional`, and every
/// `meta_required` key given.
///
/// The child is a copy of the parent with id and name
/// `<parent>/dispatch-<now in Unix seconds>-<8 hex digits>`, the hex digits
/// from a SHA-256 of `seed`, the parent's namespace and id, `now` and the
/// token, so the same request replays to the same id. It has `parent_id`
/// set, `dispatched` true, the token, the payload (uncompressed; Nomad
/// stores it snappy-compressed), the dispatch meta merged over the
/// parent's, `submit_time` `now` and status `pending`. It keeps the
/// `parameterized` block, as Nomad does.
///
/// Idempotency is the caller's look-up before this call:
/// [`find_idempotent_dispatch`].
pub fn dispatch_job(
    parent: &Job,
    payload: Option<Vec<u8>>,
    meta: BTreeMap<String, String>,
    idempotency_token: String,
    now: i64,
    seed: u64,
) -> Result<Job, DispatchError> {
    let payload = payload.unwrap_or_default();
    check_request(parent, &payload, &meta)?;

    let id = JobId::new(format!(
        "{}/dispatch-{}-{}",
        parent.id,
        now.div_euclid(NANOS_PER_SECOND),
        dispatch_suffix(parent, now, &idempotency_token, seed)
    ));
    let mut merged = parent.meta.clone();
    merged.extend(meta);
    Ok(Job {
        name: id.as_str().to_owned(),
        id,
        parent_id: parent.id.clone(),
        dispatched: true,
        dispatch_idempotency_token: idempotency_token,
        payload,
        meta: merged,
        submit_time: now,
        status: "pending".to_owned(),
        status_description: String::new(),
        ..parent.clone()
    })
}

/// Nomad's `validateDispatchRequest`, after the parent checks.
fn check_request(
    parent: &Job,
    payload: &[u8],
    meta: &BTreeMap<String, String>,
) -> Result<(), DispatchError> {
    let job_id = || parent.id.clone();
    let Some(config) = &parent.parameterized_job else {
        return Err(DispatchError::NotParameterized { job_id: job_id() });
    };
    if parent.dispatched {
        return Err(DispatchError::AlreadyDispatched {
            job_id: job_id(),
            parent_id: parent.parent_id.clone(),
        });
    }
    if parent.stop {
        return Err(DispatchError::Stopped { job_id: job_id() });
    }

    match config.payload.as_str() {
        "required" if payload.is_empty() => {
            return Err(DispatchError::PayloadRequired { job_id: job_id() });
        }
        "forbidden" if !payload.is_empty() => {
            return Err(DispatchError::PayloadForbidden {
                job_id: job_id(),
                size: payload.len(),
            });
        }
        _ => {}
    }
    if payload.len() > DISPATCH_PAYLOAD_SIZE_LIMIT {
        return Err(DispatchError::PayloadTooLarge {
            size: payload.len(),
            limit: DISPATCH_PAYLOAD_SIZE_LIMIT,
        });
    }

    let allowed: BTreeSet<&String> = config
        .meta_required
        .iter()
        .chain(&config.meta_optional)
        .collect();
    let unexpected: Vec<String> = meta
        .keys()
        .filter(|key| !allowed.contains(key))
        .cloned()
        .collect();
    if !unexpected.is_empty() {
        return Err(DispatchError::UnexpectedMeta {
            job_id: job_id(),
            keys: unexpected,
            allowed: allowed.into_iter().cloned().collect(),
        });
    }
    let missing: BTreeSet<&String> = config
        .meta_required
        .iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if !missing.is_empty() {
        return Err(DispatchError::MissingMeta {
            job_id: job_id(),
            keys: missing.into_iter().cloned().collect(),
        });
    }
    Ok(())
}

/// Eight hex digits from a SHA-256 of the seed and the request. Strings are
/// length-prefixed so no two requests hash the same bytes.
fn dispatch_suffix(parent: &Job, now: i64, token: &str, seed: u64) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"scheduler-core/periodic/dispatch");
    hasher.update(seed.to_le_bytes());
    for text in [parent.namespace.as_str(), parent.id.as_str(), token] {
        hasher.update((text.len() as u64).to_le_bytes());
        hasher.update(text.as_bytes());
    }
    hasher.update(now.to_le_bytes());
    let digest = hasher.finalize();
    digest[..4].iter().fold(String::new(), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// The earlier dispatch that a request with `token` should return instead
/// of dispatching again: the first of `children` (the parent's dispatched
/// children) with the same idempotency token that is not dead. An empty
/// token never matches, as in Nomad.
pub fn find_idempotent_dispatch<'a>(
    mut children: impl Iterator<Item = &'a Job>,
    token: &str,
) -> Option<&'a Job> {
    if token.is_empty() {
        return None;
    }
    children.find(|child| child.dispatch_idempotency_token == token && child.status != "dead")
}
