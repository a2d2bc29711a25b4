//! Printing a job diff like `nomad job plan` (without colour).

use super::{DiffType, FieldDiff, JobDiff, ObjectDiff, TaskDiff, TaskGroupDiff};

/// Prints `diff` the way `nomad job plan` does, without colour:
///
/// ```text
/// +/- Job: "web"
/// +/- Task Group: "web" (1 create, 2 create/destroy update, 1 ignore)
///   +/- Count: "3" => "4" (forces create)
///   +/- Task: "server" (forces create/destroy update)
///     +/- Config {
///       +/- image: "nginx:1.1.2" => "nginx:2.0.0"
///         }
/// ```
///
/// Markers are `+` (added), `-` (deleted) and `+/-` (edited); markers and
/// values are aligned within each block, nested objects are closed under
/// their fields, and a blank line separates task groups. Values are quoted,
/// edited ones as `"old" => "new"`; annotations follow in parentheses, a
/// group's update counts sorted by name.
///
/// The job's and a group's own fields are printed when they are edited (or
/// when `verbose`); a task's only when it is edited (or when `verbose`, for
/// added and deleted tasks). Without `verbose`, unchanged fields and
/// objects are hidden, so an unchanged job prints its headers only. The
/// output ends with one newline.
pub fn render_diff(diff: &JobDiff, verbose: bool) -> String {
    let (fields, objects) = visible(&diff.fields, &diff.objects, verbose);
    let mut out = format!("{}Job: {}\n", marker(diff.diff_type), quote(&diff.id));
    let (longest_field, mut longest_marker) = longest_prefixes(&fields, &objects);
    for group in &diff.task_groups {
        longest_marker = longest_marker.max(marker_len(group.diff_type));
    }
    if diff.diff_type == DiffType::Edited || verbose {
        let block = aligned(&fields, &objects, 0, longest_field, longest_marker, verbose);
        if !block.is_empty() {
            out.push_str(&block);
            out.push('\n');
        }
    }
    for group in &diff.task_groups {
        let prefix = longest_marker - marker_len(group.diff_type);
        out.push_str(&spaces(prefix));
        out.push_str(&render_group(group, prefix, verbose));
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

fn render_group(group: &TaskGroupDiff, group_prefix: usize, verbose: bool) -> String {
    let mut out = format!(
        "{}Task Group: {}",
        marker(group.diff_type),
        quote(&group.name)
    );
    if group.updates.is_empty() {
        out.push('\n');
    } else {
        let updates: Vec<String> = group
            .updates
            .iter()
            .map(|(kind, count)| format!("{count} {kind}"))
            .collect();
        out.push_str(&format!(" ({})\n", updates.join(", ")));
    }
    let (fields, objects) = visible(&group.fields, &group.objects, verbose);
    let (longest_field, mut longest_marker) = longest_prefixes(&fields, &objects);
    for task in &group.tasks {
        longest_marker = longest_marker.max(marker_len(task.diff_type));
    }
    let start = group_prefix + 2;
    if group.diff_type == DiffType::Edited || verbose {
        let block = aligned(
            &fields,
            &objects,
            start,
            longest_field,
            longest_marker,
            verbose,
        );
        if !block.is_empty() {
            out.push_str(&block);
            out.push('\n');
        }
    }
    for task in &group.tasks {
        let prefix = longest_marker - marker_len(task.diff_type);
        out.push_str(&spaces(start + prefix));
        out.push_str(&render_task(task, start, verbose));
        out.push('\n');
    }
    out
}

fn render_task(task: &TaskDiff, start: usize, verbose: bool) -> String {
    let mut out = format!("{}Task: {}", marker(task.diff_type), quote(&task.name));
    if !task.annotations.is_empty() {
        out.push_str(&format!(" ({})", task.annotations.join(", ")));
    }
    let show_body = match task.diff_type {
        DiffType::None => false,
        DiffType::Added | DiffType::Deleted => verbose,
        DiffType::Edited => true,
    };
    if !show_body {
        return out;
    }
    let (fields, objects) = visible(&task.fields, &task.objects, verbose);
    if fields.is_empty() && objects.is_empty() {
        return out;
    }
    out.push('\n');
    let (longest_field, longest_marker) = longest_prefixes(&fields, &objects);
    out.push_str(&aligned(
        &fields,
        &objects,
        start + 2,
        longest_field,
        longest_marker,
        verbose,
    ));
    out
}

/// Fields and objects, an object's lines, then its closing brace under its
/// fields; no trailing newline.
fn aligned(
    fields: &[&FieldDiff],
    objects: &[&ObjectDiff],
    start: usize,
    longest_field: usize,
    longest_marker: usize,
    verbose: bool,
) -> String {
    let mut lines: Vec<String> = Vec::new();
    for field in fields {
        let key_prefix = longest_marker - marker_len(field.diff_type);
        let value_prefix = longest_field.saturating_sub(field.name.chars().count());
        lines.push(render_field(field, start + key_prefix, value_prefix));
    }
    for object in objects {
        let key_prefix = longest_marker - marker_len(object.diff_type);
        lines.push(render_object(object, start, key_prefix, verbose));
    }
    lines.join("\n")
}

fn render_field(field: &FieldDiff, indent: usize, value_prefix: usize) -> String {
    let value = match field.diff_type {
        DiffType::Added | DiffType::None => quote(&field.new),
        DiffType::Deleted => quote(&field.old),
        DiffType::Edited => format!("{} => {}", quote(&field.old), quote(&field.new)),
    };
    let mut out = format!(
        "{}{}{}: {}{}",
        spaces(indent),
        marker(field.diff_type),
        field.name,
        spaces(value_prefix),
        value
    );
    if !field.annotations.is_empty() {
        out.push_str(&format!(" ({})", field.annotations.join(", ")));
    }
    out
}

fn render_object(object: &ObjectDiff, start: usize, key_prefix: usize, verbose: bool) -> String {
    let (fields, objects) = visible(&object.fields, &object.objects, verbose);
    let mut out = format!(
        "{}{}{} {{\n",
        spaces(start + key_prefix),
        marker(object.diff_type),
        object.name
    );
    let (longest_field, longest_marker) = longest_prefixes(&fields, &objects);
    out.push_str(&aligned(
        &fields,
        &objects,
        start + key_prefix + 2,
        longest_field,
        longest_marker,
        verbose,
    ));
    out.push('\n');
    out.push_str(&spaces(start + marker_len(object.diff_type) + key_prefix));
    out.push('}');
    out
}

/// What is printed: everything when verbose, else only the changes.
fn visible<'a>(
    fields: &'a [FieldDiff],
    objects: &'a [ObjectDiff],
    verbose: bool,
) -> (Vec<&'a FieldDiff>, Vec<&'a ObjectDiff>) {
    let shown = |diff_type: DiffType| verbose || diff_type != DiffType::None;
    (
        fields.iter().filter(|f| shown(f.diff_type)).collect(),
        objects.iter().filter(|o| shown(o.diff_type)).collect(),
    )
}

fn longest_prefixes(fields: &[&FieldDiff], objects: &[&ObjectDiff]) -> (usize, usize) {
    let longest_field = fields
        .iter()
        .map(|f| f.name.chars().count())
        .max()
        .unwrap_or(0);
    let longest_marker = fields
        .iter()
        .map(|f| marker_len(f.diff_type))
        .chain(objects.iter().map(|o| marker_len(o.diff_type)))
        .max()
        .unwrap_or(0);
    (longest_field, longest_marker)
}

/// The marker and the space after it.
fn marker(diff_type: DiffType) -> String {
    match diff_type {
        DiffType::None => String::new(),
        other => format!("{} ", other.marker()),
    }
}

fn marker_len(diff_type: DiffType) -> usize {
    marker(diff_type).len()
}

fn spaces(count: usize) -> String {
    " ".repeat(count)
}

/// A value in double quotes, with quotes, backslashes and control
/// characters escaped (like Go's `%q` for the usual cases).
fn quote(value: &str) -> String {
    format!("{value:?}")
}
