//! The router Lambda: `Deps` built once per cold start, then one SQS batch per invocation.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use leadrouter_router::{Deps, handle};

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    let aws = leadrouter_aws::env::from_env().await?;
    let deps = Deps {
        engine: aws.engine,
        config: aws.config_watcher,
    };
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(handle(deps, event.payload).await)
    }))
    .await
}
