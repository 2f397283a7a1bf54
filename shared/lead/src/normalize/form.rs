//! `application/x-www-form-urlencoded` bodies: strict decoding and grouping of repeated keys.

use super::pipeline::{Draft, FIELDS, IGNORED, is_field, keep_custom};
use crate::FieldProblem;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a part of a form body could not be decoded, if it could not.
fn check(part: &[u8]) -> Result<(), &'static str> {
    let mut decoded = Vec::with_capacity(part.len());
    let mut i = 0;
    while let Some(&b) = part.get(i) {
        match b {
            b'%' => {
                let hex = |j: usize| part.get(j).and_then(|h| (*h as char).to_digit(16));
                let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
                    return Err("malformed percent-encoding");
                };
                // Both digits are < 16, so the byte cannot overflow.
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            b'+' => {
                decoded.push(b' ');
                i += 1;
            }
            _ => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded)
        .map(|_| ())
        .map_err(|_| "not valid UTF-8")
}

/// Decodes a form body into (key, value) pairs. Parts with malformed percent-encoding or
/// invalid UTF-8 are reported (under their key when the key itself is fine, else `body`) and
/// left out; decoding never panics.
pub(crate) fn decode(body: &[u8]) -> (Vec<(String, String)>, Vec<FieldProblem>) {
    let mut pairs = Vec::new();
    let mut problems: Vec<FieldProblem> = Vec::new();
    for part in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match part.iter().position(|b| *b == b'=') {
            Some(eq) => (&part[..eq], &part[eq + 1..]),
            None => (part, &part[part.len()..]),
        };
        let problem = match (check(key), check(value)) {
            (Ok(()), Ok(())) => {
                pairs.extend(
                    url::form_urlencoded::parse(part)
                        .map(|(k, v)| (k.into_owned(), v.into_owned())),
                );
                continue;
            }
            (Ok(()), Err(problem)) => {
                let field: String = url::form_urlencoded::parse(key)
                    .next()
                    .map(|(k, _)| k.into_owned())
                    .filter(|k| k.chars().count() <= 64)
                    .unwrap_or_else(|| "body".to_string());
                FieldProblem::new(field, problem)
            }
            (Err(problem), _) => FieldProblem::new("body", problem),
        };
        if !problems.contains(&problem) {
            problems.push(problem);
        }
    }
    (pairs, problems)
}

/// The canonical field a form key names: `product_interest[]` (PHP/Rails style multi-select)
/// counts as `product_interest`.
fn canonical_key(key: &str) -> &str {
    match key.strip_suffix("[]") {
        Some(base) if is_field(base) => base,
        _ => key,
    }
}

/// A draft lead from a form body. Blank values count as absent. A repeated canonical field
/// takes its last value (so the hidden-input-before-checkbox pattern `consent=0&consent=1`
/// works), except `product_interest`, which takes every value, each split on `,` and `;`.
/// Other keys go to `custom`: a string, or an array of strings when repeated.
pub(crate) fn draft(body: &[u8]) -> Draft {
    let (pairs, problems) = decode(body);
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (key, value) in pairs {
        if value.trim().is_empty() {
            continue;
        }
        grouped
            .entry(canonical_key(&key).to_string())
            .or_default()
            .push(value);
    }
    let mut fields = Map::new();
    let mut custom = Map::new();
    for (key, mut values) in grouped {
        if IGNORED.contains(&key.as_str()) {
            continue;
        }
        if key == "product_interest" {
            let items = values
                .iter()
                .flat_map(|v| v.split([',', ';']))
                .map(|item| Value::String(item.to_string()))
                .collect();
            fields.insert(key, Value::Array(items));
        } else if FIELDS.contains(&key.as_str()) {
            if let Some(last) = values.pop() {
                fields.insert(key, Value::String(last));
            }
        } else {
            let value = if values.len() == 1 {
                Value::String(values.remove(0))
            } else {
                Value::Array(values.into_iter().map(Value::String).collect())
            };
            if keep_custom(&value) {
                custom.insert(key, value);
            }
        }
    }
    Draft {
        fields,
        custom,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs() {
        let (pairs, problems) = decode(b"a=1&b=hello+world&c=%C3%A9t%C3%A9&&d&e=x%3Dy=z");
        assert!(problems.is_empty());
        let want: Vec<(String, String)> = [
            ("a", "1"),
            ("b", "hello world"),
            ("c", "été"),
            ("d", ""),
            ("e", "x=y=z"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(pairs, want);
    }

    #[test]
    fn malformed_parts_are_problems() {
        let (pairs, problems) =
            decode(b"email=a%40b.com&company=100%&city=M%FCnchen&%ZZ=1&name=%E2%82");
        assert_eq!(pairs, vec![("email".to_string(), "a@b.com".to_string())]);
        assert_eq!(
            problems,
            vec![
                FieldProblem::new("company", "malformed percent-encoding"),
                FieldProblem::new("city", "not valid UTF-8"),
                FieldProblem::new("body", "malformed percent-encoding"),
                FieldProblem::new("name", "not valid UTF-8"),
            ]
        );
        let (_, problems) = decode(b"a=%&b=%1&c=%G1");
        assert_eq!(problems.len(), 3);
        let (_, problems) = decode(&[0xff, b'=', b'1']);
        assert_eq!(problems, vec![FieldProblem::new("body", "not valid UTF-8")]);
    }

    #[test]
    fn groups_repeated_keys() {
        let d = draft(b"consent=0&consent=1&product_interest=CRM&product_interest[]=Analytics,+API&tag=a&tag=b&tag=&utm=x&source=evil&id=1&received_at=now&email=&fax=+");
        assert!(d.problems.is_empty());
        assert_eq!(d.fields.get("consent"), Some(&Value::from("1")));
        assert_eq!(
            d.fields.get("product_interest"),
            Some(&serde_json::json!(["CRM", "Analytics", " API"]))
        );
        assert_eq!(d.fields.get("email"), None);
        assert_eq!(d.custom.get("tag"), Some(&serde_json::json!(["a", "b"])));
        assert_eq!(d.custom.get("utm"), Some(&Value::from("x")));
        for absent in ["source", "id", "received_at", "fax"] {
            assert!(
                !d.custom.contains_key(absent) && !d.fields.contains_key(absent),
                "{absent}"
            );
        }
    }
}
