//! Helpers the in-process cluster tests share: three servers over loopback
//! with fast timing, and small nodes and jobs to write; [`control`] runs a
//! control plane on each server and [`agent`] plays the nodes' client.

// Each test binary compiles this module and uses only part of it (the
// allowance covers the submodules too).
#![allow(dead_code)]

pub mod agent;
pub mod control;

use std::collections::BTreeMap;
use std::time::Duration;

use scheduler_core::model::{Job, JobId, Node, NodeId, NodeStatus};
use scheduler_raft::Server;
use scheduler_raft::server::{RaftTuning, ServerConfig};

pub fn config(dir: &std::path::Path, tuning: RaftTuning) -> ServerConfig {
    ServerConfig {
        data_dir: dir.to_owned(),
        bind: "127.0.0.1:0".parse().expect("address"),
        tuning,
    }
}

/// Raft timing quick enough for tests that wait on elections, with room
/// for a test binary's clusters running side by side on two cores (a
/// follower stands after 400-600 ms without word from its leader).
pub fn fast() -> RaftTuning {
    RaftTuning {
        heartbeat: Duration::from_millis(50),
        election_timeout: (Duration::from_millis(400), Duration::from_millis(600)),
        ..RaftTuning::default()
    }
}

/// Raft timing for tests that must not see an election they did not
/// cause: a loaded machine must not elect a new leader in the middle of a
/// test that does not ask for it.
pub fn lenient() -> RaftTuning {
    RaftTuning {
        heartbeat: Duration::from_millis(100),
        election_timeout: (Duration::from_millis(1500), Duration::from_millis(2000)),
        ..RaftTuning::default()
    }
}

/// Starts a server in each of `dirs` and bootstraps them into one cluster.
pub async fn cluster(dirs: &[tempfile::TempDir], tuning: RaftTuning) -> Vec<Server> {
    let mut servers = Vec::new();
    for dir in dirs {
        servers.push(
            Server::start(config(dir.path(), tuning.clone()))
                .await
                .expect("start"),
        );
    }
    let members: BTreeMap<u64, String> = servers
        .iter()
        .map(|s| (s.id(), s.addr().to_string()))
        .collect();
    for server in &servers {
        server.bootstrap(members.clone()).await.expect("bootstrap");
    }
    servers
}

pub fn node(id: &str) -> Node {
    Node {
        id: NodeId::new(id),
        name: id.to_owned(),
        status: NodeStatus::Ready,
        ..Node::default()
    }
}

pub fn job(id: &str, priority: i64) -> Job {
    Job {
        id: JobId::new(id),
        namespace: "default".to_owned(),
        priority: Some(priority),
        ..Job::default()
    }
}
