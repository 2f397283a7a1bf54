//! A/B routing experiments end to end: a split rule divides leads between arms by the lead id,
//! each lead's decision records its arm (kept through an SLA reassignment), and
//! `GET /v1/experiments/{id}` reports the arms' conversion rates and the test against control.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use leadrouter_api::{AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::{Engine, RepAction, Routed};
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use leadrouter_lead::Lead;
use serde_json::Value;
use tower::ServiceExt;

const TOKEN: &str = "test-api-token-0123456789";

const CONFIG: &str = r#"
[[reps]]
id = "a1"
[[reps]]
id = "a2"
[[reps]]
id = "b1"
[[pools]]
id = "inbound"
members = ["a1", "a2"]
strategy = "round_robin"
[[pools]]
id = "sdr"
members = ["b1"]
strategy = "round_robin"
[[rules]]
name = "inbound"
experiment = "sdr-first"
split = [{ name = "control", pool = "inbound", percent = 70 }, { name = "sdr", pool = "sdr", percent = 30 }]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_rule_and_experiment_report() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let queue: Arc<dyn Queue> = Arc::new(store.queue("intake", QueueConfig::default()));
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let engine = Arc::new(Engine::new(store, cfg, Arc::new(SystemClock)));

    let (mut control, mut sdr) = (Vec::new(), Vec::new());
    for i in 0..1000u32 {
        let lead = Lead {
            id: uuid::Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: "api".into(),
            email: Some(format!("p{i}@acme-corp.io")),
            ..Lead::default()
        };
        let id = lead.id;
        match engine.ingest(lead).await.expect("routed") {
            Routed::Assigned { rep } if rep == "b1" => sdr.push((id, rep)),
            Routed::Assigned { rep } => control.push((id, rep)),
            other => panic!("{other:?}"),
        }
    }
    // 70/30 by hash: within a few points.
    assert!(
        (640..=760).contains(&control.len()),
        "control got {}",
        control.len()
    );
    let rec = engine
        .store()
        .get_lead(sdr[0].0)
        .await
        .expect("read")
        .expect("lead");
    let arm = rec
        .decision
        .and_then(|d| d.experiment)
        .expect("arm recorded");
    assert_eq!((arm.id.as_str(), arm.arm.as_str()), ("sdr-first", "sdr"));

    // Control converts 20%, sdr 35%.
    let convert = |list: &[(uuid::Uuid, String)], share: f64| {
        let n = (list.len() as f64 * share).round() as usize;
        list[..n].to_vec()
    };
    for (id, rep) in convert(&control, 0.20)
        .into_iter()
        .chain(convert(&sdr, 0.35))
    {
        engine
            .act(id, &rep, RepAction::Converted)
            .await
            .expect("converted");
    }

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
    let resp = app
        .clone()
        .oneshot(
            Request::get("/v1/experiments/sdr-first")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("json");
    let arms = &v["experiment"]["arms"];
    assert_eq!(arms[0]["arm"], "control");
    assert_eq!(arms[0]["leads"], control.len() as u64);
    assert_eq!(
        arms[0]["conversions"],
        (control.len() as f64 * 0.20).round() as u64
    );
    assert_eq!(arms[1]["leads"], sdr.len() as u64);
    let test = &v["experiment"]["tests"][0];
    assert_eq!(test["arm"], "sdr");
    assert_eq!(test["significant"], true, "{test}");
    assert!(
        test["verdict"]
            .as_str()
            .is_some_and(|s| s.contains("`sdr` converts better than `control`")),
        "{test}"
    );
    assert_eq!(v["split_percent"]["sdr"], 30);

    let missing = app
        .oneshot(
            Request::get("/v1/experiments/nope")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[test]
fn split_mistakes_are_located_config_errors() {
    let bad = CONFIG
        .replace("percent = 30", "percent = 20")
        .replace("pool = \"sdr\", percent", "pool = \"nope\", percent");
    let err = RoutingConfig::parse(&bad, Format::Toml, "t.toml").expect_err("invalid");
    let text = err.to_string();
    assert!(text.contains("add up to 90, not 100"), "{text}");
    assert!(text.contains("pool `nope` does not exist"), "{text}");
    assert!(text.contains("rules[0].split"), "{text}");
}

/// Shadow mode: a candidate config decides beside the live one; only the live decision takes
/// effect, and `GET /v1/shadow` counts how the two differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_config_records_and_reports_differences() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let queue: Arc<dyn Queue> = Arc::new(store.queue("intake", QueueConfig::default()));
    let live = RoutingConfig::parse(CONFIG, Format::Toml, "live.toml").expect("config");
    // The candidate sends everything to the sdr pool.
    let candidate_src = CONFIG.replace(
        "split = [{ name = \"control\", pool = \"inbound\", percent = 70 }, { name = \"sdr\", pool = \"sdr\", percent = 30 }]",
        "pool = \"sdr\"",
    ).replace("experiment = \"sdr-first\"\n", "");
    let candidate =
        RoutingConfig::parse(&candidate_src, Format::Toml, "candidate.toml").expect("config");
    let engine = Arc::new(Engine::new(store, live, Arc::new(SystemClock)));
    engine.set_shadow(Some(candidate));
    let mut live_sdr = 0;
    for i in 0..40u32 {
        let lead = Lead {
            id: uuid::Uuid::now_v7(),
            received_at: chrono::Utc::now(),
            source: "api".into(),
            email: Some(format!("s{i}@acme-corp.io")),
            ..Lead::default()
        };
        let id = lead.id;
        engine.ingest(lead).await.expect("routed");
        let rec = engine
            .store()
            .get_lead(id)
            .await
            .expect("read")
            .expect("lead");
        let shadow = rec.shadow.expect("shadow decision recorded");
        assert_eq!(shadow.pool.as_deref(), Some("sdr"));
        assert_eq!(shadow.owner.as_deref(), Some("b1"));
        live_sdr += usize::from(rec.pool.as_deref() == Some("sdr"));
    }
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
    let resp = app
        .oneshot(
            Request::get("/v1/shadow?limit=100")
                .header("authorization", format!("Bearer {TOKEN}"))
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    let v: Value = serde_json::from_slice(&body).expect("json");
    let changes = &v["changes"];
    assert_eq!(changes["leads"], 40);
    assert_eq!(changes["pool_changed"], 40 - live_sdr as u64, "{v}");
    assert_eq!(changes["pool_moves"][0][0], "inbound → sdr");
}
