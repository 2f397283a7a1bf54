//! Reps: configuration joined with live state, and availability changes.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use leadrouter_domain::config::Rep;
use leadrouter_domain::engine::RepPatch;
use leadrouter_domain::routing::{Requirements, ineligibility};
use leadrouter_domain::state::{Availability, OutOfOffice, RepState};
use serde_json::{Value, json};

use crate::error::FieldError;
use crate::{ApiError, AppState};

fn view(rep: &Rep, state: &RepState, now: DateTime<Utc>) -> Value {
    let reasons = ineligibility(rep, state, &Requirements::default(), true, now);
    json!({
        "id": rep.id,
        "name": rep.name,
        "timezone": rep.timezone.name(),
        "status": state.availability.unwrap_or(rep.status),
        "available_now": reasons.is_empty(),
        "unavailable_because": reasons,
        "skills": rep.skills,
        "languages": rep.languages,
        "territories": rep.territories,
        "weight": rep.weight,
        "max_open_leads": rep.max_open_leads,
        "max_per_day": rep.max_per_day,
        "open_leads": state.open_leads,
        "assigned_today": state.assigned_on(now.with_timezone(&rep.timezone).date_naive()),
        "last_assigned_at": state.last_assigned_at,
        "out_of_office": state.out_of_office,
    })
}

/// `GET /v1/reps`: every rep with live counters and whether they can take a lead now.
pub async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let cfg = state.engine.config();
    let ids: Vec<String> = cfg.reps.iter().map(|r| r.id.clone()).collect();
    let states = state.engine.store().get_reps(&ids).await?;
    let now = state.engine.now();
    let reps: Vec<Value> = cfg
        .reps
        .iter()
        .zip(&states)
        .map(|(r, s)| view(r, s, now))
        .collect();
    Ok(axum::Json(json!({ "reps": reps })).into_response())
}

/// `GET /v1/reps/{id}`.
pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let cfg = state.engine.config();
    let rep = cfg
        .rep(&id)
        .ok_or_else(|| ApiError::not_found(format!("no rep {id}")))?;
    let mut states = state
        .engine
        .store()
        .get_reps(std::slice::from_ref(&id))
        .await?;
    let s = states.pop().unwrap_or_else(|| RepState::new(&id));
    Ok(axum::Json(view(rep, &s, state.engine.now())).into_response())
}

/// Most out-of-office ranges one rep may have (they are checked on every routing decision).
const MAX_OUT_OF_OFFICE: usize = 50;

struct PatchBody {
    status: Option<Availability>,
    out_of_office: Option<Vec<OutOfOffice>>,
}

/// Parses the PATCH body field by field, so every error names its field.
fn parse_patch(body: &[u8]) -> Result<PatchBody, ApiError> {
    let invalid = |field: &str, problem: String| {
        let mut err = ApiError::bad_field(field, problem);
        err.status = axum::http::StatusCode::UNPROCESSABLE_ENTITY;
        err.code = "validation_failed";
        err
    };
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| invalid("body", format!("malformed JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(invalid("body", "expected a JSON object".into()));
    };
    let mut out = PatchBody {
        status: None,
        out_of_office: None,
    };
    for (key, v) in map {
        match key.as_str() {
            "status" => {
                out.status = Some(
                    serde_json::from_value(v)
                        .map_err(|_| invalid("status", "`available` or `away`".into()))?,
                )
            }
            "out_of_office" => {
                out.out_of_office = Some(serde_json::from_value(v).map_err(|_| {
                    invalid(
                        "out_of_office",
                        "a list of {\"from\", \"until\"} RFC 3339 times".into(),
                    )
                })?)
            }
            other => {
                // The key is caller input: named only while it is short enough to be a name.
                let field = if other.chars().count() <= 64 {
                    other
                } else {
                    "body"
                };
                return Err(invalid(
                    field,
                    "unknown field (expected status, out_of_office)".into(),
                ));
            }
        }
    }
    Ok(out)
}

/// `PATCH /v1/reps/{id}` with `{"status": "away"|"available", "out_of_office": [{"from", "until"}]}`.
/// Live at once; waiting leads are handed out if the rep can now take them.
pub async fn patch(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let cfg = state.engine.config();
    let rep = cfg
        .rep(&id)
        .ok_or_else(|| ApiError::not_found(format!("no rep {id}")))?;
    let body = crate::hooks::json_body(&headers, body)?;
    let body = parse_patch(&body)?;
    if let Some(ranges) = &body.out_of_office {
        if ranges.len() > MAX_OUT_OF_OFFICE {
            return Err(ApiError::invalid_field(
                "out_of_office",
                format!("at most {MAX_OUT_OF_OFFICE} ranges"),
            ));
        }
        let bad: Vec<FieldError> = ranges
            .iter()
            .enumerate()
            .filter(|(_, r)| r.until <= r.from)
            .map(|(i, _)| FieldError {
                field: format!("out_of_office[{i}]"),
                problem: "`until` must be after `from`".into(),
            })
            .collect();
        if !bad.is_empty() {
            let mut err = ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "invalid out-of-office range",
            );
            err.fields = bad;
            return Err(err);
        }
    }
    let next = state
        .engine
        .update_rep(
            &id,
            RepPatch {
                availability: body.status,
                out_of_office: body.out_of_office,
            },
        )
        .await?;
    Ok(axum::Json(view(rep, &next, state.engine.now())).into_response())
}
