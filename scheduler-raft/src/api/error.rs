//! API errors as Nomad answers them: a status code and a plain-text body.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::command::Refusal;
use crate::control::ControlError;
use crate::server::ServerError;

/// Why a request failed, and the status it gets.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Malformed input (400), naming the field path or parameter.
    #[error("{0}")]
    BadRequest(String),
    /// No such object (404).
    #[error("{0}")]
    NotFound(String),
    /// The method does not apply to the path (405).
    #[error("method not allowed")]
    MethodNotAllowed,
    /// A compare-and-set failed (`-check-index`): 409 would be natural,
    /// but Nomad answers 500 with the message, and its clients match on
    /// the message, so this does too.
    #[error("{0}")]
    Conflict(String),
    /// The cluster has no leader or this agent has no server (500, as
    /// Nomad answers "No cluster leader").
    #[error("{0}")]
    Unavailable(String),
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Conflict(_) | ApiError::Unavailable(_) | ApiError::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), format!("{self}\n")).into_response()
    }
}

impl From<ServerError> for ApiError {
    fn from(err: ServerError) -> Self {
        match err {
            ServerError::NoLeader(_) => ApiError::Unavailable(format!("No cluster leader: {err}")),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            Refusal::CheckIndexMismatch { .. } | Refusal::ConfigIndexMismatch { .. } => {
                ApiError::Conflict(refusal.to_string())
            }
            Refusal::Store(_) => ApiError::Internal(refusal.to_string()),
        }
    }
}

impl From<ControlError> for ApiError {
    fn from(err: ControlError) -> Self {
        match err {
            ControlError::Server(server) => server.into(),
            ControlError::Refused(refusal) => refusal.into(),
            ControlError::NotFound(what) => ApiError::NotFound(format!("{what} not found")),
            ControlError::Invalid(message) => ApiError::BadRequest(message),
            ControlError::NotLeader => ApiError::Unavailable("No cluster leader".to_owned()),
            ControlError::Remote(message) => {
                if message.contains("not found") {
                    ApiError::NotFound(message)
                } else if message.contains("enforcing job modify index") {
                    ApiError::Conflict(message)
                } else {
                    ApiError::Internal(message)
                }
            }
        }
    }
}
