//! Reading large payloads without building a `serde_json::Value` for the parts an adapter only
//! looks into (a form's schema, choice options): those are read as borrowed strings or skipped
//! with [`crate::json_reader`], and everything else as values, exactly as
//! [`crate::body::json_object`] would have.
//!
//! Every type here accepts any JSON (a value of another shape is read and ignored), so only
//! malformed JSON fails, with the same error as `json_object`, and a repeated key keeps its last
//! value, as a `serde_json::Map` does.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::SourceError;
use crate::json_reader::{Invalid, Reader};

/// A value read from a [`Reader`] in the shape an adapter wants.
pub(crate) trait Read<'a>: Sized {
    /// Reads the next value (one of any other shape is read and ignored).
    fn read(r: &mut Reader<'a>) -> Result<Self, Invalid>;
}

/// A JSON object read key by key: `entry` reads (or skips) the value of each key.
pub(crate) trait FromMap<'a>: Default {
    /// Reads the value of `key` from `r` (it must read or skip exactly one value).
    fn entry(&mut self, key: Cow<'a, str>, r: &mut Reader<'a>) -> Result<(), Invalid>;
}

/// Parses a JSON object body into `T`, with [`crate::body::json_object`]'s errors.
pub(crate) fn object<'a, T: FromMap<'a>>(bytes: &'a [u8]) -> Result<T, SourceError> {
    object_in_text(crate::body::json_text(bytes)?)?
        .ok_or(SourceError::Malformed("body is not a JSON object"))
}

/// Parses JSON text into `T` when it is an object (`None` for any other value), failing on
/// invalid JSON with [`crate::body::json`]'s error.
pub(crate) fn object_in_text<'a, T: FromMap<'a>>(text: &'a str) -> Result<Option<T>, SourceError> {
    let mut r = Reader::new(text);
    match Obj::<T>::read(&mut r).and_then(|o| r.finish().map(|()| o)) {
        Ok(Obj::Object(t)) => Ok(Some(t)),
        Ok(Obj::Other) => Ok(None),
        Err(Invalid) => Err(SourceError::Malformed("body is not valid JSON")),
    }
}

/// An object's entries as `Value`s under borrowed keys, in key order, a repeated key keeping
/// its last value: what a `serde_json::Map` holds, without allocating the keys.
impl<'a> FromMap<'a> for BTreeMap<Cow<'a, str>, Value> {
    fn entry(&mut self, key: Cow<'a, str>, r: &mut Reader<'a>) -> Result<(), Invalid> {
        self.insert(key, r.value()?);
        Ok(())
    }
}

/// Stores `key`'s value as a `Value` in `rest` (the keys an adapter passes on as they are).
pub(crate) fn rest_entry<'a>(
    rest: &mut Map<String, Value>,
    key: Cow<'a, str>,
    r: &mut Reader<'a>,
) -> Result<(), Invalid> {
    rest.insert(key.into_owned(), r.value()?);
    Ok(())
}

/// Any JSON value, as serde_json builds it.
impl<'a> Read<'a> for Value {
    fn read(r: &mut Reader<'a>) -> Result<Self, Invalid> {
        r.value()
    }
}

/// A JSON object read as `T`, or any other value (ignored).
#[derive(Debug, Default)]
pub(crate) enum Obj<T> {
    /// It was an object.
    Object(T),
    /// Missing, or not an object.
    #[default]
    Other,
}

impl<'a, T: FromMap<'a>> Read<'a> for Obj<T> {
    fn read(r: &mut Reader<'a>) -> Result<Self, Invalid> {
        if !r.object()? {
            return Ok(Obj::Other);
        }
        let mut t = T::default();
        while let Some(key) = r.key()? {
            t.entry(key, r)?;
        }
        Ok(Obj::Object(t))
    }
}

/// A JSON array, or any other value (ignored).
#[derive(Debug, Default)]
pub(crate) enum Arr<T> {
    /// It was an array.
    Array(Vec<T>),
    /// Missing, or not an array.
    #[default]
    Other,
}

impl<T> Arr<T> {
    /// The items (none when it was not an array).
    pub(crate) fn items(&self) -> &[T] {
        match self {
            Arr::Array(items) => items,
            Arr::Other => &[],
        }
    }
}

impl<'a, T: Read<'a>> Read<'a> for Arr<T> {
    fn read(r: &mut Reader<'a>) -> Result<Self, Invalid> {
        if !r.array()? {
            return Ok(Arr::Other);
        }
        let mut items = Vec::new();
        while r.item()? {
            if items.is_empty() {
                // A form's field list would otherwise be copied at 4, 8 and 16 items.
                items.reserve(16);
            }
            items.push(T::read(r)?);
        }
        Ok(Arr::Array(items))
    }
}

/// A JSON string, borrowed from the body when it has no escapes, or any other value (ignored).
#[derive(Debug, Default)]
pub(crate) enum Text<'a> {
    /// It was a string.
    Str(Cow<'a, str>),
    /// Missing, or not a string.
    #[default]
    Other,
}

impl Text<'_> {
    /// The string, if it was one (as `Value::as_str`).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Text::Str(s) => Some(s),
            Text::Other => None,
        }
    }
}

impl<'a> Read<'a> for Text<'a> {
    fn read(r: &mut Reader<'a>) -> Result<Self, Invalid> {
        Ok(r.text()?.map_or(Text::Other, Text::Str))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug)]
    struct Probe<'de> {
        name: Text<'de>,
        list: Arr<Text<'de>>,
        rest: Map<String, Value>,
    }

    impl<'a> FromMap<'a> for Probe<'a> {
        fn entry(&mut self, key: Cow<'a, str>, r: &mut Reader<'a>) -> Result<(), Invalid> {
            match key.as_ref() {
                "name" => self.name = Read::read(r)?,
                "list" => self.list = Read::read(r)?,
                _ => rest_entry(&mut self.rest, key, r)?,
            }
            Ok(())
        }
    }

    #[test]
    fn any_shape_is_accepted_and_last_key_wins() {
        let p: Probe<'_> = object(
            br#"{"name": "a", "list": [1, "x", {"y": []}], "name": "b\"c", "z": {"k": null}}"#,
        )
        .expect("object");
        assert_eq!(p.name.as_str(), Some("b\"c"));
        let texts: Vec<_> = p.list.items().iter().map(Text::as_str).collect();
        assert_eq!(texts, [None, Some("x"), None]);
        assert_eq!(p.rest["z"], serde_json::json!({"k": null}));
        let p: Probe<'_> = object(br#"{"name": {"a": [1]}, "list": "no"}"#).expect("object");
        assert!(p.name.as_str().is_none() && p.list.items().is_empty());
    }

    #[test]
    fn errors_match_json_object() {
        for body in [&b"[1, 2]"[..], b"\"s\"", b"null", b"3"] {
            assert_eq!(
                object::<Probe<'_>>(body).err(),
                crate::body::json_object(body).err()
            );
        }
        let deep = format!("{{\"name\": {}{}}}", "[".repeat(200), "]".repeat(200));
        for body in [
            &b"{\"a\": [1, 2}"[..],
            b"{} x",
            b"",
            b"{\"a\": nul}",
            b"{\"name\": [1e999]}",
            b"{\"name\": {\"k\": \"\xff\"}}",
            deep.as_bytes(),
        ] {
            assert_eq!(
                object::<Probe<'_>>(body).err(),
                crate::body::json_object(body).err()
            );
        }
    }
}
