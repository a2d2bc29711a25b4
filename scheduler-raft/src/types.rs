//! The Raft type configuration: what a log entry carries, what applying it
//! answers, and how servers are named.

use std::io::Cursor;

use crate::command::{CommandResponse, SharedCommand};

/// A server's Raft id: a random number chosen once and kept in its data
/// directory, so a server keeps its identity across restarts.
pub type ServerId = u64;

openraft::declare_raft_types!(
    /// openraft's type configuration for the scheduler's state machine.
    pub TypeConfig:
        D = SharedCommand,
        R = CommandResponse,
        NodeId = ServerId,
        Node = openraft::BasicNode,
        Entry = openraft::Entry<TypeConfig>,
        SnapshotData = Cursor<Vec<u8>>,
        AsyncRuntime = openraft::TokioRuntime,
);

/// A log entry.
pub type Entry = openraft::Entry<TypeConfig>;
/// A log position.
pub type LogId = openraft::LogId<ServerId>;
/// Who voted for whom in which term.
pub type Vote = openraft::Vote<ServerId>;
/// A storage failure, as openraft wants it.
pub type StorageError = openraft::StorageError<ServerId>;
/// The cluster membership as stored with the state.
pub type StoredMembership = openraft::StoredMembership<ServerId, openraft::BasicNode>;
/// A snapshot's metadata.
pub type SnapshotMeta = openraft::SnapshotMeta<ServerId, openraft::BasicNode>;
/// The Raft handle.
pub type Raft = openraft::Raft<TypeConfig>;
