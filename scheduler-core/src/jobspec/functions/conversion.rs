//! Type conversion: `tostring`, `tonumber`, `tobool`, `tolist`, `toset`,
//! `tomap` and `convert(value, type)`, plus the type unification other
//! functions use when they combine values of different primitive types.

use super::sets::make_set;
use super::{FunctionContext, string_arg, to_number, to_string, truncate};
use crate::jobspec::value::Value;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

/// Converts values to a common type the way cty unifies them: values that
/// already share a type are unchanged; a mix of primitive types becomes
/// strings; a mix that includes lists or maps cannot be unified.
pub(crate) fn unify(values: Vec<Value>) -> Result<Vec<Value>, String> {
    let mut kinds: Vec<&'static str> = values
        .iter()
        .filter(|v| !v.is_null())
        .map(Value::type_name)
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    if kinds.len() <= 1 {
        return Ok(values);
    }
    if let Some(bad) = kinds
        .iter()
        .find(|k| !matches!(**k, "string" | "number" | "bool"))
    {
        let other = kinds
            .iter()
            .find(|k| *k != bad)
            .copied()
            .unwrap_or("string");
        return Err(format!("cannot find a common type for {bad} and {other}"));
    }
    Ok(values
        .into_iter()
        .map(|v| match to_string(&v) {
            Some(s) => Value::String(s),
            None => v,
        })
        .collect())
}

pub(super) fn tostring(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::String)
}

pub(super) fn tonumber(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::Number)
}

pub(super) fn tobool(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::Bool)
}

pub(super) fn tolist(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::List(Box::new(Type::Any)))
}

pub(super) fn toset(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::Set(Box::new(Type::Any)))
}

pub(super) fn tomap(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    convert_value(&args[0], &Type::Map(Box::new(Type::Any)))
}

/// `convert(value, type)`, with the type given as the text of an HCL type
/// expression (`"list(string)"`, `"object({name = string})"`).
pub(super) fn convert(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let text = string_arg(&args, 1)?;
    let ty = parse_type(&text)?;
    convert_value(&args[0], &ty)
}

/// An HCL type constraint.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Type {
    Any,
    String,
    Number,
    Bool,
    List(Box<Type>),
    Set(Box<Type>),
    Map(Box<Type>),
    Tuple(Vec<Type>),
    /// Attributes with their types and whether they are optional.
    Object(Vec<(String, Type, bool)>),
}

impl Type {
    fn name(&self) -> &'static str {
        match self {
            Type::Any => "any",
            Type::String => "string",
            Type::Number => "number",
            Type::Bool => "bool",
            Type::List(_) => "list",
            Type::Set(_) => "set",
            Type::Map(_) => "map",
            Type::Tuple(_) => "tuple",
            Type::Object(_) => "object",
        }
    }
}

/// Converts `v` to `ty`; null converts to null of any type.
pub(crate) fn convert_value(v: &Value, ty: &Type) -> Res {
    if v.is_null() {
        return Ok(Value::Null);
    }
    let mismatch = || format!("cannot convert {} to {}", v.type_name(), ty.name());
    match ty {
        Type::Any => Ok(v.clone()),
        Type::String => to_string(v).map(Value::String).ok_or_else(mismatch),
        Type::Number => to_number(v).map(Value::Number).ok_or_else(|| match v {
            Value::String(s) => format!(
                "cannot convert {:?} to number; the string must hold a decimal number",
                truncate(s)
            ),
            _ => mismatch(),
        }),
        Type::Bool => v.as_bool().map(Value::Bool).ok_or_else(|| match v {
            Value::String(s) => format!(
                "cannot convert {:?} to bool; only \"true\" or \"false\" is allowed",
                truncate(s)
            ),
            _ => mismatch(),
        }),
        Type::List(elem) | Type::Set(elem) => {
            let Value::List(items) = v else {
                return Err(mismatch());
            };
            let converted = items
                .iter()
                .enumerate()
                .map(|(i, item)| convert_value(item, elem).map_err(|e| format!("element {i}: {e}")))
                .collect::<Result<Vec<_>, _>>()?;
            let converted = unify(converted)
                .map_err(|e| format!("all elements must have the same type: {e}"))?;
            if matches!(ty, Type::Set(_)) {
                make_set(converted).map(Value::List)
            } else {
                Ok(Value::List(converted))
            }
        }
        Type::Map(elem) => {
            let Value::Object(map) = v else {
                return Err(mismatch());
            };
            let mut out = BTreeMap::new();
            for (key, item) in map {
                out.insert(
                    key.clone(),
                    convert_value(item, elem).map_err(|e| format!("key {key:?}: {e}"))?,
                );
            }
            let keys: Vec<String> = out.keys().cloned().collect();
            let values = unify(out.into_values().collect())
                .map_err(|e| format!("all map elements must have the same type: {e}"))?;
            Ok(Value::Object(keys.into_iter().zip(values).collect()))
        }
        Type::Tuple(elems) => {
            let Value::List(items) = v else {
                return Err(mismatch());
            };
            if items.len() != elems.len() {
                return Err(format!(
                    "a tuple of {} elements is required, got {}",
                    elems.len(),
                    items.len()
                ));
            }
            items
                .iter()
                .zip(elems)
                .enumerate()
                .map(|(i, (item, t))| {
                    convert_value(item, t).map_err(|e| format!("element {i}: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::List)
        }
        Type::Object(attrs) => {
            let Value::Object(map) = v else {
                return Err(mismatch());
            };
            let mut out = BTreeMap::new();
            for (name, t, optional) in attrs {
                match map.get(name) {
                    Some(item) => {
                        out.insert(
                            name.clone(),
                            convert_value(item, t)
                                .map_err(|e| format!("attribute {name:?}: {e}"))?,
                        );
                    }
                    None if *optional => {
                        out.insert(name.clone(), Value::Null);
                    }
                    None => return Err(format!("attribute {name:?} is required")),
                }
            }
            Ok(Value::Object(out))
        }
    }
}

/// Parses an HCL type expression.
pub(crate) fn parse_type(text: &str) -> Result<Type, String> {
    let mut p = TypeParser {
        chars: text.chars().collect(),
        pos: 0,
        depth: 0,
    };
    let ty = p.ty(false)?.0;
    p.skip_space();
    if p.pos != p.chars.len() {
        return Err(format!(
            "unexpected {:?} in type expression {:?}",
            p.chars[p.pos],
            truncate(text)
        ));
    }
    Ok(ty)
}

struct TypeParser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl TypeParser {
    fn skip_space(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn ident(&mut self) -> String {
        self.skip_space();
        let start = self.pos;
        while self
            .chars
            .get(self.pos)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_' || *c == '-')
        {
            self.pos += 1;
        }
        self.chars[start..self.pos].iter().collect()
    }

    fn expect(&mut self, want: char) -> Result<(), String> {
        self.skip_space();
        match self.chars.get(self.pos) {
            Some(&c) if c == want => {
                self.pos += 1;
                Ok(())
            }
            Some(c) => Err(format!("expected {want:?} in type expression, found {c:?}")),
            None => Err(format!(
                "expected {want:?} in type expression, found the end"
            )),
        }
    }

    fn peek(&mut self, want: char) -> bool {
        self.skip_space();
        self.chars.get(self.pos) == Some(&want)
    }

    /// Parses a type; `optional(...)` is accepted only where `allow_optional`.
    fn ty(&mut self, allow_optional: bool) -> Result<(Type, bool), String> {
        self.depth += 1;
        if self.depth > 64 {
            return Err("the type expression is nested too deeply".to_owned());
        }
        let name = self.ident();
        let result = match name.as_str() {
            "any" => Type::Any,
            "string" => Type::String,
            "number" => Type::Number,
            "bool" => Type::Bool,
            "list" | "set" | "map" => {
                self.expect('(')?;
                let inner = Box::new(self.ty(false)?.0);
                self.expect(')')?;
                match name.as_str() {
                    "list" => Type::List(inner),
                    "set" => Type::Set(inner),
                    _ => Type::Map(inner),
                }
            }
            "optional" if allow_optional => {
                self.expect('(')?;
                let inner = self.ty(false)?.0;
                if self.peek(',') {
                    return Err("optional attribute defaults are not supported".to_owned());
                }
                self.expect(')')?;
                self.depth -= 1;
                return Ok((inner, true));
            }
            "tuple" => {
                self.expect('(')?;
                self.expect('[')?;
                let mut elems = Vec::new();
                while !self.peek(']') {
                    elems.push(self.ty(false)?.0);
                    if !self.peek(']') {
                        self.expect(',')?;
                    }
                }
                self.expect(']')?;
                self.expect(')')?;
                Type::Tuple(elems)
            }
            "object" => {
                self.expect('(')?;
                self.expect('{')?;
                let mut attrs = Vec::new();
                while !self.peek('}') {
                    let attr = self.ident();
                    if attr.is_empty() {
                        return Err("expected an attribute name in object type".to_owned());
                    }
                    self.expect('=')?;
                    let (t, optional) = self.ty(true)?;
                    attrs.push((attr, t, optional));
                    if self.peek(',') {
                        self.expect(',')?;
                    }
                }
                self.expect('}')?;
                self.expect(')')?;
                Type::Object(attrs)
            }
            "" => return Err("expected a type name".to_owned()),
            other => return Err(format!("unknown type {other:?}")),
        };
        self.depth -= 1;
        Ok((result, false))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use super::*;

    #[test]
    fn primitive_conversions() {
        assert_eq!(run("tostring", vec![n(5)]), Ok(s("5")));
        assert_eq!(run("tostring", vec![Value::Bool(true)]), Ok(s("true")));
        assert_eq!(run("tostring", vec![Value::Null]), Ok(Value::Null));
        fails(
            "tostring",
            vec![strs(&["a"])],
            "cannot convert list to string",
        );
        assert_eq!(run("tonumber", vec![s("1.5")]), Ok(Value::float(1.5)));
        assert_eq!(run("tonumber", vec![n(3)]), Ok(n(3)));
        fails("tonumber", vec![s("no")], "must hold a decimal number");
        fails(
            "tonumber",
            vec![Value::Bool(true)],
            "cannot convert bool to number",
        );
        assert_eq!(run("tobool", vec![s("false")]), Ok(Value::Bool(false)));
        fails("tobool", vec![s("yes")], "only \"true\" or \"false\"");
        fails("tobool", vec![n(1)], "cannot convert number to bool");
    }

    #[test]
    fn collection_conversions() {
        assert_eq!(
            run("tolist", vec![list(vec![s("a"), n(1)])]),
            Ok(strs(&["a", "1"]))
        );
        fails("tolist", vec![list(vec![s("a"), strs(&[])])], "same type");
        fails("tolist", vec![s("a")], "cannot convert string to list");
        assert_eq!(
            run("toset", vec![strs(&["b", "a", "b"])]),
            Ok(strs(&["a", "b"]))
        );
        fails("toset", vec![obj(&[])], "cannot convert object to set");
        assert_eq!(
            run("tomap", vec![obj(&[("a", n(1)), ("b", s("x"))])]),
            Ok(obj(&[("a", s("1")), ("b", s("x"))]))
        );
        fails("tomap", vec![strs(&["a"])], "cannot convert list to map");
    }

    #[test]
    fn convert_with_type_expressions() {
        assert_eq!(
            run("convert", vec![list(vec![n(1), n(2)]), s("list(string)")]),
            Ok(strs(&["1", "2"]))
        );
        assert_eq!(
            run("convert", vec![strs(&["1"]), s("set(number)")]),
            Ok(list(vec![n(1)]))
        );
        assert_eq!(
            run(
                "convert",
                vec![
                    obj(&[("a", s("1")), ("z", n(0))]),
                    s("object({a = number, b = optional(string)})")
                ]
            ),
            Ok(obj(&[("a", n(1)), ("b", Value::Null)]))
        );
        assert_eq!(
            run(
                "convert",
                vec![list(vec![n(1), s("x")]), s("tuple([string, string])")]
            ),
            Ok(strs(&["1", "x"]))
        );
        assert_eq!(
            run("convert", vec![obj(&[("k", n(1))]), s("map(any)")]),
            Ok(obj(&[("k", n(1))]))
        );
        fails(
            "convert",
            vec![obj(&[]), s("object({a = string})")],
            "attribute \"a\" is required",
        );
        fails(
            "convert",
            vec![n(1), s("list(strin)")],
            "unknown type \"strin\"",
        );
        fails("convert", vec![n(1), s("list(string")], "expected ')'");
        fails(
            "convert",
            vec![strs(&["x"]), s("list(number)")],
            "element 0",
        );
        assert!(parse_type(&"list(".repeat(100)).is_err());
    }
}
