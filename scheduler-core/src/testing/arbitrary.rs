//! Proptest strategies for valid, canonical jobs.
//!
//! [`arb_job`] builds a job in three steps: independent strategies draw the
//! parts (groups, tasks, services, policies, free-form maps...), a
//! deterministic fix-up pass ([`make_consistent`]) ties them together so
//! the job obeys the cross-field rules of [`validate_job`] (unique names and
//! ports, services that name existing ports, volume mounts that name
//! existing volumes, rules that depend on the job type), and finally the job
//! is canonicalised. Free text deliberately contains what is hard to print
//! and parse: quotes, backslashes, newlines, `${`, `%{` and runtime
//! references such as `${attr.kernel.name}`.
//!
//! [`validate_job`]: crate::model::validate::validate_job
//! [`make_consistent`]: super::make_consistent

use crate::model::*;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value as Json;
use std::collections::BTreeMap;

pub use super::arbitrary_parts::*;

/// A name valid for a job, group, task or service: lowercase letters and
/// digits, so `<job>-<group>-<task>` is a valid service name too.
pub fn arb_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,6}"
}

/// Free text mixing plain words with what is hard to print: quotes,
/// backslashes, newlines, tabs, `${`, `%{`, runtime references, non-ASCII.
pub fn arb_text() -> impl Strategy<Value = String> {
    let special = select(vec![
        "$",
        "%",
        "{",
        "}",
        "${",
        "%{",
        "$${",
        "\"",
        "\\",
        "\n",
        "\t",
        "é",
        "EOT\n",
        "${attr.kernel.name}",
        "${NOMAD_ALLOC_ID}",
        "${ var.x }",
    ]);
    vec(
        prop_oneof![4 => "[a-zA-Z0-9 ._/:-]{1,8}", 2 => special.prop_map(str::to_owned), 1 => "\\PC{1,3}"],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

/// A map key: mostly identifiers, sometimes keys that need quoting.
pub fn arb_key() -> impl Strategy<Value = String> {
    prop_oneof![
        8 => "[A-Za-z_][A-Za-z0-9_]{0,8}",
        1 => "[a-z]{1,4}[.-][a-z]{1,4}",
        1 => select(vec!["with space", "for", "true", "dynamic", "${k}", "é", "1st"]).prop_map(str::to_owned),
    ]
}

/// A map of strings (`meta`, `env`, ...).
pub fn arb_string_map() -> impl Strategy<Value = BTreeMap<String, String>> {
    btree_map(arb_key(), arb_text(), 0..4)
}

/// A free-form JSON value: nested objects and lists of scalars (whole
/// numbers and fractional floats, which HCL reads back as they are).
pub fn arb_json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        Just(Json::Null),
        any::<bool>().prop_map(Json::from),
        any::<i64>().prop_map(Json::from),
        (-1000_i64..1000).prop_map(|n| Json::from(n as f64 + 0.25)),
        arb_text().prop_map(Json::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..4).prop_map(Json::Array),
            btree_map(arb_key(), inner, 0..4).prop_map(|m| Json::Object(m.into_iter().collect())),
        ]
    })
}

/// A driver `config` or scaling `policy` map.
pub fn arb_free_form() -> impl Strategy<Value = BTreeMap<String, Json>> {
    btree_map(arb_key(), arb_json(), 0..5)
}

/// A duration of whole milliseconds below 1000 hours (exact in Go syntax).
pub(crate) fn arb_duration(max_secs: i64) -> impl Strategy<Value = Duration> {
    prop_oneof![
        (0..=max_secs).prop_map(Duration::from_secs),
        (0..=max_secs * 1000).prop_map(Duration::from_millis)
    ]
}

const TARGETS: &[&str] = &[
    "${attr.kernel.name}",
    "${node.datacenter}",
    "${meta.rack}",
    "${node.class}",
];

/// A valid constraint; `distinct` allows the group-and-job-only operators.
pub fn arb_constraint(distinct: bool) -> impl Strategy<Value = Constraint> {
    let mut operators = vec![
        ("=", "linux"),
        ("!=", "windows"),
        ("==", "x86_64"),
        ("is", "a"),
        ("not", "b"),
        ("<", "5"),
        (">=", "2"),
        ("regexp", "^dc[0-9]+$"),
        ("version", ">= 1.2.0, < 2.0"),
        ("semver", "~> 1.4"),
        ("set_contains", "a,b"),
        ("set_contains_any", "c"),
        ("set_contains_all", "d,e"),
        ("is_set", ""),
        ("is_not_set", ""),
    ];
    if distinct {
        operators.extend([("distinct_hosts", ""), ("distinct_property", "2")]);
    }
    (select(operators), select(TARGETS)).prop_map(|((operator, value), target)| Constraint {
        l_target: if operator == "distinct_hosts" {
            String::new()
        } else {
            target.to_owned()
        },
        r_target: value.to_owned(),
        operand: operator.to_owned(),
    })
}

/// A valid affinity (weight -100 to 100, not 0).
pub fn arb_affinity() -> impl Strategy<Value = Affinity> {
    (
        arb_constraint(false),
        of(prop_oneof![-100_i8..0, 1_i8..=100]),
    )
        .prop_map(|(c, weight)| Affinity {
            l_target: c.l_target,
            r_target: c.r_target,
            operand: c.operand,
            weight,
        })
}

/// A valid spread: unique targets whose percentages add up to at most 100.
pub fn arb_spread() -> impl Strategy<Value = Spread> {
    (
        select(TARGETS),
        of(1_i8..=100),
        vec((arb_name(), 0_u8..=50), 0..3),
    )
        .prop_map(|(attribute, weight, targets)| {
            let mut spread_target: Vec<SpreadTarget> = Vec::new();
            for (value, percent) in targets {
                if !spread_target.iter().any(|t| t.value == value) {
                    spread_target.push(SpreadTarget { value, percent });
                }
            }
            Spread {
                attribute: attribute.to_owned(),
                weight,
                spread_target,
            }
        })
}

/// An update strategy whose timings are consistent with themselves and
/// with the defaults (each related group of fields is all set or all unset,
/// so merging a group's block over the job's stays valid).
pub fn arb_update() -> impl Strategy<Value = UpdateStrategy> {
    let timings = of((0_i64..60, 1_i64..10, prop_oneof![Just(0_i64), 1_i64..30]));
    let canary = of((0_i64..3, any::<bool>()));
    (
        timings,
        canary,
        of(0_i64..4),
        of(select(vec!["checks", "task_states", "manual"])),
        of(any::<bool>()),
        of(1_i64..60),
    )
        .prop_map(
            |(timings, canary, max_parallel, health_check, auto_revert, stagger)| {
                let mut update = UpdateStrategy {
                    max_parallel,
                    health_check: health_check.map(str::to_owned),
                    auto_revert,
                    stagger: stagger.map(Duration::from_secs),
                    ..UpdateStrategy::default()
                };
                if let Some((min, healthy, progress)) = timings {
                    update.min_healthy_time = Some(Duration::from_secs(min));
                    update.healthy_deadline = Some(Duration::from_secs(min + healthy * 60));
                    update.progress_deadline = Some(match progress {
                        0 => Duration::ZERO,
                        extra => Duration::from_secs(min + healthy * 60 + extra * 60),
                    });
                }
                if let Some((canaries, promote)) = canary {
                    update.canary = Some(canaries);
                    update.auto_promote = Some(promote && canaries > 0);
                }
                update
            },
        )
}

/// A restart policy: all fields set and consistent, or (`None`) inherited.
pub fn arb_restart() -> impl Strategy<Value = Option<RestartPolicy>> {
    of((
        0_i64..4,
        0_i64..20,
        1_i64..30,
        any::<bool>(),
        of(any::<bool>()),
    ))
    .prop_map(|policy| {
        policy.map(
            |(attempts, delay, interval_min, delay_mode, render)| RestartPolicy {
                attempts: Some(attempts),
                delay: Some(Duration::from_secs(delay)),
                interval: Some(Duration::from_secs(attempts * delay + interval_min * 60)),
                mode: Some(
                    if delay_mode && attempts > 0 {
                        "delay"
                    } else {
                        "fail"
                    }
                    .to_owned(),
                ),
                render_templates: render,
            },
        )
    })
}

/// A reschedule policy: unlimited, limited (fitting in its interval) or disabled.
pub fn arb_reschedule() -> impl Strategy<Value = ReschedulePolicy> {
    let function = select(vec!["constant", "exponential", "fibonacci"]);
    (0_u8..3, 1_i64..4, 5_i64..60, function).prop_map(|(kind, attempts, delay, function)| {
        let (attempts, unlimited) = match kind {
            0 => (0, true),
            1 => (attempts, false),
            _ => (0, false),
        };
        ReschedulePolicy {
            attempts: Some(attempts),
            interval: Some(if unlimited {
                Duration::ZERO
            } else {
                Duration::from_hours(24)
            }),
            delay: Some(Duration::from_secs(delay)),
            delay_function: Some(function.to_owned()),
            max_delay: Some(Duration::from_hours(1)),
            unlimited: Some(unlimited),
        }
    })
}

/// A migrate strategy (all fields set).
pub fn arb_migrate() -> impl Strategy<Value = MigrateStrategy> {
    (
        1_i64..4,
        select(vec!["checks", "task_states"]),
        0_i64..30,
        1_i64..10,
    )
        .prop_map(|(max_parallel, check, min, deadline)| MigrateStrategy {
            max_parallel: Some(max_parallel),
            health_check: Some(check.to_owned()),
            min_healthy_time: Some(Duration::from_secs(min)),
            healthy_deadline: Some(Duration::from_secs(min + deadline * 60)),
        })
}

/// A job type, weighted towards service and batch.
pub fn arb_job_type() -> impl Strategy<Value = JobType> {
    prop_oneof![3 => Just(JobType::Service), 3 => Just(JobType::Batch), 1 => Just(JobType::System), 1 => Just(JobType::Sysbatch)]
}

prop_compose! {
    /// A valid, canonical job of any type with 1 to 3 groups of 1 to 3 tasks.
    pub fn arb_job()(
        (id, name, job_type) in (arb_name(), of(arb_name()), arb_job_type()),
        (region, namespace, node_pool, datacenters, priority, all_at_once) in (
            of(arb_name()), of(arb_name()), of(arb_name()), vec(prop_oneof![arb_name(), Just("*".to_owned())], 0..3),
            of(1_i64..=100), any::<bool>(),
        ),
        (meta, constraints, affinities, spreads) in (arb_string_map(), vec(arb_constraint(true), 0..2), vec(arb_affinity(), 0..2), vec(arb_spread(), 0..2)),
        (update, reschedule, migrate) in (of(arb_update()), of(arb_reschedule()), of(arb_migrate())),
        (periodic, parameterized) in (
            of((select(vec!["*/15 * * * *", "@daily", "0 0 * * 1-5"]), any::<bool>(), of(any::<bool>()), of(select(vec!["UTC", "Europe/Paris"])), any::<bool>())),
            of((select(vec!["optional", "required", "forbidden"]), vec("[a-z]{1,4}", 0..2), vec("[A-Z]{1,4}", 0..2))),
        ),
        (ui, tokens) in (of((arb_text(), vec((arb_text(), "https://[a-z]{1,6}\\.example"), 0..2))), of(("[a-f0-9]{8}", arb_name()))),
        groups in vec(arb_group(), 1..=3),
    ) -> Job {
        let mut job = Job {
            id: JobId::new(id),
            name: name.unwrap_or_default(),
            job_type,
            region: region.unwrap_or_default(),
            namespace: namespace.unwrap_or_default(),
            node_pool: node_pool.unwrap_or_default(),
            datacenters,
            priority,
            all_at_once,
            meta,
            constraints,
            affinities,
            spreads,
            update,
            reschedule,
            migrate,
            periodic: periodic.map(|(spec, several, enabled, time_zone, prohibit_overlap)| PeriodicConfig {
                enabled,
                spec: if several { String::new() } else { spec.to_owned() },
                specs: if several { vec![spec.to_owned(), "@hourly".to_owned()] } else { Vec::new() },
                spec_type: "cron".to_owned(),
                prohibit_overlap,
                time_zone: time_zone.unwrap_or_default().to_owned(),
            }),
            parameterized_job: parameterized.map(|(payload, meta_required, meta_optional)| ParameterizedJobConfig {
                payload: payload.to_owned(),
                meta_required,
                meta_optional,
            }),
            ui: ui.map(|(description, links)| JobUiConfig {
                description,
                links: links.into_iter().map(|(label, url)| JobUiLink { label, url }).collect(),
            }),
            consul_token: tokens.as_ref().map(|t| t.0.clone()).unwrap_or_default(),
            vault_namespace: tokens.map(|t| t.1).unwrap_or_default(),
            task_groups: groups,
            ..Job::default()
        };
        super::consistent::make_consistent(&mut job);
        job.canonicalize();
        job
    }
}
