//! Meta (Facebook / Instagram) lead ads.
//!
//! Two shapes are accepted:
//!
//! 1. **The lead object** read from the Graph API (`GET /{lead-id}`), or a bulk read
//!    `{"data": [lead, ...]}`:
//!    <https://developers.facebook.com/docs/marketing-api/guides/lead-ads/retrieving>.
//!    Each `field_data` entry is matched on its `name` (Meta's standard question names such
//!    as `full_name`, `email`, `phone_number`, `company_name`, `job_title`, `zip_code`, `city`,
//!    `state`, `country` are covered by the default heuristics); a single value is a string,
//!    several are an array; unmatched entries go to `custom` under their name. `id` is the
//!    external id; everything else (`created_time`, `ad_id`, `form_id`, `campaign_id`,
//!    `is_organic`, `platform`, `custom_disclaimer_responses`, ...) goes to `custom`. Meta
//!    publishes no test-lead flag on the lead object; a boolean `is_test`, if a relay adds
//!    one, sets [`Decoded::is_test`].
//! 2. **The bare webhook notification** (`object: "page"`, `changes[].field == "leadgen"`):
//!    <https://developers.facebook.com/docs/graph-api/webhooks/getting-started/webhooks-for-leadgen/>.
//!    It carries ids only, so each `leadgen` change becomes a lead with
//!    [`Decoded::awaiting_enrichment`] set, `leadgen_id` as the external id, and the change's
//!    ids (`leadgen_id`, `page_id`, `form_id`, `adgroup_id`, `ad_id`, as strings) plus
//!    `created_time` in `custom`. One notification may batch several changes (use
//!    [`crate::decode_all`]). A page notification without `leadgen` changes is
//!    [`SourceError::NotALead`].

use serde_json::{Map, Value};

use super::{json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink, id_value};
use crate::{Decoded, SourceError};

/// Decodes a Meta lead object, bulk read, or leadgen notification.
pub fn decode(
    ct: &ContentType,
    body: &[u8],
    mapping: &Mapping,
) -> Result<Vec<Decoded>, SourceError> {
    let mut root = json_body("facebook", ct, body)?;
    if root.contains_key("entry") || root.get("object").is_some_and(|o| o == "page") {
        return notification(root, mapping);
    }
    if let Some(Value::Array(_)) = root.get("data") {
        let Value::Array(leads) = take(&mut root, "data") else {
            return Err(SourceError::NoLead);
        };
        return leads
            .into_iter()
            .map(|l| match l {
                Value::Object(l) => lead(l, mapping),
                _ => Err(SourceError::Malformed("data[] entry is not a lead object")),
            })
            .collect();
    }
    Ok(vec![lead(root, mapping)?])
}

fn lead(mut root: Map<String, Value>, mapping: &Mapping) -> Result<Decoded, SourceError> {
    let Value::Array(field_data) = take(&mut root, "field_data") else {
        return Err(SourceError::Malformed(
            "field_data is missing or not an array",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&take(&mut root, "id"));
    if let Value::Bool(b) = take(&mut root, "is_test") {
        sink.is_test = b;
    }
    for entry in field_data {
        let Value::Object(mut entry) = entry else {
            continue;
        };
        let name = take(&mut entry, "name");
        let Some(name) = name.as_str() else { continue };
        let value = match take(&mut entry, "values") {
            Value::Array(mut vs) if vs.len() == 1 => vs.remove(0),
            other => other,
        };
        sink.answer(&[name], name, value, None);
    }
    for (k, v) in root {
        let v = if k.ends_with("_id") { id_value(v) } else { v };
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn notification(
    mut root: Map<String, Value>,
    mapping: &Mapping,
) -> Result<Vec<Decoded>, SourceError> {
    let Value::Array(entries) = take(&mut root, "entry") else {
        return Err(SourceError::Malformed("entry is missing or not an array"));
    };
    let mut out = Vec::new();
    for entry in entries {
        let Value::Object(mut entry) = entry else {
            continue;
        };
        let page_id = take(&mut entry, "id");
        let time = take(&mut entry, "time");
        let Value::Array(changes) = take(&mut entry, "changes") else {
            continue;
        };
        for change in changes {
            if change.get("field").and_then(Value::as_str) != Some("leadgen") {
                continue;
            }
            let Some(Value::Object(value)) = change.get("value").cloned() else {
                return Err(SourceError::Malformed(
                    "leadgen change without a value object",
                ));
            };
            let mut sink = Sink::new(mapping);
            sink.awaiting_enrichment = true;
            if let Some(id) = value.get("leadgen_id") {
                sink.external_id(id);
            }
            if !value.contains_key("page_id") {
                sink.meta("page_id", id_value(page_id.clone()));
            }
            for (k, v) in value {
                let v = if k.ends_with("_id") { id_value(v) } else { v };
                sink.meta(&k, v);
            }
            sink.meta("entry_time", time.clone());
            out.push(sink.finish());
        }
    }
    if out.is_empty() {
        return Err(SourceError::NotALead(
            "page notification without leadgen changes".into(),
        ));
    }
    Ok(out)
}
