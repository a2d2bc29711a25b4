//! Job updates: in place or destructive, `max_parallel`, canaries and
//! promotion, and the deployments that carry them.

use super::*;

// 3. Updates.

#[test]
fn count_only_change_updates_existing_allocations_in_place() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(2, "nginx:1", ""));
    c.running(2, &v0);
    let v1 = c.job(&service(3, "nginx:1", ""));
    assert!(v1.job_modify_index > v0.job_modify_index);
    let r = c.reconcile();
    assert_eq!(inplace(&r), ["a0", "a1"]);
    assert_eq!(places(&r), ["web.web[2] Missing"]);
    assert!(r.stop.is_empty());
    let d = desired(&r);
    assert_eq!(
        (d.in_place_update, d.destructive_update, d.place),
        (2, 0, 1)
    );
    assert!(r.deployment.is_some(), "the new version rolls out");
}

#[test]
fn image_change_replaces_at_most_max_parallel_allocations() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(4, "nginx:1", STRICT));
    c.running(4, &v0);
    c.job(&service(4, "nginx:2", STRICT));
    let r = c.reconcile();
    assert_eq!(
        places(&r),
        [
            "web.web[0] Destructive <- a0",
            "web.web[1] Destructive <- a1"
        ]
    );
    assert_eq!(
        stops(&r),
        [format!("a0: {STOP_UPDATE}"), format!("a1: {STOP_UPDATE}")]
    );
    assert!(r.inplace.is_empty());
    let d = desired(&r);
    assert_eq!(
        (d.destructive_update, d.ignore, d.stop, d.place),
        (2, 2, 0, 0)
    );
    let deployment = r
        .deployment
        .as_ref()
        .expect("a deployment for the new version");
    assert!(
        r.place
            .iter()
            .all(|p| p.deployment_id.as_ref() == Some(&deployment.id))
    );
}

/// Four allocations: `web[0]` already runs the new version under the
/// current deployment with `health`, `web[1..3]` run the old one.
fn rolling(health: Option<bool>, status: DeploymentStatus) -> Cluster {
    let mut c = Cluster::new();
    let v0 = c.job(&service(4, "nginx:1", STRICT));
    c.alloc("a0-old", 0, "n1", &v0, |a| {
        a.desired_status = AllocDesiredStatus::Stop;
        a.client_status = AllocClientStatus::Complete;
    });
    for i in 1..4 {
        c.alloc(&format!("a{i}"), i, "n2", &v0, |_| {});
    }
    let v1 = c.job(&service(4, "nginx:2", STRICT));
    c.deployment(deployment("d1", &v1, status, |_| {}));
    c.alloc("a0", 0, "n1", &v1, |a| {
        a.deployment_id = DeploymentId::new("d1");
        a.deployment_status = health.map(|h| {
            Box::new(AllocDeploymentStatus {
                healthy: Some(h),
                ..Default::default()
            })
        });
    });
    c
}

#[test]
fn replacement_not_yet_healthy_uses_up_one_parallel_slot() {
    let c = rolling(None, DeploymentStatus::Running);
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[1] Destructive <- a1"]);
    assert_eq!(stops(&r), [format!("a1: {STOP_UPDATE}")]);
    let d = desired(&r);
    assert_eq!((d.destructive_update, d.ignore), (1, 3));
    assert!(r.deployment_updates.is_empty());
}

#[test]
fn healthy_replacement_frees_its_parallel_slot() {
    let c = rolling(Some(true), DeploymentStatus::Running);
    let r = c.reconcile();
    assert_eq!(
        places(&r),
        [
            "web.web[1] Destructive <- a1",
            "web.web[2] Destructive <- a2"
        ]
    );
    assert!(
        r.place
            .iter()
            .all(|p| p.deployment_id.as_ref().map(DeploymentId::as_str) == Some("d1"))
    );
}

#[test]
fn unhealthy_replacement_halts_the_rollout() {
    let c = rolling(Some(false), DeploymentStatus::Running);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    let d = desired(&r);
    assert_eq!((d.destructive_update, d.ignore), (0, 4));
}

#[test]
fn paused_deployment_replaces_nothing() {
    let c = rolling(Some(true), DeploymentStatus::Paused);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(desired(&r).ignore, 4);
}

#[test]
fn failed_deployment_replaces_nothing() {
    let c = rolling(Some(true), DeploymentStatus::Failed);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    assert_eq!(desired(&r).ignore, 4);
    assert!(r.deployment.is_none(), "a failed deployment is not revived");
}

// 4. Canaries.

const CANARY: &str = "update {\n max_parallel = 1\n canary = 1\n }";

#[test]
fn destructive_change_with_canary_places_one_canary_first() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(2, "nginx:1", CANARY));
    c.running(2, &v0);
    c.job(&service(2, "nginx:2", CANARY));
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Canary"]);
    assert!(r.place[0].is_canary());
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    let d = desired(&r);
    assert_eq!((d.canary, d.destructive_update, d.ignore), (1, 0, 2));
    let deployment = r.deployment.as_ref().expect("a deployment");
    assert_eq!(r.place[0].deployment_id.as_ref(), Some(&deployment.id));
    assert_eq!(deployment.task_groups["web"].desired_canaries, 1);
    assert_eq!(deployment.task_groups["web"].desired_total, 2);
    assert_eq!(deployment.status_description, DESCRIPTION_NEEDS_PROMOTION);
}

/// `web[0..2]` of the old version, a healthy canary `web[0]` of the new
/// one under deployment `d1`, promoted or not.
fn canaried(promoted: bool) -> Cluster {
    let mut c = Cluster::new();
    let v0 = c.job(&service(2, "nginx:1", CANARY));
    c.running(2, &v0);
    let v1 = c.job(&service(2, "nginx:2", CANARY));
    c.deployment(deployment("d1", &v1, DeploymentStatus::Running, |s| {
        s.desired_canaries = 1;
        s.placed_canaries = vec![AllocId::new("canary")];
        s.promoted = promoted;
    }));
    c.alloc("canary", 0, "n3", &v1, |a| {
        a.deployment_id = DeploymentId::new("d1");
        a.deployment_status = health(Some(true), true);
    });
    c
}

#[test]
fn unpromoted_canary_waits_and_replaces_nothing() {
    let c = canaried(false);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty(), "{:?}", stops(&r));
    let d = desired(&r);
    assert_eq!((d.canary, d.destructive_update, d.ignore), (0, 0, 3));
}

#[test]
fn promotion_stops_the_old_allocation_sharing_the_canary_name() {
    let c = canaried(true);
    let r = c.reconcile();
    let stopped = stops(&r);
    assert!(
        stopped.contains(&format!("a0: {STOP_UNNEEDED}")),
        "{stopped:?}"
    );
    assert!(
        r.stop.iter().all(|s| s.alloc.id.as_str() != "canary"),
        "the canary stays: {stopped:?}"
    );
    assert!(
        r.place.iter().all(|p| p.reason != PlaceReason::Canary),
        "{:?}",
        places(&r)
    );
    // The other old allocation rolls on under max_parallel 1.
    assert_eq!(places(&r), ["web.web[1] Destructive <- a1"]);
}

#[test]
fn canary_of_an_older_deployment_is_stopped() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(1, "nginx:1", CANARY));
    c.alloc("a0", 0, "n1", &v0, |_| {});
    c.deployment(deployment("d0", &v0, DeploymentStatus::Cancelled, |s| {
        s.desired_canaries = 1;
    }));
    c.alloc("stale", 0, "n2", &v0, |a| {
        a.deployment_id = DeploymentId::new("d-other");
        a.deployment_status = health(Some(true), true);
    });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("stale: {STOP_CANARY}")]);
    assert!(r.place.is_empty(), "{:?}", places(&r));
}

// 8. Older deployments.

#[test]
fn job_update_cancels_the_deployment_of_the_previous_version() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(2, "nginx:1", ""));
    c.running(2, &v0);
    c.deployment(deployment("d0", &v0, DeploymentStatus::Running, |_| {}));
    c.job(&service(2, "nginx:2", ""));
    let r = c.reconcile();
    assert_eq!(
        r.deployment_updates,
        [DeploymentStatusUpdate {
            deployment_id: DeploymentId::new("d0"),
            status: DeploymentStatus::Cancelled,
            status_description: DEPLOYMENT_CANCELLED_NEWER.to_owned(),
        }]
    );
    let d = r
        .deployment
        .as_ref()
        .expect("a deployment for the new version");
    assert_eq!(d.id.as_str(), "id-1");
    assert_eq!(d.job_version, c.stored_job().unwrap().version);
    assert_eq!(places(&r), ["web.web[0] Destructive <- a0"]);
}

#[test]
fn unchanged_job_keeps_its_running_deployment() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.running(2, &job);
    c.deployment(deployment("d1", &job, DeploymentStatus::Running, |_| {}));
    let r = c.reconcile();
    assert!(r.deployment_updates.is_empty());
    assert!(r.deployment.is_none(), "nothing changed in the deployment");
    assert!(r.place.is_empty() && r.stop.is_empty());
    assert_eq!(desired(&r).ignore, 2);
}

#[test]
fn scale_down_with_image_change_stops_the_surplus_and_replaces_the_rest() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(4, "nginx:1", STRICT));
    c.running(4, &v0);
    c.job(&service(2, "nginx:2", STRICT));
    let r = c.reconcile();
    assert_eq!(
        stops(&r),
        [
            format!("a0: {STOP_UPDATE}"),
            format!("a1: {STOP_UPDATE}"),
            format!("a2: {STOP_UNNEEDED}"),
            format!("a3: {STOP_UNNEEDED}"),
        ]
    );
    assert_eq!(
        places(&r),
        [
            "web.web[0] Destructive <- a0",
            "web.web[1] Destructive <- a1"
        ]
    );
    let d = desired(&r);
    assert_eq!((d.stop, d.destructive_update, d.ignore), (2, 2, 0));
}

#[test]
fn newer_version_during_canaries_stops_the_old_canary_and_starts_over() {
    let mut c = canaried(false);
    c.job(&service(2, "nginx:3", CANARY));
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("canary: {STOP_CANARY}")]);
    assert_eq!(places(&r), ["web.web[0] Canary"]);
    assert_eq!(r.deployment_updates.len(), 1);
    assert_eq!(r.deployment_updates[0].deployment_id.as_str(), "d1");
    assert_eq!(
        r.deployment_updates[0].status_description,
        DEPLOYMENT_CANCELLED_NEWER
    );
    let d = r.deployment.as_ref().expect("a new deployment");
    assert_eq!(d.id.as_str(), "id-1");
    assert_eq!(d.task_groups["web"].desired_canaries, 1);
}

#[test]
fn blue_green_promotion_stops_every_old_allocation() {
    let mut c = Cluster::new();
    let bg = "update {\n max_parallel = 2\n canary = 2\n }";
    let v0 = c.job(&service(2, "nginx:1", bg));
    c.running(2, &v0);
    let v1 = c.job(&service(2, "nginx:2", bg));
    c.deployment(deployment("d1", &v1, DeploymentStatus::Running, |s| {
        s.desired_canaries = 2;
        s.promoted = true;
    }));
    for i in 0..2 {
        c.alloc(&format!("c{i}"), i, "n3", &v1, |a| {
            a.deployment_id = DeploymentId::new("d1");
            a.deployment_status = health(Some(true), true);
        });
    }
    let r = c.reconcile();
    assert_eq!(
        stops(&r),
        [
            format!("a0: {STOP_UNNEEDED}"),
            format!("a1: {STOP_UNNEEDED}")
        ]
    );
    assert!(r.place.is_empty(), "{:?}", places(&r));
    let d = desired(&r);
    assert_eq!((d.stop, d.ignore), (2, 2));
}

#[test]
fn lost_replacements_use_up_the_parallel_slots_of_a_rollout() {
    // max_parallel 1: replacing the allocation lost with n1 takes the one
    // slot, so no old allocation is replaced by the new version yet.
    let mut c = Cluster::new();
    let v0 = c.job(&service(3, "nginx:1", ""));
    c.running(3, &v0);
    c.node("n1", NodeStatus::Down, false);
    c.job(&service(3, "nginx:2", ""));
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Lost <- a0"]);
    assert_eq!(stops(&r), [format!("a0: {STOP_LOST}")]);
    assert_eq!(desired(&r).destructive_update, 0);
}

#[test]
fn a_migrating_canary_counts_as_a_stop_and_is_placed_again_as_a_canary() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(
        2,
        "nginx:1",
        "update {\n max_parallel = 1\n canary = 1\n }",
    ));
    c.running(2, &v0);
    let v1 = c.job(&service(
        2,
        "nginx:2",
        "update {\n max_parallel = 1\n canary = 1\n }",
    ));
    c.deployment(deployment("d1", &v1, DeploymentStatus::Running, |s| {
        s.desired_canaries = 1;
        s.placed_canaries = vec![AllocId::new("c0")];
    }));
    c.alloc("c0", 0, "n2", &v1, |a| {
        a.deployment_id = DeploymentId::new("d1");
        a.deployment_status = health(Some(true), true);
        a.desired_transition.migrate = Some(true);
    });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("c0: {STOP_MIGRATE}")]);
    assert_eq!(places(&r), ["web.web[0] Canary"]);
    let d = desired(&r);
    assert_eq!((d.stop, d.migrate, d.canary), (1, 0, 1));
}

/// A deployment waiting on one canary, the canary failed at `failed`.
fn failed_canary(failed: i64) -> Cluster {
    let update = "update {\n max_parallel = 1\n canary = 1\n }";
    let mut c = Cluster::new();
    let v0 = c.job(&service(2, "nginx:1", update));
    c.running(2, &v0);
    let v1 = c.job(&service(2, "nginx:2", update));
    c.deployment(deployment("d1", &v1, DeploymentStatus::Running, |s| {
        s.desired_canaries = 1;
        s.placed_canaries = vec![AllocId::new("c0")];
    }));
    c.alloc("c0", 0, "n2", &v1, |a| {
        a.deployment_id = DeploymentId::new("d1");
        a.deployment_status = health(Some(false), true);
        a.desired_transition.reschedule = Some(true);
        failed_at(a, failed);
    });
    c
}

#[test]
fn a_failed_canary_waits_for_its_reschedule_delay() {
    let c = failed_canary(NOW);
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert_eq!(r.followup_evals.len(), 1);
    assert_eq!(desired(&r).reschedule_later, 1);
}

#[test]
fn a_rescheduled_canary_is_replaced_by_a_canary_that_avoids_its_node() {
    let c = failed_canary(NOW - HOUR);
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Canary <- c0"]);
    assert!(r.place[0].reschedule_delay.is_some());
    assert_eq!(stops(&r), [format!("c0: {STOP_RESCHEDULED}")]);
    let d = desired(&r);
    assert_eq!((d.canary, d.reschedule_now, d.stop), (1, 1, 0));
}
