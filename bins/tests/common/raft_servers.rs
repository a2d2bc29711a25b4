//! The Raft process tests' shared parts (`raft_cluster.rs`,
//! `raft_partition.rs`): `schedd -server` as a child process, its
//! arguments, and checks on the servers' states.

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};

use scheduler_core::model::{Node, NodeId, NodeStatus};
use scheduler_raft::Command;
use scheduler_raft::cluster_state::ClusterDump;
use scheduler_raft::server::ServerStatus;

/// A `schedd` process (possibly started through a wrapper such as
/// `ip netns exec NS`), killed with SIGKILL when dropped.
pub struct Daemon {
    /// The wrapper and its arguments, then schedd's arguments.
    command: Vec<String>,
    /// Where its stderr goes (appended to across restarts).
    log: PathBuf,
    child: Option<Child>,
}

impl Daemon {
    pub fn new(wrapper: &[&str], args: Vec<String>, log: PathBuf) -> Daemon {
        let mut command: Vec<String> = wrapper.iter().map(|s| s.to_string()).collect();
        command.push(env!("CARGO_BIN_EXE_schedd").to_owned());
        command.extend(args);
        let mut daemon = Daemon {
            command,
            log,
            child: None,
        };
        daemon.spawn();
        daemon
    }

    pub fn spawn(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let child = Process::new(&self.command[0])
            .args(&self.command[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start schedd");
        self.child = Some(child);
    }

    /// SIGKILL (`ip netns exec` execs the program, so the PID is schedd's)
    /// and reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn log_tail(&self, lines: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let all: Vec<&str> = text.lines().collect();
        all[all.len().saturating_sub(lines)..].join("\n")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The arguments of server `i` of three: bootstrap together, each naming
/// the other two.
pub fn server_args(dir: &Path, i: usize, bind: &str, port: u16, addrs: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-server",
        "-data-dir",
        &dir.join(format!("server-{i}")).display().to_string(),
        "-bind",
        bind,
        "-rpc-port",
        &port.to_string(),
        // Any free port: three servers share the machine.
        "-http-port",
        "0",
        "-bootstrap-expect",
        "3",
        "-log-level",
        "info",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for (j, addr) in addrs.iter().enumerate() {
        if j != i {
            args.extend(["-retry-join".to_owned(), addr.clone()]);
        }
    }
    args
}

pub fn node(id: &str) -> Node {
    Node {
        id: NodeId::new(id),
        name: id.to_owned(),
        status: NodeStatus::Ready,
        ..Node::default()
    }
}

pub fn upsert_node(id: &str) -> Command {
    Command::UpsertNodes {
        nodes: vec![node(id)],
    }
}

pub fn node_ids(dump: &ClusterDump) -> Vec<String> {
    dump.state
        .nodes
        .iter()
        .map(|n| n.id.as_str().to_owned())
        .collect()
}

/// The ids as a set, after checking none appears twice.
pub fn unique(what: &str, ids: Vec<String>) -> BTreeSet<String> {
    let set: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(set.len(), ids.len(), "a {what} appears twice: {ids:?}");
    set
}

pub fn state_json(dump: &ClusterDump) -> serde_json::Value {
    serde_json::to_value(&dump.state).expect("state serialises")
}

/// The position of a server that believes it leads and that at least one
/// other server follows (so two of three agree).
pub fn agreed_leader(statuses: &[Option<ServerStatus>]) -> Option<usize> {
    statuses.iter().enumerate().find_map(|(i, status)| {
        let status = status.as_ref()?;
        let followed = statuses
            .iter()
            .enumerate()
            .any(|(j, other)| j != i && other.as_ref().and_then(|o| o.leader) == Some(status.id));
        (status.is_leader && followed).then_some(i)
    })
}
