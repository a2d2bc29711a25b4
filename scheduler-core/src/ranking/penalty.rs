//! Penalties for placing next to the job's own allocations, and for placing
//! back where a replaced allocation failed.

/// The reschedule-penalty component for a node where the allocation being
/// replaced previously ran (and failed): a flat −1, as in Nomad's
/// `NodeReschedulingPenaltyIterator`. Added only on those nodes; elsewhere
/// the component is absent (it does not dilute the mean with a 0).
pub const RESCHEDULE_PENALTY: f64 = -1.0;

/// Nomad's job anti-affinity: `−(collisions + 1) / desired_count` when the
/// node already holds `collisions > 0` allocations of the same job *and*
/// group (existing ones plus those proposed earlier in this plan); `None`
/// when there are none, because Nomad then adds no component at all.
///
/// The `+ 1` counts the allocation being placed, so the first collision on a
/// node of a group of 3 costs −2/3. It spreads a group over nodes without a
/// `spread` block, softly: a node that is much better otherwise still wins.
///
/// A `desired_count` of 0 is read as 1 (Nomad would divide by zero and get
/// −∞); a group being placed wants at least one allocation.
pub fn job_anti_affinity(collisions: u32, desired_count: u32) -> Option<f64> {
    if collisions == 0 {
        return None;
    }
    let desired = desired_count.max(1);
    Some(-(f64::from(collisions) + 1.0) / f64::from(desired))
}
