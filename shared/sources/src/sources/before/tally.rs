//! The adapter as it was before it read its body without building `Value`s (kept to test
//! that the current one decodes every payload the same).
#![allow(dead_code)]

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::body::ContentType;
use crate::mapping::{Mapping, Sink};
use crate::sources::{json_body, take};
use crate::{Decoded, SourceError, event_name};

/// Decodes a Tally webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut root = json_body("tally", ct, body)?;
    let event_type = take(&mut root, "eventType");
    if !event_type.is_null() && event_type.as_str() != Some("FORM_RESPONSE") {
        return Err(SourceError::NotALead(event_name(Some(&event_type))));
    }
    let Value::Object(mut data) = take(&mut root, "data") else {
        return Err(SourceError::Malformed("data is missing or not an object"));
    };
    let Value::Array(fields) = take(&mut data, "fields") else {
        return Err(SourceError::Malformed(
            "data.fields is missing or not an array",
        ));
    };
    let mut sink = Sink::new(mapping);
    let response_id = take(&mut data, "responseId");
    sink.external_id(&response_id);
    for f in fields {
        let Value::Object(f) = f else { continue };
        field(&mut sink, f);
    }

    let submission_id = take(&mut data, "submissionId");
    if submission_id != response_id {
        sink.meta("submission_id", submission_id);
    }
    sink.meta("event_id", take(&mut root, "eventId"));
    sink.meta("event_created_at", take(&mut root, "createdAt"));
    for (from, to) in [
        ("respondentId", "respondent_id"),
        ("formId", "form_id"),
        ("formName", "form_name"),
        ("createdAt", "created_at"),
    ] {
        let v = take(&mut data, from);
        sink.meta(to, v);
    }
    for (k, v) in data.into_iter().chain(root) {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn field(sink: &mut Sink<'_>, mut f: Map<String, Value>) {
    let key = take(&mut f, "key");
    let label = take(&mut f, "label");
    let ty = take(&mut f, "type");
    let key = key.as_str().unwrap_or("");
    let label = label.as_str().unwrap_or("");
    let ty = ty.as_str().unwrap_or("");
    let value = take(&mut f, "value");
    let texts = option_texts(f.get("options"));
    let value = match ty {
        "MULTIPLE_CHOICE" | "DROPDOWN" => match resolve(value, &texts) {
            Value::Array(mut a) if a.len() == 1 => a.remove(0),
            v => v,
        },
        "CHECKBOXES" | "MULTI_SELECT" | "RANKING" => resolve(value, &texts),
        "MATRIX" => matrix(
            value,
            option_texts(f.get("rows")),
            option_texts(f.get("columns")),
        ),
        _ => value,
    };
    let ids: Vec<&str> = [key, label].into_iter().filter(|s| !s.is_empty()).collect();
    let custom_key = if label.is_empty() { key } else { label };
    let fallback = match ty {
        "INPUT_EMAIL" => Some("email"),
        "INPUT_PHONE_NUMBER" => Some("phone"),
        _ => None,
    };
    sink.answer(&ids, custom_key, value, fallback);
}

fn option_texts(options: Option<&Value>) -> HashMap<String, Value> {
    let mut out = HashMap::new();
    if let Some(Value::Array(opts)) = options {
        for o in opts {
            if let (Some(id), Some(text)) = (o.get("id").and_then(Value::as_str), o.get("text")) {
                out.insert(id.to_owned(), text.clone());
            }
        }
    }
    out
}

/// Option ids to option texts (unknown ids are kept as they are).
fn resolve(value: Value, texts: &HashMap<String, Value>) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.into_iter().map(|v| resolve(v, texts)).collect()),
        Value::String(s) => texts.get(&s).cloned().unwrap_or(Value::String(s)),
        v => v,
    }
}

fn matrix(value: Value, rows: HashMap<String, Value>, columns: HashMap<String, Value>) -> Value {
    let Value::Object(cells) = value else {
        return value;
    };
    let mut out = Map::new();
    for (row, cols) in cells {
        let row = match rows.get(&row) {
            Some(Value::String(t)) => t.clone(),
            _ => row,
        };
        out.insert(row, resolve(cols, &columns));
    }
    Value::Object(out)
}
