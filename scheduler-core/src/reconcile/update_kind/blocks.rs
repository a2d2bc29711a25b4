//! Blocks that appear at both group and task level: `consul`, services and
//! the restart policy.

use super::Diff;
use super::Effect::{Destructive, InPlace};
use crate::model::{Consul, RestartPolicy, Service};
use std::collections::{BTreeMap, BTreeSet};

/// A `consul` block (group or task), as Nomad's `consulUpdated`: the
/// namespace, cluster and partition decide which Consul intentions and
/// tokens apply, and existing connections may no longer be valid, so they
/// are destructive. Cluster and partition count only when both sides set
/// the block (an absent block means the defaults).
pub(super) fn compare_consul(
    diff: &mut Diff,
    scope: &str,
    old: &Option<Consul>,
    new: &Option<Consul>,
) {
    let namespace = |consul: &Option<Consul>| {
        consul
            .as_ref()
            .map(|consul| consul.namespace.clone())
            .unwrap_or_default()
    };
    diff.check_value(
        Destructive,
        scope,
        "consul namespace",
        &namespace(old),
        &namespace(new),
    );
    match (old, new) {
        (Some(old), Some(new)) => {
            let Consul {
                namespace: _,
                cluster,
                partition,
            } = old;
            diff.check_value(Destructive, scope, "consul cluster", cluster, &new.cluster);
            diff.check_value(
                Destructive,
                scope,
                "consul partition",
                partition,
                &new.partition,
            );
        }
        _ => diff.check(InPlace, scope, "consul", old, new),
    }
}

/// Services (group or task): re-registered in place, except the parts of a
/// Connect service that the sidecar is built from (Nomad's
/// `connectServiceUpdated`). The `connect` block is opaque in our model, so
/// any change to it is destructive (Nomad lets sidecar tags and proxy
/// settings through in place; we cannot tell them apart: safe side), as is
/// adding or removing a Connect service.
pub(super) fn compare_services(diff: &mut Diff, scope: &str, old: &[Service], new: &[Service]) {
    let by_name = |services: &[Service]| -> BTreeMap<String, Service> {
        services
            .iter()
            .map(|service| (service.name.clone(), service.clone()))
            .collect()
    };
    let (old_by_name, new_by_name) = (by_name(old), by_name(new));
    let names: BTreeSet<&String> = old_by_name.keys().chain(new_by_name.keys()).collect();
    for name in names {
        let service_scope = format!("{scope}: service {name:?}");
        match (old_by_name.get(name), new_by_name.get(name)) {
            (Some(old), Some(new)) if old.connect.is_some() || new.connect.is_some() => {
                let what = &service_scope;
                if old.connect != new.connect {
                    diff.push(Destructive, format!("{what} connect changed"));
                }
                if old.port_label != new.port_label {
                    diff.push(Destructive, format!("{what} connect port changed"));
                }
                if old.cluster != new.cluster {
                    diff.push(Destructive, format!("{what} connect cluster changed"));
                }
            }
            (Some(old), None) if old.connect.is_some() => {
                diff.push(Destructive, format!("{service_scope} connect removed"));
            }
            (None, Some(new)) if new.connect.is_some() => {
                diff.push(Destructive, format!("{service_scope} connect added"));
            }
            _ => {}
        }
    }
    diff.check(InPlace, scope, "services", old, new);
}

/// A restart policy (group, or task with the group's merged in): the client
/// reads it when a task fails, so changes apply in place, except
/// `render_templates`, which the template hook reads when it is created.
pub(super) fn compare_restart(
    diff: &mut Diff,
    scope: &str,
    old: &RestartPolicy,
    new: &RestartPolicy,
) {
    let RestartPolicy {
        attempts,
        interval,
        delay,
        mode,
        render_templates,
    } = old;
    diff.check_value(
        Destructive,
        scope,
        "restart render_templates",
        &render_templates.unwrap_or(false),
        &new.render_templates.unwrap_or(false),
    );
    diff.check(
        InPlace,
        scope,
        "restart",
        &(attempts, interval, delay, mode),
        &(&new.attempts, &new.interval, &new.delay, &new.mode),
    );
}
