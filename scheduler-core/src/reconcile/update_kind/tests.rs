//! Each case edits a base job, as HCL text or as the model, and states the
//! expected kind rendered as one line: `ignore`, `in place: <changes>` or
//! `destructive: <reasons>`, changes joined with `; `.

use super::{UpdateKind, update_kind};
use crate::jobspec::{ParseOptions, parse};
use crate::model::{Job, Task};

const BASE: &str = r#"
job "web" {
  datacenters = ["dc1"]

  meta {
    owner = "team-a"
  }

  group "app" {
    count = 2

    meta {
      tier = "front"
    }

    network {
      port "http" {}
      port "metrics" {
        static = 9100
      }
    }

    service {
      name = "web"
      port = "http"
      tags = ["v1"]
    }

    ephemeral_disk {
      size = 300
    }

    restart {
      attempts = 2
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.25"
      }

      env {
        MODE = "prod"
      }

      kill_timeout = "5s"

      logs {
        max_files     = 5
        max_file_size = 10
      }

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"#;

/// `(replace this text of BASE, with this, expected)`; an empty first
/// element leaves BASE as it is.
const CASES: &[(&str, &str, &str)] = &[
    ("", "", "ignore"),
    // The reconciler handles count changes.
    ("count = 2", "count = 5", "ignore"),
    // Task: what the driver runs.
    (
        r#"image = "nginx:1.25""#,
        r#"image = "nginx:1.26""#,
        r#"destructive: task "server": config changed"#,
    ),
    (
        r#"driver = "docker""#,
        r#"driver = "exec""#,
        r#"destructive: task "server": driver changed ("docker" -> "exec")"#,
    ),
    (
        r#"MODE = "prod""#,
        r#"MODE = "dev""#,
        r#"destructive: task "server": env changed"#,
    ),
    // Task: resources.
    (
        "cpu    = 500",
        "cpu    = 600",
        r#"destructive: task "server": cpu changed (500 MHz -> 600 MHz)"#,
    ),
    (
        "memory = 256",
        "memory = 512",
        r#"destructive: task "server": memory changed (256 MiB -> 512 MiB)"#,
    ),
    // Group: network, disk, restart.
    (
        r#"port "http" {}"#,
        r#"port "http" {}
      port "admin" {}"#,
        "destructive: group: network changed",
    ),
    (
        "static = 9100",
        "static = 9200",
        "destructive: group: network changed",
    ),
    (
        "size = 300",
        "size = 500",
        "destructive: group: ephemeral_disk size changed (300 MiB -> 500 MiB)",
    ),
    (
        "attempts = 2",
        "attempts = 4",
        // The group's restart policy is merged into the task's.
        r#"in place: group: restart changed; task "server": restart changed"#,
    ),
    (
        "attempts = 2",
        "attempts = 2
      render_templates = true",
        r#"destructive: group: restart render_templates changed (false -> true); task "server": restart render_templates changed (false -> true)"#,
    ),
    // Services: re-registered in place.
    (
        r#"tags = ["v1"]"#,
        r#"tags = ["v2"]"#,
        "in place: group: services changed",
    ),
    // Task: applied when the task stops.
    (
        r#"kill_timeout = "5s""#,
        r#"kill_timeout = "10s""#,
        r#"in place: task "server": kill_timeout changed (5s -> 10s)"#,
    ),
    // Placement rules only.
    (
        "count = 2",
        r#"count = 2

    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }"#,
        "in place: group: constraints changed",
    ),
    (
        r#"datacenters = ["dc1"]"#,
        r#"datacenters = ["dc2"]"#,
        r#"in place: job: datacenters changed (["dc1"] -> ["dc2"])"#,
    ),
    (
        "count = 2",
        r#"count = 2

    update {
      max_parallel = 3
    }"#,
        "in place: group: update changed",
    ),
    // Logs: rotation in place, collection on/off destructive.
    (
        "max_files     = 5",
        "max_files     = 7",
        r#"in place: task "server": logs max_files changed (5 -> 7)"#,
    ),
    (
        "max_files     = 5",
        "max_files     = 5
        disabled      = true",
        r#"destructive: task "server": logs disabled changed (false -> true)"#,
    ),
    // Tasks added, removed, renamed.
    (
        r#"task "server""#,
        r#"task "api""#,
        r#"destructive: task "server": removed; task "api": added"#,
    ),
    (
        r#"    task "server" {"#,
        r#"    task "sidecar" {
      driver = "docker"

      config {
        image = "envoy"
      }
    }

    task "server" {"#,
        r#"destructive: task "sidecar": added"#,
    ),
    // Meta at every level reaches the task as NOMAD_META_*.
    (
        r#"tier = "front""#,
        r#"tier = "back""#,
        "destructive: group: meta changed",
    ),
    (
        r#"owner = "team-a""#,
        r#"owner = "team-b""#,
        "destructive: job: meta changed",
    ),
    (
        // The task's merged meta is unchanged: only the level moved.
        r#"kill_timeout = "5s""#,
        r#"kill_timeout = "5s"

      meta {
        owner = "team-a"
      }"#,
        r#"in place: task "server": meta changed"#,
    ),
    // Every destructive change is named; in-place ones are not mixed in.
    (
        r#"      config {
        image = "nginx:1.25"
      }"#,
        r#"      user = "www"

      config {
        image = "nginx:1.26"
      }

      shutdown_delay = "3s""#,
        r#"destructive: task "server": user changed ("" -> "www"); task "server": config changed"#,
    ),
];

fn parse_job(source: &str) -> Job {
    match parse(source, &ParseOptions::new("x.hcl")) {
        Ok(parsed) => parsed.job,
        Err(diagnostics) => panic!("invalid job:\n{source}\n{diagnostics:?}"),
    }
}

/// The kind between two versions of the job's only group.
fn kind(old: &Job, new: &Job) -> UpdateKind {
    update_kind(old, &old.task_groups[0], new, &new.task_groups[0])
}

fn render(kind: &UpdateKind) -> String {
    match kind {
        UpdateKind::Ignore => "ignore".to_owned(),
        UpdateKind::InPlace { changed } => format!("in place: {}", changed.join("; ")),
        UpdateKind::Destructive { reasons } => format!("destructive: {}", reasons.join("; ")),
    }
}

#[test]
fn hcl_edits() {
    let old = parse_job(BASE);
    let mut failures = Vec::new();
    for &(from, to, expect) in CASES {
        let source = if from.is_empty() {
            BASE.to_owned()
        } else {
            assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once");
            BASE.replacen(from, to, 1)
        };
        let actual = render(&kind(&old, &parse_job(&source)));
        if actual != expect {
            failures.push(format!(
                "edit {from:?} -> {to:?}\n  expected: {expect}\n  actual:   {actual}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// Edits the parsed base job in place and checks the rendered kind.
fn check_model(edit: impl FnOnce(&mut Job), expect: &str) {
    let old = parse_job(BASE);
    let mut new = old.clone();
    edit(&mut new);
    assert_eq!(render(&kind(&old, &new)), expect);
}

#[test]
fn server_bookkeeping_is_ignored() {
    check_model(
        |job| {
            job.version += 1;
            job.modify_index = 42;
            job.job_modify_index = 42;
            job.submit_time = 1_700_000_000;
            job.status = "running".to_owned();
            job.stable = true;
        },
        "ignore",
    );
}

#[test]
fn scheduler_filled_network_fields_are_ignored() {
    check_model(
        |job| {
            let network = &mut job.task_groups[0].networks[0];
            network.ip = "10.0.0.7".to_owned();
            network.device = "eth0".to_owned();
            network.dynamic_ports[0].value = 23456;
        },
        "ignore",
    );
}

#[test]
fn tasks_are_matched_by_name_not_position() {
    let mut old = parse_job(BASE);
    let mut sidecar = Task::new("sidecar", "docker");
    sidecar.canonicalize("web", "app", &old.task_groups[0].restart_policy);
    old.task_groups[0].tasks.push(sidecar);
    let mut new = old.clone();
    new.task_groups[0].tasks.reverse();
    assert_eq!(kind(&old, &new), UpdateKind::Ignore);
}

#[test]
fn unset_values_equal_their_defaults() {
    // A job built in code may leave defaults unset; that is not a change.
    check_model(
        |job| {
            let task = &mut job.task_groups[0].tasks[0];
            task.kill_timeout = None;
            task.log_config.max_file_size_mb = None;
            job.task_groups[0].ephemeral_disk.sticky = None;
        },
        "ignore",
    );
}

#[test]
fn connect_service_changes_are_destructive() {
    let mut old = parse_job(BASE);
    old.task_groups[0].services[0].connect = Some(serde_json::json!({"SidecarService": {}}));
    let mut new = old.clone();
    new.task_groups[0].services[0].connect =
        Some(serde_json::json!({"SidecarService": {"Port": "9000"}}));
    assert_eq!(
        render(&kind(&old, &new)),
        r#"destructive: group: service "web" connect changed"#
    );
    // Tags of a connect service are still in place.
    let mut tags = old.clone();
    tags.task_groups[0].services[0].tags = vec!["v2".to_owned()];
    assert_eq!(
        render(&kind(&old, &tags)),
        "in place: group: services changed"
    );
}

#[test]
fn labels_follow_nomad_annotations() {
    assert_eq!(UpdateKind::Ignore.label(), "ignore");
    let in_place = UpdateKind::InPlace { changed: vec![] };
    assert_eq!(in_place.label(), "in-place update");
    assert!(!in_place.is_destructive());
    let destructive = UpdateKind::Destructive { reasons: vec![] };
    assert_eq!(destructive.label(), "create/destroy update");
    assert!(destructive.is_destructive());
}
