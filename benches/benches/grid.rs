//! Nomad's scheduler benchmark grid: one evaluation (one `schedule` call
//! against a prebuilt snapshot) of a service job of `count` allocations of
//! 100 MHz / 128 MiB on an empty cluster, over
//!
//! - nodes {1,000, 5,000, 10,000, 50,000}
//! - x racks (`meta.rack`) {10, 25, 50, 75}
//! - x count {300, 600, 900, 1,200}
//! - x without (`grid/nospread/...`) and with (`grid/spread/...`) an even
//!   `spread { attribute = "${meta.rack}" }`.
//!
//! Bench ids are `grid/{nospread,spread}/n=N/racks=R/COUNT`, throughput in
//! placements (elements). The cluster of each (nodes, racks) point is built
//! once, on first use, and shared by its eight benches (a `MemoryState`
//! clone is O(1); registering the job copies only the job table), so a
//! filter skips the setup of every point it does not select.
//!
//! Also `grid_place_one/n=N`: one allocation (count 1, no constraint) on
//! the 25-rack cluster of each size. The per-node stages (feasibility of
//! one node, fitting and scoring one node) do not depend on the grid point
//! and are in the `placement` bench: `feasibility_one_node/{memo_hit,cold}`,
//! `fit_one_node`, `score_one_node`.
//!
//! The check step (once per bench, untimed) asserts every allocation was
//! placed, that the spread is even (every rack gets `count / racks`), and
//! prints the nodes evaluated per placement.
//!
//! Running time (2 cores, measured with another build running): with
//! `--quick` the whole grid (132 benches) takes about 1 minute, setup of
//! the 50,000-node clusters included; without it (1 s warm-up, 10 samples,
//! at least 55 iterations each) about 9.5 minutes, since the 50,000-node
//! spread evaluations take 70-180 ms each. Subsets:
//!
//! ```text
//! cargo bench -p benches --bench grid -- --quick 'n=1000/'
//! cargo bench -p benches --bench grid -- --quick 'n=10000/racks=25'
//! cargo bench -p benches --bench grid -- --quick 'racks=25/1200'
//! ```

use benches::cluster::{Layout, Scenario, ServiceJob, env, nodes_in, scenario, schedule_fully};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scheduler_core::scheduler::schedule;
use scheduler_core::state::{MemoryState, StateSnapshot};
use std::cell::OnceCell;
use std::hint::black_box;
use std::time::Duration;

/// Cluster sizes.
const NODES: [usize; 4] = [1_000, 5_000, 10_000, 50_000];
/// Rack counts (`meta.rack`).
const RACKS: [usize; 4] = [10, 25, 50, 75];
/// Group counts (placements per evaluation).
const COUNTS: [u32; 4] = [300, 600, 900, 1_200];

/// An empty cluster of `count` nodes laid out as `layout`.
fn empty_cluster_in(count: usize, layout: Layout) -> MemoryState {
    let mut state = MemoryState::new();
    for node in nodes_in(count, layout) {
        state
            .upsert_node(state.index() + 1, node)
            .expect("the node registers");
    }
    state
}

/// The grid job: `count` allocations of 100 MHz / 128 MiB, optionally
/// spread evenly over the racks.
fn job(count: u32, spread: bool) -> ServiceJob {
    let job = ServiceJob::new("grid", count, 100, 128);
    if spread {
        job.spread("${meta.rack}")
    } else {
        job
    }
}

/// Schedules once outside the loop: asserts every allocation was placed
/// (and, with `racks`, evenly over them) and prints the nodes evaluated per
/// placement.
fn check(name: &str, s: &Scenario, placements: usize, racks: Option<usize>) {
    let (result, evaluated) = schedule_fully(name, s, placements);
    let mut even = String::new();
    if let Some(racks) = racks {
        let mut per_rack = vec![0usize; racks];
        for alloc in result.plan.node_allocation.values().flatten() {
            let node = s.snapshot.node(&alloc.node_id).expect("placed on a node");
            let rack: usize = node.meta["rack"][1..].parse().expect("rack number");
            per_rack[rack] += 1;
        }
        let want = placements / racks;
        assert!(
            per_rack.iter().all(|&c| c == want),
            "{name}: uneven spread {per_rack:?}"
        );
        even = format!(", {want} per rack");
    }
    eprintln!(
        "{name}: {} nodes, {placements} placed{even}, {evaluated:.1} nodes evaluated per placement",
        s.nodes
    );
}

fn grid(c: &mut Criterion) {
    for n in NODES {
        for racks in RACKS {
            let layout = Layout {
                racks,
                datacenters: 1,
            };
            // Built by the first bench of this point that runs.
            let cluster: OnceCell<MemoryState> = OnceCell::new();
            let cluster = || cluster.get_or_init(|| empty_cluster_in(n, layout)).clone();
            for spread in [false, true] {
                let kind = if spread { "spread" } else { "nospread" };
                let name = format!("grid/{kind}/n={n}/racks={racks}");
                let mut group = c.benchmark_group(&name);
                group.sample_size(10);
                group.warm_up_time(Duration::from_secs(1));
                group.measurement_time(Duration::from_secs(2));
                for count in COUNTS {
                    group.throughput(Throughput::Elements(u64::from(count)));
                    let cell: OnceCell<Scenario> = OnceCell::new();
                    group.bench_function(BenchmarkId::from_parameter(count), |b| {
                        let s = cell.get_or_init(|| {
                            let s = scenario(cluster(), job(count, spread).build(), n, 0);
                            let placements = usize::try_from(count).expect("count fits");
                            check(
                                &format!("{name}/{count}"),
                                &s,
                                placements,
                                spread.then_some(racks),
                            );
                            s
                        });
                        let env = env();
                        b.iter(|| schedule(black_box(&s.snapshot), black_box(&s.eval), &env));
                    });
                }
                group.finish();
            }
            if racks == 25 {
                let mut group = c.benchmark_group("grid_place_one");
                group.sample_size(10);
                group.warm_up_time(Duration::from_secs(1));
                group.measurement_time(Duration::from_secs(2));
                group.throughput(Throughput::Elements(1));
                let cell: OnceCell<Scenario> = OnceCell::new();
                group.bench_function(BenchmarkId::from_parameter(format!("n={n}")), |b| {
                    let s = cell.get_or_init(|| {
                        let s = scenario(cluster(), job(1, false).build(), n, 0);
                        check(&format!("grid_place_one/n={n}"), &s, 1, None);
                        s
                    });
                    let env = env();
                    b.iter(|| schedule(black_box(&s.snapshot), black_box(&s.eval), &env));
                });
                group.finish();
            }
        }
    }
}

criterion_group!(benches, grid);
criterion_main!(benches);
