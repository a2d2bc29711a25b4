//! The client's restart policy for a task (the `restart` block): whether
//! and when a task that exited runs again in place.
//!
//! Pure: the caller passes the time of each exit (Unix nanoseconds) and
//! sleeps for the delay it gets back.
//!
//! - A batch task that exits successfully is complete; any other exit
//!   (and a service task's exit, successful or not) counts as a restart.
//! - Restarts are counted within `interval`, from the first restart of
//!   the window; a window that has passed starts over.
//! - With `attempts` used up, mode `fail` gives up (the task is dead and
//!   failed, and the scheduler may reschedule the allocation); mode
//!   `delay` waits until the window ends and starts a new one.

use std::time::Duration;

use crate::model::{JobType, RestartPolicy};

/// What to do after a task exited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestartDecision {
    /// Start it again after this delay.
    Restart {
        /// How long to wait first.
        after: Duration,
        /// Why, for the task event (`Restart within policy`, ...).
        reason: String,
    },
    /// It finished its work (a batch task that exited 0).
    Complete,
    /// Give up: the task is dead and failed.
    Fail {
        /// Why, for the task event.
        reason: String,
    },
}

/// Counts a task's restarts against its policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestartTracker {
    attempts: u64,
    interval: Duration,
    delay: Duration,
    fail_mode: bool,
    batch: bool,
    /// Restarts in the current window.
    count: u64,
    /// When the current window started (Unix nanoseconds).
    window_start: Option<i64>,
}

fn to_std(duration: crate::model::Duration) -> Duration {
    Duration::from_nanos(duration.as_nanos().max(0) as u64)
}

impl RestartTracker {
    /// A tracker for `policy` (unset fields take Nomad's defaults for the
    /// job type).
    pub fn new(policy: &RestartPolicy, job_type: &JobType) -> Self {
        let defaults = RestartPolicy::defaults_for(job_type);
        let attempts = policy.attempts.or(defaults.attempts).unwrap_or(2).max(0) as u64;
        let interval = policy
            .interval
            .or(defaults.interval)
            .map_or(Duration::from_secs(30 * 60), to_std);
        let delay = policy
            .delay
            .or(defaults.delay)
            .map_or(Duration::from_secs(15), to_std);
        let mode = policy
            .mode
            .clone()
            .or(defaults.mode)
            .unwrap_or_else(|| "fail".to_owned());
        RestartTracker {
            attempts,
            interval,
            delay,
            fail_mode: mode != "delay",
            batch: matches!(job_type, JobType::Batch | JobType::Sysbatch),
            count: 0,
            window_start: None,
        }
    }

    /// Restarts in the current window.
    pub fn restarts_in_window(&self) -> u64 {
        self.count
    }

    /// The decision for an exit at `now` (Unix nanoseconds).
    pub fn on_exit(&mut self, now: i64, successful: bool) -> RestartDecision {
        if successful && self.batch {
            return RestartDecision::Complete;
        }
        let interval = i64::try_from(self.interval.as_nanos()).unwrap_or(i64::MAX);
        let window_start = match self.window_start {
            Some(start) if now.saturating_sub(start) < interval => start,
            _ => {
                self.count = 0;
                self.window_start = Some(now);
                now
            }
        };
        if self.count >= self.attempts {
            if self.fail_mode {
                return RestartDecision::Fail {
                    reason: format!(
                        "Exceeded allowed attempts {} in interval {:?} and mode is \"fail\"",
                        self.attempts, self.interval
                    ),
                };
            }
            // Mode delay: wait out the window, then a new one begins.
            let left = window_start
                .saturating_add(interval)
                .saturating_sub(now)
                .max(0);
            self.count = 1;
            self.window_start = Some(now.saturating_add(left));
            return RestartDecision::Restart {
                after: Duration::from_nanos(left as u64).max(self.delay),
                reason: format!(
                    "Exceeded allowed attempts {} in interval {:?} and mode is \"delay\"",
                    self.attempts, self.interval
                ),
            };
        }
        self.count += 1;
        RestartDecision::Restart {
            after: self.delay,
            reason: "Restart within policy".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Duration as ModelDuration;

    const SECOND: i64 = 1_000_000_000;

    fn policy(attempts: i64, interval_secs: i64, delay_secs: i64, mode: &str) -> RestartPolicy {
        RestartPolicy {
            attempts: Some(attempts),
            interval: Some(ModelDuration::from_secs(interval_secs)),
            delay: Some(ModelDuration::from_secs(delay_secs)),
            mode: Some(mode.to_owned()),
            render_templates: None,
        }
    }

    #[test]
    fn mode_fail_restarts_up_to_attempts_then_gives_up() {
        let mut tracker = RestartTracker::new(&policy(2, 60, 1, "fail"), &JobType::Service);
        for at in [0, 2, 4] {
            let decision = tracker.on_exit(at * SECOND, false);
            if at < 4 {
                assert_eq!(
                    decision,
                    RestartDecision::Restart {
                        after: Duration::from_secs(1),
                        reason: "Restart within policy".to_owned()
                    }
                );
            } else {
                assert!(
                    matches!(decision, RestartDecision::Fail { .. }),
                    "{decision:?}"
                );
            }
        }
    }

    #[test]
    fn a_passed_interval_starts_a_new_window() {
        let mut tracker = RestartTracker::new(&policy(1, 10, 1, "fail"), &JobType::Service);
        assert!(matches!(
            tracker.on_exit(0, false),
            RestartDecision::Restart { .. }
        ));
        assert!(matches!(
            tracker.on_exit(11 * SECOND, false),
            RestartDecision::Restart { .. }
        ));
        assert!(matches!(
            tracker.on_exit(12 * SECOND, false),
            RestartDecision::Fail { .. }
        ));
    }

    #[test]
    fn mode_delay_waits_for_the_window_to_end() {
        let mut tracker = RestartTracker::new(&policy(1, 30, 2, "delay"), &JobType::Service);
        assert!(matches!(
            tracker.on_exit(0, false),
            RestartDecision::Restart { .. }
        ));
        match tracker.on_exit(5 * SECOND, false) {
            RestartDecision::Restart { after, .. } => assert_eq!(after, Duration::from_secs(25)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_batch_task_that_succeeds_is_complete_and_a_service_task_is_restarted() {
        let mut batch = RestartTracker::new(&policy(3, 60, 1, "fail"), &JobType::Batch);
        assert_eq!(batch.on_exit(0, true), RestartDecision::Complete);
        let mut service = RestartTracker::new(&policy(3, 60, 1, "fail"), &JobType::Service);
        assert!(matches!(
            service.on_exit(0, true),
            RestartDecision::Restart { .. }
        ));
    }
}
