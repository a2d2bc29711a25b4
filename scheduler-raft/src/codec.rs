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

use serde::Serialize;
use serde::de::DeserializeOwned;

/// The content type of encoded RPC bodies.
pub const CONTENT_TYPE: &str = "application/msgpack";

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
}
