//! An outside client: `python-nomad` from PyPI (installed into a venv by
//! `scripts/python-nomad-venv`, which `scripts/setup` runs) parses, plans,
//! registers, lists and stops a job against a real `schedd -dev`, through
//! the Nomad-compatible HTTP API, without knowing it is not Nomad.

mod common;

use std::process::Command;

#[test]
fn python_nomad_drives_a_dev_agent() {
    let venv = Command::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/python-nomad-venv"
    ))
    .output()
    .expect("scripts/python-nomad-venv runs");
    assert!(
        venv.status.success(),
        "scripts/python-nomad-venv failed (it needs PyPI, or a venv made by scripts/setup): {}",
        String::from_utf8_lossy(&venv.stderr)
    );
    let python = format!(
        "{}/bin/python",
        String::from_utf8_lossy(&venv.stdout).trim()
    );

    let data = tempfile::tempdir().expect("dir");
    let agent = common::dev_agent(data.path());
    let port = agent.url.rsplit(':').next().expect("port").to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/nomad_client.py");
    let run = Command::new(&python)
        .args([script, "127.0.0.1", &port])
        .output()
        .expect("python runs");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("stop: ok"), "{stdout}");
}
