//! Serde helpers for Nomad's API JSON.
//!
//! Nomad's Go structs serialise empty slices and maps as `null`, and clients
//! send `null` for anything they leave unset. Every collection in the model is
//! therefore read with [`null_as_default`], so `"Constraints": null` and a
//! missing key both become an empty collection instead of an error.

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
