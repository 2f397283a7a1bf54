//! Outbound lead events: one JSON message per write of a lead (assigned, reassigned, escalated,
//! claimed, accepted, ...), sent to the outbound events queue after the write lands, for CRM sync
//! and the notifier. Schema: `docs/events.schema.json`.
//!
//! Delivery is at least once. The event id is `{lead id}:{version}`, unique per write and the
//! same when the event is sent again (a redelivered intake message re-sends the event of the
//! write it finds), so consumers de-duplicate by id. Events carry ids, the owner, pool, reason
//! and due time, never the lead's personal data: a consumer that needs it reads the lead
//! through the API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::record::{DueKind, LeadRecord, LeadStatus, PoolId, RepId};

/// One outbound event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadEvent {
    /// `{lead_id}:{version}`: unique per write; the de-duplication key.
    pub id: String,
    /// What happened: the history event (`assigned`, `reassigned`, `escalated`, `claimed`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened.
    pub at: DateTime<Utc>,
    /// The lead.
    pub lead_id: Uuid,
    /// The lead record's version after the write.
    pub lead_version: u64,
    /// The lead's status after the write.
    pub status: LeadStatus,
    /// The owner after the write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RepId>,
    /// The owner before, when it changed (reassignments, escalations).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_owner: Option<RepId>,
    /// The pool the lead is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolId>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The next SLA deadline, if one runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<DateTime<Utc>>,
    /// What the deadline waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_kind: Option<DueKind>,
    /// The lead's source (`typeform`, `api`, ...).
    pub source: String,
    /// The lead's score, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
}

impl LeadEvent {
    /// The event of the latest write of `rec` (its last history line), or `None` for a record
    /// without history. `previous_owner` is the owner before that write.
    pub fn of(rec: &LeadRecord, previous_owner: Option<&str>) -> Option<LeadEvent> {
        let last = rec.history.last()?;
        Some(LeadEvent {
            id: format!("{}:{}", rec.lead.id, rec.version),
            kind: last.event.clone(),
            at: last.at,
            lead_id: rec.lead.id,
            lead_version: rec.version,
            status: rec.status,
            owner: rec.owner.clone(),
            previous_owner: previous_owner
                .filter(|p| rec.owner.as_deref() != Some(*p))
                .map(str::to_owned),
            pool: rec.pool.clone(),
            reason: last.reason.clone(),
            due_at: rec.due.map(|d| d.at),
            due_kind: rec.due.map(|d| d.kind),
            source: rec.lead.source.clone(),
            score: rec.lead.score,
        })
    }
}
