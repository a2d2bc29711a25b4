//! Test support for the scheduler core and for embedders: proptest
//! strategies that generate valid, canonical jobs.
//!
//! Enable the `testing` feature to use it from another crate's tests:
//!
//! ```toml
//! [dev-dependencies]
//! scheduler-core = { version = "0.1", features = ["testing"] }
//! proptest = "1"
//! ```
//!
//! In a test, use it as any strategy (`job in arb_job()` in `proptest!`),
//! or draw jobs by hand:
//!
//! ```
//! use proptest::strategy::{Strategy, ValueTree};
//! use proptest::test_runner::TestRunner;
//! use scheduler_core::model::validate::validate_job;
//! use scheduler_core::testing::arb_job;
//!
//! let mut runner = TestRunner::deterministic();
//! for _ in 0..4 {
//!     let job = arb_job().new_tree(&mut runner).unwrap().current();
//!     assert!(validate_job(&job).iter().all(|problem| problem.warning));
//!     let mut again = job.clone();
//!     again.canonicalize();
//!     assert_eq!(again, job);
//! }
//! ```
//!
//! Every generated job is canonical ([`Job::canonicalize`] leaves it
//! unchanged) and passes [`validate_job`] without errors, for all four job
//! types, so it can be fed to anything that takes a job: the HCL printer,
//! the JSON API, the scheduler. [`make_consistent`] is public too,
//! for strategies of your own that draw parts independently and need them
//! tied together.
//!
//! [`Job::canonicalize`]: crate::model::Job::canonicalize
//! [`validate_job`]: crate::model::validate::validate_job

pub mod arbitrary;
mod arbitrary_parts;
mod consistent;

pub use arbitrary::arb_job;
pub use consistent::make_consistent;
