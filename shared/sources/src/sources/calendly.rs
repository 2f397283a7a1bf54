//! Calendly `invitee.created` webhooks.
//!
//! Payload: <https://developer.calendly.com/api-docs/ZG9jOjE1MDE3NzA-webhook-payload> (the
//! invitee object, <https://developer.calendly.com/api-docs/b3A6NTkxNDM5-get-event-invitee>).
//!
//! * `email`, `name`, `first_name`, `last_name` map to the same canonical fields and
//!   `text_reminder_number` to `phone`.
//! * `questions_and_answers[]` entries are matched on the question text; unmatched ones go to
//!   `custom` under the question text.
//! * `tracking.utm_*` become the UTM fields; `tracking.salesforce_uuid` (and any other tracking
//!   key) goes to `custom` as `tracking.<key>`.
//! * The invitee `uri` is the external id; the rest of the invitee (`event`,
//!   `scheduled_event`, `timezone`, `status`, `cancel_url`, `reschedule_url`, `created_at`,
//!   ...) goes to `custom` under its names; the webhook's own `created_at` / `created_by` go
//!   to `custom` as `webhook_created_at` / `webhook_created_by`.
//! * Any event other than `invitee.created` (cancellations, no-shows, routing forms) is
//!   [`SourceError::NotALead`]. Calendly has no test flag.

use serde_json::Value;

use super::{dotted, json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink};
use crate::{Decoded, SourceError, event_name};

/// Decodes a Calendly webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut root = json_body("calendly", ct, body)?;
    let event = take(&mut root, "event");
    if event.as_str() != Some("invitee.created") {
        return Err(SourceError::NotALead(event_name(Some(&event))));
    }
    let Value::Object(mut p) = take(&mut root, "payload") else {
        return Err(SourceError::Malformed(
            "payload is missing or not an object",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&take(&mut p, "uri"));
    for (key, canonical) in [
        ("email", "email"),
        ("name", "name"),
        ("first_name", "first_name"),
        ("last_name", "last_name"),
        ("text_reminder_number", "phone"),
    ] {
        let v = take(&mut p, key);
        sink.known(key, canonical, v);
    }
    if let Value::Array(qas) = take(&mut p, "questions_and_answers") {
        for qa in qas {
            let (Some(q), Some(a)) = (qa.get("question").and_then(Value::as_str), qa.get("answer"))
            else {
                continue;
            };
            sink.answer(&[q], q, a.clone(), None);
        }
    }
    match take(&mut p, "tracking") {
        Value::Object(tracking) => {
            for (k, v) in tracking {
                let path = dotted("tracking", &k);
                match k.as_str() {
                    "utm_source" => sink.known(&path, "utm_source", v),
                    "utm_medium" => sink.known(&path, "utm_medium", v),
                    "utm_campaign" => sink.known(&path, "utm_campaign", v),
                    "utm_term" => sink.known(&path, "utm_term", v),
                    "utm_content" => sink.known(&path, "utm_content", v),
                    _ => sink.meta(&path, v),
                }
            }
        }
        other => sink.meta("tracking", other),
    }
    for (k, v) in p {
        sink.meta(&k, v);
    }
    sink.meta("webhook_created_at", take(&mut root, "created_at"));
    sink.meta("webhook_created_by", take(&mut root, "created_by"));
    for (k, v) in root {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}
