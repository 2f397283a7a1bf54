//! SLA deadlines: which pool's SLA governs a lead, when its next deadline falls, and whether a
//! rep is absent (away or out of office) so that their leads must move. Pure functions of the
//! config, the record and the time; the sweeper ([`crate::engine`]) acts on them.

use chrono::{DateTime, Utc};

use crate::config::{Pool, Rep, Route, RoutingConfig};
use crate::record::{Due, DueKind, LeadRecord, LeadStatus};
use crate::routing::decide::Reroute;
use crate::state::{Availability, RepState};

/// The pool whose SLA governs `rec`: the pool it was routed through or waits in, else (a lead
/// that went to an account owner, a sticky owner or an escalation rep) the pool its rule routes
/// to under the current config.
pub fn sla_pool<'a>(cfg: &'a RoutingConfig, rec: &LeadRecord) -> Option<&'a Pool> {
    rec.pool.as_deref().and_then(|p| cfg.pool(p)).or_else(|| {
        match cfg.match_rule(&rec.lead)?.1.route_for(&rec.lead) {
            Route::Pool(p) => cfg.pool(p),
            _ => None,
        }
    })
}

/// Where a lead taken from its owner goes by default: its SLA pool, else the rep its rule names.
pub fn home<'a>(cfg: &'a RoutingConfig, rec: &LeadRecord) -> Option<Reroute<'a>> {
    if let Some(pool) = sla_pool(cfg, rec) {
        return Some(Reroute::Pool(&pool.id));
    }
    match cfg.match_rule(&rec.lead)?.1.route_for(&rec.lead) {
        Route::Rep(r) => Some(Reroute::Rep(r)),
        _ => None,
    }
}

/// The deadline `rec` is under after a write at `now` that changed its status or owner, by its
/// pool's SLA. Accept and first-touch deadlines count the owner's working time from the
/// assignment; a waiting lead's deadline is wall-clock time from `now`. A lead escalated to a
/// rep has no further deadline (the escalation is the last step).
pub fn next_due(cfg: &RoutingConfig, rec: &LeadRecord, now: DateTime<Utc>) -> Option<Due> {
    if rec.escalated {
        return None;
    }
    let sla = &sla_pool(cfg, rec)?.sla;
    let working = |d: chrono::Duration, kind: DueKind| {
        let owner = cfg.rep(rec.owner.as_deref()?)?;
        let from = rec.assigned_at?;
        Some(Due {
            at: owner.hours.add_working_time(owner.timezone, from, d),
            kind,
        })
    };
    match rec.status {
        LeadStatus::Assigned => match (sla.accept_within, sla.first_touch_within) {
            (Some(d), _) => working(d, DueKind::Accept),
            (None, Some(d)) => working(d, DueKind::FirstTouch),
            (None, None) => None,
        },
        LeadStatus::Accepted => working(sla.first_touch_within?, DueKind::FirstTouch),
        LeadStatus::Unassigned | LeadStatus::AwaitingClaim => {
            sla.escalate.as_ref()?;
            // Still waiting (a retry that changed nothing): the clock keeps running.
            if let Some(due) = rec.due.filter(|d| d.kind == DueKind::Waiting) {
                return Some(due);
            }
            Some(Due {
                at: now + sla.escalate_waiting_after?,
                kind: DueKind::Waiting,
            })
        }
        _ => None,
    }
}

/// Whether `rep` is away or out of office at `now` (live state over config), so that their
/// leads not yet accepted must move on.
pub fn is_absent(rep: &Rep, state: &RepState, now: DateTime<Utc>) -> bool {
    state.availability.unwrap_or(rep.status) == Availability::Away
        || rep
            .out_of_office
            .iter()
            .chain(&state.out_of_office)
            .any(|o| o.from <= now && now < o.until)
}

/// Words for a missed deadline, for the history.
pub fn missed(due: &Due, sla: &crate::config::Sla) -> String {
    let within = match due.kind {
        DueKind::Accept => sla.accept_within,
        DueKind::FirstTouch => sla.first_touch_within,
        DueKind::Waiting => sla.escalate_waiting_after,
    };
    let span = within.map_or_else(String::new, |d| format!(" within {}", human(d)));
    match due.kind {
        DueKind::Accept => format!("not accepted{span} (due {})", due.at.to_rfc3339()),
        DueKind::FirstTouch => format!("no first touch{span} (due {})", due.at.to_rfc3339()),
        DueKind::Waiting => format!("nobody took it{span} (due {})", due.at.to_rfc3339()),
    }
}

fn human(d: chrono::Duration) -> String {
    let s = d.num_seconds();
    match s {
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}
