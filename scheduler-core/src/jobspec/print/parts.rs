//! Printing of the blocks that appear at several levels: placement rules,
//! networks, services and checks, lifecycle policies, resources, templates,
//! artifacts, identities and scaling policies.

use super::writer::Body;
use crate::model::{
    Affinity, Artifact, CheckRestart, Constraint, Consul, MigrateStrategy, NetworkResource,
    ReschedulePolicy, Resources, RestartPolicy, ScalingPolicy, Service, ServiceCheck, Spread,
    Template, UpdateStrategy, WorkloadIdentity,
};

/// `constraint` blocks, written as attribute / operator / value (`=` is the
/// default operator and is left out).
pub fn constraints(b: &mut Body, constraints: &[Constraint]) {
    for c in constraints {
        b.block("constraint", &[], |b| {
            b.text("attribute", &c.l_target);
            if c.operand != "=" {
                b.string("operator", &c.operand);
            }
            b.text("value", &c.r_target);
        });
    }
}

/// `affinity` blocks.
pub fn affinities(b: &mut Body, affinities: &[Affinity]) {
    for a in affinities {
        b.block("affinity", &[], |b| {
            b.text("attribute", &a.l_target);
            if a.operand != "=" {
                b.string("operator", &a.operand);
            }
            b.text("value", &a.r_target);
            b.opt_int("weight", a.weight.map(i64::from));
        });
    }
}

/// `spread` blocks with their `target "VALUE"` blocks.
pub fn spreads(b: &mut Body, spreads: &[Spread]) {
    for s in spreads {
        b.block("spread", &[], |b| {
            b.text("attribute", &s.attribute);
            b.opt_int("weight", s.weight.map(i64::from));
            for target in &s.spread_target {
                b.block("target", &[&target.value], |b| {
                    b.raw("percent", target.percent.to_string());
                });
            }
        });
    }
}

/// `network` blocks (of a group, or deprecated task-level ones).
pub fn networks(b: &mut Body, networks: &[NetworkResource]) {
    for n in networks {
        b.block("network", &[], |b| {
            b.text("mode", &n.mode);
            b.text("hostname", &n.hostname);
            b.opt_int("mbits", n.mbits.map(|m| m.0));
            for (port, fixed) in n
                .reserved_ports
                .iter()
                .map(|p| (p, true))
                .chain(n.dynamic_ports.iter().map(|p| (p, false)))
            {
                b.block("port", &[&port.label], |b| {
                    if fixed {
                        b.raw("static", port.value.to_string());
                    }
                    b.int("to", port.to);
                    b.text("host_network", &port.host_network);
                    b.flag("ignore_collision", port.ignore_collision);
                });
            }
            if let Some(dns) = &n.dns {
                b.block("dns", &[], |b| {
                    b.list("servers", &dns.servers);
                    b.list("searches", &dns.searches);
                    b.list("options", &dns.options);
                });
            }
            if let Some(cni) = &n.cni {
                b.block("cni", &[], |b| b.string_map("args", &cni.args));
            }
        });
    }
}

/// A task's `resources` block.
pub fn resources(b: &mut Body, r: &Resources) {
    b.block("resources", &[], |b| {
        b.opt_int("cpu", r.cpu.map(|c| c.0));
        b.int("cores", r.cores);
        b.opt_int("memory", r.memory_mb.map(|m| m.0));
        b.int("memory_max", r.memory_max_mb.0);
        b.int("disk", r.disk_mb.0);
        b.int("secrets", r.secrets_mb.0);
        networks(b, &r.networks);
        for device in &r.devices {
            b.block("device", &[&device.name], |b| {
                b.opt_int("count", device.count.and_then(|c| i64::try_from(c).ok()));
                constraints(b, &device.constraints);
                affinities(b, &device.affinities);
            });
        }
        if let Some(numa) = &r.numa {
            b.block("numa", &[], |b| {
                b.text("affinity", &numa.affinity);
                b.list("devices", &numa.devices);
            });
        }
    });
}

/// `service` blocks with their checks.
pub fn services(b: &mut Body, services: &[Service]) {
    for s in services {
        b.block("service", &[], |b| {
            b.text("name", &s.name);
            b.text("port", &s.port_label);
            b.text("provider", &s.provider);
            b.list("tags", &s.tags);
            b.list("canary_tags", &s.canary_tags);
            b.flag("enable_tag_override", s.enable_tag_override);
            b.text("address_mode", &s.address_mode);
            b.text("address", &s.address);
            b.text("task", &s.task_name);
            b.text("on_update", &s.on_update);
            b.text("cluster", &s.cluster);
            b.text("kind", &s.kind);
            b.string_map("meta", &s.meta);
            b.string_map("canary_meta", &s.canary_meta);
            b.string_map("tagged_addresses", &s.tagged_addresses);
            for check in &s.checks {
                self::check(b, check);
            }
            if let Some(restart) = &s.check_restart {
                check_restart(b, restart);
            }
            if let Some(weights) = &s.weights {
                b.block("weights", &[], |b| {
                    b.int("passing", weights.passing);
                    b.int("warning", weights.warning);
                });
            }
            if let Some(identity) = &s.identity {
                self::identity(b, identity);
            }
            if let Some(connect) = &s.connect {
                let empty = serde_json::Map::new();
                let map = connect.as_object().unwrap_or(&empty);
                b.block("connect", &[], |b| b.free_form_body(map));
            }
        });
    }
}

fn check(b: &mut Body, c: &ServiceCheck) {
    b.block("check", &[], |b| {
        b.text("name", &c.name);
        b.text("type", &c.r#type);
        b.text("command", &c.command);
        b.list("args", &c.args);
        b.text("path", &c.path);
        b.text("protocol", &c.protocol);
        b.text("port", &c.port_label);
        b.flag("expose", c.expose);
        b.text("address_mode", &c.address_mode);
        b.duration("interval", c.interval);
        b.duration("timeout", c.timeout);
        b.text("initial_status", &c.initial_status);
        b.text("notes", &c.notes);
        b.text("tls_server_name", &c.tls_server_name);
        b.flag("tls_skip_verify", c.tls_skip_verify);
        b.text("method", &c.method);
        b.text("body", &c.body);
        b.text("grpc_service", &c.grpc_service);
        b.flag("grpc_use_tls", c.grpc_use_tls);
        b.text("task", &c.task_name);
        b.int("success_before_passing", c.success_before_passing);
        b.int("failures_before_critical", c.failures_before_critical);
        b.int("failures_before_warning", c.failures_before_warning);
        b.text("on_update", &c.on_update);
        if !c.header.is_empty() {
            let header = c
                .header
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::from(v.clone())))
                .collect::<Vec<_>>();
            b.free_form("header", header.iter().map(|(k, v)| (k, v)));
        }
        if let Some(restart) = &c.check_restart {
            check_restart(b, restart);
        }
    });
}

fn check_restart(b: &mut Body, r: &CheckRestart) {
    b.block("check_restart", &[], |b| {
        b.int("limit", r.limit);
        b.opt_duration("grace", r.grace);
        b.flag("ignore_warnings", r.ignore_warnings);
    });
}

/// An `update` block.
pub fn update(b: &mut Body, u: &UpdateStrategy) {
    b.block("update", &[], |b| {
        b.opt_int("max_parallel", u.max_parallel);
        b.opt_text("health_check", u.health_check.as_ref());
        b.opt_duration("min_healthy_time", u.min_healthy_time);
        b.opt_duration("healthy_deadline", u.healthy_deadline);
        b.opt_duration("progress_deadline", u.progress_deadline);
        b.opt_bool("auto_revert", u.auto_revert);
        b.opt_bool("auto_promote", u.auto_promote);
        b.opt_int("canary", u.canary);
        b.opt_duration("stagger", u.stagger);
    });
}

/// A `restart` block.
pub fn restart(b: &mut Body, r: &RestartPolicy) {
    b.block("restart", &[], |b| {
        b.opt_int("attempts", r.attempts);
        b.opt_duration("interval", r.interval);
        b.opt_duration("delay", r.delay);
        b.opt_text("mode", r.mode.as_ref());
        b.opt_bool("render_templates", r.render_templates);
    });
}

/// A `reschedule` block.
pub fn reschedule(b: &mut Body, r: &ReschedulePolicy) {
    b.block("reschedule", &[], |b| {
        b.opt_int("attempts", r.attempts);
        b.opt_duration("interval", r.interval);
        b.opt_duration("delay", r.delay);
        b.opt_text("delay_function", r.delay_function.as_ref());
        b.opt_duration("max_delay", r.max_delay);
        b.opt_bool("unlimited", r.unlimited);
    });
}

/// A `migrate` block.
pub fn migrate(b: &mut Body, m: &MigrateStrategy) {
    b.block("migrate", &[], |b| {
        b.opt_int("max_parallel", m.max_parallel);
        b.opt_text("health_check", m.health_check.as_ref());
        b.opt_duration("min_healthy_time", m.min_healthy_time);
        b.opt_duration("healthy_deadline", m.healthy_deadline);
    });
}

/// A `consul` block (of a group or task).
pub fn consul(b: &mut Body, c: &Consul) {
    b.block("consul", &[], |b| {
        b.text("namespace", &c.namespace);
        b.text("cluster", &c.cluster);
        b.text("partition", &c.partition);
    });
}

/// `artifact` blocks.
pub fn artifacts(b: &mut Body, artifacts: &[Artifact]) {
    for a in artifacts {
        b.block("artifact", &[], |b| {
            b.text("source", &a.getter_source);
            b.opt_text("destination", a.relative_dest.as_ref());
            b.opt_text("mode", a.getter_mode.as_ref());
            b.flag("insecure", a.getter_insecure);
            b.flag("chown", a.chown);
            b.string_map("options", &a.getter_options);
            b.string_map("headers", &a.getter_headers);
        });
    }
}

/// `template` blocks.
pub fn templates(b: &mut Body, templates: &[Template]) {
    for t in templates {
        b.block("template", &[], |b| {
            b.text("source", &t.source_path);
            b.text("destination", &t.dest_path);
            b.opt_text("change_mode", t.change_mode.as_ref());
            b.opt_text("change_signal", t.change_signal.as_ref());
            b.opt_duration("splay", t.splay);
            b.opt_text("perms", t.perms.as_ref());
            b.opt_int("uid", t.uid);
            b.opt_int("gid", t.gid);
            b.opt_text("left_delimiter", t.left_delim.as_ref());
            b.opt_text("right_delimiter", t.right_delim.as_ref());
            b.flag("env", t.envvars);
            b.duration("vault_grace", t.vault_grace);
            b.flag("error_on_missing_key", t.err_missing_key);
            b.flag("once", t.once);
            if let Some(script) = &t.change_script {
                b.block("change_script", &[], |b| {
                    b.text("command", &script.command);
                    b.list("args", &script.args);
                    b.opt_duration("timeout", script.timeout);
                    b.flag("fail_on_error", script.fail_on_error);
                });
            }
            if let Some(wait) = &t.wait {
                b.block("wait", &[], |b| {
                    b.opt_duration("min", wait.min);
                    b.opt_duration("max", wait.max);
                });
            }
            b.text("data", &t.embedded_tmpl);
        });
    }
}

/// An `identity` block (of a task or a service).
pub fn identity(b: &mut Body, i: &WorkloadIdentity) {
    b.block("identity", &[], |b| {
        b.text("name", &i.name);
        b.list("aud", &i.audience);
        b.text("change_mode", &i.change_mode);
        b.text("change_signal", &i.change_signal);
        b.flag("env", i.env);
        b.flag("file", i.file);
        b.text("filepath", &i.filepath);
        b.text("service_name", &i.service_name);
        b.duration("ttl", i.ttl);
    });
}

/// A `scaling` block: unlabeled for a group, `"cpu"` or `"mem"` for a task.
pub fn scaling(b: &mut Body, labels: &[&str], s: &ScalingPolicy) {
    b.block("scaling", labels, |b| {
        b.opt_int("min", s.min);
        b.opt_int("max", s.max);
        b.opt_bool("enabled", s.enabled);
        b.free_form("policy", &s.policy);
    });
}
