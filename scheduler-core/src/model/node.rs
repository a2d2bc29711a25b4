//! Client nodes: the machines allocations are placed on, as Nomad's
//! `GET /v1/node/:id` returns them.
//!
//! Times that Nomad encodes as Go `time.Time` are kept as the RFC 3339 strings
//! found in the JSON; `StatusUpdatedAt` is Unix seconds as in Nomad.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::serde_util::null_as_default;
use super::{Duration, MHz, Mbits, MiB, NodeId};

/// A client node registered with the cluster.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Node {
    /// Unique node id (a UUID).
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: NodeId,
    /// Datacenter the node runs in.
    #[serde(default, deserialize_with = "null_as_default")]
    pub datacenter: String,
    /// Human-readable node name (usually the hostname).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Parent cgroup for tasks on this node (Linux only).
    #[serde(default, deserialize_with = "null_as_default")]
    pub cgroup_parent: String,
    /// `host:port` of the client's HTTP API.
    #[serde(rename = "HTTPAddr", default, deserialize_with = "null_as_default")]
    pub http_addr: String,
    /// Whether the client's HTTP API uses TLS.
    #[serde(rename = "TLSEnabled", default, deserialize_with = "null_as_default")]
    pub tls_enabled: bool,
    /// Fingerprinted attributes (`kernel.name`, `cpu.arch`, `driver.docker`, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// Resources the node offers.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_resources: NodeResources,
    /// Resources held back from scheduling.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_resources: NodeReservedResources,
    /// Links to external systems (`consul`, `aws.ec2`, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub links: BTreeMap<String, String>,
    /// Operator-defined metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Operator-defined node class.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_class: String,
    /// Node pool the node belongs to (Nomad fills in `"default"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// Hash identifying nodes with the same attributes and capabilities.
    #[serde(default, deserialize_with = "null_as_default")]
    pub computed_class: String,
    /// Legacy drain flag; `DrainStrategy` is the authoritative signal.
    #[serde(default, deserialize_with = "null_as_default")]
    pub drain: bool,
    /// How the node is being drained; `None` unless a drain is in progress.
    #[serde(default)]
    pub drain_strategy: Option<DrainStrategy>,
    /// Whether new allocations may be placed on the node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub scheduling_eligibility: SchedulingEligibility,
    /// Liveness status reported by heartbeats.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: NodeStatus,
    /// Human-readable explanation of the status.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_description: String,
    /// When the status last changed, in Unix seconds.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status_updated_at: i64,
    /// Most recent node events, oldest first.
    #[serde(default, deserialize_with = "null_as_default")]
    pub events: Vec<NodeEvent>,
    /// Task drivers by name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub drivers: BTreeMap<String, DriverInfo>,
    /// CSI controller plugins by plugin id, kept as opaque JSON.
    #[serde(
        rename = "CSIControllerPlugins",
        default,
        deserialize_with = "null_as_default"
    )]
    pub csi_controller_plugins: BTreeMap<String, serde_json::Value>,
    /// CSI node plugins by plugin id, kept as opaque JSON.
    #[serde(
        rename = "CSINodePlugins",
        default,
        deserialize_with = "null_as_default"
    )]
    pub csi_node_plugins: BTreeMap<String, serde_json::Value>,
    /// Host volumes by name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_volumes: BTreeMap<String, NodeHostVolume>,
    /// Host networks by name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub host_networks: BTreeMap<String, NodeHostNetwork>,
    /// The most recent drain operation, if any.
    #[serde(default)]
    pub last_drain: Option<DrainMetadata>,
    /// Raft index at which the node was registered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change.
    #[serde(default, deserialize_with = "null_as_default")]
    pub modify_index: u64,
}

impl Node {
    /// Whether the node's status is `ready` (heartbeating and fingerprinted).
    pub fn is_ready(&self) -> bool {
        self.status == NodeStatus::Ready
    }

    /// Whether the node accepts new placements: marked eligible and not draining.
    pub fn is_eligible(&self) -> bool {
        self.scheduling_eligibility == SchedulingEligibility::Eligible && !self.is_draining()
    }

    /// Whether the node is being drained.
    pub fn is_draining(&self) -> bool {
        self.drain_strategy.is_some() || self.drain
    }

    /// Whether new allocations can be placed here: ready and eligible.
    pub fn is_schedulable(&self) -> bool {
        self.is_ready() && self.is_eligible()
    }
}

/// A node's liveness status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeStatus {
    /// Registered but not yet fully fingerprinted.
    #[default]
    Initializing,
    /// Heartbeating and able to run allocations.
    Ready,
    /// Missed its heartbeats; its allocations are considered lost.
    Down,
    /// Out of contact, but its allocations may reconnect.
    Disconnected,
}

impl NodeStatus {
    /// Whether the node is not communicating with the servers.
    pub fn is_unresponsive(self) -> bool {
        matches!(self, NodeStatus::Down | NodeStatus::Disconnected)
    }
}

/// Whether a node may receive new placements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SchedulingEligibility {
    /// New allocations may be placed.
    #[default]
    Eligible,
    /// No new allocations are placed; existing ones keep running.
    Ineligible,
}

/// An in-progress drain of a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DrainStrategy {
    /// How long allocations may take to migrate before being stopped;
    /// negative means stop immediately, zero means no deadline.
    #[serde(default, deserialize_with = "null_as_default")]
    pub deadline: Duration,
    /// Leave system jobs running on the node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub ignore_system_jobs: bool,
    /// Time (RFC 3339) after which remaining allocations are stopped.
    #[serde(default, deserialize_with = "null_as_default")]
    pub force_deadline: String,
    /// Time (RFC 3339) at which the drain started.
    #[serde(default, deserialize_with = "null_as_default")]
    pub started_at: String,
}

/// Outcome of a node's most recent drain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DrainStatus {
    /// The drain is still running.
    #[default]
    Draining,
    /// The drain finished.
    Complete,
    /// The drain was cancelled.
    Canceled,
}

/// Record of a node's most recent drain operation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DrainMetadata {
    /// Time (RFC 3339) the drain started.
    #[serde(default, deserialize_with = "null_as_default")]
    pub started_at: String,
    /// Time (RFC 3339) the record last changed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub updated_at: String,
    /// Where the drain stands.
    #[serde(default, deserialize_with = "null_as_default")]
    pub status: DrainStatus,
    /// Accessor id of the ACL token that last changed the drain.
    #[serde(rename = "AccessorID", default, deserialize_with = "null_as_default")]
    pub accessor_id: String,
    /// Operator-supplied metadata about the drain.
    #[serde(default, deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
}

/// A notable change on a node (drain, driver health, heartbeat...).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeEvent {
    /// What happened.
    #[serde(default, deserialize_with = "null_as_default")]
    pub message: String,
    /// Area of the node it concerns (`Drain`, `Driver`, `Heartbeat`, `Cluster`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub subsystem: String,
    /// Extra key/value details.
    #[serde(default, deserialize_with = "null_as_default")]
    pub details: BTreeMap<String, String>,
    /// Time (RFC 3339) of the event.
    #[serde(default, deserialize_with = "null_as_default")]
    pub timestamp: String,
    /// Raft index at which the event was recorded.
    #[serde(default, deserialize_with = "null_as_default")]
    pub create_index: u64,
}

/// Fingerprint and health of one task driver on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DriverInfo {
    /// Driver attributes (`driver.docker.version`, ...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, String>,
    /// Whether the driver was found on the node.
    #[serde(default, deserialize_with = "null_as_default")]
    pub detected: bool,
    /// Whether the driver is usable.
    #[serde(default, deserialize_with = "null_as_default")]
    pub healthy: bool,
    /// Why the driver is (un)healthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub health_description: String,
    /// Time (RFC 3339) of the last health update.
    #[serde(default, deserialize_with = "null_as_default")]
    pub update_time: String,
}

/// A host volume offered by a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeHostVolume {
    /// Volume name, as referenced by jobs.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Path on the host.
    #[serde(default, deserialize_with = "null_as_default")]
    pub path: String,
    /// Whether the volume can only be mounted read-only.
    #[serde(default, deserialize_with = "null_as_default")]
    pub read_only: bool,
    /// Id of a dynamic host volume; empty for static ones.
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: String,
}

/// A named host network on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeHostNetwork {
    /// Network name, as referenced by ports' `host_network`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// Address range whose interfaces belong to the network.
    #[serde(rename = "CIDR", default, deserialize_with = "null_as_default")]
    pub cidr: String,
    /// Interface whose addresses belong to the network.
    #[serde(default, deserialize_with = "null_as_default")]
    pub interface: String,
    /// Ports reserved on this network (`"22,80,8000-8100"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_ports: String,
}

/// Resources a node offers to the scheduler.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeResources {
    /// CPU capacity.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu: NodeCpuResources,
    /// Processor topology (Nomad 1.7+), kept as opaque JSON (`null` when
    /// not fingerprinted; written as `null` too, never left out: the Raft
    /// log encodes structs by position).
    #[serde(default, deserialize_with = "null_as_default")]
    pub processors: serde_json::Value,
    /// Memory capacity.
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory: NodeMemoryResources,
    /// Disk capacity for allocation directories.
    #[serde(default, deserialize_with = "null_as_default")]
    pub disk: NodeDiskResources,
    /// The bridge network and default interface, as legacy network resources.
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks: Vec<super::NetworkResource>,
    /// Fingerprinted networks: host networks, CNI networks, default interface.
    #[serde(default, deserialize_with = "null_as_default")]
    pub node_networks: Vec<NodeNetworkResource>,
    /// Device groups (GPUs, FPGAs...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub devices: Vec<NodeDeviceResource>,
    /// Lowest port dynamic ports are chosen from (inclusive).
    #[serde(default, deserialize_with = "null_as_default")]
    pub min_dynamic_port: u16,
    /// Highest port dynamic ports are chosen from (inclusive).
    #[serde(default, deserialize_with = "null_as_default")]
    pub max_dynamic_port: u16,
}

/// A node's CPU capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeCpuResources {
    /// Total compute in MHz.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_shares: MHz,
    /// Number of cores.
    #[serde(default, deserialize_with = "null_as_default")]
    pub total_cpu_cores: u16,
    /// Ids of the cores tasks may reserve exclusively.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reservable_cpu_cores: Vec<u16>,
}

/// A node's memory capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeMemoryResources {
    /// Total memory in MiB.
    #[serde(rename = "MemoryMB", default, deserialize_with = "null_as_default")]
    pub memory_mb: MiB,
}

/// A node's disk capacity.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeDiskResources {
    /// Disk available for allocations, in MiB.
    #[serde(rename = "DiskMB", default, deserialize_with = "null_as_default")]
    pub disk_mb: MiB,
}

/// A network interface or CNI network fingerprinted on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeNetworkResource {
    /// `host` for physical interfaces, `bridge`, or `cni/<name>`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub mode: String,
    /// Interface name.
    #[serde(default, deserialize_with = "null_as_default")]
    pub device: String,
    /// Interface MAC address.
    #[serde(default, deserialize_with = "null_as_default")]
    pub mac_address: String,
    /// Link speed.
    #[serde(default, deserialize_with = "null_as_default")]
    pub speed: Mbits,
    /// Addresses on the interface, each tagged with a host-network alias.
    #[serde(default, deserialize_with = "null_as_default")]
    pub addresses: Vec<NodeNetworkAddress>,
}

/// One address of a fingerprinted node network.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeNetworkAddress {
    /// `ipv4`, `ipv6`, or empty.
    #[serde(default, deserialize_with = "null_as_default")]
    pub family: String,
    /// Host network name this address serves (`default` for the default one).
    #[serde(default, deserialize_with = "null_as_default")]
    pub alias: String,
    /// The IP address.
    #[serde(default, deserialize_with = "null_as_default")]
    pub address: String,
    /// Ports reserved on this address (`"22,80,8000-8100"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_ports: String,
    /// Default gateway for the address.
    #[serde(default, deserialize_with = "null_as_default")]
    pub gateway: String,
}

/// A group of identical devices on a node (same vendor, type and model).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDeviceResource {
    /// Device vendor (`nvidia`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub vendor: String,
    /// Device type (`gpu`).
    #[serde(rename = "Type", default, deserialize_with = "null_as_default")]
    pub device_type: String,
    /// Device model (`Tesla K80`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub name: String,
    /// The individual devices.
    #[serde(default, deserialize_with = "null_as_default")]
    pub instances: Vec<NodeDevice>,
    /// Typed attributes shared by the group (`memory`, `cuda_cores`...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: BTreeMap<String, NodeDeviceAttribute>,
}

impl NodeDeviceResource {
    /// The `vendor/type/name` triple identifying the group.
    pub fn id(&self) -> String {
        format!("{}/{}/{}", self.vendor, self.device_type, self.name)
    }

    /// Number of healthy instances.
    pub fn healthy_count(&self) -> usize {
        self.instances.iter().filter(|d| d.healthy).count()
    }
}

/// One device instance.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDevice {
    /// Device id, unique on the node.
    #[serde(rename = "ID", default, deserialize_with = "null_as_default")]
    pub id: String,
    /// Whether the device is usable.
    #[serde(default, deserialize_with = "null_as_default")]
    pub healthy: bool,
    /// Why the device is (un)healthy.
    #[serde(default, deserialize_with = "null_as_default")]
    pub health_description: String,
    /// Hardware locality, if known.
    #[serde(default)]
    pub locality: Option<NodeDeviceLocality>,
}

/// Where a device sits in the machine.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeDeviceLocality {
    /// PCI bus id.
    #[serde(rename = "PciBusID", default, deserialize_with = "null_as_default")]
    pub pci_bus_id: String,
}

/// A typed device attribute: exactly one of the values is normally set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeDeviceAttribute {
    /// Floating-point value.
    #[serde(default)]
    pub float: Option<f64>,
    /// Integer value.
    #[serde(default)]
    pub int: Option<i64>,
    /// String value.
    #[serde(default)]
    pub string: Option<String>,
    /// Boolean value.
    #[serde(default)]
    pub bool: Option<bool>,
    /// Unit of a numeric value (`MiB`, `MHz`, `W`...).
    #[serde(default, deserialize_with = "null_as_default")]
    pub unit: String,
}

/// Resources on a node withheld from scheduling.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeReservedResources {
    /// Reserved CPU.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu: NodeReservedCpuResources,
    /// Reserved memory.
    #[serde(default, deserialize_with = "null_as_default")]
    pub memory: NodeReservedMemoryResources,
    /// Reserved disk.
    #[serde(default, deserialize_with = "null_as_default")]
    pub disk: NodeReservedDiskResources,
    /// Reserved ports.
    #[serde(default, deserialize_with = "null_as_default")]
    pub networks: NodeReservedNetworkResources,
}

/// Reserved CPU on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeReservedCpuResources {
    /// Reserved compute in MHz.
    #[serde(default, deserialize_with = "null_as_default")]
    pub cpu_shares: MHz,
    /// Ids of cores withheld from tasks.
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_cpu_cores: Vec<u16>,
}

/// Reserved memory on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeReservedMemoryResources {
    /// Reserved memory in MiB.
    #[serde(rename = "MemoryMB", default, deserialize_with = "null_as_default")]
    pub memory_mb: MiB,
}

/// Reserved disk on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NodeReservedDiskResources {
    /// Reserved disk in MiB.
    #[serde(rename = "DiskMB", default, deserialize_with = "null_as_default")]
    pub disk_mb: MiB,
}

/// Reserved ports on a node.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeReservedNetworkResources {
    /// Ports reserved on every host interface (`"22,80,8000-8100"`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub reserved_host_ports: String,
}
