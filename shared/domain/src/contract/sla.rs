//! The SLA contract: the sweeper's reassignment paths, the working-hours clock, escalation,
//! out-of-office release and unassigned retry, driven through the [`Engine`] with a
//! [`ManualClock`] over a real store, plus the races (sweeper against accept, two sweepers),
//! and sticky routing (a returning contact's owner, found by email, else by phone).
//!
//! Every adapter runs it, so the behaviour is the same on SQLite and DynamoDB:
//!
//! ```ignore
//! leadrouter_domain::contract::sla::sla_contract(store.clone()).await;
//! leadrouter_domain::contract::sla::sweeper_races_accept(store, 1_000).await;
//! ```
//!
//! Each scenario declares its own reps and pools under a fresh prefix, so runs can share a table.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use leadrouter_lead::Lead;
use uuid::Uuid;

use crate::config::{Format, RoutingConfig};
use crate::engine::{ActionOutcome, Claim, Engine, RepAction, RepPatch, Routed, SweepReport};
use crate::ports::{LeadQuery, ManualClock, Store};
use crate::record::{DueKind, LeadRecord, LeadStatus};
use crate::state::{Availability, OutOfOffice};

/// Monday 2026-11-23 10:00 UTC.
fn monday_10() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .unwrap_or(DateTime::UNIX_EPOCH)
}

/// A scenario: an engine with its own reps and pools (`{p}a`, `{p}sales`, ...) on `store`.
struct Scene {
    engine: Engine,
    clock: Arc<ManualClock>,
    p: String,
}

impl Scene {
    /// `toml` uses `{p}` for the scenario's prefix.
    fn new(store: Arc<dyn Store>, toml: &str) -> Scene {
        let p = format!("s{}-", &Uuid::now_v7().simple().to_string()[20..]);
        let src = toml.replace("{p}", &p);
        let cfg = match RoutingConfig::parse(&src, Format::Toml, "sla-contract.toml") {
            Ok(c) => c,
            Err(e) => panic!("contract: scenario config does not load: {e}\n{src}"),
        };
        let clock = Arc::new(ManualClock::new(monday_10()));
        let engine = Engine::new(store, cfg, clock.clone());
        Scene { engine, clock, p }
    }

    fn rep(&self, name: &str) -> String {
        format!("{}{name}", self.p)
    }

    fn at(&self, t: DateTime<Utc>) {
        self.clock.set(t);
    }

    async fn lead(&self, source: &str) -> Uuid {
        let lead = Lead {
            id: Uuid::now_v7(),
            received_at: self.engine.now(),
            source: source.to_owned(),
            ..Lead::default()
        };
        let id = lead.id;
        if let Err(e) = self.engine.ingest(lead).await {
            panic!("contract: ingest failed: {e}");
        }
        id
    }

    /// Routes a new lead with these contacts; returns its owner.
    async fn route_contact(&self, email: Option<String>, phone: Option<String>) -> String {
        let lead = Lead {
            id: Uuid::now_v7(),
            received_at: self.engine.now(),
            source: "web".into(),
            email,
            phone,
            ..Lead::default()
        };
        match self.engine.ingest(lead).await {
            Ok(Routed::Assigned { rep }) => rep,
            other => panic!("contract: not assigned: {other:?}"),
        }
    }

    async fn get(&self, id: Uuid) -> LeadRecord {
        match self.engine.store().get_lead(id).await {
            Ok(Some(r)) => r,
            other => panic!("contract: lead {id} not readable: {other:?}"),
        }
    }

    async fn sweep(&self) -> SweepReport {
        match self.engine.sweep().await {
            Ok(r) => r,
            Err(e) => panic!("contract: sweep failed: {e}"),
        }
    }

    async fn open_leads(&self, rep: &str) -> u32 {
        match self.engine.store().get_reps(&[self.rep(rep)]).await {
            Ok(states) => states.first().map_or(0, |s| s.open_leads),
            Err(e) => panic!("contract: get_reps failed: {e}"),
        }
    }

    /// Marks every open lead of `ids` contacted by its owner, so that no deadline of this
    /// scenario is left for the next one's sweeps (they share the store).
    async fn close(&self, ids: &[Uuid]) {
        for id in ids {
            let rec = self.get(*id).await;
            if let (LeadStatus::Assigned | LeadStatus::Accepted, Some(owner)) =
                (rec.status, rec.owner.as_deref())
                && let Err(e) = self.engine.act(*id, owner, RepAction::Contacted).await
            {
                panic!("contract: closing contact failed: {e}");
            }
            assert!(
                self.get(*id).await.due.is_none(),
                "contract: scenario left a deadline on {id}"
            );
        }
    }

    async fn patch(&self, rep: &str, patch: RepPatch) {
        if let Err(e) = self.engine.update_rep(&self.rep(rep), patch).await {
            panic!("contract: update_rep failed: {e}");
        }
    }
}

fn events(rec: &LeadRecord) -> Vec<&str> {
    rec.history.iter().map(|h| h.event.as_str()).collect()
}

/// A sales team of three with a 15-minute accept SLA, two reassignments, then the manager.
const SALES: &str = r#"
[settings]
sticky_days = 0
[[reps]]
id = "{p}a"
[[reps]]
id = "{p}b"
[[reps]]
id = "{p}c"
[[reps]]
id = "{p}mgr"
[[pools]]
id = "{p}sales"
members = ["{p}a", "{p}b", "{p}c"]
strategy = "round_robin"
sla = { accept_within = "15m", max_reassignments = 2, escalate = { rep = "{p}mgr" } }
[[pools]]
id = "{p}managers"
members = ["{p}mgr"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "{p}sales"
"#;

/// Runs every SLA scenario.
pub async fn sla_contract(store: Arc<dyn Store>) {
    reassigns_in_rotation_then_escalates(store.clone()).await;
    deadline_counts_working_hours(store.clone()).await;
    waiting_leads_retry_then_escalate(store.clone()).await;
    absent_owner_leads_move_on(store.clone()).await;
    claim_pool_takes_overdue_leads_back(store.clone()).await;
    any_available_and_accepted_leads(store.clone()).await;
    stranded_hand_back_is_finished_by_the_sweep(store.clone()).await;
    sticky_owner_by_email_then_phone(store).await;
}

/// Three reps in rotation, sticky routing on.
const STICKY: &str = r#"
[settings]
sticky_days = 30
[[reps]]
id = "{p}a"
[[reps]]
id = "{p}b"
[[reps]]
id = "{p}c"
[[pools]]
id = "{p}sales"
members = ["{p}a", "{p}b", "{p}c"]
strategy = "round_robin"
[[rules]]
name = "default"
pool = "{p}sales"
"#;

/// A returning contact goes to its earlier owner: found by email, else by phone, the email's
/// owner winning when both have one; a lead id sent again with other contacts is routed by
/// the contacts stored first.
pub async fn sticky_owner_by_email_then_phone(store: Arc<dyn Store>) {
    let s = Scene::new(store.clone(), STICKY);
    let email = |name: &str| Some(format!("{name}@{}example.com", s.p));
    let phone = Some(format!("+1202{:07}", Uuid::now_v7().as_u128() % 10_000_000));
    let route = |email, phone| s.route_contact(email, phone);

    let first = route(email("ana"), phone.clone()).await;
    let by_email = route(email("ana"), None).await;
    assert_eq!(by_email, first, "contract: same email, same owner");
    let by_phone = route(email("bo"), phone.clone()).await;
    assert_eq!(
        by_phone, first,
        "contract: no owner by email, same phone: same owner"
    );
    // New contacts take the next reps in rotation: one of them gets another owner.
    let mut other = None;
    for n in 0..3 {
        let name = format!("cy{n}");
        let rep = route(email(&name), None).await;
        if rep != first {
            other = Some((name, rep));
            break;
        }
    }
    let Some((name, other)) = other else {
        panic!("contract: the rotation never moved on from {first}");
    };
    let both = route(email(&name), phone.clone()).await;
    assert_eq!(
        both, other,
        "contract: the email's owner wins over the phone's"
    );

    // Stored first with Ana's email (a crash before routing), then sent again with the email
    // of another rep's contact: the stored contacts count.
    let mut lead = Lead {
        id: Uuid::now_v7(),
        received_at: s.engine.now(),
        source: "web".into(),
        email: email("ana"),
        ..Lead::default()
    };
    if let Err(e) = store.insert_lead(&LeadRecord::received(lead.clone())).await {
        panic!("contract: insert failed: {e}");
    }
    lead.email = email(&name);
    match s.engine.ingest(lead).await {
        Ok(Routed::Assigned { rep }) => {
            assert_eq!(rep, first, "contract: routed by the stored lead's contacts");
        }
        other => panic!("contract: not assigned: {other:?}"),
    }
}

/// A decline writes the hand-back, then routes; a crash in between leaves the lead `queued`
/// with nobody to route it. The next sweep (a minute later) routes it.
pub async fn stranded_hand_back_is_finished_by_the_sweep(store: Arc<dyn Store>) {
    let s = Scene::new(store.clone(), SALES);
    let t0 = monday_10();
    let mut rec = LeadRecord::received(Lead {
        id: Uuid::now_v7(),
        received_at: t0,
        source: "web".into(),
        ..Lead::default()
    });
    rec.declined_by = vec![s.rep("a")];
    rec.history.push(crate::record::HistoryEntry {
        at: t0,
        event: "declined".into(),
        rep: Some(s.rep("a")),
        pool: Some(s.rep("sales")),
        reason: Some("crashed before re-routing".into()),
    });
    let id = rec.lead.id;
    if let Err(e) = store.insert_lead(&rec).await {
        panic!("contract: insert failed: {e}");
    }
    s.at(t0 + Duration::seconds(30));
    s.sweep().await;
    assert_eq!(
        s.get(id).await.status,
        LeadStatus::Queued,
        "contract: too fresh to touch"
    );
    s.at(t0 + Duration::minutes(2));
    assert_eq!(s.sweep().await.assigned, 1);
    let rec = s.get(id).await;
    assert_eq!(rec.status, LeadStatus::Assigned);
    assert_ne!(
        rec.owner,
        Some(s.rep("a")),
        "contract: not back to the decliner"
    );
    s.close(&[id]).await;
}

/// Not accepted in time: the next rep in rotation who has not had it, twice, then the manager;
/// counters follow the lead; nothing happens before the deadline or after the escalation.
pub async fn reassigns_in_rotation_then_escalates(store: Arc<dyn Store>) {
    let s = Scene::new(store, SALES);
    let t0 = monday_10();
    let id = s.lead("web").await;
    let rec = s.get(id).await;
    let first = rec.owner.clone().unwrap_or_default();
    assert_eq!(rec.status, LeadStatus::Assigned, "contract: routed");
    let due = rec
        .due
        .unwrap_or_else(|| panic!("contract: an SLA pool sets a deadline"));
    assert_eq!(due.kind, DueKind::Accept);
    assert_eq!(
        due.at,
        t0 + Duration::minutes(15),
        "contract: due 15m after assignment"
    );

    s.at(t0 + Duration::minutes(14));
    assert_eq!(
        s.sweep().await.breaches,
        0,
        "contract: nothing is due before the deadline"
    );
    assert_eq!(s.get(id).await.owner.as_deref(), Some(first.as_str()));

    s.at(t0 + Duration::minutes(15));
    let report = s.sweep().await;
    assert_eq!((report.breaches, report.reassigned), (1, 1), "{report:?}");
    let rec = s.get(id).await;
    let second = rec.owner.clone().unwrap_or_default();
    assert_ne!(second, first, "contract: reassigned to someone else");
    assert_eq!(rec.previous_owners, vec![first.clone()]);
    assert_eq!(rec.reassignments, 1);
    assert_eq!(
        rec.due.map(|d| d.at),
        Some(t0 + Duration::minutes(30)),
        "contract: the new owner gets a fresh deadline"
    );
    let last = rec
        .history
        .last()
        .map(|h| (h.event.clone(), h.reason.clone()));
    assert!(
        matches!(&last, Some((e, Some(r))) if e == "reassigned" && r.contains("not accepted within 15m")),
        "contract: the history says why: {last:?}"
    );
    let first_name = first.trim_start_matches(&s.p).to_owned();
    assert_eq!(
        s.open_leads(&first_name).await,
        0,
        "contract: old owner freed"
    );

    s.at(t0 + Duration::minutes(30));
    s.sweep().await;
    let rec = s.get(id).await;
    let third = rec.owner.clone().unwrap_or_default();
    assert!(
        third != first && third != second && !third.is_empty(),
        "contract: never back to an earlier owner ({first}, {second} -> {third})"
    );

    s.at(t0 + Duration::minutes(45));
    let report = s.sweep().await;
    assert_eq!(report.escalated, 1, "{report:?}");
    let rec = s.get(id).await;
    assert_eq!(
        rec.owner,
        Some(s.rep("mgr")),
        "contract: escalated to the manager"
    );
    assert!(
        rec.escalated && rec.due.is_none(),
        "contract: escalation ends the SLA"
    );
    assert_eq!(
        events(&rec),
        [
            "received",
            "assigned",
            "reassigned",
            "reassigned",
            "escalated"
        ]
    );
    for r in ["a", "b", "c"] {
        assert_eq!(s.open_leads(r).await, 0, "contract: {r} holds nothing");
    }
    assert_eq!(s.open_leads("mgr").await, 1);

    s.at(t0 + Duration::hours(5));
    assert_eq!(s.sweep().await.breaches, 0, "contract: nothing more to do");
    s.close(&[id]).await;
}

/// The deadline counts the owner's working hours: a lead assigned at night is due relative to
/// the start of the shift. With nobody else and no escalation, the breach is recorded and the
/// lead stays.
pub async fn deadline_counts_working_hours(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        r#"
[[reps]]
id = "{p}day"
timezone = "Europe/Berlin"
working_hours = ["mon-fri 09:00-17:00"]
[[pools]]
id = "{p}desk"
members = ["{p}day"]
strategy = "round_robin"
respect_working_hours = false
sla = { accept_within = "30m" }
[[rules]]
name = "default"
pool = "{p}desk"
"#,
    );
    // Tuesday 02:00 in Berlin (01:00 UTC).
    let night = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).single();
    let night = night.unwrap_or(DateTime::UNIX_EPOCH);
    s.at(night);
    let id = s.lead("web").await;
    let rec = s.get(id).await;
    let nine_thirty = Utc.with_ymd_and_hms(2026, 11, 24, 8, 30, 0).single();
    assert_eq!(
        rec.due.map(|d| d.at),
        nine_thirty,
        "contract: due 30 working minutes after 09:00 Berlin"
    );
    s.at(night + Duration::hours(7)); // 09:00 Berlin: not yet
    assert_eq!(s.sweep().await.breaches, 0);
    s.at(night + Duration::minutes(7 * 60 + 30));
    let report = s.sweep().await;
    assert_eq!((report.breaches, report.reassigned), (1, 0), "{report:?}");
    let rec = s.get(id).await;
    assert_eq!(
        rec.owner,
        Some(s.rep("day")),
        "contract: nobody else, it stays"
    );
    assert_eq!(events(&rec).last(), Some(&"sla_breached"));
    assert!(rec.due.is_none());
    s.close(&[id]).await;
}

/// A lead nobody can take waits `unassigned`; it is handed out when someone becomes eligible,
/// and escalated when it waited longer than the pool allows.
pub async fn waiting_leads_retry_then_escalate(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        &SALES.replace(
            "[[rules]]",
            r#"[[reps]]
id = "{p}solo"
status = "away"
[[pools]]
id = "{p}solo-desk"
members = ["{p}solo"]
strategy = "round_robin"
sla = { escalate_waiting_after = "1h", escalate = { pool = "{p}sales" } }
[[rules]]
name = "solo"
when = { field = "source", equals = "solo" }
pool = "{p}solo-desk"
[[rules]]"#,
        ),
    );
    let t0 = monday_10();
    let first = s.lead("solo").await;
    let rec = s.get(first).await;
    assert_eq!(rec.status, LeadStatus::Unassigned);
    assert_eq!(
        rec.due.map(|d| (d.kind, d.at)),
        Some((DueKind::Waiting, t0 + Duration::hours(1)))
    );
    s.at(t0 + Duration::minutes(59));
    s.sweep().await;
    assert_eq!(s.get(first).await.status, LeadStatus::Unassigned);
    s.at(t0 + Duration::hours(1));
    let report = s.sweep().await;
    assert_eq!(report.escalated, 1, "{report:?}");
    let rec = s.get(first).await;
    assert_eq!(rec.status, LeadStatus::Assigned);
    assert_eq!(
        rec.pool,
        Some(s.rep("sales")),
        "contract: escalated into the pool"
    );
    assert_eq!(rec.reassignments, 0);
    assert_eq!(
        rec.due.map(|d| (d.kind, d.at)),
        Some((DueKind::Accept, t0 + Duration::minutes(75))),
        "contract: the new pool's SLA applies"
    );

    // Unassigned retry: the rep comes back and gets the next waiting lead at once.
    let second = s.lead("solo").await;
    assert_eq!(s.get(second).await.status, LeadStatus::Unassigned);
    s.patch(
        "solo",
        RepPatch {
            availability: Some(Availability::Available),
            ..RepPatch::default()
        },
    )
    .await;
    let rec = s.get(second).await;
    assert_eq!(
        rec.owner,
        Some(s.rep("solo")),
        "contract: retried when eligible"
    );
    assert!(
        rec.due.is_none(),
        "contract: the pool has no accept deadline"
    );
    s.close(&[first, second]).await;
}

/// Leads not yet accepted leave a rep who goes away (at once) or whose out-of-office starts
/// (at the next sweep); accepted leads stay.
pub async fn absent_owner_leads_move_on(store: Arc<dyn Store>) {
    // No SLA here: only absence moves leads.
    let no_sla = SALES.replace(
        r#"sla = { accept_within = "15m", max_reassignments = 2, escalate = { rep = "{p}mgr" } }"#,
        "",
    );
    let s = Scene::new(store, &no_sla);
    let t0 = monday_10();
    let mut by_owner: HashMap<String, Vec<Uuid>> = HashMap::new();
    for _ in 0..6 {
        let id = s.lead("web").await;
        let owner = s.get(id).await.owner.unwrap_or_default();
        by_owner.entry(owner).or_default().push(id);
    }
    let a = s.rep("a");
    let a_leads = by_owner.get(&a).cloned().unwrap_or_default();
    assert_eq!(a_leads.len(), 2, "contract: round robin gave a two of six");
    let kept = a_leads[0];
    match s.engine.accept(kept, &a).await {
        Ok(ActionOutcome::Done(_)) => {}
        other => panic!("contract: accept failed: {other:?}"),
    }
    s.patch(
        "a",
        RepPatch {
            availability: Some(Availability::Away),
            ..RepPatch::default()
        },
    )
    .await;
    assert_eq!(
        s.get(kept).await.owner,
        Some(a.clone()),
        "contract: accepted stays"
    );
    let moved = s.get(a_leads[1]).await;
    assert!(
        moved.owner.is_some() && moved.owner != Some(a.clone()),
        "contract: the unaccepted lead moved at once: {:?}",
        moved.owner
    );
    assert_eq!(events(&moved).last(), Some(&"reassigned"));
    assert_eq!(
        s.open_leads("a").await,
        1,
        "contract: a keeps the accepted lead"
    );

    // b's out-of-office starts in an hour: nothing moves now, everything unaccepted then.
    let b = s.rep("b");
    s.patch(
        "b",
        RepPatch {
            out_of_office: Some(vec![OutOfOffice {
                from: t0 + Duration::hours(1),
                until: t0 + Duration::days(3),
            }]),
            ..RepPatch::default()
        },
    )
    .await;
    let b_open = s.open_leads("b").await;
    assert!(b_open > 0, "contract: b has leads");
    s.at(t0 + Duration::hours(1));
    let report = s.sweep().await;
    assert_eq!(report.released as u32, b_open, "{report:?}");
    assert_eq!(s.open_leads("b").await, 0);
    let page = s
        .engine
        .store()
        .list_leads(&LeadQuery {
            owner: Some(b),
            status: Some(LeadStatus::Assigned),
            ..LeadQuery::default()
        })
        .await;
    assert!(
        page.is_ok_and(|p| p.leads.is_empty()),
        "contract: b owns nothing unaccepted"
    );
}

/// In a claim pool an overdue lead goes back to the pool for claiming; a waiting lead is
/// escalated after the pool's limit.
pub async fn claim_pool_takes_overdue_leads_back(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        &SALES.replace(
            "[[rules]]",
            r#"[[pools]]
id = "{p}queue"
members = ["{p}a", "{p}b"]
strategy = "claim"
sla = { accept_within = "10m", escalate_waiting_after = "2h", escalate = { rep = "{p}mgr" } }
[[rules]]
name = "claim"
when = { field = "source", equals = "queue" }
pool = "{p}queue"
[[rules]]"#,
        ),
    );
    let t0 = monday_10();
    let id = s.lead("queue").await;
    assert_eq!(s.get(id).await.status, LeadStatus::AwaitingClaim);
    let a = s.rep("a");
    match s.engine.claim(id, &a).await {
        Ok(Claim::Claimed(rec)) => assert_eq!(
            rec.due.map(|d| d.at),
            Some(t0 + Duration::minutes(10)),
            "contract: a claimed lead must be accepted in time"
        ),
        other => panic!("contract: claim failed: {other:?}"),
    }
    s.at(t0 + Duration::minutes(10));
    let report = s.sweep().await;
    assert_eq!(report.reassigned, 1, "{report:?}");
    let rec = s.get(id).await;
    assert_eq!(
        rec.status,
        LeadStatus::AwaitingClaim,
        "contract: back in the pool"
    );
    assert_eq!(rec.owner, None);
    assert_eq!(s.open_leads("a").await, 0);
    assert_eq!(
        rec.due.map(|d| (d.kind, d.at)),
        Some((DueKind::Waiting, t0 + Duration::minutes(130)))
    );
    s.at(t0 + Duration::minutes(130));
    assert_eq!(s.sweep().await.escalated, 1);
    assert_eq!(s.get(id).await.owner, Some(s.rep("mgr")));
    s.close(&[id]).await;
}

/// `any_available` picks the least-loaded eligible rep anywhere; a first-touch deadline
/// survives the accept.
pub async fn any_available_and_accepted_leads(store: Arc<dyn Store>) {
    let s = Scene::new(
        store,
        &SALES
            .replace(
                r#"sla = { accept_within = "15m", max_reassignments = 2, escalate = { rep = "{p}mgr" } }"#,
                r#"sla = { accept_within = "15m", first_touch_within = "1h", reassign_to = "any_available", max_reassignments = 1 }"#,
            )
            .replace(
                r#"members = ["{p}a", "{p}b", "{p}c"]"#,
                r#"members = ["{p}a"]"#,
            )
            .replace(
                "[[rules]]",
                "[[pools]]\nid = \"{p}rest\"\nmembers = [\"{p}b\", \"{p}c\"]\nstrategy = \"round_robin\"\n[[rules]]",
            ),
    );
    let t0 = monday_10();
    let id = s.lead("web").await;
    assert_eq!(s.get(id).await.owner, Some(s.rep("a")));
    match s.engine.accept(id, &s.rep("a")).await {
        Ok(ActionOutcome::Done(rec)) => assert_eq!(
            rec.due.map(|d| (d.kind, d.at)),
            Some((DueKind::FirstTouch, t0 + Duration::hours(1))),
            "contract: accepted, first touch still due"
        ),
        other => panic!("contract: accept failed: {other:?}"),
    }
    s.at(t0 + Duration::hours(1));
    assert_eq!(s.sweep().await.reassigned, 1);
    let rec = s.get(id).await;
    let owner = rec.owner.clone().unwrap_or_default();
    assert!(
        owner == s.rep("b") || owner == s.rep("c") || owner == s.rep("mgr"),
        "contract: any available rep outside the pool: {owner}"
    );
    assert_eq!(
        rec.status,
        LeadStatus::Assigned,
        "contract: the new owner must accept"
    );
    assert!(rec.accepted_at.is_none());
    // One reassignment allowed, no escalation: the next miss is recorded, the lead stays.
    s.at(t0 + Duration::hours(2));
    s.sweep().await;
    let rec = s.get(id).await;
    assert_eq!(rec.owner.as_deref(), Some(owner.as_str()));
    assert_eq!(events(&rec).last(), Some(&"sla_breached"));
    s.close(&[id]).await;
}

/// The race: `n` overdue leads; their owners accept them while two sweepers run. Never a lost
/// accept (an accept that returned success leaves the lead accepted by that rep), never two
/// reassignments of one overdue lead, and every rep's open-lead counter equals the leads they
/// hold.
pub async fn sweeper_races_accept(store: Arc<dyn Store>, n: usize) {
    let s = Arc::new(Scene::new(store, SALES));
    let t0 = monday_10();
    let leads: Vec<Lead> = (0..n)
        .map(|_| Lead {
            id: Uuid::now_v7(),
            received_at: t0,
            source: "web".into(),
            ..Lead::default()
        })
        .collect();
    let ids: Vec<Uuid> = leads.iter().map(|l| l.id).collect();
    let routed = match s.engine.route_batch(leads).await {
        Ok(r) => r,
        Err(e) => panic!("contract: routing failed: {e}"),
    };
    let owners: Vec<String> = routed
        .into_iter()
        .map(|r| match r {
            Routed::Assigned { rep } => rep,
            other => panic!("contract: expected an assignment, got {other:?}"),
        })
        .collect();
    s.at(t0 + Duration::minutes(15));

    let acceptor = {
        let (s, ids, owners) = (s.clone(), ids.clone(), owners.clone());
        tokio::spawn(async move {
            let mut accepted = Vec::new();
            // From the back, while the sweepers go earliest first: they meet in the middle.
            for (id, owner) in ids.iter().zip(&owners).rev() {
                match s.engine.accept(*id, owner).await {
                    Ok(ActionOutcome::Done(_)) => accepted.push(*id),
                    Ok(_) => {}
                    Err(e) => panic!("contract: accept failed: {e}"),
                }
            }
            accepted
        })
    };
    let sweepers: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            tokio::spawn(async move { s.engine.sweep().await })
        })
        .collect();
    let accepted = match acceptor.await {
        Ok(a) => a,
        Err(e) => panic!("contract: acceptor panicked: {e}"),
    };
    let mut reassigned = 0;
    for sweeper in sweepers {
        match sweeper.await {
            Ok(Ok(r)) => reassigned += r.reassigned,
            other => panic!("contract: sweeper failed: {other:?}"),
        }
    }
    // A last sweep picks up anything a contended sweep left.
    reassigned += s.sweep().await.reassigned;

    let mut held: HashMap<String, u32> = HashMap::new();
    let mut moved = 0;
    for (id, first) in ids.iter().zip(&owners) {
        let rec = s.get(*id).await;
        let owner = rec.owner.clone().unwrap_or_default();
        *held.entry(owner.clone()).or_default() += 1;
        let times = rec
            .history
            .iter()
            .filter(|h| h.event == "reassigned")
            .count();
        if accepted.contains(id) {
            assert_eq!(
                (rec.status, owner.as_str(), times),
                (LeadStatus::Accepted, first.as_str(), 0),
                "contract: lost accept on {id}"
            );
        } else {
            assert_eq!(
                times, 1,
                "contract: overdue lead {id} reassigned {times} times"
            );
            assert_ne!(&owner, first, "contract: {id} left its first owner");
            moved += 1;
        }
    }
    assert_eq!(
        reassigned, moved,
        "contract: sweep reports match the leads moved"
    );
    assert_eq!(accepted.len() + moved, n);
    for rep in ["a", "b", "c", "mgr"] {
        let id = s.rep(rep);
        assert_eq!(
            s.open_leads(rep).await,
            held.get(&id).copied().unwrap_or(0),
            "contract: {rep}'s open-lead counter matches the leads they hold"
        );
    }
    s.close(&ids).await;
}
