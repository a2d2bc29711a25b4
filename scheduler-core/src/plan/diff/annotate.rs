//! Plan annotations on a job diff (Nomad's `scheduler.Annotate`).

use std::collections::BTreeMap;

use super::{DiffType, JobDiff, TaskDiff, TaskGroupDiff};
use crate::model::Job;
use crate::reconcile::update_kind::{UpdateKind, update_kind};
use crate::scheduler::{DesiredUpdates, PlanAnnotations};

/// Annotation of a change that places new allocations (a task added, the
/// count raised).
pub const ANNOTATION_FORCES_CREATE: &str = "forces create";
/// Annotation of a change that stops allocations (a task removed, the count
/// lowered).
pub const ANNOTATION_FORCES_DESTROY: &str = "forces destroy";
/// Annotation of a task change that replaces the group's allocations.
pub const ANNOTATION_FORCES_DESTRUCTIVE_UPDATE: &str = "forces create/destroy update";
/// Annotation of a task change applied to running allocations.
pub const ANNOTATION_FORCES_IN_PLACE_UPDATE: &str = "forces in-place update";

/// Adds the scheduler's view to `diff` (computed by
/// [`job_diff`](super::job_diff) from `old` and `new`):
///
/// - each group's [`updates`](TaskGroupDiff::updates) from
///   `annotations.desired_tg_updates` (Nomad's names: `ignore`, `create`,
///   `destroy`, `migrate`, `canary`, `in-place update`,
///   `create/destroy update`, plus `preemptions`, `reschedule now` and
///   `reschedule later`; zero counts left out);
/// - an edited `Count` field: `forces create` when it grows, `forces
///   destroy` when it shrinks;
/// - each task: added `forces create`, deleted `forces destroy`, edited
///   `forces create/destroy update` when
///   [`update_kind`](crate::reconcile::update_kind::update_kind) gives a
///   destructive reason for the task or for the whole group or job, else
///   `forces in-place update`. A task the diff shows unchanged is annotated
///   `forces create/destroy update` only when `update_kind` names it (its
///   merged meta changed, for instance).
///
/// Annotating again replaces earlier annotations.
pub fn annotate(
    diff: &mut JobDiff,
    old: Option<&Job>,
    new: &Job,
    annotations: Option<&PlanAnnotations>,
) {
    for group in &mut diff.task_groups {
        group.updates = annotations
            .and_then(|a| a.desired_tg_updates.get(&group.name))
            .map(update_counts)
            .unwrap_or_default();
        annotate_count(group);
        let kind = match (
            old.and_then(|job| Some((job, job.lookup_task_group(&group.name)?))),
            new.lookup_task_group(&group.name),
        ) {
            (Some((old_job, old_group)), Some(new_group)) => {
                update_kind(old_job, old_group, new, new_group)
            }
            _ => UpdateKind::Ignore,
        };
        let destructive = Destructive::of(&kind);
        for task in &mut group.tasks {
            annotate_task(task, &destructive);
        }
    }
}

/// The reconciler's counts under Nomad's names, zeros left out.
fn update_counts(updates: &DesiredUpdates) -> BTreeMap<String, u64> {
    let DesiredUpdates {
        ignore,
        place,
        migrate,
        stop,
        in_place_update,
        destructive_update,
        canary,
        preemptions,
        // Nomad's plan does not print these.
        reconnect_updates: _,
        disconnect_updates: _,
        reschedule_now,
        reschedule_later,
    } = *updates;
    [
        ("ignore", ignore),
        ("create", place),
        ("destroy", stop),
        ("migrate", migrate),
        ("canary", canary),
        ("in-place update", in_place_update),
        ("create/destroy update", destructive_update),
        ("preemptions", preemptions),
        ("reschedule now", reschedule_now),
        ("reschedule later", reschedule_later),
    ]
    .into_iter()
    .filter(|(_, count)| *count > 0)
    .map(|(name, count)| (name.to_owned(), count))
    .collect()
}

/// `forces create` / `forces destroy` on an edited `Count`.
fn annotate_count(group: &mut TaskGroupDiff) {
    for field in &mut group.fields {
        if field.name != "Count" {
            continue;
        }
        field.annotations.clear();
        if field.diff_type != DiffType::Edited {
            continue;
        }
        let (Ok(old), Ok(new)) = (field.old.parse::<i64>(), field.new.parse::<i64>()) else {
            continue;
        };
        if new > old {
            field.annotations.push(ANNOTATION_FORCES_CREATE.to_owned());
        } else if new < old {
            field.annotations.push(ANNOTATION_FORCES_DESTROY.to_owned());
        }
    }
}

/// Which tasks `update_kind` says must be replaced.
#[derive(Debug)]
struct Destructive {
    /// A group- or job-level destructive reason: every edited task.
    group_wide: bool,
    /// The destructive reasons, each `task "<name>": ...` or group/job-level.
    reasons: Vec<String>,
}

impl Destructive {
    fn of(kind: &UpdateKind) -> Self {
        let reasons = match kind {
            UpdateKind::Destructive { reasons } => reasons.clone(),
            UpdateKind::Ignore | UpdateKind::InPlace { .. } => Vec::new(),
        };
        let group_wide = reasons.iter().any(|reason| !reason.starts_with("task \""));
        Destructive {
            group_wide,
            reasons,
        }
    }

    /// Whether a reason names this task (`update_kind` scopes task reasons
    /// as `task {name:?}: `).
    fn names(&self, task: &str) -> bool {
        let scope = format!("task {task:?}: ");
        self.reasons.iter().any(|reason| reason.starts_with(&scope))
    }
}

fn annotate_task(task: &mut TaskDiff, destructive: &Destructive) {
    task.annotations.clear();
    let annotation = match task.diff_type {
        DiffType::Added => ANNOTATION_FORCES_CREATE,
        DiffType::Deleted => ANNOTATION_FORCES_DESTROY,
        DiffType::Edited if destructive.group_wide || destructive.names(&task.name) => {
            ANNOTATION_FORCES_DESTRUCTIVE_UPDATE
        }
        DiffType::Edited => ANNOTATION_FORCES_IN_PLACE_UPDATE,
        DiffType::None if destructive.names(&task.name) => ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
        DiffType::None => return,
    };
    task.annotations.push(annotation.to_owned());
}
