//! `fit_score`: one `check` per case, binpack and spread side by side.

use super::{assert_close, sized_node};
use crate::model::{MHz, MiB};
use crate::ranking::fit_score;
use crate::scheduler::config::SchedulerAlgorithm::{Binpack, Spread};

/// `node` = (cpu, memory, reserved cpu, reserved memory); `used` = (cpu,
/// memory) after the placement; expected normalised (binpack, spread).
#[track_caller]
fn check(node: (i64, i64, i64, i64), used: (i64, i64), expected: (f64, f64)) {
    let node = sized_node(node.0, node.1, node.2, node.3);
    let binpack = fit_score(Binpack, &node, MHz(used.0), MiB(used.1));
    let spread = fit_score(Spread, &node, MHz(used.0), MiB(used.1));
    assert!(!binpack.is_nan() && !spread.is_nan());
    assert_close(binpack, expected.0);
    assert_close(spread, expected.1);
}

#[test]
fn half_used_node() {
    // free = 0.5 for both: 10^0.5 = 3.1622776601683795, twice = 6.324555320336759.
    // binpack (20 − 6.324555320336759) / 18, spread (6.324555320336759 − 2) / 18.
    check(
        (4000, 8192, 0, 0),
        (2000, 4096),
        (0.7597469266479577, 0.24025307335204216),
    );
}

#[test]
fn empty_node_is_worst_for_binpack_and_best_for_spread() {
    // free = 1: 10 + 10 = 20 → binpack 0/18, spread 18/18.
    check((4000, 8192, 0, 0), (0, 0), (0.0, 1.0));
}

#[test]
fn exactly_full_node_is_best_for_binpack_and_worst_for_spread() {
    // free = 0: 1 + 1 = 2 → binpack 18/18, spread 0/18.
    check((4000, 8192, 0, 0), (4000, 8192), (1.0, 0.0));
}

#[test]
fn reserved_resources_shrink_the_capacity() {
    // cpu: 1000 / (4500 − 500) = 0.25 used → free 0.75, 10^0.75 = 5.623413251903491;
    // mem: 6144 / (9216 − 1024) = 0.75 used → free 0.25, 10^0.25 = 1.7782794100389228.
    // total 7.401692661942414 → binpack 12.598307338057586 / 18, spread 5.401692661942414 / 18.
    check(
        (4500, 9216, 500, 1024),
        (1000, 6144),
        (0.6999059632254214, 0.3000940367745786),
    );
}

#[test]
fn dimensions_count_separately() {
    // cpu free 1 (10), memory free 0 (1): 11 → binpack 9/18, spread 9/18.
    check((4000, 8192, 0, 0), (0, 8192), (0.5, 0.5));
}

#[test]
fn zero_or_negative_capacity_counts_as_fully_used() {
    // No capacity at all: free = 0 in both dimensions, as if exactly full.
    check((0, 0, 0, 0), (100, 100), (1.0, 0.0));
    // Reservations above capacity: the same, not a division by a negative.
    check((1000, 1000, 2000, 1000), (0, 0), (1.0, 0.0));
    // Only memory is missing: cpu free 1 (10) + memory 1 → 11.
    check((4000, 0, 0, 0), (0, 10), (0.5, 0.5));
}

#[test]
fn overcommitted_node_clamps_instead_of_leaving_the_range() {
    // free = 1 − 2 = −1: 0.1 + 0.1 = 0.2 → binpack 19.8 clamped to 18; spread −1.8 → 0.
    check((1000, 1000, 0, 0), (2000, 2000), (1.0, 0.0));
    // Absurd over-commitment: 10^(−huge) underflows to 0, still no NaN.
    check((1, 1, 0, 0), (i64::MAX, i64::MAX), (1.0, 0.0));
    // Negative use (never produced, but must not escape [0, 1]).
    check((1, 1, 0, 0), (-i64::MAX, -i64::MAX), (0.0, 1.0));
}

#[test]
fn binpack_prefers_the_fuller_node_and_spread_the_emptier() {
    let node = sized_node(4000, 8192, 0, 0);
    let fuller = (MHz(3000), MiB(6000));
    let emptier = (MHz(1000), MiB(2000));
    assert!(
        fit_score(Binpack, &node, fuller.0, fuller.1)
            > fit_score(Binpack, &node, emptier.0, emptier.1)
    );
    assert!(
        fit_score(Spread, &node, fuller.0, fuller.1)
            < fit_score(Spread, &node, emptier.0, emptier.1)
    );
}
