//! Reporting: counters and speed-to-lead histograms kept in hourly buckets, written with every
//! lead write, so `GET /v1/stats` sums a few buckets instead of scanning leads.
//!
//! Every lead write's event ([`crate::events`]) becomes one [`StatsUpdate`]: additions to cells
//! keyed by (hour of the event, group kind, group value, name). Names are counters (`received`,
//! `assigned`, `accepted`, `sla_breached`, ...; see [`update_of`]) or histogram buckets
//! (`to_assign:17`). A [`StatsStore`] adds them up, once per event id, and sums them over a range
//! of hours. Histograms use fixed log buckets ([`bucket_of`]): 8 per doubling, so any percentile
//! read from them is within 9.05 % (2^(1/8) − 1) of the exact one (1 s absolute below 1 s), and
//! buckets of different hours merge by addition.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::config::RoutingConfig;
use crate::ports::StoreError;
use crate::record::LeadRecord;

/// What the stats are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupBy {
    /// Everything together (the totals).
    All,
    /// The lead's owner after the write.
    Rep,
    /// The lead's pool.
    Pool,
    /// The lead's source.
    Source,
    /// The rule that routed the lead.
    Rule,
    /// Pool and owner together (for distribution fairness per pool).
    PoolRep,
}

impl GroupBy {
    /// Every kind, in storage order.
    pub const ALL: [GroupBy; 6] = [
        GroupBy::All,
        GroupBy::Rep,
        GroupBy::Pool,
        GroupBy::Source,
        GroupBy::Rule,
        GroupBy::PoolRep,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::All => "all",
            GroupBy::Rep => "rep",
            GroupBy::Pool => "pool",
            GroupBy::Source => "source",
            GroupBy::Rule => "rule",
            GroupBy::PoolRep => "pool_rep",
        }
    }

    /// Parses a stored name or a `group_by` parameter.
    pub fn parse(s: &str) -> Option<GroupBy> {
        GroupBy::ALL.into_iter().find(|g| g.as_str() == s)
    }
}

/// Separates pool and rep in a [`GroupBy::PoolRep`] value.
pub const POOL_REP_SEP: char = '\u{1f}';

/// The speed-to-lead measures.
pub const SPEEDS: [&str; 3] = ["to_assign", "to_accept", "to_first_touch"];

/// One addition: `n` to the cell (`kind`, `value`, `name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cell {
    /// Group kind.
    pub kind: GroupBy,
    /// Group value (`""` for [`GroupBy::All`]).
    pub value: String,
    /// Counter name, or `{speed}:{bucket}` for a histogram bucket.
    pub name: String,
    /// How much.
    pub n: u64,
}

/// The additions one event makes, all in the hour of the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsUpdate {
    /// The event id (`{lead_id}:{version}`): an update is applied once per id.
    pub event_id: String,
    /// Hours since the Unix epoch (UTC) of the event.
    pub hour: i64,
    /// The additions.
    pub cells: Vec<Cell>,
}

/// Where the buckets live. Adapters: SQLite (`leadrouter-embedded`), DynamoDB (`leadrouter-aws`).
#[async_trait]
pub trait StatsStore: Send + Sync {
    /// Applies `update` unless an update with the same event id was applied already (within
    /// the last [`DEDUP_HOURS`]); returns whether it was applied.
    async fn record(&self, update: &StatsUpdate) -> Result<bool, StoreError>;

    /// Applies each of `updates` once per event id, like [`StatsStore::record`] on each in turn
    /// (duplicates within `updates` count once); returns how many were applied. Adapters
    /// override it to merge a routing batch's updates into fewer writes.
    async fn record_all(&self, updates: &[StatsUpdate]) -> Result<usize, StoreError> {
        let mut applied = 0;
        for u in updates {
            applied += usize::from(self.record(u).await?);
        }
        Ok(applied)
    }

    /// The cells of group kinds `kinds` summed over the hours `[from_hour, to_hour)`.
    async fn read(
        &self,
        from_hour: i64,
        to_hour: i64,
        kinds: &[GroupBy],
    ) -> Result<Vec<Cell>, StoreError>;
}

/// How long applied event ids are remembered for de-duplication (a week: redeliveries come
/// within minutes to hours).
pub const DEDUP_HOURS: i64 = 24 * 7;

/// Hours since the epoch of `at`.
pub fn hour_of(at: DateTime<Utc>) -> i64 {
    at.timestamp().div_euclid(3600)
}

/// Histogram buckets per doubling.
const PER_DOUBLING: f64 = 8.0;
/// The last bucket (2^50 s: far beyond any lead).
const MAX_BUCKET: u32 = 400;

/// The histogram bucket of a duration in seconds: 0 below 1 s, then 8 per doubling.
pub fn bucket_of(seconds: f64) -> u32 {
    if seconds.is_nan() || seconds < 1.0 {
        return 0;
    }
    let b = 1.0 + (seconds.log2() * PER_DOUBLING).floor();
    (b as u32).min(MAX_BUCKET)
}

/// The range `[lo, hi)` in seconds of bucket `b`.
pub fn bucket_bounds(b: u32) -> (f64, f64) {
    if b == 0 {
        return (0.0, 1.0);
    }
    let lo = ((b - 1) as f64 / PER_DOUBLING).exp2();
    let hi = (b as f64 / PER_DOUBLING).exp2();
    (lo, hi)
}

/// A mergeable log-bucketed histogram of durations (seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Count per bucket.
    pub buckets: BTreeMap<u32, u64>,
}

impl Histogram {
    /// Adds one duration.
    pub fn add(&mut self, seconds: f64) {
        *self.buckets.entry(bucket_of(seconds)).or_default() += 1;
    }

    /// How many durations.
    pub fn count(&self) -> u64 {
        self.buckets.values().sum()
    }

    /// The `q` quantile (0..=1, nearest rank), interpolated inside its bucket; `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<f64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut below = 0u64;
        for (&b, &c) in &self.buckets {
            if below + c >= rank {
                let (lo, hi) = bucket_bounds(b);
                let within = (rank - below) as f64 - 0.5;
                return Some(lo + (hi - lo) * within / c as f64);
            }
            below += c;
        }
        None
    }
}

fn secs(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    ((to - from).num_milliseconds() as f64 / 1000.0).max(0.0)
}

/// The stats update of the latest write of `rec` (its last history line), or `None` for a
/// record without history or only just received (not yet routed).
///
/// Counters, each in the groups all / rep (owner after the write) / pool / source / rule:
/// - `received`: the lead's routing decision (its first write after `received`);
/// - the history event's own name: `assigned`, `awaiting_claim`, `unassigned`, `nurture`,
///   `spam`, `rejected`, `claimed`, `accepted`, `contacted`, `converted`, `lost`,
///   `sla_breached`, `reassigned`, `escalated`, `declined`, `released`, ...;
/// - `owned` (also per pool and rep): the write gave the lead a new owner.
///
/// Speeds: `to_assign` (received → first owner), `to_accept` (assigned → accepted) and
/// `to_first_touch` (received → first contact).
pub fn update_of(rec: &LeadRecord) -> Option<StatsUpdate> {
    let last = rec.history.last()?;
    let earlier = &rec.history[..rec.history.len() - 1];
    let e = last.event.as_str();
    let mut names: Vec<String> = Vec::new();
    // The routing decision is the write that counts a lead as received (a lead is stored as
    // `received` first, maybe in the same write).
    if e == "received" {
        return None;
    }
    if earlier.iter().all(|h| h.event == "received") {
        names.push("received".into());
    }
    names.push(e.to_owned());
    let owner_changed = rec.owner.is_some() && is_owner_change(e);
    if owner_changed {
        names.push("owned".into());
    }
    let first_owner = owner_changed
        && !earlier
            .iter()
            .any(|h| h.rep.is_some() && is_owner_change(&h.event));
    if first_owner {
        let s = secs(rec.lead.received_at, last.at);
        names.push(format!("to_assign:{}", bucket_of(s)));
    }
    if e == "accepted"
        && let Some(assigned) = rec.assigned_at
    {
        names.push(format!("to_accept:{}", bucket_of(secs(assigned, last.at))));
    }
    if e == "contacted" && !earlier.iter().any(|h| h.event == "contacted") {
        let s = secs(rec.lead.received_at, last.at);
        names.push(format!("to_first_touch:{}", bucket_of(s)));
    }

    let mut groups: Vec<(GroupBy, String)> = vec![
        (GroupBy::All, String::new()),
        (GroupBy::Source, rec.lead.source.clone()),
    ];
    if let Some(owner) = &rec.owner {
        groups.push((GroupBy::Rep, owner.clone()));
    }
    if let Some(pool) = &rec.pool {
        groups.push((GroupBy::Pool, pool.clone()));
    }
    if let Some(d) = &rec.decision {
        groups.push((GroupBy::Rule, d.rule.name.clone()));
    }
    let mut cells = Vec::new();
    for (kind, value) in &groups {
        for name in &names {
            cells.push(Cell {
                kind: *kind,
                value: value.clone(),
                name: name.clone(),
                n: 1,
            });
        }
    }
    if owner_changed && let (Some(pool), Some(owner)) = (&rec.pool, &rec.owner) {
        cells.push(Cell {
            kind: GroupBy::PoolRep,
            value: format!("{pool}{POOL_REP_SEP}{owner}"),
            name: "owned".into(),
            n: 1,
        });
    }
    Some(StatsUpdate {
        event_id: format!("{}:{}", rec.lead.id, rec.version),
        hour: hour_of(last.at),
        cells,
    })
}

/// History events that hand the lead to an owner.
fn is_owner_change(event: &str) -> bool {
    matches!(event, "assigned" | "claimed" | "reassigned" | "escalated")
}

/// Count, p50 and p90 of one speed-to-lead measure, in seconds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Speed {
    /// How many leads were measured.
    pub count: u64,
    /// Median, seconds (within 9.05 %).
    pub p50_seconds: Option<f64>,
    /// 90th percentile, seconds (within 9.05 %).
    pub p90_seconds: Option<f64>,
}

/// The stats of one group.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupStats {
    /// The group's value (rep id, pool id, source, rule name; `all` for the totals).
    pub key: String,
    /// Counters by name (see [`update_of`]).
    pub counts: BTreeMap<String, u64>,
    /// `converted` / `received`, when anything was received.
    pub conversion_rate: Option<f64>,
    /// Speed to lead: `to_assign`, `to_accept`, `to_first_touch`.
    pub speed_to_lead: BTreeMap<String, Speed>,
}

/// How evenly a pool's leads went to its members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolFairness {
    /// The pool.
    pub pool: String,
    /// Leads handed to each member (config members with none included).
    pub per_rep: BTreeMap<String, u64>,
    /// Most minus fewest.
    pub spread: u64,
    /// Gini coefficient (0 = perfectly even).
    pub gini: f64,
}

/// What `GET /v1/stats` answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatsReport {
    /// Start of the range (whole hour, inclusive).
    pub from: DateTime<Utc>,
    /// End of the range (whole hour, exclusive).
    pub to: DateTime<Utc>,
    /// The grouping asked for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<&'static str>,
    /// Everything in the range.
    pub totals: GroupStats,
    /// One entry per group value, when grouped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupStats>,
    /// Per pool of the config: leads handed to each member, spread and Gini.
    pub fairness: Vec<PoolFairness>,
}

fn group_stats(key: String, cells: &BTreeMap<String, u64>) -> GroupStats {
    let mut counts = BTreeMap::new();
    let mut hists: BTreeMap<&str, Histogram> =
        SPEEDS.iter().map(|s| (*s, Histogram::default())).collect();
    for (name, &n) in cells {
        match name.split_once(':') {
            Some((speed, b)) => {
                if let (Some(h), Ok(b)) = (hists.get_mut(speed), b.parse::<u32>()) {
                    *h.buckets.entry(b).or_default() += n;
                }
            }
            None => {
                counts.insert(name.clone(), n);
            }
        }
    }
    let received = counts.get("received").copied().unwrap_or(0);
    let converted = counts.get("converted").copied().unwrap_or(0);
    let speed_to_lead = hists
        .into_iter()
        .map(|(k, h)| {
            (
                k.to_owned(),
                Speed {
                    count: h.count(),
                    p50_seconds: h.quantile(0.5),
                    p90_seconds: h.quantile(0.9),
                },
            )
        })
        .collect();
    GroupStats {
        key,
        counts,
        conversion_rate: (received > 0).then(|| converted as f64 / received as f64),
        speed_to_lead,
    }
}

/// Reads `[from, to)` (rounded out to whole hours) from `store` and builds the report.
pub async fn report(
    store: &dyn StatsStore,
    config: &RoutingConfig,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    group_by: Option<GroupBy>,
) -> Result<StatsReport, StoreError> {
    let from_hour = hour_of(from);
    let to_hour = hour_of(to) + i64::from(to.timestamp().rem_euclid(3600) != 0 || to == from);
    let mut kinds = vec![GroupBy::All, GroupBy::PoolRep];
    if let Some(g) = group_by.filter(|g| !kinds.contains(g)) {
        kinds.push(g);
    }
    let cells = store.read(from_hour, to_hour, &kinds).await?;
    let mut by_group: BTreeMap<(GroupBy, String), BTreeMap<String, u64>> = BTreeMap::new();
    for c in cells {
        *by_group
            .entry((c.kind, c.value))
            .or_default()
            .entry(c.name)
            .or_default() += c.n;
    }
    let empty = BTreeMap::new();
    let totals = group_stats(
        "all".into(),
        by_group
            .get(&(GroupBy::All, String::new()))
            .unwrap_or(&empty),
    );
    let groups = match group_by {
        Some(g) if g != GroupBy::All => by_group
            .iter()
            .filter(|((k, _), _)| *k == g)
            .map(|((_, v), cells)| group_stats(v.clone(), cells))
            .collect(),
        _ => Vec::new(),
    };
    let mut per_pool: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for pool in &config.pools {
        let members = per_pool.entry(pool.id.clone()).or_default();
        for m in &pool.members {
            members.insert(m.clone(), 0);
        }
    }
    for ((k, v), cells) in &by_group {
        if *k != GroupBy::PoolRep {
            continue;
        }
        if let Some((pool, rep)) = v.split_once(POOL_REP_SEP) {
            let n = cells.get("owned").copied().unwrap_or(0);
            *per_pool
                .entry(pool.to_owned())
                .or_default()
                .entry(rep.to_owned())
                .or_default() += n;
        }
    }
    let fairness = per_pool
        .into_iter()
        .map(|(pool, per_rep)| {
            let counts: Vec<u64> = per_rep.values().copied().collect();
            let spread = counts.iter().max().copied().unwrap_or(0)
                - counts.iter().min().copied().unwrap_or(0);
            PoolFairness {
                pool,
                gini: crate::simulate::gini(&counts),
                spread,
                per_rep,
            }
        })
        .collect();
    let at = |h: i64| DateTime::from_timestamp(h * 3600, 0).unwrap_or_default();
    Ok(StatsReport {
        from: at(from_hour),
        to: at(to_hour),
        group_by: group_by.map(GroupBy::as_str),
        totals,
        groups,
        fairness,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_the_line_without_gaps() {
        for b in 0..200 {
            let (lo, hi) = bucket_bounds(b);
            assert!(lo < hi);
            assert_eq!(bucket_of(lo * (1.0 + 1e-9)), b, "lo of {b}");
            assert_eq!(bucket_of(hi * (1.0 - 1e-9)), b, "hi of {b}");
            assert_eq!(bucket_bounds(b + 1).0, hi, "no gap after {b}");
        }
        assert_eq!(bucket_of(-3.0), 0);
        assert_eq!(bucket_of(f64::NAN), 0);
        assert_eq!(bucket_of(1e300), MAX_BUCKET);
    }

    fn exact(sorted: &[f64], q: f64) -> f64 {
        let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
        sorted[rank - 1]
    }

    #[test]
    fn percentiles_within_the_bucket_error() {
        let max_rel = (1.0f64 / PER_DOUBLING).exp2() - 1.0;
        // A deterministic spread of durations from 0.2 s to ~3 days, several shapes.
        let mut seed = 12345u64;
        for shape in 0..4 {
            let mut v: Vec<f64> = (0..2000)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
                    match shape {
                        0 => 0.2 + u * 600.0,
                        1 => (u * 18.0).exp2(),
                        2 => 30.0 + (u * u) * 86_400.0,
                        _ => 5.0,
                    }
                })
                .collect();
            let mut h = Histogram::default();
            for x in &v {
                h.add(*x);
            }
            let mut a = Histogram::default();
            let mut b = Histogram::default();
            for (i, x) in v.iter().enumerate() {
                if i % 2 == 0 { a.add(*x) } else { b.add(*x) }
            }
            for (k, n) in b.buckets {
                *a.buckets.entry(k).or_default() += n;
            }
            assert_eq!(a, h, "merging by addition");
            v.sort_by(f64::total_cmp);
            for q in [0.5, 0.9, 0.99] {
                let want = exact(&v, q);
                let got = h.quantile(q).expect("non-empty");
                let err = (got - want).abs();
                assert!(
                    err <= want * max_rel || err < 1.0,
                    "shape {shape} q {q}: {got} vs {want}"
                );
            }
        }
        assert_eq!(Histogram::default().quantile(0.5), None);
    }

    #[test]
    fn group_by_names_round_trip() {
        for g in GroupBy::ALL {
            assert_eq!(GroupBy::parse(g.as_str()), Some(g));
        }
        assert_eq!(GroupBy::parse("nope"), None);
    }
}
