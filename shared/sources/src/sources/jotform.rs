//! Jotform webhooks: a `multipart/form-data` (or urlencoded) POST with the submission's
//! answers as JSON in the `rawRequest` field.
//!
//! Documented at <https://www.jotform.com/help/245-how-to-setup-a-webhook-with-jotform/> (the
//! sample reads `$_REQUEST['rawRequest']`, `json_decode`s it and picks answers such as
//! `q3_name` / `q4_email`; `submissionID` and `formID` are plain fields).
//!
//! * `rawRequest` keys of the form `q<N>_<name>` are answers. Each is matched on the full key,
//!   then `<name>`, then `<name>` without trailing digits (`q247_fullName247`).
//! * Widgets: a full-name object (`first`, `last`, ...) fills `first_name`/`last_name`; a phone
//!   object uses `full` (else `area` + `phone`) for `phone`; an address object fills `city`,
//!   `region` (`state`), `postal_code` (`postal`) and `country`. Their remaining parts go to
//!   `custom` as `<key>.<part>`.
//! * Unmatched answers go to `custom` under their `q<N>_<name>` key; other `rawRequest` keys
//!   (`slug`, `event_id`, `path`, ...) go to `custom` under their names.
//! * `submissionID` is the external id; `formID` (as `form_id`), `formTitle` (as `form_title`),
//!   `ip`, `username`, `type`, `webhookURL` go to `custom`. `pretty` (a human-readable
//!   rendering of the same answers) is not kept.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::dotted;
use crate::body::{self, BodyKind, ContentType, Field};
use crate::lenient;
use crate::mapping::{Ids, Mapping, Sink};
use crate::{Decoded, SourceError};

/// The outer fields this adapter reads itself (not passed on to `custom` as they are).
const OWN_FIELDS: [&str; 5] = [
    "rawRequest",
    "pretty",
    "submissionID",
    "formID",
    "formTitle",
];

/// Decodes a Jotform webhook body.
pub fn decode(ct: &ContentType, bytes: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut outer = match ct.kind {
        BodyKind::Multipart(_) | BodyKind::UrlEncoded | BodyKind::Missing => {
            body::form_fields(ct, bytes)?
        }
        _ => return Err(ct.unsupported("jotform")),
    };
    // Fields are taken in name order, a repeated name's values in body order, as they were
    // when folded into a map (the order decides custom-key clashes and which value is kept).
    // The sort is stable.
    outer.sort_by(|a, b| a.0.cmp(&b.0));
    let raw_text = match field(&mut outer, "rawRequest") {
        [(_, s)] => std::mem::take(s),
        _ => return Err(SourceError::Malformed("rawRequest field is missing")),
    };
    // The keys borrow from `raw_text`; sorted, a repeated key keeping its last value, as in
    // the `Value` object this was read into before.
    let raw: BTreeMap<Cow<'_, str>, Value> = lenient::object_in_text(&raw_text)?
        .ok_or(SourceError::Malformed("rawRequest is not a JSON object"))?;

    let mut sink = Sink::new(mapping);
    // A repeated `submissionID` was an array, which is no id.
    if let [(_, id)] = field(&mut outer, "submissionID") {
        sink.external_id_text(std::mem::take(id).into_owned());
    }
    for (k, v) in raw {
        match question_label(&k) {
            Some(label) => answer(&mut sink, &k, label, v),
            None => sink.meta(&k, v),
        }
    }
    for (from, to) in [("formID", "form_id"), ("formTitle", "form_title")] {
        if let Some(v) = value(field(&mut outer, from)) {
            sink.meta(to, v);
        }
    }
    for group in outer.chunk_by_mut(|a, b| a.0 == b.0) {
        if !OWN_FIELDS.contains(&group[0].0.as_ref()) {
            let name = std::mem::take(&mut group[0].0);
            if let Some(v) = value(group) {
                sink.meta(&name, v);
            }
        }
    }
    Ok(sink.finish())
}

/// The fields named `name` in `sorted` (in body order).
fn field<'s, 'a>(sorted: &'s mut [Field<'a>], name: &str) -> &'s mut [Field<'a>] {
    let start = sorted.partition_point(|(k, _)| k.as_ref() < name);
    let len = sorted[start..].partition_point(|(k, _)| k.as_ref() == name);
    &mut sorted[start..start + len]
}

/// A field's value as the map of fields held it: a string, or an array of a repeated name's
/// values. Taken out of `fields` (`None` when there are none).
fn value(fields: &mut [Field<'_>]) -> Option<Value> {
    let take = |(_, v): &mut Field<'_>| Value::String(std::mem::take(v).into_owned());
    match fields {
        [] => None,
        [one] => Some(take(one)),
        many => Some(Value::Array(many.iter_mut().map(take).collect())),
    }
}

/// `q12_fullName12` -> `fullName12`.
fn question_label(key: &str) -> Option<&str> {
    let rest = key.strip_prefix('q')?;
    let (num, label) = rest.split_once('_')?;
    (!num.is_empty() && num.bytes().all(|b| b.is_ascii_digit()) && !label.is_empty())
        .then_some(label)
}

fn answer(sink: &mut Sink<'_>, key: &str, label: &str, value: Value) {
    let trimmed = label.trim_end_matches(|c: char| c.is_ascii_digit());
    let ids = Ids::non_empty([key, label, trimmed]);
    let ids = ids.as_slice();
    match value {
        Value::Object(o) if o.contains_key("first") || o.contains_key("last") => {
            widget(
                sink,
                key,
                o,
                &[("first", "first_name"), ("last", "last_name")],
            );
        }
        Value::Object(mut o)
            if o.contains_key("full") || (o.contains_key("area") && o.contains_key("phone")) =>
        {
            let full = match o.remove("full") {
                Some(Value::String(s)) if !s.trim().is_empty() => {
                    o.remove("area");
                    o.remove("phone");
                    Value::String(s)
                }
                _ => {
                    let area = o.remove("area");
                    let phone = o.remove("phone");
                    let parts: Vec<&str> = [area.as_ref(), phone.as_ref()]
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .filter(|s| !s.trim().is_empty())
                        .collect();
                    Value::String(parts.join(" "))
                }
            };
            sink.answer(ids, key, full, Some("phone"));
            for (part, v) in o {
                sink.custom(&dotted(key, &part), v);
            }
        }
        Value::Object(o)
            if o.contains_key("addr_line1")
                || o.contains_key("city")
                || o.contains_key("postal") =>
        {
            widget(
                sink,
                key,
                o,
                &[
                    ("city", "city"),
                    ("state", "region"),
                    ("postal", "postal_code"),
                    ("country", "country"),
                ],
            );
        }
        v => sink.answer(ids, key, v, None),
    }
}

/// Splits a compound widget: listed parts go to their canonical fields (unless the admin
/// mapped `<key>.<part>`), the rest to `custom` as `<key>.<part>`.
fn widget(
    sink: &mut Sink<'_>,
    key: &str,
    parts: Map<String, Value>,
    known: &[(&str, &'static str)],
) {
    for (part, v) in parts {
        let path = dotted(key, &part);
        match known.iter().find(|(p, _)| *p == part) {
            Some((_, canonical)) => sink.known(&path, canonical, v),
            None => sink.meta(&path, v),
        }
    }
}
