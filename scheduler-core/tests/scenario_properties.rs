//! Reconciliation invariants over random stories.
//!
//! Each case builds a cluster of 2–6 nodes and plays 1–14 random steps
//! against one service job with a generated `update` block (count,
//! `max_parallel`, canaries, auto-revert): new versions (destructive or
//! count-only), health reports, failures, nodes going down and coming back,
//! drains, promotions, nodes joining and time passing. After every step:
//!
//! - no node is over-committed (the plan check's own fit function);
//! - no group runs more than `count` allocations outside canaries
//!   (allocations of a disconnected client, `unknown`, are not running);
//! - a rolling update never has more than `max_parallel` replacements of
//!   the old version in flight (placed by the current deployment, not yet
//!   healthy);
//! - reconciling the settled state again changes nothing;
//! - the plan check accepts every plan whole (scheduler and applier agree).
//!
//! `PROPTEST_CASES` overrides the number of cases (48 by default).

use proptest::prelude::*;
use scheduler_core::jobspec::{ParseOptions, parse};
use scheduler_core::model::Duration;
use scheduler_core::model::{
    AllocClientStatus, AllocDesiredStatus, Allocation, EvalStatus, EvalTrigger, Evaluation, Job,
    JobId, Namespace,
};
use scheduler_core::plan::allocs_fit;
use scheduler_core::reconcile::reconciler::{STOP_RESCHEDULED, STOP_UPDATE};
use scheduler_core::scheduler::{SchedulerEnv, schedule};
use scheduler_core::simulate::cluster::parse_cluster;
use scheduler_core::simulate::scenario::{Step, StepKind};
use scheduler_core::simulate::world::World;
use scheduler_core::state::StateSnapshot;

const START: i64 = 1_767_225_600_000_000_000;

/// One version of the job.
#[derive(Debug, Clone)]
struct Version {
    count: u32,
    image: u32,
}

#[derive(Debug, Clone)]
struct Story {
    nodes: u32,
    cpu: u32,
    max_parallel: u32,
    canary: u32,
    auto_revert: bool,
    versions: Vec<Version>,
    ops: Vec<Op>,
}

#[derive(Debug, Clone)]
enum Op {
    Register(usize),
    Healthy,
    Unhealthy,
    Fail(u32),
    NodeDown(u32),
    NodeUp(u32),
    Drain(u32),
    Promote,
    AddNode,
    Advance(u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0usize..4).prop_map(Op::Register),
        4 => Just(Op::Healthy),
        1 => Just(Op::Unhealthy),
        1 => (0u32..6).prop_map(Op::Fail),
        1 => (0u32..6).prop_map(Op::NodeDown),
        1 => (0u32..6).prop_map(Op::NodeUp),
        1 => (0u32..6).prop_map(Op::Drain),
        1 => Just(Op::Promote),
        1 => Just(Op::AddNode),
        1 => (1u32..900).prop_map(Op::Advance),
    ]
}

fn story() -> impl Strategy<Value = Story> {
    (
        2u32..=6,
        prop_oneof![Just(1500u32), Just(4000)],
        1u32..=3,
        0u32..=2,
        any::<bool>(),
        prop::collection::vec((1u32..=6, 0u32..3), 4),
        prop::collection::vec(op(), 1..14),
    )
        .prop_map(
            |(nodes, cpu, max_parallel, canary, auto_revert, versions, ops)| Story {
                nodes,
                cpu,
                max_parallel,
                canary,
                auto_revert,
                versions: versions
                    .into_iter()
                    .map(|(count, image)| Version { count, image })
                    .collect(),
                ops,
            },
        )
}

fn job_text(story: &Story, version: &Version) -> String {
    format!(
        r#"job "web" {{
  datacenters = ["dc1"]
  update {{
    max_parallel = {max_parallel}
    canary       = {canary}
    auto_revert  = {auto_revert}
  }}
  group "web" {{
    count = {count}
    task "server" {{
      driver = "docker"
      config {{
        image = "nginx:{image}"
      }}
      resources {{
        cpu    = 500
        memory = 256
      }}
    }}
  }}
}}
"#,
        max_parallel = story.max_parallel,
        canary = story.canary,
        auto_revert = story.auto_revert,
        count = version.count,
        image = version.image,
    )
}

fn cluster_text(nodes: u32, cpu: u32) -> String {
    format!(
        r#"node "n" {{
  count   = {nodes}
  drivers = ["docker"]
  resources {{
    cpu    = {cpu}
    memory = "4GiB"
    disk   = 10000
  }}
}}
"#
    )
}

fn step(kind: StepKind) -> Step {
    Step { kind, line: 1 }
}

fn live(world: &World) -> Vec<Allocation> {
    world
        .state()
        .view()
        .allocs_by_job("default", &JobId::new("web"))
        .filter(|a| a.desired_status == AllocDesiredStatus::Run && !a.client_terminal())
        .cloned()
        .collect()
}

fn check(world: &World, story: &Story, after: &str) -> Result<(), TestCaseError> {
    let view = world.state().view();
    for node in view.nodes() {
        let allocs: Vec<&Allocation> = view
            .allocs_by_node(&node.id)
            .filter(|a| !a.is_terminal())
            .collect();
        if let Err(e) = allocs_fit(node, &allocs) {
            return Err(TestCaseError::fail(format!(
                "after {after}: node {} over-committed: {e}",
                node.name
            )));
        }
    }
    let Some(job) = view.job("default", &JobId::new("web")).cloned() else {
        return Ok(());
    };
    let count = job.task_groups[0].count.unwrap_or(1).max(0) as usize;
    let deployment = view
        .latest_deployment("default", &job.id)
        .filter(|d| d.is_active())
        .cloned();
    let promoted = deployment
        .as_ref()
        .and_then(|d| d.task_groups.get("web"))
        .is_some_and(|s| s.promoted);
    let running: Vec<Allocation> = live(world)
        .into_iter()
        .filter(|a| a.client_status != AllocClientStatus::Unknown)
        .filter(|a| {
            !(a.is_canary()
                && deployment
                    .as_ref()
                    .is_some_and(|d| d.id == a.deployment_id && !promoted))
        })
        .collect();
    prop_assert!(
        running.len() <= count,
        "after {after}: {} allocations run outside canaries, count {count}",
        running.len()
    );
    if let Some(d) = &deployment {
        let in_flight = live(world)
            .into_iter()
            // Replacements this deployment placed (allocations moved into
            // it by an in-place update were placed by an earlier one).
            .filter(|a| {
                a.deployment_id == d.id && !a.is_canary() && a.create_index >= d.create_index
            })
            .filter(|a| a.deployment_status.as_ref().and_then(|s| s.healthy) != Some(true))
            .filter(|a| {
                view.alloc(&a.previous_allocation)
                    .is_some_and(|p| p.desired_description == STOP_UPDATE)
            })
            .count();
        prop_assert!(
            in_flight <= story.max_parallel as usize,
            "after {after}: {in_flight} replacements in flight, max_parallel {}",
            story.max_parallel
        );
    }
    // Reconciling the settled state again changes nothing.
    let eval = Evaluation {
        id: scheduler_core::model::EvalId::new("00000000-0000-4000-8000-00000000e7a1"),
        namespace: Namespace::new("default"),
        priority: 50,
        eval_type: "service".to_owned(),
        triggered_by: EvalTrigger::JobRegister,
        job_id: job.id.clone(),
        job_modify_index: job.job_modify_index,
        status: EvalStatus::Pending,
        ..Evaluation::default()
    };
    let snapshot = world.state().snapshot();
    let result = schedule(
        &snapshot,
        &eval,
        &SchedulerEnv {
            now: world.now(),
            seed: 7,
        },
    );
    let plan = &result.plan;
    // A failed allocation whose follow-up evaluation is due within the
    // reschedule window (1 s) may be rescheduled by any evaluation: that is
    // a timer about to fire, not an unsettled state.
    let early: Vec<&str> = plan
        .stops()
        .filter(|a| a.desired_description == STOP_RESCHEDULED && !a.followup_eval_id.is_empty())
        .map(|a| a.name.as_str())
        .collect();
    let changes: Vec<String> = plan
        .new_allocations()
        .filter(|a| !early.contains(&a.name.as_str()))
        .map(|a| format!("place {}", a.name))
        .chain(
            plan.stops()
                .filter(|a| !early.contains(&a.name.as_str()))
                .map(|a| format!("stop {} ({})", a.name, a.desired_description)),
        )
        .chain(
            plan.placements()
                .filter(|a| a.create_index != 0 && a.job.is_some())
                .map(|a| format!("update {}", a.name)),
        )
        .collect();
    prop_assert!(
        changes.is_empty() && plan.deployment.is_none(),
        "after {after}: reconciling again is not a no-op: {changes:?} deployment {:?}",
        plan.deployment
            .as_ref()
            .map(|d| (&d.status, &d.task_groups))
    );
    Ok(())
}

fn play(story: &Story) -> Result<(), TestCaseError> {
    let cluster = parse_cluster(&cluster_text(story.nodes, story.cpu), "c.hcl")
        .map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let mut world = World::new(cluster.nodes, 11, START).expect("world");
    let jobs: Vec<Job> = story
        .versions
        .iter()
        .map(|v| {
            parse(&job_text(story, v), &ParseOptions::new("web.hcl"))
                .map(|p| p.job)
                .expect("generated job parses")
        })
        .collect();
    let mut load = |path: &str| -> Result<Job, String> {
        let index: usize = path.parse().map_err(|_| "bad path".to_owned())?;
        Ok(jobs[index].clone())
    };
    let mut added = 0;
    world
        .play(
            &step(StepKind::Register {
                job_path: "0".into(),
                check_index: None,
            }),
            &mut load,
        )
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    check(&world, story, "the first registration")?;
    for (number, op) in story.ops.iter().enumerate() {
        let node = |i: u32| format!("n-{}", i % story.nodes);
        let kind = match op {
            Op::Register(v) => StepKind::Register {
                job_path: v.to_string(),
                check_index: None,
            },
            Op::Healthy => StepKind::Healthy { job: "web".into() },
            Op::Unhealthy => StepKind::Unhealthy { job: "web".into() },
            Op::Fail(i) => StepKind::Fail {
                alloc: format!("web.web[{i}]"),
            },
            Op::NodeDown(i) => StepKind::NodeDown { node: node(*i) },
            Op::NodeUp(i) => StepKind::NodeUp { node: node(*i) },
            Op::Drain(i) => StepKind::Drain {
                node: node(*i),
                deadline: None,
                ignore_system_jobs: false,
            },
            Op::Promote => StepKind::Promote { job: "web".into() },
            Op::AddNode => {
                added += 1;
                let text =
                    cluster_text(1, story.cpu).replace("\"n\"", &format!("\"extra{added}\""));
                let nodes = parse_cluster(&text, "c.hcl")
                    .map_err(|e| TestCaseError::fail(format!("{e:?}")))?
                    .nodes;
                StepKind::AddNode { nodes }
            }
            Op::Advance(secs) => StepKind::Advance {
                duration: Duration::from_secs(i64::from(*secs)),
            },
        };
        let label = format!("step {} ({op:?})", number + 1);
        // Some steps are refused by design (promote without a deployment,
        // fail with no such allocation): the world stays as it was.
        let report = match world.play(&step(kind), &mut load) {
            Ok(report) => report,
            Err(e) => {
                prop_assert!(
                    !e.message.contains("did not settle") && !e.message.contains("too many"),
                    "{label}: {e}"
                );
                continue;
            }
        };
        // The scheduler and the plan check never disagree about a fit.
        prop_assert!(
            !report
                .notes
                .iter()
                .any(|n| n.contains("plan check rejected")),
            "{label}: {:?}",
            report.notes
        );
        check(&world, story, &label)?;
    }
    Ok(())
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(48);
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn reconciliation_invariants_hold_through_random_stories(story in story()) {
        play(&story)?;
    }
}
