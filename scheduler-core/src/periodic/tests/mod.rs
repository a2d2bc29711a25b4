//! Tests of periodic schedules, the launcher and dispatch.

use chrono::{NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::model::{Job, JobType, PeriodicConfig};

mod dispatch;
mod launcher;
mod schedule;

/// Unix nanoseconds of a UTC wall clock time.
fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> i64 {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .and_then(|time| time.timestamp_nanos_opt())
        .expect("a valid UTC time")
}

/// Unix nanoseconds of an unambiguous wall clock time in `zone`.
fn local(zone: &str, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> i64 {
    let zone: Tz = zone.parse().expect("a known zone");
    let naive = NaiveDate::from_ymd_opt(y, mo, d)
        .and_then(|date| date.and_hms_opt(h, mi, 0))
        .expect("a valid date");
    zone.from_local_datetime(&naive)
        .single()
        .and_then(|time| time.timestamp_nanos_opt())
        .expect("an unambiguous local time")
}

/// A UTC cron block with one spec.
fn cron(spec: &str) -> PeriodicConfig {
    PeriodicConfig {
        spec: spec.to_owned(),
        ..PeriodicConfig::default()
    }
}

/// A batch job `id` in namespace `default` with the given periodic block.
fn periodic_job(id: &str, periodic: PeriodicConfig) -> Job {
    Job {
        id: id.into(),
        name: id.to_owned(),
        namespace: "default".to_owned(),
        job_type: JobType::Batch,
        periodic: Some(periodic),
        ..Job::default()
    }
}
