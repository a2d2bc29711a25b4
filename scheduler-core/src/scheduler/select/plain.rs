//! The plain walk: the job's shuffled node order, scored until `limit`
//! usable nodes are found, with what is learnt of each node kept for the
//! rest of the evaluation.

use super::*;

/// What the plain walk knows of a node for the whole evaluation (the
/// snapshot does not change under it), by snapshot position: a node is
/// met again and again by a large group's placements, and reading its
/// pool, datacenter and class strings each time costs cache misses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Not met yet.
    Unknown,
    /// Not a base candidate (other pool or datacenter, not ready, ...).
    LeftOut,
    /// A base candidate that passes the group's feasibility checks.
    Feasible,
    /// A base candidate the group's checks rule out, for the reasons at
    /// index `set` of [`GroupPlacer::filter_sets`]; its node class is at
    /// index `class` of [`GroupPlacer::node_classes`] (counted without
    /// reading the node again).
    Infeasible { set: u32, class: u32 },
}

impl<'s> GroupPlacer<'s, '_> {
    /// One power-of-k pass over the shuffled order, from its cursor.
    pub(super) fn pass_plain(
        &mut self,
        order: &mut ShuffledNodes<'s>,
        mut walk: Walk<'_, 's>,
        metric: &mut AllocMetric,
    ) -> Vec<Candidate<'s>> {
        let len = order.len();
        let start = order.cursor();
        if self.verdicts.len() != len {
            self.verdicts = vec![Verdict::Unknown; len];
        }
        let mut candidates = Vec::new();
        if self.algorithm == SchedulerAlgorithm::Binpack {
            self.best_fit_candidates(&mut walk, metric, &mut candidates, self.limit.div_ceil(2));
        }
        let from_busy = candidates.len();
        let mut skipped = Vec::new();
        let mut visited = 0;
        while visited < len && candidates.len() < self.limit {
            let (slot, node) = order.get_with_slot((start + visited) % len);
            visited += 1;
            let verdict = self.verdicts[slot];
            match verdict {
                Verdict::LeftOut => continue,
                Verdict::Unknown if left_out(self.job, node).is_some() => {
                    self.verdicts[slot] = Verdict::LeftOut;
                    continue;
                }
                Verdict::Infeasible { set, class } => {
                    // Counted as evaluate would, without running the checks
                    // or reading the node.
                    metric.nodes_evaluated += 1;
                    let filters = &self.filter_sets[set as usize];
                    count_filtered_in_class(
                        metric,
                        &self.node_classes[class as usize],
                        filters.iter().map(|f| f.key.as_str()),
                    );
                    continue;
                }
                _ => {}
            }
            if candidates[..from_busy]
                .iter()
                .any(|seen| std::ptr::eq(seen.node, node))
            {
                continue;
            }
            let outcome = self.evaluate(node, verdict == Verdict::Feasible, &mut walk, metric);
            match &outcome {
                Outcome::Excluded => {}
                Outcome::Infeasible(filters) => {
                    let known = self
                        .filter_sets
                        .iter()
                        .position(|set| Arc::ptr_eq(set, filters));
                    let set = known.unwrap_or_else(|| {
                        self.filter_sets.push(filters.clone());
                        self.filter_sets.len() - 1
                    });
                    let class = intern(&mut self.node_classes, &node.node_class);
                    self.verdicts[slot] = Verdict::Infeasible {
                        set: u32::try_from(set).unwrap_or(0),
                        class,
                    };
                }
                _ => self.verdicts[slot] = Verdict::Feasible,
            }
            if let Outcome::Scored(candidate) = outcome {
                if candidate.score <= 0.0 && skipped.len() < SKIP_NON_POSITIVE {
                    skipped.push(candidate);
                } else {
                    candidates.push(candidate);
                }
            }
        }
        order.set_cursor(start + visited);
        if candidates.is_empty() {
            candidates = skipped;
        }
        candidates
    }
}

/// The index of `name` in `names`, added at the end if new: a group's
/// nodes have a handful of classes.
fn intern(names: &mut Vec<String>, name: &str) -> u32 {
    let index = names
        .iter()
        .position(|known| known == name)
        .unwrap_or_else(|| {
            names.push(name.to_owned());
            names.len() - 1
        });
    u32::try_from(index).unwrap_or(0)
}
