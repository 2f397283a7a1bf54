//! The adapter as it was before it read its fields and `rawRequest` without building a map and
//! a `Value` first (kept to test that the current one decodes every payload the same).
#![allow(dead_code)]

use serde_json::{Map, Value};

use crate::body::{self, BodyKind, ContentType, MAX_MULTIPART_PARTS, MAX_PART_BYTES};
use crate::mapping::{Ids, Mapping, Sink, id_value};
use crate::{Decoded, SourceError};

/// Decodes a Jotform webhook body.
pub fn decode(ct: &ContentType, bytes: &[u8], mapping: &Mapping) -> Result<Decoded, SourceError> {
    let mut outer = match ct.kind {
        BodyKind::Multipart(_) | BodyKind::UrlEncoded | BodyKind::Missing => {
            body::pairs_to_object(form_pairs(ct, bytes)?)
        }
        _ => return Err(ct.unsupported("jotform")),
    };
    let raw = match outer.remove("rawRequest") {
        Some(Value::String(s)) => match body::json(s.as_bytes())? {
            Value::Object(o) => o,
            _ => return Err(SourceError::Malformed("rawRequest is not a JSON object")),
        },
        _ => return Err(SourceError::Malformed("rawRequest field is missing")),
    };
    drop(outer.remove("pretty"));

    let mut sink = Sink::new(mapping);
    if let Some(id) = outer.remove("submissionID") {
        sink.external_id(&id);
    }
    for (k, v) in raw {
        match question_label(&k) {
            Some(label) => answer(&mut sink, &k, label, v),
            None => sink.meta(&k, v),
        }
    }
    for (from, to) in [("formID", "form_id"), ("formTitle", "form_title")] {
        if let Some(v) = outer.remove(from) {
            sink.meta(to, id_value(v));
        }
    }
    for (k, v) in outer {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
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
                sink.custom(&format!("{key}.{part}"), v);
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
        let path = format!("{key}.{part}");
        match known.iter().find(|(p, _)| *p == part) {
            Some((_, canonical)) => sink.known(&path, canonical, v),
            None => sink.meta(&path, v),
        }
    }
}

/// `body::form_pairs` as it was.
fn form_pairs(ct: &ContentType, body: &[u8]) -> Result<Vec<(String, String)>, SourceError> {
    match &ct.kind {
        BodyKind::Multipart(Some(b)) => multipart(b, body),
        _ => body::form_pairs(ct, body),
    }
}

const MAX_HEADER_LINE: usize = 2048;

/// Parses a `multipart/form-data` body strictly: CRLF line endings, `form-data` parts with a
/// `name`, no file parts, no non-text part content types, UTF-8 contents, bounded sizes.
pub fn multipart(boundary: &str, body: &[u8]) -> Result<Vec<(String, String)>, SourceError> {
    let delimiter = format!("--{boundary}");
    let delim = delimiter.as_bytes();
    let mut pos = find(body, delim, 0).ok_or(SourceError::Malformed("no multipart boundary"))?;
    // A part's content ends at CRLF and the delimiter.
    let next_delim = format!("\r\n{delimiter}");
    let next_delim = next_delim.as_bytes();
    let mut out = Vec::new();
    loop {
        pos += delim.len();
        if body[pos..].starts_with(b"--") {
            return Ok(out); // close delimiter; anything after is the epilogue
        }
        // Transport padding is allowed before the CRLF.
        while body.get(pos).is_some_and(|b| *b == b' ' || *b == b'\t') {
            pos += 1;
        }
        if !body[pos..].starts_with(b"\r\n") {
            return Err(SourceError::Malformed(
                "multipart delimiter not followed by CRLF",
            ));
        }
        pos += 2;
        if out.len() >= MAX_MULTIPART_PARTS {
            return Err(SourceError::TooLarge);
        }
        // Headers end at the first empty line.
        let header_end = find(body, b"\r\n\r\n", pos).ok_or(SourceError::Malformed(
            "multipart part headers not terminated",
        ))?;
        let name = part_name(&body[pos..header_end])?;
        let content_start = header_end + 4;
        let content_end = find(body, next_delim, content_start)
            .ok_or(SourceError::Malformed("multipart part not terminated"))?;
        let content = &body[content_start..content_end];
        if content.len() > MAX_PART_BYTES {
            return Err(SourceError::TooLarge);
        }
        let text = std::str::from_utf8(content)
            .map_err(|_| SourceError::Malformed("multipart part is not UTF-8 text"))?;
        out.push((name, text.to_owned()));
        pos = content_end + 2;
    }
}

/// The `name` of a part, after checking its headers allow a text field.
fn part_name(headers: &[u8]) -> Result<String, SourceError> {
    let headers = std::str::from_utf8(headers)
        .map_err(|_| SourceError::Malformed("multipart part headers are not UTF-8"))?;
    let mut name = None;
    for line in headers.split("\r\n") {
        if line.len() > MAX_HEADER_LINE {
            return Err(SourceError::TooLarge);
        }
        let Some((key, value)) = line.split_once(':') else {
            return Err(SourceError::Malformed("malformed multipart part header"));
        };
        let key = key.trim();
        if key.eq_ignore_ascii_case("content-disposition") {
            let mut params = value.split(';');
            if !params
                .next()
                .is_some_and(|d| d.trim().eq_ignore_ascii_case("form-data"))
            {
                return Err(SourceError::Malformed("multipart part is not form-data"));
            }
            for param in params {
                let Some((k, v)) = param.split_once('=') else {
                    continue;
                };
                let k = k.trim();
                if k.eq_ignore_ascii_case("filename") || k.eq_ignore_ascii_case("filename*") {
                    return Err(SourceError::Malformed(
                        "multipart file parts are not accepted",
                    ));
                }
                if k.eq_ignore_ascii_case("name") {
                    name = Some(unquote(v.trim())?);
                }
            }
        } else if key.eq_ignore_ascii_case("content-type") {
            let ct = value.trim().to_ascii_lowercase();
            if !ct.starts_with("text/plain") {
                return Err(SourceError::Malformed("multipart part is not text/plain"));
            }
        }
    }
    name.ok_or(SourceError::Malformed("multipart part without a name"))
}

fn unquote(v: &str) -> Result<String, SourceError> {
    let Some(inner) = v.strip_prefix('"') else {
        return Ok(v.to_owned());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => break,
            },
            '"' => return Ok(out),
            c => out.push(c),
        }
    }
    Err(SourceError::Malformed(
        "unterminated quoted multipart parameter",
    ))
}

/// The first position at or after `from` where `needle` (non-empty) starts.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    let (&first, _) = needle.split_first()?;
    let mut at = from;
    // Jump from one occurrence of the first byte to the next instead of comparing the whole
    // needle at every position (a memcmp call per byte of the body was most of the parse).
    loop {
        let window = haystack.get(at..)?;
        at += window.iter().position(|&b| b == first)?;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        at += 1;
    }
}
