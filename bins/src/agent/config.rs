//! The agent's configuration files, with Nomad's agent keys so an
//! operator's configuration carries over: `data_dir`, `bind_addr`, `name`,
//! `datacenter`, `region`, `log_level`, `ports { http rpc serf }`,
//! `server { enabled bootstrap_expect num_schedulers raft_multiplier
//! server_join { retry_join } }`,
//! `client { enabled servers node_class node_pool meta options
//! reserved { cpu memory disk reserved_ports }
//! drain_on_shutdown { deadline force ignore_system_jobs } }` and
//! `plugin "NAME" { config { ... } }`.
//!
//! Several files (or a directory's `*.hcl`, in name order) merge as
//! Nomad's do: a later file's settings win, lists add up, maps merge.
//! Every problem names its file, line and column.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scheduler_core::jobspec::Diagnostics;
use scheduler_core::jobspec::config_file::parse_config_file;
use scheduler_core::jobspec::decode::reader::{BlockReader, Decoder};
use scheduler_core::jobspec::diagnostic::Severity;
use scheduler_core::model::api::DrainSpec;
use scheduler_core::model::{Duration, FieldPath};
use scheduler_raft::server::RaftTuning;

/// `ports { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ports {
    /// The HTTP API's port (4646).
    pub http: Option<u16>,
    /// The servers' RPC port (4647).
    pub rpc: Option<u16>,
    /// Nomad's gossip port (4648); accepted, unused here.
    pub serf: Option<u16>,
}

/// `server { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerBlock {
    /// Run a server.
    pub enabled: Option<bool>,
    /// Servers to wait for before forming a cluster.
    pub bootstrap_expect: Option<usize>,
    /// `server_join { retry_join = [...] }`.
    pub retry_join: Vec<String>,
    /// Scheduler workers while leading (at least one).
    pub num_schedulers: Option<usize>,
    /// Stretches the Raft timings (1-10; see
    /// `scheduler_raft::server::RaftTuning::scaled`).
    pub raft_multiplier: Option<u32>,
}

/// `client { reserved { ... } }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reserved {
    /// MHz kept from tasks.
    pub cpu: Option<i64>,
    /// MiB kept from tasks.
    pub memory: Option<i64>,
    /// MiB of disk kept from tasks.
    pub disk: Option<i64>,
    /// Ports kept from tasks (`"22,80,8000-8100"`).
    pub reserved_ports: Option<String>,
}

/// `client { drain_on_shutdown { ... } }`: on SIGINT or SIGTERM the
/// client drains its own node (its allocations migrate to other nodes) and
/// waits for that before it stops, instead of leaving its tasks running.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DrainOnShutdown {
    /// How long allocations may take to migrate before the servers stop
    /// them ([`DrainOnShutdown::DEFAULT_DEADLINE`] when unset).
    pub deadline: Option<Duration>,
    /// Stop every allocation at once, ignoring the deadline.
    pub force: Option<bool>,
    /// Leave system jobs' allocations running.
    pub ignore_system_jobs: Option<bool>,
}

impl DrainOnShutdown {
    /// Nomad's default deadline: one hour.
    pub const DEFAULT_DEADLINE: Duration = Duration::from_hours(1);

    /// The deadline in effect: as set, else the default; zero when
    /// `force` (allocations are stopped at once).
    pub fn deadline(&self) -> Duration {
        if self.force == Some(true) {
            Duration::ZERO
        } else {
            self.deadline.unwrap_or(Self::DEFAULT_DEADLINE)
        }
    }

    /// The drain the servers are asked for: the deadline in nanoseconds,
    /// -1 when `force` (Nomad's "stop now").
    pub fn spec(&self) -> DrainSpec {
        DrainSpec {
            deadline: if self.force == Some(true) {
                -1
            } else {
                self.deadline().as_nanos()
            },
            ignore_system_jobs: self.ignore_system_jobs == Some(true),
        }
    }

    fn merge(self, other: DrainOnShutdown) -> DrainOnShutdown {
        DrainOnShutdown {
            deadline: later(self.deadline, other.deadline),
            force: later(self.force, other.force),
            ignore_system_jobs: later(self.ignore_system_jobs, other.ignore_system_jobs),
        }
    }
}

/// `client { ... }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientBlock {
    /// Run a client.
    pub enabled: Option<bool>,
    /// Servers to register with.
    pub servers: Vec<String>,
    /// The node's class.
    pub node_class: Option<String>,
    /// The node's pool.
    pub node_pool: Option<String>,
    /// The node's meta.
    pub meta: BTreeMap<String, String>,
    /// Client options (`driver.raw_exec.enable`, ...).
    pub options: BTreeMap<String, String>,
    /// Resources kept from tasks.
    pub reserved: Reserved,
    /// Drain the node before stopping (absent: leave the tasks running).
    pub drain_on_shutdown: Option<DrainOnShutdown>,
}

/// A whole agent configuration (one file, or several merged).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// `data_dir`.
    pub data_dir: Option<PathBuf>,
    /// `bind_addr`.
    pub bind_addr: Option<String>,
    /// `name` (the node's name).
    pub name: Option<String>,
    /// `datacenter`.
    pub datacenter: Option<String>,
    /// `region`.
    pub region: Option<String>,
    /// `log_level`.
    pub log_level: Option<String>,
    /// `ports`.
    pub ports: Ports,
    /// `server`.
    pub server: ServerBlock,
    /// `client`.
    pub client: ClientBlock,
    /// `plugin "NAME" { config { ... } }`, as JSON per plugin.
    pub plugins: BTreeMap<String, serde_json::Value>,
}

fn port(reader: &BlockReader<'_>, name: &'static str) -> Option<u16> {
    let value = reader.int(name, name)?;
    match u16::try_from(value) {
        Ok(port) if port > 0 => Some(port),
        _ => {
            reader.error(format!("{name} = {value} is not a port (1-65535)"));
            None
        }
    }
}

/// A whole-number setting within `range`; outside it, `complaint` is
/// reported at the value.
fn int_within(
    reader: &BlockReader<'_>,
    name: &'static str,
    range: std::ops::RangeInclusive<i64>,
    complaint: impl FnOnce(i64) -> String,
) -> Option<i64> {
    let value = reader.int(name, name)?;
    if range.contains(&value) {
        return Some(value);
    }
    if let Some((attribute, path)) = reader.attribute(name, name) {
        reader
            .decoder()
            .error(attribute.value_span.clone(), &path, complaint(value));
    }
    None
}

/// Reads one configuration file.
pub fn parse_agent_config(source: &str, file_name: &str) -> Result<AgentConfig, Diagnostics> {
    let file = parse_config_file(source, file_name)?;
    let decoder = Decoder::default();
    let top = BlockReader::new(&decoder, &file.body, FieldPath::default(), 0..0);
    let mut config = AgentConfig {
        data_dir: top.string("data_dir", "data_dir").map(PathBuf::from),
        bind_addr: top.string("bind_addr", "bind_addr"),
        name: top.string("name", "name"),
        datacenter: top.string("datacenter", "datacenter"),
        region: top.string("region", "region"),
        log_level: top.string("log_level", "log_level"),
        ..AgentConfig::default()
    };
    if let Some(ports) = top.block("ports", "ports") {
        config.ports = Ports {
            http: port(&ports, "http"),
            rpc: port(&ports, "rpc"),
            serf: port(&ports, "serf"),
        };
        ports.finish(&["http", "rpc", "serf"]);
    }
    if let Some(server) = top.block("server", "server") {
        config.server.enabled = server.bool("enabled", "enabled");
        config.server.bootstrap_expect = server
            .int("bootstrap_expect", "bootstrap_expect")
            .and_then(|n| usize::try_from(n).ok());
        if let Some(join) = server.block("server_join", "server_join") {
            config.server.retry_join = join
                .string_list("retry_join", "retry_join")
                .unwrap_or_default();
            // Accepted for compatibility; joining retries forever here.
            let _ = join.value("retry_max", "retry_max");
            let _ = join.value("retry_interval", "retry_interval");
            join.finish(&["retry_join", "retry_max", "retry_interval"]);
        }
        // Nomad's older spelling, directly in the server block.
        if let Some(list) = server.string_list("retry_join", "retry_join") {
            config.server.retry_join.extend(list);
        }
        config.server.num_schedulers =
            int_within(&server, "num_schedulers", 1..=i64::from(u16::MAX), |n| {
                format!("num_schedulers = {n}: a server needs at least one scheduler worker")
            })
            .and_then(|n| usize::try_from(n).ok());
        let most = i64::from(RaftTuning::MAX_MULTIPLIER);
        config.server.raft_multiplier = int_within(&server, "raft_multiplier", 1..=most, |n| {
            format!("raft_multiplier = {n} is out of range (1-{most})")
        })
        .and_then(|n| u32::try_from(n).ok());
        for ignored in ["encrypt", "heartbeat_grace", "raft_protocol"] {
            let _ = server.value(ignored, ignored);
        }
        server.finish(&[
            "enabled",
            "bootstrap_expect",
            "server_join",
            "retry_join",
            "num_schedulers",
            "raft_multiplier",
            "encrypt",
            "heartbeat_grace",
            "raft_protocol",
        ]);
    }
    if let Some(client) = top.block("client", "client") {
        config.client.enabled = client.bool("enabled", "enabled");
        config.client.servers = client.string_list("servers", "servers").unwrap_or_default();
        config.client.node_class = client.string("node_class", "node_class");
        config.client.node_pool = client.string("node_pool", "node_pool");
        config.client.meta = client.string_map("meta", "meta").unwrap_or_default();
        config.client.options = client.string_map("options", "options").unwrap_or_default();
        if let Some(reserved) = client.block("reserved", "reserved") {
            config.client.reserved = Reserved {
                cpu: reserved.int("cpu", "cpu"),
                memory: reserved.int("memory", "memory"),
                disk: reserved.int("disk", "disk"),
                reserved_ports: reserved.string("reserved_ports", "reserved_ports"),
            };
            reserved.finish(&["cpu", "memory", "disk", "reserved_ports"]);
        }
        if let Some(drain) = client.block("drain_on_shutdown", "drain_on_shutdown") {
            let deadline = drain.duration("deadline", "deadline");
            if let Some(value) = deadline.filter(|d| d.as_nanos() <= 0)
                && let Some((attribute, path)) = drain.attribute("deadline", "deadline")
            {
                drain.decoder().error(
                    attribute.value_span.clone(),
                    &path,
                    format!(
                        "deadline = {value}: must be positive (force = true stops allocations at once)"
                    ),
                );
            }
            config.client.drain_on_shutdown = Some(DrainOnShutdown {
                deadline,
                force: drain.bool("force", "force"),
                ignore_system_jobs: drain.bool("ignore_system_jobs", "ignore_system_jobs"),
            });
            drain.finish(&["deadline", "force", "ignore_system_jobs"]);
        }
        if let Some(join) = client.block("server_join", "server_join") {
            config.client.servers.extend(
                join.string_list("retry_join", "retry_join")
                    .unwrap_or_default(),
            );
            join.finish(&["retry_join", "retry_max", "retry_interval"]);
        }
        for ignored in ["network_interface", "cpu_total_compute", "memory_total_mb"] {
            let _ = client.value(ignored, ignored);
        }
        client.finish(&[
            "enabled",
            "servers",
            "node_class",
            "node_pool",
            "meta",
            "options",
            "reserved",
            "drain_on_shutdown",
            "server_join",
            "network_interface",
            "cpu_total_compute",
            "memory_total_mb",
        ]);
    }
    for (plugin, name) in top.blocks("plugin", "plugin", true) {
        let Some(name) = name else { continue };
        let settings = plugin
            .map_value("config", "config")
            .map(|v| v.to_json())
            .unwrap_or(serde_json::Value::Null);
        plugin.finish(&["config"]);
        config.plugins.insert(name, settings);
    }
    // Keys of Nomad's agent configuration this agent accepts and ignores
    // (telemetry, ACLs, TLS, consul, vault, ...) would be silently wrong;
    // they are errors naming the key instead, like any typo.
    top.finish(&[
        "data_dir",
        "bind_addr",
        "name",
        "datacenter",
        "region",
        "log_level",
        "ports",
        "server",
        "client",
        "plugin",
    ]);
    let (problems, _) = decoder.finish();
    let diagnostics: Vec<_> = problems
        .into_iter()
        .map(|p| {
            let path = (!p.path.is_empty()).then_some(p.path);
            let severity = if p.warning {
                Severity::Warning
            } else {
                Severity::Error
            };
            file.diagnostic(p.span, path, p.message, severity)
        })
        .collect();
    if diagnostics.iter().any(|d| d.severity == Severity::Error) {
        return Err(Diagnostics(diagnostics));
    }
    Ok(config)
}

fn later<T>(earlier: Option<T>, later: Option<T>) -> Option<T> {
    later.or(earlier)
}

impl AgentConfig {
    /// This configuration with `other` laid over it: `other`'s settings
    /// win, lists add up, maps merge.
    pub fn merge(self, other: AgentConfig) -> AgentConfig {
        let mut retry_join = self.server.retry_join;
        retry_join.extend(other.server.retry_join);
        let mut servers = self.client.servers;
        servers.extend(other.client.servers);
        let mut meta = self.client.meta;
        meta.extend(other.client.meta);
        let mut options = self.client.options;
        options.extend(other.client.options);
        let mut plugins = self.plugins;
        plugins.extend(other.plugins);
        AgentConfig {
            data_dir: later(self.data_dir, other.data_dir),
            bind_addr: later(self.bind_addr, other.bind_addr),
            name: later(self.name, other.name),
            datacenter: later(self.datacenter, other.datacenter),
            region: later(self.region, other.region),
            log_level: later(self.log_level, other.log_level),
            ports: Ports {
                http: later(self.ports.http, other.ports.http),
                rpc: later(self.ports.rpc, other.ports.rpc),
                serf: later(self.ports.serf, other.ports.serf),
            },
            server: ServerBlock {
                enabled: later(self.server.enabled, other.server.enabled),
                bootstrap_expect: later(
                    self.server.bootstrap_expect,
                    other.server.bootstrap_expect,
                ),
                retry_join,
                num_schedulers: later(self.server.num_schedulers, other.server.num_schedulers),
                raft_multiplier: later(self.server.raft_multiplier, other.server.raft_multiplier),
            },
            client: ClientBlock {
                enabled: later(self.client.enabled, other.client.enabled),
                servers,
                node_class: later(self.client.node_class, other.client.node_class),
                node_pool: later(self.client.node_pool, other.client.node_pool),
                meta,
                options,
                reserved: Reserved {
                    cpu: later(self.client.reserved.cpu, other.client.reserved.cpu),
                    memory: later(self.client.reserved.memory, other.client.reserved.memory),
                    disk: later(self.client.reserved.disk, other.client.reserved.disk),
                    reserved_ports: later(
                        self.client.reserved.reserved_ports,
                        other.client.reserved.reserved_ports,
                    ),
                },
                drain_on_shutdown: match (
                    self.client.drain_on_shutdown,
                    other.client.drain_on_shutdown,
                ) {
                    (Some(earlier), Some(later)) => Some(earlier.merge(later)),
                    (earlier, later) => later.or(earlier),
                },
            },
            plugins,
        }
    }
}

/// Reads `-config` paths in order: files, and directories' `*.hcl` files
/// in name order; merges them. The error lists every problem found.
pub fn load_agent_config(paths: &[PathBuf]) -> Result<AgentConfig, String> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| format!("{}: {e}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "hcl"))
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path.clone());
        }
    }
    let mut merged = AgentConfig::default();
    let mut problems = Vec::new();
    for file in &files {
        let source = read(file)?;
        match parse_agent_config(&source, &file.display().to_string()) {
            Ok(config) => merged = merged.merge(config),
            Err(diagnostics) => problems.push(diagnostics.to_string()),
        }
    }
    if problems.is_empty() {
        Ok(merged)
    } else {
        Err(problems.join("\n"))
    }
}

fn read(path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client_block(body: &str) -> Result<AgentConfig, String> {
        parse_agent_config(&format!("client {{\n{body}\n}}\n"), "agent.hcl")
            .map_err(|d| d.to_string())
    }

    #[test]
    fn drain_on_shutdown_reads_with_nomads_defaults() {
        let config = client_block(
            "  drain_on_shutdown {\n    deadline = \"1m30s\"\n    ignore_system_jobs = true\n  }",
        )
        .expect("valid");
        let drain = config.client.drain_on_shutdown.expect("the block");
        assert_eq!(drain.deadline(), Duration::from_secs(90));
        assert_eq!(
            drain.spec(),
            DrainSpec {
                deadline: 90_000_000_000,
                ignore_system_jobs: true,
            }
        );
        // An empty block: Nomad's one hour; force: stop at once.
        let empty = client_block("  drain_on_shutdown {}")
            .expect("valid")
            .client
            .drain_on_shutdown
            .expect("the block");
        assert_eq!(empty.deadline(), Duration::from_hours(1));
        assert!(!empty.spec().ignore_system_jobs);
        let forced = client_block("  drain_on_shutdown {\n    force = true\n  }")
            .expect("valid")
            .client
            .drain_on_shutdown
            .expect("the block");
        assert_eq!(forced.spec().deadline, -1);
        // No block: nothing drains.
        let none = client_block("  enabled = true").expect("valid");
        assert_eq!(none.client.drain_on_shutdown, None);
    }

    #[test]
    fn drain_on_shutdown_mistakes_name_their_place() {
        let err = client_block("  drain_on_shutdown {\n    deadline = \"soon\"\n  }").unwrap_err();
        assert!(err.contains("agent.hcl:3:16"), "{err}");
        assert!(err.contains("soon"), "{err}");
        let err = client_block("  drain_on_shutdown {\n    deadline = \"0s\"\n  }").unwrap_err();
        assert!(
            err.contains("agent.hcl:3:16") && err.contains("must be positive"),
            "{err}"
        );
        let err = client_block("  drain_on_shutdown {\n    forced = true\n  }").unwrap_err();
        assert!(
            err.contains("agent.hcl:3:5") && err.contains("forced"),
            "{err}"
        );
    }

    fn server_block(body: &str) -> Result<AgentConfig, String> {
        parse_agent_config(&format!("server {{\n{body}\n}}\n"), "agent.hcl")
            .map_err(|d| d.to_string())
    }

    #[test]
    fn server_workers_and_raft_multiplier_are_read_and_checked() {
        let config = server_block("  num_schedulers = 3\n  raft_multiplier = 5").expect("valid");
        assert_eq!(config.server.num_schedulers, Some(3));
        assert_eq!(config.server.raft_multiplier, Some(5));
        let err = server_block("  raft_multiplier = 11").unwrap_err();
        assert!(
            err.contains("agent.hcl:2:21")
                && err.contains("raft_multiplier = 11 is out of range (1-10)"),
            "{err}"
        );
        let err = server_block("  num_schedulers = 0").unwrap_err();
        assert!(
            err.contains("agent.hcl:2:20") && err.contains("at least one scheduler worker"),
            "{err}"
        );
        // A later file's setting wins; an unset one keeps the earlier.
        let merged = config
            .clone()
            .merge(server_block("  raft_multiplier = 2").expect("valid"));
        assert_eq!(merged.server.raft_multiplier, Some(2));
        assert_eq!(merged.server.num_schedulers, Some(3));
    }

    #[test]
    fn drain_on_shutdown_merges_setting_by_setting() {
        let first =
            client_block("  drain_on_shutdown {\n    deadline = \"5m\"\n  }").expect("valid");
        let second = client_block("  drain_on_shutdown {\n    ignore_system_jobs = true\n  }")
            .expect("valid");
        let merged = first.clone().merge(second).client.drain_on_shutdown;
        assert_eq!(
            merged,
            Some(DrainOnShutdown {
                deadline: Some(Duration::from_mins(5)),
                force: None,
                ignore_system_jobs: Some(true),
            })
        );
        let kept = first.merge(AgentConfig::default()).client.drain_on_shutdown;
        assert_eq!(kept.and_then(|d| d.deadline), Some(Duration::from_mins(5)));
    }
}
