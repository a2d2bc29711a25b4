//! What a job-file author notices: how values are evaluated, which forms are
//! accepted, and how problems are reported (every one, located).

use scheduler_core::jobspec::{
    Diagnostics, MemoryFiles, ParseOptions, VariableInputs, parse, parse_json,
};
use scheduler_core::model::{Duration, Job, JobType};

fn job(source: &str) -> Job {
    match parse(source, &ParseOptions::new("test.hcl")) {
        Ok(parsed) => parsed.job,
        Err(diagnostics) => panic!("expected a valid job, got:\n{diagnostics}"),
    }
}

fn errors(source: &str) -> Diagnostics {
    parse(source, &ParseOptions::new("test.hcl")).expect_err("expected the job to be rejected")
}

/// Asserts that the errors are exactly `expected`, each as `LINE:COL: MESSAGE-FRAGMENT`.
fn check_errors(source: &str, expected: &[&str]) {
    let diagnostics = errors(source);
    let got: Vec<String> = diagnostics
        .errors()
        .map(|d| format!("{}:{}: {}", d.position.line, d.position.column, d.message))
        .collect();
    assert_eq!(got.len(), expected.len(), "errors:\n{}", got.join("\n"));
    for (got, want) in got.iter().zip(expected) {
        let (location, fragment) = want.split_once(": ").unwrap();
        assert!(
            got.starts_with(&format!("{location}: ")) && got.contains(fragment),
            "expected {want:?}, got {got:?}\nall:\n{}",
            diagnostics
        );
    }
}

fn minimal(inner: &str) -> String {
    format!(
        "job \"web\" {{\n  group \"g\" {{\n    task \"t\" {{\n      driver = \"exec\"\n{inner}\n    }}\n  }}\n}}\n"
    )
}

#[test]
fn runtime_references_pass_through_for_the_client() {
    let job = job(&minimal(
        r#"      env {
        HOST  = "${attr.unique.hostname}"
        INDEX = "${NOMAD_ALLOC_INDEX}-x"
        RACK  = meta.rack
        DC    = "${node.datacenter}"
      }"#,
    ));
    let env = &job.task_groups[0].tasks[0].env;
    assert_eq!(env["HOST"], "${attr.unique.hostname}");
    assert_eq!(env["INDEX"], "${NOMAD_ALLOC_INDEX}-x");
    assert_eq!(env["RACK"], "${meta.rack}");
    assert_eq!(env["DC"], "${node.datacenter}");
}

#[test]
fn variables_locals_functions_and_expressions_evaluate() {
    let source = r#"
variable "dcs" {
  type    = list(string)
  default = ["dc1", "dc2"]
}
variable "replicas" {
  type    = number
  default = 3
  validation {
    condition     = var.replicas > 0
    error_message = "replicas must be positive"
  }
}
locals {
  name   = "web-${local.suffix}"
  suffix = lower("API")
  ports  = { for p in ["http", "admin"] : p => upper(p) }
}
job "web" {
  datacenters = [for dc in var.dcs : upper(dc) if dc != "dc2"]
  meta {
    name    = local.name
    joined  = join(",", var.dcs)
    big     = var.replicas > 2 ? "yes" : "no"
    math    = 7 / 2
    ports   = local.ports["admin"]
    tmpl    = "%{ for d in var.dcs }[${d}]%{ endfor }"
    heredoc = <<-EOT
      hello
        world
    EOT
  }
  group "g" {
    count = var.replicas * 2
    task "t" {
      driver = "exec"
    }
  }
}
"#;
    let job = job(source);
    assert_eq!(job.datacenters, vec!["DC1"]);
    assert_eq!(job.meta["name"], "web-api");
    assert_eq!(job.meta["joined"], "dc1,dc2");
    assert_eq!(job.meta["big"], "yes");
    assert_eq!(job.meta["math"], "3.5");
    assert_eq!(job.meta["ports"], "ADMIN");
    assert_eq!(job.meta["tmpl"], "[dc1][dc2]");
    assert_eq!(job.meta["heredoc"], "hello\n  world\n");
    assert_eq!(job.task_groups[0].count(), 6);
}

#[test]
fn variable_validation_failure_is_located_at_the_condition() {
    let source = "variable \"n\" {\n  default = 0\n  validation {\n    condition     = var.n > 0\n    error_message = \"n must be positive\"\n  }\n}\njob \"x\" {\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n";
    check_errors(source, &["4:21: n must be positive"]);
}

#[test]
fn dynamic_blocks_expand_with_their_iterator() {
    let source = r#"
job "web" {
  dynamic "group" {
    for_each = { a = 1, b = 2 }
    iterator = g
    labels   = ["grp-${g.key}"]
    content {
      count = g.value
      task "t" {
        driver = "exec"
        dynamic "artifact" {
          for_each = range(g.value)
          content {
            source = "https://example.com/${g.key}/${artifact.value}.tgz"
          }
        }
      }
    }
  }
}
"#;
    let job = job(source);
    let names: Vec<&str> = job.task_groups.iter().map(|g| g.name.as_str()).collect();
    assert_eq!(names, ["grp-a", "grp-b"]);
    assert_eq!(job.task_groups[1].count(), 2);
    let sources: Vec<&str> = job.task_groups[1].tasks[0]
        .artifacts
        .iter()
        .map(|a| a.getter_source.as_str())
        .collect();
    assert_eq!(
        sources,
        ["https://example.com/b/0.tgz", "https://example.com/b/1.tgz"]
    );
}

#[test]
fn driver_config_keeps_nested_blocks_and_lists() {
    let job = job(&minimal(
        r#"      config {
        image = "redis:7"
        args  = ["--port", 6379]
        labels {
          team = "cache"
        }
        mount {
          type   = "bind"
          target = "/data"
        }
        mount {
          type   = "tmpfs"
          target = "/tmp"
        }
      }"#,
    ));
    let config = serde_json::to_value(&job.task_groups[0].tasks[0].config).unwrap();
    assert_eq!(
        config,
        serde_json::json!({
            "image": "redis:7",
            "args": ["--port", 6379],
            "labels": [{"team": "cache"}],
            "mount": [{"type": "bind", "target": "/data"}, {"type": "tmpfs", "target": "/tmp"}],
        })
    );
}

#[test]
fn meta_and_env_accept_block_and_attribute_forms() {
    let job = job(&minimal("      meta { a = 1 }\n      env = { B = true }"));
    let task = &job.task_groups[0].tasks[0];
    assert_eq!(task.meta["a"], "1");
    assert_eq!(task.env["B"], "true");
}

#[test]
fn constraints_accept_shorthand_operators() {
    let job = job(r#"job "web" {
  group "g" {
    constraint {
      attribute = "${attr.os.version}"
      version   = ">= 22.04"
    }
    constraint {
      distinct_hosts = true
    }
    constraint {
      distinct_property = "${meta.rack}"
      value             = "2"
    }
    constraint {
      attribute = "${attr.kernel.name}"
      value     = "linux"
    }
    task "t" { driver = "exec" }
  }
}
"#);
    let constraints: Vec<(String, String, String)> = job.task_groups[0]
        .constraints
        .iter()
        .map(|c| (c.l_target.clone(), c.operand.clone(), c.r_target.clone()))
        .collect();
    let expected = [
        ("${attr.os.version}", "version", ">= 22.04"),
        ("", "distinct_hosts", ""),
        ("${meta.rack}", "distinct_property", "2"),
        ("${attr.kernel.name}", "=", "linux"),
    ];
    let expected: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned()))
        .collect();
    assert_eq!(constraints, expected);
}

#[test]
fn defaults_are_applied_per_job_type() {
    let job = job(
        "job \"b\" {\n  type = \"batch\"\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n",
    );
    assert_eq!(job.job_type, JobType::Batch);
    assert_eq!(job.region, "global");
    assert_eq!(job.namespace, "default");
    assert_eq!(job.priority(), 50);
    assert_eq!(job.datacenters, vec!["*"]);
    let group = &job.task_groups[0];
    assert_eq!(group.count(), 1);
    assert_eq!(group.restart_policy.attempts, Some(3));
    assert_eq!(
        group.restart_policy.interval,
        Some(Duration::from_hours(24))
    );
    let resources = &group.tasks[0].resources;
    assert_eq!(resources.cpu().0, 100);
    assert_eq!(resources.memory_mb().0, 300);
}

#[test]
fn old_format_tasks_directly_in_the_job_get_their_own_group() {
    let job = job("job \"j\" {\n  task \"solo\" {\n    driver = \"exec\"\n  }\n}\n");
    assert_eq!(job.task_groups.len(), 1);
    assert_eq!(job.task_groups[0].name, "solo");
    assert_eq!(job.task_groups[0].tasks[0].name, "solo");
}

#[test]
fn every_problem_is_reported_with_its_location_and_path() {
    let source = r#"job "web" {
  priorty = 50
  group "api" {
    count = "many"
    task "srv" {
      driver       = "docker"
      kill_timeout = "5 seconds"
      resources {
        memroy = 256
      }
      resources {
        cpu = 1
      }
    }
  }
}
"#;
    check_errors(
        source,
        &[
            "2:3: unsupported argument \"priorty\"; did you mean \"priority\"?",
            "4:13: argument \"count\" must be a whole number, got the string \"many\"",
            "7:22: invalid duration \"5 seconds\"",
            "9:9: unsupported argument \"memroy\"; did you mean \"memory\"?",
            "11:7: only one resources block is allowed here",
        ],
    );
    let diagnostics = errors(source);
    let duration = diagnostics
        .errors()
        .find(|d| d.message.contains("duration"))
        .unwrap();
    assert_eq!(
        duration.path.as_deref(),
        Some("job \"web\" > group \"api\" > task \"srv\" > kill_timeout")
    );
    assert_eq!(
        duration.to_string(),
        format!(
            "test.hcl:7:22: error: {} (in job \"web\" > group \"api\" > task \"srv\" > kill_timeout)",
            duration.message
        )
    );
}

#[test]
fn undeclared_and_unset_variables_are_located_errors() {
    check_errors(
        "job \"x\" {\n  region = var.nope\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n",
        &["2:12: reference to undeclared input variable \"nope\""],
    );
    check_errors(
        "variable \"r\" {}\njob \"x\" {\n  region = var.r\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n",
        &["1:1: variable \"r\" has no value"],
    );
    let with_value = ParseOptions {
        inputs: VariableInputs {
            vars: vec![("r".into(), "eu".into())],
            ..VariableInputs::default()
        },
        ..ParseOptions::new("test.hcl")
    };
    let job = parse(
        "variable \"r\" {}\njob \"x\" {\n  region = var.r\n  group \"g\" {\n    task \"t\" { driver = \"exec\" }\n  }\n}\n",
        &with_value,
    )
    .unwrap()
    .job;
    assert_eq!(job.region, "eu");
}

#[test]
fn unknown_functions_and_bad_calls_are_located() {
    check_errors(
        &minimal("      meta { a = uper(\"x\") }"),
        &["5:18: call to unknown function \"uper\"; did you mean \"upper\"?"],
    );
    check_errors(
        &minimal("      meta { a = element([], 0) }"),
        &["5:18: element"],
    );
}

#[test]
fn syntax_errors_are_located() {
    let diagnostics = errors("job \"x\" {\n  region = \n}\n");
    let first = diagnostics.errors().next().unwrap();
    assert_eq!(
        (first.position.line, first.position.column),
        (2, 12),
        "{first}"
    );
    assert!(first.message.contains("invalid HCL syntax"), "{first}");
}

#[test]
fn file_function_reads_through_the_file_source() {
    let mut files = MemoryFiles::new();
    files.insert("conf/app.toml", "port = 80\n");
    let options = ParseOptions {
        files: &files,
        ..ParseOptions::new("test.hcl")
    };
    let source = minimal(
        "      template {\n        data        = file(\"conf/app.toml\")\n        destination = \"local/app.toml\"\n      }",
    );
    let job = parse(&source, &options).unwrap().job;
    assert_eq!(
        job.task_groups[0].tasks[0].templates[0].embedded_tmpl,
        "port = 80\n"
    );
}

#[test]
fn unimplemented_blocks_are_kept_with_a_warning() {
    let source = r#"job "web" {
  group "g" {
    service {
      name = "api"
      connect {
        sidecar_service {}
      }
    }
    task "t" { driver = "exec" }
  }
}
"#;
    let parsed = parse(source, &ParseOptions::new("test.hcl")).unwrap();
    let warning = parsed
        .warnings
        .iter()
        .find(|w| w.message.contains("Connect"))
        .expect("a warning");
    assert_eq!(warning.position.line, 5);
    let connect = parsed.job.task_groups[0].services[0]
        .connect
        .as_ref()
        .expect("kept");
    assert_eq!(connect, &serde_json::json!({"sidecar_service": [{}]}));
}

#[test]
fn json_jobs_report_the_field_path_of_a_type_error() {
    let source = r#"{"Job": {"ID": "web", "TaskGroups": [{"Name": "g", "Count": "three"}]}}"#;
    let diagnostics = parse_json(source, "web.json").unwrap_err();
    let first = diagnostics.errors().next().unwrap();
    assert_eq!(first.path.as_deref(), Some("Job.TaskGroups[0].Count"));
    assert_eq!(first.position.line, 1);

    let valid = r#"{"ID": "web", "Name": "web", "TaskGroups": [{"Name": "g", "Tasks": [{"Name": "t", "Driver": "exec"}]}]}"#;
    let job = parse_json(valid, "web.json").unwrap().job;
    assert_eq!(job.task_groups[0].count(), 1);
}

#[test]
fn convert_takes_a_type_expression() {
    let job = job(&minimal(
        "      meta { n = jsonencode(convert([1, 2], list(string))) }",
    ));
    assert_eq!(job.task_groups[0].tasks[0].meta["n"], "[\"1\",\"2\"]");
}

#[test]
fn sizes_accept_units() {
    let job = job(&minimal(
        "      resources {\n        memory     = \"1GiB\"\n        memory_max = \"1.5GB\"\n      }",
    ));
    let resources = &job.task_groups[0].tasks[0].resources;
    assert_eq!(resources.memory_mb().0, 1024);
    assert_eq!(resources.memory_max_mb.0, 1536);
    check_errors(
        &minimal("      resources {\n        memory = \"lots\"\n      }"),
        &["6:18: argument \"memory\" must be a size in MiB"],
    );
}
