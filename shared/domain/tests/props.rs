//! Property tests of fairness and caps over arbitrary sequences of leads and availability changes.

use std::collections::HashMap;

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::routing::{Snapshot, decide};
use leadrouter_domain::state::{Availability, RepState};
use leadrouter_lead::Lead;
use proptest::prelude::*;
use uuid::Uuid;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn lead(at: DateTime<Utc>) -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: at,
        source: "api".into(),
        ..Lead::default()
    }
}

fn pool_config(
    strategy: &str,
    reps: &[(String, u32, Option<u32>, Option<u32>)],
    makeup: &str,
) -> RoutingConfig {
    let mut src = String::new();
    for (id, weight, max_open, max_day) in reps {
        src.push_str(&format!("[[reps]]\nid = \"{id}\"\nweight = {weight}\n"));
        if let Some(m) = max_open {
            src.push_str(&format!("max_open_leads = {m}\n"));
        }
        if let Some(m) = max_day {
            src.push_str(&format!("max_per_day = {m}\n"));
        }
    }
    let members: Vec<String> = reps.iter().map(|r| format!("\"{}\"", r.0)).collect();
    src.push_str(&format!(
        "[[pools]]\nid = \"p\"\nmembers = [{}]\nstrategy = \"{strategy}\"\n{makeup}\n[[rules]]\nname = \"default\"\npool = \"p\"\n",
        members.join(", ")
    ));
    RoutingConfig::parse(&src, Format::Toml, "prop.toml").unwrap_or_else(|e| panic!("{e}"))
}

#[derive(Debug, Clone)]
enum Event {
    Lead,
    Toggle(usize),
    Close(usize),
}

fn events() -> impl Strategy<Value = Vec<Event>> {
    prop::collection::vec(
        prop_oneof![
            6 => Just(Event::Lead),
            2 => (0usize..4).prop_map(Event::Toggle),
            2 => (0usize..6).prop_map(Event::Close),
        ],
        1..300,
    )
}

fn toggle(snap: &mut Snapshot, rep: &str) {
    let mut s = snap
        .reps
        .get(rep)
        .cloned()
        .unwrap_or_else(|| RepState::new(rep));
    s.availability = match s.availability {
        Some(Availability::Away) => Some(Availability::Available),
        _ => Some(Availability::Away),
    };
    snap.reps.insert(rep.into(), s);
}

fn close(snap: &mut Snapshot, rep: &str) {
    if let Some(s) = snap.reps.get_mut(rep) {
        s.open_leads = s.open_leads.saturating_sub(1);
    }
}

proptest! {
    /// Round robin: reps that are always eligible stay within one lead of each other, whatever
    /// the others do (come and go, hit caps), under either make-up policy.
    #[test]
    fn round_robin_keeps_always_eligible_reps_within_one(evs in events(), credit in any::<bool>()) {
        // r0..r3 come and go and have caps; s0 and s1 are always eligible (no caps, never toggled).
        let mut reps: Vec<(String, u32, Option<u32>, Option<u32>)> =
            (0..4).map(|i| (format!("r{i}"), 1, Some(2), None)).collect();
        reps.insert(1, ("s0".into(), 1, None, None));
        reps.push(("s1".into(), 1, None, None));
        let makeup = if credit { "makeup = { policy = \"credit\", max = 2 }" } else { "" };
        let cfg = pool_config("round_robin", &reps, makeup);
        let mut snap = Snapshot::default();
        let mut counts: HashMap<String, i64> = HashMap::new();
        let now = start();
        for ev in evs {
            match ev {
                Event::Lead => {
                    let plan = decide(&cfg, &lead(now), &snap, now);
                    snap.apply(&plan);
                    if let Some(o) = plan.owner { *counts.entry(o).or_default() += 1; }
                    let a = counts.get("s0").copied().unwrap_or(0);
                    let b = counts.get("s1").copied().unwrap_or(0);
                    prop_assert!((a - b).abs() <= 1, "s0={a} s1={b}");
                }
                Event::Toggle(i) => toggle(&mut snap, &format!("r{i}")),
                Event::Close(i) => close(&mut snap, &format!("r{}", i % 4)),
            }
        }
    }

    /// Weighted: with a fixed set of eligible reps, every rep stays within two leads of its
    /// weight's share after every single assignment (smooth weighted round robin keeps it within
    /// about one: weights 3, 3, 1, 9, 9, 9 put the last rep 1.03 leads behind after 19
    /// assignments, the case proptest found and `props.proptest-regressions` keeps).
    #[test]
    fn weighted_tracks_weight_shares_within_one(weights in prop::collection::vec(1u32..=9, 1..7), n in 1usize..400) {
        let reps: Vec<(String, u32, Option<u32>, Option<u32>)> =
            weights.iter().enumerate().map(|(i, w)| (format!("r{i}"), *w, None, None)).collect();
        let cfg = pool_config("weighted", &reps, "");
        let total: u32 = weights.iter().sum();
        let mut snap = Snapshot::default();
        let mut counts = vec![0f64; weights.len()];
        for k in 1..=n {
            let plan = decide(&cfg, &lead(start()), &snap, start());
            snap.apply(&plan);
            let owner = plan.owner.expect("everyone is eligible");
            let idx: usize = owner[1..].parse().expect("rN");
            counts[idx] += 1.0;
            for (i, w) in weights.iter().enumerate() {
                let share = k as f64 * f64::from(*w) / f64::from(total);
                prop_assert!((counts[i] - share).abs() < 2.0, "after {k}: r{i} has {} for share {share}", counts[i]);
            }
        }
    }

    /// No strategy ever assigns past a rep's open-lead or daily cap, across days and closes.
    #[test]
    fn caps_are_never_exceeded(
        strategy in prop_oneof![Just("round_robin"), Just("weighted"), Just("least_loaded")],
        caps in prop::collection::vec((1u32..4, prop::option::of(1u32..5), prop::option::of(1u32..6)), 1..5),
        evs in events(),
    ) {
        let reps: Vec<(String, u32, Option<u32>, Option<u32>)> =
            caps.iter().enumerate().map(|(i, (w, o, d))| (format!("r{i}"), *w, *o, *d)).collect();
        let cfg = pool_config(strategy, &reps, "");
        let mut snap = Snapshot::default();
        let mut now = start();
        let mut per_day: HashMap<(String, chrono::NaiveDate), u32> = HashMap::new();
        for ev in evs {
            now += Duration::minutes(37);
            match ev {
                Event::Lead => {
                    let plan = decide(&cfg, &lead(now), &snap, now);
                    snap.apply(&plan);
                    if let Some(owner) = plan.owner {
                        let rep = cfg.rep(&owner).expect("configured");
                        let state = &snap.reps[&owner];
                        if let Some(max) = rep.max_open_leads {
                            prop_assert!(state.open_leads <= max, "{owner} open {} > {max}", state.open_leads);
                        }
                        let day = now.with_timezone(&rep.timezone).date_naive();
                        let n = per_day.entry((owner.clone(), day)).or_default();
                        *n += 1;
                        if let Some(max) = rep.max_per_day {
                            prop_assert!(*n <= max, "{owner} got {n} leads on {day}, cap {max}");
                        }
                    }
                }
                Event::Toggle(i) => toggle(&mut snap, &format!("r{}", i % caps.len())),
                Event::Close(i) => close(&mut snap, &format!("r{}", i % caps.len())),
            }
        }
    }
}
