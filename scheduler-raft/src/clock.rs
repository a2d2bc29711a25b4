//! The one place this crate reads the wall clock and draws entropy (the
//! workspace's clippy configuration bans both elsewhere, to keep the core
//! pure). The server decides times and ids here and passes them into
//! commands, so replicas apply the same values.

/// The wall clock, Unix nanoseconds.
#[allow(clippy::disallowed_methods)]
pub fn now_unix_nanos() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_nanos()).unwrap_or(i64::MAX)
}

/// A monotonic instant, for deadlines.
#[allow(clippy::disallowed_methods)]
pub fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}

/// A random number from the operating system's generator.
#[allow(clippy::disallowed_methods)]
pub fn random_u64() -> u64 {
    rand::random()
}
