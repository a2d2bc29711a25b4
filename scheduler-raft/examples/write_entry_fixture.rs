//! Writes one log entry's command as this version encodes it (see
//! `codec.rs`), made of what a real cluster writes: nodes, a job
//! registration with its evaluation, and the plan that placed the job.
//! It wrote `tests/fixtures/log-entry-positional-1.msgpack` and, once
//! placement metrics became a blob, `-2`; `codec::tests` read both files
//! and check what they hold.
//!
//! The committed files stand for entries already in operators' logs:
//! **never regenerate them**. When the encoding changes, write a new file
//! (`-3`) with this example and keep every test.
//!
//! `cargo run -p scheduler-raft --example write_entry_fixture -- OUT`
#![allow(clippy::disallowed_methods)]

use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::{EvalId, EvalStatus, EvalTrigger, Evaluation, Namespace};
use scheduler_core::plan::check_owned_plan;
use scheduler_core::scheduler::{SchedulerEnv, schedule};
use scheduler_core::simulate::NodeBuilder;
use scheduler_core::state::{MemoryState, StateSnapshot};
use scheduler_raft::{Command, PlanApply};

const JOB: &str = r#"
job "web" {
  datacenters = ["dc1"]
  meta { owner = "team \"a\"" }
  group "app" {
    count = 2
    network {
      port "http" {}
    }
    service {
      name = "web"
      port = "http"
    }
    task "server" {
      driver = "docker"
      config { image = "registry.example/web:1" }
      resources {
        cpu    = 250
        memory = 128
      }
    }
  }
}
"#;

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: write_entry_fixture OUT");
    let now = 1_764_000_000_000_000_000;
    let nodes: Vec<_> = (0..3)
        .map(|i| {
            NodeBuilder::new(&format!("node-{i}"), i)
                .class(if i == 0 { "small" } else { "large" })
                .meta("rack", &format!("r{i}"))
                .build()
        })
        .collect();
    let mut job = parse(JOB, &ParseOptions::new("web.hcl"))
        .expect("parses")
        .job;
    let mut state = MemoryState::new();
    for node in &nodes {
        state
            .upsert_node(state.index() + 1, node.clone())
            .expect("node");
    }
    state
        .upsert_job(state.index() + 1, job.clone())
        .expect("job");
    job = (*state.view().job("default", &"web".into()).expect("stored")).clone();
    let eval = Evaluation {
        id: EvalId::new("6f7d3c1e-5b9a-4c2d-8e1f-0a1b2c3d4e5f"),
        namespace: Namespace::new("default"),
        priority: 50,
        eval_type: "service".into(),
        triggered_by: EvalTrigger::JobRegister,
        job_id: job.id.clone(),
        status: EvalStatus::Pending,
        create_time: now,
        modify_time: now,
        ..Evaluation::default()
    };
    let env = SchedulerEnv { now, seed: 7 };
    let result = schedule(state.view(), &eval, &env);
    let accepted = check_owned_plan(state.view(), result.plan);
    let mut node_allocation = accepted.node_allocation;
    for alloc in node_allocation.values_mut().flatten() {
        alloc.job = None;
    }
    let mut done = eval.clone();
    done.status = EvalStatus::Complete;
    let command = Command::Batch(vec![
        Command::UpsertNodes { nodes },
        Command::RegisterJob {
            job: Box::new(job.clone()),
            enforce_index: Some(0),
            eval: Some(Box::new(eval.clone())),
        },
        Command::ApplyPlan(Box::new(PlanApply {
            eval_id: eval.id.clone(),
            job: Some(job),
            node_allocation,
            deployment: accepted.deployment,
            evals: vec![done],
            ..PlanApply::default()
        })),
    ]);
    let bytes = scheduler_raft::codec::encode(&command).expect("encodes");
    std::fs::write(&out, &bytes).expect("writes");
    eprintln!("{} bytes to {out}: {command:#?}", bytes.len());
}
