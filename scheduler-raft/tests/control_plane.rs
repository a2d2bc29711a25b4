//! The control plane on a real three-server cluster (loopback HTTP, redb):
//! jobs registered through any server are scheduled by the leader's workers
//! and committed by its plan applier; blocked evaluations wake when
//! capacity arrives; a node that stops heartbeating is marked down and its
//! allocations are replaced; a new leader carries on where the old one
//! stopped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{Job, JobId, NodeId, NodeStatus};
use scheduler_core::state::{MemorySnapshot, StateSnapshot};
use scheduler_raft::control::{ControlConfig, ControlError, ControlPlane};

mod common;
use common::control::{ControlCluster, node};

fn control_config() -> ControlConfig {
    ControlConfig {
        workers: 2,
        seed: 7,
        heartbeat_ttl: Duration::from_millis(800),
        failover_heartbeat_ttl: Duration::from_secs(2),
        ..ControlConfig::default()
    }
}

/// Three servers with fast Raft timing and short node TTLs, so that a node
/// that stops heartbeating is down within seconds.
async fn start_cluster() -> ControlCluster {
    ControlCluster::start(common::fast(), control_config()).await
}

/// Heartbeats the nodes named in `alive` through a plane that does not
/// lead (it passes them to the leader, which keeps the TTLs), every
/// 200 ms, for at most a minute.
fn keep_alive(
    planes: Vec<Arc<ControlPlane>>,
    alive: Arc<std::sync::Mutex<Vec<&'static str>>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        for _ in 0..300 {
            let names = alive.lock().expect("lock").clone();
            if let Some(plane) = planes.iter().find(|p| !p.is_leading()) {
                let nodes = names.iter().map(|name| NodeId::new(*name)).collect();
                let _ = plane.heartbeat_nodes(nodes).await;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}

fn job(name: &str, count: u32, cpu: u32) -> Job {
    let source = format!(
        r#"job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    count = {count}
    task "t" {{
      driver = "exec"
      config {{ command = "/bin/true" }}
      resources {{
        cpu    = {cpu}
        memory = 256
      }}
    }}
  }}
}}"#
    );
    parse(&source, &ParseOptions::new(format!("{name}.hcl")))
        .expect("job parses")
        .job
}

fn live_allocs(snapshot: &MemorySnapshot, job: &str) -> usize {
    snapshot
        .allocs_by_job("default", &JobId::new(job))
        .filter(|a| !a.is_terminal())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_are_placed_blocked_jobs_wake_and_lost_nodes_are_replaced() {
    let cluster = start_cluster().await;
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    let alive = Arc::new(std::sync::Mutex::new(vec!["a", "b"]));
    let heartbeats = keep_alive(cluster.planes.clone(), alive.clone());
    for (i, name) in ["a", "b"].iter().enumerate() {
        cluster.planes[follower]
            .register_node(node(name, i))
            .await
            .expect("node");
    }
    // The leader's answers cross the forwarding intact, errors included.
    let unknown = cluster.planes[follower]
        .heartbeat(&NodeId::new("never-registered"))
        .await;
    assert!(
        matches!(&unknown, Err(ControlError::NotFound(what)) if what.contains("never-registered")),
        "{unknown:?}"
    );
    let ttl = cluster.planes[follower]
        .heartbeat(&NodeId::new("a"))
        .await
        .expect("a heartbeat through a follower");
    assert_eq!(ttl, control_config().heartbeat_ttl);

    // Registered through a follower, placed by the leader's workers. Too
    // big for two nodes: one placement waits in a blocked evaluation until
    // a third node joins.
    let (eval, _) = cluster.planes[follower]
        .register_job(job("big", 3, 3_500), None)
        .await
        .expect("register");
    let snapshot = cluster
        .eventually(10, "big placed on a and b", |s| live_allocs(s, "big") == 2)
        .await;
    // Every server stores the placements' metrics as the encoded bytes
    // the log carries, and reads them back whole when asked.
    for plane in &cluster.planes {
        let server = plane.server();
        let deadline = scheduler_raft::clock::monotonic() + Duration::from_secs(10);
        while live_allocs(&server.read_stale(), "big") < 2 {
            assert!(
                scheduler_raft::clock::monotonic() < deadline,
                "big applied everywhere"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let stored = server.read_stale();
        for alloc in stored.allocs_by_job("default", &JobId::new("big")) {
            assert!(alloc.metrics.is_encoded(), "{}", alloc.id);
            assert_eq!(alloc.metrics.score_meta_data[0].node_id, alloc.node_id);
            assert!(alloc.metrics.nodes_evaluated >= 1);
        }
    }
    let first = snapshot.evaluation(&eval.id).expect("evaluation stored");
    assert_eq!(
        first.status,
        scheduler_core::model::EvalStatus::Complete,
        "{first:?}"
    );
    assert!(
        snapshot
            .evals()
            .any(|e| e.status == scheduler_core::model::EvalStatus::Blocked
                && e.job_id.as_str() == "big"),
        "the third placement waits in a blocked evaluation"
    );
    cluster.planes[leader]
        .register_node(node("c", 2))
        .await
        .expect("node c");
    alive.lock().expect("lock").push("c");
    cluster
        .eventually(10, "big placed after node c joined", |s| {
            live_allocs(s, "big") == 3
        })
        .await;

    // Each node has 500 MHz left: web's two allocations land on two nodes.
    cluster.planes[follower]
        .register_job(job("web", 2, 500), None)
        .await
        .expect("register");
    let snapshot = cluster
        .eventually(10, "web placed", |s| live_allocs(s, "web") == 2)
        .await;
    let lost = snapshot
        .allocs_by_job("default", &JobId::new("web"))
        .find(|a| !a.is_terminal())
        .map(|a| a.node_id.clone())
        .expect("a web allocation");

    // That node stops heartbeating: the leader marks it down and web's
    // allocation there is replaced on the node that still has room.
    let lost_name: &'static str = Box::leak(lost.as_str().to_owned().into_boxed_str());
    alive
        .lock()
        .expect("lock")
        .retain(|name| *name != lost_name);
    let web_on_lost = |s: &MemorySnapshot| {
        s.allocs_by_node(&lost)
            .filter(|a| !a.is_terminal() && a.job_id.as_str() == "web")
            .count()
    };
    cluster
        .eventually(10, "lost node down and web replaced", |s| {
            s.node(&lost).is_some_and(|n| n.status == NodeStatus::Down)
                && web_on_lost(s) == 0
                && live_allocs(s, "web") == 2
        })
        .await;
    heartbeats.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_leader_schedules_what_the_old_one_left() {
    let mut cluster = start_cluster().await;
    let leader = cluster.leader().await;
    let alive = Arc::new(std::sync::Mutex::new(vec!["a", "b", "c"]));
    let heartbeats = keep_alive(cluster.planes.clone(), alive);
    for (i, name) in ["a", "b", "c"].iter().enumerate() {
        cluster.planes[leader]
            .register_node(node(name, i))
            .await
            .expect("node");
    }
    cluster.planes[leader]
        .register_job(job("first", 3, 200), None)
        .await
        .expect("register");
    cluster
        .eventually(10, "first placed", |s| live_allocs(s, "first") == 3)
        .await;

    // The leader goes away; a job registered right after is placed by the
    // next leader, and nothing is placed twice.
    let next = cluster.kill_leader().await;
    cluster.planes[next]
        .register_job(job("second", 5, 200), None)
        .await
        .expect("register");
    let snapshot = cluster
        .eventually(15, "second placed by the new leader", |s| {
            live_allocs(s, "second") == 5
        })
        .await;
    assert_eq!(
        live_allocs(&snapshot, "first"),
        3,
        "first was not re-placed"
    );
    let names: std::collections::BTreeSet<String> = snapshot
        .allocs()
        .filter(|a| !a.is_terminal())
        .map(|a| a.name.clone())
        .collect();
    assert_eq!(names.len(), 8, "every allocation name is unique");
    heartbeats.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dispatches_racing_with_one_token_create_one_child() {
    let cluster = start_cluster().await;
    let leader = cluster.leader().await;
    let follower = (leader + 1) % 3;
    let source = r#"job "report" {
  type        = "batch"
  datacenters = ["dc1"]
  parameterized {
    payload       = "optional"
    meta_required = ["customer"]
  }
  group "g" {
    task "t" {
      driver = "exec"
      config { command = "/bin/true" }
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}"#;
    let parent = parse(source, &ParseOptions::new("report.hcl"))
        .expect("job parses")
        .job;
    cluster.planes[follower]
        .register_job(parent, None)
        .await
        .expect("register");

    // The same token through the leader and a follower at once, a few
    // times over: the leader serializes dispatches, so one child exists.
    let meta = BTreeMap::from([("customer".to_owned(), "acme".to_owned())]);
    let dispatch = |plane: usize| {
        let plane = cluster.planes[plane].clone();
        let meta = meta.clone();
        tokio::spawn(async move {
            plane
                .dispatch_job(
                    "default",
                    &JobId::new("report"),
                    None,
                    meta,
                    "token-1".to_owned(),
                )
                .await
        })
    };
    let racing: Vec<_> = [leader, follower, leader, follower]
        .into_iter()
        .map(dispatch)
        .collect();
    let mut children = std::collections::BTreeSet::new();
    for task in racing {
        let (child, _) = task.await.expect("join").expect("dispatch");
        children.insert(child.id.as_str().to_owned());
    }
    assert_eq!(children.len(), 1, "one child per token: {children:?}");
    let snapshot = cluster.planes[follower]
        .server()
        .read_consistent()
        .await
        .expect("read");
    let stored = snapshot
        .jobs()
        .filter(|job| job.id.as_str().starts_with("report/dispatch-"))
        .count();
    assert_eq!(stored, 1);
}
