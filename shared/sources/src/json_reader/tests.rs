//! The reader against serde_json: same texts accepted, same values built.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::{Reader, skip_all, value_of};
use crate::sources::equivalence_tests::json_leaf;

/// What serde_json says of `text`, and what the reader says (reading it as a value, and
/// skipping it): all three must agree.
fn check(text: &str) {
    let expected = serde_json::from_str::<Value>(text).ok();
    assert_eq!(value_of(text).ok(), expected, "value of {text:?}");
    assert_eq!(
        skip_all(text).is_ok(),
        expected.is_some(),
        "skipping {text:?}"
    );
}

#[test]
fn hand_picked_texts() {
    let texts = [
        "",
        " ",
        "null",
        "nul",
        "nulll",
        "true",
        "false",
        "tru",
        "0",
        "-0",
        "01",
        "-",
        "-a",
        "1.",
        "1.5",
        ".5",
        "+1",
        "1e5",
        "1E+5",
        "1e-5",
        "1e",
        "1e+",
        "1e400",
        "-1e400",
        "1e-400",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "-9223372036854775809",
        "1.7976931348623157e308",
        "1.7976931348623159e308",
        "123456789012345678901234567890",
        "\"\"",
        "\"a\"",
        "\"a",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\x\"",
        "\"\\u00e9\"",
        "\"\\u00E9x\"",
        "\"\\u12\"",
        "\"\\u12g4\"",
        "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"",
        "\"\\ud83dx\"",
        "\"\\ud83d\\n\"",
        "\"\\ud83d\\u0041\"",
        "\"\\ude00\\ud83d\"",
        "\"\\ude00\"",
        "\"tab\there\"",
        "\"\u{7f}\"",
        "\"é ü 日本\"",
        "[]",
        "[ ]",
        "[1,]",
        "[,1]",
        "[1 2]",
        "[1,2]",
        "{}",
        "{ }",
        "{\"a\":1}",
        "{\"a\" : 1 , \"b\" : [ ] }",
        "{\"a\":1,}",
        "{,\"a\":1}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{1:1}",
        "{\"a\":1 \"b\":2}",
        "{\"a\":1,\"a\":2}",
        "[1] x",
        "[1]\n\t\r ",
        "\u{c}1",
        "{\"a\":[1,{\"b\":null}],\"c\":\"d\"}",
        "[1}",
        "{\"a\":1]",
        "]",
        "}",
    ];
    for text in texts {
        check(text);
    }
}

#[test]
fn nesting_limit_is_serde_jsons() {
    for depth in [1, 2, 100, 126, 127, 128, 129, 200] {
        for (open, close) in [("[", "]"), ("{\"k\":[", "]}")] {
            let text = format!("{}{}", open.repeat(depth), close.repeat(depth));
            check(&text);
            // Inside an object the adapters walk, so the walked levels count too.
            let text = format!(
                "{{\"a\": {{\"b\": {}{}}}}}",
                open.repeat(depth),
                close.repeat(depth)
            );
            check(&text);
        }
    }
}

#[test]
fn pull_reading_sees_keys_items_and_texts() {
    let text = r#"{"a": [1, "x", {"y": []}], "b": "c\"d", "e": {"f": null}, "g": 5}"#;
    let mut r = Reader::new(text);
    assert_eq!(r.object(), Ok(true));
    assert_eq!(r.key().ok().flatten().as_deref(), Some("a"));
    assert_eq!(r.array(), Ok(true));
    let mut texts = Vec::new();
    while r.item() == Ok(true) {
        texts.push(r.text().ok().flatten().map(|t| t.into_owned()));
    }
    assert_eq!(texts, [None, Some("x".to_owned()), None]);
    assert_eq!(r.key().ok().flatten().as_deref(), Some("b"));
    assert_eq!(r.text().ok().flatten().as_deref(), Some("c\"d"));
    assert_eq!(r.key().ok().flatten().as_deref(), Some("e"));
    assert_eq!(r.value(), Ok(json!({"f": null})));
    assert_eq!(r.key().ok().flatten().as_deref(), Some("g"));
    // Not an object or array: skipped.
    assert_eq!(r.object(), Ok(false));
    assert_eq!(r.key(), Ok(None));
    assert_eq!(r.finish(), Ok(()));
}

#[test]
fn pull_reading_rejects_what_serde_json_rejects() {
    // A missing comma between entries the adapter walks.
    let mut r = Reader::new(r#"{"a": 1 "b": 2}"#);
    assert_eq!(r.object(), Ok(true));
    assert!(r.key().is_ok_and(|k| k.is_some()));
    assert_eq!(r.skip(), Ok(()));
    assert_eq!(r.key(), Err(super::Invalid));
    // A missing comma between items.
    let mut r = Reader::new("[1 2]");
    assert_eq!(r.array(), Ok(true));
    assert_eq!(r.item(), Ok(true));
    assert_eq!(r.skip(), Ok(()));
    assert_eq!(r.item(), Err(super::Invalid));
    // Trailing text.
    let mut r = Reader::new("{} {}");
    assert_eq!(r.object(), Ok(true));
    assert_eq!(r.key(), Ok(None));
    assert_eq!(r.finish(), Err(super::Invalid));
}

/// Arbitrary JSON values.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        json_leaf(prop_oneof![
            any::<String>(),
            "[a-z\"\\\\/\u{0}-\u{1f}é😀]{0,8}",
        ]),
        // Integers over i64::MAX, which serde_json reads as u64.
        any::<u64>().prop_map(|n| json!(n)),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(("[a-z\"é]{0,4}", inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Bytes that change what a JSON text means.
const EDITS: &[&str] = &[
    "", " ", "\t", "\n", "\u{1}", ",", ":", "[", "]", "{", "}", "\"", "\\", "\\u", "\\ud800",
    "\\udc00", "u", "0", "1", "-", "+", ".", "e", "E", "1e400", "x", "n", "t", "f", "null", "é",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Valid texts (compact and pretty) are accepted, and read as serde_json reads them (not
    /// always the value they were written from: serde_json's float parsing is not exact).
    #[test]
    fn valid_texts_read_as_serde_json_does(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&v).unwrap_or_default()
        } else {
            v.to_string()
        };
        check(&text);
        prop_assert!(value_of(&text).is_ok());
    }

    /// Texts with a few edits (most now invalid): accepted and read exactly as serde_json does.
    #[test]
    fn edited_texts_are_judged_as_serde_json_does(
        v in json_value(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0..EDITS.len(), 0..3usize), 1..4),
    ) {
        let mut text = v.to_string();
        for (at, edit, how) in edits {
            let mut i = at.index(text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            let mut end = i + 1;
            while end < text.len() && !text.is_char_boundary(end) {
                end += 1;
            }
            match how {
                0 => text.insert_str(i, EDITS[edit]),
                1 if i < text.len() => text.replace_range(i..end.min(text.len()), EDITS[edit]),
                _ if i < text.len() => text.replace_range(i..end.min(text.len()), ""),
                _ => text.push_str(EDITS[edit]),
            }
        }
        check(&text);
    }

    /// Any short text of JSON punctuation and fragments.
    #[test]
    fn fragment_soup_is_judged_as_serde_json_does(
        parts in prop::collection::vec(0..EDITS.len(), 0..12),
    ) {
        let text: String = parts.into_iter().map(|i| EDITS[i]).collect();
        check(&text);
    }
}

/// The reader's cost alone: `cargo test --profile profiling -p leadrouter-sources --lib
/// reader_speed -- --ignored --nocapture` (wall time, best of 5 rounds), or under callgrind
/// with `--toggle-collect=leadrouter_sources::json_reader::skip_all` and `READER_SPEED_N=100`
/// for instruction counts (`READER_SPEED_FIXTURE=typeform` for one fixture).
#[test]
#[ignore = "a measurement, not a check"]
fn reader_speed() {
    use std::hint::black_box;
    use std::time::Instant;
    let n: usize = std::env::var("READER_SPEED_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let only = std::env::var("READER_SPEED_FIXTURE").unwrap_or_default();
    for f in ["typeform/form_response.json", "tally/form_response.json"] {
        if !f.starts_with(only.as_str()) {
            continue;
        }
        let path = format!("{}/fixtures/{f}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(path).expect("fixture");
        let mut best = [f64::MAX; 3];
        for _ in 0..5 {
            let t = Instant::now();
            for _ in 0..n {
                assert!(skip_all(black_box(&text)).is_ok());
            }
            best[0] = best[0].min(t.elapsed().as_secs_f64() / n as f64 * 1e6);
            let t = Instant::now();
            for _ in 0..n {
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(black_box(&text)).is_ok());
            }
            best[1] = best[1].min(t.elapsed().as_secs_f64() / n as f64 * 1e6);
            let t = Instant::now();
            for _ in 0..n {
                assert!(serde_json::from_str::<Value>(black_box(&text)).is_ok());
            }
            best[2] = best[2].min(t.elapsed().as_secs_f64() / n as f64 * 1e6);
        }
        println!(
            "{f}: reader skip {:.2} us, serde_json IgnoredAny {:.2} us, serde_json Value {:.2} us",
            best[0], best[1], best[2]
        );
    }
}
