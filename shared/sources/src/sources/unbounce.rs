//! Unbounce form submission webhooks.
//!
//! Documented at <https://documentation.unbounce.com/hc/en-us/articles/203510044-Using-a-Webhook>:
//! an `application/x-www-form-urlencoded` POST whose `data.json` field holds the form as a JSON
//! object of arrays of strings, next to `data.xml` (the same data as XML), `page_id`,
//! `page_url`, `page_name` and `variant`. A JSON body (Unbounce's JSON content-type option) is
//! read the same way: either an object with a `data.json` string, or the form object itself.
//!
//! * Each form field is matched on its field id (e.g. `email`, `full_name`, `phone_number`,
//!   `company_name`, `utm_source`); single-element arrays become strings; unmatched fields go
//!   to `custom` under their id.
//! * `page_url` becomes `landing_page`; `page_id`, `page_name`, `page_uuid`, `variant`,
//!   `ip_address`, `date_submitted`, `time_submitted` go to `custom`.
//! * `data.xml` duplicates `data.json` and is not kept. Unbounce sends no submission id and
//!   does not sign requests (use [`crate::Auth::ApiKey`] with a custom header).

use serde_json::{Map, Value};

use crate::body::{self, BodyKind, ContentType};
use crate::mapping::{Mapping, Sink, id_value};
use crate::{Decoded, SourceError};

/// Metadata Unbounce adds to every form (kept in `custom`, never matched by heuristics).
const META: &[&str] = &[
    "page_id",
    "page_name",
    "page_uuid",
    "variant",
    "ip_address",
    "date_submitted",
    "time_submitted",
];

/// Decodes an Unbounce webhook body.
pub fn decode(ct: &ContentType, bytes: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut outer = match ct.kind {
        BodyKind::UrlEncoded | BodyKind::Missing | BodyKind::Multipart(_) => {
            body::pairs_to_object(body::form_pairs(ct, bytes)?)
        }
        BodyKind::Json => body::json_object(bytes)?,
        BodyKind::Other => return Err(ct.unsupported("unbounce")),
    };
    let data = match outer.remove("data.json") {
        Some(Value::String(s)) => match body::json(s.as_bytes())? {
            Value::Object(o) => o,
            _ => return Err(SourceError::Malformed("data.json is not a JSON object")),
        },
        Some(Value::Object(o)) => o,
        Some(_) => return Err(SourceError::Malformed("data.json is not a JSON object")),
        None if ct.kind == BodyKind::Json => std::mem::take(&mut outer),
        None => return Err(SourceError::Malformed("data.json field is missing")),
    };
    drop(outer.remove("data.xml"));

    let mut sink = Sink::new(mapping);
    if let Some(url) = outer.remove("page_url") {
        sink.known("page_url", "landing_page", first(url));
    }
    fields(&mut sink, data);
    for (k, v) in outer {
        let v = first(v);
        let v = if k.ends_with("_id") { id_value(v) } else { v };
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn fields(sink: &mut Sink<'_>, data: Map<String, Value>) {
    for (k, v) in data {
        let v = first(v);
        if k == "page_url" {
            sink.known("page_url", "landing_page", v);
        } else if META.contains(&k.as_str()) {
            sink.meta(&k, v);
        } else {
            sink.answer(&[&k], &k, v, None);
        }
    }
}

/// Unwraps single-element arrays (Unbounce sends every value as an array of strings).
fn first(v: Value) -> Value {
    match v {
        Value::Array(mut a) if a.len() == 1 => a.remove(0),
        v => v,
    }
}
