//! Node affinities: soft preferences for nodes whose attributes match.

use crate::feasibility::ConstraintChecker;
use crate::model::{Affinity, Job, Node, TaskGroup};

/// The node affinities that apply to one task group (the job's, the group's
/// and every task's, in that order, as Nomad's `NodeAffinityIterator` merges
/// them), prepared once so scoring a node compiles nothing.
///
/// `score(node) = Σ weight of matched affinities / Σ |weight|`, in
/// `[-1, 1]`: negative weights are anti-affinities, so matching one lowers
/// the score. Dividing by the absolute sum keeps a job with many affinities
/// from outweighing the other components.
#[derive(Debug, Clone, Default)]
pub struct AffinityScorer {
    /// Each affinity's prepared rule (`None` when the rule cannot be
    /// prepared: an unknown operator or an invalid regular expression or
    /// version constraint, which Nomad treats as never matching) and weight.
    rules: Vec<(Option<ConstraintChecker>, f64)>,
    /// `Σ |weight|`, summed in the same order as Nomad so the quotient has
    /// the same bits.
    sum_abs_weight: f64,
}

impl AffinityScorer {
    /// Collects and prepares the affinities of `job`, `group` and the
    /// group's tasks.
    pub fn new(job: &Job, group: &TaskGroup) -> Self {
        let affinities = job
            .affinities
            .iter()
            .chain(&group.affinities)
            .chain(group.tasks.iter().flat_map(|task| &task.affinities));
        let rules: Vec<(Option<ConstraintChecker>, f64)> = affinities
            .map(|affinity: &Affinity| {
                (
                    ConstraintChecker::for_affinity(affinity).ok(),
                    f64::from(affinity.weight()),
                )
            })
            .collect();
        // An explicit `fold` from +0.0: `Iterator::sum` starts from −0.0.
        let sum_abs_weight = rules
            .iter()
            .fold(0.0, |sum, (_, weight)| sum + weight.abs());
        AffinityScorer {
            rules,
            sum_abs_weight,
        }
    }

    /// Whether no affinity applies to the group (then [`Self::score`] is
    /// always `None` and the ranking can skip it).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The node-affinity component for `node`: `Some` whenever the group has
    /// any affinity, **even when it is 0** (Nomad adds it unconditionally, so
    /// a node matching nothing is pulled towards 0 in the mean), and `None`
    /// when it has none.
    ///
    /// If every weight is 0 the score is 0 (Nomad would compute 0/0 = NaN).
    pub fn score(&self, node: &Node) -> Option<f64> {
        if self.rules.is_empty() {
            return None;
        }
        let matched: f64 = self
            .rules
            .iter()
            .filter(|(rule, _)| rule.as_ref().is_some_and(|rule| rule.matches(node)))
            .fold(0.0, |sum, (_, weight)| sum + weight);
        if self.sum_abs_weight == 0.0 {
            return Some(0.0);
        }
        Some(matched / self.sum_abs_weight)
    }
}
