//! Feasibility: whether a node can take an allocation at all, before
//! ranking.
//!
//! - [`constraint`]: node-local constraint and affinity checks with Nomad's
//!   operator semantics, and [`ConstraintMiss`] explaining a failure.
//! - [`version_match`]: the `version` (go-version) and `semver` (SemVer 2.0)
//!   matchers behind those operators.
//! - [`fit`]: the one resource-fit check shared by the scheduler and the
//!   plan applier.
//!
//! `distinct_hosts` and `distinct_property` depend on the other allocations
//! proposed in a plan, not on the node alone; the node-local check lets them
//! pass and the placement stage enforces them.

pub mod constraint;
pub mod devices;
pub mod fit;
pub mod network;
pub mod version_match;

pub use constraint::{
    ConstraintChecker, ConstraintMiss, check_affinity, check_constraint, resolve_target,
};
pub use devices::{DeviceAssignment, DeviceRequestMatcher, DeviceShortage, assign_devices};
