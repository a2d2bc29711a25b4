//! Following an evaluation, then the deployment it started, as Nomad's
//! `job run` does after submitting: what the scheduler placed, whether
//! some groups could not be placed and why, and the rollout's progress
//! until it succeeds or fails.
//!
//! Updates arrive through blocking queries, so the agent answers as soon
//! as something changes; the short pause between polls only matters for
//! an agent that answers blocking queries at once.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use scheduler_core::model::api::AllocListStub;
use scheduler_core::model::{AllocMetric, Deployment, EvalStatus, Evaluation};

use crate::api_client::{ApiClient, Context, Failure, Indexed, Outcome, path_segment};
use crate::deployment::format_deployment;
use crate::output::{Style, format_time, indent, now_unix_nanos, say, short_id};

/// How long one blocking query may wait for a change.
const BLOCKING_WAIT: Duration = Duration::from_secs(10);
/// The least time between two polls whose index did not move.
const POLL_PAUSE: Duration = Duration::from_millis(250);

/// Exit code of `job run` when placements or the deployment failed.
pub const EXIT_PLACEMENT_FAILED: u8 = 2;

/// Which deployment to follow once the evaluation finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FollowDeployment {
    /// None (stops, drains): only the evaluation matters.
    Never,
    /// The evaluation's deployment, or else the job's latest deployment of
    /// the version the evaluation scheduled (a registration or revert).
    OfTheJobVersion,
}

/// What the monitor prints with and how.
#[derive(Debug, Clone, Copy)]
pub struct MonitorOptions {
    /// Full ids and no shortening.
    pub verbose: bool,
    /// Colour.
    pub style: Style,
    /// Whether to follow a deployment afterwards.
    pub follow: FollowDeployment,
}

impl MonitorOptions {
    /// Options for the terminal the command prints to (colour only there).
    pub fn new(verbose: bool, follow: FollowDeployment) -> MonitorOptions {
        MonitorOptions {
            verbose,
            style: Style::for_stdout(false),
            follow,
        }
    }
}

/// How a command that writes ends once the agent answered with the id of
/// the evaluation its write created (`job run|stop|revert`): with no
/// evaluation (a periodic job stopped, nothing to do), exit 0; with
/// `-detach`, print `detached_line` (each command's own, as Nomad's
/// differ: the bare id, "Evaluation ID: ...") and exit 0; else follow the
/// evaluation, and what it leads to, to its end.
pub async fn finish_with_eval(
    client: &ApiClient,
    eval_id: &str,
    detached_line: Option<String>,
    options: MonitorOptions,
) -> Outcome {
    if eval_id.is_empty() {
        return Ok(0);
    }
    if let Some(line) = detached_line {
        say!("{line}");
        return Ok(0);
    }
    monitor_eval(client, eval_id, options).await
}

/// [`finish_with_eval`] for the commands that have printed a summary of
/// their write already (`job dispatch`, `deployment fail|resume`):
/// `-detach` adds nothing to it, and the monitor is set off from it by a
/// blank line.
pub async fn finish_after_summary(
    client: &ApiClient,
    eval_id: &str,
    detach: bool,
    options: MonitorOptions,
) -> Outcome {
    if eval_id.is_empty() || detach {
        return Ok(0);
    }
    say!();
    monitor_eval(client, eval_id, options).await
}

fn timestamp() -> String {
    format_time(now_unix_nanos())
}

/// A headline: `==> <time>: <message>`.
fn info(message: &str) {
    say!("==> {}: {message}", timestamp());
}

/// A detail: `    <time>: <message>`.
fn detail(message: &str) {
    say!("    {}: {message}", timestamp());
}

/// What the monitor knew at the last poll, to print only the changes.
#[derive(Debug, Default, Clone, PartialEq)]
struct EvalState {
    status: String,
    job: String,
    node: String,
    deployment: String,
    create_index: u64,
    allocs: BTreeMap<String, AllocState>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct AllocState {
    node: String,
    group: String,
    desired: String,
    client: String,
    client_description: String,
    create_index: u64,
}

impl EvalState {
    fn of(eval: &Evaluation, allocs: &[AllocListStub]) -> EvalState {
        EvalState {
            status: serde_name(&eval.status),
            job: eval.job_id.as_str().to_owned(),
            node: eval.node_id.as_str().to_owned(),
            deployment: eval.deployment_id.as_str().to_owned(),
            create_index: eval.create_index,
            allocs: allocs
                .iter()
                .map(|alloc| {
                    let state = AllocState {
                        node: alloc.node_id.clone(),
                        group: alloc.task_group.clone(),
                        desired: alloc.desired_status.clone(),
                        client: alloc.client_status.clone(),
                        client_description: alloc.client_description.clone(),
                        create_index: alloc.create_index,
                    };
                    (alloc.id.clone(), state)
                })
                .collect(),
        }
    }
}

/// The lines that tell what changed between two polls of an evaluation,
/// worded as Nomad's monitor words them (without the time prefix).
fn describe_changes(before: &EvalState, after: &EvalState, verbose: bool) -> Vec<String> {
    let mut lines = Vec::new();
    if before.node.is_empty() && !after.node.is_empty() {
        lines.push(format!(
            "Evaluation triggered by node {:?}",
            short_id(&after.node, verbose)
        ));
    }
    if before.job.is_empty() && !after.job.is_empty() {
        lines.push(format!("Evaluation triggered by job {:?}", after.job));
    }
    if before.deployment.is_empty() && !after.deployment.is_empty() {
        lines.push(format!(
            "Evaluation within deployment: {:?}",
            short_id(&after.deployment, verbose)
        ));
    }
    for (id, alloc) in &after.allocs {
        match before.allocs.get(id) {
            None if alloc.create_index < after.create_index => lines.push(format!(
                "Allocation {:?} modified: node {:?}, group {:?}",
                short_id(id, verbose),
                short_id(&alloc.node, verbose),
                alloc.group
            )),
            None if alloc.desired == "run" => lines.push(format!(
                "Allocation {:?} created: node {:?}, group {:?}",
                short_id(id, verbose),
                short_id(&alloc.node, verbose),
                alloc.group
            )),
            None => {}
            Some(known) if known.client != alloc.client => {
                let why = if alloc.client_description.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", alloc.client_description)
                };
                lines.push(format!(
                    "Allocation {:?} status changed: {:?} -> {:?}{why}",
                    short_id(id, verbose),
                    known.client,
                    alloc.client
                ));
            }
            Some(_) => {}
        }
    }
    if !before.status.is_empty() && after.status != "pending" && before.status != after.status {
        lines.push(format!(
            "Evaluation status changed: {:?} -> {:?}",
            before.status, after.status
        ));
    }
    lines
}

/// Why a group could not be placed, one `* ...` line per reason, as
/// Nomad's `formatAllocMetrics` prints them (maps in name order).
pub fn format_alloc_metrics(metric: &AllocMetric, prefix: &str) -> String {
    let mut lines = Vec::new();
    if metric.nodes_evaluated == 0 {
        lines.push(format!("{prefix}* No nodes were eligible for evaluation"));
    }
    for (datacenter, available) in &metric.nodes_available {
        if *available == 0 {
            lines.push(format!(
                "{prefix}* No nodes are available in datacenter {datacenter:?}"
            ));
        }
    }
    for (class, count) in &metric.class_filtered {
        lines.push(format!(
            "{prefix}* Class {class:?}: {count} nodes excluded by filter"
        ));
    }
    for (constraint, count) in &metric.constraint_filtered {
        lines.push(format!(
            "{prefix}* Constraint {constraint:?}: {count} nodes excluded by filter"
        ));
    }
    if metric.nodes_exhausted > 0 {
        lines.push(format!(
            "{prefix}* Resources exhausted on {} nodes",
            metric.nodes_exhausted
        ));
    }
    for (class, count) in &metric.class_exhausted {
        lines.push(format!(
            "{prefix}* Class {class:?} exhausted on {count} nodes"
        ));
    }
    for (dimension, count) in &metric.dimension_exhausted {
        lines.push(format!(
            "{prefix}* Dimension {dimension:?} exhausted on {count} nodes"
        ));
    }
    for quota in &metric.quota_exhausted {
        lines.push(format!("{prefix}* Quota limit hit {quota:?}"));
    }
    if lines.is_empty() && !metric.explanation.is_empty() {
        lines.push(format!("{prefix}* {}", metric.explanation));
    }
    lines.join("\n")
}

/// `Task Group "web" (failed to place 2 allocations):`
pub fn failed_group_heading(group: &str, metric: &AllocMetric) -> String {
    let count = u64::from(metric.coalesced_failures) + 1;
    let noun = if metric.coalesced_failures > 0 {
        "allocations"
    } else {
        "allocation"
    };
    format!("Task Group {group:?} (failed to place {count} {noun}):")
}

/// Follows evaluation `eval_id` (just created, so first seen `pending`)
/// and what it leads to. Returns 0, or [`EXIT_PLACEMENT_FAILED`] when
/// placements or the deployment failed.
pub async fn monitor_eval(client: &ApiClient, eval_id: &str, options: MonitorOptions) -> Outcome {
    let verbose = options.verbose;
    info(&format!(
        "Monitoring evaluation {:?}",
        short_id(eval_id, verbose)
    ));
    let mut eval_id = eval_id.to_owned();
    let mut known = EvalState {
        status: "pending".to_owned(),
        ..EvalState::default()
    };
    let mut index = 0;
    let mut placement_failed = false;
    let finished = loop {
        let path = format!("/v1/evaluation/{}", path_segment(&eval_id));
        let Indexed {
            value: eval,
            index: new_index,
        } = client
            .get_blocking::<Evaluation>(&path, index, BLOCKING_WAIT)
            .await
            .context("reading evaluation")?;
        let allocs: Vec<AllocListStub> = client
            .get(&format!("{path}/allocations"), &[])
            .await
            .context("reading allocations")?;
        let state = EvalState::of(&eval, &allocs);
        for line in describe_changes(&known, &state, verbose) {
            detail(&line);
        }
        known = state;
        if !eval.is_terminal() {
            if new_index <= index {
                tokio::time::sleep(POLL_PAUSE).await;
            }
            index = new_index;
            continue;
        }
        // An evaluation the scheduler gave up on placed nothing either.
        placement_failed |= report_finished(&eval, verbose) || eval.status == EvalStatus::Failed;
        if eval.next_eval.is_empty() {
            break eval;
        }
        let wait = eval.wait.as_nanos();
        let next = eval.next_eval.as_str().to_owned();
        if wait > 0 {
            info(&format!(
                "Monitoring next evaluation {:?} in {}",
                short_id(&next, verbose),
                eval.wait
            ));
            tokio::time::sleep(Duration::from_nanos(wait.unsigned_abs())).await;
        }
        eval_id = next;
        known = EvalState::default();
        index = 0;
    };
    // A deployment whose allocations could not all be placed cannot finish
    // until capacity appears: the failure is the answer, not a wait.
    let deployment = match options.follow {
        FollowDeployment::Never => None,
        FollowDeployment::OfTheJobVersion if placement_failed => None,
        FollowDeployment::OfTheJobVersion => deployment_of(client, &finished).await?,
    };
    let mut code = if placement_failed {
        EXIT_PLACEMENT_FAILED
    } else {
        0
    };
    if let Some(deployment_id) = deployment {
        info(&format!(
            "Monitoring deployment {:?}",
            short_id(&deployment_id, verbose)
        ));
        let deployment_code =
            monitor_deployment(client, &deployment_id, verbose, options.style).await?;
        code = code.max(deployment_code);
    }
    Ok(code)
}

/// Prints how a finished evaluation ended; true when placements failed.
fn report_finished(eval: &Evaluation, verbose: bool) -> bool {
    let id = short_id(eval.id.as_str(), verbose);
    let status = serde_name(&eval.status);
    if eval.failed_tg_allocs.is_empty() {
        info(&format!(
            "Evaluation {id:?} finished with status {status:?}"
        ));
        return false;
    }
    info(&format!(
        "Evaluation {id:?} finished with status {status:?} but failed to place all allocations:"
    ));
    for (group, metric) in &eval.failed_tg_allocs {
        detail(&failed_group_heading(group, metric));
        let reasons = format_alloc_metrics(metric, "  ");
        if !reasons.is_empty() {
            say!("{}", indent(&reasons, "    "));
        }
    }
    if !eval.blocked_eval.is_empty() {
        detail(&format!(
            "Evaluation {:?} waiting for additional capacity to place remainder",
            short_id(eval.blocked_eval.as_str(), verbose)
        ));
    }
    true
}

/// The deployment a finished evaluation started: the one it names, or the
/// job's latest one when it rolls out the version the evaluation scheduled
/// (this agent's evaluations do not always carry the id).
async fn deployment_of(client: &ApiClient, eval: &Evaluation) -> Result<Option<String>, Failure> {
    if !eval.deployment_id.is_empty() {
        return Ok(Some(eval.deployment_id.as_str().to_owned()));
    }
    if eval.eval_type != "service" || eval.job_id.is_empty() {
        return Ok(None);
    }
    let path = format!("/v1/job/{}/deployment", path_segment(eval.job_id.as_str()));
    let latest: Option<Deployment> = match client.get(&path, &[]).await {
        Ok(latest) => latest,
        Err(err) if err.is_not_found() => None,
        Err(err) => return Err(err).context("reading the job's deployment"),
    };
    Ok(latest
        .filter(|deployment| {
            deployment.job_spec_modify_index == eval.job_modify_index
                || deployment.job_modify_index == eval.job_modify_index
        })
        .map(|deployment| deployment.id.as_str().to_owned()))
}

/// Follows a deployment until it succeeds, fails or is cancelled: redrawn
/// in place on a terminal, printed on each change otherwise. Returns 0 on
/// success and [`EXIT_PLACEMENT_FAILED`] otherwise.
pub async fn monitor_deployment(
    client: &ApiClient,
    deployment_id: &str,
    verbose: bool,
    style: Style,
) -> Outcome {
    let path = format!("/v1/deployment/{}", path_segment(deployment_id));
    let live = std::io::stdout().is_terminal().then(|| {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stdout());
        let template = ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(template);
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    });
    let mut index = 0;
    let mut last_printed = String::new();
    let deployment = loop {
        let answer = client
            .get_blocking::<Deployment>(&path, index, BLOCKING_WAIT)
            .await;
        let Indexed {
            value: deployment,
            index: new_index,
        } = match answer {
            Ok(answer) => answer,
            Err(err) => {
                if let Some(bar) = &live {
                    bar.finish_and_clear();
                }
                return Err(err).context("reading deployment");
            }
        };
        let body = format_deployment(&deployment, verbose, style);
        match &live {
            Some(bar) => bar.set_message(format!(
                "Deployment {:?} in progress...\n\n{}\n{}",
                short_id(deployment_id, verbose),
                indent(&timestamp(), "    "),
                indent(&body, "    ")
            )),
            None if body != last_printed => {
                say!(
                    "\n{}\n{}",
                    indent(&timestamp(), "    "),
                    indent(&body, "    ")
                );
                last_printed.clone_from(&body);
            }
            None => {}
        }
        if deployment.status.is_terminal() {
            break deployment;
        }
        if new_index <= index {
            tokio::time::sleep(POLL_PAUSE).await;
        }
        index = new_index;
    };
    let id = short_id(deployment_id, verbose);
    let status = serde_name(&deployment.status);
    let succeeded = status == "successful";
    let headline = if succeeded {
        style.green(&format!("  ✓ Deployment {id:?} successful"))
    } else {
        style.red(&format!("  ! Deployment {id:?} {status}"))
    };
    if let Some(bar) = &live {
        bar.finish_and_clear();
        let body = format_deployment(&deployment, verbose, style);
        say!(
            "{headline}\n\n{}\n{}",
            indent(&timestamp(), "    "),
            indent(&body, "    ")
        );
    } else {
        say!("{headline}");
    }
    Ok(if succeeded { 0 } else { EXIT_PLACEMENT_FAILED })
}

/// An enum's wire name (`"complete"`, `"successful"`), which its serde
/// form defines.
pub fn serde_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(other) => other.to_string(),
        Err(_) => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alloc(node: &str, desired: &str, client: &str, create_index: u64) -> AllocState {
        AllocState {
            node: node.to_owned(),
            group: "cache".to_owned(),
            desired: desired.to_owned(),
            client: client.to_owned(),
            client_description: String::new(),
            create_index,
        }
    }

    #[test]
    fn a_first_poll_reports_the_trigger_the_placements_and_the_status() {
        let before = EvalState {
            status: "pending".to_owned(),
            ..EvalState::default()
        };
        let after = EvalState {
            status: "complete".to_owned(),
            job: "example".to_owned(),
            create_index: 10,
            allocs: [(
                "0a9b2cfb-aaaa".to_owned(),
                alloc("2be3a3f9-bbbb", "run", "pending", 11),
            )]
            .into(),
            ..EvalState::default()
        };
        assert_eq!(
            describe_changes(&before, &after, false),
            [
                "Evaluation triggered by job \"example\"",
                "Allocation \"0a9b2cfb\" created: node \"2be3a3f9\", group \"cache\"",
                "Evaluation status changed: \"pending\" -> \"complete\"",
            ]
        );
    }

    #[test]
    fn later_polls_report_only_changes() {
        let mut before = EvalState {
            status: "complete".to_owned(),
            job: "example".to_owned(),
            create_index: 10,
            allocs: [("a1".to_owned(), alloc("n1", "run", "pending", 11))].into(),
            ..EvalState::default()
        };
        assert!(describe_changes(&before, &before.clone(), false).is_empty());
        let mut after = before.clone();
        after
            .allocs
            .insert("a1".to_owned(), alloc("n1", "run", "running", 11));
        after
            .allocs
            .insert("a0".to_owned(), alloc("n2", "run", "running", 5));
        assert_eq!(
            describe_changes(&before, &after, false),
            [
                "Allocation \"a0\" modified: node \"n2\", group \"cache\"",
                "Allocation \"a1\" status changed: \"pending\" -> \"running\"",
            ]
        );
        before.status = String::new();
        after.status = "pending".to_owned();
        assert!(
            !describe_changes(&before, &after, false)
                .iter()
                .any(|line| line.contains("status changed: \"\""))
        );
    }

    #[test]
    fn metrics_print_every_reason_like_nomad() {
        let metric = AllocMetric {
            nodes_evaluated: 3,
            nodes_exhausted: 2,
            nodes_available: [("dc1".to_owned(), 3), ("dc2".to_owned(), 0)].into(),
            constraint_filtered: [("${attr.kernel.name} = windows".to_owned(), 1)].into(),
            dimension_exhausted: [("memory".to_owned(), 2)].into(),
            coalesced_failures: 1,
            ..AllocMetric::default()
        };
        assert_eq!(
            format_alloc_metrics(&metric, "  "),
            "  * No nodes are available in datacenter \"dc2\"\n\
             \x20 * Constraint \"${attr.kernel.name} = windows\": 1 nodes excluded by filter\n\
             \x20 * Resources exhausted on 2 nodes\n\
             \x20 * Dimension \"memory\" exhausted on 2 nodes"
        );
        assert_eq!(
            failed_group_heading("cache", &metric),
            "Task Group \"cache\" (failed to place 2 allocations):"
        );
        let empty = AllocMetric::default();
        assert_eq!(
            format_alloc_metrics(&empty, ""),
            "* No nodes were eligible for evaluation"
        );
    }

    #[test]
    fn enum_names_are_their_wire_form() {
        assert_eq!(
            serde_name(&scheduler_core::model::EvalStatus::Complete),
            "complete"
        );
    }
}
