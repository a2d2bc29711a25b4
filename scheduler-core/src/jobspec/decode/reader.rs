//! Typed, located access to an evaluated HCL body.
//!
//! A [`BlockReader`] hands out attributes and nested blocks by name, converts
//! values with Nomad's lenient rules (`"100"` is a fine number, `"true"` a
//! fine bool), records the source span of everything it reads under its
//! [`FieldPath`], and at the end reports every attribute or block nobody asked
//! for as an unsupported key, with a did-you-mean hint.

use crate::jobspec::body::{Attribute, Block, Body};
use crate::jobspec::eval::closest_name;
use crate::jobspec::value::Value;
use crate::model::{Duration, FieldPath};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::ops::Range;

/// What the decoder found, with where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Byte range in the job file.
    pub span: Range<usize>,
    /// Path in the job, rendered for HCL authors.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// Warnings do not reject the job.
    pub warning: bool,
}

/// Shared state of one decoding pass: problems and the span of every path.
#[derive(Debug, Default)]
pub struct Decoder {
    problems: RefCell<Vec<Problem>>,
    spans: RefCell<BTreeMap<String, Range<usize>>>,
}

impl Decoder {
    /// Records an error.
    pub fn error(&self, span: Range<usize>, path: &FieldPath, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            span,
            path: path.to_hcl(),
            message: message.into(),
            warning: false,
        });
    }

    /// Records a warning.
    pub fn warning(&self, span: Range<usize>, path: &FieldPath, message: impl Into<String>) {
        self.problems.borrow_mut().push(Problem {
            span,
            path: path.to_hcl(),
            message: message.into(),
            warning: true,
        });
    }

    /// Remembers where a path is written (the first record wins).
    pub fn record(&self, path: &FieldPath, span: Range<usize>) {
        self.spans.borrow_mut().entry(path.to_hcl()).or_insert(span);
    }

    /// The problems and the span index, consuming the decoder.
    pub fn finish(self) -> (Vec<Problem>, BTreeMap<String, Range<usize>>) {
        (self.problems.into_inner(), self.spans.into_inner())
    }
}

/// Reads one block's body.
#[derive(Debug)]
pub struct BlockReader<'a> {
    decoder: &'a Decoder,
    body: &'a Body,
    path: FieldPath,
    span: Range<usize>,
    used_attributes: RefCell<Vec<bool>>,
    used_blocks: RefCell<Vec<bool>>,
    /// Set when the body is read as free-form: nothing is unsupported.
    free_form: Cell<bool>,
    /// Every name asked for, for did-you-mean hints on unsupported keys.
    asked: RefCell<Vec<&'static str>>,
}

impl<'a> BlockReader<'a> {
    /// A reader for `body`, found at `path` and written at `span`.
    pub fn new(decoder: &'a Decoder, body: &'a Body, path: FieldPath, span: Range<usize>) -> Self {
        decoder.record(&path, span.clone());
        BlockReader {
            decoder,
            used_attributes: RefCell::new(vec![false; body.attributes.len()]),
            used_blocks: RefCell::new(vec![false; body.blocks.len()]),
            body,
            path,
            span,
            free_form: Cell::new(false),
            asked: RefCell::new(Vec::new()),
        }
    }

    /// The decoder this reader reports to.
    pub fn decoder(&self) -> &'a Decoder {
        self.decoder
    }

    /// This block's path.
    pub fn path(&self) -> &FieldPath {
        &self.path
    }

    /// Where this block is written.
    pub fn span(&self) -> Range<usize> {
        self.span.clone()
    }

    /// Records an error about this block as a whole.
    pub fn error(&self, message: impl Into<String>) {
        self.decoder.error(self.span.clone(), &self.path, message);
    }

    /// Whether an attribute or block of this name is present.
    pub fn has(&self, name: &str) -> bool {
        self.body.attributes.iter().any(|a| a.name == name)
            || self.body.blocks.iter().any(|b| b.kind == name)
    }

    /// Takes the attribute `name`, marking it used and recording its span
    /// under `path > hcl_name`. A repeated attribute is an error.
    pub fn attribute(
        &self,
        name: &'static str,
        json: &'static str,
    ) -> Option<(&'a Attribute, FieldPath)> {
        self.asked.borrow_mut().push(name);
        let mut found: Option<&'a Attribute> = None;
        for (i, attribute) in self.body.attributes.iter().enumerate() {
            if attribute.name != name {
                continue;
            }
            self.used_attributes.borrow_mut()[i] = true;
            if found.is_some() {
                self.decoder.error(
                    attribute.name_span.clone(),
                    &self.path,
                    format!("argument \"{name}\" is set more than once"),
                );
            } else {
                found = Some(attribute);
            }
        }
        let attribute = found?;
        let path = self.path.field(name, json);
        self.decoder.record(&path, attribute.name_span.clone());
        Some((attribute, path))
    }

    fn typed<T>(
        &self,
        name: &'static str,
        json: &'static str,
        expected: &str,
        convert: impl FnOnce(&Value) -> Option<T>,
    ) -> Option<T> {
        let (attribute, path) = self.attribute(name, json)?;
        if attribute.value.is_null() {
            return None;
        }
        let converted = convert(&attribute.value);
        if converted.is_none() {
            self.decoder.error(
                attribute.value_span.clone(),
                &path,
                format!(
                    "argument \"{name}\" must be {expected}, got {}",
                    describe(&attribute.value)
                ),
            );
        }
        converted
    }

    /// A string attribute (numbers and bools are converted, as HCL does).
    pub fn string(&self, name: &'static str, json: &'static str) -> Option<String> {
        self.typed(name, json, "a string", Value::to_hcl_string)
    }

    /// A whole-number attribute (a numeric string is accepted).
    pub fn int(&self, name: &'static str, json: &'static str) -> Option<i64> {
        self.typed(name, json, "a whole number", Value::as_i64)
    }

    /// A number attribute (a numeric string is accepted).
    pub fn float(&self, name: &'static str, json: &'static str) -> Option<f64> {
        self.typed(name, json, "a number", Value::as_f64)
    }

    /// A size in MiB: a whole number of MiB, or a string with a unit
    /// (`"512MB"`, `"1.5GiB"`, `"2048 KiB"`). As everywhere in Nomad, MB
    /// means MiB; the result must be a whole number of MiB.
    pub fn size_mib(&self, name: &'static str, json: &'static str) -> Option<i64> {
        self.typed(
            name,
            json,
            "a size in MiB, such as 512 or \"1GiB\"",
            |value| match value {
                Value::String(text) => parse_size_mib(text),
                other => other.as_i64(),
            },
        )
    }

    /// A bool attribute (`"true"`/`"false"` are accepted).
    pub fn bool(&self, name: &'static str, json: &'static str) -> Option<bool> {
        self.typed(name, json, "true or false", Value::as_bool)
    }

    /// A duration attribute: a Go duration string (`"30s"`, `"1h30m"`) or a
    /// number of nanoseconds.
    pub fn duration(&self, name: &'static str, json: &'static str) -> Option<Duration> {
        let (attribute, path) = self.attribute(name, json)?;
        match &attribute.value {
            Value::Null => None,
            Value::String(text) => match Duration::parse(text) {
                Ok(d) => Some(d),
                Err(e) => {
                    self.decoder.error(
                        attribute.value_span.clone(),
                        &path,
                        format!("argument \"{name}\": {e}"),
                    );
                    None
                }
            },
            Value::Number(_) => attribute.value.as_i64().map(Duration),
            other => {
                self.decoder.error(
                    attribute.value_span.clone(),
                    &path,
                    format!(
                        "argument \"{name}\" must be a duration such as \"30s\", got {}",
                        describe(other)
                    ),
                );
                None
            }
        }
    }

    /// A list of strings (a single string is accepted as a one-element list).
    pub fn string_list(&self, name: &'static str, json: &'static str) -> Option<Vec<String>> {
        self.typed(name, json, "a list of strings", |value| match value {
            Value::List(items) => items.iter().map(Value::to_hcl_string).collect(),
            single => single.to_hcl_string().map(|s| vec![s]),
        })
    }

    /// A raw value, for free-form attributes.
    pub fn value(&self, name: &'static str, json: &'static str) -> Option<Value> {
        self.attribute(name, json).map(|(a, _)| a.value.clone())
    }

    /// A map of strings written either as an attribute (`meta = { a = "b" }`)
    /// or as a block (`meta { a = "b" }`); several blocks merge. Values are
    /// converted to strings as Nomad does (`count = 3` becomes `"3"`).
    pub fn string_map(
        &self,
        name: &'static str,
        json: &'static str,
    ) -> Option<BTreeMap<String, String>> {
        let value = self.map_value(name, json)?;
        let path = self.path.field(name, json);
        let Value::Object(map) = value else {
            return None;
        };
        let mut out = BTreeMap::new();
        for (key, value) in map {
            match value.to_hcl_string() {
                Some(text) => {
                    out.insert(key, text);
                }
                None => self.decoder.error(
                    self.span_of(&path),
                    &path.key(&key),
                    format!(
                        "{name}: value of {key:?} must be a string, number or bool, got {}",
                        describe(&value)
                    ),
                ),
            }
        }
        Some(out)
    }

    /// A free-form map written as an attribute or as one or more blocks
    /// (block bodies become objects, nested blocks lists of objects).
    pub fn map_value(&self, name: &'static str, json: &'static str) -> Option<Value> {
        let mut merged: Option<BTreeMap<String, Value>> = None;
        if let Some((attribute, path)) = self.attribute(name, json) {
            match &attribute.value {
                Value::Object(map) => merged = Some(map.clone()),
                Value::Null => {}
                other => self.decoder.error(
                    attribute.value_span.clone(),
                    &path,
                    format!("argument \"{name}\" must be a map, got {}", describe(other)),
                ),
            }
        }
        for block in self.blocks_raw(name) {
            let path = self.path.field(name, json);
            self.decoder.record(&path, block.span.clone());
            if !block.labels.is_empty() {
                self.decoder.error(
                    block.span.clone(),
                    &path,
                    format!("a {name} block takes no labels"),
                );
            }
            if let Value::Object(map) = block.body.to_value() {
                merged.get_or_insert_with(BTreeMap::new).extend(map);
            }
        }
        merged.map(Value::Object)
    }

    /// How many `policy` blocks the body has (scaling takes at most one).
    pub fn policy_block_count(&self) -> usize {
        self.body
            .blocks
            .iter()
            .filter(|b| b.kind == "policy")
            .count()
    }

    /// The whole body as a free-form value (see [`Body::to_value`]).
    pub fn body_value(&self) -> Value {
        self.body.to_value()
    }

    /// Marks every attribute and block as used: the body is free-form.
    pub fn accept_everything(&self) {
        self.free_form.set(true);
    }

    fn blocks_raw(&self, name: &'static str) -> Vec<&'a Block> {
        self.asked.borrow_mut().push(name);
        let mut out = Vec::new();
        for (i, block) in self.body.blocks.iter().enumerate() {
            if block.kind == name {
                self.used_blocks.borrow_mut()[i] = true;
                out.push(block);
            }
        }
        out
    }

    /// Every nested block of type `name`, with readers. `labeled` gives the
    /// JSON field for a labeled block (`Some("TaskGroups")`), which also
    /// requires exactly one label; unlabeled blocks get an index in their path
    /// when `repeatable`.
    pub fn blocks(
        &self,
        name: &'static str,
        json: &'static str,
        labeled: bool,
    ) -> Vec<(BlockReader<'a>, Option<String>)> {
        let raw = self.blocks_raw(name);
        let mut out = Vec::with_capacity(raw.len());
        for (index, block) in raw.into_iter().enumerate() {
            let path = if labeled {
                match block.labels.as_slice() {
                    [label] => self.path.labeled(name, json, label, Some(index)),
                    [] => {
                        self.decoder.error(
                            block.span.clone(),
                            &self.path,
                            format!("a {name} block needs a label: {name} \"NAME\" {{ ... }}"),
                        );
                        continue;
                    }
                    _ => {
                        self.decoder.error(
                            block.span.clone(),
                            &self.path,
                            format!(
                                "a {name} block takes exactly one label, got {}",
                                block.labels.len()
                            ),
                        );
                        continue;
                    }
                }
            } else {
                if !block.labels.is_empty() {
                    self.decoder.error(
                        block.span.clone(),
                        &self.path.indexed(name, json, index),
                        format!("a {name} block takes no labels, got {:?}", block.labels),
                    );
                }
                self.path.indexed(name, json, index)
            };
            let label = block.labels.first().cloned();
            out.push((
                BlockReader::new(self.decoder, &block.body, path, block.span.clone()),
                label,
            ));
        }
        out
    }

    /// The one nested block of type `name`; a second one is an error.
    pub fn block(&self, name: &'static str, json: &'static str) -> Option<BlockReader<'a>> {
        let raw = self.blocks_raw(name);
        let first = *raw.first()?;
        for extra in &raw[1..] {
            self.decoder.error(
                extra.span.clone(),
                &self.path.field(name, json),
                format!("only one {name} block is allowed here; the first is at an earlier line"),
            );
        }
        if !first.labels.is_empty() {
            self.decoder.error(
                first.span.clone(),
                &self.path.field(name, json),
                format!("a {name} block takes no labels, got {:?}", first.labels),
            );
        }
        Some(BlockReader::new(
            self.decoder,
            &first.body,
            self.path.field(name, json),
            first.span.clone(),
        ))
    }

    fn span_of(&self, path: &FieldPath) -> Range<usize> {
        self.decoder
            .spans
            .borrow()
            .get(&path.to_hcl())
            .cloned()
            .unwrap_or_else(|| self.span.clone())
    }

    /// Reports every attribute and block that was not read as unsupported.
    /// `known` lists extra names that are accepted but ignored.
    pub fn finish(&self, known: &[&str]) {
        if self.free_form.get() {
            return;
        }
        let mut candidates: Vec<&str> = known.to_vec();
        candidates.extend(self.asked.borrow().iter().copied());
        let used_attributes = self.used_attributes.borrow();
        for (i, attribute) in self.body.attributes.iter().enumerate() {
            if used_attributes[i] || known.contains(&attribute.name.as_str()) {
                continue;
            }
            self.decoder.error(
                attribute.name_span.clone(),
                &self.path,
                format!(
                    "unsupported argument \"{}\"{}",
                    attribute.name,
                    hint(&attribute.name, &candidates)
                ),
            );
        }
        let used_blocks = self.used_blocks.borrow();
        for (i, block) in self.body.blocks.iter().enumerate() {
            if used_blocks[i] || known.contains(&block.kind.as_str()) {
                continue;
            }
            self.decoder.error(
                block.span.clone(),
                &self.path,
                format!(
                    "unsupported block type \"{}\"{}",
                    block.kind,
                    hint(&block.kind, &candidates)
                ),
            );
        }
    }
}

fn hint(name: &str, candidates: &[&str]) -> String {
    closest_name(name, candidates)
        .filter(|c| *c != name)
        .map(|c| format!("; did you mean \"{c}\"?"))
        .unwrap_or_default()
}

/// A short description of a value for error messages.
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        Value::String(_) => "a string".to_owned(),
        Value::Number(n) => format!("the number {}", crate::jobspec::value::format_number(n)),
        Value::Bool(b) => format!("{b}"),
        Value::List(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        Value::Null => "null".to_owned(),
        Value::Unknown(expr) => format!("the runtime value ${{{expr}}}"),
    }
}

/// Parses `"512"`, `"512MB"`, `"1.5 GiB"`, `"2048KiB"` to whole MiB.
pub fn parse_size_mib(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let per_mib = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "m" | "mb" | "mib" => 1.0,
        "k" | "kb" | "kib" => 1.0 / 1024.0,
        "g" | "gb" | "gib" => 1024.0,
        "t" | "tb" | "tib" => 1024.0 * 1024.0,
        _ => return None,
    };
    let mib = number * per_mib;
    (mib.is_finite() && mib.fract() == 0.0 && mib.abs() < i64::MAX as f64).then_some(mib as i64)
}

#[cfg(test)]
mod tests {
    use super::parse_size_mib;

    #[test]
    fn sizes_read_as_whole_mib() {
        assert_eq!(parse_size_mib("512"), Some(512));
        assert_eq!(parse_size_mib("512MB"), Some(512));
        assert_eq!(parse_size_mib("1.5 GiB"), Some(1536));
        assert_eq!(parse_size_mib("2048KiB"), Some(2));
        assert_eq!(parse_size_mib("1gb"), Some(1024));
        for bad in ["", "MB", "1.5MB", "1000KB", "12 parsecs", "1e9", "-"] {
            assert_eq!(parse_size_mib(bad), None, "{bad:?}");
        }
    }
}
