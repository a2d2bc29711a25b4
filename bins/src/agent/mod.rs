//! The agent's wiring.

pub mod client;
pub mod connection;
