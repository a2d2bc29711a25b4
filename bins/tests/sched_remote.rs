//! `sched`'s remote commands as a user runs them: the real `sched` binary
//! against a real `schedd -dev` agent on free ports. A raw_exec job is
//! planned, run (evaluation and deployment followed to success), listed,
//! inspected, its allocation and logs read, refused with a stale
//! `-check-index`, planned again after a change, run again and inspected
//! with `job inspect` at each version, and stopped.

mod common;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{dev_agent, free_port};

const JOB: &str = r#"
job "remote" {
  datacenters = ["dc1"]
  group "g" {
    update {
      min_healthy_time  = "1s"
      healthy_deadline  = "1m"
      progress_deadline = "2m"
    }
    task "t" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args    = ["-c", "echo hello from sched; sleep 600"]
      }
      resources {
        cpu    = 50
        memory = 32
      }
    }
  }
}
"#;

/// The longest one `sched` command may take (a run follows a deployment).
const COMMAND_LIMIT: Duration = Duration::from_secs(120);

/// Runs `sched ARGS` against `address`, killed if it outlives
/// [`COMMAND_LIMIT`].
fn sched(address: &str, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sched"))
        .args(args)
        .env("SCHED_ADDR", address)
        .env_remove("NOMAD_ADDR")
        .env_remove("NOMAD_NAMESPACE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sched runs");
    // Drain both pipes while waiting, so a chatty command never blocks.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    let step = Duration::from_millis(50);
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if waited >= COMMAND_LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sched {args:?} did not finish within {COMMAND_LIMIT:?}");
        }
        std::thread::sleep(step);
        waited += step;
    };
    Output {
        status,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Asserts the exit code, showing both streams when it differs.
fn expect_code(output: &Output, code: i32, what: &str) {
    assert_eq!(
        output.status.code(),
        Some(code),
        "{what}\n--- stdout\n{}\n--- stderr\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

fn write_job(dir: &Path, name: &str, source: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, source).expect("job file");
    path.to_str().expect("utf-8 path").to_owned()
}

/// Waits (bounded) until `sched node status` lists a ready, eligible node:
/// the agent announces its HTTP API before its client has registered.
fn wait_for_ready_node(address: &str) {
    for _ in 0..100 {
        let nodes = sched(address, &["node", "status"]);
        let listed = text(&nodes.stdout);
        let ready = listed.lines().skip(1).any(|row| {
            let fields: Vec<&str> = row.split_whitespace().collect();
            fields.ends_with(&["eligible", "ready"])
        });
        if nodes.status.success() && ready {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no ready node within 10 s");
}

#[test]
fn sched_runs_inspects_and_stops_a_job_on_a_dev_agent() {
    let data = tempfile::tempdir().expect("data dir");
    let files = tempfile::tempdir().expect("files dir");
    let agent = dev_agent(data.path());
    let address = agent.url.clone();
    let job_file = write_job(files.path(), "remote.nomad.hcl", JOB);
    wait_for_ready_node(&address);

    // A new job: the plan would create an allocation (exit 1).
    let plan = sched(&address, &["job", "plan", &job_file]);
    expect_code(&plan, 1, "plan of a new job");
    let plan_text = text(&plan.stdout);
    assert!(plan_text.contains("+ Job: \"remote\""), "{plan_text}");
    assert!(
        plan_text.contains("Scheduler dry-run:\n- All tasks successfully allocated."),
        "{plan_text}"
    );
    assert!(plan_text.contains(&format!(
        "Job Modify Index: 0\nTo submit the job with version verification run:\n\nsched job run -check-index 0 {job_file}\n"
    )));

    // Run: the evaluation places it, the deployment succeeds.
    let run = sched(&address, &["job", "run", "-check-index", "0", &job_file]);
    expect_code(&run, 0, "job run");
    let run_text = text(&run.stdout);
    for expected in [
        "Monitoring evaluation \"",
        "Evaluation triggered by job \"remote\"",
        "created: node \"",
        "group \"g\"",
        "Evaluation status changed: \"pending\" -> \"complete\"",
        "Monitoring deployment \"",
        "successful",
    ] {
        assert!(run_text.contains(expected), "{expected:?} in\n{run_text}");
    }

    // Unchanged: nothing to do (exit 0).
    let replan = sched(&address, &["job", "plan", &job_file]);
    expect_code(&replan, 0, "plan of an unchanged job");

    let list = sched(&address, &["job", "status"]);
    expect_code(&list, 0, "job status");
    let list_text = text(&list.stdout);
    assert!(
        list_text.starts_with(
            "ID      Type     Priority  Status   Submit Date\nremote  service  50        running"
        ),
        "{list_text}"
    );

    let status = sched(&address, &["job", "status", "rem"]);
    expect_code(&status, 0, "job status by prefix");
    let status_text = text(&status.stdout);
    assert!(
        status_text.starts_with("ID            = remote\n"),
        "{status_text}"
    );
    assert!(
        status_text.contains("\nLatest Deployment\n"),
        "{status_text}"
    );
    let alloc_row = status_text.lines().last().expect("an allocation row");
    assert!(
        alloc_row.contains("  g  ") && alloc_row.contains("running"),
        "{alloc_row}"
    );
    let alloc_id = alloc_row.split_whitespace().next().expect("alloc id");
    assert_eq!(alloc_id.len(), 8, "short ids: {alloc_row}");

    let json = sched(&address, &["job", "status", "-json", "remote"]);
    expect_code(&json, 0, "job status -json");
    let job: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert_eq!(job["ID"], "remote");

    let alloc = sched(&address, &["alloc", "status", alloc_id]);
    expect_code(&alloc, 0, "alloc status");
    let alloc_text = text(&alloc.stdout);
    assert!(
        alloc_text.contains("Client Status       = running"),
        "{alloc_text}"
    );
    assert!(
        alloc_text.contains("Task \"t\" is \"running\""),
        "{alloc_text}"
    );
    assert!(alloc_text.contains("Recent Events:\nTime"), "{alloc_text}");

    let logs = sched(&address, &["alloc", "logs", alloc_id]);
    expect_code(&logs, 0, "alloc logs");
    assert_eq!(text(&logs.stdout), "hello from sched\n");

    // A stale index is refused with the server's message.
    let stale = sched(&address, &["job", "run", "-check-index", "999", &job_file]);
    expect_code(&stale, 1, "run with a stale index");
    let stale_text = text(&stale.stderr);
    assert!(
        stale_text
            .to_lowercase()
            .contains("enforcing job modify index 999"),
        "{stale_text}"
    );
    assert!(stale_text.contains("Job not updated"), "{stale_text}");

    // A changed command replaces the allocation (exit 1).
    let changed = write_job(
        files.path(),
        "changed.nomad.hcl",
        &JOB.replace("sleep 600", "sleep 601"),
    );
    let change_plan = sched(&address, &["job", "plan", &changed]);
    expect_code(&change_plan, 1, "plan of a changed job");
    assert!(
        text(&change_plan.stdout).contains("+/- Job: \"remote\""),
        "{}",
        text(&change_plan.stdout)
    );

    job_inspect_reads_the_registered_job(&address, &changed);

    let stop = sched(&address, &["job", "stop", "remote"]);
    expect_code(&stop, 0, "job stop");
    let stop_text = text(&stop.stdout);
    assert!(
        stop_text.contains("Monitoring evaluation \""),
        "{stop_text}"
    );
    assert!(
        stop_text.contains("finished with status \"complete\""),
        "{stop_text}"
    );
    let after = sched(&address, &["job", "status"]);
    assert!(
        text(&after.stdout).contains("(stopped)"),
        "{}",
        text(&after.stdout)
    );
}

/// `sched job inspect`, called with the agent running version 0 of
/// "remote": it prints `{"Job": ...}` read from the cluster, at the latest
/// version or at `-version N`; registering `changed` makes version 1.
fn job_inspect_reads_the_registered_job(address: &str, changed: &str) {
    let inspect = |args: &[&str]| -> serde_json::Value {
        let mut line = vec!["job", "inspect"];
        line.extend_from_slice(args);
        let output = sched(address, &line);
        expect_code(&output, 0, &format!("sched {line:?}"));
        serde_json::from_slice(&output.stdout).expect("JSON")
    };
    let latest = inspect(&["remote"]);
    assert_eq!(latest["Job"]["ID"], "remote", "{latest}");
    assert_eq!(latest["Job"]["Version"], 0, "{latest}");
    let by_prefix = inspect(&["-json", "rem"]);
    assert_eq!(by_prefix["Job"]["ID"], "remote", "{by_prefix}");
    assert_eq!(by_prefix["Job"]["Version"], 0, "{by_prefix}");

    let rerun = sched(address, &["job", "run", "-detach", changed]);
    expect_code(&rerun, 0, "job run of the changed job");
    let first = inspect(&["-version", "0", "remote"]);
    assert_eq!(first["Job"]["ID"], "remote", "{first}");
    assert_eq!(first["Job"]["Version"], 0, "{first}");
    let first_args = &first["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["args"];
    assert_eq!(first_args[1], "echo hello from sched; sleep 600", "{first}");
    let latest = inspect(&["remote"]);
    assert_eq!(latest["Job"]["Version"], 1, "{latest}");
    let latest_args = &latest["Job"]["TaskGroups"][0]["Tasks"][0]["Config"]["args"];
    assert_eq!(
        latest_args[1], "echo hello from sched; sleep 601",
        "{latest}"
    );

    let unknown = sched(address, &["job", "inspect", "no-such-job"]);
    expect_code(&unknown, 1, "inspect of an unknown job");
    assert!(
        text(&unknown.stderr).contains("no-such-job"),
        "{}",
        text(&unknown.stderr)
    );
    let no_version = sched(address, &["job", "inspect", "-version", "9", "remote"]);
    expect_code(&no_version, 1, "inspect of an unknown version");
    assert!(
        text(&no_version.stderr).contains("no version 9"),
        "{}",
        text(&no_version.stderr)
    );
}

#[test]
fn an_unreachable_agent_is_named_in_the_error() {
    let address = format!("http://127.0.0.1:{}", free_port());
    let output = sched(&address, &["job", "status"]);
    expect_code(&output, 1, "job status without an agent");
    let stderr = text(&output.stderr);
    assert!(stderr.starts_with("Error querying jobs: "), "{stderr}");
    assert!(
        stderr.contains(&format!("(is the agent running at {address}?)")),
        "{stderr}"
    );
}
