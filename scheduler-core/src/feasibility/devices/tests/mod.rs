//! Unit tests for device requests: one `check(rule, expected)` table for the
//! operators, then feasibility and assignment scenarios.

use super::*;
use crate::model::{
    Affinity, Constraint, NodeDevice, NodeDeviceAttribute, NodeDeviceResource, NodeResources,
};

mod assign;
mod feasibility;
mod names;
mod rules;
mod values;

// ---------------------------------------------------------------------------
// Builders

fn int(value: i64, unit: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        int: Some(value),
        unit: unit.to_owned(),
        ..NodeDeviceAttribute::default()
    }
}

fn float(value: f64, unit: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        float: Some(value),
        unit: unit.to_owned(),
        ..NodeDeviceAttribute::default()
    }
}

fn string(value: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        string: Some(value.to_owned()),
        ..NodeDeviceAttribute::default()
    }
}

fn boolean(value: bool) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        bool: Some(value),
        ..NodeDeviceAttribute::default()
    }
}

/// A device group; `instances` are `(id, healthy)`.
fn group(
    id: &str,
    instances: &[(&str, bool)],
    attrs: Vec<(&str, NodeDeviceAttribute)>,
) -> NodeDeviceResource {
    let mut parts = id.splitn(3, '/');
    let mut part = || parts.next().unwrap_or_default().to_owned();
    NodeDeviceResource {
        vendor: part(),
        device_type: part(),
        name: part(),
        instances: instances
            .iter()
            .map(|(id, healthy)| NodeDevice {
                id: (*id).to_owned(),
                healthy: *healthy,
                ..NodeDevice::default()
            })
            .collect(),
        attributes: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

fn node(groups: Vec<NodeDeviceResource>) -> Node {
    Node {
        node_resources: NodeResources {
            devices: groups,
            ..NodeResources::default()
        },
        ..Node::default()
    }
}

/// A T4 with one attribute of every kind.
fn t4() -> NodeDeviceResource {
    group(
        "nvidia/gpu/Tesla T4",
        &[("GPU-1", true), ("GPU-2", true), ("GPU-3", true)],
        vec![
            ("memory", int(16384, "MiB")),
            ("clock", int(1590, "MHz")),
            ("power", int(70, "W")),
            ("milliwatts", int(1500, "mW")),
            ("cuda_cores", int(2560, "")),
            ("sm", int(75, "cores")),
            ("compute", float(7.5, "")),
            ("bandwidth", float(320.0, "GB/s")),
            ("driver", string("535.104.05")),
            ("cuda", string("12.2")),
            ("major", int(12, "")),
            ("tags", string("a, b ,c")),
            ("ecc", boolean(true)),
            ("weird", float(f64::NAN, "")),
        ],
    )
}

fn request(
    name: &str,
    count: u64,
    constraints: &[(&str, &str, &str)],
    affinities: &[(&str, &str, &str, i8)],
) -> RequestedDevice {
    RequestedDevice {
        name: name.to_owned(),
        count: Some(count),
        constraints: constraints
            .iter()
            .map(|(l, op, r)| Constraint::new(*l, *op, *r))
            .collect(),
        affinities: affinities
            .iter()
            .map(|(l, op, r, w)| Affinity {
                l_target: (*l).to_owned(),
                operand: (*op).to_owned(),
                r_target: (*r).to_owned(),
                weight: Some(*w),
            })
            .collect(),
    }
}

fn matcher(
    name: &str,
    count: u64,
    constraints: &[(&str, &str, &str)],
    affinities: &[(&str, &str, &str, i8)],
) -> DeviceRequestMatcher {
    DeviceRequestMatcher::new(&request(name, count, constraints, affinities)).unwrap()
}

const MEM: &str = "${device.attr.memory}";
