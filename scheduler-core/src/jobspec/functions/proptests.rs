//! Property test: no function panics, whatever it is given.

use super::testutil::run_with;
use super::{FunctionContext, call, names};
use crate::jobspec::MemoryFiles;
use crate::jobspec::value::Value;
use proptest::prelude::*;
use std::cell::RefCell;

/// Strings that steer functions into their interesting paths.
const SAMPLES: &[&str] = &[
    "",
    "a,b\n1,2",
    "%d %s %v %#v %[2]q %-05.3f %",
    "/a(b)?/",
    "(?P<x>\\w+)",
    "10.0.0.0/8",
    "fd00::/56",
    "2020-02-29T23:59:59.999+05:30",
    "1h30m",
    "-9223372036854775808",
    "18446744073709551616",
    "dns",
    "{\"a\":[1,2.5,null]}",
    "a: [1, {b: c}]\n- x\n  |\n",
    "key: |+\n  text\n\n",
    "SGVsbG8=",
    "~/x",
    "YYYY-MM-DD'T'hh:mm:ssZZZZZ EEEE aa",
    "list(object({a = optional(string)}))",
    "${x} %{y}",
    "../../etc",
    "**/*",
    "[",
];

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::int),
        (-5i64..70).prop_map(Value::int),
        any::<f64>().prop_map(Value::float),
        prop_oneof![
            Just(1e300),
            Just(-1e300),
            Just(0.5),
            Just(1e-300),
            Just(f64::MAX)
        ]
        .prop_map(Value::float),
        "[ -~\\n\u{e9}\u{1F914}]{0,12}".prop_map(Value::String),
        proptest::sample::select(SAMPLES).prop_map(Value::string),
        "[a-z]{1,3}".prop_map(Value::Unknown),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
            proptest::collection::btree_map("[a-c]{0,2}", inner, 0..4).prop_map(Value::Object),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn no_function_panics(args in proptest::collection::vec(value(), 0..5), which in any::<proptest::sample::Index>()) {
        let mut files = MemoryFiles::new();
        files.insert("a.txt", "${x}").insert("d/b.yml", "k: v");
        for name in [names()[which.index(names().len())], "format", "formatlist", "yamldecode", "convert"] {
            let _ = run_with(&files, "d", name, args.clone());
        }
    }

    #[test]
    fn every_function_accepts_any_small_call(args in proptest::collection::vec(value(), 0..4)) {
        let files = MemoryFiles::new();
        let rng = RefCell::new(<rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1));
        let ctx = FunctionContext { files: &files, base_dir: "", rng: &rng };
        for name in names() {
            prop_assert!(call(name, &ctx, args.clone()).is_some());
        }
    }
}
