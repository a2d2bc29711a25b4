//! `sched eval status`: one evaluation, what triggered it, what it placed
//! and what it could not.

use clap::{Args, Subcommand};
use scheduler_core::model::Evaluation;
use scheduler_core::model::api::AllocListStub;

use crate::alloc::format_alloc_list;
use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Outcome, find_by_prefix, path_segment, run_command,
};
use crate::monitor::{failed_group_heading, format_alloc_metrics, serde_name};
use crate::output::{
    Columns, Style, format_kv, format_time_or_relative, now_unix_nanos, say, short_id,
};

/// Commands on evaluations.
#[derive(Debug, Subcommand)]
pub enum EvalCommand {
    /// Show an evaluation (by id or unique id prefix).
    Status(StatusArgs),
}

/// Flags of `eval status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Full ids and dates.
    #[arg(long)]
    verbose: bool,
    /// The evaluation.
    #[arg(value_name = "ID")]
    id: String,
}

/// Runs an evaluation command.
pub fn run(command: EvalCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            EvalCommand::Status(args) => status(args).await,
        }
    })
}

/// The evaluation list shown when a prefix matches several.
pub fn format_eval_list(evals: &[&Evaluation], verbose: bool) -> String {
    Columns::<Evaluation>::new()
        .column("ID", |eval| short_id(eval.id.as_str(), verbose).to_owned())
        .column("Priority", |eval| eval.priority.to_string())
        .column("Triggered By", |eval| eval.triggered_by.to_string())
        .column("Job ID", |eval| eval.job_id.as_str().to_owned())
        .column("Namespace", |eval| eval.namespace.as_str().to_owned())
        .column("Node ID", |eval| {
            short_id(eval.node_id.as_str(), verbose).to_owned()
        })
        .column("Status", |eval| serde_name(&eval.status))
        .column("Placement Failures", |eval| {
            (!eval.failed_tg_allocs.is_empty()).to_string()
        })
        .format(evals.iter().copied())
}

/// What the "triggered by" row names: the node, the deployment or the job.
fn trigger_subject(eval: &Evaluation, verbose: bool) -> Option<(&'static str, String)> {
    match eval.triggered_by.as_str() {
        "node-update" | "node-drain" if !eval.node_id.is_empty() => Some((
            "Node ID",
            short_id(eval.node_id.as_str(), verbose).to_owned(),
        )),
        "deployment-watcher" if !eval.deployment_id.is_empty() => Some((
            "Deployment ID",
            short_id(eval.deployment_id.as_str(), verbose).to_owned(),
        )),
        _ if !eval.job_id.is_empty() => Some(("Job ID", eval.job_id.as_str().to_owned())),
        _ => None,
    }
}

/// One evaluation as Nomad's `eval status` prints it.
pub fn format_eval(
    eval: &Evaluation,
    allocs: &[AllocListStub],
    verbose: bool,
    now: i64,
    style: Style,
) -> String {
    let status = serde_name(&eval.status);
    let description = if eval.status_description.is_empty() {
        status.clone()
    } else {
        eval.status_description.clone()
    };
    let mut pairs = vec![
        ("ID", short_id(eval.id.as_str(), verbose).to_owned()),
        (
            "Create Time",
            format_time_or_relative(eval.create_time, now, verbose),
        ),
        (
            "Modify Time",
            format_time_or_relative(eval.modify_time, now, verbose),
        ),
        ("Status", status),
        ("Status Description", description),
        ("Type", eval.eval_type.clone()),
        ("TriggeredBy", eval.triggered_by.to_string()),
    ];
    if let Some((noun, subject)) = trigger_subject(eval, verbose) {
        pairs.push((noun, subject));
    }
    pairs.extend([
        ("Namespace", eval.namespace.as_str().to_owned()),
        ("Priority", eval.priority.to_string()),
        (
            "Placement Failures",
            (!eval.failed_tg_allocs.is_empty()).to_string(),
        ),
    ]);
    let linked = [
        ("Previous Eval", &eval.previous_eval),
        ("Next Eval", &eval.next_eval),
        ("Blocked Eval", &eval.blocked_eval),
    ];
    if linked.iter().any(|(_, id)| !id.is_empty()) {
        for (name, id) in linked {
            pairs.push((name, short_id(id.as_str(), verbose).to_owned()));
        }
    }
    let mut sections = vec![format_kv(&pairs)];
    if !allocs.is_empty() {
        let stubs: Vec<&AllocListStub> = allocs.iter().collect();
        sections.push(format!(
            "{}\n{}",
            style.bold("Placed Allocations"),
            format_alloc_list(&stubs, verbose, now)
        ));
    }
    if !eval.failed_tg_allocs.is_empty() {
        let mut block = style.bold("Failed Placements");
        for (group, metric) in &eval.failed_tg_allocs {
            block.push_str(&format!("\n{}", failed_group_heading(group, metric)));
            let reasons = format_alloc_metrics(metric, "  ");
            if !reasons.is_empty() {
                block.push_str(&format!("\n{reasons}"));
            }
        }
        if !eval.blocked_eval.is_empty() {
            block.push_str(&format!(
                "\n\nEvaluation {:?} waiting for additional capacity to place remainder",
                short_id(eval.blocked_eval.as_str(), verbose)
            ));
        }
        sections.push(block);
    }
    sections.join("\n\n")
}

async fn find(client: &ApiClient, prefix: &str, verbose: bool) -> Result<Evaluation, Failure> {
    find_by_prefix(client, prefix, |matches| format_eval_list(matches, verbose)).await
}

async fn status(args: StatusArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let found = find(&client, &args.id, args.verbose).await?;
    let path = format!("/v1/evaluation/{}", path_segment(found.id.as_str()));
    let Some(eval) = client
        .get_or_print_json::<Evaluation>(&path, &[], args.json, "querying evaluation")
        .await?
    else {
        return Ok(0);
    };
    let allocs: Vec<AllocListStub> = client
        .get(&format!("{path}/allocations"), &[])
        .await
        .context("querying evaluation allocations")?;
    let style = Style::for_stdout(false);
    say!(
        "{}",
        format_eval(&eval, &allocs, args.verbose, now_unix_nanos(), style)
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{AllocMetric, EvalStatus};

    const NANOS: i64 = 1_000_000_000;
    const NOW: i64 = 1_796_464_800 * NANOS;

    #[test]
    fn an_evaluation_shows_its_trigger_and_failures() {
        let eval = Evaluation {
            id: "8e38e1a1-0000".into(),
            namespace: "default".into(),
            priority: 50,
            eval_type: "service".to_owned(),
            triggered_by: "job-register".into(),
            job_id: "example".into(),
            status: EvalStatus::Complete,
            blocked_eval: "b10cced0-0000".into(),
            failed_tg_allocs: [(
                "cache".to_owned(),
                AllocMetric {
                    nodes_evaluated: 1,
                    nodes_exhausted: 1,
                    ..AllocMetric::default()
                },
            )]
            .into(),
            create_time: NOW - 60 * NANOS,
            modify_time: NOW - 60 * NANOS,
            ..Evaluation::default()
        };
        assert_eq!(
            format_eval(&eval, &[], false, NOW, Style::plain()),
            "ID                 = 8e38e1a1\n\
             Create Time        = 1m ago\n\
             Modify Time        = 1m ago\n\
             Status             = complete\n\
             Status Description = complete\n\
             Type               = service\n\
             TriggeredBy        = job-register\n\
             Job ID             = example\n\
             Namespace          = default\n\
             Priority           = 50\n\
             Placement Failures = true\n\
             Previous Eval      = <none>\n\
             Next Eval          = <none>\n\
             Blocked Eval       = b10cced0\n\
             \n\
             Failed Placements\n\
             Task Group \"cache\" (failed to place 1 allocation):\n\
             \x20 * Resources exhausted on 1 nodes\n\
             \n\
             Evaluation \"b10cced0\" waiting for additional capacity to place remainder"
        );
    }
}
