//! Preemption bench: a cluster about 90 % full of priority-50 service
//! allocations (1,000 MHz / 2 GiB each, spread evenly), then one
//! evaluation of a priority-80 system job that needs 1,500 MHz / 1 GiB on
//! every node: on most nodes it only fits by evicting. Throughput is in
//! nodes; the figure is the cost of one system evaluation with preemption.

use benches::cluster::{NOW, env, evaluation, loaded_cluster};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::scheduler::schedule;
use std::hint::black_box;
use std::time::Duration;

const AGENT: &str = r#"job "agent" {
  datacenters = ["dc1"]
  type        = "system"
  priority    = 80
  group "agent" {
    task "agent" {
      driver = "docker"
      config {
        image = "agent:1"
      }
      resources {
        cpu    = 1500
        memory = 1024
      }
    }
  }
}
"#;

fn preempt_system(c: &mut Criterion) {
    let mut group = c.benchmark_group("preempt_system");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(3));
    for n in [1_000usize, 5_000] {
        group.throughput(Throughput::Elements(n as u64));
        // 9 allocations of 1,000 MHz per node on average: about 90 % of
        // the average node's 10,000 MHz.
        let (mut state, live) = loaded_cluster(n, 10, 9);
        let job = parse(AGENT, &ParseOptions::new("agent.hcl"))
            .expect("agent parses")
            .job;
        let index = state.index() + 1;
        state
            .upsert_job(index, job.clone())
            .expect("agent registers");
        let stored = {
            use scheduler_core::state::StateSnapshot;
            state
                .view()
                .job(&job.namespace, &job.id)
                .cloned()
                .expect("stored")
        };
        let mut eval = evaluation(&stored, 77);
        eval.create_time = NOW;
        let snapshot = state.snapshot();
        let result = schedule(&snapshot, &eval, &env());
        let placed = result.plan.new_allocations().count();
        let evicted: usize = result.plan.node_preemptions.values().map(Vec::len).sum();
        assert!(evicted > 0, "preempt_system/{n}: nothing was evicted");
        eprintln!(
            "preempt_system/{n}: {live} live allocations before; {placed} placed, {evicted} evicted"
        );
        group.bench_function(BenchmarkId::from_parameter(n), |b| {
            let env = env();
            b.iter(|| schedule(black_box(&snapshot), black_box(&eval), &env));
        });
    }
    group.finish();
}

criterion_group!(benches, preempt_system);
criterion_main!(benches);
