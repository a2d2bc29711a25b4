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
