//! Decision cost: rule evaluation plus eligibility plus strategy choice for one lead, for
//! configs of 10, 100 and 1,000 rules and pools of 10, 200 and 2,000 reps. The matching rule is
//! the last one before the default, so every rule's condition is evaluated.
//!
//! `cargo bench -p leadrouter-domain --bench decide`

// criterion's macros generate undocumented items.
#![allow(missing_docs)]

use criterion::{BatchSize, BenchmarkId, Criterion, criterion_group, criterion_main};
use leadrouter_domain::routing::{Snapshot, decide};

#[path = "common/decide_config.rs"]
mod decide_config;
use decide_config::config;

/// The allocator the binaries use, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn bench(c: &mut Criterion) {
    let now = decide_config::now();
    let lead = decide_config::lead(now);
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

    // The first decision over a rotation just read, as for the first lead of each router
    // batch: its walk compares every member's id with the rotation's, before it knows that the
    // rotation holds exactly the pool's members (the decisions above, like the batch's other
    // leads, pair them by position). The rotation is rebuilt outside the timed part, right
    // before each decision (`PerIteration`), so its memory is as warm as a rotation the router
    // has just deserialized; built in bulk ahead of time, it would be cold in cache and the
    // figure twice as high. The per-iteration timer adds some 40 ns.
    let cfg = config(100, 200);
    let mut snap = Snapshot::default();
    for _ in 0..400 {
        let plan = decide(&cfg, &lead, &snap, now);
        snap.apply(&plan);
    }
    c.bench_function("first_of_batch/100_rules/200_reps", |b| {
        b.iter_batched(
            || {
                let mut fresh = snap.clone();
                decide_config::as_just_read(&mut fresh);
                fresh
            },
            |fresh| {
                let plan = decide(&cfg, &lead, &fresh, now);
                (fresh, plan)
            },
            BatchSize::PerIteration,
        );
    });

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
