//! `java` against a real JVM: a jar and a class compiled by the test, with
//! JVM options and arguments, exit codes, and a stop that runs the
//! program's shutdown hook. Needs root (the exec isolation) and a JDK
//! (`scripts/setup` installs one).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use scheduler_core::driver::{DriverHealth, TaskDriver, TaskSpec};
use scheduler_drivers::java::JavaDriver;

mod common;
use common::{executor, shell_task, stderr_of, stdout_of, until_logged};

const PROGRAM: &str = r#"
public class Hello {
    public static void main(String[] args) throws Exception {
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("shutdown hook ran")));
        System.out.println("args=" + String.join(",", args) + " greeting=" + System.getProperty("greeting"));
        System.out.println("maxmem=" + Runtime.getRuntime().maxMemory());
        System.out.flush();
        if (args.length == 2 && args[0].equals("exit")) {
            System.exit(Integer.parseInt(args[1]));
        }
        Thread.sleep(600_000);
    }
}
"#;

/// Compiles the program into `dir` and packs `app.jar` there.
fn build_program(dir: &Path) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("Hello.java"), PROGRAM).expect("source");
    let javac = Command::new("javac")
        .args(["--release", "17", "Hello.java"])
        .current_dir(dir)
        .status()
        .expect("javac runs (scripts/setup installs a JDK)");
    assert!(javac.success());
    let jar = Command::new("jar")
        .args(["cfe", "app.jar", "Hello", "Hello.class"])
        .current_dir(dir)
        .status()
        .expect("jar runs");
    assert!(jar.success());
}

fn java_task(root: &Path, name: &str, config: serde_json::Value) -> TaskSpec {
    let mut spec = shell_task(root, name, "unused");
    build_program(&spec.task_dir.join("local"));
    spec.config = serde_json::from_value(config).expect("config");
    spec.memory_mb = 256;
    spec
}

#[tokio::test]
async fn a_jar_runs_with_jvm_options_and_arguments_and_reports_its_exit_code() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the java driver tests need root (CI runs as root)"
    );
    let driver = JavaDriver::new(executor());
    let fingerprint = driver.fingerprint().await.expect("fingerprint");
    assert_eq!(fingerprint.health, DriverHealth::Healthy, "{fingerprint:?}");
    assert!(
        fingerprint.attributes["driver.java.version"].starts_with("17"),
        "{fingerprint:?}"
    );

    let root = tempfile::tempdir().expect("dir");
    let spec = java_task(
        root.path(),
        "jar",
        serde_json::json!({
            "jar_path": "local/app.jar",
            "jvm_options": ["-Dgreeting=hello", "-Xmx64m"],
            "args": ["exit", "4"]
        }),
    );
    driver.start(&spec).await.expect("start");
    let exit = tokio::time::timeout(Duration::from_secs(60), driver.wait(&spec.id))
        .await
        .expect("the JVM ends")
        .expect("wait");
    assert_eq!(exit.exit_code, 4, "{exit:?}; stderr {}", stderr_of(&spec));
    assert!(
        stdout_of(&spec).contains("args=exit,4 greeting=hello"),
        "{}",
        stdout_of(&spec)
    );
    // -Xmx64m is honoured; the heap fits the task's memory.
    assert!(stdout_of(&spec).contains("maxmem="), "{}", stdout_of(&spec));
    driver.destroy(&spec.id).await.expect("destroy");

    // Without -Xmx the JVM sizes its heap from the cgroup limit it runs
    // under (256 MiB here), not from the host's memory.
    let spec = java_task(
        root.path(),
        "limited",
        serde_json::json!({"class": "Hello", "class_path": "/local", "args": ["exit", "0"]}),
    );
    driver.start(&spec).await.expect("start");
    let exit = tokio::time::timeout(Duration::from_secs(60), driver.wait(&spec.id))
        .await
        .expect("the JVM ends")
        .expect("wait");
    assert!(exit.successful(), "{exit:?}; stderr {}", stderr_of(&spec));
    let out = stdout_of(&spec);
    let max: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("maxmem="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxmem line: {out}"));
    assert!(max <= 256 << 20, "heap {max} bytes under a 256 MiB limit");
    driver.destroy(&spec.id).await.expect("destroy");
}

#[tokio::test]
async fn a_class_on_a_class_path_stops_gracefully_through_its_shutdown_hook() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "the java driver tests need root (CI runs as root)"
    );
    let driver = JavaDriver::new(executor());
    let root = tempfile::tempdir().expect("dir");
    let spec = java_task(
        root.path(),
        "class",
        serde_json::json!({"class": "Hello", "class_path": "/local", "args": ["serve"]}),
    );
    driver.start(&spec).await.expect("start");
    until_logged(&spec, "args=serve greeting=null").await;
    let exit = driver
        .stop(&spec.id, None, Duration::from_secs(20))
        .await
        .expect("stop");
    // The JVM exits 143 (128 + SIGTERM) after running its hooks.
    assert_eq!(exit.exit_code, 143, "{exit:?}");
    assert!(stdout_of(&spec).contains("shutdown hook ran"));
    driver.destroy(&spec.id).await.expect("destroy");
}
