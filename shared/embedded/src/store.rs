//! [`EmbeddedStore`]: the `LeadStore` and `RoutingStore` ports on SQLite.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadrouter_domain::ports::{
    Commit, CommitOutcome, EmailOwner, Inserted, LeadPage, LeadQuery, LeadStore, RoutingStore,
    Stale, StoreError,
};
use leadrouter_domain::record::{LeadRecord, LeadStatus, PoolId, RepId};
use leadrouter_domain::state::{PoolState, RepState};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::instrument;
use uuid::Uuid;

use crate::db::Db;
use crate::error::{SqlContext, corrupt, encode};
use crate::queue::{EmbeddedQueue, QueueConfig};
use crate::schema;

/// Largest `list_leads` page, as the port says.
pub const MAX_PAGE: usize = 500;

/// Items in one DynamoDB `TransactWriteItems`; larger commits work here but would fail on AWS,
/// so they are logged.
const DYNAMO_TRANSACTION_LIMIT: usize = 100;

/// The store of local mode: leads, rep states, pool rotations and the sticky-routing index in
/// one SQLite file, which also holds the queues (see [`EmbeddedStore::queue`]).
///
/// Cheap to clone; clones share the connection.
#[derive(Debug, Clone)]
pub struct EmbeddedStore {
    db: Arc<Db>,
}

impl EmbeddedStore {
    /// Opens the database file at `path`, creating it (and bringing its schema up to date) if
    /// needed.
    ///
    /// Blocking (file I/O, maybe a migration): call it at startup, or inside `spawn_blocking`.
    pub fn open(path: &Path) -> Result<EmbeddedStore, StoreError> {
        let conn = schema::open(path)?;
        Ok(EmbeddedStore {
            db: Arc::new(Db::new(path, conn)?),
        })
    }

    /// The shared connection (for the other ports implemented on this store).
    pub(crate) fn db(&self) -> &Arc<Db> {
        &self.db
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        self.db.path()
    }

    /// A handle on the queue `name` in this file (created implicitly; queues are just rows).
    /// Handles on the same name share messages and wake each other's waiting receivers. Every
    /// handle on a name should use the same `config`: it applies to the receives made through
    /// that handle.
    pub fn queue(&self, name: &str, config: QueueConfig) -> EmbeddedQueue {
        EmbeddedQueue::new(Arc::clone(&self.db), name, config)
    }
}

// ----- encoding ------------------------------------------------------------------------------

fn to_json<T: Serialize>(key: &str, item: &T) -> Result<String, StoreError> {
    serde_json::to_string(item).map_err(|e| encode(key, &e))
}

fn from_json<T: DeserializeOwned>(key: &str, body: &str) -> Result<T, StoreError> {
    serde_json::from_str(body).map_err(|e| corrupt(key, &e))
}

fn version_to_sql(key: &str, version: u64) -> Result<i64, StoreError> {
    i64::try_from(version)
        .map_err(|_| StoreError::Unavailable(format!("{key}: version {version} out of range")))
}

fn version_from_sql(key: &str, version: i64) -> Result<u64, StoreError> {
    u64::try_from(version).map_err(|_| StoreError::Corrupt {
        key: key.to_owned(),
        reason: format!("negative version {version}"),
    })
}

/// The version a write stores: one more than the condition's.
fn next_version(key: &str, expected: u64) -> Result<i64, StoreError> {
    let next = expected
        .checked_add(1)
        .ok_or_else(|| StoreError::Unavailable(format!("{key}: version overflow")))?;
    version_to_sql(key, next)
}

fn lead_key(id: impl std::fmt::Display) -> String {
    format!("lead/{id}")
}

/// A lead as one row: the JSON body plus the columns queries use.
struct LeadRow {
    id: String,
    status: &'static str,
    owner: Option<String>,
    pool: Option<String>,
    score: Option<f64>,
    received_at: i64,
    due_at: Option<i64>,
    version: i64,
    body: String,
}

impl LeadRow {
    /// Encodes `rec` to be stored at `version` (the record's own `version` is overwritten so the
    /// body and the column agree).
    fn new(rec: &LeadRecord, version: i64) -> Result<LeadRow, StoreError> {
        let id = rec.lead.id;
        let key = lead_key(id);
        let mut body = serde_json::to_value(rec).map_err(|e| encode(&key, &e))?;
        if let Some(obj) = body.as_object_mut() {
            obj.insert("version".into(), serde_json::Value::from(version));
        }
        Ok(LeadRow {
            id: id.to_string(),
            status: rec.status.as_str(),
            owner: rec.owner.clone(),
            pool: rec.pool.clone(),
            // NaN has no place in an ordering; store it as "no score".
            score: rec.lead.score.filter(|s| !s.is_nan()),
            received_at: rec.lead.received_at.timestamp_micros(),
            due_at: rec.due.map(|d| d.at.timestamp_micros()),
            version,
            body: to_json(&key, &body)?,
        })
    }

    fn insert(&self, conn: &Connection) -> Result<bool, StoreError> {
        let n = conn
            .prepare_cached(
                "INSERT INTO leads (id, status, owner, pool, score, received_at, version, body, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (id) DO NOTHING",
            )
            .ctx("prepare insert lead")?
            .execute(params![
                self.id,
                self.status,
                self.owner,
                self.pool,
                self.score,
                self.received_at,
                self.version,
                self.body,
                self.due_at
            ])
            .ctx("insert lead")?;
        Ok(n == 1)
    }

    /// Overwrites the stored lead if it is still at `expected`; false if it is not.
    fn update(&self, conn: &Connection, expected: i64) -> Result<bool, StoreError> {
        let n = conn
            .prepare_cached(
                "UPDATE leads SET status = ?2, owner = ?3, pool = ?4, score = ?5, received_at = ?6,
                        version = ?7, body = ?8, due_at = ?10
                 WHERE id = ?1 AND version = ?9",
            )
            .ctx("prepare update lead")?
            .execute(params![
                self.id,
                self.status,
                self.owner,
                self.pool,
                self.score,
                self.received_at,
                self.version,
                self.body,
                expected,
                self.due_at
            ])
            .ctx("update lead")?;
        Ok(n == 1)
    }
}

/// Decodes a lead row; the `version` column is authoritative.
fn decode_lead(id: &str, version: i64, body: &str) -> Result<LeadRecord, StoreError> {
    let key = lead_key(id);
    let mut rec: LeadRecord = from_json(&key, body)?;
    rec.version = version_from_sql(&key, version)?;
    Ok(rec)
}

fn read_lead(conn: &Connection, id: &str) -> Result<Option<LeadRecord>, StoreError> {
    let row: Option<(i64, String)> = conn
        .prepare_cached("SELECT version, body FROM leads WHERE id = ?1")
        .ctx("prepare get lead")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx("get lead")?;
    row.map(|(version, body)| decode_lead(id, version, &body))
        .transpose()
}

/// Runs a lead query whose columns are `id, version, body`.
fn query_leads(
    conn: &Connection,
    sql: &str,
    params: &[Value],
) -> Result<Vec<LeadRecord>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).ctx("prepare lead query")?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(params), |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
            ))
        })
        .ctx("query leads")?;
    let mut out = Vec::new();
    for row in rows {
        let (id, version, body) = row.ctx("read lead row")?;
        out.push(decode_lead(&id, version, &body)?);
    }
    Ok(out)
}

// ----- cursor --------------------------------------------------------------------------------

/// A `list_leads` position: the sort key `(received_at, id)` of the last lead returned. The
/// next page starts strictly after it, so leads inserted meanwhile neither shift nor repeat the
/// pages still to come (no offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Cursor {
    received_at: i64,
    id: String,
}

impl Cursor {
    fn of(rec: &LeadRecord) -> Cursor {
        Cursor {
            received_at: rec.lead.received_at.timestamp_micros(),
            id: rec.lead.id.to_string(),
        }
    }

    /// `"<received_at micros>:<uuid>"`; opaque to callers.
    fn encode(&self) -> String {
        format!("{}:{}", self.received_at, self.id)
    }

    fn decode(s: &str) -> Result<Cursor, StoreError> {
        let bad = || StoreError::InvalidArgument {
            what: "cursor",
            reason: "not a cursor returned by this store".into(),
        };
        let (micros, id) = s.split_once(':').ok_or_else(bad)?;
        let received_at = micros.parse::<i64>().map_err(|_| bad())?;
        let id = Uuid::parse_str(id).map_err(|_| bad())?.to_string();
        Ok(Cursor { received_at, id })
    }
}

// ----- commit --------------------------------------------------------------------------------

/// One conditional write of a commit, encoded before the blocking work starts.
struct Write<R> {
    stale: Stale,
    /// Stored version the condition requires (0 = absent).
    expected: i64,
    row: R,
}

/// A rep or pool row.
struct StateRow {
    id: String,
    version: i64,
    body: String,
}

/// A commit, encoded.
struct Encoded {
    leads: Vec<Write<LeadRow>>,
    reps: Vec<Write<StateRow>>,
    pools: Vec<Write<StateRow>>,
    email_owners: Vec<(String, String)>,
}

fn encode_commit(commit: &Commit) -> Result<Encoded, StoreError> {
    let mut leads = Vec::with_capacity(commit.leads.len());
    for w in &commit.leads {
        let key = lead_key(w.item.lead.id);
        leads.push(Write {
            stale: Stale::Lead(w.item.lead.id),
            expected: version_to_sql(&key, w.expected_version)?,
            row: LeadRow::new(&w.item, next_version(&key, w.expected_version)?)?,
        });
    }
    let mut reps = Vec::with_capacity(commit.reps.len());
    for w in &commit.reps {
        let key = format!("rep/{}", w.item.rep);
        let version = next_version(&key, w.expected_version)?;
        let mut item = w.item.clone();
        item.version = w.expected_version + 1; // no overflow: next_version checked it
        reps.push(Write {
            stale: Stale::Rep(w.item.rep.clone()),
            expected: version_to_sql(&key, w.expected_version)?,
            row: StateRow {
                id: w.item.rep.clone(),
                version,
                body: to_json(&key, &item)?,
            },
        });
    }
    let mut pools = Vec::with_capacity(commit.pools.len());
    for w in &commit.pools {
        let key = format!("pool/{}", w.item.pool);
        let version = next_version(&key, w.expected_version)?;
        let mut item = w.item.clone();
        item.version = w.expected_version + 1; // no overflow: next_version checked it
        pools.push(Write {
            stale: Stale::Pool(w.item.pool.clone()),
            expected: version_to_sql(&key, w.expected_version)?,
            row: StateRow {
                id: w.item.pool.clone(),
                version,
                body: to_json(&key, &item)?,
            },
        });
    }
    let mut email_owners = Vec::with_capacity(commit.email_owners.len());
    for owner in &commit.email_owners {
        email_owners.push((owner.email.clone(), to_json("email_owner", owner)?));
    }
    Ok(Encoded {
        leads,
        reps,
        pools,
        email_owners,
    })
}

/// The stored version of a row of `table` (0 if absent).
fn stored_version(tx: &Connection, table: &str, id: &str) -> Result<i64, StoreError> {
    let sql = format!("SELECT version FROM {table} WHERE id = ?1");
    let v: Option<i64> = tx
        .prepare_cached(&sql)
        .ctx("prepare version check")?
        .query_row([id], |r| r.get(0))
        .optional()
        .ctx("version check")?;
    Ok(v.unwrap_or(0))
}

/// Writes a rep or pool row if its stored version is still `expected`.
fn write_state(tx: &Connection, table: &str, w: &Write<StateRow>) -> Result<bool, StoreError> {
    let n = if w.expected == 0 {
        let sql = format!(
            "INSERT INTO {table} (id, version, body) VALUES (?1, ?2, ?3) ON CONFLICT (id) DO NOTHING"
        );
        tx.prepare_cached(&sql)
            .ctx("prepare insert state")?
            .execute(params![w.row.id, w.row.version, w.row.body])
            .ctx("insert state")?
    } else {
        let sql =
            format!("UPDATE {table} SET version = ?2, body = ?3 WHERE id = ?1 AND version = ?4");
        tx.prepare_cached(&sql)
            .ctx("prepare update state")?
            .execute(params![w.row.id, w.row.version, w.row.body, w.expected])
            .ctx("update state")?
    };
    Ok(n == 1)
}

/// Checks every condition, then applies every write, in one savepoint of the database thread's
/// `BEGIN IMMEDIATE` group transaction: the write lock is held from before the checks, so
/// nothing can change between the checks and the writes, and a conflict rolls back only this
/// commit.
fn apply_commit(conn: &mut Connection, c: Encoded) -> Result<CommitOutcome, StoreError> {
    let tx = crate::db::Savepoint::begin(conn).ctx("begin commit")?;

    // Check everything first, so a Conflict names every stale item, not just the first.
    let mut stale = Vec::new();
    for w in &c.leads {
        if stored_version(&tx, "leads", &w.row.id)? != w.expected {
            stale.push(w.stale.clone());
        }
    }
    for (table, writes) in [("reps", &c.reps), ("pools", &c.pools)] {
        for w in writes {
            if stored_version(&tx, table, &w.row.id)? != w.expected {
                stale.push(w.stale.clone());
            }
        }
    }
    if !stale.is_empty() {
        return Ok(CommitOutcome::Conflict(stale)); // dropping `tx` rolls back (nothing written)
    }

    // Each write is conditional again: an item listed twice in one commit passes the check twice
    // but only its first write matches; the second makes the whole commit a conflict (DynamoDB
    // rejects such a transaction outright).
    for w in &c.leads {
        let ok = if w.expected == 0 {
            w.row.insert(&tx)?
        } else {
            w.row.update(&tx, w.expected)?
        };
        if !ok {
            return Ok(CommitOutcome::Conflict(vec![w.stale.clone()]));
        }
    }
    for (table, writes) in [("reps", &c.reps), ("pools", &c.pools)] {
        for w in writes {
            if !write_state(&tx, table, w)? {
                return Ok(CommitOutcome::Conflict(vec![w.stale.clone()]));
            }
        }
    }
    for (email, body) in &c.email_owners {
        tx.prepare_cached(
            // Newest assignment wins (as on DynamoDB): an entry decided earlier but committed
            // later must not replace it. julianday() reads the RFC 3339 times to the millisecond;
            // an equal time is written again.
            "INSERT INTO email_owners (email, body) VALUES (?1, ?2)
             ON CONFLICT (email) DO UPDATE SET body = excluded.body
             WHERE julianday(json_extract(email_owners.body, '$.at'))
                <= julianday(json_extract(excluded.body, '$.at'))",
        )
        .ctx("prepare upsert email owner")?
        .execute(params![email, body])
        .ctx("upsert email owner")?;
    }
    tx.commit().ctx("commit")?;
    Ok(CommitOutcome::Committed)
}

// ----- ports ---------------------------------------------------------------------------------

#[async_trait]
impl LeadStore for EmbeddedStore {
    /// Stores the lead at version 1 (a lead's first version, whatever `rec.version` says).
    #[instrument(skip_all, fields(lead_id = %rec.lead.id), err)]
    async fn insert_lead(&self, rec: &LeadRecord) -> Result<Inserted, StoreError> {
        let row = LeadRow::new(rec, 1)?;
        self.db
            .run("insert_lead", move |conn| {
                if row.insert(conn)? {
                    return Ok(Inserted::New);
                }
                match read_lead(conn, &row.id)? {
                    Some(existing) => Ok(Inserted::Existing(Box::new(existing))),
                    // Leads are never deleted, so the conflicting row is still there.
                    None => Err(StoreError::Unavailable(format!(
                        "insert_lead: lead {} neither inserted nor found",
                        row.id
                    ))),
                }
            })
            .await
    }

    #[instrument(skip(self), err)]
    async fn get_lead(&self, id: Uuid) -> Result<Option<LeadRecord>, StoreError> {
        self.db
            .run("get_lead", move |conn| read_lead(conn, &id.to_string()))
            .await
    }

    /// Every lead in one database call (one lock of the connection).
    #[instrument(skip_all, fields(leads = ids.len()), err)]
    async fn get_leads(&self, ids: &[Uuid]) -> Result<Vec<Option<LeadRecord>>, StoreError> {
        let ids: Vec<String> = ids.iter().map(Uuid::to_string).collect();
        self.db
            .run("get_leads", move |conn| {
                ids.iter().map(|id| read_lead(conn, id)).collect()
            })
            .await
    }

    /// A `limit` of 0 means the largest page ([`MAX_PAGE`]). A malformed cursor is
    /// `InvalidArgument`.
    #[instrument(skip_all, fields(status = ?query.status, limit = query.limit), err)]
    async fn list_leads(&self, query: &LeadQuery) -> Result<LeadPage, StoreError> {
        let limit = match query.limit {
            0 => MAX_PAGE,
            n => n.min(MAX_PAGE),
        };
        let mut sql = String::from("SELECT id, version, body FROM leads WHERE 1 = 1");
        let mut params: Vec<Value> = Vec::new();
        if let Some(status) = query.status {
            sql.push_str(" AND status = ?");
            params.push(Value::Text(status.as_str().to_owned()));
        }
        if let Some(owner) = &query.owner {
            sql.push_str(" AND owner = ?");
            params.push(Value::Text(owner.clone()));
        }
        if let Some(pool) = &query.pool {
            sql.push_str(" AND pool = ?");
            params.push(Value::Text(pool.clone()));
        }
        if let Some(cursor) = &query.cursor {
            let cursor = Cursor::decode(cursor)?;
            // Row-value comparison: strictly after the cursor in (received_at DESC, id DESC).
            sql.push_str(" AND (received_at, id) < (?, ?)");
            params.push(Value::Integer(cursor.received_at));
            params.push(Value::Text(cursor.id));
        }
        // One extra row tells whether there is a next page, so the last page says so.
        sql.push_str(" ORDER BY received_at DESC, id DESC LIMIT ?");
        params.push(Value::Integer(limit as i64 + 1));

        let mut leads = self
            .db
            .run("list_leads", move |conn| query_leads(conn, &sql, &params))
            .await?;
        let next = if leads.len() > limit {
            leads.truncate(limit);
            leads.last().map(|last| Cursor::of(last).encode())
        } else {
            None
        };
        Ok(LeadPage { leads, next })
    }

    #[instrument(skip(self), err)]
    async fn list_waiting(
        &self,
        pool: &str,
        status: LeadStatus,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        let params = vec![
            Value::Text(pool.to_owned()),
            Value::Text(status.as_str().to_owned()),
            Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        self.db
            .run("list_waiting", move |conn| {
                // NULL scores sort last under DESC in SQLite: "no score sorts last".
                query_leads(
                    conn,
                    "SELECT id, version, body FROM leads WHERE pool = ?1 AND status = ?2
                     ORDER BY score DESC, received_at ASC, id ASC LIMIT ?3",
                    &params,
                )
            })
            .await
    }

    #[instrument(skip(self), err)]
    async fn list_due(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<LeadRecord>, StoreError> {
        let params = vec![
            Value::Integer(before.timestamp_micros()),
            Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)),
        ];
        self.db
            .run("list_due", move |conn| {
                query_leads(
                    conn,
                    "SELECT id, version, body FROM leads INDEXED BY leads_due
                     WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
                    &params,
                )
            })
            .await
    }

    #[instrument(skip(self), err)]
    async fn pools_with_waiting(&self) -> Result<Vec<PoolId>, StoreError> {
        self.db
            .run("pools_with_waiting", |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        // INDEXED BY: without statistics the planner prefers the status
                        // index and sorts; the partial index holds just the waiting leads,
                        // already grouped by pool.
                        "SELECT DISTINCT pool FROM leads INDEXED BY leads_unassigned_pools
                         WHERE status = 'unassigned' AND pool IS NOT NULL ORDER BY pool",
                    )
                    .ctx("prepare pools_with_waiting")?;
                let rows = stmt
                    .query_map([], |r| r.get::<_, String>(0))
                    .ctx("pools_with_waiting")?;
                rows.map(|r| r.ctx("read pool")).collect()
            })
            .await
    }

    // The email is personal data: not in the span.
    #[instrument(skip_all, err)]
    async fn email_owner(&self, email: &str) -> Result<Option<EmailOwner>, StoreError> {
        let email = email.to_owned();
        self.db
            .run("email_owner", move |conn| read_email_owner(conn, &email))
            .await
    }

    /// Every key in one database call.
    #[instrument(skip_all, fields(keys = keys.len()), err)]
    async fn email_owners(&self, keys: &[String]) -> Result<Vec<Option<EmailOwner>>, StoreError> {
        let keys = keys.to_vec();
        self.db
            .run("email_owners", move |conn| {
                keys.iter().map(|k| read_email_owner(conn, k)).collect()
            })
            .await
    }
}

fn read_email_owner(conn: &Connection, key: &str) -> Result<Option<EmailOwner>, StoreError> {
    let body: Option<String> = conn
        .prepare_cached("SELECT body FROM email_owners WHERE email = ?1")
        .ctx("prepare email_owner")?
        .query_row([key], |r| r.get(0))
        .optional()
        .ctx("email_owner")?;
    body.map(|b| from_json("email_owner", &b)).transpose()
}

/// Reads a rep or pool row: `(version, body)` if it exists.
fn read_state(
    conn: &Connection,
    table: &str,
    id: &str,
) -> Result<Option<(i64, String)>, StoreError> {
    let sql = format!("SELECT version, body FROM {table} WHERE id = ?1");
    conn.prepare_cached(&sql)
        .ctx("prepare state read")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .ctx("state read")
}

/// Rep `id`'s state; version 0 if never written.
fn read_rep(conn: &Connection, id: RepId) -> Result<RepState, StoreError> {
    match read_state(conn, "reps", &id)? {
        None => Ok(RepState::new(id)),
        Some((version, body)) => {
            let key = format!("rep/{id}");
            let mut state: RepState = from_json(&key, &body)?;
            state.version = version_from_sql(&key, version)?;
            Ok(state)
        }
    }
}

/// Pool `id`'s rotation; version 0 if never written.
fn read_pool(conn: &Connection, id: String) -> Result<PoolState, StoreError> {
    match read_state(conn, "pools", &id)? {
        None => Ok(PoolState::new(id)),
        Some((version, body)) => {
            let key = format!("pool/{id}");
            let mut state: PoolState = from_json(&key, &body)?;
            state.version = version_from_sql(&key, version)?;
            Ok(state)
        }
    }
}

#[async_trait]
impl RoutingStore for EmbeddedStore {
    #[instrument(skip_all, fields(reps = ids.len()), err)]
    async fn get_reps(&self, ids: &[RepId]) -> Result<Vec<RepState>, StoreError> {
        let ids = ids.to_vec();
        self.db
            .run("get_reps", move |conn| {
                ids.into_iter().map(|id| read_rep(conn, id)).collect()
            })
            .await
    }

    #[instrument(skip(self), err)]
    async fn get_pool(&self, id: &str) -> Result<PoolState, StoreError> {
        let id = id.to_owned();
        self.db
            .run("get_pool", move |conn| read_pool(conn, id))
            .await
    }

    /// All in one database job.
    #[instrument(skip_all, fields(pools = ids.len()), err)]
    async fn get_pools(&self, ids: &[String]) -> Result<Vec<PoolState>, StoreError> {
        let ids = ids.to_vec();
        self.db
            .run("get_pools", move |conn| {
                ids.into_iter().map(|id| read_pool(conn, id)).collect()
            })
            .await
    }

    #[instrument(
        skip_all,
        fields(
            leads = commit.leads.len(),
            reps = commit.reps.len(),
            pools = commit.pools.len(),
            email_owners = commit.email_owners.len(),
        ),
        err
    )]
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        if commit.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        if commit.len() > DYNAMO_TRANSACTION_LIMIT {
            tracing::warn!(
                items = commit.len(),
                "commit exceeds DynamoDB's {DYNAMO_TRANSACTION_LIMIT}-item transaction limit; \
                 it works locally but would fail on AWS"
            );
        }
        let encoded = encode_commit(commit)?;
        let outcome = self
            .db
            .run("commit", move |conn| apply_commit(conn, encoded))
            .await?;
        if let CommitOutcome::Conflict(stale) = &outcome {
            tracing::debug!(stale = ?stale, "commit conflict");
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor {
            received_at: -5,
            id: Uuid::nil().to_string(),
        };
        assert_eq!(Cursor::decode(&c.encode()).ok(), Some(c));
        for bad in ["", "12", "x:00000000-0000-0000-0000-000000000000", "1:nope"] {
            assert!(
                matches!(Cursor::decode(bad), Err(StoreError::InvalidArgument { .. })),
                "{bad}"
            );
        }
    }
}

#[cfg(test)]
mod query_plans {
    //! The queries behind the ports must be served by an index, in index order: no table scan
    //! and no sort of the whole result (they run on every routing and every API listing).

    use super::*;

    fn plan(conn: &Connection, sql: &str, params: &[Value]) -> Result<String, StoreError> {
        let mut stmt = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .ctx("explain")?;
        let rows = stmt
            .query_map(rusqlite::params_from_iter(params), |r| {
                r.get::<_, String>(3)
            })
            .ctx("explain")?;
        let lines: Result<Vec<String>, _> = rows.collect();
        Ok(lines.ctx("explain")?.join(" | "))
    }

    #[test]
    fn port_queries_use_indexes() -> Result<(), StoreError> {
        let dir = tempfile::tempdir().map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let conn = schema::open(&dir.path().join("t.db"))?;
        let text = |s: &str| Value::Text(s.to_owned());
        let page = "ORDER BY received_at DESC, id DESC LIMIT 51";
        let cases = [
            (
                format!("SELECT id, version, body FROM leads WHERE 1 = 1 {page}"),
                vec![],
            ),
            (
                format!("SELECT id, version, body FROM leads WHERE 1 = 1 AND status = ? {page}"),
                vec![text("assigned")],
            ),
            (
                format!(
                    "SELECT id, version, body FROM leads WHERE 1 = 1 AND owner = ? \
                     AND (received_at, id) < (?, ?) {page}"
                ),
                vec![text("rep"), Value::Integer(5), text("x")],
            ),
            (
                format!("SELECT id, version, body FROM leads WHERE 1 = 1 AND pool = ? {page}"),
                vec![text("pool")],
            ),
            (
                "SELECT id, version, body FROM leads WHERE pool = ?1 AND status = ?2 \
                 ORDER BY score DESC, received_at ASC, id ASC LIMIT ?3"
                    .to_owned(),
                vec![text("pool"), text("unassigned"), Value::Integer(10)],
            ),
            (
                "SELECT DISTINCT pool FROM leads INDEXED BY leads_unassigned_pools \
                 WHERE status = 'unassigned' AND pool IS NOT NULL ORDER BY pool"
                    .to_owned(),
                vec![],
            ),
            (
                "SELECT id, version, body FROM leads INDEXED BY leads_due \
                 WHERE due_at IS NOT NULL AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2"
                    .to_owned(),
                vec![Value::Integer(5), Value::Integer(10)],
            ),
            (
                "SELECT seq, id, body, receive_count FROM queue_messages \
                 WHERE queue = ?1 AND visible_at <= ?2 ORDER BY visible_at, seq LIMIT ?3"
                    .to_owned(),
                vec![text("q"), Value::Integer(5), Value::Integer(10)],
            ),
        ];
        for (sql, params) in cases {
            let plan = plan(&conn, &sql, &params)?;
            assert!(plan.contains("INDEX"), "{sql}\n  -> {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n  -> {plan}");
        }
        Ok(())
    }
}
