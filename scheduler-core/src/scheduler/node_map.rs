//! A map by node id for the placement walk's lookups, a dozen per placement.
//!
//! As B-trees of thousands of ids, each lookup read several tree nodes (a
//! cache miss each). With the standard `HashMap`, SipHash of the id's text
//! took a seventh of the walk; and hashing the text at all reads it from the
//! heap, a cache miss per lookup (`scale c1m`: 19–20 µs per placement
//! hashing the inline part, 22–31 µs hashing the text, alternating runs).
//! So the map hashes each id's inline part ([`NodeId::inline_hash`]) and
//! compares ids, which copies of one id answer without reading their text.
//! Ids that share their inline part, such as `worker-0001` and
//! `worker-0002`, would all land in one bucket and turn lookups into scans:
//! the first such pair inserted switches the map to hashing the text.
//!
//! Callers never let the table's order reach a plan (they sort what they
//! iterate), so neither the fixed hash nor the switch can change a decision.

use std::hash::{BuildHasher, Hash, Hasher};

use indexmap::{Equivalent, IndexMap};

use crate::model::NodeId;

/// Values by node id; see the module documentation.
#[derive(Debug, Clone)]
pub struct NodeMap<V> {
    entries: IndexMap<NodeKey, V, IdHashing>,
}

impl<V> Default for NodeMap<V> {
    fn default() -> Self {
        NodeMap {
            entries: IndexMap::with_hasher(IdHashing::default()),
        }
    }
}

impl<V> NodeMap<V> {
    /// The node's value.
    pub fn get(&self, node: &NodeId) -> Option<&V> {
        self.entries.get(&ByNode(node))
    }

    /// The node's value, to change.
    pub fn get_mut(&mut self, node: &NodeId) -> Option<&mut V> {
        self.entries.get_mut(&ByNode(node))
    }

    /// Where the node's value is, for [`NodeMap::at`].
    pub fn index_of(&self, node: &NodeId) -> Option<usize> {
        self.entries.get_index_of(&ByNode(node))
    }

    /// The value at an index [`NodeMap::index_of`] or
    /// [`NodeMap::insert_absent`] returned, with no removal since.
    pub fn at(&self, index: usize) -> &V {
        &self.entries[index]
    }

    /// Sets the value of a node the map does not hold (an
    /// [`NodeMap::index_of`] just missed), without looking it up again;
    /// returns its index.
    pub fn insert_absent(&mut self, node: &NodeId, value: V) -> usize {
        debug_assert!(self.index_of(node).is_none(), "{node:?} is in the map");
        self.insert_new(node, value)
    }

    /// The node's value, inserting the default first if it has none.
    pub fn get_or_insert_default(&mut self, node: &NodeId) -> &mut V
    where
        V: Default,
    {
        let index = match self.index_of(node) {
            Some(index) => index,
            None => self.insert_new(node, V::default()),
        };
        &mut self.entries[index]
    }

    /// Removes the node's value (moving the last entry into its place).
    pub fn remove(&mut self, node: &NodeId) -> Option<V> {
        self.entries.swap_remove(&ByNode(node))
    }

    /// The entries, in no meaningful order.
    pub fn iter(&self) -> impl Iterator<Item = (&NodeId, &V)> {
        self.entries.iter().map(|(key, value)| (&key.0, value))
    }

    /// Whether the map has switched to hashing ids' text.
    pub fn hashes_text(&self) -> bool {
        self.entries.hasher().text
    }

    /// Inserts a node the map does not hold.
    fn insert_new(&mut self, node: &NodeId, value: V) -> usize {
        // One more probe per new node: an entry with the same inline hash
        // is a different id (the lookup by id missed) in the same bucket.
        if !self.hashes_text() && self.entries.contains_key(&ByInline(node.inline_hash())) {
            self.hash_text();
        }
        self.entries.insert_full(NodeKey(node.clone()), value).0
    }

    /// Rebuilds the table hashing ids' text, keeping the entries' order.
    fn hash_text(&mut self) {
        let hashing = IdHashing { text: true };
        let entries = std::mem::replace(&mut self.entries, IndexMap::with_hasher(hashing));
        self.entries.reserve(entries.len() + 1);
        self.entries.extend(entries);
    }
}

/// A node id as a key. Its hash feeds the hasher both the inline hash and
/// the text; the hasher mixes whichever its map's mode asks for and ignores
/// the other, so the text is only read in text mode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct NodeKey(NodeId);

impl Hash for NodeKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        ByNode(&self.0).hash(state);
    }
}

/// A node id to look the map up with, without copying it.
struct ByNode<'a>(&'a NodeId);

impl Hash for ByNode<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0.inline_hash());
        state.write(self.0.as_str().as_bytes());
    }
}

impl Equivalent<NodeKey> for ByNode<'_> {
    fn equivalent(&self, key: &NodeKey) -> bool {
        *self.0 == key.0
    }
}

/// Any key with this inline hash, in inline mode only (where the text a
/// key writes is ignored).
struct ByInline(u64);

impl Hash for ByInline {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

impl Equivalent<NodeKey> for ByInline {
    fn equivalent(&self, key: &NodeKey) -> bool {
        key.0.inline_hash() == self.0
    }
}

/// The map's hashing mode.
#[derive(Debug, Default, Clone, Copy)]
struct IdHashing {
    /// Hash ids' text rather than their inline part.
    text: bool,
}

impl BuildHasher for IdHashing {
    type Hasher = IdHasher;

    fn build_hasher(&self) -> IdHasher {
        IdHasher {
            state: 0,
            text: self.text,
        }
    }
}

/// Mixes words with a multiply each (as rustc's `FxHasher`), and the text
/// eight bytes at a time: a UUID is five words, where SipHash ran rounds
/// per word and a finalisation. Not resistant to chosen collisions, which
/// only a registered client could choose. Only [`ByNode`] and [`ByInline`]
/// feed it: in inline mode it ignores `write`, in text mode `write_u64`.
#[derive(Debug, Clone, Copy)]
struct IdHasher {
    state: u64,
    text: bool,
}

impl IdHasher {
    fn mix(&mut self, word: u64) {
        self.state = (self.state ^ word).wrapping_mul(0xf135_7aea_2e62_a9c5);
    }
}

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        if !self.text {
            return;
        }
        // The length first, so a text and the same text with trailing
        // zero bytes (the padding of the last word) differ.
        self.mix(bytes.len() as u64);
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let word: [u8; 8] = word.try_into().expect("chunks of eight");
            self.mix(u64::from_le_bytes(word));
        }
        let tail = words.remainder();
        if !tail.is_empty() {
            let mut word = [0u8; 8];
            word[..tail.len()].copy_from_slice(tail);
            self.mix(u64::from_le_bytes(word));
        }
    }

    fn write_u64(&mut self, word: u64) {
        if !self.text {
            self.mix(word);
        }
    }

    fn finish(&self) -> u64 {
        // A multiply only carries a bit upwards, and the table takes its
        // bucket from the low bits: MurmurHash3's 64-bit finaliser makes
        // every input bit reach every output bit, once per lookup.
        let mut hash = self.state;
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
        hash ^= hash >> 33;
        hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        hash ^ (hash >> 33)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    type NameOf = fn(u32) -> String;

    /// Node ids in the forms people name them.
    const FORMS: [(&str, NameOf); 4] = [
        ("worker-0001", |i| format!("worker-{i:04}")),
        ("n0000001 (eight bytes)", |i| format!("n{i:07}")),
        ("node-1", |i| format!("node-{i}")),
        ("uuid", |i| {
            format!(
                "{:08x}-0000-4000-8000-{:012x}",
                i.wrapping_mul(2_654_435_761),
                i
            )
        }),
    ];

    fn bucket_of(hashing: IdHashing, id: &str) -> u64 {
        hashing.hash_one(NodeKey(NodeId::new(id))) & 4095
    }

    /// Hashing the text spreads ids of every form over a table's buckets
    /// about as random hashes would (4096 ids in 4096 buckets fill about
    /// 2590): a weak spread turns each lookup into a scan.
    #[test]
    fn text_hashes_of_common_forms_spread_over_buckets() {
        for (form, name) in FORMS {
            let buckets: BTreeSet<u64> = (0..4096)
                .map(|i| bucket_of(IdHashing { text: true }, &name(i)))
                .collect();
            assert!(
                buckets.len() > 2400,
                "{form}: 4096 ids fill only {} of 4096 buckets",
                buckets.len()
            );
        }
    }

    /// UUIDs and short ids keep the inline hash, which spreads them as
    /// well as the text's; forms sharing their first eight bytes switch the
    /// map to the text, and every form stays findable.
    #[test]
    fn maps_switch_to_text_hashing_only_for_ids_sharing_their_inline_part() {
        for (form, name) in FORMS {
            let mut map = NodeMap::default();
            for i in 0..4096 {
                map.insert_absent(&NodeId::new(name(i)), i);
            }
            // `node-1000` and `node-1001` share their first eight bytes;
            // ids of eight bytes or fewer are wholly inline.
            let shares_inline_part = matches!(form, "worker-0001" | "node-1");
            assert_eq!(map.hashes_text(), shares_inline_part, "{form}");
            assert_eq!(map.iter().count(), 4096);
            for i in 0..4096 {
                assert_eq!(map.get(&NodeId::new(name(i))), Some(&i), "{form} {i}");
            }
        }
        for (form, name) in [FORMS[1], FORMS[3]] {
            let buckets: BTreeSet<u64> = (0..4096)
                .map(|i| bucket_of(IdHashing::default(), &name(i)))
                .collect();
            assert!(buckets.len() > 2400, "{form}: {} buckets", buckets.len());
        }
    }

    /// A lookup finds the entry of an id built separately from the same
    /// text (as decoding builds one per message), not only copies of it;
    /// removal, changes and defaults behave as a map's.
    #[test]
    fn lookups_find_ids_built_separately() {
        let mut map: NodeMap<u32> = NodeMap::default();
        for i in 0..100 {
            map.insert_absent(&NodeId::new(format!("node-{i}")), i);
        }
        for i in 0..100 {
            let fresh = NodeId::new(format!("node-{i}"));
            assert_eq!(map.get(&fresh), Some(&i));
        }
        assert_eq!(map.get(&NodeId::new("node-100")), None);
        assert_eq!(map.remove(&NodeId::new("node-7")), Some(7));
        assert_eq!(map.get(&NodeId::new("node-7")), None);
        assert_eq!(map.get(&NodeId::new("node-99")), Some(&99));
        *map.get_mut(&NodeId::new("node-3")).expect("held") = 33;
        let index = map.index_of(&NodeId::new("node-3")).expect("held");
        assert_eq!(map.at(index), &33);
        *map.get_or_insert_default(&NodeId::new("node-7")) += 5;
        assert_eq!(map.get(&NodeId::new("node-7")), Some(&5));
        assert_eq!(map.iter().count(), 100);
    }
}
