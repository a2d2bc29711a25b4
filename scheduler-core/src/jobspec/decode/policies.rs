//! Decoding of lifecycle policies (`update`, `restart`, `reschedule`,
//! `migrate`, `disconnect`, `ephemeral_disk`, `scaling`), `volume` requests
//! and `service` blocks with their checks.

use super::reader::BlockReader;
use crate::jobspec::value::Value;
use crate::model::{
    CheckRestart, CsiMountOptions, DisconnectStrategy, EphemeralDisk, MiB, MigrateStrategy,
    ReschedulePolicy, RestartPolicy, ScalingPolicy, Service, ServiceCheck, ServiceWeights,
    UpdateStrategy, VolumeRequest,
};
use std::collections::BTreeMap;

/// Reads an `update` block.
pub fn update(block: &BlockReader<'_>) -> UpdateStrategy {
    let update = UpdateStrategy {
        stagger: block.duration("stagger", "Stagger"),
        max_parallel: block.int("max_parallel", "MaxParallel"),
        health_check: block.string("health_check", "HealthCheck"),
        min_healthy_time: block.duration("min_healthy_time", "MinHealthyTime"),
        healthy_deadline: block.duration("healthy_deadline", "HealthyDeadline"),
        progress_deadline: block.duration("progress_deadline", "ProgressDeadline"),
        auto_revert: block.bool("auto_revert", "AutoRevert"),
        auto_promote: block.bool("auto_promote", "AutoPromote"),
        canary: block.int("canary", "Canary"),
    };
    block.finish(&[]);
    update
}

/// Reads a `restart` block.
pub fn restart(block: &BlockReader<'_>) -> RestartPolicy {
    let restart = RestartPolicy {
        attempts: block.int("attempts", "Attempts"),
        interval: block.duration("interval", "Interval"),
        delay: block.duration("delay", "Delay"),
        mode: block.string("mode", "Mode"),
        render_templates: block.bool("render_templates", "RenderTemplates"),
    };
    block.finish(&[]);
    restart
}

/// Reads a `reschedule` block.
pub fn reschedule(block: &BlockReader<'_>) -> ReschedulePolicy {
    let reschedule = ReschedulePolicy {
        attempts: block.int("attempts", "Attempts"),
        interval: block.duration("interval", "Interval"),
        delay: block.duration("delay", "Delay"),
        delay_function: block.string("delay_function", "DelayFunction"),
        max_delay: block.duration("max_delay", "MaxDelay"),
        unlimited: block.bool("unlimited", "Unlimited"),
    };
    block.finish(&[]);
    reschedule
}

/// Reads a `migrate` block.
pub fn migrate(block: &BlockReader<'_>) -> MigrateStrategy {
    let migrate = MigrateStrategy {
        max_parallel: block.int("max_parallel", "MaxParallel"),
        health_check: block.string("health_check", "HealthCheck"),
        min_healthy_time: block.duration("min_healthy_time", "MinHealthyTime"),
        healthy_deadline: block.duration("healthy_deadline", "HealthyDeadline"),
    };
    block.finish(&[]);
    migrate
}

/// Reads a `disconnect` block.
pub fn disconnect(block: &BlockReader<'_>) -> DisconnectStrategy {
    let disconnect = DisconnectStrategy {
        lost_after: block.duration("lost_after", "LostAfter"),
        replace: block.bool("replace", "Replace"),
        reconcile: block.string("reconcile", "Reconcile"),
        stop_on_client_after: block.duration("stop_on_client_after", "StopOnClientAfter"),
    };
    block.finish(&[]);
    disconnect
}

/// Reads an `ephemeral_disk` block.
pub fn ephemeral_disk(block: &BlockReader<'_>) -> EphemeralDisk {
    let disk = EphemeralDisk {
        sticky: block.bool("sticky", "Sticky"),
        migrate: block.bool("migrate", "Migrate"),
        size_mb: block.size_mib("size", "SizeMB").map(MiB),
    };
    block.finish(&[]);
    disk
}

/// Reads a `scaling` block. Group scaling blocks take no label (or
/// `"horizontal"`); task scaling blocks are labeled `"cpu"` or `"mem"`.
pub fn scaling(block: &BlockReader<'_>, kind: &str) -> ScalingPolicy {
    if let Some(written) = block.string("type", "Type")
        && written != kind
    {
        block.error(format!(
            "this scaling block has type {kind:?}; `type = {written:?}` contradicts it"
        ));
    }
    if block.policy_block_count() > 1 {
        block.error("a scaling block takes at most one policy block");
    }
    let policy = block
        .map_value("policy", "Policy")
        .map(|v| match v.to_json() {
            serde_json::Value::Object(map) => map.into_iter().collect(),
            _ => BTreeMap::new(),
        })
        .unwrap_or_default();
    let scaling = ScalingPolicy {
        r#type: kind.to_owned(),
        min: block.int("min", "Min"),
        max: block.int("max", "Max"),
        enabled: block.bool("enabled", "Enabled"),
        policy,
        ..ScalingPolicy::default()
    };
    if scaling.max.is_none() {
        block.error("a scaling block needs `max`");
    }
    block.finish(&[]);
    scaling
}

/// Reads the `volume "NAME"` blocks of a group.
pub fn volumes(reader: &BlockReader<'_>) -> BTreeMap<String, VolumeRequest> {
    let mut out = BTreeMap::new();
    for (block, label) in reader.blocks("volume", "Volumes", true) {
        let name = label.unwrap_or_default();
        let mut volume = VolumeRequest {
            name: name.clone(),
            r#type: block.string("type", "Type").unwrap_or_default(),
            source: block.string("source", "Source").unwrap_or_default(),
            read_only: block.bool("read_only", "ReadOnly").unwrap_or(false),
            sticky: block.bool("sticky", "Sticky").unwrap_or(false),
            access_mode: block
                .string("access_mode", "AccessMode")
                .unwrap_or_default(),
            attachment_mode: block
                .string("attachment_mode", "AttachmentMode")
                .unwrap_or_default(),
            per_alloc: block.bool("per_alloc", "PerAlloc").unwrap_or(false),
            ..VolumeRequest::default()
        };
        if let Some(options) = block.block("mount_options", "MountOptions") {
            volume.mount_options = Some(CsiMountOptions {
                fs_type: options.string("fs_type", "FSType").unwrap_or_default(),
                mount_flags: options
                    .string_list("mount_flags", "MountFlags")
                    .unwrap_or_default(),
            });
            options.finish(&[]);
        }
        if volume.r#type == "csi" {
            block.decoder().warning(
                block.span(),
                block.path(),
                "CSI volumes are kept in the job but not scheduled yet by this version",
            );
        }
        block.finish(&[]);
        if out.insert(name.clone(), volume).is_some() {
            reader.decoder().error(
                reader.span(),
                &reader.path().labeled("volume", "Volumes", &name, None),
                format!("volume {name:?} is declared more than once"),
            );
        }
    }
    out
}

/// Reads every `service` block of a group or task.
pub fn services(reader: &BlockReader<'_>) -> Vec<Service> {
    reader
        .blocks("service", "Services", false)
        .into_iter()
        .map(|(block, _)| service(&block))
        .collect()
}

fn service(block: &BlockReader<'_>) -> Service {
    let mut service = Service {
        name: block.string("name", "Name").unwrap_or_default(),
        tags: block.string_list("tags", "Tags").unwrap_or_default(),
        canary_tags: block
            .string_list("canary_tags", "CanaryTags")
            .unwrap_or_default(),
        enable_tag_override: block
            .bool("enable_tag_override", "EnableTagOverride")
            .unwrap_or(false),
        port_label: block.string("port", "PortLabel").unwrap_or_default(),
        address_mode: block
            .string("address_mode", "AddressMode")
            .unwrap_or_default(),
        address: block.string("address", "Address").unwrap_or_default(),
        task_name: block.string("task", "TaskName").unwrap_or_default(),
        on_update: block.string("on_update", "OnUpdate").unwrap_or_default(),
        provider: block.string("provider", "Provider").unwrap_or_default(),
        cluster: block.string("cluster", "Cluster").unwrap_or_default(),
        kind: block.string("kind", "Kind").unwrap_or_default(),
        meta: block.string_map("meta", "Meta").unwrap_or_default(),
        canary_meta: block
            .string_map("canary_meta", "CanaryMeta")
            .unwrap_or_default(),
        tagged_addresses: block
            .string_map("tagged_addresses", "TaggedAddresses")
            .unwrap_or_default(),
        checks: block
            .blocks("check", "Checks", false)
            .into_iter()
            .map(|(check_block, _)| check(&check_block))
            .collect(),
        check_restart: block
            .block("check_restart", "CheckRestart")
            .map(|b| check_restart(&b)),
        ..Service::default()
    };
    if let Some(weights) = block.block("weights", "Weights") {
        service.weights = Some(ServiceWeights {
            passing: weights.int("passing", "Passing").unwrap_or(0),
            warning: weights.int("warning", "Warning").unwrap_or(0),
        });
        weights.finish(&[]);
    }
    if let Some(identity) = block.block("identity", "Identity") {
        service.identity = Some(super::task::identity(&identity, None));
    }
    if let Some(connect) = block.block("connect", "Connect") {
        service.connect = Some(super::free_form_json(&connect));
        connect.decoder().warning(
            connect.span(),
            connect.path(),
            "Consul Connect is kept in the job but not acted on by this version",
        );
        connect.accept_everything();
        connect.finish(&[]);
    }
    block.finish(&[]);
    service
}

fn check(block: &BlockReader<'_>) -> ServiceCheck {
    let header = block
        .map_value("header", "Header")
        .map(|value| header_map(block, &value));
    let check = ServiceCheck {
        name: block.string("name", "Name").unwrap_or_default(),
        r#type: block.string("type", "Type").unwrap_or_default(),
        command: block.string("command", "Command").unwrap_or_default(),
        args: block.string_list("args", "Args").unwrap_or_default(),
        path: block.string("path", "Path").unwrap_or_default(),
        protocol: block.string("protocol", "Protocol").unwrap_or_default(),
        port_label: block.string("port", "PortLabel").unwrap_or_default(),
        expose: block.bool("expose", "Expose").unwrap_or(false),
        address_mode: block
            .string("address_mode", "AddressMode")
            .unwrap_or_default(),
        interval: block.duration("interval", "Interval").unwrap_or_default(),
        timeout: block.duration("timeout", "Timeout").unwrap_or_default(),
        initial_status: block
            .string("initial_status", "InitialStatus")
            .unwrap_or_default(),
        notes: block.string("notes", "Notes").unwrap_or_default(),
        tls_server_name: block
            .string("tls_server_name", "TLSServerName")
            .unwrap_or_default(),
        tls_skip_verify: block
            .bool("tls_skip_verify", "TLSSkipVerify")
            .unwrap_or(false),
        header: header.unwrap_or_default(),
        method: block.string("method", "Method").unwrap_or_default(),
        body: block.string("body", "Body").unwrap_or_default(),
        check_restart: block
            .block("check_restart", "CheckRestart")
            .map(|b| check_restart(&b)),
        grpc_service: block
            .string("grpc_service", "GRPCService")
            .unwrap_or_default(),
        grpc_use_tls: block.bool("grpc_use_tls", "GRPCUseTLS").unwrap_or(false),
        task_name: block.string("task", "TaskName").unwrap_or_default(),
        success_before_passing: block
            .int("success_before_passing", "SuccessBeforePassing")
            .unwrap_or(0),
        failures_before_critical: block
            .int("failures_before_critical", "FailuresBeforeCritical")
            .unwrap_or(0),
        failures_before_warning: block
            .int("failures_before_warning", "FailuresBeforeWarning")
            .unwrap_or(0),
        on_update: block.string("on_update", "OnUpdate").unwrap_or_default(),
        ..ServiceCheck::default()
    };
    block.finish(&[]);
    check
}

/// Check headers map a name to a list of values; a block form gives a list
/// of objects, which is flattened.
fn header_map(block: &BlockReader<'_>, value: &Value) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    let Value::Object(map) = value else {
        return out;
    };
    for (name, values) in map {
        // Header values must really be strings: a number in the list is a
        // mistake Nomad rejects, not something to convert.
        let strings = match values {
            Value::List(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>(),
            _ => None,
        };
        match strings {
            Some(strings) => {
                out.insert(name.clone(), strings);
            }
            None => block.decoder().error(
                block.span(),
                &block.path().field("header", "Header").key(name),
                format!("header {name:?} must be a list of strings, such as {name} = [\"value\"]"),
            ),
        }
    }
    out
}

fn check_restart(block: &BlockReader<'_>) -> CheckRestart {
    let restart = CheckRestart {
        limit: block.int("limit", "Limit").unwrap_or(0),
        grace: block.duration("grace", "Grace"),
        ignore_warnings: block
            .bool("ignore_warnings", "IgnoreWarnings")
            .unwrap_or(false),
    };
    block.finish(&[]);
    restart
}
