//! Three real `schedd -server` processes on loopback: kill -9 of the
//! leader under a stream of node and job registrations that the leaders'
//! control planes schedule (every acknowledged write kept, no allocation
//! placed twice), and kill -9 of all three and restart from disk. The
//! partition test is in `raft_partition.rs`.
//!
//! The tests talk to the servers with `RemoteClient`. Every process is
//! owned by a guard that kills it (by PID) when the test ends, passing or
//! not; the tests run one at a time, so timings measured in one are not
//! disturbed by another.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{Job, JobId, Node, NodeId, NodeStatus};
use scheduler_core::simulate::NodeBuilder;
use scheduler_raft::client::RemoteClient;
use scheduler_raft::clock::monotonic;
use scheduler_raft::cluster_state::ClusterDump;
use scheduler_raft::server::ServerStatus;
use scheduler_raft::{Applied, Command};

mod common;
use common::raft_servers::{
    Daemon, agreed_leader, node_ids, server_args, state_json, unique, upsert_node,
};

// ---------------------------------------------------------------------------
// Processes

/// One cluster test at a time: they are timing-sensitive and each runs three
/// servers.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Three servers, each with its data directory under one temporary
/// directory. On a failing test, prints the end of each server's log.
struct Cluster {
    servers: Vec<Daemon>,
    addrs: Vec<String>,
    _dir: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.kill();
        }
        if std::thread::panicking() {
            for (i, server) in self.servers.iter().enumerate() {
                eprintln!(
                    "--- server {i} ({}) log tail ---\n{}",
                    self.addrs[i],
                    server.log_tail(40)
                );
            }
        }
    }
}

fn loopback_cluster() -> Cluster {
    let dir = tempfile::tempdir().expect("temp dir");
    let ports = common::free_ports(3);
    let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let servers = (0..3)
        .map(|i| {
            Daemon::new(
                &[],
                server_args(dir.path(), i, "127.0.0.1", ports[i], &addrs),
                dir.path().join(format!("server-{i}.log")),
            )
        })
        .collect();
    Cluster {
        servers,
        addrs,
        _dir: dir,
    }
}

// ---------------------------------------------------------------------------
// Objects and checks

fn job(id: &str, priority: i64) -> Job {
    Job {
        id: JobId::new(id),
        namespace: "default".to_owned(),
        priority: Some(priority),
        ..Job::default()
    }
}

/// A node with room for many small allocations.
fn schedulable_node(id: &str, position: usize) -> Node {
    let mut node = NodeBuilder::new(id, position)
        .cpu(8_000)
        .memory(16_384)
        .disk(100_000)
        .build();
    node.id = NodeId::new(id);
    node.status = NodeStatus::Ready;
    node
}

/// Allocations per job in the kill test.
const ALLOCS_PER_JOB: usize = 2;

/// A service job of [`ALLOCS_PER_JOB`] small allocations.
fn service_job(id: &str) -> Job {
    let source = format!(
        r#"job "{id}" {{
  datacenters = ["dc1"]
  group "web" {{
    count = {ALLOCS_PER_JOB}
    task "server" {{
      driver = "raw_exec"
      config {{ command = "/bin/true" }}
      resources {{
        cpu    = 100
        memory = 64
      }}
    }}
  }}
}}"#
    );
    parse(&source, &ParseOptions::new(format!("{id}.hcl")))
        .expect("job parses")
        .job
}

fn register_job(id: &str, priority: i64) -> Command {
    Command::RegisterJob {
        job: Box::new(job(id, priority)),
        enforce_index: None,
        eval: None,
    }
}

fn job_ids(dump: &ClusterDump) -> Vec<String> {
    dump.state
        .jobs
        .iter()
        .map(|j| format!("{}/{}", j.namespace, j.id.as_str()))
        .collect()
}

// ---------------------------------------------------------------------------
// Loopback helpers (RemoteClient)

/// The server that leads, once another server agrees it does.
async fn find_leader(client: &RemoteClient, addrs: &[String], within: Duration) -> usize {
    let started = monotonic();
    loop {
        let mut statuses: Vec<Option<ServerStatus>> = Vec::new();
        for addr in addrs {
            statuses.push(client.status(addr).await.ok());
        }
        if let Some(leader) = agreed_leader(&statuses) {
            return leader;
        }
        assert!(
            started.elapsed() < within,
            "no agreed leader within {within:?}: {statuses:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the three servers' local states are equal and have applied
/// at least `index`; returns them.
async fn converged(
    client: &RemoteClient,
    addrs: &[String],
    index: u64,
    within: Duration,
) -> Vec<ClusterDump> {
    let started = monotonic();
    loop {
        let mut dumps = Vec::new();
        for addr in addrs {
            if let Ok(dump) = client.local_state(addr).await {
                dumps.push(dump);
            }
        }
        if dumps.len() == addrs.len()
            && dumps.iter().all(|d| d.state.index >= index)
            && dumps
                .windows(2)
                .all(|w| state_json(&w[0]) == state_json(&w[1]))
        {
            return dumps;
        }
        assert!(
            started.elapsed() < within,
            "servers did not converge at index >= {index} within {within:?}: indexes {:?}",
            dumps.iter().map(|d| d.state.index).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the server at `addr` answers, knows a leader and has
/// applied at least `index`.
async fn back_in_cluster(client: &RemoteClient, addr: &str, index: u64, within: Duration) {
    let started = monotonic();
    loop {
        let status = client.status(addr).await.ok();
        if let Some(status) = &status
            && status.leader.is_some()
            && status.applied_index >= index
        {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{addr} not back within {within:?}: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An acknowledged write.
#[derive(Debug, Clone)]
struct Ack {
    /// When the client sent it (the first attempt).
    sent: Instant,
    /// When the acknowledgement arrived.
    acked: Instant,
    /// The log index it was applied at.
    index: u64,
}

#[derive(Debug, Default)]
struct Written {
    acks: Vec<Ack>,
    /// Ids acknowledged.
    nodes: BTreeSet<String>,
    jobs: BTreeSet<String>,
    /// Ids sent but not acknowledged (they may or may not be applied).
    unacknowledged: BTreeSet<String>,
}

/// Heartbeats every node in `nodes` each 500 ms until `stop` (at most two
/// minutes), through whichever server answers, as the nodes' agents would.
async fn heartbeat_stream(
    client: Arc<RemoteClient>,
    nodes: Arc<Mutex<Vec<NodeId>>>,
    stop: Arc<AtomicBool>,
) {
    let started = monotonic();
    while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(120) {
        let batch = nodes.lock().expect("lock").clone();
        if !batch.is_empty() {
            // A failed round (no leader during an election) is retried at
            // the next tick, well within the TTL.
            let _ = client.heartbeat(batch, Duration::from_secs(2)).await;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Registers one node or one job at a time (alternating, unique ids) until
/// `stop`, at most `max_writes` writes and `max_time`; every node sent is
/// added to `nodes_sent`.
async fn write_stream(
    client: Arc<RemoteClient>,
    nodes_sent: Arc<Mutex<Vec<NodeId>>>,
    stop: Arc<AtomicBool>,
    max_writes: usize,
    max_time: Duration,
) -> Written {
    let started = monotonic();
    let mut written = Written::default();
    for i in 0..max_writes {
        if stop.load(Ordering::Relaxed) || started.elapsed() > max_time {
            break;
        }
        let sent = monotonic();
        let deadline = Duration::from_secs(5);
        // Nodes register through the leader (which starts their TTL);
        // jobs register with an evaluation the leader schedules.
        let (id, acknowledged) = if i % 2 == 0 {
            let id = format!("node-{i}");
            // Heartbeated from now on, acknowledged or not (an
            // unacknowledged registration may have been applied).
            nodes_sent.lock().expect("lock").push(NodeId::new(&id));
            let registered = client
                .register_node(schedulable_node(&id, i), deadline)
                .await;
            (id, registered.map(|_| 0))
        } else {
            let id = format!("job-{i}");
            let registered = client.register_job(service_job(&id), None, deadline).await;
            let index = registered.map(|answer| {
                let applied = answer.response.result.expect("job registered");
                assert!(
                    matches!(applied, Applied::JobRegistered { .. }),
                    "{applied:?}"
                );
                answer.response.index
            });
            (format!("default/{id}"), index)
        };
        match acknowledged {
            Ok(index) => {
                written.acks.push(Ack {
                    sent,
                    acked: monotonic(),
                    index,
                });
                if i % 2 == 0 {
                    written.nodes.insert(id);
                } else {
                    written.jobs.insert(id);
                }
            }
            Err(_) => {
                written.unacknowledged.insert(id);
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    written
}

// ---------------------------------------------------------------------------
// Tests on loopback

#[test]
fn leader_kill_loses_no_acknowledged_write_and_places_nothing_twice() {
    let _serial = serial();
    runtime().block_on(async {
        let mut cluster = loopback_cluster();
        let client = Arc::new(RemoteClient::new(cluster.addrs.clone()));
        let first = find_leader(&client, &cluster.addrs, Duration::from_secs(15)).await;
        eprintln!("leader: server {first}");

        let stop = Arc::new(AtomicBool::new(false));
        let nodes_sent = Arc::new(Mutex::new(Vec::new()));
        let writer = tokio::spawn(write_stream(
            client.clone(),
            nodes_sent.clone(),
            stop.clone(),
            20_000,
            Duration::from_secs(40),
        ));
        let stop_heartbeats = Arc::new(AtomicBool::new(false));
        let heartbeats = tokio::spawn(heartbeat_stream(
            client.clone(),
            nodes_sent,
            stop_heartbeats.clone(),
        ));

        let mut kills = Vec::new();
        for round in 0..3 {
            tokio::time::sleep(Duration::from_millis(800)).await;
            let leader = find_leader(&client, &cluster.addrs, Duration::from_secs(10)).await;
            let killed_at = monotonic();
            cluster.servers[leader].kill();
            kills.push(killed_at);
            // Restart after ~1 s, but only once the other two have elected
            // a leader, so the failover measured is theirs (an election
            // takes about as long, and the restarted server would
            // otherwise often win it back).
            tokio::time::sleep(Duration::from_secs(1)).await;
            let survivors =
                find_leader(&client, &cluster.addrs, Duration::from_secs(10)).await;
            assert_ne!(survivors, leader);
            cluster.servers[leader].spawn();
            // Back: it answers, follows a leader and has caught up with
            // what the new leader had applied when we looked.
            let now_leader = find_leader(&client, &cluster.addrs, Duration::from_secs(10)).await;
            let target = client
                .status(&cluster.addrs[now_leader])
                .await
                .map(|s| s.applied_index)
                .unwrap_or(0);
            back_in_cluster(
                &client,
                &cluster.addrs[leader],
                target,
                Duration::from_secs(10),
            )
            .await;
            eprintln!(
                "round {round}: killed leader {leader}, new leader {now_leader}, restarted and caught up to {target}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop.store(true, Ordering::Relaxed);
        let written = writer.await.expect("writer");

        // Failover: from each kill to the first acknowledgement of a write
        // sent after it.
        let gaps: Vec<Duration> = kills
            .iter()
            .map(|&kill| {
                written
                    .acks
                    .iter()
                    .filter(|ack| ack.sent >= kill)
                    .map(|ack| ack.acked - kill)
                    .min()
                    .expect("a write acknowledged after the kill")
            })
            .collect();
        eprintln!(
            "failover gaps (kill -9 of the leader to the next acknowledged write): {gaps:?}; {} writes acknowledged, {} not",
            written.acks.len(),
            written.unacknowledged.len()
        );
        for gap in &gaps {
            assert!(
                *gap < FAILOVER_LIMIT,
                "failover took {gap:?} (limit {FAILOVER_LIMIT:?}); all gaps {gaps:?}"
            );
        }

        // Every acknowledged write is on all three servers, once.
        let last = written.acks.iter().map(|a| a.index).max().unwrap_or(0);
        let dumps = converged(&client, &cluster.addrs, last, Duration::from_secs(15)).await;
        for dump in &dumps {
            let nodes = unique("node", node_ids(dump));
            let jobs = unique("job", job_ids(dump));
            let missing_nodes: Vec<_> = written.nodes.difference(&nodes).collect();
            let missing_jobs: Vec<_> = written.jobs.difference(&jobs).collect();
            assert!(
                missing_nodes.is_empty() && missing_jobs.is_empty(),
                "acknowledged but lost: nodes {missing_nodes:?}, jobs {missing_jobs:?}"
            );
            // Nothing appears that was never sent.
            for id in nodes.iter().chain(&jobs) {
                assert!(
                    written.nodes.contains(id)
                        || written.jobs.contains(id)
                        || written.unacknowledged.contains(id),
                    "{id} was never written"
                );
            }
        }
        assert!(written.nodes.len() > 10 && written.jobs.len() > 10);

        // The leaders scheduled every acknowledged job, each allocation
        // once: whatever a killed leader had placed, its successor
        // re-evaluated the job and placed only what was missing.
        let dumps = placed(&client, &cluster.addrs, &written.jobs, Duration::from_secs(60)).await;
        stop_heartbeats.store(true, Ordering::Relaxed);
        heartbeats.await.expect("heartbeats");
        eprintln!(
            "{} allocations for {} acknowledged jobs on {} nodes",
            dumps[0].state.allocs.len(),
            written.jobs.len(),
            dumps[0].state.nodes.len()
        );
        for dump in &dumps {
            let nodes: BTreeSet<&str> = dump.state.nodes.iter().map(|n| n.id.as_str()).collect();
            let mut live_names = BTreeSet::new();
            for entry in &dump.state.allocs {
                let alloc = &entry.alloc;
                assert!(
                    nodes.contains(alloc.node_id.as_str()),
                    "allocation {} on unknown node {}",
                    alloc.name,
                    alloc.node_id
                );
                if !alloc.is_terminal() {
                    assert!(
                        live_names.insert(alloc.name.clone()),
                        "allocation {} placed twice",
                        alloc.name
                    );
                }
            }
        }
    });
}

/// Waits until every job in `jobs` has [`ALLOCS_PER_JOB`] live allocations
/// and the three servers agree; returns their states.
async fn placed(
    client: &RemoteClient,
    addrs: &[String],
    jobs: &BTreeSet<String>,
    within: Duration,
) -> Vec<ClusterDump> {
    let started = monotonic();
    loop {
        let status = client.status(&addrs[0]).await.ok();
        let index = status.map_or(0, |s| s.applied_index);
        let remaining = within.saturating_sub(started.elapsed());
        let dumps = converged(client, addrs, index, remaining).await;
        let mut live: std::collections::BTreeMap<String, usize> = Default::default();
        for entry in &dumps[0].state.allocs {
            if !entry.alloc.is_terminal() {
                let job = format!("{}/{}", entry.alloc.namespace, entry.alloc.job_id.as_str());
                *live.entry(job).or_default() += 1;
            }
        }
        let unplaced: Vec<&String> = jobs
            .iter()
            .filter(|job| live.get(*job).copied().unwrap_or(0) < ALLOCS_PER_JOB)
            .collect();
        if unplaced.is_empty() {
            return dumps;
        }
        assert!(
            started.elapsed() < within,
            "{} acknowledged jobs not fully placed within {within:?}, e.g. {:?}",
            unplaced.len(),
            unplaced.iter().take(5).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The bound asserted on each failover gap: the issue's "writes resumed
/// within a second of each kill". With the default timing (heartbeat
/// 150 ms, election timeout 200–300 ms) a follower stands for election
/// 500–600 ms after the leader's last heartbeat (openraft 0.9 waits for its
/// lease of the old leader, the timeout's upper bound, to lapse first).
const FAILOVER_LIMIT: Duration = Duration::from_secs(1);

#[test]
fn restart_all_from_disk_gives_the_same_state() {
    let _serial = serial();
    runtime().block_on(async {
        let mut cluster = loopback_cluster();
        let client = RemoteClient::new(cluster.addrs.clone());
        find_leader(&client, &cluster.addrs, Duration::from_secs(15)).await;
        let mut last = 0;
        for i in 0..30 {
            let node = client
                .write(&upsert_node(&format!("node-{i}")), Duration::from_secs(5))
                .await
                .expect("node written");
            // Each job twice, the second time changed: versions too.
            for priority in [50, 60] {
                client
                    .write(
                        &register_job(&format!("job-{i}"), priority),
                        Duration::from_secs(5),
                    )
                    .await
                    .expect("job written");
            }
            last = last.max(node.index);
        }
        let before = converged(&client, &cluster.addrs, last, Duration::from_secs(10))
            .await
            .remove(0);
        assert_eq!(before.state.nodes.len(), 30);
        assert_eq!(before.state.jobs.len(), 30);

        for server in &mut cluster.servers {
            server.kill();
        }
        for server in &mut cluster.servers {
            server.spawn();
        }
        find_leader(&client, &cluster.addrs, Duration::from_secs(15)).await;
        let after = converged(
            &client,
            &cluster.addrs,
            before.state.index,
            Duration::from_secs(10),
        )
        .await
        .remove(0);

        // The new leader's first entry moves the index; nothing else
        // changes.
        assert!(after.state.index >= before.state.index);
        let mut same_index = after.clone();
        same_index.state.index = before.state.index;
        assert_eq!(state_json(&same_index), state_json(&before));
        assert_eq!(after.tables, before.tables);
    });
}
