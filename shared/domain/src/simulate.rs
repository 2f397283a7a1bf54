//! Replaying leads through a config with a simulated clock: what `leadrouter simulate` runs.
//!
//! The simulator keeps the live state (rep counters, pool rotations, sticky owners) in memory and
//! calls the same pure [`decide`](crate::routing::decide) the router calls, with the clock set
//! to each lead's receipt time: working hours, out-of-office ranges, daily caps (in each rep's
//! time zone) and rotation behave as they would have. Reps are assumed to close each lead
//! `close_after` after getting it (so open-lead caps free up), and the SLA deadline each
//! assignment would get is computed with the owner's working hours. Nothing is written anywhere.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use chrono::{DateTime, Duration, Utc};
use leadrouter_lead::Lead;
use serde::Serialize;

use crate::config::RoutingConfig;
use crate::decision::{Ineligible, Outcome};
use crate::ports::EmailOwner;
use crate::record::{LeadStatus, PoolId, RepId};
use crate::routing::{self, Snapshot};

/// How simulated reps behave.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Each assigned lead is closed this long after assignment (freeing a slot under the open
    /// cap); `None` keeps every lead open.
    pub close_after: Option<Duration>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            close_after: Some(Duration::days(1)),
        }
    }
}

/// What happened to one simulated lead.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Assignment {
    /// The lead.
    pub lead_id: uuid::Uuid,
    /// Its (simulated) receipt time.
    pub received_at: DateTime<Utc>,
    /// The outcome.
    pub status: LeadStatus,
    /// The owner, if assigned.
    pub owner: Option<RepId>,
    /// The pool it went through or waits in.
    pub pool: Option<PoolId>,
    /// The rule that matched.
    pub rule: String,
    /// The accept (or first-touch) deadline the assignment would get.
    pub due_at: Option<DateTime<Utc>>,
    /// Why it has no owner, if it has none.
    pub reason: Option<String>,
}

/// Fairness of a distribution: max−min spread and the Gini coefficient (0 = perfectly even).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fairness {
    /// Most leads any member got minus fewest.
    pub spread: u64,
    /// Gini coefficient of the members' counts.
    pub gini: f64,
}

impl Fairness {
    /// The fairness of `counts` (one per member, zeros included).
    pub fn of(counts: &[u64]) -> Fairness {
        let spread =
            counts.iter().max().copied().unwrap_or(0) - counts.iter().min().copied().unwrap_or(0);
        Fairness {
            spread,
            gini: gini(counts),
        }
    }
}

/// The Gini coefficient: mean absolute difference over all pairs, divided by twice the mean.
pub fn gini(counts: &[u64]) -> f64 {
    let n = counts.len() as f64;
    let sum: u64 = counts.iter().sum();
    if counts.len() < 2 || sum == 0 {
        return 0.0;
    }
    let mut sorted = counts.to_vec();
    sorted.sort_unstable();
    // Σ (2i − n − 1) x_i over the sorted values, i from 1: O(n log n).
    let weighted: f64 = sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| (2.0 * (i as f64 + 1.0) - n - 1.0) * x as f64)
        .sum();
    weighted / (n * sum as f64)
}

/// The summary of a simulation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Leads replayed.
    pub leads: usize,
    /// Leads per outcome status.
    pub by_status: BTreeMap<String, usize>,
    /// Leads per owner.
    pub by_rep: BTreeMap<RepId, usize>,
    /// Leads per pool.
    pub by_pool: BTreeMap<PoolId, usize>,
    /// Leads per matched rule.
    pub by_rule: BTreeMap<String, usize>,
    /// Leads without an owner, by reason.
    pub unroutable: BTreeMap<String, usize>,
    /// Times a rep was passed over because of a cap, by rep.
    pub caps_hit: BTreeMap<RepId, usize>,
    /// Fairness of each pool's distribution over its members.
    pub fairness: BTreeMap<PoolId, Fairness>,
    /// Time from receipt to the accept deadline: median and 90th percentile, in seconds.
    pub deadline_p50_secs: Option<i64>,
    /// See `deadline_p50_secs`.
    pub deadline_p90_secs: Option<i64>,
}

/// A simulation in progress: feed leads in time order with [`Simulator::route`].
pub struct Simulator<'a> {
    cfg: &'a RoutingConfig,
    opts: Options,
    snap: Snapshot,
    owners: HashMap<String, EmailOwner>,
    closes: BinaryHeap<Reverse<(DateTime<Utc>, RepId)>>,
    report: Report,
    deadlines: Vec<i64>,
}

impl<'a> Simulator<'a> {
    /// A simulation of `cfg` from empty state (every rotation fresh, no open leads).
    pub fn new(cfg: &'a RoutingConfig, opts: Options) -> Simulator<'a> {
        Simulator {
            cfg,
            opts,
            snap: Snapshot::default(),
            owners: HashMap::new(),
            closes: BinaryHeap::new(),
            report: Report::default(),
            deadlines: Vec::new(),
        }
    }

    /// Routes one lead at its `received_at`.
    pub fn route(&mut self, lead: &Lead) -> Assignment {
        let now = lead.received_at;
        while let Some(Reverse((at, _))) = self.closes.peek() {
            if *at > now {
                break;
            }
            if let Some(Reverse((_, rep))) = self.closes.pop()
                && let Some(state) = self.snap.reps.get_mut(&rep)
            {
                state.open_leads = state.open_leads.saturating_sub(1);
            }
        }
        let keys = contact_keys(lead);
        self.snap.email_owner = keys.iter().find_map(|k| self.owners.get(k).cloned());
        let plan = routing::decide(self.cfg, lead, &self.snap, now);
        self.snap.apply(&plan);
        let r = &mut self.report;
        r.leads += 1;
        *r.by_status
            .entry(plan.status.as_str().to_owned())
            .or_default() += 1;
        *r.by_rule
            .entry(plan.decision.rule.name.clone())
            .or_default() += 1;
        if let Some(pool) = &plan.pool {
            *r.by_pool.entry(pool.clone()).or_default() += 1;
        }
        for c in plan.decision.steps.iter().flat_map(|s| &s.candidates) {
            if c.reasons.iter().any(|x| {
                matches!(
                    x,
                    Ineligible::OverOpenCap { .. } | Ineligible::OverDailyCap { .. }
                )
            }) {
                *r.caps_hit.entry(c.rep.clone()).or_default() += 1;
            }
        }
        let reason = match &plan.decision.outcome {
            Outcome::Unassigned { reason, .. } => Some(reason.clone()),
            _ => plan.reason.clone(),
        };
        let mut due_at = None;
        if let Some(owner) = &plan.owner {
            *r.by_rep.entry(owner.clone()).or_default() += 1;
            if let Some(close) = self.opts.close_after {
                self.closes.push(Reverse((now + close, owner.clone())));
            }
            for k in keys {
                self.owners.insert(
                    k.clone(),
                    EmailOwner {
                        email: k,
                        rep: owner.clone(),
                        lead_id: lead.id,
                        at: now,
                    },
                );
            }
            let sla_pool = plan.pool.as_deref().and_then(|p| self.cfg.pool(p));
            if let (Some(pool), Some(rep)) = (sla_pool, self.cfg.rep(owner)) {
                let within = pool.sla.accept_within.or(pool.sla.first_touch_within);
                if let Some(d) = within {
                    let due = rep.hours.add_working_time(rep.timezone, now, d);
                    self.deadlines.push((due - now).num_seconds());
                    due_at = Some(due);
                }
            }
        } else if plan.status == LeadStatus::Unassigned {
            let why = reason.clone().unwrap_or_default();
            *r.unroutable.entry(why).or_default() += 1;
        }
        Assignment {
            lead_id: lead.id,
            received_at: now,
            status: plan.status,
            owner: plan.owner,
            pool: plan.pool,
            rule: plan.decision.rule.name,
            due_at,
            reason,
        }
    }

    /// The summary, with each pool's fairness over its members.
    pub fn finish(mut self) -> Report {
        for pool in &self.cfg.pools {
            let counts: Vec<u64> = pool
                .members
                .iter()
                .map(|m| {
                    self.snap
                        .pools
                        .get(&pool.id)
                        .and_then(|p| p.members.get(m))
                        .map_or(0, |t| t.assigned)
                })
                .collect();
            if counts.iter().any(|c| *c > 0) {
                self.report
                    .fairness
                    .insert(pool.id.clone(), Fairness::of(&counts));
            }
        }
        self.deadlines.sort_unstable();
        let pct = |p: f64| {
            let n = self.deadlines.len();
            (n > 0).then(|| self.deadlines[((n - 1) as f64 * p).round() as usize])
        };
        self.report.deadline_p50_secs = pct(0.5);
        self.report.deadline_p90_secs = pct(0.9);
        self.report
    }
}

fn contact_keys(lead: &Lead) -> Vec<String> {
    let mut keys: Vec<String> = lead.email.iter().cloned().collect();
    keys.extend(lead.phone.as_deref().map(routing::phone_key));
    keys
}

/// How two configs' assignments of the same leads differ.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Comparison {
    /// Leads compared.
    pub leads: usize,
    /// Leads whose owner differs.
    pub owner_changed: usize,
    /// Leads whose pool differs.
    pub pool_changed: usize,
    /// Leads whose outcome status differs.
    pub status_changed: usize,
    /// The most frequent pool moves (`from → to`), most frequent first.
    pub pool_moves: Vec<(String, usize)>,
    /// The most frequent status moves.
    pub status_moves: Vec<(String, usize)>,
}

impl Comparison {
    /// Adds one lead's pair of assignments.
    pub fn add(&mut self, a: &Assignment, b: &Assignment) {
        self.leads += 1;
        self.owner_changed += usize::from(a.owner != b.owner);
        if a.pool != b.pool {
            self.pool_changed += 1;
            let key = format!(
                "{} → {}",
                a.pool.as_deref().unwrap_or("-"),
                b.pool.as_deref().unwrap_or("-")
            );
            bump(&mut self.pool_moves, key);
        }
        if a.status != b.status {
            self.status_changed += 1;
            bump(
                &mut self.status_moves,
                format!("{} → {}", a.status.as_str(), b.status.as_str()),
            );
        }
    }

    /// Sorts the moves, most frequent first, keeping the top `n`.
    pub fn top(&mut self, n: usize) {
        for moves in [&mut self.pool_moves, &mut self.status_moves] {
            moves.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            moves.truncate(n);
        }
    }
}

fn bump(moves: &mut Vec<(String, usize)>, key: String) {
    match moves.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => moves.push((key, 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gini_textbook_values() {
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        // One member has everything: (n-1)/n.
        assert!((gini(&[0, 0, 0, 12]) - 0.75).abs() < 1e-12);
        // 1, 2, 3, 4: G = 0.25.
        assert!((gini(&[1, 2, 3, 4]) - 0.25).abs() < 1e-12);
        assert_eq!(Fairness::of(&[3, 5, 4]).spread, 2);
    }
}
