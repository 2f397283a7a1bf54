//! The decision benchmark's inputs, shared by `benches/decide.rs` (criterion, wall time) and
//! `examples/decide_cpu.rs` (CPU time, for a loaded machine): `rules` rules of which the match
//! is the last before the default, one round-robin pool of `reps` reps, one lead.

use chrono::{DateTime, TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::routing::Snapshot;
use leadrouter_lead::Lead;
use uuid::Uuid;

/// `rules` rules (mixed operators, none matching but the last two) and a pool of `reps`.
pub fn config(rules: usize, reps: usize) -> RoutingConfig {
    let mut src = String::new();
    for i in 0..reps {
        src.push_str(&format!(
            "[[reps]]\nid = \"r{i}\"\ntimezone = \"Europe/Berlin\"\nworking_hours = [\"mon-sun 00:00-24:00\"]\nlanguages = [\"en\", \"de\"]\nmax_open_leads = 1000000\nmax_per_day = 1000000\n"
        ));
    }
    let members: Vec<String> = (0..reps).map(|i| format!("\"r{i}\"")).collect();
    src.push_str(&format!(
        "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"round_robin\"\n",
        members.join(", ")
    ));
    // Rules that do not match (a mix of operators), then the one that does, then the default.
    for i in 0..rules.saturating_sub(2) {
        let cond = match i % 4 {
            0 => format!("{{ field = \"country\", in = [\"X{i}\", \"Y{i}\"] }}"),
            1 => format!(
                "{{ all = [{{ field = \"seats\", gte = {} }}, {{ field = \"industry\", equals = \"I{i}\" }}] }}",
                1_000_000 + i
            ),
            2 => format!("{{ field = \"utm_campaign\", prefix = \"c{i}-\" }}"),
            _ => format!(
                "{{ any = [{{ field = \"custom.plan\", equals = \"p{i}\" }}, {{ not = {{ field = \"email\", exists = true }} }}] }}"
            ),
        };
        src.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nwhen = {cond}\npool = \"p\"\n"
        ));
    }
    src.push_str("[[rules]]\nname = \"match\"\nwhen = { field = \"country\", equals = \"DE\" }\npool = \"p\"\nmatch_language = true\n");
    src.push_str("[[rules]]\nname = \"default\"\npool = \"p\"\n");
    RoutingConfig::parse(&src, Format::Toml, "bench.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// The decision time: a Monday noon, inside everyone's working hours.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("time")
}

/// The lead routed: German, 40 seats, an email; matched by the rule `match`.
pub fn lead(now: DateTime<Utc>) -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: now,
        source: "api".into(),
        email: Some("ana@corp.de".into()),
        country: Some("DE".into()),
        language: Some("de".into()),
        seats: Some(40),
        ..Lead::default()
    }
}

/// Rebuilds every pool rotation in `snap` from its entries, as a router holds a rotation it
/// has just read: nothing is known about it yet (whether its ids are the pool's members).
pub fn as_just_read(snap: &mut Snapshot) {
    for pool in snap.pools.values_mut() {
        pool.members = pool
            .members
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
    }
}
