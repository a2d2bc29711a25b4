//! The agent's client as the HTTP API sees it: the allocations it runs
//! (their directories, for logs; restarting and signalling their tasks;
//! their resource usage).

use std::path::PathBuf;
use std::sync::Arc;

use scheduler_core::model::Allocation;
use scheduler_drivers::alloc_control::AllocControl;
use scheduler_drivers::alloc_runner::ClientContext;
use scheduler_drivers::client::ClientAllocations;
use scheduler_raft::api::{ClientFuture, LocalClient};

/// [`LocalClient`] over a running client's context and allocations.
#[derive(Debug)]
pub struct AgentLocalClient {
    context: Arc<ClientContext>,
    allocations: ClientAllocations,
}

impl AgentLocalClient {
    /// The API's view of the client with this context, running these
    /// allocations.
    pub fn new(context: Arc<ClientContext>, allocations: ClientAllocations) -> Self {
        Self {
            context,
            allocations,
        }
    }

    /// An allocation that finished before the client restarted: the client
    /// no longer runs it, but its directory (its logs) is still here, and
    /// its record in the client's state says what it was. Found by id or
    /// unique prefix; reported complete.
    fn finished_before_restart(&self, id: &str) -> Option<Allocation> {
        let persisted = self.context.state.allocs();
        let first = scheduler_drivers::client::by_id_or_prefix(&persisted, id)?;
        let mut alloc = first.alloc.clone();
        alloc.client_status = scheduler_core::model::AllocClientStatus::Complete;
        Some(alloc)
    }

    /// The allocation's control, or the error the API reports.
    fn alloc(&self, alloc_id: &str) -> Result<AllocControl, String> {
        self.allocations
            .alloc(alloc_id)
            .ok_or_else(|| format!("allocation {alloc_id} is not running on this client"))
    }
}

impl LocalClient for AgentLocalClient {
    fn node_id(&self) -> String {
        self.context.node.id.as_str().to_owned()
    }

    fn allocation(&self, id: &str) -> Option<Allocation> {
        self.allocations
            .allocation(id)
            .or_else(|| self.finished_before_restart(id))
    }

    fn alloc_dir(&self, alloc_id: &str) -> Option<PathBuf> {
        // Ids are UUIDs; anything else cannot name a directory of ours.
        if alloc_id.is_empty() || !alloc_id.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return None;
        }
        let dir = self.context.data_dir.join("allocs").join(alloc_id);
        dir.is_dir().then_some(dir)
    }

    fn restart(&self, alloc_id: &str, task: Option<&str>) -> ClientFuture<'_, ()> {
        // The future outlives the borrowed arguments: it owns copies.
        let control = self.alloc(alloc_id);
        let task = task.map(str::to_owned);
        Box::pin(async move {
            control?
                .restart_task(task.as_deref())
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn signal(&self, alloc_id: &str, task: Option<&str>, signal: &str) -> ClientFuture<'_, ()> {
        let control = self.alloc(alloc_id);
        let task = task.map(str::to_owned);
        let signal = signal.to_owned();
        Box::pin(async move {
            control?
                .signal_task(task.as_deref(), &signal)
                .await
                .map_err(|e| e.to_string())
        })
    }

    fn stats(&self, alloc_id: &str) -> ClientFuture<'_, serde_json::Value> {
        let control = self.alloc(alloc_id);
        Box::pin(async move {
            let usage = control?.stats().await;
            serde_json::to_value(usage).map_err(|e| format!("allocation statistics: {e}"))
        })
    }
}
