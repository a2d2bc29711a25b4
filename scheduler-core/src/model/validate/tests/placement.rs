//! Constraints, affinities and spreads.

use super::*;

#[test]
fn constraint_operators_must_be_known() {
    let mut job = job();
    job.constraints = vec![Constraint::new("${attr.kernel.name}", "~=", "linux")];
    assert_error(
        job,
        "job \"web\" > constraint[0] > operator",
        "operator \"~=\" is unknown: use one of =, !=, >, >=, <, <=, regexp, version, semver, set_contains, set_contains_all, set_contains_any, is_set, is_not_set, distinct_hosts or distinct_property",
    );
}

#[test]
fn regexp_constraints_must_compile() {
    let mut job = job();
    group(&mut job).constraints = vec![Constraint::new("${meta.rack}", "regexp", "r(")];
    assert_has_error(
        job,
        &format!("{G} > constraint[0] > value"),
        "value \"r(\" is not a valid regular expression",
    );
}

#[test]
fn version_constraints_must_parse() {
    let mut job = job();
    task(&mut job).constraints = vec![Constraint::new("${attr.os.version}", "version", ">= x")];
    assert_error(
        job,
        &format!("{T} > constraint[0] > value"),
        "value \">= x\" is not a valid version constraint (\"x\" is not a version): write clauses such as \">= 1.2, < 2.0\"",
    );

    let mut job = super::job();
    job.constraints = vec![Constraint::new("${attr.vault.version}", "semver", "~>")];
    assert_has_error(
        job,
        "job \"web\" > constraint[0] > value",
        "is not a valid semver constraint",
    );
}

#[test]
fn distinct_property_count_is_a_positive_integer() {
    let mut job = job();
    job.constraints = vec![Constraint::new("${meta.rack}", "distinct_property", "0")];
    assert_error(
        job,
        "job \"web\" > constraint[0] > value",
        "value \"0\" is not a valid distinct_property count: use a whole number of 1 or more",
    );
}

#[test]
fn comparison_and_set_operators_need_a_value() {
    let mut job = job();
    job.constraints = vec![Constraint::new("${meta.tags}", "set_contains", "")];
    assert_error(
        job,
        "job \"web\" > constraint[0] > value",
        "operator \"set_contains\" needs a value: list the values to look for, as in value = \"a,b\"",
    );

    let mut job = super::job();
    job.constraints = vec![Constraint::new("${meta.rack}", ">=", "")];
    assert_error(
        job,
        "job \"web\" > constraint[0] > value",
        "operator \">=\" needs a value: set value to compare the attribute with",
    );
}

#[test]
fn is_set_ignores_a_value() {
    let mut job = job();
    job.constraints = vec![Constraint::new("${meta.rack}", "is_set", "yes")];
    assert_warning(
        job,
        "job \"web\" > constraint[0] > value",
        "operator \"is_set\" takes no value, so \"yes\" is ignored: remove value",
    );
}

#[test]
fn distinct_constraints_not_at_task_level() {
    let mut job = job();
    task(&mut job).constraints = vec![Constraint::new("", "distinct_hosts", "")];
    assert_error(
        job,
        &format!("{T} > constraint[0] > operator"),
        "operator \"distinct_hosts\" is not allowed in a task's constraint: move the constraint to the group or the job",
    );
}

fn affinity(operand: &str, weight: i8) -> Affinity {
    Affinity {
        l_target: "${node.datacenter}".to_owned(),
        r_target: "dc1".to_owned(),
        operand: operand.to_owned(),
        weight: Some(weight),
    }
}

#[test]
fn affinities_cannot_be_distinct() {
    let mut job = job();
    job.affinities = vec![affinity("distinct_hosts", 50)];
    assert_error(
        job,
        "job \"web\" > affinity[0] > operator",
        "operator \"distinct_hosts\" is not allowed in an affinity: use a constraint for it",
    );
}

#[test]
fn affinity_weight_is_nonzero_and_in_range() {
    let mut job = job();
    group(&mut job).affinities = vec![affinity("=", 0)];
    assert_error(
        job,
        &format!("{G} > affinity[0] > weight"),
        "weight 0 is not allowed: use a weight between -100 and 100 other than 0",
    );

    let mut job = super::job();
    task(&mut job).affinities = vec![affinity("=", 120)];
    assert_error(
        job,
        &format!("{T} > affinity[0] > weight"),
        "weight 120 is out of range: it must be between -100 and 100",
    );
}

#[test]
fn system_jobs_have_no_affinities() {
    let mut job = job();
    job.job_type = JobType::System;
    job.affinities = vec![affinity("=", 50)];
    assert_error(
        job,
        "job \"web\" > affinity[0]",
        "affinity blocks are not allowed in system jobs, which run on every eligible node: remove it",
    );
}

fn spread(attribute: &str, weight: i8, targets: &[(&str, u8)]) -> Spread {
    Spread {
        attribute: attribute.to_owned(),
        weight: Some(weight),
        spread_target: targets
            .iter()
            .map(|(value, percent)| SpreadTarget {
                value: (*value).to_owned(),
                percent: *percent,
            })
            .collect(),
    }
}

#[test]
fn spreads_need_an_attribute_and_a_weight() {
    let mut job = job();
    job.spreads = vec![spread("", 50, &[])];
    assert_error(
        job,
        "job \"web\" > spread[0] > attribute",
        "the spread has no attribute: set attribute, as in attribute = \"${node.datacenter}\"",
    );

    let mut job = super::job();
    group(&mut job).spreads = vec![spread("${node.datacenter}", 0, &[])];
    assert_error(
        job,
        &format!("{G} > spread[0] > weight"),
        "weight 0 is out of range: a spread weight must be between 1 and 100",
    );
}

#[test]
fn spread_targets_are_unique_and_add_up_to_100_at_most() {
    let mut job = job();
    job.spreads = vec![spread(
        "${node.datacenter}",
        50,
        &[("dc1", 70), ("dc2", 50)],
    )];
    assert_error(
        job,
        "job \"web\" > spread[0]",
        "the target percentages add up to 120: they must not exceed 100",
    );

    let mut job = super::job();
    job.spreads = vec![spread(
        "${node.datacenter}",
        50,
        &[("dc1", 10), ("dc1", 20)],
    )];
    let found = problems(job);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(
        found[0].path.to_hcl(),
        "job \"web\" > spread[0] > target \"dc1\""
    );
    assert_eq!(found[0].path.to_json(), "Job.Spreads[0].SpreadTarget[1]");
    assert_eq!(
        found[0].message,
        "target \"dc1\" is listed twice: give each value one target"
    );
}
