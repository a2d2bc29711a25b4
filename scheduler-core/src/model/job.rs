//! The job: what to run, where, and how, as registered with the scheduler.

use crate::model::constraint::{Affinity, Constraint, Spread};
use crate::model::ids::JobId;
use crate::model::policies::{MigrateStrategy, ReschedulePolicy, UpdateStrategy};
use crate::model::serde_util::null_as_default;
use crate::model::task_group::TaskGroup;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;

/// The priority of a job that does not set one.
pub const DEFAULT_PRIORITY: i64 = 50;

/// Nomad's register request body: `{"Job": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct JobWrapper {
    /// The job being registered.
    #[serde(rename = "Job")]
    pub job: Job,
}

/// What kind of scheduling a job gets.
///
/// Serialised as the lowercase name. A type Nomad does not know is kept as
/// [`JobType::Unknown`] so that validation can report it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum JobType {
    /// Long-running; allocations are kept running and replaced when they fail.
    #[default]
    Service,
    /// Runs to completion.
    Batch,
    /// One long-running allocation on every eligible node.
    System,
    /// Runs to completion once on every eligible node.
    Sysbatch,
    /// Anything else, as written; invalid.
    Unknown(String),
}

impl JobType {
    /// Parses a job type; the empty string is `service`, anything unknown is
    /// kept as [`JobType::Unknown`].
    pub fn parse(text: &str) -> JobType {
        match text {
            "" | "service" => JobType::Service,
            "batch" => JobType::Batch,
            "system" => JobType::System,
            "sysbatch" => JobType::Sysbatch,
            other => JobType::Unknown(other.to_owned()),
        }
    }

    /// The type as written in a job.
    pub fn as_str(&self) -> &str {
        match self {
            JobType::Service => "service",
            JobType::Batch => "batch",
            JobType::System => "system",
            JobType::Sysbatch => "sysbatch",
            JobType::Unknown(other) => other,
        }
    }

    /// Whether allocations run on every eligible node (`system`, `sysbatch`).
    pub fn is_system_like(&self) -> bool {
        matches!(self, JobType::System | JobType::Sysbatch)
    }

    /// Whether allocations run to completion (`batch`, `sysbatch`).
    pub fn is_batch_like(&self) -> bool {
        matches!(self, JobType::Batch | JobType::Sysbatch)
    }
}

impl fmt::Display for JobType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for JobType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for JobType {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        Ok(JobType::parse(text.as_deref().unwrap_or("")))
    }
}

/// A job: groups of tasks with placement rules and lifecycle policies.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Job {
    /// The region to run in; `global` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub region: String,
    /// The namespace; `default` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub namespace: String,
    /// The job's id, unique within the namespace.
    #[serde(rename = "ID", deserialize_with = "null_as_default")]
    pub id: JobId,
    /// Display name; the id by default.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// `service` (default), `batch`, `system` or `sysbatch`.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub job_type: JobType,
    /// Scheduling priority, 1 to 100 (higher first, may preempt lower); 50 by default.
    pub priority: Option<i64>,
    /// Place all allocations or none (deprecated in Nomad, still honoured).
    #[serde(deserialize_with = "null_as_default")]
    pub all_at_once: bool,
    /// Datacenters the job may run in, with `*` and `?` globs; `["*"]` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub datacenters: Vec<String>,
    /// The node pool to run in; `default` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// Placement rules for every task.
    #[serde(deserialize_with = "null_as_default")]
    pub constraints: Vec<Constraint>,
    /// Placement preferences for every task.
    #[serde(deserialize_with = "null_as_default")]
    pub affinities: Vec<Affinity>,
    /// The groups.
    #[serde(deserialize_with = "null_as_default")]
    pub task_groups: Vec<TaskGroup>,
    /// Update strategy inherited by every group.
    pub update: Option<UpdateStrategy>,
    /// Deployment across several regions (Nomad Enterprise).
    pub multiregion: Option<Multiregion>,
    /// Spreads for every group.
    #[serde(deserialize_with = "null_as_default")]
    pub spreads: Vec<Spread>,
    /// Run the job on a cron schedule.
    pub periodic: Option<PeriodicConfig>,
    /// Make the job a template that is run by dispatching it.
    pub parameterized_job: Option<ParameterizedJobConfig>,
    /// Reschedule policy inherited by every group.
    pub reschedule: Option<ReschedulePolicy>,
    /// Migrate strategy inherited by every group.
    pub migrate: Option<MigrateStrategy>,
    /// Free-form metadata, available as `${NOMAD_META_<key>}`.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
    /// Consul token proving the submitter may use the job's Consul services.
    #[serde(deserialize_with = "null_as_default")]
    pub consul_token: String,
    /// Vault token proving the submitter may use the job's Vault policies.
    #[serde(deserialize_with = "null_as_default")]
    pub vault_token: String,
    /// Description and links shown in the web UI.
    #[serde(rename = "UI")]
    pub ui: Option<JobUiConfig>,
    /// Whether the job has been stopped (its allocations should not run).
    #[serde(deserialize_with = "null_as_default")]
    pub stop: bool,
    /// For a periodic or dispatched child: the parent job's id.
    #[serde(rename = "ParentID", deserialize_with = "null_as_default")]
    pub parent_id: JobId,
    /// Whether this is a dispatched instance of a parameterized job.
    #[serde(deserialize_with = "null_as_default")]
    pub dispatched: bool,
    /// Token that makes a dispatch idempotent.
    #[serde(deserialize_with = "null_as_default")]
    pub dispatch_idempotency_token: String,
    /// A dispatched job's input payload (base64 in JSON).
    #[serde(with = "payload_base64")]
    pub payload: Vec<u8>,
    /// Consul namespace for the job's services (Consul Enterprise).
    #[serde(deserialize_with = "null_as_default")]
    pub consul_namespace: String,
    /// Vault namespace for the job's tokens (Vault Enterprise).
    #[serde(deserialize_with = "null_as_default")]
    pub vault_namespace: String,
    /// Accessor of the Nomad token that submitted the job.
    #[serde(rename = "NomadTokenID", deserialize_with = "null_as_default")]
    pub nomad_token_id: String,
    /// `pending`, `running` or `dead`; set by the servers.
    #[serde(deserialize_with = "null_as_default")]
    pub status: String,
    /// Why the job has its status.
    #[serde(deserialize_with = "null_as_default")]
    pub status_description: String,
    /// Whether this version deployed successfully (a revert target).
    #[serde(deserialize_with = "null_as_default")]
    pub stable: bool,
    /// The job version, incremented on every change.
    #[serde(deserialize_with = "null_as_default")]
    pub version: u64,
    /// When this version was submitted, in nanoseconds since the Unix epoch.
    #[serde(deserialize_with = "null_as_default")]
    pub submit_time: i64,
    /// Raft index at creation.
    #[serde(deserialize_with = "null_as_default")]
    pub create_index: u64,
    /// Raft index of the last change of any kind.
    #[serde(deserialize_with = "null_as_default")]
    pub modify_index: u64,
    /// Raft index of the last change to the job's specification.
    #[serde(deserialize_with = "null_as_default")]
    pub job_modify_index: u64,
    /// A name given to this version.
    pub version_tag: Option<JobVersionTag>,
}

impl Job {
    /// The scheduling priority (default 50).
    pub fn priority(&self) -> i64 {
        self.priority.unwrap_or(DEFAULT_PRIORITY)
    }

    /// Whether the job runs on a schedule.
    pub fn is_periodic(&self) -> bool {
        self.periodic.is_some()
    }

    /// Whether the job is a parameterized template (and not a dispatched instance).
    pub fn is_parameterized(&self) -> bool {
        self.parameterized_job.is_some() && !self.dispatched
    }

    /// Whether the job deploys to several regions.
    pub fn is_multiregion(&self) -> bool {
        self.multiregion
            .as_ref()
            .is_some_and(|multiregion| !multiregion.regions.is_empty())
    }

    /// The group with the given name.
    pub fn lookup_task_group(&self, name: &str) -> Option<&TaskGroup> {
        self.task_groups.iter().find(|group| group.name == name)
    }

    /// The group with the given name, mutably.
    pub fn lookup_task_group_mut(&mut self, name: &str) -> Option<&mut TaskGroup> {
        self.task_groups.iter_mut().find(|group| group.name == name)
    }
}

/// Runs a job on a cron schedule (HCL `periodic` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct PeriodicConfig {
    /// Whether launches happen; true by default.
    pub enabled: Option<bool>,
    /// The cron expression (HCL `cron`).
    #[serde(deserialize_with = "null_as_default")]
    pub spec: String,
    /// Several cron expressions; launches at the earliest match (HCL `crons`).
    #[serde(deserialize_with = "null_as_default")]
    pub specs: Vec<String>,
    /// The spec language; `cron` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub spec_type: String,
    /// Skip a launch while the previous one is still running.
    #[serde(deserialize_with = "null_as_default")]
    pub prohibit_overlap: bool,
    /// IANA time zone the spec is read in; `UTC` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub time_zone: String,
}

/// Short name for [`PeriodicConfig`].
pub type Periodic = PeriodicConfig;

impl PeriodicConfig {
    /// Whether launches happen (default true).
    pub fn enabled(&self) -> bool {
        self.enabled.unwrap_or(true)
    }

    /// Every cron expression: `spec` (if set) then `specs`.
    pub fn all_specs(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.spec.as_str())
            .filter(|spec| !spec.is_empty())
            .chain(self.specs.iter().map(String::as_str))
    }
}

/// Makes a job a template run by `nomad job dispatch` (HCL `parameterized`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ParameterizedJobConfig {
    /// Whether a dispatch needs a payload: `optional` (default), `required`, `forbidden`.
    #[serde(deserialize_with = "null_as_default")]
    pub payload: String,
    /// Meta keys every dispatch must give.
    #[serde(deserialize_with = "null_as_default")]
    pub meta_required: Vec<String>,
    /// Meta keys a dispatch may give.
    #[serde(deserialize_with = "null_as_default")]
    pub meta_optional: Vec<String>,
}

/// Short name for [`ParameterizedJobConfig`].
pub type ParameterizedJob = ParameterizedJobConfig;

/// Deployment of one job across several regions (HCL `multiregion` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct Multiregion {
    /// How regions are rolled out.
    pub strategy: Option<MultiregionStrategy>,
    /// The regions, in rollout order.
    #[serde(deserialize_with = "null_as_default")]
    pub regions: Vec<MultiregionRegion>,
}

/// How a multiregion deployment proceeds.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MultiregionStrategy {
    /// Regions deployed at once; 0 means all.
    #[serde(deserialize_with = "null_as_default")]
    pub max_parallel: i64,
    /// What a failure does: empty (stop that region), `fail_all` or `fail_local`.
    #[serde(deserialize_with = "null_as_default")]
    pub on_failure: String,
}

/// One region of a multiregion job, with overrides for it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MultiregionRegion {
    /// The region's name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// Group count in this region; 1 by default.
    pub count: Option<i64>,
    /// Datacenters in this region.
    #[serde(deserialize_with = "null_as_default")]
    pub datacenters: Vec<String>,
    /// Node pool in this region.
    #[serde(deserialize_with = "null_as_default")]
    pub node_pool: String,
    /// Meta merged into the job's in this region.
    #[serde(deserialize_with = "null_as_default")]
    pub meta: BTreeMap<String, String>,
}

/// A name and description attached to a job version.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobVersionTag {
    /// The tag's name.
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// What the version is.
    #[serde(deserialize_with = "null_as_default")]
    pub description: String,
    /// When it was tagged, in nanoseconds since the Unix epoch.
    #[serde(deserialize_with = "null_as_default")]
    pub tagged_time: i64,
}

/// What the web UI shows about a job (HCL `ui` block).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobUiConfig {
    /// Markdown description.
    #[serde(deserialize_with = "null_as_default")]
    pub description: String,
    /// Links to show.
    #[serde(deserialize_with = "null_as_default")]
    pub links: Vec<JobUiLink>,
}

/// A link shown in the web UI.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct JobUiLink {
    /// The link text.
    #[serde(deserialize_with = "null_as_default")]
    pub label: String,
    /// The target.
    #[serde(rename = "URL", deserialize_with = "null_as_default")]
    pub url: String,
}

/// Go's `[]byte` JSON form: a base64 string, `null` when empty.
mod payload_base64 {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        if bytes.is_empty() {
            serializer.serialize_none()
        } else {
            serializer.serialize_str(&STANDARD.encode(bytes))
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        match text {
            None => Ok(Vec::new()),
            Some(text) => STANDARD.decode(text.as_bytes()).map_err(|err| {
                serde::de::Error::custom(format!("Payload is not valid base64: {err}"))
            }),
        }
    }
}
