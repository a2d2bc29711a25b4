//! Networks and ports of a group and its tasks; services and their checks.

use super::Problems;
use crate::model::{
    Duration, FieldPath, NetworkResource, Port, Service, ServiceCheck, Task, TaskGroup,
};
use std::collections::{BTreeMap, BTreeSet};

/// Whose network a port belongs to, for messages.
fn owner_name(task: Option<&str>) -> String {
    match task {
        None => "the group network".to_owned(),
        Some(task) => format!("task {task:?}"),
    }
}

/// A port seen earlier in the group.
struct SeenPort {
    label: String,
    owner: String,
}

/// Checks the group's and its tasks' network blocks: at most one per group
/// and per task, valid and unique port labels, static ports in range and not
/// reserved twice, `to` in range.
pub(super) fn networks(group: &TaskGroup, group_path: &FieldPath, out: &mut Problems) {
    let mut labels: BTreeMap<String, SeenPort> = BTreeMap::new();
    let mut statics: BTreeMap<(String, i64), SeenPort> = BTreeMap::new();
    let mut check = |networks: &[NetworkResource],
                     parent: &FieldPath,
                     task: Option<&str>,
                     out: &mut Problems| {
        for (index, network) in networks.iter().enumerate() {
            let network_path = parent.indexed("network", "Networks", index);
            if index > 0 {
                let place = if task.is_some() { "a task" } else { "a group" };
                out.error(
                    network_path.clone(),
                    format!("only one network block is allowed in {place}: move these ports into the first network block"),
                );
            }
            for port in network.reserved_ports.iter() {
                port_rules(
                    port,
                    true,
                    &network_path,
                    task,
                    &mut labels,
                    &mut statics,
                    out,
                );
            }
            for port in network.dynamic_ports.iter() {
                port_rules(
                    port,
                    false,
                    &network_path,
                    task,
                    &mut labels,
                    &mut statics,
                    out,
                );
            }
        }
    };
    check(&group.networks, group_path, None, out);
    for (index, task) in group.tasks.iter().enumerate() {
        let resources_path = group_path
            .labeled("task", "Tasks", &task.name, Some(index))
            .field("resources", "Resources");
        check(
            &task.resources.networks,
            &resources_path,
            Some(&task.name),
            out,
        );
    }
}

fn port_rules(
    port: &Port,
    reserved: bool,
    network_path: &FieldPath,
    task: Option<&str>,
    labels: &mut BTreeMap<String, SeenPort>,
    statics: &mut BTreeMap<(String, i64), SeenPort>,
    out: &mut Problems,
) {
    let path = network_path.labeled("port", "Ports", &port.label, None);
    let owner = owner_name(task);
    let label = &port.label;
    if label.is_empty()
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        out.error(
            path.clone(),
            format!(
                "port label {label:?} is invalid: use only letters, digits, underscores and dashes"
            ),
        );
    }
    let key = label.to_ascii_lowercase();
    match labels.get(&key) {
        Some(seen) => out.error(
            path.clone(),
            format!(
                "port {label:?} of {owner} clashes with port {:?} of {}: port labels must be unique within a group (ignoring case), rename one of them",
                seen.label, seen.owner
            ),
        ),
        None => {
            labels.insert(
                key,
                SeenPort {
                    label: label.clone(),
                    owner: owner.clone(),
                },
            );
        }
    }
    if reserved {
        let value = port.value;
        if !(1..=65535).contains(&value) {
            out.error(
                path.field("static", "Value"),
                format!("static port {value} of port {label:?} is out of range: it must be between 1 and 65535"),
            );
        } else {
            let host_network = if port.host_network.is_empty() {
                "default".to_owned()
            } else {
                port.host_network.clone()
            };
            match statics.get(&(host_network.clone(), value)) {
                Some(seen) if !port.ignore_collision => out.error(
                    path.field("static", "Value"),
                    format!(
                        "static port {value} of port {label:?} is already reserved by port {:?} of {}: give one of them another port",
                        seen.label, seen.owner
                    ),
                ),
                Some(_) => {}
                None => {
                    statics.insert(
                        (host_network, value),
                        SeenPort {
                            label: label.clone(),
                            owner,
                        },
                    );
                }
            }
        }
    }
    if !(-1..=65535).contains(&port.to) {
        out.error(
            path.field("to", "To"),
            format!(
                "port {label:?} maps to {}, which is out of range: to must be between -1 and 65535",
                port.to
            ),
        );
    }
}

/// Every port label of some networks.
fn port_labels<'a>(networks: &'a [NetworkResource], into: &mut BTreeSet<&'a str>) {
    for network in networks {
        for port in network.ports() {
            into.insert(port.label.as_str());
        }
    }
}

/// The group's own services: they may use the group network's ports, and
/// their checks may name the group's tasks.
pub(super) fn group_services(group: &TaskGroup, group_path: &FieldPath, out: &mut Problems) {
    let mut ports = BTreeSet::new();
    port_labels(&group.networks, &mut ports);
    for (index, service) in group.services.iter().enumerate() {
        let path = group_path.indexed("service", "Services", index);
        service_rules(service, &path, &ports, "the group's network block", out);
        if !service.task_name.is_empty() && group.lookup_task(&service.task_name).is_none() {
            out.error(
                path.field("task", "TaskName"),
                format!(
                    "task {:?} does not exist in this group: name one of the group's tasks",
                    service.task_name
                ),
            );
        }
        for (check_index, check) in service.checks.iter().enumerate() {
            let check_path = path.indexed("check", "Checks", check_index);
            if check.task_name.is_empty() {
                if service.task_name.is_empty() && check.r#type.eq_ignore_ascii_case("script") {
                    out.error(
                        check_path.clone(),
                        "a script check of a group service needs a task to run in: set task on the check or on the service",
                    );
                }
            } else if group.lookup_task(&check.task_name).is_none() {
                out.error(
                    check_path.field("task", "TaskName"),
                    format!(
                        "task {:?} does not exist in this group: name one of the group's tasks",
                        check.task_name
                    ),
                );
            }
        }
    }
}

/// A task's services: they may use the group's and the task's ports.
pub(super) fn task_services(
    group: &TaskGroup,
    task: &Task,
    task_path: &FieldPath,
    out: &mut Problems,
) {
    let mut ports = BTreeSet::new();
    port_labels(&group.networks, &mut ports);
    port_labels(&task.resources.networks, &mut ports);
    for (index, service) in task.services.iter().enumerate() {
        let path = task_path.indexed("service", "Services", index);
        service_rules(
            service,
            &path,
            &ports,
            "the group's or the task's network block",
            out,
        );
    }
}

/// Whether a name is a valid service name (RFC 1123 label: letters, digits
/// and dashes, starting and ending with a letter or digit, at most 63).
fn valid_service_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn is_numeric(label: &str) -> bool {
    !label.is_empty() && label.bytes().all(|b| b.is_ascii_digit())
}

fn service_rules(
    service: &Service,
    path: &FieldPath,
    ports: &BTreeSet<&str>,
    where_ports: &str,
    out: &mut Problems,
) {
    let name = &service.name;
    if !name.contains("${") && !valid_service_name(name) {
        out.error(
            path.field("name", "Name"),
            format!(
                "service name {name:?} is invalid: use letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters"
            ),
        );
    }
    let address_mode = service.address_mode.as_str();
    match address_mode {
        "" | "auto" => {}
        "host" | "driver" | "alloc" | "alloc_ipv6" => {
            if !service.address.is_empty() {
                out.error(
                    path.field("address", "Address"),
                    format!("address is only allowed with address_mode \"auto\", not {address_mode:?}: remove one of them"),
                );
            }
        }
        other => out.error(
            path.field("address_mode", "AddressMode"),
            format!(
                "address_mode {other:?} is unknown: use auto, host, driver, alloc or alloc_ipv6"
            ),
        ),
    }
    on_update(
        &service.on_update,
        &path.field("on_update", "OnUpdate"),
        out,
    );
    let provider = service.provider.as_str();
    if !matches!(provider, "" | "consul" | "nomad") {
        out.error(
            path.field("provider", "Provider"),
            format!("provider {provider:?} is unknown: use consul or nomad"),
        );
    }
    let port_free = matches!(address_mode, "driver" | "alloc" | "alloc_ipv6");
    let label = service.port_label.as_str();
    if !label.is_empty()
        && !label.contains("${")
        && !is_numeric(label)
        && !port_free
        && !ports.contains(label)
    {
        out.error(
            path.field("port", "PortLabel"),
            format!("port {label:?} is not defined: add port {label:?} to {where_ports}, or fix the label"),
        );
    }
    // Checks inherit the service's check_restart: what is wrong with it is
    // reported once, at the service.
    let mut service_restart = Problems::default();
    if let Some(restart) = &service.check_restart {
        let restart_path = path.field("check_restart", "CheckRestart");
        check_restart_rules(
            restart.limit,
            restart.grace(),
            &restart_path,
            &mut service_restart,
        );
    }
    let service_restart_messages = service_restart.messages();
    out.0.extend(service_restart.0);
    for (index, check) in service.checks.iter().enumerate() {
        let check_path = path.indexed("check", "Checks", index);
        if service.checks[..index]
            .iter()
            .any(|earlier| earlier.name == check.name)
        {
            out.error(
                check_path.field("name", "Name"),
                format!(
                    "check name {:?} is used twice in this service: give each check its own name",
                    check.name
                ),
            );
        }
        let mut local = Problems::default();
        check_rules(service, check, &check_path, ports, where_ports, &mut local);
        out.extend_unreported(local, &service_restart_messages);
    }
}

fn on_update(value: &str, path: &FieldPath, out: &mut Problems) {
    if !matches!(value, "" | "require_healthy" | "ignore_warnings" | "ignore") {
        out.error(
            path.clone(),
            format!(
                "on_update {value:?} is unknown: use require_healthy, ignore_warnings or ignore"
            ),
        );
    }
}

fn check_restart_rules(limit: i64, grace: Duration, path: &FieldPath, out: &mut Problems) {
    if limit < 0 {
        out.error(
            path.field("limit", "Limit"),
            format!("check_restart limit {limit} is negative: use 0 (never restart) or more"),
        );
    }
    if grace < Duration::ZERO {
        out.error(
            path.field("grace", "Grace"),
            format!("check_restart grace {grace} is negative: use a duration of 0 or more"),
        );
    }
}

fn check_rules(
    service: &Service,
    check: &ServiceCheck,
    path: &FieldPath,
    ports: &BTreeSet<&str>,
    where_ports: &str,
    out: &mut Problems,
) {
    let kind = check.r#type.to_ascii_lowercase();
    let type_path = path.field("type", "Type");
    let allowed: &[&str] = if service.provider == "nomad" {
        &["http", "tcp"]
    } else {
        &["http", "tcp", "grpc", "script", "ttl"]
    };
    if !allowed.contains(&kind.as_str()) {
        out.error(
            type_path,
            format!(
                "check type {:?} is unknown for {} services: use {}",
                check.r#type,
                provider_name(service),
                allowed.join(", ")
            ),
        );
        return;
    }
    match kind.as_str() {
        "http" => {
            if check.path.is_empty() {
                out.error(
                    path.field("path", "Path"),
                    "an http check needs a path: set path, as in path = \"/health\"",
                );
            } else if check.path.contains("://") {
                out.error(
                    path.field("path", "Path"),
                    format!("path {:?} must be relative to the service address: drop the scheme and host", check.path),
                );
            }
        }
        "script" if check.command.is_empty() => {
            out.error(
                path.field("command", "Command"),
                "a script check needs a command: set command to the program to run",
            );
        }
        _ => {}
    }
    if kind != "ttl" {
        let minimum = Duration::from_secs(1);
        for (value, hcl, json) in [
            (check.interval, "interval", "Interval"),
            (check.timeout, "timeout", "Timeout"),
        ] {
            if value.is_zero() {
                out.error(
                    path.field(hcl, json),
                    format!("the check has no {hcl}: set {hcl}, as in {hcl} = \"10s\""),
                );
            } else if value < minimum {
                out.error(
                    path.field(hcl, json),
                    format!("{hcl} {value} is too short: a check {hcl} must be at least {minimum}"),
                );
            }
        }
    }
    let status = check.initial_status.as_str();
    if !matches!(status, "" | "passing" | "warning" | "critical") {
        out.error(
            path.field("initial_status", "InitialStatus"),
            format!("initial_status {status:?} is unknown: use passing, warning or critical"),
        );
    }
    let address_mode = check.address_mode.as_str();
    if !matches!(
        address_mode,
        "" | "host" | "driver" | "alloc" | "alloc_ipv6"
    ) {
        out.error(
            path.field("address_mode", "AddressMode"),
            format!("check address_mode {address_mode:?} is not allowed: use host, driver, alloc or alloc_ipv6"),
        );
    }
    on_update(&check.on_update, &path.field("on_update", "OnUpdate"), out);
    if let Some(restart) = &check.check_restart {
        if check.on_update == "ignore" {
            out.error(
                path.field("on_update", "OnUpdate"),
                "on_update \"ignore\" cannot be combined with check_restart: remove one of them",
            );
        } else if check.on_update == "ignore_warnings" && !restart.ignore_warnings {
            out.error(
                path.field("on_update", "OnUpdate"),
                "on_update \"ignore_warnings\" needs check_restart to ignore warnings too: set ignore_warnings = true in check_restart",
            );
        }
        check_restart_rules(
            restart.limit,
            restart.grace(),
            &path.field("check_restart", "CheckRestart"),
            out,
        );
    }
    if matches!(kind.as_str(), "http" | "tcp" | "grpc") {
        check_port(service, check, &kind, path, ports, where_ports, out);
    }
}

fn provider_name(service: &Service) -> &str {
    if service.provider.is_empty() {
        "consul"
    } else {
        &service.provider
    }
}

/// The port a network check connects to must exist.
fn check_port(
    service: &Service,
    check: &ServiceCheck,
    kind: &str,
    path: &FieldPath,
    ports: &BTreeSet<&str>,
    where_ports: &str,
    out: &mut Problems,
) {
    let port_path = path.field("port", "PortLabel");
    let label = if check.port_label.is_empty() {
        service.port_label.as_str()
    } else {
        check.port_label.as_str()
    };
    if label.is_empty() {
        if service.connect.is_none() {
            out.error(
                port_path,
                format!("a {kind} check needs a port: set port on the check or on its service"),
            );
        }
        return;
    }
    if label.contains("${") {
        return;
    }
    // A numeric port is a port number, not a label (Nomad's Connect jobs
    // check a group service's numeric port through the sidecar).
    if is_numeric(label) {
        return;
    }
    let port_free = matches!(
        check.address_mode.as_str(),
        "driver" | "alloc" | "alloc_ipv6"
    ) || matches!(
        service.address_mode.as_str(),
        "driver" | "alloc" | "alloc_ipv6"
    );
    // A label inherited from the service was already checked there.
    let inherited = check.port_label.is_empty();
    if !port_free && !inherited && !ports.contains(label) {
        out.error(
            port_path,
            format!("port {label:?} is not defined: add port {label:?} to {where_ports}, or fix the label"),
        );
    }
}
