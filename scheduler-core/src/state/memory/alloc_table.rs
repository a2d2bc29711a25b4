//! [`AllocTable`]: the store's allocations by id, in persistent structures
//! that a snapshot shares and a write copies only where it lands.
//!
//! A leader's worker holds a snapshot while it schedules, so a placement
//! the state machine stores meanwhile copies the tree nodes it lands in, and placements'
//! random UUIDs put nearly every one in a different leaf of the id order.
//! Copying a leaf of allocations means touching each of its 64
//! allocations' reference counts (64 cache misses, and as many again when
//! the snapshot drops the old leaf): about 10 % of a profile of C1M
//! through a three-server cluster, even with keys that are plain numbers.
//!
//! So the table is split in two:
//! - `by_key`: each id's first eight bytes as a number
//!   ([`AllocId::order_key`], which orders ids as their text does) to the
//!   slot of its allocation. Its leaves hold plain numbers: copying one
//!   is a copy of a kilobyte, with no pointer followed. It is cut into
//!   4,096 maps by the key's top bits ([`Keys`]): one big tree's branches
//!   were all copied by a plan's thousand random keys, each copy touching
//!   the reference counts of its 64 children, so a plan under a snapshot
//!   touched every leaf of the tree; a cut map's root has a handful.
//! - `slots`: the allocations themselves in a persistent vector, a new one
//!   appended at the end (or in a slot a removal freed). A plan's
//!   placements land side by side at the tail: one leaf copied per
//!   64 placements, holding allocations just written. (A placement that
//!   takes a freed slot, or an update of a stored allocation, copies that
//!   slot's leaf as a write to the single tree did.)
//!
//! Ids that share their first eight bytes (never two UUIDs in practice,
//! but any ids callers choose) share a bucket of slots sorted by id, so
//! iteration stays in id order.

use std::sync::Arc;

use crate::model::{AllocId, Allocation};

/// The allocations by id; cheap to clone, iterated in id order.
#[derive(Debug, Clone, Default)]
pub(crate) struct AllocTable {
    by_key: Keys,
    slots: imbl::Vector<Option<Arc<Allocation>>>,
    /// Slots emptied by removals, taken again before the vector grows.
    free: imbl::Vector<u32>,
}

/// How many maps [`Keys`] cuts the keys into (by their top bits).
const SHARD_BITS: u32 = 12;

/// Order keys to buckets: one persistent map per value of the key's top
/// [`SHARD_BITS`] bits, so iterating the maps in turn stays in key order.
/// UUIDs spread evenly over the maps; ids that do not (any text callers
/// choose) gather in a few, which then behave as one big map would.
#[derive(Debug, Clone, Default)]
struct Keys {
    /// Empty until the first insert; then one map per shard.
    shards: Arc<Vec<imbl::OrdMap<u64, Bucket>>>,
}

impl Keys {
    fn shard_of(key: u64) -> usize {
        // The top bits of a u64 always fit a usize of 32 bits or more.
        usize::try_from(key >> (64 - SHARD_BITS)).unwrap_or(0)
    }

    fn get(&self, key: u64) -> Option<&Bucket> {
        self.shards.get(Self::shard_of(key))?.get(&key)
    }

    fn insert(&mut self, key: u64, bucket: Bucket) -> Option<Bucket> {
        self.shard_mut(key).insert(key, bucket)
    }

    fn remove(&mut self, key: u64) -> Option<Bucket> {
        // A miss copies nothing a snapshot shares.
        self.get(key)?;
        self.shard_mut(key).remove(&key)
    }

    fn values(&self) -> impl Iterator<Item = &Bucket> + '_ {
        self.shards.iter().flat_map(imbl::OrdMap::values)
    }

    fn shard_mut(&mut self, key: u64) -> &mut imbl::OrdMap<u64, Bucket> {
        let shards = Arc::make_mut(&mut self.shards);
        if shards.is_empty() {
            shards.resize(1 << SHARD_BITS, imbl::OrdMap::new());
        }
        &mut shards[Self::shard_of(key)]
    }
}

/// The slots of the allocations whose ids share a key.
#[derive(Debug, Clone)]
enum Bucket {
    One(u32),
    /// Two or more, sorted by the ids of their allocations.
    Many(Arc<Vec<u32>>),
}

impl Bucket {
    fn slots(&self) -> &[u32] {
        match self {
            Bucket::One(slot) => std::slice::from_ref(slot),
            Bucket::Many(slots) => slots,
        }
    }
}

impl AllocTable {
    /// The allocation with this id.
    pub(crate) fn get(&self, id: &AllocId) -> Option<&Arc<Allocation>> {
        let bucket = self.by_key.get(id.order_key())?;
        let slots = bucket.slots();
        let at = self.position(slots, id).ok()?;
        self.at(slots[at])
    }

    /// Whether an allocation with this id is stored.
    pub(crate) fn contains_key(&self, id: &AllocId) -> bool {
        self.get(id).is_some()
    }

    /// Stores `alloc` unless an allocation with its id is stored already,
    /// in which case the table is left as it was and `alloc` comes back.
    /// One walk down the tree when the key is new (the common case: the
    /// store inserts placements without looking them up first).
    pub(crate) fn insert_new(&mut self, alloc: Arc<Allocation>) -> Result<(), Arc<Allocation>> {
        let key = alloc.id.order_key();
        let slot = self.next_slot();
        let Some(displaced) = self.by_key.insert(key, Bucket::One(slot)) else {
            self.fill(slot, alloc);
            return Ok(());
        };
        let mut slots = displaced.slots().to_vec();
        match self.position(&slots, &alloc.id) {
            Ok(_) => {
                self.by_key.insert(key, displaced);
                Err(alloc)
            }
            Err(at) => {
                slots.insert(at, slot);
                self.by_key.insert(key, Bucket::Many(Arc::new(slots)));
                self.fill(slot, alloc);
                Ok(())
            }
        }
    }

    /// Stores `alloc` under its id; returns the allocation it replaces.
    pub(crate) fn insert(&mut self, alloc: Arc<Allocation>) -> Option<Arc<Allocation>> {
        let key = alloc.id.order_key();
        if let Some(bucket) = self.by_key.get(key) {
            let slots = bucket.slots();
            if let Ok(at) = self.position(slots, &alloc.id) {
                let slot = slots[at];
                return self.slots.set(slot as usize, Some(alloc));
            }
        }
        // Not stored: inserting it as new cannot find it either.
        self.insert_new(alloc).err()
    }

    /// Removes the allocation with this id and returns it.
    pub(crate) fn remove(&mut self, id: &AllocId) -> Option<Arc<Allocation>> {
        let key = id.order_key();
        let bucket = self.by_key.get(key)?;
        let mut slots = bucket.slots().to_vec();
        let at = self.position(&slots, id).ok()?;
        let slot = slots.remove(at);
        match slots.len() {
            0 => {
                self.by_key.remove(key);
            }
            1 => {
                self.by_key.insert(key, Bucket::One(slots[0]));
            }
            _ => {
                self.by_key.insert(key, Bucket::Many(Arc::new(slots)));
            }
        }
        let removed = self.slots.set(slot as usize, None);
        self.free.push_back(slot);
        removed
    }

    /// The allocations in id order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &Arc<Allocation>> + '_ {
        self.by_key
            .values()
            .flat_map(Bucket::slots)
            .filter_map(|slot| self.at(*slot))
    }

    /// The allocation in `slot`.
    fn at(&self, slot: u32) -> Option<&Arc<Allocation>> {
        self.slots.get(slot as usize)?.as_ref()
    }

    /// Where `id` is among a bucket's `slots` (sorted by id), or where it
    /// would go.
    fn position(&self, slots: &[u32], id: &AllocId) -> Result<usize, usize> {
        slots.binary_search_by(|slot| match self.at(*slot) {
            Some(alloc) => alloc.id.cmp(id),
            // An empty slot in a bucket would be a bug; sorting it first
            // keeps the search total.
            None => std::cmp::Ordering::Less,
        })
    }

    /// The slot the next new allocation takes (see [`AllocTable::fill`]).
    fn next_slot(&self) -> u32 {
        match self.free.last() {
            Some(slot) => *slot,
            // Four billion allocations in one store is past anything a
            // server holds in memory.
            None => u32::try_from(self.slots.len()).unwrap_or(u32::MAX),
        }
    }

    /// Puts `alloc` in the slot [`AllocTable::next_slot`] named.
    fn fill(&mut self, slot: u32, alloc: Arc<Allocation>) {
        if self.free.last() == Some(&slot) {
            self.free.pop_back();
            self.slots.set(slot as usize, Some(alloc));
        } else {
            self.slots.push_back(Some(alloc));
        }
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

    #[test]
    fn a_freed_slot_is_taken_again_without_touching_older_clones() {
        let mut table = AllocTable::default();
        table.insert(alloc("a", 1));
        table.insert(alloc("b", 1));
        table.remove(&AllocId::new("a"));
        let before = table.clone();
        assert!(table.insert_new(alloc("c", 1)).is_ok());
        assert_eq!(table.slots.len(), 2, "the freed slot is reused");
        assert_eq!(contents(&before), [("b".to_owned(), 1)]);
        assert_eq!(contents(&table), [("b".to_owned(), 1), ("c".to_owned(), 1)]);
    }

    #[test]
    fn inserting_a_stored_id_as_new_changes_nothing() {
        let mut table = AllocTable::default();
        table.insert(alloc("worker-0001", 1));
        table.insert(alloc("worker-0002", 1));
        let refused = table
            .insert_new(alloc("worker-0002", 2))
            .expect_err("stored");
        assert_eq!(refused.modify_index, 2);
        assert_eq!(
            contents(&table),
            [("worker-0001".to_owned(), 1), ("worker-0002".to_owned(), 1)]
        );
    }

    /// Ids from a small alphabet and lengths around eight bytes, so that
    /// many share their first eight bytes and buckets fill and empty; the
    /// first letters spread them over several shards of the key map.
    fn id() -> impl Strategy<Value = String> {
        "[0abz][ab]{5,9}"
    }

    #[derive(Debug, Clone)]
    enum Op {
        Upsert(String, u64),
        InsertNew(String, u64),
        Remove(String),
        /// Keep a clone, checked at the end against the model of then.
        Snapshot,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (id(), 0u64..4).prop_map(|(id, v)| Op::Upsert(id, v)),
            (id(), 0u64..4).prop_map(|(id, v)| Op::InsertNew(id, v)),
            id().prop_map(Op::Remove),
            Just(Op::Snapshot),
        ]
    }

    proptest! {
        #[test]
        fn behaves_as_a_map_by_id(ops in proptest::collection::vec(op(), 0..200)) {
            let mut table = AllocTable::default();
            let mut model: BTreeMap<String, u64> = BTreeMap::new();
            let mut clones = Vec::new();
            for op in ops {
                match op {
                    Op::Upsert(id, version) => {
                        let replaced = table.insert(alloc(&id, version)).map(|a| a.modify_index);
                        prop_assert_eq!(replaced, model.insert(id, version));
                    }
                    Op::InsertNew(id, version) => {
                        let refused = table.insert_new(alloc(&id, version)).is_err();
                        prop_assert_eq!(refused, model.contains_key(&id));
                        model.entry(id).or_insert(version);
                    }
                    Op::Remove(id) => {
                        let removed = table.remove(&AllocId::new(&id)).map(|a| a.modify_index);
                        prop_assert_eq!(removed, model.remove(&id));
                    }
                    Op::Snapshot => clones.push((table.clone(), model.clone())),
                }
            }
            let expected: Vec<(String, u64)> = model.clone().into_iter().collect();
            prop_assert_eq!(contents(&table), expected);
            for (id, version) in &model {
                prop_assert_eq!(table.get(&AllocId::new(id)).map(|a| a.modify_index), Some(*version));
            }
            prop_assert!(table.slots.len() <= model.len() + table.free.len());
            for (clone, then) in clones {
                let expected: Vec<(String, u64)> = then.into_iter().collect();
                prop_assert_eq!(contents(&clone), expected);
            }
        }
    }
}
