//! Placement as a user meets it: register a job against a cluster, read
//! where its allocations went and why some could not go anywhere.

#[path = "placement/common.rs"]
mod common;

#[allow(unused_imports)]
use common::*;

#[test]
fn places_every_allocation_with_names_resources_and_ports() {
    let mut sim = simulate(nodes(4, "n"), 1);
    let outcome = register(&mut sim, WEB);
    assert!(
        outcome.result.failures.is_empty(),
        "{:?}",
        outcome.result.failures
    );
    assert!(outcome.plan_result.is_full_commit());
    let placed = placements(&sim, "web");
    let mut names: Vec<String> = placed.values().flatten().map(|a| a.name.clone()).collect();
    names.sort();
    assert_eq!(
        names,
        (0..6).map(|i| format!("web.api[{i}]")).collect::<Vec<_>>()
    );
    for alloc in placed.values().flatten() {
        let task = &alloc.allocated_resources.tasks["server"];
        assert_eq!(task.cpu.cpu_shares, MHz(500));
        assert_eq!(task.memory.memory_mb, MiB(1024));
        assert_eq!(alloc.allocated_resources.shared.disk_mb, MiB(300));
        let ports = &alloc.allocated_resources.shared.ports;
        assert_eq!(ports.len(), 1);
        assert_eq!(ports[0].label, "http");
        assert!((20000..=32000).contains(&ports[0].value), "{ports:?}");
        assert!(!alloc.metrics.score_meta_data.is_empty());
    }
    assert_no_overcommit(&sim);
}

#[test]
fn same_seed_same_result_byte_for_byte() {
    let run = |seed| {
        let mut sim = simulate(nodes(20, "n"), seed);
        let outcome = register(&mut sim, WEB);
        serde_json::to_string(&outcome.result).expect("serialises")
    };
    assert_eq!(run(7), run(7));
    assert_ne!(run(7), run(8), "another seed should choose differently");
}

#[test]
fn filtered_counts_name_each_node_class_with_its_own_reason_placement_after_placement() {
    // Three classes: "web" nodes take the job, "mac" nodes fail its
    // constraint, "pc" nodes lack its driver. Twelve placements walk the
    // shuffled order round and round, so most filtered nodes are counted
    // from what the walk remembered of them, not from the node itself.
    let mut cluster = nodes(12, "n");
    for (i, node) in cluster.iter_mut().enumerate() {
        node.node_class = match i % 3 {
            0 => "web",
            1 => "mac",
            _ => "pc",
        }
        .to_owned();
        if i % 3 == 1 {
            node.attributes
                .insert("kernel.name".into(), "darwin".into());
        }
        if i % 3 == 2 {
            node.drivers.remove("docker");
            node.attributes.remove("driver.docker");
        }
    }
    let mut sim = simulate(cluster, 11);
    let outcome = register(
        &mut sim,
        r#"
job "counted" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "g" {
    count = 12
    task "t" {
      driver = "docker"
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#,
    );
    assert!(outcome.result.failures.is_empty());
    let placed = placements(&sim, "counted");
    let mut filtered_in_total = 0;
    for alloc in placed.values().flatten() {
        let metric = &alloc.metrics;
        let count = |map: &scheduler_core::model::VecMap<String, u32>, key: &str| {
            map.get(key).copied().unwrap_or(0)
        };
        assert_eq!(
            count(&metric.class_filtered, "mac"),
            count(&metric.constraint_filtered, "${attr.kernel.name} = linux"),
            "{metric:?}"
        );
        assert_eq!(
            count(&metric.class_filtered, "pc"),
            count(&metric.constraint_filtered, "missing drivers"),
            "{metric:?}"
        );
        assert_eq!(count(&metric.class_filtered, "web"), 0, "{metric:?}");
        assert_eq!(
            metric.class_filtered.values().sum::<u32>(),
            metric.nodes_filtered,
            "{metric:?}"
        );
        filtered_in_total += metric.nodes_filtered;
    }
    // Eight nodes are filtered; counted more often than that, some were
    // met again.
    assert!(filtered_in_total > 8, "{filtered_in_total}");
}

#[test]
fn constraints_filter_nodes_and_failures_name_every_reason() {
    let mut cluster = nodes(6, "linux");
    for node in cluster.iter_mut().take(2) {
        node.attributes
            .insert("kernel.name".into(), "darwin".into());
        node.drivers.remove("docker");
        node.attributes.remove("driver.docker");
    }
    let mut sim = simulate(cluster, 3);
    let outcome = register(
        &mut sim,
        r#"
job "pinned" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "g" {
    count = 10
    task "t" {
      driver = "docker"
      resources {
        cpu    = 1000
        memory = 2048
      }
    }
  }
}
"#,
    );
    // 4 linux nodes with room for 4 x (4000 MHz / 1000) = 16 by cpu,
    // 4 x (8192 / 2048) = 16 by memory, but disk 300 MB is fine: all 10 fit.
    assert!(outcome.result.failures.is_empty());
    for name in placements(&sim, "pinned").keys() {
        assert!(!["linux-0", "linux-1"].contains(&name.as_str()), "{name}");
    }

    // Ask for more than the linux nodes hold: the failure explains itself.
    let outcome = register(
        &mut sim,
        r#"
job "pinned2" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "g" {
    count = 3
    task "t" {
      driver = "docker"
      resources {
        cpu    = 500
        memory = 9000
      }
    }
  }
}
"#,
    );
    let failure = &outcome.result.failures[0];
    let metric = &failure.metric;
    assert_eq!(failure.task_group, "g");
    assert_eq!(metric.nodes_evaluated, 6);
    assert_eq!(metric.nodes_filtered, 2);
    // Both failing checks of the darwin nodes are counted, not only the first.
    assert_eq!(metric.constraint_filtered["${attr.kernel.name} = linux"], 2);
    assert_eq!(metric.constraint_filtered["missing drivers"], 2);
    assert_eq!(metric.nodes_exhausted, 4);
    // Memory is short everywhere; nodes the first job filled report cpu,
    // the first dimension checked.
    assert_eq!(metric.dimension_exhausted.values().sum::<u32>(), 4);
    assert!(metric.dimension_exhausted["memory"] >= 1);
    assert!(
        metric.explanation.contains("6 nodes evaluated")
            && metric.explanation.contains("${attr.kernel.name} = linux")
            && metric.explanation.contains("memory"),
        "{}",
        metric.explanation
    );
    assert_eq!(failure.unplaced, 3);
    assert_eq!(metric.coalesced_failures, 2);
    // A blocked evaluation waits for capacity, knowing which classes could help.
    let blocked = &outcome.result.created_evals[0];
    assert_eq!(blocked.status.to_string_lossy(), "blocked");
    assert!(blocked.class_eligibility.values().any(|eligible| *eligible));
    assert!(
        blocked
            .class_eligibility
            .values()
            .any(|eligible| !*eligible)
    );
    assert_eq!(outcome.result.eval_update.blocked_eval, blocked.id);
    assert_eq!(outcome.result.eval_update.queued_allocations["g"], 3);
}

trait Lossy {
    fn to_string_lossy(&self) -> String;
}
impl<T: serde::Serialize> Lossy for T {
    fn to_string_lossy(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

#[test]
fn unusable_nodes_are_never_chosen() {
    let mut cluster = nodes(8, "n");
    cluster[0].status = NodeStatus::Down;
    cluster[1].scheduling_eligibility = SchedulingEligibility::Ineligible;
    cluster[2].drain_strategy = Some(DrainStrategy::default());
    cluster[3].datacenter = "dc2".into();
    cluster[4].node_pool = "gpu".into();
    let mut sim = simulate(cluster, 5);
    let outcome = register(
        &mut sim,
        r#"
job "spread-out" {
  datacenters = ["dc*"]
  group "g" {
    count = 3
    constraint { operator = "distinct_hosts" }
    task "t" {
      driver = "exec"
      resources { memory = 128 }
    }
  }
}
"#,
    );
    assert!(
        outcome.result.failures.is_empty(),
        "{:?}",
        outcome.result.failures
    );
    let used: BTreeSet<String> = placements(&sim, "spread-out").into_keys().collect();
    // dc2 matches the glob; the down, ineligible, draining and other-pool nodes do not count.
    let allowed: BTreeSet<String> = ["n-3", "n-5", "n-6", "n-7"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    assert!(used.is_subset(&allowed), "{used:?}");
    assert_eq!(used.len(), 3);

    let outcome = register(
        &mut sim,
        r#"
job "too-many" {
  datacenters = ["dc1"]
  group "g" {
    count = 5
    constraint { operator = "distinct_hosts" }
    task "t" {
      driver = "exec"
      resources { memory = 128 }
    }
  }
}
"#,
    );
    let failure = &outcome.result.failures[0];
    assert_eq!(failure.unplaced, 2);
    assert!(
        failure.metric.explanation.contains("distinct_hosts"),
        "{}",
        failure.metric.explanation
    );
    assert!(
        failure.metric.explanation.contains("1 not ready"),
        "{}",
        failure.metric.explanation
    );
    assert!(
        failure.metric.explanation.contains("1 draining"),
        "{}",
        failure.metric.explanation
    );
}

#[test]
fn distinct_property_limits_allocations_per_value() {
    let mut cluster = nodes(6, "n");
    for (i, node) in cluster.iter_mut().enumerate() {
        node.meta.insert("rack".into(), format!("r{}", i % 3));
    }
    let mut sim = simulate(cluster, 9);
    let outcome = register(
        &mut sim,
        r#"
job "racked" {
  datacenters = ["dc1"]
  group "g" {
    count = 7
    constraint {
      operator  = "distinct_property"
      attribute = "${meta.rack}"
      value     = "2"
    }
    task "t" {
      driver = "exec"
      resources { memory = 128 }
    }
  }
}
"#,
    );
    assert_eq!(placed_count(&sim, "racked"), 6);
    assert_eq!(outcome.result.failures[0].unplaced, 1);
    let state = sim.state().view();
    let mut per_rack: BTreeMap<String, u32> = BTreeMap::new();
    for alloc in placements(&sim, "racked").values().flatten() {
        let node = state.node(&alloc.node_id).expect("node");
        *per_rack.entry(node.meta["rack"].clone()).or_default() += 1;
    }
    assert_eq!(
        per_rack.values().copied().collect::<Vec<_>>(),
        vec![2, 2, 2]
    );
}

#[test]
fn static_ports_never_collide() {
    let mut sim = simulate(nodes(2, "n"), 2);
    let outcome = register(
        &mut sim,
        r#"
job "lb" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    network {
      port "http" { static = 80 }
    }
    task "t" {
      driver = "exec"
      resources { memory = 64 }
    }
  }
}
"#,
    );
    assert_eq!(placed_count(&sim, "lb"), 2);
    let failure = &outcome.result.failures[0];
    assert_eq!(
        failure.metric.dimension_exhausted["network: port collision"],
        2
    );
    assert_no_overcommit(&sim);
}

#[test]
fn spread_with_targets_and_even_spread() {
    let mut cluster = nodes(10, "n");
    for (i, node) in cluster.iter_mut().enumerate() {
        node.meta
            .insert("zone".into(), if i < 5 { "a" } else { "b" }.into());
    }
    let mut sim = simulate(cluster, 4);
    register(
        &mut sim,
        r#"
job "targets" {
  datacenters = ["dc1"]
  group "g" {
    count = 10
    spread {
      attribute = "${meta.zone}"
      target "a" { percent = 70 }
      target "b" { percent = 30 }
    }
    task "t" {
      driver = "exec"
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#,
    );
    let zone_counts = |sim: &Simulation, job: &str| {
        let state = sim.state().view();
        let mut counts: BTreeMap<String, u32> = BTreeMap::new();
        for alloc in placements(sim, job).values().flatten() {
            let node = state.node(&alloc.node_id).expect("node");
            *counts.entry(node.meta["zone"].clone()).or_default() += 1;
        }
        counts
    };
    assert_eq!(
        zone_counts(&sim, "targets"),
        [("a".into(), 7), ("b".into(), 3)].into()
    );

    register(
        &mut sim,
        r#"
job "even" {
  datacenters = ["dc1"]
  group "g" {
    count = 9
    spread { attribute = "${meta.zone}" }
    task "t" {
      driver = "exec"
      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
"#,
    );
    let even = zone_counts(&sim, "even");
    let (a, b) = (even["a"], even["b"]);
    assert_eq!(a + b, 9);
    assert!(a.abs_diff(b) <= 1, "{even:?}");
}

#[test]
fn affinity_prefers_matching_nodes() {
    let mut cluster = nodes(12, "n");
    for node in cluster.iter_mut().take(3) {
        node.node_class = "fast".into();
    }
    let mut sim = simulate(cluster, 11);
    register(
        &mut sim,
        r#"
job "picky" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    affinity {
      attribute = "${node.class}"
      value     = "fast"
      weight    = 100
    }
    task "t" {
      driver = "exec"
      resources { memory = 64 }
    }
  }
}
"#,
    );
    for name in placements(&sim, "picky").keys() {
        assert!(["n-0", "n-1", "n-2"].contains(&name.as_str()), "{name}");
    }
}

#[test]
fn binpack_fills_nodes_and_spread_algorithm_evens_them_out() {
    // Two single-allocation jobs on two nodes (both nodes are always
    // scored): binpack stacks them, the spread algorithm separates them.
    let source = |name: &str| {
        format!(
            r#"
job "{name}" {{
  datacenters = ["dc1"]
  group "g" {{
    task "t" {{
      driver = "exec"
      resources {{
        cpu    = 1000
        memory = 1024
      }}
    }}
  }}
}}
"#
        )
    };
    let nodes_used = |algorithm| {
        let mut sim = simulate(nodes(2, "n"), 21);
        sim.state_mut()
            .set_scheduler_config(
                100,
                SchedulerConfiguration {
                    scheduler_algorithm: algorithm,
                    ..SchedulerConfiguration::default()
                },
            )
            .expect("config");
        register(&mut sim, &source("a"));
        register(&mut sim, &source("b"));
        let a = placements(&sim, "a").into_keys().next().expect("a placed");
        let b = placements(&sim, "b").into_keys().next().expect("b placed");
        BTreeSet::from([a, b]).len()
    };
    assert_eq!(nodes_used(SchedulerAlgorithm::Binpack), 1);
    assert_eq!(nodes_used(SchedulerAlgorithm::Spread), 2);
}

#[test]
fn system_jobs_run_once_on_every_feasible_node() {
    let mut cluster = nodes(5, "n");
    cluster[0]
        .attributes
        .insert("kernel.name".into(), "windows".into());
    cluster[1].status = NodeStatus::Down;
    let mut sim = simulate(cluster, 8);
    let source = r#"
job "agent" {
  datacenters = ["dc1"]
  type = "system"
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "g" {
    task "t" {
      driver = "exec"
      resources { memory = 64 }
    }
  }
}
"#;
    let outcome = register(&mut sim, source);
    assert!(outcome.result.failures.is_empty());
    let placed = placements(&sim, "agent");
    assert_eq!(
        placed.keys().cloned().collect::<Vec<_>>(),
        ["n-2", "n-3", "n-4"]
    );
    assert!(
        placed
            .values()
            .all(|allocs| allocs.len() == 1 && allocs[0].name == "agent.g[0]")
    );
    // Registering again changes nothing.
    let outcome = register(&mut sim, source);
    assert!(outcome.result.plan.is_no_op());
}

#[test]
fn devices_are_given_per_instance() {
    let mut cluster = nodes(3, "n");
    cluster[0].node_resources.devices = vec![NodeDeviceResource {
        vendor: "nvidia".into(),
        device_type: "gpu".into(),
        name: "A100".into(),
        instances: (0..2)
            .map(|i| NodeDevice {
                id: format!("GPU-{i}"),
                healthy: true,
                ..NodeDevice::default()
            })
            .collect(),
        ..NodeDeviceResource::default()
    }];
    let mut sim = simulate(cluster, 13);
    let outcome = register(
        &mut sim,
        r#"
job "train" {
  datacenters = ["dc1"]
  group "g" {
    count = 3
    task "t" {
      driver = "docker"
      resources {
        memory = 256
        device "nvidia/gpu" { count = 1 }
      }
    }
  }
}
"#,
    );
    let placed = placements(&sim, "train");
    assert_eq!(placed.keys().cloned().collect::<Vec<_>>(), ["n-0"]);
    let mut given: Vec<String> = placed["n-0"]
        .iter()
        .flat_map(|a| a.allocated_resources.tasks["t"].devices.iter())
        .flat_map(|d| d.device_ids.clone())
        .collect();
    given.sort();
    assert_eq!(given, ["GPU-0", "GPU-1"]);
    let failure = &outcome.result.failures[0];
    assert_eq!(failure.unplaced, 1);
    assert_eq!(failure.metric.constraint_filtered["missing devices"], 2);
    assert_eq!(failure.metric.dimension_exhausted["devices"], 1);
}

#[test]
fn why_not_gives_every_reason_for_one_node() {
    let mut cluster = nodes(2, "n");
    cluster[1]
        .attributes
        .insert("kernel.name".into(), "darwin".into());
    cluster[1].drivers.remove("docker");
    cluster[1].attributes.remove("driver.docker");
    cluster[1].node_resources.memory.memory_mb = MiB(512);
    let sim = simulate(cluster, 1);
    let job = job(r#"
job "web" {
  datacenters = ["dc1"]
  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }
  group "api" {
    task "server" {
      driver = "docker"
      resources { memory = 1024 }
    }
  }
}
"#);
    let state = sim.state().view();
    let bad = state
        .nodes()
        .find(|n| n.name == "n-1")
        .expect("n-1")
        .id
        .clone();
    let verdict = why_not(state, &job, "api", &bad).expect("verdict");
    assert!(!verdict.placeable);
    let text = verdict.reasons.join("\n");
    assert!(text.contains("${attr.kernel.name} = linux"), "{text}");
    assert!(text.contains("docker"), "{text}");
    assert!(text.contains("memory"), "{text}");
    assert_eq!(verdict.reasons.len(), 3, "{text}");

    let good = state
        .nodes()
        .find(|n| n.name == "n-0")
        .expect("n-0")
        .id
        .clone();
    let verdict = why_not(state, &job, "api", &good).expect("verdict");
    assert!(verdict.placeable, "{:?}", verdict.reasons);
    assert!(verdict.score.is_some());
    assert!(why_not(state, &job, "nope", &good).is_err());
}

#[test]
fn a_node_pool_can_choose_its_own_algorithm() {
    use scheduler_core::scheduler::{NodePool, config::NodePoolSchedulerConfiguration};
    let source = |name: &str, pool: &str| {
        format!(
            r#"
job "{name}" {{
  datacenters = ["dc1"]
  node_pool   = "{pool}"
  group "g" {{
    task "t" {{
      driver = "exec"
      resources {{
        cpu    = 1000
        memory = 1024
      }}
    }}
  }}
}}
"#
        )
    };
    let mut cluster = nodes(4, "n");
    for node in cluster.iter_mut().skip(2) {
        node.node_pool = "batch".into();
    }
    let mut sim = simulate(cluster, 5);
    // The cluster packs; the "batch" pool spreads.
    sim.state_mut()
        .upsert_node_pool(
            100,
            NodePool {
                name: "batch".into(),
                scheduler_configuration: Some(NodePoolSchedulerConfiguration {
                    scheduler_algorithm: Some(SchedulerAlgorithm::Spread),
                    ..NodePoolSchedulerConfiguration::default()
                }),
                ..NodePool::default()
            },
        )
        .expect("pool");
    for (job, pool) in [
        ("a", "default"),
        ("b", "default"),
        ("c", "batch"),
        ("d", "batch"),
    ] {
        register(&mut sim, &source(job, pool));
    }
    let node_of = |job: &str| placements(&sim, job).into_keys().next().expect("placed");
    assert_eq!(node_of("a"), node_of("b"), "the default pool packs");
    assert_ne!(node_of("c"), node_of("d"), "the batch pool spreads");
    assert!(["n-2", "n-3"].contains(&node_of("c").as_str()));
}
