//! How well an allocation fits a node, by the cluster's placement algorithm
//! (Nomad's `ScoreFitBinPack` and `ScoreFitSpread`, normalised to `[0, 1]`).

use crate::model::{MHz, MiB, Node};
use crate::scheduler::config::SchedulerAlgorithm;

use super::math::pow10;

/// The largest raw fit score (`20 − 10^0 − 10^0`, a node left exactly full
/// under binpack); Nomad divides by it to bring the score into `[0, 1]`.
pub const MAX_FIT_SCORE: f64 = 18.0;

/// Nomad's `ScoreFitBinPack` / `ScoreFitSpread`, normalised to `[0, 1]`.
///
/// For CPU and for memory, `free = 1 − used / (capacity − reserved)`, where
/// `used` is everything the node would hold *after* this placement (its
/// proposed allocations plus this ask; the caller sums them, cores counted as
/// their CPU shares). Then
///
/// - binpack: `clamp(20 − 10^freeCpu − 10^freeMem, 0, 18) / 18`, highest for
///   a node the placement fills;
/// - spread: `clamp(10^freeCpu + 10^freeMem − 2, 0, 18) / 18`, highest for a
///   node left emptiest.
///
/// The exponential makes the last bit of free room matter most: filling a
/// node from 90 % to 100 % gains more than from 10 % to 20 %.
///
/// A dimension with no capacity left after reservations (zero or negative)
/// counts as fully used (`free = 0`) instead of dividing by zero, so the
/// result is never NaN. Over-commitment (`used` above capacity) gives a
/// negative `free` and is scored, not rejected: rejecting is the fit check's
/// job. Powers of ten are computed portably ([`super::math::pow10`]) so the
/// score is the same on every platform.
pub fn fit_score(
    algorithm: SchedulerAlgorithm,
    node: &Node,
    cpu_used_after: MHz,
    memory_used_after: MiB,
) -> f64 {
    let free_cpu = free_fraction(
        node.node_resources.cpu.cpu_shares.0,
        node.reserved_resources.cpu.cpu_shares.0,
        cpu_used_after.0,
    );
    let free_memory = free_fraction(
        node.node_resources.memory.memory_mb.0,
        node.reserved_resources.memory.memory_mb.0,
        memory_used_after.0,
    );
    // Both terms are positive (or +inf), so neither sum nor difference is NaN.
    let total = pow10(free_cpu) + pow10(free_memory);
    let raw = match algorithm {
        SchedulerAlgorithm::Binpack => 20.0 - total,
        SchedulerAlgorithm::Spread => total - 2.0,
    };
    raw.clamp(0.0, MAX_FIT_SCORE) / MAX_FIT_SCORE
}

/// `1 − used / (capacity − reserved)`, or 0 (fully used) when nothing is
/// schedulable in this dimension.
fn free_fraction(capacity: i64, reserved: i64, used: i64) -> f64 {
    // Nomad subtracts as floats; for realistic sizes this is identical, and
    // the integer form cannot lose precision on huge values.
    let available = capacity.saturating_sub(reserved);
    if available <= 0 {
        return 0.0;
    }
    1.0 - used as f64 / available as f64
}
