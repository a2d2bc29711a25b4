//! Reconciliation benches: one `schedule` call for a job that already runs
//! N allocations (placed through `Simulation` on N / 4 nodes, then all
//! reported running and healthy), after:
//!
//! - `stable/N`: nothing changed (the reconciler must find nothing to do);
//! - `rolling_update/N`: a new image (every allocation is a destructive
//!   update; `max_parallel` 1 lets one through per evaluation);
//! - `count_change/N`: one more allocation (every existing allocation is
//!   updated in place to the new version, one is placed);
//! - `scale_down/N`: a tenth of the count (nine tenths are stopped, the
//!   rest updated in place).
//!
//! Throughput is in allocations reconciled. The snapshot and evaluation
//! are built outside the timed loop.

use benches::cluster::{NOW, SEED, ServiceJob, env, evaluation, nodes};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{AllocClientStatus, AllocDeploymentStatus, Job};
use scheduler_core::scheduler::schedule;
use scheduler_core::simulate::Simulation;
use scheduler_core::state::{MemorySnapshot, StateSnapshot};
use std::hint::black_box;
use std::time::Duration;

/// A running job of `allocs` healthy allocations, and its next version made
/// by `change` from its HCL, registered in the returned snapshot.
fn prepared(allocs: u32, change: impl Fn(&str) -> String) -> (MemorySnapshot, Job) {
    let base = ServiceJob::new("web", allocs, 100, 128);
    let mut sim =
        Simulation::new(nodes(allocs as usize / 4 + 1), SEED, NOW).expect("nodes register");
    sim.register(base.build()).expect("first version registers");
    let state = sim.state_mut();
    let running: Vec<_> = {
        let view = state.view();
        view.allocs_by_job("default", &base.build().id)
            .map(|a| {
                let mut update = a.clone();
                update.job = None;
                update.client_status = AllocClientStatus::Running;
                update.deployment_status = Some(Box::new(AllocDeploymentStatus {
                    healthy: Some(true),
                    ..AllocDeploymentStatus::default()
                }));
                update
            })
            .collect()
    };
    let index = state.index() + 1;
    state
        .update_allocs_from_client(index, running)
        .expect("client update");
    let next = parse(&change(&base.hcl()), &ParseOptions::new("web.hcl"))
        .expect("next version parses")
        .job;
    let index = state.index() + 1;
    state
        .upsert_job(index, next)
        .expect("next version registers");
    let stored = state
        .view()
        .job("default", &base.build().id)
        .cloned()
        .expect("stored");
    (state.snapshot(), stored)
}

fn reconcile(c: &mut Criterion) {
    type Change = fn(&str) -> String;
    let cases: [(&str, Change); 4] = [
        ("stable", |hcl| hcl.to_owned()),
        ("rolling_update", |hcl| hcl.replace("app:1", "app:2")),
        ("count_change", |hcl| {
            let count = hcl
                .lines()
                .find_map(|l| l.trim().strip_prefix("count = "))
                .and_then(|n| n.parse::<u32>().ok())
                .expect("count");
            hcl.replace(
                &format!("count = {count}"),
                &format!("count = {}", count + 1),
            )
        }),
        ("scale_down", |hcl| {
            let count = hcl
                .lines()
                .find_map(|l| l.trim().strip_prefix("count = "))
                .and_then(|n| n.parse::<u32>().ok())
                .expect("count");
            hcl.replace(
                &format!("count = {count}"),
                &format!("count = {}", count / 10),
            )
        }),
    ];
    for (name, change) in cases {
        let mut group = c.benchmark_group(name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(3));
        for n in [100u32, 1_000, 5_000] {
            group.throughput(Throughput::Elements(u64::from(n)));
            let (snapshot, job) = prepared(n, change);
            let eval = evaluation(&job, 9);
            let result = schedule(&snapshot, &eval, &env());
            assert!(
                result.failures.is_empty(),
                "{name}/{n}: {:?}",
                result.failures
            );
            eprintln!(
                "{name}/{n}: {} new, {} updated or written, {} stopped",
                result.plan.new_allocations().count(),
                result.plan.placements().count() - result.plan.new_allocations().count(),
                result.plan.stops().count()
            );
            group.bench_function(BenchmarkId::from_parameter(n), |b| {
                let env = env();
                b.iter(|| schedule(black_box(&snapshot), black_box(&eval), &env));
            });
        }
        group.finish();
    }
}

criterion_group!(benches, reconcile);
criterion_main!(benches);
