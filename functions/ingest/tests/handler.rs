//! The ingest function with real API Gateway v2 (HTTP API) and Function URL events: a lead posted
//! through either is queued with a 202; an invalid one is refused with a 422 naming the field;
//! behind the gateway's authorizer (`LEADROUTER_API_AUTH=gateway`), admin routes are served to
//! the gateway's authorized events and refused to the function URL's.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use leadrouter_api::AppState;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_ingest::{Deps, app};
use serde_json::Value;
use tower::ServiceExt;

const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

async fn invoke(deps: &Deps, event_file: &str) -> (u16, Value) {
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/{event_file}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event");
    let request = lambda_http::request::from_str(&text).expect("a real API Gateway v2 event");
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let response = app(deps).oneshot(request).await.expect("infallible");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The function's dependencies over an embedded store in `dir`, and its intake queue, with API
/// tokens.
fn deps(dir: &tempfile::TempDir) -> (Deps, leadrouter_embedded::EmbeddedQueue) {
    deps_with(
        dir,
        leadrouter_api::ApiAuth::from_list("test-api-token-0123456789").expect("token"),
    )
}

fn deps_with(
    dir: &tempfile::TempDir,
    auth: leadrouter_api::ApiAuth,
) -> (Deps, leadrouter_embedded::EmbeddedQueue) {
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let queue = store.queue(
        "intake",
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 5,
        },
    );
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let deps = Deps {
        state: AppState {
            engine: Arc::new(Engine::new(store, cfg, Arc::new(SystemClock))),
            queue: Arc::new(queue.clone()),
            default_country: None,
            sources: Arc::default(),
            metrics: Arc::default(),
            public_url: None,
            auth,
            configs: None,
        },
    };
    (deps, queue)
}

#[tokio::test]
async fn gateway_events_queue_valid_leads_and_refuse_invalid_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (deps, queue) = deps(&dir);

    let (status, body) = invoke(&deps, "apigw-v2-post-lead.json").await;
    assert_eq!(status, 202, "{body}");
    let (again, body2) = invoke(&deps, "apigw-v2-post-lead.json").await;
    assert_eq!(
        (again, &body2["id"]),
        (202, &body["id"]),
        "the Idempotency-Key header gives the same lead"
    );
    let msgs = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(msgs.len(), 2);
    let lead: Value = serde_json::from_str(&msgs[0].body).expect("lead");
    assert_eq!(lead["id"], body["id"]);
    assert_eq!(
        (lead["country"].as_str(), lead["phone"].as_str()),
        (Some("US"), Some("+14155550132"))
    );
    assert_eq!(
        (lead["first_name"].as_str(), lead["last_name"].as_str()),
        (Some("Kim"), Some("Lee"))
    );

    let (status, body) = invoke(&deps, "apigw-v2-post-invalid-lead.json").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["fields"][0]["field"], "email");
    assert_eq!(
        queue
            .receive(10, Duration::ZERO)
            .await
            .expect("receive")
            .len(),
        0,
        "nothing queued"
    );
}

/// The deployed API serves the dashboard page at `/` too (the template routes `GET /` to this
/// function, public): static HTML with a restrictive CSP, and no data without a token.
#[tokio::test]
async fn gateway_serves_the_dashboard_page() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (deps, _queue) = deps(&dir);
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/apigw-v2-get-dashboard.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event");
    let request = lambda_http::request::from_str(&text).expect("a real API Gateway v2 event");
    let request = request.map(|body| axum::body::Body::from(body.to_vec()));
    let response = app(&deps).oneshot(request).await.expect("infallible");
    assert_eq!(response.status().as_u16(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("text/html; charset=utf-8")
    );
    assert!(headers.contains_key("content-security-policy"));
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let page = String::from_utf8_lossy(&bytes);
    assert!(page.contains("/v1/stats"), "the page reads the stats API");
    assert!(
        page.contains("Authorization"),
        "the page sends the typed token"
    );
}

/// `AdminAuth=IAM|JWT`: the function trusts API Gateway's authorizer, and only that. The same
/// admin request is served when its event carries the gateway's IAM or JWT authorizer context,
/// and refused (403, whatever `Authorization` header it brings) when it comes from the function
/// URL, which has none; the function URL still takes leads.
#[tokio::test]
async fn behind_the_gateway_admin_routes_need_its_authorizer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (deps, queue) = deps_with(&dir, leadrouter_api::ApiAuth::trust_gateway());

    let (status, body) = invoke(&deps, "function-url-post-lead.json").await;
    assert_eq!(status, 202, "{body}");
    let msgs = queue.receive(10, Duration::ZERO).await.expect("receive");
    assert_eq!(msgs.len(), 1, "the function URL's lead is queued");
    let lead: Value = serde_json::from_str(&msgs[0].body).expect("lead");
    assert_eq!(
        (lead["id"].as_str(), lead["phone"].as_str()),
        (body["id"].as_str(), Some("+49301234567"))
    );

    for event in ["apigw-v2-get-leads-iam.json", "apigw-v2-get-leads-jwt.json"] {
        let (status, body) = invoke(&deps, event).await;
        assert_eq!(status, 200, "{event}: {body}");
        assert!(body["leads"].is_array(), "{event}: {body}");
    }

    let (status, body) = invoke(&deps, "function-url-get-leads.json").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "forbidden");
    assert_eq!(body["error"]["fields"][0]["field"], "Authorization");
}

/// `AdminAuth=Token`: the function checks bearer tokens itself, so an admin request through the
/// function URL is answered as through the gateway: 401 with a wrong token, and the gateway's
/// authorizer context does not stand in for a token.
#[tokio::test]
async fn with_tokens_the_function_url_needs_a_valid_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (deps, _queue) = deps(&dir);
    for event in ["function-url-get-leads.json", "apigw-v2-get-leads-iam.json"] {
        let (status, body) = invoke(&deps, event).await;
        assert_eq!(status, 401, "{event}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized");
    }
}
