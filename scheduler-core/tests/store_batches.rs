//! A plan's placements are stored as one batch (indexed per run of one
//! node or one job); the store must end up exactly as if each placement
//! had been upserted on its own.

use std::collections::BTreeMap;

use proptest::prelude::*;
use scheduler_core::model::{
    AllocClientStatus, AllocDesiredStatus, AllocId, AllocatedCpuResources,
    AllocatedMemoryResources, AllocatedResources, AllocatedTaskResources, Allocation, JobId, MHz,
    MiB, Namespace, NodeId, VecMap,
};
use scheduler_core::plan::{PlanResult, commit_plan};
use scheduler_core::simulate::NodeBuilder;
use scheduler_core::state::{MemoryState, Resource, StateSnapshot};

const NODES: usize = 3;

/// (id, node, job, cpu, live) of an allocation; ids from a small range so
/// that a batch repeats ids, and meets ids stored before.
fn shape() -> impl Strategy<Value = (u8, usize, u8, i64, bool)> {
    (
        0u8..12,
        0..NODES,
        0u8..3,
        1i64..400,
        prop::bool::weighted(0.8),
    )
}

fn node_id(i: usize) -> NodeId {
    NodeBuilder::new(&format!("node-{i}"), i).build().id
}

fn alloc((id, node, job, cpu, live): (u8, usize, u8, i64, bool)) -> Allocation {
    let task = AllocatedTaskResources {
        cpu: AllocatedCpuResources {
            cpu_shares: MHz(cpu),
            ..AllocatedCpuResources::default()
        },
        memory: AllocatedMemoryResources {
            memory_mb: MiB(cpu),
            ..AllocatedMemoryResources::default()
        },
        ..AllocatedTaskResources::default()
    };
    Allocation {
        id: AllocId::new(format!("{id:08}-0000-4000-8000-000000000000")),
        namespace: Namespace::new(if job == 2 { "other" } else { "default" }),
        node_id: node_id(node),
        job_id: JobId::new(format!("job-{}", job % 2)),
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
            AllocClientStatus::Pending
        } else {
            AllocClientStatus::Complete
        },
        ..Allocation::default()
    }
}

fn store(before: &[Allocation]) -> MemoryState {
    let mut state = MemoryState::new();
    for i in 0..NODES {
        let node = NodeBuilder::new(&format!("node-{i}"), i).build();
        state.upsert_node(1, node).expect("node");
    }
    state.upsert_allocs(2, before.to_vec()).expect("allocs");
    state
}

/// What a reader of the store can see of allocations, usage and indexes.
fn observed(state: &MemoryState) -> String {
    let view = state.view();
    let mut out = String::new();
    for alloc in view.allocs() {
        out += &format!(
            "{} node={} job={}/{} index={}/{}/{}\n",
            alloc.id,
            alloc.node_id,
            alloc.namespace,
            alloc.job_id,
            alloc.create_index,
            alloc.modify_index,
            alloc.alloc_modify_index
        );
    }
    for node in view.nodes() {
        let ids: Vec<String> = view
            .allocs_by_node(&node.id)
            .map(|a| a.id.to_string())
            .collect();
        out += &format!("node {} {:?} {:?}\n", node.id, ids, view.node_usage(node));
    }
    for resource in [Resource::Cpu, Resource::Memory] {
        let busy: Vec<String> = view
            .busy_nodes_by_free(resource, 0)
            .map(|n| n.id.to_string())
            .collect();
        out += &format!("busy {resource:?} {busy:?}\n");
    }
    for (namespace, job) in [
        ("default", "job-0"),
        ("default", "job-1"),
        ("other", "job-0"),
    ] {
        let job = JobId::new(job);
        let ids: Vec<String> = view
            .allocs_by_job(namespace, &job)
            .map(|a| a.id.to_string())
            .collect();
        out += &format!(
            "job {namespace}/{job} {ids:?} changed at {}\n",
            view.job_allocs_index(namespace, &job)
        );
    }
    out
}

proptest! {
    #[test]
    fn a_batch_of_placements_stores_as_single_upserts_do(
        before in prop::collection::vec(shape(), 0..6),
        placed in prop::collection::vec(shape(), 1..14),
    ) {
        let before: Vec<Allocation> = before.into_iter().map(alloc).collect();
        let mut by_node: BTreeMap<NodeId, Vec<Allocation>> = BTreeMap::new();
        for shape in placed {
            let alloc = alloc(shape);
            by_node.entry(alloc.node_id.clone()).or_default().push(alloc);
        }
        let mut batched = store(&before);
        let result = PlanResult {
            node_allocation: by_node.clone(),
            ..PlanResult::default()
        };
        commit_plan(&mut batched, 3, result).expect("commit");

        let mut single = store(&before);
        for alloc in by_node.into_values().flatten() {
            single.upsert_allocs(3, vec![alloc]).expect("upsert");
        }
        prop_assert_eq!(observed(&batched), observed(&single));
    }
}
