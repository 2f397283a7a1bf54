//! The ingest function: the same axum router as `leadrouter serve`, run by `lambda_http` for API
//! Gateway HTTP API and Function URL events. A lead is answered `202` only once the intake queue
//! (SQS) accepted it, and `503` with `Retry-After` when SQS fails, so forms and webhooks retry and
//! no lead answered `202` is lost.
//!
//! `main` (with the DynamoDB/SQS adapters) builds [`Deps`] once per cold start and hands
//! [`app`] to `lambda_http::run`; tests call [`app`] with real event JSON.

use leadrouter_api::AppState;

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// Engine, queue, sources with resolved secrets, counters.
    pub state: AppState,
}

/// The HTTP application served by the function.
pub fn app(deps: &Deps) -> axum::Router {
    leadrouter_api::router(deps.state.clone())
}
