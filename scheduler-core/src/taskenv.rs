//! A task's environment and `${...}` interpolation, as Nomad's client
//! builds them: `NOMAD_ALLOC_ID`, `NOMAD_TASK_NAME`, `NOMAD_PORT_<label>`,
//! `NOMAD_ADDR_<label>`, `NOMAD_ALLOC_INDEX`, `NOMAD_CPU_LIMIT`,
//! `NOMAD_MEMORY_LIMIT`, `NOMAD_META_<key>`, ... each also under our own
//! prefix (`SCHED_ALLOC_ID`, ...), and `${NOMAD_PORT_http}`,
//! `${node.datacenter}`, `${attr.kernel.name}`, `${meta.rack}` in the
//! task's `config`, `env` and arguments.
//!
//! Pure: the client passes the allocation, the node and the directories
//! as the task will see them.

use std::collections::BTreeMap;

use crate::model::{Allocation, Job, Node, Task, TaskGroup};

/// The prefix of every variable, and our own alias of it.
const NOMAD: &str = "NOMAD_";
const OURS: &str = "SCHED_";

/// Where the task's directories are, as the task sees them (host paths
/// for `raw_exec`; `/alloc`, `/local`, `/secrets` inside an isolated root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskDirs {
    /// The allocation's shared directory.
    pub alloc_dir: String,
    /// The task's `local/` directory.
    pub task_dir: String,
    /// The task's `secrets/` directory.
    pub secrets_dir: String,
}

/// A task's environment and the values `${...}` may name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskEnv {
    /// The environment the task starts with.
    pub env: BTreeMap<String, String>,
    /// `node.*`, `attr.*` and `meta.*` values for interpolation.
    node_values: BTreeMap<String, String>,
}

/// The allocation's index from its name (`job.group[3]` is 3).
pub fn alloc_index(name: &str) -> Option<u64> {
    let open = name.rfind('[')?;
    name[open + 1..].strip_suffix(']')?.parse().ok()
}

impl TaskEnv {
    /// Builds the environment of `task` of `alloc` on `node`. The task's
    /// own `env` block comes last and is interpolated against the rest.
    pub fn build(
        job: &Job,
        group: &TaskGroup,
        task: &Task,
        alloc: &Allocation,
        node: &Node,
        dirs: &TaskDirs,
    ) -> TaskEnv {
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let mut set = |key: &str, value: String| {
            vars.insert(key.to_owned(), value);
        };
        let alloc_id = alloc.id.to_string();
        set("ALLOC_DIR", dirs.alloc_dir.clone());
        set("TASK_DIR", dirs.task_dir.clone());
        set("SECRETS_DIR", dirs.secrets_dir.clone());
        set("SHORT_ALLOC_ID", alloc_id.chars().take(8).collect());
        set("ALLOC_ID", alloc_id);
        set("ALLOC_NAME", alloc.name.clone());
        if let Some(index) = alloc_index(&alloc.name) {
            set("ALLOC_INDEX", index.to_string());
        }
        set("TASK_NAME", task.name.clone());
        set("GROUP_NAME", group.name.clone());
        set("JOB_ID", job.id.to_string());
        set("JOB_NAME", job.name.clone());
        if !job.parent_id.to_string().is_empty() {
            set("JOB_PARENT_ID", job.parent_id.to_string());
        }
        set("NAMESPACE", job.namespace.clone());
        set("REGION", job.region.clone());
        set("DC", node.datacenter.clone());
        let resources = alloc.allocated_resources.tasks.get(&task.name);
        let cpu = resources.map_or_else(
            || task.resources.cpu.map_or(100, |c| c.0),
            |r| r.cpu.cpu_shares.0,
        );
        set("CPU_LIMIT", cpu.to_string());
        if task.resources.cores > 0 {
            set("CPU_CORES", task.resources.cores.to_string());
        }
        let memory = resources.map_or_else(
            || task.resources.memory_mb.map_or(300, |m| m.0),
            |r| r.memory.memory_mb.0,
        );
        set("MEMORY_LIMIT", memory.to_string());
        if task.resources.memory_max_mb.0 > 0 {
            set(
                "MEMORY_MAX_LIMIT",
                task.resources.memory_max_mb.0.to_string(),
            );
        }
        // Job, then group, then task meta: the most specific wins.
        let meta = job
            .meta
            .iter()
            .chain(&group.meta)
            .chain(&task.meta)
            .collect::<BTreeMap<_, _>>();
        for (key, value) in meta {
            set(&format!("META_{key}"), value.clone());
            set(&format!("META_{}", env_key(key)), value.clone());
        }
        let host_ip = node
            .attributes
            .get("unique.network.ip-address")
            .cloned()
            .unwrap_or_else(|| "127.0.0.1".to_owned());
        for port in &alloc.allocated_resources.shared.ports {
            let label = env_key(&port.label);
            let ip = if port.host_ip.is_empty() {
                host_ip.clone()
            } else {
                port.host_ip.clone()
            };
            let inside = if port.to > 0 { port.to } else { port.value };
            set(&format!("IP_{label}"), ip.clone());
            set(&format!("PORT_{label}"), inside.to_string());
            set(&format!("ADDR_{label}"), format!("{ip}:{inside}"));
            set(&format!("HOST_IP_{label}"), ip.clone());
            set(&format!("HOST_PORT_{label}"), port.value.to_string());
            set(
                &format!("HOST_ADDR_{label}"),
                format!("{ip}:{}", port.value),
            );
            set(&format!("ALLOC_PORT_{label}"), inside.to_string());
        }

        let mut env = BTreeMap::new();
        for (key, value) in &vars {
            env.insert(format!("{NOMAD}{key}"), value.clone());
            env.insert(format!("{OURS}{key}"), value.clone());
        }
        let mut node_values = BTreeMap::new();
        node_values.insert("node.unique.id".to_owned(), node.id.to_string());
        node_values.insert("node.unique.name".to_owned(), node.name.clone());
        node_values.insert("node.datacenter".to_owned(), node.datacenter.clone());
        node_values.insert("node.class".to_owned(), node.node_class.clone());
        node_values.insert("node.pool".to_owned(), node.node_pool.clone());
        node_values.insert("node.region".to_owned(), job.region.clone());
        for (key, value) in &node.attributes {
            node_values.insert(format!("attr.{key}"), value.clone());
        }
        for (key, value) in &node.meta {
            node_values.insert(format!("meta.{key}"), value.clone());
        }
        let mut task_env = TaskEnv { env, node_values };
        let own: Vec<(String, String)> = task
            .env
            .iter()
            .map(|(key, value)| (key.clone(), task_env.interpolate(value)))
            .collect();
        task_env.env.extend(own);
        task_env
    }

    /// Replaces every `${NAME}` that names a variable of the environment or
    /// a `node.*`, `attr.*`, `meta.*` value; anything else stays as
    /// written (as Nomad leaves unknown references).
    pub fn interpolate(&self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return out;
            };
            let name = after[..end].trim();
            match self.lookup(name) {
                Some(value) => out.push_str(value),
                None => out.push_str(&rest[start..start + 2 + end + 1]),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        out
    }

    /// [`TaskEnv::interpolate`] on every string of a `config` value.
    pub fn interpolate_json(&self, value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::String(s) => serde_json::Value::String(self.interpolate(s)),
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.iter().map(|v| self.interpolate_json(v)).collect())
            }
            serde_json::Value::Object(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), self.interpolate_json(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn lookup(&self, name: &str) -> Option<&String> {
        self.env
            .get(name)
            .or_else(|| self.node_values.get(name))
            .or_else(|| name.strip_prefix("env.").and_then(|key| self.env.get(key)))
    }
}

/// A label or meta key as an environment variable name: letters, digits
/// and `_`, anything else becomes `_` (`my-port` is `my_port`).
fn env_key(key: &str) -> String {
    key.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AllocatedPortMapping, MiB};

    fn fixture() -> TaskEnv {
        let mut job = Job {
            id: "web".into(),
            name: "web".to_owned(),
            namespace: "default".to_owned(),
            region: "global".to_owned(),
            ..Job::default()
        };
        job.meta.insert("owner".to_owned(), "team-a".to_owned());
        let group = TaskGroup {
            name: "api".to_owned(),
            ..TaskGroup::default()
        };
        let mut task = Task {
            name: "server".to_owned(),
            ..Task::default()
        };
        task.resources.memory_mb = Some(MiB(256));
        task.meta.insert("owner".to_owned(), "team-b".to_owned());
        task.env.insert(
            "LISTEN".to_owned(),
            "${NOMAD_ADDR_http} on ${attr.kernel.name}".to_owned(),
        );
        let mut alloc = Allocation {
            id: "4f2c0e1a-1111-2222-3333-444455556666".into(),
            name: "web.api[2]".to_owned(),
            ..Allocation::default()
        };
        alloc
            .allocated_resources
            .shared
            .ports
            .push(AllocatedPortMapping {
                label: "http".to_owned(),
                value: 23456,
                to: 8080,
                host_ip: String::new(),
                ignore_collision: false,
            });
        let mut node = Node {
            datacenter: "dc1".to_owned(),
            ..Node::default()
        };
        node.attributes.insert(
            "unique.network.ip-address".to_owned(),
            "10.1.2.3".to_owned(),
        );
        node.attributes
            .insert("kernel.name".to_owned(), "linux".to_owned());
        node.meta.insert("rack".to_owned(), "r7".to_owned());
        let dirs = TaskDirs {
            alloc_dir: "/alloc".to_owned(),
            task_dir: "/local".to_owned(),
            secrets_dir: "/secrets".to_owned(),
        };
        TaskEnv::build(&job, &group, &task, &alloc, &node, &dirs)
    }

    #[test]
    fn the_environment_has_nomads_variables_and_our_aliases() {
        let env = fixture().env;
        assert_eq!(
            env["NOMAD_ALLOC_ID"],
            "4f2c0e1a-1111-2222-3333-444455556666"
        );
        assert_eq!(env["NOMAD_SHORT_ALLOC_ID"], "4f2c0e1a");
        assert_eq!(env["NOMAD_ALLOC_INDEX"], "2");
        assert_eq!(env["NOMAD_TASK_NAME"], "server");
        assert_eq!(env["NOMAD_GROUP_NAME"], "api");
        assert_eq!(env["NOMAD_MEMORY_LIMIT"], "256");
        assert_eq!(env["NOMAD_CPU_LIMIT"], "100");
        assert_eq!(env["NOMAD_PORT_http"], "8080");
        assert_eq!(env["NOMAD_HOST_PORT_http"], "23456");
        assert_eq!(env["NOMAD_ADDR_http"], "10.1.2.3:8080");
        assert_eq!(env["NOMAD_DC"], "dc1");
        assert_eq!(env["NOMAD_TASK_DIR"], "/local");
        assert_eq!(env["NOMAD_META_owner"], "team-b", "task meta wins");
        assert_eq!(env["SCHED_ALLOC_ID"], env["NOMAD_ALLOC_ID"]);
        assert_eq!(env["SCHED_PORT_http"], "8080");
        assert_eq!(env["LISTEN"], "10.1.2.3:8080 on linux");
    }

    #[test]
    fn interpolation_replaces_known_references_and_keeps_the_rest() {
        let env = fixture();
        assert_eq!(
            env.interpolate("rack ${meta.rack}, port ${NOMAD_PORT_http}, ${unknown.thing}, ${"),
            "rack r7, port 8080, ${unknown.thing}, ${"
        );
        let config = serde_json::json!({"args": ["--port", "${NOMAD_PORT_http}"], "n": 3});
        assert_eq!(
            env.interpolate_json(&config),
            serde_json::json!({"args": ["--port", "8080"], "n": 3})
        );
        assert_eq!(alloc_index("a.b[10]"), Some(10));
        assert_eq!(alloc_index("nameless"), None);
    }
}
