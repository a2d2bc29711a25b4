//! Evaluation of HCL expressions and templates.
//!
//! hcl-rs gives us the syntax tree with byte spans; the semantics are ours and
//! follow what Nomad's job-spec parser does on top of HCL2:
//! - `var.NAME` and `local.NAME` resolve; a `var` that is not declared is an
//!   error at the reference.
//! - Any other root (`attr`, `node`, `meta`, `NOMAD_ALLOC_INDEX`, ...) is a
//!   runtime value only the client knows: the reference evaluates to the
//!   string `${<reference as written>}` so the client can interpolate it later.
//! - Functions come from [`super::functions`]; `can` and `try` are special
//!   forms here because they take unevaluated arguments.
//!
//! Errors carry the byte span of the offending expression.

use super::functions::{self, FunctionContext};
use super::operators::{binary, get_attr, get_index, unary};
use super::value::Value;
use hcl::edit::Span;
use hcl::edit::expr::{
    BinaryOperator, Expression, ForExpr, FuncCall, ObjectKey, TraversalOperator,
};
use hcl::edit::template::{Directive, Element, Strip, Template};
use std::collections::BTreeMap;
use std::ops::Range;

/// An evaluation problem at a place in the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    /// Byte range of the expression at fault.
    pub span: Range<usize>,
    /// What is wrong.
    pub message: String,
}

impl EvalError {
    fn new(span: Option<Range<usize>>, message: impl Into<String>) -> Self {
        EvalError {
            span: span.unwrap_or(0..0),
            message: message.into(),
        }
    }
}

type EvalResult = Result<Value, EvalError>;

/// The roots an expression can see: declared variables (`var`), locals
/// (`local`), and names bound by `for` expressions, template `for`
/// directives and `dynamic` block iterators.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Declared variables with their final values.
    pub variables: BTreeMap<String, Value>,
    /// Locals evaluated so far.
    pub locals: BTreeMap<String, Value>,
    /// Names of locals that exist but are not evaluated yet (evaluating an
    /// expression that needs one fails with [`NOT_READY`]).
    pub pending_locals: Vec<String>,
    /// Bound iteration names, innermost last.
    pub bindings: Vec<(String, Value)>,
    /// Whether `var.x` for an undeclared `x` should pass through as a
    /// runtime reference instead of failing (never for job files).
    pub lenient_variables: bool,
}

/// Message prefix of the error raised when an expression needs a local that is
/// not evaluated yet; the locals pass retries such expressions.
pub const NOT_READY: &str = "local value not ready: ";

impl Scope {
    fn binding(&self, name: &str) -> Option<&Value> {
        self.bindings
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
    }
}

/// Evaluates expressions of one source text.
pub struct Evaluator<'a> {
    /// The whole source text, for the text of runtime references.
    pub source: &'a str,
    /// Function context (files, base directory, seeded randomness).
    pub functions: FunctionContext<'a>,
}

impl std::fmt::Debug for Evaluator<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Evaluator").finish_non_exhaustive()
    }
}

/// Bound on nested evaluation, so a pathological input cannot overflow the stack.
const MAX_DEPTH: usize = 256;

impl Evaluator<'_> {
    /// Evaluates an expression in a scope.
    pub fn eval(&self, expr: &Expression, scope: &mut Scope) -> EvalResult {
        self.eval_depth(expr, scope, 0)
    }

    fn text(&self, span: Option<Range<usize>>) -> String {
        span.and_then(|s| self.source.get(s))
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    }

    fn eval_depth(&self, expr: &Expression, scope: &mut Scope, depth: usize) -> EvalResult {
        if depth > MAX_DEPTH {
            return Err(EvalError::new(
                expr.span(),
                "expression is nested too deeply",
            ));
        }
        let d = depth + 1;
        match expr {
            Expression::Null(_) => Ok(Value::Null),
            Expression::Bool(b) => Ok(Value::Bool(*b.value())),
            Expression::Number(n) => Ok(Value::Number(*n.value())),
            Expression::String(s) => Ok(Value::String(s.value().clone())),
            Expression::Array(array) => {
                let mut items = Vec::with_capacity(array.len());
                for item in array.iter() {
                    items.push(self.eval_depth(item, scope, d)?);
                }
                Ok(Value::List(items))
            }
            Expression::Object(object) => {
                let mut map = BTreeMap::new();
                for (key, value) in object.iter() {
                    let key = match key {
                        ObjectKey::Ident(ident) => ident.value().to_string(),
                        ObjectKey::Expression(key_expr) => {
                            // A bare name in parentheses or a traversal used as a key is
                            // evaluated; HCL treats a plain identifier key as a literal.
                            let key_value = self.eval_depth(key_expr, scope, d)?;
                            key_value.to_hcl_string().ok_or_else(|| {
                                EvalError::new(
                                    key_expr.span(),
                                    format!(
                                        "object key must be a string, got {}",
                                        key_value.type_name()
                                    ),
                                )
                            })?
                        }
                    };
                    let value = self.eval_depth(value.expr(), scope, d)?;
                    map.insert(key, value);
                }
                Ok(Value::Object(map))
            }
            Expression::StringTemplate(template) => self.eval_template(template, scope, d),
            Expression::HeredocTemplate(heredoc) => self.eval_template(&heredoc.template, scope, d),
            Expression::Parenthesis(inner) => self.eval_depth(inner.inner(), scope, d),
            Expression::Variable(name) => self.eval_root(name.value().as_str(), expr.span(), scope),
            Expression::Traversal(traversal) => self.eval_traversal(traversal, scope, d),
            Expression::Conditional(cond) => {
                let test = self.eval_depth(&cond.cond_expr, scope, d)?;
                match test.as_bool() {
                    Some(true) => self.eval_depth(&cond.true_expr, scope, d),
                    Some(false) => self.eval_depth(&cond.false_expr, scope, d),
                    None => Err(EvalError::new(
                        cond.cond_expr.span(),
                        format!("condition must be a bool, got {}", test.type_name()),
                    )),
                }
            }
            Expression::FuncCall(call) => self.eval_call(call, scope, d),
            Expression::UnaryOp(op) => {
                let value = self.eval_depth(&op.expr, scope, d)?;
                unary(*op.operator.value(), &value).map_err(|m| EvalError::new(expr.span(), m))
            }
            Expression::BinaryOp(op) => {
                let operator = *op.operator.value();
                let lhs = self.eval_depth(&op.lhs_expr, scope, d)?;
                // `&&` and `||` short-circuit, so guards like `x != null && x.y` work.
                match (operator, lhs.as_bool()) {
                    (BinaryOperator::And, Some(false)) => return Ok(Value::Bool(false)),
                    (BinaryOperator::Or, Some(true)) => return Ok(Value::Bool(true)),
                    _ => {}
                }
                let rhs = self.eval_depth(&op.rhs_expr, scope, d)?;
                binary(operator, &lhs, &rhs).map_err(|m| EvalError::new(expr.span(), m))
            }
            Expression::ForExpr(for_expr) => self.eval_for(for_expr, scope, d),
        }
    }

    fn eval_root(&self, name: &str, span: Option<Range<usize>>, scope: &Scope) -> EvalResult {
        if let Some(value) = scope.binding(name) {
            return Ok(value.clone());
        }
        match name {
            "var" => Ok(Value::Object(scope.variables.clone())),
            "local" => Ok(Value::Object(scope.locals.clone())),
            // A runtime reference the client interpolates.
            _ => Ok(Value::String(format!("${{{}}}", self.text(span)))),
        }
    }

    fn eval_traversal(
        &self,
        traversal: &hcl::edit::expr::Traversal,
        scope: &mut Scope,
        d: usize,
    ) -> EvalResult {
        // References to var/local get precise errors; any other unbound root is
        // a runtime value: the whole traversal passes through as written.
        if let Expression::Variable(root) = &traversal.expr {
            let root_name = root.value().as_str();
            if scope.binding(root_name).is_none() {
                match root_name {
                    "var" => return self.eval_named_ref(traversal, scope, d, true),
                    "local" => return self.eval_named_ref(traversal, scope, d, false),
                    _ => {
                        return Ok(Value::String(format!(
                            "${{{}}}",
                            self.text(traversal.span())
                        )));
                    }
                }
            }
        }
        let base = self.eval_depth(&traversal.expr, scope, d)?;
        self.apply_operators(base, &traversal.operators, scope, d)
    }

    /// `var.NAME...` or `local.NAME...`: the first step must name a declared
    /// variable or a local.
    fn eval_named_ref(
        &self,
        traversal: &hcl::edit::expr::Traversal,
        scope: &mut Scope,
        d: usize,
        is_var: bool,
    ) -> EvalResult {
        let Some(first) = traversal.operators.first() else {
            // A traversal always has at least one operator; a bare root is an
            // `Expression::Variable`, handled by `eval_root`.
            return Err(EvalError::new(
                traversal.span(),
                "expected an attribute name",
            ));
        };
        let name = match first.value() {
            TraversalOperator::GetAttr(ident) => ident.value().to_string(),
            TraversalOperator::Index(index) => match self.eval_depth(index, scope, d)? {
                Value::String(s) => s,
                other => {
                    return Err(EvalError::new(
                        index.span(),
                        format!("variable name must be a string, got {}", other.type_name()),
                    ));
                }
            },
            _ => {
                return Err(EvalError::new(
                    traversal.span(),
                    "expected an attribute name after \"var\" or \"local\"",
                ));
            }
        };
        let value = if is_var {
            match scope.variables.get(&name) {
                Some(value) => value.clone(),
                None if scope.lenient_variables => {
                    return Ok(Value::String(format!(
                        "${{{}}}",
                        self.text(traversal.span())
                    )));
                }
                None => {
                    return Err(EvalError::new(
                        traversal.span(),
                        format!(
                            "reference to undeclared input variable \"{name}\": declare it with a `variable \"{name}\" {{ ... }}` block"
                        ),
                    ));
                }
            }
        } else {
            match scope.locals.get(&name) {
                Some(value) => value.clone(),
                None if scope.pending_locals.contains(&name) => {
                    return Err(EvalError::new(
                        traversal.span(),
                        format!("{NOT_READY}{name}"),
                    ));
                }
                None => {
                    return Err(EvalError::new(
                        traversal.span(),
                        format!(
                            "reference to undeclared local value \"{name}\": define it in a `locals` block"
                        ),
                    ));
                }
            }
        };
        self.apply_operators(value, &traversal.operators[1..], scope, d)
    }

    fn apply_operators(
        &self,
        mut value: Value,
        operators: &[hcl::edit::Decorated<TraversalOperator>],
        scope: &mut Scope,
        d: usize,
    ) -> EvalResult {
        for (i, operator) in operators.iter().enumerate() {
            let span = operator.span();
            match operator.value() {
                TraversalOperator::GetAttr(ident) => {
                    value = get_attr(&value, ident.value().as_str())
                        .map_err(|m| EvalError::new(span, m))?;
                }
                TraversalOperator::Index(index_expr) => {
                    let index = self.eval_depth(index_expr, scope, d)?;
                    value = get_index(&value, &index).map_err(|m| EvalError::new(span, m))?;
                }
                TraversalOperator::LegacyIndex(index) => {
                    let index = Value::int(i64::try_from(*index.value()).unwrap_or(i64::MAX));
                    value = get_index(&value, &index).map_err(|m| EvalError::new(span, m))?;
                }
                TraversalOperator::AttrSplat(_) | TraversalOperator::FullSplat(_) => {
                    let items = match value {
                        Value::Null => Vec::new(),
                        Value::List(items) => items,
                        other => vec![other],
                    };
                    let rest = &operators[i + 1..];
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        out.push(self.apply_operators(item, rest, scope, d)?);
                    }
                    return Ok(Value::List(out));
                }
            }
        }
        Ok(value)
    }

    fn eval_call(&self, call: &FuncCall, scope: &mut Scope, d: usize) -> EvalResult {
        let name = call.name.name.value().as_str();
        if call.name.is_namespaced() {
            return Err(EvalError::new(
                call.span(),
                format!("namespaced function {name:?} is not supported in job files"),
            ));
        }
        let arg_exprs: Vec<&Expression> = call.args.iter().collect();
        match name {
            "try" => {
                let mut last_error = None;
                for arg in &arg_exprs {
                    match self.eval_depth(arg, scope, d) {
                        Ok(value) => return Ok(value),
                        Err(e) if e.message.starts_with(NOT_READY) => return Err(e),
                        Err(e) => last_error = Some(e),
                    }
                }
                return Err(EvalError::new(
                    call.span(),
                    match last_error {
                        Some(e) => format!(
                            "try: no argument could be evaluated; the last failed with: {}",
                            e.message
                        ),
                        None => "try: needs at least one argument".to_owned(),
                    },
                ));
            }
            "can" => {
                let [arg] = arg_exprs.as_slice() else {
                    return Err(EvalError::new(
                        call.span(),
                        "can: needs exactly one argument",
                    ));
                };
                return match self.eval_depth(arg, scope, d) {
                    Err(e) if e.message.starts_with(NOT_READY) => Err(e),
                    result => Ok(Value::Bool(result.is_ok())),
                };
            }
            // `convert(value, list(string))`: the second argument is a type,
            // not an expression; the function takes its source text.
            "convert" if arg_exprs.len() == 2 => {
                let value = self.eval_depth(arg_exprs[0], scope, d)?;
                let type_text = Value::String(self.text(arg_exprs[1].span()));
                return match functions::call(name, &self.functions, vec![value, type_text]) {
                    Some(Ok(value)) => Ok(value),
                    Some(Err(message)) => Err(EvalError::new(call.span(), message)),
                    None => Err(EvalError::new(call.span(), "convert is not available")),
                };
            }
            _ => {}
        }
        let mut args = Vec::with_capacity(arg_exprs.len());
        for (i, arg) in arg_exprs.iter().enumerate() {
            let value = self.eval_depth(arg, scope, d)?;
            if call.args.expand_final() && i + 1 == arg_exprs.len() {
                match value {
                    Value::List(items) => args.extend(items),
                    other => {
                        return Err(EvalError::new(
                            arg.span(),
                            format!(
                                "only a list can be expanded with \"...\", got {}",
                                other.type_name()
                            ),
                        ));
                    }
                }
            } else {
                args.push(value);
            }
        }
        match functions::call(name, &self.functions, args) {
            Some(Ok(value)) => Ok(value),
            Some(Err(message)) => Err(EvalError::new(call.span(), message)),
            None => {
                let hint = closest_name(name, functions::names())
                    .map(|n| format!("; did you mean \"{n}\"?"))
                    .unwrap_or_default();
                Err(EvalError::new(
                    call.name.name.span().or(call.span()),
                    format!("call to unknown function \"{name}\"{hint}"),
                ))
            }
        }
    }

    fn eval_for(&self, for_expr: &ForExpr, scope: &mut Scope, d: usize) -> EvalResult {
        let intro = &for_expr.intro;
        let collection = self.eval_depth(&intro.collection_expr, scope, d)?;
        let pairs = iteration_pairs(collection)
            .map_err(|m| EvalError::new(intro.collection_expr.span(), m))?;
        let key_var = intro.key_var.as_ref().map(|k| k.value().to_string());
        let value_var = intro.value_var.value().to_string();
        let mut list = Vec::new();
        let mut object: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in pairs {
            let bound = scope.bindings.len();
            if let Some(k) = &key_var {
                scope.bindings.push((k.clone(), key));
            }
            scope.bindings.push((value_var.clone(), value));
            let result = self.eval_for_item(for_expr, scope, d, &mut list, &mut object);
            scope.bindings.truncate(bound);
            result?;
        }
        Ok(if for_expr.key_expr.is_some() {
            Value::Object(object)
        } else {
            Value::List(list)
        })
    }

    fn eval_for_item(
        &self,
        for_expr: &ForExpr,
        scope: &mut Scope,
        d: usize,
        list: &mut Vec<Value>,
        object: &mut BTreeMap<String, Value>,
    ) -> Result<(), EvalError> {
        if let Some(cond) = &for_expr.cond {
            let keep = self.eval_depth(&cond.expr, scope, d)?;
            match keep.as_bool() {
                Some(true) => {}
                Some(false) => return Ok(()),
                None => {
                    return Err(EvalError::new(
                        cond.expr.span(),
                        format!("for condition must be a bool, got {}", keep.type_name()),
                    ));
                }
            }
        }
        let value = self.eval_depth(&for_expr.value_expr, scope, d)?;
        match &for_expr.key_expr {
            None => list.push(value),
            Some(key_expr) => {
                let key = self.eval_depth(key_expr, scope, d)?;
                let key = key.to_hcl_string().ok_or_else(|| {
                    EvalError::new(
                        key_expr.span(),
                        format!("for key must be a string, got {}", key.type_name()),
                    )
                })?;
                if for_expr.grouping {
                    if let Value::List(items) =
                        object.entry(key).or_insert_with(|| Value::List(Vec::new()))
                    {
                        items.push(value);
                    }
                } else {
                    match object.entry(key) {
                        std::collections::btree_map::Entry::Occupied(entry) => {
                            return Err(EvalError::new(
                                key_expr.span(),
                                format!(
                                    "duplicate key {:?} in for expression; add \"...\" after the value to group values by key",
                                    entry.key()
                                ),
                            ));
                        }
                        std::collections::btree_map::Entry::Vacant(entry) => {
                            entry.insert(value);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Evaluates a template. A template that is exactly one interpolation
    /// (`"${var.list}"`) yields the value itself, not its string form, as HCL does.
    fn eval_template(&self, template: &Template, scope: &mut Scope, d: usize) -> EvalResult {
        if let Some(Element::Interpolation(interp)) = template.as_single_element() {
            return self.eval_depth(&interp.expr, scope, d);
        }
        let mut out = String::new();
        self.render_template(template, scope, d, &mut out)?;
        Ok(Value::String(out))
    }

    fn render_template(
        &self,
        template: &Template,
        scope: &mut Scope,
        d: usize,
        out: &mut String,
    ) -> Result<(), EvalError> {
        let elements: Vec<&Element> = template.iter().collect();
        for (i, element) in elements.iter().enumerate() {
            match element {
                Element::Literal(literal) => {
                    let mut text: &str = literal.value();
                    if i > 0 && strips_after(elements[i - 1]) {
                        text = text.trim_start();
                    }
                    if elements.get(i + 1).is_some_and(|next| strips_before(next)) {
                        text = text.trim_end();
                    }
                    out.push_str(text);
                }
                Element::Interpolation(interp) => {
                    let value = self.eval_depth(&interp.expr, scope, d)?;
                    let text = value.to_hcl_string().ok_or_else(|| {
                        EvalError::new(
                            interp.expr.span(),
                            format!(
                                "cannot include a {} value in a string template",
                                value.type_name()
                            ),
                        )
                    })?;
                    out.push_str(&text);
                }
                Element::Directive(directive) => match directive.as_ref() {
                    Directive::If(if_directive) => {
                        let cond = &if_directive.if_expr.cond_expr;
                        let test = self.eval_depth(cond, scope, d)?;
                        match test.as_bool() {
                            Some(true) => {
                                self.render_template(&if_directive.if_expr.template, scope, d, out)?
                            }
                            Some(false) => {
                                if let Some(else_expr) = &if_directive.else_expr {
                                    self.render_template(&else_expr.template, scope, d, out)?;
                                }
                            }
                            None => {
                                return Err(EvalError::new(
                                    cond.span(),
                                    format!(
                                        "%{{if}} condition must be a bool, got {}",
                                        test.type_name()
                                    ),
                                ));
                            }
                        }
                    }
                    Directive::For(for_directive) => {
                        let for_expr = &for_directive.for_expr;
                        let collection = self.eval_depth(&for_expr.collection_expr, scope, d)?;
                        let pairs = iteration_pairs(collection)
                            .map_err(|m| EvalError::new(for_expr.collection_expr.span(), m))?;
                        for (key, value) in pairs {
                            let bound = scope.bindings.len();
                            if let Some(k) = &for_expr.key_var {
                                scope.bindings.push((k.value().to_string(), key));
                            }
                            scope
                                .bindings
                                .push((for_expr.value_var.value().to_string(), value));
                            let result = self.render_template(&for_expr.template, scope, d, out);
                            scope.bindings.truncate(bound);
                            result?;
                        }
                    }
                },
            }
        }
        Ok(())
    }
}

fn strips_before(element: &Element) -> bool {
    strip_of(element).is_some_and(|s| matches!(s, Strip::Start | Strip::Both))
}

fn strips_after(element: &Element) -> bool {
    // For directives the closing marker's strip (`~}` of %{ endif ~}) is what
    // matters; hcl-edit records it on the end expression.
    match element {
        Element::Directive(directive) => match directive.as_ref() {
            Directive::If(d) => matches!(d.endif_expr.strip, Strip::End | Strip::Both),
            Directive::For(d) => matches!(d.endfor_expr.strip, Strip::End | Strip::Both),
        },
        _ => strip_of(element).is_some_and(|s| matches!(s, Strip::End | Strip::Both)),
    }
}

fn strip_of(element: &Element) -> Option<Strip> {
    match element {
        Element::Literal(_) => None,
        Element::Interpolation(interp) => Some(interp.strip),
        Element::Directive(directive) => Some(match directive.as_ref() {
            Directive::If(d) => d.if_expr.strip,
            Directive::For(d) => d.for_expr.strip,
        }),
    }
}

/// The (key, value) pairs a `for` iterates: index and element for lists,
/// key and value (in key order) for objects.
pub fn iteration_pairs(collection: Value) -> Result<Vec<(Value, Value)>, String> {
    match collection {
        Value::List(items) => Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, v)| (Value::int(i64::try_from(i).unwrap_or(i64::MAX)), v))
            .collect()),
        Value::Object(map) => Ok(map
            .into_iter()
            .map(|(k, v)| (Value::String(k), v))
            .collect()),
        Value::Null => Err("cannot iterate over a null value".to_owned()),
        other => Err(format!(
            "cannot iterate over a {} value; expected a list or an object",
            other.type_name()
        )),
    }
}

/// The candidate closest to `name` by edit distance, if it is close enough to
/// be a plausible typo.
pub fn closest_name<'n>(name: &str, candidates: &[&'n str]) -> Option<&'n str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(distance, c)| *distance <= 2.max(c.len() / 4))
        .min()
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}
