//! `check_network`: network modes and host networks.

use super::*;

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
