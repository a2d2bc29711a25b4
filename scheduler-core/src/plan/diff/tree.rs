//! The generic comparison of two jobs as Nomad API JSON trees.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};

use super::{DiffType, FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};
use crate::model::Job;

type Members = Map<String, Value>;

/// The old and new versions of one entry, either absent.
type Pair<'a> = (Option<&'a Members>, Option<&'a Members>);

/// Job members that are not compared: the ID (carried by [`JobDiff::id`]),
/// the groups (compared by name), server bookkeeping and the submitter's
/// credentials.
const JOB_SKIP: &[&str] = &[
    "ID",
    "TaskGroups",
    "Status",
    "StatusDescription",
    "Stable",
    "Version",
    "VersionTag",
    "SubmitTime",
    "CreateIndex",
    "ModifyIndex",
    "JobModifyIndex",
    "ConsulToken",
    "VaultToken",
    "NomadTokenID",
];

/// Group members not compared as plain members.
const GROUP_SKIP: &[&str] = &["Name", "Tasks"];

/// Task members not compared as plain members.
const TASK_SKIP: &[&str] = &["Name"];

/// Maps of user keys that flatten into their parent's fields as
/// `Name[key]`.
const FLAT_MAPS: &[&str] = &[
    "Meta",
    "Env",
    "CanaryMeta",
    "TaggedAddresses",
    "Args",
    "Header",
    "GetterOptions",
    "GetterHeaders",
    "Target",
];

/// Free-form documents that become one object of flattened fields.
const OPAQUE_MAPS: &[&str] = &["Config", "Policy"];

/// Maps from a user key to a struct, compared as objects matched by key.
const KEYED_OBJECTS: &[&str] = &["Volumes"];

/// Lists of placement rules, always compared as sets like Nomad does: an
/// edited rule is a different rule.
const SET_LISTS: &[&str] = &["Constraints", "Affinities", "Spreads"];

/// Members that identify an entry of a list of objects, tried in order.
const IDENTITY_KEYS: &[&str] = &["Name", "Label", "DestPath", "Destination"];

/// A job as its API JSON. The model only has string-keyed maps, so this
/// cannot fail in practice; a failure would show as an empty job.
pub(super) fn to_tree(job: &Job) -> Value {
    serde_json::to_value(job).unwrap_or(Value::Null)
}

/// Compares two jobs' trees.
pub(super) fn diff_jobs(old: Option<&Value>, new: &Value) -> JobDiff {
    let old = old.and_then(Value::as_object);
    let new = new.as_object();
    let (fields, objects) = diff_members(old, new, JOB_SKIP);
    let task_groups: Vec<TaskGroupDiff> = by_name(list(old, "TaskGroups"), list(new, "TaskGroups"))
        .into_iter()
        .map(|(name, (old, new))| diff_group(name, old, new))
        .collect();
    let changed =
        has_changes(&fields, &objects) || task_groups.iter().any(|g| g.diff_type != DiffType::None);
    JobDiff {
        diff_type: presence_type(old.is_some(), new.is_some(), changed),
        id: String::new(),
        fields,
        objects,
        task_groups,
    }
}

fn diff_group(name: String, old: Option<&Members>, new: Option<&Members>) -> TaskGroupDiff {
    let (fields, objects) = diff_members(old, new, GROUP_SKIP);
    let tasks: Vec<TaskDiff> = by_name(list(old, "Tasks"), list(new, "Tasks"))
        .into_iter()
        .map(|(name, (old, new))| {
            let (fields, objects) = diff_members(old, new, TASK_SKIP);
            let changed = has_changes(&fields, &objects);
            TaskDiff {
                diff_type: presence_type(old.is_some(), new.is_some(), changed),
                name,
                fields,
                objects,
                annotations: Vec::new(),
            }
        })
        .collect();
    let changed =
        has_changes(&fields, &objects) || tasks.iter().any(|t| t.diff_type != DiffType::None);
    TaskGroupDiff {
        diff_type: presence_type(old.is_some(), new.is_some(), changed),
        name,
        fields,
        objects,
        tasks,
        updates: BTreeMap::new(),
    }
}

/// The objects of a list member (task groups, tasks).
fn list<'a>(parent: Option<&'a Members>, key: &str) -> Vec<&'a Members> {
    parent
        .and_then(|members| members.get(key))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// Pairs entries by their `Name`, sorted by name. A name repeated on one
/// side (invalid for groups and tasks) keeps its first entry.
fn by_name<'a>(old: Vec<&'a Members>, new: Vec<&'a Members>) -> BTreeMap<String, Pair<'a>> {
    let mut out: BTreeMap<String, Pair<'a>> = BTreeMap::new();
    let name = |members: &Members| {
        members
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    for entry in old {
        out.entry(name(entry)).or_default().0.get_or_insert(entry);
    }
    for entry in new {
        out.entry(name(entry)).or_default().1.get_or_insert(entry);
    }
    out
}

fn has_changes(fields: &[FieldDiff], objects: &[ObjectDiff]) -> bool {
    fields.iter().any(|f| f.diff_type != DiffType::None)
        || objects.iter().any(|o| o.diff_type != DiffType::None)
}

fn presence_type(old: bool, new: bool, changed: bool) -> DiffType {
    match (old, new) {
        (false, _) => DiffType::Added,
        (true, false) => DiffType::Deleted,
        (true, true) if changed => DiffType::Edited,
        (true, true) => DiffType::None,
    }
}

/// A member's value, with null counting as absent.
fn member<'a>(parent: Option<&'a Members>, key: &str) -> Option<&'a Value> {
    parent
        .and_then(|members| members.get(key))
        .filter(|value| !value.is_null())
}

/// Compares the members of two structs (either may be absent), skipping
/// `skip`. Fields come sorted by name then value, objects by name.
fn diff_members(
    old: Option<&Members>,
    new: Option<&Members>,
    skip: &[&str],
) -> (Vec<FieldDiff>, Vec<ObjectDiff>) {
    let keys: BTreeSet<&String> = old.into_iter().chain(new).flat_map(Map::keys).collect();
    let mut fields = Vec::new();
    let mut objects = Vec::new();
    for key in keys {
        if skip.contains(&key.as_str()) {
            continue;
        }
        let (o, n) = (member(old, key), member(new, key));
        let Some(sample) = n.or(o) else { continue };
        let key = key.as_str();
        match sample {
            Value::Object(_) if FLAT_MAPS.contains(&key) => {
                fields.extend(flat_fields(&flatten(key, o), &flatten(key, n)));
            }
            Value::Object(_) if OPAQUE_MAPS.contains(&key) => {
                let (old_flat, new_flat) = (flatten("", o), flatten("", n));
                if old_flat.is_empty() && new_flat.is_empty() {
                    continue;
                }
                let fields = flat_fields(&old_flat, &new_flat);
                objects.push(object(
                    key,
                    !old_flat.is_empty(),
                    !new_flat.is_empty(),
                    fields,
                    Vec::new(),
                ));
            }
            Value::Object(_) if KEYED_OBJECTS.contains(&key) => {
                objects.extend(keyed_objects(
                    key,
                    o.and_then(Value::as_object),
                    n.and_then(Value::as_object),
                ));
            }
            Value::Object(_) => {
                let (o, n) = (o.and_then(Value::as_object), n.and_then(Value::as_object));
                objects.push(diff_object(key, o, n));
            }
            Value::Array(_) => {
                let (o, n) = (items(o), items(n));
                if o.iter().chain(n).all(Value::is_object) {
                    objects.extend(object_list(key, o, n));
                } else if let Some(diff) = primitive_list(key, o, n) {
                    objects.push(diff);
                }
            }
            _ => fields.extend(field(key, o.and_then(primitive), n.and_then(primitive))),
        }
    }
    sort_fields(&mut fields);
    objects.sort_by(|a, b| a.name.cmp(&b.name));
    (fields, objects)
}

/// The entries of a list member; none when absent.
fn items(value: Option<&Value>) -> &[Value] {
    value
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

fn sort_fields(fields: &mut [FieldDiff]) {
    fields.sort_by(|a, b| (&a.name, &a.old, &a.new).cmp(&(&b.name, &b.old, &b.new)));
}

/// One nested struct.
fn diff_object(name: &str, old: Option<&Members>, new: Option<&Members>) -> ObjectDiff {
    let (fields, objects) = diff_members(old, new, &[]);
    object(name, old.is_some(), new.is_some(), fields, objects)
}

fn object(
    name: &str,
    old: bool,
    new: bool,
    fields: Vec<FieldDiff>,
    objects: Vec<ObjectDiff>,
) -> ObjectDiff {
    let changed = has_changes(&fields, &objects);
    ObjectDiff {
        diff_type: presence_type(old, new, changed),
        name: name.to_owned(),
        fields,
        objects,
    }
}

/// A primitive as its displayed text; empty strings count as absent.
fn primitive(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(text) if text.is_empty() => None,
        Value::String(text) => Some(text.clone()),
        Value::Bool(_) | Value::Number(_) => Some(value.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// A field diff, or nothing when the value is absent on both sides.
fn field(name: &str, old: Option<String>, new: Option<String>) -> Option<FieldDiff> {
    let diff_type = match (&old, &new) {
        (None, None) => return None,
        (None, Some(_)) => DiffType::Added,
        (Some(_), None) => DiffType::Deleted,
        (Some(o), Some(n)) if o == n => DiffType::None,
        (Some(_), Some(_)) => DiffType::Edited,
    };
    Some(FieldDiff {
        diff_type,
        name: name.to_owned(),
        old: old.unwrap_or_default(),
        new: new.unwrap_or_default(),
        annotations: Vec::new(),
    })
}

/// Flattens a value like Nomad's `flatmap`: nested map keys as `[key]`,
/// list positions as `[i]`, the top-level keys of a map with an empty
/// prefix as they are.
fn flatten(prefix: &str, value: Option<&Value>) -> BTreeMap<String, String> {
    fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
        match value {
            Value::Object(members) => {
                for (key, value) in members {
                    let path = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}[{key}]")
                    };
                    walk(&path, value, out);
                }
            }
            Value::Array(items) => {
                for (index, value) in items.iter().enumerate() {
                    walk(&format!("{prefix}[{index}]"), value, out);
                }
            }
            other => {
                if let Some(text) = primitive(other) {
                    out.insert(prefix.to_owned(), text);
                }
            }
        }
    }
    let mut out = BTreeMap::new();
    if let Some(value) = value {
        walk(prefix, value, &mut out);
    }
    out
}

/// Field diffs of two flattened maps, in key order.
fn flat_fields(old: &BTreeMap<String, String>, new: &BTreeMap<String, String>) -> Vec<FieldDiff> {
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    keys.into_iter()
        .filter_map(|key| field(key, old.get(key).cloned(), new.get(key).cloned()))
        .collect()
}

/// A list of primitives as an object of the list's name whose fields, all
/// named after the list, are its values compared as a multiset.
fn primitive_list(name: &str, old: &[Value], new: &[Value]) -> Option<ObjectDiff> {
    if old.is_empty() && new.is_empty() {
        return None;
    }
    let old_values: Vec<String> = old.iter().filter_map(primitive).collect();
    let mut new_values: Vec<Option<String>> = new.iter().filter_map(primitive).map(Some).collect();
    let mut fields = Vec::new();
    for value in old_values {
        match new_values
            .iter_mut()
            .find(|candidate| candidate.as_deref() == Some(value.as_str()))
        {
            Some(slot) => {
                *slot = None;
                fields.extend(field(name, Some(value.clone()), Some(value)));
            }
            None => fields.extend(field(name, Some(value), None)),
        }
    }
    fields.extend(
        new_values
            .into_iter()
            .flatten()
            .filter_map(|value| field(name, None, Some(value))),
    );
    sort_fields(&mut fields);
    Some(object(
        name,
        !old.is_empty(),
        !new.is_empty(),
        fields,
        Vec::new(),
    ))
}

/// The singular name of one entry of a list of objects.
fn entry_name(list: &str) -> String {
    match list {
        "ReservedPorts" => "Static Port".to_owned(),
        "DynamicPorts" => "Dynamic Port".to_owned(),
        _ => {
            if let Some(stem) = list.strip_suffix("ies") {
                format!("{stem}y")
            } else if let Some(stem) = list.strip_suffix('s') {
                stem.to_owned()
            } else {
                list.to_owned()
            }
        }
    }
}

/// The identity member shared by every entry on both sides, with distinct
/// non-empty values on each side.
fn identity_key(old: &[Value], new: &[Value]) -> Option<&'static str> {
    IDENTITY_KEYS.iter().copied().find(|key| {
        [old, new].iter().all(|side| {
            let ids: Vec<&str> = side
                .iter()
                .filter_map(|entry| entry.get(*key).and_then(Value::as_str))
                .filter(|id| !id.is_empty())
                .collect();
            let distinct: BTreeSet<&str> = ids.iter().copied().collect();
            ids.len() == side.len() && distinct.len() == ids.len()
        })
    })
}

/// A list of objects: matched by identity when there is one (unchanged
/// matches omitted); else, outside the placement rules, a single entry on
/// each side is the same entry, edited; else compared as a multiset
/// (deleted entries in old order, then added entries in new order).
fn object_list(list: &str, old: &[Value], new: &[Value]) -> Vec<ObjectDiff> {
    let name = entry_name(list);
    if let Some(key) = identity_key(old, new) {
        let index = |side: &[Value]| -> BTreeMap<String, Members> {
            side.iter()
                .filter_map(Value::as_object)
                .filter_map(|entry| Some((entry.get(key)?.as_str()?.to_owned(), entry.clone())))
                .collect()
        };
        let (old, new) = (index(old), index(new));
        let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
        return ids
            .into_iter()
            .map(|id| diff_object(&name, old.get(id), new.get(id)))
            .filter(|diff| diff.diff_type != DiffType::None)
            .collect();
    }
    if let ([old], [new]) = (old, new)
        && !SET_LISTS.contains(&list)
    {
        // One entry on each side (a group's network): the same entry, edited.
        let diff = diff_object(&name, old.as_object(), new.as_object());
        return if diff.diff_type == DiffType::None {
            Vec::new()
        } else {
            vec![diff]
        };
    }
    let mut unmatched_new: Vec<Option<&Value>> = new.iter().map(Some).collect();
    let mut out = Vec::new();
    for entry in old {
        match unmatched_new
            .iter_mut()
            .find(|candidate| **candidate == Some(entry))
        {
            Some(slot) => *slot = None,
            None => out.push(diff_object(&name, entry.as_object(), None)),
        }
    }
    for entry in unmatched_new.into_iter().flatten() {
        out.push(diff_object(&name, None, entry.as_object()));
    }
    out
}

/// A map from user keys to structs (`Volumes`): entries matched by key,
/// each an object of the singular name; unchanged entries omitted.
fn keyed_objects(map: &str, old: Option<&Members>, new: Option<&Members>) -> Vec<ObjectDiff> {
    let name = entry_name(map);
    let keys: BTreeSet<&String> = old.into_iter().chain(new).flat_map(Map::keys).collect();
    keys.into_iter()
        .map(|key| {
            let (old, new) = (member(old, key), member(new, key));
            diff_object(
                &name,
                old.and_then(Value::as_object),
                new.and_then(Value::as_object),
            )
        })
        .filter(|diff| diff.diff_type != DiffType::None)
        .collect()
}
