//! Identifier newtypes.
//!
//! Ids are plain strings on the wire (Nomad uses UUIDs for nodes, allocations,
//! evaluations and deployments, and user-chosen names for jobs), but distinct
//! types in Rust so that a node id can never be passed where a job id is meant.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Creates an id from anything string-like.
            pub fn new(id: impl Into<String>) -> Self {
                Self(id.into())
            }

            /// The id as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Whether the id is the empty string (unset).
            pub fn is_empty(&self) -> bool {
                self.0.is_empty()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                Self(id.to_owned())
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                Self(id)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
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
