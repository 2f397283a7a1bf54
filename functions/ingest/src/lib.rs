//! The ingest function: the same axum router as `leadrouter serve`, run by `lambda_http` for API
//! Gateway HTTP API and Function URL events. A lead is answered `202` only once the intake queue
//! (SQS) accepted it, and `503` with `Retry-After` when SQS fails, so forms and webhooks retry and
//! no lead answered `202` is lost.
//!
//! [`run`] (with the DynamoDB/SQS adapters) builds [`Deps`] once per cold start and hands
//! [`app`] to `lambda_http::run`; tests call [`app`] with real event JSON.

use axum::extract::Request;
use lambda_http::request::RequestContext;
use leadrouter_api::{ApiAuth, AppState, GatewayAuthorized};

/// What every invocation needs, built once per cold start.
pub struct Deps {
    /// Engine, queue, sources with resolved secrets, counters.
    pub state: AppState,
}

/// The HTTP application served by the function: the API, with each request marked
/// [`GatewayAuthorized`] when API Gateway's authorizer passed it.
pub fn app(deps: &Deps) -> axum::Router {
    leadrouter_api::router(deps.state.clone())
        .layer(axum::middleware::map_request(mark_gateway_authorized))
}

/// Marks a request whose event says API Gateway's IAM or JWT authorizer authenticated it. The
/// request context is written by the gateway, not the caller; events from the function's URL
/// (`AuthType: NONE`) have no authorizer, so they are never marked and, with
/// `LEADROUTER_API_AUTH=gateway`, reach only the public routes.
async fn mark_gateway_authorized(mut req: Request) -> Request {
    if authorized_by_gateway(req.extensions().get::<RequestContext>()) {
        req.extensions_mut().insert(GatewayAuthorized);
    }
    req
}

fn authorized_by_gateway(context: Option<&RequestContext>) -> bool {
    match context {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx
            .authorizer
            .as_ref()
            .is_some_and(|a| a.jwt.is_some() || a.iam.is_some()),
        _ => false,
    }
}

/// How the function authenticates admin and rep routes, from `LEADROUTER_API_TOKENS` (`tokens`)
/// and `LEADROUTER_API_AUTH` (`mode`), with `lookup` resolving `ssm:/path` references:
///
/// - tokens `ssm:/path`: the SecureString at that path holds the comma-separated tokens (never
///   the environment: the function's configuration is readable by anyone who can describe it);
/// - mode `gateway`: API Gateway's IAM or JWT authorizer authenticates callers before a request
///   reaches the function (the SAM template with `AdminAuth=IAM|JWT`, where the authorizer
///   consumes the `Authorization` header); secured routes are served only to requests the
///   event marks as authorized ([`app`]), so the function URL cannot reach them.
///
/// Anything else stops the cold start with the reason, rather than serving admin routes open.
pub fn api_auth(
    tokens: Option<&str>,
    mode: Option<&str>,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<ApiAuth, String> {
    let tokens = tokens.map(str::trim).filter(|t| !t.is_empty());
    match (tokens, mode.map(str::trim).filter(|m| !m.is_empty())) {
        (None, Some("gateway")) => Ok(ApiAuth::trust_gateway()),
        (Some(_), Some("gateway")) => Err("LEADROUTER_API_TOKENS and LEADROUTER_API_AUTH=gateway \
             exclude each other: the gateway's authorizer takes the Authorization header"
            .into()),
        (_, Some(other)) => Err(format!(
            "LEADROUTER_API_AUTH is `{other}`; the only value is `gateway`"
        )),
        (None, None) => Err(
            "no API authentication: set LEADROUTER_API_TOKENS to an ssm:/path \
             reference holding the tokens, or LEADROUTER_API_AUTH=gateway behind an IAM or JWT \
             authorizer"
                .into(),
        ),
        (Some(reference), None) => {
            if !reference.starts_with("ssm:") {
                return Err(
                    "LEADROUTER_API_TOKENS must be an ssm:/path reference on AWS, \
                     not the tokens themselves"
                        .into(),
                );
            }
            let list = lookup(reference)
                .ok_or_else(|| format!("{reference} (LEADROUTER_API_TOKENS) is not set"))?;
            ApiAuth::from_list(&list).map_err(|e| format!("{reference}: {e}"))
        }
    }
}

/// The function's life: [`Deps`] built once per cold start from the environment (the DynamoDB and
/// SQS adapters), then the HTTP API for every request. The `leadrouter-lambda` binary calls it when
/// the function's handler is `ingest`.
pub async fn run() -> Result<(), lambda_http::Error> {
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
            .map_err(lambda_http::Error::from)?;
    let auth = api_auth(
        api_tokens.as_deref(),
        api_auth_mode.as_deref(),
        &|reference| secrets.lookup(reference),
    )
    .map_err(lambda_http::Error::from)?;
    let deps = Deps {
        state: AppState {
            engine: aws.engine,
            queue: aws.queue,
            default_country: config.intake.default_country.clone(),
            sources: std::sync::Arc::new(sources),
            metrics: std::sync::Arc::default(),
            public_url: std::env::var("LEADROUTER_PUBLIC_URL").ok(),
            auth,
            // Config history is read with the admin CLI on AWS (`config history --table`).
            configs: None,
        },
    };
    lambda_http::run(app(&deps)).await
}

#[cfg(test)]
mod tests {
    use super::api_auth;

    fn ssm(reference: &str) -> Option<String> {
        (reference == "ssm:/leadrouter/api-tokens").then(|| "a-token-from-ssm-0123456789".into())
    }

    #[test]
    fn tokens_come_from_ssm_or_the_gateway_authenticates() {
        let auth = api_auth(Some("ssm:/leadrouter/api-tokens"), None, &ssm).expect("tokens");
        assert!(auth.accepts("a-token-from-ssm-0123456789"));
        assert!(!auth.accepts("anything-else-0123456789"));
        assert!(api_auth(None, Some("gateway"), &ssm).is_ok());
        for (tokens, mode, why) in [
            (None, None, "no API authentication"),
            (Some("ssm:/leadrouter/missing"), None, "is not set"),
            (Some("plain-token-0123456789"), None, "must be an ssm:/path"),
            (
                Some("ssm:/leadrouter/api-tokens"),
                Some("gateway"),
                "exclude each other",
            ),
            (None, Some("open"), "the only value"),
        ] {
            let err = api_auth(tokens, mode, &ssm).expect_err(why);
            assert!(err.contains(why), "{err}");
            assert!(!err.contains("a-token-from-ssm"), "{err}");
        }
    }
}
