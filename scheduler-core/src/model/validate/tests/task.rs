//! Task rules: driver, resources, logs, artifacts, templates, Vault, lifecycle.

use super::*;

#[test]
fn a_task_needs_a_driver() {
    let mut job = job();
    task(&mut job).driver.clear();
    assert_error(
        job,
        &format!("{T} > driver"),
        "missing driver: every task needs `driver = ...`",
    );
}

#[test]
fn task_names_cannot_contain_slashes() {
    let mut job = job();
    task(&mut job).name = "a/b".to_owned();
    assert_error(
        job,
        &format!("{G} > task \"a/b\""),
        "task name \"a/b\" contains a slash: task names become directory names, use dashes instead",
    );
}

#[test]
fn cpu_and_cores_are_exclusive() {
    let mut job = job();
    task(&mut job).resources.cpu = Some(MHz(500));
    task(&mut job).resources.cores = 2;
    assert_error(
        job,
        &format!("{T} > resources > cores"),
        "cpu and cores are both set: ask for either cpu (MHz) or cores (whole cores), not both",
    );
}

#[test]
fn minimum_cpu_and_memory() {
    let mut job = job();
    task(&mut job).resources.cpu = Some(MHz(0));
    assert_error(
        job,
        &format!("{T} > resources > cpu"),
        "cpu 0 MHz is too low: ask for at least 1 MHz",
    );

    let mut job = super::job();
    task(&mut job).resources.memory_mb = Some(MiB(5));
    assert_error(
        job,
        &format!("{T} > resources > memory"),
        "memory 5 MB is too low: ask for at least 10 MB",
    );
}

#[test]
fn memory_max_is_at_least_memory() {
    let mut job = job();
    task(&mut job).resources.memory_max_mb = MiB(100);
    assert_error(
        job,
        &format!("{T} > resources > memory_max"),
        "memory_max 100 MB is below memory 300 MB: raise memory_max to at least memory, or remove it",
    );
}

#[test]
fn disk_must_not_be_negative() {
    let mut job = job();
    task(&mut job).resources.disk_mb = MiB(-1);
    assert_error(
        job,
        &format!("{T} > resources > disk"),
        "disk -1 MB is negative: size the group's ephemeral_disk block instead",
    );
}

#[test]
fn device_constraints_cannot_be_distinct() {
    let mut job = job();
    task(&mut job).resources.devices = vec![RequestedDevice {
        name: "nvidia/gpu".to_owned(),
        constraints: vec![Constraint::new("${device.model}", "distinct_hosts", "")],
        ..RequestedDevice::default()
    }];
    assert_error(
        job,
        &format!("{T} > resources > device \"nvidia/gpu\" > constraint[0] > operator"),
        "operator \"distinct_hosts\" is not allowed in a device constraint: move the constraint to the group or the job",
    );
}

#[test]
fn logs_need_a_file_and_fit_the_disk() {
    let mut job = job();
    task(&mut job).log_config.max_files = Some(0);
    assert_error(
        job,
        &format!("{T} > logs > max_files"),
        "max_files 0 is too low: keep at least 1 log file",
    );

    let mut job = super::job();
    task(&mut job).log_config.max_files = Some(40);
    assert_error(
        job,
        &format!("{T} > logs"),
        "logs can take up to 400 MB (40 files of 10 MB) but the group's ephemeral disk is 300 MB: lower max_files or max_file_size, or raise the ephemeral_disk size",
    );
}

#[test]
fn artifacts_need_a_source_and_a_well_formed_checksum() {
    let mut job = job();
    task(&mut job).artifacts = vec![Artifact::default()];
    assert_error(
        job,
        &format!("{T} > artifact[0] > source"),
        "the artifact has no source: set source to the URL to download",
    );

    let mut job = super::job();
    task(&mut job).artifacts = vec![Artifact {
        getter_source: "https://example.com/a".to_owned(),
        getter_options: BTreeMap::from([("checksum".to_owned(), "md5:abc".to_owned())]),
        ..Artifact::default()
    }];
    assert_error(
        job,
        &format!("{T} > artifact[0] > options > checksum"),
        "checksum \"md5:abc\" is invalid: a md5 checksum has 32 hex digits, this one has 3",
    );

    let mut job = super::job();
    task(&mut job).artifacts = vec![Artifact {
        getter_source: "https://example.com/a".to_owned(),
        getter_options: BTreeMap::from([("checksum".to_owned(), "crc32:abcd".to_owned())]),
        ..Artifact::default()
    }];
    assert_has_error(
        job,
        &format!("{T} > artifact[0] > options > checksum"),
        "unknown",
    );
}

#[test]
fn artifact_destination_stays_in_the_allocation() {
    let mut job = job();
    task(&mut job).artifacts = vec![Artifact {
        getter_source: "https://example.com/a".to_owned(),
        relative_dest: Some("../../etc".to_owned()),
        ..Artifact::default()
    }];
    assert_error(
        job,
        &format!("{T} > artifact[0] > destination"),
        "destination \"../../etc\" escapes the allocation directory: use a path inside it, such as \"local/\"",
    );
}

fn template(data: &str, dest: &str) -> Template {
    Template {
        embedded_tmpl: data.to_owned(),
        dest_path: dest.to_owned(),
        ..Template::default()
    }
}

#[test]
fn templates_need_one_input_and_a_destination() {
    let mut job = job();
    task(&mut job).templates = vec![template("x", "")];
    assert_error(
        job,
        &format!("{T} > template[0] > destination"),
        "the template has no destination: set destination, as in destination = \"local/config.txt\"",
    );

    let mut job = super::job();
    task(&mut job).templates = vec![Template {
        source_path: "a.tpl".to_owned(),
        ..template("x", "local/a")
    }];
    assert_error(
        job,
        &format!("{T} > template[0] > data"),
        "the template sets both source and data: keep only one of them",
    );

    let mut job = super::job();
    task(&mut job).templates = vec![template("", "local/a")];
    assert_error(
        job,
        &format!("{T} > template[0]"),
        "the template has neither source nor data: set source to a template file, or data to the template text",
    );
}

#[test]
fn template_change_modes() {
    let mut job = job();
    task(&mut job).templates = vec![Template {
        change_mode: Some("signal".to_owned()),
        change_signal: Some(String::new()),
        ..template("x", "local/a")
    }];
    assert_error(
        job,
        &format!("{T} > template[0] > change_signal"),
        "change_mode \"signal\" needs a signal: set change_signal, as in change_signal = \"SIGHUP\"",
    );

    let mut job = super::job();
    task(&mut job).templates = vec![Template {
        change_mode: Some("script".to_owned()),
        ..template("x", "local/a")
    }];
    assert_error(
        job,
        &format!("{T} > template[0] > change_script > command"),
        "change_mode \"script\" needs a script: add a change_script block with a command",
    );

    let mut job = super::job();
    task(&mut job).templates = vec![Template {
        change_mode: Some("reload".to_owned()),
        ..template("x", "local/a")
    }];
    assert_error(
        job,
        &format!("{T} > template[0] > change_mode"),
        "change_mode \"reload\" is unknown: use restart, noop, signal or script",
    );
}

#[test]
fn vault_change_mode() {
    let mut job = job();
    task(&mut job).vault = Some(Vault {
        policies: vec!["app".to_owned()],
        change_mode: Some("reload".to_owned()),
        ..Vault::default()
    });
    assert_error(
        job,
        &format!("{T} > vault > change_mode"),
        "change_mode \"reload\" is unknown: use restart, noop or signal",
    );

    let mut job = super::job();
    task(&mut job).vault = Some(Vault {
        change_mode: Some("signal".to_owned()),
        change_signal: Some(String::new()),
        ..Vault::default()
    });
    assert_error(
        job,
        &format!("{T} > vault > change_signal"),
        "change_mode \"signal\" needs a signal: set change_signal, as in change_signal = \"SIGHUP\"",
    );
}

#[test]
fn lifecycle_hook_must_be_known() {
    let mut job = job();
    task(&mut job).lifecycle = Some(TaskLifecycle {
        hook: "before".to_owned(),
        sidecar: false,
    });
    assert_error(
        job,
        &format!("{T} > lifecycle > hook"),
        "lifecycle hook \"before\" is unknown: use prestart, poststart or poststop",
    );
}

#[test]
fn dispatch_payload_needs_a_parameterized_job() {
    let mut job = job();
    job.job_type = JobType::Batch;
    task(&mut job).dispatch_payload = Some(DispatchPayloadConfig {
        file: "input.json".to_owned(),
    });
    assert_error(
        job,
        &format!("{T} > dispatch_payload"),
        "dispatch_payload only works in a parameterized job: add a parameterized block to the job, or remove dispatch_payload",
    );
}
