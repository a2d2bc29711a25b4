//! Dispatching parameterized jobs.

use std::collections::BTreeMap;

use crate::model::{Job, JobId, JobType, ParameterizedJobConfig};
use crate::periodic::{
    DISPATCH_PAYLOAD_SIZE_LIMIT, DispatchError, dispatch_job, find_idempotent_dispatch,
};

const NOW: i64 = 1_714_557_600_123_456_789; // 2024-05-01T10:00:00.123456789Z

/// A parameterized batch job `render` requiring `scene`, allowing `quality`.
fn template(payload: &str) -> Job {
    Job {
        id: "render".into(),
        name: "render".to_owned(),
        namespace: "default".to_owned(),
        job_type: JobType::Batch,
        parameterized_job: Some(ParameterizedJobConfig {
            payload: payload.to_owned(),
            meta_required: vec!["scene".to_owned()],
            meta_optional: vec!["quality".to_owned()],
        }),
        meta: BTreeMap::from([
            ("quality".to_owned(), "draft".to_owned()),
            ("team".to_owned(), "vfx".to_owned()),
        ]),
        ..Job::default()
    }
}

fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

/// Dispatches with the usual token, time and seed.
fn dispatch(
    parent: &Job,
    payload: Option<&[u8]>,
    pairs: &[(&str, &str)],
) -> Result<Job, DispatchError> {
    dispatch_job(
        parent,
        payload.map(<[u8]>::to_vec),
        meta(pairs),
        "tok-1".to_owned(),
        NOW,
        7,
    )
}

fn error(parent: &Job, payload: Option<&[u8]>, pairs: &[(&str, &str)]) -> String {
    dispatch(parent, payload, pairs)
        .expect_err("a refused dispatch")
        .to_string()
}

#[test]
fn the_child_is_a_dispatched_copy() {
    let parent = template("optional");
    let child = dispatch(
        &parent,
        Some(b"frame 1-24"),
        &[("scene", "intro"), ("quality", "final")],
    )
    .expect("a valid dispatch");
    let id = child.id.as_str();
    let suffix = id
        .strip_prefix("render/dispatch-1714557600-")
        .expect("the id format");
    assert_eq!(suffix.len(), 8, "{id}");
    assert!(
        suffix.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
        "{id}"
    );
    assert_eq!(child.name, id);
    assert_eq!(child.parent_id.as_str(), "render");
    assert!(child.dispatched);
    assert!(!child.is_parameterized());
    assert_eq!(child.parameterized_job, parent.parameterized_job);
    assert_eq!(child.dispatch_idempotency_token, "tok-1");
    assert_eq!(child.payload, b"frame 1-24");
    assert_eq!(child.submit_time, NOW);
    assert_eq!(child.status, "pending");
    // Dispatch meta over the parent's.
    assert_eq!(
        child.meta,
        meta(&[("quality", "final"), ("scene", "intro"), ("team", "vfx")])
    );
    assert_eq!(child.job_type, JobType::Batch);
    assert_eq!(child.namespace, "default");
}

#[test]
fn ids_are_deterministic() {
    let parent = template("optional");
    let run = |token: &str, now: i64, seed: u64| {
        dispatch_job(
            &parent,
            None,
            meta(&[("scene", "a")]),
            token.to_owned(),
            now,
            seed,
        )
        .expect("valid")
        .id
    };
    let first = run("tok", NOW, 1);
    assert_eq!(first, run("tok", NOW, 1));
    assert_ne!(first, run("tok", NOW, 2));
    assert_ne!(first, run("other", NOW, 1));
    assert_ne!(first, run("tok", NOW + 1, 1));
    // Pinned: the hash is part of the replay contract.
    assert_eq!(first.as_str(), "render/dispatch-1714557600-4f701f8d");
}

#[test]
fn the_parent_must_be_a_parameterized_template() {
    let mut plain = template("optional");
    plain.parameterized_job = None;
    assert_eq!(
        error(&plain, None, &[("scene", "a")]),
        "job \"render\" is not a parameterized job: only jobs with a parameterized block can be dispatched"
    );

    let parent = template("optional");
    let child = dispatch(&parent, None, &[("scene", "a")]).expect("valid");
    let again = dispatch(&child, None, &[("scene", "b")]).expect_err("a dispatched child");
    assert_eq!(
        again,
        DispatchError::AlreadyDispatched {
            job_id: child.id.clone(),
            parent_id: JobId::new("render"),
        }
    );
    assert!(
        again
            .to_string()
            .ends_with("dispatch its parent \"render\" instead"),
        "{again}"
    );

    let mut stopped = template("optional");
    stopped.stop = true;
    assert_eq!(
        error(&stopped, None, &[("scene", "a")]),
        "job \"render\" is stopped: start it again before dispatching it"
    );
}

#[test]
fn payload_rules() {
    let required = template("required");
    assert_eq!(
        error(&required, None, &[("scene", "a")]),
        "job \"render\" requires a payload and none was given"
    );
    assert_eq!(
        error(&required, Some(b""), &[("scene", "a")]),
        "job \"render\" requires a payload and none was given"
    );
    assert!(dispatch(&required, Some(b"x"), &[("scene", "a")]).is_ok());

    let forbidden = template("forbidden");
    assert_eq!(
        error(&forbidden, Some(b"abc"), &[("scene", "a")]),
        "job \"render\" forbids a payload and one of 3 bytes was given"
    );
    assert!(dispatch(&forbidden, None, &[("scene", "a")]).is_ok());
    assert!(dispatch(&forbidden, Some(b""), &[("scene", "a")]).is_ok());

    // Optional is the default.
    for mode in ["optional", ""] {
        let parent = template(mode);
        assert!(dispatch(&parent, None, &[("scene", "a")]).is_ok());
        assert!(dispatch(&parent, Some(b"x"), &[("scene", "a")]).is_ok());
    }
}

#[test]
fn payload_size_limit() {
    let parent = template("optional");
    let at_limit = vec![b'x'; DISPATCH_PAYLOAD_SIZE_LIMIT];
    assert!(dispatch(&parent, Some(&at_limit), &[("scene", "a")]).is_ok());
    let over = vec![b'x'; DISPATCH_PAYLOAD_SIZE_LIMIT + 1];
    assert_eq!(
        error(&parent, Some(&over), &[("scene", "a")]),
        "the payload is 16385 bytes, more than the limit of 16384 bytes"
    );
}

#[test]
fn meta_rules() {
    let parent = template("optional");
    assert_eq!(
        error(
            &parent,
            None,
            &[("scene", "a"), ("colour", "red"), ("team", "x")]
        ),
        "dispatch meta has keys job \"render\" does not allow: \"colour\", \"team\"; allowed keys: \"quality\", \"scene\""
    );
    assert_eq!(
        error(&parent, None, &[("quality", "final")]),
        "dispatch meta lacks keys job \"render\" requires: \"scene\""
    );
    // Unexpected keys are reported before missing ones, as Nomad does.
    assert!(matches!(
        dispatch(&parent, None, &[("colour", "red")]),
        Err(DispatchError::UnexpectedMeta { keys, .. }) if keys == ["colour"]
    ));
    // No meta allowed at all.
    let mut bare = template("optional");
    bare.parameterized_job = Some(ParameterizedJobConfig::default());
    assert_eq!(
        error(&bare, None, &[("scene", "a")]),
        "dispatch meta has keys job \"render\" does not allow: \"scene\"; allowed keys: none"
    );
    assert!(dispatch(&bare, None, &[]).is_ok());
}

#[test]
fn idempotency_tokens() {
    let parent = template("optional");
    let first = dispatch(&parent, None, &[("scene", "a")]).expect("valid");
    let mut other = dispatch_job(
        &parent,
        None,
        meta(&[("scene", "b")]),
        "tok-2".to_owned(),
        NOW,
        8,
    )
    .expect("valid");
    other.status = "running".to_owned();
    let children = [first.clone(), other.clone()];

    assert_eq!(
        find_idempotent_dispatch(children.iter(), "tok-1"),
        Some(&first)
    );
    assert_eq!(
        find_idempotent_dispatch(children.iter(), "tok-2"),
        Some(&other)
    );
    assert_eq!(find_idempotent_dispatch(children.iter(), "tok-3"), None);

    // A dead child does not count: dispatch again.
    let mut dead = first.clone();
    dead.status = "dead".to_owned();
    assert_eq!(find_idempotent_dispatch([dead].iter(), "tok-1"), None);

    // No token, no idempotency, even against children without one.
    let untokened = dispatch_job(
        &parent,
        None,
        meta(&[("scene", "a")]),
        String::new(),
        NOW,
        7,
    )
    .expect("valid");
    assert_eq!(find_idempotent_dispatch([untokened].iter(), ""), None);
}
