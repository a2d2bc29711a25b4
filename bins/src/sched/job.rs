//! `sched job ...`: commands on job specs, offline (`validate`, and
//! `inspect` of a file) and against an agent (`inspect` of a registered job,
//! `run`, `plan`, `status`, `stop`, `history`, `revert`, `dispatch`).

use crate::api_client::{ApiArgs, ApiClient, Context, Failure, Outcome, path_segment, run_command};
use crate::disk_files::DiskFiles;
use crate::output::print_json;
use crate::{job_status, remote_job};
use clap::{Args, Subcommand};
use scheduler_core::jobspec::{self, Diagnostics, ParseOptions, ParsedJob, VariableInputs};
use scheduler_core::model::Job;
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
    /// Print a registered job as Nomad API JSON (`{"Job": {...}}`).
    ///
    /// JOB is a job id, or a unique prefix of one: the job is read from the
    /// agent, at its latest version or at the one -version names.
    ///
    /// When JOB names an existing file, a job file is inspected offline, as a
    /// convenience: it is parsed (with -var and -var-file, which only apply
    /// to files) and defaults are applied as the servers would, so the
    /// output shows exactly what would be registered.
    ///
    /// Nomad's -t (Go template), -hcl and -with-vars are not supported.
    /// Exits 0 on success, 1 on errors (an unknown job or version, a job
    /// file with errors).
    // `-version N` is this command's own flag, so it has no `--version`.
    #[command(disable_version_flag = true)]
    Inspect(InspectArgs),
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

/// Flags of `job inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    api: ApiArgs,
    #[command(flatten)]
    variables: VariableArgs,
    /// Show this version of the job instead of the latest (`job history`
    /// lists them). Registered jobs only.
    // Not named `version`: clap's own `--version` flag has that id.
    #[arg(long = "version", value_name = "N")]
    job_version: Option<u64>,
    /// Print JSON. The output is JSON either way; the flag is accepted as
    /// Nomad's `job inspect` accepts it.
    // Never read: it changes nothing.
    #[allow(dead_code)]
    #[arg(long)]
    json: bool,
    /// The job: its id or a unique id prefix, or the path of a job file.
    #[arg(value_name = "JOB")]
    job: PathBuf,
}

impl VariableArgs {
    fn is_empty(&self) -> bool {
        self.vars.is_empty() && self.var_files.is_empty()
    }
}

/// Runs a job command and returns the process exit code.
pub fn run(command: JobCommand) -> ExitCode {
    match command {
        JobCommand::Validate { variables, files } => validate(&variables, &files),
        JobCommand::Inspect(args) => inspect(args),
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

/// `job inspect`: a job file offline when JOB names one, else the
/// registered job.
fn inspect(args: InspectArgs) -> ExitCode {
    if !args.job.is_file() {
        return run_command(inspect_registered(args));
    }
    if let Some(version) = args.job_version {
        eprintln!(
            "-version {version} applies to registered jobs; {} is a job file",
            args.job.display()
        );
        return ExitCode::FAILURE;
    }
    inspect_file(&args.variables, &args.job)
}

/// `job inspect ID`: the registered job, latest or at `-version`, as
/// `{"Job": ...}` with the agent's JSON as it came.
async fn inspect_registered(args: InspectArgs) -> Outcome {
    let Some(prefix) = args.job.to_str() else {
        return Err(Failure::new(format!(
            "No job file {} exists, and it is not a valid job id",
            args.job.display()
        )));
    };
    if !args.variables.is_empty() {
        return Err(Failure::new(format!(
            "No job file {prefix} exists; -var and -var-file only apply to job files"
        )));
    }
    let client = ApiClient::new(&args.api)?;
    let stub = job_status::find_job(&client, prefix)
        .await
        .map_err(|mut failure| {
            if looks_like_a_path(prefix) {
                failure
                    .message
                    .push_str(&format!("\n(and no job file {prefix} exists)"));
            }
            failure
        })?;
    // The listing says which namespace the job is in (`-namespace '*'`
    // searches them all); read it from there.
    let client = if stub.namespace.is_empty() {
        client
    } else {
        ApiClient::new(&ApiArgs {
            namespace: Some(stub.namespace.clone()),
            ..args.api.clone()
        })?
    };
    let path = format!("/v1/job/{}", path_segment(&stub.id));
    let job = match args.job_version {
        None => client.get_json(&path, &[]).await.context("querying job")?,
        Some(version) => {
            let versions = client
                .get_json(&format!("{path}/versions"), &[])
                .await
                .context("retrieving job versions")?;
            pick_version(versions, &stub.id, version)?
        }
    };
    print_json(&serde_json::json!({ "Job": job }));
    Ok(0)
}

/// Whether a job argument reads like a file path rather than a job id, for
/// the hint when neither exists.
fn looks_like_a_path(text: &str) -> bool {
    text.contains(std::path::MAIN_SEPARATOR)
        || [".hcl", ".nomad", ".json"]
            .iter()
            .any(|extension| text.ends_with(extension))
}

/// The job at `version` in a `GET /v1/job/:id/versions` answer
/// (`{"Versions": [job, ...], "Diffs": ...}`).
fn pick_version(
    answer: serde_json::Value,
    id: &str,
    version: u64,
) -> Result<serde_json::Value, Failure> {
    let versions = match answer {
        serde_json::Value::Object(mut answer) => answer.remove("Versions"),
        _ => None,
    };
    let versions = match versions {
        Some(serde_json::Value::Array(versions)) => versions,
        Some(serde_json::Value::Null) => Vec::new(),
        _ => {
            return Err(Failure::new(
                "Error retrieving job versions: the agent's answer has no Versions list",
            ));
        }
    };
    let mut kept = Vec::new();
    for job in versions {
        match job.get("Version").and_then(serde_json::Value::as_u64) {
            Some(number) if number == version => return Ok(job),
            Some(number) => kept.push(number.to_string()),
            None => {}
        }
    }
    let kept = if kept.is_empty() {
        "none".to_owned()
    } else {
        kept.join(", ")
    };
    Err(Failure::new(format!(
        "Job {id:?} has no version {version} (versions kept: {kept})"
    )))
}

fn inspect_file(variables: &VariableArgs, file: &Path) -> ExitCode {
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

/// The job of a file that commands submit or simulate, parsed as `job
/// validate` parses it: its warnings are printed, its errors (one a line)
/// are the `Err`, for the caller to report as it reports failures.
pub fn load_job(variables: &VariableArgs, file: &Path) -> Result<Job, String> {
    match load(variables, file) {
        Ok(parsed) => {
            print_diagnostics(&Diagnostics(parsed.warnings));
            Ok(parsed.job)
        }
        Err(diagnostics) => {
            let errors: Vec<String> = diagnostics.0.iter().map(ToString::to_string).collect();
            Err(errors.join("\n"))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use serde_json::json;

    #[derive(Debug, Parser)]
    #[command(version, propagate_version = true)]
    struct Cli {
        #[command(subcommand)]
        command: JobCommand,
    }

    #[test]
    fn inspect_takes_nomads_flags_with_one_dash() {
        let line = [
            "sched",
            "inspect",
            "-version",
            "3",
            "-json",
            "-namespace",
            "ns",
            "web",
        ];
        let cli = Cli::try_parse_from(crate::args::normalize(
            line.iter().map(std::ffi::OsString::from),
        ))
        .expect("parses");
        let JobCommand::Inspect(args) = cli.command else {
            panic!("not the inspect command");
        };
        assert_eq!(args.job_version, Some(3));
        assert!(args.json);
        assert_eq!(args.api.namespace.as_deref(), Some("ns"));
        assert_eq!(args.job, PathBuf::from("web"));
    }

    #[test]
    fn a_version_is_picked_from_the_versions_answer() {
        let answer = json!({
            "Versions": [{"ID": "web", "Version": 1}, {"ID": "web", "Version": 0}],
            "Diffs": null,
        });
        let job = pick_version(answer.clone(), "web", 0).expect("version 0");
        assert_eq!(job, json!({"ID": "web", "Version": 0}));
        let missing = pick_version(answer, "web", 7).unwrap_err();
        assert_eq!(
            missing.message,
            "Job \"web\" has no version 7 (versions kept: 1, 0)"
        );
        assert_eq!(missing.code, 1);
        assert!(pick_version(json!({"Versions": null}), "web", 0).is_err());
        assert!(pick_version(json!([]), "web", 0).is_err());
    }
}
