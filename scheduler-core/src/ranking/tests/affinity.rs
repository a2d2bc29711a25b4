//! `AffinityScorer`: job, group and task affinities, positive and negative.

use super::{affinity, assert_close_opt, group, placed_node};
use crate::model::{Job, Node};
use crate::ranking::AffinityScorer;

/// Job: datacenter = dc1 (weight 50, the default); group: rack = r1
/// (weight −25); task: kernel = linux (weight 100). Σ|w| = 175.
fn scorer() -> AffinityScorer {
    let job = Job {
        affinities: vec![affinity("${node.datacenter}", "=", "dc1", None)],
        ..Job::default()
    };
    let mut group = group(3);
    group.affinities = vec![affinity("${meta.rack}", "=", "r1", Some(-25))];
    group.tasks[0].affinities = vec![affinity("${attr.kernel.name}", "=", "linux", Some(100))];
    AffinityScorer::new(&job, &group)
}

fn node(dc: &str, rack: &str, kernel: &str) -> Node {
    placed_node("n", dc, &[("rack", rack)], &[("kernel.name", kernel)])
}

#[track_caller]
fn check(scorer: &AffinityScorer, node: &Node, expected: Option<f64>) {
    assert_close_opt(scorer.score(node), expected);
}

#[test]
fn matched_weights_over_the_sum_of_absolute_weights() {
    let scorer = scorer();
    assert!(!scorer.is_empty());
    // Everything matches: (50 − 25 + 100) / 175 = 5/7.
    check(&scorer, &node("dc1", "r1", "linux"), Some(125.0 / 175.0));
    // Only the task's affinity: 100 / 175.
    check(&scorer, &node("dc2", "r2", "linux"), Some(100.0 / 175.0));
    // Only the negative one: −25 / 175.
    check(&scorer, &node("dc2", "r1", "windows"), Some(-25.0 / 175.0));
    // The job's and the group's cancel out partly: (50 − 25) / 175.
    check(&scorer, &node("dc1", "r1", "windows"), Some(25.0 / 175.0));
}

#[test]
fn a_node_matching_nothing_still_gets_a_zero_component() {
    let score = scorer().score(&node("dc2", "r2", "windows"));
    assert_eq!(score, Some(0.0));
    // +0.0, not −0.0, so a rendered plan shows "0".
    assert!(score.unwrap().is_sign_positive());
}

#[test]
fn no_affinities_means_no_component() {
    let scorer = AffinityScorer::new(&Job::default(), &group(1));
    assert!(scorer.is_empty());
    assert_eq!(scorer.score(&node("dc1", "r1", "linux")), None);
}

#[test]
fn an_unusable_rule_never_matches_but_keeps_its_weight() {
    let mut group = group(1);
    group.affinities = vec![
        affinity("${node.datacenter}", "=", "dc1", Some(50)),
        affinity("${node.datacenter}", "bogus", "dc1", Some(50)),
        affinity("${node.datacenter}", "regexp", "([", Some(50)),
    ];
    let scorer = AffinityScorer::new(&Job::default(), &group);
    // 50 / 150
    check(&scorer, &node("dc1", "r1", "linux"), Some(1.0 / 3.0));
}

#[test]
fn operators_follow_the_constraint_checker() {
    let mut group = group(1);
    group.affinities = vec![
        affinity("${meta.rack}", "regexp", "^r[12]$", Some(40)),
        affinity("${meta.rack}", "!=", "r1", Some(-60)),
    ];
    let scorer = AffinityScorer::new(&Job::default(), &group);
    // r1: regexp matches, != does not → 40 / 100.
    check(&scorer, &node("dc1", "r1", "linux"), Some(0.4));
    // r2: both match → (40 − 60) / 100.
    check(&scorer, &node("dc1", "r2", "linux"), Some(-0.2));
    // r9: only != → −60 / 100.
    check(&scorer, &node("dc1", "r9", "linux"), Some(-0.6));
}

#[test]
fn all_zero_weights_score_zero_not_nan() {
    let mut group = group(1);
    group.affinities = vec![affinity("${node.datacenter}", "=", "dc1", Some(0))];
    let scorer = AffinityScorer::new(&Job::default(), &group);
    check(&scorer, &node("dc1", "r1", "linux"), Some(0.0));
}
