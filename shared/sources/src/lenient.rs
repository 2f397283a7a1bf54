//! Reading large payloads without building a `serde_json::Value` for the parts an adapter only
//! looks into (a form's schema, choice options): those are read as borrowed strings, and
//! everything else as values, exactly as [`crate::body::json_object`] would have.
//!
//! Every type here accepts any JSON (a value of another shape is read and ignored), so only
//! malformed JSON fails, with the same error as `json_object`, and a repeated key keeps its last
//! value, as a `serde_json::Map` does.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::SourceError;

/// A JSON object read key by key: `entry` reads (or skips) the value of each key.
pub(crate) trait FromMap<'de>: Default {
    /// Reads the value of `key` from `map` (it must call `next_value` exactly once).
    fn entry<A: MapAccess<'de>>(&mut self, key: Cow<'de, str>, map: &mut A)
    -> Result<(), A::Error>;
}

/// Parses a JSON object body into `T`, with [`crate::body::json_object`]'s errors.
pub(crate) fn object<'de, T: FromMap<'de>>(bytes: &'de [u8]) -> Result<T, SourceError> {
    object_in_text(crate::body::json_text(bytes)?)?
        .ok_or(SourceError::Malformed("body is not a JSON object"))
}

/// Parses JSON text into `T` when it is an object (`None` for any other value), failing on
/// invalid JSON with [`crate::body::json`]'s error.
pub(crate) fn object_in_text<'de, T: FromMap<'de>>(
    text: &'de str,
) -> Result<Option<T>, SourceError> {
    match serde_json::from_str::<Obj<T>>(text) {
        Ok(Obj::Object(t)) => Ok(Some(t)),
        Ok(Obj::Other) => Ok(None),
        Err(_) => Err(SourceError::Malformed("body is not valid JSON")),
    }
}

/// An object's entries as `Value`s under borrowed keys, in key order, a repeated key keeping
/// its last value: what a `serde_json::Map` holds, without allocating the keys.
impl<'de> FromMap<'de> for BTreeMap<Cow<'de, str>, Value> {
    fn entry<A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
    ) -> Result<(), A::Error> {
        self.insert(key, map.next_value()?);
        Ok(())
    }
}

/// Stores `key`'s value as a `Value` in `rest` (the keys an adapter passes on as they are).
pub(crate) fn rest_entry<'de, A: MapAccess<'de>>(
    rest: &mut Map<String, Value>,
    key: Cow<'de, str>,
    map: &mut A,
) -> Result<(), A::Error> {
    rest.insert(key.into_owned(), map.next_value()?);
    Ok(())
}

/// Reads and drops `key`'s value (a key the adapter does not keep).
pub(crate) fn skip_entry<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<Skip>().map(|_| ())
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

/// A JSON string, borrowed from the body when it has no escapes, or any other value (ignored).
#[derive(Debug, Default)]
pub(crate) enum Text<'de> {
    /// It was a string.
    Str(Cow<'de, str>),
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

/// A map key, borrowed when it has no escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Text::deserialize(d)? {
            Text::Str(s) => Ok(Key(s)),
            Text::Other => Err(de::Error::custom("map key is not a string")),
        }
    }
}

/// The scalar visits every lenient type ignores (the shape it wants is handled by the caller).
macro_rules! ignore_scalars {
    ($other:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

/// Any JSON value, read and dropped. Not `serde::de::IgnoredAny`: serde_json skips that without
/// the checks it makes when it builds a `Value` (nesting depth, UTF-8, number range), and a body
/// `json_object` rejects must stay rejected.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Skip;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
                Ok(Skip)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
                skip_seq(seq).map(|()| Skip)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Skip, A::Error> {
                skip_map(map).map(|()| Skip)
            }
            ignore_scalars!(Skip);
        }
        d.deserialize_any(V)
    }
}

/// Reads and drops the rest of a sequence or map, so any value can stand where another shape
/// was expected.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<Skip, Skip>()?.is_some() {}
    Ok(())
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text::Str(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
                skip_seq(seq).map(|()| Text::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                skip_map(map).map(|()| Text::Other)
            }
            ignore_scalars!(Text::Other);
        }
        d.deserialize_any(V)
    }
}

impl<'de, T: FromMap<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: FromMap<'de>> Visitor<'de> for V<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
                let mut t = T::default();
                while let Some(Key(key)) = map.next_key()? {
                    t.entry(key, &mut map)?;
                }
                Ok(Obj::Object(t))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
                Ok(Obj::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
                skip_seq(seq).map(|()| Obj::Other)
            }
            ignore_scalars!(Obj::Other);
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Arr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Arr<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arr<T>, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    if items.is_empty() {
                        // serde_json gives no size hint; a form's field list would otherwise
                        // be copied at 4, 8 and 16 items.
                        items.reserve(16);
                    }
                    items.push(item);
                }
                Ok(Arr::Array(items))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Arr<T>, E> {
                Ok(Arr::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Arr<T>, A::Error> {
                skip_map(map).map(|()| Arr::Other)
            }
            ignore_scalars!(Arr::Other);
        }
        d.deserialize_any(V(PhantomData))
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

    impl<'de> FromMap<'de> for Probe<'de> {
        fn entry<A: MapAccess<'de>>(
            &mut self,
            key: Cow<'de, str>,
            map: &mut A,
        ) -> Result<(), A::Error> {
            match key.as_ref() {
                "name" => self.name = map.next_value()?,
                "list" => self.list = map.next_value()?,
                _ => rest_entry(&mut self.rest, key, map)?,
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
