//! What simulated clients do on their own, between steps: start what was
//! placed on them, finish what the servers stopped, and give up on
//! allocations that did not become healthy within `healthy_deadline`.

use std::collections::BTreeMap;

use super::World;
use crate::model::{AllocClientStatus, Allocation, DeploymentId, JobId, NodeStatus};
use crate::state::StateSnapshot;

impl World {
    /// What clients do on their own: start the allocations placed on them
    /// (`pending` → `running`) and stop those the servers stopped
    /// (`complete`). Clients of nodes that are not ready do nothing.
    /// Returns whether anything changed.
    pub(super) fn clients_act(&mut self) -> Result<bool, String> {
        let view = self.state.view();
        let mut updates = Vec::new();
        for node in view.nodes().filter(|n| n.status == NodeStatus::Ready) {
            for alloc in view.allocs_by_node(&node.id) {
                let next = match (alloc.server_terminal(), alloc.client_status) {
                    (true, AllocClientStatus::Pending | AllocClientStatus::Running) => {
                        AllocClientStatus::Complete
                    }
                    (false, AllocClientStatus::Pending) => AllocClientStatus::Running,
                    _ => continue,
                };
                let mut update = alloc.clone();
                update.job = None;
                update.client_status = next;
                updates.push(update);
            }
        }
        if updates.is_empty() {
            return Ok(false);
        }
        let index = self.next_index();
        self.state
            .update_allocs_from_client(index, updates)
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    /// Allocations of an active deployment that have not reported health,
    /// on ready nodes, with the time their client gives up on them: placed
    /// (or updated in place) plus the group's `update.healthy_deadline`.
    pub(super) fn health_deadlines(&self) -> Vec<(i64, Allocation)> {
        let view = self.state.view();
        let mut out = Vec::new();
        for node in view.nodes().filter(|n| n.status == NodeStatus::Ready) {
            for alloc in view.allocs_by_node(&node.id) {
                if alloc.is_terminal()
                    || alloc.deployment_id.is_empty()
                    || alloc
                        .deployment_status
                        .as_ref()
                        .and_then(|s| s.healthy)
                        .is_some()
                    || !view
                        .deployment(&alloc.deployment_id)
                        .is_some_and(|d| d.is_active())
                {
                    continue;
                }
                let deadline = alloc
                    .job
                    .as_ref()
                    .and_then(|j| j.lookup_task_group(&alloc.task_group))
                    .and_then(|g| g.update.as_ref())
                    .and_then(|u| u.healthy_deadline)
                    .filter(|d| !d.is_zero());
                // The client starts watching health when the allocation
                // is placed or updated in place into the deployment.
                let since = alloc.create_time.max(alloc.modify_time);
                if let Some(deadline) = deadline {
                    out.push((since.saturating_add(deadline.0), alloc.clone()));
                }
            }
        }
        out
    }

    /// Marks unhealthy every allocation whose healthy deadline passed, as
    /// its client would, and lets the deployment watcher see it. Returns
    /// whether anything changed.
    pub(super) fn missed_health_deadlines(&mut self) -> Result<bool, String> {
        let mut by_job: BTreeMap<(String, JobId), (DeploymentId, Vec<Allocation>)> =
            BTreeMap::new();
        for (deadline, alloc) in self.health_deadlines() {
            if deadline > self.now {
                continue;
            }
            let key = (alloc.namespace.as_str().to_owned(), alloc.job_id.clone());
            by_job
                .entry(key)
                .or_insert_with(|| (alloc.deployment_id.clone(), Vec::new()))
                .1
                .push(alloc);
        }
        if by_job.is_empty() {
            return Ok(false);
        }
        for (key, (deployment, allocs)) in by_job {
            let mut updates = Vec::new();
            let mut events = Vec::new();
            for alloc in allocs {
                let mut update = alloc.clone();
                update.job = None;
                events.push(super::steps::report_health_of(&mut update, false, self.now));
                self.log.notes.push(format!(
                    "{} ({}) missed its healthy deadline",
                    alloc.name,
                    super::short(alloc.id.as_str())
                ));
                updates.push(update);
            }
            self.apply_client_updates(&key, updates, Some(deployment), events)?;
        }
        Ok(true)
    }
}
