//! The evaluated form of an HCL body: every attribute's value computed and
//! every `dynamic` block expanded, with the source spans kept so the decoder
//! can say where each value came from.

use super::eval::{EvalError, Evaluator, Scope, iteration_pairs};
use super::value::Value;
use hcl::edit::Span;
use hcl::edit::structure::{self, Structure};
use std::collections::BTreeMap;
use std::ops::Range;

/// An evaluated attribute `name = value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// The attribute name.
    pub name: String,
    /// Its evaluated value.
    pub value: Value,
    /// Where the name is written.
    pub name_span: Range<usize>,
    /// Where the value expression is written.
    pub value_span: Range<usize>,
}

/// An evaluated block `kind "label" { body }`.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// The block type (`group`, `task`, ...).
    pub kind: String,
    /// The labels, evaluated (dynamic blocks compute theirs).
    pub labels: Vec<String>,
    /// The block's contents.
    pub body: Body,
    /// Where the block type is written (for dynamic blocks: the `dynamic` keyword).
    pub span: Range<usize>,
}

impl Block {
    /// The first label, or "" for an unlabeled block.
    pub fn label(&self) -> &str {
        self.labels.first().map_or("", String::as_str)
    }
}

/// An evaluated body: attributes and blocks in source order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Body {
    /// Attributes in source order.
    pub attributes: Vec<Attribute>,
    /// Blocks in source order (dynamic blocks expanded in place).
    pub blocks: Vec<Block>,
}

impl Body {
    /// Converts the body to a free-form value, as Nomad does for driver
    /// `config` and similar maps: attributes become keys, and each block type
    /// becomes a list of objects (nested under its labels when it has any).
    pub fn to_value(&self) -> Value {
        let mut map: BTreeMap<String, Value> = self
            .attributes
            .iter()
            .map(|a| (a.name.clone(), a.value.clone()))
            .collect();
        for block in &self.blocks {
            let mut item = block.body.to_value();
            for label in block.labels.iter().rev() {
                item = Value::Object(BTreeMap::from([(label.clone(), item)]));
            }
            match map
                .entry(block.kind.clone())
                .or_insert_with(|| Value::List(Vec::new()))
            {
                Value::List(items) => items.push(item),
                // An attribute and a block of the same name: keep both by
                // turning the attribute into the first list element.
                other => {
                    let previous = std::mem::replace(other, Value::Null);
                    *other = Value::List(vec![previous, item]);
                }
            }
        }
        Value::Object(map)
    }
}

impl Evaluator<'_> {
    /// Evaluates a body, expanding `dynamic` blocks. Problems are collected in
    /// `errors`; an attribute or block that fails is left out of the result so
    /// that the rest can still be checked.
    pub fn eval_body(
        &self,
        body: &structure::Body,
        scope: &mut Scope,
        errors: &mut Vec<EvalError>,
    ) -> Body {
        let mut out = Body::default();
        for structure in body.iter() {
            match structure {
                Structure::Attribute(attribute) => {
                    let value_span = attribute.value.span().unwrap_or(0..0);
                    match self.eval(&attribute.value, scope) {
                        Ok(value) => out.attributes.push(Attribute {
                            name: attribute.key.value().to_string(),
                            value,
                            name_span: attribute.key.span().unwrap_or(value_span.clone()),
                            value_span,
                        }),
                        Err(e) => errors.push(e),
                    }
                }
                Structure::Block(block) if block.ident.value().as_str() == "dynamic" => {
                    self.expand_dynamic(block, scope, errors, &mut out.blocks);
                }
                Structure::Block(block) => {
                    let span = block.ident.span().or(block.span()).unwrap_or(0..0);
                    out.blocks.push(Block {
                        kind: block.ident.value().to_string(),
                        labels: block.labels.iter().map(|l| l.as_str().to_owned()).collect(),
                        body: self.eval_body(&block.body, scope, errors),
                        span,
                    });
                }
            }
        }
        out
    }

    /// Expands `dynamic "KIND" { for_each = ..., iterator = NAME, labels = [...], content { ... } }`
    /// into one `KIND` block per element of `for_each`.
    fn expand_dynamic(
        &self,
        block: &structure::Block,
        scope: &mut Scope,
        errors: &mut Vec<EvalError>,
        out: &mut Vec<Block>,
    ) {
        let span = block.ident.span().or(block.span()).unwrap_or(0..0);
        let fail = |errors: &mut Vec<EvalError>, span: Range<usize>, message: String| {
            errors.push(EvalError { span, message });
        };
        let [kind_label] = block.labels.as_slice() else {
            fail(
                errors,
                span,
                "a dynamic block needs exactly one label: the type of block to generate".into(),
            );
            return;
        };
        let kind = kind_label.as_str().to_owned();
        let mut for_each = None;
        let mut iterator = kind.clone();
        let mut labels_expr = None;
        let mut content = None;
        for structure in block.body.iter() {
            match structure {
                Structure::Attribute(attr) => match attr.key.value().as_str() {
                    "for_each" => for_each = Some(&attr.value),
                    "labels" => labels_expr = Some(&attr.value),
                    "iterator" => match &attr.value {
                        hcl::edit::expr::Expression::Variable(name) => {
                            iterator = name.value().to_string()
                        }
                        other => fail(
                            errors,
                            other.span().unwrap_or(span.clone()),
                            "dynamic block iterator must be a bare name, such as `iterator = item`"
                                .into(),
                        ),
                    },
                    other => fail(
                        errors,
                        attr.key.span().unwrap_or(span.clone()),
                        format!(
                            "unsupported argument \"{other}\" in dynamic block; expected for_each, iterator, labels or content"
                        ),
                    ),
                },
                Structure::Block(inner) if inner.ident.value().as_str() == "content" => {
                    if content.replace(&inner.body).is_some() {
                        fail(
                            errors,
                            inner.ident.span().unwrap_or(span.clone()),
                            "a dynamic block takes only one content block".into(),
                        );
                    }
                }
                Structure::Block(inner) => fail(
                    errors,
                    inner.ident.span().unwrap_or(span.clone()),
                    format!(
                        "unexpected block \"{}\" in dynamic block; only `content` is allowed",
                        inner.ident.value()
                    ),
                ),
            }
        }
        let (Some(for_each), Some(content)) = (for_each, content) else {
            fail(
                errors,
                span,
                "a dynamic block needs a `for_each` argument and a `content` block".into(),
            );
            return;
        };
        let collection = match self.eval(for_each, scope) {
            Ok(value) => value,
            Err(e) => return errors.push(e),
        };
        let pairs = match iteration_pairs(collection) {
            Ok(pairs) => pairs,
            Err(message) => {
                return fail(
                    errors,
                    for_each.span().unwrap_or(span),
                    format!("for_each: {message}"),
                );
            }
        };
        for (key, value) in pairs {
            let iteration = Value::Object(BTreeMap::from([
                ("key".to_owned(), key),
                ("value".to_owned(), value),
            ]));
            scope.bindings.push((iterator.clone(), iteration));
            let labels = match labels_expr.map(|e| (e, self.eval(e, scope))) {
                None => Ok(Vec::new()),
                Some((_, Ok(Value::List(items)))) => items
                    .iter()
                    .map(|v| {
                        v.to_hcl_string()
                            .ok_or_else(|| format!("labels must be strings, got {}", v.type_name()))
                    })
                    .collect::<Result<Vec<_>, _>>(),
                Some((_, Ok(other))) => Err(format!(
                    "labels must be a list of strings, got {}",
                    other.type_name()
                )),
                Some((_, Err(e))) => Err(e.message),
            };
            match labels {
                Ok(labels) => {
                    let body = self.eval_body(content, scope, errors);
                    out.push(Block {
                        kind: kind.clone(),
                        labels,
                        body,
                        span: span.clone(),
                    });
                }
                Err(message) => fail(
                    errors,
                    labels_expr.and_then(|e| e.span()).unwrap_or(span.clone()),
                    message,
                ),
            }
            scope.bindings.pop();
        }
    }
}
