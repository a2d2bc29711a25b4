//! Cluster-side model types read Nomad's HTTP API JSON (with its nulls) and
//! round-trip exactly.

use scheduler_core::model::{
    AllocClientStatus, AllocDesiredStatus, AllocId, Allocation, Deployment, DeploymentStatus,
    Duration, EvalStatus, EvalTrigger, Evaluation, MHz, MiB, Node, NodeStatus,
    SchedulingEligibility, TaskRunState,
};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// Parses `json`, then checks that serialising and re-parsing gives an equal
/// value and identical bytes. Returns the parsed value.
fn parse_and_round_trip<T>(json: &str) -> T
where
    T: Serialize + DeserializeOwned + PartialEq + Debug,
{
    let parsed: T = serde_json::from_str(json).expect("sample parses");
    let first = serde_json::to_string(&parsed).expect("serialises");
    let reparsed: T = serde_json::from_str(&first).expect("own output parses");
    assert_eq!(parsed, reparsed, "value changed on round trip");
    let second = serde_json::to_string(&reparsed).expect("serialises again");
    assert_eq!(first, second, "bytes changed on round trip");
    parsed
}

const NODE_JSON: &str = r#"{
  "Attributes": {
    "cpu.arch": "amd64",
    "cpu.numcores": "4",
    "driver.docker": "1",
    "kernel.name": "linux",
    "nomad.version": "1.7.3",
    "unique.hostname": "client-1"
  },
  "CSIControllerPlugins": null,
  "CgroupParent": "",
  "CSINodePlugins": {
    "ebs": {"PluginID": "ebs", "Healthy": true, "NodeInfo": {"ID": "i-0abc", "MaxVolumes": 25}}
  },
  "ComputedClass": "v1:7751526452358236402",
  "CreateIndex": 12,
  "Datacenter": "dc1",
  "Drain": false,
  "DrainStrategy": null,
  "Drivers": {
    "docker": {
      "Attributes": {"driver.docker": "true", "driver.docker.version": "24.0.5"},
      "Detected": true,
      "HealthDescription": "Healthy",
      "Healthy": true,
      "UpdateTime": "2024-01-15T10:11:12.345678901Z"
    },
    "java": {
      "Attributes": null,
      "Detected": false,
      "HealthDescription": "",
      "Healthy": false,
      "UpdateTime": "2024-01-15T10:11:12.1Z"
    }
  },
  "Events": [
    {
      "CreateIndex": 0,
      "Details": null,
      "Message": "Node registered",
      "Subsystem": "Cluster",
      "Timestamp": "2024-01-15T10:11:00Z"
    }
  ],
  "HTTPAddr": "10.0.0.5:4646",
  "HostNetworks": null,
  "HostVolumes": {
    "data": {"Name": "data", "Path": "/srv/data", "ReadOnly": false, "ID": ""}
  },
  "ID": "f7476465-4d6e-c0de-26d0-e383c49be941",
  "LastDrain": null,
  "Links": {"consul": "dc1.client-1"},
  "Meta": {"connect.sidecar_image": "envoyproxy/envoy:v1.27", "rack": "r1"},
  "ModifyIndex": 42,
  "Name": "client-1",
  "NodeClass": "",
  "NodePool": "default",
  "NodeResources": {
    "Cpu": {"CpuShares": 9200, "TotalCpuCores": 4, "ReservableCpuCores": [0, 1, 2, 3]},
    "Devices": [
      {
        "Attributes": {
          "memory": {"Float": null, "Int": 11441, "String": null, "Bool": null, "Unit": "MiB"},
          "power": {"Float": 250.5, "Int": null, "String": null, "Bool": null, "Unit": "W"},
          "model": {"Float": null, "Int": null, "String": "Tesla K80", "Bool": null, "Unit": ""}
        },
        "Instances": [
          {"HealthDescription": "", "Healthy": true, "ID": "GPU-0", "Locality": {"PciBusID": "0000:00:1E.0"}},
          {"HealthDescription": "ECC errors", "Healthy": false, "ID": "GPU-1", "Locality": null}
        ],
        "Name": "Tesla K80",
        "Type": "gpu",
        "Vendor": "nvidia"
      }
    ],
    "Disk": {"DiskMB": 50000},
    "MaxDynamicPort": 32000,
    "Memory": {"MemoryMB": 15000},
    "MinDynamicPort": 20000,
    "Networks": [
      {
        "CIDR": "10.0.0.5/32",
        "CNI": null,
        "DNS": null,
        "Hostname": "",
        "Device": "eth0",
        "DynamicPorts": null,
        "IP": "10.0.0.5",
        "MBits": 1000,
        "Mode": "host",
        "ReservedPorts": null
      }
    ],
    "NodeNetworks": [
      {
        "Addresses": [
          {"Address": "10.0.0.5", "Alias": "default", "Family": "ipv4", "Gateway": "", "ReservedPorts": ""}
        ],
        "Device": "eth0",
        "MacAddress": "02:42:ac:11:00:02",
        "Mode": "host",
        "Speed": 1000
      },
      {"Addresses": null, "Device": "", "MacAddress": "", "Mode": "bridge", "Speed": 0}
    ],
    "Processors": {"Topology": {"Cores": null}}
  },
  "ReservedResources": {
    "Cpu": {"CpuShares": 100, "ReservedCpuCores": null},
    "Disk": {"DiskMB": 0},
    "Memory": {"MemoryMB": 256},
    "Networks": {"ReservedHostPorts": "22"}
  },
  "Resources": {"CPU": 9200, "MemoryMB": 15000, "DiskMB": 50000, "Networks": null},
  "Reserved": {"CPU": 100, "MemoryMB": 256, "DiskMB": 0, "Networks": null},
  "SchedulingEligibility": "eligible",
  "SecretID": "",
  "Status": "ready",
  "StatusDescription": "",
  "StatusUpdatedAt": 1705313472,
  "TLSEnabled": false
}"#;

#[test]
fn node_reads_nomad_json_and_round_trips() {
    let node: Node = parse_and_round_trip(NODE_JSON);
    assert_eq!(node.id, "f7476465-4d6e-c0de-26d0-e383c49be941");
    assert_eq!(node.datacenter, "dc1");
    assert_eq!(node.http_addr, "10.0.0.5:4646");
    assert_eq!(node.node_pool, "default");
    assert_eq!(node.computed_class, "v1:7751526452358236402");
    assert_eq!(node.status, NodeStatus::Ready);
    assert_eq!(node.scheduling_eligibility, SchedulingEligibility::Eligible);
    assert_eq!(node.status_updated_at, 1_705_313_472);
    assert!(node.is_ready() && node.is_eligible() && !node.is_draining());
    assert!(node.is_schedulable());
    assert_eq!(node.attributes["kernel.name"], "linux");
    assert_eq!(node.meta["rack"], "r1");
    assert_eq!(node.links["consul"], "dc1.client-1");
    assert!(node.drivers["docker"].healthy);
    assert!(node.drivers["java"].attributes.is_empty());
    assert_eq!(node.events[0].subsystem, "Cluster");
    assert!(node.host_networks.is_empty());
    assert_eq!(node.host_volumes["data"].path, "/srv/data");
    assert!(node.csi_controller_plugins.is_empty());
    assert!(node.csi_node_plugins.contains_key("ebs"));

    let res = &node.node_resources;
    assert_eq!(res.cpu.cpu_shares, MHz(9200));
    assert_eq!(res.cpu.total_cpu_cores, 4);
    assert_eq!(res.cpu.reservable_cpu_cores, vec![0, 1, 2, 3]);
    assert_eq!(res.memory.memory_mb, MiB(15000));
    assert_eq!(res.disk.disk_mb, MiB(50000));
    assert_eq!((res.min_dynamic_port, res.max_dynamic_port), (20000, 32000));
    assert_eq!(res.networks[0].ip, "10.0.0.5");
    assert_eq!(res.node_networks[0].addresses[0].alias, "default");
    assert!(res.node_networks[1].addresses.is_empty());
    let gpu = &res.devices[0];
    assert_eq!(gpu.id(), "nvidia/gpu/Tesla K80");
    assert_eq!(gpu.healthy_count(), 1);
    assert_eq!(gpu.attributes["memory"].int, Some(11441));
    assert_eq!(gpu.attributes["power"].float, Some(250.5));
    assert_eq!(gpu.attributes["model"].string.as_deref(), Some("Tesla K80"));
    assert_eq!(
        gpu.instances[0]
            .locality
            .as_ref()
            .map(|l| l.pci_bus_id.as_str()),
        Some("0000:00:1E.0")
    );

    let reserved = &node.reserved_resources;
    assert_eq!(reserved.cpu.cpu_shares, MHz(100));
    assert!(reserved.cpu.reserved_cpu_cores.is_empty());
    assert_eq!(reserved.memory.memory_mb, MiB(256));
    assert_eq!(reserved.networks.reserved_host_ports, "22");
}

#[test]
fn draining_node_and_statuses() {
    let node: Node = parse_and_round_trip(
        r#"{
          "ID": "n2",
          "Status": "down",
          "SchedulingEligibility": "ineligible",
          "DrainStrategy": {
            "Deadline": 3600000000000,
            "IgnoreSystemJobs": true,
            "ForceDeadline": "2024-01-15T11:00:00Z",
            "StartedAt": "2024-01-15T10:00:00Z"
          },
          "LastDrain": {
            "StartedAt": "2024-01-15T10:00:00Z",
            "UpdatedAt": "2024-01-15T10:00:00Z",
            "Status": "draining",
            "AccessorID": "token-1",
            "Meta": {"reason": "kernel upgrade"}
          }
        }"#,
    );
    let drain = node.drain_strategy.as_ref().expect("draining");
    assert_eq!(drain.deadline, Duration::from_hours(1));
    assert!(drain.ignore_system_jobs);
    assert!(node.is_draining());
    assert!(!node.is_ready() && !node.is_eligible() && !node.is_schedulable());
    assert!(node.status.is_unresponsive());
    assert_eq!(
        node.last_drain.as_ref().unwrap().meta["reason"],
        "kernel upgrade"
    );

    for (text, status) in [
        ("initializing", NodeStatus::Initializing),
        ("ready", NodeStatus::Ready),
        ("down", NodeStatus::Down),
        ("disconnected", NodeStatus::Disconnected),
    ] {
        let json = format!("\"{text}\"");
        assert_eq!(serde_json::from_str::<NodeStatus>(&json).unwrap(), status);
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
    }
}

#[test]
fn nulls_and_missing_keys_become_defaults() {
    let node: Node = parse_and_round_trip(
        r#"{"ID": "n3", "Attributes": null, "NodeResources": null, "ReservedResources": null,
            "Drivers": null, "Events": null, "Meta": null, "Links": null, "Name": null}"#,
    );
    assert_eq!(node.id, "n3");
    assert!(node.attributes.is_empty() && node.drivers.is_empty());
    assert_eq!(node.node_resources, Default::default());
    assert_eq!(node.status, NodeStatus::Initializing);
    assert_eq!(parse_and_round_trip::<Node>("{}"), Node::default());
    assert_eq!(
        parse_and_round_trip::<Allocation>("{}"),
        Allocation::default()
    );
    assert_eq!(
        parse_and_round_trip::<Evaluation>("{}"),
        Evaluation::default()
    );
    assert_eq!(
        parse_and_round_trip::<Deployment>("{}"),
        Deployment::default()
    );
}

const ALLOC_JSON: &str = r#"{
  "AllocModifyIndex": 70,
  "AllocatedResources": {
    "Shared": {
      "DiskMB": 300,
      "Networks": [
        {
          "CIDR": "",
          "CNI": null,
          "DNS": null,
          "Device": "",
          "DynamicPorts": [
            {"HostNetwork": "default", "IgnoreCollision": false, "Label": "http", "To": 8080, "Value": 23456}
          ],
          "Hostname": "",
          "IP": "10.0.0.5",
          "MBits": 0,
          "Mode": "bridge",
          "ReservedPorts": null
        }
      ],
      "Ports": [{"HostIP": "10.0.0.5", "IgnoreCollision": false, "Label": "http", "To": 8080, "Value": 23456}]
    },
    "TaskLifecycles": {"web": null, "log-shipper": {"Hook": "prestart", "Sidecar": true}},
    "Tasks": {
      "web": {
        "Cpu": {"CpuShares": 500, "ReservedCores": null},
        "Devices": null,
        "Memory": {"MemoryMB": 256, "MemoryMaxMB": 512},
        "Networks": null
      },
      "log-shipper": {
        "Cpu": {"CpuShares": 0, "ReservedCores": [2]},
        "Devices": [{"Vendor": "nvidia", "Type": "gpu", "Name": "Tesla K80", "DeviceIDs": ["GPU-0"]}],
        "Memory": {"MemoryMB": 64, "MemoryMaxMB": 0},
        "Networks": null
      }
    }
  },
  "AllocStates": null,
  "ClientDescription": "Tasks are running",
  "ClientStatus": "running",
  "CreateIndex": 60,
  "CreateTime": 1705313500123456789,
  "DeploymentID": "0d1c1e2a-7b58-7d4e-1f0b-0c5a5d1e2f3a",
  "DeploymentStatus": {
    "Canary": true,
    "Healthy": true,
    "ModifyIndex": 71,
    "Timestamp": "2024-01-15T10:12:30.5Z"
  },
  "DesiredDescription": "",
  "DesiredStatus": "run",
  "DesiredTransition": {"ForceReschedule": null, "Migrate": true, "NoShutdownDelay": null, "Reschedule": null},
  "EvalID": "5a6a2d4e-1c8b-9f3a-2b7e-3d4c5b6a7e8f",
  "FollowupEvalID": "",
  "ID": "8ba85cef-6d3a-9ec6-0d8c-2a1f1b3e4c5d",
  "Job": null,
  "JobID": "example",
  "Metrics": {
    "AllocationTime": 176542,
    "ClassExhausted": null,
    "ClassFiltered": null,
    "CoalescedFailures": 0,
    "ConstraintFiltered": null,
    "DimensionExhausted": null,
    "NodePool": "default",
    "NodesAvailable": {"dc1": 2},
    "NodesEvaluated": 2,
    "NodesExhausted": 0,
    "NodesFiltered": 0,
    "NodesInPool": 2,
    "QuotaExhausted": null,
    "ResourcesExhausted": null,
    "ScoreMetaData": [
      {"NodeID": "f7476465-4d6e-c0de-26d0-e383c49be941", "NormScore": 0.625,
       "Scores": {"binpack": 0.75, "job-anti-affinity": 0, "node-affinity": 0, "node-reschedule-penalty": 0}}
    ],
    "Scores": null
  },
  "ModifyIndex": 72,
  "ModifyTime": 1705313550987654321,
  "Name": "example.web[0]",
  "Namespace": "default",
  "NetworkStatus": {"Address": "172.26.64.3", "AddressIPv6": "", "DNS": null, "InterfaceName": "eth0"},
  "NextAllocation": "",
  "NodeID": "f7476465-4d6e-c0de-26d0-e383c49be941",
  "NodeName": "client-1",
  "PreemptedAllocations": null,
  "PreemptedByAllocation": "",
  "PreviousAllocation": "1f2e3d4c-0000-0000-0000-000000000000",
  "RescheduleTracker": {
    "Events": [
      {"Delay": 30000000000, "PrevAllocID": "1f2e3d4c-0000-0000-0000-000000000000",
       "PrevNodeID": "aaaa-bbbb", "RescheduleTime": 1705313490000000000}
    ]
  },
  "SigningKeyID": "",
  "TaskGroup": "web",
  "TaskStates": {
    "web": {
      "Events": [
        {
          "Details": {}, "DiskLimit": 0, "DisplayMessage": "Task received by client",
          "DownloadError": "", "DriverError": "", "DriverMessage": "", "ExitCode": 0,
          "FailedSibling": "", "FailsTask": false, "GenericSource": "", "KillError": "",
          "KillReason": "", "KillTimeout": 0, "Message": "", "RestartReason": "",
          "SetupError": "", "Signal": 0, "StartDelay": 0, "TaskSignal": "",
          "TaskSignalReason": "", "Time": 1705313500200000000, "Type": "Received",
          "ValidationError": "", "VaultError": ""
        },
        {
          "Details": {"exit_code": "137", "signal": "9"}, "DisplayMessage": "Exit Code: 137, Signal: 9",
          "ExitCode": 137, "Signal": 9, "KillTimeout": 5000000000, "Time": 1705313510000000000,
          "Type": "Terminated"
        }
      ],
      "Failed": false,
      "FinishedAt": null,
      "LastRestart": "2024-01-15T10:11:50Z",
      "Restarts": 1,
      "StartedAt": "2024-01-15T10:11:41.123456789Z",
      "State": "running",
      "TaskHandle": null
    }
  }
}"#;

#[test]
fn allocation_reads_nomad_json_and_round_trips() {
    let alloc: Allocation = parse_and_round_trip(ALLOC_JSON);
    assert_eq!(alloc.id, "8ba85cef-6d3a-9ec6-0d8c-2a1f1b3e4c5d");
    assert_eq!(alloc.namespace, "default");
    assert_eq!(alloc.job_id, "example");
    assert_eq!(alloc.job_version(), None);
    assert_eq!(alloc.task_group, "web");
    assert_eq!(alloc.name, "example.web[0]");
    assert_eq!(alloc.node_id, "f7476465-4d6e-c0de-26d0-e383c49be941");
    assert_eq!(alloc.desired_status, AllocDesiredStatus::Run);
    assert_eq!(alloc.client_status, AllocClientStatus::Running);
    assert!(!alloc.is_terminal());
    assert!(alloc.desired_transition.should_migrate());
    assert!(!alloc.desired_transition.should_reschedule());
    assert_eq!(alloc.desired_transition.reschedule, None);
    assert!(alloc.is_canary());
    assert_eq!(alloc.deployment_health(), Some(true));
    assert_eq!(alloc.create_time, 1_705_313_500_123_456_789);
    assert_eq!(alloc.alloc_modify_index, 70);
    assert!(alloc.preempted_allocations.is_empty());

    let res = &alloc.allocated_resources;
    assert_eq!(res.tasks["web"].cpu.cpu_shares, MHz(500));
    assert_eq!(res.tasks["web"].memory.memory_max_mb, MiB(512));
    assert_eq!(res.tasks["log-shipper"].cpu.reserved_cores, vec![2]);
    assert_eq!(
        res.tasks["log-shipper"].devices[0].device_ids,
        vec!["GPU-0"]
    );
    assert_eq!(res.task_lifecycles["web"], None);
    assert!(res.task_lifecycles["log-shipper"].as_ref().unwrap().sidecar);
    assert_eq!(res.shared.disk_mb, MiB(300));
    assert_eq!(res.shared.networks[0].dynamic_ports[0].value, 23456);
    assert_eq!(res.shared.ports[0].label, "http");
    assert_eq!(res.shared.ports[0].to, 8080);

    let metrics = &alloc.metrics;
    assert_eq!(metrics.nodes_evaluated, 2);
    assert_eq!(metrics.nodes_available["dc1"], 2);
    assert_eq!(metrics.allocation_time, Duration(176_542));
    assert_eq!(metrics.score_meta_data[0].norm_score, 0.625);
    assert_eq!(metrics.score_meta_data[0].scores["binpack"], 0.75);

    let web = &alloc.task_states["web"];
    assert_eq!(web.state, TaskRunState::Running);
    assert_eq!(web.restarts, 1);
    assert_eq!(web.finished_at, "");
    assert_eq!(web.events[0].event_type, "Received");
    assert_eq!(web.events[1].exit_code, 137);
    assert_eq!(web.events[1].kill_timeout, Duration::from_secs(5));
    assert_eq!(web.events[1].details["signal"], "9");

    let tracker = &alloc.reschedule_tracker.events[0];
    assert_eq!(tracker.delay, Duration::from_secs(30));
    assert_eq!(
        tracker.prev_alloc_id,
        "1f2e3d4c-0000-0000-0000-000000000000"
    );
    assert_eq!(
        alloc.network_status.as_ref().unwrap().address,
        "172.26.64.3"
    );
}

#[test]
fn allocation_status_helpers() {
    for (text, status, terminal) in [
        ("pending", AllocClientStatus::Pending, false),
        ("running", AllocClientStatus::Running, false),
        ("complete", AllocClientStatus::Complete, true),
        ("failed", AllocClientStatus::Failed, true),
        ("lost", AllocClientStatus::Lost, true),
        ("unknown", AllocClientStatus::Unknown, false),
    ] {
        let json = format!("\"{text}\"");
        assert_eq!(
            serde_json::from_str::<AllocClientStatus>(&json).unwrap(),
            status
        );
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        assert_eq!(status.is_terminal(), terminal, "{text}");
    }
    for (text, status, terminal) in [
        ("run", AllocDesiredStatus::Run, false),
        ("stop", AllocDesiredStatus::Stop, true),
        ("evict", AllocDesiredStatus::Evict, true),
    ] {
        let json = format!("\"{text}\"");
        assert_eq!(
            serde_json::from_str::<AllocDesiredStatus>(&json).unwrap(),
            status
        );
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        assert_eq!(status.is_terminal(), terminal, "{text}");
    }
    let stopped: Allocation =
        serde_json::from_str(r#"{"DesiredStatus": "stop", "ClientStatus": "running"}"#).unwrap();
    assert!(stopped.is_terminal() && stopped.server_terminal() && !stopped.client_terminal());
}

const EVAL_JSON: &str = r#"{
  "AnnotatePlan": false,
  "BlockedEval": "b1f0c3e2-6a5d-4e3f-9a8b-7c6d5e4f3a2b",
  "ClassEligibility": {"v1:7751526452358236402": true, "v1:123": false},
  "CreateIndex": 80,
  "CreateTime": 1705313600000000000,
  "DeploymentID": "",
  "EscapedComputedClass": false,
  "FailedTGAllocs": {
    "cache": {
      "AllocationTime": 98765,
      "ClassExhausted": {"v1:7751526452358236402": 2},
      "ClassFiltered": null,
      "CoalescedFailures": 2,
      "ConstraintFiltered": {"${attr.kernel.name} = windows": 1},
      "DimensionExhausted": {"memory": 2},
      "NodePool": "default",
      "NodesAvailable": {"dc1": 3, "dc2": 0},
      "NodesEvaluated": 3,
      "NodesExhausted": 2,
      "NodesFiltered": 1,
      "NodesInPool": 3,
      "QuotaExhausted": null,
      "ResourcesExhausted": {
        "redis": {"CPU": 500, "Cores": 0, "DiskMB": 0, "IOPS": 0, "MemoryMB": 4096,
                  "MemoryMaxMB": 0, "NUMA": null, "Networks": null, "Devices": null, "SecretsMB": 0}
      },
      "ScoreMetaData": null,
      "Scores": null
    }
  },
  "ID": "3d1f6a2b-5c4e-8d7f-0a9b-1c2d3e4f5a6b",
  "JobID": "example",
  "JobModifyIndex": 79,
  "ModifyIndex": 83,
  "ModifyTime": 1705313600500000000,
  "Namespace": "default",
  "NextEval": "",
  "NodeID": "",
  "NodeModifyIndex": 0,
  "PreviousEval": "",
  "Priority": 50,
  "QueuedAllocations": {"cache": 3, "web": 0},
  "QuotaLimitReached": "",
  "RelatedEvals": null,
  "SnapshotIndex": 80,
  "Status": "complete",
  "StatusDescription": "",
  "TriggeredBy": "job-register",
  "Type": "service",
  "Wait": 0,
  "WaitUntil": "0001-01-01T00:00:00Z"
}"#;

#[test]
fn evaluation_reads_nomad_json_and_round_trips() {
    let eval: Evaluation = parse_and_round_trip(EVAL_JSON);
    assert_eq!(eval.id, "3d1f6a2b-5c4e-8d7f-0a9b-1c2d3e4f5a6b");
    assert_eq!(eval.priority, 50);
    assert_eq!(eval.eval_type, "service");
    assert_eq!(eval.triggered_by, EvalTrigger::JobRegister);
    assert_eq!(eval.status, EvalStatus::Complete);
    assert!(eval.is_terminal());
    assert_eq!(eval.blocked_eval, "b1f0c3e2-6a5d-4e3f-9a8b-7c6d5e4f3a2b");
    assert_eq!(eval.queued_allocations["cache"], 3);
    assert!(!eval.class_eligibility["v1:123"]);
    assert_eq!(eval.wait_until, "0001-01-01T00:00:00Z");
    assert!(eval.related_evals.is_empty());

    let cache = &eval.failed_tg_allocs["cache"];
    assert_eq!(cache.nodes_evaluated, 3);
    assert_eq!(cache.nodes_filtered, 1);
    assert_eq!(cache.nodes_exhausted, 2);
    assert_eq!(cache.coalesced_failures, 2);
    assert_eq!(cache.nodes_available["dc2"], 0);
    assert_eq!(cache.dimension_exhausted["memory"], 2);
    assert_eq!(
        cache.constraint_filtered["${attr.kernel.name} = windows"],
        1
    );
    assert!(cache.class_filtered.is_empty() && cache.quota_exhausted.is_empty());
    assert_eq!(
        cache.resources_exhausted["redis"].memory_mb,
        Some(MiB(4096))
    );
    assert_eq!(cache.allocation_time, Duration(98_765));
}

#[test]
fn eval_triggers_round_trip_including_unknown_ones() {
    let known = [
        ("job-register", EvalTrigger::JobRegister),
        ("job-deregister", EvalTrigger::JobDeregister),
        ("periodic-job", EvalTrigger::PeriodicJob),
        ("node-update", EvalTrigger::NodeUpdate),
        ("node-drain", EvalTrigger::NodeDrain),
        ("alloc-stop", EvalTrigger::AllocStop),
        ("scheduled", EvalTrigger::Scheduled),
        ("rolling-update", EvalTrigger::RollingUpdate),
        ("deployment-watcher", EvalTrigger::DeploymentWatcher),
        ("failed-follow-up", EvalTrigger::FailedFollowUp),
        ("max-plan-attempts", EvalTrigger::MaxPlans),
        ("alloc-failure", EvalTrigger::RetryFailedAlloc),
        ("queued-allocs", EvalTrigger::QueuedAllocs),
        ("preemption", EvalTrigger::Preemption),
        ("job-scaling", EvalTrigger::Scaling),
        ("max-disconnect-timeout", EvalTrigger::MaxDisconnectTimeout),
        ("reconnect", EvalTrigger::Reconnect),
        ("alloc-reschedule", EvalTrigger::AllocReschedule),
    ];
    for (text, trigger) in known {
        let json = format!("\"{text}\"");
        assert_eq!(serde_json::from_str::<EvalTrigger>(&json).unwrap(), trigger);
        assert_eq!(serde_json::to_string(&trigger).unwrap(), json);
        assert_eq!(trigger.to_string(), text);
    }

    let json = EVAL_JSON.replace("\"job-register\"", "\"some-future-trigger\"");
    let eval: Evaluation = parse_and_round_trip(&json);
    assert_eq!(
        eval.triggered_by,
        EvalTrigger::Other("some-future-trigger".to_owned())
    );
    let out = serde_json::to_string(&eval).unwrap();
    assert!(out.contains(r#""TriggeredBy":"some-future-trigger""#));
    assert_eq!(EvalTrigger::from(""), EvalTrigger::Other(String::new()));
}

#[test]
fn eval_statuses() {
    for (text, status, terminal) in [
        ("blocked", EvalStatus::Blocked, false),
        ("pending", EvalStatus::Pending, false),
        ("complete", EvalStatus::Complete, true),
        ("failed", EvalStatus::Failed, true),
        ("canceled", EvalStatus::Canceled, true),
    ] {
        let json = format!("\"{text}\"");
        assert_eq!(serde_json::from_str::<EvalStatus>(&json).unwrap(), status);
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        assert_eq!(status.is_terminal(), terminal, "{text}");
    }
}

const DEPLOYMENT_JSON: &str = r#"{
  "CreateIndex": 90,
  "CreateTime": 1705313700000000000,
  "EvalPriority": 50,
  "ID": "0d1c1e2a-7b58-7d4e-1f0b-0c5a5d1e2f3a",
  "IsMultiregion": false,
  "JobCreateIndex": 10,
  "JobID": "example",
  "JobModifyIndex": 89,
  "JobSpecModifyIndex": 89,
  "JobVersion": 3,
  "ModifyIndex": 95,
  "ModifyTime": 1705313750000000000,
  "Namespace": "default",
  "Status": "running",
  "StatusDescription": "Deployment is running but requires manual promotion",
  "TaskGroups": {
    "web": {
      "AutoPromote": false,
      "AutoRevert": true,
      "DesiredCanaries": 1,
      "DesiredTotal": 3,
      "HealthyAllocs": 1,
      "PlacedAllocs": 1,
      "PlacedCanaries": ["8ba85cef-6d3a-9ec6-0d8c-2a1f1b3e4c5d"],
      "ProgressDeadline": 600000000000,
      "Promoted": false,
      "RequireProgressBy": "2024-01-15T10:25:00.5Z",
      "UnhealthyAllocs": 0
    },
    "cache": {
      "AutoPromote": false,
      "AutoRevert": false,
      "DesiredCanaries": 0,
      "DesiredTotal": 1,
      "HealthyAllocs": 0,
      "PlacedAllocs": 0,
      "PlacedCanaries": null,
      "ProgressDeadline": 600000000000,
      "Promoted": false,
      "RequireProgressBy": "0001-01-01T00:00:00Z",
      "UnhealthyAllocs": 0
    }
  }
}"#;

#[test]
fn deployment_reads_nomad_json_and_round_trips() {
    let deployment: Deployment = parse_and_round_trip(DEPLOYMENT_JSON);
    assert_eq!(deployment.id, "0d1c1e2a-7b58-7d4e-1f0b-0c5a5d1e2f3a");
    assert_eq!(deployment.job_id, "example");
    assert_eq!(deployment.job_version, 3);
    assert_eq!(deployment.job_spec_modify_index, 89);
    assert_eq!(deployment.eval_priority, 50);
    assert_eq!(deployment.status, DeploymentStatus::Running);
    assert!(deployment.is_active());
    assert!(deployment.has_placed_canaries());
    assert!(deployment.requires_promotion());

    let web = &deployment.task_groups["web"];
    assert!(web.auto_revert && !web.promoted);
    assert_eq!(web.progress_deadline, Duration::from_mins(10));
    assert_eq!(web.require_progress_by, "2024-01-15T10:25:00.5Z");
    assert_eq!(
        web.placed_canaries,
        vec![AllocId::new("8ba85cef-6d3a-9ec6-0d8c-2a1f1b3e4c5d")]
    );
    assert_eq!((web.desired_canaries, web.desired_total), (1, 3));
    assert_eq!((web.placed_allocs, web.healthy_allocs), (1, 1));
    assert!(deployment.task_groups["cache"].placed_canaries.is_empty());

    for (text, status, terminal) in [
        ("running", DeploymentStatus::Running, false),
        ("paused", DeploymentStatus::Paused, false),
        ("failed", DeploymentStatus::Failed, true),
        ("successful", DeploymentStatus::Successful, true),
        ("cancelled", DeploymentStatus::Cancelled, true),
        ("pending", DeploymentStatus::Pending, false),
        ("blocked", DeploymentStatus::Blocked, false),
        ("unblocking", DeploymentStatus::Unblocking, false),
        ("initializing", DeploymentStatus::Initializing, false),
    ] {
        let json = format!("\"{text}\"");
        assert_eq!(
            serde_json::from_str::<DeploymentStatus>(&json).unwrap(),
            status
        );
        assert_eq!(serde_json::to_string(&status).unwrap(), json);
        assert_eq!(status.is_terminal(), terminal, "{text}");
        assert_eq!(status.is_active(), !terminal, "{text}");
    }
}

/// Collects the object keys of `out` that do not occur at the same place in
/// `input` (arrays are compared element by element).
fn keys_not_in_input(
    out: &serde_json::Value,
    input: &serde_json::Value,
    path: &str,
) -> Vec<String> {
    use serde_json::Value;
    let mut missing = Vec::new();
    match (out, input) {
        (Value::Object(out), Value::Object(input)) => {
            for (key, value) in out {
                let here = format!("{path}/{key}");
                match input.get(key) {
                    Some(inner) => missing.extend(keys_not_in_input(value, inner, &here)),
                    None => missing.push(here),
                }
            }
        }
        (Value::Array(out), Value::Array(input)) => {
            for (i, (o, n)) in out.iter().zip(input).enumerate() {
                missing.extend(keys_not_in_input(o, n, &format!("{path}/{i}")));
            }
        }
        _ => {}
    }
    missing
}

#[test]
fn serialised_names_are_nomads() {
    fn extra_keys<T: Serialize + DeserializeOwned>(json: &str) -> Vec<String> {
        let input: serde_json::Value = serde_json::from_str(json).unwrap();
        let value: T = serde_json::from_str(json).unwrap();
        let out = serde_json::to_value(&value).unwrap();
        keys_not_in_input(&out, &input, "")
    }
    assert_eq!(extra_keys::<Node>(NODE_JSON), Vec::<String>::new());
    // The second task event of the sample is deliberately sparse.
    let alloc_extra: Vec<String> = extra_keys::<Allocation>(ALLOC_JSON)
        .into_iter()
        .filter(|path| !path.starts_with("/TaskStates/web/Events/1/"))
        .collect();
    assert_eq!(alloc_extra, Vec::<String>::new());
    assert_eq!(extra_keys::<Evaluation>(EVAL_JSON), Vec::<String>::new());
    assert_eq!(
        extra_keys::<Deployment>(DEPLOYMENT_JSON),
        Vec::<String>::new()
    );
}
