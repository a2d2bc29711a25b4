use super::*;
use crate::model::{AllocDeploymentStatus, DeploymentId, Duration};

const S: i64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * S;

fn group(total: u32, canaries: u32, deadline_secs: i64) -> DeploymentState {
    DeploymentState {
        desired_total: total,
        desired_canaries: canaries,
        placed_allocs: total,
        progress_deadline: Duration::from_secs(deadline_secs),
        // The plan applier starts the timer at the first placement (T0).
        require_progress_by: if deadline_secs > 0 {
            format_rfc3339_nanos(T0 + deadline_secs * S)
        } else {
            String::new()
        },
        ..DeploymentState::default()
    }
}

fn watch(groups: Vec<(&str, DeploymentState)>) -> DeploymentWatch {
    DeploymentWatch::new(Deployment {
        id: DeploymentId::new("d1"),
        task_groups: groups.into_iter().map(|(n, s)| (n.to_owned(), s)).collect(),
        ..Deployment::default()
    })
}

fn health(alloc: &str, group: &str, healthy: bool, canary: bool, at: i64) -> DeploymentEvent {
    DeploymentEvent::AllocHealth {
        alloc: AllocId::new(alloc),
        group: group.to_owned(),
        healthy,
        canary,
        at,
    }
}

fn eval(reason: &str) -> DeploymentAction {
    DeploymentAction::CreateEval {
        reason: reason.to_owned(),
    }
}

fn failed(description: &str, rollback: bool) -> DeploymentAction {
    DeploymentAction::Fail {
        description: description.to_owned(),
        rollback,
    }
}

fn web(w: &DeploymentWatch) -> &DeploymentState {
    &w.deployment.task_groups["web"]
}

#[test]
fn happy_rolling_update_succeeds() {
    let w = watch(vec![("web", group(2, 0, 600))]);
    let p = step(
        &w,
        &[health("a1", "web", true, false, T0 + 10 * S)],
        T0 + 11 * S,
    );
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
    assert_eq!(web(&p.watch).healthy_allocs, 1);
    assert_eq!(web(&p.watch).require_progress_by, "2023-11-14T22:23:30Z");
    assert_eq!(p.next_deadline, Some(T0 + 610 * S));
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);
    assert_eq!(p.watch.deployment.status_description, DESCRIPTION_RUNNING);
    assert_eq!(p.watch.deployment.modify_time, T0 + 11 * S);

    let p = step(
        &p.watch,
        &[health("a2", "web", true, false, T0 + 20 * S)],
        T0 + 21 * S,
    );
    assert_eq!(
        p.actions,
        vec![
            DeploymentAction::MarkSuccessful,
            eval("allocation health changed")
        ]
    );
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Successful);
    assert_eq!(
        p.watch.deployment.status_description,
        DESCRIPTION_SUCCESSFUL
    );
    assert_eq!(web(&p.watch).healthy_allocs, 2);
    assert_eq!(p.next_deadline, None);

    // Terminal: events are ignored.
    let after = step(
        &p.watch,
        &[
            health("a1", "web", false, false, T0 + 30 * S),
            DeploymentEvent::Fail,
        ],
        T0 + 10_000 * S,
    );
    assert_eq!(after.watch, p.watch);
    assert!(after.actions.is_empty());
    assert_eq!(after.next_deadline, None);
}

#[test]
fn progress_deadline_expiry_fails_with_rollback() {
    let mut g = group(2, 0, 600);
    g.auto_revert = true;
    let w = watch(vec![("web", g)]);
    let p = step(&w, &[], T0 + 599 * S);
    assert!(p.actions.is_empty());
    assert_eq!(p.next_deadline, Some(T0 + 600 * S));
    assert_eq!(p.watch, w);

    let p = step(&p.watch, &[], T0 + 600 * S);
    assert_eq!(
        p.actions,
        vec![
            failed(DESCRIPTION_PROGRESS_DEADLINE, true),
            eval("deployment failed")
        ]
    );
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Failed);
    assert_eq!(
        p.watch.deployment.status_description,
        "Failed due to progress deadline"
    );
    assert_eq!(p.next_deadline, None);
}

#[test]
fn rollback_when_any_group_auto_reverts() {
    let mut api = group(1, 0, 0);
    api.auto_revert = true;
    let w = watch(vec![("api", api), ("web", group(1, 0, 600))]);
    let p = step(&w, &[], T0 + 700 * S);
    assert_eq!(
        p.actions,
        vec![
            failed(DESCRIPTION_PROGRESS_DEADLINE, true),
            eval("deployment failed")
        ]
    );
    // Without auto_revert anywhere: no rollback.
    let w = watch(vec![("web", group(1, 0, 600))]);
    let p = step(&w, &[], T0 + 700 * S);
    assert_eq!(p.actions[0], failed(DESCRIPTION_PROGRESS_DEADLINE, false));
}

#[test]
fn zero_progress_deadline_fails_on_first_unhealthy() {
    let w = watch(vec![("web", group(3, 0, 0))]);
    assert_eq!(step(&w, &[], T0 + 100_000 * S).next_deadline, None);
    let p = step(
        &w,
        &[
            health("a1", "web", true, false, T0 + S),
            health("a2", "web", false, false, T0 + 2 * S),
            // After the failure: ignored.
            health("a3", "web", true, false, T0 + 3 * S),
        ],
        T0 + 4 * S,
    );
    assert_eq!(
        p.actions,
        vec![
            failed("Failed due to unhealthy allocations", false),
            eval("deployment failed")
        ]
    );
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Failed);
    assert_eq!(
        (web(&p.watch).healthy_allocs, web(&p.watch).unhealthy_allocs),
        (1, 1)
    );
    assert!(!p.watch.allocs.contains_key(&AllocId::new("a3")));
}

#[test]
fn unhealthy_with_progress_deadline_does_not_fail() {
    let w = watch(vec![("web", group(2, 0, 600))]);
    let p = step(&w, &[health("a1", "web", false, false, T0 + S)], T0 + 2 * S);
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);
    assert_eq!(web(&p.watch).unhealthy_allocs, 1);
    assert_eq!(p.next_deadline, Some(T0 + 600 * S));
}

#[test]
fn healthy_allocs_extend_the_deadline() {
    let w = watch(vec![("web", group(3, 0, 600))]);
    let p = step(
        &w,
        &[health("a1", "web", true, false, T0 + 300 * S)],
        T0 + 301 * S,
    );
    assert_eq!(p.next_deadline, Some(T0 + 900 * S));
    // An earlier timestamp never moves the deadline back.
    let p = step(
        &p.watch,
        &[health("a2", "web", true, false, T0 + 100 * S)],
        T0 + 302 * S,
    );
    assert_eq!(p.next_deadline, Some(T0 + 900 * S));
    assert_eq!(web(&p.watch).healthy_allocs, 2);
    // Past the original T0+600, before T0+900: still running.
    let p = step(&p.watch, &[], T0 + 899 * S);
    assert!(p.actions.is_empty());
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);
    let p = step(&p.watch, &[], T0 + 900 * S);
    assert_eq!(p.actions[0], failed(DESCRIPTION_PROGRESS_DEADLINE, false));
}

#[test]
fn auto_promote_then_success() {
    let mut g = group(3, 1, 600);
    g.auto_promote = true;
    let w = watch(vec![("web", g)]);
    let p = step(&w, &[], T0 + S);
    assert_eq!(
        p.watch.deployment.status_description,
        DESCRIPTION_AUTO_PROMOTION
    );

    let p = step(
        &p.watch,
        &[health("c1", "web", true, true, T0 + 10 * S)],
        T0 + 20 * S,
    );
    assert_eq!(
        p.actions,
        vec![
            DeploymentAction::Promote {
                groups: vec!["web".to_owned()]
            },
            eval("deployment promoted")
        ]
    );
    assert!(web(&p.watch).promoted);
    // Promotion restarts the timer at now + 600s.
    assert_eq!(p.next_deadline, Some(T0 + 620 * S));
    assert_eq!(p.watch.deployment.status_description, DESCRIPTION_RUNNING);

    let p = step(
        &p.watch,
        &[health("a2", "web", true, false, T0 + 30 * S)],
        T0 + 31 * S,
    );
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
    assert_eq!(p.next_deadline, Some(T0 + 630 * S));
    let p = step(
        &p.watch,
        &[health("a3", "web", true, false, T0 + 40 * S)],
        T0 + 41 * S,
    );
    assert_eq!(
        p.actions,
        vec![
            DeploymentAction::MarkSuccessful,
            eval("allocation health changed")
        ]
    );
    assert_eq!(web(&p.watch).healthy_allocs, 3);
}

#[test]
fn canaries_without_auto_promote_wait_for_manual_promotion() {
    let w = watch(vec![("web", group(2, 1, 600))]);
    let p = step(&w, &[DeploymentEvent::Promote { groups: None }], T0 + S);
    assert_eq!(
        p.actions,
        vec![DeploymentAction::PromotionRejected {
            reason: "Task group \"web\" has 0/1 healthy allocations".to_owned()
        }]
    );
    assert!(!web(&p.watch).promoted);

    let p = step(
        &p.watch,
        &[health("c1", "web", true, true, T0 + 10 * S)],
        T0 + 11 * S,
    );
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
    assert_eq!(
        p.watch.deployment.status_description,
        DESCRIPTION_NEEDS_PROMOTION
    );
    // Enough healthy canaries: no deadline while waiting for the operator.
    assert_eq!(p.next_deadline, None);
    let p = step(&p.watch, &[], T0 + 10_000 * S);
    assert!(p.actions.is_empty());
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);

    let p = step(
        &p.watch,
        &[DeploymentEvent::Promote {
            groups: Some(vec!["web".to_owned()]),
        }],
        T0 + 10_000 * S,
    );
    assert_eq!(
        p.actions,
        vec![
            DeploymentAction::Promote {
                groups: vec!["web".to_owned()]
            },
            eval("deployment promoted")
        ]
    );
    assert_eq!(p.next_deadline, Some(T0 + 10_600 * S));
    let p = step(
        &p.watch,
        &[health("a2", "web", true, false, T0 + 10_100 * S)],
        T0 + 10_101 * S,
    );
    assert_eq!(p.actions[0], DeploymentAction::MarkSuccessful);
}

#[test]
fn promotion_of_unknown_group_or_without_canaries_is_rejected() {
    let w = watch(vec![("web", group(2, 0, 600))]);
    let p = step(
        &w,
        &[
            DeploymentEvent::Promote {
                groups: Some(vec!["db".to_owned()]),
            },
            DeploymentEvent::Promote { groups: None },
        ],
        T0,
    );
    assert_eq!(
        p.actions,
        vec![
            DeploymentAction::PromotionRejected {
                reason: "Deployment has no task group \"db\"".to_owned()
            },
            DeploymentAction::PromotionRejected {
                reason: "No canaries to promote".to_owned()
            },
        ]
    );
}

#[test]
fn pause_stops_the_deadline() {
    let w = watch(vec![("web", group(2, 0, 600))]);
    let p = step(&w, &[DeploymentEvent::Pause(true)], T0 + 100 * S);
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Paused);
    assert_eq!(p.watch.deployment.status_description, DESCRIPTION_PAUSED);
    assert_eq!(p.watch.paused_since, Some(T0 + 100 * S));
    assert_eq!(p.next_deadline, None);
    assert!(p.actions.is_empty());

    // Long past the deadline, still paused: nothing fails.
    let p = step(&p.watch, &[], T0 + 1_000 * S);
    assert!(p.actions.is_empty());
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Paused);

    // Resume after 900s paused: the deadline moves from T0+600 to T0+1500.
    let p = step(&p.watch, &[DeploymentEvent::Pause(false)], T0 + 1_000 * S);
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);
    assert_eq!(p.watch.deployment.status_description, DESCRIPTION_RUNNING);
    assert_eq!(p.watch.paused_since, None);
    assert!(p.actions.is_empty());
    assert_eq!(p.next_deadline, Some(T0 + 1_500 * S));
    let p = step(&p.watch, &[], T0 + 1_500 * S);
    assert_eq!(p.actions[0], failed(DESCRIPTION_PROGRESS_DEADLINE, false));
}

#[test]
fn paused_deployment_records_health_but_does_not_succeed() {
    let w = watch(vec![("web", group(1, 0, 600))]);
    let p = step(
        &w,
        &[
            DeploymentEvent::Pause(true),
            health("a1", "web", true, false, T0 + 10 * S),
        ],
        T0 + 11 * S,
    );
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Paused);
    assert_eq!(web(&p.watch).healthy_allocs, 1);
    let p = step(&p.watch, &[DeploymentEvent::Pause(false)], T0 + 20 * S);
    assert_eq!(p.actions, vec![DeploymentAction::MarkSuccessful]);
}

#[test]
fn repeated_health_for_one_alloc_counts_once() {
    let w = watch(vec![("web", group(2, 0, 600))]);
    let p = step(
        &w,
        &[
            health("a1", "web", true, false, T0 + 10 * S),
            health("a1", "web", true, false, T0 + 50 * S),
        ],
        T0 + 60 * S,
    );
    assert_eq!(web(&p.watch).healthy_allocs, 1);
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Running);
    // Only the transition to healthy is progress.
    assert_eq!(p.next_deadline, Some(T0 + 610 * S));

    // The same report again changes nothing.
    let again = step(
        &p.watch,
        &[health("a1", "web", true, false, T0 + 70 * S)],
        T0 + 70 * S,
    );
    assert!(again.actions.is_empty());
    assert_eq!(web(&again.watch).healthy_allocs, 1);

    // A later report replaces the earlier one.
    let p = step(
        &p.watch,
        &[health("a1", "web", false, false, T0 + 80 * S)],
        T0 + 80 * S,
    );
    assert_eq!(
        (web(&p.watch).healthy_allocs, web(&p.watch).unhealthy_allocs),
        (0, 1)
    );
    assert_eq!(p.actions, vec![eval("allocation health changed")]);
}

#[test]
fn events_for_unknown_groups_are_ignored() {
    let w = watch(vec![("web", group(1, 0, 600))]);
    let p = step(&w, &[health("x", "db", true, false, T0)], T0);
    assert_eq!(p.watch, w);
    assert!(p.actions.is_empty());
}

#[test]
fn operator_fail() {
    let mut g = group(1, 0, 600);
    g.auto_revert = true;
    let p = step(&watch(vec![("web", g)]), &[DeploymentEvent::Fail], T0);
    assert_eq!(
        p.actions,
        vec![
            failed("Deployment marked as failed", true),
            eval("deployment failed")
        ]
    );
    assert_eq!(p.watch.deployment.status, DeploymentStatus::Failed);
}

#[test]
fn next_deadline_is_the_earliest_of_unfinished_groups() {
    let mut api = group(1, 0, 300);
    api.require_progress_by = format_rfc3339_nanos(T0 + 300 * S);
    let w = watch(vec![
        ("api", api),
        ("web", group(2, 0, 600)),
        ("db", group(1, 0, 0)),
    ]);
    assert_eq!(step(&w, &[], T0).next_deadline, Some(T0 + 300 * S));
    // api done: its deadline no longer counts.
    let p = step(&w, &[health("a1", "api", true, false, T0 + S)], T0 + S);
    assert_eq!(p.next_deadline, Some(T0 + 600 * S));
}

#[test]
fn from_allocs_rebuilds_health() {
    let mut d = watch(vec![("web", group(3, 0, 600))]).deployment;
    d.status = DeploymentStatus::Paused;
    d.modify_time = T0 + 5 * S;
    let alloc = |id: &str, deployment: &str, group: &str, healthy: Option<bool>| Allocation {
        id: AllocId::new(id),
        deployment_id: DeploymentId::new(deployment),
        task_group: group.to_owned(),
        modify_time: T0 + 7 * S,
        deployment_status: Some(Box::new(AllocDeploymentStatus {
            healthy,
            timestamp: "2023-11-14T22:13:21.5Z".to_owned(),
            canary: false,
            modify_index: 0,
        })),
        ..Allocation::default()
    };
    let w = DeploymentWatch::from_allocs(
        d,
        &[
            alloc("a1", "d1", "web", Some(true)),
            alloc("a2", "d1", "web", Some(false)),
            alloc("a3", "d1", "web", None),
            alloc("a4", "d0", "web", Some(true)),
            alloc("a5", "d1", "db", Some(true)),
        ],
    );
    assert_eq!(w.allocs.len(), 2);
    assert_eq!(w.allocs[&AllocId::new("a1")].at, T0 + S + S / 2);
    assert_eq!((web(&w).healthy_allocs, web(&w).unhealthy_allocs), (1, 1));
    assert_eq!(w.paused_since, Some(T0 + 5 * S));
}

#[test]
fn rfc3339_round_trip() {
    assert_eq!(format_rfc3339_nanos(0), "1970-01-01T00:00:00Z");
    assert_eq!(format_rfc3339_nanos(T0), "2023-11-14T22:13:20Z");
    assert_eq!(
        format_rfc3339_nanos(T0 + 500_000_000),
        "2023-11-14T22:13:20.5Z"
    );
    assert_eq!(format_rfc3339_nanos(-1), "1969-12-31T23:59:59.999999999Z");
    for t in [0, T0, T0 + 1, -1, 951_782_400 * S] {
        assert_eq!(parse_rfc3339_nanos(&format_rfc3339_nanos(t)), Some(t));
    }
    assert_eq!(
        parse_rfc3339_nanos("2000-02-29T00:00:00Z"),
        Some(951_782_400 * S)
    );
    assert_eq!(parse_rfc3339_nanos("1970-01-01T01:00:00+01:00"), Some(0));
    assert_eq!(parse_rfc3339_nanos(""), None);
    assert_eq!(parse_rfc3339_nanos("0001-01-01T00:00:00Z"), None);
    assert_eq!(parse_rfc3339_nanos("2023-02-29T00:00:00Z"), None);
}
