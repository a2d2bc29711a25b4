//! The scale harness: whole workloads through the scheduler as a server
//! would run them, every evaluation's plan through the plan check into the
//! in-memory state.
//!
//! ```text
//! cargo run --release -p benches --bin scale -- c1m [--json OUT]
//! cargo run --release -p benches --bin scale -- c1m --jobs 100 --tasks 1000 --nodes 5000
//! ```
//!
//! Workloads:
//! - `c1m`: 5,000 nodes; 1,000 jobs of 1,000 tasks; each job constrained to
//!   one of two operating systems (about half of the nodes), as Nomad's C1M.
//! - `sweep`: the c1m shape at 1k, 5k, 10k and 50k nodes (100k with
//!   `--max-nodes 100000`), 10 jobs of 1,000 tasks each (`--jobs`,
//!   `--tasks`), to show how the cost per placement grows with cluster
//!   size; `--json` writes a list, one object per size.
//!
//! Prints a short summary (progress on stderr) and, with `--json OUT`,
//! writes `workload`, `nodes`, `placements`, `wall_seconds`,
//! `placements_per_second`, `eval_p50_ms`, `eval_p99_ms`, `eval_p999_ms`,
//! `peak_rss_bytes` and `bytes_per_allocation`.

// The harness measures wall time: the one place outside the IO crates that
// reads a clock.
#![allow(clippy::disallowed_methods)]

use std::time::{Duration, Instant};

use benches::cluster::{ServiceJob, env, evaluation, nodes};
use clap::{Parser, ValueEnum};
use scheduler_core::plan::{apply_plan, check_plan};
use scheduler_core::scheduler::schedule;
use scheduler_core::state::{MemoryState, StateSnapshot};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Workload {
    /// 1,000 jobs x 1,000 tasks on 5,000 nodes.
    C1m,
    /// The c1m shape at growing cluster sizes.
    Sweep,
}

#[derive(Debug, Parser)]
#[command(about = "Scale runs of the scheduler (release build advised)")]
struct Args {
    /// Which workload.
    workload: Workload,
    /// Jobs (c1m: 1,000).
    #[arg(long)]
    jobs: Option<usize>,
    /// Tasks per job (c1m: 1,000).
    #[arg(long)]
    tasks: Option<u32>,
    /// Nodes (c1m: 5,000).
    #[arg(long)]
    nodes: Option<usize>,
    /// Largest cluster of a sweep.
    #[arg(long, default_value_t = 50_000)]
    max_nodes: usize,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "OUT")]
    json: Option<std::path::PathBuf>,
}

/// What one run measured.
#[derive(Debug)]
struct Figures {
    workload: &'static str,
    nodes: usize,
    placements: usize,
    failed: usize,
    wall: Duration,
    evals: Vec<Duration>,
    peak_rss: u64,
    rss_before: u64,
    rss_after: u64,
}

fn main() {
    let args = Args::parse();
    let runs: Vec<Figures> = match args.workload {
        Workload::C1m => vec![c1m(
            args.jobs.unwrap_or(1_000),
            args.tasks.unwrap_or(1_000),
            args.nodes.unwrap_or(5_000),
        )],
        Workload::Sweep => [1_000, 5_000, 10_000, 50_000, 100_000]
            .into_iter()
            .filter(|n| *n <= args.max_nodes)
            .map(|n| {
                let mut f = c1m(args.jobs.unwrap_or(10), args.tasks.unwrap_or(1_000), n);
                f.workload = "sweep";
                f
            })
            .collect(),
    };
    let values: Vec<serde_json::Value> = runs.iter().map(report).collect();
    if let Some(path) = &args.json {
        let value = match args.workload {
            Workload::C1m => values.into_iter().next().unwrap_or_default(),
            Workload::Sweep => serde_json::Value::Array(values),
        };
        let text = serde_json::to_string_pretty(&value).expect("figures serialise");
        if let Err(e) = std::fs::write(path, text + "\n") {
            eprintln!("error: cannot write {}: {e}", path.display());
            std::process::exit(1);
        }
    }
}

/// Nomad's C1M shape: every job alternates between the two operating
/// systems of the cluster, so each matches about half of the nodes. Tasks
/// are small (10 MHz, 16 MiB) so a million fit.
fn c1m(jobs: usize, tasks: u32, node_count: usize) -> Figures {
    let mut state = MemoryState::new();
    state
        .upsert_nodes(1, nodes(node_count))
        .expect("nodes register");
    let rss_before = rss_bytes("VmRSS");
    let mut evals = Vec::with_capacity(jobs);
    let mut placements = 0;
    let mut failed = 0;
    let started = Instant::now();
    let step = (jobs / 20).max(1);
    for j in 0..jobs {
        let os = if j % 2 == 0 { "ubuntu" } else { "debian" };
        let job = ServiceJob::new(&format!("c1m-{j:05}"), tasks, 10, 16)
            .constraint("${attr.os.name}", os)
            .build();
        let index = state.index() + 1;
        state.upsert_job(index, job.clone()).expect("job registers");
        let stored = state
            .view()
            .job(&job.namespace, &job.id)
            .cloned()
            .expect("stored");
        let eval = evaluation(&stored, j as u64 + 1);
        let t = Instant::now();
        let result = schedule(state.view(), &eval, &env());
        let accepted = check_plan(state.view(), &result.plan);
        let index = state.index() + 1;
        apply_plan(&mut state, index, &accepted).expect("plan applies");
        evals.push(t.elapsed());
        placements += accepted
            .node_allocation
            .values()
            .map(Vec::len)
            .sum::<usize>();
        failed += result
            .failures
            .iter()
            .map(|f| f.unplaced as usize)
            .sum::<usize>();
        if (j + 1) % step == 0 {
            eprintln!(
                "  {:>5}/{jobs} jobs, {placements} placed, {:.1} s",
                j + 1,
                started.elapsed().as_secs_f64()
            );
        }
    }
    let wall = started.elapsed();
    Figures {
        workload: "c1m",
        nodes: node_count,
        placements,
        failed,
        wall,
        evals,
        peak_rss: rss_bytes("VmHWM"),
        rss_before,
        rss_after: rss_bytes("VmRSS"),
    }
}

/// A line of `/proc/self/status` in bytes (0 where unavailable).
fn rss_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let rest = line.strip_prefix(field)?.strip_prefix(':')?;
                rest.trim().strip_suffix(" kB")?.trim().parse::<u64>().ok()
            })
        })
        .map_or(0, |kib| kib * 1024)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)].as_secs_f64() * 1e3
}

/// Prints a run's summary and returns its figures as JSON.
fn report(f: &Figures) -> serde_json::Value {
    let mut sorted = f.evals.clone();
    sorted.sort();
    let wall = f.wall.as_secs_f64();
    let per_second = f.placements as f64 / wall.max(1e-9);
    let micros_per_placement = wall * 1e6 / f.placements.max(1) as f64;
    let bytes_per_alloc =
        f.rss_after.saturating_sub(f.rss_before) as f64 / f.placements.max(1) as f64;
    println!(
        "{}: {} placements ({} unplaced) on {} nodes in {:.2} s: {:.0} placements/s, {:.1} us per placement; evaluation p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; peak RSS {:.0} MiB, {:.0} bytes per allocation",
        f.workload,
        f.placements,
        f.failed,
        f.nodes,
        wall,
        per_second,
        micros_per_placement,
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        percentile(&sorted, 99.9),
        f.peak_rss as f64 / 1_048_576.0,
        bytes_per_alloc
    );
    serde_json::json!({
        "workload": f.workload,
        "nodes": f.nodes,
        "placements": f.placements,
        "unplaced": f.failed,
        "wall_seconds": wall,
        "placements_per_second": per_second,
        "micros_per_placement": micros_per_placement,
        "eval_p50_ms": percentile(&sorted, 50.0),
        "eval_p99_ms": percentile(&sorted, 99.0),
        "eval_p999_ms": percentile(&sorted, 99.9),
        "peak_rss_bytes": f.peak_rss,
        "bytes_per_allocation": bytes_per_alloc,
    })
}
