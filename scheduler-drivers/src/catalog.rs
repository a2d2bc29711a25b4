//! The service catalog: services that allocations registered, with the
//! status of their checks, queryable by name and tag (what Nomad calls
//! native service discovery). Updated by check status changes only.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::checks::{CheckStatus, CheckUpdate};

/// One instance of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceInstance {
    /// Unique per instance: `<alloc id>/<task>/<service>/<port label>`.
    pub id: String,
    /// The service's name.
    pub service_name: String,
    /// Its tags.
    pub tags: Vec<String>,
    /// The allocation that runs it.
    pub alloc_id: String,
    /// The node it runs on.
    pub node_id: String,
    /// The address to reach it on.
    pub address: String,
    /// The port.
    pub port: u16,
    /// Its checks by id, with their current status.
    pub checks: BTreeMap<String, CheckStatus>,
}

impl ServiceInstance {
    /// Healthy: every check passes (an instance without checks is).
    pub fn passing(&self) -> bool {
        self.checks.values().all(|s| *s == CheckStatus::Passing)
    }
}

/// The catalog.
#[derive(Debug, Default)]
pub struct ServiceCatalog {
    instances: Mutex<BTreeMap<String, ServiceInstance>>,
}

impl ServiceCatalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds or replaces an instance.
    pub fn register(&self, instance: ServiceInstance) {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(instance.id.clone(), instance);
    }

    /// Removes an instance; whether it was there.
    pub fn deregister(&self, id: &str) -> bool {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id)
            .is_some()
    }

    /// Removes every instance of an allocation (it stopped).
    pub fn deregister_alloc(&self, alloc_id: &str) {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, instance| instance.alloc_id != alloc_id);
    }

    /// Records a check's new status on the instances that carry it;
    /// whether any did.
    pub fn apply(&self, update: &CheckUpdate) -> bool {
        let mut changed = false;
        for instance in self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values_mut()
        {
            if let Some(status) = instance.checks.get_mut(&update.id) {
                *status = update.status;
                changed = true;
            }
        }
        changed
    }

    /// Instances of `name`, with `tag` if given, passing only if asked;
    /// in id order.
    pub fn query(&self, name: &str, tag: Option<&str>, passing_only: bool) -> Vec<ServiceInstance> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|i| i.service_name == name)
            .filter(|i| tag.is_none_or(|t| i.tags.iter().any(|own| own == t)))
            .filter(|i| !passing_only || i.passing())
            .cloned()
            .collect()
    }

    /// Every instance, passing or not, in id order.
    pub fn instances(&self) -> Vec<ServiceInstance> {
        self.instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }

    /// Service names with their tags, as `service list` shows them.
    pub fn services(&self) -> BTreeMap<String, Vec<String>> {
        let mut services: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for instance in self
            .instances
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
        {
            let tags = services.entry(instance.service_name.clone()).or_default();
            for tag in &instance.tags {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
        for tags in services.values_mut() {
            tags.sort();
        }
        services
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(
        id: &str,
        name: &str,
        tags: &[&str],
        check: Option<CheckStatus>,
    ) -> ServiceInstance {
        ServiceInstance {
            id: id.to_owned(),
            service_name: name.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            alloc_id: id.split('/').next().unwrap().to_owned(),
            node_id: "n1".to_owned(),
            address: "10.0.0.1".to_owned(),
            port: 8080,
            checks: check
                .map(|s| BTreeMap::from([(format!("{id}/alive"), s)]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn queries_filter_by_name_tag_and_health_and_checks_update_them() {
        let catalog = ServiceCatalog::new();
        catalog.register(instance(
            "a1/web",
            "web",
            &["v1"],
            Some(CheckStatus::Critical),
        ));
        catalog.register(instance("a2/web", "web", &["v2"], None));
        catalog.register(instance("a3/db", "db", &["primary"], None));
        let ids = |found: Vec<ServiceInstance>| found.into_iter().map(|i| i.id).collect::<Vec<_>>();
        assert_eq!(ids(catalog.query("web", None, false)), ["a1/web", "a2/web"]);
        assert_eq!(ids(catalog.query("web", None, true)), ["a2/web"]);
        assert_eq!(ids(catalog.query("web", Some("v1"), false)), ["a1/web"]);
        assert!(catalog.apply(&CheckUpdate {
            id: "a1/web/alive".to_owned(),
            status: CheckStatus::Passing,
            output: String::new(),
        }));
        assert_eq!(ids(catalog.query("web", None, true)), ["a1/web", "a2/web"]);
        catalog.deregister_alloc("a2");
        assert_eq!(ids(catalog.query("web", None, false)), ["a1/web"]);
        assert_eq!(catalog.services()["db"], ["primary"]);
    }
}
