//! Lifecycle policies: `update`, `restart`, `reschedule` and `migrate`.
//! Job-level blocks are checked where they are written; the merged copies
//! groups inherit only report what the job-level check did not.

use super::Problems;
use crate::model::{
    Duration, FieldPath, Job, JobType, MigrateStrategy, ReschedulePolicy, RestartPolicy, TaskGroup,
    UpdateStrategy,
};

/// What the job-level policy blocks reported, so a group that inherits a
/// block does not report the same problem again.
#[derive(Debug, Default)]
pub(super) struct Inherited {
    pub update: Vec<String>,
    pub reschedule: Vec<String>,
    pub migrate: Vec<String>,
}

/// Message for a reschedule policy in a job type that is never rescheduled.
fn reschedule_not_allowed(job_type: &JobType) -> String {
    format!("{job_type} jobs are never rescheduled: remove the reschedule block")
}

/// Message for an update block in a job type without deployments.
fn update_not_allowed(job_type: &JobType) -> String {
    format!(
        "the update block has no effect in a {job_type} job: remove it (only service and system jobs are updated in place)"
    )
}

/// Message for a migrate block outside service jobs.
fn migrate_not_allowed(job_type: &JobType) -> String {
    format!(
        "the migrate block has no effect in a {job_type} job: remove it (only service jobs are migrated)"
    )
}

/// Checks the job-level `update`, `reschedule` and `migrate` blocks where
/// they are written, filled with the defaults a group would add.
pub(super) fn job_policies(job: &Job, path: &FieldPath, out: &mut Problems) -> Inherited {
    let job_type = &job.job_type;
    let mut inherited = Inherited::default();

    if let Some(job_update) = &job.update {
        let mut local = Problems::default();
        let update_path = path.field("update", "Update");
        let mut filled = job_update.clone();
        filled.canonicalize();
        group_update(&filled, &update_path, job_type, &mut local);
        inherited.update = local.messages();
        out.0.extend(local.0);
    }

    if let Some(job_reschedule) = &job.reschedule {
        let mut local = Problems::default();
        let reschedule_path = path.field("reschedule", "Reschedule");
        if job_type.is_system_like() {
            local.error(reschedule_path, reschedule_not_allowed(job_type));
        } else {
            let mut filled = job_reschedule.clone();
            let defaults =
                ReschedulePolicy::defaults_for(job_type).unwrap_or_else(ReschedulePolicy::zero);
            filled.fill_from(&defaults);
            reschedule(&filled, &reschedule_path, &mut local);
        }
        inherited.reschedule = local.messages();
        out.0.extend(local.0);
    }

    if let Some(job_migrate) = &job.migrate {
        let mut local = Problems::default();
        let mut filled = job_migrate.clone();
        filled.canonicalize();
        group_migrate(
            &filled,
            &path.field("migrate", "Migrate"),
            job_type,
            &mut local,
        );
        inherited.migrate = local.messages();
        out.0.extend(local.0);
    }
    inherited
}

/// Checks a group's (merged) `update`, `reschedule` and `migrate` blocks,
/// leaving out what the job-level blocks already reported.
pub(super) fn group_policies(
    job: &Job,
    group: &TaskGroup,
    path: &FieldPath,
    inherited: &Inherited,
    out: &mut Problems,
) {
    let job_type = &job.job_type;
    if let Some(update) = &group.update {
        let mut local = Problems::default();
        group_update(
            update,
            &path.field("update", "Update"),
            job_type,
            &mut local,
        );
        out.extend_unreported(local, &inherited.update);
    }
    if let Some(policy) = &group.reschedule_policy {
        let mut local = Problems::default();
        let reschedule_path = path.field("reschedule", "ReschedulePolicy");
        if job_type.is_system_like() {
            local.error(reschedule_path, reschedule_not_allowed(job_type));
        } else {
            reschedule(policy, &reschedule_path, &mut local);
        }
        out.extend_unreported(local, &inherited.reschedule);
    }
    if let Some(migrate) = &group.migrate {
        let mut local = Problems::default();
        group_migrate(
            migrate,
            &path.field("migrate", "Migrate"),
            job_type,
            &mut local,
        );
        out.extend_unreported(local, &inherited.migrate);
    }
}

/// An update block in its job type's context.
fn group_update(update: &UpdateStrategy, path: &FieldPath, job_type: &JobType, out: &mut Problems) {
    match job_type {
        JobType::Service | JobType::System => {}
        JobType::Batch | JobType::Sysbatch => {
            out.error(path.clone(), update_not_allowed(job_type));
            return;
        }
        JobType::Unknown(_) => return,
    }
    update_strategy(update, path, out);
    let canary = update.canary();
    if *job_type == JobType::System && canary > 0 {
        out.error(
            path.field("canary", "Canary"),
            format!("canary {canary} is not allowed in a system job: system jobs cannot use canaries, remove canary"),
        );
    }
}

/// The fields of an update block.
pub(super) fn update_strategy(update: &UpdateStrategy, path: &FieldPath, out: &mut Problems) {
    let health_check = update.health_check();
    if !matches!(health_check, "checks" | "task_states" | "manual") {
        out.error(
            path.field("health_check", "HealthCheck"),
            format!("health_check {health_check:?} is unknown: use checks, task_states or manual"),
        );
    }
    let max_parallel = update.max_parallel();
    if max_parallel < 0 {
        out.error(
            path.field("max_parallel", "MaxParallel"),
            format!("max_parallel {max_parallel} is negative: use 0 (no deployments) or more"),
        );
    }
    let canary = update.canary();
    if canary < 0 {
        out.error(
            path.field("canary", "Canary"),
            format!("canary {canary} is negative: use 0 or more canaries"),
        );
    }
    if canary == 0 && update.auto_promote() {
        out.error(
            path.field("auto_promote", "AutoPromote"),
            "auto_promote needs canaries: set canary to 1 or more, or remove auto_promote",
        );
    }
    let min_healthy = update.min_healthy_time();
    let healthy_deadline = update.healthy_deadline();
    let progress_deadline = update.progress_deadline();
    if min_healthy < Duration::ZERO {
        out.error(
            path.field("min_healthy_time", "MinHealthyTime"),
            format!("min_healthy_time {min_healthy} is negative: use a duration of 0 or more"),
        );
    }
    if healthy_deadline <= Duration::ZERO {
        out.error(
            path.field("healthy_deadline", "HealthyDeadline"),
            format!("healthy_deadline {healthy_deadline} must be above zero: use a duration such as \"5m\""),
        );
    } else if min_healthy >= healthy_deadline {
        out.error(
            path.field("min_healthy_time", "MinHealthyTime"),
            format!(
                "min_healthy_time {min_healthy} must be shorter than healthy_deadline {healthy_deadline}: lower min_healthy_time or raise healthy_deadline"
            ),
        );
    }
    if progress_deadline < Duration::ZERO {
        out.error(
            path.field("progress_deadline", "ProgressDeadline"),
            format!("progress_deadline {progress_deadline} is negative: use 0 (no deadline) or a positive duration"),
        );
    } else if progress_deadline > Duration::ZERO && healthy_deadline >= progress_deadline {
        out.error(
            path.field("progress_deadline", "ProgressDeadline"),
            format!(
                "progress_deadline {progress_deadline} must be longer than healthy_deadline {healthy_deadline}: raise progress_deadline, or set it to 0 to disable it"
            ),
        );
    }
    let stagger = update.stagger();
    if stagger <= Duration::ZERO {
        out.error(
            path.field("stagger", "Stagger"),
            format!("stagger {stagger} must be above zero: use a duration such as \"30s\""),
        );
    }
}

/// A restart policy.
pub(super) fn restart(policy: &RestartPolicy, path: &FieldPath, out: &mut Problems) {
    let mode = policy.mode();
    let attempts = policy.attempts();
    let delay = policy.delay();
    let interval = policy.interval();
    if !matches!(mode, "fail" | "delay") {
        out.error(
            path.field("mode", "Mode"),
            format!("restart mode {mode:?} is unknown: use fail or delay"),
        );
    }
    if attempts < 0 {
        out.error(
            path.field("attempts", "Attempts"),
            format!("attempts {attempts} is negative: use 0 or more restart attempts"),
        );
    } else if attempts == 0 && mode == "delay" {
        out.error(
            path.field("mode", "Mode"),
            "mode \"delay\" with 0 attempts is ambiguous: set attempts above 0, or use mode \"fail\"",
        );
    }
    if delay < Duration::ZERO {
        out.error(
            path.field("delay", "Delay"),
            format!("delay {delay} is negative: use a duration of 0 or more"),
        );
    }
    let min_interval = Duration::from_secs(5);
    if interval < min_interval {
        out.error(
            path.field("interval", "Interval"),
            format!("interval {interval} is too short: a restart interval must be at least {min_interval}"),
        );
    } else if attempts > 0 && delay > Duration::ZERO {
        let needed = Duration(delay.0.saturating_mul(attempts));
        if needed > interval {
            out.error(
                path.field("interval", "Interval"),
                format!(
                    "{attempts} restarts with a {delay} delay need {needed}, more than the {interval} interval: raise interval, or lower attempts or delay"
                ),
            );
        }
    }
}

/// A reschedule policy (canonical: every field set).
pub(super) fn reschedule(policy: &ReschedulePolicy, path: &FieldPath, out: &mut Problems) {
    let attempts = policy.attempts();
    let unlimited = policy.unlimited();
    if attempts < 0 {
        out.error(
            path.field("attempts", "Attempts"),
            format!("attempts {attempts} is negative: use 0 or more reschedule attempts"),
        );
    }
    // A policy with no attempts and no `unlimited` disables rescheduling;
    // its other fields do not matter.
    if attempts <= 0 && !unlimited {
        return;
    }
    let interval = policy.interval();
    let delay = policy.delay();
    let max_delay = policy.max_delay();
    let function = policy.delay_function();
    if attempts > 0 {
        if interval <= Duration::ZERO {
            out.error(
                path.field("interval", "Interval"),
                format!("interval must be set when attempts is {attempts}: give the window the attempts are counted in, such as \"1h\""),
            );
        }
        if unlimited {
            out.error(
                path.field("unlimited", "Unlimited"),
                format!("unlimited = true contradicts attempts = {attempts}: set attempts to 0 or unlimited to false"),
            );
        }
    }
    let min_delay = Duration::from_secs(5);
    let mut delays_valid = true;
    if delay < min_delay {
        out.error(
            path.field("delay", "Delay"),
            format!("delay {delay} is too short: a reschedule delay must be at least {min_delay}"),
        );
        delays_valid = false;
    }
    if !matches!(function, "constant" | "exponential" | "fibonacci") {
        out.error(
            path.field("delay_function", "DelayFunction"),
            format!(
                "delay_function {function:?} is unknown: use constant, exponential or fibonacci"
            ),
        );
        delays_valid = false;
    }
    if function != "constant" {
        if max_delay < min_delay {
            out.error(
                path.field("max_delay", "MaxDelay"),
                format!("max_delay {max_delay} is too short: with delay_function {function:?} it must be at least {min_delay}"),
            );
            delays_valid = false;
        } else if max_delay < delay {
            out.error(
                path.field("max_delay", "MaxDelay"),
                format!("max_delay {max_delay} is shorter than delay {delay}: raise max_delay to at least {delay}"),
            );
            delays_valid = false;
        }
    }
    if unlimited {
        return;
    }
    let min_interval = Duration::from_secs(15);
    if interval < min_interval {
        out.error(
            path.field("interval", "Interval"),
            format!("interval {interval} is too short: a reschedule interval must be at least {min_interval}"),
        );
        return;
    }
    if delays_valid && let Some((possible, recommended)) = unviable_attempts(policy) {
        out.error(
            path.field("interval", "Interval"),
            format!(
                "only {possible} of {attempts} reschedule attempts fit in the {interval} interval with a {delay} {function} delay: set interval to at least {recommended}"
            ),
        );
    }
}

/// Whether a limited policy's attempts fit in its interval, as Nomad works
/// it out: `None` when they do, else how many fit and the interval needed.
pub(super) fn unviable_attempts(policy: &ReschedulePolicy) -> Option<(i64, Duration)> {
    let attempts = policy.attempts();
    let interval = policy.interval().0;
    let delay = policy.delay().0;
    let max_delay = policy.max_delay().0;
    match policy.delay_function() {
        "constant" => {
            let recommended = delay.saturating_mul(attempts);
            (interval < recommended).then(|| (interval / delay.max(1), Duration(recommended)))
        }
        "exponential" => {
            // Delays double until they reach max_delay; from then on each
            // attempt adds max_delay. The doubling phase is at most 63
            // steps, the rest is counted in closed form.
            let attempts = i128::from(attempts);
            let (interval, max_delay) = (i128::from(interval), i128::from(max_delay));
            let mut recommended: i128 = 0;
            let mut possible: i128 = 0;
            let mut step: i128 = 0;
            while step < attempts {
                let next = i128::from(delay) << step.min(100);
                if step >= 63 || next > max_delay {
                    break;
                }
                recommended = next;
                if recommended < interval {
                    possible += 1;
                }
                step += 1;
            }
            let capped = attempts - step;
            if capped > 0 && max_delay > 0 {
                let fitting = if interval > recommended {
                    ((interval - recommended + max_delay - 1) / max_delay - 1).max(0)
                } else {
                    0
                };
                possible += fitting.min(capped);
                recommended += capped * max_delay;
            }
            (possible < attempts).then(|| (saturate(possible), Duration(saturate(recommended))))
        }
        "fibonacci" => {
            // Each delay is the sum of the previous two until it passes
            // max_delay; from then on each adds max_delay. The first phase
            // is short (delays grow exponentially), the rest is closed form.
            let slots = attempts.max(2);
            let (interval, max_delay) = (i128::from(interval), i128::from(max_delay));
            let mut prefix: Vec<i128> = vec![i128::from(delay), i128::from(delay)];
            let mut ceiling_at = None;
            while i64::try_from(prefix.len()).unwrap_or(i64::MAX) < slots && ceiling_at.is_none() {
                let next = prefix[prefix.len() - 1] + prefix[prefix.len() - 2];
                if next > max_delay {
                    ceiling_at = Some(prefix.len());
                    prefix.push(max_delay);
                } else {
                    prefix.push(next);
                }
            }
            // Slot `ceiling + k` is (k + 1) * max_delay.
            let remaining = i128::from(slots) - prefix.len() as i128;
            let recommended = if remaining > 0 {
                max_delay * (remaining + 1)
            } else {
                prefix[prefix.len() - 1]
            };
            if interval >= recommended {
                return None;
            }
            let possible = match prefix.iter().position(|slot| *slot > interval) {
                Some(index) => index as i128,
                None => {
                    let ceiling = ceiling_at.unwrap_or(prefix.len() - 1) as i128;
                    if max_delay > 0 {
                        ceiling + interval / max_delay
                    } else {
                        0
                    }
                }
            };
            Some((saturate(possible), Duration(saturate(recommended))))
        }
        _ => None,
    }
}

/// An `i128` clamped into an `i64`.
fn saturate(value: i128) -> i64 {
    i64::try_from(value).unwrap_or(if value < 0 { i64::MIN } else { i64::MAX })
}

/// A migrate block in its job type's context.
fn group_migrate(
    migrate: &MigrateStrategy,
    path: &FieldPath,
    job_type: &JobType,
    out: &mut Problems,
) {
    match job_type {
        JobType::Service => {}
        JobType::Batch | JobType::System | JobType::Sysbatch => {
            out.error(path.clone(), migrate_not_allowed(job_type));
            return;
        }
        JobType::Unknown(_) => return,
    }
    let max_parallel = migrate.max_parallel();
    if max_parallel < 0 {
        out.error(
            path.field("max_parallel", "MaxParallel"),
            format!("max_parallel {max_parallel} is negative: use 0 or more"),
        );
    }
    match migrate.health_check.as_deref().unwrap_or("") {
        "checks" | "task_states" => {}
        "" if max_parallel <= 0 => {}
        "" => out.error(
            path.field("health_check", "HealthCheck"),
            "health_check is missing: use checks or task_states",
        ),
        other => out.error(
            path.field("health_check", "HealthCheck"),
            format!("health_check {other:?} is unknown: use checks or task_states"),
        ),
    }
    let min_healthy = migrate.min_healthy_time.unwrap_or_default();
    let healthy_deadline = migrate.healthy_deadline.unwrap_or_default();
    if min_healthy < Duration::ZERO {
        out.error(
            path.field("min_healthy_time", "MinHealthyTime"),
            format!("min_healthy_time {min_healthy} is negative: use a duration of 0 or more"),
        );
    }
    if healthy_deadline < Duration::ZERO {
        out.error(
            path.field("healthy_deadline", "HealthyDeadline"),
            format!("healthy_deadline {healthy_deadline} is negative: use a positive duration"),
        );
    } else if min_healthy > healthy_deadline {
        out.error(
            path.field("min_healthy_time", "MinHealthyTime"),
            format!(
                "min_healthy_time {min_healthy} must not be longer than healthy_deadline {healthy_deadline}: lower min_healthy_time or raise healthy_deadline"
            ),
        );
    }
}
