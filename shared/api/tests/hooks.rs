//! Webhooks end to end: each tool's published payload, its real signature scheme, through the
//! router and the real embedded store and queue.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use hmac::{Hmac, Mac};
use http_body_util::BodyExt;
use leadrouter_api::hooks::resolve_sources;
use leadrouter_api::{AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_domain::worker;
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use serde_json::{Value, json};
use sha2::Sha256;
use tower::ServiceExt;

const TOKEN: &str = "test-api-token-0123456789";

const CONFIG: &str = r#"
[intake]
honeypot_fields = ["fax_number"]
# The vendors' published fixtures use example.com addresses, which the default block list
# treats as spam; this test is about the adapters.
blocked_domains = ["spam.test"]

[[reps]]
id = "ana"
[[reps]]
id = "ben"
[[pools]]
id = "p"
members = ["ana", "ben"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"

[sources.typeform]
auth = { scheme = "typeform_hmac", secret = "env:TF" }

[sources.google-ads]
auth = { scheme = "google_key", key = "env:GK" }

[sources.facebook]
auth = { scheme = "meta_signature_256", app_secret = "env:FB" }

[sources.site]
adapter = "generic"
auth = { scheme = "api_key", header = "x-api-key", key = "env:SITE" }
"#;

/// The lookup receives the whole reference (`env:TF`); the test secret is derived from its name.
fn secret(reference: &str) -> Option<String> {
    let name = reference.strip_prefix("env:")?;
    Some(format!("secret-of-{name}"))
}

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../sources/fixtures/{path}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn hmac_sha256(key: &str, body: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

struct App {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
        let queue: Arc<dyn Queue> = Arc::new(store.queue(
            "intake",
            QueueConfig {
                visibility_timeout: Duration::from_secs(30),
                max_receives: 5,
            },
        ));
        let cfg =
            RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").unwrap_or_else(|e| panic!("{e}"));
        let sources = resolve_sources(&cfg, &secret).expect("secrets");
        let engine = Arc::new(Engine::new(store, cfg, Arc::new(SystemClock)));
        let state = AppState {
            engine,
            queue,
            default_country: None,
            sources: Arc::new(sources),
            metrics: Arc::default(),
            public_url: None,
            auth: leadrouter_api::ApiAuth::from_list(TOKEN).expect("token"),
            configs: None,
        };
        App { state, _dir: dir }
    }

    async fn post(
        &self,
        uri: &str,
        ct: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method("POST")
            .uri(uri)
            .header(header::CONTENT_TYPE, ct);
        for (k, v) in headers {
            req = req.header(*k, v);
        }
        self.send(req.body(Body::from(body)).expect("request"))
            .await
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, Value) {
        let resp = router(self.state.clone())
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn get(&self, uri: &str) -> Value {
        self.send(
            Request::builder()
                .uri(uri)
                .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .1
    }

    async fn drain(&self) {
        loop {
            let msgs = self
                .state
                .queue
                .receive(10, Duration::ZERO)
                .await
                .expect("receive");
            if msgs.is_empty() {
                return;
            }
            for m in msgs {
                worker::handle(&self.state.engine, &m.body)
                    .await
                    .expect("routed");
                self.state.queue.ack(&m.receipt).await.expect("ack");
            }
        }
    }
}

#[tokio::test]
async fn typeform_signed_payload_is_routed_and_bad_signatures_are_refused_and_counted() {
    let app = App::new();
    let body = fixture("typeform/form_response.json");
    let sig = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256("secret-of-TF", &body))
    );
    let (s, b) = app
        .post(
            "/v1/hooks/typeform",
            "application/json",
            &[("typeform-signature", sig.clone())],
            body.clone(),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let id = b["id"].as_str().expect("id").to_owned();

    let wrong = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256("guess", &body))
    );
    let (s, b) = app
        .post(
            "/v1/hooks/typeform",
            "application/json",
            &[("typeform-signature", wrong)],
            body.clone(),
        )
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (s, _) = app
        .post("/v1/hooks/typeform", "application/json", &[], body.clone())
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // A tampered body with the original signature.
    let mut tampered = body.clone();
    tampered.extend_from_slice(b" ");
    let (s, _) = app
        .post(
            "/v1/hooks/typeform",
            "application/json",
            &[("typeform-signature", sig)],
            tampered,
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    app.drain().await;
    let lead = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(lead["status"], "assigned", "{lead}");
    assert_eq!(lead["lead"]["source"], "typeform");
    assert!(
        lead["lead"]["external_id"].is_string(),
        "the tool's response id is kept: {lead}"
    );
    let stats = app.get("/v1/sources").await;
    assert_eq!(stats["counters"]["typeform"]["accepted"], 1);
    assert_eq!(stats["counters"]["typeform"]["unauthorized"], 3);
    // Redelivery of the same response (Typeform retries) is the same lead, routed once.
    let sig = format!(
        "sha256={}",
        base64::engine::general_purpose::STANDARD.encode(hmac_sha256("secret-of-TF", &body))
    );
    let (_, again) = app
        .post(
            "/v1/hooks/typeform",
            "application/json",
            &[("typeform-signature", sig)],
            body,
        )
        .await;
    assert_eq!(again["id"].as_str(), Some(id.as_str()));
    app.drain().await;
    let all = app.get("/v1/leads").await;
    assert_eq!(all["leads"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn google_ads_test_leads_get_the_test_outcome() {
    let app = App::new();
    let mut payload: Value =
        serde_json::from_slice(&fixture("google-ads/lead_form_webhook.json")).expect("json");
    payload["google_key"] = json!("secret-of-GK");
    let (s, b) = app
        .post(
            "/v1/hooks/google-ads",
            "application/json",
            &[],
            payload.to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    app.drain().await;
    let lead = app
        .get(&format!("/v1/leads/{}", b["id"].as_str().expect("id")))
        .await;
    assert_eq!(
        (lead["status"].as_str(), lead["owner"].as_str()),
        (Some("test"), None),
        "{lead}"
    );
    payload["google_key"] = json!("wrong");
    let (s, _) = app
        .post(
            "/v1/hooks/google-ads",
            "application/json",
            &[],
            payload.to_string().into_bytes(),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn facebook_notifications_are_stored_awaiting_enrichment() {
    let app = App::new();
    let body = fixture("facebook/leadgen_notification.json");
    let sig = format!("sha256={}", hex::encode(hmac_sha256("secret-of-FB", &body)));
    let (s, b) = app
        .post(
            "/v1/hooks/facebook",
            "application/json",
            &[("x-hub-signature-256", sig)],
            body,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    let ids: Vec<String> = match b["ids"].as_array() {
        Some(ids) => ids
            .iter()
            .filter_map(|i| i.as_str().map(str::to_owned))
            .collect(),
        None => vec![b["id"].as_str().expect("id").to_owned()],
    };
    assert!(!ids.is_empty());
    app.drain().await;
    for id in ids {
        let lead = app.get(&format!("/v1/leads/{id}")).await;
        assert_eq!(lead["status"], "awaiting_enrichment", "{lead}");
        assert!(lead["lead"]["external_id"].is_string());
    }
}

#[tokio::test]
async fn generic_source_with_api_key_duplicates_and_honeypots() {
    let app = App::new();
    let key = [("x-api-key", "secret-of-SITE".to_owned())];
    let post = |body: Value| {
        app.post(
            "/v1/hooks/site",
            "application/json",
            &key,
            body.to_string().into_bytes(),
        )
    };
    let (s, first) =
        post(json!({"contact": {"email": "first@corp.de", "phone": "+49 30 1234567"}})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{first}");
    app.drain().await;
    // A new email with the same phone: a repeat, sticky to the earlier owner, no new turn.
    let (_, second) = post(
        json!({"contact": {"email": "other@corp.de", "phone": "030 1234567", "country": "DE"}}),
    )
    .await;
    // A bot filled the honeypot.
    let (_, bot) = post(json!({"email": "bot@corp.de", "fax_number": "123"})).await;
    app.drain().await;
    let one = app
        .get(&format!("/v1/leads/{}", first["id"].as_str().expect("id")))
        .await;
    let two = app
        .get(&format!("/v1/leads/{}", second["id"].as_str().expect("id")))
        .await;
    assert_eq!(two["owner"], one["owner"], "{two}");
    assert_eq!(two["repeat_of"], one["id"], "{two}");
    assert_eq!(two["decision"]["steps"][0]["kind"], "sticky");
    let spam = app
        .get(&format!("/v1/leads/{}", bot["id"].as_str().expect("id")))
        .await;
    assert_eq!(spam["status"], "spam", "{spam}");
    assert!(
        spam["history"][1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("fax_number"))
    );
    // Missing key, unknown source, invalid lead: refused, nothing queued.
    let (s, _) = app
        .post("/v1/hooks/site", "application/json", &[], b"{}".to_vec())
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app
        .post("/v1/hooks/nope", "application/json", &key, b"{}".to_vec())
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = post(json!({"email": "not-an-email"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app
        .post(
            "/v1/hooks/site",
            "application/json",
            &key,
            b"{\n  oops".to_vec(),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    assert_eq!(b["error"]["fields"][0]["problem"], "line 2 column 3", "{b}");
    let (s, _) = app
        .post(
            "/v1/hooks/site",
            "application/json",
            &key,
            vec![b' '; 70_000],
        )
        .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        app.state
            .queue
            .receive(10, Duration::ZERO)
            .await
            .expect("receive")
            .len(),
        0
    );
}

#[tokio::test]
async fn the_router_accepts_source_envelopes_pushed_straight_onto_the_queue() {
    let app = App::new();
    let payload: Value =
        serde_json::from_slice(&fixture("zapier/webhook_post.json")).expect("json");
    let envelope = json!({ "source": "zapier", "payload": payload }).to_string();
    // Delivered twice (at-least-once): the message text names the lead, so it is one lead.
    app.state.queue.send(&envelope).await.expect("send");
    app.state.queue.send(&envelope).await.expect("send");
    // A form-encoded payload travels as a string.
    let form = json!({ "source": "salesforce", "payload": String::from_utf8(fixture("salesforce/web_to_lead.txt")).expect("utf8") });
    app.state.queue.send(&form.to_string()).await.expect("send");
    app.drain().await;
    let all = app.get("/v1/leads?limit=10").await;
    let leads = all["leads"].as_array().expect("leads");
    assert_eq!(leads.len(), 2, "{all}");
    let sources: Vec<&str> = leads
        .iter()
        .filter_map(|l| l["lead"]["source"].as_str())
        .collect();
    assert!(
        sources.contains(&"zapier") && sources.contains(&"salesforce"),
        "{sources:?}"
    );
    assert!(leads.iter().all(|l| l["status"] == "assigned"));
    // An envelope naming an unknown source can never be processed: it is refused, not dropped.
    let bad = json!({ "source": "nowhere", "payload": {} }).to_string();
    let err = worker::handle(&app.state.engine, &bad)
        .await
        .expect_err("unknown source");
    assert!(matches!(err, worker::MessageError::Invalid(_)), "{err}");
}
