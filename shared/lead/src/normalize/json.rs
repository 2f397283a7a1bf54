//! JSON bodies of the canonical API, and canonical leads, as drafts.

use super::pipeline::{Draft, IGNORED, is_field, keep_custom};
use crate::{FieldProblem, Lead};
use serde_json::{Map, Number, Value};

/// A draft lead from a JSON body, or the problem with a body that is not an object.
pub(crate) fn draft(body: &Value) -> Result<Draft, FieldProblem> {
    match body {
        Value::Object(object) => Ok(draft_owned(object.clone())),
        _ => Err(FieldProblem::new("body", "must be a JSON object")),
    }
}

/// A draft lead from a JSON object the caller owns (its values are moved, not copied: a decoded
/// webhook payload can carry kilobytes of form answers).
///
/// Canonical keys become fields; `id`, `received_at` and `source` are ignored; a `custom`
/// object is merged into custom; every other key goes to custom verbatim (top-level keys win
/// over keys of the same name in `custom`). Null and blank-string values count as absent.
pub(crate) fn draft_owned(object: Map<String, Value>) -> Draft {
    let mut d = Draft::default();
    let mut top_level = Map::new();
    for (key, value) in object {
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        if key == "custom" {
            match value {
                Value::Object(mut nested) => {
                    // Keys are unique: `d.custom` is still empty, so the map is kept as it is
                    // rather than re-inserted key by key.
                    nested.retain(|_, v| keep_custom(v));
                    d.custom = nested;
                }
                Value::Null => {}
                _ => d
                    .problems
                    .push(FieldProblem::new("custom", "must be an object")),
            }
        } else if is_field(&key) {
            d.fields.insert(key, value);
        } else if keep_custom(&value) {
            top_level.insert(key, value);
        }
    }
    d.custom.extend(top_level);
    d
}

/// A canonical lead as a draft (its id, time and source are returned apart), so that it goes
/// through exactly the same normalization as a submission.
pub(crate) fn draft_from_lead(
    lead: Lead,
) -> (Draft, (uuid::Uuid, chrono::DateTime<chrono::Utc>, String)) {
    // Destructured in full: a new Lead field fails to compile here until it is handled.
    let Lead {
        id,
        received_at,
        source,
        external_id,
        email,
        phone,
        first_name,
        last_name,
        company,
        company_domain,
        job_title,
        country,
        region,
        city,
        postal_code,
        industry,
        product_interest,
        seats,
        deal_value,
        currency,
        score,
        language,
        utm_source,
        utm_medium,
        utm_campaign,
        utm_term,
        utm_content,
        landing_page,
        consent,
        message,
        custom,
        // Intake markers: carried by `renormalize` itself, not through the draft.
        test: _,
        awaiting_enrichment: _,
    } = lead;
    let mut fields = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            fields.insert(key.to_string(), value);
        }
    };
    // Non-finite floats cannot be JSON numbers; as text they are reported as not numbers.
    let float =
        |v: f64| Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number);
    for (key, value) in [
        ("external_id", external_id),
        ("email", email),
        ("phone", phone),
        ("first_name", first_name),
        ("last_name", last_name),
        ("company", company),
        ("company_domain", company_domain),
        ("job_title", job_title),
        ("country", country),
        ("region", region),
        ("city", city),
        ("postal_code", postal_code),
        ("industry", industry),
        ("currency", currency),
        ("language", language),
        ("utm_source", utm_source),
        ("utm_medium", utm_medium),
        ("utm_campaign", utm_campaign),
        ("utm_term", utm_term),
        ("utm_content", utm_content),
        ("landing_page", landing_page),
        ("message", message),
    ] {
        put(key, value.map(Value::String));
    }
    if !product_interest.is_empty() {
        put(
            "product_interest",
            Some(Value::Array(
                product_interest.into_iter().map(Value::String).collect(),
            )),
        );
    }
    put("seats", seats.map(Value::from));
    put("deal_value", deal_value.map(float));
    put("score", score.map(float));
    put("consent", consent.map(Value::Bool));
    let custom = custom.into_iter().filter(|(_, v)| keep_custom(v)).collect();
    (
        Draft {
            fields,
            custom,
            problems: Vec::new(),
        },
        (id, received_at, source),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn splits_fields_and_custom() {
        let d = draft(&json!({
            "email": "a@b.com",
            "id": "x", "received_at": "y", "source": "z",
            "name": "Ana López",
            "plan": "pro",
            "blank": "  ",
            "nothing": null,
            "custom": {"plan": "free", "tier": 2, "gone": null},
        }))
        .expect("object");
        assert_eq!(
            d.fields,
            json!({"email": "a@b.com"})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        assert_eq!(
            d.custom,
            json!({"name": "Ana López", "plan": "pro", "tier": 2})
                .as_object()
                .cloned()
                .unwrap_or_default()
        );
        assert!(d.problems.is_empty());
    }

    #[test]
    fn body_must_be_an_object() {
        for body in [json!([]), json!("x"), json!(null), json!(1)] {
            assert_eq!(
                draft(&body).err(),
                Some(FieldProblem::new("body", "must be a JSON object"))
            );
        }
        let d = draft(&json!({"custom": "x"})).expect("object");
        assert_eq!(
            d.problems,
            vec![FieldProblem::new("custom", "must be an object")]
        );
    }
}
