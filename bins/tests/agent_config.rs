//! Agent configuration files with Nomad's keys: a typical operator's
//! configuration reads, several files merge with later ones winning, and
//! mistakes are reported at file:line:col.

use std::path::PathBuf;

use bins::agent::config::{load_agent_config, parse_agent_config};

const SERVER: &str = r#"
data_dir   = "/opt/nomad/data"
bind_addr  = "0.0.0.0"
datacenter = "dc1"
region     = "global"
log_level  = "INFO"

ports {
  http = 4646
  rpc  = 4647
  serf = 4648
}

server {
  enabled          = true
  bootstrap_expect = 3
  server_join {
    retry_join = ["10.0.0.1", "10.0.0.2:4647"]
  }
}
"#;

const CLIENT: &str = r#"
name = "worker-7"

client {
  enabled    = true
  servers    = ["10.0.0.1:4647"]
  node_class = "compute"
  node_pool  = "batch"
  meta {
    rack = "r12"
  }
  options = {
    "driver.raw_exec.enable" = "1"
  }
  reserved {
    cpu            = 500
    memory         = 512
    disk           = 1024
    reserved_ports = "22,80"
  }
}

plugin "raw_exec" {
  config {
    enabled = true
  }
}

plugin "docker" {
  config {
    volumes { enabled = true }
  }
}
"#;

#[test]
fn an_operators_nomad_configuration_reads() {
    let server = parse_agent_config(SERVER, "server.hcl").expect("server config");
    assert_eq!(server.data_dir, Some(PathBuf::from("/opt/nomad/data")));
    assert_eq!(server.ports.http, Some(4646));
    assert_eq!(server.ports.rpc, Some(4647));
    assert_eq!(server.server.enabled, Some(true));
    assert_eq!(server.server.bootstrap_expect, Some(3));
    assert_eq!(server.server.retry_join, ["10.0.0.1", "10.0.0.2:4647"]);
    assert_eq!(server.log_level.as_deref(), Some("INFO"));

    let client = parse_agent_config(CLIENT, "client.hcl").expect("client config");
    assert_eq!(client.name.as_deref(), Some("worker-7"));
    assert_eq!(client.client.servers, ["10.0.0.1:4647"]);
    assert_eq!(client.client.node_class.as_deref(), Some("compute"));
    assert_eq!(client.client.meta["rack"], "r12");
    assert_eq!(client.client.options["driver.raw_exec.enable"], "1");
    assert_eq!(client.client.reserved.memory, Some(512));
    assert_eq!(
        client.client.reserved.reserved_ports.as_deref(),
        Some("22,80")
    );
    assert_eq!(
        client.plugins["raw_exec"]["enabled"],
        serde_json::json!(true)
    );
    assert!(client.plugins.contains_key("docker"));
}

#[test]
fn files_and_directories_merge_later_settings_winning() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("10-base.hcl"), SERVER).unwrap();
    std::fs::write(dir.path().join("20-client.hcl"), CLIENT).unwrap();
    std::fs::write(dir.path().join("README.md"), "not a config").unwrap();
    let elsewhere = tempfile::tempdir().expect("dir");
    let overrides = elsewhere.path().join("override.hcl");
    std::fs::write(
        &overrides,
        "log_level = \"DEBUG\"\nserver {\n  server_join { retry_join = [\"10.0.0.3\"] }\n}\nclient {\n  meta { zone = \"a\" }\n}\n",
    )
    .unwrap();
    let merged = load_agent_config(&[dir.path().to_owned(), overrides]).expect("merged");
    assert_eq!(
        merged.log_level.as_deref(),
        Some("DEBUG"),
        "the later file wins"
    );
    assert_eq!(
        merged.datacenter.as_deref(),
        Some("dc1"),
        "kept from the first"
    );
    assert_eq!(
        merged.server.retry_join,
        ["10.0.0.1", "10.0.0.2:4647", "10.0.0.3"],
        "lists add up"
    );
    assert_eq!(merged.client.meta["rack"], "r12");
    assert_eq!(merged.client.meta["zone"], "a", "maps merge");
    assert_eq!(merged.name.as_deref(), Some("worker-7"));
}

#[test]
fn mistakes_are_reported_at_file_line_and_column() {
    let typo = "data_dir = \"/d\"\nserver {\n  enabled = true\n  bootstrap_expected = 3\n}\n";
    let err = parse_agent_config(typo, "agent.hcl")
        .unwrap_err()
        .to_string();
    assert!(err.contains("agent.hcl:4:3"), "{err}");
    assert!(err.contains("bootstrap_expected"), "{err}");
    assert!(
        err.contains("bootstrap_expect"),
        "a did-you-mean hint: {err}"
    );

    let bad_port = "ports {\n  http = 70000\n}\n";
    let err = parse_agent_config(bad_port, "ports.hcl")
        .unwrap_err()
        .to_string();
    assert!(err.contains("ports.hcl:"), "{err}");
    assert!(err.contains("70000"), "{err}");

    let syntax = "server {\n  enabled = \n";
    let err = parse_agent_config(syntax, "broken.hcl")
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken.hcl:"), "{err}");

    let unknown_block = "telemetry {\n  publish_node_metrics = true\n}\n";
    let err = parse_agent_config(unknown_block, "t.hcl")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("t.hcl:1:1") && err.contains("telemetry"),
        "{err}"
    );

    let missing = load_agent_config(&[PathBuf::from("/nonexistent/agent.hcl")]).unwrap_err();
    assert!(missing.contains("/nonexistent/agent.hcl"), "{missing}");
}
