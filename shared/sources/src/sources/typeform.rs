//! Typeform `form_response` webhooks.
//!
//! Payload: <https://www.typeform.com/developers/webhooks/example-payload/>.
//!
//! * Each answer is matched by the admin mapping on its field `ref`, `id`, then the question
//!   title (from `definition.fields`), then by the default heuristics on the same identifiers,
//!   then by answer type (`email` answers to `email`, `phone_number` answers to `phone`).
//!   Unmatched answers go to `custom` under the field `ref` (or id).
//! * Typed values: `text`, `email`, `phone_number`, `number`, `boolean`, `url`, `date`,
//!   `file_url`, `payment` as sent; `choice` as its label (or the "other" text); `choices` as
//!   an array of labels (plus the "other" text).
//! * Hidden fields go through the heuristics (`utm_*` become UTM fields), else `custom`.
//! * `calculated.score` becomes `score`; variables go to `custom` as `variables.<key>`.
//! * `token` (the response id) is the external id; `form_id`, `form_title` (the definition's
//!   title), `landed_at`, `submitted_at`, `event_id` and `ending` go to `custom`. The rest of
//!   `definition` (the form's schema, not the submission) is not kept.
//! * Any `event_type` other than `form_response` is [`SourceError::NotALead`].

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::{dotted, take};
use crate::body::{BodyKind, ContentType};
use crate::json_reader::{Invalid, Reader};
use crate::lenient::{self, Arr, FromMap, Obj, Read, Text, rest_entry};
use crate::mapping::{Ids, Mapping, Sink};
use crate::{Decoded, SourceError, event_name};

/// The body: `form_response` is read key by key, every other key as a value.
#[derive(Default)]
struct Root<'de> {
    form_response: Obj<Response<'de>>,
    rest: Map<String, Value>,
}

/// `form_response`: `definition` and `answers` are read for what the adapter uses, the keys it
/// handles itself as values (null when absent), every other key as a value in `rest`.
#[derive(Default)]
struct Response<'de> {
    definition: Obj<Definition<'de>>,
    answers: Arr<Obj<Answer<'de>>>,
    token: Value,
    hidden: Value,
    calculated: Value,
    variables: Value,
    form_id: Value,
    rest: Map<String, Value>,
}

/// One answer: its `field` and `type`, and every other key as a value (in body order; a later
/// repeat of a key wins, as in a `Map`). Not a `Map`: an answer is looked up once, by its type.
#[derive(Default)]
struct Answer<'de> {
    field: Obj<FieldRef<'de>>,
    ty: Text<'de>,
    rest: Rest<'de>,
}

/// An answer's keys other than `field` and `type`, in body order: the first one inline (most
/// answers have only their typed value), any others in a `Vec`, so that an answer costs no
/// allocation of its own.
#[derive(Default)]
struct Rest<'de> {
    first: Option<(Cow<'de, str>, Value)>,
    more: Vec<(Cow<'de, str>, Value)>,
}

impl<'de> Rest<'de> {
    fn push(&mut self, key: Cow<'de, str>, value: Value) {
        // Entries are only pushed while the answer is read, before anything is taken: `more`
        // gets entries only once `first` is set, so `first` is `None` only while `more` is empty.
        if self.first.is_none() {
            self.first = Some((key, value));
        } else {
            self.more.push((key, value));
        }
    }

    /// Takes the value of `key` out (the last one, as a `Map` keeps).
    fn take(&mut self, key: &str) -> Option<Value> {
        if self.more.is_empty() {
            return match &self.first {
                Some((k, _)) if k == key => self.first.take().map(|(_, v)| v),
                _ => None,
            };
        }
        let mut all: Vec<_> = self
            .first
            .take()
            .into_iter()
            .chain(self.more.drain(..))
            .collect();
        let value = take_key(&mut all, key);
        self.more = all;
        value
    }

    /// The keys as the object they were.
    fn into_object(self) -> Value {
        Value::Object(
            self.first
                .into_iter()
                .chain(self.more)
                .map(|(k, v)| (k.into_owned(), v))
                .collect(),
        )
    }
}

/// An answer's `field`.
#[derive(Default)]
struct FieldRef<'de> {
    id: Text<'de>,
    r#ref: Text<'de>,
    ty: Text<'de>,
}

impl<'de> FromMap<'de> for Answer<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "field" => self.field = Read::read(r)?,
            "type" => self.ty = Read::read(r)?,
            _ => {
                let value = r.value()?;
                self.rest.push(key, value);
            }
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for FieldRef<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "id" => self.id = Read::read(r)?,
            "ref" => self.r#ref = Read::read(r)?,
            "type" => self.ty = Read::read(r)?,
            _ => r.skip()?,
        }
        Ok(())
    }
}

/// The form's schema: only the fields' identifiers and the title are used (the rest, most of
/// a response's size, is never built into values).
#[derive(Default)]
struct Definition<'de> {
    fields: Arr<Obj<FieldDef<'de>>>,
    /// `None` when absent; a JSON null is `Some(Value::Null)`.
    title: Option<Value>,
}

#[derive(Default)]
struct FieldDef<'de> {
    id: Text<'de>,
    r#ref: Text<'de>,
    title: Text<'de>,
}

impl<'de> FromMap<'de> for Root<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "form_response" => self.form_response = Read::read(r)?,
            _ => rest_entry(&mut self.rest, key, r)?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for Response<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "definition" => self.definition = Read::read(r)?,
            "answers" => self.answers = Read::read(r)?,
            "token" => self.token = r.value()?,
            "hidden" => self.hidden = r.value()?,
            "calculated" => self.calculated = r.value()?,
            "variables" => self.variables = r.value()?,
            "form_id" => self.form_id = r.value()?,
            _ => rest_entry(&mut self.rest, key, r)?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for Definition<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "fields" => self.fields = Read::read(r)?,
            "title" => self.title = Some(Read::read(r)?),
            _ => r.skip()?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for FieldDef<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "id" => self.id = Read::read(r)?,
            "ref" => self.r#ref = Read::read(r)?,
            "title" => self.title = Read::read(r)?,
            _ => r.skip()?,
        }
        Ok(())
    }
}

/// `definition.fields`, looked up by field id (a later field with the same id wins). A form
/// has tens of fields: a scan is cheaper than hashing every id.
struct Defs<'a, 'de>(&'a [Obj<FieldDef<'de>>]);

impl<'a> Defs<'a, '_> {
    /// The (ref, title) of field `id`.
    fn get(&self, id: &str) -> Option<(Option<&'a str>, Option<&'a str>)> {
        self.0.iter().rev().find_map(|f| match f {
            Obj::Object(f) if f.id.as_str() == Some(id) => {
                Some((f.r#ref.as_str(), f.title.as_str()))
            }
            _ => None,
        })
    }
}

/// Decodes a Typeform webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    if !matches!(ct.kind, BodyKind::Json | BodyKind::Missing) {
        return Err(ct.unsupported("typeform"));
    }
    let Root {
        form_response,
        rest: mut root,
    } = lenient::object(body)?;
    let event_type = take(&mut root, "event_type");
    if !event_type.is_null() && event_type.as_str() != Some("form_response") {
        return Err(SourceError::NotALead(event_name(Some(&event_type))));
    }
    let Obj::Object(Response {
        definition,
        answers,
        token,
        hidden,
        calculated,
        variables,
        form_id,
        rest: resp,
    }) = form_response
    else {
        return Err(SourceError::Malformed(
            "form_response is missing or not an object",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&token);

    let definition = match definition {
        Obj::Object(d) => d,
        Obj::Other => Definition::default(),
    };
    let defs = Defs(definition.fields.items());
    if let Arr::Array(answers) = answers {
        for a in answers {
            let Obj::Object(a) = a else { continue };
            answer(&mut sink, &defs, a);
        }
    }

    if let Value::Object(hidden) = hidden {
        for (k, v) in hidden {
            sink.answer(&[&k], &k, v, None);
        }
    }

    if let Value::Object(calculated) = calculated {
        for (k, v) in calculated {
            if k == "score" {
                sink.known("calculated.score", "score", v);
            } else {
                sink.meta(&dotted("calculated", &k), v);
            }
        }
    }

    if let Value::Array(vars) = variables {
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
            sink.meta(&dotted("variables", &key), value);
        }
    }

    sink.meta("form_id", form_id);
    if let Some(title) = definition.title {
        sink.meta("form_title", title);
    }
    for (k, v) in resp {
        sink.meta(&k, v);
    }
    for (k, v) in root {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn answer(sink: &mut Sink<'_>, defs: &Defs<'_, '_>, a: Answer<'_>) {
    let Answer { field, ty, rest } = a;
    let field = match field {
        Obj::Object(f) => f,
        Obj::Other => FieldRef::default(),
    };
    let id = field.id.as_str().unwrap_or("");
    let (def_ref, title) = defs.get(id).unwrap_or((None, None));
    let r = field.r#ref.as_str().or(def_ref);
    let ty = ty.as_str().unwrap_or("");
    let field_type = field.ty.as_str().unwrap_or("");
    let value = typed_value(ty, rest);

    let ids = Ids::of(
        r.into_iter()
            .chain(Some(id).filter(|id| !id.is_empty()))
            .chain(title),
    );
    let custom_key =
        r.filter(|r| !r.is_empty())
            .unwrap_or(if id.is_empty() { "answer" } else { id });
    let fallback = match (ty, field_type) {
        ("email", _) | (_, "email") => Some("email"),
        ("phone_number", _) | (_, "phone_number") => Some("phone"),
        _ => None,
    };
    sink.answer(ids.as_slice(), custom_key, value, fallback);
}

/// Takes the value of `key` out of an answer's other keys (the last one, as a `Map` keeps).
fn take_key(rest: &mut Vec<(Cow<'_, str>, Value)>, key: &str) -> Option<Value> {
    let i = rest.iter().rposition(|(k, _)| k == key)?;
    let value = rest.swap_remove(i).1;
    // Earlier repeats of the key were overwritten in a `Map`.
    rest.retain(|(k, _)| k != key);
    Some(value)
}

/// The value of a typed answer (from its keys other than `field` and `type`).
fn typed_value(ty: &str, mut a: Rest<'_>) -> Value {
    match ty {
        "choice" => match a.take("choice").unwrap_or(Value::Null) {
            Value::Object(c) => c
                .get("label")
                .filter(|l| l.as_str().is_some_and(|s| !s.is_empty()))
                .or_else(|| c.get("other"))
                .cloned()
                .unwrap_or(Value::Object(c)),
            other => other,
        },
        "choices" => match a.take("choices").unwrap_or(Value::Null) {
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
        "" => a.into_object(),
        t => match a.take(t) {
            Some(v) => v,
            None => a.into_object(),
        },
    }
}
