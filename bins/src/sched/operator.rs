//! `sched operator ...`: the servers' Raft membership and state snapshots.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use scheduler_core::model::serde_util::null_as_default;
use serde::Deserialize;

use crate::api_client::{ApiArgs, ApiClient, Context, Failure, Outcome, run_command};
use crate::output::{Columns, say};

/// Operator commands.
#[derive(Debug, Subcommand)]
pub enum OperatorCommand {
    /// The servers' Raft peers.
    #[command(subcommand)]
    Raft(RaftCommand),
    /// Save or restore the servers' state.
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

/// Raft membership commands.
#[derive(Debug, Subcommand)]
pub enum RaftCommand {
    /// List the Raft peers: which server leads, which vote.
    ListPeers(ListPeersArgs),
    /// Remove a peer (a server that is gone for good) from the Raft
    /// configuration.
    RemovePeer(RemovePeerArgs),
    /// Offline, on a stopped server of a cluster that lost its quorum for
    /// good: make it the only voter of a new configuration, keeping all
    /// its log holds (see docs/operations.md before using it).
    Recover(RecoverArgs),
}

/// Snapshot commands.
#[derive(Debug, Subcommand)]
pub enum SnapshotCommand {
    /// Save the servers' state to a file.
    Save(SnapshotArgs),
    /// Replace the servers' state with a saved one.
    Restore(SnapshotArgs),
}

/// Flags of `operator raft list-peers`.
#[derive(Debug, Args)]
pub struct ListPeersArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `operator raft remove-peer`.
#[derive(Debug, Args)]
pub struct RemovePeerArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The id of the peer to remove (`list-peers` shows it).
    #[arg(long = "peer-id", value_name = "ID")]
    peer_id: String,
}

/// Flags of `operator raft recover`.
#[derive(Debug, Args)]
pub struct RecoverArgs {
    /// The stopped server's data directory (the `-data-dir` it ran with;
    /// an agent that was also a client keeps it in `DIR/server`, which is
    /// found as well).
    #[arg(long = "data-dir", value_name = "DIR")]
    data_dir: PathBuf,
    /// The address the server will listen on for the other servers: its
    /// `-bind` and `-rpc-port`, as `HOST:PORT`.
    #[arg(long, value_name = "HOST:PORT")]
    address: String,
    /// Print the recovery's report as JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `operator snapshot save|restore`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// The snapshot file.
    #[arg(value_name = "FILE")]
    file: PathBuf,
}

/// `GET /v1/operator/raft/configuration`. Not in scheduler-core's API
/// types: only the CLI reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RaftConfiguration {
    /// The peers.
    #[serde(deserialize_with = "null_as_default")]
    pub servers: Vec<RaftServer>,
    /// The Raft index of the configuration.
    #[serde(deserialize_with = "null_as_default")]
    pub index: u64,
}

/// One Raft peer.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct RaftServer {
    /// The peer's id.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// Its node name.
    #[serde(deserialize_with = "null_as_default")]
    pub node: String,
    /// Its Raft address.
    #[serde(deserialize_with = "null_as_default")]
    pub address: String,
    /// Whether it leads.
    #[serde(deserialize_with = "null_as_default")]
    pub leader: bool,
    /// Whether it votes.
    #[serde(deserialize_with = "null_as_default")]
    pub voter: bool,
    /// The protocol version; a string in Nomad's answer, a number in some.
    pub raft_protocol: serde_json::Value,
}

/// Runs an operator command.
pub fn run(command: OperatorCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            OperatorCommand::Raft(RaftCommand::ListPeers(args)) => list_peers(args).await,
            OperatorCommand::Raft(RaftCommand::RemovePeer(args)) => remove_peer(args).await,
            OperatorCommand::Raft(RaftCommand::Recover(args)) => recover(args).await,
            OperatorCommand::Snapshot(SnapshotCommand::Save(args)) => save(args).await,
            OperatorCommand::Snapshot(SnapshotCommand::Restore(args)) => restore(args).await,
        }
    })
}

/// The peers table: `Node  ID  Address  State  Voter  RaftProtocol`.
pub fn format_peers(configuration: &RaftConfiguration) -> String {
    Columns::<RaftServer>::new()
        .column("Node", |server| server.node.clone())
        .column("ID", |server| server.id.clone())
        .column("Address", |server| server.address.clone())
        .column("State", |server| {
            if server.leader { "leader" } else { "follower" }.to_owned()
        })
        .column("Voter", |server| server.voter.to_string())
        .column("RaftProtocol", |server| match &server.raft_protocol {
            serde_json::Value::String(text) => text.clone(),
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        })
        .format(&configuration.servers)
}

const CONFIGURATION: &str = "/v1/operator/raft/configuration";

async fn list_peers(args: ListPeersArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let Some(configuration) = client
        .get_or_print_json::<RaftConfiguration>(CONFIGURATION, &[], args.json, "getting peers")
        .await?
    else {
        return Ok(0);
    };
    say!("{}", format_peers(&configuration));
    Ok(0)
}

async fn remove_peer(args: RemovePeerArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let _: serde_json::Value = client
        .delete("/v1/operator/raft/peer", &[("id", args.peer_id.clone())])
        .await
        .context("removing peer")?;
    say!("Removed peer with id {:?}", args.peer_id);
    Ok(0)
}

/// The server directory in `dir`: `dir` itself, or `dir/server` when only
/// that holds a server id (an agent run with `-server -client`).
fn server_dir(dir: &Path) -> PathBuf {
    let nested = dir.join("server");
    if !dir.join("server-id").exists() && nested.join("server-id").exists() {
        nested
    } else {
        dir.to_owned()
    }
}

/// Whether `address` reads as `HOST:PORT` with a port other servers can
/// dial.
fn valid_address(address: &str) -> bool {
    address
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0))
}

async fn recover(args: RecoverArgs) -> Outcome {
    if !valid_address(&args.address) {
        return Err(Failure::new(format!(
            "-address {:?}: expected HOST:PORT, the address the server will listen on (its -bind and -rpc-port)",
            args.address
        )));
    }
    let dir = server_dir(&args.data_dir);
    let address = args.address.clone();
    let recovery_dir = dir.clone();
    let report = tokio::task::spawn_blocking(move || {
        scheduler_raft::operator::recover_single_node(&recovery_dir, &address)
    })
    .await
    .map_err(|err| Failure::new(format!("Error recovering {}: {err}", dir.display())))?
    .map_err(|err| Failure::new(format!("Error recovering: {err}")))?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|err| Failure::new(format!("Error printing the report: {err}")))?;
        say!("{text}");
        return Ok(0);
    }
    say!("{}", format_recovery(&report));
    Ok(0)
}

/// What the operator reads after a recovery, and what to do next.
fn format_recovery(report: &scheduler_raft::operator::RecoveryReport) -> String {
    let previous: Vec<String> = report
        .previous_voters
        .iter()
        .map(ToString::to_string)
        .collect();
    let started_from = match report.snapshot_index {
        Some(index) => format!("the snapshot at index {index}"),
        None => "an empty state (no snapshot)".to_owned(),
    };
    let mut lines = vec![
        format!(
            "Server {} is now the only voter, at {}.",
            report.server_id, report.address
        ),
        format!("Previous voters: {}", previous.join(", ")),
        format!(
            "Restored {started_from} and replayed {} log entries; last index {}, term {}.",
            report.replayed, report.last_index, report.term
        ),
    ];
    if let Some(committed) = report.committed_index
        && committed < report.last_index
    {
        lines.push(format!(
            "Entries {} to {} were past its commit point: kept, though the old cluster may never have acknowledged them.",
            committed + 1,
            report.last_index
        ));
    }
    lines.push(format!(
        "Next: start it alone on {} (-bootstrap-expect 1, no -retry-join), then have new servers join it.",
        report.address
    ));
    lines.join("\n")
}

/// Writes a snapshot next to `file` first and renames it into place, so a
/// broken download never leaves a truncated snapshot under the name asked
/// for.
async fn save(args: SnapshotArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let partial = partial_path(&args.file);
    let mut response = client
        .get_stream("/v1/operator/snapshot", &[])
        .await
        .context("getting snapshot")?;
    let mut out = std::fs::File::create(&partial).map_err(|err| {
        Failure::new(format!(
            "Failed to create file {}: {err}",
            partial.display()
        ))
    })?;
    let written = async {
        while let Some(chunk) = client
            .next_chunk(&mut response)
            .await
            .context("getting snapshot")?
        {
            out.write_all(&chunk)
                .map_err(|err| Failure::new(format!("Failed to write snapshot file: {err}")))?;
        }
        out.sync_all()
            .map_err(|err| Failure::new(format!("Failed to write snapshot file: {err}")))
    }
    .await;
    if let Err(failure) = written {
        let _ = std::fs::remove_file(&partial);
        return Err(failure);
    }
    std::fs::rename(&partial, &args.file).map_err(|err| {
        Failure::new(format!(
            "Failed to move snapshot file into place at {}: {err}",
            args.file.display()
        ))
    })?;
    say!("State file written to {}", args.file.display());
    Ok(0)
}

fn partial_path(file: &Path) -> PathBuf {
    let mut name = file
        .file_name()
        .map(|name| name.to_os_string())
        .unwrap_or_default();
    name.push(".partial");
    file.with_file_name(name)
}

async fn restore(args: SnapshotArgs) -> Outcome {
    let bytes = std::fs::read(&args.file).map_err(|err| {
        Failure::new(format!(
            "Error opening snapshot file {}: {err}",
            args.file.display()
        ))
    })?;
    let client = ApiClient::new(&args.api)?;
    let _: serde_json::Value = client
        .put_bytes("/v1/operator/snapshot", bytes)
        .await
        .context("restoring snapshot")?;
    say!("Snapshot Restored");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peers_read_nomads_answer_and_print_its_columns() {
        let answer = r#"{"Servers":[
            {"ID":"1","Node":"server-1","Address":"127.0.0.1:4647","Leader":true,"Voter":true,"RaftProtocol":"3"},
            {"ID":"2","Node":"server-2","Address":"127.0.0.1:5647","Leader":false,"Voter":true,"RaftProtocol":3}
        ],"Index":12}"#;
        let configuration: RaftConfiguration = serde_json::from_str(answer).unwrap();
        assert_eq!(configuration.index, 12);
        assert_eq!(
            format_peers(&configuration),
            "Node      ID  Address         State     Voter  RaftProtocol\n\
             server-1  1   127.0.0.1:4647  leader    true   3\n\
             server-2  2   127.0.0.1:5647  follower  true   3"
        );
    }

    #[test]
    fn recover_takes_host_and_port_and_reports_what_it_kept() {
        assert!(valid_address("10.0.0.5:4647"));
        assert!(valid_address("server-1.example:4647"));
        assert!(!valid_address("10.0.0.5"));
        assert!(!valid_address(":4647"));
        assert!(!valid_address("10.0.0.5:0"));
        assert!(!valid_address("10.0.0.5:http"));
        let report = scheduler_raft::operator::RecoveryReport {
            server_id: 7,
            address: "10.0.0.5:4647".to_owned(),
            previous_voters: vec![7, 8, 9],
            snapshot_index: Some(100),
            replayed: 12,
            committed_index: Some(110),
            last_index: 112,
            term: 4,
        };
        assert_eq!(
            format_recovery(&report),
            "Server 7 is now the only voter, at 10.0.0.5:4647.\n\
             Previous voters: 7, 8, 9\n\
             Restored the snapshot at index 100 and replayed 12 log entries; last index 112, term 4.\n\
             Entries 111 to 112 were past its commit point: kept, though the old cluster may never have acknowledged them.\n\
             Next: start it alone on 10.0.0.5:4647 (-bootstrap-expect 1, no -retry-join), then have new servers join it."
        );
    }

    #[test]
    fn a_partial_snapshot_sits_next_to_the_target() {
        assert_eq!(
            partial_path(Path::new("/tmp/backup.snap")),
            Path::new("/tmp/backup.snap.partial")
        );
    }
}
