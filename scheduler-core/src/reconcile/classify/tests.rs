//! The classification table, one case per line: how the allocation is set
//! up, the node it sits on, the group's disconnect settings, the class.
//! Times are Unix nanoseconds around `T0` = 2023-11-14T22:13:20Z.

use super::*;
use crate::model::{
    AllocDeploymentStatus, AllocState, DisconnectStrategy, Duration, Job, SchedulingEligibility,
};

const SEC: i64 = 1_000_000_000;
/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000 * SEC;
const T0_TEXT: &str = "2023-11-14T22:13:20Z";
/// The disconnect window of the groups that have one.
const WINDOW: i64 = 300 * SEC;

#[derive(Debug, Clone, Copy)]
enum NodeSetup {
    Ready,
    Initializing,
    Draining,
    Ineligible,
    Down,
    Disconnected,
    Gone,
}

fn node(setup: NodeSetup) -> Option<Node> {
    let mut node = Node {
        id: NodeId::new("node-1"),
        status: NodeStatus::Ready,
        ..Node::default()
    };
    match setup {
        NodeSetup::Ready => {}
        NodeSetup::Initializing => node.status = NodeStatus::Initializing,
        NodeSetup::Draining => {
            node.drain_strategy = Some(Default::default());
            node.scheduling_eligibility = SchedulingEligibility::Ineligible;
        }
        NodeSetup::Ineligible => node.scheduling_eligibility = SchedulingEligibility::Ineligible,
        NodeSetup::Down => node.status = NodeStatus::Down,
        NodeSetup::Disconnected => node.status = NodeStatus::Disconnected,
        NodeSetup::Gone => return None,
    }
    Some(node)
}

/// No disconnect settings at all.
fn plain() -> TaskGroup {
    TaskGroup::new("web", 1, Vec::new())
}

/// `disconnect { lost_after = WINDOW }`.
fn lost_after() -> TaskGroup {
    TaskGroup {
        disconnect: Some(DisconnectStrategy {
            lost_after: Some(Duration(WINDOW)),
            ..DisconnectStrategy::default()
        }),
        ..plain()
    }
}

/// Deprecated `max_client_disconnect = WINDOW`.
fn max_client_disconnect() -> TaskGroup {
    TaskGroup {
        max_client_disconnect: Some(Duration(WINDOW)),
        ..plain()
    }
}

/// `disconnect { replace = false }`, no lost timeout.
fn no_replace() -> TaskGroup {
    TaskGroup {
        disconnect: Some(DisconnectStrategy {
            replace: Some(false),
            ..DisconnectStrategy::default()
        }),
        ..plain()
    }
}

/// Deprecated `prevent_reschedule_on_lost = true`.
fn prevent_reschedule() -> TaskGroup {
    TaskGroup {
        prevent_reschedule_on_lost: true,
        ..plain()
    }
}

fn alloc(id: &str) -> Allocation {
    Allocation {
        id: id.into(),
        node_id: NodeId::new("node-1"),
        task_group: "web".to_owned(),
        client_status: AllocClientStatus::Running,
        desired_status: AllocDesiredStatus::Run,
        ..Allocation::default()
    }
}

fn state(value: &str, time: &str) -> AllocState {
    AllocState {
        field: 0,
        value: value.to_owned(),
        time: time.to_owned(),
    }
}

// Allocation setups.
fn running(_: &mut Allocation) {}
fn pending(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Pending;
}
fn complete(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Complete;
}
fn failed(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Failed;
}
fn stopped(a: &mut Allocation) {
    a.desired_status = AllocDesiredStatus::Stop;
}
fn evicted_complete(a: &mut Allocation) {
    a.desired_status = AllocDesiredStatus::Evict;
    a.client_status = AllocClientStatus::Complete;
}
fn migrating(a: &mut Allocation) {
    a.desired_transition.migrate = Some(true);
}
fn complete_canary_migrating(a: &mut Allocation) {
    complete(a);
    migrating(a);
    a.deployment_status = Some(Box::new(AllocDeploymentStatus {
        canary: true,
        ..AllocDeploymentStatus::default()
    }));
}
fn complete_migrating(a: &mut Allocation) {
    complete(a);
    migrating(a);
}
/// Marked unknown by the servers at `T0`.
fn unknown(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Unknown;
    a.alloc_states = vec![
        state("running", "2023-11-14T22:00:00Z"),
        state("unknown", T0_TEXT),
    ];
    a.modify_time = T0 - 100 * SEC;
}
/// Unknown at `T0`, but the time is only known from `modify_time`.
fn unknown_no_states(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Unknown;
    a.modify_time = T0;
}
/// Unknown with no time at all: never expires.
fn unknown_no_time(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Unknown;
}
/// Unknown twice; the later mark (`T0`) counts.
fn unknown_twice(a: &mut Allocation) {
    a.client_status = AllocClientStatus::Unknown;
    a.alloc_states = vec![
        state("unknown", "2023-11-14T21:00:00Z"),
        state("running", "2023-11-14T21:30:00Z"),
        state("unknown", "2023-11-14T23:13:20+01:00"),
    ];
}
/// The client reported `running` after having been unknown at `T0`, and
/// the servers have not recorded it yet.
fn running_after_unknown(a: &mut Allocation) {
    a.alloc_states = vec![state("unknown", T0_TEXT)];
}
fn failed_after_unknown(a: &mut Allocation) {
    failed(a);
    running_after_unknown(a);
}
fn failed_after_unknown_stopped(a: &mut Allocation) {
    failed_after_unknown(a);
    stopped(a);
}
fn stopped_after_unknown(a: &mut Allocation) {
    stopped(a);
    running_after_unknown(a);
}
/// Embeds a job version whose group has `lost_after`.
fn embeds_lost_after(a: &mut Allocation) {
    a.job = Some(std::sync::Arc::new(Job {
        task_groups: vec![lost_after()],
        ..Job::default()
    }));
}
/// Embeds a job version whose group has no disconnect settings.
fn embeds_plain(a: &mut Allocation) {
    a.job = Some(std::sync::Arc::new(Job {
        task_groups: vec![plain()],
        ..Job::default()
    }));
}

fn check(
    setup: fn(&mut Allocation),
    node_setup: NodeSetup,
    group: fn() -> TaskGroup,
    now: i64,
    expected: AllocClass,
) {
    let mut a = alloc("a1");
    setup(&mut a);
    let node = node(node_setup);
    let group = group();
    let got = classify_alloc(&a, node.as_ref(), &group, now);
    assert_eq!(
        got,
        expected,
        "alloc {a:?}\non {node_setup:?} node at now = T0 + {}s",
        (now - T0) / SEC
    );
    // The batch entry point agrees and files the allocation under its class.
    let nodes: BTreeMap<NodeId, Node> = node.into_iter().map(|n| (n.id.clone(), n)).collect();
    let classified = classify(&[&a], |id| nodes.get(id), &group, now);
    for class in AllocClass::ALL {
        let expected_len = usize::from(class == expected);
        assert_eq!(
            classified.get(class).len(),
            expected_len,
            "{}",
            class.as_str()
        );
    }
}

use AllocClass::*;
use NodeSetup::*;
use std::collections::BTreeMap;

#[test]
fn up_nodes() {
    let now = T0;
    check(running, Ready, plain, now, Untainted);
    check(pending, Ready, plain, now, Untainted);
    check(running, Initializing, plain, now, Untainted);
    // A draining node's allocations stay until the drainer flags them.
    check(running, Draining, plain, now, Untainted);
    check(running, Ineligible, plain, now, Untainted);
}

#[test]
fn migrate_flag() {
    let now = T0;
    check(migrating, Draining, plain, now, Migrate);
    check(migrating, Ineligible, plain, now, Migrate);
    // Nomad honours the flag whatever the node; it wins over down and gone.
    check(migrating, Ready, plain, now, Migrate);
    check(migrating, Down, plain, now, Migrate);
    check(migrating, Gone, plain, now, Migrate);
    // ...but not over a disconnected node.
    check(migrating, Disconnected, plain, now, Lost);
    check(migrating, Disconnected, lost_after, now, Disconnecting);
    // Terminal allocations migrate only when they are canaries.
    check(complete_canary_migrating, Draining, plain, now, Migrate);
    check(complete_migrating, Draining, plain, now, Untainted);
}

#[test]
fn terminal() {
    let now = T0;
    check(stopped, Ready, plain, now, Ignore);
    check(evicted_complete, Down, plain, now, Ignore);
    check(stopped, Gone, lost_after, now, Ignore);
    // Client-terminal allocations are untainted wherever they are, so the
    // reschedule logic sees the failed ones.
    check(failed, Ready, plain, now, Untainted);
    check(failed, Down, plain, now, Untainted);
    check(complete, Gone, plain, now, Untainted);
    check(failed, Disconnected, lost_after, now, Untainted);
}

#[test]
fn lost_nodes() {
    let now = T0;
    check(running, Down, plain, now, Lost);
    check(pending, Down, plain, now, Lost);
    check(running, Gone, plain, now, Lost);
    check(running, Down, lost_after, now, Lost);
    check(running, Gone, lost_after, now, Lost);
    // replace = false keeps running allocations of a down node.
    check(running, Down, no_replace, now, Disconnecting);
    check(running, Down, prevent_reschedule, now, Disconnecting);
    check(unknown_no_time, Down, no_replace, now, Untainted);
    check(pending, Down, no_replace, now, Lost);
    check(running, Gone, no_replace, now, Lost);
}

#[test]
fn disconnected_nodes() {
    let now = T0;
    // A group without disconnect settings loses them.
    check(running, Disconnected, plain, now, Lost);
    check(running, Disconnected, no_replace, now, Lost);
    check(running, Disconnected, lost_after, now, Disconnecting);
    check(
        running,
        Disconnected,
        max_client_disconnect,
        now,
        Disconnecting,
    );
    check(pending, Disconnected, lost_after, now, Lost);
    // Already unknown and inside the window: wait for the node.
    check(unknown, Disconnected, lost_after, now, Untainted);
    check(unknown_no_time, Disconnected, plain, now, Untainted);
}

#[test]
fn expiry_boundaries() {
    for group in [lost_after as fn() -> TaskGroup, max_client_disconnect] {
        check(unknown, Disconnected, group, T0 + WINDOW - 1, Untainted);
        check(unknown, Disconnected, group, T0 + WINDOW, Expiring);
        check(unknown, Disconnected, group, T0 + WINDOW + 1, Expiring);
        check(unknown, Ready, group, T0 + WINDOW - 1, Reconnecting);
        check(unknown, Ready, group, T0 + WINDOW, Expiring);
        check(unknown, Down, group, T0 + WINDOW, Expiring);
        check(unknown, Gone, group, T0 + WINDOW - 1, Lost);
    }
    // No window: unknown allocations expire as they become unknown when
    // they must not be replaced, and never otherwise.
    check(unknown, Disconnected, no_replace, T0 - 1, Untainted);
    check(unknown, Disconnected, no_replace, T0, Expiring);
    check(unknown, Disconnected, plain, T0 + 1000 * WINDOW, Untainted);
    // The latest unknown mark counts, offsets included.
    check(
        unknown_twice,
        Disconnected,
        lost_after,
        T0 + WINDOW - 1,
        Untainted,
    );
    check(
        unknown_twice,
        Disconnected,
        lost_after,
        T0 + WINDOW,
        Expiring,
    );
    // Without alloc_states, modify_time is the time it became unknown.
    check(
        unknown_no_states,
        Disconnected,
        lost_after,
        T0 + WINDOW - 1,
        Untainted,
    );
    check(
        unknown_no_states,
        Disconnected,
        lost_after,
        T0 + WINDOW,
        Expiring,
    );
    // Without any time it never expires.
    check(
        unknown_no_time,
        Disconnected,
        lost_after,
        T0 + 1000 * WINDOW,
        Untainted,
    );
    // Only unknown allocations expire.
    check(
        running_after_unknown,
        Ready,
        lost_after,
        T0 + 1000 * WINDOW,
        Reconnecting,
    );
}

#[test]
fn reconnects() {
    let now = T0 + 10 * SEC;
    check(unknown, Ready, lost_after, now, Reconnecting);
    check(unknown, Draining, lost_after, now, Reconnecting);
    check(running_after_unknown, Ready, lost_after, now, Reconnecting);
    check(
        running_after_unknown,
        Initializing,
        lost_after,
        now,
        Reconnecting,
    );
    // A failed reconnect goes through the reconnect logic...
    check(failed_after_unknown, Ready, lost_after, now, Reconnecting);
    check(failed_after_unknown, Down, plain, now, Reconnecting);
    // ...unless the servers already stopped it.
    check(failed_after_unknown_stopped, Ready, lost_after, now, Ignore);
    // A server-stopped allocation that reconnects is not ignored.
    check(stopped_after_unknown, Ready, lost_after, now, Reconnecting);
    // The latest client-status mark decides: unknown again...
    check(unknown_twice, Ready, lost_after, now, Reconnecting);
    // ...or a later `running` mark: it already reconnected.
    check(
        |a| {
            a.alloc_states = vec![state("unknown", T0_TEXT), state("running", T0_TEXT)];
        },
        Ready,
        lost_after,
        now,
        Untainted,
    );
    // Pending and complete allocations never reconnect.
    check(
        |a| {
            pending(a);
            running_after_unknown(a);
        },
        Ready,
        lost_after,
        now,
        Untainted,
    );
}

#[test]
fn settings_come_from_the_allocations_job_version() {
    let now = T0;
    check(embeds_lost_after, Disconnected, plain, now, Disconnecting);
    check(embeds_plain, Disconnected, lost_after, now, Lost);
    // A job without the group falls back to the group argument.
    check(
        |a| {
            embeds_lost_after(a);
            a.task_group = "other".to_owned();
        },
        Disconnected,
        plain,
        now,
        Lost,
    );
}

#[test]
fn lost_after_wins_over_max_client_disconnect() {
    let group = TaskGroup {
        max_client_disconnect: Some(Duration(10 * WINDOW)),
        ..lost_after()
    };
    let mut a = alloc("a1");
    unknown(&mut a);
    let node = node(Disconnected);
    assert_eq!(
        classify_alloc(&a, node.as_ref(), &group, T0 + WINDOW),
        Expiring
    );
    // A zero lost_after falls back to max_client_disconnect.
    let group = TaskGroup {
        disconnect: Some(DisconnectStrategy {
            lost_after: Some(Duration::ZERO),
            ..DisconnectStrategy::default()
        }),
        ..max_client_disconnect()
    };
    assert_eq!(
        classify_alloc(&a, node.as_ref(), &group, T0 + WINDOW - 1),
        Untainted
    );
    assert_eq!(
        classify_alloc(&a, node.as_ref(), &group, T0 + WINDOW),
        Expiring
    );
}

#[test]
fn output_is_sorted_by_id_and_independent_of_input_order() {
    let nodes: BTreeMap<NodeId, Node> = [
        ("ready", NodeStatus::Ready),
        ("down", NodeStatus::Down),
        ("disc", NodeStatus::Disconnected),
    ]
    .into_iter()
    .map(|(id, status)| {
        let node = Node {
            id: NodeId::new(id),
            status,
            ..Node::default()
        };
        (node.id.clone(), node)
    })
    .collect();
    let on = |id: &str, node: &str, setup: fn(&mut Allocation)| {
        let mut a = alloc(id);
        a.node_id = NodeId::new(node);
        setup(&mut a);
        a
    };
    let allocs = [
        on("e", "ready", running),
        on("c", "down", running),
        on("a", "ready", running),
        on("f", "gone", running),
        on("b", "disc", running),
        on("d", "ready", stopped),
        on("g", "disc", running),
        on("h", "ready", migrating),
        on("i", "disc", unknown),
        on("j", "ready", unknown),
    ];
    let refs: Vec<&Allocation> = allocs.iter().collect();
    let group = lost_after();
    let now = T0 + WINDOW;
    let classified = classify(&refs, |id| nodes.get(id), &group, now);
    let ids = |class: AllocClass| -> Vec<&str> {
        classified
            .get(class)
            .iter()
            .map(|a| a.id.as_str())
            .collect()
    };
    assert_eq!(ids(Untainted), ["a", "e"]);
    assert_eq!(ids(Migrate), ["h"]);
    assert_eq!(ids(Lost), ["c", "f"]);
    assert_eq!(ids(Disconnecting), ["b", "g"]);
    assert_eq!(ids(Reconnecting), Vec::<&str>::new());
    assert_eq!(ids(Ignore), ["d"]);
    assert_eq!(ids(Expiring), ["i", "j"]);

    let reversed: Vec<&Allocation> = refs.iter().rev().copied().collect();
    assert_eq!(
        classify(&reversed, |id| nodes.get(id), &group, now),
        classified
    );
}

#[test]
fn rfc3339_parsing() {
    assert_eq!(parse_rfc3339_nanos(T0_TEXT), Some(T0));
    assert_eq!(
        parse_rfc3339_nanos("2023-11-14T23:13:20.5+01:00"),
        Some(T0 + SEC / 2)
    );
    assert_eq!(parse_rfc3339_nanos("2023-02-29T00:00:00Z"), None);
    assert_eq!(parse_rfc3339_nanos("0001-01-01T00:00:00Z"), None);
    assert_eq!(parse_rfc3339_nanos(""), None);
}
