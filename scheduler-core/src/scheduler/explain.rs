//! Explanations: a one-line account of a failed placement, and the exact
//! reasons one node cannot (or can) take one task group.
//!
//! Nomad's metrics count only the first failing constraint per node; ours
//! count every failing check (see [`feasible`](super::feasible)), so the
//! explanation can name everything that stands in the way.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::candidates::{BaseCounts, base_rejection, job_pool};
use super::feasible::GroupFeasibility;
use super::proposed::{PlacementRules, Proposed};
use super::select::{GroupPlacer, NodeAttempt};
use crate::feasibility::devices::{DeviceRequestMatcher, assign_devices, group_device_matchers};
use crate::feasibility::fit::{ResourceAsk, fit};
use crate::feasibility::network::assign_ports;
use crate::model::{AllocMetric, Job, NodeId, TaskGroup};
use crate::state::StateSnapshot;

/// Renders `count × key` pairs, largest count first, ties by key.
fn tally<'a>(entries: impl Iterator<Item = (&'a String, &'a u32)>) -> String {
    let mut entries: Vec<(&String, &u32)> = entries.filter(|(_, n)| **n > 0).collect();
    entries.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    entries
        .iter()
        .map(|(key, count)| format!("{count} × {key}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One line saying why `group` could not be placed, from its metric.
pub fn explain_failure(
    metric: &AllocMetric,
    left_out: &BaseCounts,
    group: &TaskGroup,
    job: &Job,
) -> String {
    let mut parts = Vec::new();
    if metric.nodes_evaluated == 0 {
        let datacenters = if job.datacenters.is_empty() {
            "any datacenter".to_owned()
        } else {
            format!("datacenters {:?}", job.datacenters)
        };
        parts.push(format!(
            "no ready, eligible node in {datacenters} and node pool {:?}",
            job_pool(job)
        ));
    } else {
        parts.push(format!("{} nodes evaluated", metric.nodes_evaluated));
        if metric.nodes_filtered > 0 {
            parts.push(format!(
                "{} filtered ({})",
                metric.nodes_filtered,
                tally(metric.constraint_filtered.iter())
            ));
        }
        if metric.nodes_exhausted > 0 {
            parts.push(format!(
                "{} exhausted ({})",
                metric.nodes_exhausted,
                tally(metric.dimension_exhausted.iter())
            ));
        }
    }
    let left = left_out.phrases();
    if !left.is_empty() {
        parts.push(format!("not considered: {}", left.join(", ")));
    }
    format!(
        "no node can run group {:?} of job {:?}: {}",
        group.name,
        job.id.as_str(),
        parts.join("; ")
    )
}

/// Whether and why one node can take one allocation of a group.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NodeVerdict {
    /// The node.
    #[serde(rename = "NodeID")]
    pub node_id: NodeId,
    /// Its name.
    pub node_name: String,
    /// Whether an allocation of the group could be placed there now.
    pub placeable: bool,
    /// Every reason it cannot, each a full sentence fragment
    /// (`constraint ${attr.kernel.name} = linux: "darwin" does not equal
    /// "linux"`, `memory exhausted: asked 512 MiB, 256 MiB free`); empty when
    /// placeable.
    pub reasons: Vec<String>,
    /// When placeable, the score components and the final score.
    pub scores: Vec<(String, f64)>,
    /// The final (normalised) score when placeable.
    pub score: Option<f64>,
}

/// Why the node can or cannot take an allocation of `group_name` of `job`,
/// against the allocations in `snapshot`: every reason, not only the
/// first. `Err` when the group or node does not exist.
pub fn why_not(
    snapshot: &dyn StateSnapshot,
    job: &Job,
    group_name: &str,
    node_id: &NodeId,
) -> Result<NodeVerdict, String> {
    let group = job
        .task_groups
        .iter()
        .find(|g| g.name == group_name)
        .ok_or_else(|| format!("job {:?} has no group {group_name:?}", job.id.as_str()))?;
    let node = snapshot
        .node(node_id)
        .ok_or_else(|| format!("no node with id {:?}", node_id.as_str()))?;
    let mut verdict = NodeVerdict {
        node_id: node.id.clone(),
        node_name: node.name.clone(),
        ..NodeVerdict::default()
    };
    if let Some(reason) = base_rejection(job, node) {
        verdict.reasons.push(reason);
    }
    let mut feasibility = GroupFeasibility::new(job, group);
    for filter in feasibility.check(node).iter() {
        let reason = if filter.key.starts_with("missing ") {
            format!("{}: {}", filter.key, filter.detail)
        } else {
            format!("constraint {}: {}", filter.key, filter.detail)
        };
        verdict.reasons.push(reason);
    }
    let mut proposed = Proposed::new(snapshot, job);
    let rules = PlacementRules::new(snapshot, job, group, &proposed);
    for (key, detail) in rules.check(node, &group.name, &proposed) {
        verdict.reasons.push(format!("{key}: {detail}"));
    }
    let usage = proposed.usage(node).clone();
    let ask = ResourceAsk::for_group(group);
    if let Err(exhausted) = fit(node, &usage, &ask) {
        verdict.reasons.push(exhausted.to_string());
    }
    let devices = group_device_matchers(group);
    let tasks: Vec<(&str, &[DeviceRequestMatcher])> = devices
        .iter()
        .filter(|(_, m)| !m.is_empty())
        .map(|(t, m)| (t.as_str(), m.as_slice()))
        .collect();
    if !tasks.is_empty()
        && let Err(shortage) = assign_devices(node, &usage.devices, &tasks)
    {
        verdict.reasons.push(shortage.to_string());
    }
    // Whether dynamic ports remain does not depend on which are drawn.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    if let Err(exhausted) = assign_ports(node, &usage, group, &mut rng) {
        verdict.reasons.push(exhausted.to_string());
    }
    if verdict.reasons.is_empty() {
        let algorithm = snapshot
            .scheduler_config()
            .algorithm_for(snapshot.node_pool(job_pool(job)));
        let mut placer = GroupPlacer::new(snapshot, job, group, &proposed, algorithm, 1);
        let mut metric = AllocMetric::default();
        if let NodeAttempt::Placed(choice) =
            placer.place_on(node, &mut proposed, &mut rng, &mut metric)
        {
            verdict.placeable = true;
            verdict.score = Some(choice.card.final_score());
            verdict.scores = choice
                .card
                .components()
                .iter()
                .map(|(name, value)| ((*name).to_owned(), *value))
                .collect();
        } else {
            verdict.reasons.extend(
                metric
                    .dimension_exhausted
                    .keys()
                    .map(|d| format!("{d} exhausted")),
            );
        }
    }
    Ok(verdict)
}
