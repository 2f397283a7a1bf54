//! The notifier handler with a real SQS event JSON: a subscribed event is posted (signed) to a
//! local webhook server, an unsubscribed one is acknowledged without a post, and a body that is
//! not an event is reported in `batchItemFailures` (retried, then dead-lettered), not dropped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_notifier::{Deps, handle};
use leadrouter_notify::{Backoff, Notifier, signature};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_subscribed_events_and_reports_bad_messages() {
    let got: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let sig = headers
                    .get(signature::HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                let ok = signature::verify("k", sig, &body, chrono_now(), 300).is_ok();
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let id = v["id"].as_str().unwrap_or_default().to_owned();
                sink.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push((id, ok));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });

    let cfg = RoutingConfig::parse(
        &format!(
            r#"
[[reps]]
id = "a"
[[pools]]
id = "sales"
members = ["a"]
strategy = "round_robin"
notify = {{ webhook_url = "http://{addr}/hook", webhook_secret = "ssm:/leadrouter/hook" }}
[[rules]]
name = "default"
pool = "sales"
"#
        ),
        Format::Toml,
        "t.toml",
    )
    .expect("config");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store");
    let events: Arc<dyn Queue> = Arc::new(store.queue("events", QueueConfig::default()));
    let deps = Deps {
        engine: Arc::new(Engine::new(Arc::new(store), cfg, Arc::new(SystemClock))),
        notifier: Notifier::new(Duration::from_secs(10)).expect("client"),
        secrets: Arc::new(|r: &str| (r == "ssm:/leadrouter/hook").then(|| "k".to_owned())),
        events,
        backoff: Backoff::default(),
    };
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/sqs-events.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    let event: SqsEvent = serde_json::from_str(&text).expect("a real SQS event");
    let response = handle(&deps, event).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["evt-2"],
        "only the body that is not an event fails"
    );
    let got = got.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        got,
        [("0193a000-0000-7000-8000-000000000001:2".to_owned(), true)],
        "the assigned event was posted once, signed; the accepted one was not subscribed"
    );
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
