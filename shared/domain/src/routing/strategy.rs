//! The pool strategies: given the pool's members, pick one and say how the rotation changes.
//!
//! Pure functions over [`PoolState`]; the caller writes the new state back with a version
//! condition so concurrent routers never pick from a stale rotation.
//!
//! Round robin (without make-up credits), the default strategy, is evaluated lazily: members
//! are taken in rotation order and only until the first eligible one, so a pool of 2,000 reps
//! costs one eligibility check per lead when its next rep is free. Weighted, least-loaded and
//! credit-keeping round robin need every member's eligibility and evaluate them all.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};

use crate::config::{Makeup, Pool, RoutingConfig, Strategy};
use crate::decision::Candidate;
use crate::record::RepId;
use crate::state::{MemberTurn, PoolState, RepState, RotationUpdate};

/// The result of a pick: the rep, the change to the pool's rotation, and the state used (for
/// audit).
#[derive(Debug, Clone, PartialEq)]
pub struct Pick {
    /// The chosen rep.
    pub rep: RepId,
    /// What the pick changes in the rotation (the store bumps the version).
    pub next: RotationUpdate,
    /// What the strategy looked at.
    pub audit: serde_json::Value,
}

/// The members a pick changes, copied from the rotation on first touch.
struct Changes<'a> {
    base: &'a PoolState,
    changed: BTreeMap<RepId, MemberTurn>,
}

impl<'a> Changes<'a> {
    fn new(base: &'a PoolState) -> Changes<'a> {
        Changes {
            base,
            changed: BTreeMap::new(),
        }
    }

    fn get_mut(&mut self, rep: &str) -> &mut MemberTurn {
        let base = self.base;
        self.changed
            .entry(rep.to_owned())
            .or_insert_with(|| base.members.get(rep).cloned().unwrap_or_default())
    }

    fn get(&self, rep: &str) -> Option<&MemberTurn> {
        self.changed.get(rep).or_else(|| self.base.members.get(rep))
    }

    /// `chosen` gets the next turn; the update for the store.
    fn finish(mut self, chosen: &str) -> RotationUpdate {
        let turn = self.base.turn + 1;
        let m = self.get_mut(chosen);
        m.last_turn = turn;
        m.assigned += 1;
        m.credits = m.credits.saturating_sub(1);
        RotationUpdate {
            pool: self.base.pool.clone(),
            members: self.changed.into_iter().collect(),
        }
    }
}

/// Whether `pool` is picked from lazily (see the module doc).
pub(crate) fn is_lazy(pool: &Pool) -> bool {
    pool.strategy == Strategy::RoundRobin && !matches!(pool.makeup, Makeup::Credit { .. })
}

/// Round robin in rotation order: reps owed make-up turns first, then the least recently
/// assigned, ties by member order. `check` gives a member's candidate entry (by member index);
/// it is called for members in that order until one is eligible. Returns the members checked (in the order
/// checked; every member in member order when nobody was eligible) and the pick.
pub(crate) fn round_robin_lazy(
    pool: &Pool,
    state: &PoolState,
    mut check: impl FnMut(usize) -> Candidate,
) -> (Vec<Candidate>, Option<Pick>) {
    let pick = |i: usize, last_turn: u64, checked: usize, turn: Option<&MemberTurn>| {
        let rep = pool.members[i].clone();
        let audit = serde_json::json!({
            "turn": state.turn,
            "last_turn": last_turn,
            "checked": checked,
        });
        let next = only_chosen(state, &rep, turn);
        Pick { rep, next, audit }
    };
    // Usually the rep next in line is free: find them with one scan, without ordering the rest.
    let mut first: Option<(RotationKey, Option<&MemberTurn>)> = None;
    rotation_keys(pool, state, |key, turn| {
        if first.is_none_or(|(f, _)| key < f) {
            first = Some((key, turn));
        }
    });
    let Some(((_, last_turn, i), turn)) = first else {
        return (Vec::new(), None);
    };
    let c = check(i);
    if c.eligible {
        return (vec![c], Some(pick(i, last_turn, 1, turn)));
    }
    let mut checked: Vec<(usize, Candidate)> = vec![(i, c)];
    // They were not: order everyone else.
    let mut keys = Vec::with_capacity(pool.members.len());
    rotation_keys(pool, state, |key, _| {
        if key.2 != i {
            keys.push(Reverse(key));
        }
    });
    let mut order = BinaryHeap::from(keys);
    while let Some(Reverse((_, last_turn, i))) = order.pop() {
        let c = check(i);
        let eligible = c.eligible;
        checked.push((i, c));
        if eligible {
            let turn = state.members.get(pool.members[i].as_str());
            let p = pick(i, last_turn, checked.len(), turn);
            return (checked.into_iter().map(|(_, c)| c).collect(), Some(p));
        }
    }
    checked.sort_by_key(|(i, _)| *i);
    (checked.into_iter().map(|(_, c)| c).collect(), None)
}

/// The rotation update of a pick that changes nobody but the chosen member (`turn`, its entry
/// before the pick): what `Changes::new(state).finish(rep)` gives, without the B-tree.
fn only_chosen(state: &PoolState, rep: &str, turn: Option<&MemberTurn>) -> RotationUpdate {
    let mut m = turn.cloned().unwrap_or_default();
    m.last_turn = state.turn + 1;
    m.assigned += 1;
    m.credits = m.credits.saturating_sub(1);
    RotationUpdate {
        pool: state.pool.clone(),
        members: vec![(rep.to_owned(), m)],
    }
}

/// A member's place in line: (owes no make-up turn, last turn, member index), smallest first.
type RotationKey = (bool, u64, usize);

/// Calls `f` with every member's rotation key `(owes no make-up turn, last turn, member index)`,
/// smallest first in line. The pool's id-sorted member order and the rotation's BTreeMap are
/// both sorted by rep id, so one merge pass finds every member's turn without a lookup per
/// member. The pool side is packed at load (`SortedId`: length and words of each id, in one
/// array), so a step loads only the rotation's key: comparing two heap strings per member was
/// most of the pass's cost at 200 members.
fn rotation_keys<'s>(
    pool: &Pool,
    state: &'s PoolState,
    mut f: impl FnMut(RotationKey, Option<&'s MemberTurn>),
) {
    let mut turns = state.members.iter().peekable();
    for m in &pool.by_id {
        let i = m.index;
        let mut turn = turns.next_if(|(k, _)| m.is(pool, k));
        if turn.is_none() {
            // Rotation entries of former members, or this member is new to the rotation.
            let id = pool.members.get(i).map_or("", String::as_str);
            while turns.next_if(|(k, _)| k.as_str() < id).is_some() {}
            turn = turns.next_if(|(k, _)| k.as_str() == id);
        }
        match turn {
            Some((_, t)) => f((t.credits == 0, t.last_turn, i), Some(t)),
            None => f((true, 0, i), None),
        }
    }
}

/// A pool member in id order, packed for the merge pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortedId {
    /// Index into the pool's `members`.
    pub(crate) index: usize,
    /// The id's length in bytes.
    len: usize,
    /// The id as two words ([`id_words`]); `None` for ids longer than 16 bytes.
    words: Option<(u64, u64)>,
}

impl SortedId {
    /// Member `index`, whose id is `id`.
    pub(crate) fn new(index: usize, id: &str) -> SortedId {
        SortedId {
            index,
            len: id.len(),
            words: id_words(id.as_bytes()),
        }
    }

    /// Whether `key` is this member's id: a length test and two word compares for ids up to 16
    /// bytes, without touching the member's own string.
    #[inline]
    fn is(&self, pool: &Pool, key: &str) -> bool {
        if key.len() != self.len {
            return false;
        }
        match self.words {
            Some(w) => id_words(key.as_bytes()) == Some(w),
            None => pool.members.get(self.index).is_some_and(|m| m == key),
        }
    }
}

/// Two words that identify a string of up to 16 bytes among strings of its length (every byte
/// is in one of them); `None` for longer strings. Overlapping loads, not a byte loop or a
/// `memcmp` call: `r17` is a few instructions.
#[inline]
fn id_words(b: &[u8]) -> Option<(u64, u64)> {
    let n = b.len();
    Some(match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16,
            0,
        ),
        4..=7 => (u64::from(word4(b, 0)), u64::from(word4(b, n - 4))),
        8..=16 => (word8(b, 0), word8(b, n - 8)),
        _ => return None,
    })
}

/// The 4 bytes of `s` at `at` as a word (the caller checked the length).
#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u32::from_ne_bytes(w)
}

/// The 8 bytes of `s` at `at` as a word (the caller checked the length).
#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Picks a member among `candidates` (every member, in member order) with the pool's strategy.
/// `None` when no candidate is eligible or the pool is a claim pool.
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
    let mut changes = Changes::new(state);
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
                changes.get_mut(&c.rep).current_weight += weight(&c.rep);
            }
            let (_, c) = eligible.iter().max_by_key(|(i, c)| {
                let cw = changes.get(&c.rep).map_or(0, |m| m.current_weight);
                (cw, Reverse(*i))
            })?;
            let audit = serde_json::json!({
                "turn": state.turn,
                "current_weight": eligible.iter().map(|(_, c)| (c.rep.clone(), changes.get(&c.rep).map_or(0, |m| m.current_weight))).collect::<HashMap<_, _>>(),
                "total_weight": total,
            });
            changes.get_mut(&c.rep).current_weight -= total;
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
    if let Makeup::Credit { max } = pool.makeup {
        credit_missed_turns(&mut changes, candidates, state, &chosen, max);
    }
    Some(Pick {
        next: changes.finish(&chosen),
        rep: chosen,
        audit,
    })
}

/// A member skipped only for capacity, who was next in line (assigned less recently than the
/// rep who got the turn), missed a turn: credit it (up to `max`) and move them to the back of
/// the line, so the next credit needs another full round.
fn credit_missed_turns(
    changes: &mut Changes<'_>,
    candidates: &[Candidate],
    before: &PoolState,
    chosen: &str,
    max: u32,
) {
    let chosen_turn = before.members.get(chosen).map_or(0, |m| m.last_turn);
    let turn = before.turn + 1;
    for c in candidates {
        let busy_only = !c.eligible && c.reasons.iter().all(|r| r.is_capacity());
        if !busy_only || c.rep == chosen {
            continue;
        }
        if changes.get(&c.rep).map_or(0, |m| m.last_turn) <= chosen_turn {
            let m = changes.get_mut(&c.rep);
            m.credits = (m.credits + 1).min(max);
            m.last_turn = turn;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::id_words;

    /// What the merge pass's comparison says about two ids.
    fn same(a: &str, b: &str) -> bool {
        a.len() == b.len()
            && match id_words(a.as_bytes()) {
                Some(w) => id_words(b.as_bytes()) == Some(w),
                None => a == b,
            }
    }

    #[test]
    fn packed_ids_compare_like_strings_at_every_length() {
        let ids = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abcde",
            "abcdefg",
            "abcdefgh",
            "abcdefghi",
            "abcdefghijklmnop",
            "abcdefghijklmnopq",
            "r1",
            "r2",
            "r10",
            "r199",
            "r200",
            "rep-0001-long-id-x",
            "rep-0001-long-id-y",
            "é",
            "ü1",
        ];
        for a in ids {
            for b in ids {
                assert_eq!(same(a, b), a == b, "{a:?} vs {b:?}");
            }
            // Same length, one byte different at each position.
            for i in 0..a.len() {
                let mut bytes = a.as_bytes().to_vec();
                bytes[i] ^= 1;
                if let Ok(b) = std::str::from_utf8(&bytes) {
                    assert!(!same(a, b), "{a:?} vs {b:?}");
                }
            }
        }
    }
}
