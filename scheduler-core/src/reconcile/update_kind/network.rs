//! Network and port comparisons (group or deprecated task level).

use super::Diff;
use super::Effect::Destructive;
use crate::model::{NetworkResource, Port};

/// Networks (group or deprecated task level): destructive when what the
/// job asks for differs; what the scheduler filled in (device, IP, CIDR,
/// dynamic port values) is left out, as in Nomad's `networkPortMap`.
pub(super) fn compare_networks(
    diff: &mut Diff,
    scope: &str,
    old: &[NetworkResource],
    new: &[NetworkResource],
) {
    let ask = |networks: &[NetworkResource]| networks.iter().map(network_ask).collect::<Vec<_>>();
    diff.check(Destructive, scope, "network", &ask(old), &ask(new));
}

/// The part of a network the job asks for, with defaults made explicit.
fn network_ask(network: &NetworkResource) -> NetworkResource {
    let NetworkResource {
        mode: _,
        // Filled in by the scheduler on placement.
        device: _,
        cidr: _,
        ip: _,
        hostname,
        mbits,
        dns,
        reserved_ports,
        dynamic_ports,
        cni,
    } = network;
    let port = |port: &Port, value: i64| {
        let Port {
            label,
            value: _,
            to,
            host_network,
            ignore_collision,
        } = port;
        Port {
            label: label.clone(),
            value,
            to: *to,
            host_network: if host_network.is_empty() {
                "default".to_owned()
            } else {
                host_network.clone()
            },
            ignore_collision: *ignore_collision,
        }
    };
    NetworkResource {
        mode: network.mode().to_owned(),
        device: String::new(),
        cidr: String::new(),
        ip: String::new(),
        hostname: hostname.clone(),
        mbits: Some(mbits.unwrap_or_default()),
        dns: dns.clone(),
        reserved_ports: reserved_ports.iter().map(|p| port(p, p.value)).collect(),
        // The scheduler picks dynamic values; only the labels are asked for.
        dynamic_ports: dynamic_ports.iter().map(|p| port(p, -1)).collect(),
        cni: cni.clone(),
    }
}
