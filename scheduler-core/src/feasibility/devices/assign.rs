//! The fit: which free, healthy instances each of an allocation's device
//! requests gets ([`assign_devices`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{DeviceRequestMatcher, sorted_groups};
use crate::model::{AllocatedDeviceResource, Node, NodeDeviceResource};

/// What one allocation's device requests were given.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DeviceAssignment {
    /// Devices per task name, in request order. Tasks without requests have
    /// no entry.
    pub by_task: BTreeMap<String, Vec<AllocatedDeviceResource>>,
    /// Mean over requests with affinities of their chosen group's affinity
    /// score in [-1, 1]; None when no request has affinities.
    pub affinity_score: Option<f64>,
}

/// Not enough free healthy instances for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("devices exhausted: asked {asked} of {request:?}, {free} free")]
pub struct DeviceShortage {
    /// The request name as written.
    pub request: String,
    /// How many instances it asked for.
    pub asked: u64,
    /// The most free instances in any one group matching the request (a
    /// request is served from a single group).
    pub free: u64,
}

/// Assigns instances for every task's requests, in task order, never giving
/// an instance in `used` or one already given in this call.
///
/// Each request takes, among the groups matching its name and constraints
/// with at least `count` usable instances not taken, the one with the best
/// affinity score (the first in id order on a tie), and that group's
/// lowest free instance ids. Requests are served greedily in order, as in
/// Nomad, so an earlier request may take a group a later one needed.
pub fn assign_devices(
    node: &Node,
    used: &BTreeSet<String>,
    tasks: &[(&str, &[DeviceRequestMatcher])],
) -> Result<DeviceAssignment, DeviceShortage> {
    let groups: Vec<&NodeDeviceResource> = sorted_groups(node).collect();
    let mut given: BTreeSet<&str> = BTreeSet::new();
    let mut assignment = DeviceAssignment::default();
    let mut scores = Vec::new();
    for (task, requests) in tasks {
        for request in *requests {
            let mut best: Option<(f64, &NodeDeviceResource, Vec<&str>)> = None;
            let mut most_free = 0u64;
            for group in groups.iter().copied() {
                // The name check first: it is cheap and builds no message.
                if !request.matches_name(group) || request.check_group(group).is_err() {
                    continue;
                }
                let free: Vec<&str> = request
                    .usable_instances(group)
                    .into_iter()
                    .filter(|id| !used.contains(*id) && !given.contains(id))
                    .collect();
                let n = free.len() as u64;
                most_free = most_free.max(n);
                if n < request.count {
                    continue;
                }
                let score = request.affinity_score(group).unwrap_or(0.0);
                if best.as_ref().is_none_or(|(top, ..)| score > *top) {
                    let take = usize::try_from(request.count).unwrap_or(usize::MAX);
                    best = Some((score, group, free.into_iter().take(take).collect()));
                }
            }
            let Some((score, group, ids)) = best else {
                return Err(DeviceShortage {
                    request: request.name.clone(),
                    asked: request.count,
                    free: most_free,
                });
            };
            given.extend(ids.iter().copied());
            if request.has_affinities() {
                scores.push(score);
            }
            assignment
                .by_task
                .entry((*task).to_owned())
                .or_default()
                .push(AllocatedDeviceResource {
                    vendor: group.vendor.clone(),
                    device_type: group.device_type.clone(),
                    name: group.name.clone(),
                    device_ids: ids.into_iter().map(str::to_owned).collect(),
                });
        }
    }
    if !scores.is_empty() {
        #[allow(clippy::cast_precision_loss)]
        let n = scores.len() as f64;
        assignment.affinity_score = Some(scores.iter().sum::<f64>() / n);
    }
    Ok(assignment)
}
