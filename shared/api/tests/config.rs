//! `GET /v1/config/history` and `GET /v1/config/{version}` over the embedded config store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use leadrouter_domain::config::Format;
use leadrouter_domain::config_store::{ConfigDoc, ConfigStore, push};
use leadrouter_embedded::EmbeddedStore;
use serde_json::Value;
use tower::ServiceExt;

const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).expect("request"))
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
    let app = leadrouter_api::config::routes(store.clone());

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
