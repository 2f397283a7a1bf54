//! `docs/queue-message.schema.json` stays in sync with the canonical lead: the schema lists
//! exactly the fields `Lead` serializes, and the envelope exactly the fields the worker reads.

use std::collections::BTreeSet;

use leadrouter_lead::Lead;
use serde_json::Value;

fn schema() -> Value {
    let path = format!(
        "{}/../../docs/queue-message.schema.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("schema file"))
        .expect("schema is JSON")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn canonical_lead_properties_match_the_lead_struct() {
    // Every field set, so that every key serializes.
    let lead = Lead {
        external_id: Some("x".into()),
        email: Some("a@b.co".into()),
        phone: Some("+4930123456".into()),
        first_name: Some("a".into()),
        last_name: Some("b".into()),
        company: Some("c".into()),
        company_domain: Some("b.co".into()),
        job_title: Some("t".into()),
        country: Some("DE".into()),
        region: Some("BE".into()),
        city: Some("Berlin".into()),
        postal_code: Some("10115".into()),
        industry: Some("i".into()),
        product_interest: vec!["p".into()],
        seats: Some(1),
        deal_value: Some(1.0),
        currency: Some("EUR".into()),
        score: Some(1.0),
        language: Some("de".into()),
        utm_source: Some("s".into()),
        utm_medium: Some("m".into()),
        utm_campaign: Some("c".into()),
        utm_term: Some("t".into()),
        utm_content: Some("c".into()),
        landing_page: Some("https://b.co".into()),
        consent: Some(true),
        message: Some("m".into()),
        test: true,
        awaiting_enrichment: true,
        custom: serde_json::Map::from_iter([("k".to_owned(), Value::from(1))]),
        ..Lead::default()
    };
    let serialized = keys(&serde_json::to_value(&lead).expect("serialize"));
    let s = schema();
    let documented = keys(&s["$defs"]["canonicalLead"]["properties"]);
    assert_eq!(documented, serialized, "schema properties vs Lead fields");
    let required: BTreeSet<String> = s["$defs"]["canonicalLead"]["required"]
        .as_array()
        .expect("required")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "id".to_owned(),
            "received_at".to_owned(),
            "source".to_owned()
        ])
    );
}

#[test]
fn envelope_properties_are_the_ones_the_worker_reads() {
    let documented = keys(&schema()["$defs"]["sourceEnvelope"]["properties"]);
    assert_eq!(
        documented,
        BTreeSet::from(["source".into(), "payload".into(), "content_type".into()])
    );
    let sources = schema()["$defs"]["sourceEnvelope"]["properties"]["source"]["description"]
        .as_str()
        .expect("description")
        .to_owned();
    for adapter in leadrouter_sources::SOURCES {
        assert!(
            sources.contains(adapter),
            "schema does not list adapter {adapter}"
        );
    }
}
