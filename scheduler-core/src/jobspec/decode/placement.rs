//! Decoding of placement rules and resources: `constraint`, `affinity`,
//! `spread`, `resources`, `network`, `port`, `device`.

use super::reader::BlockReader;
use crate::model::{
    Affinity, CniConfig, Constraint, DnsConfig, MHz, Mbits, MiB, NetworkResource, NumaResource,
    Port, RequestedDevice, Resources, Spread, SpreadTarget,
};

/// Operators that may be written as their own key, e.g.
/// `constraint { attribute = "${attr.os.version}" version = ">= 22.04" }`.
const SHORTHAND_OPERATORS: &[&str] = &[
    "version",
    "semver",
    "regexp",
    "set_contains",
    "set_contains_any",
    "set_contains_all",
];

/// Reads every `constraint` block of a body.
pub fn constraints(reader: &BlockReader<'_>) -> Vec<Constraint> {
    reader
        .blocks("constraint", "Constraints", false)
        .into_iter()
        .map(|(block, _)| {
            let constraint = constraint(&block);
            block.finish(&[]);
            constraint
        })
        .collect()
}

fn constraint(block: &BlockReader<'_>) -> Constraint {
    let mut constraint = Constraint {
        l_target: block.string("attribute", "LTarget").unwrap_or_default(),
        r_target: block.string("value", "RTarget").unwrap_or_default(),
        operand: block
            .string("operator", "Operand")
            .unwrap_or_else(|| "=".to_owned()),
    };
    let mut shorthand_count = 0;
    for &operator in SHORTHAND_OPERATORS {
        if let Some(value) = block.string(operator, "RTarget") {
            constraint.operand = operator.to_owned();
            constraint.r_target = value;
            shorthand_count += 1;
        }
    }
    if let Some(enabled) = block.bool("distinct_hosts", "Operand") {
        shorthand_count += 1;
        if enabled {
            constraint.operand = "distinct_hosts".to_owned();
        }
    }
    if let Some(property) = block.string("distinct_property", "LTarget") {
        shorthand_count += 1;
        constraint.operand = "distinct_property".to_owned();
        constraint.l_target = property;
    }
    if shorthand_count > 1 {
        block.error("a constraint takes one operator; several shorthand operator keys are set");
    }
    constraint
}

/// Reads every `affinity` block of a body.
pub fn affinities(reader: &BlockReader<'_>) -> Vec<Affinity> {
    reader
        .blocks("affinity", "Affinities", false)
        .into_iter()
        .map(|(block, _)| {
            let mut affinity = Affinity {
                l_target: block.string("attribute", "LTarget").unwrap_or_default(),
                r_target: block.string("value", "RTarget").unwrap_or_default(),
                operand: block
                    .string("operator", "Operand")
                    .unwrap_or_else(|| "=".to_owned()),
                weight: None,
            };
            for &operator in SHORTHAND_OPERATORS {
                if let Some(value) = block.string(operator, "RTarget") {
                    affinity.operand = operator.to_owned();
                    affinity.r_target = value;
                }
            }
            affinity.weight = small_int(&block, "weight", "Weight", -100, 100);
            block.finish(&[]);
            affinity
        })
        .collect()
}

/// Reads an integer attribute that must fit a narrow range (weights, percents).
fn small_int<T: TryFrom<i64>>(
    block: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
    min: i64,
    max: i64,
) -> Option<T> {
    let value = block.int(name, json)?;
    if value < min || value > max {
        block.decoder().error(
            block.span(),
            &block.path().field(name, json),
            format!("{name} must be between {min} and {max}, got {value}"),
        );
        return None;
    }
    T::try_from(value).ok()
}

/// Reads every `spread` block of a body.
pub fn spreads(reader: &BlockReader<'_>) -> Vec<Spread> {
    reader
        .blocks("spread", "Spreads", false)
        .into_iter()
        .map(|(block, _)| {
            let spread = Spread {
                attribute: block.string("attribute", "Attribute").unwrap_or_default(),
                weight: small_int(&block, "weight", "Weight", -100, 100),
                spread_target: block
                    .blocks("target", "SpreadTarget", true)
                    .into_iter()
                    .map(|(target, label)| {
                        let value = target
                            .string("value", "Value")
                            .or(label)
                            .unwrap_or_default();
                        let percent = small_int(&target, "percent", "Percent", 0, 100).unwrap_or(0);
                        target.finish(&[]);
                        SpreadTarget { value, percent }
                    })
                    .collect(),
            };
            block.finish(&[]);
            spread
        })
        .collect()
}

/// Reads a `resources` block.
pub fn resources(block: &BlockReader<'_>) -> Resources {
    let mut resources = Resources {
        cpu: block.int("cpu", "CPU").map(MHz),
        cores: block.int("cores", "Cores").unwrap_or(0),
        memory_mb: block.size_mib("memory", "MemoryMB").map(MiB),
        memory_max_mb: MiB(block.size_mib("memory_max", "MemoryMaxMB").unwrap_or(0)),
        disk_mb: MiB(block.size_mib("disk", "DiskMB").unwrap_or(0)),
        secrets_mb: MiB(block.size_mib("secrets", "SecretsMB").unwrap_or(0)),
        networks: networks(block),
        devices: devices(block),
        ..Resources::default()
    };
    if block.int("iops", "IOPS").is_some() {
        block.decoder().warning(
            block.span(),
            &block.path().field("iops", "IOPS"),
            "iops is deprecated and ignored, as in Nomad",
        );
    }
    if let Some(numa) = block.block("numa", "NUMA") {
        resources.numa = Some(NumaResource {
            affinity: numa.string("affinity", "Affinity").unwrap_or_default(),
            devices: numa.string_list("devices", "Devices").unwrap_or_default(),
        });
        numa.finish(&[]);
    }
    block.finish(&[]);
    resources
}

/// Reads every `network` block of a body (group or task resources).
pub fn networks(reader: &BlockReader<'_>) -> Vec<NetworkResource> {
    reader
        .blocks("network", "Networks", false)
        .into_iter()
        .map(|(block, _)| {
            let mut network = NetworkResource {
                mode: block.string("mode", "Mode").unwrap_or_default(),
                hostname: block.string("hostname", "Hostname").unwrap_or_default(),
                mbits: block.int("mbits", "MBits").map(Mbits),
                ..NetworkResource::default()
            };
            for (port_block, label) in block.blocks("port", "Ports", true) {
                let label = label.unwrap_or_default();
                let static_port = port_block.int("static", "Value");
                let port = Port {
                    label,
                    value: static_port.unwrap_or(0),
                    to: port_block.int("to", "To").unwrap_or(0),
                    host_network: port_block
                        .string("host_network", "HostNetwork")
                        .unwrap_or_default(),
                    ignore_collision: port_block
                        .bool("ignore_collision", "IgnoreCollision")
                        .unwrap_or(false),
                };
                port_block.finish(&[]);
                if static_port.is_some() {
                    network.reserved_ports.push(port);
                } else {
                    network.dynamic_ports.push(port);
                }
            }
            if let Some(dns) = block.block("dns", "DNS") {
                network.dns = Some(DnsConfig {
                    servers: dns.string_list("servers", "Servers").unwrap_or_default(),
                    searches: dns.string_list("searches", "Searches").unwrap_or_default(),
                    options: dns.string_list("options", "Options").unwrap_or_default(),
                });
                dns.finish(&[]);
            }
            if let Some(cni) = block.block("cni", "CNI") {
                network.cni = Some(CniConfig {
                    args: cni.string_map("args", "Args").unwrap_or_default(),
                });
                cni.finish(&[]);
            }
            block.finish(&[]);
            network
        })
        .collect()
}

fn devices(reader: &BlockReader<'_>) -> Vec<RequestedDevice> {
    reader
        .blocks("device", "Devices", true)
        .into_iter()
        .map(|(block, label)| {
            let count = block.int("count", "Count");
            if count.is_some_and(|c| c < 0) {
                block.error("device count must not be negative");
            }
            let device = RequestedDevice {
                name: label.unwrap_or_default(),
                count: count.and_then(|c| u64::try_from(c).ok()),
                constraints: constraints(&block),
                affinities: affinities(&block),
            };
            block.finish(&[]);
            device
        })
        .collect()
}
