//! The router Lambda: `Deps` built once per cold start, then one SQS batch per invocation.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use leadrouter_router::{Deps, handle};

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
