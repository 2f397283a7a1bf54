//! The sweeper handler with a real EventBridge schedule event: leads waiting because nobody was
//! eligible are handed out once someone is, and overlapping sweeps never double-assign.

use std::sync::Arc;

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use chrono::{TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::engine::Engine;
use leadrouter_domain::ports::{Clock, LeadStore, ManualClock};
use leadrouter_domain::record::LeadStatus;
use leadrouter_embedded::EmbeddedStore;
use leadrouter_lead::Lead;
use leadrouter_sweeper::{Deps, handle};
use uuid::Uuid;

/// One rep on a 09:00-17:00 UTC shift.
const CONFIG: &str = r#"
[[reps]]
id = "a"
working_hours = ["mon-fri 09:00-17:00"]
[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#;

#[tokio::test]
async fn a_scheduled_sweep_hands_out_leads_that_waited_overnight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(EmbeddedStore::open(&dir.path().join("db.sqlite")).expect("store"));
    let cfg = RoutingConfig::parse(CONFIG, Format::Toml, "t.toml").expect("config");
    // Monday 06:00 UTC: before the shift.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 23, 6, 0, 0)
            .single()
            .expect("time"),
    ));
    let engine = Arc::new(Engine::new(store.clone(), cfg, clock.clone()));
    let mut ids = Vec::new();
    for i in 0..3 {
        let lead = Lead {
            id: Uuid::now_v7(),
            received_at: clock.now(),
            source: "api".into(),
            email: Some(format!("night{i}@corp.de")),
            ..Lead::default()
        };
        ids.push(lead.id);
        engine.ingest(lead).await.expect("ingest");
    }
    let deps = Deps { engine };
    let text = std::fs::read_to_string(format!(
        "{}/tests/events/schedule.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("event");
    let event: EventBridgeEvent = serde_json::from_str(&text).expect("a real EventBridge event");

    assert_eq!(
        handle(&deps, event.clone()).await.expect("sweep").assigned,
        0,
        "nobody on shift yet"
    );
    clock.set(
        Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
            .single()
            .expect("time"),
    );
    // Two overlapping sweeps at 09:00.
    let (a, b) = tokio::join!(handle(&deps, event.clone()), handle(&deps, event));
    assert_eq!(
        a.expect("sweep").assigned + b.expect("sweep").assigned,
        3,
        "each lead handed out once"
    );
    for id in ids {
        let rec = store.get_lead(id).await.expect("get").expect("stored");
        assert_eq!(
            (rec.status, rec.owner.as_deref()),
            (LeadStatus::Assigned, Some("a"))
        );
        assert_eq!(
            rec.history.iter().filter(|h| h.event == "assigned").count(),
            1
        );
    }
}
