//! `sched`, the command-line interface: a thin layer that turns flags into
//! calls on the library crates and prints what they return.

#[path = "../args.rs"]
mod args;
mod disk_files;
mod job;
mod scenario;
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
    after_help = "Examples:\n  sched job validate examples/jobs/*.nomad.hcl\n  sched job validate -var version=v2.0.0 myapp.nomad.hcl\n  sched job inspect redis.nomad.hcl > redis.json\n  sched simulate --cluster examples/clusters/racks.hcl --job examples/jobs/redis.nomad.hcl\n\nFlags take one dash or two: -var and --var are the same."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Work with job specs: validate, inspect.
    #[command(subcommand)]
    Job(job::JobCommand),
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
        Command::Simulate(args) => simulate::run(args),
    }
}
