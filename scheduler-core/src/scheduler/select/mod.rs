//! Choosing a node for one allocation of a task group: feasibility, the
//! placement rules, fit, scoring, and the candidate limit.
//!
//! # Two ways to walk the nodes
//! - **Plain groups** (no spread, no affinity) walk the job's shuffled node
//!   order from where the previous placement stopped, and score the first
//!   `limit` nodes that are feasible and fit: power of k choices, with
//!   `k = max(2, ⌈log2 n⌉)` for services and 2 for batch (Nomad's limits).
//!   The walk is lazy, so a placement costs about `k` node checks whatever
//!   the cluster size.
//! - **Spread and affinity groups** are where Nomad raises the limit to
//!   `max(count, 100)` nodes per placement, so a 1,200-allocation spread job
//!   scores 1,200 nodes per placement. Here the part of the score that
//!   depends only on the node's attributes (the spread boost of its
//!   attribute values, the node affinity) is the same for every node with
//!   the same values, so feasible nodes are grouped once per evaluation into
//!   buckets by those values. Each placement ranks the buckets exactly
//!   (one score per bucket, a handful of buckets), then runs the usual
//!   power of k choices inside the best bucket that has room. The spread
//!   and affinity intent is honoured exactly, and a placement still costs
//!   about `k` node checks. Nodes found unusable for the group during the
//!   evaluation (filtered, full, distinct rule broken) leave their bucket,
//!   since within one evaluation usage only grows.
//!
//! # Preemption
//! When a walk finds no usable node and the job's type may preempt, the
//! feasible nodes it found exhausted (remembered across the evaluation, at
//! most [`preempt::MAX_NODES`]) are reconsidered with lower-priority
//! allocations of other jobs evicted; the cheapest set of victims wins and
//! the [`Choice`] lists them. [`GroupPlacer::place_on`] does the same for
//! its one node. See [`preempt`] for the rules and for what a caller does
//! with the victims.

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;

use super::candidates::{ShuffledNodes, left_out};
use super::config::SchedulerAlgorithm;
use super::feasible::{Filters, GroupFeasibility};
use super::preempt::{self, Cost, Preempted};
use super::proposed::{PlacementRules, Proposed};
use crate::feasibility::devices::{
    DeviceAssignment, DeviceRequestMatcher, assign_devices, group_device_matchers,
};
use crate::feasibility::fit::{
    Exhausted, NodeUsage, ResourceAsk, fit, mhz_per_core, schedulable_cores,
};
use crate::feasibility::network::{PortAssignment, assign_ports};
use crate::model::{AllocMetric, Job, JobType, MHz, Node, NodeId, NodeScoreMeta, TaskGroup};
use crate::ranking::{
    AffinityScorer, RESCHEDULE_PENALTY, ScoreCard, SpreadScorer, fit_score, job_anti_affinity,
};
use crate::state::StateSnapshot;
use rand::seq::SliceRandom;
use std::sync::Arc;

mod busy;
mod metrics;
mod plain;
mod preempting;

use metrics::{
    count_exhausted, count_filtered, count_filtered_in_class, merge_metric, record_scores,
};
use plain::Verdict;

/// How many of the best candidates' scores a metric keeps (Nomad keeps 5).
const SCORES_KEPT: usize = 5;

/// How many non-positive-scoring nodes a pass may skip over before it
/// counts them towards the limit (Nomad's `skipScoreThreshold` rule).
const SKIP_NON_POSITIVE: usize = 3;

/// A node chosen for one allocation, with what it was given.
#[derive(Debug, Clone)]
pub struct Choice<'s> {
    /// The node.
    pub node: &'s Node,
    /// Its score components.
    pub card: ScoreCard,
    /// Host ports given.
    pub ports: PortAssignment,
    /// Devices given.
    pub devices: Option<DeviceAssignment>,
    /// Whole cores given, per task.
    pub cores: BTreeMap<String, Vec<u16>>,
    /// CPU shares of the given cores, per task.
    pub core_shares: BTreeMap<String, MHz>,
    /// Allocations of other jobs to evict for this one, each with why;
    /// empty unless the placement needed preemption. A caller passes the
    /// choice to [`preempt::apply`] (see [`preempt`]).
    pub preempted: Vec<Preempted<'s>>,
}

/// What trying one given node gave.
// The large variant is the common one and lives for one call; boxing it
// would allocate for every node tried.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum NodeAttempt<'s> {
    /// Placed.
    Placed(Choice<'s>),
    /// The node can never take the group (constraints, drivers, rules).
    Infeasible,
    /// The node is feasible but full.
    Exhausted,
}

/// A node that passed feasibility and fit during a pass, scored.
struct Candidate<'s> {
    node: &'s Node,
    card: ScoreCard,
    score: f64,
    devices: Option<DeviceAssignment>,
}

/// The per-selection state a pass walks with.
struct Walk<'w, 's> {
    proposed: &'w mut Proposed<'s>,
    penalized: &'w BTreeSet<NodeId>,
    excluded: &'w BTreeSet<NodeId>,
    /// Inside a bucket: the node-affinity and spread components, the same
    /// for every node of the bucket, computed once.
    statics: Option<StaticComponents>,
}

/// The attribute-only score components of a bucket's nodes.
#[derive(Debug, Clone, Copy)]
struct StaticComponents {
    affinity: Option<f64>,
    spread: Option<f64>,
}

/// What evaluating one node found.
// As for `NodeAttempt`: no allocation per node evaluated.
#[allow(clippy::large_enum_variant)]
enum Outcome<'s> {
    /// Left out of this selection after its ports or cores ran out.
    Excluded,
    /// The group's constraints or drivers rule the node out, for these
    /// reasons.
    Infeasible(Filters),
    /// A placement rule broken (`distinct_hosts`, `distinct_property`):
    /// never usable in this evaluation.
    Filtered,
    /// Does not fit now.
    Exhausted,
    /// Usable, scored.
    Scored(Candidate<'s>),
}

/// A set of nodes that share the attribute-only part of their score.
struct Bucket<'s> {
    nodes: Vec<&'s Node>,
    cursor: usize,
}

/// Spread/affinity groups' nodes, grouped by their static score.
struct Buckets<'s> {
    buckets: Vec<Bucket<'s>>,
    /// Filter counts from building the buckets, plus exhausted counts of
    /// nodes that later left a bucket: the failure metric's base.
    metric: AllocMetric,
}

/// Places the allocations of one task group.
pub struct GroupPlacer<'s, 'j> {
    snapshot: &'s dyn StateSnapshot,
    job: &'j Job,
    group: &'j TaskGroup,
    feasibility: GroupFeasibility<'j>,
    rules: PlacementRules,
    ask: ResourceAsk,
    devices: Vec<(String, Vec<DeviceRequestMatcher>)>,
    affinity: AffinityScorer,
    spread: SpreadScorer,
    algorithm: SchedulerAlgorithm,
    limit: usize,
    desired: u32,
    buckets: Option<Buckets<'s>>,
    /// Whether the job's type may preempt (from the scheduler
    /// configuration).
    preemption: bool,
    /// Feasible nodes found exhausted during the evaluation, in the order
    /// met (at most [`preempt::MAX_NODES`]; only kept with preemption).
    exhausted: Vec<&'s Node>,
    exhausted_seen: BTreeSet<NodeId>,
    /// Per snapshot position, what the plain walk found (sized on first
    /// use).
    verdicts: Vec<Verdict>,
    /// The distinct reasons of [`Verdict::Infeasible`] nodes.
    filter_sets: Vec<Filters>,
    /// The distinct node classes of [`Verdict::Infeasible`] nodes.
    node_classes: Vec<String>,
    /// Busy nodes met by the best-fit pass, by address (see `busy.rs`).
    busy_usable: BTreeMap<usize, bool>,
}

/// A node where placing works once some allocations are evicted.
struct PreemptOption<'s> {
    candidate: Candidate<'s>,
    usage: NodeUsage,
    cost: Cost,
    preempted: Vec<Preempted<'s>>,
}

impl std::fmt::Debug for GroupPlacer<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupPlacer")
            .field("job", &self.job.id)
            .field("group", &self.group.name)
            .field("limit", &self.limit)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl<'s, 'j> GroupPlacer<'s, 'j> {
    /// Prepares the placement of `group`: its checks, rules, ask and
    /// scorers. `node_count` is the number of nodes (for the limit).
    pub fn new(
        snapshot: &'s dyn StateSnapshot,
        job: &'j Job,
        group: &'j TaskGroup,
        proposed: &Proposed<'s>,
        algorithm: SchedulerAlgorithm,
        node_count: usize,
    ) -> Self {
        let devices = group_device_matchers(group);
        let mut spread = SpreadScorer::new(job, group);
        for (node_id, count) in proposed.group_nodes(&group.name) {
            if let Some(node) = snapshot.node(&node_id) {
                for _ in 0..count {
                    spread.add(node);
                }
            }
        }
        let log2 = usize::try_from(usize::BITS - node_count.max(1).leading_zeros()).unwrap_or(1);
        let limit = match job.job_type {
            JobType::Batch | JobType::Sysbatch => 2,
            _ => log2.max(2),
        };
        GroupPlacer {
            snapshot,
            job,
            group,
            feasibility: GroupFeasibility::new(job, group),
            rules: PlacementRules::new(snapshot, job, group, proposed),
            ask: ResourceAsk::for_group(group),
            devices,
            affinity: AffinityScorer::new(job, group),
            spread,
            algorithm,
            limit,
            desired: u32::try_from(group.count.unwrap_or(1).max(1)).unwrap_or(u32::MAX),
            buckets: None,
            preemption: snapshot
                .scheduler_config()
                .preemption_config
                .enabled_for(&job.job_type),
            exhausted: Vec::new(),
            exhausted_seen: BTreeSet::new(),
            verdicts: Vec::new(),
            filter_sets: Vec::new(),
            node_classes: Vec::new(),
            busy_usable: BTreeMap::new(),
        }
    }

    /// Whether placements of this group may preempt lower-priority
    /// allocations (read from the snapshot's scheduler configuration).
    pub fn preemption(&self) -> bool {
        self.preemption
    }

    /// Turns preemption on or off for this group's placements, whatever
    /// the configuration says.
    pub fn set_preemption(&mut self, enabled: bool) {
        self.preemption = enabled;
    }

    /// The group.
    pub fn group(&self) -> &'j TaskGroup {
        self.group
    }

    /// Per computed class, whether the group's class checks passed.
    pub fn class_eligibility(&self) -> &BTreeMap<String, bool> {
        &self.feasibility.class_eligibility
    }

    /// Whether a constraint reads `unique.*` targets.
    pub fn escapes_class(&self) -> bool {
        self.feasibility.escapes_class()
    }

    /// Whether the group uses buckets (has spreads or affinities).
    fn bucketed(&self) -> bool {
        !self.spread.is_empty() || !self.affinity.is_empty()
    }

    /// The feasibility verdict for one node (for system jobs, which visit
    /// every node).
    pub fn feasibility(&mut self, node: &Node) -> Filters {
        self.feasibility.check(node)
    }

    /// Chooses a node for one allocation, or returns `None` with `metric`
    /// explaining why none fits. `penalized` are nodes the allocation being
    /// replaced ran on.
    ///
    /// When no node has room and the group may preempt, the nodes found
    /// exhausted are reconsidered with lower-priority allocations evicted;
    /// the choice then lists them in [`Choice::preempted`], and the caller
    /// must pass it to [`preempt::apply`].
    pub fn select(
        &mut self,
        order: &mut ShuffledNodes<'s>,
        proposed: &mut Proposed<'s>,
        penalized: &BTreeSet<NodeId>,
        port_rng: &mut ChaCha8Rng,
        metric: &mut AllocMetric,
    ) -> Option<Choice<'s>> {
        // Nodes whose dynamic ports or cores ran out when finishing: left
        // out of later passes of this selection, so it always terminates.
        let mut excluded = BTreeSet::new();
        loop {
            let walk = Walk {
                proposed: &mut *proposed,
                penalized,
                excluded: &excluded,
                statics: None,
            };
            let candidates = if self.bucketed() {
                self.pass_buckets(order, walk, metric)
            } else {
                self.pass_plain(order, walk, metric)
            };
            if candidates.is_empty() {
                return self.preempt_pass(proposed, penalized, port_rng, metric);
            }
            record_scores(metric, &candidates);
            // Best first; ties keep the node seen first (stable sort).
            let mut ranked = candidates;
            ranked.sort_by(|a, b| b.score.total_cmp(&a.score));
            for candidate in ranked {
                let usage = proposed.usage(candidate.node);
                match self.finish(candidate, usage, port_rng) {
                    Ok(choice) => return Some(choice),
                    Err((node, exhausted)) => {
                        count_exhausted(metric, node, exhausted.dimension());
                        excluded.insert(node.id.clone());
                    }
                }
            }
        }
    }

    /// The bucketed pass: rank buckets by their static score, then power of
    /// k inside the best bucket with room.
    fn pass_buckets(
        &mut self,
        order: &mut ShuffledNodes<'s>,
        mut walk: Walk<'_, 's>,
        metric: &mut AllocMetric,
    ) -> Vec<Candidate<'s>> {
        let mut buckets = match self.buckets.take() {
            Some(buckets) => buckets,
            None => self.build_buckets(order),
        };
        let mut ranked: Vec<(f64, usize)> = buckets
            .buckets
            .iter()
            .enumerate()
            .filter(|(_, bucket)| !bucket.nodes.is_empty())
            .map(|(index, bucket)| (self.static_score(bucket.nodes[0]), index))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));

        let mut candidates = Vec::new();
        let mut removed = AllocMetric::default();
        for (_, index) in ranked {
            let bucket = &mut buckets.buckets[index];
            walk.statics = bucket.nodes.first().map(|node| StaticComponents {
                affinity: self.affinity.score(node),
                spread: self.spread.score(node),
            });
            let mut skipped = Vec::new();
            let mut examined = 0;
            let mut position = bucket.cursor;
            while candidates.len() < self.limit && examined < bucket.nodes.len() {
                if position >= bucket.nodes.len() {
                    position = 0;
                }
                let node = bucket.nodes[position];
                match self.evaluate(node, false, &mut walk, &mut removed) {
                    Outcome::Scored(candidate) => {
                        position += 1;
                        examined += 1;
                        if candidate.score <= 0.0 && skipped.len() < SKIP_NON_POSITIVE {
                            skipped.push(candidate);
                        } else {
                            candidates.push(candidate);
                        }
                    }
                    Outcome::Excluded => {
                        position += 1;
                        examined += 1;
                    }
                    Outcome::Infeasible(_) | Outcome::Filtered | Outcome::Exhausted => {
                        // Usage and placement counts only grow within an
                        // evaluation: the node stays unusable for the
                        // group, so it leaves the bucket for good.
                        bucket.nodes.remove(position);
                    }
                }
            }
            bucket.cursor = position;
            if candidates.is_empty() {
                candidates = skipped;
            }
            if !candidates.is_empty() {
                break;
            }
        }
        merge_metric(&mut buckets.metric, &removed);
        let evaluated = metric.nodes_evaluated;
        *metric = buckets.metric.clone();
        metric.nodes_evaluated = metric.nodes_evaluated.max(evaluated);
        self.buckets = Some(buckets);
        candidates
    }

    /// Feasibility of every base node once, then buckets by static score.
    fn build_buckets(&mut self, order: &mut ShuffledNodes<'s>) -> Buckets<'s> {
        let mut metric = AllocMetric::default();
        let mut by_key: BTreeMap<(Vec<Option<String>>, u64), usize> = BTreeMap::new();
        let mut buckets: Vec<Bucket<'s>> = Vec::new();
        let job = self.job;
        for node in self
            .snapshot
            .nodes()
            .filter(|node| left_out(job, node).is_none())
        {
            metric.nodes_evaluated += 1;
            let filters = self.feasibility.check(node);
            if !filters.is_empty() {
                count_filtered(&mut metric, node, filters.iter().map(|f| f.key.as_str()));
                continue;
            }
            let values = self.spread.values(node);
            let affinity = self.affinity.score(node).unwrap_or(0.0).to_bits();
            let next = buckets.len();
            let index = *by_key.entry((values, affinity)).or_insert(next);
            if index == next {
                buckets.push(Bucket {
                    nodes: Vec::new(),
                    cursor: 0,
                });
            }
            buckets[index].nodes.push(node);
        }
        // Inside a bucket, nodes are visited in a seeded random order, as
        // in the plain walk.
        for bucket in &mut buckets {
            bucket.nodes.shuffle(order.rng());
        }
        Buckets { buckets, metric }
    }

    /// The attribute-only part of a node's score: the mean of its spread
    /// and affinity components, as they enter the final mean.
    fn static_score(&self, node: &Node) -> f64 {
        let mut card = ScoreCard::default();
        if let Some(score) = self.affinity.score(node) {
            card.push("node-affinity", score);
        }
        if let Some(score) = self.spread.score(node) {
            card.push("allocation-spread", score);
        }
        card.final_score()
    }

    /// Checks one node: feasibility (unless `known_feasible`: passed
    /// earlier in the evaluation), placement rules, fit, devices; scores it
    /// when usable. Counts what it finds in `metric`.
    fn evaluate(
        &mut self,
        node: &'s Node,
        known_feasible: bool,
        walk: &mut Walk<'_, 's>,
        metric: &mut AllocMetric,
    ) -> Outcome<'s> {
        if !walk.excluded.is_empty() && walk.excluded.contains(&node.id) {
            return Outcome::Excluded;
        }
        metric.nodes_evaluated += 1;
        if !known_feasible {
            let filters = self.feasibility.check(node);
            if !filters.is_empty() {
                count_filtered(metric, node, filters.iter().map(|f| f.key.as_str()));
                return Outcome::Infeasible(filters);
            }
        }
        let broken = self.rules.check(node, &self.group.name, walk.proposed);
        if !broken.is_empty() {
            count_filtered(metric, node, broken.iter().map(|(key, _)| key.as_str()));
            return Outcome::Filtered;
        }
        let (collisions, _) = walk.proposed.job_allocs_on(&node.id, &self.group.name);
        let usage = walk.proposed.usage(node);
        if let Err(exhausted) = fit(node, usage, &self.ask) {
            count_exhausted(metric, node, exhausted.dimension());
            self.note_exhausted(node);
            return Outcome::Exhausted;
        }
        let devices = if self.devices.is_empty() {
            None
        } else {
            let tasks: Vec<(&str, &[DeviceRequestMatcher])> = self
                .devices
                .iter()
                .map(|(task, matchers)| (task.as_str(), matchers.as_slice()))
                .collect();
            match assign_devices(node, &usage.devices, &tasks) {
                Ok(assignment) => Some(assignment),
                Err(_) => {
                    count_exhausted(metric, node, "devices");
                    self.note_exhausted(node);
                    return Outcome::Exhausted;
                }
            }
        };
        let card = self.score(
            node,
            usage,
            collisions,
            walk.penalized,
            walk.statics,
            devices.as_ref(),
        );
        let score = card.final_score();
        Outcome::Scored(Candidate {
            node,
            card,
            score,
            devices,
        })
    }

    fn score(
        &self,
        node: &Node,
        usage: &NodeUsage,
        collisions: u32,
        penalized: &BTreeSet<NodeId>,
        statics: Option<StaticComponents>,
        devices: Option<&DeviceAssignment>,
    ) -> ScoreCard {
        let statics = statics.unwrap_or_else(|| StaticComponents {
            affinity: self.affinity.score(node),
            spread: self.spread.score(node),
        });
        let cores_cpu = MHz(mhz_per_core(node)
            .0
            .saturating_mul(i64::try_from(self.ask.cores).unwrap_or(i64::MAX)));
        let mut card = ScoreCard::default();
        card.push(
            "binpack",
            fit_score(
                self.algorithm,
                node,
                usage.cpu + self.ask.cpu + cores_cpu,
                usage.memory + self.ask.memory,
            ),
        );
        if let Some(score) = job_anti_affinity(collisions, self.desired) {
            card.push("job-anti-affinity", score);
        }
        if penalized.contains(&node.id) {
            card.push("node-reschedule-penalty", RESCHEDULE_PENALTY);
        }
        if let Some(score) = statics.affinity {
            card.push("node-affinity", score);
        }
        if let Some(score) = statics.spread {
            card.push("allocation-spread", score);
        }
        if let Some(score) = devices.and_then(|d| d.affinity_score) {
            card.push("devices", score);
        }
        card
    }

    /// Gives the chosen node its cores and dynamic ports, from what the
    /// node's allocations hold (`usage`).
    fn finish(
        &self,
        candidate: Candidate<'s>,
        usage: &NodeUsage,
        port_rng: &mut ChaCha8Rng,
    ) -> Result<Choice<'s>, (&'s Node, Exhausted)> {
        let node = candidate.node;
        let ports = assign_ports(node, usage, self.group, port_rng).map_err(|e| (node, e))?;
        let mut free_cores = schedulable_cores(node);
        for core in &usage.cores {
            free_cores.remove(core);
        }
        let per_core = mhz_per_core(node);
        let mut cores = BTreeMap::new();
        let mut core_shares = BTreeMap::new();
        for task in &self.group.tasks {
            let wanted = usize::try_from(task.resources.cores).unwrap_or(0);
            if wanted == 0 {
                continue;
            }
            let given: Vec<u16> = free_cores.iter().copied().take(wanted).collect();
            if given.len() < wanted {
                return Err((
                    node,
                    Exhausted::Cores {
                        asked: wanted as u64,
                        available: given.len() as u64,
                    },
                ));
            }
            for core in &given {
                free_cores.remove(core);
            }
            core_shares.insert(
                task.name.clone(),
                MHz(per_core
                    .0
                    .saturating_mul(i64::try_from(wanted).unwrap_or(i64::MAX))),
            );
            cores.insert(task.name.clone(), given);
        }
        Ok(Choice {
            node,
            card: candidate.card,
            ports,
            devices: candidate.devices,
            cores,
            core_shares,
            preempted: Vec::new(),
        })
    }

    /// Tries one given node (system jobs place on every feasible node).
    /// When the node is full and the group may preempt, the placement may
    /// come with victims ([`Choice::preempted`]; pass the choice to
    /// [`preempt::apply`]).
    pub fn place_on(
        &mut self,
        node: &'s Node,
        proposed: &mut Proposed<'s>,
        port_rng: &mut ChaCha8Rng,
        metric: &mut AllocMetric,
    ) -> NodeAttempt<'s> {
        let (penalized, excluded) = (BTreeSet::new(), BTreeSet::new());
        let mut walk = Walk {
            proposed: &mut *proposed,
            penalized: &penalized,
            excluded: &excluded,
            statics: None,
        };
        match self.evaluate(node, false, &mut walk, metric) {
            Outcome::Scored(candidate) => {
                record_scores(metric, std::slice::from_ref(&candidate));
                let usage = proposed.usage(candidate.node);
                match self.finish(candidate, usage, port_rng) {
                    Ok(choice) => NodeAttempt::Placed(choice),
                    Err((node, exhausted)) => {
                        count_exhausted(metric, node, exhausted.dimension());
                        NodeAttempt::Exhausted
                    }
                }
            }
            Outcome::Infeasible(_) | Outcome::Filtered | Outcome::Excluded => {
                NodeAttempt::Infeasible
            }
            Outcome::Exhausted if self.preemption => {
                let option = self.preempt_option(node, proposed, &penalized);
                match self.finish_preempting(option.into_iter().collect(), port_rng, metric) {
                    Some(choice) => NodeAttempt::Placed(choice),
                    None => NodeAttempt::Exhausted,
                }
            }
            Outcome::Exhausted => NodeAttempt::Exhausted,
        }
    }

    /// Records a placement of this group on `node`.
    pub fn record(&mut self, node: &Node) {
        self.spread.add(node);
        self.rules.record(node, true);
    }

    /// Records a placement of another group of the job on `node` (for
    /// job-level `distinct_property`).
    pub fn record_other(&mut self, node: &Node) {
        self.rules.record(node, false);
    }

    /// The job.
    pub fn job(&self) -> &'j Job {
        self.job
    }
}
