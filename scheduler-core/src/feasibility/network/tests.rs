//! Tests of the network checker and of host port assignment.
use super::*;
use crate::model::{
    AllocatedResources, AllocatedSharedResources, AllocatedTaskResources, Allocation,
    NodeHostNetwork, NodeNetworkAddress, NodeNetworkResource, Task,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

const DEFAULT_IP: &str = "10.0.0.1";
const PUBLIC_IP: &str = "192.0.2.1";

/// A node as a current client fingerprints it: a legacy `eth0` network and
/// a host node network whose one address is the `default` host network.
fn node() -> Node {
    let mut node = Node::default();
    node.node_resources.networks.push(NetworkResource {
        mode: "host".to_owned(),
        device: "eth0".to_owned(),
        ip: DEFAULT_IP.to_owned(),
        ..NetworkResource::default()
    });
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "eth0".to_owned(),
        addresses: vec![address("default", DEFAULT_IP, "")],
        ..NodeNetworkResource::default()
    });
    node
}

fn address(alias: &str, ip: &str, reserved_ports: &str) -> NodeNetworkAddress {
    NodeNetworkAddress {
        alias: alias.to_owned(),
        address: ip.to_owned(),
        reserved_ports: reserved_ports.to_owned(),
        ..NodeNetworkAddress::default()
    }
}

/// `node()` plus an `eth1` interface serving host network `public`.
fn node_with_public() -> Node {
    let mut node = node();
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "eth1".to_owned(),
        addresses: vec![address("public", PUBLIC_IP, "")],
        ..NodeNetworkResource::default()
    });
    node
}

fn with_range(mut node: Node, min: u16, max: u16) -> Node {
    node.node_resources.min_dynamic_port = min;
    node.node_resources.max_dynamic_port = max;
    node
}

fn dynamic(label: &str) -> Port {
    Port {
        label: label.to_owned(),
        ..Port::default()
    }
}

fn on(host_network: &str, port: Port) -> Port {
    Port {
        host_network: host_network.to_owned(),
        ..port
    }
}

fn fixed(label: &str, value: u16) -> Port {
    Port {
        label: label.to_owned(),
        value: i64::from(value),
        ..Port::default()
    }
}

fn network(mode: &str, reserved_ports: Vec<Port>, dynamic_ports: Vec<Port>) -> NetworkResource {
    NetworkResource {
        mode: mode.to_owned(),
        reserved_ports,
        dynamic_ports,
        ..NetworkResource::default()
    }
}

fn group(networks: Vec<NetworkResource>) -> TaskGroup {
    let mut group = TaskGroup::new("web", 1, vec![Task::new("server", "docker")]);
    group.networks = networks;
    group
}

/// A group with one host-mode network of the given ports.
fn ports_group(reserved: Vec<Port>, dynamic: Vec<Port>) -> TaskGroup {
    group(vec![network("host", reserved, dynamic)])
}

/// Usage with `ports` used on `ip`.
fn used(ip: &str, ports: impl IntoIterator<Item = u16>) -> NodeUsage {
    let mut usage = NodeUsage::default();
    usage.ports.entry(ip.to_owned()).or_default().extend(ports);
    usage
}

fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

fn assign(node: &Node, usage: &NodeUsage, group: &TaskGroup, seed: u64) -> PortAssignment {
    assign_ports(node, usage, group, &mut rng(seed)).expect("ports assigned")
}

/// The assigned shared ports as `(label, value, host_ip)`.
fn shared(assignment: &PortAssignment) -> Vec<(&str, i64, &str)> {
    assignment
        .shared_ports
        .iter()
        .map(|p| (p.label.as_str(), p.value, p.host_ip.as_str()))
        .collect()
}

fn value_of(assignment: &PortAssignment, label: &str) -> u16 {
    let port = assignment
        .shared_ports
        .iter()
        .find(|p| p.label == label)
        .unwrap_or_else(|| panic!("no port {label}"));
    u16::try_from(port.value).unwrap()
}

// ---- check_network: modes -------------------------------------------------

#[test]
fn network_modes() {
    let bare = Node::default();
    let mut bridge_net = node();
    bridge_net
        .node_resources
        .node_networks
        .push(NodeNetworkResource {
            mode: "bridge".to_owned(),
            ..NodeNetworkResource::default()
        });
    let mut legacy_bridge = node();
    legacy_bridge.node_resources.networks.push(NetworkResource {
        mode: "bridge".to_owned(),
        ..NetworkResource::default()
    });
    let mut bridge_plugin = node();
    bridge_plugin
        .attributes
        .insert("plugins.cni.version.bridge".to_owned(), "1.6.2".to_owned());
    let mut cni_net = node();
    cni_net
        .node_resources
        .node_networks
        .push(NodeNetworkResource {
            mode: "cni/mynet".to_owned(),
            ..NodeNetworkResource::default()
        });
    let mut cni_config = node();
    cni_config
        .attributes
        .insert("plugins.cni.config.mynet".to_owned(), String::new());
    let mut other_mode = node();
    other_mode
        .node_resources
        .node_networks
        .push(NodeNetworkResource {
            mode: "macvlan".to_owned(),
            ..NodeNetworkResource::default()
        });

    // (name, node, mode, feasible)
    let cases = [
        ("host on bare node", &bare, "host", true),
        ("unset mode is host", &bare, "", true),
        ("host on fingerprinted node", &cni_net, "host", true),
        ("none on bare node", &bare, "none", true),
        ("bridge on bare node", &bare, "bridge", false),
        ("bridge without bridge network", &cni_net, "bridge", false),
        ("bridge node network", &bridge_net, "bridge", true),
        ("bridge legacy network", &legacy_bridge, "bridge", true),
        ("bridge plugin attribute", &bridge_plugin, "bridge", true),
        ("cni network", &cni_net, "cni/mynet", true),
        ("cni config attribute", &cni_config, "cni/mynet", true),
        ("other cni name", &cni_net, "cni/other", false),
        ("cni attribute is per name", &cni_config, "cni/other", false),
        (
            "bridge plugin is not a cni network",
            &bridge_plugin,
            "cni/bridge",
            false,
        ),
        ("other mode offered", &other_mode, "macvlan", true),
        ("other mode missing", &bare, "macvlan", false),
    ];
    for (name, node, mode, feasible) in cases {
        let got = check_network(node, &group(vec![network(mode, vec![], vec![])]));
        if feasible {
            assert_eq!(got, Ok(()), "{name}");
        } else {
            assert_eq!(
                got,
                Err(format!(
                    "network mode {mode:?} is not available on the node"
                )),
                "{name}"
            );
        }
    }
}

#[test]
fn group_without_networks_is_feasible_anywhere() {
    assert_eq!(check_network(&Node::default(), &group(vec![])), Ok(()));
}

#[test]
fn every_group_network_is_checked() {
    let two = group(vec![
        network("host", vec![], vec![]),
        network("bridge", vec![], vec![]),
    ]);
    assert_eq!(
        check_network(&node(), &two),
        Err("network mode \"bridge\" is not available on the node".to_owned())
    );
}

// ---- check_network: host networks ------------------------------------------

#[test]
fn host_networks_must_resolve() {
    let mut configured = node();
    configured.host_networks.insert(
        "vpn".to_owned(),
        NodeHostNetwork {
            name: "vpn".to_owned(),
            cidr: "10.8.0.0/24".to_owned(),
            ..NodeHostNetwork::default()
        },
    );
    configured
        .meta
        .insert("net".to_owned(), "public".to_owned());
    let mut public = node_with_public();
    public.meta.insert("net".to_owned(), "public".to_owned());

    // (name, node, host_network, result)
    let cases: [(&str, &Node, &str, Result<(), String>); 9] = [
        ("unset", &configured, "", Ok(())),
        ("default", &configured, "default", Ok(())),
        (
            "default on a bare node",
            &Node::default(),
            "default",
            Ok(()),
        ),
        ("address alias", &public, "public", Ok(())),
        ("configured host network", &configured, "vpn", Ok(())),
        (
            "missing alias",
            &configured,
            "public",
            Err("missing host network \"public\" for port \"http\"".to_owned()),
        ),
        ("interpolated alias", &public, "${meta.net}", Ok(())),
        (
            "interpolation resolving to a missing alias",
            &configured,
            "${meta.net}",
            Err("missing host network \"public\" for port \"http\"".to_owned()),
        ),
        (
            "unresolvable interpolation",
            &configured,
            "${meta.nope}",
            Err("invalid host network \"${meta.nope}\" template for port \"http\"".to_owned()),
        ),
    ];
    for (name, node, host_network, want) in cases {
        for (kind, ports) in [
            ("dynamic", (vec![], vec![on(host_network, dynamic("http"))])),
            (
                "static",
                (vec![on(host_network, fixed("http", 80))], vec![]),
            ),
        ] {
            let group = ports_group(ports.0, ports.1);
            assert_eq!(check_network(node, &group), want, "{name} ({kind})");
        }
    }
}

#[test]
fn mode_is_checked_before_host_networks() {
    let group = group(vec![network(
        "bridge",
        vec![],
        vec![on("public", dynamic("http"))],
    )]);
    assert_eq!(
        check_network(&node(), &group),
        Err("network mode \"bridge\" is not available on the node".to_owned())
    );
}

// ---- assign_ports: ranges --------------------------------------------------

#[test]
fn dynamic_range_defaults_and_overrides() {
    assert_eq!(dynamic_port_range(&node()), 20_000..=32_000);
    assert_eq!(
        dynamic_port_range(&with_range(node(), 25_000, 25_010)),
        25_000..=25_010
    );
    assert_eq!(
        dynamic_port_range(&with_range(node(), 0, 21_000)),
        20_000..=21_000
    );
    assert_eq!(
        dynamic_port_range(&with_range(node(), 30_000, 0)),
        30_000..=32_000
    );
}

#[test]
fn dynamic_ports_come_from_the_node_range() {
    let group = ports_group(vec![], vec![dynamic("http")]);
    let small = with_range(node(), 25_000, 25_010);
    let default = node();
    let mut seen = BTreeSet::new();
    for seed in 0..200 {
        let port = value_of(&assign(&small, &NodeUsage::default(), &group, seed), "http");
        assert!((25_000..=25_010).contains(&port), "{port}");
        seen.insert(port);
        let port = value_of(
            &assign(&default, &NodeUsage::default(), &group, seed),
            "http",
        );
        assert!((20_000..=32_000).contains(&port), "{port}");
    }
    // Every port of a small range turns up, both ends included.
    assert_eq!(seen, (25_000..=25_010).collect());
}

#[test]
fn inverted_range_is_exhausted() {
    let node = with_range(node(), 30_000, 29_000);
    let group = ports_group(vec![], vec![dynamic("http")]);
    let got = assign_ports(&node, &NodeUsage::default(), &group, &mut rng(1));
    assert!(
        matches!(got, Err(Exhausted::DynamicPorts { .. })),
        "{got:?}"
    );
}

// ---- assign_ports: collisions ----------------------------------------------

/// On a range of 20 ports where all but `free` are blocked by one source,
/// the one left is always the one picked, whatever the seed: a probe finds
/// it or the exact scan does.
fn only_free_port_is_picked(name: &str, node: &Node, usage: &NodeUsage, group: &TaskGroup) {
    for seed in 0..30 {
        let assignment = assign(node, usage, group, seed);
        assert_eq!(value_of(&assignment, "http"), 20_007, "{name}, seed {seed}");
    }
}

#[test]
fn dynamic_ports_avoid_every_kind_of_used_port() {
    let range = || with_range(node_with_public(), 20_000, 20_019);
    let all_but_free = || (20_000..=20_019).filter(|&p| p != 20_007);
    let list = || {
        all_but_free()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    let default_group = ports_group(vec![], vec![dynamic("http")]);
    let public_group = ports_group(vec![], vec![on("public", dynamic("http"))]);

    only_free_port_is_picked(
        "used on the address",
        &range(),
        &used(DEFAULT_IP, all_but_free()),
        &default_group,
    );
    only_free_port_is_picked(
        "used without an address",
        &range(),
        &used("", all_but_free()),
        &public_group,
    );

    let mut reserved = range();
    reserved.reserved_resources.networks.reserved_host_ports = "20000-20006,20008-20019".to_owned();
    only_free_port_is_picked(
        "node reserved",
        &reserved,
        &NodeUsage::default(),
        &default_group,
    );
    only_free_port_is_picked(
        "node reserved on every address",
        &reserved,
        &NodeUsage::default(),
        &public_group,
    );

    let mut host_network = range();
    host_network.host_networks.insert(
        "public".to_owned(),
        NodeHostNetwork {
            name: "public".to_owned(),
            reserved_ports: list(),
            ..NodeHostNetwork::default()
        },
    );
    only_free_port_is_picked(
        "host network reserved",
        &host_network,
        &NodeUsage::default(),
        &public_group,
    );

    let mut address_reserved = range();
    address_reserved.node_resources.node_networks[1].addresses[0].reserved_ports = list();
    only_free_port_is_picked(
        "address reserved",
        &address_reserved,
        &NodeUsage::default(),
        &public_group,
    );

    let statics: Vec<Port> = all_but_free().map(|p| fixed(&format!("s{p}"), p)).collect();
    let with_statics = ports_group(statics, vec![dynamic("http")]);
    only_free_port_is_picked(
        "the group's static ports",
        &range(),
        &NodeUsage::default(),
        &with_statics,
    );

    // A static port asked in a later network, or by a task, is taken too.
    let mut later = group(vec![
        network("host", vec![], vec![dynamic("http")]),
        network(
            "host",
            all_but_free()
                .take(10)
                .map(|p| fixed(&format!("s{p}"), p))
                .collect(),
            vec![],
        ),
    ]);
    later.tasks[0].resources.networks.push(network(
        "",
        all_but_free()
            .skip(10)
            .map(|p| fixed(&format!("t{p}"), p))
            .collect(),
        vec![],
    ));
    only_free_port_is_picked(
        "static ports asked later",
        &range(),
        &NodeUsage::default(),
        &later,
    );
}

#[test]
fn ports_are_per_address() {
    let node = with_range(node_with_public(), 20_000, 20_019);
    // Every port of the range is used on the default address only.
    let usage = used(DEFAULT_IP, 20_000..=20_019);
    let public = ports_group(vec![], vec![on("public", dynamic("http"))]);
    let assignment = assign(&node, &usage, &public, 3);
    assert_eq!(assignment.shared_ports[0].host_ip, PUBLIC_IP);
    assert_eq!(assignment.shared_networks[0].ip, PUBLIC_IP);

    let default = ports_group(vec![], vec![dynamic("http")]);
    let got = assign_ports(&node, &usage, &default, &mut rng(3));
    assert_eq!(
        got,
        Err(Exhausted::DynamicPorts {
            label: "http".to_owned(),
            host_network: "default".to_owned(),
            min: 20_000,
            max: 20_019,
        })
    );
}

#[test]
fn later_addresses_of_a_host_network_are_tried_when_the_first_is_full() {
    let mut node = with_range(node(), 20_000, 20_009);
    node.node_resources.node_networks[0]
        .addresses
        .push(address("default", "fd00::1", ""));
    let usage = used(DEFAULT_IP, 20_000..=20_009);
    let assignment = assign(
        &node,
        &usage,
        &ports_group(vec![], vec![dynamic("http")]),
        5,
    );
    assert_eq!(assignment.shared_ports[0].host_ip, "fd00::1");
}

#[test]
fn unknown_address_avoids_ports_used_anywhere() {
    // No fingerprinted networks: the default host network has no known IP.
    let node = with_range(Node::default(), 20_000, 20_019);
    let mut usage = used(
        "10.9.9.9",
        (20_000..=20_019).filter(|&p| p != 20_007 && p != 20_011),
    );
    usage
        .ports
        .entry("10.9.9.8".to_owned())
        .or_default()
        .insert(20_011);
    only_free_port_is_picked(
        "used on another IP",
        &node,
        &usage,
        &ports_group(vec![], vec![dynamic("http")]),
    );
    let assignment = assign(
        &node,
        &usage,
        &ports_group(vec![], vec![dynamic("http")]),
        0,
    );
    assert_eq!(assignment.shared_ports[0].host_ip, "");
}

#[test]
fn dynamic_ports_of_one_allocation_are_distinct() {
    let two_ports = with_range(node(), 20_000, 20_001);
    let two = ports_group(vec![], vec![dynamic("a"), dynamic("b")]);
    for seed in 0..30 {
        let assignment = assign(&two_ports, &NodeUsage::default(), &two, seed);
        let values: BTreeSet<u16> = ["a", "b"]
            .iter()
            .map(|l| value_of(&assignment, l))
            .collect();
        assert_eq!(values, BTreeSet::from([20_000, 20_001]), "seed {seed}");
    }
    // Across networks and tasks too.
    let mut spread = group(vec![
        network("host", vec![], vec![dynamic("a")]),
        network("host", vec![], vec![dynamic("b")]),
    ]);
    spread.tasks[0]
        .resources
        .networks
        .push(network("", vec![], vec![dynamic("c")]));
    let three_ports = with_range(node_with_public(), 20_000, 20_002);
    for seed in 0..30 {
        let assignment = assign(&three_ports, &NodeUsage::default(), &spread, seed);
        let task_port = assignment.task_networks["server"][0].dynamic_ports[0].value;
        let values: BTreeSet<i64> = assignment
            .shared_ports
            .iter()
            .map(|p| p.value)
            .chain([task_port])
            .collect();
        assert_eq!(
            values,
            BTreeSet::from([20_000, 20_001, 20_002]),
            "seed {seed}"
        );
    }
    let three = ports_group(vec![], vec![dynamic("a"), dynamic("b"), dynamic("c")]);
    let got = assign_ports(&two_ports, &NodeUsage::default(), &three, &mut rng(0));
    assert!(
        matches!(&got, Err(Exhausted::DynamicPorts { label, .. }) if label == "c"),
        "{got:?}"
    );
}

// ---- assign_ports: exhaustion ----------------------------------------------

#[test]
fn exhausted_when_the_range_is_full() {
    let node = with_range(node(), 20_000, 20_000);
    let group = ports_group(vec![], vec![dynamic("http")]);
    assert_eq!(
        value_of(&assign(&node, &NodeUsage::default(), &group, 1), "http"),
        20_000
    );
    let got = assign_ports(&node, &used(DEFAULT_IP, [20_000]), &group, &mut rng(1)).unwrap_err();
    assert_eq!(
        got,
        Exhausted::DynamicPorts {
            label: "http".to_owned(),
            host_network: "default".to_owned(),
            min: 20_000,
            max: 20_000,
        }
    );
    assert_eq!(got.dimension(), "network: dynamic port selection failed");
    assert_eq!(
        got.to_string(),
        "dynamic port selection failed: no free port for \"http\" on host network \"default\" in 20000-20000"
    );
}

#[test]
fn malformed_reserved_lists_exhaust_dynamic_ports() {
    let group = ports_group(vec![], vec![on("public", dynamic("http"))]);
    let mut node_list = node_with_public();
    node_list.reserved_resources.networks.reserved_host_ports = "22,oops".to_owned();
    let mut address_list = node_with_public();
    address_list.node_resources.node_networks[1].addresses[0].reserved_ports = "1-".to_owned();
    for (name, node) in [("node", node_list), ("address", address_list)] {
        let got = assign_ports(&node, &NodeUsage::default(), &group, &mut rng(0));
        assert_eq!(
            got.map_err(|e| e.dimension()),
            Err("network: dynamic port selection failed"),
            "{name}"
        );
    }
}

// ---- assign_ports: what is recorded ----------------------------------------

#[test]
fn to_minus_one_mirrors_the_host_port() {
    let group = ports_group(
        vec![Port {
            to: 8443,
            ..fixed("https", 443)
        }],
        vec![
            Port {
                to: -1,
                ..dynamic("mirror")
            },
            Port {
                to: 8080,
                ..dynamic("mapped")
            },
            dynamic("plain"),
        ],
    );
    let assignment = assign(&node(), &NodeUsage::default(), &group, 9);
    let to: BTreeMap<&str, (i64, i64)> = assignment
        .shared_ports
        .iter()
        .map(|p| (p.label.as_str(), (p.value, p.to)))
        .collect();
    let mirror = to["mirror"];
    assert_eq!(mirror.1, mirror.0);
    assert_eq!(to["mapped"].1, 8080);
    assert_eq!(to["plain"].1, 0);
    assert_eq!(to["https"], (443, 8443));
    // The network records the same.
    let ports = &assignment.shared_networks[0].dynamic_ports;
    assert_eq!((ports[0].value, ports[0].to), mirror);
}

#[test]
fn shared_ports_and_networks() {
    let node = node_with_public();
    let mut web = network(
        "bridge",
        vec![
            Port {
                ignore_collision: true,
                ..fixed("dns", 53)
            },
            on("public", fixed("https", 443)),
        ],
        vec![dynamic("http")],
    );
    web.hostname = "web".to_owned();
    let group = group(vec![
        web.clone(),
        network("host", vec![], vec![on("public", dynamic("admin"))]),
    ]);
    let assignment = assign(&node, &NodeUsage::default(), &group, 4);
    let http = i64::from(value_of(&assignment, "http"));
    let admin = i64::from(value_of(&assignment, "admin"));
    // Static ports first, then dynamic, network by network.
    assert_eq!(
        shared(&assignment),
        [
            ("dns", 53, DEFAULT_IP),
            ("https", 443, PUBLIC_IP),
            ("http", http, DEFAULT_IP),
            ("admin", admin, PUBLIC_IP),
        ]
    );
    assert!(assignment.shared_ports[0].ignore_collision);

    let mut want = web;
    want.dynamic_ports[0].value = http;
    // Ports on two addresses: the network records the default one.
    want.ip = DEFAULT_IP.to_owned();
    assert_eq!(assignment.shared_networks[0], want);
    assert_eq!(assignment.shared_networks[1].ip, PUBLIC_IP);
    assert_eq!(assignment.shared_networks[1].dynamic_ports[0].value, admin);
    assert!(assignment.task_networks.is_empty());
}

#[test]
fn network_without_ports_gets_the_default_address() {
    let assignment = assign(
        &node(),
        &NodeUsage::default(),
        &group(vec![network("bridge", vec![], vec![])]),
        0,
    );
    assert!(assignment.shared_ports.is_empty());
    assert_eq!(assignment.shared_networks.len(), 1);
    assert_eq!(assignment.shared_networks[0].ip, DEFAULT_IP);
    assert_eq!(assignment.shared_networks[0].mode, "bridge");
}

#[test]
fn interpolated_host_networks_are_resolved() {
    let mut node = node_with_public();
    node.meta.insert("net".to_owned(), "public".to_owned());
    let group = ports_group(
        vec![on("${meta.net}", fixed("https", 443))],
        vec![on("${meta.net}", dynamic("http"))],
    );
    let assignment = assign(&node, &NodeUsage::default(), &group, 0);
    assert!(
        assignment
            .shared_ports
            .iter()
            .all(|p| p.host_ip == PUBLIC_IP)
    );
    let network = &assignment.shared_networks[0];
    assert!(network.ports().all(|p| p.host_network == "public"));
}

#[test]
fn task_level_networks() {
    let mut group = ports_group(vec![], vec![dynamic("group")]);
    let mut sidecar = Task::new("sidecar", "docker");
    sidecar.resources.networks.push(NetworkResource {
        mbits: Some(crate::model::Mbits(10)),
        reserved_ports: vec![fixed("admin", 9000)],
        dynamic_ports: vec![
            dynamic("metrics"),
            Port {
                to: -1,
                ..dynamic("rpc")
            },
        ],
        ..NetworkResource::default()
    });
    group.tasks.push(sidecar);
    let node = with_range(node(), 20_000, 20_002);
    let assignment = assign(&node, &NodeUsage::default(), &group, 2);
    // Only tasks with networks appear.
    assert_eq!(
        assignment.task_networks.keys().collect::<Vec<_>>(),
        ["sidecar"]
    );
    let networks = &assignment.task_networks["sidecar"];
    assert_eq!(networks.len(), 1);
    let network = &networks[0];
    assert_eq!(network.device, "eth0");
    assert_eq!(network.ip, DEFAULT_IP);
    assert_eq!(network.mbits, Some(crate::model::Mbits(10)));
    assert_eq!(network.reserved_ports, [fixed("admin", 9000)]);
    let metrics = network.dynamic_ports[0].value;
    let rpc = &network.dynamic_ports[1];
    assert_eq!(rpc.to, rpc.value);
    let all: BTreeSet<i64> = [
        metrics,
        rpc.value,
        i64::from(value_of(&assignment, "group")),
    ]
    .into();
    assert_eq!(all, BTreeSet::from([20_000, 20_001, 20_002]));
    // Task ports are not group ports.
    assert_eq!(shared(&assignment).len(), 1);
}

#[test]
fn task_networks_fall_back_to_the_default_node_network() {
    let mut node = Node::default();
    node.node_resources.node_networks.push(NodeNetworkResource {
        mode: "host".to_owned(),
        device: "ens3".to_owned(),
        addresses: vec![address("default", "172.16.0.5", "")],
        ..NodeNetworkResource::default()
    });
    let mut group = group(vec![]);
    group.tasks[0]
        .resources
        .networks
        .push(network("", vec![], vec![dynamic("http")]));
    let assignment = assign(&node, &NodeUsage::default(), &group, 0);
    let network = &assignment.task_networks["server"][0];
    assert_eq!(
        (network.device.as_str(), network.ip.as_str()),
        ("ens3", "172.16.0.5")
    );
}

#[test]
fn task_networks_avoid_ports_used_on_their_ip() {
    let node = with_range(node(), 20_000, 20_019);
    let mut group = group(vec![]);
    group.tasks[0]
        .resources
        .networks
        .push(network("", vec![], vec![dynamic("http")]));
    let usage = used(DEFAULT_IP, (20_000..=20_019).filter(|&p| p != 20_013));
    for seed in 0..20 {
        let assignment = assign(&node, &usage, &group, seed);
        assert_eq!(
            assignment.task_networks["server"][0].dynamic_ports[0].value,
            20_013
        );
    }
    let full = used(DEFAULT_IP, 20_000..=20_019);
    let got = assign_ports(&node, &full, &group, &mut rng(0));
    assert!(
        matches!(got, Err(Exhausted::DynamicPorts { .. })),
        "{got:?}"
    );
}

// ---- determinism and plans -------------------------------------------------

#[test]
fn same_seed_same_ports() {
    let mut group = ports_group(
        vec![fixed("https", 443)],
        vec![
            dynamic("a"),
            dynamic("b"),
            Port {
                to: -1,
                ..dynamic("c")
            },
        ],
    );
    group.tasks[0]
        .resources
        .networks
        .push(network("", vec![], vec![dynamic("t")]));
    let node = node_with_public();
    let usage = used(DEFAULT_IP, 20_000..=25_000);
    for seed in 0..10 {
        assert_eq!(
            assign(&node, &usage, &group, seed),
            assign(&node, &usage, &group, seed),
            "seed {seed}"
        );
    }
    let distinct: BTreeSet<u16> = (0..10)
        .map(|seed| value_of(&assign(&node, &usage, &group, seed), "a"))
        .collect();
    assert!(distinct.len() > 1, "the seed decides the ports");
}

#[test]
fn add_ports_matches_recording_the_allocation() {
    let node = node_with_public();
    let mut group = ports_group(
        vec![fixed("https", 443)],
        vec![on("public", dynamic("http"))],
    );
    group.tasks[0].resources.networks.push(network(
        "",
        vec![fixed("admin", 9000)],
        vec![dynamic("t")],
    ));
    let assignment = assign(&node, &NodeUsage::default(), &group, 6);

    let mut recorded = NodeUsage::default();
    recorded.add_ports(&assignment);

    let alloc = Allocation {
        allocated_resources: AllocatedResources {
            tasks: assignment
                .task_networks
                .iter()
                .map(|(task, networks)| {
                    let resources = AllocatedTaskResources {
                        networks: networks.clone(),
                        ..AllocatedTaskResources::default()
                    };
                    (task.clone(), resources)
                })
                .collect(),
            shared: AllocatedSharedResources {
                networks: assignment.shared_networks.clone(),
                ports: assignment.shared_ports.clone(),
                ..AllocatedSharedResources::default()
            },
            ..AllocatedResources::default()
        },
        ..Allocation::default()
    };
    let mut from_alloc = NodeUsage::default();
    from_alloc.add(&alloc);
    assert_eq!(recorded.ports, from_alloc.ports);

    let http = value_of(&assignment, "http");
    let t = u16::try_from(assignment.task_networks["server"][0].dynamic_ports[0].value).unwrap();
    assert_eq!(
        recorded.ports,
        BTreeMap::from([
            (DEFAULT_IP.to_owned(), BTreeSet::from([443, 9000, t])),
            (PUBLIC_IP.to_owned(), BTreeSet::from([http])),
        ])
    );
}

#[test]
fn placements_in_one_plan_never_share_a_port() {
    let node = with_range(node(), 20_000, 20_049);
    let group = ports_group(vec![], vec![dynamic("http")]);
    let mut usage = NodeUsage::default();
    let mut rng = rng(11);
    let mut given = BTreeSet::new();
    for _ in 0..50 {
        let assignment = assign_ports(&node, &usage, &group, &mut rng).unwrap();
        assert!(given.insert(value_of(&assignment, "http")));
        usage.add_ports(&assignment);
    }
    assert_eq!(given, (20_000..=20_049).collect());
    let got = assign_ports(&node, &usage, &group, &mut rng);
    assert_eq!(
        got.unwrap_err().dimension(),
        "network: dynamic port selection failed"
    );
}

proptest! {
    /// Whatever is used or reserved, a port given is inside the range,
    /// free on its address, and distinct from the allocation's others; and
    /// exhaustion is reported only when the range has too few free ports.
    #[test]
    fn assigned_ports_are_free(
        used_default in proptest::collection::btree_set(20_000u16..20_040, 0..40),
        used_unaddressed in proptest::collection::btree_set(20_000u16..20_040, 0..5),
        reserved in proptest::collection::btree_set(20_000u16..20_040, 0..10),
        statics in proptest::collection::btree_set(20_000u16..20_040, 0..4),
        dynamics in 1usize..4,
        seed in any::<u64>(),
    ) {
        let mut node = with_range(node(), 20_000, 20_039);
        node.reserved_resources.networks.reserved_host_ports =
            reserved.iter().map(u16::to_string).collect::<Vec<_>>().join(",");
        let mut usage = used(DEFAULT_IP, used_default.iter().copied());
        usage.ports.insert(String::new(), used_unaddressed.clone());
        let group = ports_group(
            statics.iter().map(|&p| fixed(&format!("s{p}"), p)).collect(),
            (0..dynamics).map(|i| dynamic(&format!("d{i}"))).collect(),
        );
        let blocked: BTreeSet<u16> = used_default
            .iter()
            .chain(&used_unaddressed)
            .chain(&reserved)
            .chain(&statics)
            .copied()
            .collect();
        let free = (20_000u16..20_040).filter(|p| !blocked.contains(p)).count();
        match assign_ports(&node, &usage, &group, &mut rng(seed)) {
            Ok(assignment) => {
                prop_assert!(free >= dynamics);
                let mut given = BTreeSet::new();
                for i in 0..dynamics {
                    let port = value_of(&assignment, &format!("d{i}"));
                    prop_assert!((20_000..=20_039).contains(&port));
                    prop_assert!(!blocked.contains(&port), "{port} is blocked");
                    prop_assert!(given.insert(port), "{port} given twice");
                }
            }
            Err(exhausted) => {
                prop_assert!(free < dynamics, "{exhausted} with {free} free");
            }
        }
    }
}
