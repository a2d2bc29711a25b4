//! The leader's control loops on a real three-server cluster (loopback
//! HTTP, redb): the deployment watcher drives rolling updates, canaries and
//! rollbacks; the periodic launcher launches on schedule, honours
//! `prohibit_overlap` and carries on after a leader change; dispatches make
//! one child per idempotency token; garbage collection removes what
//! finished and nothing that lives.
//!
//! The test plays every node's client (an [`Agent`]), reporting
//! allocations running, healthy or unhealthy, and complete.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{
    AllocClientStatus, Allocation, Deployment, DeploymentStatus, EvalTrigger, Job, JobId,
};
use scheduler_core::state::{
    JOB_TRACKED_VERSIONS, MemorySnapshot, StateSnapshot, job_spec_changed,
};
use scheduler_raft::clock::now_unix_nanos;
use scheduler_raft::control::{ControlConfig, ControlError, GcReport};

mod common;
use common::agent::Agent;
use common::control::ControlCluster;

const NS: &str = "default";
const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// Three servers with lenient timeouts and one worker each, the agent not
/// yet started.
async fn start_cluster() -> ControlCluster {
    let control = ControlConfig {
        // Three servers per test and tests in parallel on two cores.
        workers: 1,
        seed: 11,
        heartbeat_ttl: Duration::from_secs(5),
        failover_heartbeat_ttl: Duration::from_secs(10),
        deployment_poll: Duration::from_millis(100),
        ..ControlConfig::default()
    };
    ControlCluster::start(common::lenient(), control).await
}

fn parse_job(name: &str, source: &str) -> Job {
    parse(source, &ParseOptions::new(format!("{name}.hcl")))
        .expect("job parses")
        .job
}

/// A service job whose task's `RELEASE` env var tells its versions apart
/// (a change to it is a destructive update).
fn service(name: &str, count: u32, update: &str, release: &str) -> Job {
    parse_job(
        name,
        &format!(
            r#"job "{name}" {{
  datacenters = ["dc1"]
  group "web" {{
    count = {count}
    update {{
      {update}
    }}
    task "server" {{
      driver = "exec"
      config {{ command = "/bin/sleep" }}
      env {{ RELEASE = "{release}" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}"#
        ),
    )
}

/// A batch job with `extra` (a `periodic` or `parameterized` block).
fn batch(name: &str, extra: &str) -> Job {
    parse_job(
        name,
        &format!(
            r#"job "{name}" {{
  type        = "batch"
  datacenters = ["dc1"]
  {extra}
  group "g" {{
    task "t" {{
      driver = "exec"
      config {{ command = "/bin/true" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}"#
        ),
    )
}

fn version_of(alloc: &Allocation) -> Option<u64> {
    alloc.job.as_ref().map(|job| job.version)
}

fn release_of(alloc: &Allocation) -> Option<&str> {
    let job = alloc.job.as_ref()?;
    let task = job.task_groups.first()?.tasks.first()?;
    task.env.get("RELEASE").map(String::as_str)
}

fn live_allocs<'a>(snapshot: &'a MemorySnapshot, job: &str) -> Vec<&'a Allocation> {
    snapshot
        .allocs_by_job(NS, &JobId::new(job))
        .filter(|a| !a.is_terminal())
        .collect()
}

/// The newest deployment of a job version.
fn deployment_of<'a>(
    snapshot: &'a MemorySnapshot,
    job: &str,
    version: u64,
) -> Option<&'a Deployment> {
    snapshot
        .deployments()
        .filter(|d| d.job_id.as_str() == job && d.job_version == version)
        .max_by_key(|d| d.create_index)
}

fn deployment_is(
    snapshot: &MemorySnapshot,
    job: &str,
    version: u64,
    status: DeploymentStatus,
) -> bool {
    deployment_of(snapshot, job, version).is_some_and(|d| d.status == status)
}

/// `count` live allocations of the job, all of `version` and healthy.
fn settled(snapshot: &MemorySnapshot, job: &str, count: usize, version: u64) -> bool {
    let live = live_allocs(snapshot, job);
    live.len() == count
        && live
            .iter()
            .all(|a| version_of(a) == Some(version) && a.deployment_health() == Some(true))
}

const ROLLING: &str = r#"max_parallel      = 1
      min_healthy_time  = "400ms"
      healthy_deadline  = "1m"
      progress_deadline = "2m""#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolling_update_replaces_one_allocation_at_a_time_until_successful() {
    let mut cluster = start_cluster().await;
    cluster
        .with_nodes(Agent::healthy_after(Duration::from_millis(400)))
        .await;
    let plane = cluster.follower().await;
    plane
        .register_job(service("web", 3, ROLLING, "1"), None)
        .await
        .expect("register version 0");
    cluster
        .eventually(10, "version 0 deployed", |s| {
            settled(s, "web", 3, 0) && deployment_is(s, "web", 0, DeploymentStatus::Successful)
        })
        .await;

    plane
        .register_job(service("web", 3, ROLLING, "2"), None)
        .await
        .expect("register version 1");
    // Replaced at once: old allocations no longer live and not yet
    // succeeded by a healthy new one.
    let mut most_replaced_at_once = 0;
    let mut saw_mixed_versions = false;
    let snapshot = cluster
        .eventually(20, "version 1 rolled out", |s| {
            let live = live_allocs(s, "web");
            let old = live.iter().filter(|a| version_of(a) == Some(0)).count();
            let healthy_new = live
                .iter()
                .filter(|a| version_of(a) == Some(1) && a.deployment_health() == Some(true))
                .count();
            most_replaced_at_once =
                most_replaced_at_once.max(3usize.saturating_sub(old + healthy_new));
            saw_mixed_versions |= old > 0 && old < live.len();
            settled(s, "web", 3, 1) && deployment_is(s, "web", 1, DeploymentStatus::Successful)
        })
        .await;
    assert_eq!(
        most_replaced_at_once, 1,
        "max_parallel = 1: one old allocation replaced at a time"
    );
    assert!(
        saw_mixed_versions,
        "the update rolled: old and new ran side by side"
    );
    let deployment = deployment_of(&snapshot, "web", 1).expect("deployment of version 1");
    assert_eq!(
        deployment.task_groups["web"].healthy_allocs, 3,
        "{deployment:?}"
    );
    let job = snapshot.job(NS, &JobId::new("web")).expect("job");
    assert_eq!(
        (job.version, job.stable),
        (1, true),
        "a successful version is stable"
    );
    assert!(
        snapshot
            .allocs_by_job(NS, &JobId::new("web"))
            .filter(|a| version_of(a) == Some(0))
            .all(|a| a.is_terminal()),
        "every version 0 allocation was stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_waits_for_promotion_then_the_rest_follow() {
    let mut cluster = start_cluster().await;
    // Canaries report healthy only once the test allows it, so a promotion
    // can be tried before.
    let canaries_healthy = Arc::new(AtomicBool::new(false));
    let allowed = canaries_healthy.clone();
    cluster
        .with_nodes(Agent {
            health: Box::new(move |alloc| {
                (!alloc.is_canary() || allowed.load(Ordering::SeqCst)).then_some(true)
            }),
            ..Agent::healthy_after(Duration::from_millis(300))
        })
        .await;
    let update = r#"max_parallel      = 1
      canary            = 1
      min_healthy_time  = "300ms"
      healthy_deadline  = "1m"
      progress_deadline = "2m""#;
    let plane = cluster.follower().await;
    plane
        .register_job(service("web", 2, update, "1"), None)
        .await
        .expect("register version 0");
    cluster
        .eventually(10, "version 0 deployed", |s| {
            settled(s, "web", 2, 0) && deployment_is(s, "web", 0, DeploymentStatus::Successful)
        })
        .await;

    plane
        .register_job(service("web", 2, update, "2"), None)
        .await
        .expect("register version 1");
    let canary_running = |s: &MemorySnapshot| {
        live_allocs(s, "web").iter().any(|a| {
            a.is_canary()
                && version_of(a) == Some(1)
                && a.client_status == AllocClientStatus::Running
        })
    };
    let snapshot = cluster
        .eventually(10, "the canary runs", canary_running)
        .await;
    let deployment = deployment_of(&snapshot, "web", 1)
        .expect("deployment of version 1")
        .id
        .clone();
    let early = plane.promote_deployment(&deployment, None).await;
    assert!(
        matches!(&early, Err(ControlError::Invalid(reason)) if reason.contains("0/1 healthy")),
        "an unhealthy canary is not promoted: {early:?}"
    );

    canaries_healthy.store(true, Ordering::SeqCst);
    // Healthy and every evaluation done: whatever the reconciler does
    // before promotion, it has done.
    let snapshot = cluster
        .eventually(10, "the canary healthy and the job evaluated", |s| {
            s.deployment(&deployment)
                .is_some_and(|d| d.task_groups["web"].healthy_allocs == 1)
                && s.evals()
                    .filter(|e| e.job_id.as_str() == "web")
                    .all(|e| e.is_terminal())
        })
        .await;
    let live = live_allocs(&snapshot, "web");
    assert_eq!(
        live.iter().filter(|a| version_of(a) == Some(0)).count(),
        2,
        "no old allocation is replaced before the promotion: {live:?}"
    );
    assert_eq!(
        snapshot.deployment(&deployment).map(|d| d.status),
        Some(DeploymentStatus::Running)
    );

    plane
        .promote_deployment(&deployment, None)
        .await
        .expect("a healthy canary is promoted");
    let snapshot = cluster
        .eventually(15, "version 1 everywhere after the promotion", |s| {
            settled(s, "web", 2, 1) && deployment_is(s, "web", 1, DeploymentStatus::Successful)
        })
        .await;
    let promoted = snapshot.deployment(&deployment).expect("deployment");
    assert!(promoted.task_groups["web"].promoted, "{promoted:?}");
    assert_eq!(
        live_allocs(&snapshot, "web")
            .iter()
            .filter(|a| a.is_canary())
            .count(),
        1,
        "the promoted canary stays as one of the new allocations"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unhealthy_update_fails_and_reverts_to_the_stable_version() {
    let mut cluster = start_cluster().await;
    // Version 1 is broken: its allocations report unhealthy.
    cluster
        .with_nodes(Agent {
            health: Box::new(|alloc| Some(release_of(alloc) != Some("broken"))),
            ..Agent::healthy_after(Duration::from_millis(300))
        })
        .await;
    // No progress deadline: the first unhealthy allocation fails the
    // deployment.
    let update = r#"max_parallel      = 1
      auto_revert       = true
      min_healthy_time  = "300ms"
      healthy_deadline  = "1m"
      progress_deadline = "0s""#;
    let plane = cluster.follower().await;
    plane
        .register_job(service("web", 2, update, "good"), None)
        .await
        .expect("register version 0");
    cluster
        .eventually(10, "version 0 deployed", |s| {
            settled(s, "web", 2, 0) && deployment_is(s, "web", 0, DeploymentStatus::Successful)
        })
        .await;
    plane
        .register_job(service("web", 2, update, "broken"), None)
        .await
        .expect("register version 1");

    let snapshot = cluster
        .eventually(15, "version 1 failed and reverted", |s| {
            deployment_is(s, "web", 1, DeploymentStatus::Failed)
                && s.job(NS, &JobId::new("web"))
                    .is_some_and(|j| j.version == 2)
        })
        .await;
    let failed = deployment_of(&snapshot, "web", 1).expect("deployment of version 1");
    assert!(
        failed.status_description.contains("unhealthy")
            && failed
                .status_description
                .ends_with("rolling back to job version 0"),
        "{:?}",
        failed.status_description
    );
    let id = JobId::new("web");
    let good = snapshot.job_version(NS, &id, 0).expect("version 0 kept");
    let broken = snapshot.job_version(NS, &id, 1).expect("version 1 kept");
    let reverted = snapshot.job(NS, &id).expect("job");
    assert!(
        !job_spec_changed(good, reverted),
        "the revert registers version 0's specification again"
    );
    assert!(job_spec_changed(broken, reverted));

    cluster
        .eventually(15, "the reverted version runs everywhere", |s| {
            let live = live_allocs(s, "web");
            live.len() == 2
                && live
                    .iter()
                    .all(|a| version_of(a) == Some(2) && release_of(a) == Some("good"))
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn periodic_jobs_launch_on_schedule_without_overlap_and_on_demand() {
    let mut cluster = start_cluster().await;
    let solo_may_finish = Arc::new(AtomicBool::new(false));
    let finish_solo = solo_may_finish.clone();
    // Children of `tick` finish at once; those of `solo` run until the
    // test lets them finish.
    cluster
        .with_nodes(Agent::finishing(move |alloc| {
            let job = alloc.job_id.as_str();
            job.starts_with("tick/")
                || (job.starts_with("solo/") && finish_solo.load(Ordering::SeqCst))
        }))
        .await;
    let plane = cluster.follower().await;
    let registered_at = now_unix_nanos() / NANOS_PER_SECOND;
    // Seven fields: seconds first, so this fires every second.
    let every_second = r#"periodic { cron = "* * * * * * *" }"#;
    let no_overlap = r#"periodic {
    cron             = "* * * * * * *"
    prohibit_overlap = true
  }"#;
    for job in [
        batch("tick", every_second),
        batch("solo", no_overlap),
        batch("yearly", r#"periodic { cron = "0 0 1 1 *" }"#),
        batch("plain", ""),
    ] {
        plane.register_job(job, None).await.expect("register");
    }

    let snapshot = cluster
        .eventually(10, "two launches of tick", |s| {
            children(s, "tick").len() >= 2
        })
        .await;
    for (child, launched) in children(&snapshot, "tick") {
        assert!(
            launched >= registered_at,
            "{child} launched before registration"
        );
        assert!(
            snapshot
                .evals()
                .any(|e| e.job_id.as_str() == child && e.triggered_by == EvalTrigger::PeriodicJob),
            "{child} has its periodic-job evaluation"
        );
    }

    // While solo's first child runs, tick launches three more times and
    // solo not at all.
    let snapshot = cluster
        .eventually(10, "solo's first child running", |s| {
            children(s, "solo").iter().any(|(child, _)| {
                live_allocs(s, child)
                    .iter()
                    .any(|a| a.client_status == AllocClientStatus::Running)
            })
        })
        .await;
    let solo_first = children(&snapshot, "solo")[0].1;
    let mut most_solo_children = 0;
    cluster
        .eventually(15, "three launches of tick while solo's child runs", |s| {
            most_solo_children = most_solo_children.max(children(s, "solo").len());
            children(s, "tick")
                .iter()
                .filter(|(_, launched)| *launched > solo_first)
                .count()
                >= 3
        })
        .await;
    assert_eq!(
        most_solo_children, 1,
        "prohibit_overlap: no launch while a child runs"
    );
    solo_may_finish.store(true, Ordering::SeqCst);
    cluster
        .eventually(10, "solo launches again once its child finished", |s| {
            children(s, "solo").len() >= 2
        })
        .await;

    // On demand: a child at once, whatever the schedule says.
    let eval = plane
        .force_periodic_launch(NS, &JobId::new("yearly"))
        .await
        .expect("forced launch");
    let snapshot = cluster.read().await;
    let forced = children(&snapshot, "yearly");
    assert_eq!(forced.len(), 1, "{forced:?}");
    assert_eq!(eval.job_id.as_str(), forced[0].0);
    let stored = snapshot.evaluation(&eval.id).expect("evaluation stored");
    assert_eq!(stored.triggered_by, EvalTrigger::PeriodicJob);
    let refused = plane.force_periodic_launch(NS, &JobId::new("plain")).await;
    assert!(
        matches!(&refused, Err(ControlError::Invalid(reason)) if reason.contains("non-periodic")),
        "{refused:?}"
    );
}

/// A periodic job's children, with their launch times (Unix seconds, from
/// their `<parent>/periodic-<seconds>` ids), oldest first.
fn children(snapshot: &MemorySnapshot, parent: &str) -> Vec<(String, i64)> {
    let prefix = format!("{parent}/periodic-");
    let mut children: Vec<(String, i64)> = snapshot
        .jobs()
        .filter(|job| job.parent_id.as_str() == parent)
        .map(|job| {
            let id = job.id.as_str();
            let launched = id
                .strip_prefix(&prefix)
                .and_then(|seconds| seconds.parse().ok())
                .unwrap_or_else(|| panic!("child id {id:?} names no launch time"));
            (id.to_owned(), launched)
        })
        .collect();
    children.sort_by_key(|(_, launched)| *launched);
    children
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_periodic_job_keeps_launching_after_a_leader_change_never_twice() {
    let mut cluster = start_cluster().await;
    cluster
        .with_nodes(Agent::finishing(|alloc| {
            alloc.job_id.as_str().starts_with("beat/")
        }))
        .await;
    cluster.planes[0]
        .register_job(
            batch("beat", r#"periodic { cron = "* * * * * * *" }"#),
            None,
        )
        .await
        .expect("register");
    cluster
        .eventually(10, "two launches before the leader change", |s| {
            children(s, "beat").len() >= 2
        })
        .await;

    let killed_at = now_unix_nanos() / NANOS_PER_SECOND;
    cluster.kill_leader().await;
    let snapshot = cluster
        .eventually(15, "two launches by the new leader", |s| {
            children(s, "beat")
                .iter()
                .filter(|(_, launched)| *launched > killed_at + 1)
                .count()
                >= 2
        })
        .await;
    // A launch made twice would be a second periodic-job evaluation of the
    // same child (its id names the launch time).
    for (child, _) in children(&snapshot, "beat") {
        let launches = snapshot
            .evals()
            .filter(|e| e.job_id.as_str() == child && e.triggered_by == EvalTrigger::PeriodicJob)
            .count();
        assert_eq!(launches, 1, "{child} launched {launches} times");
        let job = snapshot
            .job(NS, &JobId::new(child.as_str()))
            .expect("child");
        assert_eq!(job.version, 0, "{child} registered once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dispatch_makes_one_child_per_token_and_checks_its_meta() {
    let mut cluster = start_cluster().await;
    // Children keep running: an idempotency token only matches a child
    // that still runs.
    cluster.with_nodes(Agent::finishing(|_| false)).await;
    let leader = cluster.planes[cluster.leader().await].clone();
    let follower = cluster.follower().await;
    let parameterized = r#"meta { team = "data" }
  parameterized {
    payload       = "required"
    meta_required = ["customer"]
    meta_optional = ["priority"]
  }"#;
    follower
        .register_job(batch("report", parameterized), None)
        .await
        .expect("register");
    let parent = JobId::new("report");
    let meta = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };

    let (child, eval) = follower
        .dispatch_job(
            NS,
            &parent,
            Some(b"q3 figures".to_vec()),
            meta(&[("customer", "acme")]),
            "nightly-1".to_owned(),
        )
        .await
        .expect("dispatch");
    assert!(
        child.id.as_str().starts_with("report/dispatch-"),
        "{}",
        child.id
    );
    assert_eq!(child.parent_id, parent);
    assert!(child.dispatched);
    assert_eq!(eval.job_id, child.id);
    let snapshot = cluster
        .eventually(10, "the dispatched child placed and running", |s| {
            live_allocs(s, child.id.as_str())
                .iter()
                .any(|a| a.client_status == AllocClientStatus::Running)
        })
        .await;
    let stored = snapshot.job(NS, &child.id).expect("child stored");
    assert_eq!(stored.payload, b"q3 figures");
    assert_eq!(
        stored.meta,
        meta(&[("customer", "acme"), ("team", "data")]),
        "dispatch meta merged over the parent's"
    );
    assert!(
        snapshot
            .evaluation(&eval.id)
            .is_some_and(|e| e.is_terminal())
    );

    let (again, _) = leader
        .dispatch_job(
            NS,
            &parent,
            Some(b"other".to_vec()),
            meta(&[("customer", "other")]),
            "nightly-1".to_owned(),
        )
        .await
        .expect("repeated dispatch");
    assert_eq!(again.id, child.id, "the same token returns the same child");
    let dispatched = |s: &MemorySnapshot| s.jobs().filter(|j| j.parent_id == parent).count();
    let evals_before = snapshot.evals().count();
    let snapshot = cluster.read().await;
    assert_eq!(dispatched(&snapshot), 1);
    assert_eq!(
        snapshot.evals().count(),
        evals_before,
        "nothing new evaluated"
    );

    let missing = follower
        .dispatch_job(
            NS,
            &parent,
            Some(b"x".to_vec()),
            meta(&[("priority", "high")]),
            "nightly-2".to_owned(),
        )
        .await;
    assert!(
        matches!(&missing, Err(ControlError::Invalid(m)) if m.contains("lacks") && m.contains("\"customer\"")),
        "{missing:?}"
    );
    let no_payload = follower
        .dispatch_job(
            NS,
            &parent,
            None,
            meta(&[("customer", "acme")]),
            String::new(),
        )
        .await;
    assert!(
        matches!(&no_payload, Err(ControlError::Invalid(m)) if m.contains("requires a payload")),
        "{no_payload:?}"
    );
    assert_eq!(
        dispatched(&cluster.read().await),
        1,
        "refusals create nothing"
    );

    let (other, _) = follower
        .dispatch_job(
            NS,
            &parent,
            Some(b"y".to_vec()),
            meta(&[("customer", "initech")]),
            "nightly-2".to_owned(),
        )
        .await
        .expect("another token");
    assert_ne!(other.id, child.id, "another token, another child");
    assert_eq!(dispatched(&cluster.read().await), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_collection_removes_what_finished_and_keeps_what_lives() {
    let mut cluster = start_cluster().await;
    cluster
        .with_nodes(Agent::finishing(|alloc| alloc.job_id.as_str() == "once"))
        .await;
    let plane = cluster.follower().await;
    plane
        .register_job(batch("once", ""), None)
        .await
        .expect("register once");
    // More versions than the store keeps; each replaces the allocation.
    let versions = JOB_TRACKED_VERSIONS as u64 + 2;
    for version in 0..versions {
        plane
            .register_job(service("svc", 1, ROLLING, &version.to_string()), None)
            .await
            .expect("register svc");
    }
    let last = versions - 1;
    let before = cluster
        .eventually(20, "once finished and svc settled", |s| {
            let once_done = s.allocs_by_job(NS, &JobId::new("once")).count() == 1
                && s.allocs_by_job(NS, &JobId::new("once"))
                    .all(|a| a.client_terminal());
            once_done
                && settled(s, "svc", 1, last)
                && deployment_is(s, "svc", last, DeploymentStatus::Successful)
                && s.evals().all(|e| e.is_terminal())
                && s.allocs()
                    .all(|a| !a.server_terminal() || a.client_terminal())
        })
        .await;
    let svc = JobId::new("svc");
    let kept: Vec<u64> = before.job_versions(NS, &svc).map(|j| j.version).collect();
    assert_eq!(
        kept,
        (versions - JOB_TRACKED_VERSIONS as u64..versions)
            .rev()
            .collect::<Vec<_>>(),
        "the newest {JOB_TRACKED_VERSIONS} versions are kept"
    );
    let live = live_allocs(&before, "svc")[0].clone();

    assert_eq!(
        plane.collect_garbage(false).await.expect("gc"),
        GcReport::default(),
        "nothing is an hour old yet"
    );
    let report = plane.collect_garbage(true).await.expect("forced gc");
    let after = cluster.read().await;

    assert!(
        after.job(NS, &JobId::new("once")).is_none(),
        "a finished batch job is purged"
    );
    assert!(
        after.evals().all(|e| e.job_id.as_str() != "once")
            && after.allocs().all(|a| a.job_id.as_str() != "once"),
        "with its evaluations and allocations"
    );
    let stored = after.alloc(&live.id).expect("the live allocation stays");
    assert_eq!(
        (stored.client_status, stored.deployment_health()),
        (AllocClientStatus::Running, Some(true))
    );
    assert_eq!(
        after.allocs().map(|a| a.id.clone()).collect::<Vec<_>>(),
        vec![live.id.clone()],
        "every terminal allocation is gone"
    );
    assert!(
        after.evals().all(|e| e.id == live.eval_id),
        "only the evaluation of the live allocation stays"
    );
    let latest = deployment_of(&before, "svc", last).expect("latest deployment");
    assert_eq!(
        after
            .deployments()
            .map(|d| d.id.clone())
            .collect::<Vec<_>>(),
        vec![latest.id.clone()],
        "only the job's latest deployment stays"
    );
    assert_eq!(after.job(NS, &svc).map(|j| j.version), Some(last));
    assert_eq!(
        report,
        GcReport {
            evals: before.evals().count() - after.evals().count(),
            allocs: before.allocs().count() - after.allocs().count(),
            deployments: before.deployments().count() - after.deployments().count(),
            jobs: 1,
        },
        "the report counts what went"
    );
    let ids: BTreeSet<_> = after.jobs().map(|j| j.id.as_str().to_owned()).collect();
    assert_eq!(ids, BTreeSet::from(["svc".to_owned()]));
    assert_eq!(
        plane.collect_garbage(true).await.expect("gc"),
        GcReport::default()
    );
}
