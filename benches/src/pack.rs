//! The `pack` workload of the scale harness: packing quality of the
//! scheduler on identical nodes.
//!
//! Three item classes ([`ItemClass`]) of `--items` items each, generated
//! from the seed, arrive online in random order: every item is its own
//! service job (one group, count 1, one task), registered, scheduled, its
//! plan checked and applied into a [`MemoryState`] one at a time, as the
//! `c1m` workload does. Each class runs under both algorithms (binpack and
//! spread). Quality is `nodes used / lower bound`, where nodes used are the
//! nodes holding at least one live allocation at the end and the lower
//! bound is `max over cpu, memory of ceil(total demand / node capacity)`
//! ([`lower_bound`]), computed from the capacity the scheduler sees
//! ([`NodeCapacity::of`]; the nodes reserve nothing).
//!
//! Beside the scheduler's figure, [`full_scan_best_fit`] packs the same
//! items in the same order with the same binpack score but over every open
//! node instead of the scheduler's `k` sampled candidates: the gap between
//! the two is what the candidate limit costs.
//!
//! `--instances OUT` writes smaller instances (`--instance-items`) with the
//! scheduler's binpack result, for `scripts/pack_optimal.py` to solve
//! exactly.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use scheduler_core::feasibility::fit::NodeCapacity;
use scheduler_core::model::{MHz, MiB, Node};
use scheduler_core::ranking::fit_score;
use scheduler_core::scheduler::{SchedulerAlgorithm, SchedulerEnv};
use scheduler_core::simulate::NodeBuilder;
use scheduler_core::state::{MemoryState, StateSnapshot};

use crate::cluster::{NOW, ServiceJob, register, schedule_and_commit, set_algorithm};

/// CPU of every node, MHz.
pub const NODE_CPU_MHZ: i64 = 16_000;
/// Memory of every node, MiB.
pub const NODE_MEMORY_MIB: i64 = 32_768;

/// Command-line options of `scale pack`.
#[derive(Debug, Clone, clap::Args)]
pub struct PackArgs {
    /// Items per class.
    #[arg(long, default_value_t = 800)]
    pub items: usize,
    /// Seed of the item generator and of the scheduler.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Write small instances (with the scheduler's binpack result) as JSON
    /// here, for `scripts/pack_optimal.py`.
    #[arg(long, value_name = "OUT")]
    pub instances: Option<PathBuf>,
    /// Items per class of the instances written by `--instances`.
    #[arg(long, default_value_t = 200)]
    pub instance_items: usize,
    /// Nodes in the cluster (default: as many as items, so every item can
    /// be placed whatever the packing). Fewer nodes means the scheduler's
    /// sampled candidates are more often already-used nodes.
    #[arg(long)]
    pub nodes: Option<usize>,
}

/// The item classes of the workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ItemClass {
    /// Each dimension uniform in 5-35 % of the node.
    Large,
    /// Half cpu-heavy (cpu 20-40 %, memory 2-10 %), half memory-heavy (the
    /// reverse), interleaved randomly.
    AntiCorrelated,
    /// Each dimension uniform in 1-10 % of the node.
    Small,
}

impl ItemClass {
    /// Every class, in report order.
    pub const ALL: [ItemClass; 3] = [
        ItemClass::Large,
        ItemClass::AntiCorrelated,
        ItemClass::Small,
    ];

    /// The class's name in reports.
    pub fn name(self) -> &'static str {
        match self {
            ItemClass::Large => "large",
            ItemClass::AntiCorrelated => "anti_correlated",
            ItemClass::Small => "small",
        }
    }

    /// The generator stream of the class (one per class, so the classes
    /// do not share random numbers).
    fn stream(self) -> u64 {
        match self {
            ItemClass::Large => 1,
            ItemClass::AntiCorrelated => 2,
            ItemClass::Small => 3,
        }
    }
}

/// One item: what its task asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// CPU, MHz.
    pub cpu: i64,
    /// Memory, MiB.
    pub memory: i64,
}

/// The schedulable capacity of one node in the two packed dimensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    /// CPU, MHz.
    pub cpu: i64,
    /// Memory, MiB.
    pub memory: i64,
}

/// Node `index` of the pack cluster: [`NODE_CPU_MHZ`], [`NODE_MEMORY_MIB`],
/// nothing reserved, and disk far beyond what the items' ephemeral disks
/// (300 MiB each) can use, so only cpu and memory bind.
pub fn pack_node(index: usize) -> Node {
    NodeBuilder::new(&format!("pack-{index:06}"), index)
        .cpu(NODE_CPU_MHZ)
        .cores(16)
        .memory(NODE_MEMORY_MIB)
        .disk(10_000_000)
        .reserved(0, 0)
        .build()
}

/// The capacity the scheduler uses for every pack node (its schedulable
/// capacity, node resources minus reserved).
pub fn capacity() -> Capacity {
    let capacity = NodeCapacity::of(&pack_node(0));
    Capacity {
        cpu: capacity.cpu.0,
        memory: capacity.memory.0,
    }
}

/// Uniform in `[lo %, hi %]` of `capacity`, bounds rounded inwards.
fn share(rng: &mut ChaCha8Rng, capacity: i64, lo_percent: i64, hi_percent: i64) -> i64 {
    let lo = (capacity * lo_percent + 99) / 100;
    let hi = capacity * hi_percent / 100;
    rng.random_range(lo..=hi)
}

/// `count` items of `class` sized against `capacity`, in arrival order: a
/// pure function of its arguments.
pub fn generate(class: ItemClass, count: usize, seed: u64, capacity: Capacity) -> Vec<Item> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(class.stream());
    let mut items: Vec<Item> = (0..count)
        .map(|i| match class {
            ItemClass::Large => Item {
                cpu: share(&mut rng, capacity.cpu, 5, 35),
                memory: share(&mut rng, capacity.memory, 5, 35),
            },
            ItemClass::Small => Item {
                cpu: share(&mut rng, capacity.cpu, 1, 10),
                memory: share(&mut rng, capacity.memory, 1, 10),
            },
            ItemClass::AntiCorrelated if i % 2 == 0 => Item {
                cpu: share(&mut rng, capacity.cpu, 20, 40),
                memory: share(&mut rng, capacity.memory, 2, 10),
            },
            ItemClass::AntiCorrelated => Item {
                cpu: share(&mut rng, capacity.cpu, 2, 10),
                memory: share(&mut rng, capacity.memory, 20, 40),
            },
        })
        .collect();
    // Online arrival in random order (for anti-correlated items, this is
    // the random interleaving of the two halves).
    items.shuffle(&mut rng);
    items
}

/// `max over cpu, memory of ceil(total demand / capacity)`: no packing of
/// `items` onto nodes of `capacity` uses fewer nodes.
pub fn lower_bound(items: &[Item], capacity: Capacity) -> usize {
    let cpu: i64 = items.iter().map(|item| item.cpu).sum();
    let memory: i64 = items.iter().map(|item| item.memory).sum();
    let bins = |total: i64, per_node: i64| {
        u64::try_from(total).map_or(0, |t| t.div_ceil(per_node.unsigned_abs()) as usize)
    };
    bins(cpu, capacity.cpu).max(bins(memory, capacity.memory))
}

/// The same items in the same order, each on the open node with the best
/// binpack score over *every* open node where it fits (a new node when
/// none fits): the scheduler's score without its candidate limit. Returns
/// the nodes used.
pub fn full_scan_best_fit(items: &[Item], node: &Node) -> usize {
    let capacity = NodeCapacity::of(node);
    let mut open: Vec<(i64, i64)> = Vec::new();
    for item in items {
        let mut best: Option<(f64, usize)> = None;
        for (index, (cpu, memory)) in open.iter().enumerate() {
            let (cpu, memory) = (cpu + item.cpu, memory + item.memory);
            if cpu > capacity.cpu.0 || memory > capacity.memory.0 {
                continue;
            }
            let score = fit_score(SchedulerAlgorithm::Binpack, node, MHz(cpu), MiB(memory));
            if best.is_none_or(|(top, _)| score > top) {
                best = Some((score, index));
            }
        }
        match best {
            Some((_, index)) => {
                open[index].0 += item.cpu;
                open[index].1 += item.memory;
            }
            None => open.push((item.cpu, item.memory)),
        }
    }
    open.len()
}

/// What one online run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct OnlineRun {
    /// Allocations placed (accepted by the plan check).
    pub placements: usize,
    /// Items not placed.
    pub unplaced: usize,
    /// Nodes holding at least one live allocation at the end.
    pub nodes_used: usize,
    /// Wall time of the registrations, schedules, checks and applies.
    pub wall: Duration,
    /// Mean `nodes_evaluated` of the placed allocations' metrics.
    pub mean_nodes_evaluated: f64,
}

/// Schedules `items` online, one job each, on `node_count` pack nodes under
/// `algorithm`: register, [`schedule`], [`check_plan`], [`apply_plan`].
///
/// # Panics
/// If the state refuses a write (it does not for generated nodes and jobs).
// Measures wall time (`wall_seconds`): the harness is the one place
// outside the IO crates that reads a clock, as `scale.rs` does.
#[allow(clippy::disallowed_methods)]
pub fn run_online(
    items: &[Item],
    node_count: usize,
    algorithm: SchedulerAlgorithm,
    seed: u64,
) -> OnlineRun {
    let mut state = MemoryState::new();
    state
        .upsert_nodes(1, (0..node_count).map(pack_node).collect())
        .expect("nodes register");
    set_algorithm(&mut state, algorithm);
    let env = SchedulerEnv { now: NOW, seed };
    let mut placements = 0;
    let mut evaluated: u64 = 0;
    let started = Instant::now();
    for (i, item) in items.iter().enumerate() {
        let cpu = u32::try_from(item.cpu).expect("cpu fits u32");
        let memory = u32::try_from(item.memory).expect("memory fits u32");
        let job = ServiceJob::new(&format!("pack-{i:05}"), 1, cpu, memory).build();
        let eval = register(&mut state, job, i as u64 + 1);
        let committed = schedule_and_commit(&mut state, &eval, &env);
        placements += committed.placed;
        evaluated += committed.nodes_evaluated;
    }
    let wall = started.elapsed();
    let view = state.view();
    let nodes_used = view
        .nodes()
        .filter(|node| {
            view.allocs_by_node(&node.id)
                .any(|alloc| !alloc.is_terminal())
        })
        .count();
    OnlineRun {
        placements,
        unplaced: items.len().saturating_sub(placements),
        nodes_used,
        wall,
        mean_nodes_evaluated: evaluated as f64 / placements.max(1) as f64,
    }
}

/// The report name of an algorithm.
fn algorithm_name(algorithm: SchedulerAlgorithm) -> &'static str {
    match algorithm {
        SchedulerAlgorithm::Binpack => "binpack",
        SchedulerAlgorithm::Spread => "spread",
    }
}

/// `used / bound` (0 when the bound is 0).
fn ratio(used: usize, bound: usize) -> f64 {
    if bound == 0 {
        0.0
    } else {
        used as f64 / bound as f64
    }
}

/// Runs the pack workload, prints a human summary to stdout, returns the
/// figures as JSON.
///
/// # Errors
/// No items, or the instances file cannot be written.
pub fn run(args: &PackArgs) -> Result<serde_json::Value, String> {
    if args.items == 0 {
        return Err("--items must be at least 1".to_owned());
    }
    let capacity = capacity();
    let node = pack_node(0);
    let node_count = args.nodes.unwrap_or(args.items).max(1);
    println!(
        "pack: {} items per class, seed {}, {} nodes of {} MHz / {} MiB",
        args.items, args.seed, node_count, capacity.cpu, capacity.memory
    );
    let mut rows = Vec::new();
    let mut binpack_ratios = serde_json::Map::new();
    let mut full_scan = serde_json::Map::new();
    for class in ItemClass::ALL {
        let items = generate(class, args.items, args.seed, capacity);
        let bound = lower_bound(&items, capacity);
        let best_fit = full_scan_best_fit(&items, &node);
        for algorithm in [SchedulerAlgorithm::Binpack, SchedulerAlgorithm::Spread] {
            let run = run_online(&items, node_count, algorithm, args.seed);
            let wall = run.wall.as_secs_f64();
            let per_second = run.placements as f64 / wall.max(1e-9);
            let quality = ratio(run.nodes_used, bound);
            println!(
                "  {:<16} {:<8} {:>5} placed {:>3} unplaced  nodes used {:>4}  lower bound {:>4}  ratio {:.3}  ({:.1} nodes evaluated per placement, {:.2} s, {:.0} placements/s)",
                class.name(),
                algorithm_name(algorithm),
                run.placements,
                run.unplaced,
                run.nodes_used,
                bound,
                quality,
                run.mean_nodes_evaluated,
                wall,
                per_second
            );
            if algorithm == SchedulerAlgorithm::Binpack {
                binpack_ratios.insert(class.name().to_owned(), quality.into());
            }
            rows.push(serde_json::json!({
                "class": class.name(),
                "algorithm": algorithm_name(algorithm),
                "items": items.len(),
                "placements": run.placements,
                "unplaced": run.unplaced,
                "nodes_used": run.nodes_used,
                "lower_bound": bound,
                "nodes_used_over_lower_bound": quality,
                "mean_nodes_evaluated": run.mean_nodes_evaluated,
                "wall_seconds": wall,
                "placements_per_second": per_second,
            }));
        }
        println!(
            "  {:<16} full-scan best fit (same score, every open node): nodes used {:>4}  ratio {:.3}",
            class.name(),
            best_fit,
            ratio(best_fit, bound)
        );
        full_scan.insert(
            class.name().to_owned(),
            serde_json::json!({
                "nodes_used": best_fit,
                "lower_bound": bound,
                "nodes_used_over_lower_bound": ratio(best_fit, bound),
            }),
        );
    }
    if let Some(path) = &args.instances {
        let instances = write_instances(path, args, capacity)?;
        println!("  wrote {instances} instances to {}", path.display());
    }
    Ok(serde_json::json!({
        "workload": "pack",
        "items": args.items,
        "seed": args.seed,
        "nodes": node_count,
        "node_capacity": { "cpu_mhz": capacity.cpu, "memory_mib": capacity.memory },
        "classes": rows,
        "nodes_used_over_lower_bound": binpack_ratios,
        "full_scan_best_fit": full_scan,
    }))
}

/// The small instances of `--instances`: per class, `--instance-items`
/// items run under binpack on as many nodes as items. Returns how many
/// were written.
fn write_instances(
    path: &std::path::Path,
    args: &PackArgs,
    capacity: Capacity,
) -> Result<usize, String> {
    let mut instances = Vec::new();
    let mut summary = BTreeMap::new();
    for class in ItemClass::ALL {
        let items = generate(class, args.instance_items, args.seed, capacity);
        let bound = lower_bound(&items, capacity);
        let run = run_online(
            &items,
            args.instance_items.max(1),
            SchedulerAlgorithm::Binpack,
            args.seed,
        );
        if run.unplaced > 0 {
            return Err(format!(
                "instance {}: {} items unplaced",
                class.name(),
                run.unplaced
            ));
        }
        summary.insert(class.name(), (run.nodes_used, bound));
        let pairs: Vec<[i64; 2]> = items.iter().map(|i| [i.cpu, i.memory]).collect();
        instances.push(serde_json::json!({
            "class": class.name(),
            "items": pairs,
            "our_nodes_used": run.nodes_used,
            "lower_bound": bound,
        }));
    }
    for (class, (used, bound)) in &summary {
        println!(
            "  instance {class:<16} {} items: binpack nodes used {used}, lower bound {bound}",
            args.instance_items
        );
    }
    let value = serde_json::json!({
        "node_capacity": { "cpu": capacity.cpu, "memory": capacity.memory },
        "seed": args.seed,
        "instances": instances,
    });
    let text = serde_json::to_string_pretty(&value).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(ItemClass::ALL.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn percent(value: i64, capacity: i64) -> f64 {
        value as f64 * 100.0 / capacity as f64
    }

    #[test]
    fn the_nodes_reserve_nothing() {
        assert_eq!(
            capacity(),
            Capacity {
                cpu: NODE_CPU_MHZ,
                memory: NODE_MEMORY_MIB
            }
        );
    }

    #[test]
    fn the_generator_is_deterministic() {
        let capacity = capacity();
        for class in ItemClass::ALL {
            let a = generate(class, 300, 7, capacity);
            assert_eq!(a, generate(class, 300, 7, capacity), "{class:?}");
            assert_ne!(a, generate(class, 300, 8, capacity), "{class:?}");
            assert_eq!(a.len(), 300);
        }
        assert_ne!(
            generate(ItemClass::Large, 50, 7, capacity),
            generate(ItemClass::Small, 50, 7, capacity)
        );
    }

    #[test]
    fn the_items_lie_in_their_class_ranges() {
        let c = capacity();
        let within = |value: i64, cap: i64, lo: f64, hi: f64| {
            let p = percent(value, cap);
            (lo..=hi).contains(&p)
        };
        for item in generate(ItemClass::Large, 1_000, 3, c) {
            assert!(within(item.cpu, c.cpu, 5.0, 35.0), "{item:?}");
            assert!(within(item.memory, c.memory, 5.0, 35.0), "{item:?}");
        }
        for item in generate(ItemClass::Small, 1_000, 3, c) {
            assert!(within(item.cpu, c.cpu, 1.0, 10.0), "{item:?}");
            assert!(within(item.memory, c.memory, 1.0, 10.0), "{item:?}");
        }
        let anti = generate(ItemClass::AntiCorrelated, 1_000, 3, c);
        let cpu_heavy: Vec<bool> = anti
            .iter()
            .map(|item| {
                let cpu_heavy =
                    within(item.cpu, c.cpu, 20.0, 40.0) && within(item.memory, c.memory, 2.0, 10.0);
                let memory_heavy =
                    within(item.cpu, c.cpu, 2.0, 10.0) && within(item.memory, c.memory, 20.0, 40.0);
                assert!(cpu_heavy != memory_heavy, "{item:?}");
                cpu_heavy
            })
            .collect();
        assert_eq!(cpu_heavy.iter().filter(|h| **h).count(), 500);
        // Interleaved: both kinds appear in each half of the arrival order.
        for half in cpu_heavy.chunks(500) {
            let heavy = half.iter().filter(|h| **h).count();
            assert!((150..=350).contains(&heavy), "{heavy}");
        }
        // The ranges are used, not just respected.
        let large = generate(ItemClass::Large, 1_000, 3, c);
        let max = large.iter().map(|i| i.cpu).max().unwrap_or(0);
        let min = large.iter().map(|i| i.cpu).min().unwrap_or(0);
        assert!(percent(max, c.cpu) > 33.0 && percent(min, c.cpu) < 7.0);
    }

    #[test]
    fn the_lower_bound_is_the_worst_dimension_rounded_up() {
        let capacity = Capacity {
            cpu: 100,
            memory: 200,
        };
        let item = |cpu, memory| Item { cpu, memory };
        // cpu 250 -> 3 nodes; memory 270 -> 2 nodes.
        let items = [item(90, 10), item(90, 10), item(60, 150), item(10, 100)];
        assert_eq!(lower_bound(&items, capacity), 3);
        // Exactly full: 200 cpu -> 2 nodes, not 3; memory 401 -> 3.
        let items = [item(100, 200), item(100, 201)];
        assert_eq!(lower_bound(&items, capacity), 3);
        let items = [item(100, 1), item(100, 1)];
        assert_eq!(lower_bound(&items, capacity), 2);
        assert_eq!(lower_bound(&[], capacity), 0);
    }

    #[test]
    fn full_scan_best_fit_packs_a_hand_made_instance() {
        let node = pack_node(0);
        let half = Item {
            cpu: NODE_CPU_MHZ / 2,
            memory: NODE_MEMORY_MIB / 2,
        };
        // Four halves fill two nodes exactly.
        assert_eq!(full_scan_best_fit(&[half; 4], &node), 2);
        let items = generate(ItemClass::Large, 100, 1, capacity());
        assert!(full_scan_best_fit(&items, &node) >= lower_bound(&items, capacity()));
    }

    #[test]
    fn a_small_run_places_everything_and_binpack_beats_spread() {
        let capacity = capacity();
        let items = generate(ItemClass::Large, 60, 42, capacity);
        let bound = lower_bound(&items, capacity);
        let binpack = run_online(&items, 60, SchedulerAlgorithm::Binpack, 42);
        let spread = run_online(&items, 60, SchedulerAlgorithm::Spread, 42);
        for run in [&binpack, &spread] {
            assert_eq!(run.placements, 60, "{run:?}");
            assert_eq!(run.unplaced, 0, "{run:?}");
            assert!(run.nodes_used >= bound, "{run:?} vs {bound}");
        }
        assert!(
            binpack.nodes_used <= spread.nodes_used,
            "{binpack:?} {spread:?}"
        );
        // Same inputs, same packing.
        let again = run_online(&items, 60, SchedulerAlgorithm::Binpack, 42);
        assert_eq!(again.nodes_used, binpack.nodes_used);
    }

    #[test]
    fn run_reports_every_class_and_writes_instances() {
        let path = std::env::temp_dir().join(format!("pack-instances-{}.json", std::process::id()));
        let args = PackArgs {
            items: 24,
            seed: 5,
            instances: Some(path.clone()),
            instance_items: 12,
            nodes: None,
        };
        let value = run(&args).expect("runs");
        assert_eq!(value["workload"], "pack");
        let classes = value["classes"].as_array().expect("classes");
        assert_eq!(classes.len(), 6);
        for row in classes {
            assert_eq!(row["unplaced"], 0, "{row}");
            assert_eq!(row["placements"], 24, "{row}");
        }
        for class in ItemClass::ALL {
            assert!(value["nodes_used_over_lower_bound"][class.name()].as_f64() >= Some(1.0));
        }
        let text = std::fs::read_to_string(&path).expect("instances written");
        let _ = std::fs::remove_file(&path);
        let file: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(file["node_capacity"]["cpu"], NODE_CPU_MHZ);
        let instances = file["instances"].as_array().expect("instances");
        assert_eq!(instances.len(), 3);
        for instance in instances {
            assert_eq!(instance["items"].as_array().map(Vec::len), Some(12));
            assert!(instance["our_nodes_used"].as_u64() >= instance["lower_bound"].as_u64());
        }
    }
}
