//! Zapier and generic senders: arbitrary flat or nested JSON (or a form post).
//!
//! * Bodies: a JSON object, a JSON array of objects (one lead each, see
//!   [`crate::decode_all`]), `application/x-www-form-urlencoded`, or text-only
//!   `multipart/form-data`. Without a content type, a body starting with `{` or `[` is read as
//!   JSON, anything else as urlencoded.
//! * Nested objects are flattened to dotted paths (`{"contact": {"email": ..}}` gives
//!   `contact.email`); arrays are kept as values. Each path is matched (admin mapping, then
//!   heuristics) on the full path, then its last segment, then the path with dots replaced by
//!   underscores (so `utm.source` finds `utm_source`). Unmatched paths go to `custom` as-is.
//! * A top-level `external_id` (or any path the admin maps to `external_id`) is the external
//!   id; a top-level boolean `is_test`, `test_lead` or `testLead` sets [`Decoded::is_test`].
//!
//! Zapier's "Webhooks by Zapier" POST action sends the data fields the Zap author defines, as
//! JSON or form data (<https://help.zapier.com/hc/en-us/articles/8496326446989>); `zapier`
//! differs from `generic` only in name (mappings are configured per source).

use serde_json::{Map, Value};

use super::dotted;
use crate::body::{self, BodyKind, ContentType};
use crate::mapping::{Mapping, Sink};
use crate::{Decoded, SourceError};

/// Decodes a generic (or Zapier) body into one lead per object.
pub fn decode(
    source: &'static str,
    ct: &ContentType,
    bytes: &[u8],
    mapping: &Mapping,
) -> Result<Vec<Decoded>, SourceError> {
    let looks_json = || {
        bytes
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| *b == b'{' || *b == b'[')
    };
    let value = match &ct.kind {
        BodyKind::Json => body::json(bytes)?,
        BodyKind::Missing if looks_json() => body::json(bytes)?,
        BodyKind::UrlEncoded | BodyKind::Missing | BodyKind::Multipart(_) => {
            Value::Object(body::pairs_to_object(body::form_pairs(ct, bytes)?))
        }
        BodyKind::Other => return Err(ct.unsupported(source)),
    };
    match value {
        Value::Object(o) => Ok(vec![lead(o, mapping)]),
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(o) => Ok(lead(o, mapping)),
                _ => Err(SourceError::Malformed("array entry is not a JSON object")),
            })
            .collect(),
        _ => Err(SourceError::Malformed("body is not a JSON object or array")),
    }
}

fn lead(mut obj: Map<String, Value>, mapping: &Mapping) -> Decoded {
    let mut sink = Sink::new(mapping);
    for flag in ["is_test", "test_lead", "testLead"] {
        if let Some(Value::Bool(b)) = obj.get(flag) {
            sink.is_test |= *b;
            obj.remove(flag);
        }
    }
    if let Some(id) = obj.remove("external_id") {
        sink.external_id(&id);
        if !sink.has_external_id() {
            sink.custom("external_id", id);
        }
    }
    let mut flat = Vec::new();
    flatten("", obj, &mut flat);
    for (path, value) in flat {
        let last = path.rsplit('.').next().unwrap_or(&path).to_owned();
        let underscored = path.replace('.', "_");
        let mut ids: Vec<&str> = vec![&path];
        for alt in [last.as_str(), underscored.as_str()] {
            if !ids.contains(&alt) {
                ids.push(alt);
            }
        }
        sink.answer(&ids, &path, value, None);
    }
    sink.finish()
}

/// Flattens nested objects into `(dotted path, value)` pairs (arrays are leaves).
pub fn flatten(prefix: &str, obj: Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in obj {
        let path = if prefix.is_empty() {
            k
        } else {
            dotted(prefix, &k)
        };
        match v {
            Value::Object(inner) if !inner.is_empty() => flatten(&path, inner, out),
            v => out.push((path, v)),
        }
    }
}
