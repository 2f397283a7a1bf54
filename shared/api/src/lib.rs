//! leadrouter's HTTP API, v1. One axum [`router`] serves the local binary and (through
//! `lambda_http`) the ingest Lambda.
//!
//! - [`intake`]: `POST /v1/leads`, decoding JSON and form bodies into the canonical lead and
//!   handing it to the intake queue (202 once the queue has it).
//! - [`leads`]: reading leads and rep actions on them (accept, claim), pool queues.
//! - [`reps`]: reps with their live state; availability changes.
//! - [`hooks`]: `POST /v1/hooks/{source}`, each tool's native webhook, authenticated by its own
//!   signature scheme.
//! - [`error`]: the one JSON error shape.

pub mod config;
pub mod error;
pub mod experiments;
pub mod hooks;
pub mod intake;
pub mod leads;
pub mod reps;
pub mod shadow;
pub mod stats;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::Queue;
use tower_http::catch_panic::CatchPanicLayer;

pub use error::ApiError;

/// Largest request body accepted (413 beyond). Lead forms are a few KiB.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The routing engine (store, config, clock).
    pub engine: Arc<Engine>,
    /// The intake queue leads are sent to.
    pub queue: Arc<dyn Queue>,
    /// Country hint for phone numbers of leads that name no country.
    pub default_country: Option<String>,
    /// Webhook sources with their secrets resolved.
    pub sources: Arc<std::collections::BTreeMap<String, hooks::ResolvedSource>>,
    /// Intake counters per source.
    pub metrics: Arc<hooks::IntakeMetrics>,
    /// The public base URL (`https://leads.example.com`) the tools call; signature schemes that
    /// sign the URL (HubSpot v3) need it behind proxies. Defaults to `https://` + Host.
    pub public_url: Option<String>,
}

/// The v1 API.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/healthz", get(health))
        .route("/v1/leads", post(intake::create).get(leads::list))
        .route("/v1/leads/{id}", get(leads::get))
        .route("/v1/leads/{id}/{action}", post(leads::act))
        .route("/v1/leads/{id}/claim", post(leads::claim))
        .route("/v1/pools/{id}/queue", get(leads::pool_queue))
        .route("/v1/hooks/{source}", post(hooks::receive))
        .route("/v1/sources", get(hooks::list))
        .route("/v1/reps", get(reps::list))
        .route("/v1/reps/{id}", get(reps::get).patch(reps::patch))
        .route("/v1/experiments/{id}", get(experiments::get))
        .route("/v1/shadow", get(shadow::report))
        .route("/v1/stats", get(stats::get))
        .fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // A panic is a bug; the caller still gets the JSON error shape, and the process lives on.
        .layer(CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            ))
        }))
        .with_state(state)
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}
