//! The encoding of Raft log entries and of the Raft RPCs between servers:
//! MessagePack with structs as arrays of their fields, in declaration
//! order (`rmp_serde::to_vec`).
//!
//! A log entry carries whole plans (a thousand allocations); as JSON, their
//! strings were escaped and their scores formatted as decimal text on every
//! append, on every server, and again for every follower the entry was sent
//! to. MessagePack writes strings and floats as they are. Writing field
//! names as well (maps instead of arrays) more than doubled an entry: a
//! placed allocation took 1,687 bytes with names and 741 without, and
//! every byte is written to three journals, flushed again to three tables
//! and sent to two followers.
//!
//! # What positions demand of the model
//! Read by position, a struct must be read by a binary that agrees on its
//! fields' order. So the structs a command holds only grow at their end,
//! with `#[serde(default)]` on what they gain (an older entry, shorter by
//! those fields, reads them as their defaults), and never leave a field out
//! when writing (`skip_serializing_if`) unless it is the struct's last
//! field (`AllocMetric::explanation` and `Evaluation::plan_annotations`;
//! the model's `serde_util` says more and tests both). The tests
//! `an_entry_with_metrics_as_a_struct_still_reads` and
//! `an_entry_with_encoded_metrics_still_reads` pin the layouts of commands
//! written by an earlier version and by this one (placement metrics as a
//! nested blob: `scheduler_core::model::LazyMetric`).
//!
//! # What still reads
//! Entries written with field names (maps) by earlier versions read as
//! before: serde's derived structs accept either form. Log files and peers
//! of versions before MessagePack wrote JSON, whose first byte is `{`; no
//! MessagePack value this module writes starts with that byte (`{` is the
//! positive integer 123, and entries and RPCs are arrays or maps).
//!
//! Snapshot files stay JSON: they are the versioned, inspectable format
//! operators keep.

use axum::body::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::types::{LogId, Vote};

/// The content type of encoded RPC bodies.
pub const CONTENT_TYPE: &str = "application/msgpack";

/// The content type of an append request sent as frames
/// ([`encode_append_frames`]).
pub const APPEND_FRAMES: &str = "application/x-raft-append-frames";

/// An append request but its entries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppendHeader {
    /// The leader's vote.
    pub vote: Vote,
    /// The entry before the first one sent.
    pub prev_log_id: Option<LogId>,
    /// The leader's commit point.
    pub leader_commit: Option<LogId>,
}

/// Encodes `value`.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, String> {
    rmp_serde::to_vec(value).map_err(|err| err.to_string())
}

/// Decodes what [`encode`] wrote, or what an older version wrote (with
/// field names, or as JSON).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    if bytes.first() == Some(&b'{') {
        return serde_json::from_slice(bytes).map_err(|err| err.to_string());
    }
    rmp_serde::from_slice(bytes).map_err(|err| err.to_string())
}

/// An append request as frames: the encoded [`AppendHeader`], then each
/// entry as its log store encoded it, each frame preceded by its length
/// (4 bytes, big-endian). The leader copies the bytes it wrote to its log
/// instead of encoding every entry again for every follower, and the
/// follower writes them to its log as they came (see
/// [`crate::log_store::EncodedEntries`]).
pub fn encode_append_frames(header: &AppendHeader, entries: &[Bytes]) -> Result<Vec<u8>, String> {
    let header = encode(header)?;
    let size = 4 + header.len() + entries.iter().map(|e| 4 + e.len()).sum::<usize>();
    let mut body = Vec::with_capacity(size);
    for frame in std::iter::once(header.as_slice()).chain(entries.iter().map(|e| e.as_ref())) {
        let length = u32::try_from(frame.len())
            .map_err(|_| format!("a frame of {} bytes is too large", frame.len()))?;
        body.extend_from_slice(&length.to_be_bytes());
        body.extend_from_slice(frame);
    }
    Ok(body)
}

/// Reads what [`encode_append_frames`] wrote: the header, and each entry's
/// bytes (sharing `body`'s memory).
pub fn decode_append_frames(body: &Bytes) -> Result<(AppendHeader, Vec<Bytes>), String> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let Some(prefix) = body.get(at..at + 4) else {
            return Err(format!("truncated frame length at byte {at}"));
        };
        let length = u32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]) as usize;
        let start = at + 4;
        let end = start
            .checked_add(length)
            .filter(|end| *end <= body.len())
            .ok_or_else(|| format!("frame at byte {at} runs past the end ({length} bytes)"))?;
        frames.push(body.slice(start..end));
        at = end;
    }
    let mut frames = frames.into_iter();
    let header = frames.next().ok_or("no header frame")?;
    Ok((decode(&header)?, frames.collect()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::{Allocation, Evaluation, Job};

    use crate::command::Command;

    #[test]
    fn commands_round_trip_and_json_still_reads() {
        let job = Job {
            id: "web".into(),
            meta: [("owner".to_owned(), "team \"a\"\n".to_owned())].into(),
            ..Job::default()
        };
        let alloc = Allocation {
            id: "a1".into(),
            job: Some(std::sync::Arc::new(job.clone())),
            ..Allocation::default()
        };
        let command = Command::Batch(vec![
            Command::RegisterJob {
                job: Box::new(job),
                enforce_index: Some(3),
                eval: Some(Box::new(Evaluation::default())),
            },
            Command::UpsertAllocs {
                allocs: vec![alloc],
            },
        ]);
        let bytes = encode(&command).expect("encodes");
        assert_ne!(bytes.first(), Some(&b'{'));
        assert_eq!(decode::<Command>(&bytes).expect("decodes"), command);
        let json = serde_json::to_vec(&command).expect("json");
        assert_eq!(
            decode::<Command>(&json).expect("an older version's JSON"),
            command
        );
    }

    /// An entry an earlier version wrote (`tests/fixtures/log-entry-positional-1.msgpack`,
    /// made by `examples/write_entry_fixture.rs`: three nodes, job `web`
    /// registered, its plan of two placements, metrics as a struct) reads
    /// back field by field. Fields read by position: a field added
    /// anywhere but at the end of its struct shifts every later one, and
    /// this test fails.
    #[test]
    fn an_entry_with_metrics_as_a_struct_still_reads() {
        check_fixture_entry(include_bytes!(
            "../tests/fixtures/log-entry-positional-1.msgpack"
        ));
    }

    /// The same entry as written once placement metrics travel as a blob
    /// (`-2`): the metrics stay encoded until read, then read the same.
    #[test]
    fn an_entry_with_encoded_metrics_still_reads() {
        let bytes = include_bytes!("../tests/fixtures/log-entry-positional-2.msgpack");
        check_fixture_entry(bytes);
        let command: Command = decode(bytes).expect("decodes");
        let Command::Batch(commands) = &command else {
            panic!("not a batch");
        };
        let Command::ApplyPlan(plan) = &commands[2] else {
            panic!("not a plan");
        };
        for alloc in plan.node_allocation.values().flatten() {
            assert!(alloc.metrics.is_encoded(), "{}", alloc.id);
        }
        // What this version writes for the same entry, byte for byte.
        assert_eq!(encode(&command).expect("encodes"), bytes);
    }

    /// Checks what the fixture entries hold.
    fn check_fixture_entry(bytes: &[u8]) {
        use scheduler_core::model::{AllocClientStatus, AllocDesiredStatus, EvalStatus, MHz, MiB};

        // The variant by name, then its fields as an array.
        assert_eq!(bytes[..8], *b"\x81\xa5Batch\x93");
        let Command::Batch(commands) = decode::<Command>(bytes).expect("decodes") else {
            panic!("not a batch");
        };
        let [nodes, register, plan] = <[Command; 3]>::try_from(commands).expect("three commands");

        let Command::UpsertNodes { nodes } = nodes else {
            panic!("not nodes: {nodes:?}");
        };
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node-0", "node-1", "node-2"]);
        assert_eq!(nodes[1].node_class, "large");
        assert_eq!(nodes[2].meta["rack"], "r2");
        assert_eq!(nodes[0].node_resources.cpu.cpu_shares, MHz(4000));
        assert_eq!(nodes[0].node_resources.memory.memory_mb, MiB(8192));
        assert!(nodes[0].node_resources.processors.is_null());

        let Command::RegisterJob {
            job,
            enforce_index,
            eval,
        } = register
        else {
            panic!("not a registration: {register:?}");
        };
        assert_eq!(job.id, "web");
        assert_eq!(job.meta["owner"], "team \"a\"");
        assert_eq!(job.task_groups[0].count, Some(2));
        assert_eq!(job.task_groups[0].tasks[0].driver, "docker");
        assert_eq!(job.task_groups[0].services[0].port_label, "http");
        assert_eq!(enforce_index, Some(0));
        let eval = eval.expect("an evaluation");
        assert_eq!(eval.id, "6f7d3c1e-5b9a-4c2d-8e1f-0a1b2c3d4e5f");
        assert_eq!(eval.status, EvalStatus::Pending);
        assert!(eval.plan_annotations.is_null());

        let Command::ApplyPlan(plan) = plan else {
            panic!("not a plan: {plan:?}");
        };
        assert_eq!(plan.eval_id, eval.id);
        assert_eq!(plan.job.as_ref().map(|j| j.id.as_str()), Some("web"));
        let placed: Vec<_> = plan.node_allocation.values().flatten().collect();
        let names: Vec<&str> = placed.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["web.app[0]", "web.app[1]"]);
        let first = placed[0];
        assert_eq!(first.id, "a2ab6e34-5586-44f5-a2e4-c5f336897dc6");
        assert_eq!(first.node_id, "35a22c0d-28ea-40fb-94a6-39f6dc3e0ad6");
        assert_eq!(first.node_name, "node-0");
        assert!(first.job.is_none());
        let task = &first.allocated_resources.tasks["server"];
        assert_eq!(
            (task.cpu.cpu_shares, task.memory.memory_mb),
            (MHz(250), MiB(128))
        );
        let port = &first.allocated_resources.shared.ports[0];
        assert_eq!((port.label.as_str(), port.value), ("http", 23149));
        assert_eq!(first.metrics.nodes_evaluated, 2);
        let best = &first.metrics.score_meta_data[0];
        assert_eq!(best.node_id, first.node_id);
        assert_eq!(best.norm_score, 0.094_096_698_182_630_72);
        assert_eq!(first.desired_status, AllocDesiredStatus::Run);
        assert_eq!(first.client_status, AllocClientStatus::Pending);
        assert_eq!(first.deployment_id, "b6437678-4acd-4c2f-bc72-32a142b42802");
        assert_eq!(first.create_time, 1_764_000_000_000_000_000);
        let deployment = plan.deployment.as_ref().expect("a deployment");
        assert_eq!(deployment.id, first.deployment_id);
        assert_eq!(plan.evals[0].status, EvalStatus::Complete);
    }

    #[test]
    fn entries_with_field_names_still_read() {
        let command = Command::UpsertEvals {
            evals: vec![Evaluation {
                id: "e1".into(),
                priority: 70,
                ..Evaluation::default()
            }],
        };
        let named = rmp_serde::to_vec_named(&command).expect("encodes");
        assert_eq!(decode::<Command>(&named).expect("decodes"), command);
        assert!(encode(&command).expect("encodes").len() < named.len());
    }

    #[test]
    fn a_shared_command_is_encoded_as_its_command() {
        let command = Command::UpsertEvals {
            evals: vec![Evaluation::default()],
        };
        let shared = crate::command::SharedCommand::from(command.clone());
        let bytes = encode(&shared).expect("encodes");
        assert_eq!(bytes, encode(&command).expect("encodes"));
        let read: crate::command::SharedCommand = decode(&bytes).expect("decodes");
        assert_eq!(read.into_command(), command);
        // Still held elsewhere: the command comes out as a copy.
        let held = shared.clone();
        assert_eq!(shared.into_command(), command);
        assert_eq!(std::sync::Arc::strong_count(&held.0), 1);
    }

    #[test]
    fn append_frames_round_trip_and_refuse_what_is_cut_short() {
        let header = AppendHeader {
            vote: Vote::new_committed(3, 7),
            prev_log_id: Some(LogId::new(openraft::CommittedLeaderId::new(3, 7), 41)),
            leader_commit: None,
        };
        let entries = vec![
            Bytes::from_static(b"first entry"),
            Bytes::new(),
            Bytes::from(vec![7u8; 70_000]),
        ];
        let body = Bytes::from(encode_append_frames(&header, &entries).expect("encodes"));
        let (read, frames) = decode_append_frames(&body).expect("decodes");
        assert_eq!(read, header);
        assert_eq!(frames, entries);
        // No entries: a heartbeat.
        let empty = Bytes::from(encode_append_frames(&header, &[]).expect("encodes"));
        assert_eq!(decode_append_frames(&empty).expect("decodes").1.len(), 0);
        // Cut anywhere inside a frame: an error, not a panic.
        for cut in [1, 3, 5, body.len() - 1] {
            assert!(
                decode_append_frames(&body.slice(..cut)).is_err(),
                "cut {cut}"
            );
        }
        assert!(decode_append_frames(&Bytes::new()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = decode_append_frames(&Bytes::from(bytes));
        }
    }
}
