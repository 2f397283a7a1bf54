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
//! - [`routes`]: the route table the router is built from; [`auth`]: API tokens for every
//!   route that is not intake, health, the dashboard or the OpenAPI document.

pub mod auth;
pub mod config;
pub mod error;
pub mod experiments;
pub mod hooks;
pub mod intake;
pub mod leads;
pub mod reps;
pub mod routes;
pub mod shadow;
pub mod stats;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::routing::{MethodRouter, on};
use leadrouter_domain::config_store::ConfigStore;
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::Queue;
use tower_http::catch_panic::CatchPanicLayer;

pub use auth::{ApiAuth, GatewayAuthorized};
pub use error::ApiError;
use routes::{Endpoint, ROUTES};

/// The OpenAPI 3.1 document of this API (`docs/openapi.json`), served at `GET /v1/openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../../../docs/openapi.json");

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
    /// How admin and rep routes authenticate callers ([`auth`]).
    pub auth: ApiAuth,
    /// The versioned config store behind `GET /v1/config/*` (`None`: those routes answer 501).
    pub configs: Option<Arc<dyn ConfigStore>>,
}

/// The v1 API: every route of [`routes::ROUTES`] but the dashboard (the local binary adds `GET /`),
/// behind the token check for the secured ones.
pub fn router(state: AppState) -> Router {
    let mut by_path: Vec<(&'static str, MethodRouter<AppState>)> = Vec::new();
    for route in ROUTES {
        // The table's methods are constants: a typo there fails the route-table test.
        let Ok(method) = route.method.parse::<axum::http::Method>() else {
            continue;
        };
        let Ok(filter) = axum::routing::MethodFilter::try_from(method) else {
            continue;
        };
        let handler = endpoint(route.endpoint, filter);
        match by_path.iter_mut().find(|(p, _)| *p == route.path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => by_path.push((route.path, handler)),
        }
    }
    let mut app = Router::new();
    for (path, handler) in by_path {
        app = app.route(path, handler);
    }
    app.fallback(|| async { ApiError::not_found("no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "method not allowed on this route",
            )
        })
        // Inside the body limit and the panic catcher, after routing: the middleware sees the
        // matched path and looks its access up in the table.
        .layer(axum::middleware::from_fn_with_state(
            state.auth.clone(),
            auth::require_token,
        ))
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

/// The handler of each endpoint.
/// A `match` without a wildcard: a new endpoint does not compile until it is served here.
fn endpoint(e: Endpoint, f: axum::routing::MethodFilter) -> MethodRouter<AppState> {
    match e {
        Endpoint::Dashboard => on(f, dashboard),
        Endpoint::Health => on(f, health),
        Endpoint::OpenApi => on(f, openapi),
        Endpoint::CreateLead => on(f, intake::create),
        Endpoint::ListLeads => on(f, leads::list),
        Endpoint::GetLead => on(f, leads::get),
        Endpoint::LeadAction => on(f, leads::act),
        Endpoint::ClaimLead => on(f, leads::claim),
        Endpoint::PoolQueue => on(f, leads::pool_queue),
        Endpoint::Hook => on(f, hooks::receive),
        Endpoint::Sources => on(f, hooks::list),
        Endpoint::ListReps => on(f, reps::list),
        Endpoint::GetRep => on(f, reps::get),
        Endpoint::PatchRep => on(f, reps::patch),
        Endpoint::Experiment => on(f, experiments::get),
        Endpoint::Shadow => on(f, shadow::report),
        Endpoint::Stats => on(f, stats::get),
        Endpoint::ConfigHistory => on(f, config::history),
        Endpoint::ConfigVersion => on(f, config::version),
    }
}

async fn health() -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({ "status": "ok" }))
}

async fn openapi() -> impl axum::response::IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON)
}

/// The dashboard page (plain HTML and JS, no build step): live leads, reps with availability
/// toggles, distribution and speed-to-lead charts, an experiment's result, a demo lead form. It
/// holds no data: it reads the same v1 API with the token typed into it (a bearer token), so it
/// is public on `leadrouter serve` and on the deployed API alike.
const DASHBOARD: &str = include_str!("dashboard.html");

/// `GET /`: the dashboard.
async fn dashboard() -> impl axum::response::IntoResponse {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'",
            ),
        ],
        DASHBOARD,
    )
}
