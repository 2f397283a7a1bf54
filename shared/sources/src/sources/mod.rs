//! One module per source tool. Each exposes `decode`, called by [`crate::decode_all`].

pub mod calendly;
pub mod facebook;
pub mod generic;
pub mod google_ads;
pub mod hubspot;
pub mod jotform;
pub mod linkedin;
pub mod salesforce;
pub mod tally;
pub mod typeform;
pub mod unbounce;
pub mod webflow;

#[cfg(test)]
mod before {
    pub mod jotform;
    pub mod tally;
    pub mod typeform;
}
#[cfg(test)]
pub(crate) mod equivalence_tests;

use serde_json::{Map, Value};

use crate::SourceError;
use crate::body::{self, BodyKind, ContentType};

/// Parses a JSON object body for a JSON-only source (a missing content type is tolerated).
pub(crate) fn json_body(
    source: &'static str,
    ct: &ContentType,
    bytes: &[u8],
) -> Result<Map<String, Value>, SourceError> {
    match ct.kind {
        BodyKind::Json | BodyKind::Missing => body::json_object(bytes),
        _ => Err(ct.unsupported(source)),
    }
}

/// Takes `key` out of `obj` (so what remains can go to `custom`).
pub(crate) fn take(obj: &mut Map<String, Value>, key: &str) -> Value {
    obj.remove(key).unwrap_or(Value::Null)
}

/// `<prefix>.<key>`, a nested field's path. Not `format!`: its machinery costs about a thousand
/// instructions a call, and a payload has a dozen such paths in a 10 µs budget.
pub(crate) fn dotted(prefix: &str, key: &str) -> String {
    let mut path = String::with_capacity(prefix.len() + 1 + key.len());
    path.push_str(prefix);
    path.push('.');
    path.push_str(key);
    path
}
