//! Normalization of raw submissions into the canonical [`Lead`].
//!
//! Every entry point turns its input into a draft (canonical fields as JSON values plus a
//! custom map) and runs the same field-by-field pipeline, so a JSON body, a form body and an
//! already-canonical lead are held to the same rules, and [`renormalize`] is idempotent.

mod consent;
mod country;
#[rustfmt::skip]
mod country_table;
mod domain;
mod email;
mod form;
mod json;
mod language;
mod name;
mod numbers;
mod phone;
pub(crate) mod pipeline;
mod text;
mod utm;

#[cfg(test)]
mod tests;

use crate::{Intake, Lead, ValidationError};
use pipeline::{Meta, Origin};

fn meta(intake: &Intake) -> Meta {
    Meta {
        id: intake.id,
        received_at: intake.received_at,
        source: intake.source.clone(),
        test: intake.test,
        awaiting_enrichment: intake.awaiting_enrichment,
    }
}

fn origin(intake: &Intake) -> Origin<'_> {
    Origin::Submitted {
        default_country: intake.default_country.as_deref(),
    }
}

/// Normalizes a JSON object submitted to the canonical API.
///
/// Field names are those of [`Lead`]; `id`, `received_at` and `source` in the body are
/// ignored in favour of `intake`; a `custom` object is merged into `custom`; `name` (a full
/// name, split when `first_name`/`last_name` are absent) and `website` (used for
/// `company_domain`) are read and kept in `custom` like every other unknown key. Wrong types,
/// invalid values and missing contact details are reported all at once.
pub fn normalize_json(body: &serde_json::Value, intake: &Intake) -> Result<Lead, ValidationError> {
    let draft = json::draft(body).map_err(|p| ValidationError::new(vec![p]))?;
    pipeline::finish(draft, meta(intake), origin(intake))
}

/// [`normalize_json`] of a JSON object the caller owns (a decoded webhook payload): the same
/// rules, without copying the object's values.
pub fn normalize_object(
    body: serde_json::Map<String, serde_json::Value>,
    intake: &Intake,
) -> Result<Lead, ValidationError> {
    pipeline::finish(json::draft_owned(body), meta(intake), origin(intake))
}

/// The tool's own submission id as a normalized lead stores it in `external_id`: one line
/// ([`Lead::external_id`]'s rules); `None` when blank or longer than a lead accepts. Setting
/// the result on a normalized lead is what [`renormalize`] of that lead with the raw id would
/// give, without normalizing the whole lead again.
pub fn normalize_external_id(raw: &str) -> Option<String> {
    let id = text::clean_line(raw);
    (!id.is_empty() && !text::too_long(&id, pipeline::EXTERNAL_ID_MAX)).then_some(id)
}

/// Normalizes an `application/x-www-form-urlencoded` body: the same field names as
/// [`normalize_json`], all values strings. A repeated field takes its last non-blank value,
/// except `product_interest` (also `product_interest[]`), which collects every value, each
/// split on `,` and `;`. Unknown keys go to `custom` as a string, or an array of strings when
/// repeated. Malformed percent-encoding and invalid UTF-8 are problems, never panics.
pub fn normalize_form(body: &[u8], intake: &Intake) -> Result<Lead, ValidationError> {
    pipeline::finish(form::draft(body), meta(intake), origin(intake))
}

/// Normalizes a lead that is already canonical (read from a queue message, built by an
/// adapter): same rules as a submission, keeping its id, time and source; `custom` is kept
/// as is (null and blank values dropped). Idempotent: `renormalize(renormalize(x)) ==
/// renormalize(x)`, and a lead from [`normalize_json`] or [`normalize_form`] comes back
/// unchanged.
pub fn renormalize(lead: Lead) -> Result<Lead, ValidationError> {
    let (test, awaiting_enrichment) = (lead.test, lead.awaiting_enrichment);
    let (draft, (id, received_at, source)) = json::draft_from_lead(lead);
    pipeline::finish(
        draft,
        Meta {
            id,
            received_at,
            source,
            test,
            awaiting_enrichment,
        },
        Origin::Canonical,
    )
}
