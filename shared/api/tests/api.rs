//! The HTTP API end to end over the real embedded store and queue: requests go through the axum
//! router (tower `oneshot`), queued messages through the real worker handler.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use leadrouter_api::{AppState, router};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Queue, SystemClock};
use leadrouter_domain::worker;
use leadrouter_embedded::{EmbeddedStore, QueueConfig};
use serde_json::{Value, json};
use tower::ServiceExt;

const TOKEN: &str = "test-api-token-0123456789";

const CONFIG: &str = r#"
[[reps]]
id = "ana"
territories = ["DE"]
[[reps]]
id = "ben"
territories = ["DE"]
[[reps]]
id = "cy"
[[reps]]
id = "dee"
[[pools]]
id = "emea"
members = ["ana", "ben"]
strategy = "round_robin"
[[pools]]
id = "claimers"
members = ["cy", "dee"]
strategy = "claim"
[[rules]]
name = "claim"
when = { field = "source", equals = "form" }
pool = "claimers"
[[rules]]
name = "default"
pool = "emea"
"#;

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
        let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
        let engine = Arc::new(Engine::new(store, cfg, Arc::new(SystemClock)));
        App {
            state: AppState {
                engine,
                queue,
                default_country: Some("DE".into()),
                sources: Arc::default(),
                metrics: Arc::default(),
                public_url: None,
                auth: leadrouter_api::ApiAuth::from_list(TOKEN).expect("token"),
                configs: None,
            },
            _dir: dir,
        }
    }

    /// Sends `req` with the API token (unless it names its own `Authorization`).
    async fn call(&self, mut req: Request<Body>) -> (StatusCode, Value) {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            req.headers_mut().insert(
                header::AUTHORIZATION,
                format!("Bearer {TOKEN}").parse().expect("header"),
            );
        }
        let resp = router(self.state.clone())
            .oneshot(req)
            .await
            .expect("infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn json(&self, method: &str, uri: &str, body: Value) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        self.call(req).await
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call(
            Request::builder()
                .uri(uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
    }

    /// Routes everything queued, through the same handler the workers use.
    async fn drain(&self) -> usize {
        let mut n = 0;
        loop {
            let msgs = self
                .state
                .queue
                .receive(10, Duration::ZERO)
                .await
                .expect("receive");
            if msgs.is_empty() {
                return n;
            }
            for m in msgs {
                worker::handle(&self.state.engine, &m.body)
                    .await
                    .expect("routed");
                self.state.queue.ack(&m.receipt).await.expect("ack");
                n += 1;
            }
        }
    }
}

#[tokio::test]
async fn json_lead_is_queued_then_assigned_with_its_decision() {
    let app = App::new();
    let (status, body) = app
        .json("POST", "/v1/leads", json!({"email": " Ana@Example.DE ", "phone": "030 1234567", "country": "Germany", "seats": "40"}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "queued");
    let id = body["id"].as_str().expect("id").to_owned();
    let (status, _) = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "not stored before the router ran"
    );
    assert_eq!(app.drain().await, 1);
    let (status, lead) = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(lead["status"], "assigned");
    assert_eq!(lead["owner"], "ana");
    assert_eq!(lead["pool"], "emea");
    assert_eq!(lead["lead"]["email"], "ana@example.de");
    assert_eq!(lead["lead"]["phone"], "+49301234567");
    assert_eq!(lead["lead"]["country"], "DE");
    assert_eq!(lead["lead"]["seats"], 40);
    assert_eq!(lead["decision"]["rule"]["name"], "default");
    // Round robin checks members in rotation order until one is free: ana was first in line.
    let step = &lead["decision"]["steps"][0];
    assert_eq!(step["candidates"].as_array().map(Vec::len), Some(1));
    assert_eq!(step["candidates"][0]["rep"], "ana");
    assert_eq!(step["state"]["checked"], 1);
    let events: Vec<&str> = lead["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(events, ["received", "assigned"]);
}

#[tokio::test]
async fn form_posts_split_the_name_and_wait_in_a_claim_pool() {
    let app = App::new();
    let req = Request::builder()
        .method("POST")
        .uri("/v1/leads")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=utf-8")
        .body(Body::from("name=Jo+Smith&email=jo%40bigcorp.com&website=https%3A%2F%2Fwww.bigcorp.com%2Fabout&utm_source=ads"))
        .expect("request");
    let (status, body) = app.call(req).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_str().expect("id").to_owned();
    app.drain().await;
    let (_, lead) = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(lead["lead"]["first_name"], "Jo");
    assert_eq!(lead["lead"]["last_name"], "Smith");
    assert_eq!(lead["lead"]["company_domain"], "bigcorp.com");
    assert_eq!(lead["lead"]["source"], "form");
    assert_eq!(lead["status"], "awaiting_claim");
    let (_, q) = app.get("/v1/pools/claimers/queue").await;
    assert_eq!(q["leads"][0]["id"], id.as_str());

    // Two reps claim at once: exactly one wins, the other learns who.
    let uri = format!("/v1/leads/{id}/claim");
    let (a, b) = tokio::join!(
        app.json("POST", &uri, json!({"rep": "cy"})),
        app.json("POST", &uri, json!({"rep": "dee"}))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::CONFLICT]);
    let (winner, loser) = if a.0 == StatusCode::OK {
        (a.1, b.1)
    } else {
        (b.1, a.1)
    };
    assert_eq!(loser["error"]["code"], "already_owned");
    assert_eq!(loser["error"]["owner"], winner["owner"]);
    let (_, q) = app.get("/v1/pools/claimers/queue").await;
    assert_eq!(q["leads"].as_array().map(Vec::len), Some(0));
    // A non-member cannot claim.
    let (status, body) = app.json("POST", &uri, json!({"rep": "ana"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
}

#[tokio::test]
async fn idempotency_key_gives_one_lead_routed_once() {
    let app = App::new();
    let post = || async {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/leads")
            .header(header::CONTENT_TYPE, "application/json")
            .header("Idempotency-Key", "form-123")
            .body(Body::from(json!({"email": "kim@acme.com"}).to_string()))
            .expect("request");
        app.call(req).await
    };
    let (s1, b1) = post().await;
    let (s2, b2) = post().await;
    assert_eq!((s1, s2), (StatusCode::ACCEPTED, StatusCode::ACCEPTED));
    assert_eq!(b1["id"], b2["id"]);
    assert_eq!(app.drain().await, 2, "both messages processed");
    let (_, list) = app.get("/v1/leads").await;
    assert_eq!(list["leads"].as_array().map(Vec::len), Some(1));
    let (_, reps) = app.get("/v1/reps").await;
    let open: u64 = reps["reps"]
        .as_array()
        .expect("reps")
        .iter()
        .filter_map(|r| r["open_leads"].as_u64())
        .sum();
    assert_eq!(open, 1, "routed once");
    // The same external_id from the same source is the same lead too.
    let (_, e1) = app
        .json(
            "POST",
            "/v1/leads",
            json!({"email": "a@b.co", "external_id": "X1"}),
        )
        .await;
    let (_, e2) = app
        .json(
            "POST",
            "/v1/leads",
            json!({"email": "a@b.co", "external_id": "X1"}),
        )
        .await;
    assert_eq!(e1["id"], e2["id"]);
}

#[tokio::test]
async fn bad_input_gets_a_4xx_naming_the_problem() {
    let app = App::new();
    let raw = |ct: &str, body: &str| {
        Request::builder()
            .method("POST")
            .uri("/v1/leads")
            .header(header::CONTENT_TYPE, ct)
            .body(Body::from(body.to_owned()))
            .expect("request")
    };
    let (s, b) = app.call(raw("text/plain", "hi")).await;
    assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(b["error"]["code"], "unsupported_media_type");
    let (s, b) = app
        .call(raw("application/json", "{\"email\": \n oops}"))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("line 2")),
        "{b}"
    );
    let (s, b) = app
        .call(raw(
            "application/x-www-form-urlencoded",
            "name=x&email=a%ZZb@corp.de",
        ))
        .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("malformed_body")),
        "{b}"
    );
    assert_eq!(b["error"]["fields"][0]["field"], "email");
    assert!(
        b["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("byte 14")),
        "{b}"
    );
    let (s, b) = app
        .json("POST", "/v1/leads", json!({"email": "not-an-email"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["fields"][0]["field"], "email");
    let (s, b) = app
        .json("POST", "/v1/leads", json!({"company": "Nobody"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let (s, b) = app
        .json(
            "POST",
            "/v1/leads",
            json!({"email": "a@b.co", "score": "high"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(b["error"]["fields"][0]["field"], "score");
    let (s, b) = app.json("POST", "/v1/leads", json!([1, 2])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{b}");
    let big = format!(
        "{{\"email\": \"a@b.co\", \"message\": \"{}\"}}",
        "x".repeat(70_000)
    );
    let (s, b) = app.call(raw("application/json", &big)).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{b}");
    let (s, b) = app.get("/v1/leads/not-a-uuid").await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("id"))
    );
    let (s, _) = app
        .get("/v1/leads/0193a000-0000-7000-8000-000000000000")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app.get("/v1/leads?status=lost-in-space").await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("status"))
    );
    let (s, b) = app.get("/v1/leads?limit=0").await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("limit"))
    );
    let (s, b) = app.get("/v1/leads?cursor=forged").await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("cursor"))
    );
    let (s, _) = app.get("/v1/leads?bogus=1").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, b) = app.json("DELETE", "/v1/leads", json!({})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"))
    );
    let (s, _) = app.get("/v2/nothing").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, b) = app
        .json("PATCH", "/v1/reps/ana", json!({"status": "sleeping"}))
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("status"))
    );
    let (s, _) = app
        .json("PATCH", "/v1/reps/nobody", json!({"status": "away"}))
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = app
        .json(
            "POST",
            "/v1/leads/0193a000-0000-7000-8000-000000000000/accept",
            json!({"who": "x"}),
        )
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // Nothing bad was queued.
    assert_eq!(app.drain().await, 0);
}

#[tokio::test]
async fn only_the_owner_accepts() {
    let app = App::new();
    let (_, b) = app
        .json("POST", "/v1/leads", json!({"email": "x@corp.de"}))
        .await;
    let id = b["id"].as_str().expect("id").to_owned();
    app.drain().await;
    let uri = format!("/v1/leads/{id}/accept");
    let (s, b) = app.json("POST", &uri, json!({"rep": "ben"})).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(
        (b["error"]["code"].as_str(), b["error"]["owner"].as_str()),
        (Some("not_owner"), Some("ana"))
    );
    let (s, b) = app.json("POST", &uri, json!({"rep": "ana"})).await;
    assert_eq!(
        (s, b["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    let (s, _) = app.json("POST", &uri, json!({"rep": "ana"})).await;
    assert_eq!(s, StatusCode::OK, "accepting twice is idempotent");
    let (_, lead) = app.get(&format!("/v1/leads/{id}")).await;
    assert!(lead["accepted_at"].is_string());
    assert_eq!(lead["history"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn waiting_leads_are_handed_out_when_a_rep_comes_back() {
    let app = App::new();
    for rep in ["ana", "ben"] {
        let (s, b) = app
            .json(
                "PATCH",
                &format!("/v1/reps/{rep}"),
                json!({"status": "away"}),
            )
            .await;
        assert_eq!(
            (s, b["available_now"].as_bool()),
            (StatusCode::OK, Some(false))
        );
    }
    let mut ids = Vec::new();
    for score in [10, 90, 50] {
        let (_, b) = app
            .json(
                "POST",
                "/v1/leads",
                json!({"email": format!("s{score}@corp.de"), "score": score}),
            )
            .await;
        ids.push(b["id"].as_str().expect("id").to_owned());
    }
    app.drain().await;
    let (_, waiting) = app.get("/v1/leads?status=unassigned").await;
    assert_eq!(waiting["leads"].as_array().map(Vec::len), Some(3));
    let (_, one) = app.get(&format!("/v1/leads/{}", ids[0])).await;
    assert!(
        one["history"][1]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("2 away")),
        "{one}"
    );
    // Ben comes back: all three go to him, highest score first.
    let (s, _) = app
        .json("PATCH", "/v1/reps/ben", json!({"status": "available"}))
        .await;
    assert_eq!(s, StatusCode::OK);
    let mut assigned_at = Vec::new();
    for id in &ids {
        let (_, l) = app.get(&format!("/v1/leads/{id}")).await;
        assert_eq!(
            (l["status"].as_str(), l["owner"].as_str()),
            (Some("assigned"), Some("ben")),
            "{l}"
        );
        assigned_at.push(l["assigned_at"].as_str().expect("assigned_at").to_owned());
    }
    // Scores 10, 90, 50: the 90 went first, then 50, then 10.
    assert!(
        assigned_at[1] <= assigned_at[2] && assigned_at[2] <= assigned_at[0],
        "{assigned_at:?}"
    );
}

#[tokio::test]
async fn leads_list_pages_through_everything() {
    let app = App::new();
    for i in 0..7 {
        app.json(
            "POST",
            "/v1/leads",
            json!({"email": format!("p{i}@corp.de")}),
        )
        .await;
    }
    app.drain().await;
    let mut seen = std::collections::HashSet::new();
    let mut uri = "/v1/leads?limit=3".to_owned();
    loop {
        let (s, page) = app.get(&uri).await;
        assert_eq!(s, StatusCode::OK);
        for l in page["leads"].as_array().expect("leads") {
            assert!(
                seen.insert(l["id"].as_str().expect("id").to_owned()),
                "duplicate across pages"
            );
        }
        match page["next"].as_str() {
            Some(c) => uri = format!("/v1/leads?limit=3&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7);
    let (_, ana) = app.get("/v1/leads?owner=ana").await;
    let (_, ben) = app.get("/v1/leads?owner=ben").await;
    assert_eq!(
        (
            ana["leads"].as_array().map(Vec::len),
            ben["leads"].as_array().map(Vec::len)
        ),
        (Some(4), Some(3))
    );
    let (s, h) = app.get("/v1/healthz").await;
    assert_eq!((s, h["status"].as_str()), (StatusCode::OK, Some("ok")));
}

async fn open_leads(app: &App, rep: &str) -> u64 {
    let (_, r) = app.get(&format!("/v1/reps/{rep}")).await;
    r["open_leads"].as_u64().unwrap_or(u64::MAX)
}

#[tokio::test]
async fn rep_actions_move_a_lead_through_its_life() {
    let app = App::new();
    let (_, b) = app
        .json("POST", "/v1/leads", json!({"email": "life@corp.de"}))
        .await;
    let id = b["id"].as_str().expect("id").to_owned();
    app.drain().await;
    let act = |action: &'static str, body: Value| {
        let uri = format!("/v1/leads/{id}/{action}");
        let app = &app;
        async move { app.json("POST", &uri, body).await }
    };
    assert_eq!(open_leads(&app, "ana").await, 1);
    let (s, l) = act("contacted", json!({"rep": "ana"})).await;
    assert_eq!(
        (s, l["status"].as_str()),
        (StatusCode::OK, Some("contacted")),
        "{l}"
    );
    let (s, b) = act("contacted", json!({"rep": "ben"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("not_owner"))
    );
    let (s, l) = act("converted", json!({"rep": "ana"})).await;
    assert_eq!(
        (s, l["status"].as_str()),
        (StatusCode::OK, Some("converted"))
    );
    assert_eq!(
        open_leads(&app, "ana").await,
        0,
        "a closed lead frees its slot"
    );
    let (s, _) = act("converted", json!({"rep": "ana"})).await;
    assert_eq!(s, StatusCode::OK, "idempotent");
    assert_eq!(open_leads(&app, "ana").await, 0, "and never double-counted");
    let (s, b) = act("accept", json!({"rep": "ana"})).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("invalid_state"))
    );
    let (s, _) = act("teleport", json!({"rep": "ana"})).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, l) = app.get(&format!("/v1/leads/{id}")).await;
    let events: Vec<&str> = l["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["event"].as_str())
        .collect();
    assert_eq!(events, ["received", "assigned", "contacted", "converted"]);
}

#[tokio::test]
async fn a_declined_lead_moves_on_at_once_and_never_comes_back() {
    let app = App::new();
    let (_, b) = app
        .json("POST", "/v1/leads", json!({"email": "hot@corp.de"}))
        .await;
    let id = b["id"].as_str().expect("id").to_owned();
    app.drain().await;
    let uri = |a: &str| format!("/v1/leads/{id}/{a}");
    let (s, b) = app
        .json("POST", &uri("decline"), json!({"rep": "ana"}))
        .await;
    assert_eq!(
        (s, b["error"]["fields"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("reason"))
    );
    let (s, l) = app
        .json(
            "POST",
            &uri("decline"),
            json!({"rep": "ana", "reason": "conflict of interest"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{l}");
    assert_eq!(
        (l["status"].as_str(), l["owner"].as_str()),
        (Some("assigned"), Some("ben")),
        "handed on at once: {l}"
    );
    assert_eq!(
        (open_leads(&app, "ana").await, open_leads(&app, "ben").await),
        (0, 1)
    );
    // Ben releases it: nobody else can take it (ana declined), so it waits.
    let (s, l) = app
        .json("POST", &uri("release"), json!({"rep": "ben"}))
        .await;
    assert_eq!(
        (s, l["status"].as_str()),
        (StatusCode::OK, Some("unassigned")),
        "{l}"
    );
    assert_eq!(open_leads(&app, "ben").await, 0);
    let reasons = &l["decision"]["steps"][0]["candidates"];
    assert_eq!(reasons[0]["reasons"][0]["reason"], "declined_before", "{l}");
    // A sweep finds nobody either: it never comes back to a rep who declined it.
    app.state.engine.retry_waiting().await.expect("sweep");
    let (_, l) = app.get(&format!("/v1/leads/{id}")).await;
    assert_eq!(l["status"], "unassigned");
    let history: Vec<(String, String)> = l["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|h| {
            (
                h["event"].as_str().unwrap_or_default().to_owned(),
                h["reason"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        history.contains(&("declined".into(), "conflict of interest".into())),
        "{history:?}"
    );
    assert!(history.iter().any(|(e, _)| e == "released"));
}
