//! Job anti-affinity and the reschedule penalty.

use crate::ranking::{RESCHEDULE_PENALTY, job_anti_affinity};

#[test]
fn no_collision_adds_no_component() {
    assert_eq!(job_anti_affinity(0, 3), None);
    assert_eq!(job_anti_affinity(0, 0), None);
}

#[test]
fn collisions_count_the_placement_itself() {
    // −(1 + 1) / 3
    assert_eq!(job_anti_affinity(1, 3), Some(-2.0 / 3.0));
    // −(2 + 1) / 4
    assert_eq!(job_anti_affinity(2, 4), Some(-0.75));
    // More collisions than the group's count: below −1, as in Nomad.
    assert_eq!(job_anti_affinity(4, 2), Some(-2.5));
}

#[test]
fn zero_desired_count_reads_as_one() {
    // Nomad would give −∞; −(1 + 1) / 1 keeps the mean finite.
    assert_eq!(job_anti_affinity(1, 0), Some(-2.0));
}

#[test]
fn reschedule_penalty_is_minus_one() {
    assert_eq!(RESCHEDULE_PENALTY, -1.0);
}
