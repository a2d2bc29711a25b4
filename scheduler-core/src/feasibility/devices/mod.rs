//! Device requests: which nodes can serve them and which instances an
//! allocation gets (Nomad's `DeviceChecker`, `nodeDeviceMatches` and
//! `deviceAllocator.createOffer`).
//!
//! A [`DeviceRequestMatcher`] is built once per evaluation from a
//! [`RequestedDevice`]: the name is split, constraint and affinity rules are
//! parsed, and literal regular expressions and version constraints are
//! compiled, so checking many nodes compiles nothing.
//!
//! - [`DeviceRequestMatcher::check_node`] is node-level feasibility: some
//!   device group on the node matches the request's name and constraints and
//!   has at least `count` healthy instances, whatever other allocations hold.
//! - [`assign_devices`] is the fit: it gives every request of every task of
//!   one allocation instances that are healthy and free, preferring the group
//!   with the best affinity score.
//!
//! # Names
//!
//! A request name is `<type>`, `<vendor>/<type>` or `<vendor>/<type>/<model>`
//! (split on the first two `/`, so a model may contain `/`). A group matches
//! when every part the request gives equals the group's; an empty part
//! (`/gpu`) matches anything, as in Nomad.
//!
//! # Targets and values
//!
//! Rules use `${device.vendor}`, `${device.type}`, `${device.model}`,
//! `${device.ids}` (every instance id of the group, comma-separated) and
//! `${device.attr.<name>}`. Anything else that starts with `${` never
//! resolves. Any other text is a literal, read as Nomad's `ParseAttribute`
//! does: an integer, else a float, each with an optional unit suffix (`4 GiB`,
//! `4GiB`, `1.5GHz`), else a boolean (Go's `ParseBool`: `true`, `t`, `1`...
//! after the numbers), else a string.
//!
//! Values are typed: numbers compare numerically after converting units to
//! their base (bytes, bytes per second, hertz, watts), strings lexically,
//! booleans only for equality. Numbers with units of different bases, a
//! number with a known unit against one without, and values of different
//! types are not comparable: no comparison holds between them, not even
//! `!=` (which only holds without comparing when exactly one side is
//! missing). A node attribute whose unit is not one of
//! [`UNIT_NAMES`] counts as unitless.
//!
//! # Operators
//!
//! | Operator | A group matches when |
//! |---|---|
//! | `=`, `==`, `is` (or empty) | both sides resolve and compare equal |
//! | `!=`, `not` | exactly one side resolves, or both do and are comparable and differ |
//! | `<` `<=` `>` `>=` | both resolve and are comparable and ordered so (not booleans) |
//! | `regexp` | the left side is a string matching the expression (unanchored) |
//! | `set_contains`, `set_contains_all` | the left side is a string whose comma-separated, trimmed items include every right item |
//! | `set_contains_any` | ... include at least one right item |
//! | `version`, `semver` | the left side (a string or integer) satisfies the constraint (see [`super::version_match`]) |
//! | `is_set` / `is_not_set` | the left side does / does not resolve |
//! | `distinct_hosts`, `distinct_property` | always (validation rejects them here) |
//!
//! For `regexp`, `set_contains*`, `version` and `semver` a literal is used as
//! written; a resolved right side must be a string.
//!
//! `${device.ids}` in a constraint also filters instances: an instance is
//! only usable when the constraint holds with `${device.ids}` standing for
//! that one id, where `set_contains` and `set_contains_all` mean "the id is
//! one of the listed ids" (so `${device.ids} set_contains "GPU-1,GPU-2"`
//! allows exactly those two instances).
//!
//! # Where we differ from Nomad, deliberately
//!
//! - A literal compared with a string value is a string as written
//!   (`${device.model} = 1080` matches a model named `1080`); Nomad parses it
//!   as a number first, which then never equals a string.
//! - A literal on the right of `regexp`, `set_contains*`, `version` or
//!   `semver` is used as written; Nomad first parses it as a typed value, so
//!   `regexp "10"` or `version "1.2"` (a number, not a string) never match.
//! - Booleans only support `=` and `!=`; Nomad makes `>` true and `<` false
//!   for any two different booleans.
//! - Integer comparisons with units are exact (`1500 mW > 1 W`); Nomad
//!   divides integers by inverse multipliers and truncates. `B` and `B/s` are
//!   accepted units.
//! - Instances excluded by a `${device.ids}` constraint are not counted, in
//!   feasibility nor in fit; Nomad counts them and may then offer fewer
//!   instances than asked.
//! - Groups are tried in id order and a tie in affinity goes to the first;
//!   instance ids are given in ascending (byte) order. Nomad iterates Go
//!   maps.
//! - The allocation's affinity score is the mean of its requests' scores
//!   (see [`DeviceAssignment::affinity_score`]); Nomad pools the weights of
//!   all requests (Σ matched / Σ|weight|).
//! - A request for 0 instances is rejected when the matcher is built; Nomad
//!   lets it through feasibility and fails it when offering devices.

use std::collections::BTreeSet;

use crate::model::{Node, NodeDeviceResource, RequestedDevice};

mod assign;
mod rule;
mod value;

#[cfg(test)]
mod tests;

pub use assign::{DeviceAssignment, DeviceShortage, assign_devices};
use rule::Rule;
pub use value::UNIT_NAMES;

// ---------------------------------------------------------------------------
// Requests

/// A device request prepared once per evaluation (parsed name, compiled
/// constraints and affinities), then checked against many nodes.
#[derive(Debug, Clone)]
pub struct DeviceRequestMatcher {
    name: String,
    /// The parts of the name; `""` matches any group.
    vendor: String,
    device_type: String,
    model: String,
    count: u64,
    constraints: Vec<Rule>,
    /// The constraints on `${device.ids}`, as applied to one instance.
    instance_rules: Vec<Rule>,
    /// Rules and weights.
    affinities: Vec<(Rule, i8)>,
}

/// How a group relates to a request, for explaining a miss.
enum GroupFit {
    OtherName,
    Constraint(String),
    Usable(usize),
}

impl DeviceRequestMatcher {
    /// Prepares a request. Fails when the name is empty, the count is 0, or
    /// a constraint or affinity has an unknown operator or a literal regular
    /// expression or version constraint that does not compile.
    pub fn new(request: &RequestedDevice) -> Result<Self, String> {
        let name = request.name.as_str();
        if name.is_empty() {
            return Err("device request has no name".to_owned());
        }
        let count = request.count();
        if count == 0 {
            return Err(format!(
                "device {name:?} asks for 0 instances; ask for at least 1"
            ));
        }
        // Nomad's `RequestedDevice.ID`: split on the first two slashes.
        let mut parts = name.splitn(3, '/');
        let first = parts.next().unwrap_or_default();
        let (vendor, device_type, model) = match (parts.next(), parts.next()) {
            (None, _) => ("", first, ""),
            (Some(t), None) => (first, t, ""),
            (Some(t), Some(m)) => (first, t, m),
        };
        let in_device = |e: String| format!("device {name:?}: {e}");
        let constraints = request
            .constraints
            .iter()
            .map(|c| Rule::new(&c.l_target, &c.operand, &c.r_target))
            .collect::<Result<Vec<_>, _>>()
            .map_err(in_device)?;
        let instance_rules = constraints
            .iter()
            .filter(|rule| rule.mentions_ids())
            .map(Rule::for_instance)
            .collect();
        let affinities = request
            .affinities
            .iter()
            .map(|a| Rule::new(&a.l_target, &a.operand, &a.r_target).map(|r| (r, a.weight())))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| in_device(format!("affinity {e}")))?;
        Ok(DeviceRequestMatcher {
            name: name.to_owned(),
            vendor: vendor.to_owned(),
            device_type: device_type.to_owned(),
            model: model.to_owned(),
            count,
            constraints,
            instance_rules,
            affinities,
        })
    }

    /// The request name as written (`nvidia/gpu`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many instances the request needs (at least 1).
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Whether the request has affinities, so its choice of group is scored.
    pub fn has_affinities(&self) -> bool {
        !self.affinities.is_empty()
    }

    /// Whether the group's vendor, type and model match the request name.
    pub fn matches_name(&self, group: &NodeDeviceResource) -> bool {
        let part = |want: &str, have: &str| want.is_empty() || want == have;
        part(&self.vendor, &group.vendor)
            && part(&self.device_type, &group.device_type)
            && part(&self.model, &group.name)
    }

    /// `Ok` when the group matches the name and every constraint (counts
    /// are not considered); else a reason naming the group.
    pub fn check_group(&self, group: &NodeDeviceResource) -> Result<(), String> {
        if !self.matches_name(group) {
            return Err(format!("{} is not a {:?}", group.id(), self.name));
        }
        for rule in &self.constraints {
            rule.check(group, None)
                .map_err(|why| format!("{} fails {}: {why}", group.id(), rule.rendered))?;
        }
        Ok(())
    }

    /// The group's affinity score in `[-1, 1]`: the weights of the
    /// affinities that hold over the sum of all weights' magnitudes. `None`
    /// when the request has no affinities.
    pub fn affinity_score(&self, group: &NodeDeviceResource) -> Option<f64> {
        if self.affinities.is_empty() {
            return None;
        }
        let (matched, total) =
            self.affinities
                .iter()
                .fold((0i64, 0i64), |(matched, total), (rule, weight)| {
                    let w = i64::from(*weight);
                    let hit = rule.check(group, None).is_ok();
                    (matched + if hit { w } else { 0 }, total + w.abs())
                });
        // Weights are validated non-zero; a zero total would otherwise be NaN.
        #[allow(clippy::cast_precision_loss)]
        Some(if total == 0 {
            0.0
        } else {
            matched as f64 / total as f64
        })
    }

    /// The ids of the group's instances this request could use, whoever
    /// holds them: healthy and allowed by any `${device.ids}` constraint.
    /// Sorted ascending, without duplicates.
    pub fn usable_instances<'n>(&self, group: &'n NodeDeviceResource) -> BTreeSet<&'n str> {
        group
            .instances
            .iter()
            .filter(|d| d.healthy)
            .map(|d| d.id.as_str())
            .filter(|id| {
                self.instance_rules
                    .iter()
                    .all(|rule| rule.check(group, Some(id)).is_ok())
            })
            .collect()
    }

    fn group_fit(&self, group: &NodeDeviceResource) -> GroupFit {
        if !self.matches_name(group) {
            return GroupFit::OtherName;
        }
        match self.check_group(group) {
            Err(why) => GroupFit::Constraint(why),
            Ok(()) => GroupFit::Usable(self.usable_instances(group).len()),
        }
    }

    /// Node-level feasibility: `Ok` when some device group matches the name
    /// and every constraint and has at least `count` healthy instances,
    /// whatever other allocations hold. Each request is checked alone: to
    /// know whether a node can serve all of an allocation's requests at
    /// once, call [`assign_devices`] with an empty `used`.
    ///
    /// The error is one line a user can act on, such as `no device group
    /// matches "nvidia/gpu" with 2 healthy instances and constraint
    /// ${device.attr.memory} >= 40 GiB (node has nvidia/gpu/T4 x1)`,
    /// followed by why each group of the right name failed a constraint.
    pub fn check_node(&self, node: &Node) -> Result<(), String> {
        let groups = &node.node_resources.devices;
        let mut why_not = Vec::new();
        for group in sorted_groups(node) {
            match self.group_fit(group) {
                GroupFit::Usable(n) if n as u64 >= self.count => return Ok(()),
                GroupFit::Usable(n) if n < group.healthy_count() => why_not.push(format!(
                    "{}: only {n} healthy instance{} allowed by the ${{device.ids}} constraints",
                    group.id(),
                    plural(n as u64)
                )),
                GroupFit::Constraint(why) => why_not.push(why),
                GroupFit::Usable(_) | GroupFit::OtherName => {}
            }
        }
        let constraints = match self.constraints.as_slice() {
            [] => String::new(),
            [one] => format!(" and constraint {}", one.rendered),
            many => format!(
                " and constraints {}",
                many.iter()
                    .map(|r| r.rendered.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let inventory = if groups.is_empty() {
            "no devices".to_owned()
        } else {
            sorted_groups(node)
                .map(|g| {
                    let healthy = g.healthy_count();
                    let unhealthy = g.instances.len() - healthy;
                    if unhealthy == 0 {
                        format!("{} x{healthy}", g.id())
                    } else {
                        format!("{} x{healthy} (+{unhealthy} unhealthy)", g.id())
                    }
                })
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut message = format!(
            "no device group matches {:?} with {} healthy instance{}{constraints} (node has {inventory})",
            self.name,
            self.count,
            plural(self.count)
        );
        for why in why_not {
            message.push_str("; ");
            message.push_str(&why);
        }
        Err(message)
    }
}

fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The node's device groups in id order (vendor, type, model), so choices
/// and messages never depend on the order the client reported them in.
fn sorted_groups(node: &Node) -> impl Iterator<Item = &NodeDeviceResource> {
    let mut groups: Vec<&NodeDeviceResource> = node.node_resources.devices.iter().collect();
    // Stable: groups with the same id keep their reported order.
    groups.sort_by(|a, b| {
        (&a.vendor, &a.device_type, &a.name).cmp(&(&b.vendor, &b.device_type, &b.name))
    });
    groups.into_iter()
}

/// The device requests of a group's tasks, prepared: one entry per task
/// that asks for devices, in task order. Requests that cannot be prepared
/// are left out here; the feasibility check reports them.
pub fn group_device_matchers(
    group: &crate::model::TaskGroup,
) -> Vec<(String, Vec<DeviceRequestMatcher>)> {
    group
        .tasks
        .iter()
        .filter(|task| !task.resources.devices.is_empty())
        .map(|task| {
            let matchers = task
                .resources
                .devices
                .iter()
                .filter_map(|request| DeviceRequestMatcher::new(request).ok())
                .collect();
            (task.name.clone(), matchers)
        })
        .collect()
}
