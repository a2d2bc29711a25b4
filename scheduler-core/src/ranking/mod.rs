//! Ranking: how good a feasible node is for one placement.
//!
//! Feasibility says which nodes *can* take an allocation; ranking orders
//! them. Each scorer here computes one **component** in Nomad's arithmetic
//! (section 3 of the scheduling notes), and a [`ScoreCard`] collects a
//! node's components and averages them into its final score. Nomad's
//! stateful iterator chain becomes plain functions and small prepared
//! values: the caller (the placement stage) owns the plan and feeds in what
//! the scorers need to know, so every score is a pure function of its
//! arguments.
//!
//! # Components, in Nomad's order
//!
//! | name ([`score_card`] constant) | from | range | added when |
//! |---|---|---|---|
//! | `binpack` | [`fit_score()`] | `[0, 1]` | always (for the `spread` algorithm too) |
//! | `devices` | the device offer (elsewhere) | `[-1, 1]` | the ask has device affinities |
//! | `job-anti-affinity` | [`job_anti_affinity`] | `< 0` | the node already holds allocations of the job's group |
//! | `node-reschedule-penalty` | [`RESCHEDULE_PENALTY`] | `-1` | the replaced allocation failed on this node |
//! | `node-affinity` | [`AffinityScorer`] | `[-1, 1]` | the group has any affinity, even if the score is 0 |
//! | `allocation-spread` | [`SpreadScorer`] | a sum over spread blocks, each mostly in `[-1, 1]` but unbounded (an over-full target goes below −1) | the group has spreads and the sum is non-zero |
//! | `preemption` | (elsewhere) | `(0, 1)` | placing needs evictions |
//!
//! # How they combine
//!
//! The final score is the **mean of the components that were added**
//! ([`ScoreCard::final_score`]), not a weighted sum: a component that does
//! not apply is absent, not 0, so it neither helps nor hurts. Each scorer
//! returns `Option` and returns `None` exactly when Nomad would add nothing,
//! so `card.push_some(name, scorer(..))` reproduces Nomad's mean. The
//! highest final score wins; ties keep the first node seen.
//!
//! # Determinism
//!
//! Iteration is over `Vec`s and `BTreeMap`s, sums run in Nomad's order, and
//! powers of ten come from [`math::pow10`], which uses only basic IEEE
//! operations so the bits do not depend on the platform's libm. Where Nomad
//! depends on the order nodes were scored (the spread boost of a target with
//! a desired count of 0), a fixed value is used instead; see
//! [`SpreadScorer`].

mod affinity;
mod fit_score;
pub mod math;
mod penalty;
pub mod score_card;
mod spread;

#[cfg(test)]
mod tests;

pub use affinity::AffinityScorer;
pub use fit_score::{MAX_FIT_SCORE, fit_score};
pub use penalty::{RESCHEDULE_PENALTY, job_anti_affinity};
pub use score_card::ScoreCard;
pub use spread::{IMPLICIT_TARGET, SpreadScorer};
