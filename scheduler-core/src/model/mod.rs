//! The job model: Rust types for everything a Nomad job can say, and the
//! cluster objects (nodes, allocations, evaluations, deployments) that the
//! scheduler reads and writes.
//!
//! Every type serialises to and from the JSON of Nomad's HTTP API, with its
//! field names (`ID`, `TaskGroups`, `MemoryMB`, ...), so jobs exported by
//! Nomad or sent by Nomad API clients read unchanged.

pub mod ids;
pub mod path;
pub mod serde_util;
pub mod units;

pub use ids::*;
pub use path::{FieldPath, Segment};
pub use units::{Duration, DurationError, MHz, Mbits, MiB};
