//! `docker` against a real engine: podman's Docker-compatible API socket,
//! which `scripts/podman-service start` installs and starts (the test
//! command runs it), with a busybox image built from Debian's
//! busybox-static. Containers: exit codes, env, labels, logs, limits,
//! port mappings, signals, stop escalation, re-attach.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use scheduler_core::driver::{DriverHealth, PortMapping, TaskDriver, TaskSpec};
use scheduler_drivers::docker::{DockerDriver, TASK_LABEL, locate_socket};

mod common;
use common::{shell_task, stderr_of, stdout_of, until_logged};

const IMAGE: &str = "localhost/sched-busybox:latest";

fn socket() -> String {
    locate_socket()
        .expect("no Docker API socket: run `scripts/podman-service start` (scripts/test does)")
}

async fn driver() -> DockerDriver {
    DockerDriver::connect(&socket()).await.expect("connect")
}

/// A busybox container running `sh -c SCRIPT`, with a unique allocation
/// id so parallel tests never share container names.
fn container_task(root: &std::path::Path, name: &str, script: &str) -> TaskSpec {
    let mut spec = shell_task(root, name, script);
    spec.alloc_id = format!(
        "{}-{}",
        name,
        root.file_name()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches('.')
    )
    .to_ascii_lowercase();
    spec.id = format!("{}/{name}", spec.alloc_id);
    spec.config = BTreeMap::from([
        ("image".to_owned(), serde_json::json!(IMAGE)),
        ("command".to_owned(), serde_json::json!("/bin/sh")),
        ("args".to_owned(), serde_json::json!(["-c", script])),
        (
            "labels".to_owned(),
            serde_json::json!([{"team": "platform"}]),
        ),
    ]);
    spec
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_container_runs_with_env_labels_and_limits_and_reports_its_exit_code() {
    let driver = driver().await;
    let fingerprint = driver.fingerprint().await.expect("fingerprint");
    assert_eq!(fingerprint.health, DriverHealth::Healthy, "{fingerprint:?}");
    assert!(fingerprint.attributes.contains_key("driver.docker.version"));

    let root = tempfile::tempdir().expect("dir");
    let mut spec = container_task(
        root.path(),
        "web",
        "echo \"$GREETING from the container\"; echo oops >&2; sleep 0.5; exit 3",
    );
    spec.memory_mb = 48;
    driver.start(&spec).await.expect("start");

    let engine = bollard::Docker::connect_with_unix(&socket(), 60, bollard::API_DEFAULT_VERSION)
        .unwrap()
        .negotiate_version()
        .await
        .unwrap();
    let name = format!("web-{}", spec.alloc_id);
    // Podman may briefly answer with a status bollard cannot decode
    // ("stopped", between exit and clean-up): ask again, bounded.
    let mut inspect = None;
    for _ in 0..100 {
        match engine.inspect_container(&name, None).await {
            Ok(answer) => {
                inspect = Some(answer);
                break;
            }
            Err(bollard::errors::Error::JsonDataError { .. }) => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("inspect: {err}"),
        }
    }
    let inspect = inspect.expect("inspect within 5 s");
    let labels = inspect.config.unwrap().labels.unwrap();
    assert_eq!(labels[TASK_LABEL], spec.id);
    assert_eq!(labels["team"], "platform");
    assert_eq!(
        inspect.host_config.unwrap().memory,
        Some(48 << 20),
        "the memory limit is set"
    );

    let exit = driver.wait(&spec.id).await.expect("wait");
    assert_eq!(exit.exit_code, 3, "{exit:?}");
    until_logged(&spec, "hello from the container").await;
    for _ in 0..100 {
        if stderr_of(&spec).contains("oops") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(stderr_of(&spec), "oops\n");
    driver.destroy(&spec.id).await.expect("destroy");
    assert!(
        engine.inspect_container(&name, None).await.is_err(),
        "removed"
    );
}

#[tokio::test]
async fn a_container_over_its_memory_limit_is_killed_and_reported_oom() {
    let driver = driver().await;
    let root = tempfile::tempdir().expect("dir");
    let mut spec = container_task(
        root.path(),
        "hungry",
        "sleep 0.5; x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
    );
    spec.memory_mb = 24;
    driver.start(&spec).await.expect("start");
    let exit = tokio::time::timeout(Duration::from_secs(60), driver.wait(&spec.id))
        .await
        .expect("ends")
        .expect("wait");
    // runc on cgroup v1 reports OOMKilled false; the driver saw the kill
    // in the container's memory cgroup.
    assert_eq!(exit.exit_code, 137, "{exit:?}");
    assert!(exit.oom_killed, "{exit:?}");
    assert!(!stdout_of(&spec).contains("survived"));
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_mapped_port_serves_from_the_container_and_stop_is_graceful() {
    let driver = driver().await;
    let root = tempfile::tempdir().expect("dir");
    let host_port = free_port();
    let mut spec = container_task(
        root.path(),
        "api",
        "mkdir -p /www && echo ok > /www/health.txt && \
         trap 'echo got TERM; exit 0' TERM; httpd -f -p 8080 -h /www & \
         echo ready; while :; do sleep 0.1; done",
    );
    spec.ports = BTreeMap::from([(
        "http".to_owned(),
        PortMapping {
            host: host_port,
            to: 8080,
        },
    )]);
    spec.config
        .insert("ports".to_owned(), serde_json::json!(["http"]));
    driver.start(&spec).await.expect("start");
    until_logged(&spec, "ready").await;

    // GET /health.txt on the host port (bounded retries while httpd starts).
    let mut body = String::new();
    for _ in 0..50 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", host_port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = stream.write_all(b"GET /health.txt HTTP/1.0\r\n\r\n");
            body.clear();
            let _ = stream.read_to_string(&mut body);
            if body.contains("200") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        body.starts_with("HTTP/1.") && body.contains(" 200"),
        "{body:?}"
    );
    assert!(body.ends_with("ok\n"), "{body:?}");

    driver.signal(&spec.id, "SIGHUP").await.ok();
    let exit = driver
        .stop(&spec.id, None, Duration::from_secs(10))
        .await
        .expect("stop");
    assert_eq!(exit.exit_code, 0, "{exit:?}");
    until_logged(&spec, "got TERM").await;
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_container_ignoring_its_signal_is_killed_and_a_new_driver_re_attaches() {
    let root = tempfile::tempdir().expect("dir");
    let spec = container_task(
        root.path(),
        "stubborn",
        "trap '' TERM; echo ready; while :; do sleep 0.1; done",
    );
    let handle = {
        let first = driver().await;
        let handle = first.start(&spec).await.expect("start");
        until_logged(&spec, "ready").await;
        handle
    };
    let second = driver().await;
    second.recover(&handle).await.expect("recover");
    let stats = second.stats(&spec.id).await.expect("stats");
    assert!(stats.processes >= 1, "{stats:?}");
    let started = tokio::time::Instant::now();
    let exit = second
        .stop(&spec.id, Some("SIGTERM"), Duration::from_millis(800))
        .await
        .expect("stop");
    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(exit.exit_code, 137, "{exit:?}");
    assert_eq!(stdout_of(&spec).matches("ready").count(), 1, "one copy ran");
    second.destroy(&spec.id).await.expect("destroy");
    let err = second.recover(&handle).await.unwrap_err();
    assert!(err.to_string().contains("cannot be recovered"), "{err}");
}
