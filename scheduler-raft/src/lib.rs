//! Replicated state store and server control plane, on openraft.
//!
//! - [`command`]: what a log entry asks ([`Command`]) and answers.
//! - [`cluster_state`]: the replicated state: the core's `MemoryState`
//!   plus the index of each table's last change (for blocking queries).
//! - [`log_store`], [`state_machine`]: openraft's storage: the log, vote
//!   and commit point in a fjall database ([`log_database`]), the latest
//!   snapshot in a redb file ([`database`]); [`storage`] opens both.
//! - [`network`]: Raft RPCs over HTTP on loopback (axum server, reqwest
//!   client), including chunked snapshot install.
//! - [`operator`]: operator tools: snapshot save and restore, peer
//!   removal, recovery of a lone survivor after the quorum is lost.
//! - [`server`]: a running server: Raft, leader forwarding of writes,
//!   linearizable reads, membership, snapshots.

pub mod api;
pub mod client;
pub mod clock;
pub mod cluster_state;
pub mod codec;
pub mod command;
pub mod control;
pub mod database;
pub mod log_database;
pub mod log_store;
pub mod network;
pub mod operator;
pub mod server;
pub mod services;
pub mod state_machine;
pub mod storage;
pub mod types;

pub use command::{Applied, Command, CommandResponse, PlanApply, Refusal};
pub use server::{Server, ServerConfig};
