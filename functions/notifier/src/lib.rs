//! The notifier function: one SQS event from the outbound events queue in, a partial batch
//! response out.
//!
//! Each record is a lead event ([`leadrouter_notify::LeadEvent`]); it is delivered to its pool's
//! webhooks. A failed delivery is made visible again after an exponential backoff (by changing
//! the message's visibility, from its receive count) and reported in `batchItemFailures`, so
//! SQS retries only it; after the queue's `maxReceiveCount` it moves to the events dead-letter
//! queue. Routing never waits for any of this: it only sends to the queue.

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::Queue;
use leadrouter_notify::deliver::Secrets;
use leadrouter_notify::{Backoff, Notifier};
use tracing::{info, instrument, warn};

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// The engine: the routing config (pools' webhook settings) and the clock.
    pub engine: Arc<Engine>,
    /// The HTTP client.
    pub notifier: Notifier,
    /// Secret references (`ssm:/path`) resolved at cold start.
    pub secrets: Arc<Secrets>,
    /// The events queue, to delay a failed message's retry.
    pub events: Arc<dyn Queue>,
    /// Retry delays.
    pub backoff: Backoff,
}

/// Delivers one SQS batch of events.
#[instrument(skip_all, fields(messages = event.records.len()))]
pub async fn handle(deps: &Deps, event: SqsEvent) -> SqsBatchResponse {
    let cfg = deps.engine.config();
    let now = deps.engine.now().timestamp();
    let mut failures = Vec::new();
    let mut posts = 0;
    for record in &event.records {
        let Some(id) = record.message_id.clone() else {
            warn!("event message without an id; cannot report it");
            continue;
        };
        let body = record.body.as_deref().unwrap_or_default();
        match leadrouter_notify::handle(&deps.notifier, &cfg, &*deps.secrets, body, now).await {
            Ok(n) => posts += n,
            Err(e) => {
                let receives = record
                    .attributes
                    .get("ApproximateReceiveCount")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                let delay = deps.backoff.delay(receives);
                warn!(message_id = %id, receives, error = %e, ?delay, "delivery failed, will retry");
                if let Some(receipt) = &record.receipt_handle
                    && let Err(e) = deps.events.release(receipt, delay).await
                {
                    // The queue's visibility timeout retries it instead.
                    warn!(message_id = %id, error = %e, "could not delay the retry");
                }
                failures.push(id);
            }
        }
    }
    info!(posts, failed = failures.len(), "events delivered");
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
/// SQS adapters), then [`handle`] for every SQS batch of lead events. The `leadrouter-lambda`
/// binary calls it when the function's handler is `notifier`.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    let aws = leadrouter_aws::env::from_env().await?;
    let events = aws
        .events
        .clone()
        .ok_or("LEADROUTER_EVENTS_QUEUE_URL is not set")?;
    let secrets = leadrouter_aws::secrets::for_config(&aws.engine.config()).await?;
    let deps = Deps {
        engine: aws.engine,
        notifier: Notifier::new(std::time::Duration::from_secs(10))?,
        secrets: Arc::new(move |reference: &str| secrets.lookup(reference)),
        events,
        backoff: Backoff::default(),
    };
    let deps = &deps;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<SqsEvent>| async move {
            Ok::<_, lambda_runtime::Error>(handle(deps, event.payload).await)
        },
    ))
    .await
}
