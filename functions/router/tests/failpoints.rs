//! Crashes at the engine's and the router's step boundaries (the `fail` crate's failpoints,
//! feature `failpoints`), on the AWS path: DynamoDB and SQS on moto through the real SDK, the
//! real router handler. Run by `tests/run-all.sh`:
//! `cargo test -p leadrouter-router --features failpoints --test failpoints`.
//!
//! For each point, a batch of 25 leads (two routing transactions: chunks of 20 and 5; Lambda's
//! SQS source hands out batches above 10 with a batching window) is handed to the router, which
//! crashes (panics) once at the point: nothing is acknowledged. The state at the crash is checked
//! (so the point is where it claims to be), then SQS redelivers and the batch is routed again.
//! Afterwards every lead has exactly one owner and one `assigned` event, counters equal
//! ownership, the rotation advanced once per lead, and an `assigned` event of every lead is on
//! the events queue (a crash after the write and before the send re-sends it on redelivery).

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use fail::FailScenario;
use leadrouter_aws::moto::{Moto, moto, sdk};
use leadrouter_aws::{DynamoStore, SqsQueue, create_queue_with_dlq, create_table};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{LeadStore, Queue, RoutingStore, SystemClock};
use leadrouter_router::Deps;
use serde_json::Value;
use uuid::Uuid;

const CONFIG: &str = "[settings]\nsticky_days = 0\n[[reps]]\nid = \"a\"\n[[reps]]\nid = \"b\"\n[[reps]]\nid = \"c\"\nmax_open_leads = 4\n[[pools]]\nid = \"p\"\nmembers = [\"a\", \"b\", \"c\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n";
const LEADS: usize = 25;

/// What the crashed attempt left behind, by point: (leads written, events sent).
fn expected_at_crash(point: &str) -> (usize, usize) {
    match point {
        // Nothing written.
        "engine::before_commit" => (0, 0),
        // The first chunk's transaction landed; its events were not sent.
        "engine::after_commit" => (20, 0),
        // The first chunk written and published, the second not written.
        "engine::between_chunks" => (20, 20),
        // Everything written and published; Lambda never heard back.
        "router::before_response" => (LEADS, LEADS),
        other => panic!("unknown point {other}"),
    }
}

async fn crash_then_redeliver(point: &str) {
    let dynamo_moto: Moto = moto(true).await;
    let sqs_moto: Moto = moto(false).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk(&dynamo_moto).await);
    create_table(&dynamo, "leadrouter").await.expect("table");
    let store = Arc::new(DynamoStore::new(dynamo, "leadrouter"));
    let sqs = aws_sdk_sqs::Client::new(&sdk(&sqs_moto).await);
    let (url, dlq_url) = create_queue_with_dlq(&sqs, "intake", Duration::from_secs(30), 5)
        .await
        .expect("queue");
    let (events_url, _) = create_queue_with_dlq(&sqs, "events", Duration::from_secs(30), 5)
        .await
        .expect("events queue");
    let queue = SqsQueue::new(sqs.clone(), url.clone());
    let events = SqsQueue::new(sqs.clone(), events_url.clone());
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "failpoints.toml").expect("config");
    let deps = Arc::new(Deps {
        engine: Arc::new(
            Engine::new(store.clone(), cfg, Arc::new(SystemClock))
                .with_events(Arc::new(events.clone())),
        ),
        config: None,
    });

    let leads: Vec<(Uuid, String)> = (0..LEADS).map(common::lead_message).collect();
    let bodies: Vec<String> = leads.iter().map(|l| l.1.clone()).collect();
    queue.send_batch(&bodies).await.expect("send");
    let ids: Vec<Uuid> = leads.iter().map(|l| l.0).collect();

    // The crash: one batch of all 25, the point set to panic once.
    fail::cfg(point, "1*panic").expect("failpoint");
    let messages = queue
        .receive(LEADS, Duration::from_secs(1))
        .await
        .expect("receive");
    assert_eq!(messages.len(), LEADS);
    let event = common::sqs_event(&messages);
    let crashed = {
        let deps = deps.clone();
        tokio::spawn(async move { leadrouter_router::handle(&deps, event).await }).await
    };
    assert!(
        crashed.as_ref().is_err_and(|e| e.is_panic()),
        "{point}: the router must have crashed: {crashed:?}"
    );
    fail::remove(point);

    // What the crash left: as the point claims.
    let mut written = 0;
    for id in &ids {
        if store.get_lead(*id).await.expect("get").is_some() {
            written += 1;
        }
    }
    let sent = common::depth(&sqs, &events_url).await;
    assert_eq!(
        (written, sent),
        expected_at_crash(point),
        "{point}: leads written, events sent"
    );

    // Redelivery: the visibility timeout ran out (released here at once).
    for m in &messages {
        queue
            .release(&m.receipt, Duration::ZERO)
            .await
            .expect("release");
    }
    for _ in 0..20 {
        if common::depth(&sqs, &url).await == 0 {
            break;
        }
        let p = common::poll(&deps, &queue, LEADS, Duration::from_secs(1)).await;
        assert!(p.failed.is_empty(), "{point}: {:?}", p.failed);
    }
    assert_eq!(common::depth(&sqs, &url).await, 0, "{point}: drained");
    assert_eq!(
        common::depth(&sqs, &dlq_url).await,
        0,
        "{point}: nothing dead-lettered"
    );

    let owned = common::owners(store.as_ref(), &ids).await;
    let reps: Vec<String> = ["a", "b", "c"].iter().map(|r| r.to_string()).collect();
    common::counters_match(store.as_ref(), &reps, &owned).await;
    assert!(
        owned.get("c").copied().unwrap_or(0) <= 4,
        "{point}: cap {owned:?}"
    );
    let pool = store.get_pool("p").await.expect("pool");
    assert_eq!(
        pool.turn as usize, LEADS,
        "{point}: one rotation turn per lead"
    );

    // Every lead's assignment reached the events queue at least once.
    let mut assigned_events = HashSet::new();
    loop {
        let batch = events.receive(10, Duration::ZERO).await.expect("events");
        if batch.is_empty() {
            break;
        }
        for m in batch {
            let e: Value = serde_json::from_str(&m.body).expect("event json");
            if e["type"] == "assigned" {
                assigned_events.insert(e["lead_id"].as_str().expect("lead_id").to_owned());
            }
            events.ack(&m.receipt).await.expect("ack");
        }
    }
    let missing: Vec<&Uuid> = ids
        .iter()
        .filter(|id| !assigned_events.contains(&id.to_string()))
        .collect();
    assert!(
        missing.is_empty(),
        "{point}: no `assigned` event for {missing:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_the_commit() {
    let scenario = FailScenario::setup();
    crash_then_redeliver("engine::before_commit").await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_after_the_commit_before_the_events() {
    let scenario = FailScenario::setup();
    crash_then_redeliver("engine::after_commit").await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_between_two_chunk_transactions() {
    let scenario = FailScenario::setup();
    crash_then_redeliver("engine::between_chunks").await;
    scenario.teardown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_before_the_batch_response() {
    let scenario = FailScenario::setup();
    crash_then_redeliver("router::before_response").await;
    scenario.teardown();
}
