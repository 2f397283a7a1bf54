//! What is posted: a short Slack-compatible text, and the event itself as the JSON webhook body.
//! Neither contains the lead's personal data (the event carries ids, owner, pool and reason).

use leadrouter_domain::events::LeadEvent;
use serde_json::json;

/// The Slack-compatible incoming-webhook payload for `event`.
pub fn slack(event: &LeadEvent) -> serde_json::Value {
    json!({ "text": slack_text(event) })
}

/// One line of text: what happened, to whom, where, and the deadline.
pub fn slack_text(event: &LeadEvent) -> String {
    let icon = match event.kind.as_str() {
        "assigned" | "claimed" => ":inbox_tray:",
        "reassigned" => ":repeat:",
        "escalated" | "sla_breached" => ":rotating_light:",
        "unassigned" | "awaiting_claim" => ":hourglass:",
        _ => ":memo:",
    };
    let mut text = format!(
        "{icon} Lead `{}` {}",
        event.lead_id,
        event.kind.replace('_', " ")
    );
    if let Some(owner) = &event.owner {
        text.push_str(&format!(" → *{owner}*"));
    }
    if let Some(prev) = &event.previous_owner {
        text.push_str(&format!(" (from {prev})"));
    }
    if let Some(pool) = &event.pool {
        text.push_str(&format!(" in `{pool}`"));
    }
    text.push_str(&format!(", source {}", event.source));
    if let Some(score) = event.score {
        text.push_str(&format!(", score {score}"));
    }
    if let Some(due) = event.due_at {
        let what = match event.due_kind {
            Some(leadrouter_domain::record::DueKind::FirstTouch) => "first touch",
            Some(leadrouter_domain::record::DueKind::Waiting) => "pick up",
            _ => "accept",
        };
        text.push_str(&format!(". {what} by {}", due.format("%Y-%m-%d %H:%M UTC")));
    }
    if let Some(reason) = &event.reason {
        text.push_str(&format!(". {reason}"));
    }
    text
}

/// The JSON webhook body: the event, as on the queue.
pub fn webhook_body(event: &LeadEvent) -> Result<Vec<u8>, serde_json::Error> {
    serde_json::to_vec(event)
}
