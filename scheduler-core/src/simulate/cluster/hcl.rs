//! HCL cluster files: `node` blocks read with the job-spec machinery.
//!
//! The text goes through the same steps as a job file (syntax with spans,
//! `variable` defaults and `locals`, evaluation), then each `node` block is
//! decoded with a [`BlockReader`] into a [`NodeSpec`]: everything the file
//! says about the block's nodes. [`NodeSpec::build`] then makes one node per
//! `count`, adding what a client would fingerprint (ids, addresses,
//! attributes, device ids, the computed class).

use super::{
    Cidr, ClusterFile, DEFAULT_DATACENTER, DEFAULT_DYNAMIC_PORTS, DEFAULT_INTERFACE,
    DEFAULT_NETWORK_MBITS, DEFAULT_NODE_POOL, default_node_network, family, mac_for, node_id,
    node_ip,
};
use crate::feasibility::fit::parse_port_list;
use crate::jobspec::body::Block;
use crate::jobspec::decode::reader::{BlockReader, Decoder, describe, parse_size_mib};
use crate::jobspec::eval::{EvalError, Evaluator, Scope, closest_name};
use crate::jobspec::functions::FunctionContext;
use crate::jobspec::value::Value;
use crate::jobspec::variables::InputProblem;
use crate::jobspec::{
    Diagnostic, Diagnostics, NoFiles, Position, Severity, SourceMap, VariableInputs,
};
use crate::model::{
    DriverInfo, FieldPath, MHz, Mbits, MiB, NetworkResource, Node, NodeDevice, NodeDeviceAttribute,
    NodeDeviceResource, NodeHostNetwork, NodeHostVolume, NodeNetworkAddress, NodeNetworkResource,
    NodeStatus, SchedulingEligibility, Segment,
};
use hcl::edit::Span;
use hcl::edit::structure::Structure;
use rand::SeedableRng;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

/// The largest `count` of one node block (and of one device block): more is
/// almost certainly a typo, and would only exhaust memory.
const MAX_COUNT: i64 = 100_000;

/// Top-level blocks a cluster file may hold.
const TOP_LEVEL: &[&str] = &["node", "locals", "variable", "variables"];

pub(super) fn parse(source: &str, file_name: &str) -> Result<ClusterFile, Diagnostics> {
    let map = SourceMap::new(source);
    let mut diagnostics = Vec::new();
    let located = |span: Range<usize>, path: Option<String>, message: String| Diagnostic {
        severity: Severity::Error,
        file: file_name.to_owned(),
        position: map.position(span.start),
        path,
        message,
    };

    let syntax = match hcl::edit::parser::parse_body(source) {
        Ok(body) => body,
        Err(e) => {
            let location = e.location();
            return Err(Diagnostics(vec![Diagnostic {
                severity: Severity::Error,
                file: file_name.to_owned(),
                position: Position {
                    line: location.line(),
                    column: location.column(),
                },
                path: None,
                message: format!("invalid HCL syntax: {}", e.message()),
            }]));
        }
    };

    // Functions that draw randomness (`uuidv4`) get a fixed seed: the same
    // file always gives the same cluster.
    let rng = RefCell::new(rand_chacha::ChaCha8Rng::seed_from_u64(0));
    let evaluator = Evaluator {
        source,
        functions: FunctionContext {
            files: &NoFiles,
            base_dir: "",
            rng: &rng,
        },
    };

    // Variables take their defaults (a cluster file has no inputs); locals.
    let mut input_problems = Vec::new();
    let mut declarations = evaluator.declarations(&syntax, &mut input_problems);
    let variables = evaluator.resolve_variables(
        &mut declarations,
        &VariableInputs::default(),
        &mut input_problems,
    );
    for problem in input_problems {
        match problem {
            InputProblem::InJob(e) | InputProblem::InVarFile(_, e) => {
                diagnostics.push(located(e.span, None, e.message));
            }
            InputProblem::InArgument(message) => diagnostics.push(located(0..0, None, message)),
        }
    }
    let mut scope = Scope {
        variables,
        ..Scope::default()
    };
    let mut eval_errors: Vec<EvalError> = Vec::new();
    evaluator.resolve_locals(&syntax, &mut scope, &mut eval_errors);

    // The node blocks, evaluated.
    let mut blocks = Vec::new();
    for structure in syntax.iter() {
        match structure {
            Structure::Block(block) => match block.ident.value().as_str() {
                "node" => blocks.push(Block {
                    kind: "node".into(),
                    labels: block.labels.iter().map(|l| l.as_str().to_owned()).collect(),
                    body: evaluator.eval_body(&block.body, &mut scope, &mut eval_errors),
                    span: block.ident.span().unwrap_or(0..0),
                }),
                "variable" | "variables" | "locals" => {}
                other => {
                    let message = match closest_name(other, TOP_LEVEL) {
                        Some(close) => format!(
                            "unsupported top-level block \"{other}\"; did you mean \"{close}\"?"
                        ),
                        None => format!(
                            "unsupported top-level block \"{other}\"; a cluster file holds node blocks (and variable, variables and locals blocks)"
                        ),
                    };
                    diagnostics.push(located(block.ident.span().unwrap_or(0..0), None, message));
                }
            },
            Structure::Attribute(attribute) => diagnostics.push(located(
                attribute.key.span().unwrap_or(0..0),
                None,
                format!(
                    "unexpected top-level argument \"{}\"; arguments belong inside a node block",
                    attribute.key.value()
                ),
            )),
        }
    }
    for e in eval_errors {
        diagnostics.push(located(e.span, None, e.message));
    }

    // Decode every block; all problems are collected.
    let decoder = Decoder::default();
    let specs: Vec<NodeSpec> = blocks
        .iter()
        .enumerate()
        .map(|(index, block)| decode_node(&decoder, block, index))
        .collect();
    let (problems, _) = decoder.finish();
    for problem in problems {
        let path = (!problem.path.is_empty()).then_some(problem.path);
        diagnostics.push(Diagnostic {
            severity: Severity::from_warning(problem.warning),
            ..located(problem.span, path, problem.message)
        });
    }

    // Expand counts; names must be unique across the file.
    let mut nodes = Vec::new();
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (index, spec) in specs.iter().enumerate() {
        let mut clashes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for name in spec.names() {
            match seen.get(&name) {
                Some(&earlier) => clashes.entry(earlier).or_default().push(name),
                None => {
                    seen.insert(name.clone(), index);
                    nodes.push(spec.build(name, nodes.len()));
                }
            }
        }
        for (earlier, names) in clashes {
            let at = map.position(specs[earlier].span.start);
            let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
            let (noun, verb) = if names.len() == 1 {
                ("name", "is")
            } else {
                ("names", "are")
            };
            // Reported at the later block, naming the earlier one.
            diagnostics.push(located(
                spec.span.clone(),
                Some(spec.path.to_hcl()),
                format!(
                    "node {noun} {} {verb} already used by node {:?} at {file_name}:{}:{}",
                    quoted.join(", "),
                    specs[earlier].label,
                    at.line,
                    at.column
                ),
            ));
        }
    }
    match specs.first() {
        None => diagnostics.push(located(
            0..0,
            None,
            "no nodes: a cluster file needs at least one `node \"NAME\" { ... }` block".to_owned(),
        )),
        Some(first) if specs.iter().all(|s| s.valid && s.count == Some(0)) => {
            diagnostics.push(located(
                first.span.clone(),
                None,
                "no nodes: every node block has count = 0".to_owned(),
            ));
        }
        Some(_) => {}
    }

    let mut diagnostics = Diagnostics(diagnostics);
    diagnostics.sort();
    if diagnostics.has_errors() {
        Err(diagnostics)
    } else {
        Ok(ClusterFile { nodes })
    }
}

/// What one `node` block says, before `count` expansion.
#[derive(Debug)]
struct NodeSpec {
    /// The block's label (the node name, or its prefix with `count`).
    label: String,
    /// Where the block is written.
    span: Range<usize>,
    /// Its path in diagnostics.
    path: FieldPath,
    /// `count`, when given; `None` makes one node named by the label.
    count: Option<usize>,
    /// Whether the block is usable (a bad label makes no nodes).
    valid: bool,
    /// The node with everything that does not depend on its name or position.
    template: Node,
    /// Link speed of the default interface.
    mbits: i64,
    host_networks: Vec<HostNetworkSpec>,
    network_modes: Vec<String>,
    devices: Vec<NodeDeviceResource>,
    /// Device counts, parallel to `devices`.
    device_counts: Vec<usize>,
}

#[derive(Debug)]
struct HostNetworkSpec {
    name: String,
    cidr: Option<Cidr>,
    interface: String,
    reserved_ports: String,
}

impl NodeSpec {
    /// The names of the nodes this block makes.
    fn names(&self) -> Vec<String> {
        match (self.valid, self.count) {
            (false, _) => Vec::new(),
            (true, None) => vec![self.label.clone()],
            (true, Some(n)) => (0..n).map(|i| format!("{}-{i}", self.label)).collect(),
        }
    }

    /// The node `name`, `position`-th in the file, as its client would
    /// register it.
    fn build(&self, name: String, position: usize) -> Node {
        let mut node = self.template.clone();
        node.id = node_id(&name);
        let ip = node_ip(position);

        // Fingerprinted attributes; the file's own values win.
        let mut derived: Vec<(String, String)> = vec![("unique.hostname".into(), name.clone())];
        for (driver, info) in &node.drivers {
            if info.detected {
                derived.push((format!("driver.{driver}"), "1".into()));
            }
            derived.extend(info.attributes.clone());
        }
        let resources = &node.node_resources;
        derived.push((
            "cpu.totalcompute".into(),
            resources.cpu.cpu_shares.0.to_string(),
        ));
        if resources.cpu.total_cpu_cores > 0 {
            derived.push((
                "cpu.numcores".into(),
                resources.cpu.total_cpu_cores.to_string(),
            ));
        }
        derived.push((
            "memory.totalbytes".into(),
            resources
                .memory
                .memory_mb
                .0
                .saturating_mul(1024 * 1024)
                .to_string(),
        ));
        for (key, value) in derived {
            node.attributes.entry(key).or_insert(value);
        }

        // Networks: the legacy one, the default interface, host networks.
        let resources = &mut node.node_resources;
        resources.networks = vec![NetworkResource {
            mode: "host".into(),
            device: DEFAULT_INTERFACE.into(),
            cidr: format!("{ip}/32"),
            ip: ip.to_string(),
            mbits: Some(Mbits(self.mbits)),
            ..NetworkResource::default()
        }];
        resources.node_networks = vec![default_node_network(ip, self.mbits)];
        for (index, network) in self.host_networks.iter().enumerate() {
            let address = match network.cidr {
                Some(cidr) => cidr.host(position),
                None => {
                    let [_, _, c, d] = ip.octets();
                    IpAddr::V4(Ipv4Addr::new(172, 16 + (index % 16) as u8, c, d))
                }
            };
            let entry = NodeNetworkAddress {
                family: family(&address).into(),
                alias: network.name.clone(),
                address: address.to_string(),
                reserved_ports: network.reserved_ports.clone(),
                gateway: String::new(),
            };
            match resources
                .node_networks
                .iter_mut()
                .find(|n| n.mode == "host" && n.device == network.interface)
            {
                Some(interface) => interface.addresses.push(entry),
                None => resources.node_networks.push(NodeNetworkResource {
                    mode: "host".into(),
                    device: network.interface.clone(),
                    mac_address: match address {
                        IpAddr::V4(v4) => mac_for(v4),
                        IpAddr::V6(_) => String::new(),
                    },
                    speed: Mbits(self.mbits),
                    addresses: vec![entry],
                }),
            }
        }
        for mode in &self.network_modes {
            resources.node_networks.push(NodeNetworkResource {
                mode: mode.clone(),
                ..NodeNetworkResource::default()
            });
        }

        // Devices: ids unique on the node, `<node>-<model>-<i>`.
        let mut per_model: BTreeMap<&str, usize> = BTreeMap::new();
        for (template, &count) in self.devices.iter().zip(&self.device_counts) {
            let mut group = template.clone();
            let next = per_model.entry(template.name.as_str()).or_insert(0);
            group.instances = (0..count)
                .map(|i| NodeDevice {
                    id: format!("{name}-{}-{}", group.name, *next + i),
                    healthy: true,
                    ..NodeDevice::default()
                })
                .collect();
            *next += count;
            resources.devices.push(group);
        }

        node.name = name;
        node.compute_class();
        node
    }
}

/// Decodes one `node` block. Problems go to `decoder`; the spec is always
/// returned, as complete as the block allows.
fn decode_node(decoder: &Decoder, block: &Block, index: usize) -> NodeSpec {
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

/// A whole number in `min..=max`; problems are reported at the value.
fn bounded_int(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
    min: i64,
    max: i64,
) -> Option<i64> {
    checked_number(
        reader,
        name,
        json,
        "a whole number",
        Value::as_i64,
        min,
        max,
    )
}

/// A non-negative size in MiB (`8192`, `"8GiB"`); problems are reported at
/// the value.
fn size(reader: &BlockReader<'_>, name: &'static str, json: &'static str) -> Option<i64> {
    checked_number(
        reader,
        name,
        json,
        "a size in MiB, such as 512 or \"1GiB\"",
        |value| match value {
            Value::String(text) => parse_size_mib(text),
            other => other.as_i64(),
        },
        0,
        i64::MAX,
    )
}

fn checked_number(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
    expected: &str,
    convert: impl FnOnce(&Value) -> Option<i64>,
    min: i64,
    max: i64,
) -> Option<i64> {
    let (attribute, path) = reader.attribute(name, json)?;
    if attribute.value.is_null() {
        return None;
    }
    let span = attribute.value_span.clone();
    let Some(number) = convert(&attribute.value) else {
        reader.decoder().error(
            span,
            &path,
            format!(
                "argument \"{name}\" must be {expected}, got {}",
                describe(&attribute.value)
            ),
        );
        return None;
    };
    if number < min {
        let message = if min == 0 {
            format!("argument \"{name}\" must not be negative, got {number}")
        } else {
            format!("argument \"{name}\" must be at least {min}, got {number}")
        };
        reader.decoder().error(span, &path, message);
        return None;
    }
    if number > max {
        reader.decoder().error(
            span,
            &path,
            format!("argument \"{name}\" must be at most {max}, got {number}"),
        );
        return None;
    }
    Some(number)
}

/// A port list (`"22,80,8000-8100"`) checked with the fit function's
/// parser; returns the text as written and the ports.
fn port_list(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
) -> Option<(String, BTreeSet<u16>)> {
    let (attribute, path) = reader.attribute(name, json)?;
    if attribute.value.is_null() {
        return None;
    }
    let span = attribute.value_span.clone();
    let Some(text) = attribute.value.to_hcl_string() else {
        reader.decoder().error(
            span,
            &path,
            format!(
                "argument \"{name}\" must be a list of ports such as \"22,80,8000-8100\", got {}",
                describe(&attribute.value)
            ),
        );
        return None;
    };
    match parse_port_list(&text) {
        Ok(ports) => Some((text, ports)),
        Err(e) => {
            reader
                .decoder()
                .error(span, &path, format!("argument \"{name}\": {e}"));
            None
        }
    }
}

/// `dynamic_ports = "20000-32000"`.
fn dynamic_ports(reader: &BlockReader<'_>) -> Option<(u16, u16)> {
    let (attribute, path) = reader.attribute("dynamic_ports", "DynamicPorts")?;
    let text = attribute.value.to_hcl_string().unwrap_or_default();
    let range = text.split_once('-').and_then(|(low, high)| {
        let low: u16 = low.trim().parse().ok()?;
        let high: u16 = high.trim().parse().ok()?;
        (low >= 1 && low <= high).then_some((low, high))
    });
    if range.is_none() {
        reader.decoder().error(
            attribute.value_span.clone(),
            &path,
            format!(
                "argument \"dynamic_ports\" must be a port range such as \"20000-32000\", got {}",
                describe(&attribute.value)
            ),
        );
    }
    range
}

/// A device block's `attributes = { memory = "40 GiB", cuda_cores = 6912 }`,
/// typed as Nomad's device plugins report them.
fn device_attributes(reader: &BlockReader<'_>) -> BTreeMap<String, NodeDeviceAttribute> {
    let mut out = BTreeMap::new();
    let Some((attribute, path)) = reader.attribute("attributes", "Attributes") else {
        return out;
    };
    let entries = match &attribute.value {
        Value::Object(map) => map,
        Value::Null => return out,
        other => {
            reader.decoder().error(
                attribute.value_span.clone(),
                &path,
                format!(
                    "argument \"attributes\" must be a map, got {}",
                    describe(other)
                ),
            );
            return out;
        }
    };
    for (key, value) in entries {
        let typed = match value {
            Value::Bool(b) => Some(NodeDeviceAttribute {
                bool: Some(*b),
                ..NodeDeviceAttribute::default()
            }),
            Value::Number(n) if n.is_f64() => Some(NodeDeviceAttribute {
                float: n.as_f64(),
                ..NodeDeviceAttribute::default()
            }),
            Value::Number(n) => Some(NodeDeviceAttribute {
                int: n.as_i64(),
                ..NodeDeviceAttribute::default()
            }),
            Value::String(text) => Some(parse_device_attribute(text)),
            _ => None,
        };
        match typed {
            Some(typed) => {
                out.insert(key.clone(), typed);
            }
            None => reader.decoder().error(
                attribute.value_span.clone(),
                &path.key(key),
                format!(
                    "device attribute {key:?} must be a string, number or bool, got {}",
                    describe(value)
                ),
            ),
        }
    }
    out
}

/// Units Nomad's device attributes carry (`psstructs` units).
const DEVICE_UNITS: &[&str] = &[
    "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB", "EB", "EiB", "b", "Kb",
    "Kib", "Mb", "Mib", "Gb", "Gib", "Tb", "Tib", "Pb", "Pib", "Eb", "Eib", "B/s", "KB/s", "KiB/s",
    "MB/s", "MiB/s", "GB/s", "GiB/s", "TB/s", "TiB/s", "PB/s", "PiB/s", "EB/s", "EiB/s", "b/s",
    "Kb/s", "Kib/s", "Mb/s", "Mib/s", "Gb/s", "Gib/s", "Tb/s", "Tib/s", "Pb/s", "Pib/s", "Eb/s",
    "Eib/s", "Hz", "KHz", "MHz", "GHz", "mW", "W", "kW", "MW", "GW",
];

/// Types a device attribute written as a string, as Nomad's
/// `ParseAttribute` does: a number with an optional known unit (`"40 GiB"`
/// is the int 40 in `GiB`), then a bool, else the string itself.
pub(super) fn parse_device_attribute(text: &str) -> NodeDeviceAttribute {
    let trimmed = text.trim();
    let split = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(trimmed.len(), |(i, _)| i);
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    if !number.is_empty() && (unit.is_empty() || DEVICE_UNITS.contains(&unit)) {
        if let Ok(int) = number.parse::<i64>() {
            return NodeDeviceAttribute {
                int: Some(int),
                unit: unit.to_owned(),
                ..NodeDeviceAttribute::default()
            };
        }
        if let Ok(float) = number.parse::<f64>() {
            return NodeDeviceAttribute {
                float: Some(float),
                unit: unit.to_owned(),
                ..NodeDeviceAttribute::default()
            };
        }
    }
    match trimmed {
        "true" | "false" => NodeDeviceAttribute {
            bool: Some(trimmed == "true"),
            ..NodeDeviceAttribute::default()
        },
        _ => NodeDeviceAttribute {
            string: Some(text.to_owned()),
            ..NodeDeviceAttribute::default()
        },
    }
}
