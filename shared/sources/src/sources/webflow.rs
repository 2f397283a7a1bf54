//! Webflow form submission webhooks.
//!
//! Two shapes are accepted:
//!
//! * v2 (Data API): `{"triggerType": "form_submission", "payload": {"name", "siteId", "data",
//!   "schema", "submittedAt", "id", "formId", "formElementId"}}`:
//!   <https://developers.webflow.com/data/docs/working-with-webhooks>;
//! * v1 (older, flat): `{"name", "site", "data", "d", "_id"}`:
//!   <https://developers.webflow.com/data/v1.0.0/reference/form_submission>.
//!
//! Each `data` entry is matched on its field name, then on the field's `fieldElementId` from
//! `schema`; unmatched entries go to `custom` under the field name. The submission `id`/`_id`
//! is the external id; the form's `name` goes to `custom` as `form_name`, `siteId`/`site` as
//! `site_id`, `submittedAt`/`d` as `submitted_at`, `formId` as `form_id`, `formElementId` as
//! `form_element_id`; other payload keys keep their names. `schema` (the form's field list)
//! is used for matching and not kept. A `triggerType` other than `form_submission` is
//! [`SourceError::NotALead`].

use std::collections::HashMap;

use serde_json::Value;

use super::{json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink};
use crate::{Decoded, SourceError, event_name};

/// Decodes a Webflow form submission webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut root = json_body("webflow", ct, body)?;
    let trigger = take(&mut root, "triggerType");
    if !trigger.is_null() && trigger.as_str() != Some("form_submission") {
        return Err(SourceError::NotALead(event_name(Some(&trigger))));
    }
    let mut p = match take(&mut root, "payload") {
        Value::Object(p) => p,
        Value::Null => std::mem::take(&mut root),
        _ => return Err(SourceError::Malformed("payload is not an object")),
    };
    let Value::Object(data) = take(&mut p, "data") else {
        return Err(SourceError::Malformed("data is missing or not an object"));
    };

    let mut element_ids: HashMap<String, String> = HashMap::new();
    if let Value::Array(schema) = take(&mut p, "schema") {
        for f in schema {
            if let (Some(name), Some(el)) = (
                f.get("fieldName").and_then(Value::as_str),
                f.get("fieldElementId").and_then(Value::as_str),
            ) {
                element_ids.insert(name.to_owned(), el.to_owned());
            }
        }
    }

    let mut sink = Sink::new(mapping);
    for key in ["id", "_id"] {
        let v = take(&mut p, key);
        sink.external_id(&v);
    }
    for (k, v) in data {
        match element_ids.get(&k) {
            Some(el) => sink.answer(&[&k, el], &k, v, None),
            None => sink.answer(&[&k], &k, v, None),
        }
    }
    for (from, to) in [
        ("name", "form_name"),
        ("siteId", "site_id"),
        ("site", "site_id"),
        ("submittedAt", "submitted_at"),
        ("d", "submitted_at"),
        ("formId", "form_id"),
        ("formElementId", "form_element_id"),
    ] {
        let v = take(&mut p, from);
        sink.meta(to, v);
    }
    for (k, v) in p.into_iter().chain(root) {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}
