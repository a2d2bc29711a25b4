use super::*;
use crate::simulate::cluster::{node_id, node_ip};
use proptest::prelude::*;

/// Every step kind, with every optional argument somewhere.
const FULL: &str = r#"
locals {
  web = "web"
}

cluster {
  node "n" {
    count   = 3
    drivers = ["docker"]
    resources {
      cpu    = 4000
      memory = 8192
      disk   = 100000
    }
  }
  node "solo" {
    resources {
      cpu    = 2000
      memory = "4GiB"
      disk   = 50000
    }
  }
}

step "register" { job = "jobs/web-v1.hcl" }
step "register" {
  job         = "jobs/web-v2.hcl"
  check_index = 42
}
step "healthy" { job = local.web }
step "unhealthy" { job = "web" }
step "fail" { alloc = "web.web[3]" }
step "node_down" { node = "n-1" }
step "node_up" { node = "n-1" }
step "drain" { node = "n-2" }
step "drain" {
  node               = "solo"
  deadline           = "1h30m"
  ignore_system_jobs = true
}
step "add_node" {
  node "big" {
    count = 2
    resources {
      cpu    = 16000
      memory = 65536
      disk   = 500000
    }
  }
  node "gpu" {
    resources {
      cpu    = 8000
      memory = 32768
      disk   = 100000
    }
  }
}
step "node_down" { node = "big-1" }
step "promote" { job = "web" }
step "stop" { job = "web" }
step "stop" {
  job   = "batch"
  purge = true
}
step "advance" { duration = "30s" }
step "plan" { job = "jobs/web-v3.hcl" }
step "add_node" {
  node "late" {
    resources {
      cpu    = 1000
      memory = 1024
      disk   = 1000
    }
  }
}
"#;

fn parse(source: &str) -> Scenario {
    match parse_scenario(source, "scenario.hcl") {
        Ok(scenario) => scenario,
        Err(e) => panic!("expected a valid scenario, got:\n{e}"),
    }
}

/// Asserts that `source` is rejected with exactly `expected` (one rendered
/// diagnostic per line).
fn check_errors(source: &str, expected: &str) {
    let actual = match parse_scenario(source, "scenario.hcl") {
        Ok(scenario) => panic!("expected errors, got {scenario:?}"),
        Err(e) => e.to_string(),
    };
    assert_eq!(actual, expected.trim(), "\nactual:\n{actual}\n");
}

/// A valid cluster block (lines 1 to 10) followed by `steps`.
fn with_cluster(steps: &str) -> String {
    format!(
        r#"cluster {{
  node "n" {{
    count = 5
    resources {{
      cpu    = 4000
      memory = 8192
      disk   = 100000
    }}
  }}
}}
{steps}"#
    )
}

fn address(node: &Node) -> &str {
    &node.node_resources.node_networks[0].addresses[0].address
}

fn names(nodes: &[Node]) -> Vec<&str> {
    nodes.iter().map(|n| n.name.as_str()).collect()
}

#[test]
fn every_step_kind() {
    let scenario = parse(FULL);
    assert_eq!(names(&scenario.nodes), ["n-0", "n-1", "n-2", "solo"]);

    let kinds: Vec<(usize, &str)> = scenario
        .steps
        .iter()
        .map(|s| (s.line, s.kind.name()))
        .collect();
    assert_eq!(
        kinds,
        [
            (25, "register"),
            (26, "register"),
            (30, "healthy"),
            (31, "unhealthy"),
            (32, "fail"),
            (33, "node_down"),
            (34, "node_up"),
            (35, "drain"),
            (36, "drain"),
            (41, "add_node"),
            (58, "node_down"),
            (59, "promote"),
            (60, "stop"),
            (61, "stop"),
            (65, "advance"),
            (66, "plan"),
            (67, "add_node"),
        ]
    );

    let mut added = Vec::new();
    let kinds: Vec<StepKind> = scenario
        .steps
        .into_iter()
        .map(|step| match step.kind {
            StepKind::AddNode { nodes } => {
                added.push(nodes);
                StepKind::AddNode { nodes: Vec::new() }
            }
            other => other,
        })
        .collect();
    let job = |job: &str| job.to_owned();
    assert_eq!(
        kinds,
        [
            StepKind::Register {
                job_path: job("jobs/web-v1.hcl"),
                check_index: None
            },
            StepKind::Register {
                job_path: job("jobs/web-v2.hcl"),
                check_index: Some(42)
            },
            StepKind::Healthy { job: job("web") },
            StepKind::Unhealthy { job: job("web") },
            StepKind::Fail {
                alloc: job("web.web[3]")
            },
            StepKind::NodeDown { node: job("n-1") },
            StepKind::NodeUp { node: job("n-1") },
            StepKind::Drain {
                node: job("n-2"),
                deadline: None,
                ignore_system_jobs: false
            },
            StepKind::Drain {
                node: job("solo"),
                deadline: Some(Duration::from_mins(90)),
                ignore_system_jobs: true
            },
            StepKind::AddNode { nodes: Vec::new() },
            StepKind::NodeDown { node: job("big-1") },
            StepKind::Promote { job: job("web") },
            StepKind::Stop {
                job: job("web"),
                purge: false
            },
            StepKind::Stop {
                job: job("batch"),
                purge: true
            },
            StepKind::Advance {
                duration: Duration::from_secs(30)
            },
            StepKind::Plan {
                job_path: job("jobs/web-v3.hcl")
            },
            StepKind::AddNode { nodes: Vec::new() },
        ]
    );

    // Added nodes are built as cluster nodes are, at the positions after
    // the cluster's and earlier steps' nodes.
    assert_eq!(added.len(), 2);
    assert_eq!(names(&added[0]), ["big-0", "big-1", "gpu"]);
    assert_eq!(names(&added[1]), ["late"]);
    let parsed = parse(FULL);
    let all: Vec<&Node> = parsed.nodes.iter().chain(added.iter().flatten()).collect();
    for (position, node) in all.iter().enumerate() {
        assert_eq!(node.id, node_id(&node.name), "{}", node.name);
        assert_eq!(
            address(node),
            node_ip(position).to_string(),
            "{}",
            node.name
        );
        assert!(node.is_schedulable(), "{}", node.name);
    }
    assert_eq!(added[0][0].node_resources.cpu.cpu_shares.0, 16000);
    assert_eq!(
        added[0][0]
            .attributes
            .get("unique.hostname")
            .map(String::as_str),
        Some("big-0")
    );
}

#[test]
fn the_cluster_block_may_follow_the_steps() {
    let source = r#"
step "node_down" { node = "a" }
cluster {
  node "a" {
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
"#;
    let scenario = parse(source);
    assert_eq!(names(&scenario.nodes), ["a"]);
    assert_eq!(
        scenario.steps,
        [Step {
            kind: StepKind::NodeDown { node: "a".into() },
            line: 2
        }]
    );
}

#[test]
fn a_scenario_without_steps_is_valid() {
    let scenario = parse(&with_cluster(""));
    assert_eq!(scenario.nodes.len(), 5);
    assert!(scenario.steps.is_empty());
}

#[test]
fn same_text_same_scenario() {
    assert_eq!(parse(FULL), parse(FULL));
}

#[test]
fn names_match_the_kinds() {
    assert_eq!(StepKind::NAMES.len(), 12);
    let duration = Duration::from_secs(1);
    let all = [
        StepKind::Register {
            job_path: String::new(),
            check_index: None,
        },
        StepKind::Plan {
            job_path: String::new(),
        },
        StepKind::Healthy { job: String::new() },
        StepKind::Unhealthy { job: String::new() },
        StepKind::Promote { job: String::new() },
        StepKind::Stop {
            job: String::new(),
            purge: false,
        },
        StepKind::Fail {
            alloc: String::new(),
        },
        StepKind::NodeDown {
            node: String::new(),
        },
        StepKind::NodeUp {
            node: String::new(),
        },
        StepKind::Drain {
            node: String::new(),
            deadline: None,
            ignore_system_jobs: false,
        },
        StepKind::AddNode { nodes: Vec::new() },
        StepKind::Advance { duration },
    ];
    let names: Vec<&str> = all.iter().map(StepKind::name).collect();
    assert_eq!(names, StepKind::NAMES);
}

#[test]
fn syntax_errors_are_located() {
    check_errors(
        "cluster {\n  node \"n\" {\n",
        "scenario.hcl:2:14: error: invalid HCL syntax: invalid block body; expected `}`, newline or identifier",
    );
}

#[test]
fn unknown_step_kinds_list_the_valid_ones() {
    check_errors(
        &with_cluster("step \"regster\" { job = \"a.hcl\" }\nstep \"explode\" {}\n"),
        r#"
scenario.hcl:11:1: error: unknown step kind "regster"; did you mean "register"? valid kinds are register, plan, healthy, unhealthy, promote, stop, fail, node_down, node_up, drain, add_node, advance (in step "regster")
scenario.hcl:12:1: error: unknown step kind "explode"; valid kinds are register, plan, healthy, unhealthy, promote, stop, fail, node_down, node_up, drain, add_node, advance (in step "explode")
"#,
    );
}

#[test]
fn step_labels_are_checked() {
    check_errors(
        &with_cluster("step {}\nstep \"\" {}\nstep \"stop\" \"web\" {}\n"),
        r#"
scenario.hcl:11:1: error: a step block needs its kind as its one label: step "KIND" { ... }, where KIND is one of register, plan, healthy, unhealthy, promote, stop, fail, node_down, node_up, drain, add_node, advance (in step "")
scenario.hcl:12:1: error: a step's kind must not be empty; it is one of register, plan, healthy, unhealthy, promote, stop, fail, node_down, node_up, drain, add_node, advance (in step "")
scenario.hcl:13:1: error: a step block takes exactly one label (its kind), got 2 (in step "stop")
"#,
    );
}

#[test]
fn arguments_are_checked() {
    check_errors(
        &with_cluster(
            r#"step "register" { jb = "a.hcl" }
step "stop" {
  job   = "web"
  purge = "maybe"
  force = true
}
step "healthy" { job = "" }
step "register" {
  job         = "a.hcl"
  check_index = -1
}
step "plan" {
  job = ["a.hcl"]
}
step "fail" {
  alloc = "web.web[0]"
  node "x" {}
}
"#,
        ),
        r#"
scenario.hcl:11:1: error: step "register" needs argument "job" (in step "register")
scenario.hcl:11:19: error: unsupported argument "jb"; did you mean "job"? (in step "register")
scenario.hcl:14:11: error: argument "purge" must be true or false, got the string "maybe" (in step "stop" > purge)
scenario.hcl:15:3: error: unsupported argument "force" (in step "stop")
scenario.hcl:17:24: error: argument "job" of step "healthy" must not be empty (in step "healthy" > job)
scenario.hcl:20:17: error: argument "check_index" must not be negative, got -1 (in step "register" > check_index)
scenario.hcl:23:9: error: argument "job" must be a string, got a list (in step "plan" > job)
scenario.hcl:27:3: error: unsupported block type "node" (in step "fail")
"#,
    );
}

#[test]
fn durations_are_checked() {
    check_errors(
        &with_cluster(
            r#"step "advance" { duration = "30 parsecs" }
step "advance" { duration = 30 }
step "advance" { duration = "0s" }
step "advance" { durations = "1s" }
step "drain" {
  node     = "n-0"
  deadline = "-1h"
}
"#,
        ),
        r#"
scenario.hcl:11:29: error: argument "duration": invalid duration "30 parsecs": expected a number with a unit, such as "30s", "5m" or "1h30m" (in step "advance" > duration)
scenario.hcl:12:29: error: argument "duration" must be a duration string such as "30s" or "1h30m", got the number 30 (in step "advance" > duration)
scenario.hcl:13:1: error: step "advance": argument "duration" must be more than zero (in step "advance")
scenario.hcl:14:1: error: step "advance" needs argument "duration", such as duration = "30s" (in step "advance")
scenario.hcl:14:18: error: unsupported argument "durations"; did you mean "duration"? (in step "advance")
scenario.hcl:17:14: error: argument "deadline" must not be negative, got "-1h" (in step "drain" > deadline)
"#,
    );
}

#[test]
fn nodes_named_by_steps_must_exist_then() {
    check_errors(
        &with_cluster(
            r#"step "node_down" { node = "n-44" }
step "drain" { node = "big" }
step "add_node" {
  node "big" {
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
step "node_up" { node = "big" }
"#,
        ),
        r#"
scenario.hcl:11:27: error: no node named "n-44" in the cluster or added by an earlier step; did you mean "n-4"? (in step "node_down" > node)
scenario.hcl:12:23: error: no node named "big" in the cluster or added by an earlier step (in step "drain" > node)
"#,
    );
}

#[test]
fn added_node_names_must_be_new() {
    check_errors(
        &with_cluster(
            r#"step "add_node" {
  node "n" {
    count = 6
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
step "add_node" {
  node "x" {
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
  node "x" {
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
"#,
        ),
        r#"
scenario.hcl:12:3: error: node names "n-0", "n-1", "n-2", "n-3", "n-4" are already used by node "n" at scenario.hcl:2:3 (in node "n")
scenario.hcl:29:3: error: node name "x" is already used by node "x" at scenario.hcl:22:3 (in node "x")
"#,
    );
}

#[test]
fn add_node_checks_its_node_blocks() {
    check_errors(
        &with_cluster(
            r#"step "add_node" {}
step "add_node" {
  count = 2
  nod "a" {}
}
step "add_node" {
  node "" {}
  node "z" {
    count = 0
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
step "add_node" {
  node "y" {
    resources {
      cpu = 1
      memory = 1
    }
    colour = "red"
  }
}
"#,
        ),
        r#"
scenario.hcl:11:1: error: an add_node step needs at least one `node "NAME" { ... }` block (in step "add_node")
scenario.hcl:12:1: error: an add_node step needs at least one `node "NAME" { ... }` block (in step "add_node")
scenario.hcl:13:3: error: unsupported argument "count" in an add_node step; arguments belong inside a node block (in step "add_node")
scenario.hcl:14:3: error: unsupported block type "nod"; did you mean "node"? (in step "add_node")
scenario.hcl:17:3: error: a node block needs a resources block: resources { cpu = 4000, memory = 8192, disk = 100000 } (in node "")
scenario.hcl:17:3: error: a node block needs exactly one non-empty label: node "NAME" { ... } (in node "")
scenario.hcl:29:5: error: argument "disk" is required in a node's resources block (in node "y" > resources)
scenario.hcl:33:5: error: unsupported argument "colour" (in node "y")
"#,
    );
    check_errors(
        &with_cluster(
            r#"step "add_node" {
  node "z" {
    count = 0
    resources {
      cpu    = 1
      memory = 1
      disk   = 1
    }
  }
}
"#,
        ),
        r#"scenario.hcl:11:1: error: an add_node step must add nodes; every node block has count = 0 (in step "add_node")"#,
    );
}

#[test]
fn the_cluster_block_is_required_and_single() {
    check_errors(
        "step \"advance\" { duration = \"1s\" }\n",
        r#"scenario.hcl:1:1: error: no cluster block: a scenario file needs one `cluster { node "NAME" { ... } }` block"#,
    );
    let twice = format!("{}\ncluster {{}}\n", with_cluster(""));
    check_errors(
        &twice,
        "scenario.hcl:12:1: error: only one cluster block is allowed; the first is at scenario.hcl:1:1",
    );
    check_errors(
        "cluster {}\n",
        r#"scenario.hcl:1:1: error: no nodes: the cluster block needs at least one `node "NAME" { ... }` block (in cluster)"#,
    );
    check_errors(
        "cluster \"c\" {\n  nodes = 3\n  nod \"a\" {}\n}\n",
        r#"
scenario.hcl:1:1: error: no nodes: the cluster block needs at least one `node "NAME" { ... }` block (in cluster)
scenario.hcl:1:1: error: the cluster block takes no labels, got ["c"] (in cluster)
scenario.hcl:2:3: error: unsupported argument "nodes" in the cluster block; arguments belong inside a node block (in cluster)
scenario.hcl:3:3: error: unsupported block type "nod"; did you mean "node"? (in cluster)
"#,
    );
}

#[test]
fn the_top_level_holds_cluster_and_steps() {
    check_errors(
        &with_cluster(
            r#"stpe "advance" { duration = "1s" }
node "m" {}
job "web" {}
seed = 4
"#,
        ),
        r#"
scenario.hcl:11:1: error: unsupported top-level block "stpe"; did you mean "step"?
scenario.hcl:12:1: error: node blocks belong inside the cluster block (or an add_node step): cluster { node "NAME" { ... } }
scenario.hcl:13:1: error: unsupported top-level block "job"; a scenario file holds a cluster block and step blocks (and variable, variables and locals blocks)
scenario.hcl:14:1: error: unexpected top-level argument "seed"; arguments belong inside a step block
"#,
    );
}

#[test]
fn evaluation_errors_are_located() {
    // The value is left out, and not reported missing as well.
    check_errors(
        &with_cluster("step \"healthy\" { job = local.nope }\n"),
        "scenario.hcl:11:24: error: reference to undeclared local value \"nope\": define it in a `locals` block",
    );
}

/// Characters that make interesting HCL when spliced into valid text.
fn mutation() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("\"".to_owned()),
        Just("=".to_owned()),
        Just("\n".to_owned()),
        Just("${".to_owned()),
        Just("step \"add_node\" { node \"n-0\" {} }".to_owned()),
        Just("count = 100000".to_owned()),
        Just("-".to_owned()),
        Just("é".to_owned()),
        "[a-z_0-9 \"{}=\\[\\]$.,#-]{0,8}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_text_never_panics(source in any::<String>()) {
        let _ = parse_scenario(&source, "scenario.hcl");
    }

    #[test]
    fn mutated_scenarios_never_panic(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), 0usize..6, mutation()), 1..6),
    ) {
        let mut source = FULL.to_owned();
        for (at, remove, insert) in edits {
            let boundaries: Vec<usize> = source
                .char_indices()
                .map(|(i, _)| i)
                .chain([source.len()])
                .collect();
            let i = at.index(boundaries.len());
            let start = boundaries[i];
            let end = boundaries[(i + remove).min(boundaries.len() - 1)];
            source.replace_range(start..end, &insert);
        }
        let _ = parse_scenario(&source, "scenario.hcl");
    }
}
