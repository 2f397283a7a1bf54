//! The sweeper's work: leads whose SLA deadline passed are reassigned, handed back to a claim
//! pool, or escalated; leads of reps who went away are moved on; waiting leads are retried.
//!
//! Every move is one conditional commit of the lead (and the reps' counters and the rotation it
//! touches), decided against the record as read. Two sweeps at once, or a sweep racing the
//! owner's accept, therefore cannot both win: the loser re-reads, finds the deadline moved or
//! gone (or a new owner), and does nothing.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::{info, instrument, warn};
use uuid::Uuid;

use super::{Attempt, Engine, EngineError, event, excluded, merge, record_plan};
use crate::config::{Reassign, RoutingConfig, Target};
use crate::ports::{Commit, LeadQuery, Versioned};
use crate::record::{DueKind, LeadRecord, LeadStatus, RepId};
use crate::routing::{self, Reroute};
use crate::sla;
use crate::state::PoolState;

/// Leads read per `list_due` page.
const DUE_PAGE: usize = 100;
/// Most overdue leads one sweep handles; the rest wait for the next sweep (a minute later).
const MAX_PER_SWEEP: usize = 2_000;

/// What one sweep did (also the sweeper function's result and metrics).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SweepReport {
    /// SLA deadlines found passed and acted on.
    pub breaches: usize,
    /// Leads moved to another rep, or back to their claim pool.
    pub reassigned: usize,
    /// Leads escalated (to a manager or a fallback pool).
    pub escalated: usize,
    /// Leads taken from reps who are away or out of office.
    pub released: usize,
    /// Waiting leads that got an owner.
    pub assigned: usize,
}

/// What was done to one lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moved {
    /// Given to another rep (or back to its claim pool).
    Reassigned,
    /// Escalated.
    Escalated,
    /// The deadline passed and nothing else could be done: recorded as `sla_breached`, the
    /// lead stays where it is.
    Breached,
    /// Taken from an absent owner.
    Released,
}

/// Why a lead is being moved.
#[derive(Debug, Clone, Copy)]
enum Why<'a> {
    /// Its SLA deadline passed.
    Overdue,
    /// Its owner is away or out of office.
    OwnerAbsent(&'a str),
}

impl Engine {
    /// One sweep: overdue leads (found through the store's due index, earliest first), leads of
    /// absent reps, then waiting leads. Safe to run concurrently with itself and with rep
    /// actions. A lead that stays contended is left for the next sweep.
    #[instrument(skip(self))]
    pub async fn sweep(&self) -> Result<SweepReport, EngineError> {
        let mut report = SweepReport::default();
        let now = self.now();
        let mut seen: HashSet<Uuid> = HashSet::new();
        'pages: loop {
            let due = self.store.list_due(now, DUE_PAGE).await?;
            let fresh: Vec<LeadRecord> =
                due.into_iter().filter(|r| seen.insert(r.lead.id)).collect();
            if fresh.is_empty() {
                break;
            }
            for rec in fresh {
                match self.move_lead(rec.lead.id, Why::Overdue, now).await {
                    Ok(Some(moved)) => {
                        report.breaches += 1;
                        match moved {
                            Moved::Reassigned => report.reassigned += 1,
                            Moved::Escalated => report.escalated += 1,
                            Moved::Breached | Moved::Released => {}
                        }
                    }
                    Ok(None) => {}
                    Err(EngineError::Contention) => {
                        warn!(lead = %rec.lead.id, "overdue lead contended; next sweep");
                    }
                    Err(e) => return Err(e),
                }
                if seen.len() >= MAX_PER_SWEEP {
                    break 'pages;
                }
            }
        }
        report.released = self.release_absent(now).await?;
        report.assigned = self.route_stranded(now).await? + self.retry_waiting().await?;
        if report != SweepReport::default() {
            info!(?report, "sweep");
        }
        Ok(report)
    }

    /// Routes leads left `queued` by a crash between a decline or release (which hands the lead
    /// back) and its re-routing: the next sweep finishes the job. Only leads idle for a minute,
    /// so a hand-back in progress is left to its own caller.
    async fn route_stranded(&self, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let page = self
            .store
            .list_leads(&LeadQuery {
                status: Some(LeadStatus::Queued),
                limit: DUE_PAGE,
                ..LeadQuery::default()
            })
            .await?;
        let mut assigned = 0;
        for rec in page.leads {
            let idle = rec
                .history
                .last()
                .is_none_or(|h| now - h.at >= chrono::Duration::minutes(1));
            if idle && rec.history.len() > 1 {
                warn!(lead = %rec.lead.id, "routing a stranded queued lead");
                if let super::Routed::Assigned { .. } = self.route(rec.lead.id).await? {
                    assigned += 1;
                }
            }
        }
        Ok(assigned)
    }

    /// Moves on the assigned (not yet accepted) leads of every rep who is away or out of office.
    async fn release_absent(&self, now: DateTime<Utc>) -> Result<usize, EngineError> {
        let cfg = self.config();
        let ids: Vec<RepId> = cfg.reps.iter().map(|r| r.id.clone()).collect();
        let states = self.store.get_reps(&ids).await?;
        let mut released = 0;
        for state in states {
            if cfg
                .rep(&state.rep)
                .is_some_and(|r| sla::is_absent(r, &state, now))
                && state.open_leads > 0
            {
                released += self.release_leads_of(&state.rep, now).await?;
            }
        }
        Ok(released)
    }

    /// Moves on `rep`'s assigned, not yet accepted leads (the rep went away or out of office).
    pub(super) async fn release_leads_of(
        &self,
        rep: &str,
        now: DateTime<Utc>,
    ) -> Result<usize, EngineError> {
        let mut released = 0;
        let mut cursor = None;
        loop {
            let page = self
                .store
                .list_leads(&LeadQuery {
                    status: Some(LeadStatus::Assigned),
                    owner: Some(rep.to_owned()),
                    limit: 100,
                    cursor,
                    ..LeadQuery::default()
                })
                .await?;
            for rec in &page.leads {
                if let Some(Moved::Released) = self
                    .move_lead(rec.lead.id, Why::OwnerAbsent(rep), now)
                    .await?
                {
                    released += 1;
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(released),
            }
        }
    }

    /// Moves one lead if it still needs moving when read: its deadline still passed, or its
    /// owner still the absent rep. One conditional commit; `None` if there was nothing to do.
    async fn move_lead(
        &self,
        id: Uuid,
        why: Why<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<Moved>, EngineError> {
        self.optimistic("sweep", move || async move {
            let Some(rec) = self.store.get_lead(id).await? else {
                return Ok(Attempt::Done(None));
            };
            let cfg = self.config();
            let step = match why {
                Why::Overdue => match rec.due {
                    Some(due) if due.at <= now => overdue_step(&cfg, &rec),
                    _ => return Ok(Attempt::Done(None)),
                },
                Why::OwnerAbsent(rep) => {
                    if rec.owner.as_deref() != Some(rep) || rec.status != LeadStatus::Assigned {
                        return Ok(Attempt::Done(None));
                    }
                    match sla::home(&cfg, &rec) {
                        Some(to) => Step::Move {
                            to,
                            moved: Moved::Released,
                        },
                        None => return Ok(Attempt::Done(None)),
                    }
                }
            };
            let (commit, moved) = self.plan_move(&cfg, rec, step, why, now).await?;
            Ok(Attempt::Write(commit, Some(moved)))
        })
        .await
    }

    /// The commit for one move, read against the live rep and pool states it touches.
    async fn plan_move(
        &self,
        cfg: &RoutingConfig,
        rec: LeadRecord,
        step: Step<'_>,
        why: Why<'_>,
        now: DateTime<Utc>,
    ) -> Result<(Commit, Moved), EngineError> {
        let sla_pool = sla::sla_pool(cfg, &rec);
        let reason = match (why, rec.due, sla_pool) {
            (Why::OwnerAbsent(rep), _, _) => format!("owner `{rep}` is away or out of office"),
            (Why::Overdue, Some(due), Some(pool)) => sla::missed(&due, &pool.sla),
            (Why::Overdue, _, _) => "the pool no longer has an SLA".to_owned(),
        };
        let old_owner = rec.owner.clone();
        let version = rec.version;
        let mut commit = Commit::default();
        let (mut next, moved) = match step {
            Step::Breach => {
                let mut next = rec;
                next.due = None;
                next.history.push(event(
                    now,
                    "sla_breached",
                    next.owner.as_deref(),
                    next.pool.as_deref(),
                    Some(reason),
                ));
                (next, Moved::Breached)
            }
            Step::BackToClaim { pool } => {
                let mut next = rec;
                push_previous(&mut next);
                next.status = LeadStatus::AwaitingClaim;
                next.owner = None;
                next.pool = Some(pool.to_owned());
                next.assigned_at = None;
                next.accepted_at = None;
                next.reassignments += 1;
                next.history.push(event(
                    now,
                    "reassigned",
                    None,
                    Some(pool),
                    Some(format!("{reason}; back to pool `{pool}` to be claimed")),
                ));
                next.due = None;
                next.due = sla::next_due(cfg, &next, now);
                (next, Moved::Reassigned)
            }
            Step::Move { to, moved } => {
                let (rep_ids, pool_ids) = needs(cfg, to, old_owner.as_deref());
                let mut snap = self.snapshot(&rep_ids, &pool_ids, None).await?;
                snap.excluded = excluded(&rec);
                merge(&mut snap.excluded, old_owner.iter().cloned().collect());
                let mut plan = routing::reroute(cfg, &rec.lead, &snap, now, to);
                let same_owner = plan.owner.is_some() && plan.owner == old_owner;
                if plan.owner.is_none() && moved == Moved::Reassigned {
                    // Nobody else can take it: escalate, or leave it where it is.
                    let step = escalation(cfg, &rec).unwrap_or(Step::Breach);
                    return Box::pin(self.plan_move(cfg, rec, step, why, now)).await;
                }
                if let Some(update) = plan.rotation.take() {
                    let mut item = snap
                        .pools
                        .get(&update.pool)
                        .cloned()
                        .unwrap_or_else(|| PoolState::new(update.pool.clone()));
                    let base = item.version;
                    item.apply(&update);
                    commit.pools.push(Versioned {
                        expected_version: base,
                        item,
                    });
                }
                if let (Some(state), false) = (plan.rep.take(), same_owner) {
                    let base = snap.reps.get(&state.rep).map_or(0, |r| r.version);
                    commit.reps.push(Versioned {
                        expected_version: base,
                        item: state,
                    });
                }
                let mut next = rec;
                if !same_owner {
                    push_previous(&mut next);
                }
                let escalated_to_pool = moved == Moved::Escalated
                    && matches!(to, Reroute::Pool(_))
                    && plan.pool.is_some();
                let escalated_to_rep = moved == Moved::Escalated
                    && matches!(to, Reroute::Rep(_))
                    && plan.owner.is_some();
                let what = match moved {
                    Moved::Escalated => "escalated",
                    _ => "reassigned",
                };
                let mut next = record_plan(next, plan, now, None);
                if let Some(last) = next.history.last_mut() {
                    let outcome = std::mem::replace(&mut last.event, what.to_owned());
                    let tail = match (&last.rep, outcome.as_str()) {
                        (Some(rep), _) => format!("to `{rep}`"),
                        (None, "unassigned") => "nobody can take it now; it waits".to_owned(),
                        (None, other) => other.replace('_', " "),
                    };
                    last.reason = Some(format!("{reason}; {tail}"));
                }
                next.accepted_at = None;
                next.contacted_at = None;
                if !same_owner {
                    next.assigned_at = next.owner.as_ref().map(|_| now);
                }
                next.reassignments = match moved {
                    Moved::Reassigned => next.reassignments + 1,
                    _ if escalated_to_pool => 0,
                    _ => next.reassignments,
                };
                next.escalated = escalated_to_rep;
                next.due = None;
                next.due = sla::next_due(cfg, &next, now);
                (next, moved)
            }
        };
        if let Some(old) = old_owner.filter(|o| next.owner.as_ref() != Some(o)) {
            // The old owner no longer holds the lead: one open lead fewer.
            let state = self.rep_state(&old).await?;
            let mut freed = state.clone();
            freed.open_leads = freed.open_leads.saturating_sub(1);
            commit.reps.push(Versioned {
                expected_version: state.version,
                item: freed,
            });
        }
        next.version = version;
        commit.leads.push(Versioned {
            expected_version: version,
            item: next,
        });
        Ok((commit, moved))
    }
}

/// One planned move.
#[derive(Debug, Clone, Copy)]
enum Step<'a> {
    /// Re-route to `to`.
    Move { to: Reroute<'a>, moved: Moved },
    /// Back to the claim pool.
    BackToClaim { pool: &'a str },
    /// Record the breach, change nothing else.
    Breach,
}

/// What the SLA procedure says for an overdue lead.
fn overdue_step<'a>(cfg: &'a RoutingConfig, rec: &LeadRecord) -> Step<'a> {
    let Some(pool) = sla::sla_pool(cfg, rec) else {
        return Step::Breach;
    };
    let sla = &pool.sla;
    let waiting = rec.due.is_some_and(|d| d.kind == DueKind::Waiting) || rec.owner.is_none();
    if waiting || rec.reassignments >= sla.max_reassignments {
        return escalation(cfg, rec).unwrap_or(Step::Breach);
    }
    match sla.reassign_to {
        Reassign::NextInRotation => Step::Move {
            to: Reroute::Pool(&pool.id),
            moved: Moved::Reassigned,
        },
        Reassign::AnyAvailable => Step::Move {
            to: Reroute::AnyAvailable { pool: &pool.id },
            moved: Moved::Reassigned,
        },
        Reassign::Claim => Step::BackToClaim { pool: &pool.id },
    }
}

/// The escalation step of the lead's SLA pool, if it has one.
fn escalation<'a>(cfg: &'a RoutingConfig, rec: &LeadRecord) -> Option<Step<'a>> {
    let to = match sla::sla_pool(cfg, rec)?.sla.escalate.as_ref()? {
        Target::Rep(r) => Reroute::Rep(r),
        Target::Pool(p) => Reroute::Pool(p),
    };
    Some(Step::Move {
        to,
        moved: Moved::Escalated,
    })
}

/// The rep and pool states a reroute may read (and the old owner's, to free them).
fn needs(cfg: &RoutingConfig, to: Reroute<'_>, old: Option<&str>) -> (Vec<RepId>, Vec<String>) {
    let mut reps: Vec<RepId> = old.iter().map(|o| (*o).to_owned()).collect();
    let mut pools: Vec<String> = Vec::new();
    match to {
        Reroute::Rep(r) => merge(&mut reps, vec![r.to_owned()]),
        Reroute::AnyAvailable { .. } => {
            merge(&mut reps, cfg.reps.iter().map(|r| r.id.clone()).collect());
        }
        Reroute::Pool(first) => {
            let mut next = Some(first.to_owned());
            while let Some(id) = next.take() {
                if pools.contains(&id) {
                    break;
                }
                let Some(pool) = cfg.pool(&id) else { break };
                pools.push(id);
                merge(&mut reps, pool.members.clone());
                match &pool.fallback {
                    Some(Target::Pool(p)) => next = Some(p.clone()),
                    Some(Target::Rep(r)) => merge(&mut reps, vec![r.clone()]),
                    None => {}
                }
            }
        }
    }
    (reps, pools)
}

/// Records the current owner as a previous owner (reassignment never hands the lead back).
fn push_previous(rec: &mut LeadRecord) {
    if let Some(owner) = rec.owner.clone()
        && !rec.previous_owners.contains(&owner)
    {
        rec.previous_owners.push(owner);
    }
}
