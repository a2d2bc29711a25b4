//! `sched alloc ...`: one placed task group, its tasks' states and events,
//! its logs, and the operator's levers (restart, signal, stop).

use std::collections::BTreeMap;
use std::io::Write;

use clap::{Args, Subcommand};
use scheduler_core::model::api::{AllocListStub, AllocStopResponse};
use scheduler_core::model::serde_util::null_as_default;
use scheduler_core::model::{Allocation, TaskEvent, TaskState};
use serde::Deserialize;

use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Noun, Outcome, find_by_prefix, path_segment,
    run_command,
};
use crate::monitor::{FollowDeployment, MonitorOptions, monitor_eval};
use crate::output::{
    Style, format_bytes, format_kv, format_rfc3339, format_table, format_time,
    format_time_or_relative, now_unix_nanos, print_json, short_id,
};

const ALLOCATION: Noun = Noun {
    singular: "allocation",
    plural: "allocations",
};

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
    let times = |alloc: &AllocListStub| {
        [
            format_time_or_relative(alloc.create_time, now, verbose),
            format_time_or_relative(alloc.modify_time, now, verbose),
        ]
    };
    if verbose {
        let rows: Vec<Vec<String>> = allocs
            .iter()
            .map(|alloc| {
                let mut row = vec![
                    alloc.id.clone(),
                    alloc.eval_id.clone(),
                    alloc.node_id.clone(),
                    alloc.node_name.clone(),
                    alloc.task_group.clone(),
                    alloc.job_version.to_string(),
                    alloc.desired_status.clone(),
                    alloc.client_status.clone(),
                ];
                row.extend(times(alloc));
                row
            })
            .collect();
        return format_table(
            &[
                "ID",
                "Eval ID",
                "Node ID",
                "Node Name",
                "Task Group",
                "Version",
                "Desired",
                "Status",
                "Created",
                "Modified",
            ],
            &rows,
        );
    }
    let rows: Vec<Vec<String>> = allocs
        .iter()
        .map(|alloc| {
            let mut row = vec![
                short_id(&alloc.id, false).to_owned(),
                short_id(&alloc.node_id, false).to_owned(),
                alloc.task_group.clone(),
                alloc.job_version.to_string(),
                alloc.desired_status.clone(),
                alloc.client_status.clone(),
            ];
            row.extend(times(alloc));
            row
        })
        .collect();
    format_table(
        &[
            "ID",
            "Node ID",
            "Task Group",
            "Version",
            "Desired",
            "Status",
            "Created",
            "Modified",
        ],
        &rows,
    )
}

/// Resource usage of an allocation as `/v1/client/allocation/:id/stats`
/// answers (Nomad's `AllocResourceUsage`), as far as `alloc status` shows
/// it. Not in scheduler-core's API types: only this command reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocResourceUsage {
    /// Per task.
    #[serde(deserialize_with = "null_as_default")]
    pub tasks: BTreeMap<String, TaskResourceUsage>,
}

/// One task's usage.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskResourceUsage {
    /// The figures.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_usage: ResourceUsage,
}

/// Memory and CPU in use.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ResourceUsage {
    /// Memory.
    #[serde(deserialize_with = "null_as_default")]
    pub memory_stats: MemoryStats,
    /// CPU.
    #[serde(deserialize_with = "null_as_default")]
    pub cpu_stats: CpuStats,
}

/// Memory in use, bytes.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MemoryStats {
    /// Resident set size.
    #[serde(rename = "RSS", deserialize_with = "null_as_default")]
    pub rss: u64,
    /// Total usage (cgroup), when RSS is not measured.
    #[serde(deserialize_with = "null_as_default")]
    pub usage: u64,
}

/// CPU in use.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CpuStats {
    /// MHz in use.
    #[serde(deserialize_with = "null_as_default")]
    pub total_ticks: f64,
}

/// What a task event says, as Nomad's `buildDisplayMessage` words it when
/// the event carries no display message.
pub fn event_description(event: &TaskEvent) -> String {
    if !event.display_message.is_empty() {
        return event.display_message.clone();
    }
    let or = |text: &str, fallback: &str| {
        if text.is_empty() {
            fallback.to_owned()
        } else {
            text.to_owned()
        }
    };
    match event.event_type.as_str() {
        "Started" => "Task started by client".to_owned(),
        "Received" => "Task received by client".to_owned(),
        "Failed Validation" => or(&event.validation_error, "Validation of task failed"),
        "Setup Failure" => or(&event.setup_error, "Task setup failed"),
        "Driver Failure" => or(&event.driver_error, "Failed to start task"),
        "Downloading Artifacts" => "Client is downloading artifacts".to_owned(),
        "Failed Artifact Download" => or(&event.download_error, "Failed to download artifacts"),
        "Killing" => or(
            &event.kill_reason,
            &format!(
                "Sent interrupt. Waiting {} before force killing",
                event.kill_timeout
            ),
        ),
        "Killed" => or(&event.kill_error, "Task successfully killed"),
        "Terminated" => {
            let mut parts = vec![format!("Exit Code: {}", event.exit_code)];
            if event.signal != 0 {
                parts.push(format!("Signal: {}", event.signal));
            }
            if !event.message.is_empty() {
                parts.push(format!("Exit Message: {:?}", event.message));
            }
            parts.join(", ")
        }
        "Restarting" => {
            let delay = scheduler_core::model::Duration(event.start_delay);
            let reason = or(&event.restart_reason, "Restart within policy");
            format!("{reason} - Task restarting in {delay}")
        }
        "Not Restarting" => or(&event.restart_reason, "Task exceeded restart policy"),
        "Sibling Task Failed" if event.failed_sibling.is_empty() => {
            "Task's sibling failed".to_owned()
        }
        "Sibling Task Failed" => format!("Task's sibling {:?} failed", event.failed_sibling),
        "Signaling" => match (
            event.task_signal.as_str(),
            event.task_signal_reason.as_str(),
        ) {
            ("", "") => "Task being sent a signal".to_owned(),
            ("", reason) => reason.to_owned(),
            (signal, "") => format!("Task being sent signal {signal}"),
            (signal, reason) => format!("Task being sent signal {signal}: {reason}"),
        },
        "Restart Signaled" => or(&event.task_signal_reason, "Task signaled to restart"),
        "Driver" => event.driver_message.clone(),
        "Leader Task Dead" => "Leader Task in Group dead".to_owned(),
        _ => event.message.clone(),
    }
}

fn task_time(text: &str) -> String {
    format_rfc3339(text).unwrap_or_else(|| "N/A".to_owned())
}

/// A task's section of `alloc status`: its state, resources, and events
/// newest first.
fn format_task(alloc: &Allocation, name: &str, state: &TaskState, stats: Option<&AllocResourceUsage>, style: Style) -> String {
    let resources = alloc.allocated_resources.tasks.get(name);
    let cpu = resources.map_or(0, |r| r.cpu.cpu_shares.0);
    let memory_mb = resources.map_or(0, |r| r.memory.memory_mb.0);
    let memory_total = format_bytes(u64::try_from(memory_mb).unwrap_or(0) * 1024 * 1024);
    let usage = stats.and_then(|stats| stats.tasks.get(name));
    let (cpu_text, memory_text) = match usage {
        Some(usage) => {
            let memory = &usage.resource_usage.memory_stats;
            let used = if memory.rss > 0 { memory.rss } else { memory.usage };
            (
                format!("{}/{cpu} MHz", usage.resource_usage.cpu_stats.total_ticks.floor()),
                format!("{}/{memory_total}", format_bytes(used)),
            )
        }
        None => (format!("{cpu} MHz"), memory_total),
    };
    let disk_mb = u64::try_from(alloc.allocated_resources.shared.disk_mb.0).unwrap_or(0);
    let addresses: Vec<String> = resources
        .into_iter()
        .flat_map(|r| &r.networks)
        .flat_map(|network| {
            network
                .reserved_ports
                .iter()
                .chain(&network.dynamic_ports)
                .map(move |port| format!("{}: {}:{}", port.label, network.ip, port.value))
        })
        .collect();
    let resources_table = format_table(
        &["CPU", "Memory", "Disk", "Addresses"],
        &[vec![
            cpu_text,
            memory_text,
            format_bytes(disk_mb * 1024 * 1024),
            addresses.join(","),
        ]],
    );
    let status = format_kv(&[
        ("Started At", task_time(&state.started_at)),
        ("Finished At", task_time(&state.finished_at)),
        ("Total Restarts", state.restarts.to_string()),
        ("Last Restart", task_time(&state.last_restart)),
    ]);
    let events: Vec<Vec<String>> = state
        .events
        .iter()
        .rev()
        .map(|event| {
            vec![
                format_time(event.time),
                event.event_type.clone(),
                event_description(event),
            ]
        })
        .collect();
    let task_state = crate::monitor::serde_name(&state.state);
    format!(
        "{}\nTask Resources:\n{resources_table}\n\nTask Events:\n{status}\n\nRecent Events:\n{}",
        style.bold(&format!("Task {name:?} is {task_state:?}")),
        format_table(&["Time", "Type", "Description"], &events)
    )
}

/// The addresses of an allocation's group network: `Label  Dynamic
/// Address` with `*label`, as Nomad prints them; `None` without ports.
fn format_addresses(alloc: &Allocation) -> Option<String> {
    let network = alloc.allocated_resources.shared.networks.first()?;
    let port_row = |port: &scheduler_core::model::Port, dynamic: &str| {
        let value = if port.to > 0 && port.to != port.value {
            format!("{} -> {}", port.value, port.to)
        } else {
            port.value.to_string()
        };
        vec![
            format!("*{}", port.label),
            dynamic.to_owned(),
            format!("{}:{value}", network.ip),
        ]
    };
    let rows: Vec<Vec<String>> = network
        .dynamic_ports
        .iter()
        .map(|port| port_row(port, "yes"))
        .chain(network.reserved_ports.iter().map(|port| port_row(port, "no")))
        .collect();
    (!rows.is_empty()).then(|| format_table(&["Label", "Dynamic", "Address"], &rows))
}

/// `alloc status` for one allocation.
pub fn format_alloc_status(
    alloc: &Allocation,
    stats: Option<&AllocResourceUsage>,
    verbose: bool,
    now: i64,
    style: Style,
) -> String {
    let mut pairs = vec![
        ("ID", short_id(alloc.id.as_str(), verbose).to_owned()),
        ("Eval ID", short_id(alloc.eval_id.as_str(), verbose).to_owned()),
        ("Name", alloc.name.clone()),
        ("Node ID", short_id(alloc.node_id.as_str(), verbose).to_owned()),
        ("Node Name", alloc.node_name.clone()),
        ("Job ID", alloc.job_id.as_str().to_owned()),
        ("Job Version", alloc.job_version().unwrap_or_default().to_string()),
        ("Client Status", crate::monitor::serde_name(&alloc.client_status)),
        ("Client Description", alloc.client_description.clone()),
        ("Desired Status", crate::monitor::serde_name(&alloc.desired_status)),
        ("Desired Description", alloc.desired_description.clone()),
        ("Created", format_time_or_relative(alloc.create_time, now, verbose)),
        ("Modified", format_time_or_relative(alloc.modify_time, now, verbose)),
    ];
    if !alloc.deployment_id.is_empty() {
        let health = match alloc.deployment_health() {
            Some(true) => "healthy",
            Some(false) => "unhealthy",
            None => "unset",
        };
        pairs.push((
            "Deployment ID",
            short_id(alloc.deployment_id.as_str(), verbose).to_owned(),
        ));
        pairs.push(("Deployment Health", health.to_owned()));
        if alloc.is_canary() {
            pairs.push(("Canary", "true".to_owned()));
        }
    }
    if !alloc.next_allocation.is_empty() {
        pairs.push((
            "Replacement Alloc ID",
            short_id(alloc.next_allocation.as_str(), verbose).to_owned(),
        ));
    }
    let mut out = format_kv(&pairs);
    if let Some(addresses) = format_addresses(alloc) {
        out.push_str(&format!("\n\n{}\n{addresses}", style.bold("Allocation Addresses:")));
    }
    for (name, state) in &alloc.task_states {
        out.push_str("\n\n");
        out.push_str(&format_task(alloc, name, state, stats, style));
    }
    out
}

async fn find(client: &ApiClient, prefix: &str, verbose: bool) -> Result<AllocListStub, Failure> {
    find_by_prefix(client, "/v1/allocations", prefix, ALLOCATION, |matches| {
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
    if args.json {
        print_json(&client.get_json(&path, &[]).await.context("querying allocation")?);
        return Ok(0);
    }
    let alloc: Allocation = client.get(&path, &[]).await.context("querying allocation")?;
    // Usage comes from the client running the allocation; without it the
    // reserved figures are shown alone, as Nomad does.
    let stats: Option<AllocResourceUsage> = if alloc.is_terminal() {
        None
    } else {
        client
            .get(&format!("/v1/client/allocation/{}/stats", path_segment(&stub.id)), &[])
            .await
            .ok()
    };
    let style = Style::for_stdout(false);
    println!(
        "{}",
        format_alloc_status(&alloc, stats.as_ref(), args.verbose, now_unix_nanos(), style)
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
pub fn choose_task(alloc_id: &str, tasks: &[String], named: Option<&str>) -> Result<String, Failure> {
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
        ("type", if args.stderr { "stderr" } else { "stdout" }.to_owned()),
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
        if stdout.write_all(&chunk).and_then(|()| stdout.flush()).is_err() {
            return Ok(0);
        }
    }
    Ok(0)
}

async fn restart(args: TaskArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let alloc = fetch(&client, &args.id, false).await?;
    let named = args.task.as_deref().or(args.task_argument.as_deref());
    let task = match named {
        Some(name) => choose_task(alloc.id.as_str(), &task_names(&alloc), Some(name))?,
        None => String::new(),
    };
    let body = serde_json::json!({ "TaskName": task, "AllTasks": task.is_empty() });
    let path = format!("/v1/client/allocation/{}/restart", path_segment(alloc.id.as_str()));
    let _: serde_json::Value = client
        .post(&path, &[], &body)
        .await
        .context("restarting allocation")?;
    Ok(0)
}

async fn signal(args: SignalArgs) -> Outcome {
    let client = ApiClient::new(&args.task.api)?;
    let alloc = fetch(&client, &args.task.id, false).await?;
    let named = args
        .task
        .task
        .as_deref()
        .or(args.task.task_argument.as_deref());
    let task = match named {
        Some(name) => choose_task(alloc.id.as_str(), &task_names(&alloc), Some(name))?,
        None => String::new(),
    };
    let body = serde_json::json!({
        "Task": task,
        "Signal": args.signal.clone().unwrap_or_default(),
    });
    let path = format!("/v1/client/allocation/{}/signal", path_segment(alloc.id.as_str()));
    let _: serde_json::Value = client
        .post(&path, &[], &body)
        .await
        .context("signalling allocation")?;
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
    if args.detach || answer.eval_id.is_empty() {
        println!("{}", answer.eval_id);
        return Ok(0);
    }
    let options = MonitorOptions {
        verbose: args.verbose,
        style: Style::for_stdout(false),
        follow: FollowDeployment::Never,
    };
    monitor_eval(&client, &answer.eval_id, options).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{
        AllocClientStatus, AllocatedTaskResources, AllocatedCpuResources,
        AllocatedMemoryResources, MHz, MiB, NetworkResource, Port, TaskRunState,
    };

    const NANOS: i64 = 1_000_000_000;
    const NOW: i64 = 1_796_464_800 * NANOS;

    fn event(kind: &str, at: i64) -> TaskEvent {
        TaskEvent {
            event_type: kind.to_owned(),
            time: at,
            ..TaskEvent::default()
        }
    }

    #[test]
    fn events_without_a_display_message_are_described_like_nomad() {
        assert_eq!(event_description(&event("Started", 0)), "Task started by client");
        let mut terminated = event("Terminated", 0);
        terminated.exit_code = 137;
        terminated.signal = 9;
        assert_eq!(event_description(&terminated), "Exit Code: 137, Signal: 9");
        let mut restarting = event("Restarting", 0);
        restarting.start_delay = 15 * NANOS;
        assert_eq!(
            event_description(&restarting),
            "Restart within policy - Task restarting in 15s"
        );
        let mut shown = event("Whatever", 0);
        shown.display_message = "as the client says".to_owned();
        assert_eq!(event_description(&shown), "as the client says");
    }

    #[test]
    fn a_task_must_be_named_when_the_group_has_several() {
        let tasks = vec!["web".to_owned(), "sidecar".to_owned()];
        let err = choose_task("0a9b2cfb", &tasks, None).unwrap_err();
        assert_eq!(
            err.message,
            "Allocation \"0a9b2cfb\" is running the following tasks:\n  * web\n  * sidecar\n\nPlease specify the task."
        );
        assert_eq!(choose_task("a", &tasks[..1], None).unwrap(), "web");
        assert_eq!(choose_task("a", &tasks, Some("sidecar")).unwrap(), "sidecar");
        assert!(choose_task("a", &tasks, Some("db")).is_err());
    }

    fn allocation() -> Allocation {
        let mut alloc = Allocation {
            id: "0a9b2cfb-1111".into(),
            eval_id: "8e38e1a1-2222".into(),
            name: "example.cache[0]".to_owned(),
            node_id: "2be3a3f9-3333".into(),
            node_name: "node1".to_owned(),
            job_id: "example".into(),
            task_group: "cache".to_owned(),
            client_status: AllocClientStatus::Running,
            client_description: "Tasks are running".to_owned(),
            create_time: NOW - 60 * NANOS,
            modify_time: NOW - 50 * NANOS,
            ..Allocation::default()
        };
        alloc.allocated_resources.shared.disk_mb = MiB(300);
        alloc.allocated_resources.shared.networks = vec![NetworkResource {
            ip: "127.0.0.1".to_owned(),
            dynamic_ports: vec![Port {
                label: "db".to_owned(),
                value: 25_512,
                to: 6379,
                ..Port::default()
            }],
            ..NetworkResource::default()
        }];
        alloc.allocated_resources.tasks.insert(
            "redis".to_owned(),
            AllocatedTaskResources {
                cpu: AllocatedCpuResources {
                    cpu_shares: MHz(500),
                    ..AllocatedCpuResources::default()
                },
                memory: AllocatedMemoryResources {
                    memory_mb: MiB(256),
                    ..AllocatedMemoryResources::default()
                },
                ..AllocatedTaskResources::default()
            },
        );
        let mut received = event("Received", NOW - 60 * NANOS);
        received.display_message = "Task received by client".to_owned();
        alloc.task_states.insert(
            "redis".to_owned(),
            TaskState {
                state: TaskRunState::Running,
                started_at: "2026-12-05T09:59:01Z".to_owned(),
                events: vec![received, event("Started", NOW - 59 * NANOS)],
                ..TaskState::default()
            },
        );
        alloc
    }

    #[test]
    fn alloc_status_shows_fields_addresses_and_tasks() {
        let stats = AllocResourceUsage {
            tasks: [(
                "redis".to_owned(),
                TaskResourceUsage {
                    resource_usage: ResourceUsage {
                        memory_stats: MemoryStats {
                            rss: 6_606_028,
                            usage: 0,
                        },
                        cpu_stats: CpuStats { total_ticks: 8.7 },
                    },
                },
            )]
            .into(),
        };
        let text = format_alloc_status(&allocation(), Some(&stats), false, NOW, Style::plain());
        assert_eq!(
            text,
            "ID                  = 0a9b2cfb\n\
             Eval ID             = 8e38e1a1\n\
             Name                = example.cache[0]\n\
             Node ID             = 2be3a3f9\n\
             Node Name           = node1\n\
             Job ID              = example\n\
             Job Version         = 0\n\
             Client Status       = running\n\
             Client Description  = Tasks are running\n\
             Desired Status      = run\n\
             Desired Description = <none>\n\
             Created             = 1m ago\n\
             Modified            = 50s ago\n\
             \n\
             Allocation Addresses:\n\
             Label  Dynamic  Address\n\
             *db    yes      127.0.0.1:25512 -> 6379\n\
             \n\
             Task \"redis\" is \"running\"\n\
             Task Resources:\n\
             CPU        Memory           Disk     Addresses\n\
             8/500 MHz  6.3 MiB/256 MiB  300 MiB  <none>\n\
             \n\
             Task Events:\n\
             Started At     = 2026-12-05T09:59:01Z\n\
             Finished At    = N/A\n\
             Total Restarts = 0\n\
             Last Restart   = N/A\n\
             \n\
             Recent Events:\n\
             Time                  Type      Description\n\
             2026-12-05T09:59:01Z  Started   Task started by client\n\
             2026-12-05T09:59:00Z  Received  Task received by client"
        );
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
