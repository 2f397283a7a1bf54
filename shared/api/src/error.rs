//! The one error shape every endpoint returns:
//! `{"error": {"code": ..., "message": ..., "fields": [{"field": ..., "problem": ...}]}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadrouter_domain::engine::EngineError;
use leadrouter_domain::ports::StoreError;
use leadrouter_lead::ValidationError;
use serde::Serialize;

/// A field-level problem in a request.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldError {
    /// The field (canonical name, query parameter or path segment).
    pub field: String,
    /// What is wrong with it.
    pub problem: String,
}

/// An API error: status, machine-readable code, message, and the fields concerned.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable machine-readable code (`validation_failed`, `not_found`, ...).
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// The fields concerned.
    pub fields: Vec<FieldError>,
}

impl ApiError {
    /// An error without field details.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            fields: Vec::new(),
        }
    }

    /// A 400 naming one field.
    pub fn bad_field(field: &str, problem: impl Into<String>) -> ApiError {
        let problem = problem.into();
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "invalid_parameter",
            message: format!("{field}: {problem}"),
            fields: vec![FieldError {
                field: field.to_owned(),
                problem,
            }],
        }
    }

    /// A 413 naming the body.
    pub fn payload_too_large(limit: usize) -> ApiError {
        let mut err = ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            format!("the body exceeds {limit} bytes"),
        );
        err.fields.push(FieldError {
            field: "body".into(),
            problem: format!("longer than {limit} bytes"),
        });
        err
    }

    /// A 415 naming the `Content-Type` header.
    pub fn unsupported_media_type(message: impl Into<String>, accepted: &str) -> ApiError {
        let mut err = ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            message,
        );
        err.fields.push(FieldError {
            field: "Content-Type".into(),
            problem: format!("must be {accepted}"),
        });
        err
    }

    /// A 422 naming one field.
    pub fn invalid_field(field: &str, problem: impl Into<String>) -> ApiError {
        let mut err = ApiError::bad_field(field, problem);
        err.status = StatusCode::UNPROCESSABLE_ENTITY;
        err.code = "validation_failed";
        err
    }

    /// A 404.
    pub fn not_found(what: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", what)
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    fields: &'a [FieldError],
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Body {
            error: Inner {
                code: self.code,
                message: &self.message,
                fields: &self.fields,
            },
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "validation_failed",
            message: "the lead has invalid fields".into(),
            fields: e
                .problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field,
                    problem: p.problem,
                })
                .collect(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        if let StoreError::InvalidArgument { what, reason } = &e {
            return ApiError::bad_field(what, reason.clone());
        }
        tracing::warn!(error = %e, "store error");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "storage is unavailable; retry shortly",
        )
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> ApiError {
        match e {
            EngineError::NotFound(id) => ApiError::not_found(format!("no lead {id}")),
            EngineError::UnknownRep(rep) => ApiError::not_found(format!("no rep {rep}")),
            EngineError::Store(s) => s.into(),
            EngineError::Contention => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "contention",
                "too many concurrent updates; retry shortly",
            ),
        }
    }
}
