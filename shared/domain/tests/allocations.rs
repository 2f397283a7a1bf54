//! Allocation counts of the hot path, with a counting global allocator: evaluating rules
//! allocates nothing per rule, and a round-robin decision allocates the same whatever the
//! pool's size (only the rep next in line is checked when they are free). Counts, not timings:
//! the timings are in `benches/decide.rs`.

use chrono::{TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::routing::{Snapshot, decide};
use leadrouter_lead::Lead;
use uuid::Uuid;

// dhat's allocator counts every allocation; its testing mode reads the totals.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Allocations made by `f` (one test in this file, so no other thread allocates meanwhile).
fn allocations(f: impl FnOnce()) -> u64 {
    let before = dhat::HeapStats::get().total_blocks;
    f();
    dhat::HeapStats::get().total_blocks - before
}

/// `rules` non-matching rules (mixed operators), a matching one, the default; one pool of `reps`.
fn config(rules: usize, reps: usize) -> RoutingConfig {
    let mut src = String::new();
    for i in 0..reps {
        src.push_str(&format!(
            "[[reps]]\nid = \"r{i}\"\ntimezone = \"Europe/Berlin\"\nworking_hours = [\"mon-sun 00:00-24:00\"]\nmax_open_leads = 1000000\nmax_per_day = 1000000\n"
        ));
    }
    let members: Vec<String> = (0..reps).map(|i| format!("\"r{i}\"")).collect();
    src.push_str(&format!(
        "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"round_robin\"\n",
        members.join(", ")
    ));
    for i in 0..rules {
        let cond = match i % 3 {
            0 => format!("{{ field = \"country\", in = [\"X{i}\", \"Y{i}\"] }}"),
            1 => format!("{{ field = \"utm_campaign\", prefix = \"c{i}-\" }}"),
            _ => format!(
                "{{ all = [{{ field = \"seats\", gte = {} }}, {{ field = \"industry\", equals = \"I{i}\" }}] }}",
                1_000_000 + i
            ),
        };
        src.push_str(&format!(
            "[[rules]]\nname = \"r{i}\"\nwhen = {cond}\npool = \"p\"\n"
        ));
    }
    src.push_str("[[rules]]\nname = \"match\"\nwhen = { field = \"country\", equals = \"DE\" }\npool = \"p\"\n");
    src.push_str("[[rules]]\nname = \"default\"\npool = \"p\"\n");
    RoutingConfig::parse(&src, Format::Toml, "alloc.toml").unwrap_or_else(|e| panic!("{e}"))
}

fn lead() -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: Utc::now(),
        source: "api".into(),
        country: Some("DE".into()),
        utm_campaign: Some("spring-sale".into()),
        industry: Some("Software".into()),
        seats: Some(40),
        ..Lead::default()
    }
}

/// One test: dhat's counts are process-wide, and tests run on parallel threads.
#[test]
fn hot_path_allocations() {
    let _profiler = dhat::Profiler::builder().testing().build();
    rule_evaluation_allocates_nothing_per_rule();
    a_round_robin_decision_allocates_the_same_for_any_pool_size();
}

fn rule_evaluation_allocates_nothing_per_rule() {
    let lead = lead();
    let small = config(10, 3);
    let large = config(1000, 3);
    // Warm up lazily initialised statics (none expected, but keep the comparison fair).
    let _ = small.match_rule(&lead);
    let _ = large.match_rule(&lead);
    let a = allocations(|| {
        std::hint::black_box(small.match_rule(&lead));
    });
    let b = allocations(|| {
        std::hint::black_box(large.match_rule(&lead));
    });
    assert_eq!(a, 0, "10 rules");
    assert_eq!(b, 0, "1,000 rules");
}

fn a_round_robin_decision_allocates_the_same_for_any_pool_size() {
    let now = Utc
        .with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("time");
    let lead = lead();
    let mut counts = Vec::new();
    for reps in [10, 200, 2000] {
        let cfg = config(100, reps);
        // A pool in service: everyone has had turns.
        let mut snap = Snapshot::default();
        for _ in 0..2 * reps {
            let plan = decide(&cfg, &lead, &snap, now);
            snap.apply(&plan);
        }
        let n = allocations(|| {
            std::hint::black_box(decide(&cfg, &lead, &snap, now));
        });
        counts.push(n);
    }
    eprintln!("allocations per decision at 10, 200, 2,000 reps: {counts:?}");
    assert!(counts[0] > 0, "a decision record is built");
    assert_eq!(counts[0], counts[1], "10 vs 200 reps: {counts:?}");
    assert_eq!(counts[1], counts[2], "200 vs 2,000 reps: {counts:?}");
}
