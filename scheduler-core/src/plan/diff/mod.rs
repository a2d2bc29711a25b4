//! Job diff (in progress).
