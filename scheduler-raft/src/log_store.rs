//! The Raft log, vote and commit point, over the [`LogDatabase`].
//!
//! # Group commit
//! One writer thread owns log writes. `append` hands it the encoded entries
//! and returns at once; the writer takes every append waiting in its queue,
//! writes them to fjall's journal and makes them durable with one
//! `fdatasync` for all of them, and only then tells openraft
//! (`LogFlushed`) that they are durable. So an entry a server acknowledged
//! survives its crash, and under load one sync covers many entries, while
//! the Raft core goes on replicating instead of waiting for the disk.
//!
//! Entries handed to the writer but not yet on disk, and the most recent
//! ones written, are kept in memory ([`Pending`]): readers (replication to
//! followers, the state machine) see an entry as soon as `append` returned,
//! as openraft requires, and read recent entries without touching the
//! store. Truncation and purging go through the same queue, in order, and
//! wait for it.
//!
//! The commit point is written without a sync of its own (made durable by
//! the next append's): openraft treats it as a hint, and a server that lost
//! it re-learns it from the leader.

// openraft's traits fix the error type (`StorageError`, 200-odd bytes);
// boxing it in the helpers would only add conversions at every call.
#![allow(clippy::result_large_err)]

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::ops::{Bound, RangeBounds};
use std::sync::{Arc, Mutex, mpsc};

use axum::body::Bytes;
use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{ErrorSubject, ErrorVerb, RaftLogReader, StorageIOError};

use crate::log_database::{COMMITTED, LAST_PURGED, LogDatabase, VOTE};
use crate::types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// The Raft log storage over the server's [`LogDatabase`].
#[derive(Clone)]
pub struct LogStore {
    log: Arc<LogDatabase>,
    writer: mpsc::Sender<WriteOp>,
    pending: Arc<Mutex<Pending>>,
}

/// Recent entries in memory, by index, each with the sequence number of the
/// append that carried it (a truncated index may be appended again before
/// the first write reached the disk): every entry not yet on disk, and the
/// most recent written ones, up to [`RECENT_ENTRIES`] and [`RECENT_BYTES`].
/// Replication and the state machine read each entry soon after it is
/// appended; serving those reads from memory spares a store read and a
/// decode per entry and reader.
#[derive(Debug, Default)]
pub(crate) struct Pending {
    entries: BTreeMap<u64, Recent>,
    /// The encoded size of every entry held.
    bytes: usize,
    /// Entries as a follower received them from the leader, by index,
    /// until they are appended (see [`EncodedEntries`]).
    offered: BTreeMap<u64, (LogId, Bytes)>,
    /// The size of every offered entry.
    offered_bytes: usize,
    /// The last append sequence known to be on disk.
    flushed: u64,
    next_sequence: u64,
}

#[derive(Debug)]
struct Recent {
    sequence: u64,
    log_id: LogId,
    /// The entry as written to the log (and sent to followers).
    encoded: Bytes,
    /// The entry decoded, until the state machine applies it
    /// ([`EncodedEntries::release`]); later readers decode `encoded`.
    entry: Option<Entry>,
}

impl Recent {
    /// The entry, decoding it again if the state machine took it.
    fn read(&self) -> Result<Entry, String> {
        match &self.entry {
            Some(entry) => Ok(entry.clone()),
            None => crate::codec::decode(&self.encoded),
        }
    }
}

/// How many entries already on disk stay in memory for readers.
const RECENT_ENTRIES: usize = 4096;
/// How many bytes (encoded) of entries already on disk stay in memory. A
/// plan's entry carries hundreds of allocations: without this bound, 4,096
/// of them would keep a large cluster's whole recent history in memory on
/// every server.
const RECENT_BYTES: usize = 32 << 20;

/// The most bytes of received entries a follower holds for the log store
/// to take; more means they were not appended (openraft skips entries
/// it already has), and the oldest go.
const OFFERED_BYTES: usize = 64 << 20;

impl Pending {
    fn insert(&mut self, sequence: u64, encoded: Bytes, entry: Entry) {
        let index = entry.log_id.index;
        self.bytes += encoded.len();
        let replaced = self.entries.insert(
            index,
            Recent {
                sequence,
                log_id: entry.log_id,
                encoded,
                entry: Some(entry),
            },
        );
        if let Some(replaced) = replaced {
            self.bytes -= replaced.encoded.len();
        }
    }

    fn offer(&mut self, log_id: LogId, encoded: Bytes) {
        self.offered_bytes += encoded.len();
        if let Some((_, replaced)) = self.offered.insert(log_id.index, (log_id, encoded)) {
            self.offered_bytes -= replaced.len();
        }
        while self.offered_bytes > OFFERED_BYTES {
            let Some((_, (_, oldest))) = self.offered.pop_first() else {
                break;
            };
            self.offered_bytes -= oldest.len();
        }
    }

    /// The bytes offered for `log_id`, if any; offers up to its index go.
    fn take_offered(&mut self, log_id: &LogId) -> Option<Bytes> {
        let mut taken = None;
        while let Some(first) = self.offered.first_entry() {
            if *first.key() > log_id.index {
                break;
            }
            let (offered_id, bytes) = first.remove();
            self.offered_bytes -= bytes.len();
            if offered_id == *log_id {
                taken = Some(bytes);
            }
        }
        taken
    }

    /// Keeps the entries for which `keep(index, on_disk)` holds.
    fn retain(&mut self, mut keep: impl FnMut(u64, bool) -> bool) {
        let flushed = self.flushed;
        let mut removed = 0;
        self.entries.retain(|index, recent| {
            let kept = keep(*index, recent.sequence <= flushed);
            if !kept {
                removed += recent.encoded.len();
            }
            kept
        });
        self.bytes -= removed;
    }

    /// Records appends up to `sequence` as on disk, and lets the oldest
    /// entries on disk go beyond the bounds.
    fn flushed_up_to(&mut self, sequence: u64) {
        self.flushed = sequence;
        while self.entries.len() > RECENT_ENTRIES || self.bytes > RECENT_BYTES {
            let Some(oldest) = self.entries.first_entry() else {
                break;
            };
            // Entries are appended in index order, so once the oldest is
            // not on disk yet, none after it is.
            if oldest.get().sequence > self.flushed {
                break;
            }
            self.bytes -= oldest.remove().encoded.len();
        }
    }
}

/// Work for the writer thread, in log order.
enum WriteOp {
    Append {
        sequence: u64,
        entries: Vec<(u64, Bytes)>,
        callback: LogFlushed<TypeConfig>,
    },
    Truncate {
        from: u64,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    Purge {
        upto: LogId,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    Committed(Vec<u8>),
}

/// The writer thread: drains the queue, writes the round and syncs once,
/// then reports every append of the round durable.
fn run_writer(log: Arc<LogDatabase>, queue: mpsc::Receiver<WriteOp>, pending: Arc<Mutex<Pending>>) {
    while let Ok(first) = queue.recv() {
        let mut round = vec![first];
        while let Ok(op) = queue.try_recv() {
            round.push(op);
        }
        let needs_sync = round.iter().any(|op| !matches!(op, WriteOp::Committed(_)));
        let written = write_round(&log, &round, needs_sync);
        let mut flushed_sequence = None;
        for op in round {
            match op {
                WriteOp::Append {
                    sequence, callback, ..
                } => {
                    flushed_sequence = Some(sequence);
                    callback.log_io_completed(
                        written
                            .as_ref()
                            .map(drop)
                            .map_err(|err| std::io::Error::other(err.clone())),
                    );
                }
                WriteOp::Truncate { done, .. } | WriteOp::Purge { done, .. } => {
                    let _ = done.send(written.clone());
                }
                WriteOp::Committed(_) => {}
            }
        }
        if let (Ok(()), Some(sequence)) = (&written, flushed_sequence) {
            pending
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .flushed_up_to(sequence);
        }
    }
}

/// Writes one round in queue order. A truncation or purge removes what is
/// stored when it runs, so the batch before it is committed first (the
/// entries it removes may have been appended earlier in the same round);
/// the one sync at the end makes the whole round durable.
fn write_round(log: &LogDatabase, round: &[WriteOp], needs_sync: bool) -> Result<(), String> {
    let commit = |batch: fjall::OwnedWriteBatch| batch.commit().map_err(|err| err.to_string());
    let mut batch = log.batch();
    for op in round {
        match op {
            WriteOp::Append { entries, .. } => {
                for (index, bytes) in entries {
                    log.put_entry(&mut batch, *index, bytes);
                }
            }
            WriteOp::Truncate { from, .. } => {
                commit(std::mem::replace(&mut batch, log.batch()))?;
                log.remove_entries(&mut batch, Bound::Included(*from), Bound::Unbounded)?;
            }
            WriteOp::Purge { upto, .. } => {
                commit(std::mem::replace(&mut batch, log.batch()))?;
                // Entries up to the previous purge point are gone: start
                // after it. From the start, the scan walks every earlier
                // purge's tombstones until compaction drops them (probe:
                // 100 purges of 10,000 entries scanned in 7.4 s, against
                // 0.24 s starting after the previous point).
                let previous: Option<LogId> = log.read_meta(LAST_PURGED)?;
                let start = previous.map_or(Bound::Unbounded, |id| Bound::Excluded(id.index));
                let bytes = serde_json::to_vec(&Some(*upto)).map_err(|e| e.to_string())?;
                log.put_meta(&mut batch, LAST_PURGED, &bytes);
                log.remove_entries(&mut batch, start, Bound::Included(upto.index))?;
            }
            WriteOp::Committed(bytes) => log.put_meta(&mut batch, COMMITTED, bytes),
        }
    }
    commit(batch)?;
    if needs_sync { log.sync() } else { Ok(()) }
}

impl Debug for LogStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStore").finish_non_exhaustive()
    }
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

/// Runs blocking store work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|err| io_error(ErrorSubject::Store, ErrorVerb::Write, err))?
}

impl LogStore {
    /// A log store over `log`, with its writer thread.
    pub fn new(log: Arc<LogDatabase>) -> Result<Self, StorageError> {
        let (writer, queue) = mpsc::channel();
        let pending: Arc<Mutex<Pending>> = Arc::default();
        let thread_log = log.clone();
        let thread_pending = pending.clone();
        std::thread::Builder::new()
            .name("raft-log-writer".to_owned())
            .spawn(move || run_writer(thread_log, queue, thread_pending))
            .map_err(write_logs_error)?;
        Ok(Self {
            log,
            writer,
            pending,
        })
    }

    /// The handle the Raft network shares encoded entries through.
    pub fn encoded_entries(&self) -> EncodedEntries {
        EncodedEntries {
            pending: self.pending.clone(),
        }
    }

    /// Sends work to the writer; a stopped writer (the server is shutting
    /// down) is a write error.
    fn send(&self, op: WriteOp) -> Result<(), StorageError> {
        self.writer
            .send(op)
            .map_err(|_| write_logs_error("the log writer has stopped"))
    }

    /// The entries in `start..end` when memory holds every one of them
    /// (a bounded range, contiguous from `start`).
    fn memory_covers(&self, start: u64, end: Bound<u64>) -> Option<Vec<Entry>> {
        let last = match end {
            Bound::Included(end) => end,
            Bound::Excluded(end) => end.checked_sub(1)?,
            Bound::Unbounded => return None,
        };
        if last < start {
            return Some(Vec::new());
        }
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        let wanted = usize::try_from(last - start + 1).ok()?;
        let entries: Vec<Entry> = pending
            .entries
            .range(start..=last)
            .map(|(_, recent)| recent.read())
            .collect::<Result<_, _>>()
            .ok()?;
        (entries.len() == wanted).then_some(entries)
    }

    /// Entries in `start..end` held in memory (possibly newer than disk).
    fn pending_in(&self, start: u64, end: Bound<u64>) -> Result<Vec<(u64, Entry)>, StorageError> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .entries
            .range((Bound::Included(start), end))
            .map(|(index, recent)| Ok((*index, recent.read().map_err(read_logs_error)?)))
            .collect()
    }
}

/// The log's entries as bytes, for the Raft network, so that an entry is
/// encoded once, by the leader's log store: the leader sends followers the
/// bytes it wrote ([`EncodedEntries::get`]), and a follower hands the bytes
/// it received to its log store to write as they are
/// ([`EncodedEntries::offer`]). Encoding a plan's entry was 17 % of the
/// CPU of a replicated C1M run, done five times per entry (each server's
/// log, and once per follower on the leader).
#[derive(Clone, Default)]
pub struct EncodedEntries {
    pending: Arc<Mutex<Pending>>,
}

impl Debug for EncodedEntries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncodedEntries").finish_non_exhaustive()
    }
}

impl EncodedEntries {
    /// The bytes of entry `log_id` as this server wrote them, while it is
    /// among the recent entries in memory.
    pub fn get(&self, log_id: &LogId) -> Option<Bytes> {
        let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending
            .entries
            .get(&log_id.index)
            .filter(|recent| recent.log_id == *log_id)
            .map(|recent| recent.encoded.clone())
    }

    /// The state machine is applying entry `log_id`: memory keeps only its
    /// bytes, so the state machine holds the only decoded copy and takes
    /// the command without copying it (a plan's thousand allocations were
    /// copied on every server, 5 % of a replicated C1M run's CPU). A reader
    /// after this (a lagging follower's replication) decodes the bytes.
    pub fn release(&self, log_id: &LogId) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(recent) = pending.entries.get_mut(&log_id.index)
            && recent.log_id == *log_id
        {
            recent.entry = None;
        }
    }

    /// `bytes` decode to entry `log_id`, about to be appended: the log
    /// store writes them instead of encoding the entry again.
    pub fn offer(&self, log_id: LogId, bytes: Bytes) {
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .offer(log_id, bytes);
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
        if let Some(entries) = self.memory_covers(start, end) {
            return Ok(entries);
        }
        let log = self.log.clone();
        let stored = blocking(move || log.read_range(start, end).map_err(read_logs_error)).await?;
        // Entries not on disk yet are newer than any stored copy.
        let pending = self.pending_in(start, end)?;
        if pending.is_empty() {
            return Ok(stored);
        }
        let mut merged: BTreeMap<u64, Entry> = stored
            .into_iter()
            .map(|entry| (entry.log_id.index, entry))
            .collect();
        merged.extend(pending);
        Ok(merged.into_values().collect())
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = Self;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let log = self.log.clone();
        let pending_last = {
            let pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending
                .entries
                .last_key_value()
                .map(|(_, recent)| recent.log_id)
        };
        blocking(move || {
            let last_purged_log_id: Option<LogId> =
                log.read_meta(LAST_PURGED).map_err(read_logs_error)?;
            let stored_last = match pending_last {
                Some(_) => None,
                None => log.last_entry_id().map_err(read_logs_error)?,
            };
            let last_log_id = pending_last.or(stored_last).or(last_purged_log_id);
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
        let log = self.log.clone();
        let vote = *vote;
        blocking(move || {
            log.write_meta_durably(VOTE, &vote)
                .map_err(|err| io_error(ErrorSubject::Vote, ErrorVerb::Write, err))
        })
        .await
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        let log = self.log.clone();
        blocking(move || {
            log.read_meta(VOTE)
                .map_err(|err| io_error(ErrorSubject::Vote, ErrorVerb::Read, err))
        })
        .await
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        let bytes = serde_json::to_vec(&committed).map_err(write_logs_error)?;
        self.send(WriteOp::Committed(bytes))
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        let log = self.log.clone();
        blocking(move || {
            Ok(log
                .read_meta::<Option<LogId>>(COMMITTED)
                .map_err(read_logs_error)?
                .flatten())
        })
        .await
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
        let entries: Vec<Entry> = entries.into_iter().collect();
        // A follower writes the bytes the leader sent; only what came
        // without them (a leader's own entries) is encoded here.
        let offered: Vec<Option<Bytes>> = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            entries
                .iter()
                .map(|entry| pending.take_offered(&entry.log_id))
                .collect()
        };
        let mut encoded = Vec::with_capacity(entries.len());
        for (entry, offer) in entries.iter().zip(offered) {
            let bytes = match offer {
                Some(bytes) => bytes,
                None => Bytes::from(crate::codec::encode(entry).map_err(write_logs_error)?),
            };
            encoded.push((entry.log_id.index, bytes));
        }
        let sequence = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.next_sequence += 1;
            let sequence = pending.next_sequence;
            for (entry, (_, bytes)) in entries.into_iter().zip(&encoded) {
                pending.insert(sequence, bytes.clone(), entry);
            }
            sequence
        };
        self.send(WriteOp::Append {
            sequence,
            entries: encoded,
            callback,
        })
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.retain(|index, _| index < log_id.index);
        }
        let (done, finished) = tokio::sync::oneshot::channel();
        self.send(WriteOp::Truncate {
            from: log_id.index,
            done,
        })?;
        finished
            .await
            .map_err(|_| write_logs_error("the log writer has stopped"))?
            .map_err(write_logs_error)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.retain(|index, on_disk| index > log_id.index || !on_disk);
        }
        let (done, finished) = tokio::sync::oneshot::channel();
        self.send(WriteOp::Purge { upto: log_id, done })?;
        finished
            .await
            .map_err(|_| write_logs_error("the log writer has stopped"))?
            .map_err(write_logs_error)
    }
}

#[cfg(test)]
mod tests {
    use openraft::{CommittedLeaderId, EntryPayload};

    use super::*;
    use crate::command::Command;

    fn entry(index: u64, command: Command) -> Entry {
        Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Normal(command.into()),
        }
    }

    /// A follower's received bytes are written for exactly the entry they
    /// came as (same index and term); offers the log store never took do
    /// not pile up.
    #[test]
    fn offered_bytes_are_taken_for_their_entry_only_and_stay_bounded() {
        let mut pending = Pending::default();
        let at = |term: u64, index: u64| LogId::new(CommittedLeaderId::new(term, 0), index);
        pending.offer(at(1, 5), Bytes::from_static(b"five"));
        pending.offer(at(1, 6), Bytes::from_static(b"six"));
        pending.offer(at(1, 7), Bytes::from_static(b"seven"));
        // Another term's entry 6: not these bytes; 5 was skipped and goes.
        assert_eq!(pending.take_offered(&at(2, 6)), None);
        assert_eq!(pending.offered.len(), 1);
        assert_eq!(
            pending.take_offered(&at(1, 7)),
            Some(Bytes::from_static(b"seven"))
        );
        assert_eq!(pending.offered_bytes, 0);
        // Offers never taken are dropped oldest first past the bound.
        let chunk = OFFERED_BYTES / 3;
        for index in 1..=5 {
            pending.offer(at(1, index), Bytes::from(vec![0u8; chunk]));
        }
        assert_eq!(
            pending.offered.keys().copied().collect::<Vec<_>>(),
            [3, 4, 5]
        );
        assert_eq!(pending.offered_bytes, 3 * chunk);
    }

    /// Memory holds every entry not on disk, however large, and of those on
    /// disk only the newest within the byte bound; the count of bytes
    /// follows replacements, truncations and purges.
    #[test]
    fn recent_entries_stay_within_the_byte_bound_but_unwritten_ones_stay_all() {
        let mut pending = Pending::default();
        let big = RECENT_BYTES / 4;
        for index in 1..=8 {
            pending.insert(1, Bytes::from(vec![0u8; big]), entry(index, Command::Noop));
        }
        // Not on disk yet: all eight stay, twice the bound.
        pending.flushed_up_to(0);
        assert_eq!(pending.entries.len(), 8);
        assert_eq!(pending.bytes, 8 * big);
        // On disk: the oldest go until the bound holds.
        pending.flushed_up_to(1);
        assert_eq!(
            pending.entries.keys().copied().collect::<Vec<_>>(),
            vec![5, 6, 7, 8]
        );
        assert_eq!(pending.bytes, 4 * big);
        // A newer, unwritten append past the bound keeps everything newer
        // than what is evicted, and never evicts itself.
        pending.insert(2, Bytes::from(vec![0u8; 3 * big]), entry(9, Command::Noop));
        pending.flushed_up_to(1);
        assert_eq!(
            pending.entries.keys().copied().collect::<Vec<_>>(),
            vec![8, 9]
        );
        // Truncation and replacement keep the count exact.
        pending.insert(2, Bytes::from(vec![0u8; 10]), entry(8, Command::Noop));
        assert_eq!(pending.bytes, 10 + 3 * big);
        pending.retain(|index, _| index < 9);
        assert_eq!(pending.bytes, 10);
    }

    /// Each purge removes everything up to its point, starting after the
    /// previous one, across restarts too; nothing after it is touched.
    #[test]
    fn purges_remove_up_to_their_point_and_keep_the_rest() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("raft-log");
        let purge = |log: &LogDatabase, index: u64| {
            let (done, _finished) = tokio::sync::oneshot::channel();
            let upto = LogId::new(CommittedLeaderId::new(1, 0), index);
            write_round(log, &[WriteOp::Purge { upto, done }], true).expect("purge");
        };
        let stored = |log: &LogDatabase| -> Vec<u64> {
            log.read_range(0, Bound::Unbounded)
                .expect("read")
                .iter()
                .map(|entry| entry.log_id.index)
                .collect()
        };
        {
            let log = LogDatabase::open(&path).expect("open");
            let mut batch = log.batch();
            for index in 1..=12 {
                let bytes = crate::codec::encode(&entry(index, Command::Noop)).expect("encode");
                log.put_entry(&mut batch, index, &bytes);
            }
            batch.commit().expect("commit");
            purge(&log, 4);
            assert_eq!(stored(&log), (5..=12).collect::<Vec<_>>());
            purge(&log, 8);
            assert_eq!(stored(&log), (9..=12).collect::<Vec<_>>());
        }
        let log = LogDatabase::open(&path).expect("reopen");
        assert_eq!(stored(&log), (9..=12).collect::<Vec<_>>());
        purge(&log, 10);
        assert_eq!(stored(&log), vec![11, 12]);
        let last: Option<LogId> = log.read_meta(LAST_PURGED).expect("meta");
        assert_eq!(last.map(|id| id.index), Some(10));
    }

    /// Once the state machine takes an entry, memory keeps only its bytes:
    /// the command the state machine holds is its only decoded copy (taken
    /// without copying), and a later reader, such as a lagging follower's
    /// replication, still reads the same entry.
    #[tokio::test]
    async fn an_entry_the_state_machine_took_is_read_back_from_its_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let storage = crate::storage::Storage::open(dir.path()).expect("open");
        let mut store = LogStore::new(storage.log.clone()).expect("store");
        let command = || Command::DeleteNode {
            node_id: "n1".into(),
        };
        let appended = entry(4, command());
        let bytes = Bytes::from(crate::codec::encode(&appended).expect("encode"));
        let log_id = appended.log_id;
        store
            .pending
            .lock()
            .expect("lock")
            .insert(1, bytes, appended);
        let shared_copies = |entries: &[Entry]| match &entries[0].payload {
            EntryPayload::Normal(command) => Arc::strong_count(&command.0),
            other => panic!("not a command: {other:?}"),
        };

        let before = store.try_get_log_entries(4..5).await.expect("read");
        assert_eq!(shared_copies(&before), 2, "memory and the reader");
        drop(before);

        // Another term's entry at the same index is not this one.
        let other_term = LogId::new(CommittedLeaderId::new(2, 0), 4);
        store.encoded_entries().release(&other_term);
        let still = store.try_get_log_entries(4..5).await.expect("read");
        assert_eq!(shared_copies(&still), 2);
        drop(still);

        store.encoded_entries().release(&log_id);
        let taken = store.try_get_log_entries(4..5).await.expect("read");
        assert_eq!(shared_copies(&taken), 1, "the reader's alone");
        assert_eq!(taken, vec![entry(4, command())]);
        // Readers of ranges reaching past memory (the disk path) see it too.
        let merged = store.try_get_log_entries(1..5).await.expect("read");
        assert_eq!(merged, vec![entry(4, command())]);
        assert_eq!(
            store.encoded_entries().get(&log_id).map(|b| b.len()),
            Some(
                crate::codec::encode(&entry(4, command()))
                    .expect("encode")
                    .len()
            )
        );
        let closed = storage.closed_flag();
        drop((store, storage));
        assert!(
            closed.wait(std::time::Duration::from_secs(5)).await,
            "the stores did not close"
        );
    }

    /// A data directory of an older version keeps its log in `raft.redb`,
    /// some entries JSON (before MessagePack), some binary. Opening it
    /// moves the log, vote and commit point into the log store, drops the
    /// old tables, and reads every entry alike; opening it again changes
    /// nothing.
    #[tokio::test]
    async fn the_log_of_an_older_data_directory_moves_out_of_redb() {
        use redb::{ReadableDatabase, TableDefinition, TableHandle};

        const OLD_LOGS: TableDefinition<u64, &[u8]> = TableDefinition::new("logs");
        const OLD_META: TableDefinition<&str, &[u8]> = TableDefinition::new("meta");
        let dir = tempfile::tempdir().expect("dir");
        let old = entry(1, Command::Noop);
        let new = entry(
            2,
            Command::DeleteNode {
                node_id: "n1".into(),
            },
        );
        let vote = Vote::new(3, 7);
        let committed = Some(old.log_id);
        {
            let state = crate::database::SharedDatabase::create(&dir.path().join("raft.redb"))
                .expect("database");
            let txn = state.begin_write().expect("txn");
            {
                let mut logs = txn.open_table(OLD_LOGS).expect("table");
                let json = serde_json::to_vec(&old).expect("json");
                logs.insert(1, json.as_slice()).expect("insert");
                let binary = crate::codec::encode(&new).expect("encode");
                logs.insert(2, binary.as_slice()).expect("insert");
                let mut meta = txn.open_table(OLD_META).expect("table");
                let vote = serde_json::to_vec(&vote).expect("json");
                meta.insert(VOTE, vote.as_slice()).expect("insert");
                let committed = serde_json::to_vec(&committed).expect("json");
                meta.insert(COMMITTED, committed.as_slice())
                    .expect("insert");
            }
            txn.commit().expect("commit");
        }
        for _opening in 0..2 {
            let storage = crate::storage::Storage::open(dir.path()).expect("open");
            let tables: Vec<String> = storage
                .state
                .begin_read()
                .expect("read")
                .list_tables()
                .expect("tables")
                .map(|table| table.name().to_owned())
                .collect();
            assert!(
                !tables.iter().any(|name| name == "logs" || name == "meta"),
                "old tables left in raft.redb: {tables:?}"
            );
            let mut store = LogStore::new(storage.log.clone()).expect("store");
            let read = store.try_get_log_entries(1..).await.expect("read");
            assert_eq!(read, vec![old.clone(), new.clone()]);
            assert_eq!(store.read_vote().await.expect("vote"), Some(vote));
            assert_eq!(store.read_committed().await.expect("committed"), committed);
            let state = store.get_log_state().await.expect("state");
            assert_eq!(state.last_log_id, Some(new.log_id));
            let closed = storage.closed_flag();
            drop((store, storage));
            assert!(
                closed.wait(std::time::Duration::from_secs(5)).await,
                "the stores did not close"
            );
        }
    }
}
