//! The one place this crate reads the clock (the workspace's clippy
//! configuration bans it elsewhere, to keep the core pure).

/// A monotonic instant, for deadlines.
#[allow(clippy::disallowed_methods)]
pub(crate) fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

/// The wall clock, Unix nanoseconds (task events and restart windows).
#[allow(clippy::disallowed_methods)]
pub(crate) fn unix_nanos() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}
