use super::*;
use crate::feasibility::fit::StaticPort;
use crate::model::{
    AllocClientStatus, AllocatedCpuResources, AllocatedMemoryResources, AllocatedPortMapping,
    AllocatedTaskResources, JobId, MHz, MiB, Namespace, Node,
};
use crate::simulate::NodeBuilder;
use crate::state::MemoryState;

/// 4000 MHz, 8192 MiB, 100 GB disk.
fn node() -> Node {
    NodeBuilder::new("n1", 1).build()
}

fn job(id: &str, priority: i64) -> Job {
    Job {
        id: JobId::from(id),
        namespace: "default".into(),
        priority: Some(priority),
        ..Job::default()
    }
}

fn alloc(id: &str, job_id: &str, priority: i64, cpu: i64, memory: i64) -> Allocation {
    let mut alloc = Allocation {
        id: AllocId::new(id),
        namespace: Namespace::new("default"),
        node_id: node().id,
        job_id: JobId::from(job_id),
        job: Some(std::sync::Arc::new(job(job_id, priority))),
        task_group: "g".into(),
        client_status: AllocClientStatus::Running,
        ..Allocation::default()
    };
    alloc.allocated_resources.tasks.insert(
        "t".into(),
        AllocatedTaskResources {
            cpu: AllocatedCpuResources {
                cpu_shares: MHz(cpu),
                ..AllocatedCpuResources::default()
            },
            memory: AllocatedMemoryResources {
                memory_mb: MiB(memory),
                ..AllocatedMemoryResources::default()
            },
            ..AllocatedTaskResources::default()
        },
    );
    alloc
}

fn with_port(mut alloc: Allocation, port: i64) -> Allocation {
    alloc
        .allocated_resources
        .shared
        .ports
        .push(AllocatedPortMapping {
            label: "http".into(),
            value: port,
            host_ip: node().node_resources.node_networks[0].addresses[0]
                .address
                .clone(),
            ..AllocatedPortMapping::default()
        });
    alloc
}

fn ask(cpu: i64, memory: i64) -> ResourceAsk {
    ResourceAsk {
        cpu: MHz(cpu),
        memory: MiB(memory),
        ..ResourceAsk::default()
    }
}

fn eligible_of(allocs: &[Allocation]) -> Vec<Eligible<'_>> {
    let mut out: Vec<Eligible<'_>> = allocs
        .iter()
        .map(|alloc| Eligible {
            alloc,
            priority: alloc.job.as_ref().map_or(0, |job| job.priority()),
        })
        .collect();
    out.sort_by_key(|e| e.priority);
    out
}

/// The ids of the victims chosen for `ask` among `allocs` on the test
/// node, sorted; `None` when no set suffices.
fn check(allocs: &[Allocation], ask: &ResourceAsk) -> Option<Vec<String>> {
    let node = node();
    let usage = NodeUsage::of(&node, allocs.iter());
    let eligible = eligible_of(allocs);
    let victims = choose_victims(&node, &usage, ask, &eligible, &|_| true)?;
    assert!(fit(&node, &victims.usage, ask).is_ok(), "ask fits after");
    let mut ids: Vec<String> = victims
        .chosen
        .iter()
        .map(|&i| eligible[i].alloc.id.as_str().to_owned())
        .collect();
    ids.sort();
    Some(ids)
}

#[test]
fn lowest_priority_goes_first() {
    let allocs = [
        alloc("a", "j30", 30, 1000, 2048),
        alloc("b", "j20", 20, 1000, 2048),
        alloc("c", "j40", 40, 1000, 2048),
        alloc("d", "j35", 35, 1000, 2048),
    ];
    assert_eq!(check(&allocs, &ask(1000, 2048)), Some(vec!["b".into()]));
}

#[test]
fn closest_allocation_makes_the_smallest_set() {
    let allocs = [
        alloc("s1", "j", 20, 500, 1024),
        alloc("s2", "j", 20, 500, 1024),
        alloc("s3", "j", 20, 500, 1024),
        alloc("s4", "j", 20, 500, 1024),
        alloc("big", "j", 20, 2000, 4096),
    ];
    assert_eq!(check(&allocs, &ask(2000, 4096)), Some(vec!["big".into()]));
}

#[test]
fn victims_made_unnecessary_by_a_later_one_are_dropped() {
    // The priority-20 allocation is taken first but the priority-30 one
    // alone suffices: the superset filter drops the first.
    let allocs = [
        alloc("low", "j20", 20, 1000, 1024),
        alloc("high", "j30", 30, 3000, 7168),
    ];
    assert_eq!(check(&allocs, &ask(2000, 2048)), Some(vec!["high".into()]));
}

#[test]
fn every_short_dimension_is_freed() {
    // "cpu" frees cpu only, "mem" memory only: both are needed.
    let allocs = [
        alloc("cpu", "j", 20, 3500, 512),
        alloc("mem", "j", 20, 500, 7680),
    ];
    assert_eq!(
        check(&allocs, &ask(1000, 1024)),
        Some(vec!["cpu".into(), "mem".into()])
    );
}

#[test]
fn not_enough_to_free_is_no_set() {
    let node = node();
    let allocs = [
        alloc("kept", "j", 20, 3000, 4096),
        alloc("small", "j", 20, 500, 512),
    ];
    // Only "small" is eligible: 500 MHz freed of 1000 short.
    let usage = NodeUsage::of(&node, allocs.iter());
    let eligible = eligible_of(&allocs[1..]);
    assert!(choose_victims(&node, &usage, &ask(1500, 512), &eligible, &|_| true).is_none());
}

#[test]
fn static_port_holders_must_go() {
    let allocs = [
        with_port(alloc("holder", "j", 20, 100, 100), 8080),
        alloc("other", "j", 20, 100, 100),
        with_port(alloc("elsewhere", "j", 20, 100, 100), 9090),
    ];
    let mut ask = ask(100, 100);
    ask.static_ports.push(StaticPort {
        host_network: "default".into(),
        port: 8080,
        ignore_collision: false,
    });
    assert_eq!(check(&allocs, &ask), Some(vec!["holder".into()]));

    let node = node();
    let victims = choose_victims(
        &node,
        &NodeUsage::of(&node, allocs.iter()),
        &ask,
        &eligible_of(&allocs),
        &|_| true,
    )
    .expect("room");
    let eligible = eligible_of(&allocs);
    let holder = eligible
        .iter()
        .find(|e| e.alloc.id.as_str() == "holder")
        .expect("holder");
    assert_eq!(
        explain(holder, 70, &victims),
        "priority 20 is at least 10 below 70; frees port 8080"
    );
}

#[test]
fn a_port_the_node_reserves_cannot_be_freed() {
    let node = NodeBuilder::new("n1", 1).reserved_ports("8080").build();
    let allocs = [alloc("a", "j", 20, 100, 100)];
    let mut ask = ask(100, 100);
    ask.static_ports.push(StaticPort {
        host_network: "default".into(),
        port: 8080,
        ignore_collision: false,
    });
    let usage = NodeUsage::of(&node, allocs.iter());
    assert!(choose_victims(&node, &usage, &ask, &eligible_of(&allocs), &|_| true).is_none());
}

#[test]
fn explanation_names_priorities_and_what_is_freed() {
    let node = node();
    let allocs = [
        alloc("v", "j", 20, 500, 256),
        alloc("k", "k", 20, 3500, 7936),
    ];
    let usage = NodeUsage::of(&node, allocs.iter());
    let eligible = eligible_of(&allocs[..1]);
    let victims =
        choose_victims(&node, &usage, &ask(500, 256), &eligible, &|_| true).expect("room");
    assert_eq!(
        explain(&eligible[0], 70, &victims),
        "priority 20 is at least 10 below 70; frees cpu 500 MHz, memory 256 MiB"
    );
}

#[test]
fn eligible_allocations_respect_the_priority_delta_and_the_job() {
    let node = node();
    let mut state = MemoryState::new();
    state.upsert_node(1, node.clone()).expect("node");
    let placing = job("web", 70);
    let mut stopped = alloc("stopped", "j20", 20, 100, 100);
    stopped.desired_status = AllocDesiredStatus::Stop;
    let mut from_snapshot = alloc("snap", "j55", 0, 100, 100);
    from_snapshot.job = None;
    state.upsert_job(2, job("j55", 55)).expect("job");
    let allocs = vec![
        alloc("p60", "j60", 60, 100, 100),
        alloc("p61", "j61", 61, 100, 100),
        alloc("own", "web", 20, 100, 100),
        alloc("evicted", "j10", 10, 100, 100),
        stopped,
        from_snapshot,
    ];
    state.upsert_allocs(3, allocs).expect("allocs");
    let snapshot = state.snapshot();
    let mut proposed = Proposed::new(&snapshot, &placing);
    proposed.preempt(snapshot.alloc(&AllocId::new("evicted")).expect("alloc"));
    let found: Vec<(String, i64)> = eligible(&snapshot, &proposed, &node.id, &placing)
        .iter()
        .map(|e| (e.alloc.id.as_str().to_owned(), e.priority))
        .collect();
    assert_eq!(found, vec![("snap".into(), 55), ("p60".into(), 60)]);
}

#[test]
fn evicted_copy_says_by_whom_and_why() {
    let victim = alloc("v", "j20", 20, 100, 100);
    let copy = evicted(
        &victim,
        &AllocId::new("new"),
        &job("web", 70),
        "priority 20 is at least 10 below 70",
        42,
    );
    assert_eq!(copy.desired_status, AllocDesiredStatus::Evict);
    assert_eq!(
        copy.desired_description,
        "Preempted by alloc ID new of job \"web\": priority 20 is at least 10 below 70"
    );
    assert_eq!(copy.preempted_by_allocation.as_str(), "new");
    assert!(copy.job.is_none());
    assert_eq!(copy.modify_time, 42);
}

#[test]
fn cheaper_costs_order_first_and_scores_fall_with_priority() {
    let cheap = Cost {
        max_priority: 20,
        count: 3,
        excess: 1.0,
    };
    let dear = Cost {
        max_priority: 30,
        count: 1,
        excess: 0.0,
    };
    assert_eq!(cheap.compare(&dear), std::cmp::Ordering::Less);
    let fewer = Cost { count: 2, ..cheap };
    assert_eq!(fewer.compare(&cheap), std::cmp::Ordering::Less);
    assert!(score(&[20]) > score(&[60]));
    assert!(score(&[20]) > score(&[20, 20]));
    assert!(score(&[100, 100, 100]) > 0.0 && score(&[1]) < 1.0);
}
