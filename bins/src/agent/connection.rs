//! A client's connection to the servers over their HTTP API: the
//! `scheduler_drivers::client::ServerConnection` the agent gives its
//! client, made of `scheduler_raft::client::RemoteClient` calls.

use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::{Allocation, Node, NodeId};
use scheduler_drivers::client::{ConnectionFuture, ServerConnection};
use scheduler_raft::client::RemoteClient;

/// How long one request to the servers may try (leader elections
/// included).
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The servers, through any of them.
#[derive(Debug, Clone)]
pub struct RaftConnection {
    servers: Arc<RemoteClient>,
}

impl RaftConnection {
    /// A connection through these servers (`host:port` each).
    pub fn new(servers: Vec<String>) -> Self {
        Self {
            servers: Arc::new(RemoteClient::new(servers)),
        }
    }
}

impl ServerConnection for RaftConnection {
    fn register(&self, node: Node) -> ConnectionFuture<'_, Duration> {
        Box::pin(async move {
            self.servers
                .register_node(node, REQUEST_DEADLINE)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn heartbeat<'a>(&'a self, node: &'a NodeId) -> ConnectionFuture<'a, ()> {
        Box::pin(async move {
            let answer = self
                .servers
                .heartbeat(vec![node.clone()], REQUEST_DEADLINE)
                .await
                .map_err(|e| e.to_string())?;
            if answer.unknown.contains(node) {
                return Err(format!("the servers do not know node {node}"));
            }
            Ok(())
        })
    }

    fn node_allocs<'a>(
        &'a self,
        node: &'a NodeId,
        index: u64,
        wait: Duration,
    ) -> ConnectionFuture<'a, (Vec<Allocation>, u64)> {
        Box::pin(async move {
            let answer = self
                .servers
                .node_allocs(node, index, wait)
                .await
                .map_err(|e| e.to_string())?;
            Ok((answer.allocs, answer.index))
        })
    }

    fn update_allocs(&self, allocs: Vec<Allocation>) -> ConnectionFuture<'_, ()> {
        Box::pin(async move {
            self.servers
                .update_allocs(allocs, REQUEST_DEADLINE)
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
    }
}
