//! `sched alloc ...`: one placed task group, its tasks' states and events,
//! its logs, and the operator's levers (restart, signal, stop).

use std::io::Write;

use clap::{Args, Subcommand};
use scheduler_core::model::Allocation;
use scheduler_core::model::api::{AllocListStub, AllocStopResponse};

use crate::alloc_status::{AllocResourceUsage, format_alloc_status};
use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Outcome, find_by_prefix, path_segment, run_command,
};
use crate::monitor::{FollowDeployment, MonitorOptions, monitor_eval};
use crate::output::{Columns, Style, format_time_or_relative, now_unix_nanos, say, short_id};

/// Commands on allocations.
#[derive(Debug, Subcommand)]
pub enum AllocCommand {
    /// Show an allocation: its fields, addresses, and each task's
    /// resources and recent events.
    Status(StatusArgs),
    /// Print a task's stdout (or stderr), following it with -f.
    Logs(LogsArgs),
    /// Restart an allocation's tasks (or one task) in place.
    Restart(TaskArgs),
    /// Send a signal to an allocation's tasks (or one task).
    Signal(SignalArgs),
    /// Stop an allocation; the scheduler replaces it if its job still
    /// wants it.
    Stop(StopArgs),
}

/// Flags of `alloc status`.
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
    /// The allocation (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Flags of `alloc logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Keep printing new output until the allocation stops or Ctrl-C.
    #[arg(short = 'f')]
    follow: bool,
    /// Print stderr instead of stdout.
    #[arg(long)]
    stderr: bool,
    /// The task (needed when the group has several).
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// Full ids in messages.
    #[arg(long)]
    verbose: bool,
    /// The allocation (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
    /// The task, as an alternative to -task.
    #[arg(value_name = "TASK")]
    task_argument: Option<String>,
}

/// Flags of `alloc restart`.
#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The task (all tasks when omitted).
    #[arg(long, value_name = "TASK")]
    task: Option<String>,
    /// The allocation (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
    /// The task, as an alternative to -task.
    #[arg(value_name = "TASK")]
    task_argument: Option<String>,
}

/// Flags of `alloc signal`.
#[derive(Debug, Args)]
pub struct SignalArgs {
    /// The signal (SIGHUP, SIGUSR1, ...; the agent's default is SIGKILL).
    #[arg(short = 's', value_name = "SIGNAL")]
    signal: Option<String>,
    #[command(flatten)]
    task: TaskArgs,
}

/// Flags of `alloc stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Return at once with the evaluation id.
    #[arg(long)]
    detach: bool,
    /// Full ids.
    #[arg(long)]
    verbose: bool,
    /// The allocation (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Runs an allocation command.
pub fn run(command: AllocCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            AllocCommand::Status(args) => status(args).await,
            AllocCommand::Logs(args) => logs(args).await,
            AllocCommand::Restart(args) => restart(args).await,
            AllocCommand::Signal(args) => signal(args).await,
            AllocCommand::Stop(args) => stop(args).await,
        }
    })
}

/// Nomad's allocation table: `ID  Node ID  Task Group  Version  Desired
/// Status  Created  Modified` (with eval and node name, and dates instead
/// of "2m ago", when verbose). "No allocations placed" when empty.
pub fn format_alloc_list(allocs: &[&AllocListStub], verbose: bool, now: i64) -> String {
    if allocs.is_empty() {
        return "No allocations placed".to_owned();
    }
    Columns::<AllocListStub>::new()
        .column("ID", |alloc| short_id(&alloc.id, verbose).to_owned())
        .column_if(verbose, "Eval ID", |alloc| alloc.eval_id.clone())
        .column("Node ID", |alloc| {
            short_id(&alloc.node_id, verbose).to_owned()
        })
        .column_if(verbose, "Node Name", |alloc| alloc.node_name.clone())
        .column("Task Group", |alloc| alloc.task_group.clone())
        .column("Version", |alloc| alloc.job_version.to_string())
        .column("Desired", |alloc| alloc.desired_status.clone())
        .column("Status", |alloc| alloc.client_status.clone())
        .column("Created", |alloc| {
            format_time_or_relative(alloc.create_time, now, verbose)
        })
        .column("Modified", |alloc| {
            format_time_or_relative(alloc.modify_time, now, verbose)
        })
        .format(allocs.iter().copied())
}

async fn find(client: &ApiClient, prefix: &str, verbose: bool) -> Result<AllocListStub, Failure> {
    find_by_prefix(client, prefix, |matches| {
        format_alloc_list(matches, verbose, now_unix_nanos())
    })
    .await
}

async fn fetch(client: &ApiClient, prefix: &str, verbose: bool) -> Result<Allocation, Failure> {
    let stub = find(client, prefix, verbose).await?;
    client
        .get(&format!("/v1/allocation/{}", path_segment(&stub.id)), &[])
        .await
        .context("querying allocation")
}

async fn status(args: StatusArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let stub = find(&client, &args.id, args.verbose).await?;
    let path = format!("/v1/allocation/{}", path_segment(&stub.id));
    let Some(alloc) = client
        .get_or_print_json::<Allocation>(&path, &[], args.json, "querying allocation")
        .await?
    else {
        return Ok(0);
    };
    // Usage comes from the client running the allocation; without it the
    // reserved figures are shown alone, as Nomad does.
    let stats: Option<AllocResourceUsage> = if alloc.is_terminal() {
        None
    } else {
        client
            .get(
                &format!("/v1/client/allocation/{}/stats", path_segment(&stub.id)),
                &[],
            )
            .await
            .ok()
    };
    let style = Style::for_stdout(false);
    say!(
        "{}",
        format_alloc_status(
            &alloc,
            stats.as_ref(),
            args.verbose,
            now_unix_nanos(),
            style
        )
    );
    Ok(0)
}

/// The tasks of the allocation's group, in job order.
fn task_names(alloc: &Allocation) -> Vec<String> {
    let from_job: Vec<String> = alloc
        .job
        .as_ref()
        .and_then(|job| job.lookup_task_group(&alloc.task_group))
        .map(|group| group.tasks.iter().map(|task| task.name.clone()).collect())
        .unwrap_or_default();
    if from_job.is_empty() {
        alloc.task_states.keys().cloned().collect()
    } else {
        from_job
    }
}

/// The task a command is about: the one named (which must exist), or the
/// only one; several without a name is an error listing them.
pub fn choose_task(
    alloc_id: &str,
    tasks: &[String],
    named: Option<&str>,
) -> Result<String, Failure> {
    if let Some(name) = named {
        if tasks.is_empty() || tasks.iter().any(|task| task == name) {
            return Ok(name.to_owned());
        }
        return Err(Failure::new(format!("Could not find task named: {name}")));
    }
    match tasks {
        [only] => Ok(only.clone()),
        [] => Err(Failure::new(format!(
            "Allocation {alloc_id:?} has no tasks"
        ))),
        several => {
            let list: Vec<String> = several.iter().map(|task| format!("  * {task}")).collect();
            Err(Failure::new(format!(
                "Allocation {alloc_id:?} is running the following tasks:\n{}\n\nPlease specify the task.",
                list.join("\n")
            )))
        }
    }
}

async fn logs(args: LogsArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let alloc = fetch(&client, &args.id, args.verbose).await?;
    let named = args.task.as_deref().or(args.task_argument.as_deref());
    let task = choose_task(
        short_id(alloc.id.as_str(), args.verbose),
        &task_names(&alloc),
        named,
    )?;
    let query = [
        ("task", task),
        (
            "type",
            if args.stderr { "stderr" } else { "stdout" }.to_owned(),
        ),
        ("plain", "true".to_owned()),
        ("follow", args.follow.to_string()),
        ("origin", "start".to_owned()),
        ("offset", "0".to_owned()),
    ];
    let path = format!("/v1/client/fs/logs/{}", path_segment(alloc.id.as_str()));
    let mut response = client
        .get_stream(&path, &query)
        .await
        .context("reading logs")?;
    let mut stdout = std::io::stdout().lock();
    while let Some(chunk) = client
        .next_chunk(&mut response)
        .await
        .context("reading logs")?
    {
        // A closed pipe (`| head`) ends the command quietly.
        if stdout
            .write_all(&chunk)
            .and_then(|()| stdout.flush())
            .is_err()
        {
            return Ok(0);
        }
    }
    Ok(0)
}

async fn restart(args: TaskArgs) -> Outcome {
    post_to_task(
        &args,
        "restart",
        "restarting allocation",
        |task| serde_json::json!({ "TaskName": task, "AllTasks": task.is_empty() }),
    )
    .await
}

async fn signal(args: SignalArgs) -> Outcome {
    let signal = args.signal.clone().unwrap_or_default();
    post_to_task(
        &args.task,
        "signal",
        "signalling allocation",
        |task| serde_json::json!({ "Task": task, "Signal": signal }),
    )
    .await
}

/// `alloc restart` and `alloc signal`: one request to the client that
/// runs the allocation, `/v1/client/allocation/<id>/<action>`, about the
/// task named (which must exist) or, given "", about all of them.
async fn post_to_task(
    args: &TaskArgs,
    action: &str,
    doing: &str,
    body: impl FnOnce(&str) -> serde_json::Value,
) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let alloc = fetch(&client, &args.id, false).await?;
    let named = args.task.as_deref().or(args.task_argument.as_deref());
    let task = match named {
        Some(name) => choose_task(alloc.id.as_str(), &task_names(&alloc), Some(name))?,
        None => String::new(),
    };
    let path = format!(
        "/v1/client/allocation/{}/{action}",
        path_segment(alloc.id.as_str())
    );
    let _: serde_json::Value = client.post(&path, &[], &body(&task)).await.context(doing)?;
    Ok(0)
}

async fn stop(args: StopArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let stub = find(&client, &args.id, args.verbose).await?;
    let path = format!("/v1/allocation/{}/stop", path_segment(&stub.id));
    let answer: AllocStopResponse = client
        .post(&path, &[], &serde_json::json!({}))
        .await
        .context("stopping allocation")?;
    // Without an evaluation this prints the (empty) id, as `-detach` does,
    // where the writes `finish_with_eval` ends print nothing: so `alloc
    // stop` keeps its own ending, and its output.
    if args.detach || answer.eval_id.is_empty() {
        say!("{}", answer.eval_id);
        return Ok(0);
    }
    let options = MonitorOptions::new(args.verbose, FollowDeployment::Never);
    monitor_eval(&client, &answer.eval_id, options).await
}

#[cfg(test)]
mod tests {
    use super::*;

    const NANOS: i64 = 1_000_000_000;
    const NOW: i64 = 1_796_464_800 * NANOS;

    #[test]
    fn a_task_must_be_named_when_the_group_has_several() {
        let tasks = vec!["web".to_owned(), "sidecar".to_owned()];
        let err = choose_task("0a9b2cfb", &tasks, None).unwrap_err();
        assert_eq!(
            err.message,
            "Allocation \"0a9b2cfb\" is running the following tasks:\n  * web\n  * sidecar\n\nPlease specify the task."
        );
        assert_eq!(choose_task("a", &tasks[..1], None).unwrap(), "web");
        assert_eq!(
            choose_task("a", &tasks, Some("sidecar")).unwrap(),
            "sidecar"
        );
        assert!(choose_task("a", &tasks, Some("db")).is_err());
    }

    #[test]
    fn the_alloc_list_is_relative_unless_verbose() {
        let stub = AllocListStub {
            id: "0a9b2cfb-1111".to_owned(),
            node_id: "2be3a3f9-3333".to_owned(),
            task_group: "cache".to_owned(),
            job_version: 2,
            desired_status: "run".to_owned(),
            client_status: "running".to_owned(),
            create_time: NOW - 120 * NANOS,
            modify_time: NOW - 3 * NANOS,
            ..AllocListStub::default()
        };
        assert_eq!(
            format_alloc_list(&[&stub], false, NOW),
            "ID        Node ID   Task Group  Version  Desired  Status   Created  Modified\n\
             0a9b2cfb  2be3a3f9  cache       2        run      running  2m ago   3s ago"
        );
        assert!(format_alloc_list(&[&stub], true, NOW).contains("2026-12-05T09:58:00Z"));
        assert_eq!(format_alloc_list(&[], false, NOW), "No allocations placed");
    }
}
