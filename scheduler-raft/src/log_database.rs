//! Where the Raft log lives on disk: a fjall database in
//! `DATA_DIR/raft-log` with two keyspaces, `logs` (entries by index) and
//! `meta` (vote, commit point, purge point).
//!
//! # Why not the redb file that holds the snapshot
//! A log write is an append that must be durable before it is
//! acknowledged. fjall appends a write batch to its journal and makes it
//! durable with one `fdatasync` of that file; redb rewrites a dozen B-tree
//! pages per commit and syncs them. On this project's 2-core VM the
//! fsync waits were half of a write's latency, and an append-only journal
//! made 3-server writes about a fifth faster (benches/RESULTS.md). The
//! snapshot (one large value, rewritten now and then) stays in redb.
//!
//! # Data directories of older versions
//! Before this store, the log and its metadata were the `logs` and `meta`
//! tables of `raft.redb`. [`LogDatabase::adopt_legacy_log`] copies them
//! here, makes the copy durable, and only then drops the old tables, so an
//! upgrade interrupted at any point is finished by the next start.
//!
//! # Closing
//! The handle raises a flag ([`Closing`]) once fjall has stopped its
//! threads and released its lock file, so a directory can be opened again
//! right after a shutdown.

use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use fjall::{
    Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch as WriteBatch, PersistMode,
};
use redb::{ReadableDatabase, ReadableTable, TableDefinition, TableHandle};

use crate::database::{ClosedFlag, Closing};
use crate::types::{Entry, LogId};

/// The vote's key in the `meta` keyspace.
pub(crate) const VOTE: &str = "vote";
/// The commit point's key (written without its own sync).
pub(crate) const COMMITTED: &str = "committed";
/// The last purged log id's key.
pub(crate) const LAST_PURGED: &str = "last_purged";

/// The log's table in `raft.redb` before this store (entries by index).
const LEGACY_LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
/// The metadata table in `raft.redb` before this store (JSON by name).
const LEGACY_META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");

/// fjall's background threads (memtable flushes, compaction). The log is
/// small and purged behind each snapshot; one thread keeps up and leaves
/// the cores to Raft and the scheduler.
const WORKER_THREADS: usize = 1;

/// The most journal fjall keeps before it flushes memtables to tables
/// (fjall's minimum; its default is 512 MiB). The small `meta` keyspace
/// never fills a memtable by itself, so without this the journals behind
/// it pile up to the default: 400 MiB of log took 850 MiB of disk and a
/// 117 ms reopen with the default, 464 MiB and 11 ms with this.
const MAX_JOURNAL_BYTES: u64 = 64 << 20;

/// The fjall database holding the Raft log, with a "closed" flag (fjall's
/// drop stops its threads and unlocks the directory).
#[derive(Debug)]
pub struct LogDatabase {
    inner: Closing<Inner>,
}

struct Inner {
    database: Database,
    logs: Keyspace,
    meta: Keyspace,
}

/// The key of log entry `index`: big-endian, so keys sort as indexes do.
fn key_of(index: u64) -> [u8; 8] {
    index.to_be_bytes()
}

fn index_of(key: &[u8]) -> Result<u64, String> {
    let bytes: [u8; 8] = key
        .try_into()
        .map_err(|_| format!("a log key of {} bytes, not 8", key.len()))?;
    Ok(u64::from_be_bytes(bytes))
}

impl LogDatabase {
    /// Opens (or creates) the log database in directory `path`.
    pub fn open(path: &Path) -> Result<Arc<Self>, String> {
        let database = Database::builder(path)
            .worker_threads(WORKER_THREADS)
            .max_journaling_size(MAX_JOURNAL_BYTES)
            .open()
            .map_err(|err| format!("opening the log database {}: {err}", path.display()))?;
        let logs = database
            .keyspace("logs", KeyspaceCreateOptions::default)
            .map_err(|err| err.to_string())?;
        let meta = database
            .keyspace("meta", KeyspaceCreateOptions::default)
            .map_err(|err| err.to_string())?;
        Ok(Arc::new(Self {
            inner: Closing::new(Inner {
                database,
                logs,
                meta,
            }),
        }))
    }

    fn inner(&self) -> &Inner {
        &self.inner
    }

    /// A flag that turns true once the last handle is dropped and fjall
    /// has released the directory.
    pub fn closed_flag(&self) -> ClosedFlag {
        self.inner.closed_flag()
    }

    /// A new write batch; nothing is durable before [`LogDatabase::sync`].
    pub(crate) fn batch(&self) -> WriteBatch {
        self.inner().database.batch()
    }

    pub(crate) fn logs(&self) -> &Keyspace {
        &self.inner().logs
    }

    /// Makes every committed batch durable (one `fdatasync` of the
    /// journal).
    pub(crate) fn sync(&self) -> Result<(), String> {
        self.inner()
            .database
            .persist(PersistMode::SyncData)
            .map_err(|err| format!("syncing the log journal: {err}"))
    }

    /// Puts the entry `index` into `batch`.
    pub(crate) fn put_entry(&self, batch: &mut WriteBatch, index: u64, bytes: &[u8]) {
        batch.insert(self.logs(), key_of(index), bytes);
    }

    /// Puts metadata `key` into `batch`.
    pub(crate) fn put_meta(&self, batch: &mut WriteBatch, key: &str, bytes: &[u8]) {
        batch.insert(&self.inner().meta, key, bytes);
    }

    /// Removes every entry in `range` (as stored now) through `batch`.
    pub(crate) fn remove_entries(
        &self,
        batch: &mut WriteBatch,
        start: Bound<u64>,
        end: Bound<u64>,
    ) -> Result<(), String> {
        let range = (start.map(key_of), end.map(key_of));
        for item in self.logs().range(range) {
            let key = item.key().map_err(|err| err.to_string())?;
            batch.remove(self.logs(), key);
        }
        Ok(())
    }

    /// Metadata `key`, decoded from JSON.
    pub(crate) fn read_meta<T: serde::de::DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<T>, String> {
        let Some(value) = self.inner().meta.get(key).map_err(|err| err.to_string())? else {
            return Ok(None);
        };
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|err| format!("reading {key}: {err}"))
    }

    /// Writes metadata `key` as JSON and syncs it before returning.
    pub(crate) fn write_meta_durably<T: serde::Serialize>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), String> {
        let bytes = serde_json::to_vec(value).map_err(|err| err.to_string())?;
        let mut batch = self.batch();
        self.put_meta(&mut batch, key, &bytes);
        batch.commit().map_err(|err| err.to_string())?;
        self.sync()
    }

    /// The entries stored in `start..end`, in order.
    pub(crate) fn read_range(&self, start: u64, end: Bound<u64>) -> Result<Vec<Entry>, String> {
        let range = (Bound::Included(key_of(start)), end.map(key_of));
        let mut entries = Vec::new();
        for item in self.logs().range(range) {
            let (key, value) = item.into_inner().map_err(|err| err.to_string())?;
            let entry: Entry = crate::codec::decode(&value)
                .map_err(|err| format!("log entry {:?}: {err}", index_of(&key)))?;
            entries.push(entry);
        }
        Ok(entries)
    }

    /// The id of the last stored entry.
    pub(crate) fn last_entry_id(&self) -> Result<Option<LogId>, String> {
        let Some(item) = self.logs().last_key_value() else {
            return Ok(None);
        };
        let value = item.value().map_err(|err| err.to_string())?;
        let entry: Entry = crate::codec::decode(&value).map_err(|err| err.to_string())?;
        Ok(Some(entry.log_id))
    }

    /// Moves the log of an older data directory (the `logs` and `meta`
    /// tables of `raft.redb`) here; answers how many entries it moved.
    ///
    /// Idempotent and safe to interrupt: the copy is synced before the old
    /// tables are dropped, and a second run copies the same keys again.
    pub(crate) fn adopt_legacy_log(&self, legacy: &redb::Database) -> Result<u64, String> {
        let fail = |err: &dyn std::fmt::Display| format!("moving the log out of raft.redb: {err}");
        let (has_logs, has_meta) = {
            let txn = legacy.begin_read().map_err(|e| fail(&e))?;
            let names: Vec<String> = txn
                .list_tables()
                .map_err(|e| fail(&e))?
                .map(|table| table.name().to_owned())
                .collect();
            (
                names.iter().any(|name| name == LEGACY_LOGS.name()),
                names.iter().any(|name| name == LEGACY_META.name()),
            )
        };
        if !has_logs && !has_meta {
            return Ok(0);
        }
        let mut moved = 0;
        {
            let txn = legacy.begin_read().map_err(|e| fail(&e))?;
            if has_logs {
                let table = txn.open_table(LEGACY_LOGS).map_err(|e| fail(&e))?;
                // In batches, so a long log does not sit in memory twice.
                let mut batch = self.batch();
                for item in table.iter().map_err(|e| fail(&e))? {
                    let (index, value) = item.map_err(|e| fail(&e))?;
                    self.put_entry(&mut batch, index.value(), value.value());
                    moved += 1;
                    if batch.len() >= 4096 {
                        std::mem::replace(&mut batch, self.batch())
                            .commit()
                            .map_err(|e| fail(&e))?;
                    }
                }
                batch.commit().map_err(|e| fail(&e))?;
            }
            if has_meta {
                let table = txn.open_table(LEGACY_META).map_err(|e| fail(&e))?;
                let mut batch = self.batch();
                for item in table.iter().map_err(|e| fail(&e))? {
                    let (key, value) = item.map_err(|e| fail(&e))?;
                    self.put_meta(&mut batch, key.value(), value.value());
                }
                batch.commit().map_err(|e| fail(&e))?;
            }
        }
        self.sync()?;
        let txn = legacy.begin_write().map_err(|e| fail(&e))?;
        txn.delete_table(LEGACY_LOGS).map_err(|e| fail(&e))?;
        txn.delete_table(LEGACY_META).map_err(|e| fail(&e))?;
        txn.commit().map_err(|e| fail(&e))?;
        Ok(moved)
    }
}
