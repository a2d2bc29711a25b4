//! The agent's client as the HTTP API sees it: the allocations it runs
//! (their directories, for logs) and the services they registered.

use std::path::PathBuf;
use std::sync::Arc;

use scheduler_core::model::api::ServiceRegistration;
use scheduler_drivers::alloc_runner::ClientContext;
use scheduler_raft::api::{ClientFuture, LocalClient};

/// [`LocalClient`] over a running client's context.
#[derive(Debug)]
pub struct AgentLocalClient {
    context: Arc<ClientContext>,
}

impl AgentLocalClient {
    /// The API's view of the client with this context.
    pub fn new(context: Arc<ClientContext>) -> Self {
        Self { context }
    }
}

impl LocalClient for AgentLocalClient {
    fn node_id(&self) -> String {
        self.context.node.id.as_str().to_owned()
    }

    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf> {
        // Ids are UUIDs; anything else cannot name a directory of ours.
        if alloc_id.is_empty() || !alloc_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return None;
        }
        let dir = self.context.data_dir.join("allocs").join(alloc_id);
        dir.is_dir().then_some(dir)
    }

    fn services(&self) -> Vec<(ServiceRegistration, bool)> {
        let node = &self.context.node;
        self.context
            .catalog
            .instances()
            .into_iter()
            .map(|instance| {
                let passing = instance.passing();
                let registration = ServiceRegistration {
                    id: instance.id,
                    service_name: instance.service_name,
                    namespace: "default".to_owned(),
                    node_id: instance.node_id,
                    datacenter: node.datacenter.clone(),
                    job_id: String::new(),
                    alloc_id: instance.alloc_id,
                    tags: instance.tags,
                    address: instance.address,
                    port: instance.port,
                    create_index: 0,
                    modify_index: 0,
                };
                (registration, passing)
            })
            .collect()
    }

    fn restart(&self, _alloc_id: &str, _task: Option<&str>) -> ClientFuture<'_, ()> {
        Box::pin(async { Err("restarting tasks through the API is not supported yet".to_owned()) })
    }

    fn signal(&self, _alloc_id: &str, _task: Option<&str>, _signal: &str) -> ClientFuture<'_, ()> {
        Box::pin(async { Err("signalling tasks through the API is not supported yet".to_owned()) })
    }

    fn stats(&self, _alloc_id: &str) -> ClientFuture<'_, serde_json::Value> {
        Box::pin(async { Err("allocation statistics are not supported yet".to_owned()) })
    }
}
