//! HCL cluster files: `node` blocks read with the job-spec machinery.
//!
//! The text goes through the same steps as a job file (syntax with spans,
//! `variable` defaults and `locals`, evaluation), then each `node` block is
//! decoded with a [`BlockReader`](crate::jobspec::decode::reader::BlockReader)
//! into a [`NodeSpec`]: everything the file says about the block's nodes
//! (the `decode` module, with checked arguments from `args` and device
//! attributes from `device`). [`NodeSpec::build`] then makes one node per
//! `count`, adding what a client would fingerprint (ids, addresses,
//! attributes, device ids, the computed class).

use super::{
    Cidr, ClusterFile, DEFAULT_INTERFACE, default_node_network, family, mac_for, node_id, node_ip,
};
use crate::jobspec::body::Block;
use crate::jobspec::decode::reader::Decoder;
use crate::jobspec::eval::closest_name;
use crate::jobspec::{Diagnostic, Diagnostics, Severity, SourceMap};
use crate::model::{
    FieldPath, Mbits, NetworkResource, Node, NodeDevice, NodeDeviceResource, NodeNetworkAddress,
    NodeNetworkResource,
};
use hcl::edit::Span;
use hcl::edit::structure::Structure;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;

mod args;
mod decode;
mod device;
pub(crate) mod front;

use front::{evaluator, globals, seeded_rng, syntax};

use decode::decode_node;
#[cfg(test)]
pub(super) use device::parse_device_attribute;

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

    let syntax = syntax(source, file_name)?;
    let rng = seeded_rng();
    let evaluator = evaluator(source, &rng);
    let (mut scope, mut eval_errors) = globals(&evaluator, &syntax, &located, &mut diagnostics);

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

impl ClusterFile {
    /// Decodes evaluated `node` blocks embedded in another kind of file
    /// (scenario files) and builds their nodes exactly as a cluster file
    /// would. The first block is the `first_index`-th node block of its file
    /// (for paths) and the first node gets position `first_position` (for
    /// addresses). `taken` maps every node name already used to the label
    /// and span of the block that made it, and gets the new names; a name
    /// used again is an error reported to `decoder` at the later block,
    /// with `locate` rendering where the earlier block is written.
    pub(crate) fn embedded_nodes(
        decoder: &Decoder,
        blocks: &[&Block],
        first_index: usize,
        first_position: usize,
        taken: &mut BTreeMap<String, (String, Range<usize>)>,
        locate: &dyn Fn(Range<usize>) -> String,
    ) -> Vec<Node> {
        let mut nodes = Vec::new();
        for (index, block) in blocks.iter().enumerate() {
            let spec = decode_node(decoder, block, first_index + index);
            let mut clashes: BTreeMap<(usize, String), Vec<String>> = BTreeMap::new();
            for name in spec.names() {
                match taken.get(&name) {
                    Some((label, span)) => clashes
                        .entry((span.start, label.clone()))
                        .or_default()
                        .push(name),
                    None => {
                        taken.insert(name.clone(), (spec.label.clone(), spec.span.clone()));
                        nodes.push(spec.build(name, first_position + nodes.len()));
                    }
                }
            }
            for ((start, label), names) in clashes {
                let quoted: Vec<String> = names.iter().map(|n| format!("{n:?}")).collect();
                let (noun, verb) = if names.len() == 1 {
                    ("name", "is")
                } else {
                    ("names", "are")
                };
                decoder.error(
                    spec.span.clone(),
                    &spec.path,
                    format!(
                        "node {noun} {} {verb} already used by node {label:?} at {}",
                        quoted.join(", "),
                        locate(start..start)
                    ),
                );
            }
        }
        nodes
    }
}
