//! Three real `schedd -server` processes, each in a network namespace the
//! test creates, joined by a bridge: a partition never lets two leaders
//! commit, and after healing all three hold exactly the acknowledged
//! writes.
//!
//! The servers' addresses are reachable only from inside the namespaces,
//! so the test runs its clients with `ip netns exec NS curl`; an
//! unreachable route for the test subnet in the root namespace keeps
//! anything addressed to it from leaving the machine. Every process is
//! owned by a guard that kills it (by PID) when the test ends.

use std::collections::BTreeSet;
use std::process::{Child, Command as Process, Output, Stdio};
use std::time::Duration;

use scheduler_raft::clock::monotonic;
use scheduler_raft::cluster_state::ClusterDump;
use scheduler_raft::server::ServerStatus;
use scheduler_raft::{Command, CommandResponse};

mod common;
use common::raft_servers::{
    Daemon, agreed_leader, node_ids, server_args, state_json, unique, upsert_node,
};

/// Runs `ip ARGS`, failing the test with the command and its error.
fn ip(args: &[&str]) {
    let output = Process::new("ip").args(args).output().expect("run ip");
    assert!(
        output.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr).trim()
    );
}

/// Three namespaces `schedt-PID-{0,1,2}`, each with one veth whose peer is
/// on a bridge in `schedt-PID-br`, addressed 10.200.X.{1,2,3}/24; and an
/// unreachable route for 10.200.X.0/24 in the root namespace so nothing
/// addressed to the test network leaves the machine. Dropping removes all
/// of it.
struct Netns {
    members: Vec<String>,
    bridge: String,
    subnet: u8,
    route: Option<String>,
}

impl Netns {
    fn create() -> Netns {
        let pid = std::process::id();
        let mut netns = Netns {
            members: (0..3).map(|i| format!("schedt-{pid}-{i}")).collect(),
            bridge: format!("schedt-{pid}-br"),
            subnet: 0,
            route: None,
        };
        // A subnet derived from the PID, the next one if another test run
        // holds it (its unreachable route exists).
        for attempt in 0..20u32 {
            let x = u8::try_from((pid + attempt) % 200 + 20).expect("small");
            let route = format!("10.200.{x}.0/24");
            let added = Process::new("ip")
                .args(["route", "add", "unreachable", &route])
                .output()
                .expect("run ip");
            if added.status.success() {
                netns.subnet = x;
                netns.route = Some(route);
                break;
            }
        }
        assert!(netns.route.is_some(), "no free 10.200.X.0/24 subnet");
        for name in netns.members.iter().chain([&netns.bridge]) {
            // A leftover of a crashed run with the same PID.
            let _ = Process::new("ip").args(["netns", "del", name]).output();
            ip(&["netns", "add", name]);
            ip(&["-n", name, "link", "set", "lo", "up"]);
        }
        let bridge = netns.bridge.clone();
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"]);
        ip(&["-n", &bridge, "link", "set", "br0", "up"]);
        for i in 0..3 {
            let member = netns.members[i].clone();
            let peer = format!("v{i}");
            ip(&[
                "-n", &member, "link", "add", "eth0", "type", "veth", "peer", "name", &peer,
                "netns", &bridge,
            ]);
            let address = format!("{}/24", netns.address(i));
            ip(&["-n", &member, "addr", "add", &address, "dev", "eth0"]);
            ip(&["-n", &member, "link", "set", "eth0", "up"]);
            ip(&["-n", &bridge, "link", "set", &peer, "master", "br0"]);
            ip(&["-n", &bridge, "link", "set", &peer, "up"]);
        }
        netns
    }

    fn address(&self, i: usize) -> String {
        format!("10.200.{}.{}", self.subnet, i + 1)
    }

    /// Cuts (or restores) member `i`'s cable: its veth's bridge end goes
    /// down, so packets to and from it are dropped silently.
    fn set_link(&self, i: usize, up: bool) {
        let state = if up { "up" } else { "down" };
        ip(&[
            "netns",
            "exec",
            &self.bridge,
            "ip",
            "link",
            "set",
            &format!("v{i}"),
            state,
        ]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for name in self.members.iter().chain([&self.bridge]) {
            let _ = Process::new("ip").args(["netns", "del", name]).output();
        }
        if let Some(route) = &self.route {
            let _ = Process::new("ip")
                .args(["route", "del", "unreachable", route])
                .output();
        }
    }
}

const RPC_PORT: u16 = 4647;

/// `curl` inside namespace `ns`, bounded by `max_time`.
fn curl(ns: &str, max_time: Duration, args: &[&str]) -> Process {
    let mut process = Process::new("ip");
    process
        .args(["netns", "exec", ns, "curl", "-s", "--max-time"])
        .arg(format!("{:.1}", max_time.as_secs_f64()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    process
}

fn body(output: &Output) -> Option<String> {
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The partition test's view of the cluster: server `i` runs in namespace
/// `i` and is reached from there.
struct NsCluster {
    servers: Vec<Daemon>,
    netns: Netns,
    _dir: tempfile::TempDir,
}

impl NsCluster {
    fn url(&self, i: usize, path: &str) -> String {
        format!("http://{}:{RPC_PORT}{path}", self.netns.address(i))
    }

    fn get(&self, i: usize, path: &str) -> Option<String> {
        let output = curl(
            &self.netns.members[i],
            Duration::from_secs(2),
            &[&self.url(i, path)],
        )
        .output()
        .expect("run curl");
        body(&output)
    }

    fn status(&self, i: usize) -> Option<ServerStatus> {
        serde_json::from_str(&self.get(i, "/v1/internal/status")?).ok()
    }

    fn state(&self, i: usize) -> Option<ClusterDump> {
        serde_json::from_str(&self.get(i, "/v1/internal/state")?).ok()
    }

    /// Starts a write of `command` to server `target`'s `path`, from
    /// inside namespace `from`.
    fn start_write(&self, from: usize, target: usize, path: &str, command: &Command) -> Child {
        let json = serde_json::to_string(command).expect("command serialises");
        curl(
            &self.netns.members[from],
            Duration::from_secs(3),
            &[
                "-X",
                "POST",
                "-H",
                "content-type: application/json",
                "-d",
                &json,
                &self.url(target, path),
            ],
        )
        .spawn()
        .expect("run curl")
    }

    /// The acknowledgement (an `Ok` answer), or what came instead.
    fn finish_write(child: Child) -> Result<CommandResponse, String> {
        let output = child.wait_with_output().expect("curl ends");
        let Some(text) = body(&output) else {
            return Err(format!("curl failed: {}", output.status));
        };
        let answer: Result<CommandResponse, String> =
            serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        answer.map_err(|refused| format!("refused: {refused}"))
    }

    /// The leader among `among`, once another of them follows it.
    fn leader(&self, among: &[usize], within: Duration) -> usize {
        let started = monotonic();
        loop {
            let statuses: Vec<Option<ServerStatus>> = (0..3)
                .map(|i| among.contains(&i).then(|| self.status(i)).flatten())
                .collect();
            if let Some(leader) = agreed_leader(&statuses) {
                return leader;
            }
            assert!(
                started.elapsed() < within,
                "no agreed leader among {among:?} within {within:?}: {statuses:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for NsCluster {
    fn drop(&mut self) {
        // Servers first: the namespaces go when the fields drop.
        for server in &mut self.servers {
            server.kill();
        }
        if std::thread::panicking() {
            for (i, server) in self.servers.iter().enumerate() {
                eprintln!("--- server {i} log tail ---\n{}", server.log_tail(40));
            }
        }
    }
}

#[test]
fn a_partition_never_lets_two_leaders_commit() {
    let netns = Netns::create();
    let dir = tempfile::tempdir().expect("temp dir");
    let addrs: Vec<String> = (0..3)
        .map(|i| format!("{}:{RPC_PORT}", netns.address(i)))
        .collect();
    let servers = (0..3)
        .map(|i| {
            Daemon::new(
                &["ip", "netns", "exec", &netns.members[i]],
                server_args(dir.path(), i, &netns.address(i), RPC_PORT, &addrs),
                dir.path().join(format!("server-{i}.log")),
            )
        })
        .collect();
    let cluster = NsCluster {
        servers,
        netns,
        _dir: dir,
    };
    let all = [0, 1, 2];
    let old = cluster.leader(&all, Duration::from_secs(15));
    let majority: Vec<usize> = all.iter().copied().filter(|&i| i != old).collect();

    // Before the partition: acknowledged writes.
    let mut acknowledged = BTreeSet::new();
    for i in 0..5 {
        let id = format!("before-{i}");
        let write = cluster.start_write(old, old, "/v1/internal/write", &upsert_node(&id));
        NsCluster::finish_write(write).expect("write before the partition");
        acknowledged.insert(id);
    }
    let old_status = cluster.status(old).expect("old leader answers");

    // Partition the leader away.
    cluster.netns.set_link(old, false);
    let new = cluster.leader(&majority, Duration::from_secs(10));
    let new_status = cluster.status(new).expect("new leader answers");
    eprintln!(
        "partitioned leader {old} (term {}); server {new} leads the majority in term {}",
        old_status.term, new_status.term
    );
    assert!(new_status.term > old_status.term, "{new_status:?}");

    // The old leader, asked from its own side of the partition, must not
    // commit; meanwhile the majority acknowledges writes.
    let isolated: Vec<(String, Child)> = (0..2)
        .map(|i| {
            let id = format!("isolated-{i}");
            let write = cluster.start_write(old, old, "/v1/internal/apply", &upsert_node(&id));
            (id, write)
        })
        .collect();
    for i in 0..10 {
        let id = format!("majority-{i}");
        // Alternately to the new leader and through its follower.
        let target = majority[i % 2];
        let write = cluster.start_write(target, target, "/v1/internal/write", &upsert_node(&id));
        if let Err(err) = NsCluster::finish_write(write) {
            panic!("majority write {id} via server {target}: {err}");
        }
        acknowledged.insert(id);
    }
    let mut unacknowledged = BTreeSet::new();
    for (id, write) in isolated {
        match NsCluster::finish_write(write) {
            Ok(answer) => panic!("the isolated old leader acknowledged {id}: {answer:?}"),
            Err(why) => eprintln!("write {id} to the isolated old leader: {why}"),
        }
        unacknowledged.insert(id);
    }
    let old_after = cluster.status(old).expect("old leader answers");
    assert_eq!(
        old_after.applied_index, old_status.applied_index,
        "the isolated server applied entries: {old_after:?}"
    );
    let new_after = cluster.status(new).expect("new leader answers");
    assert!(new_after.applied_index > old_status.applied_index + 10);

    // Heal: all three converge on exactly the acknowledged writes.
    cluster.netns.set_link(old, true);
    let started = monotonic();
    let dumps = loop {
        let dumps: Vec<Option<ClusterDump>> = all.iter().map(|&i| cluster.state(i)).collect();
        let ready = dumps.iter().all(|d| {
            d.as_ref()
                .is_some_and(|d| d.state.index >= new_after.applied_index)
        }) && dumps
            .windows(2)
            .all(|w| w[0].as_ref().map(state_json) == w[1].as_ref().map(state_json));
        if ready {
            break dumps.into_iter().flatten().collect::<Vec<_>>();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no convergence after healing: {:?}",
            dumps
                .iter()
                .map(|d| d.as_ref().map(|d| d.state.index))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    for dump in &dumps {
        let nodes = unique("node", node_ids(dump));
        assert_eq!(nodes, acknowledged, "state after healing");
        assert!(nodes.is_disjoint(&unacknowledged));
    }
    let healed = cluster.status(old).expect("old leader answers");
    assert!(
        !healed.is_leader || healed.term > old_status.term,
        "{healed:?}"
    );
    drop(cluster);
}
