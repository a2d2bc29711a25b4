//! Lifecycle policies of a group: how it is updated, restarted, rescheduled,
//! migrated, how it behaves when its node disconnects, its ephemeral disk and
//! its autoscaling policy.
//!
//! Fields whose unset value differs from Go's zero value are `Option`s, so a
//! policy block can be merged field by field with defaults (a user who sets
//! only `attempts` keeps Nomad's `interval`, `delay` and `mode`). After
//! [`Job::canonicalize`](crate::model::Job::canonicalize) they are all `Some`.

use crate::model::serde_util::null_as_default;
use crate::model::units::{Duration, MiB};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Copies every field of `$from` that is `Some` into `$into`.
macro_rules! merge_some {
    ($into:expr, $from:expr; $($field:ident),+ $(,)?) => {
        $(
            if $from.$field.is_some() {
                $into.$field.clone_from(&$from.$field);
            }
        )+
    };
}

/// Sets every field of `$into` that is `None` from `$defaults`.
macro_rules! fill_none {
    ($into:expr, $defaults:expr; $($field:ident),+ $(,)?) => {
        $(
            if $into.$field.is_none() {
                $into.$field = $defaults.$field;
            }
        )+
    };
}

/// How a group's allocations are replaced when the job changes (HCL `update`
/// block): rolling updates, canaries and deployment health.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct UpdateStrategy {
    /// Delay between migrations of allocations during node drains (legacy); 30s by default.
    pub stagger: Option<Duration>,
    /// How many allocations to update at once; 1 by default, 0 disables deployments.
    pub max_parallel: Option<i64>,
    /// What marks an allocation healthy: `checks`, `task_states` or `manual`.
    pub health_check: Option<String>,
    /// How long an allocation must stay healthy to count as healthy; 10s by default.
    pub min_healthy_time: Option<Duration>,
    /// How long an allocation has to become healthy; 5m by default.
    pub healthy_deadline: Option<Duration>,
    /// How long the deployment may go without a new healthy allocation
    /// before failing; 10m by default, 0 disables the check.
    pub progress_deadline: Option<Duration>,
    /// Roll back to the last stable version when a deployment fails.
    pub auto_revert: Option<bool>,
    /// Promote canaries automatically once all are healthy.
    pub auto_promote: Option<bool>,
    /// How many canary allocations to start before a rolling update.
    pub canary: Option<i64>,
}

impl UpdateStrategy {
    /// Nomad's defaults: stagger 30s, max_parallel 1, health_check `checks`,
    /// min_healthy_time 10s, healthy_deadline 5m, progress_deadline 10m,
    /// no auto revert or promote, no canaries.
    pub fn defaults() -> Self {
        UpdateStrategy {
            stagger: Some(Duration::from_secs(30)),
            max_parallel: Some(1),
            health_check: Some("checks".to_owned()),
            min_healthy_time: Some(Duration::from_secs(10)),
            healthy_deadline: Some(Duration::from_mins(5)),
            progress_deadline: Some(Duration::from_mins(10)),
            auto_revert: Some(false),
            auto_promote: Some(false),
            canary: Some(0),
        }
    }

    /// Overrides this strategy's fields with the ones `other` sets.
    pub fn merge(&mut self, other: &UpdateStrategy) {
        merge_some!(self, other; stagger, max_parallel, health_check, min_healthy_time,
            healthy_deadline, progress_deadline, auto_revert, auto_promote, canary);
    }

    /// Fills unset fields with [`UpdateStrategy::defaults`].
    pub fn canonicalize(&mut self) {
        let defaults = Self::defaults();
        fill_none!(self, defaults; stagger, max_parallel, health_check, min_healthy_time,
            healthy_deadline, progress_deadline, auto_revert, auto_promote, canary);
    }

    /// Whether no field holds a non-zero value (Nomad's `Empty`): such a
    /// job-level block is not inherited by groups.
    pub fn is_empty(&self) -> bool {
        let zero_duration = |d: Option<Duration>| d.is_none_or(Duration::is_zero);
        zero_duration(self.stagger)
            && self.max_parallel.unwrap_or(0) == 0
            && self.health_check.as_deref().unwrap_or("").is_empty()
            && zero_duration(self.min_healthy_time)
            && zero_duration(self.healthy_deadline)
            && zero_duration(self.progress_deadline)
            && !self.auto_revert.unwrap_or(false)
            && !self.auto_promote.unwrap_or(false)
            && self.canary.unwrap_or(0) == 0
    }

    /// Allocations updated at once (default 1); 0 means no deployments.
    pub fn max_parallel(&self) -> i64 {
        self.max_parallel.unwrap_or(1)
    }

    /// Number of canaries (default 0).
    pub fn canary(&self) -> i64 {
        self.canary.unwrap_or(0)
    }

    /// Health signal (default `checks`).
    pub fn health_check(&self) -> &str {
        self.health_check.as_deref().unwrap_or("checks")
    }

    /// Minimum healthy time (default 10s).
    pub fn min_healthy_time(&self) -> Duration {
        self.min_healthy_time.unwrap_or(Duration::from_secs(10))
    }

    /// Healthy deadline (default 5m).
    pub fn healthy_deadline(&self) -> Duration {
        self.healthy_deadline.unwrap_or(Duration::from_mins(5))
    }

    /// Progress deadline (default 10m).
    pub fn progress_deadline(&self) -> Duration {
        self.progress_deadline.unwrap_or(Duration::from_mins(10))
    }

    /// Stagger (default 30s).
    pub fn stagger(&self) -> Duration {
        self.stagger.unwrap_or(Duration::from_secs(30))
    }

    /// Auto revert (default false).
    pub fn auto_revert(&self) -> bool {
        self.auto_revert.unwrap_or(false)
    }

    /// Auto promote (default false).
    pub fn auto_promote(&self) -> bool {
        self.auto_promote.unwrap_or(false)
    }
}

/// How the client restarts a failed task in place (HCL `restart` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RestartPolicy {
    /// Restarts allowed within `interval`.
    pub attempts: Option<i64>,
    /// The window in which `attempts` are counted.
    pub interval: Option<Duration>,
    /// Wait before each restart.
    pub delay: Option<Duration>,
    /// What happens when attempts run out: `fail` or `delay`.
    pub mode: Option<String>,
    /// Re-render templates on restart.
    pub render_templates: Option<bool>,
}

impl RestartPolicy {
    /// Nomad's default for a job type: service and system jobs get 2 attempts
    /// in 30m; batch and sysbatch jobs 3 attempts in 24h; both with a 15s
    /// delay and mode `fail`.
    pub fn defaults_for(job_type: &crate::model::JobType) -> Self {
        use crate::model::JobType;
        let (attempts, interval) = match job_type {
            JobType::Service | JobType::System => (2, Duration::from_mins(30)),
            _ => (3, Duration::from_hours(24)),
        };
        RestartPolicy {
            attempts: Some(attempts),
            interval: Some(interval),
            delay: Some(Duration::from_secs(15)),
            mode: Some("fail".to_owned()),
            render_templates: Some(false),
        }
    }

    /// Overrides this policy's fields with the ones `other` sets.
    pub fn merge(&mut self, other: &RestartPolicy) {
        merge_some!(self, other; attempts, interval, delay, mode, render_templates);
    }

    /// Restart attempts (0 when unset; canonicalisation fills the job type's default).
    pub fn attempts(&self) -> i64 {
        self.attempts.unwrap_or(0)
    }

    /// Interval (0 when unset).
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or_default()
    }

    /// Delay (0 when unset).
    pub fn delay(&self) -> Duration {
        self.delay.unwrap_or_default()
    }

    /// Mode (`fail` when unset).
    pub fn mode(&self) -> &str {
        self.mode.as_deref().unwrap_or("fail")
    }
}

/// How the scheduler replaces a failed allocation on another node (HCL
/// `reschedule` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ReschedulePolicy {
    /// Reschedules allowed within `interval` (ignored when `unlimited`).
    pub attempts: Option<i64>,
    /// The window in which `attempts` are counted.
    pub interval: Option<Duration>,
    /// Wait before the first reschedule; grows per `delay_function`.
    pub delay: Option<Duration>,
    /// How the delay grows: `constant`, `exponential` or `fibonacci`.
    pub delay_function: Option<String>,
    /// Upper bound on the delay.
    pub max_delay: Option<Duration>,
    /// Reschedule without limit.
    pub unlimited: Option<bool>,
}

impl ReschedulePolicy {
    /// Nomad's default for a job type: service jobs reschedule without limit
    /// (30s exponential delay, at most 1h); batch jobs once in 24h (5s
    /// constant delay); system and sysbatch jobs are not rescheduled (`None`).
    pub fn defaults_for(job_type: &crate::model::JobType) -> Option<Self> {
        use crate::model::JobType;
        match job_type {
            JobType::Service => Some(ReschedulePolicy {
                attempts: Some(0),
                interval: Some(Duration::ZERO),
                delay: Some(Duration::from_secs(30)),
                delay_function: Some("exponential".to_owned()),
                max_delay: Some(Duration::from_hours(1)),
                unlimited: Some(true),
            }),
            JobType::Batch => Some(ReschedulePolicy {
                attempts: Some(1),
                interval: Some(Duration::from_hours(24)),
                delay: Some(Duration::from_secs(5)),
                delay_function: Some("constant".to_owned()),
                max_delay: Some(Duration::ZERO),
                unlimited: Some(false),
            }),
            JobType::System | JobType::Sysbatch => None,
            JobType::Unknown(_) => Some(Self::zero()),
        }
    }

    /// A policy with every field set to its zero value (no rescheduling).
    pub fn zero() -> Self {
        ReschedulePolicy {
            attempts: Some(0),
            interval: Some(Duration::ZERO),
            delay: Some(Duration::ZERO),
            delay_function: Some(String::new()),
            max_delay: Some(Duration::ZERO),
            unlimited: Some(false),
        }
    }

    /// Overrides this policy's fields with the ones `other` sets.
    pub fn merge(&mut self, other: &ReschedulePolicy) {
        merge_some!(self, other; attempts, interval, delay, delay_function, max_delay, unlimited);
    }

    /// Fills unset fields from `defaults`.
    pub fn fill_from(&mut self, defaults: &ReschedulePolicy) {
        let defaults = defaults.clone();
        fill_none!(self, defaults; attempts, interval, delay, delay_function, max_delay, unlimited);
    }

    /// Attempts (0 when unset).
    pub fn attempts(&self) -> i64 {
        self.attempts.unwrap_or(0)
    }

    /// Interval (0 when unset).
    pub fn interval(&self) -> Duration {
        self.interval.unwrap_or_default()
    }

    /// Delay (0 when unset).
    pub fn delay(&self) -> Duration {
        self.delay.unwrap_or_default()
    }

    /// Delay function (empty when unset).
    pub fn delay_function(&self) -> &str {
        self.delay_function.as_deref().unwrap_or("")
    }

    /// Max delay (0 when unset).
    pub fn max_delay(&self) -> Duration {
        self.max_delay.unwrap_or_default()
    }

    /// Unlimited (false when unset).
    pub fn unlimited(&self) -> bool {
        self.unlimited.unwrap_or(false)
    }
}

/// How allocations move off a draining node (HCL `migrate` block; service
/// jobs only).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MigrateStrategy {
    /// Allocations migrated at once; 1 by default.
    pub max_parallel: Option<i64>,
    /// What marks a migrated allocation healthy: `checks` or `task_states`.
    pub health_check: Option<String>,
    /// How long a migrated allocation must stay healthy; 10s by default.
    pub min_healthy_time: Option<Duration>,
    /// How long a migrated allocation has to become healthy; 5m by default.
    pub healthy_deadline: Option<Duration>,
}

impl MigrateStrategy {
    /// Nomad's defaults: max_parallel 1, health_check `checks`,
    /// min_healthy_time 10s, healthy_deadline 5m.
    pub fn defaults() -> Self {
        MigrateStrategy {
            max_parallel: Some(1),
            health_check: Some("checks".to_owned()),
            min_healthy_time: Some(Duration::from_secs(10)),
            healthy_deadline: Some(Duration::from_mins(5)),
        }
    }

    /// Overrides this strategy's fields with the ones `other` sets.
    pub fn merge(&mut self, other: &MigrateStrategy) {
        merge_some!(self, other; max_parallel, health_check, min_healthy_time, healthy_deadline);
    }

    /// Fills unset fields with [`MigrateStrategy::defaults`].
    pub fn canonicalize(&mut self) {
        let defaults = Self::defaults();
        fill_none!(self, defaults; max_parallel, health_check, min_healthy_time, healthy_deadline);
    }

    /// Allocations migrated at once (default 1).
    pub fn max_parallel(&self) -> i64 {
        self.max_parallel.unwrap_or(1)
    }
}

/// What happens while a group's node is disconnected from the servers (HCL
/// `disconnect` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DisconnectStrategy {
    /// How long the servers treat a silent node's allocations as "unknown"
    /// rather than lost.
    pub lost_after: Option<Duration>,
    /// Replace allocations while their node is disconnected; true by default.
    pub replace: Option<bool>,
    /// Which allocation to keep when the node returns: `best_score` (default),
    /// `keep_original`, `keep_replacement` or `longest_running`.
    pub reconcile: Option<String>,
    /// How long the client keeps allocations running after losing the servers.
    pub stop_on_client_after: Option<Duration>,
}

impl DisconnectStrategy {
    /// Keep-or-replace choice (default `best_score`).
    pub fn reconcile(&self) -> &str {
        self.reconcile.as_deref().unwrap_or("best_score")
    }

    /// Whether to replace while disconnected (default true).
    pub fn replace(&self) -> bool {
        self.replace.unwrap_or(true)
    }
}

/// The group's scratch disk, shared by its tasks (HCL `ephemeral_disk` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct EphemeralDisk {
    /// Try to place a replacement on the same node and keep the data.
    pub sticky: Option<bool>,
    /// Copy the data to the replacement's node when it lands elsewhere.
    pub migrate: Option<bool>,
    /// Size in MiB (HCL `size`); 300 by default.
    #[serde(rename = "SizeMB")]
    pub size_mb: Option<MiB>,
}

impl EphemeralDisk {
    /// Size in MiB (default 300).
    pub fn size_mb(&self) -> MiB {
        self.size_mb.unwrap_or(MiB(300))
    }

    /// Sticky (default false).
    pub fn sticky(&self) -> bool {
        self.sticky.unwrap_or(false)
    }

    /// Migrate (default false).
    pub fn migrate(&self) -> bool {
        self.migrate.unwrap_or(false)
    }

    /// Fills Nomad's defaults: not sticky, no migration, 300 MiB.
    pub fn canonicalize(&mut self) {
        self.sticky = Some(self.sticky());
        self.migrate = Some(self.migrate());
        self.size_mb = Some(self.size_mb());
    }
}

/// An autoscaling policy for a group's count or a task's resources (HCL
/// `scaling` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ScalingPolicy {
    /// Policy id, assigned by the servers.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// Namespace, assigned by the servers.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// `horizontal` for group counts, `vertical_cpu`/`vertical_mem` for tasks.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub r#type: String,
    /// What the policy scales (`Namespace`, `Job`, `Group`, `Task` keys).
    #[serde(deserialize_with = "null_as_default")]
    pub target: BTreeMap<String, String>,
    /// Lower bound; the group's count when unset.
    pub min: Option<i64>,
    /// Upper bound.
    pub max: Option<i64>,
    /// The autoscaler's policy document, passed through unchanged.
    #[serde(deserialize_with = "null_as_default")]
    pub policy: BTreeMap<String, serde_json::Value>,
    /// Whether the autoscaler acts on the policy; true by default.
    pub enabled: Option<bool>,
    /// Raft index of creation.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of last change.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

impl ScalingPolicy {
    /// Whether the policy is enabled (default true).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }
}
