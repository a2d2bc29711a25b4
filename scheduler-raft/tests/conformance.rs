//! The Raft store runs the core's state-store conformance suite: every
//! write goes through the state machine openraft drives (as a JSON log
//! entry, applied by `RaftStateMachine::apply`), and a reload goes through
//! the durable path (a snapshot written to the redb file, a new state
//! machine opened on that file).

use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{CommittedLeaderId, EntryPayload, RaftSnapshotBuilder};
use scheduler_core::state::conformance::{StoreWrite, TestableStore, check_all};
use scheduler_core::state::{MemorySnapshot, StateError, StateSnapshot};
use scheduler_raft::Command;
use scheduler_raft::database::SharedDatabase;
use scheduler_raft::state_machine::StateMachine;
use scheduler_raft::types::{Entry, LogId};
use tokio::sync::watch;

struct RaftStore {
    runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    db: Arc<SharedDatabase>,
    machine: StateMachine,
}

impl RaftStore {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let db = SharedDatabase::create(&dir.path().join("raft.redb")).expect("database");
        let machine = StateMachine::open(db.clone(), Arc::new(watch::channel(0).0)).expect("open");
        Self {
            runtime,
            _dir: dir,
            db,
            machine,
        }
    }
}

fn command_of(write: StoreWrite) -> Command {
    match write {
        StoreWrite::UpsertNode(node) => Command::UpsertNodes { nodes: vec![*node] },
        StoreWrite::DeleteNode(node_id) => Command::DeleteNode { node_id },
        StoreWrite::UpsertJob(job) => Command::RegisterJob {
            job,
            enforce_index: None,
            eval: None,
        },
        StoreWrite::DeleteJob { namespace, id } => Command::DeregisterJob {
            namespace,
            job_id: id,
            purge: true,
            eval: None,
        },
        StoreWrite::UpsertAllocs(allocs) => Command::UpsertAllocs { allocs },
        StoreWrite::UpsertEval(eval) => Command::UpsertEvals { evals: vec![*eval] },
        StoreWrite::UpsertDeployment(deployment) => Command::UpsertDeployment { deployment },
        StoreWrite::DeleteAllocs(allocs) => Command::GarbageCollect {
            evals: vec![],
            allocs,
            deployments: vec![],
            jobs: vec![],
        },
        StoreWrite::DeleteEvals(evals) => Command::GarbageCollect {
            evals,
            allocs: vec![],
            deployments: vec![],
            jobs: vec![],
        },
        StoreWrite::DeleteDeployments(deployments) => Command::GarbageCollect {
            evals: vec![],
            allocs: vec![],
            deployments,
            jobs: vec![],
        },
    }
}

impl TestableStore for RaftStore {
    type Snapshot = MemorySnapshot;

    fn apply(&mut self, index: u64, write: StoreWrite) -> Result<(), StateError> {
        let current = self.snapshot().index();
        if index < current {
            // The log never goes backwards; the state machine would fail
            // the entry as a storage fault. Report it as the core does.
            return Err(StateError::IndexRegressed {
                current,
                given: index,
            });
        }
        // Through JSON, as the log store keeps entries.
        let command: Command =
            serde_json::from_slice(&serde_json::to_vec(&command_of(write)).expect("encode"))
                .expect("decode");
        let entry = Entry {
            log_id: LogId::new(CommittedLeaderId::new(1, 0), index),
            payload: EntryPayload::Normal(command.into()),
        };
        let responses = self
            .runtime
            .block_on(self.machine.apply(vec![entry]))
            .expect("apply");
        assert_eq!(responses.len(), 1);
        responses[0]
            .result
            .as_ref()
            .expect("a conformance write is never refused");
        Ok(())
    }

    fn snapshot(&self) -> MemorySnapshot {
        self.machine.shared().read().expect("lock").state.snapshot()
    }

    fn reload(&mut self) {
        self.runtime
            .block_on(self.machine.build_snapshot())
            .expect("snapshot");
        self.machine =
            StateMachine::open(self.db.clone(), Arc::new(watch::channel(0).0)).expect("reopen");
    }
}

#[test]
fn the_raft_state_machine_passes_the_store_conformance_suite() {
    check_all(&mut RaftStore::new, 24);
}
