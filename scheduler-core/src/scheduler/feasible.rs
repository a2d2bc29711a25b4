//! Node-local feasibility of one task group, memoised per computed node
//! class.
//!
//! A node is feasible for a group when it satisfies the job's and the
//! group's and tasks' constraints, has every driver the tasks use (detected
//! and healthy), can serve every device request, offers the group's
//! network mode and host networks, and has the host volumes the group
//! mounts. Everything except constraints on `unique.*` targets depends
//! only on fields the computed class hashes
//! ([`compute_class`](crate::model::node_class::compute_class)), so the
//! result for one node of a class holds for all of them: those checks run
//! once per class. Constraints that escape the class run per node, and only
//! they, rather than the whole group escaping the memo as in Nomad.
//!
//! Unlike Nomad, which stops at the first failing check, every failing
//! check is reported, so an explanation can say "3 nodes lack docker and
//! fail `${attr.kernel.name} = linux`".

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::feasibility::ConstraintChecker;
use crate::feasibility::devices::DeviceRequestMatcher;
use crate::feasibility::network::check_network;
use crate::model::node_class::target_escapes_class;
use crate::model::{Constraint, Job, Node, TaskGroup};

/// One reason a node is infeasible for a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeFilter {
    /// The key Nomad's `ConstraintFiltered` counts it under: the constraint
    /// as written (`${attr.kernel.name} = linux`), `missing drivers`,
    /// `missing devices`, `missing network` or `missing host volumes`.
    pub key: String,
    /// What exactly fails on this node.
    pub detail: String,
}

/// The filters a node fails; empty when it is feasible.
pub type Filters = Arc<[NodeFilter]>;

#[derive(Debug)]
enum Check<'j> {
    Constraint(ConstraintChecker),
    /// A constraint that can never hold (unknown operator, bad literal).
    Broken {
        key: String,
        reason: String,
    },
    Drivers(Vec<&'j str>),
    Devices(Vec<DeviceRequestMatcher>),
    Network(&'j TaskGroup),
    HostVolumes(Vec<&'j str>),
}

impl Check<'_> {
    fn run(&self, node: &Node) -> Option<NodeFilter> {
        match self {
            Check::Constraint(checker) => checker.check(node).err().map(|miss| NodeFilter {
                key: miss.constraint,
                detail: miss.reason,
            }),
            Check::Broken { key, reason } => Some(NodeFilter {
                key: key.clone(),
                detail: reason.clone(),
            }),
            Check::Drivers(drivers) => {
                let missing: Vec<&str> = drivers
                    .iter()
                    .copied()
                    .filter(|driver| !driver_usable(node, driver))
                    .collect();
                (!missing.is_empty()).then(|| NodeFilter {
                    key: "missing drivers".to_owned(),
                    detail: format!("driver {} not detected or unhealthy", missing.join(", ")),
                })
            }
            Check::Devices(matchers) => {
                let reasons: Vec<String> = matchers
                    .iter()
                    .filter_map(|matcher| matcher.check_node(node).err())
                    .collect();
                (!reasons.is_empty()).then(|| NodeFilter {
                    key: "missing devices".to_owned(),
                    detail: reasons.join("; "),
                })
            }
            Check::Network(group) => check_network(node, group).err().map(|reason| NodeFilter {
                key: "missing network".to_owned(),
                detail: reason,
            }),
            Check::HostVolumes(sources) => {
                let missing: Vec<&str> = sources
                    .iter()
                    .copied()
                    .filter(|source| !node.host_volumes.contains_key(*source))
                    .collect();
                (!missing.is_empty()).then(|| NodeFilter {
                    key: "missing host volumes".to_owned(),
                    detail: format!("host volume {} not on the node", missing.join(", ")),
                })
            }
        }
    }
}

/// Whether a driver is detected and healthy on the node. Nodes that report
/// no driver details fall back to the `driver.<name>` attribute, as older
/// Nomad clients only set that.
pub fn driver_usable(node: &Node, driver: &str) -> bool {
    match node.drivers.get(driver) {
        Some(info) => info.detected && info.healthy,
        None => node
            .attributes
            .get(&format!("driver.{driver}"))
            .is_some_and(|value| value == "1" || value.eq_ignore_ascii_case("true")),
    }
}

/// The feasibility checks of one task group, with the per-class memo.
#[derive(Debug)]
pub struct GroupFeasibility<'j> {
    /// Checks whose outcome depends only on what the class hashes.
    class_checks: Vec<Check<'j>>,
    /// Constraints on `unique.*` targets, run for every node.
    node_checks: Vec<Check<'j>>,
    memo: BTreeMap<String, Filters>,
    /// For each computed class seen, whether its class checks passed
    /// (Nomad's `ClassEligibility`, for blocked evaluations).
    pub class_eligibility: BTreeMap<String, bool>,
}

impl<'j> GroupFeasibility<'j> {
    /// Prepares the checks of `group` (with the job's constraints).
    pub fn new(job: &'j Job, group: &'j TaskGroup) -> Self {
        let mut class_checks = Vec::new();
        let mut node_checks = Vec::new();
        let constraints = job
            .constraints
            .iter()
            .chain(&group.constraints)
            .chain(group.tasks.iter().flat_map(|task| &task.constraints));
        for constraint in constraints {
            let check = constraint_check(constraint);
            if target_escapes_class(&constraint.l_target)
                || target_escapes_class(&constraint.r_target)
            {
                node_checks.push(check);
            } else {
                class_checks.push(check);
            }
        }

        let mut drivers: Vec<&str> = group
            .tasks
            .iter()
            .map(|task| task.driver.as_str())
            .filter(|driver| !driver.is_empty())
            .collect();
        drivers.sort_unstable();
        drivers.dedup();
        if !drivers.is_empty() {
            class_checks.push(Check::Drivers(drivers));
        }

        let mut matchers = Vec::new();
        for request in group.tasks.iter().flat_map(|task| &task.resources.devices) {
            match DeviceRequestMatcher::new(request) {
                Ok(matcher) => matchers.push(matcher),
                Err(reason) => class_checks.push(Check::Broken {
                    key: "missing devices".to_owned(),
                    reason: format!("device request {:?}: {reason}", request.name),
                }),
            }
        }
        if !matchers.is_empty() {
            class_checks.push(Check::Devices(matchers));
        }

        class_checks.push(Check::Network(group));

        let volumes: Vec<&str> = group
            .volumes
            .values()
            .filter(|volume| volume.r#type.is_empty() || volume.r#type == "host")
            .map(|volume| volume.source.as_str())
            .collect();
        if !volumes.is_empty() {
            class_checks.push(Check::HostVolumes(volumes));
        }

        GroupFeasibility {
            class_checks,
            node_checks,
            memo: BTreeMap::new(),
            class_eligibility: BTreeMap::new(),
        }
    }

    /// Whether some constraint escapes the computed class.
    pub fn escapes_class(&self) -> bool {
        !self.node_checks.is_empty()
    }

    /// The filters `node` fails (empty when feasible). Class checks are
    /// answered from the memo after the first node of a class; a node
    /// without a computed class is checked in full.
    pub fn check(&mut self, node: &Node) -> Filters {
        let class_filters = if node.computed_class.is_empty() {
            run_all(&self.class_checks, node)
        } else if let Some(filters) = self.memo.get(&node.computed_class) {
            filters.clone()
        } else {
            let filters = run_all(&self.class_checks, node);
            self.class_eligibility
                .insert(node.computed_class.clone(), filters.is_empty());
            self.memo
                .insert(node.computed_class.clone(), filters.clone());
            filters
        };
        if self.node_checks.is_empty() {
            return class_filters;
        }
        let node_filters = run_all(&self.node_checks, node);
        if node_filters.is_empty() {
            class_filters
        } else if class_filters.is_empty() {
            node_filters
        } else {
            class_filters
                .iter()
                .chain(node_filters.iter())
                .cloned()
                .collect()
        }
    }
}

fn constraint_check(constraint: &Constraint) -> Check<'static> {
    match ConstraintChecker::new(constraint) {
        Ok(checker) => Check::Constraint(checker),
        Err(reason) => Check::Broken {
            key: crate::feasibility::check_constraint(constraint, &Node::default())
                .err()
                .map_or_else(|| constraint.l_target.clone(), |miss| miss.constraint),
            reason,
        },
    }
}

fn run_all(checks: &[Check<'_>], node: &Node) -> Filters {
    let failures: Vec<NodeFilter> = checks.iter().filter_map(|check| check.run(node)).collect();
    failures.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DriverInfo, Task};

    fn node(class: &str, kernel: &str, docker: bool) -> Node {
        let mut node = Node {
            name: format!("{kernel}-{docker}"),
            computed_class: class.to_owned(),
            attributes: [("kernel.name".to_owned(), kernel.to_owned())]
                .into_iter()
                .collect(),
            ..Node::default()
        };
        node.drivers.insert(
            "docker".into(),
            DriverInfo {
                detected: docker,
                healthy: docker,
                ..DriverInfo::default()
            },
        );
        node
    }

    fn job() -> Job {
        Job {
            constraints: vec![Constraint::new("${attr.kernel.name}", "=", "linux")],
            task_groups: vec![TaskGroup {
                name: "web".into(),
                tasks: vec![Task {
                    name: "app".into(),
                    driver: "docker".into(),
                    ..Task::default()
                }],
                ..TaskGroup::default()
            }],
            ..Job::default()
        }
    }

    #[test]
    fn reports_every_failing_check() {
        let job = job();
        let mut feasibility = GroupFeasibility::new(&job, &job.task_groups[0]);
        assert!(feasibility.check(&node("", "linux", true)).is_empty());
        let filters = feasibility.check(&node("", "darwin", false));
        let keys: Vec<&str> = filters.iter().map(|f| f.key.as_str()).collect();
        assert_eq!(keys, ["${attr.kernel.name} = linux", "missing drivers"]);
        assert!(filters[1].detail.contains("docker"));
    }

    #[test]
    fn memo_answers_for_the_whole_class() {
        let job = job();
        let mut feasibility = GroupFeasibility::new(&job, &job.task_groups[0]);
        // Same class string, different contents: the memo answers from the
        // first node, which is the point of classes (they hash the same).
        assert!(feasibility.check(&node("v1:a", "linux", true)).is_empty());
        assert!(feasibility.check(&node("v1:a", "darwin", false)).is_empty());
        assert!(!feasibility.check(&node("v1:b", "darwin", true)).is_empty());
        assert_eq!(
            feasibility.class_eligibility,
            [("v1:a".to_owned(), true), ("v1:b".to_owned(), false)]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn unique_constraints_run_per_node() {
        let mut job = job();
        job.constraints
            .push(Constraint::new("${node.unique.name}", "!=", "darwin-true"));
        let mut feasibility = GroupFeasibility::new(&job, &job.task_groups[0]);
        assert!(feasibility.escapes_class());
        let mut a = node("v1:a", "linux", true);
        a.name = "ok".into();
        assert!(feasibility.check(&a).is_empty());
        let mut b = node("v1:a", "linux", true);
        b.name = "darwin-true".into();
        let filters = feasibility.check(&b);
        assert_eq!(filters.len(), 1);
        assert_eq!(filters[0].key, "${node.unique.name} != darwin-true");
    }

    #[test]
    fn legacy_driver_attribute() {
        let mut node = Node::default();
        node.attributes.insert("driver.exec".into(), "1".into());
        assert!(driver_usable(&node, "exec"));
        assert!(!driver_usable(&node, "docker"));
    }
}
