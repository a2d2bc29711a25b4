//! Which nodes a job may use at all (ready, eligible, in its datacenters and
//! node pool), and the seeded order placements visit them in.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::model::{Job, Node, NodeStatus};
use crate::state::StateSnapshot;

/// Nodes left out before any constraint is checked, by reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BaseCounts {
    /// Nodes not `ready` (initializing, down, disconnected).
    pub not_ready: u32,
    /// Ready nodes marked ineligible for scheduling.
    pub ineligible: u32,
    /// Ready nodes being drained.
    pub draining: u32,
    /// Nodes in a datacenter the job does not list.
    pub other_datacenter: u32,
    /// Nodes in another node pool.
    pub other_pool: u32,
}

impl BaseCounts {
    /// Human phrases for the non-zero counts: `2 not ready`, `1 draining`.
    pub fn phrases(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut push = |count: u32, what: &str| {
            if count > 0 {
                out.push(format!("{count} {what}"));
            }
        };
        push(self.not_ready, "not ready");
        push(self.ineligible, "ineligible");
        push(self.draining, "draining");
        push(self.other_datacenter, "in other datacenters");
        push(self.other_pool, "in other node pools");
        out
    }
}

/// The nodes a job may be placed on, before feasibility.
#[derive(Debug, Clone, Default)]
pub struct BaseNodes<'s> {
    /// Ready, eligible nodes in the job's datacenters and pool, in id order.
    pub nodes: Vec<&'s Node>,
    /// What was left out, and why.
    pub left_out: BaseCounts,
    /// Nodes in the job's pool (Nomad's `NodesInPool`), whatever their state.
    pub nodes_in_pool: u32,
    /// Usable nodes per datacenter (Nomad's `NodesAvailable`).
    pub available_by_datacenter: crate::model::VecMap<String, u32>,
}

/// The job's node pool: `default` when unset. `all` matches every pool.
pub fn job_pool(job: &Job) -> &str {
    if job.node_pool.is_empty() {
        "default"
    } else {
        &job.node_pool
    }
}

/// Whether a node in `node_pool` belongs to the job's pool.
pub fn pool_matches(job_pool: &str, node_pool: &str) -> bool {
    let node_pool = if node_pool.is_empty() {
        "default"
    } else {
        node_pool
    };
    job_pool == "all" || job_pool == node_pool
}

/// Whether `datacenter` matches one of the job's datacenter globs (`*`
/// matches any run of characters, `?` one character). No datacenters means
/// every datacenter, as Nomad's default `["*"]`.
pub fn datacenter_matches(patterns: &[String], datacenter: &str) -> bool {
    patterns.is_empty()
        || patterns
            .iter()
            .any(|pattern| glob_match(pattern.as_bytes(), datacenter.as_bytes()))
}

/// Iterative glob matching with backtracking to the last `*`: linear in
/// practice, no recursion, no regex compilation per node.
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == b'?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Why a node is left out before any check of the job's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeftOut {
    /// In another node pool.
    OtherPool,
    /// In a datacenter the job does not list.
    OtherDatacenter,
    /// Not `ready`.
    NotReady,
    /// Being drained.
    Draining,
    /// Marked ineligible.
    Ineligible,
}

impl BaseCounts {
    /// Counts one node left out.
    pub fn add(&mut self, reason: LeftOut) {
        let counter = match reason {
            LeftOut::OtherPool => &mut self.other_pool,
            LeftOut::OtherDatacenter => &mut self.other_datacenter,
            LeftOut::NotReady => &mut self.not_ready,
            LeftOut::Draining => &mut self.draining,
            LeftOut::Ineligible => &mut self.ineligible,
        };
        *counter += 1;
    }
}

/// Whether the job may use the node at all; cheap, no allocation.
pub fn left_out(job: &Job, node: &Node) -> Option<LeftOut> {
    if !pool_matches(job_pool(job), &node.node_pool) {
        Some(LeftOut::OtherPool)
    } else if !datacenter_matches(&job.datacenters, &node.datacenter) {
        Some(LeftOut::OtherDatacenter)
    } else if node.status != NodeStatus::Ready {
        Some(LeftOut::NotReady)
    } else if node.is_draining() {
        Some(LeftOut::Draining)
    } else if !node.is_eligible() {
        Some(LeftOut::Ineligible)
    } else {
        None
    }
}

/// Why a single node is not a base candidate, in words, or `None` when it
/// is.
pub fn base_rejection(job: &Job, node: &Node) -> Option<String> {
    let pool = job_pool(job);
    left_out(job, node).map(|reason| match reason {
        LeftOut::OtherPool => format!(
            "node is in node pool {:?}, the job uses {pool:?}",
            node.node_pool
        ),
        LeftOut::OtherDatacenter => format!(
            "node is in datacenter {:?}, the job runs in {:?}",
            node.datacenter, job.datacenters
        ),
        LeftOut::NotReady => format!("node is {:?}, not ready", node.status).to_lowercase(),
        LeftOut::Draining => "node is draining".to_owned(),
        LeftOut::Ineligible => "node is ineligible for scheduling".to_owned(),
    })
}

/// Collects the job's base nodes in one pass over the snapshot (system
/// jobs visit every node anyway; other jobs call it only to explain a
/// failure).
pub fn base_nodes<'s>(snapshot: &'s dyn StateSnapshot, job: &Job) -> BaseNodes<'s> {
    let mut base = BaseNodes::default();
    for node in snapshot.nodes() {
        match left_out(job, node) {
            Some(reason) => {
                base.left_out.add(reason);
                if reason != LeftOut::OtherPool {
                    base.nodes_in_pool += 1;
                }
            }
            None => {
                base.nodes_in_pool += 1;
                *base
                    .available_by_datacenter
                    .entry(node.datacenter.clone())
                    .or_default() += 1;
                base.nodes.push(node);
            }
        }
    }
    base
}

/// Where the shuffle keeps the permutation.
#[derive(Debug, Clone)]
enum Permutation {
    /// Every position, for walks that will read a good part of the order.
    Dense(Vec<u32>),
    /// Only the positions a swap touched, for walks that read a few: no
    /// O(n) work at all.
    Sparse(BTreeMap<usize, usize>),
}

/// Every node of the snapshot in a seeded random order, shuffled lazily:
/// position `i` is fixed the first time it is read (Fisher–Yates from the
/// front), so a placement that looks at a dozen nodes of 50,000 pays for a
/// dozen swaps, and the order is the same however far it is read. Nodes are
/// reached through [`StateSnapshot::node_at`], so nothing scans the cluster.
///
/// Placements continue where the previous one stopped (Nomad's round robin
/// over its shuffled list), so successive placements of a job start at
/// different nodes.
pub struct ShuffledNodes<'s> {
    snapshot: &'s dyn StateSnapshot,
    len: usize,
    permutation: Permutation,
    fixed: usize,
    rng: ChaCha8Rng,
    /// Where the next pass starts.
    cursor: usize,
}

impl std::fmt::Debug for ShuffledNodes<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShuffledNodes")
            .field("len", &self.len)
            .field("fixed", &self.fixed)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl<'s> ShuffledNodes<'s> {
    /// The snapshot's nodes, shuffled with `rng`. `expected_reads` guesses
    /// how many positions the walk will read; past a hundredth of the
    /// nodes a dense permutation (O(n) to set up, O(1) per read) beats a
    /// sparse one (O(log k) per read).
    pub fn new(snapshot: &'s dyn StateSnapshot, rng: ChaCha8Rng, expected_reads: usize) -> Self {
        let len = snapshot.node_count();
        let permutation = if expected_reads.saturating_mul(100) >= len {
            Permutation::Dense((0..u32::try_from(len).unwrap_or(u32::MAX)).collect())
        } else {
            Permutation::Sparse(BTreeMap::new())
        };
        ShuffledNodes {
            snapshot,
            len,
            permutation,
            fixed: 0,
            rng,
            cursor: 0,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, position: usize) -> usize {
        match &self.permutation {
            Permutation::Dense(slots) => slots[position] as usize,
            Permutation::Sparse(moved) => moved.get(&position).copied().unwrap_or(position),
        }
    }

    /// The node at shuffled position `index` (`index < len`).
    pub fn get(&mut self, index: usize) -> &'s Node {
        self.get_with_slot(index).1
    }

    /// The node at shuffled position `index` (`index < len`) with its
    /// position in the snapshot ([`StateSnapshot::node_at`]), a dense index
    /// for per-node memos.
    pub fn get_with_slot(&mut self, index: usize) -> (usize, &'s Node) {
        while self.fixed <= index {
            let pick = self.rng.random_range(self.fixed..self.len);
            match &mut self.permutation {
                Permutation::Dense(slots) => slots.swap(self.fixed, pick),
                Permutation::Sparse(moved) => {
                    let here = moved.get(&self.fixed).copied().unwrap_or(self.fixed);
                    let there = moved.get(&pick).copied().unwrap_or(pick);
                    moved.insert(self.fixed, there);
                    moved.insert(pick, here);
                }
            }
            self.fixed += 1;
        }
        let slot = self.slot(index);
        let node = self
            .snapshot
            .node_at(slot)
            .expect("node_at answers for every position below node_count");
        (slot, node)
    }

    /// Where the next pass starts.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Sets where the next pass starts (wrapped to the length).
    pub fn set_cursor(&mut self, position: usize) {
        self.cursor = if self.len == 0 {
            0
        } else {
            position % self.len
        };
    }

    /// The random stream, for other seeded choices of the same walk.
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn datacenter_globs() {
        let dcs = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(datacenter_matches(&dcs(&["*"]), "dc1"));
        assert!(datacenter_matches(&dcs(&[]), "dc1"));
        assert!(datacenter_matches(&dcs(&["us-*"]), "us-east-1"));
        assert!(!datacenter_matches(&dcs(&["us-*"]), "eu-west-1"));
        assert!(datacenter_matches(&dcs(&["dc?"]), "dc3"));
        assert!(!datacenter_matches(&dcs(&["dc?"]), "dc10"));
        assert!(datacenter_matches(&dcs(&["eu", "*-1"]), "us-east-1"));
        assert!(datacenter_matches(&dcs(&["*east*"]), "us-east-1"));
        assert!(!datacenter_matches(&dcs(&["dc1"]), "dc10"));
    }

    #[test]
    fn pools() {
        assert!(pool_matches("default", ""));
        assert!(pool_matches("all", "gpu"));
        assert!(!pool_matches("gpu", "default"));
    }

    #[test]
    fn lazy_shuffle_is_a_permutation_whatever_the_read_pattern_or_storage() {
        let mut state = crate::state::MemoryState::new();
        let nodes: Vec<Node> = (0..50)
            .map(|i| Node {
                id: crate::model::NodeId::new(format!("id-{i:02}")),
                name: format!("n{i:02}"),
                ..Node::default()
            })
            .collect();
        state.upsert_nodes(1, nodes).expect("nodes");
        let snapshot = state.snapshot();
        let read = |expected_reads: usize, pattern: &[usize]| {
            let mut order =
                ShuffledNodes::new(&snapshot, ChaCha8Rng::seed_from_u64(7), expected_reads);
            let mut seen: Vec<String> =
                pattern.iter().map(|i| order.get(*i).name.clone()).collect();
            seen.extend((0..50).map(|i| order.get(i).name.clone()));
            seen
        };
        let dense = read(50, &[]);
        let sparse = read(0, &[]);
        assert_eq!(dense, sparse, "dense and sparse permutations agree");
        let jumpy = read(0, &[40, 3, 49]);
        assert_eq!(
            jumpy[3..],
            sparse[..],
            "reading ahead first changes nothing"
        );
        let mut sorted = dense.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        let identity: Vec<String> = (0..10).map(|i| format!("n{i:02}")).collect();
        assert_ne!(dense[..10], identity[..]);
    }
}
