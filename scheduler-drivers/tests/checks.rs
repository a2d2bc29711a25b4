//! Health checks against real tasks: an http check and a tcp check on a
//! task serving on its assigned port (busybox httpd under raw_exec), a
//! script check, and the service catalog following only the changes.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use scheduler_core::driver::{PortMapping, TaskDriver};
use scheduler_core::model::{
    AllocatedPortMapping, Allocation, Job, Node, ServiceCheck, Task, TaskGroup,
};
use scheduler_core::taskenv::{TaskDirs, TaskEnv};
use scheduler_drivers::catalog::{ServiceCatalog, ServiceInstance};
use scheduler_drivers::checks::{CheckStatus, CheckUpdate, define_check, run_check};
use scheduler_drivers::raw_exec::RawExecDriver;
use tokio::sync::mpsc;

mod common;
use common::{executor, shell_task, until_logged};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn task_env(port: u16, dir: &Path) -> TaskEnv {
    let mut alloc = Allocation {
        id: "a1".into(),
        name: "web.api[0]".to_owned(),
        ..Allocation::default()
    };
    alloc
        .allocated_resources
        .shared
        .ports
        .push(AllocatedPortMapping {
            label: "http".to_owned(),
            value: i64::from(port),
            to: 0,
            host_ip: "127.0.0.1".to_owned(),
            ignore_collision: false,
        });
    let dirs = TaskDirs {
        alloc_dir: dir.join("alloc").display().to_string(),
        task_dir: dir.join("local").display().to_string(),
        secrets_dir: dir.join("secrets").display().to_string(),
    };
    TaskEnv::build(
        &Job::default(),
        &TaskGroup::default(),
        &Task {
            name: "server".to_owned(),
            ..Task::default()
        },
        &alloc,
        &Node::default(),
        &dirs,
    )
}

fn check(kind: &str, name: &str) -> ServiceCheck {
    ServiceCheck {
        name: name.to_owned(),
        r#type: kind.to_owned(),
        interval: scheduler_core::model::Duration::from_millis(100),
        timeout: scheduler_core::model::Duration::from_millis(1000),
        ..ServiceCheck::default()
    }
}

/// Check updates in arrival order, taken per check.
struct Updates {
    receiver: mpsc::UnboundedReceiver<CheckUpdate>,
    unread: Vec<CheckUpdate>,
}

impl Updates {
    fn new(receiver: mpsc::UnboundedReceiver<CheckUpdate>) -> Self {
        Self {
            receiver,
            unread: Vec::new(),
        }
    }

    /// The next update of `id`, within a bounded wait.
    async fn next(&mut self, id: &str) -> CheckUpdate {
        if let Some(position) = self.unread.iter().position(|u| u.id == id) {
            return self.unread.remove(position);
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let update = tokio::time::timeout_at(deadline, self.receiver.recv())
                .await
                .unwrap_or_else(|_| panic!("no update of {id} within 15 s"))
                .expect("checker alive");
            if update.id == id {
                return update;
            }
            self.unread.push(update);
        }
    }

    /// Everything that arrived and was not taken.
    fn drain(&mut self) -> Vec<CheckUpdate> {
        while let Ok(update) = self.receiver.try_recv() {
            self.unread.push(update);
        }
        std::mem::take(&mut self.unread)
    }
}

#[tokio::test]
async fn http_and_tcp_checks_follow_a_real_server_and_the_catalog_follows_them() {
    let root = tempfile::tempdir().expect("dir");
    let port = free_port();
    let env = task_env(port, root.path());
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox (scripts/podman-service and scripts/qemu-setup install it)");
    let mut spec = shell_task(
        root.path(),
        "server",
        &format!(
            "mkdir -p www && echo ok > www/health.txt && echo ready && \
             exec {busybox} httpd -f -p 127.0.0.1:$NOMAD_PORT_http -h www"
        ),
    );
    spec.env.extend(env.env.clone());
    spec.ports = BTreeMap::from([(
        "http".to_owned(),
        PortMapping {
            host: port,
            to: port,
        },
    )]);

    let (updates_tx, updates) = mpsc::unbounded_channel();
    let mut updates = Updates::new(updates);
    let mut http = check("http", "health");
    http.path = "/health.txt".to_owned();
    http.header
        .insert("X-Probe".to_owned(), vec!["${NOMAD_ALLOC_ID}".to_owned()]);
    let http = define_check(
        "a1/web/health".to_owned(),
        "http",
        &http,
        &env,
        spec.task_dir.clone(),
    )
    .expect("http check");
    let mut missing = check("http", "missing");
    missing.path = "/nope.txt".to_owned();
    let missing = define_check(
        "a1/web/missing".to_owned(),
        "http",
        &missing,
        &env,
        spec.task_dir.clone(),
    )
    .expect("check");
    let tcp = define_check(
        "a1/web/alive".to_owned(),
        "http",
        &check("tcp", "alive"),
        &env,
        spec.task_dir.clone(),
    )
    .expect("tcp check");

    let catalog = ServiceCatalog::new();
    catalog.register(ServiceInstance {
        id: "a1/server/web/http".to_owned(),
        service_name: "web".to_owned(),
        tags: vec!["v1".to_owned()],
        alloc_id: "a1".to_owned(),
        node_id: "n1".to_owned(),
        address: "127.0.0.1".to_owned(),
        port,
        checks: BTreeMap::from([
            (http.id.clone(), CheckStatus::Critical),
            (tcp.id.clone(), CheckStatus::Critical),
        ]),
    });

    let _checks = [
        run_check(http.clone(), updates_tx.clone()),
        run_check(tcp.clone(), updates_tx.clone()),
        run_check(missing.clone(), updates_tx.clone()),
    ];
    // Before the server runs: critical (the initial status), and nothing
    // healthy in the catalog.
    for id in [&http.id, &tcp.id, &missing.id] {
        assert_eq!(updates.next(id).await.status, CheckStatus::Critical);
    }
    assert!(catalog.query("web", None, true).is_empty());

    let driver = RawExecDriver::new(executor());
    driver.start(&spec).await.expect("start");
    until_logged(&spec, "ready").await;
    let passing = updates.next(&http.id).await;
    assert_eq!(passing.status, CheckStatus::Passing, "{passing:?}");
    assert!(passing.output.contains("200"), "{passing:?}");
    catalog.apply(&passing);
    let alive = updates.next(&tcp.id).await;
    assert_eq!(alive.status, CheckStatus::Passing);
    catalog.apply(&alive);
    let healthy = catalog.query("web", Some("v1"), true);
    assert_eq!(healthy.len(), 1);
    assert_eq!(healthy[0].port, port);

    // Only changes travel: while the server stays up, no more updates
    // for the passing checks (the missing page stays critical: no update).
    tokio::time::sleep(Duration::from_millis(800)).await;
    let quiet = updates.drain();
    assert!(quiet.is_empty(), "unexpected updates: {quiet:?}");

    driver
        .stop(&spec.id, None, Duration::from_secs(5))
        .await
        .expect("stop");
    let down = updates.next(&http.id).await;
    assert_eq!(down.status, CheckStatus::Critical);
    catalog.apply(&down);
    assert!(catalog.query("web", None, true).is_empty());
    assert_eq!(catalog.query("web", None, false).len(), 1);
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_script_check_reads_exit_codes_as_passing_warning_and_critical() {
    let root = tempfile::tempdir().expect("dir");
    let env = task_env(free_port(), root.path());
    let state = root.path().join("state-code");
    std::fs::write(&state, "1").unwrap();
    let mut script = check("script", "status");
    script.command = "/bin/sh".to_owned();
    script.args = vec![
        "-c".to_owned(),
        format!("echo \"code $(cat {0})\"; exit $(cat {0})", state.display()),
    ];
    let script = define_check(
        "a1/web/status".to_owned(),
        "http",
        &script,
        &env,
        root.path().to_owned(),
    )
    .expect("script check");
    let (updates_tx, updates) = mpsc::unbounded_channel();
    let mut updates = Updates::new(updates);
    let _check = run_check(script.clone(), updates_tx);
    assert_eq!(updates.next(&script.id).await.status, CheckStatus::Critical);
    let warning = updates.next(&script.id).await;
    assert_eq!(warning.status, CheckStatus::Warning);
    assert_eq!(warning.output, "code 1");
    std::fs::write(&state, "0").unwrap();
    assert_eq!(updates.next(&script.id).await.status, CheckStatus::Passing);
    std::fs::write(&state, "2").unwrap();
    assert_eq!(updates.next(&script.id).await.status, CheckStatus::Critical);
}
