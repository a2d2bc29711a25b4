//! HCL type constraints: `string`, `list(map(string))`,
//! `object({name = string, port = optional(number)})`... One type system
//! serves `variable` blocks' `type` and the `convert()` function.

use super::eval::EvalError;
use super::functions::conversion::unify;
use super::functions::sets::make_set;
use super::functions::{to_number, to_string, truncate};
use super::value::Value;
use hcl::edit::Span;
use hcl::edit::expr::{Expression, ObjectKey};
use std::collections::BTreeMap;
use std::fmt;

/// An HCL type constraint.
#[derive(Debug, Clone, PartialEq)]
pub enum Type {
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
    /// The type's kind, for messages.
    pub fn name(&self) -> &'static str {
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
/// Converts a value to a type the way cty does (primitives to and from
/// strings, lists to sets, objects to maps), unifying element types.
pub fn convert_value(v: &Value, ty: &Type) -> Result<Value, String> {
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

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Any => f.write_str("any"),
            Type::String => f.write_str("string"),
            Type::Number => f.write_str("number"),
            Type::Bool => f.write_str("bool"),
            Type::List(t) => write!(f, "list({t})"),
            Type::Set(t) => write!(f, "set({t})"),
            Type::Map(t) => write!(f, "map({t})"),
            Type::Object(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(k, t, optional)| {
                        if *optional {
                            format!("{k} = optional({t})")
                        } else {
                            format!("{k} = {t}")
                        }
                    })
                    .collect();
                write!(f, "object({{{}}})", inner.join(", "))
            }
            Type::Tuple(items) => {
                let inner: Vec<String> = items.iter().map(ToString::to_string).collect();
                write!(f, "tuple([{}])", inner.join(", "))
            }
        }
    }
}

impl Type {
    /// Reads a type expression (`string`, `list(map(string))`, `object({a = number})`).
    pub fn from_expr(expr: &Expression) -> Result<Type, EvalError> {
        let error = |message: String| EvalError {
            span: expr.span().unwrap_or(0..0),
            message,
        };
        match expr {
            Expression::Variable(name) => match name.value().as_str() {
                "any" => Ok(Type::Any),
                "string" => Ok(Type::String),
                "number" => Ok(Type::Number),
                "bool" => Ok(Type::Bool),
                other => Err(error(format!(
                    "unknown type \"{other}\"; expected string, number, bool, any, list(...), set(...), map(...), object({{...}}) or tuple([...])"
                ))),
            },
            Expression::FuncCall(call) => {
                let args: Vec<&Expression> = call.args.iter().collect();
                let name = call.name.name.value().as_str();
                let [arg] = args.as_slice() else {
                    return Err(error(format!(
                        "type {name}(...) takes exactly one argument"
                    )));
                };
                match name {
                    "list" => Ok(Type::List(Box::new(Self::from_expr(arg)?))),
                    "set" => Ok(Type::Set(Box::new(Self::from_expr(arg)?))),
                    "map" => Ok(Type::Map(Box::new(Self::from_expr(arg)?))),
                    "object" => match arg {
                        Expression::Object(object) => {
                            let mut fields = Vec::new();
                            for (key, value) in object.iter() {
                                let key = match key {
                                    ObjectKey::Ident(ident) => ident.value().to_string(),
                                    ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                                    ObjectKey::Expression(other) => {
                                        return Err(EvalError {
                                            span: other.span().unwrap_or(0..0),
                                            message: "object type attribute names must be names or strings".into(),
                                        });
                                    }
                                };
                                let (field_type, optional) = Self::attribute_type(value.expr())?;
                                fields.push((key, field_type, optional));
                            }
                            Ok(Type::Object(fields))
                        }
                        _ => Err(error("object(...) takes an object of attribute types, such as object({name = string})".into())),
                    },
                    "tuple" => match arg {
                        Expression::Array(items) => Ok(Type::Tuple(
                            items.iter().map(Self::from_expr).collect::<Result<_, _>>()?,
                        )),
                        _ => Err(error("tuple(...) takes a list of types, such as tuple([string, number])".into())),
                    },
                    other => Err(error(format!("unknown type constructor \"{other}\""))),
                }
            }
            _ => Err(error(
                "a type is expected here, such as string or list(string)".into(),
            )),
        }
    }

    /// An object attribute's type, unwrapping `optional(T)`.
    fn attribute_type(expr: &Expression) -> Result<(Type, bool), EvalError> {
        if let Expression::FuncCall(call) = expr
            && call.name.name.value().as_str() == "optional"
        {
            let args: Vec<&Expression> = call.args.iter().collect();
            return match args.as_slice() {
                [inner] => Ok((Self::from_expr(inner)?, true)),
                _ => Err(EvalError {
                    span: expr.span().unwrap_or(0..0),
                    message:
                        "optional(...) takes exactly one type; attribute defaults are not supported"
                            .into(),
                }),
            };
        }
        Ok((Self::from_expr(expr)?, false))
    }

    /// Parses the text of a type expression (`"list(string)"`).
    pub fn parse(text: &str) -> Result<Type, String> {
        let expr = hcl::edit::parser::parse_expr(text)
            .map_err(|e| format!("invalid type {text:?}: {}", e.message()))?;
        Self::from_expr(&expr).map_err(|e| e.message)
    }

    /// Converts a value to this type; see [`convert_value`].
    pub fn convert(&self, value: Value) -> Result<Value, String> {
        convert_value(&value, self)
    }

    /// Whether a `-var` value for this type is taken literally as a string
    /// (simple types) or parsed as an HCL expression (collections).
    pub fn takes_raw_string(&self) -> bool {
        matches!(self, Type::Any | Type::String | Type::Number | Type::Bool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_type_expressions_and_prints_them_back() {
        for text in [
            "string",
            "list(map(string))",
            "set(number)",
            "tuple([string, bool])",
            "object({name = string, port = optional(number)})",
        ] {
            assert_eq!(Type::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "strin",
            "list(",
            "list(string, number)",
            "object(string)",
            "optional(string)",
            "1",
        ] {
            assert!(Type::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn converts_like_hcl() {
        let ty = Type::parse("object({name = string, port = optional(number)})").unwrap();
        let value = Value::Object(BTreeMap::from([("name".to_owned(), Value::int(7))]));
        let converted = ty.convert(value).unwrap();
        assert_eq!(
            converted,
            Value::Object(BTreeMap::from([
                ("name".to_owned(), Value::string("7")),
                ("port".to_owned(), Value::Null)
            ]))
        );
        let set = Type::parse("set(string)").unwrap();
        let list = Value::List(vec![Value::string("a"), Value::string("a"), Value::int(1)]);
        assert_eq!(
            set.convert(list).unwrap(),
            Value::List(vec![Value::string("1"), Value::string("a")])
        );
        assert!(Type::Number.convert(Value::string("x")).is_err());
    }
}
