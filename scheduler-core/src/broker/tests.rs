//! Tests of the evaluation broker: unit tests per rule, then a property
//! test over random sequences of operations in virtual time.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;

use super::*;
use crate::model::timestamp::{format_rfc3339_nanos, parse_rfc3339_nanos};
use crate::model::{Duration, EvalId, EvalStatus, EvalTrigger, Evaluation, JobId, Namespace};

const SEC: i64 = 1_000_000_000;

fn ev(id: &str, job: &str, priority: i32, create_index: u64) -> Evaluation {
    Evaluation {
        id: EvalId::new(id),
        namespace: Namespace::new("default"),
        job_id: JobId::new(job),
        eval_type: "service".into(),
        priority,
        create_index,
        modify_index: create_index,
        ..Evaluation::default()
    }
}

fn of_type(mut eval: Evaluation, eval_type: &str) -> Evaluation {
    eval.eval_type = eval_type.into();
    eval
}

fn id(text: &str) -> EvalId {
    EvalId::new(text)
}

/// Dequeues everything ready for `schedulers` at `now`, in order.
fn drain_ids(broker: &mut EvalBroker, schedulers: &[&str], now: i64) -> Vec<String> {
    std::iter::from_fn(|| broker.dequeue(schedulers, now))
        .map(|d| d.eval.id.as_str().to_owned())
        .collect()
}

#[test]
fn defaults_are_nomads() {
    let config = BrokerConfig::default();
    assert_eq!(config.nack_timeout, Duration::from_secs(60));
    assert_eq!(config.delivery_limit, 3);
    assert_eq!(config.initial_nack_delay, Duration::from_secs(1));
    assert_eq!(config.subsequent_nack_delay, Duration::from_secs(20));
}

#[test]
fn dequeue_takes_highest_priority_then_oldest_across_schedulers() {
    let mut broker = EvalBroker::default();
    for eval in [
        ev("a", "j1", 50, 1),
        of_type(ev("b", "j2", 70, 2), "batch"),
        ev("c", "j3", 70, 3),
        ev("d", "j4", 50, 0),
        of_type(ev("e", "j5", 90, 9), "system"),
    ] {
        assert_eq!(broker.enqueue(eval, 0), Enqueued::Ready);
    }
    let stats = broker.stats();
    assert_eq!(stats.total_ready, 5);
    assert_eq!(stats.by_scheduler["service"].ready, 3);
    assert_eq!(
        drain_ids(&mut broker, &["service", "batch"], 0),
        ["b", "c", "d", "a"]
    );
    assert_eq!(
        drain_ids(&mut broker, &["batch", "service"], 0),
        Vec::<String>::new()
    );
    assert_eq!(drain_ids(&mut broker, &["system"], 0), ["e"]);
    assert_eq!(broker.stats().total_unacked, 5);
}

#[test]
fn duplicate_enqueue_is_ignored() {
    let mut broker = EvalBroker::default();
    assert_eq!(broker.enqueue(ev("a", "web", 50, 1), 0), Enqueued::Ready);
    assert_eq!(
        broker.enqueue(ev("a", "web", 99, 1), 0),
        Enqueued::Duplicate
    );
    let delivery = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(delivery.eval.priority, 50);
    assert_eq!(broker.len(), 1);
}

/// A blocked evaluation can be woken while a worker is re-scheduling it
/// (capacity appeared meanwhile): the wake-up waits for the ack instead of
/// being lost as a duplicate.
#[test]
fn an_evaluation_enqueued_while_delivered_comes_back_after_the_ack() {
    let mut broker = EvalBroker::default();
    broker.enqueue(ev("a", "web", 50, 1), 0);
    let delivery = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(broker.enqueue(ev("a", "web", 50, 1), 0), Enqueued::AfterAck);
    assert!(broker.dequeue(&["service"], 0).is_none(), "still held");
    broker.ack(&id("a"), &delivery.token).unwrap();
    let again = broker.dequeue(&["service"], 0).expect("delivered again");
    assert_eq!(again.eval.id, id("a"));
    broker.ack(&id("a"), &again.token).unwrap();
    assert!(broker.dequeue(&["service"], 0).is_none(), "only once more");

    // A nack delivers it again anyway: the held copy is dropped.
    broker.enqueue(ev("b", "api", 50, 2), 0);
    let delivery = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(broker.enqueue(ev("b", "api", 50, 2), 0), Enqueued::AfterAck);
    broker.nack(&id("b"), &delivery.token, 0).unwrap();
    let mut deliveries = 0;
    for at in [0, 100, 10_000] {
        while let Some(delivery) = broker.dequeue(&["service"], at * SEC) {
            deliveries += 1;
            broker.ack(&delivery.eval.id, &delivery.token).unwrap();
        }
    }
    assert_eq!(deliveries, 1);
}

#[test]
fn one_evaluation_per_job_in_flight() {
    let mut broker = EvalBroker::default();
    assert_eq!(broker.enqueue(ev("a", "web", 50, 1), 0), Enqueued::Ready);
    assert_eq!(broker.enqueue(ev("b", "web", 50, 2), 0), Enqueued::Pending);
    assert_eq!(broker.enqueue(ev("c", "api", 10, 3), 0), Enqueued::Ready);
    // Another namespace is another job.
    let mut other = ev("d", "web", 50, 4);
    other.namespace = Namespace::new("prod");
    assert_eq!(broker.enqueue(other, 0), Enqueued::Ready);
    assert_eq!(drain_ids(&mut broker, &["service"], 0), ["a", "d", "c"]);
    assert_eq!(broker.location(&id("b")), Some(EvalLocation::Pending));
    assert_eq!(broker.stats().total_pending, 1);
}

#[test]
fn ack_promotes_the_newest_pending_and_returns_the_rest_as_cancelable() {
    let mut broker = EvalBroker::default();
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let delivery = broker.dequeue(&["service"], 0).unwrap();
    let _ = broker.enqueue(ev("b", "web", 50, 2), 0);
    let _ = broker.enqueue(ev("c", "web", 50, 3), 0);
    let mut d = ev("d", "web", 50, 1);
    d.modify_index = 9;
    let _ = broker.enqueue(d, 0);
    assert_eq!(broker.stats().total_pending, 3);

    let outcome = broker.ack(&id("a"), &delivery.token).unwrap();
    assert_eq!(outcome.promoted, Some(id("d")));
    let cancelable: Vec<&str> = outcome.cancelable.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(cancelable, ["c", "b"]);
    assert_eq!(broker.location(&id("a")), None);
    assert_eq!(broker.location(&id("b")), None);
    assert_eq!(broker.location(&id("d")), Some(EvalLocation::Ready));
    assert_eq!(drain_ids(&mut broker, &["service"], 0), ["d"]);
    assert_eq!(
        broker.ack(&id("a"), &delivery.token),
        Err(BrokerError::NotOutstanding(id("a")))
    );
}

#[test]
fn nack_redelivers_after_the_initial_then_subsequent_delay() {
    let mut broker = EvalBroker::default();
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let first = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(first.attempt, 1);
    assert_eq!(first.nack_deadline, 60 * SEC);
    // A new evaluation of the job waits behind the nacked one.
    assert_eq!(
        broker.nack(&id("a"), &first.token, 10 * SEC),
        Ok(EvalLocation::Delayed { until: 11 * SEC })
    );
    assert_eq!(
        broker.enqueue(ev("b", "web", 50, 2), 10 * SEC),
        Enqueued::Pending
    );
    assert_eq!(broker.next_deadline(), Some(11 * SEC));
    assert!(broker.dequeue(&["service"], 11 * SEC - 1).is_none());
    let second = broker.dequeue(&["service"], 11 * SEC).unwrap();
    assert_eq!((second.eval.id.as_str(), second.attempt), ("a", 2));
    assert_ne!(second.token, first.token);
    assert_eq!(
        broker.ack(&id("a"), &first.token),
        Err(BrokerError::TokenMismatch(id("a")))
    );
    assert_eq!(
        broker.nack(&id("a"), &second.token, 12 * SEC),
        Ok(EvalLocation::Delayed { until: 32 * SEC })
    );
    assert_eq!(broker.deliveries(&id("a")), Some(2));
    assert_eq!(broker.stats().total_waiting, 1);
}

#[test]
fn delivery_limit_moves_to_failed_and_taking_frees_the_job() {
    let mut broker = EvalBroker::new(BrokerConfig {
        initial_nack_delay: Duration::ZERO,
        subsequent_nack_delay: Duration::ZERO,
        ..BrokerConfig::default()
    });
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let _ = broker.enqueue(ev("b", "web", 50, 2), 0);
    let _ = broker.enqueue(ev("c", "web", 50, 3), 0);
    for attempt in 1..=3 {
        let delivery = broker.dequeue(&["service"], 0).unwrap();
        assert_eq!(
            (delivery.eval.id.as_str(), delivery.attempt),
            ("a", attempt)
        );
        let to = broker.nack(&id("a"), &delivery.token, 0).unwrap();
        let expected = if attempt < 3 {
            EvalLocation::Ready
        } else {
            EvalLocation::Failed
        };
        assert_eq!(to, expected);
    }
    // Failed still holds the job until the leader takes it.
    assert!(broker.dequeue(&["service"], 0).is_none());
    assert_eq!(broker.stats().total_failed, 1);
    let failed = broker.take_failed();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].id, id("a"));
    assert!(broker.take_failed().is_empty());
    let cancelable = broker.take_cancelable();
    assert_eq!(cancelable.len(), 1);
    assert_eq!(cancelable[0].id, id("b"));
    assert_eq!(drain_ids(&mut broker, &["service"], 0), ["c"]);

    // What the leader writes back.
    let now = 100 * SEC;
    let follow = failed_follow_up(&failed[0], now, Duration::from_mins(1));
    assert_eq!(follow.status, EvalStatus::Pending);
    assert_eq!(follow.triggered_by, EvalTrigger::FailedFollowUp);
    assert_eq!(follow.previous_eval, id("a"));
    assert_eq!((follow.job_id.as_str(), follow.priority), ("web", 50));
    assert_eq!(parse_rfc3339_nanos(&follow.wait_until), Some(160 * SEC));
    assert_eq!((follow.create_time, follow.modify_time), (now, now));
    assert_eq!(
        follow,
        failed_follow_up(&failed[0], now, Duration::from_mins(1))
    );
    assert_ne!(
        follow.id,
        failed_follow_up(&failed[0], now + 1, Duration::ZERO).id
    );
    assert!(uuid::Uuid::parse_str(follow.id.as_str()).is_ok());
    let update = failed_update(&failed[0], &follow, 3, now);
    assert_eq!(update.status, EvalStatus::Failed);
    assert_eq!(update.next_eval, follow.id);
    assert_eq!(
        update.status_description,
        "evaluation reached delivery limit (3)"
    );
    // The follow-up waits out its delay in the broker.
    assert_eq!(
        broker.enqueue(follow, now),
        Enqueued::Delayed { until: 160 * SEC }
    );
}

#[test]
fn tick_nacks_timed_out_deliveries_and_reset_extends_them() {
    let mut broker = EvalBroker::default();
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let delivery = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(broker.next_deadline(), Some(60 * SEC));
    assert_eq!(
        broker.outstanding_reset(&id("a"), &delivery.token, 30 * SEC),
        Ok(90 * SEC)
    );
    assert_eq!(
        broker.outstanding_reset(&id("a"), "not-the-token", 30 * SEC),
        Err(BrokerError::TokenMismatch(id("a")))
    );
    broker.tick(60 * SEC);
    assert_eq!(
        broker.location(&id("a")),
        Some(EvalLocation::Unacked {
            nack_deadline: 90 * SEC
        })
    );
    assert_eq!(
        broker.outstanding_reset(&id("a"), &delivery.token, 90 * SEC),
        Err(BrokerError::NackTimeoutReached(id("a")))
    );
    broker.tick(90 * SEC);
    assert_eq!(
        broker.location(&id("a")),
        Some(EvalLocation::Delayed { until: 91 * SEC })
    );
    assert_eq!(
        broker.ack(&id("a"), &delivery.token),
        Err(BrokerError::NotOutstanding(id("a")))
    );
    // A late tick: the delay counts from the deadline, so the second
    // timeout (at 160s) is ready again at 180s, before this tick at 200s.
    let second = broker.dequeue(&["service"], 100 * SEC).unwrap();
    assert_eq!(second.nack_deadline, 160 * SEC);
    broker.tick(200 * SEC);
    assert_eq!(broker.location(&id("a")), Some(EvalLocation::Ready));
    assert_eq!(broker.next_deadline(), None);
    let third = broker.dequeue(&["service"], 200 * SEC).unwrap();
    broker.tick(third.nack_deadline);
    assert_eq!(broker.location(&id("a")), Some(EvalLocation::Failed));
}

#[test]
fn wait_until_holds_an_evaluation_until_its_time() {
    let mut broker = EvalBroker::new(BrokerConfig {
        nack_timeout: Duration::from_hours(1),
        ..BrokerConfig::default()
    });
    let mut later = ev("a", "web", 50, 1);
    later.wait_until = format_rfc3339_nanos(100 * SEC);
    assert_eq!(
        broker.enqueue(later, 0),
        Enqueued::Delayed { until: 100 * SEC }
    );
    // A delayed evaluation does not hold its job.
    assert_eq!(broker.enqueue(ev("b", "web", 50, 2), 0), Enqueued::Ready);
    let mut waits = ev("c", "api", 50, 3);
    waits.wait = Duration::from_secs(5);
    assert_eq!(
        broker.enqueue(waits, 0),
        Enqueued::Delayed { until: 5 * SEC }
    );
    let mut past = ev("d", "db", 50, 4);
    past.wait_until = format_rfc3339_nanos(-SEC);
    assert_eq!(broker.enqueue(past, 0), Enqueued::Ready);
    let mut go_zero = ev("e", "cache", 50, 5);
    go_zero.wait_until = "0001-01-01T00:00:00Z".into();
    assert_eq!(broker.enqueue(go_zero, 0), Enqueued::Ready);

    assert_eq!(broker.stats().total_waiting, 2);
    assert_eq!(broker.next_deadline(), Some(5 * SEC));
    assert_eq!(drain_ids(&mut broker, &["service"], 0), ["b", "d", "e"]);
    assert_eq!(drain_ids(&mut broker, &["service"], 5 * SEC), ["c"]);
    assert!(broker.dequeue(&["service"], 100 * SEC - 1).is_none());
    broker.tick(100 * SEC);
    // Due, but "b" of the same job is still out: pending behind it.
    assert_eq!(broker.location(&id("a")), Some(EvalLocation::Pending));
}

#[test]
fn disabling_flushes_everything() {
    let mut broker = EvalBroker::default();
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let _ = broker.enqueue(ev("b", "web", 50, 2), 0);
    let mut later = ev("c", "api", 50, 3);
    later.wait_until = format_rfc3339_nanos(SEC);
    let _ = broker.enqueue(later, 0);
    let first = broker.dequeue(&["service"], 0).unwrap();

    broker.set_enabled(false);
    assert!(!broker.is_enabled());
    assert!(broker.is_empty());
    assert_eq!(broker.stats(), BrokerStats::default());
    assert_eq!(broker.next_deadline(), None);
    assert_eq!(broker.enqueue(ev("a", "web", 50, 1), 0), Enqueued::Disabled);
    assert!(broker.dequeue(&["service"], 0).is_none());
    assert_eq!(
        broker.ack(&id("a"), &first.token),
        Err(BrokerError::Disabled)
    );

    broker.set_enabled(true);
    assert_eq!(
        broker.ack(&id("a"), &first.token),
        Err(BrokerError::NotOutstanding(id("a")))
    );
    assert_eq!(broker.enqueue(ev("a", "web", 50, 1), 0), Enqueued::Ready);
    let again = broker.dequeue(&["service"], 0).unwrap();
    assert_eq!(again.attempt, 1);
    // Tokens stay unique across a flush: the old one cannot ack the new delivery.
    assert_ne!(again.token, first.token);
}

#[test]
fn same_inputs_same_tokens() {
    let run = || {
        let mut broker = EvalBroker::default();
        let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
        let first = broker.dequeue(&["service"], 0).unwrap();
        let _ = broker.nack(&id("a"), &first.token, 0);
        let second = broker.dequeue(&["service"], 2 * SEC).unwrap();
        (first.token, second.token)
    };
    let (a, b) = run();
    assert_eq!((a.clone(), b.clone()), run());
    assert_ne!(a, b);
    assert!(uuid::Uuid::parse_str(&a).is_ok());
}

#[test]
fn stats_serialise_with_nomad_names() {
    let mut broker = EvalBroker::default();
    let _ = broker.enqueue(ev("a", "web", 50, 1), 0);
    let json = serde_json::to_value(broker.stats()).unwrap();
    assert_eq!(json["TotalReady"], 1);
    assert_eq!(json["TotalUnacked"], 0);
    assert_eq!(json["TotalPending"], 0);
    assert_eq!(json["TotalWaiting"], 0);
    assert_eq!(json["TotalFailed"], 0);
    assert_eq!(json["ByScheduler"]["service"]["Ready"], 1);
}

#[test]
fn errors_explain_themselves() {
    let message = BrokerError::TokenMismatch(id("e1")).to_string();
    assert!(
        message.contains("e1") && message.contains("token"),
        "{message}"
    );
    let message = BrokerError::NotOutstanding(id("e1")).to_string();
    assert!(message.contains("not outstanding"), "{message}");
}

/// One step of the property test.
#[derive(Debug, Clone)]
enum Op {
    /// A new evaluation of job `job`, delayed `delay` seconds if nonzero.
    Enqueue {
        job: u8,
        priority: u8,
        batch: bool,
        delay: u8,
    },
    /// A worker for these scheduler types.
    Dequeue { service: bool, batch: bool },
    /// Ack the `n`th delivery handed out (stale ones included).
    Ack(usize),
    /// Nack the `n`th delivery.
    Nack(usize),
    /// Reset the `n`th delivery.
    Reset(usize),
    /// Let time pass (seconds) and tick.
    Tick(u8),
    /// The leader reaps failed evaluations.
    TakeFailed,
    /// Leadership lost and regained.
    Flush,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u8..4, 0u8..3, any::<bool>(), prop_oneof![3 => Just(0u8), 1 => 1u8..40])
            .prop_map(|(job, priority, batch, delay)| Op::Enqueue { job, priority, batch, delay }),
        8 => (any::<bool>(), any::<bool>()).prop_map(|(service, batch)| Op::Dequeue { service, batch }),
        4 => (0usize..16).prop_map(Op::Ack),
        4 => (0usize..16).prop_map(Op::Nack),
        2 => (0usize..16).prop_map(Op::Reset),
        6 => (0u8..90).prop_map(Op::Tick),
        2 => Just(Op::TakeFailed),
        1 => Just(Op::Flush),
    ]
}

/// Where the test saw evaluations leave the broker.
#[derive(Default)]
struct Ledger {
    accepted: BTreeSet<EvalId>,
    acked: BTreeSet<EvalId>,
    canceled: BTreeSet<EvalId>,
    failed: BTreeSet<EvalId>,
    flushed: BTreeSet<EvalId>,
}

impl Ledger {
    fn cancel(&mut self, evals: Vec<Evaluation>) {
        for eval in evals {
            assert!(self.canceled.insert(eval.id), "cancelled twice");
        }
    }

    /// Every accepted evaluation is in exactly one place; no job has two
    /// evaluations ready or out with workers.
    fn check(&self, broker: &EvalBroker, jobs: &BTreeMap<EvalId, String>) {
        let mut in_flight: BTreeMap<&str, usize> = BTreeMap::new();
        for id in &self.accepted {
            let location = broker.location(id);
            let places = usize::from(location.is_some())
                + usize::from(self.acked.contains(id))
                + usize::from(self.canceled.contains(id))
                + usize::from(self.failed.contains(id))
                + usize::from(self.flushed.contains(id));
            assert_eq!(places, 1, "{id} is in {places} places ({location:?})");
            if matches!(
                location,
                Some(EvalLocation::Ready | EvalLocation::Unacked { .. })
            ) {
                *in_flight.entry(jobs[id].as_str()).or_default() += 1;
            }
        }
        assert!(in_flight.values().all(|&n| n == 1), "{in_flight:?}");
        let stats = broker.stats();
        assert_eq!(
            stats.total_ready
                + stats.total_unacked
                + stats.total_pending
                + stats.total_waiting
                + stats.total_failed,
            broker.len()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_evaluation_in_one_place_and_one_per_job_in_flight(
        ops in proptest::collection::vec(op(), 1..80)
    ) {
        let mut broker = EvalBroker::default();
        let mut ledger = Ledger::default();
        let mut jobs: BTreeMap<EvalId, String> = BTreeMap::new();
        let mut deliveries: Vec<Delivery> = Vec::new();
        let mut now = 1_700_000_000 * SEC;
        for (n, op) in ops.into_iter().enumerate() {
            match op {
                Op::Enqueue { job, priority, batch, delay } => {
                    let name = format!("job{job}");
                    let mut eval = ev(&format!("e{n:03}"), &name, i32::from(priority) * 10, n as u64);
                    if batch {
                        eval.eval_type = "batch".into();
                    }
                    if delay > 0 {
                        eval.wait_until = format_rfc3339_nanos(now + i64::from(delay) * SEC);
                    }
                    let id = eval.id.clone();
                    let outcome = broker.enqueue(eval, now);
                    prop_assert!(!matches!(outcome, Enqueued::Duplicate | Enqueued::Disabled));
                    ledger.accepted.insert(id.clone());
                    jobs.insert(id, name);
                }
                Op::Dequeue { service, batch } => {
                    let schedulers: Vec<&str> = [("service", service), ("batch", batch)]
                        .into_iter()
                        .filter_map(|(s, on)| on.then_some(s))
                        .collect();
                    if let Some(delivery) = broker.dequeue(&schedulers, now) {
                        prop_assert!(schedulers.contains(&delivery.eval.eval_type.as_str()));
                        prop_assert!(delivery.attempt <= broker.config().delivery_limit);
                        deliveries.push(delivery);
                    }
                }
                Op::Ack(i) => {
                    if let Some(d) = deliveries.get(i % deliveries.len().max(1))
                        && let Ok(outcome) = broker.ack(&d.eval.id, &d.token)
                    {
                        ledger.acked.insert(d.eval.id.clone());
                        ledger.cancel(outcome.cancelable);
                    }
                }
                Op::Nack(i) => {
                    if let Some(d) = deliveries.get(i % deliveries.len().max(1)) {
                        let _ = broker.nack(&d.eval.id, &d.token, now);
                    }
                }
                Op::Reset(i) => {
                    if let Some(d) = deliveries.get(i % deliveries.len().max(1))
                        && let Ok(deadline) = broker.outstanding_reset(&d.eval.id, &d.token, now)
                    {
                        prop_assert!(deadline > now);
                    }
                }
                Op::Tick(secs) => {
                    now += i64::from(secs) * SEC;
                    broker.tick(now);
                    prop_assert!(broker.next_deadline().is_none_or(|at| at > now));
                }
                Op::TakeFailed => {
                    for eval in broker.take_failed() {
                        ledger.failed.insert(eval.id);
                    }
                    ledger.cancel(broker.take_cancelable());
                }
                Op::Flush => {
                    for id in &ledger.accepted {
                        if broker.location(id).is_some() {
                            ledger.flushed.insert(id.clone());
                        }
                    }
                    ledger.cancel(broker.take_cancelable());
                    broker.set_enabled(false);
                    broker.set_enabled(true);
                }
            }
            ledger.check(&broker, &jobs);
        }

        // Eventually: with workers acking everything, the broker empties and
        // every evaluation ended acked, cancelled, failed or flushed.
        for _ in 0..64 {
            if broker.is_empty() {
                break;
            }
            now += 3600 * SEC;
            while let Some(d) = broker.dequeue(&["service", "batch"], now) {
                let outcome = broker.ack(&d.eval.id, &d.token).unwrap();
                ledger.acked.insert(d.eval.id);
                ledger.cancel(outcome.cancelable);
            }
            for eval in broker.take_failed() {
                ledger.failed.insert(eval.id);
            }
            ledger.cancel(broker.take_cancelable());
            ledger.check(&broker, &jobs);
        }
        prop_assert!(broker.is_empty());
        prop_assert_eq!(broker.stats(), BrokerStats::default());
    }
}
