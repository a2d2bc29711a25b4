//! Jobs: `/v1/jobs`, `/v1/jobs/parse`, `/v1/validate/job` and everything
//! under `/v1/job/:id` (versions, allocations, evaluations, deployments,
//! summary, plan, evaluate, revert, stable, dispatch, periodic force).
//!
//! Job ids may contain `/` (a dispatched child is `parent/dispatch-...`),
//! so `/v1/job/*` is one route that peels known suffixes off the path, as
//! Nomad's own router does.

use std::collections::BTreeMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use base64::Engine;

use scheduler_core::jobspec::{self, Diagnostics, ParseOptions, VariableInputs};
use scheduler_core::model::api::{
    AllocListStub, JobDeregisterResponse, JobDispatchRequest, JobDispatchResponse,
    JobEvaluateRequest, JobListStub, JobPlanRequest, JobRegisterRequest, JobRegisterResponse,
    JobRevertRequest, JobStabilityRequest, JobStabilityResponse, JobSummary, JobValidateResponse,
    JobVersionsResponse, JobsParseRequest,
};
use scheduler_core::model::{EvalTrigger, Job, JobId};
use scheduler_core::plan::diff::job_diff;
use scheduler_core::plan::dry_run::plan_job;
use scheduler_core::scheduler::SchedulerEnv;
use scheduler_core::state::{MemorySnapshot, StateSnapshot};

use super::Ctx;
use super::body::{decode, decode_job, validation_message};
use super::error::ApiError;
use super::query::{Answer, Query, apply_filter, paginate};
use crate::cluster_state::Table;
use crate::command::{Applied, Command};
use crate::control::new_evaluation;

pub(super) fn routes() -> Router<Ctx> {
    Router::new()
        .route(
            "/v1/jobs",
            get(list_jobs).post(register_new).put(register_new),
        )
        .route("/v1/jobs/parse", post(parse_job).put(parse_job))
        .route("/v1/validate/job", post(validate_job).put(validate_job))
        .route("/v1/job/{*rest}", any(job_route))
}

/// What `/v1/job/<rest>` names: the job id and the sub-resource.
fn split_job_path(rest: &str) -> (&str, &str) {
    const SUFFIXES: [&str; 13] = [
        "/versions",
        "/allocations",
        "/evaluations",
        "/deployments",
        "/deployment",
        "/summary",
        "/evaluate",
        "/plan",
        "/revert",
        "/stable",
        "/dispatch",
        "/periodic/force",
        "/scale",
    ];
    for suffix in SUFFIXES {
        if let Some(id) = rest.strip_suffix(suffix)
            && !id.is_empty()
        {
            return (id, &suffix[1..]);
        }
    }
    (rest, "")
}

async fn job_route(
    State(ctx): State<Ctx>,
    method: Method,
    Path(rest): Path<String>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Response, ApiError> {
    let query = Query::parse(raw.as_deref());
    let (id, what) = split_job_path(&rest);
    let id = JobId::new(id);
    let read = method == Method::GET;
    let write = method == Method::POST || method == Method::PUT;
    Ok(match (what, read, write, method == Method::DELETE) {
        ("", true, _, _) => get_job(&ctx, &query, &id).await?.into_response(),
        ("", _, true, _) => register(&ctx, &query, &body, Some(&id))
            .await?
            .into_response(),
        ("", _, _, true) => deregister(&ctx, &query, &id).await?.into_response(),
        ("versions", true, ..) => versions(&ctx, &query, &id).await?.into_response(),
        ("allocations", true, ..) => job_allocs(&ctx, &query, &id).await?.into_response(),
        ("evaluations", true, ..) => job_evals(&ctx, &query, &id).await?.into_response(),
        ("deployments", true, ..) => job_deployments(&ctx, &query, &id).await?.into_response(),
        ("deployment", true, ..) => latest_deployment(&ctx, &query, &id).await?.into_response(),
        ("summary", true, ..) => summary(&ctx, &query, &id).await?.into_response(),
        ("evaluate", _, true, _) => evaluate(&ctx, &query, &id, &body).await?.into_response(),
        ("plan", _, true, _) => plan(&ctx, &query, &id, &body).await?.into_response(),
        ("revert", _, true, _) => revert(&ctx, &query, &id, &body).await?.into_response(),
        ("stable", _, true, _) => stable(&ctx, &query, &id, &body).await?.into_response(),
        ("dispatch", _, true, _) => dispatch(&ctx, &query, &id, &body).await?.into_response(),
        ("periodic/force", _, true, _) => force_periodic(&ctx, &query, &id).await?.into_response(),
        _ => return Err(ApiError::MethodNotAllowed),
    })
}

/// The latest version of a job, or 404 as Nomad words it.
fn stored_job<'a>(
    snapshot: &'a MemorySnapshot,
    query: &Query,
    id: &JobId,
) -> Result<&'a Job, ApiError> {
    snapshot
        .job(query.namespace(), id)
        .ok_or_else(|| ApiError::NotFound("job not found".to_owned()))
}

async fn list_jobs(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
) -> Result<Answer<Vec<JobListStub>>, ApiError> {
    let query = Query::parse(raw.as_deref());
    let filter = query.filter()?;
    let (snapshot, index) = ctx.read(&query, &[Table::Jobs, Table::Allocs]).await?;
    let prefix = query.text("prefix");
    let stubs: Vec<JobListStub> = snapshot
        .jobs()
        .filter(|job| query.selects_namespace(&job.namespace))
        .filter(|job| job.id.as_str().starts_with(prefix))
        .map(|job| JobListStub::from_job(job, snapshot.allocs_by_job(&job.namespace, &job.id)))
        .collect();
    let stubs = apply_filter(stubs, filter.as_ref());
    let (page, next) = paginate(stubs, &query, |stub| stub.id.clone())?;
    let mut answer = ctx.answer(page, index);
    answer.next_token = next;
    Ok(answer)
}

async fn register_new(
    State(ctx): State<Ctx>,
    RawQuery(raw): RawQuery,
    body: Bytes,
) -> Result<Answer<JobRegisterResponse>, ApiError> {
    register(&ctx, &Query::parse(raw.as_deref()), &body, None).await
}

/// The namespace a submitted job goes to, as Nomad's HTTP API decides it:
/// `?namespace=` (what `-namespace` and `NOMAD_NAMESPACE` send) wins over
/// the job's own `Namespace`, which is kept only when the query names
/// none. (Nomad's CLI sends the job's namespace as `?namespace=` when the
/// spec names one, so from the CLI the spec wins; `sched` does the same.)
fn place_in_namespace(job: &mut Job, query: &Query) -> Result<(), ApiError> {
    match query.text("namespace") {
        "" => Ok(()),
        "*" => Err(ApiError::BadRequest(
            "a job can't be registered in the wildcard namespace \"*\": name one namespace"
                .to_owned(),
        )),
        namespace => {
            namespace.clone_into(&mut job.namespace);
            Ok(())
        }
    }
}

/// `job run`: registers the job with an evaluation; `EnforceIndex` makes it
/// a compare-and-set on the job's `JobModifyIndex`.
async fn register(
    ctx: &Ctx,
    query: &Query,
    body: &[u8],
    path_id: Option<&JobId>,
) -> Result<Answer<JobRegisterResponse>, ApiError> {
    let request: JobRegisterRequest = decode(body)?;
    let (mut job, warnings) = decode_job(body)?;
    place_in_namespace(&mut job, query)?;
    // The server stamps the submission, as Nomad's does.
    job.submit_time = crate::clock::now_unix_nanos();
    if let Some(id) = path_id
        && *id != job.id
    {
        return Err(ApiError::BadRequest(format!(
            "Job ID does not match name: the path names {id:?}, the job is {:?}",
            job.id.as_str()
        )));
    }
    let enforce = request.enforce_index.then_some(request.job_modify_index);
    let (eval, response) = ctx.control.register_job(job, enforce).await?;
    let job_modify_index = match &response.result {
        Ok(Applied::JobRegistered {
            job_modify_index, ..
        }) => *job_modify_index,
        _ => response.index,
    };
    Ok(ctx.answer(
        JobRegisterResponse {
            eval_id: eval.id.as_str().to_owned(),
            eval_create_index: response.index,
            job_modify_index,
            warnings: warnings.join("\n"),
            index: response.index,
        },
        response.index,
    ))
}

async fn get_job(ctx: &Ctx, query: &Query, id: &JobId) -> Result<Answer<Job>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Jobs]).await?;
    let job = stored_job(&snapshot, query, id)?.clone();
    Ok(ctx.answer(job, index))
}

/// `job stop`: marks the job stopped (or purges it) with an evaluation
/// that stops its allocations.
async fn deregister(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<JobDeregisterResponse>, ApiError> {
    let purge = query.flag("purge")?;
    let snapshot = ctx.server.read_consistent().await?;
    let job = stored_job(&snapshot, query, id)?;
    let now = crate::clock::now_unix_nanos();
    let eval = new_evaluation(job, EvalTrigger::JobDeregister, now);
    let response = ctx
        .server
        .write(Command::DeregisterJob {
            namespace: job.namespace.clone(),
            job_id: id.clone(),
            purge,
            eval: Some(Box::new(eval.clone())),
        })
        .await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        JobDeregisterResponse {
            eval_id: eval.id.as_str().to_owned(),
            eval_create_index: response.index,
            job_modify_index: response.index,
            index: response.index,
        },
        response.index,
    ))
}

async fn versions(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<JobVersionsResponse>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Jobs]).await?;
    stored_job(&snapshot, query, id)?;
    let mut versions: Vec<Job> = snapshot
        .job_versions(query.namespace(), id)
        .cloned()
        .collect();
    versions.sort_by_key(|job| std::cmp::Reverse(job.version));
    let diffs = if query.flag("diffs")? {
        versions
            .windows(2)
            .map(|pair| job_diff(Some(&pair[1]), &pair[0]))
            .collect()
    } else {
        Vec::new()
    };
    Ok(ctx.answer(JobVersionsResponse { versions, diffs }, index))
}

async fn job_allocs(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<Vec<AllocListStub>>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Allocs]).await?;
    let stubs = snapshot
        .allocs_by_job(query.namespace(), id)
        .map(AllocListStub::from_alloc)
        .collect();
    Ok(ctx.answer(apply_filter(stubs, query.filter()?.as_ref()), index))
}

async fn job_evals(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<Vec<scheduler_core::model::Evaluation>>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Evals]).await?;
    let evals = snapshot
        .evals()
        .filter(|eval| eval.job_id == *id && query.selects_namespace(eval.namespace.as_str()))
        .cloned()
        .collect();
    Ok(ctx.answer(apply_filter(evals, query.filter()?.as_ref()), index))
}

async fn job_deployments(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<Vec<scheduler_core::model::Deployment>>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Deployments]).await?;
    let mut deployments: Vec<_> = snapshot
        .deployments()
        .filter(|d| d.job_id == *id && query.selects_namespace(d.namespace.as_str()))
        .cloned()
        .collect();
    deployments.sort_by_key(|d| std::cmp::Reverse(d.create_index));
    Ok(ctx.answer(deployments, index))
}

async fn latest_deployment(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<Option<scheduler_core::model::Deployment>>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Deployments]).await?;
    let latest = snapshot.latest_deployment(query.namespace(), id).cloned();
    Ok(ctx.answer(latest, index))
}

async fn summary(ctx: &Ctx, query: &Query, id: &JobId) -> Result<Answer<JobSummary>, ApiError> {
    let (snapshot, index) = ctx.read(query, &[Table::Jobs, Table::Allocs]).await?;
    let job = stored_job(&snapshot, query, id)?;
    let summary = JobSummary::from_allocs(job, snapshot.allocs_by_job(&job.namespace, &job.id));
    Ok(ctx.answer(summary, index))
}

/// `job eval`: a new evaluation of the job as it is.
async fn evaluate(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
    body: &[u8],
) -> Result<Answer<JobDeregisterResponse>, ApiError> {
    if !body.is_empty() {
        let _: JobEvaluateRequest = decode(body)?;
    }
    let snapshot = ctx.server.read_consistent().await?;
    let job = stored_job(&snapshot, query, id)?;
    if job.is_periodic() || job.is_parameterized() {
        return Err(ApiError::BadRequest(
            "can't evaluate periodic or parameterized job".to_owned(),
        ));
    }
    let now = crate::clock::now_unix_nanos();
    let eval = new_evaluation(job, EvalTrigger::Other("job-eval".to_owned()), now);
    let response = ctx
        .server
        .write(Command::UpsertEvals {
            evals: vec![eval.clone()],
        })
        .await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        JobDeregisterResponse {
            eval_id: eval.id.as_str().to_owned(),
            eval_create_index: response.index,
            job_modify_index: job.job_modify_index,
            index: response.index,
        },
        response.index,
    ))
}

/// `job plan`: the scheduler's answer for the job on a copy of the state.
async fn plan(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
    body: &[u8],
) -> Result<Answer<scheduler_core::model::api::JobPlanResponse>, ApiError> {
    let request: JobPlanRequest = decode(body)?;
    let (mut job, warnings) = decode_job(body)?;
    place_in_namespace(&mut job, query)?;
    if job.id != *id {
        return Err(ApiError::BadRequest(format!(
            "Job ID does not match: the path names {id:?}, the job is {:?}",
            job.id.as_str()
        )));
    }
    // The plan must see every write acknowledged before it.
    ctx.server.read_consistent().await?;
    let state = ctx.server.store_copy();
    let index = state.index();
    let now = crate::clock::now_unix_nanos();
    let eval = new_evaluation(&job, EvalTrigger::JobRegister, now);
    let env = SchedulerEnv {
        now,
        seed: ctx.control.config().seed,
    };
    let dry_run = plan_job(&state, job, eval, request.diff, &env)
        .map_err(|err| ApiError::Internal(err.to_string()))?;
    let mut response = dry_run.response;
    response.warnings = warnings.join("\n");
    Ok(ctx.answer(response, index))
}

/// `job revert`: registers an earlier version's specification as a new
/// version.
async fn revert(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
    body: &[u8],
) -> Result<Answer<JobRegisterResponse>, ApiError> {
    let request: JobRevertRequest = decode(body)?;
    let snapshot = ctx.server.read_consistent().await?;
    let current = stored_job(&snapshot, query, id)?;
    if let Some(prior) = request.enforce_prior_version
        && prior != current.version
    {
        return Err(ApiError::Conflict(format!(
            "current job has version {}; enforcing version {prior}",
            current.version
        )));
    }
    if request.job_version == current.version {
        return Err(ApiError::BadRequest(format!(
            "can't revert to current version {}",
            current.version
        )));
    }
    let Some(target) = snapshot.job_version(query.namespace(), id, request.job_version) else {
        return Err(ApiError::NotFound(format!(
            "job {:?} at version {} not found",
            id.as_str(),
            request.job_version
        )));
    };
    let mut job = target.clone();
    job.stop = false;
    job.submit_time = crate::clock::now_unix_nanos();
    let (eval, response) = ctx
        .control
        .register_job(job, Some(current.job_modify_index))
        .await?;
    let job_modify_index = match &response.result {
        Ok(Applied::JobRegistered {
            job_modify_index, ..
        }) => *job_modify_index,
        _ => response.index,
    };
    Ok(ctx.answer(
        JobRegisterResponse {
            eval_id: eval.id.as_str().to_owned(),
            eval_create_index: response.index,
            job_modify_index,
            warnings: String::new(),
            index: response.index,
        },
        response.index,
    ))
}

/// `job stable` (`POST /v1/job/:id/stable`): marks a kept version stable
/// or not. Answers the write's index, which becomes that version's
/// `ModifyIndex` (and the job's, when it is the current version).
async fn stable(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
    body: &[u8],
) -> Result<Answer<JobStabilityResponse>, ApiError> {
    let request: JobStabilityRequest = decode(body)?;
    if !request.job_id.is_empty() && request.job_id != id.as_str() {
        return Err(ApiError::BadRequest(format!(
            "Job ID does not match: the path names {:?}, JobID is {:?}",
            id.as_str(),
            request.job_id
        )));
    }
    let snapshot = ctx.server.read_consistent().await?;
    let job = stored_job(&snapshot, query, id)?;
    let response = ctx
        .server
        .write(Command::SetJobStability {
            namespace: job.namespace.clone(),
            job_id: id.clone(),
            version: request.job_version,
            stable: request.stable,
        })
        .await?;
    response.result.clone().map_err(ApiError::from)?;
    Ok(ctx.answer(
        JobStabilityResponse {
            index: response.index,
        },
        response.index,
    ))
}

async fn dispatch(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
    body: &[u8],
) -> Result<Answer<JobDispatchResponse>, ApiError> {
    let request: JobDispatchRequest = if body.is_empty() {
        JobDispatchRequest::default()
    } else {
        decode(body)?
    };
    let payload = if request.payload.is_empty() {
        None
    } else {
        Some(
            base64::engine::general_purpose::STANDARD
                .decode(request.payload.as_bytes())
                .map_err(|err| {
                    ApiError::BadRequest(format!("invalid request body at Payload: {err}"))
                })?,
        )
    };
    let (child, eval) = ctx
        .control
        .dispatch_job(
            query.namespace(),
            id,
            payload,
            request.meta,
            request.idempotency_token,
        )
        .await?;
    let index = ctx.server.table_index(Table::Jobs);
    Ok(ctx.answer(
        JobDispatchResponse {
            dispatched_job_id: child.id.as_str().to_owned(),
            eval_id: eval.id.as_str().to_owned(),
            eval_create_index: eval.create_index.max(index),
            job_create_index: child.create_index.max(index),
            index,
        },
        index,
    ))
}

async fn force_periodic(
    ctx: &Ctx,
    query: &Query,
    id: &JobId,
) -> Result<Answer<BTreeMap<&'static str, serde_json::Value>>, ApiError> {
    let eval = ctx
        .control
        .force_periodic_launch(query.namespace(), id)
        .await?;
    let index = ctx.server.table_index(Table::Evals);
    let body = BTreeMap::from([
        ("EvalID", serde_json::Value::from(eval.id.as_str())),
        ("EvalCreateIndex", serde_json::Value::from(index)),
        ("Index", serde_json::Value::from(index)),
    ]);
    Ok(ctx.answer(body, index))
}

/// `POST /v1/jobs/parse`: HCL to the job's JSON, without registering.
async fn parse_job(body: Bytes) -> Result<axum::Json<Job>, ApiError> {
    let request: JobsParseRequest = decode(&body)?;
    let inputs = VariableInputs {
        var_files: if request.variables.is_empty() {
            Vec::new()
        } else {
            vec![("variables".to_owned(), request.variables.clone())]
        },
        ..VariableInputs::default()
    };
    let options = ParseOptions {
        file_name: "job.hcl".to_owned(),
        inputs,
        files: &jobspec::files::NoFiles,
        base_dir: String::new(),
        seed: 0,
        validation: jobspec::Validation::Full,
    };
    jobspec::parse(&request.job_hcl, &options)
        .map(|parsed| axum::Json(parsed.job))
        .map_err(|diagnostics| ApiError::BadRequest(located(&diagnostics)))
}

/// Diagnostics as `file:line:col: error: message` lines.
fn located(diagnostics: &Diagnostics) -> String {
    diagnostics
        .0
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// `POST /v1/validate/job`: every problem of the job, 200 either way.
async fn validate_job(body: Bytes) -> Result<axum::Json<JobValidateResponse>, ApiError> {
    let response = match decode_job(&body) {
        Ok((_, warnings)) => JobValidateResponse {
            driver_config_validated: false,
            validation_errors: Vec::new(),
            error: String::new(),
            warnings: warnings.join("\n"),
        },
        Err(ApiError::BadRequest(message)) => {
            let problems: Vec<String> = message
                .lines()
                .filter_map(|line| line.strip_prefix("\t* "))
                .map(str::to_owned)
                .collect();
            let problems = if problems.is_empty() {
                vec![message]
            } else {
                problems
            };
            JobValidateResponse {
                driver_config_validated: false,
                error: validation_message(&problems),
                validation_errors: problems,
                warnings: String::new(),
            }
        }
        Err(other) => return Err(other),
    };
    Ok(axum::Json(response))
}

#[cfg(test)]
mod tests {
    use super::split_job_path;

    #[test]
    fn job_paths_split_on_known_suffixes_only() {
        assert_eq!(split_job_path("web"), ("web", ""));
        assert_eq!(split_job_path("web/plan"), ("web", "plan"));
        assert_eq!(
            split_job_path("batch/dispatch-1-abc/allocations"),
            ("batch/dispatch-1-abc", "allocations")
        );
        assert_eq!(
            split_job_path("batch/dispatch-1-abc"),
            ("batch/dispatch-1-abc", "")
        );
        assert_eq!(
            split_job_path("cron/periodic/force"),
            ("cron", "periodic/force")
        );
        assert_eq!(split_job_path("/plan"), ("/plan", ""));
    }
}
