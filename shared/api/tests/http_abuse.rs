//! The HTTP API under abuse: the route table against the published OpenAPI document (both
//! ways), the token check on every secured route (a walk driven by the spec), and the input
//! limits (size, content type, lengths, counts, depth), each a 4xx naming what is wrong.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leadrouter_api::routes::{Access, ROUTES};
use leadrouter_api::{ApiAuth, AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "abuse-test-token-0123456789";
const OTHER_TOKEN: &str = "abuse-second-token-0123456789";
const CONFIG: &str = r#"
[[reps]]
id = "ana"
[[pools]]
id = "p"
members = ["ana"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

struct App {
    app: axum::Router,
    _dir: tempfile::TempDir,
}

impl App {
    fn new() -> App {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
        let queue: Arc<dyn Queue> = Arc::new(store.queue("intake", QueueConfig::default()));
        let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
        let engine = Arc::new(Engine::new(store.clone(), cfg, Arc::new(SystemClock)));
        let app = router(AppState {
            engine,
            queue,
            default_country: None,
            sources: Arc::default(),
            metrics: Arc::default(),
            public_url: None,
            auth: ApiAuth::from_list(&format!("{TOKEN},{OTHER_TOKEN}")).expect("tokens"),
            configs: Some(store),
        });
        App { app, _dir: dir }
    }

    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Value) {
        let resp = self.app.clone().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn call(
        &self,
        method: &str,
        uri: &str,
        auth: Option<&str>,
        content_type: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(a) = auth {
            req = req.header(header::AUTHORIZATION, a);
        }
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let (s, _, v) = self.send(req.body(body.into()).expect("request")).await;
        (s, v)
    }

    async fn admin_json(&self, method: &str, uri: &str, body: String) -> (StatusCode, Value) {
        self.call(
            method,
            uri,
            Some(&format!("Bearer {TOKEN}")),
            Some("application/json"),
            body,
        )
        .await
    }
}

fn spec() -> Value {
    serde_json::from_str(leadrouter_api::OPENAPI_JSON).expect("docs/openapi.json is JSON")
}

/// Every (method, path, secured) of the spec; an operation is secured unless it sets
/// `security: []` (the document's default is the bearer scheme).
fn spec_operations(spec: &Value) -> BTreeSet<(String, String, bool)> {
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec["security"], json!([{"bearerAuth": []}]));
    let mut ops = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let secured = op.get("security") != Some(&json!([]));
            ops.insert((method.to_uppercase(), path.clone(), secured));
        }
    }
    ops
}

/// A concrete URI for a templated path.
fn concrete(path: &str) -> String {
    path.replace("{id}", "0193a000-0000-7000-8000-000000000000")
        .replace("{action}", "accept")
        .replace("{version}", "current")
        .replace("{source}", "nosuch")
}

#[test]
fn the_spec_and_the_route_table_list_the_same_routes_with_the_same_access() {
    let from_spec = spec_operations(&spec());
    let from_table: BTreeSet<_> = ROUTES
        .iter()
        .map(|r| {
            (
                r.method.to_owned(),
                r.path.to_owned(),
                r.access == Access::Token,
            )
        })
        .collect();
    assert_eq!(from_spec, from_table);
    // Every secured operation documents its 401.
    let spec = spec();
    for (method, path, secured) in &from_spec {
        let op = &spec["paths"][path][method.to_lowercase()];
        assert_eq!(
            op["responses"].get("401").is_some(),
            *secured || path.starts_with("/v1/hooks"),
            "{method} {path}: 401 documented exactly where it can happen"
        );
    }
}

#[tokio::test]
async fn every_secured_route_in_the_spec_answers_401_without_a_valid_token() {
    let app = App::new();
    let mut walked = 0;
    for (method, path, secured) in spec_operations(&spec()) {
        if !secured {
            continue;
        }
        let uri = concrete(&path);
        for auth in [
            None,
            Some("Bearer wrong-token-0123456789".to_owned()),
            Some(format!("Basic {TOKEN}")),
            Some(format!("Bearer {TOKEN}x")),
            Some("Bearer".to_owned()),
        ] {
            let req = Request::builder()
                .method(method.as_str())
                .uri(&uri)
                .header(header::CONTENT_TYPE, "application/json");
            let req = match &auth {
                Some(a) => req.header(header::AUTHORIZATION, a),
                None => req,
            };
            let (status, headers, body) = app
                .send(req.body(Body::from("{\"rep\": \"ana\"}")).expect("request"))
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {uri} {auth:?}");
            assert_eq!(body["error"]["code"], "unauthorized", "{body}");
            assert_eq!(body["error"]["fields"][0]["field"], "Authorization");
            assert_eq!(
                headers
                    .get(header::WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer realm=\"leadrouter\"")
            );
            walked += 1;
        }
        // HEAD on a secured GET route is secured too.
        if method == "GET" {
            let (status, _) = app.call("HEAD", &uri, None, None, Body::empty()).await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "HEAD {uri}");
        }
    }
    let secured = ROUTES.iter().filter(|r| r.access == Access::Token).count();
    assert_eq!(walked, secured * 5, "every secured route, five ways");
}

#[tokio::test]
async fn with_a_token_every_route_of_the_table_reaches_its_handler() {
    let app = App::new();
    for token in [TOKEN, OTHER_TOKEN] {
        for route in ROUTES {
            let uri = concrete(route.path);
            let (status, body) = app
                .call(
                    route.method,
                    &uri,
                    Some(&format!("bearer {token}")),
                    Some("application/json"),
                    "{\"rep\": \"ana\"}",
                )
                .await;
            assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {uri}", route.method);
            assert_ne!(
                status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{} {uri}",
                route.method
            );
            assert_ne!(
                body["error"]["message"], "no such route",
                "{} {uri}: the router serves every route of the table",
                route.method
            );
        }
    }
    // A method the table does not list for a path needs the token before it learns anything.
    let (status, _) = app
        .call("DELETE", "/v1/reps/ana", None, None, Body::empty())
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = App::new();
    let (s, v) = app
        .call("GET", "/v1/healthz", None, None, Body::empty())
        .await;
    assert_eq!((s, &v["status"]), (StatusCode::OK, &json!("ok")));
    let (s, v) = app
        .call("GET", "/v1/openapi.json", None, None, Body::empty())
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v, spec(), "the served document is docs/openapi.json");
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            r#"{"email": "kim@acme.example"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = app
        .call(
            "POST",
            "/v1/hooks/nosuch",
            None,
            Some("application/json"),
            "{}",
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
}

#[tokio::test]
async fn limits_answer_4xx_naming_the_field() {
    let app = App::new();
    let field = |v: &Value| v["error"]["fields"][0]["field"].as_str().map(str::to_owned);
    let lead = "/v1/leads/0193a000-0000-7000-8000-000000000000/accept";

    // Body size: 413 on intake and on admin routes, naming the body.
    let big = format!(
        r#"{{"email": "a@b.co", "message": "{}"}}"#,
        "x".repeat(70_000)
    );
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            big.clone(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("body".into())),
        "{v}"
    );
    for (method, uri) in [("PATCH", "/v1/reps/ana"), ("POST", lead)] {
        let (s, v) = app.admin_json(method, uri, big.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str(), field(&v)),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                Some("payload_too_large"),
                Some("body".into())
            ),
            "{method} {uri}: {v}"
        );
    }

    // Content type: 415 naming the header, on intake and on every JSON admin route.
    let (s, v) = app
        .call("POST", "/v1/leads", None, Some("text/plain"), "hi")
        .await;
    assert_eq!(
        (s, field(&v)),
        (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Some("Content-Type".into())
        )
    );
    for (method, uri) in [
        ("PATCH", "/v1/reps/ana"),
        ("POST", lead),
        (
            "POST",
            "/v1/leads/0193a000-0000-7000-8000-000000000000/claim",
        ),
    ] {
        for ct in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let (s, v) = app
                .call(
                    method,
                    uri,
                    Some(&format!("Bearer {TOKEN}")),
                    ct,
                    r#"{"rep": "ana"}"#,
                )
                .await;
            assert_eq!(
                (s, field(&v)),
                (
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    Some("Content-Type".into())
                ),
                "{method} {uri} {ct:?}: {v}"
            );
        }
    }

    // Field lengths.
    let (s, v) = app
        .admin_json("POST", lead, json!({"rep": "r".repeat(129)}).to_string())
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("rep".into())),
        "{v}"
    );
    let (s, v) = app
        .admin_json("POST", lead, json!({"rep": ""}).to_string())
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("rep".into())),
        "{v}"
    );
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            json!({"email": "a@b.co", "last_name": "n".repeat(300)}).to_string(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("last_name".into())),
        "{v}"
    );
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            json!({"email": "a@b.co", "k".repeat(200): 1}).to_string(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("custom".into())),
        "{v}"
    );
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            Some("x"),
            Some("application/json"),
            r#"{"email": "a@b.co"}"#,
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "intake ignores Authorization: {v}");

    // Number of custom fields, and of out-of-office ranges.
    let mut many = serde_json::Map::new();
    many.insert("email".into(), json!("a@b.co"));
    for i in 0..101 {
        many.insert(format!("k{i}"), json!(i));
    }
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            Value::Object(many).to_string(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("custom".into())),
        "{v}"
    );
    let range = json!({"from": "2030-01-01T00:00:00Z", "until": "2030-01-02T00:00:00Z"});
    let (s, v) = app
        .admin_json(
            "PATCH",
            "/v1/reps/ana",
            json!({"out_of_office": vec![range; 51]}).to_string(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("out_of_office".into())
        ),
        "{v}"
    );

    // Nesting depth: a custom value nested too deep is named by its key; a body nested beyond
    // the JSON parser's limit is a malformed body, never a crash.
    let mut deep = json!(1);
    for _ in 0..9 {
        deep = json!({ "x": deep });
    }
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            json!({"email": "a@b.co", "answers": deep}).to_string(),
        )
        .await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("answers".into())),
        "{v}"
    );
    let abyss = format!(
        r#"{{"email": "a@b.co", "x": {}1{}}}"#,
        "[".repeat(5000),
        "]".repeat(5000)
    );
    let (s, v) = app
        .call(
            "POST",
            "/v1/leads",
            None,
            Some("application/json"),
            abyss.clone(),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str(), field(&v)),
        (
            StatusCode::BAD_REQUEST,
            Some("malformed_body"),
            Some("body".into())
        ),
        "{v}"
    );
    let (s, v) = app.admin_json("PATCH", "/v1/reps/ana", abyss).await;
    assert_eq!(
        (s, field(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("body".into())),
        "{v}"
    );

    // Query parameters that do not parse get the JSON error shape, naming the parameter.
    for uri in [
        "/v1/shadow?limit=abc",
        "/v1/config/history?limit=-1",
        "/v1/leads?limit=9999",
    ] {
        let (s, v) = app
            .call(
                "GET",
                uri,
                Some(&format!("Bearer {TOKEN}")),
                None,
                Body::empty(),
            )
            .await;
        assert_eq!(
            (s, field(&v)),
            (StatusCode::BAD_REQUEST, Some("limit".into())),
            "{uri}: {v}"
        );
    }
}

const SIGNED: &str = r#"
[[reps]]
id = "ana"
[[pools]]
id = "p"
members = ["ana"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
[sources.typeform]
auth = { scheme = "typeform_hmac", secret = "env:K" }
[sources.facebook]
auth = { scheme = "meta_signature_256", app_secret = "env:K" }
[sources.tally]
auth = { scheme = "tally_signature", signing_secret = "env:K" }
[sources.hubspot]
auth = { scheme = "hubspot_v3", client_secret = "env:K" }
[sources.calendly]
auth = { scheme = "calendly_signature", signing_key = "env:K" }
[sources.webflow]
auth = { scheme = "webflow_signature", secret = "env:K" }
[sources.zapier]
auth = { scheme = "api_key", header = "x-api-key", key = "env:K" }
"#;

/// The one secret every source of [`SIGNED`] uses.
const KEY: &str = "the-shared-webhook-secret";

fn hmac_sha256(parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(KEY.as_bytes()).expect("any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Per source: requests whose signature is wrong, missing, or (for the schemes that sign a
/// timestamp) right but stale, i.e. a replay. Every one must be a 401 and counted.
fn bad_deliveries(source: &str, body: &[u8]) -> Vec<(&'static str, Vec<(String, String)>)> {
    let now_s = chrono::Utc::now().timestamp();
    let stale_s = now_s - 3600;
    let h = |pairs: &[(&str, String)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    };
    let wrong = "0".repeat(64);
    let mut cases = vec![("missing", Vec::new())];
    match source {
        "typeform" => cases.push((
            "wrong",
            h(&[("typeform-signature", format!("sha256={}", b64(&[0; 32])))]),
        )),
        "facebook" => cases.push((
            "wrong",
            h(&[("x-hub-signature-256", format!("sha256={wrong}"))]),
        )),
        "tally" => cases.push(("wrong", h(&[("tally-signature", b64(&[1; 32]))]))),
        "zapier" => cases.push((
            "wrong",
            h(&[("x-api-key", "the-shared-webhook-secreT".into())]),
        )),
        "calendly" => {
            cases.push((
                "wrong",
                h(&[(
                    "calendly-webhook-signature",
                    format!("t={now_s},v1={wrong}"),
                )]),
            ));
            let t = stale_s.to_string();
            let sig = hex::encode(hmac_sha256(&[t.as_bytes(), b".", body]));
            cases.push((
                "stale",
                h(&[("calendly-webhook-signature", format!("t={t},v1={sig}"))]),
            ));
        }
        "webflow" => {
            let now_ms = (now_s * 1000).to_string();
            cases.push((
                "wrong",
                h(&[
                    ("x-webflow-signature", wrong.clone()),
                    ("x-webflow-timestamp", now_ms),
                ]),
            ));
            let t = (stale_s * 1000).to_string();
            let sig = hex::encode(hmac_sha256(&[t.as_bytes(), b":", body]));
            cases.push((
                "stale",
                h(&[("x-webflow-signature", sig), ("x-webflow-timestamp", t)]),
            ));
        }
        "hubspot" => {
            let now_ms = (now_s * 1000).to_string();
            cases.push((
                "wrong",
                h(&[
                    ("x-hubspot-signature-v3", b64(&[2; 32])),
                    ("x-hubspot-request-timestamp", now_ms),
                ]),
            ));
            let t = (stale_s * 1000).to_string();
            let url = "https://localhost/v1/hooks/hubspot";
            let sig = b64(&hmac_sha256(&[b"POST", url.as_bytes(), body, t.as_bytes()]));
            cases.push((
                "stale",
                h(&[
                    ("x-hubspot-signature-v3", sig),
                    ("x-hubspot-request-timestamp", t),
                ]),
            ));
        }
        other => panic!("no cases for {other}"),
    }
    cases
}

#[tokio::test]
async fn wrong_missing_and_replayed_signatures_are_refused_and_counted_per_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let queue: Arc<dyn Queue> = Arc::new(store.queue("intake", QueueConfig::default()));
    let cfg = RoutingConfig::parse(SIGNED, Format::Toml, "t.toml").expect("config");
    let sources =
        leadrouter_api::hooks::resolve_sources(&cfg, &|r| (r == "env:K").then(|| KEY.to_owned()))
            .expect("secrets");
    let engine = Arc::new(Engine::new(store, cfg, Arc::new(SystemClock)));
    let app = App {
        app: router(AppState {
            engine,
            queue: queue.clone(),
            default_country: None,
            sources: Arc::new(sources),
            metrics: Arc::default(),
            public_url: None,
            auth: ApiAuth::from_list(TOKEN).expect("token"),
            configs: None,
        }),
        _dir: dir,
    };
    let body = br#"{"event": "x", "email": "kim@acme.example"}"#;
    let mut expected = serde_json::Map::new();
    let mut stale = 0;
    for source in [
        "typeform", "facebook", "tally", "zapier", "calendly", "webflow", "hubspot",
    ] {
        let cases = bad_deliveries(source, body);
        for (kind, headers) in &cases {
            let mut req = Request::builder()
                .method("POST")
                .uri(format!("/v1/hooks/{source}"))
                .header(header::CONTENT_TYPE, "application/json");
            for (k, v) in headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let (s, _, v) = app
                .send(req.body(Body::from(body.to_vec())).expect("request"))
                .await;
            assert_eq!(
                (s, v["error"]["code"].as_str()),
                (StatusCode::UNAUTHORIZED, Some("unauthorized")),
                "{source} {kind}: {v}"
            );
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert!(!message.contains(KEY), "{message}");
            if *kind == "stale" {
                stale += 1;
                assert!(
                    message.contains("replay")
                        || message.contains("5 minutes")
                        || message.contains("window"),
                    "{source}: a replay is named as such: {message}"
                );
            }
        }
        expected.insert(source.to_owned(), json!(cases.len()));
    }
    assert_eq!(stale, 3, "every timestamped scheme was replayed");
    let (s, v) = app
        .call(
            "GET",
            "/v1/sources",
            Some(&format!("Bearer {TOKEN}")),
            None,
            Body::empty(),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for (source, n) in expected {
        assert_eq!(v["counters"][&source]["unauthorized"], n, "{source}: {v}");
        assert_eq!(v["counters"][&source]["accepted"], 0, "{source}");
    }
    assert!(
        queue
            .receive(10, std::time::Duration::ZERO)
            .await
            .expect("receive")
            .is_empty(),
        "nothing refused reached the queue"
    );
}
