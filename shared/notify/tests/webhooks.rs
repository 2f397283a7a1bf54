//! The notifier against a real local HTTP server: signed JSON webhooks verify, a failing
//! endpoint is retried with backoff until it answers, Slack gets its text, and a webhook that
//! hangs does not hold up routing (routing only sends to the events queue).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, Routed};
use leadrouter_domain::events::LeadEvent;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_lead::Lead;
use leadrouter_notify::deliver::Secrets;
use leadrouter_notify::signature;
use leadrouter_notify::{Backoff, Notifier};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

const SECRET: &str = "whsec-test";

/// What the receiving server saw.
#[derive(Default)]
struct Seen {
    /// Requests to /hook, including failed ones.
    hook_requests: usize,
    /// Event ids accepted (signature valid), with their types.
    delivered: Vec<(String, String)>,
    /// Signatures that did not verify.
    bad_signatures: usize,
    /// Slack texts.
    slack: Vec<String>,
    /// Requests to /hang.
    hang_requests: usize,
}

#[derive(Clone)]
struct Server {
    seen: Arc<Mutex<Seen>>,
    /// /hook answers 500 to this many requests first.
    fail_first: usize,
    /// /hang waits for this before answering.
    release: Arc<Notify>,
}

fn seen(s: &Server) -> std::sync::MutexGuard<'_, Seen> {
    s.seen.lock().unwrap_or_else(|e| e.into_inner())
}

async fn hook(State(s): State<Server>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut seen = seen(&s);
    seen.hook_requests += 1;
    if seen.hook_requests <= s.fail_first {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let header = headers
        .get(signature::HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let now = chrono::Utc::now().timestamp();
    if signature::verify(SECRET, header, &body, now, 300).is_err() {
        seen.bad_signatures += 1;
        return StatusCode::UNAUTHORIZED;
    }
    let event: LeadEvent = match serde_json::from_slice(&body) {
        Ok(e) => e,
        Err(_) => return StatusCode::BAD_REQUEST,
    };
    let id_header = headers
        .get("x-leadrouter-event-id")
        .and_then(|v| v.to_str().ok());
    assert_eq!(id_header, Some(event.id.as_str()), "event id header");
    seen.delivered.push((event.id, event.kind));
    StatusCode::OK
}

async fn slack(State(s): State<Server>, body: Bytes) -> StatusCode {
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    let text = v["text"].as_str().unwrap_or_default().to_owned();
    seen(&s).slack.push(text);
    StatusCode::OK
}

async fn hang(State(s): State<Server>) -> StatusCode {
    seen(&s).hang_requests += 1;
    s.release.notified().await;
    StatusCode::OK
}

async fn start_server(fail_first: usize) -> (String, Server) {
    let server = Server {
        seen: Arc::default(),
        fail_first,
        release: Arc::new(Notify::new()),
    };
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .route("/slack", post(slack))
        .route("/hang", post(hang))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), server)
}

fn config(base: &str, hook_path: &str) -> RoutingConfig {
    let src = format!(
        r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[pools]]
id = "sales"
members = ["a", "b"]
strategy = "round_robin"
sla = {{ accept_within = "15m" }}
notify = {{ slack_webhook = "env:SLACK_URL", webhook_url = "{base}{hook_path}", webhook_secret = "env:HOOK_SECRET", events = ["assigned", "reassigned"] }}
[[rules]]
name = "default"
pool = "sales"
"#
    );
    RoutingConfig::parse(&src, Format::Toml, "t.toml").expect("config")
}

struct Running {
    engine: Arc<Engine>,
    stop: watch::Sender<bool>,
    _dir: tempfile::TempDir,
}

/// An engine sending events to an embedded events queue, and the notifier consuming it.
fn start(cfg: RoutingConfig, base: &str) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store");
    let events: Arc<dyn Queue> = Arc::new(store.queue(
        "events",
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 50,
        },
    ));
    let engine = Arc::new(
        Engine::new(Arc::new(store), cfg, Arc::new(SystemClock)).with_events(events.clone()),
    );
    let slack_url = format!("{base}/slack");
    let secrets: Arc<Secrets> = Arc::new(move |reference: &str| match reference {
        "env:SLACK_URL" => Some(slack_url.clone()),
        "env:HOOK_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    });
    let (stop, stop_rx) = watch::channel(false);
    tokio::spawn(leadrouter_notify::run(
        Notifier::new(Duration::from_secs(30)).expect("client"),
        engine.clone(),
        events,
        secrets,
        Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(100),
        },
        stop_rx,
    ));
    Running {
        engine,
        stop,
        _dir: dir,
    }
}

fn lead() -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: chrono::Utc::now(),
        source: "api".into(),
        score: Some(42.0),
        ..Lead::default()
    }
}

/// Waits (bounded) until `done` holds; the bound is a hang guard, not a timing assertion.
async fn eventually(server: &Server, done: impl Fn(&Seen) -> bool) {
    for _ in 0..1_000 {
        if done(&seen(server)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("condition not reached within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_webhooks_are_delivered_once_each_and_failures_are_retried() {
    let (base, server) = start_server(3).await;
    let run = start(config(&base, "/hook"), &base);
    let mut ids = Vec::new();
    for _ in 0..5 {
        let l = lead();
        ids.push(l.id);
        let routed = run.engine.ingest(l).await.expect("routed");
        assert!(matches!(routed, Routed::Assigned { .. }), "{routed:?}");
    }
    eventually(&server, |s| s.delivered.len() >= 5).await;
    let s = seen(&server);
    assert_eq!(s.bad_signatures, 0, "every signature verifies");
    assert!(
        s.hook_requests >= 8,
        "three failures were retried: {}",
        s.hook_requests
    );
    let delivered: BTreeSet<String> = s.delivered.iter().map(|(id, _)| id.clone()).collect();
    let expected: BTreeSet<String> = ids.iter().map(|id| format!("{id}:1")).collect();
    assert_eq!(delivered, expected, "one assigned event per lead, by id");
    assert!(s.delivered.iter().all(|(_, kind)| kind == "assigned"));
    assert!(s.slack.len() >= 5, "slack got the events");
    assert!(
        s.slack
            .iter()
            .all(|t| t.contains("assigned") && t.contains("in `sales`") && t.contains("accept by")),
        "{:?}",
        s.slack
    );
    // Only subscribed types: an accept is an event on the queue but not delivered.
    drop(s);
    let _ = run.stop.send(true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_does_not_hold_up_routing() {
    let (base, server) = start_server(0).await;
    let run = start(config(&base, "/hang"), &base);
    let first = run.engine.ingest(lead()).await.expect("routed");
    assert!(matches!(first, Routed::Assigned { .. }));
    // The notifier is now stuck on its first delivery, which never answers.
    eventually(&server, |s| s.hang_requests == 1).await;
    for _ in 0..50 {
        let routed = run.engine.ingest(lead()).await.expect("routed");
        assert!(
            matches!(routed, Routed::Assigned { .. }),
            "routing goes on: {routed:?}"
        );
    }
    assert_eq!(
        seen(&server).hang_requests,
        1,
        "the notifier is still waiting on the first delivery while 50 more leads were routed"
    );
    server.release.notify_waiters();
    let _ = run.stop.send(true);
}
