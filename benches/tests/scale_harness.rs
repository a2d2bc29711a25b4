//! The scale harness runs end to end on a small workload and writes the
//! figures it promises.

use std::process::Command;

#[test]
fn a_small_c1m_run_places_everything_and_writes_its_figures() {
    let out_path = std::env::temp_dir().join(format!("scale-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args([
            "c1m", "--jobs", "4", "--tasks", "25", "--nodes", "40", "--json",
        ])
        .arg(&out_path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("100 placements (0 unplaced) on 40 nodes"),
        "{stdout}"
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("json written"))
            .expect("valid JSON");
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
    let out_path = std::env::temp_dir().join(format!("sweep-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args([
            "sweep",
            "--max-nodes",
            "5000",
            "--jobs",
            "1",
            "--tasks",
            "20",
            "--json",
        ])
        .arg(&out_path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("json written"))
            .expect("valid JSON");
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
    let out_path = std::env::temp_dir().join(format!("c2m-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args([
            "c2m", "--jobs", "2", "--tasks", "60", "--nodes", "61", "--json",
        ])
        .arg(&out_path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("json written"))
            .expect("valid JSON");
    assert_eq!(figures["workload"], "c2m");
    assert_eq!(figures["datacenters"], 10);
    assert_eq!(figures["placements"], 120);
    assert_eq!(figures["unplaced"], 0);
}

#[test]
fn a_sweep_can_plot_its_cost_per_placement() {
    let svg_path = std::env::temp_dir().join(format!("sweep-{}.svg", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args([
            "sweep",
            "--max-nodes",
            "5000",
            "--jobs",
            "1",
            "--tasks",
            "10",
            "--plot",
        ])
        .arg(&svg_path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).expect("plot written");
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches("<circle").count(), 2, "one point per size");
    assert!(svg.contains(">1k</text>") && svg.contains(">5k</text>"));
}

#[test]
fn pack_reports_quality_per_class_and_algorithm() {
    let out_path = std::env::temp_dir().join(format!("pack-{}.json", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_scale"))
        .args(["pack", "--items", "40", "--json"])
        .arg(&out_path)
        .output()
        .expect("scale runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).expect("json written"))
            .expect("valid JSON");
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
