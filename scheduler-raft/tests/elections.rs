//! When servers stand for election, with the production timings
//! (`RaftTuning::default()`): a real three-server cluster in one process
//! over loopback. Leader failover under kill -9 is measured with separate
//! processes in `bins/tests/raft_cluster.rs`.

use std::time::Duration;

use scheduler_raft::server::RaftTuning;
use scheduler_raft::{Command, Server};

mod common;
use common::{cluster, config, node};

/// The server every server names as leader, once they agree.
async fn agreed_leader(servers: &[Server]) -> u64 {
    for _ in 0..250 {
        let named: Vec<_> = servers.iter().map(|s| s.status().leader).collect();
        if let Some(Some(leader)) = named.first()
            && named.iter().all(|n| *n == Some(*leader))
            && servers
                .iter()
                .any(|s| s.id() == *leader && s.status().is_leader)
        {
            return *leader;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the servers did not agree on a leader in 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_follower_rejoins_without_deposing_the_leader() {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let mut servers = cluster(&dirs, RaftTuning::default()).await;
    let addresses: Vec<_> = servers.iter().map(Server::addr).collect();
    let leader = agreed_leader(&servers).await;
    let term = servers
        .iter()
        .find(|s| s.id() == leader)
        .expect("leader")
        .status()
        .term;

    for round in 0..4 {
        // Each follower in turn stops for long enough that the leader's
        // connection attempts to it fail and it backs off, then comes back
        // on its address and directory. Just over 500 ms down: with
        // openraft's default retry (every 500 ms) the leader would next
        // try it about 450 ms after it is back, past a 300-450 ms timeout.
        let position = servers
            .iter()
            .enumerate()
            .filter(|(_, s)| s.id() != leader)
            .nth(round % 2)
            .map(|(i, _)| i)
            .expect("a follower");
        let follower = servers.remove(position);
        follower.shutdown().await;
        tokio::time::sleep(Duration::from_millis(550 + 10 * round as u64)).await;
        let mut restart = config(dirs[position].path(), RaftTuning::default());
        restart.bind = addresses[position];
        servers.insert(position, Server::start(restart).await.expect("restart"));

        // Well past its election timeout, the restarted follower has
        // caught up with a write and stood for nothing: same leader, same
        // term on every server.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let leading = servers
            .iter()
            .find(|s| s.id() == leader)
            .expect("leader still a member");
        let written = leading
            .write(Command::UpsertNodes {
                nodes: vec![node(&format!("after-restart-{round}"))],
            })
            .await
            .expect("write");
        servers[position]
            .wait_applied(written.index, Duration::from_secs(5))
            .await
            .expect("the restarted follower catches up");
        for server in &servers {
            let status = server.status();
            assert_eq!(
                (status.leader, status.term),
                (Some(leader), term),
                "round {round}: server {} sees another leader or term",
                server.id()
            );
        }
    }
    for server in servers {
        server.shutdown().await;
    }
}
