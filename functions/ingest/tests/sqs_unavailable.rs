//! The ingest function when SQS fails, with the real `SqsQueue` (AWS SDK) against moto: a queue
//! that does not exist and an endpoint nobody listens on answer `503` with the machine-readable
//! error (`{"error":{"code":"unavailable",...}}`) and `Retry-After`; with an SQS that fails a
//! share of `SendMessage` calls (some before sending, some after SQS stored the message: the
//! response is lost), a client that retries on 503 with its Idempotency-Key gets every lead
//! answered `202`, and every lead answered `202` is in the queue.

use std::collections::HashSet;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aws_sdk_sqs::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_sqs::error::BoxError;
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use http_body_util::BodyExt;
use leadrouter_api::AppState;
use leadrouter_aws::moto::{moto, sdk};
use leadrouter_aws::{SqsQueue, create_queue_with_dlq};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::EmbeddedStore;
use leadrouter_ingest::{Deps, app};
use serde_json::Value;
use tower::ServiceExt;

const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

/// The ingest app over `queue` (the store is never touched at intake).
fn ingest(queue: Arc<dyn Queue>, dir: &tempfile::TempDir) -> Deps {
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    Deps {
        state: AppState {
            engine: Arc::new(Engine::new(store, cfg, Arc::new(SystemClock))),
            queue,
            default_country: None,
            sources: Arc::default(),
            metrics: Arc::default(),
            public_url: None,
            auth: leadrouter_api::ApiAuth::from_list("test-api-token-0123456789").expect("token"),
            configs: None,
        },
    }
}

/// The committed API Gateway v2 fixture with the lead's Idempotency-Key set to `key`.
fn gateway_request(key: &str) -> axum::http::Request<axum::body::Body> {
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/apigw-v2-post-lead.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event")
    .replace("\"form-42\"", &format!("\"{key}\""));
    lambda_http::request::from_str(&text)
        .expect("gateway event")
        .map(|b| axum::body::Body::from(b.to_vec()))
}

/// Posts the fixture; returns the status, the Retry-After header and the JSON body.
async fn post(deps: &Deps, key: &str) -> (u16, Option<String>, Value) {
    let response = app(deps)
        .oneshot(gateway_request(key))
        .await
        .expect("infallible");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (
        status,
        retry_after,
        serde_json::from_slice(&bytes).expect("json body"),
    )
}

fn assert_unavailable(status: u16, retry_after: Option<String>, body: &Value) {
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "unavailable", "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(retry_after.is_some(), "503 without Retry-After");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_that_does_not_exist_answers_503() {
    let moto = moto(false).await;
    let client = aws_sdk_sqs::Client::new(&sdk(&moto).await);
    let url = format!("{}/123456789012/no-such-queue", moto.url);
    let dir = tempfile::tempdir().expect("tempdir");
    let deps = ingest(Arc::new(SqsQueue::new(client, url)), &dir);
    let (status, retry_after, body) = post(&deps, "k-1").await;
    assert_unavailable(status, retry_after, &body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_endpoint_answers_503_in_bounded_time() {
    let moto = moto(false).await;
    // A port nobody listens on (bound, then released).
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let config = aws_sdk_sqs::config::Builder::from(&sdk(&moto).await)
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(50)),
        )
        .build();
    let url = format!("http://127.0.0.1:{port}/123456789012/intake");
    let dir = tempfile::tempdir().expect("tempdir");
    let deps = ingest(
        Arc::new(SqsQueue::new(aws_sdk_sqs::Client::from_conf(config), url)),
        &dir,
    );
    let started = Instant::now();
    let (status, retry_after, body) = post(&deps, "k-2").await;
    assert_unavailable(status, retry_after, &body);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

/// Fails every `every`-th `SendMessage`: alternately before it is sent (SQS never sees it) and
/// after SQS stored it (the response is replaced with a 500: the caller cannot know).
#[derive(Debug, Clone)]
struct FlakySend {
    every: usize,
    calls: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
    lost: Arc<AtomicUsize>,
}

/// Noted before sending: the request is gone by the time the response is there.
#[derive(Debug, Clone)]
struct LoseThisResponse(bool);

impl Storable for LoseThisResponse {
    type Storer = StoreReplace<Self>;
}

fn is_send(headers: &aws_smithy_runtime_api::http::Headers) -> bool {
    // SQS's JSON protocol names the operation in X-Amz-Target; the query protocol in the body.
    headers
        .get("x-amz-target")
        .is_some_and(|t| t.ends_with(".SendMessage"))
}

impl Intercept for FlakySend {
    fn name(&self) -> &'static str {
        "flaky-send"
    }

    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        cfg.interceptor_state().store_put(LoseThisResponse(false));
        if !is_send(ctx.request().headers()) {
            return Ok(());
        }
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n.is_multiple_of(self.every) {
            if (n / self.every) % 2 == 1 {
                self.dropped.fetch_add(1, Ordering::SeqCst);
                return Err("connection reset before the request was sent (injected)".into());
            }
            cfg.interceptor_state().store_put(LoseThisResponse(true));
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        ctx: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let lose = cfg.load::<LoseThisResponse>().is_some_and(|l| l.0);
        if lose && ctx.response().status().is_success() {
            self.lost.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::new(
                StatusCode::try_from(500u16)?,
                SdkBody::from("{\"__type\":\"InternalError\",\"message\":\"injected\"}"),
            );
            response
                .headers_mut()
                .insert("content-type", "application/x-amz-json-1.0");
            *ctx.response_mut() = response;
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_flaky_queue_every_lead_answered_202_is_in_the_queue() {
    const LEADS: usize = 30;
    let moto = moto(false).await;
    let sdk = sdk(&moto).await;
    let (url, _dlq) = create_queue_with_dlq(
        &aws_sdk_sqs::Client::new(&sdk),
        "intake",
        Duration::from_secs(30),
        5,
    )
    .await
    .expect("queue");
    let flaky = FlakySend {
        every: 3,
        calls: Arc::default(),
        dropped: Arc::default(),
        lost: Arc::default(),
    };
    // SDK retries off: each injected failure reaches the API (as once the SDK's retries are
    // spent); the API must answer 503 and the client retry.
    let client = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk)
            .interceptor(flaky.clone())
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let deps = ingest(Arc::new(SqsQueue::new(client, url.clone())), &dir);

    let mut accepted = HashSet::new();
    let mut unavailable = 0;
    for i in 0..LEADS {
        let key = format!("form-{i}");
        let mut answered = false;
        for _ in 0..5 {
            let (status, retry_after, body) = post(&deps, &key).await;
            if status == 202 {
                accepted.insert(body["id"].as_str().expect("id").to_owned());
                answered = true;
                break;
            }
            assert_unavailable(status, retry_after, &body);
            unavailable += 1;
        }
        assert!(answered, "lead {i} never accepted");
    }
    let (dropped, lost) = (
        flaky.dropped.load(Ordering::SeqCst),
        flaky.lost.load(Ordering::SeqCst),
    );
    eprintln!("{unavailable} answers 503 ({dropped} sends dropped, {lost} responses lost)");
    assert!(dropped > 0 && lost > 0, "both faults must have happened");
    assert_eq!(
        unavailable,
        dropped + lost,
        "every failed send answered 503"
    );
    assert_eq!(accepted.len(), LEADS, "one id per Idempotency-Key");

    // Everything answered 202 is in the queue (a lost response left a copy too: the router
    // routes an id once).
    let queue = SqsQueue::new(aws_sdk_sqs::Client::new(&sdk), url);
    let mut queued = HashSet::new();
    let mut messages = 0;
    loop {
        let batch = queue.receive(10, Duration::ZERO).await.expect("receive");
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let lead: Value = serde_json::from_str(&m.body).expect("lead json");
            queued.insert(lead["id"].as_str().expect("id").to_owned());
            messages += 1;
            queue.ack(&m.receipt).await.expect("ack");
        }
    }
    let missing: Vec<&String> = accepted.difference(&queued).collect();
    assert!(
        missing.is_empty(),
        "answered 202 but not queued: {missing:?}"
    );
    assert_eq!(
        messages,
        LEADS + lost,
        "a lost response leaves one extra copy"
    );
}
