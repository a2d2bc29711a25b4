//! Node drain pacing (in progress).
