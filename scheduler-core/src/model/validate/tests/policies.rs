//! Restart, reschedule, update, periodic and parameterized rules, and problem order.

use super::*;

#[test]
fn restart_mode_must_be_known() {
    let mut job = job();
    group(&mut job).restart_policy.mode = Some("sometimes".to_owned());
    // Reported once, at the group, though the task inherits it.
    assert_error(
        job,
        &format!("{G} > restart > mode"),
        "restart mode \"sometimes\" is unknown: use fail or delay",
    );
}

#[test]
fn restart_attempts_fit_in_the_interval() {
    let mut job = job();
    task(&mut job).restart_policy = RestartPolicy {
        attempts: Some(10),
        interval: Some(Duration::from_mins(1)),
        ..RestartPolicy::default()
    };
    assert_error(
        job,
        &format!("{T} > restart > interval"),
        "10 restarts with a 15s delay need 2m30s, more than the 1m0s interval: raise interval, or lower attempts or delay",
    );
}

#[test]
fn reschedule_delay_function_and_max_delay() {
    let mut job = job();
    group(&mut job).reschedule_policy = Some(ReschedulePolicy {
        delay_function: Some("linear".to_owned()),
        ..ReschedulePolicy::default()
    });
    assert_error(
        job,
        &format!("{G} > reschedule > delay_function"),
        "delay_function \"linear\" is unknown: use constant, exponential or fibonacci",
    );

    let mut job = super::job();
    job.reschedule = Some(ReschedulePolicy {
        max_delay: Some(Duration::from_secs(10)),
        ..ReschedulePolicy::default()
    });
    // Written at the job: reported there, not again for the group.
    assert_error(
        job,
        "job \"web\" > reschedule > max_delay",
        "max_delay 10s is shorter than delay 30s: raise max_delay to at least 30s",
    );
}

#[test]
fn reschedule_attempts_fit_in_the_interval() {
    let mut job = job();
    job.job_type = JobType::Batch;
    group(&mut job).reschedule_policy = Some(ReschedulePolicy {
        attempts: Some(10),
        interval: Some(Duration::from_secs(30)),
        ..ReschedulePolicy::default()
    });
    assert_error(
        job,
        &format!("{G} > reschedule > interval"),
        "only 6 of 10 reschedule attempts fit in the 30s interval with a 5s constant delay: set interval to at least 50s",
    );
}

#[test]
fn system_jobs_are_not_rescheduled() {
    let mut job = job();
    job.job_type = JobType::Sysbatch;
    job.reschedule = Some(ReschedulePolicy {
        attempts: Some(1),
        ..ReschedulePolicy::default()
    });
    assert_error(
        job,
        "job \"web\" > reschedule",
        "sysbatch jobs are never rescheduled: remove the reschedule block",
    );
}

#[test]
fn update_health_check_and_deadlines() {
    let mut job = job();
    job.update = Some(UpdateStrategy {
        health_check: Some("bogus".to_owned()),
        ..UpdateStrategy::default()
    });
    assert_error(
        job,
        "job \"web\" > update > health_check",
        "health_check \"bogus\" is unknown: use checks, task_states or manual",
    );

    let mut job = super::job();
    group(&mut job).update = Some(UpdateStrategy {
        min_healthy_time: Some(Duration::from_mins(10)),
        ..UpdateStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > update > min_healthy_time"),
        "min_healthy_time 10m0s must be shorter than healthy_deadline 5m0s: lower min_healthy_time or raise healthy_deadline",
    );

    let mut job = super::job();
    group(&mut job).update = Some(UpdateStrategy {
        progress_deadline: Some(Duration::from_mins(5)),
        ..UpdateStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > update > progress_deadline"),
        "progress_deadline 5m0s must be longer than healthy_deadline 5m0s: raise progress_deadline, or set it to 0 to disable it",
    );
}

#[test]
fn system_jobs_cannot_use_canaries() {
    let mut job = job();
    job.job_type = JobType::System;
    group(&mut job).update = Some(UpdateStrategy {
        canary: Some(1),
        ..UpdateStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > update > canary"),
        "canary 1 is not allowed in a system job: system jobs cannot use canaries, remove canary",
    );
}

#[test]
fn update_max_parallel_and_canary_are_not_negative() {
    let mut job = job();
    group(&mut job).update = Some(UpdateStrategy {
        max_parallel: Some(-1),
        ..UpdateStrategy::default()
    });
    assert_error(
        job,
        &format!("{G} > update > max_parallel"),
        "max_parallel -1 is negative: use 0 (no deployments) or more",
    );
}

fn periodic(spec: &str) -> PeriodicConfig {
    PeriodicConfig {
        spec: spec.to_owned(),
        ..PeriodicConfig::default()
    }
}

#[test]
fn periodic_only_for_batch_jobs() {
    let mut job = job();
    job.periodic = Some(periodic("*/5 * * * *"));
    assert_error(
        job,
        "job \"web\" > periodic",
        "periodic jobs must be of type batch or sysbatch, not service: set type = \"batch\"",
    );
}

#[test]
fn periodic_needs_a_valid_cron_spec() {
    let mut job = job();
    job.job_type = JobType::Batch;
    job.periodic = Some(periodic(""));
    assert_error(
        job,
        "job \"web\" > periodic > cron",
        "the periodic block has no schedule: set cron, as in cron = \"*/15 * * * *\"",
    );

    let mut job = super::job();
    job.job_type = JobType::Batch;
    job.periodic = Some(periodic("*/5 * *"));
    assert_error(
        job,
        "job \"web\" > periodic > cron",
        "cron \"*/5 * *\" is invalid: it has 3 fields: write 5 (minute hour day-of-month month day-of-week), optionally with seconds first and a year last",
    );

    for ok in [
        "@daily",
        "0 */2 * * MON-FRI",
        "0 0 12 ? * WED *",
        "15 3 L * ?",
    ] {
        let mut job = super::job();
        job.job_type = JobType::Batch;
        job.periodic = Some(periodic(ok));
        let found = problems(job);
        assert!(found.is_empty(), "{ok}: {}", render(&found));
    }
}

#[test]
fn parameterized_jobs() {
    let mut job = job();
    job.parameterized_job = Some(ParameterizedJobConfig::default());
    assert_error(
        job,
        "job \"web\" > parameterized",
        "parameterized jobs must be of type batch or sysbatch, not service: set type = \"batch\"",
    );

    let mut job = super::job();
    job.job_type = JobType::Batch;
    job.parameterized_job = Some(ParameterizedJobConfig {
        payload: "sometimes".to_owned(),
        ..ParameterizedJobConfig::default()
    });
    assert_error(
        job,
        "job \"web\" > parameterized > payload",
        "payload \"sometimes\" is unknown: use optional, required or forbidden",
    );
}

#[test]
fn problems_come_in_job_order() {
    let mut job = job();
    job.priority = Some(500);
    task(&mut job).driver.clear();
    group(&mut job).count = Some(-1);
    let paths: Vec<String> = problems(job).iter().map(|p| p.path.to_hcl()).collect();
    assert_eq!(
        paths,
        vec![
            "job \"web\" > priority".to_owned(),
            format!("{G} > count"),
            format!("{T} > driver"),
        ]
    );
}

/// Nomad's reschedule arithmetic, step by step, for small inputs.
fn naive_unviable(
    function: &str,
    attempts: i64,
    interval: i64,
    delay: i64,
    max_delay: i64,
) -> Option<(i64, i64)> {
    match function {
        "exponential" => {
            let (mut recommended, mut possible) = (0_i64, 0_i64);
            for i in 0..attempts {
                let mut next = delay * (1_i64 << i);
                if next > max_delay {
                    next = max_delay;
                    recommended += next;
                } else {
                    recommended = next;
                }
                if recommended < interval {
                    possible += 1;
                }
            }
            (possible < attempts).then_some((possible, recommended))
        }
        _ => {
            let mut slots = vec![delay, delay];
            let mut reached = false;
            for i in 2..attempts as usize {
                let next = if reached {
                    slots[i - 1] + max_delay
                } else if slots[i - 1] + slots[i - 2] > max_delay {
                    reached = true;
                    max_delay
                } else {
                    slots[i - 1] + slots[i - 2]
                };
                slots.push(next);
            }
            let recommended = *slots.last().unwrap();
            if interval >= recommended {
                return None;
            }
            let possible = slots.iter().position(|s| *s > interval).unwrap_or(0) as i64;
            Some((possible, recommended))
        }
    }
}

#[test]
fn reschedule_arithmetic_matches_nomads_step_by_step() {
    for function in ["exponential", "fibonacci"] {
        for attempts in 1..30 {
            for interval in [5, 17, 60, 200, 1000] {
                for (delay, max_delay) in [(5, 5), (5, 7), (5, 40), (6, 300), (10, 1000)] {
                    let policy = ReschedulePolicy {
                        attempts: Some(attempts),
                        interval: Some(Duration(interval)),
                        delay: Some(Duration(delay)),
                        delay_function: Some(function.to_owned()),
                        max_delay: Some(Duration(max_delay)),
                        unlimited: Some(false),
                    };
                    let ours =
                        super::super::policies::unviable_attempts(&policy).map(|(p, r)| (p, r.0));
                    let nomad = naive_unviable(function, attempts, interval, delay, max_delay);
                    assert_eq!(
                        ours, nomad,
                        "{function} attempts={attempts} interval={interval} delay={delay} max={max_delay}"
                    );
                }
            }
        }
    }
}

#[test]
fn reschedule_arithmetic_is_fast_for_huge_attempts() {
    for function in ["exponential", "fibonacci"] {
        let mut job = super::job();
        group(&mut job).reschedule_policy = Some(ReschedulePolicy {
            attempts: Some(i64::MAX),
            interval: Some(Duration::from_hours(1)),
            delay_function: Some(function.to_owned()),
            unlimited: Some(false),
            ..ReschedulePolicy::default()
        });
        assert_has_error(
            job,
            &format!("{G} > reschedule > interval"),
            "reschedule attempts fit",
        );
    }
}
