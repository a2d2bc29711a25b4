//! Turning specs into inputs: nodes built directly, jobs rendered as HCL
//! and parsed like a user's job file.

use std::fmt::Write as _;

use proptest::test_runner::TestCaseError;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{
    DrainStrategy, DriverInfo, Job, MHz, Mbits, MiB, NetworkResource, Node, NodeId,
    NodeNetworkAddress, NodeNetworkResource, NodeStatus, SchedulingEligibility,
};

use crate::generators::{ConstraintSpec, JobSpec, NodeSpec, NodeState};

// ---------------------------------------------------------------------------
// Building nodes and jobs
// ---------------------------------------------------------------------------

pub(crate) fn node_name(index: usize) -> String {
    format!("n-{index}")
}

pub(crate) fn build_node(index: usize, spec: &NodeSpec) -> Node {
    let name = node_name(index);
    let ip = format!("10.0.{}.{}", index / 250, index % 250 + 1);
    let mut node = Node {
        id: NodeId::new(format!("00000000-0000-4000-8000-{index:012x}")),
        name: name.clone(),
        datacenter: if spec.state == NodeState::OtherDatacenter {
            "dc2".into()
        } else {
            "dc1".into()
        },
        node_pool: if spec.state == NodeState::OtherPool {
            "gpu".into()
        } else {
            "default".into()
        },
        node_class: spec.class.into(),
        status: if spec.state == NodeState::Down {
            NodeStatus::Down
        } else {
            NodeStatus::Ready
        },
        ..Node::default()
    };
    if spec.state == NodeState::Ineligible {
        node.scheduling_eligibility = SchedulingEligibility::Ineligible;
    }
    if spec.state == NodeState::Draining {
        node.drain_strategy = Some(DrainStrategy::default());
        node.scheduling_eligibility = SchedulingEligibility::Ineligible;
    }
    let attributes = [
        ("kernel.name", spec.kernel),
        ("os.version", spec.os_version),
        ("cpu.features", spec.features),
    ];
    for (key, value) in attributes {
        if !value.is_empty() {
            node.attributes.insert(key.into(), value.into());
        }
    }
    node.attributes.insert("unique.hostname".into(), name);
    if let Some(rack) = spec.rack {
        node.meta.insert("rack".into(), rack.to_string());
    }
    node.meta.insert("zone".into(), spec.zone.into());
    for (driver, healthy) in &spec.drivers {
        node.drivers.insert(
            (*driver).into(),
            DriverInfo {
                detected: true,
                healthy: *healthy,
                ..DriverInfo::default()
            },
        );
    }
    if spec.reserve_ports {
        node.reserved_resources.networks.reserved_host_ports = "22,80".into();
    }
    if spec.reserve_resources {
        node.reserved_resources.cpu.cpu_shares = MHz(100);
        node.reserved_resources.memory.memory_mb = MiB(128);
        node.reserved_resources.disk.disk_mb = MiB(100);
    }
    let resources = &mut node.node_resources;
    resources.cpu.cpu_shares = MHz(spec.cpu);
    resources.cpu.total_cpu_cores = 4;
    resources.memory.memory_mb = MiB(spec.memory);
    resources.disk.disk_mb = MiB(spec.disk);
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
    resources.min_dynamic_port = 20000;
    resources.max_dynamic_port = 20000 + spec.dynamic_ports - 1;
    node.compute_class();
    node
}

pub(crate) fn job_id(index: usize) -> String {
    format!("job{index}")
}

pub(crate) fn group_name(index: usize) -> String {
    format!("g{index}")
}

pub(crate) fn render_constraint(out: &mut String, indent: &str, constraint: &ConstraintSpec) {
    match constraint {
        ConstraintSpec::Plain(attribute, operator, value) => {
            let _ = write!(
                out,
                "{indent}constraint {{\n{indent}  attribute = \"{attribute}\"\n{indent}  operator  = \"{operator}\"\n"
            );
            if !value.is_empty() {
                let _ = writeln!(out, "{indent}  value     = \"{value}\"");
            }
            let _ = writeln!(out, "{indent}}}");
        }
        ConstraintSpec::DistinctHosts => {
            let _ = writeln!(
                out,
                "{indent}constraint {{\n{indent}  operator = \"distinct_hosts\"\n{indent}  value    = \"true\"\n{indent}}}"
            );
        }
        ConstraintSpec::DistinctProperty(limit) => {
            let _ = writeln!(
                out,
                "{indent}constraint {{\n{indent}  operator  = \"distinct_property\"\n{indent}  attribute = \"${{meta.rack}}\"\n{indent}  value     = \"{limit}\"\n{indent}}}"
            );
        }
    }
}

/// The job as HCL; `counts` overrides the groups' counts.
pub(crate) fn render_job(index: usize, spec: &JobSpec, counts: Option<&[u32]>) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "job \"{}\" {{", job_id(index));
    let _ = writeln!(out, "  type = \"{}\"", spec.kind.name());
    let dcs: Vec<String> = spec
        .datacenters
        .iter()
        .map(|d| format!("\"{d}\""))
        .collect();
    let _ = writeln!(out, "  datacenters = [{}]", dcs.join(", "));
    if spec.pool_all {
        let _ = writeln!(out, "  node_pool = \"all\"");
    }
    for constraint in &spec.constraints {
        render_constraint(&mut out, "  ", constraint);
    }
    for (g, group) in spec.groups.iter().enumerate() {
        let count = counts
            .and_then(|c| c.get(g))
            .copied()
            .unwrap_or(group.count);
        let _ = writeln!(out, "  group \"{}\" {{", group_name(g));
        let _ = writeln!(out, "    count = {count}");
        let _ = writeln!(out, "    ephemeral_disk {{ size = {} }}", group.disk);
        if group.static_port.is_some() || group.dynamic_ports > 0 {
            let _ = writeln!(out, "    network {{");
            if let Some(port) = group.static_port {
                let _ = writeln!(out, "      port \"static\" {{ static = {port} }}");
            }
            for d in 0..group.dynamic_ports {
                let _ = writeln!(out, "      port \"dyn{d}\" {{}}");
            }
            let _ = writeln!(out, "    }}");
        }
        for constraint in &group.constraints {
            render_constraint(&mut out, "    ", constraint);
        }
        if let Some((weight, targets)) = &group.spread {
            let _ = writeln!(
                out,
                "    spread {{\n      attribute = \"${{meta.zone}}\"\n      weight = {weight}"
            );
            for (value, percent) in targets {
                let _ = writeln!(out, "      target \"{value}\" {{ percent = {percent} }}");
            }
            let _ = writeln!(out, "    }}");
        }
        if let Some((attribute, value, weight)) = &group.affinity {
            let _ = writeln!(
                out,
                "    affinity {{\n      attribute = \"{attribute}\"\n      value = \"{value}\"\n      weight = {weight}\n    }}"
            );
        }
        for (t, task) in group.tasks.iter().enumerate() {
            let _ = writeln!(out, "    task \"t{t}\" {{");
            let _ = writeln!(out, "      driver = \"{}\"", task.driver);
            let _ = writeln!(out, "      config {{ command = \"/bin/true\" }}");
            let _ = writeln!(
                out,
                "      resources {{\n        cpu    = {}\n        memory = {}\n      }}",
                task.cpu, task.memory
            );
            if let Some(constraint) = &task.constraint {
                render_constraint(&mut out, "      ", constraint);
            }
            let _ = writeln!(out, "    }}");
        }
        let _ = writeln!(out, "  }}");
    }
    let _ = writeln!(out, "}}");
    out
}

pub(crate) fn parse_job(source: &str) -> Result<Job, TestCaseError> {
    parse(source, &ParseOptions::new("x.hcl"))
        .map(|parsed| parsed.job)
        .map_err(|e| TestCaseError::fail(format!("generated job does not parse: {e}\n{source}")))
}
