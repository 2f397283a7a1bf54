//! The adapters that read their body without building `Value`s (`crate::lenient`) decode every
//! payload exactly as they did from a `Value` (the old adapters are kept in `before/`).

use proptest::prelude::*;
use serde_json::{Map, Value, json};

use super::before;
use crate::body::ContentType;
use crate::mapping::Mapping;

type Decode = fn(&ContentType, &[u8], &Mapping) -> Result<crate::Decoded, crate::SourceError>;

const ADAPTERS: [(&str, Decode, Decode); 2] = [
    ("tally", super::tally::decode, before::tally::decode),
    (
        "typeform",
        super::typeform::decode,
        before::typeform::decode,
    ),
];

fn same(body: &[u8]) {
    let mappings = [
        Mapping::default(),
        Mapping {
            fields: [
                ("Email".to_owned(), "custom.mail".to_owned()),
                ("question_3jZaa3".to_owned(), "phone".to_owned()),
            ]
            .into(),
        },
    ];
    for ct in ["application/json", "", "text/plain"] {
        let ct = ContentType::parse(ct);
        for mapping in &mappings {
            for (name, now, was) in ADAPTERS {
                assert_eq!(
                    now(&ct, body, mapping),
                    was(&ct, body, mapping),
                    "{name}: {}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }
}

#[test]
fn fixtures_and_odd_bodies() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    for file in ["tally/form_response.json", "typeform/form_response.json"] {
        let body = std::fs::read(format!("{fixtures}/{file}")).expect("fixture");
        same(&body);
    }
    for body in [
        &br#"{"data": {"fields": [{"key": "a", "key": 1, "label": "Email", "value": "x@y.z"}]}, "data": {"fields": [{"label": "Email", "value": "a@b.c", "value": null}]}}"#[..],
        br#"{"form_response": {"definition": {"fields": [{"id": "a", "ref": "email"}], "fields": 3, "title": null}, "answers": [{"type": "text", "text": "x", "field": {"id": "a"}}]}}"#,
        br#"{"form_response": {"definition": {"title": "T"}, "definition": [1]}}"#,
        br#"{"form_response": {"answers": [{"type": "text", "text": "a", "text": "b", "x": 1, "field": {"id": 1}, "field": {"id": "a", "ref": 2, "type": "email"}}, {"type": "email", "x": 1, "x": 2}, {"text": "t", "text": "u"}, {"type": "type", "field": 3}, {"type": "field", "field": {"id": "a"}}, {"type": "choice", "choice": 1, "choice": {"other": null}}]}, "form_response": {"answers": 1}}"#,
        br#"{"form_response": {"answers": [{"type": "text", "text": "a", "text": "b", "x": 1, "x": [2], "field": {"id": "b"}}, {"type": "choices", "choices": {"labels": ["x"], "other": "y"}}, "s", [1]], "definition": {"fields": [{"id": "b", "ref": "r1"}, {"id": "b", "title": "Email"}]}}}"#,
        br#"{"eventType": "FORM_RESPONSE", "data": {"fields": [{"type": "DROPDOWN", "value": ["o"], "options": [{"id": "o", "text": null}, {"id": "o"}, {"id": 1, "text": "n"}]}]}}"#,
        br#"{"data": {"fields": [{"label": "q\u00e9\"", "key": "k\n", "type": "MATRIX", "value": {"r": ["c"]}, "rows": [{"id": "r", "text": "Row"}], "columns": [{"id": "c", "text": {"t": 1}}]}]}}"#,
        br#"{"data": {"fields": {}}}"#,
        br#"{"data": {"fields": [[1], "x", null]}, "eventType": null}"#,
        br#"{"eventType": "OTHER", "data": 1}"#,
        br#"{"event_type": "form_response"}"#,
        br#"{"form_response": {"definition": {"fields": [{"id": "a", "x": [1e999]}]}}}"#,
        br#"{"data": {"fields": [{"options": [{"id": "\ud800"}]}]}}"#,
        b"[]",
        b"{",
        b"",
        b"{\"data\": {\"fields\": [{\"label\": \"\xff\"}]}}",
    ] {
        same(body);
    }
}

/// Arbitrary JSON, biased towards the keys the two adapters read.
fn json_value() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        Just("id".to_owned()),
        Just("ref".to_owned()),
        Just("title".to_owned()),
        Just("key".to_owned()),
        Just("label".to_owned()),
        Just("type".to_owned()),
        Just("value".to_owned()),
        Just("options".to_owned()),
        Just("rows".to_owned()),
        Just("columns".to_owned()),
        Just("text".to_owned()),
        Just("fields".to_owned()),
        Just("field".to_owned()),
        Just("email".to_owned()),
        Just("choice".to_owned()),
        Just("MATRIX".to_owned()),
        "[a-z_]{1,6}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("MULTIPLE_CHOICE".to_owned()),
            Just("CHECKBOXES".to_owned()),
            Just("MATRIX".to_owned()),
            Just("INPUT_EMAIL".to_owned()),
            Just("a@b.de".to_owned()),
            Just("id1".to_owned()),
            ".{0,8}",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

proptest! {
    #[test]
    fn any_payload_decodes_the_same(v in json_value(), w in json_value(), event in prop::option::of(json_value())) {
        let tally = json!({"eventType": event.clone().unwrap_or(json!("FORM_RESPONSE")), "data": {
            "responseId": w, "fields": [v, {"key": "k", "label": w, "type": v, "value": ["id1"],
            "options": [v, {"id": "id1", "text": w}], "rows": v, "columns": w}]}, "x": v});
        let typeform = json!({"event_type": event.unwrap_or(json!("form_response")), "form_response": {
            "token": w, "answers": [v, {"type": "choice", "choice": v, "field": {"id": "id1"}}],
            "definition": {"fields": [v, {"id": "id1", "ref": w, "title": v}], "title": w, "x": v},
            "hidden": v, "calculated": w, "variables": [v]}});
        for body in [v, tally, typeform] {
            same(&serde_json::to_vec(&body).expect("serializes"));
        }
    }
}
