//! Normalization cost: each source's published example payload decoded by its adapter and
//! normalized into canonical leads (email, phone to E.164, country, names, numbers, UTM), the
//! same call the webhook endpoint and the router make. Figures are per payload; payloads with
//! two leads (Facebook's notification) are marked in `docs/benchmarks.md`.
//!
//! `cargo bench -p leadrouter-domain --bench normalize`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::intake::leads_from_payload;
use uuid::Uuid;

/// The allocator the binaries use, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// (bench name, source, fixture file, content type)
const CASES: &[(&str, &str, &str, &str)] = &[
    ("typeform", "typeform", "typeform/form_response.json", JSON),
    (
        "google-ads",
        "google-ads",
        "google-ads/lead_form_webhook.json",
        JSON,
    ),
    ("facebook", "facebook", "facebook/lead.json", JSON),
    ("hubspot", "hubspot", "hubspot/v3_submission.json", JSON),
    (
        "salesforce",
        "salesforce",
        "salesforce/web_to_lead.txt",
        FORM,
    ),
    ("unbounce", "unbounce", "unbounce/form_submit.txt", FORM),
    (
        "webflow",
        "webflow",
        "webflow/form_submission_v2.json",
        JSON,
    ),
    (
        "jotform",
        "jotform",
        "jotform/webhook_multipart.txt",
        "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW",
    ),
    ("tally", "tally", "tally/form_response.json", JSON),
    (
        "calendly",
        "calendly",
        "calendly/invitee_created.json",
        JSON,
    ),
    (
        "linkedin",
        "linkedin",
        "linkedin/lead_form_response.json",
        JSON,
    ),
    ("zapier", "zapier", "zapier/webhook_post.json", JSON),
    ("generic", "generic", "generic/nested.json", JSON),
];

const CONFIG: &str = r#"
[[reps]]
id = "a"
[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"

[sources.linkedin]
auth = { scheme = "none" }
mapping = { "1" = "first_name", "2" = "last_name", "3" = "email" }

[sources.generic]
auth = { scheme = "none" }
mapping = { "contact.email" = "email", "contact.first" = "first_name", "contact.last" = "last_name", "org.name" = "company" }
"#;

/// A plain HTML form post to `POST /v1/leads` (the canonical field names), and the canonical
/// JSON API body: the two intake shapes that are not a tool's adapter.
const CANONICAL_JSON: &str = r#"{"email": "Ana.Garcia@Example.DE", "phone": "030 1234567", "country": "Germany",
 "first_name": "ana", "last_name": "GARCIA", "company": "Example GmbH", "seats": "40",
 "utm_source": "google", "utm_campaign": "spring-sale", "message": "Call me"}"#;

fn bench(c: &mut Criterion) {
    let cfg =
        RoutingConfig::parse(CONFIG, Format::Toml, "bench.toml").unwrap_or_else(|e| panic!("{e}"));
    let received_at = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("time");
    let fixtures = format!("{}/../sources/fixtures", env!("CARGO_MANIFEST_DIR"));
    let fallback = |i: usize| Uuid::from_u128(i as u128 + 1);
    let mut group = c.benchmark_group("normalize");
    for (name, source, file, ct) in CASES {
        let body = std::fs::read(format!("{fixtures}/{file}")).expect("fixture");
        // Sanity: the payload decodes to at least one lead.
        let leads = leads_from_payload(&cfg, source, ct, &body, received_at, None, &fallback)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!leads.is_empty(), "{name}");
        group.bench_function(*name, |b| {
            b.iter(|| {
                std::hint::black_box(leads_from_payload(
                    &cfg,
                    source,
                    ct,
                    &body,
                    received_at,
                    None,
                    &fallback,
                ))
            });
        });
    }
    let canonical: serde_json::Value =
        serde_json::from_str(CANONICAL_JSON).expect("canonical json");
    let intake = leadrouter_lead::Intake {
        id: Uuid::from_u128(1),
        received_at,
        source: "api".into(),
        default_country: None,
        test: false,
        awaiting_enrichment: false,
    };
    group.bench_function("canonical-json", |b| {
        b.iter(|| std::hint::black_box(leadrouter_lead::normalize_json(&canonical, &intake)));
    });
    // The phone number alone (libphonenumber's parse and validation, twice: see `phone.rs`).
    let phone_only = serde_json::json!({"email": "a@example.de", "phone": "+44 20 7946 0000"});
    let email_only = serde_json::json!({"email": "a@example.de"});
    group.bench_function("phone-only", |b| {
        b.iter(|| std::hint::black_box(leadrouter_lead::normalize_json(&phone_only, &intake)));
    });
    group.bench_function("email-only", |b| {
        b.iter(|| std::hint::black_box(leadrouter_lead::normalize_json(&email_only, &intake)));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(1)).warm_up_time(std::time::Duration::from_millis(300));
    targets = bench
}
criterion_main!(benches);
