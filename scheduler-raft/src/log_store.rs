//! The Raft log, vote and commit point in one redb file.
//!
//! Appends are acknowledged to openraft (`LogFlushed`) only after redb's
//! commit with `Durability::Immediate` returned, that is after fsync: an
//! entry a follower acknowledged survives its crash. Every redb call runs on
//! tokio's blocking pool, so an fsync never stalls the Raft core's task.

// openraft's traits fix the error type (`StorageError`, 200-odd bytes);
// boxing it in the helpers would only add conversions at every call.
#![allow(clippy::result_large_err)]

use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::path::Path;
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, RaftLogReader, StorageIOError};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// Log entries by index, as JSON.
pub(crate) const LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// Vote, commit point and last purged id, as JSON, by name.
pub(crate) const META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

pub(crate) const VOTE: &str = "vote";
pub(crate) const COMMITTED: &str = "committed";
pub(crate) const LAST_PURGED: &str = "last_purged";

/// The Raft log storage over a shared redb database.
#[derive(Clone)]
pub struct LogStore {
    db: Arc<Database>,
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
}

/// Opens (or creates) the server's database file.
pub fn open_database(path: &Path) -> Result<Arc<Database>, redb::DatabaseError> {
    let db = Database::create(path)?;
    Ok(Arc::new(db))
}

fn io_error(
    subject: ErrorSubject<u64>,
    verb: ErrorVerb,
    err: impl std::fmt::Display,
) -> StorageError {
    StorageError::IO {
        source: StorageIOError::new(subject, verb, openraft::AnyError::error(err.to_string())),
    }
}

fn read_logs_error(err: impl std::fmt::Display) -> StorageError {
    io_error(ErrorSubject::Logs, ErrorVerb::Read, err)
}

fn write_logs_error(err: impl std::fmt::Display) -> StorageError {
    io_error(ErrorSubject::Logs, ErrorVerb::Write, err)
}

/// Runs blocking redb work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| io_error(ErrorSubject::Store, ErrorVerb::Write, err))?
}

impl LogStore {
    /// A log store over `db` (shared with the state machine's snapshot
    /// table).
    pub fn new(db: Arc<Database>) -> Result<Self, StorageError> {
        let txn = db.begin_write().map_err(write_logs_error)?;
        txn.open_table(LOGS).map_err(write_logs_error)?;
        txn.open_table(META).map_err(write_logs_error)?;
        txn.commit().map_err(write_logs_error)?;
        Ok(Self { db })
    }

    pub(crate) fn read_meta<T: serde::de::DeserializeOwned>(
        db: &Database,
        key: &str,
    ) -> Result<Option<T>, StorageError> {
        let txn = db.begin_read().map_err(read_logs_error)?;
        let table = txn.open_table(META).map_err(read_logs_error)?;
        let Some(value) = table.get(key).map_err(read_logs_error)? else {
            return Ok(None);
        };
        serde_json::from_slice(value.value())
            .map(Some)
            .map_err(read_logs_error)
    }

    fn write_meta<T: serde::Serialize>(
        db: &Database,
        key: &str,
        value: &T,
    ) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(value).map_err(write_logs_error)?;
        let txn = db.begin_write().map_err(write_logs_error)?;
        {
            let mut table = txn.open_table(META).map_err(write_logs_error)?;
            table
                .insert(key, bytes.as_slice())
                .map_err(write_logs_error)?;
        }
        txn.commit().map_err(write_logs_error)
    }

    fn last_entry_id(db: &Database) -> Result<Option<LogId>, StorageError> {
        let txn = db.begin_read().map_err(read_logs_error)?;
        let table = txn.open_table(LOGS).map_err(read_logs_error)?;
        let Some((_, value)) = table.last().map_err(read_logs_error)? else {
            return Ok(None);
        };
        let entry: Entry = serde_json::from_slice(value.value()).map_err(read_logs_error)?;
        Ok(Some(entry.log_id))
    }

    pub(crate) fn read_range(
        db: &Database,
        start: u64,
        end: Bound<u64>,
    ) -> Result<Vec<Entry>, StorageError> {
        let txn = db.begin_read().map_err(read_logs_error)?;
        let table = txn.open_table(LOGS).map_err(read_logs_error)?;
        let range = match end {
            Bound::Included(end) => table.range(start..=end),
            Bound::Excluded(end) => table.range(start..end),
            Bound::Unbounded => table.range(start..),
        }
        .map_err(read_logs_error)?;
        let mut entries = Vec::new();
        for item in range {
            let (_, value) = item.map_err(read_logs_error)?;
            entries.push(serde_json::from_slice(value.value()).map_err(read_logs_error)?);
        }
        Ok(entries)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + Send>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let start = match range.start_bound() {
            Bound::Included(start) => *start,
            Bound::Excluded(start) => start.saturating_add(1),
            Bound::Unbounded => 0,
        };
        let end = range.end_bound().cloned();
        let db = self.db.clone();
        blocking(move || Self::read_range(&db, start, end)).await
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let db = self.db.clone();
        blocking(move || {
            let last_purged_log_id: Option<LogId> = Self::read_meta(&db, LAST_PURGED)?;
            let last_log_id = Self::last_entry_id(&db)?.or(last_purged_log_id);
            Ok(LogState {
                last_purged_log_id,
                last_log_id,
            })
        })
        .await
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let db = self.db.clone();
        let vote = *vote;
        blocking(move || {
            Self::write_meta(&db, VOTE, &vote)
                .map_err(|err| io_error(ErrorSubject::Vote, ErrorVerb::Write, err))
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let db = self.db.clone();
        blocking(move || Self::read_meta(&db, VOTE)).await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let db = self.db.clone();
        blocking(move || Self::write_meta(&db, COMMITTED, &committed)).await
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let db = self.db.clone();
        blocking(move || Ok(Self::read_meta::<Option<LogId>>(&db, COMMITTED)?.flatten())).await
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut encoded = Vec::new();
        for entry in entries {
            let bytes = serde_json::to_vec(&entry).map_err(write_logs_error)?;
            encoded.push((entry.log_id.index, bytes));
        }
        let db = self.db.clone();
        let written = blocking(move || {
            let txn = db.begin_write().map_err(write_logs_error)?;
            {
                let mut table = txn.open_table(LOGS).map_err(write_logs_error)?;
                for (index, bytes) in &encoded {
                    table
                        .insert(*index, bytes.as_slice())
                        .map_err(write_logs_error)?;
                }
            }
            // Durability::Immediate (redb's default): commit returns after
            // fsync, so the callback below reports a durable append.
            txn.commit().map_err(write_logs_error)
        })
        .await;
        match written {
            Ok(()) => {
                callback.log_io_completed(Ok(()));
                Ok(())
            }
            Err(err) => {
                callback.log_io_completed(Err(std::io::Error::other(err.to_string())));
                Err(err)
            }
        }
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let db = self.db.clone();
        blocking(move || {
            let txn = db.begin_write().map_err(write_logs_error)?;
            {
                let mut table = txn.open_table(LOGS).map_err(write_logs_error)?;
                table
                    .retain_in(log_id.index.., |_, _| false)
                    .map_err(write_logs_error)?;
            }
            txn.commit().map_err(write_logs_error)
        })
        .await
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        let db = self.db.clone();
        blocking(move || {
            let bytes = serde_json::to_vec(&Some(log_id)).map_err(write_logs_error)?;
            let txn = db.begin_write().map_err(write_logs_error)?;
            {
                let mut meta = txn.open_table(META).map_err(write_logs_error)?;
                meta.insert(LAST_PURGED, bytes.as_slice())
                    .map_err(write_logs_error)?;
                let mut table = txn.open_table(LOGS).map_err(write_logs_error)?;
                table
                    .retain_in(..=log_id.index, |_, _| false)
                    .map_err(write_logs_error)?;
            }
            txn.commit().map_err(write_logs_error)
        })
        .await
    }
}
