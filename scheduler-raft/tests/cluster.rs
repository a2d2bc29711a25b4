//! A real three-server Raft cluster in one process: real redb files, real
//! HTTP over loopback. (The kill -9 tests with separate processes are in
//! `bins/tests`.)

use std::time::Duration;

use scheduler_core::model::{JobId, NodeId};
use scheduler_core::state::StateSnapshot;
use scheduler_raft::server::RaftTuning;
use scheduler_raft::{Applied, Command, Refusal, Server};

mod common;
use common::{cluster, config, fast, job, node};

async fn leader_of(servers: &[Server]) -> usize {
    for _ in 0..200 {
        if let Some(position) = servers.iter().position(|s| s.status().is_leader) {
            return position;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let statuses: Vec<_> = servers.iter().map(Server::status).collect();
    panic!("no leader elected within 4 s: {statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_through_any_server_are_read_consistently_from_every_server() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    let follower = (leader + 1) % 3;

    // A write sent to a follower is forwarded to the leader.
    let response = servers[follower]
        .write(Command::UpsertNodes {
            nodes: vec![node("n1"), node("n2")],
        })
        .await
        .expect("write through a follower");
    assert_eq!(response.result, Ok(Applied::Done));
    let registered = servers[follower]
        .write(Command::RegisterJob {
            job: Box::new(job("web", 50)),
            enforce_index: Some(0),
            eval: None,
        })
        .await
        .expect("register");
    let Ok(Applied::JobRegistered {
        version,
        job_modify_index,
        ..
    }) = registered.result
    else {
        panic!("unexpected answer {registered:?}");
    };
    assert_eq!(version, 0);

    // Every server, leader or not, reads the acknowledged writes.
    for server in &servers {
        let snapshot = server.read_consistent().await.expect("consistent read");
        assert!(snapshot.node(&NodeId::new("n2")).is_some());
        assert_eq!(
            snapshot
                .job("default", &JobId::new("web"))
                .map(|j| j.job_modify_index),
            Some(job_modify_index)
        );
    }

    // -check-index with a stale index is refused, on every replica alike.
    let stale = servers[leader]
        .write(Command::RegisterJob {
            job: Box::new(job("web", 60)),
            enforce_index: Some(job_modify_index - 1),
            eval: None,
        })
        .await
        .expect("write");
    assert_eq!(
        stale.result,
        Err(Refusal::CheckIndexMismatch {
            job: "web".to_owned(),
            expected: job_modify_index - 1,
            actual: job_modify_index,
        })
    );
    let current = servers[leader]
        .write(Command::RegisterJob {
            job: Box::new(job("web", 60)),
            enforce_index: Some(job_modify_index),
            eval: None,
        })
        .await
        .expect("write");
    assert!(matches!(
        current.result,
        Ok(Applied::JobRegistered {
            version: 1,
            changed: true,
            ..
        })
    ));

    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_share_entries_and_each_gets_its_own_answer() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = std::sync::Arc::new(cluster(&dirs, fast()).await);
    let leader = leader_of(&servers).await;
    let first = servers[leader]
        .write(Command::RegisterJob {
            job: Box::new(job("contended", 50)),
            enforce_index: Some(0),
            eval: None,
        })
        .await
        .expect("register");
    let Ok(Applied::JobRegistered {
        job_modify_index, ..
    }) = first.result
    else {
        panic!("unexpected answer {first:?}");
    };

    // Forty writers at once, through every server: twenty register their
    // own job; twenty update one job, all with the same -check-index, so
    // exactly one of them may win.
    let mut writers = Vec::new();
    for i in 0..40 {
        let servers = servers.clone();
        writers.push(tokio::spawn(async move {
            let (id, enforce_index) = if i % 2 == 0 {
                (format!("own-{i}"), Some(0))
            } else {
                ("contended".to_owned(), Some(job_modify_index))
            };
            let response = servers[i % 3]
                .write(Command::RegisterJob {
                    job: Box::new(job(&id, 60)),
                    enforce_index,
                    eval: None,
                })
                .await
                .expect("write");
            (id, response)
        }));
    }
    let mut indexes = std::collections::BTreeSet::new();
    let mut contended_wins = Vec::new();
    for writer in writers {
        let (id, response) = writer.await.expect("writer");
        indexes.insert(response.index);
        match (id.as_str(), response.result) {
            ("contended", Ok(Applied::JobRegistered { version: 1, .. })) => {
                contended_wins.push(response.index)
            }
            ("contended", Err(Refusal::CheckIndexMismatch { actual, .. })) => {
                assert!(
                    actual > job_modify_index,
                    "refused against the winner's index"
                )
            }
            (
                own,
                Ok(Applied::JobRegistered {
                    version: 0,
                    job_modify_index,
                    ..
                }),
            ) => {
                // The answer is this writer's own: its job, as stored.
                assert_eq!(job_modify_index, response.index);
                let stored = servers[leader]
                    .read_consistent()
                    .await
                    .expect("read")
                    .job("default", &JobId::new(own))
                    .map(|j| j.job_modify_index);
                assert_eq!(stored, Some(job_modify_index), "{own}");
            }
            (id, result) => panic!("{id}: unexpected answer {result:?}"),
        }
    }
    assert_eq!(contended_wins.len(), 1, "one -check-index winner");
    // Writes that arrive while entries are in flight share the next entry.
    assert!(
        indexes.len() <= 20,
        "40 concurrent writes took {} log entries",
        indexes.len()
    );

    let servers = std::sync::Arc::into_inner(servers).expect("writers done");
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocking_query_wakes_on_a_change_to_its_table_only() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    let reader = &servers[(leader + 2) % 3];
    reader.read_consistent().await.expect("caught up");
    let jobs_before = reader.table_index(scheduler_raft::cluster_state::Table::Jobs);

    let waiting = reader.wait_table(
        scheduler_raft::cluster_state::Table::Jobs,
        jobs_before,
        Duration::from_secs(5),
    );
    let writer = async {
        // A node write does not wake a query on jobs; the job write does.
        tokio::time::sleep(Duration::from_millis(100)).await;
        servers[leader]
            .write(Command::UpsertNodes {
                nodes: vec![node("n9")],
            })
            .await
            .expect("node write");
        tokio::time::sleep(Duration::from_millis(100)).await;
        servers[leader]
            .write(Command::RegisterJob {
                job: Box::new(job("batch", 50)),
                enforce_index: None,
                eval: None,
            })
            .await
            .expect("job write")
            .index
    };
    let (woke_at, job_index) = tokio::join!(waiting, writer);
    assert_eq!(
        woke_at, job_index,
        "woke at the job write, not the node write"
    );

    // Nothing changes: the query returns at its timeout with the old index.
    let unchanged = reader
        .wait_table(
            scheduler_raft::cluster_state::Table::Jobs,
            woke_at,
            Duration::from_millis(200),
        )
        .await;
    assert_eq!(unchanged, woke_at);
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cluster_survives_its_leader_and_restarts_from_disk_with_the_same_state() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut servers = cluster(&dirs, fast()).await;
    // A server's address is part of the membership: it restarts on it.
    let addresses: Vec<_> = servers.iter().map(Server::addr).collect();
    let first_leader = leader_of(&servers).await;
    for i in 0..20 {
        servers[first_leader]
            .write(Command::UpsertNodes {
                nodes: vec![node(&format!("n{i:02}"))],
            })
            .await
            .expect("write");
    }
    // The leader goes away; the other two elect a new one and take writes.
    let old = servers.remove(first_leader);
    old.shutdown().await;
    let leader = leader_of(&servers).await;
    servers[leader]
        .write(Command::UpsertNodes {
            nodes: vec![node("after-failover")],
        })
        .await
        .expect("write after failover");
    let expected = servers[leader]
        .read_consistent()
        .await
        .expect("read")
        .nodes()
        .count();
    assert_eq!(expected, 21);
    for server in servers {
        server.shutdown().await;
    }

    // All three restart from their data directories alone.
    let mut restarted = Vec::new();
    for (dir, address) in dirs.iter().zip(&addresses) {
        let mut config = config(dir.path(), fast());
        config.bind = *address;
        restarted.push(Server::start(config).await.expect("restart"));
    }
    leader_of(&restarted).await;
    let reference = restarted[0].read_consistent().await.expect("read").index();
    for server in &restarted {
        let snapshot = server.read_consistent().await.expect("read");
        assert_eq!(snapshot.nodes().count(), 21, "server {}", server.id());
        assert!(snapshot.node(&NodeId::new("after-failover")).is_some());
        assert!(snapshot.index() >= reference);
    }
    // Same bytes on every server once all applied the same log.
    restarted[0]
        .write(Command::Noop)
        .await
        .expect("a final write");
    let last = restarted[0].read_consistent().await.expect("read").index();
    let mut dumps = Vec::new();
    for server in &restarted {
        server
            .wait_applied(last, Duration::from_secs(5))
            .await
            .expect("caught up");
        dumps.push(serde_json::to_string(&server.dump_stale()).expect("json"));
    }
    assert!(dumps.windows(2).all(|pair| pair[0] == pair[1]));
    for server in restarted {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_server_far_behind_catches_up_by_snapshot_and_a_dead_one_is_removed() {
    // Snapshots every 20 entries, keeping 5 behind: a newcomer after 100
    // writes cannot be fed from the log and must install a snapshot.
    let tuning = RaftTuning {
        snapshot_every: 20,
        keep_behind_snapshot: 5,
        snapshot_chunk: 1024,
        ..fast()
    };
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = cluster(&dirs, tuning.clone()).await;
    let leader = leader_of(&servers).await;
    for i in 0..100 {
        servers[leader]
            .write(Command::UpsertNodes {
                nodes: vec![node(&format!("n{i:03}"))],
            })
            .await
            .expect("write");
    }
    servers[leader].trigger_snapshot().await.expect("snapshot");
    tokio::time::sleep(Duration::from_millis(300)).await;

    let newcomer_dir = tempfile::tempdir().expect("dir");
    let newcomer = Server::start(config(newcomer_dir.path(), tuning))
        .await
        .expect("start");
    servers[leader]
        .add_voter(newcomer.id(), newcomer.addr().to_string())
        .await
        .expect("add voter");
    let snapshot = newcomer.read_consistent().await.expect("read");
    assert_eq!(snapshot.nodes().count(), 100);
    let installed = newcomer
        .raft()
        .metrics()
        .borrow()
        .snapshot
        .map(|id| id.index);
    assert!(
        installed.is_some(),
        "the newcomer was fed a snapshot, not only the log"
    );
    assert_eq!(
        servers[leader].peers().iter().filter(|p| p.voter).count(),
        4
    );

    // One of the old followers dies; the leader removes it. The leader is
    // looked for among every live server, the newcomer included: Raft
    // allows leadership to move meanwhile (on a loaded two-core machine a
    // starved leader's followers may elect another), and the newcomer is
    // as eligible as the others.
    let dead = (leader + 1) % 3;
    let dead_id = servers[dead].id();
    let mut servers = servers;
    servers.push(newcomer);
    servers.remove(dead).shutdown().await;
    let leader = leader_of(&servers).await;
    servers[leader].remove_peer(dead_id).await.expect("remove");
    let peers = servers[leader].peers();
    assert_eq!(peers.len(), 3);
    assert!(peers.iter().all(|p| p.id != dead_id));
    servers[leader]
        .write(Command::Noop)
        .await
        .expect("writes go on without the removed server");
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_port_fails_the_start_and_leaves_the_directory_free() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dir = tempfile::tempdir().expect("dir");
    let mut first = config(dir.path(), fast());
    first.bind = taken.local_addr().expect("addr");
    let refused = Server::start(first).await;
    assert!(
        matches!(
            refused,
            Err(scheduler_raft::server::ServerError::Bind { .. })
        ),
        "{refused:?}"
    );
    // Nothing of the failed start holds the data directory.
    let started = Server::start(config(dir.path(), fast()))
        .await
        .expect("the same directory starts on a free port");
    started.shutdown().await;
}
