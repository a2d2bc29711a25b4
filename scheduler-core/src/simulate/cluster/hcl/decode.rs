//! Decoding one `node` block into a [`NodeSpec`]: the
//! node's fields, drivers, resources and reservations, host networks and
//! volumes, and devices.

use super::args::{bounded_int, dynamic_ports, port_list, size};
use super::device::device_attributes;
use super::{HostNetworkSpec, MAX_COUNT, NodeSpec};
use crate::jobspec::body::Block;
use crate::jobspec::decode::reader::{BlockReader, Decoder, describe};
use crate::model::{
    DriverInfo, FieldPath, MHz, MiB, Node, NodeDeviceResource, NodeHostNetwork, NodeHostVolume,
    NodeStatus, SchedulingEligibility, Segment,
};
use crate::simulate::cluster::{
    Cidr, DEFAULT_DATACENTER, DEFAULT_DYNAMIC_PORTS, DEFAULT_INTERFACE, DEFAULT_NETWORK_MBITS,
    DEFAULT_NODE_POOL,
};
use std::collections::BTreeSet;

/// Decodes one `node` block. Problems go to `decoder`; the spec is always
/// returned, as complete as the block allows.
pub(super) fn decode_node(decoder: &Decoder, block: &Block, index: usize) -> NodeSpec {
    let label = block.label().to_owned();
    let path = FieldPath(vec![Segment::Labeled {
        hcl: "node",
        json: "Nodes",
        label: label.clone(),
        index: Some(index),
    }]);
    let mut valid = true;
    if block.labels.len() != 1 || label.trim().is_empty() {
        decoder.error(
            block.span.clone(),
            &path,
            "a node block needs exactly one non-empty label: node \"NAME\" { ... }",
        );
        valid = false;
    }
    let reader = BlockReader::new(decoder, &block.body, path.clone(), block.span.clone());

    let count = bounded_int(&reader, "count", "Count", 0, MAX_COUNT)
        .map(|n| usize::try_from(n).unwrap_or(0));
    let eligible = reader.bool("eligible", "SchedulingEligibility");
    let mut node = Node {
        datacenter: non_empty(
            reader.string("datacenter", "Datacenter"),
            DEFAULT_DATACENTER,
        ),
        node_class: reader.string("node_class", "NodeClass").unwrap_or_default(),
        node_pool: non_empty(reader.string("node_pool", "NodePool"), DEFAULT_NODE_POOL),
        attributes: reader
            .string_map("attributes", "Attributes")
            .unwrap_or_default(),
        meta: reader.string_map("meta", "Meta").unwrap_or_default(),
        status: NodeStatus::Ready,
        scheduling_eligibility: if eligible == Some(false) {
            SchedulingEligibility::Ineligible
        } else {
            SchedulingEligibility::Eligible
        },
        ..Node::default()
    };

    // Drivers: a list of healthy ones, and blocks for the rest.
    for driver in reader.string_list("drivers", "Drivers").unwrap_or_default() {
        node.drivers.insert(
            driver,
            DriverInfo {
                detected: true,
                healthy: true,
                health_description: "Healthy".into(),
                ..DriverInfo::default()
            },
        );
    }
    let mut driver_blocks = BTreeSet::new();
    for (driver, label) in reader.blocks("driver", "Drivers", true) {
        let name = label.unwrap_or_default();
        if !driver_blocks.insert(name.clone()) {
            driver.error(format!("driver {name:?} is declared more than once"));
        }
        let healthy = driver.bool("healthy", "Healthy").unwrap_or(true);
        let info = DriverInfo {
            detected: driver.bool("detected", "Detected").unwrap_or(true),
            healthy,
            health_description: driver
                .string("health_description", "HealthDescription")
                .unwrap_or_else(|| if healthy { "Healthy" } else { "Unhealthy" }.into()),
            attributes: driver
                .string_map("attributes", "Attributes")
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| {
                    let key = if key.starts_with("driver.") {
                        key
                    } else {
                        format!("driver.{name}.{key}")
                    };
                    (key, value)
                })
                .collect(),
            ..DriverInfo::default()
        };
        driver.finish(&[]);
        node.drivers.insert(name, info);
    }

    // Capacity.
    let mut mbits = DEFAULT_NETWORK_MBITS;
    match reader.block("resources", "NodeResources") {
        Some(resources) => {
            let required = |value: Option<i64>, name: &str| {
                if value.is_none() && !resources.has(name) {
                    resources.error(format!(
                        "argument \"{name}\" is required in a node's resources block"
                    ));
                }
                value.unwrap_or(0)
            };
            let cpu = required(bounded_int(&resources, "cpu", "Cpu", 0, i64::MAX), "cpu");
            let cores = bounded_int(
                &resources,
                "cores",
                "TotalCpuCores",
                0,
                i64::from(u16::MAX),
            )
            .unwrap_or(0);
            let memory = required(size(&resources, "memory", "MemoryMB"), "memory");
            let disk = required(size(&resources, "disk", "DiskMB"), "disk");
            mbits = bounded_int(&resources, "network_mbits", "MBits", 0, i64::MAX)
                .unwrap_or(DEFAULT_NETWORK_MBITS);
            let cores = u16::try_from(cores).unwrap_or(0);
            let r = &mut node.node_resources;
            r.cpu.cpu_shares = MHz(cpu);
            r.cpu.total_cpu_cores = cores;
            r.cpu.reservable_cpu_cores = (0..cores).collect();
            r.memory.memory_mb = MiB(memory);
            r.disk.disk_mb = MiB(disk);
            resources.finish(&[]);
        }
        None => reader.error("a node block needs a resources block: resources { cpu = 4000, memory = 8192, disk = 100000 }"),
    }
    let (min_port, max_port) = dynamic_ports(&reader).unwrap_or(DEFAULT_DYNAMIC_PORTS);
    node.node_resources.min_dynamic_port = min_port;
    node.node_resources.max_dynamic_port = max_port;
    let network_modes = reader
        .string_list("network_modes", "NetworkModes")
        .unwrap_or_default();

    // Reservations.
    if let Some(reserved) = reader.block("reserved", "ReservedResources") {
        let r = &mut node.reserved_resources;
        r.cpu.cpu_shares =
            MHz(bounded_int(&reserved, "cpu", "CpuShares", 0, i64::MAX).unwrap_or(0));
        r.memory.memory_mb = MiB(size(&reserved, "memory", "MemoryMB").unwrap_or(0));
        r.disk.disk_mb = MiB(size(&reserved, "disk", "DiskMB").unwrap_or(0));
        if let Some((ports, _)) = port_list(&reserved, "ports", "ReservedHostPorts") {
            r.networks.reserved_host_ports = ports;
        }
        if let Some((_, cores)) = port_list(&reserved, "cores", "ReservedCpuCores") {
            r.cpu.reserved_cpu_cores = cores.into_iter().collect();
        }
        reserved.finish(&[]);
    }

    // Host networks and volumes.
    let mut host_networks = Vec::new();
    for (network, label) in reader.blocks("host_network", "HostNetworks", true) {
        let name = label.unwrap_or_default();
        if node.host_networks.contains_key(&name) {
            network.error(format!("host network {name:?} is declared more than once"));
        }
        let cidr = network.attribute("cidr", "CIDR").and_then(|(attribute, path)| {
            let text = attribute.value.to_hcl_string().unwrap_or_default();
            let cidr = Cidr::parse(&text);
            if cidr.is_none() {
                decoder.error(
                    attribute.value_span.clone(),
                    &path,
                    format!(
                        "argument \"cidr\" must be an address block such as \"192.168.0.0/24\", got {}",
                        describe(&attribute.value)
                    ),
                );
            }
            cidr.map(|c| (c, text))
        });
        let interface = network.string("interface", "Interface");
        let reserved_ports = port_list(&network, "reserved_ports", "ReservedPorts")
            .map(|(p, _)| p)
            .unwrap_or_default();
        network.finish(&[]);
        node.host_networks.insert(
            name.clone(),
            NodeHostNetwork {
                name: name.clone(),
                cidr: cidr.as_ref().map(|(_, t)| t.clone()).unwrap_or_default(),
                interface: interface.clone().unwrap_or_default(),
                reserved_ports: reserved_ports.clone(),
            },
        );
        host_networks.push(HostNetworkSpec {
            name,
            cidr: cidr.map(|(c, _)| c),
            interface: interface
                .filter(|i| !i.is_empty())
                .unwrap_or_else(|| DEFAULT_INTERFACE.into()),
            reserved_ports,
        });
    }
    for (volume, label) in reader.blocks("host_volume", "HostVolumes", true) {
        let name = label.unwrap_or_default();
        if node.host_volumes.contains_key(&name) {
            volume.error(format!("host volume {name:?} is declared more than once"));
        }
        let path = volume.string("path", "Path");
        if path.is_none() && !volume.has("path") {
            volume.error("argument \"path\" is required in a host_volume block");
        }
        let read_only = volume.bool("read_only", "ReadOnly").unwrap_or(false);
        volume.finish(&[]);
        node.host_volumes.insert(
            name.clone(),
            NodeHostVolume {
                name,
                path: path.unwrap_or_default(),
                read_only,
                id: String::new(),
            },
        );
    }

    // Devices.
    let mut devices: Vec<NodeDeviceResource> = Vec::new();
    let mut device_counts = Vec::new();
    for (device, label) in reader.blocks("device", "Devices", true) {
        let label = label.unwrap_or_default();
        let parts: Vec<&str> = label.splitn(3, '/').collect();
        let [vendor, kind, model] = parts.as_slice() else {
            device.error(format!(
                "device name {label:?} must be vendor/type/model, such as \"nvidia/gpu/A100\""
            ));
            device.accept_everything();
            continue;
        };
        if [vendor, kind, model].iter().any(|p| p.trim().is_empty()) {
            device.error(format!(
                "device name {label:?} must be vendor/type/model with no empty part, such as \"nvidia/gpu/A100\""
            ));
            device.accept_everything();
            continue;
        }
        if devices.iter().any(|d| d.id() == label) {
            device.error(format!("device {label:?} is declared more than once"));
        }
        let count = bounded_int(&device, "count", "Count", 0, MAX_COUNT).unwrap_or(1);
        let attributes = device_attributes(&device);
        device.finish(&[]);
        devices.push(NodeDeviceResource {
            vendor: (*vendor).to_owned(),
            device_type: (*kind).to_owned(),
            name: (*model).to_owned(),
            instances: Vec::new(),
            attributes,
        });
        device_counts.push(usize::try_from(count).unwrap_or(0));
    }

    reader.finish(&[]);
    NodeSpec {
        label,
        span: block.span.clone(),
        path,
        count,
        valid,
        template: node,
        mbits,
        host_networks,
        network_modes,
        devices,
        device_counts,
    }
}

fn non_empty(value: Option<String>, default: &str) -> String {
    value
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
