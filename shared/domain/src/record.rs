//! What the store keeps about a lead: its status, owner, decision and history.

use chrono::{DateTime, Utc};
use leadrouter_lead::Lead;
use serde::{Deserialize, Serialize};

use crate::decision::Decision;

/// A rep's identifier, as written in the routing configuration.
pub type RepId = String;
/// A pool's identifier, as written in the routing configuration.
pub type PoolId = String;

/// Where a lead is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    /// Received and stored, not yet routed.
    Queued,
    /// Has an owner who has not accepted yet.
    Assigned,
    /// The owner accepted it.
    Accepted,
    /// The owner made first contact.
    Contacted,
    /// Won: closed as converted.
    Converted,
    /// Closed as lost.
    Lost,
    /// Waiting in a `claim` pool for a rep to claim it.
    AwaitingClaim,
    /// Nobody was eligible and there was no fallback; waits to be handed out.
    Unassigned,
    /// A rule sent it to a nurture sequence instead of a rep.
    Nurture,
    /// A rule or the intake settings classified it as spam.
    Spam,
    /// The source flagged it as a test submission: recorded, never given to a rep.
    Test,
    /// Only identifiers arrived (e.g. a Meta leadgen notification); routed once enriched.
    AwaitingEnrichment,
}

impl LeadStatus {
    /// Every status, in declaration order (a listing of all leads goes through each).
    pub const ALL: [LeadStatus; 12] = [
        LeadStatus::Queued,
        LeadStatus::Assigned,
        LeadStatus::Accepted,
        LeadStatus::Contacted,
        LeadStatus::Converted,
        LeadStatus::Lost,
        LeadStatus::AwaitingClaim,
        LeadStatus::Unassigned,
        LeadStatus::Nurture,
        LeadStatus::Spam,
        LeadStatus::Test,
        LeadStatus::AwaitingEnrichment,
    ];

    /// The wire name (`awaiting_claim`).
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Queued => "queued",
            LeadStatus::Assigned => "assigned",
            LeadStatus::Accepted => "accepted",
            LeadStatus::Contacted => "contacted",
            LeadStatus::Converted => "converted",
            LeadStatus::Lost => "lost",
            LeadStatus::AwaitingClaim => "awaiting_claim",
            LeadStatus::Unassigned => "unassigned",
            LeadStatus::Nurture => "nurture",
            LeadStatus::Spam => "spam",
            LeadStatus::Test => "test",
            LeadStatus::AwaitingEnrichment => "awaiting_enrichment",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<LeadStatus> {
        Some(match s {
            "queued" => LeadStatus::Queued,
            "assigned" => LeadStatus::Assigned,
            "accepted" => LeadStatus::Accepted,
            "contacted" => LeadStatus::Contacted,
            "converted" => LeadStatus::Converted,
            "lost" => LeadStatus::Lost,
            "awaiting_claim" => LeadStatus::AwaitingClaim,
            "unassigned" => LeadStatus::Unassigned,
            "nurture" => LeadStatus::Nurture,
            "spam" => LeadStatus::Spam,
            "test" => LeadStatus::Test,
            "awaiting_enrichment" => LeadStatus::AwaitingEnrichment,
            _ => return None,
        })
    }

    /// Whether routing is finished for this lead (it has an owner or a no-rep outcome).
    pub fn is_routed(self) -> bool {
        !matches!(
            self,
            LeadStatus::Queued
                | LeadStatus::Unassigned
                | LeadStatus::AwaitingClaim
                | LeadStatus::AwaitingEnrichment
        )
    }
}

/// One line of a lead's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When it happened.
    pub at: DateTime<Utc>,
    /// What happened (`received`, `assigned`, `unassigned`, `accepted`, `claimed`, ...).
    pub event: String,
    /// The rep concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rep: Option<RepId>,
    /// The pool concerned, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolId>,
    /// Why, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A lead with everything leadrouter knows about it. Stored as one item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeadRecord {
    /// The canonical lead as received.
    pub lead: Lead,
    /// Current status.
    pub status: LeadStatus,
    /// Current owner; at most one at any time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RepId>,
    /// The pool the lead was routed through (or waits in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolId>,
    /// The latest routing decision, with its reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// Everything that happened to the lead, oldest first.
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Reps who declined or released this lead: it never goes back to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub declined_by: Vec<RepId>,
    /// First touch by the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacted_at: Option<DateTime<Utc>>,
    /// When it was closed (converted or lost).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_at: Option<DateTime<Utc>>,
    /// The earlier lead this one repeats (same email or phone within the sticky window).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_of: Option<uuid::Uuid>,
    /// Optimistic-concurrency version: 1 when inserted, +1 on every write.
    pub version: u64,
    /// When the current owner got the lead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_at: Option<DateTime<Utc>>,
    /// When the owner accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepted_at: Option<DateTime<Utc>>,
    /// The next SLA deadline, if one runs: the sweeper finds overdue leads by it (an index).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Due>,
    /// SLA reassignments in the current pool (reset when escalated to another pool).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reassignments: u32,
    /// Escalated to a rep: the last step of the SLA procedure, no further deadlines.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub escalated: bool,
    /// What a shadow config would have decided for this lead (shadow mode: recorded with the
    /// live decision's write, nothing else is written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shadow: Option<ShadowDecision>,
    /// Everyone who owned the lead before the current owner, oldest first: reassignment never
    /// hands it back to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub previous_owners: Vec<RepId>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The decision a shadow (candidate) config would have taken, beside the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShadowDecision {
    /// The shadow config's version.
    pub config_version: String,
    /// The rule that matched under it.
    pub rule: String,
    /// The status it would have given.
    pub status: LeadStatus,
    /// The owner it would have picked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<RepId>,
    /// The pool it would have used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<PoolId>,
}

/// An SLA deadline on a lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Due {
    /// When it falls due.
    pub at: DateTime<Utc>,
    /// What must happen by then.
    pub kind: DueKind,
}

/// What an SLA deadline waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DueKind {
    /// The owner accepts.
    Accept,
    /// The owner makes first contact.
    FirstTouch,
    /// Someone takes the waiting (`unassigned` or `awaiting_claim`) lead.
    Waiting,
}

impl DueKind {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DueKind::Accept => "accept",
            DueKind::FirstTouch => "first_touch",
            DueKind::Waiting => "waiting",
        }
    }
}

impl LeadRecord {
    /// A freshly received lead, status `queued`, version 1.
    pub fn received(lead: Lead) -> LeadRecord {
        let at = lead.received_at;
        LeadRecord {
            lead,
            status: LeadStatus::Queued,
            owner: None,
            pool: None,
            decision: None,
            history: vec![HistoryEntry {
                at,
                event: "received".into(),
                rep: None,
                pool: None,
                reason: None,
            }],
            repeat_of: None,
            declined_by: Vec::new(),
            contacted_at: None,
            closed_at: None,
            version: 1,
            assigned_at: None,
            accepted_at: None,
            due: None,
            reassignments: 0,
            escalated: false,
            shadow: None,
            previous_owners: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LeadStatus;

    /// [`LeadStatus::ALL`] holds every status once: the `match` has no wildcard, so a new status
    /// does not compile here until it has a place in the list.
    #[test]
    fn all_lists_every_status_once() {
        fn position(s: LeadStatus) -> usize {
            match s {
                LeadStatus::Queued => 0,
                LeadStatus::Assigned => 1,
                LeadStatus::Accepted => 2,
                LeadStatus::Contacted => 3,
                LeadStatus::Converted => 4,
                LeadStatus::Lost => 5,
                LeadStatus::AwaitingClaim => 6,
                LeadStatus::Unassigned => 7,
                LeadStatus::Nurture => 8,
                LeadStatus::Spam => 9,
                LeadStatus::Test => 10,
                LeadStatus::AwaitingEnrichment => 11,
            }
        }
        for (i, s) in LeadStatus::ALL.into_iter().enumerate() {
            assert_eq!(position(s), i, "{s:?}");
            assert_eq!(LeadStatus::parse(s.as_str()), Some(s));
        }
    }
}
