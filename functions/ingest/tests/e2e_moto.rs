//! End to end through real protocols: a real API Gateway v2 event into the ingest handler, which
//! sends the lead to SQS (moto, through the AWS SDK); the messages SQS delivers become a real SQS
//! event for the router handler, which routes them in DynamoDB (moto, through the AWS SDK).
//! Redelivering the same SQS event changes nothing.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsEvent;
use http_body_util::BodyExt;
use leadrouter_api::AppState;
use leadrouter_aws::moto::{dynamo_store, moto, sqs_queue};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{LeadStore, Queue, RoutingStore, SystemClock};
use leadrouter_domain::record::LeadStatus;
use leadrouter_ingest::{Deps, app};
use serde_json::Value;
use tower::ServiceExt;

const CONFIG: &str = "[[reps]]\nid = \"a\"\n[[reps]]\nid = \"b\"\n[[pools]]\nid = \"p\"\nmembers = [\"a\", \"b\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lead_goes_from_the_gateway_through_sqs_to_an_owner_in_dynamodb() {
    let moto = moto(true).await;
    let store = Arc::new(dynamo_store(&moto, "leadrouter").await);
    let queue = Arc::new(sqs_queue(&moto, "leadrouter-intake", Duration::from_secs(30), 5).await);
    let cfg = || RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let engine = Arc::new(Engine::new(store.clone(), cfg(), Arc::new(SystemClock)));
    let ingest = Deps {
        state: AppState {
            engine: engine.clone(),
            queue: queue.clone(),
            default_country: None,
            sources: Arc::default(),
            metrics: Arc::default(),
            public_url: None,
            auth: leadrouter_api::ApiAuth::from_list("test-api-token-0123456789").expect("token"),
            configs: None,
        },
    };

    // 1. The gateway event into the ingest function.
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/apigw-v2-post-lead.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event");
    let request = lambda_http::request::from_str(&text)
        .expect("gateway event")
        .map(|b| axum::body::Body::from(b.to_vec()));
    let response = app(&ingest).oneshot(request).await.expect("infallible");
    assert_eq!(response.status().as_u16(), 202);
    let body: Value = serde_json::from_slice(
        &response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes(),
    )
    .expect("json");
    let id = body["id"].as_str().expect("id").to_owned();

    // 2. SQS delivers it; build the event Lambda would hand the router.
    let messages = queue
        .receive(10, Duration::from_secs(1))
        .await
        .expect("receive");
    assert_eq!(messages.len(), 1);
    let event: SqsEvent = serde_json::from_value(leadrouter_aws::moto::sqs_event(
        &messages,
        "leadrouter-intake",
    ))
    .expect("sqs event");

    // 3. The router function routes the batch into DynamoDB.
    let router = leadrouter_router::Deps {
        engine,
        config: None,
    };
    let response = leadrouter_router::handle(&router, event.clone()).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    let rec = store
        .get_lead(id.parse().expect("uuid"))
        .await
        .expect("get")
        .expect("stored in DynamoDB");
    assert_eq!(
        (rec.status, rec.owner.as_deref()),
        (LeadStatus::Assigned, Some("a"))
    );
    assert_eq!(
        rec.decision.as_ref().map(|d| d.rule.name.as_str()),
        Some("default")
    );
    assert_eq!(rec.lead.phone.as_deref(), Some("+14155550132"));

    // 4. SQS redelivers (at least once): nothing changes.
    let again = leadrouter_router::handle(&router, event).await;
    assert!(again.batch_item_failures.is_empty());
    let states = store
        .get_reps(&["a".into(), "b".into()])
        .await
        .expect("reps");
    assert_eq!(
        states.iter().map(|s| s.open_leads).collect::<Vec<_>>(),
        [1, 0]
    );
    let pool = store.get_pool("p").await.expect("pool");
    assert_eq!((pool.turn, pool.version), (1, 1));
    for m in messages {
        queue.ack(&m.receipt).await.expect("ack");
    }
}
