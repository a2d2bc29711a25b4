//! One node's score: its components, named as Nomad's metrics name them,
//! and their mean.

/// Fit of the allocation on the node ([`super::fit_score()`]), whichever
/// algorithm computed it; Nomad reports spread-algorithm fits as "binpack"
/// too.
pub const BINPACK: &str = "binpack";
/// Co-placement with the same job and group ([`super::job_anti_affinity`]).
pub const JOB_ANTI_AFFINITY: &str = "job-anti-affinity";
/// The replaced allocation failed on this node ([`super::RESCHEDULE_PENALTY`]).
pub const NODE_RESCHEDULE_PENALTY: &str = "node-reschedule-penalty";
/// Node affinities ([`super::AffinityScorer`]).
pub const NODE_AFFINITY: &str = "node-affinity";
/// Spread blocks ([`super::SpreadScorer`]).
pub const ALLOCATION_SPREAD: &str = "allocation-spread";
/// Device affinities, computed with the device offer.
pub const DEVICES: &str = "devices";
/// Preemption cost, when placing needs evictions.
pub const PREEMPTION: &str = "preemption";

/// The components of one node's score in the order they were added, and
/// their mean (Nomad's `ScoreNormalizationIterator`).
///
/// A component the ranking did not add (no affinities, no collision, a zero
/// spread) is absent rather than 0: the mean is over what was added, so a
/// job without affinities is not penalised against one with them. Keeping
/// the components, not just the mean, lets a plan explain its choice.
///
/// The components live inline (at most [`ScoreCard::CAPACITY`]): the
/// scheduler builds one card per node it considers, and a heap allocation
/// each was a measurable share of a placement on a large cluster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreCard {
    slots: [(&'static str, f64); ScoreCard::CAPACITY],
    len: usize,
}

impl Default for ScoreCard {
    fn default() -> Self {
        ScoreCard {
            slots: [("", 0.0); ScoreCard::CAPACITY],
            len: 0,
        }
    }
}

impl ScoreCard {
    /// How many components a card holds: one of each kind this module
    /// names, with room to spare.
    pub const CAPACITY: usize = 8;

    /// An empty card.
    pub fn new() -> Self {
        Self::default()
    }

    /// `(name, value)` in the order added; names are this module's
    /// constants.
    pub fn components(&self) -> &[(&'static str, f64)] {
        &self.slots[..self.len]
    }

    /// Adds a component. A card is full after [`ScoreCard::CAPACITY`]
    /// components; more would be a bug in the caller, and are ignored in
    /// release builds rather than aborting a placement.
    pub fn push(&mut self, name: &'static str, value: f64) {
        debug_assert!(self.len < Self::CAPACITY, "score card full");
        if let Some(slot) = self.slots.get_mut(self.len) {
            *slot = (name, value);
            self.len += 1;
        }
    }

    /// Adds a component if there is one: the scorers return `None` exactly
    /// when Nomad adds nothing.
    pub fn push_some(&mut self, name: &'static str, value: Option<f64>) {
        if let Some(value) = value {
            self.push(name, value);
        }
    }

    /// The value of the first component called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.components()
            .iter()
            .find(|(component, _)| *component == name)
            .map(|&(_, value)| value)
    }

    /// The mean of the components, summed in the order added (as Nomad does,
    /// so the bits match); 0 when there are none.
    pub fn final_score(&self) -> f64 {
        if self.len == 0 {
            return 0.0;
        }
        let sum = self
            .components()
            .iter()
            .fold(0.0, |sum, &(_, value)| sum + value);
        sum / self.len as f64
    }
}
