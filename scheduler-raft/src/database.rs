//! The server's redb file, and what tells when a store's files are really
//! closed.
//!
//! Shutting a server down and opening its directory again at once is
//! common (restarts, recovery, tests), and redb and fjall refuse files
//! another handle still holds. Watching an `Arc`'s strong count is not
//! enough: it reaches zero before the value's `Drop` has run, so a file
//! lock may still be held for a moment after. [`Closing`] raises its flag
//! only after the value's own drop has finished; [`SharedDatabase`] (this
//! file) and the log's [`LogDatabase`](crate::log_database::LogDatabase)
//! both hold their store in one.

use std::ops::Deref;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// A value that raises a "closed" flag once it has been dropped.
pub struct Closing<T> {
    // `Option` so that `Drop` can drop the value before raising the flag.
    value: Option<T>,
    closed: Arc<AtomicBool>,
}

impl<T> Closing<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            value: Some(value),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A flag that turns true once this is dropped and the value's own
    /// drop has finished.
    pub fn closed_flag(&self) -> ClosedFlag {
        ClosedFlag(vec![self.closed.clone()])
    }
}

impl<T> Deref for Closing<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.value
            .as_ref()
            .expect("the value is only taken out while dropping")
    }
}

impl<T> Drop for Closing<T> {
    fn drop(&mut self) {
        drop(self.value.take());
        self.closed.store(true, Ordering::Release);
    }
}

impl<T> std::fmt::Debug for Closing<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closing")
            .field("closed", &self.closed.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// The redb database with a "closed" flag raised after it is dropped.
#[derive(Debug)]
pub struct SharedDatabase(Closing<redb::Database>);

/// Observes whether stores have closed their files ([`Closing`]); joined
/// with [`ClosedFlag::and`], whether all of several have.
#[derive(Clone, Debug)]
pub struct ClosedFlag(Vec<Arc<AtomicBool>>);

impl SharedDatabase {
    /// Opens (or creates) the database file at `path`.
    pub fn create(path: &Path) -> Result<Arc<Self>, redb::DatabaseError> {
        Ok(Arc::new(Self(Closing::new(redb::Database::create(path)?))))
    }

    /// Opens an existing database file; fails if there is none.
    pub fn open(path: &Path) -> Result<Arc<Self>, redb::DatabaseError> {
        Ok(Arc::new(Self(Closing::new(redb::Database::open(path)?))))
    }

    /// A flag that turns true once the last handle is dropped and the file
    /// is closed.
    pub fn closed_flag(&self) -> ClosedFlag {
        self.0.closed_flag()
    }
}

impl ClosedFlag {
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
        &self.0
    }
}
