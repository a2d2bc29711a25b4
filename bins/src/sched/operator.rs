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
    fn a_partial_snapshot_sits_next_to_the_target() {
        assert_eq!(
            partial_path(Path::new("/tmp/backup.snap")),
            Path::new("/tmp/backup.snap.partial")
        );
    }
}
