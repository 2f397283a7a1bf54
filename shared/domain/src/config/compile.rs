//! Validation: turns the file as written into a [`RoutingConfig`], collecting every problem.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use regex::RegexBuilder;

use super::locate::{self, Path, Seg};
use super::schema::*;
use super::*;
use crate::routing::strategy::SortedId;
use crate::rules::{Condition, Field, Scalar, field_names};

/// Collects problems with their paths; lines are resolved at the end.
struct Problems {
    list: Vec<(Path, String, Option<String>)>,
}

impl Problems {
    fn push(&mut self, path: &Path, message: impl Into<String>, hint: Option<&str>) {
        self.list
            .push((path.clone(), message.into(), hint.map(str::to_owned)));
    }
}

fn root(key: &str) -> Path {
    Path(vec![Seg::Key(key.to_owned())])
}

pub(super) fn parse(src: &str, format: Format, file: &str) -> Result<RoutingConfig, ConfigError> {
    let raw: RawConfig = match format {
        Format::Toml => toml::from_str(src).map_err(|e| {
            let (line, column) = match e.span() {
                Some(span) => {
                    let (l, c) = locate::line_col(src, span.start);
                    (Some(l), Some(c))
                }
                None => (None, None),
            };
            single(file, line, column, e.message().trim().to_owned())
        })?,
        Format::Json => serde_json::from_str(src)
            .map_err(|e| single(file, Some(e.line()), Some(e.column()), e.to_string()))?,
    };
    let mut problems = Problems { list: Vec::new() };
    let config = compile(raw, src, &mut problems);
    if problems.list.is_empty() {
        return Ok(config);
    }
    let mut out: Vec<Problem> = problems
        .list
        .into_iter()
        .map(|(path, message, hint)| {
            let offset = match format {
                Format::Toml => locate::locate_toml(src, &path),
                Format::Json => locate::locate_json(src, &path),
            };
            let (line, column) = offset.map(|o| locate::line_col(src, o)).unzip();
            Problem {
                path: path.to_string(),
                line,
                column,
                message,
                hint,
            }
        })
        .collect();
    out.sort_by_key(|p| p.line.unwrap_or(usize::MAX));
    Err(ConfigError {
        file: file.to_owned(),
        problems: out,
    })
}

fn single(file: &str, line: Option<usize>, column: Option<usize>, message: String) -> ConfigError {
    let hint = message
        .contains("unknown field")
        .then(|| "check the spelling against docs/configuration.md".to_owned());
    ConfigError {
        file: file.to_owned(),
        problems: vec![Problem {
            path: String::new(),
            line,
            column,
            message,
            hint,
        }],
    }
}

/// FNV-1a: a stable fingerprint (std's hasher may change between Rust releases).
fn fingerprint(src: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in src.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

fn tz(name: &str, path: &Path, p: &mut Problems) -> Option<Tz> {
    match name.parse::<Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            p.push(
                path,
                format!("`{name}` is not a time zone"),
                Some("use an IANA name such as `Europe/Berlin` or `America/New_York`"),
            );
            None
        }
    }
}

fn compile(raw: RawConfig, src: &str, p: &mut Problems) -> RoutingConfig {
    let settings_tz = match &raw.settings.timezone {
        Some(name) => tz(name, &root("settings").key("timezone"), p).unwrap_or(Tz::UTC),
        None => Tz::UTC,
    };
    let settings = Settings {
        timezone: settings_tz,
        sticky_days: raw.settings.sticky_days.unwrap_or(90),
        account_ownership: raw.settings.account_ownership.unwrap_or(true),
    };

    // Reps.
    let mut reps = Vec::new();
    let mut rep_index = HashMap::new();
    for (i, r) in raw.reps.into_iter().enumerate() {
        let path = root("reps").index(i);
        if let Some(rep) = compile_rep(r, &path, settings_tz, p) {
            if rep_index.contains_key(&rep.id) {
                p.push(
                    &path.key("id"),
                    format!("rep `{}` is declared twice", rep.id),
                    None,
                );
                continue;
            }
            rep_index.insert(rep.id.clone(), reps.len());
            reps.push(rep);
        }
    }

    // Pools.
    let mut pools = Vec::new();
    let mut pool_index = HashMap::new();
    let mut pool_paths = Vec::new();
    let raw_ids: HashSet<String> = raw.pools.iter().map(|p| p.id.clone()).collect();
    for (i, rp) in raw.pools.into_iter().enumerate() {
        let path = root("pools").index(i);
        if let Some(pool) = compile_pool(rp, &path, &rep_index, &raw_ids, p) {
            if pool_index.contains_key(&pool.id) {
                p.push(
                    &path.key("id"),
                    format!("pool `{}` is declared twice", pool.id),
                    None,
                );
                continue;
            }
            pool_index.insert(pool.id.clone(), pools.len());
            pools.push(pool);
            pool_paths.push(path);
        }
    }
    check_cycles(
        &pools,
        &pool_index,
        &pool_paths,
        "fallback",
        |pl| pl.fallback.as_ref(),
        p,
    );
    check_cycles(
        &pools,
        &pool_index,
        &pool_paths,
        "escalate",
        |pl| pl.sla.escalate.as_ref(),
        p,
    );
    for (i, rep) in reps.iter().enumerate() {
        if !pools.iter().any(|pl| pl.members.contains(&rep.id)) {
            p.push(
                &root("reps").index(i).key("id"),
                format!("rep `{}` is in no pool", rep.id),
                Some("add the rep to a pool's `members`, or remove the rep"),
            );
        }
    }

    let accounts = compile_accounts(raw.accounts, &rep_index, p);

    // Rules.
    let mut rules = Vec::new();
    let mut names = HashSet::new();
    let n_rules = raw.rules.len();
    if n_rules == 0 {
        p.push(
            &Path::default(),
            "no rules: a default rule is required",
            Some("end with a rule that has no `when`, e.g. [[rules]] name = \"default\" pool = \"...\""),
        );
    }
    for (i, rr) in raw.rules.into_iter().enumerate() {
        let path = root("rules").index(i);
        if !names.insert(rr.name.clone()) {
            p.push(
                &path.key("name"),
                format!("rule name `{}` is used twice", rr.name),
                None,
            );
        }
        let is_last = i + 1 == n_rules;
        if rr.when.is_none() && !is_last {
            p.push(
                &path,
                format!("rule `{}` has no `when` but is not the last rule", rr.name),
                Some("a rule without `when` matches every lead, so the rules after it could never match; move it to the end"),
            );
        }
        if rr.when.is_some() && is_last {
            p.push(
                &path,
                "the last rule must be the default rule (no `when`)",
                Some("add a final rule without `when` so that every lead has somewhere to go"),
            );
        }
        if let Some(rule) = compile_rule(rr, &path, &rep_index, &pool_index, p) {
            rules.push(rule);
        }
    }

    let intake = compile_intake(raw.intake, p);
    let mut sources = std::collections::BTreeMap::new();
    for (name, rs) in raw.sources {
        if let Some(source) = compile_source(&name, rs, p) {
            sources.insert(name, source);
        }
    }

    let rule_needs: Vec<u32> = rules
        .iter()
        .map(|r| r.when.as_ref().map_or(0, Condition::needs))
        .collect();
    let rule_fields = rule_needs.iter().fold(0, |m, n| m | n);
    RoutingConfig {
        version: fingerprint(src),
        rule_needs,
        rule_fields,
        intake,
        sources,
        settings,
        reps,
        pools,
        accounts,
        rules,
        rep_index,
        pool_index,
    }
}

fn compile_rep(r: RawRep, path: &Path, default_tz: Tz, p: &mut Problems) -> Option<Rep> {
    if r.id.trim().is_empty() {
        p.push(&path.key("id"), "rep id is empty", None);
        return None;
    }
    let timezone = match &r.timezone {
        Some(name) => tz(name, &path.key("timezone"), p).unwrap_or(default_tz),
        None => default_tz,
    };
    let hours = match WorkingHours::parse(&r.working_hours) {
        Ok(h) => h,
        Err(msg) => {
            p.push(
                &path.key("working_hours"),
                msg,
                Some("e.g. [\"mon-fri 09:00-17:00\"]"),
            );
            WorkingHours::default()
        }
    };
    let mut out_of_office = Vec::new();
    for (j, o) in r.out_of_office.iter().enumerate() {
        let opath = path.key("out_of_office").index(j);
        let from = parse_instant(&o.from, timezone, false);
        let until = parse_instant(&o.to, timezone, true);
        match (from, until) {
            (Some(from), Some(until)) if from < until => {
                out_of_office.push(OutOfOffice { from, until })
            }
            (Some(_), Some(_)) => p.push(&opath, "`to` is before `from`", None),
            _ => p.push(
                &opath,
                "`from` and `to` must be dates (2026-12-24) or RFC 3339 times",
                Some("dates are inclusive and in the rep's time zone"),
            ),
        }
    }
    let status = match r.status.as_deref() {
        None | Some("available") => Availability::Available,
        Some("away") => Availability::Away,
        Some(other) => {
            p.push(
                &path.key("status"),
                format!("unknown status `{other}`"),
                Some("use `available` or `away`"),
            );
            Availability::Available
        }
    };
    let weight = r.weight.unwrap_or(1);
    if weight == 0 {
        p.push(
            &path.key("weight"),
            "weight must be at least 1",
            Some("set the rep `away` to stop their leads"),
        );
    }
    for (key, cap) in [
        ("max_open_leads", r.max_open_leads),
        ("max_per_day", r.max_per_day),
    ] {
        if cap == Some(0) {
            p.push(
                &path.key(key),
                format!("{key} must be at least 1"),
                Some("remove the key for no cap"),
            );
        }
    }
    let lower = |v: Vec<String>| {
        v.into_iter()
            .map(|s| s.trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    Some(Rep {
        id: r.id,
        name: r.name,
        email: r.email,
        timezone,
        hours,
        out_of_office,
        status,
        skills: lower(r.skills),
        languages: lower(r.languages),
        territories: r
            .territories
            .into_iter()
            .map(|t| t.trim().to_uppercase())
            .collect(),
        weight: weight.max(1),
        max_open_leads: r.max_open_leads,
        max_per_day: r.max_per_day,
    })
}

/// A date (`2026-12-24`, in `tz`; `end_of_day` makes it the first instant after that day) or an
/// RFC 3339 time.
fn parse_instant(s: &str, tz: Tz, end_of_day: bool) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    let mut date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
    if end_of_day {
        date = date.succ_opt()?;
    }
    let local = tz
        .from_local_datetime(&date.and_hms_opt(0, 0, 0)?)
        .earliest()?;
    Some(local.with_timezone(&Utc))
}

/// `90s`, `15m`, `2h`, `1d`.
pub(crate) fn parse_duration(s: &str) -> Option<chrono::Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (num, unit) = s.split_at(split);
    let n: i64 = num.parse().ok()?;
    match unit.trim() {
        "s" => chrono::Duration::try_seconds(n),
        "m" | "min" => chrono::Duration::try_minutes(n),
        "h" => chrono::Duration::try_hours(n),
        "d" => chrono::Duration::try_days(n),
        _ => None,
    }
}

fn compile_pool(
    rp: RawPool,
    path: &Path,
    reps: &HashMap<RepId, usize>,
    pool_ids: &HashSet<String>,
    p: &mut Problems,
) -> Option<Pool> {
    let strategy = match rp.strategy.as_str() {
        "round_robin" => Strategy::RoundRobin,
        "weighted" => Strategy::Weighted,
        "least_loaded" => Strategy::LeastLoaded,
        "claim" => Strategy::Claim,
        other => {
            p.push(
                &path.key("strategy"),
                format!("unknown strategy `{other}`"),
                Some("use round_robin, weighted, least_loaded or claim"),
            );
            Strategy::RoundRobin
        }
    };
    if rp.members.is_empty() {
        p.push(
            &path.key("members"),
            format!("pool `{}` has no members", rp.id),
            None,
        );
    }
    let mut seen = HashSet::new();
    for (j, m) in rp.members.iter().enumerate() {
        if !reps.contains_key(m) {
            p.push(
                &path.key("members").index(j),
                format!("`{m}` is not a declared rep"),
                Some("declare it under [[reps]] or fix the spelling"),
            );
        }
        if !seen.insert(m) {
            p.push(
                &path.key("members").index(j),
                format!("`{m}` is listed twice"),
                None,
            );
        }
    }
    let makeup = match &rp.makeup {
        None => Makeup::Forget,
        Some(m) => {
            if strategy != Strategy::RoundRobin {
                p.push(
                    &path.key("makeup"),
                    "`makeup` applies to round_robin pools only",
                    None,
                );
            }
            match (m.policy.as_str(), m.max) {
                ("forget", None) => Makeup::Forget,
                ("forget", Some(_)) => {
                    p.push(
                        &path.key("makeup").key("max"),
                        "`max` goes with policy `credit`",
                        None,
                    );
                    Makeup::Forget
                }
                ("credit", max) => Makeup::Credit {
                    max: max.unwrap_or(3),
                },
                (other, _) => {
                    p.push(
                        &path.key("makeup").key("policy"),
                        format!("unknown make-up policy `{other}`"),
                        Some("use `forget` or `credit` (with `max`, default 3)"),
                    );
                    Makeup::Forget
                }
            }
        }
    };
    let fallback = rp.fallback.as_ref().and_then(|f| {
        compile_target(
            f,
            &path.key("fallback"),
            &rp.id,
            reps,
            pool_ids,
            "fallback",
            p,
        )
    });
    let sla = rp
        .sla
        .as_ref()
        .map(|s| compile_sla(s, &path.key("sla"), &rp.id, strategy, reps, pool_ids, p))
        .unwrap_or_default();
    let notify = rp
        .notify
        .as_ref()
        .map(|n| compile_notify(n, &path.key("notify"), p))
        .unwrap_or_default();
    let mut order: Vec<usize> = (0..rp.members.len()).collect();
    order.sort_by(|&a, &b| rp.members[a].cmp(&rp.members[b]));
    let by_id = order
        .into_iter()
        .map(|i| SortedId::new(i, &rp.members[i]))
        .collect();
    let member_reps = rp
        .members
        .iter()
        .map(|m| reps.get(m).copied().unwrap_or(usize::MAX))
        .collect();
    // Every compiled pool gets its own token, even with the same members: a token is never
    // reused, so a rotation cannot mistake one member list for another.
    static NEXT_IDS_TOKEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let ids_token = NEXT_IDS_TOKEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Some(Pool {
        id: rp.id,
        ids_token,
        by_id,
        member_reps,
        members: rp.members,
        strategy,
        respect_working_hours: rp.respect_working_hours.unwrap_or(true),
        makeup,
        fallback,
        sla,
        notify,
    })
}

/// A `{ pool = ".." }` or `{ rep = ".." }` table naming an existing pool (not `own`) or rep.
fn compile_target(
    f: &RawTarget,
    path: &Path,
    own: &str,
    reps: &HashMap<RepId, usize>,
    pool_ids: &HashSet<String>,
    what: &str,
    p: &mut Problems,
) -> Option<Target> {
    match (&f.pool, &f.rep) {
        (Some(pool), None) => {
            if !pool_ids.contains(pool) {
                p.push(
                    &path.key("pool"),
                    format!("{what} pool `{pool}` does not exist"),
                    None,
                );
            } else if pool == own {
                p.push(
                    &path.key("pool"),
                    format!("a pool cannot {what} to itself"),
                    None,
                );
            }
            Some(Target::Pool(pool.clone()))
        }
        (None, Some(rep)) => {
            if !reps.contains_key(rep) {
                p.push(
                    &path.key("rep"),
                    format!("{what} rep `{rep}` does not exist"),
                    None,
                );
            }
            Some(Target::Rep(rep.clone()))
        }
        _ => {
            p.push(path, "give exactly one of `pool` or `rep`", None);
            None
        }
    }
}

fn compile_sla(
    s: &RawSla,
    path: &Path,
    own: &str,
    strategy: Strategy,
    reps: &HashMap<RepId, usize>,
    pool_ids: &HashSet<String>,
    p: &mut Problems,
) -> Sla {
    let mut sla = Sla {
        max_reassignments: s.max_reassignments.unwrap_or(2),
        ..Sla::default()
    };
    for (key, value, slot) in [
        ("accept_within", &s.accept_within, &mut sla.accept_within),
        (
            "first_touch_within",
            &s.first_touch_within,
            &mut sla.first_touch_within,
        ),
        (
            "escalate_waiting_after",
            &s.escalate_waiting_after,
            &mut sla.escalate_waiting_after,
        ),
    ] {
        if let Some(v) = value {
            match parse_duration(v) {
                Some(d) if d > chrono::Duration::zero() => *slot = Some(d),
                _ => p.push(
                    &path.key(key),
                    format!("`{v}` is not a duration"),
                    Some("write e.g. `90s`, `15m`, `2h` or `1d`"),
                ),
            }
        }
    }
    if let (Some(a), Some(t)) = (sla.accept_within, sla.first_touch_within)
        && t < a
    {
        p.push(
            &path.key("first_touch_within"),
            "first touch cannot be due before accept",
            Some("first_touch_within counts from assignment too; make it at least accept_within"),
        );
    }
    sla.reassign_to = match s.reassign_to.as_deref() {
        None | Some("next_in_rotation") => Reassign::NextInRotation,
        Some("any_available") => Reassign::AnyAvailable,
        Some("claim") => Reassign::Claim,
        Some(other) => {
            p.push(
                &path.key("reassign_to"),
                format!("unknown reassignment `{other}`"),
                Some("use next_in_rotation, any_available or claim"),
            );
            Reassign::NextInRotation
        }
    };
    if strategy == Strategy::Claim && sla.reassign_to != Reassign::Claim && s.reassign_to.is_some()
    {
        p.push(
            &path.key("reassign_to"),
            "a claim pool can only reassign back to the pool",
            Some("use reassign_to = \"claim\" or leave it out"),
        );
    }
    if strategy == Strategy::Claim {
        sla.reassign_to = Reassign::Claim;
    }
    sla.escalate = s
        .escalate
        .as_ref()
        .and_then(|t| compile_target(t, &path.key("escalate"), own, reps, pool_ids, "escalate", p));
    if sla.escalate_waiting_after.is_some() && sla.escalate.is_none() {
        p.push(
            &path.key("escalate_waiting_after"),
            "says when to escalate but not to whom",
            Some("add escalate = { rep = \"...\" } or { pool = \"...\" }"),
        );
    }
    sla
}

/// Event types a pool can be notified of.
pub(crate) const NOTIFY_EVENTS: &[&str] = &[
    "assigned",
    "reassigned",
    "escalated",
    "claimed",
    "unassigned",
    "awaiting_claim",
    "accepted",
    "declined",
    "released",
    "contacted",
    "converted",
    "lost",
    "sla_breached",
];

fn compile_notify(n: &RawNotify, path: &Path, p: &mut Problems) -> Notify {
    for (key, value) in [
        ("slack_webhook", &n.slack_webhook),
        ("webhook_secret", &n.webhook_secret),
    ] {
        if let Some(v) = value
            && super::secret_reference(v).is_none()
        {
            p.push(
                &path.key(key),
                "must be a secret reference, not the secret itself",
                Some("write `env:NAME` or `ssm:/path` and keep the value out of the file"),
            );
        }
    }
    if let Some(url) = &n.webhook_url {
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .unwrap_or_default();
        match host.split(['/', ':']).next() {
            Some(h) if !h.is_empty() && !url.contains(char::is_whitespace) => {}
            _ => p.push(
                &path.key("webhook_url"),
                format!("`{url}` is not an http(s) URL"),
                None,
            ),
        }
        if n.webhook_secret.is_none() {
            p.push(
                &path.key("webhook_secret"),
                "a webhook needs a signing secret",
                Some("receivers verify X-Leadrouter-Signature with it"),
            );
        }
    } else if n.webhook_secret.is_some() {
        p.push(
            &path.key("webhook_url"),
            "a secret without a webhook URL",
            None,
        );
    }
    let events = match &n.events {
        None => ["assigned", "reassigned", "escalated", "claimed"]
            .map(str::to_owned)
            .to_vec(),
        Some(list) => {
            for (i, e) in list.iter().enumerate() {
                if !NOTIFY_EVENTS.contains(&e.as_str()) {
                    p.push(
                        &path.key("events").index(i),
                        format!("unknown event `{e}`"),
                        Some("see docs/events.md for the event types"),
                    );
                }
            }
            list.clone()
        }
    };
    Notify {
        slack_webhook: n.slack_webhook.clone(),
        webhook_url: n.webhook_url.clone(),
        webhook_secret: n.webhook_secret.clone(),
        events,
    }
}

/// Rejects pool chains that loop: `edge` gives the pool a pool leads on to (its fallback, or
/// its escalation), `key` names that setting in the problem.
fn check_cycles(
    pools: &[Pool],
    index: &HashMap<PoolId, usize>,
    paths: &[Path],
    key: &str,
    edge: impl Fn(&Pool) -> Option<&Target>,
    p: &mut Problems,
) {
    for (start, pool) in pools.iter().enumerate() {
        let mut seen = HashSet::from([start]);
        let mut cur = pool;
        while let Some(Target::Pool(next)) = edge(cur) {
            let Some(&ni) = index.get(next) else { break };
            if !seen.insert(ni) {
                if ni == start
                    && let Some(path) = paths.get(start)
                {
                    let at = if key == "fallback" {
                        path.key(key)
                    } else {
                        path.key("sla").key(key)
                    };
                    p.push(
                        &at,
                        format!("{key} chain from `{}` loops back to itself", pool.id),
                        Some("end every chain at a pool or rep without a loop"),
                    );
                }
                break;
            }
            match pools.get(ni) {
                Some(n) => cur = n,
                None => break,
            }
        }
    }
}

fn compile_accounts(
    raw: Vec<RawAccount>,
    reps: &HashMap<RepId, usize>,
    p: &mut Problems,
) -> Accounts {
    let names: HashMap<String, usize> = raw
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.clone(), i))
        .collect();
    let mut list = Vec::new();
    let mut by_domain = HashMap::new();
    for (i, a) in raw.iter().enumerate() {
        let path = root("accounts").index(i);
        if names.get(&a.name) != Some(&i) {
            p.push(
                &path.key("name"),
                format!("account `{}` is declared twice", a.name),
                None,
            );
        }
        if let Some(owner) = &a.owner
            && !reps.contains_key(owner)
        {
            p.push(
                &path.key("owner"),
                format!("owner `{owner}` is not a declared rep"),
                None,
            );
        }
        let parent = a.parent.as_ref().and_then(|name| {
            let found = names.get(name).copied();
            if found.is_none() {
                p.push(
                    &path.key("parent"),
                    format!("parent account `{name}` does not exist"),
                    None,
                );
            }
            found
        });
        let domains: Vec<String> = a.domains.iter().map(|d| d.trim().to_lowercase()).collect();
        for (j, d) in domains.iter().enumerate() {
            if by_domain.insert(d.clone(), i).is_some() {
                p.push(
                    &path.key("domains").index(j),
                    format!("domain `{d}` belongs to two accounts"),
                    None,
                );
            }
        }
        list.push(Account {
            name: a.name.clone(),
            domains,
            owner: a.owner.clone(),
            parent,
        });
    }
    // Parent cycles would make ownership lookups loop.
    for (i, a) in list.iter().enumerate() {
        let mut cur = a.parent;
        let mut steps = 0;
        while let Some(c) = cur {
            steps += 1;
            if c == i || steps > list.len() {
                p.push(
                    &root("accounts").index(i).key("parent"),
                    format!("account `{}` is its own ancestor", a.name),
                    None,
                );
                break;
            }
            cur = list.get(c).and_then(|x| x.parent);
        }
    }
    Accounts { list, by_domain }
}

fn compile_rule(
    rr: RawRule,
    path: &Path,
    reps: &HashMap<RepId, usize>,
    pools: &HashMap<PoolId, usize>,
    p: &mut Problems,
) -> Option<Rule> {
    let experiment = rr
        .split
        .as_ref()
        .map(|arms| compile_split(&rr, arms, path, reps, pools, p));
    let route = match (&rr.pool, &rr.rep, &rr.outcome) {
        // A split rule routes by its arms; `route` holds the first (control) arm's.
        (None, None, None) if experiment.is_some() => match &experiment {
            Some(Some(e)) => e.arms.first().map(|a| a.route.clone())?,
            _ => return None,
        },
        (Some(pool), None, None) => {
            if !pools.contains_key(pool) {
                p.push(
                    &path.key("pool"),
                    format!("pool `{pool}` does not exist"),
                    Some("declare it under [[pools]]"),
                );
            }
            Route::Pool(pool.clone())
        }
        (None, Some(rep), None) => {
            if !reps.contains_key(rep) {
                p.push(
                    &path.key("rep"),
                    format!("rep `{rep}` does not exist"),
                    None,
                );
            }
            Route::Rep(rep.clone())
        }
        (None, None, Some(o)) => match o.as_str() {
            "nurture" => Route::Outcome(NoRep::Nurture),
            "spam" => Route::Outcome(NoRep::Spam),
            other => {
                p.push(
                    &path.key("outcome"),
                    format!("unknown outcome `{other}`"),
                    Some("use `nurture` or `spam`"),
                );
                return None;
            }
        },
        _ => {
            p.push(
                path,
                format!(
                    "rule `{}` needs exactly one of `pool`, `rep`, `outcome` or `split`",
                    rr.name
                ),
                None,
            );
            return None;
        }
    };
    let when = rr
        .when
        .and_then(|c| compile_condition(c, &path.key("when"), p));
    let lower = |v: Vec<String>| {
        v.into_iter()
            .map(|s| s.trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    Some(Rule {
        experiment: experiment.flatten(),
        name: rr.name,
        when,
        route,
        require_skills: lower(rr.require_skills),
        require_languages: lower(rr.require_languages),
        match_language: rr.match_language,
        match_territory: rr.match_territory,
    })
}

/// A rule's `split`: named arms, each a pool or a rep, with percentages adding up to 100.
fn compile_split(
    rr: &RawRule,
    arms: &[RawArm],
    path: &Path,
    reps: &HashMap<RepId, usize>,
    pools: &HashMap<PoolId, usize>,
    p: &mut Problems,
) -> Option<Experiment> {
    let before = p.list.len();
    let spath = path.key("split");
    if arms.len() < 2 {
        p.push(&spath, "a split needs at least two arms", None);
    }
    let mut out = Vec::new();
    let mut names = HashSet::new();
    for (i, arm) in arms.iter().enumerate() {
        let apath = spath.index(i);
        if !names.insert(arm.name.as_str()) {
            p.push(
                &apath.key("name"),
                format!("arm `{}` is named twice", arm.name),
                None,
            );
        }
        if arm.percent == 0 || arm.percent > 100 {
            p.push(&apath.key("percent"), "a percentage from 1 to 100", None);
        }
        let route = match (&arm.pool, &arm.rep) {
            (Some(pool), None) => {
                if !pools.contains_key(pool) {
                    p.push(
                        &apath.key("pool"),
                        format!("pool `{pool}` does not exist"),
                        None,
                    );
                }
                Route::Pool(pool.clone())
            }
            (None, Some(rep)) => {
                if !reps.contains_key(rep) {
                    p.push(
                        &apath.key("rep"),
                        format!("rep `{rep}` does not exist"),
                        None,
                    );
                }
                Route::Rep(rep.clone())
            }
            _ => {
                p.push(&apath, "give exactly one of `pool` or `rep`", None);
                continue;
            }
        };
        out.push(Arm {
            name: arm.name.clone(),
            route,
            percent: arm.percent,
        });
    }
    let total: u32 = arms.iter().map(|a| a.percent).sum();
    if total != 100 {
        p.push(
            &spath,
            format!("the arms' percentages add up to {total}, not 100"),
            None,
        );
    }
    if rr.pool.is_some() || rr.rep.is_some() || rr.outcome.is_some() {
        p.push(
            path,
            "a split rule routes by its arms: remove `pool`, `rep` and `outcome`",
            None,
        );
    }
    (p.list.len() == before).then(|| Experiment {
        id: rr.experiment.clone().unwrap_or_else(|| rr.name.clone()),
        arms: out,
    })
}

fn compile_condition(c: RawCondition, path: &Path, p: &mut Problems) -> Option<Condition> {
    let ops = [
        c.equals.is_some(),
        c.in_list.is_some(),
        c.prefix.is_some(),
        c.gt.is_some() || c.gte.is_some() || c.lt.is_some() || c.lte.is_some(),
        c.exists.is_some(),
        c.regex.is_some(),
        c.all.is_some(),
        c.any.is_some(),
        c.not.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if ops != 1 {
        p.push(
            path,
            if ops == 0 { "condition has no operator".to_owned() } else { "condition has more than one operator".to_owned() },
            Some("use one of equals, in, prefix, gt/gte/lt/lte, exists, regex, all, any, not; combine with all/any"),
        );
        return None;
    }
    let case_sensitive = !c.ignore_case.unwrap_or(true);
    if let Some(list) = c.all {
        return compile_list(list, &path.key("all"), p).map(Condition::All);
    }
    if let Some(list) = c.any {
        return compile_list(list, &path.key("any"), p).map(Condition::Any);
    }
    if let Some(inner) = c.not {
        return compile_condition(*inner, &path.key("not"), p).map(|c| Condition::Not(Box::new(c)));
    }
    let Some(name) = c.field else {
        p.push(path, "condition needs a `field`", None);
        return None;
    };
    let Some(field) = Field::parse(&name) else {
        p.push(
            &path.key("field"),
            format!("unknown field `{name}`"),
            Some(&format!("fields: {}", field_names().join(", "))),
        );
        return None;
    };
    let scalar = |v: &serde_json::Value, at: &Path, p: &mut Problems| {
        let s = Scalar::from_json(v);
        if s.is_none() {
            p.push(at, "expected a string, number or boolean", None);
        }
        s
    };
    if let Some(v) = c.equals {
        let value = scalar(&v, &path.key("equals"), p)?;
        return Some(Condition::Equals {
            field,
            ascii: value.is_ascii_text(),
            value,
            case_sensitive,
        });
    }
    if let Some(list) = c.in_list {
        let values: Option<Vec<Scalar>> = list
            .iter()
            .enumerate()
            .map(|(i, v)| scalar(v, &path.key("in").index(i), p))
            .collect();
        let values = values?;
        return Some(Condition::In {
            field,
            ascii: crate::rules::ascii_mask(&values),
            lengths: crate::rules::length_mask(&values, case_sensitive),
            values,
            case_sensitive,
        });
    }
    if let Some(prefix) = c.prefix {
        return Some(Condition::Prefix {
            field,
            prefixes: prefix.into_vec(),
            case_sensitive,
        });
    }
    if let Some(present) = c.exists {
        return Some(Condition::Exists { field, present });
    }
    if let Some(re) = c.regex {
        return match RegexBuilder::new(&re)
            .case_insensitive(c.ignore_case.unwrap_or(false))
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => Some(Condition::Regex { field, re }),
            Err(e) => {
                p.push(&path.key("regex"), format!("invalid regex: {e}"), None);
                None
            }
        };
    }
    if !field.is_numeric() && !matches!(field, Field::Custom(_)) {
        p.push(
            &path.key("field"),
            format!(
                "`{name}` is not numeric; ranges need seats, deal_value, score or a custom number"
            ),
            None,
        );
        return None;
    }
    Some(Condition::Range {
        field,
        gt: c.gt,
        gte: c.gte,
        lt: c.lt,
        lte: c.lte,
    })
}

fn compile_list(list: Vec<RawCondition>, path: &Path, p: &mut Problems) -> Option<Vec<Condition>> {
    let mut out = Vec::new();
    let mut ok = true;
    for (i, c) in list.into_iter().enumerate() {
        match compile_condition(c, &path.index(i), p) {
            Some(c) => out.push(c),
            None => ok = false,
        }
    }
    ok.then_some(out)
}

fn compile_intake(raw: RawIntake, p: &mut Problems) -> IntakeSettings {
    let default_country = raw.default_country.map(|c| c.trim().to_uppercase());
    if let Some(c) = &default_country
        && (c.len() != 2 || !c.chars().all(|ch| ch.is_ascii_alphabetic()))
    {
        p.push(
            &root("intake").key("default_country"),
            format!("`{c}` is not an ISO 3166 alpha-2 code"),
            Some("e.g. \"US\" or \"DE\""),
        );
    }
    let lower = |v: Vec<String>| {
        v.into_iter()
            .map(|s| s.trim().to_lowercase())
            .collect::<Vec<_>>()
    };
    IntakeSettings {
        default_country,
        honeypot_fields: raw.honeypot_fields.unwrap_or_default(),
        blocked_emails: lower(raw.blocked_emails.unwrap_or_else(|| {
            DEFAULT_BLOCKED_EMAILS
                .iter()
                .map(|s| s.to_string())
                .collect()
        })),
        blocked_domains: lower(raw.blocked_domains.unwrap_or_else(|| {
            DEFAULT_BLOCKED_DOMAINS
                .iter()
                .map(|s| s.to_string())
                .collect()
        })),
    }
}

fn compile_source(name: &str, rs: RawSource, p: &mut Problems) -> Option<Source> {
    let path = root("sources").key(name);
    let adapter = rs.adapter.unwrap_or_else(|| name.to_owned());
    if !leadrouter_sources::SOURCES.contains(&adapter.as_str()) {
        p.push(
            &path,
            format!("unknown adapter `{adapter}`"),
            Some(&format!(
                "set `adapter` to one of: {}",
                leadrouter_sources::SOURCES.join(", ")
            )),
        );
        return None;
    }
    let mapping = leadrouter_sources::Mapping { fields: rs.mapping };
    if let Err(e) = mapping.validate() {
        p.push(
            &path.key("mapping"),
            e.to_string(),
            Some("map to a canonical field name or custom.<key>"),
        );
    }
    let Some(auth) = rs.auth else {
        p.push(&path, "`auth` is required", Some("use the tool's signature scheme, an api_key, or scheme = \"none\" to accept unsigned posts"));
        return None;
    };
    // Check the shape now with placeholder secrets, so `check` catches mistakes without access
    // to the secrets themselves; literal secrets are refused outright.
    let source = Source {
        name: name.to_owned(),
        adapter,
        mapping,
        default_country: rs.default_country.map(|c| c.trim().to_uppercase()),
        auth,
    };
    if let Err(e) = source.resolve_auth(&|_| Some("placeholder".into())) {
        p.push(
            &path.key("auth"),
            e,
            Some("write secrets as env:NAME and set NAME in the environment (or the secret store)"),
        );
        return None;
    }
    Some(source)
}
