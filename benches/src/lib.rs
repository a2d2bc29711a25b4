//! Shared helpers for the benches: the job-spec fixture corpus and large
//! generated jobs.

pub mod cluster;
pub mod pack;
pub mod plot;

use scheduler_core::jobspec::{ParseOptions, parse};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Where the fixture corpus is: `$SCHED_JOBSPECS`, else `shared/jobspecs`
/// beside the repository.
pub fn corpus_dir() -> PathBuf {
    match std::env::var("SCHED_JOBSPECS") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/jobspecs"),
    }
}

/// A job file of the corpus: its path relative to the corpus and its text.
#[derive(Debug, Clone)]
pub struct JobFile {
    /// Path relative to the corpus directory.
    pub name: String,
    /// The file's contents.
    pub source: String,
}

/// Every job file of the corpus that parses into a valid job on its own
/// (without variables from outside or other files), sorted by name.
///
/// # Panics
/// If the corpus is missing.
pub fn accepted_corpus() -> Vec<JobFile> {
    let dir = corpus_dir();
    let mut files = Vec::new();
    let mut stack = vec![dir.clone()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d)
            .unwrap_or_else(|e| panic!("cannot read the job-spec corpus at {}: {e}", d.display()));
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "hcl" || e == "nomad") {
                let Ok(source) = std::fs::read_to_string(&path) else {
                    continue;
                };
                let name = path
                    .strip_prefix(&dir)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                files.push(JobFile { name, source });
            }
        }
    }
    files.retain(|f| parse(&f.source, &ParseOptions::new(f.name.clone())).is_ok());
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// A large job file: `groups` groups of `tasks` tasks, each task with a
/// driver config, resources, a service with checks, a template and env.
pub fn large_job_hcl(groups: usize, tasks: usize) -> String {
    let mut out = String::from(
        "job \"large\" {\n  datacenters = [\"dc1\", \"dc2\"]\n  type = \"service\"\n\n  update {\n    max_parallel = 2\n    canary = 1\n  }\n",
    );
    for g in 0..groups {
        let _ = write!(
            out,
            "\n  group \"group{g}\" {{\n    count = {count}\n\n    network {{\n      mode = \"bridge\"\n",
            count = 1 + g % 5
        );
        for t in 0..tasks {
            let _ = writeln!(out, "      port \"http{t}\" {{ to = {} }}", 8000 + t);
        }
        out.push_str(
            "    }\n\n    constraint {\n      attribute = \"${attr.kernel.name}\"\n      value = \"linux\"\n    }\n\n    spread {\n      attribute = \"${node.datacenter}\"\n      target \"dc1\" { percent = 50 }\n      target \"dc2\" { percent = 50 }\n    }\n",
        );
        for t in 0..tasks {
            let _ = write!(
                out,
                r#"
    task "task{t}" {{
      driver = "docker"

      config {{
        image = "registry.example/app{t}:1.{g}.0"
        ports = ["http{t}"]
        args  = ["-listen", ":${{NOMAD_PORT_http{t}}}", "-group", "group{g}"]

        mount {{
          type   = "bind"
          source = "local/config"
          target = "/etc/app"
        }}
      }}

      env {{
        APP_GROUP = "group{g}"
        APP_TASK  = "task{t}"
      }}

      template {{
        destination = "local/config/app.env"
        env         = true
        data        = <<EOT
LOG_LEVEL=info
UPSTREAM={{{{ range service "db" }}}}{{{{ .Address }}}}:{{{{ .Port }}}}{{{{ end }}}}
EOT
      }}

      service {{
        name = "svc-g{g}-t{t}"
        port = "http{t}"
        tags = ["group{g}", "task{t}"]

        check {{
          type     = "http"
          path     = "/health"
          interval = "10s"
          timeout  = "2s"
        }}
      }}

      resources {{
        cpu    = {cpu}
        memory = {memory}
      }}
    }}
"#,
                cpu = 100 + 50 * t,
                memory = 128 + 64 * t,
            );
        }
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_large_job_is_valid() {
        let parsed = parse(&large_job_hcl(3, 2), &ParseOptions::new("large.hcl")).expect("valid");
        assert_eq!(parsed.job.task_groups.len(), 3);
        assert_eq!(parsed.job.task_groups[2].tasks.len(), 2);
    }
}
