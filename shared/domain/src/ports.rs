//! The storage and queueing ports. Adapters: `leadrouter-embedded` (SQLite) and, later, DynamoDB/SQS.
//!
//! The traits are shaped after what DynamoDB does atomically: single-item reads and conditional
//! writes, and an all-or-nothing [`Commit`] of a few items (a `TransactWriteItems` of at most 100
//! items). Nothing here needs a join, a range update or a table scan.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::record::{LeadRecord, LeadStatus, PoolId, RepId};
use crate::state::{PoolState, RepState};

/// A failure of the backing store or queue. A lost race is never an error (see
/// [`CommitOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The caller passed something the store cannot use (a cursor it did not issue).
    #[error("invalid {what}: {reason}")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend refused for load; retry later.
    #[error("store throttled: {0}")]
    Throttled(String),
    /// The backend failed or could not be reached.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item could not be decoded (written by an incompatible version?).
    #[error("corrupt item {key}: {reason}")]
    Corrupt {
        /// The item's key.
        key: String,
        /// What was wrong.
        reason: String,
    },
}

/// Result of [`LeadStore::insert_lead`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// The lead was new and is now stored.
    New,
    /// A lead with this id already existed; here it is, unchanged.
    Existing(Box<LeadRecord>),
}

/// Filters and paging for [`LeadStore::list_leads`]. Results are newest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeadQuery {
    /// Only leads in this status.
    pub status: Option<LeadStatus>,
    /// Only leads owned by this rep.
    pub owner: Option<RepId>,
    /// Only leads routed through this pool.
    pub pool: Option<PoolId>,
    /// Page size; adapters cap it at 500 and read 0 as 500.
    pub limit: usize,
    /// The `next` cursor of the previous page; a cursor the store did not issue is
    /// [`StoreError::InvalidArgument`].
    pub cursor: Option<String>,
}

/// One page of leads.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadPage {
    /// The leads on this page.
    pub leads: Vec<LeadRecord>,
    /// Pass as `cursor` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// Who most recently owned a lead with a given email (for sticky routing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailOwner {
    /// Normalized email address.
    pub email: String,
    /// The rep who owned the latest lead with this email.
    pub rep: RepId,
    /// That lead.
    pub lead_id: Uuid,
    /// When it was assigned.
    pub at: DateTime<Utc>,
}

/// Reading and writing leads, outside the routing commit.
#[async_trait]
pub trait LeadStore: Send + Sync {
    /// Stores `rec` (at version 1) if no lead with its id exists (a conditional put); otherwise
    /// returns the existing record untouched. This is how redelivered messages and retried posts are deduped.
    async fn insert_lead(&self, rec: &LeadRecord) -> Result<Inserted, StoreError>;
    /// The lead with this id, if any.
    async fn get_lead(&self, id: Uuid) -> Result<Option<LeadRecord>, StoreError>;
    /// [`LeadStore::get_lead`] of each id, in order (ids may repeat), in as few round trips as
    /// the store allows (DynamoDB: `BatchGetItem`; embedded: one database call). The router
    /// reads a whole batch's leads this way.
    async fn get_leads(&self, ids: &[Uuid]) -> Result<Vec<Option<LeadRecord>>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_lead(*id).await?);
        }
        Ok(out)
    }
    /// Leads matching the query, newest `received_at` first.
    async fn list_leads(&self, query: &LeadQuery) -> Result<LeadPage, StoreError>;
    /// Leads with status `unassigned` (or `awaiting_claim`, by `status`) waiting in `pool`,
    /// highest score first (no score sorts last), then oldest first.
    async fn list_waiting(
        &self,
        pool: &str,
        status: LeadStatus,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError>;
    /// Leads whose SLA deadline (`due.at`) is at or before `before`, earliest first (the
    /// sweeper's work list; an index, never a scan).
    async fn list_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError>;
    /// Pools that have at least one lead in `status` `unassigned` (to retry them).
    async fn pools_with_waiting(&self) -> Result<Vec<PoolId>, StoreError>;
    /// The latest owner of a lead with this (normalized) email.
    async fn email_owner(&self, email: &str) -> Result<Option<EmailOwner>, StoreError>;
    /// [`LeadStore::email_owner`] of each key, in order (keys may repeat), in as few round
    /// trips as the store allows.
    async fn email_owners(&self, keys: &[String]) -> Result<Vec<Option<EmailOwner>>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            out.push(self.email_owner(key).await?);
        }
        Ok(out)
    }
}

/// A conditional write of one item: applied only if the stored version is `expected_version`
/// (0 = the item must not exist yet). The written item carries `expected_version + 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    /// The version the writer read.
    pub expected_version: u64,
    /// The new item; its own `version` field is ignored and set to `expected_version + 1`.
    pub item: T,
}

/// An all-or-nothing set of writes: every condition holds and every write lands, or nothing is
/// written. On DynamoDB this is one `TransactWriteItems`: keep it within 100 items, each item at
/// most once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Commit {
    /// Lead records to overwrite, each conditional on its version.
    pub leads: Vec<Versioned<LeadRecord>>,
    /// Rep states to overwrite, each conditional on its version.
    pub reps: Vec<Versioned<RepState>>,
    /// Pool rotations to overwrite, each conditional on its version.
    pub pools: Vec<Versioned<PoolState>>,
    /// Sticky-routing index entries to upsert (unconditional).
    pub email_owners: Vec<EmailOwner>,
}

impl Commit {
    /// Number of items the commit writes.
    pub fn len(&self) -> usize {
        self.leads.len() + self.reps.len() + self.pools.len() + self.email_owners.len()
    }

    /// Whether the commit writes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The item whose condition failed in a [`Commit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stale {
    /// A lead changed since it was read.
    Lead(Uuid),
    /// A rep's state changed since it was read.
    Rep(RepId),
    /// A pool's rotation changed since it was read.
    Pool(PoolId),
}

/// Result of [`RoutingStore::commit`]. A failed condition is a value, not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommitOutcome {
    /// Every write landed.
    Committed,
    /// Nothing was written because these items changed since they were read. Re-read and retry.
    Conflict(Vec<Stale>),
}

/// Routing state: rep counters, pool rotations, and the atomic commit of a decision.
#[async_trait]
pub trait RoutingStore: Send + Sync {
    /// The live state of each rep, in the order asked; never-written reps read as version 0.
    async fn get_reps(&self, ids: &[RepId]) -> Result<Vec<RepState>, StoreError>;
    /// A pool's rotation; a never-written pool reads as version 0.
    async fn get_pool(&self, id: &str) -> Result<PoolState, StoreError>;
    /// [`RoutingStore::get_pool`] of each id, in order, in as few round trips as the store
    /// allows (embedded: one database call).
    async fn get_pools(&self, ids: &[String]) -> Result<Vec<PoolState>, StoreError> {
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.push(self.get_pool(id).await?);
        }
        Ok(out)
    }
    /// Applies every write of `commit` if every condition holds, else none.
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError>;
}

/// Everything the router needs from storage.
pub trait Store: LeadStore + RoutingStore {}
impl<T: LeadStore + RoutingStore + ?Sized> Store for T {}

/// A message taken from a queue; invisible to other receivers until acked or its visibility
/// timeout passes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The queue's id for the message (the same across redeliveries).
    pub id: String,
    /// Handle for [`Queue::ack`] / [`Queue::release`]; valid for this delivery only.
    pub receipt: String,
    /// The message body.
    pub body: String,
    /// How many times it has been received, this time included (1 on first delivery).
    pub receive_count: u32,
}

/// An at-least-once queue with visibility timeouts and a dead-letter queue, like SQS.
#[async_trait]
pub trait Queue: Send + Sync {
    /// Enqueues a message; once this returns `Ok` the message is durable.
    async fn send(&self, body: &str) -> Result<String, StoreError>;
    /// Enqueues several messages (SQS: one `SendMessageBatch` per 10). All or error: on an error
    /// some may have been sent, so callers send only messages that are safe to repeat.
    async fn send_batch(&self, bodies: &[String]) -> Result<(), StoreError> {
        for body in bodies {
            self.send(body).await?;
        }
        Ok(())
    }
    /// Takes up to `max` visible messages, waiting up to `wait` for the first one. Messages
    /// already received `max_receives` times are moved to the dead-letter queue instead.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, StoreError>;
    /// Deletes a processed message. Acking with the receipt of an earlier delivery never fails
    /// and may or may not delete the message (as on SQS): ack only after the work is done.
    async fn ack(&self, receipt: &str) -> Result<(), StoreError>;
    /// Acks several messages, each as [`Queue::ack`] would (a stale receipt is ignored), in as
    /// few calls as the queue allows (SQS: one `DeleteMessageBatch` per 10; embedded: one
    /// transaction). On an error some may have been deleted; the rest come back after their
    /// visibility timeout, which is safe because handling is idempotent.
    async fn ack_batch(&self, receipts: &[&str]) -> Result<(), StoreError> {
        for receipt in receipts {
            self.ack(receipt).await?;
        }
        Ok(())
    }
    /// Makes a message visible again after `delay` (for a retry with backoff).
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), StoreError>;
}

/// The source of "now". Production uses the system clock; tests move time by hand.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(std::sync::Mutex<DateTime<Utc>>);

impl ManualClock {
    /// A clock stopped at `at`.
    pub fn new(at: DateTime<Utc>) -> ManualClock {
        ManualClock(std::sync::Mutex::new(at))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: chrono::Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}
