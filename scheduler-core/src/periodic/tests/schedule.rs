//! `next_launch`, validation and the periodic child.

use std::str::FromStr;

use chrono::DateTime;
use chrono_tz::Tz;
use croner::Cron;
use proptest::prelude::*;

use super::{cron, local, periodic_job, utc};
use crate::model::PeriodicConfig;
use crate::periodic::{
    PeriodicError, PeriodicSchedule, next_launch, periodic_child, validate_periodic,
};

/// Each `(after, expected)` pair: the next launch of `periodic` after
/// `after` is `expected`.
fn check(periodic: &PeriodicConfig, steps: &[(i64, Option<i64>)]) {
    for &(after, expected) in steps {
        let got = next_launch(periodic, after).expect("a valid periodic block");
        assert_eq!(
            got.map(crate::model::timestamp::format_rfc3339_nanos),
            expected.map(crate::model::timestamp::format_rfc3339_nanos),
            "{periodic:?} after {}",
            crate::model::timestamp::format_rfc3339_nanos(after)
        );
    }
}

/// A block with one spec in a time zone.
fn zoned(spec: &str, zone: &str) -> PeriodicConfig {
    PeriodicConfig {
        time_zone: zone.to_owned(),
        ..cron(spec)
    }
}

#[test]
fn every_five_minutes_is_strictly_after() {
    check(
        &cron("*/5 * * * *"),
        &[
            (utc(2024, 5, 1, 10, 2, 30), Some(utc(2024, 5, 1, 10, 5, 0))),
            // Exactly on a launch: the next one.
            (utc(2024, 5, 1, 10, 5, 0), Some(utc(2024, 5, 1, 10, 10, 0))),
            // A nanosecond before a launch: that launch.
            (
                utc(2024, 5, 1, 10, 5, 0) - 1,
                Some(utc(2024, 5, 1, 10, 5, 0)),
            ),
            (utc(2024, 5, 1, 23, 58, 0), Some(utc(2024, 5, 2, 0, 0, 0))),
        ],
    );
}

#[test]
fn six_fields_are_minute_to_year_as_in_nomad() {
    check(
        &cron("30 */2 * * * 2024"),
        &[
            (utc(2024, 5, 1, 10, 0, 0), Some(utc(2024, 5, 1, 10, 30, 0))),
            (utc(2024, 5, 1, 10, 30, 0), Some(utc(2024, 5, 1, 12, 30, 0))),
            // The year field ends the schedule.
            (utc(2024, 12, 31, 23, 0, 0), None),
        ],
    );
}

#[test]
fn seven_fields_start_with_seconds() {
    check(
        &cron("30 */2 * * * * *"),
        &[
            (utc(2024, 5, 1, 10, 0, 0), Some(utc(2024, 5, 1, 10, 0, 30))),
            (utc(2024, 5, 1, 10, 0, 30), Some(utc(2024, 5, 1, 10, 2, 30))),
        ],
    );
}

#[test]
fn predefined_schedules() {
    let after = utc(2024, 5, 1, 10, 0, 0);
    for spec in ["@daily", "@midnight", "@DAILY"] {
        check(&cron(spec), &[(after, Some(utc(2024, 5, 2, 0, 0, 0)))]);
    }
    check(
        &cron("@hourly"),
        &[(after, Some(utc(2024, 5, 1, 11, 0, 0)))],
    );
    check(&cron("@weekly"), &[(after, Some(utc(2024, 5, 5, 0, 0, 0)))]);
    check(
        &cron("@monthly"),
        &[(after, Some(utc(2024, 6, 1, 0, 0, 0)))],
    );
    check(&cron("@yearly"), &[(after, Some(utc(2025, 1, 1, 0, 0, 0)))]);
}

#[test]
fn last_day_of_month() {
    check(
        &cron("0 0 L * *"),
        &[
            (utc(2024, 2, 10, 0, 0, 0), Some(utc(2024, 2, 29, 0, 0, 0))),
            (utc(2024, 2, 29, 0, 0, 0), Some(utc(2024, 3, 31, 0, 0, 0))),
            (utc(2023, 2, 1, 0, 0, 0), Some(utc(2023, 2, 28, 0, 0, 0))),
        ],
    );
}

#[test]
fn nth_weekday_with_names() {
    // The second Monday: 13 May 2024, then 10 June 2024.
    check(
        &cron("0 9 * * MON#2"),
        &[
            (utc(2024, 5, 1, 0, 0, 0), Some(utc(2024, 5, 13, 9, 0, 0))),
            (utc(2024, 5, 13, 9, 0, 0), Some(utc(2024, 6, 10, 9, 0, 0))),
        ],
    );
    // Names for months and ranges of weekdays.
    check(
        &cron("15 3 * JUN mon-fri"),
        &[(utc(2024, 5, 1, 0, 0, 0), Some(utc(2024, 6, 3, 3, 15, 0)))],
    );
}

#[test]
fn seven_fields_end_with_a_year() {
    check(
        &cron("0 0 12 1 1 * 2030"),
        &[
            (utc(2024, 5, 1, 0, 0, 0), Some(utc(2030, 1, 1, 12, 0, 0))),
            // Past the year: never again.
            (utc(2030, 1, 1, 12, 0, 0), None),
        ],
    );
}

#[test]
fn a_date_that_never_comes_has_no_launch() {
    check(&cron("0 0 30 2 *"), &[(utc(2024, 1, 1, 0, 0, 0), None)]);
}

#[test]
fn time_zone_shifts_the_launch() {
    // 09:00 in Berlin is 08:00 UTC in winter (CET) and 07:00 UTC once the
    // clocks go forward on 31 March 2024 (CEST).
    check(
        &zoned("0 9 * * *", "Europe/Berlin"),
        &[
            (utc(2024, 3, 29, 12, 0, 0), Some(utc(2024, 3, 30, 8, 0, 0))),
            (utc(2024, 3, 30, 12, 0, 0), Some(utc(2024, 3, 31, 7, 0, 0))),
        ],
    );
    check(
        &zoned("30 2 * * *", "America/New_York"),
        &[(
            utc(2024, 5, 1, 10, 0, 0),
            Some(local("America/New_York", 2024, 5, 2, 2, 30)),
        )],
    );
}

#[test]
fn a_skipped_time_of_day_runs_after_the_gap() {
    // New York skips 02:00-03:00 on 10 March 2024: 02:30 runs at 03:00 EDT
    // (07:00 UTC), then at 02:30 EDT again.
    check(
        &zoned("30 2 * * *", "America/New_York"),
        &[
            (
                local("America/New_York", 2024, 3, 9, 12, 0),
                Some(utc(2024, 3, 10, 7, 0, 0)),
            ),
            (
                utc(2024, 3, 10, 7, 0, 0),
                Some(local("America/New_York", 2024, 3, 11, 2, 30)),
            ),
        ],
    );
    // Berlin skips 02:00-03:00 on 31 March 2024: 02:00 runs at 03:00 CEST.
    check(
        &zoned("0 2 * * *", "Europe/Berlin"),
        &[(utc(2024, 3, 30, 12, 0, 0), Some(utc(2024, 3, 31, 1, 0, 0)))],
    );
}

#[test]
fn a_repeated_time_of_day_runs_once() {
    // New York repeats 01:00-02:00 on 3 November 2024 (EDT, then EST). A
    // fixed time runs at its first occurrence only.
    check(
        &zoned("30 1 * * *", "America/New_York"),
        &[
            (utc(2024, 11, 2, 16, 0, 0), Some(utc(2024, 11, 3, 5, 30, 0))),
            (utc(2024, 11, 3, 5, 30, 0), Some(utc(2024, 11, 4, 6, 30, 0))),
        ],
    );
}

#[test]
fn an_interval_runs_through_the_repeated_hour() {
    check(
        &zoned("*/30 * * * *", "America/New_York"),
        &[
            (utc(2024, 11, 3, 5, 0, 0), Some(utc(2024, 11, 3, 5, 30, 0))),
            (utc(2024, 11, 3, 5, 30, 0), Some(utc(2024, 11, 3, 6, 0, 0))),
            (utc(2024, 11, 3, 6, 0, 0), Some(utc(2024, 11, 3, 6, 30, 0))),
            (utc(2024, 11, 3, 6, 30, 0), Some(utc(2024, 11, 3, 7, 0, 0))),
        ],
    );
}

#[test]
fn several_specs_launch_at_the_earliest() {
    let periodic = PeriodicConfig {
        specs: vec!["0 6 * * *".to_owned(), "30 18 * * *".to_owned()],
        ..cron("0 12 * * *")
    };
    check(
        &periodic,
        &[
            (utc(2024, 5, 1, 7, 0, 0), Some(utc(2024, 5, 1, 12, 0, 0))),
            (utc(2024, 5, 1, 12, 0, 0), Some(utc(2024, 5, 1, 18, 30, 0))),
            (utc(2024, 5, 1, 18, 30, 0), Some(utc(2024, 5, 2, 6, 0, 0))),
        ],
    );
    // `crons` alone, with one spec that never matches again.
    let periodic = PeriodicConfig {
        specs: vec!["0 0 30 2 *".to_owned(), "0 6 * * *".to_owned()],
        ..PeriodicConfig::default()
    };
    check(
        &periodic,
        &[(utc(2024, 5, 1, 7, 0, 0), Some(utc(2024, 5, 2, 6, 0, 0)))],
    );
}

#[test]
fn disabled_never_launches() {
    let periodic = PeriodicConfig {
        enabled: Some(false),
        ..cron("*/5 * * * *")
    };
    assert_eq!(next_launch(&periodic, utc(2024, 5, 1, 0, 0, 0)), Ok(None));
    // Not checked either, as in Nomad.
    let broken = PeriodicConfig {
        enabled: Some(false),
        time_zone: "Nowhere/Special".to_owned(),
        ..cron("not a cron")
    };
    assert_eq!(next_launch(&broken, 0), Ok(None));
    assert_eq!(validate_periodic(&broken), Ok(()));
}

/// The error `validate_periodic` and `next_launch` give for `periodic`.
fn error(periodic: &PeriodicConfig) -> String {
    let from_validate = validate_periodic(periodic).expect_err("an invalid block");
    assert_eq!(next_launch(periodic, 0), Err(from_validate.clone()));
    from_validate.to_string()
}

#[test]
fn errors_name_what_is_wrong() {
    assert_eq!(
        error(&cron("*/5 * *")),
        "cron \"*/5 * *\" is invalid: pattern must have between 5 and 7 fields"
    );
    assert_eq!(
        error(&cron("61 * * * *")),
        "cron \"61 * * * *\" is invalid: number out of bounds"
    );
    assert_eq!(
        error(&cron("@fortnightly")),
        "cron \"@fortnightly\" is invalid: \"@fortnightly\" is not a predefined schedule: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly"
    );

    // A bad entry of `crons` is named, not the good `cron`.
    let periodic = PeriodicConfig {
        specs: vec!["0 6 * * *".to_owned(), "0 6 * * FUNDAY".to_owned()],
        ..cron("0 12 * * *")
    };
    assert_eq!(
        error(&periodic),
        "cron \"0 6 * * FUNDAY\" is invalid: CronPattern contains illegal character 'F' in part 'FUNDAY'"
    );

    assert_eq!(
        error(&zoned("0 12 * * *", "Mars/Olympus_Mons")),
        "time zone \"Mars/Olympus_Mons\" is unknown: use an IANA name such as \"America/New_York\", or \"UTC\""
    );
    assert_eq!(
        error(&PeriodicConfig::default()),
        "the periodic block has no schedule: set cron, as in cron = \"*/15 * * * *\""
    );
    assert_eq!(
        error(&PeriodicConfig {
            spec_type: "test".to_owned(),
            ..cron("0 12 * * *")
        }),
        "periodic spec type \"test\" is unknown: only cron is supported"
    );
    assert!(matches!(
        validate_periodic(&cron("*/5 * *")),
        Err(PeriodicError::InvalidSpec { spec, .. }) if spec == "*/5 * *"
    ));
}

#[test]
fn zones_are_iana_names() {
    for zone in [
        "",
        "UTC",
        "Etc/UTC",
        "America/New_York",
        "Europe/Berlin",
        "Asia/Kolkata",
    ] {
        assert_eq!(validate_periodic(&zoned("@daily", zone)), Ok(()), "{zone}");
    }
    let schedule = PeriodicSchedule::new(&cron("@daily")).expect("valid");
    assert_eq!(schedule.time_zone(), "UTC");
    let schedule = PeriodicSchedule::new(&zoned("@daily", "Europe/Berlin")).expect("valid");
    assert_eq!(schedule.time_zone(), "Europe/Berlin");
}

#[test]
fn periodic_child_is_a_one_off_copy() {
    let mut parent = periodic_job("report", cron("*/5 * * * *"));
    parent.meta.insert("team".to_owned(), "data".to_owned());
    parent.status = "running".to_owned();
    parent.version = 3;
    let launch = utc(2024, 5, 1, 10, 5, 0) + 123;
    let child = periodic_child(&parent, launch);
    assert_eq!(child.id.as_str(), "report/periodic-1714557900");
    assert_eq!(child.name, "report/periodic-1714557900");
    assert_eq!(child.parent_id.as_str(), "report");
    assert_eq!(child.periodic, None);
    assert_eq!(child.status, "pending");
    assert_eq!(child.meta, parent.meta);
    assert_eq!(child.version, 3);
    assert_eq!(child.job_type, parent.job_type);
    assert_eq!(child.namespace, parent.namespace);
}

/// Specs for the properties: intervals, fixed times, names, `L`, `#`.
const SPECS: &[&str] = &[
    "*/5 * * * *",
    "*/7 * * * * * *",
    "0 0 * * *",
    "30 2 * * *",
    "30 1 * * *",
    "0 9 * * MON#2",
    "0 0 L * *",
    "15 10 * JAN,JUL MON-FRI",
    "@hourly",
    "0 */3 1-7 * *",
];

const ZONES: &[&str] = &[
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
];

/// 2000-01-01 and 2100-01-01 in Unix nanoseconds.
const YEAR_2000: i64 = 946_684_800_000_000_000;
const YEAR_2100: i64 = 4_102_444_800_000_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn next_launch_is_after_and_is_croners(
        after in YEAR_2000..YEAR_2100,
        spec in proptest::sample::select(SPECS),
        zone in proptest::sample::select(ZONES),
    ) {
        let got = next_launch(&zoned(spec, zone), after)
            .expect("valid")
            .expect("a launch");
        prop_assert!(got > after);

        let tz: Tz = zone.parse().expect("a known zone");
        let start = DateTime::from_timestamp(after.div_euclid(1_000_000_000), 0)
            .expect("in range")
            .with_timezone(&tz);
        let croner_says = Cron::from_str(spec)
            .expect("parses")
            .find_next_occurrence(&start, false)
            .expect("a match");
        prop_assert_eq!(got, croner_says.timestamp() * 1_000_000_000);
    }

    #[test]
    fn several_specs_take_the_earliest(
        after in YEAR_2000..YEAR_2100,
        specs in proptest::sample::subsequence(SPECS, 1..4),
    ) {
        let periodic = PeriodicConfig {
            specs: specs.iter().map(|spec| (*spec).to_owned()).collect(),
            ..PeriodicConfig::default()
        };
        let earliest = specs
            .iter()
            .filter_map(|spec| next_launch(&cron(spec), after).expect("valid"))
            .min();
        prop_assert_eq!(next_launch(&periodic, after).expect("valid"), earliest);
    }
}
