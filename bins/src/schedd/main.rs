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

use clap::Parser;

/// Nomad's RPC port, where a server listens by default.
const DEFAULT_RPC_PORT: u16 = 4647;

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
    /// Where the server keeps its Raft log, snapshots and id.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The port servers and tools reach this server on.
    #[arg(long, value_name = "PORT", default_value_t = DEFAULT_RPC_PORT)]
    rpc_port: u16,
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
    /// Log level: trace, debug, info, warn or error.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log_level: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(args::normalize(std::env::args_os()));
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

/// A client-only agent's arguments.
fn client_args(cli: Cli) -> Result<(bins::agent::client::ClientAgentArgs, &'static str), String> {
    let log_level = log_level(&cli.log_level)?;
    let Some(data_dir) = cli.data_dir else {
        return Err("-client needs -data-dir DIR".to_owned());
    };
    if cli.servers.is_empty() {
        return Err("-client needs -servers HOST:PORT[,HOST:PORT...]".to_owned());
    }
    Ok((
        bins::agent::client::ClientAgentArgs {
            data_dir,
            servers: cli.servers.iter().map(|s| with_port(s)).collect(),
            node_name: String::new(),
            datacenter: cli.datacenter,
            node_class: cli.node_class,
            node_pool: String::new(),
            meta: Default::default(),
            network_interface: None,
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
    let client = cli.client.then(|| bins::agent::client::ClientAgentArgs {
        data_dir: data_dir.join("client"),
        servers: vec![std::net::SocketAddr::from((cli.bind, cli.rpc_port)).to_string()],
        node_name: String::new(),
        datacenter: cli.datacenter.clone(),
        node_class: cli.node_class.clone(),
        node_pool: String::new(),
        meta: Default::default(),
        // Nomad's -dev also puts its node on the loopback interface.
        network_interface: cli.dev.then(|| "lo".to_owned()),
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
    Ok(server::ServerArgs {
        data_dir,
        bind: (cli.bind, cli.rpc_port).into(),
        bootstrap_expect: cli.bootstrap_expect,
        retry_join,
        num_schedulers: cli.num_schedulers,
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
        assert_eq!(args.servers, ["10.0.0.1:4647", "10.0.0.2:5000"]);
        let err = client_args(cli(&["schedd", "-client", "-data-dir", "/tmp/c"])).unwrap_err();
        assert!(err.contains("-servers"), "{err}");
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
