//! JSON cluster files: a list of nodes as Nomad's `GET /v1/node/:id`
//! returns them.
//!
//! Nodes are taken as written, with what an API dump may leave out filled
//! in: a missing `ID` is derived from the name ([`node_id`]), a missing
//! `Status` is `ready`, an empty `Datacenter` or `NodePool` gets the default,
//! an unset dynamic port range gets Nomad's, and `ComputedClass` is always
//! recomputed (classes are ours, not Nomad's).

use super::{ClusterFile, DEFAULT_DATACENTER, DEFAULT_DYNAMIC_PORTS, DEFAULT_NODE_POOL, node_id};
use crate::jobspec::{Diagnostic, Diagnostics, Position, Severity, SourceMap};
use crate::model::{Node, NodeStatus};
use std::collections::BTreeMap;

pub(super) fn parse(source: &str, file_name: &str) -> Result<ClusterFile, Diagnostics> {
    let error = |position: Position, path: Option<String>, message: String| Diagnostic {
        severity: Severity::Error,
        file: file_name.to_owned(),
        position,
        path,
        message,
    };
    // serde_json reports column 0 for an error before the first character.
    let at = |line: usize, column: usize| Position {
        line: line.max(1),
        column: column.max(1),
    };

    let mut deserializer = serde_json::Deserializer::from_str(source);
    let typed: Result<Vec<Node>, _> = serde_path_to_error::deserialize(&mut deserializer);
    let mut nodes = typed.map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let (line, column) = (inner.line(), inner.column());
        let text = inner.to_string();
        let text = text
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&text);
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("invalid JSON: {text}")
        } else if path == "." {
            format!(
                "{text}; a JSON cluster file holds a list of nodes as the Nomad API returns them"
            )
        } else {
            text.to_owned()
        };
        let path = (path != ".").then_some(path);
        Diagnostics(vec![error(at(line, column), path, message)])
    })?;
    deserializer.end().map_err(|e| {
        let (line, column) = (e.line(), e.column());
        let text = e.to_string();
        let text = text
            .strip_suffix(&format!(" at line {line} column {column}"))
            .unwrap_or(&text);
        Diagnostics(vec![error(
            at(line, column),
            None,
            format!("invalid JSON: {text}"),
        )])
    })?;
    // Which fields each node wrote, to tell "absent" from a zero value.
    let written: Vec<BTreeMap<String, serde::de::IgnoredAny>> =
        serde_json::from_str(source).unwrap_or_default();

    let map = SourceMap::new(source);
    let starts = element_starts(source);
    let position_of = |index: usize| {
        starts
            .get(index)
            .map_or(at(1, 1), |&offset| map.position(offset))
    };

    let mut diagnostics = Vec::new();
    let mut names: BTreeMap<String, usize> = BTreeMap::new();
    let mut ids: BTreeMap<String, usize> = BTreeMap::new();
    for (index, node) in nodes.iter_mut().enumerate() {
        let has = |field: &str| written.get(index).is_some_and(|w| w.contains_key(field));
        if node.name.trim().is_empty() {
            diagnostics.push(error(
                position_of(index),
                Some(format!("[{index}].Name")),
                "a node needs a Name".to_owned(),
            ));
            continue;
        }
        if node.id.is_empty() {
            node.id = node_id(&node.name);
        }
        if !has("Status") {
            node.status = NodeStatus::Ready;
        }
        if node.datacenter.is_empty() {
            node.datacenter = DEFAULT_DATACENTER.to_owned();
        }
        if node.node_pool.is_empty() {
            node.node_pool = DEFAULT_NODE_POOL.to_owned();
        }
        let resources = &mut node.node_resources;
        if resources.min_dynamic_port == 0 && resources.max_dynamic_port == 0 {
            (resources.min_dynamic_port, resources.max_dynamic_port) = DEFAULT_DYNAMIC_PORTS;
        }
        node.compute_class();

        for (seen, key, field, what) in [
            (&mut names, node.name.clone(), "Name", "name"),
            (&mut ids, node.id.as_str().to_owned(), "ID", "ID"),
        ] {
            if let Some(&earlier) = seen.get(&key) {
                let first = position_of(earlier);
                diagnostics.push(error(
                    position_of(index),
                    Some(format!("[{index}].{field}")),
                    format!(
                        "duplicate node {what} {key:?}: already used by node [{earlier}] at {file_name}:{}:{}",
                        first.line, first.column
                    ),
                ));
            } else {
                seen.insert(key, index);
            }
        }
    }
    if nodes.is_empty() {
        diagnostics.push(error(
            at(1, 1),
            None,
            "no nodes: the JSON cluster file holds an empty list".to_owned(),
        ));
    }
    if diagnostics.is_empty() {
        Ok(ClusterFile { nodes })
    } else {
        let mut diagnostics = Diagnostics(diagnostics);
        diagnostics.sort();
        Err(diagnostics)
    }
}

/// Byte offsets of the elements of the top-level JSON array in `source`
/// (which is known to be valid JSON).
fn element_starts(source: &str) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut expecting = false;
    for (offset, c) in source.char_indices() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        if expecting && !c.is_whitespace() && c != ']' {
            starts.push(offset);
            expecting = false;
        }
        match c {
            '"' => in_string = true,
            '[' | '{' => {
                depth += 1;
                if depth == 1 {
                    expecting = true;
                }
            }
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                expecting = false;
            }
            ',' if depth == 1 => expecting = true,
            _ => {}
        }
    }
    starts
}
