//! Task drivers and the client runtime.
//!
//! This crate will hold the implementations of the driver trait that
//! `scheduler-core` defines (`raw_exec`, `exec`, `docker` through the Docker
//! Engine API, `java`, `qemu`), the node fingerprint, and the allocation and
//! task runners that a client agent uses to run what the servers placed on it.
//!
//! It is the place where processes, containers and virtual machines are
//! started; `scheduler-core` never does IO. It is not written yet: see the
//! project's issue "Client and task drivers".
