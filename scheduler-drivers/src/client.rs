//! The client: registers its node with the servers, heartbeats, watches
//! its node's allocations with a blocking query, runs new ones and stops
//! the ones the servers stop, and reports what changed: client status,
//! task states and deployment health, never a poll of everything.
//!
//! The servers are reached through a [`ServerConnection`], which the
//! embedder implements (the agent does it over the servers' HTTP API), so
//! this crate knows nothing of Raft.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{AllocDeploymentStatus, Allocation, Node, NodeId};

use crate::alloc_control::AllocControl;
use crate::alloc_runner::{
    AllocRunnerHandle, AllocStatus, ClientContext, restore_alloc, run_alloc,
};
use crate::catalog::{ServiceCatalog, ServiceInstance};

/// A future a connection returns.
pub type ConnectionFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, String>> + Send + 'a>>;

/// How a client reaches the servers.
pub trait ServerConnection: Send + Sync {
    /// Registers (or updates) the node; the heartbeat TTL the servers
    /// expect.
    fn register(&self, node: Node) -> ConnectionFuture<'_, Duration>;
    /// One heartbeat of the node.
    fn heartbeat<'a>(&'a self, node: &'a NodeId) -> ConnectionFuture<'a, ()>;
    /// The node's allocations once the servers' allocation table moves
    /// past `index` (or `wait` passes), with the table's index.
    fn node_allocs<'a>(
        &'a self,
        node: &'a NodeId,
        index: u64,
        wait: Duration,
    ) -> ConnectionFuture<'a, (Vec<Allocation>, u64)>;
    /// What the client observed of these allocations (client status, task
    /// states, deployment status).
    fn update_allocs(&self, allocs: Vec<Allocation>) -> ConnectionFuture<'_, ()>;
    /// The service instances the node's allocations registered now, with
    /// their checks' status: the node's whole set, replacing the one
    /// reported before.
    fn update_services<'a>(
        &'a self,
        node: &'a NodeId,
        services: Vec<ServiceInstance>,
    ) -> ConnectionFuture<'a, ()>;
}

/// How often the client checks its allocations for changes to report.
const REPORT_EVERY: Duration = Duration::from_millis(200);
/// How often the service set is reported even when it did not change
/// (heals a report the servers lost, or a restored snapshot).
const SERVICES_RESYNC: Duration = Duration::from_secs(30);
/// The longest blocking query.
const POLL_WAIT: Duration = Duration::from_secs(5);
/// Wait before retrying an unreachable server.
const RETRY: Duration = Duration::from_millis(500);

#[derive(Debug)]
struct Running {
    alloc: Allocation,
    runner: AllocRunnerHandle,
    /// What was last reported, to send only changes.
    reported: Option<AllocStatus>,
}

/// The allocations a client runs, by id.
type RunningAllocs = Arc<Mutex<BTreeMap<String, Running>>>;

/// A cloneable view of the allocations a client runs, for on-demand
/// requests (restart, signal, stats). Unlike the [`ClientHandle`] it does
/// not keep the client's loops going.
#[derive(Clone)]
pub struct ClientAllocations {
    running: RunningAllocs,
}

impl std::fmt::Debug for ClientAllocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        f.debug_struct("ClientAllocations")
            .field("allocs", &running.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl ClientAllocations {
    /// The control of allocation `alloc_id` (its full id), if this client
    /// has run it since it started or restored it; `None` otherwise.
    pub fn alloc(&self, alloc_id: &str) -> Option<AllocControl> {
        self.running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(alloc_id)
            .map(|running| running.runner.control())
    }

    /// The allocation with this id, or the only one whose id starts with
    /// it, as this client runs it: the servers' allocation with the
    /// client status and task states the client sees now.
    pub fn allocation(&self, id: &str) -> Option<Allocation> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let found = by_id_or_prefix(&running, id)?;
        let status = found.runner.status.borrow().clone();
        let mut alloc = found.alloc.clone();
        alloc.client_status = status.client_status;
        alloc.task_states = status.task_states.into();
        Some(alloc)
    }
}

/// The entry keyed `id`, or else the only one whose key starts with it
/// (the CLI's short allocation ids); none for an empty or ambiguous `id`.
pub fn by_id_or_prefix<'a, T>(entries: &'a BTreeMap<String, T>, id: &str) -> Option<&'a T> {
    if id.is_empty() {
        return None;
    }
    if let Some(exact) = entries.get(id) {
        return Some(exact);
    }
    let mut matching = entries
        .range(id.to_owned()..)
        .take_while(|(key, _)| key.starts_with(id))
        .map(|(_, entry)| entry);
    let first = matching.next()?;
    matching.next().is_none().then_some(first)
}

/// A running client; dropping it stops its loops (not its tasks).
#[derive(Debug)]
pub struct ClientHandle {
    tasks: Vec<tokio::task::JoinHandle<()>>,
    allocations: ClientAllocations,
}

impl ClientHandle {
    /// The control of allocation `alloc_id` (its full id), if this client
    /// runs it: to restart or signal its tasks and read their usage.
    pub fn alloc(&self, alloc_id: &str) -> Option<AllocControl> {
        self.allocations.alloc(alloc_id)
    }

    /// A view of the client's allocations that can outlive this handle's
    /// borrow (for an API serving on-demand requests).
    pub fn allocations(&self) -> ClientAllocations {
        self.allocations.clone()
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts the client of `node` (as fingerprinted): restores the
/// allocations it ran before a restart, registers, and keeps going until
/// the handle is dropped.
pub fn start_client(
    connection: Arc<dyn ServerConnection>,
    ctx: Arc<ClientContext>,
    node: Node,
) -> ClientHandle {
    let running: RunningAllocs = Arc::default();
    // Allocations of a previous run re-attach first.
    for (id, persisted) in ctx.state.allocs() {
        let alloc = persisted.alloc.clone();
        let finished = persisted
            .tasks
            .values()
            .all(|t| t.state.state == scheduler_core::model::TaskRunState::Dead);
        if finished && !persisted.tasks.is_empty() {
            continue;
        }
        if let Ok(runner) = restore_alloc(ctx.clone(), persisted) {
            running.lock().unwrap_or_else(|e| e.into_inner()).insert(
                id,
                Running {
                    alloc,
                    runner,
                    reported: None,
                },
            );
        }
    }
    let node_id = node.id.clone();
    let (ttl_tx, ttl) = watch::channel(Duration::from_secs(10));

    let registering = connection.clone();
    let watcher = tokio::spawn({
        let ctx = ctx.clone();
        let running = running.clone();
        let node_id = node_id.clone();
        async move {
            loop {
                match registering.register(node.clone()).await {
                    Ok(granted) => {
                        let _ = ttl_tx.send(granted);
                        break;
                    }
                    Err(err) => {
                        eprintln!("client: registering node {}: {err}", node.id);
                        tokio::time::sleep(RETRY).await;
                    }
                }
            }
            watch_allocations(registering, ctx, running, node_id).await;
        }
    });
    let beating = connection.clone();
    let heartbeats = tokio::spawn({
        let node_id = node_id.clone();
        async move {
            loop {
                // Half the TTL, as Nomad's clients do.
                let every = (*ttl.borrow() / 2).max(Duration::from_millis(100));
                tokio::time::sleep(every).await;
                if let Err(err) = beating.heartbeat(&node_id).await {
                    eprintln!("client: heartbeat of node {node_id}: {err}");
                }
            }
        }
    });
    let reporter = tokio::spawn(report_changes(connection.clone(), running.clone()));
    let services = tokio::spawn(report_services(connection, ctx.catalog.clone(), node_id));
    ClientHandle {
        tasks: vec![watcher, heartbeats, reporter, services],
        allocations: ClientAllocations { running },
    }
}

async fn watch_allocations(
    connection: Arc<dyn ServerConnection>,
    ctx: Arc<ClientContext>,
    running: RunningAllocs,
    node_id: NodeId,
) {
    let mut index = 0;
    loop {
        let (allocs, next) = match connection.node_allocs(&node_id, index, POLL_WAIT).await {
            Ok(answer) => answer,
            Err(err) => {
                eprintln!("client: allocations of node {node_id}: {err}");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        index = next;
        let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
        for alloc in allocs {
            let id = alloc.id.to_string();
            match running.get_mut(&id) {
                Some(known) => {
                    if alloc.server_terminal() && !known.alloc.server_terminal() {
                        known.runner.stop();
                    }
                    known.alloc = alloc;
                }
                None if !alloc.server_terminal() && !alloc.client_terminal() => {
                    match run_alloc(ctx.clone(), alloc.clone()) {
                        Ok(runner) => {
                            running.insert(
                                id,
                                Running {
                                    alloc,
                                    runner,
                                    reported: None,
                                },
                            );
                        }
                        Err(err) => eprintln!("client: allocation {id}: {err}"),
                    }
                }
                None => {}
            }
        }
    }
}

/// The allocation as the servers should store what the client saw.
fn report_of(alloc: &Allocation, status: &AllocStatus) -> Allocation {
    let mut report = alloc.clone();
    report.job = None;
    report.client_status = status.client_status;
    report.task_states = status.task_states.clone().into();
    // Reported with or without a deployment: the drainer paces migrations
    // on the health of the replacements too.
    if let Some(healthy) = status.health.healthy {
        report.deployment_status = Some(Box::new(AllocDeploymentStatus {
            healthy: Some(healthy),
            timestamp: format_rfc3339_nanos(crate::clock::unix_nanos()),
            canary: alloc.deployment_status.as_ref().is_some_and(|d| d.canary),
            ..AllocDeploymentStatus::default()
        }));
    }
    report
}

async fn report_changes(connection: Arc<dyn ServerConnection>, running: RunningAllocs) {
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        let changed: Vec<(String, AllocStatus, Allocation)> = {
            let running = running.lock().unwrap_or_else(|e| e.into_inner());
            running
                .iter()
                .filter_map(|(id, r)| {
                    let now = r.runner.status.borrow().clone();
                    (r.reported.as_ref() != Some(&now))
                        .then(|| (id.clone(), now.clone(), report_of(&r.alloc, &now)))
                })
                .collect()
        };
        if changed.is_empty() {
            continue;
        }
        let reports = changed.iter().map(|(_, _, r)| r.clone()).collect();
        if connection.update_allocs(reports).await.is_ok() {
            let mut running = running.lock().unwrap_or_else(|e| e.into_inner());
            for (id, status, _) in changed {
                if let Some(r) = running.get_mut(&id) {
                    r.reported = Some(status);
                }
            }
        }
    }
}

/// Reports the node's service instances whenever they (or their checks'
/// status) change, and every [`SERVICES_RESYNC`] regardless.
async fn report_services(
    connection: Arc<dyn ServerConnection>,
    catalog: Arc<ServiceCatalog>,
    node_id: NodeId,
) {
    let mut reported: Option<Vec<ServiceInstance>> = None;
    let mut since_report = Duration::ZERO;
    loop {
        tokio::time::sleep(REPORT_EVERY).await;
        since_report += REPORT_EVERY;
        let now = catalog.instances();
        if reported.as_ref() == Some(&now) && since_report < SERVICES_RESYNC {
            continue;
        }
        match connection.update_services(&node_id, now.clone()).await {
            Ok(()) => {
                reported = Some(now);
                since_report = Duration::ZERO;
            }
            Err(err) => {
                eprintln!("client: services of node {node_id}: {err}");
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_or_a_unique_prefix_finds_one_entry() {
        let entries: BTreeMap<String, u32> = [
            ("ab12".to_owned(), 1),
            ("ab34".to_owned(), 2),
            ("cd".to_owned(), 3),
            ("cdef".to_owned(), 4),
        ]
        .into();
        assert_eq!(by_id_or_prefix(&entries, "ab12"), Some(&1));
        assert_eq!(by_id_or_prefix(&entries, "ab3"), Some(&2));
        assert_eq!(by_id_or_prefix(&entries, "ab"), None, "ambiguous");
        assert_eq!(
            by_id_or_prefix(&entries, "cd"),
            Some(&3),
            "exact beats prefix"
        );
        assert_eq!(by_id_or_prefix(&entries, "x"), None);
        assert_eq!(by_id_or_prefix(&entries, ""), None);
    }
}
