//! Printing a job as an HCL job file: the inverse of [`parse`](super::parse).
//!
//! [`job_to_hcl`] writes every field the decoder reads, under the decoder's
//! names, so that parsing the output gives back the same canonical job.
//! Values that canonicalisation fills in by itself are left out (each
//! omission is checked by canonicalising), so the output reads like a
//! hand-written file:
//!
//! ```
//! use scheduler_core::jobspec::{parse, print::job_to_hcl, ParseOptions};
//!
//! let source = r#"
//! job "web" {
//!   group "api" {
//!     task "server" {
//!       driver = "docker"
//!       config { image = "nginx:1.27" }
//!     }
//!   }
//! }
//! "#;
//! let job = parse(source, &ParseOptions::new("web.hcl")).unwrap().job;
//! let printed = job_to_hcl(&job);
//! assert!(printed.contains("image = \"nginx:1.27\""));
//! assert_eq!(parse(&printed, &ParseOptions::new("printed.hcl")).unwrap().job, job);
//! ```
//!
//! What the job file format cannot say is not printed: fields set only by
//! the servers (status, versions, indexes), a dispatched job's payload, and
//! values the HCL reader never produces (a dynamic port with a fixed value,
//! a periodic spec type other than `cron`).

mod minimize;
mod parts;
mod writer;

#[cfg(test)]
mod tests;

use crate::model::{Job, Task, TaskGroup};
use writer::Body;

/// Prints a job as an HCL job file that [`parse`](super::parse) reads back
/// to the same job (for a canonical job; any other job is printed as it is,
/// and reads back canonicalised). The output is deterministic.
pub fn job_to_hcl(job: &Job) -> String {
    let job = minimize::minimize(job);
    let mut root = Body::root();
    root.block("job", &[job.id.as_str()], |body| job_body(body, &job));
    let mut out = String::new();
    root.render(&mut out);
    out
}

fn job_body(b: &mut Body, job: &Job) {
    if job.name != job.id.as_str() {
        b.string("name", &job.name);
    }
    b.text("region", &job.region);
    b.text("namespace", &job.namespace);
    b.text("node_pool", &job.node_pool);
    b.string("type", job.job_type.as_str());
    b.opt_int("priority", job.priority);
    b.flag("all_at_once", job.all_at_once);
    b.list("datacenters", &job.datacenters);
    b.text("consul_token", &job.consul_token);
    b.text("vault_token", &job.vault_token);
    b.text("consul_namespace", &job.consul_namespace);
    b.text("vault_namespace", &job.vault_namespace);
    b.string_map("meta", &job.meta);
    if let Some(ui) = &job.ui {
        b.block("ui", &[], |b| {
            b.text("description", &ui.description);
            for link in &ui.links {
                b.block("link", &[], |b| {
                    b.text("label", &link.label);
                    b.text("url", &link.url);
                });
            }
        });
    }
    parts::constraints(b, &job.constraints);
    parts::affinities(b, &job.affinities);
    parts::spreads(b, &job.spreads);
    if let Some(update) = &job.update {
        parts::update(b, update);
    }
    if let Some(reschedule) = &job.reschedule {
        parts::reschedule(b, reschedule);
    }
    if let Some(migrate) = &job.migrate {
        parts::migrate(b, migrate);
    }
    if let Some(periodic) = &job.periodic {
        b.block("periodic", &[], |b| {
            if !periodic.specs.is_empty() {
                b.list("crons", &periodic.specs);
            } else {
                b.text("cron", &periodic.spec);
            }
            b.opt_bool("enabled", periodic.enabled);
            b.flag("prohibit_overlap", periodic.prohibit_overlap);
            b.text("time_zone", &periodic.time_zone);
        });
    }
    if let Some(parameterized) = &job.parameterized_job {
        b.block("parameterized", &[], |b| {
            b.text("payload", &parameterized.payload);
            b.list("meta_required", &parameterized.meta_required);
            b.list("meta_optional", &parameterized.meta_optional);
        });
    }
    if let Some(multiregion) = &job.multiregion {
        b.block("multiregion", &[], |b| {
            if let Some(strategy) = &multiregion.strategy {
                b.block("strategy", &[], |b| {
                    b.int("max_parallel", strategy.max_parallel);
                    b.text("on_failure", &strategy.on_failure);
                });
            }
            for region in &multiregion.regions {
                b.block("region", &[&region.name], |b| {
                    b.opt_int("count", region.count);
                    b.list("datacenters", &region.datacenters);
                    b.text("node_pool", &region.node_pool);
                    b.string_map("meta", &region.meta);
                });
            }
        });
    }
    for group in &job.task_groups {
        b.block("group", &[&group.name], |b| group_body(b, group));
    }
}

fn group_body(b: &mut Body, group: &TaskGroup) {
    b.opt_int("count", group.count);
    b.duration("shutdown_delay", group.shutdown_delay);
    b.opt_duration(
        "stop_after_client_disconnect",
        group.stop_after_client_disconnect,
    );
    b.opt_duration("max_client_disconnect", group.max_client_disconnect);
    b.flag(
        "prevent_reschedule_on_lost",
        group.prevent_reschedule_on_lost,
    );
    b.string_map("meta", &group.meta);
    parts::constraints(b, &group.constraints);
    parts::affinities(b, &group.affinities);
    parts::spreads(b, &group.spreads);
    parts::networks(b, &group.networks);
    for (name, volume) in &group.volumes {
        b.block("volume", &[name], |b| {
            b.text("type", &volume.r#type);
            b.text("source", &volume.source);
            b.flag("read_only", volume.read_only);
            b.flag("sticky", volume.sticky);
            b.text("access_mode", &volume.access_mode);
            b.text("attachment_mode", &volume.attachment_mode);
            b.flag("per_alloc", volume.per_alloc);
            if let Some(options) = &volume.mount_options {
                b.block("mount_options", &[], |b| {
                    b.text("fs_type", &options.fs_type);
                    b.list("mount_flags", &options.mount_flags);
                });
            }
        });
    }
    parts::services(b, &group.services);
    if group.restart_policy != Default::default() {
        parts::restart(b, &group.restart_policy);
    }
    if let Some(reschedule) = &group.reschedule_policy {
        parts::reschedule(b, reschedule);
    }
    if let Some(update) = &group.update {
        parts::update(b, update);
    }
    if let Some(migrate) = &group.migrate {
        parts::migrate(b, migrate);
    }
    if let Some(disconnect) = &group.disconnect {
        b.block("disconnect", &[], |b| {
            b.opt_duration("lost_after", disconnect.lost_after);
            b.opt_bool("replace", disconnect.replace);
            b.opt_text("reconcile", disconnect.reconcile.as_ref());
            b.opt_duration("stop_on_client_after", disconnect.stop_on_client_after);
        });
    }
    let disk = &group.ephemeral_disk;
    if disk != &Default::default() {
        b.block("ephemeral_disk", &[], |b| {
            b.opt_bool("sticky", disk.sticky);
            b.opt_bool("migrate", disk.migrate);
            b.opt_int("size", disk.size_mb.map(|s| s.0));
        });
    }
    if let Some(consul) = &group.consul {
        parts::consul(b, consul);
    }
    if let Some(scaling) = &group.scaling {
        parts::scaling(b, &[], scaling);
    }
    for task in &group.tasks {
        b.block("task", &[&task.name], |b| task_body(b, task));
    }
}

fn task_body(b: &mut Body, task: &Task) {
    b.text("driver", &task.driver);
    b.text("user", &task.user);
    b.flag("leader", task.leader);
    b.text("kind", &task.kind);
    b.opt_duration("kill_timeout", task.kill_timeout);
    b.text("kill_signal", &task.kill_signal);
    b.duration("shutdown_delay", task.shutdown_delay);
    b.free_form("config", &task.config);
    b.string_map("env", &task.env);
    b.string_map("meta", &task.meta);
    if let Some(lifecycle) = &task.lifecycle {
        b.block("lifecycle", &[], |b| {
            b.text("hook", &lifecycle.hook);
            b.flag("sidecar", lifecycle.sidecar);
        });
    }
    parts::constraints(b, &task.constraints);
    parts::affinities(b, &task.affinities);
    parts::artifacts(b, &task.artifacts);
    parts::templates(b, &task.templates);
    if task.resources != Default::default() {
        parts::resources(b, &task.resources);
    }
    if task.restart_policy != Default::default() {
        parts::restart(b, &task.restart_policy);
    }
    let logs = &task.log_config;
    if logs != &Default::default() {
        b.block("logs", &[], |b| {
            b.opt_int("max_files", logs.max_files);
            b.opt_int("max_file_size", logs.max_file_size_mb);
            b.opt_bool("enabled", logs.enabled);
            b.flag("disabled", logs.disabled);
        });
    }
    parts::services(b, &task.services);
    if let Some(vault) = &task.vault {
        b.block("vault", &[], |b| {
            b.list("policies", &vault.policies);
            b.text("role", &vault.role);
            b.text("namespace", &vault.namespace);
            b.text("cluster", &vault.cluster);
            b.opt_bool("env", vault.env);
            b.flag("disable_file", vault.disable_file);
            b.opt_text("change_mode", vault.change_mode.as_ref());
            b.opt_text("change_signal", vault.change_signal.as_ref());
            b.flag("allow_token_expiration", vault.allow_token_expiration);
        });
    }
    if let Some(consul) = &task.consul {
        parts::consul(b, consul);
    }
    for mount in &task.volume_mounts {
        b.block("volume_mount", &[], |b| {
            b.text("volume", &mount.volume);
            b.text("destination", &mount.destination);
            b.flag("read_only", mount.read_only);
            b.opt_text("propagation_mode", mount.propagation_mode.as_ref());
            b.text("selinux_label", &mount.selinux_label);
        });
    }
    if let Some(payload) = &task.dispatch_payload {
        b.block("dispatch_payload", &[], |b| b.text("file", &payload.file));
    }
    if let Some(plugin) = &task.csi_plugin_config {
        b.block("csi_plugin", &[], |b| {
            b.text("id", &plugin.id);
            b.text("type", &plugin.r#type);
            b.text("mount_dir", &plugin.mount_dir);
            b.text("stage_publish_base_dir", &plugin.stage_publish_base_dir);
            b.duration("health_timeout", plugin.health_timeout);
        });
    }
    for identity in task.identity.iter().chain(&task.identities) {
        parts::identity(b, identity);
    }
    for policy in &task.scaling_policies {
        let label = match policy.r#type.as_str() {
            "vertical_mem" => "mem",
            _ => "cpu",
        };
        parts::scaling(b, &[label], policy);
    }
    for action in &task.actions {
        b.block("action", &[&action.name], |b| {
            b.text("command", &action.command);
            b.list("args", &action.args);
        });
    }
}
