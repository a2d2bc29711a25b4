//! Binpack's best-fit look at nodes already in use.
//!
//! The plain walk scores the first `limit` usable nodes of a random order
//! (power of k choices). Under binpack that keeps opening empty nodes on a
//! cluster with many of them: the k sampled nodes are mostly empty even
//! when used nodes have room, so the fullest node that fits is rarely
//! among them (measured by `scale pack`: 1.5 to 3.9 times the nodes a
//! perfect packing needs; drawing busy nodes at random instead only got
//! to 1.26 to 1.33, because full nodes stay busy and crowd the draws).
//!
//! So before the walk, the nodes in use with the least free CPU, and
//! those with the least free memory, that still cover the ask
//! ([`StateSnapshot::busy_nodes_by_free`]) are scored, up to half of the
//! limit, within a bounded number of visits (nodes ruled out by
//! constraints or the other resource are skipped). The walk then
//! fills the rest of the limit as before, and the best score among all of
//! them wins: best fit among the tightest nodes, with the random sample
//! still in the running.
//!
//! [`StateSnapshot::busy_nodes_by_free`]: crate::state::StateSnapshot::busy_nodes_by_free

use super::*;
use crate::state::Resource;

/// How many nodes of the free-CPU index one placement may visit, per
/// candidate wanted: bounds the walk past nodes that have the CPU but not
/// the memory, or fail the group's constraints.
const VISITS_PER_CANDIDATE: usize = 4;

impl<'s> GroupPlacer<'s, '_> {
    /// Scores up to `wanted` of the tightest busy nodes into `candidates`:
    /// half from the nodes with the least free CPU that covers the ask,
    /// the rest from those with the least free memory (a node tight in one
    /// resource may be loose in the other, and the score weighs both).
    pub(super) fn best_fit_candidates(
        &mut self,
        walk: &mut Walk<'_, 's>,
        metric: &mut AllocMetric,
        candidates: &mut Vec<Candidate<'s>>,
        wanted: usize,
    ) {
        let snapshot = self.snapshot;
        let first = candidates.len();
        let passes = [
            (Resource::Cpu, self.ask.cpu.0, wanted.div_ceil(2)),
            (Resource::Memory, self.ask.memory.0, wanted),
        ];
        // Nodes passed over here are left to the walk's own counts (it may
        // meet them again): only the candidates taken count as evaluated.
        let mut scratch = AllocMetric::default();
        for (resource, ask, up_to) in passes {
            let visits = up_to.saturating_mul(VISITS_PER_CANDIDATE);
            for node in snapshot.busy_nodes_by_free(resource, ask).take(visits) {
                if candidates.len() - first >= up_to {
                    break;
                }
                if !self.busy_node_usable(node)
                    || candidates[first..]
                        .iter()
                        .any(|seen| std::ptr::eq(seen.node, node))
                {
                    continue;
                }
                if let Outcome::Scored(candidate) = self.evaluate(node, true, walk, &mut scratch)
                    && candidate.score > 0.0
                {
                    metric.nodes_evaluated += 1;
                    candidates.push(candidate);
                }
            }
        }
    }

    /// Whether `node` could take the group at all: in the job's pool and
    /// datacenters, and through its constraints. The same tight nodes head
    /// the index placement after placement, and answering from their
    /// strings each time (pool, datacenter, computed class: each a read
    /// of the node's heap) cost a tenth of a c1m run, so the answer is
    /// kept by the node's address, which a snapshot never changes.
    fn busy_node_usable(&mut self, node: &'s Node) -> bool {
        let address = std::ptr::from_ref(node).addr();
        if let Some(&usable) = self.busy_usable.get(&address) {
            return usable;
        }
        let usable = left_out(self.job, node).is_none() && self.feasibility.check(node).is_empty();
        self.busy_usable.insert(address, usable);
        usable
    }
}
