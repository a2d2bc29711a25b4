//! Lost quorum, recovered with the CLI, on real processes: three
//! `schedd -server` processes take writes, all three are killed (-9), and
//! `sched operator raft recover` turns one survivor's data directory into
//! a one-server cluster that starts alone with every write and commits
//! new ones.

use std::path::Path;
use std::process::{Command as Process, Stdio};
use std::time::Duration;

use scheduler_core::model::{Node, NodeId, NodeStatus};
use scheduler_raft::Command;
use scheduler_raft::client::RemoteClient;
use scheduler_raft::clock::monotonic;

mod common;
use common::Agent;

fn schedd(args: &[String], log: &Path) -> Agent {
    let log = std::fs::File::create(log).expect("log file");
    Agent(
        Process::new(env!("CARGO_BIN_EXE_schedd"))
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start schedd"),
    )
}

fn args(data_dir: &Path, port: u16, expect: usize, join: &[String]) -> Vec<String> {
    let mut args: Vec<String> = [
        "-server",
        "-data-dir",
        &data_dir.display().to_string(),
        "-bind",
        "127.0.0.1",
        "-rpc-port",
        &port.to_string(),
        "-http-port",
        "0",
        "-bootstrap-expect",
        &expect.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for addr in join {
        args.extend(["-retry-join".to_owned(), addr.clone()]);
    }
    args
}

fn upsert_node(id: &str) -> Command {
    Command::UpsertNodes {
        nodes: vec![Node {
            id: NodeId::new(id),
            name: id.to_owned(),
            status: NodeStatus::Ready,
            ..Node::default()
        }],
    }
}

/// Waits until the server at `addr` leads; panics with its log otherwise.
async fn until_leader(client: &RemoteClient, addr: &str, log: &Path) {
    let started = monotonic();
    loop {
        if client.status(addr).await.is_ok_and(|s| s.is_leader) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{addr} did not lead within 15 s; its log:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_survivor_recovered_with_the_cli_starts_alone_with_every_write() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("dir");
        let ports = common::free_ports(3);
        let addrs: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let data = |i: usize| dir.path().join(format!("server-{i}"));
        let log = |i: usize, run: &str| dir.path().join(format!("server-{i}-{run}.log"));
        let mut servers: Vec<Agent> = (0..3)
            .map(|i| {
                let others: Vec<String> = (0..3)
                    .filter(|j| *j != i)
                    .map(|j| addrs[j].clone())
                    .collect();
                schedd(&args(&data(i), ports[i], 3, &others), &log(i, "first"))
            })
            .collect();

        let client = RemoteClient::new(addrs.clone());
        let mut last = 0;
        for i in 0..20 {
            last = client
                .write(
                    &upsert_node(&format!("node-{i:02}")),
                    Duration::from_secs(20),
                )
                .await
                .expect("write")
                .index;
        }
        // The survivor: server 1, once it has every acknowledged write.
        let survivor = 1;
        let started = monotonic();
        while client
            .local_state(&addrs[survivor])
            .await
            .map_or(true, |dump| dump.state.index < last)
        {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the survivor lags"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        // The quorum is lost for good: every server dies.
        for server in &mut servers {
            let _ = server.0.kill();
            let _ = server.0.wait();
        }

        // A bad address is refused before anything is touched.
        let refused = Process::new(env!("CARGO_BIN_EXE_sched"))
            .args(["operator", "raft", "recover", "-data-dir"])
            .arg(data(survivor))
            .args(["-address", "127.0.0.1"])
            .output()
            .expect("run sched");
        assert!(!refused.status.success());
        assert!(
            String::from_utf8_lossy(&refused.stderr).contains("HOST:PORT"),
            "{refused:?}"
        );

        let recovered = Process::new(env!("CARGO_BIN_EXE_sched"))
            .args(["operator", "raft", "recover", "-data-dir"])
            .arg(data(survivor))
            .args(["-address", &addrs[survivor]])
            .output()
            .expect("run sched");
        let stdout = String::from_utf8_lossy(&recovered.stdout);
        assert!(recovered.status.success(), "{recovered:?}");
        assert!(
            stdout.contains(&format!("is now the only voter, at {}", addrs[survivor])),
            "{stdout}"
        );

        // Started alone on its address: it leads, holds every write, has
        // itself as the only peer, and commits new writes.
        let _alone = schedd(
            &args(&data(survivor), ports[survivor], 1, &[]),
            &log(survivor, "recovered"),
        );
        let alone_client = RemoteClient::new(vec![addrs[survivor].clone()]);
        until_leader(&alone_client, &addrs[survivor], &log(survivor, "recovered")).await;
        let peers = alone_client.peers(&addrs[survivor]).await.expect("peers");
        assert_eq!(peers.len(), 1, "{peers:?}");
        let written = alone_client
            .write(&upsert_node("after-recovery"), Duration::from_secs(10))
            .await
            .expect("a new write commits");
        assert!(written.index > last);
        let state = alone_client
            .local_state(&addrs[survivor])
            .await
            .expect("state");
        let mut names: Vec<String> = state
            .state
            .nodes
            .iter()
            .map(|node| node.id.as_str().to_owned())
            .collect();
        names.sort();
        let mut expected: Vec<String> = (0..20).map(|i| format!("node-{i:02}")).collect();
        expected.push("after-recovery".to_owned());
        expected.sort();
        assert_eq!(names, expected);
    });
}
