//! Replicated state store and server control plane.
//!
//! This crate will hold the Raft-replicated state store (openraft with
//! persistent storage), which implements the state-store trait defined by
//! `scheduler-core`, and the server runtime that drives the core's pure logic:
//! the evaluation broker, scheduler workers, the plan applier, heartbeats,
//! the deployment watcher and the periodic launcher.
//!
//! It is not written yet: see the project's issue "Replicated state store and
//! server control plane".
