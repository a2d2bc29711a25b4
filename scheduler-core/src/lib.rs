//! The pure, deterministic core of an embeddable cluster scheduler in the
//! class of HashiCorp Nomad.
//!
//! # The contract
//! - **No IO.** Nothing here opens a file or socket, starts a thread, reads a
//!   clock or draws global randomness. Where an input lives outside (a file a
//!   job spec reads with `file()`), the core defines a trait
//!   ([`jobspec::FileSource`]) and the caller implements it.
//! - **Time and randomness are arguments.** Anything that needs `now` or
//!   random choices takes them as inputs (a seed), so the same inputs give
//!   byte-identical outputs and every decision can be replayed.
//! - **Plain data at the boundary.** The model ([`model`]) is plain structs
//!   with public fields that serialise to Nomad's HTTP API JSON.
//!
//! `clippy.toml` at the workspace root bans `Instant::now`,
//! `SystemTime::now` and thread-local randomness so these hold mechanically.
//!
//! # What is here
//! - [`driver`]: the task driver interface that `scheduler-drivers`
//!   implements, with its plain-data boundary types; [`taskenv`] (a
//!   task's `NOMAD_*` environment and `${...}` interpolation) and
//!   [`restart`] (the restart policy) are the client's pure parts.
//! - [`broker`]: the leader's evaluation broker and blocked-evaluation
//!   tracker, as pure state machines in virtual time.
//! - [`model`]: jobs, task groups, tasks and everything they say; nodes,
//!   allocations, evaluations, deployments; canonicalisation (Nomad's
//!   defaults) and validation.
//! - [`jobspec`]: HCL job files (HCL2 with variables, locals, functions and
//!   dynamic blocks) and Nomad API JSON into the model, with every problem
//!   reported at file, line and column.
//! - [`state`]: the read-only [`state::StateSnapshot`] the scheduler reads,
//!   and [`state::MemoryState`], an in-memory store producing snapshots.
//! - [`scheduler`]: [`scheduler::schedule`], the entry point: feasibility
//!   ([`feasibility`]), ranking ([`ranking`]), selection, explanations and
//!   the "why not this node" query ([`scheduler::why_not`]).
//! - [`plan`]: the plan applier's per-node re-check and applying a plan.
//! - [`simulate`]: cluster files and an offline simulator (what
//!   `sched simulate` runs).
//!
//! Reconciliation of job updates, deployments and preemption land here
//! next (see `ARCHITECTURE.md`).
//!
//! # Example: place a job
//! ```
//! use scheduler_core::jobspec::{parse, ParseOptions};
//! use scheduler_core::model::{EvalId, Evaluation};
//! use scheduler_core::scheduler::{schedule, SchedulerEnv};
//! use scheduler_core::simulate::cluster::parse_cluster;
//! use scheduler_core::state::MemoryState;
//!
//! // Three nodes, from the cluster file format `sched simulate` reads.
//! let cluster = parse_cluster(r#"
//! node "web" {
//!   count   = 3
//!   drivers = ["docker"]
//!   resources {
//!     cpu    = 4000
//!     memory = 8192
//!     disk   = 100000
//!   }
//! }
//! "#, "cluster.hcl").expect("a valid cluster");
//!
//! let job = parse(r#"
//! job "cache" {
//!   group "redis" {
//!     count = 2
//!     network {
//!       port "db" {}
//!     }
//!     task "redis" {
//!       driver = "docker"
//!       config { image = "redis:7" }
//!       resources { memory = 512 }
//!     }
//!   }
//! }
//! "#, &ParseOptions::new("cache.nomad.hcl")).expect("a valid job").job;
//!
//! let mut state = MemoryState::new();
//! for node in cluster.nodes {
//!     state.upsert_node(1, node).unwrap();
//! }
//! state.upsert_job(2, job.clone()).unwrap();
//!
//! let eval = Evaluation {
//!     id: EvalId::new("4f1e6d2a-0000-4000-8000-000000000001"),
//!     job_id: job.id.clone(),
//!     namespace: job.namespace.as_str().into(),
//!     eval_type: "service".into(),
//!     ..Evaluation::default()
//! };
//! // Time and the seed are inputs: the same inputs give the same plan.
//! let env = SchedulerEnv { now: 1_764_000_000_000_000_000, seed: 42 };
//! let result = schedule(&state.snapshot(), &eval, &env);
//!
//! assert!(result.failures.is_empty());
//! let mut names: Vec<&str> = result.plan.placements().map(|a| a.name.as_str()).collect();
//! names.sort();
//! assert_eq!(names, ["cache.redis[0]", "cache.redis[1]"]);
//! for alloc in result.plan.placements() {
//!     let port = &alloc.allocated_resources.shared.ports[0];
//!     assert!((20000..=32000).contains(&port.value)); // a dynamic port, from the seed
//! }
//! assert_eq!(result, schedule(&state.snapshot(), &eval, &env));
//! ```
//!
//! # Example: read a job file
//! ```
//! use scheduler_core::jobspec::{parse, ParseOptions, VariableInputs};
//!
//! let source = r#"
//! variable "image" { default = "redis:7" }
//!
//! job "cache" {
//!   datacenters = ["dc1"]
//!   group "redis" {
//!     count = 2
//!     task "redis" {
//!       driver = "docker"
//!       config { image = var.image }
//!       resources { memory = 512 }
//!     }
//!   }
//! }
//! "#;
//! let options = ParseOptions {
//!     inputs: VariableInputs { vars: vec![("image".into(), "redis:7.4".into())], ..Default::default() },
//!     ..ParseOptions::new("cache.nomad.hcl")
//! };
//! let job = parse(source, &options).expect("a valid job").job;
//! let task = &job.task_groups[0].tasks[0];
//! assert_eq!(task.config["image"], "redis:7.4");
//! assert_eq!(task.resources.memory_mb().0, 512);
//! assert_eq!(task.resources.cpu().0, 100); // Nomad's default, applied by canonicalisation
//!
//! // Problems come back all at once, each located.
//! let err = parse("job \"x\" {\n  group \"g\" {\n    count = -1\n  }\n}\n", &ParseOptions::new("x.hcl"))
//!     .unwrap_err();
//! assert!(err.errors().all(|d| d.position.line >= 1));
//! ```

pub mod alloc_health;
pub mod broker;
pub mod driver;
pub mod feasibility;
pub mod jobspec;
pub mod model;
pub mod periodic;
pub mod plan;
pub mod ranking;
pub mod reconcile;
pub mod restart;
pub mod scheduler;
pub mod simulate;
pub mod state;
pub mod taskenv;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
