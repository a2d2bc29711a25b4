//! A whole cluster on loopback, as separate processes: three servers and
//! two client agents. Any agent answers any request (a server forwards a
//! client endpoint to the agent that runs the allocation; a client agent
//! forwards the rest to a server), and the servers list every client's
//! services. A job keeps running when a client is killed (its allocations
//! are rescheduled on the other client once the node misses its
//! heartbeats), and killing the leader does not stop the HTTP API: the
//! other servers answer reads at once and take writes after the election.

// Failover is about time: the test polls with a bounded clock.
#![allow(clippy::disallowed_methods)]

mod common;

use std::time::{Duration, Instant};

use common::http::{Api, job_json, running};
use common::{AgentWithTasks, free_port, line_starting, spawn_schedd};
use reqwest::StatusCode;
use serde_json::Value;

fn job(id: &str, count: u32) -> Value {
    let source = format!(
        r#"
job "{id}" {{
  datacenters = ["dc1"]
  group "g" {{
    count = {count}
    network {{
      port "p" {{}}
    }}
    task "t" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "echo started $NOMAD_ALLOC_ID; exec sleep 600"]
      }}
      service {{
        name     = "{id}-svc"
        port     = "p"
        provider = "nomad"
      }}
      resources {{
        cpu    = 50
        memory = 32
      }}
    }}
  }}
}}
"#
    );
    job_json(&source, "job.nomad.hcl")
}

struct Server {
    agent: common::Agent,
    rpc: String,
    api: Api,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_survives_a_client_and_a_leader() {
    let data = tempfile::tempdir().expect("dir");
    let rpc: Vec<String> = (0..3)
        .map(|_| format!("127.0.0.1:{}", free_port()))
        .collect();
    let mut servers: Vec<Option<Server>> = Vec::new();
    for (i, address) in rpc.iter().enumerate() {
        let http = free_port().to_string();
        let dir = data.path().join(format!("server-{i}"));
        let mut args = vec![
            "-server".to_owned(),
            "-data-dir".to_owned(),
            dir.display().to_string(),
            "-rpc-port".to_owned(),
            address.rsplit(':').next().unwrap().to_owned(),
            "-http-port".to_owned(),
            http.clone(),
            "-bootstrap-expect".to_owned(),
            "3".to_owned(),
        ];
        for other in rpc.iter().filter(|other| *other != address) {
            args.push("-retry-join".to_owned());
            args.push(other.clone());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (agent, lines) = spawn_schedd(&args);
        line_starting(&lines, "schedd: HTTP API on ");
        std::thread::spawn(move || while lines.recv().is_ok() {});
        servers.push(Some(Server {
            agent,
            rpc: address.clone(),
            api: Api::new(format!("http://127.0.0.1:{http}")),
        }));
    }
    let mut clients = Vec::new();
    let mut client_apis = Vec::new();
    for i in 0..2 {
        let dir = data.path().join(format!("client-{i}"));
        let http = free_port().to_string();
        let (agent, lines) = spawn_schedd(&[
            "-client",
            "-servers",
            &rpc.join(","),
            "-data-dir",
            dir.to_str().unwrap(),
            "-node",
            &format!("client-{i}"),
            "-http-port",
            &http,
        ]);
        client_apis.push(Api::new(format!("http://127.0.0.1:{http}")));
        let announced = line_starting(&lines, "schedd: client node ");
        std::thread::spawn(move || while lines.recv().is_ok() {});
        let node_id = announced["schedd: client node ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        clients.push(Some((
            AgentWithTasks {
                agent,
                data_dir: dir,
            },
            node_id,
        )));
    }
    let first = &servers[0].as_ref().unwrap().api;
    first
        .wait_for("/v1/nodes", "two ready nodes", |nodes| {
            nodes
                .as_array()
                .is_some_and(|n| n.len() == 2 && n.iter().all(|node| node["Status"] == "ready"))
        })
        .await;

    // A job of four allocations spread over both clients.
    let (status, body) = first.post("/v1/jobs", &job("steady", 4)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let allocs = first
        .wait_for("/v1/job/steady/allocations", "four running", |a| {
            running(a) == 4
        })
        .await;
    let node_of = |alloc: &Value| alloc["NodeID"].as_str().unwrap().to_owned();
    let client_nodes: Vec<String> = clients
        .iter()
        .map(|c| c.as_ref().unwrap().1.clone())
        .collect();

    // Any server lists every client's service instances.
    let services = first
        .wait_for("/v1/service/steady-svc", "four instances", |s| {
            s.as_array().is_some_and(|s| s.len() == 4)
        })
        .await;
    for service in services.as_array().unwrap() {
        assert_eq!(service["JobID"], "steady", "{service}");
        assert!(client_nodes.contains(&node_of(service)), "{service}");
        let alloc = service["AllocID"].as_str().unwrap();
        assert!(
            allocs.as_array().unwrap().iter().any(|a| a["ID"] == alloc),
            "{service}"
        );
    }

    // A server with no client of its own forwards a client endpoint to the
    // agent that runs the allocation (short ids too).
    for alloc in allocs.as_array().unwrap() {
        let id = alloc["ID"].as_str().unwrap();
        let logs = format!(
            "/v1/client/fs/logs/{}?task=t&type=stdout&plain=true",
            &id[..8]
        );
        let (status, text, _) = first.get(&logs).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        assert_eq!(text, Value::String(format!("started {id}\n")));
    }
    // A client agent answers for the cluster: its own allocations here, the
    // other client's through a server, everything else from a server.
    let on_other = allocs
        .as_array()
        .unwrap()
        .iter()
        .find(|a| node_of(a) == client_nodes[1])
        .expect("an allocation on client-1");
    let path = format!(
        "/v1/client/allocation/{}/stats",
        on_other["ID"].as_str().unwrap()
    );
    let (status, stats, _) = client_apis[0].get(&path).await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert!(stats["Tasks"]["t"].is_object(), "{stats}");
    let (status, jobs, index) = client_apis[0].get("/v1/jobs").await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    assert_eq!(jobs[0]["ID"], "steady", "{jobs}");
    assert!(index > 0, "the server's X-Nomad-Index comes through");
    let (status, agent, _) = client_apis[0].get("/v1/agent/self").await;
    assert_eq!(status, StatusCode::OK, "{agent}");
    assert_eq!(agent["config"]["Client"]["Enabled"], true, "{agent}");
    assert_eq!(agent["config"]["Region"], "global", "{agent}");
    assert_eq!(
        agent["stats"]["client"]["node_id"],
        client_nodes[0].as_str()
    );

    // Kill the client that runs the most of them (its tasks go with it:
    // the machine is gone).
    let on = |node: &str| {
        allocs
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["NodeID"] == node)
            .count()
    };
    let victim = if on(&clients[0].as_ref().unwrap().1) >= on(&clients[1].as_ref().unwrap().1) {
        0
    } else {
        1
    };
    let survivor_node = clients[1 - victim].as_ref().unwrap().1.clone();
    let victim_node = clients[victim].as_ref().unwrap().1.clone();
    drop(clients[victim].take());
    // Missed heartbeats (10 s TTL) mark the node down; the job is made
    // whole again on the survivor.
    let healed = first
        .wait_for(
            "/v1/job/steady/allocations",
            "four running on the survivor",
            |a| {
                a.as_array()
                    .unwrap()
                    .iter()
                    .filter(|x| {
                        x["ClientStatus"] == "running" && x["NodeID"] == survivor_node.as_str()
                    })
                    .count()
                    == 4
            },
        )
        .await;
    assert!(
        healed
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["NodeID"] == victim_node.as_str())
            .all(|a| a["ClientStatus"] == "lost" || a["DesiredStatus"] == "stop"),
        "{healed}"
    );
    let (_, node, _) = first.get(&format!("/v1/node/{victim_node}")).await;
    assert_eq!(node["Status"], "down");
    // The services of a down node are no longer listed: only the
    // replacements' are.
    first
        .wait_for(
            "/v1/service/steady-svc",
            "four instances on the survivor",
            |s| {
                s.as_array().is_some_and(|s| {
                    s.len() == 4 && s.iter().all(|s| s["NodeID"] == survivor_node.as_str())
                })
            },
        )
        .await;

    // Kill the leader: the others answer reads at once, writes after the
    // election.
    let (_, leader, _) = first.get("/v1/status/leader").await;
    let leader = leader.as_str().expect("leader address").to_owned();
    let index = servers
        .iter()
        .position(|s| s.as_ref().is_some_and(|s| s.rpc == leader))
        .expect("the leader is one of ours");
    let mut killed = servers[index].take().unwrap();
    let _ = killed.agent.0.kill();
    let _ = killed.agent.0.wait();
    let killed_at = Instant::now();
    let survivor = servers.iter().flatten().next().unwrap();
    let (status, jobs, _) = survivor.api.get("/v1/jobs?stale=true").await;
    assert_eq!(status, StatusCode::OK, "{jobs}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = survivor.api.post("/v1/jobs", &job("after", 1)).await;
        if status == StatusCode::OK {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no write within 20 s of the leader's death: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let failover = killed_at.elapsed();
    assert!(
        failover < Duration::from_secs(10),
        "writes resumed after {failover:?}"
    );
    survivor
        .api
        .wait_for("/v1/job/after/allocations", "the new job running", |a| {
            running(a) == 1
        })
        .await;
    let (_, new_leader, _) = survivor.api.get("/v1/status/leader").await;
    assert_ne!(new_leader.as_str(), Some(leader.as_str()));

    // The test stops what it started.
    for id in ["steady", "after"] {
        let (status, _) = survivor
            .api
            .send(
                reqwest::Method::DELETE,
                &format!("/v1/job/{id}?purge=true"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    survivor
        .api
        .wait_for("/v1/allocations", "every task stopped", |a| {
            a.as_array()
                .unwrap()
                .iter()
                .all(|x| x["ClientStatus"] != "running" || x["NodeID"] == victim_node.as_str())
        })
        .await;
}
