//! Live routing state that changes with every assignment: rep counters and pool rotations.
//!
//! Each struct is one store item with a `version`. Writers read it, compute the next state in
//! memory, and write it back on the condition that the version is still the one they read; a
//! concurrent writer therefore makes them retry instead of silently overwriting (see
//! [`crate::ports::Commit`]).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::record::{PoolId, RepId};

pub mod rotation;
pub(crate) use rotation::PackedId;
pub use rotation::Rotation;

/// Availability a rep (or an admin) sets through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Availability {
    /// Takes leads.
    Available,
    /// Takes no leads until set back to available.
    Away,
}

/// An out-of-office range, inclusive of `from`, exclusive of `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutOfOffice {
    /// Start of the absence.
    pub from: DateTime<Utc>,
    /// End of the absence (first instant back).
    pub until: DateTime<Utc>,
}

/// A rep's live state. A missing item reads as `RepState::new(id)` with version 0.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepState {
    /// The rep.
    pub rep: RepId,
    /// 0 = never written; +1 on every write.
    pub version: u64,
    /// Availability set through the API; `None` means "as the config says".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability: Option<Availability>,
    /// Out-of-office ranges set through the API, in addition to the config's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub out_of_office: Vec<OutOfOffice>,
    /// Leads currently owned and not closed.
    pub open_leads: u32,
    /// The rep's local calendar day that `assigned_today` counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<NaiveDate>,
    /// Leads assigned on `day`.
    pub assigned_today: u32,
    /// When the rep last got a lead (any pool).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_assigned_at: Option<DateTime<Utc>>,
}

impl RepState {
    /// The state of a rep that has never been written.
    pub fn new(rep: impl Into<RepId>) -> RepState {
        RepState {
            rep: rep.into(),
            version: 0,
            availability: None,
            out_of_office: Vec::new(),
            open_leads: 0,
            day: None,
            assigned_today: 0,
            last_assigned_at: None,
        }
    }

    /// Leads assigned on `today` (0 if the counter belongs to another day).
    pub fn assigned_on(&self, today: NaiveDate) -> u32 {
        if self.day == Some(today) {
            self.assigned_today
        } else {
            0
        }
    }
}

/// One member's place in a pool's rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberTurn {
    /// The pool's `turn` counter when this member last got a lead (0 = never).
    pub last_turn: u64,
    /// Missed turns credited back (round robin with a make-up policy).
    #[serde(default, skip_serializing_if = "is_zero_u32")]
    pub credits: u32,
    /// Smooth weighted round robin's running weight.
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub current_weight: i64,
    /// Leads this member got from this pool (for reporting and fairness checks).
    #[serde(default)]
    pub assigned: u64,
}

fn is_zero_u32(v: &u32) -> bool {
    *v == 0
}
fn is_zero_i64(v: &i64) -> bool {
    *v == 0
}

/// A pool's rotation. A missing item reads as `PoolState::new(id)` with version 0.
///
/// Keyed by rep id, so editing the member list never resets anyone's turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolState {
    /// The pool.
    pub pool: PoolId,
    /// 0 = never written; +1 on every write.
    pub version: u64,
    /// Turns handed out so far.
    pub turn: u64,
    /// Per-member rotation state.
    #[serde(default)]
    pub members: Rotation,
}

/// What one pick changes in a pool's rotation: the turn counter advances by one and the members
/// it touched get new values. A pick over a pool of thousands touches one member (round robin)
/// or the eligible ones (weighted), so the rotation is never copied whole per lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationUpdate {
    /// The pool.
    pub pool: PoolId,
    /// New values of the members the pick changed.
    pub members: Vec<(RepId, MemberTurn)>,
}

impl PoolState {
    /// Applies one pick's changes (the version is the store's to bump).
    pub fn apply(&mut self, update: &RotationUpdate) {
        self.turn += 1;
        for (rep, m) in &update.members {
            match self.members.get_mut(rep) {
                Some(slot) => *slot = m.clone(),
                None => {
                    self.members.insert(rep.clone(), m.clone());
                }
            }
        }
    }

    /// The state of a pool that has never been written.
    pub fn new(pool: impl Into<PoolId>) -> PoolState {
        PoolState {
            pool: pool.into(),
            version: 0,
            turn: 0,
            members: Rotation::default(),
        }
    }
}
