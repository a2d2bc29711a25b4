//! The test's stand-in for every node's client: it heartbeats the nodes
//! and reports allocations running, then healthy or unhealthy after a
//! delay (what a real client measures as `min_healthy_time`), and
//! complete when the servers stop them or the test says they finish.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{
    AllocClientStatus, AllocDeploymentStatus, AllocId, Allocation, NodeId,
};
use scheduler_core::state::MemorySnapshot;
use scheduler_raft::clock::{monotonic, now_unix_nanos};

use super::control::{LivePlanes, REQUEST_TIMEOUT, read_any};

/// Decides something about an allocation (whether it finishes now).
pub type AllocRule = Box<dyn Fn(&Allocation) -> bool + Send + Sync>;
/// The deployment health an allocation reports: healthy, unhealthy, or
/// not yet (`None`).
pub type HealthRule = Box<dyn Fn(&Allocation) -> Option<bool> + Send + Sync>;

/// The test's client of every node.
pub struct Agent {
    /// A running allocation of a deployment reports its health this long
    /// after it started.
    pub healthy_after: Duration,
    /// The health it reports: healthy, unhealthy, or not yet (`None`).
    pub health: HealthRule,
    /// Whether a running allocation finishes now (batch work done).
    pub finishes: AllocRule,
}

impl Agent {
    /// Reports every allocation of a deployment healthy `delay` after it
    /// started; nothing finishes unless the servers stop it.
    pub fn healthy_after(delay: Duration) -> Self {
        Agent {
            healthy_after: delay,
            health: Box::new(|_| Some(true)),
            finishes: Box::new(|_| false),
        }
    }

    /// Finishes the running allocations `finishes` picks; reports health
    /// at once.
    pub fn finishing(finishes: impl Fn(&Allocation) -> bool + Send + Sync + 'static) -> Self {
        Agent {
            finishes: Box::new(finishes),
            ..Agent::healthy_after(Duration::ZERO)
        }
    }

    /// Heartbeats the nodes every 500 ms and reports on their allocations
    /// every 100 ms, through the first plane that answers, until aborted.
    pub async fn run(self, live: LivePlanes, nodes: Vec<NodeId>) {
        let mut started: HashMap<AllocId, Instant> = HashMap::new();
        for round in 0u64.. {
            let planes = live.lock().expect("lock").clone();
            if round % 5 == 0 {
                for plane in &planes {
                    let beat = plane.heartbeat_nodes(nodes.clone());
                    if let Ok(Ok(_)) = tokio::time::timeout(REQUEST_TIMEOUT, beat).await {
                        break;
                    }
                }
            }
            if let Some(snapshot) = read_any(&planes).await {
                let reports = self.reports(&snapshot, &mut started);
                if !reports.is_empty() {
                    for plane in &planes {
                        let update = plane.update_allocs_from_client(reports.clone());
                        if let Ok(Ok(_)) = tokio::time::timeout(REQUEST_TIMEOUT, update).await {
                            break;
                        }
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the client reports now: each allocation that changed state,
    /// as the servers should store it. `started` remembers when each
    /// allocation was first seen, for the health delay.
    fn reports(
        &self,
        snapshot: &MemorySnapshot,
        started: &mut HashMap<AllocId, Instant>,
    ) -> Vec<Allocation> {
        let mut reports = Vec::new();
        for alloc in snapshot.allocs().filter(|a| !a.client_terminal()) {
            let mut report = alloc.clone();
            let since = *started.entry(alloc.id.clone()).or_insert_with(monotonic);
            if alloc.server_terminal() || (self.finishes)(alloc) {
                report.client_status = AllocClientStatus::Complete;
            } else if alloc.client_status == AllocClientStatus::Pending {
                report.client_status = AllocClientStatus::Running;
            } else if let Some(healthy) = (self.health)(alloc)
                && !alloc.deployment_id.is_empty()
                && alloc.deployment_health().is_none()
                && since.elapsed() >= self.healthy_after
            {
                report.deployment_status = Some(Box::new(AllocDeploymentStatus {
                    healthy: Some(healthy),
                    timestamp: format_rfc3339_nanos(now_unix_nanos()),
                    canary: alloc.is_canary(),
                    ..AllocDeploymentStatus::default()
                }));
            } else {
                continue;
            }
            reports.push(report);
        }
        reports
    }
}
