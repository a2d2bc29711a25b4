//! When periodic jobs launch, and the child job each launch registers.
//!
//! A schedule is every cron spec of a job's `periodic` block read in its time
//! zone; the next launch is the earliest match of any spec strictly after a
//! given instant. The launcher tracks the next launch of every periodic job
//! and hands out the launches that are due; it reads no clock, so the caller
//! says what time it is.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use croner::Cron;
use croner::errors::CronError;

use crate::model::{Job, JobId, PeriodicConfig};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// What is wrong with a `periodic` block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeriodicError {
    /// Neither `cron` nor `crons` is set.
    #[error("the periodic block has no schedule: set cron, as in cron = \"*/15 * * * *\"")]
    NoSpec,
    /// The spec type is not `cron`.
    #[error("periodic spec type {spec_type:?} is unknown: only cron is supported")]
    UnknownSpecType {
        /// The spec type as written.
        spec_type: String,
    },
    /// A cron expression does not parse.
    #[error("cron {spec:?} is invalid: {reason}")]
    InvalidSpec {
        /// The expression as written.
        spec: String,
        /// Why the cron parser rejected it.
        reason: String,
    },
    /// The time zone is not an IANA time zone name.
    #[error(
        "time zone {zone:?} is unknown: use an IANA name such as \"America/New_York\", or \"UTC\""
    )]
    UnknownTimeZone {
        /// The time zone as written.
        zone: String,
    },
}

/// A `periodic` block made ready to answer "when next?": every spec parsed,
/// the time zone resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeriodicSchedule {
    specs: Vec<Cron>,
    zone: Tz,
}

impl PeriodicSchedule {
    /// Parses every spec of `periodic` and its time zone (`UTC` when empty).
    ///
    /// Checks the block whether or not it is enabled; the first problem
    /// found is returned, in the order spec type, presence of a spec, each
    /// spec (`cron` then `crons`), time zone.
    pub fn new(periodic: &PeriodicConfig) -> Result<Self, PeriodicError> {
        match periodic.spec_type.as_str() {
            "" | "cron" => {}
            other => {
                return Err(PeriodicError::UnknownSpecType {
                    spec_type: other.to_owned(),
                });
            }
        }
        let specs = periodic
            .all_specs()
            .map(parse_spec)
            .collect::<Result<Vec<_>, _>>()?;
        if specs.is_empty() {
            return Err(PeriodicError::NoSpec);
        }
        let zone = parse_zone(&periodic.time_zone)?;
        Ok(Self { specs, zone })
    }

    /// The IANA name of the time zone the specs are read in (`UTC` when
    /// the block sets none).
    pub fn time_zone(&self) -> &'static str {
        self.zone.name()
    }

    /// The earliest launch strictly after `after` (Unix nanoseconds) of any
    /// spec, in Unix nanoseconds; `None` when no spec matches again (as
    /// `0 0 30 2 *`, or a year field in the past) or the match lies beyond
    /// what `i64` nanoseconds hold (the year 2262).
    ///
    /// Launches fall on whole seconds. Across a daylight saving change the
    /// answer is `croner`'s: a fixed time of day (`30 2 * * *`) that the
    /// clock skips runs at the first instant after the gap, and one the
    /// clock repeats runs once, at its first occurrence; an interval
    /// (`*/30 * * * *`) runs at every instant whose wall clock matches.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        let start = DateTime::<Utc>::from_timestamp(after.div_euclid(NANOS_PER_SECOND), 0)?
            .with_timezone(&self.zone);
        self.specs
            .iter()
            // A search that fails (no match up to croner's year limit, or
            // out of chrono's range) means this spec launches no more.
            .filter_map(|cron| cron.find_next_occurrence(&start, false).ok())
            .filter_map(|next| next.timestamp().checked_mul(NANOS_PER_SECOND))
            .min()
    }
}

/// Parses one cron expression as a `cron`/`crons` entry is read.
fn parse_spec(spec: &str) -> Result<Cron, PeriodicError> {
    // Nomad's cronexpr knows `@midnight`; croner spells it `@daily`.
    // Six fields are minute to year in cronexpr but seconds to day of week
    // in croner: a Nomad job file's `0 12 * * * 2030` must not run every
    // minute, so it becomes croner's seven fields with second 0.
    let text = if spec.trim().eq_ignore_ascii_case("@midnight") {
        "@daily".to_owned()
    } else if spec.split_whitespace().count() == 6 {
        format!("0 {}", spec.trim())
    } else {
        spec.to_owned()
    };
    let text = text.as_str();
    Cron::from_str(text).map_err(|error| PeriodicError::InvalidSpec {
        spec: spec.to_owned(),
        reason: if text.trim_start().starts_with('@') {
            format!(
                "{:?} is not a predefined schedule: use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly",
                text.trim()
            )
        } else {
            cron_reason(&error)
        },
    })
}

/// The reason croner gives, without its own prefix, capital or full stop.
fn cron_reason(error: &CronError) -> String {
    let message = match error {
        CronError::EmptyPattern => return "it is empty".to_owned(),
        CronError::InvalidPattern(message)
        | CronError::IllegalCharacters(message)
        | CronError::ComponentError(message) => message.clone(),
        other => other.to_string(),
    };
    let message = message.trim_end_matches('.');
    // "Number out of bounds" reads "number ...", but "CronPattern" stays.
    let first_word = message.split(' ').next().unwrap_or_default();
    let mut chars = first_word.chars();
    match chars.next() {
        Some(first) if first.is_uppercase() && chars.all(char::is_lowercase) => first
            .to_lowercase()
            .chain(message[first.len_utf8()..].chars())
            .collect(),
        _ => message.to_owned(),
    }
}

/// Resolves a `time_zone` value; empty means UTC.
fn parse_zone(zone: &str) -> Result<Tz, PeriodicError> {
    if zone.is_empty() {
        return Ok(Tz::UTC);
    }
    Tz::from_str(zone).map_err(|_| PeriodicError::UnknownTimeZone {
        zone: zone.to_owned(),
    })
}

/// The earliest launch of `periodic` strictly after `after` (Unix
/// nanoseconds) across all of its specs, in its time zone.
///
/// `Ok(None)` when the block is disabled (a disabled block is not checked,
/// as in Nomad) or no spec matches again; an error names the bad spec, spec
/// type or time zone. A caller asking repeatedly should build a
/// [`PeriodicSchedule`] once instead.
pub fn next_launch(periodic: &PeriodicConfig, after: i64) -> Result<Option<i64>, PeriodicError> {
    if !periodic.enabled() {
        return Ok(None);
    }
    Ok(PeriodicSchedule::new(periodic)?.next_after(after))
}

/// Checks a `periodic` block as Nomad does before launching from it: a known
/// spec type, at least one spec, every spec parses, a known time zone.
/// A disabled block passes whatever it holds, as in Nomad.
pub fn validate_periodic(periodic: &PeriodicConfig) -> Result<(), PeriodicError> {
    if !periodic.enabled() {
        return Ok(());
    }
    PeriodicSchedule::new(periodic).map(|_| ())
}

/// The job a launch of `parent` at `launch` (Unix nanoseconds) registers,
/// as Nomad's periodic dispatcher derives it: a copy of the parent with id
/// and name `<parent>/periodic-<launch in Unix seconds>`, `parent_id` set,
/// no `periodic` block (the child runs once) and status `pending`.
///
/// Everything else is the parent's, indexes and version included: the
/// store that registers the child assigns those, as it does for any new
/// job.
pub fn periodic_child(parent: &Job, launch: i64) -> Job {
    let id = JobId::new(format!(
        "{}/periodic-{}",
        parent.id,
        launch.div_euclid(NANOS_PER_SECOND)
    ));
    Job {
        name: id.as_str().to_owned(),
        id,
        parent_id: parent.id.clone(),
        periodic: None,
        status: "pending".to_owned(),
        status_description: String::new(),
        ..parent.clone()
    }
}

/// One launch of a periodic job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// The parent job's namespace.
    pub namespace: String,
    /// The parent job's id.
    pub job_id: JobId,
    /// When the launch was scheduled, in Unix nanoseconds (at or before the
    /// `now` it was handed out at). [`periodic_child`] names the child after
    /// it.
    pub launch_time: i64,
}

impl fmt::Display for Launch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} at {}",
            self.namespace,
            self.job_id,
            crate::model::timestamp::format_rfc3339_nanos(self.launch_time)
        )
    }
}

/// What [`PeriodicLauncher::due`] hands out, each list in launch time order
/// (then namespace, then job id).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Due {
    /// Launches to carry out: register [`periodic_child`] of each.
    pub launches: Vec<Launch>,
    /// Launches not to carry out because the job sets `prohibit_overlap`
    /// and a child was still running. Their schedule has moved on all the
    /// same; they are here for the caller to report.
    pub skipped: Vec<Launch>,
}

impl Due {
    /// Whether nothing was due.
    pub fn is_empty(&self) -> bool {
        self.launches.is_empty() && self.skipped.is_empty()
    }
}

/// A tracked job's schedule and next launch.
#[derive(Debug, Clone)]
struct Tracked {
    schedule: PeriodicSchedule,
    prohibit_overlap: bool,
    next: Option<i64>,
}

/// Keeps the next launch of every periodic job and hands out those due.
///
/// Sans-IO, like Nomad's periodic dispatcher without its timer: the caller
/// feeds job changes in ([`add`](Self::add), [`remove`](Self::remove)),
/// sleeps until [`next_wakeup`](Self::next_wakeup), and drains
/// [`due`](Self::due).
///
/// A launch is handed out once. A job whose launch was missed (the caller
/// slept through it, or a leader was elected late) launches once, at the
/// missed launch time, and its schedule moves on to the first time after
/// `now`: missed launches are not caught up one by one.
#[derive(Debug, Clone, Default)]
pub struct PeriodicLauncher {
    tracked: BTreeMap<(String, JobId), Tracked>,
    /// `(next launch, namespace, job id)` of every tracked job that has one.
    queue: BTreeSet<(i64, String, JobId)>,
}

impl PeriodicLauncher {
    /// An empty launcher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether Nomad's dispatcher tracks `job`: periodic with the block
    /// enabled, not stopped, and not a parameterized template (a dispatched
    /// instance of a periodic parameterized job is tracked).
    pub fn is_trackable(job: &Job) -> bool {
        job.periodic.as_ref().is_some_and(PeriodicConfig::enabled)
            && !job.stop
            && !job.is_parameterized()
    }

    /// Starts or updates tracking of `job`, registered or changed at `now`
    /// (Unix nanoseconds): its next launch is the first after `now`.
    ///
    /// `Ok(true)` when the job is tracked. A job that is not
    /// [trackable](Self::is_trackable) is no longer tracked (`Ok(false)`),
    /// so the caller can pass every job change through here. A bad
    /// `periodic` block is an error and the job is no longer tracked.
    pub fn add(&mut self, job: &Job, now: i64) -> Result<bool, PeriodicError> {
        self.remove(&job.namespace, &job.id);
        let Some(periodic) = job.periodic.as_ref().filter(|_| Self::is_trackable(job)) else {
            return Ok(false);
        };
        let schedule = PeriodicSchedule::new(periodic)?;
        let next = schedule.next_after(now);
        let key = (job.namespace.clone(), job.id.clone());
        if let Some(at) = next {
            self.queue.insert((at, key.0.clone(), key.1.clone()));
        }
        self.tracked.insert(
            key,
            Tracked {
                schedule,
                prohibit_overlap: periodic.prohibit_overlap,
                next,
            },
        );
        Ok(true)
    }

    /// Stops tracking a job (deregistered, stopped, or no longer periodic);
    /// whether it was tracked.
    pub fn remove(&mut self, namespace: &str, job_id: &JobId) -> bool {
        let key = (namespace.to_owned(), job_id.clone());
        let Some(tracked) = self.tracked.remove(&key) else {
            return false;
        };
        if let Some(at) = tracked.next {
            self.queue.remove(&(at, key.0, key.1));
        }
        true
    }

    /// Whether a job is tracked.
    pub fn is_tracked(&self, namespace: &str, job_id: &JobId) -> bool {
        self.tracked
            .contains_key(&(namespace.to_owned(), job_id.clone()))
    }

    /// The next launch of a tracked job, in Unix nanoseconds; `None` when
    /// it is not tracked or will not launch again.
    pub fn next_launch_of(&self, namespace: &str, job_id: &JobId) -> Option<i64> {
        self.tracked
            .get(&(namespace.to_owned(), job_id.clone()))
            .and_then(|tracked| tracked.next)
    }

    /// When [`due`](Self::due) next has something to hand out, in Unix
    /// nanoseconds; `None` when no tracked job launches again.
    pub fn next_wakeup(&self) -> Option<i64> {
        self.queue.first().map(|(at, _, _)| *at)
    }

    /// Hands out every launch scheduled at or before `now` (Unix
    /// nanoseconds), at most one per job, and moves each of those jobs on
    /// to its first launch after `now`.
    ///
    /// `has_running_child(namespace, job_id)` says whether a job still has
    /// a child running (Nomad: a child with a non-terminal evaluation or
    /// allocation). It is asked only about jobs that set `prohibit_overlap`;
    /// for those a running child turns the launch into a skip
    /// ([`Due::skipped`]). A caller without overlap rules passes
    /// `|_, _| false`.
    pub fn due(
        &mut self,
        now: i64,
        mut has_running_child: impl FnMut(&str, &JobId) -> bool,
    ) -> Due {
        let mut due = Due::default();
        while let Some(first) = self.queue.first() {
            if first.0 > now {
                break;
            }
            let Some((launch_time, namespace, job_id)) = self.queue.pop_first() else {
                break;
            };
            let key = (namespace, job_id);
            let Some(tracked) = self.tracked.get_mut(&key) else {
                continue;
            };
            let next = tracked.schedule.next_after(now);
            tracked.next = next;
            let prohibit_overlap = tracked.prohibit_overlap;
            let (namespace, job_id) = key;
            if let Some(at) = next {
                self.queue.insert((at, namespace.clone(), job_id.clone()));
            }
            let skip = prohibit_overlap && has_running_child(&namespace, &job_id);
            let launch = Launch {
                namespace,
                job_id,
                launch_time,
            };
            if skip {
                due.skipped.push(launch);
            } else {
                due.launches.push(launch);
            }
        }
        due
    }
}
