//! The notifier Lambda: `Deps` built once per cold start, then one SQS batch of events per
//! invocation.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use leadrouter_notifier::{Deps, handle};
use leadrouter_notify::{Backoff, Notifier};

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    let aws = leadrouter_aws::env::from_env().await?;
    let events = aws
        .events
        .clone()
        .ok_or("LEADROUTER_EVENTS_QUEUE_URL is not set")?;
    let secrets = leadrouter_aws::secrets::for_config(&aws.engine.config()).await?;
    let deps = Deps {
        engine: aws.engine,
        notifier: Notifier::new(Duration::from_secs(10))?,
        secrets: Arc::new(move |reference: &str| secrets.lookup(reference)),
        events,
        backoff: Backoff::default(),
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle(deps, event.payload).await)
    }))
    .await
}
