//! Check-index enforcement (in progress).
