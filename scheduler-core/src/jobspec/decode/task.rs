//! Decoding of `task` blocks and what only tasks hold: driver `config`,
//! `env`, `artifact`, `template`, `vault`, `lifecycle`, `logs`,
//! `volume_mount`, `dispatch_payload`, `identity`, `csi_plugin`, `action`.

use super::placement::{affinities, constraints, resources};
use super::policies::{restart, scaling, services};
use super::reader::BlockReader;
use crate::model::{
    Action, Artifact, ChangeScript, Consul, DispatchPayloadConfig, LogConfig, Task,
    TaskCsiPluginConfig, TaskLifecycle, Template, Vault, VolumeMount, WaitConfig, WorkloadIdentity,
};

/// Reads a `task "NAME"` block.
pub fn task(block: &BlockReader<'_>, name: String) -> Task {
    let mut task = Task {
        name,
        driver: block.string("driver", "Driver").unwrap_or_default(),
        user: block.string("user", "User").unwrap_or_default(),
        leader: block.bool("leader", "Leader").unwrap_or(false),
        kill_timeout: block.duration("kill_timeout", "KillTimeout"),
        kill_signal: block
            .string("kill_signal", "KillSignal")
            .unwrap_or_default(),
        shutdown_delay: block
            .duration("shutdown_delay", "ShutdownDelay")
            .unwrap_or_default(),
        kind: block.string("kind", "Kind").unwrap_or_default(),
        meta: block.string_map("meta", "Meta").unwrap_or_default(),
        env: block.string_map("env", "Env").unwrap_or_default(),
        constraints: constraints(block),
        affinities: affinities(block),
        services: services(block),
        ..Task::default()
    };
    if let Some(config) = block.map_value("config", "Config")
        && let serde_json::Value::Object(map) = config.to_json()
    {
        task.config = map.into_iter().collect();
    }
    if let Some(reader) = block.block("resources", "Resources") {
        task.resources = resources(&reader);
    }
    if let Some(reader) = block.block("restart", "RestartPolicy") {
        task.restart_policy = restart(&reader);
    }
    if let Some(reader) = block.block("lifecycle", "Lifecycle") {
        task.lifecycle = Some(TaskLifecycle {
            hook: reader.string("hook", "Hook").unwrap_or_default(),
            sidecar: reader.bool("sidecar", "Sidecar").unwrap_or(false),
        });
        reader.finish(&[]);
    }
    if let Some(reader) = block.block("logs", "LogConfig") {
        task.log_config = LogConfig {
            max_files: reader.int("max_files", "MaxFiles"),
            max_file_size_mb: reader.size_mib("max_file_size", "MaxFileSizeMB"),
            enabled: reader.bool("enabled", "Enabled"),
            disabled: reader.bool("disabled", "Disabled").unwrap_or(false),
        };
        reader.finish(&[]);
    }
    task.artifacts = block
        .blocks("artifact", "Artifacts", false)
        .into_iter()
        .map(|(reader, _)| artifact(&reader))
        .collect();
    task.templates = block
        .blocks("template", "Templates", false)
        .into_iter()
        .map(|(reader, _)| template(&reader))
        .collect();
    if let Some(reader) = block.block("vault", "Vault") {
        task.vault = Some(vault(&reader));
    }
    if let Some(reader) = block.block("consul", "Consul") {
        task.consul = Some(consul(&reader));
    }
    task.volume_mounts = block
        .blocks("volume_mount", "VolumeMounts", false)
        .into_iter()
        .map(|(reader, _)| {
            let mount = VolumeMount {
                volume: reader.string("volume", "Volume").unwrap_or_default(),
                destination: reader
                    .string("destination", "Destination")
                    .unwrap_or_default(),
                read_only: reader.bool("read_only", "ReadOnly").unwrap_or(false),
                propagation_mode: reader.string("propagation_mode", "PropagationMode"),
                selinux_label: reader
                    .string("selinux_label", "SELinuxLabel")
                    .unwrap_or_default(),
            };
            reader.finish(&[]);
            mount
        })
        .collect();
    if let Some(reader) = block.block("dispatch_payload", "DispatchPayload") {
        task.dispatch_payload = Some(DispatchPayloadConfig {
            file: reader.string("file", "File").unwrap_or_default(),
        });
        reader.finish(&[]);
    }
    if let Some(reader) = block.block("csi_plugin", "CSIPluginConfig") {
        task.csi_plugin_config = Some(TaskCsiPluginConfig {
            id: reader.string("id", "ID").unwrap_or_default(),
            r#type: reader.string("type", "Type").unwrap_or_default(),
            mount_dir: reader.string("mount_dir", "MountDir").unwrap_or_default(),
            stage_publish_base_dir: reader
                .string("stage_publish_base_dir", "StagePublishBaseDir")
                .unwrap_or_default(),
            health_timeout: reader
                .duration("health_timeout", "HealthTimeout")
                .unwrap_or_default(),
        });
        reader.decoder().warning(
            reader.span(),
            reader.path(),
            "CSI plugins are kept in the job but not run by this version",
        );
        reader.finish(&[]);
    }
    for (reader, label) in block.blocks("identity", "Identities", false) {
        // The unnamed identity is the task's default one; named ones are extra.
        let identity = self::identity(&reader, label);
        if identity.name.is_empty() || identity.name == "default" {
            task.identity = Some(identity);
        } else {
            task.identities.push(identity);
        }
    }
    for (reader, label) in block.blocks("scaling", "ScalingPolicies", true) {
        let kind = match label.as_deref() {
            Some("cpu") => "vertical_cpu",
            Some("mem") => "vertical_mem",
            other => {
                reader.error(format!(
                    "a task scaling block must be labeled \"cpu\" or \"mem\", got {other:?}"
                ));
                continue;
            }
        };
        task.scaling_policies.push(scaling(&reader, kind));
    }
    for (reader, label) in block.blocks("action", "Actions", true) {
        task.actions.push(Action {
            name: label.unwrap_or_default(),
            command: reader.string("command", "Command").unwrap_or_default(),
            args: reader.string_list("args", "Args").unwrap_or_default(),
        });
        reader.finish(&[]);
    }
    if block.has("schedule") {
        block.decoder().warning(
            block.span(),
            &block.path().field("schedule", "Schedule"),
            "task schedule blocks (Nomad Enterprise) are not supported and are ignored",
        );
    }
    block.finish(&["schedule"]);
    task
}

fn artifact(block: &BlockReader<'_>) -> Artifact {
    let artifact = Artifact {
        getter_source: block.string("source", "GetterSource").unwrap_or_default(),
        getter_options: block
            .string_map("options", "GetterOptions")
            .unwrap_or_default(),
        getter_headers: block
            .string_map("headers", "GetterHeaders")
            .unwrap_or_default(),
        getter_mode: block.string("mode", "GetterMode"),
        getter_insecure: block.bool("insecure", "GetterInsecure").unwrap_or(false),
        relative_dest: block.string("destination", "RelativeDest"),
        chown: block.bool("chown", "Chown").unwrap_or(false),
    };
    block.finish(&[]);
    artifact
}

fn template(block: &BlockReader<'_>) -> Template {
    let mut template = Template {
        source_path: block.string("source", "SourcePath").unwrap_or_default(),
        dest_path: block.string("destination", "DestPath").unwrap_or_default(),
        embedded_tmpl: block.string("data", "EmbeddedTmpl").unwrap_or_default(),
        change_mode: block.string("change_mode", "ChangeMode"),
        change_signal: block.string("change_signal", "ChangeSignal"),
        splay: block.duration("splay", "Splay"),
        perms: block.string("perms", "Perms"),
        uid: block.int("uid", "Uid"),
        gid: block.int("gid", "Gid"),
        left_delim: block.string("left_delimiter", "LeftDelim"),
        right_delim: block.string("right_delimiter", "RightDelim"),
        envvars: block.bool("env", "Envvars").unwrap_or(false),
        vault_grace: block
            .duration("vault_grace", "VaultGrace")
            .unwrap_or_default(),
        err_missing_key: block
            .bool("error_on_missing_key", "ErrMissingKey")
            .unwrap_or(false),
        once: block.bool("once", "Once").unwrap_or(false),
        ..Template::default()
    };
    if let Some(reader) = block.block("change_script", "ChangeScript") {
        template.change_script = Some(ChangeScript {
            command: reader.string("command", "Command").unwrap_or_default(),
            args: reader.string_list("args", "Args").unwrap_or_default(),
            timeout: reader.duration("timeout", "Timeout"),
            fail_on_error: reader.bool("fail_on_error", "FailOnError").unwrap_or(false),
        });
        reader.finish(&[]);
    }
    if let Some(reader) = block.block("wait", "Wait") {
        template.wait = Some(WaitConfig {
            min: reader.duration("min", "Min"),
            max: reader.duration("max", "Max"),
        });
        reader.finish(&[]);
    }
    block.finish(&[]);
    template
}

/// Reads a `vault` block (of a task, or of a job or group for inheritance).
pub fn vault(block: &BlockReader<'_>) -> Vault {
    let vault = Vault {
        policies: block
            .string_list("policies", "Policies")
            .unwrap_or_default(),
        role: block.string("role", "Role").unwrap_or_default(),
        namespace: block.string("namespace", "Namespace").unwrap_or_default(),
        cluster: block.string("cluster", "Cluster").unwrap_or_default(),
        env: block.bool("env", "Env"),
        disable_file: block.bool("disable_file", "DisableFile").unwrap_or(false),
        change_mode: block.string("change_mode", "ChangeMode"),
        change_signal: block.string("change_signal", "ChangeSignal"),
        allow_token_expiration: block
            .bool("allow_token_expiration", "AllowTokenExpiration")
            .unwrap_or(false),
    };
    block.finish(&[]);
    vault
}

/// Reads a `consul` block of a group or task.
pub fn consul(block: &BlockReader<'_>) -> Consul {
    let consul = Consul {
        namespace: block.string("namespace", "Namespace").unwrap_or_default(),
        cluster: block.string("cluster", "Cluster").unwrap_or_default(),
        partition: block.string("partition", "Partition").unwrap_or_default(),
    };
    block.finish(&[]);
    consul
}

/// Reads an `identity` block (of a task or a service).
pub fn identity(block: &BlockReader<'_>, label: Option<String>) -> WorkloadIdentity {
    let identity = WorkloadIdentity {
        name: block.string("name", "Name").or(label).unwrap_or_default(),
        audience: block.string_list("aud", "Audience").unwrap_or_default(),
        change_mode: block
            .string("change_mode", "ChangeMode")
            .unwrap_or_default(),
        change_signal: block
            .string("change_signal", "ChangeSignal")
            .unwrap_or_default(),
        env: block.bool("env", "Env").unwrap_or(false),
        file: block.bool("file", "File").unwrap_or(false),
        filepath: block.string("filepath", "Filepath").unwrap_or_default(),
        service_name: block
            .string("service_name", "ServiceName")
            .unwrap_or_default(),
        ttl: block.duration("ttl", "TTL").unwrap_or_default(),
    };
    block.finish(&[]);
    identity
}
