//! Input variables and locals of an HCL2 job file.
//!
//! A job file declares inputs with `variable "name" { type, default,
//! validation }` blocks (or a `variables { name = default }` block) and
//! derived values in `locals { }` blocks. Values come from, in increasing
//! precedence: the declared default, `NOMAD_VAR_<name>` environment
//! variables, variable files (`-var-file`), and `-var name=value` arguments.
//! A variable that ends up without a value is an error at its declaration;
//! a value for a variable that is not declared is an error at the value.

use super::eval::{EvalError, Evaluator, NOT_READY, Scope};
use super::types::Type;
use super::value::Value;
use hcl::edit::Span;
use hcl::edit::expr::Expression;
use hcl::edit::structure::{self, Structure};
use std::collections::BTreeMap;
use std::ops::Range;

/// A declared input variable.
#[derive(Debug, Clone)]
pub struct Declaration<'b> {
    /// The variable's name.
    pub name: String,
    /// Its type, `any` when not given.
    pub type_constraint: Type,
    /// Its value so far (default, then overridden by later sources).
    pub value: Option<Value>,
    /// Where it is declared.
    pub span: Range<usize>,
    /// `validation { condition, error_message }` rules.
    pub validations: Vec<(&'b Expression, String)>,
}

/// Values for variables from outside the job file.
#[derive(Debug, Clone, Default)]
pub struct VariableInputs {
    /// `-var name=value` arguments, in order (later wins).
    pub vars: Vec<(String, String)>,
    /// Variable files as (file name, contents): HCL `name = value` lines, or
    /// a JSON object when the name ends in `.json`.
    pub var_files: Vec<(String, String)>,
    /// Environment variables; only `NOMAD_VAR_<name>` entries are used.
    pub env: BTreeMap<String, String>,
}

/// A problem with a variable value that comes from outside the job file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputProblem {
    /// In the job file itself.
    InJob(EvalError),
    /// In a variable file (by index in [`VariableInputs::var_files`]).
    InVarFile(usize, EvalError),
    /// In a `-var` argument; there is no source position.
    InArgument(String),
}

impl Evaluator<'_> {
    /// Reads variable declarations from the top-level body.
    pub fn declarations<'b>(
        &self,
        body: &'b structure::Body,
        problems: &mut Vec<InputProblem>,
    ) -> Vec<Declaration<'b>> {
        let mut declarations: Vec<Declaration<'b>> = Vec::new();
        let mut push = |declaration: Declaration<'b>, problems: &mut Vec<InputProblem>| {
            if declarations.iter().any(|d| d.name == declaration.name) {
                problems.push(InputProblem::InJob(EvalError {
                    span: declaration.span.clone(),
                    message: format!(
                        "variable \"{}\" is declared more than once",
                        declaration.name
                    ),
                }));
            } else {
                declarations.push(declaration);
            }
        };
        let mut constant_scope = Scope::default();
        for block in body.blocks() {
            match block.ident.value().as_str() {
                "variables" => {
                    for attribute in block.body.attributes() {
                        let span = attribute.key.span().unwrap_or(0..0);
                        match self.eval(&attribute.value, &mut constant_scope) {
                            Ok(value) => push(
                                Declaration {
                                    name: attribute.key.value().to_string(),
                                    type_constraint: Type::Any,
                                    value: Some(value),
                                    span,
                                    validations: Vec::new(),
                                },
                                problems,
                            ),
                            Err(e) => problems.push(InputProblem::InJob(e)),
                        }
                    }
                }
                "variable" => {
                    if let Some(declaration) =
                        self.declaration(block, &mut constant_scope, problems)
                    {
                        push(declaration, problems);
                    }
                }
                _ => {}
            }
        }
        declarations
    }

    fn declaration<'b>(
        &self,
        block: &'b structure::Block,
        scope: &mut Scope,
        problems: &mut Vec<InputProblem>,
    ) -> Option<Declaration<'b>> {
        let span = block.ident.span().unwrap_or(0..0);
        let [label] = block.labels.as_slice() else {
            problems.push(InputProblem::InJob(EvalError {
                span,
                message: "a variable block needs exactly one label: the variable's name".into(),
            }));
            return None;
        };
        let name = label.as_str().to_owned();
        if !is_identifier(&name) {
            problems.push(InputProblem::InJob(EvalError {
                span: label.span().unwrap_or(span),
                message: format!("invalid variable name {name:?}: use letters, digits, '_' and '-', starting with a letter"),
            }));
            return None;
        }
        let mut declaration = Declaration {
            name,
            type_constraint: Type::Any,
            value: None,
            span,
            validations: Vec::new(),
        };
        let mut default = None;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attribute) => match attribute.key.value().as_str() {
                    "type" => match Type::from_expr(&attribute.value) {
                        Ok(t) => declaration.type_constraint = t,
                        Err(e) => problems.push(InputProblem::InJob(e)),
                    },
                    "default" => match self.eval(&attribute.value, scope) {
                        Ok(value) => default = Some((value, attribute.value.span().unwrap_or(0..0))),
                        Err(e) => problems.push(InputProblem::InJob(e)),
                    },
                    "description" | "sensitive" | "nullable" => {}
                    other => problems.push(InputProblem::InJob(EvalError {
                        span: attribute.key.span().unwrap_or(0..0),
                        message: format!(
                            "unsupported argument \"{other}\" in variable block; expected type, default, description, sensitive or validation"
                        ),
                    })),
                },
                Structure::Block(inner) if inner.ident.value().as_str() == "validation" => {
                    let condition = inner.body.get_attribute("condition").map(|a| &a.value);
                    let message = inner
                        .body
                        .get_attribute("error_message")
                        .and_then(|a| self.eval(&a.value, scope).ok())
                        .and_then(|v| v.to_hcl_string());
                    match (condition, message) {
                        (Some(condition), Some(message)) => declaration.validations.push((condition, message)),
                        _ => problems.push(InputProblem::InJob(EvalError {
                            span: inner.ident.span().unwrap_or(0..0),
                            message: "a validation block needs `condition` and a string `error_message`".into(),
                        })),
                    }
                }
                Structure::Block(inner) => problems.push(InputProblem::InJob(EvalError {
                    span: inner.ident.span().unwrap_or(0..0),
                    message: format!("unexpected block \"{}\" in variable block", inner.ident.value()),
                })),
            }
        }
        if let Some((value, value_span)) = default {
            match declaration.type_constraint.convert(value) {
                Ok(value) => declaration.value = Some(value),
                Err(message) => problems.push(InputProblem::InJob(EvalError {
                    span: value_span,
                    message: format!(
                        "invalid default for variable \"{}\": {message}",
                        declaration.name
                    ),
                })),
            }
        }
        Some(declaration)
    }

    /// Applies outside values to the declarations, then checks that every
    /// variable has a value and passes its validations. Returns the values.
    pub fn resolve_variables(
        &self,
        declarations: &mut [Declaration<'_>],
        inputs: &VariableInputs,
        problems: &mut Vec<InputProblem>,
    ) -> BTreeMap<String, Value> {
        for (key, raw) in &inputs.env {
            let Some(name) = key.strip_prefix("NOMAD_VAR_") else {
                continue;
            };
            // Undeclared environment values are ignored: the environment is shared by every job.
            if let Some(declaration) = declarations.iter_mut().find(|d| d.name == name) {
                match convert_raw(raw, &declaration.type_constraint) {
                    Ok(value) => declaration.value = Some(value),
                    Err(message) => problems.push(InputProblem::InArgument(format!(
                        "environment variable {key}: invalid value for variable \"{name}\": {message}"
                    ))),
                }
            }
        }
        for (index, (file_name, contents)) in inputs.var_files.iter().enumerate() {
            for (name, value, span) in self.read_var_file(file_name, contents, index, problems) {
                match declarations.iter_mut().find(|d| d.name == name) {
                    Some(declaration) => match declaration.type_constraint.convert(value) {
                        Ok(value) => declaration.value = Some(value),
                        Err(message) => problems.push(InputProblem::InVarFile(index, EvalError {
                            span,
                            message: format!("invalid value for variable \"{name}\": {message}"),
                        })),
                    },
                    None => problems.push(InputProblem::InVarFile(index, EvalError {
                        span,
                        message: format!("value for undeclared variable \"{name}\"; declare it in the job file with a `variable \"{name}\" {{}}` block"),
                    })),
                }
            }
        }
        for (name, raw) in &inputs.vars {
            match declarations.iter_mut().find(|d| &d.name == name) {
                Some(declaration) => match convert_raw(raw, &declaration.type_constraint) {
                    Ok(value) => declaration.value = Some(value),
                    Err(message) => problems.push(InputProblem::InArgument(format!(
                        "-var {name}: invalid value for variable \"{name}\": {message}"
                    ))),
                },
                None => problems.push(InputProblem::InArgument(format!(
                    "-var {name}: the job file declares no variable \"{name}\"; declare it with a `variable \"{name}\" {{}}` block"
                ))),
            }
        }
        let mut values = BTreeMap::new();
        for declaration in declarations.iter() {
            match &declaration.value {
                Some(value) => {
                    values.insert(declaration.name.clone(), value.clone());
                }
                None => {
                    // Reported once, here; references to it evaluate to their
                    // own text instead of cascading into more errors.
                    values.insert(
                        declaration.name.clone(),
                        Value::Unknown(format!("var.{}", declaration.name)),
                    );
                    problems.push(InputProblem::InJob(EvalError {
                    span: declaration.span.clone(),
                    message: format!(
                        "variable \"{0}\" has no value: give it a default, or set it with -var {0}=..., a -var-file, or NOMAD_VAR_{0}",
                        declaration.name
                    ),
                }));
                }
            }
        }
        for declaration in declarations.iter() {
            let Some(value) = values
                .get(&declaration.name)
                .filter(|v| !matches!(v, Value::Unknown(_)))
            else {
                continue;
            };
            for (condition, message) in &declaration.validations {
                let mut scope = Scope {
                    variables: BTreeMap::from([(declaration.name.clone(), value.clone())]),
                    ..Scope::default()
                };
                match self.eval(condition, &mut scope) {
                    Ok(Value::Bool(true)) => {}
                    Ok(Value::Bool(false)) => problems.push(InputProblem::InJob(EvalError {
                        span: condition.span().unwrap_or(declaration.span.clone()),
                        message: format!(
                            "invalid value for variable \"{}\": {message}",
                            declaration.name
                        ),
                    })),
                    Ok(other) => problems.push(InputProblem::InJob(EvalError {
                        span: condition.span().unwrap_or(declaration.span.clone()),
                        message: format!(
                            "validation condition must be a bool, got {}",
                            other.type_name()
                        ),
                    })),
                    Err(e) => problems.push(InputProblem::InJob(e)),
                }
            }
        }
        values
    }

    fn read_var_file(
        &self,
        file_name: &str,
        contents: &str,
        index: usize,
        problems: &mut Vec<InputProblem>,
    ) -> Vec<(String, Value, Range<usize>)> {
        if file_name.ends_with(".json") {
            return match serde_json::from_str::<serde_json::Value>(contents) {
                Ok(serde_json::Value::Object(map)) => map
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::from_json(v), 0..0))
                    .collect(),
                Ok(_) => {
                    problems.push(InputProblem::InVarFile(
                        index,
                        EvalError {
                            span: 0..0,
                            message: "a JSON variable file must hold one object of variable values"
                                .into(),
                        },
                    ));
                    Vec::new()
                }
                Err(e) => {
                    let offset = line_col_to_offset(contents, e.line(), e.column());
                    problems.push(InputProblem::InVarFile(
                        index,
                        EvalError {
                            span: offset..offset,
                            message: format!("invalid JSON: {e}"),
                        },
                    ));
                    Vec::new()
                }
            };
        }
        let body = match hcl::edit::parser::parse_body(contents) {
            Ok(body) => body,
            Err(e) => {
                problems.push(InputProblem::InVarFile(
                    index,
                    EvalError {
                        span: e.location().offset()..e.location().offset(),
                        message: format!("invalid HCL: {}", e.message()),
                    },
                ));
                return Vec::new();
            }
        };
        let evaluator = Evaluator {
            source: contents,
            functions: super::functions::FunctionContext { ..self.functions },
        };
        let mut scope = Scope::default();
        let mut out = Vec::new();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attribute) => {
                    let span = attribute.key.span().unwrap_or(0..0);
                    match evaluator.eval(&attribute.value, &mut scope) {
                        Ok(value) => out.push((attribute.key.value().to_string(), value, span)),
                        Err(e) => problems.push(InputProblem::InVarFile(index, e)),
                    }
                }
                Structure::Block(block) => problems.push(InputProblem::InVarFile(
                    index,
                    EvalError {
                        span: block.ident.span().unwrap_or(0..0),
                        message:
                            "a variable file holds only `name = value` assignments, not blocks"
                                .into(),
                    },
                )),
            }
        }
        out
    }

    /// Evaluates every `locals` block of the top-level body in dependency
    /// order. Locals may refer to variables, functions and other locals.
    pub fn resolve_locals(
        &self,
        body: &structure::Body,
        scope: &mut Scope,
        errors: &mut Vec<EvalError>,
    ) {
        let mut pending: Vec<(&structure::Attribute, String)> = Vec::new();
        for block in body
            .blocks()
            .filter(|b| b.ident.value().as_str() == "locals")
        {
            for attribute in block.body.attributes() {
                let name = attribute.key.value().to_string();
                if pending.iter().any(|(_, n)| n == &name) {
                    errors.push(EvalError {
                        span: attribute.key.span().unwrap_or(0..0),
                        message: format!("local value \"{name}\" is defined more than once"),
                    });
                    continue;
                }
                pending.push((attribute, name));
            }
            for inner in block.body.blocks() {
                errors.push(EvalError {
                    span: inner.ident.span().unwrap_or(0..0),
                    message: "a locals block holds only `name = value` assignments, not blocks"
                        .into(),
                });
            }
        }
        scope.pending_locals = pending.iter().map(|(_, n)| n.clone()).collect();
        // Evaluate whatever is ready until nothing changes; what is left
        // depends on itself.
        loop {
            let mut progressed = false;
            let mut waiting = Vec::new();
            for (attribute, name) in pending {
                match self.eval(&attribute.value, scope) {
                    Ok(value) => {
                        scope.locals.insert(name.clone(), value);
                        scope.pending_locals.retain(|n| n != &name);
                        progressed = true;
                    }
                    Err(e) if e.message.starts_with(NOT_READY) => waiting.push((attribute, name)),
                    Err(e) => {
                        errors.push(e);
                        // Keep the name known so references to it are not
                        // reported again as undeclared.
                        scope.locals.insert(name.clone(), Value::Null);
                        scope.pending_locals.retain(|n| n != &name);
                        progressed = true;
                    }
                }
            }
            pending = waiting;
            if pending.is_empty() || !progressed {
                break;
            }
        }
        for (attribute, name) in pending {
            errors.push(EvalError {
                span: attribute.key.span().unwrap_or(0..0),
                message: format!(
                    "local value \"{name}\" depends on itself through a cycle of locals"
                ),
            });
        }
        scope.pending_locals.clear();
    }
}

fn convert_raw(raw: &str, type_constraint: &Type) -> Result<Value, String> {
    if type_constraint.takes_raw_string() {
        return type_constraint.convert(Value::String(raw.to_owned()));
    }
    let expr = hcl::edit::parser::parse_expr(raw)
        .map_err(|e| format!("not a valid HCL value: {}", e.message()))?;
    let evaluator = Evaluator {
        source: raw,
        functions: super::functions::FunctionContext {
            files: &super::files::NoFiles,
            base_dir: "",
            rng: &std::cell::RefCell::new(
                <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0),
            ),
        },
    };
    let value = evaluator
        .eval(&expr, &mut Scope::default())
        .map_err(|e| e.message)?;
    type_constraint.convert(value)
}

fn line_col_to_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}
