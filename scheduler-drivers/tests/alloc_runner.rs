//! The allocation runner with real processes: a job file's lifecycle
//! hooks in order, the task environment, a failing prestart, and a client
//! that dies and comes back re-attaching to its running task.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use scheduler_core::driver::TaskDriver;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{
    AllocClientStatus, AllocatedPortMapping, Allocation, Node, TaskRunState,
};
use scheduler_drivers::alloc_runner::{ClientContext, restore_alloc, run_alloc};
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::logs::log_files;
use scheduler_drivers::raw_exec::RawExecDriver;

mod common;
use common::executor;

fn context(data_dir: &Path) -> Arc<ClientContext> {
    let driver: Arc<dyn TaskDriver> = Arc::new(RawExecDriver::new(executor()));
    let mut node = Node {
        datacenter: "dc1".to_owned(),
        ..Node::default()
    };
    node.attributes.insert(
        "unique.network.ip-address".to_owned(),
        "127.0.0.1".to_owned(),
    );
    Arc::new(ClientContext {
        data_dir: data_dir.to_owned(),
        node,
        drivers: BTreeMap::from([("raw_exec".to_owned(), driver)]),
        state: Arc::new(ClientState::open(data_dir).expect("client state")),
        catalog: Arc::new(ServiceCatalog::new()),
    })
}

fn allocation(hcl: &str, id: &str, port: u16) -> Allocation {
    let job = parse(hcl, &ParseOptions::new("app.nomad.hcl"))
        .unwrap_or_else(|e| panic!("job file: {e:?}"))
        .job;
    let group = job.task_groups[0].name.clone();
    let mut alloc = Allocation {
        id: id.into(),
        name: format!("{}.{group}[2]", job.id),
        task_group: group,
        job: Some(Arc::new(job)),
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
    alloc
}

fn task_log(data_dir: &Path, alloc: &str, task: &str) -> String {
    log_files(
        &data_dir.join("allocs").join(alloc).join("alloc/logs"),
        task,
        "stdout",
    )
    .iter()
    .map(|f| std::fs::read_to_string(f).unwrap())
    .collect()
}

const LIFECYCLE: &str = r#"
job "app" {
  type = "batch"
  group "app" {
    restart { attempts = 0 }
    task "init" {
      driver = "raw_exec"
      lifecycle { hook = "prestart" }
      config {
        command = "/bin/sh"
        args = ["-c", "echo prepared > $NOMAD_ALLOC_DIR/data/init.txt; echo init >> $NOMAD_ALLOC_DIR/data/order"]
      }
    }
    task "proxy" {
      driver = "raw_exec"
      lifecycle {
        hook    = "prestart"
        sidecar = true
      }
      config {
        command = "/bin/sh"
        args = ["-c", "trap 'echo proxy-down >> $NOMAD_ALLOC_DIR/data/order; exit 0' TERM; while :; do sleep 0.05; done"]
      }
    }
    task "main" {
      driver = "raw_exec"
      meta { role = "worker" }
      config {
        command = "/bin/sh"
        args = ["-c", "cat $NOMAD_ALLOC_DIR/data/init.txt; echo \"index=$NOMAD_ALLOC_INDEX port=$NOMAD_PORT_http role=$NOMAD_META_role name=${NOMAD_TASK_NAME}\"; echo main >> $NOMAD_ALLOC_DIR/data/order"]
      }
    }
    task "cleanup" {
      driver = "raw_exec"
      lifecycle { hook = "poststop" }
      config {
        command = "/bin/sh"
        args = ["-c", "echo cleanup >> $NOMAD_ALLOC_DIR/data/order"]
      }
    }
  }
}
"#;

#[tokio::test]
async fn lifecycle_hooks_run_in_order_around_the_main_task() {
    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let alloc = allocation(LIFECYCLE, "a-lifecycle", 23456);
    let runner = run_alloc(ctx, alloc).expect("runs");
    let status = tokio::time::timeout(Duration::from_secs(30), runner.finished())
        .await
        .expect("finishes");
    assert_eq!(
        status.client_status,
        AllocClientStatus::Complete,
        "{status:?}"
    );
    let order = std::fs::read_to_string(data.path().join("allocs/a-lifecycle/alloc/data/order"))
        .expect("order");
    assert_eq!(order, "init\nmain\nproxy-down\ncleanup\n");
    assert_eq!(
        task_log(data.path(), "a-lifecycle", "main"),
        "prepared\nindex=2 port=23456 role=worker name=main\n"
    );
    for task in ["init", "proxy", "main", "cleanup"] {
        let state = &status.task_states[task];
        assert_eq!(state.state, TaskRunState::Dead, "{task}");
        assert!(!state.failed, "{task}: {state:?}");
    }
}

#[tokio::test]
async fn a_failing_prestart_task_fails_the_allocation_before_the_main_task() {
    let data = tempfile::tempdir().expect("dir");
    let hcl = LIFECYCLE.replace("echo prepared >", "exit 3; echo prepared >");
    let runner = run_alloc(context(data.path()), allocation(&hcl, "a-fails", 23457)).expect("runs");
    let status = tokio::time::timeout(Duration::from_secs(30), runner.finished())
        .await
        .expect("finishes");
    assert_eq!(status.client_status, AllocClientStatus::Failed);
    assert!(status.task_states["init"].failed);
    assert!(
        !status.task_states.contains_key("main"),
        "main never started"
    );
    let order = std::fs::read_to_string(data.path().join("allocs/a-fails/alloc/data/order"))
        .unwrap_or_default();
    assert_eq!(order, "cleanup\n", "poststop still runs");
}

const SERVICE: &str = r#"
job "web" {
  group "web" {
    task "server" {
      driver = "raw_exec"
      config {
        command = "/bin/sh"
        args = ["-c", "echo started; trap 'echo stopping; exit 0' TERM; while :; do sleep 0.05; done"]
      }
    }
  }
}
"#;

#[test]
fn a_restarted_client_re_attaches_to_its_running_task() {
    let data = tempfile::tempdir().expect("dir");
    // The first client: its own runtime, shut down as if the process died.
    {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        runtime.block_on(async {
            let runner =
                run_alloc(context(data.path()), allocation(SERVICE, "a-web", 23458)).expect("runs");
            let mut status = runner.status.clone();
            tokio::time::timeout(
                Duration::from_secs(20),
                status.wait_for(|s| {
                    s.task_states
                        .get("server")
                        .is_some_and(|t| t.state == TaskRunState::Running)
                }),
            )
            .await
            .expect("running")
            .expect("status");
            // The handle reaches the state file.
            for _ in 0..100 {
                let persisted = ClientState::open(data.path()).unwrap().allocs();
                if persisted["a-web"]
                    .tasks
                    .get("server")
                    .is_some_and(|t| t.handle.is_some())
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        runtime.shutdown_timeout(Duration::from_millis(100));
    }
    assert_eq!(task_log(data.path(), "a-web", "server"), "started\n");

    // The second client reads its state and re-attaches.
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let ctx = context(data.path());
        let persisted = ctx.state.allocs();
        assert_eq!(persisted.len(), 1);
        let runner = restore_alloc(ctx, persisted["a-web"].clone()).expect("restores");
        let mut status = runner.status.clone();
        tokio::time::timeout(
            Duration::from_secs(20),
            status.wait_for(|s| {
                s.task_states
                    .get("server")
                    .is_some_and(|t| t.state == TaskRunState::Running)
            }),
        )
        .await
        .expect("running again")
        .expect("status");
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Re-attached, not started again.
        assert_eq!(task_log(data.path(), "a-web", "server"), "started\n");
        let events: Vec<String> = status.borrow().task_states["server"]
            .events
            .iter()
            .map(|e| e.event_type.clone())
            .collect();
        assert_eq!(events, ["Received", "Started"], "no second start");
        runner.stop();
        let status = tokio::time::timeout(Duration::from_secs(20), runner.finished())
            .await
            .expect("stops");
        assert_eq!(status.client_status, AllocClientStatus::Complete);
        assert_eq!(
            task_log(data.path(), "a-web", "server"),
            "started\nstopping\n",
            "the stop reached the re-attached task"
        );
    });
}

fn service_job(check_path: &str) -> String {
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).is_file())
        .expect("busybox (scripts/podman-service and scripts/qemu-setup install it)");
    format!(
        r#"
job "myapp" {{
  group "api" {{
    update {{
      min_healthy_time = "1s"
      healthy_deadline = "4s"
    }}
    migrate {{
      min_healthy_time = "1s"
      healthy_deadline = "30s"
    }}
    network {{
      port "http" {{}}
    }}
    service {{
      name     = "myapp-api"
      port     = "http"
      tags     = ["v1", "dc-${{node.datacenter}}"]
      provider = "nomad"
      check {{
        type     = "http"
        path     = "{check_path}"
        interval = "1s"
        timeout  = "1s"
      }}
    }}
    task "web" {{
      driver = "raw_exec"
      config {{
        command = "/bin/sh"
        args    = ["-c", "mkdir -p www && echo ok > www/health.txt && exec {busybox} httpd -f -p 127.0.0.1:${{NOMAD_PORT_http}} -h www"]
      }}
    }}
  }}
}}
"#
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_service_is_registered_checked_and_the_allocation_becomes_healthy() {
    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let catalog = ctx.catalog.clone();
    let port = free_port();
    let mut alloc = allocation(&service_job("/health.txt"), "a-api", port);
    alloc.deployment_id = "d1".into();
    let runner = run_alloc(ctx, alloc).expect("runs");
    let mut status = runner.status.clone();
    let healthy = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.health.healthy.is_some()),
    )
    .await
    .expect("a verdict")
    .expect("status")
    .clone();
    assert_eq!(healthy.health.healthy, Some(true), "{:?}", healthy.health);
    let instances = catalog.query("myapp-api", Some("dc-dc1"), true);
    assert_eq!(instances.len(), 1, "registered, tags interpolated, passing");
    assert_eq!(instances[0].port, port);
    assert_eq!(instances[0].address, "127.0.0.1");
    runner.stop();
    runner.finished().await;
    assert!(
        catalog.query("myapp-api", None, false).is_empty(),
        "deregistered with the allocation"
    );
}

/// A service allocation outside any deployment (a drain's replacement) is
/// judged by its group's `migrate` block, which the drainer waits on.
#[tokio::test]
async fn an_allocation_outside_a_deployment_is_judged_by_its_migrate_block() {
    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let alloc = allocation(&service_job("/missing.txt"), "a-moved", free_port());
    assert!(alloc.deployment_id.is_empty());
    let runner = run_alloc(ctx, alloc).expect("runs");
    let mut status = runner.status.clone();
    // The update block's 4 s deadline would have given its verdict by now;
    // migrate's 30 s has not.
    let early = tokio::time::timeout(
        Duration::from_secs(6),
        status.wait_for(|s| s.health.healthy.is_some()),
    )
    .await;
    assert!(early.is_err(), "judged by the update block: {early:?}");
    runner.stop();
    runner.finished().await;

    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let port = free_port();
    let runner = run_alloc(
        ctx,
        allocation(&service_job("/health.txt"), "a-moved-ok", port),
    )
    .expect("runs");
    let mut status = runner.status.clone();
    let verdict = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.health.healthy.is_some()),
    )
    .await
    .expect("a verdict without a deployment")
    .expect("status")
    .clone();
    assert_eq!(verdict.health.healthy, Some(true), "{:?}", verdict.health);
    runner.stop();
    runner.finished().await;
}

#[tokio::test]
async fn a_failing_check_makes_the_allocation_unhealthy_at_the_deadline() {
    let data = tempfile::tempdir().expect("dir");
    let ctx = context(data.path());
    let catalog = ctx.catalog.clone();
    let mut alloc = allocation(&service_job("/missing.txt"), "a-sick", free_port());
    alloc.deployment_id = "d1".into();
    let runner = run_alloc(ctx, alloc).expect("runs");
    let mut status = runner.status.clone();
    let started = tokio::time::Instant::now();
    let verdict = tokio::time::timeout(
        Duration::from_secs(20),
        status.wait_for(|s| s.health.healthy.is_some()),
    )
    .await
    .expect("a verdict")
    .expect("status")
    .clone();
    assert_eq!(verdict.health.healthy, Some(false));
    assert_eq!(verdict.health.description, "healthy deadline reached");
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "not before the deadline"
    );
    assert!(catalog.query("myapp-api", None, true).is_empty());
    assert_eq!(catalog.query("myapp-api", None, false).len(), 1);
    runner.stop();
    runner.finished().await;
}
