//! `exec` against real processes: namespaces, the task root, the user,
//! cgroup limits (a task over its memory limit is killed and reported as
//! such), stop and signals through the namespace's init. Needs root, as
//! the driver does; CI runs as root.

use std::time::Duration;

use scheduler_core::driver::{DriverError, TaskDriver};
use scheduler_drivers::exec::ExecDriver;

mod common;
use common::{executor, shell_task, stderr_of, stdout_of, until_logged};

fn driver() -> ExecDriver {
    ExecDriver::new(executor())
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

#[tokio::test]
async fn without_root_the_driver_says_it_needs_root() {
    if is_root() {
        // Covered by the tests below; here only the fingerprint.
        let fingerprint = driver().fingerprint().await.expect("fingerprint");
        assert_eq!(
            fingerprint.health,
            scheduler_core::driver::DriverHealth::Healthy
        );
        return;
    }
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(root.path(), "t", "true");
    let err = driver().start(&spec).await.unwrap_err();
    assert!(err.to_string().contains("needs root"), "{err}");
}

#[tokio::test]
async fn a_task_sees_only_its_root_runs_as_nobody_and_is_pid_2_under_init() {
    assert!(
        is_root(),
        "the exec driver tests need root (CI runs as root)"
    );
    let root = tempfile::tempdir().expect("dir");
    std::fs::write(root.path().join("host-secret"), "x").expect("marker");
    let mut spec = shell_task(
        root.path(),
        "isolated",
        "echo uid=$(id -u) pid=$$ host=$(hostname); ls /; \
         echo shared > /alloc/from-task; echo mine > /local/file; \
         if echo x > /usr/probe 2>/dev/null; then echo usr-writable; else echo usr-read-only; fi; \
         echo limit=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes); \
         ls /proc | grep -c '^[0-9]'",
    );
    spec.alloc_id = "f00dcafe-1234".to_owned();
    let driver = driver();
    driver.start(&spec).await.expect("start");
    let exit = driver.wait(&spec.id).await.expect("wait");
    assert!(exit.successful(), "{exit:?}; stderr {}", stderr_of(&spec));
    let out = stdout_of(&spec);
    let nobody = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    assert!(
        out.contains(&format!("uid={} pid=2 host=f00dcafe", nobody.uid)),
        "{out}"
    );
    let listing: Vec<&str> = out
        .lines()
        .skip(1)
        .take_while(|l| !l.starts_with("usr-"))
        .collect();
    for expected in ["alloc", "local", "usr", "bin", "proc", "tmp"] {
        assert!(
            listing.contains(&expected),
            "{expected} missing from {listing:?}"
        );
    }
    for absent in ["root", "home", "host-secret", "var"] {
        assert!(
            !listing.contains(&absent),
            "{absent} visible in {listing:?}"
        );
    }
    assert!(out.contains("usr-read-only"), "{out}");
    // Its own cgroup limit, as runtimes that size themselves read it.
    assert!(out.contains(&format!("limit={}", 64u64 << 20)), "{out}");
    // Its own pid namespace: init, the shell and its few children.
    let processes: u32 = out.lines().last().unwrap().trim().parse().expect("count");
    assert!(processes <= 5, "{processes} processes visible: {out}");
    assert_eq!(
        std::fs::read_to_string(spec.alloc_dir.join("from-task")).unwrap(),
        "shared\n"
    );
    assert_eq!(
        std::fs::read_to_string(spec.task_dir.join("local/file")).unwrap(),
        "mine\n"
    );
    // The mounts lived in the task's namespace only.
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    assert!(!mounts.contains(&spec.task_dir.display().to_string()));
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_task_over_its_memory_limit_is_killed_and_reported_oom() {
    assert!(
        is_root(),
        "the exec driver tests need root (CI runs as root)"
    );
    let root = tempfile::tempdir().expect("dir");
    let mut spec = shell_task(
        root.path(),
        "hungry",
        "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived ${#x}",
    );
    spec.memory_mb = 32;
    let driver = driver();
    driver.start(&spec).await.expect("start");
    let exit = tokio::time::timeout(Duration::from_secs(60), driver.wait(&spec.id))
        .await
        .expect("the task ends")
        .expect("wait");
    assert!(exit.oom_killed, "{exit:?}; stdout {}", stdout_of(&spec));
    assert!(!stdout_of(&spec).contains("survived"));
    // The task's cgroup is gone with it.
    assert!(!std::path::Path::new("/sys/fs/cgroup/memory/sched/a1.hungry").exists());
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn stop_and_signals_reach_the_task_through_init() {
    assert!(
        is_root(),
        "the exec driver tests need root (CI runs as root)"
    );
    let root = tempfile::tempdir().expect("dir");
    let spec = shell_task(
        root.path(),
        "served",
        "trap 'echo got HUP' HUP; trap 'echo got TERM; exit 0' TERM; echo ready; \
         while :; do sleep 0.05; done",
    );
    let driver = driver();
    driver.start(&spec).await.expect("start");
    until_logged(&spec, "ready").await;
    let stats = driver.stats(&spec.id).await.expect("stats");
    assert!(stats.processes >= 2, "init and the shell: {stats:?}");
    assert!(std::path::Path::new("/sys/fs/cgroup/memory/sched/a1.served").exists());
    driver.signal(&spec.id, "SIGHUP").await.expect("signal");
    until_logged(&spec, "got HUP").await;
    let exit = driver
        .stop(&spec.id, None, Duration::from_secs(5))
        .await
        .expect("stop");
    assert!(exit.successful(), "{exit:?}");
    assert!(stdout_of(&spec).contains("got TERM"));
    let err = driver.signal(&spec.id, "SIGHUP").await.unwrap_err();
    assert!(matches!(err, DriverError::Io(_)), "{err}");
    driver.destroy(&spec.id).await.expect("destroy");
}
