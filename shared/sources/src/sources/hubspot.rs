//! HubSpot form submissions.
//!
//! Two shapes are accepted:
//!
//! 1. **Forms API v3 submission** (`{"fields": [{"name", "value"}], "context": {...},
//!    "legalConsentOptions": {...}, "submittedAt"}`):
//!    <https://legacydocs.hubspot.com/docs/methods/forms/submit_form_v3>. Each field is matched
//!    on its `name` (HubSpot property names such as `email`, `firstname`, `lastname`, `phone`,
//!    `mobilephone`, `company`, `website`, `jobtitle`, `city`, `state`, `zip`, `country`,
//!    `industry`, `message` are covered by the default heuristics); unmatched fields go to
//!    `custom` under their name. `context.pageUri` becomes `landing_page`; the rest of
//!    `context` (`hutk`, `pageName`, `ipAddress`, ...) goes to `custom` as `context.<key>`.
//!    `legalConsentOptions.consent.consentToProcess` becomes `consent` and the whole
//!    `legalConsentOptions` object is also kept in `custom` (it holds the consent texts).
//!    `submittedAt` goes to `custom`. v3 submissions carry no submission id.
//! 2. **Contact properties** as sent by a workflow "Send a webhook" action or read from the
//!    contacts API (`{"vid": ..., "properties": {"email": {"value": "..."}}}`; plain
//!    `"properties": {"email": "..."}` values are accepted too). Properties are matched on
//!    their names like v3 fields; the property's version history is not kept. The external id
//!    is `vid`, else `canonical-vid`, `objectId`, `id` or the `hs_object_id` property; other
//!    top-level keys (`portal-id`, `is-contact`, `profile-url`, ...) go to `custom`.

use serde_json::{Map, Value};

use super::{dotted, json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink, id_value};
use crate::{Decoded, SourceError};

/// Decodes a HubSpot v3 form submission or a contact-properties payload.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let root = json_body("hubspot", ct, body)?;
    if let Some(Value::Array(_)) = root.get("fields") {
        return Ok(v3(root, mapping));
    }
    if let Some(Value::Object(_)) = root.get("properties") {
        return Ok(properties(root, mapping));
    }
    Err(SourceError::Malformed(
        "neither a v3 submission (fields[]) nor contact properties (properties{})",
    ))
}

fn v3(mut root: Map<String, Value>, mapping: &Mapping) -> Decoded {
    let mut sink = Sink::new(mapping);
    if let Value::Array(fields) = take(&mut root, "fields") {
        for f in fields {
            let Value::Object(mut f) = f else { continue };
            let name = take(&mut f, "name");
            let Some(name) = name.as_str() else { continue };
            sink.answer(&[name], name, take(&mut f, "value"), None);
        }
    }
    if let Value::Object(mut context) = take(&mut root, "context") {
        sink.known(
            "context.pageUri",
            "landing_page",
            take(&mut context, "pageUri"),
        );
        for (k, v) in context {
            sink.meta(&dotted("context", &k), v);
        }
    }
    let legal = take(&mut root, "legalConsentOptions");
    if let Some(consent) = legal.pointer("/consent/consentToProcess") {
        sink.known(
            "legalConsentOptions.consent.consentToProcess",
            "consent",
            consent.clone(),
        );
    }
    sink.meta("legalConsentOptions", legal);
    for (k, v) in root {
        sink.meta(&k, v);
    }
    sink.finish()
}

fn properties(mut root: Map<String, Value>, mapping: &Mapping) -> Decoded {
    let mut sink = Sink::new(mapping);
    let Value::Object(props) = take(&mut root, "properties") else {
        return sink.finish();
    };
    for key in ["vid", "canonical-vid", "objectId", "id"] {
        if root
            .get(key)
            .and_then(crate::mapping::scalar_string)
            .is_some()
        {
            sink.external_id(&take(&mut root, key));
            break;
        }
    }
    let mut have_id = sink.has_external_id();
    for (name, prop) in props {
        let value = match prop {
            Value::Object(mut o) if o.contains_key("value") => take(&mut o, "value"),
            other => other,
        };
        if name == "hs_object_id" && !have_id {
            sink.external_id(&value);
            have_id = true;
            continue;
        }
        sink.answer(&[&name], &name, value, None);
    }
    for (k, v) in root {
        let v = if k.ends_with("vid") || k.ends_with("-id") || k == "objectId" || k == "id" {
            id_value(v)
        } else {
            v
        };
        sink.meta(&k, v);
    }
    sink.finish()
}
