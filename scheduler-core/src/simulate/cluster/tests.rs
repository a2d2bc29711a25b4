use super::hcl::parse_device_attribute;
use super::*;
use crate::model::{MHz, Mbits, MiB, NodeDeviceAttribute, NodeStatus, SchedulingEligibility};

/// The example from the issue, verbatim.
const CONTRACT: &str = r#"
node "web" {                 # count = N makes web-0 .. web-(N-1); without count the node is named "web"
  count      = 4
  datacenter = "dc1"
  node_class = "m5"
  node_pool  = "default"
  drivers    = ["docker", "exec", "raw_exec"]
  resources {
    cpu           = 4000     # MHz
    memory        = 8192     # MB
    disk          = 100000   # MB
    network_mbits = 1000
  }
  reserved {
    cpu    = 100
    memory = 256
    ports  = "22"
  }
  attributes = { "kernel.name" = "linux", "os.version" = "22.04" }
  meta       = { rack = "r1" }
  device "nvidia/gpu/A100" { count = 2 }
}
"#;

fn parse(source: &str) -> Vec<Node> {
    match parse_cluster(source, "cluster.hcl") {
        Ok(cluster) => cluster.nodes,
        Err(e) => panic!("expected a valid cluster, got:\n{e}"),
    }
}

/// The rendered errors of a file that must be rejected, one per line.
fn errors(source: &str, file_name: &str) -> String {
    match parse_cluster(source, file_name) {
        Ok(cluster) => panic!("expected errors, got {} nodes", cluster.nodes.len()),
        Err(e) => e.to_string(),
    }
}

/// Asserts that `source` is rejected with exactly `expected` (one rendered
/// diagnostic per line).
fn check_errors(source: &str, expected: &str) {
    let actual = errors(source, "cluster.hcl");
    assert_eq!(actual, expected.trim(), "\nactual:\n{actual}\n");
}

fn attr<'a>(node: &'a Node, key: &str) -> Option<&'a str> {
    node.attributes.get(key).map(String::as_str)
}

#[test]
fn contract_example() {
    let nodes = parse(CONTRACT);
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "web-2", "web-3"]);
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(node.id, node_id(&node.name));
        assert_eq!(node.datacenter, "dc1");
        assert_eq!(node.node_class, "m5");
        assert_eq!(node.node_pool, "default");
        assert_eq!(node.status, NodeStatus::Ready);
        assert_eq!(node.scheduling_eligibility, SchedulingEligibility::Eligible);
        assert!(node.is_schedulable());

        // Attributes: the file's, plus what a client fingerprints.
        assert_eq!(attr(node, "kernel.name"), Some("linux"));
        assert_eq!(attr(node, "os.version"), Some("22.04"));
        assert_eq!(attr(node, "unique.hostname"), Some(node.name.as_str()));
        for driver in ["docker", "exec", "raw_exec"] {
            assert_eq!(attr(node, &format!("driver.{driver}")), Some("1"));
            let info = &node.drivers[driver];
            assert!(info.detected && info.healthy, "{driver}");
        }
        assert_eq!(node.drivers.len(), 3);
        assert_eq!(attr(node, "cpu.totalcompute"), Some("4000"));
        assert_eq!(attr(node, "memory.totalbytes"), Some("8589934592"));
        assert_eq!(node.meta.get("rack").map(String::as_str), Some("r1"));

        // Resources.
        let r = &node.node_resources;
        assert_eq!(r.cpu.cpu_shares, MHz(4000));
        assert_eq!(r.cpu.total_cpu_cores, 0);
        assert_eq!(r.memory.memory_mb, MiB(8192));
        assert_eq!(r.disk.disk_mb, MiB(100_000));
        assert_eq!((r.min_dynamic_port, r.max_dynamic_port), (20000, 32000));
        let ip = format!("10.0.0.{}", i + 1);
        assert_eq!(r.networks.len(), 1);
        assert_eq!(r.networks[0].device, "eth0");
        assert_eq!(r.networks[0].ip, ip);
        assert_eq!(r.networks[0].mbits, Some(Mbits(1000)));
        assert_eq!(r.node_networks.len(), 1);
        assert_eq!(r.node_networks[0].mode, "host");
        assert_eq!(r.node_networks[0].addresses.len(), 1);
        assert_eq!(r.node_networks[0].addresses[0].alias, "default");
        assert_eq!(r.node_networks[0].addresses[0].address, ip);

        // Reservations.
        let reserved = &node.reserved_resources;
        assert_eq!(reserved.cpu.cpu_shares, MHz(100));
        assert_eq!(reserved.memory.memory_mb, MiB(256));
        assert_eq!(reserved.disk.disk_mb, MiB(0));
        assert_eq!(reserved.networks.reserved_host_ports, "22");

        // Devices.
        assert_eq!(r.devices.len(), 1);
        let gpu = &r.devices[0];
        assert_eq!(gpu.id(), "nvidia/gpu/A100");
        let ids: Vec<&str> = gpu.instances.iter().map(|d| d.id.as_str()).collect();
        let name = &node.name;
        assert_eq!(ids, [format!("{name}-A100-0"), format!("{name}-A100-1")]);
        assert_eq!(gpu.healthy_count(), 2);

        assert_eq!(
            node.computed_class,
            crate::model::node_class::compute_class(node)
        );
    }
    // Same specification, same class; different names and ids.
    assert!(
        nodes
            .iter()
            .all(|n| n.computed_class == nodes[0].computed_class)
    );
    assert_ne!(nodes[0].id, nodes[1].id);
}

#[test]
fn ids_are_uuid_shaped_and_stable() {
    let id = node_id("web-0");
    let text = id.as_str();
    assert_eq!(text.len(), 36);
    let groups: Vec<usize> = text.split('-').map(str::len).collect();
    assert_eq!(groups, [8, 4, 4, 4, 12]);
    assert_eq!(&text[14..15], "4", "version nibble");
    assert!("89ab".contains(&text[19..20]), "variant bits");
    assert_eq!(node_id("web-0"), id);
    assert_ne!(node_id("web-1"), id);
}

#[test]
fn same_input_gives_identical_nodes() {
    let source = include_str!("../../../../examples/clusters/racks.hcl");
    let a = parse_cluster(source, "racks.hcl").expect("valid");
    let b = parse_cluster(source, "racks.hcl").expect("valid");
    assert_eq!(a, b);
    assert_eq!(
        serde_json::to_string(&a.nodes).expect("serialises"),
        serde_json::to_string(&b.nodes).expect("serialises")
    );
}

#[test]
fn defaults() {
    let nodes = parse(
        r#"
node "solo" {
  resources {
    cpu    = 2000
    memory = "4GiB"
    disk   = "10 GiB"
  }
}
"#,
    );
    let [node] = nodes.as_slice() else {
        panic!("one node expected")
    };
    assert_eq!(node.name, "solo");
    assert_eq!(node.id, node_id("solo"));
    assert_eq!(node.datacenter, DEFAULT_DATACENTER);
    assert_eq!(node.node_pool, DEFAULT_NODE_POOL);
    assert_eq!(node.node_class, "");
    assert!(node.is_schedulable());
    assert!(node.drivers.is_empty());
    assert_eq!(node.node_resources.memory.memory_mb, MiB(4096));
    assert_eq!(node.node_resources.disk.disk_mb, MiB(10240));
    assert_eq!(node.node_resources.networks[0].mbits, Some(Mbits(1000)));
    assert_eq!(node.node_resources.node_networks[0].speed, Mbits(1000));
    assert_eq!(
        (
            node.node_resources.min_dynamic_port,
            node.node_resources.max_dynamic_port
        ),
        DEFAULT_DYNAMIC_PORTS
    );
    assert_eq!(node.reserved_resources, Default::default());
    assert!(node.host_networks.is_empty() && node.host_volumes.is_empty());
    assert_eq!(attr(node, "memory.totalbytes"), Some("4294967296"));
    assert_eq!(node.attributes.len(), 3, "{:?}", node.attributes);
    assert!(node.computed_class.starts_with("v1:"));
}

#[test]
fn file_values_win_over_fingerprinted_ones() {
    let nodes = parse(
        r#"
node "a" {
  drivers    = ["docker"]
  attributes = { "unique.hostname" = "a.example.com", "driver.docker" = "0", "cpu.totalcompute" = "1" }
  resources {
    cpu    = 2000
    memory = 1024
    disk   = 1024
  }
}
"#,
    );
    assert_eq!(attr(&nodes[0], "unique.hostname"), Some("a.example.com"));
    assert_eq!(attr(&nodes[0], "driver.docker"), Some("0"));
    assert_eq!(attr(&nodes[0], "cpu.totalcompute"), Some("1"));
}

#[test]
fn drivers_networks_volumes_and_devices() {
    let nodes = parse(
        r#"
locals { gpus = 2 }

node "gpu" {
  count         = 2
  drivers       = ["exec"]
  dynamic_ports = "25000-26000"
  network_modes = ["bridge"]
  driver "docker" {
    healthy    = false
    attributes = { version = "24.0.7", "driver.docker.runtimes" = "runc" }
  }
  resources {
    cpu           = 8000
    cores         = 8
    memory        = "64GiB"
    disk          = 500000
    network_mbits = 10000
  }
  reserved {
    cores = "0"
    disk  = 1024
  }
  host_network "public" {
    cidr           = "203.0.113.0/24"
    reserved_ports = "22,80"
  }
  host_network "storage" {
    interface = "eth1"
  }
  host_volume "data" {
    path      = "/srv/data"
    read_only = true
  }
  device "nvidia/gpu/A100" {
    count      = local.gpus
    attributes = { memory = "40 GiB", cuda_cores = 6912, clock = "1.41 GHz", ecc = true, arch = "ampere", score = 1.5 }
  }
  device "amd/gpu/A100" {}
}
"#,
    );
    assert_eq!(nodes.len(), 2);
    let node = &nodes[1];
    let docker = &node.drivers["docker"];
    assert!(docker.detected && !docker.healthy);
    assert_eq!(
        docker
            .attributes
            .get("driver.docker.version")
            .map(String::as_str),
        Some("24.0.7")
    );
    assert_eq!(attr(node, "driver.docker.runtimes"), Some("runc"));
    assert_eq!(attr(node, "driver.exec"), Some("1"));
    assert!(node.drivers["exec"].healthy);

    let r = &node.node_resources;
    assert_eq!(r.cpu.total_cpu_cores, 8);
    assert_eq!(r.cpu.reservable_cpu_cores, (0..8).collect::<Vec<u16>>());
    assert_eq!(attr(node, "cpu.numcores"), Some("8"));
    assert_eq!(r.memory.memory_mb, MiB(65536));
    assert_eq!((r.min_dynamic_port, r.max_dynamic_port), (25000, 26000));
    assert_eq!(node.reserved_resources.cpu.reserved_cpu_cores, [0]);
    assert_eq!(node.reserved_resources.disk.disk_mb, MiB(1024));

    // eth0 holds the default and public addresses; eth1 the storage one;
    // then the bridge.
    let modes: Vec<(&str, &str)> = r
        .node_networks
        .iter()
        .map(|n| (n.mode.as_str(), n.device.as_str()))
        .collect();
    assert_eq!(modes, [("host", "eth0"), ("host", "eth1"), ("bridge", "")]);
    let eth0: Vec<(&str, &str, &str)> = r.node_networks[0]
        .addresses
        .iter()
        .map(|a| {
            (
                a.alias.as_str(),
                a.address.as_str(),
                a.reserved_ports.as_str(),
            )
        })
        .collect();
    assert_eq!(
        eth0,
        [
            ("default", "10.0.0.2", ""),
            ("public", "203.0.113.2", "22,80")
        ]
    );
    assert_eq!(r.node_networks[1].addresses[0].alias, "storage");
    assert_eq!(r.node_networks[1].addresses[0].address, "172.17.0.2");
    assert_eq!(r.node_networks[0].speed, Mbits(10000));
    assert_eq!(node.host_networks["public"].cidr, "203.0.113.0/24");
    assert_eq!(node.host_networks["public"].reserved_ports, "22,80");
    assert_eq!(node.host_networks["storage"].interface, "eth1");
    assert_eq!(node.host_volumes["data"].path, "/srv/data");
    assert!(node.host_volumes["data"].read_only);

    // Two groups with the same model: ids stay unique on the node.
    let ids: Vec<&str> = r
        .devices
        .iter()
        .flat_map(|d| d.instances.iter().map(|i| i.id.as_str()))
        .collect();
    assert_eq!(ids, ["gpu-1-A100-0", "gpu-1-A100-1", "gpu-1-A100-2"]);
    let attributes = &r.devices[0].attributes;
    let int = |n, unit: &str| NodeDeviceAttribute {
        int: Some(n),
        unit: unit.into(),
        ..Default::default()
    };
    assert_eq!(attributes["memory"], int(40, "GiB"));
    assert_eq!(attributes["cuda_cores"], int(6912, ""));
    assert_eq!(attributes["clock"].float, Some(1.41));
    assert_eq!(attributes["clock"].unit, "GHz");
    assert_eq!(attributes["ecc"].bool, Some(true));
    assert_eq!(attributes["arch"].string.as_deref(), Some("ampere"));
    assert_eq!(attributes["score"].float, Some(1.5));
}

#[test]
fn device_attribute_strings_are_typed_like_nomad() {
    let a = parse_device_attribute("40 GiB");
    assert_eq!((a.int, a.unit.as_str()), (Some(40), "GiB"));
    let a = parse_device_attribute("-3");
    assert_eq!(a.int, Some(-3));
    let a = parse_device_attribute("250W");
    assert_eq!((a.int, a.unit.as_str()), (Some(250), "W"));
    let a = parse_device_attribute("false");
    assert_eq!(a.bool, Some(false));
    // An unknown unit keeps the string.
    let a = parse_device_attribute("12 parsecs");
    assert_eq!(a.string.as_deref(), Some("12 parsecs"));
    assert_eq!(a.int, None);
}

#[test]
fn count_zero_and_eligibility() {
    let nodes = parse(
        r#"
node "gone" {
  count = 0
  resources {
    cpu    = 1
    memory = 1
    disk   = 1
  }
}
node "drained" {
  eligible = false
  resources {
    cpu    = 1
    memory = 1
    disk   = 1
  }
}
"#,
    );
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0].name, "drained");
    assert!(!nodes[0].is_schedulable());
    // Position counts nodes made, not blocks.
    assert_eq!(nodes[0].node_resources.networks[0].ip, "10.0.0.1");
}

#[test]
fn addresses_stay_unique_past_254_nodes() {
    assert_eq!(node_ip(0).to_string(), "10.0.0.1");
    assert_eq!(node_ip(253).to_string(), "10.0.0.254");
    assert_eq!(node_ip(254).to_string(), "10.0.1.1");
    let all: std::collections::BTreeSet<_> = (0..70_000).map(node_ip).collect();
    assert_eq!(all.len(), 70_000);
}

// ---- errors ----

const RESOURCES: &str = "resources {\n    cpu    = 1\n    memory = 1\n    disk   = 1\n  }";

#[test]
fn unknown_keys_get_a_did_you_mean() {
    check_errors(
        &format!(
            "node \"a\" {{\n  datacentre = \"dc1\"\n  {RESOURCES}\n  reserved {{\n    memroy = 1\n  }}\n  devise \"x/y/z\" {{}}\n}}\nnodes \"b\" {{}}\n"
        ),
        r#"
cluster.hcl:2:3: error: unsupported argument "datacentre"; did you mean "datacenter"? (in node "a")
cluster.hcl:9:5: error: unsupported argument "memroy"; did you mean "memory"? (in node "a" > reserved)
cluster.hcl:11:3: error: unsupported block type "devise"; did you mean "device"? (in node "a")
cluster.hcl:13:1: error: unsupported top-level block "nodes"; did you mean "node"?
"#,
    );
}

#[test]
fn wrong_types_and_bad_counts() {
    check_errors(
        &format!(
            "node \"a\" {{\n  count = 1.5\n  drivers = {{ x = 1 }}\n  {RESOURCES}\n}}\nnode \"b\" {{\n  count = -1\n  eligible = \"maybe\"\n  {RESOURCES}\n}}\n"
        ),
        r#"
cluster.hcl:2:11: error: argument "count" must be a whole number, got the number 1.5 (in node "a" > count)
cluster.hcl:3:13: error: argument "drivers" must be a list of strings, got an object (in node "a" > drivers)
cluster.hcl:11:11: error: argument "count" must not be negative, got -1 (in node "b" > count)
cluster.hcl:12:14: error: argument "eligible" must be true or false, got the string "maybe" (in node "b" > eligible)
"#,
    );
}

#[test]
fn negative_and_missing_resources() {
    check_errors(
        r#"node "a" {
  resources {
    cpu    = -1
    memory = "lots"
  }
  reserved {
    memory = -5
  }
}
node "b" {}
"#,
        r#"
cluster.hcl:2:3: error: argument "disk" is required in a node's resources block (in node "a" > resources)
cluster.hcl:3:14: error: argument "cpu" must not be negative, got -1 (in node "a" > resources > cpu)
cluster.hcl:4:14: error: argument "memory" must be a size in MiB, such as 512 or "1GiB", got the string "lots" (in node "a" > resources > memory)
cluster.hcl:7:14: error: argument "memory" must not be negative, got -5 (in node "a" > reserved > memory)
cluster.hcl:10:1: error: a node block needs a resources block: resources { cpu = 4000, memory = 8192, disk = 100000 } (in node "b")
"#,
    );
}

#[test]
fn duplicate_names_name_both_places() {
    check_errors(
        &format!(
            "node \"web\" {{\n  count = 3\n  {RESOURCES}\n}}\nnode \"web-1\" {{\n  {RESOURCES}\n}}\nnode \"web\" {{\n  count = 2\n  {RESOURCES}\n}}\n"
        ),
        r#"
cluster.hcl:9:1: error: node name "web-1" is already used by node "web" at cluster.hcl:1:1 (in node "web-1")
cluster.hcl:16:1: error: node names "web-0", "web-1" are already used by node "web" at cluster.hcl:1:1 (in node "web")
"#,
    );
}

#[test]
fn no_nodes() {
    check_errors(
        "# nothing here\nlocals { x = 1 }\n",
        r#"cluster.hcl:1:1: error: no nodes: a cluster file needs at least one `node "NAME" { ... }` block"#,
    );
    check_errors(
        &format!("\nnode \"a\" {{\n  count = 0\n  {RESOURCES}\n}}\n"),
        "cluster.hcl:2:1: error: no nodes: every node block has count = 0",
    );
}

#[test]
fn bad_port_lists_and_ranges() {
    check_errors(
        &format!(
            "node \"a\" {{\n  dynamic_ports = \"32000-20000\"\n  {RESOURCES}\n  reserved {{\n    ports = \"22,80-x\"\n  }}\n  host_network \"public\" {{\n    cidr           = \"10.0.0.0/33\"\n    reserved_ports = \"70000\"\n  }}\n}}\n"
        ),
        r#"
cluster.hcl:2:19: error: argument "dynamic_ports" must be a port range such as "20000-32000", got the string "32000-20000" (in node "a" > dynamic_ports)
cluster.hcl:9:13: error: argument "ports": invalid port list "22,80-x": bad item "80-x" (in node "a" > reserved > ports)
cluster.hcl:12:22: error: argument "cidr" must be an address block such as "192.168.0.0/24", got the string "10.0.0.0/33" (in node "a" > host_network "public" > cidr)
cluster.hcl:13:22: error: argument "reserved_ports": invalid port list "70000": bad item "70000" (in node "a" > host_network "public" > reserved_ports)
"#,
    );
}

#[test]
fn bad_device_names_and_labels() {
    check_errors(
        &format!(
            "node \"a\" {{\n  {RESOURCES}\n  device \"nvidia/gpu\" {{ count = 1 }}\n  device \"nvidia//A100\" {{}}\n  device \"x/y/z\" {{ count = -2 }}\n  device \"x/y/z\" {{}}\n  host_volume \"v\" {{}}\n}}\nnode {{\n  {RESOURCES}\n}}\n"
        ),
        r#"
cluster.hcl:7:3: error: device name "nvidia/gpu" must be vendor/type/model, such as "nvidia/gpu/A100" (in node "a" > device "nvidia/gpu")
cluster.hcl:8:3: error: device name "nvidia//A100" must be vendor/type/model with no empty part, such as "nvidia/gpu/A100" (in node "a" > device "nvidia//A100")
cluster.hcl:9:28: error: argument "count" must not be negative, got -2 (in node "a" > device "x/y/z" > count)
cluster.hcl:10:3: error: device "x/y/z" is declared more than once (in node "a" > device "x/y/z")
cluster.hcl:11:3: error: argument "path" is required in a host_volume block (in node "a" > host_volume "v")
cluster.hcl:13:1: error: a node block needs exactly one non-empty label: node "NAME" { ... } (in node "")
"#,
    );
}

#[test]
fn syntax_errors_are_located() {
    let e = errors("node \"a\" {\n  count = \n}\n", "c.hcl");
    assert!(
        e.starts_with("c.hcl:2:11: error: invalid HCL syntax"),
        "{e}"
    );
}

// ---- JSON ----

#[test]
fn json_nodes() {
    let source = r#"[
  {
    "Name": "api-1",
    "Datacenter": "dc2",
    "Attributes": { "kernel.name": "linux" },
    "Drivers": { "docker": { "Detected": true, "Healthy": true } },
    "NodeResources": {
      "Cpu": { "CpuShares": 4000 },
      "Memory": { "MemoryMB": 8192 },
      "Disk": { "DiskMB": 100000 }
    }
  },
  {
    "ID": "2b8a4ab5-3c8f-4b8e-9c3c-7d1e2f3a4b5c",
    "Name": "api-2",
    "Status": "down",
    "NodePool": "batch",
    "NodeResources": { "MinDynamicPort": 21000, "MaxDynamicPort": 22000 }
  }
]"#;
    // By file name, or by the leading `[` whatever the name.
    for name in ["nodes.json", "nodes.txt"] {
        let nodes = parse_cluster(source, name).expect("valid").nodes;
        assert_eq!(nodes.len(), 2);
        assert_eq!(nodes[0].id, node_id("api-1"));
        assert_eq!(nodes[0].status, NodeStatus::Ready);
        assert_eq!(nodes[0].datacenter, "dc2");
        assert_eq!(nodes[0].node_pool, "default");
        assert_eq!(nodes[0].node_resources.min_dynamic_port, 20000);
        assert!(nodes[0].drivers["docker"].healthy);
        assert_eq!(
            nodes[0].computed_class,
            crate::model::node_class::compute_class(&nodes[0])
        );
        assert_eq!(nodes[1].id, "2b8a4ab5-3c8f-4b8e-9c3c-7d1e2f3a4b5c");
        assert_eq!(nodes[1].status, NodeStatus::Down);
        assert_eq!(nodes[1].datacenter, "dc1");
        assert_eq!(nodes[1].node_pool, "batch");
        assert_eq!(
            (
                nodes[1].node_resources.min_dynamic_port,
                nodes[1].node_resources.max_dynamic_port
            ),
            (21000, 22000)
        );
    }
}

#[test]
fn json_errors_name_line_column_and_field() {
    let missing_name = "[\n  {\"Name\": \"a\"},\n  {\"Name\": \"b\"},\n  {\"Name\": \"a\"},\n    {\"Datacenter\": \"dc1\"}\n]";
    assert_eq!(
        errors(missing_name, "c.json"),
        "c.json:4:3: error: duplicate node ID \"".to_owned()
            + node_id("a").as_str()
            + "\": already used by node [0] at c.json:2:3 (in [2].ID)\n\
         c.json:4:3: error: duplicate node name \"a\": already used by node [0] at c.json:2:3 (in [2].Name)\n\
         c.json:5:5: error: a node needs a Name (in [3].Name)"
    );
    let wrong_type =
        "[\n  {\"Name\": \"a\",\n   \"NodeResources\": {\"Cpu\": {\"CpuShares\": \"many\"}}}\n]";
    let e = errors(wrong_type, "c.json");
    assert_eq!(
        e,
        "c.json:3:48: error: invalid type: string \"many\", expected i64 (in [0].NodeResources.Cpu.CpuShares)"
    );
    let e = errors("[{\"Name\": \"a\"},]", "c.json");
    assert!(e.starts_with("c.json:1:16: error: invalid JSON"), "{e}");
    let e = errors("[{\"Name\": \"a\"}] x", "c.json");
    assert!(e.starts_with("c.json:1:17: error: invalid JSON"), "{e}");
    assert_eq!(
        errors("[]", "c.json"),
        "c.json:1:1: error: no nodes: the JSON cluster file holds an empty list"
    );
    let e = errors("{\"Name\": \"a\"}", "c.json");
    assert!(e.starts_with("c.json:1:1: error: invalid type: map"), "{e}");
}

// ---- example files ----

/// Every file in `examples/clusters/`.
const EXAMPLES: &[(&str, &str)] = &[
    (
        "small.hcl",
        include_str!("../../../../examples/clusters/small.hcl"),
    ),
    (
        "racks.hcl",
        include_str!("../../../../examples/clusters/racks.hcl"),
    ),
    (
        "tiny.json",
        include_str!("../../../../examples/clusters/tiny.json"),
    ),
    (
        "asia.hcl",
        include_str!("../../../../examples/clusters/asia.hcl"),
    ),
];

#[test]
fn example_files_parse() {
    for (name, source) in EXAMPLES {
        let cluster = parse_cluster(source, name).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        assert!(!cluster.nodes.is_empty(), "{name}");
        for node in &cluster.nodes {
            assert!(node.is_schedulable(), "{name}: {}", node.name);
            assert!(!node.computed_class.is_empty(), "{name}: {}", node.name);
        }
    }
    let small = parse_cluster(EXAMPLES[0].1, "small.hcl").expect("valid");
    let datacenters: std::collections::BTreeSet<&str> =
        small.nodes.iter().map(|n| n.datacenter.as_str()).collect();
    assert_eq!(small.nodes.len(), 3);
    assert_eq!(datacenters.len(), 2);
    let racks = parse_cluster(EXAMPLES[1].1, "racks.hcl").expect("valid");
    let rack_names: std::collections::BTreeSet<&str> = racks
        .nodes
        .iter()
        .filter_map(|n| n.meta.get("rack").map(String::as_str))
        .collect();
    assert_eq!(rack_names.len(), 4);
    assert!(
        racks
            .nodes
            .iter()
            .any(|n| !n.node_resources.devices.is_empty())
    );
    assert_eq!(
        parse_cluster(EXAMPLES[2].1, "tiny.json")
            .expect("valid")
            .nodes
            .len(),
        2
    );
}
