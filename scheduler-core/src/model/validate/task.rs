//! Task rules: name, driver, resources, logs, artifacts, templates, Vault,
//! lifecycle, dispatch payload, volume mounts, CSI plugin and scaling.

use super::placement::{self, Level};
use super::{Problems, network, policies, scaling};
use crate::model::{
    Artifact, Duration, FieldPath, Job, Resources, Task, TaskGroup, Template, Vault,
};

/// Checks one task at `path`. `restart_messages` are the problems already
/// reported for the group's restart policy, which the task inherits.
pub(super) fn validate_task(
    job: &Job,
    group: &TaskGroup,
    task: &Task,
    path: &FieldPath,
    restart_messages: &[String],
    out: &mut Problems,
) {
    let name = &task.name;
    if name.contains('/') || name.contains('\\') {
        out.error(
            path.clone(),
            format!("task name {name:?} contains a slash: task names become directory names, use dashes instead"),
        );
    } else if name.contains('\0') {
        out.error(
            path.clone(),
            format!("task name {name:?} contains a NUL character: remove it"),
        );
    }
    if task.driver.is_empty() {
        out.error(
            path.field("driver", "Driver"),
            "missing driver: every task needs `driver = ...`",
        );
    }
    let kill_timeout = task.kill_timeout();
    if kill_timeout < Duration::ZERO {
        out.error(
            path.field("kill_timeout", "KillTimeout"),
            format!("kill_timeout {kill_timeout} is negative: use a positive duration"),
        );
    }
    if task.shutdown_delay < Duration::ZERO {
        out.error(
            path.field("shutdown_delay", "ShutdownDelay"),
            format!(
                "shutdown_delay {} is negative: use a duration of 0 or more",
                task.shutdown_delay
            ),
        );
    }

    resources(&task.resources, &path.field("resources", "Resources"), out);
    logs(group, task, &path.field("logs", "LogConfig"), out);

    placement::constraints(&task.constraints, path, Level::Task, out);
    placement::affinities(&task.affinities, path, &job.job_type, out);

    let mut restart = Problems::default();
    policies::restart(
        &task.restart_policy,
        &path.field("restart", "RestartPolicy"),
        &mut restart,
    );
    out.extend_unreported(restart, restart_messages);

    network::task_services(group, task, path, out);

    for (index, artifact) in task.artifacts.iter().enumerate() {
        artifact_rules(artifact, &path.indexed("artifact", "Artifacts", index), out);
    }
    for (index, template) in task.templates.iter().enumerate() {
        let template_path = path.indexed("template", "Templates", index);
        template_rules(template, &template_path, out);
        if !template.dest_path.is_empty()
            && let Some(first) = task.templates[..index]
                .iter()
                .position(|t| t.dest_path == template.dest_path)
        {
            out.error(
                template_path.field("destination", "DestPath"),
                format!(
                    "destination {:?} is already written by template #{}: give each template its own destination",
                    template.dest_path,
                    first + 1
                ),
            );
        }
    }
    if let Some(vault) = &task.vault {
        vault_rules(vault, &path.field("vault", "Vault"), out);
    }
    if let Some(lifecycle) = &task.lifecycle {
        let hook = lifecycle.hook.as_str();
        if !matches!(hook, "prestart" | "poststart" | "poststop") {
            out.error(
                path.field("lifecycle", "Lifecycle").field("hook", "Hook"),
                format!("lifecycle hook {hook:?} is unknown: use prestart, poststart or poststop"),
            );
        }
    }
    if task.dispatch_payload.is_some() && job.parameterized_job.is_none() {
        out.error(
            path.field("dispatch_payload", "DispatchPayload"),
            "dispatch_payload only works in a parameterized job: add a parameterized block to the job, or remove dispatch_payload",
        );
    }
    if let Some(payload) = &task.dispatch_payload
        && escapes_alloc_dir(&["task", "local"], &payload.file)
    {
        out.error(
            path.field("dispatch_payload", "DispatchPayload")
                .field("file", "File"),
            format!(
                "file {:?} escapes the task's local directory: use a relative path inside it",
                payload.file
            ),
        );
    }
    for (index, mount) in task.volume_mounts.iter().enumerate() {
        let mount_path = path.indexed("volume_mount", "VolumeMounts", index);
        if mount.volume.is_empty() {
            out.error(
                mount_path.field("volume", "Volume"),
                "the volume_mount names no volume: set volume to one of the group's volume blocks",
            );
        } else if !group.volumes.contains_key(&mount.volume) {
            out.error(
                mount_path.field("volume", "Volume"),
                format!(
                    "volume {:?} is not declared in the group: add volume {:?} {{ ... }} to the group, or fix the name",
                    mount.volume, mount.volume
                ),
            );
        }
        let mode = mount.propagation_mode.as_deref().unwrap_or("private");
        if !matches!(mode, "" | "private" | "host-to-task" | "bidirectional") {
            out.error(
                mount_path.field("propagation_mode", "PropagationMode"),
                format!("propagation_mode {mode:?} is unknown: use private, host-to-task or bidirectional"),
            );
        }
    }
    if let Some(plugin) = &task.csi_plugin_config {
        let plugin_path = path.field("csi_plugin", "CSIPluginConfig");
        if plugin.id.is_empty() {
            out.error(
                plugin_path.field("id", "ID"),
                "the csi_plugin block has no id: set id to the plugin's name",
            );
        }
        if !matches!(plugin.r#type.as_str(), "node" | "controller" | "monolith") {
            out.error(
                plugin_path.field("type", "Type"),
                format!(
                    "csi_plugin type {:?} is unknown: use node, controller or monolith",
                    plugin.r#type
                ),
            );
        }
    }
    scaling::task_scaling(&task.scaling_policies, path, out);
}

/// The task's `resources` block.
fn resources(resources: &Resources, path: &FieldPath, out: &mut Problems) {
    let cpu = resources.cpu().0;
    let cores = resources.cores;
    if cores < 0 {
        out.error(
            path.field("cores", "Cores"),
            format!("cores {cores} is negative: ask for 1 or more whole cores, or use cpu"),
        );
    } else if cores > 0 && cpu > 0 {
        out.error(
            path.field("cores", "Cores"),
            "cpu and cores are both set: ask for either cpu (MHz) or cores (whole cores), not both",
        );
    } else if cores == 0 && cpu < 1 {
        out.error(
            path.field("cpu", "CPU"),
            format!("cpu {cpu} MHz is too low: ask for at least 1 MHz"),
        );
    }
    let memory = resources.memory_mb().0;
    if memory < 10 {
        out.error(
            path.field("memory", "MemoryMB"),
            format!("memory {memory} MB is too low: ask for at least 10 MB"),
        );
    }
    let memory_max = resources.memory_max_mb.0;
    if memory_max != 0 && memory_max < memory {
        out.error(
            path.field("memory_max", "MemoryMaxMB"),
            format!("memory_max {memory_max} MB is below memory {memory} MB: raise memory_max to at least memory, or remove it"),
        );
    }
    let disk = resources.disk_mb.0;
    if disk < 0 {
        out.error(
            path.field("disk", "DiskMB"),
            format!("disk {disk} MB is negative: size the group's ephemeral_disk block instead"),
        );
    } else if disk > 0 {
        out.warning(
            path.field("disk", "DiskMB"),
            "disk in a task's resources block is deprecated: size the group's ephemeral_disk block instead",
        );
    }
    if resources.secrets_mb.0 < 0 {
        out.error(
            path.field("secrets", "SecretsMB"),
            format!(
                "secrets {} MB is negative: use 0 (the default size) or more",
                resources.secrets_mb.0
            ),
        );
    }
    if let Some(numa) = &resources.numa
        && !matches!(numa.affinity.as_str(), "" | "none" | "prefer" | "require")
    {
        out.error(
            path.field("numa", "NUMA").field("affinity", "Affinity"),
            format!(
                "numa affinity {:?} is unknown: use none, prefer or require",
                numa.affinity
            ),
        );
    }
    for (index, device) in resources.devices.iter().enumerate() {
        let device_path = path.labeled("device", "Devices", &device.name, Some(index));
        if device.name.is_empty() {
            out.error(
                device_path.clone(),
                "the device has no name: label it with a type, vendor/type or vendor/type/model, as in device \"nvidia/gpu\"",
            );
        }
        placement::constraints(&device.constraints, &device_path, Level::Device, out);
        placement::device_affinities(&device.affinities, &device_path, out);
    }
}

/// The task's `logs` block, and whether the logs fit the group's disk.
fn logs(group: &TaskGroup, task: &Task, path: &FieldPath, out: &mut Problems) {
    let config = &task.log_config;
    let files = config.max_files();
    let size = config.max_file_size_mb();
    if files < 1 {
        out.error(
            path.field("max_files", "MaxFiles"),
            format!("max_files {files} is too low: keep at least 1 log file"),
        );
    }
    if size < 1 {
        out.error(
            path.field("max_file_size", "MaxFileSizeMB"),
            format!("max_file_size {size} MB is too low: use at least 1 MB"),
        );
    }
    if files < 1 || size < 1 || config.disabled {
        return;
    }
    let usage = files.saturating_mul(size);
    let disk = group.ephemeral_disk.size_mb().0;
    if usage >= disk {
        out.error(
            path.clone(),
            format!(
                "logs can take up to {usage} MB ({files} files of {size} MB) but the group's ephemeral disk is {disk} MB: lower max_files or max_file_size, or raise the ephemeral_disk size"
            ),
        );
    }
}

fn artifact_rules(artifact: &Artifact, path: &FieldPath, out: &mut Problems) {
    if artifact.getter_source.is_empty() {
        out.error(
            path.field("source", "GetterSource"),
            "the artifact has no source: set source to the URL to download",
        );
    }
    let mode = artifact.getter_mode.as_deref().unwrap_or("any");
    if !matches!(mode, "" | "any" | "file" | "dir") {
        out.error(
            path.field("mode", "GetterMode"),
            format!("artifact mode {mode:?} is unknown: use any, file or dir"),
        );
    }
    if let Some(dest) = &artifact.relative_dest
        && escapes_alloc_dir(&["task"], dest)
    {
        out.error(
            path.field("destination", "RelativeDest"),
            format!("destination {dest:?} escapes the allocation directory: use a path inside it, such as \"local/\""),
        );
    }
    if let Some(checksum) = artifact.getter_options.get("checksum")
        && let Some(problem) = checksum_problem(checksum)
    {
        out.error(
            path.field("options", "GetterOptions").key("checksum"),
            format!("checksum {checksum:?} is invalid: {problem}"),
        );
    }
}

/// What is wrong with a go-getter `checksum` option (`type:hex`), if anything.
fn checksum_problem(value: &str) -> Option<String> {
    // Interpolated values are only known on the client.
    if value.contains("${") {
        return None;
    }
    let value = value.trim();
    if value.is_empty() {
        return Some(
            "it is empty, write it as type:hex, as in \"sha256:<64 hex digits>\"".to_owned(),
        );
    }
    let Some((kind, digits)) = value.split_once(':') else {
        return Some("write it as type:hex, as in \"sha256:<64 hex digits>\"".to_owned());
    };
    if digits.contains(':') {
        return Some("write it as type:hex, with a single colon".to_owned());
    }
    let bytes = match kind {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        "sha512" => 64,
        other => {
            return Some(format!(
                "checksum type {other:?} is unknown, use md5, sha1, sha256 or sha512"
            ));
        }
    };
    if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Some(format!(
            "the value after {kind}: must be hexadecimal digits"
        ));
    }
    if digits.len() != bytes * 2 {
        return Some(format!(
            "a {kind} checksum has {} hex digits, this one has {}",
            bytes * 2,
            digits.len()
        ));
    }
    None
}

fn template_rules(template: &Template, path: &FieldPath, out: &mut Problems) {
    let has_source = !template.source_path.is_empty();
    let has_data = !template.embedded_tmpl.is_empty();
    if !has_source && !has_data {
        out.error(
            path.clone(),
            "the template has neither source nor data: set source to a template file, or data to the template text",
        );
    } else if has_source && has_data {
        out.error(
            path.field("data", "EmbeddedTmpl"),
            "the template sets both source and data: keep only one of them",
        );
    }
    let destination = &template.dest_path;
    if destination.is_empty() {
        out.error(
            path.field("destination", "DestPath"),
            "the template has no destination: set destination, as in destination = \"local/config.txt\"",
        );
    } else if escapes_alloc_dir(&["task"], destination) {
        out.error(
            path.field("destination", "DestPath"),
            format!("destination {destination:?} escapes the allocation directory: use a path inside it, such as \"local/\""),
        );
    }
    let mode = template.change_mode.as_deref().unwrap_or("restart");
    let signal = template.change_signal.as_deref().unwrap_or("");
    match mode {
        "restart" | "noop" => {}
        "signal" => {
            if signal.is_empty() {
                out.error(
                    path.field("change_signal", "ChangeSignal"),
                    "change_mode \"signal\" needs a signal: set change_signal, as in change_signal = \"SIGHUP\"",
                );
            }
            if template.envvars {
                out.error(
                    path.field("change_mode", "ChangeMode"),
                    "change_mode \"signal\" cannot be used with env = true: use restart or noop for environment templates",
                );
            }
        }
        "script" => {
            if template
                .change_script
                .as_ref()
                .is_none_or(|script| script.command.is_empty())
            {
                out.error(
                    path.field("change_script", "ChangeScript").field("command", "Command"),
                    "change_mode \"script\" needs a script: add a change_script block with a command",
                );
            }
        }
        other => out.error(
            path.field("change_mode", "ChangeMode"),
            format!("change_mode {other:?} is unknown: use restart, noop, signal or script"),
        ),
    }
    if let Some(splay) = template.splay
        && splay < Duration::ZERO
    {
        out.error(
            path.field("splay", "Splay"),
            format!("splay {splay} is negative: use a duration of 0 or more"),
        );
    }
    if let Some(perms) = &template.perms
        && !perms.is_empty()
        && u32::from_str_radix(perms, 8).map_or(true, |mode| mode > 0o7777)
    {
        out.error(
            path.field("perms", "Perms"),
            format!("perms {perms:?} is not an octal file mode: use a mode such as \"0644\""),
        );
    }
    if let Some(wait) = &template.wait
        && let (Some(min), Some(max)) = (wait.min, wait.max)
        && min > max
    {
        out.error(
            path.field("wait", "Wait").field("min", "Min"),
            format!("wait min {min} is longer than max {max}: lower min or raise max"),
        );
    }
}

fn vault_rules(vault: &Vault, path: &FieldPath, out: &mut Problems) {
    if vault.policies.iter().any(|policy| policy == "root") {
        out.error(
            path.field("policies", "Policies"),
            "the \"root\" policy cannot be given to a task: list narrower policies",
        );
    }
    let mode = vault.change_mode.as_deref().unwrap_or("restart");
    match mode {
        "restart" | "noop" => {}
        "signal" => {
            if vault.change_signal.as_deref().unwrap_or("").is_empty() {
                out.error(
                    path.field("change_signal", "ChangeSignal"),
                    "change_mode \"signal\" needs a signal: set change_signal, as in change_signal = \"SIGHUP\"",
                );
            }
        }
        other => out.error(
            path.field("change_mode", "ChangeMode"),
            format!("change_mode {other:?} is unknown: use restart, noop or signal"),
        ),
    }
}

/// Whether `path`, taken relative to `prefix` inside an allocation
/// directory, leads out of it (as Nomad works it out, lexically).
pub(super) fn escapes_alloc_dir(prefix: &[&str], path: &str) -> bool {
    let mut parts: Vec<&str> = vec!["alloc"];
    parts.extend_from_slice(prefix);
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            other => parts.push(other),
        }
    }
    parts.first() != Some(&"alloc")
}
