//! The front end cluster and scenario files share with job files: syntax
//! with spans, a seeded evaluator that reads no files, then `variable`
//! defaults and `locals`.

use crate::jobspec::eval::{EvalError, Evaluator, Scope};
use crate::jobspec::variables::InputProblem;
use crate::jobspec::{Diagnostic, VariableInputs};
use std::ops::Range;

pub(crate) use crate::jobspec::front::{evaluator, seeded_rng, syntax};

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
