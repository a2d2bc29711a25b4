//! The server's redb file, shared by the log store and the state machine.
//!
//! A handle that tells when the file is really closed. Shutting a server
//! down and opening its directory again at once is common (restarts,
//! recovery, tests), and redb refuses a file another handle still holds.
//! Watching an `Arc`'s strong count is not enough: it reaches zero before
//! the value's `Drop` has run, so the file lock may still be held for a
//! moment after. [`SharedDatabase`] raises its flag only after redb's own
//! drop has finished.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The redb database with a "closed" flag raised after it is dropped.
pub struct SharedDatabase {
    // `Option` so that `Drop` can close the file before raising the flag.
    database: Option<redb::Database>,
    closed: Arc<AtomicBool>,
}

/// Observes whether a database ([`SharedDatabase`], or the log's
/// [`LogDatabase`](crate::log_database::LogDatabase)) has closed its files;
/// joined with [`ClosedFlag::and`], whether all of several have.
#[derive(Clone, Debug)]
pub struct ClosedFlag(Vec<Arc<AtomicBool>>);

impl SharedDatabase {
    /// Opens (or creates) the database file at `path`.
    pub fn create(path: &Path) -> Result<Arc<Self>, redb::DatabaseError> {
        Ok(Self::wrap(redb::Database::create(path)?))
    }

    /// Opens an existing database file; fails if there is none.
    pub fn open(path: &Path) -> Result<Arc<Self>, redb::DatabaseError> {
        Ok(Self::wrap(redb::Database::open(path)?))
    }

    fn wrap(database: redb::Database) -> Arc<Self> {
        Arc::new(Self {
            database: Some(database),
            closed: Arc::new(AtomicBool::new(false)),
        })
    }

    /// A flag that turns true once the last handle is dropped and the file
    /// is closed.
    pub fn closed_flag(&self) -> ClosedFlag {
        ClosedFlag::of(self.closed.clone())
    }
}

impl ClosedFlag {
    pub(crate) fn of(flag: Arc<AtomicBool>) -> Self {
        Self(vec![flag])
    }

    /// A flag raised once both this one and `other` are.
    #[must_use]
    pub fn and(mut self, other: ClosedFlag) -> ClosedFlag {
        self.0.extend(other.0);
        self
    }

    /// Whether the database files have been closed.
    pub fn is_closed(&self) -> bool {
        self.0.iter().all(|flag| flag.load(Ordering::Acquire))
    }

    /// Waits until the file is closed, at most `limit`; returns whether it
    /// closed. Bounded, so a handle leaked elsewhere cannot hang the caller.
    pub async fn wait(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.is_closed() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// [`ClosedFlag::wait`] for callers outside the async runtime.
    pub fn wait_blocking(&self, limit: Duration) -> bool {
        let deadline = crate::clock::monotonic() + limit;
        while !self.is_closed() {
            if crate::clock::monotonic() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }
}

impl Deref for SharedDatabase {
    type Target = redb::Database;

    fn deref(&self) -> &redb::Database {
        self.database
            .as_ref()
            .expect("the database is only taken out while dropping")
    }
}

impl Drop for SharedDatabase {
    fn drop(&mut self) {
        drop(self.database.take());
        self.closed.store(true, Ordering::Release);
    }
}

impl std::fmt::Debug for SharedDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedDatabase")
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}
