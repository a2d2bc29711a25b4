//! A server's data directory: the state machine's snapshot in `raft.redb`
//! ([`SharedDatabase`]) and the Raft log in `raft-log/`
//! ([`LogDatabase`]), opened together.

use std::path::Path;
use std::sync::Arc;

use crate::database::{ClosedFlag, SharedDatabase};
use crate::log_database::LogDatabase;

/// The snapshot file, relative to the data directory.
pub const STATE_FILE: &str = "raft.redb";
/// The log's directory, relative to the data directory.
pub const LOG_DIR: &str = "raft-log";

/// Both stores of one data directory.
#[derive(Clone, Debug)]
pub struct Storage {
    /// The redb file with the latest snapshot.
    pub state: Arc<SharedDatabase>,
    /// The fjall database with the log, vote and commit point.
    pub log: Arc<LogDatabase>,
}

impl Storage {
    /// Opens the stores of `data_dir`, creating what is missing, and moves
    /// the log of an older version's directory into the log store.
    pub fn open(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join(STATE_FILE);
        let state = SharedDatabase::create(&path)
            .map_err(|err| format!("opening {}: {err}", path.display()))?;
        Self::with_state(data_dir, state)
    }

    /// Like [`Storage::open`], but fails unless `data_dir` already holds a
    /// server's state (for offline tools, which must not create one).
    pub fn open_existing(data_dir: &Path) -> Result<Self, String> {
        let path = data_dir.join(STATE_FILE);
        if !path.exists() {
            return Err(format!("{} does not exist", path.display()));
        }
        let state = SharedDatabase::open(&path)
            .map_err(|err| format!("opening {}: {err}", path.display()))?;
        Self::with_state(data_dir, state)
    }

    fn with_state(data_dir: &Path, state: Arc<SharedDatabase>) -> Result<Self, String> {
        let log = LogDatabase::open(&data_dir.join(LOG_DIR))?;
        log.adopt_legacy_log(&state)?;
        Ok(Self { state, log })
    }

    /// Raised once both stores have closed their files.
    pub fn closed_flag(&self) -> ClosedFlag {
        self.state.closed_flag().and(self.log.closed_flag())
    }
}
