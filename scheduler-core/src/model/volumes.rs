//! Volumes a group asks for: host volumes and CSI volumes.

use crate::model::serde_util::null_as_default;
use serde::{Deserialize, Serialize};

/// A volume the group needs, mounted into tasks by their `volume_mount`
/// blocks (HCL `volume "name" { ... }`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct VolumeRequest {
    /// The name tasks use in `volume_mount` (the block's label).
    #[serde(deserialize_with = "null_as_default")]
    pub name: String,
    /// `host` or `csi`.
    #[serde(rename = "Type", deserialize_with = "null_as_default")]
    pub r#type: String,
    /// The host volume name or CSI volume id to claim.
    #[serde(deserialize_with = "null_as_default")]
    pub source: String,
    /// Mount the volume read-only.
    #[serde(deserialize_with = "null_as_default")]
    pub read_only: bool,
    /// Keep placing the group where its claimed dynamic host volume lives.
    #[serde(deserialize_with = "null_as_default")]
    pub sticky: bool,
    /// CSI access mode, e.g. `single-node-writer`, `multi-node-reader-only`.
    #[serde(deserialize_with = "null_as_default")]
    pub access_mode: String,
    /// CSI attachment mode: `file-system` or `block-device`.
    #[serde(deserialize_with = "null_as_default")]
    pub attachment_mode: String,
    /// CSI file-system mount options.
    pub mount_options: Option<CsiMountOptions>,
    /// Append the allocation index to `source`, so each allocation claims its
    /// own volume (`data[0]`, `data[1]`, ...).
    #[serde(deserialize_with = "null_as_default")]
    pub per_alloc: bool,
}

/// Options for mounting a CSI volume as a file system (HCL `mount_options`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct CsiMountOptions {
    /// File-system type, e.g. `ext4`.
    #[serde(rename = "FSType", deserialize_with = "null_as_default")]
    pub fs_type: String,
    /// Mount flags, e.g. `noatime`.
    #[serde(deserialize_with = "null_as_default")]
    pub mount_flags: Vec<String>,
}
