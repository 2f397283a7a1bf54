//! The sweeper function: run by an EventBridge schedule (every minute), it hands out leads that
//! wait `unassigned` to reps who became eligible (a shift started, a daily cap reset). It finds
//! them through the store's waiting-leads index, never a scan. The SLA pass (reassigning leads
//! nobody acted on) joins it with the SLA work.
//!
//! Safe to run twice at once: every reassignment is a conditional write, so overlapping sweeps
//! cannot give a lead two owners.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use leadrouter_domain::engine::{Engine, EngineError};
use serde::Serialize;
use tracing::{info, instrument};

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// The routing engine over the store.
    pub engine: Arc<Engine>,
}

/// What a sweep did (the function's result, visible in its logs and invocation output).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// Waiting leads that got an owner.
    pub assigned: usize,
}

/// One sweep. A store error fails the invocation; the next scheduled run retries.
#[instrument(skip_all, fields(event = event.id.as_deref().unwrap_or_default()))]
pub async fn handle(deps: &Deps, event: EventBridgeEvent) -> Result<SweepReport, EngineError> {
    let assigned = deps.engine.retry_waiting().await?;
    info!(assigned, scheduled_for = ?event.time, "sweep done");
    Ok(SweepReport { assigned })
}
