//! `POST /v1/hooks/{source}`: a tool's native webhook payload in, verified, decoded, normalized,
//! onto the intake queue.
//!
//! Order matters: the signature is checked on the raw bytes before anything is parsed, and every
//! lead of a payload is normalized before any is queued, so a bad payload stores nothing.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use leadrouter_domain::config::{RoutingConfig, Source};
use leadrouter_domain::intake::{PayloadError, leads_from_payload};
use leadrouter_sources::{Auth, SourceError, verify};
use serde_json::json;
use tracing::{info, instrument, warn};
use uuid::Uuid;

use crate::error::FieldError;
use crate::{ApiError, AppState};

/// A configured source with its secrets resolved.
#[derive(Debug, Clone)]
pub struct ResolvedSource {
    /// The source's settings.
    pub source: Source,
    /// Its authentication, secrets included (never logged: `Auth`'s Debug redacts them).
    pub auth: Auth,
}

/// Resolves every source's secrets through `lookup` (the environment, or a secret store).
pub fn resolve_sources(
    cfg: &RoutingConfig,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, ResolvedSource>, String> {
    cfg.sources
        .iter()
        .map(|(name, s)| {
            let auth = s.resolve_auth(lookup)?;
            Ok((
                name.clone(),
                ResolvedSource {
                    source: s.clone(),
                    auth,
                },
            ))
        })
        .collect()
}

/// Per-source intake counters, served at `GET /v1/sources`.
#[derive(Debug, Default)]
pub struct IntakeMetrics {
    counters: Mutex<BTreeMap<String, Arc<SourceCounters>>>,
}

/// Counters of one source.
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Leads queued.
    pub accepted: AtomicU64,
    /// Requests refused for a missing, wrong or stale signature or key.
    pub unauthorized: AtomicU64,
    /// Requests refused as malformed or invalid.
    pub rejected: AtomicU64,
    /// Valid events that are not leads (cancellations, partial responses), acknowledged.
    pub ignored: AtomicU64,
}

impl IntakeMetrics {
    /// The counters of `source`, created on first use.
    pub fn source(&self, source: &str) -> Arc<SourceCounters> {
        let mut map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        map.entry(source.to_owned()).or_default().clone()
    }

    /// A snapshot of every counter.
    pub fn snapshot(&self) -> serde_json::Value {
        let map = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        map.iter()
            .map(|(k, c)| {
                let v = json!({
                    "accepted": c.accepted.load(Ordering::Relaxed),
                    "unauthorized": c.unauthorized.load(Ordering::Relaxed),
                    "rejected": c.rejected.load(Ordering::Relaxed),
                    "ignored": c.ignored.load(Ordering::Relaxed),
                });
                (k.clone(), v)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }
}

fn bump(c: &AtomicU64) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Maps a body-extraction failure (size limit) to the JSON error shape.
pub fn body_error(e: BytesRejection) -> ApiError {
    let status = e.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large(crate::MAX_BODY_BYTES)
    } else {
        let mut err = ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_body",
            "the body could not be read",
        );
        err.fields.push(FieldError {
            field: "body".into(),
            problem: "could not be read".into(),
        });
        err
    }
}

/// The body of an admin or rep route that takes JSON: `Content-Type: application/json` (415
/// otherwise, naming the header) and within the size limit (413, naming the body).
pub fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Bytes, ApiError> {
    let body = body.map_err(body_error)?;
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return Err(ApiError::unsupported_media_type(
            "send the body as JSON with `Content-Type: application/json`",
            "application/json",
        ));
    }
    Ok(body)
}

/// Handles one webhook delivery.
#[instrument(skip_all, fields(source = %name))]
pub async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let Some(src) = state.sources.get(&name) else {
        return Err(ApiError::not_found(format!(
            "source `{name}` is not configured"
        )));
    };
    let counters = state.metrics.source(&name);
    let body = body.map_err(|e| {
        bump(&counters.rejected);
        body_error(e)
    })?;
    let url = match &state.public_url {
        Some(base) => format!("{}{}", base.trim_end_matches('/'), uri),
        None => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("localhost");
            format!("https://{host}{uri}")
        }
    };
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    if let Err(e) = verify(
        &src.auth,
        method.as_str(),
        &url,
        &header_pairs,
        &body,
        state.engine.now(),
    ) {
        bump(&counters.unauthorized);
        warn!(reason = e.reason(), "webhook refused");
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            format!("signature check failed: {}", e.reason()),
        ));
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok());
    let cfg = state.engine.config();
    let leads = match leads_from_payload(
        &cfg,
        &name,
        content_type,
        &body,
        state.engine.now(),
        key,
        &|_| Uuid::now_v7(),
    ) {
        Ok(leads) => leads,
        Err(PayloadError::Source(SourceError::NotALead(what))) => {
            bump(&counters.ignored);
            return Ok((
                StatusCode::OK,
                axum::Json(json!({ "status": "ignored", "reason": what })),
            )
                .into_response());
        }
        Err(e) => {
            bump(&counters.rejected);
            return Err(with_position(payload_error(e), content_type, &body));
        }
    };
    let mut ids = Vec::with_capacity(leads.len());
    for lead in &leads {
        let msg = serde_json::to_string(lead).map_err(|_| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "could not encode the lead",
            )
        })?;
        state.queue.send(&msg).await?;
        bump(&counters.accepted);
        ids.push(lead.id);
    }
    info!(leads = ids.len(), "webhook accepted");
    let body = match ids.as_slice() {
        [one] => json!({ "id": one, "status": "queued" }),
        many => json!({ "ids": many, "status": "queued" }),
    };
    Ok((StatusCode::ACCEPTED, axum::Json(body)).into_response())
}

/// For a malformed JSON body, names the line and column where parsing failed.
fn with_position(mut err: ApiError, content_type: &str, body: &[u8]) -> ApiError {
    if err.code != "malformed_body" || !content_type.to_ascii_lowercase().contains("json") {
        return err;
    }
    if let Err(e) = serde_json::from_slice::<serde_json::Value>(body) {
        err.message = format!(
            "malformed JSON at line {} column {}: {e}",
            e.line(),
            e.column()
        );
        err.fields = vec![FieldError {
            field: "body".into(),
            problem: format!("line {} column {}", e.line(), e.column()),
        }];
    }
    err
}

fn payload_error(e: PayloadError) -> ApiError {
    let e = match e {
        PayloadError::Source(e) => e,
        PayloadError::UnknownSource(name) => {
            return ApiError::not_found(format!("source `{name}` is not configured"));
        }
        PayloadError::Invalid(problems) => {
            let mut err = ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "the payload has invalid fields",
            );
            err.fields = problems
                .into_iter()
                .map(|p| FieldError {
                    field: p.field,
                    problem: p.problem,
                })
                .collect();
            return err;
        }
    };
    match e {
        SourceError::UnsupportedContentType { tool, content_type } => {
            ApiError::unsupported_media_type(
                format!("{tool} payloads do not come as `{content_type}`"),
                &format!("the type {tool} sends"),
            )
        }
        SourceError::TooLarge => {
            let mut err = ApiError::payload_too_large(crate::MAX_BODY_BYTES);
            err.message = "the payload (or one of its parts) is too large".into();
            err
        }
        SourceError::Malformed(what) => {
            let mut err = ApiError::new(
                StatusCode::BAD_REQUEST,
                "malformed_body",
                format!("malformed payload: {what}"),
            );
            err.fields.push(FieldError {
                field: "body".into(),
                problem: what.into(),
            });
            err
        }
        other => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            other.to_string(),
        ),
    }
}

/// `GET /v1/sources`: the configured sources, their adapters, and their intake counters.
pub async fn list(State(state): State<AppState>) -> axum::Json<serde_json::Value> {
    let sources: Vec<_> = state
        .sources
        .values()
        .map(|s| json!({ "name": s.source.name, "adapter": s.source.adapter, "url": format!("/v1/hooks/{}", s.source.name) }))
        .collect();
    axum::Json(json!({ "sources": sources, "counters": state.metrics.snapshot() }))
}
