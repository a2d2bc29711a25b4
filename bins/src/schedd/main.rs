//! `schedd`, the agent: a Raft server of the replicated state store
//! (`scheduler_raft::Server`) that forms or joins a cluster the way Nomad's
//! `server { bootstrap_expect, retry_join }` does, optionally with a client
//! in the same process (`-client`, or `-dev`: a single-node server and a
//! client on loopback with its data in a fresh temporary directory). This
//! file turns flags into a [`server::ServerArgs`]; `server.rs` runs it, and
//! `bins::agent::client` is the client half.

#[path = "../args.rs"]
mod args;
mod server;

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};

/// mimalloc instead of glibc's malloc: glibc hands the large buffers of
/// big Raft entries (encodings, HTTP bodies) back to the kernel after each
/// use, and zeroing the fresh pages of the next one showed up as a third of
/// a profile of C1M through Raft. Without transparent huge pages (each
/// refault would zero 2 MiB), it cost about 12 % less CPU per durable write
/// and 10-20 % less per placement through Raft (benches/RESULTS.md).
/// Binaries choose the allocator; the library crates do not.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Nomad's RPC port, where a server listens by default.
const DEFAULT_RPC_PORT: u16 = 4647;
/// Nomad's HTTP port, where the API listens by default.
const DEFAULT_HTTP_PORT: u16 = 4646;
/// Consul's DNS port, where `-dev` answers `NAME.service.consul`.
const DEFAULT_DNS_PORT: u16 = 8600;

/// The scheduler's agent. Flags follow Nomad's `nomad agent` and take one
/// dash or two.
#[derive(Debug, Parser)]
#[command(
    name = "schedd",
    version,
    about = "Agent of the sched cluster scheduler: a server, a client, or both (-dev)",
    after_help = "Examples:\n  schedd -dev\n  schedd -server -data-dir /var/lib/schedd -bootstrap-expect 1\n  schedd -server -data-dir d1 -rpc-port 4647 -bootstrap-expect 3 \\\n      -retry-join 10.0.0.2:4647 -retry-join 10.0.0.3:4647\n\nFlags take one dash or two: -data-dir and --data-dir are the same."
)]
struct Cli {
    /// Run as a server.
    #[arg(long)]
    server: bool,
    /// Also run a client: registers this machine as a node and runs the
    /// tasks placed on it (with -server: in the same process).
    #[arg(long)]
    client: bool,
    /// Development mode: a single-node server and a client in one
    /// process, data in a fresh temporary directory unless -data-dir.
    #[arg(long)]
    dev: bool,
    /// The node's datacenter (clients).
    #[arg(long = "dc", value_name = "DC", default_value = "dc1")]
    datacenter: String,
    /// The node's class (clients).
    #[arg(long, value_name = "CLASS", default_value = "")]
    node_class: String,
    /// Servers a client registers with (HOST:PORT, the port defaulting to
    /// 4647); repeatable or comma-separated.
    #[arg(long, value_name = "HOST:PORT", value_delimiter = ',')]
    servers: Vec<String>,
    /// The node's name (clients; the hostname by default).
    #[arg(long = "node", value_name = "NAME")]
    node_name: Option<String>,
    /// The node's pool (clients).
    #[arg(long, value_name = "POOL")]
    node_pool: Option<String>,
    /// Node metadata (clients), KEY=VALUE; repeatable.
    #[arg(long, value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// An agent configuration file in HCL with Nomad's agent keys, or a
    /// directory of them (`*.hcl`, in name order); repeatable, later ones
    /// win. Flags override the files.
    #[arg(long, value_name = "PATH")]
    config: Vec<PathBuf>,
    /// Where the server keeps its Raft log, snapshots and id.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The port servers and clients reach this server on.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_RPC_PORT)]
    rpc_port: u16,
    /// The port of the HTTP API (Nomad's `/v1`), on the -bind address.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_HTTP_PORT)]
    http_port: u16,
    /// The agent's region.
    #[arg(long, value_name = "REGION", default_value = "global")]
    region: String,
    /// Serve the client's services over DNS (`NAME.service.consul`, A and
    /// SRV, UDP and TCP) on this port of the -bind address; 0 picks a free
    /// port. Default: 8600 with -dev, off otherwise.
    #[arg(long, value_name = "PORT")]
    dns_port: Option<u16>,
    /// Form a new cluster once this many servers (this one included) can
    /// reach each other through -retry-join; 0: never bootstrap, only join.
    #[arg(long, value_name = "N", default_value_t = 0)]
    bootstrap_expect: usize,
    /// Another server to join or bootstrap with (HOST:PORT, the port
    /// defaulting to 4647); repeatable.
    #[arg(long, value_name = "HOST:PORT")]
    retry_join: Vec<String>,
    /// Scheduler workers the server runs while it leads (Nomad's
    /// `num_schedulers`; default: one per core).
    #[arg(long, value_name = "N")]
    num_schedulers: Option<usize>,
    /// Raft timings stretched this many times (config files only:
    /// `server { raft_multiplier = N }`).
    #[arg(skip = 1u32)]
    raft_multiplier: u32,
    /// What the client keeps from tasks (config files only).
    #[arg(skip)]
    reserved: scheduler_core::model::NodeReservedResources,
    /// Driver options: `plugin "NAME" { config { ... } }` (config files
    /// only).
    #[arg(skip)]
    plugins: std::collections::BTreeMap<String, serde_json::Value>,
    /// `client { drain_on_shutdown { ... } }`: drain the node before
    /// stopping (config files only).
    #[arg(skip)]
    drain_on_shutdown: Option<bins::agent::config::DrainOnShutdown>,
    /// Log level: trace, debug, info, warn or error.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches_from(args::normalize(std::env::args_os()));
    let cli = match Cli::from_arg_matches(&matches)
        .map_err(|e| e.to_string())
        .and_then(|cli| with_config_files(cli, &matches))
    {
        Ok(cli) => cli,
        Err(message) => {
            eprintln!("schedd: {message}");
            return ExitCode::FAILURE;
        }
    };
    if cli.client && !cli.server && !cli.dev {
        return match client_args(cli) {
            Ok((args, level)) => server::run_client(args, level),
            Err(message) => {
                eprintln!("schedd: {message}");
                ExitCode::FAILURE
            }
        };
    }
    match server_args(cli) {
        Ok(args) => server::run(args),
        Err(message) => {
            eprintln!("schedd: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Lays the `-config` files under the flags: a setting comes from a file
/// only where no flag gave it.
fn with_config_files(mut cli: Cli, matches: &clap::ArgMatches) -> Result<Cli, String> {
    if cli.config.is_empty() {
        return Ok(cli);
    }
    let config = bins::agent::config::load_agent_config(&cli.config)?;
    let unset = |id: &str| matches.value_source(id) != Some(clap::parser::ValueSource::CommandLine);
    cli.server |= config.server.enabled == Some(true);
    cli.client |= config.client.enabled == Some(true);
    if cli.data_dir.is_none() {
        cli.data_dir = config.data_dir;
    }
    if unset("bind")
        && let Some(bind) = config.bind_addr
    {
        cli.bind = bind
            .parse()
            .map_err(|_| format!("bind_addr {bind:?} is not an IP address"))?;
    }
    if unset("rpc_port")
        && let Some(port) = config.ports.rpc
    {
        cli.rpc_port = port;
    }
    if unset("http_port")
        && let Some(port) = config.ports.http
    {
        cli.http_port = port;
    }
    if unset("region")
        && let Some(region) = config.region
    {
        cli.region = region;
    }
    if unset("bootstrap_expect")
        && let Some(n) = config.server.bootstrap_expect
    {
        cli.bootstrap_expect = n;
    }
    cli.retry_join.extend(config.server.retry_join);
    if unset("num_schedulers")
        && let Some(n) = config.server.num_schedulers
    {
        cli.num_schedulers = Some(n);
    }
    cli.raft_multiplier = config.server.raft_multiplier.unwrap_or(1);
    if cli.servers.is_empty() {
        cli.servers = config.client.servers;
    }
    if unset("datacenter")
        && let Some(dc) = config.datacenter
    {
        cli.datacenter = dc;
    }
    if unset("node_class")
        && let Some(class) = config.client.node_class
    {
        cli.node_class = class;
    }
    if unset("log_level")
        && let Some(level) = config.log_level
    {
        cli.log_level = level;
    }
    cli.reserved = reserved_resources(&config.client.reserved)?;
    cli.plugins = config.plugins;
    cli.drain_on_shutdown = config.client.drain_on_shutdown;
    cli.node_name = cli.node_name.or(config.name);
    cli.node_pool = cli.node_pool.or(config.client.node_pool);
    let given: Vec<String> = std::mem::take(&mut cli.meta);
    cli.meta = config
        .client
        .meta
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .chain(given)
        .collect();
    Ok(cli)
}

/// `client { reserved { ... } }` as the node's reserved resources.
fn reserved_resources(
    reserved: &bins::agent::config::Reserved,
) -> Result<scheduler_core::model::NodeReservedResources, String> {
    use scheduler_core::model::{MHz, MiB, NodeReservedResources};
    let amount = |name: &str, value: Option<i64>| -> Result<i64, String> {
        match value {
            Some(v) if v < 0 => Err(format!(
                "client.reserved.{name} = {v}: must not be negative"
            )),
            Some(v) => Ok(v),
            None => Ok(0),
        }
    };
    let mut resources = NodeReservedResources::default();
    resources.cpu.cpu_shares = MHz(amount("cpu", reserved.cpu)?);
    resources.memory.memory_mb = MiB(amount("memory", reserved.memory)?);
    resources.disk.disk_mb = MiB(amount("disk", reserved.disk)?);
    if let Some(ports) = &reserved.reserved_ports {
        scheduler_core::feasibility::fit::parse_port_list(ports)
            .map_err(|err| format!("client.reserved.reserved_ports = {ports:?}: {err}"))?;
        resources.networks.reserved_host_ports = ports.clone();
    }
    Ok(resources)
}

/// `-meta KEY=VALUE` flags as a map (later ones win).
fn meta_map(meta: &[String]) -> Result<std::collections::BTreeMap<String, String>, String> {
    meta.iter()
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| format!("-meta {pair:?}: expected KEY=VALUE"))
        })
        .collect()
}

/// A client-only agent's arguments.
fn client_args(cli: Cli) -> Result<(server::ClientArgs, &'static str), String> {
    let log_level = log_level(&cli.log_level)?;
    let Some(data_dir) = cli.data_dir else {
        return Err("-client needs -data-dir DIR".to_owned());
    };
    if cli.servers.is_empty() {
        return Err("-client needs -servers HOST:PORT[,HOST:PORT...]".to_owned());
    }
    let http = std::net::SocketAddr::from((cli.bind, cli.http_port));
    let region = cli.region.clone();
    let client = bins::agent::client::ClientAgentArgs {
        data_dir,
        servers: cli.servers.iter().map(|s| with_port(s)).collect(),
        node_name: cli.node_name.clone().unwrap_or_default(),
        meta: meta_map(&cli.meta)?,
        datacenter: cli.datacenter,
        node_class: cli.node_class,
        node_pool: cli.node_pool.unwrap_or_default(),
        network_interface: None,
        reserved: cli.reserved,
        // Set once the API is bound (port 0 picks one).
        http_addr: String::new(),
        plugins: cli.plugins,
        drain_on_shutdown: cli.drain_on_shutdown,
    };
    Ok((
        server::ClientArgs {
            client,
            http,
            region,
        },
        log_level,
    ))
}

/// Checks the flags that clap cannot check alone.
fn server_args(mut cli: Cli) -> Result<server::ServerArgs, String> {
    if cli.dev {
        cli.server = true;
        cli.client = true;
        if cli.bootstrap_expect == 0 {
            cli.bootstrap_expect = 1;
        }
        if cli.data_dir.is_none() {
            cli.data_dir =
                Some(std::env::temp_dir().join(format!("schedd-dev-{}", std::process::id())));
        }
    }
    if !cli.server {
        return Err(
            "run `schedd -dev`, `schedd -server -data-dir DIR` (with -client to run tasks too) or `schedd -client -servers HOST:PORT -data-dir DIR`"
                .to_owned(),
        );
    }
    let Some(data_dir) = cli.data_dir else {
        return Err("-server needs -data-dir DIR".to_owned());
    };
    let meta = meta_map(&cli.meta)?;
    let client = cli.client.then(|| bins::agent::client::ClientAgentArgs {
        data_dir: data_dir.join("client"),
        servers: vec![std::net::SocketAddr::from((cli.bind, cli.rpc_port)).to_string()],
        node_name: cli.node_name.clone().unwrap_or_default(),
        datacenter: cli.datacenter.clone(),
        node_class: cli.node_class.clone(),
        node_pool: cli.node_pool.clone().unwrap_or_default(),
        meta,
        // Nomad's -dev also puts its node on the loopback interface.
        network_interface: cli.dev.then(|| "lo".to_owned()),
        reserved: cli.reserved.clone(),
        http_addr: std::net::SocketAddr::from((cli.bind, cli.http_port)).to_string(),
        plugins: cli.plugins.clone(),
        drain_on_shutdown: cli.drain_on_shutdown.clone(),
    });
    let data_dir = if cli.client {
        data_dir.join("server")
    } else {
        data_dir
    };
    let log_level = log_level(&cli.log_level)?;
    let retry_join: Vec<String> = cli.retry_join.iter().map(|a| with_port(a)).collect();
    if cli.bootstrap_expect > retry_join.len() + 1 {
        return Err(format!(
            "-bootstrap-expect {} needs the addresses of at least {} other servers in -retry-join (got {})",
            cli.bootstrap_expect,
            cli.bootstrap_expect - 1,
            retry_join.len()
        ));
    }
    if cli.num_schedulers == Some(0) {
        return Err("-num-schedulers 0: a server needs at least one scheduler worker".to_owned());
    }
    if cli.http_port == cli.rpc_port && cli.http_port != 0 {
        return Err(format!(
            "-http-port and -rpc-port are both {}: the HTTP API and the servers' RPC need a port each",
            cli.http_port
        ));
    }
    Ok(server::ServerArgs {
        data_dir,
        bind: (cli.bind, cli.rpc_port).into(),
        http: (cli.bind, cli.http_port).into(),
        region: cli.region.clone(),
        dns: cli
            .dns_port
            .or(cli.dev.then_some(DEFAULT_DNS_PORT))
            .map(|port| std::net::SocketAddr::from((cli.bind, port))),
        datacenter: cli.datacenter.clone(),
        name: cli.node_name.clone().unwrap_or_default(),
        bootstrap_expect: cli.bootstrap_expect,
        retry_join,
        num_schedulers: cli.num_schedulers,
        raft_multiplier: cli.raft_multiplier,
        log_level,
        client,
    })
}

/// Nomad's level names (`ERR` included) as a tracing filter level.
fn log_level(level: &str) -> Result<&'static str, String> {
    match level.to_ascii_lowercase().as_str() {
        "trace" => Ok("trace"),
        "debug" => Ok("debug"),
        "info" => Ok("info"),
        "warn" => Ok("warn"),
        "err" | "error" => Ok("error"),
        "off" => Ok("off"),
        _ => Err(format!(
            "-log-level {level}: expected trace, debug, info, warn or error"
        )),
    }
}

/// `HOST:PORT` as given, or `HOST` with the default RPC port.
fn with_port(address: &str) -> String {
    if address.parse::<std::net::SocketAddr>().is_ok() {
        return address.to_owned();
    }
    if let Ok(ip) = address.parse::<IpAddr>() {
        return std::net::SocketAddr::from((ip, DEFAULT_RPC_PORT)).to_string();
    }
    match address.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') && port.parse::<u16>().is_ok() => {
            address.to_owned()
        }
        _ => format!("{address}:{DEFAULT_RPC_PORT}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<server::ServerArgs, String> {
        let args = args::normalize(args.iter().map(std::ffi::OsString::from));
        server_args(Cli::try_parse_from(args).map_err(|e| e.to_string())?)
    }

    #[test]
    fn single_dash_flags_and_defaults() {
        let args = parse(&[
            "schedd",
            "-server",
            "-data-dir",
            "/tmp/d",
            "-bootstrap-expect",
            "3",
            "-retry-join",
            "10.0.0.2",
            "-retry-join=h:1234",
            "-log-level",
            "ERR",
            "-num-schedulers",
            "3",
        ])
        .expect("valid");
        assert_eq!(args.num_schedulers, Some(3));
        assert_eq!(args.bind.to_string(), "127.0.0.1:4647");
        assert_eq!(args.retry_join, ["10.0.0.2:4647", "h:1234"]);
        assert_eq!(args.bootstrap_expect, 3);
        assert_eq!(args.log_level, "error");
    }

    #[test]
    fn dev_mode_is_a_single_node_server_with_a_client_on_loopback() {
        let args = parse(&[
            "schedd",
            "-dev",
            "-data-dir",
            "/tmp/dev",
            "-rpc-port",
            "4700",
        ])
        .expect("valid");
        assert_eq!(args.bootstrap_expect, 1);
        assert_eq!(args.data_dir, std::path::Path::new("/tmp/dev/server"));
        let client = args.client.expect("a client");
        assert_eq!(client.data_dir, std::path::Path::new("/tmp/dev/client"));
        assert_eq!(client.servers, ["127.0.0.1:4700"]);
        assert_eq!(client.network_interface.as_deref(), Some("lo"));
        let fresh = parse(&["schedd", "-dev"]).expect("valid");
        assert!(fresh.data_dir.starts_with(std::env::temp_dir()));
    }

    #[test]
    fn a_client_only_agent_needs_servers_and_a_data_dir() {
        let cli = |args: &[&str]| {
            Cli::try_parse_from(args::normalize(args.iter().map(std::ffi::OsString::from)))
                .expect("flags")
        };
        let (args, _) = client_args(cli(&[
            "schedd",
            "-client",
            "-data-dir",
            "/tmp/c",
            "-servers",
            "10.0.0.1,10.0.0.2:5000",
        ]))
        .expect("valid");
        assert_eq!(args.client.servers, ["10.0.0.1:4647", "10.0.0.2:5000"]);
        assert_eq!(args.http.to_string(), "127.0.0.1:4646", "Nomad's HTTP port");
        assert_eq!(args.region, "global");
        let err = client_args(cli(&["schedd", "-client", "-data-dir", "/tmp/c"])).unwrap_err();
        assert!(err.contains("-servers"), "{err}");
    }

    /// The flags as `main` reads them, config files included.
    fn with_files(args: &[&str]) -> Result<server::ServerArgs, String> {
        let matches = Cli::command()
            .try_get_matches_from(args::normalize(args.iter().map(std::ffi::OsString::from)))
            .map_err(|e| e.to_string())?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| e.to_string())?;
        server_args(with_config_files(cli, &matches)?)
    }

    #[test]
    fn config_files_fill_in_what_flags_do_not_say() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("agent.hcl");
        std::fs::write(
            &file,
            "data_dir = \"/srv/sched\"\nports { rpc = 4800 }\nserver {\n  enabled = true\n  bootstrap_expect = 1\n}\nclient {\n  enabled = true\n  meta { rack = \"r1\" }\n}\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let args = with_files(&["schedd", "-config", path]).expect("valid");
        assert_eq!(args.bind.to_string(), "127.0.0.1:4800");
        assert_eq!(args.bootstrap_expect, 1);
        assert_eq!(args.data_dir, std::path::Path::new("/srv/sched/server"));
        let client = args.client.expect("client enabled by the file");
        assert_eq!(client.meta["rack"], "r1");
        // A flag wins over the file.
        let args = with_files(&[
            "schedd",
            "-config",
            path,
            "-rpc-port",
            "4900",
            "-meta",
            "rack=r2",
        ])
        .expect("valid");
        assert_eq!(args.bind.to_string(), "127.0.0.1:4900");
        assert_eq!(args.client.expect("client").meta["rack"], "r2");
        // A mistake in the file names the file, line and column.
        std::fs::write(&file, "server {\n  enabeld = true\n}\n").unwrap();
        let err = with_files(&["schedd", "-config", path]).unwrap_err();
        assert!(
            err.contains("agent.hcl:2:3") && err.contains("enabeld"),
            "{err}"
        );
    }

    #[test]
    fn the_server_block_sets_workers_and_raft_timings() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("agent.hcl");
        std::fs::write(
            &file,
            "data_dir = \"/srv/sched\"\nserver {\n  enabled = true\n  num_schedulers = 3\n  raft_multiplier = 4\n}\n",
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let args = with_files(&["schedd", "-config", path]).expect("valid");
        assert_eq!(args.num_schedulers, Some(3));
        assert_eq!(args.raft_multiplier, 4);
        // The flag wins over the file; without the file, timings as built.
        let args = with_files(&["schedd", "-config", path, "-num-schedulers", "1"]).expect("valid");
        assert_eq!(args.num_schedulers, Some(1));
        let plain = parse(&["schedd", "-server", "-data-dir", "/tmp/d"]).expect("valid");
        assert_eq!(plain.raft_multiplier, 1);
    }

    #[test]
    fn refuses_what_it_cannot_run() {
        let no_server = parse(&["schedd", "-data-dir", "/tmp/d"]).unwrap_err();
        assert!(no_server.contains("schedd -dev"), "{no_server}");
        let no_dir = parse(&["schedd", "-server"]).unwrap_err();
        assert!(no_dir.contains("-data-dir"), "{no_dir}");
        let too_few = parse(&[
            "schedd",
            "-server",
            "-data-dir",
            "d",
            "-bootstrap-expect",
            "2",
        ])
        .unwrap_err();
        assert!(too_few.contains("-retry-join"), "{too_few}");
        let no_workers = parse(&[
            "schedd",
            "-server",
            "-data-dir",
            "d",
            "-num-schedulers",
            "0",
        ])
        .unwrap_err();
        assert!(no_workers.contains("at least one"), "{no_workers}");
        assert!(with_port("[::1]").ends_with(":4647"));
        assert_eq!(with_port("[::1]:9"), "[::1]:9");
    }
}
