//! Hand-computed cases for the reschedule rules. Times are seconds from an
//! arbitrary origin unless a test says otherwise.

use super::*;
use crate::model::{AllocDesiredStatus, DeploymentStatus, Job, JobType, TaskGroup, TaskState};

const SEC: i64 = 1_000_000_000;

fn secs(n: i64) -> Duration {
    Duration::from_secs(n)
}

fn policy(function: &str, delay: i64, max_delay: i64) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: Some(0),
        interval: Some(Duration::ZERO),
        delay: Some(secs(delay)),
        delay_function: Some(function.to_owned()),
        max_delay: Some(secs(max_delay)),
        unlimited: Some(true),
    }
}

fn limited(attempts: i64, interval: Duration, delay: i64) -> ReschedulePolicy {
    ReschedulePolicy {
        attempts: Some(attempts),
        interval: Some(interval),
        delay: Some(secs(delay)),
        delay_function: Some("constant".to_owned()),
        max_delay: Some(Duration::ZERO),
        unlimited: Some(false),
    }
}

fn event(at_secs: i64, delay: Duration) -> RescheduleEvent {
    RescheduleEvent {
        reschedule_time: at_secs * SEC,
        delay,
        ..RescheduleEvent::default()
    }
}

fn tracker(events: Vec<RescheduleEvent>) -> RescheduleTracker {
    RescheduleTracker { events }
}

/// A failed allocation whose failure time is `modify_time`.
fn failed(id: &str, failed_secs: i64) -> Allocation {
    Allocation {
        id: AllocId::new(id),
        node_id: "node-1".into(),
        client_status: AllocClientStatus::Failed,
        modify_time: failed_secs * SEC,
        ..Allocation::default()
    }
}

/// The delays a lineage gets when each replacement fails 10 s after it is
/// placed, so no quiet period ever resets the series.
fn delays_of(policy: &ReschedulePolicy, steps: usize) -> Vec<i64> {
    let mut tracker = RescheduleTracker::default();
    let mut failed_at = 0;
    let mut out = Vec::new();
    for _ in 0..steps {
        let delay = next_delay(policy, &tracker, failed_at);
        out.push(delay.as_nanos() / SEC);
        let rescheduled = failed_at + delay.as_nanos();
        tracker.events.push(RescheduleEvent {
            reschedule_time: rescheduled,
            delay,
            ..RescheduleEvent::default()
        });
        failed_at = rescheduled + 10 * SEC;
    }
    out
}

fn eval(id: &str) -> EvalId {
    EvalId::new(id)
}

#[test]
fn exponential_doubles_up_to_max_delay() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    assert_eq!(
        delays_of(&service, 10),
        [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    );
}

#[test]
fn fibonacci_adds_the_last_two() {
    let fib = policy("fibonacci", 5, 50);
    assert_eq!(delays_of(&fib, 9), [5, 5, 10, 15, 25, 40, 50, 50, 50]);
}

#[test]
fn constant_stays_at_delay() {
    let batch = ReschedulePolicy::defaults_for(&JobType::Batch).unwrap();
    assert_eq!(delays_of(&batch, 3), [5, 5, 5]);
    // Constant is never capped, even above max_delay (Nomad's NextDelay).
    assert_eq!(delays_of(&policy("constant", 90, 60), 2), [90, 90]);
}

#[test]
fn unknown_function_behaves_as_constant() {
    assert_eq!(delays_of(&policy("", 7, 60), 3), [7, 7, 7]);
}

#[test]
fn zero_max_delay_means_no_cap() {
    let uncapped = policy("exponential", 30, 0);
    let events = tracker(vec![event(0, Duration::from_hours(1))]);
    assert_eq!(
        next_delay(&uncapped, &events, 10 * SEC),
        Duration::from_hours(2)
    );
}

#[test]
fn capped_delay_resets_after_a_quiet_period_longer_than_max_delay() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let events = tracker(vec![event(1000, Duration::from_hours(1))]);
    // Failed exactly max_delay after the last reschedule: still capped.
    assert_eq!(
        next_delay(&service, &events, (1000 + 3600) * SEC),
        secs(3600)
    );
    // One nanosecond more: quiet long enough, back to the base delay.
    assert_eq!(
        next_delay(&service, &events, (1000 + 3600) * SEC + 1),
        secs(30)
    );
}

#[test]
fn reset_only_applies_when_the_cap_does() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    // 60s doubles to 120s, under the 1h cap: a 2h quiet period does not reset.
    let events = tracker(vec![event(0, secs(60))]);
    assert_eq!(next_delay(&service, &events, 7200 * SEC), secs(120));
}

#[test]
fn fibonacci_restarts_after_a_reset() {
    let fib = policy("fibonacci", 5, 50);
    // 25 + 50 > 50 and 100 s quiet > 50 s: reset to 5 s.
    let capped = tracker(vec![event(0, secs(25)), event(100, secs(50))]);
    assert_eq!(next_delay(&fib, &capped, 200 * SEC), secs(5));
    // The series then repeats the base delay once and grows again.
    let reset = tracker(vec![event(100, secs(50)), event(205, secs(5))]);
    assert_eq!(next_delay(&fib, &reset, 210 * SEC), secs(5));
    let reset = tracker(vec![
        event(100, secs(50)),
        event(205, secs(5)),
        event(215, secs(5)),
    ]);
    assert_eq!(next_delay(&fib, &reset, 220 * SEC), secs(10));
}

#[test]
fn now_when_due_within_one_second() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let alloc = failed("a", 100);
    // Due at 130 s: 1 s before that is close enough.
    assert_eq!(
        decide(&alloc, Some(&service), &eval("e"), 129 * SEC, 100 * SEC),
        RescheduleDecision::Now
    );
    assert_eq!(
        decide(&alloc, Some(&service), &eval("e"), 129 * SEC - 1, 100 * SEC),
        RescheduleDecision::Later { at: 130 * SEC }
    );
    // Overdue is due.
    assert_eq!(
        decide(&alloc, Some(&service), &eval("e"), 500 * SEC, 100 * SEC),
        RescheduleDecision::Now
    );
}

#[test]
fn followup_eval_is_now_and_other_followups_wait() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let alloc = Allocation {
        followup_eval_id: eval("follow"),
        ..failed("a", 100)
    };
    // The follow-up eval may run up to 5 s early (batching); it still places.
    assert_eq!(
        decide(
            &alloc,
            Some(&service),
            &eval("follow"),
            125 * SEC,
            100 * SEC
        ),
        RescheduleDecision::Now
    );
    assert_eq!(
        decide(&alloc, Some(&service), &eval("other"), 110 * SEC, 100 * SEC),
        RescheduleDecision::AwaitingFollowup {
            eval_id: eval("follow"),
            at: 130 * SEC
        }
    );
}

#[test]
fn empty_eval_id_does_not_match_an_empty_followup() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let alloc = failed("a", 100);
    assert_eq!(
        decide(
            &alloc,
            Some(&service),
            &EvalId::default(),
            100 * SEC,
            100 * SEC
        ),
        RescheduleDecision::Later { at: 130 * SEC }
    );
}

#[test]
fn attempts_count_within_interval_before_the_failure() {
    let one_per_day = ReschedulePolicy::defaults_for(&JobType::Batch).unwrap();
    let day = 86_400;
    let failed_at = 2 * day;
    // An attempt 23 h before the failure uses up the only one.
    let recent = Allocation {
        reschedule_tracker: tracker(vec![event(failed_at - 23 * 3600, secs(5))]),
        ..failed("a", failed_at)
    };
    assert_eq!(
        decide(
            &recent,
            Some(&one_per_day),
            &eval("e"),
            failed_at * SEC,
            failed_at * SEC
        ),
        RescheduleDecision::Never {
            reason: "1 of 1 reschedule attempts used within 24h0m0s".to_owned()
        }
    );
    // Exactly 24 h before is outside the window (strictly less than interval).
    let old = Allocation {
        reschedule_tracker: tracker(vec![event(failed_at - day, secs(5))]),
        ..failed("a", failed_at)
    };
    assert_eq!(
        decide(
            &old,
            Some(&one_per_day),
            &eval("e"),
            failed_at * SEC,
            failed_at * SEC
        ),
        RescheduleDecision::Later {
            at: (failed_at + 5) * SEC
        }
    );
    // The window ends at the failure, not at `now`: evaluating a day later
    // still counts the recent attempt.
    assert_eq!(
        attempts_used(&one_per_day, &recent.reschedule_tracker, failed_at * SEC),
        1
    );
}

#[test]
fn attempts_left_within_interval_allow_a_reschedule() {
    let three_per_hour = limited(3, Duration::from_hours(1), 5);
    let alloc = Allocation {
        reschedule_tracker: tracker(vec![event(1000, secs(5)), event(2000, secs(5))]),
        ..failed("a", 3000)
    };
    assert_eq!(
        attempts_used(&three_per_hour, &alloc.reschedule_tracker, 3000 * SEC),
        2
    );
    assert_eq!(
        decide(
            &alloc,
            Some(&three_per_hour),
            &eval("e"),
            3004 * SEC,
            3000 * SEC
        ),
        RescheduleDecision::Now
    );
}

#[test]
fn a_delay_not_shorter_than_interval_is_never() {
    let slow = limited(3, Duration::from_mins(1), 60);
    let alloc = Allocation {
        reschedule_tracker: tracker(vec![event(0, secs(60))]),
        ..failed("a", 100)
    };
    assert_eq!(
        decide(&alloc, Some(&slow), &eval("e"), 100 * SEC, 100 * SEC),
        RescheduleDecision::Never {
            reason: "next delay 1m0s is not shorter than the interval 1m0s".to_owned()
        }
    );
}

#[test]
fn first_failure_is_eligible_whenever_attempts_are_positive() {
    // Even with a delay longer than the interval: Nomad only checks the
    // interval once the lineage has events.
    let slow = limited(1, Duration::from_mins(1), 120);
    assert_eq!(
        decide(&failed("a", 0), Some(&slow), &eval("e"), 0, 0),
        RescheduleDecision::Later { at: 120 * SEC }
    );
}

#[test]
fn unlimited_ignores_attempts() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let mut events: Vec<RescheduleEvent> = (0..20).map(|i| event(i * 10, secs(30))).collect();
    events.push(event(200, secs(30)));
    let alloc = Allocation {
        reschedule_tracker: tracker(events),
        ..failed("a", 210)
    };
    // Last delay 30 s doubles to 60 s: due at 270 s.
    assert_eq!(
        decide(&alloc, Some(&service), &eval("e"), 210 * SEC, 210 * SEC),
        RescheduleDecision::Later { at: 270 * SEC }
    );
}

#[test]
fn force_reschedule_is_now_regardless_of_policy() {
    let one_per_day = ReschedulePolicy::defaults_for(&JobType::Batch).unwrap();
    let mut alloc = Allocation {
        reschedule_tracker: tracker(vec![event(90, secs(5))]),
        ..failed("a", 100)
    };
    alloc.desired_transition.force_reschedule = Some(true);
    assert_eq!(
        decide(&alloc, Some(&one_per_day), &eval("e"), 100 * SEC, 100 * SEC),
        RescheduleDecision::Now
    );
    assert_eq!(
        decide(&alloc, None, &eval("e"), 100 * SEC, 100 * SEC),
        RescheduleDecision::Now
    );
    // But not for an allocation that did not fail.
    alloc.client_status = AllocClientStatus::Running;
    assert!(matches!(
        decide(&alloc, None, &eval("e"), 100 * SEC, 100 * SEC),
        RescheduleDecision::Never { .. }
    ));
}

#[test]
fn never_without_a_usable_policy() {
    let alloc = failed("a", 0);
    assert_eq!(
        decide(&alloc, None, &eval("e"), 0, 0),
        RescheduleDecision::Never {
            reason: "the group has no reschedule policy".to_owned()
        }
    );
    assert_eq!(
        decide(&alloc, Some(&ReschedulePolicy::zero()), &eval("e"), 0, 0),
        RescheduleDecision::Never {
            reason: "the reschedule policy allows no attempts".to_owned()
        }
    );
}

#[test]
fn never_for_allocations_that_did_not_fail_or_were_handled() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let check = |alloc: Allocation, reason: &str| {
        assert_eq!(
            decide(&alloc, Some(&service), &eval("e"), 0, 0),
            RescheduleDecision::Never {
                reason: reason.to_owned()
            }
        );
    };
    for (status, name) in [
        (AllocClientStatus::Running, "running"),
        (AllocClientStatus::Complete, "complete"),
        (AllocClientStatus::Lost, "lost"),
        (AllocClientStatus::Pending, "pending"),
    ] {
        check(
            Allocation {
                client_status: status,
                ..failed("a", 0)
            },
            &format!("client status is {name}; only failed allocations are rescheduled"),
        );
    }
    check(
        Allocation {
            next_allocation: AllocId::new("b"),
            ..failed("a", 0)
        },
        "already replaced by allocation b",
    );
    check(
        Allocation {
            desired_status: AllocDesiredStatus::Stop,
            ..failed("a", 0)
        },
        "stopped by the server (desired status stop)",
    );
}

#[test]
fn per_type_defaults_reach_groups_through_canonicalisation() {
    let canonical_group = |job_type: JobType| {
        let mut job = Job {
            id: "j".into(),
            job_type,
            task_groups: vec![TaskGroup {
                name: "g".to_owned(),
                ..TaskGroup::default()
            }],
            ..Job::default()
        };
        job.canonicalize();
        job.task_groups.remove(0)
    };

    let service = canonical_group(JobType::Service);
    let policy = effective_policy(&service).unwrap();
    assert!(policy.unlimited());
    assert_eq!(policy.delay_function(), "exponential");
    assert_eq!(policy.delay(), secs(30));
    assert_eq!(policy.max_delay(), Duration::from_hours(1));

    let batch = canonical_group(JobType::Batch);
    let policy = effective_policy(&batch).unwrap();
    assert!(!policy.unlimited());
    assert_eq!(policy.attempts(), 1);
    assert_eq!(policy.interval(), Duration::from_hours(24));
    assert_eq!(policy.delay_function(), "constant");
    assert_eq!(policy.delay(), secs(5));

    assert_eq!(effective_policy(&canonical_group(JobType::System)), None);
    assert_eq!(effective_policy(&canonical_group(JobType::Sysbatch)), None);
}

#[test]
fn group_policy_is_merged_over_the_job_policy() {
    let mut job = Job {
        id: "j".into(),
        job_type: JobType::Service,
        reschedule: Some(ReschedulePolicy {
            delay: Some(secs(10)),
            max_delay: Some(secs(100)),
            ..ReschedulePolicy::default()
        }),
        task_groups: vec![TaskGroup {
            name: "g".to_owned(),
            reschedule_policy: Some(ReschedulePolicy {
                delay_function: Some("fibonacci".to_owned()),
                max_delay: Some(secs(200)),
                ..ReschedulePolicy::default()
            }),
            ..TaskGroup::default()
        }],
        ..Job::default()
    };
    job.canonicalize();
    let policy = effective_policy(&job.task_groups[0]).unwrap();
    assert_eq!(policy.delay(), secs(10));
    assert_eq!(policy.delay_function(), "fibonacci");
    assert_eq!(policy.max_delay(), secs(200));
    assert!(policy.unlimited());
}

#[test]
fn batch_defaults_end_to_end() {
    let policy = ReschedulePolicy::defaults_for(&JobType::Batch).unwrap();
    let first = failed("a", 1000);
    assert_eq!(
        decide(&first, Some(&policy), &eval("e1"), 1000 * SEC, 1000 * SEC),
        RescheduleDecision::Later { at: 1005 * SEC }
    );
    let delay = next_delay(&policy, &first.reschedule_tracker, 1000 * SEC);
    let replacement = Allocation {
        reschedule_tracker: record_event(&first, Some(&policy), 1005 * SEC, delay),
        ..failed("b", 2000)
    };
    assert!(matches!(
        decide(
            &replacement,
            Some(&policy),
            &eval("e2"),
            2000 * SEC,
            2000 * SEC
        ),
        RescheduleDecision::Never { .. }
    ));
}

#[test]
fn record_event_appends_to_the_lineage() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let prev = Allocation {
        reschedule_tracker: tracker(vec![event(10, secs(30))]),
        ..failed("a", 100)
    };
    let recorded = record_event(&prev, Some(&service), 160 * SEC, secs(60));
    assert_eq!(
        recorded.events,
        [
            event(10, secs(30)),
            RescheduleEvent {
                reschedule_time: 160 * SEC,
                prev_alloc_id: AllocId::new("a"),
                prev_node_id: "node-1".into(),
                delay: secs(60),
            }
        ]
    );
}

#[test]
fn record_event_keeps_the_last_five_when_unlimited() {
    let service = ReschedulePolicy::defaults_for(&JobType::Service).unwrap();
    let prev = Allocation {
        reschedule_tracker: tracker((1..=7).map(|i| event(i, secs(30))).collect()),
        ..failed("a", 100)
    };
    let kept: Vec<i64> = record_event(&prev, Some(&service), 100 * SEC, secs(60))
        .events
        .iter()
        .map(|e| e.reschedule_time / SEC)
        .collect();
    assert_eq!(kept, [3, 4, 5, 6, 7, 100]);
}

#[test]
fn record_event_keeps_events_within_interval_when_limited() {
    let policy = limited(3, secs(100), 5);
    let prev = Allocation {
        reschedule_tracker: tracker(vec![
            event(0, secs(5)),
            event(99, secs(5)),
            event(100, secs(5)),
        ]),
        ..failed("a", 150)
    };
    // now = 200 s: 0 is 200 s old (dropped); 100 is exactly 100 s old (kept).
    let kept: Vec<i64> = record_event(&prev, Some(&policy), 200 * SEC, secs(5))
        .events
        .iter()
        .map(|e| e.reschedule_time / SEC)
        .collect();
    assert_eq!(kept, [100, 200]);
}

#[test]
fn followups_batch_in_five_second_windows_from_the_earliest() {
    let later = [
        (AllocId::new("d"), 12 * SEC),
        (AllocId::new("c"), 5 * SEC),
        (AllocId::new("b"), 5 * SEC - 1),
        (AllocId::new("a"), 0),
        (AllocId::new("e"), 16 * SEC),
    ];
    let batches = batch_followups(&later);
    let ids = |batch: &FollowupBatch| -> Vec<String> {
        batch.allocs.iter().map(|id| id.to_string()).collect()
    };
    assert_eq!(batches.len(), 3);
    assert_eq!(
        (batches[0].wait_until, ids(&batches[0])),
        (0, vec!["a".into(), "b".into()])
    );
    assert_eq!(
        (batches[1].wait_until, ids(&batches[1])),
        (5 * SEC, vec!["c".to_owned()])
    );
    assert_eq!(
        (batches[2].wait_until, ids(&batches[2])),
        (12 * SEC, vec!["d".to_owned(), "e".to_owned()])
    );
    assert!(batch_followups(&[]).is_empty());
}

#[test]
fn failure_time_is_the_latest_task_finish() {
    let mut alloc = failed("a", 42);
    assert_eq!(failed_at(&alloc), 42 * SEC);
    // 2024-05-01T00:00:00Z = 1_704_067_200 (2024-01-01) + 121 days.
    let may_first = 1_714_521_600 * SEC;
    for (task, finished) in [
        ("web", "2024-05-01T00:00:00.5Z"),
        ("log", "2024-05-01T02:00:01+02:00"),
        ("init", "0001-01-01T00:00:00Z"),
        ("side", ""),
    ] {
        alloc.task_states.insert(
            task.to_owned(),
            TaskState {
                finished_at: finished.to_owned(),
                ..TaskState::default()
            },
        );
    }
    assert_eq!(failed_at(&alloc), may_first + SEC);
    alloc.task_states.remove("log");
    assert_eq!(failed_at(&alloc), may_first + SEC / 2);
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339_nanos("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(
        parse_rfc3339_nanos("1970-01-01T00:00:01.000000001Z"),
        Some(SEC + 1)
    );
    assert_eq!(parse_rfc3339_nanos("1969-12-31T23:00:00-01:00"), Some(0));
    assert_eq!(
        parse_rfc3339_nanos("2000-03-01T00:00:00Z"),
        Some(951_868_800 * SEC)
    );
    assert_eq!(parse_rfc3339_nanos("2023-02-29T00:00:00Z"), None);
    assert_eq!(parse_rfc3339_nanos("2024-05-01T00:00:00"), None);
    assert_eq!(parse_rfc3339_nanos("2024-05-01T00:00:00.Z"), None);
    assert_eq!(parse_rfc3339_nanos("0001-01-01T00:00:00Z"), None);
}

#[test]
fn policy_of_the_alloc_job_version() {
    let mut job = Job {
        id: "j".into(),
        job_type: JobType::Batch,
        task_groups: vec![TaskGroup {
            name: "g".to_owned(),
            ..TaskGroup::default()
        }],
        ..Job::default()
    };
    job.canonicalize();
    let mut alloc = Allocation {
        task_group: "g".to_owned(),
        job: Some(std::sync::Arc::new(job)),
        ..failed("a", 0)
    };
    assert_eq!(
        policy_for_alloc(&alloc).map(ReschedulePolicy::attempts),
        Some(1)
    );
    alloc.task_group = "missing".to_owned();
    assert_eq!(policy_for_alloc(&alloc), None);
    alloc.job = None;
    assert_eq!(policy_for_alloc(&alloc), None);
}

#[test]
fn active_deployment_holds_unmarked_allocations() {
    let deployment = Deployment {
        id: "d1".into(),
        status: DeploymentStatus::Running,
        ..Deployment::default()
    };
    let mut alloc = Allocation {
        deployment_id: "d1".into(),
        ..failed("a", 0)
    };
    assert!(held_by_deployment(&alloc, Some(&deployment)));
    assert!(!held_by_deployment(&alloc, None));
    alloc.desired_transition.reschedule = Some(true);
    assert!(!held_by_deployment(&alloc, Some(&deployment)));
    alloc.desired_transition.reschedule = None;
    let done = Deployment {
        status: DeploymentStatus::Successful,
        ..deployment.clone()
    };
    assert!(!held_by_deployment(&alloc, Some(&done)));
    alloc.deployment_id = "d0".into();
    assert!(!held_by_deployment(&alloc, Some(&deployment)));
}
