//! Reading a scenario file: the front end of cluster files (syntax with
//! spans, `variable` defaults and `locals`, evaluation), the cluster's node
//! blocks decoded and built by the cluster-file code, and each step block
//! read with a [`BlockReader`].

use super::{Scenario, Step, StepKind};
use crate::jobspec::body::{Block, Body};
use crate::jobspec::decode::reader::{BlockReader, Decoder, describe};
use crate::jobspec::eval::{EvalError, Scope, closest_name};
use crate::jobspec::value::Value;
use crate::jobspec::{Diagnostic, Diagnostics, Severity, SourceMap};
use crate::model::{Duration, FieldPath, Node};
use crate::simulate::cluster::ClusterFile;
use crate::simulate::cluster::hcl_front;
use hcl::edit::Span;
use hcl::edit::structure::Structure;
use std::collections::BTreeMap;
use std::ops::Range;

/// Top-level blocks a scenario file may hold.
const TOP_LEVEL: &[&str] = &["cluster", "step", "locals", "variable", "variables"];

/// Parses a scenario file. On failure, returns every problem found, sorted
/// by position.
pub fn parse_scenario(source: &str, file_name: &str) -> Result<Scenario, Diagnostics> {
    let source = source.strip_prefix('\u{feff}').unwrap_or(source);
    let map = SourceMap::new(source);
    let located = |span: Range<usize>, path: Option<String>, message: String| Diagnostic {
        severity: Severity::Error,
        file: file_name.to_owned(),
        position: map.position(span.start),
        path,
        message,
    };
    let mut diagnostics = Vec::new();

    let syntax = hcl_front::syntax(source, file_name)?;
    let rng = hcl_front::seeded_rng();
    let evaluator = hcl_front::evaluator(source, &rng);
    let (mut scope, mut eval_errors) =
        hcl_front::globals(&evaluator, &syntax, &located, &mut diagnostics);

    // The top level: one cluster block, the steps in order.
    let mut cluster: Option<Block> = None;
    // Each step with the whole range it is written in.
    let mut steps: Vec<(Block, Range<usize>)> = Vec::new();
    for structure in syntax.iter() {
        match structure {
            Structure::Block(block) => {
                let span = block.ident.span().unwrap_or(0..0);
                let evaluate = |scope: &mut Scope, errors: &mut Vec<EvalError>| Block {
                    kind: block.ident.value().to_string(),
                    labels: block.labels.iter().map(|l| l.as_str().to_owned()).collect(),
                    body: evaluator.eval_body(&block.body, scope, errors),
                    span: span.clone(),
                };
                match block.ident.value().as_str() {
                    "cluster" => match &cluster {
                        Some(first) => {
                            let at = map.position(first.span.start);
                            diagnostics.push(located(
                                span.clone(),
                                None,
                                format!(
                                    "only one cluster block is allowed; the first is at {file_name}:{}:{}",
                                    at.line, at.column
                                ),
                            ));
                        }
                        None => cluster = Some(evaluate(&mut scope, &mut eval_errors)),
                    },
                    "step" => steps.push((
                        evaluate(&mut scope, &mut eval_errors),
                        block.span().unwrap_or(span.clone()),
                    )),
                    "variable" | "variables" | "locals" => {}
                    "node" => diagnostics.push(located(
                        span.clone(),
                        None,
                        "node blocks belong inside the cluster block (or an add_node step): cluster { node \"NAME\" { ... } }"
                            .to_owned(),
                    )),
                    other => diagnostics.push(located(
                        span.clone(),
                        None,
                        unsupported_top_level_block(other),
                    )),
                }
            }
            Structure::Attribute(attribute) => diagnostics.push(located(
                attribute.key.span().unwrap_or(0..0),
                None,
                format!(
                    "unexpected top-level argument \"{}\"; arguments belong inside a step block",
                    attribute.key.value()
                ),
            )),
        }
    }
    // A value that failed to evaluate is left out of its body: a step with
    // such a value does not also report it missing.
    let failed_at: Vec<usize> = eval_errors.iter().map(|e| e.span.start).collect();
    for e in eval_errors {
        diagnostics.push(located(e.span, None, e.message));
    }

    // The cluster, then the steps; problems go to one decoder.
    let decoder = Decoder::default();
    let locate = |span: Range<usize>| {
        let at = map.position(span.start);
        format!("{file_name}:{}:{}", at.line, at.column)
    };
    let mut nodes = Nodes {
        decoder: &decoder,
        locate: &locate,
        taken: BTreeMap::new(),
        blocks: 0,
        built: 0,
    };
    let initial = match &cluster {
        Some(block) => read_cluster(&mut nodes, block),
        None => {
            diagnostics.push(located(
                0..0,
                None,
                "no cluster block: a scenario file needs one `cluster { node \"NAME\" { ... } }` block"
                    .to_owned(),
            ));
            Vec::new()
        }
    };
    let parsed_steps: Vec<Step> = steps
        .iter()
        .enumerate()
        .filter_map(|(index, (block, written))| {
            let quiet = failed_at.iter().any(|at| written.contains(at));
            let kind = read_step(&mut nodes, block, index, quiet)?;
            Some(Step {
                kind,
                line: map.position(block.span.start).line,
            })
        })
        .collect();

    let (problems, _) = decoder.finish();
    for problem in problems {
        let path = (!problem.path.is_empty()).then_some(problem.path);
        diagnostics.push(Diagnostic {
            severity: Severity::from_warning(problem.warning),
            ..located(problem.span, path, problem.message)
        });
    }
    let mut diagnostics = Diagnostics(diagnostics);
    diagnostics.sort();
    if diagnostics.has_errors() {
        Err(diagnostics)
    } else {
        Ok(Scenario {
            nodes: initial,
            steps: parsed_steps,
        })
    }
}

fn unsupported_top_level_block(kind: &str) -> String {
    match closest_name(kind, TOP_LEVEL) {
        Some(close) => format!("unsupported top-level block \"{kind}\"; did you mean \"{close}\"?"),
        None => format!(
            "unsupported top-level block \"{kind}\"; a scenario file holds a cluster block and step blocks (and variable, variables and locals blocks)"
        ),
    }
}

/// The nodes made so far, across the cluster and `add_node` steps: names
/// are unique and every node gets the next position (so the next address).
struct Nodes<'a> {
    decoder: &'a Decoder,
    locate: &'a dyn Fn(Range<usize>) -> String,
    /// Every node name made so far, with the label and span of its block.
    taken: BTreeMap<String, (String, Range<usize>)>,
    /// Node blocks read so far (for their paths).
    blocks: usize,
    /// Nodes built so far (the next node's position).
    built: usize,
}

impl Nodes<'_> {
    /// Decodes and builds `blocks`, the node blocks of one cluster block or
    /// `add_node` step.
    fn add(&mut self, blocks: &[&Block]) -> Vec<Node> {
        let nodes = ClusterFile::embedded_nodes(
            self.decoder,
            blocks,
            self.blocks,
            self.built,
            &mut self.taken,
            self.locate,
        );
        self.blocks += blocks.len();
        self.built += nodes.len();
        nodes
    }

    /// The existing node names closest to `name`, for a did-you-mean.
    fn closest(&self, name: &str) -> Option<String> {
        let names: Vec<&str> = self.taken.keys().map(String::as_str).collect();
        closest_name(name, &names).map(str::to_owned)
    }
}

/// The node blocks of a body; anything else is reported.
fn node_blocks<'b>(
    decoder: &Decoder,
    body: &'b Body,
    path: &FieldPath,
    what: &str,
) -> Vec<&'b Block> {
    for attribute in &body.attributes {
        decoder.error(
            attribute.name_span.clone(),
            path,
            format!(
                "unsupported argument \"{}\" in {what}; arguments belong inside a node block",
                attribute.name
            ),
        );
    }
    let mut blocks = Vec::new();
    for block in &body.blocks {
        if block.kind == "node" {
            blocks.push(block);
        } else {
            let hint = closest_name(&block.kind, &["node"])
                .map(|c| format!("; did you mean \"{c}\"?"))
                .unwrap_or_else(|| format!("; {what} holds node blocks"));
            decoder.error(
                block.span.clone(),
                path,
                format!("unsupported block type \"{}\"{hint}", block.kind),
            );
        }
    }
    blocks
}

fn read_cluster(nodes: &mut Nodes<'_>, block: &Block) -> Vec<Node> {
    let path = FieldPath(Vec::new()).field("cluster", "Cluster");
    if !block.labels.is_empty() {
        nodes.decoder.error(
            block.span.clone(),
            &path,
            format!("the cluster block takes no labels, got {:?}", block.labels),
        );
    }
    let blocks = node_blocks(nodes.decoder, &block.body, &path, "the cluster block");
    let built = nodes.add(&blocks);
    if built.is_empty() && labels_ok(&blocks) {
        let message = if blocks.is_empty() {
            "no nodes: the cluster block needs at least one `node \"NAME\" { ... }` block"
        } else {
            "no nodes: every node block has count = 0"
        };
        nodes.decoder.error(block.span.clone(), &path, message);
    }
    built
}

/// Whether making no nodes is worth its own error: not when a node block
/// has a bad label (which is reported already).
fn labels_ok(blocks: &[&Block]) -> bool {
    blocks
        .iter()
        .all(|b| b.labels.len() == 1 && !b.label().trim().is_empty())
}

/// Reads one step block; `None` when it is unusable (reported). `quiet`
/// when a value in it failed to evaluate: missing arguments are then not
/// reported.
fn read_step(nodes: &mut Nodes<'_>, block: &Block, index: usize, quiet: bool) -> Option<StepKind> {
    let decoder = nodes.decoder;
    let label = block.label();
    let path = FieldPath(Vec::new()).labeled("step", "Steps", label, Some(index));
    match block.labels.len() {
        1 => {}
        0 => {
            decoder.error(
                block.span.clone(),
                &path,
                format!(
                    "a step block needs its kind as its one label: step \"KIND\" {{ ... }}, where KIND is one of {}",
                    StepKind::NAMES.join(", ")
                ),
            );
            return None;
        }
        n => {
            decoder.error(
                block.span.clone(),
                &path,
                format!("a step block takes exactly one label (its kind), got {n}"),
            );
            return None;
        }
    }
    if label.trim().is_empty() {
        decoder.error(
            block.span.clone(),
            &path,
            format!(
                "a step's kind must not be empty; it is one of {}",
                StepKind::NAMES.join(", ")
            ),
        );
        return None;
    }
    let reader = BlockReader::new(decoder, &block.body, path.clone(), block.span.clone());
    let kind = match label {
        "register" => {
            let job_path = required_string(&reader, quiet, "job", "Job");
            let check_index = check_index(&reader);
            job_path.map(|job_path| StepKind::Register {
                job_path,
                check_index,
            })
        }
        "plan" => required_string(&reader, quiet, "job", "Job")
            .map(|job_path| StepKind::Plan { job_path }),
        "healthy" => {
            required_string(&reader, quiet, "job", "Job").map(|job| StepKind::Healthy { job })
        }
        "unhealthy" => {
            required_string(&reader, quiet, "job", "Job").map(|job| StepKind::Unhealthy { job })
        }
        "promote" => {
            required_string(&reader, quiet, "job", "Job").map(|job| StepKind::Promote { job })
        }
        "stop" => {
            let job = required_string(&reader, quiet, "job", "Job");
            let purge = reader.bool("purge", "Purge").unwrap_or(false);
            job.map(|job| StepKind::Stop { job, purge })
        }
        "fail" => {
            required_string(&reader, quiet, "alloc", "Alloc").map(|alloc| StepKind::Fail { alloc })
        }
        "node_down" => existing_node(nodes, &reader, quiet).map(|node| StepKind::NodeDown { node }),
        "node_up" => existing_node(nodes, &reader, quiet).map(|node| StepKind::NodeUp { node }),
        "drain" => {
            let node = existing_node(nodes, &reader, quiet);
            let deadline = duration(&reader, "deadline", "Deadline");
            let ignore_system_jobs = reader
                .bool("ignore_system_jobs", "IgnoreSystemJobs")
                .unwrap_or(false);
            node.map(|node| StepKind::Drain {
                node,
                deadline,
                ignore_system_jobs,
            })
        }
        "add_node" => {
            let blocks = node_blocks(decoder, &block.body, &path, "an add_node step");
            // Every key is reported by node_blocks.
            reader.accept_everything();
            let added = nodes.add(&blocks);
            if added.is_empty() && labels_ok(&blocks) {
                let message = if blocks.is_empty() {
                    "an add_node step needs at least one `node \"NAME\" { ... }` block"
                } else {
                    "an add_node step must add nodes; every node block has count = 0"
                };
                decoder.error(block.span.clone(), &path, message);
            }
            Some(StepKind::AddNode { nodes: added })
        }
        "advance" => {
            match duration(&reader, "duration", "Duration") {
                Some(d) if d.is_zero() => {
                    reader.error("step \"advance\": argument \"duration\" must be more than zero");
                    None
                }
                Some(d) => Some(StepKind::Advance { duration: d }),
                None => {
                    if !quiet && !reader.has("duration") {
                        reader.error("step \"advance\" needs argument \"duration\", such as duration = \"30s\"");
                    }
                    None
                }
            }
        }
        other => {
            let hint = closest_name(other, StepKind::NAMES)
                .map(|c| format!("did you mean \"{c}\"? "))
                .unwrap_or_default();
            decoder.error(
                block.span.clone(),
                &path,
                format!(
                    "unknown step kind \"{other}\"; {hint}valid kinds are {}",
                    StepKind::NAMES.join(", ")
                ),
            );
            // Its arguments mean nothing: do not report them as well.
            reader.accept_everything();
            None
        }
    };
    reader.finish(&[]);
    kind
}

/// A required, non-empty string argument.
fn required_string(
    reader: &BlockReader<'_>,
    quiet: bool,
    name: &'static str,
    json: &'static str,
) -> Option<String> {
    let step = step_kind(reader);
    // Read even when absent: the name is then offered for a misspelt key.
    let value = reader.string(name, json);
    if !reader.has(name) {
        if !quiet {
            reader.error(format!("step \"{step}\" needs argument \"{name}\""));
        }
        return None;
    }
    let value = value?;
    if value.trim().is_empty() {
        let (attribute, path) = reader.attribute(name, json)?;
        reader.decoder().error(
            attribute.value_span.clone(),
            &path,
            format!("argument \"{name}\" of step \"{step}\" must not be empty"),
        );
        return None;
    }
    Some(value)
}

/// The kind of the step a reader reads (its path's label).
fn step_kind(reader: &BlockReader<'_>) -> String {
    match reader.path().0.first() {
        Some(crate::model::Segment::Labeled { label, .. }) => label.clone(),
        _ => String::new(),
    }
}

/// `node = "NAME"`, naming a node that exists at this step.
fn existing_node(nodes: &Nodes<'_>, reader: &BlockReader<'_>, quiet: bool) -> Option<String> {
    let name = required_string(reader, quiet, "node", "Node")?;
    if nodes.taken.contains_key(&name) {
        return Some(name);
    }
    let (attribute, path) = reader.attribute("node", "Node")?;
    let hint = nodes
        .closest(&name)
        .map(|c| format!("; did you mean {c:?}?"))
        .unwrap_or_default();
    reader.decoder().error(
        attribute.value_span.clone(),
        &path,
        format!("no node named {name:?} in the cluster or added by an earlier step{hint}"),
    );
    None
}

/// `check_index = N`, a whole number, not negative.
fn check_index(reader: &BlockReader<'_>) -> Option<u64> {
    let value = reader.int("check_index", "CheckIndex")?;
    match u64::try_from(value) {
        Ok(index) => Some(index),
        Err(_) => {
            let (attribute, path) = reader.attribute("check_index", "CheckIndex")?;
            reader.decoder().error(
                attribute.value_span.clone(),
                &path,
                format!("argument \"check_index\" must not be negative, got {value}"),
            );
            None
        }
    }
}

/// A duration argument: a Go duration string, not negative. A bare number
/// is rejected: it would mean nanoseconds, which nobody means here.
fn duration(reader: &BlockReader<'_>, name: &'static str, json: &'static str) -> Option<Duration> {
    let (attribute, path) = reader.attribute(name, json)?;
    let problem = match &attribute.value {
        Value::Null => return None,
        Value::String(text) => match Duration::parse(text.trim()) {
            Ok(d) if d.as_nanos() < 0 => {
                format!("argument \"{name}\" must not be negative, got {text:?}")
            }
            Ok(d) => return Some(d),
            Err(e) => format!("argument \"{name}\": {e}"),
        },
        other => format!(
            "argument \"{name}\" must be a duration string such as \"30s\" or \"1h30m\", got {}",
            describe(other)
        ),
    };
    reader
        .decoder()
        .error(attribute.value_span.clone(), &path, problem);
    None
}
