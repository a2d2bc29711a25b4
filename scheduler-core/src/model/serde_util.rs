//! Serde helpers for Nomad's API JSON.
//!
//! Nomad's Go structs serialise empty slices and maps as `null`, and clients
//! send `null` for anything they leave unset. Every collection in the model is
//! therefore read with [`null_as_default`], so `"Constraints": null` and a
//! missing key both become an empty collection instead of an error.
//!
//! # Fields left out
//! A few fields are left out of the JSON when empty (ours, not Nomad's, so
//! Nomad's documents round-trip). The Raft log encodes the model's structs
//! by position (`scheduler-raft`'s codec), where an element can be missing
//! only at the end of its struct, and then reads as the field's default.
//! So a struct leaves out at most one field, its last, and new fields go
//! before it. The test below holds every such field to that.

use serde::{Deserialize, Deserializer};

/// Deserialises `null` (or a missing field, together with `#[serde(default)]`)
/// as the type's default value.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use crate::model::{AllocMetric, Evaluation};

    #[test]
    fn fields_left_out_when_empty_are_their_structs_last() {
        let metric = AllocMetric {
            explanation: "no nodes".to_owned(),
            ..AllocMetric::default()
        };
        let json = serde_json::to_string(&metric).expect("serializes");
        assert!(json.ends_with(r#","Explanation":"no nodes"}"#), "{json}");
        let eval = Evaluation {
            plan_annotations: serde_json::json!({"a": 1}),
            ..Evaluation::default()
        };
        let json = serde_json::to_string(&eval).expect("serializes");
        assert!(json.ends_with(r#","PlanAnnotations":{"a":1}}"#), "{json}");
    }
}
