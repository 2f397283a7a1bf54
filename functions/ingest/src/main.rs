//! The ingest Lambda: `Deps` built once per cold start, then the HTTP API per request.

use std::sync::Arc;

use lambda_http::Error;
use leadrouter_api::AppState;
use leadrouter_ingest::{Deps, app};

/// mimalloc rather than the system allocator: a lead's decoding, normalization and routing
/// make a few hundred small allocations (docs/benchmarks.md, "Fifth round: the allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    leadrouter_aws::env::init_json_logs();
    let aws = leadrouter_aws::env::from_env().await?;
    let config = aws.engine.config();
    // Webhook secrets are `ssm:/path` references, fetched from SSM Parameter Store once per cold
    // start (never environment variables); a missing one stops the cold start, naming the
    // reference, rather than refusing deliveries later.
    // The API tokens (an `ssm:/path` reference) are fetched in the same calls.
    let api_tokens = std::env::var("LEADROUTER_API_TOKENS").ok();
    let api_auth_mode = std::env::var("LEADROUTER_API_AUTH").ok();
    let mut references = leadrouter_aws::secrets::ssm_references(&config);
    references.extend(api_tokens.iter().map(|r| r.trim().to_owned()));
    let secrets = leadrouter_aws::secrets::for_references(references).await?;
    let sources =
        leadrouter_api::hooks::resolve_sources(&config, &|reference| secrets.lookup(reference))
            .map_err(Error::from)?;
    let auth = leadrouter_ingest::api_auth(
        api_tokens.as_deref(),
        api_auth_mode.as_deref(),
        &|reference| secrets.lookup(reference),
    )
    .map_err(Error::from)?;
    let deps = Deps {
        state: AppState {
            engine: aws.engine,
            queue: aws.queue,
            default_country: config.intake.default_country.clone(),
            sources: Arc::new(sources),
            metrics: Arc::default(),
            public_url: std::env::var("LEADROUTER_PUBLIC_URL").ok(),
            auth,
            // Config history is read with the admin CLI on AWS (`config history --table`).
            configs: None,
        },
    };
    lambda_http::run(app(&deps)).await
}
