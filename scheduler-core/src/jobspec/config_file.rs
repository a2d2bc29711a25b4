//! HCL files that are not jobs (the agent's configuration): evaluated with
//! the job files' expression language and functions (no variables, no
//! file access), with every span kept, so a decoder built on
//! [`super::decode::reader::BlockReader`] reports problems at
//! file:line:col as the job parser does.

use std::ops::Range;

use super::body::Body;
use super::diagnostic::{Diagnostic, Diagnostics, Severity, SourceMap};
use super::eval::Scope;

/// An evaluated configuration file.
#[derive(Debug)]
pub struct ConfigFile {
    /// Its name, as diagnostics show it.
    pub file_name: String,
    /// The top-level body, evaluated.
    pub body: Body,
    source: String,
}

impl ConfigFile {
    /// A diagnostic at `span` of this file.
    pub fn diagnostic(
        &self,
        span: Range<usize>,
        path: Option<String>,
        message: String,
        severity: Severity,
    ) -> Diagnostic {
        Diagnostic {
            severity,
            file: self.file_name.clone(),
            position: SourceMap::new(&self.source).position(span.start),
            path,
            message,
        }
    }
}

/// Parses and evaluates `source`; syntax and evaluation errors come back
/// located.
pub fn parse_config_file(source: &str, file_name: &str) -> Result<ConfigFile, Diagnostics> {
    let map = SourceMap::new(source);
    let syntax = super::front::syntax(source, file_name)?;
    let rng = super::front::seeded_rng();
    let evaluator = super::front::evaluator(source, &rng);
    let mut errors = Vec::new();
    let body = evaluator.eval_body(&syntax, &mut Scope::default(), &mut errors);
    if !errors.is_empty() {
        return Err(Diagnostics(
            errors
                .into_iter()
                .map(|e| Diagnostic {
                    severity: Severity::Error,
                    file: file_name.to_owned(),
                    position: map.position(e.span.start),
                    path: None,
                    message: e.message,
                })
                .collect(),
        ));
    }
    Ok(ConfigFile {
        file_name: file_name.to_owned(),
        body,
        source: source.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_config_file_is_evaluated_with_spans_and_errors_are_located() {
        let file = parse_config_file(
            "data_dir = \"/var/${\"lib\"}\"\nports {\n  http = 4646\n}\n",
            "agent.hcl",
        )
        .expect("valid");
        assert_eq!(file.body.attributes[0].name, "data_dir");
        assert_eq!(
            file.body.attributes[0].value,
            super::super::Value::String("/var/lib".to_owned())
        );
        assert_eq!(file.body.blocks[0].kind, "ports");
        let err = parse_config_file("a = 1\nb = {\n", "bad.hcl").unwrap_err();
        assert_eq!(err.0[0].file, "bad.hcl");
        assert!(err.0[0].position.line >= 2, "{err:?}");
    }
}
