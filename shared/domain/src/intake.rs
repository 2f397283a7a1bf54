//! From a tool's native payload to canonical leads: shared by the webhook endpoint and by the
//! router for `{source, payload}` envelopes that integrations push straight onto the queue.

use chrono::{DateTime, Utc};
use leadrouter_lead::{
    FieldProblem, Intake, Lead, derive_lead_id, normalize_external_id, normalize_object,
};
use leadrouter_sources::{SourceError, decode_all};
use uuid::Uuid;

use crate::config::RoutingConfig;

/// Why a payload gave no leads.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// No such source in the config (and no adapter of that name).
    #[error("source `{0}` is not configured")]
    UnknownSource(String),
    /// The adapter could not read the payload.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The payload decoded, but leads in it are invalid; nothing is accepted.
    #[error("invalid leads: {}", .0.iter().map(|p| format!("{}: {}", p.field, p.problem)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldProblem>),
}

/// Decodes and normalizes every lead in `payload` from source `name` (a `[sources.*]` entry, or
/// an adapter name used with default mapping). All or nothing: one invalid lead fails the whole
/// payload. Ids are deterministic where possible (idempotency key for the first lead, else the
/// tool's own id, else `fallback_id(i)`), so redeliveries route once.
pub fn leads_from_payload(
    cfg: &RoutingConfig,
    name: &str,
    content_type: &str,
    payload: &[u8],
    received_at: DateTime<Utc>,
    idempotency_key: Option<&str>,
    fallback_id: &dyn Fn(usize) -> Uuid,
) -> Result<Vec<Lead>, PayloadError> {
    let default_mapping = leadrouter_sources::Mapping::default();
    let (adapter, mapping, country) = match cfg.sources.get(name) {
        Some(s) => (s.adapter.as_str(), &s.mapping, s.default_country.clone()),
        None if leadrouter_sources::SOURCES.contains(&name) => (name, &default_mapping, None),
        None => return Err(PayloadError::UnknownSource(name.to_owned())),
    };
    let decoded = decode_all(adapter, content_type, payload, mapping)?;
    let mut leads = Vec::with_capacity(decoded.len());
    let mut problems = Vec::new();
    for (i, d) in decoded.into_iter().enumerate() {
        let intake = Intake {
            id: fallback_id(i),
            received_at,
            source: name.to_owned(),
            default_country: country
                .clone()
                .or_else(|| cfg.intake.default_country.clone()),
            test: d.is_test,
            awaiting_enrichment: d.awaiting_enrichment,
        };
        match normalize_object(d.fields, &intake) {
            Ok(mut lead) => {
                let tool_id = d.external_id.filter(|_| lead.external_id.is_none());
                // One idempotency key names one lead; batched payloads rely on the tool's ids.
                // The id derives from the tool's id as sent, so redeliveries keep mapping to the
                // same lead whatever normalization does to the stored copy below.
                let key = idempotency_key.filter(|_| i == 0);
                let ext = lead.external_id.as_deref().or(tool_id.as_deref());
                if let Some(id) = derive_lead_id(name, key, ext) {
                    lead.id = id;
                }
                if let Some(raw) = tool_id {
                    // Stored as the router will re-normalize it (one line, at most 256
                    // characters): found by fuzzing, a raw id with line breaks changed on the
                    // router, and one over 256 characters made the router reject a lead the
                    // webhook had accepted. An id too long to store is left out; the lead id
                    // still derives from it. (The rest of the lead is already normalized, and
                    // normalization is idempotent: only the id needs it.)
                    lead.external_id = normalize_external_id(&raw);
                }
                leads.push(lead);
            }
            Err(e) => problems.extend(e.problems),
        }
    }
    if problems.is_empty() {
        Ok(leads)
    } else {
        Err(PayloadError::Invalid(problems))
    }
}
