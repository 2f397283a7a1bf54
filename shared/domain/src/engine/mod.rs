//! The engine: routes leads through the ports, committing each decision atomically.
//!
//! Every write is conditional on the versions read, so any number of engines (router tasks,
//! Lambda instances, the sweeper, API handlers) can run at once: a lost race is re-read and
//! retried with jittered backoff, a bounded number of times, and never produces two owners or a
//! broken cap.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use leadrouter_lead::Lead;
use rand::Rng;
use tracing::{debug, instrument, warn};
use uuid::Uuid;

use crate::config::RoutingConfig;
use crate::decision::{Ineligible, Outcome};
use crate::events::LeadEvent;
use crate::ports::{Clock, Commit, CommitOutcome, EmailOwner, Queue, Store, StoreError, Versioned};
use crate::record::{HistoryEntry, LeadRecord, LeadStatus, RepId};
use crate::routing::{self, Requirements, Snapshot};
use crate::sla;
use crate::state::{Availability, OutOfOffice, PoolState, RepState};

mod sweep;

pub use sweep::SweepReport;

/// A named crash point for fault-injection tests (feature `failpoints`, the `fail` crate): a test
/// configures it to panic (a crash: the process dies, the queue redelivers) or to return an
/// error from the enclosing function. Without the feature it is no code at all.
macro_rules! failpoint {
    ($name:literal) => {
        #[cfg(feature = "failpoints")]
        fail::fail_point!($name, |arg: Option<String>| Err(EngineError::Store(
            StoreError::Unavailable(format!("failpoint {}: {}", $name, arg.unwrap_or_default()))
        )));
    };
}

/// Conflicts retried before giving the work back (to the queue, or as a 503 to the caller).
const MAX_ATTEMPTS: u32 = 12;

/// One attempt of an optimistic read-decide-write cycle (see [`Engine::optimistic`]).
enum Attempt<T> {
    /// Nothing to write: this is the answer.
    Done(T),
    /// Write this; once it lands, this is the answer.
    Write(Commit, T),
}

/// Why the engine could not do something. Lost races are not errors; see the result enums.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The store failed; transient.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Too many concurrent writers on the same items; retry later.
    #[error("gave up after {MAX_ATTEMPTS} conflicting attempts")]
    Contention,
    /// No lead with this id.
    #[error("lead {0} not found")]
    NotFound(Uuid),
    /// No rep with this id in the config.
    #[error("rep {0} not found")]
    UnknownRep(String),
}

impl EngineError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, EngineError::Store(_) | EngineError::Contention)
    }
}

/// Result of routing one lead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// This call assigned the lead.
    Assigned {
        /// The new owner.
        rep: RepId,
    },
    /// This call recorded another outcome (waiting, claim pool, nurture, spam).
    Recorded(LeadStatus),
    /// The lead was already routed (a redelivery, or another router won); nothing written.
    AlreadyRouted {
        /// Its status.
        status: LeadStatus,
        /// Its owner, if any.
        owner: Option<RepId>,
    },
    /// Still nobody eligible; nothing written.
    StillWaiting,
}

/// Result of a rep's action on a lead.
#[derive(Debug, Clone, PartialEq)]
pub enum ActionOutcome {
    /// Done (or already done by the same rep: actions are idempotent).
    Done(Box<LeadRecord>),
    /// The lead belongs to someone else (or nobody); nothing written.
    NotOwner {
        /// The current owner.
        owner: Option<RepId>,
        /// The current status.
        status: LeadStatus,
    },
    /// The action does not apply to a lead in this status (e.g. accepting a lost lead).
    InvalidState {
        /// The current status.
        status: LeadStatus,
    },
}

/// What a rep does with a lead they own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepAction {
    /// Takes it on.
    Accept,
    /// Made first contact.
    Contacted,
    /// Won.
    Converted,
    /// Lost.
    Lost,
    /// Will not work it: it moves on at once and never comes back to this rep.
    Decline {
        /// Why (kept in the history).
        reason: String,
    },
    /// Hands it back: it moves on at once and never comes back to this rep.
    Release,
}

impl RepAction {
    /// The history event name.
    pub fn name(&self) -> &'static str {
        match self {
            RepAction::Accept => "accepted",
            RepAction::Contacted => "contacted",
            RepAction::Converted => "converted",
            RepAction::Lost => "lost",
            RepAction::Decline { .. } => "declined",
            RepAction::Release => "released",
        }
    }

    fn reason(&self) -> Option<String> {
        match self {
            RepAction::Decline { reason } => Some(reason.clone()),
            _ => None,
        }
    }
}

/// Result of claiming a lead from a claim pool.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// The caller now owns it.
    Claimed(Box<LeadRecord>),
    /// Someone got there first.
    AlreadyOwned {
        /// The winner.
        by: RepId,
    },
    /// The lead is not waiting in a claim pool the rep belongs to.
    NotClaimable {
        /// Why.
        reason: String,
    },
    /// The rep may not take leads now (away, at a cap, ...).
    NotEligible {
        /// Why.
        reasons: Vec<Ineligible>,
    },
}

/// A change to a rep's live availability.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepPatch {
    /// New availability.
    pub availability: Option<Availability>,
    /// Replaces the API-set out-of-office ranges.
    pub out_of_office: Option<Vec<OutOfOffice>>,
}

/// Routes leads and applies rep actions against a [`Store`].
pub struct Engine {
    store: Arc<dyn Store>,
    config: RwLock<Arc<RoutingConfig>>,
    clock: Arc<dyn Clock>,
    /// Where every lead write's event goes (the outbound events queue), if anywhere.
    events: Option<Arc<dyn Queue>>,
    /// A candidate config run beside the live one (shadow mode), if any.
    shadow: RwLock<Option<Arc<RoutingConfig>>>,
    /// Where every lead write's stats update goes (`GET /v1/stats`), if anywhere.
    stats: Option<Arc<dyn crate::stats::StatsStore>>,
    /// Commits lost to a concurrent writer and retried, since start (the contention benchmark
    /// and operators' metrics read it).
    conflicts: std::sync::atomic::AtomicU64,
}

impl Engine {
    /// An engine over `store` with `config`, reading time from `clock`.
    pub fn new(store: Arc<dyn Store>, config: RoutingConfig, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            store,
            config: RwLock::new(Arc::new(config)),
            clock,
            events: None,
            shadow: RwLock::new(None),
            stats: None,
            conflicts: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Runs `config` in shadow mode beside the live config (or stops, with `None`): every lead
    /// routed from now on also records what the shadow config would have decided, against the
    /// same live state, in the same write; nothing else changes. `GET /v1/shadow` reports how
    /// often and how the two differ.
    pub fn set_shadow(&self, config: Option<RoutingConfig>) {
        *self.shadow.write().unwrap_or_else(|e| e.into_inner()) = config.map(Arc::new);
    }

    /// The shadow config, if one runs.
    pub fn shadow(&self) -> Option<Arc<RoutingConfig>> {
        self.shadow
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sends an event to `queue` after every write of a lead (see [`crate::events`]).
    pub fn with_events(mut self, queue: Arc<dyn Queue>) -> Engine {
        self.events = Some(queue);
        self
    }

    /// Adds every lead write to the hourly stats in `stats` (see [`crate::stats`]).
    pub fn with_stats(mut self, stats: Arc<dyn crate::stats::StatsStore>) -> Engine {
        self.stats = Some(stats);
        self
    }

    /// How many commits this engine lost to a concurrent writer (and re-read and retried).
    pub fn conflict_retries(&self) -> u64 {
        self.conflicts.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The stats store, if the engine keeps stats.
    pub fn stats(&self) -> Option<&Arc<dyn crate::stats::StatsStore>> {
        self.stats.as_ref()
    }

    /// Sends the events of the lead records a commit wrote and adds them to the stats. An error
    /// here is returned to the caller after the write landed: the router's message is then redelivered, finds its lead
    /// routed and sends the event again (same id); other callers see a transient error.
    async fn publish(&self, leads: &[LeadRecord]) -> Result<(), EngineError> {
        self.send_events(leads).await?;
        // After the events, so a stats failure never holds back a notification. Applied once
        // per event id, so the re-publish after a redelivery does not count twice.
        if let Some(stats) = &self.stats {
            let updates: Vec<_> = leads.iter().filter_map(crate::stats::update_of).collect();
            if !updates.is_empty() {
                stats.record_all(&updates).await?;
            }
        }
        Ok(())
    }

    /// Sends the events of `leads` to the events queue, if there is one.
    async fn send_events(&self, leads: &[LeadRecord]) -> Result<(), EngineError> {
        let Some(queue) = &self.events else {
            return Ok(());
        };
        let mut bodies = Vec::with_capacity(leads.len());
        for rec in leads {
            let moved = rec
                .history
                .last()
                .is_some_and(|h| matches!(h.event.as_str(), "reassigned" | "escalated"));
            let previous = if moved {
                rec.previous_owners.last().map(String::as_str)
            } else {
                None
            };
            if let Some(event) = LeadEvent::of(rec, previous) {
                let body = serde_json::to_string(&event).map_err(|e| {
                    EngineError::Store(StoreError::Corrupt {
                        key: event.id.clone(),
                        reason: e.to_string(),
                    })
                })?;
                bodies.push(body);
            }
        }
        if !bodies.is_empty() {
            queue.send_batch(&bodies).await?;
        }
        Ok(())
    }

    /// The config in force.
    pub fn config(&self) -> Arc<RoutingConfig> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the config; decisions already committed keep the version they used.
    pub fn set_config(&self, config: RoutingConfig) {
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Now, by the injected clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Stores a received lead (once: a lead id already present is left as it is) and routes it.
    #[instrument(skip(self, lead), fields(lead = %lead.id))]
    pub async fn ingest(&self, lead: Lead) -> Result<Routed, EngineError> {
        let mut routed = self.route_batch(vec![lead]).await?;
        routed.pop().ok_or(EngineError::Contention)
    }

    /// Routes a stored lead that has no owner yet. Safe to call any number of times, from any
    /// number of tasks: at most one call assigns it.
    #[instrument(skip(self))]
    pub async fn route(&self, id: Uuid) -> Result<Routed, EngineError> {
        let rec = self
            .store
            .get_lead(id)
            .await?
            .ok_or(EngineError::NotFound(id))?;
        let mut routed = self.route_batch(vec![rec.lead]).await?;
        routed.pop().ok_or(EngineError::Contention)
    }

    /// Stores and routes a batch of received leads (one queue receive), returning one result per
    /// lead, in order. Leads already stored are not overwritten; leads already routed (a
    /// redelivery) are left alone.
    ///
    /// The batch is decided in memory against one snapshot of rep counters and pool rotations,
    /// then committed as one conditional write per chunk of [`BATCH_CHUNK`] leads: each pool's
    /// rotation is written once per chunk (k turns reserved at once, not one write per lead),
    /// each new lead is written once (no separate insert), and on DynamoDB the whole chunk is one
    /// `TransactWriteItems`. If anything changed since it was read, nothing is written and the
    /// chunk is re-read and re-decided.
    #[instrument(skip_all, fields(leads = leads.len()))]
    pub async fn route_batch(&self, leads: Vec<Lead>) -> Result<Vec<Routed>, EngineError> {
        let mut out = Vec::with_capacity(leads.len());
        for (i, chunk) in leads.chunks(BATCH_CHUNK).enumerate() {
            if i > 0 {
                // Each chunk is its own transaction (lead writes, counters and the rotation
                // turns they took, together): here the earlier chunks' rotation turns and leads
                // are written and the later chunks' are not.
                failpoint!("engine::between_chunks");
            }
            out.extend(self.route_chunk(chunk).await?);
        }
        Ok(out)
    }

    async fn route_chunk(&self, leads: &[Lead]) -> Result<Vec<Routed>, EngineError> {
        let (results, already) = self
            .optimistic("route", move || async move {
                let cfg = self.config();
                // The chunk's leads and their contacts' earlier owners: one store call each,
                // not one per lead, sent at once (one round trip on the embedded store). The
                // owners are those of the contacts as received, which are the stored leads'
                // contacts too unless a lead id came again with other contacts (those are
                // looked up again below).
                let ids: Vec<Uuid> = leads.iter().map(|l| l.id).collect();
                let incoming: Vec<&Lead> = leads.iter().collect();
                let (stored, mut previous) = tokio::try_join!(
                    async { self.store.get_leads(&ids).await.map_err(EngineError::from) },
                    self.previous_owners(&cfg, &incoming)
                )?;
                let routing_leads: Vec<&Lead> = leads
                    .iter()
                    .zip(&stored)
                    .map(|(lead, rec)| rec.as_ref().map_or(lead, |r| &r.lead))
                    .collect();
                let changed: Vec<usize> = (0..leads.len())
                    .filter(|&i| {
                        let (a, b) = (&leads[i], routing_leads[i]);
                        a.email != b.email || a.phone != b.phone
                    })
                    .collect();
                if !changed.is_empty() {
                    let again: Vec<&Lead> = changed.iter().map(|&i| routing_leads[i]).collect();
                    let owners = self.previous_owners(&cfg, &again).await?;
                    for (i, owner) in changed.into_iter().zip(owners) {
                        previous[i] = owner;
                    }
                }
                let (mut rep_ids, mut pool_ids): (Vec<RepId>, Vec<String>) =
                    (Vec::new(), Vec::new());
                for (lead, owner) in routing_leads.iter().zip(&previous) {
                    let (reps, pools) = routing::needs(&cfg, lead, owner.as_ref());
                    merge(&mut rep_ids, reps);
                    merge(&mut pool_ids, pools);
                }
                let mut snap = self.snapshot(&rep_ids, &pool_ids, None).await?;
                let (base_reps, base_pools) = (snap.reps.clone(), snap.pools.clone());
                let now = self.now();
                let shadow = self.shadow();
                let plan = plan_chunk(
                    &cfg,
                    shadow.as_deref(),
                    leads,
                    stored,
                    previous,
                    &mut snap,
                    now,
                );
                if plan.commit.is_empty() {
                    return Ok(Attempt::Done((plan.results, plan.already)));
                }
                let mut commit = plan.commit;
                for (id, state) in &snap.reps {
                    let base = base_reps.get(id).map_or(0, |b| b.version);
                    if state.version != base {
                        commit.reps.push(Versioned {
                            expected_version: base,
                            item: state.clone(),
                        });
                    }
                }
                for (id, state) in &snap.pools {
                    let base = base_pools.get(id).map_or(0, |b| b.version);
                    if state.version != base {
                        commit.pools.push(Versioned {
                            expected_version: base,
                            item: state.clone(),
                        });
                    }
                }
                Ok(Attempt::Write(commit, (plan.results, plan.already)))
            })
            .await?;
        // A redelivered message finds its lead routed: the event of that write may not have
        // been sent (a crash between the write and the send), so it is sent again, same id.
        self.publish(&already).await?;
        Ok(results)
    }

    /// Runs `attempt` until its commit lands (or it needs no write). A lost race — any item
    /// changed since it was read — writes nothing; the attempt re-reads and re-decides after a
    /// jittered backoff, at most [`MAX_ATTEMPTS`] times, then gives the work back as
    /// [`EngineError::Contention`].
    async fn optimistic<T, F, Fut>(
        &self,
        what: &'static str,
        mut attempt: F,
    ) -> Result<T, EngineError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<Attempt<T>, EngineError>>,
    {
        for n in 0..MAX_ATTEMPTS {
            let (commit, answer) = match attempt().await? {
                Attempt::Done(answer) => return Ok(answer),
                Attempt::Write(commit, answer) => (commit, answer),
            };
            if commit.is_empty() {
                return Ok(answer);
            }
            // Decided (rotation and counters advanced in memory), nothing written yet.
            failpoint!("engine::before_commit");
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed => {
                    // Written (leads, counters, rotation), the events not yet sent.
                    failpoint!("engine::after_commit");
                    let written: Vec<LeadRecord> = commit
                        .leads
                        .into_iter()
                        .map(|v| LeadRecord {
                            version: v.expected_version + 1,
                            ..v.item
                        })
                        .collect();
                    self.publish(&written).await?;
                    return Ok(answer);
                }
                CommitOutcome::Conflict(stale) => {
                    self.conflicts
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    debug!(what, attempt = n, ?stale, "conflict, retrying");
                    backoff(n).await;
                }
            }
        }
        warn!(what, "gave up under contention");
        Err(EngineError::Contention)
    }

    /// Each lead's earlier owner: the latest owner of a lead with its email, else of one with
    /// its phone (sticky routing and repeat detection). One store call for every lead's email
    /// and phone together: a phone is read even when the email finds an owner (one more read,
    /// for a repeat contact only), so that routing waits for one round trip instead of two.
    async fn previous_owners(
        &self,
        cfg: &RoutingConfig,
        leads: &[&Lead],
    ) -> Result<Vec<Option<EmailOwner>>, EngineError> {
        let mut owners: Vec<Option<EmailOwner>> = vec![None; leads.len()];
        if cfg.settings.sticky_days == 0 {
            return Ok(owners);
        }
        // Each lead's keys in order, email before phone, so the first owner found is the
        // email's.
        let (mut at, mut keys) = (Vec::new(), Vec::new());
        for (i, lead) in leads.iter().enumerate() {
            if let Some(email) = &lead.email {
                at.push(i);
                keys.push(email.clone());
            }
            if let Some(phone) = &lead.phone {
                at.push(i);
                keys.push(routing::phone_key(phone));
            }
        }
        if keys.is_empty() {
            return Ok(owners);
        }
        for (i, owner) in at.into_iter().zip(self.store.email_owners(&keys).await?) {
            if owners[i].is_none() {
                owners[i] = owner;
            }
        }
        Ok(owners)
    }

    async fn snapshot(
        &self,
        rep_ids: &[RepId],
        pool_ids: &[String],
        email_owner: Option<EmailOwner>,
    ) -> Result<Snapshot, EngineError> {
        // Both reads at once: on the embedded store they land in one database round trip (a
        // routing batch makes several in a row, each waiting for the database thread).
        let (reps, pools) =
            tokio::try_join!(self.store.get_reps(rep_ids), self.store.get_pools(pool_ids))?;
        let reps: HashMap<RepId, RepState> = reps.into_iter().map(|s| (s.rep.clone(), s)).collect();
        let pools: HashMap<String, PoolState> =
            pools.into_iter().map(|p| (p.pool.clone(), p)).collect();
        Ok(Snapshot {
            reps,
            pools,
            email_owner,
            excluded: Vec::new(),
        })
    }

    /// The owner accepts the lead. Idempotent for the owner; anyone else gets `NotOwner`.
    pub async fn accept(&self, id: Uuid, rep: &str) -> Result<ActionOutcome, EngineError> {
        self.act(id, rep, RepAction::Accept).await
    }

    /// A rep acts on a lead they own. Each action is one conditional write of the lead (and of
    /// the rep's counters when the lead leaves them), lands in the history, and is idempotent:
    /// repeating it changes nothing. Only the current owner can act; a decline or release hands
    /// the lead on at once, and it never comes back to that rep.
    #[instrument(skip(self, action), fields(action = action.name()))]
    pub async fn act(
        &self,
        id: Uuid,
        rep: &str,
        action: RepAction,
    ) -> Result<ActionOutcome, EngineError> {
        let action = &action;
        let outcome = self
            .optimistic("act", move || async move {
                let rec = self
                    .store
                    .get_lead(id)
                    .await?
                    .ok_or(EngineError::NotFound(id))?;
                if rec.owner.as_deref() != Some(rep) {
                    return Ok(Attempt::Done(ActionOutcome::NotOwner {
                        owner: rec.owner,
                        status: rec.status,
                    }));
                }
                let now = self.now();
                let mut next = rec.clone();
                let leaves_rep = match (&action, rec.status) {
                    (RepAction::Accept, LeadStatus::Assigned) => {
                        next.status = LeadStatus::Accepted;
                        next.accepted_at = Some(now);
                        false
                    }
                    (RepAction::Contacted, LeadStatus::Assigned | LeadStatus::Accepted) => {
                        next.status = LeadStatus::Contacted;
                        next.accepted_at = next.accepted_at.or(Some(now));
                        next.contacted_at = Some(now);
                        false
                    }
                    (
                        RepAction::Converted | RepAction::Lost,
                        LeadStatus::Assigned | LeadStatus::Accepted | LeadStatus::Contacted,
                    ) => {
                        next.status = if matches!(action, RepAction::Converted) {
                            LeadStatus::Converted
                        } else {
                            LeadStatus::Lost
                        };
                        next.closed_at = Some(now);
                        true
                    }
                    (
                        RepAction::Decline { .. } | RepAction::Release,
                        LeadStatus::Assigned | LeadStatus::Accepted | LeadStatus::Contacted,
                    ) => {
                        next.status = LeadStatus::Queued;
                        next.owner = None;
                        next.assigned_at = None;
                        next.accepted_at = None;
                        next.contacted_at = None;
                        if !next.declined_by.iter().any(|r| r == rep) {
                            next.declined_by.push(rep.to_owned());
                        }
                        true
                    }
                    // Already done: idempotent.
                    (RepAction::Accept, LeadStatus::Accepted | LeadStatus::Contacted)
                    | (RepAction::Contacted, LeadStatus::Contacted)
                    | (RepAction::Converted, LeadStatus::Converted)
                    | (RepAction::Lost, LeadStatus::Lost) => {
                        return Ok(Attempt::Done(ActionOutcome::Done(Box::new(rec))));
                    }
                    (_, status) => {
                        return Ok(Attempt::Done(ActionOutcome::InvalidState { status }));
                    }
                };
                next.history.push(event(
                    now,
                    action.name(),
                    Some(rep),
                    rec.pool.as_deref(),
                    action.reason(),
                ));
                next.due = sla::next_due(&self.config(), &next, now);
                let mut commit = Commit {
                    leads: vec![Versioned {
                        expected_version: rec.version,
                        item: next.clone(),
                    }],
                    ..Commit::default()
                };
                if leaves_rep {
                    let state = self.rep_state(rep).await?;
                    let mut freed = state.clone();
                    freed.open_leads = freed.open_leads.saturating_sub(1);
                    commit.reps.push(Versioned {
                        expected_version: state.version,
                        item: freed,
                    });
                }
                next.version = rec.version + 1;
                Ok(Attempt::Write(commit, ActionOutcome::Done(Box::new(next))))
            })
            .await?;
        let handed_back = matches!(action, RepAction::Decline { .. } | RepAction::Release);
        if let (ActionOutcome::Done(rec), true) = (&outcome, handed_back)
            && rec.status == LeadStatus::Queued
        {
            // Hand it on at once; if nobody can take it, it waits `unassigned`.
            self.route(id).await?;
            if let Some(routed) = self.store.get_lead(id).await? {
                return Ok(ActionOutcome::Done(Box::new(routed)));
            }
        }
        Ok(outcome)
    }

    /// A rep's live state (version 0 if never written).
    async fn rep_state(&self, rep: &str) -> Result<RepState, EngineError> {
        let mut states = self.store.get_reps(&[rep.to_owned()]).await?;
        Ok(states.pop().unwrap_or_else(|| RepState::new(rep)))
    }

    /// A rep claims a lead waiting in a claim pool. Of concurrent claims exactly one wins.
    #[instrument(skip(self))]
    pub async fn claim(&self, id: Uuid, rep: &str) -> Result<Claim, EngineError> {
        let cfg = self.config();
        let rep_cfg = cfg
            .rep(rep)
            .ok_or_else(|| EngineError::UnknownRep(rep.to_owned()))?;
        let cfg = &cfg;
        self.optimistic("claim", move || async move {
            let rec = self
                .store
                .get_lead(id)
                .await?
                .ok_or(EngineError::NotFound(id))?;
            if let Some(by) = rec.owner.clone() {
                return Ok(Attempt::Done(Claim::AlreadyOwned { by }));
            }
            let pool = match (&rec.status, &rec.pool) {
                (LeadStatus::AwaitingClaim, Some(pool)) => pool.clone(),
                _ => {
                    return Ok(Attempt::Done(Claim::NotClaimable {
                        reason: format!(
                            "the lead is {}, not waiting in a claim pool",
                            rec.status.as_str()
                        ),
                    }));
                }
            };
            if !cfg
                .pool(&pool)
                .is_some_and(|p| p.members.iter().any(|m| m == rep))
            {
                return Ok(Attempt::Done(Claim::NotClaimable {
                    reason: format!("rep {rep} is not a member of pool {pool}"),
                }));
            }
            let state = self.rep_state(rep).await?;
            let now = self.now();
            let reasons =
                routing::ineligibility(rep_cfg, &state, &Requirements::default(), false, now);
            if !reasons.is_empty() {
                return Ok(Attempt::Done(Claim::NotEligible { reasons }));
            }
            let mut next = rec.clone();
            next.status = LeadStatus::Assigned;
            next.owner = Some(rep.to_owned());
            next.assigned_at = Some(now);
            next.history
                .push(event(now, "claimed", Some(rep), Some(&pool), None));
            next.due = sla::next_due(cfg, &next, now);
            let commit = Commit {
                leads: vec![Versioned {
                    expected_version: rec.version,
                    item: next.clone(),
                }],
                reps: vec![Versioned {
                    expected_version: state.version,
                    item: routing::decide::bump_rep(cfg, state, now),
                }],
                pools: Vec::new(),
                email_owners: contact_keys(&next.lead)
                    .into_iter()
                    .map(|key| EmailOwner {
                        email: key,
                        rep: rep.to_owned(),
                        lead_id: id,
                        at: now,
                    })
                    .collect(),
            };
            next.version = rec.version + 1;
            Ok(Attempt::Write(commit, Claim::Claimed(Box::new(next))))
        })
        .await
    }

    /// Changes a rep's live availability (one conditional write of the rep's state, in force
    /// once this returns), then moves leads at once: an absent rep's unaccepted leads go to
    /// others, and waiting leads go to the rep if they can now take some. That follow-up
    /// touches pools the routers are writing and can lose its races under load; then it is
    /// logged and left to the sweeper, which does the same on every tick, and the change
    /// itself still succeeds.
    #[instrument(skip(self, patch))]
    pub async fn update_rep(&self, rep: &str, patch: RepPatch) -> Result<RepState, EngineError> {
        if self.config().rep(rep).is_none() {
            return Err(EngineError::UnknownRep(rep.to_owned()));
        }
        let patch = &patch;
        let next = self
            .optimistic("update_rep", move || async move {
                let state = self.rep_state(rep).await?;
                let mut next = state.clone();
                if let Some(a) = patch.availability {
                    next.availability = Some(a);
                }
                if let Some(ooo) = &patch.out_of_office {
                    next.out_of_office = ooo.clone();
                }
                let commit = Commit {
                    reps: vec![Versioned {
                        expected_version: state.version,
                        item: next.clone(),
                    }],
                    ..Commit::default()
                };
                next.version = state.version + 1;
                Ok(Attempt::Write(commit, next))
            })
            .await?;
        let now = self.now();
        let absent = self
            .config()
            .rep(rep)
            .is_some_and(|r| sla::is_absent(r, &next, now));
        let moved = async {
            if absent {
                // Away or out of office now: leads they have not accepted move on at once.
                self.release_leads_of(rep, now).await?;
            }
            self.retry_waiting_for(rep).await
        };
        if let Err(e) = moved.await {
            warn!(error = %e, "moving leads after an availability change failed; the sweeper will");
        }
        Ok(next)
    }

    async fn retry_waiting_for(&self, rep: &str) -> Result<usize, EngineError> {
        let cfg = self.config();
        let mut pools: Vec<String> = cfg.pools_of(rep).map(|p| p.id.clone()).collect();
        // Pools that fall back to a pool of this rep may also have waiting leads now.
        for p in &cfg.pools {
            if p.fallback.is_some() && !pools.contains(&p.id) {
                pools.push(p.id.clone());
            }
        }
        pools.push(routing::rep_queue(rep));
        let mut assigned = 0;
        for pool in pools {
            assigned += self.retry_pool(&pool).await?;
        }
        Ok(assigned)
    }

    /// Hands out waiting (`unassigned`) leads in every pool, highest score first then oldest.
    /// Returns how many got an owner. The sweeper calls this every tick.
    #[instrument(skip(self))]
    pub async fn retry_waiting(&self) -> Result<usize, EngineError> {
        let mut assigned = 0;
        for pool in self.store.pools_with_waiting().await? {
            assigned += self.retry_pool(&pool).await?;
        }
        Ok(assigned)
    }

    async fn retry_pool(&self, pool: &str) -> Result<usize, EngineError> {
        const BATCH: usize = 200;
        let waiting = self
            .store
            .list_waiting(pool, LeadStatus::Unassigned, BATCH)
            .await?;
        let mut assigned = 0;
        for rec in waiting {
            match self.route(rec.lead.id).await {
                Ok(Routed::Assigned { .. }) => assigned += 1,
                Ok(_) => {}
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => warn!(error = %e, "retrying a waiting lead failed"),
            }
        }
        Ok(assigned)
    }
}

fn event(
    at: DateTime<Utc>,
    what: &str,
    rep: Option<&str>,
    pool: Option<&str>,
    reason: Option<String>,
) -> HistoryEntry {
    HistoryEntry {
        at,
        event: what.to_owned(),
        rep: rep.map(str::to_owned),
        pool: pool.map(str::to_owned),
        reason,
    }
}

/// Leads per commit: with their owners' counters, the pools' rotations and two sticky keys each,
/// a chunk stays well inside DynamoDB's 100-item transactions.
pub const BATCH_CHUNK: usize = 20;

/// The decided writes of a chunk (rep and pool states are read off the snapshot afterwards).
struct ChunkPlan {
    commit: Commit,
    results: Vec<Routed>,
    /// Stored records of leads found already routed.
    already: Vec<LeadRecord>,
}

fn merge(into: &mut Vec<String>, from: Vec<String>) {
    for x in from {
        if !into.contains(&x) {
            into.push(x);
        }
    }
}

/// Decides every lead of a chunk in order against `snap`, advancing it as each plan would, so
/// the chunk's leads share one rotation and see each other's assignments (two leads of the
/// same person in one batch go to the same owner).
fn plan_chunk(
    cfg: &RoutingConfig,
    shadow: Option<&RoutingConfig>,
    leads: &[Lead],
    stored: Vec<Option<LeadRecord>>,
    previous: Vec<Option<EmailOwner>>,
    snap: &mut Snapshot,
    now: DateTime<Utc>,
) -> ChunkPlan {
    let mut commit = Commit::default();
    let mut already = Vec::new();
    let mut results: Vec<Routed> = Vec::with_capacity(leads.len());
    let mut first_result: HashMap<Uuid, usize> = HashMap::new();
    let mut batch_owners: HashMap<String, EmailOwner> = HashMap::new();
    for ((lead, rec), prev) in leads.iter().zip(stored).zip(previous) {
        if let Some(&i) = first_result.get(&lead.id) {
            // The same lead twice in one batch (a redelivery): one decision.
            let again = results[i].clone();
            results.push(again);
            continue;
        }
        first_result.insert(lead.id, results.len());
        let (rec, expected) = match rec {
            Some(r) if !matches!(r.status, LeadStatus::Queued | LeadStatus::Unassigned) => {
                results.push(Routed::AlreadyRouted {
                    status: r.status,
                    owner: r.owner.clone(),
                });
                already.push(r);
                continue;
            }
            Some(r) => {
                let v = r.version;
                (r, v)
            }
            None => (LeadRecord::received(lead.clone()), 0),
        };
        if rec.lead.awaiting_enrichment {
            // Nothing to route on yet: stored so that nothing is dropped, found by its status.
            let mut rec = rec;
            rec.status = LeadStatus::AwaitingEnrichment;
            commit.leads.push(Versioned {
                expected_version: expected,
                item: rec,
            });
            results.push(Routed::Recorded(LeadStatus::AwaitingEnrichment));
            continue;
        }
        snap.excluded = excluded(&rec);
        snap.email_owner = contact_keys(&rec.lead)
            .iter()
            .find_map(|k| batch_owners.get(k).cloned())
            .or(prev);
        let plan = routing::decide(cfg, &rec.lead, snap, now);
        // Shadow mode: the candidate config decides against the same state, before the live
        // plan is applied; only its answer is kept.
        let shadow = shadow.map(|sc| {
            let sp = routing::decide(sc, &rec.lead, snap, now);
            crate::record::ShadowDecision {
                config_version: sc.version.clone(),
                rule: sp.decision.rule.name,
                status: sp.status,
                owner: sp.owner,
                pool: sp.pool,
            }
        });
        if expected > 0
            && rec.status == LeadStatus::Unassigned
            && plan.status == LeadStatus::Unassigned
            && plan.pool == rec.pool
        {
            results.push(Routed::StillWaiting);
            continue;
        }
        results.push(match (&plan.owner, plan.status) {
            (Some(rep), _) => Routed::Assigned { rep: rep.clone() },
            (None, status) => Routed::Recorded(status),
        });
        let repeat_of = routing::decide::sticky_owner(cfg, snap, now)
            .map(|o| o.lead_id)
            .filter(|prev| *prev != lead.id);
        snap.apply(&plan);
        let mut next = record_plan(rec, plan, now, repeat_of);
        next.due = sla::next_due(cfg, &next, now);
        next.shadow = shadow.or(next.shadow);
        if let Some(owner) = &next.owner {
            for key in contact_keys(&next.lead) {
                let entry = EmailOwner {
                    email: key.clone(),
                    rep: owner.clone(),
                    lead_id: next.lead.id,
                    at: now,
                };
                batch_owners.insert(key, entry);
            }
        }
        commit.leads.push(Versioned {
            expected_version: expected,
            item: next,
        });
    }
    commit.email_owners = batch_owners.into_values().collect();
    ChunkPlan {
        commit,
        results,
        already,
    }
}

/// The lead record after `plan`: status, owner, pool, decision, and the history line.
fn record_plan(
    rec: LeadRecord,
    plan: routing::Plan,
    now: DateTime<Utc>,
    repeat_of: Option<Uuid>,
) -> LeadRecord {
    let mut next = rec;
    next.repeat_of = repeat_of.or(next.repeat_of);
    let (what, reason) = match &plan.decision.outcome {
        Outcome::Assigned { .. } => ("assigned", None),
        Outcome::AwaitingClaim { .. } => ("awaiting_claim", None),
        Outcome::Unassigned { reason, .. } => ("unassigned", Some(reason.clone())),
        Outcome::NoRep { outcome } => (outcome.as_str(), None),
    };
    let reason = plan
        .reason
        .clone()
        .or(reason)
        .or_else(|| Some(format!("rule `{}`", plan.decision.rule.name)));
    next.history.push(event(
        now,
        what,
        plan.owner.as_deref(),
        plan.pool.as_deref(),
        reason,
    ));
    next.status = plan.status;
    next.owner = plan.owner;
    next.pool = plan.pool;
    if next.owner.is_some() {
        next.assigned_at = Some(now);
    }
    // A lead stays in its experiment arm when it is reassigned or escalated (the reroute's
    // decision names no arm): the arm is where it entered.
    let arm = next.decision.take().and_then(|d| d.experiment);
    let mut decision = plan.decision;
    if decision.experiment.is_none() {
        decision.experiment = arm;
    }
    next.decision = Some(decision);
    next
}

/// Reps a lead must not go to: those who declined or released it, and its earlier owners.
fn excluded(rec: &LeadRecord) -> Vec<RepId> {
    let mut out = rec.declined_by.clone();
    merge(&mut out, rec.previous_owners.clone());
    out
}

/// The sticky-index keys of a lead: its email and its phone.
fn contact_keys(lead: &Lead) -> Vec<String> {
    let mut keys: Vec<String> = lead.email.iter().cloned().collect();
    keys.extend(lead.phone.as_deref().map(routing::phone_key));
    keys
}

/// Jittered exponential backoff: 1 ms doubling to 64 ms, times a random factor in [0.5, 1.5).
async fn backoff(attempt: u32) {
    let base = 1u64 << attempt.min(6);
    let jitter = rand::rng().random_range(0.5..1.5);
    tokio::time::sleep(Duration::from_micros(
        (base as f64 * 1000.0 * jitter) as u64,
    ))
    .await;
}
