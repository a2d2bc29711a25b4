//! Operator tools: snapshot save and restore, removal of a dead peer, and
//! recovery of a lone survivor after the quorum is lost.
//!
//! - [`snapshot_save`] writes the whole state, as of a linearizable read,
//!   into one versioned file ([`SnapshotFile`]); [`snapshot_restore`]
//!   replaces every server's state with such a file through Raft (one
//!   [`Command::RestoreState`] entry), so it works from any server and every
//!   replica ends equal. A file of a newer format is refused by name; files
//!   of every older format keep restoring (the fixture test guards that).
//! - [`remove_peer`] removes a server from the configuration from any
//!   server (forwarding to the leader).
//! - [`recover_single_node`] is offline: it rewrites a stopped server's data
//!   directory so that the server starts alone, in a configuration of
//!   itself only, with everything its log held (Nomad's `peers.json`
//!   recovery). `docs/operations.md` describes when and how.
//!
//! The same operations are served on the internal HTTP API
//! (`GET`/`PUT /v1/internal/snapshot`, `POST /v1/internal/peers/remove`)
//! and by [`crate::client::RemoteClient`].

// Recovery works on openraft's storage error type (`StorageError`, 200-odd
// bytes) in a few private helpers.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ChangeMembers, Membership};
use serde::{Deserialize, Serialize};

use crate::command::{Command, CommandResponse};
use crate::log_database::{COMMITTED, LAST_PURGED, VOTE};
use crate::server::{LEADER_WAIT, Server, ServerError, leader_addr, read_index, write_via};
use crate::state_machine::{
    SharedState, SnapshotFile, SnapshotFileError, StateMachine, apply_entry, snapshot_file_of,
};
use crate::storage::Storage;
use crate::types::{LogId, Raft, ServerId, StoredMembership, Vote};

/// The largest encoded state a restore proposes. The state travels as one
/// Raft entry, which every follower must receive in one request, so this
/// stays below the transport's limit (`network::MAX_RPC_BYTES`) with room
/// for the entry's framing.
pub const MAX_RESTORE_BYTES: usize = 256 << 20;

/// The header a server sets on a request it forwards to the leader, so the
/// leader does not forward it again.
pub(crate) const FORWARDED_HEADER: &str = "x-scheduler-forwarded";

/// Why an operator action failed.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The snapshot file cannot be restored by this build.
    #[error("{0}")]
    Snapshot(#[from] SnapshotFileError),
    /// The snapshot is larger than one Raft entry may be.
    #[error(
        "snapshot state is {bytes} bytes encoded, over the {limit}-byte limit of one Raft entry"
    )]
    TooLarge {
        /// The encoded restore entry's size.
        bytes: usize,
        /// [`MAX_RESTORE_BYTES`].
        limit: usize,
    },
    /// The cluster refused or could not be reached.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// The data directory cannot be recovered.
    #[error("recovering {path}: {message}")]
    Recovery {
        /// The data directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreOutcome {
    /// The log index the restore was applied at: the store's index and
    /// every table's index are this now.
    pub applied_at: u64,
    /// The log index the file was saved at (its `meta.last_log_id`).
    pub saved_at: Option<u64>,
    /// The program that wrote the file.
    pub producer: String,
}

/// What [`recover_single_node`] did to a data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryReport {
    /// The recovered server's id (from `DATA_DIR/server-id`).
    pub server_id: ServerId,
    /// The address written into its new configuration.
    pub address: String,
    /// The voters of the configuration it had (now replaced).
    pub previous_voters: Vec<ServerId>,
    /// The index of the snapshot it started from, if it had one.
    pub snapshot_index: Option<u64>,
    /// The log entries re-applied on top of that snapshot.
    pub replayed: u64,
    /// The commit point it had recorded: entries after it were kept
    /// although the old cluster may never have acknowledged them.
    pub committed_index: Option<u64>,
    /// The index of the new snapshot, which holds everything the server
    /// had; the log is empty behind it.
    pub last_index: u64,
    /// The term of its vote, kept as it was.
    pub term: u64,
}

/// Saves the whole state as one snapshot file (bytes).
///
/// The read is linearizable: the leader confirms its leadership and names
/// its commit index, and `server` waits until it has applied that far, so
/// the file holds every write acknowledged before the call, whichever
/// server is asked.
pub async fn snapshot_save(server: &Server) -> Result<Vec<u8>, OperatorError> {
    let file = save_file(server.raft(), server.http_client(), server.shared_state()).await?;
    Ok(file.to_bytes())
}

/// Replaces the cluster's state with a saved snapshot file, on every
/// server, through Raft (forwarded to the leader when `server` does not
/// lead).
///
/// The file is checked first: a newer format, a truncated or malformed
/// file, or one over [`MAX_RESTORE_BYTES`] is refused without touching the
/// cluster. The membership is not restored: the cluster keeps its servers.
pub async fn snapshot_restore(
    server: &Server,
    bytes: &[u8],
) -> Result<RestoreOutcome, OperatorError> {
    restore_via(
        server.raft(),
        server.proposer(),
        server.http_client(),
        bytes,
    )
    .await
}

/// Removes a (dead) server from the configuration, from any server: a
/// follower forwards the request to the leader.
pub async fn remove_peer(server: &Server, id: ServerId) -> Result<(), OperatorError> {
    Ok(remove_peer_via(server.raft(), server.http_client(), id).await?)
}

/// The consistent snapshot file, for [`snapshot_save`] and the HTTP route.
pub(crate) async fn save_file(
    raft: &Raft,
    http: &reqwest::Client,
    shared: &SharedState,
) -> Result<SnapshotFile, ServerError> {
    let index = read_index(raft, http).await?;
    raft.wait(Some(LEADER_WAIT))
        .applied_index_at_least(Some(index), "snapshot save")
        .await
        .map_err(|err| {
            ServerError::Raft(format!(
                "not caught up to index {index} for a snapshot: {err}"
            ))
        })?;
    Ok(snapshot_file_of(shared, |last| match last {
        Some(id) => format!("save-{}-{}", id.leader_id, id.index),
        None => "save--".to_owned(),
    }))
}

/// Checks a snapshot file and commits its state through the leader.
pub(crate) async fn restore_via(
    raft: &Raft,
    proposer: &crate::server::Proposer,
    http: &reqwest::Client,
    bytes: &[u8],
) -> Result<RestoreOutcome, OperatorError> {
    let file = SnapshotFile::from_bytes(bytes)?;
    let saved_at = file.meta.last_log_id.map(|id| id.index);
    let producer = file.producer;
    let command = Command::RestoreState(Box::new(file.state));
    let size = serde_json::to_vec(&command).map_or(usize::MAX, |encoded| encoded.len());
    if size > MAX_RESTORE_BYTES {
        return Err(OperatorError::TooLarge {
            bytes: size,
            limit: MAX_RESTORE_BYTES,
        });
    }
    let CommandResponse { index, result } = write_via(raft, proposer, http, command).await?;
    result.map_err(|refusal| ServerError::Raft(format!("restore refused: {refusal}")))?;
    Ok(RestoreOutcome {
        applied_at: index,
        saved_at,
        producer,
    })
}

/// A membership change on the leader: `Ok(None)` when this server does
/// not lead (the caller retries through the leader).
async fn remove_on_leader(raft: &Raft, id: ServerId) -> Result<Option<()>, ServerError> {
    for change in [
        ChangeMembers::RemoveVoters(BTreeSet::from([id])),
        ChangeMembers::RemoveNodes(BTreeSet::from([id])),
    ] {
        match raft.change_membership(change, false).await {
            Ok(_) => {}
            Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_))) => return Ok(None),
            Err(err) => return Err(ServerError::Raft(err.to_string())),
        }
    }
    Ok(Some(()))
}

/// Removes `id` on this server if it leads, answering `Ok(None)` if it does
/// not (a forwarded request is never forwarded again).
pub(crate) async fn remove_peer_here(raft: &Raft, id: ServerId) -> Result<Option<()>, ServerError> {
    if raft.metrics().borrow().state != openraft::ServerState::Leader {
        return Ok(None);
    }
    remove_on_leader(raft, id).await
}

/// Removes `id` through whoever leads, retrying while an election is
/// under way, up to the leader wait.
pub(crate) async fn remove_peer_via(
    raft: &Raft,
    http: &reqwest::Client,
    id: ServerId,
) -> Result<(), ServerError> {
    let started = crate::clock::monotonic();
    loop {
        if remove_peer_here(raft, id).await?.is_some() {
            return Ok(());
        }
        if let Some(addr) = leader_addr(raft) {
            let forwarded = http
                .post(format!("http://{addr}/v1/internal/peers/remove"))
                .header(FORWARDED_HEADER, "1")
                .timeout(LEADER_WAIT)
                .json(&RemovePeerRequest { id })
                .send()
                .await;
            if let Ok(response) = forwarded {
                let not_leader = response.status() == reqwest::StatusCode::CONFLICT;
                match response.json::<Result<(), String>>().await {
                    Ok(Ok(())) => return Ok(()),
                    Ok(Err(message)) if !not_leader => return Err(ServerError::Raft(message)),
                    _ => {}
                }
            }
        }
        if started.elapsed() > LEADER_WAIT {
            return Err(ServerError::NoLeader(LEADER_WAIT));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The body of `POST /v1/internal/peers/remove`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovePeerRequest {
    /// The server to remove.
    pub id: ServerId,
}

/// Rewrites a stopped server's data directory so that it starts as the
/// only voter of a new configuration, keeping everything it holds.
///
/// For a cluster that lost its quorum for good (Nomad's `peers.json`
/// recovery). Steps:
/// 1. restore the latest snapshot kept in `DATA_DIR/raft.redb`;
/// 2. re-apply every log entry after it, committed or not: the survivor's
///    whole log is kept, as Nomad's recovery does, so writes the old
///    cluster never acknowledged may appear;
/// 3. write a new snapshot of that state at the last entry, whose
///    membership is this server alone at `address` (its id comes from
///    `DATA_DIR/server-id`);
/// 4. purge the log up to that entry and move the commit point to it.
///
/// Step 3 is durable before step 4 starts, and an interruption between
/// them is harmless: the snapshot already holds every entry the log does
/// and names the new configuration, which openraft prefers to any
/// membership in the log at or before it; running the recovery again
/// finishes the purge.
///
/// The vote is kept as it was, so the term never goes backwards. On its
/// next [`Server::start`], openraft takes the membership from the snapshot
/// (no log entry follows it), the server elects itself and serves the full
/// state; others can then be added with [`Server::add_voter`].
///
/// The server must be stopped: redb and fjall refuse files another
/// process (or this one) has open. This blocks on disk IO; from async
/// code, call it from `tokio::task::spawn_blocking`.
pub fn recover_single_node(
    data_dir: &Path,
    address: &str,
) -> Result<RecoveryReport, OperatorError> {
    let fail = |message: String| OperatorError::Recovery {
        path: data_dir.to_owned(),
        message,
    };
    let id_path = data_dir.join("server-id");
    let id_text = std::fs::read_to_string(&id_path)
        .map_err(|err| fail(format!("reading {}: {err}", id_path.display())))?;
    let server_id: ServerId = id_text
        .trim()
        .parse()
        .map_err(|_| fail(format!("{} does not hold a server id", id_path.display())))?;
    let storage = Storage::open_existing(data_dir).map_err(fail)?;
    recover_storage(storage, server_id, address).map_err(fail)
}

fn recover_storage(
    storage: Storage,
    server_id: ServerId,
    address: &str,
) -> Result<RecoveryReport, String> {
    let storage_error = |err: crate::types::StorageError| err.to_string();
    let log = storage.log;
    // Opening the state machine restores the kept snapshot into memory, as
    // a starting server does.
    let (applied_tx, _applied) = tokio::sync::watch::channel(0);
    let machine =
        StateMachine::open(storage.state.clone(), Arc::new(applied_tx)).map_err(storage_error)?;
    let shared = machine.shared();

    let vote: Option<Vote> = log.read_meta(VOTE)?;
    let committed: Option<LogId> = log.read_meta::<Option<LogId>>(COMMITTED)?.flatten();
    let last_purged: Option<LogId> = log.read_meta(LAST_PURGED)?;
    let snapshot = shared
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .last_applied;
    let snapshot_index = snapshot.map(|id| id.index);
    if let Some(purged) = last_purged
        && snapshot_index.is_none_or(|index| index < purged.index)
    {
        return Err(format!(
            "the log is purged up to index {} but the kept snapshot ends at {}: \
             entries in between are lost",
            purged.index,
            snapshot_index.map_or("nothing".to_owned(), |index| index.to_string())
        ));
    }

    // Every entry after the snapshot, committed or not, in order.
    let start = snapshot_index.map_or(0, |index| index + 1);
    let entries = log.read_range(start, std::ops::Bound::Unbounded)?;
    let mut replayed = 0;
    {
        let mut machine_state = shared.write().unwrap_or_else(|e| e.into_inner());
        for (expected, entry) in (start..).zip(entries) {
            if entry.log_id.index != expected {
                return Err(format!(
                    "the log has a gap: entry {expected} is missing (next is {})",
                    entry.log_id.index
                ));
            }
            apply_entry(&mut machine_state, entry).map_err(storage_error)?;
            replayed += 1;
        }
    }

    let (last, previous_voters) = {
        let mut machine_state = shared.write().unwrap_or_else(|e| e.into_inner());
        let Some(last) = machine_state.last_applied else {
            return Err(
                "no log and no snapshot: this server never joined a cluster \
                 (start it and bootstrap instead)"
                    .to_owned(),
            );
        };
        let previous_voters: Vec<ServerId> =
            machine_state.membership.membership().voter_ids().collect();
        let alone = Membership::new(
            vec![BTreeSet::from([server_id])],
            BTreeMap::from([(server_id, BasicNode::new(address))]),
        );
        machine_state.membership = StoredMembership::new(Some(last), alone);
        (last, previous_voters)
    };
    let file = snapshot_file_of(&shared, |_| {
        format!("recovery-{}-{}", last.leader_id, last.index)
    });
    let bytes = file.to_bytes();
    let purged = serde_json::to_vec(&Some(last)).map_err(|err| err.to_string())?;

    // The new snapshot first, durably (see the function's comment on
    // order), then the empty log behind it and the commit point at its end.
    let write = |err: &dyn std::fmt::Display| format!("writing the recovered state: {err}");
    StateMachine::store_snapshot(&storage.state, &bytes).map_err(|e| write(&e))?;
    let mut batch = log.batch();
    log.put_meta(&mut batch, LAST_PURGED, &purged);
    log.put_meta(&mut batch, COMMITTED, &purged);
    log.remove_entries(
        &mut batch,
        std::ops::Bound::Unbounded,
        std::ops::Bound::Included(last.index),
    )?;
    batch.commit().map_err(|e| write(&e))?;
    log.sync()?;

    Ok(RecoveryReport {
        server_id,
        address: address.to_owned(),
        previous_voters,
        snapshot_index,
        replayed,
        committed_index: committed.map(|id| id.index),
        last_index: last.index,
        term: vote.map_or(0, |vote| vote.leader_id.term),
    })
}
