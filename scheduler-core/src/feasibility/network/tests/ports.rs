//! `assign_ports`: dynamic port ranges, collisions with used ports, and
//! exhaustion.

use super::*;

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
