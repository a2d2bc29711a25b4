//! Request names, default counts and invalid requests.

use super::*;

#[test]
fn name_forms() {
    let g = t4();
    let names = |name: &str| matcher(name, 1, &[], &[]).matches_name(&g);
    assert!(names("gpu"));
    assert!(names("nvidia/gpu"));
    assert!(names("nvidia/gpu/Tesla T4"));
    assert!(!names("fpga"));
    assert!(!names("amd/gpu"));
    assert!(!names("nvidia/fpga"));
    assert!(!names("nvidia/gpu/A100"));
    assert!(!names("Tesla T4"), "a single part is the type");
    assert!(!names("nvidia/gpu/tesla t4"), "names are case-sensitive");
    // An empty part matches anything, as in Nomad.
    assert!(names("/gpu"));
    // The model is everything after the second slash.
    let slashed = group("xilinx/fpga/alveo/u250", &[("F-1", true)], vec![]);
    assert_eq!(slashed.name, "alveo/u250");
    assert!(matcher("xilinx/fpga/alveo/u250", 1, &[], &[]).matches_name(&slashed));
    assert!(!matcher("xilinx/fpga/alveo", 1, &[], &[]).matches_name(&slashed));
    let m = matcher("nvidia/gpu", 3, &[], &[]);
    assert_eq!(m.name(), "nvidia/gpu");
    assert_eq!(m.count(), 3);
    assert!(!m.has_affinities());
}

#[test]
fn count_defaults_to_one() {
    let mut r = request("gpu", 1, &[], &[]);
    r.count = None;
    assert_eq!(DeviceRequestMatcher::new(&r).unwrap().count(), 1);
}

#[test]
fn invalid_requests_are_rejected_once() {
    let err = |r: RequestedDevice| DeviceRequestMatcher::new(&r).unwrap_err();
    assert_eq!(err(request("", 1, &[], &[])), "device request has no name");
    assert_eq!(
        err(request("gpu", 0, &[], &[])),
        r#"device "gpu" asks for 0 instances; ask for at least 1"#
    );
    assert_eq!(
        err(request("gpu", 1, &[(MEM, "~=", "1")], &[])),
        r#"device "gpu": `${device.attr.memory} ~= 1`: unknown operator "~=""#
    );
    let e = err(request(
        "gpu",
        1,
        &[("${device.model}", "regexp", "(")],
        &[],
    ));
    assert!(
        e.starts_with(
            r#"device "gpu": `${device.model} regexp (`: regular expression "(" does not compile"#
        ),
        "{e}"
    );
    let e = err(request(
        "gpu",
        1,
        &[],
        &[("${device.model}", "regexp", "(", 50)],
    ));
    assert!(
        e.starts_with(r#"device "gpu": affinity `${device.model} regexp (`"#),
        "{e}"
    );
    assert!(
        err(request(
            "gpu",
            1,
            &[("${device.attr.cuda}", "version", "~>")],
            &[]
        ))
        .contains("version constraint")
    );
    assert!(
        DeviceRequestMatcher::new(&request(
            "gpu",
            1,
            &[("${device.attr.cuda}", "semver", "~> 1.0")],
            &[]
        ))
        .is_err()
    );
    // An interpolated pattern is compiled per group, so it is not an error yet.
    assert!(
        DeviceRequestMatcher::new(&request(
            "gpu",
            1,
            &[("${device.model}", "regexp", "${device.attr.pattern}")],
            &[]
        ))
        .is_ok()
    );
}
