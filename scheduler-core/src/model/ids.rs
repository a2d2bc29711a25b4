//! Identifier newtypes.
//!
//! Ids are plain strings on the wire (Nomad uses UUIDs for nodes, allocations,
//! evaluations and deployments, and user-chosen names for jobs), but distinct
//! types in Rust so that a node id can never be passed where a job id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The first eight bytes of an id, big-endian, zero-padded: comparing two
/// of these orders ids as their strings would, except when they are equal.
fn prefix_key(id: &str) -> u64 {
    let mut bytes = [0u8; 8];
    let head = &id.as_bytes()[..id.len().min(8)];
    bytes[..head.len()].copy_from_slice(head);
    u64::from_be_bytes(bytes)
}

/// The text of every empty id.
static EMPTY: std::sync::LazyLock<std::sync::Arc<str>> =
    std::sync::LazyLock::new(|| std::sync::Arc::from(""));

// Ids are map keys everywhere (nodes, allocations, evaluations by id), and
// the scheduler looks nodes up by id for every node it considers. A plain
// `String` key makes each comparison of a lookup read the other key's
// bytes from the heap: a cache miss per tree level on large clusters. The
// ids below carry their first eight bytes inline, so almost every
// comparison of two UUIDs is decided without touching the heap, and the
// text itself is shared (`Arc<str>`), so copying an id never allocates.
// Order, equality and hashing are those of the string.
macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $name {
            prefix: u64,
            text: std::sync::Arc<str>,
        }

        impl $name {
            /// Creates an id from anything string-like.
            pub fn new(id: impl AsRef<str>) -> Self {
                let id = id.as_ref();
                if id.is_empty() {
                    return Self::default();
                }
                Self {
                    prefix: prefix_key(id),
                    text: std::sync::Arc::from(id),
                }
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.text
            }

            /// Whether the id is the empty string (unset).
            pub fn is_empty(&self) -> bool {
                self.text.is_empty()
            }

            /// The id's first eight bytes as a big-endian number, zero
            /// padded (read inline, never from the heap): ids order as
            /// these do whenever these differ, and equal ids share it.
            /// A map key for ids that differ early, such as UUIDs.
            pub fn order_key(&self) -> u64 {
                self.prefix
            }

            /// A value equal ids share, read from the id's inline part
            /// only (its first eight bytes and its length), never from
            /// the heap: a hash input for maps of ids that differ early,
            /// such as UUIDs. Ids sharing their first eight bytes and
            /// length share it too (`worker-0001`, `worker-0002`), so a
            /// map hashing it must cope with such ids.
            pub fn inline_hash(&self) -> u64 {
                self.prefix ^ (self.text.len() as u64).rotate_left(40)
            }
        }

        impl Default for $name {
            /// The empty (unset) id; all of them share one allocation, so
            /// the many unset ids of an allocation cost nothing.
            fn default() -> Self {
                Self {
                    prefix: 0,
                    text: EMPTY.clone(),
                }
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name)).field(&self.as_str()).finish()
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                // `Arc`'s equality already answers for shared text
                // without reading it.
                self.prefix == other.prefix && self.text == other.text
            }
        }

        impl Eq for $name {}

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                // Copies of one id share their text: equal without reading
                // it (a lookup ends on such a comparison, and the key's
                // text is often a cache miss). `Arc`'s own `cmp` reads it.
                self.prefix.cmp(&other.prefix).then_with(|| {
                    if std::sync::Arc::ptr_eq(&self.text, &other.text) {
                        std::cmp::Ordering::Equal
                    } else {
                        self.text.cmp(&other.text)
                    }
                })
            }
        }

        impl std::hash::Hash for $name {
            fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
                self.as_str().hash(state);
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Ok(Self::new(text))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self::new(id)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self::new(id)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

string_id!(
    /// A job's id, unique within a namespace (Nomad's `Job.ID`).
    JobId
);
string_id!(
    /// A node's id (a UUID in Nomad).
    NodeId
);
string_id!(
    /// An allocation's id (a UUID).
    AllocId
);
string_id!(
    /// An evaluation's id (a UUID).
    EvalId
);
string_id!(
    /// A deployment's id (a UUID).
    DeploymentId
);
string_id!(
    /// A namespace name; `"default"` when unset.
    Namespace
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::hash_map::DefaultHasher;
    use std::hash::{Hash, Hasher};

    fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
        let mut hasher = DefaultHasher::new();
        value.hash(&mut hasher);
        hasher.finish()
    }

    proptest! {
        /// The inline prefix never changes what a comparison says: ids
        /// order, compare and hash exactly as their strings, including
        /// strings shorter than the prefix, sharing it, or holding NUL.
        #[test]
        fn ids_order_and_compare_as_their_strings(
            a in "[a\\x00-\\x02]{0,10}|[0-9a-f-]{0,40}",
            b in "[a\\x00-\\x02]{0,10}|[0-9a-f-]{0,40}",
        ) {
            let (x, y) = (NodeId::new(&a), NodeId::new(&b));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x == y, a == b);
            prop_assert_eq!(hash_of(&x), hash_of(a.as_str()));
            prop_assert_eq!(x.as_str(), a.as_str());
            if a == b {
                prop_assert_eq!(x.inline_hash(), y.inline_hash());
            }
        }
    }

    #[test]
    fn ids_stay_strings_on_the_wire_and_in_debug_output() {
        let id = AllocId::new("5f1c0e4e-0000-4000-8000-000000000001");
        let json = serde_json::to_string(&id).expect("serialises");
        assert_eq!(json, "\"5f1c0e4e-0000-4000-8000-000000000001\"");
        assert_eq!(serde_json::from_str::<AllocId>(&json).expect("parses"), id);
        assert_eq!(
            format!("{id:?}"),
            "AllocId(\"5f1c0e4e-0000-4000-8000-000000000001\")"
        );
        assert!(AllocId::default().is_empty());
        assert_eq!(JobId::from("web"), "web");
    }
}
