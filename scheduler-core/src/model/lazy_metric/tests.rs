use std::borrow::Cow;

use super::*;
use crate::model::{Allocation, NodeId, NodeScoreMeta, ScoreMap, VecMap};

fn placed_metric() -> AllocMetric {
    let mut scores = ScoreMap::default();
    scores.insert(Cow::Borrowed("binpack"), 0.42);
    AllocMetric {
        nodes_evaluated: 11,
        nodes_filtered: 4,
        constraint_filtered: VecMap::from_iter([("${attr.os.name} = ubuntu".to_owned(), 4)]),
        score_meta_data: vec![NodeScoreMeta {
            node_id: NodeId::new("04bb883d-f391-4149-a75b-b6179ec3325b"),
            scores,
            norm_score: 0.42,
        }],
        ..AllocMetric::default()
    }
}

fn placed_alloc() -> Allocation {
    Allocation {
        id: "a1".into(),
        name: "web.app[0]".into(),
        metrics: placed_metric().into(),
        ..Allocation::default()
    }
}

#[test]
fn binary_readers_keep_the_metrics_encoded_until_read() {
    let bytes = rmp_serde::to_vec(&placed_alloc()).expect("encodes");
    let read: Allocation = rmp_serde::from_slice(&bytes).expect("decodes");
    assert!(read.metrics.is_encoded());
    assert_eq!(read.name, "web.app[0]");
    // Reading decodes once; the value is the scheduler's.
    assert_eq!(*read.metrics, placed_metric());
    assert!(!read.metrics.is_encoded());
    assert_eq!(read, placed_alloc());
    // Encoding what was read writes the same bytes again.
    assert_eq!(rmp_serde::to_vec(&read).expect("encodes"), bytes);
}

#[test]
fn json_holds_the_metrics_field_by_field() {
    let json = serde_json::to_value(placed_alloc()).expect("encodes");
    assert_eq!(json["Metrics"]["NodesEvaluated"], 11);
    assert_eq!(
        json["Metrics"]["ScoreMetaData"][0]["Scores"]["binpack"],
        0.42
    );
    let read: Allocation = serde_json::from_value(json.clone()).expect("decodes");
    assert_eq!(*read.metrics, placed_metric());

    // An allocation read from the log serves the same JSON, and serving
    // it leaves no decoded copy behind in the store.
    let stored: Allocation =
        rmp_serde::from_slice(&rmp_serde::to_vec(&placed_alloc()).expect("encodes"))
            .expect("decodes");
    assert_eq!(serde_json::to_value(&stored).expect("encodes"), json);
    assert!(stored.metrics.is_encoded());
}

#[test]
fn metrics_written_as_a_struct_still_read() {
    // Entries written before the blob hold the struct, positional or named.
    #[derive(Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct OldAllocation<'a> {
        #[serde(rename = "ID")]
        id: &'a str,
        metrics: &'a AllocMetric,
    }
    let metric = placed_metric();
    let old = OldAllocation {
        id: "a1",
        metrics: &metric,
    };
    for bytes in [
        rmp_serde::to_vec(&old).expect("encodes"),
        rmp_serde::to_vec_named(&old).expect("encodes"),
    ] {
        // `Allocation` reads the first fields of an older, shorter one.
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Prefix {
            #[serde(rename = "ID")]
            id: String,
            metrics: LazyMetric,
        }
        let read: Prefix = rmp_serde::from_slice(&bytes).expect("decodes");
        assert_eq!(read.id, "a1");
        assert!(!read.metrics.is_encoded());
        assert_eq!(*read.metrics, metric);
    }
}

#[test]
fn an_unreadable_blob_reads_as_metrics_that_say_so() {
    let metrics = LazyMetric::from_encoded(&b"\x93\xc1\xff"[..]);
    assert_eq!(metrics.nodes_evaluated, 0);
    assert!(
        metrics
            .explanation
            .starts_with("placement metrics unreadable: "),
        "{}",
        metrics.explanation
    );
}

#[test]
fn writing_decodes_for_good_and_copies_share_until_then() {
    let mut alloc: Allocation =
        rmp_serde::from_slice(&rmp_serde::to_vec(&placed_alloc()).expect("encodes"))
            .expect("decodes");
    let copy = alloc.clone();
    alloc.metrics.nodes_evaluated = 12;
    assert_eq!(alloc.metrics.nodes_evaluated, 12);
    assert!(copy.metrics.is_encoded());
    assert_eq!(copy.metrics.nodes_evaluated, 11);
    assert_ne!(alloc, copy);

    let mut unset = Allocation::default();
    assert_eq!(*unset.metrics, AllocMetric::default());
    unset.metrics.nodes_filtered = 1;
    assert_eq!(unset.metrics.nodes_filtered, 1);
}

#[test]
fn unset_metrics_travel_as_the_default() {
    let bytes = rmp_serde::to_vec(&Allocation::default()).expect("encodes");
    let read: Allocation = rmp_serde::from_slice(&bytes).expect("decodes");
    assert_eq!(*read.metrics, AllocMetric::default());
    assert_eq!(read, Allocation::default());
    // Unset metrics are one nil byte, and stay unset when kept encoded.
    assert_eq!(
        rmp_serde::to_vec(&LazyMetric::default()).expect("encodes"),
        [0xc0]
    );
    let mut unset = LazyMetric::default();
    unset.keep_encoded();
    assert!(matches!(unset.0, Repr::Empty));
}
