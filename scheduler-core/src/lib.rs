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
//! - [`model`]: jobs, task groups, tasks and everything they say; nodes,
//!   allocations, evaluations, deployments; canonicalisation (Nomad's
//!   defaults) and validation.
//! - [`jobspec`]: HCL job files (HCL2 with variables, locals, functions and
//!   dynamic blocks) and Nomad API JSON into the model, with every problem
//!   reported at file, line and column.
//!
//! Placement, reconciliation, plans and the pure parts of the control plane
//! land here next (see `ARCHITECTURE.md`).
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

pub mod feasibility;
pub mod jobspec;
pub mod model;
pub mod ranking;
pub mod scheduler;
pub mod simulate;
pub mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
