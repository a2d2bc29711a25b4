//! `sched simulate --scenario FILE`: play a scenario file (a cluster and
//! ordered steps) in virtual time and print what happened at each step.

use std::path::Path;
use std::process::ExitCode;

use scheduler_core::simulate::scenario::parse_scenario;
use scheduler_core::simulate::world::run_scenario;

use crate::disk_files::parse_file_or_report;
use crate::job::{VariableArgs, load_job};
use crate::simulate::print_report;

/// Virtual time at which every scenario starts (2026-01-01T00:00:00Z), so
/// the output never depends on the wall clock.
const START: i64 = 1_767_225_600_000_000_000;

/// Runs the scenario at `path`. Exit 0 when it played through, 1 when the
/// file or a step is in error.
pub fn run(path: &Path, seed: u64, json: bool, variables: &VariableArgs) -> ExitCode {
    let name = path.display().to_string();
    let scenario = match parse_file_or_report(path, "scenario file", parse_scenario) {
        Ok(scenario) => scenario,
        Err(code) => return code,
    };
    // Job paths are relative to the scenario file.
    let base = path.parent().unwrap_or(Path::new("."));
    let mut loader = |job_path: &str| load_job(variables, &base.join(job_path));
    let report = match run_scenario(&scenario, seed, START, &mut loader) {
        Ok(report) => report,
        Err(e) => {
            eprintln!("{name}:{}: error: step {:?}: {}", e.line, e.step, e.message);
            return ExitCode::FAILURE;
        }
    };
    match print_report(&report, json, || report.render_table()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
