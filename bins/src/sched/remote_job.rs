//! `sched job run|plan|stop|revert|dispatch`: the job commands that change
//! (or would change) what a cluster runs, through an agent's HTTP API.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use clap::Args;
use scheduler_core::model::api::{
    JobDeregisterResponse, JobDispatchRequest, JobDispatchResponse, JobPlanRequest,
    JobPlanResponse, JobRegisterRequest, JobRegisterResponse, JobRevertRequest,
};
use scheduler_core::model::{Job, JobType};
use scheduler_core::plan::diff::{DiffType, JobDiff, render_diff};
use scheduler_core::scheduler::PlanAnnotations;

use crate::api_client::{ApiArgs, ApiClient, ApiError, Context, Failure, Outcome, path_segment};
use crate::job::{VariableArgs, load_job};
use crate::job_status::find_job;
use crate::monitor::{
    FollowDeployment, MonitorOptions, failed_group_heading, finish_after_summary, finish_with_eval,
    format_alloc_metrics,
};
use crate::output::{Style, format_kv, say};

/// `job plan`'s exit code on errors, as Nomad's.
pub const PLAN_EXIT_ERROR: u8 = 255;

/// Flags of `job run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    variables: VariableArgs,
    /// Register only if the job's modify index is N (0: only if the job
    /// does not exist yet), as printed by `job plan`.
    #[arg(long = "check-index", value_name = "N")]
    check_index: Option<u64>,
    /// Return once the job is submitted instead of following the
    /// evaluation and deployment.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The job file (HCL, or JSON with a `.json` extension).
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Flags of `job plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    variables: VariableArgs,
    /// Show unchanged fields of the diff too.
    #[arg(long)]
    verbose: bool,
    /// The job file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// Flags of `job stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Also delete the job and its history from the cluster.
    #[arg(long)]
    purge: bool,
    /// Return at once with the evaluation id.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The job (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Flags of `job revert`.
#[derive(Debug, Args)]
pub struct RevertArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Return at once with the evaluation id.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The job (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
    /// The version to go back to (`job history` lists them).
    // Not named `version`: clap's own `--version` flag has that id.
    #[arg(value_name = "VERSION")]
    job_version: u64,
}

/// Flags of `job dispatch`.
#[derive(Debug, Args)]
pub struct DispatchArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Dispatch metadata `-meta key=value` (repeatable).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// A token that makes the dispatch idempotent.
    #[arg(long = "idempotency-token", value_name = "TOKEN")]
    idempotency_token: Option<String>,
    /// Return at once with the evaluation id.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The parameterized job.
    #[arg(value_name = "ID")]
    id: String,
    /// A file whose content is the payload (`-` reads stdin).
    #[arg(value_name = "PAYLOAD_FILE")]
    payload: Option<PathBuf>,
}

/// The client `job run` and `job plan` talk through. As Nomad's CLI does,
/// a job whose spec names a namespace is sent to that namespace whatever
/// `-namespace` or `NOMAD_NAMESPACE` say; otherwise those choose it and the
/// agent files the job there. A parsed spec reads `default` whether it
/// wrote it or not, so `default` counts as not named.
fn client_for_job(api: &ApiArgs, job: &Job) -> Result<ApiClient, Failure> {
    let mut api = api.clone();
    if let Some(namespace) = spec_namespace(job) {
        api.namespace = Some(namespace.to_owned());
    }
    ApiClient::new(&api)
}

/// The namespace a job's spec names, if any other than the default.
fn spec_namespace(job: &Job) -> Option<&str> {
    Some(job.namespace.as_str())
        .filter(|namespace| !namespace.is_empty() && *namespace != "default")
}

/// `job run`: register the job, then follow what the cluster does with it.
pub async fn run(args: RunArgs) -> Outcome {
    let job = load_job(&args.variables, &args.file).map_err(Failure::new)?;
    let client = client_for_job(&args.api, &job)?;
    let is_periodic_or_parameterized = job.is_periodic() || job.is_parameterized();
    let request = JobRegisterRequest {
        job: Some(job),
        enforce_index: args.check_index.is_some(),
        job_modify_index: args.check_index.unwrap_or(0),
        ..JobRegisterRequest::default()
    };
    let answer: JobRegisterResponse = match client.post("/v1/jobs", &[], &request).await {
        Ok(answer) => answer,
        Err(ApiError::Status { body, .. })
            if body.to_lowercase().contains("enforcing job modify index") =>
        {
            return Err(Failure::new(format!("{body}\nJob not updated")));
        }
        Err(err) => return Err(err).context("submitting job"),
    };
    if !answer.warnings.is_empty() {
        say!("Job Warnings:\n{}\n", answer.warnings.trim_end());
    }
    if is_periodic_or_parameterized || answer.eval_id.is_empty() {
        say!("Job registration successful");
        return Ok(0);
    }
    let detached_line = args.detach.then(|| {
        format!(
            "Job registration successful\nEvaluation ID: {}",
            answer.eval_id
        )
    });
    let options = MonitorOptions::new(args.verbose, FollowDeployment::OfTheJobVersion);
    finish_with_eval(&client, &answer.eval_id, detached_line, options).await
}

/// `job plan`'s exit code, as Nomad decides it: 1 when allocations would
/// be created, destroyed, migrated, replaced or canaried, 0 otherwise
/// (an unchanged job, or only in-place updates).
pub fn plan_exit_code(diff: Option<&JobDiff>, annotations: Option<&PlanAnnotations>) -> u8 {
    if diff.is_some_and(|diff| diff.diff_type == DiffType::None) {
        return 0;
    }
    let changes = annotations.is_some_and(|annotations| {
        annotations.desired_tg_updates.values().any(|updates| {
            updates.stop
                + updates.place
                + updates.migrate
                + updates.destructive_update
                + updates.canary
                > 0
        })
    });
    u8::from(changes)
}

/// The "Scheduler dry-run:" body: success, or the groups that would not be
/// placed and why.
pub fn format_dry_run(answer: &JobPlanResponse, job_type: &JobType) -> String {
    if answer.failed_tg_allocs.is_empty() {
        return "- All tasks successfully allocated.".to_owned();
    }
    let mut out = if *job_type == JobType::System {
        "- WARNING: Failed to place allocations on all nodes.".to_owned()
    } else {
        "- WARNING: Failed to place all allocations.".to_owned()
    };
    for (group, metric) in &answer.failed_tg_allocs {
        out.push_str(&format!("\n  {}", failed_group_heading(group, metric)));
        let reasons = format_alloc_metrics(metric, "    ");
        if !reasons.is_empty() {
            out.push('\n');
            out.push_str(&reasons);
        }
        out.push('\n');
    }
    out.trim_end().to_owned()
}

/// The closing hint of `job plan`, word for word Nomad's.
pub fn format_job_modify_index(index: u64, file: &str) -> String {
    format!(
        "Job Modify Index: {index}\n\
         To submit the job with version verification run:\n\
         \n\
         sched job run -check-index {index} {file}\n\
         \n\
         When running the job with the check-index flag, the job will only be run if the\n\
         job modify index given matches the server-side version. If the index has\n\
         changed, another user has modified the job and the plan's results are\n\
         potentially invalid."
    )
}

/// `job plan`: what registering the file would do, without doing it.
pub async fn plan(args: PlanArgs) -> Outcome {
    let job = load_job(&args.variables, &args.file)
        .map_err(|errors| Failure::new(errors).with_code(PLAN_EXIT_ERROR))?;
    let client = client_for_job(&args.api, &job).map_err(|f| f.with_code(PLAN_EXIT_ERROR))?;
    let style = Style::for_stdout(false);
    let job_type = job.job_type.clone();
    let path = format!("/v1/job/{}/plan", path_segment(job.id.as_str()));
    let request = JobPlanRequest {
        job: Some(job),
        diff: true,
        ..JobPlanRequest::default()
    };
    let answer: JobPlanResponse = client
        .post(&path, &[], &request)
        .await
        .context("during plan")
        .map_err(|f| f.with_code(PLAN_EXIT_ERROR))?;
    if let Some(diff) = &answer.diff {
        say!("{}\n", render_diff(diff, args.verbose).trim());
    }
    say!("{}", style.bold("Scheduler dry-run:"));
    say!("{}\n", format_dry_run(&answer, &job_type));
    if !answer.warnings.is_empty() {
        say!(
            "{}\n",
            style.yellow(&format!("Job Warnings:\n{}", answer.warnings.trim_end()))
        );
    }
    say!(
        "{}",
        format_job_modify_index(answer.job_modify_index, &args.file.display().to_string())
    );
    Ok(plan_exit_code(
        answer.diff.as_ref(),
        answer.annotations.as_ref(),
    ))
}

/// `job stop`: deregister (or purge) a job and follow its evaluation.
pub async fn stop(args: StopArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let job = find_job(&client, &args.id).await?;
    let query = [("purge", args.purge.to_string())];
    let path = format!("/v1/job/{}", path_segment(&job.id));
    let answer: JobDeregisterResponse = client
        .delete(&path, &query)
        .await
        .context("deregistering job")?;
    let detached_line = args.detach.then(|| answer.eval_id.clone());
    let options = MonitorOptions::new(args.verbose, FollowDeployment::Never);
    finish_with_eval(&client, &answer.eval_id, detached_line, options).await
}

/// `job revert`: register an earlier version again.
pub async fn revert(args: RevertArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let job = find_job(&client, &args.id).await?;
    let request = JobRevertRequest {
        job_id: job.id.clone(),
        job_version: args.job_version,
        enforce_prior_version: None,
    };
    let path = format!("/v1/job/{}/revert", path_segment(&job.id));
    let answer: JobRegisterResponse = client
        .post(&path, &[], &request)
        .await
        .context("reverting job")?;
    let detached_line = args
        .detach
        .then(|| format!("Evaluation ID: {}", answer.eval_id));
    let options = MonitorOptions::new(args.verbose, FollowDeployment::OfTheJobVersion);
    finish_with_eval(&client, &answer.eval_id, detached_line, options).await
}

/// `-meta k=v` pairs as a map; later values win.
pub fn parse_meta(pairs: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok((key.trim().to_owned(), value.to_owned()))
            }
            _ => Err(Failure::new(format!(
                "Error parsing meta value {pair:?}: expected KEY=VALUE"
            ))),
        })
        .collect()
}

fn read_payload(path: &Path) -> Result<Vec<u8>, Failure> {
    let read = if path == Path::new("-") {
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes).map(|_| bytes)
    } else {
        std::fs::read(path)
    };
    read.map_err(|err| Failure::new(format!("Error reading input data: {err}")))
}

/// `job dispatch`: start an instance of a parameterized job.
pub async fn dispatch(args: DispatchArgs) -> Outcome {
    let meta = parse_meta(&args.meta)?;
    let payload = match &args.payload {
        Some(path) => read_payload(path)?,
        None => Vec::new(),
    };
    let client = ApiClient::new(&args.api)?;
    let job = find_job(&client, &args.id).await?;
    let request = JobDispatchRequest {
        job_id: job.id.clone(),
        payload: base64::engine::general_purpose::STANDARD.encode(&payload),
        meta,
        idempotency_token: args.idempotency_token.clone().unwrap_or_default(),
    };
    let path = format!("/v1/job/{}/dispatch", path_segment(&job.id));
    let answer: JobDispatchResponse = client
        .post(&path, &[], &request)
        .await
        .context("dispatching job")?;
    say!(
        "{}",
        format_kv(&[
            ("Dispatched Job ID", answer.dispatched_job_id.clone()),
            ("Evaluation ID", answer.eval_id.clone()),
        ])
    );
    let options = MonitorOptions::new(args.verbose, FollowDeployment::OfTheJobVersion);
    finish_after_summary(&client, &answer.eval_id, args.detach, options).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::AllocMetric;
    use scheduler_core::scheduler::DesiredUpdates;

    fn annotations(updates: DesiredUpdates) -> PlanAnnotations {
        PlanAnnotations {
            desired_tg_updates: [("web".to_owned(), updates)].into(),
        }
    }

    fn diff(diff_type: DiffType) -> JobDiff {
        JobDiff {
            diff_type,
            id: "web".to_owned(),
            fields: Vec::new(),
            objects: Vec::new(),
            task_groups: Vec::new(),
        }
    }

    #[test]
    fn plan_exits_1_only_when_allocations_would_change() {
        let create = annotations(DesiredUpdates {
            place: 1,
            ..DesiredUpdates::default()
        });
        let in_place = annotations(DesiredUpdates {
            in_place_update: 2,
            ignore: 1,
            ..DesiredUpdates::default()
        });
        assert_eq!(
            plan_exit_code(Some(&diff(DiffType::Added)), Some(&create)),
            1
        );
        assert_eq!(
            plan_exit_code(Some(&diff(DiffType::None)), Some(&create)),
            0
        );
        assert_eq!(
            plan_exit_code(Some(&diff(DiffType::Edited)), Some(&in_place)),
            0
        );
        assert_eq!(plan_exit_code(Some(&diff(DiffType::Edited)), None), 0);
        let canary = annotations(DesiredUpdates {
            canary: 1,
            ..DesiredUpdates::default()
        });
        assert_eq!(plan_exit_code(None, Some(&canary)), 1);
    }

    #[test]
    fn the_dry_run_lists_failed_groups_with_their_reasons() {
        let ok = JobPlanResponse::default();
        assert_eq!(
            format_dry_run(&ok, &JobType::Service),
            "- All tasks successfully allocated."
        );
        let failed = JobPlanResponse {
            failed_tg_allocs: [(
                "cache".to_owned(),
                AllocMetric {
                    nodes_evaluated: 1,
                    nodes_exhausted: 1,
                    dimension_exhausted: [("memory".to_owned(), 1)].into(),
                    ..AllocMetric::default()
                },
            )]
            .into(),
            ..JobPlanResponse::default()
        };
        assert_eq!(
            format_dry_run(&failed, &JobType::Service),
            "- WARNING: Failed to place all allocations.\n\
             \x20 Task Group \"cache\" (failed to place 1 allocation):\n\
             \x20   * Resources exhausted on 1 nodes\n\
             \x20   * Dimension \"memory\" exhausted on 1 nodes"
        );
        assert!(format_dry_run(&failed, &JobType::System).contains("on all nodes"));
    }

    #[test]
    fn the_check_index_hint_is_nomads_text() {
        let hint = format_job_modify_index(7, "web.nomad.hcl");
        assert!(hint.starts_with(
            "Job Modify Index: 7\nTo submit the job with version verification run:\n\n\
             sched job run -check-index 7 web.nomad.hcl\n\nWhen running the job with the \
             check-index flag, the job will only be run if the\n"
        ));
        assert!(hint.ends_with("potentially invalid."));
    }

    #[test]
    fn a_spec_names_a_namespace_only_when_it_is_not_the_default() {
        let named = Job {
            namespace: "team-a".to_owned(),
            ..Job::default()
        };
        let unnamed = Job {
            namespace: "default".to_owned(),
            ..Job::default()
        };
        assert_eq!(spec_namespace(&named), Some("team-a"));
        assert_eq!(spec_namespace(&unnamed), None);
        assert_eq!(spec_namespace(&Job::default()), None);
    }

    #[test]
    fn meta_pairs_need_a_key_and_an_equals_sign() {
        let meta = parse_meta(&["a=1".to_owned(), "b=x=y".to_owned(), "a=2".to_owned()]).unwrap();
        assert_eq!(meta["a"], "2");
        assert_eq!(meta["b"], "x=y");
        assert!(parse_meta(&["novalue".to_owned()]).is_err());
        assert!(parse_meta(&["=v".to_owned()]).is_err());
    }
}
