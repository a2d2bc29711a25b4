//! On-demand control of a running allocation: restart or signal its tasks
//! and report their resource usage, as Nomad's `alloc restart`,
//! `alloc signal` and `GET /v1/client/allocation/:id/stats` do.
//!
//! An [`AllocControl`] is handed out by the allocation runner
//! ([`crate::alloc_runner::AllocRunnerHandle::control`]) and by the client
//! ([`crate::client::ClientHandle::alloc`]). It reaches each task through
//! its runner's [`TaskControl`], registered as the runner launches the
//! task, so requests follow the allocation's lifecycle: a poststop task is
//! "not running" until it starts, a finished task is "not running" again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use scheduler_core::driver::{DriverError, TaskStats, signal_number};
use scheduler_core::model::Node;

use crate::runner::TaskControl;

/// Why an on-demand request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// The allocation's group has no task of that name.
    #[error("allocation {alloc} has no task {task:?}")]
    UnknownTask {
        /// The allocation.
        alloc: String,
        /// The name asked for.
        task: String,
    },
    /// The task exists but no attempt of it runs now (not started yet,
    /// waiting to restart, or dead).
    #[error("task {0:?} is not running")]
    NotRunning(String),
    /// A request for every task, and none runs.
    #[error("allocation {0} has no running task")]
    NothingRunning(String),
    /// Not a signal name (`SIGHUP`, `HUP`, `usr1` are).
    #[error("unknown signal {0:?}")]
    UnknownSignal(String),
    /// The task's driver failed the request.
    #[error("task {task:?}: {error}")]
    Driver {
        /// The task.
        task: String,
        /// What the driver said.
        error: DriverError,
    },
    /// A request for every task failed for several of them.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Several(Vec<ControlError>),
}

/// How long apart two CPU samples are taken when no recent one is known:
/// a CPU percentage needs an interval.
const CPU_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);
/// An earlier sample older than this is not used as the interval's start
/// (it would average the CPU use over too long).
const CPU_SAMPLE_MAX_AGE: Duration = Duration::from_secs(10);

/// What memory figures are measured: the drivers report resident memory.
const MEASURED_MEMORY: &[&str] = &["RSS"];
/// What CPU figures are measured: both derive from the CPU time used.
const MEASURED_CPU: &[&str] = &["Percent", "Total Ticks"];

/// Memory in use, bytes (Nomad's `MemoryStats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct MemoryStats {
    /// Resident set size.
    #[serde(rename = "RSS")]
    pub rss: u64,
    /// Page cache (not measured).
    pub cache: u64,
    /// Swap (not measured).
    pub swap: u64,
    /// Mapped files (not measured).
    pub mapped_file: u64,
    /// Memory in use: the resident set, as no driver reports a cgroup's
    /// accounting here.
    pub usage: u64,
    /// The largest resident set this client sampled for the current
    /// attempt of the task.
    pub max_usage: u64,
    /// Kernel memory (not measured).
    pub kernel_usage: u64,
    /// Largest kernel memory (not measured).
    pub kernel_max_usage: u64,
    /// Which of the figures are measured (Nomad's names).
    pub measured: Vec<String>,
}

/// CPU in use (Nomad's `CpuStats`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CpuStats {
    /// Percent of one core spent in system mode (not measured).
    pub system_mode: f64,
    /// Percent of one core spent in user mode (not measured).
    pub user_mode: f64,
    /// MHz in use: `Percent` of one core's MHz.
    pub total_ticks: f64,
    /// Throttled periods (not measured).
    pub throttled_periods: u64,
    /// Time throttled (not measured).
    pub throttled_time: u64,
    /// CPU use over the last sampling interval, in percent of one core
    /// (above 100 for a task using several cores).
    pub percent: f64,
    /// Which of the figures are measured (Nomad's names).
    pub measured: Vec<String>,
}

/// Memory and CPU in use (Nomad's `ResourceUsage`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct ResourceUsage {
    /// Memory.
    pub memory_stats: MemoryStats,
    /// CPU.
    pub cpu_stats: CpuStats,
    /// Devices (none measured).
    pub device_stats: Vec<serde_json::Value>,
}

/// One task's usage (Nomad's `TaskResourceUsage`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct TaskResourceUsage {
    /// The figures.
    pub resource_usage: ResourceUsage,
    /// When they were sampled, Unix nanoseconds.
    pub timestamp: i64,
}

/// An allocation's usage: the sum over its running tasks and each task's
/// own (Nomad's `AllocResourceUsage`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct AllocResourceUsage {
    /// The running tasks' figures added up.
    pub resource_usage: ResourceUsage,
    /// Per running task.
    pub tasks: BTreeMap<String, TaskResourceUsage>,
    /// The latest task sample's time, Unix nanoseconds (0 when no task
    /// runs).
    pub timestamp: i64,
}

impl ResourceUsage {
    /// Adds `other` in, as Nomad sums its tasks: figures add up, the
    /// measured names are united.
    fn add(&mut self, other: &ResourceUsage) {
        let memory = &mut self.memory_stats;
        let theirs = &other.memory_stats;
        memory.rss += theirs.rss;
        memory.cache += theirs.cache;
        memory.swap += theirs.swap;
        memory.mapped_file += theirs.mapped_file;
        memory.usage += theirs.usage;
        memory.max_usage += theirs.max_usage;
        memory.kernel_usage += theirs.kernel_usage;
        memory.kernel_max_usage += theirs.kernel_max_usage;
        unite(&mut memory.measured, &theirs.measured);
        let cpu = &mut self.cpu_stats;
        let theirs = &other.cpu_stats;
        cpu.system_mode += theirs.system_mode;
        cpu.user_mode += theirs.user_mode;
        cpu.total_ticks += theirs.total_ticks;
        cpu.throttled_periods += theirs.throttled_periods;
        cpu.throttled_time += theirs.throttled_time;
        cpu.percent += theirs.percent;
        unite(&mut cpu.measured, &theirs.measured);
    }
}

fn unite(names: &mut Vec<String>, more: &[String]) {
    for name in more {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|name| (*name).to_owned()).collect()
}

/// One reading of a task's driver stats.
struct Sample {
    task: String,
    /// Which attempt was measured (its restart count): figures of an
    /// earlier attempt do not carry over.
    attempt: u64,
    stats: TaskStats,
    at: Instant,
    timestamp: i64,
}

/// What is remembered of a task between two stats requests.
#[derive(Debug, Clone, Copy)]
struct UsageHistory {
    attempt: u64,
    cpu_time: Duration,
    at: Instant,
    max_rss: u64,
}

impl UsageHistory {
    /// Whether this earlier sample can start the CPU interval of `sample`.
    fn precedes(&self, sample: &Sample) -> bool {
        self.attempt == sample.attempt
            && self.cpu_time <= sample.stats.cpu_time
            && self.at < sample.at
            && sample.at.duration_since(self.at) <= CPU_SAMPLE_MAX_AGE
    }
}

/// A cloneable handle on one allocation's tasks for on-demand requests.
/// It stays valid once the allocation has finished; its tasks are then
/// not running.
#[derive(Debug, Clone)]
pub struct AllocControl {
    alloc_id: String,
    /// Every task of the group, launched or not, to tell a task that does
    /// not exist from one that does not run.
    task_names: Arc<[String]>,
    /// The tasks launched so far, by name.
    launched: Arc<Mutex<BTreeMap<String, TaskControl>>>,
    /// The last sample of each task, for CPU percentages and the largest
    /// resident set.
    history: Arc<Mutex<BTreeMap<String, UsageHistory>>>,
    /// One core's MHz on this node, to express CPU use in MHz.
    mhz_per_core: f64,
}

impl AllocControl {
    /// The control of allocation `alloc_id`, whose group has `task_names`,
    /// on `node`; the allocation runner registers each task it launches.
    pub(crate) fn new(alloc_id: String, task_names: Vec<String>, node: &Node) -> Self {
        let cpu = &node.node_resources.cpu;
        let mhz_per_core = cpu.cpu_shares.0.max(0) as f64 / f64::from(cpu.total_cpu_cores.max(1));
        AllocControl {
            alloc_id,
            task_names: task_names.into(),
            launched: Arc::default(),
            history: Arc::default(),
            mhz_per_core,
        }
    }

    /// Makes a launched task reachable.
    pub(crate) fn register(&self, control: TaskControl) {
        self.launched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(control.name().to_owned(), control);
    }

    /// The allocation's id.
    pub fn alloc_id(&self) -> &str {
        &self.alloc_id
    }

    /// Restarts task `task` in place, or every running task when `None`
    /// (all at once); resolves once they run again. A user restart does
    /// not count against the restart policy.
    pub async fn restart_task(&self, task: Option<&str>) -> Result<(), ControlError> {
        let targets = self.targets(task)?;
        let results =
            futures_util::future::join_all(targets.iter().map(TaskControl::restart)).await;
        all_of(results)
    }

    /// Sends `signal` to task `task`, or to every running task when `None`.
    pub async fn signal_task(&self, task: Option<&str>, signal: &str) -> Result<(), ControlError> {
        if signal_number(signal).is_none() {
            return Err(ControlError::UnknownSignal(signal.to_owned()));
        }
        let targets = self.targets(task)?;
        let results =
            futures_util::future::join_all(targets.iter().map(|t| t.signal(signal))).await;
        all_of(results)
    }

    /// The resource usage of the running tasks, summed and per task. The
    /// CPU percentage covers the time since the previous request, or a
    /// short interval measured now when there is no recent one.
    pub async fn stats(&self) -> AllocResourceUsage {
        let running = self.running();
        let mut samples = sample(&running).await;
        let known = {
            let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
            samples.iter().all(|s| {
                history
                    .get(&s.task)
                    .is_some_and(|earlier| earlier.precedes(s))
            })
        };
        if !known {
            for s in &samples {
                self.remember(s);
            }
            tokio::time::sleep(CPU_SAMPLE_INTERVAL).await;
            samples = sample(&running).await;
        }
        let mut usage = AllocResourceUsage::default();
        for s in &samples {
            let task = self.usage_of(s);
            usage.resource_usage.add(&task.resource_usage);
            usage.timestamp = usage.timestamp.max(task.timestamp);
            usage.tasks.insert(s.task.clone(), task);
        }
        usage
    }

    /// One task's figures from `sample` and the task's history, which it
    /// then replaces.
    fn usage_of(&self, sample: &Sample) -> TaskResourceUsage {
        let earlier = self.remember(sample);
        let percent = earlier.filter(|e| e.precedes(sample)).map_or(0.0, |e| {
            let cpu = sample.stats.cpu_time.saturating_sub(e.cpu_time);
            let wall = sample.at.duration_since(e.at);
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64()
        });
        let rss = sample.stats.memory_rss_bytes;
        let max_rss = earlier
            .filter(|e| e.attempt == sample.attempt)
            .map_or(rss, |e| e.max_rss.max(rss));
        TaskResourceUsage {
            resource_usage: ResourceUsage {
                memory_stats: MemoryStats {
                    rss,
                    usage: rss,
                    max_usage: max_rss,
                    measured: names(MEASURED_MEMORY),
                    ..MemoryStats::default()
                },
                cpu_stats: CpuStats {
                    percent,
                    total_ticks: percent / 100.0 * self.mhz_per_core,
                    measured: names(MEASURED_CPU),
                    ..CpuStats::default()
                },
                device_stats: Vec::new(),
            },
            timestamp: sample.timestamp,
        }
    }

    /// Records `sample` as the task's latest; the one it replaces.
    fn remember(&self, sample: &Sample) -> Option<UsageHistory> {
        let mut history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let earlier = history.get(&sample.task).copied();
        let max_rss = earlier
            .filter(|e| e.attempt == sample.attempt)
            .map_or(0, |e| e.max_rss)
            .max(sample.stats.memory_rss_bytes);
        history.insert(
            sample.task.clone(),
            UsageHistory {
                attempt: sample.attempt,
                cpu_time: sample.stats.cpu_time,
                at: sample.at,
                max_rss,
            },
        );
        earlier
    }

    fn launched(&self) -> BTreeMap<String, TaskControl> {
        self.launched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn running(&self) -> Vec<TaskControl> {
        self.launched()
            .into_values()
            .filter(TaskControl::is_running)
            .collect()
    }

    /// The tasks a request for `task` (or every running one) goes to.
    fn targets(&self, task: Option<&str>) -> Result<Vec<TaskControl>, ControlError> {
        let Some(name) = task else {
            let running = self.running();
            if running.is_empty() {
                return Err(ControlError::NothingRunning(self.alloc_id.clone()));
            }
            return Ok(running);
        };
        if !self.task_names.iter().any(|known| known == name) {
            return Err(ControlError::UnknownTask {
                alloc: self.alloc_id.clone(),
                task: name.to_owned(),
            });
        }
        self.launched()
            .remove(name)
            .map(|control| vec![control])
            .ok_or_else(|| ControlError::NotRunning(name.to_owned()))
    }
}

/// Reads the driver stats of `tasks`; a task that stopped meanwhile is
/// left out.
async fn sample(tasks: &[TaskControl]) -> Vec<Sample> {
    let mut samples = Vec::with_capacity(tasks.len());
    for task in tasks {
        let attempt = task.restarts();
        if let Ok(stats) = task.stats().await {
            samples.push(Sample {
                task: task.name().to_owned(),
                attempt,
                stats,
                at: crate::clock::monotonic(),
                timestamp: crate::clock::unix_nanos(),
            });
        }
    }
    samples
}

/// One result for a request to several tasks: the failure, or all of them.
fn all_of(results: Vec<Result<(), ControlError>>) -> Result<(), ControlError> {
    let mut errors: Vec<ControlError> = results.into_iter().filter_map(Result::err).collect();
    match errors.len() {
        0 => Ok(()),
        1 => Err(errors.remove(0)),
        _ => Err(ControlError::Several(errors)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_adds_up_and_unites_what_is_measured() {
        let task = |rss, percent| ResourceUsage {
            memory_stats: MemoryStats {
                rss,
                usage: rss,
                measured: names(MEASURED_MEMORY),
                ..MemoryStats::default()
            },
            cpu_stats: CpuStats {
                percent,
                measured: names(MEASURED_CPU),
                ..CpuStats::default()
            },
            device_stats: Vec::new(),
        };
        let mut total = ResourceUsage::default();
        total.add(&task(100, 12.5));
        total.add(&task(50, 2.5));
        assert_eq!(total.memory_stats.rss, 150);
        assert_eq!(total.memory_stats.usage, 150);
        assert!((total.cpu_stats.percent - 15.0).abs() < 1e-9);
        assert_eq!(total.memory_stats.measured, ["RSS"]);
        assert_eq!(total.cpu_stats.measured, ["Percent", "Total Ticks"]);
    }

    #[test]
    fn usage_has_nomads_json_names() {
        let json = serde_json::to_value(AllocResourceUsage::default()).expect("json");
        assert!(json["ResourceUsage"]["MemoryStats"]["RSS"].is_u64());
        assert!(json["ResourceUsage"]["MemoryStats"]["MaxUsage"].is_u64());
        assert!(json["ResourceUsage"]["CpuStats"]["TotalTicks"].is_f64());
        assert!(json["Tasks"].is_object());
        assert!(json["Timestamp"].is_i64());
    }

    #[test]
    fn errors_for_several_tasks_are_joined() {
        let several = all_of(vec![
            Ok(()),
            Err(ControlError::NotRunning("a".to_owned())),
            Err(ControlError::NotRunning("b".to_owned())),
        ])
        .unwrap_err();
        assert_eq!(
            several.to_string(),
            "task \"a\" is not running; task \"b\" is not running"
        );
        assert_eq!(all_of(vec![Ok(()), Ok(())]), Ok(()));
    }
}
