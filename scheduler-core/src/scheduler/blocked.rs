//! Which blocked evaluations a capacity change wakes.
//!
//! A blocked evaluation records, per computed node class, whether nodes of
//! that class were feasible for the job ([`Evaluation::class_eligibility`]),
//! and whether some constraint looked past the class
//! ([`Evaluation::escaped_computed_class`]). When capacity appears on a
//! node (it joins, comes back, or allocations on it stop), only the
//! evaluations that could use that node's class need to run again, as in
//! Nomad's blocked-evals tracker.

use crate::model::Evaluation;

/// Whether new capacity on a node of `computed_class` may let the blocked
/// evaluation `eval` place: its job escaped the class (a constraint on
/// unique attributes), or the class was eligible, or it was never seen
/// (a class unknown to the evaluation may be feasible).
pub fn unblocked_by(eval: &Evaluation, computed_class: &str) -> bool {
    eval.escaped_computed_class
        || eval
            .class_eligibility
            .get(computed_class)
            .copied()
            .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_eligible_or_unknown_classes_unblock() {
        let mut eval = Evaluation::default();
        eval.class_eligibility.insert("v1:small".to_owned(), false);
        eval.class_eligibility.insert("v1:big".to_owned(), true);
        assert!(!unblocked_by(&eval, "v1:small"));
        assert!(unblocked_by(&eval, "v1:big"));
        assert!(unblocked_by(&eval, "v1:new"));
        eval.escaped_computed_class = true;
        assert!(unblocked_by(&eval, "v1:small"));
    }
}
