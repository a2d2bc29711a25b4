//! Request bodies: JSON read with the field path of any error, and jobs
//! read through the job-spec pipeline (canonicalised and validated, every
//! problem named by its `Job.TaskGroups[0]...` path).

use serde::de::DeserializeOwned;

use scheduler_core::jobspec::{self, Severity};
use scheduler_core::model::Job;

use super::error::ApiError;

/// Decodes a JSON body; an error names the field path and position
/// (`Job.TaskGroups[0].Count: invalid type: string "x", expected u64`).
pub fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let text = body_text(body)?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("missing request body".to_owned()));
    }
    let deserializer = &mut serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        if path.is_empty() || path == "." {
            ApiError::BadRequest(format!("invalid request body: {inner}"))
        } else {
            ApiError::BadRequest(format!("invalid request body at {path}: {inner}"))
        }
    })
}

/// Reads the `Job` of a request body (`{"Job": {...}, ...}`): decoded,
/// canonicalised and validated as `sched job validate` would. Returns the
/// job and its warnings.
pub fn decode_job(body: &[u8]) -> Result<(Job, Vec<String>), ApiError> {
    let text = body_text(body)?;
    if text.trim().is_empty() {
        return Err(ApiError::BadRequest("missing request body".to_owned()));
    }
    match jobspec::parse_json(text, "request body") {
        Ok(parsed) => Ok((
            parsed.job,
            parsed.warnings.iter().map(|w| w.message.clone()).collect(),
        )),
        Err(diagnostics) => {
            let problems: Vec<String> = diagnostics
                .0
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .map(|d| match &d.path {
                    Some(path) => format!("{path}: {}", d.message),
                    None => d.message.clone(),
                })
                .collect();
            Err(ApiError::BadRequest(validation_message(&problems)))
        }
    }
}

/// Nomad's multi-error text: "N errors occurred:\n\t* ...".
pub fn validation_message(problems: &[String]) -> String {
    let mut text = match problems.len() {
        1 => "1 error occurred:\n".to_owned(),
        n => format!("{n} errors occurred:\n"),
    };
    for problem in problems {
        text.push_str("\t* ");
        text.push_str(problem);
        text.push('\n');
    }
    text
}

fn body_text(body: &[u8]) -> Result<&str, ApiError> {
    std::str::from_utf8(body)
        .map_err(|err| ApiError::BadRequest(format!("request body is not UTF-8: {err}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scheduler_core::model::api::JobRegisterRequest;

    #[test]
    fn a_type_error_names_the_field_path() {
        let err = decode::<JobRegisterRequest>(br#"{"EnforceIndex": "yes"}"#).unwrap_err();
        assert!(err.to_string().contains("at EnforceIndex"), "{err}");
        let err =
            decode_job(br#"{"Job": {"ID": "x", "TaskGroups": [{"Name": "g", "Count": "many"}]}}"#)
                .unwrap_err();
        assert!(err.to_string().contains("Job.TaskGroups[0].Count"), "{err}");
    }

    #[test]
    fn an_invalid_job_lists_its_problems() {
        let err = decode_job(br#"{"Job": {"ID": "x", "TaskGroups": []}}"#).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)));
        assert!(err.to_string().contains("error"), "{err}");
    }
}
