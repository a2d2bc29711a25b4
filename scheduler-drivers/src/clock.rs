//! The one place this crate reads the clock (the workspace's clippy
//! configuration bans it elsewhere, to keep the core pure).

/// A monotonic instant, for deadlines.
#[allow(clippy::disallowed_methods)]
pub(crate) fn monotonic() -> std::time::Instant {
    std::time::Instant::now()
}
