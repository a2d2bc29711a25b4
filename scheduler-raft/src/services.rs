//! The service catalog the servers keep (Nomad's native service
//! discovery): every client reports the service instances its allocations
//! registered, with whether their checks pass, and the servers store them
//! per node. `/v1/services` and DNS then answer for the whole cluster from
//! any server, not only for the client of the agent asked.
//!
//! A client replaces its node's whole set at once, so a lost report is
//! healed by the next one. Instances whose allocation stopped, or whose
//! node is down, are left out when read (a stopped client cannot take its
//! own registrations back).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use scheduler_core::model::api::ServiceRegistration;
use scheduler_core::model::{AllocId, NodeId, NodeStatus};
use scheduler_core::state::StateSnapshot;

/// One service instance as a client reported it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RegisteredService {
    /// The registration (Nomad's shape).
    pub registration: ServiceRegistration,
    /// Whether every one of its checks passes (an instance without checks
    /// passes).
    pub passing: bool,
}

/// Every node's reported instances: copy-on-write, so state snapshots
/// share it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ServiceTable {
    by_node: Arc<BTreeMap<NodeId, Arc<Vec<RegisteredService>>>>,
}

impl ServiceTable {
    /// Replaces `node`'s instances with `services` at log index `index`:
    /// an instance already known keeps its `CreateIndex`; one whose
    /// registration or health changed gets `ModifyIndex = index`. Whether
    /// anything changed.
    pub fn set_node(
        &mut self,
        index: u64,
        node: &NodeId,
        services: Vec<RegisteredService>,
    ) -> bool {
        let previous = self.by_node.get(node).cloned().unwrap_or_default();
        let mut updated = Vec::with_capacity(services.len());
        for mut service in services {
            service.registration.node_id = node.as_str().to_owned();
            let known = previous
                .iter()
                .find(|old| old.registration.id == service.registration.id);
            match known {
                Some(old) => {
                    service.registration.create_index = old.registration.create_index;
                    service.registration.modify_index = old.registration.modify_index;
                    if *old != service {
                        service.registration.modify_index = index;
                    }
                }
                None => {
                    service.registration.create_index = index;
                    service.registration.modify_index = index;
                }
            }
            updated.push(service);
        }
        updated.sort_by(|a, b| a.registration.id.cmp(&b.registration.id));
        if *previous == updated {
            return false;
        }
        let by_node = Arc::make_mut(&mut self.by_node);
        if updated.is_empty() {
            by_node.remove(node);
        } else {
            by_node.insert(node.clone(), Arc::new(updated));
        }
        true
    }

    /// Forgets a node's instances (the node was removed); whether it had
    /// any.
    pub fn remove_node(&mut self, node: &NodeId) -> bool {
        if !self.by_node.contains_key(node) {
            return false;
        }
        Arc::make_mut(&mut self.by_node).remove(node).is_some()
    }

    /// The live instances, in node then id order: those whose allocation
    /// still runs (not terminal on its client or by the servers' decision)
    /// on a node that is not down, each completed with its allocation's
    /// job and namespace.
    pub fn live(&self, snapshot: &dyn StateSnapshot) -> Vec<RegisteredService> {
        let mut live = Vec::new();
        for (node_id, services) in self.by_node.iter() {
            let node_down = snapshot
                .node(node_id)
                .is_none_or(|node| node.status == NodeStatus::Down);
            if node_down {
                continue;
            }
            for service in services.iter() {
                let alloc_id = AllocId::new(service.registration.alloc_id.as_str());
                let Some(alloc) = snapshot.alloc(&alloc_id) else {
                    continue;
                };
                if alloc.client_terminal() || alloc.server_terminal() {
                    continue;
                }
                let mut service = service.clone();
                service.registration.job_id = alloc.job_id.as_str().to_owned();
                service.registration.namespace = alloc.namespace.as_str().to_owned();
                live.push(service);
            }
        }
        live
    }

    /// How many instances are stored, live or not.
    pub fn len(&self) -> usize {
        self.by_node.values().map(|services| services.len()).sum()
    }

    /// Whether none is stored.
    pub fn is_empty(&self) -> bool {
        self.by_node.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(id: &str, passing: bool) -> RegisteredService {
        RegisteredService {
            registration: ServiceRegistration {
                id: id.to_owned(),
                service_name: "web".to_owned(),
                alloc_id: "a1".to_owned(),
                port: 8080,
                ..ServiceRegistration::default()
            },
            passing,
        }
    }

    #[test]
    fn a_nodes_report_replaces_its_set_and_keeps_creation_indexes() {
        let mut table = ServiceTable::default();
        let node = NodeId::new("n1");
        assert!(table.set_node(5, &node, vec![service("b", false), service("a", true)]));
        assert!(
            !table.set_node(6, &node, vec![service("a", true), service("b", false)]),
            "the same set in another order changes nothing"
        );
        assert!(table.set_node(7, &node, vec![service("b", true)]));
        let stored = &table.by_node[&node];
        assert_eq!(stored.len(), 1, "a is gone");
        assert_eq!(stored[0].registration.create_index, 5);
        assert_eq!(stored[0].registration.modify_index, 7, "b's health changed");
        assert_eq!(stored[0].registration.node_id, "n1");
        assert!(table.set_node(8, &node, Vec::new()));
        assert!(table.is_empty());
    }
}
