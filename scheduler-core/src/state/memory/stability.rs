//! Marking a kept job version stable or unstable (`job stable`, Nomad's
//! `Job.Stable`): a server-managed flag, not a change of specification.

use std::sync::Arc;

use super::{MemoryState, StateError};
use crate::model::JobId;

impl MemoryState {
    /// Sets `Stable` on version `version` of a job; whether that version
    /// is kept. The version's entry gets `ModifyIndex` `index`; when it is
    /// the current version, the current job does too (sharing the entry),
    /// its `Version` and `JobModifyIndex` unchanged. Writing the stability
    /// a version already has still moves its `ModifyIndex`, so the write's
    /// index always names the change. An unknown job or version changes
    /// nothing (the store's index still moves to `index`).
    pub fn set_job_stability(
        &mut self,
        index: u64,
        namespace: &str,
        id: &JobId,
        version: u64,
        stable: bool,
    ) -> Result<bool, StateError> {
        self.advance(index)?;
        let key = (namespace.to_owned(), id.clone());
        let current = self
            .current
            .jobs
            .get(&key)
            .filter(|job| job.version == version)
            .cloned();
        let kept = self
            .current
            .job_versions
            .get(&key)
            .and_then(|versions| versions.get(&version))
            .cloned();
        // The current job is the freshest copy of its version.
        let Some(source) = current.as_ref().or(kept.as_ref()) else {
            return Ok(false);
        };
        let mut job = crate::model::Job::clone(source);
        job.stable = stable;
        job.modify_index = index;
        let job = Arc::new(job);
        if current.is_some() {
            Arc::make_mut(&mut self.current.jobs).insert(key.clone(), job.clone());
        }
        let versions = Arc::make_mut(
            Arc::make_mut(&mut self.current.job_versions)
                .entry(key)
                .or_default(),
        );
        versions.insert(version, job);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Job;
    use crate::state::StateSnapshot;

    fn job(priority: i64) -> Job {
        Job {
            id: JobId::new("web"),
            namespace: "default".to_owned(),
            priority: Some(priority),
            ..Job::default()
        }
    }

    fn web() -> JobId {
        JobId::new("web")
    }

    /// A store with versions 0 (index 1) and 1 (index 2) of `web`.
    fn two_versions() -> MemoryState {
        let mut store = MemoryState::new();
        store.upsert_job(1, job(10)).expect("v0");
        store.upsert_job(2, job(20)).expect("v1");
        store
    }

    #[test]
    fn marking_the_current_version_updates_the_job_but_not_its_version() {
        let mut store = two_versions();
        let found = store
            .set_job_stability(5, "default", &web(), 1, true)
            .expect("write");
        assert!(found);
        let view = store.view();
        let current = view.job("default", &web()).expect("job");
        assert!(current.stable);
        assert_eq!(
            (
                current.version,
                current.job_modify_index,
                current.modify_index
            ),
            (1, 2, 5)
        );
        let entry = view.job_version("default", &web(), 1).expect("v1");
        assert_eq!(entry, current);
        assert!(std::ptr::eq(entry, current), "one shared copy");
        let older = view.job_version("default", &web(), 0).expect("v0");
        assert_eq!((older.stable, older.modify_index), (false, 1));
        assert_eq!(store.index(), 5);
    }

    #[test]
    fn marking_an_older_version_leaves_the_current_job_alone() {
        let mut store = two_versions();
        assert!(
            store
                .set_job_stability(3, "default", &web(), 0, true)
                .expect("write")
        );
        let view = store.view();
        let older = view.job_version("default", &web(), 0).expect("v0");
        assert_eq!(
            (older.stable, older.version, older.modify_index),
            (true, 0, 3)
        );
        assert_eq!(older.priority, Some(10), "the version's own spec");
        let current = view.job("default", &web()).expect("job");
        assert_eq!((current.stable, current.modify_index), (false, 2));
        // And back: unstable again, at a later index.
        store
            .set_job_stability(4, "default", &web(), 0, false)
            .expect("write");
        let older = store
            .view()
            .job_version("default", &web(), 0)
            .cloned()
            .expect("v0");
        assert_eq!((older.stable, older.modify_index), (false, 4));
    }

    #[test]
    fn unknown_jobs_and_versions_change_nothing_but_the_index() {
        let mut store = two_versions();
        let before = store.dump();
        assert!(
            !store
                .set_job_stability(3, "default", &web(), 7, true)
                .expect("write")
        );
        assert!(
            !store
                .set_job_stability(4, "other", &web(), 0, true)
                .expect("write")
        );
        assert!(
            !store
                .set_job_stability(5, "default", &JobId::new("nope"), 0, true)
                .expect("write")
        );
        let mut after = store.dump();
        assert_eq!(after.index, 5);
        after.index = before.index;
        assert_eq!(after, before);
        assert!(
            store
                .set_job_stability(4, "default", &web(), 0, true)
                .is_err()
        );
    }

    #[test]
    fn a_stability_change_is_not_a_new_version_on_the_next_register() {
        let mut store = two_versions();
        store
            .set_job_stability(3, "default", &web(), 1, true)
            .expect("write");
        // Registering the same specification again keeps version 1.
        let change = store.upsert_job(4, job(20)).expect("register");
        assert_eq!(change, crate::state::JobChange::Unchanged);
        let current = store.view().job("default", &web()).cloned().expect("job");
        assert_eq!((current.version, current.job_modify_index), (1, 2));
    }
}
