//! Unit tests for ranking, with hand-computed numbers. Helpers build just
//! the parts of nodes, jobs and groups that ranking reads.

mod affinity;
mod fit_score;
mod penalty;
mod score_card;
mod spread;

use std::collections::BTreeMap;

use crate::model::{Affinity, MHz, MiB, Node, NodeId, Spread, SpreadTarget, Task, TaskGroup};

/// Scores are compared to this tolerance: the expected values are written
/// to 16 digits, and the portable `pow10` may differ from them in the last
/// place.
const EPSILON: f64 = 1e-12;

#[track_caller]
fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < EPSILON,
        "expected {expected}, got {actual}"
    );
}

#[track_caller]
fn assert_close_opt(actual: Option<f64>, expected: Option<f64>) {
    match (actual, expected) {
        (Some(actual), Some(expected)) => assert_close(actual, expected),
        (None, None) => {}
        _ => panic!("expected {expected:?}, got {actual:?}"),
    }
}

/// A node with capacity and reservations (MHz, MiB).
fn sized_node(cpu: i64, memory: i64, reserved_cpu: i64, reserved_memory: i64) -> Node {
    let mut node = Node::default();
    node.node_resources.cpu.cpu_shares = MHz(cpu);
    node.node_resources.memory.memory_mb = MiB(memory);
    node.reserved_resources.cpu.cpu_shares = MHz(reserved_cpu);
    node.reserved_resources.memory.memory_mb = MiB(reserved_memory);
    node
}

/// A node in datacenter `dc` with the given `meta` and `attr` entries.
fn placed_node(id: &str, dc: &str, meta: &[(&str, &str)], attributes: &[(&str, &str)]) -> Node {
    let to_map = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
            .collect()
    };
    Node {
        id: NodeId::new(id),
        name: id.to_owned(),
        datacenter: dc.to_owned(),
        meta: to_map(meta),
        attributes: to_map(attributes),
        ..Node::default()
    }
}

fn affinity(l_target: &str, operand: &str, r_target: &str, weight: Option<i8>) -> Affinity {
    Affinity {
        l_target: l_target.to_owned(),
        operand: operand.to_owned(),
        r_target: r_target.to_owned(),
        weight,
    }
}

fn spread(attribute: &str, weight: i8, targets: &[(&str, u8)]) -> Spread {
    Spread {
        attribute: attribute.to_owned(),
        weight: Some(weight),
        spread_target: targets
            .iter()
            .map(|(value, percent)| SpreadTarget {
                value: (*value).to_owned(),
                percent: *percent,
            })
            .collect(),
    }
}

fn group(count: i64) -> TaskGroup {
    TaskGroup {
        name: "web".to_owned(),
        count: Some(count),
        tasks: vec![Task {
            name: "server".to_owned(),
            ..Task::default()
        }],
        ..TaskGroup::default()
    }
}
