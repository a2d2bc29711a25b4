//! Unit tests for device requests: one `check(rule, expected)` table for the
//! operators, then feasibility and assignment scenarios.

use std::borrow::Cow;

use super::value::{Number, UNITS, Value, lookup_unit, parse_literal};
use super::*;
use crate::model::{
    Affinity, Constraint, NodeDevice, NodeDeviceAttribute, NodeDeviceResource, NodeResources,
};

// ---------------------------------------------------------------------------
// Builders

fn int(value: i64, unit: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        int: Some(value),
        unit: unit.to_owned(),
        ..NodeDeviceAttribute::default()
    }
}

fn float(value: f64, unit: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        float: Some(value),
        unit: unit.to_owned(),
        ..NodeDeviceAttribute::default()
    }
}

fn string(value: &str) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        string: Some(value.to_owned()),
        ..NodeDeviceAttribute::default()
    }
}

fn boolean(value: bool) -> NodeDeviceAttribute {
    NodeDeviceAttribute {
        bool: Some(value),
        ..NodeDeviceAttribute::default()
    }
}

/// A device group; `instances` are `(id, healthy)`.
fn group(
    id: &str,
    instances: &[(&str, bool)],
    attrs: Vec<(&str, NodeDeviceAttribute)>,
) -> NodeDeviceResource {
    let mut parts = id.splitn(3, '/');
    let mut part = || parts.next().unwrap_or_default().to_owned();
    NodeDeviceResource {
        vendor: part(),
        device_type: part(),
        name: part(),
        instances: instances
            .iter()
            .map(|(id, healthy)| NodeDevice {
                id: (*id).to_owned(),
                healthy: *healthy,
                ..NodeDevice::default()
            })
            .collect(),
        attributes: attrs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    }
}

fn node(groups: Vec<NodeDeviceResource>) -> Node {
    Node {
        node_resources: NodeResources {
            devices: groups,
            ..NodeResources::default()
        },
        ..Node::default()
    }
}

/// A T4 with one attribute of every kind.
fn t4() -> NodeDeviceResource {
    group(
        "nvidia/gpu/Tesla T4",
        &[("GPU-1", true), ("GPU-2", true), ("GPU-3", true)],
        vec![
            ("memory", int(16384, "MiB")),
            ("clock", int(1590, "MHz")),
            ("power", int(70, "W")),
            ("milliwatts", int(1500, "mW")),
            ("cuda_cores", int(2560, "")),
            ("sm", int(75, "cores")),
            ("compute", float(7.5, "")),
            ("bandwidth", float(320.0, "GB/s")),
            ("driver", string("535.104.05")),
            ("cuda", string("12.2")),
            ("major", int(12, "")),
            ("tags", string("a, b ,c")),
            ("ecc", boolean(true)),
            ("weird", float(f64::NAN, "")),
        ],
    )
}

fn request(
    name: &str,
    count: u64,
    constraints: &[(&str, &str, &str)],
    affinities: &[(&str, &str, &str, i8)],
) -> RequestedDevice {
    RequestedDevice {
        name: name.to_owned(),
        count: Some(count),
        constraints: constraints
            .iter()
            .map(|(l, op, r)| Constraint::new(*l, *op, *r))
            .collect(),
        affinities: affinities
            .iter()
            .map(|(l, op, r, w)| Affinity {
                l_target: (*l).to_owned(),
                operand: (*op).to_owned(),
                r_target: (*r).to_owned(),
                weight: Some(*w),
            })
            .collect(),
    }
}

fn matcher(
    name: &str,
    count: u64,
    constraints: &[(&str, &str, &str)],
    affinities: &[(&str, &str, &str, i8)],
) -> DeviceRequestMatcher {
    DeviceRequestMatcher::new(&request(name, count, constraints, affinities)).unwrap()
}

/// `check((ltarget, operator, rtarget), expected)` against [`t4`], as a
/// constraint and as an affinity (same rules).
#[track_caller]
fn check(rule: (&str, &str, &str), expected: bool) {
    let (l, op, r) = rule;
    let m = matcher("gpu", 1, &[rule], &[]);
    let result = m.check_group(&t4());
    assert_eq!(result.is_ok(), expected, "{l} {op} {r}: {result:?}");
    let a = matcher("gpu", 1, &[], &[(l, op, r, 50)]);
    let expected_score = if expected { 1.0 } else { 0.0 };
    assert_eq!(
        a.affinity_score(&t4()),
        Some(expected_score),
        "{l} {op} {r}"
    );
}

const MEM: &str = "${device.attr.memory}";

// ---------------------------------------------------------------------------
// Names

#[test]
fn name_forms() {
    let g = t4();
    let names = |name: &str| matcher(name, 1, &[], &[]).matches_name(&g);
    assert!(names("gpu"));
    assert!(names("nvidia/gpu"));
    assert!(names("nvidia/gpu/Tesla T4"));
    assert!(!names("fpga"));
    assert!(!names("amd/gpu"));
    assert!(!names("nvidia/fpga"));
    assert!(!names("nvidia/gpu/A100"));
    assert!(!names("Tesla T4"), "a single part is the type");
    assert!(!names("nvidia/gpu/tesla t4"), "names are case-sensitive");
    // An empty part matches anything, as in Nomad.
    assert!(names("/gpu"));
    // The model is everything after the second slash.
    let slashed = group("xilinx/fpga/alveo/u250", &[("F-1", true)], vec![]);
    assert_eq!(slashed.name, "alveo/u250");
    assert!(matcher("xilinx/fpga/alveo/u250", 1, &[], &[]).matches_name(&slashed));
    assert!(!matcher("xilinx/fpga/alveo", 1, &[], &[]).matches_name(&slashed));
    let m = matcher("nvidia/gpu", 3, &[], &[]);
    assert_eq!(m.name(), "nvidia/gpu");
    assert_eq!(m.count(), 3);
    assert!(!m.has_affinities());
}

#[test]
fn count_defaults_to_one() {
    let mut r = request("gpu", 1, &[], &[]);
    r.count = None;
    assert_eq!(DeviceRequestMatcher::new(&r).unwrap().count(), 1);
}

#[test]
fn invalid_requests_are_rejected_once() {
    let err = |r: RequestedDevice| DeviceRequestMatcher::new(&r).unwrap_err();
    assert_eq!(err(request("", 1, &[], &[])), "device request has no name");
    assert_eq!(
        err(request("gpu", 0, &[], &[])),
        r#"device "gpu" asks for 0 instances; ask for at least 1"#
    );
    assert_eq!(
        err(request("gpu", 1, &[(MEM, "~=", "1")], &[])),
        r#"device "gpu": `${device.attr.memory} ~= 1`: unknown operator "~=""#
    );
    let e = err(request(
        "gpu",
        1,
        &[("${device.model}", "regexp", "(")],
        &[],
    ));
    assert!(
        e.starts_with(
            r#"device "gpu": `${device.model} regexp (`: regular expression "(" does not compile"#
        ),
        "{e}"
    );
    let e = err(request(
        "gpu",
        1,
        &[],
        &[("${device.model}", "regexp", "(", 50)],
    ));
    assert!(
        e.starts_with(r#"device "gpu": affinity `${device.model} regexp (`"#),
        "{e}"
    );
    assert!(
        err(request(
            "gpu",
            1,
            &[("${device.attr.cuda}", "version", "~>")],
            &[]
        ))
        .contains("version constraint")
    );
    assert!(
        DeviceRequestMatcher::new(&request(
            "gpu",
            1,
            &[("${device.attr.cuda}", "semver", "~> 1.0")],
            &[]
        ))
        .is_err()
    );
    // An interpolated pattern is compiled per group, so it is not an error yet.
    assert!(
        DeviceRequestMatcher::new(&request(
            "gpu",
            1,
            &[("${device.model}", "regexp", "${device.attr.pattern}")],
            &[]
        ))
        .is_ok()
    );
}

// ---------------------------------------------------------------------------
// Literals and units

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

// ---------------------------------------------------------------------------
// Operators

#[test]
fn equality_is_typed_and_unit_aware() {
    for op in ["=", "==", "is", ""] {
        check((MEM, op, "16 GiB"), true);
        check((MEM, op, "16384 MiB"), true);
        check((MEM, op, "17179869184 B"), true);
        check((MEM, op, "16 GB"), false);
        // A bare number has no unit, so it does not compare with MiB.
        check((MEM, op, "16384"), false);
    }
    check(("${device.vendor}", "=", "nvidia"), true);
    check(("${device.type}", "is", "gpu"), true);
    check(("${device.model}", "==", "Tesla T4"), true);
    check(("${device.model}", "=", "T4"), false);
    check(("${device.attr.cuda_cores}", "=", "2560"), true);
    check(("${device.attr.compute}", "=", "7.5"), true);
    check(("${device.attr.compute}", "=", "7.50"), true);
    // An unknown unit counts as none.
    check(("${device.attr.sm}", "=", "75"), true);
    check(("${device.attr.ecc}", "=", "true"), true);
    check(("${device.attr.ecc}", "=", "t"), true);
    check(("${device.attr.ecc}", "=", "false"), false);
    // A literal against a string is text as written, not a number.
    check(("${device.attr.cuda}", "=", "12.2"), true);
    check(("${device.attr.major}", "=", "12"), true);
    // Different types never equal.
    check(("${device.attr.cuda_cores}", "=", "many"), false);
    check(("${device.attr.ecc}", "=", "1 W"), false);
    check(("${device.attr.missing}", "=", "1"), false);
    // Either side may be the interpolation.
    check(("16 GiB", "=", MEM), true);
    check(("${device.attr.clock}", "=", "${device.attr.clock}"), true);
}

#[test]
fn inequality_follows_nomad_missing_rules() {
    for op in ["!=", "not"] {
        check((MEM, op, "8 GiB"), true);
        check((MEM, op, "16 GiB"), false);
        check(("${device.attr.ecc}", op, "false"), true);
        check(("${device.attr.ecc}", op, "true"), false);
        check(("${device.model}", op, "A100"), true);
        // One side missing: they differ.
        check(("${device.attr.missing}", op, "x"), true);
        check(("${attr.kernel.name}", op, "linux"), true);
        // Both missing: nothing to compare.
        check(("${device.attr.missing}", op, "${device.attr.gone}"), false);
        // Both present but not comparable: not "different" either.
        check((MEM, op, "1 GHz"), false);
    }
}

#[test]
fn ordering_converts_units() {
    check((MEM, ">=", "10 GiB"), true);
    check((MEM, ">=", "10GiB"), true);
    check((MEM, ">=", "16 GiB"), true);
    check((MEM, ">", "16 GiB"), false);
    check((MEM, "<=", "16 GiB"), true);
    check((MEM, "<", "16 GiB"), false);
    check((MEM, "<", "20000 MB"), true); // 20e9 B > 17.18e9 B
    check((MEM, ">", "17 GB"), true); // 17e9 B < 17.18e9 B
    check((MEM, ">", "0.015625 TiB"), false); // exactly 16 GiB
    check((MEM, ">=", "0.015625 TiB"), true);
    check((MEM, "<", "1 EiB"), true);
    check((MEM, ">=", "40 GiB"), false);
    // Integer against float units.
    check(("${device.attr.clock}", ">=", "1.5 GHz"), true);
    check(("${device.attr.clock}", "<", "1.6GHz"), true);
    check(("${device.attr.clock}", ">", "1590 MHz"), false);
    // Watts, including the inverse unit, compared exactly.
    check(("${device.attr.power}", ">", "69999 mW"), true);
    check(("${device.attr.power}", "<", "70000 mW"), false);
    check(("${device.attr.power}", "<=", "0.07 kW"), true);
    check(("${device.attr.milliwatts}", ">", "1 W"), true);
    check(("${device.attr.milliwatts}", "<", "2 W"), true);
    // Rates.
    check(("${device.attr.bandwidth}", ">=", "300 GB/s"), true);
    check(("${device.attr.bandwidth}", ">", "298 GiB/s"), true);
    check(("${device.attr.bandwidth}", "<", "1 TB/s"), true);
    // Bare numbers.
    check(("${device.attr.cuda_cores}", ">", "2000"), true);
    check(("${device.attr.cuda_cores}", "<", "2000.5"), false);
    check(("${device.attr.compute}", ">=", "7"), true);
    check(("${device.attr.compute}", "<", "8.0"), true);
    // Incomparable: different unit kinds, unit vs none, string vs number.
    check((MEM, ">", "1 GHz"), false);
    check((MEM, "<", "1 GHz"), false);
    check(("${device.attr.cuda_cores}", ">", "2 GiB"), false);
    check(("${device.attr.cuda_cores}", ">", "abc"), false);
    // Strings compare lexically.
    check(("${device.attr.driver}", ">", "500"), true);
    check(("${device.attr.driver}", "<", "60"), true);
    check(("${device.model}", ">=", "Tesla"), true);
    // Booleans have no order (Nomad says true > false and false > true).
    check(("${device.attr.ecc}", ">", "false"), false);
    check(("${device.attr.ecc}", "<", "false"), false);
    check(("${device.attr.ecc}", ">=", "true"), false);
    // NaN never compares.
    check(("${device.attr.weird}", "<", "1"), false);
    check(("${device.attr.weird}", ">=", "1"), false);
    check(("${device.attr.missing}", ">", "1"), false);
}

#[test]
fn regexp_needs_strings() {
    check(("${device.model}", "regexp", "T4$"), true);
    check(("${device.model}", "regexp", "^T4"), false);
    check(("${device.vendor}", "regexp", "^(nvidia|amd)$"), true);
    check(("${device.attr.driver}", "regexp", "^535\\."), true);
    // Numbers are not text.
    check((MEM, "regexp", "16"), false);
    check(("${device.attr.missing}", "regexp", "x"), false);
    // A pattern as written, even when it looks like a number.
    check(("${device.attr.major}", "regexp", "12"), false);
    check(("${device.attr.cuda}", "regexp", "12"), true);
}

#[test]
fn set_operators() {
    let tags = "${device.attr.tags}";
    for op in ["set_contains", "set_contains_all"] {
        check((tags, op, "a,c"), true);
        check((tags, op, " b "), true);
        check((tags, op, "a,d"), false);
        check((MEM, op, "1"), false);
    }
    check((tags, "set_contains_any", "d, b"), true);
    check((tags, "set_contains_any", "d,e"), false);
    check(("${device.ids}", "set_contains", "GPU-1,GPU-3"), true);
    check(("${device.ids}", "set_contains", "GPU-9"), false);
}

#[test]
fn versions() {
    let cuda = "${device.attr.cuda}";
    check((cuda, "version", ">= 12.0"), true);
    check((cuda, "version", "~> 11.0"), false);
    check((cuda, "version", ">= 12.0, < 13"), true);
    check((cuda, "semver", ">= 12.0.0"), true);
    check((cuda, "semver", "< 12.0.0"), false);
    // An integer attribute reads as a version, as in Nomad.
    check(("${device.attr.major}", "version", ">= 12"), true);
    check(("${device.attr.major}", "version", "> 12"), false);
    // Other types do not (an integer with a unit still does, as in Nomad).
    check((MEM, "version", ">= 16000"), true);
    check(("${device.attr.compute}", "version", ">= 1"), false);
    check(("${device.attr.ecc}", "version", ">= 1"), false);
    check(("${device.attr.missing}", "version", ">= 1"), false);
    // An interpolated constraint is parsed per group.
    check(
        ("${device.attr.cuda}", "version", "${device.attr.tags}"),
        false,
    );
}

#[test]
fn set_and_unset() {
    check((MEM, "is_set", ""), true);
    check(("${device.attr.missing}", "is_set", ""), false);
    check(("${device.attr.missing}", "is_not_set", ""), true);
    check((MEM, "is_not_set", ""), false);
    check(("${device.model}", "is_set", ""), true);
    // Not a device target: never resolves.
    check(("${attr.kernel.name}", "is_set", ""), false);
    check(("${attr.kernel.name}", "=", "linux"), false);
    // Placement operators are not device rules: they always hold.
    check(("${device.model}", "distinct_hosts", ""), true);
    check(("${device.model}", "distinct_property", ""), true);
}

#[test]
fn group_misses_explain_themselves() {
    let miss = |rule| {
        matcher("gpu", 1, &[rule], &[])
            .check_group(&t4())
            .unwrap_err()
    };
    assert_eq!(
        miss((MEM, ">=", "40 GiB")),
        "nvidia/gpu/Tesla T4 fails ${device.attr.memory} >= 40 GiB: 16384 MiB is not >= 40 GiB"
    );
    assert_eq!(
        miss((MEM, ">", "1 GHz")),
        "nvidia/gpu/Tesla T4 fails ${device.attr.memory} > 1 GHz: \
         16384 MiB and 1 GHz do not compare (units of different kinds)"
    );
    assert_eq!(
        miss(("${device.attr.nope}", "=", "1")),
        r#"nvidia/gpu/Tesla T4 fails ${device.attr.nope} = 1: nvidia/gpu/Tesla T4 has no attribute "nope""#
    );
    assert!(miss(("${attr.x}", "is_set", "")).contains("${attr.x} is not a device target"));
    assert_eq!(
        miss(("${device.model}", "=", "A100")),
        r#"nvidia/gpu/Tesla T4 fails ${device.model} = A100: "Tesla T4" does not equal "A100""#
    );
    assert!(miss(("${device.attr.ecc}", ">", "false")).ends_with("have no order"));
    assert_eq!(
        matcher("fpga", 1, &[], &[]).check_group(&t4()).unwrap_err(),
        r#"nvidia/gpu/Tesla T4 is not a "fpga""#
    );
}

// ---------------------------------------------------------------------------
// Node-level feasibility

#[test]
fn feasibility_counts_healthy_instances_only() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("GPU-1", true), ("GPU-2", false)],
        vec![("memory", int(15360, "MiB"))],
    )]);
    assert!(matcher("nvidia/gpu", 1, &[], &[]).check_node(&n).is_ok());
    assert_eq!(
        matcher("nvidia/gpu", 2, &[], &[])
            .check_node(&n)
            .unwrap_err(),
        r#"no device group matches "nvidia/gpu" with 2 healthy instances (node has nvidia/gpu/T4 x1 (+1 unhealthy))"#
    );
    // Feasibility ignores what allocations hold: no `used` here.
    assert!(
        matcher("gpu", 1, &[(MEM, ">=", "15 GiB")], &[])
            .check_node(&n)
            .is_ok()
    );
}

#[test]
fn feasibility_message_names_the_shortfall() {
    let n = node(vec![
        group(
            "nvidia/gpu/T4",
            &[("GPU-1", true)],
            vec![("memory", int(15360, "MiB"))],
        ),
        group("intel/fpga/arria", &[("F-1", true), ("F-2", true)], vec![]),
    ]);
    assert_eq!(
        matcher("nvidia/gpu", 2, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .unwrap_err(),
        "no device group matches \"nvidia/gpu\" with 2 healthy instances and constraint \
         ${device.attr.memory} >= 40 GiB (node has intel/fpga/arria x2, nvidia/gpu/T4 x1); \
         nvidia/gpu/T4 fails ${device.attr.memory} >= 40 GiB: 15360 MiB is not >= 40 GiB"
    );
    assert_eq!(
        matcher(
            "gpu",
            1,
            &[(MEM, "is_set", ""), ("${device.vendor}", "=", "amd")],
            &[]
        )
        .check_node(&n)
        .unwrap_err(),
        "no device group matches \"gpu\" with 1 healthy instance and constraints \
         ${device.attr.memory} is_set, ${device.vendor} = amd (node has intel/fpga/arria x2, \
         nvidia/gpu/T4 x1); nvidia/gpu/T4 fails ${device.vendor} = amd: \"nvidia\" does not equal \"amd\""
    );
    assert_eq!(
        matcher("gpu", 1, &[], &[])
            .check_node(&node(vec![]))
            .unwrap_err(),
        r#"no device group matches "gpu" with 1 healthy instance (node has no devices)"#
    );
}

#[test]
fn feasibility_any_group_will_do() {
    let n = node(vec![
        group(
            "nvidia/gpu/A100",
            &[("A-1", true)],
            vec![("memory", int(40, "GiB"))],
        ),
        group(
            "nvidia/gpu/T4",
            &[("T-1", true), ("T-2", true)],
            vec![("memory", int(16, "GiB"))],
        ),
    ]);
    // Two instances only in the T4 group; 40 GiB only in the A100 group.
    assert!(matcher("gpu", 2, &[], &[]).check_node(&n).is_ok());
    assert!(
        matcher("gpu", 1, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .is_ok()
    );
    assert!(
        matcher("gpu", 2, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .is_err()
    );
}

#[test]
fn device_ids_constraints_filter_instances() {
    let n = node(vec![t4()]);
    let only = matcher(
        "gpu",
        2,
        &[("${device.ids}", "set_contains", "GPU-1,GPU-3")],
        &[],
    );
    assert_eq!(
        only.usable_instances(&t4()).into_iter().collect::<Vec<_>>(),
        ["GPU-1", "GPU-3"]
    );
    assert!(only.check_node(&n).is_ok());
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", std::slice::from_ref(&only))]).unwrap();
    assert_eq!(a.by_task["t"][0].device_ids, ["GPU-1", "GPU-3"]);
    // Three are asked but only two are allowed.
    let three = matcher(
        "gpu",
        3,
        &[("${device.ids}", "set_contains_any", "GPU-1,GPU-3")],
        &[],
    );
    assert_eq!(
        three.check_node(&n).unwrap_err(),
        "no device group matches \"gpu\" with 3 healthy instances and constraint \
         ${device.ids} set_contains_any GPU-1,GPU-3 (node has nvidia/gpu/Tesla T4 x3); \
         nvidia/gpu/Tesla T4: only 2 healthy instances allowed by the ${device.ids} constraints"
    );
    let not_two = matcher("gpu", 2, &[("${device.ids}", "!=", "GPU-2")], &[]);
    let a = assign_devices(
        &n,
        &BTreeSet::new(),
        &[("t", std::slice::from_ref(&not_two))],
    )
    .unwrap();
    assert_eq!(a.by_task["t"][0].device_ids, ["GPU-1", "GPU-3"]);
}

// ---------------------------------------------------------------------------
// Assignment

fn used(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The assignment rendered as `task: vendor/type/model[id,id]; ...`.
fn render(a: &DeviceAssignment) -> String {
    a.by_task
        .iter()
        .map(|(task, devices)| {
            let devices: Vec<String> = devices
                .iter()
                .map(|d| {
                    format!(
                        "{}/{}/{}[{}]",
                        d.vendor,
                        d.device_type,
                        d.name,
                        d.device_ids.join(",")
                    )
                })
                .collect();
            format!("{task}: {}", devices.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn assignment_skips_used_and_unhealthy_instances() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("G-4", true), ("G-1", true), ("G-2", false), ("G-3", true)],
        vec![],
    )]);
    let gpu = [matcher("gpu", 2, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("web", &gpu)]).unwrap();
    assert_eq!(render(&a), "web: nvidia/gpu/T4[G-1,G-3]");
    assert_eq!(a.affinity_score, None);
    let a = assign_devices(&n, &used(&["G-1"]), &[("web", &gpu)]).unwrap();
    assert_eq!(render(&a), "web: nvidia/gpu/T4[G-3,G-4]");
    let short = assign_devices(&n, &used(&["G-1", "G-4"]), &[("web", &gpu)]).unwrap_err();
    assert_eq!(
        short,
        DeviceShortage {
            request: "gpu".into(),
            asked: 2,
            free: 1
        }
    );
    assert_eq!(
        short.to_string(),
        r#"devices exhausted: asked 2 of "gpu", 1 free"#
    );
}

#[test]
fn requests_never_share_instances() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("G-1", true), ("G-2", true), ("G-3", true)],
        vec![],
    )]);
    let two = [
        matcher("gpu", 1, &[], &[]),
        matcher("nvidia/gpu", 1, &[], &[]),
    ];
    let one = [matcher("gpu", 1, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("a", &two), ("b", &one)]).unwrap();
    assert_eq!(
        render(&a),
        "a: nvidia/gpu/T4[G-1] nvidia/gpu/T4[G-2]; b: nvidia/gpu/T4[G-3]"
    );
    // A fourth request finds nothing left.
    let err = assign_devices(&n, &BTreeSet::new(), &[("a", &two), ("b", &two)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"devices exhausted: asked 1 of "nvidia/gpu", 0 free"#
    );
    // No matching group at all is a shortage with nothing free.
    let fpga = [matcher("fpga", 1, &[], &[])];
    let err = assign_devices(&n, &BTreeSet::new(), &[("a", &fpga)]).unwrap_err();
    assert_eq!(err.free, 0);
    // Tasks without requests get no entry.
    let none: [DeviceRequestMatcher; 0] = [];
    let a = assign_devices(&n, &BTreeSet::new(), &[("idle", &none)]).unwrap();
    assert!(a.by_task.is_empty());
}

#[test]
fn requests_use_one_group_each() {
    // Two groups of one instance each cannot serve a request for two.
    let n = node(vec![
        group("nvidia/gpu/A", &[("A-1", true)], vec![]),
        group("nvidia/gpu/B", &[("B-1", true)], vec![]),
    ]);
    let err = assign_devices(
        &n,
        &BTreeSet::new(),
        &[("t", &[matcher("gpu", 2, &[], &[])])],
    )
    .unwrap_err();
    assert_eq!(err.free, 1);
}

fn two_models() -> Node {
    node(vec![
        group(
            "nvidia/gpu/T4",
            &[("T-1", true), ("T-2", true)],
            vec![("memory", int(16, "GiB"))],
        ),
        group(
            "nvidia/gpu/A100",
            &[("A-1", true), ("A-2", true)],
            vec![("memory", int(40, "GiB"))],
        ),
    ])
}

#[test]
fn affinity_chooses_the_better_group() {
    let n = two_models();
    // Without affinities the first group in id order wins.
    let plain = [matcher("gpu", 1, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &plain)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    // Prefer the T4.
    let t4 = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.model}", "=", "T4", 50), (MEM, "<", "20 GiB", 50)],
    )];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &t4)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(1.0));
    // Avoid big memory with a negative weight.
    let avoid = [matcher("gpu", 1, &[], &[(MEM, ">=", "32 GiB", -100)])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &avoid)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(0.0));
    // Partial matches: 25 of |25| + |75|.
    let partial = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.model}", "=", "T4", 25), (MEM, ">", "64 GiB", 75)],
    )];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &partial)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(0.25));
    // The preferred group is full: take the other.
    let a = assign_devices(&n, &used(&["T-1", "T-2"]), &[("t", &t4)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    assert_eq!(a.affinity_score, Some(0.0));
}

#[test]
fn affinity_score_is_the_mean_over_requests_with_affinities() {
    let n = two_models();
    let requests = [
        matcher("gpu", 1, &[], &[("${device.model}", "=", "A100", 100)]),
        matcher("gpu", 1, &[], &[]),
        matcher(
            "gpu",
            1,
            &[],
            &[
                ("${device.model}", "=", "H100", 50),
                ("${device.vendor}", "=", "nvidia", 50),
            ],
        ),
    ];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &requests)]).unwrap();
    assert_eq!(
        render(&a),
        "t: nvidia/gpu/A100[A-1] nvidia/gpu/A100[A-2] nvidia/gpu/T4[T-1]"
    );
    // (1.0 + 0.5) / 2: the request without affinities does not count.
    assert_eq!(a.affinity_score, Some(0.75));
}

#[test]
fn assignment_is_deterministic() {
    // The same groups and instances reported in other orders.
    let forward = two_models();
    let mut backward = two_models();
    backward.node_resources.devices.reverse();
    for g in &mut backward.node_resources.devices {
        g.instances.reverse();
    }
    let requests = [matcher("gpu", 1, &[], &[]), matcher("gpu", 2, &[], &[])];
    let tasks: &[(&str, &[DeviceRequestMatcher])] = &[("b", &requests[..1]), ("a", &requests[1..])];
    let one = assign_devices(&forward, &BTreeSet::new(), tasks).unwrap();
    let two = assign_devices(&backward, &BTreeSet::new(), tasks).unwrap();
    assert_eq!(one, two);
    // Task "b" comes first in the call and so takes A-1; "a" needs two from
    // one group and A100 has one left, so it gets the T4s.
    assert_eq!(
        render(&one),
        "a: nvidia/gpu/T4[T-1,T-2]; b: nvidia/gpu/A100[A-1]"
    );
    // Equal affinity scores tie-break by group id too.
    let tie = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.vendor}", "=", "nvidia", 50)],
    )];
    for n in [&forward, &backward] {
        let a = assign_devices(n, &BTreeSet::new(), &[("t", &tie)]).unwrap();
        assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    }
}

#[test]
fn assignment_checks_constraints() {
    let n = two_models();
    let big = [matcher("gpu", 1, &[(MEM, ">=", "32 GiB")], &[])];
    let a = assign_devices(&n, &used(&["A-1"]), &[("t", &big)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-2]");
    let err = assign_devices(&n, &used(&["A-1", "A-2"]), &[("t", &big)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"devices exhausted: asked 1 of "gpu", 0 free"#
    );
}
