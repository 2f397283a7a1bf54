//! The router handler with a real SQS event: good messages are routed (redeliveries included),
//! bad ones and only bad ones come back in `batchItemFailures`.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{LeadStore, SystemClock};
use leadrouter_domain::record::LeadStatus;
use leadrouter_embedded::EmbeddedStore;
use leadrouter_router::{Deps, handle};
use uuid::Uuid;

const CONFIG: &str = r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[pools]]
id = "p"
members = ["a", "b"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

#[tokio::test]
async fn routes_the_batch_and_reports_only_the_bad_messages() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    let deps = Deps {
        engine: Arc::new(Engine::new(store.clone(), cfg, Arc::new(SystemClock))),
    };
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/sqs-batch.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event");
    let event: SqsEvent = serde_json::from_str(&text).expect("a real SQS event");

    let response = handle(&deps, event.clone()).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        ["m-4", "m-5"],
        "only the unparseable and the invalid message fail"
    );

    for id in [
        "0195a000-0000-7000-8000-000000000001",
        "0195a000-0000-7000-8000-000000000002",
    ] {
        let rec = store
            .get_lead(Uuid::parse_str(id).expect("uuid"))
            .await
            .expect("get")
            .expect("stored");
        assert_eq!(rec.status, LeadStatus::Assigned);
        assert_eq!(
            rec.history.iter().filter(|h| h.event == "assigned").count(),
            1,
            "m-6 redelivered m-1: once"
        );
    }
    // The envelope became a lead too: three leads, two reps, round robin.
    let states =
        leadrouter_domain::ports::RoutingStore::get_reps(store.as_ref(), &["a".into(), "b".into()])
            .await
            .expect("reps");
    assert_eq!(states.iter().map(|s| s.open_leads).sum::<u32>(), 3);

    // SQS redelivers the whole event: nothing new, the same failures.
    let again = handle(&deps, event).await;
    assert_eq!(again.batch_item_failures.len(), 2);
    let states =
        leadrouter_domain::ports::RoutingStore::get_reps(store.as_ref(), &["a".into(), "b".into()])
            .await
            .expect("reps");
    assert_eq!(states.iter().map(|s| s.open_leads).sum::<u32>(), 3);
    // The response serializes as Lambda expects.
    let json = serde_json::to_value(&again).expect("json");
    assert_eq!(json["batchItemFailures"][0]["itemIdentifier"], "m-4");
}
