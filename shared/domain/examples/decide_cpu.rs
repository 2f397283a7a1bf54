//! CPU time of one decision, for comparing builds on a busy machine, where criterion's wall
//! time swings by a third with other builds running: the thread's CPU time (from
//! `/proc/thread-self/stat`, 10 ms ticks) over `n` decisions, best of 3 rounds. Same inputs as
//! `benches/decide.rs`.
//!
//! `cargo run --profile bench -p leadrouter-domain --example decide_cpu -- 100 200 1000000`
//! (rules, reps, decisions per round)
//!
//! `... -- 100 200 20000 first`: every decision over a rotation just rebuilt, as the first lead
//! of a router batch sees it (the rebuild is in the CPU time: count the decision's own
//! instructions with callgrind's `--toggle-collect=leadrouter_domain::routing::decide::decide`).

#![allow(missing_docs)]

use leadrouter_domain::routing::{Snapshot, decide};

/// The allocator the binaries use, so that the figures are theirs.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../benches/common/decide_config.rs"]
mod decide_config;

/// The thread's user + system CPU time in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").expect("/proc/thread-self/stat");
    // Fields after the command name (which may hold spaces): state is the 1st, utime the 12th.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let fields: Vec<f64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|f| f.parse().expect("a tick count"))
        .collect();
    fields.iter().sum::<f64>() / 100.0
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let first = args.last().is_some_and(|a| a == "first");
    if first {
        args.pop();
    }
    let args: Vec<usize> = args
        .iter()
        .map(|a| {
            a.parse()
                .expect("usage: decide_cpu RULES REPS DECISIONS [first]")
        })
        .collect();
    let [rules, reps, n] = args[..] else {
        panic!("usage: decide_cpu RULES REPS DECISIONS [first]");
    };
    let now = decide_config::now();
    let lead = decide_config::lead(now);
    let cfg = decide_config::config(rules, reps);
    // A pool in service, as in the criterion bench.
    let mut snap = Snapshot::default();
    for _ in 0..2 * reps {
        let plan = decide(&cfg, &lead, &snap, now);
        snap.apply(&plan);
    }
    let (mut decision, mut matching) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        let t = cpu_seconds();
        for _ in 0..n {
            if first {
                decide_config::as_just_read(&mut snap);
            }
            std::hint::black_box(decide(&cfg, &lead, &snap, now));
        }
        decision = decision.min((cpu_seconds() - t) / n as f64 * 1e9);
        let t = cpu_seconds();
        for _ in 0..n {
            std::hint::black_box(cfg.match_rule(std::hint::black_box(&lead)));
        }
        matching = matching.min((cpu_seconds() - t) / n as f64 * 1e9);
    }
    println!(
        "{rules} rules, {reps} reps: decide {decision:.0} ns, match_rule {matching:.0} ns (CPU time, best of 3)"
    );
}
