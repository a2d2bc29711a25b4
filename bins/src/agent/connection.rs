//! A client's connection to the servers over their HTTP API: the
//! `scheduler_drivers::client::ServerConnection` the agent gives its
//! client, made of `scheduler_raft::client::RemoteClient` calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::model::api::DrainSpec;
use scheduler_core::model::api::ServiceRegistration;
use scheduler_core::model::{Allocation, Node, NodeId};
use scheduler_drivers::catalog::ServiceInstance;
use scheduler_drivers::client::{ConnectionFuture, ServerConnection};
use scheduler_raft::client::RemoteClient;
use scheduler_raft::services::RegisteredService;

/// How long one request to the servers may try (leader elections
/// included).
const REQUEST_DEADLINE: Duration = Duration::from_secs(10);

/// The servers, through any of them.
#[derive(Debug, Clone)]
pub struct RaftConnection {
    servers: Arc<RemoteClient>,
    /// The node's datacenter, for its service registrations.
    datacenter: String,
}

impl RaftConnection {
    /// A connection through these servers (`host:port` each), for a node
    /// in `datacenter`.
    pub fn new(servers: Vec<String>, datacenter: &str) -> Self {
        Self {
            servers: Arc::new(RemoteClient::new(servers)),
            datacenter: datacenter.to_owned(),
        }
    }

    /// Starts draining `node` (the node as this client registered it) as
    /// `spec` says, with `meta` recorded on the drain.
    pub async fn drain_node(
        &self,
        node: Node,
        spec: &DrainSpec,
        meta: BTreeMap<String, String>,
    ) -> Result<(), String> {
        let answer = self
            .servers
            .drain_node(node, spec, meta, REQUEST_DEADLINE)
            .await
            .map_err(|e| e.to_string())?;
        answer
            .result
            .map(drop)
            .map_err(|refusal| refusal.to_string())
    }
}

impl RaftConnection {
    /// The servers' client it talks through.
    pub fn servers(&self) -> Arc<RemoteClient> {
        self.servers.clone()
    }
}

/// A client's service instance as the servers store it (the job and
/// namespace are filled in from the allocation when read).
fn registered(instance: ServiceInstance, datacenter: &str) -> RegisteredService {
    let passing = instance.passing();
    RegisteredService {
        registration: ServiceRegistration {
            id: instance.id,
            service_name: instance.service_name,
            namespace: "default".to_owned(),
            node_id: instance.node_id,
            datacenter: datacenter.to_owned(),
            job_id: String::new(),
            alloc_id: instance.alloc_id,
            tags: instance.tags,
            address: instance.address,
            port: instance.port,
            create_index: 0,
            modify_index: 0,
        },
        passing,
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

    fn update_services<'a>(
        &'a self,
        node: &'a NodeId,
        services: Vec<ServiceInstance>,
    ) -> ConnectionFuture<'a, ()> {
        Box::pin(async move {
            let services = services
                .into_iter()
                .map(|instance| registered(instance, &self.datacenter))
                .collect();
            let answer = self
                .servers
                .set_node_services(node.clone(), services, REQUEST_DEADLINE)
                .await
                .map_err(|e| e.to_string())?;
            answer
                .result
                .map(drop)
                .map_err(|refusal| format!("{refusal:?}"))
        })
    }
}
