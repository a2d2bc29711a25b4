//! The leader's proposer: concurrent writes share Raft entries.
//!
//! openraft 0.9 appends every `client_write` as its own entry and waits for
//! that append to be flushed before it takes the next one, so a leader that
//! proposed each client's write alone paid one fsync per write, and 32
//! clients could not go faster than one fsync round after another. The
//! proposer keeps a small number of entries in flight
//! ([`super::RaftTuning::proposals_in_flight`]); writes that arrive while
//! they are in flight wait in a queue, and the next free slot takes the
//! whole queue as one [`Command::Batch`] entry. Under light load every
//! write still travels alone and at once; under heavy load one fsync and
//! one replication round serve many writes.
//!
//! Each write keeps its own answer: a batch applies its commands one after
//! the other at one index, and each command's result goes back to the
//! caller that proposed it, exactly as if it had been written alone.

use std::sync::Arc;
use std::time::Duration;

use openraft::error::{ClientWriteError, RaftError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use crate::command::{Applied, Command, CommandResponse};
use crate::types::Raft;

/// The most objects (see [`Command::weight`]) one batched entry carries;
/// the plan applier's own cap, so a batch replicates within a heartbeat
/// as one of its plans does. A single larger command still travels alone.
const MAX_BATCH_WEIGHT: usize = 1_000;

/// The most commands one batched entry carries.
const MAX_BATCH_COMMANDS: usize = 1_024;

/// How long an entry may hold its slot. A write that has not committed by
/// then (a leader cut off from its quorum, a slow disk) frees the slot so
/// the queue behind it is proposed anyway: openraft orders the entries, and
/// a stuck one must not hold back the writes of every other client.
const SLOT_HOLD: Duration = Duration::from_millis(500);

/// Why a proposal was not committed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ProposeError {
    /// This server does not lead (any more): retry through the leader.
    #[error("this server does not lead")]
    NotLeader,
    /// Raft refused or failed.
    #[error("raft: {0}")]
    Raft(String),
    /// Not committed within the wait; it may still commit.
    #[error("not committed in time; it may still commit")]
    NotCommitted,
}

/// A handle for proposing writes; cheap to clone.
#[derive(Clone)]
pub(crate) struct Proposer {
    queue: mpsc::UnboundedSender<Proposal>,
}

struct Proposal {
    command: Command,
    reply: oneshot::Sender<Result<CommandResponse, ProposeError>>,
}

impl Proposer {
    /// Starts the proposer of `raft`. It stops once every handle is
    /// dropped.
    pub(crate) fn start(raft: Raft, in_flight: usize, commit_wait: Duration) -> Proposer {
        let (queue, receiver) = mpsc::unbounded_channel();
        let slots = Arc::new(Semaphore::new(in_flight.max(1)));
        tokio::spawn(propose_loop(raft, receiver, slots, commit_wait));
        Proposer { queue }
    }

    /// Commits `command` through this server's Raft (which must lead) and
    /// returns what applying it answered.
    pub(crate) async fn propose(&self, command: Command) -> Result<CommandResponse, ProposeError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Proposal { command, reply })
            .map_err(|_| ProposeError::Raft("the server is shutting down".to_owned()))?;
        // The proposer answers every proposal it takes, with a timeout of
        // its own; a dropped reply means it stopped.
        answer
            .await
            .unwrap_or_else(|_| Err(ProposeError::Raft("the server is shutting down".to_owned())))
    }
}

async fn propose_loop(
    raft: Raft,
    mut receiver: mpsc::UnboundedReceiver<Proposal>,
    slots: Arc<Semaphore>,
    commit_wait: Duration,
) {
    let mut carried: Option<Proposal> = None;
    loop {
        let first = match carried.take() {
            Some(proposal) => proposal,
            None => match receiver.recv().await {
                Some(proposal) => proposal,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // Everything that queued up while the slots were busy goes now.
        let mut weight = first.command.weight();
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH_COMMANDS && weight < MAX_BATCH_WEIGHT {
            let Ok(next) = receiver.try_recv() else {
                break;
            };
            let next_weight = next.command.weight();
            if weight.saturating_add(next_weight) > MAX_BATCH_WEIGHT {
                carried = Some(next);
                break;
            }
            weight += next_weight;
            batch.push(next);
        }
        tokio::spawn(commit(raft.clone(), batch, slot, commit_wait));
    }
}

/// Proposes `batch` as one entry and answers each of its callers.
async fn commit(
    raft: Raft,
    mut batch: Vec<Proposal>,
    slot: OwnedSemaphorePermit,
    commit_wait: Duration,
) {
    let alone = batch.len() == 1;
    let (command, replies): (Command, Vec<_>) = if alone {
        let Proposal { command, reply } = batch.pop().expect("one proposal");
        (command, vec![reply])
    } else {
        let (commands, replies) = batch
            .into_iter()
            .map(|proposal| (proposal.command, proposal.reply))
            .unzip();
        (Command::Batch(commands), replies)
    };
    let write = tokio::time::timeout(commit_wait, raft.client_write(command.into()));
    tokio::pin!(write);
    let written = tokio::select! {
        written = &mut write => {
            drop(slot);
            written
        }
        () = tokio::time::sleep(SLOT_HOLD) => {
            drop(slot);
            write.await
        }
    };
    let outcome = match written {
        Err(_) => Err(ProposeError::NotCommitted),
        Ok(Err(RaftError::APIError(ClientWriteError::ForwardToLeader(_)))) => {
            Err(ProposeError::NotLeader)
        }
        Ok(Err(err)) => Err(ProposeError::Raft(err.to_string())),
        Ok(Ok(response)) => Ok(response.data),
    };
    match outcome {
        Ok(response) if alone => {
            for reply in replies {
                let _ = reply.send(Ok(response.clone()));
            }
        }
        Ok(CommandResponse {
            index,
            result: Ok(Applied::Batch(results)),
        }) if results.len() == replies.len() => {
            for (reply, result) in replies.into_iter().zip(results) {
                let _ = reply.send(Ok(CommandResponse { index, result }));
            }
        }
        Ok(CommandResponse {
            index,
            result: Err(refusal),
        }) => {
            // The whole entry was refused (the store's index check): every
            // command of it was.
            for reply in replies {
                let _ = reply.send(Ok(CommandResponse {
                    index,
                    result: Err(refusal.clone()),
                }));
            }
        }
        Ok(other) => {
            let message = format!("a batch of {} answered {other:?}", replies.len());
            for reply in replies {
                let _ = reply.send(Err(ProposeError::Raft(message.clone())));
            }
        }
        Err(err) => {
            for reply in replies {
                let _ = reply.send(Err(err.clone()));
            }
        }
    }
}
