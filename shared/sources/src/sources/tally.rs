//! Tally `FORM_RESPONSE` webhooks.
//!
//! Payload: <https://tally.so/help/webhooks> ("Example webhook event").
//!
//! * Each `data.fields[]` entry is matched on its `key`, then its `label`, then by type
//!   (`INPUT_EMAIL` to `email`, `INPUT_PHONE_NUMBER` to `phone`). Hidden fields come through
//!   as fields labelled with their name, so `utm_*` map to the UTM fields.
//! * Choice answers (`MULTIPLE_CHOICE`, `DROPDOWN`: one label; `CHECKBOXES`, `MULTI_SELECT`,
//!   `RANKING`: an array of labels) are resolved from option ids to option texts; a `MATRIX`
//!   answer becomes `{row text: [column texts]}`. Other values are kept as sent.
//! * Unmatched fields go to `custom` under their label (or key).
//! * `data.responseId` is the external id; `eventId` (as `event_id`), the event's `createdAt`
//!   (as `event_created_at`), `respondentId`, `formId`, `formName`, the response's
//!   `createdAt` and `submissionId` (when it differs from the response id) go to `custom` in
//!   snake case; other keys keep their names.
//! * An `eventType` other than `FORM_RESPONSE` is [`SourceError::NotALead`].

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::body::{BodyKind, ContentType};
use crate::json_reader::{Invalid, Reader};
use crate::lenient::{self, Arr, FromMap, Obj, Read, Text, rest_entry};
use crate::mapping::{Ids, Mapping, Sink};
use crate::{Decoded, SourceError, event_name};

/// The body: `data` is read field by field, the keys the adapter handles itself as values
/// (null when absent), every other key as a value in `rest`.
#[derive(Default)]
struct Root<'de> {
    data: Obj<Data<'de>>,
    event_type: Value,
    event_id: Value,
    created_at: Value,
    rest: Map<String, Value>,
}

/// `data`: `fields` is read field by field, the keys the adapter handles itself as values,
/// every other key as a value in `rest`.
#[derive(Default)]
struct Data<'de> {
    fields: Arr<Obj<Field<'de>>>,
    response_id: Value,
    submission_id: Value,
    respondent_id: Value,
    form_id: Value,
    form_name: Value,
    created_at: Value,
    rest: Map<String, Value>,
}

/// One `data.fields[]` entry (keys other than these are not kept).
#[derive(Default)]
struct Field<'de> {
    key: Text<'de>,
    label: Text<'de>,
    ty: Text<'de>,
    value: Value,
    options: Arr<Obj<Choice<'de>>>,
    rows: Arr<Obj<Choice<'de>>>,
    columns: Arr<Obj<Choice<'de>>>,
}

/// An option, row or column: its id and text (`None` when the key is absent; a JSON null is
/// `Some(Value::Null)`).
#[derive(Default)]
struct Choice<'de> {
    id: Text<'de>,
    text: Option<Label<'de>>,
}

/// An option's text: borrowed from the body when it is a string without escapes (the usual
/// case; only the chosen options' texts become values), else the value it was.
enum Label<'de> {
    Str(Cow<'de, str>),
    Other(Value),
}

impl Label<'_> {
    fn to_value(&self) -> Value {
        match self {
            Label::Str(s) => Value::String(s.to_string()),
            Label::Other(v) => v.clone(),
        }
    }
}

impl<'de> Read<'de> for Label<'de> {
    fn read(r: &mut Reader<'de>) -> Result<Self, Invalid> {
        if r.at_string()? {
            Ok(Label::Str(r.text()?.unwrap_or_default()))
        } else {
            r.value().map(Label::Other)
        }
    }
}

impl<'de> FromMap<'de> for Root<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "data" => self.data = Read::read(r)?,
            "eventType" => self.event_type = r.value()?,
            "eventId" => self.event_id = r.value()?,
            "createdAt" => self.created_at = r.value()?,
            _ => rest_entry(&mut self.rest, key, r)?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for Data<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "fields" => self.fields = Read::read(r)?,
            "responseId" => self.response_id = r.value()?,
            "submissionId" => self.submission_id = r.value()?,
            "respondentId" => self.respondent_id = r.value()?,
            "formId" => self.form_id = r.value()?,
            "formName" => self.form_name = r.value()?,
            "createdAt" => self.created_at = r.value()?,
            _ => rest_entry(&mut self.rest, key, r)?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for Field<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "key" => self.key = Read::read(r)?,
            "label" => self.label = Read::read(r)?,
            "type" => self.ty = Read::read(r)?,
            "value" => self.value = Read::read(r)?,
            "options" => self.options = Read::read(r)?,
            "rows" => self.rows = Read::read(r)?,
            "columns" => self.columns = Read::read(r)?,
            _ => r.skip()?,
        }
        Ok(())
    }
}

impl<'de> FromMap<'de> for Choice<'de> {
    fn entry(&mut self, key: Cow<'de, str>, r: &mut Reader<'de>) -> Result<(), Invalid> {
        match key.as_ref() {
            "id" => self.id = Read::read(r)?,
            "text" => self.text = Some(Read::read(r)?),
            _ => r.skip()?,
        }
        Ok(())
    }
}

/// Decodes a Tally webhook body.
pub fn decode(ct: &ContentType, body: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    if !matches!(ct.kind, BodyKind::Json | BodyKind::Missing) {
        return Err(ct.unsupported("tally"));
    }
    // Read without a `Value` for the fields' option lists (most of a response's size).
    let Root {
        data,
        event_type,
        event_id,
        created_at: event_created_at,
        rest: root,
    } = lenient::object(body)?;
    if !event_type.is_null() && event_type.as_str() != Some("FORM_RESPONSE") {
        return Err(SourceError::NotALead(event_name(Some(&event_type))));
    }
    let Obj::Object(Data {
        fields,
        response_id,
        submission_id,
        respondent_id,
        form_id,
        form_name,
        created_at,
        rest: data,
    }) = data
    else {
        return Err(SourceError::Malformed("data is missing or not an object"));
    };
    let Arr::Array(fields) = fields else {
        return Err(SourceError::Malformed(
            "data.fields is missing or not an array",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&response_id);
    for f in fields {
        let Obj::Object(f) = f else { continue };
        field(&mut sink, f);
    }

    if submission_id != response_id {
        sink.meta("submission_id", submission_id);
    }
    sink.meta("event_id", event_id);
    sink.meta("event_created_at", event_created_at);
    for (to, v) in [
        ("respondent_id", respondent_id),
        ("form_id", form_id),
        ("form_name", form_name),
        ("created_at", created_at),
    ] {
        sink.meta(to, v);
    }
    for (k, v) in data.into_iter().chain(root) {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn field(sink: &mut Sink<'_>, f: Field<'_>) {
    let key = f.key.as_str().unwrap_or("");
    let label = f.label.as_str().unwrap_or("");
    let ty = f.ty.as_str().unwrap_or("");
    let value = match ty {
        "MULTIPLE_CHOICE" | "DROPDOWN" => match resolve(f.value, Options(f.options.items())) {
            Value::Array(mut a) if a.len() == 1 => a.remove(0),
            v => v,
        },
        "CHECKBOXES" | "MULTI_SELECT" | "RANKING" => resolve(f.value, Options(f.options.items())),
        "MATRIX" => matrix(f.value, Options(f.rows.items()), Options(f.columns.items())),
        _ => f.value,
    };
    let ids = Ids::non_empty([key, label]);
    let custom_key = if label.is_empty() { key } else { label };
    let fallback = match ty {
        "INPUT_EMAIL" => Some("email"),
        "INPUT_PHONE_NUMBER" => Some("phone"),
        _ => None,
    };
    sink.answer(ids.as_slice(), custom_key, value, fallback);
}

/// Option ids to option texts (a later option with the same id wins; options without a string
/// id or without a text do not count). A field has a handful of options: a scan is cheaper than
/// hashing them.
#[derive(Clone, Copy)]
struct Options<'a, 'de>(&'a [Obj<Choice<'de>>]);

impl<'a, 'de> Options<'a, 'de> {
    fn get(self, id: &str) -> Option<&'a Label<'de>> {
        self.0.iter().rev().find_map(|o| match o {
            Obj::Object(Choice {
                id: Text::Str(oid),
                text: Some(text),
            }) if oid == id => Some(text),
            _ => None,
        })
    }
}

/// Option ids to option texts (unknown ids are kept as they are).
fn resolve(value: Value, texts: Options<'_, '_>) -> Value {
    match value {
        Value::Array(a) => Value::Array(a.into_iter().map(|v| resolve(v, texts)).collect()),
        Value::String(s) => texts.get(&s).map_or(Value::String(s), Label::to_value),
        v => v,
    }
}

fn matrix(value: Value, rows: Options<'_, '_>, columns: Options<'_, '_>) -> Value {
    let Value::Object(cells) = value else {
        return value;
    };
    let mut out = Map::new();
    for (row, cols) in cells {
        let row = match rows.get(&row) {
            Some(Label::Str(t)) => t.to_string(),
            _ => row,
        };
        out.insert(row, resolve(cols, columns));
    }
    Value::Object(out)
}
