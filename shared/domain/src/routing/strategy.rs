//! The pool strategies: given the eligible members, pick one and advance the rotation.
//!
//! Pure functions over [`PoolState`]; the caller writes the new state back with a version
//! condition so concurrent routers never pick from a stale rotation.

use std::collections::HashMap;

use crate::config::{Makeup, Pool, RoutingConfig, Strategy};
use crate::decision::Candidate;
use crate::record::RepId;
use crate::state::{PoolState, RepState};

/// The result of a pick: the rep, the pool's next rotation state, and the state used (for audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The chosen rep.
    pub rep: RepId,
    /// The rotation after this pick (same version as read; the store bumps it).
    pub next: PoolState,
    /// What the strategy looked at.
    pub audit: serde_json::Value,
}

/// Picks a member among `candidates` (in member order) with the pool's strategy. `None` when no
/// candidate is eligible or the pool is a claim pool.
pub fn pick(
    cfg: &RoutingConfig,
    pool: &Pool,
    candidates: &[Candidate],
    reps: &HashMap<RepId, RepState>,
    state: &PoolState,
) -> Option<Pick> {
    let eligible: Vec<(usize, &Candidate)> = candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.eligible)
        .collect();
    if eligible.is_empty() || pool.strategy == Strategy::Claim {
        return None;
    }
    let mut next = state.clone();
    let turn_of = |rep: &str| state.members.get(rep).map_or(0, |m| m.last_turn);
    let (chosen, audit) = match pool.strategy {
        Strategy::RoundRobin => {
            // Reps owed make-up turns go first; among equals, the least recently assigned; ties by
            // member order.
            let owed = |rep: &str| state.members.get(rep).map_or(0, |m| m.credits);
            let (_, c) = eligible
                .iter()
                .min_by_key(|(i, c)| (owed(&c.rep) == 0, turn_of(&c.rep), *i))?;
            let audit = serde_json::json!({
                "turn": state.turn,
                "last_turn": eligible.iter().map(|(_, c)| (c.rep.clone(), turn_of(&c.rep))).collect::<HashMap<_, _>>(),
            });
            (c.rep.clone(), audit)
        }
        Strategy::Weighted => {
            // Smooth weighted round robin (nginx): every eligible member gains its weight, the
            // highest current weight wins and pays back the total.
            let weight = |rep: &str| i64::from(cfg.rep(rep).map_or(1, |r| r.weight));
            let total: i64 = eligible.iter().map(|(_, c)| weight(&c.rep)).sum();
            for (_, c) in &eligible {
                next.members
                    .entry(c.rep.clone())
                    .or_default()
                    .current_weight += weight(&c.rep);
            }
            let cw = |rep: &str| next.members.get(rep).map_or(0, |m| m.current_weight);
            let (_, c) = eligible
                .iter()
                .max_by_key(|(i, c)| (cw(&c.rep), std::cmp::Reverse(*i)))?;
            let audit = serde_json::json!({
                "turn": state.turn,
                "current_weight": eligible.iter().map(|(_, c)| (c.rep.clone(), cw(&c.rep))).collect::<HashMap<_, _>>(),
                "total_weight": total,
            });
            if let Some(m) = next.members.get_mut(&c.rep) {
                m.current_weight -= total;
            }
            (c.rep.clone(), audit)
        }
        Strategy::LeastLoaded => {
            let open = |rep: &str| reps.get(rep).map_or(0, |s| s.open_leads);
            let (_, c) = eligible
                .iter()
                .min_by_key(|(i, c)| (open(&c.rep), turn_of(&c.rep), *i))?;
            let audit = serde_json::json!({
                "open_leads": eligible.iter().map(|(_, c)| (c.rep.clone(), open(&c.rep))).collect::<HashMap<_, _>>(),
            });
            (c.rep.clone(), audit)
        }
        Strategy::Claim => return None,
    };
    next.turn += 1;
    let turn = next.turn;
    let m = next.members.entry(chosen.clone()).or_default();
    m.last_turn = turn;
    m.assigned += 1;
    m.credits = m.credits.saturating_sub(1);
    if let Makeup::Credit { max } = pool.makeup {
        credit_missed_turns(&mut next, candidates, state, &chosen, max);
    }
    Some(Pick {
        rep: chosen,
        next,
        audit,
    })
}

/// A member skipped only for capacity, who was next in line (assigned less recently than the
/// rep who got the turn), missed a turn: credit it (up to `max`) and move them to the back of
/// the line, so the next credit needs another full round.
fn credit_missed_turns(
    next: &mut PoolState,
    candidates: &[Candidate],
    before: &PoolState,
    chosen: &str,
    max: u32,
) {
    let chosen_turn = before.members.get(chosen).map_or(0, |m| m.last_turn);
    let turn = next.turn;
    for c in candidates {
        let busy_only = !c.eligible && c.reasons.iter().all(|r| r.is_capacity());
        if !busy_only || c.rep == chosen {
            continue;
        }
        let m = next.members.entry(c.rep.clone()).or_default();
        if m.last_turn <= chosen_turn {
            m.credits = (m.credits + 1).min(max);
            m.last_turn = turn;
        }
    }
}
