//! The scale harness: whole workloads through the scheduler as a server
//! would run them, every evaluation's plan through the plan check into the
//! in-memory state, on one thread.
//!
//! ```text
//! cargo run --release -p benches --bin scale -- c1m [--json OUT]
//! cargo run --release -p benches --bin scale -- c1m --jobs 100 --tasks 1000 --nodes 5000
//! cargo run --release -p benches --bin scale -- c2m
//! cargo run --release -p benches --bin scale -- sweep --max-nodes 100000 --plot sweep.svg
//! cargo run --release -p benches --bin scale -- pack [--items 800] [--instances OUT]
//! ```
//!
//! Workloads:
//! - `c1m`: 5,000 nodes; 1,000 jobs of 1,000 tasks; each job constrained to
//!   one of two operating systems (about half of the nodes), as Nomad's C1M.
//! - `c2m`: 6,100 nodes in 10 datacenters; 2,000 jobs of 1,000 tasks, each
//!   job in all ten datacenters and constrained to one operating system.
//! - `sweep`: the c1m shape at 1k, 5k, 10k and 50k nodes (100k with
//!   `--max-nodes 100000`), 10 jobs of 1,000 tasks each (`--jobs`,
//!   `--tasks`), to show how the cost per placement grows with cluster
//!   size; each size also reports the cost per placement of its first and
//!   last job (`fill_curve`: how the cost grows with allocations already
//!   placed). `--json` writes a list, one object per size; `--plot OUT.svg`
//!   draws cost per placement against cluster size.
//! - `pack`: packing quality on identical nodes ([`benches::pack`]).
//!
//! Prints a short summary (a progress bar on stderr when it is a terminal)
//! and, with `--json OUT`, writes `workload`, `nodes`, `placements`,
//! `wall_seconds`, `placements_per_second`, `eval_p50_ms`, `eval_p99_ms`,
//! `eval_p999_ms`, `peak_rss_bytes` and `bytes_per_allocation` (`pack`
//! writes its own figures, with `nodes_used_over_lower_bound` per class).

// The harness measures wall time: the one place outside the IO crates that
// reads a clock.
#![allow(clippy::disallowed_methods)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use benches::cluster::{Layout, ServiceJob, env, nodes_in, register, schedule_and_commit};
use benches::pack::{self, PackArgs};
use benches::plot::{Point, cost_per_placement_svg};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use scheduler_core::state::MemoryState;

#[derive(Debug, Parser)]
#[command(about = "Scale runs of the scheduler (release build advised)")]
struct Cli {
    #[command(subcommand)]
    workload: Workload,
    /// Write the figures as JSON here.
    #[arg(long, value_name = "OUT", global = true)]
    json: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Workload {
    /// 1,000 jobs x 1,000 tasks on 5,000 nodes (Nomad's C1M).
    C1m(Shape),
    /// 2,000 jobs x 1,000 tasks on 6,100 nodes in 10 datacenters (C2M).
    C2m(Shape),
    /// The c1m shape at growing cluster sizes.
    Sweep(SweepArgs),
    /// Packing quality: nodes used over the lower bound.
    Pack(PackArgs),
}

/// The size of a c1m-shaped run; unset values take the workload's own.
#[derive(Debug, Args)]
struct Shape {
    /// Jobs.
    #[arg(long)]
    jobs: Option<usize>,
    /// Tasks per job.
    #[arg(long)]
    tasks: Option<u32>,
    /// Nodes.
    #[arg(long)]
    nodes: Option<usize>,
}

#[derive(Debug, Args)]
struct SweepArgs {
    /// Jobs per cluster size.
    #[arg(long, default_value_t = 10)]
    jobs: usize,
    /// Tasks per job.
    #[arg(long, default_value_t = 1_000)]
    tasks: u32,
    /// Largest cluster of the sweep (1k, 5k, 10k, 50k, 100k up to it).
    #[arg(long, default_value_t = 50_000)]
    max_nodes: usize,
    /// Draw cost per placement against cluster size into this SVG file.
    #[arg(long, value_name = "OUT.svg")]
    plot: Option<PathBuf>,
}

/// One c1m-shaped run to make.
#[derive(Debug, Clone, Copy)]
struct Run {
    workload: &'static str,
    jobs: usize,
    tasks: u32,
    nodes: usize,
    layout: Layout,
}

/// What one run measured.
#[derive(Debug)]
struct Figures {
    run: Run,
    placements: usize,
    failed: usize,
    wall: Duration,
    /// Per evaluation: its time and the placements it made.
    evals: Vec<(Duration, usize)>,
    peak_rss: u64,
    rss_before: u64,
    rss_after: u64,
}

fn main() {
    let cli = Cli::parse();
    let value = match cli.workload {
        Workload::C1m(shape) => report(&place(Run {
            workload: "c1m",
            jobs: shape.jobs.unwrap_or(1_000),
            tasks: shape.tasks.unwrap_or(1_000),
            nodes: shape.nodes.unwrap_or(5_000),
            layout: Layout::default(),
        })),
        Workload::C2m(shape) => report(&place(Run {
            workload: "c2m",
            jobs: shape.jobs.unwrap_or(2_000),
            tasks: shape.tasks.unwrap_or(1_000),
            nodes: shape.nodes.unwrap_or(6_100),
            layout: Layout {
                datacenters: 10,
                ..Layout::default()
            },
        })),
        Workload::Sweep(args) => sweep(&args),
        Workload::Pack(args) => pack::run(&args).unwrap_or_else(|e| fail(&e)),
    };
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&value).expect("figures serialise");
        if let Err(e) = std::fs::write(path, text + "\n") {
            fail(&format!("cannot write {}: {e}", path.display()));
        }
    }
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

/// The sweep: one run per cluster size, a list of figures, and the plot.
fn sweep(args: &SweepArgs) -> serde_json::Value {
    let runs: Vec<Figures> = [1_000, 5_000, 10_000, 50_000, 100_000]
        .into_iter()
        .filter(|n| *n <= args.max_nodes)
        .map(|nodes| {
            place(Run {
                workload: "sweep",
                jobs: args.jobs,
                tasks: args.tasks,
                nodes,
                layout: Layout::default(),
            })
        })
        .collect();
    let values: Vec<serde_json::Value> = runs.iter().map(report).collect();
    if let (Some(first), Some(last)) = (runs.first(), runs.last()) {
        println!(
            "sweep: cost per placement grows {:.2}x from {} to {} nodes",
            micros_per_placement(last) / micros_per_placement(first).max(1e-9),
            first.run.nodes,
            last.run.nodes
        );
    }
    if let Some(path) = &args.plot {
        let points: Vec<Point> = runs
            .iter()
            .map(|f| Point {
                nodes: f.run.nodes as f64,
                micros: micros_per_placement(f),
            })
            .collect();
        let title = format!(
            "Cost per placement, {} jobs x {} tasks, plan check and apply included",
            args.jobs, args.tasks
        );
        if let Err(e) = std::fs::write(path, cost_per_placement_svg(&title, &points)) {
            fail(&format!("cannot write {}: {e}", path.display()));
        }
        println!("sweep: plot written to {}", path.display());
    }
    serde_json::Value::Array(values)
}

/// A c1m-shaped run: every job alternates between the two operating
/// systems of the cluster, so each matches about half of the nodes. Tasks
/// are small (10 MHz, 16 MiB) so a million fit on 5,000 nodes.
fn place(run: Run) -> Figures {
    let mut state = MemoryState::new();
    state
        .upsert_nodes(1, nodes_in(run.nodes, run.layout))
        .expect("nodes register");
    let datacenters: Vec<String> = (1..=run.layout.datacenters.max(1))
        .map(|d| format!("dc{d}"))
        .collect();
    let datacenters: Vec<&str> = datacenters.iter().map(String::as_str).collect();
    reset_peak_rss();
    let rss_before = rss_bytes("VmRSS");
    let progress = progress_bar(&run);
    let mut evals = Vec::with_capacity(run.jobs);
    let mut placements = 0;
    let mut failed = 0;
    let started = Instant::now();
    for j in 0..run.jobs {
        let os = if j % 2 == 0 { "ubuntu" } else { "debian" };
        let job = ServiceJob::new(&format!("{}-{j:05}", run.workload), run.tasks, 10, 16)
            .constraint("${attr.os.name}", os)
            .datacenters(&datacenters)
            .build();
        let eval = register(&mut state, job, j as u64 + 1);
        let t = Instant::now();
        let committed = schedule_and_commit(&mut state, &eval, &env());
        evals.push((t.elapsed(), committed.placed));
        placements += committed.placed;
        failed += committed.unplaced;
        progress.inc(1);
        progress.set_message(format!("{placements} placed"));
    }
    let wall = started.elapsed();
    progress.finish_and_clear();
    let figures = Figures {
        run,
        placements,
        failed,
        wall,
        evals,
        peak_rss: rss_bytes("VmHWM"),
        rss_before,
        rss_after: rss_bytes("VmRSS"),
    };
    // Freeing a million allocations takes a while and is not part of the
    // run: leave it to the process exit when this is the last run.
    std::mem::forget(state);
    figures
}

/// A progress bar on stderr, drawn only when stderr is a terminal.
fn progress_bar(run: &Run) -> ProgressBar {
    let bar = ProgressBar::new(run.jobs as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:40}] {pos}/{len} jobs, {msg}, {elapsed_precise} (eta {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_prefix(format!("{} on {} nodes", run.workload, run.nodes));
    bar
}

/// Resets the process's peak RSS (`VmHWM`) so each run of a sweep reports
/// its own (Linux 4.0 and later; ignored where unsupported).
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
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

fn micros_per_placement(f: &Figures) -> f64 {
    f.wall.as_secs_f64() * 1e6 / f.placements.max(1) as f64
}

/// Microseconds per placement of the evaluations in `evals`.
fn cost_of(evals: &[(Duration, usize)]) -> f64 {
    let time: f64 = evals.iter().map(|(t, _)| t.as_secs_f64()).sum();
    let placed: usize = evals.iter().map(|(_, n)| n).sum();
    time * 1e6 / placed.max(1) as f64
}

/// Prints a run's summary and returns its figures as JSON.
fn report(f: &Figures) -> serde_json::Value {
    let mut sorted: Vec<Duration> = f.evals.iter().map(|(t, _)| *t).collect();
    sorted.sort();
    let wall = f.wall.as_secs_f64();
    let per_second = f.placements as f64 / wall.max(1e-9);
    let bytes_per_alloc =
        f.rss_after.saturating_sub(f.rss_before) as f64 / f.placements.max(1) as f64;
    // How the cost grows with the allocations already placed: the first
    // and last tenth of the evaluations.
    let tenth = (f.evals.len() / 10).max(1);
    let first = cost_of(&f.evals[..tenth.min(f.evals.len())]);
    let last = cost_of(&f.evals[f.evals.len().saturating_sub(tenth)..]);
    println!(
        "{}: {} placements ({} unplaced) on {} nodes in {:.2} s: {:.0} placements/s, {:.1} us per placement (first tenth {:.1}, last tenth {:.1}); evaluation p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms; peak RSS {:.0} MiB, {:.0} bytes per allocation",
        f.run.workload,
        f.placements,
        f.failed,
        f.run.nodes,
        wall,
        per_second,
        micros_per_placement(f),
        first,
        last,
        percentile(&sorted, 50.0),
        percentile(&sorted, 99.0),
        percentile(&sorted, 99.9),
        f.peak_rss as f64 / 1_048_576.0,
        bytes_per_alloc
    );
    serde_json::json!({
        "workload": f.run.workload,
        "nodes": f.run.nodes,
        "datacenters": f.run.layout.datacenters,
        "jobs": f.run.jobs,
        "tasks_per_job": f.run.tasks,
        "placements": f.placements,
        "unplaced": f.failed,
        "wall_seconds": wall,
        "placements_per_second": per_second,
        "micros_per_placement": micros_per_placement(f),
        "fill_curve": {
            "first_tenth_micros_per_placement": first,
            "last_tenth_micros_per_placement": last,
        },
        "eval_p50_ms": percentile(&sorted, 50.0),
        "eval_p99_ms": percentile(&sorted, 99.0),
        "eval_p999_ms": percentile(&sorted, 99.9),
        "peak_rss_bytes": f.peak_rss,
        "bytes_per_allocation": bytes_per_alloc,
    })
}
