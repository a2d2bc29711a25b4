//! Group-level fields other than the tasks and meta.

use super::Diff;
use super::Effect::{Destructive, InPlace};
use super::blocks::{compare_consul, compare_restart, compare_services};
use super::network::compare_networks;
use crate::model::{EphemeralDisk, TaskGroup};

/// Group-level fields other than the tasks and meta.
pub(super) fn compare_group(diff: &mut Diff, old: &TaskGroup, new: &TaskGroup) {
    let TaskGroup {
        name,
        // Count changes place or stop allocations; the reconciler does that.
        count: _,
        constraints,
        affinities,
        // Compared task by task in `compare_tasks`.
        tasks: _,
        spreads,
        volumes,
        restart_policy,
        disconnect,
        reschedule_policy,
        ephemeral_disk,
        update,
        migrate,
        networks,
        // Merged with job and task meta in `compare_meta`.
        meta: _,
        services,
        shutdown_delay,
        stop_after_client_disconnect,
        max_client_disconnect,
        scaling,
        consul,
        prevent_reschedule_on_lost,
    } = old;
    let scope = "group";
    // The caller matches groups by name; a rename is a different group
    // (`NOMAD_GROUP_NAME` changes), so be safe.
    diff.check_value(Destructive, scope, "name", name, &new.name);
    // Networks and volumes are set up before the tasks start; no driver can
    // change them under a running task.
    compare_networks(diff, scope, networks, &new.networks);
    diff.check(Destructive, scope, "volumes", volumes, &new.volumes);
    compare_ephemeral_disk(diff, scope, ephemeral_disk, &new.ephemeral_disk);
    compare_consul(diff, scope, consul, &new.consul);
    compare_services(diff, scope, services, &new.services);
    compare_restart(diff, scope, restart_policy, &new.restart_policy);

    // Placement-only rules: the allocation stays if its node still fits.
    diff.check(InPlace, scope, "constraints", constraints, &new.constraints);
    diff.check(InPlace, scope, "affinities", affinities, &new.affinities);
    diff.check(InPlace, scope, "spreads", spreads, &new.spreads);
    // Policies the servers and the client read when they act, not at start.
    diff.check(InPlace, scope, "disconnect", disconnect, &new.disconnect);
    diff.check(
        InPlace,
        scope,
        "reschedule",
        reschedule_policy,
        &new.reschedule_policy,
    );
    diff.check(InPlace, scope, "update", update, &new.update);
    diff.check(InPlace, scope, "migrate", migrate, &new.migrate);
    diff.check(InPlace, scope, "scaling", scaling, &new.scaling);
    diff.check_value(
        InPlace,
        scope,
        "shutdown_delay",
        shutdown_delay,
        &new.shutdown_delay,
    );
    diff.check_value(
        InPlace,
        scope,
        "stop_after_client_disconnect",
        stop_after_client_disconnect,
        &new.stop_after_client_disconnect,
    );
    diff.check_value(
        InPlace,
        scope,
        "max_client_disconnect",
        max_client_disconnect,
        &new.max_client_disconnect,
    );
    diff.check_value(
        InPlace,
        scope,
        "prevent_reschedule_on_lost",
        prevent_reschedule_on_lost,
        &new.prevent_reschedule_on_lost,
    );
}

/// The group's scratch disk: it lives on the node, so changing its size or
/// how it follows replacements needs a new allocation.
fn compare_ephemeral_disk(diff: &mut Diff, scope: &str, old: &EphemeralDisk, new: &EphemeralDisk) {
    let EphemeralDisk {
        sticky: _,
        migrate: _,
        size_mb: _,
    } = old;
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk size",
        &old.size_mb(),
        &new.size_mb(),
    );
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk sticky",
        &old.sticky(),
        &new.sticky(),
    );
    diff.check_value(
        Destructive,
        scope,
        "ephemeral_disk migrate",
        &old.migrate(),
        &new.migrate(),
    );
}
