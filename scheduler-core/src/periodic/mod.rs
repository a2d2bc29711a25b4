//! Jobs that launch other jobs: periodic jobs (a cron schedule) and
//! parameterized jobs (dispatched on request), as Nomad runs them.
//!
//! Everything here is pure. Time is an argument (`now`, `after`: Unix
//! nanoseconds) and ids are derived from a seed, so the same inputs give the
//! same launches and the same child jobs.
//!
//! - [`schedule`]: when a periodic job launches next ([`next_launch`],
//!   [`PeriodicSchedule`]), in its IANA time zone with daylight saving time
//!   handled as `croner` does; the child job a launch registers
//!   ([`periodic_child`]); and [`PeriodicLauncher`], a sans-IO tracker of
//!   every periodic job's next launch. The caller keeps one timer: it sleeps
//!   until [`PeriodicLauncher::next_wakeup`], then calls
//!   [`PeriodicLauncher::due`] and registers a child for each launch.
//! - [`dispatch`]: `nomad job dispatch`: the checks Nomad makes of a dispatch
//!   request and the child job it registers ([`dispatch_job`]), and the
//!   idempotency-token look-up ([`find_idempotent_dispatch`]).
//!
//! # Cron dialect
//! Specs are read as Nomad's `cronexpr` reads them, by `croner`: 5 fields
//! (minute hour day-of-month month day-of-week), 6 fields (and a year
//! last), or 7 (a seconds field first, and a year last); names (`MON`,
//! `JAN`), `L`, `W`, `#` and `@yearly`, `@annually`, `@monthly`,
//! `@weekly`, `@daily`, `@midnight` and `@hourly`. (Most cron tools,
//! croner among them, read 6 fields as seconds first; a Nomad job file
//! means minute to year, and that is what it gets here.)
//!
//! # Example: a nightly job in New York
//! ```
//! use scheduler_core::model::{Job, JobType, PeriodicConfig};
//! use scheduler_core::periodic::{PeriodicLauncher, periodic_child};
//!
//! let job = Job {
//!     id: "report".into(),
//!     namespace: "default".into(),
//!     job_type: JobType::Batch,
//!     periodic: Some(PeriodicConfig {
//!         spec: "30 2 * * *".into(),
//!         time_zone: "America/New_York".into(),
//!         ..PeriodicConfig::default()
//!     }),
//!     ..Job::default()
//! };
//! let now = 1_714_557_600_000_000_000; // 2024-05-01T10:00:00Z
//! let mut launcher = PeriodicLauncher::new();
//! assert!(launcher.add(&job, now).unwrap());
//! // 02:30 EDT on 2 May is 06:30 UTC.
//! let wake = launcher.next_wakeup().unwrap();
//! assert_eq!(wake, 1_714_631_400_000_000_000);
//!
//! let due = launcher.due(wake, |_namespace, _job_id| false);
//! assert_eq!(due.launches.len(), 1);
//! let child = periodic_child(&job, due.launches[0].launch_time);
//! assert_eq!(child.id.as_str(), "report/periodic-1714631400");
//! ```

pub mod dispatch;
pub mod schedule;

pub use dispatch::{
    DISPATCH_PAYLOAD_SIZE_LIMIT, DispatchError, dispatch_job, find_idempotent_dispatch,
};
pub use schedule::{
    Due, Launch, PeriodicError, PeriodicLauncher, PeriodicSchedule, next_launch, periodic_child,
    validate_periodic,
};

#[cfg(test)]
mod tests;
