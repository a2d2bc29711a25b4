//! Task drivers and the client runtime.
//!
//! This crate implements the driver trait that `scheduler-core` defines
//! ([`scheduler_core::driver::TaskDriver`]) and will hold the client
//! runtime that runs what the servers placed on a node. It is where
//! processes, containers and virtual machines are started;
//! `scheduler-core` never does IO.
//!
//! # Design
//! Process-based drivers never make a task the client's own child: each
//! task runs under a small supervisor, `sched-executor` ([`executor`]),
//! in its own session, which records the task's start and exit in the
//! task's state directory and writes its stdout and stderr into rotated
//! files ([`logs`]). A client can therefore crash, restart and re-attach
//! ([`scheduler_core::driver::TaskDriver::recover`]) without stopping or
//! duplicating a task, and learns how a task ended while it was away.
//! Processes are named by pid and start time ([`process::ProcessId`]) so a
//! reused pid is never mistaken for a task.
//!
//! # Drivers
//! - [`raw_exec`]: a process on the host, no isolation.
//! - [`exec`]: a process in its own pid, mount, ipc and uts namespaces,
//!   in a task root of bind mounts, as `nobody`, with cgroup limits
//!   ([`isolation`]).
//! - [`java`]: a JVM (`jar_path` or `class`) with the `exec` isolation.
//! - [`docker`]: a container through the Docker Engine API (Docker, or
//!   podman's compatible socket, which `scripts/podman-service` starts).
//! - [`qemu`]: a virtual machine (`kvm` where guests run, else `tcg`),
//!   port forwarding, graceful power-down through QMP.
//!
//! [`fingerprint`] describes the node (CPU, memory, disk, kernel, OS,
//! addresses, drivers) as the `Node` a client registers.
//!
//! [`runner`] runs one task through its driver from start to dead, with
//! its restart policy (`scheduler_core::restart`) and Nomad's task events.
//!
//! [`checks`] runs service checks (tcp, http, script) on their intervals
//! and reports only changes; [`catalog`] holds the registered services
//! with their check status, queryable by name and tag.
//!
//! [`alloc_runner`] runs an allocation: its directories, each task's
//! environment and interpolated config, lifecycle hooks in order, and the
//! persisted [`client_state`] that lets a restarted client re-attach.
//! [`alloc_control`] restarts or signals its tasks on demand and reports
//! their resource usage.
//!
//! [`artifacts`] fetches a task's artifacts (http, local files; checksums;
//! tar.gz, zip, gz) before it starts.
//!
//! Connecting a client to the servers (registration, heartbeats, receiving
//! allocations, sending task-state, check and health changes) is the
//! agent's work (`bins`, the project's agent issue).
//!
//! # Example: run an allocation on this machine
//! ```no_run
//! use std::{collections::BTreeMap, sync::Arc};
//! use scheduler_drivers::{alloc_runner::{run_alloc, ClientContext}, catalog::ServiceCatalog,
//!     client_state::ClientState, executor, raw_exec::RawExecDriver};
//!
//! async fn run(alloc: scheduler_core::model::Allocation, node: scheduler_core::model::Node) {
//!     let data = std::path::Path::new("/var/lib/sched");
//!     let raw_exec = Arc::new(RawExecDriver::new(executor::locate().expect("sched-executor")));
//!     let ctx = Arc::new(ClientContext {
//!         data_dir: data.to_owned(),
//!         node,
//!         drivers: BTreeMap::from([("raw_exec".to_owned(), raw_exec as _)]),
//!         state: Arc::new(ClientState::open(data).expect("state")),
//!         catalog: Arc::new(ServiceCatalog::new()),
//!     });
//!     let runner = run_alloc(ctx, alloc).expect("runs"); // or restore_alloc after a restart
//!     let status = runner.finished().await; // task states, events, deployment health
//!     println!("{:?}", status.client_status);
//! }
//! ```

pub mod alloc_control;
pub mod alloc_health;
pub mod alloc_runner;
pub mod artifacts;
pub mod catalog;
pub mod checks;
pub mod client;
pub mod client_state;
mod clock;
pub mod docker;
pub mod exec;
pub mod executor;
pub mod fingerprint;
pub mod isolation;
pub mod java;
pub mod logs;
mod oom;
pub mod process;
pub mod qemu;
pub mod raw_exec;
pub mod runner;
