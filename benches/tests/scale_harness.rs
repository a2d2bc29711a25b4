//! The scale harness runs end to end on a small workload and writes the
//! figures it promises.

use std::process::Command;

/// Runs `scale` with `args`, then `--json` (or `--plot`) into a temporary
/// file named after `tag`; asserts it succeeded and returns stdout and the
/// file's text.
fn run_scale(args: &[&str], output_flag: &str, tag: &str) -> (String, String) {
    let path = std::env::temp_dir().join(format!("{tag}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args(args)
        .arg(output_flag)
        .arg(&path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let written = std::fs::read_to_string(&path).expect("output written");
    (String::from_utf8_lossy(&out.stdout).into_owned(), written)
}

/// [`run_scale`] with `--json`, parsed.
fn run_json(args: &[&str], tag: &str) -> (String, serde_json::Value) {
    let (stdout, text) = run_scale(args, "--json", tag);
    (stdout, serde_json::from_str(&text).expect("valid JSON"))
}

#[test]
fn a_small_c1m_run_places_everything_and_writes_its_figures() {
    let (stdout, figures) = run_json(
        &["c1m", "--jobs", "4", "--tasks", "25", "--nodes", "40"],
        "scale",
    );
    assert!(
        stdout.contains("100 placements (0 unplaced) on 40 nodes"),
        "{stdout}"
    );
    for key in [
        "workload",
        "nodes",
        "placements",
        "wall_seconds",
        "placements_per_second",
        "eval_p50_ms",
        "eval_p99_ms",
        "eval_p999_ms",
        "peak_rss_bytes",
        "bytes_per_allocation",
    ] {
        assert!(figures.get(key).is_some(), "missing {key}: {figures}");
    }
    assert_eq!(figures["placements"], 100);
    assert_eq!(figures["workload"], "c1m");
}

#[test]
fn a_sweep_writes_one_object_per_cluster_size() {
    let (_, figures) = run_json(
        &[
            "sweep",
            "--max-nodes",
            "5000",
            "--jobs",
            "1",
            "--tasks",
            "20",
        ],
        "sweep",
    );
    let sizes: Vec<u64> = figures
        .as_array()
        .expect("a list")
        .iter()
        .map(|f| f["nodes"].as_u64().expect("nodes"))
        .collect();
    assert_eq!(sizes, [1_000, 5_000]);
    assert!(figures[1]["micros_per_placement"].as_f64().expect("cost") > 0.0);
}

#[test]
fn c2m_spreads_its_jobs_over_ten_datacenters() {
    let (_, figures) = run_json(
        &["c2m", "--jobs", "2", "--tasks", "60", "--nodes", "61"],
        "c2m",
    );
    assert_eq!(figures["workload"], "c2m");
    assert_eq!(figures["datacenters"], 10);
    assert_eq!(figures["placements"], 120);
    assert_eq!(figures["unplaced"], 0);
}

#[test]
fn a_sweep_can_plot_its_cost_per_placement() {
    let (_, svg) = run_scale(
        &[
            "sweep",
            "--max-nodes",
            "5000",
            "--jobs",
            "1",
            "--tasks",
            "10",
        ],
        "--plot",
        "sweep.svg",
    );
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<circle").count(), 2, "one point per size");
    assert!(svg.contains(">1k</text>") && svg.contains(">5k</text>"));
}

#[test]
fn pack_reports_quality_per_class_and_algorithm() {
    let (_, figures) = run_json(&["pack", "--items", "40"], "pack");
    assert_eq!(figures["workload"], "pack");
    for class in ["large", "anti_correlated", "small"] {
        let ratio = figures["nodes_used_over_lower_bound"][class]
            .as_f64()
            .unwrap_or_else(|| panic!("no ratio for {class}: {figures}"));
        assert!(ratio >= 1.0, "{class}: {ratio}");
    }
    let rows = figures["classes"].as_array().expect("rows");
    assert_eq!(rows.len(), 6, "three classes x two algorithms");
    assert!(rows.iter().all(|r| r["unplaced"] == 0), "{figures}");
}
