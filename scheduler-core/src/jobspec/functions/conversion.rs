//! Type conversion: `tostring`, `tonumber`, `tobool`, `tolist`, `toset`,
//! `tomap` and `convert(value, type)`, plus the type unification other
//! functions use when they combine values of different primitive types.

use super::{FunctionContext, string_arg, to_string};
use crate::jobspec::types::{Type, convert_value};
use crate::jobspec::value::Value;

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
    let ty = Type::parse(&text)?;
    convert_value(&args[0], &ty)
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
        fails("convert", vec![n(1), s("list(string")], "invalid type");
        fails(
            "convert",
            vec![strs(&["x"]), s("list(number)")],
            "element 0",
        );
        assert!(Type::parse(&"list(".repeat(100)).is_err());
    }
}
