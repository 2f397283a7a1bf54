//! The sweeper function: run by an EventBridge schedule (every minute), it runs
//! [`Engine::sweep`]: leads whose SLA deadline passed are reassigned or escalated by their
//! pool's procedure, leads of reps who went away move on, and leads waiting `unassigned` go to
//! reps who became eligible. Overdue leads are found through the store's `due` index, waiting
//! leads through the waiting index; never a scan.
//!
//! Safe to run twice at once: every move is a conditional write, so overlapping sweeps cannot
//! give a lead two owners or move it twice.
//!
//! Each sweep logs its counts as a CloudWatch Embedded Metric Format record (namespace
//! `leadrouter`: `SlaBreaches`, `Reassigned`, `Escalated`, `Released`, `Assigned`), which the
//! template's SLA-breach alarm watches; no metrics API call is made.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use leadrouter_domain::engine::{Engine, EngineError, SweepReport};
use serde_json::json;
use tracing::instrument;

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// The routing engine over the store.
    pub engine: Arc<Engine>,
}

/// One sweep. A store error fails the invocation; the next scheduled run retries.
#[instrument(skip_all, fields(event = event.id.as_deref().unwrap_or_default()))]
pub async fn handle(deps: &Deps, event: EventBridgeEvent) -> Result<SweepReport, EngineError> {
    let report = deps.engine.sweep().await?;
    // EMF goes to stdout as its own line (not through `tracing`, which would wrap it).
    println!("{}", emf(&report, deps.engine.now().timestamp_millis()));
    Ok(report)
}

/// The sweep's counts as a CloudWatch Embedded Metric Format record.
pub fn emf(report: &SweepReport, now_millis: i64) -> serde_json::Value {
    json!({
        "_aws": {
            "Timestamp": now_millis,
            "CloudWatchMetrics": [{
                "Namespace": "leadrouter",
                "Dimensions": [[]],
                "Metrics": [
                    {"Name": "SlaBreaches", "Unit": "Count"},
                    {"Name": "Reassigned", "Unit": "Count"},
                    {"Name": "Escalated", "Unit": "Count"},
                    {"Name": "Released", "Unit": "Count"},
                    {"Name": "Assigned", "Unit": "Count"}
                ]
            }]
        },
        "SlaBreaches": report.breaches,
        "Reassigned": report.reassigned,
        "Escalated": report.escalated,
        "Released": report.released,
        "Assigned": report.assigned,
    })
}

/// The function's life: [`Deps`] built once per cold start from the environment (the DynamoDB and
/// SQS adapters), then [`handle`] for every scheduled event. The `leadrouter-lambda` binary calls
/// it when the function's handler is `sweeper`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let aws = leadrouter_aws::env::from_env().await?;
    let deps = Deps { engine: aws.engine };
    let deps = &deps;
    // With the config in the table, a pushed version (new SLA settings, say) takes over here too.
    let watcher = aws.config_watcher.as_deref();
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<EventBridgeEvent>| async move {
            leadrouter_aws::env::refresh_config(watcher, &deps.engine).await;
            handle(deps, event.payload)
                .await
                .map_err(lambda_runtime::Error::from)
        },
    ))
    .await
}
