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

/// Invalid JSON inside a part the adapters skip or read lazily (the form definition, answers'
/// `field`, Tally's fields and options) is rejected exactly as before, and only when a full
/// parse into a `Value` rejects it; valid oddities there (deep nesting under the limit, big
/// numbers, escapes) are accepted as before.
#[test]
fn defects_in_skipped_parts_are_rejected_as_before() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let values = [
        r#""\udc00""#.to_owned(),
        r#""\ud800\u0041""#.to_owned(),
        r#""\ud800\udc00""#.to_owned(),
        "1e400".to_owned(),
        "-1e400".to_owned(),
        "1e-400".to_owned(),
        "18446744073709551616".to_owned(),
        r#""\x""#.to_owned(),
        r#""\u12""#.to_owned(),
        "\"tab\there\"".to_owned(),
        "01".to_owned(),
        "[1,]".to_owned(),
        "{\"a\" 1}".to_owned(),
        "nul".to_owned(),
        deep(120),
        deep(130),
    ];
    let sites = [
        (
            "typeform/form_response.json",
            r#""definition": {"#,
            r#""definition": {"zz": V, "#,
        ),
        (
            "typeform/form_response.json",
            r#""allow_other_choice": false"#,
            r#""allow_other_choice": V"#,
        ),
        (
            "typeform/form_response.json",
            r#""field": {"#,
            r#""field": {"zz": V, "#,
        ),
        (
            "tally/form_response.json",
            r#""type": "HIDDEN_FIELDS""#,
            r#""type": "HIDDEN_FIELDS", "zz": V"#,
        ),
        (
            "tally/form_response.json",
            r#""text": "Not started""#,
            r#""text": "Not started", "zz": V"#,
        ),
        (
            "tally/form_response.json",
            r#""text": "Done""#,
            r#""text": V"#,
        ),
    ];
    for (file, anchor, with) in sites {
        let fixture = std::fs::read_to_string(format!("{fixtures}/{file}")).expect("fixture");
        assert!(fixture.contains(anchor), "{file}: {anchor}");
        let mut rejected = 0;
        for v in &values {
            let body = fixture.replacen(anchor, &with.replace('V', v), 1);
            let invalid = serde_json::from_str::<Value>(&body).is_err();
            rejected += usize::from(invalid);
            let ct = ContentType::parse("application/json");
            for (name, now, was) in ADAPTERS {
                let got = now(&ct, body.as_bytes(), &Mapping::default());
                assert_eq!(
                    got,
                    was(&ct, body.as_bytes(), &Mapping::default()),
                    "{name} {v}"
                );
                if invalid {
                    assert_eq!(
                        got,
                        Err(crate::SourceError::Malformed("body is not valid JSON")),
                        "{name} {file} {v}"
                    );
                }
            }
        }
        // Every defect but the valid ones (a pair of surrogates, 1e-400, u64::MAX + 1, 120
        // levels) is one.
        assert_eq!(rejected, values.len() - 4, "{file}: {anchor}");
    }
}

/// A JSON scalar: null, a bool, an integer, a float, or one of `strings`.
pub(crate) fn json_leaf(strings: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        strings.prop_map(Value::String),
    ]
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
    let leaf = json_leaf(prop_oneof![
        Just("MULTIPLE_CHOICE".to_owned()),
        Just("CHECKBOXES".to_owned()),
        Just("MATRIX".to_owned()),
        Just("INPUT_EMAIL".to_owned()),
        Just("a@b.de".to_owned()),
        Just("id1".to_owned()),
        ".{0,8}",
    ]);
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

/// Jotform: the adapter that sorts borrowed fields and reads `rawRequest` into borrowed keys
/// decodes every body as the one that folded the fields into a map and parsed a `Value`.
mod jotform {
    use super::*;

    const BOUNDARY: &str = "------JotformBoundary7MA4YWxkTrZu0gW";

    fn same(body: &[u8]) {
        let mappings = [
            Mapping::default(),
            Mapping {
                fields: [
                    ("q4_email".to_owned(), "custom.mail".to_owned()),
                    ("slug".to_owned(), "external_id".to_owned()),
                    ("formID".to_owned(), "phone".to_owned()),
                    ("form_title".to_owned(), "company".to_owned()),
                    ("q3_name.first".to_owned(), "custom.f".to_owned()),
                    ("ip".to_owned(), "email".to_owned()),
                ]
                .into(),
            },
        ];
        let multipart = format!("multipart/form-data; boundary={BOUNDARY}");
        for ct in [
            multipart.as_str(),
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "",
            "application/json",
        ] {
            let ct = ContentType::parse(ct);
            for mapping in &mappings {
                assert_eq!(
                    super::super::jotform::decode(&ct, body, mapping),
                    before::jotform::decode(&ct, body, mapping),
                    "{ct:?}: {}",
                    String::from_utf8_lossy(body)
                );
            }
        }
    }

    /// A multipart body of text parts (the names quoted and escaped as given).
    fn multipart(parts: &[(&str, &str)]) -> Vec<u8> {
        let mut out = String::new();
        for (name, text) in parts {
            out.push_str(&format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name={name}\r\n\r\n{text}\r\n"
            ));
        }
        out.push_str(&format!("--{BOUNDARY}--\r\n"));
        out.into_bytes()
    }

    /// The same fields as a multipart and as an urlencoded body.
    fn both(parts: &[(String, String)]) -> [Vec<u8>; 2] {
        let quoted: Vec<(String, &str)> = parts
            .iter()
            .map(|(n, t)| {
                (
                    format!("\"{}\"", n.replace('\\', "\\\\").replace('"', "\\\"")),
                    t.as_str(),
                )
            })
            .collect();
        let refs: Vec<(&str, &str)> = quoted.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        [
            multipart(&refs),
            serde_urlencoded::to_string(parts)
                .expect("encodes")
                .into_bytes(),
        ]
    }

    #[test]
    fn fixture_and_odd_bodies() {
        let fixture = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/fixtures/jotform/webhook_multipart.txt"
        ))
        .expect("fixture");
        same(&fixture);
        let raw =
            r#"{"q3_name":{"first":"A","last":"B","middle":"M"},"q4_email":"a@b.de","slug":"s"}"#;
        let bodies: Vec<Vec<u8>> = vec![
            multipart(&[]),
            multipart(&[("\"rawRequest\"", raw)]),
            multipart(&[("rawRequest", raw), ("formID", "1"), ("formID", "2")]),
            multipart(&[("\"rawRequest\"", raw), ("\"rawRequest\"", raw)]),
            multipart(&[
                ("\"raw\\Request\"", raw),
                ("\"\"", "x"),
                ("\"pretty\"", "p"),
            ]),
            multipart(&[
                ("\"a\\\"b\"", "1"),
                ("\"rawRequest\"", raw),
                ("\"a\\\"b\"", "2"),
                ("\"a\\\"b\"", " "),
            ]),
            multipart(&[("\"rawRequest\"", "[1]"), ("\"formID\"", "1")]),
            multipart(&[("\"rawRequest\"", "")]),
            multipart(&[("\"rawRequest\"", "{\"a\": 1} x")]),
            multipart(&[("\"rawRequest\"", "{\"a\": \"\\ud800\"}")]),
            multipart(&[("\"rawRequest\"", "{\"a\": 1e400}")]),
            multipart(&[(
                "\"rawRequest\"",
                &format!("{{\"a\": {}{}}}", "[".repeat(130), "]".repeat(130)),
            )]),
            multipart(&[(
                "\"rawRequest\"",
                &format!("{{\"a\": {}{}}}", "[".repeat(120), "]".repeat(120)),
            )]),
            multipart(&[(
                "\"rawRequest\"",
                r#"{"q1_x": 1, "q1_x": {"first": "F"}, "slug": 2, "slug": null, "k\u00e9\"y": "v", "q2_a\nb": "t"}"#,
            )]),
            multipart(&[
                ("\"submissionID\"", " "),
                ("\"submissionID\"", "5"),
                ("\"rawRequest\"", raw),
            ]),
            multipart(&[
                ("\"submissionID\"", "  "),
                ("\"rawRequest\"", r#"{"slug": "7", "q9_submissionID": 3}"#),
            ]),
            multipart(&[
                ("\"submissionID\"", "9"),
                ("\"rawRequest\"", raw),
                ("\"ip\"", "x@y.de"),
                ("\"ip\"", "z"),
            ]),
            multipart(&[
                ("\"formTitle\"", "T"),
                ("\"form_title\"", "U"),
                ("\"rawRequest\"", r#"{"form_title": "V"}"#),
            ]),
            multipart(&[("\"rawRequest\"", raw), ("\"bad\"", "\u{e9}")]),
        ];
        for body in &bodies {
            same(body);
        }
        // Parts that are not UTF-8, unterminated quoted names, no closing delimiter.
        for body in [
            &b"--------JotformBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"rawRequest\"\r\n\r\n{\"a\": \"\xff\"}\r\n--------JotformBoundary7MA4YWxkTrZu0gW--"[..],
            b"--------JotformBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"ra\xffw\"\r\n\r\n{}\r\n--------JotformBoundary7MA4YWxkTrZu0gW--",
            b"--------JotformBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"rawRequest\r\n\r\n{}\r\n--------JotformBoundary7MA4YWxkTrZu0gW--",
            b"--------JotformBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"rawRequest\\\r\n\r\n{}\r\n--------JotformBoundary7MA4YWxkTrZu0gW--",
            b"--------JotformBoundary7MA4YWxkTrZu0gW\r\nContent-Disposition: form-data; name=\"rawRequest\"\r\n\r\n{}\r\n",
            b"rawRequest=%7B%22q4_email%22%3A%22a%40b.de%22%7D&formID=%FF&x",
            b"rawRequest=%7B%7D&rawRequest=%7B%7D",
            b"\xff\xfe",
        ] {
            same(body);
        }
    }

    /// Field names biased towards the ones the adapter reads.
    fn name() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("rawRequest".to_owned()),
            Just("pretty".to_owned()),
            Just("submissionID".to_owned()),
            Just("formID".to_owned()),
            Just("formTitle".to_owned()),
            Just("form_id".to_owned()),
            Just("ip".to_owned()),
            Just("q3_name".to_owned()),
            "[a-zA-Z_\"\\\\ é]{0,6}",
        ]
    }

    /// A `rawRequest` object, biased towards answer keys and widget parts.
    fn raw() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("q3_name".to_owned()),
            Just("q4_email".to_owned()),
            Just("q5_phoneNumber".to_owned()),
            Just("q6_address".to_owned()),
            Just("q12_fullName12".to_owned()),
            Just("slug".to_owned()),
            Just("form_id".to_owned()),
            Just("q_".to_owned()),
            "q[0-9]{0,2}_[a-zA-Z0-9]{0,6}",
            "[a-z_]{0,6}",
        ];
        let part = prop_oneof![
            Just("first"),
            Just("last"),
            Just("middle"),
            Just("full"),
            Just("area"),
            Just("phone"),
            Just("addr_line1"),
            Just("city"),
            Just("state"),
            Just("postal"),
            Just("country"),
            Just("x"),
        ];
        let leaf = json_leaf(prop_oneof![
            Just("a@b.de".to_owned()),
            Just("(555) 555-1234".to_owned()),
            Just(" ".to_owned()),
            Just("John Doe".to_owned()),
            ".{0,8}",
        ]);
        let value = leaf.prop_recursive(3, 24, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((part.clone(), inner), 0..6).prop_map(|m| Value::Object(
                    m.into_iter()
                        .map(|(k, v)| (k.to_owned(), v))
                        .collect::<Map<_, _>>()
                )),
            ]
        });
        // Entries written out one by one, so keys can repeat.
        prop::collection::vec((key, value), 0..8).prop_map(|entries| {
            let items: Vec<String> = entries
                .iter()
                .map(|(k, v)| format!("{}: {v}", Value::String(k.clone())))
                .collect();
            format!("{{{}}}", items.join(", "))
        })
    }

    proptest! {
        #[test]
        fn any_fields_decode_the_same(
            fields in prop::collection::vec((name(), prop_oneof![raw(), ".{0,6}"]), 0..10),
            raw in raw(),
            with_raw in any::<bool>(),
        ) {
            let mut fields = fields;
            if with_raw {
                fields.push(("rawRequest".to_owned(), raw));
            }
            for body in both(&fields) {
                same(&body);
            }
        }
    }
}
