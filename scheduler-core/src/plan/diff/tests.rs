//! Diffs, annotations and renderings of edits to a base job. Each edit
//! replaces a piece of the base HCL text, so every case reads as "this
//! change to the job file".

use super::*;
use crate::jobspec::{ParseOptions, parse};
use crate::reconcile::update_kind::update_kind;
use crate::scheduler::{DesiredUpdates, PlanAnnotations};

const BASE: &str = r#"
job "web" {
  datacenters = ["dc1"]

  constraint {
    attribute = "${attr.kernel.name}"
    value     = "linux"
  }

  group "web" {
    count = 3

    network {
      port "http" {}
    }

    service {
      name = "web"
      port = "http"
      tags = ["v1"]
    }

    task "server" {
      driver = "docker"

      config {
        image = "nginx:1.1.2"
        ports = ["http"]
      }

      env {
        MODE = "prod"
      }

      service {
        name = "server"
        tags = ["a"]
      }

      kill_timeout = "5s"

      resources {
        cpu    = 500
        memory = 256
      }
    }
  }
}
"#;

fn parse_job(source: &str) -> Job {
    match parse(source, &ParseOptions::new("x.hcl")) {
        Ok(parsed) => parsed.job,
        Err(diagnostics) => panic!("invalid job:\n{source}\n{diagnostics:?}"),
    }
}

/// BASE with each `(from, to)` replaced once.
fn edited(edits: &[(&str, &str)]) -> Job {
    let mut source = BASE.to_owned();
    for (from, to) in edits {
        assert!(source.contains(from), "BASE has no {from:?}");
        source = source.replacen(from, to, 1);
    }
    parse_job(&source)
}

fn base() -> Job {
    parse_job(BASE)
}

/// The annotated diff from BASE to BASE with `edits`.
fn annotated(edits: &[(&str, &str)], updates: DesiredUpdates) -> (JobDiff, Job, Job) {
    let old = base();
    let new = edited(edits);
    let mut diff = job_diff(Some(&old), &new);
    let annotations = PlanAnnotations {
        desired_tg_updates: [("web".to_owned(), updates)].into_iter().collect(),
    };
    annotate(&mut diff, Some(&old), &new, Some(&annotations));
    (diff, old, new)
}

fn group<'a>(diff: &'a JobDiff, name: &str) -> &'a TaskGroupDiff {
    diff.task_groups
        .iter()
        .find(|g| g.name == name)
        .unwrap_or_else(|| panic!("no group {name:?} in {diff:#?}"))
}

fn task<'a>(group: &'a TaskGroupDiff, name: &str) -> &'a TaskDiff {
    group
        .tasks
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no task {name:?} in {group:#?}"))
}

fn changed_fields(fields: &[FieldDiff]) -> Vec<(DiffType, &str, &str, &str)> {
    fields
        .iter()
        .filter(|f| f.diff_type != DiffType::None)
        .map(|f| (f.diff_type, f.name.as_str(), f.old.as_str(), f.new.as_str()))
        .collect()
}

fn changed_objects(objects: &[ObjectDiff]) -> Vec<&ObjectDiff> {
    objects
        .iter()
        .filter(|o| o.diff_type != DiffType::None)
        .collect()
}

#[test]
fn a_new_job_is_all_added() {
    let job = base();
    let mut diff = job_diff(None, &job);
    assert_eq!(diff.diff_type, DiffType::Added);
    assert_eq!(diff.id, "web");
    assert!(diff.fields.iter().all(|f| f.diff_type == DiffType::Added));
    assert!(diff.objects.iter().all(|o| o.diff_type == DiffType::Added));
    let group = group(&diff, "web");
    assert_eq!(group.diff_type, DiffType::Added);
    assert!(
        group
            .fields
            .iter()
            .any(|f| f.name == "Count" && f.new == "3" && f.old.is_empty())
    );
    assert_eq!(task(group, "server").diff_type, DiffType::Added);
    let place = DesiredUpdates {
        place: 3,
        ..DesiredUpdates::default()
    };
    let annotations = PlanAnnotations {
        desired_tg_updates: [("web".to_owned(), place)].into_iter().collect(),
    };
    annotate(&mut diff, None, &job, Some(&annotations));
    assert_eq!(
        render_diff(&diff, false),
        "\
+ Job: \"web\"
+ Task Group: \"web\" (3 create)
  + Task: \"server\" (forces create)
"
    );
    // Verbose lists the added fields, e.g. the task's driver.
    let verbose = render_diff(&diff, true);
    assert!(verbose.contains("    + Driver: "), "{verbose}");
    assert!(verbose.contains("+ Config {"), "{verbose}");
}

#[test]
fn an_unchanged_job_prints_headers_only() {
    let updates = DesiredUpdates {
        ignore: 3,
        ..DesiredUpdates::default()
    };
    let (diff, _, _) = annotated(&[], updates);
    assert_eq!(diff.diff_type, DiffType::None);
    let group = group(&diff, "web");
    assert_eq!(group.diff_type, DiffType::None);
    assert_eq!(task(group, "server").diff_type, DiffType::None);
    assert!(changed_fields(&diff.fields).is_empty());
    assert!(changed_objects(&diff.objects).is_empty());
    assert_eq!(
        render_diff(&diff, false),
        "\
Job: \"web\"
Task Group: \"web\" (3 ignore)
  Task: \"server\"
"
    );
}

#[test]
fn the_diff_is_contextual() {
    let (diff, _, _) = annotated(&[], DesiredUpdates::default());
    // Unchanged fields are kept with type None, for verbose output.
    let group = group(&diff, "web");
    let count = group.fields.iter().find(|f| f.name == "Count");
    assert_eq!(
        count.map(|f| (f.diff_type, f.old.as_str(), f.new.as_str())),
        Some((DiffType::None, "3", "3"))
    );
    let verbose = render_diff(&diff, true);
    assert!(verbose.contains("\n  Count: "), "{verbose}");
}

#[test]
fn a_deleted_group_and_its_tasks() {
    let extra = r#"
  group "cache" {
    task "redis" {
      driver = "docker"
      config {
        image = "redis:7"
      }
    }
  }
}
"#;
    let old = parse_job(&format!("{}{extra}", BASE.trim_end().trim_end_matches('}')));
    let new = base();
    let mut diff = job_diff(Some(&old), &new);
    annotate(&mut diff, Some(&old), &new, None);
    assert_eq!(diff.diff_type, DiffType::Edited);
    let cache = group(&diff, "cache");
    assert_eq!(cache.diff_type, DiffType::Deleted);
    assert!(
        cache
            .fields
            .iter()
            .all(|f| f.diff_type == DiffType::Deleted)
    );
    let redis = task(cache, "redis");
    assert_eq!(redis.diff_type, DiffType::Deleted);
    assert_eq!(redis.annotations, [ANNOTATION_FORCES_DESTROY]);
    assert_eq!(group(&diff, "web").diff_type, DiffType::None);
    assert_eq!(
        render_diff(&diff, false),
        "\
+/- Job: \"web\"
- Task Group: \"cache\"
  - Task: \"redis\" (forces destroy)

  Task Group: \"web\"
    Task: \"server\"
"
    );
}

#[test]
fn an_edited_count_forces_create_or_destroy() {
    for (count, annotation) in [
        ("count = 4", ANNOTATION_FORCES_CREATE),
        ("count = 1", ANNOTATION_FORCES_DESTROY),
    ] {
        let (diff, _, _) = annotated(&[("count = 3", count)], DesiredUpdates::default());
        let group = group(&diff, "web");
        assert_eq!(group.diff_type, DiffType::Edited);
        let fields: Vec<_> = group
            .fields
            .iter()
            .filter(|f| f.diff_type != DiffType::None)
            .collect();
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].name, "Count");
        assert_eq!(fields[0].annotations, [annotation]);
        assert_eq!(task(group, "server").diff_type, DiffType::None);
    }
}

#[test]
fn an_edited_config_map() {
    let updates = DesiredUpdates {
        place: 1,
        destructive_update: 2,
        ignore: 1,
        ..DesiredUpdates::default()
    };
    let (diff, _, _) = annotated(
        &[("count = 3", "count = 4"), ("nginx:1.1.2", "nginx:2.0.0")],
        updates,
    );
    let server = task(group(&diff, "web"), "server");
    assert_eq!(server.diff_type, DiffType::Edited);
    assert_eq!(server.annotations, [ANNOTATION_FORCES_DESTRUCTIVE_UPDATE]);
    let objects = changed_objects(&server.objects);
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0].name, "Config");
    assert_eq!(
        changed_fields(&objects[0].fields),
        [(DiffType::Edited, "image", "nginx:1.1.2", "nginx:2.0.0")]
    );
    assert_eq!(
        render_diff(&diff, false),
        "\
+/- Job: \"web\"
+/- Task Group: \"web\" (1 create, 2 create/destroy update, 1 ignore)
  +/- Count: \"3\" => \"4\" (forces create)
  +/- Task: \"server\" (forces create/destroy update)
    +/- Config {
      +/- image: \"nginx:1.1.2\" => \"nginx:2.0.0\"
        }
"
    );
    // Verbose shows the unchanged config entries too, aligned.
    let verbose = render_diff(&diff, true);
    assert!(
        verbose.contains(
            "    +/- Config {
      +/- image:    \"nginx:1.1.2\" => \"nginx:2.0.0\"
          ports[0]: \"http\"
        }"
        ),
        "{verbose}"
    );
}

#[test]
fn maps_flatten_into_fields() {
    let (diff, _, _) = annotated(
        &[
            ("MODE = \"prod\"", "MODE = \"dev\"\n        DEBUG = \"1\""),
            (
                "datacenters = [\"dc1\"]",
                "datacenters = [\"dc1\"]\n  meta {\n    owner = \"ops\"\n  }",
            ),
        ],
        DesiredUpdates::default(),
    );
    assert_eq!(
        changed_fields(&diff.fields),
        [(DiffType::Added, "Meta[owner]", "", "ops")]
    );
    let server = task(group(&diff, "web"), "server");
    assert_eq!(
        changed_fields(&server.fields),
        [
            (DiffType::Added, "Env[DEBUG]", "", "1"),
            (DiffType::Edited, "Env[MODE]", "prod", "dev"),
        ]
    );
    assert_eq!(server.annotations, [ANNOTATION_FORCES_DESTRUCTIVE_UPDATE]);
}

#[test]
fn service_tags_change_in_place() {
    let (diff, _, _) = annotated(
        &[
            ("tags = [\"v1\"]", "tags = [\"v2\", \"v1\"]"),
            ("tags = [\"a\"]", "tags = [\"b\"]"),
        ],
        DesiredUpdates::default(),
    );
    let group = group(&diff, "web");
    // The group's service is matched by name: one edited service.
    let services = changed_objects(&group.objects);
    assert_eq!(services.len(), 1, "{services:#?}");
    assert_eq!(
        (services[0].name.as_str(), services[0].diff_type),
        ("Service", DiffType::Edited)
    );
    let tags = changed_objects(&services[0].objects);
    assert_eq!(tags.len(), 1);
    assert_eq!(tags[0].name, "Tags");
    assert_eq!(
        changed_fields(&tags[0].fields),
        [(DiffType::Added, "Tags", "", "v2")]
    );
    let server = task(group, "server");
    assert_eq!(server.annotations, [ANNOTATION_FORCES_IN_PLACE_UPDATE]);
    assert_eq!(
        render_diff(&diff, false),
        "\
+/- Job: \"web\"
+/- Task Group: \"web\"
  +/- Service {
    +/- Tags {
      + Tags: \"v2\"
        }
      }
  +/- Task: \"server\" (forces in-place update)
    +/- Service {
      +/- Tags {
        + Tags: \"b\"
        - Tags: \"a\"
          }
        }
"
    );
}

#[test]
fn constraints_are_compared_as_a_set() {
    let (diff, _, _) = annotated(
        &[(
            "value     = \"linux\"",
            "value     = \"darwin\"\n  }\n  constraint {\n    attribute = \"${attr.kernel.name}\"\n    value     = \"linux\"",
        )],
        DesiredUpdates::default(),
    );
    // The kept constraint is not shown; the new one is added.
    let constraints = changed_objects(&diff.objects);
    assert_eq!(constraints.len(), 1, "{constraints:#?}");
    assert_eq!(
        (constraints[0].name.as_str(), constraints[0].diff_type),
        ("Constraint", DiffType::Added)
    );

    let (diff, _, _) = annotated(
        &[("value     = \"linux\"", "value     = \"darwin\"")],
        DesiredUpdates::default(),
    );
    let constraints: Vec<_> = changed_objects(&diff.objects)
        .into_iter()
        .map(|o| (o.name.as_str(), o.diff_type))
        .collect();
    assert_eq!(
        constraints,
        [
            ("Constraint", DiffType::Deleted),
            ("Constraint", DiffType::Added)
        ]
    );
    // A placement-only change: the task is not touched.
    assert_eq!(
        task(group(&diff, "web"), "server").diff_type,
        DiffType::None
    );
    assert_eq!(
        render_diff(&diff, false),
        "\
+/- Job: \"web\"
- Constraint {
  - LTarget: \"${attr.kernel.name}\"
  - Operand: \"=\"
  - RTarget: \"linux\"
  }
+ Constraint {
  + LTarget: \"${attr.kernel.name}\"
  + Operand: \"=\"
  + RTarget: \"darwin\"
  }
  Task Group: \"web\"
    Task: \"server\"
"
    );
}

/// `(edits, the task's expected annotation)`.
const AGREEMENT_CASES: &[(&[(&str, &str)], &str)] = &[
    (
        &[("driver = \"docker\"", "driver = \"exec\"")],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    (
        &[("nginx:1.1.2", "nginx:1.2.0")],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    (
        &[("MODE = \"prod\"", "MODE = \"dev\"")],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    (
        &[("cpu    = 500", "cpu    = 600")],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    (
        &[("memory = 256", "memory = 512")],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    (
        &[("tags = [\"a\"]", "tags = [\"b\"]")],
        ANNOTATION_FORCES_IN_PLACE_UPDATE,
    ),
    (
        &[("kill_timeout = \"5s\"", "kill_timeout = \"10s\"")],
        ANNOTATION_FORCES_IN_PLACE_UPDATE,
    ),
    // A group-level destructive change replaces every edited task.
    (
        &[
            ("kill_timeout = \"5s\"", "kill_timeout = \"10s\""),
            (
                "port \"http\" {}",
                "port \"http\" {}\n      port \"admin\" {}",
            ),
        ],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
    // An in-place task change next to a destructive one in the same task.
    (
        &[
            ("kill_timeout = \"5s\"", "kill_timeout = \"10s\""),
            ("cpu    = 500", "cpu    = 600"),
        ],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
    ),
];

#[test]
fn task_annotations_agree_with_update_kind() {
    for (edits, expected) in AGREEMENT_CASES {
        let (diff, old, new) = annotated(edits, DesiredUpdates::default());
        let server = task(group(&diff, "web"), "server");
        assert_eq!(server.diff_type, DiffType::Edited, "{edits:?}");
        assert_eq!(server.annotations, [*expected], "{edits:?}");
        let kind = update_kind(&old, &old.task_groups[0], &new, &new.task_groups[0]);
        // One task: the group's verdict is the task's.
        assert_eq!(
            kind.is_destructive(),
            *expected == ANNOTATION_FORCES_DESTRUCTIVE_UPDATE,
            "{edits:?}: {kind:?}"
        );
    }
}

#[test]
fn only_the_task_update_kind_names_is_replaced() {
    // BASE plus a sidecar task with the given kill timeout.
    let with_sidecar = |source: &str, kill_timeout: &str| {
        let sidecar = format!(
            "\n    task \"sidecar\" {{\n      driver = \"docker\"\n      kill_timeout = \"{kill_timeout}\"\n      config {{\n        image = \"envoy:1\"\n      }}\n    }}\n\n    task \"server\" {{"
        );
        parse_job(&source.replacen("\n    task \"server\" {", &sidecar, 1))
    };
    let old = with_sidecar(BASE, "5s");
    // The server's image changes (destructive), the sidecar's kill timeout
    // (in place).
    let new = with_sidecar(&BASE.replacen("nginx:1.1.2", "nginx:1.2.0", 1), "10s");
    let mut diff = job_diff(Some(&old), &new);
    annotate(&mut diff, Some(&old), &new, None);
    let web = group(&diff, "web");
    assert_eq!(
        task(web, "server").annotations,
        [ANNOTATION_FORCES_DESTRUCTIVE_UPDATE]
    );
    assert_eq!(
        task(web, "sidecar").annotations,
        [ANNOTATION_FORCES_IN_PLACE_UPDATE]
    );
    let kind = update_kind(&old, &old.task_groups[0], &new, &new.task_groups[0]);
    assert!(kind.is_destructive(), "{kind:?}");
}

#[test]
fn added_task_forces_create() {
    let (diff, _, _) = annotated(
        &[(
            "    task \"server\" {",
            "    task \"log\" {\n      driver = \"docker\"\n      config {\n        image = \"fluent\"\n      }\n    }\n\n    task \"server\" {",
        )],
        DesiredUpdates::default(),
    );
    let web = group(&diff, "web");
    assert_eq!(task(web, "log").diff_type, DiffType::Added);
    assert_eq!(task(web, "log").annotations, [ANNOTATION_FORCES_CREATE]);
    assert_eq!(task(web, "server").diff_type, DiffType::None);
    let names: Vec<&str> = web.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["log", "server"]);
}

#[test]
fn server_bookkeeping_is_not_a_change() {
    let old = base();
    let mut new = base();
    new.version = 4;
    new.job_modify_index = 99;
    new.modify_index = 100;
    new.submit_time = 12345;
    new.stable = true;
    new.status = "running".to_owned();
    let diff = job_diff(Some(&old), &new);
    assert_eq!(diff.diff_type, DiffType::None, "{diff:#?}");
}

#[test]
fn diffs_are_deterministic_and_serialise_with_nomad_names() {
    let (first, _, _) = annotated(
        &[("count = 3", "count = 4"), ("nginx:1.1.2", "nginx:2.0.0")],
        DesiredUpdates {
            place: 1,
            ..DesiredUpdates::default()
        },
    );
    let (second, _, _) = annotated(
        &[("count = 3", "count = 4"), ("nginx:1.1.2", "nginx:2.0.0")],
        DesiredUpdates {
            place: 1,
            ..DesiredUpdates::default()
        },
    );
    assert_eq!(first, second);
    let json = serde_json::to_value(&first).unwrap_or_default();
    assert_eq!(json["Type"], "Edited");
    assert_eq!(json["ID"], "web");
    assert_eq!(json["TaskGroups"][0]["Updates"]["create"], 1);
    assert_eq!(json["TaskGroups"][0]["Tasks"][0]["Type"], "Edited");
    assert_eq!(
        json["TaskGroups"][0]["Tasks"][0]["Annotations"][0],
        ANNOTATION_FORCES_DESTRUCTIVE_UPDATE
    );
}

#[test]
fn annotating_twice_does_not_duplicate() {
    let (mut diff, old, new) = annotated(&[("count = 3", "count = 4")], DesiredUpdates::default());
    let once = diff.clone();
    annotate(&mut diff, Some(&old), &new, None);
    assert_eq!(diff, once);
}

#[test]
fn a_single_network_is_edited_in_place_in_the_diff() {
    let (diff, _, _) = annotated(
        &[
            ("count = 3", "count = 4"),
            ("nginx:1.1.2", "nginx:2.0.0"),
            (
                "port \"http\" {}",
                "port \"http\" {}\n      port \"admin\" { static = 8080 }",
            ),
        ],
        DesiredUpdates::default(),
    );
    assert_eq!(
        render_diff(&diff, false),
        "\
+/- Job: \"web\"
+/- Task Group: \"web\"
  +/- Count: \"3\" => \"4\" (forces create)
  +/- Network {
    + Static Port {
      + HostNetwork:     \"default\"
      + IgnoreCollision: \"false\"
      + Label:           \"admin\"
      + To:              \"0\"
      + Value:           \"8080\"
      }
      }
  +/- Task: \"server\" (forces create/destroy update)
    +/- Config {
      +/- image: \"nginx:1.1.2\" => \"nginx:2.0.0\"
        }
"
    );
}
