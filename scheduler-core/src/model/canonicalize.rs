//! Canonicalisation: filling a job's unset fields with Nomad's defaults.
//!
//! Nomad applies defaults in two places, the API client's
//! `Job.Canonicalize` and the server's `structs.Job.Canonicalize`; this is
//! both in one step, so a job read from HCL or from API JSON ends up the same
//! as Nomad would store it. It is idempotent: canonicalising twice gives the
//! same job as once.

use crate::model::constraint::{Affinity, Spread};
use crate::model::job::{Job, JobType, MultiregionStrategy};
use crate::model::policies::{MigrateStrategy, ReschedulePolicy, RestartPolicy, UpdateStrategy};
use crate::model::task_extras::Consul;
use crate::model::task_group::TaskGroup;

impl Job {
    /// Fills every unset field with Nomad's default, in place.
    ///
    /// Job: name = id, namespace `default`, region `global`, node pool
    /// `default`, datacenters `["*"]`, priority 50; periodic enabled, spec
    /// type `cron`, time zone `UTC`; parameterized payload `optional`;
    /// multiregion strategy and region count 1; affinity and spread weight
    /// 50. Service jobs without an `update` block get the default update
    /// strategy (as in Nomad, which gives every service job deployments).
    ///
    /// Group: count 1 (or the scaling minimum); scaling enabled, type
    /// `horizontal`, min = count; ephemeral disk 300 MiB, not sticky, no
    /// migration; Consul cluster `default` with the job's Consul namespace;
    /// the job's `update` merged under the group's (and filled with stagger
    /// 30s, max_parallel 1, health_check `checks`, min_healthy_time 10s,
    /// healthy_deadline 5m, progress_deadline 10m, no auto revert/promote, no
    /// canaries); the job's `reschedule` merged under the group's and filled
    /// with the job type's default (service: unlimited, 30s exponential delay
    /// up to 1h; batch: 1 attempt in 24h, 5s constant delay; none for system
    /// and sysbatch); the job's `migrate` merged under the group's, service
    /// groups get one, filled with max_parallel 1, `checks`, 10s, 5m; the
    /// restart policy's unset fields from the job type's default (service and
    /// system: 2 attempts in 30m; batch and sysbatch: 3 in 24h; delay 15s,
    /// mode `fail`); network mode `host` and port host network `default`;
    /// disconnect `replace` and `reconcile` defaults, taking the deprecated
    /// group fields into account.
    ///
    /// Task: resources cpu 100 MHz (0 when `cores` is set) and memory 300
    /// MiB, device count 1; kill timeout 5s; logs 10 files of 10 MiB; the
    /// group's restart policy under the task's; artifact, template, Vault,
    /// volume mount and CSI plugin defaults; an empty lifecycle hook is
    /// removed.
    ///
    /// Services (group and task): name `<job>-<group>[-<task>]`, address mode
    /// `auto`, on_update `require_healthy`, provider `consul`, cluster
    /// `default`; each check gets the service's check_restart (grace 1s), a
    /// name, the service's on_update and its task.
    pub fn canonicalize(&mut self) {
        if self.name.is_empty() {
            self.name = self.id.as_str().to_owned();
        }
        set_if_empty(&mut self.namespace, "default");
        set_if_empty(&mut self.region, "global");
        set_if_empty(&mut self.node_pool, "default");
        if self.datacenters.is_empty() {
            self.datacenters = vec!["*".to_owned()];
        }
        self.priority
            .get_or_insert(crate::model::job::DEFAULT_PRIORITY);

        if let Some(periodic) = &mut self.periodic {
            periodic.enabled.get_or_insert(true);
            set_if_empty(&mut periodic.spec_type, "cron");
            set_if_empty(&mut periodic.time_zone, "UTC");
        }
        if let Some(parameterized) = &mut self.parameterized_job {
            set_if_empty(&mut parameterized.payload, "optional");
        }
        if let Some(multiregion) = &mut self.multiregion {
            multiregion
                .strategy
                .get_or_insert_with(MultiregionStrategy::default);
            for region in &mut multiregion.regions {
                region.count.get_or_insert(1);
            }
        }
        match &mut self.update {
            Some(update) => update.canonicalize(),
            None if self.job_type == JobType::Service => {
                self.update = Some(UpdateStrategy::defaults())
            }
            None => {}
        }
        fill_weights(&mut self.affinities, &mut self.spreads);

        let mut groups = std::mem::take(&mut self.task_groups);
        for group in &mut groups {
            group.canonicalize(self);
        }
        self.task_groups = groups;
    }
}

impl TaskGroup {
    /// Fills the group's defaults (and its tasks' and services') within `job`,
    /// whose own fields are already canonical.
    fn canonicalize(&mut self, job: &Job) {
        let job_type = &job.job_type;

        let mut count = self.count();
        if *job_type == JobType::System && count == 0 {
            count = 1;
        }
        self.count = Some(count);
        if let Some(scaling) = &mut self.scaling {
            scaling.enabled.get_or_insert(true);
            scaling.min.get_or_insert(count);
            set_if_empty(&mut scaling.r#type, "horizontal");
        }

        self.ephemeral_disk.canonicalize();

        let consul = self.consul.get_or_insert_with(Consul::default);
        if consul.namespace.is_empty() {
            consul.namespace.clone_from(&job.consul_namespace);
        }
        consul.canonicalize();

        self.update = match (&job.update, self.update.take()) {
            (Some(job_update), Some(group_update)) => {
                let mut merged = job_update.clone();
                merged.merge(&group_update);
                Some(merged)
            }
            (Some(job_update), None) if !job_update.is_empty() => Some(job_update.clone()),
            (_, group_update) => group_update,
        };
        if let Some(update) = &mut self.update {
            update.canonicalize();
        }

        self.reschedule_policy = merge_under(
            &job.reschedule,
            self.reschedule_policy.take(),
            ReschedulePolicy::merge,
        )
        .or_else(|| ReschedulePolicy::defaults_for(job_type));
        if let Some(reschedule) = &mut self.reschedule_policy {
            let defaults =
                ReschedulePolicy::defaults_for(job_type).unwrap_or_else(ReschedulePolicy::zero);
            reschedule.fill_from(&defaults);
        }

        self.migrate = merge_under(&job.migrate, self.migrate.take(), MigrateStrategy::merge);
        if self.migrate.is_none() && *job_type == JobType::Service {
            self.migrate = Some(MigrateStrategy::default());
        }
        if let Some(migrate) = &mut self.migrate {
            migrate.canonicalize();
        }

        let mut restart = RestartPolicy::defaults_for(job_type);
        restart.merge(&self.restart_policy);
        self.restart_policy = restart;

        for task in &mut self.tasks {
            task.canonicalize(&job.name, &self.name, &self.restart_policy);
        }
        fill_weights(&mut self.affinities, &mut self.spreads);
        for network in &mut self.networks {
            network.canonicalize();
        }
        for service in &mut self.services {
            service.canonicalize(&job.name, &self.name, None);
        }

        if let Some(disconnect) = &mut self.disconnect {
            if disconnect.lost_after.is_none() {
                disconnect.lost_after = self.max_client_disconnect;
            }
            if disconnect.stop_on_client_after.is_none() {
                disconnect.stop_on_client_after = self.stop_after_client_disconnect;
            }
            disconnect
                .replace
                .get_or_insert(!self.prevent_reschedule_on_lost);
            disconnect
                .reconcile
                .get_or_insert_with(|| "best_score".to_owned());
        }
    }
}

/// A job-level policy with the group-level one laid over it: the group's
/// fields win, the job's fill the rest; either alone is taken as is.
fn merge_under<T: Clone>(job: &Option<T>, group: Option<T>, merge: fn(&mut T, &T)) -> Option<T> {
    match (job, group) {
        (Some(job), Some(group)) => {
            let mut merged = job.clone();
            merge(&mut merged, &group);
            Some(merged)
        }
        (Some(job), None) => Some(job.clone()),
        (None, group) => group,
    }
}

fn set_if_empty(field: &mut String, default: &str) {
    if field.is_empty() {
        *field = default.to_owned();
    }
}

fn fill_weights(affinities: &mut [Affinity], spreads: &mut [Spread]) {
    for affinity in affinities {
        affinity.weight = Some(affinity.weight());
    }
    for spread in spreads {
        spread.weight = Some(spread.weight());
    }
}
