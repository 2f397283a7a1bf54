//! The adapter as it was before it read its body without building `Value`s (kept to test
//! that the current one decodes every payload the same).
#![allow(dead_code)]

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::body::ContentType;
use crate::mapping::{Mapping, Sink};
use crate::sources::{json_body, take};
use crate::{Decoded, SourceError, event_name};

/// Decodes a Typeform webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut root = json_body("typeform", ct, body)?;
    let event_type = take(&mut root, "event_type");
    if !event_type.is_null() && event_type.as_str() != Some("form_response") {
        return Err(SourceError::NotALead(event_name(Some(&event_type))));
    }
    let Value::Object(mut resp) = take(&mut root, "form_response") else {
        return Err(SourceError::Malformed(
            "form_response is missing or not an object",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&take(&mut resp, "token"));

    // definition.fields: id -> (ref, title)
    let definition = take(&mut resp, "definition");
    let mut defs: HashMap<String, (Option<String>, Option<String>)> = HashMap::new();
    if let Some(fields) = definition.get("fields").and_then(Value::as_array) {
        for f in fields {
            if let Some(id) = f.get("id").and_then(Value::as_str) {
                let r = f.get("ref").and_then(Value::as_str).map(str::to_owned);
                let t = f.get("title").and_then(Value::as_str).map(str::to_owned);
                defs.insert(id.to_owned(), (r, t));
            }
        }
    }

    if let Value::Array(answers) = take(&mut resp, "answers") {
        for a in answers {
            let Value::Object(a) = a else { continue };
            answer(&mut sink, &defs, a);
        }
    }

    if let Value::Object(hidden) = take(&mut resp, "hidden") {
        for (k, v) in hidden {
            sink.answer(&[&k], &k, v, None);
        }
    }

    if let Value::Object(calculated) = take(&mut resp, "calculated") {
        for (k, v) in calculated {
            if k == "score" {
                sink.known("calculated.score", "score", v);
            } else {
                sink.meta(&format!("calculated.{k}"), v);
            }
        }
    }

    if let Value::Array(vars) = take(&mut resp, "variables") {
        for var in vars {
            let Value::Object(mut var) = var else {
                continue;
            };
            let Some(key) = take(&mut var, "key").as_str().map(str::to_owned) else {
                continue;
            };
            let ty = take(&mut var, "type");
            let value = ty
                .as_str()
                .and_then(|t| var.remove(t))
                .unwrap_or(Value::Object(var));
            sink.meta(&format!("variables.{key}"), value);
        }
    }

    sink.meta("form_id", take(&mut resp, "form_id"));
    if let Some(title) = definition.get("title") {
        sink.meta("form_title", title.clone());
    }
    for (k, v) in resp {
        sink.meta(&k, v);
    }
    for (k, v) in root {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn answer(
    sink: &mut Sink<'_>,
    defs: &HashMap<String, (Option<String>, Option<String>)>,
    mut a: Map<String, Value>,
) {
    let field = take(&mut a, "field");
    let id = field.get("id").and_then(Value::as_str).unwrap_or("");
    let (def_ref, title) = defs.get(id).cloned().unwrap_or((None, None));
    let r = field
        .get("ref")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or(def_ref);
    let ty = take(&mut a, "type");
    let ty = ty.as_str().unwrap_or("");
    let field_type = field.get("type").and_then(Value::as_str).unwrap_or("");
    let value = typed_value(ty, &mut a);

    let mut ids: Vec<&str> = Vec::with_capacity(3);
    if let Some(r) = r.as_deref() {
        ids.push(r);
    }
    if !id.is_empty() {
        ids.push(id);
    }
    if let Some(t) = title.as_deref() {
        ids.push(t);
    }
    let custom_key = r
        .as_deref()
        .filter(|r| !r.is_empty())
        .unwrap_or(if id.is_empty() { "answer" } else { id });
    let fallback = match (ty, field_type) {
        ("email", _) | (_, "email") => Some("email"),
        ("phone_number", _) | (_, "phone_number") => Some("phone"),
        _ => None,
    };
    sink.answer(&ids, custom_key, value, fallback);
}

/// The value of a typed answer (`a` has had `field` and `type` removed).
fn typed_value(ty: &str, a: &mut Map<String, Value>) -> Value {
    match ty {
        "choice" => match take(a, "choice") {
            Value::Object(c) => c
                .get("label")
                .filter(|l| l.as_str().is_some_and(|s| !s.is_empty()))
                .or_else(|| c.get("other"))
                .cloned()
                .unwrap_or(Value::Object(c)),
            other => other,
        },
        "choices" => match take(a, "choices") {
            Value::Object(c) => {
                let mut out: Vec<Value> = c
                    .get("labels")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                if let Some(other) = c.get("other").filter(|o| !o.is_null()) {
                    out.push(other.clone());
                }
                Value::Array(out)
            }
            other => other,
        },
        "" => Value::Object(std::mem::take(a)),
        t => a
            .remove(t)
            .unwrap_or_else(|| Value::Object(std::mem::take(a))),
    }
}
