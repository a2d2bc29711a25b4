//! [`AllocTable`]: the store's allocations by id, in a persistent map whose
//! keys are plain numbers.
//!
//! The leader's workers always hold a snapshot, so each placement the
//! state machine stores copies the tree node it lands in, and placements'
//! random UUIDs put nearly every one in a different node: per placement a
//! leaf of up to 64 entries and, per plan, most of the branches above. With
//! `AllocId` keys each copied entry cost two reference counts (the id's
//! text and the allocation) and each copied branch key one; the old copies,
//! dropped with the snapshot, cost as much again. In a profile of C1M
//! through a three-server cluster that copying and dropping was about
//! 10 % of samples.
//!
//! Here the key is the id's first eight bytes as a number
//! ([`AllocId::order_key`]), which orders ids as their text does: a copied
//! entry costs one reference count, a copied branch key none, and a lookup
//! compares numbers without reading any id's text. Ids that share their
//! first eight bytes (never two UUIDs in practice, but any ids callers
//! choose) share a bucket, sorted by id, so iteration stays in id order.

use std::sync::Arc;

use crate::model::{AllocId, Allocation};

/// The allocations by id; cheap to clone, iterated in id order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllocTable {
    by_key: imbl::OrdMap<u64, Bucket>,
}

/// The allocations whose ids share a key.
#[derive(Debug, Clone)]
enum Bucket {
    One(Arc<Allocation>),
    /// Two or more, sorted by id.
    Many(Arc<Vec<Arc<Allocation>>>),
}

impl Bucket {
    fn get(&self, id: &AllocId) -> Option<&Arc<Allocation>> {
        match self {
            Bucket::One(alloc) => (alloc.id == *id).then_some(alloc),
            Bucket::Many(allocs) => allocs
                .binary_search_by(|a| a.id.cmp(id))
                .ok()
                .map(|at| &allocs[at]),
        }
    }

    fn iter(&self) -> std::slice::Iter<'_, Arc<Allocation>> {
        match self {
            Bucket::One(alloc) => std::slice::from_ref(alloc).iter(),
            Bucket::Many(allocs) => allocs.iter(),
        }
    }
}

impl AllocTable {
    /// The allocation with this id.
    pub(crate) fn get(&self, id: &AllocId) -> Option<&Arc<Allocation>> {
        self.by_key.get(&id.order_key())?.get(id)
    }

    /// Whether an allocation with this id is stored.
    pub(crate) fn contains_key(&self, id: &AllocId) -> bool {
        self.get(id).is_some()
    }

    /// Stores `alloc` under its id; returns the allocation it replaces.
    /// One walk down the tree when the key is new (the common case: the
    /// store inserts placements without looking them up first).
    pub(crate) fn insert(&mut self, alloc: Arc<Allocation>) -> Option<Arc<Allocation>> {
        let key = alloc.id.order_key();
        let displaced = self.by_key.insert(key, Bucket::One(alloc.clone()))?;
        let mut allocs = match displaced {
            Bucket::One(old) if old.id == alloc.id => return Some(old),
            Bucket::One(other) => vec![other],
            Bucket::Many(allocs) => Arc::unwrap_or_clone(allocs),
        };
        let replaced = match allocs.binary_search_by(|a| a.id.cmp(&alloc.id)) {
            Ok(at) => Some(std::mem::replace(&mut allocs[at], alloc)),
            Err(at) => {
                allocs.insert(at, alloc);
                None
            }
        };
        self.by_key.insert(key, Bucket::Many(Arc::new(allocs)));
        replaced
    }

    /// Removes the allocation with this id and returns it.
    pub(crate) fn remove(&mut self, id: &AllocId) -> Option<Arc<Allocation>> {
        let key = id.order_key();
        match self.by_key.get(&key)? {
            Bucket::One(alloc) if alloc.id == *id => {
                self.by_key.remove(&key).and_then(|bucket| match bucket {
                    Bucket::One(alloc) => Some(alloc),
                    Bucket::Many(_) => None,
                })
            }
            Bucket::One(_) => None,
            Bucket::Many(allocs) => {
                let at = allocs.binary_search_by(|a| a.id.cmp(id)).ok()?;
                let mut allocs = (**allocs).clone();
                let removed = allocs.remove(at);
                let rest = if allocs.len() == 1 {
                    Bucket::One(allocs.remove(0))
                } else {
                    Bucket::Many(Arc::new(allocs))
                };
                self.by_key.insert(key, rest);
                Some(removed)
            }
        }
    }

    /// The allocations in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        self.by_key.values().flat_map(Bucket::iter)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    fn alloc(id: &str, version: u64) -> Arc<Allocation> {
        Arc::new(Allocation {
            id: AllocId::new(id),
            modify_index: version,
            ..Allocation::default()
        })
    }

    fn contents(table: &AllocTable) -> Vec<(String, u64)> {
        table
            .values()
            .map(|a| (a.id.as_str().to_owned(), a.modify_index))
            .collect()
    }

    #[test]
    fn ids_sharing_their_first_eight_bytes_are_kept_apart_in_order() {
        let mut table = AllocTable::default();
        for id in ["worker-0003", "worker-0001", "a", "worker-0002", "zz"] {
            assert!(table.insert(alloc(id, 1)).is_none());
        }
        let replaced = table.insert(alloc("worker-0002", 2)).expect("replaces");
        assert_eq!(replaced.modify_index, 1);
        let ids: Vec<String> = contents(&table).into_iter().map(|(id, _)| id).collect();
        assert_eq!(
            ids,
            ["a", "worker-0001", "worker-0002", "worker-0003", "zz"]
        );
        assert_eq!(
            table
                .get(&AllocId::new("worker-0002"))
                .expect("stored")
                .modify_index,
            2
        );
        assert!(table.get(&AllocId::new("worker-0004")).is_none());
        assert!(table.remove(&AllocId::new("worker-0004")).is_none());
        assert!(table.remove(&AllocId::new("worker-0001")).is_some());
        assert!(table.remove(&AllocId::new("worker-0003")).is_some());
        assert!(table.contains_key(&AllocId::new("worker-0002")));
        assert!(!table.contains_key(&AllocId::new("worker-0003")));
    }

    #[test]
    fn a_clone_does_not_see_later_writes() {
        let mut table = AllocTable::default();
        table.insert(alloc("worker-0001", 1));
        table.insert(alloc("b", 1));
        let before = table.clone();
        table.insert(alloc("worker-0002", 1));
        table.insert(alloc("b", 2));
        table.remove(&AllocId::new("worker-0001"));
        assert_eq!(
            contents(&before),
            [("b".to_owned(), 1), ("worker-0001".to_owned(), 1)]
        );
        assert_eq!(
            contents(&table),
            [("b".to_owned(), 2), ("worker-0002".to_owned(), 1)]
        );
    }

    /// Ids from a small alphabet and lengths around eight bytes, so that
    /// many share their first eight bytes and buckets fill and empty.
    fn id() -> impl Strategy<Value = String> {
        "[ab]{6,10}"
    }

    proptest! {
        #[test]
        fn behaves_as_a_map_by_id(
            ops in proptest::collection::vec((any::<bool>(), id(), 0u64..4), 0..200)
        ) {
            let mut table = AllocTable::default();
            let mut model: BTreeMap<String, u64> = BTreeMap::new();
            for (insert, id, version) in ops {
                if insert {
                    let replaced = table.insert(alloc(&id, version)).map(|a| a.modify_index);
                    prop_assert_eq!(replaced, model.insert(id, version));
                } else {
                    let removed = table.remove(&AllocId::new(&id)).map(|a| a.modify_index);
                    prop_assert_eq!(removed, model.remove(&id));
                }
            }
            let expected: Vec<(String, u64)> = model.clone().into_iter().collect();
            prop_assert_eq!(contents(&table), expected);
            for (id, version) in &model {
                prop_assert_eq!(table.get(&AllocId::new(id)).map(|a| a.modify_index), Some(*version));
            }
        }
    }
}
