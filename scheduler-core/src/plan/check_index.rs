//! The job modify index check of `nomad job run -check-index N`, shared by
//! every front end.
//!
//! `job plan` prints the registered job's modify index (0 when the job does
//! not exist); passing it back to `job run` registers the job only if no one
//! changed it in between, a check-and-set on the job:
//!
//! - index 0 means "the job must not exist yet";
//! - a non-zero index means "the job must exist with exactly this
//!   `job_modify_index`".

use thiserror::Error;

use crate::model::Job;

/// The index a plan reports for `-check-index`: the current job's
/// `job_modify_index`, or 0 when the job does not exist.
pub fn plan_check_index(current: Option<&Job>) -> u64 {
    current.map_or(0, |job| job.job_modify_index)
}

/// Why a registration with `-check-index` was refused. Every message starts
/// with `Enforcing job modify index N: `.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CheckIndexError {
    /// Index 0 asks for a new job, but a job with this ID is registered.
    #[error("Enforcing job modify index 0: job already exists")]
    JobExists,
    /// A non-zero index asks for an existing job, but there is none.
    #[error("Enforcing job modify index {check_index}: job does not exist")]
    JobMissing {
        /// The index given.
        check_index: u64,
    },
    /// The job exists but was modified at another index.
    #[error(
        "Enforcing job modify index {check_index}: job exists with conflicting job modify index: {current}"
    )]
    Conflict {
        /// The index given.
        check_index: u64,
        /// The registered job's `job_modify_index`.
        current: u64,
    },
}

/// Checks `check_index` against the registered job (`current`): Ok when 0
/// is given and the job does not exist, or when the job exists with exactly
/// that `job_modify_index`.
pub fn enforce_check_index(current: Option<&Job>, check_index: u64) -> Result<(), CheckIndexError> {
    match (current, check_index) {
        (None, 0) => Ok(()),
        (Some(_), 0) => Err(CheckIndexError::JobExists),
        (None, check_index) => Err(CheckIndexError::JobMissing { check_index }),
        (Some(job), check_index) if job.job_modify_index == check_index => Ok(()),
        (Some(job), check_index) => Err(CheckIndexError::Conflict {
            check_index,
            current: job.job_modify_index,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job_at(index: u64) -> Job {
        Job {
            job_modify_index: index,
            ..Job::default()
        }
    }

    #[test]
    fn plan_reports_zero_for_a_new_job() {
        assert_eq!(plan_check_index(None), 0);
        assert_eq!(plan_check_index(Some(&job_at(42))), 42);
    }

    #[test]
    fn zero_accepts_only_a_new_job() {
        assert_eq!(enforce_check_index(None, 0), Ok(()));
        let err = enforce_check_index(Some(&job_at(7)), 0).unwrap_err();
        assert_eq!(err, CheckIndexError::JobExists);
        assert_eq!(
            err.to_string(),
            "Enforcing job modify index 0: job already exists"
        );
    }

    #[test]
    fn non_zero_needs_an_existing_job() {
        let err = enforce_check_index(None, 5).unwrap_err();
        assert_eq!(err, CheckIndexError::JobMissing { check_index: 5 });
        assert_eq!(
            err.to_string(),
            "Enforcing job modify index 5: job does not exist"
        );
    }

    #[test]
    fn non_zero_needs_the_same_index() {
        assert_eq!(enforce_check_index(Some(&job_at(7)), 7), Ok(()));
        let err = enforce_check_index(Some(&job_at(7)), 5).unwrap_err();
        assert_eq!(
            err,
            CheckIndexError::Conflict {
                check_index: 5,
                current: 7
            }
        );
        assert_eq!(
            err.to_string(),
            "Enforcing job modify index 5: job exists with conflicting job modify index: 7"
        );
    }

    #[test]
    fn the_plan_index_round_trips() {
        for current in [None, Some(job_at(1)), Some(job_at(99))] {
            let index = plan_check_index(current.as_ref());
            assert_eq!(enforce_check_index(current.as_ref(), index), Ok(()));
        }
    }
}
