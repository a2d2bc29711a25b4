//! Server mode: start a Raft server and its control plane (the scheduler
//! workers, plan applier, heartbeats and other loops run while it leads),
//! form or join the cluster alongside (a server restarted on its data
//! directory already belongs to one and just runs), and stop cleanly on
//! SIGINT or SIGTERM.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use scheduler_raft::Server;
use scheduler_raft::api::{AgentInfo, ApiContext, ClientAgentApi, HttpApi};
use scheduler_raft::control::{ControlConfig, ControlPlane};
use scheduler_raft::server::{RaftTuning, ServerConfig};

/// What server mode runs with, checked.
#[derive(Debug)]
pub struct ServerArgs {
    /// The data directory.
    pub data_dir: PathBuf,
    /// Where servers and clients reach this server (RPC).
    pub bind: SocketAddr,
    /// Where the HTTP API listens.
    pub http: SocketAddr,
    /// The agent's region.
    pub region: String,
    /// Where the client's services are served over DNS, if anywhere.
    pub dns: Option<SocketAddr>,
    /// The agent's datacenter.
    pub datacenter: String,
    /// The agent's name (the hostname when empty).
    pub name: String,
    /// Bootstrap once this many servers answer (0: only join).
    pub bootstrap_expect: usize,
    /// Other servers, `host:port`.
    pub retry_join: Vec<String>,
    /// Scheduler workers while leading (`None`: one per core).
    pub num_schedulers: Option<usize>,
    /// Raft timings stretched this many times (`RaftTuning::scaled`).
    pub raft_multiplier: u32,
    /// A tracing filter level.
    pub log_level: &'static str,
    /// Also run a client in this process (`-dev`, or `-server -client`).
    pub client: Option<bins::agent::client::ClientAgentArgs>,
}

/// What a client-only agent runs with, checked.
#[derive(Debug)]
pub struct ClientArgs {
    /// The client.
    pub client: bins::agent::client::ClientAgentArgs,
    /// Where its HTTP API listens.
    pub http: SocketAddr,
    /// The agent's region (for `/v1/agent/self`).
    pub region: String,
}

/// How long one round of joining tries before it logs and starts over.
/// Like Nomad's default `retry_max = 0`, joining never gives up.
const JOIN_ROUND: Duration = Duration::from_secs(30);

/// Runs a server until a signal stops it.
pub fn run(args: ServerArgs) -> ExitCode {
    let Some(runtime) = runtime_with_logging(args.log_level) else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("schedd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a client-only agent (`-client -servers ...`) until a signal stops
/// it; its tasks keep running unless `drain_on_shutdown` says otherwise.
/// Its HTTP API on `http` answers the client endpoints of its own
/// allocations and forwards every other request to a server.
pub fn run_client(client: ClientArgs, log_level: &str) -> ExitCode {
    let ClientArgs {
        client: mut args,
        http,
        region,
    } = client;
    let Some(runtime) = runtime_with_logging(log_level) else {
        return ExitCode::FAILURE;
    };
    let served = runtime.block_on(async {
        let signal = shutdown_signal().map_err(|e| format!("cannot watch signals: {e}"))?;
        // Bound first: a port in use fails before anything runs, and the
        // node records the real address.
        let http = HttpApi::bind(http).await?;
        args.http_addr = http.addr().to_string();
        let agent_info = AgentInfo {
            name: agent_name(&args.node_name),
            region,
            datacenter: args.datacenter.clone(),
            http_addr: args.http_addr.clone(),
            client: true,
        };
        let agent = bins::agent::client::ClientAgent::start(args).await?;
        announce(&agent);
        let api = http.serve_router(scheduler_raft::api::client_agent_router(ClientAgentApi {
            client: Arc::new(bins::agent::local_client::AgentLocalClient::new(
                agent.context.clone(),
                agent.allocations(),
            )),
            servers: agent.servers(),
            agent: agent_info,
        }));
        eprintln!("schedd: HTTP API on http://{}", api.addr());
        let received = signal.await;
        api.shutdown().await;
        // `client { drain_on_shutdown }`: drain the node first (a second
        // signal cuts that short).
        let again = shutdown_signal();
        let again = async {
            match again {
                Ok(signal) => signal.await,
                Err(_) => std::future::pending().await,
            }
        };
        match agent.drain_before_shutdown(again).await {
            bins::agent::client::ShutdownDrain::NotConfigured => {
                eprintln!("schedd: client stopped ({received}); its tasks keep running");
            }
            _ => eprintln!("schedd: client stopped ({received})"),
        }
        Ok::<(), String>(())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("schedd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Logging at `level` on stderr, and the async runtime.
fn runtime_with_logging(level: &str) -> Option<tokio::runtime::Runtime> {
    // openraft narrates every step at info, and hickory logs every DNS
    // query there; at info the agent shows only their warnings.
    let filter = match level {
        "info" => "info,openraft=warn,hickory_server=warn".to_owned(),
        level => level.to_owned(),
    };
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(err) => {
            eprintln!("schedd: cannot start the async runtime: {err}");
            None
        }
    }
}

/// The client's line on stderr: its node and drivers.
fn announce(agent: &bins::agent::client::ClientAgent) {
    eprintln!(
        "schedd: client node {} ({}) with drivers {}",
        agent.node.id,
        agent.node.name,
        agent
            .drivers
            .iter()
            .map(|(name, health)| format!("{name}={health:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
}

async fn serve(args: ServerArgs) -> Result<(), String> {
    // Listen for signals before anything else, so an early SIGTERM still
    // shuts down cleanly.
    let signal = shutdown_signal().map_err(|e| format!("cannot watch signals: {e}"))?;
    let server = Server::start(ServerConfig {
        data_dir: args.data_dir.clone(),
        bind: args.bind,
        tuning: RaftTuning::default().scaled(args.raft_multiplier),
    })
    .await
    .map_err(|e| e.to_string())?;
    eprintln!(
        "schedd: server {} listening on {}",
        server.id(),
        server.addr()
    );
    tracing::info!(id = server.id(), addr = %server.addr(), data_dir = %args.data_dir.display(), "server started");
    let server = Arc::new(server);
    let defaults = ControlConfig::default();
    // The default seed (the same on every server) keeps placements
    // reproducible: an evaluation replayed on the same state decides the
    // same, whichever server leads.
    let control = Arc::new(ControlPlane::start(
        server.clone(),
        ControlConfig {
            workers: args.num_schedulers.unwrap_or(defaults.workers),
            ..defaults
        },
    ));

    // Bind the HTTP API first: a port in use fails before anything runs,
    // and the client records the real address on its node.
    let http = HttpApi::bind(args.http).await?;
    let http_addr = http.addr();
    server.set_http_api_addr(http_addr.to_string());
    let client = match &args.client {
        Some(client_args) => {
            let mut client_args = client_args.clone();
            client_args.http_addr = http_addr.to_string();
            let agent = bins::agent::client::ClientAgent::start(client_args).await?;
            announce(&agent);
            Some(agent)
        }
        None => None,
    };
    // The cluster's catalog, as this server applies it.
    let dns = match args.dns {
        Some(bind) => {
            let config = bins::agent::dns::DnsConfig {
                bind,
                ..bins::agent::dns::DnsConfig::default()
            };
            let dns = bins::agent::dns::DnsServer::start(config, server.clone()).await?;
            eprintln!(
                "schedd: DNS on {} (NAME.service.consul, A and SRV)",
                dns.local_addr()
            );
            Some(dns)
        }
        None => None,
    };
    let local_client = client.as_ref().map(|agent| {
        Arc::new(bins::agent::local_client::AgentLocalClient::new(
            agent.context.clone(),
            agent.allocations(),
        )) as Arc<dyn scheduler_raft::api::LocalClient>
    });
    let api = http.serve(ApiContext {
        server: server.clone(),
        control: control.clone(),
        local_client,
        agent: AgentInfo {
            name: agent_name(&args.name),
            region: args.region.clone(),
            datacenter: args.datacenter.clone(),
            http_addr: http_addr.to_string(),
            client: client.is_some(),
        },
    });
    eprintln!("schedd: HTTP API on http://{}", api.addr());

    let received = {
        let joining = join_cluster(&server, &args.retry_join, args.bootstrap_expect);
        tokio::pin!(joining);
        tokio::pin!(signal);
        let mut joined = false;
        loop {
            tokio::select! {
                () = &mut joining, if !joined => joined = true,
                received = &mut signal => break received,
            }
        }
    };
    tracing::info!(signal = received, "shutting down");
    // `client { drain_on_shutdown }`: drain this agent's node while the
    // server, its control loops and the HTTP API still run.
    if let Some(agent) = &client {
        let again = shutdown_signal();
        let again = async {
            match again {
                Ok(signal) => signal.await,
                Err(_) => std::future::pending().await,
            }
        };
        agent.drain_before_shutdown(again).await;
    }
    api.shutdown().await;
    if let Some(dns) = dns {
        dns.shutdown().await;
    }
    control.shutdown();
    drop(control);
    drop(client);
    // The leader loops just aborted still hold the server until their
    // tasks are dropped, a moment later.
    let mut server = server;
    for _ in 0..500 {
        match Arc::try_unwrap(server) {
            Ok(alone) => {
                alone.shutdown().await;
                eprintln!("schedd: server stopped ({received})");
                return Ok(());
            }
            Err(shared) => server = shared,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tracing::warn!("the control loops did not let go of the server within 5 s; stopping anyway");
    eprintln!("schedd: server stopped ({received})");
    Ok(())
}

/// The agent's name: as configured, else the hostname (Nomad's default).
fn agent_name(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_owned();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "schedd".to_owned())
}

/// Joins or forms the cluster, retrying until it succeeds.
async fn join_cluster(server: &Server, retry_join: &[String], bootstrap_expect: usize) {
    if retry_join.is_empty() && bootstrap_expect == 0 {
        if !server.has_membership() {
            tracing::info!(
                "no -retry-join and no -bootstrap-expect: waiting for a leader to add this server"
            );
        }
        return;
    }
    loop {
        match server.join(retry_join, bootstrap_expect, JOIN_ROUND).await {
            Ok(()) => {
                tracing::info!(peers = ?server.peers(), "member of the cluster");
                return;
            }
            Err(err) => tracing::warn!(%err, ?retry_join, "not in a cluster yet; retrying"),
        }
    }
}

/// Resolves with the name of the first SIGINT or SIGTERM received.
fn shutdown_signal() -> std::io::Result<impl Future<Output = &'static str>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        }
    })
}
