//! The one resource-fit check. The scheduler (when it ranks a node) and the
//! plan applier (when it re-checks a node before committing) both call
//! [`fit`], so they can never disagree about whether an allocation fits.
//!
//! - [`NodeUsage::of`] sums what a node's non-terminal allocations hold:
//!   CPU, memory, disk, legacy bandwidth, reserved cores and host ports.
//! - [`ResourceAsk::for_group`] is what one allocation of a task group needs.
//! - [`fit`] checks the ask against the node's capacity (its resources minus
//!   its reserved resources) less the usage, dimension by dimension in
//!   Nomad's order (`cpu`, `cores`, `memory`, `disk`, then the network), and
//!   names the first exhausted dimension in [`Exhausted`].
//!
//! A dimension has room when `used + asked <= capacity`. An ask of 0 on a
//! node that is already over-committed in that dimension does not fit.
//!
//! Ports: used ports are tracked per IP address (the allocation's
//! `host_ip` / network `ip`; `""` when the allocation records none). A
//! static port asked on host network `H` must be free on every node address
//! whose alias is `H` (on the legacy network IPs for `default` when the node
//! has no fingerprinted addresses), must not be in the node's
//! `reserved_host_ports`, nor in the reserved ports of `H` or of those
//! addresses. Ports recorded without an IP collide on every address, and an
//! ask on a node with no known address checks every recorded IP. Ports with
//! `ignore_collision` are not checked. A `host_network` written as a node
//! interpolation (`${meta.net}`) is resolved against the node first. Dynamic
//! ports are not checked here: their values are picked after the node is
//! chosen, by [`assign_ports`](super::network::assign_ports), which shares
//! the address and reservation helpers below.
//!
//! Bandwidth: as in Nomad, only legacy task-level networks carry `MBits`;
//! the node's capacity is the sum of its legacy `NodeResources.Networks`.
//!
//! Cores: a task asking for `cores` gets that many whole cores from the
//! node's reservable cores (all `0..TotalCpuCores` when none are listed)
//! minus the reserved and used ones, and also consumes `cores × MHz per
//! core` of CPU, as Nomad's rank iterator sets its `CpuShares`.
//!
//! Devices are not part of this check: instances are given (and checked
//! free and healthy) during placement by
//! [`assign_devices`](super::devices::assign_devices), and an instance given
//! to two allocations is caught by [`allocs_fit`](crate::plan::allocs_fit).
//!
//! Not yet checked: exclusive host volumes, `NodeMaxAllocs`.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Allocation, MHz, Mbits, MiB, NetworkResource, Node, TaskGroup};

/// What a node's allocations hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NodeUsage {
    /// CPU shares.
    pub cpu: MHz,
    /// Memory (the `MemoryMB` floor, not `MemoryMaxMB`).
    pub memory: MiB,
    /// Shared ephemeral disk.
    pub disk: MiB,
    /// Bandwidth of legacy task-level networks.
    pub bandwidth: Mbits,
    /// Host ports in use (static and dynamic), by IP address; `""` for
    /// ports recorded without an address.
    pub ports: BTreeMap<String, BTreeSet<u16>>,
    /// Cores reserved exclusively by allocations.
    pub cores: BTreeSet<u16>,
    /// Device instances held by allocations, by instance id (unique on a
    /// node).
    pub devices: BTreeSet<String>,
}

impl NodeUsage {
    /// Sums the resources of the non-terminal allocations among `allocs`
    /// (tasks plus shared resources). The node is not consulted yet; it is
    /// taken so callers need not change when usage comes to depend on it.
    pub fn of<'a>(_node: &Node, allocs: impl Iterator<Item = &'a Allocation>) -> Self {
        let mut usage = NodeUsage::default();
        for alloc in allocs.filter(|alloc| !alloc.is_terminal()) {
            usage.add(alloc);
        }
        usage
    }

    /// Adds everything `other` holds (another set of allocations on the
    /// same node).
    pub fn absorb(&mut self, other: &NodeUsage) {
        self.cpu += other.cpu;
        self.memory += other.memory;
        self.disk += other.disk;
        self.bandwidth += other.bandwidth;
        for (ip, ports) in &other.ports {
            self.ports.entry(ip.clone()).or_default().extend(ports);
        }
        self.cores.extend(&other.cores);
        self.devices.extend(other.devices.iter().cloned());
    }

    /// Adds one allocation's resources, terminal or not.
    pub fn add(&mut self, alloc: &Allocation) {
        let resources = &alloc.allocated_resources;
        for task in resources.tasks.values() {
            self.cpu += task.cpu.cpu_shares;
            self.cores.extend(task.cpu.reserved_cores.iter().copied());
            self.memory += task.memory.memory_mb;
            for device in &task.devices {
                self.devices.extend(device.device_ids.iter().cloned());
            }
            for network in &task.networks {
                self.bandwidth += network.mbits();
                self.add_network_ports(network);
            }
        }
        let shared = &resources.shared;
        self.disk += shared.disk_mb;
        // As Nomad's `AddAllocs`: `Shared.Ports` is the record of group
        // ports, each with its own host IP; `Shared.Networks` is only read
        // for allocations written before it existed. Reading both would
        // count every port a second time, on the network's single `ip`,
        // where it may not be bound at all.
        if shared.ports.is_empty() {
            for network in &shared.networks {
                self.add_network_ports(network);
            }
        }
        for port in &shared.ports {
            if let Ok(value) = u16::try_from(port.value) {
                self.ports
                    .entry(port.host_ip.clone())
                    .or_default()
                    .insert(value);
            }
        }
    }

    /// Whether `port` is taken on the address `ip`: used there, or recorded
    /// without an address (which collides everywhere). For `ip == ""` (the
    /// node has no known address for the network) a use on any address
    /// counts, since the port may end up bound on any of them.
    pub fn port_used(&self, ip: &str, port: u16) -> bool {
        let on = |ip: &str| self.ports.get(ip).is_some_and(|used| used.contains(&port));
        if ip.is_empty() {
            self.ports.values().any(|used| used.contains(&port))
        } else {
            on(ip) || on("")
        }
    }

    fn add_network_ports(&mut self, network: &NetworkResource) {
        for port in network.ports() {
            if let Ok(value) = u16::try_from(port.value) {
                self.ports
                    .entry(network.ip.clone())
                    .or_default()
                    .insert(value);
            }
        }
    }
}

/// A static host port an allocation asks for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct StaticPort {
    /// Host network alias; `default` when the port names none.
    pub host_network: String,
    /// The host port.
    pub port: u16,
    /// Skip the collision check for this port.
    pub ignore_collision: bool,
}

/// What one allocation of a task group needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceAsk {
    /// CPU shares, summed over tasks (excluding the shares of whole cores,
    /// which depend on the node and are added by [`fit`]).
    pub cpu: MHz,
    /// Memory (`MemoryMB`), summed over tasks.
    pub memory: MiB,
    /// Whole cores, summed over tasks.
    pub cores: u64,
    /// The group's ephemeral disk.
    pub disk: MiB,
    /// Bandwidth of the tasks' legacy networks.
    pub bandwidth: Mbits,
    /// Static ports of the group's and the tasks' networks.
    pub static_ports: Vec<StaticPort>,
}

impl ResourceAsk {
    /// The needs of one allocation of `group`, with Nomad's defaults for
    /// unset CPU (100 MHz, 0 with `cores`), memory (300 MiB) and ephemeral
    /// disk (300 MiB).
    pub fn for_group(group: &TaskGroup) -> Self {
        let mut ask = ResourceAsk {
            disk: group.ephemeral_disk.size_mb(),
            ..ResourceAsk::default()
        };
        for network in &group.networks {
            ask.add_static_ports(network);
        }
        for task in &group.tasks {
            let resources = &task.resources;
            ask.cpu += resources.cpu();
            ask.memory += resources.memory_mb();
            ask.cores = ask
                .cores
                .saturating_add(u64::try_from(resources.cores).unwrap_or(0));
            for network in &resources.networks {
                ask.bandwidth += network.mbits();
                ask.add_static_ports(network);
            }
        }
        ask
    }

    fn add_static_ports(&mut self, network: &NetworkResource) {
        for port in &network.reserved_ports {
            let Ok(value) = u16::try_from(port.value) else {
                continue;
            };
            if value == 0 {
                continue;
            }
            let host_network = if port.host_network.is_empty() {
                "default".to_owned()
            } else {
                port.host_network.clone()
            };
            self.static_ports.push(StaticPort {
                host_network,
                port: value,
                ignore_collision: port.ignore_collision,
            });
        }
    }
}

/// The first dimension in which an ask does not fit a node.
///
/// `available` is capacity minus usage; it is negative when the node is
/// already over-committed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// Not enough CPU shares.
    #[error("cpu exhausted: asked {asked}, {available} free")]
    Cpu {
        /// CPU asked, including the shares of asked cores.
        asked: MHz,
        /// CPU free on the node.
        available: MHz,
    },
    /// Not enough free whole cores.
    #[error("cores exhausted: asked {asked} cores, {available} free")]
    Cores {
        /// Cores asked.
        asked: u64,
        /// Cores free on the node.
        available: u64,
    },
    /// Not enough memory.
    #[error("memory exhausted: asked {asked}, {available} free")]
    Memory {
        /// Memory asked.
        asked: MiB,
        /// Memory free on the node.
        available: MiB,
    },
    /// Not enough disk.
    #[error("disk exhausted: asked {asked}, {available} free")]
    Disk {
        /// Disk asked.
        asked: MiB,
        /// Disk free on the node.
        available: MiB,
    },
    /// A static port is reserved on the node, used by another allocation,
    /// asked twice, or the node's reserved port list cannot be parsed.
    #[error("port collision: static port {0} is not free")]
    Port(u16),
    /// Not enough bandwidth on the node's legacy networks.
    #[error("bandwidth exhausted: asked {asked}, {available} free")]
    Bandwidth {
        /// Bandwidth asked.
        asked: Mbits,
        /// Bandwidth free on the node.
        available: Mbits,
    },
    /// No host port is free for a dynamic port: every port of the node's
    /// dynamic range is used, reserved or already given to this allocation
    /// on every address of the port's host network (or a reserved port list
    /// that applies cannot be parsed).
    #[error(
        "dynamic port selection failed: no free port for {label:?} on host network {host_network:?} in {min}-{max}"
    )]
    DynamicPorts {
        /// The port's label.
        label: String,
        /// The host network the port was asked on.
        host_network: String,
        /// Lowest port of the node's dynamic range.
        min: u16,
        /// Highest port of the node's dynamic range.
        max: u16,
    },
}

impl Exhausted {
    /// Nomad's `DimensionExhausted` name for the dimension, as counted in
    /// `AllocMetric::dimension_exhausted`.
    pub fn dimension(&self) -> &'static str {
        match self {
            Exhausted::Cpu { .. } => "cpu",
            Exhausted::Cores { .. } => "cores",
            Exhausted::Memory { .. } => "memory",
            Exhausted::Disk { .. } => "disk",
            Exhausted::Port(_) => "network: port collision",
            Exhausted::Bandwidth { .. } => "network: bandwidth exceeded",
            Exhausted::DynamicPorts { .. } => "network: dynamic port selection failed",
        }
    }
}

/// A port list such as `"22,80,8000-8010"` could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid port list {spec:?}: bad item {item:?}")]
pub struct PortListError {
    /// The whole list.
    pub spec: String,
    /// The item that failed.
    pub item: String,
}

/// Parses Nomad's port list form: comma-separated ports and inclusive
/// `low-high` ranges, whitespace around items ignored, empty items skipped.
pub fn parse_port_list(spec: &str) -> Result<BTreeSet<u16>, PortListError> {
    let error = |item: &str| PortListError {
        spec: spec.to_owned(),
        item: item.to_owned(),
    };
    let mut ports = BTreeSet::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match item.split_once('-') {
            Some((low, high)) => {
                let low: u16 = low.trim().parse().map_err(|_| error(item))?;
                let high: u16 = high.trim().parse().map_err(|_| error(item))?;
                if low > high {
                    return Err(error(item));
                }
                ports.extend(low..=high);
            }
            None => {
                ports.insert(item.parse().map_err(|_| error(item))?);
            }
        }
    }
    Ok(ports)
}

/// CPU shares of one whole core on `node`.
pub fn mhz_per_core(node: &Node) -> MHz {
    let cpu = &node.node_resources.cpu;
    let cores = if cpu.total_cpu_cores > 0 {
        i64::from(cpu.total_cpu_cores)
    } else {
        i64::try_from(cpu.reservable_cpu_cores.len()).unwrap_or(i64::MAX)
    };
    if cores == 0 {
        MHz(0)
    } else {
        MHz(cpu.cpu_shares.0 / cores)
    }
}

/// Cores on `node` tasks may reserve: the reservable cores (all of
/// `0..TotalCpuCores` when none are listed) minus the node's reserved ones.
pub fn schedulable_cores(node: &Node) -> BTreeSet<u16> {
    let cpu = &node.node_resources.cpu;
    let mut cores: BTreeSet<u16> = if cpu.reservable_cpu_cores.is_empty() {
        (0..cpu.total_cpu_cores).collect()
    } else {
        cpu.reservable_cpu_cores.iter().copied().collect()
    };
    for core in &node.reserved_resources.cpu.reserved_cpu_cores {
        cores.remove(core);
    }
    cores
}

/// What a node offers to allocations: its resources less what it reserves
/// for itself. Bandwidth is the sum of its legacy networks (Nomad's rule).
/// The fit check, the plan applier and the simulator's report all read
/// capacity from here, so they agree on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeCapacity {
    /// CPU shares.
    pub cpu: MHz,
    /// Memory.
    pub memory: MiB,
    /// Disk.
    pub disk: MiB,
    /// Bandwidth of the legacy networks.
    pub bandwidth: Mbits,
}

impl NodeCapacity {
    /// The schedulable capacity of `node`.
    pub fn of(node: &Node) -> Self {
        NodeCapacity {
            bandwidth: bandwidth_of(node),
            ..Self::without_bandwidth(node)
        }
    }

    /// The capacity with `bandwidth` left at zero: summing the node's
    /// networks reads another of its heap allocations (a cache miss per
    /// node on a walk), and few groups ask for bandwidth.
    fn without_bandwidth(node: &Node) -> Self {
        let resources = &node.node_resources;
        let reserved = &node.reserved_resources;
        NodeCapacity {
            cpu: resources.cpu.cpu_shares - reserved.cpu.cpu_shares,
            memory: resources.memory.memory_mb - reserved.memory.memory_mb,
            disk: resources.disk.disk_mb - reserved.disk.disk_mb,
            bandwidth: Mbits(0),
        }
    }
}

/// The bandwidth of all of `node`'s networks.
fn bandwidth_of(node: &Node) -> Mbits {
    node.node_resources
        .networks
        .iter()
        .fold(Mbits(0), |sum, network| sum + network.mbits())
}

/// Whether `ask` fits on `node` given what its allocations already hold.
///
/// # Errors
///
/// The first exhausted dimension, checked in the order `cpu`, `cores`,
/// `memory`, `disk`, ports, bandwidth.
pub fn fit(node: &Node, usage: &NodeUsage, ask: &ResourceAsk) -> Result<(), Exhausted> {
    let capacity = NodeCapacity::without_bandwidth(node);

    let cores_cpu = MHz(mhz_per_core(node)
        .0
        .saturating_mul(i64::try_from(ask.cores).unwrap_or(i64::MAX)));
    let cpu_asked = ask.cpu + cores_cpu;
    let cpu_free = capacity.cpu - usage.cpu;
    if cpu_asked > cpu_free {
        return Err(Exhausted::Cpu {
            asked: cpu_asked,
            available: cpu_free,
        });
    }

    if ask.cores > 0 {
        let free = schedulable_cores(node).difference(&usage.cores).count();
        let free = u64::try_from(free).unwrap_or(u64::MAX);
        if ask.cores > free {
            return Err(Exhausted::Cores {
                asked: ask.cores,
                available: free,
            });
        }
    }

    let memory_free = capacity.memory - usage.memory;
    if ask.memory > memory_free {
        return Err(Exhausted::Memory {
            asked: ask.memory,
            available: memory_free,
        });
    }

    let disk_free = capacity.disk - usage.disk;
    if ask.disk > disk_free {
        return Err(Exhausted::Disk {
            asked: ask.disk,
            available: disk_free,
        });
    }

    check_static_ports(node, usage, ask)?;

    if ask.bandwidth.0 > 0 {
        let free = bandwidth_of(node) - usage.bandwidth;
        if ask.bandwidth > free {
            return Err(Exhausted::Bandwidth {
                asked: ask.bandwidth,
                available: free,
            });
        }
    }

    Ok(())
}

/// One node address a host network maps to: its IP and its own reserved
/// port list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Address<'a> {
    /// The IP address; `""` when unknown.
    pub(crate) ip: &'a str,
    /// The address's own reserved ports (`"22,80-90"`).
    pub(crate) reserved_ports: &'a str,
}

/// The name of the host network a port asks for: `default` when unset, and
/// a node interpolation (`${meta.net}`) resolved against `node`, as Nomad
/// lets `host_network` vary by node. `None` when the interpolation does not
/// resolve.
pub(crate) fn host_network_name(node: &Node, host_network: &str) -> Option<String> {
    let name = if host_network.starts_with("${") {
        super::constraint::resolve_target(host_network, node)?
    } else {
        host_network.to_owned()
    };
    Some(if name.is_empty() {
        "default".to_owned()
    } else {
        name
    })
}

/// The node addresses serving `host_network`, in fingerprint order: the
/// addresses with that alias, or for `default` on a node without any, the
/// legacy network IPs (older clients fingerprint only those).
pub(crate) fn addresses_for<'a>(node: &'a Node, host_network: &str) -> Vec<Address<'a>> {
    let resources = &node.node_resources;
    let mut addresses: Vec<Address<'a>> = resources
        .node_networks
        .iter()
        .flat_map(|network| &network.addresses)
        .filter(|address| address.alias == host_network)
        .map(|address| Address {
            ip: &address.address,
            reserved_ports: &address.reserved_ports,
        })
        .collect();
    if addresses.is_empty() && host_network == "default" {
        addresses = resources
            .networks
            .iter()
            .filter(|network| !network.ip.is_empty())
            .map(|network| Address {
                ip: &network.ip,
                reserved_ports: "",
            })
            .collect();
    }
    addresses
}

fn check_static_ports(node: &Node, usage: &NodeUsage, ask: &ResourceAsk) -> Result<(), Exhausted> {
    if ask.static_ports.is_empty() {
        return Ok(());
    }
    let node_reserved = &node.reserved_resources.networks.reserved_host_ports;
    let Ok(node_reserved_ports) = parse_port_list(node_reserved) else {
        return Err(Exhausted::Port(ask.static_ports[0].port));
    };
    let no_ports = BTreeSet::new();
    let unaddressed = usage.ports.get("").unwrap_or(&no_ports);

    let mut asked: BTreeSet<(&str, u16)> = BTreeSet::new();
    for wanted in &ask.static_ports {
        let port = wanted.port;
        let duplicate = !asked.insert((wanted.host_network.as_str(), port));
        if wanted.ignore_collision {
            continue;
        }
        if duplicate || node_reserved_ports.contains(&port) || unaddressed.contains(&port) {
            return Err(Exhausted::Port(port));
        }
        // An unresolvable interpolation is left as written: the network
        // check rejects such nodes before fit, and as a name no node
        // address has, it is checked against every recorded IP.
        let host_network = host_network_name(node, &wanted.host_network)
            .unwrap_or_else(|| wanted.host_network.clone());
        if let Some(host_network) = node.host_networks.get(&host_network) {
            match parse_port_list(&host_network.reserved_ports) {
                Ok(reserved) if !reserved.contains(&port) => {}
                _ => return Err(Exhausted::Port(port)),
            }
        }
        let addresses = addresses_for(node, &host_network);
        if addresses.is_empty() {
            // No known address: any recorded use of the port collides.
            if usage.ports.values().any(|used| used.contains(&port)) {
                return Err(Exhausted::Port(port));
            }
            continue;
        }
        for address in addresses {
            let used = usage
                .ports
                .get(address.ip)
                .is_some_and(|used| used.contains(&port));
            let reserved = match parse_port_list(address.reserved_ports) {
                Ok(reserved) => reserved.contains(&port),
                Err(_) => true,
            };
            if used || reserved {
                return Err(Exhausted::Port(port));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
