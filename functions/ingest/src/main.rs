//! The ingest Lambda: `Deps` built once per cold start, then the HTTP API per request.

use std::sync::Arc;

use lambda_http::Error;
use leadrouter_api::AppState;
use leadrouter_ingest::{Deps, app};

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    let aws = leadrouter_aws::env::from_env().await?;
    let config = aws.engine.config();
    // Webhook secrets are `ssm:/path` references, fetched from SSM Parameter Store once per cold
    // start (never environment variables); a missing one stops the cold start, naming the
    // reference, rather than refusing deliveries later.
    let secrets = leadrouter_aws::secrets::for_config(&config).await?;
    let sources =
        leadrouter_api::hooks::resolve_sources(&config, &|reference| secrets.lookup(reference))
            .map_err(Error::from)?;
    let deps = Deps {
        state: AppState {
            engine: aws.engine,
            queue: aws.queue,
            default_country: config.intake.default_country.clone(),
            sources: Arc::new(sources),
            metrics: Arc::default(),
            public_url: std::env::var("LEADROUTER_PUBLIC_URL").ok(),
        },
    };
    lambda_http::run(app(&deps)).await
}
