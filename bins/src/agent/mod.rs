//! The agent's wiring.

pub mod client;
pub mod config;
pub mod connection;
pub mod dns;
pub mod local_client;
