//! The router function: one SQS event (a batch of intake messages) in, a partial batch response
//! out.
//!
//! [`run`] (with the DynamoDB/SQS adapters) builds [`Deps`] once per cold start; [`handle`] is
//! what each invocation runs, and what tests call with real SQS event JSON. Every message is
//! either routed (or found already routed: SQS delivers at least once) or reported in
//! `batchItemFailures`, so one bad or throttled message never fails or blocks its batch: SQS
//! retries only the failures, and moves a message that keeps failing to the dead-letter queue
//! after the queue's `maxReceiveCount`. Nothing is acknowledged that was not routed.
//!
//! With the routing config in the table, each batch starts with [`ConfigWatcher::refresh`]: the
//! config head is read at most every 10 s (by the engine's clock), and a pushed version is
//! compiled and swapped in before the batch is decided, so its decisions carry the new version.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use leadrouter_domain::config_store::ConfigWatcher;
use leadrouter_domain::engine::Engine;
use leadrouter_domain::worker::{self, MessageError};
use tracing::{error, info, instrument, warn};

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// The routing engine over the store.
    pub engine: Arc<Engine>,
    /// With the config in the table: checked before each batch (it reads the table's config head
    /// at most every few seconds) so a pushed version takes over on a warm instance.
    pub config: Option<Arc<ConfigWatcher>>,
}

/// Routes one SQS batch. Messages without an id or body are reported as failures (they cannot
/// be acknowledged individually otherwise).
#[instrument(skip_all, fields(messages = event.records.len()))]
pub async fn handle(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    if let Some(watcher) = &deps.config {
        match watcher.refresh(&deps.engine).await {
            Ok(Some(version)) => info!(config_version = version, "switched to a pushed config"),
            Ok(None) => {}
            // Routing goes on with the config it has; the next check tries again (an invalid
            // document only once the head moves again).
            Err(e) => warn!(error = %e, "config check failed; routing with the running config"),
        }
    }
    let mut failures = Vec::new();
    let mut ids = Vec::with_capacity(event.records.len());
    let mut bodies = Vec::with_capacity(event.records.len());
    for record in &event.records {
        match (&record.message_id, &record.body) {
            (Some(id), Some(body)) => {
                ids.push(id.clone());
                bodies.push(body.as_str());
            }
            (Some(id), None) => {
                error!(message_id = %id, "message without a body");
                failures.push(id.clone());
            }
            (None, _) => error!("message without an id; cannot report it"),
        }
    }
    let results = worker::handle_batch(&deps.engine, &bodies).await;
    let mut routed = 0;
    for (id, result) in ids.into_iter().zip(results) {
        match result {
            Ok(r) => routed += r.len(),
            Err(MessageError::Invalid(reason)) => {
                // Retrying will not help; failing it lets the redrive policy move it to the
                // dead-letter queue after maxReceiveCount, where it can be inspected and redriven.
                error!(message_id = %id, %reason, "unprocessable message");
                failures.push(id);
            }
            Err(MessageError::Engine(e)) => {
                warn!(message_id = %id, error = %e, "routing failed, SQS will retry");
                failures.push(id);
            }
        }
    }
    info!(routed, failed = failures.len(), "batch done");
    // Everything routed, nothing reported to Lambda yet: a crash here redelivers the whole batch.
    #[cfg(feature = "failpoints")]
    fail::fail_point!("router::before_response");
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failures
        .into_iter()
        .map(|id| {
            let mut f = BatchItemFailure::default();
            f.item_identifier = id;
            f
        })
        .collect();
    response
}

/// The function's life: [`Deps`] built once per cold start from the environment (the DynamoDB and
/// SQS adapters), then [`handle`] for every SQS batch. The `leadrouter-lambda` binary calls it when
/// the function's handler is `router`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let aws = leadrouter_aws::env::from_env().await?;
    let deps = Deps {
        engine: aws.engine,
        config: aws.config_watcher,
    };
    let deps = &deps;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(handle(deps, event.payload).await)
        },
    ))
    .await
}
