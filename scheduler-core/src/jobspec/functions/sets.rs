//! Set functions. Sets are lists without duplicates; like cty, sets of
//! strings, numbers or bools are kept in sorted order.

use super::conversion::unify;
use super::{FunctionContext, MAX_LIST_LEN, dedup_key};
use crate::jobspec::value::Value;
use std::cmp::Ordering;
use std::collections::HashSet;

type Res = Result<Value, String>;

/// Turns values into a set: unified to a common type, duplicates removed,
/// sorted when the elements are primitives.
pub(crate) fn make_set(items: Vec<Value>) -> Result<Vec<Value>, String> {
    let items = unify(items).map_err(|e| format!("all elements must have the same type: {e}"))?;
    let mut seen = HashSet::new();
    let mut out: Vec<Value> = items
        .into_iter()
        .filter(|v| seen.insert(dedup_key(v)))
        .collect();
    let all = |kind: &str| out.iter().all(|v| v.type_name() == kind);
    if all("string") || all("number") || all("bool") {
        out.sort_by(compare_primitive);
    }
    Ok(out)
}

fn compare_primitive(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => x.partial_cmp(y).unwrap_or(Ordering::Equal),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => Ordering::Equal,
    }
}

/// Each argument as a list of elements, all unified to one element type.
fn set_args(args: Vec<Value>) -> Result<Vec<Vec<Value>>, String> {
    let lists = lists(args)?;
    let lengths: Vec<usize> = lists.iter().map(Vec::len).collect();
    let mut all = unify(lists.into_iter().flatten().collect())
        .map_err(|e| format!("all elements must have the same type: {e}"))?
        .into_iter();
    Ok(lengths
        .into_iter()
        .map(|len| all.by_ref().take(len).collect())
        .collect())
}

/// Each argument as a list of elements.
fn lists(args: Vec<Value>) -> Result<Vec<Vec<Value>>, String> {
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| match arg {
            Value::List(items) => Ok(items),
            v => Err(format!(
                "argument {} must be a set or list, got {}",
                i + 1,
                v.type_name()
            )),
        })
        .collect()
}

fn key_set(items: &[Value]) -> HashSet<String> {
    items.iter().map(dedup_key).collect()
}

/// `setunion(sets...)`.
pub(super) fn setunion(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    make_set(set_args(args)?.into_iter().flatten().collect()).map(Value::List)
}

/// `setintersection(sets...)`.
pub(super) fn setintersection(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut sets = set_args(args)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let others: Vec<HashSet<String>> = sets.map(|s| key_set(&s)).collect();
    let kept = first
        .into_iter()
        .filter(|v| {
            let key = dedup_key(v);
            others.iter().all(|o| o.contains(&key))
        })
        .collect();
    make_set(kept).map(Value::List)
}

/// `setsubtract(a, b)`: the elements of `a` that are not in `b`.
pub(super) fn setsubtract(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut sets = set_args(args)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let remove = key_set(&sets.next().unwrap_or_default());
    make_set(
        first
            .into_iter()
            .filter(|v| !remove.contains(&dedup_key(v)))
            .collect(),
    )
    .map(Value::List)
}

/// `setproduct(sets...)`: every combination, one element from each argument,
/// in the order of the arguments.
pub(super) fn setproduct(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let sets = lists(args)?
        .into_iter()
        .enumerate()
        .map(|(i, s)| {
            unify(s).map_err(|e| {
                format!(
                    "argument {}: all elements must have the same type: {e}",
                    i + 1
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let total = sets
        .iter()
        .try_fold(1usize, |acc, s| acc.checked_mul(s.len()));
    let total = match total {
        Some(t) if t <= MAX_LIST_LEN => t,
        _ => {
            return Err(format!(
                "the product would have more than {MAX_LIST_LEN} elements"
            ));
        }
    };
    let mut out = Vec::with_capacity(total);
    let mut cursor = vec![0usize; sets.len()];
    for _ in 0..total {
        out.push(Value::List(
            cursor
                .iter()
                .zip(&sets)
                .map(|(&i, s)| s[i].clone())
                .collect(),
        ));
        for j in (0..sets.len()).rev() {
            cursor[j] += 1;
            if cursor[j] < sets[j].len() {
                break;
            }
            cursor[j] = 0;
        }
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn union_intersection_subtract() {
        assert_eq!(
            run("setunion", vec![strs(&["b", "a"]), strs(&["c", "a"])]),
            Ok(strs(&["a", "b", "c"]))
        );
        assert_eq!(
            run("setunion", vec![list(vec![n(10), n(2)])]),
            Ok(list(vec![n(2), n(10)]))
        );
        assert_eq!(
            run("setunion", vec![strs(&["a"]), list(vec![n(1)])]),
            Ok(strs(&["1", "a"]))
        );
        fails(
            "setunion",
            vec![strs(&["a"]), s("b")],
            "argument 2 must be a set or list",
        );
        fails(
            "setunion",
            vec![strs(&["a"]), list(vec![strs(&[])])],
            "same type",
        );
        assert_eq!(
            run(
                "setintersection",
                vec![strs(&["a", "b"]), strs(&["b", "c"]), strs(&["b", "d"])]
            ),
            Ok(strs(&["b"]))
        );
        assert_eq!(
            run("setintersection", vec![strs(&["1"]), list(vec![n(1)])]),
            Ok(strs(&["1"]))
        );
        fails("setintersection", vec![n(1)], "must be a set or list");
        assert_eq!(
            run(
                "setsubtract",
                vec![strs(&["a", "b", "c"]), strs(&["a", "c"])]
            ),
            Ok(strs(&["b"]))
        );
        fails("setsubtract", vec![strs(&["a"]), obj(&[])], "argument 2");
    }

    #[test]
    fn product() {
        assert_eq!(
            run("setproduct", vec![strs(&["a", "b"]), strs(&["1", "2"])]),
            Ok(list(vec![
                strs(&["a", "1"]),
                strs(&["a", "2"]),
                strs(&["b", "1"]),
                strs(&["b", "2"])
            ]))
        );
        assert_eq!(
            run("setproduct", vec![strs(&["a"]), list(vec![])]),
            Ok(list(vec![]))
        );
        fails(
            "setproduct",
            vec![strs(&["a"])],
            "expects at least 2 arguments",
        );
        let big = Value::List((0..1100).map(Value::int).collect());
        fails("setproduct", vec![big.clone(), big], "more than 1048576");
    }
}
