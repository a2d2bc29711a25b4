//! The client half of the agent: drivers found on this machine, the
//! node's fingerprint, and the client loop connected to the servers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scheduler_core::driver::{DriverHealth, TaskDriver};
use scheduler_core::model::{Allocation, JobType, Node};
use scheduler_drivers::alloc_runner::ClientContext;
use scheduler_drivers::catalog::ServiceCatalog;
use scheduler_drivers::client::{ClientAllocations, ClientHandle, ServerConnection, start_client};
use scheduler_drivers::client_state::ClientState;
use scheduler_drivers::docker::{DockerDriver, locate_socket};
use scheduler_drivers::exec::ExecDriver;
use scheduler_drivers::fingerprint::{NodeIdentity, fingerprint_node};
use scheduler_drivers::java::JavaDriver;
use scheduler_drivers::qemu::QemuDriver;
use scheduler_drivers::raw_exec::RawExecDriver;

use super::config::DrainOnShutdown;
use super::connection::RaftConnection;

/// How a client agent runs.
#[derive(Debug, Clone)]
pub struct ClientAgentArgs {
    /// Where allocations and the client's state live.
    pub data_dir: PathBuf,
    /// Servers to register with (`host:port`).
    pub servers: Vec<String>,
    /// The node's name (the hostname when empty).
    pub node_name: String,
    /// Its datacenter.
    pub datacenter: String,
    /// Its node class.
    pub node_class: String,
    /// Its node pool (`default` when empty).
    pub node_pool: String,
    /// Its meta.
    pub meta: BTreeMap<String, String>,
    /// The interface tasks are reached on (the default route's if unset).
    pub network_interface: Option<String>,
    /// Resources kept from tasks (the agent configuration's
    /// `client { reserved { ... } }`).
    pub reserved: scheduler_core::model::NodeReservedResources,
    /// The agent's HTTP API address, recorded on the node (Nomad's
    /// `HTTPAddr`), empty when the agent serves none.
    pub http_addr: String,
    /// The agent configuration's `plugin "NAME" { config { ... } }` blocks.
    pub plugins: BTreeMap<String, serde_json::Value>,
    /// The agent configuration's `client { drain_on_shutdown { ... } }`:
    /// drain the node before stopping ([`ClientAgent::drain_before_shutdown`]).
    pub drain_on_shutdown: Option<DrainOnShutdown>,
}

/// A running client agent.
#[derive(Debug)]
pub struct ClientAgent {
    /// The node as registered.
    pub node: Node,
    /// The drivers found, by name, with their health.
    pub drivers: BTreeMap<String, DriverHealth>,
    /// What the client's allocations share: data directory, drivers,
    /// service catalog.
    pub context: Arc<ClientContext>,
    /// The client loops; dropping the agent stops them.
    client: ClientHandle,
    /// The servers, as the client loops reach them.
    connection: Arc<RaftConnection>,
    /// Drain the node before stopping.
    drain_on_shutdown: Option<DrainOnShutdown>,
}

/// The node's id: random on first start, then kept in `DATA_DIR/node-id`
/// so a restarted client is the same node.
fn node_id(data_dir: &Path) -> Result<String, String> {
    let path = data_dir.join("node-id");
    if let Ok(id) = std::fs::read_to_string(&path) {
        return Ok(id.trim().to_owned());
    }
    // The kernel hands out random UUIDs.
    let id = std::fs::read_to_string("/proc/sys/kernel/random/uuid")
        .map_err(|e| format!("a node id: {e}"))?
        .trim()
        .to_owned();
    std::fs::write(&path, &id).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(id)
}

/// The drivers this machine offers: raw_exec always; exec, java and qemu
/// when their fingerprint finds them usable; docker when a Docker API
/// socket answers. `plugins` (the agent configuration's `plugin "NAME"
/// { config { ... } }`) turns a driver off with `enabled = false` and gives
/// docker its `endpoint`.
async fn drivers(
    plugins: &BTreeMap<String, serde_json::Value>,
) -> Result<Vec<Arc<dyn TaskDriver>>, String> {
    let settings = PluginSettings::read(plugins)?;
    let executor = scheduler_drivers::executor::locate().ok_or(
        "sched-executor not found beside schedd, on PATH or in $SCHED_EXECUTOR (it is built with scheduler-drivers)",
    )?;
    let mut drivers: Vec<Arc<dyn TaskDriver>> = vec![
        Arc::new(RawExecDriver::new(executor.clone())),
        Arc::new(ExecDriver::new(executor.clone())),
        Arc::new(JavaDriver::new(executor.clone())),
        Arc::new(QemuDriver::new(executor)),
    ];
    if let Some(socket) = settings.docker_endpoint.clone().or_else(locate_socket) {
        match DockerDriver::connect(&socket).await {
            Ok(docker) => drivers.push(Arc::new(docker)),
            Err(err) if settings.docker_endpoint.is_some() => {
                tracing::warn!(%err, "plugin \"docker\": the configured endpoint does not answer");
            }
            Err(_) => {}
        }
    }
    drivers.retain(|driver| !settings.disabled.iter().any(|name| name == driver.name()));
    Ok(drivers)
}

/// What the `plugin` blocks say, checked.
#[derive(Debug, Default)]
struct PluginSettings {
    /// Drivers with `enabled = false`.
    disabled: Vec<String>,
    /// docker's `endpoint`, as a socket path.
    docker_endpoint: Option<String>,
}

impl PluginSettings {
    const DRIVERS: [&'static str; 5] = ["raw_exec", "exec", "java", "qemu", "docker"];

    fn read(plugins: &BTreeMap<String, serde_json::Value>) -> Result<PluginSettings, String> {
        let mut settings = PluginSettings::default();
        for (name, block) in plugins {
            if !Self::DRIVERS.contains(&name.as_str()) {
                return Err(format!(
                    "plugin {name:?}: no such driver here (drivers: {})",
                    Self::DRIVERS.join(", ")
                ));
            }
            let config = block.get("config").unwrap_or(block);
            let Some(options) = config.as_object() else {
                continue;
            };
            for (key, value) in options {
                match (name.as_str(), key.as_str()) {
                    (_, "enabled") => match value.as_bool() {
                        Some(false) => settings.disabled.push(name.clone()),
                        Some(true) => {}
                        None => {
                            return Err(format!(
                                "plugin {name:?}: config.enabled must be true or false, not {value}"
                            ));
                        }
                    },
                    ("docker", "endpoint") => {
                        let endpoint = value.as_str().unwrap_or_default();
                        let socket = endpoint.strip_prefix("unix://").ok_or_else(|| {
                            format!(
                                "plugin \"docker\": config.endpoint {endpoint:?} must be a unix:// socket (no TCP engines here)"
                            )
                        })?;
                        settings.docker_endpoint = Some(socket.to_owned());
                    }
                    _ => {
                        return Err(format!(
                            "plugin {name:?}: unsupported option config.{key} (supported: enabled{})",
                            if name == "docker" { ", endpoint" } else { "" }
                        ));
                    }
                }
            }
        }
        Ok(settings)
    }
}

impl ClientAgent {
    /// Fingerprints this machine, restores what a previous run left, and
    /// connects to the servers.
    pub async fn start(args: ClientAgentArgs) -> Result<ClientAgent, String> {
        std::fs::create_dir_all(&args.data_dir)
            .map_err(|e| format!("{}: {e}", args.data_dir.display()))?;
        let drivers = drivers(&args.plugins).await?;
        #[allow(clippy::disallowed_methods)]
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        let identity = NodeIdentity {
            id: node_id(&args.data_dir)?,
            name: args.node_name.clone(),
            datacenter: args.datacenter.clone(),
            node_class: args.node_class.clone(),
            node_pool: args.node_pool.clone(),
            meta: args.meta.clone(),
            data_dir: args.data_dir.clone(),
            network_interface: args.network_interface.clone(),
            drivers: drivers.clone(),
            now_rfc3339: scheduler_core::model::timestamp::format_rfc3339_nanos(now),
        };
        let mut node = fingerprint_node(&identity).await;
        node.reserved_resources = args.reserved.clone();
        node.http_addr = args.http_addr.clone();
        let health: BTreeMap<String, DriverHealth> = node
            .drivers
            .iter()
            .map(|(name, info)| {
                let health = if info.healthy {
                    DriverHealth::Healthy
                } else if info.detected {
                    DriverHealth::Unhealthy
                } else {
                    DriverHealth::Undetected
                };
                (name.clone(), health)
            })
            .collect();
        // Only usable drivers run tasks; the others stay in the node's
        // fingerprint so `node status` can say why.
        let usable: BTreeMap<String, Arc<dyn TaskDriver>> = drivers
            .into_iter()
            .filter(|d| health.get(d.name()) == Some(&DriverHealth::Healthy))
            .map(|d| (d.name().to_owned(), d))
            .collect();
        let ctx = Arc::new(ClientContext {
            data_dir: args.data_dir.clone(),
            node: node.clone(),
            drivers: usable,
            state: Arc::new(
                ClientState::open(&args.data_dir).map_err(|e| format!("client state: {e}"))?,
            ),
            catalog: Arc::new(ServiceCatalog::new()),
        });
        let connection = Arc::new(RaftConnection::new(args.servers.clone(), &args.datacenter));
        let client = start_client(connection.clone(), ctx.clone(), node.clone());
        Ok(ClientAgent {
            node,
            drivers: health,
            context: ctx,
            client,
            connection,
            drain_on_shutdown: args.drain_on_shutdown.clone(),
        })
    }

    /// The allocations the client runs, to restart or signal their tasks
    /// and read their usage on demand (the HTTP API's `/v1/client/...`).
    pub fn allocations(&self) -> ClientAllocations {
        self.client.allocations()
    }

    /// The servers it registered with (where a client-only agent's API
    /// forwards what it does not answer itself).
    pub fn servers(&self) -> Arc<scheduler_raft::client::RemoteClient> {
        self.connection.servers()
    }
}

/// How draining the node on shutdown ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShutdownDrain {
    /// No `drain_on_shutdown`: nothing drained, the tasks keep running.
    NotConfigured,
    /// Every allocation that had to leave is terminal on the servers (its
    /// tasks stopped; services were replaced elsewhere).
    Drained,
    /// The deadline (and [`DRAIN_MARGIN`]) passed with this many
    /// allocations still running on the node.
    DeadlinePassed {
        /// Allocations still running.
        left: usize,
    },
    /// Another SIGINT or SIGTERM cut the wait short.
    Interrupted {
        /// That signal.
        signal: &'static str,
        /// Allocations still running, when the servers said.
        left: Option<usize>,
    },
    /// The servers could not be asked to drain the node.
    Failed(String),
}

/// How long past the drain's deadline the client waits for the servers to
/// stop what is left and for its tasks to end (their kill timeouts).
pub const DRAIN_MARGIN: Duration = Duration::from_secs(10);

/// How long one look at the node's allocations blocks on the servers.
const DRAIN_POLL: Duration = Duration::from_secs(5);

/// Whether `alloc` still has to stop before the node counts as drained:
/// not terminal on the client, and not a system job's when those stay.
/// The servers' drainer completes a drain on the same condition.
fn still_draining(alloc: &Allocation, ignore_system_jobs: bool) -> bool {
    let system = alloc
        .job
        .as_ref()
        .is_some_and(|job| job.job_type == JobType::System);
    !alloc.client_terminal() && (!ignore_system_jobs || !system)
}

/// "1 allocation", "3 allocations".
fn allocations(n: usize) -> String {
    if n == 1 {
        "1 allocation".to_owned()
    } else {
        format!("{n} allocations")
    }
}

impl ClientAgent {
    /// Nomad's `drain_on_shutdown`: asks the servers to drain this node
    /// (ineligible, its allocations migrated elsewhere with the configured
    /// deadline) and waits, while the client loops keep running and stop
    /// what the servers stop, until none of its allocations runs any more,
    /// the deadline plus [`DRAIN_MARGIN`] passes, or `interrupt` (a second
    /// signal) resolves. Says what happens on stderr. Without the block it
    /// does nothing.
    pub async fn drain_before_shutdown(
        &self,
        interrupt: impl Future<Output = &'static str>,
    ) -> ShutdownDrain {
        let Some(config) = &self.drain_on_shutdown else {
            return ShutdownDrain::NotConfigured;
        };
        let node = &self.node.id;
        let spec = config.spec();
        let deadline = if spec.deadline < 0 {
            "forced: every allocation stops now".to_owned()
        } else {
            format!("deadline {}", config.deadline())
        };
        let system = if spec.ignore_system_jobs {
            "; system jobs stay"
        } else {
            ""
        };
        eprintln!("schedd: draining node {node} before stopping ({deadline}{system})");
        // usize::MAX: the servers have not said yet.
        let left = AtomicUsize::new(usize::MAX);
        let draining = async {
            let meta = BTreeMap::from([("message".to_owned(), "node shutting down".to_owned())]);
            self.connection
                .drain_node(self.node.clone(), &spec, meta)
                .await?;
            let bound = Duration::from_nanos(u64::try_from(spec.deadline).unwrap_or(0))
                .saturating_add(DRAIN_MARGIN);
            let drained =
                tokio::time::timeout(bound, self.wait_drained(spec.ignore_system_jobs, &left))
                    .await;
            Ok::<_, String>(match drained {
                Ok(()) => ShutdownDrain::Drained,
                Err(_) => ShutdownDrain::DeadlinePassed {
                    left: left.load(Ordering::Relaxed),
                },
            })
        };
        let outcome = tokio::select! {
            outcome = draining => outcome.unwrap_or_else(ShutdownDrain::Failed),
            signal = interrupt => ShutdownDrain::Interrupted {
                signal,
                left: Some(left.load(Ordering::Relaxed)).filter(|&n| n != usize::MAX),
            },
        };
        match &outcome {
            ShutdownDrain::NotConfigured => {}
            ShutdownDrain::Drained => {
                eprintln!("schedd: node {node} drained; its allocations moved or stopped");
            }
            ShutdownDrain::DeadlinePassed { left } => eprintln!(
                "schedd: node {node}: the drain deadline passed with {} left; stopping anyway, their tasks keep running",
                allocations(*left)
            ),
            ShutdownDrain::Interrupted { signal, left } => eprintln!(
                "schedd: {signal} again: stopping before node {node} finished draining ({} left; their tasks keep running)",
                left.map_or_else(|| "allocations".to_owned(), allocations)
            ),
            ShutdownDrain::Failed(err) => {
                eprintln!("schedd: could not drain node {node}: {err}; stopping without draining");
            }
        }
        outcome
    }

    /// Returns once none of the node's allocations (as the servers see
    /// them) still has to stop; keeps `left` up to date.
    async fn wait_drained(&self, ignore_system_jobs: bool, left: &AtomicUsize) {
        let node = &self.node.id;
        let mut index = 0;
        loop {
            match self.connection.node_allocs(node, index, DRAIN_POLL).await {
                Ok((allocs, seen)) => {
                    let running = allocs
                        .iter()
                        .filter(|alloc| still_draining(alloc, ignore_system_jobs))
                        .count();
                    left.store(running, Ordering::Relaxed);
                    if running == 0 {
                        return;
                    }
                    index = seen;
                }
                Err(err) => {
                    tracing::warn!(%err, %node, "drain on shutdown: reading the node's allocations");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugins(json: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(json).expect("map")
    }

    #[test]
    fn plugin_blocks_turn_drivers_off_and_point_docker_somewhere() {
        let settings = PluginSettings::read(&plugins(serde_json::json!({
            "raw_exec": {"config": {"enabled": false}},
            "docker": {"config": {"endpoint": "unix:///run/podman/podman.sock"}},
        })))
        .expect("valid");
        assert_eq!(settings.disabled, ["raw_exec"]);
        assert_eq!(
            settings.docker_endpoint.as_deref(),
            Some("/run/podman/podman.sock")
        );
    }

    #[test]
    fn plugin_mistakes_are_named() {
        let err =
            PluginSettings::read(&plugins(serde_json::json!({"rkt": {"config": {}}}))).unwrap_err();
        assert!(err.contains("\"rkt\""), "{err}");
        let err = PluginSettings::read(&plugins(
            serde_json::json!({"exec": {"config": {"no_pivot_root": true}}}),
        ))
        .unwrap_err();
        assert!(err.contains("config.no_pivot_root"), "{err}");
        let err = PluginSettings::read(&plugins(
            serde_json::json!({"docker": {"config": {"endpoint": "tcp://1.2.3.4:2375"}}}),
        ))
        .unwrap_err();
        assert!(err.contains("unix://"), "{err}");
    }
}
