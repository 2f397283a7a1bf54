//! Request bodies: content-type parsing, JSON, `application/x-www-form-urlencoded`, and a small
//! strict `multipart/form-data` parser (text parts only).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::SourceError;

/// Most parts a multipart body may have.
pub const MAX_MULTIPART_PARTS: usize = 512;
/// Largest multipart part, in bytes.
pub const MAX_PART_BYTES: usize = 1024 * 1024;
/// Longest multipart part header line, in bytes.
const MAX_HEADER_LINE: usize = 2048;

/// The broad kind of a request body, from its `Content-Type`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyKind {
    /// `application/json`, `text/json`, `application/*+json`.
    Json,
    /// `application/x-www-form-urlencoded`.
    UrlEncoded,
    /// `multipart/form-data` with its boundary (`None` when the parameter is missing/invalid).
    Multipart(Option<String>),
    /// No content type was sent.
    Missing,
    /// Anything else.
    Other,
}

/// A parsed `Content-Type` header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// Lower-cased media type without parameters (`application/json`).
    pub media_type: String,
    /// What the body is.
    pub kind: BodyKind,
}

impl ContentType {
    /// Parses a header value; never fails (unknown types are [`BodyKind::Other`]).
    pub fn parse(header: &str) -> ContentType {
        let mut parts = header.split(';');
        let media_type: String = parts
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .chars()
            .take(100)
            .collect();
        let kind = match media_type.as_str() {
            "" => BodyKind::Missing,
            "application/json" | "text/json" => BodyKind::Json,
            m if m.starts_with("application/") && m.ends_with("+json") => BodyKind::Json,
            "application/x-www-form-urlencoded" => BodyKind::UrlEncoded,
            "multipart/form-data" => BodyKind::Multipart(boundary(parts)),
            _ => BodyKind::Other,
        };
        ContentType { media_type, kind }
    }

    pub(crate) fn unsupported(&self, source: &'static str) -> SourceError {
        SourceError::UnsupportedContentType {
            tool: source,
            content_type: self.media_type.clone(),
        }
    }
}

fn boundary<'a>(params: impl Iterator<Item = &'a str>) -> Option<String> {
    for param in params {
        let Some((k, v)) = param.split_once('=') else {
            continue;
        };
        if !k.trim().eq_ignore_ascii_case("boundary") {
            continue;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v);
        // RFC 2046: 1 to 70 characters from a restricted set.
        let ok = !v.is_empty()
            && v.len() <= 70
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"'()+_,-./:=? ".contains(&b))
            && !v.ends_with(' ');
        return ok.then(|| v.to_owned());
    }
    None
}

/// Parses a JSON body.
pub fn json(body: &[u8]) -> Result<Value, SourceError> {
    serde_json::from_str(json_text(body)?)
        .map_err(|_| SourceError::Malformed("body is not valid JSON"))
}

/// The body as text for the JSON parser: checking UTF-8 once for the whole body is cheaper than
/// serde_json's check of every string (`from_slice`), and a body that is not UTF-8 is never
/// valid JSON (outside strings only ASCII is allowed, inside them only UTF-8), so it fails with
/// the same error.
pub(crate) fn json_text(body: &[u8]) -> Result<&str, SourceError> {
    std::str::from_utf8(body).map_err(|_| SourceError::Malformed("body is not valid JSON"))
}

/// Parses a JSON body that must be an object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, SourceError> {
    match json(body)? {
        Value::Object(o) => Ok(o),
        _ => Err(SourceError::Malformed("body is not a JSON object")),
    }
}

/// Parses an urlencoded body into ordered `(name, value)` pairs, exactly as the WHATWG
/// `application/x-www-form-urlencoded` parser does (`form_urlencoded::parse`, behind
/// `serde_urlencoded`, which this used before): the body splits on `&`, empty sequences are
/// skipped, each splits at its first `=` (none: an empty value), and each side has `+` read as
/// a space and then `%XX` decoded (a `%` without two hex digits stays as it is), bytes that are
/// not UTF-8 becoming U+FFFD. Any body parses.
///
/// Why not the crate: it decodes each name and value in three passes with up to three
/// allocations (`+`, then `%`, then UTF-8), a fifth of normalizing a Salesforce Web-to-Lead
/// post; this is one pass and one allocation, and none to decode a part that has neither `+`
/// nor `%`. `urlencoded_matches_the_crate` holds it to the crate's pairs on generated bodies.
pub fn urlencoded(body: &[u8]) -> Vec<(String, String)> {
    body.split(|&b| b == b'&')
        .filter(|sequence| !sequence.is_empty())
        .map(|sequence| {
            let (name, value) = match memchr::memchr(b'=', sequence) {
                Some(i) => (&sequence[..i], &sequence[i + 1..]),
                None => (sequence, &b""[..]),
            };
            (form_decode(name), form_decode(value))
        })
        .collect()
}

/// One urlencoded name or value: `+` as a space, `%XX` as its byte, then UTF-8 (lossy).
fn form_decode(input: &[u8]) -> String {
    if !input.iter().any(|&b| b == b'+' || b == b'%') {
        return String::from_utf8_lossy(input).into_owned();
    }
    let hex = |b: Option<&u8>| b.and_then(|&b| char::from(b).to_digit(16));
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while let Some(&b) = input.get(i) {
        match b {
            b'+' => out.push(b' '),
            b'%' => match (hex(input.get(i + 1)), hex(input.get(i + 2))) {
                (Some(high), Some(low)) => {
                    // Two hex digits: at most 0xFF.
                    out.push(u8::try_from(high << 4 | low).unwrap_or(u8::MAX));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            _ => out.push(b),
        }
        i += 1;
    }
    match String::from_utf8(out) {
        Ok(text) => text,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    }
}

/// Parses the text fields of a form body (urlencoded or multipart) into ordered pairs.
pub fn form_pairs(ct: &ContentType, body: &[u8]) -> Result<Vec<(String, String)>, SourceError> {
    match &ct.kind {
        BodyKind::UrlEncoded | BodyKind::Missing => Ok(urlencoded(body)),
        BodyKind::Multipart(Some(b)) => multipart(b, body),
        BodyKind::Multipart(None) => Err(SourceError::Malformed(
            "multipart body without a valid boundary parameter",
        )),
        _ => Err(SourceError::Malformed("not a form body")),
    }
}

/// A form field's name and value, borrowed from the body where possible.
pub(crate) type Field<'a> = (Cow<'a, str>, Cow<'a, str>);

/// [`form_pairs`], borrowing from a multipart body (names without escapes, and contents)
/// instead of copying.
pub(crate) fn form_fields<'a>(
    ct: &ContentType,
    body: &'a [u8],
) -> Result<Vec<Field<'a>>, SourceError> {
    match &ct.kind {
        BodyKind::Multipart(Some(b)) => multipart_fields(b, body),
        _ => Ok(form_pairs(ct, body)?
            .into_iter()
            .map(|(k, v)| (Cow::Owned(k), Cow::Owned(v)))
            .collect()),
    }
}

/// Folds ordered pairs into an object; repeated names become arrays (in order).
pub fn pairs_to_object(pairs: Vec<(String, String)>) -> Map<String, Value> {
    let mut out = Map::new();
    for (k, v) in pairs {
        match out.get_mut(&k) {
            None => {
                out.insert(k, Value::String(v));
            }
            Some(Value::Array(a)) => a.push(Value::String(v)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v)]);
            }
        }
    }
    out
}

/// Parses a `multipart/form-data` body strictly: CRLF line endings, `form-data` parts with a
/// `name`, no file parts, no non-text part content types, UTF-8 contents, bounded sizes.
pub fn multipart(boundary: &str, body: &[u8]) -> Result<Vec<(String, String)>, SourceError> {
    Ok(multipart_fields(boundary, body)?
        .into_iter()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect())
}

/// [`multipart`], borrowing from the body.
fn multipart_fields<'a>(boundary: &str, body: &'a [u8]) -> Result<Vec<Field<'a>>, SourceError> {
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
        out.push((name, Cow::Borrowed(text)));
        pos = content_end + 2;
    }
}

/// The `name` of a part, after checking its headers allow a text field.
fn part_name(headers: &[u8]) -> Result<Cow<'_, str>, SourceError> {
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

fn unquote(v: &str) -> Result<Cow<'_, str>, SourceError> {
    let Some(inner) = v.strip_prefix('"') else {
        return Ok(Cow::Borrowed(v));
    };
    // Most names have no escapes: borrowed up to the closing quote.
    if let Some(end) = inner.find(['"', '\\'])
        && inner.as_bytes()[end] == b'"'
    {
        return Ok(Cow::Borrowed(&inner[..end]));
    }
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e) => out.push(e),
                None => break,
            },
            '"' => return Ok(Cow::Owned(out)),
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
    // needle at every position (a memcmp call per byte of the body was most of the parse);
    // `memchr` scans many bytes a step (a part's content has few `\r`), where a `position`
    // loop took one (a searcher built per call, as `memmem::find` does, cost more than that).
    loop {
        let window = haystack.get(at..)?;
        at += memchr::memchr(first, window)?;
        if haystack[at..].starts_with(needle) {
            return Some(at);
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ct(s: &str) -> ContentType {
        ContentType::parse(s)
    }

    #[test]
    fn content_types() {
        assert_eq!(ct("application/json; charset=utf-8").kind, BodyKind::Json);
        assert_eq!(ct("application/vnd.api+json").kind, BodyKind::Json);
        assert_eq!(ct("").kind, BodyKind::Missing);
        assert_eq!(
            ct("multipart/form-data; boundary=\"abc 1\"").kind,
            BodyKind::Multipart(Some("abc 1".into()))
        );
        assert_eq!(ct("multipart/form-data").kind, BodyKind::Multipart(None));
        assert_eq!(
            ct("Application/X-WWW-Form-Urlencoded").kind,
            BodyKind::UrlEncoded
        );
    }

    #[test]
    fn multipart_text_fields() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\none\r\n--XyZ\r\nContent-Disposition: form-data; name=\"b\"\r\nContent-Type: text/plain; charset=utf-8\r\n\r\ntwo\r\nlines\r\n--XyZ--\r\n";
        assert_eq!(
            multipart("XyZ", body).expect("parses"),
            vec![
                ("a".to_owned(), "one".to_owned()),
                ("b".to_owned(), "two\r\nlines".to_owned())
            ]
        );
    }

    #[test]
    fn multipart_rejects_files_binary_and_garbage() {
        let file = b"--b\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x.png\"\r\n\r\n\x89PNG\r\n--b--";
        assert!(multipart("b", file).is_err());
        let octet = b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n--b--";
        assert!(multipart("b", octet).is_err());
        let binary = b"--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\n\xff\xfe\r\n--b--";
        assert!(multipart("b", binary).is_err());
        assert!(multipart("b", b"--b\r\nno headers").is_err());
        assert!(
            multipart(
                "b",
                b"--b\nContent-Disposition: form-data; name=\"a\"\n\nx\n--b--"
            )
            .is_err()
        );
        assert!(multipart("b", b"nothing here").is_err());
        let unnamed = b"--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--";
        assert!(multipart("b", unnamed).is_err());
    }

    #[test]
    fn find_is_the_first_match_from_a_position() {
        let naive = |h: &[u8], n: &[u8], from: usize| {
            (from..h.len()).find(|&i| !n.is_empty() && h[i..].starts_with(n))
        };
        let hay = b"--a\r\n--ab\r\n--a--\r\n\r\n-";
        for needle in [
            &b""[..],
            b"-",
            b"--",
            b"--a--",
            b"\r\n--a",
            b"\r\n\r\n",
            b"x",
            b"-\r",
        ] {
            for from in 0..hay.len() + 2 {
                assert_eq!(
                    find(hay, needle, from),
                    naive(hay, needle, from),
                    "{needle:?} {from}"
                );
            }
        }
    }

    #[test]
    fn multipart_rejects_oversized_parts() {
        let mut body = b"--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n".to_vec();
        body.extend(std::iter::repeat_n(b'a', MAX_PART_BYTES + 1));
        body.extend_from_slice(b"\r\n--b--");
        assert_eq!(multipart("b", &body), Err(SourceError::TooLarge));
    }

    /// Bytes that take every path of [`urlencoded`]: separators, `+`, `%` with and without hex
    /// digits after it (both cases), a UTF-8 character's two bytes, and bytes that are not UTF-8.
    const FORM_BYTES: [u8; 13] = [
        b'a', b'=', b'&', b'+', b'%', b'2', b'b', b'F', b'g', 0xC3, 0xA9, 0xFF, 0x80,
    ];

    /// The pairs `form_urlencoded::parse` gives (through `serde_urlencoded`, as before).
    fn crate_pairs(body: &[u8]) -> Vec<(String, String)> {
        serde_urlencoded::from_bytes(body).expect("any body parses")
    }

    /// Every body of up to 4 of [`FORM_BYTES`] (30,941 bodies) parses as the crate parses it.
    #[test]
    fn urlencoded_matches_the_crate() {
        let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = bodies.clone();
        for _ in 0..4 {
            last = last
                .iter()
                .flat_map(|b| {
                    FORM_BYTES.iter().map(move |&c| {
                        let mut next = b.clone();
                        next.push(c);
                        next
                    })
                })
                .collect();
            bodies.extend(last.iter().cloned());
        }
        assert_eq!(bodies.len(), 30_941);
        for body in &bodies {
            assert_eq!(urlencoded(body), crate_pairs(body), "{body:?}");
        }
    }

    proptest::proptest! {
        /// Longer bodies of the same bytes, and real-looking posts, parse as the crate parses them.
        #[test]
        fn long_urlencoded_bodies_match_the_crate(
            body in proptest::collection::vec(proptest::sample::select(FORM_BYTES.to_vec()), 0..200),
            pairs in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..8),
        ) {
            proptest::prop_assert_eq!(urlencoded(&body), crate_pairs(&body));
            let post = serde_urlencoded::to_string(&pairs).expect("encodes");
            proptest::prop_assert_eq!(urlencoded(post.as_bytes()), crate_pairs(post.as_bytes()));
        }
    }

    #[test]
    fn repeated_names_become_arrays() {
        let pairs = urlencoded(b"a=1&b=2&a=3");
        let obj = pairs_to_object(pairs);
        assert_eq!(obj["a"], serde_json::json!(["1", "3"]));
        assert_eq!(obj["b"], serde_json::json!("2"));
    }
}
