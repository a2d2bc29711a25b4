//! Shared helpers for the benches: locating the fixture corpus.
