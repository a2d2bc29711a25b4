//! [`NodeBuilder`]: nodes for simulations, tests and benches, built in code
//! the way a client would register them.

use std::collections::BTreeMap;

use super::cluster::{node_id, node_ip};
use crate::model::{
    DriverInfo, MHz, Mbits, MiB, NetworkResource, Node, NodeDevice, NodeDeviceResource,
    NodeNetworkAddress, NodeNetworkResource, NodeStatus, SchedulingEligibility,
};

/// Builds a [`Node`]: by default a ready, eligible Linux node in `dc1` and
/// pool `default` with 4 cores of 4000 MHz, 8 GiB of memory, 100 GB of disk,
/// a 1 Gbit/s `eth0`, the `docker`, `exec` and `raw_exec` drivers and
/// dynamic ports 20000–32000. The id is derived from the name (as cluster
/// files do), the address from `position`, and [`NodeBuilder::build`] sets
/// the computed class.
///
/// ```
/// use scheduler_core::simulate::NodeBuilder;
///
/// let node = NodeBuilder::new("gpu-0", 0)
///     .class("p4d")
///     .cpu(16_000)
///     .memory(65_536)
///     .meta("rack", "r1")
///     .device("nvidia/gpu/A100", 2)
///     .build();
/// assert_eq!(node.node_resources.devices[0].healthy_count(), 2);
/// assert!(node.computed_class.starts_with("v1:"));
/// ```
#[derive(Debug, Clone)]
pub struct NodeBuilder {
    node: Node,
}

impl NodeBuilder {
    /// The default node named `name`; `position` picks its address
    /// (10.x.y.z, unique per position).
    pub fn new(name: &str, position: usize) -> Self {
        let ip = node_ip(position).to_string();
        let mut node = Node {
            id: node_id(name),
            name: name.to_owned(),
            datacenter: "dc1".into(),
            node_pool: "default".into(),
            status: NodeStatus::Ready,
            scheduling_eligibility: SchedulingEligibility::Eligible,
            attributes: BTreeMap::from([
                ("kernel.name".to_owned(), "linux".to_owned()),
                ("unique.hostname".to_owned(), name.to_owned()),
            ]),
            ..Node::default()
        };
        let resources = &mut node.node_resources;
        resources.cpu.cpu_shares = MHz(4000);
        resources.cpu.total_cpu_cores = 4;
        resources.memory.memory_mb = MiB(8192);
        resources.disk.disk_mb = MiB(100_000);
        resources.networks = vec![NetworkResource {
            device: "eth0".into(),
            ip: ip.clone(),
            mbits: Some(Mbits(1000)),
            ..NetworkResource::default()
        }];
        resources.node_networks = vec![NodeNetworkResource {
            mode: "host".into(),
            device: "eth0".into(),
            addresses: vec![NodeNetworkAddress {
                alias: "default".into(),
                address: ip,
                ..NodeNetworkAddress::default()
            }],
            ..NodeNetworkResource::default()
        }];
        resources.min_dynamic_port = 20_000;
        resources.max_dynamic_port = 32_000;
        let builder = NodeBuilder { node };
        ["docker", "exec", "raw_exec"]
            .into_iter()
            .fold(builder, |builder, driver| builder.driver(driver, true))
    }

    /// The datacenter.
    pub fn datacenter(mut self, datacenter: &str) -> Self {
        self.node.datacenter = datacenter.to_owned();
        self
    }

    /// The node pool.
    pub fn pool(mut self, pool: &str) -> Self {
        self.node.node_pool = pool.to_owned();
        self
    }

    /// The node class.
    pub fn class(mut self, class: &str) -> Self {
        self.node.node_class = class.to_owned();
        self
    }

    /// CPU capacity in MHz.
    pub fn cpu(mut self, mhz: i64) -> Self {
        self.node.node_resources.cpu.cpu_shares = MHz(mhz);
        self
    }

    /// Number of cores.
    pub fn cores(mut self, cores: u16) -> Self {
        self.node.node_resources.cpu.total_cpu_cores = cores;
        self
    }

    /// Memory in MiB.
    pub fn memory(mut self, mib: i64) -> Self {
        self.node.node_resources.memory.memory_mb = MiB(mib);
        self
    }

    /// Disk in MiB.
    pub fn disk(mut self, mib: i64) -> Self {
        self.node.node_resources.disk.disk_mb = MiB(mib);
        self
    }

    /// Bandwidth of `eth0` in Mbit/s.
    pub fn network_mbits(mut self, mbits: i64) -> Self {
        for network in &mut self.node.node_resources.networks {
            network.mbits = Some(Mbits(mbits));
        }
        self
    }

    /// CPU and memory held back from scheduling.
    pub fn reserved(mut self, cpu_mhz: i64, memory_mib: i64) -> Self {
        self.node.reserved_resources.cpu.cpu_shares = MHz(cpu_mhz);
        self.node.reserved_resources.memory.memory_mb = MiB(memory_mib);
        self
    }

    /// Host ports held back (`"22,80"`).
    pub fn reserved_ports(mut self, ports: &str) -> Self {
        self.node.reserved_resources.networks.reserved_host_ports = ports.to_owned();
        self
    }

    /// The dynamic port range.
    pub fn dynamic_ports(mut self, min: u16, max: u16) -> Self {
        self.node.node_resources.min_dynamic_port = min;
        self.node.node_resources.max_dynamic_port = max;
        self
    }

    /// An attribute (`kernel.name`, `os.version`...).
    pub fn attribute(mut self, key: &str, value: &str) -> Self {
        self.node
            .attributes
            .insert(key.to_owned(), value.to_owned());
        self
    }

    /// A meta entry (`rack`, `zone`...).
    pub fn meta(mut self, key: &str, value: &str) -> Self {
        self.node.meta.insert(key.to_owned(), value.to_owned());
        self
    }

    /// A detected driver, healthy or not (with its `driver.<name>`
    /// attribute).
    pub fn driver(mut self, name: &str, healthy: bool) -> Self {
        self.node.drivers.insert(
            name.to_owned(),
            DriverInfo {
                detected: true,
                healthy,
                ..DriverInfo::default()
            },
        );
        self.node
            .attributes
            .insert(format!("driver.{name}"), "1".to_owned());
        self
    }

    /// Removes a driver.
    pub fn without_driver(mut self, name: &str) -> Self {
        self.node.drivers.remove(name);
        self.node.attributes.remove(&format!("driver.{name}"));
        self
    }

    /// `count` healthy instances of a `vendor/type/model` device group,
    /// with ids `<node>-<model>-<i>`.
    pub fn device(mut self, id: &str, count: usize) -> Self {
        let mut parts = id.splitn(3, '/');
        let vendor = parts.next().unwrap_or_default().to_owned();
        let device_type = parts.next().unwrap_or_default().to_owned();
        let model = parts.next().unwrap_or_default().to_owned();
        let instances = (0..count)
            .map(|i| NodeDevice {
                id: format!("{}-{model}-{i}", self.node.name),
                healthy: true,
                ..NodeDevice::default()
            })
            .collect();
        self.node.node_resources.devices.push(NodeDeviceResource {
            vendor,
            device_type,
            name: model,
            instances,
            ..NodeDeviceResource::default()
        });
        self
    }

    /// The liveness status.
    pub fn status(mut self, status: NodeStatus) -> Self {
        self.node.status = status;
        self
    }

    /// Marks the node ineligible for new placements.
    pub fn ineligible(mut self) -> Self {
        self.node.scheduling_eligibility = SchedulingEligibility::Ineligible;
        self
    }

    /// Marks the node as draining.
    pub fn draining(mut self) -> Self {
        self.node.drain_strategy = Some(crate::model::DrainStrategy::default());
        self
    }

    /// Changes anything else.
    pub fn with(mut self, change: impl FnOnce(&mut Node)) -> Self {
        change(&mut self.node);
        self
    }

    /// The node, with its computed class set.
    pub fn build(mut self) -> Node {
        self.node.compute_class();
        self.node
    }
}
