//! Ports, networks, services and checks.

use super::*;

#[test]
fn static_ports_and_mappings_are_in_range() {
    let mut job = job();
    group(&mut job).networks = vec![network(vec![port("http", 70000)], vec![])];
    assert_error(
        job,
        &format!("{G} > network[0] > port \"http\" > static"),
        "static port 70000 of port \"http\" is out of range: it must be between 1 and 65535",
    );

    let mut job = super::job();
    group(&mut job).networks = vec![network(
        vec![],
        vec![Port {
            to: -5,
            ..port("http", 0)
        }],
    )];
    assert_error(
        job,
        &format!("{G} > network[0] > port \"http\" > to"),
        "port \"http\" maps to -5, which is out of range: to must be between -1 and 65535",
    );
}

#[test]
fn port_labels_are_unique_across_group_and_task_networks() {
    let mut job = job();
    group(&mut job).networks = vec![network(vec![], vec![port("http", 0)])];
    task(&mut job).resources.networks = vec![network(vec![], vec![port("HTTP", 0)])];
    assert_error(
        job,
        &format!("{T} > resources > network[0] > port \"HTTP\""),
        "port \"HTTP\" of task \"t\" clashes with port \"http\" of the group network: port labels must be unique within a group (ignoring case), rename one of them",
    );
}

#[test]
fn port_labels_use_letters_digits_underscores_and_dashes() {
    let mut job = job();
    group(&mut job).networks = vec![network(vec![], vec![port("", 0)])];
    assert_error(
        job,
        &format!("{G} > network[0] > port \"\""),
        "port label \"\" is invalid: use only letters, digits, underscores and dashes",
    );
}

#[test]
fn static_ports_are_reserved_once_per_group() {
    let mut job = job();
    group(&mut job).networks = vec![network(vec![port("a", 8080)], vec![])];
    task(&mut job).resources.networks = vec![network(vec![port("b", 8080)], vec![])];
    assert_error(
        job,
        &format!("{T} > resources > network[0] > port \"b\" > static"),
        "static port 8080 of port \"b\" is already reserved by port \"a\" of the group network: give one of them another port",
    );
}

#[test]
fn one_network_block_per_group() {
    let mut job = job();
    group(&mut job).networks = vec![
        network(vec![], vec![port("a", 0)]),
        network(vec![], vec![port("b", 0)]),
    ];
    assert_error(
        job,
        &format!("{G} > network[1]"),
        "only one network block is allowed in a group: move these ports into the first network block",
    );
}

#[test]
fn service_names_follow_rfc_1123() {
    let mut job = job();
    task(&mut job).services = vec![service("web_api", "")];
    assert_error(
        job,
        &format!("{T} > service[0] > name"),
        "service name \"web_api\" is invalid: use letters, digits and dashes, starting and ending with a letter or digit, at most 63 characters",
    );
}

#[test]
fn service_ports_must_exist() {
    let mut job = job();
    group(&mut job).services = vec![service("api", "http")];
    assert_error(
        job,
        &format!("{G} > service[0] > port"),
        "port \"http\" is not defined: add port \"http\" to the group's network block, or fix the label",
    );

    // Numeric ports, and driver-addressed services, need no port label.
    let mut job = super::job();
    let mut numeric = service("api", "8080");
    numeric.checks = vec![tcp_check()];
    task(&mut job).services = vec![
        numeric,
        Service {
            address_mode: "driver".to_owned(),
            ..service("raw", "http")
        },
    ];
    let found = problems(job);
    assert!(found.is_empty(), "{}", render(&found));
}

#[test]
fn check_types_and_required_fields() {
    let job = job_with_check(ServiceCheck {
        r#type: "docker".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > type"),
        "check type \"docker\" is unknown for consul services: use http, tcp, grpc, script, ttl",
    );

    let job = job_with_check(ServiceCheck {
        r#type: "http".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > path"),
        "an http check needs a path: set path, as in path = \"/health\"",
    );

    let job = job_with_check(ServiceCheck {
        r#type: "script".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > command"),
        "a script check needs a command: set command to the program to run",
    );
}

#[test]
fn checks_need_an_interval_and_a_timeout_except_ttl() {
    let job = job_with_check(ServiceCheck {
        interval: Duration::ZERO,
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > interval"),
        "the check has no interval: set interval, as in interval = \"10s\"",
    );

    let job = job_with_check(ServiceCheck {
        r#type: "ttl".to_owned(),
        interval: Duration::ZERO,
        timeout: Duration::ZERO,
        ..tcp_check()
    });
    let found = problems(job);
    assert!(found.is_empty(), "{}", render(&found));
}

#[test]
fn check_initial_status_and_on_update() {
    let job = job_with_check(ServiceCheck {
        initial_status: "ok".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > initial_status"),
        "initial_status \"ok\" is unknown: use passing, warning or critical",
    );

    let job = job_with_check(ServiceCheck {
        on_update: "sometimes".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > on_update"),
        "on_update \"sometimes\" is unknown: use require_healthy, ignore_warnings or ignore",
    );
}

#[test]
fn check_restart_limit_is_not_negative() {
    let job = job_with_check(ServiceCheck {
        check_restart: Some(CheckRestart {
            limit: -1,
            ..CheckRestart::default()
        }),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > check_restart > limit"),
        "check_restart limit -1 is negative: use 0 (never restart) or more",
    );
}

#[test]
fn check_ports_must_exist() {
    let job = job_with_check(ServiceCheck {
        port_label: "admin".to_owned(),
        ..tcp_check()
    });
    assert_error(
        job,
        &format!("{T} > service[0] > check[0] > port"),
        "port \"admin\" is not defined: add port \"admin\" to the group's or the task's network block, or fix the label",
    );
}

#[test]
fn group_script_checks_need_a_task() {
    let mut job = job();
    let mut svc = service("api", "");
    svc.checks = vec![ServiceCheck {
        r#type: "script".to_owned(),
        command: "/bin/check".to_owned(),
        ..tcp_check()
    }];
    group(&mut job).services = vec![svc];
    assert_error(
        job,
        &format!("{G} > service[0] > check[0]"),
        "a script check of a group service needs a task to run in: set task on the check or on the service",
    );
}
