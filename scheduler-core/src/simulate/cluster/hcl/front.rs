//! The front end cluster and scenario files share with job files: syntax
//! with spans, a seeded evaluator that reads no files, then `variable`
//! defaults and `locals`.

use crate::jobspec::eval::{EvalError, Evaluator, Scope};
use crate::jobspec::functions::FunctionContext;
use crate::jobspec::variables::InputProblem;
use crate::jobspec::{Diagnostic, Diagnostics, NoFiles, Position, Severity, VariableInputs};
use rand::SeedableRng;
use std::cell::RefCell;
use std::ops::Range;

/// The front end cluster and scenario files share with job files: the
/// syntax with spans, or one located syntax error.
pub(crate) fn syntax(
    source: &str,
    file_name: &str,
) -> Result<hcl::edit::structure::Body, Diagnostics> {
    hcl::edit::parser::parse_body(source).map_err(|e| {
        let location = e.location();
        Diagnostics(vec![Diagnostic {
            severity: Severity::Error,
            file: file_name.to_owned(),
            position: Position {
                line: location.line(),
                column: location.column(),
            },
            path: None,
            message: format!("invalid HCL syntax: {}", e.message()),
        }])
    })
}

/// Functions that draw randomness (`uuidv4`) get a fixed seed: the same
/// file always gives the same result.
pub(crate) fn seeded_rng() -> RefCell<rand_chacha::ChaCha8Rng> {
    RefCell::new(rand_chacha::ChaCha8Rng::seed_from_u64(0))
}

/// An evaluator for a file that reads no other files.
pub(crate) fn evaluator<'a>(
    source: &'a str,
    rng: &'a RefCell<rand_chacha::ChaCha8Rng>,
) -> Evaluator<'a> {
    Evaluator {
        source,
        functions: FunctionContext {
            files: &NoFiles,
            base_dir: "",
            rng,
        },
    }
}

/// Variables with their defaults (these files take no inputs), then
/// `locals`: the scope blocks are evaluated in, and the evaluation errors
/// so far. Problems with variable declarations go to `diagnostics`.
pub(crate) fn globals(
    evaluator: &Evaluator<'_>,
    syntax: &hcl::edit::structure::Body,
    located: &dyn Fn(Range<usize>, Option<String>, String) -> Diagnostic,
    diagnostics: &mut Vec<Diagnostic>,
) -> (Scope, Vec<EvalError>) {
    let mut input_problems = Vec::new();
    let mut declarations = evaluator.declarations(syntax, &mut input_problems);
    let variables = evaluator.resolve_variables(
        &mut declarations,
        &VariableInputs::default(),
        &mut input_problems,
    );
    for problem in input_problems {
        match problem {
            InputProblem::InJob(e) | InputProblem::InVarFile(_, e) => {
                diagnostics.push(located(e.span, None, e.message));
            }
            InputProblem::InArgument(message) => diagnostics.push(located(0..0, None, message)),
        }
    }
    let mut scope = Scope {
        variables,
        ..Scope::default()
    };
    let mut eval_errors: Vec<EvalError> = Vec::new();
    evaluator.resolve_locals(syntax, &mut scope, &mut eval_errors);
    (scope, eval_errors)
}
