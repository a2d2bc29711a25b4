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
    pub available_by_datacenter: BTreeMap<String, u32>,
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

/// Why a single node is not a base candidate, or `None` when it is.
pub fn base_rejection(job: &Job, node: &Node) -> Option<String> {
    let pool = job_pool(job);
    if !pool_matches(pool, &node.node_pool) {
        return Some(format!(
            "node is in node pool {:?}, the job uses {pool:?}",
            node.node_pool
        ));
    }
    if !datacenter_matches(&job.datacenters, &node.datacenter) {
        return Some(format!(
            "node is in datacenter {:?}, the job runs in {:?}",
            node.datacenter, job.datacenters
        ));
    }
    if node.status != NodeStatus::Ready {
        return Some(format!("node is {:?}, not ready", node.status).to_lowercase());
    }
    if node.is_draining() {
        return Some("node is draining".to_owned());
    }
    if !node.is_eligible() {
        return Some("node is ineligible for scheduling".to_owned());
    }
    None
}

/// Collects the job's base nodes in one pass over the snapshot.
pub fn base_nodes<'s>(snapshot: &'s dyn StateSnapshot, job: &Job) -> BaseNodes<'s> {
    let pool = job_pool(job);
    let mut base = BaseNodes::default();
    for node in snapshot.nodes() {
        if !pool_matches(pool, &node.node_pool) {
            base.left_out.other_pool += 1;
            continue;
        }
        base.nodes_in_pool += 1;
        if !datacenter_matches(&job.datacenters, &node.datacenter) {
            base.left_out.other_datacenter += 1;
            continue;
        }
        if node.status != NodeStatus::Ready {
            base.left_out.not_ready += 1;
            continue;
        }
        if node.is_draining() {
            base.left_out.draining += 1;
            continue;
        }
        if !node.is_eligible() {
            base.left_out.ineligible += 1;
            continue;
        }
        *base
            .available_by_datacenter
            .entry(node.datacenter.clone())
            .or_default() += 1;
        base.nodes.push(node);
    }
    base
}

/// Nodes in a seeded random order, shuffled lazily: position `i` is fixed
/// the first time it is read (Fisher–Yates from the front), so a placement
/// that looks at a dozen nodes of 50,000 pays for a dozen swaps, and the
/// order is the same however far it is read.
///
/// Placements continue where the previous one stopped (Nomad's round robin
/// over its shuffled list), so successive placements of a job start at
/// different nodes.
#[derive(Debug, Clone)]
pub struct ShuffledNodes<'s> {
    nodes: Vec<&'s Node>,
    fixed: usize,
    rng: ChaCha8Rng,
    /// Where the next pass starts.
    cursor: usize,
}

impl<'s> ShuffledNodes<'s> {
    /// Shuffles `nodes` with `rng`.
    pub fn new(nodes: Vec<&'s Node>, rng: ChaCha8Rng) -> Self {
        ShuffledNodes {
            nodes,
            fixed: 0,
            rng,
            cursor: 0,
        }
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether there are no nodes.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The node at shuffled position `index` (`index < len`).
    pub fn get(&mut self, index: usize) -> &'s Node {
        let len = self.nodes.len();
        while self.fixed <= index {
            let pick = self.rng.random_range(self.fixed..len);
            self.nodes.swap(self.fixed, pick);
            self.fixed += 1;
        }
        self.nodes[index]
    }

    /// Where the next pass starts.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Sets where the next pass starts (wrapped to the length).
    pub fn set_cursor(&mut self, position: usize) {
        self.cursor = if self.nodes.is_empty() {
            0
        } else {
            position % self.nodes.len()
        };
    }

    /// The whole order, shuffling what is left.
    pub fn all(&mut self) -> &[&'s Node] {
        if !self.nodes.is_empty() {
            self.get(self.nodes.len() - 1);
        }
        &self.nodes
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
    fn lazy_shuffle_is_a_permutation_and_independent_of_read_pattern() {
        let nodes: Vec<Node> = (0..50)
            .map(|i| Node {
                name: format!("n{i}"),
                ..Node::default()
            })
            .collect();
        let refs: Vec<&Node> = nodes.iter().collect();
        let mut a = ShuffledNodes::new(refs.clone(), ChaCha8Rng::seed_from_u64(7));
        let mut b = ShuffledNodes::new(refs, ChaCha8Rng::seed_from_u64(7));
        let first_three: Vec<String> = (0..3).map(|i| a.get(i).name.clone()).collect();
        let all_b: Vec<String> = b.all().iter().map(|n| n.name.clone()).collect();
        assert_eq!(first_three, all_b[..3]);
        let all_a: Vec<String> = a.all().iter().map(|n| n.name.clone()).collect();
        assert_eq!(all_a, all_b);
        let mut sorted = all_a.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 50);
        assert_ne!(
            all_a[..10],
            (0..10).map(|i| format!("n{i}")).collect::<Vec<_>>()[..]
        );
    }
}
