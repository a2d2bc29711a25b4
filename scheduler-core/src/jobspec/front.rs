//! The first steps every HCL file of the project takes (job files, agent
//! configuration, cluster and scenario files): syntax with spans or one
//! located syntax error, and an evaluator that reads no other files with a
//! fixed seed.

use std::cell::RefCell;

use rand::SeedableRng;

use super::eval::Evaluator;
use super::functions::FunctionContext;
use super::{Diagnostic, Diagnostics, NoFiles, Position, Severity};

/// The syntax with spans, or one located syntax error.
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
