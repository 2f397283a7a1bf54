//! `GET /v1/stats` end to end: leads routed, accepted, contacted and converted through the
//! engine at known times (a manual clock); the report's counts are exact and its percentiles
//! within the histogram's bucket error of the exact ones.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use leadrouter_api::{AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, RepAction, Routed};
use leadrouter_domain::ports::{ManualClock, Queue};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_lead::Lead;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "test-api-token-0123456789";

const CONFIG: &str = r#"
[[reps]]
id = "ana"
[[reps]]
id = "bo"
[[pools]]
id = "inbound"
members = ["ana", "bo"]
strategy = "round_robin"
[[rules]]
name = "everything"
pool = "inbound"
"#;

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
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, serde_json::from_slice(&body).expect("json"))
}

fn near(got: &Value, want: f64) {
    let got = got.as_f64().unwrap_or_else(|| panic!("{got} is no number"));
    assert!(
        (got - want).abs() <= want * 0.0906,
        "{got} not within the bucket error of {want}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_count_what_the_engine_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let queue: Arc<dyn Queue> = Arc::new(store.queue("intake", QueueConfig::default()));
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let t0: DateTime<Utc> = "2026-11-02T10:00:00Z".parse().expect("time");
    let clock = Arc::new(ManualClock::new(t0));
    let engine = Arc::new(Engine::new(store.clone(), cfg, clock.clone()).with_stats(store));

    // Four leads received at t0, routed 10, 20, 30 and 40 s later.
    let mut leads = Vec::new();
    for i in 0..4i64 {
        clock.set(t0 + Duration::seconds(10 * (i + 1)));
        let lead = Lead {
            id: uuid::Uuid::now_v7(),
            received_at: t0,
            source: if i == 0 {
                "typeform".into()
            } else {
                "api".into()
            },
            email: Some(format!("p{i}@acme-corp.io")),
            ..Lead::default()
        };
        let id = lead.id;
        match engine.ingest(lead).await.expect("routed") {
            Routed::Assigned { rep } => leads.push((id, rep)),
            other => panic!("{other:?}"),
        }
    }
    // Two accepted at t0+100 s (90 and 80 s after assignment); one contacted at 200 s and won.
    clock.set(t0 + Duration::seconds(100));
    for (id, rep) in &leads[..2] {
        engine
            .act(*id, rep, RepAction::Accept)
            .await
            .expect("accept");
    }
    clock.set(t0 + Duration::seconds(200));
    let (id0, rep0) = &leads[0];
    engine
        .act(*id0, rep0, RepAction::Contacted)
        .await
        .expect("contacted");
    clock.set(t0 + Duration::seconds(300));
    engine
        .act(*id0, rep0, RepAction::Converted)
        .await
        .expect("converted");

    let app = router(AppState {
        engine,
        queue,
        default_country: None,
        sources: Arc::default(),
        metrics: Arc::default(),
        public_url: None,
        auth: leadrouter_api::ApiAuth::from_list(TOKEN).expect("token"),
        configs: None,
    });
    let (status, v) = get(&app, "/v1/stats").await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(
        v["from"], "2026-10-26T10:00:00Z",
        "default: a week up to now"
    );
    assert_eq!(v["to"], "2026-11-02T11:00:00Z", "rounded up to the hour");
    let t = &v["totals"];
    for (name, n) in [
        ("received", 4),
        ("assigned", 4),
        ("owned", 4),
        ("accepted", 2),
        ("contacted", 1),
        ("converted", 1),
    ] {
        assert_eq!(t["counts"][name], n, "{name}: {t}");
    }
    assert_eq!(t["conversion_rate"], 0.25);
    let speed = &t["speed_to_lead"];
    assert_eq!(speed["to_assign"]["count"], 4);
    near(&speed["to_assign"]["p50_seconds"], 20.0);
    near(&speed["to_assign"]["p90_seconds"], 40.0);
    assert_eq!(speed["to_accept"]["count"], 2);
    near(&speed["to_accept"]["p50_seconds"], 80.0);
    near(&speed["to_accept"]["p90_seconds"], 90.0);
    near(&speed["to_first_touch"]["p50_seconds"], 200.0);
    let fair = &v["fairness"][0];
    assert_eq!(fair["pool"], "inbound");
    assert_eq!(fair["per_rep"], serde_json::json!({"ana": 2, "bo": 2}));
    assert_eq!(
        (fair["spread"].as_u64(), fair["gini"].as_f64()),
        (Some(0), Some(0.0))
    );

    // Grouped by rep and by source.
    let (_, v) = get(&app, "/v1/stats?group_by=rep").await;
    let groups = v["groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 2);
    for g in groups {
        assert_eq!(g["counts"]["received"], 2, "{g}");
    }
    let (_, v) = get(&app, "/v1/stats?group_by=source").await;
    let keys: Vec<_> = v["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| (g["key"].clone(), g["counts"]["received"].clone()))
        .collect();
    assert_eq!(
        keys,
        vec![("api".into(), 3.into()), ("typeform".into(), 1.into())]
    );

    // A range without the hour: nothing.
    let (_, v) = get(
        &app,
        "/v1/stats?from=2026-11-02T11:00:00Z&to=2026-11-02T12:00:00Z",
    )
    .await;
    assert_eq!(v["totals"]["counts"], serde_json::json!({}));
    assert_eq!(v["fairness"][0]["per_rep"]["ana"], 0);

    let (status, v) = get(&app, "/v1/stats?group_by=planet").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    let (status, _) = get(
        &app,
        "/v1/stats?from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
