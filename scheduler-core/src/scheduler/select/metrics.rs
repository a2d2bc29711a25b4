//! Nomad's placement metrics: filtered and exhausted counts, merged
//! metrics, and the scores kept for the best candidates.

use super::*;

pub(super) fn count_filtered<'a>(
    metric: &mut AllocMetric,
    node: &Node,
    keys: impl Iterator<Item = &'a str>,
) {
    count_filtered_in_class(metric, &node.node_class, keys);
}

/// [`count_filtered`] for a node of class `node_class` (`""` for none),
/// without reading the node.
pub(super) fn count_filtered_in_class<'a>(
    metric: &mut AllocMetric,
    node_class: &str,
    keys: impl Iterator<Item = &'a str>,
) {
    metric.nodes_filtered += 1;
    if !node_class.is_empty() {
        bump(&mut metric.class_filtered, node_class);
    }
    for key in keys {
        bump(&mut metric.constraint_filtered, key);
    }
}

/// Adds one to `counts[key]`, copying the key only the first time: a walk
/// counts the same few classes and constraints over and over.
fn bump(counts: &mut crate::model::VecMap<String, u32>, key: &str) {
    match counts.get_mut(key) {
        Some(count) => *count += 1,
        None => {
            counts.insert(key.to_owned(), 1);
        }
    }
}

pub(super) fn count_exhausted(metric: &mut AllocMetric, node: &Node, dimension: &str) {
    metric.nodes_exhausted += 1;
    if !node.node_class.is_empty() {
        bump(&mut metric.class_exhausted, &node.node_class);
    }
    bump(&mut metric.dimension_exhausted, dimension);
}

/// Adds `from`'s filter and exhaustion counts into `into`.
pub(super) fn merge_metric(into: &mut AllocMetric, from: &AllocMetric) {
    into.nodes_filtered += from.nodes_filtered;
    into.nodes_exhausted += from.nodes_exhausted;
    for (key, count) in &from.class_filtered {
        *into.class_filtered.entry(key.clone()).or_default() += count;
    }
    for (key, count) in &from.constraint_filtered {
        *into.constraint_filtered.entry(key.clone()).or_default() += count;
    }
    for (key, count) in &from.class_exhausted {
        *into.class_exhausted.entry(key.clone()).or_default() += count;
    }
    for (key, count) in &from.dimension_exhausted {
        *into.dimension_exhausted.entry(key.clone()).or_default() += count;
    }
}

pub(super) fn record_scores(metric: &mut AllocMetric, candidates: &[Candidate<'_>]) {
    let mut best: Vec<&Candidate<'_>> = candidates.iter().collect();
    best.sort_by(|a, b| b.score.total_cmp(&a.score));
    metric.score_meta_data = best
        .into_iter()
        .take(SCORES_KEPT)
        .map(|candidate| NodeScoreMeta {
            node_id: candidate.node.id.clone(),
            scores: candidate
                .card
                .components()
                .iter()
                .map(|(name, value)| (*name, *value))
                .collect(),
            norm_score: candidate.score,
        })
        .collect();
}
