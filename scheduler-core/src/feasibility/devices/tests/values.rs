//! Literals and units.

use std::borrow::Cow;

use super::*;
use crate::feasibility::devices::value::{Number, UNITS, Value, lookup_unit, parse_literal};

#[test]
fn literals_parse_as_nomad_attributes() {
    let num = |n, u| Value::Number(n, u);
    let s = |t: &str| Value::Str(Cow::Owned(t.to_owned()));
    assert_eq!(parse_literal("4 GiB"), num(Number::Int(4), "GiB"));
    assert_eq!(parse_literal("4GiB"), num(Number::Int(4), "GiB"));
    assert_eq!(parse_literal("-3 W"), num(Number::Int(-3), "W"));
    assert_eq!(parse_literal("1.5GHz"), num(Number::Float(1.5), "GHz"));
    assert_eq!(parse_literal("10 KiB/s"), num(Number::Int(10), "KiB/s"));
    assert_eq!(parse_literal("10 B/s"), num(Number::Int(10), "B/s"));
    assert_eq!(parse_literal("512B"), num(Number::Int(512), "B"));
    assert_eq!(parse_literal("10"), num(Number::Int(10), ""));
    assert_eq!(parse_literal("2.5"), num(Number::Float(2.5), ""));
    assert_eq!(parse_literal("true"), Value::Bool(true));
    assert_eq!(parse_literal("F"), Value::Bool(false));
    // Numbers come before booleans: "1" is an integer.
    assert_eq!(parse_literal("1"), num(Number::Int(1), ""));
    assert_eq!(parse_literal("GiB"), s("GiB"));
    assert_eq!(parse_literal("4 XB"), s("4 XB"));
    assert_eq!(parse_literal("4 gib"), s("4 gib"));
    assert_eq!(parse_literal("Tesla T4"), s("Tesla T4"));
    assert_eq!(parse_literal(""), s(""));
    assert_eq!(parse_literal("4 GiB").to_string(), "4 GiB");
    assert_eq!(parse_literal("x").to_string(), r#""x""#);
}

#[test]
fn unit_table_is_consistent() {
    // Longest first, so suffix matching finds `KiB/s` before `B/s`.
    for pair in UNITS.windows(2) {
        assert!(pair[0].name.len() >= pair[1].name.len(), "{pair:?}");
    }
    let table: BTreeSet<&str> = UNITS.iter().map(|u| u.name).collect();
    let listed: BTreeSet<&str> = UNIT_NAMES.iter().copied().collect();
    assert_eq!(table, listed);
    assert_eq!(table.len(), UNITS.len());
    assert_eq!(lookup_unit("GiB").unwrap().milli, 1024 * 1024 * 1024 * 1000);
    assert_eq!(lookup_unit("kW").unwrap().milli, 1_000_000);
}
