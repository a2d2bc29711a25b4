//! `sched deployment ...`: the rollouts of job versions, and the
//! operator's levers on them (promote canaries, fail, pause, resume).

use clap::{Args, Subcommand};
use scheduler_core::model::api::{
    DeploymentPauseRequest, DeploymentPromoteRequest, DeploymentUpdateResponse,
};
use scheduler_core::model::{Deployment, DeploymentState};
use serde::Serialize;

use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Outcome, find_by_prefix, path_segment, print_list,
    run_command,
};
use crate::monitor::{
    FollowDeployment, MonitorOptions, finish_after_summary, monitor_deployment, monitor_eval,
    serde_name,
};
use crate::output::{Columns, Style, format_kv, format_rfc3339, say, short_id};

/// Commands on deployments.
#[derive(Debug, Subcommand)]
pub enum DeploymentCommand {
    /// List deployments, or show one (by id or unique id prefix).
    Status(StatusArgs),
    /// Promote a deployment's canaries (all groups, or those named with
    /// -group), then follow the evaluation and the deployment.
    Promote(ChangeArgs),
    /// Mark a deployment failed (rolling back if its groups auto-revert).
    Fail(ChangeArgs),
    /// Pause a deployment: no more allocations are replaced until resumed.
    Pause(ChangeArgs),
    /// Resume a paused deployment.
    Resume(ChangeArgs),
}

/// Flags of `deployment status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The deployment; all deployments when omitted.
    #[arg(value_name = "ID")]
    id: Option<String>,
}

/// Flags of the commands that change a deployment.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Return at once instead of following the evaluation.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// With `promote`: a group to promote (repeatable; all when omitted).
    #[arg(long = "group", value_name = "GROUP")]
    groups: Vec<String>,
    /// The deployment (id or unique id prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Runs a deployment command.
pub fn run(command: DeploymentCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            DeploymentCommand::Status(args) => status(args).await,
            DeploymentCommand::Promote(args) => promote(args).await,
            DeploymentCommand::Fail(args) => fail(args).await,
            DeploymentCommand::Pause(args) => pause(args, true).await,
            DeploymentCommand::Resume(args) => pause(args, false).await,
        }
    })
}

/// The list table: `ID  Job ID  Job Version  Status  Description`.
pub fn format_deployment_list(deployments: &[&Deployment], verbose: bool) -> String {
    Columns::<Deployment>::new()
        .column("ID", |deployment| {
            short_id(deployment.id.as_str(), verbose).to_owned()
        })
        .column("Job ID", |deployment| deployment.job_id.as_str().to_owned())
        .column("Job Version", |deployment| {
            deployment.job_version.to_string()
        })
        .column("Status", |deployment| serde_name(&deployment.status))
        .column("Description", |deployment| {
            deployment.status_description.clone()
        })
        .format(deployments.iter().copied())
}

/// One deployment as Nomad's `formatDeployment` prints it: its fields,
/// then the "Deployed" table of its groups.
pub fn format_deployment(deployment: &Deployment, verbose: bool, style: Style) -> String {
    let mut out = format_kv(&[
        ("ID", short_id(deployment.id.as_str(), verbose).to_owned()),
        ("Job ID", deployment.job_id.as_str().to_owned()),
        ("Job Version", deployment.job_version.to_string()),
        ("Status", serde_name(&deployment.status)),
        ("Description", deployment.status_description.clone()),
    ]);
    if !deployment.task_groups.is_empty() {
        out.push_str(&format!(
            "\n\n{}\n{}",
            style.bold("Deployed"),
            format_deployment_groups(deployment)
        ));
    }
    out
}

/// The groups of a deployment, with Nomad's optional columns: "Auto
/// Revert" when a group reverts, "Promoted" and "Canaries" when a group
/// wants canaries, "Progress Deadline" when a group has one.
pub fn format_deployment_groups(deployment: &Deployment) -> String {
    let states = &deployment.task_groups;
    let auto_revert = states.values().any(|state| state.auto_revert);
    let canaries = states.values().any(|state| state.desired_canaries > 0);
    let deadline = states
        .values()
        .any(|state| !state.progress_deadline.is_zero());
    Columns::<(&String, &DeploymentState)>::new()
        .column("Task Group", |(group, _)| (*group).clone())
        .column_if(auto_revert, "Auto Revert", |(_, state)| {
            state.auto_revert.to_string()
        })
        .column_if(canaries, "Promoted", |(_, state)| {
            if state.desired_canaries > 0 {
                state.promoted.to_string()
            } else {
                "N/A".to_owned()
            }
        })
        .column("Desired", |(_, state)| state.desired_total.to_string())
        .column_if(canaries, "Canaries", |(_, state)| {
            state.desired_canaries.to_string()
        })
        .column("Placed", |(_, state)| state.placed_allocs.to_string())
        .column("Healthy", |(_, state)| state.healthy_allocs.to_string())
        .column("Unhealthy", |(_, state)| state.unhealthy_allocs.to_string())
        .column_if(deadline, "Progress Deadline", |(_, state)| {
            format_rfc3339(&state.require_progress_by).unwrap_or_else(|| "N/A".to_owned())
        })
        .format(states)
}

async fn find(client: &ApiClient, prefix: &str, verbose: bool) -> Result<Deployment, Failure> {
    find_by_prefix(client, prefix, |matches| {
        format_deployment_list(matches, verbose)
    })
    .await
}

async fn status(args: StatusArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let style = Style::for_stdout(args.json);
    let Some(prefix) = &args.id else {
        return print_list::<Deployment>(
            &client,
            args.json,
            "retrieving deployments",
            "No deployments found",
            |all| format_deployment_list(all, args.verbose),
        )
        .await;
    };
    let found = find(&client, prefix, args.verbose).await?;
    let path = format!("/v1/deployment/{}", path_segment(found.id.as_str()));
    let Some(deployment) = client
        .get_or_print_json::<Deployment>(&path, &[], args.json, "retrieving deployment")
        .await?
    else {
        return Ok(0);
    };
    say!("{}", format_deployment(&deployment, args.verbose, style));
    Ok(0)
}

/// Pulls one of the levers on deployment `id`: `POST
/// /v1/deployment/<lever>/<id>` (promote, fail, pause).
async fn pull_lever(
    client: &ApiClient,
    lever: &str,
    id: &str,
    request: &impl Serialize,
    doing: &str,
) -> Result<DeploymentUpdateResponse, Failure> {
    let path = format!("/v1/deployment/{lever}/{}", path_segment(id));
    client.post(&path, &[], request).await.context(doing)
}

async fn promote(args: ChangeArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let found = find(&client, &args.id, args.verbose).await?;
    let id = found.id.as_str().to_owned();
    let request = DeploymentPromoteRequest {
        deployment_id: id.clone(),
        all: args.groups.is_empty(),
        groups: args.groups.clone(),
    };
    let answer = pull_lever(&client, "promote", &id, &request, "promoting deployment").await?;
    // Unlike the other writes (`finish_with_eval`), promote prints its line
    // with or without an evaluation, and follows the deployment after the
    // evaluation.
    if args.detach || answer.eval_id.is_empty() {
        say!(
            "Deployment {:?} promoted; evaluation ID: {}",
            short_id(&id, args.verbose),
            answer.eval_id
        );
        return Ok(0);
    }
    let options = MonitorOptions::new(args.verbose, FollowDeployment::Never);
    let code = monitor_eval(&client, &answer.eval_id, options).await?;
    let deployment_code = monitor_deployment(&client, &id, args.verbose, options.style).await?;
    Ok(code.max(deployment_code))
}

async fn fail(args: ChangeArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let found = find(&client, &args.id, args.verbose).await?;
    let id = found.id.as_str().to_owned();
    let request = serde_json::json!({ "DeploymentID": id });
    let answer = pull_lever(&client, "fail", &id, &request, "failing deployment").await?;
    let short = short_id(&id, args.verbose);
    match answer.reverted_job_version {
        Some(version) => {
            say!("Deployment {short:?} failed. Auto-reverted to job version {version}.")
        }
        None => say!("Deployment {short:?} failed"),
    }
    let options = MonitorOptions::new(args.verbose, FollowDeployment::Never);
    finish_after_summary(&client, &answer.eval_id, args.detach, options).await
}

async fn pause(args: ChangeArgs, pause: bool) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let found = find(&client, &args.id, args.verbose).await?;
    let id = found.id.as_str().to_owned();
    let request = DeploymentPauseRequest {
        deployment_id: id.clone(),
        pause,
    };
    let (doing, done) = if pause {
        ("pausing deployment", "paused")
    } else {
        ("resuming deployment", "resumed")
    };
    let answer = pull_lever(&client, "pause", &id, &request, doing).await?;
    say!("Deployment {:?} {done}", short_id(&id, args.verbose));
    // A paused deployment has nothing to follow until it is resumed.
    if pause {
        return Ok(0);
    }
    let options = MonitorOptions::new(args.verbose, FollowDeployment::Never);
    finish_after_summary(&client, &answer.eval_id, args.detach, options).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{DeploymentState, DeploymentStatus, Duration};

    fn deployment() -> Deployment {
        Deployment {
            id: "02c9a8d6-0000-1111-2222-333344445555".into(),
            job_id: "example".into(),
            job_version: 3,
            status: DeploymentStatus::Successful,
            status_description: "Deployment completed successfully".to_owned(),
            task_groups: [(
                "cache".to_owned(),
                DeploymentState {
                    progress_deadline: Duration::from_mins(10),
                    require_progress_by: "2026-12-05T10:10:11.5Z".to_owned(),
                    desired_total: 2,
                    placed_allocs: 2,
                    healthy_allocs: 1,
                    ..DeploymentState::default()
                },
            )]
            .into(),
            ..Deployment::default()
        }
    }

    #[test]
    fn a_deployment_prints_its_fields_and_groups() {
        assert_eq!(
            format_deployment(&deployment(), false, Style::plain()),
            "ID          = 02c9a8d6\n\
             Job ID      = example\n\
             Job Version = 3\n\
             Status      = successful\n\
             Description = Deployment completed successfully\n\
             \n\
             Deployed\n\
             Task Group  Desired  Placed  Healthy  Unhealthy  Progress Deadline\n\
             cache       2        2       1        0          2026-12-05T10:10:11Z"
        );
    }

    #[test]
    fn canary_and_revert_columns_appear_only_when_used() {
        let mut with_canaries = deployment();
        let state = with_canaries.task_groups.get_mut("cache").unwrap();
        state.desired_canaries = 1;
        state.auto_revert = true;
        state.progress_deadline = Duration::ZERO;
        assert_eq!(
            format_deployment_groups(&with_canaries),
            "Task Group  Auto Revert  Promoted  Desired  Canaries  Placed  Healthy  Unhealthy\n\
             cache       true         false     2        1         2       1        0"
        );
    }

    #[test]
    fn the_list_shows_short_ids() {
        let one = deployment();
        assert_eq!(
            format_deployment_list(&[&one], false),
            "ID        Job ID   Job Version  Status      Description\n\
             02c9a8d6  example  3            successful  Deployment completed successfully"
        );
    }
}
