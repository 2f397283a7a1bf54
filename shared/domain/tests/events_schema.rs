//! `docs/events.schema.json` stays in sync with [`LeadEvent`]: the schema lists exactly the keys
//! an event serializes, requires the ones that are always present, and names every history
//! event type the engine writes.

use std::collections::BTreeSet;

use chrono::Utc;
use leadrouter_domain::events::LeadEvent;
use leadrouter_domain::record::{Due, DueKind, HistoryEntry, LeadRecord, LeadStatus};
use leadrouter_lead::Lead;
use serde_json::Value;

fn schema() -> Value {
    let path = format!(
        "{}/../../docs/events.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file"))
        .expect("schema is JSON")
}

fn strings(v: &Value) -> BTreeSet<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn schema_properties_match_the_event() {
    let mut rec = LeadRecord::received(Lead {
        id: uuid::Uuid::now_v7(),
        received_at: Utc::now(),
        source: "api".into(),
        score: Some(1.0),
        ..Lead::default()
    });
    rec.owner = Some("b".into());
    rec.pool = Some("p".into());
    rec.status = LeadStatus::Assigned;
    rec.due = Some(Due {
        at: Utc::now(),
        kind: DueKind::Accept,
    });
    rec.history.push(HistoryEntry {
        at: Utc::now(),
        event: "reassigned".into(),
        rep: Some("b".into()),
        pool: Some("p".into()),
        reason: Some("late".into()),
    });
    let full = serde_json::to_value(LeadEvent::of(&rec, Some("a")).expect("event")).expect("json");
    let keys: BTreeSet<String> = full.as_object().expect("object").keys().cloned().collect();
    let schema = schema();
    let props: BTreeSet<String> = schema["properties"]
        .as_object()
        .expect("properties")
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        keys, props,
        "every event key is documented, and nothing more"
    );

    let minimal = LeadRecord::received(Lead::default());
    let min = serde_json::to_value(LeadEvent::of(&minimal, None).expect("event")).expect("json");
    let min_keys: BTreeSet<String> = min.as_object().expect("object").keys().cloned().collect();
    assert_eq!(
        min_keys,
        strings(&schema["required"]),
        "required = always present"
    );
}

#[test]
fn schema_names_every_status_and_event_type() {
    let schema = schema();
    let statuses = strings(&schema["properties"]["status"]["enum"]);
    for s in [
        "queued",
        "assigned",
        "accepted",
        "contacted",
        "converted",
        "lost",
        "awaiting_claim",
        "unassigned",
        "nurture",
        "spam",
        "test",
        "awaiting_enrichment",
    ] {
        let parsed = LeadStatus::parse(s).expect("a status");
        assert!(statuses.contains(parsed.as_str()), "{s} documented");
    }
    assert_eq!(statuses.len(), 12);
    let types = strings(&schema["properties"]["type"]["enum"]);
    // The engine's history events (engine/mod.rs, engine/sweep.rs, record_plan outcomes).
    for t in [
        "received",
        "assigned",
        "reassigned",
        "escalated",
        "claimed",
        "unassigned",
        "awaiting_claim",
        "accepted",
        "declined",
        "released",
        "contacted",
        "converted",
        "lost",
        "sla_breached",
        "nurture",
        "spam",
        "test",
    ] {
        assert!(types.contains(t), "event type {t} documented");
    }
}
