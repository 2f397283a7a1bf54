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
        config: None,
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

/// One SQS event of one lead message.
fn one_lead_event(n: u32) -> (Uuid, SqsEvent) {
    let id = Uuid::parse_str(&format!("0195b000-0000-7000-8000-{n:012}")).expect("uuid");
    let body = serde_json::json!({
        "id": id, "received_at": "2026-11-23T09:00:00Z", "source": "api",
        "email": format!("lead{n}@corp.de"), "country": "DE"
    });
    let event = serde_json::json!({ "Records": [{
        "messageId": format!("m-{n}"), "receiptHandle": format!("h-{n}"),
        "body": body.to_string(), "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:leadrouter-intake",
        "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}
    }]});
    (id, serde_json::from_value(event).expect("sqs event"))
}

/// With the config in the store, a version pushed while the router is warm decides the leads of
/// the first batch after the next check (at most 10 s by the engine's clock), and their
/// decisions carry its fingerprint.
#[tokio::test]
async fn a_pushed_config_is_picked_up_on_the_next_batch() {
    use leadrouter_domain::config_store::{ConfigDoc, ConfigWatcher, load_current, push};
    use leadrouter_domain::ports::{Clock, ManualClock};

    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
        .expect("time")
        .to_utc();
    let clock = Arc::new(ManualClock::new(start));
    let pushed = |src: &str, at| {
        ConfigDoc::validated(src.to_owned(), Format::Toml, "t.toml", "ada", "", at)
            .expect("valid")
            .0
    };
    push(store.as_ref(), &pushed(CONFIG, start), 3)
        .await
        .expect("push v1");
    let (meta1, cfg) = load_current(store.as_ref()).await.expect("load v1");
    let engine = Arc::new(Engine::new(store.clone(), cfg, clock.clone()));
    let watcher = ConfigWatcher::new(
        store.clone(),
        chrono::Duration::seconds(10),
        Some(meta1.version),
        Some(clock.now()),
    );
    let deps = Deps {
        engine,
        config: Some(Arc::new(watcher)),
    };
    let decided = |id: Uuid| {
        let store = store.clone();
        async move {
            let rec = store.get_lead(id).await.expect("get").expect("stored");
            let d = rec.decision.expect("decided");
            (d.config_version, rec.pool, rec.owner)
        }
    };

    let (id1, event) = one_lead_event(1);
    assert!(handle(&deps, event).await.batch_item_failures.is_empty());
    assert_eq!(decided(id1).await.0, meta1.hash);

    // v2 sends everything to pool q, whose only member is b.
    let v2 =
        format!("{CONFIG}\n[[pools]]\nid = \"q\"\nmembers = [\"b\"]\nstrategy = \"round_robin\"\n")
            .replace("pool = \"p\"", "pool = \"q\"");
    let doc2 = pushed(&v2, start);
    assert!(matches!(
        push(store.as_ref(), &doc2, 3).await.expect("push v2"),
        leadrouter_domain::config_store::PutOutcome::Stored { version: 2 }
    ));

    // 5 s later: not time to check yet, still v1.
    clock.advance(chrono::Duration::seconds(5));
    let (id2, event) = one_lead_event(2);
    assert!(handle(&deps, event).await.batch_item_failures.is_empty());
    assert_eq!(decided(id2).await.0, meta1.hash);

    // 10 s after the last check: the next batch runs on v2.
    clock.advance(chrono::Duration::seconds(5));
    let (id3, event) = one_lead_event(3);
    assert!(handle(&deps, event).await.batch_item_failures.is_empty());
    let (version, pool, owner) = decided(id3).await;
    assert_eq!(version, doc2.meta.hash);
    assert_ne!(doc2.meta.hash, meta1.hash);
    assert_eq!((pool.as_deref(), owner.as_deref()), (Some("q"), Some("b")));
    assert_eq!(deps.config.as_ref().and_then(|w| w.running()), Some(2));

    // An invalid document pushed behind the CLI's back is reported, not adopted: routing goes on
    // with v2.
    let mut broken = doc2.clone();
    broken.source = "[[rules]]\nname = \"default\"\npool = \"nowhere\"\n".into();
    push(store.as_ref(), &broken, 3).await.expect("push v3");
    clock.advance(chrono::Duration::seconds(10));
    let (id4, event) = one_lead_event(4);
    assert!(handle(&deps, event).await.batch_item_failures.is_empty());
    assert_eq!(decided(id4).await.0, doc2.meta.hash);
}
