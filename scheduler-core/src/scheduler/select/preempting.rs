//! The preemption pass of [`GroupPlacer`]: nodes that were feasible but
//! full, reconsidered with lower-priority victims evicted.

use super::*;
use crate::ranking::score_card::PREEMPTION;

impl<'s, 'j> GroupPlacer<'s, 'j> {
    /// Remembers a feasible node without room, for preemption.
    pub(super) fn note_exhausted(&mut self, node: &'s Node) {
        if self.preemption
            && self.exhausted.len() < preempt::MAX_NODES
            && !self.exhausted_seen.contains(&node.id)
        {
            self.exhausted_seen.insert(node.id.clone());
            self.exhausted.push(node);
        }
    }

    /// The preemption pass: every node found exhausted, with victims
    /// evicted; the cheapest set wins, then the best score.
    pub(super) fn preempt_pass(
        &mut self,
        proposed: &mut Proposed<'s>,
        penalized: &BTreeSet<NodeId>,
        port_rng: &mut ChaCha8Rng,
        metric: &mut AllocMetric,
    ) -> Option<Choice<'s>> {
        if !self.preemption {
            return None;
        }
        let nodes = self.exhausted.clone();
        let options: Vec<PreemptOption<'s>> = nodes
            .into_iter()
            .filter_map(|node| self.preempt_option(node, proposed, penalized))
            .collect();
        self.finish_preempting(options, port_rng, metric)
    }

    /// Orders the options (cost, then score, then the order met) and
    /// finishes the first that gets its ports and cores.
    pub(super) fn finish_preempting(
        &self,
        mut options: Vec<PreemptOption<'s>>,
        port_rng: &mut ChaCha8Rng,
        metric: &mut AllocMetric,
    ) -> Option<Choice<'s>> {
        if options.is_empty() {
            return None;
        }
        options.sort_by(|a, b| {
            a.cost
                .compare(&b.cost)
                .then(b.candidate.score.total_cmp(&a.candidate.score))
        });
        let scored: Vec<Candidate<'s>> = options
            .iter()
            .map(|option| Candidate {
                node: option.candidate.node,
                card: option.candidate.card,
                score: option.candidate.score,
                devices: None,
            })
            .collect();
        record_scores(metric, &scored);
        for option in options {
            match self.finish(option.candidate, &option.usage, port_rng) {
                Ok(mut choice) => {
                    choice.preempted = option.preempted;
                    return Some(choice);
                }
                Err((node, exhausted)) => count_exhausted(metric, node, exhausted.dimension()),
            }
        }
        None
    }

    /// Whether evicting lower-priority allocations makes room on `node`,
    /// and at what cost.
    pub(super) fn preempt_option(
        &mut self,
        node: &'s Node,
        proposed: &mut Proposed<'s>,
        penalized: &BTreeSet<NodeId>,
    ) -> Option<PreemptOption<'s>> {
        if !self.feasibility.check(node).is_empty()
            || !self
                .rules
                .check(node, &self.group.name, proposed)
                .is_empty()
        {
            return None;
        }
        let eligible = preempt::eligible(self.snapshot, proposed, &node.id, self.job);
        if eligible.is_empty() {
            return None;
        }
        let usage = proposed.usage(node).clone();
        let tasks: Vec<(&str, &[DeviceRequestMatcher])> = self
            .devices
            .iter()
            .map(|(task, matchers)| (task.as_str(), matchers.as_slice()))
            .collect();
        let devices_fit = |usage: &NodeUsage| {
            tasks.is_empty() || assign_devices(node, &usage.devices, &tasks).is_ok()
        };
        let victims = preempt::choose_victims(node, &usage, &self.ask, &eligible, &devices_fit)?;
        let devices = if tasks.is_empty() {
            None
        } else {
            Some(assign_devices(node, &victims.usage.devices, &tasks).ok()?)
        };
        let (collisions, _) = proposed.job_allocs_on(&node.id, &self.group.name);
        let mut card = self.score(
            node,
            &victims.usage,
            collisions,
            penalized,
            None,
            devices.as_ref(),
        );
        let priority = self.job.priority();
        let preempted: Vec<Preempted<'s>> = victims
            .chosen
            .iter()
            .map(|&i| Preempted {
                alloc: eligible[i].alloc,
                priority: eligible[i].priority,
                explanation: preempt::explain(&eligible[i], priority, &victims),
            })
            .collect();
        if !preempted.is_empty() {
            let priorities: Vec<i64> = preempted.iter().map(|p| p.priority).collect();
            card.push(PREEMPTION, preempt::score(&priorities));
        }
        let score = card.final_score();
        Some(PreemptOption {
            candidate: Candidate {
                node,
                card,
                score,
                devices,
            },
            usage: victims.usage,
            cost: victims.cost,
            preempted,
        })
    }
}
