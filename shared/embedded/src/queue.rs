//! [`EmbeddedQueue`]: the `Queue` port on SQLite, with SQS's semantics.
//!
//! At-least-once delivery: receiving a message hides it until `now + visibility_timeout` and
//! gives it a fresh receipt; `ack` deletes it only with the receipt of its current delivery, so a
//! worker whose delivery timed out and went to someone else cannot delete the other's message.
//! Each delivery counts; a message that has already been received `max_receives` times is moved
//! to the dead-letter table the next time it would be delivered, like SQS's redrive policy.
//!
//! Time is the wall clock ([`Utc::now`]): visibility timeouts are infrastructure, not domain
//! time, and absolute timestamps keep working across a restart. A clock step backwards merely
//! delays redeliveries.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use leadrouter_domain::ports::{Queue, Received, StoreError};
use rusqlite::{Connection, params};
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::instrument;
use uuid::Uuid;

use crate::db::Db;
use crate::error::SqlContext;

/// How often a waiting `receive` looks at the table even without a wake-up. Sends in this
/// process and visibility expiries wake receivers exactly; the poll only catches messages sent
/// by another process on the same file (an admin tool), so it can be lazy.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// A queue's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueConfig {
    /// How long a received message stays invisible unless acked or released.
    pub visibility_timeout: Duration,
    /// Deliveries after which a message goes to the dead-letter table (0 is treated as 1).
    pub max_receives: u32,
}

impl Default for QueueConfig {
    /// 30 s visibility, dead-letter after 5 receives (local mode's defaults).
    fn default() -> QueueConfig {
        QueueConfig {
            visibility_timeout: Duration::from_secs(30),
            max_receives: 5,
        }
    }
}

/// A message that reached `max_receives` and was set aside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    /// The message id (as it was in the queue).
    pub id: String,
    /// The message body.
    pub body: String,
    /// How many times it had been delivered.
    pub receive_count: u32,
    /// When it was first sent.
    pub sent_at: DateTime<Utc>,
    /// When it was moved to the dead-letter table.
    pub dead_lettered_at: DateTime<Utc>,
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepth {
    /// Ready to be received.
    pub visible: u64,
    /// In flight (received, not yet acked) or released with a delay.
    pub invisible: u64,
    /// In the dead-letter table.
    pub dead_letters: u64,
}

/// One named queue in an [`crate::EmbeddedStore`]'s file. Get it from
/// [`crate::EmbeddedStore::queue`]; clones share everything.
#[derive(Debug, Clone)]
pub struct EmbeddedQueue {
    db: Arc<Db>,
    name: Arc<str>,
    config: QueueConfig,
    notify: Arc<Notify>,
}

fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

fn duration_micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

fn time_from_micros(key: &str, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros).ok_or_else(|| StoreError::Corrupt {
        key: key.to_owned(),
        reason: format!("timestamp {micros} out of range"),
    })
}

fn count_from_sql(key: &str, n: i64) -> Result<u32, StoreError> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt {
        key: key.to_owned(),
        reason: format!("receive count {n} out of range"),
    })
}

/// What one attempt to receive found.
struct Attempt {
    received: Vec<Received>,
    /// When the earliest invisible message becomes visible (micros), if any.
    next_visible_at: Option<i64>,
}

/// One pass over the visible messages: delivers up to `max`, dead-letters those that used up
/// their receives.
fn try_receive(
    conn: &mut Connection,
    queue: &str,
    max: usize,
    config: QueueConfig,
) -> Result<Attempt, StoreError> {
    let now = now_micros();
    // Look before taking the write lock: an idle poll stays a cheap read and never makes other
    // processes wait.
    let earliest: Option<i64> = conn
        .prepare_cached("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1")
        .ctx("prepare queue peek")?
        .query_row([queue], |r| r.get(0))
        .ctx("queue peek")?;
    match earliest {
        None => {
            return Ok(Attempt {
                received: Vec::new(),
                next_visible_at: None,
            });
        }
        Some(at) if at > now => {
            return Ok(Attempt {
                received: Vec::new(),
                next_visible_at: Some(at),
            });
        }
        Some(_) => {}
    }

    let max_receives = i64::from(config.max_receives.max(1));
    let invisible_until = now.saturating_add(duration_micros(config.visibility_timeout));
    let tx = crate::db::Savepoint::begin(conn).ctx("begin receive")?;
    let mut received = Vec::new();
    let mut dead = 0usize;
    // Dead-lettering frees slots, so look again until `max` are delivered or none are visible.
    while received.len() < max {
        let want = i64::try_from(max - received.len()).unwrap_or(i64::MAX);
        let batch: Vec<(i64, String, String, i64)> = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT seq, id, body, receive_count FROM queue_messages
                     WHERE queue = ?1 AND visible_at <= ?2
                     ORDER BY visible_at, seq LIMIT ?3",
                )
                .ctx("prepare receive")?;
            let rows = stmt
                .query_map(params![queue, now, want], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                })
                .ctx("receive")?;
            rows.collect::<Result<_, _>>().ctx("read message")?
        };
        if batch.is_empty() {
            break;
        }
        for (seq, id, body, count) in batch {
            if count >= max_receives {
                tx.prepare_cached(
                    "INSERT INTO queue_dead_letters
                         (queue, id, body, sent_at, receive_count, dead_lettered_at)
                     SELECT queue, id, body, sent_at, receive_count, ?2
                     FROM queue_messages WHERE seq = ?1",
                )
                .ctx("prepare dead-letter")?
                .execute(params![seq, now])
                .ctx("dead-letter")?;
                tx.prepare_cached("DELETE FROM queue_messages WHERE seq = ?1")
                    .ctx("prepare dead-letter delete")?
                    .execute([seq])
                    .ctx("dead-letter delete")?;
                dead += 1;
                continue;
            }
            // Time-ordered (v7, still 74 random bits): the receipt index takes appends, not an insert
            // at a random page per delivery (each dirtied page is 4 KB of WAL at commit).
            let receipt = Uuid::now_v7().simple().to_string();
            let count = count + 1;
            tx.prepare_cached(
                "UPDATE queue_messages SET receive_count = ?2, receipt = ?3, visible_at = ?4
                 WHERE seq = ?1",
            )
            .ctx("prepare deliver")?
            .execute(params![seq, count, receipt, invisible_until])
            .ctx("deliver")?;
            received.push(Received {
                receive_count: count_from_sql(&format!("message/{id}"), count)?,
                id,
                receipt,
                body,
            });
        }
    }
    let next_visible_at = if received.is_empty() {
        tx.prepare_cached("SELECT MIN(visible_at) FROM queue_messages WHERE queue = ?1")
            .ctx("prepare queue peek")?
            .query_row([queue], |r| r.get(0))
            .ctx("queue peek")?
    } else {
        None
    };
    tx.commit().ctx("commit receive")?;
    if dead > 0 {
        tracing::warn!(
            queue,
            messages = dead,
            "moved messages to the dead-letter table"
        );
    }
    Ok(Attempt {
        received,
        next_visible_at,
    })
}

impl EmbeddedQueue {
    pub(crate) fn new(db: Arc<Db>, name: &str, config: QueueConfig) -> EmbeddedQueue {
        let notify = db.notifier(name);
        EmbeddedQueue {
            db,
            name: Arc::from(name),
            config,
            notify,
        }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The queue's settings.
    pub fn config(&self) -> QueueConfig {
        self.config
    }

    /// The dead-lettered messages, oldest first.
    #[instrument(skip(self), fields(queue = %self.name), err)]
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, StoreError> {
        let name = Arc::clone(&self.name);
        self.db
            .run("dead_letters", move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, body, receive_count, sent_at, dead_lettered_at
                         FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq",
                    )
                    .ctx("prepare dead_letters")?;
                let rows = stmt
                    .query_map([&*name], |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            r.get::<_, String>(1)?,
                            r.get::<_, i64>(2)?,
                            r.get::<_, i64>(3)?,
                            r.get::<_, i64>(4)?,
                        ))
                    })
                    .ctx("dead_letters")?;
                let mut out = Vec::new();
                for row in rows {
                    let (id, body, count, sent_at, dead_at) = row.ctx("read dead letter")?;
                    let key = format!("dead_letter/{id}");
                    out.push(DeadLetter {
                        receive_count: count_from_sql(&key, count)?,
                        sent_at: time_from_micros(&key, sent_at)?,
                        dead_lettered_at: time_from_micros(&key, dead_at)?,
                        id,
                        body,
                    });
                }
                Ok(out)
            })
            .await
    }

    /// Moves every dead-lettered message back into the queue, visible now, with its receive
    /// count reset to 0 (as SQS's redrive does). Returns how many moved.
    #[instrument(skip(self), fields(queue = %self.name), err)]
    pub async fn redrive(&self) -> Result<usize, StoreError> {
        let name = Arc::clone(&self.name);
        let moved = self
            .db
            .run("redrive", move |conn| {
                let tx = crate::db::Savepoint::begin(conn).ctx("begin redrive")?;
                let moved = tx
                    .execute(
                        "INSERT INTO queue_messages
                             (queue, id, body, sent_at, visible_at, receive_count, receipt)
                         SELECT queue, id, body, sent_at, ?2, 0, NULL
                         FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq",
                        params![&*name, now_micros()],
                    )
                    .ctx("redrive")?;
                tx.execute("DELETE FROM queue_dead_letters WHERE queue = ?1", [&*name])
                    .ctx("redrive delete")?;
                tx.commit().ctx("commit redrive")?;
                Ok(moved)
            })
            .await?;
        if moved > 0 {
            self.notify.notify_waiters();
        }
        Ok(moved)
    }

    /// Moves the `max` oldest dead-lettered messages back into the queue, like [`Self::redrive`]
    /// (`leadrouter redrive`: bounded, so a fix can be tried on a few messages first). The move
    /// is one transaction: a message is in exactly one of the two tables, so repeating the call
    /// after a crash never duplicates one. Returns how many moved.
    #[instrument(skip(self), fields(queue = %self.name), err)]
    pub async fn redrive_at_most(&self, max: usize) -> Result<usize, StoreError> {
        let name = Arc::clone(&self.name);
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let moved = self
            .db
            .run("redrive", move |conn| {
                let tx = crate::db::Savepoint::begin(conn)
                    .ctx("begin redrive")?;
                let moved = tx
                    .execute(
                        "INSERT INTO queue_messages
                             (queue, id, body, sent_at, visible_at, receive_count, receipt)
                         SELECT queue, id, body, sent_at, ?2, 0, NULL
                         FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq LIMIT ?3",
                        params![&*name, now_micros(), limit],
                    )
                    .ctx("redrive")?;
                tx.execute(
                    "DELETE FROM queue_dead_letters WHERE seq IN
                         (SELECT seq FROM queue_dead_letters WHERE queue = ?1 ORDER BY seq LIMIT ?2)",
                    params![&*name, limit],
                )
                .ctx("redrive delete")?;
                tx.commit().ctx("commit redrive")?;
                Ok(moved)
            })
            .await?;
        if moved > 0 {
            self.notify.notify_waiters();
        }
        Ok(moved)
    }

    /// How many messages are visible, invisible and dead-lettered right now.
    #[instrument(skip(self), fields(queue = %self.name), err)]
    pub async fn depth(&self) -> Result<QueueDepth, StoreError> {
        let name = Arc::clone(&self.name);
        self.db
            .run("depth", move |conn| {
                let (visible, invisible): (i64, i64) = conn
                    .prepare_cached(
                        "SELECT COALESCE(SUM(visible_at <= ?2), 0), COALESCE(SUM(visible_at > ?2), 0)
                         FROM queue_messages WHERE queue = ?1",
                    )
                    .ctx("prepare depth")?
                    .query_row(params![&*name, now_micros()], |r| Ok((r.get(0)?, r.get(1)?)))
                    .ctx("depth")?;
                let dead: i64 = conn
                    .prepare_cached("SELECT COUNT(*) FROM queue_dead_letters WHERE queue = ?1")
                    .ctx("prepare dead depth")?
                    .query_row([&*name], |r| r.get(0))
                    .ctx("dead depth")?;
                Ok(QueueDepth {
                    visible: visible.unsigned_abs(),
                    invisible: invisible.unsigned_abs(),
                    dead_letters: dead.unsigned_abs(),
                })
            })
            .await
    }

    async fn attempt(&self, max: usize) -> Result<Attempt, StoreError> {
        let name = Arc::clone(&self.name);
        let config = self.config;
        self.db
            .run("receive", move |conn| try_receive(conn, &name, max, config))
            .await
    }

    /// Sets the visibility of the message whose current delivery has `receipt`; true if found.
    async fn set_visible_at(&self, receipt: &str, visible_at: i64) -> Result<bool, StoreError> {
        let name = Arc::clone(&self.name);
        let receipt = receipt.to_owned();
        self.db
            .run("release", move |conn| {
                let n = conn
                    .prepare_cached(
                        "UPDATE queue_messages SET visible_at = ?3 WHERE queue = ?1 AND receipt = ?2",
                    )
                    .ctx("prepare release")?
                    .execute(params![&*name, receipt, visible_at])
                    .ctx("release")?;
                Ok(n == 1)
            })
            .await
    }
}

#[async_trait]
impl Queue for EmbeddedQueue {
    /// The message is committed to the file (surviving a process crash) before this returns.
    // The body is personal data: not in the span.
    #[instrument(skip_all, fields(queue = %self.name), err)]
    async fn send(&self, body: &str) -> Result<String, StoreError> {
        let name = Arc::clone(&self.name);
        let body = body.to_owned();
        let id = Uuid::now_v7().to_string();
        let message_id = id.clone();
        self.db
            .run("send", move |conn| {
                let now = now_micros();
                conn.prepare_cached(
                    "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at)
                     VALUES (?1, ?2, ?3, ?4, ?4)",
                )
                .ctx("prepare send")?
                .execute(params![&*name, message_id, body, now])
                .ctx("send")?;
                Ok(())
            })
            .await?;
        self.notify.notify_waiters();
        Ok(id)
    }

    /// All the messages in one transaction: one commit instead of one per message.
    #[instrument(skip_all, fields(queue = %self.name, messages = bodies.len()), err)]
    async fn send_batch(&self, bodies: &[String]) -> Result<(), StoreError> {
        if bodies.is_empty() {
            return Ok(());
        }
        let name = Arc::clone(&self.name);
        let rows: Vec<(String, String)> = bodies
            .iter()
            .map(|b| (Uuid::now_v7().to_string(), b.clone()))
            .collect();
        self.db
            .run("send_batch", move |conn| {
                let now = now_micros();
                let tx = crate::db::Savepoint::begin(conn).ctx("begin send_batch")?;
                {
                    let mut insert = tx
                        .prepare_cached(
                            "INSERT INTO queue_messages (queue, id, body, sent_at, visible_at)
                             VALUES (?1, ?2, ?3, ?4, ?4)",
                        )
                        .ctx("prepare send")?;
                    for (id, body) in &rows {
                        insert.execute(params![&*name, id, body, now]).ctx("send")?;
                    }
                }
                tx.commit().ctx("commit send_batch")
            })
            .await?;
        self.notify.notify_waiters();
        Ok(())
    }

    /// Returns at once if messages are visible; otherwise sleeps until a send in this process,
    /// the next visibility expiry, a poll tick, or the end of `wait`, whichever comes first.
    #[instrument(skip(self), fields(queue = %self.name), err)]
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<Received>, StoreError> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let deadline = Instant::now() + wait;
        loop {
            // Register for wake-ups before looking, so a send between the look and the sleep is
            // not missed.
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();

            let attempt = self.attempt(max).await?;
            if !attempt.received.is_empty() {
                return Ok(attempt.received);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(Vec::new());
            }
            let mut wake = deadline.min(now + POLL_INTERVAL);
            if let Some(at) = attempt.next_visible_at {
                let until = at.saturating_sub(now_micros()).max(0);
                wake = wake.min(now + Duration::from_micros(until.unsigned_abs()));
            }
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    }

    /// Deletes the message if `receipt` belongs to its current delivery; otherwise does nothing.
    #[instrument(skip_all, fields(queue = %self.name), err)]
    async fn ack(&self, receipt: &str) -> Result<(), StoreError> {
        let name = Arc::clone(&self.name);
        let receipt = receipt.to_owned();
        let deleted = self
            .db
            .run("ack", move |conn| {
                conn.prepare_cached("DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2")
                    .ctx("prepare ack")?
                    .execute(params![&*name, receipt])
                    .ctx("ack")
            })
            .await?;
        if deleted == 0 {
            tracing::debug!("ack with a stale receipt ignored");
        }
        Ok(())
    }

    /// Deletes the messages whose current delivery the receipts belong to, in one transaction.
    #[instrument(skip_all, fields(queue = %self.name, messages = receipts.len()), err)]
    async fn ack_batch(&self, receipts: &[&str]) -> Result<(), StoreError> {
        if receipts.is_empty() {
            return Ok(());
        }
        let name = Arc::clone(&self.name);
        let receipts: Vec<String> = receipts.iter().map(|r| (*r).to_owned()).collect();
        let asked = receipts.len();
        let deleted = self
            .db
            .run("ack_batch", move |conn| {
                let tx = crate::db::Savepoint::begin(conn).ctx("begin ack_batch")?;
                let mut deleted = 0;
                {
                    let mut delete = tx
                        .prepare_cached(
                            "DELETE FROM queue_messages WHERE queue = ?1 AND receipt = ?2",
                        )
                        .ctx("prepare ack")?;
                    for receipt in &receipts {
                        deleted += delete.execute(params![&*name, receipt]).ctx("ack")?;
                    }
                }
                tx.commit().ctx("commit ack_batch")?;
                Ok(deleted)
            })
            .await?;
        if deleted < asked {
            tracing::debug!(stale = asked - deleted, "acks with stale receipts ignored");
        }
        Ok(())
    }

    /// Makes the message visible again after `delay`; a stale receipt does nothing. The receipt
    /// stays valid until the next delivery (as in SQS).
    #[instrument(skip(self, receipt), fields(queue = %self.name), err)]
    async fn release(&self, receipt: &str, delay: Duration) -> Result<(), StoreError> {
        let visible_at = now_micros().saturating_add(duration_micros(delay));
        let found = self.set_visible_at(receipt, visible_at).await?;
        if found {
            // Waiting receivers recompute when to look next (now, or at the new visibility).
            self.notify.notify_waiters();
        } else {
            tracing::debug!("release with a stale receipt ignored");
        }
        Ok(())
    }
}
