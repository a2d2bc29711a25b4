//! The job model: Rust types for everything a Nomad job can say, and the
//! cluster objects (nodes, allocations, evaluations, deployments) that the
//! scheduler reads and writes.
//!
//! Every type serialises to and from the JSON of Nomad's HTTP API, with its
//! field names (`ID`, `TaskGroups`, `MemoryMB`, ...), so jobs exported by
//! Nomad or sent by Nomad API clients read unchanged.

pub mod api;
pub mod ids;
pub mod path;
pub mod serde_util;
pub mod timestamp;
pub mod units;
pub mod validate;

// Job-side objects.
mod canonicalize;
pub mod constraint;
pub mod job;
pub mod policies;
pub mod resources;
pub mod service;
pub mod task;
pub mod task_extras;
pub mod task_group;
pub mod volumes;
pub use constraint::*;
pub use job::*;
pub use policies::*;
pub use resources::*;
pub use service::*;
pub use task::*;
pub use task_extras::*;
pub use task_group::*;
pub use volumes::*;

// Cluster-side objects.
pub mod allocation;
pub mod deployment;
pub mod evaluation;
pub mod lazy_metric;
pub mod node;
pub mod node_class;
pub mod score_map;
pub mod vec_map;
pub use allocation::*;
pub use deployment::*;
pub use evaluation::*;
pub use node::*;

pub use ids::*;
pub use lazy_metric::LazyMetric;
pub use path::{FieldPath, Segment};
pub use score_map::ScoreMap;
pub use units::{Duration, DurationError, MHz, Mbits, MiB};
pub use vec_map::VecMap;
