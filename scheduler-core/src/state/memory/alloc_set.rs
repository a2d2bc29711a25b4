//! [`AllocSet`]: the allocations of one node or one job, in id order, for
//! the store's secondary indexes.
//!
//! The store is copy-on-write: the first write after a snapshot copies
//! what it touches. A plan places on hundreds of nodes, and the leader's
//! workers always hold a snapshot, so every plan applied copied each
//! touched node's whole set of allocations. As a `BTreeMap<AllocId,
//! Arc<Allocation>>` that copy cloned two reference counts per allocation
//! (the id's and the allocation's, each a cache miss in a large store) and
//! rebuilt the tree's nodes; the old copy, dropped with the snapshot, cost
//! as much again. In a profile of C1M through a three-server cluster,
//! these index writes and the dropping of old copies were 9 % of samples,
//! growing with the allocations per node (7 % with this type).
//!
//! Here the allocations sit in sorted chunks of at most [`CHUNK`], each
//! behind its own `Arc`. Copying a set copies one pointer per chunk, and a
//! write then copies only the chunk it changes: O(n / CHUNK + CHUNK)
//! reference counts instead of O(2n).
//!
//! Each entry carries its id's order key ([`AllocId::order_key`]) and the
//! set keeps each chunk's last key: finding where an id goes compares
//! numbers held in the set and the chunk, not ids read through each
//! allocation's pointer (a cache miss apiece in a large store, a dozen per
//! insert into a job's set of a thousand).

use std::cmp::Ordering;
use std::sync::Arc;

use crate::model::{AllocId, Allocation};

/// The most allocations a chunk holds; a full chunk splits in two.
const CHUNK: usize = 32;

/// An allocation with its id's order key.
type Entry = (u64, Arc<Allocation>);

/// Orders an entry against the id `id` whose order key is `key`: by the
/// keys, and by the ids themselves only when those are equal.
fn entry_cmp(entry: &Entry, key: u64, id: &AllocId) -> Ordering {
    entry.0.cmp(&key).then_with(|| entry.1.id.cmp(id))
}

/// A set of allocations keyed by id, iterated in id order; cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllocSet {
    /// Non-empty chunks, each sorted by id, every id of a chunk below
    /// every id of the next.
    chunks: Vec<Arc<Vec<Entry>>>,
    /// The order key of each chunk's last id.
    lasts: Vec<u64>,
    len: usize,
}

impl AllocSet {
    /// How many allocations the set holds.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the set holds no allocation.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The allocations in id order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        self.chunks
            .iter()
            .flat_map(|chunk| chunk.iter().map(|(_, alloc)| alloc))
    }

    /// Whether an allocation with this id is in the set.
    pub(crate) fn contains(&self, id: &AllocId) -> bool {
        let key = id.order_key();
        let chunk = self.chunk_for(key, id);
        self.chunks.get(chunk).is_some_and(|entries| {
            entries
                .binary_search_by(|entry| entry_cmp(entry, key, id))
                .is_ok()
        })
    }

    /// Adds `alloc`, replacing the allocation with the same id if any.
    pub(crate) fn insert(&mut self, alloc: Arc<Allocation>) {
        let key = alloc.id.order_key();
        if self.chunks.is_empty() {
            self.chunks.push(Arc::new(vec![(key, alloc)]));
            self.lasts.push(key);
            self.len = 1;
            return;
        }
        // Past the last chunk's end: the id goes at the end of the last one.
        let position = self.chunk_for(key, &alloc.id).min(self.chunks.len() - 1);
        let chunk = Arc::make_mut(&mut self.chunks[position]);
        match chunk.binary_search_by(|entry| entry_cmp(entry, key, &alloc.id)) {
            Ok(at) => {
                chunk[at].1 = alloc;
                return;
            }
            Err(at) => chunk.insert(at, (key, alloc)),
        }
        self.len += 1;
        let upper = (chunk.len() > CHUNK).then(|| chunk.split_off(chunk.len() / 2));
        self.lasts[position] = last_key(chunk);
        if let Some(upper) = upper {
            self.lasts.insert(position + 1, last_key(&upper));
            self.chunks.insert(position + 1, Arc::new(upper));
        }
    }

    /// Removes the allocation with this id; whether there was one.
    pub(crate) fn remove(&mut self, id: &AllocId) -> bool {
        let key = id.order_key();
        let position = self.chunk_for(key, id);
        let Some(chunk) = self.chunks.get(position) else {
            return false;
        };
        let Ok(at) = chunk.binary_search_by(|entry| entry_cmp(entry, key, id)) else {
            return false;
        };
        let chunk = Arc::make_mut(&mut self.chunks[position]);
        chunk.remove(at);
        if chunk.is_empty() {
            self.chunks.remove(position);
            self.lasts.remove(position);
        } else {
            self.lasts[position] = last_key(chunk);
        }
        self.len -= 1;
        true
    }

    /// The first chunk whose last id is not below `id` (whose order key
    /// is `key`): where `id` is or would go, or the number of chunks when
    /// `id` is above them all. Reads a chunk only when its last key ties.
    fn chunk_for(&self, key: u64, id: &AllocId) -> usize {
        let mut position = self.lasts.partition_point(|&last| last < key);
        while self.lasts.get(position) == Some(&key)
            && self.chunks[position]
                .last()
                .is_some_and(|(_, last)| last.id < *id)
        {
            position += 1;
        }
        position
    }
}

/// The order key of a non-empty chunk's last entry.
fn last_key(chunk: &[Entry]) -> u64 {
    chunk.last().map_or(0, |(key, _)| *key)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    fn alloc(id: &str) -> Arc<Allocation> {
        Arc::new(Allocation {
            id: AllocId::new(id),
            ..Allocation::default()
        })
    }

    fn ids(set: &AllocSet) -> Vec<String> {
        set.iter().map(|a| a.id.as_str().to_owned()).collect()
    }

    #[test]
    fn a_copy_shares_chunks_until_one_is_written() {
        let mut set = AllocSet::default();
        for i in 0..100 {
            set.insert(alloc(&format!("alloc-{i:03}")));
        }
        let copy = set.clone();
        set.insert(alloc("alloc-050b"));
        let unshared = set
            .chunks
            .iter()
            .filter(|chunk| !copy.chunks.iter().any(|c| Arc::ptr_eq(c, chunk)))
            .count();
        // The written chunk (and, had it split, its new half) only.
        assert!(unshared <= 2, "{unshared} chunks copied");
        assert_eq!(copy.len(), 100);
        assert_eq!(set.len(), 101);
        assert!(set.contains(&AllocId::new("alloc-050b")));
        assert!(!copy.contains(&AllocId::new("alloc-050b")));
    }

    #[test]
    fn replacing_an_allocation_keeps_the_count() {
        let mut set = AllocSet::default();
        set.insert(alloc("a"));
        let mut newer = Allocation::clone(&alloc("a"));
        newer.name = "newer".into();
        set.insert(Arc::new(newer));
        assert_eq!(set.len(), 1);
        assert_eq!(set.iter().next().map(|a| a.name.as_str()), Some("newer"));
        assert!(!set.remove(&AllocId::new("b")));
        assert!(set.remove(&AllocId::new("a")));
        assert!(set.is_empty() && set.chunks.is_empty());
    }

    proptest! {
        /// Any sequence of inserts and removes leaves the set equal to a
        /// sorted set of the same ids, with chunks within bounds.
        #[test]
        fn behaves_as_a_sorted_set(
            ops in proptest::collection::vec((any::<bool>(), 0u16..300), 0..600)
        ) {
            let mut set = AllocSet::default();
            let mut model = BTreeSet::new();
            for (insert, n) in ops {
                // Ids sharing their first eight bytes, and some that do not.
                let id = if n % 3 == 0 { format!("{n:08}") } else { format!("same-pre-{n}") };
                if insert {
                    set.insert(alloc(&id));
                    model.insert(AllocId::new(&id));
                } else {
                    prop_assert_eq!(set.remove(&AllocId::new(&id)), model.remove(&AllocId::new(&id)));
                }
                prop_assert_eq!(set.len(), model.len());
            }
            let expected: Vec<String> = model.iter().map(|id| id.as_str().to_owned()).collect();
            prop_assert_eq!(ids(&set), expected);
            prop_assert!(set.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK));
            let lasts: Vec<u64> = set.chunks.iter().map(|c| last_key(c)).collect();
            prop_assert_eq!(&set.lasts, &lasts);
            for id in &model {
                prop_assert!(set.contains(id));
            }
        }
    }
}
