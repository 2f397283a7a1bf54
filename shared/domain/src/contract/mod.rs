//! The contract suite for the storage and queueing ports (feature `contract`).
//!
//! Every adapter runs these functions from its own tests, against a real backend:
//!
//! ```ignore
//! leadrouter_domain::contract::store_contract(&store).await;
//! leadrouter_domain::contract::concurrent_commit_contract(Arc::new(store)).await;
//! leadrouter_domain::contract::queue_contract(&queue, Duration::from_secs(1), 3).await;
//! ```
//!
//! Each check panics with a message naming the property that failed. The checks test only what
//! the port doc comments in [`crate::ports`] promise, nothing a particular backend happens to do:
//! the same suite must pass on SQLite and on DynamoDB/SQS.
//!
//! Store checks create their own items with fresh ids (`Uuid::now_v7()`, unique rep and pool
//! names) and only filter on those, so they can run against a table that other runs share. The
//! listing checks assume read-your-writes (what the embedded store and DynamoDB Local give; a
//! real DynamoDB GSI is eventually consistent). Queue checks assume an empty queue of their own.

pub mod config;
pub mod sla;
pub mod stats;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use leadrouter_lead::Lead;
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use crate::decision::{Candidate, Decision, Ineligible, Outcome, RuleRef, Step, StepKind};
use crate::ports::{
    Commit, CommitOutcome, EmailOwner, Inserted, LeadQuery, Queue, Received, Stale, Store,
    StoreError, Versioned,
};
use crate::record::{HistoryEntry, LeadRecord, LeadStatus};
use crate::state::{Availability, MemberTurn, OutOfOffice, PoolState, RepState, Rotation};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Unwraps a port result, panicking with the operation's name: an error is never expected here.
trait Must<T> {
    fn must(self, what: &str) -> T;
}

impl<T> Must<T> for Result<T, StoreError> {
    #[track_caller]
    fn must(self, what: &str) -> T {
        match self {
            Ok(v) => v,
            Err(e) => panic!("contract: {what} returned an error: {e}"),
        }
    }
}

/// A name no other run uses, so checks can share a table.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", Uuid::now_v7())
}

/// A fixed instant `secs` seconds after 2025-03-01T09:00:00Z. Fixed (not the clock) so ordering
/// checks are deterministic; whole seconds so no backend's timestamp precision matters.
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_740_819_600 + secs, 0).unwrap_or(DateTime::UNIX_EPOCH)
}

/// A lead with only the required fields, as intake would store it (status `queued`, version 1).
fn minimal(received_at: DateTime<Utc>) -> LeadRecord {
    LeadRecord::received(Lead {
        id: Uuid::now_v7(),
        received_at,
        source: "contract".into(),
        ..Lead::default()
    })
}

/// A lead in `status`, optionally owned and in a pool, with a score.
fn lead_in(
    status: LeadStatus,
    owner: Option<&str>,
    pool: Option<&str>,
    score: Option<f64>,
    received_at: DateTime<Utc>,
) -> LeadRecord {
    let mut rec = minimal(received_at);
    rec.status = status;
    rec.owner = owner.map(str::to_owned);
    rec.pool = pool.map(str::to_owned);
    rec.lead.score = score;
    rec
}

/// A lead with every field set, including nested custom data, a decision and a history.
#[allow(clippy::field_reassign_with_default)] // on purpose, see below
fn full_record(outcome: Outcome) -> LeadRecord {
    let mut custom = serde_json::Map::new();
    custom.insert("plan".into(), json!("enterprise"));
    custom.insert(
        "nested".into(),
        json!({"list": [1, 2.5, null, true, "x"], "obj": {"text": "grüße ✓ 😀", "empty": {}}}),
    );
    custom.insert("big".into(), json!(9_007_199_254_740_991_u64));
    let pool = unique("pool");
    // Field by field (not a struct literal) so a field added to `Lead` does not break adapters'
    // builds; add it here to cover it.
    let mut lead = Lead::default();
    lead.id = Uuid::now_v7();
    // Sub-second precision on purpose: nothing may truncate a stored timestamp.
    lead.received_at =
        DateTime::from_timestamp(1_740_819_600, 123_456_789).unwrap_or(DateTime::UNIX_EPOCH);
    lead.source = "typeform".into();
    lead.external_id = Some("ext-42".into());
    lead.email = Some("ada@example.com".into());
    lead.phone = Some("+4930123456".into());
    lead.first_name = Some("Ada".into());
    lead.last_name = Some("Lovelace".into());
    lead.company = Some("Analytical Engines Ltd".into());
    lead.company_domain = Some("analytical.example".into());
    lead.job_title = Some("CTO".into());
    lead.country = Some("GB".into());
    lead.region = Some("London".into());
    lead.city = Some("London".into());
    lead.postal_code = Some("NW1 6XE".into());
    lead.industry = Some("Software".into());
    lead.product_interest = vec!["routing".into(), "api".into()];
    lead.seats = Some(250);
    lead.deal_value = Some(12_500.5);
    lead.currency = Some("EUR".into());
    lead.score = Some(87.25);
    lead.language = Some("en".into());
    lead.utm_source = Some("newsletter".into());
    lead.utm_medium = Some("email".into());
    lead.utm_campaign = Some("spring".into());
    lead.utm_term = Some("lead routing".into());
    lead.utm_content = Some("cta-2".into());
    lead.landing_page = Some("https://example.com/pricing?plan=team".into());
    lead.consent = Some(true);
    lead.message = Some("Call me — after 5pm \"please\"\nThanks".into());
    lead.test = true;
    lead.awaiting_enrichment = true;
    lead.custom = custom;
    let decision = Decision {
        decided_at: at(1),
        config_version: "cfg-abc123".into(),
        rule: RuleRef {
            index: 2,
            name: "enterprise-emea".into(),
        },
        required_skills: vec!["enterprise".into()],
        required_languages: vec!["en".into(), "de".into()],
        steps: vec![
            Step {
                kind: StepKind::Sticky {
                    previous_lead: Uuid::now_v7(),
                },
                candidates: vec![Candidate {
                    rep: "rep-a".into(),
                    eligible: false,
                    reasons: vec![
                        Ineligible::Away,
                        Ineligible::OutOfOffice { until: at(3600) },
                    ],
                }],
                picked: None,
                state: serde_json::Value::Null,
                note: Some("previous owner unavailable".into()),
            },
            Step {
                kind: StepKind::Pool {
                    pool: pool.clone(),
                    strategy: "round_robin".into(),
                },
                candidates: vec![
                    Candidate {
                        rep: "rep-b".into(),
                        eligible: true,
                        reasons: vec![],
                    },
                    Candidate {
                        rep: "rep-c".into(),
                        eligible: false,
                        reasons: vec![
                            Ineligible::OverOpenCap { open: 10, max: 10 },
                            Ineligible::OverDailyCap { today: 5, max: 5 },
                            Ineligible::MissingSkill {
                                skill: "enterprise".into(),
                            },
                            Ineligible::MissingLanguage {
                                languages: vec!["de".into()],
                            },
                            Ineligible::OutsideHours,
                        ],
                    },
                ],
                picked: Some("rep-b".into()),
                state: json!({"turn": 7, "last_turn": {"rep-b": 3, "rep-c": 6}}),
                note: None,
            },
            Step {
                kind: StepKind::FallbackRep {
                    from_pool: pool.clone(),
                },
                candidates: vec![],
                picked: None,
                state: serde_json::Value::Null,
                note: None,
            },
        ],
        outcome,
        experiment: Some(crate::decision::ExperimentArm {
            id: "exp".into(),
            arm: "b".into(),
        }),
    };
    // Again field by field, starting from the constructor, so new fields don't break builds.
    let mut rec = LeadRecord::received(lead);
    rec.status = LeadStatus::Assigned;
    rec.owner = Some("rep-b".into());
    rec.pool = Some(pool);
    rec.decision = Some(decision);
    rec.history = vec![
        HistoryEntry {
            at: at(0),
            event: "received".into(),
            rep: None,
            pool: None,
            reason: None,
        },
        HistoryEntry {
            at: at(1),
            event: "assigned".into(),
            rep: Some("rep-b".into()),
            pool: Some("pool-x".into()),
            reason: Some("round robin turn 7".into()),
        },
    ];
    rec.repeat_of = Some(Uuid::now_v7());
    rec.version = 1;
    rec.assigned_at = Some(at(1));
    rec.accepted_at = Some(at(2));
    rec
}

/// A rep state with every field set.
fn full_rep(rep: &str) -> RepState {
    RepState {
        rep: rep.into(),
        version: 0,
        availability: Some(Availability::Away),
        out_of_office: vec![OutOfOffice {
            from: at(0),
            until: at(86_400),
        }],
        open_leads: 3,
        day: NaiveDate::from_ymd_opt(2025, 3, 1),
        assigned_today: 2,
        last_assigned_at: Some(at(60)),
    }
}

/// A pool state with members.
fn full_pool(pool: &str) -> PoolState {
    let mut members = Rotation::default();
    members.insert(
        "rep-a".to_owned(),
        MemberTurn {
            last_turn: 4,
            credits: 1,
            current_weight: -3,
            assigned: 12,
        },
    );
    members.insert("rep-b".to_owned(), MemberTurn::default());
    PoolState {
        pool: pool.into(),
        version: 0,
        turn: 4,
        members,
    }
}

/// `item` as stored after a write at `version`.
fn with_version<T: Clone>(item: &T, version: u64, set: impl FnOnce(&mut T, u64)) -> T {
    let mut out = item.clone();
    set(&mut out, version);
    out
}

fn lead_v(rec: &LeadRecord, v: u64) -> LeadRecord {
    with_version(rec, v, |r, v| r.version = v)
}
fn rep_v(rep: &RepState, v: u64) -> RepState {
    with_version(rep, v, |r, v| r.version = v)
}
fn pool_v(pool: &PoolState, v: u64) -> PoolState {
    with_version(pool, v, |p, v| p.version = v)
}

async fn commit_of<S: Store + ?Sized>(store: &S, commit: Commit, what: &str) -> CommitOutcome {
    store.commit(&commit).await.must(what)
}

#[track_caller]
fn assert_committed(outcome: &CommitOutcome, what: &str) {
    assert_eq!(
        outcome,
        &CommitOutcome::Committed,
        "contract: {what}: expected Committed"
    );
}

/// Asserts a `Conflict` naming exactly `expected` (in any order, each once).
#[track_caller]
fn assert_conflict(outcome: &CommitOutcome, expected: &[Stale], what: &str) {
    match outcome {
        CommitOutcome::Committed => {
            panic!("contract: {what}: expected Conflict({expected:?}), got Committed")
        }
        CommitOutcome::Conflict(stale) => {
            let all_named = expected.iter().all(|e| stale.contains(e));
            assert!(
                all_named && stale.len() == expected.len(),
                "contract: {what}: Conflict must name exactly the stale items {expected:?}, got {stale:?}"
            );
        }
    }
}

async fn get_rep<S: Store + ?Sized>(store: &S, id: &str) -> RepState {
    let mut reps = store.get_reps(&[id.to_owned()]).await.must("get_reps");
    assert_eq!(
        reps.len(),
        1,
        "contract: get_reps of one id must return one state"
    );
    reps.remove(0)
}

async fn must_get_lead<S: Store + ?Sized>(store: &S, id: Uuid) -> LeadRecord {
    match store.get_lead(id).await.must("get_lead") {
        Some(rec) => rec,
        None => panic!("contract: get_lead({id}) returned None for a stored lead"),
    }
}

/// All pages of `query`, checking each page's size and the newest-first order across pages.
async fn all_pages<S: Store + ?Sized>(store: &S, mut query: LeadQuery) -> Vec<LeadRecord> {
    let mut out: Vec<LeadRecord> = Vec::new();
    for _ in 0..10_000 {
        let page = store.list_leads(&query).await.must("list_leads");
        assert!(
            page.leads.len() <= query.limit.max(1),
            "contract: list_leads returned {} leads for limit {}",
            page.leads.len(),
            query.limit
        );
        out.extend(page.leads);
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => {
                assert_newest_first(&out, "list_leads across pages");
                return out;
            }
        }
    }
    panic!("contract: list_leads pagination did not end after 10000 pages");
}

#[track_caller]
fn assert_newest_first(leads: &[LeadRecord], what: &str) {
    for pair in leads.windows(2) {
        assert!(
            pair[0].lead.received_at >= pair[1].lead.received_at,
            "contract: {what}: leads must be newest received_at first, got {} before {}",
            pair[0].lead.received_at,
            pair[1].lead.received_at
        );
    }
}

fn ids(leads: &[LeadRecord]) -> Vec<Uuid> {
    leads.iter().map(|r| r.lead.id).collect()
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/// Runs every single-caller store check. Items are created with fresh ids, so the store may
/// already hold other data.
pub async fn store_contract<S: Store + ?Sized>(store: &S) {
    get_lead_missing_is_none(store).await;
    insert_lead_is_conditional(store).await;
    lead_record_round_trips(store).await;
    commit_versions_leads(store).await;
    commit_versions_reps(store).await;
    commit_versions_pools(store).await;
    commit_is_all_or_nothing(store).await;
    empty_commit_commits(store).await;
    get_reps_defaults_in_order(store).await;
    get_pool_default(store).await;
    email_owners_upsert(store).await;
    batch_reads_answer_in_order(store).await;
    list_leads_filters(store).await;
    list_leads_pagination_covers_every_lead_once(store).await;
    list_waiting_order_and_filter(store).await;
    pools_with_waiting_lists_unassigned(store).await;
    list_due_is_bounded_and_ordered(store).await;
}

/// `list_due` returns the leads whose deadline is at or before the bound, earliest first, and
/// drops a lead once a commit clears or moves its deadline.
pub async fn list_due_is_bounded_and_ordered<S: Store + ?Sized>(store: &S) {
    use crate::record::{Due, DueKind};
    // Far in the past: no other check's lead is due this early.
    let t = |secs: i64| at(secs) - chrono::Duration::days(3650);
    let mut recs = Vec::new();
    for (i, secs) in [30, 10, 20, 40].into_iter().enumerate() {
        let mut rec = lead_in(
            LeadStatus::Assigned,
            Some("rep-due"),
            None,
            None,
            at(i as i64),
        );
        rec.due = Some(Due {
            at: t(secs),
            kind: DueKind::Accept,
        });
        store.insert_lead(&rec).await.must("insert_lead");
        recs.push(rec);
    }
    let none = lead_in(LeadStatus::Assigned, Some("rep-due"), None, None, at(0));
    store.insert_lead(&none).await.must("insert_lead");
    let due = store.list_due(t(30), 500).await.must("list_due");
    let ours: Vec<Uuid> = due
        .iter()
        .map(|r| r.lead.id)
        .filter(|id| recs.iter().any(|r| r.lead.id == *id) || *id == none.lead.id)
        .collect();
    assert_eq!(
        ours,
        vec![recs[1].lead.id, recs[2].lead.id, recs[0].lead.id],
        "contract: list_due must return deadlines up to the bound (inclusive), earliest first"
    );
    let until = due.iter().position(|r| r.lead.id == recs[0].lead.id);
    assert!(
        due.iter()
            .take(until.unwrap_or(0))
            .all(|r| r.due.is_some_and(|d| d.at <= t(30))),
        "contract: list_due returns only due leads"
    );
    assert_eq!(
        store.list_due(t(30), 1).await.must("list_due").len(),
        1,
        "contract: list_due honours its limit"
    );
    // Clearing a deadline takes the lead out; moving it later does too.
    let mut cleared = recs[1].clone();
    cleared.due = None;
    let mut later = recs[2].clone();
    later.due = Some(Due {
        at: t(100),
        kind: DueKind::FirstTouch,
    });
    let commit = Commit {
        leads: vec![
            Versioned {
                expected_version: 1,
                item: cleared,
            },
            Versioned {
                expected_version: 1,
                item: later,
            },
        ],
        ..Commit::default()
    };
    assert_committed(&commit_of(store, commit, "move deadlines").await, "move");
    let ids: Vec<Uuid> = store
        .list_due(t(30), 500)
        .await
        .must("list_due")
        .iter()
        .map(|r| r.lead.id)
        .collect();
    assert!(
        ids.contains(&recs[0].lead.id)
            && !ids.contains(&recs[1].lead.id)
            && !ids.contains(&recs[2].lead.id),
        "contract: list_due must follow committed deadline changes"
    );
}

/// `get_lead` of an id never stored is `None`.
pub async fn get_lead_missing_is_none<S: Store + ?Sized>(store: &S) {
    let got = store.get_lead(Uuid::now_v7()).await.must("get_lead");
    assert!(
        got.is_none(),
        "contract: get_lead of an unknown id must be None, got {got:?}"
    );
}

/// `insert_lead` stores a new lead, and for an existing id returns the stored record without
/// overwriting it.
pub async fn insert_lead_is_conditional<S: Store + ?Sized>(store: &S) {
    let first = minimal(at(0));
    let outcome = store.insert_lead(&first).await.must("insert_lead");
    assert_eq!(
        outcome,
        Inserted::New,
        "contract: insert_lead of a new id must be New"
    );
    assert_eq!(
        must_get_lead(store, first.lead.id).await,
        first,
        "contract: get_lead must return the inserted lead"
    );

    let mut second = minimal(at(10));
    second.lead.id = first.lead.id;
    second.lead.source = "someone-else".into();
    second.status = LeadStatus::Spam;
    let outcome = store
        .insert_lead(&second)
        .await
        .must("insert_lead (existing id)");
    assert_eq!(
        outcome,
        Inserted::Existing(Box::new(first.clone())),
        "contract: insert_lead of an existing id must return the stored record unchanged"
    );
    assert_eq!(
        must_get_lead(store, first.lead.id).await,
        first,
        "contract: insert_lead of an existing id must not overwrite it"
    );
}

/// Every field of a lead record survives storage: all lead fields, custom data, decisions of
/// each outcome, history, timestamps with sub-second precision; and a bare record too.
pub async fn lead_record_round_trips<S: Store + ?Sized>(store: &S) {
    let pool = unique("pool");
    let outcomes = [
        Outcome::Assigned {
            rep: "rep-b".into(),
            pool: Some(pool.clone()),
        },
        Outcome::Assigned {
            rep: "rep-b".into(),
            pool: None,
        },
        Outcome::AwaitingClaim { pool: pool.clone() },
        Outcome::Unassigned {
            pool: pool.clone(),
            reason: "nobody eligible".into(),
        },
        Outcome::NoRep {
            outcome: "nurture".into(),
        },
    ];
    for outcome in outcomes {
        let rec = full_record(outcome);
        assert_eq!(
            store.insert_lead(&rec).await.must("insert_lead"),
            Inserted::New
        );
        assert_eq!(
            must_get_lead(store, rec.lead.id).await,
            rec,
            "contract: a full lead record must round-trip unchanged"
        );
    }

    let mut bare = minimal(at(5));
    bare.decision = None;
    bare.history.clear();
    assert_eq!(
        store.insert_lead(&bare).await.must("insert_lead"),
        Inserted::New
    );
    assert_eq!(
        must_get_lead(store, bare.lead.id).await,
        bare,
        "contract: a record with no decision, no history and no optional fields must round-trip"
    );
}

/// Lead writes in a commit are conditional on the stored version (0 = must not exist) and store
/// `expected_version + 1`, whatever the item's own `version` says.
pub async fn commit_versions_leads<S: Store + ?Sized>(store: &S) {
    // An inserted lead is at version 1; a commit expecting 1 writes version 2.
    let rec = minimal(at(0));
    store.insert_lead(&rec).await.must("insert_lead");
    let mut routed = full_record(Outcome::Assigned {
        rep: "rep-b".into(),
        pool: None,
    });
    routed.lead = rec.lead.clone();
    routed.version = 77; // ignored
    let update = |expected_version| Commit {
        leads: vec![Versioned {
            expected_version,
            item: routed.clone(),
        }],
        ..Commit::default()
    };
    let out = commit_of(store, update(1), "commit lead v1->2").await;
    assert_committed(&out, "commit of a lead at its current version");
    assert_eq!(
        must_get_lead(store, rec.lead.id).await,
        lead_v(&routed, 2),
        "contract: a committed lead must read back as written, with version expected+1"
    );

    // The same write again is stale; so is a version from the future.
    for stale in [1, 3, 0] {
        let out = commit_of(store, update(stale), "commit stale lead").await;
        assert_conflict(
            &out,
            &[Stale::Lead(rec.lead.id)],
            &format!("commit of a lead expecting version {stale} while it is at 2"),
        );
    }
    assert_eq!(
        must_get_lead(store, rec.lead.id).await.version,
        2,
        "contract: a conflicting lead commit must not write"
    );

    // expected_version 0 creates a lead that does not exist yet, at version 1.
    let new = minimal(at(1));
    let create = Commit {
        leads: vec![Versioned {
            expected_version: 0,
            item: new.clone(),
        }],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, create.clone(), "commit create lead").await,
        "commit creating a lead with expected_version 0",
    );
    assert_eq!(
        must_get_lead(store, new.lead.id).await,
        lead_v(&new, 1),
        "contract: a lead created by commit must read back at version 1"
    );
    assert_conflict(
        &commit_of(store, create, "commit create existing lead").await,
        &[Stale::Lead(new.lead.id)],
        "commit with expected_version 0 of an existing lead",
    );

    // Expecting a version of a lead that does not exist is stale, and creates nothing.
    let ghost = minimal(at(2));
    let out = commit_of(
        store,
        Commit {
            leads: vec![Versioned {
                expected_version: 1,
                item: ghost.clone(),
            }],
            ..Commit::default()
        },
        "commit missing lead",
    )
    .await;
    assert_conflict(
        &out,
        &[Stale::Lead(ghost.lead.id)],
        "commit expecting version 1 of a lead that does not exist",
    );
    assert!(
        store
            .get_lead(ghost.lead.id)
            .await
            .must("get_lead")
            .is_none(),
        "contract: a conflicting commit must not create the lead"
    );
}

/// Rep writes in a commit are conditional on the stored version and store `expected + 1`.
pub async fn commit_versions_reps<S: Store + ?Sized>(store: &S) {
    let id = unique("rep");
    let mut rep = full_rep(&id);
    rep.version = 42; // ignored
    let write = |expected_version, item: &RepState| Commit {
        reps: vec![Versioned {
            expected_version,
            item: item.clone(),
        }],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, write(0, &rep), "commit create rep").await,
        "commit creating a rep state with expected_version 0",
    );
    assert_eq!(
        get_rep(store, &id).await,
        rep_v(&rep, 1),
        "contract: a rep state must round-trip with version 1 after its first write"
    );
    assert_conflict(
        &commit_of(store, write(0, &rep), "commit create existing rep").await,
        &[Stale::Rep(id.clone())],
        "commit with expected_version 0 of an existing rep",
    );

    let mut next = rep.clone();
    next.open_leads = 4;
    next.availability = None;
    next.out_of_office.clear();
    assert_committed(
        &commit_of(store, write(1, &next), "commit rep v1->2").await,
        "commit of a rep at its current version",
    );
    assert_eq!(get_rep(store, &id).await, rep_v(&next, 2));
    assert_conflict(
        &commit_of(store, write(1, &rep), "commit stale rep").await,
        &[Stale::Rep(id.clone())],
        "commit of a rep expecting version 1 while it is at 2",
    );
    assert_eq!(
        get_rep(store, &id).await,
        rep_v(&next, 2),
        "contract: a conflicting rep commit must not write"
    );
}

/// Pool writes in a commit are conditional on the stored version and store `expected + 1`.
pub async fn commit_versions_pools<S: Store + ?Sized>(store: &S) {
    let id = unique("pool");
    let mut pool = full_pool(&id);
    pool.version = 9; // ignored
    let write = |expected_version, item: &PoolState| Commit {
        pools: vec![Versioned {
            expected_version,
            item: item.clone(),
        }],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, write(0, &pool), "commit create pool").await,
        "commit creating a pool state with expected_version 0",
    );
    assert_eq!(
        store.get_pool(&id).await.must("get_pool"),
        pool_v(&pool, 1),
        "contract: a pool state must round-trip with version 1 after its first write"
    );
    assert_conflict(
        &commit_of(store, write(0, &pool), "commit create existing pool").await,
        &[Stale::Pool(id.clone())],
        "commit with expected_version 0 of an existing pool",
    );
    let mut next = pool.clone();
    next.turn = 5;
    next.members.remove("rep-b");
    assert_committed(
        &commit_of(store, write(1, &next), "commit pool v1->2").await,
        "commit of a pool at its current version",
    );
    assert_eq!(store.get_pool(&id).await.must("get_pool"), pool_v(&next, 2));
    assert_conflict(
        &commit_of(store, write(1, &pool), "commit stale pool").await,
        &[Stale::Pool(id.clone())],
        "commit of a pool expecting version 1 while it is at 2",
    );
    assert_eq!(
        store.get_pool(&id).await.must("get_pool"),
        pool_v(&next, 2),
        "contract: a conflicting pool commit must not write"
    );
}

/// A commit with any stale item writes nothing (not the fresh items, not the email owners) and
/// its `Conflict` names every stale item; with all conditions holding, everything lands.
pub async fn commit_is_all_or_nothing<S: Store + ?Sized>(store: &S) {
    // Setup: a lead at v1, a rep at v1, two pools at v1.
    let lead = minimal(at(0));
    store.insert_lead(&lead).await.must("insert_lead");
    let rep_id = unique("rep");
    let new_rep_id = unique("rep");
    let pool_id = unique("pool");
    let other_pool_id = unique("pool");
    let setup = Commit {
        reps: vec![Versioned {
            expected_version: 0,
            item: RepState::new(rep_id.clone()),
        }],
        pools: vec![
            Versioned {
                expected_version: 0,
                item: PoolState::new(pool_id.clone()),
            },
            Versioned {
                expected_version: 0,
                item: PoolState::new(other_pool_id.clone()),
            },
        ],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, setup, "setup commit").await,
        "setup commit",
    );

    let email = format!("{}@example.com", Uuid::now_v7());
    let mut routed = lead.clone();
    routed.status = LeadStatus::Assigned;
    routed.owner = Some(rep_id.clone());
    let mut rep = RepState::new(rep_id.clone());
    rep.open_leads = 1;
    let mut new_rep = RepState::new(new_rep_id.clone());
    new_rep.open_leads = 7;
    let mut pool = PoolState::new(pool_id.clone());
    pool.turn = 5;
    let owner = EmailOwner {
        email: email.clone(),
        rep: rep_id.clone(),
        lead_id: lead.lead.id,
        at: at(3),
    };
    let build = |lead_v: u64, rep_v: u64, new_rep_v: u64, pool_v: u64, other_v: u64| Commit {
        leads: vec![Versioned {
            expected_version: lead_v,
            item: routed.clone(),
        }],
        reps: vec![
            Versioned {
                expected_version: rep_v,
                item: rep.clone(),
            },
            Versioned {
                expected_version: new_rep_v,
                item: new_rep.clone(),
            },
        ],
        pools: vec![
            Versioned {
                expected_version: pool_v,
                item: pool.clone(),
            },
            Versioned {
                expected_version: other_v,
                item: PoolState::new(other_pool_id.clone()),
            },
        ],
        email_owners: vec![owner.clone()],
    };

    let untouched = Untouched {
        lead: &lead,
        rep: &rep_id,
        new_rep: &new_rep_id,
        pool: &pool_id,
        email: &email,
    };

    // One stale item (the last one) blocks every other write.
    let out = commit_of(store, build(1, 1, 0, 1, 0), "commit with one stale item").await;
    assert_conflict(
        &out,
        &[Stale::Pool(other_pool_id.clone())],
        "commit whose last item is stale",
    );
    untouched
        .check(store, "after a commit with one stale item")
        .await;

    // Several stale items of different kinds: all are named, nothing is written.
    let out = commit_of(
        store,
        build(5, 0, 0, 1, 1),
        "commit with several stale items",
    )
    .await;
    assert_conflict(
        &out,
        &[Stale::Lead(lead.lead.id), Stale::Rep(rep_id.clone())],
        "commit with a stale lead and a stale rep",
    );
    untouched
        .check(store, "after a commit with several stale items")
        .await;

    // All conditions hold: every write lands.
    assert_committed(
        &commit_of(store, build(1, 1, 0, 1, 1), "commit with fresh items").await,
        "commit whose every condition holds",
    );
    assert_eq!(must_get_lead(store, lead.lead.id).await, lead_v(&routed, 2));
    assert_eq!(
        store
            .get_reps(&[rep_id.clone(), new_rep_id.clone()])
            .await
            .must("get_reps"),
        vec![rep_v(&rep, 2), rep_v(&new_rep, 1)],
        "contract: every rep write of a successful commit must land"
    );
    assert_eq!(
        store.get_pool(&pool_id).await.must("get_pool"),
        pool_v(&pool, 2)
    );
    assert_eq!(
        store
            .get_pool(&other_pool_id)
            .await
            .must("get_pool")
            .version,
        2
    );
    assert_eq!(
        store.email_owner(&email).await.must("email_owner"),
        Some(owner),
        "contract: the email owner of a successful commit must land"
    );
}

/// What [`commit_is_all_or_nothing`] expects to find after a failed commit.
struct Untouched<'a> {
    lead: &'a LeadRecord,
    rep: &'a str,
    new_rep: &'a str,
    pool: &'a str,
    email: &'a str,
}

impl Untouched<'_> {
    async fn check<S: Store + ?Sized>(&self, store: &S, what: &str) {
        assert_eq!(
            &must_get_lead(store, self.lead.lead.id).await,
            self.lead,
            "contract: {what}: the lead must be unchanged"
        );
        let reps = store
            .get_reps(&[self.rep.to_owned(), self.new_rep.to_owned()])
            .await
            .must("get_reps");
        assert_eq!(
            reps,
            vec![
                rep_v(&RepState::new(self.rep), 1),
                RepState::new(self.new_rep)
            ],
            "contract: {what}: rep states must be unchanged"
        );
        assert_eq!(
            store.get_pool(self.pool).await.must("get_pool"),
            pool_v(&PoolState::new(self.pool), 1),
            "contract: {what}: the pool must be unchanged"
        );
        assert_eq!(
            store.email_owner(self.email).await.must("email_owner"),
            None,
            "contract: {what}: the email owner must not be written"
        );
    }
}

/// A commit that writes nothing has no condition to fail.
pub async fn empty_commit_commits<S: Store + ?Sized>(store: &S) {
    assert_committed(
        &commit_of(store, Commit::default(), "empty commit").await,
        "an empty commit",
    );
}

/// `get_reps` answers in the order asked, with version-0 defaults for reps never written.
pub async fn get_reps_defaults_in_order<S: Store + ?Sized>(store: &S) {
    let known = unique("rep");
    let rep = full_rep(&known);
    let c = Commit {
        reps: vec![Versioned {
            expected_version: 0,
            item: rep.clone(),
        }],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, c, "commit rep").await,
        "commit of a new rep",
    );
    let (a, b) = (unique("rep"), unique("rep"));
    let asked = vec![b.clone(), known.clone(), a.clone()];
    let got = store.get_reps(&asked).await.must("get_reps");
    assert_eq!(
        got,
        vec![RepState::new(b), rep_v(&rep, 1), RepState::new(a)],
        "contract: get_reps must answer in the order asked, unknown reps as RepState::new (version 0)"
    );
    assert!(
        store.get_reps(&[]).await.must("get_reps(&[])").is_empty(),
        "contract: get_reps of no ids must be empty"
    );
}

/// A pool never written reads as `PoolState::new` (version 0).
pub async fn get_pool_default<S: Store + ?Sized>(store: &S) {
    let id = unique("pool");
    assert_eq!(
        store.get_pool(&id).await.must("get_pool"),
        PoolState::new(id),
        "contract: an unknown pool must read as PoolState::new (version 0)"
    );
}

/// Email owners from commits are upserted; `email_owner` returns the latest, `None` if unknown.
pub async fn email_owners_upsert<S: Store + ?Sized>(store: &S) {
    let email = format!("{}@example.com", Uuid::now_v7());
    assert_eq!(
        store.email_owner(&email).await.must("email_owner"),
        None,
        "contract: an unknown email must have no owner"
    );
    let first = EmailOwner {
        email: email.clone(),
        rep: unique("rep"),
        lead_id: Uuid::now_v7(),
        at: at(10),
    };
    let c = Commit {
        email_owners: vec![first.clone()],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, c, "commit email owner").await,
        "email owner",
    );
    assert_eq!(
        store.email_owner(&email).await.must("email_owner"),
        Some(first)
    );

    let second = EmailOwner {
        email: email.clone(),
        rep: unique("rep"),
        lead_id: Uuid::now_v7(),
        at: at(20),
    };
    let c = Commit {
        email_owners: vec![second.clone()],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, c, "commit email owner").await,
        "email owner",
    );
    assert_eq!(
        store.email_owner(&email).await.must("email_owner"),
        Some(second.clone()),
        "contract: a second email owner write must replace the first"
    );

    // Commits can land out of order (concurrent routers, retries): an entry assigned before the
    // stored one must not replace it.
    let older = EmailOwner {
        email: email.clone(),
        rep: unique("rep"),
        lead_id: Uuid::now_v7(),
        at: at(15),
    };
    let c = Commit {
        email_owners: vec![older],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(store, c, "commit older email owner").await,
        "older email owner",
    );
    assert_eq!(
        store.email_owner(&email).await.must("email_owner"),
        Some(second),
        "contract: an email owner assigned earlier must not replace a newer one"
    );
}

/// `get_leads` and `email_owners` answer each id or key in the order asked, `None` for an
/// unknown one, repeats included, also past 100 (one DynamoDB `BatchGetItem`'s limit).
pub async fn batch_reads_answer_in_order<S: Store + ?Sized>(store: &S) {
    assert!(
        store.get_leads(&[]).await.must("get_leads").is_empty(),
        "contract: get_leads of no ids must be empty"
    );
    let mut recs = Vec::new();
    for i in 0..120 {
        let rec = lead_in(LeadStatus::Queued, None, None, None, at(i));
        store.insert_lead(&rec).await.must("insert_lead");
        recs.push(rec);
    }
    let unknown = Uuid::now_v7();
    let mut ids: Vec<Uuid> = recs.iter().rev().map(|r| r.lead.id).collect();
    ids.insert(3, unknown);
    ids.push(recs[7].lead.id);
    let got = store.get_leads(&ids).await.must("get_leads");
    assert_eq!(got.len(), ids.len(), "contract: one answer per id asked");
    for (id, rec) in ids.iter().zip(&got) {
        match rec {
            None => assert_eq!(*id, unknown, "contract: get_leads missed stored lead {id}"),
            Some(rec) => assert_eq!(
                *rec,
                must_get_lead(store, *id).await,
                "contract: get_leads must answer what get_lead does, in order"
            ),
        }
    }
    assert!(got[3].is_none(), "contract: an unknown id reads as None");

    let owner = |key: &str, rep: &str| EmailOwner {
        email: key.to_owned(),
        rep: rep.to_owned(),
        lead_id: Uuid::now_v7(),
        at: at(5),
    };
    let (a, b) = (
        format!("{}@example.com", Uuid::now_v7()),
        format!("tel:+1555{}", Uuid::now_v7().as_u128() % 10_000_000),
    );
    let owners = vec![owner(&a, &unique("rep")), owner(&b, &unique("rep"))];
    let c = Commit {
        email_owners: owners.clone(),
        ..Commit::default()
    };
    assert_committed(&commit_of(store, c, "commit email owners").await, "owners");
    let missing = format!("{}@example.com", Uuid::now_v7());
    let keys = vec![b.clone(), missing, a.clone(), b];
    assert_eq!(
        store.email_owners(&keys).await.must("email_owners"),
        vec![
            Some(owners[1].clone()),
            None,
            Some(owners[0].clone()),
            Some(owners[1].clone())
        ],
        "contract: email_owners must answer each key in order"
    );

    // Pools: one written (version 1), one never written (version 0), asked in an order with a
    // repeat.
    let written = PoolState::new(unique("pool"));
    let c = Commit {
        pools: vec![Versioned {
            expected_version: 0,
            item: written.clone(),
        }],
        ..Commit::default()
    };
    assert_committed(&commit_of(store, c, "commit a pool").await, "pool");
    let fresh = unique("pool");
    let ids = vec![fresh.clone(), written.pool.clone(), fresh.clone()];
    let got = store.get_pools(&ids).await.must("get_pools");
    let mut want = Vec::new();
    for id in &ids {
        want.push(store.get_pool(id).await.must("get_pool"));
    }
    assert_eq!(
        got, want,
        "contract: get_pools must answer what get_pool does, in order"
    );
    assert_eq!(
        got.iter().map(|p| p.version).collect::<Vec<_>>(),
        vec![0, 1, 0],
        "contract: get_pools reads written and never-written pools"
    );
    assert!(
        store.get_pools(&[]).await.must("get_pools").is_empty(),
        "contract: get_pools of no ids must be empty"
    );
}

/// `list_leads` filters by status, owner and pool (combined with AND), newest first.
pub async fn list_leads_filters<S: Store + ?Sized>(store: &S) {
    let pool = unique("pool");
    let other_pool = unique("pool");
    let owner = unique("rep");
    let other_owner = unique("rep");
    use LeadStatus::*;
    let a = lead_in(Assigned, Some(&owner), Some(&pool), None, at(10));
    let b = lead_in(Accepted, Some(&owner), Some(&pool), None, at(20));
    let c = lead_in(Assigned, Some(&other_owner), Some(&pool), None, at(30));
    let d = lead_in(Assigned, Some(&owner), Some(&other_pool), None, at(40));
    let e = lead_in(Unassigned, None, Some(&pool), Some(3.0), at(50));
    let f = lead_in(Nurture, Some(&owner), None, None, at(60));
    for rec in [&a, &b, &c, &d, &e, &f] {
        store.insert_lead(rec).await.must("insert_lead");
    }
    let q = |status: Option<LeadStatus>, owner: Option<&str>, pool: Option<&str>| LeadQuery {
        status,
        owner: owner.map(str::to_owned),
        pool: pool.map(str::to_owned),
        limit: 100,
        cursor: None,
    };
    let cases: Vec<(&str, LeadQuery, Vec<&LeadRecord>)> = vec![
        ("pool", q(None, None, Some(&pool)), vec![&e, &c, &b, &a]),
        ("owner", q(None, Some(&owner), None), vec![&f, &d, &b, &a]),
        (
            "status+pool",
            q(Some(Assigned), None, Some(&pool)),
            vec![&c, &a],
        ),
        (
            "status+owner",
            q(Some(Assigned), Some(&owner), None),
            vec![&d, &a],
        ),
        (
            "owner+pool",
            q(None, Some(&owner), Some(&pool)),
            vec![&b, &a],
        ),
        (
            "status+owner+pool",
            q(Some(Accepted), Some(&owner), Some(&pool)),
            vec![&b],
        ),
        ("no match", q(Some(Spam), Some(&owner), Some(&pool)), vec![]),
    ];
    for (what, query, expected) in cases {
        let got = all_pages(store, query).await;
        let expected: Vec<LeadRecord> = expected.into_iter().cloned().collect();
        assert_eq!(
            ids(&got),
            ids(&expected),
            "contract: list_leads filtered by {what} must return exactly the matching leads, newest first"
        );
        assert_eq!(
            got, expected,
            "contract: list_leads must return full records"
        );
    }

    // Status alone and no filter at all: the store may hold other leads, so check that ours are
    // there and that every returned lead matches.
    let got = all_pages(store, q(Some(Nurture), None, None)).await;
    assert!(
        got.iter().all(|r| r.status == Nurture),
        "contract: list_leads filtered by status must return only leads in that status"
    );
    assert!(
        got.iter().any(|r| r.lead.id == f.lead.id),
        "contract: list_leads filtered by status must include a matching lead"
    );
    let got = ids(&all_pages(store, q(None, None, None)).await);
    for rec in [&a, &b, &c, &d, &e, &f] {
        assert_eq!(
            got.iter().filter(|id| **id == rec.lead.id).count(),
            1,
            "contract: list_leads without filters must return every lead exactly once"
        );
    }
}

/// Paging `list_leads` with the `next` cursor returns every lead exactly once, newest first,
/// even with equal `received_at` and with leads inserted between pages.
pub async fn list_leads_pagination_covers_every_lead_once<S: Store + ?Sized>(store: &S) {
    let pool = unique("pool");
    // 11 leads, two pairs with equal received_at (ties must not be lost or duplicated).
    let times = [0, 10, 10, 20, 30, 40, 40, 50, 60, 70, 80];
    let mut originals = Vec::new();
    for secs in times {
        let rec = lead_in(
            LeadStatus::Assigned,
            Some("rep-p"),
            Some(&pool),
            None,
            at(secs),
        );
        store.insert_lead(&rec).await.must("insert_lead");
        originals.push(rec.lead.id);
    }

    for limit in [1, 3, 4, 11, 500] {
        let mut query = LeadQuery {
            pool: Some(pool.clone()),
            limit,
            ..LeadQuery::default()
        };
        let mut seen: Vec<LeadRecord> = Vec::new();
        let mut inserted = Vec::new();
        for page_no in 0..100 {
            let page = store.list_leads(&query).await.must("list_leads");
            assert!(
                page.leads.len() <= limit,
                "contract: a list_leads page must hold at most `limit` ({limit}) leads, got {}",
                page.leads.len()
            );
            seen.extend(page.leads);
            // A lead arriving while someone pages must not disturb the pages still to come.
            if page_no == 0 {
                let newer = lead_in(LeadStatus::Assigned, None, Some(&pool), None, at(1_000));
                store.insert_lead(&newer).await.must("insert_lead");
                inserted.push(newer.lead.id);
            }
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => break,
            }
        }
        assert_each_once(
            &seen,
            &originals,
            &format!("paging list_leads (limit {limit})"),
        );
        assert_newest_first(&seen, "list_leads pages");
        // The leads inserted during this round are "originals" for the next one.
        originals.extend(inserted);
    }

    // Without a filter, across statuses (a store may list each status apart and merge them):
    // every lead once, newest first, ties included.
    let mut mixed = Vec::new();
    for (i, status) in LeadStatus::ALL.into_iter().enumerate() {
        for secs in [2_000 + 10 * i as i64, 2_000 + 10 * i as i64, 2_005] {
            let rec = lead_in(status, Some("rep-m"), Some(&pool), None, at(secs));
            store.insert_lead(&rec).await.must("insert_lead");
            mixed.push(rec.lead.id);
        }
    }
    mixed.extend(&originals);
    for limit in [2, 7] {
        let all = all_pages(
            store,
            LeadQuery {
                limit,
                ..LeadQuery::default()
            },
        )
        .await;
        assert_each_once(
            &all,
            &mixed,
            &format!("paging list_leads without filters (limit {limit})"),
        );
    }
}

/// `listed` (the pages of a listing, `what`) holds no lead twice and every lead of `expected`.
fn assert_each_once(listed: &[LeadRecord], expected: &[Uuid], what: &str) {
    let got = ids(listed);
    let unique_ids: HashSet<Uuid> = got.iter().copied().collect();
    assert_eq!(
        unique_ids.len(),
        got.len(),
        "contract: {what} must not return a lead twice"
    );
    for id in expected {
        assert!(
            unique_ids.contains(id),
            "contract: {what} must return every lead; {id} missing"
        );
    }
}

/// `list_waiting` returns the pool's leads in the given status, highest score first, no score
/// last, then oldest first; at most `limit`.
pub async fn list_waiting_order_and_filter<S: Store + ?Sized>(store: &S) {
    let pool = unique("pool");
    let other = unique("pool");
    use LeadStatus::*;
    let w = |score, secs| lead_in(Unassigned, None, Some(&pool), score, at(secs));
    let high_old = w(Some(50.0), 1);
    let high_new = w(Some(50.0), 5);
    let mid = w(Some(10.0), 3);
    let low = w(Some(0.5), 9);
    let negative = w(Some(-2.0), 0);
    let none_old = w(None, 0);
    let none_new = w(None, 2);
    let claim_a = lead_in(AwaitingClaim, None, Some(&pool), Some(1.0), at(4));
    let claim_b = lead_in(AwaitingClaim, None, Some(&pool), None, at(3));
    let assigned = lead_in(Assigned, Some("rep-x"), Some(&pool), Some(99.0), at(0));
    let elsewhere = lead_in(Unassigned, None, Some(&other), Some(99.0), at(0));
    for rec in [
        &none_new, &low, &high_new, &claim_a, &mid, &assigned, &negative, &high_old, &elsewhere,
        &none_old, &claim_b,
    ] {
        store.insert_lead(rec).await.must("insert_lead");
    }

    let expected = ids(&[high_old, high_new, mid, low, negative, none_old, none_new]);
    let got = ids(&store
        .list_waiting(&pool, Unassigned, 100)
        .await
        .must("list_waiting"));
    assert_eq!(
        got, expected,
        "contract: list_waiting must return the pool's unassigned leads, highest score first, \
         no score last, then oldest first"
    );
    let got = ids(&store
        .list_waiting(&pool, Unassigned, 3)
        .await
        .must("list_waiting"));
    assert_eq!(
        got,
        expected[..3].to_vec(),
        "contract: list_waiting must return the first `limit` leads"
    );
    let got = ids(&store
        .list_waiting(&pool, AwaitingClaim, 100)
        .await
        .must("list_waiting"));
    assert_eq!(
        got,
        ids(&[claim_a, claim_b]),
        "contract: list_waiting by status awaiting_claim must return only those leads, scored first"
    );
    let got = store
        .list_waiting(&unique("pool"), Unassigned, 100)
        .await
        .must("list_waiting");
    assert!(
        got.is_empty(),
        "contract: list_waiting of an empty pool must be empty"
    );
}

/// `pools_with_waiting` lists each pool with an `unassigned` lead once, and no pool whose leads
/// are all in other statuses.
pub async fn pools_with_waiting_lists_unassigned<S: Store + ?Sized>(store: &S) {
    let waiting = unique("pool");
    let busy = unique("pool");
    use LeadStatus::*;
    let first = lead_in(Unassigned, None, Some(&waiting), None, at(0));
    let second = lead_in(Unassigned, None, Some(&waiting), Some(2.0), at(1));
    for rec in [
        &first,
        &second,
        &lead_in(Assigned, Some("rep-x"), Some(&busy), None, at(0)),
        &lead_in(AwaitingClaim, None, Some(&busy), None, at(0)),
    ] {
        store.insert_lead(rec).await.must("insert_lead");
    }
    let pools = store.pools_with_waiting().await.must("pools_with_waiting");
    assert_eq!(
        pools.iter().filter(|p| **p == waiting).count(),
        1,
        "contract: pools_with_waiting must list a pool with unassigned leads exactly once, got {pools:?}"
    );
    assert!(
        !pools.contains(&busy),
        "contract: pools_with_waiting must not list a pool without unassigned leads"
    );

    // Once its leads are assigned, the pool is no longer waiting.
    let mut commit = Commit::default();
    for rec in [&first, &second] {
        let mut done = rec.clone();
        done.status = Assigned;
        done.owner = Some("rep-x".into());
        commit.leads.push(Versioned {
            expected_version: 1,
            item: done,
        });
    }
    assert_committed(
        &commit_of(store, commit, "assign waiting leads").await,
        "assign",
    );
    let pools = store.pools_with_waiting().await.must("pools_with_waiting");
    assert!(
        !pools.contains(&waiting),
        "contract: pools_with_waiting must drop a pool once none of its leads is unassigned"
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------------------------

/// Concurrent writers: the store must be `Sync` and linearize conditional writes.
pub async fn concurrent_commit_contract<S: Store + 'static>(store: Arc<S>) {
    concurrent_commits_have_one_winner(store.clone()).await;
    concurrent_inserts_have_one_winner(store.clone()).await;
    concurrent_increments_lose_no_update(store).await;
}

const WRITERS: usize = 8;

/// 8 tasks commit the same pool from version 1 at once: exactly one commits, the others get
/// `Conflict([Pool])`, and the winner's write is what is stored.
pub async fn concurrent_commits_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    let id = unique("pool");
    let create = Commit {
        pools: vec![Versioned {
            expected_version: 0,
            item: PoolState::new(id.clone()),
        }],
        ..Commit::default()
    };
    assert_committed(
        &commit_of(&*store, create, "create pool").await,
        "create pool",
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for turn in 0..WRITERS as u64 {
        let (store, barrier, id) = (store.clone(), barrier.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let mut pool = PoolState::new(id);
            pool.turn = 100 + turn;
            let c = Commit {
                pools: vec![Versioned {
                    expected_version: 1,
                    item: pool,
                }],
                ..Commit::default()
            };
            barrier.wait().await;
            (100 + turn, store.commit(&c).await)
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let (turn, result) = match task.await {
            Ok(v) => v,
            Err(e) => panic!("contract: a concurrent commit task panicked: {e}"),
        };
        match result.must("concurrent commit") {
            CommitOutcome::Committed => winners.push(turn),
            other => assert_conflict(
                &other,
                &[Stale::Pool(id.clone())],
                "a losing concurrent commit",
            ),
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "contract: exactly one of {WRITERS} concurrent commits from the same version must win, got {}",
        winners.len()
    );
    let stored = store.get_pool(&id).await.must("get_pool");
    assert_eq!(
        (stored.version, stored.turn),
        (2, winners[0]),
        "contract: the stored pool must be the winner's write at version 2"
    );
}

/// 8 tasks insert the same lead id at once: exactly one gets `New`, the others `Existing` with
/// the winner's record.
pub async fn concurrent_inserts_have_one_winner<S: Store + 'static>(store: Arc<S>) {
    let id = Uuid::now_v7();
    let barrier = Arc::new(tokio::sync::Barrier::new(WRITERS));
    let mut tasks = Vec::new();
    for n in 0..WRITERS {
        let (store, barrier) = (store.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut rec = minimal(at(0));
            rec.lead.id = id;
            rec.lead.source = format!("writer-{n}");
            barrier.wait().await;
            let out = store.insert_lead(&rec).await;
            (rec, out)
        }));
    }
    let mut new = Vec::new();
    let mut existing = Vec::new();
    for task in tasks {
        let (rec, out) = match task.await {
            Ok(v) => v,
            Err(e) => panic!("contract: a concurrent insert task panicked: {e}"),
        };
        match out.must("concurrent insert_lead") {
            Inserted::New => new.push(rec),
            Inserted::Existing(stored) => existing.push(*stored),
        }
    }
    assert_eq!(
        new.len(),
        1,
        "contract: exactly one of {WRITERS} concurrent insert_lead of one id must be New"
    );
    assert!(
        existing.iter().all(|r| *r == new[0]),
        "contract: every losing insert_lead must return the winner's record"
    );
    assert_eq!(must_get_lead(&*store, id).await, new[0]);
}

/// 8 tasks each add 1 to a rep's `open_leads` 5 times with read / commit / retry-on-conflict:
/// no update is lost, and the version counts every write.
pub async fn concurrent_increments_lose_no_update<S: Store + 'static>(store: Arc<S>) {
    const EACH: u32 = 5;
    let id = unique("rep");
    let mut tasks = Vec::new();
    for _ in 0..WRITERS {
        let (store, id) = (store.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..EACH {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    assert!(
                        attempts < 10_000,
                        "contract: a read-modify-write never committed"
                    );
                    let mut rep = get_rep(&*store, &id).await;
                    let expected_version = rep.version;
                    rep.open_leads += 1;
                    let c = Commit {
                        reps: vec![Versioned {
                            expected_version,
                            item: rep,
                        }],
                        ..Commit::default()
                    };
                    match store.commit(&c).await.must("commit increment") {
                        CommitOutcome::Committed => break,
                        CommitOutcome::Conflict(_) => tokio::task::yield_now().await,
                    }
                }
            }
        }));
    }
    for task in tasks {
        if let Err(e) = task.await {
            panic!("contract: a concurrent increment task panicked: {e}");
        }
    }
    let rep = get_rep(&*store, &id).await;
    let total = WRITERS as u32 * EACH;
    assert_eq!(
        (rep.open_leads, rep.version),
        (total, u64::from(total)),
        "contract: {total} concurrent conditional increments must all land, one version each"
    );
}

// ---------------------------------------------------------------------------------------------
// Queue
// ---------------------------------------------------------------------------------------------

/// Long enough for a message that should be there to arrive (long poll), short enough to keep
/// the suite fast; `receive` returns as soon as one does.
const ARRIVAL: Duration = Duration::from_secs(3);
/// Slack for timing checks (scheduling, clock granularity).
const SLACK: Duration = Duration::from_millis(100);

/// Runs every queue check. Assumes an empty queue configured with `visibility` as its
/// visibility timeout and dead-lettering after `max_receives` receives (at least 3). Keep
/// `visibility` short (about 1 s): some checks wait for it to pass.
pub async fn queue_contract<Q: Queue + ?Sized>(queue: &Q, visibility: Duration, max_receives: u32) {
    assert!(
        max_receives >= 3,
        "contract: queue_contract needs max_receives >= 3 to observe redeliveries"
    );
    queue_send_receive_ack(queue, visibility).await;
    queue_receive_returns_at_most_max(queue).await;
    queue_receive_waits_for_send(queue).await;
    queue_receive_on_empty_queue_returns_after_wait(queue).await;
    queue_visibility_timeout_redelivers(queue, visibility).await;
    queue_stale_receipt_ack_is_harmless(queue).await;
    queue_release_delays_redelivery(queue).await;
    queue_dead_letters_after_max_receives(queue, max_receives).await;
    queue_concurrent_receivers_share_messages(queue).await;
    queue_send_batch_delivers_every_message(queue).await;
    queue_ack_batch_deletes_every_message(queue, visibility).await;
}

/// `send_batch` of more messages than one SQS batch holds delivers each of them once.
pub async fn queue_send_batch_delivers_every_message<Q: Queue + ?Sized>(queue: &Q) {
    let bodies: Vec<String> = (0..23).map(|n| format!("batch-{n}")).collect();
    queue.send_batch(&bodies).await.must("send_batch");
    let mut seen: Vec<Received> = Vec::new();
    let deadline = Instant::now() + ARRIVAL * 4;
    while seen.len() < bodies.len() && Instant::now() < deadline {
        seen.extend(queue.receive(10, ARRIVAL).await.must("receive"));
    }
    let mut got: Vec<String> = seen.iter().map(|m| m.body.clone()).collect();
    got.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(
        got, want,
        "contract: send_batch must deliver every message once"
    );
    for m in &seen {
        queue.ack(&m.receipt).await.must("ack");
    }
}

/// `ack_batch` of more receipts than one SQS batch holds, with a stale receipt among them,
/// deletes every message: none comes back after the visibility timeout.
pub async fn queue_ack_batch_deletes_every_message<Q: Queue + ?Sized>(
    queue: &Q,
    visibility: Duration,
) {
    queue.ack_batch(&[]).await.must("ack_batch of nothing");
    let bodies: Vec<String> = (0..23).map(|n| format!("ack-batch-{n}")).collect();
    queue.send_batch(&bodies).await.must("send_batch");
    let mut seen: Vec<Received> = Vec::new();
    let deadline = Instant::now() + ARRIVAL * 4;
    while seen.len() < bodies.len() && Instant::now() < deadline {
        seen.extend(queue.receive(10, ARRIVAL).await.must("receive"));
    }
    assert_eq!(seen.len(), bodies.len(), "contract: every message received");
    // A receipt of an earlier delivery of the first message, made stale by a redelivery.
    let first = seen.remove(0);
    queue
        .release(&first.receipt, Duration::ZERO)
        .await
        .must("release");
    let again = receive_one(queue, "the released message").await;
    let mut receipts: Vec<&str> = seen.iter().map(|m| m.receipt.as_str()).collect();
    receipts.insert(5, &first.receipt);
    receipts.push(&again.receipt);
    queue.ack_batch(&receipts).await.must("ack_batch");
    let back = queue
        .receive(10, visibility + ARRIVAL)
        .await
        .must("receive after the visibility timeout");
    assert!(
        back.is_empty(),
        "contract: ack_batch must delete every message it names, got back {back:?}"
    );
}

/// The single message of a receive; panics unless there is exactly one.
#[track_caller]
fn only_one(mut got: Vec<Received>, what: &str) -> Received {
    match (got.pop(), got.is_empty()) {
        (Some(m), true) => m,
        (last, _) => panic!("contract: {what}: expected exactly one message, got {got:?} {last:?}"),
    }
}

/// Long-polls for one message; panics unless exactly one arrives within `ARRIVAL`.
async fn receive_one<Q: Queue + ?Sized>(queue: &Q, what: &str) -> Received {
    let got = queue.receive(1, ARRIVAL).await.must("receive");
    only_one(got, what)
}

/// A visible message is received with its id, body and count 1 (at once, not after `wait`);
/// once acked it never comes back, not even after the visibility timeout.
pub async fn queue_send_receive_ack<Q: Queue + ?Sized>(queue: &Q, visibility: Duration) {
    let body = format!("{{\"hello\":\"{}\",\"text\":\"grüße ✓\"}}", Uuid::now_v7());
    let id = queue.send(&body).await.must("send");
    let started = Instant::now();
    let wait = Duration::from_secs(10);
    let got = only_one(
        queue.receive(10, wait).await.must("receive"),
        "receive after send",
    );
    assert!(
        started.elapsed() < wait / 2,
        "contract: receive must return at once when a message is visible, took {:?}",
        started.elapsed()
    );
    assert_eq!(
        (got.id.as_str(), got.body.as_str(), got.receive_count),
        (id.as_str(), body.as_str(), 1),
        "contract: a received message must carry the id send returned, the body, and count 1"
    );
    assert!(
        !got.receipt.is_empty(),
        "contract: a receipt must not be empty"
    );
    queue.ack(&got.receipt).await.must("ack");

    tokio::time::sleep(visibility + SLACK * 3).await;
    let got = queue
        .receive(10, Duration::from_millis(200))
        .await
        .must("receive");
    assert!(
        got.is_empty(),
        "contract: an acked message must never be delivered again, got {got:?}"
    );
}

/// `receive(max, ..)` returns at most `max` messages, and each message to one receive only.
pub async fn queue_receive_returns_at_most_max<Q: Queue + ?Sized>(queue: &Q) {
    let mut sent = HashSet::new();
    for n in 0..5 {
        sent.insert(queue.send(&format!("m{n}")).await.must("send"));
    }
    let mut seen: Vec<Received> = Vec::new();
    let deadline = Instant::now() + ARRIVAL * 2;
    while seen.len() < sent.len() && Instant::now() < deadline {
        let got = queue.receive(2, ARRIVAL).await.must("receive");
        assert!(
            got.len() <= 2,
            "contract: receive(2, ..) must return at most 2 messages, got {}",
            got.len()
        );
        seen.extend(got);
    }
    let got: HashSet<String> = seen.iter().map(|m| m.id.clone()).collect();
    assert_eq!(
        got.len(),
        seen.len(),
        "contract: an in-flight message must not be delivered twice within its visibility timeout"
    );
    assert_eq!(got, sent, "contract: every sent message must be received");
    assert!(
        seen.iter().all(|m| m.receive_count == 1),
        "contract: first deliveries must have receive_count 1"
    );
    for m in &seen {
        queue.ack(&m.receipt).await.must("ack");
    }
}

/// A `receive` waiting on an empty queue returns as soon as a message is sent, well before its
/// `wait` ends.
pub async fn queue_receive_waits_for_send<Q: Queue + ?Sized>(queue: &Q) {
    let wait = Duration::from_secs(10);
    let started = Instant::now();
    let (sent, got) = tokio::join!(
        async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            queue.send("late").await.must("send")
        },
        queue.receive(1, wait)
    );
    let elapsed = started.elapsed();
    let got = only_one(got.must("receive"), "receive waiting for a send");
    assert_eq!(
        got.id, sent,
        "contract: the waiting receive must get the message sent"
    );
    assert!(
        elapsed < wait / 2,
        "contract: receive must return once a message arrives, not after its whole wait ({elapsed:?})"
    );
    queue.ack(&got.receipt).await.must("ack");
}

/// A `receive` on an empty queue returns nothing, and no later than (about) its `wait`.
pub async fn queue_receive_on_empty_queue_returns_after_wait<Q: Queue + ?Sized>(queue: &Q) {
    let wait = Duration::from_millis(300);
    let started = Instant::now();
    let got = queue.receive(10, wait).await.must("receive");
    assert!(
        got.is_empty(),
        "contract: an empty queue must deliver nothing, got {got:?}"
    );
    assert!(
        started.elapsed() < wait + Duration::from_secs(2),
        "contract: receive must give up after its wait, took {:?}",
        started.elapsed()
    );
}

/// A received message not acked stays invisible for the visibility timeout, then is delivered
/// again with the same id, a higher receive count and a new receipt.
pub async fn queue_visibility_timeout_redelivers<Q: Queue + ?Sized>(
    queue: &Q,
    visibility: Duration,
) {
    let id = queue.send("unacked").await.must("send");
    let started = Instant::now();
    let first = receive_one(queue, "first delivery").await;
    assert_eq!(first.id, id);
    let got = queue
        .receive(10, Duration::from_millis(200))
        .await
        .must("receive");
    assert!(
        got.is_empty(),
        "contract: an in-flight message must stay invisible until its timeout, got {got:?}"
    );

    // A long poll returns when the message becomes visible again, not at the end of its wait.
    let patience = visibility * 2 + Duration::from_secs(1);
    let got = queue
        .receive(1, patience + Duration::from_secs(5))
        .await
        .must("receive");
    let second = only_one(got, "redelivery after the visibility timeout");
    let back_after = started.elapsed();
    assert!(
        back_after + SLACK >= visibility,
        "contract: a message must stay invisible for its visibility timeout, came back after {back_after:?}"
    );
    assert!(
        back_after < patience,
        "contract: a waiting receive must return once a message's visibility timeout passes, \
         took {back_after:?} for a {visibility:?} timeout"
    );
    assert_eq!(
        (
            second.id.as_str(),
            second.body.as_str(),
            second.receive_count
        ),
        (id.as_str(), "unacked", 2),
        "contract: a redelivered message must keep its id and body and count 2"
    );
    assert_ne!(
        second.receipt, first.receipt,
        "contract: each delivery must get a fresh receipt"
    );
    queue.ack(&second.receipt).await.must("ack");
}

/// Each delivery gets a fresh receipt; acking with an earlier one never fails; acking with the
/// current one deletes the message.
pub async fn queue_stale_receipt_ack_is_harmless<Q: Queue + ?Sized>(queue: &Q) {
    let id = queue.send("stale").await.must("send");
    let first = receive_one(queue, "first delivery").await;
    queue
        .release(&first.receipt, Duration::ZERO)
        .await
        .must("release");
    let second = receive_one(queue, "delivery after release(0)").await;
    assert_eq!(
        (second.id.as_str(), second.receive_count),
        (id.as_str(), 2),
        "contract: release(receipt, 0) must make the message visible again at once"
    );
    assert_ne!(
        second.receipt, first.receipt,
        "contract: each delivery must get a fresh receipt"
    );

    // SQS documents that a delete with an earlier receipt "succeeds, but the message might not
    // be deleted": a stale ack must not fail, and may or may not delete. That is safe because a
    // worker acks only after its work is done, and routing is idempotent.
    queue
        .ack(&first.receipt)
        .await
        .must("ack with a stale receipt");
    queue
        .ack(&second.receipt)
        .await
        .must("ack with the current receipt");
    let after = queue
        .receive(10, Duration::from_millis(300))
        .await
        .must("receive");
    assert!(
        after.iter().all(|m| m.id != id),
        "contract: a message acked with its current receipt must be gone"
    );
}

/// `release(receipt, delay)` keeps the message invisible for `delay`, then it is redelivered.
pub async fn queue_release_delays_redelivery<Q: Queue + ?Sized>(queue: &Q) {
    let delay = Duration::from_millis(600);
    let id = queue.send("delayed").await.must("send");
    let first = receive_one(queue, "first delivery").await;
    let released = Instant::now();
    queue.release(&first.receipt, delay).await.must("release");
    let got = queue
        .receive(10, Duration::from_millis(150))
        .await
        .must("receive");
    assert!(
        got.is_empty(),
        "contract: a released message must stay invisible for its delay, got {got:?}"
    );
    let again = receive_one(queue, "delivery after the release delay").await;
    assert!(
        released.elapsed() + SLACK >= delay,
        "contract: a released message came back after {:?}, before its delay {delay:?}",
        released.elapsed()
    );
    assert_eq!((again.id.as_str(), again.receive_count), (id.as_str(), 2));
    queue.ack(&again.receipt).await.must("ack");
}

/// A message received `max_receives` times is not delivered again (it went to the dead-letter
/// queue), and does not block other messages.
pub async fn queue_dead_letters_after_max_receives<Q: Queue + ?Sized>(
    queue: &Q,
    max_receives: u32,
) {
    let id = queue.send("poison").await.must("send");
    for n in 1..=max_receives {
        let got = receive_one(queue, "delivery before the dead-letter limit").await;
        assert_eq!(
            (got.id.as_str(), got.receive_count),
            (id.as_str(), n),
            "contract: delivery {n} of {max_receives} must count {n}"
        );
        queue
            .release(&got.receipt, Duration::ZERO)
            .await
            .must("release");
    }
    let got = queue
        .receive(10, Duration::from_millis(300))
        .await
        .must("receive");
    assert!(
        got.iter().all(|m| m.id != id),
        "contract: a message received max_receives ({max_receives}) times must not be delivered again"
    );
    assert!(got.is_empty(), "contract: unexpected messages {got:?}");

    let other = queue.send("healthy").await.must("send");
    let got = receive_one(queue, "delivery after a dead-lettered message").await;
    assert_eq!(
        got.id, other,
        "contract: a dead-lettered message must not block the queue"
    );
    queue.ack(&got.receipt).await.must("ack");
}

/// Four receivers draining the queue at once get each message exactly once.
pub async fn queue_concurrent_receivers_share_messages<Q: Queue + ?Sized>(queue: &Q) {
    let mut sent = HashSet::new();
    for n in 0..20 {
        sent.insert(queue.send(&format!("c{n}")).await.must("send"));
    }
    let drain = move || async move {
        let mut mine = Vec::new();
        loop {
            let got = queue
                .receive(3, Duration::from_millis(300))
                .await
                .must("receive");
            if got.is_empty() {
                return mine;
            }
            for m in got {
                queue.ack(&m.receipt).await.must("ack");
                mine.push(m.id);
            }
        }
    };
    let (a, b, c, d) = tokio::join!(drain(), drain(), drain(), drain());
    let all: Vec<String> = [a, b, c, d].concat();
    let unique_ids: HashSet<String> = all.iter().cloned().collect();
    assert_eq!(
        unique_ids.len(),
        all.len(),
        "contract: concurrent receivers must not get the same message twice within its visibility timeout"
    );
    assert_eq!(
        unique_ids, sent,
        "contract: concurrent receivers must get every message"
    );
}
