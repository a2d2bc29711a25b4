//! `sched node ...`: the client nodes, and the levers that empty them
//! (drain) or keep new work off them (eligibility).

use std::collections::BTreeSet;
use std::time::Duration;

use clap::{ArgGroup, Args, Subcommand};
use scheduler_core::model::api::{
    AllocListStub, DrainSpec, NodeDrainRequest, NodeEligibilityRequest, NodeListStub,
    NodeUpdateResponse,
};
use scheduler_core::model::{Allocation, DriverInfo, Node, NodeEvent};

use crate::alloc::format_alloc_list;
use crate::api_client::{
    ApiArgs, ApiClient, Context, Failure, Outcome, find_by_prefix, path_segment, print_list,
    run_command,
};
use crate::monitor::serde_name;
use crate::output::{
    Columns, Style, format_bytes, format_kv, format_rfc3339, format_table, format_time,
    now_unix_nanos, say, short_id,
};

/// How long one blocking query of the drain monitor may wait.
const DRAIN_POLL_WAIT: Duration = Duration::from_secs(10);

/// Commands on client nodes.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List nodes, or show one (by id or unique id prefix).
    Status(StatusArgs),
    /// Move every allocation off a node (-enable) or stop doing so
    /// (-disable).
    Drain(DrainArgs),
    /// Allow (-enable) or forbid (-disable) new placements on a node.
    Eligibility(EligibilityArgs),
}

/// Flags of `node status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Full ids, drivers and event details.
    #[arg(long)]
    verbose: bool,
    /// The node; every node when omitted.
    #[arg(value_name = "ID")]
    id: Option<String>,
}

/// Flags of `node drain`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("toggle").required(true).args(["enable", "disable"])))]
pub struct DrainArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Start draining.
    #[arg(long)]
    enable: bool,
    /// Stop draining (and make the node eligible again unless
    /// -keep-ineligible).
    #[arg(long)]
    disable: bool,
    /// How long allocations may take to migrate before they are stopped.
    #[arg(long, value_name = "DURATION", default_value = "1h")]
    deadline: String,
    /// Stop every allocation at once (no deadline to migrate).
    #[arg(long)]
    force: bool,
    /// Let allocations migrate for as long as they need.
    #[arg(long = "no-deadline")]
    no_deadline: bool,
    /// Leave system jobs' allocations running.
    #[arg(long = "ignore-system")]
    ignore_system: bool,
    /// With -disable: leave the node ineligible.
    #[arg(long = "keep-ineligible")]
    keep_ineligible: bool,
    /// Answer yes to the confirmation a prefix match asks for.
    #[arg(long)]
    yes: bool,
    /// Return once the drain is set instead of following it.
    #[arg(long)]
    detach: bool,
    /// The node (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Flags of `node eligibility`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("toggle").required(true).args(["enable", "disable"])))]
pub struct EligibilityArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Make the node eligible.
    #[arg(long)]
    enable: bool,
    /// Make the node ineligible.
    #[arg(long)]
    disable: bool,
    /// The node (id or unique prefix).
    #[arg(value_name = "ID")]
    id: String,
}

/// Runs a node command.
pub fn run(command: NodeCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            NodeCommand::Status(args) => status(args).await,
            NodeCommand::Drain(args) => drain(args).await,
            NodeCommand::Eligibility(args) => eligibility(args).await,
        }
    })
}

/// The node list: `ID  Node Pool  DC  Name  Class  Drain  Eligibility
/// Status` (plus Address and Version when verbose).
pub fn format_node_list(nodes: &[&NodeListStub], verbose: bool) -> String {
    Columns::<NodeListStub>::new()
        .column("ID", |node| short_id(&node.id, verbose).to_owned())
        .column("Node Pool", |node| node.node_pool.clone())
        .column("DC", |node| node.datacenter.clone())
        .column("Name", |node| node.name.clone())
        .column("Class", |node| node.node_class.clone())
        .column_if(verbose, "Address", |node| node.address.clone())
        .column_if(verbose, "Version", |node| node.version.clone())
        .column("Drain", |node| node.drain.to_string())
        .column("Eligibility", |node| node.scheduling_eligibility.clone())
        .column("Status", |node| node.status.clone())
        .format(nodes.iter().copied())
}

/// `Drain = ...`: false, or true with the time left allocations are stopped.
fn format_drain(node: &Node) -> String {
    match &node.drain_strategy {
        None if node.drain => "true".to_owned(),
        None => "false".to_owned(),
        Some(strategy) => match format_rfc3339(&strategy.force_deadline) {
            Some(deadline) => format!("true; {deadline} deadline"),
            None => "true".to_owned(),
        },
    }
}

/// Detected drivers, `name (unhealthy)` for broken ones, sorted.
fn format_driver_status(node: &Node) -> String {
    let names: BTreeSet<String> = node
        .drivers
        .iter()
        .filter(|(_, info)| info.detected)
        .map(|(name, info)| {
            if info.healthy {
                name.clone()
            } else {
                format!("{name} (unhealthy)")
            }
        })
        .collect();
    names.into_iter().collect::<Vec<_>>().join(",")
}

/// What the node's live allocations reserve, against what it offers.
fn format_allocated_resources(node: &Node, allocs: &[Allocation]) -> String {
    let (mut cpu, mut memory, mut disk) = (0_i64, 0_i64, 0_i64);
    for alloc in allocs.iter().filter(|alloc| !alloc.is_terminal()) {
        let resources = &alloc.allocated_resources;
        for task in resources.tasks.values() {
            cpu += task.cpu.cpu_shares.0;
            memory += task.memory.memory_mb.0;
        }
        disk += resources.shared.disk_mb.0;
    }
    let offered = &node.node_resources;
    let reserved = &node.reserved_resources;
    let total_cpu = offered.cpu.cpu_shares.0 - reserved.cpu.cpu_shares.0;
    let total_memory = offered.memory.memory_mb.0 - reserved.memory.memory_mb.0;
    let total_disk = offered.disk.disk_mb.0 - reserved.disk.disk_mb.0;
    let mib = |value: i64| format_bytes(u64::try_from(value).unwrap_or(0) * 1024 * 1024);
    format_table(
        &["CPU", "Memory", "Disk"],
        &[vec![
            format!("{cpu}/{total_cpu} MHz"),
            format!("{}/{}", mib(memory), mib(total_memory)),
            format!("{}/{}", mib(disk), mib(total_disk)),
        ]],
    )
}

/// One node as Nomad's `node status ID` prints it: `stubs` for the
/// allocation table, `allocs` (the same, in full) for the resources they
/// hold.
pub fn format_node(
    node: &Node,
    stubs: &[AllocListStub],
    allocs: &[Allocation],
    verbose: bool,
    now: i64,
    style: Style,
) -> String {
    let mut pairs = vec![
        ("ID", short_id(node.id.as_str(), verbose).to_owned()),
        ("Name", node.name.clone()),
        ("Node Pool", node.node_pool.clone()),
        ("Class", node.node_class.clone()),
        ("DC", node.datacenter.clone()),
        ("Drain", format_drain(node)),
        ("Eligibility", serde_name(&node.scheduling_eligibility)),
        ("Status", serde_name(&node.status)),
    ];
    if !verbose {
        pairs.push(("Driver Status", format_driver_status(node)));
    }
    let mut sections = vec![format_kv(&pairs)];
    if verbose {
        let drivers = Columns::<(&String, &DriverInfo)>::new()
            .column("Driver", |(name, _)| (*name).clone())
            .column("Detected", |(_, info)| info.detected.to_string())
            .column("Healthy", |(_, info)| info.healthy.to_string())
            .column("Message", |(_, info)| info.health_description.clone())
            .column("Time", |(_, info)| {
                format_rfc3339(&info.update_time).unwrap_or_default()
            })
            .format(&node.drivers);
        sections.push(format!("{}\n{drivers}", style.bold("Drivers")));
    }
    if !node.events.is_empty() {
        let events = Columns::<NodeEvent>::new()
            .column("Time", |event| {
                format_rfc3339(&event.timestamp).unwrap_or_default()
            })
            .column("Subsystem", |event| event.subsystem.clone())
            .column("Message", |event| event.message.clone())
            .format(node.events.iter().rev());
        sections.push(format!("{}\n{events}", style.bold("Node Events")));
    }
    sections.push(format!(
        "{}\n{}",
        style.bold("Allocated Resources"),
        format_allocated_resources(node, allocs)
    ));
    let mut stubs: Vec<&AllocListStub> = stubs.iter().collect();
    stubs.sort_by_key(|alloc| std::cmp::Reverse(alloc.create_index));
    sections.push(format!(
        "{}\n{}",
        style.bold("Allocations"),
        format_alloc_list(&stubs, verbose, now)
    ));
    sections.join("\n\n")
}

async fn find(client: &ApiClient, prefix: &str, verbose: bool) -> Result<NodeListStub, Failure> {
    find_by_prefix(client, prefix, |matches| format_node_list(matches, verbose)).await
}

async fn status(args: StatusArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let style = Style::for_stdout(args.json);
    let Some(prefix) = &args.id else {
        return print_list::<NodeListStub>(
            &client,
            args.json,
            "querying node status",
            "No nodes registered",
            |all| format_node_list(all, args.verbose),
        )
        .await;
    };
    let stub = find(&client, prefix, args.verbose).await?;
    let path = format!("/v1/node/{}", path_segment(&stub.id));
    let Some(node) = client
        .get_or_print_json::<Node>(&path, &[], args.json, "querying node info")
        .await?
    else {
        return Ok(0);
    };
    let (stubs, allocs) = node_allocations(&client, &path).await?;
    say!(
        "{}",
        format_node(
            &node,
            &stubs,
            &allocs,
            args.verbose,
            now_unix_nanos(),
            style
        )
    );
    Ok(0)
}

/// A node's allocations, as table rows and in full. Nomad answers
/// `/v1/node/:id/allocations` with full allocations, other agents with
/// list stubs (no resources, no embedded job): each answer is read both
/// ways, and live allocations missing their resources are fetched one by
/// one.
async fn node_allocations(
    client: &ApiClient,
    node_path: &str,
) -> Result<(Vec<AllocListStub>, Vec<Allocation>), Failure> {
    let listed: Vec<serde_json::Value> = client
        .get(&format!("{node_path}/allocations"), &[])
        .await
        .context("querying node allocations")?;
    let mut stubs = Vec::with_capacity(listed.len());
    let mut allocs = Vec::with_capacity(listed.len());
    for value in listed {
        let decode_error =
            |err: serde_json::Error| Failure::new(format!("Error reading node allocations: {err}"));
        let mut stub: AllocListStub =
            serde_json::from_value(value.clone()).map_err(decode_error)?;
        let mut alloc: Allocation = serde_json::from_value(value).map_err(decode_error)?;
        if let Some(version) = alloc.job_version() {
            stub.job_version = version;
        }
        if !alloc.is_terminal() && alloc.allocated_resources.tasks.is_empty() {
            alloc = client
                .get(&format!("/v1/allocation/{}", path_segment(&stub.id)), &[])
                .await
                .context("querying allocation")?;
        }
        stubs.push(stub);
        allocs.push(alloc);
    }
    Ok((stubs, allocs))
}

/// What an answer to the drain confirmation means, as Nomad reads it.
#[derive(Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Exactly `y`.
    Yes,
    /// Empty or starting with `n`: cancelled, exit 0.
    No,
    /// `y...` but not exactly `y`: cancelled, exit 0, with a hint.
    NotExact,
    /// Anything else: exit 1.
    Unrecognised,
}

/// Reads an answer to "Are you sure ...? [y/N]".
pub fn read_confirmation(answer: &str) -> Confirmation {
    let answer = answer.trim();
    let lower = answer.to_lowercase();
    if answer.is_empty() || lower.starts_with('n') {
        Confirmation::No
    } else if answer == "y" {
        Confirmation::Yes
    } else if lower.starts_with('y') {
        Confirmation::NotExact
    } else {
        Confirmation::Unrecognised
    }
}

/// The drain deadline in nanoseconds: -1 with -force, 0 with -no-deadline,
/// else the -deadline duration.
pub fn drain_deadline(deadline: &str, force: bool, no_deadline: bool) -> Result<i64, Failure> {
    if force && no_deadline {
        return Err(Failure::new(
            "-force and -no-deadline cannot be used together",
        ));
    }
    if force {
        return Ok(-1);
    }
    if no_deadline {
        return Ok(0);
    }
    let parsed = scheduler_core::model::Duration::parse(deadline)
        .map_err(|err| Failure::new(format!("Failed to parse deadline: {err}")))?;
    if parsed.as_nanos() <= 0 {
        return Err(Failure::new(
            "A positive drain deadline must be given (use -force or -no-deadline otherwise)",
        ));
    }
    Ok(parsed.as_nanos())
}

async fn drain(args: DrainArgs) -> Outcome {
    let deadline = drain_deadline(&args.deadline, args.force, args.no_deadline)?;
    let client = ApiClient::new(&args.api)?;
    let stub = find(&client, &args.id, false).await?;
    let id = stub.id.clone();
    if id != args.id && !args.yes {
        let verb = if args.enable { "enable" } else { "disable" };
        say!("Are you sure you want to {verb} drain mode for node {id:?}? [y/N]");
        let mut answer = String::new();
        // No answer (stdin closed) cancels, as an empty one does.
        let _ = std::io::stdin().read_line(&mut answer);
        match read_confirmation(&answer) {
            Confirmation::Yes => {}
            Confirmation::No => {
                say!("Canceling drain toggle");
                return Ok(0);
            }
            Confirmation::NotExact => {
                say!("For confirmation, an exact 'y' is required.");
                return Ok(0);
            }
            Confirmation::Unrecognised => {
                return Err(Failure::new(
                    "No confirmation detected. For confirmation, an exact 'y' is required.",
                ));
            }
        }
    }
    let request = NodeDrainRequest {
        node_id: id.clone(),
        drain_spec: args.enable.then_some(DrainSpec {
            deadline,
            ignore_system_jobs: args.ignore_system,
        }),
        mark_eligible: args.disable && !args.keep_ineligible,
        ..NodeDrainRequest::default()
    };
    let _: NodeUpdateResponse = client
        .post(
            &format!("/v1/node/{}/drain", path_segment(&id)),
            &[],
            &request,
        )
        .await
        .context("updating drain specification")?;
    if args.disable {
        say!("Node {id:?} drain strategy unset");
        return Ok(0);
    }
    say!("Node {id:?} drain strategy set");
    if args.detach {
        return Ok(0);
    }
    monitor_drain(&client, &id).await
}

/// Follows a drain until the node has no drain strategy left, naming
/// allocations as they are marked for migration.
async fn monitor_drain(client: &ApiClient, node_id: &str) -> Outcome {
    let stamp = || format_time(now_unix_nanos());
    say!(
        "==> {}: Ctrl-C to stop monitoring: will not cancel the node drain",
        stamp()
    );
    let path = format!("/v1/node/{}", path_segment(node_id));
    let mut announced: BTreeSet<String> = BTreeSet::new();
    let mut all_stopped = false;
    let mut index = 0;
    loop {
        let answer = client
            .get_blocking::<Node>(&path, index, DRAIN_POLL_WAIT)
            .await
            .context("querying node")?;
        let allocs: Vec<Allocation> = client
            .get(&format!("{path}/allocations"), &[])
            .await
            .context("querying node allocations")?;
        for alloc in &allocs {
            // Allocations that had finished before the drain are not news.
            if index == 0 && alloc.client_terminal() {
                announced.insert(alloc.id.as_str().to_owned());
                continue;
            }
            // Nomad's full allocations say a migration was asked for; list
            // stubs only show the stop it leads to.
            let what = if alloc.desired_transition.should_migrate() {
                "marked for migration"
            } else if alloc.server_terminal() {
                "draining"
            } else {
                continue;
            };
            let id = alloc.id.as_str();
            if announced.insert(id.to_owned()) {
                say!("    {}: Alloc {:?} {what}", stamp(), short_id(id, false));
            }
        }
        if !all_stopped && allocs.iter().all(Allocation::client_terminal) {
            all_stopped = true;
            say!(
                "    {}: All allocations on node {:?} have stopped",
                stamp(),
                short_id(node_id, false)
            );
        }
        if !answer.value.is_draining() {
            say!("==> {}: Drain complete for node {node_id:?}", stamp());
            return Ok(0);
        }
        if answer.index <= index {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        index = answer.index;
    }
}

async fn eligibility(args: EligibilityArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let stub = find(&client, &args.id, false).await?;
    let eligibility = if args.enable {
        "eligible"
    } else {
        "ineligible"
    };
    let request = NodeEligibilityRequest {
        node_id: stub.id.clone(),
        eligibility: eligibility.to_owned(),
    };
    let _: NodeUpdateResponse = client
        .post(
            &format!("/v1/node/{}/eligibility", path_segment(&stub.id)),
            &[],
            &request,
        )
        .await
        .context("updating scheduling eligibility")?;
    say!(
        "Node {:?} scheduling eligibility set: {eligibility} for scheduling",
        stub.id
    );
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{MHz, MiB, NodeStatus};

    #[test]
    fn the_node_list_has_nomads_columns() {
        let stub = NodeListStub {
            id: "2be3a3f9-0000".to_owned(),
            node_pool: "default".to_owned(),
            datacenter: "dc1".to_owned(),
            name: "node1".to_owned(),
            scheduling_eligibility: "eligible".to_owned(),
            status: "ready".to_owned(),
            ..NodeListStub::default()
        };
        assert_eq!(
            format_node_list(&[&stub], false),
            "ID        Node Pool  DC   Name   Class   Drain  Eligibility  Status\n\
             2be3a3f9  default    dc1  node1  <none>  false  eligible     ready"
        );
    }

    #[test]
    fn one_node_shows_drivers_events_resources_and_allocations() {
        let mut node = Node {
            id: "2be3a3f9-0000".into(),
            name: "node1".to_owned(),
            node_pool: "default".to_owned(),
            datacenter: "dc1".to_owned(),
            status: NodeStatus::Ready,
            events: vec![NodeEvent {
                message: "Node registered".to_owned(),
                subsystem: "Cluster".to_owned(),
                timestamp: "2026-12-05T10:00:00Z".to_owned(),
                ..NodeEvent::default()
            }],
            ..Node::default()
        };
        node.drivers.insert(
            "raw_exec".to_owned(),
            DriverInfo {
                detected: true,
                healthy: true,
                ..DriverInfo::default()
            },
        );
        node.drivers.insert(
            "docker".to_owned(),
            DriverInfo {
                detected: true,
                healthy: false,
                ..DriverInfo::default()
            },
        );
        node.node_resources.cpu.cpu_shares = MHz(4000);
        node.node_resources.memory.memory_mb = MiB(8192);
        node.node_resources.disk.disk_mb = MiB(51_200);
        let text = format_node(&node, &[], &[], false, 0, Style::plain());
        assert_eq!(
            text,
            "ID            = 2be3a3f9\n\
             Name          = node1\n\
             Node Pool     = default\n\
             Class         = <none>\n\
             DC            = dc1\n\
             Drain         = false\n\
             Eligibility   = eligible\n\
             Status        = ready\n\
             Driver Status = docker (unhealthy),raw_exec\n\
             \n\
             Node Events\n\
             Time                  Subsystem  Message\n\
             2026-12-05T10:00:00Z  Cluster    Node registered\n\
             \n\
             Allocated Resources\n\
             CPU         Memory     Disk\n\
             0/4000 MHz  0 B/8 GiB  0 B/50 GiB\n\
             \n\
             Allocations\n\
             No allocations placed"
        );
    }

    #[test]
    fn confirmations_need_an_exact_y() {
        assert_eq!(read_confirmation("y\n"), Confirmation::Yes);
        assert_eq!(read_confirmation(""), Confirmation::No);
        assert_eq!(read_confirmation("No"), Confirmation::No);
        assert_eq!(read_confirmation("yes"), Confirmation::NotExact);
        assert_eq!(read_confirmation("maybe"), Confirmation::Unrecognised);
    }

    #[test]
    fn drain_deadlines_follow_the_flags() {
        assert_eq!(
            drain_deadline("1h", false, false).unwrap(),
            3_600_000_000_000
        );
        assert_eq!(drain_deadline("1h", true, false).unwrap(), -1);
        assert_eq!(drain_deadline("1h", false, true).unwrap(), 0);
        assert!(drain_deadline("1h", true, true).is_err());
        assert!(drain_deadline("soon", false, false).is_err());
        assert!(drain_deadline("0s", false, false).is_err());
    }
}
