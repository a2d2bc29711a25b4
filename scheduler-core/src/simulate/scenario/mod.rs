//! Scenario files: a cluster and what happens to it, step by step, for
//! `sched simulate --scenario FILE.hcl`.
//!
//! **API Boundary:** [`parse_scenario`] takes the text of a scenario file
//! and its name and returns the cluster's nodes and the steps in file order,
//! or every problem found, each at file, line and column. It reads no
//! files: job paths are handed back as written, for the caller to resolve
//! against the scenario file's directory.
//!
//! ```hcl
//! cluster {                                   # exactly one, anywhere in the file
//!   node "n" {                                # the syntax of cluster files
//!     count   = 10
//!     drivers = ["docker"]
//!     resources {
//!       cpu    = 4000
//!       memory = 8192
//!       disk   = 100000
//!     }
//!   }
//! }
//!
//! step "register"  { job = "jobs/web-v1.hcl" }
//! step "healthy"   { job = "web" }
//! step "fail"      { alloc = "web.web[3]" }
//! step "node_down" { node = "n-4" }
//! step "drain" {
//!   node     = "n-2"
//!   deadline = "1h"
//! }
//! step "add_node" {
//!   node "big" {
//!     count = 2
//!     resources {
//!       cpu    = 16000
//!       memory = "64GiB"
//!       disk   = 500000
//!     }
//!   }
//! }
//! step "advance"   { duration = "30s" }
//! step "plan"      { job = "jobs/web-v3.hcl" }
//! ```
//!
//! The top level holds one `cluster` block of `node` blocks (see
//! [`cluster`](crate::simulate::cluster) for every key of a node block),
//! `step "KIND" { ... }` blocks, run in file order, and optionally
//! `variable`, `variables` and `locals` blocks, whose values (defaults
//! only: a scenario file has no inputs) every block may use. The cluster
//! block may come before or after the steps: it always describes the
//! cluster before the first step.
//!
//! | step | arguments (optional ones with their default) | what happens |
//! |---|---|---|
//! | `register` | `job` (a job file, relative to the scenario file); `check_index` (none) | the job is registered (with `check_index`, only if the job's modify index matches) |
//! | `plan` | `job` (a job file) | a dry run of registering the job |
//! | `healthy` | `job` (a job id) | every allocation of the job reports healthy |
//! | `unhealthy` | `job` | the job's newest allocations report unhealthy |
//! | `promote` | `job` | the job's canaries are promoted |
//! | `stop` | `job`; `purge` (`false`) | the job is stopped (and purged) |
//! | `fail` | `alloc` (an allocation name, `JOB.GROUP[INDEX]`) | the allocation's task fails |
//! | `node_down` | `node` (a node name) | the node goes down |
//! | `node_up` | `node` | the node comes back, ready |
//! | `drain` | `node`; `deadline` (none), `ignore_system_jobs` (`false`) | the node drains |
//! | `add_node` | one or more `node "NAME" { ... }` blocks, `count` allowed | the nodes join the cluster, ready |
//! | `advance` | `duration` | virtual time moves on |
//!
//! Rules checked here, each problem located:
//!
//! - a step's kind is one of the above (a near miss gets a did-you-mean,
//!   and the valid kinds are listed); it has exactly one non-empty label;
//! - required arguments are present, unknown arguments and blocks are
//!   errors (with a did-you-mean), values have the right type (numbers and
//!   bools written as strings are accepted, as in job files); `job`,
//!   `alloc` and `node` are not empty; `check_index` is a whole number,
//!   not negative;
//! - durations are Go duration strings (`"30s"`, `"1h30m"`, read by
//!   [`Duration::parse`](crate::model::Duration::parse)); a bare number is
//!   rejected, as it would silently mean nanoseconds. No duration is
//!   negative, and `advance` moves time forward by more than zero;
//! - there is exactly one cluster block, and it makes at least one node;
//! - the nodes added by `add_node` are built exactly as cluster nodes are
//!   (ids from names, addresses from positions that continue after the
//!   cluster's nodes and earlier `add_node` steps, so no two nodes share an
//!   address); their names must be new;
//! - `node_down`, `node_up` and `drain` name a node that exists at that
//!   step (in the cluster or added by an earlier step), with a did-you-mean.
//!   Job ids and allocation names are not checked: they depend on the job
//!   files, which this parser does not read.
//!
//! ```
//! use scheduler_core::simulate::scenario::{StepKind, parse_scenario};
//!
//! let source = r#"
//! cluster {
//!   node "n" {
//!     count = 3
//!     resources {
//!       cpu    = 4000
//!       memory = 8192
//!       disk   = 100000
//!     }
//!   }
//! }
//! step "register"  { job = "jobs/web.hcl" }
//! step "node_down" { node = "n-1" }
//! step "advance"   { duration = "30s" }
//! "#;
//! let scenario = parse_scenario(source, "scenario.hcl").expect("valid scenario");
//! assert_eq!(scenario.nodes.len(), 3);
//! assert_eq!(scenario.steps[1].kind, StepKind::NodeDown { node: "n-1".into() });
//! assert_eq!(scenario.steps[1].line, 13);
//! assert_eq!(scenario.steps[2].kind.name(), "advance");
//! ```

mod parse;
#[cfg(test)]
mod tests;

use crate::model::{Duration, Node};

pub use parse::parse_scenario;

/// A parsed scenario file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scenario {
    /// The cluster's nodes before the first step, in file order, `count`
    /// expanded.
    pub nodes: Vec<Node>,
    /// The steps, in file order.
    pub steps: Vec<Step>,
}

/// One `step` block.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step does.
    pub kind: StepKind,
    /// The 1-based line the step block starts on, for reports.
    pub line: usize,
}

/// What a step does; see the [module docs](self) for each kind's meaning.
#[derive(Debug, Clone, PartialEq)]
pub enum StepKind {
    /// Register the job in the file at `job_path` (relative to the scenario
    /// file), only if the job's modify index is `check_index` when given.
    Register {
        /// The job file, as written.
        job_path: String,
        /// The job modify index the registration requires.
        check_index: Option<u64>,
    },
    /// A dry run of registering the job in the file at `job_path`.
    Plan {
        /// The job file, as written.
        job_path: String,
    },
    /// Every allocation of the job reports healthy.
    Healthy {
        /// The job id.
        job: String,
    },
    /// The job's newest allocations report unhealthy.
    Unhealthy {
        /// The job id.
        job: String,
    },
    /// The job's canaries are promoted.
    Promote {
        /// The job id.
        job: String,
    },
    /// The job is stopped.
    Stop {
        /// The job id.
        job: String,
        /// Whether the job is purged too.
        purge: bool,
    },
    /// The allocation's task fails.
    Fail {
        /// The allocation name (`JOB.GROUP[INDEX]`).
        alloc: String,
    },
    /// The node goes down.
    NodeDown {
        /// The node name.
        node: String,
    },
    /// The node comes back, ready.
    NodeUp {
        /// The node name.
        node: String,
    },
    /// The node drains.
    Drain {
        /// The node name.
        node: String,
        /// How long allocations may take to migrate; `None` when not given.
        deadline: Option<Duration>,
        /// Whether system jobs' allocations stay.
        ignore_system_jobs: bool,
    },
    /// Nodes join the cluster, ready.
    AddNode {
        /// The new nodes, built as cluster nodes are, `count` expanded.
        nodes: Vec<Node>,
    },
    /// Virtual time moves on.
    Advance {
        /// By how much (more than zero).
        duration: Duration,
    },
}

impl StepKind {
    /// Every step kind, as written in `step "KIND"`.
    pub const NAMES: &'static [&'static str] = &[
        "register",
        "plan",
        "healthy",
        "unhealthy",
        "promote",
        "stop",
        "fail",
        "node_down",
        "node_up",
        "drain",
        "add_node",
        "advance",
    ];

    /// The kind as written in `step "KIND"`.
    pub fn name(&self) -> &'static str {
        match self {
            StepKind::Register { .. } => "register",
            StepKind::Plan { .. } => "plan",
            StepKind::Healthy { .. } => "healthy",
            StepKind::Unhealthy { .. } => "unhealthy",
            StepKind::Promote { .. } => "promote",
            StepKind::Stop { .. } => "stop",
            StepKind::Fail { .. } => "fail",
            StepKind::NodeDown { .. } => "node_down",
            StepKind::NodeUp { .. } => "node_up",
            StepKind::Drain { .. } => "drain",
            StepKind::AddNode { .. } => "add_node",
            StepKind::Advance { .. } => "advance",
        }
    }
}
