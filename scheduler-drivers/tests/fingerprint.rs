//! The node fingerprint of this very machine, with the real drivers.

use std::collections::BTreeMap;
use std::sync::Arc;

use scheduler_core::driver::TaskDriver;
use scheduler_drivers::docker::{DockerDriver, locate_socket};
use scheduler_drivers::exec::ExecDriver;
use scheduler_drivers::fingerprint::{NodeIdentity, fingerprint_node};
use scheduler_drivers::java::JavaDriver;
use scheduler_drivers::qemu::QemuDriver;
use scheduler_drivers::raw_exec::RawExecDriver;

mod common;
use common::executor;

#[tokio::test]
async fn the_fingerprint_describes_this_machine_and_its_drivers() {
    let data_dir = tempfile::tempdir().expect("dir");
    let socket = locate_socket().expect("a Docker API socket (scripts/podman-service start)");
    let drivers: Vec<Arc<dyn TaskDriver>> = vec![
        Arc::new(RawExecDriver::new(executor())),
        Arc::new(ExecDriver::new(executor())),
        Arc::new(JavaDriver::new(executor())),
        Arc::new(QemuDriver::new(executor())),
        Arc::new(DockerDriver::connect(&socket).await.expect("docker")),
    ];
    let identity = NodeIdentity {
        id: "node-1".to_owned(),
        name: String::new(),
        datacenter: "dc1".to_owned(),
        node_class: "test".to_owned(),
        node_pool: String::new(),
        meta: BTreeMap::from([("rack".to_owned(), "r1".to_owned())]),
        data_dir: data_dir.path().to_owned(),
        network_interface: None,
        drivers,
        now_rfc3339: "2026-12-05T00:00:00Z".to_owned(),
    };
    let node = fingerprint_node(&identity).await;
    let attr = |key: &str| node.attributes.get(key).cloned().unwrap_or_default();

    let cores = std::thread::available_parallelism().unwrap().get();
    assert_eq!(attr("cpu.numcores"), cores.to_string());
    assert_eq!(node.node_resources.cpu.total_cpu_cores as usize, cores);
    assert!(node.node_resources.cpu.cpu_shares.0 >= 1000 * cores as i64 / 2);
    assert!(
        node.node_resources.memory.memory_mb.0 > 512,
        "{:?}",
        node.node_resources.memory
    );
    assert!(node.node_resources.disk.disk_mb.0 > 0);
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(attr("unique.hostname"), hostname.trim());
    assert_eq!(
        node.name,
        hostname.trim(),
        "the name defaults to the hostname"
    );
    assert_eq!(attr("kernel.name"), "linux");
    assert!(!attr("kernel.version").is_empty());
    assert!(!attr("os.name").is_empty());
    assert!(
        attr("unique.network.ip-address")
            .parse::<std::net::IpAddr>()
            .is_ok()
    );
    assert_eq!(node.node_pool, "default");
    assert_eq!(node.meta["rack"], "r1");
    assert!(!node.computed_class.is_empty());

    for name in ["raw_exec", "exec", "java", "qemu", "docker"] {
        let driver = &node.drivers[name];
        assert!(driver.detected && driver.healthy, "{name}: {driver:?}");
    }
    assert!(attr("driver.java.version").starts_with("17"));
    assert!(!attr("driver.docker.version").is_empty());
    assert!(!attr("driver.qemu.version").is_empty());
    assert_eq!(attr("driver.raw_exec"), "1");
}
