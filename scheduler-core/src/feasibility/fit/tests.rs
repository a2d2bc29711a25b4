//! Tests of the fit function: each dimension, reservations, ports, and an
//! arithmetic oracle.
use super::*;
use crate::model::{
    AllocClientStatus, AllocDesiredStatus, AllocatedPortMapping, AllocatedTaskResources,
    NodeNetworkAddress, NodeNetworkResource, Port, Task,
};
use proptest::prelude::*;

fn node(cpu: i64, memory: i64, disk: i64) -> Node {
    let mut node = Node::default();
    node.node_resources.cpu.cpu_shares = MHz(cpu);
    node.node_resources.cpu.total_cpu_cores = 4;
    node.node_resources.memory.memory_mb = MiB(memory);
    node.node_resources.disk.disk_mb = MiB(disk);
    node.node_resources.networks.push(NetworkResource {
        device: "eth0".to_owned(),
        ip: "10.0.0.1".to_owned(),
        mbits: Some(Mbits(1000)),
        ..NetworkResource::default()
    });
    node
}

fn alloc(cpu: i64, memory: i64, disk: i64, ports: &[u16]) -> Allocation {
    let mut alloc = Allocation::default();
    let resources = &mut alloc.allocated_resources;
    let mut task = AllocatedTaskResources::default();
    task.cpu.cpu_shares = MHz(cpu);
    task.memory.memory_mb = MiB(memory);
    resources.tasks.insert("web".to_owned(), task);
    resources.shared.disk_mb = MiB(disk);
    resources.shared.ports = ports
        .iter()
        .map(|&port| AllocatedPortMapping {
            label: format!("p{port}"),
            value: i64::from(port),
            host_ip: "10.0.0.1".to_owned(),
            ..AllocatedPortMapping::default()
        })
        .collect();
    alloc
}

fn static_port(port: u16) -> Port {
    Port {
        label: format!("p{port}"),
        value: i64::from(port),
        ..Port::default()
    }
}

fn group(cpu: i64, memory: i64, disk: i64) -> TaskGroup {
    let mut task = Task::new("web", "docker");
    task.resources.cpu = Some(MHz(cpu));
    task.resources.memory_mb = Some(MiB(memory));
    let mut group = TaskGroup::new("web", 1, vec![task]);
    group.ephemeral_disk.size_mb = Some(MiB(disk));
    group
}

fn fit_group(node: &Node, allocs: &[Allocation], group: &TaskGroup) -> Result<(), Exhausted> {
    fit(
        node,
        &NodeUsage::of(node, allocs.iter()),
        &ResourceAsk::for_group(group),
    )
}

#[test]
fn fits_on_empty_node() {
    let node = node(4000, 8192, 10_000);
    assert_eq!(fit_group(&node, &[], &group(500, 512, 300)), Ok(()));
    // Exactly filling every dimension still fits.
    assert_eq!(fit_group(&node, &[], &group(4000, 8192, 10_000)), Ok(()));
}

#[test]
fn for_group_sums_tasks_and_applies_defaults() {
    let mut group = group(200, 256, 500);
    group.tasks.push(Task::new("sidecar", "docker"));
    let mut cores_task = Task::new("pinned", "exec");
    cores_task.resources.cores = 2;
    cores_task.resources.networks.push(NetworkResource {
        mbits: Some(Mbits(50)),
        reserved_ports: vec![static_port(9000)],
        ..NetworkResource::default()
    });
    group.tasks.push(cores_task);
    group.networks.push(NetworkResource {
        reserved_ports: vec![static_port(8080)],
        dynamic_ports: vec![Port::default()],
        ..NetworkResource::default()
    });
    let ask = ResourceAsk::for_group(&group);
    assert_eq!(ask.cpu, MHz(200 + 100));
    assert_eq!(ask.memory, MiB(256 + 300 + 300));
    assert_eq!(ask.cores, 2);
    assert_eq!(ask.disk, MiB(500));
    assert_eq!(ask.bandwidth, Mbits(50));
    let ports: Vec<(&str, u16)> = ask
        .static_ports
        .iter()
        .map(|p| (p.host_network.as_str(), p.port))
        .collect();
    assert_eq!(ports, [("default", 8080), ("default", 9000)]);
}

#[test]
fn each_dimension_exhausted() {
    let existing = [alloc(1000, 1024, 1000, &[8080])];
    let mut bandwidth = group(100, 100, 100);
    bandwidth.tasks[0].resources.networks.push(NetworkResource {
        mbits: Some(Mbits(1500)),
        ..NetworkResource::default()
    });
    let mut cores = group(0, 100, 100);
    cores.tasks[0].resources.cpu = None;
    cores.tasks[0].resources.cores = 5;
    let mut port = group(100, 100, 100);
    port.networks.push(NetworkResource {
        reserved_ports: vec![static_port(8080)],
        ..NetworkResource::default()
    });
    let cases: Vec<(&str, TaskGroup, Exhausted, &str, &str)> = vec![
        (
            "cpu",
            group(3500, 100, 100),
            Exhausted::Cpu {
                asked: MHz(3500),
                available: MHz(3000),
            },
            "cpu",
            "cpu exhausted: asked 3500 MHz, 3000 MHz free",
        ),
        (
            "memory",
            group(100, 7680, 100),
            Exhausted::Memory {
                asked: MiB(7680),
                available: MiB(7168),
            },
            "memory",
            "memory exhausted: asked 7680 MiB, 7168 MiB free",
        ),
        (
            "disk",
            group(100, 100, 9500),
            Exhausted::Disk {
                asked: MiB(9500),
                available: MiB(9000),
            },
            "disk",
            "disk exhausted: asked 9500 MiB, 9000 MiB free",
        ),
        (
            "cores",
            cores,
            // 5 cores × 1000 MHz would also exhaust cpu, which is checked
            // first; see `cores_exhausted` for the cores dimension alone.
            Exhausted::Cpu {
                asked: MHz(5000),
                available: MHz(3000),
            },
            "cpu",
            "cpu exhausted: asked 5000 MHz, 3000 MHz free",
        ),
        (
            "bandwidth",
            bandwidth,
            Exhausted::Bandwidth {
                asked: Mbits(1500),
                available: Mbits(1000),
            },
            "network: bandwidth exceeded",
            "bandwidth exhausted: asked 1500 Mbit/s, 1000 Mbit/s free",
        ),
        (
            "port",
            port,
            Exhausted::Port(8080),
            "network: port collision",
            "port collision: static port 8080 is not free",
        ),
    ];
    let node = node(4000, 8192, 10_000);
    for (name, group, want, dimension, message) in cases {
        let got = fit_group(&node, &existing, &group).expect_err(name);
        assert_eq!(got, want, "{name}");
        assert_eq!(got.dimension(), dimension, "{name}");
        assert_eq!(got.to_string(), message, "{name}");
    }
}

#[test]
fn cores_exhausted() {
    let mut node = node(1_000_000, 8192, 10_000);
    node.node_resources.cpu.total_cpu_cores = 4;
    node.reserved_resources.cpu.reserved_cpu_cores = vec![0];
    let mut existing = alloc(0, 0, 0, &[]);
    existing
        .allocated_resources
        .tasks
        .get_mut("web")
        .unwrap()
        .cpu
        .reserved_cores = vec![1];
    let mut group = group(0, 100, 100);
    group.tasks[0].resources.cores = 3;
    let got = fit_group(&node, &[existing.clone()], &group).unwrap_err();
    assert_eq!(
        got,
        Exhausted::Cores {
            asked: 3,
            available: 2
        }
    );
    assert_eq!(got.dimension(), "cores");
    assert_eq!(got.to_string(), "cores exhausted: asked 3 cores, 2 free");
    group.tasks[0].resources.cores = 2;
    assert_eq!(fit_group(&node, &[existing], &group), Ok(()));
}

#[test]
fn cores_consume_cpu_shares() {
    let node = node(4000, 8192, 10_000);
    let mut group = group(0, 100, 100);
    group.tasks[0].resources.cpu = None;
    group.tasks[0].resources.cores = 2;
    let usage = NodeUsage::of(&node, [alloc(2500, 0, 0, &[])].iter());
    assert_eq!(
        fit(&node, &usage, &ResourceAsk::for_group(&group)),
        Err(Exhausted::Cpu {
            asked: MHz(2000),
            available: MHz(1500)
        })
    );
}

#[test]
fn reserved_resources_reduce_capacity() {
    let mut node = node(4000, 8192, 10_000);
    let group = group(3500, 7000, 9000);
    assert_eq!(fit_group(&node, &[], &group), Ok(()));
    let cases = [
        ("cpu", 600, 0, 0, "cpu"),
        ("memory", 0, 1200, 0, "memory"),
        ("disk", 0, 0, 1100, "disk"),
    ];
    for (name, cpu, memory, disk, dimension) in cases {
        node.reserved_resources.cpu.cpu_shares = MHz(cpu);
        node.reserved_resources.memory.memory_mb = MiB(memory);
        node.reserved_resources.disk.disk_mb = MiB(disk);
        let got = fit_group(&node, &[], &group).expect_err(name);
        assert_eq!(got.dimension(), dimension, "{name}");
    }
}

#[test]
fn terminal_allocations_do_not_count() {
    let node = node(4000, 8192, 10_000);
    let group = group(3000, 100, 100);
    let mut stopped = alloc(2000, 0, 0, &[]);
    stopped.desired_status = AllocDesiredStatus::Stop;
    let mut complete = alloc(2000, 0, 0, &[]);
    complete.client_status = AllocClientStatus::Complete;
    let mut running = alloc(2000, 0, 0, &[]);
    running.client_status = AllocClientStatus::Running;
    assert_eq!(
        fit_group(&node, &[stopped.clone(), complete.clone()], &group),
        Ok(())
    );
    assert_eq!(
        fit_group(&node, &[stopped, complete, running], &group)
            .unwrap_err()
            .dimension(),
        "cpu"
    );
}

#[test]
fn static_port_collisions() {
    let with_port = |port: u16, ignore_collision: bool| {
        let mut group = group(100, 100, 100);
        group.networks.push(NetworkResource {
            reserved_ports: vec![Port {
                ignore_collision,
                ..static_port(port)
            }],
            ..NetworkResource::default()
        });
        group
    };
    let mut reserved = node(4000, 8192, 10_000);
    reserved.reserved_resources.networks.reserved_host_ports = "22, 80,8000-8010".to_owned();
    let plain = node(4000, 8192, 10_000);
    let existing = [alloc(100, 100, 100, &[9090])];
    // (name, node, port, ignore_collision, fits)
    let cases = [
        ("other alloc's port", &plain, 9090, false, false),
        ("free port", &plain, 9091, false, true),
        ("ignore_collision", &plain, 9090, true, true),
        ("reserved single", &reserved, 22, false, false),
        ("reserved range low", &reserved, 8000, false, false),
        ("reserved range mid", &reserved, 8005, false, false),
        ("reserved range high", &reserved, 8010, false, false),
        ("after range", &reserved, 8011, false, true),
    ];
    for (name, node, port, ignore, fits) in cases {
        let got = fit_group(node, &existing, &with_port(port, ignore));
        if fits {
            assert_eq!(got, Ok(()), "{name}");
        } else {
            assert_eq!(got, Err(Exhausted::Port(port)), "{name}");
        }
    }
}

#[test]
fn ports_are_tracked_per_address() {
    let mut node = node(4000, 8192, 10_000);
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "eth1".to_owned(),
        addresses: vec![NodeNetworkAddress {
            alias: "public".to_owned(),
            address: "192.0.2.1".to_owned(),
            reserved_ports: "443".to_owned(),
            ..NodeNetworkAddress::default()
        }],
        ..NodeNetworkResource::default()
    });
    // 9090 is used on 10.0.0.1 only.
    let existing = [alloc(100, 100, 100, &[9090])];
    let on_public = |port: u16| {
        let mut group = group(100, 100, 100);
        group.networks.push(NetworkResource {
            reserved_ports: vec![Port {
                host_network: "public".to_owned(),
                ..static_port(port)
            }],
            ..NetworkResource::default()
        });
        group
    };
    assert_eq!(fit_group(&node, &existing, &on_public(9090)), Ok(()));
    assert_eq!(
        fit_group(&node, &existing, &on_public(443)),
        Err(Exhausted::Port(443))
    );
}

#[test]
fn shared_ports_supersede_shared_networks() {
    // As Nomad's AddAllocs: the flattened `Shared.Ports` is the record when
    // present; the network copy is not counted again on its single IP.
    let node = node(4000, 8192, 10_000);
    let mut alloc = alloc(0, 0, 0, &[]);
    alloc
        .allocated_resources
        .shared
        .networks
        .push(NetworkResource {
            ip: "10.0.0.1".to_owned(),
            dynamic_ports: vec![static_port(20_001)],
            ..NetworkResource::default()
        });
    let legacy = NodeUsage::of(&node, [alloc.clone()].iter());
    assert_eq!(
        legacy.ports,
        BTreeMap::from([("10.0.0.1".to_owned(), BTreeSet::from([20_001]))])
    );
    alloc
        .allocated_resources
        .shared
        .ports
        .push(AllocatedPortMapping {
            label: "http".to_owned(),
            value: 20_001,
            host_ip: "192.0.2.1".to_owned(),
            ..AllocatedPortMapping::default()
        });
    let current = NodeUsage::of(&node, [alloc].iter());
    assert_eq!(
        current.ports,
        BTreeMap::from([("192.0.2.1".to_owned(), BTreeSet::from([20_001]))])
    );
}

#[test]
fn port_used_by_address() {
    let mut usage = NodeUsage::default();
    usage
        .ports
        .insert("10.0.0.1".to_owned(), BTreeSet::from([80]));
    usage.ports.insert(String::new(), BTreeSet::from([22]));
    // (ip, port, used)
    let cases = [
        ("10.0.0.1", 80, true),
        ("10.0.0.2", 80, false),
        // Recorded without an address: collides everywhere.
        ("10.0.0.2", 22, true),
        // Unknown address: any recorded use counts.
        ("", 80, true),
        ("", 22, true),
        ("", 443, false),
    ];
    for (ip, port, want) in cases {
        assert_eq!(usage.port_used(ip, port), want, "{ip:?} {port}");
    }
}

#[test]
fn interpolated_host_network_for_static_ports() {
    let mut node = node(4000, 8192, 10_000);
    node.meta.insert("net".to_owned(), "public".to_owned());
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        addresses: vec![NodeNetworkAddress {
            alias: "public".to_owned(),
            address: "192.0.2.1".to_owned(),
            reserved_ports: "443".to_owned(),
            ..NodeNetworkAddress::default()
        }],
        ..NodeNetworkResource::default()
    });
    let mut group = group(100, 100, 100);
    group.networks.push(NetworkResource {
        reserved_ports: vec![Port {
            host_network: "${meta.net}".to_owned(),
            ..static_port(443)
        }],
        ..NetworkResource::default()
    });
    // 443 is reserved on the address `${meta.net}` names.
    assert_eq!(fit_group(&node, &[], &group), Err(Exhausted::Port(443)));
}

#[test]
fn dynamic_ports_dimension() {
    let exhausted = Exhausted::DynamicPorts {
        label: "http".to_owned(),
        host_network: "default".to_owned(),
        min: 20_000,
        max: 32_000,
    };
    assert_eq!(
        exhausted.dimension(),
        "network: dynamic port selection failed"
    );
    assert_eq!(
        exhausted.to_string(),
        "dynamic port selection failed: no free port for \"http\" on host network \"default\" in 20000-32000"
    );
}

#[test]
fn parses_port_lists() {
    assert_eq!(
        parse_port_list("22,80,8000-8002").unwrap(),
        BTreeSet::from([22, 80, 8000, 8001, 8002])
    );
    assert_eq!(parse_port_list("").unwrap(), BTreeSet::new());
    assert!(parse_port_list("80-22").is_err());
    assert!(parse_port_list("http").is_err());
    assert!(parse_port_list("70000").is_err());
}

#[test]
fn malformed_reserved_ports_reject_static_ports() {
    let mut node = node(4000, 8192, 10_000);
    node.reserved_resources.networks.reserved_host_ports = "22,oops".to_owned();
    let mut group = group(100, 100, 100);
    assert_eq!(fit_group(&node, &[], &group), Ok(()));
    group.networks.push(NetworkResource {
        reserved_ports: vec![static_port(9000)],
        ..NetworkResource::default()
    });
    assert_eq!(fit_group(&node, &[], &group), Err(Exhausted::Port(9000)));
}

/// Per-dimension figures for the model check: (capacity, reserved,
/// used, asked).
#[derive(Debug, Clone)]
struct Scenario {
    cpu: (i64, i64, i64, i64),
    memory: (i64, i64, i64, i64),
    disk: (i64, i64, i64, i64),
    bandwidth: (i64, i64, i64),
    /// Cores: total, reserved count, used count, asked.
    cores: (u16, u16, u16, u64),
    reserved_ports: (u16, u16),
    used_ports: BTreeSet<u16>,
    asked_ports: Vec<u16>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let dim = || (0i64..2000, 0i64..500, 0i64..2000, 0i64..2000);
    (
        dim(),
        dim(),
        dim(),
        (0i64..2000, 0i64..2000, 0i64..2000),
        (0u16..8, 0u16..3, 0u16..4, 0u64..6),
        (1u16..40, 0u16..10),
        proptest::collection::btree_set(1u16..40, 0..5),
        proptest::collection::vec(1u16..40, 0..4),
    )
        .prop_map(
            |(cpu, memory, disk, bandwidth, cores, reserved_ports, used_ports, asked_ports)| {
                Scenario {
                    cpu,
                    memory,
                    disk,
                    bandwidth,
                    cores,
                    reserved_ports,
                    used_ports,
                    asked_ports,
                }
            },
        )
}

fn build(s: &Scenario) -> (Node, NodeUsage, ResourceAsk) {
    let mut node = node(s.cpu.0, s.memory.0, s.disk.0);
    node.node_resources.networks[0].mbits = Some(Mbits(s.bandwidth.0));
    node.reserved_resources.cpu.cpu_shares = MHz(s.cpu.1);
    node.reserved_resources.memory.memory_mb = MiB(s.memory.1);
    node.reserved_resources.disk.disk_mb = MiB(s.disk.1);
    let (total, reserved_cores, used_cores, _) = s.cores;
    node.node_resources.cpu.total_cpu_cores = total;
    node.reserved_resources.cpu.reserved_cpu_cores = (0..reserved_cores).collect();
    let (low, len) = s.reserved_ports;
    node.reserved_resources.networks.reserved_host_ports = format!("{low}-{}", low + len);

    let mut alloc = alloc(s.cpu.2, s.memory.2, s.disk.2, &[]);
    let task = alloc.allocated_resources.tasks.get_mut("web").unwrap();
    // Used cores sit past the reserved ones (possibly past the node's).
    task.cpu.reserved_cores = (reserved_cores..reserved_cores + used_cores).collect();
    task.networks.push(NetworkResource {
        ip: "10.0.0.1".to_owned(),
        mbits: Some(Mbits(s.bandwidth.1)),
        dynamic_ports: s.used_ports.iter().map(|&p| static_port(p)).collect(),
        ..NetworkResource::default()
    });
    let usage = NodeUsage::of(&node, [alloc].iter());

    let ask = ResourceAsk {
        cpu: MHz(s.cpu.3),
        memory: MiB(s.memory.3),
        disk: MiB(s.disk.3),
        bandwidth: Mbits(s.bandwidth.2),
        cores: s.cores.3,
        static_ports: s
            .asked_ports
            .iter()
            .map(|&port| StaticPort {
                host_network: "default".to_owned(),
                port,
                ignore_collision: false,
            })
            .collect(),
    };
    (node, usage, ask)
}

/// Plain arithmetic: which dimensions lack room.
fn oracle(s: &Scenario) -> BTreeSet<&'static str> {
    let mut short = BTreeSet::new();
    let (total, reserved_cores, used_cores, asked_cores) = s.cores;
    let per_core = if total == 0 {
        0
    } else {
        s.cpu.0 / i64::from(total)
    };
    let cores_cpu = per_core * i64::try_from(asked_cores).unwrap();
    let room = |(capacity, reserved, used, asked): (i64, i64, i64, i64)| {
        used + asked <= capacity - reserved
    };
    if !room((s.cpu.0, s.cpu.1, s.cpu.2, s.cpu.3 + cores_cpu)) {
        short.insert("cpu");
    }
    let free_cores = i64::from(total)
        - i64::from(reserved_cores.min(total))
        - i64::from(used_cores.min(total.saturating_sub(reserved_cores)));
    if asked_cores > 0 && i64::try_from(asked_cores).unwrap() > free_cores {
        short.insert("cores");
    }
    if !room(s.memory) {
        short.insert("memory");
    }
    if !room(s.disk) {
        short.insert("disk");
    }
    let (low, len) = s.reserved_ports;
    let mut seen = BTreeSet::new();
    for &port in &s.asked_ports {
        let reserved = port >= low && port <= low + len;
        if reserved || s.used_ports.contains(&port) || !seen.insert(port) {
            short.insert("network: port collision");
        }
    }
    let (capacity, used, asked) = s.bandwidth;
    if asked > 0 && used + asked > capacity {
        short.insert("network: bandwidth exceeded");
    }
    short
}

proptest! {
    #[test]
    fn fit_matches_arithmetic_oracle(s in scenario()) {
        let (node, usage, ask) = build(&s);
        let short = oracle(&s);
        match fit(&node, &usage, &ask) {
            Ok(()) => prop_assert!(short.is_empty(), "fit, but short of {short:?}"),
            Err(exhausted) => prop_assert!(
                short.contains(exhausted.dimension()),
                "{exhausted} not in {short:?}"
            ),
        }
    }
}
