//! Wiring shared by the binaries and their tests: where the client runtime
//! (`scheduler-drivers`) meets the servers (`scheduler-raft`).

pub mod agent;
