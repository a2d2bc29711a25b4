//! The agent's wiring.

pub mod connection;
