//! The decision record: what the router decided for a lead and why, stored with the lead.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::record::{PoolId, RepId};

/// Why a rep could not take a lead. One candidate may have several.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Ineligible {
    /// Status is `away` (config or API).
    Away,
    /// Inside an out-of-office range.
    OutOfOffice {
        /// When the rep is back.
        until: DateTime<Utc>,
    },
    /// Outside the rep's working hours (and the pool respects them).
    OutsideHours,
    /// Already owns `max_open_leads` open leads.
    OverOpenCap {
        /// Open leads now.
        open: u32,
        /// The cap.
        max: u32,
    },
    /// Already got `max_per_day` leads today (rep's local day).
    OverDailyCap {
        /// Leads assigned today.
        today: u32,
        /// The cap.
        max: u32,
    },
    /// Lacks a skill the rule requires.
    MissingSkill {
        /// The missing skill.
        skill: String,
    },
    /// The rep's territories do not cover the lead's country or region.
    OutsideTerritory {
        /// The lead's territory (`DE` or `US-CA`).
        territory: String,
    },
    /// Declined or released this lead before; it never goes back to them.
    DeclinedBefore,
    /// Speaks none of the languages the rule requires.
    MissingLanguage {
        /// The languages accepted.
        languages: Vec<String>,
    },
}

impl Ineligible {
    /// Whether this reason is about capacity (a busy rep), which round robin's make-up policy may
    /// credit back, as opposed to absence or fit.
    pub fn is_capacity(&self) -> bool {
        matches!(
            self,
            Ineligible::OverOpenCap { .. } | Ineligible::OverDailyCap { .. }
        )
    }
}

/// One rep considered for a lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    /// The rep.
    pub rep: RepId,
    /// Could take the lead.
    pub eligible: bool,
    /// Why not, when not eligible.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<Ineligible>,
}

/// How the router got to a set of candidates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepKind {
    /// The owner of the lead's company account.
    AccountOwner {
        /// The matched account.
        account: String,
    },
    /// The owner of an earlier lead with the same email.
    Sticky {
        /// The earlier lead.
        previous_lead: uuid::Uuid,
    },
    /// A rule named this rep directly.
    NamedRep,
    /// A pool's strategy.
    Pool {
        /// The pool.
        pool: PoolId,
        /// Its strategy.
        strategy: String,
    },
    /// A pool's fallback to a named rep.
    FallbackRep {
        /// The pool whose fallback this is.
        from_pool: PoolId,
    },
    /// An SLA escalation to a named rep (a manager).
    Escalation,
    /// An SLA reassignment to any eligible rep of the config, least loaded first.
    AnyAvailable,
}

/// One stage of the decision: who was considered and who (if anyone) was picked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    /// How the candidates were found.
    #[serde(flatten)]
    pub kind: StepKind,
    /// Every rep considered, eligible or not.
    pub candidates: Vec<Candidate>,
    /// The rep picked at this step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub picked: Option<RepId>,
    /// The strategy state the pick used (turns, weights, loads), for audit.
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub state: serde_json::Value,
    /// Why nobody was picked here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The rule that matched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    /// Position in the config's rule list (0-based).
    pub index: usize,
    /// The rule's name.
    pub name: String,
}

/// Where the lead ended up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outcome {
    /// Owned by a rep.
    Assigned {
        /// The owner.
        rep: RepId,
        /// The pool it came through, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<PoolId>,
    },
    /// Waiting in a claim pool.
    AwaitingClaim {
        /// The pool.
        pool: PoolId,
    },
    /// Nobody eligible, no fallback left: waits.
    Unassigned {
        /// The pool it waits in.
        pool: PoolId,
        /// Why, in words.
        reason: String,
    },
    /// A no-rep outcome named by a rule (`nurture`, `spam`).
    NoRep {
        /// The outcome's name.
        outcome: String,
    },
}

/// Everything the router decided for one lead, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// When the decision was taken.
    pub decided_at: DateTime<Utc>,
    /// Fingerprint of the routing config used.
    pub config_version: String,
    /// The rule that matched.
    pub rule: RuleRef,
    /// Skills the rule required.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_skills: Vec<String>,
    /// Languages the rule accepted (any of).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_languages: Vec<String>,
    /// Each stage tried, in order.
    pub steps: Vec<Step>,
    /// The result.
    pub outcome: Outcome,
    /// The A/B experiment arm the lead was routed by, if its rule splits leads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<ExperimentArm>,
}

/// Which arm of which experiment a lead went through.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExperimentArm {
    /// The experiment's id.
    pub id: String,
    /// The arm's name.
    pub arm: String,
}
