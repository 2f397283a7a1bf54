//! Invariant checks over a live store (`leadrouter doctor`).
//!
//! Reads through the ports only (the same code checks SQLite and DynamoDB): every lead once, in
//! pages of the `received` listing (an index, never a table scan), the state of every rep the
//! config names or a lead is owned by, and the rotation of every pool in the config. Nothing is
//! written.
//!
//! Findings name leads, reps and pools by id only: no email, phone, name or message text, so a
//! report can be pasted into a ticket.
//!
//! On a store that keeps routing while it is checked, a rep whose counters change during the
//! pass over the leads is re-counted from that rep's own leads (bounded retries); a rep that
//! never holds still is reported as a notice, not as a disagreement, so a busy store gives no
//! false alarms.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::config::{Makeup, RoutingConfig};
use crate::ports::{LeadQuery, Store, StoreError};
use crate::record::{LeadRecord, LeadStatus, PoolId, RepId};
use crate::state::RepState;

/// Leads read per page.
const PAGE: usize = 500;
/// How often a rep whose counters moved during the check is re-counted.
const RECOUNT_ATTEMPTS: usize = 3;

/// How strict the checks are about time.
#[derive(Debug, Clone, Copy)]
pub struct DoctorOptions {
    /// The instant the check runs at.
    pub now: DateTime<Utc>,
    /// A deadline this far in the past is overdue: the sweeper runs every minute, so a lead
    /// past its deadline by more than this means the sweeper is not running or keeps failing.
    pub overdue_grace: Duration,
    /// A lead unchanged this long in a state that should not last (`queued`) is stuck.
    pub stuck_after: Duration,
    /// How long to wait before re-counting a rep whose counters look wrong (0: report at once).
    pub confirm_after: std::time::Duration,
}

impl DoctorOptions {
    /// Defaults: 5 minutes of grace for deadlines, 15 minutes before a queued lead is stuck, a
    /// 2-second second look at a rep whose counters look wrong.
    pub fn at(now: DateTime<Utc>) -> DoctorOptions {
        DoctorOptions {
            now,
            overdue_grace: Duration::minutes(5),
            stuck_after: Duration::minutes(15),
            confirm_after: std::time::Duration::from_secs(2),
        }
    }
}

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// An invariant is broken: `leadrouter doctor` exits 1.
    Problem,
    /// Worth knowing, but a normal consequence of a config change or of a busy store.
    Notice,
}

/// One thing the doctor found. Ids only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "check", rename_all = "snake_case")]
pub enum Finding {
    /// A lead without an owner whose deadline passed more than the grace ago (the sweeper should
    /// have escalated it).
    UnownedOverdue {
        /// The lead.
        lead: Uuid,
        /// Its status.
        status: LeadStatus,
        /// Its deadline.
        due: DateTime<Utc>,
    },
    /// An owned lead whose deadline passed more than the grace ago (the sweeper should have
    /// reassigned, escalated or recorded the breach).
    OwnedOverdue {
        /// The lead.
        lead: Uuid,
        /// Its owner.
        rep: RepId,
        /// Its deadline.
        due: DateTime<Utc>,
    },
    /// A lead's owner does not fit its status (an owned status without owner, or the reverse).
    OwnerMismatch {
        /// The lead.
        lead: Uuid,
        /// Its status.
        status: LeadStatus,
        /// Whether it has an owner.
        has_owner: bool,
    },
    /// A lead carries a deadline its status never has: it sits in the due index for nothing.
    StaleDue {
        /// The lead.
        lead: Uuid,
        /// Its status.
        status: LeadStatus,
    },
    /// A lead unchanged for longer than it should be in its status.
    Stuck {
        /// The lead.
        lead: Uuid,
        /// Its status.
        status: LeadStatus,
        /// Its last change.
        since: DateTime<Utc>,
    },
    /// A rep owns more open leads than the config's `max_open_leads` (by the counter routing
    /// uses, or by the leads themselves).
    OverOpenCap {
        /// The rep.
        rep: RepId,
        /// The rep's `open_leads` counter.
        counter: u32,
        /// Open leads owned by the rep, counted.
        owned: u32,
        /// The cap.
        max: u32,
    },
    /// A rep got more leads today (in their time zone) than `max_per_day`.
    OverDailyCap {
        /// The rep.
        rep: RepId,
        /// Leads assigned today.
        today: u32,
        /// The cap.
        max: u32,
    },
    /// A rep's `open_leads` counter is not the number of open leads they own.
    CounterMismatch {
        /// The rep.
        rep: RepId,
        /// The counter.
        counter: u32,
        /// Open leads owned by the rep, counted.
        owned: u32,
    },
    /// Open leads are owned by a rep the config does not know: nobody releases them.
    UnknownOwner {
        /// The rep id on the leads.
        rep: RepId,
        /// How many open leads.
        open: u32,
    },
    /// A rotation member's last turn is after the pool's turn counter.
    TurnAhead {
        /// The pool.
        pool: PoolId,
        /// The member.
        rep: RepId,
        /// The member's last turn.
        last_turn: u64,
        /// The pool's turn counter.
        turn: u64,
    },
    /// A pool's turn counter is not the sum of its members' assignments (each turn gives one).
    TurnCount {
        /// The pool.
        pool: PoolId,
        /// The turn counter.
        turn: u64,
        /// The members' `assigned`, summed.
        assigned: u64,
    },
    /// Smooth weighted rotation keeps the members' current weights summing to zero.
    WeightDrift {
        /// The pool.
        pool: PoolId,
        /// The sum of current weights.
        sum: i64,
    },
    /// A member is owed more make-up turns than the pool's `makeup` allows.
    CreditsOverMax {
        /// The pool.
        pool: PoolId,
        /// The member.
        rep: RepId,
        /// Credits owed.
        credits: u32,
        /// The pool's maximum.
        max: u32,
    },
    /// The rotation keeps a turn for a rep who is not a member of the pool in the config (kept
    /// on purpose, so a rep who comes back keeps their place; a notice).
    RotationMemberNotInPool {
        /// The pool.
        pool: PoolId,
        /// The rep.
        rep: RepId,
        /// Whether the rep is in the config at all.
        known_rep: bool,
    },
    /// A rep's counters changed during every recount: not verified (a notice).
    Unverified {
        /// The rep.
        rep: RepId,
    },
}

impl Finding {
    /// How bad it is.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::RotationMemberNotInPool { .. } | Finding::Unverified { .. } => {
                Severity::Notice
            }
            Finding::Stuck { status, .. } if *status != LeadStatus::Queued => Severity::Notice,
            _ => Severity::Problem,
        }
    }

    /// The check's name (`counter_mismatch`).
    pub fn check(&self) -> &'static str {
        match self {
            Finding::UnownedOverdue { .. } => "unowned_overdue",
            Finding::OwnedOverdue { .. } => "owned_overdue",
            Finding::OwnerMismatch { .. } => "owner_mismatch",
            Finding::StaleDue { .. } => "stale_due",
            Finding::Stuck { .. } => "stuck",
            Finding::OverOpenCap { .. } => "over_open_cap",
            Finding::OverDailyCap { .. } => "over_daily_cap",
            Finding::CounterMismatch { .. } => "counter_mismatch",
            Finding::UnknownOwner { .. } => "unknown_owner",
            Finding::TurnAhead { .. } => "turn_ahead",
            Finding::TurnCount { .. } => "turn_count",
            Finding::WeightDrift { .. } => "weight_drift",
            Finding::CreditsOverMax { .. } => "credits_over_max",
            Finding::RotationMemberNotInPool { .. } => "rotation_member_not_in_pool",
            Finding::Unverified { .. } => "unverified",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ts = |t: &DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        let sev = match self.severity() {
            Severity::Problem => "problem",
            Severity::Notice => "notice ",
        };
        write!(f, "{sev}  {:<28} ", self.check())?;
        match self {
            Finding::UnownedOverdue { lead, status, due } => write!(
                f,
                "lead={lead} status={} due={} (no owner; the sweeper should have escalated it)",
                status.as_str(),
                ts(due)
            ),
            Finding::OwnedOverdue { lead, rep, due } => write!(
                f,
                "lead={lead} rep={rep} due={} (is the sweeper running?)",
                ts(due)
            ),
            Finding::OwnerMismatch {
                lead,
                status,
                has_owner,
            } => write!(
                f,
                "lead={lead} status={} {}",
                status.as_str(),
                if *has_owner {
                    "has an owner it should not have"
                } else {
                    "has no owner"
                }
            ),
            Finding::StaleDue { lead, status } => write!(
                f,
                "lead={lead} status={} still has an SLA deadline",
                status.as_str()
            ),
            Finding::Stuck {
                lead,
                status,
                since,
            } => {
                let hint = match status {
                    LeadStatus::Queued => {
                        "; its intake message may be dead-lettered (leadrouter redrive)"
                    }
                    LeadStatus::Unassigned => "; no eligible rep and no escalation",
                    _ => "",
                };
                write!(
                    f,
                    "lead={lead} status={} since={}{hint}",
                    status.as_str(),
                    ts(since)
                )
            }
            Finding::OverOpenCap {
                rep,
                counter,
                owned,
                max,
            } => write!(f, "rep={rep} counter={counter} owned={owned} max={max}"),
            Finding::OverDailyCap { rep, today, max } => {
                write!(f, "rep={rep} today={today} max={max}")
            }
            Finding::CounterMismatch {
                rep,
                counter,
                owned,
            } => write!(f, "rep={rep} counter={counter} owned={owned}"),
            Finding::UnknownOwner { rep, open } => {
                write!(f, "rep={rep} open={open} (not in the config)")
            }
            Finding::TurnAhead {
                pool,
                rep,
                last_turn,
                turn,
            } => write!(f, "pool={pool} rep={rep} last_turn={last_turn} turn={turn}"),
            Finding::TurnCount {
                pool,
                turn,
                assigned,
            } => write!(f, "pool={pool} turn={turn} assigned={assigned}"),
            Finding::WeightDrift { pool, sum } => {
                write!(f, "pool={pool} current_weight_sum={sum}")
            }
            Finding::CreditsOverMax {
                pool,
                rep,
                credits,
                max,
            } => write!(f, "pool={pool} rep={rep} credits={credits} max={max}"),
            Finding::RotationMemberNotInPool {
                pool,
                rep,
                known_rep,
            } => write!(
                f,
                "pool={pool} rep={rep} ({})",
                if *known_rep {
                    "no longer a member; keeps their place"
                } else {
                    "not in the config"
                }
            ),
            Finding::Unverified { rep } => write!(
                f,
                "rep={rep} (counters kept changing during the check; run again)"
            ),
        }
    }
}

/// What a check found and how much it looked at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DoctorReport {
    /// Leads read.
    pub leads: usize,
    /// Rep states read.
    pub reps: usize,
    /// Pool rotations read.
    pub pools: usize,
    /// Findings, problems first.
    pub findings: Vec<Finding>,
}

impl DoctorReport {
    /// How many findings are problems.
    pub fn problems(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity() == Severity::Problem)
            .count()
    }
}

/// Whether a lead in `status` holds a slot under its owner's cap.
fn holds_slot(status: LeadStatus) -> bool {
    matches!(
        status,
        LeadStatus::Assigned | LeadStatus::Accepted | LeadStatus::Contacted
    )
}

/// Whether a lead in `status` must have an owner (otherwise it must not have one).
fn owner_expected(status: LeadStatus) -> bool {
    matches!(
        status,
        LeadStatus::Assigned
            | LeadStatus::Accepted
            | LeadStatus::Contacted
            | LeadStatus::Converted
            | LeadStatus::Lost
    )
}

/// Statuses whose leads may carry an SLA deadline (see `sla::next_due`).
fn may_be_due(status: LeadStatus) -> bool {
    matches!(
        status,
        LeadStatus::Assigned
            | LeadStatus::Accepted
            | LeadStatus::Unassigned
            | LeadStatus::AwaitingClaim
    )
}

/// The checks that need only the lead itself.
fn check_lead(rec: &LeadRecord, opts: &DoctorOptions, out: &mut Vec<Finding>) {
    let lead = rec.lead.id;
    if owner_expected(rec.status) != rec.owner.is_some() {
        out.push(Finding::OwnerMismatch {
            lead,
            status: rec.status,
            has_owner: rec.owner.is_some(),
        });
    }
    if let Some(due) = rec.due {
        if !may_be_due(rec.status) {
            out.push(Finding::StaleDue {
                lead,
                status: rec.status,
            });
        } else if due.at + opts.overdue_grace < opts.now {
            out.push(match &rec.owner {
                Some(rep) => Finding::OwnedOverdue {
                    lead,
                    rep: rep.clone(),
                    due: due.at,
                },
                None => Finding::UnownedOverdue {
                    lead,
                    status: rec.status,
                    due: due.at,
                },
            });
        }
    }
    let since = rec.history.last().map_or(rec.lead.received_at, |h| h.at);
    // Queued should last milliseconds; waiting without any deadline and enrichment that never
    // came are legitimate but worth a look.
    let lingers = match rec.status {
        LeadStatus::Queued | LeadStatus::AwaitingEnrichment => true,
        LeadStatus::Unassigned => rec.due.is_none(),
        _ => false,
    };
    if lingers && since + opts.stuck_after < opts.now {
        out.push(Finding::Stuck {
            lead,
            status: rec.status,
            since,
        });
    }
}

/// Counts of open leads per owner.
type Owned = BTreeMap<RepId, u32>;

/// Open leads owned by `rep`, counted from the owner listing.
async fn count_owned(store: &dyn Store, rep: &str) -> Result<u32, StoreError> {
    let mut n = 0u32;
    let mut cursor = None;
    loop {
        let page = store
            .list_leads(&LeadQuery {
                owner: Some(rep.to_owned()),
                limit: PAGE,
                cursor,
                ..LeadQuery::default()
            })
            .await?;
        n += u32::try_from(page.leads.iter().filter(|r| holds_slot(r.status)).count())
            .unwrap_or(u32::MAX);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(n),
        }
    }
}

/// The rep's state and their open leads counted from the owner listing, bracketed by two reads
/// of the rep: `None` if the rep's version moved during every attempt.
async fn recount(store: &dyn Store, rep: &str) -> Result<Option<(RepState, u32)>, StoreError> {
    for _ in 0..RECOUNT_ATTEMPTS {
        let first = store.get_reps(&[rep.to_owned()]).await?;
        let counted = count_owned(store, rep).await?;
        let second = store.get_reps(&[rep.to_owned()]).await?;
        if let (Some(a), Some(b)) = (first.first(), second.first())
            && a.version == b.version
        {
            return Ok(Some((b.clone(), counted)));
        }
    }
    Ok(None)
}

/// Checks `store` against `cfg`. Reads only.
pub async fn check(
    store: &dyn Store,
    cfg: &RoutingConfig,
    opts: DoctorOptions,
) -> Result<DoctorReport, StoreError> {
    let mut report = DoctorReport::default();
    let mut findings = Vec::new();

    // Rep states before the pass over the leads: a rep whose version is the same afterwards had
    // no lead enter or leave their open set meanwhile (every such change commits the counter).
    let config_reps: Vec<RepId> = cfg.reps.iter().map(|r| r.id.clone()).collect();
    let before = store.get_reps(&config_reps).await?;

    let mut owned: Owned = BTreeMap::new();
    let mut cursor = None;
    loop {
        let page = store
            .list_leads(&LeadQuery {
                limit: PAGE,
                cursor,
                ..LeadQuery::default()
            })
            .await?;
        for rec in &page.leads {
            report.leads += 1;
            check_lead(rec, &opts, &mut findings);
            if let Some(rep) = &rec.owner
                && holds_slot(rec.status)
            {
                *owned.entry(rep.clone()).or_default() += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }

    // Every rep the config names, and every owner found on a lead.
    let mut ids: BTreeSet<RepId> = config_reps.iter().cloned().collect();
    ids.extend(owned.keys().cloned());
    let ids: Vec<RepId> = ids.into_iter().collect();
    let after = store.get_reps(&ids).await?;
    report.reps = after.len();
    let before: BTreeMap<&str, &RepState> = before.iter().map(|s| (s.rep.as_str(), s)).collect();
    for state in &after {
        let rep = state.rep.as_str();
        let mut counted = owned.get(rep).copied().unwrap_or(0);
        let mut current = state.clone();
        let mut verified = before.get(rep).is_some_and(|b| b.version == state.version);
        if !verified && let Some((s, n)) = recount(store, rep).await? {
            (current, counted) = (s, n);
            verified = true;
        }
        let suspicious = current.open_leads != counted
            || cfg
                .rep(rep)
                .and_then(|r| r.max_open_leads)
                .is_some_and(|max| counted > max);
        if verified && suspicious && !opts.confirm_after.is_zero() {
            // Listings may trail the items they index (DynamoDB's indexes are eventually
            // consistent): a write that landed just before the pass can be missing from it.
            // Look again after a moment before reporting a disagreement.
            tokio::time::sleep(opts.confirm_after).await;
            match recount(store, rep).await? {
                Some((s, n)) => (current, counted) = (s, n),
                None => verified = false,
            }
        }
        let Some(rep_cfg) = cfg.rep(rep) else {
            if counted > 0 {
                findings.push(Finding::UnknownOwner {
                    rep: rep.to_owned(),
                    open: counted,
                });
            }
            continue;
        };
        if !verified {
            findings.push(Finding::Unverified {
                rep: rep.to_owned(),
            });
            continue;
        }
        if current.open_leads != counted {
            findings.push(Finding::CounterMismatch {
                rep: rep.to_owned(),
                counter: current.open_leads,
                owned: counted,
            });
        }
        if let Some(max) = rep_cfg.max_open_leads
            && (current.open_leads > max || counted > max)
        {
            findings.push(Finding::OverOpenCap {
                rep: rep.to_owned(),
                counter: current.open_leads,
                owned: counted,
                max,
            });
        }
        if let Some(max) = rep_cfg.max_per_day {
            let today = current.assigned_on(opts.now.with_timezone(&rep_cfg.timezone).date_naive());
            if today > max {
                findings.push(Finding::OverDailyCap {
                    rep: rep.to_owned(),
                    today,
                    max,
                });
            }
        }
    }

    for pool in &cfg.pools {
        let state = store.get_pool(&pool.id).await?;
        report.pools += 1;
        let mut assigned = 0u64;
        let mut weights = 0i64;
        for (rep, m) in &state.members {
            assigned = assigned.saturating_add(m.assigned);
            weights = weights.saturating_add(m.current_weight);
            if m.last_turn > state.turn {
                findings.push(Finding::TurnAhead {
                    pool: pool.id.clone(),
                    rep: rep.clone(),
                    last_turn: m.last_turn,
                    turn: state.turn,
                });
            }
            if let Makeup::Credit { max } = pool.makeup
                && m.credits > max
            {
                findings.push(Finding::CreditsOverMax {
                    pool: pool.id.clone(),
                    rep: rep.clone(),
                    credits: m.credits,
                    max,
                });
            }
            if !pool.members.contains(rep) {
                findings.push(Finding::RotationMemberNotInPool {
                    pool: pool.id.clone(),
                    rep: rep.clone(),
                    known_rep: cfg.rep(rep).is_some(),
                });
            }
        }
        if assigned != state.turn {
            findings.push(Finding::TurnCount {
                pool: pool.id.clone(),
                turn: state.turn,
                assigned,
            });
        }
        if weights != 0 {
            findings.push(Finding::WeightDrift {
                pool: pool.id.clone(),
                sum: weights,
            });
        }
    }

    findings.sort_by_key(|f| f.severity());
    report.findings = findings;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Due, DueKind};
    use leadrouter_lead::Lead;

    fn t(mins: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_763_884_800, 0).unwrap_or_default() + Duration::minutes(mins)
    }

    fn rec(status: LeadStatus, owner: Option<&str>) -> LeadRecord {
        let mut r = LeadRecord::received(Lead {
            id: Uuid::nil(),
            received_at: t(0),
            source: "test".into(),
            ..Lead::default()
        });
        r.status = status;
        r.owner = owner.map(str::to_owned);
        r
    }

    fn lead_findings(r: &LeadRecord, now_mins: i64) -> Vec<&'static str> {
        let mut out = Vec::new();
        check_lead(r, &DoctorOptions::at(t(now_mins)), &mut out);
        out.iter().map(Finding::check).collect()
    }

    #[test]
    fn lead_checks() {
        assert!(lead_findings(&rec(LeadStatus::Assigned, Some("a")), 60).is_empty());
        assert_eq!(
            lead_findings(&rec(LeadStatus::Assigned, None), 0),
            ["owner_mismatch"]
        );
        assert_eq!(
            lead_findings(&rec(LeadStatus::Unassigned, Some("a")), 0),
            ["owner_mismatch"]
        );
        // Queued: fine for a while, stuck after 15 minutes.
        assert!(lead_findings(&rec(LeadStatus::Queued, None), 10).is_empty());
        assert_eq!(lead_findings(&rec(LeadStatus::Queued, None), 16), ["stuck"]);

        let mut waiting = rec(LeadStatus::Unassigned, None);
        waiting.due = Some(Due {
            at: t(30),
            kind: DueKind::Waiting,
        });
        assert!(lead_findings(&waiting, 34).is_empty(), "within the grace");
        assert_eq!(lead_findings(&waiting, 36), ["unowned_overdue"]);
        let mut owned = rec(LeadStatus::Assigned, Some("a"));
        owned.due = waiting.due;
        assert_eq!(lead_findings(&owned, 36), ["owned_overdue"]);
        let mut closed = rec(LeadStatus::Converted, Some("a"));
        closed.due = waiting.due;
        assert_eq!(lead_findings(&closed, 0), ["stale_due"]);
    }

    #[test]
    fn severities_and_lines_carry_ids_only() {
        let f = Finding::Stuck {
            lead: Uuid::nil(),
            status: LeadStatus::Queued,
            since: t(0),
        };
        assert_eq!(f.severity(), Severity::Problem);
        let line = f.to_string();
        assert!(line.starts_with("problem  stuck"), "{line}");
        assert!(line.contains("redrive"), "{line}");
        let n = Finding::RotationMemberNotInPool {
            pool: "p".into(),
            rep: "r".into(),
            known_rep: false,
        };
        assert_eq!(n.severity(), Severity::Notice);
    }
}
