//! Node-level feasibility.

use super::*;

#[test]
fn feasibility_counts_healthy_instances_only() {
    let n = node(vec![group(
        "nvidia/gpu/T4",
        &[("GPU-1", true), ("GPU-2", false)],
        vec![("memory", int(15360, "MiB"))],
    )]);
    assert!(matcher("nvidia/gpu", 1, &[], &[]).check_node(&n).is_ok());
    assert_eq!(
        matcher("nvidia/gpu", 2, &[], &[])
            .check_node(&n)
            .unwrap_err(),
        r#"no device group matches "nvidia/gpu" with 2 healthy instances (node has nvidia/gpu/T4 x1 (+1 unhealthy))"#
    );
    // Feasibility ignores what allocations hold: no `used` here.
    assert!(
        matcher("gpu", 1, &[(MEM, ">=", "15 GiB")], &[])
            .check_node(&n)
            .is_ok()
    );
}

#[test]
fn feasibility_message_names_the_shortfall() {
    let n = node(vec![
        group(
            "nvidia/gpu/T4",
            &[("GPU-1", true)],
            vec![("memory", int(15360, "MiB"))],
        ),
        group("intel/fpga/arria", &[("F-1", true), ("F-2", true)], vec![]),
    ]);
    assert_eq!(
        matcher("nvidia/gpu", 2, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .unwrap_err(),
        "no device group matches \"nvidia/gpu\" with 2 healthy instances and constraint \
         ${device.attr.memory} >= 40 GiB (node has intel/fpga/arria x2, nvidia/gpu/T4 x1); \
         nvidia/gpu/T4 fails ${device.attr.memory} >= 40 GiB: 15360 MiB is not >= 40 GiB"
    );
    assert_eq!(
        matcher(
            "gpu",
            1,
            &[(MEM, "is_set", ""), ("${device.vendor}", "=", "amd")],
            &[]
        )
        .check_node(&n)
        .unwrap_err(),
        "no device group matches \"gpu\" with 1 healthy instance and constraints \
         ${device.attr.memory} is_set, ${device.vendor} = amd (node has intel/fpga/arria x2, \
         nvidia/gpu/T4 x1); nvidia/gpu/T4 fails ${device.vendor} = amd: \"nvidia\" does not equal \"amd\""
    );
    assert_eq!(
        matcher("gpu", 1, &[], &[])
            .check_node(&node(vec![]))
            .unwrap_err(),
        r#"no device group matches "gpu" with 1 healthy instance (node has no devices)"#
    );
}

#[test]
fn feasibility_any_group_will_do() {
    let n = node(vec![
        group(
            "nvidia/gpu/A100",
            &[("A-1", true)],
            vec![("memory", int(40, "GiB"))],
        ),
        group(
            "nvidia/gpu/T4",
            &[("T-1", true), ("T-2", true)],
            vec![("memory", int(16, "GiB"))],
        ),
    ]);
    // Two instances only in the T4 group; 40 GiB only in the A100 group.
    assert!(matcher("gpu", 2, &[], &[]).check_node(&n).is_ok());
    assert!(
        matcher("gpu", 1, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .is_ok()
    );
    assert!(
        matcher("gpu", 2, &[(MEM, ">=", "40 GiB")], &[])
            .check_node(&n)
            .is_err()
    );
}

#[test]
fn device_ids_constraints_filter_instances() {
    let n = node(vec![t4()]);
    let only = matcher(
        "gpu",
        2,
        &[("${device.ids}", "set_contains", "GPU-1,GPU-3")],
        &[],
    );
    assert_eq!(
        only.usable_instances(&t4()).into_iter().collect::<Vec<_>>(),
        ["GPU-1", "GPU-3"]
    );
    assert!(only.check_node(&n).is_ok());
    let a = assign_devices(&n, &BTreeSet::new(), &[("t", std::slice::from_ref(&only))]).unwrap();
    assert_eq!(a.by_task["t"][0].device_ids, ["GPU-1", "GPU-3"]);
    // Three are asked but only two are allowed.
    let three = matcher(
        "gpu",
        3,
        &[("${device.ids}", "set_contains_any", "GPU-1,GPU-3")],
        &[],
    );
    assert_eq!(
        three.check_node(&n).unwrap_err(),
        "no device group matches \"gpu\" with 3 healthy instances and constraint \
         ${device.ids} set_contains_any GPU-1,GPU-3 (node has nvidia/gpu/Tesla T4 x3); \
         nvidia/gpu/Tesla T4: only 2 healthy instances allowed by the ${device.ids} constraints"
    );
    let not_two = matcher("gpu", 2, &[("${device.ids}", "!=", "GPU-2")], &[]);
    let a = assign_devices(
        &n,
        &BTreeSet::new(),
        &[("t", std::slice::from_ref(&not_two))],
    )
    .unwrap();
    assert_eq!(a.by_task["t"][0].device_ids, ["GPU-1", "GPU-3"]);
}
