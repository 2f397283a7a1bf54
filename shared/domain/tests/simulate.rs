//! The simulator replays leads with a simulated clock: rotation, daily caps in the rep's time
//! zone, working hours, closing leads, and the comparison of two configs.

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::record::LeadStatus;
use leadrouter_domain::simulate::{Comparison, Options, Simulator};
use leadrouter_lead::Lead;

fn cfg(src: &str) -> RoutingConfig {
    RoutingConfig::parse(src, Format::Toml, "t.toml").expect("config")
}

fn lead(n: u32, at: DateTime<Utc>) -> Lead {
    Lead {
        id: uuid::Uuid::from_u128(u128::from(n) + 1),
        received_at: at,
        source: "sim".into(),
        email: Some(format!("p{n}@acme-corp.io")),
        ..Lead::default()
    }
}

const TEAM: &str = r#"
[settings]
sticky_days = 0
[[reps]]
id = "a"
max_per_day = 3
[[reps]]
id = "b"
timezone = "Europe/Berlin"
working_hours = ["mon-fri 09:00-17:00"]
[[reps]]
id = "c"
[[pools]]
id = "p"
members = ["a", "b", "c"]
strategy = "round_robin"
sla = { accept_within = "30m" }
[[rules]]
name = "default"
pool = "p"
"#;

#[test]
fn replays_with_caps_hours_and_fairness() {
    let cfg = cfg(TEAM);
    let mut sim = Simulator::new(&cfg, Options::default());
    // Monday 10:00 UTC (11:00 Berlin): all three working; 12 leads a minute apart.
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("t");
    let mut owners = Vec::new();
    for n in 0..12 {
        let a = sim.route(&lead(n, t0 + Duration::minutes(i64::from(n))));
        assert_eq!(a.status, LeadStatus::Assigned);
        assert_eq!(a.due_at, Some(a.received_at + Duration::minutes(30)));
        owners.push(a.owner.expect("owner"));
    }
    // Round robin a, b, c until a's daily cap of 3, then b and c alternate.
    assert_eq!(owners.iter().filter(|o| *o == "a").count(), 3);
    assert_eq!(owners.iter().filter(|o| *o == "b").count(), 5);
    assert_eq!(owners.iter().filter(|o| *o == "c").count(), 4);
    // At 20:00 UTC b is off shift and a is capped: c takes it.
    let night = sim.route(&lead(100, t0 + Duration::hours(10)));
    assert_eq!(night.owner.as_deref(), Some("c"));
    // Next day a's cap has reset.
    let tomorrow = sim.route(&lead(101, t0 + Duration::days(1)));
    assert_eq!(tomorrow.owner.as_deref(), Some("a"));
    let report = sim.finish();
    assert_eq!(report.leads, 14);
    assert_eq!(report.by_rep.get("c"), Some(&5));
    // a was passed over for its cap whenever it was next in the rotation: leads 9, 10 and 11
    // (it keeps its old turn, so it stays first in line) and the night lead.
    assert_eq!(report.caps_hit.get("a"), Some(&4), "{:?}", report.caps_hit);
    let f = report.fairness.get("p").expect("fairness");
    assert_eq!(f.spread, 1, "4/5/5 after the cap");
    assert_eq!(report.deadline_p50_secs, Some(1800));
}

#[test]
fn nobody_working_is_reported_unroutable_with_the_reason() {
    let cfg = cfg(r#"
[[reps]]
id = "day"
working_hours = ["mon-fri 09:00-17:00"]
[[pools]]
id = "p"
members = ["day"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#);
    let mut sim = Simulator::new(&cfg, Options::default());
    let sunday = Utc
        .with_ymd_and_hms(2026, 11, 22, 12, 0, 0)
        .single()
        .expect("t");
    let a = sim.route(&lead(1, sunday));
    assert_eq!(a.status, LeadStatus::Unassigned);
    let report = sim.finish();
    assert_eq!(report.unroutable.values().sum::<usize>(), 1);
    assert!(
        report
            .unroutable
            .keys()
            .any(|k| k.contains("outside working hours")),
        "{:?}",
        report.unroutable
    );
}

#[test]
fn comparing_two_configs_counts_what_moves() {
    let a = cfg(TEAM);
    let b = cfg(&TEAM.replace(
        "[[rules]]\nname = \"default\"",
        "[[pools]]\nid = \"q\"\nmembers = [\"c\"]\nstrategy = \"round_robin\"\n[[rules]]\nname = \"big\"\nwhen = { field = \"seats\", gte = 100 }\npool = \"q\"\n[[rules]]\nname = \"default\"",
    ));
    let t0 = Utc
        .with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("t");
    let (mut sa, mut sb) = (
        Simulator::new(&a, Options::default()),
        Simulator::new(&b, Options::default()),
    );
    let mut cmp = Comparison::default();
    for n in 0..10 {
        let mut l = lead(n, t0 + Duration::minutes(i64::from(n)));
        l.seats = Some(if n % 2 == 0 { 500 } else { 5 });
        cmp.add(&sa.route(&l), &sb.route(&l));
    }
    cmp.top(5);
    assert_eq!(cmp.leads, 10);
    assert_eq!(cmp.pool_changed, 5, "the big leads move to q");
    assert_eq!(cmp.pool_moves, vec![("p → q".to_owned(), 5)]);
    assert_eq!(cmp.status_changed, 0);
    assert!(cmp.owner_changed >= 3);
}
