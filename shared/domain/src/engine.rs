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
use crate::ports::{
    Clock, Commit, CommitOutcome, EmailOwner, Inserted, Store, StoreError, Versioned,
};
use crate::record::{HistoryEntry, LeadRecord, LeadStatus, RepId};
use crate::routing::{self, Requirements, Snapshot};
use crate::state::{Availability, OutOfOffice, RepState};

/// Conflicts retried before giving the work back (to the queue, or as a 503 to the caller).
const MAX_ATTEMPTS: u32 = 12;

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
}

impl Engine {
    /// An engine over `store` with `config`, reading time from `clock`.
    pub fn new(store: Arc<dyn Store>, config: RoutingConfig, clock: Arc<dyn Clock>) -> Engine {
        Engine {
            store,
            config: RwLock::new(Arc::new(config)),
            clock,
        }
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
        let id = lead.id;
        let mut rec = LeadRecord::received(lead);
        if rec.lead.awaiting_enrichment {
            // Nothing to route on yet: stored so that nothing is dropped, found by its status.
            rec.status = LeadStatus::AwaitingEnrichment;
        }
        if let Inserted::Existing(rec) = self.store.insert_lead(&rec).await? {
            debug!(status = rec.status.as_str(), "lead already stored");
        }
        self.route(id).await
    }

    /// Routes a stored lead that has no owner yet. Safe to call any number of times, from any
    /// number of tasks: at most one call assigns it.
    #[instrument(skip(self))]
    pub async fn route(&self, id: Uuid) -> Result<Routed, EngineError> {
        for attempt in 0..MAX_ATTEMPTS {
            let rec = self
                .store
                .get_lead(id)
                .await?
                .ok_or(EngineError::NotFound(id))?;
            if !matches!(rec.status, LeadStatus::Queued | LeadStatus::Unassigned) {
                return Ok(Routed::AlreadyRouted {
                    status: rec.status,
                    owner: rec.owner,
                });
            }
            let cfg = self.config();
            let email_owner = self.previous_owner(&cfg, &rec.lead).await?;
            let (rep_ids, pool_ids) = routing::needs(&cfg, &rec.lead, email_owner.as_ref());
            let snap = self.snapshot(&rep_ids, &pool_ids, email_owner).await?;
            let now = self.now();
            let plan = routing::decide(&cfg, &rec.lead, &snap, now);
            if rec.status == LeadStatus::Unassigned
                && plan.status == LeadStatus::Unassigned
                && plan.pool == rec.pool
            {
                return Ok(Routed::StillWaiting);
            }
            let result = match (&plan.owner, plan.status) {
                (Some(rep), _) => Routed::Assigned { rep: rep.clone() },
                (None, status) => Routed::Recorded(status),
            };
            let repeat_of = routing::decide::sticky_owner(&cfg, &snap, now)
                .map(|o| o.lead_id)
                .filter(|prev| *prev != id);
            let commit = plan_commit(rec, plan, &snap, now, repeat_of);
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed => return Ok(result),
                CommitOutcome::Conflict(stale) => {
                    debug!(attempt, ?stale, "routing conflict, retrying");
                    backoff(attempt).await;
                }
            }
        }
        warn!("routing gave up under contention");
        Err(EngineError::Contention)
    }

    /// The owner of the latest lead with the same email, else the same phone (sticky routing
    /// and repeat detection).
    async fn previous_owner(
        &self,
        cfg: &RoutingConfig,
        lead: &Lead,
    ) -> Result<Option<EmailOwner>, EngineError> {
        if cfg.settings.sticky_days == 0 {
            return Ok(None);
        }
        if let Some(email) = &lead.email
            && let Some(o) = self.store.email_owner(email).await?
        {
            return Ok(Some(o));
        }
        if let Some(phone) = &lead.phone {
            return Ok(self.store.email_owner(&routing::phone_key(phone)).await?);
        }
        Ok(None)
    }

    async fn snapshot(
        &self,
        rep_ids: &[RepId],
        pool_ids: &[String],
        email_owner: Option<EmailOwner>,
    ) -> Result<Snapshot, EngineError> {
        let reps: HashMap<RepId, RepState> = self
            .store
            .get_reps(rep_ids)
            .await?
            .into_iter()
            .map(|s| (s.rep.clone(), s))
            .collect();
        let mut pools = HashMap::new();
        for id in pool_ids {
            pools.insert(id.clone(), self.store.get_pool(id).await?);
        }
        Ok(Snapshot {
            reps,
            pools,
            email_owner,
        })
    }

    /// The owner accepts the lead. Idempotent for the owner; anyone else gets `NotOwner`.
    #[instrument(skip(self))]
    pub async fn accept(&self, id: Uuid, rep: &str) -> Result<ActionOutcome, EngineError> {
        for attempt in 0..MAX_ATTEMPTS {
            let rec = self
                .store
                .get_lead(id)
                .await?
                .ok_or(EngineError::NotFound(id))?;
            if rec.owner.as_deref() != Some(rep) {
                return Ok(ActionOutcome::NotOwner {
                    owner: rec.owner,
                    status: rec.status,
                });
            }
            if rec.status == LeadStatus::Accepted {
                return Ok(ActionOutcome::Done(Box::new(rec)));
            }
            let now = self.now();
            let mut next = rec.clone();
            next.status = LeadStatus::Accepted;
            next.accepted_at = Some(now);
            next.history
                .push(event(now, "accepted", Some(rep), None, None));
            let commit = Commit {
                leads: vec![Versioned {
                    expected_version: rec.version,
                    item: next.clone(),
                }],
                ..Commit::default()
            };
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed => {
                    next.version = rec.version + 1;
                    return Ok(ActionOutcome::Done(Box::new(next)));
                }
                CommitOutcome::Conflict(_) => backoff(attempt).await,
            }
        }
        Err(EngineError::Contention)
    }

    /// A rep claims a lead waiting in a claim pool. Of concurrent claims exactly one wins.
    #[instrument(skip(self))]
    pub async fn claim(&self, id: Uuid, rep: &str) -> Result<Claim, EngineError> {
        let cfg = self.config();
        let rep_cfg = cfg
            .rep(rep)
            .ok_or_else(|| EngineError::UnknownRep(rep.to_owned()))?;
        for attempt in 0..MAX_ATTEMPTS {
            let rec = self
                .store
                .get_lead(id)
                .await?
                .ok_or(EngineError::NotFound(id))?;
            if let Some(by) = rec.owner.clone() {
                return Ok(Claim::AlreadyOwned { by });
            }
            let pool = match (&rec.status, &rec.pool) {
                (LeadStatus::AwaitingClaim, Some(pool)) => pool.clone(),
                _ => {
                    return Ok(Claim::NotClaimable {
                        reason: format!(
                            "the lead is {}, not waiting in a claim pool",
                            rec.status.as_str()
                        ),
                    });
                }
            };
            if !cfg
                .pool(&pool)
                .is_some_and(|p| p.members.iter().any(|m| m == rep))
            {
                return Ok(Claim::NotClaimable {
                    reason: format!("rep {rep} is not a member of pool {pool}"),
                });
            }
            let mut states = self.store.get_reps(&[rep.to_owned()]).await?;
            let state = states.pop().unwrap_or_else(|| RepState::new(rep));
            let now = self.now();
            let reasons =
                routing::ineligibility(rep_cfg, &state, &Requirements::default(), false, now);
            if !reasons.is_empty() {
                return Ok(Claim::NotEligible { reasons });
            }
            let mut next = rec.clone();
            next.status = LeadStatus::Assigned;
            next.owner = Some(rep.to_owned());
            next.assigned_at = Some(now);
            next.history
                .push(event(now, "claimed", Some(rep), Some(&pool), None));
            let mut commit = Commit {
                leads: vec![Versioned {
                    expected_version: rec.version,
                    item: next.clone(),
                }],
                reps: vec![Versioned {
                    expected_version: state.version,
                    item: routing::decide::bump_rep(&cfg, state, now),
                }],
                ..Commit::default()
            };
            commit.email_owners = contact_keys(&next.lead)
                .into_iter()
                .map(|key| EmailOwner {
                    email: key,
                    rep: rep.to_owned(),
                    lead_id: id,
                    at: now,
                })
                .collect();
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed => {
                    next.version = rec.version + 1;
                    return Ok(Claim::Claimed(Box::new(next)));
                }
                CommitOutcome::Conflict(_) => backoff(attempt).await,
            }
        }
        Err(EngineError::Contention)
    }

    /// Changes a rep's live availability, then hands waiting leads to them if they can now take
    /// some.
    #[instrument(skip(self, patch))]
    pub async fn update_rep(&self, rep: &str, patch: RepPatch) -> Result<RepState, EngineError> {
        let cfg = self.config();
        if cfg.rep(rep).is_none() {
            return Err(EngineError::UnknownRep(rep.to_owned()));
        }
        for attempt in 0..MAX_ATTEMPTS {
            let mut states = self.store.get_reps(&[rep.to_owned()]).await?;
            let state = states.pop().unwrap_or_else(|| RepState::new(rep));
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
            match self.store.commit(&commit).await? {
                CommitOutcome::Committed => {
                    next.version = state.version + 1;
                    self.retry_waiting_for(rep).await?;
                    return Ok(next);
                }
                CommitOutcome::Conflict(_) => backoff(attempt).await,
            }
        }
        Err(EngineError::Contention)
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

/// The writes that record `plan` for `rec`, each conditional on the version that was read.
fn plan_commit(
    rec: LeadRecord,
    plan: routing::Plan,
    snap: &Snapshot,
    now: DateTime<Utc>,
    repeat_of: Option<Uuid>,
) -> Commit {
    let expected = rec.version;
    let mut next = rec;
    next.repeat_of = repeat_of.or(next.repeat_of);
    let (what, reason) = match &plan.decision.outcome {
        Outcome::Assigned { .. } => ("assigned", None),
        Outcome::AwaitingClaim { .. } => ("awaiting_claim", None),
        Outcome::Unassigned { reason, .. } => ("unassigned", Some(reason.clone())),
        Outcome::NoRep { outcome } => (
            outcome.as_str(),
            Some(format!("rule `{}`", plan.decision.rule.name)),
        ),
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
    next.owner = plan.owner.clone();
    next.pool = plan.pool.clone();
    if plan.owner.is_some() {
        next.assigned_at = Some(now);
    }
    next.decision = Some(plan.decision);
    let mut commit = Commit {
        leads: vec![Versioned {
            expected_version: expected,
            item: next.clone(),
        }],
        ..Commit::default()
    };
    if let Some(rep) = plan.rep {
        let expected_version = snap.reps.get(&rep.rep).map_or(0, |s| s.version);
        commit.reps.push(Versioned {
            expected_version,
            item: rep,
        });
    }
    if let Some(pool) = plan.rotation {
        commit.pools.push(Versioned {
            expected_version: pool.version,
            item: pool,
        });
    }
    if let Some(owner) = &plan.owner {
        commit.email_owners = contact_keys(&next.lead)
            .into_iter()
            .map(|key| EmailOwner {
                email: key,
                rep: owner.clone(),
                lead_id: next.lead.id,
                at: now,
            })
            .collect();
    }
    commit
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
