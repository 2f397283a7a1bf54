//! Decision cost: rule evaluation plus eligibility plus strategy choice for one lead, for
//! configs of 10, 100 and 1,000 rules and pools of 10, 200 and 2,000 reps. The matching rule is
//! the last one before the default, so every rule's condition is evaluated.
//!
//! `cargo bench -p leadrouter-domain --bench decide`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use chrono::{TimeZone, Utc};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::routing::{Snapshot, decide};
use leadrouter_lead::Lead;
use uuid::Uuid;

fn config(rules: usize, reps: usize) -> RoutingConfig {
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

fn bench(c: &mut Criterion) {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("time");
    let lead = Lead {
        id: Uuid::now_v7(),
        received_at: now,
        source: "api".into(),
        email: Some("ana@corp.de".into()),
        country: Some("DE".into()),
        language: Some("de".into()),
        seats: Some(40),
        ..Lead::default()
    };
    let mut group = c.benchmark_group("decide");
    for rules in [10, 100, 1000] {
        for reps in [10, 200, 2000] {
            let cfg = config(rules, reps);
            // A pool in service: every member has taken turns, so the rotation and every rep's
            // counters exist (an empty snapshot would flatter the decision).
            let mut snap = Snapshot::default();
            for _ in 0..2 * reps {
                let plan = decide(&cfg, &lead, &snap, now);
                snap.apply(&plan);
            }
            group.bench_with_input(
                BenchmarkId::new(format!("{rules}_rules"), format!("{reps}_reps")),
                &cfg,
                |b, cfg| {
                    b.iter(|| {
                        let plan = decide(cfg, &lead, &snap, now);
                        std::hint::black_box(&plan);
                    });
                },
            );
            // Sanity: the decision is the one expected (rotation advances when applied).
            let plan = decide(&cfg, &lead, &snap, now);
            assert_eq!(plan.decision.rule.name, "match");
            snap.apply(&plan);
        }
    }
    group.finish();

    let cfg = config(100, 200);
    c.bench_function("rules_only/100_rules", |b| {
        b.iter(|| std::hint::black_box(cfg.match_rule(&lead)));
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(2)).warm_up_time(std::time::Duration::from_millis(500));
    targets = bench
}
criterion_main!(benches);
