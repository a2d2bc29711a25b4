//! The fix-up pass of [`arb_job`](super::arb_job): cross-field and
//! job-type rules that independent strategies cannot see.

use crate::model::*;

/// Ties independently drawn parts together so the job obeys validation's
/// cross-field and job-type rules.
pub fn make_consistent(job: &mut Job) {
    let job_type = job.job_type.clone();
    let service = job_type == JobType::Service;
    let system = job_type == JobType::System;
    let batch = job_type == JobType::Batch;
    if system {
        job.affinities.clear();
        job.spreads.clear();
    }
    if !matches!(job_type, JobType::Service | JobType::System) {
        job.update = None;
    }
    if job_type.is_system_like() {
        job.reschedule = None;
    }
    if !service {
        job.migrate = None;
    }
    if !batch {
        job.periodic = None;
        job.parameterized_job = None;
    }
    if let Some(parameterized) = &mut job.parameterized_job {
        parameterized
            .meta_optional
            .retain(|k| !parameterized.meta_required.contains(k));
    }
    if system && let Some(update) = &mut job.update {
        update.canary = update.canary.map(|_| 0);
        update.auto_promote = update.auto_promote.map(|_| false);
    }

    let mut group_names = Vec::new();
    let mut statics = 20000;
    for group in &mut job.task_groups {
        unique_name(&mut group.name, &mut group_names);
        if system {
            group.count = Some(1);
            group.affinities.clear();
            group.spreads.clear();
            if let Some(update) = &mut group.update {
                update.canary = update.canary.map(|_| 0);
                update.auto_promote = update.auto_promote.map(|_| false);
            }
        }
        if let Some(scaling) = &mut group.scaling {
            let count = group.count.unwrap_or_else(|| scaling.min.unwrap_or(1));
            group.count = Some(count);
            scaling.min = scaling.min.map(|m| m.min(count));
            scaling.max = scaling.max.map(|m| m.max(count));
        }
        if !matches!(job_type, JobType::Service | JobType::System) {
            group.update = None;
        }
        if job_type.is_system_like() {
            group.reschedule_policy = None;
        }
        if !service {
            group.migrate = None;
        }
        if group.tasks.iter().any(|t| t.lifecycle.is_none()) {
            // Keep at least one main task.
        } else if let Some(task) = group.tasks.first_mut() {
            task.lifecycle = None;
        }

        // Ports: unique labels (ignoring case) and static values in the group.
        let mut labels: Vec<String> = Vec::new();
        let mut fix_ports = |networks: &mut Vec<NetworkResource>| {
            for network in networks.iter_mut() {
                for port in network.reserved_ports.iter_mut() {
                    unique_name(&mut port.label, &mut labels);
                    port.value = statics;
                    statics += 1;
                }
                for port in network.dynamic_ports.iter_mut() {
                    unique_name(&mut port.label, &mut labels);
                }
            }
        };
        fix_ports(&mut group.networks);
        let mut task_names = Vec::new();
        let mut leader = false;
        for task in &mut group.tasks {
            unique_name(&mut task.name, &mut task_names);
            fix_ports(&mut task.resources.networks);
            if system {
                task.affinities.clear();
            }
            if let Some(vault) = &mut task.vault {
                vault.policies.retain(|p| p != "root");
            }
            if task.leader && std::mem::replace(&mut leader, true) {
                task.leader = false;
            }
            let volumes: Vec<&String> = group.volumes.keys().collect();
            task.volume_mounts.retain(|_| !volumes.is_empty());
            for (i, mount) in task.volume_mounts.iter_mut().enumerate() {
                mount.volume = volumes[i % volumes.len()].clone();
            }
            let mut destinations = Vec::new();
            for template in &mut task.templates {
                let mut destination = template.dest_path.clone();
                unique_name(&mut destination, &mut destinations);
                template.dest_path = destination;
            }
        }

        let group_labels = port_labels(&group.networks);
        let task_names: Vec<String> = group.tasks.iter().map(|t| t.name.clone()).collect();
        for (i, service) in group.services.iter_mut().enumerate() {
            fix_service(service, &group_labels, Some(&task_names), i);
        }
        for task in &mut group.tasks {
            let mut labels = group_labels.clone();
            labels.extend(port_labels(&task.resources.networks));
            for (i, service) in task.services.iter_mut().enumerate() {
                fix_service(service, &labels, None, i);
            }
            if job.parameterized_job.is_some() && task.dispatch_payload.is_none() && task.leader {
                task.dispatch_payload = Some(DispatchPayloadConfig {
                    file: "input.json".to_owned(),
                });
            }
        }
    }
}

/// Makes `name` unique among `taken` (ignoring case) and records it.
fn unique_name(name: &mut String, taken: &mut Vec<String>) {
    let base = name.clone();
    let mut n = 1;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(name)) {
        n += 1;
        *name = format!("{base}{n}");
    }
    taken.push(name.clone());
}

fn port_labels(networks: &[NetworkResource]) -> Vec<String> {
    networks
        .iter()
        .flat_map(|n| n.ports().map(|p| p.label.clone()))
        .collect()
}

/// Points a service and its checks at existing ports and tasks, and keeps
/// check names, types and `on_update` consistent.
fn fix_service(
    service: &mut Service,
    ports: &[String],
    group_tasks: Option<&[String]>,
    index: usize,
) {
    service.port_label = ports
        .get(index % ports.len().max(1))
        .cloned()
        .unwrap_or_default();
    if !service.name.is_empty() {
        service.name = format!("{}-{index}", service.name);
    }
    if service.port_label.is_empty() && !matches!(service.address_mode.as_str(), "driver" | "alloc")
    {
        service.address_mode.clear();
        service.address.clear();
    }
    let nomad = service.provider == "nomad";
    if nomad {
        service.connect = None;
    }
    let has_restart =
        service.check_restart.is_some() || service.checks.iter().any(|c| c.check_restart.is_some());
    if has_restart && service.on_update != "require_healthy" {
        service.on_update.clear();
    }
    if let Some(tasks) = group_tasks {
        service.task_name = tasks.get(index).cloned().unwrap_or_default();
    }
    let port = service.port_label.clone();
    if nomad && port.is_empty() {
        // Nomad's checks are all network checks: without a port, none.
        service.checks.clear();
    }
    let connect = service.connect.is_some();
    for (i, check) in service.checks.iter_mut().enumerate() {
        check.name = format!("check-{i}");
        let needs_port = matches!(check.r#type.as_str(), "http" | "tcp" | "grpc");
        let retype = if nomad && !matches!(check.r#type.as_str(), "http" | "tcp") {
            Some("tcp")
        } else if needs_port && port.is_empty() && !connect {
            Some("ttl")
        } else {
            None
        };
        if let Some(kind) = retype {
            check.r#type = kind.to_owned();
            check.path.clear();
            check.header.clear();
            check.method.clear();
            check.protocol.clear();
            check.command.clear();
            check.args.clear();
        }
        if check.r#type == "script" && service.task_name.is_empty() {
            check.task_name = group_tasks
                .and_then(|t| t.first())
                .cloned()
                .unwrap_or_default();
        }
        if has_restart {
            check.on_update.clear();
        }
    }
}

/// Whether `key` is an HCL identifier (Connect settings are a block, whose
/// top-level keys must be attribute or block names).
pub(crate) fn is_identifier(key: &str) -> bool {
    let mut chars = key.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}
