//! What the agent tests share: `schedd` as a child process, free ports,
//! and reading its announcements.
#![allow(dead_code)]

pub mod http;
pub mod raft_servers;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The agent process, killed if the test fails before it stops it.
pub struct Agent(pub Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An agent whose tasks the test ends too: when dropped (a failed test
/// included), every process working inside `data_dir` (the tasks the agent
/// started for the test; they outlive their agent by design) is killed.
pub struct AgentWithTasks {
    /// The agent.
    pub agent: Agent,
    /// Its data directory.
    pub data_dir: std::path::PathBuf,
}

impl Drop for AgentWithTasks {
    fn drop(&mut self) {
        let _ = self.agent.0.kill();
        let _ = self.agent.0.wait();
        kill_processes_under(&self.data_dir);
    }
}

/// SIGKILLs every process whose working directory is under `dir`.
pub fn kill_processes_under(dir: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(cwd) = std::fs::read_link(entry.path().join("cwd")) else {
            continue;
        };
        if cwd.starts_with(dir) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

/// A port free on loopback right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `n` ports free on loopback right now, all different (each is held
/// until all are found).
pub fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").port())
        .collect()
}

/// Starts `schedd ARGS` and returns it with its stderr lines.
pub fn spawn_schedd(args: &[&str]) -> (Agent, std::sync::mpsc::Receiver<String>) {
    let executor = scheduler_drivers::executor::locate()
        .expect("sched-executor beside the test binaries (cargo builds it with the workspace)");
    let mut child = Command::new(env!("CARGO_BIN_EXE_schedd"))
        .args(args)
        .env("SCHED_EXECUTOR", &executor)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("schedd");
    let stderr = child.stderr.take().expect("stderr");
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    (Agent(child), lines)
}

/// The first line starting with `prefix` (bounded: 300 lines, 30 s each).
pub fn line_starting(lines: &std::sync::mpsc::Receiver<String>, prefix: &str) -> String {
    for _ in 0..300 {
        let line = lines
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("no line starting {prefix:?} within 30 s"));
        if line.starts_with(prefix) {
            return line;
        }
    }
    panic!("no line starting {prefix:?} in 300 lines");
}

/// A `schedd -dev` agent started by [`dev_agent`].
pub struct DevAgent {
    /// The process (its tasks end with it).
    pub agent: AgentWithTasks,
    /// Its HTTP API, `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its client's node id.
    pub node_id: String,
    /// Its DNS server's address, `127.0.0.1:PORT`.
    pub dns: String,
}

/// A `schedd -dev` agent on free ports (RPC, HTTP, DNS) in `data_dir`,
/// once it announced its client, HTTP API and DNS server.
pub fn dev_agent(data_dir: &std::path::Path) -> DevAgent {
    let rpc = free_port().to_string();
    let (agent, lines) = spawn_schedd(&[
        "-dev",
        "-rpc-port",
        &rpc,
        "-http-port",
        "0",
        "-dns-port",
        "0",
        "-data-dir",
        data_dir.to_str().unwrap(),
    ]);
    let node = line_starting(&lines, "schedd: client node ");
    let node_id = node["schedd: client node ".len()..]
        .split_whitespace()
        .next()
        .expect("node id")
        .to_owned();
    let dns = line_starting(&lines, "schedd: DNS on ");
    let dns = dns["schedd: DNS on ".len()..]
        .split_whitespace()
        .next()
        .expect("DNS address")
        .to_owned();
    let http = line_starting(&lines, "schedd: HTTP API on ");
    let url = http["schedd: HTTP API on ".len()..].trim().to_owned();
    // Keep draining stderr so the agent never blocks on a full pipe.
    std::thread::spawn(move || while lines.recv().is_ok() {});
    DevAgent {
        agent: AgentWithTasks {
            agent,
            data_dir: data_dir.to_path_buf(),
        },
        url,
        node_id,
        dns,
    }
}
