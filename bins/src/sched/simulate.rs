//! `sched simulate`: register jobs against a cluster file offline and show
//! where everything would go, with no server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use scheduler_core::jobspec::{self, Diagnostics};
use scheduler_core::scheduler::why_not;
use scheduler_core::simulate::cluster::parse_cluster;
use scheduler_core::simulate::{Simulation, SimulationReport};
use scheduler_core::state::StateSnapshot;
use serde::Serialize;

use crate::disk_files::parse_file_or_report;
use crate::job::{VariableArgs, load, print_diagnostics};

/// Flags of `sched simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The cluster: `node` blocks in HCL, or a JSON list of nodes as
    /// Nomad's API returns them (`.json`).
    #[arg(long, value_name = "FILE", required_unless_present = "scenario")]
    cluster: Option<PathBuf>,
    /// A job file to register; repeat to register several, in order (each
    /// sees the placements of the ones before).
    #[arg(
        long = "job",
        required_unless_present = "scenario",
        value_name = "FILE"
    )]
    jobs: Vec<PathBuf>,
    /// A scenario: a `cluster` block and ordered `step` blocks (register,
    /// healthy, fail, node_down, drain, advance, plan, ...) played in
    /// virtual time. Excludes `--cluster`, `--job` and `--why-not`.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["cluster", "jobs", "why_not"])]
    pub scenario: Option<PathBuf>,
    /// Seed of every random choice: the same seed gives the same
    /// placements.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Print `{"Allocations": [...], "FailedTGAllocs": {...}, "Nodes": [...]}`
    /// instead of tables.
    #[arg(long)]
    json: bool,
    /// Also say, for every group of every job, why it can or cannot run on
    /// this node (by name): every reason, not just the first.
    #[arg(long = "why-not", value_name = "NODE")]
    why_not: Option<String>,
    #[command(flatten)]
    variables: VariableArgs,
}

/// Prints what a simulation or a scenario did: its report as JSON with
/// `--json`, else its `table`. A report that cannot be encoded is an
/// error, whose exit code is the `Err`.
pub fn print_report(
    report: &impl Serialize,
    json: bool,
    table: impl FnOnce() -> String,
) -> Result<(), ExitCode> {
    if !json {
        print!("{}", table());
        return Ok(());
    }
    match serde_json::to_string_pretty(report) {
        Ok(text) => {
            println!("{text}");
            Ok(())
        }
        Err(e) => {
            eprintln!("error: cannot encode the report: {e}");
            Err(ExitCode::FAILURE)
        }
    }
}

/// Runs the simulation. Exits 0 when every allocation was placed, 2 when
/// some could not be, 1 on bad input.
pub fn run(args: SimulateArgs) -> ExitCode {
    if let Some(scenario) = &args.scenario {
        return crate::scenario::run(scenario, args.seed, args.json, &args.variables);
    }
    let Some(cluster) = &args.cluster else {
        eprintln!("error: --cluster is required without --scenario");
        return ExitCode::FAILURE;
    };
    let name = cluster.display().to_string();
    let cluster = match parse_file_or_report(cluster, "cluster file", parse_cluster) {
        Ok(cluster) => cluster,
        Err(code) => return code,
    };
    let mut jobs = Vec::new();
    let mut problems = Diagnostics(Vec::new());
    for file in &args.jobs {
        match load(&args.variables, file) {
            Ok(parsed) => {
                print_diagnostics(&Diagnostics(parsed.warnings));
                jobs.push(parsed.job);
            }
            Err(diagnostics) => problems.0.extend(diagnostics.0),
        }
    }
    if problems
        .0
        .iter()
        .any(|d| d.severity == jobspec::Severity::Error)
    {
        print_diagnostics(&problems);
        return ExitCode::FAILURE;
    }

    let mut simulation = match Simulation::new(cluster.nodes, args.seed, 0) {
        Ok(simulation) => simulation,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for job in &jobs {
        if let Err(e) = simulation.register(job.clone()) {
            eprintln!("error: job {:?}: {e}", job.id.as_str());
            return ExitCode::FAILURE;
        }
    }
    let report = SimulationReport::of(&simulation);
    if let Err(code) = print_report(&report, args.json, || report.render_table()) {
        return code;
    }
    if let Some(node_name) = &args.why_not {
        let state = simulation.state().view();
        let Some(node) = state.nodes().find(|n| &n.name == node_name) else {
            eprintln!("error: --why-not: no node named {node_name:?} in {name}");
            return ExitCode::FAILURE;
        };
        println!("\nWhy (not) {node_name}");
        for job in &jobs {
            for group in &job.task_groups {
                match why_not(state, job, &group.name, &node.id) {
                    Ok(verdict) if verdict.placeable => println!(
                        "  {}/{}: fits, score {:.3}",
                        job.id.as_str(),
                        group.name,
                        verdict.score.unwrap_or_default()
                    ),
                    Ok(verdict) => {
                        println!("  {}/{}: does not fit", job.id.as_str(), group.name);
                        for reason in verdict.reasons {
                            println!("    - {reason}");
                        }
                    }
                    Err(e) => println!("  {}/{}: {e}", job.id.as_str(), group.name),
                }
            }
        }
    }
    if report.failed_tg_allocs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
