//! The state machine: applies committed entries to a [`ClusterState`],
//! builds snapshots, installs snapshots sent by the leader.
//!
//! # Durability
//! The state itself lives in memory (the scheduler reads it at memory
//! speed, through the core's copy-on-write store). What makes it durable is
//! the log (in fjall, [`crate::log_database`]) plus the latest snapshot
//! (in the server's redb file): a restarting server restores the snapshot
//! and openraft re-applies the log after it, up to the commit point the log
//! store kept. Nomad's servers work the same way (memdb, a BoltDB log,
//! snapshot files).

// openraft's traits fix the error type (`StorageError`, 200-odd bytes);
// boxing it in the helpers would only add conversions at every call.
#![allow(clippy::result_large_err)]

use std::io::Cursor;
use std::sync::{Arc, RwLock};

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::{EntryPayload, ErrorSubject, ErrorVerb, RaftSnapshotBuilder, StorageIOError};
use redb::{Database, ReadableDatabase, TableDefinition};
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use crate::cluster_state::{ClusterDump, ClusterState};
use crate::command::{Applied, CommandResponse};
use crate::database::SharedDatabase;
use crate::log_store::{EncodedEntries, LogStore};
use crate::types::{Entry, LogId, SnapshotMeta, StorageError, StoredMembership, TypeConfig};

/// The latest snapshot, as one record.
pub(crate) const SNAPSHOT: TableDefinition<&str, &[u8]> = TableDefinition::new("snapshot");
/// The key of the latest snapshot in [`SNAPSHOT`].
pub(crate) const CURRENT: &str = "current";

/// The snapshot format this binary writes. Readers accept every format up
/// to this one; a newer binary keeps reading older files.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// A snapshot as bytes travel and files hold it: versioned JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotFile {
    /// The format version ([`SNAPSHOT_FORMAT`] when written by this build).
    pub format: u32,
    /// Which program wrote it (name and version).
    pub producer: String,
    /// Raft metadata: the last entry included and the membership then.
    pub meta: SnapshotMeta,
    /// The state.
    pub state: ClusterDump,
}

/// Why a snapshot could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotFileError {
    /// Not a snapshot this program understands.
    #[error("not a scheduler snapshot: {0}")]
    Malformed(#[from] serde_json::Error),
    /// The file ends before the snapshot does (an interrupted copy or
    /// download).
    #[error("snapshot file is truncated: it ends after {len} bytes, in the middle of the snapshot")]
    Truncated {
        /// The file's length.
        len: usize,
    },
    /// Written by a newer program with a format this one does not know.
    #[error(
        "snapshot format {found} is newer than this program's ({supported}); upgrade to restore it"
    )]
    TooNew {
        /// The file's format.
        found: u32,
        /// The newest format this build reads.
        supported: u32,
    },
}

impl SnapshotFile {
    /// Parses and checks the format version.
    ///
    /// The version is read first, alone, so a file of a newer format is
    /// refused as too new (naming both versions) even when the rest of it
    /// no longer parses as this build's format.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotFileError> {
        /// Only the version; every other field is skipped.
        #[derive(Deserialize)]
        struct Header {
            format: u32,
        }
        let malformed = |err: serde_json::Error| {
            if err.is_eof() {
                SnapshotFileError::Truncated { len: bytes.len() }
            } else {
                SnapshotFileError::Malformed(err)
            }
        };
        let header: Header = serde_json::from_slice(bytes).map_err(malformed)?;
        if header.format > SNAPSHOT_FORMAT {
            return Err(SnapshotFileError::TooNew {
                found: header.format,
                supported: SNAPSHOT_FORMAT,
            });
        }
        serde_json::from_slice(bytes).map_err(malformed)
    }

    /// The bytes to send or save.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// What the state machine holds; shared with the server's readers.
#[derive(Debug, Default)]
pub struct MachineState {
    /// The state.
    pub state: ClusterState,
    /// The last applied log entry.
    pub last_applied: Option<LogId>,
    /// The membership as of `last_applied`.
    pub membership: StoredMembership,
}

/// Shared, readable state machine contents.
pub type SharedState = Arc<RwLock<MachineState>>;

/// The program name and version written into every snapshot file.
const PRODUCER: &str = concat!("scheduler-raft ", env!("CARGO_PKG_VERSION"));

/// A snapshot file of what `shared` holds now, named by `snapshot_id`
/// (given the last applied log id).
///
/// Copy-on-write: cloning the state costs a few `Arc` clones, so the lock
/// is held only for that, and applies continue while the copy is dumped.
pub fn snapshot_file_of(
    shared: &SharedState,
    snapshot_id: impl FnOnce(Option<LogId>) -> String,
) -> SnapshotFile {
    let (state, last, membership) = {
        let shared = shared.read().unwrap_or_else(|e| e.into_inner());
        (
            shared.state.clone(),
            shared.last_applied,
            shared.membership.clone(),
        )
    };
    SnapshotFile {
        format: SNAPSHOT_FORMAT,
        producer: PRODUCER.to_owned(),
        meta: SnapshotMeta {
            last_log_id: last,
            last_membership: membership,
            snapshot_id: snapshot_id(last),
        },
        state: state.dump(),
    }
}

/// Applies one log entry to `machine`: a command to the state, a
/// membership to the stored membership, a blank entry as a no-op. A
/// refusal is part of the answer; a store error (an index going backwards)
/// is a storage failure.
pub(crate) fn apply_entry(
    machine: &mut MachineState,
    entry: Entry,
) -> Result<CommandResponse, StorageError> {
    let index = entry.log_id.index;
    machine.last_applied = Some(entry.log_id);
    let result = match entry.payload {
        EntryPayload::Blank => machine
            .state
            .apply(index, crate::command::Command::Noop)
            .map(|_| Applied::Done),
        EntryPayload::Normal(command) => machine.state.apply(index, command.into_command()),
        EntryPayload::Membership(membership) => {
            machine.membership = StoredMembership::new(Some(entry.log_id), membership);
            machine
                .state
                .apply(index, crate::command::Command::Noop)
                .map(|_| Applied::Done)
        }
    };
    if let Err(crate::command::Refusal::Store(err)) = &result {
        return Err(sm_error(ErrorVerb::Write, err));
    }
    Ok(CommandResponse { index, result })
}

/// The state machine handed to openraft.
#[derive(Debug, Clone)]
pub struct StateMachine {
    shared: SharedState,
    db: Arc<SharedDatabase>,
    applied_tx: Arc<watch::Sender<u64>>,
    snapshot_count: Arc<std::sync::atomic::AtomicU64>,
    /// The log's entries in memory, told which entry is being applied so
    /// that the command is taken, not copied ([`EncodedEntries::release`]).
    log_entries: Option<EncodedEntries>,
}

fn sm_error(verb: ErrorVerb, err: impl std::fmt::Display) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(
            ErrorSubject::StateMachine,
            verb,
            openraft::AnyError::error(err.to_string()),
        ),
    }
}

fn snapshot_error(verb: ErrorVerb, err: impl std::fmt::Display) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(
            ErrorSubject::Snapshot(None),
            verb,
            openraft::AnyError::error(err.to_string()),
        ),
    }
}

impl StateMachine {
    /// The state machine over `db`, restored from the snapshot kept there
    /// (if any). `applied_tx` receives the index after every apply.
    pub fn open(
        db: Arc<SharedDatabase>,
        applied_tx: Arc<watch::Sender<u64>>,
    ) -> Result<Self, StorageError> {
        let txn = db
            .begin_write()
            .map_err(|err| snapshot_error(ErrorVerb::Write, err))?;
        txn.open_table(SNAPSHOT)
            .map_err(|err| snapshot_error(ErrorVerb::Write, err))?;
        txn.commit()
            .map_err(|err| snapshot_error(ErrorVerb::Write, err))?;
        let machine = Self {
            shared: SharedState::default(),
            db,
            applied_tx,
            snapshot_count: Arc::default(),
            log_entries: None,
        };
        if let Some(file) = machine.read_stored_snapshot()? {
            machine.install(file);
        }
        Ok(machine)
    }

    /// Applies entries of `log_store`'s log without copying their commands
    /// (see [`EncodedEntries::release`]).
    pub fn taking_entries_of(mut self, log_store: &LogStore) -> Self {
        self.log_entries = Some(log_store.encoded_entries());
        self
    }

    /// The shared contents, for readers.
    pub fn shared(&self) -> SharedState {
        self.shared.clone()
    }

    fn read_stored_snapshot(&self) -> Result<Option<SnapshotFile>, StorageError> {
        Self::read_snapshot(&self.db)
    }

    /// The latest snapshot kept in `db`, if any.
    pub(crate) fn read_snapshot(db: &Database) -> Result<Option<SnapshotFile>, StorageError> {
        let read = |err: &dyn std::fmt::Display| snapshot_error(ErrorVerb::Read, err);
        let txn = db.begin_read().map_err(|e| read(&e))?;
        let table = txn.open_table(SNAPSHOT).map_err(|e| read(&e))?;
        let Some(value) = table.get(CURRENT).map_err(|e| read(&e))? else {
            return Ok(None);
        };
        SnapshotFile::from_bytes(value.value())
            .map(Some)
            .map_err(|e| read(&e))
    }

    pub(crate) fn store_snapshot(db: &Database, bytes: &[u8]) -> Result<(), StorageError> {
        let write = |err: &dyn std::fmt::Display| snapshot_error(ErrorVerb::Write, err);
        let txn = db.begin_write().map_err(|e| write(&e))?;
        {
            let mut table = txn.open_table(SNAPSHOT).map_err(|e| write(&e))?;
            table.insert(CURRENT, bytes).map_err(|e| write(&e))?;
        }
        txn.commit().map_err(|e| write(&e))
    }

    fn install(&self, file: SnapshotFile) {
        let index = file.meta.last_log_id.map_or(0, |id| id.index);
        let mut shared = self.shared.write().unwrap_or_else(|e| e.into_inner());
        shared.state = ClusterState::restore(file.state);
        shared.last_applied = file.meta.last_log_id;
        shared.membership = file.meta.last_membership;
        drop(shared);
        self.applied_tx.send_replace(index);
    }

    fn snapshot_file(&self) -> SnapshotFile {
        let count = self
            .snapshot_count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        snapshot_file_of(&self.shared, |last| match last {
            Some(id) => format!("{}-{}-{}", id.leader_id, id.index, count),
            None => format!("--{count}"),
        })
    }
}

impl RaftSnapshotBuilder<TypeConfig> for StateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let machine = self.clone();
        let (meta, bytes) = tokio::task::spawn_blocking(move || {
            let file = machine.snapshot_file();
            let bytes = file.to_bytes();
            StateMachine::store_snapshot(&machine.db, &bytes)?;
            Ok::<_, StorageError>((file.meta, bytes))
        })
        .await
        .map_err(|err| snapshot_error(ErrorVerb::Write, err))??;
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = Self;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let shared = self.shared.read().unwrap_or_else(|e| e.into_inner());
        Ok((shared.last_applied, shared.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<CommandResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut responses = Vec::new();
        let mut last_index = None;
        {
            let mut shared = self.shared.write().unwrap_or_else(|e| e.into_inner());
            for entry in entries {
                if let Some(log_entries) = &self.log_entries {
                    log_entries.release(&entry.log_id);
                }
                let response = apply_entry(&mut shared, entry)?;
                last_index = Some(response.index);
                responses.push(response);
            }
        }
        if let Some(index) = last_index {
            self.applied_tx.send_replace(index);
        }
        Ok(responses)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let bytes = snapshot.into_inner();
        let mut file =
            SnapshotFile::from_bytes(&bytes).map_err(|err| snapshot_error(ErrorVerb::Read, err))?;
        // openraft's metadata is authoritative for what the snapshot covers.
        file.meta = meta.clone();
        let db = self.db.clone();
        let stored = file.to_bytes();
        tokio::task::spawn_blocking(move || StateMachine::store_snapshot(&db, &stored))
            .await
            .map_err(|err| snapshot_error(ErrorVerb::Write, err))??;
        self.install(file);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        let machine = self.clone();
        let stored = tokio::task::spawn_blocking(move || {
            let read = |err: &dyn std::fmt::Display| snapshot_error(ErrorVerb::Read, err);
            let txn = machine.db.begin_read().map_err(|e| read(&e))?;
            let table = txn.open_table(SNAPSHOT).map_err(|e| read(&e))?;
            let value = table.get(CURRENT).map_err(|e| read(&e))?;
            Ok::<_, StorageError>(value.map(|v| v.value().to_vec()))
        })
        .await
        .map_err(|err| snapshot_error(ErrorVerb::Read, err))??;
        let Some(bytes) = stored else {
            return Ok(None);
        };
        let file =
            SnapshotFile::from_bytes(&bytes).map_err(|err| snapshot_error(ErrorVerb::Read, err))?;
        Ok(Some(Snapshot {
            meta: file.meta,
            snapshot: Box::new(Cursor::new(bytes)),
        }))
    }
}
