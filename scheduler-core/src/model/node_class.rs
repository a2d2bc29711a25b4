//! Computed node classes: a hash of everything about a node that
//! feasibility checks may read, so nodes that hash alike are feasible for
//! exactly the same constraints and the scheduler checks one node per class.
//!
//! Nomad hashes the datacenter, attributes, meta, node class, node pool and
//! devices, but not the node's networks, although its network check is
//! memoised by class (so two nodes differing only in host networks can be
//! wrongly memoised together). We also hash what the driver, network and
//! host volume checks read: drivers with their health, host network names,
//! network modes and address aliases, and host volume names. Fields and
//! attributes under `unique.` are left out: constraints on them "escape"
//! the class and are checked per node.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Node;

/// The prefix of class strings; bumped if what is hashed changes, so classes
/// computed by different versions never compare equal.
const CLASS_VERSION: &str = "v1";

/// Everything hashed, in a fixed field order; maps are ordered.
#[derive(Serialize)]
struct ClassInputs<'a> {
    datacenter: &'a str,
    node_class: &'a str,
    node_pool: &'a str,
    attributes: BTreeMap<&'a str, &'a str>,
    meta: BTreeMap<&'a str, &'a str>,
    drivers: BTreeMap<&'a str, (bool, bool)>,
    host_networks: Vec<&'a str>,
    network_modes: Vec<(&'a str, Vec<&'a str>)>,
    host_volumes: Vec<&'a str>,
    devices: Vec<(String, usize, String)>,
}

/// The computed class of `node`: `v1:` followed by 16 hex digits.
pub fn compute_class(node: &Node) -> String {
    let inputs = ClassInputs {
        datacenter: &node.datacenter,
        node_class: &node.node_class,
        node_pool: &node.node_pool,
        attributes: without_unique(&node.attributes),
        meta: without_unique(&node.meta),
        drivers: node
            .drivers
            .iter()
            .map(|(name, info)| (name.as_str(), (info.detected, info.healthy)))
            .collect(),
        host_networks: node.host_networks.keys().map(String::as_str).collect(),
        network_modes: node
            .node_resources
            .node_networks
            .iter()
            .map(|network| {
                let aliases = network
                    .addresses
                    .iter()
                    .map(|address| address.alias.as_str())
                    .collect();
                (network.mode.as_str(), aliases)
            })
            .collect(),
        host_volumes: node.host_volumes.keys().map(String::as_str).collect(),
        devices: node
            .node_resources
            .devices
            .iter()
            .map(|group| {
                let attributes = serde_json::to_string(&group.attributes).unwrap_or_default();
                (group.id(), group.healthy_count(), attributes)
            })
            .collect(),
    };
    let encoded = serde_json::to_vec(&inputs).unwrap_or_default();
    let digest = Sha256::digest(&encoded);
    let mut hex = String::with_capacity(CLASS_VERSION.len() + 17);
    hex.push_str(CLASS_VERSION);
    hex.push(':');
    for byte in &digest[..8] {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

fn without_unique(map: &BTreeMap<String, String>) -> BTreeMap<&str, &str> {
    map.iter()
        .filter(|(key, _)| !key.starts_with("unique."))
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect()
}

/// Whether a constraint or affinity target reads something the computed
/// class does not hash (`${node.unique.*}`, `${attr.unique.*}`,
/// `${meta.unique.*}`), so its result cannot be shared across a class.
pub fn target_escapes_class(target: &str) -> bool {
    target.starts_with("${node.unique.")
        || target.starts_with("${attr.unique.")
        || target.starts_with("${meta.unique.")
}

impl Node {
    /// Sets [`Node::computed_class`] from the node's current fields.
    pub fn compute_class(&mut self) {
        self.computed_class = compute_class(self);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DriverInfo, NodeHostNetwork};

    fn node() -> Node {
        Node {
            datacenter: "dc1".into(),
            node_class: "m5".into(),
            node_pool: "default".into(),
            attributes: [
                ("kernel.name".to_owned(), "linux".to_owned()),
                ("unique.hostname".to_owned(), "web-1".to_owned()),
            ]
            .into_iter()
            .collect(),
            ..Node::default()
        }
    }

    #[test]
    fn unique_fields_do_not_change_the_class() {
        let a = node();
        let mut b = node();
        b.name = "web-2".into();
        b.id = crate::model::NodeId::new("other");
        b.attributes
            .insert("unique.hostname".into(), "web-2".into());
        assert_eq!(compute_class(&a), compute_class(&b));
        assert!(compute_class(&a).starts_with("v1:"));
        assert_eq!(compute_class(&a).len(), 3 + 16);
    }

    #[test]
    fn what_feasibility_reads_changes_the_class() {
        let base = compute_class(&node());
        let mut changed = Vec::new();
        let mut n = node();
        n.datacenter = "dc2".into();
        changed.push(n);
        let mut n = node();
        n.attributes.insert("kernel.name".into(), "darwin".into());
        changed.push(n);
        let mut n = node();
        n.meta.insert("rack".into(), "r2".into());
        changed.push(n);
        let mut n = node();
        n.drivers.insert(
            "docker".into(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        );
        changed.push(n);
        let mut n = node();
        n.host_networks
            .insert("public".into(), NodeHostNetwork::default());
        changed.push(n);
        let mut n = node();
        n.node_pool = "gpu".into();
        changed.push(n);
        for n in changed {
            assert_ne!(compute_class(&n), base, "{n:?}");
        }
    }

    #[test]
    fn escaping_targets() {
        assert!(target_escapes_class("${node.unique.id}"));
        assert!(target_escapes_class("${attr.unique.hostname}"));
        assert!(!target_escapes_class("${attr.kernel.name}"));
        assert!(!target_escapes_class("${node.class}"));
    }
}
