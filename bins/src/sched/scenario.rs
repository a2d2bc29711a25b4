//! `sched simulate --scenario FILE`: play a scenario file (a cluster and
//! ordered steps) in virtual time and print what happened at each step.

use std::path::Path;
use std::process::ExitCode;

use scheduler_core::simulate::scenario::parse_scenario;
use scheduler_core::simulate::world::run_scenario;

use crate::job::{VariableArgs, load, print_diagnostics};

/// Virtual time at which every scenario starts (2026-01-01T00:00:00Z), so
/// the output never depends on the wall clock.
const START: i64 = 1_767_225_600_000_000_000;

/// Runs the scenario at `path`. Exit 0 when it played through, 1 when the
/// file or a step is in error.
pub fn run(path: &Path, seed: u64, json: bool, variables: &VariableArgs) -> ExitCode {
    let name = path.display().to_string();
    let source = match crate::disk_files::read_or_report(path, "scenario file") {
        Ok(source) => source,
        Err(code) => return code,
    };
    let scenario = match parse_scenario(&source, &name) {
        Ok(scenario) => scenario,
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            return ExitCode::FAILURE;
        }
    };
    // Job paths are relative to the scenario file.
    let base = path.parent().unwrap_or(Path::new("."));
    let mut loader = |job_path: &str| {
        let file = base.join(job_path);
        match load(variables, &file) {
            Ok(parsed) => {
                print_diagnostics(&scheduler_core::jobspec::Diagnostics(parsed.warnings));
                Ok(parsed.job)
            }
            Err(diagnostics) => Err(diagnostics
                .0
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")),
        }
    };
    let report = match run_scenario(&scenario, seed, START, &mut loader) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{name}:{}: error: step {:?}: {}", e.line, e.step, e.message);
            return ExitCode::FAILURE;
        }
    };
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(e) => {
                eprintln!("error: cannot encode the report: {e}");
                return ExitCode::FAILURE;
            }
        }
    } else {
        print!("{}", report.render_table());
    }
    ExitCode::SUCCESS
}
