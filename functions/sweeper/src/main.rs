//! The sweeper Lambda: `Deps` built once per cold start, then one sweep per scheduled event.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use leadrouter_sweeper::{Deps, handle};

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    let aws = leadrouter_aws::env::from_env().await?;
    let deps = Deps { engine: aws.engine };
    let deps = &deps;
    // With the config in the table, a pushed version (new SLA settings, say) takes over here too.
    let watcher = aws.config_watcher.as_deref();
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<EventBridgeEvent>| async move {
            leadrouter_aws::env::refresh_config(watcher, &deps.engine).await;
            handle(deps, event.payload).await.map_err(Error::from)
        },
    ))
    .await
}
