//! The canonical lead: one record shape for every source.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// A lead after normalization. Every source (JSON API, HTML form, webhook adapters, raw queue
/// messages) ends up as this record; the router only ever sees this shape.
///
/// Field names are the wire names (snake_case). Optional fields are omitted from JSON when empty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Lead {
    /// Stable identifier, chosen at intake (deterministic when an idempotency key is known).
    pub id: Uuid,
    /// When leadrouter first received the submission.
    pub received_at: DateTime<Utc>,
    /// Where the lead came from (`api`, `form`, `typeform`, ...).
    pub source: String,
    /// The source's own identifier for this submission, used for de-duplication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// Lowercased, validated email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number in E.164 (`+4930123456`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Company name as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Registrable company domain (`acme.com`), from a work email or a website.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_domain: Option<String>,
    /// Job title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    /// ISO 3166-1 alpha-2 country code, upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// State, province or region.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Industry as submitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    /// Products the lead asked about.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_interest: Vec<String>,
    /// Number of seats / users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seats: Option<u64>,
    /// Expected deal size, in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_value: Option<f64>,
    /// ISO 4217 currency of `deal_value`, upper case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Lead score from an upstream scoring tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Preferred language (lowercase ISO 639-1, e.g. `de`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// UTM source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_source: Option<String>,
    /// UTM medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_medium: Option<String>,
    /// UTM campaign.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_campaign: Option<String>,
    /// UTM term.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_term: Option<String>,
    /// UTM content.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utm_content: Option<String>,
    /// The page the form was submitted from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub landing_page: Option<String>,
    /// Whether the lead consented to be contacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consent: Option<bool>,
    /// Free-text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The source flagged this as a test submission: it is recorded with the `test` outcome and
    /// never routed to a rep. Set by source adapters, not read from submitted fields.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub test: bool,
    /// Only identifiers arrived (e.g. a Meta leadgen notification): the lead is stored as
    /// `awaiting_enrichment` and needs no email or phone yet. Set by source adapters.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub awaiting_enrichment: bool,
    /// Everything else the source sent, verbatim: nothing is thrown away.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub custom: Map<String, Value>,
}
