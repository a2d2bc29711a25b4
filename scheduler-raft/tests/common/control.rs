//! Three servers over loopback, each running a control plane: what the
//! control-plane tests start, read through and take leaders away from.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use scheduler_core::model::{Node, NodeId, NodeStatus};
use scheduler_core::simulate::NodeBuilder;
use scheduler_core::state::MemorySnapshot;
use scheduler_raft::clock::monotonic;
use scheduler_raft::control::{ControlConfig, ControlPlane};
use scheduler_raft::server::RaftTuning;

use super::agent::Agent;

/// The control planes still running, shared with the [`Agent`] so that it
/// stops talking to a plane the test has shut down.
pub type LivePlanes = Arc<Mutex<Vec<Arc<ControlPlane>>>>;

/// How long one request through a plane may take before the next plane is
/// tried: a server cut off from the leader would otherwise hold the test
/// up.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);

/// A bootstrapped three-server cluster with a control plane on every
/// server. Dropping it stops the agent and every control plane.
pub struct ControlCluster {
    /// The running planes, in start order (a killed leader is removed).
    pub planes: Vec<Arc<ControlPlane>>,
    live: LivePlanes,
    agent: Option<tokio::task::JoinHandle<()>>,
    _dirs: Vec<tempfile::TempDir>,
}

impl ControlCluster {
    /// Starts three servers with `tuning`, bootstraps them into one
    /// cluster, starts a control plane with `control` on each and waits
    /// until one of them leads.
    pub async fn start(tuning: RaftTuning, control: ControlConfig) -> Self {
        let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().expect("dir")).collect();
        let planes: Vec<_> = super::cluster(&dirs, tuning)
            .await
            .into_iter()
            .map(|server| Arc::new(ControlPlane::start(Arc::new(server), control.clone())))
            .collect();
        let cluster = ControlCluster {
            live: Arc::new(Mutex::new(planes.clone())),
            planes,
            agent: None,
            _dirs: dirs,
        };
        cluster.leader().await;
        cluster
    }

    /// The position in [`Self::planes`] of the plane whose leader loops
    /// run, waiting up to 10 s for one.
    pub async fn leader(&self) -> usize {
        let deadline = monotonic() + Duration::from_secs(10);
        while monotonic() < deadline {
            if let Some(position) = self.planes.iter().position(|p| p.is_leading()) {
                return position;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("no leader with running control loops within 10 s");
    }

    /// A plane that does not lead (so requests through it are forwarded).
    pub async fn follower(&self) -> Arc<ControlPlane> {
        let leader = self.leader().await;
        self.planes[(leader + 1) % self.planes.len()].clone()
    }

    /// Registers nodes `a` and `b` and starts `agent` playing their
    /// client.
    pub async fn with_nodes(&mut self, agent: Agent) {
        let names = ["a", "b"];
        for (position, name) in names.iter().enumerate() {
            self.planes[0]
                .register_node(node(name, position))
                .await
                .expect("node registers");
        }
        let nodes = names.iter().map(|name| NodeId::new(*name)).collect();
        self.agent = Some(tokio::spawn(agent.run(self.live.clone(), nodes)));
    }

    /// A consistent read through any plane that answers.
    pub async fn read(&self) -> MemorySnapshot {
        self.eventually(5, "a consistent read", |_| true).await
    }

    /// Polls consistent reads through any plane until `check` holds, for
    /// up to `seconds`. `check` sees every snapshot read, in order (tests
    /// record invariants in it).
    pub async fn eventually(
        &self,
        seconds: u64,
        what: &str,
        mut check: impl FnMut(&MemorySnapshot) -> bool,
    ) -> MemorySnapshot {
        let deadline = monotonic() + Duration::from_secs(seconds);
        loop {
            // A read fails while an election runs; the next one retries.
            if let Some(snapshot) = read_any(&self.planes).await
                && check(&snapshot)
            {
                return snapshot;
            }
            if monotonic() > deadline {
                panic!("{what}: not reached within {seconds} s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the leader's plane and server for good; returns the new
    /// leader's position.
    pub async fn kill_leader(&mut self) -> usize {
        let leader = self.leader().await;
        let old = self.planes.remove(leader);
        self.live
            .lock()
            .expect("lock")
            .retain(|p| !Arc::ptr_eq(p, &old));
        let server = old.server().clone();
        old.shutdown();
        server.raft().shutdown().await.expect("raft stops");
        self.leader().await
    }
}

impl Drop for ControlCluster {
    fn drop(&mut self) {
        if let Some(agent) = &self.agent {
            agent.abort();
        }
        for plane in &self.planes {
            plane.shutdown();
        }
    }
}

/// A consistent read through the first of `planes` that answers in time.
pub async fn read_any(planes: &[Arc<ControlPlane>]) -> Option<MemorySnapshot> {
    for plane in planes {
        let read = tokio::time::timeout(REQUEST_TIMEOUT, plane.server().read_consistent());
        if let Ok(Ok(snapshot)) = read.await {
            return Some(snapshot);
        }
    }
    None
}

/// A ready node with room for several of the tests' jobs (4,000 MHz, 8 GiB).
pub fn node(name: &str, position: usize) -> Node {
    let mut node = NodeBuilder::new(name, position)
        .cpu(4_000)
        .memory(8_192)
        .disk(100_000)
        .build();
    // Ids the test can name (the builder derives a UUID from the name).
    node.id = NodeId::new(name);
    node.status = NodeStatus::Ready;
    node
}
