//! Tests of the network checker and of host port assignment.
use super::*;
use crate::model::{
    AllocatedResources, AllocatedSharedResources, AllocatedTaskResources, Allocation,
    NodeHostNetwork, NodeNetworkAddress, NodeNetworkResource, Task,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

mod check;
mod determinism;
mod ports;
mod recorded;

const DEFAULT_IP: &str = "10.0.0.1";
const PUBLIC_IP: &str = "192.0.2.1";

/// A node as a current client fingerprints it: a legacy `eth0` network and
/// a host node network whose one address is the `default` host network.
fn node() -> Node {
    let mut node = Node::default();
    node.node_resources.networks.push(NetworkResource {
        mode: "host".to_owned(),
        device: "eth0".to_owned(),
        ip: DEFAULT_IP.to_owned(),
        ..NetworkResource::default()
    });
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "eth0".to_owned(),
        addresses: vec![address("default", DEFAULT_IP, "")],
        ..NodeNetworkResource::default()
    });
    node
}

fn address(alias: &str, ip: &str, reserved_ports: &str) -> NodeNetworkAddress {
    NodeNetworkAddress {
        alias: alias.to_owned(),
        address: ip.to_owned(),
        reserved_ports: reserved_ports.to_owned(),
        ..NodeNetworkAddress::default()
    }
}

/// `node()` plus an `eth1` interface serving host network `public`.
fn node_with_public() -> Node {
    let mut node = node();
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "eth1".to_owned(),
        addresses: vec![address("public", PUBLIC_IP, "")],
        ..NodeNetworkResource::default()
    });
    node
}

fn with_range(mut node: Node, min: u16, max: u16) -> Node {
    node.node_resources.min_dynamic_port = min;
    node.node_resources.max_dynamic_port = max;
    node
}

fn dynamic(label: &str) -> Port {
    Port {
        label: label.to_owned(),
        ..Port::default()
    }
}

fn on(host_network: &str, port: Port) -> Port {
    Port {
        host_network: host_network.to_owned(),
        ..port
    }
}

fn fixed(label: &str, value: u16) -> Port {
    Port {
        label: label.to_owned(),
        value: i64::from(value),
        ..Port::default()
    }
}

fn network(mode: &str, reserved_ports: Vec<Port>, dynamic_ports: Vec<Port>) -> NetworkResource {
    NetworkResource {
        mode: mode.to_owned(),
        reserved_ports,
        dynamic_ports,
        ..NetworkResource::default()
    }
}

fn group(networks: Vec<NetworkResource>) -> TaskGroup {
    let mut group = TaskGroup::new("web", 1, vec![Task::new("server", "docker")]);
    group.networks = networks;
    group
}

/// A group with one host-mode network of the given ports.
fn ports_group(reserved: Vec<Port>, dynamic: Vec<Port>) -> TaskGroup {
    group(vec![network("host", reserved, dynamic)])
}

/// Usage with `ports` used on `ip`.
fn used(ip: &str, ports: impl IntoIterator<Item = u16>) -> NodeUsage {
    let mut usage = NodeUsage::default();
    usage.ports.entry(ip.to_owned()).or_default().extend(ports);
    usage
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn assign(node: &Node, usage: &NodeUsage, group: &TaskGroup, seed: u64) -> PortAssignment {
    assign_ports(node, usage, group, &mut rng(seed)).expect("ports assigned")
}

/// The assigned shared ports as `(label, value, host_ip)`.
fn shared(assignment: &PortAssignment) -> Vec<(&str, i64, &str)> {
    assignment
        .shared_ports
        .iter()
        .map(|p| (p.label.as_str(), p.value, p.host_ip.as_str()))
        .collect()
}

fn value_of(assignment: &PortAssignment, label: &str) -> u16 {
    let port = assignment
        .shared_ports
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no port {label}"));
    u16::try_from(port.value).unwrap()
}
