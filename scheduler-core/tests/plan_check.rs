//! The plan check's quick path (new allocations without ports, cores or
//! devices, checked against the store's per-node usage) gives the same
//! verdict as checking every allocation of the node (`allocs_fit`).

use proptest::prelude::*;
use scheduler_core::model::{
    AllocClientStatus, AllocDesiredStatus, AllocId, AllocatedCpuResources,
    AllocatedMemoryResources, AllocatedResources, AllocatedTaskResources, Allocation, JobId, MHz,
    MiB, Node, NodeId, VecMap,
};
use scheduler_core::plan::{allocs_fit, check_plan};
use scheduler_core::scheduler::Plan;
use scheduler_core::simulate::NodeBuilder;
use scheduler_core::state::{MemoryState, StateSnapshot};

fn node() -> Node {
    NodeBuilder::new("node-a", 0)
        .cpu(4_000)
        .memory(8_192)
        .reserved(100, 256)
        .build()
}

fn alloc(id: &str, node: &NodeId, cpu: i64, memory: i64, live: bool) -> Allocation {
    let task = AllocatedTaskResources {
        cpu: AllocatedCpuResources {
            cpu_shares: MHz(cpu),
            ..AllocatedCpuResources::default()
        },
        memory: AllocatedMemoryResources {
            memory_mb: MiB(memory),
            ..AllocatedMemoryResources::default()
        },
        ..AllocatedTaskResources::default()
    };
    Allocation {
        id: AllocId::new(id),
        node_id: node.clone(),
        job_id: JobId::new("job"),
        task_group: "web".to_owned(),
        allocated_resources: AllocatedResources {
            tasks: VecMap::from([("server".to_owned(), task)]),
            ..AllocatedResources::default()
        },
        desired_status: if live {
            AllocDesiredStatus::Run
        } else {
            AllocDesiredStatus::Stop
        },
        client_status: if live {
            AllocClientStatus::Running
        } else {
            AllocClientStatus::Complete
        },
        ..Allocation::default()
    }
}

/// (cpu, memory, live) of an allocation.
fn shape() -> impl Strategy<Value = (i64, i64, bool)> {
    (0i64..1_500, 0i64..3_000, prop::bool::weighted(0.8))
}

proptest! {
    #[test]
    fn the_quick_check_agrees_with_the_full_one(
        existing in prop::collection::vec(shape(), 0..6),
        placed in prop::collection::vec(shape(), 1..4),
        stop_first in any::<bool>(),
    ) {
        let node = node();
        let mut state = MemoryState::new();
        state.upsert_node(1, node.clone()).expect("node");
        let stored: Vec<Allocation> = existing
            .iter()
            .enumerate()
            .map(|(i, (cpu, memory, live))| alloc(&format!("old-{i}"), &node.id, *cpu, *memory, *live))
            .collect();
        state.upsert_allocs(2, stored.clone()).expect("allocs");
        let new: Vec<Allocation> = placed
            .iter()
            .enumerate()
            .map(|(i, (cpu, memory, live))| alloc(&format!("new-{i}"), &node.id, *cpu, *memory, *live))
            .collect();
        let mut plan = Plan::default();
        // Stopping one allocation on the node sends the check down the
        // full path; both paths must agree with `allocs_fit`.
        let stopped = stop_first.then(|| stored.first().cloned()).flatten();
        if let Some(stop) = &stopped {
            plan.node_update.insert(node.id.clone(), vec![stop.clone()]);
        }
        plan.node_allocation.insert(node.id.clone(), new.clone());

        let view = state.view();
        let everything: Vec<&Allocation> = view
            .allocs_by_node(&node.id)
            .filter(|a| !a.is_terminal())
            .filter(|a| stopped.as_ref().is_none_or(|s| s.id != a.id))
            .chain(new.iter().filter(|a| !a.is_terminal()))
            .collect();
        let expected = allocs_fit(&node, &everything);
        let checked = check_plan(view, &plan);
        match &expected {
            Ok(()) => prop_assert!(checked.is_full_commit(), "{:?}", checked.rejected),
            Err(reason) => prop_assert_eq!(checked.rejected.get(&node.id), Some(reason)),
        }
    }
}

#[test]
fn a_new_allocation_that_overflows_a_busy_node_is_refused() {
    let node = node();
    let mut state = MemoryState::new();
    state.upsert_node(1, node.clone()).expect("node");
    let busy: Vec<Allocation> = (0..3)
        .map(|i| alloc(&format!("old-{i}"), &node.id, 1_200, 1_024, true))
        .collect();
    state.upsert_allocs(2, busy).expect("allocs");
    let mut plan = Plan::default();
    plan.node_allocation.insert(
        node.id.clone(),
        vec![alloc("new-0", &node.id, 400, 512, true)],
    );
    let checked = check_plan(state.view(), &plan);
    assert_eq!(
        checked.rejected.get(&node.id).map(String::as_str),
        Some("cpu exhausted: 4000 used of 3900")
    );
    plan.node_allocation.insert(
        node.id.clone(),
        vec![alloc("new-0", &node.id, 300, 512, true)],
    );
    assert!(check_plan(state.view(), &plan).is_full_commit());
}
