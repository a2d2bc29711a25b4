//! What the reconciler decides for one job, scenario by scenario: a small
//! cluster in a [`crate::state::MemoryState`], jobs written in HCL and
//! allocations built by hand ([`fixture`]); the assertions read names,
//! reasons, stop descriptions and the per-group counts. New jobs, counts,
//! stopped jobs and determinism are here; updates, canaries and deployments
//! in [`rollout`]; rescheduling and tainted nodes in [`failures`].

mod failures;
mod fixture;
mod rollout;

use super::*;
use crate::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocDesiredStatus, AllocId, NodeStatus,
};
use crate::reconcile::deployment_progress::DESCRIPTION_NEEDS_PROMOTION;
use fixture::*;

// 1. New jobs.

#[test]
fn new_service_job_places_every_index_under_a_new_deployment() {
    let mut c = Cluster::new();
    let job = c.job(&service(3, "nginx:1", ""));
    let r = c.reconcile();
    assert_eq!(
        places(&r),
        [
            "web.web[0] Missing",
            "web.web[1] Missing",
            "web.web[2] Missing"
        ]
    );
    assert!(r.stop.is_empty() && r.inplace.is_empty());
    assert_eq!(
        desired(&r),
        crate::scheduler::DesiredUpdates {
            place: 3,
            ..Default::default()
        }
    );
    let d = r.deployment.as_ref().expect("a new deployment");
    assert_eq!(d.id.as_str(), "id-1");
    assert_eq!(d.status, DeploymentStatus::Running);
    assert_eq!(d.job_version, job.version);
    assert_eq!(d.job_create_index, job.create_index);
    assert_eq!(d.task_groups["web"].desired_total, 3);
    assert_eq!(d.task_groups["web"].desired_canaries, 0);
    assert!(
        r.place
            .iter()
            .all(|p| p.deployment_id.as_ref().map(DeploymentId::as_str) == Some("id-1")),
        "placements belong to the new deployment"
    );
    assert!(r.followup_evals.is_empty() && r.deployment_updates.is_empty());
}

#[test]
fn new_batch_job_places_without_a_deployment() {
    let mut c = Cluster::new();
    c.job(&batch(2, "busybox"));
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Missing", "web.web[1] Missing"]);
    assert!(r.deployment.is_none());
    assert!(r.place.iter().all(|p| p.deployment_id.is_none()));
}

#[test]
fn new_service_job_with_max_parallel_zero_places_without_a_deployment() {
    let mut c = Cluster::new();
    c.job(&service(2, "nginx:1", "update {\n max_parallel = 0\n }"));
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[0] Missing", "web.web[1] Missing"]);
    assert!(r.deployment.is_none());
    assert!(r.place.iter().all(|p| p.deployment_id.is_none()));
}

// 2. Count.

#[test]
fn scale_up_fills_the_lowest_free_indexes() {
    let mut c = Cluster::new();
    let job = c.job(&service(4, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a2", 2, "n2", &job, |_| {});
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[1] Missing", "web.web[3] Missing"]);
    assert!(r.stop.is_empty());
    let d = desired(&r);
    assert_eq!((d.place, d.ignore, d.stop), (2, 2, 0));
}

#[test]
fn scale_down_stops_the_highest_indexes_first() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.running(4, &job);
    let r = c.reconcile();
    assert_eq!(
        stops(&r),
        [
            format!("a2: {STOP_UNNEEDED}"),
            format!("a3: {STOP_UNNEEDED}")
        ]
    );
    assert!(r.place.is_empty());
    let d = desired(&r);
    assert_eq!((d.stop, d.ignore, d.place), (2, 2, 0));
}

#[test]
fn completed_service_alloc_is_replaced_under_its_name() {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a1", 1, "n2", &job, |a| {
        a.client_status = AllocClientStatus::Complete;
    });
    let r = c.reconcile();
    assert_eq!(places(&r), ["web.web[1] Missing"]);
    assert!(r.stop.is_empty());
}

#[test]
fn completed_batch_alloc_is_not_run_again() {
    let mut c = Cluster::new();
    let job = c.job(&batch(2, "busybox"));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("a1", 1, "n2", &job, |a| {
        a.client_status = AllocClientStatus::Complete;
    });
    let r = c.reconcile();
    assert!(r.place.is_empty(), "{:?}", places(&r));
    assert!(r.stop.is_empty());
    assert_eq!(desired(&r).ignore, 2);
}

#[test]
fn allocations_of_a_removed_group_are_stopped() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.alloc("a0", 0, "n1", &job, |_| {});
    c.alloc("old", 0, "n2", &job, |a| {
        a.task_group = "gone".to_owned();
        a.name = "web.gone[0]".to_owned();
    });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("old: {STOP_UNNEEDED}")]);
    assert!(r.place.is_empty());
}

// 7. Stopped and purged jobs.

/// Two running allocations, one already stopped, and an active deployment.
fn deployed() -> (Cluster, Job) {
    let mut c = Cluster::new();
    let job = c.job(&service(2, "nginx:1", ""));
    c.running(2, &job);
    c.alloc("done", 2, "n3", &job, |a| {
        a.desired_status = AllocDesiredStatus::Stop;
        a.client_status = AllocClientStatus::Complete;
    });
    c.deployment(deployment("d1", &job, DeploymentStatus::Running, |_| {}));
    (c, job)
}

#[test]
fn stopping_the_job_stops_every_live_alloc_and_cancels_its_deployment() {
    let (mut c, job) = deployed();
    c.put_job(Job { stop: true, ..job });
    let r = c.reconcile();
    assert_eq!(
        stops(&r),
        [format!("a0: {STOP_JOB}"), format!("a1: {STOP_JOB}")]
    );
    assert!(r.place.is_empty());
    assert_eq!(desired(&r).stop, 2);
    assert_eq!(
        r.deployment_updates,
        [DeploymentStatusUpdate {
            deployment_id: DeploymentId::new("d1"),
            status: DeploymentStatus::Cancelled,
            status_description: DEPLOYMENT_CANCELLED_STOPPED.to_owned(),
        }]
    );
    assert!(r.deployment.is_none());
}

#[test]
fn purging_the_job_stops_every_live_alloc_and_cancels_its_deployment() {
    let (mut c, _) = deployed();
    c.purge_job();
    let r = c.reconcile_with(None, NOW);
    assert_eq!(
        stops(&r),
        [format!("a0: {STOP_JOB}"), format!("a1: {STOP_JOB}")]
    );
    assert_eq!(r.deployment_updates.len(), 1);
    assert_eq!(r.deployment_updates[0].status, DeploymentStatus::Cancelled);
    assert!(r.place.is_empty() && r.followup_evals.is_empty());
}

#[test]
fn stopping_the_job_leaves_a_finished_deployment_alone() {
    let mut c = Cluster::new();
    let job = c.job(&service(1, "nginx:1", ""));
    c.running(1, &job);
    c.deployment(deployment("d1", &job, DeploymentStatus::Successful, |_| {}));
    c.put_job(Job { stop: true, ..job });
    let r = c.reconcile();
    assert_eq!(stops(&r), [format!("a0: {STOP_JOB}")]);
    assert!(r.deployment_updates.is_empty());
}

// 9. Determinism.

#[test]
fn same_input_gives_the_same_reconciliation() {
    let mut c = Cluster::new();
    let v0 = c.job(&service(5, "nginx:1", STRICT));
    c.running(4, &v0);
    c.alloc("f", 4, "n3", &v0, |a| failed_at(a, NOW));
    c.job(&service(5, "nginx:2", STRICT));
    c.node("n1", NodeStatus::Down, false);
    let first = c.reconcile();
    let second = c.reconcile();
    assert_eq!(first, second);
    assert!(!first.place.is_empty() && !first.followup_evals.is_empty());
}
