//! Job plan diffs: what `nomad job plan` shows between the registered job
//! and the one submitted (Nomad's `Job.Diff`, `scheduler.Annotate` and the
//! CLI's diff printer).
//!
//! Three steps, each a pure function:
//!
//! 1. [`job_diff`] compares two versions field by field. Both jobs are
//!    serialised to Nomad API JSON (the model's serde names, so fields are
//!    named as in the API: `TaskGroups`, `Count`, `Config`) and the two trees
//!    are compared generically:
//!    - primitive members become [`FieldDiff`]s named after the member;
//!    - maps of user keys (`Meta`, `Env`, `CanaryMeta`, `TaggedAddresses`,
//!      ...) flatten into fields of their parent, `Meta[owner]`; the driver
//!      `Config` (and a scaling `Policy`) becomes an object of flattened
//!      fields (`image`, `ports[0]`, `auth[username]`);
//!    - lists of primitives (`Datacenters`, `Tags`) become an object of the
//!      list's name whose fields are the values, compared as a set;
//!    - nested structs become [`ObjectDiff`]s named after the member
//!      (`Resources`, `RestartPolicy`);
//!    - lists of objects become objects with a singular name (`Constraint`,
//!      `Service`, `Network`). Entries are matched by an identity member
//!      (`Name`, then `Label`, `DestPath`, `Destination`) when every entry on
//!      both sides has a distinct one, so an edited service shows as one
//!      edited `Service`. Otherwise a list with one entry on each side (a
//!      group's `Network`) shows that entry as edited, except for placement
//!      rules (`Constraints`, `Affinities`, `Spreads`), which like Nomad are
//!      always compared as a multiset: an edited entry shows as one deleted
//!      and one added object. Unchanged entries of such lists are omitted;
//!    - task groups and tasks are matched by `Name`.
//!
//!    Server bookkeeping that is not part of the spec (`Version`, the
//!    indexes, `SubmitTime`, `Status`, `Stable`, `VersionTag`, ...) and the
//!    submitter's tokens are skipped.
//!
//!    The diff is *contextual*: a compared object keeps its unchanged fields
//!    and nested structs, with [`DiffType::None`], so a verbose rendering can
//!    show them. Empty strings and nulls count as absent.
//!
//!    **Ordering:** fields are sorted by name (like Nomad), then, for fields
//!    of the same name (the values of a list), by value; objects are sorted
//!    by name, entries of one list keeping a fixed order (matched entries by
//!    identity, then deleted in old order, then added in new order); task
//!    groups and tasks are sorted by name. The same inputs always give the
//!    same diff.
//! 2. [`annotate`] adds the scheduler's view: per group the reconciler's
//!    counts (`"create"`, `"in-place update"`, ...), on `Count` whether it
//!    forces creations or destructions, and on each task whether it forces a
//!    create/destroy or an in-place update. That last decision is taken from
//!    [`update_kind`](crate::reconcile::update_kind::update_kind), the same
//!    function the reconciler uses, so the plan never disagrees with what
//!    the scheduler does.
//! 3. [`render_diff`] prints the diff like `nomad job plan` (without
//!    colour).

mod annotate;
mod render;
mod tree;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::serde_util::null_as_default;

use crate::model::Job;

pub use annotate::{
    ANNOTATION_FORCES_CREATE, ANNOTATION_FORCES_DESTROY, ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ANNOTATION_FORCES_IN_PLACE_UPDATE, annotate,
};
pub use render::render_diff;

/// How one element changed between the two versions (Nomad's diff types,
/// serialised as `"None"`, `"Added"`, `"Deleted"`, `"Edited"`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub enum DiffType {
    /// Present and the same in both versions.
    #[default]
    None,
    /// Only in the new version.
    Added,
    /// Only in the old version.
    Deleted,
    /// In both versions, with a different value or content.
    Edited,
}

impl DiffType {
    /// The marker `nomad job plan` prints before an element: `+`, `-`,
    /// `+/-`, or nothing for an unchanged one.
    pub fn marker(self) -> &'static str {
        match self {
            DiffType::None => "",
            DiffType::Added => "+",
            DiffType::Deleted => "-",
            DiffType::Edited => "+/-",
        }
    }
}

/// A change to one primitive value (Nomad's `FieldDiff`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct FieldDiff {
    /// How the value changed.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// The API name of the field, `Count`, `Meta[owner]` or `image`.
    pub name: String,
    /// The old value, empty when added.
    pub old: String,
    /// The new value, empty when deleted.
    pub new: String,
    /// What the change forces, e.g. `forces create`.
    #[serde(deserialize_with = "null_as_default")]
    pub annotations: Vec<String>,
}

/// A change to a nested object (Nomad's `ObjectDiff`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ObjectDiff {
    /// How the object changed.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// The object's name, `Resources`, `Constraint` or `Config`.
    pub name: String,
    /// Its primitive fields.
    #[serde(deserialize_with = "null_as_default")]
    pub fields: Vec<FieldDiff>,
    /// Its nested objects.
    #[serde(deserialize_with = "null_as_default")]
    pub objects: Vec<ObjectDiff>,
}

/// A change to a task (Nomad's `TaskDiff`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskDiff {
    /// How the task changed.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// The task's name.
    pub name: String,
    /// Its primitive fields.
    #[serde(deserialize_with = "null_as_default")]
    pub fields: Vec<FieldDiff>,
    /// Its nested objects.
    #[serde(deserialize_with = "null_as_default")]
    pub objects: Vec<ObjectDiff>,
    /// What the change forces, e.g. `forces create/destroy update`.
    #[serde(deserialize_with = "null_as_default")]
    pub annotations: Vec<String>,
}

/// A change to a task group (Nomad's `TaskGroupDiff`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskGroupDiff {
    /// How the group changed.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// The group's name.
    pub name: String,
    /// Its primitive fields.
    #[serde(deserialize_with = "null_as_default")]
    pub fields: Vec<FieldDiff>,
    /// Its nested objects.
    #[serde(deserialize_with = "null_as_default")]
    pub objects: Vec<ObjectDiff>,
    /// Its tasks, sorted by name.
    #[serde(deserialize_with = "null_as_default")]
    pub tasks: Vec<TaskDiff>,
    /// The scheduler's decisions for the group: how many allocations each
    /// kind of update touches, keyed by Nomad's names (`"create"`,
    /// `"destroy"`, `"in-place update"`, ...). Zero counts are left out.
    #[serde(deserialize_with = "null_as_default")]
    pub updates: BTreeMap<String, u64>,
}

/// A change to a job (Nomad's `JobDiff`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobDiff {
    /// How the job changed.
    #[serde(rename = "Type")]
    pub diff_type: DiffType,
    /// The job's ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Its primitive fields.
    #[serde(deserialize_with = "null_as_default")]
    pub fields: Vec<FieldDiff>,
    /// Its nested objects.
    #[serde(deserialize_with = "null_as_default")]
    pub objects: Vec<ObjectDiff>,
    /// Its task groups, sorted by name.
    #[serde(deserialize_with = "null_as_default")]
    pub task_groups: Vec<TaskGroupDiff>,
}

/// Compares two versions of a job field by field (see the module
/// documentation for the rules). With no `old` job, everything is
/// [`DiffType::Added`]. The job's ID is taken from `new`; the IDs are not
/// compared.
pub fn job_diff(old: Option<&Job>, new: &Job) -> JobDiff {
    let old_tree = old.map(tree::to_tree);
    let new_tree = tree::to_tree(new);
    let mut diff = tree::diff_jobs(old_tree.as_ref(), &new_tree);
    diff.id = new.id.as_str().to_owned();
    diff
}
