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
use crate::state::{MemberTurn, PackedId, PoolState, RepState, RotationUpdate};

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
    let Some((key, turn)) = first else {
        return (Vec::new(), None);
    };
    let (i, last_turn) = (key.index(), key.last_turn());
    let c = check(i);
    if c.eligible {
        return (vec![c], Some(pick(i, last_turn, 1, turn)));
    }
    let mut checked: Vec<(usize, Candidate)> = vec![(i, c)];
    // They were not: order everyone else.
    let mut keys = Vec::with_capacity(pool.members.len());
    rotation_keys(pool, state, |key, _| {
        if key.index() != i {
            keys.push(Reverse(key));
        }
    });
    let mut order = BinaryHeap::from(keys);
    while let Some(Reverse(key)) = order.pop() {
        let i = key.index();
        let c = check(i);
        let eligible = c.eligible;
        checked.push((i, c));
        if eligible {
            let turn = state.members.get(pool.members[i].as_str());
            let p = pick(i, key.last_turn(), checked.len(), turn);
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

/// A member's place in line, smallest first: (owes no make-up turn, last turn, member index).
/// The first two are packed into one word (turns stay far below 2^63), so that ordering two
/// members is usually one compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct RotationKey {
    /// Owes no make-up turn (top bit), then the last turn.
    line: u64,
    /// The member's index in the pool.
    index: usize,
}

impl RotationKey {
    #[inline]
    fn new(owes_none: bool, last_turn: u64, index: usize) -> RotationKey {
        RotationKey {
            line: u64::from(owes_none) << 63 | last_turn.min(u64::MAX >> 1),
            index,
        }
    }

    /// The member's index in the pool.
    fn index(self) -> usize {
        self.index
    }

    /// The pool turn at which the member last got a lead.
    fn last_turn(self) -> u64 {
        self.line & (u64::MAX >> 1)
    }
}

/// Calls `f` with every member's [`RotationKey`], in id order. The pool's id-sorted member
/// order and the rotation's entries are both sorted by rep id, so one merge pass finds every
/// member's turn without a lookup per member. Both sides carry their ids packed ([`PackedId`]:
/// the pool's at load, the rotation's when read), so a step compares integers in two arrays and
/// reads no string. When the entries are exactly the members ([`is_exactly_the_members`]),
/// which is the usual case, the pass pairs them by position instead.
fn rotation_keys<'s>(
    pool: &Pool,
    state: &'s PoolState,
    mut f: impl FnMut(RotationKey, Option<&'s MemberTurn>),
) {
    let entries = state.members.entries();
    if is_exactly_the_members(pool, state) {
        // Entry `j` is the `j`-th member by id.
        for (m, e) in pool.by_id.iter().zip(entries) {
            f(
                RotationKey::new(e.turn.credits == 0, e.turn.last_turn, m.index),
                Some(&e.turn),
            );
        }
        return;
    }
    let mut next = 0;
    for m in &pool.by_id {
        let i = m.index;
        let id = || pool.members.get(i).map_or("", String::as_str);
        let mut turn = entries
            .get(next)
            .filter(|e| m.id.same(&e.packed, || e.id == id()));
        if turn.is_none() {
            // Rotation entries of former members, or this member is new to the rotation.
            let id = id();
            while entries.get(next).is_some_and(|e| e.id.as_str() < id) {
                next += 1;
            }
            turn = entries.get(next).filter(|e| e.id == id);
        }
        match turn {
            Some(e) => {
                next += 1;
                f(
                    RotationKey::new(e.turn.credits == 0, e.turn.last_turn, i),
                    Some(&e.turn),
                );
            }
            None => f(RotationKey::new(true, 0, i), None),
        }
    }
}

/// Whether the rotation's ids are exactly the pool's members, in id order: known from an
/// earlier call over the same rotation, or found by comparing the packed ids pairwise (a tight
/// loop that stops at the first difference) and then recorded in the rotation, so that the
/// other leads of a router's batch skip the comparison.
fn is_exactly_the_members(pool: &Pool, state: &PoolState) -> bool {
    if state.members.has_ids_of(pool.ids_token) {
        return true;
    }
    let entries = state.members.entries();
    let same = entries.len() == pool.by_id.len()
        && pool.by_id.iter().zip(entries).all(|(m, e)| {
            m.id.same(&e.packed, || {
                pool.members.get(m.index).is_some_and(|id| *id == e.id)
            })
        });
    if same {
        state.members.set_ids_of(pool.ids_token);
    }
    same
}

/// A pool member in id order, packed for the merge pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SortedId {
    /// Index into the pool's `members`.
    pub(crate) index: usize,
    /// The member's id, packed.
    id: PackedId,
}

impl SortedId {
    /// Member `index`, whose id is `id`.
    pub(crate) fn new(index: usize, id: &str) -> SortedId {
        SortedId {
            index,
            id: PackedId::new(id),
        }
    }
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
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::{Pick, pick, round_robin_lazy};
    use crate::config::{Format, RoutingConfig};
    use crate::decision::Candidate;
    use crate::state::{MemberTurn, PoolState};

    /// Ids of every length the packed comparison distinguishes: short, exactly 16 bytes, long
    /// ones that share their first and last 8 bytes, and ids that sort between members.
    fn id(n: usize) -> String {
        match n % 4 {
            0 => format!("r{n}"),
            1 => format!("rep-{n:012}"),
            2 => format!("rep-long-id-{n:03}-same-end"),
            _ => format!("m{n:02}"),
        }
    }

    fn config(members: &[String]) -> RoutingConfig {
        let mut src = String::new();
        for m in members {
            src.push_str(&format!("[[reps]]\nid = \"{m}\"\n"));
        }
        let quoted: Vec<String> = members.iter().map(|m| format!("\"{m}\"")).collect();
        src.push_str(&format!(
            "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"default\"\npool = \"p\"\n",
            quoted.join(", ")
        ));
        RoutingConfig::parse(&src, Format::Toml, "lazy.toml").unwrap_or_else(|e| panic!("{e}"))
    }

    /// The lazy round robin's checked members and pick, and the eager one's pick from every
    /// member's candidate entry, over pool `p` of `cfg` (whose members are `members`).
    fn both(
        cfg: &RoutingConfig,
        members: &[String],
        state: &PoolState,
        eligible: impl Fn(usize) -> bool,
    ) -> (Vec<Candidate>, Option<Pick>, Option<Pick>) {
        let pool = cfg.pool("p").unwrap_or_else(|| panic!("pool p"));
        let candidate = |i: usize| Candidate {
            rep: members[i].clone(),
            eligible: eligible(i),
            reasons: Vec::new(),
        };
        let all: Vec<Candidate> = (0..members.len()).map(candidate).collect();
        let eager = pick(cfg, pool, &all, &HashMap::new(), state);
        let (checked, lazy) = round_robin_lazy(pool, state, candidate);
        (checked, lazy, eager)
    }

    proptest! {
        /// The lazy round robin (one merge pass, then only the members it must check) picks
        /// the rep the eager one picks from every member's eligibility, with the same rotation
        /// change, whatever the rotation holds: members missing from it, former members still
        /// in it, equal last turns, owed credits, ids of every length.
        #[test]
        fn lazy_round_robin_picks_as_the_eager_one(
            members in prop::sample::subsequence((0..40usize).collect::<Vec<_>>(), 1..20)
                .prop_shuffle(),
            rotation in prop::collection::btree_map(0..48usize, (0..4u64, 0..2u32), 0..40),
            eligible in prop::collection::vec(any::<bool>(), 20),
        ) {
            let members: Vec<String> = members.into_iter().map(id).collect();
            let cfg = config(&members);
            let mut state = PoolState::new("p");
            state.turn = 4;
            for (n, (last_turn, credits)) in rotation {
                let turn = MemberTurn { last_turn, credits, ..MemberTurn::default() };
                state.members.insert(id(n), turn);
            }
            let (checked, lazy, eager) = both(&cfg, &members, &state, |i| eligible[i]);
            prop_assert_eq!(
                lazy.as_ref().map(|p| (&p.rep, &p.next)),
                eager.as_ref().map(|p| (&p.rep, &p.next))
            );
            // Only the winner is eligible among the members checked.
            prop_assert_eq!(
                checked.iter().filter(|c| c.eligible).count(),
                usize::from(lazy.is_some())
            );
        }

        /// The same over a rotation in service: picks applied one after another (the walks
        /// after the first pair entries with members by position once a walk found them
        /// equal), with former members' entries added and members' entries removed between
        /// picks, which must end that pairing.
        #[test]
        fn lazy_round_robin_stays_with_the_eager_one_as_the_rotation_changes(
            members in prop::sample::subsequence((0..24usize).collect::<Vec<_>>(), 1..12)
                .prop_shuffle(),
            steps in prop::collection::vec((0..4u8, 0..30usize, any::<u16>()), 1..60),
        ) {
            let members: Vec<String> = members.into_iter().map(id).collect();
            let cfg = config(&members);
            let mut state = PoolState::new("p");
            for (op, n, eligible) in steps {
                match op {
                    0 => {
                        state.members.insert(id(n), MemberTurn::default());
                    }
                    1 => {
                        state.members.remove(&id(n));
                    }
                    _ => {
                        let (_, lazy, eager) =
                            both(&cfg, &members, &state, |i| eligible >> (i % 16) & 1 == 1);
                        prop_assert_eq!(
                            lazy.as_ref().map(|p| (&p.rep, &p.next)),
                            eager.as_ref().map(|p| (&p.rep, &p.next))
                        );
                        if let Some(p) = lazy {
                            state.apply(&p.next);
                        }
                    }
                }
            }
        }
    }

    /// A walk that finds the rotation to be exactly the pool's members records it; adding a
    /// former member's entry or removing a member's ends it, and so does another pool config.
    #[test]
    fn a_walk_records_when_the_rotation_is_exactly_the_members() {
        let members: Vec<String> = (0..5).map(id).collect();
        let cfg = config(&members);
        let pool = cfg.pool("p").unwrap_or_else(|| panic!("pool p"));
        let eligible = |i: usize| Candidate {
            rep: members[i].clone(),
            eligible: true,
            reasons: Vec::new(),
        };
        let mut state = PoolState::new("p");
        for m in &members[..4] {
            state.members.insert(m.clone(), MemberTurn::default());
        }
        round_robin_lazy(pool, &state, eligible);
        assert!(
            !state.members.has_ids_of(pool.ids_token),
            "one member has no entry"
        );
        state
            .members
            .insert(members[4].clone(), MemberTurn::default());
        round_robin_lazy(pool, &state, eligible);
        assert!(
            state.members.has_ids_of(pool.ids_token),
            "every member, in order"
        );
        // A turn changing keeps it; the clone keeps it.
        if let Some(t) = state.members.get_mut(&members[0]) {
            t.last_turn = 9;
        }
        assert!(state.clone().members.has_ids_of(pool.ids_token));
        let other = config(&members);
        let other_pool = other.pool("p").unwrap_or_else(|| panic!("pool p"));
        assert!(
            !state.members.has_ids_of(other_pool.ids_token),
            "another config"
        );
        state.members.insert(id(30), MemberTurn::default());
        assert!(
            !state.members.has_ids_of(pool.ids_token),
            "a former member's entry"
        );
        round_robin_lazy(pool, &state, eligible);
        assert!(
            !state.members.has_ids_of(pool.ids_token),
            "a former member's entry"
        );
        state.members.remove(&id(30));
        round_robin_lazy(pool, &state, eligible);
        assert!(state.members.has_ids_of(pool.ids_token));
        state.members.remove(&members[2]);
        assert!(
            !state.members.has_ids_of(pool.ids_token),
            "a member's entry removed"
        );
    }
}
