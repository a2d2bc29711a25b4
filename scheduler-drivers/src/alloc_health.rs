//! The health side of an allocation runner: its services registered in
//! the catalog with their checks running, and its deployment health
//! (`scheduler_core::alloc_health`) judged from task states and check
//! changes; all of it ends with the allocation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use scheduler_core::alloc_health::{AllocHealth, AllocHealthTracker, Observation};
use scheduler_core::model::{Allocation, Service, TaskRunState, TaskState, UpdateStrategy};
use scheduler_core::taskenv::TaskEnv;

use crate::catalog::{ServiceCatalog, ServiceInstance};
use crate::checks::{CheckHandle, CheckStatus, CheckUpdate, define_check, run_check};

/// A service to register, with the environment its checks read.
pub(crate) struct ServiceToRegister {
    /// `group` or the task's name.
    pub owner: String,
    pub service: Service,
    pub env: TaskEnv,
    pub task_dir: PathBuf,
}

/// What the health watcher publishes into the allocation's status.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HealthStatus {
    /// Every check of the allocation with its status.
    pub checks: BTreeMap<String, CheckStatus>,
    /// The deployment verdict: `None` while undecided (or manual).
    pub healthy: Option<bool>,
    /// Why it is unhealthy, when it is.
    pub description: String,
}

/// Registers the services, runs their checks and judges health until
/// dropped; then the services leave the catalog.
pub(crate) struct HealthWatch {
    catalog: Arc<ServiceCatalog>,
    alloc_id: String,
    _checks: Vec<CheckHandle>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HealthWatch {
    fn drop(&mut self) {
        self.task.abort();
        self.catalog.deregister_alloc(&self.alloc_id);
    }
}

/// Starts watching. `main_tasks` are the states of the tasks whose running
/// makes the allocation healthy.
pub(crate) fn watch_health(
    catalog: Arc<ServiceCatalog>,
    alloc: &Allocation,
    node_id: &str,
    services: Vec<ServiceToRegister>,
    update: Option<UpdateStrategy>,
    main_tasks: Vec<watch::Receiver<TaskState>>,
    publish: impl Fn(HealthStatus) + Send + 'static,
) -> HealthWatch {
    let now = crate::clock::unix_nanos;
    let alloc_id = alloc.id.to_string();
    let (updates_tx, mut updates) = mpsc::unbounded_channel::<CheckUpdate>();
    let mut checks = Vec::new();
    let mut health = HealthStatus::default();
    for entry in services {
        let label = entry.service.port_label.clone();
        let port = alloc
            .allocated_resources
            .shared
            .ports
            .iter()
            .find(|p| p.label == label)
            .map_or(0, |p| u16::try_from(p.value).unwrap_or(0));
        let address = entry
            .env
            .env
            .get(&format!("NOMAD_IP_{label}"))
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        let id = format!("{alloc_id}/{}/{}/{label}", entry.owner, entry.service.name);
        let mut instance_checks = BTreeMap::new();
        for check in &entry.service.checks {
            let check_id = format!("{id}/{}", check.name);
            match define_check(
                check_id.clone(),
                &label,
                check,
                &entry.env,
                entry.task_dir.clone(),
            ) {
                Ok(definition) => {
                    instance_checks.insert(check_id.clone(), definition.initial);
                    health.checks.insert(check_id, definition.initial);
                    checks.push(run_check(definition, updates_tx.clone()));
                }
                Err(err) => {
                    // A check that cannot run is critical, visibly.
                    instance_checks.insert(check_id.clone(), CheckStatus::Critical);
                    health.checks.insert(check_id, CheckStatus::Critical);
                    health.description = err.to_string();
                }
            }
        }
        catalog.register(ServiceInstance {
            id,
            service_name: entry.env.interpolate(&entry.service.name),
            tags: entry
                .service
                .tags
                .iter()
                .map(|t| entry.env.interpolate(t))
                .collect(),
            alloc_id: alloc_id.clone(),
            node_id: node_id.to_owned(),
            address,
            port,
            checks: instance_checks,
        });
    }
    drop(updates_tx);
    let mut tracker = update.map(|u| AllocHealthTracker::new(&u, now()));
    let watch_catalog = catalog.clone();
    let task = tokio::spawn(async move {
        let mut states = main_tasks;
        let mut recheck_at: Option<i64> = None;
        let mut checks_open = !health.checks.is_empty();
        loop {
            if let Some(tracker) = tracker.as_mut() {
                let observed: Vec<TaskState> = states.iter().map(|s| s.borrow().clone()).collect();
                let seen = Observation {
                    all_running: observed.iter().all(|s| s.state == TaskRunState::Running),
                    checks_passing: health.checks.values().all(|s| *s == CheckStatus::Passing),
                    task_failed_or_restarted: observed.iter().any(|s| s.failed || s.restarts > 0),
                };
                recheck_at = None;
                match tracker.observe(now(), seen) {
                    AllocHealth::Healthy => health.healthy = Some(true),
                    AllocHealth::Unhealthy { reason } => {
                        health.healthy = Some(false);
                        health.description = reason;
                    }
                    AllocHealth::Pending { recheck_at: at } => recheck_at = Some(at),
                    AllocHealth::Manual => {}
                }
            }
            publish(health.clone());
            let sleep = recheck_at
                .map(|at| std::time::Duration::from_nanos(at.saturating_sub(now()).max(0) as u64));
            let state_changed = async {
                if states.is_empty() {
                    std::future::pending::<()>().await;
                }
                // A finished task's channel closes: it no longer changes.
                let changes = states.iter_mut().map(|s| {
                    Box::pin(async move {
                        if s.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    })
                });
                let _ = futures_util::future::select_all(changes).await;
            };
            tokio::select! {
                update = updates.recv(), if checks_open => {
                    match update {
                        Some(update) => {
                            watch_catalog.apply(&update);
                            health.checks.insert(update.id, update.status);
                        }
                        None => checks_open = false,
                    }
                }
                () = state_changed => {}
                () = async {
                    match sleep {
                        Some(d) => tokio::time::sleep(d).await,
                        None => std::future::pending().await,
                    }
                } => {}
            }
        }
    });
    HealthWatch {
        catalog,
        alloc_id,
        _checks: checks,
        task,
    }
}
