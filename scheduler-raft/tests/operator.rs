//! Operator tools against a real in-process cluster (redb files, HTTP over
//! loopback): snapshot save and restore, removing a dead peer, and
//! recovering a lone survivor after the quorum is lost.

use std::collections::BTreeMap;
use std::time::Duration;

use scheduler_core::model::{Job, JobId, NodeId};
use scheduler_core::state::StateSnapshot;
use scheduler_raft::client::RemoteClient;
use scheduler_raft::cluster_state::{ClusterDump, Table};
use scheduler_raft::operator::{self, OperatorError};
use scheduler_raft::state_machine::{SNAPSHOT_FORMAT, SnapshotFile};
use scheduler_raft::{Applied, Command, Server};

mod common;
use common::{cluster, config, fast, job, node};

fn register(job: Job) -> Command {
    Command::RegisterJob {
        job: Box::new(job),
        enforce_index: None,
        eval: None,
    }
}

async fn leader_of(servers: &[Server]) -> usize {
    for _ in 0..250 {
        if let Some(position) = servers.iter().position(|s| s.status().is_leader) {
            return position;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no leader elected within 5 s");
}

/// The dump a server holds after restoring `saved` at `index`: the saved
/// objects as they were, the store's and every table's index at `index`.
fn restored_at(saved: &ClusterDump, index: u64) -> ClusterDump {
    let mut expected = saved.clone();
    expected.state.index = index;
    expected.tables = Table::ALL.iter().map(|table| (*table, index)).collect();
    expected
}

async fn all_at(servers: &[Server], index: u64) -> Vec<ClusterDump> {
    let mut dumps = Vec::new();
    for server in servers {
        server
            .wait_applied(index, Duration::from_secs(5))
            .await
            .expect("caught up");
        dumps.push(server.dump_stale());
    }
    dumps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_snapshot_restores_every_server_to_the_saved_state() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    let (first, second) = ((leader + 1) % 3, (leader + 2) % 3);

    servers[first]
        .write(Command::UpsertNodes {
            nodes: vec![node("n1"), node("n2")],
        })
        .await
        .expect("write");
    servers[first]
        .write(register(job("web", 50)))
        .await
        .expect("write");

    // Saved through a follower: a linearizable read, written as one file.
    let saved = operator::snapshot_save(&servers[first])
        .await
        .expect("save");
    let file = SnapshotFile::from_bytes(&saved).expect("parse");
    assert_eq!(file.format, SNAPSHOT_FORMAT);
    assert!(file.producer.starts_with("scheduler-raft "));
    assert_eq!(
        file.meta.last_membership.membership().voter_ids().count(),
        3
    );
    assert_eq!(file.state.state.nodes.len(), 2);
    assert_eq!(file.state.state.jobs.len(), 1);
    let saved_index = file.meta.last_log_id.expect("a log id").index;
    assert!(file.state.state.index <= saved_index);

    // The same file over HTTP, from another server.
    let address = servers[second].addr().to_string();
    let client = RemoteClient::new(vec![address.clone()]);
    let over_http = client
        .snapshot_save(&address)
        .await
        .expect("save over http");
    let over_http = SnapshotFile::from_bytes(&over_http).expect("parse");
    assert_eq!(over_http.state, file.state);

    // More writes after the save.
    servers[leader]
        .write(Command::UpsertNodes {
            nodes: vec![node("n3")],
        })
        .await
        .expect("write");
    servers[leader]
        .write(register(job("api", 70)))
        .await
        .expect("write");
    servers[leader]
        .write(Command::DeleteNode {
            node_id: NodeId::new("n1"),
        })
        .await
        .expect("write");
    let current = servers[second].read_consistent().await.expect("read");
    assert_eq!(current.nodes().count(), 2);
    let jobs_index = servers[second].table_index(Table::Jobs);

    // A blocking query on jobs wakes on the restore; the restore goes in
    // through a follower and reaches every server.
    let waiting = servers[second].wait_table(Table::Jobs, jobs_index, Duration::from_secs(10));
    let restoring = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        operator::snapshot_restore(&servers[second], &saved)
            .await
            .expect("restore")
    };
    let (woke_at, outcome) = tokio::join!(waiting, restoring);
    assert_eq!(woke_at, outcome.applied_at);
    assert_eq!(outcome.saved_at, Some(saved_index));
    assert!(
        outcome.applied_at > jobs_index,
        "indexes never go backwards"
    );

    let expected = restored_at(&file.state, outcome.applied_at);
    for dump in all_at(&servers, outcome.applied_at).await {
        assert_eq!(dump, expected);
    }
    let snapshot = servers[leader].read_consistent().await.expect("read");
    assert!(snapshot.node(&NodeId::new("n1")).is_some());
    assert!(snapshot.node(&NodeId::new("n3")).is_none());
    assert!(snapshot.job("default", &JobId::new("api")).is_none());

    // Writes go on after a restore, at later indexes.
    let after = servers[first]
        .write(register(job("after", 50)))
        .await
        .expect("write after restore");
    assert!(after.index > outcome.applied_at);
    assert!(matches!(after.result, Ok(Applied::JobRegistered { .. })));

    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_truncated_or_foreign_snapshot_is_refused_and_changes_nothing() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    let follower = (leader + 1) % 3;
    servers[leader]
        .write(Command::UpsertNodes {
            nodes: vec![node("n1")],
        })
        .await
        .expect("write");
    let saved = operator::snapshot_save(&servers[leader])
        .await
        .expect("save");
    let before = servers[leader]
        .read_consistent()
        .await
        .expect("read")
        .index();

    // Format 999, whose layout this build cannot know: refused as too new,
    // naming both versions.
    let mut newer: serde_json::Value = serde_json::from_slice(&saved).expect("json");
    newer["format"] = serde_json::json!(999);
    newer["state"] = serde_json::json!("a layout from the future");
    let newer = serde_json::to_vec(&newer).expect("json");
    let err = operator::snapshot_restore(&servers[follower], &newer)
        .await
        .expect_err("a newer format is refused");
    assert!(matches!(err, OperatorError::Snapshot(_)), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("999") && message.contains(&format!("({SNAPSHOT_FORMAT})")),
        "{message}"
    );

    // The same over HTTP.
    let address = servers[follower].addr().to_string();
    let client = RemoteClient::new(vec![address.clone()]);
    let err = client
        .snapshot_restore(&address, newer)
        .await
        .expect_err("refused over http");
    assert!(err.to_string().contains("999"), "{err}");

    // A truncated file.
    let truncated = &saved[..saved.len() / 2];
    let err = operator::snapshot_restore(&servers[follower], truncated)
        .await
        .expect_err("a truncated file is refused");
    assert!(err.to_string().contains("truncated"), "{err}");
    let err = client
        .snapshot_restore(&address, truncated.to_vec())
        .await
        .expect_err("refused over http");
    assert!(err.to_string().contains("truncated"), "{err}");

    // Not a snapshot at all.
    let err = operator::snapshot_restore(&servers[follower], b"{\"format\": 1}")
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains("not a scheduler snapshot"),
        "{err}"
    );

    // Nothing was proposed.
    let after = servers[leader]
        .read_consistent()
        .await
        .expect("read")
        .index();
    assert_eq!(before, after);
    for server in servers {
        server.shutdown().await;
    }
}

/// A snapshot file written by the first format, kept as it was written: a
/// newer build must keep restoring it (see `fixtures/README.md`).
const FORMAT_1_FIXTURE: &[u8] = include_bytes!("fixtures/snapshot-format-1.json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_snapshot_file_keeps_restoring() {
    let file = SnapshotFile::from_bytes(FORMAT_1_FIXTURE).expect("format 1 parses");
    assert_eq!(file.format, 1);

    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(config(dir.path(), fast()))
        .await
        .expect("start");
    server
        .bootstrap(BTreeMap::from([(server.id(), server.addr().to_string())]))
        .await
        .expect("bootstrap");
    let outcome = operator::snapshot_restore(&server, FORMAT_1_FIXTURE)
        .await
        .expect("restore");
    let snapshot = server.read_consistent().await.expect("read");
    let mut nodes: Vec<_> = snapshot.nodes().map(|n| n.id.to_string()).collect();
    nodes.sort();
    assert_eq!(nodes, ["node-1", "node-2", "node-3"]);
    let web = snapshot
        .job("default", &JobId::new("web"))
        .expect("web restored");
    assert_eq!(web.priority, Some(60));
    assert_eq!(web.version, 1);
    assert!(snapshot.job("default", &JobId::new("batch")).is_some());
    assert_eq!(snapshot.index(), outcome.applied_at);
    assert_eq!(server.table_index(Table::Nodes), outcome.applied_at);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_peer_is_removed_through_any_server() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    servers[leader]
        .write(Command::UpsertNodes {
            nodes: vec![node("n1")],
        })
        .await
        .expect("write");

    // A follower dies; the other follower is asked to remove it.
    let dead = (leader + 1) % 3;
    let dead_id = servers[dead].id();
    servers.remove(dead).shutdown().await;
    let asked = servers
        .iter()
        .position(|s| !s.status().is_leader)
        .expect("a follower");
    let address = servers[asked].addr().to_string();
    let client = RemoteClient::new(vec![address.clone()]);
    client
        .remove_peer(&address, dead_id)
        .await
        .expect("removed through a follower");

    let response = servers[asked]
        .write(Command::UpsertNodes {
            nodes: vec![node("n2")],
        })
        .await
        .expect("the cluster keeps committing");
    for server in &servers {
        server
            .wait_applied(response.index, Duration::from_secs(5))
            .await
            .expect("caught up");
        let peers = server.peers();
        assert_eq!(peers.len(), 2, "{peers:?}");
        assert!(peers.iter().all(|p| p.id != dead_id && p.voter));
    }
    let over_http = client.peers(&address).await.expect("peers");
    assert_eq!(over_http.len(), 2);

    // The library call does the same (removing an absent server is fine).
    operator::remove_peer(&servers[asked], dead_id)
        .await
        .expect("idempotent");
    for server in servers {
        server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_survivor_recovers_with_every_write_and_grows_a_new_cluster() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut servers = cluster(&dirs, fast()).await;
    let leader = leader_of(&servers).await;
    let survivor = (leader + 1) % 3;
    let survivor_dir = dirs[survivor].path().to_owned();
    let survivor_addr = servers[survivor].addr();
    let survivor_id = servers[survivor].id();

    // Some writes, a snapshot on the survivor, more writes after it (so the
    // recovery restores a snapshot and replays the log on top).
    for i in 0..15 {
        servers[leader]
            .write(Command::UpsertNodes {
                nodes: vec![node(&format!("n{i:02}"))],
            })
            .await
            .expect("write");
    }
    servers[survivor]
        .read_consistent()
        .await
        .expect("caught up");
    servers[survivor]
        .trigger_snapshot()
        .await
        .expect("snapshot");
    let mut last_ack = 0;
    for i in 15..30 {
        last_ack = servers[leader]
            .write(Command::UpsertNodes {
                nodes: vec![node(&format!("n{i:02}"))],
            })
            .await
            .expect("write")
            .index;
    }
    servers[survivor]
        .wait_applied(last_ack, Duration::from_secs(5))
        .await
        .expect("the survivor has every acknowledged write");

    // A running server's directory cannot be recovered.
    let busy = operator::recover_single_node(&survivor_dir, &survivor_addr.to_string());
    assert!(busy.is_err(), "recovering a running server must fail");

    // Two of three go away: the quorum is lost, writes cannot commit.
    let survivor_server = servers.remove(survivor);
    for server in servers {
        server.shutdown().await;
    }
    let stuck = tokio::time::timeout(
        Duration::from_secs(2),
        survivor_server.write(Command::UpsertNodes {
            nodes: vec![node("lost")],
        }),
    )
    .await;
    assert!(
        !matches!(stuck, Ok(Ok(_))),
        "a write committed without a quorum: {stuck:?}"
    );
    survivor_server.shutdown().await;

    // A copy of the directory as it was before the recovery, to rebuild
    // below the state of a recovery interrupted halfway.
    let before_recovery = tempfile::tempdir().expect("dir");
    copy_dir(&survivor_dir, before_recovery.path());

    let report = recover(&survivor_dir, survivor_addr).await;
    assert_eq!(report.server_id, survivor_id);
    assert_eq!(report.previous_voters.len(), 3);
    assert!(report.snapshot_index.is_some(), "{report:?}");
    assert!(report.replayed > 0, "{report:?}");
    assert!(report.last_index >= last_ack, "{report:?}");

    // Restarted alone on its address: it leads, with every acknowledged
    // write, and commits new ones.
    let mut restart = config(&survivor_dir, fast());
    restart.bind = survivor_addr;
    let survivor = Server::start(restart).await.expect("restart");
    leader_of(std::slice::from_ref(&survivor)).await;
    assert!(survivor.status().term >= report.term, "terms never go back");
    let peers = survivor.peers();
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].id, survivor_id);
    let snapshot = survivor.read_consistent().await.expect("read");
    let names: Vec<String> = snapshot.nodes().map(|n| n.name.clone()).collect();
    for i in 0..30 {
        let acknowledged = format!("n{i:02}");
        assert!(
            names.contains(&acknowledged),
            "{acknowledged} lost: {names:?}"
        );
    }
    // The write that timed out has an unknown outcome: if leadership had
    // moved to the survivor before the others stopped, the survivor holds it
    // uncommitted in its log, and recovery keeps it (as Nomad's does). It is
    // the only write that may appear beyond the acknowledged ones.
    let recovered_nodes = names.len();
    let recovered_names = names.clone();
    assert!(
        recovered_nodes == 30 || (recovered_nodes == 31 && names.iter().any(|n| n == "lost")),
        "unexpected nodes after recovery: {names:?}"
    );
    let written = survivor
        .write(Command::UpsertNodes {
            nodes: vec![node("after-recovery")],
        })
        .await
        .expect("a new write commits");
    assert!(written.index > report.last_index);

    // A new server joins it.
    let newcomer_dir = tempfile::tempdir().expect("dir");
    let newcomer = Server::start(config(newcomer_dir.path(), fast()))
        .await
        .expect("start");
    survivor
        .add_voter(newcomer.id(), newcomer.addr().to_string())
        .await
        .expect("add voter");
    let joined = newcomer.read_consistent().await.expect("read");
    assert_eq!(joined.nodes().count(), recovered_nodes + 1);
    assert_eq!(survivor.peers().iter().filter(|p| p.voter).count(), 2);
    survivor
        .write(Command::Noop)
        .await
        .expect("writes commit with two voters");
    newcomer.shutdown().await;
    survivor.shutdown().await;

    // A recovery interrupted between its two writes: the new snapshot is
    // in raft.redb, the log behind it not yet purged. The directory still
    // starts as the lone survivor with every write, and a second recovery
    // finishes the job.
    let interrupted = before_recovery.path();
    std::fs::copy(
        survivor_dir.join("raft.redb"),
        interrupted.join("raft.redb"),
    )
    .expect("copy the recovered snapshot");
    for _ in 0..2 {
        let mut start = config(interrupted, fast());
        start.bind = survivor_addr;
        let server = Server::start(start).await.expect("start");
        leader_of(std::slice::from_ref(&server)).await;
        let peers = server.peers();
        assert_eq!(peers.len(), 1, "{peers:?}");
        assert_eq!(peers[0].id, survivor_id);
        let state = server.read_consistent().await.expect("read");
        let mut names: Vec<String> = state.nodes().map(|n| n.name.clone()).collect();
        names.sort();
        let mut expected = recovered_names.clone();
        expected.sort();
        assert_eq!(names, expected);
        server.shutdown().await;
        let again = recover(interrupted, survivor_addr).await;
        // The new snapshot holds everything the log had (the entries the
        // server wrote since, such as its new term's first, are replayed).
        assert!(again.snapshot_index >= Some(report.last_index), "{again:?}");
        assert_eq!(again.previous_voters, vec![survivor_id]);
    }
}

/// Runs the offline recovery of `dir`. (`shutdown` returns before
/// openraft's state machine task has dropped the database, so the files
/// may stay locked for a moment.)
async fn recover(dir: &std::path::Path, address: std::net::SocketAddr) -> operator::RecoveryReport {
    let mut attempts = 0;
    loop {
        let address = address.to_string();
        let dir = dir.to_owned();
        let recovered =
            tokio::task::spawn_blocking(move || operator::recover_single_node(&dir, &address))
                .await
                .expect("join");
        match recovered {
            Err(err)
                if (err.to_string().contains("already open")
                    || err.to_string().contains("Locked"))
                    && attempts < 50 =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other.expect("recover"),
        }
    }
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).expect("create");
    for item in std::fs::read_dir(from).expect("read dir") {
        let item = item.expect("entry");
        let target = to.join(item.file_name());
        if item.file_type().expect("type").is_dir() {
            copy_dir(&item.path(), &target);
        } else {
            std::fs::copy(item.path(), &target).expect("copy");
        }
    }
}
