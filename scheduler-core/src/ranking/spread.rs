//! Spread: steer a group's allocations across the values of a node
//! attribute (datacenters, racks), in given proportions or evenly, with
//! Nomad's `spread.go` arithmetic.

use std::collections::{BTreeMap, BTreeSet};

use crate::feasibility::constraint::resolve_target_str;
use crate::model::{Job, Node, Spread, TaskGroup};

/// The target that stands for every attribute value a spread does not list.
/// When the listed percentages add up to less than 100, it receives the
/// remainder.
pub const IMPLICIT_TARGET: &str = "*";

/// The spread blocks that apply to one task group (the job's, then the
/// group's, as Nomad builds its property sets) and how many allocations of
/// the group sit on each attribute value.
///
/// The counts are fed by the caller, which owns the plan: first the nodes of
/// the group's live allocations ([`Self::add`]), then each placement as it
/// is made ([`Self::add`]) and each planned stop ([`Self::remove`]). The
/// scorer itself never looks at state, so it stays a pure function of what
/// it was told.
///
/// # Scoring one more allocation on a node
///
/// The component is the sum, over spread blocks, of:
///
/// - **the node lacks the attribute:** −1 (whatever the mode or weight);
/// - **target mode** (the block lists targets): with `desired` the target's
///   share of the group's count (`percent / 100 × count`; unlisted values
///   share the implicit `*` target, which gets the remainder when the
///   percentages add up to less than 100) and `used` the allocations already
///   on that target (all unlisted values counted together for `*`):
///   `(desired − (used + 1)) / desired × weight / Σweights`. Positive while
///   the target is below its share, negative once it is over. A value that
///   matches no target (no remainder left for `*`), or a target whose
///   desired count is 0, scores −1;
/// - **even mode** (no targets), over the values that hold allocations:
///   0 while nothing is placed; else with `cur` the node's value's count and
///   `min`/`max` the smallest and largest counts, `(min − cur) / min` when
///   `cur ≠ min` (so +1 for a value with no allocations yet, negative for an
///   over-full one), −1 when every value holds the same count, and
///   `(max − min) / min` when the node's value is one of the emptiest. As in
///   Nomad, the weight is not applied in this mode.
///
/// `Σweights` is the sum of the weights of this group's spread blocks
/// (job-level included).
#[derive(Debug, Clone, Default)]
pub struct SpreadScorer {
    blocks: Vec<SpreadBlock>,
    /// Σ weights of `blocks`, as an integer as in Nomad.
    sum_weights: i32,
}

/// One spread block, prepared.
#[derive(Debug, Clone)]
struct SpreadBlock {
    /// The interpolated attribute (`${node.datacenter}`, `${meta.rack}`).
    attribute: String,
    weight: i8,
    /// Desired allocations per listed value, plus [`IMPLICIT_TARGET`] for the
    /// remainder. Empty in even mode.
    desired: BTreeMap<String, f64>,
    /// The listed target values; unlisted values are counted together.
    listed: BTreeSet<String>,
    /// Allocations of the group per attribute value (the node's own value,
    /// not folded into `*`). Never holds a zero: a value whose allocations
    /// are all gone is the same as a value never used.
    counts: BTreeMap<String, u32>,
}

impl SpreadBlock {
    fn new(spread: &Spread, group_count: f64) -> Self {
        let mut desired = BTreeMap::new();
        let mut sum_desired = 0.0;
        for target in &spread.spread_target {
            // Nomad's operation order, `(pct / 100) × count`, for the same bits.
            let count = (f64::from(target.percent) / 100.0) * group_count;
            desired.insert(target.value.clone(), count);
            sum_desired += count;
        }
        // The remainder goes to the implicit target only when there are
        // targets and they leave something over.
        if sum_desired > 0.0 && sum_desired < group_count {
            desired.insert(IMPLICIT_TARGET.to_owned(), group_count - sum_desired);
        }
        SpreadBlock {
            attribute: spread.attribute.clone(),
            weight: spread.weight(),
            desired,
            listed: spread
                .spread_target
                .iter()
                .map(|target| target.value.clone())
                .collect(),
            counts: BTreeMap::new(),
        }
    }

    /// The node's value of the attribute; `None` when it has none (an empty
    /// attribute resolves to nothing, as in Nomad's `getProperty`).
    fn value_of<'a>(&'a self, node: &'a Node) -> Option<&'a str> {
        if self.attribute.is_empty() {
            return None;
        }
        // Borrowed: scoring runs for every node considered, and copying the
        // value each time was a visible cost of spread placements.
        resolve_target_str(&self.attribute, node)
    }

    /// Allocations counted against `value`'s target: the value's own count
    /// when it is listed (or in even mode), else the sum over every unlisted
    /// value, which share the implicit target.
    fn used(&self, value: &str) -> u64 {
        if self.listed.is_empty() || self.listed.contains(value) {
            return self.counts.get(value).copied().map_or(0, u64::from);
        }
        self.counts
            .iter()
            .filter(|(counted, _)| !self.listed.contains(*counted))
            .map(|(_, &count)| u64::from(count))
            .sum()
    }

    /// This block's contribution for one more allocation on `node`.
    fn boost(&self, node: &Node, sum_weights: i32) -> f64 {
        let Some(value) = self.value_of(node) else {
            return -1.0;
        };
        if self.desired.is_empty() {
            return self.even_boost(value);
        }
        let key = if self.listed.contains(value) {
            value
        } else {
            IMPLICIT_TARGET
        };
        let Some(&desired) = self
            .desired
            .get(key)
            .or_else(|| self.desired.get(IMPLICIT_TARGET))
        else {
            return -1.0;
        };
        if desired == 0.0 {
            // Nomad adds its iterator's running "lowest boost seen so far"
            // (−1 or lower) here, which depends on the order nodes were
            // scored; a constant −1 keeps the score a function of the node.
            return -1.0;
        }
        let weight = if sum_weights == 0 {
            0.0
        } else {
            f64::from(self.weight) / f64::from(sum_weights)
        };
        let used = (self.used(value) + 1) as f64;
        ((desired - used) / desired) * weight
    }

    /// Even mode (see [`SpreadScorer`]). `counts` holds no zeros, so `min`
    /// is at least 1 and there is no division by zero: a value without
    /// allocations has `cur = 0 ≠ min` and gets `(min − 0) / min = 1`, the
    /// maximum boost, which is what Nomad's `minCount == 0` branches aim for.
    fn even_boost(&self, value: &str) -> f64 {
        let (Some(&min), Some(&max)) = (self.counts.values().min(), self.counts.values().max())
        else {
            // Nothing placed yet: every value is as good as any other.
            return 0.0;
        };
        let current = self.counts.get(value).copied().unwrap_or(0);
        if current != min {
            (f64::from(min) - f64::from(current)) / f64::from(min)
        } else if min == max {
            -1.0
        } else {
            f64::from(max - min) / f64::from(min)
        }
    }
}

impl SpreadScorer {
    /// Prepares the spreads of `job` and `group` for the group's count (its
    /// effective `count()`; a negative count counts as 0).
    pub fn new(job: &Job, group: &TaskGroup) -> Self {
        let group_count = group.count().max(0) as f64;
        let blocks: Vec<SpreadBlock> = job
            .spreads
            .iter()
            .chain(&group.spreads)
            .map(|spread| SpreadBlock::new(spread, group_count))
            .collect();
        let sum_weights = blocks.iter().map(|block| i32::from(block.weight)).sum();
        SpreadScorer {
            blocks,
            sum_weights,
        }
    }

    /// Whether the group has no spread (then [`Self::score`] is always
    /// `None` and the caller need not feed counts).
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
    }

    /// One more allocation of the group counts on `node`'s attribute values.
    /// Blocks whose attribute the node lacks ignore it, as Nomad does.
    pub fn add(&mut self, node: &Node) {
        for block in &mut self.blocks {
            if let Some(value) = block.value_of(node).map(str::to_owned) {
                *block.counts.entry(value).or_insert(0) += 1;
            }
        }
    }

    /// One allocation of the group no longer counts on `node`'s values (a
    /// planned stop). Never goes below zero.
    pub fn remove(&mut self, node: &Node) {
        for block in &mut self.blocks {
            let Some(value) = block.value_of(node).map(str::to_owned) else {
                continue;
            };
            if let Some(count) = block.counts.get_mut(&value) {
                *count -= 1;
                if *count == 0 {
                    block.counts.remove(&value);
                }
            }
        }
    }

    /// The `allocation-spread` component for placing one more allocation on
    /// `node` (see the type's documentation for the rules).
    ///
    /// `None` when the group has no spreads, **and also when the sum is
    /// exactly 0**: Nomad adds the spread component only when it is non-zero,
    /// so an even spread with nothing placed yet does not drag every node's
    /// mean towards 0.
    pub fn score(&self, node: &Node) -> Option<f64> {
        // Summed in block order (job spreads first), as Nomad does.
        let total = self.blocks.iter().fold(0.0, |total, block| {
            total + block.boost(node, self.sum_weights)
        });
        (total != 0.0).then_some(total)
    }

    /// The distinct values of the first spread's attribute that the scorer
    /// knows of, sorted: its listed target values (the implicit `*` left out)
    /// and every value holding allocations. Empty when there is no spread.
    /// Lets the caller bucket candidate nodes by value.
    pub fn attributes(&self) -> Vec<&str> {
        let Some(first) = self.blocks.first() else {
            return Vec::new();
        };
        let values: BTreeSet<&str> = first
            .listed
            .iter()
            .filter(|value| value.as_str() != IMPLICIT_TARGET)
            .chain(first.counts.keys())
            .map(String::as_str)
            .collect();
        values.into_iter().collect()
    }

    /// The node's value of every spread's attribute, in block order (`None`
    /// where it lacks one). Two nodes with the same values get the same
    /// spread score, whatever the counts: the placement stage buckets nodes
    /// by these values.
    pub fn values(&self, node: &Node) -> Vec<Option<String>> {
        self.blocks
            .iter()
            .map(|block| block.value_of(node).map(str::to_owned))
            .collect()
    }

    /// The first spread's attribute (`${node.datacenter}`), to resolve on
    /// nodes when bucketing them; `None` when there is no spread.
    pub fn first_attribute(&self) -> Option<&str> {
        self.blocks.first().map(|block| block.attribute.as_str())
    }

    /// `node`'s value of the first spread's attribute; `None` when there is
    /// no spread or the node lacks the attribute.
    pub fn first_value(&self, node: &Node) -> Option<String> {
        self.blocks
            .first()
            .and_then(|block| block.value_of(node).map(str::to_owned))
    }

    /// How many allocations the scorer counts on `value` of the first
    /// spread's attribute (0 when there is no spread).
    pub fn count(&self, value: &str) -> u32 {
        self.blocks
            .first()
            .and_then(|block| block.counts.get(value).copied())
            .unwrap_or(0)
    }
}
