//! What a simulation shows: placements per node, utilisation per node and
//! dimension, and failures with explanations; as Nomad-style JSON or as
//! aligned text tables.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::run::Simulation;
use crate::feasibility::fit::NodeCapacity;
use crate::model::{AllocMetric, Allocation, Node};
use crate::scheduler::name_index;
use crate::state::StateSnapshot;

/// The simulation's outcome, serialised as
/// `{"Allocations": [...], "FailedTGAllocs": {...}, "Nodes": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SimulationReport {
    /// Live allocations, by job, group and index.
    pub allocations: Vec<AllocationRow>,
    /// Failed placements per `"JOB/GROUP"`, with Nomad's metric names and
    /// an `Explanation`.
    #[serde(rename = "FailedTGAllocs")]
    pub failed_tg_allocs: BTreeMap<String, AllocMetric>,
    /// Every node with what it holds, in name order.
    pub nodes: Vec<NodeRow>,
}

/// One placed allocation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocationRow {
    /// Allocation id.
    #[serde(rename = "ID")]
    pub id: String,
    /// `job.group[i]`.
    pub name: String,
    /// The job.
    #[serde(rename = "JobID")]
    pub job_id: String,
    /// The task group.
    pub task_group: String,
    /// The node's id.
    #[serde(rename = "NodeID")]
    pub node_id: String,
    /// The node's name.
    pub node_name: String,
    /// CPU shares given (MHz).
    #[serde(rename = "CPU")]
    pub cpu: i64,
    /// Memory given (MiB).
    #[serde(rename = "MemoryMB")]
    pub memory_mb: i64,
    /// Disk given (MiB).
    #[serde(rename = "DiskMB")]
    pub disk_mb: i64,
    /// Host ports, `label=port`.
    pub ports: Vec<String>,
    /// Device instances given.
    pub devices: Vec<String>,
    /// The final score of the chosen node.
    pub score: Option<f64>,
}

/// Used and total of one dimension of a node (total is capacity less the
/// node's reserved resources).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Dimension {
    /// Held by allocations.
    pub used: i64,
    /// Schedulable capacity.
    pub total: i64,
}

impl Dimension {
    fn percent(&self) -> String {
        if self.total <= 0 {
            "-".to_owned()
        } else {
            format!("{:.0}%", self.used as f64 * 100.0 / self.total as f64)
        }
    }
}

/// One node and its utilisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeRow {
    /// Node id.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub name: String,
    /// Datacenter.
    pub datacenter: String,
    /// Node class.
    pub node_class: String,
    /// Node pool.
    pub node_pool: String,
    /// Live allocations on the node.
    pub allocations: u32,
    /// CPU (MHz).
    #[serde(rename = "CPU")]
    pub cpu: Dimension,
    /// Memory (MiB).
    #[serde(rename = "MemoryMB")]
    pub memory_mb: Dimension,
    /// Disk (MiB).
    #[serde(rename = "DiskMB")]
    pub disk_mb: Dimension,
    /// Device instances (healthy ones count towards the total).
    pub devices: Dimension,
}

impl SimulationReport {
    /// The report of a simulation's current state.
    pub fn of(simulation: &Simulation) -> Self {
        let state = simulation.state().view();
        let mut allocations: Vec<&Allocation> = state
            .nodes()
            .flat_map(|node| state.allocs_by_node(&node.id))
            .filter(|alloc| !alloc.is_terminal())
            .collect();
        allocations.sort_by(|a, b| {
            (
                a.job_id.as_str(),
                &a.task_group,
                name_index(&a.name),
                a.id.as_str(),
            )
                .cmp(&(
                    b.job_id.as_str(),
                    &b.task_group,
                    name_index(&b.name),
                    b.id.as_str(),
                ))
        });
        let allocations = allocations.into_iter().map(allocation_row).collect();
        let mut nodes: Vec<NodeRow> = state.nodes().map(|node| node_row(state, node)).collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        SimulationReport {
            allocations,
            failed_tg_allocs: simulation.failures(),
            nodes,
        }
    }

    /// Aligned text tables: placements, node utilisation, failures.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Placements");
        let rows: Vec<Vec<String>> = self
            .allocations
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.node_name.clone(),
                    a.cpu.to_string(),
                    a.memory_mb.to_string(),
                    a.disk_mb.to_string(),
                    if a.ports.is_empty() {
                        "-".to_owned()
                    } else {
                        a.ports.join(",")
                    },
                    a.score
                        .map_or_else(|| "-".to_owned(), |s| format!("{s:.3}")),
                ]
            })
            .collect();
        table(
            &mut out,
            &["Name", "Node", "CPU", "Memory", "Disk", "Ports", "Score"],
            &rows,
        );
        let _ = writeln!(out, "\nNodes");
        let rows: Vec<Vec<String>> = self
            .nodes
            .iter()
            .map(|n| {
                let dim = |d: &Dimension| format!("{}/{} ({})", d.used, d.total, d.percent());
                vec![
                    n.name.clone(),
                    n.datacenter.clone(),
                    if n.node_class.is_empty() {
                        "-".to_owned()
                    } else {
                        n.node_class.clone()
                    },
                    n.allocations.to_string(),
                    dim(&n.cpu),
                    dim(&n.memory_mb),
                    dim(&n.disk_mb),
                    if n.devices.total == 0 {
                        "-".to_owned()
                    } else {
                        format!("{}/{}", n.devices.used, n.devices.total)
                    },
                ]
            })
            .collect();
        table(
            &mut out,
            &[
                "Name",
                "DC",
                "Class",
                "Allocs",
                "CPU MHz",
                "Memory MiB",
                "Disk MiB",
                "Devices",
            ],
            &rows,
        );
        if self.failed_tg_allocs.is_empty() {
            let _ = writeln!(out, "\nAll placements succeeded.");
        } else {
            let _ = writeln!(out, "\nPlacement failures");
            for (key, metric) in &self.failed_tg_allocs {
                let unplaced = metric.coalesced_failures + 1;
                let _ = writeln!(out, "  {key}: {unplaced} unplaced");
                let _ = writeln!(out, "    {}", metric.explanation);
            }
        }
        out
    }
}

fn allocation_row(alloc: &Allocation) -> AllocationRow {
    let resources = &alloc.allocated_resources;
    let mut ports: Vec<String> = resources
        .shared
        .ports
        .iter()
        .map(|p| format!("{}={}", p.label, p.value))
        .collect();
    for network in resources.tasks.values().flat_map(|t| &t.networks) {
        ports.extend(network.ports().map(|p| format!("{}={}", p.label, p.value)));
    }
    let devices = resources
        .tasks
        .values()
        .flat_map(|t| &t.devices)
        .flat_map(|d| d.device_ids.iter().cloned())
        .collect();
    AllocationRow {
        id: alloc.id.as_str().to_owned(),
        name: alloc.name.clone(),
        job_id: alloc.job_id.as_str().to_owned(),
        task_group: alloc.task_group.clone(),
        node_id: alloc.node_id.as_str().to_owned(),
        node_name: alloc.node_name.clone(),
        cpu: resources.tasks.values().map(|t| t.cpu.cpu_shares.0).sum(),
        memory_mb: resources.tasks.values().map(|t| t.memory.memory_mb.0).sum(),
        disk_mb: resources.shared.disk_mb.0,
        ports,
        devices,
        score: alloc.metrics.score_meta_data.first().map(|s| s.norm_score),
    }
}

fn node_row(state: &dyn StateSnapshot, node: &Node) -> NodeRow {
    let live: Vec<&Allocation> = state
        .allocs_by_node(&node.id)
        .filter(|a| !a.is_terminal())
        .collect();
    let usage = state.node_usage(node);
    let capacity = NodeCapacity::of(node);
    NodeRow {
        id: node.id.as_str().to_owned(),
        name: node.name.clone(),
        datacenter: node.datacenter.clone(),
        node_class: node.node_class.clone(),
        node_pool: node.node_pool.clone(),
        allocations: u32::try_from(live.len()).unwrap_or(u32::MAX),
        cpu: Dimension {
            used: usage.cpu.0,
            total: capacity.cpu.0,
        },
        memory_mb: Dimension {
            used: usage.memory.0,
            total: capacity.memory.0,
        },
        disk_mb: Dimension {
            used: usage.disk.0,
            total: capacity.disk.0,
        },
        devices: Dimension {
            used: i64::try_from(usage.devices.len()).unwrap_or(i64::MAX),
            total: node
                .node_resources
                .devices
                .iter()
                .map(|d| i64::try_from(d.healthy_count()).unwrap_or(0))
                .sum(),
        },
    }
}

/// Writes a left-aligned table with two spaces between columns.
fn table(out: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |out: &mut String, cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            if i + 1 < cells.len() {
                text.push_str(&" ".repeat(width - cell.chars().count()));
            }
        }
        let _ = writeln!(out, "{}", text.trim_end());
    };
    line(out, header.to_vec());
    for row in rows {
        line(out, row.iter().map(String::as_str).collect());
    }
}
