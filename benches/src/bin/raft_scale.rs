//! Scale runs of the replicated store, on a three-server cluster over
//! loopback (real redb files, fsync'd commits, HTTP between servers):
//!
//! - `writes`: durable commits per second and commit latency (p50, p99)
//!   with N concurrent clients, each waiting for its write to commit before
//!   sending the next. With `--etcd ENDPOINTS` the same load runs against
//!   an etcd cluster (`scripts/raft-vs-etcd` starts one from Debian's
//!   `etcd-server` on loopback ports) through etcd's JSON gateway, so both
//!   sides pay for HTTP and JSON.
//! - `c1m`: Nomad's C1M through the cluster: nodes registered, jobs
//!   registered with their evaluations, the leader's workers scheduling and
//!   its plan applier committing every placement through Raft.
//!
//! Timing is this binary's business (a bench), not the library's.
#![allow(clippy::disallowed_methods)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use benches::cluster::{ServiceJob, nodes};
use clap::{Args, Parser, Subcommand};
use scheduler_core::model::{EvalId, Evaluation, Namespace};
use scheduler_core::state::StateSnapshot;
use scheduler_raft::client::RemoteClient;
use scheduler_raft::control::{ControlConfig, ControlPlane};
use scheduler_raft::server::{RaftTuning, ServerConfig};
use scheduler_raft::{Command, Server};
use serde_json::json;

/// The allocator `schedd` uses (mimalloc; why: bins/src/schedd/main.rs),
/// so that these figures are the agent's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(about = "Scale runs of the Raft store (release build advised)")]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "OUT", global = true)]
    json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// Durable writes per second and latency, ours and (optionally) etcd's.
    Writes(WritesArgs),
    /// Nomad's C1M placed through the three-server cluster.
    C1m(C1mArgs),
}

#[derive(Debug, Args)]
struct WritesArgs {
    /// Concurrent clients.
    #[arg(long, default_value_t = 32)]
    clients: usize,
    /// Seconds of measured load (after one second of warm-up).
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Bytes of payload per write.
    #[arg(long, default_value_t = 256)]
    payload: usize,
    /// etcd client URLs, comma-separated, to run the same load against.
    #[arg(long)]
    etcd: Option<String>,
    /// Entries of client writes the leader keeps in flight
    /// (`RaftTuning::proposals_in_flight`).
    #[arg(long, default_value_t = RaftTuning::default().proposals_in_flight)]
    proposals_in_flight: usize,
    /// Rounds, ours then etcd's in each (a fresh cluster of ours per
    /// round): runs on a shared VM vary by a quarter from one to the
    /// next, so the ratio of each round and their median say more than
    /// one pair.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
}

#[derive(Debug, Args)]
struct C1mArgs {
    /// Jobs.
    #[arg(long, default_value_t = 1_000)]
    jobs: usize,
    /// Allocations per job.
    #[arg(long, default_value_t = 1_000)]
    tasks: u32,
    /// Nodes.
    #[arg(long, default_value_t = 5_000)]
    nodes: usize,
    /// Scheduler workers on the leader.
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// How many of the workers may run the scheduler at once (the control
    /// plane's `parallel_schedules`).
    #[arg(long, default_value_t = ControlConfig::default().parallel_schedules)]
    parallel_schedules: usize,
}

fn main() {
    let cli = Cli::parse();
    // Warnings of the servers (refused plans, failed evaluations) go to
    // stderr; RUST_LOG overrides.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,openraft=error")),
        )
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let value = runtime.block_on(async {
        match cli.workload {
            Workload::Writes(args) => writes(args).await,
            Workload::C1m(args) => c1m(args).await,
        }
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    if let Some(path) = cli.json {
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        if let Err(err) = std::fs::write(&path, text) {
            eprintln!("raft_scale: cannot write {}: {err}", path.display());
            std::process::exit(1);
        }
    }
}

/// Three servers in this process, bootstrapped, with a leader.
async fn start_cluster(dirs: &[tempfile::TempDir], tuning: RaftTuning) -> Vec<Arc<Server>> {
    let mut servers = Vec::new();
    for dir in dirs {
        let config = ServerConfig {
            data_dir: dir.path().to_owned(),
            bind: "127.0.0.1:0".parse().expect("address"),
            tuning: tuning.clone(),
        };
        servers.push(Arc::new(
            Server::start(config).await.expect("server starts"),
        ));
    }
    let members: BTreeMap<u64, String> = servers
        .iter()
        .map(|s| (s.id(), s.addr().to_string()))
        .collect();
    for server in &servers {
        server.bootstrap(members.clone()).await.expect("bootstrap");
    }
    for _ in 0..500 {
        if servers.iter().any(|s| s.status().is_leader) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    servers
}

fn leader_of(servers: &[Arc<Server>]) -> usize {
    servers
        .iter()
        .position(|s| s.status().is_leader)
        .expect("a leader")
}

/// Latencies in microseconds, sorted: the figures of one side.
fn summarize(
    system: &str,
    mut latencies: Vec<u64>,
    seconds: f64,
    errors: usize,
) -> serde_json::Value {
    latencies.sort_unstable();
    let at = |q: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let position = ((latencies.len() as f64 - 1.0) * q).round() as usize;
        latencies[position] as f64 / 1000.0
    };
    let count = latencies.len();
    let value = json!({
        "system": system,
        "writes": count,
        "errors": errors,
        "writes_per_second": count as f64 / seconds,
        "latency_ms_p50": at(0.50),
        "latency_ms_p99": at(0.99),
        "latency_ms_max": at(1.0),
    });
    eprintln!(
        "{system}: {count} writes in {seconds:.1} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {errors} errors",
        count as f64 / seconds,
        at(0.50),
        at(0.99)
    );
    value
}

/// Runs `clients` loops of `write` for `seconds` after a one-second
/// warm-up; returns the measured latencies (µs) and the error count.
async fn load<F, Fut>(clients: usize, seconds: u64, write: F) -> (Vec<u64>, usize)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let write = Arc::new(write);
    let warm_up_end = Instant::now() + Duration::from_secs(1);
    let end = warm_up_end + Duration::from_secs(seconds);
    let mut tasks = Vec::new();
    for client in 0..clients {
        let write = write.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0;
            let mut sequence = 0u64;
            while Instant::now() < end {
                sequence += 1;
                let started = Instant::now();
                let ok = write(client, sequence).await;
                let finished = Instant::now();
                if started >= warm_up_end {
                    if ok {
                        latencies.push(
                            u64::try_from(finished.duration_since(started).as_micros())
                                .unwrap_or(u64::MAX),
                        );
                    } else {
                        errors += 1;
                    }
                }
            }
            (latencies, errors)
        }));
    }
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        if let Ok((latencies, failed)) = task.await {
            all.extend(latencies);
            errors += failed;
        }
    }
    (all, errors)
}

async fn writes(args: WritesArgs) -> serde_json::Value {
    let payload = "x".repeat(args.payload);
    let etcd_endpoints: Option<Vec<String>> = args
        .etcd
        .as_ref()
        .map(|endpoints| endpoints.split(',').map(str::to_owned).collect());
    let mut rounds = Vec::new();
    let mut ratios = Vec::new();
    for round in 1..=args.rounds {
        if args.rounds > 1 {
            eprintln!("round {round} of {}", args.rounds);
        }
        let ours = writes_of_ours(&args, &payload).await;
        let mut results = vec![ours];
        if let Some(endpoints) = &etcd_endpoints {
            let etcd = writes_of_etcd(&args, endpoints, &payload).await;
            let ratio = results[0]["writes_per_second"].as_f64().unwrap_or(0.0)
                / etcd["writes_per_second"].as_f64().unwrap_or(0.0).max(1e-9);
            eprintln!("ratio: {ratio:.2}x etcd's writes per second");
            ratios.push(ratio);
            results.push(etcd);
        }
        rounds.push(json!({ "round": round, "results": results }));
    }
    ratios.sort_by(f64::total_cmp);
    let median_ratio = match ratios.len() {
        0 => None,
        n if n % 2 == 1 => Some(ratios[n / 2]),
        n => Some((ratios[n / 2 - 1] + ratios[n / 2]) / 2.0),
    };
    if let (Some(median), true) = (median_ratio, ratios.len() > 1) {
        eprintln!(
            "ratios over {} rounds: {} (median {median:.2}x)",
            ratios.len(),
            ratios
                .iter()
                .map(|ratio| format!("{ratio:.2}x"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut value = json!({
        "workload": "writes",
        "clients": args.clients,
        "proposals_in_flight": args.proposals_in_flight,
        "seconds": args.seconds,
        "payload_bytes": args.payload,
        "median_ratio_to_etcd": median_ratio,
    });
    // One round keeps the layout of earlier result files.
    if rounds.len() == 1 {
        value["results"] = rounds.remove(0)["results"].take();
    } else {
        value["rounds"] = json!(rounds);
    }
    value
}

/// One measured run against a fresh three-server cluster of ours.
async fn writes_of_ours(args: &WritesArgs, payload: &str) -> serde_json::Value {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let tuning = RaftTuning {
        proposals_in_flight: args.proposals_in_flight,
        ..RaftTuning::default()
    };
    let servers = start_cluster(&dirs, tuning).await;
    let leader = servers[leader_of(&servers)].addr().to_string();
    let client = Arc::new(RemoteClient::new(vec![leader]));
    let payload = payload.to_owned();
    let ours = load(args.clients, args.seconds, move |c, n| {
        let client = client.clone();
        // An evaluation carrying the payload in its description: a
        // small object of the size asked, as the broker writes often.
        let eval = Evaluation {
            id: EvalId::new(format!("bench-{c}-{n}")),
            namespace: Namespace::new("default"),
            status_description: payload.clone(),
            ..Evaluation::default()
        };
        async move {
            client
                .write(
                    &Command::UpsertEvals { evals: vec![eval] },
                    Duration::from_secs(10),
                )
                .await
                .is_ok()
        }
    })
    .await;
    for server in servers {
        if let Ok(server) = Arc::try_unwrap(server) {
            server.shutdown().await;
        }
    }
    summarize("scheduler-raft", ours.0, args.seconds as f64, ours.1)
}

/// One measured run against the etcd cluster at `endpoints`.
async fn writes_of_etcd(
    args: &WritesArgs,
    endpoints: &[String],
    payload: &str,
) -> serde_json::Value {
    let http = reqwest::Client::new();
    let leader = etcd_leader(&http, endpoints).await;
    let value = base64::engine::general_purpose::STANDARD.encode(payload);
    let etcd = load(args.clients, args.seconds, move |c, n| {
        let http = http.clone();
        let url = format!("{leader}/v3/kv/put");
        let key = base64::engine::general_purpose::STANDARD.encode(format!("bench/{c}/{n}"));
        let body = json!({ "key": key, "value": value });
        async move {
            match http.post(url).json(&body).send().await {
                Ok(response) => response.status().is_success(),
                Err(_) => false,
            }
        }
    })
    .await;
    summarize("etcd", etcd.0, args.seconds as f64, etcd.1)
}

/// The client URL of etcd's leader (writes sent there skip a forward).
async fn etcd_leader(http: &reqwest::Client, endpoints: &[String]) -> String {
    for endpoint in endpoints {
        let status = http
            .post(format!("{endpoint}/v3/maintenance/status"))
            .json(&json!({}))
            .send()
            .await;
        let Ok(status) = status else { continue };
        let Ok(body) = status.json::<serde_json::Value>().await else {
            continue;
        };
        let leader = body["leader"].as_str().unwrap_or_default();
        let member = body["header"]["member_id"].as_str().unwrap_or_default();
        if !leader.is_empty() && leader == member {
            return endpoint.clone();
        }
    }
    endpoints.first().cloned().unwrap_or_default()
}

async fn c1m(args: C1mArgs) -> serde_json::Value {
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
    let servers = start_cluster(&dirs, RaftTuning::default()).await;
    let config = ControlConfig {
        workers: args.workers,
        parallel_schedules: args.parallel_schedules,
        // Nodes are registered once and never heartbeat in this run.
        heartbeat_ttl: Duration::from_secs(24 * 3600),
        failover_heartbeat_ttl: Duration::from_secs(24 * 3600),
        ..ControlConfig::default()
    };
    let planes: Vec<ControlPlane> = servers
        .iter()
        .map(|server| ControlPlane::start(server.clone(), config.clone()))
        .collect();
    let leader = loop {
        if let Some(position) = planes.iter().position(ControlPlane::is_leading) {
            break position;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let server = servers[leader].clone();
    let started = Instant::now();
    for chunk in nodes(args.nodes).chunks(500) {
        server
            .write(Command::UpsertNodes {
                nodes: chunk.to_vec(),
            })
            .await
            .expect("nodes registered");
    }
    let nodes_registered = started.elapsed();
    eprintln!(
        "raft_scale: {} nodes registered in {:.1} s",
        args.nodes,
        nodes_registered.as_secs_f64()
    );
    let jobs: Vec<_> = (0..args.jobs)
        .map(|i| {
            // The scale harness's C1M shape: 10 MHz / 16 MiB tasks, each
            // job on one of two operating systems (half the nodes).
            let os = if i % 2 == 0 { "ubuntu" } else { "debian" };
            ServiceJob::new(&format!("job-{i:05}"), args.tasks, 10, 16)
                .constraint("${attr.os.name}", os)
                .build()
        })
        .collect();
    let placing = Instant::now();
    let planes = Arc::new(planes);
    let mut registrations = Vec::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let planes = planes.clone();
        registrations.push(tokio::spawn(async move {
            planes[i % planes.len()]
                .register_job(job, None)
                .await
                .is_ok()
        }));
    }
    let mut registered = 0;
    for registration in registrations {
        if registration.await.unwrap_or(false) {
            registered += 1;
        }
    }
    let registered_after = placing.elapsed();
    eprintln!(
        "raft_scale: {registered} jobs registered in {:.1} s",
        registered_after.as_secs_f64()
    );
    let expected = args.jobs * args.tasks as usize;
    let mut placed = 0;
    let deadline = Instant::now() + Duration::from_secs(3600);
    while Instant::now() < deadline {
        let pending = planes[leader]
            .broker_stats()
            .map_or(0, |s| s.total_ready + s.total_unacked);
        // Counting walks every allocation (a million by the end) and holds
        // a snapshot the state machine then copies around: a measurable
        // share of the run if done every tick. Until the broker is idle
        // the placements are not all applied, so only count then.
        if pending == 0 {
            let snapshot = server.read_stale();
            placed = snapshot.allocs().filter(|a| !a.is_terminal()).count();
            if placed >= expected || (placed > 0 && snapshot_is_settled(&snapshot)) {
                break;
            }
        }
        if std::env::var_os("RAFT_SCALE_DEBUG").is_some()
            && placing.elapsed().as_millis() % 5000 < 250
        {
            let stats = planes[leader].broker_stats().ok();
            let pending_evals = server
                .read_stale()
                .evals()
                .filter(|e| matches!(e.status, scheduler_core::model::EvalStatus::Pending))
                .count();
            eprintln!(
                "{:>6.1} s: pending evals {pending_evals}, broker {stats:?}, applied {}",
                placing.elapsed().as_secs_f64(),
                server.status().applied_index
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let wall = placing.elapsed();
    if std::env::var_os("RAFT_SCALE_DEBUG").is_some() {
        let snapshot = server.read_stale();
        let mut by_status = BTreeMap::new();
        for e in snapshot.evals() {
            *by_status.entry(format!("{:?}", e.status)).or_insert(0) += 1;
        }
        eprintln!("evals by status: {by_status:?}");
        for job in snapshot.jobs() {
            let live = snapshot
                .allocs_by_job(&job.namespace, &job.id)
                .filter(|a| !a.is_terminal())
                .count();
            let all = snapshot.allocs_by_job(&job.namespace, &job.id).count();
            if live < args.tasks as usize {
                eprintln!("job {} live {live} all {all}", job.id);
                for e in snapshot.evals().filter(|e| e.job_id == job.id) {
                    eprintln!(
                        "  eval {} {:?} {:?} {} queued={:?} failed={:?}",
                        e.id,
                        e.status,
                        e.triggered_by,
                        e.status_description,
                        e.queued_allocations,
                        e.failed_tg_allocs.keys().collect::<Vec<_>>()
                    );
                }
            }
        }
    }
    let entries = server.status().applied_index;
    let value = json!({
        "workload": "c1m-raft",
        "servers": 3,
        "workers": args.workers,
        "parallel_schedules": args.parallel_schedules,
        "jobs": args.jobs,
        "tasks_per_job": args.tasks,
        "nodes": args.nodes,
        "jobs_registered": registered,
        "allocations_placed": placed,
        "node_registration_seconds": nodes_registered.as_secs_f64(),
        "placement_seconds": wall.as_secs_f64(),
        "placements_per_second": placed as f64 / wall.as_secs_f64(),
        "raft_entries": entries,
    });
    eprintln!(
        "c1m through raft: {placed}/{expected} placed in {:.1} s ({:.0}/s), {entries} log entries",
        wall.as_secs_f64(),
        placed as f64 / wall.as_secs_f64()
    );
    value
}

/// Every evaluation stored is terminal or blocked: nothing left to do.
fn snapshot_is_settled(snapshot: &scheduler_core::state::MemorySnapshot) -> bool {
    snapshot
        .evals()
        .all(|e| !matches!(e.status, scheduler_core::model::EvalStatus::Pending))
}
