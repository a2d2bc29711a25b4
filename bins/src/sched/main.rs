//! `sched`, the command-line interface: a thin layer that turns flags into
//! calls on the library crates and prints what they return.

mod alloc;
mod alloc_status;
mod api_client;
#[path = "../args.rs"]
mod args;
mod deployment;
mod disk_files;
mod eval;
mod job;
mod job_status;
mod monitor;
mod node;
mod operator;
mod output;
mod remote_job;
mod scenario;
mod service;
mod simulate;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Command-line interface of the scheduler. Commands and flags follow
/// Nomad's `nomad` CLI, so `-var`, `-var-file` and friends work with one dash
/// or two.
#[derive(Debug, Parser)]
#[command(
    name = "sched",
    version,
    propagate_version = true,
    about = "Command-line interface of the sched cluster scheduler (Nomad-compatible job files)",
    after_help = "Examples:\n  sched job validate examples/jobs/*.nomad.hcl\n  sched job validate -var version=v2.0.0 myapp.nomad.hcl\n  sched job inspect redis.nomad.hcl > redis.json\n  sched simulate --cluster examples/clusters/racks.hcl --job examples/jobs/redis.nomad.hcl\n  sched job plan redis.nomad.hcl\n  sched job run -check-index 0 redis.nomad.hcl\n  sched job status redis\n  sched alloc logs -f 0a9b2cfb\n\nCommands that talk to an agent take -address (else $SCHED_ADDR, $NOMAD_ADDR,\nhttp://127.0.0.1:4646) and -namespace; read commands take -json.\nFlags take one dash or two: -var and --var are the same."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with jobs: validate files offline; run, plan, inspect,
    /// status, stop, history, revert and dispatch on a cluster.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// Inspect and act on allocations: status, logs, restart, signal, stop.
    #[command(subcommand)]
    Alloc(alloc::AllocCommand),
    /// Inspect client nodes, drain them, change their eligibility.
    #[command(subcommand)]
    Node(node::NodeCommand),
    /// Inspect evaluations.
    #[command(subcommand)]
    Eval(eval::EvalCommand),
    /// Inspect and steer deployments: status, promote, fail, pause, resume.
    #[command(subcommand)]
    Deployment(deployment::DeploymentCommand),
    /// Cluster operations: Raft peers, snapshots.
    #[command(subcommand)]
    Operator(operator::OperatorCommand),
    /// Inspect the services allocations registered.
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Place jobs on a cluster described in a file, offline, and show where
    /// everything would go and why some could not.
    ///
    /// Exits 0 when every allocation was placed, 2 when some could not be,
    /// 1 on bad input.
    Simulate(simulate::SimulateArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(args::normalize(std::env::args_os()));
    match cli.command {
        Command::Job(command) => job::run(command),
        Command::Alloc(command) => alloc::run(command),
        Command::Node(command) => node::run(command),
        Command::Eval(command) => eval::run(command),
        Command::Deployment(command) => deployment::run(command),
        Command::Operator(command) => operator::run(command),
        Command::Service(command) => service::run(command),
        Command::Simulate(args) => simulate::run(args),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        // Duplicate flag names or ids (such as one clashing with the
        // `--version` flag every subcommand gets) only show at runtime.
        Cli::command().debug_assert();
    }

    #[test]
    fn remote_flags_take_one_dash() {
        let parse = |line: &[&str]| {
            Cli::try_parse_from(args::normalize(line.iter().map(std::ffi::OsString::from)))
        };
        assert!(
            parse(&[
                "sched",
                "job",
                "run",
                "-check-index",
                "3",
                "-detach",
                "-address",
                "http://h:1",
                "-var",
                "a=b",
                "f.hcl"
            ])
            .is_ok()
        );
        assert!(
            parse(&[
                "sched", "alloc", "logs", "-f", "-stderr", "-task", "t", "abc"
            ])
            .is_ok()
        );
        assert!(parse(&["sched", "alloc", "signal", "-s", "SIGHUP", "abc", "web"]).is_ok());
        assert!(
            parse(&[
                "sched",
                "node",
                "drain",
                "-enable",
                "-deadline",
                "5m",
                "-yes",
                "n1"
            ])
            .is_ok()
        );
        assert!(
            parse(&["sched", "node", "drain", "n1"]).is_err(),
            "-enable or -disable"
        );
        assert!(parse(&["sched", "operator", "raft", "remove-peer", "-peer-id", "2"]).is_ok());
        assert!(parse(&["sched", "job", "revert", "web", "2", "-json"]).is_err());
        assert!(parse(&["sched", "job", "status", "-json", "-namespace", "*"]).is_ok());
    }
}
