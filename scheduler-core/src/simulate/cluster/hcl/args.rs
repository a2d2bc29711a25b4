//! Checked arguments of cluster blocks: bounded whole numbers, sizes, port
//! lists and the dynamic port range, each reporting problems at the value.

use crate::feasibility::fit::parse_port_list;
use crate::jobspec::decode::reader::{BlockReader, describe, parse_size_mib};
use crate::jobspec::value::Value;
use std::collections::BTreeSet;

/// A whole number in `min..=max`; problems are reported at the value.
pub(super) fn bounded_int(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
    min: i64,
    max: i64,
) -> Option<i64> {
    checked_number(
        reader,
        name,
        json,
        "a whole number",
        Value::as_i64,
        min,
        max,
    )
}

/// A non-negative size in MiB (`8192`, `"8GiB"`); problems are reported at
/// the value.
pub(super) fn size(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
) -> Option<i64> {
    checked_number(
        reader,
        name,
        json,
        "a size in MiB, such as 512 or \"1GiB\"",
        |value| match value {
            Value::String(text) => parse_size_mib(text),
            other => other.as_i64(),
        },
        0,
        i64::MAX,
    )
}

fn checked_number(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
    expected: &str,
    convert: impl FnOnce(&Value) -> Option<i64>,
    min: i64,
    max: i64,
) -> Option<i64> {
    let (attribute, path) = reader.attribute(name, json)?;
    if attribute.value.is_null() {
        return None;
    }
    let span = attribute.value_span.clone();
    let Some(number) = convert(&attribute.value) else {
        reader.decoder().error(
            span,
            &path,
            format!(
                "argument \"{name}\" must be {expected}, got {}",
                describe(&attribute.value)
            ),
        );
        return None;
    };
    if number < min {
        let message = if min == 0 {
            format!("argument \"{name}\" must not be negative, got {number}")
        } else {
            format!("argument \"{name}\" must be at least {min}, got {number}")
        };
        reader.decoder().error(span, &path, message);
        return None;
    }
    if number > max {
        reader.decoder().error(
            span,
            &path,
            format!("argument \"{name}\" must be at most {max}, got {number}"),
        );
        return None;
    }
    Some(number)
}

/// A port list (`"22,80,8000-8100"`) checked with the fit function's
/// parser; returns the text as written and the ports.
pub(super) fn port_list(
    reader: &BlockReader<'_>,
    name: &'static str,
    json: &'static str,
) -> Option<(String, BTreeSet<u16>)> {
    let (attribute, path) = reader.attribute(name, json)?;
    if attribute.value.is_null() {
        return None;
    }
    let span = attribute.value_span.clone();
    let Some(text) = attribute.value.to_hcl_string() else {
        reader.decoder().error(
            span,
            &path,
            format!(
                "argument \"{name}\" must be a list of ports such as \"22,80,8000-8100\", got {}",
                describe(&attribute.value)
            ),
        );
        return None;
    };
    match parse_port_list(&text) {
        Ok(ports) => Some((text, ports)),
        Err(e) => {
            reader
                .decoder()
                .error(span, &path, format!("argument \"{name}\": {e}"));
            None
        }
    }
}

/// `dynamic_ports = "20000-32000"`.
pub(super) fn dynamic_ports(reader: &BlockReader<'_>) -> Option<(u16, u16)> {
    let (attribute, path) = reader.attribute("dynamic_ports", "DynamicPorts")?;
    let text = attribute.value.to_hcl_string().unwrap_or_default();
    let range = text.split_once('-').and_then(|(low, high)| {
        let low: u16 = low.trim().parse().ok()?;
        let high: u16 = high.trim().parse().ok()?;
        (low >= 1 && low <= high).then_some((low, high))
    });
    if range.is_none() {
        reader.decoder().error(
            attribute.value_span.clone(),
            &path,
            format!(
                "argument \"dynamic_ports\" must be a port range such as \"20000-32000\", got {}",
                describe(&attribute.value)
            ),
        );
    }
    range
}
