//! Operators: one `check(rule, expected)` table against [`t4`].

use super::*;

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
