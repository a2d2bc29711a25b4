//! The encoding of Raft log entries and of the Raft RPCs between servers:
//! MessagePack with field names (`rmp_serde::to_vec_named`).
//!
//! A log entry carries whole plans (a thousand allocations); as JSON, their
//! strings were escaped and their scores formatted as decimal text on every
//! append, on every server, and again for every follower the entry was sent
//! to. MessagePack writes strings and floats as they are. Field names are
//! kept (not positional), so the model's optional and defaulted fields
//! (`skip_serializing_if`, `default`) read back as they do from JSON, and a
//! newer binary reads entries with fields an older one did not know.
//!
//! Reading also accepts JSON: log files and peers of versions before this
//! encoding wrote JSON, whose first byte is `{`. No MessagePack value this
//! module writes starts with that byte (`{` is the positive integer 123,
//! and entries and RPCs are maps).
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
    rmp_serde::to_vec_named(value).map_err(|err| err.to_string())
}

/// Decodes what [`encode`] (or an older version's JSON) wrote.
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
