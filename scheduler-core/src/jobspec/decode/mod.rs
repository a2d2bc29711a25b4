//! From evaluated HCL blocks to the job model.
//!
//! The decoder walks blocks by hand rather than through serde: a block type
//! that may appear once or several times, labels that become names, keys that
//! take several spellings (`meta = {}` or `meta {}`), and shorthand operators
//! in constraints all need more than a derive gives. Every key that nothing
//! reads is reported as unsupported where it is written, and the span of
//! every block and attribute is recorded under its [`FieldPath`] so that the
//! model-level validation can report file, line and column too.
//!
//! [`FieldPath`]: crate::model::FieldPath

mod placement;
mod policies;
pub mod reader;
mod task;

use crate::jobspec::body::Block;
use crate::model::{
    FieldPath, Job, JobId, JobType, JobUiConfig, JobUiLink, Multiregion, MultiregionRegion,
    MultiregionStrategy, ParameterizedJobConfig, PeriodicConfig, Task, TaskGroup, Vault,
};
use reader::{BlockReader, Decoder, Problem};
use std::collections::BTreeMap;
use std::ops::Range;

/// Decodes an evaluated `job` block. Returns the job (as complete as the
/// input allows), the problems found, and the span of every path.
pub fn decode_job(block: &Block) -> (Job, Vec<Problem>, BTreeMap<String, Range<usize>>) {
    let decoder = Decoder::default();
    let id = block.label().to_owned();
    let path = FieldPath::job(&id);
    if block.labels.len() != 1 {
        decoder.error(
            block.span.clone(),
            &path,
            "a job block needs exactly one label: job \"NAME\" { ... }",
        );
    }
    let job = {
        let reader = BlockReader::new(&decoder, &block.body, path, block.span.clone());
        let job = job(&reader, id);
        reader.finish(&[]);
        job
    };
    let (problems, spans) = decoder.finish();
    (job, problems, spans)
}

fn job(reader: &BlockReader<'_>, label: String) -> Job {
    // The old job-spec format allowed `id` to differ from the label.
    let id = reader.string("id", "ID").unwrap_or(label);
    let mut job = Job {
        name: reader.string("name", "Name").unwrap_or_else(|| id.clone()),
        id: JobId::new(id),
        region: reader.string("region", "Region").unwrap_or_default(),
        namespace: reader.string("namespace", "Namespace").unwrap_or_default(),
        node_pool: reader.string("node_pool", "NodePool").unwrap_or_default(),
        job_type: reader
            .string("type", "Type")
            .map(|t| JobType::parse(&t))
            .unwrap_or_default(),
        priority: reader.int("priority", "Priority"),
        all_at_once: reader.bool("all_at_once", "AllAtOnce").unwrap_or(false),
        datacenters: reader
            .string_list("datacenters", "Datacenters")
            .unwrap_or_default(),
        consul_token: reader
            .string("consul_token", "ConsulToken")
            .unwrap_or_default(),
        vault_token: reader
            .string("vault_token", "VaultToken")
            .unwrap_or_default(),
        consul_namespace: reader
            .string("consul_namespace", "ConsulNamespace")
            .unwrap_or_default(),
        vault_namespace: reader
            .string("vault_namespace", "VaultNamespace")
            .unwrap_or_default(),
        meta: reader.string_map("meta", "Meta").unwrap_or_default(),
        constraints: placement::constraints(reader),
        affinities: placement::affinities(reader),
        spreads: placement::spreads(reader),
        ..Job::default()
    };
    if let Some(block) = reader.block("update", "Update") {
        job.update = Some(policies::update(&block));
    }
    if let Some(block) = reader.block("reschedule", "Reschedule") {
        job.reschedule = Some(policies::reschedule(&block));
    }
    if let Some(block) = reader.block("migrate", "Migrate") {
        job.migrate = Some(policies::migrate(&block));
    }
    if let Some(block) = reader.block("periodic", "Periodic") {
        job.periodic = Some(periodic(&block));
    }
    if let Some(block) = reader.block("parameterized", "ParameterizedJob") {
        job.parameterized_job = Some(ParameterizedJobConfig {
            payload: block.string("payload", "Payload").unwrap_or_default(),
            meta_required: block
                .string_list("meta_required", "MetaRequired")
                .unwrap_or_default(),
            meta_optional: block
                .string_list("meta_optional", "MetaOptional")
                .unwrap_or_default(),
        });
        block.finish(&[]);
    }
    if let Some(block) = reader.block("multiregion", "Multiregion") {
        job.multiregion = Some(multiregion(&block));
    }
    if let Some(block) = reader.block("ui", "UI") {
        job.ui = Some(JobUiConfig {
            description: block
                .string("description", "Description")
                .unwrap_or_default(),
            links: block
                .blocks("link", "Links", false)
                .into_iter()
                .map(|(link, _)| {
                    let out = JobUiLink {
                        label: link.string("label", "Label").unwrap_or_default(),
                        url: link.string("url", "Url").unwrap_or_default(),
                    };
                    link.finish(&[]);
                    out
                })
                .collect(),
        });
        block.finish(&[]);
    }
    // A job-level vault block is inherited by every task without its own, as
    // Nomad's job-spec parser does.
    let job_vault = reader.block("vault", "Vault").map(|b| task::vault(&b));

    for (block, label) in reader.blocks("group", "TaskGroups", true) {
        let group = group(&block, label.unwrap_or_default(), job_vault.as_ref());
        job.task_groups.push(group);
    }
    // The old job-spec format allowed tasks directly in the job; each becomes
    // a group of its own with the task's name.
    for (block, label) in reader.blocks("task", "Tasks", true) {
        let name = label.unwrap_or_default();
        let mut task = task::task(&block, name.clone());
        inherit_vault(&mut task, job_vault.as_ref());
        job.task_groups.push(TaskGroup {
            name,
            tasks: vec![task],
            ..TaskGroup::default()
        });
    }
    job
}

fn inherit_vault(task: &mut Task, vault: Option<&Vault>) {
    if task.vault.is_none() {
        task.vault = vault.cloned();
    }
}

fn group(block: &BlockReader<'_>, name: String, job_vault: Option<&Vault>) -> TaskGroup {
    let mut group = TaskGroup {
        name,
        count: block.int("count", "Count"),
        constraints: placement::constraints(block),
        affinities: placement::affinities(block),
        spreads: placement::spreads(block),
        networks: placement::networks(block),
        services: policies::services(block),
        volumes: policies::volumes(block),
        meta: block.string_map("meta", "Meta").unwrap_or_default(),
        shutdown_delay: block
            .duration("shutdown_delay", "ShutdownDelay")
            .unwrap_or_default(),
        stop_after_client_disconnect: block
            .duration("stop_after_client_disconnect", "StopAfterClientDisconnect"),
        max_client_disconnect: block.duration("max_client_disconnect", "MaxClientDisconnect"),
        prevent_reschedule_on_lost: block
            .bool("prevent_reschedule_on_lost", "PreventRescheduleOnLost")
            .unwrap_or(false),
        ..TaskGroup::default()
    };
    if let Some(reader) = block.block("restart", "RestartPolicy") {
        group.restart_policy = policies::restart(&reader);
    }
    if let Some(reader) = block.block("reschedule", "ReschedulePolicy") {
        group.reschedule_policy = Some(policies::reschedule(&reader));
    }
    if let Some(reader) = block.block("update", "Update") {
        group.update = Some(policies::update(&reader));
    }
    if let Some(reader) = block.block("migrate", "Migrate") {
        group.migrate = Some(policies::migrate(&reader));
    }
    if let Some(reader) = block.block("disconnect", "Disconnect") {
        group.disconnect = Some(policies::disconnect(&reader));
    }
    if let Some(reader) = block.block("ephemeral_disk", "EphemeralDisk") {
        group.ephemeral_disk = policies::ephemeral_disk(&reader);
    }
    if let Some(reader) = block.block("consul", "Consul") {
        group.consul = Some(task::consul(&reader));
    }
    let scaling_blocks = block.blocks("scaling", "Scaling", false);
    for (index, (reader, label)) in scaling_blocks.iter().enumerate() {
        if index > 0 {
            reader.error("only one scaling block is allowed in a group");
            continue;
        }
        // Validation names the group's one scaling block `scaling`.
        reader
            .decoder()
            .record(&block.path().field("scaling", "Scaling"), reader.span());
        if let Some(label) = label.as_deref().filter(|l| *l != "horizontal") {
            reader.error(format!(
                "a group scaling block takes no label (or \"horizontal\"), got {label:?}"
            ));
        }
        group.scaling = Some(policies::scaling(reader, "horizontal"));
    }
    let group_vault = block.block("vault", "Vault").map(|b| task::vault(&b));
    let inherited = group_vault.as_ref().or(job_vault);
    for (reader, label) in block.blocks("task", "Tasks", true) {
        let mut task = task::task(&reader, label.unwrap_or_default());
        inherit_vault(&mut task, inherited);
        group.tasks.push(task);
    }
    group
}

fn periodic(block: &BlockReader<'_>) -> PeriodicConfig {
    let mut periodic = PeriodicConfig {
        enabled: block.bool("enabled", "Enabled"),
        prohibit_overlap: block
            .bool("prohibit_overlap", "ProhibitOverlap")
            .unwrap_or(false),
        time_zone: block.string("time_zone", "TimeZone").unwrap_or_default(),
        ..PeriodicConfig::default()
    };
    let cron = block.string("cron", "Spec");
    let crons = block.string_list("crons", "Specs");
    match (cron, crons) {
        (Some(_), Some(_)) => block.error("set either cron or crons in a periodic block, not both"),
        (Some(cron), None) => periodic.spec = cron,
        (None, Some(crons)) => periodic.specs = crons,
        (None, None) => {}
    }
    periodic.spec_type = "cron".to_owned();
    block.finish(&[]);
    periodic
}

fn multiregion(block: &BlockReader<'_>) -> Multiregion {
    let mut multiregion = Multiregion::default();
    if let Some(strategy) = block.block("strategy", "Strategy") {
        multiregion.strategy = Some(MultiregionStrategy {
            max_parallel: strategy.int("max_parallel", "MaxParallel").unwrap_or(0),
            on_failure: strategy
                .string("on_failure", "OnFailure")
                .unwrap_or_default(),
        });
        strategy.finish(&[]);
    }
    for (region, label) in block.blocks("region", "Regions", true) {
        multiregion.regions.push(MultiregionRegion {
            name: label.unwrap_or_default(),
            count: region.int("count", "Count"),
            datacenters: region
                .string_list("datacenters", "Datacenters")
                .unwrap_or_default(),
            node_pool: region.string("node_pool", "NodePool").unwrap_or_default(),
            meta: region.string_map("meta", "Meta").unwrap_or_default(),
        });
        region.finish(&[]);
    }
    block.finish(&[]);
    multiregion
}

/// A block kept as written, for parts the project does not act on yet
/// (Consul Connect): attributes as values, nested blocks as lists of objects.
pub fn free_form_json(block: &BlockReader<'_>) -> serde_json::Value {
    block.body_value().to_json()
}
