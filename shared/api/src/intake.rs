//! `POST /v1/leads`: JSON or HTML form in, canonical lead onto the intake queue, 202 out.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadrouter_lead::{Intake, Lead, derive_lead_id, normalize_form, normalize_json};
use tracing::instrument;
use uuid::Uuid;

use crate::{ApiError, AppState, MAX_BODY_BYTES};

/// The body types intake accepts.
const ACCEPTED: &str = "application/json or application/x-www-form-urlencoded";

/// Longest accepted `Idempotency-Key`.
const MAX_KEY_LEN: usize = 255;

/// Accepts a lead. Answers 202 only once the intake queue holds it durably; 503 otherwise, so
/// the form or webhook retries. The same `Idempotency-Key` (or source and `external_id`) always
/// maps to the same lead id, and the router stores each id once.
#[instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(crate::hooks::body_error)?;
    let lead = decode(&state, &headers, &body)?;
    let id = lead.id;
    let msg = serde_json::to_string(&lead).map_err(|_| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "could not encode the lead",
        )
    })?;
    state.queue.send(&msg).await?;
    tracing::info!(lead = %id, source = %lead.source, "lead accepted");
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, format!("/v1/leads/{id}"))],
        axum::Json(serde_json::json!({ "id": id, "status": "queued" })),
    )
        .into_response())
}

/// Decodes and normalizes a request body into a lead with its final id.
pub fn decode(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Lead, ApiError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large(MAX_BODY_BYTES));
    }
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= MAX_KEY_LEN => Some(k.trim().to_owned()),
            _ => {
                return Err(ApiError::bad_field(
                    "Idempotency-Key",
                    format!("must be 1 to {MAX_KEY_LEN} visible ASCII characters"),
                ));
            }
        },
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .unwrap_or_default();
    let mut intake = Intake {
        id: Uuid::now_v7(),
        received_at: state.engine.now(),
        source: String::new(),
        default_country: state.default_country.clone(),
        test: false,
        awaiting_enrichment: false,
    };
    let mut lead = match content_type.as_str() {
        "application/json" => {
            intake.source = "api".into();
            let value: serde_json::Value = serde_json::from_slice(body).map_err(|e| {
                let mut err = ApiError::new(
                    StatusCode::BAD_REQUEST,
                    "malformed_body",
                    format!(
                        "malformed JSON at line {} column {}: {e}",
                        e.line(),
                        e.column()
                    ),
                );
                err.fields.push(crate::error::FieldError {
                    field: "body".into(),
                    problem: format!("line {} column {}", e.line(), e.column()),
                });
                err
            })?;
            normalize_json(&value, &intake)?
        }
        "application/x-www-form-urlencoded" => {
            intake.source = "form".into();
            normalize_form(body, &intake).map_err(|e| form_error(e, body))?
        }
        "" => {
            return Err(ApiError::unsupported_media_type(
                "set Content-Type to application/json or application/x-www-form-urlencoded",
                ACCEPTED,
            ));
        }
        other => {
            // The value is echoed only if it looks like a media type (it is caller input).
            let shown = if other.len() <= 100 && other.bytes().all(|b| b.is_ascii_graphic()) {
                other
            } else {
                "this type"
            };
            return Err(ApiError::unsupported_media_type(
                format!(
                    "`{shown}` is not accepted; use application/json or application/x-www-form-urlencoded"
                ),
                ACCEPTED,
            ));
        }
    };
    if let Some(id) = derive_lead_id(&lead.source, key.as_deref(), lead.external_id.as_deref()) {
        lead.id = id;
    }
    Ok(lead)
}

/// Encoding problems in a form body are a malformed request (400, naming the field and the byte
/// offset of the first bad escape); anything else is a validation problem (422).
fn form_error(e: leadrouter_lead::ValidationError, body: &[u8]) -> ApiError {
    let is_encoding = |p: &str| p.contains("percent-encoding") || p.contains("UTF-8");
    if !e.problems.iter().any(|p| is_encoding(&p.problem)) {
        return e.into();
    }
    let offset = body.iter().enumerate().position(|(i, b)| {
        *b == b'%'
            && !(body.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && body.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    });
    let mut err = ApiError::new(
        StatusCode::BAD_REQUEST,
        "malformed_body",
        match offset {
            Some(at) => format!("malformed form body: bad percent-escape at byte {at}"),
            None => "malformed form body: a value is not valid UTF-8".to_owned(),
        },
    );
    err.fields = e
        .problems
        .into_iter()
        .filter(|p| is_encoding(&p.problem))
        .map(|p| crate::error::FieldError {
            field: p.field,
            problem: p.problem,
        })
        .collect();
    err
}
