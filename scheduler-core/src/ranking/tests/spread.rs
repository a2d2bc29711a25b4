//! `SpreadScorer`: target mode (with the implicit remainder and unlisted
//! values), even mode, several blocks, and counts fed by add/remove.

use super::{group, placed_node, spread};
use crate::model::{Job, Node, Spread};
use crate::ranking::SpreadScorer;

fn dc(name: &str) -> Node {
    placed_node(name, name, &[], &[])
}

fn rack(dc: &str, rack: &str) -> Node {
    placed_node(&format!("{dc}-{rack}"), dc, &[("rack", rack)], &[])
}

/// A scorer for a group of `count` with `spreads` at group level.
fn group_scorer(count: i64, spreads: Vec<Spread>) -> SpreadScorer {
    let mut group = group(count);
    group.spreads = spreads;
    SpreadScorer::new(&Job::default(), &group)
}

/// Each `(node, expected)` in turn.
#[track_caller]
fn check(scorer: &SpreadScorer, cases: &[(&Node, Option<f64>)]) {
    for (node, expected) in cases {
        let actual = scorer.score(node);
        assert!(
            match (actual, expected) {
                (Some(a), Some(e)) => (a - e).abs() < super::EPSILON,
                (None, None) => true,
                _ => false,
            },
            "node in {}: expected {expected:?}, got {actual:?}",
            node.datacenter
        );
    }
}

#[test]
fn no_spreads_means_no_component() {
    let scorer = group_scorer(3, vec![]);
    assert!(scorer.is_empty());
    assert_eq!(scorer.score(&dc("dc1")), None);
    assert!(scorer.attributes().is_empty());
    assert_eq!(scorer.first_attribute(), None);
}

#[test]
fn targets_with_the_implicit_remainder() {
    // count 10: dc1 70 % → 7, dc2 20 % → 2, implicit * → 10 − 9 = 1.
    // One block, so weight / Σweights = 1.
    let mut scorer = group_scorer(
        10,
        vec![spread(
            "${node.datacenter}",
            100,
            &[("dc1", 70), ("dc2", 20)],
        )],
    );
    assert!(!scorer.is_empty());
    check(
        &scorer,
        &[
            (&dc("dc1"), Some((7.0 - 1.0) / 7.0)),
            (&dc("dc2"), Some((2.0 - 1.0) / 2.0)),
            // (1 − 1) / 1 = 0: a zero spread adds no component.
            (&dc("dc3"), None),
        ],
    );

    // One allocation in dc3 uses up the implicit target for *every*
    // unlisted value: dc4 now scores (1 − 2) / 1.
    scorer.add(&dc("dc3"));
    check(
        &scorer,
        &[
            (&dc("dc3"), Some(-1.0)),
            (&dc("dc4"), Some(-1.0)),
            (&dc("dc1"), Some(6.0 / 7.0)),
        ],
    );

    // Three in dc1: (7 − 4) / 7; one removed: (7 − 3) / 7.
    for _ in 0..3 {
        scorer.add(&dc("dc1"));
    }
    check(&scorer, &[(&dc("dc1"), Some(3.0 / 7.0))]);
    scorer.remove(&dc("dc1"));
    check(&scorer, &[(&dc("dc1"), Some(4.0 / 7.0))]);
    assert_eq!(scorer.count("dc1"), 2);

    // dc2 over its share: two placed, (2 − 3) / 2.
    scorer.add(&dc("dc2"));
    scorer.add(&dc("dc2"));
    check(&scorer, &[(&dc("dc2"), Some(-0.5))]);

    assert_eq!(scorer.attributes(), vec!["dc1", "dc2", "dc3"]);
    assert_eq!(scorer.first_attribute(), Some("${node.datacenter}"));
    assert_eq!(scorer.first_value(&dc("dc4")), Some("dc4".to_owned()));
}

#[test]
fn an_unlisted_value_without_remainder_scores_minus_one() {
    // 50 + 50 = 100 %: nothing left for *, so dc3 is not wanted at all.
    let scorer = group_scorer(
        4,
        vec![spread(
            "${node.datacenter}",
            50,
            &[("dc1", 50), ("dc2", 50)],
        )],
    );
    check(
        &scorer,
        &[
            (&dc("dc3"), Some(-1.0)),
            (&dc("dc1"), Some((2.0 - 1.0) / 2.0)),
        ],
    );
}

#[test]
fn a_zero_percent_target_scores_minus_one() {
    let scorer = group_scorer(
        4,
        vec![spread(
            "${node.datacenter}",
            50,
            &[("dc1", 100), ("dc2", 0)],
        )],
    );
    check(
        &scorer,
        &[
            (&dc("dc2"), Some(-1.0)),
            (&dc("dc1"), Some((4.0 - 1.0) / 4.0)),
        ],
    );
}

#[test]
fn a_missing_attribute_scores_minus_one_in_both_modes() {
    let targeted = group_scorer(4, vec![spread("${meta.rack}", 50, &[("r1", 100)])]);
    let even = group_scorer(4, vec![spread("${meta.rack}", 50, &[])]);
    // The node has no `rack` meta; even mode says −1 even before anything
    // is placed (where present values would score 0).
    check(&targeted, &[(&dc("dc1"), Some(-1.0))]);
    check(
        &even,
        &[(&dc("dc1"), Some(-1.0)), (&rack("dc1", "r1"), None)],
    );
    // And counting such a node changes nothing.
    let mut even = even;
    even.add(&dc("dc1"));
    assert!(even.attributes().is_empty());
}

#[test]
fn blocks_are_weighted_by_their_share_of_the_weights() {
    // Job: datacenter 60 (dc1 50 %, dc2 50 %); group: rack 40 (r1 100 %).
    // count 4 → dc desired 2, rack desired 4; Σweights = 100.
    let job = Job {
        spreads: vec![spread(
            "${node.datacenter}",
            60,
            &[("dc1", 50), ("dc2", 50)],
        )],
        ..Job::default()
    };
    let mut group = group(4);
    group.spreads = vec![spread("${meta.rack}", 40, &[("r1", 100)])];
    let mut scorer = SpreadScorer::new(&job, &group);
    // dc1/r1: (2 − 1)/2 × 0.6 + (4 − 1)/4 × 0.4 = 0.3 + 0.3.
    check(&scorer, &[(&rack("dc1", "r1"), Some(0.6))]);
    // dc1/r2: 0.3 − 1 (r2 is not wanted, unweighted).
    check(&scorer, &[(&rack("dc1", "r2"), Some(0.3 - 1.0))]);

    scorer.add(&rack("dc1", "r1"));
    scorer.add(&rack("dc1", "r1"));
    // dc1/r1: (2 − 3)/2 × 0.6 + (4 − 3)/4 × 0.4 = −0.3 + 0.1.
    check(&scorer, &[(&rack("dc1", "r1"), Some(-0.2))]);
    // dc2/r1: (2 − 1)/2 × 0.6 + 0.1 = 0.4.
    check(&scorer, &[(&rack("dc2", "r1"), Some(0.4))]);
    // The first block is the job's: its values are what `attributes` lists.
    assert_eq!(scorer.attributes(), vec!["dc1", "dc2"]);
}

#[test]
fn even_spread() {
    // Weight 30 is ignored in even mode.
    let mut scorer = group_scorer(6, vec![spread("${node.datacenter}", 30, &[])]);
    // Nothing placed: 0 everywhere, so no component.
    check(&scorer, &[(&dc("dc1"), None), (&dc("dc2"), None)]);

    // {dc1: 1}: dc1 is at min = max → −1; dc2 has none → (1 − 0)/1 = 1.
    scorer.add(&dc("dc1"));
    check(
        &scorer,
        &[(&dc("dc1"), Some(-1.0)), (&dc("dc2"), Some(1.0))],
    );

    // {dc1: 1, dc2: 1}: all equal → −1; dc3 → 1.
    scorer.add(&dc("dc2"));
    check(
        &scorer,
        &[
            (&dc("dc1"), Some(-1.0)),
            (&dc("dc2"), Some(-1.0)),
            (&dc("dc3"), Some(1.0)),
        ],
    );

    // {dc1: 3, dc2: 2}: dc1 above min → (2 − 3)/2; dc2 at min below max →
    // (3 − 2)/2; dc3 empty → (2 − 0)/2.
    scorer.add(&dc("dc1"));
    scorer.add(&dc("dc1"));
    scorer.add(&dc("dc2"));
    check(
        &scorer,
        &[
            (&dc("dc1"), Some(-0.5)),
            (&dc("dc2"), Some(0.5)),
            (&dc("dc3"), Some(1.0)),
        ],
    );
    assert_eq!(scorer.attributes(), vec!["dc1", "dc2"]);
}

#[test]
fn removing_down_to_zero_forgets_the_value() {
    let mut scorer = group_scorer(4, vec![spread("${node.datacenter}", 50, &[])]);
    scorer.add(&dc("dc1"));
    scorer.add(&dc("dc1"));
    scorer.add(&dc("dc2"));
    scorer.remove(&dc("dc2"));
    // {dc1: 2}: dc2 is a fresh value again → (2 − 0)/2 = 1; dc1 at min = max.
    check(
        &scorer,
        &[(&dc("dc2"), Some(1.0)), (&dc("dc1"), Some(-1.0))],
    );
    assert_eq!(scorer.count("dc2"), 0);
    assert_eq!(scorer.attributes(), vec!["dc1"]);

    // Removing what was never counted changes nothing and does not panic.
    scorer.remove(&dc("dc9"));
    scorer.remove(&dc("dc2"));
    assert_eq!(scorer.count("dc1"), 2);

    // Back to nothing placed: 0 → no component.
    scorer.remove(&dc("dc1"));
    scorer.remove(&dc("dc1"));
    check(&scorer, &[(&dc("dc1"), None)]);
}

#[test]
fn even_blocks_add_up_unweighted() {
    // Two even blocks: {dc1: 1} and {r1: 1} after one placement on dc1/r1.
    let mut scorer = group_scorer(
        4,
        vec![
            spread("${node.datacenter}", 80, &[]),
            spread("${meta.rack}", 20, &[]),
        ],
    );
    scorer.add(&rack("dc1", "r1"));
    check(
        &scorer,
        &[
            // −1 + −1
            (&rack("dc1", "r1"), Some(-2.0)),
            // 1 + 1
            (&rack("dc2", "r2"), Some(2.0)),
            // 1 − 1 = 0: no component.
            (&rack("dc2", "r1"), None),
        ],
    );
}

#[test]
fn zero_count_group_wants_nothing() {
    let scorer = group_scorer(0, vec![spread("${node.datacenter}", 50, &[("dc1", 100)])]);
    check(
        &scorer,
        &[(&dc("dc1"), Some(-1.0)), (&dc("dc2"), Some(-1.0))],
    );
}
