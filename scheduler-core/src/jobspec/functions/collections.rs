//! Functions that look things up in lists and maps, or build maps.

use super::conversion::unify;
use super::{
    FunctionContext, int_arg, list_arg, object_arg, string_arg, string_list_arg, to_string,
};
use crate::jobspec::value::Value;
use std::collections::BTreeMap;

type Res = Result<Value, String>;

fn count(n: usize) -> Value {
    Value::int(i64::try_from(n).unwrap_or(i64::MAX))
}

/// `length(value)`: characters of a string, elements of a list, keys of a map.
pub(super) fn length(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    match &args[0] {
        Value::String(s) => Ok(count(s.chars().count())),
        Value::List(items) => Ok(count(items.len())),
        Value::Object(map) => Ok(count(map.len())),
        v => Err(format!(
            "argument 1 must be a string, list or map, got {}",
            v.type_name()
        )),
    }
}

/// `element(list, index)`: the index wraps around the list's length.
pub(super) fn element(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let items = list_arg(&args, 0)?;
    let index = int_arg(&args, 1)?;
    if index < 0 {
        return Err("cannot use a negative index".to_owned());
    }
    if items.is_empty() {
        return Err("cannot take an element of an empty list".to_owned());
    }
    let at = usize::try_from(index).unwrap_or(usize::MAX) % items.len();
    Ok(items[at].clone())
}

/// `index(collection, key)`: `list[n]` or `map[key]`, as Nomad defines it.
pub(super) fn index(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    match &args[0] {
        Value::List(items) => {
            let i = int_arg(&args, 1)?;
            usize::try_from(i)
                .ok()
                .and_then(|i| items.get(i))
                .cloned()
                .ok_or_else(|| format!("invalid index {i} for a list of length {}", items.len()))
        }
        Value::Object(map) => {
            let key = string_arg(&args, 1)?;
            map.get(&key)
                .cloned()
                .ok_or_else(|| format!("the map has no element with key {key:?}"))
        }
        v => Err(format!(
            "argument 1 must be a list or map, got {}",
            v.type_name()
        )),
    }
}

/// `lookup(map, key, default?)`.
pub(super) fn lookup(_: &FunctionContext<'_>, mut args: Vec<Value>) -> Res {
    let key = string_arg(&args, 1)?;
    if let Some(found) = object_arg(&args, 0)?.get(&key) {
        return Ok(found.clone());
    }
    if args.len() == 3 {
        return Ok(args.swap_remove(2));
    }
    Err(format!(
        "the given map has no key {key:?} and no default was given"
    ))
}

pub(super) fn keys(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::List(
        object_arg(&args, 0)?.keys().map(Value::string).collect(),
    ))
}

pub(super) fn values(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::List(
        object_arg(&args, 0)?.values().cloned().collect(),
    ))
}

/// `merge(maps...)`: later keys win; null arguments are skipped.
pub(super) fn merge(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out = BTreeMap::new();
    let mut all_null = !args.is_empty();
    for (i, arg) in args.into_iter().enumerate() {
        match arg {
            Value::Null => {}
            Value::Object(map) => {
                all_null = false;
                out.extend(map);
            }
            v => {
                return Err(format!(
                    "argument {} must be a map or object, got {}",
                    i + 1,
                    v.type_name()
                ));
            }
        }
    }
    Ok(if all_null {
        Value::Null
    } else {
        Value::Object(out)
    })
}

pub(super) fn contains(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(list_arg(&args, 0)?.contains(&args[1])))
}

/// `coalesce(values...)`: the first argument that is neither null nor an
/// empty string, after converting all arguments to a common type.
pub(super) fn coalesce(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let unified = unify(args).map_err(|_| "all arguments must have the same type".to_owned())?;
    unified
        .into_iter()
        .find(|v| !v.is_null() && v.as_str() != Some(""))
        .ok_or_else(|| "no argument is non-null and non-empty".to_owned())
}

/// `coalescelist(lists...)`: the first non-empty list.
pub(super) fn coalescelist(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    for (i, arg) in args.iter().enumerate() {
        match arg {
            Value::Null => {}
            Value::List(items) if items.is_empty() => {}
            Value::List(_) => return Ok(arg.clone()),
            v => {
                return Err(format!(
                    "argument {} must be a list, got {}",
                    i + 1,
                    v.type_name()
                ));
            }
        }
    }
    Err("every argument is empty or null".to_owned())
}

/// `zipmap(keys, values)`.
pub(super) fn zipmap(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let keys = string_list_arg(&args, 0)?;
    let values = list_arg(&args, 1)?;
    if keys.len() != values.len() {
        return Err(format!(
            "the number of keys ({}) does not match the number of values ({})",
            keys.len(),
            values.len()
        ));
    }
    Ok(Value::Object(
        keys.into_iter().zip(values.iter().cloned()).collect(),
    ))
}

/// `transpose(map of lists of strings)`: swaps keys and values.
pub(super) fn transpose(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (key, value) in object_arg(&args, 0)? {
        let Value::List(items) = value else {
            return Err(format!(
                "the value of key {key:?} must be a list of strings, got {}",
                value.type_name()
            ));
        };
        for item in items {
            let text = to_string(item).ok_or_else(|| {
                format!(
                    "the list under key {key:?} must hold strings, not {}",
                    item.type_name()
                )
            })?;
            out.entry(text).or_default().push(Value::string(key));
        }
    }
    Ok(Value::Object(
        out.into_iter().map(|(k, v)| (k, Value::List(v))).collect(),
    ))
}

/// `one(list)`: null for an empty list, the element of a one-element list.
pub(super) fn one(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    match list_arg(&args, 0)? {
        [] => Ok(Value::Null),
        [only] => Ok(only.clone()),
        more => Err(format!(
            "the list must have zero or one elements, but has {}",
            more.len()
        )),
    }
}

fn bools(args: &[Value]) -> Result<Vec<Option<bool>>, String> {
    list_arg(args, 0)?
        .iter()
        .enumerate()
        .map(|(j, v)| match v {
            Value::Null => Ok(None),
            _ => v.as_bool().map(Some).ok_or_else(|| {
                format!(
                    "argument 1 must be a list of bools, but element {j} is {}",
                    v.type_name()
                )
            }),
        })
        .collect()
}

/// `alltrue(list)`: true when every element is true (null counts as false).
pub(super) fn alltrue(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(bools(&args)?.iter().all(|b| *b == Some(true))))
}

/// `anytrue(list)`: true when any element is true.
pub(super) fn anytrue(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    Ok(Value::Bool(bools(&args)?.contains(&Some(true))))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn length_counts_chars_elements_and_keys() {
        assert_eq!(run("length", vec![s("héllo")]), Ok(n(5)));
        assert_eq!(run("length", vec![strs(&["a", "b"])]), Ok(n(2)));
        assert_eq!(run("length", vec![obj(&[("a", n(1))])]), Ok(n(1)));
        fails(
            "length",
            vec![n(5)],
            "must be a string, list or map, got number",
        );
    }

    #[test]
    fn element_and_index() {
        assert_eq!(
            run("element", vec![strs(&["a", "b", "c"]), n(4)]),
            Ok(s("b"))
        );
        fails("element", vec![strs(&["a"]), n(-1)], "negative");
        fails("element", vec![list(vec![]), n(0)], "empty list");
        assert_eq!(run("index", vec![strs(&["a", "b", "c"]), n(1)]), Ok(s("b")));
        assert_eq!(
            run("index", vec![obj(&[("a", n(1)), ("c", n(2))]), s("c")]),
            Ok(n(2))
        );
        fails("index", vec![strs(&["a"]), n(3)], "invalid index 3");
        fails("index", vec![obj(&[]), s("x")], "no element with key \"x\"");
        fails("index", vec![s("abc"), n(0)], "must be a list or map");
    }

    #[test]
    fn lookup_keys_values() {
        let m = obj(&[("a", s("ay")), ("b", s("bee"))]);
        assert_eq!(run("lookup", vec![m.clone(), s("a")]), Ok(s("ay")));
        assert_eq!(
            run("lookup", vec![m.clone(), s("c"), s("what?")]),
            Ok(s("what?"))
        );
        fails("lookup", vec![m.clone(), s("c")], "no key \"c\"");
        fails(
            "lookup",
            vec![strs(&["a"]), s("c")],
            "must be a map or object, got list",
        );
        assert_eq!(run("keys", vec![m.clone()]), Ok(strs(&["a", "b"])));
        assert_eq!(run("values", vec![m]), Ok(strs(&["ay", "bee"])));
        fails("keys", vec![strs(&[])], "must be a map");
        fails("values", vec![Value::Null], "must be a map");
    }

    #[test]
    fn merge_later_wins_and_skips_null() {
        let a = obj(&[("a", n(1)), ("b", n(2))]);
        let b = obj(&[("b", n(3))]);
        assert_eq!(
            run("merge", vec![a, Value::Null, b]),
            Ok(obj(&[("a", n(1)), ("b", n(3))]))
        );
        assert_eq!(run("merge", vec![]), Ok(obj(&[])));
        assert_eq!(run("merge", vec![Value::Null]), Ok(Value::Null));
        fails(
            "merge",
            vec![obj(&[]), n(1)],
            "argument 2 must be a map or object, got number",
        );
    }

    #[test]
    fn coalesce_and_coalescelist() {
        assert_eq!(run("coalesce", vec![s(""), s("b")]), Ok(s("b")));
        assert_eq!(run("coalesce", vec![Value::Null, n(2), n(3)]), Ok(n(2)));
        assert_eq!(run("coalesce", vec![n(1), s("a")]), Ok(s("1")));
        fails("coalesce", vec![Value::Null, s("")], "no argument");
        fails("coalesce", vec![strs(&["a"]), s("b")], "same type");
        assert_eq!(
            run("coalescelist", vec![list(vec![]), strs(&["c"])]),
            Ok(strs(&["c"]))
        );
        fails(
            "coalescelist",
            vec![list(vec![]), list(vec![])],
            "every argument is empty",
        );
        fails("coalescelist", vec![s("a")], "must be a list");
    }

    #[test]
    fn alltrue_anytrue() {
        let t = Value::Bool(true);
        let f = Value::Bool(false);
        assert_eq!(
            run("alltrue", vec![list(vec![t.clone(), s("true")])]),
            Ok(t.clone())
        );
        assert_eq!(run("alltrue", vec![list(vec![])]), Ok(t.clone()));
        assert_eq!(
            run("alltrue", vec![list(vec![t.clone(), Value::Null])]),
            Ok(f.clone())
        );
        assert_eq!(
            run("anytrue", vec![list(vec![f.clone(), t.clone()])]),
            Ok(t)
        );
        assert_eq!(run("anytrue", vec![list(vec![])]), Ok(f));
        fails("alltrue", vec![list(vec![n(1)])], "list of bools");
        fails("anytrue", vec![s("true")], "must be a list");
    }
}
