//! The job model against Nomad's API JSON: parsing what `nomad job run
//! -output` prints, exact round trips, and canonicalisation.

use scheduler_core::model::{
    ConstraintOperator, Duration, Job, JobType, JobWrapper, MHz, Mbits, MiB, MigrateStrategy,
    ReschedulePolicy, RestartPolicy, UpdateStrategy,
};

/// A job as `nomad job run -output` prints it (api.Job, un-canonicalised:
/// every unset pointer is `null`).
const NOMAD_JOB_JSON: &str = r#"{
  "Job": {
    "Region": null,
    "Namespace": null,
    "ID": "web",
    "Name": "web",
    "Type": "service",
    "Priority": 70,
    "AllAtOnce": null,
    "Datacenters": ["dc1", "dc2"],
    "NodePool": null,
    "Constraints": [
      {"LTarget": "${attr.kernel.name}", "RTarget": "linux", "Operand": "="},
      {"LTarget": "${attr.driver.docker.version}", "RTarget": ">= 20.10", "Operand": "version"}
    ],
    "Affinities": [
      {"LTarget": "${node.datacenter}", "RTarget": "dc1", "Operand": "=", "Weight": 60}
    ],
    "TaskGroups": [
      {
        "Name": "frontend",
        "Count": 3,
        "Constraints": [
          {"LTarget": "", "RTarget": "true", "Operand": "distinct_hosts"}
        ],
        "Affinities": null,
        "Tasks": [
          {
            "Name": "server",
            "Driver": "docker",
            "User": "",
            "Lifecycle": null,
            "Config": {
              "image": "nginx:1.25",
              "ports": ["http", "admin"],
              "args": ["-g", "daemon off;"],
              "mount": [
                {"type": "bind", "source": "local/nginx.conf", "target": "/etc/nginx/nginx.conf", "readonly": true}
              ],
              "logging": {"type": "syslog", "config": [{"tag": "web", "syslog-address": "udp://127.0.0.1:514"}]},
              "labels": {"team": "edge", "tier": "frontend"},
              "ulimit": {"nofile": "65536:65536"},
              "cpu_hard_limit": false,
              "shm_size": 67108864,
              "memory_swappiness": 0.5
            },
            "Constraints": null,
            "Affinities": [
              {"LTarget": "${attr.cpu.arch}", "RTarget": "amd64", "Operand": "=", "Weight": null}
            ],
            "Env": {"NGINX_PORT": "${NOMAD_PORT_http}", "REGION": "${node.region}"},
            "Services": [
              {
                "Name": "web-frontend",
                "Tags": ["urlprefix-/", "http"],
                "CanaryTags": ["canary"],
                "EnableTagOverride": false,
                "PortLabel": "http",
                "AddressMode": "",
                "Address": "",
                "Checks": [
                  {
                    "Name": "alive",
                    "Type": "http",
                    "Command": "",
                    "Args": null,
                    "Path": "/health",
                    "Protocol": "",
                    "PortLabel": "",
                    "Expose": false,
                    "AddressMode": "",
                    "Advertise": "",
                    "Interval": 10000000000,
                    "Timeout": 2000000000,
                    "InitialStatus": "",
                    "Notes": "",
                    "TLSServerName": "",
                    "TLSSkipVerify": false,
                    "Header": {"Authorization": ["Basic ZGVtbzpkZW1v"], "X-Forwarded-For": ["a", "b"]},
                    "Method": "GET",
                    "CheckRestart": {"Limit": 3, "Grace": 90000000000, "IgnoreWarnings": false},
                    "GRPCService": "",
                    "GRPCUseTLS": false,
                    "TaskName": "",
                    "SuccessBeforePassing": 0,
                    "FailuresBeforeCritical": 0,
                    "FailuresBeforeWarning": 0,
                    "Body": "",
                    "OnUpdate": ""
                  }
                ],
                "CheckRestart": null,
                "Connect": null,
                "Meta": null,
                "CanaryMeta": null,
                "TaggedAddresses": null,
                "TaskName": "",
                "OnUpdate": "",
                "Identity": null,
                "Weights": null,
                "Provider": "",
                "Cluster": ""
              }
            ],
            "Resources": {
              "CPU": 500,
              "Cores": null,
              "MemoryMB": 256,
              "MemoryMaxMB": 512,
              "DiskMB": null,
              "Networks": null,
              "Devices": null,
              "NUMA": null,
              "SecretsMB": null,
              "IOPS": null
            },
            "RestartPolicy": null,
            "Meta": null,
            "KillTimeout": 20000000000,
            "LogConfig": {"MaxFiles": 5, "MaxFileSizeMB": 15, "Enabled": null, "Disabled": null},
            "Artifacts": [
              {
                "GetterSource": "https://example.com/static/site.tar.gz",
                "GetterOptions": {"checksum": "sha256:abd123"},
                "GetterHeaders": null,
                "GetterMode": null,
                "GetterInsecure": null,
                "RelativeDest": "local/site",
                "Chown": false
              }
            ],
            "Vault": {
              "Policies": ["web-read"],
              "Role": "",
              "Namespace": null,
              "Cluster": "",
              "Env": null,
              "DisableFile": null,
              "ChangeMode": "signal",
              "ChangeSignal": "SIGUSR1",
              "AllowTokenExpiration": null
            },
            "Consul": null,
            "Templates": [
              {
                "SourcePath": null,
                "DestPath": "local/nginx.conf",
                "EmbeddedTmpl": "server { listen {{ env \"NOMAD_PORT_http\" }}; }\n",
                "ChangeMode": "signal",
                "ChangeScript": null,
                "ChangeSignal": "sighup",
                "Splay": null,
                "Perms": null,
                "Uid": null,
                "Gid": null,
                "LeftDelim": null,
                "RightDelim": null,
                "Envvars": null,
                "VaultGrace": null,
                "Wait": {"Min": 2000000000, "Max": 10000000000},
                "ErrMissingKey": null
              }
            ],
            "DispatchPayload": null,
            "VolumeMounts": [
              {"Volume": "certs", "Destination": "/etc/ssl/site", "ReadOnly": true, "PropagationMode": null, "SELinuxLabel": null}
            ],
            "Leader": true,
            "ShutdownDelay": 0,
            "KillSignal": "SIGQUIT",
            "Kind": "",
            "ScalingPolicies": null,
            "Identity": null,
            "Identities": null,
            "Actions": null,
            "Schedule": null
          },
          {
            "Name": "log-shipper",
            "Driver": "exec",
            "User": "nobody",
            "Lifecycle": {"Hook": "prestart", "Sidecar": true},
            "Config": {"command": "/usr/bin/vector", "args": ["--config", "local/vector.toml"]},
            "Constraints": null,
            "Affinities": null,
            "Env": null,
            "Services": null,
            "Resources": {"CPU": null, "Cores": 1, "MemoryMB": null, "MemoryMaxMB": null, "DiskMB": null,
                          "Networks": null, "Devices": [{"Name": "nvidia/gpu", "Count": null, "Constraints": null, "Affinities": null}]},
            "RestartPolicy": {"Interval": null, "Attempts": 10, "Delay": null, "Mode": "delay", "RenderTemplates": null},
            "Meta": {"owner": "platform"},
            "KillTimeout": null,
            "LogConfig": null,
            "Artifacts": null,
            "Vault": null,
            "Consul": null,
            "Templates": null,
            "DispatchPayload": null,
            "VolumeMounts": null,
            "Leader": false,
            "ShutdownDelay": 0,
            "KillSignal": "",
            "Kind": "",
            "ScalingPolicies": null,
            "Identity": null,
            "Identities": null,
            "Actions": null
          }
        ],
        "Spreads": [
          {
            "Attribute": "${node.datacenter}",
            "Weight": 80,
            "SpreadTarget": [{"Value": "dc1", "Percent": 70}, {"Value": "dc2", "Percent": 30}]
          }
        ],
        "Volumes": {
          "certs": {
            "Name": "certs",
            "Type": "csi",
            "Source": "site-certs",
            "ReadOnly": true,
            "Sticky": false,
            "AccessMode": "multi-node-reader-only",
            "AttachmentMode": "file-system",
            "MountOptions": {"FSType": "ext4", "MountFlags": ["noatime"]},
            "PerAlloc": false
          }
        },
        "RestartPolicy": {"Interval": 600000000000, "Attempts": 4, "Delay": null, "Mode": null, "RenderTemplates": null},
        "Disconnect": null,
        "ReschedulePolicy": {"Attempts": null, "Interval": null, "Delay": 10000000000, "DelayFunction": "fibonacci",
                             "MaxDelay": null, "Unlimited": null},
        "EphemeralDisk": {"Sticky": true, "Migrate": null, "SizeMB": 500},
        "Update": {"Stagger": null, "MaxParallel": 2, "HealthCheck": null, "MinHealthyTime": null,
                   "HealthyDeadline": null, "ProgressDeadline": null, "Canary": 1, "AutoRevert": true,
                   "AutoPromote": null},
        "Migrate": {"MaxParallel": 2, "HealthCheck": null, "MinHealthyTime": null, "HealthyDeadline": null},
        "Networks": [
          {
            "Mode": "bridge",
            "Device": "",
            "CIDR": "",
            "IP": "",
            "DNS": {"Servers": ["1.1.1.1"], "Searches": null, "Options": null},
            "ReservedPorts": [{"Label": "admin", "Value": 9090, "To": 0, "HostNetwork": ""}],
            "DynamicPorts": [{"Label": "http", "Value": 0, "To": 8080, "HostNetwork": "public"}],
            "Hostname": "",
            "MBits": null
          }
        ],
        "Meta": null,
        "Services": null,
        "ShutdownDelay": null,
        "StopAfterClientDisconnect": null,
        "MaxClientDisconnect": null,
        "Scaling": null,
        "Consul": null,
        "PreventRescheduleOnLost": null
      }
    ],
    "Update": {"Stagger": 30000000000, "MaxParallel": 1, "HealthCheck": null, "MinHealthyTime": null,
               "HealthyDeadline": null, "ProgressDeadline": null, "Canary": null, "AutoRevert": null,
               "AutoPromote": null},
    "Multiregion": null,
    "Spreads": null,
    "Periodic": {"Enabled": null, "Spec": "*/15 * * * *", "SpecType": "cron", "ProhibitOverlap": true,
                 "TimeZone": "Europe/Berlin"},
    "ParameterizedJob": null,
    "Reschedule": null,
    "Migrate": null,
    "Meta": {"owner": "edge-team", "cost-center": "42"},
    "ConsulToken": null,
    "VaultToken": null,
    "UI": null,
    "Stop": null,
    "ParentID": null,
    "Dispatched": false,
    "DispatchIdempotencyToken": null,
    "Payload": null,
    "ConsulNamespace": null,
    "VaultNamespace": null,
    "NomadTokenID": null,
    "Status": null,
    "StatusDescription": null,
    "Stable": null,
    "Version": null,
    "SubmitTime": null,
    "CreateIndex": null,
    "ModifyIndex": null,
    "JobModifyIndex": null,
    "SomeFutureField": {"Unknown": [1, 2, 3]}
  }
}"#;

fn parse_wrapped(json: &str) -> Job {
    match serde_json::from_str::<JobWrapper>(json) {
        Ok(wrapper) => wrapper.job,
        Err(err) => panic!("job JSON should parse: {err}"),
    }
}

fn parse(json: &str) -> Job {
    match serde_json::from_str::<Job>(json) {
        Ok(job) => job,
        Err(err) => panic!("job JSON should parse: {err}"),
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_string(value) {
        Ok(json) => json,
        Err(err) => panic!("serialisation should not fail: {err}"),
    }
}

#[test]
fn parses_nomad_output_json() {
    let job = parse_wrapped(NOMAD_JOB_JSON);
    assert_eq!(job.id, "web");
    assert_eq!(job.job_type, JobType::Service);
    assert_eq!(job.priority, Some(70));
    assert_eq!(job.priority(), 70);
    assert_eq!(job.region, "");
    assert_eq!(job.datacenters, ["dc1", "dc2"]);
    assert_eq!(job.meta.get("cost-center").map(String::as_str), Some("42"));
    assert_eq!(job.constraints.len(), 2);
    assert_eq!(
        job.constraints[1].operator(),
        Some(ConstraintOperator::Version)
    );
    assert_eq!(job.affinities[0].weight, Some(60));
    assert!(job.payload.is_empty());

    let periodic = job.periodic.as_ref().expect("periodic block");
    assert_eq!(periodic.spec, "*/15 * * * *");
    assert!(periodic.prohibit_overlap);
    assert_eq!(periodic.enabled, None);
    assert!(periodic.enabled());

    assert_eq!(job.task_groups.len(), 1);
    let group = &job.task_groups[0];
    assert_eq!(group.name, "frontend");
    assert_eq!(group.count(), 3);
    assert_eq!(
        group.constraints[0].operator(),
        Some(ConstraintOperator::DistinctHosts)
    );
    assert_eq!(group.spreads[0].weight(), 80);
    assert_eq!(group.spreads[0].spread_target[1].value, "dc2");
    assert_eq!(group.spreads[0].spread_target[1].percent, 30);
    assert_eq!(group.restart_policy.attempts, Some(4));
    assert_eq!(group.restart_policy.interval, Some(Duration::from_mins(10)));
    assert_eq!(group.restart_policy.delay, None);
    let reschedule = group.reschedule_policy.as_ref().expect("reschedule block");
    assert_eq!(reschedule.delay_function.as_deref(), Some("fibonacci"));
    assert_eq!(group.ephemeral_disk.size_mb, Some(MiB(500)));
    assert_eq!(group.ephemeral_disk.sticky, Some(true));
    assert_eq!(group.ephemeral_disk.migrate, None);
    let update = group.update.as_ref().expect("update block");
    assert_eq!(
        (update.max_parallel, update.canary, update.auto_revert),
        (Some(2), Some(1), Some(true))
    );
    assert_eq!(group.migrate.as_ref().and_then(|m| m.max_parallel), Some(2));
    let certs = &group.volumes["certs"];
    assert_eq!(certs.r#type, "csi");
    assert_eq!(
        certs.mount_options.as_ref().map(|m| m.fs_type.as_str()),
        Some("ext4")
    );

    let network = &group.networks[0];
    assert_eq!(network.mode, "bridge");
    assert_eq!(network.mbits, None);
    assert_eq!(
        network.dns.as_ref().map(|d| d.servers.clone()),
        Some(vec!["1.1.1.1".to_owned()])
    );
    assert_eq!(network.reserved_ports[0].label, "admin");
    assert_eq!(network.reserved_ports[0].value, 9090);
    assert_eq!(network.dynamic_ports[0].to, 8080);
    assert_eq!(network.dynamic_ports[0].host_network, "public");

    let server = &group.tasks[0];
    assert_eq!(server.driver, "docker");
    assert!(server.leader);
    assert_eq!(server.kill_timeout, Some(Duration::from_secs(20)));
    assert_eq!(server.kill_signal, "SIGQUIT");
    assert_eq!(server.config["image"], "nginx:1.25");
    assert_eq!(server.config["mount"][0]["readonly"], true);
    assert_eq!(server.config["logging"]["config"][0]["tag"], "web");
    assert_eq!(server.config["shm_size"], 67108864);
    assert_eq!(server.env["NGINX_PORT"], "${NOMAD_PORT_http}");
    assert_eq!(server.resources.cpu, Some(MHz(500)));
    assert_eq!(server.resources.memory_mb, Some(MiB(256)));
    assert_eq!(server.resources.memory_max_mb, MiB(512));
    assert_eq!(server.log_config.max_files, Some(5));
    assert_eq!(server.log_config.max_file_size_mb, Some(15));
    assert_eq!(
        server.artifacts[0].getter_options["checksum"],
        "sha256:abd123"
    );
    assert_eq!(
        server.artifacts[0].relative_dest.as_deref(),
        Some("local/site")
    );
    let vault = server.vault.as_ref().expect("vault block");
    assert_eq!(vault.policies, ["web-read"]);
    assert_eq!(vault.change_signal.as_deref(), Some("SIGUSR1"));
    assert_eq!(server.templates[0].dest_path, "local/nginx.conf");
    assert_eq!(
        server.templates[0].wait.as_ref().and_then(|w| w.min),
        Some(Duration::from_secs(2))
    );
    assert_eq!(server.volume_mounts[0].volume, "certs");
    assert!(server.volume_mounts[0].read_only);

    let service = &server.services[0];
    assert_eq!(service.name, "web-frontend");
    assert_eq!(service.port_label, "http");
    assert_eq!(service.tags, ["urlprefix-/", "http"]);
    assert!(service.meta.is_empty());
    let check = &service.checks[0];
    assert_eq!(check.r#type, "http");
    assert_eq!(check.interval, Duration::from_secs(10));
    assert_eq!(check.timeout, Duration::from_secs(2));
    assert_eq!(check.header["X-Forwarded-For"], ["a", "b"]);
    assert_eq!(check.check_restart.as_ref().map(|r| r.limit), Some(3));
    assert!(check.args.is_empty());

    let shipper = &group.tasks[1];
    assert_eq!(shipper.lifecycle_hook(), Some("prestart"));
    assert!(shipper.lifecycle.as_ref().is_some_and(|l| l.sidecar));
    assert!(!shipper.is_main());
    assert_eq!(shipper.resources.cores, 1);
    assert_eq!(shipper.resources.cpu, None);
    assert_eq!(shipper.resources.cpu(), MHz(0));
    assert_eq!(shipper.resources.devices[0].count(), 1);
    assert_eq!(shipper.restart_policy.mode.as_deref(), Some("delay"));
    assert_eq!(shipper.meta["owner"], "platform");
}

#[test]
fn round_trips_exactly() {
    let job = parse_wrapped(NOMAD_JOB_JSON);
    let first = to_json(&job);
    let again = parse(&first);
    assert_eq!(again, job);
    let second = to_json(&again);
    assert_eq!(first, second, "serialising twice must give the same bytes");

    // The register request shape round-trips too.
    let wrapper = JobWrapper { job: job.clone() };
    let wrapped = to_json(&wrapper);
    assert!(wrapped.starts_with("{\"Job\":{"));
    assert_eq!(parse_wrapped(&wrapped), job);

    // And so does the canonical form.
    let mut canonical = job;
    canonical.canonicalize();
    let json = to_json(&canonical);
    assert_eq!(parse(&json), canonical);
    assert_eq!(to_json(&parse(&json)), json);
}

#[test]
fn serialises_with_nomad_field_names() {
    let mut job = parse_wrapped(NOMAD_JOB_JSON);
    job.payload = b"hello".to_vec();
    let value = match serde_json::to_value(&job) {
        Ok(value) => value,
        Err(err) => panic!("{err}"),
    };
    assert_eq!(value["ID"], "web");
    assert_eq!(value["Type"], "service");
    assert_eq!(value["Payload"], "aGVsbG8=");
    let group = &value["TaskGroups"][0];
    assert_eq!(group["EphemeralDisk"]["SizeMB"], 500);
    assert_eq!(
        group["Networks"][0]["DynamicPorts"][0]["HostNetwork"],
        "public"
    );
    assert_eq!(group["Networks"][0]["DNS"]["Servers"][0], "1.1.1.1");
    assert_eq!(group["Volumes"]["certs"]["MountOptions"]["FSType"], "ext4");
    let task = &group["Tasks"][0];
    assert_eq!(task["Resources"]["CPU"], 500);
    assert_eq!(task["Resources"]["MemoryMB"], 256);
    assert_eq!(task["Resources"]["MemoryMaxMB"], 512);
    assert_eq!(task["LogConfig"]["MaxFileSizeMB"], 15);
    assert_eq!(task["KillTimeout"], 20_000_000_000_i64);
    let check = &task["Services"][0]["Checks"][0];
    assert_eq!(check["TLSSkipVerify"], false);
    assert_eq!(check["GRPCUseTLS"], false);
    assert_eq!(check["Header"]["Authorization"][0], "Basic ZGVtbzpkZW1v");
    assert_eq!(value["Constraints"][0]["LTarget"], "${attr.kernel.name}");
    assert_eq!(value["Affinities"][0]["RTarget"], "dc1");
    assert_eq!(parse(&to_json(&job)).payload, b"hello");
}

#[test]
fn unknown_values_survive_parsing() {
    let job = parse(
        r#"{"ID":"x","Type":"cron-ish","Constraints":[{"LTarget":"a","RTarget":"b","Operand":"~="}]}"#,
    );
    assert_eq!(job.job_type, JobType::Unknown("cron-ish".to_owned()));
    assert_eq!(job.constraints[0].operator(), None);
    assert!(to_json(&job).contains("\"Type\":\"cron-ish\""));
    // Durations may be written as Go duration strings.
    let job = parse(r#"{"ID":"x","TaskGroups":[{"Name":"g","Update":{"MinHealthyTime":"15s"}}]}"#);
    let update = job.task_groups[0].update.as_ref().expect("update");
    assert_eq!(update.min_healthy_time, Some(Duration::from_secs(15)));
}

const MINIMAL: &str = r#"{"ID":"web","Name":"web","TaskGroups":[{"Name":"g","Tasks":[{"Name":"t","Driver":"docker"}]}]}"#;

#[test]
fn canonicalize_fills_service_defaults() {
    let mut job = parse(MINIMAL);
    job.canonicalize();
    assert_eq!(job.region, "global");
    assert_eq!(job.namespace, "default");
    assert_eq!(job.node_pool, "default");
    assert_eq!(job.datacenters, ["*"]);
    assert_eq!(job.job_type, JobType::Service);
    assert_eq!(job.priority, Some(50));
    assert_eq!(job.update, Some(UpdateStrategy::defaults()));

    let group = &job.task_groups[0];
    assert_eq!(group.count, Some(1));
    assert_eq!(group.ephemeral_disk.size_mb, Some(MiB(300)));
    assert_eq!(group.ephemeral_disk.sticky, Some(false));
    assert_eq!(group.ephemeral_disk.migrate, Some(false));
    let restart = RestartPolicy {
        attempts: Some(2),
        interval: Some(Duration::from_mins(30)),
        delay: Some(Duration::from_secs(15)),
        mode: Some("fail".to_owned()),
        render_templates: Some(false),
    };
    assert_eq!(group.restart_policy, restart);
    let reschedule = ReschedulePolicy {
        attempts: Some(0),
        interval: Some(Duration::ZERO),
        delay: Some(Duration::from_secs(30)),
        delay_function: Some("exponential".to_owned()),
        max_delay: Some(Duration::from_hours(1)),
        unlimited: Some(true),
    };
    assert_eq!(group.reschedule_policy, Some(reschedule));
    let update = UpdateStrategy {
        stagger: Some(Duration::from_secs(30)),
        max_parallel: Some(1),
        health_check: Some("checks".to_owned()),
        min_healthy_time: Some(Duration::from_secs(10)),
        healthy_deadline: Some(Duration::from_mins(5)),
        progress_deadline: Some(Duration::from_mins(10)),
        auto_revert: Some(false),
        auto_promote: Some(false),
        canary: Some(0),
    };
    assert_eq!(group.update, Some(update));
    let migrate = MigrateStrategy {
        max_parallel: Some(1),
        health_check: Some("checks".to_owned()),
        min_healthy_time: Some(Duration::from_secs(10)),
        healthy_deadline: Some(Duration::from_mins(5)),
    };
    assert_eq!(group.migrate, Some(migrate));
    assert_eq!(
        group.consul.as_ref().map(|c| c.cluster.as_str()),
        Some("default")
    );

    let task = &group.tasks[0];
    assert_eq!(task.resources.cpu, Some(MHz(100)));
    assert_eq!(task.resources.memory_mb, Some(MiB(300)));
    assert_eq!(task.kill_timeout, Some(Duration::from_secs(5)));
    assert_eq!(task.log_config.max_files, Some(10));
    assert_eq!(task.log_config.max_file_size_mb, Some(10));
    assert_eq!(task.restart_policy, restart);
    assert_eq!(task.lifecycle, None);
}

#[test]
fn canonicalize_fills_batch_and_system_defaults() {
    let mut job = parse(MINIMAL);
    job.job_type = JobType::Batch;
    job.canonicalize();
    assert_eq!(job.update, None);
    let group = &job.task_groups[0];
    assert_eq!(group.update, None);
    assert_eq!(group.migrate, None);
    assert_eq!(group.restart_policy.attempts, Some(3));
    assert_eq!(
        group.restart_policy.interval,
        Some(Duration::from_hours(24))
    );
    assert_eq!(group.restart_policy.delay, Some(Duration::from_secs(15)));
    assert_eq!(group.restart_policy.mode.as_deref(), Some("fail"));
    let reschedule = ReschedulePolicy {
        attempts: Some(1),
        interval: Some(Duration::from_hours(24)),
        delay: Some(Duration::from_secs(5)),
        delay_function: Some("constant".to_owned()),
        max_delay: Some(Duration::ZERO),
        unlimited: Some(false),
    };
    assert_eq!(group.reschedule_policy, Some(reschedule));

    for job_type in [JobType::System, JobType::Sysbatch] {
        let mut job = parse(MINIMAL);
        job.job_type = job_type.clone();
        job.canonicalize();
        let group = &job.task_groups[0];
        assert_eq!(group.reschedule_policy, None, "{job_type}");
        assert_eq!(group.migrate, None, "{job_type}");
        let attempts = if job_type == JobType::System { 2 } else { 3 };
        assert_eq!(group.restart_policy.attempts, Some(attempts), "{job_type}");
    }
}

#[test]
fn canonicalize_merges_partial_policies() {
    let mut job = parse(
        r#"{"ID":"api","Type":"service",
            "Update":{"MaxParallel":3,"AutoRevert":true},
            "Reschedule":{"Attempts":5,"Unlimited":false},
            "TaskGroups":[{"Name":"g",
              "Scaling":{"Min":2,"Max":10},
              "RestartPolicy":{"Attempts":7,"Mode":"delay"},
              "Update":{"Canary":2,"AutoRevert":false},
              "ReschedulePolicy":{"Delay":"1m"},
              "Networks":[{"DynamicPorts":[{"Label":"http"}]}],
              "Tasks":[{"Name":"t","Driver":"exec",
                "RestartPolicy":{"Delay":"2s"},
                "Resources":{"Cores":2},
                "Services":[{"PortLabel":"http","CheckRestart":{"Limit":2},
                  "Checks":[{"Type":"tcp","Interval":"5s","Timeout":"1s"}]}],
                "Templates":[{"DestPath":"local/a","ChangeMode":"signal"}],
                "Artifacts":[{"GetterSource":"https://x.example/a/b.bin?ref=1","GetterMode":"file"}]}]}]}"#,
    );
    job.canonicalize();
    let group = &job.task_groups[0];
    assert_eq!(group.count, Some(2), "count comes from scaling.min");
    assert_eq!(group.scaling.as_ref().and_then(|s| s.enabled), Some(true));

    // The user's restart fields are kept, the rest are the service defaults.
    assert_eq!(group.restart_policy.attempts, Some(7));
    assert_eq!(group.restart_policy.mode.as_deref(), Some("delay"));
    assert_eq!(group.restart_policy.interval, Some(Duration::from_mins(30)));
    assert_eq!(group.restart_policy.delay, Some(Duration::from_secs(15)));
    let task = &group.tasks[0];
    assert_eq!(
        task.restart_policy.attempts,
        Some(7),
        "task inherits the group's policy"
    );
    assert_eq!(
        task.restart_policy.delay,
        Some(Duration::from_secs(2)),
        "task's own field wins"
    );

    // Job-level update merged under the group's.
    let update = group.update.as_ref().expect("update");
    assert_eq!(update.max_parallel, Some(3));
    assert_eq!(update.canary, Some(2));
    assert_eq!(update.auto_revert, Some(false));
    assert_eq!(update.min_healthy_time, Some(Duration::from_secs(10)));

    // Job-level reschedule merged under the group's, then service defaults.
    let reschedule = group.reschedule_policy.as_ref().expect("reschedule");
    assert_eq!(reschedule.attempts, Some(5));
    assert_eq!(reschedule.unlimited, Some(false));
    assert_eq!(reschedule.delay, Some(Duration::from_mins(1)));
    assert_eq!(reschedule.delay_function.as_deref(), Some("exponential"));

    assert_eq!(group.networks[0].mode, "host");
    assert_eq!(group.networks[0].dynamic_ports[0].host_network, "default");

    assert_eq!(
        task.resources.cpu,
        Some(MHz(0)),
        "cpu is 0 when cores is set"
    );
    assert_eq!(task.resources.memory_mb, Some(MiB(300)));

    let service = &task.services[0];
    assert_eq!(service.name, "api-g-t");
    assert_eq!(service.provider, "consul");
    assert_eq!(service.address_mode, "auto");
    assert_eq!(service.on_update, "require_healthy");
    let check = &service.checks[0];
    assert_eq!(check.name, "service: \"api-g-t\" check");
    assert_eq!(check.on_update, "require_healthy");
    assert_eq!(check.task_name, "t");
    let restart = check
        .check_restart
        .as_ref()
        .expect("check_restart merged from the service");
    assert_eq!(
        (restart.limit, restart.grace),
        (2, Some(Duration::from_secs(1)))
    );

    let template = &task.templates[0];
    assert_eq!(template.change_signal.as_deref(), Some("SIGHUP"));
    assert_eq!(template.splay, Some(Duration::from_secs(5)));
    assert_eq!(template.perms.as_deref(), Some("0644"));
    assert_eq!(
        task.artifacts[0].relative_dest.as_deref(),
        Some("local/b.bin?ref=1")
    );
}

#[test]
fn job_update_merges_into_groups() {
    let mut job = parse(
        r#"{"ID":"a","Update":{"MaxParallel":4,"HealthCheck":"task_states","Canary":1},
            "TaskGroups":[{"Name":"inherits"},{"Name":"overrides","Update":{"MaxParallel":1}}]}"#,
    );
    job.canonicalize();
    let inherits = job.task_groups[0]
        .update
        .as_ref()
        .expect("inherited update");
    assert_eq!(inherits.max_parallel(), 4);
    assert_eq!(inherits.health_check(), "task_states");
    assert_eq!(inherits.canary(), 1);
    assert_eq!(inherits.healthy_deadline, Some(Duration::from_mins(5)));
    let overrides = job.task_groups[1].update.as_ref().expect("merged update");
    assert_eq!(overrides.max_parallel(), 1);
    assert_eq!(overrides.health_check(), "task_states");
    assert_eq!(overrides.canary(), 1);
    assert_eq!(
        job.update.as_ref().and_then(|u| u.stagger),
        Some(Duration::from_secs(30))
    );
}

#[test]
fn canonicalize_is_idempotent() {
    let inputs = [
        MINIMAL.to_owned(),
        to_json(&parse_wrapped(NOMAD_JOB_JSON)),
        r#"{"ID":"b","Type":"batch","Reschedule":{"Attempts":2},"Migrate":{"MaxParallel":3},
            "TaskGroups":[{"Name":"g","Disconnect":{"LostAfter":"1h"},"PreventRescheduleOnLost":true,
              "Services":[{"Name":"${JOB}-svc","Weights":{"Passing":0}}],
              "Tasks":[{"Name":"t","Lifecycle":{"Hook":""},"Vault":{},"CSIPluginConfig":{"ID":"p"}}]}]}"#
            .to_owned(),
        r#"{"ID":"s","Type":"system","TaskGroups":[{"Name":"g","Count":0,"Tasks":[{"Name":"t"}]}]}"#.to_owned(),
    ];
    for input in inputs {
        let mut once = parse(&input);
        once.canonicalize();
        let mut twice = once.clone();
        twice.canonicalize();
        assert_eq!(once, twice, "canonicalize must be idempotent for {input}");
        assert_eq!(to_json(&once), to_json(&twice));
    }
}

#[test]
fn canonicalize_handles_special_cases() {
    let mut job = parse(
        r#"{"ID":"b","Type":"batch",
            "TaskGroups":[{"Name":"g","Disconnect":{"LostAfter":"1h"},"PreventRescheduleOnLost":true,
              "Services":[{"Name":"${JOB}-svc","Weights":{"Passing":0,"Warning":3}}],
              "Tasks":[{"Name":"t","Lifecycle":{"Hook":""},"Vault":{},"CSIPluginConfig":{"ID":"p"}}]}]}"#,
    );
    job.canonicalize();
    let group = &job.task_groups[0];
    let disconnect = group.disconnect.as_ref().expect("disconnect");
    assert_eq!(disconnect.lost_after, Some(Duration::from_hours(1)));
    assert_eq!(
        disconnect.replace,
        Some(false),
        "prevent_reschedule_on_lost means no replacement"
    );
    assert_eq!(disconnect.reconcile.as_deref(), Some("best_score"));
    let service = &group.services[0];
    assert_eq!(service.name, "b-svc");
    let weights = service.weights.as_ref().expect("weights");
    assert_eq!((weights.passing, weights.warning), (1, 3));
    let task = &group.tasks[0];
    assert_eq!(task.lifecycle, None, "an empty hook means a main task");
    let vault = task.vault.as_ref().expect("vault");
    assert_eq!((vault.env, vault.cluster.as_str()), (Some(true), "default"));
    assert_eq!(vault.change_mode.as_deref(), Some("restart"));
    let plugin = task.csi_plugin_config.as_ref().expect("csi plugin");
    assert_eq!(plugin.mount_dir, "/csi");
    assert_eq!(plugin.health_timeout, Duration::from_secs(30));

    let mut system = parse(r#"{"ID":"s","Type":"system","TaskGroups":[{"Name":"g","Count":0}]}"#);
    system.canonicalize();
    assert_eq!(
        system.task_groups[0].count,
        Some(1),
        "system groups run at least once per node"
    );

    let mut bandwidth =
        parse(r#"{"ID":"n","TaskGroups":[{"Name":"g","Networks":[{"MBits":10}]}]}"#);
    bandwidth.canonicalize();
    assert_eq!(bandwidth.task_groups[0].networks[0].mbits(), Mbits(10));
}
