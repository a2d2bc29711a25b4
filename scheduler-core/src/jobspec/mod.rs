//! HCL job specs: from the text of a job file to a canonical, validated [`Job`].
//!
//! The pipeline, one step per module:
//! 1. syntax: hcl-rs parses the text with byte spans (`hcl::edit`);
//! 2. [`variables`]: `variable` blocks get their values (default, `NOMAD_VAR_`
//!    environment, `-var-file`, `-var`), then `locals` are evaluated;
//! 3. [`eval`] and [`body`]: the `job` block is evaluated (functions from
//!    [`functions`], `dynamic` blocks expanded, runtime references such as
//!    `${attr.kernel.name}` kept as literal interpolations for the client);
//! 4. [`decode`]: the evaluated blocks become the model, with every unknown
//!    key, wrong type and bad duration reported where it is written;
//! 5. the job is canonicalised ([`Job::canonicalize`]) and validated
//!    ([`crate::model::validate`]); problems found on the model are mapped back
//!    to file, line and column through the spans recorded in step 4.
//!
//! Every problem is collected; parsing never stops at the first one.
//!
//! ```
//! use scheduler_core::jobspec::{parse, ParseOptions};
//!
//! let source = r#"
//! job "web" {
//!   datacenters = ["dc1"]
//!   group "api" {
//!     count = 3
//!     task "server" {
//!       driver = "docker"
//!       config { image = "nginx:1.27" }
//!     }
//!   }
//! }
//! "#;
//! let parsed = parse(source, &ParseOptions::new("web.nomad.hcl")).expect("valid job");
//! assert_eq!(parsed.job.task_groups[0].count(), 3);
//! assert_eq!(parsed.job.priority(), 50); // defaults are applied
//! ```

pub mod body;
pub mod config_file;
pub mod decode;
pub mod diagnostic;
pub mod eval;
pub mod files;
pub(crate) mod front;
pub mod functions;
pub mod json;
mod operators;
pub mod print;
pub mod types;
pub mod value;
pub mod variables;

pub use diagnostic::{Diagnostic, Diagnostics, Position, Severity, SourceMap};
pub use files::{FileSource, MemoryFiles, NoFiles};
pub use json::parse_json;
pub use value::Value;
pub use variables::VariableInputs;

use crate::model::{FieldPath, Job};
use eval::{EvalError, Evaluator, Scope};
use hcl::edit::Span;
use hcl::edit::structure::Structure;
use rand::SeedableRng;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::ops::Range;
use variables::InputProblem;

/// How to read one job file.
#[derive(Clone)]
pub struct ParseOptions<'a> {
    /// The file's name as the user gave it; used in every diagnostic.
    pub file_name: String,
    /// Variable values from outside the file.
    pub inputs: VariableInputs,
    /// Where `file()`, `fileexists()` and `fileset()` read from.
    pub files: &'a dyn FileSource,
    /// The directory relative paths in the file are resolved against.
    pub base_dir: String,
    /// Seed for `uuidv4()`; the same seed gives the same job.
    pub seed: u64,
    /// Whether the job must also pass Nomad's job validation (what the
    /// servers check at registration), or only be well-formed.
    pub validation: Validation,
}

/// How much checking [`parse`] does beyond reading the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Validation {
    /// Everything the servers check at registration: a job with no group, a
    /// task with no driver, a port label used twice... are errors. What
    /// `sched job validate` does.
    #[default]
    Full,
    /// Only what the job-spec parser itself checks: syntax, variables, known
    /// keys, types and durations. For tools that handle fragments of jobs
    /// (Nomad's parser accepts those too).
    ParseOnly,
}

impl std::fmt::Debug for ParseOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParseOptions")
            .field("file_name", &self.file_name)
            .field("inputs", &self.inputs)
            .field("base_dir", &self.base_dir)
            .field("seed", &self.seed)
            .field("validation", &self.validation)
            .finish_non_exhaustive()
    }
}

impl ParseOptions<'static> {
    /// Options for a file with no variables from outside and no file access.
    pub fn new(file_name: impl Into<String>) -> Self {
        ParseOptions {
            file_name: file_name.into(),
            inputs: VariableInputs::default(),
            files: &NoFiles,
            base_dir: String::new(),
            seed: 0,
            validation: Validation::Full,
        }
    }
}

/// A job read from a file, with the warnings found on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedJob {
    /// The canonical job (defaults applied).
    pub job: Job,
    /// Problems that do not reject the job (parts kept but not acted on, deprecated forms).
    pub warnings: Vec<Diagnostic>,
}

/// Parses, canonicalises and validates a job file. On failure, returns every
/// problem found (errors and warnings), sorted by position.
pub fn parse(source: &str, options: &ParseOptions<'_>) -> Result<ParsedJob, Diagnostics> {
    let map = SourceMap::new(source);
    let mut diagnostics = Vec::new();
    let located = |span: Range<usize>,
                   path: Option<String>,
                   message: String,
                   severity: Severity| Diagnostic {
        severity,
        file: options.file_name.clone(),
        position: map.position(span.start),
        path,
        message,
    };

    let syntax = front::syntax(source, &options.file_name)?;

    let rng = RefCell::new(rand_chacha::ChaCha8Rng::seed_from_u64(options.seed));
    let evaluator = Evaluator {
        source,
        functions: functions::FunctionContext {
            files: options.files,
            base_dir: &options.base_dir,
            rng: &rng,
        },
    };

    // Variables and locals.
    let mut input_problems = Vec::new();
    let mut declarations = evaluator.declarations(&syntax, &mut input_problems);
    let variables =
        evaluator.resolve_variables(&mut declarations, &options.inputs, &mut input_problems);
    for problem in input_problems {
        diagnostics.push(match problem {
            InputProblem::InJob(e) => located(e.span, None, e.message, Severity::Error),
            InputProblem::InVarFile(index, e) => {
                let (name, text) = &options.inputs.var_files[index];
                Diagnostic {
                    severity: Severity::Error,
                    file: name.clone(),
                    position: SourceMap::new(text).position(e.span.start),
                    path: None,
                    message: e.message,
                }
            }
            InputProblem::InArgument(message) => Diagnostic {
                severity: Severity::Error,
                file: options.file_name.clone(),
                position: Position { line: 1, column: 1 },
                path: None,
                message,
            },
        });
    }
    let mut scope = Scope {
        variables,
        ..Scope::default()
    };
    let mut eval_errors: Vec<EvalError> = Vec::new();
    evaluator.resolve_locals(&syntax, &mut scope, &mut eval_errors);

    // The job block.
    let mut job_blocks = Vec::new();
    for structure in syntax.iter() {
        match structure {
            Structure::Block(block) => match block.ident.value().as_str() {
                "job" => job_blocks.push(block),
                "variable" | "variables" | "locals" => {}
                other => diagnostics.push(located(
                    block.ident.span().unwrap_or(0..0),
                    None,
                    format!("unsupported top-level block \"{other}\"; a job file holds one job block plus variable, variables and locals blocks"),
                    Severity::Error,
                )),
            },
            Structure::Attribute(attribute) => diagnostics.push(located(
                attribute.key.span().unwrap_or(0..0),
                None,
                format!(
                    "unexpected top-level argument \"{}\"; arguments belong inside the job block",
                    attribute.key.value()
                ),
                Severity::Error,
            )),
        }
    }
    let job_block = match job_blocks.as_slice() {
        [block] => *block,
        [] => {
            diagnostics.push(located(
                0..0,
                None,
                "no job block found: a job file needs `job \"NAME\" { ... }`".into(),
                Severity::Error,
            ));
            return Err(finish(diagnostics));
        }
        [first, rest @ ..] => {
            for extra in rest {
                diagnostics.push(located(
                    extra.ident.span().unwrap_or(0..0),
                    None,
                    "only one job block is allowed per file".into(),
                    Severity::Error,
                ));
            }
            first
        }
    };
    let evaluated = body::Block {
        kind: "job".into(),
        labels: job_block
            .labels
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect(),
        body: evaluator.eval_body(&job_block.body, &mut scope, &mut eval_errors),
        span: job_block.ident.span().unwrap_or(0..0),
    };
    for e in eval_errors {
        diagnostics.push(located(e.span, None, e.message, Severity::Error));
    }

    // Decode, canonicalise, validate.
    let (mut job, problems, spans) = decode::decode_job(&evaluated);
    let mut decoded_error_paths = Vec::new();
    for problem in problems {
        let severity = Severity::from_warning(problem.warning);
        if !problem.warning {
            decoded_error_paths.push(problem.path.clone());
        }
        let path = (!problem.path.is_empty()).then_some(problem.path);
        diagnostics.push(located(problem.span, path, problem.message, severity));
    }
    job.canonicalize();
    let problems = match options.validation {
        Validation::Full => crate::model::validate::validate_job(&job),
        Validation::ParseOnly => Vec::new(),
    };
    for problem in problems {
        let hcl_path = problem.path.to_hcl();
        // A value the decoder already rejected is not reported again.
        if decoded_error_paths.contains(&hcl_path) {
            continue;
        }
        let span = span_for(&problem.path, &spans).unwrap_or_else(|| evaluated.span.clone());
        let severity = Severity::from_warning(problem.warning);
        diagnostics.push(located(span, Some(hcl_path), problem.message, severity));
    }

    ParsedJob::from_diagnostics(job, finish(diagnostics))
}

impl ParsedJob {
    /// The job with its warnings, or every diagnostic when any is an error.
    fn from_diagnostics(job: Job, diagnostics: Diagnostics) -> Result<ParsedJob, Diagnostics> {
        if diagnostics.has_errors() {
            Err(diagnostics)
        } else {
            Ok(ParsedJob {
                job,
                warnings: diagnostics.0,
            })
        }
    }
}

fn finish(diagnostics: Vec<Diagnostic>) -> Diagnostics {
    let mut diagnostics = Diagnostics(diagnostics);
    diagnostics.sort();
    diagnostics
}

/// The span recorded for the nearest ancestor of `path` (itself included).
fn span_for(path: &FieldPath, spans: &BTreeMap<String, Range<usize>>) -> Option<Range<usize>> {
    path.hcl_prefixes()
        .iter()
        .find_map(|p| spans.get(p).cloned())
}
