//! The group's `disconnect` block and the deprecated group fields it
//! replaces (`stop_after_client_disconnect`, `max_client_disconnect`).

use super::Problems;
use crate::model::{Duration, FieldPath, Job, JobType, TaskGroup};

/// The group's `disconnect` block and the deprecated group fields it replaces.
pub(super) fn disconnect(job: &Job, group: &TaskGroup, path: &FieldPath, out: &mut Problems) {
    let job_type = &job.job_type;
    let stop_after_path = path.field("stop_after_client_disconnect", "StopAfterClientDisconnect");
    let max_disconnect_path = path.field("max_client_disconnect", "MaxClientDisconnect");
    let stop_on_client = |value: Duration, field: FieldPath, name: &str, out: &mut Problems| {
        if value < Duration::ZERO {
            out.error(
                field,
                format!("{name} {value} is negative: use a positive duration"),
            );
        } else if !matches!(job_type, JobType::Service | JobType::Batch) {
            out.error(
                field,
                format!(
                    "{name} only applies to service and batch jobs, not {job_type} jobs: remove it"
                ),
            );
        }
    };
    let lost_after = |value: Duration, field: FieldPath, name: &str, out: &mut Problems| {
        if value < Duration::ZERO {
            out.error(
                field,
                format!("{name} {value} is negative: use a positive duration"),
            );
        }
    };

    let Some(block) = &group.disconnect else {
        if let Some(value) = group.stop_after_client_disconnect {
            out.warning(
                stop_after_path.clone(),
                "stop_after_client_disconnect is deprecated: use the disconnect block's stop_on_client_after instead",
            );
            stop_on_client(
                value,
                stop_after_path.clone(),
                "stop_after_client_disconnect",
                out,
            );
        }
        if let Some(value) = group.max_client_disconnect {
            out.warning(
                max_disconnect_path.clone(),
                "max_client_disconnect is deprecated: use the disconnect block's lost_after instead",
            );
            lost_after(
                value,
                max_disconnect_path.clone(),
                "max_client_disconnect",
                out,
            );
            if group.stop_after_client_disconnect.is_some() {
                out.error(
                    max_disconnect_path,
                    "max_client_disconnect and stop_after_client_disconnect cannot both be set: keep one of them",
                );
            }
        }
        return;
    };

    let block_path = path.field("disconnect", "Disconnect");
    let stop_path = block_path.field("stop_on_client_after", "StopOnClientAfter");
    let lost_path = block_path.field("lost_after", "LostAfter");
    // The deprecated fields next to a disconnect block (canonicalisation has
    // copied them into the block where it is silent).
    if group.stop_after_client_disconnect.is_some() {
        out.error(
            stop_after_path,
            "stop_after_client_disconnect is deprecated and cannot be used with a disconnect block: set disconnect.stop_on_client_after instead",
        );
    }
    if group.max_client_disconnect.is_some() {
        out.error(
            max_disconnect_path,
            "max_client_disconnect is deprecated and cannot be used with a disconnect block: set disconnect.lost_after instead",
        );
    }
    if let Some(value) = block.stop_on_client_after {
        stop_on_client(value, stop_path.clone(), "stop_on_client_after", out);
    }
    if let Some(value) = block.lost_after {
        lost_after(value, lost_path.clone(), "lost_after", out);
        if block.stop_on_client_after.is_some() && !value.is_zero() {
            out.error(
                lost_path,
                "lost_after and stop_on_client_after cannot both be set: keep one of them",
            );
        }
    }
    let reconcile = block.reconcile();
    if !matches!(
        reconcile,
        "best_score" | "keep_original" | "keep_replacement" | "longest_running"
    ) {
        out.error(
            block_path.field("reconcile", "Reconcile"),
            format!("reconcile {reconcile:?} is unknown: use best_score, keep_original, keep_replacement or longest_running"),
        );
    }
}
