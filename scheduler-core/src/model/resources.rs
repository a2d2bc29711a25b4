//! What a task asks for: CPU, memory, disk, network ports and devices.

use crate::model::constraint::{Affinity, Constraint};
use crate::model::serde_util::null_as_default;
use crate::model::units::{MHz, Mbits, MiB};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// CPU a task gets when it asks for neither `cpu` nor `cores`.
pub const DEFAULT_CPU: MHz = MHz(100);
/// Memory a task gets when it does not ask for any.
pub const DEFAULT_MEMORY: MiB = MiB(300);

/// The resources one task needs (HCL `resources` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Resources {
    /// CPU shares in MHz (HCL `cpu`). Unset means 100, or 0 when `cores` is set.
    #[serde(rename = "CPU")]
    pub cpu: Option<MHz>,
    /// Whole CPU cores reserved exclusively for the task (HCL `cores`); 0 means
    /// the task uses `cpu` shares instead.
    #[serde(deserialize_with = "null_as_default")]
    pub cores: i64,
    /// Memory in MiB (HCL `memory`). Unset means 300.
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Option<MiB>,
    /// Memory the task may burst to, in MiB (HCL `memory_max`); 0 means no
    /// oversubscription.
    #[serde(rename = "MemoryMaxMB", deserialize_with = "null_as_default")]
    pub memory_max_mb: MiB,
    /// Disk in MiB. Deprecated at the task level: use the group's
    /// `ephemeral_disk`.
    #[serde(rename = "DiskMB", deserialize_with = "null_as_default")]
    pub disk_mb: MiB,
    /// Size of the in-memory secrets directory in MiB (HCL `secrets`); 0 means
    /// the driver default.
    #[serde(rename = "SecretsMB", deserialize_with = "null_as_default")]
    pub secrets_mb: MiB,
    /// Task-level networks. Deprecated: use the group's `network` block.
    #[serde(deserialize_with = "null_as_default")]
    pub networks: Vec<NetworkResource>,
    /// Devices such as GPUs the task needs (HCL `device` blocks).
    #[serde(deserialize_with = "null_as_default")]
    pub devices: Vec<RequestedDevice>,
    /// NUMA placement preference for the task's cores (HCL `numa`).
    #[serde(rename = "NUMA")]
    pub numa: Option<NumaResource>,
}

impl Resources {
    /// CPU shares in MHz: the value set, else 0 when `cores` is used, else 100.
    pub fn cpu(&self) -> MHz {
        match self.cpu {
            Some(cpu) => cpu,
            None if self.cores > 0 => MHz(0),
            None => DEFAULT_CPU,
        }
    }

    /// Memory in MiB: the value set, else 300.
    pub fn memory_mb(&self) -> MiB {
        self.memory_mb.unwrap_or(DEFAULT_MEMORY)
    }

    /// The most memory the task may use: `memory_max` when it is set above
    /// `memory`, else `memory`.
    pub fn memory_max_mb(&self) -> MiB {
        self.memory_max_mb.max(self.memory_mb())
    }

    /// Fills Nomad's defaults: cpu 100 MHz (0 when `cores` is set), memory
    /// 300 MiB, device count 1, affinity weights 50, NUMA affinity `none`,
    /// network mode `host` and port host network `default`.
    pub fn canonicalize(&mut self) {
        if self.cpu.is_none() {
            self.cpu = Some(self.cpu());
        }
        if self.memory_mb.is_none() {
            self.memory_mb = Some(DEFAULT_MEMORY);
        }
        for device in &mut self.devices {
            device.canonicalize();
        }
        for network in &mut self.networks {
            network.canonicalize();
        }
        if let Some(numa) = &mut self.numa
            && numa.affinity.is_empty()
        {
            numa.affinity = "none".to_owned();
        }
    }
}

/// NUMA-aware placement of a task's reserved cores (HCL `numa` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NumaResource {
    /// `none`, `prefer` or `require`; `none` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub affinity: String,
    /// Devices that must share the NUMA node with the cores.
    #[serde(deserialize_with = "null_as_default")]
    pub devices: Vec<String>,
}

/// A network a group (or, deprecated, a task) needs: its mode and the ports
/// to reserve or allocate (HCL `network` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct NetworkResource {
    /// Networking mode: `host` (the default), `bridge`, `none`, `cni/<name>`.
    #[serde(deserialize_with = "null_as_default")]
    pub mode: String,
    /// Host network device; set by the scheduler on allocation.
    #[serde(deserialize_with = "null_as_default")]
    pub device: String,
    /// CIDR of the network; set by the scheduler on allocation.
    #[serde(rename = "CIDR", deserialize_with = "null_as_default")]
    pub cidr: String,
    /// IP address assigned; set by the scheduler on allocation.
    #[serde(rename = "IP", deserialize_with = "null_as_default")]
    pub ip: String,
    /// Hostname inside the allocation's network namespace (bridge mode).
    #[serde(deserialize_with = "null_as_default")]
    pub hostname: String,
    /// Bandwidth in Mbit/s. Deprecated in Nomad; kept for old jobs.
    #[serde(rename = "MBits")]
    pub mbits: Option<Mbits>,
    /// DNS settings for the allocation (HCL `dns` block).
    #[serde(rename = "DNS")]
    pub dns: Option<DnsConfig>,
    /// Ports with a fixed host port (HCL `port` blocks with `static`).
    #[serde(deserialize_with = "null_as_default")]
    pub reserved_ports: Vec<Port>,
    /// Ports whose host port the scheduler picks (HCL `port` blocks without `static`).
    #[serde(deserialize_with = "null_as_default")]
    pub dynamic_ports: Vec<Port>,
    /// Extra arguments for a CNI network (HCL `cni` block).
    #[serde(rename = "CNI")]
    pub cni: Option<CniConfig>,
}

impl NetworkResource {
    /// Bandwidth in Mbit/s, 0 when unset.
    pub fn mbits(&self) -> Mbits {
        self.mbits.unwrap_or_default()
    }

    /// The networking mode, `host` when unset.
    pub fn mode(&self) -> &str {
        if self.mode.is_empty() {
            "host"
        } else {
            &self.mode
        }
    }

    /// All ports, reserved first.
    pub fn ports(&self) -> impl Iterator<Item = &Port> {
        self.reserved_ports.iter().chain(&self.dynamic_ports)
    }

    /// Fills Nomad's defaults: mode `host`, port host network `default`.
    pub fn canonicalize(&mut self) {
        if self.mode.is_empty() {
            self.mode = "host".to_owned();
        }
        for port in self
            .reserved_ports
            .iter_mut()
            .chain(&mut self.dynamic_ports)
        {
            if port.host_network.is_empty() {
                port.host_network = "default".to_owned();
            }
        }
    }
}

/// A named port of a network (HCL `port "label" { ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Port {
    /// The port's name, used by services and `${NOMAD_PORT_<label>}`.
    #[serde(deserialize_with = "null_as_default")]
    pub label: String,
    /// The host port: fixed for reserved ports (HCL `static`), picked by the
    /// scheduler for dynamic ports.
    #[serde(deserialize_with = "null_as_default")]
    pub value: i64,
    /// The port inside the allocation's network namespace to map the host
    /// port to (bridge mode); 0 (unset) or -1 means the same number.
    #[serde(deserialize_with = "null_as_default")]
    pub to: i64,
    /// The client host network to take the port from; `default` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub host_network: String,
    /// Allow a static port that collides with another allocation's.
    #[serde(deserialize_with = "null_as_default")]
    pub ignore_collision: bool,
}

/// DNS configuration for an allocation's network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DnsConfig {
    /// Nameserver addresses.
    #[serde(deserialize_with = "null_as_default")]
    pub servers: Vec<String>,
    /// Search domains.
    #[serde(deserialize_with = "null_as_default")]
    pub searches: Vec<String>,
    /// Resolver options such as `ndots:2`.
    #[serde(deserialize_with = "null_as_default")]
    pub options: Vec<String>,
}

/// Extra arguments passed to a CNI plugin.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CniConfig {
    /// `CNI_ARGS` key/value pairs.
    #[serde(deserialize_with = "null_as_default")]
    pub args: BTreeMap<String, String>,
}

/// A request for devices such as GPUs (HCL `device "nvidia/gpu" { ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RequestedDevice {
    /// What to request: `<type>`, `<vendor>/<type>` or `<vendor>/<type>/<model>`,
    /// e.g. `gpu`, `nvidia/gpu`, `nvidia/gpu/1080ti`.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// How many instances; 1 when unset.
    pub count: Option<u64>,
    /// Rules a device's attributes must satisfy.
    #[serde(deserialize_with = "null_as_default")]
    pub constraints: Vec<Constraint>,
    /// Preferences among eligible devices.
    #[serde(deserialize_with = "null_as_default")]
    pub affinities: Vec<Affinity>,
}

impl RequestedDevice {
    /// How many instances, 1 when unset.
    pub fn count(&self) -> u64 {
        self.count.unwrap_or(1)
    }

    /// Fills Nomad's defaults: count 1, affinity weight 50.
    pub fn canonicalize(&mut self) {
        if self.count.is_none() {
            self.count = Some(1);
        }
        for affinity in &mut self.affinities {
            affinity.weight = Some(affinity.weight());
        }
    }
}
