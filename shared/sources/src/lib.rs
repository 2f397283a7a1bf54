//! Source adapters for leadrouter: turn each lead tool's native webhook payload into a JSON
//! object keyed by canonical lead field names, and verify that the request really came from
//! the tool.
//!
//! This crate does **not** normalize values (that is `leadrouter_lead::normalize_json`'s job);
//! it only maps field names, keeps everything it does not map in `custom`, and flags test and
//! notification-only deliveries.
//!
//! # Entry points
//!
//! * [`decode`] / [`decode_all`]: `(source, content type, body, admin mapping)` to [`Decoded`].
//! * [`verify`]: check a request against the tool's published signing scheme ([`Auth`]).
//!
//! # Modules, one per source (the `source` names accepted by [`decode`])
//!
//! | source        | module                 | payload                                                        |
//! |---------------|------------------------|----------------------------------------------------------------|
//! | `typeform`    | [`sources::typeform`]  | `form_response` webhook (definition + typed answers)           |
//! | `google-ads`  | [`sources::google_ads`]| lead form webhook (`user_column_data`, `lead_id`, `is_test`)   |
//! | `facebook`    | [`sources::facebook`]  | Graph API lead object, or the bare `leadgen` notification      |
//! | `hubspot`     | [`sources::hubspot`]   | Forms v3 submission, or contact-properties (workflow) payload  |
//! | `salesforce`  | [`sources::salesforce`]| Web-to-Lead form post (urlencoded)                             |
//! | `unbounce`    | [`sources::unbounce`]  | form-urlencoded post with `data.json`                          |
//! | `webflow`     | [`sources::webflow`]   | `form_submission` webhook (v2 and the older v1 flat shape)     |
//! | `jotform`     | [`sources::jotform`]   | multipart or urlencoded post with `rawRequest`                 |
//! | `tally`       | [`sources::tally`]     | `FORM_RESPONSE` webhook                                         |
//! | `calendly`    | [`sources::calendly`]  | `invitee.created` webhook                                      |
//! | `linkedin`    | [`sources::linkedin`]  | Lead Sync form response, or the `LEAD_ACTION` notification     |
//! | `zapier`      | [`sources::generic`]   | whatever the Zap posts (JSON, urlencoded or multipart)         |
//! | `generic`     | [`sources::generic`]   | arbitrary flat or nested JSON (or a form post)                 |
//!
//! Shared machinery: [`mapping`] (admin overrides and the default field-name heuristics),
//! [`body`] (content types, urlencoded and the strict multipart parser), [`auth`] (signatures),
//! and, private, `json_reader` (a validating pull reader for JSON that accepts exactly what
//! serde_json accepts, used where most of a payload is skipped) with `lenient` (the shapes the
//! Typeform, Tally and Jotform adapters read with it).
//!
//! # Conventions of the produced field map
//!
//! * Canonical keys hold the tool's value as sent (strings stay strings; a JSON number sent
//!   for a text field such as `phone` is written as its decimal string; multi-choice answers
//!   are arrays).
//! * `custom` holds everything else, keyed by the tool's most stable identifier; metadata such
//!   as form ids sit next to unmapped answers. Key clashes get a `_2`, `_3`, ... suffix.
//! * Null and empty-string values are skipped; everything else is kept. A second value for a
//!   canonical field that is already set goes to `custom` (an identical repeat is dropped).
//! * The tool's own id for the submission is returned in [`Decoded::external_id`], not in the
//!   field map; secrets that some tools put in the body (Google's `google_key`) are dropped.

pub mod auth;
pub mod body;
mod json_reader;
mod lenient;
pub mod mapping;
pub mod sources;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use auth::{Auth, AuthError, verify};
pub use leadrouter_lead::CANONICAL_FIELDS;
pub use mapping::{EXTRA_TARGETS, Mapping};

/// Largest body [`decode`] accepts, in bytes.
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Every `source` name [`decode`] understands.
pub const SOURCES: &[&str] = &[
    "typeform",
    "google-ads",
    "facebook",
    "hubspot",
    "salesforce",
    "unbounce",
    "webflow",
    "jotform",
    "tally",
    "calendly",
    "linkedin",
    "zapier",
    "generic",
];

/// One lead, as read from a tool's payload.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Decoded {
    /// Canonical field name to value, plus `custom` (an object) for everything unmapped.
    pub fields: Map<String, Value>,
    /// The tool's own identifier for this submission (for de-duplication).
    pub external_id: Option<String>,
    /// The tool flagged this as a test submission.
    pub is_test: bool,
    /// The payload is only a notification: the lead's data must be fetched from the tool's API
    /// using `external_id` (the ids the fetch needs are in `fields.custom`).
    pub awaiting_enrichment: bool,
}

/// Why a payload could not be decoded. No variant carries body contents or secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The `source` name is not one of [`SOURCES`].
    #[error("unknown source {0:?}")]
    UnknownSource(String),
    /// The source does not accept this content type.
    #[error("{tool} does not accept content type {content_type:?}")]
    UnsupportedContentType {
        /// The source name.
        tool: &'static str,
        /// The media type that was sent (lower-cased, parameters removed, truncated).
        content_type: String,
    },
    /// The body exceeds [`MAX_BODY_BYTES`] (or a multipart part its own limit).
    #[error("body too large")]
    TooLarge,
    /// The body is not well-formed for the source.
    #[error("malformed payload: {0}")]
    Malformed(&'static str),
    /// The body is well-formed but carries an event that is not a new lead (for example a
    /// Calendly cancellation); the caller should acknowledge it and not create a lead.
    #[error("not a lead submission: {0}")]
    NotALead(String),
    /// The payload holds no lead at all.
    #[error("payload holds no lead")]
    NoLead,
    /// The payload batches several leads; use [`decode_all`].
    #[error("payload holds {0} leads; use decode_all")]
    MultipleLeads(usize),
    /// The admin mapping targets something that is neither a canonical field nor `custom.<key>`.
    #[error("mapping target {0:?} is not a canonical field or custom.<key>")]
    InvalidMapping(String),
}

/// Decodes one lead from a tool's payload.
///
/// `source` is one of [`SOURCES`]; `content_type` is the request's `Content-Type` header (may
/// be empty); `mapping` holds the admin's per-source overrides. Payloads that batch several
/// leads (a Meta notification with several `leadgen` changes, a JSON array posted to
/// `generic`) fail with [`SourceError::MultipleLeads`]; use [`decode_all`] for those.
pub fn decode(
    source: &str,
    content_type: &str,
    body: &[u8],
    mapping: &Mapping,
) -> Result<Decoded, SourceError> {
    let mut all = decode_all(source, content_type, body, mapping)?;
    match all.len() {
        0 => Err(SourceError::NoLead),
        1 => Ok(all.remove(0)),
        n => Err(SourceError::MultipleLeads(n)),
    }
}

/// Decodes every lead in a tool's payload (most payloads hold exactly one).
pub fn decode_all(
    source: &str,
    content_type: &str,
    body: &[u8],
    mapping: &Mapping,
) -> Result<Vec<Decoded>, SourceError> {
    mapping.validate()?;
    if body.len() > MAX_BODY_BYTES {
        return Err(SourceError::TooLarge);
    }
    let ct = body::ContentType::parse(content_type);
    let leads = match source {
        "typeform" => vec![sources::typeform::decode(&ct, body, mapping)?],
        "google-ads" => vec![sources::google_ads::decode(&ct, body, mapping)?],
        "facebook" => sources::facebook::decode(&ct, body, mapping)?,
        "hubspot" => vec![sources::hubspot::decode(&ct, body, mapping)?],
        "salesforce" => vec![sources::salesforce::decode(&ct, body, mapping)?],
        "unbounce" => vec![sources::unbounce::decode(&ct, body, mapping)?],
        "webflow" => vec![sources::webflow::decode(&ct, body, mapping)?],
        "jotform" => vec![sources::jotform::decode(&ct, body, mapping)?],
        "tally" => vec![sources::tally::decode(&ct, body, mapping)?],
        "calendly" => vec![sources::calendly::decode(&ct, body, mapping)?],
        "linkedin" => sources::linkedin::decode(&ct, body, mapping)?,
        "zapier" => sources::generic::decode("zapier", &ct, body, mapping)?,
        "generic" => sources::generic::decode("generic", &ct, body, mapping)?,
        other => {
            return Err(SourceError::UnknownSource(other.chars().take(64).collect()));
        }
    };
    if leads.is_empty() {
        return Err(SourceError::NoLead);
    }
    Ok(leads)
}

/// A short, safe rendering of an event name taken from a payload (for [`SourceError::NotALead`]).
pub(crate) fn event_name(value: Option<&Value>) -> String {
    let raw = match value {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => "non-string event",
        None => "missing event type",
    };
    raw.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | ' '))
        .take(64)
        .collect()
}
