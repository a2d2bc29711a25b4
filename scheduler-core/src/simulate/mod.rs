//! Offline what-if simulation: a cluster file, jobs, and the placements the
//! scheduler would make.

pub mod cluster;
mod report;
mod run;

pub use report::{AllocationRow, Dimension, NodeRow, SimulationReport};
pub use run::{JobOutcome, Simulation};
