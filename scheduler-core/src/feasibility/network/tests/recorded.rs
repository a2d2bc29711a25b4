//! `assign_ports`: what an assignment records (shared and task-level
//! networks, ports, addresses).

use super::*;

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
