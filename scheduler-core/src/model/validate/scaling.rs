//! Autoscaling policies: a group's horizontal `scaling` block and a task's
//! vertical `scaling "cpu"` / `scaling "mem"` blocks.

use super::Problems;
use crate::model::{FieldPath, Job, ScalingPolicy, TaskGroup};

/// The group's horizontal `scaling` block.
pub(super) fn group_scaling(job: &Job, group: &TaskGroup, path: &FieldPath, out: &mut Problems) {
    let Some(policy) = &group.scaling else { return };
    let scaling_path = path.field("scaling", "Scaling");
    if !matches!(policy.r#type.as_str(), "" | "horizontal") {
        out.error(
            scaling_path.field("type", "Type"),
            format!(
                "scaling type {:?} is not allowed in a group: group scaling is horizontal",
                policy.r#type
            ),
        );
    }
    scaling_bounds(policy, &scaling_path, out);
    let count = group.count();
    if let Some(max) = policy.max
        && max >= 0
        && count > max
    {
        out.error(
            path.field("count", "Count"),
            format!("count {count} is above the scaling maximum {max}: lower count or raise max"),
        );
    }
    if let Some(min) = policy.min {
        let multiregion_placeholder = job.is_multiregion() && count == 0 && job.region == "global";
        if count < min && !multiregion_placeholder {
            out.error(
                path.field("count", "Count"),
                format!(
                    "count {count} is below the scaling minimum {min}: raise count or lower min"
                ),
            );
        }
    }
}

/// Min and max of a scaling policy.
pub(super) fn scaling_bounds(policy: &ScalingPolicy, path: &FieldPath, out: &mut Problems) {
    if let Some(min) = policy.min
        && min < 0
    {
        out.error(
            path.field("min", "Min"),
            format!("scaling min {min} is negative: use 0 or more"),
        );
    }
    if let Some(max) = policy.max {
        if max < 0 {
            out.error(
                path.field("max", "Max"),
                format!("scaling max {max} is negative: use 0 or more"),
            );
        } else if let Some(min) = policy.min
            && max < min
        {
            out.error(
                path.field("max", "Max"),
                format!("scaling max {max} is below min {min}: raise max or lower min"),
            );
        }
    }
}

/// A task's vertical `scaling "cpu"` / `scaling "mem"` blocks, named by
/// their label as the HCL reader records them (`scaling "cpu"`).
pub(super) fn task_scaling(policies: &[ScalingPolicy], task_path: &FieldPath, out: &mut Problems) {
    for (index, policy) in policies.iter().enumerate() {
        let label = match policy.r#type.as_str() {
            "vertical_cpu" => "cpu",
            "vertical_mem" => "mem",
            other => {
                out.error(
                    task_path
                        .indexed("scaling", "ScalingPolicies", index)
                        .field("type", "Type"),
                    format!(
                        "scaling type {other:?} is not allowed in a task: use scaling \"cpu\" or scaling \"mem\""
                    ),
                );
                continue;
            }
        };
        let policy_path = task_path.labeled("scaling", "ScalingPolicies", label, Some(index));
        if policies[..index].iter().any(|p| p.r#type == policy.r#type) {
            out.error(
                policy_path.clone(),
                format!(
                    "a second scaling {label:?} block: a task takes at most one scaling policy per resource, merge them"
                ),
            );
        }
        scaling_bounds(policy, &policy_path, out);
    }
}
