//! What a client keeps on its disk so that a restarted client re-attaches
//! to its tasks instead of starting them again: per allocation, the
//! allocation itself and per task its driver handle and last state. One
//! JSON file, replaced atomically on every change.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use scheduler_core::driver::TaskHandle;
use scheduler_core::model::{Allocation, TaskState};

use crate::process::write_atomically;

/// One task as persisted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PersistedTask {
    /// The driver's handle of the current attempt.
    pub handle: Option<TaskHandle>,
    /// The task's state when last written.
    pub state: TaskState,
}

/// One allocation as persisted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PersistedAlloc {
    /// The allocation as the servers sent it.
    pub alloc: Allocation,
    /// Its tasks by name.
    pub tasks: BTreeMap<String, PersistedTask>,
}

/// The client's state file.
#[derive(Debug)]
pub struct ClientState {
    path: PathBuf,
    allocs: Mutex<BTreeMap<String, PersistedAlloc>>,
}

impl ClientState {
    /// Opens (or starts) the state in `data_dir/client-state.json`.
    pub fn open(data_dir: &Path) -> std::io::Result<ClientState> {
        std::fs::create_dir_all(data_dir)?;
        let path = data_dir.join("client-state.json");
        let allocs = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| std::io::Error::other(format!("{}: {e}", path.display())))?,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(err) => return Err(err),
        };
        Ok(ClientState {
            path,
            allocs: Mutex::new(allocs),
        })
    }

    /// Every persisted allocation.
    pub fn allocs(&self) -> BTreeMap<String, PersistedAlloc> {
        self.allocs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Changes one allocation's record (creating it) and writes the file.
    pub fn update(
        &self,
        alloc: &Allocation,
        change: impl FnOnce(&mut PersistedAlloc),
    ) -> std::io::Result<()> {
        let mut allocs = self.allocs.lock().unwrap_or_else(|e| e.into_inner());
        let entry = allocs
            .entry(alloc.id.to_string())
            .or_insert_with(|| PersistedAlloc {
                alloc: alloc.clone(),
                tasks: BTreeMap::new(),
            });
        change(entry);
        self.write(&allocs)
    }

    /// Forgets an allocation (garbage collected) and writes the file.
    pub fn remove(&self, alloc_id: &str) -> std::io::Result<()> {
        let mut allocs = self.allocs.lock().unwrap_or_else(|e| e.into_inner());
        allocs.remove(alloc_id);
        self.write(&allocs)
    }

    fn write(&self, allocs: &BTreeMap<String, PersistedAlloc>) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(allocs).map_err(std::io::Error::other)?;
        write_atomically(&self.path, &bytes)
    }
}
