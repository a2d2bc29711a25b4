//! One case per rule: a valid job with one thing changed, and the problem
//! it gives, with its exact HCL path. Split like the rules themselves.

mod group;
mod job;
mod network;
mod placement;
mod policies;
mod task;

use super::{ValidationProblem, validate_job};
use crate::model::*;
use std::collections::BTreeMap;

/// A valid job: service job "web", group "g" with task "t" (docker).
fn job() -> Job {
    Job {
        id: JobId::new("web"),
        task_groups: vec![TaskGroup::new("g", 1, vec![Task::new("t", "docker")])],
        ..Job::default()
    }
}

fn group(job: &mut Job) -> &mut TaskGroup {
    &mut job.task_groups[0]
}

fn task(job: &mut Job) -> &mut Task {
    &mut job.task_groups[0].tasks[0]
}

fn problems(mut job: Job) -> Vec<ValidationProblem> {
    job.canonicalize();
    validate_job(&job)
}

fn render(problems: &[ValidationProblem]) -> String {
    problems
        .iter()
        .map(|p| {
            format!(
                "  {} {}: {}",
                if p.warning { "warning" } else { "error" },
                p.path.to_hcl(),
                p.message
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asserts the job has exactly one problem, an error at `path` with `message`.
#[track_caller]
fn assert_error(job: Job, path: &str, message: &str) {
    assert_only(job, path, message, false);
}

/// Asserts the job has exactly one problem, a warning at `path` with `message`.
#[track_caller]
fn assert_warning(job: Job, path: &str, message: &str) {
    assert_only(job, path, message, true);
}

#[track_caller]
fn assert_only(job: Job, path: &str, message: &str, warning: bool) {
    let found = problems(job);
    assert_eq!(
        found.len(),
        1,
        "expected one problem, got:\n{}",
        render(&found)
    );
    assert_eq!(found[0].path.to_hcl(), path, "\n{}", render(&found));
    assert_eq!(found[0].message, message, "\n{}", render(&found));
    assert_eq!(found[0].warning, warning, "\n{}", render(&found));
}

/// Asserts one of the job's problems is an error at `path` whose message
/// contains `fragment`.
#[track_caller]
fn assert_has_error(job: Job, path: &str, fragment: &str) {
    let found = problems(job);
    assert!(
        found
            .iter()
            .any(|p| !p.warning && p.path.to_hcl() == path && p.message.contains(fragment)),
        "no error at {path} containing {fragment:?} in:\n{}",
        render(&found)
    );
}

const G: &str = "job \"web\" > group \"g\"";
const T: &str = "job \"web\" > group \"g\" > task \"t\"";

fn port(label: &str, value: i64) -> Port {
    Port {
        label: label.to_owned(),
        value,
        ..Port::default()
    }
}

fn network(reserved: Vec<Port>, dynamic: Vec<Port>) -> NetworkResource {
    NetworkResource {
        reserved_ports: reserved,
        dynamic_ports: dynamic,
        ..NetworkResource::default()
    }
}

fn service(name: &str, port: &str) -> Service {
    Service {
        name: name.to_owned(),
        port_label: port.to_owned(),
        ..Service::default()
    }
}

fn tcp_check() -> ServiceCheck {
    ServiceCheck {
        name: "alive".to_owned(),
        r#type: "tcp".to_owned(),
        interval: Duration::from_secs(10),
        timeout: Duration::from_secs(2),
        ..ServiceCheck::default()
    }
}

/// A job whose task has a service on port "http" of the group network,
/// with one check.
fn job_with_check(check: ServiceCheck) -> Job {
    let mut job = job();
    group(&mut job).networks = vec![network(vec![], vec![port("http", 0)])];
    let mut svc = service("api", "http");
    svc.checks = vec![check];
    task(&mut job).services = vec![svc];
    job
}

#[test]
fn a_valid_job_has_no_problems() {
    let found = problems(job());
    assert!(found.is_empty(), "{}", render(&found));
}

#[test]
fn a_rich_valid_job_has_no_problems() {
    let mut job = job();
    job.constraints = vec![
        Constraint::new("${attr.kernel.name}", "=", "linux"),
        Constraint::new("${attr.nomad.version}", "version", ">= 1.2, < 2.0.1"),
        Constraint::new("${attr.vault.version}", "semver", "~> 1.2"),
        Constraint::new("${meta.rack}", "regexp", "^r[0-9]+$"),
        Constraint::new("", "distinct_hosts", ""),
        Constraint::new("${meta.rack}", "distinct_property", "2"),
        Constraint::new("${meta.gpu}", "is_set", ""),
    ];
    job.spreads = vec![Spread {
        attribute: "${node.datacenter}".to_owned(),
        weight: Some(100),
        spread_target: vec![
            SpreadTarget {
                value: "dc1".to_owned(),
                percent: 40,
            },
            SpreadTarget {
                value: "dc2".to_owned(),
                percent: 60,
            },
        ],
    }];
    let g = group(&mut job);
    g.networks = vec![network(
        vec![port("admin", 8080)],
        vec![port("http", 0), port("grpc-api", 0)],
    )];
    g.volumes.insert(
        "data".to_owned(),
        VolumeRequest {
            name: "data".to_owned(),
            r#type: "host".to_owned(),
            source: "data".to_owned(),
            ..VolumeRequest::default()
        },
    );
    g.scaling = Some(ScalingPolicy {
        min: Some(1),
        max: Some(5),
        ..ScalingPolicy::default()
    });
    let mut svc = service("api", "http");
    svc.checks = vec![
        ServiceCheck {
            r#type: "http".to_owned(),
            path: "/health".to_owned(),
            ..tcp_check()
        },
        ServiceCheck {
            name: "admin".to_owned(),
            port_label: "admin".to_owned(),
            ..tcp_check()
        },
    ];
    g.services = vec![svc];
    let t = task(&mut job);
    t.services = vec![Service {
        address_mode: "driver".to_owned(),
        ..service("raw", "9090")
    }];
    t.artifacts = vec![Artifact {
        getter_source: "https://example.com/app.tgz".to_owned(),
        getter_options: BTreeMap::from([(
            "checksum".to_owned(),
            format!("sha256:{}", "ab".repeat(32)),
        )]),
        ..Artifact::default()
    }];
    t.templates = vec![Template {
        embedded_tmpl: "x={{ key \"x\" }}".to_owned(),
        dest_path: "local/x.env".to_owned(),
        change_mode: Some("signal".to_owned()),
        ..Template::default()
    }];
    t.volume_mounts = vec![VolumeMount {
        volume: "data".to_owned(),
        destination: "/data".to_owned(),
        ..VolumeMount::default()
    }];
    t.lifecycle = Some(TaskLifecycle {
        hook: "poststop".to_owned(),
        sidecar: false,
    });
    t.resources.cores = 2;
    t.resources.memory_max_mb = MiB(600);
    t.scaling_policies = vec![
        ScalingPolicy {
            r#type: "vertical_cpu".to_owned(),
            max: Some(1000),
            ..ScalingPolicy::default()
        },
        ScalingPolicy {
            r#type: "vertical_mem".to_owned(),
            max: Some(1000),
            ..ScalingPolicy::default()
        },
    ];
    let found = problems(job);
    assert!(found.is_empty(), "{}", render(&found));
}
