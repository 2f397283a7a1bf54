//! Every source's published example payload, decoded by its adapter and normalized, compared
//! with the exact canonical leads expected (`tests/golden/<source>__<fixture>.json`).
//!
//! The expected files were generated once with `UPDATE_GOLDEN=1 cargo test -p leadrouter-domain
//! --test fixtures_canonical` and reviewed by hand; re-generate only with a review of the diff.

use chrono::{TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::intake::leads_from_payload;
use uuid::Uuid;

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

/// (source, fixture file, content type)
const CASES: &[(&str, &str, &str)] = &[
    ("typeform", "typeform/form_response.json", JSON),
    ("google-ads", "google-ads/lead_form_webhook.json", JSON),
    ("facebook", "facebook/lead.json", JSON),
    ("facebook", "facebook/leadgen_notification.json", JSON),
    ("hubspot", "hubspot/v3_submission.json", JSON),
    ("hubspot", "hubspot/contact_properties.json", JSON),
    ("salesforce", "salesforce/web_to_lead.txt", FORM),
    ("unbounce", "unbounce/form_submit.txt", FORM),
    ("webflow", "webflow/form_submission_v2.json", JSON),
    ("webflow", "webflow/form_submission_v1.json", JSON),
    ("webflow", "webflow/tutorial_delivery.json", JSON),
    (
        "jotform",
        "jotform/webhook_multipart.txt",
        "multipart/form-data; boundary=------JotformBoundary7MA4YWxkTrZu0gW",
    ),
    ("tally", "tally/form_response.json", JSON),
    ("calendly", "calendly/invitee_created.json", JSON),
    (
        "calendly",
        "calendly/invitee_created_with_answers.json",
        JSON,
    ),
    ("linkedin", "linkedin/lead_form_response.json", JSON),
    ("zapier", "zapier/webhook_post.json", JSON),
    ("generic", "generic/nested.json", JSON),
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

#[test]
fn published_payloads_become_the_expected_canonical_leads() {
    let cfg =
        RoutingConfig::parse(CONFIG, Format::Toml, "golden.toml").unwrap_or_else(|e| panic!("{e}"));
    let received_at = Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 30, 0)
        .single()
        .expect("time");
    let fixtures = format!("{}/../sources/fixtures", env!("CARGO_MANIFEST_DIR"));
    let golden = format!("{}/tests/golden", env!("CARGO_MANIFEST_DIR"));
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (source, file, ct) in CASES {
        let body = std::fs::read(format!("{fixtures}/{file}")).expect("fixture");
        let fallback =
            |i: usize| Uuid::from_u128(0x0195_0000_0000_7000_8000_0000_0000_0000 + i as u128);
        let leads = leads_from_payload(&cfg, source, ct, &body, received_at, None, &fallback)
            .unwrap_or_else(|e| panic!("{source} {file}: {e}"));
        assert!(!leads.is_empty(), "{source} {file}: no lead");
        let actual = serde_json::to_string_pretty(&leads).expect("json") + "\n";
        let name = format!(
            "{golden}/{source}__{}.json",
            file.rsplit('/')
                .next()
                .unwrap_or(file)
                .split('.')
                .next()
                .unwrap_or(file)
        );
        if update {
            std::fs::write(&name, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&name).unwrap_or_default();
        if expected != actual {
            mismatches.push(format!(
                "{name}:\n--- expected\n{expected}\n--- actual\n{actual}"
            ));
        }
        // Every canonical lead is a fixed point of normalization.
        for lead in leads {
            assert_eq!(
                leadrouter_lead::renormalize(lead.clone()),
                Ok(lead),
                "{source} {file}"
            );
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} golden mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}
