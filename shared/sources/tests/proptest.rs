//! `decode` and `verify` never panic, whatever the bytes, content type or shape.
#![allow(clippy::unwrap_used)]

use chrono::{TimeZone, Utc};
use leadrouter_sources::{Auth, Mapping, SOURCES, decode_all, verify};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn content_types() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("application/json".to_owned()),
        Just("application/x-www-form-urlencoded".to_owned()),
        Just("multipart/form-data; boundary=b".to_owned()),
        Just("multipart/form-data".to_owned()),
        Just("multipart/form-data; boundary=\"\"".to_owned()),
        Just("text/plain".to_owned()),
        ".{0,80}",
    ]
}

/// Arbitrary JSON, biased towards the keys the adapters look for.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("email".to_owned()),
        Just("name".to_owned()),
        Just("id".to_owned()),
        Just("type".to_owned()),
        Just("value".to_owned()),
        Just("values".to_owned()),
        Just("label".to_owned()),
        Just("key".to_owned()),
        Just("field".to_owned()),
        Just("options".to_owned()),
        Just("first".to_owned()),
        Just("full".to_owned()),
        Just("city".to_owned()),
        Just("questionId".to_owned()),
        Just("answerDetails".to_owned()),
        Just("leadgen_id".to_owned()),
        "[a-z_]{1,8}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// JSON shaped like each source's payload, with arbitrary contents in the interesting places.
fn shaped(source: &str, v: Value) -> Value {
    match source {
        "typeform" => json!({"event_type": "form_response", "form_response": {
            "token": v, "answers": [v, {"type": "choice", "choice": v, "field": v}],
            "definition": {"fields": [v]}, "hidden": v, "calculated": v, "variables": [v]}}),
        "google-ads" => {
            json!({"lead_id": v, "user_column_data": [v, {"column_id": v, "string_value": v}], "is_test": v})
        }
        "facebook" => {
            json!({"object": "page", "entry": [v, {"id": v, "changes": [v, {"field": "leadgen", "value": v}]}], "field_data": [v]})
        }
        "hubspot" => {
            json!({"fields": [v], "context": v, "legalConsentOptions": v, "properties": v})
        }
        "webflow" => {
            json!({"triggerType": "form_submission", "payload": {"data": v, "schema": [v], "id": v}})
        }
        "tally" => {
            json!({"eventType": "FORM_RESPONSE", "data": {"responseId": v, "fields": [v, {"type": "MATRIX", "value": v, "rows": v}]}})
        }
        "calendly" => {
            json!({"event": "invitee.created", "payload": {"uri": v, "questions_and_answers": [v], "tracking": v}})
        }
        "linkedin" => {
            json!({"id": v, "formResponse": {"answers": [v, {"questionId": v, "answerDetails": v}]}, "elements": v})
        }
        _ => v,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_never_panics_on_bytes(
        ct in content_types(),
        body in prop::collection::vec(any::<u8>(), 0..512),
    ) {
        for source in SOURCES {
            let _ = decode_all(source, &ct, &body, &Mapping::default());
        }
    }

    #[test]
    fn decode_never_panics_on_json(v in json_value()) {
        for source in SOURCES {
            let bytes = serde_json::to_vec(&shaped(source, v.clone())).unwrap();
            let _ = decode_all(source, "application/json", &bytes, &Mapping::default());
            let raw = serde_json::to_vec(&v).unwrap();
            let _ = decode_all(source, "application/json", &raw, &Mapping::default());
        }
    }

    #[test]
    fn decode_never_panics_on_form_bodies(
        pairs in prop::collection::vec((".{0,10}", ".{0,40}"), 0..8),
        raw in json_value(),
    ) {
        let mut pairs = pairs;
        pairs.push(("rawRequest".into(), raw.to_string()));
        pairs.push(("data.json".into(), raw.to_string()));
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let mut multipart = String::new();
        for (k, v) in &pairs {
            multipart.push_str(&format!(
                "--b\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                k.replace('"', "")
            ));
        }
        multipart.push_str("--b--\r\n");
        for source in SOURCES {
            let _ = decode_all(source, "application/x-www-form-urlencoded", body.as_bytes(), &Mapping::default());
            let _ = decode_all(source, "multipart/form-data; boundary=b", multipart.as_bytes(), &Mapping::default());
        }
    }

    #[test]
    fn verify_never_panics(
        headers in prop::collection::vec((".{0,24}", ".{0,80}"), 0..6),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now_ms in any::<i64>(),
        method in ".{0,8}",
        url in ".{0,40}",
    ) {
        let now = Utc.timestamp_millis_opt(now_ms).single().unwrap_or_else(Utc::now);
        let mut headers = headers;
        for name in ["Typeform-Signature", "X-Hub-Signature-256", "X-HubSpot-Signature-v3",
                     "X-HubSpot-Request-Timestamp", "Calendly-Webhook-Signature",
                     "x-webflow-signature", "x-webflow-timestamp", "Tally-Signature"] {
            headers.push((name.to_owned(), headers.first().map(|h| h.1.clone()).unwrap_or_default()));
        }
        let auths = [
            Auth::TypeformHmac { secret: "s".into() },
            Auth::MetaSignature256 { app_secret: "s".into() },
            Auth::HubspotV3 { client_secret: "s".into() },
            Auth::CalendlySignature { signing_key: "s".into(), tolerance_secs: Some(u64::MAX) },
            Auth::WebflowSignature { secret: "s".into() },
            Auth::GoogleKey { key: "s".into() },
            Auth::TallySignature { signing_secret: "s".into() },
            Auth::ApiKey { header: "x-key".into(), key: "s".into() },
            Auth::None,
        ];
        for auth in &auths {
            let _ = verify(auth, &method, &url, &headers, &body, now);
        }
    }
}

/// A canonical-field name, `custom.<key>`, or junk (which `validate` must reject, not panic on).
fn mapping() -> impl Strategy<Value = Mapping> {
    let target = prop_oneof![
        prop::sample::select(leadrouter_sources::CANONICAL_FIELDS.to_vec()).prop_map(str::to_owned),
        "custom\\.[a-z_]{0,6}",
        ".{0,12}",
    ];
    let field = prop_oneof![
        Just("email".to_owned()),
        Just("name".to_owned()),
        Just("id".to_owned()),
        Just("value".to_owned()),
        ".{0,10}",
    ];
    prop::collection::btree_map(field, target, 0..5).prop_map(|fields| Mapping { fields })
}

/// Normalizes what an adapter decoded, as the webhook endpoint does, and checks that the
/// router's re-normalization leaves the lead as it is.
fn normalize_decoded(source: &str, decoded: Vec<leadrouter_sources::Decoded>) {
    for d in decoded {
        let intake = leadrouter_lead::Intake {
            // The id plays no part in normalization.
            id: leadrouter_lead::Lead::default().id,
            received_at: Utc.timestamp_opt(1_763_884_800, 0).unwrap(),
            source: source.to_owned(),
            default_country: Some("DE".into()),
            test: d.is_test,
            awaiting_enrichment: d.awaiting_enrichment,
        };
        if let Ok(lead) = leadrouter_lead::normalize_json(&Value::Object(d.fields), &intake) {
            let again = leadrouter_lead::renormalize(lead.clone()).ok();
            assert_eq!(
                again,
                Some(lead),
                "renormalize must leave a normalized lead unchanged"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every adapter, then normalization: whatever JSON arrives, no panic, and every lead that
    /// comes out is stable under the router's re-normalization.
    #[test]
    fn decode_and_normalize_never_panic_on_json(v in json_value()) {
        for source in SOURCES {
            let bytes = serde_json::to_vec(&shaped(source, v.clone())).unwrap();
            if let Ok(decoded) = decode_all(source, "application/json", &bytes, &Mapping::default()) {
                normalize_decoded(source, decoded);
            }
        }
    }

    /// The same through form and multipart bodies, with arbitrary admin mappings.
    #[test]
    fn decode_and_normalize_never_panic_on_forms_with_any_mapping(
        pairs in prop::collection::vec((prop_oneof![Just("email".to_owned()), Just("phone".to_owned()), Just("name".to_owned()), ".{0,10}"], ".{0,40}"), 0..8),
        mapping in mapping(),
    ) {
        let body = serde_urlencoded::to_string(&pairs).unwrap();
        let mut multipart = String::new();
        for (k, v) in &pairs {
            multipart.push_str(&format!(
                "--b\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{v}\r\n",
                k.replace(['"', '\r', '\n'], "")
            ));
        }
        multipart.push_str("--b--\r\n");
        for source in SOURCES {
            for (ct, bytes) in [
                ("application/x-www-form-urlencoded", body.as_bytes()),
                ("multipart/form-data; boundary=b", multipart.as_bytes()),
            ] {
                if let Ok(decoded) = decode_all(source, ct, bytes, &mapping) {
                    normalize_decoded(source, decoded);
                }
            }
        }
    }
}
