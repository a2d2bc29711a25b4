//! The launcher: what is due when, no catch-up, overlap.

use std::cell::RefCell;

use super::{cron, periodic_job, utc};
use crate::model::{Job, JobId, ParameterizedJobConfig, PeriodicConfig};
use crate::periodic::{Due, Launch, PeriodicLauncher};

/// Renders a `Due` as sorted text: `launch ns/id at time` and
/// `skip ns/id at time` lines.
fn render(due: &Due) -> Vec<String> {
    due.launches
        .iter()
        .map(|launch| format!("launch {launch}"))
        .chain(due.skipped.iter().map(|launch| format!("skip {launch}")))
        .collect()
}

/// Steps the launcher to `now` with no running children.
fn step(launcher: &mut PeriodicLauncher, now: i64) -> Vec<String> {
    render(&launcher.due(now, |_, _| false))
}

fn tracked(job: &Job, now: i64) -> PeriodicLauncher {
    let mut launcher = PeriodicLauncher::new();
    assert_eq!(launcher.add(job, now), Ok(true));
    launcher
}

#[test]
fn launches_when_due_and_moves_on() {
    let job = periodic_job("report", cron("*/5 * * * *"));
    let mut launcher = tracked(&job, utc(2024, 5, 1, 10, 2, 0));
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 10, 5, 0)));

    assert!(step(&mut launcher, utc(2024, 5, 1, 10, 4, 59)).is_empty());
    assert_eq!(
        step(&mut launcher, utc(2024, 5, 1, 10, 5, 0)),
        ["launch default/report at 2024-05-01T10:05:00Z"]
    );
    // Handed out once.
    assert!(step(&mut launcher, utc(2024, 5, 1, 10, 5, 0)).is_empty());
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 10, 10, 0)));
    assert_eq!(
        launcher.next_launch_of("default", &JobId::new("report")),
        Some(utc(2024, 5, 1, 10, 10, 0))
    );
}

#[test]
fn missed_launches_are_not_caught_up() {
    let job = periodic_job("report", cron("*/5 * * * *"));
    let mut launcher = tracked(&job, utc(2024, 5, 1, 10, 2, 0));
    // Asleep from 10:02 to 10:47: launches at 10:05 ... 10:45 were missed.
    // One launch, at the first missed time, then the next after now.
    assert_eq!(
        step(&mut launcher, utc(2024, 5, 1, 10, 47, 0)),
        ["launch default/report at 2024-05-01T10:05:00Z"]
    );
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 10, 50, 0)));
    assert!(step(&mut launcher, utc(2024, 5, 1, 10, 49, 59)).is_empty());
}

#[test]
fn several_jobs_in_launch_order() {
    let mut launcher = PeriodicLauncher::new();
    let now = utc(2024, 5, 1, 10, 0, 0);
    let mut other_namespace = periodic_job("b-hourly", cron("@hourly"));
    other_namespace.namespace = "batch".to_owned();
    for job in [
        periodic_job("z-every-5", cron("*/5 * * * *")),
        periodic_job("a-every-10", cron("*/10 * * * *")),
        other_namespace,
        periodic_job("daily", cron("@daily")),
    ] {
        assert_eq!(launcher.add(&job, now), Ok(true));
    }
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 10, 5, 0)));
    assert_eq!(
        step(&mut launcher, utc(2024, 5, 1, 11, 0, 0)),
        [
            "launch default/z-every-5 at 2024-05-01T10:05:00Z",
            "launch default/a-every-10 at 2024-05-01T10:10:00Z",
            "launch batch/b-hourly at 2024-05-01T11:00:00Z",
        ]
    );
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 11, 5, 0)));
    assert_eq!(
        launcher.next_launch_of("default", &JobId::new("daily")),
        Some(utc(2024, 5, 2, 0, 0, 0))
    );
}

#[test]
fn prohibit_overlap_skips_while_a_child_runs() {
    let overlap_free = periodic_job(
        "exclusive",
        PeriodicConfig {
            prohibit_overlap: true,
            ..cron("*/5 * * * *")
        },
    );
    let relaxed = periodic_job("relaxed", cron("*/5 * * * *"));
    let mut launcher = PeriodicLauncher::new();
    let start = utc(2024, 5, 1, 10, 2, 0);
    assert_eq!(launcher.add(&overlap_free, start), Ok(true));
    assert_eq!(launcher.add(&relaxed, start), Ok(true));

    // A child of each is still running; only the overlap-free job is asked.
    let asked = RefCell::new(Vec::new());
    let due = launcher.due(utc(2024, 5, 1, 10, 5, 0), |namespace, job_id| {
        asked.borrow_mut().push(format!("{namespace}/{job_id}"));
        true
    });
    assert_eq!(asked.into_inner(), ["default/exclusive"]);
    assert_eq!(
        render(&due),
        [
            "launch default/relaxed at 2024-05-01T10:05:00Z",
            "skip default/exclusive at 2024-05-01T10:05:00Z",
        ]
    );
    // The skipped launch is gone; the schedule moved on.
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 10, 10, 0)));

    // The child finished: launches again.
    let due = launcher.due(utc(2024, 5, 1, 10, 10, 0), |_, _| false);
    assert_eq!(
        due.launches,
        [
            Launch {
                namespace: "default".to_owned(),
                job_id: JobId::new("exclusive"),
                launch_time: utc(2024, 5, 1, 10, 10, 0),
            },
            Launch {
                namespace: "default".to_owned(),
                job_id: JobId::new("relaxed"),
                launch_time: utc(2024, 5, 1, 10, 10, 0),
            },
        ]
    );
    assert!(due.skipped.is_empty());
}

#[test]
fn only_active_periodic_jobs_are_tracked() {
    let now = utc(2024, 5, 1, 10, 0, 0);
    let disabled = periodic_job(
        "off",
        PeriodicConfig {
            enabled: Some(false),
            ..cron("*/5 * * * *")
        },
    );
    let mut stopped = periodic_job("stopped", cron("*/5 * * * *"));
    stopped.stop = true;
    let mut template = periodic_job("template", cron("*/5 * * * *"));
    template.parameterized_job = Some(ParameterizedJobConfig::default());
    let mut plain = periodic_job("plain", cron("*/5 * * * *"));
    plain.periodic = None;

    let mut launcher = PeriodicLauncher::new();
    for job in [&disabled, &stopped, &template, &plain] {
        assert_eq!(launcher.add(job, now), Ok(false), "{}", job.id);
        assert!(!launcher.is_tracked(&job.namespace, &job.id));
    }
    assert_eq!(launcher.next_wakeup(), None);

    // A dispatched instance of a periodic parameterized job is tracked.
    let mut instance = template.clone();
    instance.id = JobId::new("template/dispatch-1714557600-0a1b2c3d");
    instance.dispatched = true;
    assert_eq!(launcher.add(&instance, now), Ok(true));
}

#[test]
fn updates_replace_and_untrack() {
    let now = utc(2024, 5, 1, 10, 2, 0);
    let mut job = periodic_job("report", cron("*/5 * * * *"));
    let mut launcher = tracked(&job, now);

    // A new schedule replaces the old one.
    job.periodic = Some(cron("0 12 * * *"));
    assert_eq!(launcher.add(&job, now), Ok(true));
    assert_eq!(launcher.next_wakeup(), Some(utc(2024, 5, 1, 12, 0, 0)));

    // Stopping the job untracks it.
    job.stop = true;
    assert_eq!(launcher.add(&job, now), Ok(false));
    assert_eq!(launcher.next_wakeup(), None);
    assert!(step(&mut launcher, utc(2024, 5, 2, 0, 0, 0)).is_empty());

    // A bad spec is an error and leaves nothing tracked.
    job.stop = false;
    assert_eq!(launcher.add(&job, now), Ok(true));
    job.periodic = Some(cron("*/5 * *"));
    assert!(launcher.add(&job, now).is_err());
    assert!(!launcher.is_tracked("default", &job.id));
    assert_eq!(launcher.next_wakeup(), None);
}

#[test]
fn remove_stops_launches() {
    let job = periodic_job("report", cron("*/5 * * * *"));
    let mut launcher = tracked(&job, utc(2024, 5, 1, 10, 2, 0));
    assert!(launcher.remove("default", &job.id));
    assert!(!launcher.remove("default", &job.id));
    assert!(!launcher.remove("other", &JobId::new("report")));
    assert_eq!(launcher.next_wakeup(), None);
    assert!(step(&mut launcher, utc(2024, 5, 1, 11, 0, 0)).is_empty());
}

#[test]
fn a_job_that_never_launches_again_stays_tracked_without_a_wakeup() {
    let job = periodic_job("once", cron("0 0 12 1 1 * 2030"));
    let mut launcher = tracked(&job, utc(2024, 5, 1, 0, 0, 0));
    let when = utc(2030, 1, 1, 12, 0, 0);
    assert_eq!(launcher.next_wakeup(), Some(when));
    assert_eq!(
        step(&mut launcher, when),
        ["launch default/once at 2030-01-01T12:00:00Z"]
    );
    assert_eq!(launcher.next_wakeup(), None);
    assert!(launcher.is_tracked("default", &job.id));
    assert_eq!(launcher.next_launch_of("default", &job.id), None);
}
