//! Embedding the scheduler: build a snapshot of nodes, parse a job, call
//! `schedule`, read the plan, then let the plan check accept it.
//!
//! Run with `cargo run -p scheduler-core --example place_job [SEED]`.

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{EvalId, EvalTrigger, Evaluation};
use scheduler_core::plan::{apply_plan, check_plan};
use scheduler_core::scheduler::{SchedulerEnv, schedule};
use scheduler_core::simulate::cluster::parse_cluster;
use scheduler_core::state::{MemoryState, StateSnapshot};

const CLUSTER: &str = include_str!("../../examples/clusters/asia.hcl");
const JOB: &str = include_str!("../../examples/jobs/myapp-rolling.nomad.hcl");

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed: u64 = std::env::args().nth(1).map_or(Ok(1), |s| s.parse())?;

    // The cluster: nodes as a client would register them.
    let cluster = parse_cluster(CLUSTER, "asia.hcl")?;
    let mut state = MemoryState::new();
    for node in cluster.nodes {
        state.upsert_node(1, node)?;
    }

    // The job, with its defaults applied.
    let job = parse(JOB, &ParseOptions::new("myapp-rolling.nomad.hcl"))?.job;
    state.upsert_job(2, job.clone())?;

    // One evaluation, as a server creates on `job run`.
    let eval = Evaluation {
        id: EvalId::new("5b0a3f4c-0000-4000-8000-000000000001"),
        namespace: job.namespace.as_str().into(),
        job_id: job.id.clone(),
        eval_type: job.job_type.as_str().to_owned(),
        triggered_by: EvalTrigger::JobRegister,
        ..Evaluation::default()
    };
    // No clock is read inside the scheduler: now and the seed are inputs.
    let env = SchedulerEnv {
        now: 1_764_000_000_000_000_000,
        seed,
    };
    let result = schedule(&state.snapshot(), &eval, &env);

    for (node_id, allocs) in &result.plan.node_allocation {
        let node = state.view().node(node_id).map_or("?", |n| n.name.as_str());
        for alloc in allocs {
            let score = alloc
                .metrics
                .score_meta_data
                .first()
                .map_or(0.0, |s| s.norm_score);
            println!("{:<20} -> {node:<12} score {score:.3}", alloc.name);
        }
    }
    for failure in &result.failures {
        println!("{}: {}", failure.task_group, failure.metric.explanation);
    }

    // What a server does next: re-check every node against the latest
    // state and commit what still fits.
    let accepted = check_plan(state.view(), &result.plan);
    apply_plan(&mut state, 3, &accepted)?;
    println!(
        "committed {} allocations at index {}",
        accepted
            .node_allocation
            .values()
            .map(Vec::len)
            .sum::<usize>(),
        state.index()
    );
    Ok(())
}
