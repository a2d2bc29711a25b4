//! Nomad's HCL2 job-spec function library.
//!
//! Nomad evaluates job files with the cty standard library plus a few extra
//! families (CIDR math, hashing, UUIDs, files). This module provides the same
//! names with the same semantics, implemented over [`Value`], with three
//! deliberate differences forced by the core being pure:
//!
//! * file functions read through [`FileSource`](crate::jobspec::FileSource),
//! * `uuidv4` draws from the seeded RNG in [`FunctionContext`],
//! * `timestamp`, `pathexpand` (for `~` paths), `bcrypt` and `rsadecrypt`
//!   exist but always fail with a message saying why.
//!
//! `can` and `try` are not here: they take unevaluated expressions, so the
//! evaluator implements them. `convert(value, type)` takes its type as a
//! string holding the type expression (`"list(string)"`); the evaluator passes
//! the source text of the type argument.

mod collections;
pub(crate) mod conversion;
mod crypto;
mod datetime;
mod encoding;
mod filesystem;
mod format;
mod lists;
mod network;
mod numeric;
pub(crate) mod sets;
mod strings;
mod yaml;

#[cfg(test)]
mod proptests;

use crate::jobspec::value::Value;
use hcl::Number;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// What function calls may use besides their arguments.
pub struct FunctionContext<'a> {
    /// Where `file()` and friends read from.
    pub files: &'a dyn crate::jobspec::FileSource,
    /// Directory of the job file, for relative paths; "" means the current directory.
    pub base_dir: &'a str,
    /// Seeded randomness for `uuidv4`; never global randomness.
    pub rng: &'a RefCell<rand_chacha::ChaCha8Rng>,
}

impl std::fmt::Debug for FunctionContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionContext")
            .field("base_dir", &self.base_dir)
            .finish_non_exhaustive()
    }
}

/// Calls the function `name`. Returns `None` when no function has that name
/// (the caller reports "unknown function" with a location); `Some(Err(msg))`
/// for a bad call, where msg is one sentence naming the function and what is
/// wrong, e.g. "join: argument 2 must be a list of strings, got number".
pub fn call(
    name: &str,
    ctx: &FunctionContext<'_>,
    args: Vec<Value>,
) -> Option<Result<Value, String>> {
    let entry = FUNCTIONS.iter().find(|e| e.name == name)?;
    if let Err(msg) = check_arity(entry, args.len()) {
        return Some(Err(format!("{name}: {msg}")));
    }
    Some((entry.func)(ctx, args).map_err(|msg| format!("{name}: {msg}")))
}

/// Every function name, sorted (used for "did you mean" hints and docs).
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = FUNCTIONS.iter().map(|e| e.name).collect();
        names.sort_unstable();
        names
    })
}

/// A function implementation; errors omit the function name, which [`call`]
/// prepends.
type Func = fn(&FunctionContext<'_>, Vec<Value>) -> Result<Value, String>;

struct Entry {
    name: &'static str,
    min: usize,
    /// `None` for variadic functions.
    max: Option<usize>,
    func: Func,
}

const fn f(name: &'static str, min: usize, max: usize, func: Func) -> Entry {
    Entry {
        name,
        min,
        max: Some(max),
        func,
    }
}

const fn var(name: &'static str, min: usize, func: Func) -> Entry {
    Entry {
        name,
        min,
        max: None,
        func,
    }
}

static FUNCTIONS: &[Entry] = &[
    // strings
    f("chomp", 1, 1, strings::chomp),
    f("endswith", 2, 2, strings::endswith),
    f("indent", 2, 2, strings::indent),
    var("join", 1, strings::join),
    f("lower", 1, 1, strings::lower),
    f("regex", 2, 2, strings::regex),
    f("regex_replace", 3, 3, strings::regex_replace),
    f("regexall", 2, 2, strings::regexall),
    f("replace", 3, 3, strings::replace),
    f("split", 2, 2, strings::split),
    f("startswith", 2, 2, strings::startswith),
    f("strcontains", 2, 2, strings::strcontains),
    f("strlen", 1, 1, strings::strlen),
    f("strrev", 1, 1, strings::strrev),
    f("substr", 3, 3, strings::substr),
    f("title", 1, 1, strings::title),
    f("trim", 2, 2, strings::trim),
    f("trimprefix", 2, 2, strings::trimprefix),
    f("trimspace", 1, 1, strings::trimspace),
    f("trimsuffix", 2, 2, strings::trimsuffix),
    f("upper", 1, 1, strings::upper),
    var("format", 1, format::format),
    var("formatlist", 1, format::formatlist),
    // collections
    f("alltrue", 1, 1, collections::alltrue),
    f("anytrue", 1, 1, collections::anytrue),
    f("chunklist", 2, 2, lists::chunklist),
    var("coalesce", 1, collections::coalesce),
    var("coalescelist", 1, collections::coalescelist),
    f("compact", 1, 1, lists::compact),
    var("concat", 1, lists::concat),
    f("contains", 2, 2, collections::contains),
    f("distinct", 1, 1, lists::distinct),
    f("element", 2, 2, collections::element),
    f("flatten", 1, 1, lists::flatten),
    f("index", 2, 2, collections::index),
    f("keys", 1, 1, collections::keys),
    f("length", 1, 1, collections::length),
    f("lookup", 2, 3, collections::lookup),
    var("merge", 0, collections::merge),
    f("one", 1, 1, collections::one),
    f("range", 1, 3, lists::range),
    f("reverse", 1, 1, lists::reverse),
    f("slice", 3, 3, lists::slice),
    f("sort", 1, 1, lists::sort),
    f("transpose", 1, 1, collections::transpose),
    f("values", 1, 1, collections::values),
    f("zipmap", 2, 2, collections::zipmap),
    var("setintersection", 1, sets::setintersection),
    var("setproduct", 2, sets::setproduct),
    f("setsubtract", 2, 2, sets::setsubtract),
    var("setunion", 1, sets::setunion),
    // conversion
    f("convert", 2, 2, conversion::convert),
    f("tobool", 1, 1, conversion::tobool),
    f("tolist", 1, 1, conversion::tolist),
    f("tomap", 1, 1, conversion::tomap),
    f("tonumber", 1, 1, conversion::tonumber),
    f("toset", 1, 1, conversion::toset),
    f("tostring", 1, 1, conversion::tostring),
    // numeric
    f("abs", 1, 1, numeric::abs),
    f("ceil", 1, 1, numeric::ceil),
    f("floor", 1, 1, numeric::floor),
    f("log", 2, 2, numeric::log),
    var("max", 1, numeric::max),
    var("min", 1, numeric::min),
    f("parseint", 2, 2, numeric::parseint),
    f("pow", 2, 2, numeric::pow),
    f("signum", 1, 1, numeric::signum),
    f("sum", 1, 1, numeric::sum),
    // encoding
    f("base64decode", 1, 1, encoding::base64decode),
    f("base64encode", 1, 1, encoding::base64encode),
    f("csvdecode", 1, 1, encoding::csvdecode),
    f("jsondecode", 1, 1, encoding::jsondecode),
    f("jsonencode", 1, 1, encoding::jsonencode),
    f("urlencode", 1, 1, encoding::urlencode),
    f("yamldecode", 1, 1, yaml::yamldecode),
    f("yamlencode", 1, 1, yaml::yamlencode),
    // crypto and uuids
    var("bcrypt", 1, crypto::bcrypt),
    f("md5", 1, 1, crypto::md5),
    f("rsadecrypt", 2, 2, crypto::rsadecrypt),
    f("sha1", 1, 1, crypto::sha1),
    f("sha256", 1, 1, crypto::sha256),
    f("sha512", 1, 1, crypto::sha512),
    f("uuidv4", 0, 0, crypto::uuidv4),
    f("uuidv5", 2, 2, crypto::uuidv5),
    // filesystem
    f("abspath", 1, 1, filesystem::abspath),
    f("basename", 1, 1, filesystem::basename),
    f("dirname", 1, 1, filesystem::dirname),
    f("file", 1, 1, filesystem::file),
    f("filebase64", 1, 1, filesystem::filebase64),
    f("fileescaped", 1, 1, filesystem::fileescaped),
    f("fileexists", 1, 1, filesystem::fileexists),
    f("fileset", 2, 2, filesystem::fileset),
    f("pathexpand", 1, 1, filesystem::pathexpand),
    // network
    f("cidrhost", 2, 2, network::cidrhost),
    f("cidrnetmask", 1, 1, network::cidrnetmask),
    f("cidrsubnet", 3, 3, network::cidrsubnet),
    var("cidrsubnets", 1, network::cidrsubnets),
    // date and time
    f("formatdate", 2, 2, datetime::formatdate),
    f("timeadd", 2, 2, datetime::timeadd),
    f("timecmp", 2, 2, datetime::timecmp),
    f("timestamp", 0, 0, datetime::timestamp),
];

fn check_arity(entry: &Entry, got: usize) -> Result<(), String> {
    let plural = |n: usize| if n == 1 { "argument" } else { "arguments" };
    match entry.max {
        Some(max) if entry.min == max && got != max => {
            Err(format!("expects {max} {}, got {got}", plural(max)))
        }
        Some(max) if got < entry.min || got > max => Err(format!(
            "expects {} to {max} arguments, got {got}",
            entry.min
        )),
        None if got < entry.min => Err(format!(
            "expects at least {} {}, got {got}",
            entry.min,
            plural(entry.min)
        )),
        _ => Ok(()),
    }
}

// ---------------------------------------------------------------------------
// Shared limits and argument helpers. Positions in messages are 1-based.

/// The longest list any function builds (`range`, `setproduct`, ...).
pub(crate) const MAX_LIST_LEN: usize = 1_048_576;

/// The longest string any function builds (`indent`, `format` padding, ...).
pub(crate) const MAX_STRING_LEN: usize = 64 * 1024 * 1024;

/// Fails when a result string would exceed [`MAX_STRING_LEN`] bytes.
pub(crate) fn check_string_len(len: usize) -> Result<(), String> {
    if len > MAX_STRING_LEN {
        Err(format!(
            "the result would be longer than {MAX_STRING_LEN} bytes"
        ))
    } else {
        Ok(())
    }
}

/// Parses a decimal number the way HCL converts strings to numbers: an
/// optional sign, digits with an optional fraction, an optional exponent; no
/// surrounding space, no `inf`/`nan`, no hexadecimal.
pub(crate) fn parse_number(s: &str) -> Option<Number> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if int_part.is_empty() && frac_part.is_empty()
        || !digits(int_part)
        || !digits(frac_part)
        || mantissa == "."
    {
        return None;
    }
    if let Some(exp) = exponent {
        let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        if exp.is_empty() || !digits(exp) {
            return None;
        }
    }
    if let Ok(i) = s.parse::<i64>() {
        return Some(Number::from(i));
    }
    if let Ok(u) = s.trim_start_matches('+').parse::<u64>() {
        return Some(Number::from(u));
    }
    s.parse::<f64>().ok().and_then(Number::from_f64)
}

/// HCL's automatic conversion to a number.
pub(crate) fn to_number(v: &Value) -> Option<Number> {
    match v {
        Value::Number(n) => Some(*n),
        Value::String(s) => parse_number(s),
        _ => None,
    }
}

/// HCL's automatic conversion to a string (primitives only).
pub(crate) fn to_string(v: &Value) -> Option<String> {
    match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => v.to_hcl_string(),
        _ => None,
    }
}

/// A whole number as an `i128`, if it is one.
pub(crate) fn number_to_i128(n: &Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    // 2^127 is exactly representable; anything at or beyond it does not fit.
    const LIMIT: f64 = 170_141_183_460_469_231_731_687_303_715_884_105_728.0;
    (f.fract() == 0.0 && f.abs() < LIMIT).then_some(f as i128)
}

/// A number value from a float, failing for infinities and NaN.
pub(crate) fn float_value(f: f64) -> Result<Value, String> {
    Number::from_f64(f)
        .map(Value::Number)
        .ok_or_else(|| "the result is not a finite number".to_owned())
}

fn describe(v: &Value) -> String {
    match v {
        Value::Number(n) => format!("number {}", crate::jobspec::value::format_number(n)),
        other => other.type_name().to_owned(),
    }
}

/// Argument `i` converted to a string.
pub(crate) fn string_arg(args: &[Value], i: usize) -> Result<String, String> {
    let v = &args[i];
    to_string(v)
        .ok_or_else(|| format!("argument {} must be a string, got {}", i + 1, v.type_name()))
}

/// Argument `i` converted to a number.
pub(crate) fn number_arg(args: &[Value], i: usize) -> Result<Number, String> {
    let v = &args[i];
    to_number(v).ok_or_else(|| match v {
        Value::String(s) => format!(
            "argument {} must be a number, got the string {:?}",
            i + 1,
            truncate(s)
        ),
        _ => format!("argument {} must be a number, got {}", i + 1, v.type_name()),
    })
}

/// Argument `i` converted to an `f64`.
pub(crate) fn f64_arg(args: &[Value], i: usize) -> Result<f64, String> {
    let n = number_arg(args, i)?;
    Ok(n.as_f64().unwrap_or(0.0))
}

/// Argument `i` as a whole number that fits in an `i64`.
pub(crate) fn int_arg(args: &[Value], i: usize) -> Result<i64, String> {
    let n = number_arg(args, i)?;
    number_to_i128(&n)
        .and_then(|w| i64::try_from(w).ok())
        .ok_or_else(|| {
            format!(
                "argument {} must be a whole number, got {}",
                i + 1,
                describe(&Value::Number(n))
            )
        })
}

/// Argument `i` as a list (or tuple or set).
pub(crate) fn list_arg(args: &[Value], i: usize) -> Result<&[Value], String> {
    match &args[i] {
        Value::List(items) => Ok(items),
        v => Err(format!(
            "argument {} must be a list, got {}",
            i + 1,
            v.type_name()
        )),
    }
}

/// Argument `i` as a list whose elements all convert to strings.
pub(crate) fn string_list_arg(args: &[Value], i: usize) -> Result<Vec<String>, String> {
    let Value::List(items) = &args[i] else {
        return Err(format!(
            "argument {} must be a list of strings, got {}",
            i + 1,
            args[i].type_name()
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(j, item)| {
            to_string(item).ok_or_else(|| {
                format!(
                    "argument {} must be a list of strings, but element {j} is {}",
                    i + 1,
                    item.type_name()
                )
            })
        })
        .collect()
}

/// Argument `i` as an object or map.
pub(crate) fn object_arg(args: &[Value], i: usize) -> Result<&BTreeMap<String, Value>, String> {
    match &args[i] {
        Value::Object(map) => Ok(map),
        v => Err(format!(
            "argument {} must be a map or object, got {}",
            i + 1,
            v.type_name()
        )),
    }
}

/// A string shortened for quoting in an error message.
pub(crate) fn truncate(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}...", &s[..at]),
        None => s.to_owned(),
    }
}

/// A canonical text key for a value, for de-duplication: equal values (as
/// HCL compares them) give equal keys, and values of different types differ.
pub(crate) fn dedup_key(v: &Value) -> String {
    serde_json::to_string(&v.to_json()).unwrap_or_default()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::jobspec::MemoryFiles;
    use rand::SeedableRng;

    /// Calls `name` with no files, base directory "" and RNG seed 1.
    pub fn run(name: &str, args: Vec<Value>) -> Result<Value, String> {
        run_with(&MemoryFiles::new(), "", name, args)
    }

    /// Calls `name` with the given files and base directory.
    pub fn run_with(
        files: &MemoryFiles,
        base_dir: &str,
        name: &str,
        args: Vec<Value>,
    ) -> Result<Value, String> {
        let rng = RefCell::new(rand_chacha::ChaCha8Rng::seed_from_u64(1));
        let ctx = FunctionContext {
            files,
            base_dir,
            rng: &rng,
        };
        call(name, &ctx, args).unwrap_or_else(|| panic!("no function named {name}"))
    }

    pub fn s(text: &str) -> Value {
        Value::string(text)
    }

    pub fn n(i: i64) -> Value {
        Value::int(i)
    }

    pub fn list(items: Vec<Value>) -> Value {
        Value::List(items)
    }

    pub fn strs(items: &[&str]) -> Value {
        Value::List(items.iter().map(|t| Value::string(*t)).collect())
    }

    pub fn obj(pairs: &[(&str, Value)]) -> Value {
        Value::Object(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    /// Asserts the call fails with a message containing `needle`.
    pub fn fails(name: &str, args: Vec<Value>, needle: &str) {
        match run(name, args) {
            Ok(v) => panic!("{name} succeeded with {v:?}, expected an error containing {needle:?}"),
            Err(e) => {
                assert!(
                    e.starts_with(&format!("{name}: ")),
                    "{e:?} does not name {name}"
                );
                assert!(e.contains(needle), "{e:?} does not contain {needle:?}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testutil::*;
    use super::*;

    #[test]
    fn names_are_sorted_unique_and_callable() {
        let all = names();
        assert!(
            all.windows(2).all(|w| w[0] < w[1]),
            "duplicate or unsorted names"
        );
        assert!(all.contains(&"cidrsubnets") && all.contains(&"yamlencode"));
        assert!(!all.contains(&"can") && !all.contains(&"try"));
    }

    #[test]
    fn unknown_function_is_none() {
        let rng = RefCell::new(<rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1));
        let files = crate::jobspec::NoFiles;
        let ctx = FunctionContext {
            files: &files,
            base_dir: "",
            rng: &rng,
        };
        assert!(call("nosuchfunction", &ctx, vec![]).is_none());
    }

    #[test]
    fn arity_errors_name_the_function() {
        fails("upper", vec![], "expects 1 argument, got 0");
        fails("lookup", vec![n(1)], "expects 2 to 3 arguments, got 1");
        fails("join", vec![], "expects at least 1 argument, got 0");
        fails("uuidv4", vec![n(1)], "expects 0 arguments, got 1");
    }

    #[test]
    fn number_parsing_follows_hcl() {
        assert_eq!(parse_number("12"), Some(Number::from(12)));
        assert_eq!(parse_number("-1.5e2"), Number::from_f64(-150.0));
        assert_eq!(parse_number(".5"), Number::from_f64(0.5));
        for bad in ["", " 1", "inf", "NaN", "0x10", "1e", ".", "+", "1.2.3"] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_number("18446744073709551615"),
            Some(Number::from(u64::MAX))
        );
    }
}
