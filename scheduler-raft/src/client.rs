//! A client of the servers' internal API, for tools and tests that talk to
//! a cluster from outside: writes go to any server (which forwards them to
//! the leader), and the client moves on to the next server when one does
//! not answer.
//!
//! A retried write may be applied twice if the first attempt committed but
//! its answer was lost. Commands are upserts by id, so applying one twice
//! leaves the same objects (a job registered twice is unchanged the second
//! time); a `-check-index` register retried that way reports a mismatch,
//! which the caller can recognise by reading the job back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scheduler_core::model::api::DrainSpec;
use scheduler_core::model::timestamp::format_rfc3339_nanos;
use scheduler_core::model::{
    Allocation, DrainMetadata, DrainStatus, DrainStrategy, Duration as GoDuration, Job, Node,
    NodeId, SchedulingEligibility,
};

use crate::cluster_state::ClusterDump;
use crate::command::{Command, CommandResponse};
use crate::control::{HeartbeatAnswer, LeaderRequest};
use crate::operator::{RemovePeerRequest, RestoreOutcome};
use crate::server::{LeaderCallError, LeaderCallResult, Peer, ServerStatus};
use crate::types::ServerId;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server answered before the deadline.
    #[error("no server accepted the request within {deadline:?}; last error: {last}")]
    Unavailable {
        /// The deadline.
        deadline: Duration,
        /// The last error seen.
        last: String,
    },
    /// The server answered with an error.
    #[error("server {server}: {message}")]
    Server {
        /// The server asked.
        server: String,
        /// Its error.
        message: String,
    },
    /// The leader refused or failed a leader-only request; the value is
    /// the control plane's error (`{"kind": "not_found", ...}`).
    #[error("the leader answered: {0}")]
    Leader(serde_json::Value),
}

/// What registering a job answered.
#[derive(Debug, Clone)]
pub struct RegisterAnswer {
    /// The evaluation created with it.
    pub eval: scheduler_core::model::Evaluation,
    /// The write's index and result.
    pub response: CommandResponse,
}

/// A client of a set of servers.
#[derive(Debug)]
pub struct RemoteClient {
    servers: Vec<String>,
    next: AtomicUsize,
    http: reqwest::Client,
}

impl RemoteClient {
    /// A client of the servers at `servers` (`host:port`).
    pub fn new(servers: Vec<String>) -> Self {
        Self {
            servers,
            next: AtomicUsize::new(0),
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_millis(300))
                .build()
                .unwrap_or_default(),
        }
    }

    /// Commits a command through whichever server answers, trying the next
    /// server on failure until `deadline` has passed.
    pub async fn write(
        &self,
        command: &Command,
        deadline: Duration,
    ) -> Result<CommandResponse, ClientError> {
        let started = crate::clock::monotonic();
        loop {
            let position = self.next.load(Ordering::Relaxed) % self.servers.len().max(1);
            let Some(server) = self.servers.get(position) else {
                return Err(ClientError::Unavailable {
                    deadline,
                    last: "no servers configured".to_owned(),
                });
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            let sent = self
                .http
                .post(format!("http://{server}/v1/internal/write"))
                .timeout(remaining.clamp(Duration::from_millis(100), Duration::from_secs(5)))
                .json(command)
                .send()
                .await;
            let last = match sent {
                Ok(response) => match response.json::<Result<CommandResponse, String>>().await {
                    Ok(Ok(answer)) => return Ok(answer),
                    Ok(Err(message)) => format!("{server}: {message}"),
                    Err(err) => format!("{server}: {err}"),
                },
                Err(err) => format!("{server}: {err}"),
            };
            self.next.store(position + 1, Ordering::Relaxed);
            if started.elapsed() >= deadline {
                return Err(ClientError::Unavailable { deadline, last });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Runs a control-plane request on the leader through whichever
    /// server answers (it forwards), trying the next server while none
    /// reaches a leader, until `deadline`.
    pub async fn leader_call<T: serde::de::DeserializeOwned>(
        &self,
        request: &LeaderRequest,
        deadline: Duration,
    ) -> Result<T, ClientError> {
        let started = crate::clock::monotonic();
        loop {
            let position = self.next.load(Ordering::Relaxed) % self.servers.len().max(1);
            let Some(server) = self.servers.get(position) else {
                return Err(ClientError::Unavailable {
                    deadline,
                    last: "no servers configured".to_owned(),
                });
            };
            let remaining = deadline.saturating_sub(started.elapsed());
            let sent = self
                .http
                .post(format!("http://{server}/v1/internal/leader-call"))
                .timeout(remaining.clamp(Duration::from_millis(100), Duration::from_secs(12)))
                .json(request)
                .send()
                .await;
            let last = match sent {
                Ok(response) => match response.json::<LeaderCallResult>().await {
                    Ok(Ok(value)) => {
                        return serde_json::from_value(value).map_err(|err| ClientError::Server {
                            server: server.clone(),
                            message: format!("unreadable answer: {err}"),
                        });
                    }
                    Ok(Err(LeaderCallError::Failed(error))) => {
                        return Err(ClientError::Leader(error));
                    }
                    Ok(Err(LeaderCallError::NotLeader)) => format!("{server}: no leader"),
                    Err(err) => format!("{server}: {err}"),
                },
                Err(err) => format!("{server}: {err}"),
            };
            self.next.store(position + 1, Ordering::Relaxed);
            if started.elapsed() >= deadline {
                return Err(ClientError::Unavailable { deadline, last });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Registers (or updates) a node; returns its heartbeat TTL.
    pub async fn register_node(
        &self,
        node: Node,
        deadline: Duration,
    ) -> Result<Duration, ClientError> {
        let request = LeaderRequest::RegisterNode {
            node: Box::new(node),
        };
        let ttl_ms: u64 = self.leader_call(&request, deadline).await?;
        Ok(Duration::from_millis(ttl_ms))
    }

    /// Heartbeats of `nodes`; the answer names those the leader does not
    /// know.
    pub async fn heartbeat(
        &self,
        nodes: Vec<NodeId>,
        deadline: Duration,
    ) -> Result<HeartbeatAnswer, ClientError> {
        self.leader_call(&LeaderRequest::Heartbeat { nodes }, deadline)
            .await
    }

    /// Registers a job with its evaluation (`job run`): one write, which
    /// any server forwards to the leader (it does not wait for the
    /// leader's control loops, so it goes through as soon as a leader is
    /// elected). A refusal (`-check-index` mismatch) is in the answer's
    /// `response.result`.
    pub async fn register_job(
        &self,
        job: Job,
        enforce_index: Option<u64>,
        deadline: Duration,
    ) -> Result<RegisterAnswer, ClientError> {
        let eval = crate::control::new_evaluation(
            &job,
            scheduler_core::model::EvalTrigger::JobRegister,
            crate::clock::now_unix_nanos(),
        );
        let command = Command::RegisterJob {
            job: Box::new(job),
            enforce_index,
            eval: Some(Box::new(eval.clone())),
        };
        let response = self.write(&command, deadline).await?;
        Ok(RegisterAnswer { eval, response })
    }

    /// Replaces the service instances `node`'s client registered (its
    /// whole set).
    pub async fn set_node_services(
        &self,
        node: NodeId,
        services: Vec<crate::services::RegisteredService>,
        deadline: Duration,
    ) -> Result<CommandResponse, ClientError> {
        let command = Command::SetNodeServices {
            node_id: node,
            services,
        };
        self.write(&command, deadline).await
    }

    /// The public HTTP API address (`host:port`) of the first server that
    /// answers and serves one, trying each in turn: where a client-only
    /// agent forwards the API requests it does not answer itself.
    pub async fn http_api_addr(&self) -> Result<String, ClientError> {
        let mut last = "no servers configured".to_owned();
        for server in &self.servers {
            let asked = self
                .http
                .get(format!("http://{server}/v1/internal/http-addr"))
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            match asked {
                Ok(response) => match response.json::<String>().await {
                    Ok(addr) if !addr.is_empty() => return Ok(addr),
                    Ok(_) => last = format!("{server}: serves no HTTP API"),
                    Err(err) => last = format!("{server}: {err}"),
                },
                Err(err) => last = format!("{server}: {err}"),
            }
        }
        Err(ClientError::Unavailable {
            deadline: Duration::from_secs(2),
            last,
        })
    }

    /// Reports allocations as a client sees them.
    pub async fn update_allocs(
        &self,
        allocs: Vec<Allocation>,
        deadline: Duration,
    ) -> Result<CommandResponse, ClientError> {
        self.leader_call(&LeaderRequest::UpdateAllocs { allocs }, deadline)
            .await
    }

    /// A node's allocations once the allocation table moves past `index`
    /// (or `wait` passes), from whichever server answers: the client's
    /// blocking query for its work.
    pub async fn node_allocs(
        &self,
        node: &NodeId,
        index: u64,
        wait: Duration,
    ) -> Result<crate::server::NodeAllocs, ClientError> {
        let mut last = String::new();
        for _ in 0..self.servers.len().max(1) {
            let position = self.next.load(Ordering::Relaxed) % self.servers.len().max(1);
            let Some(server) = self.servers.get(position) else {
                break;
            };
            let asked = self
                .http
                .get(format!("http://{server}/v1/internal/node-allocs"))
                .query(&crate::server::NodeAllocsQuery {
                    node: node.to_string(),
                    index,
                    wait_ms: u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                })
                .timeout(wait + Duration::from_secs(10))
                .send()
                .await;
            match asked {
                Ok(response) => match response.json().await {
                    Ok(answer) => return Ok(answer),
                    Err(err) => last = format!("{server}: {err}"),
                },
                Err(err) => last = format!("{server}: {err}"),
            }
            self.next.store(position + 1, Ordering::Relaxed);
        }
        Err(ClientError::Unavailable {
            deadline: wait,
            last,
        })
    }

    async fn get<T: serde::de::DeserializeOwned>(
        &self,
        server: &str,
        path: &str,
    ) -> Result<T, ClientError> {
        let error = |message: String| ClientError::Server {
            server: server.to_owned(),
            message,
        };
        self.http
            .get(format!("http://{server}{path}"))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| error(e.to_string()))?
            .json()
            .await
            .map_err(|e| error(e.to_string()))
    }

    /// What one server reports about itself.
    pub async fn status(&self, server: &str) -> Result<ServerStatus, ClientError> {
        self.get(server, "/v1/internal/status").await
    }

    /// One server's state as it has applied it (not consulting the
    /// leader).
    pub async fn local_state(&self, server: &str) -> Result<ClusterDump, ClientError> {
        self.get(server, "/v1/internal/state").await
    }

    /// The members as one server knows them.
    pub async fn peers(&self, server: &str) -> Result<Vec<Peer>, ClientError> {
        self.get(server, "/v1/internal/peers").await
    }

    /// The whole state as a snapshot file, read linearizably through
    /// `server` (see [`crate::operator::snapshot_save`]).
    pub async fn snapshot_save(&self, server: &str) -> Result<Vec<u8>, ClientError> {
        let error = |message: String| ClientError::Server {
            server: server.to_owned(),
            message,
        };
        let response = self
            .http
            .get(format!("http://{server}/v1/internal/snapshot"))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|e| error(e.to_string()))?;
        let ok = response.status().is_success();
        let body = response.bytes().await.map_err(|e| error(e.to_string()))?;
        if ok {
            return Ok(body.to_vec());
        }
        Err(error(
            match serde_json::from_slice::<Result<(), String>>(&body) {
                Ok(Err(message)) => message,
                _ => String::from_utf8_lossy(&body).into_owned(),
            },
        ))
    }

    /// Replaces the cluster's state with a snapshot file, through `server`
    /// (see [`crate::operator::snapshot_restore`]).
    pub async fn snapshot_restore(
        &self,
        server: &str,
        file: Vec<u8>,
    ) -> Result<RestoreOutcome, ClientError> {
        let error = |message: String| ClientError::Server {
            server: server.to_owned(),
            message,
        };
        self.http
            .put(format!("http://{server}/v1/internal/snapshot"))
            .timeout(Duration::from_secs(60))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(file)
            .send()
            .await
            .map_err(|e| error(e.to_string()))?
            .json::<Result<RestoreOutcome, String>>()
            .await
            .map_err(|e| error(e.to_string()))?
            .map_err(error)
    }

    /// Removes server `id` from the configuration, through `server` (which
    /// forwards to the leader).
    pub async fn remove_peer(&self, server: &str, id: ServerId) -> Result<(), ClientError> {
        let error = |message: String| ClientError::Server {
            server: server.to_owned(),
            message,
        };
        self.http
            .post(format!("http://{server}/v1/internal/peers/remove"))
            .timeout(Duration::from_secs(20))
            .json(&RemovePeerRequest { id })
            .send()
            .await
            .map_err(|e| error(e.to_string()))?
            .json::<Result<(), String>>()
            .await
            .map_err(|e| error(e.to_string()))?
            .map_err(error)
    }

    /// Starts draining `node` (given whole, as its client registered it:
    /// the write replaces the stored node, whose server-owned drain and
    /// eligibility fields [`begin_drain`] sets), through whichever server
    /// answers, until `deadline`. The leader's drainer then migrates its
    /// allocations. A refusal is in the answer's `result`.
    pub async fn drain_node(
        &self,
        node: Node,
        spec: &DrainSpec,
        meta: BTreeMap<String, String>,
        deadline: Duration,
    ) -> Result<CommandResponse, ClientError> {
        let mut node = node;
        begin_drain(&mut node, spec, meta, crate::clock::now_unix_nanos());
        self.write(&Command::UpsertNodes { nodes: vec![node] }, deadline)
            .await
    }
}

/// Marks `node` draining as `spec` says, from `now` (Unix ns): the drain
/// strategy (its force deadline `now + deadline` when the deadline is
/// positive), ineligible for new placements, and a new `LastDrain` record
/// carrying `meta`. What `POST /v1/node/:id/drain` and a client draining
/// itself on shutdown both write.
pub fn begin_drain(node: &mut Node, spec: &DrainSpec, meta: BTreeMap<String, String>, now: i64) {
    let stamp = format_rfc3339_nanos(now);
    let force_deadline = if spec.deadline > 0 {
        format_rfc3339_nanos(now.saturating_add(spec.deadline))
    } else {
        String::new()
    };
    node.drain = true;
    node.drain_strategy = Some(DrainStrategy {
        deadline: GoDuration::from_nanos(spec.deadline),
        ignore_system_jobs: spec.ignore_system_jobs,
        force_deadline,
        started_at: stamp.clone(),
    });
    node.scheduling_eligibility = SchedulingEligibility::Ineligible;
    node.last_drain = Some(DrainMetadata {
        started_at: stamp.clone(),
        updated_at: stamp,
        status: DrainStatus::Draining,
        meta,
        ..DrainMetadata::default()
    });
}
