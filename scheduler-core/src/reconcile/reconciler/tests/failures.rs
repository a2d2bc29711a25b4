//! Failed allocations (rescheduling now or later) and allocations on
//! tainted nodes (down, gone, draining, disconnected, reconnecting).

use super::*;

// 5. Rescheduling.

#[test]
fn failed_alloc_past_its_delay_is_rescheduled_now() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a1", 1, "n2", &job, |a| failed_at(a, NOW - HOUR));
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[1] Reschedule <- a1"]);
    assert_eq!(
        r.place[0].reschedule_delay,
        Some(crate::model::Duration::from_secs(30)),
        "the service default's first delay"
    );
    assert_eq!(stops(&r), [format!("a1: {STOP_RESCHEDULED}")]);
    let d = desired(&r);
    assert_eq!(
        (d.reschedule_now, d.reschedule_later, d.place, d.stop),
        (1, 0, 0, 0)
    );
    assert!(r.followup_evals.is_empty());
}

#[test]
fn alloc_failed_just_now_gets_a_followup_evaluation() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a1", 1, "n2", &job, |a| failed_at(a, NOW));
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(r.followup_evals.len(), 1);
    let eval = &r.followup_evals[0];
    assert_eq!(eval.wait_until, "2023-11-14T22:13:50Z");
    assert_eq!(
        crate::model::timestamp::parse_rfc3339_nanos(&eval.wait_until),
        Some(NOW + 30 * SEC)
    );
    assert_eq!(
        eval.triggered_by,
        crate::model::EvalTrigger::RetryFailedAlloc
    );
    assert_eq!(eval.previous_eval, c.eval.id);
    assert_eq!(eval.job_id.as_str(), "web");
    assert_eq!(r.attribute_updates.len(), 1);
    let updated = &r.attribute_updates[0];
    assert_eq!(updated.id.as_str(), "a1");
    assert_eq!(updated.followup_eval_id, eval.id);
    let d = desired(&r);
    assert_eq!((d.reschedule_later, d.reschedule_now, d.place), (1, 0, 0));
}

#[test]
fn failed_alloc_waiting_for_its_followup_gets_no_second_one() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |a| {
        failed_at(a, NOW);
        a.followup_eval_id = EvalId::new("earlier");
    });
    let r = c.reconcile();
    assert!(r.place.is_empty() && r.stop.is_empty());
    assert!(r.followup_evals.is_empty());
    assert!(r.attribute_updates.is_empty());
}

#[test]
fn followup_evaluation_reschedules_its_alloc_even_before_the_delay() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |a| {
        failed_at(a, NOW);
        a.followup_eval_id = EvalId::new("eval-1");
    });
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Reschedule <- a0"]);
}

#[test]
fn failed_alloc_with_attempts_exhausted_is_not_replaced() {
    let mut c = Cluster::new();
    let policy = "reschedule {\n attempts = 1\n interval = \"1h\"\n delay = \"5s\"\n \
                  delay_function = \"constant\"\n unlimited = false\n }";
    let job = c.job(&service(2, "nginx:1", policy));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a1", 1, "n2", &job, |a| {
        failed_at(a, NOW - 5 * MIN);
        a.reschedule_tracker.events = vec![reschedule_event(NOW - 10 * MIN, "a1-prev", 5)];
    });
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert!(r.followup_evals.is_empty());
    let d = desired(&r);
    assert_eq!((d.reschedule_now, d.reschedule_later, d.ignore), (0, 0, 2));
}

#[test]
fn failed_alloc_is_rescheduled_again_once_its_attempts_left_the_interval() {
    let mut c = Cluster::new();
    let policy = "reschedule {\n attempts = 1\n interval = \"1h\"\n delay = \"5s\"\n \
                  delay_function = \"constant\"\n unlimited = false\n }";
    let job = c.job(&service(1, "nginx:1", policy));
    c.alloc("a0", 0, "n1", &job, |a| {
        failed_at(a, NOW - 5 * MIN);
        a.reschedule_tracker.events = vec![reschedule_event(NOW - 2 * HOUR, "a0-prev", 5)];
    });
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Reschedule <- a0"]);
    assert_eq!(
        r.place[0].reschedule_delay,
        Some(crate::model::Duration::from_secs(5))
    );
}

#[test]
fn failed_alloc_of_an_active_deployment_waits_for_the_watcher() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.deployment(deployment("d1", &job, DeploymentStatus::Running, |_| {}));
    c.alloc("a0", 0, "n1", &job, |a| {
        failed_at(a, NOW - HOUR);
        a.deployment_id = DeploymentId::new("d1");
    });
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
}

// 6. Tainted nodes.

#[test]
fn alloc_on_a_down_node_is_lost_and_replaced_under_its_name() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.running(2, &job);
    c.node("n1", NodeStatus::Down, false);
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0: {STOP_LOST}")]);
    assert_eq!(r.stop[0].client_status, Some(AllocClientStatus::Lost));
    assert_eq!(places(&r), ["web.web[0] Lost <- a0"]);
    let d = desired(&r);
    assert_eq!((d.stop, d.place, d.ignore), (1, 1, 1));
}

#[test]
fn alloc_on_a_gone_node_is_lost() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.alloc("a0", 0, "vanished", &job, |_| {});
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0: {STOP_LOST}")]);
    assert_eq!(places(&r), ["web.web[0] Lost <- a0"]);
}

#[test]
fn draining_alloc_is_migrated_under_its_name() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.running(2, &job);
    c.node("n2", NodeStatus::Ready, true);
    c.alloc("a1", 1, "n2", &job, |a| {
        a.desired_transition.migrate = Some(true);
    });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a1: {STOP_MIGRATE}")]);
    assert_eq!(r.stop[0].client_status, None);
    assert_eq!(places(&r), ["web.web[1] Migrate <- a1"]);
    let d = desired(&r);
    assert_eq!((d.migrate, d.stop, d.place, d.ignore), (1, 0, 0, 1));
}

const DISCONNECT: &str = "disconnect {\n lost_after = \"5m\"\n }";

#[test]
fn alloc_on_a_disconnected_node_is_marked_unknown_and_replaced() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", DISCONNECT));
    c.running(2, &job);
    c.node("n1", NodeStatus::Disconnected, false);
    let r = c.reconcile();
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(r.attribute_updates.len(), 1);
    let updated = &r.attribute_updates[0];
    assert_eq!(updated.id.as_str(), "a0");
    assert_eq!(updated.client_status, AllocClientStatus::Unknown);
    assert_eq!(updated.modify_time, NOW);
    assert!(
        updated
            .alloc_states
            .last()
            .is_some_and(|s| s.value == "unknown"),
        "{:?}",
        updated.alloc_states
    );
    assert_eq!(r.followup_evals.len(), 1);
    let eval = &r.followup_evals[0];
    assert_eq!(
        eval.triggered_by,
        crate::model::EvalTrigger::MaxDisconnectTimeout
    );
    assert_eq!(
        crate::model::timestamp::parse_rfc3339_nanos(&eval.wait_until),
        Some(NOW + 5 * MIN)
    );
    assert_eq!(places(&r), ["web.web[0] Lost <- a0"]);
    let d = desired(&r);
    assert_eq!((d.disconnect_updates, d.place, d.stop), (1, 1, 0));
}

#[test]
fn lost_alloc_is_not_replaced_before_stop_on_client_after() {
    let mut c = Cluster::new();
    let job = c.job(&service(
        1,
        "nginx:1",
        "disconnect {\n stop_on_client_after = \"10m\"\n }",
    ));
    c.alloc("a0", 0, "n1", &job, |a| a.modify_time = NOW - MIN);
    c.node("n1", NodeStatus::Down, false);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(r.followup_evals.len(), 1);
    assert_eq!(
        crate::model::timestamp::parse_rfc3339_nanos(&r.followup_evals[0].wait_until),
        Some(NOW + 9 * MIN)
    );
    assert!(
        r.attribute_updates.is_empty(),
        "only failed allocations record their follow-up"
    );
}

#[test]
fn lost_alloc_is_replaced_once_stop_on_client_after_passed() {
    let mut c = Cluster::new();
    let job = c.job(&service(
        1,
        "nginx:1",
        "disconnect {\n stop_on_client_after = \"10m\"\n }",
    ));
    c.alloc("a0", 0, "n1", &job, |a| a.modify_time = NOW - 11 * MIN);
    c.node("n1", NodeStatus::Down, false);
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0: {STOP_LOST}")]);
    assert_eq!(places(&r), ["web.web[0] Lost <- a0"]);
    assert!(r.followup_evals.is_empty());
}

#[test]
fn reconnected_original_is_kept_and_its_replacement_stopped() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", DISCONNECT));
    c.alloc("a0", 0, "n1", &job, |a| {
        a.client_status = AllocClientStatus::Running;
        a.alloc_states = vec![crate::model::AllocState {
            field: 0,
            value: "unknown".to_owned(),
            time: crate::model::timestamp::format_rfc3339_nanos(NOW - MIN),
        }];
    });
    c.alloc("a0-new", 0, "n2", &job, |a| {
        a.previous_allocation = AllocId::new("a0");
    });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0-new: {STOP_RECONNECTED}")]);
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert_eq!(desired(&r).reconnect_updates, 1);
    assert!(r.attribute_updates.iter().any(|a| a.id.as_str() == "a0"));
}

#[test]
fn scale_down_stops_a_failed_alloc_before_running_ones_and_drops_its_followup() {
    let mut c = Cluster::new();
    let job = c.job(&service(3, "nginx:1", ""));
    c.running(2, &job);
    c.alloc("f", 2, "n3", &job, |a| failed_at(a, NOW));
    c.job(&service(2, "nginx:1", ""));
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("f: {STOP_UNNEEDED}")]);
    assert!(r.followup_evals.is_empty() && r.attribute_updates.is_empty());
    let d = desired(&r);
    assert_eq!((d.stop, d.reschedule_later, d.in_place_update), (1, 0, 2));
}

#[test]
fn failures_within_five_seconds_share_one_followup_evaluation() {
    let mut c = Cluster::new();
    let job = c.job(&service(3, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |a| failed_at(a, NOW));
    c.alloc("a1", 1, "n1", &job, |a| failed_at(a, NOW + 2 * SEC));
    c.alloc("a2", 2, "n1", &job, |a| failed_at(a, NOW + 20 * SEC));
    let r = c.reconcile();
    let evals: Vec<(&str, &str)> = r
        .followup_evals
        .iter()
        .map(|e| (e.id.as_str(), e.wait_until.as_str()))
        .collect();
    assert_eq!(
        evals,
        [
            ("id-1", "2023-11-14T22:13:50Z"),
            ("id-2", "2023-11-14T22:14:10Z")
        ]
    );
    let followups: Vec<(&str, &str)> = r
        .attribute_updates
        .iter()
        .map(|a| (a.id.as_str(), a.followup_eval_id.as_str()))
        .collect();
    assert_eq!(followups, [("a0", "id-1"), ("a1", "id-1"), ("a2", "id-2")]);
    assert_eq!(desired(&r).reschedule_later, 3);
}

#[test]
fn disconnected_alloc_without_replace_is_kept_and_not_replaced() {
    let mut c = Cluster::new();
    let job = c.job(&service(
        1,
        "nginx:1",
        "disconnect {\n lost_after = \"5m\"\n replace = false\n }",
    ));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.node("n1", NodeStatus::Disconnected, false);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(r.attribute_updates.len(), 1);
    assert_eq!(
        r.attribute_updates[0].client_status,
        AllocClientStatus::Unknown
    );
    assert_eq!(r.followup_evals.len(), 1);
    assert_eq!(desired(&r).disconnect_updates, 1);
}

#[test]
fn alloc_unknown_past_lost_after_is_stopped_as_expired() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", DISCONNECT));
    c.alloc("a0", 0, "n1", &job, |a| {
        a.client_status = AllocClientStatus::Unknown;
        a.alloc_states = vec![crate::model::AllocState {
            field: 0,
            value: "unknown".to_owned(),
            time: crate::model::timestamp::format_rfc3339_nanos(NOW - 6 * MIN),
        }];
    });
    c.alloc("a0-new", 0, "n2", &job, |a| {
        a.previous_allocation = AllocId::new("a0");
    });
    c.node("n1", NodeStatus::Disconnected, false);
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0: {STOP_EXPIRED}")]);
    assert_eq!(r.stop[0].client_status, Some(AllocClientStatus::Lost));
    assert!(
        r.place.is_empty(),
        "the replacement already runs: {:?}",
        places(&r)
    );
}
