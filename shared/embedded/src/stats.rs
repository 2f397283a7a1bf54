//! The `StatsStore` port on SQLite: `stats_buckets` (one row per hour, group and name, added to
//! with an upsert) and `stats_seen` (the event ids applied in the last week), written in one
//! transaction so an event is counted once however often it is delivered.

use std::collections::HashMap;

use async_trait::async_trait;
use leadrouter_domain::ports::StoreError;
use leadrouter_domain::stats::{Cell, DEDUP_HOURS, GroupBy, StatsStore, StatsUpdate};
use rusqlite::{Connection, params};

use crate::EmbeddedStore;
use crate::error::SqlContext;

/// Applies `updates` in one savepoint: each event id once (`stats_seen`), the fresh updates'
/// cells summed per bucket first, so a routing batch costs one upsert per bucket it touches
/// rather than one per lead and bucket.
fn record_all(conn: &mut Connection, updates: &[StatsUpdate]) -> Result<usize, StoreError> {
    let tx = crate::db::Savepoint::begin(conn).ctx("begin stats record")?;
    let mut sums: HashMap<(i64, GroupBy, &str, &str), u64> = HashMap::new();
    let mut applied = 0;
    {
        let mut seen = tx
            .prepare_cached("INSERT OR IGNORE INTO stats_seen (event_id, hour) VALUES (?1, ?2)")
            .ctx("prepare stats seen")?;
        for update in updates {
            if seen
                .execute(params![update.event_id, update.hour])
                .ctx("stats seen")?
                == 0
            {
                continue;
            }
            applied += 1;
            for c in &update.cells {
                let n = sums
                    .entry((update.hour, c.kind, c.value.as_str(), c.name.as_str()))
                    .or_default();
                *n = n.saturating_add(c.n);
            }
        }
    }
    if applied == 0 {
        return Ok(0);
    }
    {
        let mut add = tx
            .prepare_cached(
                "INSERT INTO stats_buckets (hour, kind, value, name, n) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (hour, kind, value, name) DO UPDATE SET n = n + excluded.n",
            )
            .ctx("prepare stats add")?;
        for ((hour, kind, value, name), n) in &sums {
            let n = i64::try_from(*n).map_err(|_| StoreError::InvalidArgument {
                what: "stats increment",
                reason: format!("{n} is out of range"),
            })?;
            add.execute(params![hour, kind.as_str(), value, name, n])
                .ctx("stats add")?;
        }
    }
    // Event ids older than the dedup window can no longer arrive twice (the queues keep
    // messages for less); dropping them keeps the table small.
    let newest = updates.iter().map(|u| u.hour).max().unwrap_or_default();
    tx.prepare_cached("DELETE FROM stats_seen WHERE hour < ?1")
        .ctx("prepare stats prune")?
        .execute([newest - DEDUP_HOURS])
        .ctx("stats prune")?;
    tx.commit().ctx("commit stats record")?;
    Ok(applied)
}

fn read(
    conn: &Connection,
    from_hour: i64,
    to_hour: i64,
    kind: GroupBy,
) -> Result<Vec<Cell>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT value, name, SUM(n) FROM stats_buckets
             WHERE kind = ?1 AND hour >= ?2 AND hour < ?3
             GROUP BY value, name",
        )
        .ctx("prepare stats read")?;
    let rows = stmt
        .query_map(params![kind.as_str(), from_hour, to_hour], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })
        .ctx("stats read")?;
    let mut out = Vec::new();
    for row in rows {
        let (value, name, n) = row.ctx("stats row")?;
        let n = u64::try_from(n).map_err(|_| StoreError::Corrupt {
            key: format!("stats/{}/{value}/{name}", kind.as_str()),
            reason: format!("negative count {n}"),
        })?;
        out.push(Cell {
            kind,
            value,
            name,
            n,
        });
    }
    Ok(out)
}

#[async_trait]
impl StatsStore for EmbeddedStore {
    async fn record(&self, update: &StatsUpdate) -> Result<bool, StoreError> {
        Ok(self.record_all(std::slice::from_ref(update)).await? == 1)
    }

    /// One database job for the whole batch (the default makes one per update).
    async fn record_all(&self, updates: &[StatsUpdate]) -> Result<usize, StoreError> {
        if updates.is_empty() {
            return Ok(0);
        }
        let updates = updates.to_vec();
        self.db()
            .run("stats record", move |conn| record_all(conn, &updates))
            .await
    }

    async fn read(
        &self,
        from_hour: i64,
        to_hour: i64,
        kinds: &[GroupBy],
    ) -> Result<Vec<Cell>, StoreError> {
        let kinds = kinds.to_vec();
        self.db()
            .run("stats read", move |conn| {
                let mut out = Vec::new();
                for kind in kinds {
                    out.extend(read(conn, from_hour, to_hour, kind)?);
                }
                Ok(out)
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(id: &str, hour: i64) -> StatsUpdate {
        StatsUpdate {
            event_id: id.into(),
            hour,
            cells: vec![Cell {
                kind: GroupBy::All,
                value: String::new(),
                name: "received".into(),
                n: 1,
            }],
        }
    }

    #[tokio::test]
    async fn passes_the_stats_contract() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("s.db")).expect("open");
        leadrouter_domain::contract::stats::stats_contract(&store).await;
    }

    #[tokio::test]
    async fn forgets_ids_after_the_window() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = EmbeddedStore::open(&dir.path().join("s.db")).expect("open");
        assert!(store.record(&one("a:1", 10)).await.expect("a"));
        store
            .record(&one("d:1", 10 + DEDUP_HOURS + 1))
            .await
            .expect("d");
        assert!(store.record(&one("a:1", 10)).await.expect("old"));
    }
}
