//! `GET /v1/shadow`: how a shadow (candidate) config's decisions differ from the live ones, over
//! the most recent leads. Each lead routed while a shadow config runs carries both decisions
//! (`shadow` next to `decision`), written in the same write; this reads the newest leads through
//! the received-time index and compares them, lead by lead.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use leadrouter_domain::decision::Outcome;
use leadrouter_domain::ports::LeadQuery;
use leadrouter_domain::record::{LeadRecord, LeadStatus};
use leadrouter_domain::simulate::{Assignment, Comparison};
use serde::Deserialize;

use crate::{ApiError, AppState};

/// Query parameters.
#[derive(Debug, Deserialize)]
pub struct ShadowQuery {
    /// How many of the newest leads to read (default 1,000, at most 50,000).
    limit: Option<String>,
}

/// `GET /v1/shadow?limit=N`.
pub async fn report(
    State(state): State<AppState>,
    q: Result<Query<ShadowQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    // Rejections become the JSON error shape (axum's own are plain text).
    let Query(q) = q.map_err(|e| ApiError::bad_field("query", e.body_text()))?;
    let limit = match q.limit.as_deref() {
        None => 1_000,
        Some(l) => l.parse::<usize>().unwrap_or(0),
    };
    if limit == 0 || limit > 50_000 {
        return Err(ApiError::bad_field("limit", "from 1 to 50000"));
    }
    let running = state.engine.shadow().map(|c| c.version.clone());
    let mut cmp = Comparison::default();
    let (mut read, mut cursor) = (0, None);
    while read < limit {
        let page = state
            .engine
            .store()
            .list_leads(&LeadQuery {
                limit: (limit - read).min(500),
                cursor,
                ..LeadQuery::default()
            })
            .await?;
        read += page.leads.len();
        for rec in &page.leads {
            // While a shadow config runs, only its own decisions count (not an earlier one's).
            let current = running
                .as_deref()
                .is_none_or(|v| rec.shadow.as_ref().is_some_and(|s| s.config_version == v));
            if let (true, Some((live, shadow))) = (current, pair(rec)) {
                cmp.add(&live, &shadow);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    cmp.top(10);
    Ok(axum::Json(serde_json::json!({
        "shadow_config_version": running,
        "leads_read": read,
        "changes": cmp,
    }))
    .into_response())
}

/// The live decision and the shadow one of a lead, as comparable assignments.
fn pair(rec: &LeadRecord) -> Option<(Assignment, Assignment)> {
    let shadow = rec.shadow.as_ref()?;
    let decision = rec.decision.as_ref()?;
    let (status, owner, pool) = match &decision.outcome {
        Outcome::Assigned { rep, pool } => (LeadStatus::Assigned, Some(rep.clone()), pool.clone()),
        Outcome::AwaitingClaim { pool } => (LeadStatus::AwaitingClaim, None, Some(pool.clone())),
        Outcome::Unassigned { pool, .. } => (LeadStatus::Unassigned, None, Some(pool.clone())),
        Outcome::NoRep { outcome } => (LeadStatus::parse(outcome)?, None, None),
    };
    let base = |status, owner, pool, rule: &str| Assignment {
        lead_id: rec.lead.id,
        received_at: rec.lead.received_at,
        status,
        owner,
        pool,
        rule: rule.to_owned(),
        due_at: None,
        reason: None,
    };
    Some((
        base(status, owner, pool, &decision.rule.name),
        base(
            shadow.status,
            shadow.owner.clone(),
            shadow.pool.clone(),
            &shadow.rule,
        ),
    ))
}
