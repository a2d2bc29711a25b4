use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Filter, FilterError};

/// A `/v1/jobs` list stub.
fn job_stub() -> Value {
    json!({
        "ID": "web",
        "ParentID": "",
        "Name": "web",
        "Namespace": "default",
        "Datacenters": ["dc1", "dc2"],
        "NodePool": "default",
        "Multiregion": null,
        "Type": "service",
        "Priority": 50,
        "Periodic": false,
        "ParameterizedJob": false,
        "Stop": false,
        "Status": "running",
        "StatusDescription": "",
        "Meta": {"owner": "ops", "my-key": "blue", "team.name": "sre"},
        "TaskGroups": [
            {"Name": "api", "Count": 3, "Tasks": [{"Name": "server"}, {"Name": "sidecar"}]},
            {"Name": "cache-tier", "Count": 1, "Tasks": [{"Name": "redis"}]}
        ],
        "JobSummary": {
            "JobID": "web",
            "Namespace": "default",
            "Summary": {
                "api": {"Queued": 0, "Complete": 0, "Failed": 1, "Running": 3, "Starting": 0, "Lost": 0},
                "cache-tier": {"Queued": 1, "Complete": 0, "Failed": 0, "Running": 0, "Starting": 0, "Lost": 0}
            },
            "Children": {"Pending": 0, "Running": 0, "Dead": 0},
            "CreateIndex": 10,
            "ModifyIndex": 20
        },
        "CreateIndex": 10,
        "ModifyIndex": 22,
        "JobModifyIndex": 21,
        "SubmitTime": 1_700_000_000_000_000_000_u64
    })
}

/// A `/v1/allocations` list stub.
fn allocation_stub() -> Value {
    json!({
        "ID": "5456bd7a-9fc0-c0dd-6131-cbee77f57577",
        "EvalID": "9f2f1b6c-5f70-1b6d-9a32-6b1b0c2a8f11",
        "Name": "web.api[0]",
        "Namespace": "default",
        "NodeID": "fb2170a8-257d-3c64-b14d-bc06cc94e34c",
        "NodeName": "client-1",
        "JobID": "web",
        "JobType": "service",
        "JobVersion": 3,
        "TaskGroup": "api",
        "DesiredStatus": "run",
        "DesiredDescription": "",
        "ClientStatus": "running",
        "ClientDescription": "Tasks are running",
        "DeploymentStatus": {"Healthy": true, "Canary": false},
        "FollowupEvalID": "",
        "RescheduleTracker": null,
        "TaskStates": {
            "server": {
                "State": "running",
                "Failed": false,
                "Restarts": 2,
                "Events": [{"Type": "Received"}, {"Type": "Task Setup"}, {"Type": "Started"}]
            }
        },
        "CreateIndex": 30,
        "ModifyIndex": 34
    })
}

/// A `/v1/nodes` list stub (with `?os=true`).
fn node_stub() -> Value {
    json!({
        "Address": "10.0.0.5",
        "ID": "fb2170a8-257d-3c64-b14d-bc06cc94e34c",
        "Datacenter": "dc1",
        "Name": "client-1",
        "NodeClass": "",
        "NodePool": "default",
        "Version": "1.9.3",
        "Drain": false,
        "SchedulingEligibility": "eligible",
        "Status": "ready",
        "StatusDescription": "",
        "Attributes": {"kernel.name": "linux", "cpu.arch": "amd64", "os.name": "ubuntu"},
        "Drivers": {
            "docker": {"Detected": true, "Healthy": true},
            "exec": {"Detected": true, "Healthy": false}
        },
        "HostVolumes": {},
        "LastDrain": null,
        "CreateIndex": 7,
        "ModifyIndex": 41
    })
}

/// Parses `expression`, failing the test with the parse error if any.
fn filter(expression: &str) -> Filter {
    match Filter::parse(expression) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{expression:?} should parse: {error}"),
    }
}

fn assert_matches(value: &Value, expression: &str, expected: bool) {
    assert_eq!(filter(expression).matches(value), expected, "{expression}");
}

fn parse_error(expression: &str) -> FilterError {
    match Filter::parse(expression) {
        Ok(parsed) => panic!("{expression:?} should not parse, got {parsed:?}"),
        Err(error) => error,
    }
}

#[test]
fn equality_on_strings_numbers_and_booleans() {
    let job = job_stub();
    for (expression, expected) in [
        (r#"Status == "running""#, true),
        ("Status == running", true),
        ("Status == `running`", true),
        (r#"Status == "dead""#, false),
        (r#"Status != "dead""#, true),
        (r#"Status != "running""#, false),
        ("Priority == 50", true),
        (r#"Priority == "50""#, true),
        ("Priority == 50.0", true),
        ("Priority == 5e1", true),
        ("Priority != 51", true),
        ("Priority == fifty", false),
        ("Stop == false", true),
        ("Stop == true", false),
        ("Stop != true", true),
        ("SubmitTime == 1700000000000000000", true),
        ("JobSummary.Summary.api.Running == 3", true),
        (r#"Meta.owner == "ops""#, true),
        // A list or a map is never equal to a single value.
        (r#"Datacenters == "dc1""#, false),
        (r#"Meta == "ops""#, false),
    ] {
        assert_matches(&job, expression, expected);
    }
}

#[test]
fn contains_and_in_on_lists_maps_and_strings() {
    let job = job_stub();
    for (expression, expected) in [
        (r#"Datacenters contains "dc1""#, true),
        (r#""dc2" in Datacenters"#, true),
        ("dc3 in Datacenters", false),
        (r#""dc3" not in Datacenters"#, true),
        (r#"Datacenters not contains "dc1""#, false),
        // On a map, the test is whether the key is present.
        (r#""owner" in Meta"#, true),
        (r#"Meta contains "team.name""#, true),
        (r#"Meta contains "ops""#, false),
        // On a string, it is a substring test.
        (r#"Status contains "unn""#, true),
        (r#""run" in Status"#, true),
        (r#""dead" in Status"#, false),
        // A number has no elements.
        (r#"Priority contains "5""#, false),
        ("JobSummary.Summary contains api", true),
    ] {
        assert_matches(&job, expression, expected);
    }
}

#[test]
fn emptiness() {
    let job = job_stub();
    let node = node_stub();
    for (value, expression, expected) in [
        (&job, "StatusDescription is empty", true),
        (&job, "Status is empty", false),
        (&job, "Status is not empty", true),
        (&job, "Datacenters is not empty", true),
        (&job, "Meta is not empty", true),
        // `null` is how Nomad writes an unset map or pointer.
        (&job, "Multiregion is empty", true),
        (&job, "Priority is empty", false),
        (&job, "Stop is not empty", true),
        (&node, "HostVolumes is empty", true),
        (&node, "Drivers is not empty", true),
        (&node, "LastDrain is empty", true),
    ] {
        assert_matches(value, expression, expected);
    }
}

#[test]
fn regular_expressions() {
    let allocation = allocation_stub();
    for (expression, expected) in [
        (r#"Name matches "^web\\.api\\[[0-9]+\\]$""#, true),
        (r"Name matches `^web\.api\[[0-9]+\]$`", true),
        (r#"NodeName matches "^client-[0-9]$""#, true),
        (r#"NodeName not matches "^server-""#, true),
        (r#"ClientStatus matches "^(failed|lost)$""#, false),
        // Scalars are matched by their text.
        (r#"JobVersion matches "^[0-9]$""#, true),
        ("DeploymentStatus.Healthy matches true", true),
        (r#"TaskStates matches ".""#, false),
    ] {
        assert_matches(&allocation, expression, expected);
    }
}

#[test]
fn selectors_with_brackets_quoted_segments_and_indexes() {
    let job = job_stub();
    let node = node_stub();
    let allocation = allocation_stub();
    for (value, expression, expected) in [
        (&job, r#"Meta["my-key"] == blue"#, true),
        (&job, r#"Meta[ "team.name" ] == sre"#, true),
        (&job, "Meta[`team.name`] == sre", true),
        (&job, r#"Meta."team.name" == sre"#, true),
        (&job, "Meta.my-key == blue", true),
        (
            &job,
            r#"JobSummary.Summary["cache-tier"].Queued == 1"#,
            true,
        ),
        (&job, "JobSummary.Summary.cache-tier.Queued == 1", true),
        (&job, "Datacenters.1 == dc2", true),
        (&job, "Datacenters[0] == dc1", true),
        (&job, "Datacenters.2 is empty", true),
        (&node, r#"Attributes["kernel.name"] == linux"#, true),
        (&node, "Drivers.exec.Healthy == false", true),
        (&allocation, "TaskStates.server.Restarts == 2", true),
    ] {
        assert_matches(value, expression, expected);
    }
}

#[test]
fn a_path_through_a_list_reaches_each_element() {
    let job = job_stub();
    let allocation = allocation_stub();
    for (value, expression, expected) in [
        (&job, r#"TaskGroups.Name contains "api""#, true),
        (&job, r#""cache-tier" in TaskGroups.Name"#, true),
        (&job, r#""db" in TaskGroups.Name"#, false),
        (&job, "TaskGroups.Count contains 3", true),
        // Nested lists flatten into one list of names.
        (&job, "TaskGroups.Tasks.Name contains redis", true),
        (&job, "TaskGroups.Missing is empty", true),
        (&job, "TaskGroups.Name is not empty", true),
        // A projection is a list, never equal to a single value.
        (&job, "TaskGroups.Name == api", false),
        (
            &allocation,
            r#"TaskStates.server.Events.Type contains "Started""#,
            true,
        ),
        (
            &allocation,
            r#""Killed" not in TaskStates.server.Events.Type"#,
            true,
        ),
    ] {
        assert_matches(value, expression, expected);
    }
}

#[test]
fn missing_selectors_never_equal_and_count_as_empty() {
    let job = job_stub();
    for (expression, expected) in [
        (r#"Nope == "x""#, false),
        (r#"Nope != "x""#, true),
        ("Meta.absent == ops", false),
        ("Meta.absent != ops", true),
        // Walking into a scalar or past the end of a list finds nothing.
        ("Status.Inner == running", false),
        ("Datacenters.9 != dc1", true),
        ("Nope is empty", true),
        ("Nope is not empty", false),
        (r#"Nope contains "x""#, false),
        (r#"Nope not contains "x""#, true),
        (r#""x" in Nope"#, false),
        (r#""x" not in Nope"#, true),
        (r#"Nope matches ".*""#, false),
        (r#"Nope not matches ".*""#, true),
        // `null` behaves the same.
        ("Multiregion == null", false),
        ("Multiregion != x", true),
    ] {
        assert_matches(&job, expression, expected);
    }
}

#[test]
fn precedence_not_then_and_then_or() {
    let job = job_stub();
    for (expression, expected) in [
        // (true and false) or true
        ("Status == running and Stop == true or Priority == 50", true),
        // false or (true and false): `and` binds tighter than `or`.
        ("Stop == true or Status == running and Priority == 1", false),
        (
            "(Stop == true or Status == running) and Priority == 1",
            false,
        ),
        (
            "(Stop == true or Status == running) and Priority == 50",
            true,
        ),
        // (not true) and true: `not` applies to the first match only.
        ("not Status == running and Priority == 50", false),
        ("not (Status == running and Priority == 1)", true),
        // (not false) or false
        ("not Stop == true or Priority == 1", true),
        ("not not Status == running", true),
        ("not not not Status == running", false),
        // A whole expression in parentheses, with spacing everywhere.
        ("  ( ( Status == running ) )  ", true),
        ("Status==running and(Priority==50)", true),
        // A keyword only counts as a whole word: `notes` is a selector.
        ("notes is empty and orders is empty", true),
    ] {
        assert_matches(&job, expression, expected);
    }
}

#[test]
fn string_escapes() {
    let value = json!({"Description": "say \"hi\"\tnow \\ é", "Raw": r"C:\dir\n"});
    for (expression, expected) in [
        (r#"Description == "say \"hi\"\tnow \\ \u00e9""#, true),
        (r#"Description == "say \"hi\"\x09now \\ \U000000e9""#, true),
        (r#"Description == "say \"hi\"\011now \\ é""#, true),
        (r"Raw == `C:\dir\n`", true),
        (r#"Raw == "C:\\dir\\n""#, true),
        (r#"Raw != "C:\\dir""#, true),
    ] {
        assert_matches(&value, expression, expected);
    }
}

#[test]
fn errors_name_the_column_and_what_was_expected() {
    for (expression, column, message) in [
        ("", 1, "empty expression"),
        ("   ", 1, "empty expression"),
        (r#"Status == "running"#, 11, "unterminated string literal"),
        ("Status == `running", 11, "unterminated string literal"),
        (
            r#"Status = "running""#,
            8,
            "expected an operator (==, !=, contains, not contains, matches, not matches, \
             is empty, is not empty), found `=`",
        ),
        (
            "Status equals running",
            8,
            "expected an operator (==, !=, contains, not contains, matches, not matches, \
             is empty, is not empty), found `equals`",
        ),
        (
            r#"Status == "running" "dead""#,
            21,
            "expected `and`, `or` or the end of the expression, found a string",
        ),
        (
            "Status == running)",
            18,
            "expected `and`, `or` or the end of the expression, found `)`",
        ),
        (
            "(Status == running",
            19,
            "expected `and`, `or` or `)` closing the `(` at column 1, found the end of the expression",
        ),
        (
            "Status == running and",
            22,
            "expected a selector or a value, found the end of the expression",
        ),
        (
            "Status ==",
            10,
            "expected a value, found the end of the expression",
        ),
        (
            "Status == and",
            11,
            "expected a value, found the keyword `and` (quote it to use it as a value)",
        ),
        ("or == x", 1, "expected a selector, found the keyword `or`"),
        (
            "Status is full",
            11,
            "expected `empty` after `is`, found `full`",
        ),
        (
            "Status not equal x",
            12,
            "expected `contains` or `matches` after `not`, found `equal`",
        ),
        (
            r#"Datacenters in "dc1""#,
            16,
            "expected a selector after `in` (`in` takes the value first, as in `\"value\" in Selector`; \
             after a selector, use `contains`), found a string",
        ),
        (
            r#"Meta["k"] in "x""#,
            11,
            "`in` takes the value first, as in `\"value\" in Selector`; after a selector, use `contains`",
        ),
        (
            r#""dc1" Datacenters"#,
            7,
            "expected `in` or `not in` after a value, found `Datacenters`",
        ),
        ("dc1 in 5", 8, "expected a selector, found `5`"),
        (
            r#"Meta["owner" == x"#,
            14,
            "expected `]` closing the `[` at column 5, found `=`",
        ),
        (
            "Meta[owner] == x",
            6,
            "expected a quoted key or an index inside `[ ]`, found `owner`",
        ),
        (
            "Meta. == x",
            6,
            "expected a field name after `.`, found ` `",
        ),
        (r#"Status == "a\qb""#, 13, "unknown escape sequence `\\q`"),
        (
            r#"Status == "\u12""#,
            12,
            "escape sequence `\\u` is missing digits",
        ),
        (
            r#"Status == "\xff""#,
            12,
            "escape sequence `\\x` does not stand for a character",
        ),
        (
            r#"Status == "\ud800""#,
            12,
            "escape sequence `\\u` does not stand for a character",
        ),
        (
            "Status == x && Stop == true",
            13,
            "expected `and`, `or` or the end of the expression, found `&`",
        ),
        // Columns count characters, not bytes.
        (
            r#"Meta["név"] == é ?"#,
            18,
            "expected `and`, `or` or the end of the expression, found `?`",
        ),
        // Plain field names are ASCII, as in go-bexpr; others need brackets.
        (
            "Név == x",
            2,
            "expected an operator (==, !=, contains, not contains, matches, not matches, \
             is empty, is not empty), found `év`",
        ),
    ] {
        let error = parse_error(expression);
        assert_eq!(
            error,
            FilterError {
                column,
                message: message.to_owned()
            },
            "{expression:?}"
        );
    }
}

#[test]
fn an_invalid_regular_expression_is_a_parse_error_at_its_column() {
    let error = parse_error(r#"Name matches "web-(" and Status == running"#);
    assert_eq!(error.column, 14);
    assert!(
        error.message.starts_with("invalid regular expression: "),
        "{error}"
    );
    assert!(!error.message.contains('\n'), "one line: {error}");
    assert_eq!(
        error.to_string(),
        format!("filter expression, column 14: {}", error.message)
    );
}

#[test]
fn deep_nesting_is_refused_instead_of_overflowing_the_stack() {
    let parentheses = format!(
        "{}Status == running{}",
        "(".repeat(10_000),
        ")".repeat(10_000)
    );
    assert!(parse_error(&parentheses).message.contains("nests deeper"));
    let nots = format!("{}Status == running", "not ".repeat(10_000));
    assert!(parse_error(&nots).message.contains("nests deeper"));
    // Long flat chains are fine: they are not nested.
    let chain = vec!["Priority == 50"; 10_000].join(" and ");
    assert!(filter(&chain).matches(&job_stub()));
    let moderate = format!("{}Status == running{}", "(".repeat(40), ")".repeat(40));
    assert!(filter(&moderate).matches(&job_stub()));
}

#[test]
fn filters_a_list_as_the_list_endpoints_do() {
    let mut other = job_stub();
    other["ID"] = json!("batch-report");
    other["Type"] = json!("batch");
    other["Status"] = json!("dead");
    other["Meta"] = Value::Null;
    let jobs = [job_stub(), other];
    let kept = |expression: &str| -> Vec<String> {
        let parsed = filter(expression);
        jobs.iter()
            .filter(|job| parsed.matches(job))
            .map(|job| job["ID"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(kept(r#"Type == "batch""#), ["batch-report"]);
    assert_eq!(kept("Meta.owner != ops"), ["batch-report"]);
    assert_eq!(
        kept("Meta is empty or Status == running"),
        ["web", "batch-report"]
    );
    assert_eq!(
        kept(r#"ID matches "^web$" and "dc1" in Datacenters"#),
        ["web"]
    );
}

// ---------------------------------------------------------------------------
// Properties.

/// Field names the generated selectors and documents share, so that
/// generated expressions often (not always) reach something.
const FIELDS: [&str; 8] = [
    "Status", "Priority", "Stop", "Meta", "Tags", "owner", "my-key", "0",
];

fn arbitrary_selector() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "Status",
        "Priority",
        "Stop",
        "Tags",
        "Meta",
        "Meta.owner",
        r#"Meta["my-key"]"#,
        "Meta.`0`",
        "Tags.0",
        "Tags.owner",
        "Meta.Tags.Status",
        "Missing",
    ])
    .prop_map(str::to_owned)
}

fn arbitrary_value() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""running""#,
        "running",
        "50",
        "-1",
        "1.5",
        "true",
        "false",
        "`ops`",
        r#""""#,
        r#""a\"b""#,
        "owner",
        "0",
    ])
    .prop_map(str::to_owned)
}

fn arbitrary_regex() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        r#""^run""#,
        "`.*`",
        r#""[0-9]+""#,
        r#""^$""#,
        "`ops|sre`",
        "true",
    ])
    .prop_map(str::to_owned)
}

/// A single well-formed match expression, of every operator.
fn arbitrary_match() -> impl Strategy<Value = String> {
    let with_value = prop::sample::select(vec!["==", "!=", "contains", "not contains"]);
    let membership = prop::sample::select(vec!["in", "not in"]);
    let emptiness = prop::sample::select(vec!["is empty", "is not empty"]);
    let regex = prop::sample::select(vec!["matches", "not matches"]);
    prop_oneof![
        (arbitrary_selector(), with_value, arbitrary_value())
            .prop_map(|(selector, operator, value)| format!("{selector} {operator} {value}")),
        (arbitrary_value(), membership, arbitrary_selector())
            .prop_map(|(value, operator, selector)| format!("{value} {operator} {selector}")),
        (arbitrary_selector(), emptiness)
            .prop_map(|(selector, operator)| format!("{selector} {operator}")),
        (arbitrary_selector(), regex, arbitrary_regex())
            .prop_map(|(selector, operator, pattern)| format!("{selector} {operator} {pattern}")),
    ]
}

/// A well-formed expression: matches combined with `not`, `and`, `or` and
/// parentheses (where the text's precedence decides the meaning).
fn arbitrary_expression() -> impl Strategy<Value = String> {
    arbitrary_match().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            inner.clone().prop_map(|operand| format!("not {operand}")),
            inner.clone().prop_map(|operand| format!("({operand})")),
            (inner.clone(), inner.clone()).prop_map(|(left, right)| format!("{left} and {right}")),
            (inner.clone(), inner).prop_map(|(left, right)| format!("{left} or {right}")),
        ]
    })
}

/// A JSON object over the shared field names, with values of every type.
fn arbitrary_document() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        (-2_i64..60).prop_map(Value::from),
        prop::sample::select(vec![
            "running", "ops", "", "50", "true", "1.5", "a\"b", "owner"
        ])
        .prop_map(Value::from),
    ];
    let field = prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned);
    let nested = leaf.prop_recursive(3, 24, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(field.clone(), inner, 0..4)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    });
    let field = prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned);
    prop::collection::btree_map(field, nested, 0..6)
        .prop_map(|fields| Value::Object(fields.into_iter().collect()))
}

/// Text made of the language's own pieces, to reach deep into the parser
/// more often than random characters do.
fn token_soup() -> impl Strategy<Value = String> {
    let token = prop::sample::select(vec![
        "Status", "Meta", ".", "[", "]", "\"", "`", "\\", "\"x\"", "(", ")", "==", "!=", "=", "!",
        "and", "or", "not", "in", "contains", "matches", "is", "empty", "50", "-", " ", "\\u00",
        "é", "\n",
    ]);
    prop::collection::vec(token, 0..16).prop_map(|tokens| tokens.concat())
}

proptest! {
    #[test]
    fn parse_never_panics(text in prop_oneof![any::<String>(), "[ -~]{0,40}", token_soup()]) {
        if let Err(error) = Filter::parse(&text) {
            prop_assert!(error.column >= 1);
            prop_assert!(error.column <= text.chars().count() + 1, "{error} in {text:?}");
        }
    }

    #[test]
    fn not_negates_any_well_formed_expression(
        expression in arbitrary_expression(),
        document in arbitrary_document(),
    ) {
        let plain = Filter::parse(&expression);
        prop_assert!(plain.is_ok(), "{expression:?}: {plain:?}");
        let negated = Filter::parse(&format!("not ({expression})"));
        prop_assert!(negated.is_ok(), "{expression:?}: {negated:?}");
        if let (Ok(plain), Ok(negated)) = (plain, negated) {
            prop_assert_eq!(negated.matches(&document), !plain.matches(&document), "{} on {}", expression, document);
        }
    }

    #[test]
    fn and_binds_tighter_than_or_and_not_tighter_than_and(
        first in arbitrary_expression(),
        second in arbitrary_expression(),
        third in arbitrary_expression(),
        document in arbitrary_document(),
    ) {
        let matches = |text: String| filter(&text).matches(&document);
        let (a, b, c) = (format!("({first})"), format!("({second})"), format!("({third})"));
        prop_assert_eq!(matches(format!("{a} or {b} and {c}")), matches(format!("{a} or ({b} and {c})")));
        prop_assert_eq!(matches(format!("{a} and {b} or {c}")), matches(format!("({a} and {b}) or {c}")));
        prop_assert_eq!(matches(format!("not {a} and {b}")), matches(format!("(not {a}) and {b}")));
    }
}
