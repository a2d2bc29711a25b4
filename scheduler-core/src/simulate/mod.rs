//! Offline what-if simulation: a cluster file, jobs, and the placements the
//! scheduler would make.

pub mod cluster;
mod evaluations;
mod node_builder;
mod report;
mod run;
pub mod scenario;
pub mod world;

pub use node_builder::NodeBuilder;

pub use report::{AllocationRow, Dimension, NodeRow, SimulationReport};
pub use run::{JobOutcome, Simulation};
