//! An allocation's health for a deployment, as the client judges it from
//! the `update` block: `health_check = "checks"` (every task running and
//! every check passing) or `"task_states"` (every task running), held for
//! `min_healthy_time`, before `healthy_deadline` runs out from the
//! allocation's start; a task that fails or restarts makes it unhealthy.
//! `"manual"` leaves the verdict to the operator.
//!
//! Pure: the caller feeds observations with their time (Unix nanoseconds)
//! and asks again at the time the tracker names.

use crate::model::UpdateStrategy;

/// What the tracker concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllocHealth {
    /// Not decided; ask again at this time (Unix nanoseconds) or on the
    /// next observation.
    Pending {
        /// When the verdict can change without a new observation.
        recheck_at: i64,
    },
    /// Healthy: the deployment may count it.
    Healthy,
    /// Unhealthy, with why.
    Unhealthy {
        /// Why, for the deployment's status description.
        reason: String,
    },
    /// `health_check = "manual"`: decided through the API.
    Manual,
}

/// What the client observes of the allocation at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Observation {
    /// Every main task runs.
    pub all_running: bool,
    /// Every check passes (true when the allocation has none).
    pub checks_passing: bool,
    /// A task failed or was restarted since the allocation started.
    pub task_failed_or_restarted: bool,
}

/// Tracks one allocation's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocHealthTracker {
    mode: String,
    min_healthy: i64,
    deadline_at: i64,
    /// Since when the allocation has looked healthy without a break.
    healthy_since: Option<i64>,
    verdict: Option<AllocHealth>,
}

const SECOND: i64 = 1_000_000_000;

impl AllocHealthTracker {
    /// A tracker for an allocation that started at `started_at`, judged by
    /// `update` (Nomad's defaults where unset: checks, 10s, 5m).
    pub fn new(update: &UpdateStrategy, started_at: i64) -> Self {
        let nanos = |d: Option<crate::model::Duration>, default: i64| {
            d.map_or(default, |d| d.as_nanos().max(0))
        };
        AllocHealthTracker {
            mode: update
                .health_check
                .clone()
                .unwrap_or_else(|| "checks".to_owned()),
            min_healthy: nanos(update.min_healthy_time, 10 * SECOND),
            deadline_at: started_at.saturating_add(nanos(update.healthy_deadline, 300 * SECOND)),
            healthy_since: None,
            verdict: None,
        }
    }

    /// Takes an observation at `now`; the verdict so far. Once healthy or
    /// unhealthy, the verdict stays.
    pub fn observe(&mut self, now: i64, seen: Observation) -> AllocHealth {
        if let Some(verdict) = &self.verdict {
            return verdict.clone();
        }
        if self.mode == "manual" {
            return AllocHealth::Manual;
        }
        if seen.task_failed_or_restarted {
            return self.decide(AllocHealth::Unhealthy {
                reason: "a task failed or was restarted".to_owned(),
            });
        }
        let looks_healthy = seen.all_running && (self.mode != "checks" || seen.checks_passing);
        if looks_healthy {
            let since = *self.healthy_since.get_or_insert(now);
            if now.saturating_sub(since) >= self.min_healthy {
                return self.decide(AllocHealth::Healthy);
            }
        } else {
            self.healthy_since = None;
        }
        if now >= self.deadline_at {
            return self.decide(AllocHealth::Unhealthy {
                reason: "healthy deadline reached".to_owned(),
            });
        }
        let recheck_at = match self.healthy_since {
            Some(since) => since.saturating_add(self.min_healthy).min(self.deadline_at),
            None => self.deadline_at,
        };
        AllocHealth::Pending { recheck_at }
    }

    fn decide(&mut self, verdict: AllocHealth) -> AllocHealth {
        self.verdict = Some(verdict.clone());
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Duration;

    fn update(mode: &str, min_secs: i64, deadline_secs: i64) -> UpdateStrategy {
        UpdateStrategy {
            health_check: Some(mode.to_owned()),
            min_healthy_time: Some(Duration::from_secs(min_secs)),
            healthy_deadline: Some(Duration::from_secs(deadline_secs)),
            ..UpdateStrategy::default()
        }
    }

    const UP: Observation = Observation {
        all_running: true,
        checks_passing: true,
        task_failed_or_restarted: false,
    };

    #[test]
    fn healthy_after_min_healthy_time_without_a_break() {
        let mut tracker = AllocHealthTracker::new(&update("checks", 10, 60), 0);
        assert_eq!(
            tracker.observe(SECOND, UP),
            AllocHealth::Pending {
                recheck_at: 11 * SECOND
            }
        );
        // A failing check restarts the clock.
        let failing = Observation {
            checks_passing: false,
            ..UP
        };
        assert!(matches!(
            tracker.observe(5 * SECOND, failing),
            AllocHealth::Pending { .. }
        ));
        assert!(matches!(
            tracker.observe(6 * SECOND, UP),
            AllocHealth::Pending { .. }
        ));
        assert!(matches!(
            tracker.observe(15 * SECOND, UP),
            AllocHealth::Pending { .. }
        ));
        assert_eq!(tracker.observe(16 * SECOND, UP), AllocHealth::Healthy);
        // It stays healthy.
        assert_eq!(tracker.observe(17 * SECOND, failing), AllocHealth::Healthy);
    }

    #[test]
    fn task_states_mode_ignores_checks_and_the_deadline_makes_it_unhealthy() {
        let mut by_tasks = AllocHealthTracker::new(&update("task_states", 1, 60), 0);
        let checks_down = Observation {
            checks_passing: false,
            ..UP
        };
        by_tasks.observe(0, checks_down);
        assert_eq!(by_tasks.observe(SECOND, checks_down), AllocHealth::Healthy);

        let mut late = AllocHealthTracker::new(&update("checks", 10, 20), 0);
        assert!(
            matches!(late.observe(15 * SECOND, UP), AllocHealth::Pending { recheck_at } if recheck_at == 20 * SECOND)
        );
        assert!(matches!(
            late.observe(20 * SECOND, UP),
            AllocHealth::Unhealthy { .. }
        ));
    }

    #[test]
    fn a_failed_task_is_unhealthy_at_once_and_manual_waits_for_the_operator() {
        let mut tracker = AllocHealthTracker::new(&update("checks", 10, 60), 0);
        let failed = Observation {
            task_failed_or_restarted: true,
            ..UP
        };
        assert!(matches!(
            tracker.observe(SECOND, failed),
            AllocHealth::Unhealthy { .. }
        ));
        let mut manual = AllocHealthTracker::new(&update("manual", 10, 60), 0);
        assert_eq!(manual.observe(100 * SECOND, UP), AllocHealth::Manual);
    }
}
