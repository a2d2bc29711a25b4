//! Offline what-if simulation: a cluster file, jobs, and the placements the
//! scheduler would make.

pub mod cluster;
