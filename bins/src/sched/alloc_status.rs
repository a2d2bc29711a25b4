//! `sched alloc status` for one allocation, laid out as Nomad's: its
//! fields, its group's addresses, and per task the resources (with live
//! usage when the client reports it) and recent events.

use std::collections::BTreeMap;

use scheduler_core::model::serde_util::null_as_default;
use scheduler_core::model::{Allocation, TaskEvent, TaskState};
use serde::Deserialize;

use crate::monitor::serde_name;
use crate::output::{
    Columns, Style, format_bytes, format_kv, format_rfc3339, format_table, format_time,
    format_time_or_relative, short_id,
};

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
        "Restart Signaled" => or(&event.restart_reason, "Task signaled to restart"),
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
fn format_task(
    alloc: &Allocation,
    name: &str,
    state: &TaskState,
    stats: Option<&AllocResourceUsage>,
    style: Style,
) -> String {
    let resources = alloc.allocated_resources.tasks.get(name);
    let cpu = resources.map_or(0, |r| r.cpu.cpu_shares.0);
    let memory_mb = resources.map_or(0, |r| r.memory.memory_mb.0);
    let memory_total = format_bytes(u64::try_from(memory_mb).unwrap_or(0) * 1024 * 1024);
    let usage = stats.and_then(|stats| stats.tasks.get(name));
    let (cpu_text, memory_text) = match usage {
        Some(usage) => {
            let memory = &usage.resource_usage.memory_stats;
            let used = if memory.rss > 0 {
                memory.rss
            } else {
                memory.usage
            };
            (
                format!(
                    "{}/{cpu} MHz",
                    usage.resource_usage.cpu_stats.total_ticks.floor()
                ),
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
    let events = Columns::<TaskEvent>::new()
        .column("Time", |event| format_time(event.time))
        .column("Type", |event| event.event_type.clone())
        .column("Description", event_description)
        .format(state.events.iter().rev());
    let task_state = serde_name(&state.state);
    format!(
        "{}\nTask Resources:\n{resources_table}\n\nTask Events:\n{status}\n\nRecent Events:\n{events}",
        style.bold(&format!("Task {name:?} is {task_state:?}")),
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
        .chain(
            network
                .reserved_ports
                .iter()
                .map(|port| port_row(port, "no")),
        )
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
        (
            "Eval ID",
            short_id(alloc.eval_id.as_str(), verbose).to_owned(),
        ),
        ("Name", alloc.name.clone()),
        (
            "Node ID",
            short_id(alloc.node_id.as_str(), verbose).to_owned(),
        ),
        ("Node Name", alloc.node_name.clone()),
        ("Job ID", alloc.job_id.as_str().to_owned()),
        (
            "Job Version",
            alloc.job_version().unwrap_or_default().to_string(),
        ),
        ("Client Status", serde_name(&alloc.client_status)),
        ("Client Description", alloc.client_description.clone()),
        ("Desired Status", serde_name(&alloc.desired_status)),
        ("Desired Description", alloc.desired_description.clone()),
        (
            "Created",
            format_time_or_relative(alloc.create_time, now, verbose),
        ),
        (
            "Modified",
            format_time_or_relative(alloc.modify_time, now, verbose),
        ),
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
        out.push_str(&format!(
            "\n\n{}\n{addresses}",
            style.bold("Allocation Addresses:")
        ));
    }
    for (name, state) in &alloc.task_states {
        out.push_str("\n\n");
        out.push_str(&format_task(alloc, name, state, stats, style));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{
        AllocClientStatus, AllocatedCpuResources, AllocatedMemoryResources, AllocatedTaskResources,
        MHz, MiB, NetworkResource, Port, TaskRunState,
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
        assert_eq!(
            event_description(&event("Started", 0)),
            "Task started by client"
        );
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
}
