//! A conformance suite for state stores: the checks every store behind
//! [`StateSnapshot`] must pass, runnable against an embedder's store (the
//! Raft store later) exactly as against [`MemoryState`].
//!
//! Implement [`TestableStore`] (apply one [`StoreWrite`] at an index, take a
//! snapshot) for your store and call [`check_all`] with a factory of empty
//! stores:
//!
//! ```
//! use scheduler_core::state::MemoryState;
//! use scheduler_core::state::conformance::check_all;
//!
//! check_all(&mut MemoryState::new, 16);
//! ```
//!
//! The random checks draw write sequences from small id pools (five nodes,
//! three jobs in two namespaces, ten allocations, four evaluations and
//! deployments) so that updates hit existing objects, move allocations
//! between nodes and jobs, and change nodes' classes. They use a
//! deterministic proptest runner (no persistence files), so a failure
//! reproduces; the panic message carries the shrunk write sequence.
//! Every check panics on failure, like an assertion.

use std::cell::RefCell;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};

use super::{MemorySnapshot, MemoryState, StateError, StateSnapshot, job_spec_changed};
use crate::model::{
    AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, Deployment, DeploymentId,
    DeploymentStatus, EvalId, EvalStatus, Evaluation, Job, JobId, Namespace, Node, NodeId,
};

/// One write a store under test must apply.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreWrite {
    /// [`MemoryState::upsert_node`].
    UpsertNode(Box<Node>),
    /// [`MemoryState::delete_node`].
    DeleteNode(NodeId),
    /// [`MemoryState::upsert_job`].
    UpsertJob(Box<Job>),
    /// [`MemoryState::delete_job`].
    DeleteJob {
        /// The job's namespace.
        namespace: String,
        /// The job's id.
        id: JobId,
    },
    /// [`MemoryState::upsert_allocs`].
    UpsertAllocs(Vec<Allocation>),
    /// [`MemoryState::upsert_eval`].
    UpsertEval(Box<Evaluation>),
    /// [`MemoryState::upsert_deployment`].
    UpsertDeployment(Box<Deployment>),
    /// [`MemoryState::delete_allocs`] (garbage collection).
    DeleteAllocs(Vec<AllocId>),
    /// [`MemoryState::delete_evals`] (garbage collection).
    DeleteEvals(Vec<EvalId>),
    /// [`MemoryState::delete_deployments`] (garbage collection).
    DeleteDeployments(Vec<DeploymentId>),
}

/// What the suite needs from a store: apply a write, take a snapshot.
pub trait TestableStore {
    /// The store's snapshot type.
    type Snapshot: StateSnapshot;

    /// Applies one write at `index`, with [`MemoryState`]'s semantics for
    /// the corresponding method (deletes of missing objects succeed).
    fn apply(&mut self, index: u64, write: StoreWrite) -> Result<(), StateError>;

    /// An isolated snapshot of the current state.
    fn snapshot(&self) -> Self::Snapshot;

    /// Rebuilds the store from its durable form (a snapshot file, its data
    /// directory after a restart), as a server does when it starts. The
    /// state afterwards must answer every query as before.
    fn reload(&mut self);
}

impl TestableStore for MemoryState {
    type Snapshot = MemorySnapshot;

    fn apply(&mut self, index: u64, write: StoreWrite) -> Result<(), StateError> {
        match write {
            StoreWrite::UpsertNode(node) => self.upsert_node(index, *node),
            StoreWrite::DeleteNode(id) => self.delete_node(index, &id).map(drop),
            StoreWrite::UpsertJob(job) => self.upsert_job(index, *job).map(drop),
            StoreWrite::DeleteJob { namespace, id } => {
                self.delete_job(index, &namespace, &id).map(drop)
            }
            StoreWrite::UpsertAllocs(allocs) => self.upsert_allocs(index, allocs),
            StoreWrite::UpsertEval(eval) => self.upsert_eval(index, *eval),
            StoreWrite::UpsertDeployment(deployment) => self.upsert_deployment(index, *deployment),
            StoreWrite::DeleteAllocs(ids) => self.delete_allocs(index, &ids).map(drop),
            StoreWrite::DeleteEvals(ids) => self.delete_evals(index, &ids).map(drop),
            StoreWrite::DeleteDeployments(ids) => self.delete_deployments(index, &ids).map(drop),
        }
    }

    fn snapshot(&self) -> MemorySnapshot {
        MemoryState::snapshot(self)
    }

    /// Through the dump's JSON, as a snapshot file would carry it.
    fn reload(&mut self) {
        let json = serde_json::to_vec(&self.dump()).expect("a dump serialises");
        let dump = serde_json::from_slice(&json).expect("a dump deserialises");
        *self = MemoryState::restore(dump);
    }
}

/// Runs every check with `cases` random write sequences each.
pub fn check_all<S: TestableStore>(factory: &mut dyn FnMut() -> S, cases: u32) {
    check_index_regression(factory);
    check_job_versions(factory);
    check_random_writes(factory, cases);
    check_snapshot_isolation(factory, cases);
    check_determinism(factory, cases);
    check_reload(factory, cases);
}

// ---------------------------------------------------------------------------
// Id pools and generators.

const NODE_IDS: [&str; 5] = ["n0", "n1", "n2", "n3", "n4"];
const CLASSES: [&str; 4] = ["", "c0", "c1", "c2"];
const NAMESPACES: [&str; 2] = ["default", "ns1"];
const JOB_IDS: [&str; 3] = ["j0", "j1", "j2"];
const ALLOC_IDS: [&str; 10] = ["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"];
const EVAL_IDS: [&str; 4] = ["e0", "e1", "e2", "e3"];
const DEPLOYMENT_IDS: [&str; 4] = ["d0", "d1", "d2", "d3"];

fn arb_node() -> impl Strategy<Value = Node> {
    (
        prop::sample::select(&NODE_IDS[..]),
        prop::sample::select(&CLASSES[..]),
        0u8..3,
    )
        .prop_map(|(id, class, name)| Node {
            id: NodeId::new(id),
            computed_class: class.to_owned(),
            name: format!("host-{name}"),
            create_index: 999,
            modify_index: 999,
            ..Node::default()
        })
}

fn arb_job_key() -> impl Strategy<Value = (String, JobId)> {
    (
        prop::sample::select(&NAMESPACES[..]),
        prop::sample::select(&JOB_IDS[..]),
    )
        .prop_map(|(namespace, id)| (namespace.to_owned(), JobId::new(id)))
}

fn arb_job() -> impl Strategy<Value = Job> {
    (
        arb_job_key(),
        0i64..3,
        any::<bool>(),
        any::<bool>(),
        0u64..4,
    )
        .prop_map(|((namespace, id), priority, stop, running, version)| Job {
            namespace,
            name: id.as_str().to_owned(),
            id,
            priority: Some(50 + priority),
            stop,
            status: if running { "running" } else { "pending" }.to_owned(),
            version,
            create_index: 999,
            modify_index: 999,
            job_modify_index: 999,
            ..Job::default()
        })
}

fn arb_client_status() -> impl Strategy<Value = AllocClientStatus> {
    prop::sample::select(vec![
        AllocClientStatus::Pending,
        AllocClientStatus::Running,
        AllocClientStatus::Complete,
        AllocClientStatus::Lost,
        AllocClientStatus::Unknown,
    ])
}

fn arb_alloc(id: &'static str) -> impl Strategy<Value = Allocation> {
    (
        prop::sample::select(&NODE_IDS[..]),
        arb_job_key(),
        arb_client_status(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            move |(node, (namespace, job_id), client_status, stop, embed_job)| Allocation {
                id: AllocId::new(id),
                namespace: Namespace::new(namespace.clone()),
                name: format!("{job_id}.group[0]"),
                node_id: NodeId::new(node),
                job: embed_job.then(|| {
                    std::sync::Arc::new(Job {
                        namespace,
                        id: job_id.clone(),
                        version: 7,
                        ..Job::default()
                    })
                }),
                job_id,
                task_group: "group".to_owned(),
                client_status,
                desired_status: if stop {
                    AllocDesiredStatus::Stop
                } else {
                    AllocDesiredStatus::Run
                },
                create_index: 999,
                modify_index: 999,
                alloc_modify_index: 999,
                ..Allocation::default()
            },
        )
}

fn arb_alloc_batch() -> impl Strategy<Value = Vec<Allocation>> {
    prop::sample::subsequence(ALLOC_IDS.to_vec(), 1..4)
        .prop_flat_map(|ids| ids.into_iter().map(arb_alloc).collect::<Vec<_>>())
}

fn arb_eval() -> impl Strategy<Value = Evaluation> {
    (
        prop::sample::select(&EVAL_IDS[..]),
        arb_job_key(),
        any::<bool>(),
    )
        .prop_map(|(id, (namespace, job_id), done)| Evaluation {
            id: EvalId::new(id),
            namespace: Namespace::new(namespace),
            job_id,
            status: if done {
                EvalStatus::Complete
            } else {
                EvalStatus::Pending
            },
            create_index: 999,
            modify_index: 999,
            ..Evaluation::default()
        })
}

fn arb_deployment() -> impl Strategy<Value = Deployment> {
    (
        prop::sample::select(&DEPLOYMENT_IDS[..]),
        arb_job_key(),
        any::<bool>(),
    )
        .prop_map(|(id, (namespace, job_id), done)| Deployment {
            id: DeploymentId::new(id),
            namespace: Namespace::new(namespace),
            job_id,
            status: if done {
                DeploymentStatus::Successful
            } else {
                DeploymentStatus::Running
            },
            create_index: 999,
            modify_index: 999,
            ..Deployment::default()
        })
}

fn arb_write() -> impl Strategy<Value = StoreWrite> {
    prop_oneof![
        3 => arb_node().prop_map(|node| StoreWrite::UpsertNode(Box::new(node))),
        1 => prop::sample::select(&NODE_IDS[..]).prop_map(|id| StoreWrite::DeleteNode(NodeId::new(id))),
        2 => arb_job().prop_map(|job| StoreWrite::UpsertJob(Box::new(job))),
        1 => arb_job_key().prop_map(|(namespace, id)| StoreWrite::DeleteJob { namespace, id }),
        4 => arb_alloc_batch().prop_map(StoreWrite::UpsertAllocs),
        1 => arb_eval().prop_map(|eval| StoreWrite::UpsertEval(Box::new(eval))),
        2 => arb_deployment().prop_map(|d| StoreWrite::UpsertDeployment(Box::new(d))),
        1 => prop::collection::vec(prop::sample::select(&ALLOC_IDS[..]), 1..4)
            .prop_map(|ids| StoreWrite::DeleteAllocs(ids.into_iter().map(AllocId::new).collect())),
        1 => prop::collection::vec(prop::sample::select(&EVAL_IDS[..]), 1..3)
            .prop_map(|ids| StoreWrite::DeleteEvals(ids.into_iter().map(EvalId::new).collect())),
        1 => prop::collection::vec(prop::sample::select(&DEPLOYMENT_IDS[..]), 1..3)
            .prop_map(|ids| {
                StoreWrite::DeleteDeployments(ids.into_iter().map(DeploymentId::new).collect())
            }),
    ]
}

/// Writes with index steps of 0 to 2 (several writes may share an index).
fn arb_writes(max: usize) -> impl Strategy<Value = Vec<(u64, StoreWrite)>> {
    prop::collection::vec((0u64..3, arb_write()), 1..max)
}

fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
}

/// Applies `writes` from index 1 upwards; returns the last index.
fn apply_all<S: TestableStore>(
    store: &mut S,
    start: u64,
    writes: &[(u64, StoreWrite)],
) -> Result<u64, TestCaseError> {
    let mut index = start;
    for (step, write) in writes {
        index += step;
        store
            .apply(index, write.clone())
            .map_err(|err| TestCaseError::fail(format!("write at {index} refused: {err}")))?;
    }
    Ok(index)
}

// ---------------------------------------------------------------------------
// Brute-force views.

/// Everything a snapshot answers about the id pools, cloned: equal dumps
/// mean equal observable states.
#[derive(Debug, Clone, PartialEq)]
struct Dump {
    index: u64,
    nodes: Vec<Node>,
    classes: Vec<Vec<NodeId>>,
    jobs: Vec<Option<Job>>,
    allocs: Vec<Option<Allocation>>,
    allocs_by_node: Vec<Vec<AllocId>>,
    allocs_by_job: Vec<Vec<AllocId>>,
    evals: Vec<Option<Evaluation>>,
    deployments: Vec<Option<Deployment>>,
    latest: Vec<Option<DeploymentId>>,
}

fn job_keys() -> impl Iterator<Item = (&'static str, JobId)> {
    NAMESPACES
        .iter()
        .flat_map(|ns| JOB_IDS.iter().map(move |id| (*ns, JobId::new(*id))))
}

fn dump(snapshot: &dyn StateSnapshot) -> Dump {
    let alloc_ids = |iter: Box<dyn Iterator<Item = &Allocation> + '_>| {
        iter.map(|alloc| alloc.id.clone()).collect::<Vec<_>>()
    };
    Dump {
        index: snapshot.index(),
        nodes: snapshot.nodes().cloned().collect(),
        classes: CLASSES
            .iter()
            .map(|class| {
                snapshot
                    .nodes_in_class(class)
                    .map(|node| node.id.clone())
                    .collect()
            })
            .collect(),
        jobs: job_keys()
            .map(|(ns, id)| snapshot.job(ns, &id).cloned())
            .collect(),
        allocs: ALLOC_IDS
            .iter()
            .map(|id| snapshot.alloc(&AllocId::new(*id)).cloned())
            .collect(),
        allocs_by_node: NODE_IDS
            .iter()
            .map(|id| alloc_ids(snapshot.allocs_by_node(&NodeId::new(*id))))
            .collect(),
        allocs_by_job: job_keys()
            .map(|(ns, id)| alloc_ids(snapshot.allocs_by_job(ns, &id)))
            .collect(),
        evals: EVAL_IDS
            .iter()
            .map(|id| snapshot.evaluation(&EvalId::new(*id)).cloned())
            .collect(),
        deployments: DEPLOYMENT_IDS
            .iter()
            .map(|id| snapshot.deployment(&DeploymentId::new(*id)).cloned())
            .collect(),
        latest: job_keys()
            .map(|(ns, id)| snapshot.latest_deployment(ns, &id).map(|d| d.id.clone()))
            .collect(),
    }
}

/// Checks every index against a scan of the objects the pools can reach.
fn check_consistent(snapshot: &dyn StateSnapshot) -> Result<(), TestCaseError> {
    // nodes(): ascending, and exactly the pool's nodes that exist.
    let listed: Vec<&Node> = snapshot.nodes().collect();
    let scanned: Vec<&Node> = NODE_IDS
        .iter()
        .filter_map(|id| snapshot.node(&NodeId::new(*id)))
        .collect();
    prop_assert_eq!(&listed, &scanned, "nodes() against node() lookups");
    for (id, node) in NODE_IDS
        .iter()
        .zip(NODE_IDS.iter().map(|id| snapshot.node(&NodeId::new(*id))))
    {
        if let Some(node) = node {
            prop_assert_eq!(node.id.as_str(), *id, "node() returns the node asked for");
        }
    }
    prop_assert!(
        is_ascending(listed.iter().map(|node| &node.id)),
        "nodes() ordered by id"
    );
    prop_assert_eq!(snapshot.node_count(), listed.len(), "node_count()");
    for node in &listed {
        let summed =
            crate::feasibility::fit::NodeUsage::of(node, snapshot.allocs_by_node(&node.id));
        prop_assert_eq!(
            snapshot.node_usage(node),
            summed,
            "node_usage({})",
            node.id.as_str()
        );
    }
    // busy_nodes_by_free: the existing nodes holding a live allocation,
    // each once, least free first, from the threshold on (a store that
    // does not index them lists none).
    let holding: Vec<&Node> = listed
        .iter()
        .copied()
        .filter(|node| snapshot.allocs_by_node(&node.id).any(|a| !a.is_terminal()))
        .collect();
    for resource in [super::Resource::Cpu, super::Resource::Memory] {
        let free = |node: &Node| {
            let capacity = crate::feasibility::fit::NodeCapacity::of(node);
            let usage = snapshot.node_usage(node);
            match resource {
                super::Resource::Cpu => capacity.cpu.0 - usage.cpu.0,
                super::Resource::Memory => capacity.memory.0 - usage.memory.0,
            }
        };
        let indexed: Vec<&Node> = snapshot.busy_nodes_by_free(resource, i64::MIN).collect();
        if indexed.is_empty() && !holding.is_empty() {
            continue;
        }
        let mut expected = holding.clone();
        expected.sort_by_key(|node| (free(node), node.id.clone()));
        prop_assert_eq!(
            &indexed,
            &expected,
            "busy_nodes_by_free({:?}, MIN)",
            resource
        );
        for threshold in [0, 1_000, 3_000] {
            let above: Vec<&Node> = snapshot.busy_nodes_by_free(resource, threshold).collect();
            let wanted: Vec<&Node> = expected
                .iter()
                .copied()
                .filter(|node| free(node) >= threshold)
                .collect();
            prop_assert_eq!(
                above,
                wanted,
                "busy_nodes_by_free({:?}, {})",
                resource,
                threshold
            );
        }
    }
    let by_position: Vec<&Node> = (0..snapshot.node_count())
        .filter_map(|position| snapshot.node_at(position))
        .collect();
    prop_assert_eq!(&by_position, &listed, "node_at(i) is the i-th of nodes()");
    prop_assert!(
        snapshot.node_at(listed.len()).is_none(),
        "node_at past the end"
    );

    for class in CLASSES {
        let indexed: Vec<&NodeId> = snapshot
            .nodes_in_class(class)
            .map(|node| &node.id)
            .collect();
        let scan: Vec<&NodeId> = listed
            .iter()
            .filter(|node| node.computed_class == class)
            .map(|node| &node.id)
            .collect();
        prop_assert_eq!(indexed, scan, "nodes_in_class({:?})", class);
    }

    let allocs: Vec<&Allocation> = ALLOC_IDS
        .iter()
        .filter_map(|id| snapshot.alloc(&AllocId::new(*id)))
        .collect();
    for alloc in &allocs {
        prop_assert!(
            ALLOC_IDS.contains(&alloc.id.as_str()),
            "alloc() returns the allocation asked for"
        );
    }
    for node in NODE_IDS.map(NodeId::new) {
        let indexed: Vec<&AllocId> = snapshot.allocs_by_node(&node).map(|a| &a.id).collect();
        let scan: Vec<&AllocId> = allocs
            .iter()
            .filter(|alloc| alloc.node_id == node)
            .map(|alloc| &alloc.id)
            .collect();
        prop_assert_eq!(indexed, scan, "allocs_by_node({})", node);
    }
    for (ns, job) in job_keys() {
        let indexed: Vec<&AllocId> = snapshot.allocs_by_job(ns, &job).map(|a| &a.id).collect();
        let scan: Vec<&AllocId> = allocs
            .iter()
            .filter(|alloc| alloc.namespace.as_str() == ns && alloc.job_id == job)
            .map(|alloc| &alloc.id)
            .collect();
        prop_assert_eq!(indexed, scan, "allocs_by_job({}, {})", ns, job);

        let latest = snapshot.latest_deployment(ns, &job).map(|d| &d.id);
        let scan = DEPLOYMENT_IDS
            .iter()
            .filter_map(|id| snapshot.deployment(&DeploymentId::new(*id)))
            .filter(|d| d.namespace.as_str() == ns && d.job_id == job)
            .max_by(|a, b| (a.create_index, &a.id).cmp(&(b.create_index, &b.id)))
            .map(|d| &d.id);
        prop_assert_eq!(latest, scan, "latest_deployment({}, {})", ns, job);
    }
    Ok(())
}

fn is_ascending<'a, T: Ord + 'a>(mut items: impl Iterator<Item = &'a T>) -> bool {
    let Some(mut previous) = items.next() else {
        return true;
    };
    items.all(|item| {
        let ordered = previous < item;
        previous = item;
        ordered
    })
}

/// Checks what one write must have done, comparing the snapshots around it.
fn check_write(
    before: &dyn StateSnapshot,
    after: &dyn StateSnapshot,
    index: u64,
    write: &StoreWrite,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(after.index(), index, "snapshot index is the last write's");
    match write {
        StoreWrite::UpsertNode(node) => {
            let stored = after.node(&node.id);
            let mut expected = Node::clone(node);
            expected.create_index = before.node(&node.id).map_or(index, |n| n.create_index);
            expected.modify_index = index;
            prop_assert_eq!(stored, Some(&expected), "upserted node");
        }
        StoreWrite::DeleteNode(id) => prop_assert!(after.node(id).is_none(), "deleted node"),
        StoreWrite::UpsertJob(job) => {
            let Some(stored) = after.job(&job.namespace, &job.id) else {
                return Err(TestCaseError::fail("upserted job missing"));
            };
            prop_assert!(
                !job_spec_changed(stored, job),
                "stored job is the submitted spec"
            );
            prop_assert_eq!(stored.modify_index, index);
            match before.job(&job.namespace, &job.id) {
                None => {
                    prop_assert_eq!(stored.create_index, index);
                    prop_assert_eq!(stored.job_modify_index, index);
                    prop_assert_eq!(stored.version, job.version, "a new job keeps its version");
                }
                Some(old) if job_spec_changed(old, job) => {
                    prop_assert_eq!(stored.create_index, old.create_index);
                    prop_assert_eq!(stored.job_modify_index, index);
                    prop_assert_eq!(
                        stored.version,
                        job.version.max(old.version + 1),
                        "a changed spec is a new version"
                    );
                }
                Some(old) => {
                    prop_assert_eq!(stored.create_index, old.create_index);
                    prop_assert_eq!(stored.job_modify_index, old.job_modify_index);
                    prop_assert_eq!(
                        stored.version,
                        old.version,
                        "an unchanged spec keeps its version"
                    );
                }
            }
        }
        StoreWrite::DeleteJob { namespace, id } => {
            prop_assert!(after.job(namespace, id).is_none(), "deleted job");
        }
        StoreWrite::UpsertAllocs(allocs) => {
            for alloc in allocs {
                let Some(stored) = after.alloc(&alloc.id) else {
                    return Err(TestCaseError::fail(format!(
                        "upserted alloc {} missing",
                        alloc.id
                    )));
                };
                let old = before.alloc(&alloc.id);
                prop_assert_eq!(&stored.node_id, &alloc.node_id);
                prop_assert_eq!(&stored.namespace, &alloc.namespace);
                prop_assert_eq!(&stored.job_id, &alloc.job_id);
                prop_assert_eq!(stored.desired_status, alloc.desired_status);
                prop_assert_eq!(stored.create_index, old.map_or(index, |o| o.create_index));
                prop_assert_eq!(stored.modify_index, index);
                prop_assert_eq!(stored.alloc_modify_index, index);
                let client_status = match old {
                    Some(old)
                        if !matches!(
                            alloc.client_status,
                            AllocClientStatus::Lost | AllocClientStatus::Unknown
                        ) =>
                    {
                        old.client_status
                    }
                    _ => alloc.client_status,
                };
                prop_assert_eq!(
                    stored.client_status,
                    client_status,
                    "client status of {}",
                    alloc.id
                );
                let job = alloc
                    .job
                    .as_deref()
                    .or_else(|| old.and_then(|o| o.job.as_deref()))
                    .or_else(|| before.job(alloc.namespace.as_str(), &alloc.job_id));
                prop_assert_eq!(stored.job.as_deref(), job, "job attached to {}", alloc.id);
            }
        }
        StoreWrite::UpsertEval(eval) => {
            let stored = after.evaluation(&eval.id);
            let mut expected = Evaluation::clone(eval);
            expected.create_index = before
                .evaluation(&eval.id)
                .map_or(index, |e| e.create_index);
            expected.modify_index = index;
            prop_assert_eq!(stored, Some(&expected), "upserted evaluation");
        }
        StoreWrite::UpsertDeployment(deployment) => {
            let stored = after.deployment(&deployment.id);
            let mut expected = Deployment::clone(deployment);
            expected.create_index = before
                .deployment(&deployment.id)
                .map_or(index, |d| d.create_index);
            expected.modify_index = index;
            prop_assert_eq!(stored, Some(&expected), "upserted deployment");
        }
        StoreWrite::DeleteAllocs(ids) => {
            for id in ids {
                prop_assert!(after.alloc(id).is_none(), "deleted allocation {}", id);
            }
        }
        StoreWrite::DeleteEvals(ids) => {
            for id in ids {
                prop_assert!(after.evaluation(id).is_none(), "deleted evaluation {}", id);
            }
        }
        StoreWrite::DeleteDeployments(ids) => {
            for id in ids {
                prop_assert!(after.deployment(id).is_none(), "deleted deployment {}", id);
            }
        }
    }
    Ok(())
}

fn run<S: TestableStore>(
    name: &str,
    cases: u32,
    factory: &mut dyn FnMut() -> S,
    max_writes: usize,
    test: impl Fn(&mut dyn FnMut() -> S, Vec<(u64, StoreWrite)>) -> Result<(), TestCaseError>,
) {
    let factory = RefCell::new(factory);
    let result = runner(cases).run(&arb_writes(max_writes), |writes| {
        let mut factory = factory.borrow_mut();
        test(&mut **factory, writes)
    });
    if let Err(err) = result {
        panic!("state conformance: {name}: {err}");
    }
}

// ---------------------------------------------------------------------------
// The checks.

/// After every write of random sequences: the write did what it should
/// (indexes, versions, client-owned fields kept), and every secondary index
/// and ordering agrees with a brute-force scan.
pub fn check_random_writes<S: TestableStore>(factory: &mut dyn FnMut() -> S, cases: u32) {
    run("random writes", cases, factory, 40, |factory, writes| {
        let mut store = factory();
        let mut index = 1;
        for (step, write) in writes {
            index += step;
            let before = store.snapshot();
            store
                .apply(index, write.clone())
                .map_err(|err| TestCaseError::fail(format!("write at {index} refused: {err}")))?;
            let after = store.snapshot();
            check_write(&before, &after, index, &write)?;
            check_consistent(&after)?;
        }
        Ok(())
    });
}

/// A snapshot does not change when the store is written to afterwards, and
/// later snapshots never have a smaller index.
pub fn check_snapshot_isolation<S: TestableStore>(factory: &mut dyn FnMut() -> S, cases: u32) {
    run(
        "snapshot isolation",
        cases,
        factory,
        40,
        |factory, writes| {
            let (first, second) = writes.split_at(writes.len() / 2);
            let mut store = factory();
            let index = apply_all(&mut store, 1, first)?;
            let snapshot = store.snapshot();
            let frozen = dump(&snapshot);
            apply_all(&mut store, index, second)?;
            prop_assert_eq!(
                &dump(&snapshot),
                &frozen,
                "snapshot changed after later writes"
            );
            let later = store.snapshot();
            prop_assert!(later.index() >= snapshot.index(), "index went backwards");
            check_consistent(&snapshot)
        },
    );
}

/// The same writes give the same observable state in two fresh stores, with
/// every collection in ascending id order.
pub fn check_determinism<S: TestableStore>(factory: &mut dyn FnMut() -> S, cases: u32) {
    run("determinism", cases, factory, 30, |factory, writes| {
        let mut one = factory();
        let mut two = factory();
        apply_all(&mut one, 1, &writes)?;
        apply_all(&mut two, 1, &writes)?;
        let dumped = dump(&one.snapshot());
        prop_assert_eq!(&dumped, &dump(&two.snapshot()));
        for ids in dumped.classes.iter() {
            prop_assert!(is_ascending(ids.iter()), "nodes_in_class ordered by id");
        }
        for ids in dumped.allocs_by_node.iter().chain(&dumped.allocs_by_job) {
            prop_assert!(is_ascending(ids.iter()), "allocations ordered by id");
        }
        Ok(())
    });
}

/// A store rebuilt from its durable form answers every query as before,
/// keeps its indexes consistent, and takes further writes as the original
/// would.
pub fn check_reload<S: TestableStore>(factory: &mut dyn FnMut() -> S, cases: u32) {
    run("reload", cases, factory, 30, |factory, writes| {
        let (first, second) = writes.split_at(writes.len() / 2);
        let mut reloaded = factory();
        let mut original = factory();
        let index = apply_all(&mut reloaded, 1, first)?;
        apply_all(&mut original, 1, first)?;
        reloaded.reload();
        prop_assert_eq!(
            dump(&reloaded.snapshot()),
            dump(&original.snapshot()),
            "state changed by a reload"
        );
        check_consistent(&reloaded.snapshot())?;
        apply_all(&mut reloaded, index, second)?;
        apply_all(&mut original, index, second)?;
        prop_assert_eq!(
            dump(&reloaded.snapshot()),
            dump(&original.snapshot()),
            "writes after a reload differ"
        );
        check_consistent(&reloaded.snapshot())
    });
}

/// A write below the store's index is refused and changes nothing; a write
/// at the same index is accepted.
pub fn check_index_regression<S: TestableStore>(factory: &mut dyn FnMut() -> S) {
    let mut store = factory();
    let node = |id: &str| Node {
        id: NodeId::new(id),
        ..Node::default()
    };
    assert_eq!(store.snapshot().index(), 0, "an empty store is at index 0");
    store
        .apply(5, StoreWrite::UpsertNode(Box::new(node("n0"))))
        .expect("first write");
    let before = dump(&store.snapshot());
    assert_eq!(
        store.apply(4, StoreWrite::UpsertNode(Box::new(node("n1")))),
        Err(StateError::IndexRegressed {
            current: 5,
            given: 4
        }),
        "a write below the store's index must be refused"
    );
    assert_eq!(
        dump(&store.snapshot()),
        before,
        "a refused write changed the state"
    );
    store
        .apply(5, StoreWrite::DeleteNode(NodeId::new("n0")))
        .expect("a write at the current index is accepted");
    assert_eq!(store.snapshot().index(), 5);
    assert!(store.snapshot().node(&NodeId::new("n0")).is_none());
}

/// Job versions and indexes across create, no-op update, spec change and
/// re-creation after a purge.
pub fn check_job_versions<S: TestableStore>(factory: &mut dyn FnMut() -> S) {
    let mut store = factory();
    let job = Job {
        namespace: "default".to_owned(),
        id: JobId::new("web"),
        name: "web".to_owned(),
        priority: Some(50),
        ..Job::default()
    };
    let stored = |store: &S| {
        let snapshot = store.snapshot();
        let job = snapshot
            .job("default", &JobId::new("web"))
            .expect("job stored");
        (
            job.version,
            job.create_index,
            job.job_modify_index,
            job.modify_index,
        )
    };
    let apply = |store: &mut S, index, job: &Job| {
        store
            .apply(index, StoreWrite::UpsertJob(Box::new(job.clone())))
            .expect("write accepted");
    };

    apply(&mut store, 10, &job);
    assert_eq!(stored(&store), (0, 10, 10, 10), "created");

    let mut status_only = job.clone();
    status_only.status = "running".to_owned();
    status_only.version = 0;
    apply(&mut store, 11, &status_only);
    assert_eq!(
        stored(&store),
        (0, 10, 10, 11),
        "status change is not a version"
    );

    let mut changed = job.clone();
    changed.priority = Some(70);
    apply(&mut store, 12, &changed);
    assert_eq!(stored(&store), (1, 10, 12, 12), "spec change is version 1");

    changed.priority = Some(80);
    apply(&mut store, 12, &changed);
    assert_eq!(
        stored(&store),
        (2, 10, 12, 12),
        "second change at the same index"
    );

    store
        .apply(
            13,
            StoreWrite::DeleteJob {
                namespace: "default".to_owned(),
                id: JobId::new("web"),
            },
        )
        .expect("delete accepted");
    assert!(
        store
            .snapshot()
            .job("default", &JobId::new("web"))
            .is_none()
    );
    apply(&mut store, 14, &job);
    assert_eq!(stored(&store), (0, 14, 14, 14), "re-created after purge");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_state_conforms() {
        check_all(&mut MemoryState::new, 64);
    }

    /// The per-job marker a watcher relies on to skip unchanged jobs: any
    /// change to a job's allocations at a new index moves it, and it reads
    /// 0 exactly when the job has none.
    #[test]
    fn job_allocs_index_moves_whenever_a_jobs_allocations_change() {
        let allocs_of = |store: &MemoryState, ns: &str, job: &JobId| -> Vec<Allocation> {
            store.view().allocs_by_job(ns, job).cloned().collect()
        };
        runner(64)
            .run(&arb_writes(40), |writes| {
                let mut store = MemoryState::new();
                // From index 1: a write at index 0 marks nothing visible.
                let mut index = 1;
                for (step, write) in writes {
                    let before: Vec<_> = job_keys()
                        .map(|(ns, job)| {
                            let mark = store.view().job_allocs_index(ns, &job);
                            (allocs_of(&store, ns, &job), mark)
                        })
                        .collect();
                    index += step;
                    store
                        .apply(index, write)
                        .map_err(|err| TestCaseError::fail(err.to_string()))?;
                    for ((ns, job), (allocs, mark)) in job_keys().zip(before) {
                        let now = allocs_of(&store, ns, &job);
                        let now_mark = store.view().job_allocs_index(ns, &job);
                        prop_assert_eq!(now.is_empty(), now_mark == 0, "{}/{}", ns, job);
                        // Writes sharing an index (one Raft entry) are one
                        // change to a reader, as for every index.
                        if step > 0 && now != allocs {
                            prop_assert_ne!(mark, now_mark, "{}/{} changed", ns, job);
                        }
                    }
                }
                Ok(())
            })
            .expect("property");
    }

    #[test]
    fn memory_state_indexes_its_busy_nodes_by_free_cpu() {
        use crate::model::{
            AllocatedCpuResources, AllocatedResources, AllocatedTaskResources, MHz,
        };
        let mut store = MemoryState::new();
        let node = |id: &str, mhz: i64| {
            let mut node = Node {
                id: NodeId::new(id),
                ..Node::default()
            };
            node.node_resources.cpu.cpu_shares = MHz(mhz);
            node
        };
        store
            .upsert_nodes(
                1,
                vec![node("n1", 4_000), node("n2", 4_000), node("n3", 8_000)],
            )
            .expect("nodes");
        let alloc = |id: &str, on: &str, mhz: i64, status: AllocClientStatus| Allocation {
            id: AllocId::new(id),
            node_id: NodeId::new(on),
            job_id: JobId::new("web"),
            client_status: status,
            allocated_resources: AllocatedResources {
                tasks: [(
                    "t".to_owned(),
                    AllocatedTaskResources {
                        cpu: AllocatedCpuResources {
                            cpu_shares: MHz(mhz),
                            ..AllocatedCpuResources::default()
                        },
                        ..AllocatedTaskResources::default()
                    },
                )]
                .into(),
                ..AllocatedResources::default()
            },
            ..Allocation::default()
        };
        let busy = |store: &MemoryState, at_least: i64| -> Vec<String> {
            store
                .view()
                .busy_nodes_by_free(super::super::Resource::Cpu, at_least)
                .map(|n| n.id.to_string())
                .collect()
        };
        assert!(busy(&store, 0).is_empty());
        let running = AllocClientStatus::Running;
        store
            .upsert_allocs(
                2,
                vec![
                    alloc("a1", "n1", 1_000, running),
                    alloc("a2", "n3", 1_000, running),
                    alloc("a3", "n1", 2_500, running),
                ],
            )
            .expect("allocs");
        assert_eq!(busy(&store, 0), ["n1", "n3"], "500 MHz free, then 7,000");
        assert_eq!(busy(&store, 600), ["n3"]);
        store
            .upsert_allocs(3, vec![alloc("a3", "n1", 2_500, AllocClientStatus::Lost)])
            .expect("update");
        assert_eq!(busy(&store, 0), ["n1", "n3"], "3,000 MHz free, then 7,000");
        store
            .upsert_allocs(4, vec![alloc("a1", "n2", 1_000, running)])
            .expect("moved");
        assert_eq!(busy(&store, 0), ["n2", "n3"]);
        store.upsert_node(5, node("n2", 16_000)).expect("bigger");
        assert_eq!(busy(&store, 0), ["n3", "n2"], "7,000 then 15,000 free");
        store.delete_node(6, &NodeId::new("n3")).expect("deleted");
        assert_eq!(busy(&store, 0), ["n2"]);
    }
}
