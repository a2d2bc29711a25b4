//! Determinism of port assignment, and ports across the placements of one
//! plan.

use super::*;

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
