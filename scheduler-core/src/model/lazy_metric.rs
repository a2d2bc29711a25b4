//! An allocation's placement metrics, kept encoded until someone reads them.
//!
//! Every allocation carries the metrics of its placement (the best nodes'
//! scores, what was filtered and exhausted): about half of a placed
//! allocation's memory on each server (1,146 of 2,276 bytes for a C1M
//! allocation), and decoding them on the followers was 8 % of the samples
//! of a profile of C1M through three servers, for data nobody reads until
//! an operator asks why an allocation is where it is. The scheduler never
//! reads them back.
//!
//! So in binary encodings (`is_human_readable() == false`: the Raft log
//! and the RPCs between servers) the metrics travel as one MessagePack
//! blob, which a reader keeps as it is: one copy instead of sixteen
//! allocations. The first read decodes the blob and caches the result. In
//! human-readable encodings (the JSON API, dumps and Raft snapshots) they
//! are the plain struct, field by field, as in Nomad's API.
//!
//! The blob is MessagePack with structs as arrays, so `AllocMetric` obeys
//! the positional rule of `model::serde_util`: fields are added at the end.
//! Metrics written before the blob (a struct in place of the bytes) still
//! read. A blob that does not decode reads as empty metrics whose
//! `explanation` says so: metrics are diagnostics, never an input to a
//! decision, and a reader of them must not panic.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, LazyLock, OnceLock};

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AllocMetric;

/// Placement metrics of an allocation: an [`AllocMetric`] that may be held
/// encoded and is decoded on first read (see the module documentation).
/// Reads go through `Deref`; writes through `DerefMut` decode it for good.
#[derive(Default)]
pub struct LazyMetric(Repr);

#[derive(Default)]
enum Repr {
    /// Default metrics (allocations not placed by a scheduler).
    #[default]
    Empty,
    /// Metrics as the scheduler made them, shared between copies of an
    /// allocation.
    Decoded(Arc<AllocMetric>),
    /// Metrics as a reader received them, decoded on first read.
    Encoded {
        bytes: Arc<[u8]>,
        decoded: OnceLock<Box<AllocMetric>>,
    },
}

/// What `Empty` reads as.
static EMPTY: LazyLock<AllocMetric> = LazyLock::new(AllocMetric::default);

impl LazyMetric {
    /// Metrics from their encoded form (the bytes `encoded` returns).
    pub fn from_encoded(bytes: impl Into<Arc<[u8]>>) -> Self {
        Self(Repr::Encoded {
            bytes: bytes.into(),
            decoded: OnceLock::new(),
        })
    }

    /// The metrics' encoded form: MessagePack with structs as arrays.
    /// Encoding an in-memory `AllocMetric` cannot fail (its maps have
    /// string keys), so neither does this.
    pub fn encoded(&self) -> Arc<[u8]> {
        match &self.0 {
            Repr::Encoded { bytes, .. } => bytes.clone(),
            Repr::Empty => encode(&EMPTY).into(),
            Repr::Decoded(metric) => encode(metric).into(),
        }
    }

    /// Holds the metrics encoded from now on, as a server that received
    /// them holds them: what a leader does before it stores a placement,
    /// so that its store is as compact as its followers' (for a leader
    /// this costs no extra encoding: the log entry then copies the bytes
    /// instead of encoding the struct), and what a store restored from
    /// JSON does.
    /// Unset metrics stay as they are: they hold nothing to encode.
    pub fn keep_encoded(&mut self) {
        if !self.is_encoded() && !matches!(self.0, Repr::Empty) {
            *self = Self::from_encoded(self.encoded());
        }
    }

    /// Whether the metrics are held encoded and not decoded yet (what a
    /// follower holds until someone reads them).
    pub fn is_encoded(&self) -> bool {
        matches!(&self.0, Repr::Encoded { decoded, .. } if decoded.get().is_none())
    }
}

fn encode(metric: &AllocMetric) -> Vec<u8> {
    rmp_serde::to_vec(metric).unwrap_or_else(|err| {
        // Unreachable for a derived struct of strings, numbers and
        // string-keyed maps; kept total so that no write can panic.
        rmp_serde::to_vec(&unreadable(&err)).unwrap_or_default()
    })
}

fn decode(bytes: &[u8]) -> AllocMetric {
    rmp_serde::from_slice(bytes).unwrap_or_else(|err| unreadable(&err))
}

fn unreadable(err: &dyn fmt::Display) -> AllocMetric {
    AllocMetric {
        explanation: format!("placement metrics unreadable: {err}"),
        ..AllocMetric::default()
    }
}

impl From<AllocMetric> for LazyMetric {
    fn from(metric: AllocMetric) -> Self {
        Self(Repr::Decoded(Arc::new(metric)))
    }
}

impl Deref for LazyMetric {
    type Target = AllocMetric;

    fn deref(&self) -> &AllocMetric {
        match &self.0 {
            Repr::Empty => &EMPTY,
            Repr::Decoded(metric) => metric,
            Repr::Encoded { bytes, decoded } => decoded.get_or_init(|| Box::new(decode(bytes))),
        }
    }
}

impl DerefMut for LazyMetric {
    fn deref_mut(&mut self) -> &mut AllocMetric {
        if !matches!(self.0, Repr::Decoded(_)) {
            let metric = match std::mem::take(&mut self.0) {
                Repr::Encoded { bytes, decoded } => {
                    decoded.into_inner().map_or_else(|| decode(&bytes), |m| *m)
                }
                Repr::Empty | Repr::Decoded(_) => AllocMetric::default(),
            };
            self.0 = Repr::Decoded(Arc::new(metric));
        }
        match &mut self.0 {
            Repr::Decoded(metric) => Arc::make_mut(metric),
            Repr::Empty | Repr::Encoded { .. } => unreachable!("made decoded above"),
        }
    }
}

impl Clone for LazyMetric {
    /// Copies share the metrics; an encoded copy starts without the
    /// original's decoded cache (allocations are copied to change their
    /// status, rarely to read their metrics).
    fn clone(&self) -> Self {
        Self(match &self.0 {
            Repr::Empty => Repr::Empty,
            Repr::Decoded(metric) => Repr::Decoded(metric.clone()),
            Repr::Encoded { bytes, .. } => Repr::Encoded {
                bytes: bytes.clone(),
                decoded: OnceLock::new(),
            },
        })
    }
}

impl PartialEq for LazyMetric {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (Repr::Encoded { bytes: a, .. }, Repr::Encoded { bytes: b, .. }) if a == b => true,
            _ => **self == **other,
        }
    }
}

impl fmt::Debug for LazyMetric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Serialize for LazyMetric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            return match &self.0 {
                // Serving an API read must not leave a decoded copy in
                // the store's allocation.
                Repr::Encoded { bytes, decoded } => match decoded.get() {
                    Some(metric) => metric.serialize(serializer),
                    None => decode(bytes).serialize(serializer),
                },
                Repr::Empty | Repr::Decoded(_) => (**self).serialize(serializer),
            };
        }
        match &self.0 {
            Repr::Encoded { bytes, .. } => serializer.serialize_bytes(bytes),
            Repr::Decoded(metric) => serializer.serialize_bytes(&encode(metric)),
            // Unset (every allocation a client reports on): one nil byte,
            // which reads back as unset (see `visit_unit`).
            Repr::Empty => serializer.serialize_unit(),
        }
    }
}

impl<'de> Deserialize<'de> for LazyMetric {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        if deserializer.is_human_readable() {
            return AllocMetric::deserialize(deserializer).map(Self::from);
        }
        // Self-describing binary formats hand over whatever is there:
        // the blob, or the struct that entries written before it hold.
        deserializer.deserialize_bytes(LazyMetricVisitor)
    }
}

struct LazyMetricVisitor;

impl<'de> Visitor<'de> for LazyMetricVisitor {
    type Value = LazyMetric;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("placement metrics, encoded or as a struct")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<LazyMetric, E> {
        Ok(LazyMetric::from_encoded(bytes))
    }

    fn visit_byte_buf<E: de::Error>(self, bytes: Vec<u8>) -> Result<LazyMetric, E> {
        Ok(LazyMetric::from_encoded(bytes))
    }

    fn visit_unit<E: de::Error>(self) -> Result<LazyMetric, E> {
        Ok(LazyMetric::default())
    }

    fn visit_none<E: de::Error>(self) -> Result<LazyMetric, E> {
        Ok(LazyMetric::default())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, seq: A) -> Result<LazyMetric, A::Error> {
        AllocMetric::deserialize(SeqAccessDeserializer::new(seq)).map(LazyMetric::from)
    }

    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<LazyMetric, A::Error> {
        AllocMetric::deserialize(MapAccessDeserializer::new(map)).map(LazyMetric::from)
    }
}

#[cfg(test)]
mod tests;
