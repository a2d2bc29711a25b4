//! Assignment of instances to requests.

use super::*;

fn used(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|id| (*id).to_owned()).collect()
}

/// The assignment rendered as `task: vendor/type/model[id,id]; ...`.
fn render(a: &DeviceAssignment) -> String {
    a.by_task
        .iter()
        .map(|(task, devices)| {
            let devices: Vec<String> = devices
                .iter()
                .map(|d| {
                    format!(
                        "{}/{}/{}[{}]",
                        d.vendor,
                        d.device_type,
                        d.name,
                        d.device_ids.join(",")
                    )
                })
                .collect();
            format!("{task}: {}", devices.join(" "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[test]
fn assignment_skips_used_and_unhealthy_instances() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("G-4", true), ("G-1", true), ("G-2", false), ("G-3", true)],
        vec![],
    )]);
    let gpu = [matcher("gpu", 2, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("web", &gpu)]).unwrap();
    assert_eq!(render(&a), "web: nvidia/gpu/T4[G-1,G-3]");
    assert_eq!(a.affinity_score, None);
    let a = assign_devices(&n, &used(&["G-1"]), &[("web", &gpu)]).unwrap();
    assert_eq!(render(&a), "web: nvidia/gpu/T4[G-3,G-4]");
    let short = assign_devices(&n, &used(&["G-1", "G-4"]), &[("web", &gpu)]).unwrap_err();
    assert_eq!(
        short,
        DeviceShortage {
            request: "gpu".into(),
            asked: 2,
            free: 1
        }
    );
    assert_eq!(
        short.to_string(),
        r#"devices exhausted: asked 2 of "gpu", 1 free"#
    );
}

#[test]
fn requests_never_share_instances() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("G-1", true), ("G-2", true), ("G-3", true)],
        vec![],
    )]);
    let two = [
        matcher("gpu", 1, &[], &[]),
        matcher("nvidia/gpu", 1, &[], &[]),
    ];
    let one = [matcher("gpu", 1, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("a", &two), ("b", &one)]).unwrap();
    assert_eq!(
        render(&a),
        "a: nvidia/gpu/T4[G-1] nvidia/gpu/T4[G-2]; b: nvidia/gpu/T4[G-3]"
    );
    // A fourth request finds nothing left.
    let err = assign_devices(&n, &BTreeSet::new(), &[("a", &two), ("b", &two)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"devices exhausted: asked 1 of "nvidia/gpu", 0 free"#
    );
    // No matching group at all is a shortage with nothing free.
    let fpga = [matcher("fpga", 1, &[], &[])];
    let err = assign_devices(&n, &BTreeSet::new(), &[("a", &fpga)]).unwrap_err();
    assert_eq!(err.free, 0);
    // Tasks without requests get no entry.
    let none: [DeviceRequestMatcher; 0] = [];
    let a = assign_devices(&n, &BTreeSet::new(), &[("idle", &none)]).unwrap();
    assert!(a.by_task.is_empty());
}

#[test]
fn requests_use_one_group_each() {
    // Two groups of one instance each cannot serve a request for two.
    let n = node(vec![
        group("nvidia/gpu/A", &[("A-1", true)], vec![]),
        group("nvidia/gpu/B", &[("B-1", true)], vec![]),
    ]);
    let err = assign_devices(
        &n,
        &BTreeSet::new(),
        &[("t", &[matcher("gpu", 2, &[], &[])])],
    )
    .unwrap_err();
    assert_eq!(err.free, 1);
}

fn two_models() -> Node {
    node(vec![
        group(
            "nvidia/gpu/T4",
            &[("T-1", true), ("T-2", true)],
            vec![("memory", int(16, "GiB"))],
        ),
        group(
            "nvidia/gpu/A100",
            &[("A-1", true), ("A-2", true)],
            vec![("memory", int(40, "GiB"))],
        ),
    ])
}

#[test]
fn affinity_chooses_the_better_group() {
    let n = two_models();
    // Without affinities the first group in id order wins.
    let plain = [matcher("gpu", 1, &[], &[])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &plain)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    // Prefer the T4.
    let t4 = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.model}", "=", "T4", 50), (MEM, "<", "20 GiB", 50)],
    )];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &t4)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(1.0));
    // Avoid big memory with a negative weight.
    let avoid = [matcher("gpu", 1, &[], &[(MEM, ">=", "32 GiB", -100)])];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &avoid)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(0.0));
    // Partial matches: 25 of |25| + |75|.
    let partial = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.model}", "=", "T4", 25), (MEM, ">", "64 GiB", 75)],
    )];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &partial)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/T4[T-1]");
    assert_eq!(a.affinity_score, Some(0.25));
    // The preferred group is full: take the other.
    let a = assign_devices(&n, &used(&["T-1", "T-2"]), &[("t", &t4)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    assert_eq!(a.affinity_score, Some(0.0));
}

#[test]
fn affinity_score_is_the_mean_over_requests_with_affinities() {
    let n = two_models();
    let requests = [
        matcher("gpu", 1, &[], &[("${device.model}", "=", "A100", 100)]),
        matcher("gpu", 1, &[], &[]),
        matcher(
            "gpu",
            1,
            &[],
            &[
                ("${device.model}", "=", "H100", 50),
                ("${device.vendor}", "=", "nvidia", 50),
            ],
        ),
    ];
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", &requests)]).unwrap();
    assert_eq!(
        render(&a),
        "t: nvidia/gpu/A100[A-1] nvidia/gpu/A100[A-2] nvidia/gpu/T4[T-1]"
    );
    // (1.0 + 0.5) / 2: the request without affinities does not count.
    assert_eq!(a.affinity_score, Some(0.75));
}

#[test]
fn assignment_is_deterministic() {
    // The same groups and instances reported in other orders.
    let forward = two_models();
    let mut backward = two_models();
    backward.node_resources.devices.reverse();
    for g in &mut backward.node_resources.devices {
        g.instances.reverse();
    }
    let requests = [matcher("gpu", 1, &[], &[]), matcher("gpu", 2, &[], &[])];
    let tasks: &[(&str, &[DeviceRequestMatcher])] = &[("b", &requests[..1]), ("a", &requests[1..])];
    let one = assign_devices(&forward, &BTreeSet::new(), tasks).unwrap();
    let two = assign_devices(&backward, &BTreeSet::new(), tasks).unwrap();
    assert_eq!(one, two);
    // Task "b" comes first in the call and so takes A-1; "a" needs two from
    // one group and A100 has one left, so it gets the T4s.
    assert_eq!(
        render(&one),
        "a: nvidia/gpu/T4[T-1,T-2]; b: nvidia/gpu/A100[A-1]"
    );
    // Equal affinity scores tie-break by group id too.
    let tie = [matcher(
        "gpu",
        1,
        &[],
        &[("${device.vendor}", "=", "nvidia", 50)],
    )];
    for n in [&forward, &backward] {
        let a = assign_devices(n, &BTreeSet::new(), &[("t", &tie)]).unwrap();
        assert_eq!(render(&a), "t: nvidia/gpu/A100[A-1]");
    }
}

#[test]
fn assignment_checks_constraints() {
    let n = two_models();
    let big = [matcher("gpu", 1, &[(MEM, ">=", "32 GiB")], &[])];
    let a = assign_devices(&n, &used(&["A-1"]), &[("t", &big)]).unwrap();
    assert_eq!(render(&a), "t: nvidia/gpu/A100[A-2]");
    let err = assign_devices(&n, &used(&["A-1", "A-2"]), &[("t", &big)]).unwrap_err();
    assert_eq!(
        err.to_string(),
        r#"devices exhausted: asked 1 of "gpu", 0 free"#
    );
}
