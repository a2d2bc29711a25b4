//! `qemu` against a real virtual machine: Debian's cloud kernel and a
//! busybox initramfs this test builds, under TCG where KVM does not work.
//! The guest serves on its forwarded port and powers off when stop presses
//! its ACPI power button through QMP. Needs `scripts/qemu-setup` (run by
//! `scripts/test`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use scheduler_core::driver::{DriverHealth, PortMapping, TaskDriver};
use scheduler_drivers::qemu::QemuDriver;

mod common;
use common::{executor, shell_task, stdout_of};

#[path = "common/vm.rs"]
mod vm;

async fn until_logged_within(spec: &scheduler_core::driver::TaskSpec, text: &str, limit: Duration) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < limit {
        if stdout_of(spec).contains(text) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{text:?} not logged within {limit:?}; console: {}",
        stdout_of(spec)
    );
}

#[tokio::test]
async fn a_vm_boots_serves_on_its_forwarded_port_and_powers_off_gracefully() {
    let driver = QemuDriver::new(executor());
    let fingerprint = driver.fingerprint().await.expect("fingerprint");
    assert_eq!(fingerprint.health, DriverHealth::Healthy, "{fingerprint:?}");
    assert!(fingerprint.attributes.contains_key("driver.qemu.version"));
    assert!(fingerprint.attributes.contains_key("driver.qemu.kvm"));

    let root = tempfile::tempdir().expect("dir");
    let mut spec = shell_task(root.path(), "vm", "unused");
    let local = spec.task_dir.join("local");
    std::fs::create_dir_all(&local).unwrap();
    std::fs::write(local.join("disk.img"), vec![0u8; 1 << 20]).unwrap();
    let initramfs = local.join("initramfs.cpio");
    vm::build_initramfs(&initramfs);
    let host_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    spec.ports = BTreeMap::from([(
        "http".to_owned(),
        PortMapping {
            host: host_port,
            to: 8080,
        },
    )]);
    spec.memory_mb = 256;
    spec.config = serde_json::from_value(serde_json::json!({
        "image_path": "local/disk.img",
        "graceful_shutdown": true,
        "port_map": [{"http": 8080}],
        "args": [
            "-kernel", vm::kernel().display().to_string(),
            "-initrd", initramfs.display().to_string(),
            "-append", "console=ttyS0 quiet panic=-1",
            "-no-reboot"
        ]
    }))
    .unwrap();
    driver.start(&spec).await.expect("start");
    until_logged_within(&spec, "guest: ready", Duration::from_secs(180)).await;
    // The guest has the task's memory (256 MiB), not the host's.
    let console = stdout_of(&spec);
    let total_kb: u64 = console
        .lines()
        .find_map(|l| l.strip_prefix("guest: MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no MemTotal line: {console}"));
    assert!(
        (128 * 1024..=256 * 1024).contains(&total_kb),
        "guest memory {total_kb} kB for a 256 MiB task"
    );

    // The guest's httpd through the forwarded host port (bounded retries).
    let mut body = String::new();
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", host_port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = stream.write_all(b"GET /health.txt HTTP/1.0\r\n\r\n");
            body.clear();
            let _ = stream.read_to_string(&mut body);
            if body.contains(" 200") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(body.contains(" 200") && body.ends_with("ok\n"), "{body:?}");

    let stats = driver.stats(&spec.id).await.expect("stats");
    assert!(stats.memory_rss_bytes > 0);

    let exit = driver
        .stop(&spec.id, None, Duration::from_secs(60))
        .await
        .expect("stop");
    let console = stdout_of(&spec);
    assert!(
        console.contains("guest: power button pressed") && console.contains("reboot: Power down"),
        "the guest shut itself down; console: {console}"
    );
    assert_eq!(exit.signal, None, "qemu exited on its own: {exit:?}");
    assert_eq!(exit.exit_code, 0, "{exit:?}");
    driver.destroy(&spec.id).await.expect("destroy");
}
