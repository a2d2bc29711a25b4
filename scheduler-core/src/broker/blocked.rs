//! Blocked evaluations: Nomad's `blocked_evals.go` as a pure state machine.
//!
//! An evaluation that could not place everything is blocked until capacity
//! it could use appears. Capacity is announced per computed node class
//! ([`BlockedEvals::unblock`]); which evaluations a class wakes is
//! [`unblocked_by`]'s decision. Each job has at most one blocked
//! evaluation: the newest. The caller enqueues what comes back unblocked in
//! the [`EvalBroker`](super::EvalBroker) and cancels what comes back
//! superseded.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{JobKey, job_key};
use crate::model::{EvalId, EvalTrigger, Evaluation, JobId, Namespace};
use crate::scheduler::blocked::unblocked_by;

/// What became of an evaluation passed to [`BlockedEvals::block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockStatus {
    /// Now the job's blocked evaluation.
    Blocked,
    /// Capacity it could use appeared after the snapshot it was scheduled
    /// against (a missed unblock), so it was not kept: it is in
    /// [`BlockOutcome::enqueue`].
    Unblocked,
    /// The job already has a newer blocked evaluation: this one was not kept
    /// and is in [`BlockOutcome::cancel`].
    Superseded,
    /// An evaluation with this id is already blocked; nothing changed.
    AlreadyBlocked,
    /// The tracker is disabled (not the leader); ignored.
    Disabled,
}

/// The result of [`BlockedEvals::block`]: what happened, and what the
/// caller must now do.
#[derive(Debug, Clone, PartialEq)]
#[must_use = "evaluations to cancel or enqueue must be handed on"]
pub struct BlockOutcome {
    /// What became of the evaluation passed in.
    pub status: BlockStatus,
    /// An evaluation to enqueue in the broker now: the one passed in, when
    /// it missed an unblock.
    pub enqueue: Option<Evaluation>,
    /// An evaluation to write back as cancelled: the job's older blocked
    /// evaluation it displaced, or the one passed in when superseded.
    pub cancel: Option<Evaluation>,
}

impl BlockOutcome {
    fn new(status: BlockStatus) -> Self {
        BlockOutcome {
            status,
            enqueue: None,
            cancel: None,
        }
    }
}

/// Counts of blocked evaluations, with Nomad's field names.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct BlockedStats {
    /// Evaluations blocked.
    pub total_blocked: usize,
    /// Of those, evaluations whose constraints escaped the computed class
    /// (any capacity change wakes them).
    pub total_escaped: usize,
    /// Computed classes with a recorded unblock index.
    pub total_unblock_indexes: usize,
}

/// The blocked-evaluation tracker, without clocks or threads. Starts
/// enabled.
#[derive(Debug, Clone)]
pub struct BlockedEvals {
    enabled: bool,
    /// The blocked evaluation of each job.
    by_job: BTreeMap<JobKey, Evaluation>,
    /// The job of each blocked evaluation id.
    jobs: BTreeMap<EvalId, JobKey>,
    /// The latest index at which capacity appeared, per computed class.
    unblock_indexes: BTreeMap<String, u64>,
}

impl Default for BlockedEvals {
    fn default() -> Self {
        BlockedEvals::new()
    }
}

/// How recent an evaluation's view is: the later of its creation and its
/// snapshot (Nomad's `latestEvalIndex`).
fn latest_index(eval: &Evaluation) -> u64 {
    eval.create_index.max(eval.snapshot_index)
}

impl BlockedEvals {
    /// An empty, enabled tracker.
    pub fn new() -> Self {
        BlockedEvals {
            enabled: true,
            by_job: BTreeMap::new(),
            jobs: BTreeMap::new(),
            unblock_indexes: BTreeMap::new(),
        }
    }

    /// Whether the tracker accepts evaluations.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Enables or disables the tracker (gaining or losing leadership).
    /// Disabling drops every blocked evaluation and unblock index.
    pub fn set_enabled(&mut self, enabled: bool) {
        self.enabled = enabled;
        if !enabled {
            self.by_job.clear();
            self.jobs.clear();
            self.unblock_indexes.clear();
        }
    }

    /// Blocks an evaluation, keeping one per job: of the job's current and
    /// this one, the one with the later view (create or snapshot index;
    /// the new one on a tie) stays and the other comes back to be cancelled.
    /// If capacity it could use appeared after its snapshot (an unblock
    /// for a class [`unblocked_by`] accepts, at a later index), it is not
    /// kept but handed back to enqueue: the scheduler ran against a
    /// snapshot that predates the capacity.
    pub fn block(&mut self, eval: Evaluation) -> BlockOutcome {
        if !self.enabled {
            return BlockOutcome::new(BlockStatus::Disabled);
        }
        if self.jobs.contains_key(&eval.id) {
            return BlockOutcome::new(BlockStatus::AlreadyBlocked);
        }
        let job = job_key(&eval);
        let replaced = match self.by_job.get(&job) {
            Some(existing) if latest_index(existing) > latest_index(&eval) => {
                return BlockOutcome {
                    cancel: Some(eval),
                    ..BlockOutcome::new(BlockStatus::Superseded)
                };
            }
            Some(_) => self.remove_job(&job),
            None => None,
        };
        if self.missed_unblock(&eval) {
            return BlockOutcome {
                status: BlockStatus::Unblocked,
                enqueue: Some(eval),
                cancel: replaced,
            };
        }
        self.jobs.insert(eval.id.clone(), job.clone());
        self.by_job.insert(job, eval);
        BlockOutcome {
            cancel: replaced,
            ..BlockOutcome::new(BlockStatus::Blocked)
        }
    }

    /// Capacity appeared on a node of `computed_class` at Raft `index`:
    /// removes and returns the blocked evaluations that could use it, in
    /// (namespace, job) order, for the caller to enqueue. The index is
    /// remembered for [`BlockedEvals::block`]'s missed-unblock check.
    pub fn unblock(&mut self, computed_class: &str, index: u64) -> Vec<Evaluation> {
        if !self.enabled {
            return Vec::new();
        }
        let recorded = self
            .unblock_indexes
            .entry(computed_class.to_owned())
            .or_insert(index);
        *recorded = (*recorded).max(index);
        self.remove_where(|eval| unblocked_by(eval, computed_class))
    }

    /// Removes and returns the blocked evaluations created because the plan
    /// was rejected too many times (`max-plan-attempts`), which no capacity
    /// change wakes; Nomad's leader retries them periodically.
    pub fn unblock_failed(&mut self) -> Vec<Evaluation> {
        self.remove_where(|eval| eval.triggered_by == EvalTrigger::MaxPlans)
    }

    /// Removes and returns every blocked evaluation, in (namespace, job)
    /// order (for instance after a scheduler configuration change).
    pub fn unblock_all(&mut self) -> Vec<Evaluation> {
        self.jobs.clear();
        std::mem::take(&mut self.by_job).into_values().collect()
    }

    /// Stops tracking a job (deregistered, or an evaluation of it completed
    /// with everything placed): returns its blocked evaluation, if any, for
    /// the caller to cancel.
    pub fn untrack(&mut self, namespace: &Namespace, job_id: &JobId) -> Option<Evaluation> {
        self.remove_job(&(namespace.clone(), job_id.clone()))
    }

    /// Forgets unblock indexes at or below `index` (Nomad prunes old ones):
    /// safe once no evaluation being scheduled has an older snapshot.
    pub fn prune_unblock_indexes(&mut self, index: u64) {
        self.unblock_indexes.retain(|_, at| *at > index);
    }

    /// The job's blocked evaluation.
    pub fn get(&self, namespace: &Namespace, job_id: &JobId) -> Option<&Evaluation> {
        self.by_job.get(&(namespace.clone(), job_id.clone()))
    }

    /// Whether an evaluation with this id is blocked.
    pub fn contains(&self, eval_id: &EvalId) -> bool {
        self.jobs.contains_key(eval_id)
    }

    /// Blocked evaluations, in (namespace, job) order.
    pub fn iter(&self) -> impl Iterator<Item = &Evaluation> {
        self.by_job.values()
    }

    /// How many evaluations are blocked.
    pub fn len(&self) -> usize {
        self.by_job.len()
    }

    /// Whether no evaluation is blocked.
    pub fn is_empty(&self) -> bool {
        self.by_job.is_empty()
    }

    /// Counts.
    pub fn stats(&self) -> BlockedStats {
        BlockedStats {
            total_blocked: self.by_job.len(),
            total_escaped: self
                .by_job
                .values()
                .filter(|e| e.escaped_computed_class)
                .count(),
            total_unblock_indexes: self.unblock_indexes.len(),
        }
    }

    /// Whether a class `eval` could use got capacity after its snapshot.
    fn missed_unblock(&self, eval: &Evaluation) -> bool {
        self.unblock_indexes
            .iter()
            .any(|(class, &index)| eval.snapshot_index < index && unblocked_by(eval, class))
    }

    fn remove_job(&mut self, job: &JobKey) -> Option<Evaluation> {
        let eval = self.by_job.remove(job)?;
        self.jobs.remove(&eval.id);
        Some(eval)
    }

    fn remove_where(&mut self, wake: impl Fn(&Evaluation) -> bool) -> Vec<Evaluation> {
        let jobs: Vec<JobKey> = self
            .by_job
            .iter()
            .filter(|(_, eval)| wake(eval))
            .map(|(job, _)| job.clone())
            .collect();
        jobs.iter().filter_map(|job| self.remove_job(job)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(id: &str, job: &str, create_index: u64, snapshot_index: u64) -> Evaluation {
        Evaluation {
            id: EvalId::new(id),
            namespace: Namespace::new("default"),
            job_id: JobId::new(job),
            eval_type: "service".into(),
            create_index,
            modify_index: create_index,
            snapshot_index,
            ..Evaluation::default()
        }
    }

    fn with_classes(mut e: Evaluation, classes: &[(&str, bool)]) -> Evaluation {
        for (class, ok) in classes {
            e.class_eligibility.insert((*class).to_owned(), *ok);
        }
        e
    }

    fn ids(evals: &[Evaluation]) -> Vec<&str> {
        evals.iter().map(|e| e.id.as_str()).collect()
    }

    #[test]
    fn one_blocked_eval_per_job_the_newest() {
        let mut blocked = BlockedEvals::new();
        assert_eq!(
            blocked.block(eval("a", "web", 10, 10)),
            BlockOutcome::new(BlockStatus::Blocked)
        );
        // Newer replaces older, which comes back to cancel.
        let outcome = blocked.block(eval("b", "web", 20, 20));
        assert_eq!(outcome.status, BlockStatus::Blocked);
        assert_eq!(outcome.cancel, Some(eval("a", "web", 10, 10)));
        assert_eq!(outcome.enqueue, None);
        // Older than the one kept: itself superseded.
        let outcome = blocked.block(eval("c", "web", 15, 15));
        assert_eq!(outcome.status, BlockStatus::Superseded);
        assert_eq!(outcome.cancel, Some(eval("c", "web", 15, 15)));
        assert_eq!(
            blocked.block(eval("b", "web", 20, 20)).status,
            BlockStatus::AlreadyBlocked
        );
        assert_eq!(blocked.len(), 1);
        assert!(blocked.contains(&EvalId::new("b")));
        assert!(!blocked.contains(&EvalId::new("a")));
        let ns = Namespace::new("default");
        assert_eq!(
            blocked.get(&ns, &JobId::new("web")).unwrap().id.as_str(),
            "b"
        );
        // Other namespaces are other jobs.
        let mut other = eval("d", "web", 5, 5);
        other.namespace = Namespace::new("prod");
        assert_eq!(
            blocked.block(other),
            BlockOutcome::new(BlockStatus::Blocked)
        );
        assert_eq!(blocked.len(), 2);
    }

    #[test]
    fn unblock_wakes_only_evals_the_class_could_help() {
        let mut blocked = BlockedEvals::new();
        let small_only = with_classes(eval("a", "a", 1, 1), &[("small", true), ("big", false)]);
        let big_only = with_classes(eval("b", "b", 1, 1), &[("small", false), ("big", true)]);
        let mut escaped = with_classes(eval("c", "c", 1, 1), &[("small", false), ("big", false)]);
        escaped.escaped_computed_class = true;
        let never_saw = eval("d", "d", 1, 1);
        for e in [small_only, big_only, escaped, never_saw] {
            assert!(blocked.block(e).status == BlockStatus::Blocked);
        }
        assert_eq!(blocked.stats().total_escaped, 1);
        assert_eq!(ids(&blocked.unblock("big", 5)), ["b", "c", "d"]);
        assert_eq!(ids(&blocked.unblock("big", 6)), Vec::<&str>::new());
        assert_eq!(ids(&blocked.unblock("small", 7)), ["a"]);
        assert!(blocked.is_empty());
    }

    #[test]
    fn missed_unblock_hands_the_eval_back() {
        let mut blocked = BlockedEvals::new();
        assert!(blocked.unblock("big", 50).is_empty());
        // Scheduled against snapshot 40, before capacity on "big" at 50.
        let stale = with_classes(eval("a", "a", 40, 40), &[("big", true)]);
        assert_eq!(
            blocked.block(stale.clone()),
            BlockOutcome {
                status: BlockStatus::Unblocked,
                enqueue: Some(stale),
                cancel: None,
            }
        );
        // Never saw the class: it might fit there too.
        let unseen = eval("b", "b", 40, 40);
        assert!(blocked.block(unseen).status == BlockStatus::Unblocked);
        // Ineligible for the class: blocks.
        let ineligible = with_classes(eval("c", "c", 40, 40), &[("big", false)]);
        assert!(blocked.block(ineligible).status == BlockStatus::Blocked);
        // Snapshot at or after the unblock: blocks.
        let fresh = with_classes(eval("d", "d", 50, 50), &[("big", true)]);
        assert!(blocked.block(fresh).status == BlockStatus::Blocked);
        assert_eq!(blocked.len(), 2);
        // A stale newer eval still displaces the job's blocked one.
        let newer = with_classes(eval("e", "d", 45, 49), &[("big", true)]);
        let outcome = blocked.block(newer);
        assert_eq!(outcome.status, BlockStatus::Superseded);
        assert_eq!(outcome.cancel.unwrap().id.as_str(), "e");
        let newest = with_classes(eval("f", "c", 60, 45), &[("big", true)]);
        let outcome = blocked.block(newest);
        assert_eq!(outcome.status, BlockStatus::Unblocked);
        assert_eq!(outcome.enqueue.unwrap().id.as_str(), "f");
        assert_eq!(outcome.cancel.unwrap().id.as_str(), "c");
        // Pruning forgets the index.
        blocked.prune_unblock_indexes(50);
        assert_eq!(blocked.stats().total_unblock_indexes, 0);
        let stale = with_classes(eval("g", "g", 40, 40), &[("big", true)]);
        assert!(blocked.block(stale).status == BlockStatus::Blocked);
    }

    #[test]
    fn unblock_indexes_never_go_back() {
        let mut blocked = BlockedEvals::new();
        let _ = blocked.unblock("big", 50);
        let _ = blocked.unblock("big", 30);
        let stale = with_classes(eval("a", "a", 40, 40), &[("big", true)]);
        assert!(blocked.block(stale).status == BlockStatus::Unblocked);
    }

    #[test]
    fn untrack_unblock_failed_unblock_all_and_disable() {
        let mut blocked = BlockedEvals::new();
        let mut max_plans = eval("a", "a", 1, 1);
        max_plans.triggered_by = EvalTrigger::MaxPlans;
        for e in [max_plans, eval("b", "b", 1, 1), eval("c", "c", 1, 1)] {
            assert!(blocked.block(e).status == BlockStatus::Blocked);
        }
        assert_eq!(ids(&blocked.unblock_failed()), ["a"]);
        let ns = Namespace::new("default");
        assert_eq!(
            blocked.untrack(&ns, &JobId::new("b")).map(|e| e.id),
            Some(EvalId::new("b"))
        );
        assert_eq!(blocked.untrack(&ns, &JobId::new("b")), None);
        assert!(!blocked.contains(&EvalId::new("b")));
        assert_eq!(ids(&blocked.unblock_all()), ["c"]);
        assert!(blocked.is_empty());

        assert!(blocked.block(eval("d", "d", 1, 1)).status == BlockStatus::Blocked);
        let _ = blocked.unblock("x", 9);
        blocked.set_enabled(false);
        assert_eq!(blocked.stats(), BlockedStats::default());
        assert_eq!(
            blocked.block(eval("e", "e", 1, 1)).status,
            BlockStatus::Disabled
        );
        assert!(blocked.unblock("x", 10).is_empty());
        blocked.set_enabled(true);
        assert!(blocked.is_enabled());
        assert!(blocked.block(eval("e", "e", 1, 1)).status == BlockStatus::Blocked);
    }

    #[test]
    fn stats_serialise_with_nomad_names() {
        let json = serde_json::to_value(BlockedStats::default()).unwrap();
        assert_eq!(json["TotalBlocked"], 0);
        assert_eq!(json["TotalEscaped"], 0);
    }
}
