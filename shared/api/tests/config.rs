//! `GET /v1/config/history` and `GET /v1/config/{version}` over the embedded config store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use leadrouter_api::{ApiAuth, AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::config_store::{ConfigDoc, ConfigStore, push};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "test-api-token-0123456789";

const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let resp = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = resp.status();
    let bytes = resp.into_body().collect().await.expect("body").to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn history_and_versions() {
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
        auth: ApiAuth::from_list(TOKEN).expect("token"),
        configs: Some(store.clone()),
    });

    let (status, body) = get(&app, "/v1/config/history").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["current"], Value::Null);
    assert_eq!(body["versions"], serde_json::json!([]));

    for (i, src) in [CONFIG, &CONFIG.replace("\"a\"", "\"b\"")]
        .into_iter()
        .enumerate()
    {
        let (doc, _) = ConfigDoc::validated(
            src.to_owned(),
            Format::Toml,
            "t.toml",
            "ada",
            format!("push {i}"),
            chrono::Utc::now(),
        )
        .expect("valid");
        push(store.as_ref(), &doc, 3).await.expect("push");
    }
    let (status, body) = get(&app, "/v1/config/history?limit=10").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["current"], 2);
    assert_eq!(body["versions"][0]["version"], 2);
    assert_eq!(body["versions"][1]["message"], "push 0");

    let (status, body) = get(&app, "/v1/config/1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["source"], CONFIG);
    assert_eq!(body["meta"]["pushed_by"], "ada");
    let (_, current) = get(&app, "/v1/config/current").await;
    assert_eq!(current["meta"]["version"], 2);
    assert_eq!(
        current["meta"]["hash"].as_str(),
        store
            .current()
            .await
            .expect("current")
            .map(|d| d.meta.hash)
            .as_deref()
    );

    let (status, body) = get(&app, "/v1/config/9").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = get(&app, "/v1/config/latest").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
