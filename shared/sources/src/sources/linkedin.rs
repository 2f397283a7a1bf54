//! LinkedIn Lead Gen Forms (Lead Sync API).
//!
//! Two shapes are accepted (<https://learn.microsoft.com/en-us/linkedin/marketing/lead-sync/leadsync>):
//!
//! 1. **A lead form response** (`GET /rest/leadFormResponses/{id}`, or a finder result
//!    `{"elements": [...]}`): `id`, `owner`, `submitter`, `leadType`, `leadMetadata`,
//!    `versionedLeadGenFormUrn`, `associatedEntity`, `submittedAt`, `testLead` and
//!    `formResponse: {answers: [{questionId, answerDetails}], consentResponses}`.
//!    Answers carry only a numeric `questionId` (the question itself lives on the form), so
//!    they are matched on the question id as a string (map it with the admin mapping, e.g.
//!    `"3": "email"`), then on a `name` if a relay added one; unmatched answers go to `custom`
//!    as `question_<id>`. `textQuestionAnswer.answer` is the text; `multipleChoiceAnswer.options`
//!    the selected option ids. `testLead` sets [`Decoded::is_test`]; `id` is the external id;
//!    the rest (including `consentResponses`) goes to `custom` under its names.
//! 2. **A lead notification** (`type: "LEAD_ACTION"`, `leadAction: "CREATED"`,
//!    `leadGenFormResponse: "urn:li:leadGenFormResponse:<id>"`, `leadGenForm`, `owner`,
//!    `associatedEntity`, `leadType`, `occurredAt`): [`Decoded::awaiting_enrichment`] is set and
//!    the external id is the response id (the URN's last segment, so it matches the full
//!    response's `id`); the URN and the other keys go to `custom`. `DELETED` notifications
//!    are [`SourceError::NotALead`].

use serde_json::{Map, Value};

use super::{json_body, take};
use crate::body::ContentType;
use crate::mapping::{Mapping, Sink};
use crate::{Decoded, SourceError, event_name};

/// Decodes a LinkedIn lead form response, finder result, or lead notification.
pub fn decode(
    ct: &ContentType,
    body: &[u8],
    mapping: &Mapping,
) -> Result<Vec<Decoded>, SourceError> {
    let mut root = json_body("linkedin", ct, body)?;
    if root.get("type").and_then(Value::as_str) == Some("LEAD_ACTION")
        || root.contains_key("leadGenFormResponse")
    {
        return Ok(vec![notification(root, mapping)?]);
    }
    if let Some(Value::Array(_)) = root.get("elements") {
        let Value::Array(elements) = take(&mut root, "elements") else {
            return Err(SourceError::NoLead);
        };
        return elements
            .into_iter()
            .map(|e| match e {
                Value::Object(e) => response(e, mapping),
                _ => Err(SourceError::Malformed("elements[] entry is not an object")),
            })
            .collect();
    }
    Ok(vec![response(root, mapping)?])
}

fn response(mut root: Map<String, Value>, mapping: &Mapping) -> Result<Decoded, SourceError> {
    let Value::Object(mut form) = take(&mut root, "formResponse") else {
        return Err(SourceError::Malformed(
            "formResponse is missing or not an object",
        ));
    };
    let mut sink = Sink::new(mapping);
    sink.external_id(&take(&mut root, "id"));
    sink.is_test = take(&mut root, "testLead").as_bool().unwrap_or(false);
    if let Value::Array(answers) = take(&mut form, "answers") {
        for a in answers {
            let Value::Object(a) = a else { continue };
            answer(&mut sink, a);
        }
    }
    for (k, v) in form.into_iter().chain(root) {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}

fn answer(sink: &mut Sink<'_>, mut a: Map<String, Value>) {
    let qid = match take(&mut a, "questionId") {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s,
        _ => String::new(),
    };
    let name = take(&mut a, "name");
    let name = name.as_str().unwrap_or("");
    let details = take(&mut a, "answerDetails");
    let value = if let Some(t) = details.pointer("/textQuestionAnswer/answer") {
        t.clone()
    } else if let Some(o) = details.pointer("/multipleChoiceAnswer/options") {
        o.clone()
    } else {
        details
    };
    let ids: Vec<&str> = [qid.as_str(), name]
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect();
    let custom_key = if name.is_empty() {
        format!("question_{qid}")
    } else {
        name.to_owned()
    };
    sink.answer(&ids, &custom_key, value, None);
}

fn notification(mut root: Map<String, Value>, mapping: &Mapping) -> Result<Decoded, SourceError> {
    drop(take(&mut root, "type"));
    let action = take(&mut root, "leadAction");
    if !action.is_null() && action.as_str() != Some("CREATED") {
        return Err(SourceError::NotALead(event_name(Some(&action))));
    }
    let mut sink = Sink::new(mapping);
    sink.awaiting_enrichment = true;
    let urn = take(&mut root, "leadGenFormResponse");
    if let Some(id) = urn.as_str().and_then(|u| u.rsplit(':').next()) {
        sink.external_id(&Value::String(id.to_owned()));
    }
    sink.meta("leadGenFormResponse", urn);
    for (k, v) in root {
        sink.meta(&k, v);
    }
    Ok(sink.finish())
}
