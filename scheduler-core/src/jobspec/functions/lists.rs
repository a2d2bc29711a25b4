//! Functions that reshape lists: flattening, concatenating, de-duplicating,
//! chunking, slicing, sorting, reversing, and `range`.

use super::{
    FunctionContext, MAX_LIST_LEN, dedup_key, f64_arg, float_value, int_arg, list_arg,
    string_list_arg, to_string,
};
use crate::jobspec::value::Value;
use std::collections::HashSet;

type Res = Result<Value, String>;

fn flatten_into(items: &[Value], out: &mut Vec<Value>) {
    for item in items {
        match item {
            Value::List(inner) => flatten_into(inner, out),
            other => out.push(other.clone()),
        }
    }
}

pub(super) fn flatten(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out = Vec::new();
    flatten_into(list_arg(&args, 0)?, &mut out);
    Ok(Value::List(out))
}

/// `concat(lists...)`.
pub(super) fn concat(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        match arg {
            Value::List(items) => out.extend(items),
            v => {
                return Err(format!(
                    "argument {} must be a list, got {}",
                    i + 1,
                    v.type_name()
                ));
            }
        }
    }
    Ok(Value::List(out))
}

/// `distinct(list)`: the first occurrence of each value, in order.
pub(super) fn distinct(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut seen = HashSet::new();
    Ok(Value::List(
        list_arg(&args, 0)?
            .iter()
            .filter(|v| seen.insert(dedup_key(v)))
            .cloned()
            .collect(),
    ))
}

/// `compact(list)`: drops empty strings and nulls from a list of strings.
pub(super) fn compact(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut out = Vec::new();
    for (j, item) in list_arg(&args, 0)?.iter().enumerate() {
        if item.is_null() {
            continue;
        }
        let text = to_string(item).ok_or_else(|| {
            format!(
                "argument 1 must be a list of strings, but element {j} is {}",
                item.type_name()
            )
        })?;
        if !text.is_empty() {
            out.push(Value::String(text));
        }
    }
    Ok(Value::List(out))
}
/// `chunklist(list, size)`; size 0 gives the whole list as one chunk.
pub(super) fn chunklist(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let items = list_arg(&args, 0)?;
    let size = int_arg(&args, 1)?;
    let size =
        usize::try_from(size).map_err(|_| "the chunk size must not be negative".to_owned())?;
    if items.is_empty() {
        return Ok(Value::List(Vec::new()));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items.to_vec())]));
    }
    Ok(Value::List(
        items
            .chunks(size)
            .map(|c| Value::List(c.to_vec()))
            .collect(),
    ))
}

/// `slice(list, start, end)`: elements `start..end`.
pub(super) fn slice(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let items = list_arg(&args, 0)?;
    let start = int_arg(&args, 1)?;
    let end = int_arg(&args, 2)?;
    let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
    if start < 0 {
        return Err("the start index must not be negative".to_owned());
    }
    if start > len {
        return Err(format!(
            "the start index {start} is beyond the list's length {len}"
        ));
    }
    if end < 0 {
        return Err("the end index must not be negative".to_owned());
    }
    if end > len {
        return Err(format!(
            "the end index {end} is beyond the list's length {len}"
        ));
    }
    if start > end {
        return Err(format!(
            "the start index {start} is greater than the end index {end}"
        ));
    }
    // Both are within 0..=len here.
    let (start, end) = (start as usize, end as usize);
    Ok(Value::List(items[start..end].to_vec()))
}

/// `sort(list)`: lexicographic order of the elements as strings.
pub(super) fn sort(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let mut items = string_list_arg(&args, 0)?;
    items.sort();
    Ok(Value::List(items.into_iter().map(Value::String).collect()))
}

/// `reverse(list)`; also reverses a string, as Nomad's implementation does.
pub(super) fn reverse(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    match &args[0] {
        Value::List(items) => Ok(Value::List(items.iter().rev().cloned().collect())),
        Value::String(s) => Ok(Value::String(s.chars().rev().collect())),
        v => Err(format!("argument 1 must be a list, got {}", v.type_name())),
    }
}

/// `range(end)`, `range(start, end)`, `range(start, end, step)`.
pub(super) fn range(_: &FunctionContext<'_>, args: Vec<Value>) -> Res {
    let nums: Vec<f64> = (0..args.len())
        .map(|i| f64_arg(&args, i))
        .collect::<Result<_, _>>()?;
    let (start, end, step) = match nums[..] {
        [end] => (0.0, end, if end < 0.0 { -1.0 } else { 1.0 }),
        [start, end] => (start, end, if end < start { -1.0 } else { 1.0 }),
        [start, end, step] => (start, end, step),
        _ => return Err("expects one, two or three arguments".to_owned()),
    };
    if step == 0.0 {
        return Err("the step must not be zero".to_owned());
    }
    if step < 0.0 && end > start {
        return Err("the end must be less than the start when the step is negative".to_owned());
    }
    if step > 0.0 && end < start {
        return Err("the end must be greater than the start when the step is positive".to_owned());
    }
    let too_many = || format!("the range would have more than {MAX_LIST_LEN} elements");
    if (end - start) / step > MAX_LIST_LEN as f64 {
        return Err(too_many());
    }
    let mut out = Vec::new();
    let mut current = start;
    while (step > 0.0 && current < end) || (step < 0.0 && current > end) {
        if out.len() >= MAX_LIST_LEN {
            return Err(too_many());
        }
        out.push(float_value(current)?);
        current += step;
    }
    Ok(Value::List(out))
}

#[cfg(test)]
mod tests {
    use super::super::testutil::*;
    use crate::jobspec::value::Value;

    #[test]
    fn flatten_concat_contains_distinct_compact() {
        let nested = list(vec![
            strs(&["a", "b"]),
            list(vec![]),
            list(vec![list(vec![s("c")])]),
            s("d"),
        ]);
        assert_eq!(
            run("flatten", vec![nested]),
            Ok(strs(&["a", "b", "c", "d"]))
        );
        fails("flatten", vec![s("a")], "must be a list");
        assert_eq!(
            run("concat", vec![strs(&["a"]), strs(&["b", "c"])]),
            Ok(strs(&["a", "b", "c"]))
        );
        fails(
            "concat",
            vec![strs(&["a"]), s("b")],
            "argument 2 must be a list, got string",
        );
        assert_eq!(
            run("contains", vec![strs(&["a", "b"]), s("b")]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            run("contains", vec![strs(&["1"]), n(1)]),
            Ok(Value::Bool(false))
        );
        fails("contains", vec![s("abc"), s("b")], "must be a list");
        assert_eq!(
            run("distinct", vec![strs(&["a", "b", "a", "c"])]),
            Ok(strs(&["a", "b", "c"]))
        );
        fails("distinct", vec![n(1)], "must be a list");
        assert_eq!(
            run(
                "compact",
                vec![list(vec![s("a"), s(""), Value::Null, n(1)])]
            ),
            Ok(strs(&["a", "1"]))
        );
        fails(
            "compact",
            vec![list(vec![list(vec![])])],
            "element 0 is list",
        );
    }

    #[test]
    fn chunklist_slice_sort_reverse() {
        assert_eq!(
            run("chunklist", vec![strs(&["a", "b", "c"]), n(2)]),
            Ok(list(vec![strs(&["a", "b"]), strs(&["c"])]))
        );
        assert_eq!(
            run("chunklist", vec![strs(&["a"]), n(0)]),
            Ok(list(vec![strs(&["a"])]))
        );
        fails(
            "chunklist",
            vec![strs(&["a"]), n(-1)],
            "must not be negative",
        );
        assert_eq!(
            run("slice", vec![strs(&["a", "b", "c", "d"]), n(1), n(3)]),
            Ok(strs(&["b", "c"]))
        );
        fails(
            "slice",
            vec![strs(&["a"]), n(0), n(2)],
            "beyond the list's length",
        );
        fails(
            "slice",
            vec![strs(&["a", "b"]), n(2), n(1)],
            "greater than the end",
        );
        fails(
            "slice",
            vec![strs(&["a"]), n(-1), n(1)],
            "must not be negative",
        );
        assert_eq!(
            run("sort", vec![list(vec![s("e"), s("d"), n(10), n(9)])]),
            Ok(strs(&["10", "9", "d", "e"]))
        );
        fails("sort", vec![list(vec![Value::Null])], "element 0 is null");
        assert_eq!(
            run("reverse", vec![list(vec![n(1), n(2)])]),
            Ok(list(vec![n(2), n(1)]))
        );
        assert_eq!(run("reverse", vec![s("abc")]), Ok(s("cba")));
        fails("reverse", vec![n(1)], "must be a list");
    }

    #[test]
    fn zipmap_range_transpose_one() {
        assert_eq!(
            run("zipmap", vec![strs(&["a", "b"]), list(vec![n(1), n(2)])]),
            Ok(obj(&[("a", n(1)), ("b", n(2))]))
        );
        fails("zipmap", vec![strs(&["a"]), list(vec![])], "does not match");
        assert_eq!(run("range", vec![n(3)]), Ok(list(vec![n(0), n(1), n(2)])));
        assert_eq!(
            run("range", vec![n(-3)]),
            Ok(list(vec![n(0), n(-1), n(-2)]))
        );
        assert_eq!(
            run("range", vec![n(1), n(4)]),
            Ok(list(vec![n(1), n(2), n(3)]))
        );
        assert_eq!(
            run("range", vec![n(10), n(5), n(-2)]),
            Ok(list(vec![n(10), n(8), n(6)]))
        );
        assert_eq!(
            run("range", vec![n(0), n(1), Value::float(0.25)]),
            Ok(list(vec![
                n(0),
                Value::float(0.25),
                Value::float(0.5),
                Value::float(0.75)
            ]))
        );
        fails("range", vec![n(0), n(1), n(0)], "must not be zero");
        fails("range", vec![n(0), n(5), n(-1)], "less than the start");
        fails("range", vec![Value::float(1e15)], "more than 1048576");
        fails("range", vec![n(0), n(1), Value::float(1e-300)], "more than");
        let m = obj(&[("a", strs(&["1", "2"])), ("b", strs(&["2", "3"]))]);
        assert_eq!(
            run("transpose", vec![m]),
            Ok(obj(&[
                ("1", strs(&["a"])),
                ("2", strs(&["a", "b"])),
                ("3", strs(&["b"]))
            ]))
        );
        fails(
            "transpose",
            vec![obj(&[("a", n(1))])],
            "must be a list of strings",
        );
        assert_eq!(run("one", vec![list(vec![])]), Ok(Value::Null));
        assert_eq!(run("one", vec![strs(&["x"])]), Ok(s("x")));
        fails("one", vec![strs(&["x", "y"])], "zero or one");
    }
}
