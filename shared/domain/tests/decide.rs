//! The pure routing decision: strategies, eligibility reasons, fallbacks, ownership.

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadrouter_domain::config::{Format, RoutingConfig};
use leadrouter_domain::decision::{Ineligible, Outcome, StepKind};
use leadrouter_domain::ports::EmailOwner;
use leadrouter_domain::record::LeadStatus;
use leadrouter_domain::routing::{Plan, Snapshot, decide};
use leadrouter_domain::state::{Availability, OutOfOffice, RepState};
use leadrouter_lead::Lead;
use uuid::Uuid;

fn cfg(src: &str) -> RoutingConfig {
    RoutingConfig::parse(src, Format::Toml, "t.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// Monday 2026-11-23 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 12, 0, 0)
        .single()
        .expect("valid time")
}

fn lead() -> Lead {
    Lead {
        id: Uuid::now_v7(),
        received_at: noon(),
        source: "api".into(),
        email: Some(format!("{}@corp.example", Uuid::now_v7())),
        ..Lead::default()
    }
}

fn pool_cfg(strategy: &str, extra_rep: &str, extra_pool: &str) -> RoutingConfig {
    cfg(&format!(
        r#"
[[reps]]
id = "a"
weight = 3
{extra_rep}
[[reps]]
id = "b"
[[reps]]
id = "c"
[[pools]]
id = "p"
members = ["a", "b", "c"]
strategy = "{strategy}"
{extra_pool}
[[rules]]
name = "default"
pool = "p"
"#
    ))
}

/// Routes `n` leads in sequence, applying each plan, and returns the owners.
fn route_n(cfg: &RoutingConfig, snap: &mut Snapshot, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let plan = decide(cfg, &lead(), snap, noon());
            snap.apply(&plan);
            plan.owner.unwrap_or_else(|| "-".into())
        })
        .collect()
}

fn set(snap: &mut Snapshot, rep: &str, f: impl FnOnce(&mut RepState)) {
    let mut s = snap
        .reps
        .get(rep)
        .cloned()
        .unwrap_or_else(|| RepState::new(rep));
    f(&mut s);
    snap.reps.insert(rep.into(), s);
}

fn reasons_of(plan: &Plan, rep: &str) -> Vec<Ineligible> {
    plan.decision
        .steps
        .iter()
        .flat_map(|s| &s.candidates)
        .find(|c| c.rep == rep)
        .map(|c| c.reasons.clone())
        .unwrap_or_default()
}

#[test]
fn round_robin_rotates_in_member_order() {
    let c = pool_cfg("round_robin", "", "");
    let mut snap = Snapshot::default();
    assert_eq!(
        route_n(&c, &mut snap, 7),
        ["a", "b", "c", "a", "b", "c", "a"]
    );
}

#[test]
fn round_robin_rep_back_from_away_gets_one_turn_not_a_flood() {
    let c = pool_cfg("round_robin", "", "");
    let mut snap = Snapshot::default();
    set(&mut snap, "c", |s| {
        s.availability = Some(Availability::Away)
    });
    assert_eq!(route_n(&c, &mut snap, 6), ["a", "b", "a", "b", "a", "b"]);
    set(&mut snap, "c", |s| {
        s.availability = Some(Availability::Available)
    });
    // c was assigned least recently (never), so c goes first, then the rotation continues.
    assert_eq!(route_n(&c, &mut snap, 4), ["c", "a", "b", "c"]);
}

#[test]
fn round_robin_credit_pays_back_turns_missed_at_a_cap() {
    let c = pool_cfg(
        "round_robin",
        "max_open_leads = 1",
        "makeup = { policy = \"credit\", max = 2 }",
    );
    let mut snap = Snapshot::default();
    // a takes the first lead and is then at its cap of 1 open lead.
    assert_eq!(
        route_n(&c, &mut snap, 7),
        ["a", "b", "c", "b", "c", "b", "c"]
    );
    assert_eq!(
        snap.pools["p"].members.get("a").map(|t| t.credits),
        Some(2),
        "two rounds missed, capped at max 2"
    );
    set(&mut snap, "a", |s| s.open_leads = 0);
    // Back under the cap: a is paid its two credited turns first.
    let mut order = route_n(&c, &mut snap, 1);
    set(&mut snap, "a", |s| s.open_leads = 0);
    order.extend(route_n(&c, &mut snap, 1));
    set(&mut snap, "a", |s| s.open_leads = 0);
    order.extend(route_n(&c, &mut snap, 3));
    assert_eq!(order[..2], ["a", "a"]);
    assert_eq!(snap.pools["p"].members.get("a").map(|t| t.credits), Some(0));
}

#[test]
fn round_robin_forget_policy_gives_no_extra_turns() {
    let c = pool_cfg("round_robin", "max_open_leads = 1", "");
    let mut snap = Snapshot::default();
    route_n(&c, &mut snap, 7);
    set(&mut snap, "a", |s| s.open_leads = 0);
    let order = route_n(&c, &mut snap, 3);
    assert_eq!(order[0], "a");
    assert_ne!(order[1], "a");
}

#[test]
fn weighted_interleaves_smoothly() {
    let c = cfg(r#"
[[reps]]
id = "a"
weight = 3
[[reps]]
id = "b"
[[pools]]
id = "p"
members = ["a", "b"]
strategy = "weighted"
[[rules]]
name = "default"
pool = "p"
"#);
    let mut snap = Snapshot::default();
    assert_eq!(
        route_n(&c, &mut snap, 8),
        ["a", "a", "b", "a", "a", "a", "b", "a"]
    );
}

#[test]
fn weighted_is_smooth_for_5_1_1() {
    // nginx's documented sequence for weights 5, 1, 1: a a b a c a a.
    let c = pool_cfg("weighted", "", "").clone();
    let c = {
        let mut c = c;
        for r in &mut c.reps {
            r.weight = if r.id == "a" { 5 } else { 1 };
        }
        c
    };
    let mut snap = Snapshot::default();
    assert_eq!(
        route_n(&c, &mut snap, 7),
        ["a", "a", "b", "a", "c", "a", "a"]
    );
}

#[test]
fn least_loaded_picks_fewest_open_then_least_recent() {
    let c = pool_cfg("least_loaded", "", "");
    let mut snap = Snapshot::default();
    set(&mut snap, "a", |s| s.open_leads = 5);
    set(&mut snap, "b", |s| s.open_leads = 2);
    set(&mut snap, "c", |s| s.open_leads = 2);
    let order = route_n(&c, &mut snap, 4);
    // b and c tie at 2 (b first by member order), then c (2 < 3), then b and c at 3 again.
    assert_eq!(order, ["b", "c", "b", "c"]);
}

#[test]
fn claim_pool_leaves_the_lead_waiting() {
    let c = pool_cfg("claim", "", "");
    let plan = decide(&c, &lead(), &Snapshot::default(), noon());
    assert_eq!(plan.status, LeadStatus::AwaitingClaim);
    assert_eq!(plan.owner, None);
    assert_eq!(
        plan.decision.outcome,
        Outcome::AwaitingClaim { pool: "p".into() }
    );
}

#[test]
fn every_ineligibility_reason_is_recorded() {
    let c = cfg(r#"
[[reps]]
id = "away"
status = "away"
[[reps]]
id = "ooo"
out_of_office = [{ from = "2026-11-20", to = "2026-11-30" }]
[[reps]]
id = "night"
timezone = "Asia/Tokyo"
working_hours = ["mon-fri 09:00-17:00"]
[[reps]]
id = "full"
max_open_leads = 2
[[reps]]
id = "daily"
max_per_day = 1
[[reps]]
id = "noskill"
languages = ["de"]
territories = ["US"]
[[pools]]
id = "p"
members = ["away", "ooo", "night", "full", "daily", "noskill"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
require_skills = ["enterprise"]
require_languages = ["fr"]
match_territory = true
"#);
    let mut snap = Snapshot::default();
    set(&mut snap, "full", |s| s.open_leads = 2);
    set(&mut snap, "daily", |s| {
        s.day = Some(noon().date_naive());
        s.assigned_today = 1;
    });
    let mut l = lead();
    l.country = Some("DE".into());
    let plan = decide(&c, &l, &snap, noon());
    assert_eq!(plan.status, LeadStatus::Unassigned);
    assert!(reasons_of(&plan, "away").contains(&Ineligible::Away));
    assert!(matches!(
        reasons_of(&plan, "ooo")[0],
        Ineligible::OutOfOffice { .. }
    ));
    // 12:00 UTC is 21:00 in Tokyo.
    assert!(reasons_of(&plan, "night").contains(&Ineligible::OutsideHours));
    assert!(reasons_of(&plan, "full").contains(&Ineligible::OverOpenCap { open: 2, max: 2 }));
    assert!(reasons_of(&plan, "daily").contains(&Ineligible::OverDailyCap { today: 1, max: 1 }));
    let ns = reasons_of(&plan, "noskill");
    assert!(ns.contains(&Ineligible::MissingSkill {
        skill: "enterprise".into()
    }));
    assert!(ns.contains(&Ineligible::MissingLanguage {
        languages: vec!["fr".into()]
    }));
    assert!(ns.contains(&Ineligible::OutsideTerritory {
        territory: "DE".into()
    }));
    match &plan.decision.outcome {
        Outcome::Unassigned { pool, reason } => {
            assert_eq!(pool, "p");
            assert!(reason.contains("1 away"), "{reason}");
            assert!(reason.contains("outside working hours"), "{reason}");
        }
        other => panic!("expected unassigned, got {other:?}"),
    }
}

#[test]
fn daily_cap_resets_on_the_reps_local_day() {
    let c = cfg(r#"
[[reps]]
id = "a"
timezone = "America/Los_Angeles"
max_per_day = 1
[[pools]]
id = "p"
members = ["a"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#);
    let mut snap = Snapshot::default();
    let plan = decide(&c, &lead(), &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("a"));
    snap.apply(&plan);
    // 20:00 UTC is still Monday in Los Angeles: capped.
    let evening = noon() + Duration::hours(8);
    assert_eq!(decide(&c, &lead(), &snap, evening).owner, None);
    // 09:00 UTC Tuesday is 01:00 Tuesday in Los Angeles: a new day.
    let next_day = noon() + Duration::hours(21);
    assert_eq!(
        decide(&c, &lead(), &snap, next_day).owner.as_deref(),
        Some("a")
    );
}

#[test]
fn api_out_of_office_and_working_hours_toggle() {
    let c = cfg(r#"
[[reps]]
id = "a"
working_hours = ["mon-fri 09:00-17:00"]
[[pools]]
id = "strict"
members = ["a"]
strategy = "round_robin"
[[pools]]
id = "anytime"
members = ["a"]
strategy = "round_robin"
respect_working_hours = false
[[rules]]
name = "night"
when = { field = "source", equals = "night" }
pool = "anytime"
[[rules]]
name = "default"
pool = "strict"
"#);
    let mut snap = Snapshot::default();
    let sat = Utc
        .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
        .single()
        .expect("time");
    assert_eq!(decide(&c, &lead(), &snap, sat).owner, None);
    let mut l = lead();
    l.source = "night".into();
    assert_eq!(decide(&c, &l, &snap, sat).owner.as_deref(), Some("a"));
    set(&mut snap, "a", |s| {
        s.out_of_office = vec![OutOfOffice {
            from: noon() - Duration::hours(1),
            until: noon() + Duration::hours(1),
        }]
    });
    assert_eq!(decide(&c, &lead(), &snap, noon()).owner, None);
    assert_eq!(
        decide(&c, &lead(), &snap, noon() + Duration::hours(2))
            .owner
            .as_deref(),
        Some("a")
    );
}

const FALLBACKS: &str = r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[reps]]
id = "boss"
[[pools]]
id = "first"
members = ["a"]
strategy = "round_robin"
fallback = { pool = "second" }
[[pools]]
id = "second"
members = ["b"]
strategy = "least_loaded"
fallback = { rep = "boss" }
[[pools]]
id = "bosses"
members = ["boss"]
strategy = "round_robin"
[[accounts]]
name = "Acme Group"
owner = "b"
[[accounts]]
name = "Acme"
domains = ["acme.com"]
parent = "Acme Group"
[[rules]]
name = "spam"
when = { field = "email_domain", equals = "mailinator.com" }
outcome = "spam"
[[rules]]
name = "nurture"
when = { field = "score", lt = 10 }
outcome = "nurture"
[[rules]]
name = "vip"
when = { field = "custom.vip", equals = true }
rep = "boss"
[[rules]]
name = "default"
pool = "first"
"#;

#[test]
fn fallback_chain_pool_then_rep_then_unassigned() {
    let c = cfg(FALLBACKS);
    let mut snap = Snapshot::default();
    let plan = decide(&c, &lead(), &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("a"));
    set(&mut snap, "a", |s| {
        s.availability = Some(Availability::Away)
    });
    let plan = decide(&c, &lead(), &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("b"));
    assert_eq!(plan.pool.as_deref(), Some("second"));
    set(&mut snap, "b", |s| {
        s.availability = Some(Availability::Away)
    });
    let plan = decide(&c, &lead(), &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("boss"));
    assert!(matches!(
        plan.decision.steps.last().map(|s| &s.kind),
        Some(StepKind::FallbackRep { .. })
    ));
    set(&mut snap, "boss", |s| {
        s.availability = Some(Availability::Away)
    });
    let plan = decide(&c, &lead(), &snap, noon());
    assert_eq!(plan.status, LeadStatus::Unassigned);
    assert_eq!(
        plan.pool.as_deref(),
        Some("first"),
        "waits in the rule's pool"
    );
    assert_eq!(plan.decision.steps.len(), 3);
}

#[test]
fn no_rep_outcomes_and_named_reps() {
    let c = cfg(FALLBACKS);
    let snap = Snapshot::default();
    let mut l = lead();
    l.email = Some("x@mailinator.com".into());
    assert_eq!(decide(&c, &l, &snap, noon()).status, LeadStatus::Spam);
    let mut l = lead();
    l.score = Some(3.0);
    let plan = decide(&c, &l, &snap, noon());
    assert_eq!(plan.status, LeadStatus::Nurture);
    assert_eq!(plan.decision.rule.name, "nurture");
    let mut l = lead();
    l.custom.insert("vip".into(), serde_json::json!(true));
    assert_eq!(decide(&c, &l, &snap, noon()).owner.as_deref(), Some("boss"));
    let mut away = Snapshot::default();
    set(&mut away, "boss", |s| {
        s.availability = Some(Availability::Away)
    });
    let plan = decide(&c, &l, &away, noon());
    assert_eq!(plan.status, LeadStatus::Unassigned);
    assert_eq!(plan.pool.as_deref(), Some("rep:boss"));
}

#[test]
fn account_owner_through_parent_then_pool_when_unavailable() {
    let c = cfg(FALLBACKS);
    let mut snap = Snapshot::default();
    let mut l = lead();
    l.company_domain = Some("acme.com".into());
    let plan = decide(&c, &l, &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("b"));
    assert!(
        matches!(&plan.decision.steps[0].kind, StepKind::AccountOwner { account } if account == "Acme")
    );
    assert_eq!(
        plan.rotation, None,
        "an owner assignment does not use a rotation turn"
    );
    set(&mut snap, "b", |s| {
        s.availability = Some(Availability::Away)
    });
    let plan = decide(&c, &l, &snap, noon());
    assert_eq!(
        plan.owner.as_deref(),
        Some("a"),
        "falls back to the rule's pool"
    );
}

#[test]
fn sticky_routing_within_the_window_only() {
    let c = cfg(FALLBACKS);
    let l = lead();
    let mut snap = Snapshot {
        email_owner: Some(EmailOwner {
            email: l.email.clone().unwrap_or_default(),
            rep: "boss".into(),
            lead_id: Uuid::now_v7(),
            at: noon() - Duration::days(30),
        }),
        ..Snapshot::default()
    };
    let plan = decide(&c, &l, &snap, noon());
    assert_eq!(plan.owner.as_deref(), Some("boss"));
    assert!(matches!(
        plan.decision.steps[0].kind,
        StepKind::Sticky { .. }
    ));
    if let Some(o) = snap.email_owner.as_mut() {
        o.at = noon() - Duration::days(91);
    }
    assert_eq!(decide(&c, &l, &snap, noon()).owner.as_deref(), Some("a"));
}

#[test]
fn assignment_bumps_the_owners_counters() {
    let c = pool_cfg("round_robin", "", "");
    let plan = decide(&c, &lead(), &Snapshot::default(), noon());
    let rep = plan.rep.expect("counters");
    assert_eq!(
        (rep.rep.as_str(), rep.open_leads, rep.assigned_today),
        ("a", 1, 1)
    );
    assert_eq!(rep.day, Some(noon().date_naive()));
    let rot = plan.rotation.expect("rotation");
    // One member changed: a took turn 1.
    assert_eq!(rot.pool, "p");
    assert_eq!(rot.members.len(), 1);
    assert_eq!(
        (rot.members[0].0.as_str(), rot.members[0].1.last_turn),
        ("a", 1)
    );
}

#[test]
fn editing_the_member_list_keeps_everyones_turn() {
    let before = pool_cfg("round_robin", "", "");
    let mut snap = Snapshot::default();
    assert_eq!(route_n(&before, &mut snap, 4), ["a", "b", "c", "a"]);
    // The admin adds rep d and removes nobody: the rotation state is keyed by rep, so a, b and c
    // keep their places; the newcomer (never assigned) goes first once, then the rotation goes on
    // where it was (b is next).
    let after = cfg(r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[reps]]
id = "c"
[[reps]]
id = "d"
[[pools]]
id = "p"
members = ["d", "a", "b", "c"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#);
    assert_eq!(route_n(&after, &mut snap, 5), ["d", "b", "c", "a", "d"]);
    // Removing c leaves a, b and d in their order too.
    let removed = cfg(r#"
[[reps]]
id = "a"
[[reps]]
id = "b"
[[reps]]
id = "d"
[[pools]]
id = "p"
members = ["a", "b", "d"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "p"
"#);
    assert_eq!(route_n(&removed, &mut snap, 3), ["b", "a", "d"]);
}
