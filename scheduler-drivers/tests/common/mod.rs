//! Helpers shared by the driver tests: a shell task in a fresh allocation
//! directory and its log output.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use scheduler_core::driver::{LogRotation, TaskSpec};
use scheduler_drivers::logs::log_files;

/// The executor binary cargo built for these tests.
pub fn executor() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_sched-executor"))
}

/// A task running `sh -c SCRIPT` in a fresh allocation directory.
pub fn shell_task(root: &Path, name: &str, script: &str) -> TaskSpec {
    let alloc_dir = root.join("alloc");
    let task_dir = root.join(name);
    std::fs::create_dir_all(&task_dir).expect("task dir");
    std::fs::create_dir_all(&alloc_dir).expect("alloc dir");
    TaskSpec {
        id: format!("a1/{name}"),
        alloc_id: "a1".to_owned(),
        name: name.to_owned(),
        config: BTreeMap::from([
            ("command".to_owned(), serde_json::json!("/bin/sh")),
            ("args".to_owned(), serde_json::json!(["-c", script])),
        ]),
        env: BTreeMap::from([
            ("PATH".to_owned(), "/usr/bin:/bin".to_owned()),
            ("GREETING".to_owned(), "hello".to_owned()),
        ]),
        user: String::new(),
        task_dir,
        alloc_dir: alloc_dir.clone(),
        state_dir: root.join("state").join(name),
        cpu_mhz: 100,
        cores: 0,
        memory_mb: 64,
        memory_max_mb: 0,
        ports: BTreeMap::new(),
        kill_signal: String::new(),
        kill_timeout: Duration::from_secs(5),
        logs: LogRotation {
            dir: alloc_dir.join("logs"),
            max_files: 3,
            max_file_bytes: 1 << 20,
        },
    }
}

pub fn stdout_of(spec: &TaskSpec) -> String {
    log_files(&spec.logs.dir, &spec.name, "stdout")
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("log"))
        .collect()
}

/// Waits (bounded) until the task's stdout contains `text`.
pub async fn until_logged(spec: &TaskSpec, text: &str) {
    for _ in 0..250 {
        if stdout_of(spec).contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{text:?} never logged; stdout: {:?}", stdout_of(spec));
}

/// The task's stderr so far.
pub fn stderr_of(spec: &TaskSpec) -> String {
    log_files(&spec.logs.dir, &spec.name, "stderr")
        .iter()
        .map(|f| std::fs::read_to_string(f).expect("log"))
        .collect()
}
