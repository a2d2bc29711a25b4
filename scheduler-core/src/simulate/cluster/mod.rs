//! Cluster files: the nodes of a simulated cluster, in HCL or Nomad API JSON.
//!
//! **API Boundary:** [`parse_cluster`] takes the text of a cluster file and
//! its name and returns every node, in file order with `count` expanded, or
//! every problem found, each at file, line and column.
//!
//! ```hcl
//! node "web" {                 # count = N makes web-0 .. web-(N-1)
//!   count      = 4
//!   datacenter = "dc1"
//!   drivers    = ["docker", "exec"]
//!   resources {
//!     cpu    = 4000            # MHz
//!     memory = "8GiB"          # MiB, or a size with a unit
//!     disk   = 100000          # MiB
//!   }
//! }
//! ```
//!
//! The keys of a `node` block, with what is assumed when one is left out:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `count` | makes `NAME-0` .. `NAME-(count-1)` | one node named `NAME` |
//! | `datacenter`, `node_pool`, `node_class` | as in Nomad | `"dc1"`, `"default"`, `""` |
//! | `eligible` | scheduling eligibility | `true` |
//! | `drivers` | healthy, detected drivers | none |
//! | `driver "NAME" { detected, healthy, health_description, attributes }` | a driver in any state; attribute keys without `driver.` get `driver.NAME.` | detected, healthy |
//! | `resources { cpu, cores, memory, disk, network_mbits }` | capacity (MHz, cores, MiB, MiB, Mbit/s); sizes may carry units | required: `cpu`, `memory`, `disk`; `cores` 0, `network_mbits` 1000 |
//! | `reserved { cpu, memory, disk, ports, cores }` | held back; `ports` and `cores` are lists such as `"22,8000-8100"` | nothing |
//! | `dynamic_ports` | `"LOW-HIGH"` | `"20000-32000"` |
//! | `network_modes` | extra fingerprinted networks (`["bridge", "cni/calico"]`) | host only |
//! | `attributes`, `meta` | string maps | none |
//! | `host_network "NAME" { cidr, interface, reserved_ports }` | a host network and an address for it | address from `cidr`, else `172.(16+i).x.y`; interface `eth0` |
//! | `host_volume "NAME" { path, read_only }` | a static host volume | `path` required |
//! | `device "VENDOR/TYPE/MODEL" { count, attributes }` | healthy device instances `<node>-<model>-<i>`; attributes typed (`"40 GiB"` is the int 40 in GiB) | `count` 1 |
//!
//! Each node is built as a Nomad client would report it after
//! fingerprinting, and deterministically: the id is derived from the name
//! ([`node_id`]), the address of `eth0` from the node's position in the file
//! ([`node_ip`]), the attributes `unique.hostname`, `driver.NAME`,
//! `cpu.totalcompute`, `cpu.numcores` (with `cores`) and
//! `memory.totalbytes` are added unless the file sets them, the status is
//! `ready` and the computed class is set. The same text always gives the
//! same nodes.
//!
//! HCL files are read with the job-spec machinery (`hcl::edit` with spans,
//! the evaluator, [`BlockReader`](crate::jobspec::decode::reader::BlockReader)),
//! so expressions, `locals` and `variable` defaults work as in job files and
//! unknown keys get a did-you-mean. JSON files hold a list of nodes as
//! `GET /v1/node/:id` returns them; see the `json` module for what is filled
//! in there.
//!
//! ```
//! use scheduler_core::simulate::cluster::parse_cluster;
//!
//! let source = r#"
//! node "web" {
//!   count   = 2
//!   drivers = ["docker"]
//!   resources {
//!     cpu    = 4000
//!     memory = 8192
//!     disk   = 100000
//!   }
//! }
//! "#;
//! let cluster = parse_cluster(source, "cluster.hcl").expect("valid cluster");
//! assert_eq!(cluster.nodes.len(), 2);
//! assert_eq!(cluster.nodes[1].name, "web-1");
//! assert!(cluster.nodes[1].is_schedulable());
//! ```

mod hcl;
/// The HCL front end scenario files share with cluster files.
pub(crate) use hcl::front as hcl_front;
mod json;
#[cfg(test)]
mod tests;

use crate::jobspec::Diagnostics;
use crate::model::{Node, NodeId, NodeNetworkAddress, NodeNetworkResource};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The nodes of a cluster file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterFile {
    /// Every node, in file order, `count` expanded (`web-0`, `web-1`, ...).
    pub nodes: Vec<Node>,
}

/// Parses a cluster file; `.json` file names (or source starting with `[`)
/// go to the JSON reader, everything else to HCL. On failure, returns every
/// problem found, sorted by position.
pub fn parse_cluster(source: &str, file_name: &str) -> Result<ClusterFile, Diagnostics> {
    let is_json = file_name.to_ascii_lowercase().ends_with(".json")
        || source
            .trim_start_matches('\u{feff}')
            .trim_start()
            .starts_with('[');
    if is_json {
        json::parse(source.strip_prefix('\u{feff}').unwrap_or(source), file_name)
    } else {
        hcl::parse(source, file_name)
    }
}

/// Datacenter of a node that names none (Nomad's client default).
pub const DEFAULT_DATACENTER: &str = "dc1";
/// Node pool of a node that names none.
pub const DEFAULT_NODE_POOL: &str = "default";
/// Link speed of a node that states none, in Mbit/s.
pub const DEFAULT_NETWORK_MBITS: i64 = 1000;
/// Dynamic port range of a node that states none (Nomad's defaults).
pub const DEFAULT_DYNAMIC_PORTS: (u16, u16) = (20000, 32000);
/// Name of the (only) network interface of a simulated node.
pub const DEFAULT_INTERFACE: &str = "eth0";

/// The id of the node named `name`: a version-4-shaped UUID made from
/// `sha256("node:" + name)`, so re-reading a file gives the same ids.
pub fn node_id(name: &str) -> NodeId {
    let digest = Sha256::digest(format!("node:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    NodeId::new(
        uuid::Builder::from_random_bytes(bytes)
            .into_uuid()
            .hyphenated()
            .to_string(),
    )
}

/// The default-interface address of the node at `position` (0-based, in
/// file order): `10.A.B.C` with `C` in 1..=254, unique for the first
/// 16 million nodes.
pub fn node_ip(position: usize) -> Ipv4Addr {
    let host = position % 254 + 1;
    let rest = position / 254;
    Ipv4Addr::new(
        10,
        ((rest / 256) % 256) as u8,
        (rest % 256) as u8,
        host as u8,
    )
}

/// A locally administered MAC address made from an IPv4 address.
fn mac_for(ip: Ipv4Addr) -> String {
    let [a, b, c, d] = ip.octets();
    format!("02:00:{a:02x}:{b:02x}:{c:02x}:{d:02x}")
}

/// An address block written as `"192.168.0.0/24"` (IPv4 or IPv6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cidr {
    base: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.trim().split_once('/')?;
        let base: IpAddr = address.trim().parse().ok()?;
        let prefix: u8 = prefix.trim().parse().ok()?;
        let max = if base.is_ipv4() { 32 } else { 128 };
        (prefix <= max).then_some(Cidr { base, prefix })
    }

    /// The `position`-th usable host address in the block (network and
    /// broadcast addresses skipped where the block has room), wrapping.
    fn host(&self, position: usize) -> IpAddr {
        let (width, base) = match self.base {
            IpAddr::V4(a) => (32, u128::from(u32::from(a))),
            IpAddr::V6(a) => (128, u128::from(a)),
        };
        let bits = width - u32::from(self.prefix);
        let position = position as u128;
        let (network, offset) = match 1u128.checked_shl(bits) {
            Some(size) if size >= 4 => (base & !(size - 1), 1 + position % (size - 2)),
            Some(size) => (base & !(size - 1), position % size),
            None => (0, 1 + position),
        };
        let address = network.wrapping_add(offset);
        match self.base {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(address as u32)),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(address)),
        }
    }
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() { "ipv4" } else { "ipv6" }
}

/// The default host network of a simulated node: `eth0` with one address,
/// aliased `default`.
fn default_node_network(ip: Ipv4Addr, mbits: i64) -> NodeNetworkResource {
    NodeNetworkResource {
        mode: "host".to_owned(),
        device: DEFAULT_INTERFACE.to_owned(),
        mac_address: mac_for(ip),
        speed: crate::model::Mbits(mbits),
        addresses: vec![NodeNetworkAddress {
            family: "ipv4".to_owned(),
            alias: "default".to_owned(),
            address: ip.to_string(),
            reserved_ports: String::new(),
            gateway: String::new(),
        }],
    }
}
