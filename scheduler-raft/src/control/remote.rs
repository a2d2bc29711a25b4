//! The control plane's leader-only operations as requests any server can
//! take: [`ControlPlane`](super::ControlPlane) sends a [`LeaderRequest`]
//! through `Server::call_leader`, which runs it on the leader's
//! [`ControlService`] (locally, or forwarded over the internal API).
//!
//! Nodes heartbeat to whichever server they know; the TTL lives on the
//! leader, so a heartbeat that reaches a follower is passed on.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use scheduler_core::model::{Allocation, DeploymentId, Evaluation, Job, JobId, Node, NodeId};

use super::{Active, ControlConfig, ControlError, Leader};
use crate::command::{Command, CommandResponse, Refusal};
use crate::server::{LeaderCallError, LeaderCallResult, LeaderService, Server, ServerError};

/// An operation only the leader can carry out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum LeaderRequest {
    /// Register or update a node and start its TTL.
    RegisterNode {
        /// The node.
        node: Box<Node>,
    },
    /// Heartbeats of these nodes.
    Heartbeat {
        /// The nodes.
        nodes: Vec<NodeId>,
    },
    /// What a client reports about its allocations.
    UpdateAllocs {
        /// The allocations as the client sees them.
        allocs: Vec<Allocation>,
    },
    /// Promote a deployment's canaries.
    PromoteDeployment {
        /// The deployment.
        deployment: DeploymentId,
        /// The groups (all when absent).
        groups: Option<Vec<String>>,
    },
    /// Fail a deployment.
    FailDeployment {
        /// The deployment.
        deployment: DeploymentId,
    },
    /// Pause or resume a deployment.
    PauseDeployment {
        /// The deployment.
        deployment: DeploymentId,
        /// Pause (true) or resume.
        pause: bool,
    },
    /// Launch a periodic job now.
    ForcePeriodicLaunch {
        /// Its namespace.
        namespace: String,
        /// The job.
        job: JobId,
    },
    /// Dispatch a parameterized job.
    DispatchJob {
        /// Its namespace.
        namespace: String,
        /// The job.
        job: JobId,
        /// The payload.
        payload: Option<Vec<u8>>,
        /// Dispatch metadata.
        meta: BTreeMap<String, String>,
        /// A repeated token returns the existing child.
        idempotency_token: String,
    },
    /// Collect garbage now.
    CollectGarbage {
        /// Ignore the age thresholds.
        force: bool,
    },
}

/// A heartbeat's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// Heartbeat again within this many milliseconds.
    pub ttl_ms: u64,
    /// Nodes the leader does not know (they must register).
    pub unknown: Vec<NodeId>,
}

/// A control-plane error as it travels between servers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum WireError {
    Refused { refusal: Refusal },
    NotFound { what: String },
    Invalid { message: String },
    Failed { message: String },
}

impl From<&ControlError> for WireError {
    fn from(err: &ControlError) -> Self {
        match err {
            ControlError::Refused(refusal) => WireError::Refused {
                refusal: refusal.clone(),
            },
            ControlError::NotFound(what) => WireError::NotFound { what: what.clone() },
            ControlError::Invalid(message) => WireError::Invalid {
                message: message.clone(),
            },
            other => WireError::Failed {
                message: other.to_string(),
            },
        }
    }
}

impl From<WireError> for ControlError {
    fn from(err: WireError) -> Self {
        match err {
            WireError::Refused { refusal } => ControlError::Refused(refusal),
            WireError::NotFound { what } => ControlError::NotFound(what),
            WireError::Invalid { message } => ControlError::Invalid(message),
            WireError::Failed { message } => ControlError::Remote(message),
        }
    }
}

/// Runs `request` on the leader (here or forwarded) and decodes its
/// answer.
pub(crate) async fn call<T: serde::de::DeserializeOwned>(
    server: &Server,
    request: &LeaderRequest,
) -> Result<T, ControlError> {
    let request = serde_json::to_value(request)
        .map_err(|err| ControlError::Invalid(format!("request not encodable: {err}")))?;
    match server.call_leader(request).await {
        Ok(value) => serde_json::from_value(value).map_err(|err| {
            ControlError::Remote(format!("unreadable answer from the leader: {err}"))
        }),
        Err(ServerError::Leader(error)) => Err(serde_json::from_value::<WireError>(error.clone())
            .map_or_else(
                |_| ControlError::Remote(error.to_string()),
                ControlError::from,
            )),
        Err(other) => Err(ControlError::Server(other)),
    }
}

/// The leader side: answers requests while this server's leader loops
/// run. It holds the plane's parts weakly: a dropped plane answers "not
/// the leader" rather than being kept alive by its server.
pub(crate) struct ControlService {
    pub(crate) server: Weak<Server>,
    pub(crate) active: Weak<Mutex<Option<Active>>>,
    pub(crate) config: ControlConfig,
}

impl LeaderService for ControlService {
    fn call(&self, request: Value) -> Pin<Box<dyn Future<Output = LeaderCallResult> + Send>> {
        let leader = self.active.upgrade().and_then(|active| {
            active
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
                .map(|active| active.leader.clone())
        });
        let server = self.server.upgrade();
        let config = self.config.clone();
        Box::pin(async move {
            let (Some(leader), Some(server)) = (leader, server) else {
                return Err(LeaderCallError::NotLeader);
            };
            let request: LeaderRequest = serde_json::from_value(request)
                .map_err(|err| failed(&ControlError::Invalid(format!("unknown request: {err}"))))?;
            match execute(&leader, &server, &config, request).await {
                Ok(answer) => Ok(answer),
                Err(ControlError::NotLeader) => Err(LeaderCallError::NotLeader),
                Err(err) => Err(failed(&err)),
            }
        })
    }
}

fn failed(err: &ControlError) -> LeaderCallError {
    LeaderCallError::Failed(serde_json::to_value(WireError::from(err)).unwrap_or(Value::Null))
}

fn answer<T: Serialize>(value: T) -> Result<Value, ControlError> {
    serde_json::to_value(value).map_err(|err| ControlError::Remote(err.to_string()))
}

async fn execute(
    leader: &Arc<Leader>,
    server: &Server,
    config: &ControlConfig,
    request: LeaderRequest,
) -> Result<Value, ControlError> {
    match request {
        LeaderRequest::RegisterNode { node } => {
            let ttl = super::heartbeat::register_node(server, Some(leader.clone()), *node, config)
                .await?;
            answer(millis(ttl))
        }
        LeaderRequest::Heartbeat { nodes } => {
            let mut unknown = Vec::new();
            let mut ttl = config.heartbeat_ttl;
            for node in nodes {
                match super::heartbeat::heartbeat(leader, &node).await {
                    Ok(granted) => ttl = granted,
                    Err(ControlError::NotFound(_)) => unknown.push(node),
                    Err(err) => return Err(err),
                }
            }
            answer(HeartbeatAnswer {
                ttl_ms: millis(ttl),
                unknown,
            })
        }
        LeaderRequest::UpdateAllocs { allocs } => {
            let response = server
                .write(Command::UpdateAllocsFromClient {
                    allocs: allocs.clone(),
                })
                .await?;
            super::intake::unblock_for_client_updates(leader, &allocs, response.index);
            answer(response)
        }
        LeaderRequest::PromoteDeployment { deployment, groups } => {
            super::deployments::promote(leader, &deployment, groups).await?;
            answer(())
        }
        LeaderRequest::FailDeployment { deployment } => {
            super::deployments::fail(leader, &deployment).await?;
            answer(())
        }
        LeaderRequest::PauseDeployment { deployment, pause } => {
            super::deployments::pause(leader, &deployment, pause).await?;
            answer(())
        }
        LeaderRequest::ForcePeriodicLaunch { namespace, job } => {
            answer(super::periodic::force_launch(leader, &namespace, &job).await?)
        }
        LeaderRequest::DispatchJob {
            namespace,
            job,
            payload,
            meta,
            idempotency_token,
        } => answer(
            super::periodic::dispatch(leader, &namespace, &job, payload, meta, idempotency_token)
                .await?,
        ),
        LeaderRequest::CollectGarbage { force } => {
            answer(super::gc::collect_now(leader, force).await?)
        }
    }
}

/// Registers a job with a new evaluation (any server may do this: it is
/// one write).
pub(crate) async fn register_job(
    server: &Server,
    job: Job,
    enforce_index: Option<u64>,
) -> Result<(Evaluation, CommandResponse), ControlError> {
    let now = crate::clock::now_unix_nanos();
    let eval =
        super::evals::new_evaluation(&job, scheduler_core::model::EvalTrigger::JobRegister, now);
    let response = server
        .write(Command::RegisterJob {
            job: Box::new(job),
            enforce_index,
            eval: Some(Box::new(eval.clone())),
        })
        .await?;
    if let Err(refusal) = &response.result {
        return Err(ControlError::Refused(refusal.clone()));
    }
    Ok((eval, response))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
