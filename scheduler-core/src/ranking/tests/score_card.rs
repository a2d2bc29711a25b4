//! `ScoreCard`: components in order and their mean.

use super::assert_close;
use crate::ranking::ScoreCard;
use crate::ranking::score_card::{BINPACK, JOB_ANTI_AFFINITY, NODE_AFFINITY};

#[test]
fn empty_card_scores_zero() {
    assert_eq!(ScoreCard::new().final_score(), 0.0);
}

#[test]
fn final_score_is_the_mean_of_what_was_added() {
    let mut card = ScoreCard::new();
    card.push(BINPACK, 0.8);
    card.push_some(JOB_ANTI_AFFINITY, Some(-0.5));
    card.push_some("allocation-spread", None);
    card.push(NODE_AFFINITY, 0.3);
    // (0.8 − 0.5 + 0.3) / 3; the absent spread does not count as a 0.
    assert_close(card.final_score(), 0.2);
    assert_eq!(
        card.components(),
        [
            (BINPACK, 0.8),
            (JOB_ANTI_AFFINITY, -0.5),
            (NODE_AFFINITY, 0.3)
        ]
    );
    assert_eq!(card.get(JOB_ANTI_AFFINITY), Some(-0.5));
    assert_eq!(card.get("allocation-spread"), None);
}

#[test]
fn an_absent_component_neither_helps_nor_hurts() {
    let mut plain = ScoreCard::new();
    plain.push(BINPACK, 0.6);
    let mut zero_affinity = ScoreCard::new();
    zero_affinity.push(BINPACK, 0.6);
    zero_affinity.push(NODE_AFFINITY, 0.0);
    assert_close(plain.final_score(), 0.6);
    // A present-but-zero component does pull the mean down (Nomad's rule for
    // node affinity).
    assert_close(zero_affinity.final_score(), 0.3);
}
