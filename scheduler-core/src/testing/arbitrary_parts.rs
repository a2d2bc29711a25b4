//! Proptest strategies for the parts of a task group that tasks and
//! services are made of: networks, service checks, resources, templates and
//! artifacts. Split from [`super::arbitrary`], which composes them into jobs.

use super::arbitrary::*;
use crate::model::*;
use proptest::collection::{btree_map, vec};
use proptest::option::of;
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::Value as Json;
use std::collections::BTreeMap;

/// A network with a mode, DNS, CNI args and ports (labels and static values
/// are made unique by [`make_consistent`]).
///
/// [`make_consistent`]: super::make_consistent
pub fn arb_network() -> impl Strategy<Value = NetworkResource> {
    let port = (
        "[a-z][a-z0-9_-]{0,5}",
        any::<bool>(),
        prop_oneof![Just(0_i64), -1_i64..=65535],
        of(Just("public")),
        any::<bool>(),
    );
    let dns = of((
        vec("[0-9.]{1,7}", 0..2),
        vec(arb_name(), 0..2),
        vec(Just("ndots:2".to_owned()), 0..2),
    ));
    (
        of(select(vec!["host", "bridge"])),
        of(arb_name()),
        of(0_i64..100),
        vec(port, 0..3),
        dns,
        of(arb_string_map()),
    )
        .prop_map(|(mode, hostname, mbits, ports, dns, cni)| {
            let mut network = NetworkResource {
                mode: mode.unwrap_or_default().to_owned(),
                hostname: hostname.unwrap_or_default(),
                mbits: mbits.map(Mbits),
                dns: dns.map(|(servers, searches, options)| DnsConfig {
                    servers,
                    searches,
                    options,
                }),
                cni: cni.map(|args| CniConfig { args }),
                ..NetworkResource::default()
            };
            for (label, fixed, to, host_network, ignore_collision) in ports {
                let port = Port {
                    label,
                    value: 0,
                    to,
                    host_network: host_network.unwrap_or_default().to_owned(),
                    ignore_collision,
                };
                if fixed {
                    network.reserved_ports.push(port)
                } else {
                    network.dynamic_ports.push(port)
                }
            }
            network
        })
}

/// A check of one of the types Consul and Nomad both run (`http`, `tcp`),
/// or a Consul-only one; [`make_consistent`] settles names and ports.
///
/// [`make_consistent`]: super::make_consistent
pub fn arb_check() -> impl Strategy<Value = ServiceCheck> {
    let kind = select(vec!["http", "tcp", "grpc", "script", "ttl"]);
    let restart = of((0_i64..5, of(arb_duration(60)), any::<bool>()));
    let header = btree_map("[A-Z][a-zA-Z-]{0,8}", vec(arb_text(), 0..2), 0..2);
    let extra = (
        arb_text(),
        of(select(vec!["passing", "warning", "critical"])),
        any::<bool>(),
        header,
        0_i64..4,
    );
    (kind, 1_i64..60, 1_i64..10, "/[a-z/]{0,8}", restart, extra).prop_map(
        |(kind, interval, timeout, path, restart, (notes, status, tls, header, threshold))| {
            ServiceCheck {
                r#type: kind.to_owned(),
                interval: Duration::from_secs(interval),
                timeout: Duration::from_secs(timeout),
                path: if kind == "http" { path } else { String::new() },
                command: if kind == "script" {
                    "/bin/check".to_owned()
                } else {
                    String::new()
                },
                args: if kind == "script" {
                    vec![notes.clone()]
                } else {
                    Vec::new()
                },
                protocol: if kind == "http" && tls {
                    "https".to_owned()
                } else {
                    String::new()
                },
                tls_skip_verify: tls,
                header: if kind == "http" {
                    header
                } else {
                    BTreeMap::new()
                },
                method: if kind == "http" {
                    "GET".to_owned()
                } else {
                    String::new()
                },
                notes,
                initial_status: status.unwrap_or_default().to_owned(),
                check_restart: restart.map(|(limit, grace, ignore_warnings)| CheckRestart {
                    limit,
                    grace,
                    ignore_warnings,
                }),
                success_before_passing: threshold,
                failures_before_critical: threshold,
                ..ServiceCheck::default()
            }
        },
    )
}

/// A service with checks, tags, meta, weights and sometimes Connect settings.
pub fn arb_service() -> impl Strategy<Value = Service> {
    let basics = (
        of(arb_name()),
        any::<bool>(),
        vec(arb_text(), 0..3),
        vec(arb_name(), 0..2),
        select(vec!["", "auto", "host", "driver", "alloc"]),
    );
    let maps = (
        arb_string_map(),
        arb_string_map(),
        btree_map(arb_key(), "[0-9.:]{1,8}", 0..2),
    );
    let extras = (
        of((1_i64..10, 1_i64..10)),
        of(arb_free_form()),
        select(vec!["", "require_healthy", "ignore_warnings", "ignore"]),
        of((0_i64..3, of(arb_duration(30)), any::<bool>())),
        of(vec("[a-z]{1,6}", 1..3)),
    );
    (basics, maps, vec(arb_check(), 0..3), extras).prop_map(
        |(
            (name, nomad, tags, canary_tags, address_mode),
            (meta, canary_meta, tagged_addresses),
            checks,
            extras,
        )| {
            let (weights, connect, on_update, check_restart, identity) = extras;
            Service {
                name: name.unwrap_or_default(),
                provider: if nomad {
                    "nomad".to_owned()
                } else {
                    String::new()
                },
                tags,
                canary_tags,
                address_mode: address_mode.to_owned(),
                address: if address_mode == "auto" {
                    "10.0.0.1".to_owned()
                } else {
                    String::new()
                },
                meta,
                canary_meta,
                tagged_addresses,
                checks,
                on_update: on_update.to_owned(),
                check_restart: check_restart.map(|(limit, grace, ignore_warnings)| CheckRestart {
                    limit,
                    grace,
                    ignore_warnings,
                }),
                weights: weights.map(|(passing, warning)| ServiceWeights { passing, warning }),
                connect: connect.filter(|_| !nomad).map(|c| {
                    let mut map: serde_json::Map<String, Json> = c
                        .into_iter()
                        .filter(|(k, _)| super::consistent::is_identifier(k))
                        .collect();
                    map.insert(
                        "sidecar_service".to_owned(),
                        Json::Array(vec![Json::Object(Default::default())]),
                    );
                    Json::Object(map)
                }),
                identity: identity.map(|audience| WorkloadIdentity {
                    audience,
                    ..WorkloadIdentity::default()
                }),
                ..Service::default()
            }
        },
    )
}

/// Resources: cpu shares or exclusive cores, memory with an optional
/// `memory_max`, devices and NUMA.
pub fn arb_resources() -> impl Strategy<Value = Resources> {
    let device = (
        select(vec!["gpu", "nvidia/gpu", "nvidia/gpu/1080ti"]),
        of(0_u64..4),
        vec(arb_constraint(false), 0..2),
        vec(arb_affinity(), 0..2),
    );
    (
        of(1_i64..4000),
        0_i64..4,
        of(10_i64..4000),
        0_i64..2000,
        0_i64..100,
        vec(device, 0..2),
        of(select(vec!["none", "prefer", "require"])),
    )
        .prop_map(|(cpu, cores, memory, memory_max, secrets, devices, numa)| {
            let memory_mb = memory.map(MiB);
            let floor = memory.unwrap_or(300);
            Resources {
                cpu: if cores > 0 { None } else { cpu.map(MHz) },
                cores,
                memory_mb,
                memory_max_mb: MiB(if memory_max == 0 {
                    0
                } else {
                    floor + memory_max
                }),
                secrets_mb: MiB(secrets),
                devices: devices
                    .into_iter()
                    .map(|(name, count, constraints, affinities)| RequestedDevice {
                        name: name.to_owned(),
                        count,
                        constraints,
                        affinities,
                    })
                    .collect(),
                numa: numa.filter(|_| cores > 0).map(|affinity| NumaResource {
                    affinity: affinity.to_owned(),
                    devices: Vec::new(),
                }),
                ..Resources::default()
            }
        })
}

/// A template: inline data or a source file, with a change mode consistent
/// with its signal, script and `env`.
pub fn arb_template() -> impl Strategy<Value = Template> {
    let mode = select(vec!["restart", "noop", "signal", "script"]);
    let options = (
        of(arb_duration(30)),
        of(select(vec!["0644", "0600", "755"])),
        of(0_i64..2000),
        any::<bool>(),
        any::<bool>(),
        of((0_i64..10, 10_i64..60)),
    );
    (
        any::<bool>(),
        arb_text(),
        "[a-z]{1,6}",
        of(mode),
        options,
        of(select(vec![("[[", "]]"), ("<%", "%>"), ("{%", "%}")])),
    )
        .prop_map(
            |(inline, text, name, mode, (splay, perms, uid, env, once, wait), delimiters)| {
                Template {
                    embedded_tmpl: if inline {
                        format!("{text}\n{{{{ key \"x\" }}}}\n")
                    } else {
                        String::new()
                    },
                    source_path: if inline {
                        String::new()
                    } else {
                        format!("local/{name}.tpl")
                    },
                    dest_path: format!("local/{name}.txt"),
                    change_signal: (mode == Some("signal")).then(|| "SIGUSR1".to_owned()),
                    change_script: (mode == Some("script")).then(|| ChangeScript {
                        command: "/bin/reload".to_owned(),
                        args: vec![text.clone()],
                        timeout: splay,
                        fail_on_error: once,
                    }),
                    change_mode: mode.map(str::to_owned),
                    envvars: env && mode != Some("signal"),
                    splay,
                    perms: perms.map(str::to_owned),
                    uid,
                    gid: uid,
                    left_delim: delimiters.map(|(l, _)| l.to_owned()),
                    right_delim: delimiters.map(|(_, r)| r.to_owned()),
                    err_missing_key: once,
                    once,
                    wait: wait.map(|(min, max)| WaitConfig {
                        min: Some(Duration::from_secs(min)),
                        max: Some(Duration::from_secs(max)),
                    }),
                    ..Template::default()
                }
            },
        )
}

/// An artifact with options, headers and a destination inside the task.
pub fn arb_artifact() -> impl Strategy<Value = Artifact> {
    let mode = of(select(vec!["any", "file", "dir"]));
    (
        "https://example\\.com/[a-z]{1,8}\\.tgz",
        mode,
        of("local/[a-z]{1,6}/?"),
        any::<bool>(),
        btree_map(arb_key(), arb_text(), 0..2),
        arb_string_map(),
    )
        .prop_map(
            |(source, mode, destination, insecure, mut options, headers)| {
                options.remove("checksum");
                Artifact {
                    getter_source: source,
                    getter_options: options,
                    getter_headers: headers,
                    getter_mode: mode.map(str::to_owned),
                    getter_insecure: insecure,
                    relative_dest: destination,
                    chown: insecure,
                }
            },
        )
}

prop_compose! {
    /// A task (names, ports and references are settled by
    /// [`make_consistent`](super::make_consistent)).
    pub fn arb_task()(
        name in arb_name(),
        driver in select(vec!["docker", "exec", "raw_exec", "java"]),
        (config, env, meta) in (arb_free_form(), arb_string_map(), arb_string_map()),
        (user, kill_timeout, shutdown_delay, leader) in (of(arb_name()), of(arb_duration(120)), of(arb_duration(30)), any::<bool>()),
        (constraints, affinities, services) in (vec(arb_constraint(false), 0..2), vec(arb_affinity(), 0..2), vec(arb_service(), 0..2)),
        (resources, restart, network) in (arb_resources(), arb_restart(), of(arb_network())),
        (templates, artifacts) in (vec(arb_template(), 0..3), vec(arb_artifact(), 0..2)),
        extras in (
            of((select(vec!["prestart", "poststart", "poststop"]), any::<bool>())),
            of((1_i64..6, 1_i64..11)),
            of((vec(arb_name(), 0..2), of(select(vec!["restart", "noop", "signal"])))),
            of(("[a-z]{1,6}", select(vec!["", "private", "host-to-task", "bidirectional"]))),
            of((0_i64..3, 3_i64..8, arb_free_form())),
            vec(("[a-z]{1,6}", "/bin/[a-z]{1,6}", vec(arb_text(), 0..2)), 0..2),
            of(vec(arb_name(), 0..2)),
        ),
    ) -> Task {
        let (lifecycle, logs, vault, mount, scaling, actions, identity) = extras;
        let mut task = Task {
            name,
            driver: driver.to_owned(),
            user: user.unwrap_or_default(),
            config,
            env,
            meta,
            leader,
            kill_timeout,
            shutdown_delay: shutdown_delay.unwrap_or_default(),
            kill_signal: if leader { "SIGINT".to_owned() } else { String::new() },
            constraints,
            affinities,
            services,
            resources,
            restart_policy: restart.unwrap_or_default(),
            templates,
            artifacts,
            lifecycle: lifecycle.map(|(hook, sidecar)| TaskLifecycle { hook: hook.to_owned(), sidecar }),
            log_config: logs.map(|(files, size)| LogConfig { max_files: Some(files), max_file_size_mb: Some(size), enabled: None, disabled: false }).unwrap_or_default(),
            vault: vault.map(|(policies, mode)| Vault {
                policies,
                change_mode: mode.map(str::to_owned),
                change_signal: (mode == Some("signal")).then(|| "SIGHUP".to_owned()),
                ..Vault::default()
            }),
            volume_mounts: mount.into_iter().map(|(destination, propagation)| VolumeMount {
                volume: String::new(),
                destination: format!("/srv/{destination}"),
                read_only: propagation.is_empty(),
                propagation_mode: (!propagation.is_empty()).then(|| propagation.to_owned()),
                selinux_label: String::new(),
            }).collect(),
            actions: actions.into_iter().map(|(name, command, args)| Action { name, command, args }).collect(),
            identities: identity.into_iter().map(|audience| WorkloadIdentity {
                name: "vault_default".to_owned(),
                audience,
                env: true,
                ttl: Duration::from_hours(1),
                ..WorkloadIdentity::default()
            }).collect(),
            ..Task::default()
        };
        if let Some((min, max, policy)) = scaling {
            task.scaling_policies.push(ScalingPolicy {
                r#type: "vertical_mem".to_owned(),
                min: Some(min * 64),
                max: Some(max * 64),
                policy,
                ..ScalingPolicy::default()
            });
        }
        if let Some(network) = network {
            task.resources.networks.push(network);
        }
        task
    }
}

prop_compose! {
    /// A group of 1 to 3 tasks with its policies.
    pub fn arb_group()(
        name in arb_name(),
        tasks in vec(arb_task(), 1..=3),
        (count, scaling) in (of(0_i64..5), of((0_i64..3, 0_i64..5, of(any::<bool>()), arb_free_form()))),
        (constraints, affinities, spreads) in (vec(arb_constraint(true), 0..2), vec(arb_affinity(), 0..2), vec(arb_spread(), 0..2)),
        (network, services, meta) in (of(arb_network()), vec(arb_service(), 0..2), arb_string_map()),
        (restart, reschedule, update, migrate) in (arb_restart(), of(arb_reschedule()), of(arb_update()), of(arb_migrate())),
        (disk, consul, disconnect, shutdown_delay) in (
            of((of(any::<bool>()), of(any::<bool>()), of(200_i64..2000))),
            of((of(arb_name()), of(arb_name()))),
            of((of(arb_duration(3600)), of(any::<bool>()), of(select(vec!["best_score", "keep_original", "keep_replacement", "longest_running"])))),
            of(arb_duration(30)),
        ),
        volumes in btree_map(arb_name(), (select(vec!["host", "csi"]), arb_name(), any::<bool>()), 0..3),
    ) -> TaskGroup {
        let mut group = TaskGroup {
            name,
            tasks,
            count,
            constraints,
            affinities,
            spreads,
            networks: network.into_iter().collect(),
            services,
            meta,
            restart_policy: restart.unwrap_or_default(),
            reschedule_policy: reschedule,
            update,
            migrate,
            shutdown_delay: shutdown_delay.unwrap_or_default(),
            consul: consul.map(|(namespace, cluster)| Consul {
                namespace: namespace.unwrap_or_default(),
                cluster: cluster.unwrap_or_default(),
                partition: String::new(),
            }),
            disconnect: disconnect.map(|(lost_after, replace, reconcile)| DisconnectStrategy {
                lost_after,
                replace,
                reconcile: reconcile.map(str::to_owned),
                stop_on_client_after: None,
            }),
            ephemeral_disk: disk.map(|(sticky, migrate, size)| EphemeralDisk { sticky, migrate, size_mb: size.map(MiB) }).unwrap_or_default(),
            volumes: volumes.into_iter().map(|(name, (kind, source, read_only))| {
                let request = VolumeRequest {
                    name: name.clone(),
                    r#type: kind.to_owned(),
                    source,
                    read_only,
                    access_mode: if kind == "csi" { "single-node-writer".to_owned() } else { String::new() },
                    attachment_mode: if kind == "csi" { "file-system".to_owned() } else { String::new() },
                    mount_options: (kind == "csi" && read_only).then(|| CsiMountOptions { fs_type: "ext4".to_owned(), mount_flags: vec!["noatime".to_owned()] }),
                    ..VolumeRequest::default()
                };
                (name, request)
            }).collect(),
            ..TaskGroup::default()
        };
        if let Some((below, above, enabled, policy)) = scaling {
            let count = group.count();
            group.scaling = Some(ScalingPolicy {
                min: Some((count - below).max(0)),
                max: Some(count + above),
                enabled,
                policy,
                ..ScalingPolicy::default()
            });
        }
        group
    }
}
