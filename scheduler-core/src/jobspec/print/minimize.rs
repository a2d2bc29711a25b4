//! Dropping what canonicalisation would fill in anyway, so a printed job
//! reads like the file a person would write (no `logs` block holding the
//! defaults, no `migrate` block a service group gets by itself).
//!
//! Rather than restating Nomad's defaults here, every candidate is tested:
//! the field is cleared (set to what the decoder gives when it is absent),
//! the result is canonicalised, and the clearing is kept only when that
//! gives back the original. Clearings are tried one after the other on the
//! accumulated result, so the printed job always canonicalises to the job
//! that was printed, whatever the defaults are. A job that is not canonical
//! keeps every field.

use crate::model::{Job, NetworkResource, Service, Task, TaskGroup};

/// Clears one field of a `T`.
type Clear<T> = Box<dyn Fn(&mut T)>;

/// Keeps each clearing of `current` whose canonical form is still `target`.
fn trim<T: Clone + PartialEq>(
    current: &mut T,
    target: &T,
    canon: impl Fn(&mut T),
    clears: Vec<Clear<T>>,
) {
    for clear in clears {
        let mut trial = current.clone();
        clear(&mut trial);
        canon(&mut trial);
        if trial == *target {
            clear(current);
        }
    }
}

/// The smallest job (in the sense above) that canonicalises to `job`.
pub fn minimize(job: &Job) -> Job {
    // Job-level fields are tried on the job without its groups, which is
    // cheap; the groups, complete as they are, do not depend on them, and
    // one final check with the groups confirms it (else nothing is dropped).
    let mut target = job.clone();
    target.task_groups.clear();
    let mut header = target.clone();
    trim(&mut header, &target, Job::canonicalize, job_clears(job));
    let mut check = header.clone();
    check.task_groups.clone_from(&job.task_groups);
    check.canonicalize();
    if check != *job {
        header = target;
    }

    // Group fields are tried on the group without its tasks, in a job that
    // is the trimmed header; the group's canonical form does not depend on
    // its tasks.
    let mut out = header.clone();
    for original in &job.task_groups {
        let mut trimmed = original.clone();
        let tasks = std::mem::take(&mut trimmed.tasks);
        let target = trimmed.clone();
        let canon = |g: &mut TaskGroup| {
            let mut mini = header.clone();
            mini.task_groups = vec![std::mem::take(g)];
            mini.canonicalize();
            *g = mini.task_groups.pop().unwrap_or_default();
        };
        trim(&mut trimmed, &target, canon, group_clears(original));

        // Task fields are tried with the group's canonical restart policy,
        // which the trimmed group still canonicalises to. Free-form maps are
        // never defaulted: they are set aside during the trials.
        for (original_task, task) in original.tasks.iter().zip(tasks) {
            let mut trimmed_task = task;
            let config = std::mem::take(&mut trimmed_task.config);
            let env = std::mem::take(&mut trimmed_task.env);
            let meta = std::mem::take(&mut trimmed_task.meta);
            let mut target = original_task.clone();
            (target.config, target.env, target.meta) = Default::default();
            let canon =
                |t: &mut Task| t.canonicalize(&job.name, &original.name, &original.restart_policy);
            trim(
                &mut trimmed_task,
                &target,
                canon,
                task_clears(original_task),
            );
            (trimmed_task.config, trimmed_task.env, trimmed_task.meta) = (config, env, meta);
            trimmed.tasks.push(trimmed_task);
        }
        out.task_groups.push(trimmed);
    }
    out
}

/// Adds a clearing to `v` (taking `v` first lets the closure's argument
/// type be inferred).
fn add<T>(v: &mut Vec<Clear<T>>, f: impl Fn(&mut T) + 'static) {
    v.push(Box::new(f));
}

/// Adds a clearing per `field = value` of the `Option` struct at `$place`.
macro_rules! in_option {
    ($v:expr, |$x:ident| $place:expr, $($field:ident = $value:expr),+ $(,)?) => {
        $(add(&mut $v, move |$x| {
            if let Some(p) = &mut $place {
                p.$field = $value;
            }
        });)+
    };
}

/// Adds a clearing per `place = value`.
macro_rules! set {
    ($v:expr, |$x:ident| $($place:expr => $value:expr),+ $(,)?) => {
        $(add(&mut $v, move |$x| $place = $value);)+
    };
}

fn job_clears(job: &Job) -> Vec<Clear<Job>> {
    let mut v: Vec<Clear<Job>> = Vec::new();
    set!(v, |j| j.namespace => String::new(), j.region => String::new(), j.node_pool => String::new(),
        j.datacenters => Vec::new(), j.priority => None, j.update => None);
    in_option!(
        v,
        |j| j.update,
        stagger = None,
        max_parallel = None,
        health_check = None,
        min_healthy_time = None,
        healthy_deadline = None,
        progress_deadline = None,
        auto_revert = None,
        auto_promote = None,
        canary = None
    );
    in_option!(v, |j| j.periodic, enabled = None, time_zone = String::new());
    in_option!(v, |j| j.parameterized_job, payload = String::new());
    in_option!(v, |j| j.multiregion, strategy = None);
    for i in 0..job.multiregion.as_ref().map_or(0, |m| m.regions.len()) {
        in_option!(
            v,
            |j| j.multiregion.as_mut().map(|m| &mut m.regions[i]),
            count = None
        );
    }
    for i in 0..job.affinities.len() {
        set!(v, |j| j.affinities[i].weight => None);
    }
    for i in 0..job.spreads.len() {
        set!(v, |j| j.spreads[i].weight => None);
    }
    v
}

fn group_clears(group: &TaskGroup) -> Vec<Clear<TaskGroup>> {
    let mut v: Vec<Clear<TaskGroup>> = Vec::new();
    set!(v, |g| g.count => None);
    in_option!(v, |g| g.scaling, enabled = None, min = None);
    set!(v, |g| g.ephemeral_disk.sticky => None, g.ephemeral_disk.migrate => None,
        g.ephemeral_disk.size_mb => None, g.consul => None);
    in_option!(
        v,
        |g| g.consul,
        namespace = String::new(),
        cluster = String::new()
    );
    set!(v, |g| g.update => None);
    in_option!(
        v,
        |g| g.update,
        stagger = None,
        max_parallel = None,
        health_check = None,
        min_healthy_time = None,
        healthy_deadline = None,
        progress_deadline = None,
        auto_revert = None,
        auto_promote = None,
        canary = None
    );
    set!(v, |g| g.reschedule_policy => None);
    in_option!(
        v,
        |g| g.reschedule_policy,
        attempts = None,
        interval = None,
        delay = None,
        delay_function = None,
        max_delay = None,
        unlimited = None
    );
    set!(v, |g| g.migrate => None);
    in_option!(
        v,
        |g| g.migrate,
        max_parallel = None,
        health_check = None,
        min_healthy_time = None,
        healthy_deadline = None
    );
    set!(v, |g| g.restart_policy => Default::default(), g.restart_policy.attempts => None,
        g.restart_policy.interval => None, g.restart_policy.delay => None,
        g.restart_policy.mode => None, g.restart_policy.render_templates => None);
    in_option!(
        v,
        |g| g.disconnect,
        lost_after = None,
        replace = None,
        reconcile = None,
        stop_on_client_after = None
    );
    for i in 0..group.affinities.len() {
        set!(v, |g| g.affinities[i].weight => None);
    }
    for i in 0..group.spreads.len() {
        set!(v, |g| g.spreads[i].weight => None);
    }
    networks(&mut v, &group.networks, |g| &mut g.networks);
    services(&mut v, &group.services, |g| &mut g.services);
    v
}

fn task_clears(task: &Task) -> Vec<Clear<Task>> {
    let mut v: Vec<Clear<Task>> = Vec::new();
    set!(v, |t| t.kill_timeout => None, t.restart_policy => Default::default(),
        t.restart_policy.attempts => None, t.restart_policy.interval => None,
        t.restart_policy.delay => None, t.restart_policy.mode => None,
        t.restart_policy.render_templates => None, t.resources.cpu => None,
        t.resources.memory_mb => None, t.log_config.max_files => None,
        t.log_config.max_file_size_mb => None);
    in_option!(v, |t| t.resources.numa, affinity = String::new());
    for (i, device) in task.resources.devices.iter().enumerate() {
        set!(v, |t| t.resources.devices[i].count => None);
        for k in 0..device.affinities.len() {
            set!(v, |t| t.resources.devices[i].affinities[k].weight => None);
        }
    }
    networks(&mut v, &task.resources.networks, |t| {
        &mut t.resources.networks
    });
    for i in 0..task.artifacts.len() {
        set!(v, |t| t.artifacts[i].relative_dest => None, t.artifacts[i].getter_mode => None);
    }
    for i in 0..task.templates.len() {
        set!(v, |t| t.templates[i].change_signal => None, t.templates[i].change_mode => None,
            t.templates[i].splay => None, t.templates[i].perms => None,
            t.templates[i].left_delim => None, t.templates[i].right_delim => None);
        in_option!(v, |t| t.templates[i].change_script, timeout = None);
    }
    in_option!(
        v,
        |t| t.vault,
        env = None,
        cluster = String::new(),
        change_mode = None,
        change_signal = None
    );
    in_option!(v, |t| t.consul, cluster = String::new());
    for i in 0..task.volume_mounts.len() {
        set!(v, |t| t.volume_mounts[i].propagation_mode => None);
    }
    in_option!(
        v,
        |t| t.csi_plugin_config,
        mount_dir = String::new(),
        stage_publish_base_dir = String::new(),
        health_timeout = Default::default()
    );
    for i in 0..task.affinities.len() {
        set!(v, |t| t.affinities[i].weight => None);
    }
    services(&mut v, &task.services, |t| &mut t.services);
    v
}

/// Clearings of network modes and port host networks.
fn networks<T: 'static>(
    out: &mut Vec<Clear<T>>,
    networks: &[NetworkResource],
    at: fn(&mut T) -> &mut Vec<NetworkResource>,
) {
    for (i, network) in networks.iter().enumerate() {
        set!(*out, |x| at(x)[i].mode => String::new());
        for k in 0..network.reserved_ports.len() {
            set!(*out, |x| at(x)[i].reserved_ports[k].host_network => String::new());
        }
        for k in 0..network.dynamic_ports.len() {
            set!(*out, |x| at(x)[i].dynamic_ports[k].host_network => String::new());
        }
    }
}

/// Clearings of service and check defaults.
fn services<T: 'static>(
    out: &mut Vec<Clear<T>>,
    services: &[Service],
    at: fn(&mut T) -> &mut Vec<Service>,
) {
    for (i, service) in services.iter().enumerate() {
        set!(*out, |x| at(x)[i].name => String::new(), at(x)[i].address_mode => String::new(),
            at(x)[i].on_update => String::new(), at(x)[i].provider => String::new(),
            at(x)[i].cluster => String::new());
        for k in 0..service.checks.len() {
            set!(*out, |x| at(x)[i].checks[k].name => String::new(),
                at(x)[i].checks[k].on_update => String::new(),
                at(x)[i].checks[k].task_name => String::new(),
                at(x)[i].checks[k].check_restart => None);
            in_option!(*out, |x| at(x)[i].checks[k].check_restart, grace = None);
        }
    }
}
