//! Device attributes of a `device` block, typed as Nomad's device plugins
//! report them.

use crate::jobspec::decode::reader::{BlockReader, describe};
use crate::jobspec::value::Value;
use crate::model::NodeDeviceAttribute;
use std::collections::BTreeMap;

/// A device block's `attributes = { memory = "40 GiB", cuda_cores = 6912 }`,
/// typed as Nomad's device plugins report them.
pub(super) fn device_attributes(reader: &BlockReader<'_>) -> BTreeMap<String, NodeDeviceAttribute> {
    let mut out = BTreeMap::new();
    let Some((attribute, path)) = reader.attribute("attributes", "Attributes") else {
        return out;
    };
    let entries = match &attribute.value {
        Value::Object(map) => map,
        Value::Null => return out,
        other => {
            reader.decoder().error(
                attribute.value_span.clone(),
                &path,
                format!(
                    "argument \"attributes\" must be a map, got {}",
                    describe(other)
                ),
            );
            return out;
        }
    };
    for (key, value) in entries {
        let typed = match value {
            Value::Bool(b) => Some(NodeDeviceAttribute {
                bool: Some(*b),
                ..NodeDeviceAttribute::default()
            }),
            Value::Number(n) if n.is_f64() => Some(NodeDeviceAttribute {
                float: n.as_f64(),
                ..NodeDeviceAttribute::default()
            }),
            Value::Number(n) => Some(NodeDeviceAttribute {
                int: n.as_i64(),
                ..NodeDeviceAttribute::default()
            }),
            Value::String(text) => Some(parse_device_attribute(text)),
            _ => None,
        };
        match typed {
            Some(typed) => {
                out.insert(key.clone(), typed);
            }
            None => reader.decoder().error(
                attribute.value_span.clone(),
                &path.key(key),
                format!(
                    "device attribute {key:?} must be a string, number or bool, got {}",
                    describe(value)
                ),
            ),
        }
    }
    out
}

/// Units Nomad's device attributes carry (`psstructs` units).
const DEVICE_UNITS: &[&str] = &[
    "B", "KB", "KiB", "MB", "MiB", "GB", "GiB", "TB", "TiB", "PB", "PiB", "EB", "EiB", "b", "Kb",
    "Kib", "Mb", "Mib", "Gb", "Gib", "Tb", "Tib", "Pb", "Pib", "Eb", "Eib", "B/s", "KB/s", "KiB/s",
    "MB/s", "MiB/s", "GB/s", "GiB/s", "TB/s", "TiB/s", "PB/s", "PiB/s", "EB/s", "EiB/s", "b/s",
    "Kb/s", "Kib/s", "Mb/s", "Mib/s", "Gb/s", "Gib/s", "Tb/s", "Tib/s", "Pb/s", "Pib/s", "Eb/s",
    "Eib/s", "Hz", "KHz", "MHz", "GHz", "mW", "W", "kW", "MW", "GW",
];

/// Types a device attribute written as a string, as Nomad's
/// `ParseAttribute` does: a number with an optional known unit (`"40 GiB"`
/// is the int 40 in `GiB`), then a bool, else the string itself.
pub(crate) fn parse_device_attribute(text: &str) -> NodeDeviceAttribute {
    let trimmed = text.trim();
    let split = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && c == '-')))
        .map_or(trimmed.len(), |(i, _)| i);
    let (number, unit) = trimmed.split_at(split);
    let unit = unit.trim();
    if !number.is_empty() && (unit.is_empty() || DEVICE_UNITS.contains(&unit)) {
        if let Ok(int) = number.parse::<i64>() {
            return NodeDeviceAttribute {
                int: Some(int),
                unit: unit.to_owned(),
                ..NodeDeviceAttribute::default()
            };
        }
        if let Ok(float) = number.parse::<f64>() {
            return NodeDeviceAttribute {
                float: Some(float),
                unit: unit.to_owned(),
                ..NodeDeviceAttribute::default()
            };
        }
    }
    match trimmed {
        "true" | "false" => NodeDeviceAttribute {
            bool: Some(trimmed == "true"),
            ..NodeDeviceAttribute::default()
        },
        _ => NodeDeviceAttribute {
            string: Some(text.to_owned()),
            ..NodeDeviceAttribute::default()
        },
    }
}
