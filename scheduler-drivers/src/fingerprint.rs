//! The node fingerprint: what this machine offers, as the [`Node`] a
//! client registers with the servers. CPU (cores and MHz), memory, disk
//! under the data directory, kernel and OS, hostname, network addresses,
//! and every driver's health and attributes, under Nomad's attribute
//! names (`cpu.numcores`, `memory.totalbytes`, `unique.hostname`,
//! `driver.docker.version`, ...) so constraints written for Nomad match.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use scheduler_core::driver::{DriverHealth, TaskDriver};
use scheduler_core::model::{
    DriverInfo, MHz, Mbits, MiB, NetworkResource, Node, NodeCpuResources, NodeDiskResources,
    NodeMemoryResources, NodeNetworkAddress, NodeNetworkResource, NodeResources, NodeStatus,
};

/// Who the node is, as the agent's configuration says.
#[derive(Clone)]
pub struct NodeIdentity {
    /// The node's id (kept in the client's state so it survives restarts).
    pub id: String,
    /// Its name; the hostname when empty.
    pub name: String,
    /// Its datacenter.
    pub datacenter: String,
    /// `client { node_class }`.
    pub node_class: String,
    /// `client { node_pool }`.
    pub node_pool: String,
    /// `client { meta }`.
    pub meta: BTreeMap<String, String>,
    /// Where allocations live (its free space is the node's disk).
    pub data_dir: PathBuf,
    /// The interface whose address tasks are reached on; the default
    /// route's interface when `None`.
    pub network_interface: Option<String>,
    /// The drivers the client runs.
    pub drivers: Vec<Arc<dyn TaskDriver>>,
    /// The time of this fingerprint, RFC 3339 (the caller's clock).
    pub now_rfc3339: String,
}

impl std::fmt::Debug for NodeIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeIdentity")
            .field("id", &self.id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// CPU as `/proc/cpuinfo` describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct CpuInfo {
    /// Logical CPUs.
    pub cores: u16,
    /// Clock in MHz (of the first CPU).
    pub mhz: u64,
    /// The model name.
    pub model: String,
}

/// Reads `/proc/cpuinfo`'s text.
pub fn parse_cpuinfo(text: &str) -> CpuInfo {
    let field = |line: &str, name: &str| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == name).then(|| value.trim().to_owned())
    };
    let cores = text
        .lines()
        .filter(|l| field(l, "processor").is_some())
        .count()
        .max(1) as u16;
    let mhz = text
        .lines()
        .find_map(|l| field(l, "cpu MHz"))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(0, |v| v.round() as u64);
    let model = text
        .lines()
        .find_map(|l| field(l, "model name"))
        .unwrap_or_default();
    CpuInfo { cores, mhz, model }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn parse_meminfo_total(text: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let rest = line.strip_prefix("MemTotal:")?;
            let kb: u64 = rest.trim().trim_end_matches("kB").trim().parse().ok()?;
            Some(kb * 1024)
        })
        .unwrap_or(0)
}

/// `ID` and `VERSION_ID` of `/etc/os-release`.
pub fn parse_os_release(text: &str) -> (String, String) {
    let value = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{key}=")))
            .map(|v| v.trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    (value("ID"), value("VERSION_ID"))
}

/// The interface of the default IPv4 route in `/proc/net/route`.
fn default_route_interface() -> Option<String> {
    let routes = std::fs::read_to_string("/proc/net/route").ok()?;
    routes.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&"00000000")).then(|| fields[0].to_owned())
    })
}

/// IPv4 addresses per interface.
fn interface_addresses() -> BTreeMap<String, Vec<IpAddr>> {
    let mut found: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    if let Ok(addresses) = nix::ifaddrs::getifaddrs() {
        for interface in addresses {
            if let Some(ip) = interface
                .address
                .as_ref()
                .and_then(|a| a.as_sockaddr_in())
                .map(|a| IpAddr::V4(a.ip()))
            {
                found.entry(interface.interface_name).or_default().push(ip);
            }
        }
    }
    found
}

/// Fingerprints this machine.
pub async fn fingerprint_node(identity: &NodeIdentity) -> Node {
    let mut attributes = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        attributes.insert(key.to_owned(), value);
    };

    let cpu = parse_cpuinfo(&std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default());
    // Some virtual machines report no clock; count 1 GHz a core then.
    let mhz = if cpu.mhz > 0 { cpu.mhz } else { 1000 };
    let total_compute = mhz * u64::from(cpu.cores);
    put("cpu.numcores", cpu.cores.to_string());
    put("cpu.frequency", mhz.to_string());
    put("cpu.totalcompute", total_compute.to_string());
    put("cpu.modelname", cpu.model.clone());
    put("cpu.arch", std::env::consts::ARCH.to_owned());
    put(
        "cpu.reservablecores",
        (0..cpu.cores)
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(","),
    );

    let memory = parse_meminfo_total(&std::fs::read_to_string("/proc/meminfo").unwrap_or_default());
    put("memory.totalbytes", memory.to_string());

    let _ = std::fs::create_dir_all(&identity.data_dir);
    let (free, total) = nix::sys::statvfs::statvfs(&identity.data_dir)
        .map(|s| {
            let block = s.fragment_size();
            (s.blocks_available() * block, s.blocks() * block)
        })
        .unwrap_or((0, 0));
    put(
        "unique.storage.volume",
        identity.data_dir.display().to_string(),
    );
    put("unique.storage.bytesfree", free.to_string());
    put("unique.storage.bytestotal", total.to_string());

    let uts = nix::sys::utsname::uname().ok();
    let hostname = uts
        .as_ref()
        .map(|u| u.nodename().to_string_lossy().into_owned())
        .unwrap_or_default();
    put("unique.hostname", hostname.clone());
    put("kernel.name", std::env::consts::OS.to_owned());
    if let Some(uts) = &uts {
        put(
            "kernel.version",
            uts.release().to_string_lossy().into_owned(),
        );
        put("kernel.arch", uts.machine().to_string_lossy().into_owned());
    }
    let (os_name, os_version) =
        parse_os_release(&std::fs::read_to_string("/etc/os-release").unwrap_or_default());
    put("os.name", os_name);
    put("os.version", os_version);
    put("sched.version", env!("CARGO_PKG_VERSION").to_owned());

    let addresses = interface_addresses();
    let interface = identity
        .network_interface
        .clone()
        .or_else(default_route_interface)
        .filter(|name| addresses.contains_key(name))
        .unwrap_or_else(|| "lo".to_owned());
    let ip = addresses
        .get(&interface)
        .and_then(|ips| ips.first())
        .map_or_else(|| "127.0.0.1".to_owned(), IpAddr::to_string);
    put("unique.network.ip-address", ip.clone());

    let mut drivers = BTreeMap::new();
    for driver in &identity.drivers {
        let info = match driver.fingerprint().await {
            Ok(fingerprint) => {
                for (key, value) in &fingerprint.attributes {
                    put(key, value.clone());
                }
                DriverInfo {
                    attributes: fingerprint.attributes,
                    detected: fingerprint.health != DriverHealth::Undetected,
                    healthy: fingerprint.health == DriverHealth::Healthy,
                    health_description: fingerprint.description,
                    update_time: identity.now_rfc3339.clone(),
                }
            }
            Err(err) => DriverInfo {
                attributes: BTreeMap::new(),
                detected: false,
                healthy: false,
                health_description: err.to_string(),
                update_time: identity.now_rfc3339.clone(),
            },
        };
        drivers.insert(driver.name().to_owned(), info);
    }

    let mut node = Node {
        id: identity.id.as_str().into(),
        datacenter: identity.datacenter.clone(),
        name: if identity.name.is_empty() {
            hostname
        } else {
            identity.name.clone()
        },
        attributes,
        node_resources: NodeResources {
            cpu: NodeCpuResources {
                cpu_shares: MHz(total_compute as i64),
                total_cpu_cores: cpu.cores,
                reservable_cpu_cores: (0..cpu.cores).collect(),
            },
            memory: NodeMemoryResources {
                memory_mb: MiB((memory >> 20) as i64),
            },
            disk: NodeDiskResources {
                disk_mb: MiB((free >> 20) as i64),
            },
            networks: vec![NetworkResource {
                mode: "host".to_owned(),
                device: interface.clone(),
                cidr: format!("{ip}/32"),
                ip: ip.clone(),
                mbits: Some(Mbits(1000)),
                ..NetworkResource::default()
            }],
            node_networks: vec![NodeNetworkResource {
                mode: "host".to_owned(),
                device: interface,
                addresses: vec![NodeNetworkAddress {
                    family: "ipv4".to_owned(),
                    alias: "default".to_owned(),
                    address: ip,
                    ..NodeNetworkAddress::default()
                }],
                ..NodeNetworkResource::default()
            }],
            min_dynamic_port: 20_000,
            max_dynamic_port: 32_000,
            ..NodeResources::default()
        },
        meta: identity.meta.clone(),
        node_class: identity.node_class.clone(),
        node_pool: if identity.node_pool.is_empty() {
            "default".to_owned()
        } else {
            identity.node_pool.clone()
        },
        status: NodeStatus::Ready,
        drivers,
        ..Node::default()
    };
    node.compute_class();
    node
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpuinfo_meminfo_and_os_release_are_read() {
        let cpu = parse_cpuinfo(
            "processor\t: 0\nmodel name\t: Example CPU @ 2.10GHz\ncpu MHz\t\t: 2100.004\n\n\
             processor\t: 1\nmodel name\t: Example CPU @ 2.10GHz\ncpu MHz\t\t: 2100.004\n",
        );
        assert_eq!(
            cpu,
            CpuInfo {
                cores: 2,
                mhz: 2100,
                model: "Example CPU @ 2.10GHz".to_owned()
            }
        );
        assert_eq!(
            parse_meminfo_total("MemTotal:       24576000 kB\nMemFree: 1 kB\n"),
            24_576_000 * 1024
        );
        assert_eq!(
            parse_os_release(
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
            ),
            ("debian".to_owned(), "12".to_owned())
        );
    }
}
