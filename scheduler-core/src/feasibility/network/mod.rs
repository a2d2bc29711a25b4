//! Networks: whether a node offers what a task group's networks ask for
//! ([`check_network`]), and which host ports one allocation gets once a
//! node is chosen ([`assign_ports`]).
//!
//! [`check_network`] is Nomad's `NetworkChecker`: a node-local feasibility
//! check, so it may be cached per node class. [`assign_ports`] depends on
//! what the node's allocations and the plan's earlier placements hold, so
//! it runs after ranking, against the same [`NodeUsage`] that
//! [`fit`](super::fit::fit) checked the static ports against.
//!
//! Port picking follows Nomad's `NetworkIndex.AssignPorts`: a dynamic port
//! gets a value from the node's dynamic range (`min_dynamic_port ..=
//! max_dynamic_port`, 20000–32000 when unset) on an address of the port's
//! host network, by up to 20 random probes and then a uniform pick among
//! the ports still free. The randomness comes from the caller's seeded RNG,
//! so a replayed evaluation picks the same ports. Deliberate differences:
//! the random probes cover the whole range (Nomad's never pick the highest
//! port; only its exact scan does), and a port whose host network has no
//! known address gets the IP `""` and avoids ports used on any address,
//! where Nomad rejects the node.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

use rand::Rng;

use super::fit::{
    Address, Exhausted, NodeUsage, addresses_for, host_network_name, parse_port_list,
};
use crate::model::{AllocatedPortMapping, NetworkResource, Node, Port, TaskGroup};

/// Lowest dynamic port when the node does not set `min_dynamic_port`.
pub const DEFAULT_MIN_DYNAMIC_PORT: u16 = 20_000;
/// Highest dynamic port when the node does not set `max_dynamic_port`.
pub const DEFAULT_MAX_DYNAMIC_PORT: u16 = 32_000;
/// Random probes before scanning the whole range, as Nomad's
/// `maxRandPortAttempts`: on a lightly used node a probe almost always
/// hits, and a scan of thousands of ports is avoided.
const RANDOM_PROBES: usize = 20;

/// Node-level network feasibility for a task group, Nomad's
/// `NetworkChecker`.
///
/// Each group network's mode must be offered by the node:
/// - `host` (or unset) always is, even on a node with no fingerprinted
///   networks, as older clients report none;
/// - `none` always is;
/// - `bridge` needs a node network of mode `bridge` or the bridge CNI
///   plugin (attribute `plugins.cni.version.bridge`);
/// - `cni/<name>` needs a node network of that mode or the CNI config
///   (attribute `plugins.cni.config.<name>`);
/// - any other mode needs a node network of exactly that mode.
///
/// Every port's `host_network` other than `default` (or unset) must name a
/// node address alias or one of the node's host networks; a node
/// interpolation (`${meta.net}`) is resolved first.
///
/// # Errors
///
/// A one-line reason, such as `network mode "bridge" is not available on
/// the node` or `missing host network "public" for port "http"`.
pub fn check_network(node: &Node, group: &TaskGroup) -> Result<(), String> {
    for network in &group.networks {
        let mode = network.mode();
        if !offers_mode(node, mode) {
            return Err(format!(
                "network mode {mode:?} is not available on the node"
            ));
        }
        for port in network.ports() {
            let Some(name) = host_network_name(node, &port.host_network) else {
                return Err(format!(
                    "invalid host network {:?} template for port {:?}",
                    port.host_network, port.label
                ));
            };
            if name != "default" && !has_host_network(node, &name) {
                return Err(format!(
                    "missing host network {name:?} for port {:?}",
                    port.label
                ));
            }
        }
    }
    Ok(())
}

/// Whether `node` offers the network `mode`.
fn offers_mode(node: &Node, mode: &str) -> bool {
    let resources = &node.node_resources;
    let fingerprinted = resources.node_networks.iter().any(|n| n.mode == mode)
        || resources.networks.iter().any(|n| n.mode() == mode);
    match mode {
        "host" | "none" => true,
        // Nomad fingerprints a bridge network only when the bridge plugin is
        // installed; the plugin attribute covers nodes whose network list
        // predates that.
        "bridge" => fingerprinted || node.attributes.contains_key("plugins.cni.version.bridge"),
        _ => {
            fingerprinted
                || mode.strip_prefix("cni/").is_some_and(|name| {
                    node.attributes
                        .contains_key(&format!("plugins.cni.config.{name}"))
                })
        }
    }
}

/// Whether `name` is an address alias or a configured host network of
/// `node`.
fn has_host_network(node: &Node, name: &str) -> bool {
    node.host_networks.contains_key(name)
        || node
            .node_resources
            .node_networks
            .iter()
            .flat_map(|network| &network.addresses)
            .any(|address| address.alias == name)
}

/// The ports `node` gives dynamic ports from: `min_dynamic_port ..=
/// max_dynamic_port`, each bound defaulting (when 0) to Nomad's 20000 and
/// 32000. Empty when the node sets `min > max`.
pub fn dynamic_port_range(node: &Node) -> RangeInclusive<u16> {
    let resources = &node.node_resources;
    let or = |value: u16, default: u16| if value == 0 { default } else { value };
    or(resources.min_dynamic_port, DEFAULT_MIN_DYNAMIC_PORT)
        ..=or(resources.max_dynamic_port, DEFAULT_MAX_DYNAMIC_PORT)
}

/// The host ports one allocation gets on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortAssignment {
    /// Group-level ports as Nomad's `AllocatedResources.Shared.Ports`
    /// (label, value, to, host IP): each group network's static ports, then
    /// its dynamic ports, network by network.
    pub shared_ports: Vec<AllocatedPortMapping>,
    /// The group networks with their ports filled in
    /// (`Shared.Networks`): `ip` is the address the network's ports were
    /// given, or the node's default address when they span several or there
    /// are none; static ports as asked, dynamic ports with their values.
    pub shared_networks: Vec<NetworkResource>,
    /// Legacy task-level networks with their device, IP and ports
    /// (`AllocatedTaskResources.Networks`), by task name; tasks without
    /// networks are absent.
    pub task_networks: BTreeMap<String, Vec<NetworkResource>>,
}

impl NodeUsage {
    /// Records an assignment so later placements on the node in the same
    /// plan see its ports as used: the shared ports on their host IPs and
    /// the task networks' ports on their network IPs. This is what
    /// [`NodeUsage::add`] records for an allocation built from the
    /// assignment.
    pub fn add_ports(&mut self, assignment: &PortAssignment) {
        let ports = assignment
            .shared_ports
            .iter()
            .map(|port| (port.host_ip.as_str(), port.value))
            .chain(
                assignment
                    .task_networks
                    .values()
                    .flatten()
                    .flat_map(|network| {
                        network
                            .ports()
                            .map(|port| (network.ip.as_str(), port.value))
                    }),
            );
        for (ip, value) in ports {
            if let Ok(value) = u16::try_from(value) {
                self.ports.entry(ip.to_owned()).or_default().insert(value);
            }
        }
    }
}

/// Host ports for one allocation of `group` on `node`, given what the
/// node's allocations (and earlier placements of this plan) hold in
/// `usage`.
///
/// Static ports are recorded as asked, on the first address of their host
/// network ([`fit`](super::fit::fit) has already checked them). Each
/// dynamic port gets a value from [`dynamic_port_range`] on the first
/// address of its host network that has one free (Nomad tries the
/// addresses in order), avoiding ports used on that IP or recorded without
/// one, the node's reserved host ports, the host network's and the
/// address's reserved ports, and every port already given in this call,
/// static ones included. `to = -1` mirrors the host port into `to`.
/// Legacy task-level networks take their ports on the node's default
/// interface, as Nomad's `AssignTaskNetwork`.
///
/// `rng` decides the values; the same seed gives the same assignment.
///
/// # Errors
///
/// [`Exhausted::DynamicPorts`] for the first dynamic port with no free
/// value.
pub fn assign_ports(
    node: &Node,
    usage: &NodeUsage,
    group: &TaskGroup,
    rng: &mut impl Rng,
) -> Result<PortAssignment, Exhausted> {
    let task_asks = group.tasks.iter().flat_map(|task| &task.resources.networks);
    let mut picker = Picker {
        node,
        usage,
        range: dynamic_port_range(node),
        node_reserved: parse_port_list(&node.reserved_resources.networks.reserved_host_ports).ok(),
        // Every static port is taken before any dynamic port is picked, so
        // a dynamic port never lands on a static port asked later on.
        given: group
            .networks
            .iter()
            .chain(task_asks)
            .flat_map(|network| &network.reserved_ports)
            .filter_map(|port| u16::try_from(port.value).ok())
            .collect(),
    };
    let mut assignment = PortAssignment::default();

    for ask in &group.networks {
        let mut network = ask.clone();
        let mut ips = BTreeSet::new();
        for port in &mut network.reserved_ports {
            let host_network = resolve_port_network(node, port);
            let ip = addresses_for(node, &host_network)
                .first()
                .map_or("", |address| address.ip);
            ips.insert(ip);
            assignment.shared_ports.push(mapping(port, ip));
        }
        for port in &mut network.dynamic_ports {
            let host_network = resolve_port_network(node, port);
            let (ip, value) = picker.pick(&host_network, &port.label, rng)?;
            set_value(port, value);
            ips.insert(ip);
            assignment.shared_ports.push(mapping(port, ip));
        }
        network.ip = match ips.into_iter().collect::<Vec<_>>()[..] {
            [ip] => ip.to_owned(),
            _ => default_address(node).map_or("", |a| a.ip).to_owned(),
        };
        assignment.shared_networks.push(network);
    }

    let (device, address) = task_network_address(node);
    for task in &group.tasks {
        let mut networks = Vec::with_capacity(task.resources.networks.len());
        for ask in &task.resources.networks {
            let mut network = ask.clone();
            network.device = device.to_owned();
            network.ip = address.ip.to_owned();
            for port in &mut network.dynamic_ports {
                let value = picker
                    .pick_on("default", address, rng)
                    .ok_or_else(|| picker.exhausted("default", &port.label))?;
                set_value(port, value);
            }
            networks.push(network);
        }
        if !networks.is_empty() {
            assignment.task_networks.insert(task.name.clone(), networks);
        }
    }
    Ok(assignment)
}

/// The host network a port asks for, with its interpolation resolved. An
/// unresolvable one is kept as written: [`check_network`] rejects such
/// nodes first, and as a name no address has it gets the unknown IP.
/// Writing the resolved name back tells the client which network to bind.
fn resolve_port_network(node: &Node, port: &mut Port) -> String {
    match host_network_name(node, &port.host_network) {
        Some(name) => {
            if port.host_network.starts_with("${") {
                port.host_network.clone_from(&name);
            }
            name
        }
        None => port.host_network.clone(),
    }
}

/// Gives a dynamic port its value; `to = -1` asks for the same number
/// inside the allocation's network namespace.
fn set_value(port: &mut Port, value: u16) {
    port.value = i64::from(value);
    if port.to == -1 {
        port.to = port.value;
    }
}

fn mapping(port: &Port, host_ip: &str) -> AllocatedPortMapping {
    AllocatedPortMapping {
        label: port.label.clone(),
        value: port.value,
        to: port.to,
        host_ip: host_ip.to_owned(),
        ignore_collision: port.ignore_collision,
    }
}

/// The node's default address: alias `default`, else the first legacy
/// network IP.
fn default_address(node: &Node) -> Option<Address<'_>> {
    addresses_for(node, "default").into_iter().next()
}

/// The device and address legacy task networks use. Nomad offers those
/// only on the legacy networks that name a device (the `bridge` entry has
/// none); nodes that fingerprint only `node_networks` fall back to the
/// default address and its interface. `("", "")` when neither is known.
fn task_network_address(node: &Node) -> (&str, Address<'_>) {
    let resources = &node.node_resources;
    let legacy = resources
        .networks
        .iter()
        .find(|network| !network.device.is_empty() && !network.ip.is_empty())
        .map(|network| {
            let address = Address {
                ip: &network.ip,
                reserved_ports: "",
            };
            (network.device.as_str(), address)
        });
    let fingerprinted = || {
        resources.node_networks.iter().find_map(|network| {
            let address = network.addresses.iter().find(|a| a.alias == "default")?;
            let address = Address {
                ip: &address.address,
                reserved_ports: &address.reserved_ports,
            };
            Some((network.device.as_str(), address))
        })
    };
    let unknown = Address {
        ip: "",
        reserved_ports: "",
    };
    legacy.or_else(fingerprinted).unwrap_or(("", unknown))
}

/// Picks dynamic ports for one allocation, remembering what it gave.
struct Picker<'a> {
    node: &'a Node,
    usage: &'a NodeUsage,
    range: RangeInclusive<u16>,
    /// The node's reserved host ports; `None` when the list cannot be
    /// parsed, in which case no port is known to be safe.
    node_reserved: Option<BTreeSet<u16>>,
    /// Ports given in this call, on any address: Nomad's `portsInOffer`.
    given: BTreeSet<u16>,
}

impl<'a> Picker<'a> {
    /// A free port for `label` on the first address of `host_network` that
    /// has one, and that address's IP.
    fn pick(
        &mut self,
        host_network: &str,
        label: &str,
        rng: &mut impl Rng,
    ) -> Result<(&'a str, u16), Exhausted> {
        let mut addresses = addresses_for(self.node, host_network);
        if addresses.is_empty() {
            addresses.push(Address {
                ip: "",
                reserved_ports: "",
            });
        }
        for address in addresses {
            if let Some(value) = self.pick_on(host_network, address, rng) {
                return Ok((address.ip, value));
            }
        }
        Err(self.exhausted(host_network, label))
    }

    /// A free port on `address` of `host_network`, now counted as given.
    fn pick_on(
        &mut self,
        host_network: &str,
        address: Address<'_>,
        rng: &mut impl Rng,
    ) -> Option<u16> {
        let reserved = self.reserved(host_network, address)?;
        let free = |port: u16| {
            !self.given.contains(&port)
                && !reserved.contains(&port)
                && !self.usage.port_used(address.ip, port)
        };
        if self.range.is_empty() {
            return None;
        }
        let probed = (0..RANDOM_PROBES)
            .map(|_| rng.random_range(self.range.clone()))
            .find(|&port| free(port));
        let value = match probed {
            Some(port) => port,
            None => {
                let candidates: Vec<u16> = self.range.clone().filter(|&port| free(port)).collect();
                if candidates.is_empty() {
                    return None;
                }
                candidates[rng.random_range(0..candidates.len())]
            }
        };
        self.given.insert(value);
        Some(value)
    }

    /// Ports reserved on `address` of `host_network`: the node's reserved
    /// host ports merged into every address (as Nomad does), the host
    /// network's and the address's own. `None` when any list is malformed.
    fn reserved(&self, host_network: &str, address: Address<'_>) -> Option<BTreeSet<u16>> {
        let mut reserved = self.node_reserved.clone()?;
        if let Some(network) = self.node.host_networks.get(host_network) {
            reserved.extend(parse_port_list(&network.reserved_ports).ok()?);
        }
        reserved.extend(parse_port_list(address.reserved_ports).ok()?);
        Some(reserved)
    }

    fn exhausted(&self, host_network: &str, label: &str) -> Exhausted {
        Exhausted::DynamicPorts {
            label: label.to_owned(),
            host_network: host_network.to_owned(),
            min: *self.range.start(),
            max: *self.range.end(),
        }
    }
}

#[cfg(test)]
mod tests;
