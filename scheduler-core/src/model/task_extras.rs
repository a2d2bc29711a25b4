//! The smaller blocks of a task: templates, artifacts, Vault and Consul
//! settings, lifecycle, logs, volume mounts, dispatch payloads, workload
//! identities, CSI plugin settings, actions and schedules.

use crate::model::serde_util::null_as_default;
use crate::model::units::Duration;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A file rendered into the task directory from a template, re-rendered when
/// the Consul, Vault or Nomad data it reads changes (HCL `template` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Template {
    /// Path of a template file to read (HCL `source`).
    #[serde(deserialize_with = "null_as_default")]
    pub source_path: String,
    /// Where to write the rendered file, relative to the task directory (HCL `destination`).
    #[serde(deserialize_with = "null_as_default")]
    pub dest_path: String,
    /// The template text inline (HCL `data`).
    #[serde(deserialize_with = "null_as_default")]
    pub embedded_tmpl: String,
    /// What to do when the output changes: `restart` (default), `signal`,
    /// `script` or `noop`.
    pub change_mode: Option<String>,
    /// The script to run when `change_mode` is `script`.
    pub change_script: Option<ChangeScript>,
    /// The signal to send when `change_mode` is `signal` (`SIGHUP` by default).
    pub change_signal: Option<String>,
    /// Random wait before acting on a change, to avoid thundering herds; 5s by default.
    pub splay: Option<Duration>,
    /// File mode of the rendered file; `0644` by default.
    pub perms: Option<String>,
    /// Owner uid of the rendered file.
    pub uid: Option<i64>,
    /// Owner gid of the rendered file.
    pub gid: Option<i64>,
    /// Opening template delimiter; `{{` by default.
    pub left_delim: Option<String>,
    /// Closing template delimiter; `}}` by default.
    pub right_delim: Option<String>,
    /// Parse the output as `KEY=value` lines into the task's environment (HCL `env`).
    #[serde(deserialize_with = "null_as_default")]
    pub envvars: bool,
    /// Deprecated and unused; kept for old jobs.
    #[serde(deserialize_with = "null_as_default")]
    pub vault_grace: Duration,
    /// How long to wait for data to settle before rendering.
    pub wait: Option<WaitConfig>,
    /// Fail rendering when a map key is missing (HCL `error_on_missing_key`).
    #[serde(deserialize_with = "null_as_default")]
    pub err_missing_key: bool,
    /// Render once and never re-render.
    #[serde(deserialize_with = "null_as_default")]
    pub once: bool,
}

impl Template {
    /// Fills Nomad's defaults: change mode `restart`, change signal `SIGHUP`
    /// for signal mode (upper-cased when given), splay 5s, perms `0644`,
    /// delimiters `{{`/`}}`, change script timeout 5s.
    pub fn canonicalize(&mut self) {
        let mode = self.change_mode.get_or_insert_with(|| "restart".to_owned());
        match &mut self.change_signal {
            Some(signal) => *signal = signal.to_uppercase(),
            None => {
                let default = if mode == "signal" { "SIGHUP" } else { "" };
                self.change_signal = Some(default.to_owned());
            }
        }
        if let Some(script) = &mut self.change_script {
            script.canonicalize();
        }
        self.splay.get_or_insert(Duration::from_secs(5));
        self.perms.get_or_insert_with(|| "0644".to_owned());
        self.left_delim.get_or_insert_with(|| "{{".to_owned());
        self.right_delim.get_or_insert_with(|| "}}".to_owned());
    }
}

/// A script run in the task when a template's output changes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ChangeScript {
    /// The command to run.
    #[serde(deserialize_with = "null_as_default")]
    pub command: String,
    /// Its arguments.
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<String>,
    /// How long it may run; 5s by default.
    pub timeout: Option<Duration>,
    /// Kill the task when the script fails.
    #[serde(deserialize_with = "null_as_default")]
    pub fail_on_error: bool,
}

impl ChangeScript {
    /// Fills the default timeout of 5s.
    pub fn canonicalize(&mut self) {
        self.timeout.get_or_insert(Duration::from_secs(5));
    }
}

/// Minimum and maximum time a template waits for its data to settle.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WaitConfig {
    /// Minimum quiet time.
    pub min: Option<Duration>,
    /// Maximum time to wait.
    pub max: Option<Duration>,
}

/// A file or archive downloaded into the task directory before the task
/// starts (HCL `artifact` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Artifact {
    /// The URL to fetch, in go-getter syntax (HCL `source`).
    #[serde(deserialize_with = "null_as_default")]
    pub getter_source: String,
    /// go-getter options such as `checksum` (HCL `options`).
    #[serde(deserialize_with = "null_as_default")]
    pub getter_options: BTreeMap<String, String>,
    /// HTTP headers for the download (HCL `headers`).
    #[serde(deserialize_with = "null_as_default")]
    pub getter_headers: BTreeMap<String, String>,
    /// `any` (default: unpack archives), `file` or `dir` (HCL `mode`).
    pub getter_mode: Option<String>,
    /// Allow TLS without verification (HCL `insecure`).
    #[serde(deserialize_with = "null_as_default")]
    pub getter_insecure: bool,
    /// Where to put it, relative to the task directory (HCL `destination`);
    /// `local/` by default, `local/<file name>` in `file` mode.
    pub relative_dest: Option<String>,
    /// Give the task's user ownership of the downloaded files.
    #[serde(deserialize_with = "null_as_default")]
    pub chown: bool,
}

impl Artifact {
    /// Fills Nomad's defaults: mode `any`; destination `local/`, or
    /// `local/<last path element of the source>` in `file` mode.
    pub fn canonicalize(&mut self) {
        let mode = self.getter_mode.get_or_insert_with(|| "any".to_owned());
        if self.relative_dest.is_none() {
            let dest = if mode == "file" {
                // Go's path.Base of the source, joined onto "local".
                let trimmed = self.getter_source.trim_end_matches('/');
                match trimmed.rsplit('/').next() {
                    Some(base) if !base.is_empty() && base != "." => format!("local/{base}"),
                    _ => "local".to_owned(),
                }
            } else {
                "local/".to_owned()
            };
            self.relative_dest = Some(dest);
        }
    }
}

/// Vault secrets for a task: a token with the given policies or role (HCL
/// `vault` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Vault {
    /// Vault policies the token gets (legacy token workflow).
    #[serde(deserialize_with = "null_as_default")]
    pub policies: Vec<String>,
    /// The Vault role to log in with (workload identity workflow).
    #[serde(deserialize_with = "null_as_default")]
    pub role: String,
    /// The Vault namespace.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// The Vault cluster; `default` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster: String,
    /// Put the token in `VAULT_TOKEN`; true by default.
    pub env: Option<bool>,
    /// Do not write the token to `secrets/vault_token`.
    #[serde(deserialize_with = "null_as_default")]
    pub disable_file: bool,
    /// What to do when the token changes: `restart` (default), `signal`, `noop`.
    pub change_mode: Option<String>,
    /// The signal for `signal` mode; `SIGHUP` by default.
    pub change_signal: Option<String>,
    /// Keep running when the token cannot be renewed.
    #[serde(deserialize_with = "null_as_default")]
    pub allow_token_expiration: bool,
}

impl Vault {
    /// Fills Nomad's defaults: env true, cluster `default`, change mode
    /// `restart`, change signal `SIGHUP`.
    pub fn canonicalize(&mut self) {
        self.env.get_or_insert(true);
        if self.cluster.is_empty() {
            self.cluster = "default".to_owned();
        }
        self.change_mode.get_or_insert_with(|| "restart".to_owned());
        self.change_signal
            .get_or_insert_with(|| "SIGHUP".to_owned());
    }
}

/// Which Consul a group or task talks to (HCL `consul` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Consul {
    /// Consul namespace (Consul Enterprise); inherited from the job's
    /// `consul_namespace` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// Consul cluster; `default` when unset.
    #[serde(deserialize_with = "null_as_default")]
    pub cluster: String,
    /// Consul admin partition (Consul Enterprise).
    #[serde(deserialize_with = "null_as_default")]
    pub partition: String,
}

impl Consul {
    /// Fills the default cluster `default`.
    pub fn canonicalize(&mut self) {
        if self.cluster.is_empty() {
            self.cluster = "default".to_owned();
        }
    }
}

/// When a task runs relative to the group's main tasks (HCL `lifecycle`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskLifecycle {
    /// `prestart`, `poststart` or `poststop`.
    #[serde(deserialize_with = "null_as_default")]
    pub hook: String,
    /// Keep the task running alongside the main tasks instead of to completion.
    #[serde(deserialize_with = "null_as_default")]
    pub sidecar: bool,
}

/// Rotation of a task's stdout/stderr logs (HCL `logs` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct LogConfig {
    /// Rotated files kept per stream; 10 by default.
    pub max_files: Option<i64>,
    /// Size of each file in MiB before rotation; 10 by default.
    #[serde(rename = "MaxFileSizeMB")]
    pub max_file_size_mb: Option<i64>,
    /// Deprecated inverse of `disabled`; kept for old jobs.
    pub enabled: Option<bool>,
    /// Do not collect logs.
    #[serde(deserialize_with = "null_as_default")]
    pub disabled: bool,
}

impl LogConfig {
    /// Fills Nomad's defaults: 10 files of 10 MiB.
    pub fn canonicalize(&mut self) {
        self.max_files.get_or_insert(10);
        self.max_file_size_mb.get_or_insert(10);
    }

    /// Files kept (default 10).
    pub fn max_files(&self) -> i64 {
        self.max_files.unwrap_or(10)
    }

    /// File size in MiB (default 10).
    pub fn max_file_size_mb(&self) -> i64 {
        self.max_file_size_mb.unwrap_or(10)
    }
}

/// Mounts one of the group's volumes into the task (HCL `volume_mount`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeMount {
    /// The group volume's name.
    #[serde(deserialize_with = "null_as_default")]
    pub volume: String,
    /// Where to mount it in the task.
    #[serde(deserialize_with = "null_as_default")]
    pub destination: String,
    /// Mount read-only.
    #[serde(deserialize_with = "null_as_default")]
    pub read_only: bool,
    /// Mount propagation: `private` (default), `host-to-task`, `bidirectional`.
    pub propagation_mode: Option<String>,
    /// SELinux label for the mount, e.g. `z` or `Z`.
    #[serde(rename = "SELinuxLabel", deserialize_with = "null_as_default")]
    pub selinux_label: String,
}

impl VolumeMount {
    /// Fills the default propagation mode `private`.
    pub fn canonicalize(&mut self) {
        self.propagation_mode
            .get_or_insert_with(|| "private".to_owned());
    }
}

/// Where a dispatched job's payload is written in the task (HCL `dispatch_payload`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct DispatchPayloadConfig {
    /// File name, relative to the task's `local/` directory.
    #[serde(deserialize_with = "null_as_default")]
    pub file: String,
}

/// A signed identity token given to a workload, for Nomad, Consul or Vault
/// (HCL `identity` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct WorkloadIdentity {
    /// Identity name; `default` for the Nomad identity.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// JWT audiences (HCL `aud`).
    #[serde(deserialize_with = "null_as_default")]
    pub audience: Vec<String>,
    /// What to do when the token is renewed: `noop`, `restart`, `signal`.
    #[serde(deserialize_with = "null_as_default")]
    pub change_mode: String,
    /// The signal for `signal` mode.
    #[serde(deserialize_with = "null_as_default")]
    pub change_signal: String,
    /// Put the token in the environment.
    #[serde(deserialize_with = "null_as_default")]
    pub env: bool,
    /// Write the token to the secrets directory.
    #[serde(deserialize_with = "null_as_default")]
    pub file: bool,
    /// Custom path for the token file.
    #[serde(deserialize_with = "null_as_default")]
    pub filepath: String,
    /// For service identities: the service it belongs to.
    #[serde(deserialize_with = "null_as_default")]
    pub service_name: String,
    /// Token lifetime; 0 means it lives as long as the allocation.
    #[serde(rename = "TTL", deserialize_with = "null_as_default")]
    pub ttl: Duration,
}

/// Makes the task a CSI storage plugin (HCL `csi_plugin` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskCsiPluginConfig {
    /// The plugin id volumes refer to.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: String,
    /// `node`, `controller` or `monolith`.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub r#type: String,
    /// Where the plugin's socket directory is mounted in the task; `/csi` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub mount_dir: String,
    /// Base directory for staged and published volumes; `/local/csi` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub stage_publish_base_dir: String,
    /// How long the plugin has to become healthy; 30s by default.
    #[serde(deserialize_with = "null_as_default")]
    pub health_timeout: Duration,
}

impl TaskCsiPluginConfig {
    /// Fills Nomad's defaults: mount dir `/csi`, base dir `/local/csi`,
    /// health timeout 30s.
    pub fn canonicalize(&mut self) {
        if self.mount_dir.is_empty() {
            self.mount_dir = "/csi".to_owned();
        }
        if self.stage_publish_base_dir.is_empty() {
            self.stage_publish_base_dir = "/local/csi".to_owned();
        }
        if self.health_timeout.is_zero() {
            self.health_timeout = Duration::from_secs(30);
        }
    }
}

/// A command operators can run in the task on demand (HCL `action` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Action {
    /// The action's name (the block's label).
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// The command to run.
    #[serde(deserialize_with = "null_as_default")]
    pub command: String,
    /// Its arguments.
    #[serde(deserialize_with = "null_as_default")]
    pub args: Vec<String>,
}

/// Time windows in which the task may run (HCL `schedule` block, Nomad Enterprise).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskSchedule {
    /// The window, as cron expressions.
    pub cron: Option<TaskScheduleCron>,
}

/// A run window given by start and end cron expressions.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskScheduleCron {
    /// When the window opens.
    #[serde(deserialize_with = "null_as_default")]
    pub start: String,
    /// When the window closes.
    #[serde(deserialize_with = "null_as_default")]
    pub end: String,
    /// Time zone of the expressions.
    #[serde(deserialize_with = "null_as_default")]
    pub timezone: String,
}
