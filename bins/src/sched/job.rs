//! `sched job ...`: commands on job specs, offline (`validate`, `inspect`)
//! and against an agent (`run`, `plan`, `status`, `stop`, `history`,
//! `revert`, `dispatch`).

use crate::api_client::run_command;
use crate::disk_files::DiskFiles;
use crate::{job_status, remote_job};
use clap::{Args, Subcommand};
use scheduler_core::jobspec::{self, Diagnostics, ParseOptions, ParsedJob, VariableInputs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Commands on job specs and registered jobs.
#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Check job files for errors without submitting them.
    ///
    /// Every problem in every file is printed to stderr as
    /// `FILE:LINE:COL: error: MESSAGE` (warnings as `warning:`). Exits 0 when
    /// every file is valid, 1 otherwise.
    Validate {
        #[command(flatten)]
        variables: VariableArgs,
        /// Job files to check (HCL, or JSON with a `.json` extension).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print a job file as the canonical job in Nomad API JSON (`{"Job": {...}}`).
    ///
    /// Defaults are applied as the servers would, so the output shows exactly
    /// what would be registered.
    Inspect {
        #[command(flatten)]
        variables: VariableArgs,
        /// The job file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Submit a job file to the cluster, then follow its evaluation and
    /// deployment until the rollout ends.
    ///
    /// Exits 0 when everything was placed (and the deployment succeeded),
    /// 2 when placements or the deployment failed, 1 on errors.
    Run(remote_job::RunArgs),
    /// Show what submitting a job file would change, without changing it.
    ///
    /// Exits 0 when no allocation would change, 1 when some would, 255 on
    /// errors.
    Plan(remote_job::PlanArgs),
    /// List jobs, or show one with its groups, deployment and allocations.
    Status(job_status::StatusArgs),
    /// Stop a job (and with -purge, forget it).
    Stop(remote_job::StopArgs),
    /// List a job's versions.
    History(job_status::HistoryArgs),
    /// Go back to an earlier version of a job.
    Revert(remote_job::RevertArgs),
    /// Start an instance of a parameterized job.
    Dispatch(remote_job::DispatchArgs),
}

/// Input variables for HCL2 job files.
#[derive(Debug, Args)]
pub struct VariableArgs {
    /// Set a variable declared in the job file: `-var name=value`. Repeatable;
    /// later values win. List and map values are written in HCL syntax:
    /// `-var 'dcs=["dc1","dc2"]'`.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
    /// Read variable values from a file of `name = value` lines (or a JSON
    /// object for `.json` files). Repeatable; `-var` wins over files, files
    /// over `NOMAD_VAR_<name>` environment variables, and those over defaults.
    #[arg(long = "var-file", value_name = "FILE")]
    var_files: Vec<PathBuf>,
}

/// Runs a job command and returns the process exit code.
pub fn run(command: JobCommand) -> ExitCode {
    match command {
        JobCommand::Validate { variables, files } => validate(&variables, &files),
        JobCommand::Inspect { variables, file } => inspect(&variables, &file),
        JobCommand::Run(args) => run_command(remote_job::run(args)),
        JobCommand::Plan(args) => run_command(remote_job::plan(args)),
        JobCommand::Status(args) => run_command(job_status::status(args)),
        JobCommand::Stop(args) => run_command(remote_job::stop(args)),
        JobCommand::History(args) => run_command(job_status::history(args)),
        JobCommand::Revert(args) => run_command(remote_job::revert(args)),
        JobCommand::Dispatch(args) => run_command(remote_job::dispatch(args)),
    }
}

fn validate(variables: &VariableArgs, files: &[PathBuf]) -> ExitCode {
    let mut all_valid = true;
    for file in files {
        match load(variables, file) {
            Ok(parsed) => {
                print_diagnostics(&Diagnostics(parsed.warnings));
                println!(
                    "{}: job {:?} is valid",
                    file.display(),
                    parsed.job.id.as_str()
                );
            }
            Err(diagnostics) => {
                all_valid = false;
                print_diagnostics(&diagnostics);
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn inspect(variables: &VariableArgs, file: &Path) -> ExitCode {
    match load(variables, file) {
        Ok(parsed) => {
            print_diagnostics(&Diagnostics(parsed.warnings));
            let wrapper = scheduler_core::model::JobWrapper { job: parsed.job };
            match serde_json::to_string_pretty(&wrapper) {
                Ok(json) => {
                    println!("{json}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!(
                        "{}: error: cannot encode the job as JSON: {e}",
                        file.display()
                    );
                    ExitCode::FAILURE
                }
            }
        }
        Err(diagnostics) => {
            print_diagnostics(&diagnostics);
            ExitCode::FAILURE
        }
    }
}

pub fn print_diagnostics(diagnostics: &Diagnostics) {
    for diagnostic in &diagnostics.0 {
        eprintln!("{diagnostic}");
    }
}

/// Reads and parses one job file with the variables given on the command line.
pub fn load(variables: &VariableArgs, file: &Path) -> Result<ParsedJob, Diagnostics> {
    let name = file.display().to_string();
    let fail = |message: String| {
        Diagnostics(vec![jobspec::Diagnostic {
            severity: jobspec::Severity::Error,
            file: name.clone(),
            position: jobspec::Position { line: 1, column: 1 },
            path: None,
            message,
        }])
    };
    let source = std::fs::read_to_string(file)
        .map_err(|e| fail(format!("cannot read the job file: {e}")))?;
    let mut inputs = VariableInputs {
        env: std::env::vars()
            .filter(|(k, _)| k.starts_with("NOMAD_VAR_"))
            .collect(),
        ..VariableInputs::default()
    };
    for var in &variables.vars {
        let Some((key, value)) = var.split_once('=') else {
            return Err(fail(format!("-var {var:?} must have the form NAME=VALUE")));
        };
        inputs.vars.push((key.trim().to_owned(), value.to_owned()));
    }
    for var_file in &variables.var_files {
        let contents = std::fs::read_to_string(var_file).map_err(|e| {
            fail(format!(
                "cannot read the variable file {}: {e}",
                var_file.display()
            ))
        })?;
        inputs
            .var_files
            .push((var_file.display().to_string(), contents));
    }
    let base_dir = file.parent().map(Path::to_path_buf).unwrap_or_default();
    let files = DiskFiles::new(&base_dir);
    if file.extension().is_some_and(|e| e == "json") {
        return scheduler_core::jobspec::parse_json(&source, &name);
    }
    let options = ParseOptions {
        file_name: name.clone(),
        inputs,
        files: &files,
        base_dir: String::new(),
        seed: 0,
        validation: jobspec::Validation::Full,
    };
    jobspec::parse(&source, &options)
}
