//! Helpers the in-process cluster tests share: three servers over loopback
//! with fast timing, and small nodes and jobs to write.

// Each test binary compiles this module and uses only part of it.
#![allow(dead_code)]

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

pub fn fast() -> RaftTuning {
    RaftTuning {
        heartbeat: Duration::from_millis(50),
        election_timeout: (Duration::from_millis(200), Duration::from_millis(400)),
        ..RaftTuning::default()
    }
}

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
